/* b_nnet_act.c — Lua entry points for the activations and losses of
 * mg.nnet (src/nn_act.c, src/nn_loss.c), registered into core.nnet.
 * Parameters come positionally (mg.nnet.leaky_relu(x, 0.2)) or in a
 * trailing option table ({slope = 0.2}); losses take the reduction as a
 * trailing string ("sum") or the option `reduction`.  Unknown option names
 * are errors.  Class labels are 1-based int64 tensors. */
#include <string.h>

#include "binding.h"

/* ---- option handling ----------------------------------------------------------- */
/* A plain table with no array part: an option table (a non-empty array is a
 * tensor-like value, e.g. class weights). */
static bool is_opts(lua_State *L, int idx) {
    return lua_type(L, idx) == LUA_TTABLE && !lmg_is(L, idx) && luaL_len(L, idx) == 0;
}

/* The option table among the arguments from `first` on (0 if none); every
 * key must be one of `keys` (NULL-terminated). */
static int find_opts(lua_State *L, int first, const char *fn, const char *const *keys) {
    int opts = 0;
    for (int i = first; i <= lua_gettop(L); i++)
        if (is_opts(L, i)) opts = i;
    if (!opts) return 0;
    lua_pushnil(L);
    while (lua_next(L, opts)) {
        lua_pop(L, 1);
        bool known = false;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int k = 0; keys[k] && !known; k++)
                known = strcmp(lua_tostring(L, -1), keys[k]) == 0;
        if (!known) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int k = 0; keys[k]; k++) {
                if (k) luaL_addstring(&b, ", ");
                luaL_addstring(&b, keys[k]);
            }
            luaL_pushresult(&b);
            const char *key =
                lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : luaL_typename(L, -2);
            luaL_error(L, "%s: unknown option '%s' (options: %s)", fn, key, lua_tostring(L, -1));
        }
    }
    return opts;
}

/* A number: the positional argument at pos (when a number), else the option
 * `key`, else dflt. */
