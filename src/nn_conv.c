/* nn_conv.c — N-d convolution (1-d, 2-d, 3-d; stride, zero padding,
 * dilation, groups, optional bias) as op-table entries that are each
 * other's derivatives:
 *   conv / conv_bias   y  = conv(x, w) (+ b)
 *   conv_input         gx = conv_input(g, w)   the transpose of conv in x
 *   conv_weight        gw = conv_weight(x, g)  the transpose of conv in w
 *   conv_bias_grad     gb = the sum of g over all but the filter axis
 * Backward through any of them is written with the others, so
 * create_graph gives second (and higher) derivatives; outside create_graph
 * the backward of conv computes the gradients it needs in one fused pass
 * (the same arithmetic, so the same bits, as the ops).
 *
 * Kernels: im2col + one GEMM per group for a chunk of samples (OpenBLAS;
 * deep layers with small outputs batch several samples into one GEMM; a
 * bias rides in the forward GEMM as a row of ones under the columns),
 * col2im for the input gradient; a 1x1 kernel with stride 1 and no padding
 * skips im2col.  Outputs are allocated uninitialised and written once.
 * Contiguous NCHW (NCL, NCDHW) float32/float64; other layouts are copied
 * first.
 *
 * Threads: the chunks (for the weight gradient, fixed slices of chunks)
 * are shared among mg_num_threads() threads (mg_parallel_items), each with
 * its own column buffer, OpenBLAS single-threaded inside.  Chunks and
 * slices depend on the shapes only, and every partial sum is added in a
 * fixed order, so the results are the same bits at any thread count. */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>


/* ---- geometry ------------------------------------------------------------------ */
/* Sizes padded to 3 spatial axes (missing leading axes have size 1). */
typedef struct {
    int d;                                /* spatial axes, 1..3 */
    int64_t n, c, f, groups, cg, fg;      /* batch, channels, filters; per group */
    int64_t in[3], k[3], out[3], s[3], pad[3], dil[3];
    int64_t IN, K, OUT;                   /* positions per channel: input, taps, output */
} conv_geom;

/* Params: axis = d; ival[0..2] stride, [3..5] padding, [6..8] dilation,
 * [9] groups; ndim/shape: the shape conv_input / conv_weight produce. */
static void geom_make(const int64_t *xs, const int64_t *ws, const mg_params *p, conv_geom *g) {
    int d = p->axis;
    g->d = d;
    g->n = xs[0];
    g->c = xs[1];
    g->f = ws[0];
    g->groups = p->ival[9];
    g->cg = g->c / g->groups;
    g->fg = g->f / g->groups;
    g->IN = g->K = g->OUT = 1;
    for (int j = 0; j < 3; j++) {
        int i = j - (3 - d);
        bool real = i >= 0;
        g->in[j] = real ? xs[2 + i] : 1;
        g->k[j] = real ? ws[2 + i] : 1;
        g->s[j] = real ? p->ival[i] : 1;
        g->pad[j] = real ? p->ival[3 + i] : 0;
        g->dil[j] = real ? p->ival[6 + i] : 1;
        g->out[j] = (g->in[j] + 2 * g->pad[j] - g->dil[j] * (g->k[j] - 1) - 1) / g->s[j] + 1;
        g->IN *= g->in[j];
        g->K *= g->k[j];
        g->OUT *= g->out[j];
    }
}

/* ---- im2col / col2im --------------------------------------------------------------
 * The column matrix of one group of a chunk of B samples has cg * K rows
 * (channel, tap) and B * OUT columns (sample, output position), row stride
 * ld = B * OUT.  im2col writes one sample's OUT columns (col points at its
 * first); col2im adds them back into that sample's input gradient.  Along
 * each axis the outputs whose tap lands inside the input form one range
 * [lo, hi) (outside it the tap reads padding): whole output rows (axes 0
 * and 1 of the padded 3) are zero or not, and along the innermost axis the
 * range is copied as a run (contiguous when the stride is 1). */
typedef struct {
    int64_t base, lo, hi; /* input index = o * s + base, inside for o in [lo, hi) */
} tap_run;

/* The outputs o < out whose input o * s + base lies in [0, n). */
static tap_run span(int64_t base, int64_t s, int64_t n, int64_t out) {
    tap_run r = {base, 0, 0};
    if (s == 1) {
        r.lo = base >= 0 ? 0 : -base;
        r.hi = n - base <= 0 ? 0 : n - base;
    } else {
        r.lo = base >= 0 ? 0 : (-base + s - 1) / s;
        r.hi = n - base <= 0 ? 0 : (n - base + s - 1) / s;
    }
    if (r.hi > out) r.hi = out;
    if (r.lo > r.hi) r.lo = r.hi;
    return r;
}

/* Tap t's run along axis j. */
static tap_run run_on(const conv_geom *g, int j, int64_t t) {
    return span(t * g->dil[j] - g->pad[j], g->s[j], g->in[j], g->out[j]);
}

/* Short runs are the rule here (an output row of a deep layer is a few
 * entries): up to 64 bytes are moved in pieces of 16 (8, 4), the last ones
 * overlapping those before, rather than in loops (which the compiler would
 * turn into calls of memmove / memset, slow for a handful of bytes).  n is
 * a multiple of 4. */
static const char zeros64[64];

