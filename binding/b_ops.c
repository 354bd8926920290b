/* b_ops.c — Lua entry points for the math: arithmetic metamethods (numbers
 * on either side), element-wise functions, reductions with axis/keepdims,
 * and matmul.  Each is both mg.f(x, ...) and the method x:f(...). */
#include <string.h>

#include "binding.h"


/* A Lua number beside a tensor becomes a 0-d tensor of a fitting dtype
 * (no Lua object is made for it).  Float ones are kept in a small
 * per-thread cache keyed by dtype and value, so `y * 0.5` in a loop finds
 * the 0.5 it made last time, even while graph nodes hold it as an input.
 * They never reach Lua and nothing writes into them, so sharing is safe. */
#define SCALAR_CACHE 16 /* the slot is the top 4 bits of a multiplicative hash */
static LMG_HOT_TLS mg_tensor *scalar_cache[SCALAR_CACHE];

static mg_tensor *scalar_operand(lua_State *L, int idx, const mg_tensor *other) {
    if (!mg_dtype_is_float(other->dtype)) return lmg_scalar_for(L, idx, other);
    double v = lua_tonumber(L, idx);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    unsigned slot = (unsigned)(((bits + (uint64_t)other->dtype) * 0x9E3779B97F4A7C15u) >> 60);
    mg_tensor *s = scalar_cache[slot];
    if (s && s->dtype == other->dtype) {
        double have = s->dtype == MG_FLOAT32 ? *(float *)s->storage->data
                                             : *(double *)s->storage->data;
        double want = s->dtype == MG_FLOAT32 ? (double)(float)v : v;
        if (memcmp(&have, &want, sizeof have) == 0) return mg_retain(s);
    }
    mg_tensor *t = lmg_scalar_for(L, idx, other);
    if (t) {
        mg_release(scalar_cache[slot]);
        scalar_cache[slot] = mg_retain(t);
    }
    return t;
}

int lmg_binary(lua_State *L, lmg_binop op, const char *fn) {
    mg_tensor *a, *b, *tmp = NULL;
    int t1 = lua_type(L, 1), t2 = lua_type(L, 2);
    if (t1 == LUA_TUSERDATA && t2 == LUA_TNUMBER) {
        a = lmg_checklike(L, 1, fn);
        tmp = b = scalar_operand(L, 2, a);
    } else if (t2 == LUA_TUSERDATA && t1 == LUA_TNUMBER) {
        b = lmg_checklike(L, 2, fn);
        tmp = a = scalar_operand(L, 1, b);
    } else {
        a = lmg_checklike(L, 1, fn);
        b = lmg_checklike(L, 2, fn);
    }
    mg_tensor *r = op(a, b);
    mg_release(tmp);
    lmg_push(L, r, fn);
    return 1;
}

int lmg_unary(lua_State *L, lmg_unop op, const char *fn) {
    lmg_push(L, op(lmg_checklike(L, 1, fn)), fn);
    return 1;
}

#define BIN(cname, op, fn) \
    static int cname(lua_State *L) { return lmg_binary(L, op, fn); }
#define UN(cname, op, fn) \
    static int cname(lua_State *L) { return lmg_unary(L, op, fn); }

BIN(l_add, mg_add, "add")
BIN(l_sub, mg_sub, "subtract")
BIN(l_mul, mg_mul, "multiply")
BIN(l_div, mg_div, "divide")
BIN(l_pow, mg_pow, "power")
BIN(l_floordiv, mg_floordiv, "floor_divide")
BIN(l_mod, mg_mod, "mod")
BIN(l_matmul, mg_matmul, "matmul")
UN(l_neg, mg_neg, "negative")
UN(l_exp, mg_exp, "exp")
UN(l_log, mg_log, "log")
UN(l_sqrt, mg_sqrt, "sqrt")
UN(l_sin, mg_sin, "sin")
UN(l_cos, mg_cos, "cos")
UN(l_tanh, mg_tanh, "tanh")
UN(l_abs, mg_abs, "abs")
UN(l_square, mg_square, "square")
UN(l_sign, mg_sign, "sign")

static int l_unm(lua_State *L) { return lmg_unary(L, mg_neg, "negative"); }

static int l_positive(lua_State *L) {
    lmg_checklike(L, 1, "positive");
    lua_settop(L, 1);
    return 1;
}

/* ---- reductions ------------------------------------------------------------
 * x:sum(), x:sum(axis), x:sum(axis, keepdims), x:sum({1, 2}),
 * x:sum({axis = 1, keepdims = true}). */
static bool is_options(lua_State *L, int idx) {
    if (!lua_istable(L, idx) || lmg_is(L, idx)) return false;
    int ta = lua_getfield(L, idx, "axis"), tk = lua_getfield(L, idx, "keepdims");
    lua_pop(L, 2);
    return ta != LUA_TNIL || tk != LUA_TNIL || luaL_len(L, idx) == 0;
}

int lmg_reduction(lua_State *L, mg_tensor *(*op)(mg_tensor *, uint32_t, bool), const char *fn) {
    mg_tensor *t = lmg_checklike(L, 1, fn);
    uint32_t axes;
    bool keep;
    if (is_options(L, 2)) {
        lua_getfield(L, 2, "axis");
        axes = lmg_axes_arg(L, -1, t->ndim, fn);
        lua_pop(L, 1);
        keep = lmg_opt_bool(L, 2, "keepdims", false);
    } else {
        axes = lmg_axes_arg(L, 2, t->ndim, fn);
        keep = lua_toboolean(L, 3) || lmg_opt_bool(L, 3, "keepdims", false);
    }
    lmg_push(L, op(t, axes, keep), fn);
    return 1;
}
static int l_sum(lua_State *L) { return lmg_reduction(L, mg_sum, "sum"); }
static int l_mean(lua_State *L) { return lmg_reduction(L, mg_mean, "mean"); }

const luaL_Reg lmg_ops_meta[] = {
    {"__add", l_add}, {"__sub", l_sub}, {"__mul", l_mul}, {"__div", l_div}, {"__pow", l_pow},
    {"__idiv", l_floordiv}, {"__mod", l_mod}, {"__unm", l_unm}, {NULL, NULL}};

#define OPS_COMMON                                                                          \
    {"add", l_add}, {"sub", l_sub}, {"subtract", l_sub}, {"mul", l_mul},                    \
    {"multiply", l_mul}, {"div", l_div}, {"divide", l_div}, {"pow", l_pow},                 \
    {"power", l_pow}, {"floor_divide", l_floordiv}, {"mod", l_mod}, {"remainder", l_mod},   \
    {"matmul", l_matmul}, {"neg", l_neg}, {"negative", l_neg}, {"positive", l_positive},    \
    {"exp", l_exp}, {"log", l_log}, {"sqrt", l_sqrt}, {"sin", l_sin}, {"cos", l_cos},       \
    {"tanh", l_tanh}, {"abs", l_abs}, {"square", l_square}, {"sign", l_sign},               \
    {"sum", l_sum}, {"mean", l_mean}

const luaL_Reg lmg_ops_funcs[] = {OPS_COMMON, {NULL, NULL}};
const luaL_Reg lmg_ops_methods[] = {OPS_COMMON, {NULL, NULL}};
