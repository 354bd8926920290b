/* b_linalg.c — Lua entry points for linear algebra beyond matmul:
 * mg.einsum(subscripts, a, b, ...), dot, outer, multi_matmul({a, b, c}),
 * diagonal and trace (offset, 1-based axis1/axis2), and norm with its
 * ord/axis/keepdims options (positional or in a trailing table). */
#include <math.h>
#include <string.h>

#include "binding.h"

static bool is_opts(lua_State *L, int idx) { return lua_istable(L, idx) && !lmg_is(L, idx); }

/* mg.einsum("ij,jk->ik", a, b, ...) */
static int l_einsum(lua_State *L) {
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "einsum: argument #1 must be the subscripts string (e.g. \"ij,jk->ik\"), "
                             "got %s", luaL_typename(L, 1));
    size_t len;
    const char *subs = lua_tolstring(L, 1, &len);
    if (strlen(subs) != len)
        return luaL_error(L, "einsum: the subscripts string contains a NUL character");
    int n = lua_gettop(L) - 1;
    if (n < 1)
        return luaL_error(L, "einsum: needs at least one operand after the subscripts \"%s\"",
                          subs);
    mg_tensor **ops = lua_newuserdatauv(L, (size_t)n * sizeof *ops, 0); /* freed by Lua's GC */
    for (int k = 0; k < n; k++) ops[k] = lmg_checklike(L, k + 2, "einsum");
    lmg_push(L, mg_einsum(subs, n, ops), "einsum");
    return 1;
}

static int l_dot(lua_State *L) {
    mg_tensor *a = lmg_checklike(L, 1, "dot"), *b = lmg_checklike(L, 2, "dot");
    lmg_push(L, mg_dot(a, b), "dot");
    return 1;
}

static int l_outer(lua_State *L) {
    mg_tensor *a = lmg_checklike(L, 1, "outer"), *b = lmg_checklike(L, 2, "outer");
    lmg_push(L, mg_outer(a, b), "outer");
    return 1;
}

/* mg.multi_matmul({a, b, c}) or mg.multi_matmul(a, b, c) */
static int l_multi_matmul(lua_State *L) {
    int base = 1, n;
    if (is_opts(L, 1) && lua_gettop(L) == 1) {
        lua_Integer len = luaL_len(L, 1);
        if (len > 100000) return luaL_error(L, "multi_matmul: too many tensors (%d)", (int)len);
        n = (int)len;
        luaL_checkstack(L, n + 8, "multi_matmul: too many tensors");
        base = 2;
        for (int k = 1; k <= n; k++) lua_geti(L, 1, k);
    } else {
        n = lua_gettop(L);
    }
    mg_tensor **ts = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *ts, 0);
    for (int k = 0; k < n; k++) ts[k] = lmg_checklike(L, base + k, "multi_matmul");
    lmg_push(L, mg_multi_matmul(n, ts), "multi_matmul");
    return 1;
}