/* d[0 .. n) = s[0 .. n) */
static inline void copy_bytes(char *restrict d, const char *restrict s, size_t n) {
    if (n > 64) {
        memcpy(d, s, n);
    } else if (n >= 16) {
        memcpy(d, s, 16);
        if (n > 32) memcpy(d + 16, s + 16, 16);
        if (n > 48) memcpy(d + 32, s + 32, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
    }
}

/* d[0 .. n) = 0 */
static inline void zero_bytes(char *d, size_t n) {
    if (n > 64) memset(d, 0, n);
    else copy_bytes(d, zeros64, n);
}

/* One output row of a tap from the input row src: zeros where the run r
 * leaves the input (padding), the run copied or gathered (stride s). */
static void gather_row(char *d, const char *src, tap_run r, int64_t s, int64_t out, size_t es) {
    zero_bytes(d, (size_t)r.lo * es);
    if (r.lo == r.hi) {
        /* the whole row reads padding */
    } else if (s == 1)
        copy_bytes(d + (size_t)r.lo * es, src + (size_t)(r.lo + r.base) * es,
                   (size_t)(r.hi - r.lo) * es);
    else if (es == 4)
        for (int64_t o = r.lo; o < r.hi; o++) ((float *)d)[o] = ((const float *)src)[o * s + r.base];
    else
        for (int64_t o = r.lo; o < r.hi; o++) ((double *)d)[o] = ((const double *)src)[o * s + r.base];
    zero_bytes(d + (size_t)r.hi * es, (size_t)(out - r.hi) * es);
}

/* A tap's runs along the three axes. */
typedef struct {
    tap_run a, b, c;
} tap_runs;

static tap_runs runs_of(const conv_geom *g, int64_t ta, int64_t tb, int64_t tc) {
    tap_runs t = {run_on(g, 0, ta), run_on(g, 1, tb), run_on(g, 2, tc)};
    return t;
}

/* A tap (runs t) of one input channel x into its column row d. */
static void im2col_tap(char *d, const char *x, const conv_geom *g, const tap_runs *t, size_t es) {
    tap_run ra = t->a, rb = t->b, rc = t->c;
    int64_t out1 = g->out[1], in1 = g->in[1], in2 = g->in[2], s0 = g->s[0], s1 = g->s[1];
    int64_t s2 = g->s[2];
    size_t row = (size_t)g->out[2] * es, plane = row * (size_t)out1;
    bool whole = s2 == 1 && rc.lo == 0 && rc.hi == g->out[2]; /* no padding read */
    if (ra.lo == ra.hi || rb.lo == rb.hi) { /* the tap reads only padding */
        zero_bytes(d, plane * (size_t)g->out[0]);
        return;
    }
    zero_bytes(d, plane * (size_t)ra.lo);
    for (int64_t oa = ra.lo; oa < ra.hi; oa++) {
        char *dr = d + plane * (size_t)oa;
        const char *src = x + (size_t)(((oa * s0 + ra.base) * in1 + rb.lo * s1 + rb.base) * in2) * es;
        size_t step = (size_t)(s1 * in2) * es;
        zero_bytes(dr, row * (size_t)rb.lo);
        dr += row * (size_t)rb.lo;
        if (whole)
            for (int64_t ob = rb.lo; ob < rb.hi; ob++, dr += row, src += step)
                copy_bytes(dr, src + (size_t)rc.base * es, row);
        else
            for (int64_t ob = rb.lo; ob < rb.hi; ob++, dr += row, src += step)
                gather_row(dr, src, rc, s2, g->out[2], es);
        zero_bytes(dr, row * (size_t)(out1 - rb.hi));
    }
    zero_bytes(d + plane * (size_t)ra.hi, plane * (size_t)(g->out[0] - ra.hi));
}

/* The columns of B samples (x points at the first sample's first channel of
 * the group, xs entries apart from one sample to the next): row c K + tap,
 * ld = B OUT entries per row, sample b's OUT columns from b OUT on.  Each
 * row is written from start to end, while the B input planes of channel c
 * stay in the cache for its taps. */
static void im2col(char *col, int64_t ld, const char *x, int64_t xs, int64_t B, const conv_geom *g,
                   size_t es) {
    for (int64_t c = 0; c < g->cg; c++) {
        int64_t tap = 0;
        for (int64_t ta = 0; ta < g->k[0]; ta++)
            for (int64_t tb = 0; tb < g->k[1]; tb++)
                for (int64_t tc = 0; tc < g->k[2]; tc++, tap++) {
                    tap_runs t = runs_of(g, ta, tb, tc);
                    char *row = col + (size_t)((c * g->K + tap) * ld) * es;
                    for (int64_t b = 0; b < B; b++)
                        im2col_tap(row + (size_t)(b * g->OUT) * es,
                                   x + (size_t)(b * xs + c * g->IN) * es, g, &t, es);
                }
    }
}

/* dst[o * s] += d[o] for o < n */
static inline void add_run_f32(float *restrict dst, const float *restrict d, int64_t s, int64_t n) {
    if (s == 1)
        for (int64_t o = 0; o < n; o++) dst[o] += d[o];
    else
        for (int64_t o = 0; o < n; o++) dst[o * s] += d[o];
}
static inline void add_run_f64(double *restrict dst, const double *restrict d, int64_t s, int64_t n) {
    if (s == 1)
        for (int64_t o = 0; o < n; o++) dst[o] += d[o];
    else
        for (int64_t o = 0; o < n; o++) dst[o * s] += d[o];
}

/* Tap (ta, tb, tc)'s column row d added into one input channel's gradient gx. */
static inline void col2im_tap_f32(float *gx, const float *d, const conv_geom *g, const tap_runs *t) {
    tap_run ra = t->a, rb = t->b, rc = t->c;
    int64_t out1 = g->out[1], out2 = g->out[2], in1 = g->in[1], in2 = g->in[2];
    int64_t s0 = g->s[0], s1 = g->s[1], s2 = g->s[2];
    if (rb.lo == rb.hi || rc.lo == rc.hi) return; /* only padding */
    for (int64_t oa = ra.lo; oa < ra.hi; oa++) {
        float *dst = gx + ((oa * s0 + ra.base) * in1 + rb.lo * s1 + rb.base) * in2;
        const float *dr = d + (oa * out1 + rb.lo) * out2;
        for (int64_t ob = rb.lo; ob < rb.hi; ob++, dst += s1 * in2, dr += out2)
            add_run_f32(dst + rc.lo * s2 + rc.base, dr + rc.lo, s2, rc.hi - rc.lo);
    }
}
static inline void col2im_tap_f64(double *gx, const double *d, const conv_geom *g, const tap_runs *t) {
    tap_run ra = t->a, rb = t->b, rc = t->c;
    int64_t out1 = g->out[1], out2 = g->out[2], in1 = g->in[1], in2 = g->in[2];
    int64_t s0 = g->s[0], s1 = g->s[1], s2 = g->s[2];
    if (rb.lo == rb.hi || rc.lo == rc.hi) return; /* only padding */
    for (int64_t oa = ra.lo; oa < ra.hi; oa++) {
        double *dst = gx + ((oa * s0 + ra.base) * in1 + rb.lo * s1 + rb.base) * in2;
        const double *dr = d + (oa * out1 + rb.lo) * out2;
        for (int64_t ob = rb.lo; ob < rb.hi; ob++, dst += s1 * in2, dr += out2)
            add_run_f64(dst + rc.lo * s2 + rc.base, dr + rc.lo, s2, rc.hi - rc.lo);
    }
}

/* The columns of B samples (laid out as im2col's) summed into their
 * input gradient gx (the first sample's first channel of the group, xs
 * entries between samples), which is written over: zeroed first.  Built
 * also for AVX-512 and AVX2 where GCC can (picked at load time): the same
 * additions in the same order, so the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void col2im(char *gx, int64_t xs, const char *col, int64_t ld, int64_t B, const conv_geom *g,
                   mg_dtype dt) {
    size_t es = mg_dtype_size(dt);
    for (int64_t c = 0; c < g->cg; c++) {
        for (int64_t b = 0; b < B; b++) memset(gx + (size_t)(b * xs + c * g->IN) * es, 0, (size_t)g->IN * es);
        int64_t tap = 0;
        for (int64_t ta = 0; ta < g->k[0]; ta++)
            for (int64_t tb = 0; tb < g->k[1]; tb++)
                for (int64_t tc = 0; tc < g->k[2]; tc++, tap++) {
                    tap_runs t = runs_of(g, ta, tb, tc);
                    const char *row = col + (size_t)((c * g->K + tap) * ld) * es;
                    for (int64_t b = 0; b < B; b++) {
                        char *gc = gx + (size_t)(b * xs + c * g->IN) * es;
                        const char *d = row + (size_t)(b * g->OUT) * es;
                        if (dt == MG_FLOAT32) col2im_tap_f32((float *)gc, (const float *)d, g, &t);
                        else col2im_tap_f64((double *)gc, (const double *)d, g, &t);
                    }
                }
    }
}

/* Row-major C (m x n) = op(A) op(B) + beta C; sizes were checked to fit
 * int.  Called inside parallel parts, where mg_gemm never splits. */
static void gemm(mg_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *a,
                 int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc) {
    mg_gemm(dt, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

/* dst[i] += src[i] */
static void add_into(mg_dtype dt, void *dst, const void *src, int64_t n) {
    if (dt == MG_FLOAT32)
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] += ((const float *)src)[i];
    else
        for (int64_t i = 0; i < n; i++) ((double *)dst)[i] += ((const double *)src)[i];
}

/* ---- shared set-up of the three kernels ------------------------------------------ */
typedef struct {
    conv_geom g;
    mg_dtype dt;
    size_t esz;
    bool direct;       /* 1x1 taps, stride 1, no padding: a channel block is its own columns */
    bool ones;         /* the columns end with a row of ones, for the bias (forward) */
    int64_t ckb;       /* rows of the column matrix: cg K, + 1 with the row of ones */
    int64_t chunk;     /* samples in the largest chunk (one GEMM per chunk and group) */
    int64_t nchunks;   /* chunks: the samples dealt out evenly (sizes differ by at most 1) */
    char *scratch;     /* per part (thread): columns (ckb x chunk OUT), rows (fg x chunk OUT) */
    mg_tensor *scratch_t; /* the tensor whose data scratch is */
    size_t per_part;   /* bytes of scratch per part */
} conv_ctx;

/* Scratch memory (at least `bytes`) from the tensor allocator, whose
 * released blocks are kept for reuse: a training loop then gets the same
 * pages every step instead of fresh ones from the system (each a page
 * fault).  *t is the tensor to release after; NULL (error set) when out of
 * memory. */
static void *scratch_get(mg_tensor **t, size_t bytes) {
    int64_t n = bytes ? (int64_t)((bytes + 7) / 8) : 1;
    *t = mg_empty(1, &n, MG_FLOAT64);
    return *t ? mg_data_ptr(*t) : NULL;
}

/* The first of k even shares of n things (share i of k; the larger shares first). */
static int64_t share_begin(int64_t n, int64_t k, int64_t i) {
    int64_t rem = n % k;
    return (n / k) * i + (i < rem ? i : rem);
}

/* The chunks: small outputs (deep layers) are batched so each GEMM is
 * about 1024 columns wide, within 4 MiB of scratch; the number of chunks
 * is made even, so that two threads get equal shares.  They depend on the
 * shapes only, never on the thread count: every GEMM, and so every result,
 * is the same whatever the threads. */
static void pick_chunks(conv_ctx *cx) {
    const conv_geom *g = &cx->g;
    cx->chunk = 1;
    cx->nchunks = g->n;
    if (cx->direct || g->n <= 1) return;
    int64_t b = (1024 + g->OUT - 1) / g->OUT;
    double per = (double)(g->cg * g->K + g->fg) * (double)g->OUT * (double)cx->esz;
    int64_t cap = (int64_t)((double)(4 << 20) / per);
    if (b > cap) b = cap;
    if (b < 1) b = 1;
    int64_t nc = b >= g->n ? 1 : (g->n + b - 1) / b;
    if (nc > 1 && nc % 2 && nc < g->n) nc++;
    cx->nchunks = nc;
    cx->chunk = (g->n + nc - 1) / nc;
}

/* ones: a row of ones under the columns (for a bias), where there is im2col */
static void ctx_make(conv_ctx *cx, const int64_t *xs, const int64_t *ws, const mg_params *p,
                     mg_dtype dt, bool ones) {
    const conv_geom *g = &cx->g;
    geom_make(xs, ws, p, &cx->g);
    cx->dt = dt;
    cx->esz = mg_dtype_size(dt);
    cx->scratch = NULL;
    cx->scratch_t = NULL;
    cx->direct = g->K == 1;
    for (int j = 0; j < 3; j++) cx->direct = cx->direct && g->s[j] == 1 && g->pad[j] == 0;
    cx->ones = ones && !cx->direct && g->cg * g->K < INT32_MAX; /* GEMM sizes fit int */
    cx->ckb = g->cg * g->K + (cx->ones ? 1 : 0);
    pick_chunks(cx);
    int64_t cols = cx->direct ? 0 : cx->ckb, rows = cx->chunk > 1 ? g->fg : 0;
    cx->per_part = (size_t)((cols + rows) * cx->chunk * g->OUT) * cx->esz;
}

/* Scratch for the parts that a split of nitems items among threads makes. */
static int scratch_alloc(conv_ctx *cx, int64_t nitems) {
    size_t parts = (size_t)mg_parallel_parts(nitems);
    if (cx->per_part && !(cx->scratch = scratch_get(&cx->scratch_t, cx->per_part * parts)))
        return mg_errcode();
    return MG_OK;
}

static void ctx_free(conv_ctx *cx) { mg_release(cx->scratch_t); }

/* Part part's column buffer (NULL when there is no scratch) and row buffer. */
static char *cols_of(const conv_ctx *cx, int part) {
    return cx->scratch ? cx->scratch + (size_t)part * cx->per_part : NULL;
}
static char *rows_of(const conv_ctx *cx, char *cols) {
    int64_t n = cx->direct ? 0 : cx->ckb;
    return cols ? cols + (size_t)(n * cx->chunk * cx->g.OUT) * cx->esz : NULL;
}

/* Chunk ci: its first sample *n0 and its size *B. */
static void chunk_span(const conv_ctx *cx, int64_t ci, int64_t *n0, int64_t *B) {
    *n0 = share_begin(cx->g.n, cx->nchunks, ci);
    *B = share_begin(cx->g.n, cx->nchunks, ci + 1) - *n0;
}

/* Address of channel (or filter) ch of sample n in a {N, chans, positions} array. */
static const char *at(const conv_ctx *cx, const char *base, int64_t n, int64_t chans,
                      int64_t ch, int64_t positions) {
    return base + (size_t)((n * chans + ch) * positions) * cx->esz;
}

/* dst[o] = v for n entries */
static void fill_row(mg_dtype dt, void *dst, double v, int64_t n) {
    if (dt == MG_FLOAT32)
        for (int64_t o = 0; o < n; o++) ((float *)dst)[o] = (float)v;
    else
        for (int64_t o = 0; o < n; o++) ((double *)dst)[o] = v;
}

/* The column matrix of group grp for samples n0 .. n0 + B - 1 (ld = B OUT)
 * in the buffer col, with the row of ones under it when cx->ones; when
 * direct, x's own block (B = 1). */
static const char *columns(const conv_ctx *cx, char *col, const char *X, int64_t n0, int64_t B,
                           int64_t grp) {
    const conv_geom *g = &cx->g;
    if (cx->direct) return at(cx, X, n0, g->c, grp * g->cg, g->IN);
    im2col(col, B * g->OUT, at(cx, X, n0, g->c, grp * g->cg, g->IN), g->c * g->IN, B, g, cx->esz);
    if (cx->ones)
        fill_row(cx->dt, col + (size_t)(g->cg * g->K * B * g->OUT) * cx->esz, 1.0, B * g->OUT);
    return col;
}

/* g's rows of group grp for samples n0 .. n0 + B - 1 as an fg x (B OUT)
 * matrix: G itself when B = 1, else gathered into the row buffer rows. */
static const char *grad_rows(const conv_ctx *cx, char *rows, const char *G, int64_t n0, int64_t B,
                             int64_t grp) {
    const conv_geom *g = &cx->g;
    if (B == 1) return at(cx, G, n0, g->f, grp * g->fg, g->OUT);
    size_t run = (size_t)g->OUT * cx->esz;
    for (int64_t f = 0; f < g->fg; f++)
        for (int64_t b = 0; b < B; b++)
            memcpy(rows + (size_t)((f * B + b) * g->OUT) * cx->esz,
                   at(cx, G, n0 + b, g->f, grp * g->fg + f, g->OUT), run);
    return rows;
}

/* A contiguous tensor with a's values (a itself when it already is); a
 * broadcast scalar (the gradient of a sum) is filled rather than copied. */
static mg_tensor *dense(mg_tensor *a) {
    if (mg_is_contiguous(a)) return mg_retain(a);
    bool scalar = mg_numel(a) > 0;
    for (int i = 0; i < a->ndim && scalar; i++) scalar = a->stride[i] == 0 || a->shape[i] == 1;
    if (!scalar) return mg_copy_of(a, a->dtype);
    return mg_full(a->ndim, a->shape, mg_get_flat(a, 0), a->dtype);
}

/* ---- forward: y = conv(x, w) + b ---------------------------------------------------- */
/* What the parts of the forward share. */
typedef struct {
    const conv_ctx *cx;
    const char *X, *W;
    char *Y;
    const mg_tensor *bias;
} fwd_job;

/* y[n0 .. n0 + B) = W_grp columns (+ b), per group.  Every entry of those
 * samples' rows is written (y comes uninitialised).  W has cx->ckb entries
 * per row: with cx->ones its last is the bias, which the GEMM adds; the
 * direct path fills y with the bias first (beta = 1). */
static void conv_chunk(const conv_ctx *cx, char *scr, int64_t ci, const char *X, const char *W,
                       char *Y, const mg_tensor *bias) {
    const conv_geom *g = &cx->g;
    int64_t n0, B;
    chunk_span(cx, ci, &n0, &B);
    int64_t ld = B * g->OUT, kk = cx->ckb;
    for (int64_t grp = 0; grp < g->groups; grp++) {
        const char *src = columns(cx, scr, X, n0, B, grp);
        const char *wg = W + (size_t)(grp * g->fg * kk) * cx->esz;
        if (B == 1) { /* straight into y */
            bool fill = bias && !cx->ones;
            char *yb = (char *)at(cx, Y, n0, g->f, grp * g->fg, g->OUT);
            for (int64_t f = 0; f < g->fg && fill; f++)
                fill_row(cx->dt, yb + (size_t)(f * g->OUT) * cx->esz,
                         mg_get_flat(bias, grp * g->fg + f), g->OUT);
            gemm(cx->dt, false, false, g->fg, g->OUT, kk, wg, kk, src, g->OUT, fill ? 1.0 : 0.0,
                 yb, g->OUT);
            continue;
        }
        char *rows = rows_of(cx, scr);
        gemm(cx->dt, false, false, g->fg, ld, kk, wg, kk, src, ld, 0.0, rows, ld);
        for (int64_t f = 0; f < g->fg; f++)
            for (int64_t b = 0; b < B; b++)
                memcpy((char *)at(cx, Y, n0 + b, g->f, grp * g->fg + f, g->OUT),
                       rows + (size_t)((f * B + b) * g->OUT) * cx->esz, (size_t)g->OUT * cx->esz);
    }
}

static void conv_part(void *job, int part, int64_t c0, int64_t c1) {
    const fwd_job *j = job;
    char *scr = cols_of(j->cx, part);
    for (int64_t ci = c0; ci < c1; ci++) conv_chunk(j->cx, scr, ci, j->X, j->W, j->Y, j->bias);
}

/* The filters with the bias as one more column (F x (cg K + 1)), for the
 * GEMMs of a forward with cx->ones. */
static char *filters_with_bias(const conv_ctx *cx, const char *W, const mg_tensor *b,
                               mg_tensor **t) {
    int64_t ck = cx->g.cg * cx->g.K, f = cx->g.f;
    char *wb = scratch_get(t, (size_t)(f * (ck + 1)) * cx->esz);
    if (!wb) return NULL;
    for (int64_t r = 0; r < f; r++) {
        char *row = wb + (size_t)(r * (ck + 1)) * cx->esz;
        memcpy(row, W + (size_t)(r * ck) * cx->esz, (size_t)ck * cx->esz);
        fill_row(cx->dt, row + (size_t)ck * cx->esz, mg_get_flat(b, r), 1);
    }
    return wb;
}

static mg_tensor *conv_run(mg_tensor *x, mg_tensor *w, mg_tensor *b, const mg_params *p) {
    conv_ctx cx = {.scratch = NULL};
    mg_tensor *X = dense(x), *W = X ? dense(w) : NULL, *y = NULL, *wb = NULL;
    if (!W) goto done;
    ctx_make(&cx, x->shape, w->shape, p, x->dtype, b != NULL);
    const conv_geom *g = &cx.g;
    int64_t shape[5] = {g->n, g->f};
    for (int i = 0; i < g->d; i++) shape[2 + i] = g->out[3 - g->d + i];
    if (!(y = mg_empty(g->d + 2, shape, cx.dt))) goto done;
    if (mg_numel(y) == 0) goto done;
    char *Yp = mg_data_ptr(y);
    if (g->cg * g->K == 0) { /* no input channels: y = b (or 0) */
        for (int64_t r = 0; r < g->n * g->f; r++)
            fill_row(cx.dt, Yp + (size_t)(r * g->OUT) * cx.esz, b ? mg_get_flat(b, r % g->f) : 0.0,
                     g->OUT);
        goto done;
    }
    const char *Wp = mg_data_ptr(W);
    if (scratch_alloc(&cx, cx.nchunks) || (cx.ones && !(Wp = filters_with_bias(&cx, Wp, b, &wb)))) {
        mg_release(y);
        y = NULL;
        goto done;
    }
    fwd_job job = {&cx, mg_data_ptr(X), Wp, Yp, b};
    mg_parallel_items(cx.nchunks, conv_part, &job);
done:
    mg_release(wb);
    ctx_free(&cx);
    mg_release(X);
    mg_release(W);
    return y;
}

/* ---- backward: gx = conv_input(g, w), gw = conv_weight(x, g), gb ------------------- */
/* One pass over the chunks computes any of the three: conv_input and
 * conv_weight (the ops, recorded under create_graph) run it for one, the
 * backward of conv outside create_graph for all it needs at once (each
 * chunk's g rows gathered once, one split among threads).  Each gradient
 * comes from the same GEMM calls on the same chunks either way, so the
 * results are the same bits. */

/* gx for samples n0 .. n0 + B - 1 of group grp, from g's rows gr (fg x B
 * OUT): W_grp^T gr into the column buffer col, then col2im (which writes
 * over gx); direct (B = 1), the product is the gradient itself. */
static void input_group(const conv_ctx *cx, char *col, const char *gr, int64_t n0, int64_t B,
                        int64_t grp, const char *W, char *GX) {
    const conv_geom *g = &cx->g;
    int64_t ld = B * g->OUT, ck = g->cg * g->K;
    const char *wg = W + (size_t)(grp * g->fg * ck) * cx->esz;
    char *gxb = (char *)at(cx, GX, n0, g->c, grp * g->cg, g->IN);
    if (cx->direct) {
        gemm(cx->dt, true, false, ck, g->OUT, g->fg, wg, ck, gr, g->OUT, 0.0, gxb, g->OUT);
        return;
    }
    gemm(cx->dt, true, false, ck, ld, g->fg, wg, ck, gr, ld, 0.0, col, ld);
    col2im(gxb, g->c * g->IN, col, ld, B, g, cx->dt);
}

/* The contribution of samples n0 .. n0 + B - 1 to gwt, gw transposed (cg K
 * x fg per group): their columns (into col) times g's rows gr transposed
 * (a little faster in OpenBLAS than g's rows times the columns
 * transposed), added to gwt (beta = 1) or written over it (beta = 0). */
static void weight_group(const conv_ctx *cx, char *col, const char *gr, int64_t n0, int64_t B,
                         int64_t grp, const char *X, char *GWT, double beta) {
    const conv_geom *g = &cx->g;
    int64_t ld = B * g->OUT, ck = g->cg * g->K;
    const char *src = columns(cx, col, X, n0, B, grp);
    gemm(cx->dt, false, true, ck, g->fg, ld, src, ld, gr, ld, beta,
         GWT + (size_t)(grp * g->fg * ck) * cx->esz, g->fg);
}

/* The bias gradient, the sum of g over samples and positions, in double:
 * per sample and filter a row sum (entry o into partial sum o mod 8, the
 * eight added in a fixed order), then those summed over the samples in
 * order.  The same arithmetic in the fused backward (rows summed by the
 * thread that has the sample) and in conv_bias_grad. */
static double row_sum(mg_dtype dt, const char *row, int64_t n) {
    double a[8] = {0};
    int64_t o = 0;
    if (dt == MG_FLOAT32) {
        const float *r = (const float *)row;
        for (; o + 8 <= n; o += 8)
            for (int l = 0; l < 8; l++) a[l] += r[o + l];
        for (int l = 0; o < n; o++, l++) a[l] += r[o];
    } else {
        const double *r = (const double *)row;
        for (; o + 8 <= n; o += 8)
            for (int l = 0; l < 8; l++) a[l] += r[o + l];
        for (int l = 0; o < n; o++, l++) a[l] += r[o];
    }
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* sums[n f + k] = the sum of g's row (n, k) (OUT entries), for samples n0 .. n1 - 1 */
static void bias_rows(mg_dtype dt, const char *G, int64_t n0, int64_t n1, int64_t f, int64_t out,
                      double *sums) {
    size_t es = mg_dtype_size(dt);
    for (int64_t n = n0; n < n1; n++)
        for (int64_t k = 0; k < f; k++)
            sums[n * f + k] = row_sum(dt, G + (size_t)((n * f + k) * out) * es, out);
}

/* gb[k] = sum over n of sums[n f + k] */
static void bias_total(mg_dtype dt, const double *sums, int64_t n, int64_t f, char *gb) {
    for (int64_t k = 0; k < f; k++) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += sums[i * f + k];
        fill_row(dt, gb + (size_t)k * mg_dtype_size(dt), s, 1);
    }
}

/* The weight gradient is a sum over the chunks.  So that it does not depend
 * on the thread count, the chunks are grouped into a fixed number of
 * slices (consecutive chunks; at most MAX_SLICES, and at most SLICE_BYTES
 * of partial sums): each slice sums its chunks in order into a partial sum
 * of its own (the first GEMM writes, beta = 0, the others add), threads
 * take whole slices, and the partial sums are added up in slice order. */
#define MAX_SLICES 16
#define SLICE_BYTES ((double)(32 << 20))

static int64_t weight_slices(const conv_ctx *cx) {
    int64_t s = cx->nchunks < MAX_SLICES ? cx->nchunks : MAX_SLICES;
    double fit = SLICE_BYTES / ((double)(cx->g.f * cx->g.cg * cx->g.K) * (double)cx->esz);
    if ((double)s > fit) s = (int64_t)fit;
    return s < 1 ? 1 : s;
}

/* What the parts of a backward pass share; the outputs not wanted are NULL. */
typedef struct {
    const conv_ctx *cx;
    const char *X, *W, *G;
    char *GX;          /* gx */
    char *gwt;         /* the slices' partial sums of gw, transposed */
    double *bsum;      /* per-sample bias sums */
    int64_t nslices;   /* items are slices of chunks when gwt is wanted, else chunks */
} back_job;

static void back_part(void *job, int part, int64_t i0, int64_t i1) {
    const back_job *j = job;
    const conv_ctx *cx = j->cx;
    const conv_geom *g = &cx->g;
    char *scr = cols_of(cx, part);
    size_t wbytes = (size_t)(g->f * g->cg * g->K) * cx->esz;
    for (int64_t item = i0; item < i1; item++) {
        int64_t c0 = item, c1 = item + 1;
        if (j->gwt) {
            c0 = share_begin(cx->nchunks, j->nslices, item);
            c1 = share_begin(cx->nchunks, j->nslices, item + 1);
        }
        for (int64_t ci = c0; ci < c1; ci++) {
            int64_t n0, B;
            chunk_span(cx, ci, &n0, &B);
            for (int64_t grp = 0; grp < g->groups && (j->gwt || j->GX); grp++) {
                const char *gr = grad_rows(cx, rows_of(cx, scr), j->G, n0, B, grp);
                if (j->gwt)
                    weight_group(cx, scr, gr, n0, B, grp, j->X, j->gwt + (size_t)item * wbytes,
                                 ci == c0 ? 0.0 : 1.0);
                if (j->GX) input_group(cx, scr, gr, n0, B, grp, j->W, j->GX);
            }
            if (j->bsum) bias_rows(cx->dt, j->G, n0, n0 + B, g->f, g->OUT, j->bsum);
        }
    }
}

/* gw[grp][f][k] = gwt[grp][k][f] */
static void untranspose(const conv_ctx *cx, char *GW, const char *GWT) {
    int64_t fg = cx->g.fg, ck = cx->g.cg * cx->g.K;
    for (int64_t grp = 0; grp < cx->g.groups; grp++) {
        size_t off = (size_t)(grp * fg * ck);
        for (int64_t f = 0; f < fg; f++)
            for (int64_t k = 0; k < ck; k++) {
                size_t to = off + (size_t)(f * ck + k), from = off + (size_t)(k * fg + f);
                if (cx->dt == MG_FLOAT32) ((float *)GW)[to] = ((const float *)GWT)[from];
                else ((double *)GW)[to] = ((const double *)GWT)[from];
            }
    }
}

/* The pass for whichever of gx, gw (all of its entries written) and gb
 * are not NULL.  Needs n, OUT, cg K and fg all positive. */
static int backward_run(conv_ctx *cx, const char *X, const char *W, const char *G, char *GX,
                        char *GW, char *GB) {
    const conv_geom *g = &cx->g;
    int64_t nw = g->f * g->cg * g->K, ns = GW ? weight_slices(cx) : 0;
    int64_t nitems = GW ? ns : cx->nchunks;
    mg_tensor *gwt_t = NULL, *bsum_t = NULL;
    char *gwt = GW ? scratch_get(&gwt_t, (size_t)ns * (size_t)nw * cx->esz) : NULL;
    double *bsum = GB ? scratch_get(&bsum_t, (size_t)(g->n * g->f) * sizeof(double)) : NULL;
    int rc = MG_OK;
    if ((GW && !gwt) || (GB && !bsum) || scratch_alloc(cx, nitems)) {
        rc = mg_errcode();
        goto done;
    }
    back_job job = {cx, X, W, G, GX, gwt, bsum, ns};
    mg_parallel_items(nitems, back_part, &job);
    if (GW) {
        for (int64_t s = 1; s < ns; s++)
            add_into(cx->dt, gwt, gwt + (size_t)s * (size_t)nw * cx->esz, nw);
        untranspose(cx, GW, gwt);
    }
    if (GB) bias_total(cx->dt, bsum, g->n, g->f, GB);
done:
    mg_release(gwt_t);
    mg_release(bsum_t);
    return rc;
}

static mg_tensor *input_fw(mg_tensor **in, const mg_params *p) {
    conv_ctx cx = {.scratch = NULL};
    mg_tensor *G = dense(in[0]), *W = G ? dense(in[1]) : NULL, *gx = NULL;
    if (!W) goto done;
    ctx_make(&cx, p->shape, in[1]->shape, p, in[0]->dtype, false);
    if (!(gx = mg_empty(p->ndim, p->shape, cx.dt))) goto done;
    if (mg_numel(gx) == 0) goto done;
    if (cx.g.fg == 0 || cx.g.OUT == 0) { /* no filters or no outputs: no gradient */
        memset(mg_data_ptr(gx), 0, (size_t)mg_numel(gx) * cx.esz);
        goto done;
    }
    if (backward_run(&cx, NULL, mg_data_ptr(W), mg_data_ptr(G), mg_data_ptr(gx), NULL, NULL)) {
        mg_release(gx);
        gx = NULL;
    }
done:
    ctx_free(&cx);
    mg_release(G);
    mg_release(W);
    return gx;
}

static mg_tensor *weight_fw(mg_tensor **in, const mg_params *p) {
    conv_ctx cx = {.scratch = NULL};
    mg_tensor *X = dense(in[0]), *G = X ? dense(in[1]) : NULL, *gw = NULL;
    if (!G) goto done;
    ctx_make(&cx, in[0]->shape, p->shape, p, in[0]->dtype, false);
    if (!(gw = mg_zeros(p->ndim, p->shape, cx.dt))) goto done; /* zeros: also for n = 0 */
    if (mg_numel(gw) == 0 || cx.g.n == 0 || cx.g.OUT == 0) goto done;
    if (backward_run(&cx, mg_data_ptr(X), NULL, mg_data_ptr(G), NULL, mg_data_ptr(gw), NULL)) {
        mg_release(gw);
        gw = NULL;
    }
done:
    ctx_free(&cx);
    mg_release(X);
    mg_release(G);
    return gw;
}

/* conv_bias_grad: gb = the sum of g {N, F, ...} over all but axis 1 (the
 * arithmetic of bias_rows and bias_total). */
static mg_tensor *bias_grad_fw(mg_tensor **in, const mg_params *p) {
    (void)p;
    mg_tensor *G = dense(in[0]), *gb = NULL;
    if (!G) return NULL;
    int64_t n = G->shape[0], f = G->shape[1], out = 1;
    for (int i = 2; i < G->ndim; i++) out *= G->shape[i];
    mg_tensor *sums_t = NULL;
    double *sums = scratch_get(&sums_t, (size_t)(n * f) * sizeof(double));
    if (sums && (gb = mg_empty(1, &f, G->dtype))) {
        bias_rows(G->dtype, mg_data_ptr(G), 0, n, f, out, sums);
        bias_total(G->dtype, sums, n, f, mg_data_ptr(gb));
    }
    mg_release(sums_t);
    mg_release(G);
    return gb;
}

/* ---- the op table entries and their backward ------------------------------------ */
static mg_tensor *conv_fw(mg_tensor **in, const mg_params *p) {
    return conv_run(in[0], in[1], NULL, p);
}
static mg_tensor *conv_bias_fw(mg_tensor **in, const mg_params *p) {
    return conv_run(in[0], in[1], in[2], p);
}

static int conv_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin);
static int input_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin);
static int weight_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin);
static int bias_grad_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin);

