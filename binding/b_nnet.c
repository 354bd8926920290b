/* b_nnet.c — the table core.nnet (mg.nnet in Lua): convolution
 * conv_nd(x, w [, b] [, {stride, padding, dilation, groups}]) with the
 * aliases conv1d/conv2d/conv3d, and max_pool / avg_pool(x, pool [, stride]
 * [, {stride, padding}]).  Per-axis options are a number (every axis) or a
 * table with one entry per spatial axis. */
#include <string.h>

#include "binding.h"

/* A tensor argument; Lua numbers and tables are read as floats of dtype dt
 * (the default float when dt < 0), replacing the stack slot. */
static mg_tensor *floatlike(lua_State *L, int idx, int dt, const char *fn) {
    int ty = lua_type(L, idx);
    if (lmg_is(L, idx) || (ty != LUA_TNUMBER && ty != LUA_TTABLE)) return lmg_checklike(L, idx, fn);
    idx = lua_absindex(L, idx);
    mg_tensor *t = lmg_from_value(L, idx, dt < 0 ? (int)mg_default_float() : dt, fn);
    lmg_push(L, t, fn);
    lua_replace(L, idx);
    return t;
}

/* The float dtype Lua-table arguments take beside tensor t. */
static int float_beside(const mg_tensor *t) {
    return mg_dtype_is_float(t->dtype) ? (int)t->dtype : -1;
}

