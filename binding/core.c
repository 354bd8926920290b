/* core.c — the Lua 5.4 module moongrad.core: the tensor userdata and its
 * metatable (__close, __index, __newindex, __len, __tostring; __gc only when
 * gc_alloc.c cannot release tensors as Lua frees them),
 * properties, argument checks shared by the other binding files, and
 * reporting C allocations to Lua's garbage collector. */
#include <stdlib.h>
#include <string.h>

#include "binding.h"

/* ---- errors, pushing, checking ---------------------------------------------- */
int lmg_error(lua_State *L, const char *fn) {
    const char *msg = mg_errmsg();
    size_t n = strlen(fn);
    /* The library's messages start with the op name; add fn when it differs. */
    if (strncmp(msg, fn, n) == 0 && msg[n] == ':') return luaL_error(L, "%s", msg);
    return luaL_error(L, "%s: %s", fn, msg);
}

/* Lua's collector does not see C memory, and a few small userdata can hold
 * gigabytes of it.  Two mechanisms keep a training loop's memory flat:
 * every 64 KiB the library allocates become a step of the collector, and
 * when the storage alive has doubled since the last full collection (and
 * grown by 64 MiB), a full collection runs, as Torch7 did. */
void lmg_gc_account(lua_State *L) {
    static LMG_HOT_TLS struct { size_t seen, threshold; } gc = {0, (size_t)64 << 20};
    lmg_unref_drain(L);
    size_t now = mg_bytes_allocated();
    size_t delta = now - gc.seen;
    if (delta < 64 * 1024) return; /* (live storage can only have grown by less) */
    gc.seen = now;
    lua_gc(L, LUA_GCSTEP, (int)(delta / 1024 > 1 << 20 ? 1 << 20 : delta / 1024));
    if (mg_bytes_live() > gc.threshold) {
        lua_gc(L, LUA_GCCOLLECT);
        size_t live = mg_bytes_live();
        gc.threshold = live + (live > ((size_t)64 << 20) ? live : ((size_t)64 << 20));
    }
}

/* The tensor metatable is also kept in the registry under this address, so
 * lmg_push finds it by a light-userdata key rather than by its name (a
 * string lookup).  Every C function of the module also has it as upvalue 1
 * (see add_all), so the checks below compare against that first. */
static const char tensor_mt_key = 0;

/* The collector is stepped before the new userdata exists: stepped right
 * after a finalizable userdata was made inside a metamethod (x * 2), Lua
 * 5.4's incremental collector was seen to finish no cycle at all, so a
 * training loop grew by every step's tensors until a full collection. */
void lmg_push(lua_State *L, mg_tensor *t, const char *fn) {
    if (!t) lmg_error(L, fn);
    lmg_gc_account(L);
    lmg_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    lmg_ud_set(u, t);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
    lua_setmetatable(L, -2);
}

/* luaL_testudata for tensors: the calling function's upvalue 1, then (for
 * a function without it) the registry. */
static lmg_ud *test_tensor(lua_State *L, int idx) {
    void *p = lua_touserdata(L, idx);
    if (!p || !lua_getmetatable(L, idx)) return NULL;
    bool same = lua_rawequal(L, -1, lua_upvalueindex(1));
    if (!same) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return same ? p : NULL;
}

bool lmg_is(lua_State *L, int idx) { return test_tensor(L, idx) != NULL; }

mg_tensor *lmg_check(lua_State *L, int idx, const char *fn) {
    lmg_ud *u = test_tensor(L, idx);
    if (!u) {
        const char *got = luaL_typename(L, idx);
        return (luaL_error(L, "%s: argument #%d must be a tensor, got %s", fn, idx, got), NULL);
    }
    if (!u->t) return (luaL_error(L, "%s: tensor used after it was closed", fn), NULL);
    return u->t;
}

mg_tensor *lmg_checklike(lua_State *L, int idx, const char *fn) {
    lmg_ud *u = test_tensor(L, idx);
    if (u && u->t) return u->t;
    if (u) return lmg_check(L, idx, fn); /* raises "used after it was closed" */
    int t = lua_type(L, idx);
    if (t != LUA_TNUMBER && t != LUA_TBOOLEAN && t != LUA_TTABLE)
        return (luaL_error(L, "%s: argument #%d must be a tensor, number or table, got %s", fn,
                           idx, luaL_typename(L, idx)), NULL);
    idx = lua_absindex(L, idx);
    mg_tensor *v = lmg_from_value(L, idx, -1, fn);
    lmg_push(L, v, fn);
    lua_replace(L, idx);
    return v;
}