static const mg_opdef op_conv = {"conv_nd", "ConvolutionBackward", 2, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, conv_fw, conv_bw, MG_SAVES_IN0 | MG_SAVES_IN1, NULL};
static const mg_opdef op_conv_bias = {"conv_nd", "ConvolutionBackward", 3, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, conv_bias_fw, conv_bw, MG_SAVES_IN0 | MG_SAVES_IN1, NULL};
static const mg_opdef op_conv_input = {"conv_input", "ConvolutionInputBackward", 2,
    MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, input_fw, input_bw, MG_SAVES_IN0 | MG_SAVES_IN1, NULL};
static const mg_opdef op_conv_weight = {"conv_weight", "ConvolutionWeightBackward", 2,
    MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, weight_fw, weight_bw, MG_SAVES_IN0 | MG_SAVES_IN1, NULL};
static const mg_opdef op_conv_bias_grad = {"conv_bias_grad", "ConvolutionBiasBackward", 1,
    MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, bias_grad_fw, bias_grad_bw, 0, NULL};

/* Applies op to (a, b) in their common dtype; shape (when given) is the
 * shape conv_input / conv_weight produce. */
static mg_tensor *apply2(const mg_opdef *op, mg_tensor *a, mg_tensor *b, const mg_params *p,
                         const mg_tensor *shape_of) {
    mg_params q = *p;
    if (shape_of) {
        q.ndim = shape_of->ndim;
        memcpy(q.shape, shape_of->shape, sizeof q.shape);
    }
    mg_dtype dt = mg_promote(a->dtype, b->dtype);
    mg_tensor *A = mg_astype(a, dt), *B = A ? mg_astype(b, dt) : NULL;
    mg_tensor *in[2] = {A, B};
    mg_tensor *r = B ? mg_apply(op, in, &q) : NULL;
    mg_release(A);
    mg_release(B);
    return r;
}

