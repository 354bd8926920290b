/* b_create.c — creating tensors from Lua (mg.tensor from nested tables,
 * zeros/ones/full/empty and *_like, arange, linspace, logspace, eye,
 * mg.random.*), and converting them back (totable, item, astype, clone). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "binding.h"

/* ---- nested tables ------------------------------------------------------------- */
enum { K_NONE, K_BOOL, K_INT, K_FLOAT };

typedef struct {
    int ndim;
    int64_t shape[MG_MAXDIM];
    int kind;        /* what the leaves are */
    const char *fn;
} nest_info;

static void nest_shape(lua_State *L, int idx, nest_info *ni) {
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1) && !lmg_is(L, -1)) {
        if (ni->ndim == MG_MAXDIM) luaL_error(L, "%s: nesting deeper than %d levels", ni->fn, MG_MAXDIM);
        lua_Integer n = luaL_len(L, -1);
        ni->shape[ni->ndim++] = n;
        if (n == 0) break;
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    if (lmg_is(L, -1) && ni->ndim > 0) {   /* {t1, t2, ...}: the tensors' axes come last */
        const mg_tensor *t = lmg_check(L, -1, ni->fn);
        if (ni->ndim + t->ndim > MG_MAXDIM)
            luaL_error(L, "%s: nesting deeper than %d levels", ni->fn, MG_MAXDIM);
        for (int i = 0; i < t->ndim; i++) ni->shape[ni->ndim++] = t->shape[i];
    }
    lua_pop(L, 1);
}

static void path_str(char *buf, size_t n, const int64_t *path, int depth) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < depth && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "[%lld]", (long long)path[i] + 1);
}

/* Checks that the value at the top of the stack matches the shape at depth,
 * and records the leaf kinds. */
/* A tensor inside a nested table stands for its own nested values: its
 * shape must be the remaining axes; its dtype counts like its elements. */
static void nest_check_tensor(lua_State *L, nest_info *ni, int depth, int64_t *path) {
    char where[128];
    const mg_tensor *t = lmg_check(L, lua_gettop(L), ni->fn);
    bool ok = t->ndim == ni->ndim - depth;
    for (int i = 0; ok && i < t->ndim; i++) ok = t->shape[i] == ni->shape[depth + i];
    path_str(where, sizeof where, path, depth);
    if (!ok) {
        char want[160], got[160];
        luaL_error(L, "%s: ragged nested table: expected a tensor of shape %s at %s, got shape %s",
                   ni->fn, mg_shape_str(ni->ndim - depth, ni->shape + depth, want, sizeof want),
                   where[0] ? where : "the top", mg_shape_str(t->ndim, t->shape, got, sizeof got));
    }
    int k = t->dtype == MG_BOOL ? K_BOOL : t->dtype == MG_INT64 ? K_INT : K_FLOAT;
    if (ni->kind != K_NONE && (ni->kind == K_BOOL) != (k == K_BOOL))
        luaL_error(L, "%s: cannot mix booleans and numbers (at %s)", ni->fn, where);
    if (k > ni->kind) ni->kind = k;
}

static void nest_check(lua_State *L, nest_info *ni, int depth, int64_t *path) {
    char where[128];
    int top = lua_gettop(L);
    if (lmg_is(L, top)) {
        nest_check_tensor(L, ni, depth, path);
        return;
    }
    if (depth == ni->ndim) {
        int k = lua_type(L, top) == LUA_TBOOLEAN ? K_BOOL
              : lua_isinteger(L, top)            ? K_INT
              : lua_type(L, top) == LUA_TNUMBER  ? K_FLOAT : K_NONE;
        if (k == K_NONE) {
            path_str(where, sizeof where, path, depth);
            luaL_error(L, "%s: ragged or invalid nested table: expected a number at %s, got %s",
                       ni->fn, where[0] ? where : "the top", luaL_typename(L, top));
        }
        if (ni->kind != K_NONE && (ni->kind == K_BOOL) != (k == K_BOOL)) {
            path_str(where, sizeof where, path, depth);
            luaL_error(L, "%s: cannot mix booleans and numbers (at %s)", ni->fn, where);
        }
        if (k > ni->kind) ni->kind = k;
        return;
    }
    if (!lua_istable(L, top) || lmg_is(L, top) || luaL_len(L, top) != ni->shape[depth]) {
        path_str(where, sizeof where, path, depth);
        luaL_error(L, "%s: ragged nested table: expected a table of length %d at %s, got %s",
                   ni->fn, (int)ni->shape[depth], where[0] ? where : "the top",
                   lua_istable(L, top) ? "a table of another length" : luaL_typename(L, top));
    }
    for (int64_t i = 0; i < ni->shape[depth]; i++) {
        path[depth] = i;
        lua_geti(L, top, i + 1);
        nest_check(L, ni, depth + 1, path);
        lua_pop(L, 1);
    }
}

