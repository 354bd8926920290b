/* b_inplace.c — Lua entry points for the in-place ops x:add_(v), sub_, mul_,
 * div_, pow_, clamp_(lo, hi) (alias clip_), fill_(v), copy_(src), zero_():
 * each returns x itself.  When the write is recorded, x's handle moves to
 * the tensor that stands for its new contents in the graph (as setitem). */
#include <math.h>

#include "binding.h"

/* The argument at idx, as a tensor owned by the Lua stack (replacing the
 * value there): a Lua number becomes a 0-d tensor typed to go with x. */
static mg_tensor *arg(lua_State *L, int idx, const mg_tensor *x, const char *fn) {
    if (lua_type(L, idx) != LUA_TNUMBER) return lmg_checklike(L, idx, fn);
    mg_tensor *t = lmg_scalar_for(L, idx, x);
    lmg_push(L, t, fn);
    lua_replace(L, idx);
    return t;
}

/* Moves x's handle (argument 1) to r and returns x. */
static int finish(lua_State *L, mg_tensor *r, const char *fn) {
    if (!r) return lmg_error(L, fn);
    lmg_ud *u = luaL_checkudata(L, 1, LMG_TENSOR);
    mg_release(u->t);
    lmg_ud_set(u, r);
    lua_settop(L, 1);
    lmg_gc_account(L);
    return 1;
}

typedef mg_tensor *(*inplace2)(mg_tensor *, mg_tensor *);

static int binary_(lua_State *L, inplace2 op, const char *fn) {
    mg_tensor *x = lmg_check(L, 1, fn);
    if (lua_isnoneornil(L, 2)) return luaL_error(L, "%s: argument #2 (the value) is missing", fn);
    return finish(L, op(x, arg(L, 2, x, fn)), fn);
}

static int l_add_(lua_State *L) { return binary_(L, mg_add_, "add_"); }
static int l_sub_(lua_State *L) { return binary_(L, mg_sub_, "sub_"); }
static int l_mul_(lua_State *L) { return binary_(L, mg_mul_, "mul_"); }
static int l_div_(lua_State *L) { return binary_(L, mg_div_, "div_"); }
static int l_pow_(lua_State *L) { return binary_(L, mg_pow_, "pow_"); }
static int l_fill_(lua_State *L) { return binary_(L, mg_fill_, "fill_"); }
static int l_copy_(lua_State *L) { return binary_(L, mg_copy_, "copy_"); }

static int l_zero_(lua_State *L) { return finish(L, mg_zero_(lmg_check(L, 1, "zero_")), "zero_"); }

/* x:clamp_(lo, hi); either bound may be nil (not both). */
static int clamp_(lua_State *L, const char *fn) {
    mg_tensor *x = lmg_check(L, 1, fn);
    lua_settop(L, 3);
    for (int i = 2; i <= 3; i++)
        if (lua_type(L, i) == LUA_TNUMBER && isnan(lua_tonumber(L, i)))
            return luaL_error(L, "%s: the %s bound is nan", fn, i == 2 ? "lower" : "upper");
    mg_tensor *lo = lua_isnil(L, 2) ? NULL : arg(L, 2, x, fn);
    mg_tensor *hi = lua_isnil(L, 3) ? NULL : arg(L, 3, x, fn);
    return finish(L, mg_clamp_(x, lo, hi), fn);
}
static int l_clamp_(lua_State *L) { return clamp_(L, "clamp_"); }
static int l_clip_(lua_State *L) { return clamp_(L, "clip_"); }

#define INPLACE_COMMON                                                                   \
    {"add_", l_add_}, {"sub_", l_sub_}, {"mul_", l_mul_}, {"div_", l_div_},              \
    {"pow_", l_pow_}, {"zero_", l_zero_}, {"fill_", l_fill_}, {"copy_", l_copy_},        \
    {"clamp_", l_clamp_}, {"clip_", l_clip_}

const luaL_Reg lmg_inplace_funcs[] = {INPLACE_COMMON, {NULL, NULL}};
const luaL_Reg lmg_inplace_methods[] = {INPLACE_COMMON, {NULL, NULL}};