/* Outside create_graph (nothing recorded): the gradients wanted (gin[i]
 * when want[i]) from one backward pass over the chunks, in the dtype the
 * ops would use.  Returns 1, with nothing done, for the shapes the pass
 * does not take (no samples, channels, filters or outputs): the ops handle
 * those. */
static int conv_bw_fused(mg_node *nd, mg_tensor *g, mg_tensor **gin, const bool *want) {
    mg_tensor *x = nd->inputs[0], *w = nd->inputs[1];
    mg_dtype dt = mg_promote(g->dtype, mg_promote(x->dtype, w->dtype));
    conv_ctx cx = {.scratch = NULL};
    ctx_make(&cx, x->shape, w->shape, &nd->p, dt, false);
    const conv_geom *geo = &cx.g;
    if (geo->n == 0 || geo->OUT == 0 || geo->cg * geo->K == 0 || geo->fg == 0) return 1;
    mg_tensor *G0 = mg_astype(g, dt), *G = G0 ? dense(G0) : NULL;
    mg_tensor *X0 = want[1] ? mg_astype(x, dt) : NULL, *X = X0 ? dense(X0) : NULL;
    mg_tensor *W0 = want[0] ? mg_astype(w, dt) : NULL, *W = W0 ? dense(W0) : NULL;
    mg_tensor *out[3] = {NULL, NULL, NULL};
    int rc = MG_OK;
    if (!G || (want[1] && !X) || (want[0] && !W)) rc = mg_errcode();
    if (!rc && want[0] && !(out[0] = mg_empty(x->ndim, x->shape, dt))) rc = mg_errcode();
    if (!rc && want[1] && !(out[1] = mg_empty(w->ndim, w->shape, dt))) rc = mg_errcode();
    if (!rc && want[2] && !(out[2] = mg_empty(1, &geo->f, dt))) rc = mg_errcode();
    if (!rc)
        rc = backward_run(&cx, X ? mg_data_ptr(X) : NULL, W ? mg_data_ptr(W) : NULL,
                          mg_data_ptr(G), out[0] ? mg_data_ptr(out[0]) : NULL,
                          out[1] ? mg_data_ptr(out[1]) : NULL, out[2] ? mg_data_ptr(out[2]) : NULL);
    for (int i = 0; i < 3; i++) {
        if (!rc) gin[i] = out[i];
        else mg_release(out[i]);
    }
    mg_tensor *tmp[6] = {G0, G, X0, X, W0, W};
    for (int i = 0; i < 6; i++) mg_release(tmp[i]);
    ctx_free(&cx);
    return rc;
}