/* Copies the elements of the tensor at the top of the stack into t at *pos. */
static void nest_fill_tensor(lua_State *L, mg_tensor *t, int64_t *pos) {
    const mg_tensor *src = lmg_check(L, lua_gettop(L), "tensor");
    bool ints = t->dtype == MG_INT64 || t->dtype == MG_BOOL;
    bool src_ints = src->dtype == MG_INT64 || src->dtype == MG_BOOL;
    int64_t n = mg_numel(src);
    for (int64_t i = 0; i < n; i++) {
        if (ints && src_ints) mg_set_flat_int(t, (*pos)++, mg_get_flat_int(src, i));
        else mg_set_flat(t, (*pos)++, mg_get_flat(src, i));
    }
}

static void nest_fill(lua_State *L, mg_tensor *t, int depth, int64_t *pos) {
    int top = lua_gettop(L);
    if (lmg_is(L, top)) {
        nest_fill_tensor(L, t, pos);
        return;
    }
    if (depth == t->ndim) {
        if (lua_type(L, top) == LUA_TBOOLEAN) mg_set_flat_int(t, (*pos)++, lua_toboolean(L, top));
        else if (lua_isinteger(L, top) && t->dtype == MG_INT64) mg_set_flat_int(t, (*pos)++, lua_tointeger(L, top));
        else mg_set_flat(t, (*pos)++, lua_tonumber(L, top));
        return;
    }
    for (int64_t i = 0; i < t->shape[depth]; i++) {
        lua_geti(L, top, i + 1);
        nest_fill(L, t, depth + 1, pos);
        lua_pop(L, 1);
    }
}

mg_tensor *lmg_from_value(lua_State *L, int idx, int dt, const char *fn) {
    idx = lua_absindex(L, idx);
    if (lmg_is(L, idx)) {
        mg_tensor *src = lmg_check(L, idx, fn);
        mg_tensor *d = mg_detach(src);
        mg_tensor *c = d ? mg_astype(d, dt < 0 ? src->dtype : (mg_dtype)dt) : NULL;
        mg_tensor *r = c == d && c ? mg_clone(c) : mg_retain(c);
        mg_release(d);
        mg_release(c);
        return r;
    }
    nest_info ni = {0, {0}, K_NONE, fn};
    int64_t path[MG_MAXDIM];
    if (lua_type(L, idx) != LUA_TNUMBER && lua_type(L, idx) != LUA_TBOOLEAN && !lua_istable(L, idx))
        luaL_error(L, "%s: expected a number, boolean, nested table or tensor, got %s", fn,
                   luaL_typename(L, idx));
    nest_shape(L, idx, &ni);
    lua_pushvalue(L, idx);
    nest_check(L, &ni, 0, path);
    lua_pop(L, 1);
    if (dt < 0)
        dt = ni.kind == K_BOOL ? MG_BOOL : ni.kind == K_INT ? MG_INT64 : (int)mg_default_float();
    if (ni.kind == K_FLOAT && dt == MG_INT64) { /* check representability */
        mg_tensor *probe = mg_empty(ni.ndim, ni.shape, MG_FLOAT64);
        if (!probe) lmg_error(L, fn);
        int64_t pos = 0;
        lua_pushvalue(L, idx);
        nest_fill(L, probe, 0, &pos);
        lua_pop(L, 1);
        mg_tensor *r = mg_astype(probe, MG_INT64);
        mg_release(probe);
        return r;
    }
    mg_tensor *t = mg_empty(ni.ndim, ni.shape, (mg_dtype)dt);
    if (!t) return NULL;
    int64_t pos = 0;
    lua_pushvalue(L, idx);
    nest_fill(L, t, 0, &pos);
    lua_pop(L, 1);
    return t;
}

/* Makes a float tensor a variable unless opts say constant = true (or
 * requires_grad = false); integer and bool tensors stay constant. */