mg_tensor *lmg_scalar_for(lua_State *L, int idx, const mg_tensor *other) {
    if (lua_isinteger(L, idx) && !mg_dtype_is_float(other->dtype)) {
        int64_t s = 0;
        return mg_full_int(0, &s, lua_tointeger(L, idx), MG_INT64);
    }
    mg_dtype dt = mg_dtype_is_float(other->dtype) ? other->dtype : mg_default_float();
    return mg_scalar(lua_tonumber(L, idx), dt);
}

/* ---- small argument readers ------------------------------------------------- */
int lmg_axis(lua_State *L, lua_Integer axis, int ndim, const char *fn) {
    if (axis >= 1 && axis <= ndim) return (int)axis - 1;
    if (axis <= -1 && axis >= -ndim) return ndim + (int)axis;
    return luaL_error(L, "%s: axis %I is out of range for a tensor with %d axes (axes are "
                         "1-based; -1 is the last)", fn, axis, ndim);
}

uint32_t lmg_axes_arg(lua_State *L, int idx, int ndim, const char *fn) {
    if (lua_isnoneornil(L, idx)) return MG_ALLAXES;
    if (lua_isinteger(L, idx)) return 1u << lmg_axis(L, lua_tointeger(L, idx), ndim, fn);
    if (!lua_istable(L, idx))
        return (uint32_t)luaL_error(L, "%s: axis must be an integer or a table of integers, got %s",
                                    fn, luaL_typename(L, idx));
    uint32_t axes = 0;
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, idx, i);
        if (!lua_isinteger(L, -1)) luaL_error(L, "%s: axis entries must be integers", fn);
        int a = lmg_axis(L, lua_tointeger(L, -1), ndim, fn);
        if (axes & (1u << a)) luaL_error(L, "%s: axis %d repeated", fn, a + 1);
        axes |= 1u << a;
        lua_pop(L, 1);
    }
    return axes;
}

int lmg_shape_args(lua_State *L, int idx, int *ndim, int64_t *shape, const char *fn) {
    int n = 0;
    if (lua_istable(L, idx) && !lmg_is(L, idx)) {
        lua_Integer len = luaL_len(L, idx);
        if (len > MG_MAXDIM) luaL_error(L, "%s: a tensor has at most %d axes", fn, MG_MAXDIM);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_geti(L, idx, i);
            if (!lua_isinteger(L, -1))
                luaL_error(L, "%s: shape entries must be integers, entry %d is %s", fn, (int)i,
                           luaL_typename(L, -1));
            shape[n++] = lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        idx++;
    } else {
        while (lua_type(L, idx) == LUA_TNUMBER) {
            if (!lua_isinteger(L, idx))
                luaL_error(L, "%s: shape entries must be integers, got %s", fn, lua_tostring(L, idx));
            if (n == MG_MAXDIM) luaL_error(L, "%s: a tensor has at most %d axes", fn, MG_MAXDIM);
            shape[n++] = lua_tointeger(L, idx++);
        }
    }
    for (int i = 0; i < n; i++)
        if (shape[i] < 0) luaL_error(L, "%s: shape entries must be >= 0, got %I", fn, (lua_Integer)shape[i]);
    *ndim = n;
    return idx;
}

bool lmg_opt_bool(lua_State *L, int opts, const char *key, bool dflt) {
    if (!lua_istable(L, opts) || lmg_is(L, opts)) return dflt;
    lua_getfield(L, opts, key);
    bool v = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

mg_dtype lmg_dtype_arg(lua_State *L, int idx, const char *fn) {
    mg_dtype dt;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "%s: the dtype must be a string such as \"float64\", got %s", fn,
                   luaL_typename(L, idx));
    const char *name = lua_tostring(L, idx);
    if (mg_dtype_from_name(name, &dt)) lmg_error(L, fn);
    return dt;
}

