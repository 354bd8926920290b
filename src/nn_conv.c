/* nn_conv.c — N-d convolution (1-d, 2-d, 3-d; stride, zero padding,
 * dilation, groups, optional bias) as op-table entries that are each
 * other's derivatives:
 *   conv / conv_bias   y  = conv(x, w) (+ b)
 *   conv_input         gx = conv_input(g, w)   the transpose of conv in x
 *   conv_weight        gw = conv_weight(x, g)  the transpose of conv in w
 * Backward through any of them is written with the others, so
 * create_graph gives second (and higher) derivatives.
 *
 * Kernels: im2col + one GEMM per sample and group (OpenBLAS).  The im2col
 * "plan" is an int32 table of input offsets within one channel, one row
 * per kernel tap and one column per output position, -1 where the window
 * reads zero padding; it is shared by every sample, channel and group.
 * mg_nn_window_plan (also used by nn_pool.c) builds it. */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

int32_t *mg_nn_window_plan(const int64_t *in, const int64_t *k, const int64_t *out,
                           const int64_t *s, const int64_t *pad, const int64_t *dil);

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

/* Input offsets (within one channel) read by each (tap, output position);
 * -1 for padding.  Layout [tap][output], taps and outputs row-major.
 * Callers have checked that in[0]*in[1]*in[2] fits in int32. */
int32_t *mg_nn_window_plan(const int64_t *in, const int64_t *k, const int64_t *out,
                           const int64_t *s, const int64_t *pad, const int64_t *dil) {
    int64_t taps = k[0] * k[1] * k[2], outs = out[0] * out[1] * out[2];
    int32_t *plan = malloc((size_t)(taps * outs > 0 ? taps * outs : 1) * sizeof *plan);
    if (!plan) {
        mg_seterr(MG_ENOMEM, "convolution: out of memory for a plan of %lld x %lld entries",
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

/* ---- im2col / col2im over cg channels ---------------------------------------- */
static void im2col_f32(float *col, const float *x, const int32_t *plan, int64_t cg, int64_t in,
                       int64_t ko) {
    for (int64_t c = 0; c < cg; c++, x += in, col += ko)
        for (int64_t r = 0; r < ko; r++) col[r] = plan[r] >= 0 ? x[plan[r]] : 0.0f;
}
static void im2col_f64(double *col, const double *x, const int32_t *plan, int64_t cg, int64_t in,
                       int64_t ko) {
    for (int64_t c = 0; c < cg; c++, x += in, col += ko)
        for (int64_t r = 0; r < ko; r++) col[r] = plan[r] >= 0 ? x[plan[r]] : 0.0;
}
static void col2im_f32(float *gx, const float *col, const int32_t *plan, int64_t cg, int64_t in,
                       int64_t ko) {
    for (int64_t c = 0; c < cg; c++, gx += in, col += ko)
        for (int64_t r = 0; r < ko; r++)
            if (plan[r] >= 0) gx[plan[r]] += col[r];
}
static void col2im_f64(double *gx, const double *col, const int32_t *plan, int64_t cg, int64_t in,
                       int64_t ko) {
    for (int64_t c = 0; c < cg; c++, gx += in, col += ko)
        for (int64_t r = 0; r < ko; r++)
            if (plan[r] >= 0) gx[plan[r]] += col[r];
}

static void im2col(mg_dtype dt, void *col, const void *x, const int32_t *plan, const conv_geom *g) {
    if (dt == MG_FLOAT32) im2col_f32(col, x, plan, g->cg, g->IN, g->K * g->OUT);
    else im2col_f64(col, x, plan, g->cg, g->IN, g->K * g->OUT);
}
static void col2im(mg_dtype dt, void *gx, const void *col, const int32_t *plan, const conv_geom *g) {
    if (dt == MG_FLOAT32) col2im_f32(gx, col, plan, g->cg, g->IN, g->K * g->OUT);
    else col2im_f64(gx, col, plan, g->cg, g->IN, g->K * g->OUT);
}

/* Row-major C (m x n) = op(A) op(B) + beta C; sizes were checked to fit int. */
static void gemm(mg_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *a,
                 int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc) {
    CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    if (dt == MG_FLOAT32)
        cblas_sgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb,
                    (float)beta, c, (int)ldc);
    else
        cblas_dgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, 1.0, a, (int)lda, b, (int)ldb,
                    beta, c, (int)ldc);
}

/* ---- shared set-up of the three kernels ------------------------------------------ */
typedef struct {
    conv_geom g;
    mg_dtype dt;
    size_t esz;
    int32_t *plan;
    bool direct; /* the plan is the identity: a channel block is its own column matrix */
    int nthreads;
} conv_ctx;

static int ctx_make(conv_ctx *cx, const int64_t *xs, const int64_t *ws, const mg_params *p,
                    mg_dtype dt) {
    geom_make(xs, ws, p, &cx->g);
    cx->dt = dt;
    cx->esz = mg_dtype_size(dt);
    cx->plan = mg_nn_window_plan(cx->g.in, cx->g.k, cx->g.out, cx->g.s, cx->g.pad, cx->g.dil);
    if (!cx->plan) return MG_ENOMEM;
    cx->direct = cx->g.K == 1 && cx->g.OUT == cx->g.IN;
    for (int64_t o = 0; cx->direct && o < cx->g.OUT; o++) cx->direct = cx->plan[o] == o;
    cx->nthreads = 1;
#ifdef _OPENMP
    cx->nthreads = omp_get_max_threads();
    if (cx->nthreads > cx->g.n) cx->nthreads = (int)(cx->g.n > 0 ? cx->g.n : 1);
#endif
    return MG_OK;
}

/* One column buffer per thread (none when direct). */
static void *col_buffers(const conv_ctx *cx) {
    if (cx->direct) return NULL;
    size_t per = (size_t)(cx->g.cg * cx->g.K * cx->g.OUT) * cx->esz;
    void *b = malloc(per * (size_t)cx->nthreads + 1);
    if (!b) mg_seterr(MG_ENOMEM, "convolution: out of memory for %zu bytes of columns", per);
    return b;
}

static char *col_of(const conv_ctx *cx, void *cols, int thread) {
    return (char *)cols + (size_t)thread * (size_t)(cx->g.cg * cx->g.K * cx->g.OUT) * cx->esz;
}

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* A contiguous tensor with a's values (a itself when it already is). */
static mg_tensor *dense(mg_tensor *a) {
    return mg_is_contiguous(a) ? mg_retain(a) : mg_copy_of(a, a->dtype);
}

/* ---- forward: y = conv(x, w) + b ---------------------------------------------------- */
static void fill_bias(const conv_ctx *cx, char *y, const mg_tensor *b) {
    const conv_geom *g = &cx->g;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t f = 0; f < g->f; f++) {
            double v = mg_get_flat(b, f);
            char *row = y + (size_t)((n * g->f + f) * g->OUT) * cx->esz;
            for (int64_t o = 0; o < g->OUT; o++) {
                if (cx->dt == MG_FLOAT32) ((float *)row)[o] = (float)v;
                else ((double *)row)[o] = v;
            }
        }
}