static void set_variable(lua_State *L, mg_tensor *t, int opts, const char *fn) {
    bool constant = lmg_opt_bool(L, opts, "constant", false);
    bool rg = lmg_opt_bool(L, opts, "requires_grad", !constant);
    if (!mg_dtype_is_float(t->dtype)) {
        if (lua_istable(L, opts) && !lmg_is(L, opts) && lmg_opt_bool(L, opts, "requires_grad", false))
            luaL_error(L, "%s: only float tensors can be variables, this one is %s", fn,
                       mg_dtype_name(t->dtype));
        return;
    }
    t->requires_grad = rg;
}

/* Pushes t (new) as a variable or constant per opts. */
static int push_new(lua_State *L, mg_tensor *t, int opts, const char *fn) {
    lmg_push(L, t, fn);
    set_variable(L, t, opts, fn);
    return 1;
}

static int f_tensor(lua_State *L) {
    luaL_checkany(L, 1);
    int dt = lmg_opt_dtype(L, 2, 2, "tensor");
    return push_new(L, lmg_from_value(L, 1, dt, "tensor"), 2, "tensor");
}

static mg_dtype dtype_or_default(lua_State *L, int opts, const char *fn, mg_dtype dflt) {
    int dt = lmg_opt_dtype(L, opts, opts, fn);
    return dt < 0 ? dflt : (mg_dtype)dt;
}

/* What may follow a shape: nothing, a dtype string or an option table
 * (so mg.zeros(x) or mg.zeros(2, true) is an error, not a 0-d tensor). */
static void check_after_shape(lua_State *L, int idx, const char *fn) {
    int t = lua_type(L, idx);
    if (t == LUA_TNONE || t == LUA_TNIL || t == LUA_TSTRING || (t == LUA_TTABLE && !lmg_is(L, idx)))
        return;
    luaL_error(L, "%s: expected a shape (integers or a table of them), then a dtype or an option "
                  "table; argument #%d is a %s", fn, idx, lmg_is(L, idx) ? "tensor (for the shape "
                  "of a tensor, use the *_like functions or x.shape)" : luaL_typename(L, idx));
}

/* mg.zeros(shape...) and friends: shape as a table or integers, then
 * optional dtype string or option table. */
static int filled(lua_State *L, const char *fn, double v, bool has_value) {
    int ndim;
    int64_t shape[MG_MAXDIM];
    int next = lmg_shape_args(L, 1, &ndim, shape, fn);
    if (has_value) {
        if (lua_type(L, next) != LUA_TNUMBER)
            return luaL_error(L, "%s: expected the fill value (a number) after the shape, got %s", fn,
                              luaL_typename(L, next));
        v = lua_tonumber(L, next++);
    }
    check_after_shape(L, next, fn);
    mg_dtype dflt = has_value && lua_isinteger(L, next - 1) ? MG_INT64 : mg_default_float();
    mg_dtype dt = dtype_or_default(L, next, fn, dflt);
    if (has_value && lua_isinteger(L, next - 1) && dt == MG_INT64)
        return push_new(L, mg_full_int(ndim, shape, lua_tointeger(L, next - 1), dt), next, fn);
    return push_new(L, mg_full(ndim, shape, v, dt), next, fn);
}
static int f_zeros(lua_State *L) { return filled(L, "zeros", 0, false); }
static int f_ones(lua_State *L) { return filled(L, "ones", 1, false); }
static int f_empty(lua_State *L) { return filled(L, "empty", 0, false); }
static int f_full(lua_State *L) { return filled(L, "full", 0, true); }

/* Number arguments, with messages that name the function and the argument
 * (luaL_check* cannot always tell the function's name). */
static lua_Integer int_arg(lua_State *L, int idx, const char *what, const char *fn) {
    if (!lua_isinteger(L, idx))
        luaL_error(L, "%s: %s must be an integer, got %s", fn, what,
                   lua_type(L, idx) == LUA_TNUMBER ? "a non-integer number" : luaL_typename(L, idx));
    return lua_tointeger(L, idx);
}

static double num_arg(lua_State *L, int idx, const char *what, const char *fn) {
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_error(L, "%s: %s must be a number, got %s", fn, what, luaL_typename(L, idx));
    return lua_tonumber(L, idx);
}