int lmg_opt_dtype(lua_State *L, int opts, int idx_str, const char *fn) {
    if (idx_str && lua_type(L, idx_str) == LUA_TSTRING) return (int)lmg_dtype_arg(L, idx_str, fn);
    if (!lua_istable(L, opts) || lmg_is(L, opts)) return -1;
    lua_getfield(L, opts, "dtype");
    int dt = lua_isnil(L, -1) ? -1 : (int)lmg_dtype_arg(L, -1, fn);
    lua_pop(L, 1);
    return dt;
}

/* ---- metamethods --------------------------------------------------------- */
static int t_gc(lua_State *L) {
    lmg_ud *u = test_tensor(L, 1);
    if (!u) u = luaL_checkudata(L, 1, LMG_TENSOR); /* raises the error */
    mg_tensor *t = u->t;
    lmg_ud_set(u, NULL);
    mg_release(t);
    return 0;
}

static int t_tostring(lua_State *L) {
    mg_tensor *t = lmg_check(L, 1, "tostring");
    char *s = mg_format(t, 7);
    if (!s) return luaL_error(L, "tostring: out of memory");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "Tensor(");
    luaL_addstring(&b, s);
    free(s);
    if (t->dtype != mg_default_float() && !(t->dtype == MG_INT64 || t->dtype == MG_BOOL)) {
        luaL_addstring(&b, ", dtype=");
        luaL_addstring(&b, mg_dtype_name(t->dtype));
    } else if (t->dtype == MG_INT64 && mg_numel(t) == 0) {
        luaL_addstring(&b, ", dtype=int64");
    }
    if (!t->requires_grad && mg_dtype_is_float(t->dtype)) luaL_addstring(&b, ", constant=true");
    luaL_addstring(&b, ")");
    luaL_pushresult(&b);
    return 1;
}

static int t_len(lua_State *L) {
    mg_tensor *t = lmg_check(L, 1, "#");
    if (t->ndim == 0) return luaL_error(L, "#: a 0-d tensor has no length");
    lua_pushinteger(L, t->shape[0]);
    return 1;
}

/* ---- properties ----------------------------------------------------------- */
static void push_shape(lua_State *L, const mg_tensor *t) {
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, t->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

/* Pushes property `key` of t; returns 0 when there is no such property. */
static int push_property(lua_State *L, mg_tensor *t, const char *key) {
    if (!strcmp(key, "shape")) push_shape(L, t);
    else if (!strcmp(key, "ndim")) lua_pushinteger(L, t->ndim);
    else if (!strcmp(key, "size")) lua_pushinteger(L, mg_numel(t));
    else if (!strcmp(key, "dtype")) lua_pushstring(L, mg_dtype_name(t->dtype));
    else if (!strcmp(key, "grad")) {
        if (t->grad) {
            mg_tensor *g = mg_grad_of(t);
            if (!g) lmg_error(L, "grad");
            lmg_push(L, mg_retain(g), "grad");
        } else lua_pushnil(L);
    } else if (!strcmp(key, "constant")) lua_pushboolean(L, !t->requires_grad);
    else if (!strcmp(key, "requires_grad")) lua_pushboolean(L, t->requires_grad);
    else if (!strcmp(key, "grad_fn")) {
        const char *n = mg_grad_fn_name(t);
        if (n) lua_pushstring(L, n);
        else lua_pushnil(L);
    } else if (!strcmp(key, "data")) lmg_push(L, mg_detach(t), "data");
    else if (!strcmp(key, "T")) lmg_push(L, mg_transpose(t), "T");
    else if (!strcmp(key, "is_leaf")) lua_pushboolean(L, t->grad_fn == NULL);
    else return 0;
    return 1;
}

/* x[":"]: the key ":" is an index (the whole axis), not a name. */
static bool is_whole_axis(lua_State *L, int idx) { return strcmp(lua_tostring(L, idx), ":") == 0; }

/* __index: methods (upvalue 2), then properties, then indexing.  Methods
 * are found even on a closed tensor, so the method's own check names it. */
static int t_index(lua_State *L) {
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) return 1; /* a method */
        lua_pop(L, 1);
    }
    if (lua_type(L, 2) == LUA_TSTRING && !is_whole_axis(L, 2)) {
        const char *key = lua_tostring(L, 2);
        if (push_property(L, lmg_check(L, 1, key), key)) return 1;
        return luaL_error(L, "tensor has no property or method '%s'", key);
    }
    lmg_check(L, 1, "index");
    return lmg_index_get(L);
}

