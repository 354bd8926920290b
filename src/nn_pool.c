/* nn_pool.c — max and average pooling over the trailing 1, 2 or 3 axes of
 * a tensor (every leading axis, e.g. N and C, is a separate "plane").
 *
 * max_pool = a search for the arg-max of each window (done once, in the
 * forward, in one pass; first maximum on ties, NaN wins) giving an int64
 * tensor of offsets within the plane and the maxima, then the op
 * pool_gather(x, idx), which takes those maxima rather than gathering.
 * The offsets stay in the recorded node as its second input, so backward
 * reads them instead of searching again: the gradient of pool_gather is
 * pool_scatter(g, idx) (adds g into zeros at idx) and the gradient of that
 * is pool_gather again, so create_graph works.
 * avg_pool and its transpose avg_pool_grad are each other's gradients; zero
 * padding counts in the mean (PyTorch's count_include_pad = True).
 * Average pooling reads its windows through an int32 "plan": the input
 * offset (within a plane) of each (window tap, output position), -1 where
 * the window reads padding, built once per call and shared by every plane.
 * The max-pool search and its scatter share the planes of large inputs
 * among threads. */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- geometry ----------------------------------------------------------------- */
/* Params: axis = d (pooled trailing axes); ival[0..2] pool, [3..5] stride,
 * [6..8] padding; ndim/shape: the input's shape (for the backward ops). */
typedef struct {
    int d;
    int64_t planes;                        /* product of the leading axes */
    int64_t in[3], k[3], s[3], pad[3], dil[3], out[3];
    int64_t IN, K, OUT;                    /* per plane: input, taps, output */
} pool_geom;

static void geom_make(int ndim, const int64_t *xs, const mg_params *p, pool_geom *g) {
    int d = p->axis, lead = ndim - d;
    g->d = d;
    g->planes = 1;
    for (int i = 0; i < lead; i++) g->planes *= xs[i];
    g->IN = g->K = g->OUT = 1;
    for (int j = 0; j < 3; j++) {
        int i = j - (3 - d);
        bool real = i >= 0;
        g->in[j] = real ? xs[lead + i] : 1;
        g->k[j] = real ? p->ival[i] : 1;
        g->s[j] = real ? p->ival[3 + i] : 1;
        g->pad[j] = real ? p->ival[6 + i] : 0;
        g->dil[j] = 1;
        g->out[j] = (g->in[j] + 2 * g->pad[j] - g->k[j]) / g->s[j] + 1;
        g->IN *= g->in[j];
        g->K *= g->k[j];
        g->OUT *= g->out[j];
    }
}

/* The pooled shape: x's leading axes, then the output sizes. */
static void out_shape(int ndim, const int64_t *xs, const pool_geom *g, int64_t *shape) {
    int lead = ndim - g->d;
    for (int i = 0; i < lead; i++) shape[i] = xs[i];
    for (int i = 0; i < g->d; i++) shape[lead + i] = g->out[3 - g->d + i];
}

/* Input offsets (within one channel) read by each (tap, output position);
 * -1 for padding.  Layout [tap][output], taps and outputs row-major.
 * Callers have checked that in[0]*in[1]*in[2] fits in int32. */