static int liked(lua_State *L, const char *fn, double v, bool has_value) {
    mg_tensor *t = lmg_checklike(L, 1, fn);
    int opts = has_value ? 3 : 2;
    if (has_value) v = num_arg(L, 2, "the fill value", fn);
    mg_dtype dt = dtype_or_default(L, opts, fn, t->dtype);
    if (has_value && lua_isinteger(L, 2) && dt == MG_INT64)
        return push_new(L, mg_full_int(t->ndim, t->shape, lua_tointeger(L, 2), dt), opts, fn);
    return push_new(L, mg_full(t->ndim, t->shape, v, dt), opts, fn);
}
static int f_zeros_like(lua_State *L) { return liked(L, "zeros_like", 0, false); }
static int f_ones_like(lua_State *L) { return liked(L, "ones_like", 1, false); }
static int f_empty_like(lua_State *L) { return liked(L, "empty_like", 0, false); }
static int f_full_like(lua_State *L) { return liked(L, "full_like", 0, true); }

/* arange of Lua integers into int64, exactly (doubles lose the low bits of
 * integers past 2^53): the count and the values in unsigned arithmetic. */
static mg_tensor *arange_int(lua_Integer start, lua_Integer stop, lua_Integer step) {
    uint64_t count = 0;
    if (step > 0 && stop > start)
        count = ((uint64_t)stop - (uint64_t)start - 1) / (uint64_t)step + 1;
    else if (step < 0 && stop < start)
        count = ((uint64_t)start - (uint64_t)stop - 1) / (0 - (uint64_t)step) + 1;
    if (count > (uint64_t)INT64_MAX) {
        mg_seterr(MG_ENOMEM, "arange: %llu elements is too many", (unsigned long long)count);
        return NULL;
    }
    int64_t n = (int64_t)count;
    mg_tensor *t = mg_empty(1, &n, MG_INT64);
    if (!t) return NULL;
    int64_t *v = mg_data_ptr(t);
    for (int64_t i = 0; i < n; i++) v[i] = (int64_t)((uint64_t)start + (uint64_t)i * (uint64_t)step);
    return t;
}

static int f_arange(lua_State *L) {
    int n = 0;
    while (n < 3 && lua_type(L, n + 1) == LUA_TNUMBER) n++;
    if (n == 0) return luaL_error(L, "arange: expected (stop), (start, stop) or (start, stop, step)");
    bool ints = true;
    for (int i = 1; i <= n; i++) ints = ints && lua_isinteger(L, i);
    double start = n >= 2 ? lua_tonumber(L, 1) : 0, stop = n >= 2 ? lua_tonumber(L, 2) : lua_tonumber(L, 1);
    double step = n == 3 ? lua_tonumber(L, 3) : 1;
    mg_dtype dt = dtype_or_default(L, n + 1, "arange", ints ? MG_INT64 : mg_default_float());
    if (ints && dt == MG_INT64) {
        lua_Integer istep = n == 3 ? lua_tointeger(L, 3) : 1;
        if (istep == 0) return luaL_error(L, "arange: step must be non-zero");
        return push_new(L, arange_int(n >= 2 ? lua_tointeger(L, 1) : 0,
                                      lua_tointeger(L, n >= 2 ? 2 : 1), istep), n + 1, "arange");
    }
    return push_new(L, mg_arange(start, stop, step, dt), n + 1, "arange");
}

/* (start, stop, count = 50) of linspace and logspace */
static lua_Integer space_args(lua_State *L, double *a, double *b, const char *fn) {
    *a = num_arg(L, 1, "start", fn);
    *b = num_arg(L, 2, "stop", fn);
    return lua_isnoneornil(L, 3) ? 50 : int_arg(L, 3, "the number of points", fn);
}

static int f_linspace(lua_State *L) {
    double a, b;
    lua_Integer n = space_args(L, &a, &b, "linspace");
    mg_dtype dt = dtype_or_default(L, 4, "linspace", mg_default_float());
    return push_new(L, mg_linspace(a, b, n, dt), 4, "linspace");
}

static int f_logspace(lua_State *L) {
    double a, b;
    lua_Integer n = space_args(L, &a, &b, "logspace");
    double base = 10;
    if (lua_istable(L, 4)) {
        if (lua_getfield(L, 4, "base") != LUA_TNIL) base = num_arg(L, -1, "base", "logspace");
        lua_pop(L, 1);
    }
    if (!(base > 0 && isfinite(base)))
        return luaL_error(L, "logspace: base must be a finite number > 0, got %f", base);
    mg_dtype dt = dtype_or_default(L, 4, "logspace", mg_default_float());
    mg_tensor *t = mg_linspace(a, b, n, dt);
    if (!t) lmg_error(L, "logspace");
    for (int64_t i = 0; i < n; i++) mg_set_flat(t, i, pow(base, mg_get_flat(t, i)));
    return push_new(L, t, 4, "logspace");
}

