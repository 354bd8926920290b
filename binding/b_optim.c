/* b_optim.c — core.optim: one call per optimizer step (sgd_step, adam_step,
 * adamw_step, rmsprop_step).  Each takes the parameter list, the optimizer's
 * state table (keyed by parameter, as PyTorch's optimizer.state) and the
 * parameter group's options; it gathers the parameters that have a .grad,
 * creates their missing state tensors (zeros of the parameter's shape and
 * dtype), and hands the arrays to the C updates of src/optim.c.
 * lua/moongrad/optim.lua builds mg.optim on these. */
#include <string.h>

#include "binding.h"

#define NSTATES 3

/* The parameters with a gradient, their gradients and state, as arrays. */
typedef struct {
    int64_t n;
    mg_tensor **params, **grads;
    mg_tensor **st[NSTATES];  /* NULL where the state tensor is not used */
    int64_t *steps;           /* this update's number, per parameter */
    lua_Integer *index;       /* position in the params list */
    bool *fresh;              /* the first state tensor was created now */
} batch;

/* ---- options of the group (argument 3) -------------------------------------- */
static double opt_num(lua_State *L, const char *fn, const char *key, double dflt) {
    int t = lua_getfield(L, 3, key);
    double v = dflt;
    if (t == LUA_TNUMBER) v = lua_tonumber(L, -1);
    else if (t != LUA_TNIL) luaL_error(L, "%s: option '%s' must be a number, got %s", fn, key,
                                       luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

static bool opt_flag(lua_State *L, const char *key) {
    lua_getfield(L, 3, key);
    bool v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* betas = {beta1, beta2} */
static void opt_betas(lua_State *L, const char *fn, double *b1, double *b2) {
    *b1 = 0.9;
    *b2 = 0.999;
    int t = lua_getfield(L, 3, "betas");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE) luaL_error(L, "%s: option 'betas' must be a table {beta1, beta2}", fn);
    int t1 = lua_geti(L, -1, 1), t2 = lua_geti(L, -2, 2);
    if (t1 != LUA_TNUMBER || t2 != LUA_TNUMBER)
        luaL_error(L, "%s: option 'betas' must hold two numbers {beta1, beta2}", fn);
    *b1 = lua_tonumber(L, -2);
    *b2 = lua_tonumber(L, -1);
    lua_pop(L, 3);
}

/* ---- gathering ----------------------------------------------------------------- */
static void *scratch(lua_State *L, int64_t n, size_t each) {
    if (n > (int64_t)(((size_t)-1 / 2) / each)) luaL_error(L, "optim: too many parameters");
    return lua_newuserdatauv(L, (size_t)n * each, 0);
}

/* The state tensor `name` of the state table at the top, created (zeros like
 * p) when absent.  Returns it; sets *made when it was created now. */
static mg_tensor *state_tensor(lua_State *L, const char *fn, lua_Integer i, const char *name,
                               mg_tensor *p, bool *made) {
    int stbl = lua_gettop(L);
    *made = false;
    if (lua_getfield(L, stbl, name) == LUA_TNIL) {
        lua_pop(L, 1);
        lmg_push(L, mg_zeros(p->ndim, p->shape, p->dtype), fn);
        lua_pushvalue(L, -1);
        lua_setfield(L, stbl, name);
        *made = true;
    }
    lmg_ud *u = luaL_testudata(L, -1, LMG_TENSOR);
    if (!u || !u->t)
        luaL_error(L, "%s: state '%s' of params[%d] must be a tensor, got %s", fn, name, (int)i,
                   luaL_typename(L, -1));
    lua_pop(L, 1); /* the state table keeps it */
    return u->t;
}

/* The step count kept in the state table at the top (0 before the first). */
static int64_t state_step(lua_State *L, const char *fn, lua_Integer i) {
    int t = lua_getfield(L, -1, "step");
    int isnum = 0;
    lua_Integer s = lua_tointegerx(L, -1, &isnum);
    if (t != LUA_TNIL && (!isnum || s < 0))
        luaL_error(L, "%s: state 'step' of params[%d] must be an integer >= 0", fn, (int)i);
    lua_pop(L, 1);
    return t == LUA_TNIL || s == LUA_MAXINTEGER ? 0 : (int64_t)s;
}

/* Arguments: 1 params (a list of tensors), 2 state (a table keyed by
 * parameter), 3 options.  names[j] (NULL = unused) are the state tensors.
 * The options are checked before (so a state tensor made here is used). */
static void collect(lua_State *L, const char *fn, const char *const names[NSTATES], batch *b) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    int64_t len = (int64_t)luaL_len(L, 1);
    if (len < 0) len = 0;
    memset(b, 0, sizeof *b);
    b->params = scratch(L, len, sizeof(mg_tensor *));
    b->grads = scratch(L, len, sizeof(mg_tensor *));
    for (int j = 0; j < NSTATES; j++)
        if (names[j]) b->st[j] = scratch(L, len, sizeof(mg_tensor *));
    b->steps = scratch(L, len, sizeof(int64_t));
    b->index = scratch(L, len, sizeof(lua_Integer));
    b->fresh = scratch(L, len, sizeof(bool));
    int top = lua_gettop(L);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, 1, i);
        lmg_ud *u = luaL_testudata(L, -1, LMG_TENSOR);
        if (!u) luaL_error(L, "%s: params[%d] is a %s, expected a tensor", fn, (int)i,
                           luaL_typename(L, -1));
        if (!u->t) luaL_error(L, "%s: params[%d] was closed", fn, (int)i);
        mg_tensor *p = u->t;
        if (!p->grad) {
            lua_settop(L, top);
            continue;
        }
        int64_t k = b->n++;
        b->params[k] = p;
        b->grads[k] = p->grad;
        b->index[k] = i;
        b->fresh[k] = false;
        lua_pushvalue(L, -1);
        if (lua_gettable(L, 2) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            lua_settable(L, 2);
        } else if (!lua_istable(L, -1)) {
            luaL_error(L, "%s: the state of params[%d] must be a table", fn, (int)i);
        }
        for (int j = 0; j < NSTATES; j++) {
            bool made = false;
            if (names[j]) b->st[j][k] = state_tensor(L, fn, i, names[j], p, &made);
            if (j == 0) b->fresh[k] = made;
        }
        b->steps[k] = state_step(L, fn, i) + 1;
        lua_settop(L, top);
    }
}

