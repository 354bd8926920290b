/* b_index.c — indexing from Lua (1-based, inclusive slices, negative from
 * the end): x[i], x[{i, {a, b, step}, {}}], with int64 index tensors and
 * bool masks as entries (x[mask], x[idx], x[{{}, idx}]), x[...] = v; and the
 * shape methods reshape/view, transpose/permute/swapaxes, broadcast_to/expand. */
#include <string.h>

#include "binding.h"

static lua_Integer int_field(lua_State *L, int tbl, int k, const char *what, bool *present) {
    int ty = lua_geti(L, tbl, k);
    *present = ty != LUA_TNIL;
    lua_Integer v = 0;
    if (*present) {
        if (!lua_isinteger(L, -1))
            luaL_error(L, "index: slice %s must be an integer, got %s", what, luaL_typename(L, -1));
        v = lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* A slice {a, b, step} (b inclusive; {a} alone takes a..a, as Torch7); the
 * arithmetic is mg_slice_normalize's. */
static void parse_slice(lua_State *L, int tbl, int64_t len, int axis, mg_index *ix) {
    bool ha = false, hb = false, hs = false;
    lua_Integer n = luaL_len(L, tbl);
    if (n == 0) {
        ix->kind = MG_IDX_ALL;
        return;
    }
    if (n > 3) luaL_error(L, "index: a slice is {start, stop, step}, got %d entries", (int)n);
    lua_Integer a = int_field(L, tbl, 1, "start", &ha);
    lua_Integer b = n >= 2 ? int_field(L, tbl, 2, "stop", &hb) : a;
    lua_Integer s = int_field(L, tbl, 3, "step", &hs);
    if (n == 1) hb = ha;
    unsigned have = (ha ? MG_SLICE_START : 0) | (hb ? MG_SLICE_STOP : 0) | (hs ? MG_SLICE_STEP : 0);
    if (mg_slice_normalize(a, b, s, have, len, axis, 1, ix)) lmg_error(L, "index");
}

/* How many axes an index tensor takes: a mask its ndim, an index tensor 1. */
static int tensor_span(lua_State *L, int idx, mg_tensor **out) {
    mg_tensor *k = lmg_check(L, idx, "index");
    if (k->dtype != MG_INT64 && k->dtype != MG_BOOL)
        luaL_error(L, "index: index tensors must be int64 or bool, got %s", mg_dtype_name(k->dtype));
    *out = k;
    return k->dtype == MG_BOOL ? k->ndim : 1;
}

/* One entry of a key: a tensor (ix->t) or a basic index (ix->basic) on
 * `axis`.  Returns the number of axes it takes. */
static int parse_entry(lua_State *L, int idx, const mg_tensor *t, int axis, mg_aindex *ax) {
    ax->t = NULL;
    if (lmg_is(L, idx)) return tensor_span(L, idx, &ax->t);
    if (axis >= t->ndim)
        luaL_error(L, "index: too many indices for a tensor with %d axes", t->ndim);
    mg_index *ix = &ax->basic;
    int64_t len = t->shape[axis];
    if (lua_isinteger(L, idx)) {
        if (mg_int_index_normalize(lua_tointeger(L, idx), len, axis, 1, ix)) lmg_error(L, "index");
    } else if (lua_type(L, idx) == LUA_TSTRING && strcmp(lua_tostring(L, idx), ":") == 0) {
        ix->kind = MG_IDX_ALL;
    } else if (lua_istable(L, idx) && !lmg_is(L, idx)) {
        parse_slice(L, idx, len, axis, ix);
    } else {
        luaL_error(L, "index: expected an integer, a slice table or \":\" for axis %d, got %s",
                   axis + 1, lua_type(L, idx) == LUA_TNUMBER ? "a non-integer number"
                                                             : luaL_typename(L, idx));
    }
    return 1;
}

/* Parses the key at stack index 2 into ix; returns the number of entries.
 * *tensors tells whether an entry is a tensor (the tensors stay referenced
 * by the key, which stays on the stack). */
static int parse_key(lua_State *L, const mg_tensor *t, mg_aindex *ix, bool *tensors) {
    *tensors = false;
    if (!lua_istable(L, 2) || lmg_is(L, 2)) {
        if (t->ndim == 0) luaL_error(L, "index: a 0-d tensor cannot be indexed");
        parse_entry(L, 2, t, 0, ix);
        *tensors = ix[0].t != NULL;
        return 1;
    }
    lua_Integer n = luaL_len(L, 2);
    if (n > t->ndim)
        luaL_error(L, "index: too many indices (%I) for a tensor with %d axes", (lua_Integer)n, t->ndim);
    int axis = 0;
    for (lua_Integer k = 1; k <= n; k++) {
        lua_geti(L, 2, k);
        axis += parse_entry(L, lua_gettop(L), t, axis, &ix[k - 1]);
        *tensors = *tensors || ix[k - 1].t != NULL;
        lua_pop(L, 1);
    }
    return (int)n;
}

static mg_index *basic_entries(int n, const mg_aindex *ax, mg_index *ix) {
    for (int i = 0; i < n; i++) ix[i] = ax[i].basic;
    return ix;
}

/* x[key]: a view for integers and slices; a copy when an entry is an int64
 * index tensor or a bool mask (indices in them are 1-based too). */
int lmg_index_get(lua_State *L) {
    mg_tensor *t = lmg_check(L, 1, "index");
    mg_aindex ax[MG_MAXDIM];
    mg_index ix[MG_MAXDIM];
    bool tensors;
    int n = parse_key(L, t, ax, &tensors);
    if (tensors) lmg_push(L, mg_index_adv_get(t, n, ax, 1), "index");
    else lmg_push(L, mg_index_get(t, n, basic_entries(n, ax, ix)), "index");
    return 1;
}

/* x[key] = v.  When the write is recorded, x's handle moves to the tensor
 * that stands for the new contents in the graph. */
int lmg_index_set(lua_State *L) {
    lmg_ud *u = luaL_checkudata(L, 1, LMG_TENSOR);
    mg_tensor *t = lmg_check(L, 1, "setitem");
    mg_aindex ax[MG_MAXDIM];
    mg_index ix[MG_MAXDIM];
    bool tensors;
    int n = parse_key(L, t, ax, &tensors);
    mg_tensor *v, *tmp = NULL;
    if (lua_type(L, 3) == LUA_TNUMBER) tmp = v = lmg_scalar_for(L, 3, t);
    else v = lmg_checklike(L, 3, "setitem");
    mg_tensor *r = tensors ? mg_index_adv_set(t, n, ax, v, 1)
                           : mg_index_set(t, n, basic_entries(n, ax, ix), v);
    mg_release(tmp);
    if (!r) return lmg_error(L, "setitem");
    mg_release(u->t);
    lmg_ud_set(u, r);
    return 0;
}

/* ---- shape methods ------------------------------------------------------------ */
static int m_reshape(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "reshape");
    int ndim = 0;
    int64_t shape[MG_MAXDIM];
    if (lua_istable(L, 2)) {
        lua_Integer len = luaL_len(L, 2);
        if (len > MG_MAXDIM) return luaL_error(L, "reshape: a tensor has at most %d axes", MG_MAXDIM);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_geti(L, 2, i);
            if (!lua_isinteger(L, -1)) return luaL_error(L, "reshape: shape entries must be integers");
            shape[ndim++] = lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
    } else {
        for (int i = 2; lua_type(L, i) == LUA_TNUMBER; i++) {
            if (!lua_isinteger(L, i)) return luaL_error(L, "reshape: shape entries must be integers");
            if (ndim == MG_MAXDIM) return luaL_error(L, "reshape: a tensor has at most %d axes", MG_MAXDIM);
            shape[ndim++] = lua_tointeger(L, i);
        }
    }
    lmg_push(L, mg_reshape(t, ndim, shape), "reshape");
    return 1;
}

static lua_Integer int_at(lua_State *L, int idx, const char *fn) {
    if (!lua_isinteger(L, idx))
        luaL_error(L, "%s: axes must be integers, got %s", fn,
                   lua_type(L, idx) == LUA_TNUMBER ? "a non-integer number" : luaL_typename(L, idx));
    return lua_tointeger(L, idx);
}

static int read_axes(lua_State *L, int from, const mg_tensor *t, int *axes, const char *fn) {
    int n = 0;
    if (lua_istable(L, from)) {
        lua_Integer len = luaL_len(L, from);
        if (len > MG_MAXDIM) luaL_error(L, "%s: too many axes", fn);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_geti(L, from, i);
            axes[n++] = lmg_axis(L, int_at(L, -1, fn), t->ndim, fn);
            lua_pop(L, 1);
        }
    } else {
        for (int i = from; !lua_isnoneornil(L, i); i++) {
            if (n == MG_MAXDIM) luaL_error(L, "%s: too many axes", fn);
            axes[n++] = lmg_axis(L, int_at(L, i, fn), t->ndim, fn);
        }
    }
    return n;
}

