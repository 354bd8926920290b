/* internal.h — what the library's own files share and users do not see:
 * the op table entry (mg_opdef), recorded graph nodes, op parameters, the
 * strided iterator and small helpers. */
#ifndef MOONGRAD_INTERNAL_H
#define MOONGRAD_INTERNAL_H

#include "moongrad.h"

/* Thread-local state read on every op (grad mode, error code, node free
 * list): the initial-exec model makes each access one instruction instead
 * of a call to __tls_get_addr (core.so is a dlopen'ed PIC library).  The
 * model puts all of the library's thread-locals in glibc's small static
 * TLS surplus, so keep them to small scalars (the error message lives in a
 * heap buffer per thread, tensor.c). */
#define MG_HOT_TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* Parameters an op needs beyond its inputs; copied into the node. */
typedef struct mg_params {
    uint32_t axes;                 /* reductions */
    bool keepdims;
    int ndim;                      /* a target shape: reshape, broadcast, sum_to */
    int64_t shape[MG_MAXDIM];
    int perm[MG_MAXDIM];           /* permute */
    int nidx;                      /* indexing */
    mg_index idx[MG_MAXDIM];
    mg_dtype dtype;                /* astype */
    /* general-purpose fields for ops that need a few more numbers */
    int axis;                      /* a single axis (0-based) */
    int64_t ival[MG_MAXDIM];       /* integers: sizes, counts, pads, ... */
    double dval[4];                /* scalars: ddof, clip bounds, pad value, ... */
    char spec[64];                 /* a short string, e.g. einsum subscripts */
} mg_params;

typedef struct mg_opdef mg_opdef;

struct mg_node {
    const mg_opdef *op;
    int ninputs;
    mg_tensor *inputs[MG_MAXINPUTS];   /* strong references */
    uint64_t versions[MG_MAXINPUTS];   /* storage versions when recorded */
    mg_tensor *out;                    /* detached alias of the output (ops that save it) */
    uint64_t out_version;
    mg_params p;
    bool freed;                        /* graph released by backward */
    /* an op defined outside the library (custom.c) keeps its state here */
    void *ctx;
    void (*ctx_free)(void *ctx);
};

/* Element-wise loops over one run of n elements; strides in elements
 * (0 = broadcast).  One per compute dtype (float32, float64, int64). */
typedef void (*mg_unary_loop)(const void *a, int64_t sa, void *o, int64_t n);
typedef void (*mg_binary_loop)(const void *a, int64_t sa, const void *b, int64_t sb,
                               void *o, int64_t n);

/* How an element-wise op picks its compute and result dtypes. */
typedef enum {
    MG_RES_SAME,    /* promote inputs (bool counts as int64); result = compute dtype */
    MG_RES_FLOAT,   /* as SAME, but integers compute in the default float dtype */
    MG_RES_BOOL,    /* compute in the promoted dtype, result bool */
} mg_result_rule;

typedef enum { MG_KIND_UNARY, MG_KIND_BINARY, MG_KIND_OTHER } mg_op_kind;

/* Backward: given the node and the gradient g of its output, sets gin[i]
 * (a new reference) for every input i that is a variable.  The result may
 * have the output's broadcast shape: the engine sums it down and casts it.
 * Written with mg_* ops, so it is itself recorded under create_graph. */
typedef int (*mg_backward_fn)(mg_node *n, mg_tensor *g, mg_tensor **gin);
/* Forward of a non-element-wise op: computes the output, records nothing. */
typedef mg_tensor *(*mg_forward_fn)(mg_tensor **in, const mg_params *p);

#define MG_SAVES_IN(i) (1u << (i))  /* backward reads input i's values (i < 8) */
#define MG_SAVES_IN0 MG_SAVES_IN(0)
#define MG_SAVES_IN1 MG_SAVES_IN(1)
#define MG_SAVES_OUT (1u << 31)     /* backward reads the output's values */

struct mg_opdef {
    const char *name;         /* "mul": used in error messages */
    const char *grad_name;    /* "MulBackward": grad_fn; NULL = not differentiable */
    int arity;
    mg_op_kind kind;
    mg_result_rule rule;      /* element-wise ops */
    mg_unary_loop unary[3];   /* indexed by compute dtype: F32, F64, I64 */
    mg_binary_loop binary[3];
    mg_forward_fn forward;    /* MG_KIND_OTHER */
    mg_backward_fn backward;
    unsigned saves;           /* MG_SAVES_* bits: which values backward reads */
    int (*check)(mg_tensor **in);  /* extra input checks (e.g. integer /0), or NULL */
};

/* parallel.c: fn over [begin, end) of a loop, split among mg_num_threads()
 * threads when each part gets at least MG_PARALLEL_MIN iterations. */
typedef void (*mg_range_fn)(void *ctx, int64_t begin, int64_t end);
#define MG_PARALLEL_MIN ((int64_t)1 << 15)
void mg_parallel_for(int64_t n, mg_range_fn fn, void *ctx);
/* The same with each thread given at least min_per_thread iterations. */
void mg_parallel_range(int64_t n, int64_t min_per_thread, mg_range_fn fn, void *ctx);
/* fn(ctx, part, begin, end) over [0, nitems), for a few heavy items (even
 * 2): mg_parallel_parts(nitems) = min(mg_num_threads(), nitems) threads
 * (part 0 the caller) take the items one at a time ([i, i + 1); with one
 * part, one call for all); OpenBLAS runs single-threaded inside. */