static int f_eye(lua_State *L) {
    lua_Integer n = int_arg(L, 1, "the number of rows", "eye");
    int opts = 2;
    lua_Integer m = n;
    if (lua_isinteger(L, 2)) {
        m = lua_tointeger(L, 2);
        opts = 3;
    }
    if (n < 0 || m < 0) return luaL_error(L, "eye: sizes must be >= 0");
    mg_dtype dt = dtype_or_default(L, opts, "eye", mg_default_float());
    return push_new(L, mg_eye(n, m, dt), opts, "eye");
}

/* ---- random --------------------------------------------------------------- */
static int random_fill(lua_State *L, const char *fn,
                       mg_tensor *(*make)(int, const int64_t *, mg_dtype)) {
    int ndim;
    int64_t shape[MG_MAXDIM];
    int next = lmg_shape_args(L, 1, &ndim, shape, fn);
    check_after_shape(L, next, fn);
    mg_dtype dt = dtype_or_default(L, next, fn, mg_default_float());
    return push_new(L, make(ndim, shape, dt), next, fn);
}
static int f_rand(lua_State *L) { return random_fill(L, "rand", mg_rand); }
static int f_randn(lua_State *L) { return random_fill(L, "randn", mg_randn); }

static int f_randint(lua_State *L) {
    lua_Integer lo = int_arg(L, 1, "low", "randint"), hi = int_arg(L, 2, "high", "randint");
    int ndim;
    int64_t shape[MG_MAXDIM];
    lmg_shape_args(L, 3, &ndim, shape, "randint");
    lmg_push(L, mg_randint(lo, hi, ndim, shape), "randint");
    return 1;
}

static int f_seed(lua_State *L) {
    mg_seed((uint64_t)int_arg(L, 1, "the seed", "seed"));
    return 0;
}

static int f_set_default_dtype(lua_State *L) {
    mg_dtype dt = lmg_dtype_arg(L, 1, "set_default_dtype");
    if (!mg_dtype_is_float(dt))
        return luaL_error(L, "set_default_dtype: expected float32 or float64, got %s", mg_dtype_name(dt));
    mg_set_default_float(dt);
    return 0;
}
static int f_get_default_dtype(lua_State *L) {
    lua_pushstring(L, mg_dtype_name(mg_default_float()));
    return 1;
}
/* mg.set_cache_limit(bytes): the most bytes of released buffers kept for reuse. */
static int f_set_cache_limit(lua_State *L) {
    if (!lua_isinteger(L, 1))
        return luaL_error(L, "set_cache_limit: expected an integer number of bytes, got %s",
                          luaL_typename(L, 1));
    lua_Integer n = lua_tointeger(L, 1);
    if (n < 0) return luaL_error(L, "set_cache_limit: expected bytes >= 0, got %d", (int)n);
    mg_set_cache_limit((size_t)n);
    if (n == 0) mg_cache_clear();
    return 0;
}

/* mg.set_num_threads(n) / mg.get_num_threads(): threads for matmul and
 * convolution (OpenBLAS) and for exp, log, tanh, ... on long arrays. */
static int f_set_num_threads(lua_State *L) {
    if (!lua_isinteger(L, 1))
        return luaL_error(L, "set_num_threads: expected an integer, got %s", luaL_typename(L, 1));
    lua_Integer n = lua_tointeger(L, 1);
    if (mg_set_num_threads(n < 1 || n > 64 ? 0 : (int)n))
        return luaL_error(L, "set_num_threads: expected 1 to 64 threads, got %I", n);
    return 0;
}

static int f_get_num_threads(lua_State *L) {
    lua_pushinteger(L, mg_num_threads());
    return 1;
}

static int f_is_tensor(lua_State *L) {
    lua_pushboolean(L, lmg_is(L, 1));
    return 1;
}

/* ---- back to Lua ----------------------------------------------------------------- */
static void push_elem(lua_State *L, const mg_tensor *t, int64_t i) {
    if (t->dtype == MG_INT64) lua_pushinteger(L, mg_get_flat_int(t, i));
    else if (t->dtype == MG_BOOL) lua_pushboolean(L, mg_get_flat_int(t, i) != 0);
    else lua_pushnumber(L, mg_get_flat(t, i));
}

