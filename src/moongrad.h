/* moongrad.h — the public C API of moongrad: n-d tensors over refcounted
 * storage, element-wise/reduction/shape/linear-algebra ops, and a
 * define-by-run autograd.  No Lua here; usable from C alone.
 *
 * Conventions
 *   - Every function that makes a tensor returns a new reference, or NULL on
 *     error; then mg_errmsg() says what went wrong and mg_errcode() which kind.
 *     Functions returning int return 0 (MG_OK) or an mg_err code.
 *   - The library never aborts, exits or prints.
 *   - Indices and axes are 0-based here (the Lua binding speaks 1-based).
 *   - Strides and offsets count elements, not bytes.
 */
#ifndef MOONGRAD_H
#define MOONGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MG_MAXDIM 16    /* most axes a tensor may have */
#define MG_MAXINPUTS 8  /* most inputs a recorded op may have */

typedef enum { MG_FLOAT32, MG_FLOAT64, MG_INT64, MG_BOOL, MG_NDTYPES } mg_dtype;

typedef enum {
    MG_OK = 0,
    MG_ESHAPE,   /* incompatible or invalid shapes */
    MG_EDTYPE,   /* wrong dtype for the operation */
    MG_EINDEX,   /* index or axis out of range */
    MG_EVALUE,   /* invalid argument value */
    MG_ENOMEM,   /* allocation failed or size overflow */
    MG_EGRAPH,   /* autograd misuse: freed graph, modified saved tensor, ... */
} mg_err;

/* ---- errors ------------------------------------------------------------ */
int mg_errcode(void); /* an mg_err value */
const char *mg_errmsg(void);
int mg_seterr(mg_err code, const char *fmt, ...); /* returns code; for ops */
/* Writes "{2, 3}" into buf (used by error messages). */
const char *mg_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);

/* ---- storage and tensors ----------------------------------------------- */
typedef struct mg_storage {
    int refcount;
    size_t nbytes;
    void *data;
    uint64_t version; /* bumped by every in-place write */
} mg_storage;

typedef struct mg_node mg_node;
typedef struct mg_tensor mg_tensor;

struct mg_tensor {
    int refcount;
    mg_storage *storage;
    int64_t offset;               /* in elements */
    int ndim;
    int64_t shape[MG_MAXDIM];
    int64_t stride[MG_MAXDIM];    /* in elements; 0 on broadcast axes */
    mg_dtype dtype;
    bool requires_grad;           /* a variable (not a constant) */
    mg_tensor *grad;              /* constant tensor of the same shape, or NULL */
    mg_node *grad_fn;             /* the recorded op that made it; NULL for leaves */
    /* scratch used by one backward pass */
    mg_tensor *pass_grad;
    uint64_t pass_mark;
};

size_t mg_dtype_size(mg_dtype dt);
const char *mg_dtype_name(mg_dtype dt);
int mg_dtype_from_name(const char *name, mg_dtype *out); /* 0 or MG_EDTYPE */
bool mg_dtype_is_float(mg_dtype dt);
mg_dtype mg_default_float(void);
void mg_set_default_float(mg_dtype dt);

mg_tensor *mg_retain(mg_tensor *t);
void mg_release(mg_tensor *t); /* NULL is fine; frees graphs iteratively */
int64_t mg_numel(const mg_tensor *t);
bool mg_is_contiguous(const mg_tensor *t);
void *mg_data_ptr(const mg_tensor *t); /* address of element 0 of the view */
/* Total bytes of tensor storage the library has ever allocated; the Lua
 * binding reports the growth of this counter to its garbage collector. */
size_t mg_bytes_allocated(void);

/* ---- creation ---------------------------------------------------------- */
mg_tensor *mg_empty(int ndim, const int64_t *shape, mg_dtype dt);
mg_tensor *mg_zeros(int ndim, const int64_t *shape, mg_dtype dt);
mg_tensor *mg_full(int ndim, const int64_t *shape, double v, mg_dtype dt);
mg_tensor *mg_full_int(int ndim, const int64_t *shape, int64_t v, mg_dtype dt);
mg_tensor *mg_scalar(double v, mg_dtype dt);    /* 0-d constant */
mg_tensor *mg_arange(double start, double stop, double step, mg_dtype dt);
mg_tensor *mg_linspace(double a, double b, int64_t n, mg_dtype dt);
mg_tensor *mg_eye(int64_t n, int64_t m, mg_dtype dt);