static int32_t *window_plan(const int64_t *in, const int64_t *k, const int64_t *out,
                             const int64_t *s, const int64_t *pad, const int64_t *dil) {
    int64_t taps = k[0] * k[1] * k[2], outs = out[0] * out[1] * out[2];
    int32_t *plan = malloc((size_t)(taps * outs > 0 ? taps * outs : 1) * sizeof *plan);
    if (!plan) {
        mg_seterr(MG_ENOMEM, "pooling: out of memory for a plan of %lld x %lld entries",
                  (long long)taps, (long long)outs);
        return NULL;
    }
    int32_t *r = plan;
    for (int64_t a = 0; a < k[0]; a++)
        for (int64_t b = 0; b < k[1]; b++)
            for (int64_t c = 0; c < k[2]; c++)
                for (int64_t oa = 0; oa < out[0]; oa++) {
                    int64_t ia = oa * s[0] - pad[0] + a * dil[0];
                    for (int64_t ob = 0; ob < out[1]; ob++) {
                        int64_t ib = ob * s[1] - pad[1] + b * dil[1];
                        bool ok = ia >= 0 && ia < in[0] && ib >= 0 && ib < in[1];
                        for (int64_t oc = 0; oc < out[2]; oc++) {
                            int64_t ic = oc * s[2] - pad[2] + c * dil[2];
                            *r++ = ok && ic >= 0 && ic < in[2]
                                       ? (int32_t)((ia * in[1] + ib) * in[2] + ic)
                                       : -1;
                        }
                    }
                }
    return plan;
}

static int32_t *plan_of(const pool_geom *g) {
    return window_plan(g->in, g->k, g->out, g->s, g->pad, g->dil);
}

static mg_tensor *dense(mg_tensor *a) {
    return mg_is_contiguous(a) ? mg_retain(a) : mg_copy_of(a, a->dtype);
}

/* ---- kernels, one plane at a time --------------------------------------------- */
/* ---- max: the arg-max search ---------------------------------------------------
 * One pass over each window in its row-major order keeps the maximum and
 * its place: a tap replaces the best so far when it is larger, or when it
 * is NaN and the best is not (so NaN wins its window and ties go to the
 * first maximum).  The forward writes both the maximum (the output) and
 * its place (an offset within the plane).
 * General path: output rows (axes 0 and 1 of the padded 3) are searched one
 * at a time; along the innermost axis each tap covers a run of outputs
 * [lo, hi) that reads the input at o * s + base, so the loops over o have
 * no branches (random data would defeat the branch predictor).
 * Fast path (2 x 2 windows, stride 2, no padding): the four taps of each
 * window read directly. */
typedef struct {
    int64_t base, lo, hi;
} tap_run;

static tap_run run_of(const pool_geom *g, int64_t t) {
    int64_t s = g->s[2], base = t - g->pad[2], n = g->in[2];
    tap_run r = {base, base >= 0 ? 0 : (-base + s - 1) / s, n - base <= 0 ? 0 : (n - base + s - 1) / s};
    if (r.hi > g->out[2]) r.hi = g->out[2];
    if (r.lo > r.hi) r.lo = r.hi;
    return r;
}

/* Input row read by output row (oa, ob) at taps (ta, tb), or -1 (padding). */
static int64_t row_of(const pool_geom *g, int64_t oa, int64_t ob, int64_t ta, int64_t tb) {
    int64_t ia = oa * g->s[0] - g->pad[0] + ta, ib = ob * g->s[1] - g->pad[1] + tb;
    if (ia < 0 || ia >= g->in[0] || ib < 0 || ib >= g->in[1]) return -1;
    return (ia * g->in[1] + ib) * g->in[2];
}

/* General path: one tap's run of outputs (input src[o s + base], offset
 * row + o s + base in the plane).  A tap is taken when nothing is yet
 * (arg < 0), when it is larger, or when it is NaN and the best so far is
 * not.  Inlined with s = 1 and s = 2, so those loops are vectorized. */
static inline void update_run_f32(const float *restrict src, int64_t s, tap_run r, int64_t row,
                                  float *restrict best, int64_t *restrict arg) {
    for (int64_t o = r.lo; o < r.hi; o++) {
        float v = src[o * s + r.base], b = best[o];
        int64_t a = arg[o];
        bool take = a < 0 || v > b || (v != v && b == b);
        best[o] = take ? v : b;
        arg[o] = take ? row + o * s + r.base : a;
    }
}
static inline void update_run_f64(const double *restrict src, int64_t s, tap_run r, int64_t row,
                                  double *restrict best, int64_t *restrict arg) {
    for (int64_t o = r.lo; o < r.hi; o++) {
        double v = src[o * s + r.base], b = best[o];
        int64_t a = arg[o];
        bool take = a < 0 || v > b || (v != v && b == b);
        best[o] = take ? v : b;
        arg[o] = take ? row + o * s + r.base : a;
    }
}