/* Reads a per-axis option (nil: dflt) at stack index idx into out[0..d-1]. */
static void axis_values(lua_State *L, int idx, const char *key, int d, int64_t dflt, int64_t *out,
                        const char *fn) {
    if (lua_isnoneornil(L, idx)) {
        for (int i = 0; i < d; i++) out[i] = dflt;
        return;
    }
    if (lua_isinteger(L, idx)) {
        for (int i = 0; i < d; i++) out[i] = lua_tointeger(L, idx);
        return;
    }
    if (!lua_istable(L, idx) || lmg_is(L, idx))
        luaL_error(L, "%s: %s must be an integer or a table of %d integers, got %s", fn, key, d,
                   lua_type(L, idx) == LUA_TNUMBER ? "a non-integer number" : luaL_typename(L, idx));
    lua_Integer n = luaL_len(L, idx);
    if (n != d)
        luaL_error(L, "%s: %s has %d entries, expected %d (one per spatial axis)", fn, key, (int)n, d);
    for (int i = 0; i < d; i++) {
        lua_geti(L, idx, i + 1);
        if (!lua_isinteger(L, -1))
            luaL_error(L, "%s: %s entry %d must be an integer, got %s", fn, key, i + 1,
                       luaL_typename(L, -1));
        out[i] = lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
}

/* Reads field key of the options table opts (0: none) as a per-axis option. */
static void opt_axes(lua_State *L, int opts, const char *key, int d, int64_t dflt, int64_t *out,
                     const char *fn) {
    if (!opts) {
        for (int i = 0; i < d; i++) out[i] = dflt;
        return;
    }
    lua_getfield(L, opts, key);
    axis_values(L, lua_gettop(L), key, d, dflt, out, fn);
    lua_pop(L, 1);
}

/* A plain table with one of the option keys (or empty) is an options table. */
static bool is_options(lua_State *L, int idx, const char *const *keys) {
    if (!lua_istable(L, idx) || lmg_is(L, idx)) return false;
    for (int i = 0; keys[i]; i++) {
        int t = lua_getfield(L, idx, keys[i]);
        lua_pop(L, 1);
        if (t != LUA_TNIL) return true;
    }
    return lua_rawlen(L, idx) == 0;
}

static const char *const conv_keys[] = {"stride", "padding", "dilation", "groups", "bias", NULL};

/* conv_nd(x, w [, b] [, opts]); want_d > 0 for conv1d/2d/3d. */
static int conv(lua_State *L, int want_d, const char *fn) {
    mg_tensor *x = floatlike(L, 1, -1, fn);
    mg_tensor *w = floatlike(L, 2, float_beside(x), fn);
    mg_tensor *b = NULL;
    int opts = 0;
    if (is_options(L, 3, conv_keys)) opts = 3;
    else {
        if (!lua_isnoneornil(L, 3)) b = floatlike(L, 3, float_beside(x), fn);
        if (lua_istable(L, 4) && !lmg_is(L, 4)) opts = 4;
        else if (!lua_isnoneornil(L, 4))
            return luaL_error(L, "%s: argument #4 must be an options table, got %s", fn,
                              luaL_typename(L, 4));
    }
    if (opts && !b) {
        lua_getfield(L, opts, "bias");
        int ty = lua_type(L, -1);
        if (ty == LUA_TNIL) lua_pop(L, 1);
        else if (ty == LUA_TNUMBER || ty == LUA_TTABLE || lmg_is(L, -1))
            b = floatlike(L, -1, float_beside(x), fn); /* stays on the stack */
        else
            return luaL_error(L, "%s: bias must be a tensor, number or table, got %s", fn,
                              luaL_typename(L, -1));
    }
    int d = w->ndim - 2;
    if (want_d && w->ndim != want_d + 2)
        return luaL_error(L, "%s: expects filters w with %d axes {F, C, %s}, got %d axes", fn,
                          want_d + 2, want_d == 1 ? "K" : want_d == 2 ? "KH, KW" : "KD, KH, KW",
                          w->ndim);
    if (d < 1 || d > 3)
        return luaL_error(L, "%s: the filters w must have 3, 4 or 5 axes {F, C, K...} (1-d, 2-d "
                          "or 3-d convolution), got %d axes", fn, w->ndim);
    mg_conv_opts o = mg_conv_defaults();
    opt_axes(L, opts, "stride", d, 1, o.stride, fn);
    opt_axes(L, opts, "padding", d, 0, o.padding, fn);
    opt_axes(L, opts, "dilation", d, 1, o.dilation, fn);
    if (opts) {
        lua_getfield(L, opts, "groups");
        if (!lua_isnil(L, -1)) {
            if (!lua_isinteger(L, -1))
                return luaL_error(L, "%s: groups must be an integer, got %s", fn,
                                  luaL_typename(L, -1));
            o.groups = lua_tointeger(L, -1);
        }
        lua_pop(L, 1);
    }
    mg_tensor *y = mg_conv_nd(x, w, b, &o);
    const char *msg = mg_errmsg();
    if (!y && strncmp(msg, "conv_nd: ", 9) == 0) /* conv2d: ..., not conv2d: conv_nd: ... */
        return luaL_error(L, "%s: %s", fn, msg + 9);
    lmg_push(L, y, fn);
    return 1;
}

static int l_conv_nd(lua_State *L) { return conv(L, 0, "conv_nd"); }
static int l_conv1d(lua_State *L) { return conv(L, 1, "conv1d"); }
static int l_conv2d(lua_State *L) { return conv(L, 2, "conv2d"); }
static int l_conv3d(lua_State *L) { return conv(L, 3, "conv3d"); }

/* ---- pooling ------------------------------------------------------------------- */
typedef mg_tensor *(*pool_fn)(mg_tensor *, int, const int64_t *, const int64_t *, const int64_t *);

static const char *const pool_keys[] = {"stride", "padding", NULL};

/* pool(x, window [, stride] [, {stride, padding}]).  A number window pools
 * the trailing x.ndim - 2 axes (x is {N, C, ...}); a table, #window axes. */
static int pool(lua_State *L, pool_fn op, const char *fn) {
    mg_tensor *x = floatlike(L, 1, -1, fn);
    int d;
    if (lua_isinteger(L, 2)) {
        d = x->ndim - 2;
        if (d < 1 || d > 3)
            return luaL_error(L, "%s: with a number as the window x must have 3, 4 or 5 axes "
                              "{N, C, ...}, got %d axes (give the window as a table to pool "
                              "other axes)", fn, x->ndim);
    } else if (lua_istable(L, 2) && !lmg_is(L, 2)) {
        lua_Integer n = luaL_len(L, 2);
        if (n < 1 || n > 3)
            return luaL_error(L, "%s: the pool window must have 1, 2 or 3 entries, got %d", fn,
                              (int)n);
        d = (int)n;
    } else
        return luaL_error(L, "%s: the pool window must be an integer or a table of integers, got %s",
                          fn, lua_type(L, 2) == LUA_TNUMBER ? "a non-integer number"
                                                            : luaL_typename(L, 2));
    int64_t k[3], s[3], p[3];
    axis_values(L, 2, "pool", d, 1, k, fn);
    int opts = 0, stride_at = 0;
    if (is_options(L, 3, pool_keys)) opts = 3;
    else {
        stride_at = lua_isnoneornil(L, 3) ? 0 : 3;
        if (lua_istable(L, 4) && !lmg_is(L, 4)) opts = 4;
        else if (!lua_isnoneornil(L, 4))
            return luaL_error(L, "%s: argument #4 must be an options table, got %s", fn,
                              luaL_typename(L, 4));
    }
    for (int i = 0; i < d; i++) s[i] = k[i];
    if (stride_at) axis_values(L, stride_at, "stride", d, 1, s, fn);
    else if (opts) {
        lua_getfield(L, opts, "stride");
        if (!lua_isnil(L, -1)) axis_values(L, lua_gettop(L), "stride", d, 1, s, fn);
        lua_pop(L, 1);
    }
    opt_axes(L, opts, "padding", d, 0, p, fn);
    lmg_push(L, op(x, d, k, s, p), fn);
    return 1;
}

static int l_max_pool(lua_State *L) { return pool(L, mg_max_pool, "max_pool"); }
static int l_avg_pool(lua_State *L) { return pool(L, mg_avg_pool, "avg_pool"); }

const luaL_Reg lmg_nnet_funcs[] = {
    {"conv_nd", l_conv_nd}, {"conv1d", l_conv1d}, {"conv2d", l_conv2d}, {"conv3d", l_conv3d},
    {"max_pool", l_max_pool}, {"avg_pool", l_avg_pool}, {NULL, NULL}};