/* y = conv(x, w) (+ b): gx = conv_input(g, w), gw = conv_weight(x, g),
 * gb = conv_bias_grad(g); outside create_graph from one fused pass. */
static int conv_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *x = nd->inputs[0], *w = nd->inputs[1];
    bool want[3] = {x->requires_grad, w->requires_grad,
                    nd->op == &op_conv_bias && nd->inputs[2]->requires_grad};
    if (!want[0] && !want[1] && !want[2]) return MG_OK;
    if (!mg_grad_enabled()) {
        int rc = conv_bw_fused(nd, g, gin, want);
        if (rc != 1) return rc;
    }
    /* one contiguous copy of g for the three (recorded under create_graph) */
    mg_tensor *gd = mg_grad_enabled() ? mg_contiguous(g) : dense(g);
    if (!gd) return mg_errcode();
    int rc = MG_OK;
    if (want[0] && !(gin[0] = apply2(&op_conv_input, gd, w, &nd->p, x))) rc = mg_errcode();
    if (!rc && want[1] && !(gin[1] = apply2(&op_conv_weight, x, gd, &nd->p, w))) rc = mg_errcode();
    if (!rc && want[2] && !(gin[2] = mg_apply(&op_conv_bias_grad, &gd, NULL))) rc = mg_errcode();
    mg_release(gd);
    return rc;
}

