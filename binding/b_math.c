/* b_math.c — Lua entry points for the math of ops_math.c: more element-wise
 * functions (tan ... cbrt, reciprocal, floor/ceil/round), arctan2, maximum,
 * minimum, logaddexp, comparisons (bool results), isnan/isinf/isfinite,
 * logical ops, where, clip and the any/all reductions.  Each is mg.f(x, ...)
 * and, except where, the method x:f(...); numbers go on either side. */
#include <math.h>

#include "binding.h"

#define BIN(cname, op, fn) \
    static int cname(lua_State *L) { return lmg_binary(L, op, fn); }
#define UN(cname, op, fn) \
    static int cname(lua_State *L) { return lmg_unary(L, op, fn); }

UN(m_tan, mg_tan, "tan")
UN(m_arcsin, mg_arcsin, "arcsin")
UN(m_arccos, mg_arccos, "arccos")
UN(m_arctan, mg_arctan, "arctan")
UN(m_sinh, mg_sinh, "sinh")
UN(m_cosh, mg_cosh, "cosh")
UN(m_arcsinh, mg_arcsinh, "arcsinh")
UN(m_arccosh, mg_arccosh, "arccosh")
UN(m_arctanh, mg_arctanh, "arctanh")
UN(m_exp2, mg_exp2, "exp2")
UN(m_expm1, mg_expm1, "expm1")
UN(m_log2, mg_log2, "log2")
UN(m_log10, mg_log10, "log10")
UN(m_log1p, mg_log1p, "log1p")
UN(m_cbrt, mg_cbrt, "cbrt")
UN(m_reciprocal, mg_reciprocal, "reciprocal")
UN(m_floor, mg_floor, "floor")
UN(m_ceil, mg_ceil, "ceil")
UN(m_isnan, mg_isnan, "isnan")
UN(m_isinf, mg_isinf, "isinf")
UN(m_isfinite, mg_isfinite, "isfinite")
UN(m_logical_not, mg_logical_not, "logical_not")
BIN(m_arctan2, mg_arctan2, "arctan2")
BIN(m_maximum, mg_maximum, "maximum")
BIN(m_minimum, mg_minimum, "minimum")
BIN(m_logaddexp, mg_logaddexp, "logaddexp")
BIN(m_equal, mg_equal, "equal")
BIN(m_not_equal, mg_not_equal, "not_equal")
BIN(m_less, mg_less, "less")
BIN(m_less_equal, mg_less_equal, "less_equal")
BIN(m_greater, mg_greater, "greater")
BIN(m_greater_equal, mg_greater_equal, "greater_equal")
BIN(m_logical_and, mg_logical_and, "logical_and")
BIN(m_logical_or, mg_logical_or, "logical_or")
BIN(m_logical_xor, mg_logical_xor, "logical_xor")

/* round(x), round(x, decimals), round(x, {decimals = d}). */
static int m_round(lua_State *L) {
    mg_tensor *x = lmg_checklike(L, 1, "round");
    lua_Integer d = 0;
    if (lua_istable(L, 2) && !lmg_is(L, 2)) {
        lua_getfield(L, 2, "decimals");
        lua_replace(L, 2);
    }
    if (!lua_isnoneornil(L, 2)) {
        if (!lua_isinteger(L, 2))
            return luaL_error(L, "round: decimals must be an integer, got %s",
                              lua_type(L, 2) == LUA_TNUMBER ? lua_tostring(L, 2) : luaL_typename(L, 2));
        d = lua_tointeger(L, 2);
    }
    if (d > 1000 || d < -1000) /* (the library's own range check names the limits) */
        return luaL_error(L, "round: decimals must be between -308 and 308, got %I", d);
    lmg_push(L, mg_round(x, (int)d), "round");
    return 1;
}

/* A bound of clip at idx: nil (NULL), a number (a 0-d tensor typed to go
 * with x, which replaces the number on the stack, so a later Lua error
 * cannot leak it) or a tensor-like. */
static mg_tensor *clip_bound(lua_State *L, int idx, const mg_tensor *x) {
    if (lua_isnoneornil(L, idx)) return NULL;
    if (lua_type(L, idx) != LUA_TNUMBER) return lmg_checklike(L, idx, "clip");
    if (isnan(lua_tonumber(L, idx)))
        luaL_error(L, "clip: the %s bound is nan", idx == 2 ? "lower" : "upper");
    mg_tensor *b = lmg_scalar_for(L, idx, x);
    lmg_push(L, b, "clip");
    lua_replace(L, idx);
    return b;
}

