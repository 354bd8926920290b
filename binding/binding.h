/* binding.h — what the Lua binding's files share: the tensor userdata,
 * argument checks that raise Lua errors, option-table readers and the
 * registration lists of each file. */
#ifndef MOONGRAD_BINDING_H
#define MOONGRAD_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "moongrad.h"

/* Thread-local state touched on every call: initial-exec, so an access is
 * one instruction rather than a __tls_get_addr call (see src/internal.h). */
#define LMG_HOT_TLS _Thread_local __attribute__((tls_model("initial-exec")))

#define LMG_TENSOR "moongrad.Tensor"

/* The userdata holds one reference; t is NULL after __close.  tag is
 * t XOR lmg_ud_secret, always set with lmg_ud_set (gc_alloc.c reads it to
 * recognise a tensor's block when Lua frees it). */
typedef struct {
    mg_tensor *t;
    uintptr_t tag;
} lmg_ud;

extern uintptr_t lmg_ud_secret;
static inline void lmg_ud_set(lmg_ud *u, mg_tensor *t) {
    u->t = t;
    u->tag = (uintptr_t)t ^ lmg_ud_secret;
}
/* gc_alloc.c: releases tensors when Lua frees their userdata (true), or
 * false when this state must use a __gc finalizer instead.  mt: the stack
 * index of the tensor metatable. */
bool lmg_gc_hook_install(lua_State *L, int mt);
/* Keeps core.so loaded for the life of the process (false if it cannot). */
bool lmg_pin_module(void);
/* Drops a registry reference now, or at the next lmg_unref_drain when
 * called where no Lua API may run (inside a collection). */
void lmg_unref_later(lua_State *L, int ref);
void lmg_unref_drain(lua_State *L);

/* Pushes a userdata owning t (a new reference); raises the library's error
 * message when t is NULL.  `fn` names the function for that message. */
void lmg_push(lua_State *L, mg_tensor *t, const char *fn);
/* Raises a Lua error with the library's last message. */
int lmg_error(lua_State *L, const char *fn);
bool lmg_is(lua_State *L, int idx);
/* The tensor at idx, or a Lua error naming fn and the argument. */
mg_tensor *lmg_check(lua_State *L, int idx, const char *fn);
/* A tensor from a tensor, number, boolean or nested table at idx; non-tensors
 * are converted and the stack slot replaced by the new tensor. */
mg_tensor *lmg_checklike(lua_State *L, int idx, const char *fn);
/* A 0-d tensor for the Lua number at idx, typed to go with `other` (weak
 * scalar rule: a float tensor keeps its dtype).  Not pushed: release it. */
mg_tensor *lmg_scalar_for(lua_State *L, int idx, const mg_tensor *other);

/* Builds a tensor from the Lua value at idx (number, boolean, nested table,
 * tensor).  dt < 0 infers the dtype. */
mg_tensor *lmg_from_value(lua_State *L, int idx, int dt, const char *fn);

/* Shapes: a table {2, 3} at idx, or integers from idx to the first
 * non-number.  Returns the index after the shape arguments. */
int lmg_shape_args(lua_State *L, int idx, int *ndim, int64_t *shape, const char *fn);
/* 1-based (negative from the end) axis at idx to 0-based, checked. */
int lmg_axis(lua_State *L, lua_Integer axis, int ndim, const char *fn);
/* Axes from an option table field or value at idx: nil = all. */
uint32_t lmg_axes_arg(lua_State *L, int idx, int ndim, const char *fn);

/* Option tables: the trailing table argument, if any. */
bool lmg_opt_bool(lua_State *L, int opts, const char *key, bool dflt);
int lmg_opt_dtype(lua_State *L, int opts, int idx_str, const char *fn); /* -1 if absent */
mg_dtype lmg_dtype_arg(lua_State *L, int idx, const char *fn);

/* b_ops.c: the shared shape of a Lua entry point for a binary op (numbers
 * on either side), a unary op, and a reduction (axis / keepdims forms). */
typedef mg_tensor *(*lmg_binop)(mg_tensor *, mg_tensor *);
typedef mg_tensor *(*lmg_unop)(mg_tensor *);
int lmg_binary(lua_State *L, lmg_binop op, const char *fn);
int lmg_unary(lua_State *L, lmg_unop op, const char *fn);
int lmg_reduction(lua_State *L, mg_tensor *(*op)(mg_tensor *, uint32_t, bool), const char *fn);

/* GC: report library allocations since the last call to Lua's collector. */
void lmg_gc_account(lua_State *L);

/* Registration lists (NULL-terminated) of each binding file. */
extern const luaL_Reg lmg_create_funcs[];    /* b_create.c: mg.* creation */
extern const luaL_Reg lmg_create_methods[];
extern const luaL_Reg lmg_ops_funcs[];       /* b_ops.c: math, reductions, matmul */
extern const luaL_Reg lmg_ops_methods[];
extern const luaL_Reg lmg_ops_meta[];
extern const luaL_Reg lmg_autograd_funcs[];  /* b_autograd.c */
extern const luaL_Reg lmg_autograd_methods[];
extern const luaL_Reg lmg_index_methods[];   /* b_index.c: indexing, shape ops */
extern const luaL_Reg lmg_index_funcs[];
extern const luaL_Reg lmg_math_funcs[], lmg_math_methods[];       /* b_math.c */
extern const luaL_Reg lmg_stats_funcs[], lmg_stats_methods[];     /* b_stats.c */
extern const luaL_Reg lmg_shape_funcs[], lmg_shape_methods[];     /* b_shape.c */
extern const luaL_Reg lmg_linalg_funcs[], lmg_linalg_methods[];   /* b_linalg.c */
extern const luaL_Reg lmg_inplace_funcs[], lmg_inplace_methods[]; /* b_inplace.c */
extern const luaL_Reg lmg_extend_funcs[], lmg_extend_methods[];   /* b_extend.c */
extern const luaL_Reg lmg_nnet_funcs[];                           /* b_nnet.c: core.nnet */
extern const luaL_Reg lmg_nnet_act_funcs[];                       /* b_nnet_act.c: core.nnet */
extern const luaL_Reg lmg_nnet_layers_funcs[];                    /* b_nnet_layers.c: core.nnet */
extern const luaL_Reg lmg_io_funcs[];                             /* b_io.c: core.io */
extern const luaL_Reg lmg_optim_funcs[];                          /* b_optim.c: core.optim */
int lmg_index_get(lua_State *L);             /* __index for numbers and tables */
int lmg_index_set(lua_State *L);             /* __newindex */

#endif