/* gb = conv_bias_grad(g) is linear: d g = h broadcast along all but axis 1. */
static int bias_grad_bw(mg_node *nd, mg_tensor *h, mg_tensor **gin) {
    mg_tensor *g = nd->inputs[0];
    int64_t shape[MG_MAXDIM];
    for (int i = 0; i < g->ndim; i++) shape[i] = i == 1 ? g->shape[1] : 1;
    mg_tensor *k = mg_reshape(h, g->ndim, shape);
    gin[0] = k ? mg_broadcast_to(k, g->ndim, g->shape) : NULL;
    mg_release(k);
    return gin[0] ? MG_OK : mg_errcode();
}

/* gx = conv_input(gy, w) is bilinear; with h the gradient of gx:
 * d gy = conv(h, w), d w = conv_weight(h, gy). */
static int input_bw(mg_node *nd, mg_tensor *h, mg_tensor **gin) {
    mg_tensor *gy = nd->inputs[0], *w = nd->inputs[1];
    if (gy->requires_grad && !(gin[0] = apply2(&op_conv, h, w, &nd->p, NULL)))
        return mg_errcode();
    if (w->requires_grad && !(gin[1] = apply2(&op_conv_weight, h, gy, &nd->p, w)))
        return mg_errcode();
    return MG_OK;
}