/* clip(x, lo, hi), clip(x, {min = lo, max = hi}): either bound may be nil. */
static int m_clip(lua_State *L) {
    mg_tensor *x = lmg_checklike(L, 1, "clip");
    if (lua_istable(L, 2) && !lmg_is(L, 2) && lua_isnoneornil(L, 3)) {
        lua_settop(L, 2);
        int t2 = lua_getfield(L, 2, "min"), t3 = lua_getfield(L, 2, "max");
        if (t2 != LUA_TNIL || t3 != LUA_TNIL || luaL_len(L, 2) == 0) lua_remove(L, 2);
        else lua_pop(L, 2);
    }
    lua_settop(L, 3);
    mg_tensor *lo = clip_bound(L, 2, x);
    mg_tensor *hi = clip_bound(L, 3, x);
    lmg_push(L, mg_clip(x, lo, hi), "clip");
    return 1;
}

/* where(cond, a, b): a number beside a tensor takes that tensor's dtype
 * (the weak scalar rule); two numbers become tensors as mg.tensor would. */
static int m_where(lua_State *L) {
    mg_tensor *c = lmg_checklike(L, 1, "where"), *a, *b, *tmp = NULL;
    if (lmg_is(L, 2) && lua_type(L, 3) == LUA_TNUMBER) {
        a = lmg_check(L, 2, "where");
        tmp = b = lmg_scalar_for(L, 3, a);
    } else if (lmg_is(L, 3) && lua_type(L, 2) == LUA_TNUMBER) {
        b = lmg_check(L, 3, "where");
        tmp = a = lmg_scalar_for(L, 2, b);
    } else {
        a = lmg_checklike(L, 2, "where");
        b = lmg_checklike(L, 3, "where");
    }
    mg_tensor *r = mg_where(c, a, b);
    mg_release(tmp);
    lmg_push(L, r, "where");
    return 1;
}

/* ---- any / all ---------------------------------------------------------------
 * x:any(), x:any(axis), x:any(axis, keepdims), x:any({1, 2}),
 * x:any({axis = 1, keepdims = true}). */
static int m_any(lua_State *L) { return lmg_reduction(L, mg_any, "any"); }
static int m_all(lua_State *L) { return lmg_reduction(L, mg_all, "all"); }

/* Names shared by mg.* and the methods; PyTorch/Torch7 spellings as aliases. */
#define MATH_COMMON                                                                          \
    {"tan", m_tan}, {"arcsin", m_arcsin}, {"asin", m_arcsin}, {"arccos", m_arccos},          \
    {"acos", m_arccos}, {"arctan", m_arctan}, {"atan", m_arctan}, {"sinh", m_sinh},          \
    {"cosh", m_cosh}, {"arcsinh", m_arcsinh}, {"asinh", m_arcsinh}, {"arccosh", m_arccosh},  \
    {"acosh", m_arccosh}, {"arctanh", m_arctanh}, {"atanh", m_arctanh}, {"exp2", m_exp2},    \
    {"expm1", m_expm1}, {"log2", m_log2}, {"log10", m_log10}, {"log1p", m_log1p},            \
    {"cbrt", m_cbrt}, {"reciprocal", m_reciprocal}, {"floor", m_floor}, {"ceil", m_ceil},    \
    {"round", m_round}, {"arctan2", m_arctan2}, {"atan2", m_arctan2},                        \
    {"maximum", m_maximum}, {"minimum", m_minimum}, {"logaddexp", m_logaddexp},              \
    {"clip", m_clip}, {"clamp", m_clip},                                                     \
    {"equal", m_equal}, {"eq", m_equal}, {"not_equal", m_not_equal}, {"ne", m_not_equal},    \
    {"less", m_less}, {"lt", m_less}, {"less_equal", m_less_equal}, {"le", m_less_equal},    \
    {"greater", m_greater}, {"gt", m_greater}, {"greater_equal", m_greater_equal},          \
    {"ge", m_greater_equal}, {"isnan", m_isnan}, {"isinf", m_isinf},                         \
    {"isfinite", m_isfinite}, {"logical_not", m_logical_not},                                \
    {"logical_and", m_logical_and}, {"logical_or", m_logical_or},                            \
    {"logical_xor", m_logical_xor}, {"any", m_any}, {"all", m_all}

const luaL_Reg lmg_math_funcs[] = {MATH_COMMON, {"where", m_where}, {NULL, NULL}};
const luaL_Reg lmg_math_methods[] = {MATH_COMMON, {NULL, NULL}};