static double num_arg(lua_State *L, int pos, int opts, const char *key, double dflt,
                      const char *fn) {
    if (pos && lua_type(L, pos) == LUA_TNUMBER) return lua_tonumber(L, pos);
    if (pos && !lua_isnoneornil(L, pos) && !is_opts(L, pos) && lua_type(L, pos) != LUA_TSTRING)
        return luaL_error(L, "%s: argument #%d (%s) must be a number, got %s", fn, pos, key,
                          luaL_typename(L, pos));
    if (!opts) return dflt;
    int t = lua_getfield(L, opts, key);
    double v = dflt;
    if (t == LUA_TNUMBER) v = lua_tonumber(L, -1);
    else if (t != LUA_TNIL)
        luaL_error(L, "%s: option '%s' must be a number, got %s", fn, key, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

/* The first of the options keys[] that is set (aliases), as num_arg. */
static double num_opt2(lua_State *L, int pos, int opts, const char *k1, const char *k2, double dflt,
                       const char *fn) {
    if (opts && !(pos && lua_type(L, pos) == LUA_TNUMBER)) {
        int t = lua_getfield(L, opts, k2);
        lua_pop(L, 1);
        if (t != LUA_TNIL) return num_arg(L, 0, opts, k2, dflt, fn);
    }
    return num_arg(L, pos, opts, k1, dflt, fn);
}

/* The reduction: a string argument from `first` on, or the option. */
static mg_reduction reduction_arg(lua_State *L, int first, int opts, const char *fn) {
    const char *s = NULL;
    for (int i = first; i <= lua_gettop(L); i++)
        if (lua_type(L, i) == LUA_TSTRING) s = lua_tostring(L, i);
    if (!s && opts) {
        int t = lua_getfield(L, opts, "reduction");
        if (t == LUA_TSTRING) s = lua_tostring(L, -1);
        else if (t != LUA_TNIL)
            luaL_error(L, "%s: option 'reduction' must be a string, got %s", fn,
                       luaL_typename(L, -1));
        lua_pop(L, 1); /* the string stays alive in the option table */
    }
    if (!s || !strcmp(s, "mean")) return MG_REDUCE_MEAN;
    if (!strcmp(s, "sum")) return MG_REDUCE_SUM;
    if (!strcmp(s, "none")) return MG_REDUCE_NONE;
    return (mg_reduction)luaL_error(
        L, "%s: reduction must be \"mean\", \"sum\" or \"none\", got \"%s\"", fn, s);
}

/* A tensor-like option (class weights, pos_weight): the positional argument
 * at pos when it is a tensor or an array table, else the option `key` (or
 * `alias`).  NULL when absent.  The value is kept on the stack. */
static mg_tensor *tensor_opt(lua_State *L, int pos, int opts, const char *key, const char *alias,
                             const char *fn) {
    if (pos && (lmg_is(L, pos) || (lua_type(L, pos) == LUA_TTABLE && !is_opts(L, pos))))
        return lmg_checklike(L, pos, fn);
    if (!opts) return NULL;
    if (lua_getfield(L, opts, key) == LUA_TNIL && alias) {
        lua_pop(L, 1);
        lua_getfield(L, opts, alias);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    return lmg_checklike(L, lua_gettop(L), fn);
}

/* An axis (1-based, negative from the end; default -1) as 0-based.  A 0-d
 * tensor has one axis here. */
static int axis_arg(lua_State *L, int pos, const mg_tensor *x, const char *fn) {
    static const char *const keys[] = {"axis", "dim", NULL};
    int opts = find_opts(L, pos, fn, keys);
    lua_Integer a = -1;
    if (lua_type(L, pos) == LUA_TNUMBER) {
        if (!lua_isinteger(L, pos)) luaL_error(L, "%s: axis must be an integer", fn);
        a = lua_tointeger(L, pos);
    } else if (!lua_isnoneornil(L, pos) && !opts) {
        luaL_error(L, "%s: axis must be an integer, got %s", fn, luaL_typename(L, pos));
    } else if (opts) {
        double v = num_opt2(L, 0, opts, "axis", "dim", -1, fn);
        if (v != (double)(lua_Integer)v) luaL_error(L, "%s: axis must be an integer", fn);
        a = (lua_Integer)v;
    }
    return lmg_axis(L, a, x->ndim ? x->ndim : 1, fn);
}

/* ---- activations ------------------------------------------------------------------ */
/* Activations take numbers and an option table, never a string (gelu aside). */
static int act_opts(lua_State *L, const char *fn, const char *const *keys) {
    for (int i = 2; i <= lua_gettop(L); i++)
        if (lua_type(L, i) == LUA_TSTRING)
            luaL_error(L, "%s: argument #%d must be a number or an option table, got string \"%s\"",
                       fn, i, lua_tostring(L, i));
    return find_opts(L, 2, fn, keys);
}

static int unary(lua_State *L, mg_tensor *(*op)(mg_tensor *), const char *fn) {
    lmg_push(L, op(lmg_checklike(L, 1, fn)), fn);
    return 1;
}
static int l_relu(lua_State *L) { return unary(L, mg_relu, "relu"); }
static int l_selu(lua_State *L) { return unary(L, mg_selu, "selu"); }
static int l_sigmoid(lua_State *L) { return unary(L, mg_sigmoid, "sigmoid"); }
static int l_tanh(lua_State *L) { return unary(L, mg_tanh, "tanh"); }
static int l_soft_sign(lua_State *L) { return unary(L, mg_soft_sign, "soft_sign"); }

static int l_leaky_relu(lua_State *L) {
    static const char *const keys[] = {"slope", "negative_slope", NULL};
    mg_tensor *x = lmg_checklike(L, 1, "leaky_relu");
    int opts = act_opts(L, "leaky_relu", keys);
    double slope = num_opt2(L, 2, opts, "slope", "negative_slope", 0.01, "leaky_relu");
    lmg_push(L, mg_leaky_relu(x, slope), "leaky_relu");
    return 1;
}

static int l_elu(lua_State *L) {
    static const char *const keys[] = {"alpha", NULL};
    mg_tensor *x = lmg_checklike(L, 1, "elu");
    int opts = act_opts(L, "elu", keys);
    lmg_push(L, mg_elu(x, num_arg(L, 2, opts, "alpha", 1, "elu")), "elu");
    return 1;
}

/* gelu(x), gelu(x, "tanh"), gelu(x, {approximate = "tanh" | "none"}). */
static int l_gelu(lua_State *L) {
    static const char *const keys[] = {"approximate", NULL};
    mg_tensor *x = lmg_checklike(L, 1, "gelu");
    int opts = find_opts(L, 2, "gelu", keys);
    const char *a = "none";
    if (lua_type(L, 2) == LUA_TSTRING) a = lua_tostring(L, 2);
    else if (opts && lua_getfield(L, opts, "approximate") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "gelu: option 'approximate' must be \"none\" or \"tanh\", got %s",
                              luaL_typename(L, -1));
        a = lua_tostring(L, -1);
    } else if (!lua_isnoneornil(L, 2) && !opts) {
        return luaL_error(L,
                          "gelu: argument #2 must be \"none\", \"tanh\" or an option table, got %s",
                          luaL_typename(L, 2));
    }
    bool t = strcmp(a, "tanh") == 0;
    if (!t && strcmp(a, "none") != 0)
        return luaL_error(L, "gelu: approximate must be \"none\" or \"tanh\", got \"%s\"", a);
    lmg_push(L, mg_gelu(x, t), "gelu");
    return 1;
}

/* hard_tanh(x), hard_tanh(x, lo, hi), hard_tanh(x, {min_val = lo, max_val = hi})
 * (MyGrad's lower_bound / upper_bound too). */
static int l_hard_tanh(lua_State *L) {
    static const char *const keys[] = {"min_val", "max_val", "lower_bound", "upper_bound", NULL};
    mg_tensor *x = lmg_checklike(L, 1, "hard_tanh");
    int opts = act_opts(L, "hard_tanh", keys);
    double lo = num_opt2(L, 2, opts, "min_val", "lower_bound", -1, "hard_tanh");
    double hi = num_opt2(L, 3, opts, "max_val", "upper_bound", 1, "hard_tanh");
    lmg_push(L, mg_hard_tanh(x, lo, hi), "hard_tanh");
    return 1;
}

static int l_softplus(lua_State *L) {
    static const char *const keys[] = {"beta", "threshold", NULL};
    mg_tensor *x = lmg_checklike(L, 1, "softplus");
    int opts = act_opts(L, "softplus", keys);
    double beta = num_arg(L, 2, opts, "beta", 1, "softplus");
    double thr = num_arg(L, 3, opts, "threshold", 20, "softplus");
    lmg_push(L, mg_softplus(x, beta, thr), "softplus");
    return 1;
}

static int along_axis(lua_State *L, mg_tensor *(*op)(mg_tensor *, int), const char *fn) {
    mg_tensor *x = lmg_checklike(L, 1, fn);
    lmg_push(L, op(x, axis_arg(L, 2, x, fn)), fn);
    return 1;
}
static int l_softmax(lua_State *L) { return along_axis(L, mg_softmax, "softmax"); }
static int l_logsoftmax(lua_State *L) { return along_axis(L, mg_logsoftmax, "logsoftmax"); }
static int l_glu(lua_State *L) {
    mg_tensor *x = lmg_checklike(L, 1, "glu");
    if (x->ndim == 0)
        return luaL_error(L, "glu: needs a tensor with at least one axis, got a 0-d tensor");
    return along_axis(L, mg_glu, "glu");
}

/* ---- element-wise losses ---------------------------------------------------------- */
static const char *const red_keys[] = {"reduction", NULL};

static int pair_loss(lua_State *L, mg_tensor *(*op)(mg_tensor *, mg_tensor *, mg_reduction),
                     const char *fn) {
    mg_tensor *p = lmg_checklike(L, 1, fn), *t = lmg_checklike(L, 2, fn);
    int opts = find_opts(L, 3, fn, red_keys);
    lmg_push(L, op(p, t, reduction_arg(L, 3, opts, fn)), fn);
    return 1;
}
static int l_mse(lua_State *L) { return pair_loss(L, mg_mse_loss, "mse"); }
static int l_l1(lua_State *L) { return pair_loss(L, mg_l1_loss, "l1"); }
static int l_bce(lua_State *L) {
    return pair_loss(L, mg_binary_crossentropy, "binary_crossentropy");
}

static int l_huber(lua_State *L) {
    static const char *const keys[] = {"delta", "reduction", NULL};
    mg_tensor *p = lmg_checklike(L, 1, "huber"), *t = lmg_checklike(L, 2, "huber");
    int opts = find_opts(L, 3, "huber", keys);
    double delta = num_arg(L, 3, opts, "delta", 1, "huber");
    lmg_push(L, mg_huber_loss(p, t, delta, reduction_arg(L, 3, opts, "huber")), "huber");
    return 1;
}

static int l_bce_logits(lua_State *L) {
    static const char *const fn = "binary_crossentropy_with_logits";
    static const char *const keys[] = {"pos_weight", "reduction", NULL};
    mg_tensor *x = lmg_checklike(L, 1, fn), *t = lmg_checklike(L, 2, fn);
    int opts = find_opts(L, 3, fn, keys);
    mg_reduction red = reduction_arg(L, 3, opts, fn);
    mg_tensor *pw = tensor_opt(L, 0, opts, "pos_weight", NULL, fn);
    lmg_push(L, mg_binary_crossentropy_with_logits(x, t, pw, red), fn);
    return 1;
}

static int l_focal(lua_State *L) {
    static const char *const keys[] = {"alpha", "gamma", "reduction", NULL};
    mg_tensor *p = lmg_checklike(L, 1, "focal_loss"), *t = lmg_checklike(L, 2, "focal_loss");
    int opts = find_opts(L, 3, "focal_loss", keys);
    double alpha = num_arg(L, 0, opts, "alpha", -1, "focal_loss");
    double gamma = num_arg(L, 0, opts, "gamma", 2, "focal_loss");
    if (opts && lua_getfield(L, opts, "alpha") != LUA_TNIL && !(alpha >= 0 && alpha <= 1))
        return luaL_error(L, "focal_loss: alpha must be in [0, 1], got %s", lua_tostring(L, -1));
    lmg_push(L, mg_focal_loss(p, t, alpha, gamma, reduction_arg(L, 3, opts, "focal_loss")),
             "focal_loss");
    return 1;
}

static int l_margin_ranking(lua_State *L) {
    static const char *const fn = "margin_ranking_loss";
    static const char *const keys[] = {"margin", "reduction", NULL};
    mg_tensor *a = lmg_checklike(L, 1, fn), *b = lmg_checklike(L, 2, fn),
              *y = lmg_checklike(L, 3, fn);
    int opts = find_opts(L, 4, fn, keys);
    double margin = num_arg(L, 4, opts, "margin", 0, fn);
    lmg_push(L, mg_margin_ranking_loss(a, b, y, margin, reduction_arg(L, 4, opts, fn)), fn);
    return 1;
}

/* ---- class-label losses ----------------------------------------------------------- */
/* (x, labels, [weights], [options or reduction]) */
static int l_softmax_crossentropy(lua_State *L) {
    static const char *const fn = "softmax_crossentropy";
    static const char *const keys[] = {"weights", "weight", "label_smoothing", "reduction", NULL};
    mg_tensor *x = lmg_checklike(L, 1, fn), *y = lmg_checklike(L, 2, fn);
    int opts = find_opts(L, 3, fn, keys);
    double eps = num_arg(L, 0, opts, "label_smoothing", 0, fn);
    mg_reduction red = reduction_arg(L, 3, opts, fn);
    mg_tensor *w = tensor_opt(L, 3, opts, "weights", "weight", fn);
    lmg_push(L, mg_softmax_crossentropy(x, y, w, eps, red, 1), fn);
    return 1;
}

static int l_nll(lua_State *L) {
    static const char *const fn = "negative_log_likelihood";
    static const char *const keys[] = {"weights", "weight", "reduction", NULL};
    mg_tensor *x = lmg_checklike(L, 1, fn), *y = lmg_checklike(L, 2, fn);
    int opts = find_opts(L, 3, fn, keys);
    mg_reduction red = reduction_arg(L, 3, opts, fn);
    mg_tensor *w = tensor_opt(L, 3, opts, "weights", "weight", fn);
    lmg_push(L, mg_negative_log_likelihood(x, y, w, red, 1), fn);
    return 1;
}

static int l_hinge(lua_State *L) {
    static const char *const fn = "multiclass_hinge";
    static const char *const keys[] = {"margin", "hinge", "reduction", NULL};
    mg_tensor *x = lmg_checklike(L, 1, fn), *y = lmg_checklike(L, 2, fn);
    int opts = find_opts(L, 3, fn, keys);
    double margin = num_opt2(L, 3, opts, "margin", "hinge", 1, fn);
    lmg_push(L, mg_multiclass_hinge(x, y, margin, reduction_arg(L, 3, opts, fn), 1), fn);
    return 1;
}

static int l_softmax_focal(lua_State *L) {
    static const char *const fn = "softmax_focal_loss";
    static const char *const keys[] = {"alpha", "gamma", "reduction", NULL};
    mg_tensor *x = lmg_checklike(L, 1, fn), *y = lmg_checklike(L, 2, fn);
    int opts = find_opts(L, 3, fn, keys);
    double alpha = num_arg(L, 0, opts, "alpha", 1, fn);
    double gamma = num_arg(L, 0, opts, "gamma", 2, fn);
    lmg_push(L, mg_softmax_focal_loss(x, y, alpha, gamma, reduction_arg(L, 3, opts, fn), 1), fn);
    return 1;
}

const luaL_Reg lmg_nnet_act_funcs[] = {
    {"relu", l_relu}, {"leaky_relu", l_leaky_relu}, {"elu", l_elu}, {"selu", l_selu},
    {"gelu", l_gelu}, {"sigmoid", l_sigmoid}, {"tanh", l_tanh}, {"hard_tanh", l_hard_tanh},
    {"soft_sign", l_soft_sign}, {"softplus", l_softplus}, {"softmax", l_softmax},
    {"logsoftmax", l_logsoftmax}, {"log_softmax", l_logsoftmax}, {"glu", l_glu},
    {"mse", l_mse}, {"l1", l_l1}, {"huber", l_huber}, {"binary_crossentropy", l_bce},
    {"binary_crossentropy_with_logits", l_bce_logits},
    {"softmax_crossentropy", l_softmax_crossentropy}, {"negative_log_likelihood", l_nll},
    {"multiclass_hinge", l_hinge}, {"margin_ranking_loss", l_margin_ranking},
    {"focal_loss", l_focal}, {"softmax_focal_loss", l_softmax_focal}, {NULL, NULL}};
