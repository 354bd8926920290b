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
    size_t capacity; /* bytes of the block behind data (>= nbytes) */
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
    bool grad_shared;             /* grad may share memory: read it with mg_grad_of */
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
/* Bytes of tensor storage alive now (not counting released buffers kept
 * for reuse). */
size_t mg_bytes_live(void);
/* Released buffers of 64 KiB and more are kept for reuse, up to this many
 * bytes in all (default 256 MiB; 0 turns the cache off).  mg_cache_clear
 * frees what is kept. */
void mg_set_cache_limit(size_t bytes);
/* Threads (parallel.c: a pool made on first use) for long element-wise
 * runs, full sums, convolution and max-pooling (results are the same bits
 * at any count) and large matrix products (split into row or column
 * blocks, gemm.c; the last bits may differ from one thread's):
 * MOONGRAD_NUM_THREADS, else OMP_NUM_THREADS, else 1.  OpenBLAS is held at
 * one thread.  mg_set_num_threads returns 0 or MG_EVALUE. */
int mg_num_threads(void);
int mg_set_num_threads(int n);
void mg_cache_clear(void);

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

/* ---- parsers: slice.c: index keys as written (integers, inclusive slices) to mg_index ---- */
/* An index key's entries as users write them, checked and resolved into the
 * 0-based records mg_index_get / mg_index_adv_get take (the Lua binding
 * parses x[...] with these, base 1).  Positions count from base (0 or 1;
 * base 1 makes 0 an error) and negative ones from the end (-1 the last).
 * Any int64 values are accepted; errors (MG_EINDEX, named "index: ...") are
 * set for a position out of range, a 0 step and, with base 1, a 0 position
 * (MG_EVALUE for len < 0 or another base).  axis only labels the messages
 * (said counting from base).  Return 0 or the error code; *out is written on
 * success only. */
int mg_int_index_normalize(int64_t i, int64_t len, int axis, int base, mg_index *out);
/* The slice start..stop (stop inclusive) by step over an axis of length
 * len.  have says which of start, stop and step were given; a missing start
 * or stop is the end the step walks from or to, a missing step 1.  start and
 * stop are clamped to the axis (an empty slice is not an error) and a step
 * longer than the axis is shortened to len (the same elements). */
#define MG_SLICE_START 1u
#define MG_SLICE_STOP 2u
#define MG_SLICE_STEP 4u
int mg_slice_normalize(int64_t start, int64_t stop, int64_t step, unsigned have, int64_t len,
                       int axis, int base, mg_index *out);
/* Is the resolved slice record x (start, count, step) valid on an axis of
 * length len: a non-zero step, 0 <= count <= len, and when count > 0 every
 * position start + i step in 0..len-1 (computed without overflow, for any
 * int64 values)?  Sets no error. */
bool mg_slice_in_range(const mg_index *x, int64_t len);
/* (end parsers) */

/* ---- linalg: ops_linalg.c, einsum.c: einsum, dot, outer, multi_matmul, norm, trace, diagonal ---- */
/* Einstein summation over n operands, NumPy's subscripts: letters a-z A-Z,
 * "..." for broadcast axes, "," between operands, "->" before the output
 * (without it the output is the letters used once, in ASCII order, after any
 * "...").  A letter repeated in one operand takes a diagonal; ellipsis axes
 * missing from an explicit output are summed.  Built from differentiable ops
 * (diagonal, sum, permute, reshape, multiply, matmul). */
mg_tensor *mg_einsum(const char *subscripts, int n, mg_tensor *const *ops);
/* NumPy's dot: 0-d scales, 1-d.1-d inner product, N-d.1-d sums over the
 * last axes, N-d.M-d sums over a's last axis and b's second-to-last. */
