/* b_extend.c — the C side of mg.autograd.Function (ops whose forward and
 * backward are Lua functions; the Lua side is lua/moongrad/graph.lua) and of
 * mg.autograd.graph (the DOT text).  Both are registered as private entries
 * (_custom_function, _graph_dot) that graph.lua takes out of mg.
 *
 * A custom node keeps a registry reference to a table {backward, ctx, name,
 * saved, versions}; the node's ctx_free drops it.  The engine calls the Lua
 * backward through lua_pcall, so a Lua error never unwinds through the C
 * engine: it becomes the engine's error message and code, and the Lua entry
 * point that started backward raises it after the engine has cleaned up. */
#include <stdlib.h>

#include "binding.h"

typedef struct {
    lua_State *L; /* the main thread: it outlives every coroutine */
    int ref;      /* registry reference to the record table */
} lua_op;

static void lua_op_free(void *p) {
    lua_op *op = p;
    if (!op) return;
    lmg_unref_later(op->L, op->ref);
    free(op);
}

/* What the protected call below needs. */
typedef struct {
    lua_op *op;
    mg_tensor *g, *out;
    int n;
    mg_tensor **gin;
} bw_call;

/* In-place edits of tensors given to ctx:save_for_backward are errors. */
static void check_saved(lua_State *L, int rec, const char *name) {
    lua_getfield(L, rec, "saved");
    lua_getfield(L, rec, "versions");
    lua_Integer n = luaL_len(L, -2);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, -2, i);
        lmg_ud *u = luaL_testudata(L, -1, LMG_TENSOR);
        lua_geti(L, -2, i);
        if (u && u->t && (lua_Integer)u->t->storage->version != lua_tointeger(L, -1))
            luaL_error(L, "%s.backward: saved tensor %d was modified in place after "
                          "save_for_backward; its gradient would be wrong (clone it before "
                          "editing)", name, (int)i);
        lua_pop(L, 2);
    }
    lua_pop(L, 2);
}

/* Stack slots of protected_backward. */
enum { ARG = 1, REC, NAME, CTX, SAVED, SAVED_TENSORS };

/* Under create_graph: ctx.saved (and ctx.saved_tensors) become a copy in
 * which the entries that were forward's output are the output as a variable
 * (see mg_custom_backward), so backward differentiates through them.
 * Returns whether it swapped; the originals stay in SAVED, SAVED_TENSORS. */
static bool swap_in_output(lua_State *L, mg_tensor *out, const char *name) {
    lua_getfield(L, REC, "outslots");
    int slots = lua_gettop(L);
    if (lua_type(L, SAVED) != LUA_TTABLE || luaL_len(L, slots) == 0) {
        lua_pop(L, 1);
        return false;
    }
    lua_Integer n = luaL_len(L, SAVED), ns = luaL_len(L, slots);
    lua_createtable(L, n > 0 && n < 256 ? (int)n : 0, 0);
    int copy = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, SAVED, i);
        lua_seti(L, copy, i);
    }
    lmg_push(L, mg_retain(out), name);
    for (lua_Integer k = 1; k <= ns; k++) {
        lua_geti(L, slots, k);
        lua_Integer slot = lua_tointeger(L, -1);
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_seti(L, copy, slot);
    }
    lua_pop(L, 1);
    if (lua_rawequal(L, SAVED, SAVED_TENSORS)) {
        lua_pushvalue(L, copy);
        lua_setfield(L, CTX, "saved_tensors");
    }
    lua_setfield(L, CTX, "saved"); /* pops copy */
    lua_pop(L, 1);                 /* slots */
    return true;
}

static void swap_back(lua_State *L) {
    lua_pushvalue(L, SAVED);
    lua_setfield(L, CTX, "saved");
    lua_pushvalue(L, SAVED_TENSORS);
    lua_setfield(L, CTX, "saved_tensors");
}

/* Runs the Lua backward(ctx, g) and takes its results as gin[]. */
static int protected_backward(lua_State *L) {
    bw_call *a = lua_touserdata(L, ARG);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->op->ref); /* REC */
    lua_getfield(L, REC, "name");                   /* NAME */
    const char *name = lua_tostring(L, NAME);
    lua_getfield(L, REC, "ctx");                    /* CTX */
    lua_getfield(L, CTX, "saved");                  /* SAVED */
    lua_getfield(L, CTX, "saved_tensors");          /* SAVED_TENSORS */
    check_saved(L, REC, name);
    bool swapped = a->out->requires_grad && swap_in_output(L, a->out, name);
    lua_getfield(L, REC, "backward");
    lua_pushvalue(L, CTX);
    lmg_push(L, mg_retain(a->g), name);
    int base = lua_gettop(L) - 3;
    int status = lua_pcall(L, 2, LUA_MULTRET, 0);
    if (swapped) swap_back(L);
    if (status != LUA_OK)
        luaL_error(L, "%s.backward: %s", name, luaL_tolstring(L, -1, NULL));
    int nres = lua_gettop(L) - base;
    for (int k = 1; k <= nres; k++) {
        int idx = base + k;
        if (lua_isnil(L, idx)) continue;
        if (k > a->n)
            luaL_error(L, "%s.backward returned %d values, but the Function has %d tensor "
                          "input%s (one gradient or nil each)", name, nres, a->n,
                       a->n == 1 ? "" : "s");
        lmg_ud *u = luaL_testudata(L, idx, LMG_TENSOR);
        if (!u || !u->t)
            luaL_error(L, "%s.backward: gradient %d must be a tensor or nil, got %s", name, k,
                       u ? "a closed tensor" : luaL_typename(L, idx));
        a->gin[k - 1] = mg_retain(u->t);
    }
    return 0;
}