/* General path: output row (oa, ob) of one plane into best and arg. */
static void argmax_row_f32(const float *x, const pool_geom *g, int64_t oa, int64_t ob,
                           float *restrict best, int64_t *restrict arg) {
    int64_t s = g->s[2];
    for (int64_t o = 0; o < g->out[2]; o++) {
        best[o] = -INFINITY;
        arg[o] = -1;
    }
    for (int64_t ta = 0; ta < g->k[0]; ta++)
        for (int64_t tb = 0; tb < g->k[1]; tb++) {
            int64_t row = row_of(g, oa, ob, ta, tb);
            if (row < 0) continue;
            const float *src = x + row;
            for (int64_t tc = 0; tc < g->k[2]; tc++) {
                tap_run r = run_of(g, tc);
                if (s == 1) update_run_f32(src, 1, r, row, best, arg);
                else if (s == 2) update_run_f32(src, 2, r, row, best, arg);
                else update_run_f32(src, s, r, row, best, arg);
            }
        }
}
static void argmax_row_f64(const double *x, const pool_geom *g, int64_t oa, int64_t ob,
                           double *restrict best, int64_t *restrict arg) {
    int64_t s = g->s[2];
    for (int64_t o = 0; o < g->out[2]; o++) {
        best[o] = -INFINITY;
        arg[o] = -1;
    }
    for (int64_t ta = 0; ta < g->k[0]; ta++)
        for (int64_t tb = 0; tb < g->k[1]; tb++) {
            int64_t row = row_of(g, oa, ob, ta, tb);
            if (row < 0) continue;
            const double *src = x + row;
            for (int64_t tc = 0; tc < g->k[2]; tc++) {
                tap_run r = run_of(g, tc);
                if (s == 1) update_run_f64(src, 1, r, row, best, arg);
                else if (s == 2) update_run_f64(src, 2, r, row, best, arg);
                else update_run_f64(src, s, r, row, best, arg);
            }
        }
}

/* Fast path, 2 x 2 windows with stride 2: input rows r0 and r1 = r0 + w
 * (r0 at offset start in the plane) give n outputs (the compiler
 * vectorizes this loop). */
static void max2x2_row_f32(const float *restrict r0, int64_t w, int64_t start, int64_t n,
                           float *restrict y, int64_t *restrict arg) {
    const float *restrict r1 = r0 + w;
    for (int64_t o = 0; o < n; o++) {
        float a = r0[2 * o], b = r0[2 * o + 1], c = r1[2 * o], d = r1[2 * o + 1];
        float best = a;
        int64_t t = 0;
        if (b > best || (b != b && best == best)) {
            best = b;
            t = 1;
        }
        if (c > best || (c != c && best == best)) {
            best = c;
            t = w;
        }
        if (d > best || (d != d && best == best)) {
            best = d;
            t = w + 1;
        }
        y[o] = best;
        arg[o] = start + 2 * o + t;
    }
}
static void max2x2_row_f64(const double *restrict r0, int64_t w, int64_t start, int64_t n,
                           double *restrict y, int64_t *restrict arg) {
    const double *restrict r1 = r0 + w;
    for (int64_t o = 0; o < n; o++) {
        double a = r0[2 * o], b = r0[2 * o + 1], c = r1[2 * o], d = r1[2 * o + 1];
        double best = a;
        int64_t t = 0;
        if (b > best || (b != b && best == best)) {
            best = b;
            t = 1;
        }
        if (c > best || (c != c && best == best)) {
            best = c;
            t = w;
        }
        if (d > best || (d != d && best == best)) {
            best = d;
            t = w + 1;
        }
        y[o] = best;
        arg[o] = start + 2 * o + t;
    }
}