static void conv_sample(const conv_ctx *cx, int64_t n, const char *X, const char *W, char *Y,
                        void *cols, double beta) {
    const conv_geom *g = &cx->g;
    int64_t ck = g->cg * g->K;
    for (int64_t grp = 0; grp < g->groups; grp++) {
        const char *xb = X + (size_t)((n * g->c + grp * g->cg) * g->IN) * cx->esz;
        const char *src = xb;
        if (!cx->direct) {
            src = col_of(cx, cols, thread_id());
            im2col(cx->dt, (void *)src, xb, cx->plan, g);
        }
        gemm(cx->dt, false, false, g->fg, g->OUT, ck, W + (size_t)(grp * g->fg * ck) * cx->esz,
             ck, src, g->OUT, beta, Y + (size_t)((n * g->f + grp * g->fg) * g->OUT) * cx->esz,
             g->OUT);
    }
}

static mg_tensor *conv_run(mg_tensor *x, mg_tensor *w, mg_tensor *b, const mg_params *p) {
    conv_ctx cx = {.plan = NULL};
    mg_tensor *X = dense(x), *W = X ? dense(w) : NULL, *y = NULL;
    void *cols = NULL;
    if (!W || ctx_make(&cx, x->shape, w->shape, p, x->dtype)) goto done;
    const conv_geom *g = &cx.g;
    int64_t shape[5] = {g->n, g->f};
    for (int i = 0; i < g->d; i++) shape[2 + i] = g->out[3 - g->d + i];
    if (!(y = mg_zeros(g->d + 2, shape, cx.dt))) goto done;
    if (mg_numel(y) == 0) goto done;
    if (b) fill_bias(&cx, mg_data_ptr(y), b);
    if (g->cg * g->K == 0) goto done; /* no input channels: y = b (or 0) */
    if (!cx.direct && !(cols = col_buffers(&cx))) {
        mg_release(y);
        y = NULL;
        goto done;
    }
    const char *Xp = mg_data_ptr(X), *Wp = mg_data_ptr(W);
    char *Yp = mg_data_ptr(y);
    double beta = b ? 1.0 : 0.0;
#ifdef _OPENMP
#pragma omp parallel for num_threads(cx.nthreads) schedule(static) if (cx.nthreads > 1)
#endif
    for (int64_t n = 0; n < g->n; n++) conv_sample(&cx, n, Xp, Wp, Yp, cols, beta);
done:
    free(cx.plan);
    free(cols);
    mg_release(X);
    mg_release(W);
    return y;
}