typedef void (*mg_part_fn)(void *ctx, int part, int64_t begin, int64_t end);
int mg_parallel_parts(int64_t nitems);
void mg_parallel_items(int64_t nitems, mg_part_fn fn, void *ctx);
/* fn(ctx, part) for part 0 .. nparts - 1 on the pool (part 0 the caller);
 * returns when all are done.  mg_in_parallel: this thread is inside such
 * a part (or an items job), where nothing is split again. */
typedef void (*mg_job_fn)(void *ctx, int part);
void mg_parallel_run(int nparts, mg_job_fn fn, void *ctx);
bool mg_in_parallel(void);

/* gemm.c: C = alpha op(A) op(B) + beta C, row-major, float32 or float64,
 * through OpenBLAS on one thread per call; a large product outside a
 * parallel part is split into row (or column) blocks over the pool. */
void mg_gemm(mg_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
             const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c,
             int64_t ldc);
/* OpenBLAS held at one thread and its own idle threads stopped (once). */
void mg_blas_single(void);

/* ops.c: the dispatcher every op goes through. */
mg_tensor *mg_apply(const mg_opdef *op, mg_tensor **in, const mg_params *p);
/* The output's value as backward may use it: the saved alias, or under
 * create_graph the op recomputed on its inputs (so it is differentiable). */
mg_tensor *mg_node_output(mg_node *n);
void mg_node_free(mg_node *n);

/* The op table entries, by name (ops_*.c). */
extern const mg_opdef mg_op_add, mg_op_sub, mg_op_mul, mg_op_div, mg_op_pow,
    mg_op_floordiv, mg_op_mod, mg_op_neg, mg_op_exp, mg_op_log, mg_op_sqrt,
    mg_op_sin, mg_op_cos, mg_op_tanh, mg_op_abs, mg_op_square, mg_op_sign,
    mg_op_sum, mg_op_mean, mg_op_reshape, mg_op_permute,
    mg_op_broadcast_to, mg_op_index_get, mg_op_index_put, mg_op_index_scatter,
    mg_op_matmul, mg_op_astype, mg_op_clone;

/* tensor.c */
mg_tensor *mg_tensor_alloc(void);   /* header only, refcount 1 */
mg_storage *mg_storage_new(size_t nbytes);
void mg_storage_release(mg_storage *s);
mg_tensor *mg_view(mg_tensor *base, int ndim, const int64_t *shape,
                   const int64_t *stride, int64_t offset); /* constant view */
void mg_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);
int mg_shape_numel(int ndim, const int64_t *shape, int64_t *out); /* checks overflow */
bool mg_same_shape(const mg_tensor *a, const mg_tensor *b);
int mg_broadcast_shape(const char *op, const mg_tensor *a, const mg_tensor *b,
                       int *ndim, int64_t *shape);
/* Strides that make t read as if broadcast to (ndim, shape); 0 on new axes. */
void mg_broadcast_strides(const mg_tensor *t, int ndim, const int64_t *shape, int64_t *stride);
mg_dtype mg_promote(mg_dtype a, mg_dtype b);
/* Converting copy of src (any layout) into the contiguous buffer dst of dtype dt. */
int mg_copy_cast(const mg_tensor *src, void *dst, mg_dtype dt);
/* A contiguous copy of a in dtype dt (no recording). */
mg_tensor *mg_copy_of(mg_tensor *a, mg_dtype dt);
/* A recorded write into a: copies out's values into a's storage (so views
 * of a see them; bumps its version) and lets out, which stands for a in the
 * graph from now on, share that storage with a's layout.  Returns out, or
 * NULL after releasing it. */
mg_tensor *mg_write_back(mg_tensor *a, mg_tensor *out);
/* Copies src into dst's layout (shapes must match; dtypes may differ). */
int mg_copy_strided(mg_tensor *dst, const mg_tensor *src);

/* Calls fn on every innermost run of a strided walk over `shape`, for nops
 * (<= 4) operands with element strides st[k] and base pointers p[k] (byte
 * sizes esz[k]).  Axes that all operands traverse as one are merged first,
 * so a run covers one or more trailing axes (its strides: the innermost's). */
typedef void (*mg_run_fn)(char **p, const int64_t *inner_stride, int64_t n, void *ctx);
void mg_strided_walk(int ndim, const int64_t *shape, int nops, char **base,
                     const int64_t *const *st, const size_t *esz, mg_run_fn fn, void *ctx);

/* grad_util.c: helpers for backward functions and composites.  The take
 * functions apply op and release their (new-reference) arguments. */
bool mg_wants(const mg_node *n, int i);
mg_tensor *mg_scal(double v, const mg_tensor *like);
mg_tensor *mg_take1(mg_tensor *(*op)(mg_tensor *), mg_tensor *a);
mg_tensor *mg_take2(mg_tensor *(*op)(mg_tensor *, mg_tensor *), mg_tensor *a, mg_tensor *b);
mg_tensor *mg_take3(mg_tensor *(*op)(mg_tensor *, mg_tensor *, mg_tensor *), mg_tensor *a,
                    mg_tensor *b, mg_tensor *c);

/* autograd.c */
bool mg_in_backward(void);

/* custom.c: the grad_fn name of a custom op's node ("SquareBackward"), NULL for other nodes */
const char *mg_custom_grad_name(const mg_node *n);

#endif