/* The fast path's geometry: 2 x 2 windows, stride 2, no padding, along the
 * last two axes (a window of one along axis 0 of the padded 3). */
static bool is_2x2(const pool_geom *g) {
    return g->k[0] == 1 && g->k[1] == 2 && g->k[2] == 2 && g->s[1] == 2 && g->s[2] == 2 &&
           g->pad[0] == 0 && g->pad[1] == 0 && g->pad[2] == 0;
}

/* One plane: the maxima into y, their places into arg. */
static void argmax_plane_f32(const float *x, const pool_geom *g, float *y, int64_t *arg) {
    bool two = is_2x2(g);
    for (int64_t oa = 0; oa < g->out[0]; oa++)
        for (int64_t ob = 0; ob < g->out[1]; ob++) {
            int64_t at = (oa * g->out[1] + ob) * g->out[2];
            int64_t start = (oa * g->s[0] * g->in[1] + ob * 2) * g->in[2]; /* when two */
            if (two) max2x2_row_f32(x + start, g->in[2], start, g->out[2], y + at, arg + at);
            else argmax_row_f32(x, g, oa, ob, y + at, arg + at);
        }
}
static void argmax_plane_f64(const double *x, const pool_geom *g, double *y, int64_t *arg) {
    bool two = is_2x2(g);
    for (int64_t oa = 0; oa < g->out[0]; oa++)
        for (int64_t ob = 0; ob < g->out[1]; ob++) {
            int64_t at = (oa * g->out[1] + ob) * g->out[2];
            int64_t start = (oa * g->s[0] * g->in[1] + ob * 2) * g->in[2]; /* when two */
            if (two) max2x2_row_f64(x + start, g->in[2], start, g->out[2], y + at, arg + at);
            else argmax_row_f64(x, g, oa, ob, y + at, arg + at);
        }
}

/* ---- average pooling kernels (one plane; plan as above) ------------------------- */
/* y[o] = (sum of window o, padding as 0) / K */
static void avg_f32(const float *x, const int32_t *plan, const pool_geom *g, float *y) {
    for (int64_t o = 0; o < g->OUT; o++) y[o] = 0;
    for (int64_t t = 0; t < g->K; t++) {
        const int32_t *row = plan + t * g->OUT;
        for (int64_t o = 0; o < g->OUT; o++)
            if (row[o] >= 0) y[o] += x[row[o]];
    }
    for (int64_t o = 0; o < g->OUT; o++) y[o] /= (float)g->K;
}
static void avg_f64(const double *x, const int32_t *plan, const pool_geom *g, double *y) {
    for (int64_t o = 0; o < g->OUT; o++) y[o] = 0;
    for (int64_t t = 0; t < g->K; t++) {
        const int32_t *row = plan + t * g->OUT;
        for (int64_t o = 0; o < g->OUT; o++)
            if (row[o] >= 0) y[o] += x[row[o]];
    }
    for (int64_t o = 0; o < g->OUT; o++) y[o] /= (double)g->K;
}

/* gx[window o] += gy[o] / K (gx zeroed by the caller) */
static void avg_grad_f32(const float *gy, const int32_t *plan, const pool_geom *g, float *gx) {
    for (int64_t t = 0; t < g->K; t++) {
        const int32_t *row = plan + t * g->OUT;
        for (int64_t o = 0; o < g->OUT; o++)
            if (row[o] >= 0) gx[row[o]] += gy[o] / (float)g->K;
    }
}
static void avg_grad_f64(const double *gy, const int32_t *plan, const pool_geom *g, double *gx) {
    for (int64_t t = 0; t < g->K; t++) {
        const int32_t *row = plan + t * g->OUT;
        for (int64_t o = 0; o < g->OUT; o++)
            if (row[o] >= 0) gx[row[o]] += gy[o] / (double)g->K;
    }
}

/* ---- the arg-max search (not an op: its result is an int64 constant) --------------
 * It also writes the maxima (*yp), which pool_gather(x, idx) would read
 * again: mg_max_pool hands them to gather_fw through `found` below. */