/* ---- conv_input: gx = conv_input(g, w), the transpose in x ------------------------- */
static void input_sample(const conv_ctx *cx, int64_t n, const char *G, const char *W, char *GX,
                         void *cols) {
    const conv_geom *g = &cx->g;
    int64_t ck = g->cg * g->K;
    for (int64_t grp = 0; grp < g->groups; grp++) {
        char *gxb = GX + (size_t)((n * g->c + grp * g->cg) * g->IN) * cx->esz;
        char *dst = cx->direct ? gxb : col_of(cx, cols, thread_id());
        gemm(cx->dt, true, false, ck, g->OUT, g->fg, W + (size_t)(grp * g->fg * ck) * cx->esz, ck,
             G + (size_t)((n * g->f + grp * g->fg) * g->OUT) * cx->esz, g->OUT, 0.0, dst, g->OUT);
        if (!cx->direct) col2im(cx->dt, gxb, dst, cx->plan, g);
    }
}

static mg_tensor *input_fw(mg_tensor **in, const mg_params *p) {
    conv_ctx cx = {.plan = NULL};
    mg_tensor *G = dense(in[0]), *W = G ? dense(in[1]) : NULL, *gx = NULL;
    void *cols = NULL;
    if (!W || ctx_make(&cx, p->shape, in[1]->shape, p, in[0]->dtype)) goto done;
    const conv_geom *g = &cx.g;
    if (!(gx = mg_zeros(p->ndim, p->shape, cx.dt))) goto done;
    if (mg_numel(gx) == 0 || g->fg == 0) goto done;
    if (!cx.direct && !(cols = col_buffers(&cx))) {
        mg_release(gx);
        gx = NULL;
        goto done;
    }
    const char *Gp = mg_data_ptr(G), *Wp = mg_data_ptr(W);
    char *GXp = mg_data_ptr(gx);
#ifdef _OPENMP
#pragma omp parallel for num_threads(cx.nthreads) schedule(static) if (cx.nthreads > 1)
#endif
    for (int64_t n = 0; n < g->n; n++) input_sample(&cx, n, Gp, Wp, GXp, cols);
done:
    free(cx.plan);
    free(cols);
    mg_release(G);
    mg_release(W);
    return gx;
}

/* ---- conv_weight: gw = conv_weight(x, g), the transpose in w ------------------------ */
/* Adds sample n's contribution to gw (F x CK, per group). */
static void weight_sample(const conv_ctx *cx, int64_t n, const char *X, const char *G, char *GW,
                          void *cols) {
    const conv_geom *g = &cx->g;
    int64_t ck = g->cg * g->K;
    for (int64_t grp = 0; grp < g->groups; grp++) {
        const char *xb = X + (size_t)((n * g->c + grp * g->cg) * g->IN) * cx->esz;
        const char *src = xb;
        if (!cx->direct) {
            src = col_of(cx, cols, thread_id());
            im2col(cx->dt, (void *)src, xb, cx->plan, g);
        }
        gemm(cx->dt, false, true, g->fg, ck, g->OUT,
             G + (size_t)((n * g->f + grp * g->fg) * g->OUT) * cx->esz, g->OUT, src, g->OUT, 1.0,
             GW + (size_t)(grp * g->fg * ck) * cx->esz, ck);
    }
}