/* A permutation must name each axis once (said 1-based, as the user wrote it). */
static void check_perm(lua_State *L, const int *axes, int n, const char *fn) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (axes[i] == axes[j])
                luaL_error(L, "%s: axis %d is repeated; the axes must be a permutation of 1..%d", fn,
                           axes[i] + 1, n);
}

static int m_permute(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "permute");
    int axes[MG_MAXDIM];
    int n = read_axes(L, 2, t, axes, "permute");
    if (n != t->ndim)
        return luaL_error(L, "permute: expected %d axes for a tensor with %d axes, got %d", t->ndim,
                          t->ndim, n);
    check_perm(L, axes, n, "permute");
    lmg_push(L, mg_permute(t, axes), "permute");
    return 1;
}

/* x:transpose() reverses the axes; x:transpose(i, j) swaps two axes (as
 * Torch7 and PyTorch); x:transpose{...} or ndim > 2 integers is a full
 * permutation (as NumPy). */
static int m_transpose(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "transpose");
    int axes[MG_MAXDIM];
    int n = read_axes(L, 2, t, axes, "transpose");
    if (n == 0) lmg_push(L, mg_transpose(t), "transpose");
    else if (n == 2 && !lua_istable(L, 2)) lmg_push(L, mg_swapaxes(t, axes[0], axes[1]), "transpose");
    else if (n == t->ndim) {
        check_perm(L, axes, n, "transpose");
        lmg_push(L, mg_permute(t, axes), "transpose");
    }
    else return luaL_error(L, "transpose: expected no axes, two axes or %d axes, got %d", t->ndim, n);
    return 1;
}

static int m_swapaxes(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "swapaxes");
    int i = lmg_axis(L, int_at(L, 2, "swapaxes"), t->ndim, "swapaxes");
    int j = lmg_axis(L, int_at(L, 3, "swapaxes"), t->ndim, "swapaxes");
    lmg_push(L, mg_swapaxes(t, i, j), "swapaxes");
    return 1;
}

static int m_broadcast_to(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "broadcast_to");
    int ndim;
    int64_t shape[MG_MAXDIM];
    lmg_shape_args(L, 2, &ndim, shape, "broadcast_to");
    lmg_push(L, mg_broadcast_to(t, ndim, shape), "broadcast_to");
    return 1;
}

#define INDEX_COMMON                                                                     \
    {"reshape", m_reshape}, {"view", m_reshape}, {"permute", m_permute},                 \
    {"transpose", m_transpose}, {"swapaxes", m_swapaxes}, {"broadcast_to", m_broadcast_to}, \
    {"expand", m_broadcast_to}

const luaL_Reg lmg_index_methods[] = {INDEX_COMMON, {NULL, NULL}};
const luaL_Reg lmg_index_funcs[] = {INDEX_COMMON, {NULL, NULL}};