/* Flat element access in logical (row-major) order of the view. */
double mg_get_flat(const mg_tensor *t, int64_t i);
int64_t mg_get_flat_int(const mg_tensor *t, int64_t i);
void mg_set_flat(mg_tensor *t, int64_t i, double v);
void mg_set_flat_int(mg_tensor *t, int64_t i, int64_t v);

/* ---- random (xoshiro256** seeded through splitmix64) ---------------------- */
void mg_seed(uint64_t seed);
uint64_t mg_random_u64(void);
mg_tensor *mg_rand(int ndim, const int64_t *shape, mg_dtype dt);  /* U[0, 1) */
mg_tensor *mg_randn(int ndim, const int64_t *shape, mg_dtype dt); /* N(0, 1) */
mg_tensor *mg_randint(int64_t lo, int64_t hi, int ndim, const int64_t *shape); /* [lo, hi) */

/* ---- ops -----------------------------------------------------------------
 * Every op below goes through the op table (ops.c): it checks its inputs,
 * computes, and, when grad mode is on and an input is a variable, records a
 * node for backward.  Binary ops broadcast with NumPy's rules.  */
mg_tensor *mg_add(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_sub(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_mul(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_div(mg_tensor *a, mg_tensor *b);       /* true division */
mg_tensor *mg_pow(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_floordiv(mg_tensor *a, mg_tensor *b);  /* floor(a / b); constant result */
mg_tensor *mg_mod(mg_tensor *a, mg_tensor *b);       /* sign of b, as Lua and Python */

mg_tensor *mg_neg(mg_tensor *a);
mg_tensor *mg_exp(mg_tensor *a);
mg_tensor *mg_log(mg_tensor *a);
mg_tensor *mg_sqrt(mg_tensor *a);
mg_tensor *mg_sin(mg_tensor *a);
mg_tensor *mg_cos(mg_tensor *a);
mg_tensor *mg_tanh(mg_tensor *a);
mg_tensor *mg_abs(mg_tensor *a);
mg_tensor *mg_square(mg_tensor *a);
mg_tensor *mg_sign(mg_tensor *a);                    /* constant result */

/* Reductions: axes is a bit mask (bit k = axis k); MG_ALLAXES for all. */
#define MG_ALLAXES 0xFFFFFFFFu
mg_tensor *mg_sum(mg_tensor *a, uint32_t axes, bool keepdims);
mg_tensor *mg_mean(mg_tensor *a, uint32_t axes, bool keepdims);
/* Sums a down to shape (the reverse of broadcasting), as backward needs. */
mg_tensor *mg_sum_to(mg_tensor *a, int ndim, const int64_t *shape);

/* Shape ops.  Views share storage where the layout allows. */
mg_tensor *mg_reshape(mg_tensor *a, int ndim, const int64_t *shape); /* one -1 allowed */
mg_tensor *mg_permute(mg_tensor *a, const int *perm);
mg_tensor *mg_transpose(mg_tensor *a);                /* reverses all axes */
mg_tensor *mg_swapaxes(mg_tensor *a, int i, int j);
mg_tensor *mg_broadcast_to(mg_tensor *a, int ndim, const int64_t *shape);

/* Basic indexing: one entry per leading axis (fewer than ndim = the rest whole). */
typedef enum { MG_IDX_ALL, MG_IDX_INT, MG_IDX_SLICE } mg_idx_kind;
typedef struct mg_index {
    mg_idx_kind kind;
    int64_t start; /* INT: the index; SLICE: first index (0-based, resolved) */
    int64_t count; /* SLICE: number of elements taken (>= 0) */
    int64_t step;  /* SLICE: non-zero */
} mg_index;
mg_tensor *mg_index_get(mg_tensor *a, int n, const mg_index *idx);
/* a[idx] = v.  Writes into a's storage.  When a or v is a variable and grad
 * mode is on, returns the tensor that now stands for a in the graph (the
 * caller replaces its handle on a with it); otherwise returns a retained. */
mg_tensor *mg_index_set(mg_tensor *a, int n, const mg_index *idx, mg_tensor *v);

mg_tensor *mg_matmul(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_astype(mg_tensor *a, mg_dtype dt);      /* differentiable between floats */
mg_tensor *mg_clone(mg_tensor *a);
mg_tensor *mg_contiguous(mg_tensor *a);               /* a itself when already contiguous */
mg_tensor *mg_detach(mg_tensor *a);                   /* constant view sharing storage */
/* Copies src (broadcast) into dst in place; bumps dst's version. */
int mg_copy_into(mg_tensor *dst, mg_tensor *src);

/* ---- math: ops_math.c: more element-wise math, comparisons, where, clip, any/all ---- */
/* Float-valued functions: integer inputs compute in the default float dtype;
 * values outside a function's domain give NaN (as NumPy), not an error. */
mg_tensor *mg_tan(mg_tensor *a);
mg_tensor *mg_arcsin(mg_tensor *a);
mg_tensor *mg_arccos(mg_tensor *a);
mg_tensor *mg_arctan(mg_tensor *a);
mg_tensor *mg_sinh(mg_tensor *a);
mg_tensor *mg_cosh(mg_tensor *a);
mg_tensor *mg_arcsinh(mg_tensor *a);
mg_tensor *mg_arccosh(mg_tensor *a);
mg_tensor *mg_arctanh(mg_tensor *a);
mg_tensor *mg_exp2(mg_tensor *a);
mg_tensor *mg_expm1(mg_tensor *a);
mg_tensor *mg_log2(mg_tensor *a);
mg_tensor *mg_log10(mg_tensor *a);
mg_tensor *mg_log1p(mg_tensor *a);
mg_tensor *mg_cbrt(mg_tensor *a);
mg_tensor *mg_reciprocal(mg_tensor *a);                 /* 1 / x, a float even for integers */
/* Constant results; integers stay int64.  round goes half to even and, for
 * decimals != 0, rounds rint(x * 10^decimals) / 10^decimals (as NumPy). */
mg_tensor *mg_floor(mg_tensor *a);
mg_tensor *mg_ceil(mg_tensor *a);
mg_tensor *mg_round(mg_tensor *a, int decimals);
mg_tensor *mg_arctan2(mg_tensor *y, mg_tensor *x);
/* NaN propagates; on ties the gradient is split evenly (as MyGrad). */
mg_tensor *mg_maximum(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_minimum(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_logaddexp(mg_tensor *a, mg_tensor *b);   /* log(e^a + e^b), stable */
/* Bool results (constant).  Logical ops read any dtype, non-zero = true. */
mg_tensor *mg_equal(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_not_equal(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_less(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_less_equal(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_greater(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_greater_equal(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_logical_and(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_logical_or(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_logical_xor(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_logical_not(mg_tensor *a);
mg_tensor *mg_isnan(mg_tensor *a);
mg_tensor *mg_isinf(mg_tensor *a);
mg_tensor *mg_isfinite(mg_tensor *a);
/* cond ? a : b element-wise, all three broadcast together; cond is read as
 * bool (non-zero = true).  The gradient goes to a where cond, to b elsewhere. */
mg_tensor *mg_where(mg_tensor *cond, mg_tensor *a, mg_tensor *b);
/* min(max(x, lo), hi); lo or hi may be NULL (not both).  Gradient: to x
 * where lo <= x <= hi, to a bound where it was taken. */
mg_tensor *mg_clip(mg_tensor *x, mg_tensor *lo, mg_tensor *hi);
/* Bool reductions of any dtype (non-zero = true); axes as for mg_sum. */
mg_tensor *mg_any(mg_tensor *a, uint32_t axes, bool keepdims);
mg_tensor *mg_all(mg_tensor *a, uint32_t axes, bool keepdims);
/* (end math) */

/* ---- stats: ops_stats.c: var/std, max/min, prod, argmax/argmin, cumsum/cumprod, logsumexp ---- */
/* Reductions over axes (a bit mask, MG_ALLAXES for all), like mg_sum.
 * var/std divide by N - ddof (ddof >= 0, and < N unless N = 0); they and
 * logsumexp give floats (integers compute in the default float dtype).
 * Over no elements: var/std NaN, prod 1, logsumexp -inf; max, min, argmax
 * and argmin of an empty axis are errors.  max/min propagate NaN and share
 * the gradient evenly among tied elements. */
mg_tensor *mg_var(mg_tensor *a, uint32_t axes, bool keepdims, double ddof);
mg_tensor *mg_std(mg_tensor *a, uint32_t axes, bool keepdims, double ddof);
mg_tensor *mg_max(mg_tensor *a, uint32_t axes, bool keepdims);
mg_tensor *mg_min(mg_tensor *a, uint32_t axes, bool keepdims);
mg_tensor *mg_prod(mg_tensor *a, uint32_t axes, bool keepdims);  /* integers: int64, wrapping */
mg_tensor *mg_logsumexp(mg_tensor *a, uint32_t axes, bool keepdims);
/* 0-based int64 positions of the first max (min; the first NaN if any).
 * axes: one axis, or all (MG_ALLAXES): an index into the flattened tensor. */
mg_tensor *mg_argmax(mg_tensor *a, uint32_t axes, bool keepdims);
mg_tensor *mg_argmin(mg_tensor *a, uint32_t axes, bool keepdims);
/* Running sum/product along one axis; MG_NOAXIS scans the flattened tensor
 * (a 1-d result, as NumPy).  Integers give int64 (wrapping). */
#define MG_NOAXIS (-1)
mg_tensor *mg_cumsum(mg_tensor *a, int axis);
mg_tensor *mg_cumprod(mg_tensor *a, int axis);
/* (end stats) */

/* ---- join: ops_join.c: squeeze/unsqueeze, flatten, moveaxis, concatenate, stack, split, repeat, tile, flip, pad ---- */
/* Axes are 0-based; masks have bit k for axis k.  Views where the layout
 * allows (squeeze, expand_dims, flatten, moveaxis, split, flip), copies
 * otherwise; all are differentiable. */
mg_tensor *mg_squeeze(mg_tensor *a, uint32_t axes);     /* axes of size 1; MG_ALLAXES: all such */
mg_tensor *mg_expand_dims(mg_tensor *a, uint32_t axes); /* new axes, as positions in the result */
mg_tensor *mg_unsqueeze(mg_tensor *a, int axis);        /* axis in 0..ndim */
mg_tensor *mg_flatten(mg_tensor *a, int start, int end); /* merges axes start..end (a 0-d: {1}) */
mg_tensor *mg_ravel(mg_tensor *a);                      /* 1-d */
mg_tensor *mg_moveaxis(mg_tensor *a, int n, const int *src, const int *dst);
/* Joins n >= 1 tensors along an existing axis (dtypes promote; all sizes
 * but the axis must match); built from recorded ops of <= MG_MAXINPUTS inputs. */
mg_tensor *mg_concatenate(int n, mg_tensor *const *ts, int axis);
mg_tensor *mg_stack(int n, mg_tensor *const *ts, int axis); /* equal shapes; new axis in 0..ndim */
/* Piece sizes for an axis of length len: pieces of n, the last smaller
 * (torch.split), or with chunks n pieces of ceil(len / n) (torch.chunk).
 * Returns the number of pieces, writing them to sizes unless NULL; -1 on
 * a bad n. */
int64_t mg_split_plan(int64_t len, int64_t n, bool chunks, int64_t *sizes);
/* Views of a along axis, of the n given sizes (summing to the length), in out[0..n). */
int mg_split(mg_tensor *a, int axis, int64_t n, const int64_t *sizes, mg_tensor **out);
/* Each element repeated (NumPy's repeat): n = 1 count for all or one per
 * element along axis; axis MG_NOAXIS repeats the flattened tensor. */
mg_tensor *mg_repeat(mg_tensor *a, int64_t n, const int64_t *repeats, int axis);
mg_tensor *mg_tile(mg_tensor *a, int n, const int64_t *reps);  /* NumPy's tile */
mg_tensor *mg_flip(mg_tensor *a, uint32_t axes);               /* MG_ALLAXES: all */
/* Constant padding: before[i] and after[i] elements of value around axis i. */
mg_tensor *mg_pad(mg_tensor *a, const int64_t *before, const int64_t *after, double value);
/* (end join) */

/* ---- gather: ops_gather.c: indexing with bool masks and int64 index tensors ---- */
/* Advanced indexing with NumPy's rules.  One entry per leading axis group:
 * a basic entry (t == NULL: `basic` as for mg_index_get, 0-based, resolved),
 * an int64 index tensor (t, any shape; takes one axis) or a bool mask (t;
 * takes as many axes as it has, and must match their sizes).  Index tensor
 * values count from `base` (0 in C, 1 from Lua; base 1 makes 0 an error);
 * negative values count from the end.  The index tensors, masks (as the
 * positions of their true elements, row-major) and integer entries broadcast
 * together to a shape B; when they sit next to each other in the key B takes
 * their place in the result, otherwise B comes first (NumPy's rule; integer
 * entries count as index tensors once any tensor is present).  The result is
 * a copy.  With no tensor entry these are mg_index_get / mg_index_set. */
typedef struct mg_aindex {
    mg_index basic;  /* the entry when t is NULL */
    mg_tensor *t;    /* an int64 index tensor or a bool mask; borrowed */
} mg_aindex;
mg_tensor *mg_index_adv_get(mg_tensor *a, int n, const mg_aindex *idx, int base);
/* a[idx] = v, v broadcast to the shape a[idx] has.  Where an index repeats,
 * the last write wins (and only it gets v's gradient).  Returns as
 * mg_index_set does: the tensor that now stands for a (handle moves) when the
 * write is recorded, otherwise a retained after an in-place write. */
mg_tensor *mg_index_adv_set(mg_tensor *a, int n, const mg_aindex *idx, mg_tensor *v, int base);
/* (end gather) */

/* ---- linalg: ops_linalg.c, einsum.c: einsum, dot, outer, multi_matmul, norm, trace, diagonal ---- */
/* (end linalg) */

/* ---- inplace: inplace.c: in-place ops (add_, mul_, fill_, ...) and the version counter ---- */
/* (end inplace) */

/* ---- extend: custom.c, graph_dot.c: ops defined by the caller, the graph as DOT text ---- */
/* (end extend) */

/* ---- nnet: nn_conv.c, nn_pool.c: convolution and pooling kernels ---- */
/* (end nnet) */

/* ---- nnet_act: nn_act.c, nn_loss.c: activations and losses ---- */
/* (end nnet_act) */

/* ---- nnet_layers: nn_layers.c: initializers, batchnorm, dropout, embedding, gru ---- */
/* (end nnet_layers) */

/* ---- io: io_idx.c, io_safetensors.c: IDX files and safetensors checkpoints ---- */
/* An IDX file (MNIST's format), gzipped or plain, as a contiguous constant
 * tensor of the file's shape.  want: the dtype to convert to, or MG_NDTYPES
 * for the file's own (integer types give int64, float float32, double
 * float64); float data does not convert to int64 or bool.  Truncated files,
 * bad magic, unknown types, more than MG_MAXDIM axes, overflowing sizes and
 * trailing data are errors; memory grows only as data actually arrives. */
mg_tensor *mg_read_idx(const char *path, mg_dtype want);
/* The same from memory (gzip-compressed when it starts with 1f 8b); name
 * labels the error messages (NULL: "<buffer>"). */
mg_tensor *mg_read_idx_buffer(const void *buf, size_t n, mg_dtype want, const char *name);

/* Named tensors and string metadata, as a safetensors file holds them. */
typedef struct mg_named_tensors {
    int64_t n;
    char **names;          /* in the header's order */
    mg_tensor **tensors;   /* contiguous constants */
    int64_t nmeta;
    char **meta_keys, **meta_values;
} mg_named_tensors;
/* Writes n tensors (their logical values, any layout) in safetensors format
 * in the given order, with nmeta metadata pairs (nmeta may be 0); the file is
 * written under a temporary name and renamed into place.  Names must be
 * unique, valid UTF-8 and not "__metadata__".  Returns 0 or an mg_err code. */
int mg_save_safetensors(const char *path, int64_t n, const char *const *names,
                        mg_tensor *const *ts, int64_t nmeta, const char *const *keys,
                        const char *const *vals);
/* Reads a safetensors file after validating its header: length, JSON, each
 * entry's dtype (F32, F64, I64, BOOL; F16/BF16 load as float32 and the
 * other integer types as int64), shape and offsets, which must tile the data
 * area exactly.  NULL with a message naming the file and entry on error. */
mg_named_tensors *mg_load_safetensors(const char *path);
mg_named_tensors *mg_load_safetensors_buffer(const void *buf, size_t n, const char *name);
void mg_named_tensors_free(mg_named_tensors *set);  /* releases the tensors; NULL is fine */
/* (end io) */

/* ---- autograd ------------------------------------------------------------ */
bool mg_grad_enabled(void);
bool mg_set_grad_enabled(bool on);   /* returns the previous mode */
/* When on, a variable's .grad survives its use in new ops (for gradient
 * accumulation); off by default (MyGrad's behaviour: use clears .grad). */
bool mg_set_keep_grad(bool on);
bool mg_keep_grad(void);

typedef struct mg_backward_opts {
    bool retain_graph;
    bool create_graph; /* records the pass; implies retain_graph */
} mg_backward_opts;
/* Backpropagates from y; grad (may be NULL: ones) must broadcast to y's shape.
 * Sets .grad on every variable y depends on.  A constant y is a no-op. */
int mg_backward(mg_tensor *y, mg_tensor *grad, const mg_backward_opts *opts);
void mg_null_grad(mg_tensor *t);
int mg_requires_grad_(mg_tensor *t, bool on);  /* leaves only, floats only */
void mg_detach_(mg_tensor *t);                 /* cut t from its graph */
const char *mg_grad_fn_name(const mg_tensor *t); /* "MulBackward", or NULL */

/* ---- printing -------------------------------------------------------------
 * NumPy-like text of the values, e.g. "[[1., 2.],\n [3., 4.]]" with each
 * continuation line indented by `indent` extra spaces.  malloc'd; NULL on
 * allocation failure. */
char *mg_format(const mg_tensor *t, int indent);

#endif