/* Planes are shared among threads (mg_parallel_items) when there are at
 * least PARALLEL_MIN input entries, in BLOCKS runs of consecutive planes
 * (a thread takes a run at a time): each plane is searched (scattered
 * into) the same way whichever thread has it, so the results do not depend
 * on the thread count. */
#define PARALLEL_MIN ((int64_t)1 << 18)
#define BLOCKS 32

/* What the share-out of planes calls: fn over planes [p0, p1). */
typedef void (*planes_fn)(void *job, int64_t p0, int64_t p1);

typedef struct {
    planes_fn fn;
    void *job;
    int64_t planes, blocks;
} planes_split;

/* The first plane of block i (blocks of sizes differing by at most one). */
static int64_t block_begin(const planes_split *s, int64_t i) {
    int64_t rem = s->planes % s->blocks;
    return (s->planes / s->blocks) * i + (i < rem ? i : rem);
}

static void run_blocks(void *ctx, int part, int64_t b0, int64_t b1) {
    (void)part;
    const planes_split *s = ctx;
    s->fn(s->job, block_begin(s, b0), block_begin(s, b1));
}

/* fn over planes [0, planes), split among threads when entries (the
 * larger side's total) make it worth it. */
static void over_planes(int64_t planes, int64_t entries, planes_fn fn, void *job) {
    if (planes <= 0) return;
    if (entries < PARALLEL_MIN || planes < 2) {
        fn(job, 0, planes);
        return;
    }
    planes_split s = {fn, job, planes, planes < BLOCKS ? planes : BLOCKS};
    mg_parallel_items(s.blocks, run_blocks, &s);
}

typedef struct {
    const pool_geom *g;
    mg_dtype dt;
    const char *x;
    char *y;
    int64_t *idx;
} argmax_job;

static void argmax_planes(void *job, int64_t p0, int64_t p1) {
    const argmax_job *j = job;
    const pool_geom *g = j->g;
    size_t es = mg_dtype_size(j->dt);
    for (int64_t pl = p0; pl < p1; pl++) {
        const char *xpl = j->x + (size_t)(pl * g->IN) * es;
        char *ypl = j->y + (size_t)(pl * g->OUT) * es;
        if (j->dt == MG_FLOAT32)
            argmax_plane_f32((const float *)xpl, g, (float *)ypl, j->idx + pl * g->OUT);
        else argmax_plane_f64((const double *)xpl, g, (double *)ypl, j->idx + pl * g->OUT);
    }
}


static mg_tensor *argmax_pool(mg_tensor *x, const mg_params *p, mg_tensor **yp) {
    pool_geom g;
    int64_t shape[MG_MAXDIM];
    geom_make(x->ndim, x->shape, p, &g);
    out_shape(x->ndim, x->shape, &g, shape);
    mg_tensor *X = dense(x), *idx = X ? mg_empty(x->ndim, shape, MG_INT64) : NULL;
    mg_tensor *y = idx ? mg_empty(x->ndim, shape, x->dtype) : NULL;
    if (!y) {
        mg_release(idx);
        mg_release(X);
        return NULL;
    }
    argmax_job job = {&g, x->dtype, mg_data_ptr(X), mg_data_ptr(y), mg_data_ptr(idx)};
    over_planes(g.planes, mg_numel(X), argmax_planes, &job);
    mg_release(X);
    *yp = y;
    return idx;
}

