/* b_autograd.c — Lua entry points for autograd: backward (head gradient,
 * retain_graph, create_graph), null_grad, detach, requires_grad_,
 * attach_grad, the grad-mode switches that mg.no_grad is built on (see
 * init.lua), and core.autograd_grad, the C side of mg.autograd.grad (see
 * autograd.lua). */
#include <math.h>

#include "binding.h"

static bool is_backward_opts(lua_State *L, int idx) {
    if (!lua_istable(L, idx) || lmg_is(L, idx)) return false;
    int tr = lua_getfield(L, idx, "retain_graph"), tc = lua_getfield(L, idx, "create_graph");
    lua_pop(L, 2);
    return tr != LUA_TNIL || tc != LUA_TNIL;
}

/* y:backward(), y:backward(grad), y:backward(grad, {retain_graph, create_graph}) */
static int m_backward(lua_State *L) {
    mg_tensor *y = lmg_check(L, 1, "backward");
    int opts = 3;
    if (is_backward_opts(L, 2)) { /* y:backward(opts): no head gradient */
        lua_settop(L, 2);
        lua_pushnil(L);
        lua_insert(L, 2);
    }
    /* the options first: reading them may raise, and tmp must not leak */
    if (!lua_isnoneornil(L, opts) && (!lua_istable(L, opts) || lmg_is(L, opts)))
        return luaL_error(L, "backward: the options (argument #%d) must be a table such as "
                             "{retain_graph = true}, got %s", opts, luaL_typename(L, opts));
    if (lua_type(L, 2) == LUA_TNUMBER && !isfinite(lua_tonumber(L, 2)))
        return luaL_error(L, "backward: the head gradient must be finite, got %f", lua_tonumber(L, 2));
    mg_backward_opts o = {lmg_opt_bool(L, opts, "retain_graph", false),
                          lmg_opt_bool(L, opts, "create_graph", false)};
    mg_tensor *g = NULL, *tmp = NULL;
    if (lua_type(L, 2) == LUA_TNUMBER) tmp = g = lmg_scalar_for(L, 2, y);
    else if (!lua_isnoneornil(L, 2)) g = lmg_checklike(L, 2, "backward");
    int rc = mg_backward(y, g, &o);
    mg_release(tmp);
    if (rc) return lmg_error(L, "backward");
    lmg_gc_account(L);
    return 0;
}

static int m_null_grad(lua_State *L) {
    mg_null_grad(lmg_check(L, 1, "null_grad"));
    lua_settop(L, 1);
    return 1;
}

static int m_detach(lua_State *L) {
    lmg_push(L, mg_detach(lmg_check(L, 1, "detach")), "detach");
    return 1;
}

static int m_detach_(lua_State *L) {
    mg_detach_(lmg_check(L, 1, "detach_"));
    lua_settop(L, 1);
    return 1;
}

static int m_requires_grad_(lua_State *L) {
    mg_tensor *t = lmg_check(L, 1, "requires_grad_");
    if (mg_requires_grad_(t, lua_isnone(L, 2) ? true : lua_toboolean(L, 2)))
        return lmg_error(L, "requires_grad_");
    lua_settop(L, 1);
    return 1;
}

/* x:attach_grad() (MXNet): x becomes a variable leaf with no gradient yet. */
static int m_attach_grad(lua_State *L) {
    mg_tensor *t = lmg_check(L, 1, "attach_grad");
    if (!mg_dtype_is_float(t->dtype))
        return luaL_error(L, "attach_grad: only float tensors can have gradients, this one is %s "
                          "(convert it first, e.g. x:double())", mg_dtype_name(t->dtype));
    mg_detach_(t);
    if (mg_requires_grad_(t, true)) return lmg_error(L, "attach_grad");
    mg_null_grad(t);
    lua_settop(L, 1);
    return 1;
}

/* Reads n tensors (nil allowed where may_nil) from the list at idx into a
 * pointer array owned by a userdata left on the stack. */