static void push_nested(lua_State *L, const mg_tensor *t, int depth, int64_t *pos) {
    if (depth == t->ndim) {
        push_elem(L, t, (*pos)++);
        return;
    }
    lua_createtable(L, t->shape[depth] < INT_MAX ? (int)t->shape[depth] : 0, 0);
    for (int64_t i = 0; i < t->shape[depth]; i++) {
        push_nested(L, t, depth + 1, pos);
        lua_rawseti(L, -2, i + 1);
    }
}

/* How many Lua tables totable makes: one per index of every axis but the
 * last (a zero-size {2^40, 0} still needs 2^40 empty tables). */
static double tables_needed(const mg_tensor *t) {
    double total = 1, level = 1;
    for (int i = 0; i + 1 < t->ndim; i++) {
        level *= (double)t->shape[i];
        total += level;
    }
    return total;
}

static int m_totable(lua_State *L) {
    mg_tensor *t = lmg_check(L, 1, "totable");
    if (tables_needed(t) > INT_MAX) {
        char s[256], n[64];
        snprintf(n, sizeof n, "%.0f", tables_needed(t));
        return luaL_error(L, "totable: a tensor of shape %s would need %s nested Lua tables",
                          mg_shape_str(t->ndim, t->shape, s, sizeof s), n);
    }
    int64_t pos = 0;
    luaL_checkstack(L, MG_MAXDIM + 4, "totable");
    push_nested(L, t, 0, &pos);
    return 1;
}

static int m_item(lua_State *L) {
    mg_tensor *t = lmg_check(L, 1, "item");
    if (mg_numel(t) != 1)
        return luaL_error(L, "item: the tensor has %I elements, expected exactly 1",
                          (lua_Integer)mg_numel(t));
    push_elem(L, t, 0);
    return 1;
}

static int convert(lua_State *L, mg_dtype dt, const char *fn) {
    lmg_push(L, mg_astype(lmg_check(L, 1, fn), dt), fn);
    return 1;
}
static int m_float(lua_State *L) { return convert(L, MG_FLOAT32, "float"); }
static int m_double(lua_State *L) { return convert(L, MG_FLOAT64, "double"); }
static int m_long(lua_State *L) { return convert(L, MG_INT64, "long"); }
static int m_astype(lua_State *L) {
    lmg_check(L, 1, "astype");
    return convert(L, lmg_dtype_arg(L, 2, "astype"), "astype");
}
static int m_clone(lua_State *L) {
    lmg_push(L, mg_clone(lmg_check(L, 1, "clone")), "clone");
    return 1;
}
static int m_contiguous(lua_State *L) {
    lmg_push(L, mg_contiguous(lmg_check(L, 1, "contiguous")), "contiguous");
    return 1;
}
/* mg.asarray(x): x itself when it is a tensor, else a new tensor. */
static int f_asarray(lua_State *L) {
    if (lmg_is(L, 1)) {
        lmg_check(L, 1, "asarray");
        lua_settop(L, 1);
        return 1;
    }
    int dt = lmg_opt_dtype(L, 2, 2, "asarray");
    return push_new(L, lmg_from_value(L, 1, dt, "asarray"), 2, "asarray");
}

const luaL_Reg lmg_create_funcs[] = {
    {"tensor", f_tensor}, {"asarray", f_asarray}, {"zeros", f_zeros}, {"ones", f_ones},
    {"empty", f_empty}, {"full", f_full}, {"zeros_like", f_zeros_like},
    {"ones_like", f_ones_like}, {"empty_like", f_empty_like}, {"full_like", f_full_like},
    {"arange", f_arange}, {"linspace", f_linspace}, {"logspace", f_logspace}, {"eye", f_eye},
    {"identity", f_eye}, {"rand", f_rand}, {"randn", f_randn}, {"randint", f_randint},
    {"seed", f_seed}, {"set_default_dtype", f_set_default_dtype},
    {"get_default_dtype", f_get_default_dtype}, {"is_tensor", f_is_tensor},
    {"set_cache_limit", f_set_cache_limit}, {"set_num_threads", f_set_num_threads},
    {"get_num_threads", f_get_num_threads},
    {"totable", m_totable}, {"item", m_item}, {"astype", m_astype}, {"clone", m_clone},
    {"contiguous", m_contiguous}, {NULL, NULL}};

const luaL_Reg lmg_create_methods[] = {
    {"totable", m_totable}, {"item", m_item}, {"float", m_float}, {"double", m_double},
    {"long", m_long}, {"astype", m_astype}, {"clone", m_clone}, {"contiguous", m_contiguous},
    {NULL, NULL}};
