/* b_shape.c — Lua entry points for the shape functions of ops_join.c:
 * squeeze, unsqueeze/expand_dims, flatten, ravel, moveaxis, concatenate/cat,
 * stack, split, chunk, repeat/repeat_interleave, tile, flip and pad.  Each
 * is mg.f(x, ...) and the method x:f(...); axes are 1-based (negative from
 * the end) and may come in a trailing option table {axis = ...}. */
#include <limits.h>
#include <string.h>

#include "binding.h"

/* ---- argument readers --------------------------------------------------------- */
static bool is_plain_table(lua_State *L, int idx) { return lua_istable(L, idx) && !lmg_is(L, idx); }

/* The stack index of the axis argument: the value at idx itself, or the
 * `axis` field (pushed) when idx is an option table ({axis = 2}, or {}). */
static int axis_slot(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    if (!is_plain_table(L, idx)) return idx;
    if (lua_getfield(L, idx, "axis") != LUA_TNIL || luaL_len(L, idx) == 0) return lua_gettop(L);
    lua_pop(L, 1);
    return idx;
}

static lua_Integer check_int(lua_State *L, int idx, const char *what, const char *fn) {
    if (!lua_isinteger(L, idx))
        return luaL_error(L, "%s: %s must be an integer, got %s", fn, what,
                          lua_type(L, idx) == LUA_TNUMBER ? "a non-integer number"
                                                          : luaL_typename(L, idx));
    return lua_tointeger(L, idx);
}

/* One axis (0-based against ndim) at idx or in an option table there;
 * dflt when absent. */
static int one_axis(lua_State *L, int idx, int ndim, int dflt, const char *fn) {
    int s = axis_slot(L, idx);
    if (lua_isnoneornil(L, s)) return dflt;
    return lmg_axis(L, check_int(L, s, "axis", fn), ndim, fn);
}

/* An integer or a table of integers at idx, as 0-based axes against ndim;
 * returns how many. */
static int axis_list(lua_State *L, int idx, int ndim, int *axes, const char *fn) {
    if (!is_plain_table(L, idx)) {
        axes[0] = lmg_axis(L, check_int(L, idx, "axis", fn), ndim, fn);
        return 1;
    }
    lua_Integer len = luaL_len(L, idx);
    if (len > MG_MAXDIM) return luaL_error(L, "%s: %d axes given, at most %d", fn, (int)len, MG_MAXDIM);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, idx, i);
        axes[i - 1] = lmg_axis(L, check_int(L, -1, "axis", fn), ndim, fn);
        lua_pop(L, 1);
    }
    return (int)len;
}

/* A scratch array of n items that Lua's collector frees (safe across errors). */
static void *scratch(lua_State *L, lua_Integer n, size_t item, const char *fn) {
    if (n < 0 || (lua_Unsigned)n > (lua_Unsigned)(SIZE_MAX / 2 / item))
        luaL_error(L, "%s: too many items (%d)", fn, (int)n);
    return lua_newuserdatauv(L, (size_t)(n ? n : 1) * item, 0);
}

/* Integers from the table (or single integer) at idx into a scratch array. */
static int64_t *int_list(lua_State *L, int idx, lua_Integer *n, const char *what, const char *fn) {
    idx = lua_absindex(L, idx);
    if (!is_plain_table(L, idx)) {
        int64_t *v = scratch(L, 1, sizeof *v, fn);
        v[0] = check_int(L, idx, what, fn);
        *n = 1;
        return v;
    }
    *n = luaL_len(L, idx);
    int64_t *v = scratch(L, *n, sizeof *v, fn);
    for (lua_Integer i = 1; i <= *n; i++) {
        lua_geti(L, idx, i);
        v[i - 1] = check_int(L, -1, what, fn);
        lua_pop(L, 1);
    }
    return v;
}

/* The tensors to join: a list at 1 ({a, b, ...}, tensor-likes converted), or
 * the tensors from argument 1 on (mg.cat(a, b), a:cat(b)).  Sets *n and
 * *next (the argument after them).  The converted tensors are kept alive by
 * a table left on the stack. */