/* ---- pool_gather / pool_scatter --------------------------------------------------- */
/* Per-plane sizes of the trailing d axes of t. */
static int64_t trailing(const mg_tensor *t, int d) {
    int64_t n = 1;
    for (int i = t->ndim - d; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* The maxima found with idx by mg_max_pool's search, for the pool_gather it
 * applies next (this thread; cleared right after). */
static _Thread_local struct {
    const mg_tensor *x, *idx;
    mg_tensor *y;
} found;

/* y[plane, o] = x[plane, idx[plane, o]] */
static mg_tensor *gather_fw(mg_tensor **in, const mg_params *p) {
    if (found.y && in[0] == found.x && in[1] == found.idx) { /* already gathered */
        mg_tensor *y = found.y;
        found.y = NULL;
        return y;
    }
    mg_tensor *X = dense(in[0]), *idx = in[1];
    mg_tensor *y = X ? mg_empty(idx->ndim, idx->shape, X->dtype) : NULL;
    if (!y) goto done;
    int64_t IN = trailing(X, p->axis), OUT = trailing(idx, p->axis);
    int64_t planes = OUT ? mg_numel(y) / OUT : 0;
    const int64_t *ip = mg_data_ptr(idx);
    for (int64_t pl = 0; pl < planes; pl++, ip += OUT) {
        if (X->dtype == MG_FLOAT32) {
            const float *x = (const float *)mg_data_ptr(X) + pl * IN;
            float *o = (float *)mg_data_ptr(y) + pl * OUT;
            for (int64_t i = 0; i < OUT; i++) o[i] = x[ip[i]];
        } else {
            const double *x = (const double *)mg_data_ptr(X) + pl * IN;
            double *o = (double *)mg_data_ptr(y) + pl * OUT;
            for (int64_t i = 0; i < OUT; i++) o[i] = x[ip[i]];
        }
    }
done:
    mg_release(X);
    return y;
}

typedef struct {
    mg_dtype dt;
    int64_t IN, OUT;
    const char *g;
    const int64_t *idx;
    char *gx;
} scatter_job;

/* Planes p0 .. p1 - 1 of scatter_fw, each zeroed just before its scatter,
 * while it is in cache. */
static void scatter_planes(void *job, int64_t p0, int64_t p1) {
    const scatter_job *j = job;
    int64_t IN = j->IN, OUT = j->OUT;
    size_t es = mg_dtype_size(j->dt);
    for (int64_t pl = p0; pl < p1; pl++) {
        const int64_t *ip = j->idx + pl * OUT;
        memset(j->gx + (size_t)(pl * IN) * es, 0, (size_t)IN * es);
        if (j->dt == MG_FLOAT32) {
            const float *g = (const float *)j->g + pl * OUT;
            float *o = (float *)j->gx + pl * IN;
            for (int64_t i = 0; i < OUT; i++) o[ip[i]] += g[i];
        } else {
            const double *g = (const double *)j->g + pl * OUT;
            double *o = (double *)j->gx + pl * IN;
            for (int64_t i = 0; i < OUT; i++) o[ip[i]] += g[i];
        }
    }
}

/* gx = zeros of shape p->shape; gx[plane, idx[plane, o]] += g[plane, o] */
static mg_tensor *scatter_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *G = dense(in[0]), *idx = in[1];
    mg_tensor *gx = G ? mg_empty(p->ndim, p->shape, G->dtype) : NULL;
    if (!gx) goto done;
    int64_t IN = trailing(gx, p->axis), OUT = trailing(idx, p->axis);
    int64_t planes = IN ? mg_numel(gx) / IN : 0;
    scatter_job job = {G->dtype, IN, OUT, mg_data_ptr(G), mg_data_ptr(idx), mg_data_ptr(gx)};
    over_planes(planes, mg_numel(gx), scatter_planes, &job);
done:
    mg_release(G);
    return gx;
}

static int gather_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin);
static int scatter_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin);

static const mg_opdef op_pool_gather = {"max_pool", "MaxPoolBackward", 2, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, gather_fw, gather_bw, MG_SAVES_IN1, NULL};
static const mg_opdef op_pool_scatter = {"max_pool_grad", "MaxPoolGradBackward", 2,
    MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, scatter_fw, scatter_bw, MG_SAVES_IN1, NULL};

/* Applies op to (a, idx). */
static mg_tensor *apply_idx(const mg_opdef *op, mg_tensor *a, mg_tensor *idx, const mg_params *p) {
    mg_tensor *in[2] = {a, idx};
    return mg_apply(op, in, p);
}

