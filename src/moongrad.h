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
/* (end math) */

/* ---- stats: ops_stats.c: var/std, max/min, prod, argmax/argmin, cumsum/cumprod, logsumexp ---- */
/* (end stats) */

/* ---- join: ops_join.c: squeeze/unsqueeze, flatten, moveaxis, concatenate, stack, split, repeat, tile, flip, pad ---- */
/* (end join) */

/* ---- gather: ops_gather.c: indexing with bool masks and int64 index tensors ---- */
/* (end gather) */

/* ---- linalg: ops_linalg.c, einsum.c: einsum, dot, outer, multi_matmul, norm, trace, diagonal ---- */
/* (end linalg) */

/* ---- inplace: inplace.c: in-place ops (add_, mul_, fill_, ...) and the version counter ---- */
/* (end inplace) */

/* ---- extend: custom.c, graph_dot.c: ops defined by the caller, the graph as DOT text ---- */
/* (end extend) */

/* ---- nnet: nn_conv.c, nn_pool.c: convolution and pooling kernels ---- */
/* Options of mg_conv_nd, one entry per spatial axis (the first d are read,
 * d = w->ndim - 2, 1..3).  mg_conv_defaults(): stride 1, padding 0 (zeros,
 * on both sides), dilation 1, groups 1. */
typedef struct mg_conv_opts {
    int64_t stride[3], padding[3], dilation[3];
    int64_t groups;
} mg_conv_opts;
mg_conv_opts mg_conv_defaults(void);
/* Convolution (cross-correlation, as PyTorch and MyGrad) of x {N, C, S...}
 * with w {F, C/groups, K...}, plus b {F} when not NULL; o NULL = defaults.
 * Returns {N, F, O...}, O = (S + 2 padding - dilation (K - 1) - 1) / stride + 1.
 * Differentiable to any order in x, w and b. */
mg_tensor *mg_conv_nd(mg_tensor *x, mg_tensor *w, mg_tensor *b, const mg_conv_opts *o);
/* Pooling over the trailing nd (1..3) axes of x (x has at least nd + 1 axes);
 * pool, stride and padding have nd entries; stride NULL = pool, padding NULL
 * = 0 (at most half the window).  max_pool: padding never wins, the gradient
 * goes to the first maximum of each window.  avg_pool: zero padding counts in
 * the mean (PyTorch's count_include_pad). */
mg_tensor *mg_max_pool(mg_tensor *x, int nd, const int64_t *pool, const int64_t *stride,
                       const int64_t *padding);
mg_tensor *mg_avg_pool(mg_tensor *x, int nd, const int64_t *pool, const int64_t *stride,
                       const int64_t *padding);
/* (end nnet) */

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