/* The mg_custom_backward callback: the engine sees an error code, never a longjmp. */
static int lua_backward(void *ctx, mg_tensor *g, mg_tensor *out, int n,
                        mg_tensor *const *inputs, mg_tensor **gin) {
    (void)inputs;
    lua_op *op = ctx;
    lua_State *L = op->L;
    if (!lua_checkstack(L, 4)) return mg_seterr(MG_ENOMEM, "backward: out of Lua stack space");
    int top = lua_gettop(L);
    bw_call a = {op, g, out, n, gin};
    lua_pushcfunction(L, protected_backward);
    lua_pushlightuserdata(L, &a);
    int rc = MG_OK;
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        if (lua_type(L, -1) == LUA_TSTRING)
            rc = mg_seterr(MG_EVALUE, "%s", lua_tostring(L, -1));
        else
            rc = mg_seterr(MG_EVALUE, "custom backward failed (error object is a %s value)",
                           luaL_typename(L, -1));
        for (int i = 0; i < n; i++) {
            mg_release(gin[i]);
            gin[i] = NULL;
        }
    }
    lua_settop(L, top);
    return rc;
}

/* Into rec: the tensors in ctx.saved at the end of forward with their
 * storage versions (saved, versions), and the positions in ctx.saved of
 * forward's output `out` (outslots). */
static void record_saved(lua_State *L, int rec, int ctx, int out) {
    lua_newtable(L); /* saved */
    lua_newtable(L); /* versions */
    lua_newtable(L); /* outslots */
    if (lua_getfield(L, ctx, "saved") == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, -1), k = 0, nout = 0;
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            lmg_ud *u = luaL_testudata(L, -1, LMG_TENSOR);
            if (lua_rawequal(L, -1, out)) {
                lua_pushinteger(L, i);
                lua_seti(L, -4, ++nout);
            }
            if (u && u->t) {
                lua_pushinteger(L, (lua_Integer)u->t->storage->version);
                lua_seti(L, -5, ++k);
                lua_seti(L, -5, k);
            } else {
                lua_pop(L, 1);
            }
        }
    }
    lua_pop(L, 1);
    lua_setfield(L, rec, "outslots");
    lua_setfield(L, rec, "versions");
    lua_setfield(L, rec, "saved");
}

/* core._custom_function(out, inputs, name, backward, ctx): out (what the Lua
 * forward returned) recorded as one node over the tensors in `inputs`. */
static int f_custom_function(lua_State *L) {
    const char *name = luaL_checkstring(L, 3);
    mg_tensor *out = lmg_check(L, 1, name);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    luaL_checktype(L, 5, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    if (n > MG_MAXINPUTS)
        return luaL_error(L, "%s: a Function takes at most %d tensor arguments, got %d", name,
                          MG_MAXINPUTS, (int)n);
    mg_tensor *in[MG_MAXINPUTS];
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 2, i);
        in[i - 1] = lmg_check(L, -1, name);
        lua_pop(L, 1);
    }
    lua_createtable(L, 0, 5);
    int rec = lua_gettop(L);
    lua_pushvalue(L, 4);
    lua_setfield(L, rec, "backward");
    lua_pushvalue(L, 5);
    lua_setfield(L, rec, "ctx");
    lua_pushvalue(L, 3);
    lua_setfield(L, rec, "name");
    record_saved(L, rec, 5, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *main = lua_tothread(L, -1);
    lua_pop(L, 1);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops rec */
    lua_op *op = malloc(sizeof *op);
    if (!op) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return luaL_error(L, "%s: out of memory", name);
    }
    op->L = main;
    op->ref = ref;
    /* mg_custom takes op over (ctx_free drops the reference) */
    lmg_push(L, mg_custom(out, (int)n, in, name, lua_backward, op, lua_op_free), name);
    return 1;
}

/* core._graph_dot(y): the DOT text of the graph behind y. */
static int f_graph_dot(lua_State *L) {
    char *s = mg_graph_dot(lmg_check(L, 1, "autograd.graph"));
    if (!s) return lmg_error(L, "autograd.graph");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

const luaL_Reg lmg_extend_funcs[] = {
    {"_custom_function", f_custom_function}, {"_graph_dot", f_graph_dot}, {NULL, NULL}};
const luaL_Reg lmg_extend_methods[] = {{NULL, NULL}};
