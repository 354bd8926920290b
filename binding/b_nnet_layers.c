/* b_nnet_layers.c — the C half of mg.nnet's initializers and layers, in
 * core.nnet: orthogonal(shape, opts) and dirac(shape, opts) initializers,
 * embedding(idx, table) with 1-based indices.  The rest is in
 * lua/moongrad/nnet_layers.lua. */
#include <math.h>

#include "binding.h"

/* A number option (dflt when absent); anything else is an error. */
static double opt_number(lua_State *L, int opts, const char *key, double dflt, const char *fn) {
    if (!lua_istable(L, opts) || lmg_is(L, opts)) return dflt;
    lua_getfield(L, opts, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "%s: option %s must be a number, got %s", fn, key, luaL_typename(L, -1));
    double v = lua_tonumber(L, -1);
    if (!isfinite(v)) luaL_error(L, "%s: option %s must be a finite number, got %f", fn, key, v);
    lua_pop(L, 1);
    return v;
}

static lua_Integer opt_integer(lua_State *L, int opts, const char *key, lua_Integer dflt,
                               const char *fn) {
    if (!lua_istable(L, opts) || lmg_is(L, opts)) return dflt;
    lua_getfield(L, opts, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (!lua_isinteger(L, -1))
        luaL_error(L, "%s: option %s must be an integer, got %s", fn, key,
                   lua_type(L, -1) == LUA_TNUMBER ? "a non-integer number" : luaL_typename(L, -1));
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

/* The option table after the shape must be a table (or absent). */
static void check_opts(lua_State *L, int opts, const char *fn) {
    if (!lua_isnoneornil(L, opts) && (!lua_istable(L, opts) || lmg_is(L, opts)))
        luaL_error(L, "%s: expected an option table after the shape, got %s", fn,
                   luaL_typename(L, opts));
}

/* Pushes the new initializer tensor t: a variable unless constant = true or
 * requires_grad = false. */
static int push_init(lua_State *L, mg_tensor *t, int opts, const char *fn) {
    lmg_push(L, t, fn);
    bool constant = lmg_opt_bool(L, opts, "constant", false);
    t->requires_grad = lmg_opt_bool(L, opts, "requires_grad", !constant);
    return 1;
}

static mg_dtype init_dtype(lua_State *L, int opts, const char *fn) {
    int dt = lmg_opt_dtype(L, opts, 0, fn);
    return dt < 0 ? mg_default_float() : (mg_dtype)dt;
}

/* orthogonal(shape, {gain = 1, dtype, constant}) */
static int f_orthogonal(lua_State *L) {
    int ndim;
    int64_t shape[MG_MAXDIM];
    int opts = lmg_shape_args(L, 1, &ndim, shape, "orthogonal");
    check_opts(L, opts, "orthogonal");
    double gain = opt_number(L, opts, "gain", 1, "orthogonal");
    mg_dtype dt = init_dtype(L, opts, "orthogonal");
    return push_init(L, mg_init_orthogonal(ndim, shape, gain, dt), opts, "orthogonal");
}

/* dirac(shape, {groups = 1, gain = 1, dtype, constant}) */
static int f_dirac(lua_State *L) {
    int ndim;
    int64_t shape[MG_MAXDIM];
    int opts = lmg_shape_args(L, 1, &ndim, shape, "dirac");
    check_opts(L, opts, "dirac");
    lua_Integer groups = opt_integer(L, opts, "groups", 1, "dirac");
    double gain = opt_number(L, opts, "gain", 1, "dirac");
    mg_dtype dt = init_dtype(L, opts, "dirac");
    return push_init(L, mg_init_dirac(ndim, shape, groups, gain, dt), opts, "dirac");
}

/* embedding(idx, table): int64 indices (1-based) of any shape. */
static int f_embedding(lua_State *L) {
    mg_tensor *idx = lmg_checklike(L, 1, "embedding");
    mg_tensor *table = lmg_checklike(L, 2, "embedding");
    lmg_push(L, mg_embedding(idx, table, 1), "embedding");
    return 1;
}

const luaL_Reg lmg_nnet_layers_funcs[] = {
    {"orthogonal", f_orthogonal}, {"dirac", f_dirac}, {"embedding", f_embedding}, {NULL, NULL}};
