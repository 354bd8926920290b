/* ops_reduce.c — reductions over a set of axes (sum, mean) and sum_to, the
 * reverse of broadcasting that backward uses.  Floats accumulate in double;
 * integers and bools sum to int64 (wrapping). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Reduced shape: keepdims keeps reduced axes as 1. */
static int reduced_shape(const mg_tensor *a, uint32_t axes, bool keepdims, int *ndim,
                         int64_t *shape) {
    int n = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (axes & (1u << i)) {
            if (keepdims) shape[n++] = 1;
        } else shape[n++] = a->shape[i];
    }
    *ndim = n;
    return MG_OK;
}

static int check_axes(const char *op, const mg_tensor *a, uint32_t *axes) {
    if (*axes == MG_ALLAXES) {
        *axes = a->ndim ? (uint32_t)((1ull << a->ndim) - 1) : 0;
        return MG_OK;
    }
    for (int i = a->ndim; i < 32; i++)
        if (*axes & (1u << i))
            return mg_seterr(MG_EINDEX, "%s: axis %d is out of range for a tensor with %d axes",
                             op, i, a->ndim);
    return MG_OK;
}

typedef struct { mg_dtype dt; } acc_ctx;

/* The sum of a contiguous run, in SUM_LANES partial sums (independent
 * chains the compiler keeps in vector registers), added up at the end.
 * Built also for AVX-512 and AVX2 where GCC can (picked at load time): the
 * same lanes added in the same order, so the same bits, but the widening
 * float -> double conversions 8 or 4 at a time instead of 2 (the plain
 * build could not keep up with memory on one core). */
#define SUM_LANES 16
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define SUM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SUM_CLONES
#endif
SUM_CLONES
static double sum_run_f32(const float *x, int64_t n) {
    double p[SUM_LANES] = {0};
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int k = 0; k < SUM_LANES; k++) p[k] += x[i + k];
    double s = 0;
    for (int k = 0; k < SUM_LANES; k++) s += p[k];
    for (; i < n; i++) s += x[i];
    return s;
}
SUM_CLONES
static double sum_run_f64(const double *x, int64_t n) {
    double p[SUM_LANES] = {0};
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int k = 0; k < SUM_LANES; k++) p[k] += x[i + k];
    double s = 0;
    for (int k = 0; k < SUM_LANES; k++) s += p[k];
    for (; i < n; i++) s += x[i];
    return s;
}

/* acc[i * sa] += x[i * sx]; a run into one accumulator sums locally first. */
static void acc_f32(const float *x, int64_t sx, double *acc, int64_t sa, int64_t n) {
    double s = 0;
    if (sa == 0 && sx == 1) acc[0] += sum_run_f32(x, n);
    else if (sa == 0) {
        for (int64_t i = 0; i < n; i++) s += x[i * sx];
        acc[0] += s;
    } else if (sa == 1 && sx == 1)
        for (int64_t i = 0; i < n; i++) acc[i] += x[i];
    else
        for (int64_t i = 0; i < n; i++) acc[i * sa] += x[i * sx];
}
static void acc_f64(const double *x, int64_t sx, double *acc, int64_t sa, int64_t n) {
    double s = 0;
    if (sa == 0 && sx == 1) acc[0] += sum_run_f64(x, n);
    else if (sa == 0) {
        for (int64_t i = 0; i < n; i++) s += x[i * sx];
        acc[0] += s;
    } else if (sa == 1 && sx == 1)
        for (int64_t i = 0; i < n; i++) acc[i] += x[i];
    else
        for (int64_t i = 0; i < n; i++) acc[i * sa] += x[i * sx];
}

static void acc_run(char **p, const int64_t *st, int64_t n, void *vctx) {
    const acc_ctx *c = vctx;
    if (c->dt == MG_INT64 || c->dt == MG_BOOL) {
        uint64_t *acc = (uint64_t *)p[1];
        for (int64_t i = 0; i < n; i++)
            acc[i * st[1]] += c->dt == MG_INT64 ? (uint64_t)((const int64_t *)p[0])[i * st[0]]
                                                : ((const bool *)p[0])[i * st[0]];
        return;
    }
    if (c->dt == MG_FLOAT32) acc_f32((const float *)p[0], st[0], (double *)p[1], st[1], n);
    else acc_f64((const double *)p[0], st[0], (double *)p[1], st[1], n);
}