/* gw = conv_weight(x, gy); with v the gradient of gw:
 * d x = conv_input(gy, v), d gy = conv(x, v). */
static int weight_bw(mg_node *nd, mg_tensor *v, mg_tensor **gin) {
    mg_tensor *x = nd->inputs[0], *gy = nd->inputs[1];
    if (x->requires_grad && !(gin[0] = apply2(&op_conv_input, gy, v, &nd->p, x)))
        return mg_errcode();
    if (gy->requires_grad && !(gin[1] = apply2(&op_conv, x, v, &nd->p, NULL)))
        return mg_errcode();
    return MG_OK;
}

/* ---- the public entry: checks ------------------------------------------------------- */
mg_conv_opts mg_conv_defaults(void) {
    mg_conv_opts o = {{1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 1};
    return o;
}

static int check_float(const char *what, const mg_tensor *t) {
    if (mg_dtype_is_float(t->dtype)) return MG_OK;
    return mg_seterr(MG_EDTYPE, "conv_nd: %s must be a float tensor (float32 or float64), got %s",
                     what, mg_dtype_name(t->dtype));
}

static int check_shapes(const mg_tensor *x, const mg_tensor *w, const mg_tensor *b) {
    char sx[256], sw[256];
    const char *xs = mg_shape_str(x->ndim, x->shape, sx, sizeof sx);
    const char *ws = mg_shape_str(w->ndim, w->shape, sw, sizeof sw);
    if (w->ndim < 3 || w->ndim > 5)
        return mg_seterr(MG_ESHAPE, "conv_nd: the filters w must have 3, 4 or 5 axes {F, C, K...} "
                         "(1-d, 2-d or 3-d convolution), got shape %s", ws);
    if (x->ndim != w->ndim)
        return mg_seterr(MG_ESHAPE, "conv_nd: x must have %d axes {N, C, ...} to go with filters "
                         "of shape %s, got shape %s", w->ndim, ws, xs);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0])) {
        char sb[256];
        return mg_seterr(MG_ESHAPE, "conv_nd: the bias must have shape {%lld} (one per filter), "
                         "got %s", (long long)w->shape[0], mg_shape_str(b->ndim, b->shape, sb, sizeof sb));
    }
    return MG_OK;
}