static int t_newindex(lua_State *L) {
    lmg_check(L, 1, "setitem");
    if (lua_type(L, 2) == LUA_TSTRING && !is_whole_axis(L, 2))
        return luaL_error(L, "cannot assign to tensor property '%s'", lua_tostring(L, 2));
    return lmg_index_set(L);
}

/* __close: frees the tensor now; later use raises an error. */
static const luaL_Reg meta[] = {
    {"__close", t_gc}, {"__tostring", t_tostring}, {"__len", t_len},
    {"__newindex", t_newindex}, {NULL, NULL}};

/* Registers l into the table on top, each function with upvalue 1 = the
 * tensor metatable (at index mt), which test_tensor compares against. */
static void add_all(lua_State *L, const luaL_Reg *l, int mt) {
    lua_pushvalue(L, mt);
    luaL_setfuncs(L, l, 1);
}

int luaopen_moongrad_core(lua_State *L) {
    luaL_newmetatable(L, LMG_TENSOR);
    int mt = lua_gettop(L);
    lua_pushvalue(L, mt);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);

    /* methods table (also exported, so init.lua can add Lua methods) */
    lua_newtable(L);
    add_all(L, lmg_create_methods, mt);
    add_all(L, lmg_ops_methods, mt);
    add_all(L, lmg_autograd_methods, mt);
    add_all(L, lmg_index_methods, mt);
    add_all(L, lmg_math_methods, mt);
    add_all(L, lmg_stats_methods, mt);
    add_all(L, lmg_shape_methods, mt);
    add_all(L, lmg_linalg_methods, mt);
    add_all(L, lmg_inplace_methods, mt);
    add_all(L, lmg_extend_methods, mt);
    int methods = lua_gettop(L);

    lua_pushvalue(L, mt);
    add_all(L, meta, mt);
    /* gc_alloc.c releases tensors when Lua frees them; else a finalizer
     * (MOONGRAD_GC_FINALIZERS=1 asks for the finalizer) */
    const char *release = "allocator";
    (void)lmg_pin_module();
    const char *env = getenv("MOONGRAD_GC_FINALIZERS");
    if ((env && *env && strcmp(env, "0") != 0) || !lmg_gc_hook_install(L, mt)) {
        release = "finalizer";
        lua_pushvalue(L, mt);
        lua_pushcclosure(L, t_gc, 1);
        lua_setfield(L, -2, "__gc");
    }
    add_all(L, lmg_ops_meta, mt);
    lua_pushvalue(L, mt);
    lua_pushvalue(L, methods);
    lua_pushcclosure(L, t_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    lua_newtable(L); /* the module */
    add_all(L, lmg_create_funcs, mt);
    add_all(L, lmg_ops_funcs, mt);
    add_all(L, lmg_autograd_funcs, mt);
    add_all(L, lmg_index_funcs, mt);
    add_all(L, lmg_math_funcs, mt);
    add_all(L, lmg_stats_funcs, mt);
    add_all(L, lmg_shape_funcs, mt);
    add_all(L, lmg_linalg_funcs, mt);
    add_all(L, lmg_inplace_funcs, mt);
    add_all(L, lmg_extend_funcs, mt);
    lua_pushvalue(L, methods);
    lua_setfield(L, -2, "methods");
    lua_pushstring(L, release);
    lua_setfield(L, -2, "release_mode");
    lua_newtable(L);
    add_all(L, lmg_nnet_funcs, mt);
    add_all(L, lmg_nnet_act_funcs, mt);
    add_all(L, lmg_nnet_layers_funcs, mt);
    lua_setfield(L, -2, "nnet");
    lua_newtable(L);
    add_all(L, lmg_io_funcs, mt);
    lua_setfield(L, -2, "io");
    lua_newtable(L);
    add_all(L, lmg_optim_funcs, mt);
    lua_setfield(L, -2, "optim");
    return 1;
}