/* With several threads each sums its samples into its own copy of gw. */
static int weight_parallel(const conv_ctx *cx, const char *X, const char *G, mg_tensor *gw,
                           void *cols) {
    const conv_geom *g = &cx->g;
    int64_t nw = mg_numel(gw);
    int nt = cx->nthreads;
    char *GW = mg_data_ptr(gw);
    if (nt <= 1) {
        for (int64_t n = 0; n < g->n; n++) weight_sample(cx, n, X, G, GW, cols);
        return MG_OK;
    }
    char *part = calloc((size_t)nt * (size_t)nw, cx->esz);
    if (!part) return mg_seterr(MG_ENOMEM, "convolution: out of memory for weight gradients");
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num();
#pragma omp for schedule(static)
        for (int64_t n = 0; n < g->n; n++)
            weight_sample(cx, n, X, G, part + (size_t)t * (size_t)nw * cx->esz, cols);
    }
#endif
    for (int t = 0; t < nt; t++)
        for (int64_t i = 0; i < nw; i++) {
            if (cx->dt == MG_FLOAT32) ((float *)GW)[i] += ((float *)part)[(int64_t)t * nw + i];
            else ((double *)GW)[i] += ((double *)part)[(int64_t)t * nw + i];
        }
    free(part);
    return MG_OK;
}

static mg_tensor *weight_fw(mg_tensor **in, const mg_params *p) {
    conv_ctx cx = {.plan = NULL};
    mg_tensor *X = dense(in[0]), *G = X ? dense(in[1]) : NULL, *gw = NULL;
    void *cols = NULL;
    if (!G || ctx_make(&cx, in[0]->shape, p->shape, p, in[0]->dtype)) goto done;
    if (!(gw = mg_zeros(p->ndim, p->shape, cx.dt))) goto done;
    if (mg_numel(gw) == 0 || cx.g.n == 0) goto done;
    if ((!cx.direct && !(cols = col_buffers(&cx))) ||
        weight_parallel(&cx, mg_data_ptr(X), mg_data_ptr(G), gw, cols)) {
        mg_release(gw);
        gw = NULL;
    }
done:
    free(cx.plan);
    free(cols);
    mg_release(X);
    mg_release(G);
    return gw;
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

static const mg_opdef op_conv = {"conv_nd", "ConvolutionBackward", 2, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, conv_fw, conv_bw, MG_SAVES_IN0 | MG_SAVES_IN1, NULL};
static const mg_opdef op_conv_bias = {"conv_nd", "ConvolutionBackward", 3, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, conv_bias_fw, conv_bw, MG_SAVES_IN0 | MG_SAVES_IN1, NULL};
static const mg_opdef op_conv_input = {"conv_input", "ConvolutionInputBackward", 2,
    MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, input_fw, input_bw, MG_SAVES_IN0 | MG_SAVES_IN1, NULL};
static const mg_opdef op_conv_weight = {"conv_weight", "ConvolutionWeightBackward", 2,
    MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, weight_fw, weight_bw, MG_SAVES_IN0 | MG_SAVES_IN1, NULL};

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

/* y = conv(x, w) (+ b): gx = conv_input(g, w), gw = conv_weight(x, g), gb = sum of g. */
static int conv_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *x = nd->inputs[0], *w = nd->inputs[1];
    if (x->requires_grad && !(gin[0] = apply2(&op_conv_input, g, w, &nd->p, x)))
        return mg_errcode();
    if (w->requires_grad && !(gin[1] = apply2(&op_conv_weight, x, g, &nd->p, w)))
        return mg_errcode();
    if (nd->op == &op_conv_bias && nd->inputs[2]->requires_grad) {
        uint32_t axes = 0;
        for (int i = 0; i < g->ndim; i++)
            if (i != 1) axes |= 1u << i;
        if (!(gin[2] = mg_sum(g, axes, false))) return mg_errcode();
    }
    return MG_OK;
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
        if (s < 1 || s > INT32_MAX || dl < 1 || dl > INT32_MAX || p < 0 || p > INT32_MAX)
            return mg_seterr(MG_EVALUE, "conv_nd: spatial axis %d: stride (%lld) and dilation "
                             "(%lld) must be >= 1 and padding (%lld) >= 0", i + 1, (long long)s,
                             (long long)dl, (long long)p);
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
    /* GEMM sizes must fit int; the plan's entries too */
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