static int gather_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin) {
    mg_params q = nd->p;
    q.ndim = nd->inputs[0]->ndim;
    memcpy(q.shape, nd->inputs[0]->shape, sizeof q.shape);
    gin[0] = apply_idx(&op_pool_scatter, g, nd->inputs[1], &q);
    return gin[0] ? MG_OK : mg_errcode();
}
static int scatter_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin) {
    gin[0] = apply_idx(&op_pool_gather, g, nd->inputs[1], &nd->p);
    return gin[0] ? MG_OK : mg_errcode();
}

/* ---- avg_pool / avg_pool_grad ---------------------------------------------------- */
static mg_tensor *avg_fw(mg_tensor **in, const mg_params *p) {
    pool_geom g;
    int64_t shape[MG_MAXDIM];
    mg_tensor *x = in[0];
    geom_make(x->ndim, x->shape, p, &g);
    out_shape(x->ndim, x->shape, &g, shape);
    mg_tensor *X = dense(x), *y = X ? mg_empty(x->ndim, shape, x->dtype) : NULL;
    int32_t *plan = y ? plan_of(&g) : NULL;
    if (!plan) {
        mg_release(y);
        y = NULL;
        goto done;
    }
    size_t es = mg_dtype_size(x->dtype);
    const char *xp = mg_data_ptr(X);
    char *yp = mg_data_ptr(y);
    for (int64_t pl = 0; pl < g.planes; pl++) {
        const char *xpl = xp + (size_t)(pl * g.IN) * es;
        char *ypl = yp + (size_t)(pl * g.OUT) * es;
        if (x->dtype == MG_FLOAT32) avg_f32((const float *)xpl, plan, &g, (float *)ypl);
        else avg_f64((const double *)xpl, plan, &g, (double *)ypl);
    }
done:
    free(plan);
    mg_release(X);
    return y;
}

static mg_tensor *avg_grad_fw(mg_tensor **in, const mg_params *p) {
    pool_geom g;
    geom_make(p->ndim, p->shape, p, &g);
    mg_tensor *G = dense(in[0]), *gx = G ? mg_zeros(p->ndim, p->shape, G->dtype) : NULL;
    int32_t *plan = gx ? plan_of(&g) : NULL;
    if (!plan) {
        mg_release(gx);
        gx = NULL;
        goto done;
    }
    size_t es = mg_dtype_size(G->dtype);
    const char *gp = mg_data_ptr(G);
    char *xp = mg_data_ptr(gx);
    for (int64_t pl = 0; pl < g.planes; pl++) {
        const char *gpl = gp + (size_t)(pl * g.OUT) * es;
        char *xpl = xp + (size_t)(pl * g.IN) * es;
        if (G->dtype == MG_FLOAT32) avg_grad_f32((const float *)gpl, plan, &g, (float *)xpl);
        else avg_grad_f64((const double *)gpl, plan, &g, (double *)xpl);
    }
done:
    free(plan);
    mg_release(G);
    return gx;
}

static int avg_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin);
static int avg_grad_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin);

static const mg_opdef op_avg_pool = {"avg_pool", "AvgPoolBackward", 1, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, avg_fw, avg_bw, 0, NULL};
static const mg_opdef op_avg_pool_grad = {"avg_pool_grad", "AvgPoolGradBackward", 1,
    MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, avg_grad_fw, avg_grad_bw, 0, NULL};

static int avg_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin) {
    mg_params q = nd->p;
    q.ndim = nd->inputs[0]->ndim;
    memcpy(q.shape, nd->inputs[0]->shape, sizeof q.shape);
    gin[0] = mg_apply(&op_avg_pool_grad, &g, &q);
    return gin[0] ? MG_OK : mg_errcode();
}
static int avg_grad_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_apply(&op_avg_pool, &g, &nd->p);
    return gin[0] ? MG_OK : mg_errcode();
}