static int check_opts(const mg_tensor *x, const mg_tensor *w, const mg_conv_opts *o) {
    char sx[256], sw[256];
    const char *xs = mg_shape_str(x->ndim, x->shape, sx, sizeof sx);
    const char *ws = mg_shape_str(w->ndim, w->shape, sw, sizeof sw);
    int d = w->ndim - 2;
    int64_t gr = o->groups;
    if (gr < 1 || gr > INT32_MAX)
        return mg_seterr(MG_EVALUE, "conv_nd: groups must be a positive integer, got %lld", (long long)gr);
    if (x->shape[1] % gr || w->shape[0] % gr)
        return mg_seterr(MG_EVALUE, "conv_nd: groups = %lld must divide both the input channels "
                         "(%lld) and the filters (%lld)", (long long)gr, (long long)x->shape[1],
                         (long long)w->shape[0]);
    if (x->shape[1] != w->shape[1] * gr)
        return mg_seterr(MG_ESHAPE, "conv_nd: x has %lld channels but the filters of shape %s "
                         "expect %lld (w's axis 2 times groups = %lld); x has shape %s",
                         (long long)x->shape[1], ws, (long long)(w->shape[1] * gr), (long long)gr, xs);
    int64_t in = 1;
    for (int i = 0; i < d; i++) {
        int64_t s = o->stride[i], p = o->padding[i], dl = o->dilation[i];
        int64_t n = x->shape[2 + i], k = w->shape[2 + i];
        if (s < 1 || s > INT32_MAX)
            return mg_seterr(MG_EVALUE, "conv_nd: spatial axis %d: stride must be >= 1 (and at "
                             "most %d), got %lld", i + 1, INT32_MAX, (long long)s);
        if (dl < 1 || dl > INT32_MAX)
            return mg_seterr(MG_EVALUE, "conv_nd: spatial axis %d: dilation must be >= 1 (and at "
                             "most %d), got %lld", i + 1, INT32_MAX, (long long)dl);
        if (p < 0 || p > INT32_MAX)
            return mg_seterr(MG_EVALUE, "conv_nd: spatial axis %d: padding must be >= 0 (and at "
                             "most %d), got %lld", i + 1, INT32_MAX, (long long)p);
        if (k < 1 || k > INT32_MAX || n > INT32_MAX)
            return mg_seterr(MG_ESHAPE, "conv_nd: spatial axis %d: kernel size %lld or input size "
                             "%lld is out of range (filters %s)", i + 1, (long long)k,
                             (long long)n, ws);
        if (dl * (k - 1) + 1 > n + 2 * p)
            return mg_seterr(MG_ESHAPE, "conv_nd: spatial axis %d: the kernel (size %lld, dilation "
                             "%lld, so %lld wide) is larger than the padded input (%lld + 2 * %lld); "
                             "x has shape %s, w %s", i + 1, (long long)k, (long long)dl,
                             (long long)(dl * (k - 1) + 1), (long long)n, (long long)p, xs, ws);
        in *= n;
        if (in > INT32_MAX)
            return mg_seterr(MG_ESHAPE, "conv_nd: x's spatial size (shape %s) is too large", xs);
    }
    /* GEMM sizes must fit int */
    int64_t ck = w->shape[1], out = 1, f = w->shape[0];
    for (int i = 0; i < d; i++) {
        ck *= w->shape[2 + i];
        if (ck > INT32_MAX) return mg_seterr(MG_ESHAPE, "conv_nd: filters %s are too large", ws);
        out *= (x->shape[2 + i] + 2 * o->padding[i] - o->dilation[i] * (w->shape[2 + i] - 1) - 1) /
                   o->stride[i] + 1;
        if (out > INT32_MAX) return mg_seterr(MG_ESHAPE, "conv_nd: the output is too large");
    }
    if (f > INT32_MAX || (double)ck * (double)out > (double)INT32_MAX * 64)
        return mg_seterr(MG_ESHAPE, "conv_nd: x %s with filters %s is too large", xs, ws);
    return MG_OK;
}

mg_tensor *mg_conv_nd(mg_tensor *x, mg_tensor *w, mg_tensor *b, const mg_conv_opts *o) {
    mg_conv_opts def = mg_conv_defaults();
    if (!o) o = &def;
    if (!x || !w) {
        mg_seterr(MG_EVALUE, "conv_nd: missing %s", x ? "filters" : "input");
        return NULL;
    }
    if (check_float("x", x) || check_float("w", w) || (b && check_float("the bias", b)) ||
        check_shapes(x, w, b) || check_opts(x, w, o))
        return NULL;
    mg_params p;
    memset(&p, 0, sizeof p);
    int d = w->ndim - 2;
    p.axis = d;
    for (int i = 0; i < d; i++) {
        p.ival[i] = o->stride[i];
        p.ival[3 + i] = o->padding[i];
        p.ival[6 + i] = o->dilation[i];
    }
    p.ival[9] = o->groups;
    mg_dtype dt = mg_promote(x->dtype, w->dtype);
    if (b) dt = mg_promote(dt, b->dtype);
    mg_tensor *X = mg_astype(x, dt), *W = X ? mg_astype(w, dt) : NULL;
    mg_tensor *B = W && b ? mg_astype(b, dt) : NULL, *y = NULL;
    if (W && (!b || B)) {
        mg_tensor *in[3] = {X, W, B};
        y = mg_apply(b ? &op_conv_bias : &op_conv, in, &p);
    }
    mg_release(X);
    mg_release(W);
    mg_release(B);
    return y;
}