/* After a successful update: state.step = the new count, per parameter. */
static void store_steps(lua_State *L, const batch *b) {
    for (int64_t k = 0; k < b->n; k++) {
        lua_geti(L, 1, b->index[k]);
        lua_gettable(L, 2);
        lua_pushinteger(L, (lua_Integer)b->steps[k]);
        lua_setfield(L, -2, "step");
        lua_pop(L, 1);
    }
}

/* Pushes the number of parameters updated. */
static int finish(lua_State *L, const char *fn, int rc, const batch *b, bool steps) {
    if (rc) return lmg_error(L, fn);
    if (steps) store_steps(L, b);
    lua_pushinteger(L, (lua_Integer)b->n);
    return 1;
}

/* ---- the entry points ------------------------------------------------------------ */
/* sgd_step(params, state, {lr, momentum, dampening, weight_decay, nesterov, maximize}) */
static int f_sgd_step(lua_State *L) {
    const char *fn = "SGD";
    luaL_checktype(L, 3, LUA_TTABLE);
    if (lua_getfield(L, 3, "lr") == LUA_TNIL) return luaL_error(L, "SGD: lr is required");
    lua_pop(L, 1);
    mg_sgd_opts o = {opt_num(L, fn, "lr", 0), opt_num(L, fn, "momentum", 0),
                     opt_num(L, fn, "dampening", 0), opt_num(L, fn, "weight_decay", 0),
                     opt_flag(L, "nesterov"), opt_flag(L, "maximize")};
    if (mg_sgd_step(0, NULL, NULL, NULL, NULL, &o)) return lmg_error(L, fn);
    const char *names[NSTATES] = {o.momentum != 0 ? "momentum_buffer" : NULL, NULL, NULL};
    batch b;
    collect(L, fn, names, &b);
    return finish(L, fn, mg_sgd_step(b.n, b.params, b.grads, b.st[0], b.fresh, &o), &b, false);
}

static int adam_common(lua_State *L, bool decoupled) {
    const char *fn = decoupled ? "AdamW" : "Adam";
    luaL_checktype(L, 3, LUA_TTABLE);
    mg_adam_opts o = {opt_num(L, fn, "lr", 1e-3), 0.9, 0.999, opt_num(L, fn, "eps", 1e-8),
                      opt_num(L, fn, "weight_decay", decoupled ? 1e-2 : 0),
                      opt_flag(L, "amsgrad"), opt_flag(L, "maximize"), decoupled};
    opt_betas(L, fn, &o.beta1, &o.beta2);
    if (mg_adam_step(0, NULL, NULL, NULL, NULL, NULL, NULL, &o)) return lmg_error(L, fn);
    const char *names[NSTATES] = {"exp_avg", "exp_avg_sq", o.amsgrad ? "max_exp_avg_sq" : NULL};
    batch b;
    collect(L, fn, names, &b);
    int rc = mg_adam_step(b.n, b.params, b.grads, b.st[0], b.st[1], b.st[2], b.steps, &o);
    return finish(L, fn, rc, &b, true);
}

/* adam_step(params, state, {lr, betas, eps, weight_decay, amsgrad, maximize}) */
static int f_adam_step(lua_State *L) { return adam_common(L, false); }
static int f_adamw_step(lua_State *L) { return adam_common(L, true); }

/* rmsprop_step(params, state, {lr, alpha, eps, weight_decay, momentum, centered, maximize}) */
static int f_rmsprop_step(lua_State *L) {
    const char *fn = "RMSprop";
    luaL_checktype(L, 3, LUA_TTABLE);
    mg_rmsprop_opts o = {opt_num(L, fn, "lr", 1e-2), opt_num(L, fn, "alpha", 0.99),
                         opt_num(L, fn, "eps", 1e-8), opt_num(L, fn, "weight_decay", 0),
                         opt_num(L, fn, "momentum", 0), opt_flag(L, "centered"),
                         opt_flag(L, "maximize")};
    if (mg_rmsprop_step(0, NULL, NULL, NULL, NULL, NULL, &o)) return lmg_error(L, fn);
    const char *names[NSTATES] = {"square_avg", o.centered ? "grad_avg" : NULL,
                                  o.momentum > 0 ? "momentum_buffer" : NULL};
    batch b;
    collect(L, fn, names, &b);
    int rc = mg_rmsprop_step(b.n, b.params, b.grads, b.st[0], b.st[1], b.st[2], &o);
    return finish(L, fn, rc, &b, true);
}

const luaL_Reg lmg_optim_funcs[] = {
    {"sgd_step", f_sgd_step}, {"adam_step", f_adam_step}, {"adamw_step", f_adamw_step},
    {"rmsprop_step", f_rmsprop_step}, {NULL, NULL}};