static mg_tensor **tensor_list(lua_State *L, int idx, lua_Integer n, bool may_nil,
                               const char *what) {
    mg_tensor **v = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *v, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, idx, i);
        if (!(may_nil && lua_isnil(L, -1)) && !lmg_is(L, -1))
            luaL_error(L, "grad: %s[%d] must be a tensor, got %s", what, (int)i,
                       luaL_typename(L, -1));
        v[i - 1] = lua_isnil(L, -1) ? NULL : lmg_check(L, -1, "grad");
        lua_pop(L, 1);
    }
    return v;
}

/* core.autograd_grad(outputs, inputs, grad_outputs | nil, retain_graph,
 * create_graph): lists of tensors in, a list with one gradient or nil per
 * input out (mg.autograd.grad checks and converts the arguments). */
static int f_autograd_grad(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer nout = luaL_len(L, 1), nin = luaL_len(L, 2);
    if (nout < 1 || nin < 1 || nout > INT32_MAX || nin > INT32_MAX)
        return luaL_error(L, "grad: expected at least one output and one input");
    mg_tensor **outs = tensor_list(L, 1, nout, false, "outputs");
    mg_tensor **ins = tensor_list(L, 2, nin, false, "inputs");
    mg_tensor **heads = lua_istable(L, 3) ? tensor_list(L, 3, nout, true, "grad_outputs") : NULL;
    mg_tensor **res = lua_newuserdatauv(L, (size_t)nin * sizeof *res, 0);
    mg_backward_opts o = {lua_toboolean(L, 4), lua_toboolean(L, 5)};
    lua_createtable(L, (int)nin, 0);
    for (lua_Integer j = 1; j <= nin; j++) { /* made first: no error may leave a result unowned */
        lmg_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
        lmg_ud_set(u, NULL);
        luaL_setmetatable(L, LMG_TENSOR);
        lua_rawseti(L, -2, j);
    }
    if (mg_grad(outs, (int)nout, heads, ins, (int)nin, &o, res)) return lmg_error(L, "grad");
    for (lua_Integer j = 1; j <= nin; j++) {
        if (res[j - 1]) {
            lua_rawgeti(L, -1, j);
            lmg_ud_set(lua_touserdata(L, -1), res[j - 1]);
            lua_pop(L, 1);
        } else {
            lua_pushnil(L);
            lua_rawseti(L, -2, j);
        }
    }
    lmg_gc_account(L);
    return 1;
}

/* mg.null_grads({p1, p2, ...}) */
static int f_null_grads(lua_State *L) {
    if (!lua_istable(L, 1) || lmg_is(L, 1))
        return luaL_error(L, "null_grads: expected a list of tensors, got %s",
                          lmg_is(L, 1) ? "a tensor (use x:null_grad())" : luaL_typename(L, 1));
    lua_Integer n = luaL_len(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        if (!lmg_is(L, -1))
            return luaL_error(L, "null_grads: element %I of the list must be a tensor, got %s", i,
                              luaL_typename(L, -1));
        mg_null_grad(lmg_check(L, -1, "null_grads"));
        lua_pop(L, 1);
    }
    return 0;
}

/* set_grad_enabled(on) returns the previous mode. */
static int f_set_grad_enabled(lua_State *L) {
    lua_pushboolean(L, mg_set_grad_enabled(lua_toboolean(L, 1)));
    return 1;
}
static int f_is_grad_enabled(lua_State *L) {
    lua_pushboolean(L, mg_grad_enabled());
    return 1;
}
static int f_set_keep_grad(lua_State *L) {
    lua_pushboolean(L, mg_set_keep_grad(lua_toboolean(L, 1)));
    return 1;
}

const luaL_Reg lmg_autograd_funcs[] = {
    {"null_grads", f_null_grads}, {"set_grad_enabled", f_set_grad_enabled},
    {"is_grad_enabled", f_is_grad_enabled}, {"set_keep_grad", f_set_keep_grad},
    {"backward", m_backward}, {"detach", m_detach}, {"attach_grad", m_attach_grad},
    {"autograd_grad", f_autograd_grad}, {NULL, NULL}};

const luaL_Reg lmg_autograd_methods[] = {
    {"backward", m_backward}, {"null_grad", m_null_grad}, {"zero_grad", m_null_grad},
    {"detach", m_detach}, {"detach_", m_detach_}, {"requires_grad_", m_requires_grad_},
    {"attach_grad", m_attach_grad}, {NULL, NULL}};