static mg_tensor **tensor_list(lua_State *L, int *n, int *next, const char *fn) {
    if (lmg_is(L, 1)) {
        int k = 1;
        while (lmg_is(L, k)) k++;
        *n = k - 1;
        *next = k;
        lua_settop(L, k); /* the axis argument (or nil), then scratch space */
        mg_tensor **ts = scratch(L, *n, sizeof *ts, fn);
        for (int i = 0; i < *n; i++) ts[i] = lmg_check(L, i + 1, fn);
        return ts;
    }
    if (!is_plain_table(L, 1))
        return luaL_error(L, "%s: expected a list of tensors, got %s", fn, luaL_typename(L, 1)), NULL;
    lua_Integer len = luaL_len(L, 1);
    if (len < 1) return luaL_error(L, "%s: expected a non-empty list of tensors", fn), NULL;
    if (len > INT_MAX / 2) return luaL_error(L, "%s: too many tensors", fn), NULL;
    *n = (int)len;
    *next = 2;
    lua_settop(L, 2);
    lua_createtable(L, *n, 0); /* keeps converted tensors alive */
    int keep = lua_gettop(L);
    mg_tensor **ts = scratch(L, len, sizeof *ts, fn);
    for (int i = 0; i < *n; i++) {
        int ty = lua_geti(L, 1, i + 1);
        if (ty != LUA_TTABLE && ty != LUA_TNUMBER && ty != LUA_TBOOLEAN && ty != LUA_TUSERDATA)
            return luaL_error(L, "%s: element %d of the list must be a tensor, got %s", fn, i + 1,
                              luaL_typename(L, -1)), NULL;
        ts[i] = lmg_checklike(L, lua_gettop(L), fn);
        lua_rawseti(L, keep, i + 1);
    }
    return ts;
}

/* Pushes a Lua list of the n tensors in out.  The userdata are made before
 * the tensors exist (by make), so no allocation can fail once they do. */
static void push_list(lua_State *L, lua_Integer n, mg_tensor **out,
                      int (*make)(void *ctx, mg_tensor **out), void *ctx, const char *fn) {
    lua_createtable(L, n < INT_MAX ? (int)n : 0, 0);
    int list = lua_gettop(L);
    for (lua_Integer i = 0; i < n; i++) {
        lmg_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
        lmg_ud_set(u, NULL);
        luaL_setmetatable(L, LMG_TENSOR);
        lua_rawseti(L, list, i + 1);
    }
    if (make(ctx, out)) lmg_error(L, fn);
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, list, i + 1);
        lmg_ud_set(lua_touserdata(L, -1), out[i]);
        lua_pop(L, 1);
    }
    lmg_gc_account(L);
}

/* ---- squeeze, unsqueeze, flatten, ravel, moveaxis ------------------------------------ */
/* x:squeeze() removes every axis of size 1; x:squeeze(2), x:squeeze{1, 3}. */
static int l_squeeze(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "squeeze");
    uint32_t axes = lmg_axes_arg(L, axis_slot(L, 2), t->ndim, "squeeze");
    lmg_push(L, mg_squeeze(t, axes), "squeeze");
    return 1;
}

/* x:unsqueeze(axis) or {axes}: positions in the result (ndim + 1 appends;
 * -1 is the last axis of the result). */
static int new_axes(lua_State *L, const char *fn) {
    mg_tensor *t = lmg_checklike(L, 1, fn);
    int s = axis_slot(L, 2);
    if (lua_isnoneornil(L, s)) return luaL_error(L, "%s: expected an axis (or a table of axes)", fn);
    lua_Integer count = is_plain_table(L, s) ? luaL_len(L, s) : 1;
    if (t->ndim + count > MG_MAXDIM)
        return luaL_error(L, "%s: the result would have %d axes, at most %d are allowed", fn,
                          (int)(t->ndim + count), MG_MAXDIM);
    int axes[MG_MAXDIM];
    int n = axis_list(L, s, t->ndim + (int)count, axes, fn);
    uint32_t mask = 0;
    for (int i = 0; i < n; i++) {
        if (mask & (1u << axes[i])) return luaL_error(L, "%s: axis %d is repeated", fn, axes[i] + 1);
        mask |= 1u << axes[i];
    }
    lmg_push(L, mg_expand_dims(t, mask), fn);
    return 1;
}
static int l_unsqueeze(lua_State *L) { return new_axes(L, "unsqueeze"); }
static int l_expand_dims(lua_State *L) { return new_axes(L, "expand_dims"); }