mg_tensor *mg_dot(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_outer(mg_tensor *a, mg_tensor *b);     /* of the flattened inputs */
/* The product of n >= 2 matrices in the cheapest association order; the
 * first may be 1-d (a row) and the last 1-d (a column), as NumPy's multi_dot. */
mg_tensor *mg_multi_matmul(int n, mg_tensor *const *ts);
/* The diagonal a[.., i, .., i + offset, ..] of axes axis1 and axis2 (0-based,
 * distinct) as a view: those axes are removed and the diagonal appended last. */
mg_tensor *mg_diagonal(mg_tensor *a, int64_t offset, int axis1, int axis2);
mg_tensor *mg_trace(mg_tensor *a, int64_t offset, int axis1, int axis2); /* diagonal summed */

typedef enum { MG_ORD_DEFAULT, MG_ORD_NUMBER, MG_ORD_FRO, MG_ORD_NUC } mg_ord_kind;
typedef struct mg_norm_ord {
    mg_ord_kind kind;
    double p;          /* MG_ORD_NUMBER: any p > 0, 0 (count), +-INFINITY; matrices +-1, +-inf */
} mg_norm_ord;
/* Vector norm over one axis, matrix norm over two (naxes = 0: a vector norm
 * of a 1-d, a matrix norm of a 2-d tensor, or, with the default ord, the
 * 2-norm of all elements).  Axes 0-based (negative from the end). */
mg_tensor *mg_norm(mg_tensor *a, mg_norm_ord ord, int naxes, const int *axes, bool keepdims);
/* (end linalg) */

/* ---- inplace: inplace.c: in-place ops (add_, mul_, fill_, ...) and the version counter ---- */
/* In-place ops write into a's storage and bump its version counter; the
 * argument (b, v, src, lo, hi) broadcasts to a's shape, and the result must
 * fit a's dtype (float results do not go into integer tensors).
 *   - Nothing recorded (grad mode off, or a and the argument both constants):
 *     a plain write; returns a, retained.  This is how a variable is updated
 *     (through x.data, or under no-grad mode).
 *   - Recorded (grad mode on and a or the argument a variable): an
 *     out-of-place recorded op whose values are then written into a's
 *     storage; returns that op's result, which shares a's storage and stands
 *     for a in the graph from now on (the caller replaces its handle on a
 *     with it, as for mg_index_set).  A leaf variable, or a view of one,
 *     cannot be written while recording (an MG_EGRAPH error, as in PyTorch).
 * A later backward that would read values overwritten this way fails with an
 * MG_EGRAPH error naming the op (see mg_backward), never a wrong gradient. */
mg_tensor *mg_add_(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_sub_(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_mul_(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_div_(mg_tensor *a, mg_tensor *b);
mg_tensor *mg_pow_(mg_tensor *a, mg_tensor *b);
/* a = min(max(a, lo), hi); lo or hi (not both) may be NULL for no bound. */
mg_tensor *mg_clamp_(mg_tensor *a, mg_tensor *lo, mg_tensor *hi);
mg_tensor *mg_fill_(mg_tensor *a, mg_tensor *v);     /* values converted to a's dtype */
mg_tensor *mg_copy_(mg_tensor *a, mg_tensor *src);   /* values converted to a's dtype */
mg_tensor *mg_zero_(mg_tensor *a);

/* autograd.c: gradients without .grad.  Computes, for each input j, the
 * gradient of sum_k sum(outputs[k] * grad_outputs[k]) with respect to
 * inputs[j] into out[j] (a new reference), touching no tensor's .grad.
 * grad_outputs may be NULL, and so may each entry (ones).  out[j] is NULL
 * for an input the outputs do not depend on; constant outputs add nothing;
 * a constant input is an error.  opts as for mg_backward (the graph is freed
 * unless retain_graph or create_graph; with create_graph the results are
 * recorded, so they can be differentiated again).  Returns 0 or an error
 * code (then every out[j] is NULL).  Shares mg_backward's engine. */
struct mg_backward_opts; /* the autograd section below */
int mg_grad(mg_tensor *const *outputs, int nout, mg_tensor *const *grad_outputs,
            mg_tensor *const *inputs, int nin, const struct mg_backward_opts *opts,
            mg_tensor **out);
/* (end inplace) */

/* ---- extend: custom.c, graph_dot.c: ops defined by the caller, the graph as DOT text ---- */
/* Backward of a custom op: given the gradient g of the output, sets gin[i]
 * (a new reference, or NULL for no gradient) for each of the n inputs and
 * returns 0, or sets an error (mg_seterr) and returns its code.  It runs with
 * grad mode on under create_graph, so a backward written with mg_* ops gives
 * higher derivatives; `out` is the op's output for backward to read (under
 * create_graph a variable recorded through the same op, so derivatives flow
 * through it; otherwise a constant).  gin[i] must have inputs[i]'s shape or
 * one that sums down to it (as broadcasting would make); other shapes are an
 * error naming the op. */
typedef int (*mg_custom_backward)(void *ctx, mg_tensor *g, mg_tensor *out, int n,
                                  mg_tensor *const *inputs, mg_tensor **gin);
/* Records `out`, computed by the caller from the n (<= MG_MAXINPUTS) inputs,
 * as the result of ONE op named `name` (grad_fn "<name>Backward").  Returns
 * a new tensor sharing out's memory (out itself is not changed; the caller
 * still owns its reference).  When grad mode is on, out is a float tensor
 * and an input is a variable, the result is a variable whose node keeps ctx
 * and calls fn(ctx, ...) in backward; ctx_free(ctx) (may be NULL) runs when
 * the node is freed.  Otherwise the result is a constant and ctx is freed at
 * once.  ctx is always taken over, on error too. */
mg_tensor *mg_custom(mg_tensor *out, int n, mg_tensor *const *inputs, const char *name,
                     mg_custom_backward fn, void *ctx, void (*ctx_free)(void *ctx));
/* The graph behind y as Graphviz DOT text: one node per tensor (ops by
 * grad_fn name and shape; leaves "variable" or "constant" with their shape),
 * edges from inputs to outputs.  malloc'd; NULL (and an error) on failure. */
char *mg_graph_dot(const mg_tensor *y);
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

/* ---- nnet_act: nn_act.c, nn_loss.c: activations and losses ---- */
/* Activations (mg.nnet).  Integer inputs compute in the default float dtype
 * (relu keeps int64).  axis is 0-based; negative counts from the end; a 0-d
 * tensor counts as one value on axis 0 (softmax gives 1). */
mg_tensor *mg_relu(mg_tensor *x);                        /* NaN stays NaN; gradient 0 at 0 */
mg_tensor *mg_leaky_relu(mg_tensor *x, double slope);    /* x > 0 ? x : slope x */
mg_tensor *mg_elu(mg_tensor *x, double alpha);           /* x > 0 ? x : alpha (e^x - 1) */
mg_tensor *mg_selu(mg_tensor *x);
mg_tensor *mg_gelu(mg_tensor *x, bool tanh_approx);      /* x Phi(x), or PyTorch's tanh form */
mg_tensor *mg_sigmoid(mg_tensor *x);                     /* no overflow for large |x| */
mg_tensor *mg_hard_tanh(mg_tensor *x, double lo, double hi); /* clip(x, lo, hi) */
mg_tensor *mg_soft_sign(mg_tensor *x);                   /* x / (1 + |x|) */
/* log(1 + e^(beta x)) / beta, and x itself where beta x > threshold. */
mg_tensor *mg_softplus(mg_tensor *x, double beta, double threshold);
mg_tensor *mg_softmax(mg_tensor *x, int axis);           /* shifted by the maximum */
mg_tensor *mg_logsoftmax(mg_tensor *x, int axis);        /* x - logsumexp(x) */
mg_tensor *mg_glu(mg_tensor *x, int axis);               /* a * sigmoid(b), x = [a, b] on axis */

/* Losses.  reduction: the mean over the loss elements (for the class-label
 * losses with class weights: their sum over the sum of the weights of the
 * labels, as PyTorch), their sum, or the elements themselves.  The mean of
 * an empty batch is NaN (0 / 0, as PyTorch).  Targets broadcast to the
 * prediction's shape (a target that would enlarge it is an error). */
typedef enum { MG_REDUCE_MEAN, MG_REDUCE_SUM, MG_REDUCE_NONE } mg_reduction;
mg_tensor *mg_mse_loss(mg_tensor *pred, mg_tensor *target, mg_reduction red);
mg_tensor *mg_l1_loss(mg_tensor *pred, mg_tensor *target, mg_reduction red);
/* 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); delta > 0. */
mg_tensor *mg_huber_loss(mg_tensor *pred, mg_tensor *target, double delta, mg_reduction red);
/* -(t log p + (1 - t) log(1 - p)), each log clamped at -100 (as PyTorch);
 * probabilities outside [0, 1] (or NaN) are an error. */
mg_tensor *mg_binary_crossentropy(mg_tensor *probs, mg_tensor *targets, mg_reduction red);
/* The same on logits, computed stably; pos_weight (may be NULL) weighs the
 * positive term and broadcasts with the targets. */
mg_tensor *mg_binary_crossentropy_with_logits(mg_tensor *logits, mg_tensor *targets,
                                              mg_tensor *pos_weight, mg_reduction red);
/* Class-label losses.  x is {N, C} (or {N, C, d1, ...}, or {C} for one
 * sample); labels are int64 of shape {N} ({N, d1, ...}, or 0-d), each in
 * base .. base + C - 1 (base 0 in C, 1 from Lua).  weights (may be NULL):
 * C class weights, constants (no gradient flows to them).
 * softmax_crossentropy fuses logsoftmax and the label pick into one pass
 * (forward and backward; no one-hot is built); label_smoothing in [0, 1]
 * mixes in the uniform distribution over the classes (as PyTorch). */
mg_tensor *mg_softmax_crossentropy(mg_tensor *logits, mg_tensor *labels, mg_tensor *weights,
                                   double label_smoothing, mg_reduction red, int base);
/* -w[y] x[y] per sample: x holds log-probabilities. */
mg_tensor *mg_negative_log_likelihood(mg_tensor *logprobs, mg_tensor *labels, mg_tensor *weights,
                                      mg_reduction red, int base);
/* MyGrad's: per sample, the sum over the wrong classes j of
 * max(0, x[j] - x[y] + margin). */
mg_tensor *mg_multiclass_hinge(mg_tensor *scores, mg_tensor *labels, double margin,
                               mg_reduction red, int base);
/* max(0, -y (x1 - x2) + margin); y (+1 or -1, constant) is 0-d, of x1's
 * shape, or of shape {N} for x1 of shape {N, ...}. */
mg_tensor *mg_margin_ranking_loss(mg_tensor *x1, mg_tensor *x2, mg_tensor *y, double margin,
                                  mg_reduction red);
/* Binary focal loss on probabilities: alpha_t (1 - p_t)^gamma bce(p, t) with
 * p_t = p t + (1 - p)(1 - t) and alpha_t = alpha t + (1 - alpha)(1 - t);
 * alpha < 0 leaves out the alpha_t factor (as torchvision). */
mg_tensor *mg_focal_loss(mg_tensor *probs, mg_tensor *targets, double alpha, double gamma,
                         mg_reduction red);
/* MyGrad's: -alpha (1 - p_y)^gamma log p_y with p = softmax(logits) over
 * the class axis (log p_y from logsoftmax, so it stays finite). */
mg_tensor *mg_softmax_focal_loss(mg_tensor *logits, mg_tensor *labels, double alpha,
                                 double gamma, mg_reduction red, int base);
/* (end nnet_act) */

/* ---- nnet_layers: nn_layers.c: initializers, batchnorm, dropout, embedding, gru ---- */
/* Initializers (mg.nnet.initializers; the others are composed in Lua).  A
 * new constant tensor of a float dtype, drawn from the global generator.
 * orthogonal: as PyTorch's orthogonal_ (shape read as shape[0] x the rest;
 * at least 2 axes); gain times a Haar-distributed orthogonal matrix
 * (Householder QR of a normal matrix, columns signed by R's diagonal).
 * dirac: as PyTorch's dirac_ (at least 2 axes; shape[0] divisible by
 * groups): gain at [g*opg + d, d, k1/2, k2/2, ...], zeros elsewhere. */
mg_tensor *mg_init_orthogonal(int ndim, const int64_t *shape, double gain, mg_dtype dt);
mg_tensor *mg_init_dirac(int ndim, const int64_t *shape, int64_t groups, double gain, mg_dtype dt);
/* table[idx]: the rows of table (V x D) named by the int64 tensor idx (any
 * shape; values count from base, all in base..V-1+base, else an error that
 * names the index and V).  Result idx.shape + {D}; its backward scatter-adds,
 * so repeated indices accumulate. */
mg_tensor *mg_embedding(mg_tensor *idx, mg_tensor *table, int base);
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

/* ---- optim: optim.c: parameter updates over a list of tensors ---- */
/* One optimizer step over n parameters, with PyTorch's update rules.  Each
 * params[i] (float32/float64, any layout but broadcast) whose grads[i] is not
 * NULL is updated in place (its storage version is bumped); a NULL gradient
 * skips the parameter.  State tensors are contiguous tensors of the
 * parameter's shape and dtype, zero-filled before their first step, kept by
 * the caller and updated in place.  Everything is checked before anything
 * changes; returns 0 or an mg_err code.  Nothing is recorded for autograd. */
typedef struct mg_sgd_opts {
    double lr, momentum, dampening, weight_decay;
    bool nesterov, maximize;
} mg_sgd_opts;
/* bufs: the momentum buffers (may be NULL when momentum is 0); fresh[i]
 * (fresh may be NULL: none) marks a buffer's first step, which sets it to the
 * update instead of averaging into it (as PyTorch). */
int mg_sgd_step(int64_t n, mg_tensor *const *params, mg_tensor *const *grads,
                mg_tensor *const *bufs, const bool *fresh, const mg_sgd_opts *o);

typedef struct mg_adam_opts {
    double lr, beta1, beta2, eps, weight_decay;
    bool amsgrad, maximize;
    bool decoupled; /* AdamW: weight decay scales the parameter, not the gradient */
} mg_adam_opts;
/* steps[i]: the number of this update for parameter i (1 on its first). */
int mg_adam_step(int64_t n, mg_tensor *const *params, mg_tensor *const *grads,
                 mg_tensor *const *exp_avg, mg_tensor *const *exp_avg_sq,
                 mg_tensor *const *max_exp_avg_sq /* amsgrad only */, const int64_t *steps,
                 const mg_adam_opts *o);

typedef struct mg_rmsprop_opts {
    double lr, alpha, eps, weight_decay, momentum;
    bool centered, maximize;
} mg_rmsprop_opts;
int mg_rmsprop_step(int64_t n, mg_tensor *const *params, mg_tensor *const *grads,
                    mg_tensor *const *square_avg, mg_tensor *const *grad_avg /* centered only */,
                    mg_tensor *const *momentum_buffer /* momentum > 0 only */,
                    const mg_rmsprop_opts *o);
/* (end optim) */

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
/* t's .grad (a borrowed reference, NULL when it has none or a copy failed:
 * see mg_errcode).  Backward stores a gradient without copying it even when
 * it shares memory with another tensor's gradient (most are never read);
 * this makes it t's own first, so it can be written into.  t->grad read
 * directly may be shared: read it, do not write it. */
mg_tensor *mg_grad_of(mg_tensor *t);
int mg_requires_grad_(mg_tensor *t, bool on);  /* leaves only, floats only */
void mg_detach_(mg_tensor *t);                 /* cut t from its graph */
const char *mg_grad_fn_name(const mg_tensor *t); /* "MulBackward", or NULL */

/* ---- printing -------------------------------------------------------------
 * NumPy-like text of the values, e.g. "[[1., 2.],\n [3., 4.]]" with each
 * continuation line indented by `indent` extra spaces (the length of the
 * caller's prefix, such as "Tensor(").  Long rows wrap as NumPy's repr wraps
 * them at 75 columns, prefix included.  malloc'd; NULL on allocation failure. */
char *mg_format(const mg_tensor *t, int indent);

#endif