/* ---- public entries ------------------------------------------------------------ */
static int pool_params(const char *fn, const mg_tensor *x, int nd, const int64_t *pool,
                       const int64_t *stride, const int64_t *padding, mg_params *p) {
    char sx[256];
    if (!x) return mg_seterr(MG_EVALUE, "%s: missing input", fn);
    const char *xs = mg_shape_str(x->ndim, x->shape, sx, sizeof sx);
    if (!mg_dtype_is_float(x->dtype))
        return mg_seterr(MG_EDTYPE, "%s: x must be a float tensor (float32 or float64), got %s",
                         fn, mg_dtype_name(x->dtype));
    if (nd < 1 || nd > 3)
        return mg_seterr(MG_EVALUE, "%s: the pool window must have 1, 2 or 3 axes, got %d", fn, nd);
    if (x->ndim < nd + 1)
        return mg_seterr(MG_ESHAPE, "%s: a %d-d pool needs x with at least %d axes (leading "
                         "axes such as N and C, then %d pooled axes), got shape %s",
                         fn, nd, nd + 1, nd, xs);
    memset(p, 0, sizeof *p);
    p->axis = nd;
    int64_t in = 1;
    for (int i = 0; i < nd; i++) {
        int64_t k = pool[i], s = stride ? stride[i] : k, pd = padding ? padding[i] : 0;
        int64_t n = x->shape[x->ndim - nd + i];
        if (k < 1 || k > INT32_MAX)
            return mg_seterr(MG_EVALUE, "%s: pooled axis %d: the window must be positive (and at "
                             "most %d), got %lld", fn, i + 1, INT32_MAX, (long long)k);
        if (s < 1 || s > INT32_MAX)
            return mg_seterr(MG_EVALUE, "%s: pooled axis %d: the stride must be positive (and at "
                             "most %d), got %lld", fn, i + 1, INT32_MAX, (long long)s);
        if (pd < 0 || pd > k / 2)
            return mg_seterr(MG_EVALUE, "%s: pooled axis %d: padding %lld must be between 0 and "
                             "half the window (%lld)", fn, i + 1, (long long)pd, (long long)(k / 2));
        if (n < 1)
            return mg_seterr(MG_ESHAPE, "%s: pooled axis %d of x (shape %s) is empty", fn, i + 1, xs);
        if (n > INT32_MAX || k > n + 2 * pd)
            return mg_seterr(MG_ESHAPE, "%s: pooled axis %d: the window (%lld) is larger than the "
                             "padded input (%lld + 2 * %lld); x has shape %s", fn, i + 1,
                             (long long)k, (long long)n, (long long)pd, xs);
        in *= n;
        if (in > INT32_MAX) return mg_seterr(MG_ESHAPE, "%s: x %s is too large", fn, xs);
        p->ival[i] = k;
        p->ival[3 + i] = s;
        p->ival[6 + i] = pd;
    }
    return MG_OK;
}

mg_tensor *mg_max_pool(mg_tensor *x, int nd, const int64_t *pool, const int64_t *stride,
                       const int64_t *padding) {
    mg_params p;
    if (pool_params("max_pool", x, nd, pool, stride, padding, &p)) return NULL;
    mg_tensor *ymax = NULL, *idx = argmax_pool(x, &p, &ymax);
    if (!idx) return NULL;
    found.x = x;
    found.idx = idx;
    found.y = ymax;
    mg_tensor *y = apply_idx(&op_pool_gather, x, idx, &p);
    mg_release(found.y); /* not taken (or NULL) */
    found.x = found.idx = NULL;
    found.y = NULL;
    mg_release(idx);
    return y;
}

mg_tensor *mg_avg_pool(mg_tensor *x, int nd, const int64_t *pool, const int64_t *stride,
                       const int64_t *padding) {
    mg_params p;
    if (pool_params("avg_pool", x, nd, pool, stride, padding, &p)) return NULL;
    return mg_apply(&op_avg_pool, &x, &p);
}