/* The sum of a long contiguous float run: SUM_BLOCK-element blocks summed
 * (by sum_run) among threads, the block sums then added in order, so the
 * result does not depend on the thread count. */
#define SUM_BLOCK ((int64_t)1 << 16)
typedef struct {
    const char *x;
    mg_dtype dt;
    int64_t n;
    double *part;
} block_sum;

static void sum_blocks(void *vctx, int64_t b, int64_t e) {
    const block_sum *c = vctx;
    for (int64_t k = b; k < e; k++) {
        int64_t lo = k * SUM_BLOCK, m = c->n - lo < SUM_BLOCK ? c->n - lo : SUM_BLOCK;
        c->part[k] = c->dt == MG_FLOAT32 ? sum_run_f32((const float *)c->x + lo, m)
                                         : sum_run_f64((const double *)c->x + lo, m);
    }
}

static int sum_long_run(const void *x, mg_dtype dt, int64_t n, double *out) {
    int64_t nb = (n + SUM_BLOCK - 1) / SUM_BLOCK;
    double *part = malloc((size_t)nb * sizeof *part);
    if (!part) return mg_seterr(MG_ENOMEM, "sum: out of memory");
    block_sum c = {x, dt, n, part};
    mg_parallel_range(nb, 4 * MG_PARALLEL_MIN / SUM_BLOCK, sum_blocks, &c); /* >= 2 blocks each */
    double s = 0;
    for (int64_t k = 0; k < nb; k++) s += part[k];
    free(part);
    *out = s;
    return MG_OK;
}

/* Sums a over axes into a new tensor of dtype out_dt, then scales by `scale`
 * (1 for sum, 1/count for mean). */
static mg_tensor *reduce_sum(mg_tensor *a, uint32_t axes, bool keepdims, mg_dtype out_dt,
                             double scale) {
    int ndim;
    int64_t shape[MG_MAXDIM], kshape[MG_MAXDIM], kstride[MG_MAXDIM];
    reduced_shape(a, axes, keepdims, &ndim, shape);
    mg_tensor *out = mg_empty(ndim, shape, out_dt);
    if (!out) return NULL;
    int64_t nout = mg_numel(out);
    void *acc = calloc((size_t)(nout ? nout : 1), 8); /* double or uint64 accumulators */
    if (!acc) {
        mg_release(out);
        mg_seterr(MG_ENOMEM, "sum: out of memory");
        return NULL;
    }
    /* accumulator strides at a's shape: 0 on reduced axes */
    for (int i = 0; i < a->ndim; i++) kshape[i] = (axes & (1u << i)) ? 1 : a->shape[i];
    mg_contiguous_strides(a->ndim, kshape, kstride);
    for (int i = 0; i < a->ndim; i++)
        if (axes & (1u << i)) kstride[i] = 0;
    acc_ctx c = {a->dtype};
    char *base[2] = {(char *)mg_data_ptr(a), (char *)acc};
    const int64_t *st[2] = {a->stride, kstride};
    size_t esz[2] = {mg_dtype_size(a->dtype), 8};
    int64_t n = mg_numel(a);
    if (nout == 1 && n > SUM_BLOCK && mg_dtype_is_float(a->dtype) && mg_is_contiguous(a)) {
        if (sum_long_run(mg_data_ptr(a), a->dtype, n, acc)) {
            free(acc);
            mg_release(out);
            return NULL;
        }
    } else {
        mg_strided_walk(a->ndim, a->shape, 2, base, st, esz, acc_run, &c);
    }

    void *o = mg_data_ptr(out);
    bool int_acc = a->dtype == MG_INT64 || a->dtype == MG_BOOL;
    for (int64_t i = 0; i < nout; i++) {
        double v = int_acc ? (double)(int64_t)((uint64_t *)acc)[i] : ((double *)acc)[i];
        if (out_dt == MG_INT64) ((int64_t *)o)[i] = (int64_t)((uint64_t *)acc)[i];
        else if (out_dt == MG_FLOAT32) ((float *)o)[i] = (float)(v * scale);
        else ((double *)o)[i] = v * scale;
    }
    free(acc);
    return out;
}