/* x:flatten(start_axis = 1, end_axis = -1) merges the axes start..end. */
static int l_flatten(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "flatten");
    int nd = t->ndim ? t->ndim : 1;
    int start = lua_isnoneornil(L, 2) ? 0 : lmg_axis(L, check_int(L, 2, "start_axis", "flatten"), nd, "flatten");
    int end = lua_isnoneornil(L, 3) ? nd - 1 : lmg_axis(L, check_int(L, 3, "end_axis", "flatten"), nd, "flatten");
    if (start > end)
        return luaL_error(L, "flatten: start_axis %d comes after end_axis %d", start + 1, end + 1);
    lmg_push(L, mg_flatten(t, start, end), "flatten");
    return 1;
}

static int l_ravel(lua_State *L) {
    lmg_push(L, mg_ravel(lmg_checklike(L, 1, "ravel")), "ravel");
    return 1;
}

/* x:moveaxis(source, destination): numbers or tables of equal length. */
static int l_moveaxis(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "moveaxis");
    int src[MG_MAXDIM], dst[MG_MAXDIM];
    int ns = axis_list(L, 2, t->ndim, src, "moveaxis");
    int nd = axis_list(L, 3, t->ndim, dst, "moveaxis");
    if (ns != nd)
        return luaL_error(L, "moveaxis: source has %d axes but destination has %d", ns, nd);
    lmg_push(L, mg_moveaxis(t, ns, src, dst), "moveaxis");
    return 1;
}

/* ---- concatenate, stack ---------------------------------------------------------------- */
/* mg.concatenate({a, b, ...}, axis = 1), mg.cat(a, b, axis), a:cat(b, axis). */
static int l_concatenate(lua_State *L) {
    int n, next;
    mg_tensor **ts = tensor_list(L, &n, &next, "concatenate");
    int axis = ts[0]->ndim ? one_axis(L, next, ts[0]->ndim, 0, "concatenate") : 0;
    lmg_push(L, mg_concatenate(n, ts, axis), "concatenate");
    return 1;
}

/* mg.stack({a, b, ...}, axis = 1): a new axis at that position of the result. */
static int l_stack(lua_State *L) {
    int n, next;
    mg_tensor **ts = tensor_list(L, &n, &next, "stack");
    int axis = one_axis(L, next, ts[0]->ndim + 1, 0, "stack");
    lmg_push(L, mg_stack(n, ts, axis), "stack");
    return 1;
}

/* ---- split, chunk ----------------------------------------------------------------------- */
typedef struct {
    mg_tensor *t;
    int axis;
    int64_t n;
    const int64_t *sizes;
} split_ctx;

static int make_split(void *vctx, mg_tensor **out) {
    split_ctx *c = vctx;
    return mg_split(c->t, c->axis, c->n, c->sizes, out);
}

/* Pushes the pieces of x along axis with the given sizes. */
static int push_pieces(lua_State *L, mg_tensor *t, int axis, lua_Integer n, const int64_t *sizes,
                       const char *fn) {
    mg_tensor **out = scratch(L, n, sizeof *out, fn);
    split_ctx c = {t, axis, n, sizes};
    push_list(L, n, out, make_split, &c, fn);
    return 1;
}

/* Even pieces: x:split(size) (pieces of size, the last smaller) or
 * x:chunk(n) (n pieces at most), as PyTorch. */