static lua_Integer opt_int(lua_State *L, int opts, const char *key, lua_Integer dflt,
                           const char *fn) {
    lua_getfield(L, opts, key);
    lua_Integer v = dflt;
    if (!lua_isnil(L, -1)) {
        if (!lua_isinteger(L, -1))
            luaL_error(L, "%s: %s must be an integer, got %s", fn, key, luaL_typename(L, -1));
        v = lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static lua_Integer pos_int(lua_State *L, int idx, const char *key, lua_Integer dflt, const char *fn) {
    if (lua_isnoneornil(L, idx)) return dflt;
    if (!lua_isinteger(L, idx))
        luaL_error(L, "%s: %s must be an integer, got %s", fn, key,
                   lua_type(L, idx) == LUA_TNUMBER ? "a non-integer number" : luaL_typename(L, idx));
    return lua_tointeger(L, idx);
}

/* x, offset, axis1, axis2 (positional, or {offset =, axis1 =, axis2 =}); 0-based axes out. */
static mg_tensor *diag_args(lua_State *L, const char *fn, int64_t *offset, int *a1, int *a2) {
    mg_tensor *t = lmg_checklike(L, 1, fn);
    lua_Integer off, ax1, ax2;
    if (is_opts(L, 2)) {
        off = opt_int(L, 2, "offset", 0, fn);
        ax1 = opt_int(L, 2, "axis1", 1, fn);
        ax2 = opt_int(L, 2, "axis2", 2, fn);
    } else {
        off = pos_int(L, 2, "offset", 0, fn);
        ax1 = pos_int(L, 3, "axis1", 1, fn);
        ax2 = pos_int(L, 4, "axis2", 2, fn);
    }
    if (t->ndim < 2) {
        char s[256];
        luaL_error(L, "%s: needs a tensor with at least 2 axes, got shape %s", fn,
                   mg_shape_str(t->ndim, t->shape, s, sizeof s));
    }
    *offset = off;
    *a1 = lmg_axis(L, ax1, t->ndim, fn);
    *a2 = lmg_axis(L, ax2, t->ndim, fn);
    if (*a1 == *a2)
        luaL_error(L, "%s: axis1 and axis2 must be two different axes, both are axis %d", fn,
                   *a1 + 1);
    return t;
}

static int l_diagonal(lua_State *L) {
    int64_t off;
    int a1, a2;
    mg_tensor *t = diag_args(L, "diagonal", &off, &a1, &a2);
    lmg_push(L, mg_diagonal(t, off, a1, a2), "diagonal");
    return 1;
}

static int l_trace(lua_State *L) {
    int64_t off;
    int a1, a2;
    mg_tensor *t = diag_args(L, "trace", &off, &a1, &a2);
    lmg_push(L, mg_trace(t, off, a1, a2), "trace");
    return 1;
}

/* ord: nil, a number (math.huge for inf), or "fro", "nuc", "inf", "-inf" */
static mg_norm_ord ord_arg(lua_State *L, int idx) {
    mg_norm_ord o = {MG_ORD_DEFAULT, 0};
    int ty = lua_type(L, idx);
    if (ty == LUA_TNIL || ty == LUA_TNONE) return o;
    if (ty == LUA_TNUMBER) {
        o.kind = MG_ORD_NUMBER;
        o.p = lua_tonumber(L, idx);
        return o;
    }
    const char *s = ty == LUA_TSTRING ? lua_tostring(L, idx) : "";
    if (!strcmp(s, "fro")) o.kind = MG_ORD_FRO;
    else if (!strcmp(s, "nuc")) o.kind = MG_ORD_NUC;
    else if (!strcmp(s, "inf")) o = (mg_norm_ord){MG_ORD_NUMBER, INFINITY};
    else if (!strcmp(s, "-inf")) o = (mg_norm_ord){MG_ORD_NUMBER, -INFINITY};
    else if (ty == LUA_TSTRING)
        luaL_error(L, "norm: ord \"%s\" is unknown (expected a number, \"fro\", \"nuc\", \"inf\" or "
                      "\"-inf\")", s);
    else luaL_error(L, "norm: ord must be a number or a string, got %s", luaL_typename(L, idx));
    return o;
}

/* axis: nil, an integer, or a table of one or two integers (1-based). */
static int axis_arg(lua_State *L, int idx, int ndim, int *axes) {
    if (lua_isnoneornil(L, idx)) return 0;
    if (lua_isinteger(L, idx)) {
        axes[0] = lmg_axis(L, lua_tointeger(L, idx), ndim, "norm");
        return 1;
    }
    if (!is_opts(L, idx))
        return luaL_error(L, "norm: axis must be an integer or a table of one or two integers, got %s",
                          luaL_typename(L, idx));
    lua_Integer n = luaL_len(L, idx);
    if (n < 1 || n > 2)
        return luaL_error(L, "norm: axis takes one axis (a vector norm) or two (a matrix norm), got %d",
                          (int)n);
    for (int i = 0; i < n; i++) {
        lua_geti(L, idx, i + 1);
        if (!lua_isinteger(L, -1))
            luaL_error(L, "norm: axis entries must be integers, got %s", luaL_typename(L, -1));
        axes[i] = lmg_axis(L, lua_tointeger(L, -1), ndim, "norm");
        lua_pop(L, 1);
    }
    if (n == 2 && axes[0] == axes[1])
        luaL_error(L, "norm: the two axes of a matrix norm must differ, both are axis %d", axes[0] + 1);
    return (int)n;
}

/* mg.norm(x), mg.norm(x, ord, axis, keepdims), mg.norm(x, {ord =, axis =, keepdims =}) */
static int l_norm(lua_State *L) {
    mg_tensor *t = lmg_checklike(L, 1, "norm");
    int axes[2], naxes;
    mg_norm_ord ord;
    bool keep;
    if (is_opts(L, 2)) {
        lua_getfield(L, 2, "ord");
        ord = ord_arg(L, -1);
        lua_getfield(L, 2, "axis");
        naxes = axis_arg(L, lua_gettop(L), t->ndim, axes);
        lua_pop(L, 2);
        keep = lmg_opt_bool(L, 2, "keepdims", false);
    } else {
        ord = ord_arg(L, 2);
        naxes = axis_arg(L, 3, t->ndim, axes);
        keep = lua_toboolean(L, 4);
    }
    lmg_push(L, mg_norm(t, ord, naxes, axes, keep), "norm");
    return 1;
}

#define LINALG_METHODS                                                                       \
    {"dot", l_dot}, {"outer", l_outer}, {"diagonal", l_diagonal}, {"trace", l_trace},       \
    {"norm", l_norm}

const luaL_Reg lmg_linalg_funcs[] = {
    LINALG_METHODS, {"einsum", l_einsum}, {"multi_matmul", l_multi_matmul}, {NULL, NULL}};
const luaL_Reg lmg_linalg_methods[] = {LINALG_METHODS, {NULL, NULL}};
