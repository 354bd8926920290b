/* b_stats.c — Lua entry points for the statistics of ops_stats.c: var, std,
 * max/min (and amax/amin), prod, argmax/argmin (1-based results), cumsum,
 * cumprod and logsumexp.  Each is both mg.f(x, ...) and the method x:f(...),
 * with the argument forms of sum and mean:
 *   x:max()  x:max(1)  x:max(1, true)  x:max({1, 2})  x:max({axis = 1, keepdims = true})
 * plus a trailing option table after positional ones: x:var(1, true, {ddof = 1}). */
#include <string.h>

#include "binding.h"

/* A table of options (not a tensor, not a list of axes). */
static bool is_options(lua_State *L, int idx) {
    if (!lua_istable(L, idx) || lmg_is(L, idx)) return false;
    static const char *const keys[] = {"axis", "keepdims", "ddof"};
    for (int i = 0; i < 3; i++) {
        int t = lua_getfield(L, idx, keys[i]);
        lua_pop(L, 1);
        if (t != LUA_TNIL) return true;
    }
    return luaL_len(L, idx) == 0;
}

static bool check_keepdims(lua_State *L, int idx, const char *fn) {
    if (lua_isnoneornil(L, idx)) return false;
    if (!lua_isboolean(L, idx))
        luaL_error(L, "%s: keepdims must be a boolean, got %s", fn, luaL_typename(L, idx));
    return lua_toboolean(L, idx);
}

/* Reads x (a tensor-like at 1), the axes and keepdims of every reduction.
 * Returns the stack index of the option table, or 0 when there is none. */
static int lmg_reduce_args(lua_State *L, const char *fn, mg_tensor **t, uint32_t *axes,
                           bool *keep) {
    *t = lmg_checklike(L, 1, fn);
    if (is_options(L, 2)) {
        lua_getfield(L, 2, "axis");
        *axes = lmg_axes_arg(L, -1, (*t)->ndim, fn);
        lua_pop(L, 1);
        lua_getfield(L, 2, "keepdims");
        *keep = check_keepdims(L, -1, fn);
        lua_pop(L, 1);
        return 2;
    }
    if (lmg_is(L, 2))
        luaL_error(L, "%s: argument #2 is the axis (an integer or a table of them), got a "
                      "tensor%s", fn, strstr(fn, "max") || strstr(fn, "min") ? " (the element-wise "
                      "maximum and minimum of two tensors are mg.maximum and mg.minimum)" : "");
    *axes = lmg_axes_arg(L, 2, (*t)->ndim, fn);
    if (is_options(L, 3)) {
        *keep = lmg_opt_bool(L, 3, "keepdims", false);
        return 3;
    }
    *keep = check_keepdims(L, 3, fn);
    if (is_options(L, 4)) return 4;
    if (!lua_isnoneornil(L, 4))
        luaL_error(L, "%s: unexpected argument #4 (%s); options go in a table", fn,
                   luaL_typename(L, 4));
    return 0;
}

static double opt_number(lua_State *L, int opts, const char *key, double dflt, const char *fn) {
    if (!opts) return dflt;
    lua_getfield(L, opts, key);
    double v = dflt;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "%s: %s must be a number, got %s", fn, key, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

typedef mg_tensor *(*reduce_fn)(mg_tensor *, uint32_t, bool);

static int reduction(lua_State *L, reduce_fn op, const char *fn) {
    mg_tensor *t;
    uint32_t axes;
    bool keep;
    lmg_reduce_args(L, fn, &t, &axes, &keep);
    lmg_push(L, op(t, axes, keep), fn);
    return 1;
}

static int moments(lua_State *L, mg_tensor *(*op)(mg_tensor *, uint32_t, bool, double),
                   const char *fn) {
    mg_tensor *t;
    uint32_t axes;
    bool keep;
    int opts = lmg_reduce_args(L, fn, &t, &axes, &keep);
    double ddof = opt_number(L, opts, "ddof", 0, fn);
    lmg_push(L, op(t, axes, keep, ddof), fn);
    return 1;
}

/* argmax/argmin: the C result is 0-based; Lua indices are 1-based. */
static int argreduction(lua_State *L, reduce_fn op, const char *fn) {
    mg_tensor *t;
    uint32_t axes;
    bool keep;
    lmg_reduce_args(L, fn, &t, &axes, &keep);
    mg_tensor *i0 = op(t, axes, keep);
    if (!i0) return lmg_error(L, fn);
    int64_t none = 0;
    mg_tensor *one = mg_full_int(0, &none, 1, MG_INT64);
    mg_tensor *i1 = one ? mg_add(i0, one) : NULL;
    mg_release(one);
    mg_release(i0);
    lmg_push(L, i1, fn);
    return 1;
}

/* cumsum/cumprod: x:cumsum() (flattened), x:cumsum(axis), x:cumsum({axis = 2}). */
static int scan(lua_State *L, mg_tensor *(*op)(mg_tensor *, int), const char *fn) {
    mg_tensor *t = lmg_checklike(L, 1, fn);
    int axis_idx = 2;
    if (lua_istable(L, 2) && !lmg_is(L, 2)) {
        if (luaL_len(L, 2) > 0)
            luaL_error(L, "%s: axis must be one integer (or absent for the flattened tensor), "
                          "got a table of axes", fn);
        lua_getfield(L, 2, "axis");
        axis_idx = lua_gettop(L);
    }
    int axis = MG_NOAXIS;
    if (!lua_isnoneornil(L, axis_idx)) {
        if (!lua_isinteger(L, axis_idx))
            luaL_error(L, "%s: axis must be one integer (or absent for the flattened tensor), "
                          "got %s", fn, luaL_typename(L, axis_idx));
        axis = lmg_axis(L, lua_tointeger(L, axis_idx), t->ndim, fn);
    }
    lmg_push(L, op(t, axis), fn);
    return 1;
}

static int l_var(lua_State *L) { return moments(L, mg_var, "var"); }
static int l_std(lua_State *L) { return moments(L, mg_std, "std"); }
static int l_max(lua_State *L) { return reduction(L, mg_max, "max"); }
static int l_min(lua_State *L) { return reduction(L, mg_min, "min"); }
static int l_amax(lua_State *L) { return reduction(L, mg_max, "amax"); }
static int l_amin(lua_State *L) { return reduction(L, mg_min, "amin"); }
static int l_prod(lua_State *L) { return reduction(L, mg_prod, "prod"); }
static int l_logsumexp(lua_State *L) { return reduction(L, mg_logsumexp, "logsumexp"); }
static int l_argmax(lua_State *L) { return argreduction(L, mg_argmax, "argmax"); }
static int l_argmin(lua_State *L) { return argreduction(L, mg_argmin, "argmin"); }
static int l_cumsum(lua_State *L) { return scan(L, mg_cumsum, "cumsum"); }
static int l_cumprod(lua_State *L) { return scan(L, mg_cumprod, "cumprod"); }

#define STATS_COMMON                                                                      \
    {"var", l_var}, {"std", l_std}, {"max", l_max}, {"min", l_min}, {"amax", l_amax},     \
    {"amin", l_amin}, {"prod", l_prod}, {"logsumexp", l_logsumexp}, {"argmax", l_argmax}, \
    {"argmin", l_argmin}, {"cumsum", l_cumsum}, {"cumprod", l_cumprod}

const luaL_Reg lmg_stats_funcs[] = {STATS_COMMON, {NULL, NULL}};
const luaL_Reg lmg_stats_methods[] = {STATS_COMMON, {NULL, NULL}};