static int even_pieces(lua_State *L, mg_tensor *t, int axis, lua_Integer k, bool chunks,
                       const char *fn) {
    int64_t len = t->shape[axis];
    int64_t n = mg_split_plan(len, k, chunks, NULL);
    if (n < 0) return lmg_error(L, fn);
    int64_t *sizes = scratch(L, n, sizeof *sizes, fn);
    mg_split_plan(len, k, chunks, sizes);
    return push_pieces(L, t, axis, n, sizes, fn);
}

/* x:split(size or {sizes}, axis = 1) returns a Lua list of views. */
static int l_split(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "split");
    int axis = one_axis(L, 3, t->ndim, 0, "split");
    if (t->ndim == 0) return luaL_error(L, "split: a 0-d tensor cannot be split");
    if (!is_plain_table(L, 2))
        return even_pieces(L, t, axis, check_int(L, 2, "the piece size", "split"), false, "split");
    lua_Integer n;
    int64_t *sizes = int_list(L, 2, &n, "a piece size", "split");
    return push_pieces(L, t, axis, n, sizes, "split");
}

/* x:chunk(n, axis = 1): n pieces of ceil(len / n) (fewer when they run out). */
static int l_chunk(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "chunk");
    int axis = one_axis(L, 3, t->ndim, 0, "chunk");
    if (t->ndim == 0) return luaL_error(L, "chunk: a 0-d tensor cannot be split");
    return even_pieces(L, t, axis, check_int(L, 2, "the number of chunks", "chunk"), true, "chunk");
}

/* ---- repeat, tile, flip, pad ------------------------------------------------------------- */
/* Counts from an integer tensor (0-d or 1-d). */
static int64_t *counts_of_tensor(lua_State *L, mg_tensor *c, lua_Integer *n, const char *fn) {
    if (mg_dtype_is_float(c->dtype) || c->ndim > 1)
        return luaL_error(L, "%s: repeats must be an integer or a 1-d integer tensor, got a %d-d %s "
                             "tensor", fn, c->ndim, mg_dtype_name(c->dtype)), NULL;
    *n = mg_numel(c);
    int64_t *v = scratch(L, *n, sizeof *v, fn);
    for (lua_Integer i = 0; i < *n; i++) v[i] = mg_get_flat_int(c, i);
    return v;
}

/* x:repeat(repeats, axis): each element repeated (NumPy's repeat); repeats
 * a number or one per element; without an axis, of the flattened tensor.
 * `repeat` is a Lua keyword: mg["repeat"](x, 2) or x:repeat_interleave(2). */
static int l_repeat(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "repeat");
    int axis = one_axis(L, 3, t->ndim, MG_NOAXIS, "repeat");
    lua_Integer n = 0;
    int64_t *counts = lmg_is(L, 2) ? counts_of_tensor(L, lmg_check(L, 2, "repeat"), &n, "repeat")
                                   : int_list(L, 2, &n, "repeats", "repeat");
    lmg_push(L, mg_repeat(t, n, counts, axis), "repeat");
    return 1;
}

/* x:tile(reps): NumPy's tile; reps a number or a table. */
static int l_tile(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "tile");
    lua_Integer n;
    int64_t *reps = int_list(L, 2, &n, "reps", "tile");
    if (n > MG_MAXDIM) return luaL_error(L, "tile: %d repetition counts, at most %d", (int)n, MG_MAXDIM);
    lmg_push(L, mg_tile(t, (int)n, reps), "tile");
    return 1;
}

/* x:flip() reverses every axis; x:flip(axis) or x:flip{axes}. */
static int l_flip(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "flip");
    uint32_t axes = lmg_axes_arg(L, axis_slot(L, 2), t->ndim, "flip");
    lmg_push(L, mg_flip(t, axes), "flip");
    return 1;
}

/* One {before, after} pair (or {both}) at idx. */
static void pad_pair(lua_State *L, int idx, int64_t *b, int64_t *a) {
    lua_Integer len = luaL_len(L, idx);
    if (len != 1 && len != 2)
        luaL_error(L, "pad: a pad width pair is {before, after}, got %d entries", (int)len);
    lua_geti(L, idx, 1);
    *b = check_int(L, -1, "a pad width", "pad");
    lua_geti(L, idx, len);
    *a = check_int(L, -1, "a pad width", "pad");
    lua_pop(L, 2);
}