static int64_t reduced_count(const mg_tensor *a, uint32_t axes) {
    int64_t c = 1;
    for (int i = 0; i < a->ndim; i++)
        if (axes & (1u << i)) c *= a->shape[i];
    return c;
}

static mg_tensor *sum_fw(mg_tensor **in, const mg_params *p) {
    mg_dtype dt = mg_dtype_is_float(in[0]->dtype) ? in[0]->dtype : MG_INT64;
    return reduce_sum(in[0], p->axes, p->keepdims, dt, 1.0);
}

static mg_tensor *mean_fw(mg_tensor **in, const mg_params *p) {
    mg_dtype dt = mg_dtype_is_float(in[0]->dtype) ? in[0]->dtype : mg_default_float();
    int64_t c = reduced_count(in[0], p->axes);
    return reduce_sum(in[0], p->axes, p->keepdims, dt, c ? 1.0 / (double)c : 0.0 / 0.0);
}

/* g (at the reduced shape) broadcast back to the input's shape. */
static mg_tensor *expand_back(mg_node *n, mg_tensor *g) {
    mg_tensor *a = n->inputs[0];
    int64_t kshape[MG_MAXDIM];
    for (int i = 0; i < a->ndim; i++) kshape[i] = (n->p.axes & (1u << i)) ? 1 : a->shape[i];
    mg_tensor *k = mg_reshape(g, a->ndim, kshape);
    mg_tensor *r = k ? mg_broadcast_to(k, a->ndim, a->shape) : NULL;
    mg_release(k);
    return r;
}

static int sum_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = expand_back(n, g);
    return gin[0] ? MG_OK : mg_errcode();
}

static int mean_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *e = expand_back(n, g);
    mg_tensor *c = e ? mg_scalar((double)reduced_count(n->inputs[0], n->p.axes), g->dtype) : NULL;
    gin[0] = c ? mg_div(e, c) : NULL;
    mg_release(e);
    mg_release(c);
    return gin[0] ? MG_OK : mg_errcode();
}

const mg_opdef mg_op_sum = {"sum", "SumBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    sum_fw, sum_bw, 0, NULL};
const mg_opdef mg_op_mean = {"mean", "MeanBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    mean_fw, mean_bw, 0, NULL};

static mg_tensor *reduce(const mg_opdef *op, mg_tensor *a, uint32_t axes, bool keepdims) {
    if (!a) return mg_apply(op, &a, NULL); /* reports the missing input */
    if (check_axes(op->name, a, &axes)) return NULL;
    mg_params p;
    memset(&p, 0, sizeof p);
    p.axes = axes;
    p.keepdims = keepdims;
    return mg_apply(op, &a, &p);
}

mg_tensor *mg_sum(mg_tensor *a, uint32_t axes, bool keepdims) {
    return reduce(&mg_op_sum, a, axes, keepdims);
}
mg_tensor *mg_mean(mg_tensor *a, uint32_t axes, bool keepdims) {
    return reduce(&mg_op_mean, a, axes, keepdims);
}

mg_tensor *mg_sum_to(mg_tensor *a, int ndim, const int64_t *shape) {
    int lead = a->ndim - ndim;
    char sa[256], sb[256];
    if (lead < 0) goto bad;
    uint32_t axes = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (i < lead) axes |= 1u << i;
        else if (shape[i - lead] == 1 && a->shape[i] != 1) axes |= 1u << i;
        else if (shape[i - lead] != a->shape[i]) goto bad;
    }
    if (!axes) return mg_retain(a);
    mg_tensor *s = mg_sum(a, axes, true);
    mg_tensor *r = s ? mg_reshape(s, ndim, shape) : NULL;
    mg_release(s);
    return r;
bad:
    mg_seterr(MG_ESHAPE, "sum_to: cannot sum shape %s down to %s",
              mg_shape_str(a->ndim, a->shape, sa, sizeof sa), mg_shape_str(ndim, shape, sb, sizeof sb));
    return NULL;
}