/* NumPy's pad_width forms: n (every side), {before, after} (every axis),
 * {{b1, a1}, {b2, a2}, ...} (one pair per axis, or one pair for all). */
static void pad_widths(lua_State *L, int idx, int ndim, int64_t *before, int64_t *after) {
    int64_t b, a;
    if (!is_plain_table(L, idx)) {
        b = a = check_int(L, idx, "pad_width", "pad");
        for (int i = 0; i < ndim; i++) {
            before[i] = b;
            after[i] = a;
        }
        return;
    }
    lua_Integer len = luaL_len(L, idx);
    int ty = lua_geti(L, idx, 1);
    lua_pop(L, 1);
    if (ty != LUA_TTABLE) {
        if (len == 0 && ndim == 0) return;
        pad_pair(L, idx, &b, &a);
        for (int i = 0; i < ndim; i++) {
            before[i] = b;
            after[i] = a;
        }
        return;
    }
    if (len != 1 && len != ndim)
        luaL_error(L, "pad: pad_width has %d pairs for a tensor with %d axes", (int)len, ndim);
    for (int i = 0; i < ndim; i++) {
        lua_geti(L, idx, len == 1 ? 1 : i + 1);
        if (!is_plain_table(L, -1))
            luaL_error(L, "pad: pad_width entry %d must be a {before, after} pair, got %s", i + 1,
                       luaL_typename(L, -1));
        pad_pair(L, lua_gettop(L), &before[i], &after[i]);
        lua_pop(L, 1);
    }
}

/* mg.pad(x, pad_width, {value = 0}) (also constant_values; mode "constant"),
 * or mg.pad(x, pad_width, value). */
static int l_pad(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "pad");
    int64_t before[MG_MAXDIM] = {0}, after[MG_MAXDIM] = {0};
    if (lua_isnoneornil(L, 2)) return luaL_error(L, "pad: expected pad_width");
    pad_widths(L, 2, t->ndim, before, after);
    double value = 0;
    if (lua_type(L, 3) == LUA_TNUMBER) value = lua_tonumber(L, 3);
    else if (is_plain_table(L, 3)) {
        if (lua_getfield(L, 3, "mode") != LUA_TNIL) {
            const char *mode = lua_tostring(L, -1);
            if (!mode || strcmp(mode, "constant") != 0)
                return luaL_error(L, "pad: only mode \"constant\" is supported, got %s",
                                  mode ? mode : luaL_typename(L, -1));
        }
        if (lua_getfield(L, 3, "value") == LUA_TNIL) {
            lua_pop(L, 1);
            lua_getfield(L, 3, "constant_values");
        }
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TNUMBER)
                return luaL_error(L, "pad: value must be a number, got %s", luaL_typename(L, -1));
            value = lua_tonumber(L, -1);
        }
    } else if (!lua_isnoneornil(L, 3)) {
        return luaL_error(L, "pad: expected a value or an option table, got %s", luaL_typename(L, 3));
    }
    lmg_push(L, mg_pad(t, before, after, value), "pad");
    return 1;
}

#define SHAPE_COMMON                                                                         \
    {"squeeze", l_squeeze}, {"unsqueeze", l_unsqueeze}, {"expand_dims", l_expand_dims},      \
    {"flatten", l_flatten}, {"ravel", l_ravel}, {"moveaxis", l_moveaxis},                    \
    {"concatenate", l_concatenate}, {"cat", l_concatenate}, {"stack", l_stack},              \
    {"split", l_split}, {"chunk", l_chunk}, {"repeat", l_repeat},                            \
    {"repeat_interleave", l_repeat}, {"tile", l_tile}, {"flip", l_flip}, {"pad", l_pad}

const luaL_Reg lmg_shape_funcs[] = {SHAPE_COMMON, {NULL, NULL}};
const luaL_Reg lmg_shape_methods[] = {SHAPE_COMMON, {NULL, NULL}};
