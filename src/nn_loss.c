/* nn_loss.c — the losses of mg.nnet.
 *
 * The cross-entropy family are fused ops with C kernels.  softmax
 * crossentropy reads each row of logits once for its log-sum-exp and picks
 * the label's logit (no one-hot is built); its backward is a second fused
 * op, g * (K softmax(x) - T) (T the label's weight at the label plus the
 * smoothing mass), whose own backward is written with ops, so second
 * derivatives work.  negative_log_likelihood picks -w[y] x[y]; its backward
 * scatters -w[y] g into zeros, and that op's backward is the pick again.
 * The other losses (mse, l1, huber, binary crossentropy with and without
 * logits, multiclass hinge, margin ranking, the focal losses) are composed
 * of existing differentiable ops. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

/* Sums a over one axis (none for a 0-d a), consuming a. */
static mg_tensor *take_sum(mg_tensor *a, int axis, bool keepdims) {
    mg_tensor *r = a ? mg_sum(a, a->ndim ? 1u << axis : 0u, keepdims) : NULL;
    mg_release(a);
    return r;
}

/* a, or a float copy of an integer/bool tensor (constant); new reference. */
static mg_tensor *as_float(mg_tensor *a) {
    if (mg_dtype_is_float(a->dtype)) return mg_retain(a);
    return mg_astype(a, mg_default_float());
}

static int err_missing(const char *op, const char *what) {
    return mg_seterr(MG_EVALUE, "%s: %s is missing", op, what);
}

static int check_reduction(const char *op, mg_reduction red) {
    if (red == MG_REDUCE_MEAN || red == MG_REDUCE_SUM || red == MG_REDUCE_NONE) return MG_OK;
    return mg_seterr(MG_EVALUE, "%s: reduction must be mean, sum or none (got %d)", op, (int)red);
}

/* The loss elements reduced as asked; consumes l. */
static mg_tensor *reduce(mg_tensor *l, mg_reduction red) {
    if (!l || red == MG_REDUCE_NONE) return l;
    mg_tensor *r =
        red == MG_REDUCE_SUM ? mg_sum(l, MG_ALLAXES, false) : mg_mean(l, MG_ALLAXES, false);
    mg_release(l);
    return r;
}

/* Element i of a contiguous float buffer of dtype dt, as a double. */
static double getd(const void *p, mg_dtype dt, int64_t i) {
    return dt == MG_FLOAT32 ? ((const float *)p)[i] : ((const double *)p)[i];
}
static void setd(void *p, mg_dtype dt, int64_t i, double v) {
    if (dt == MG_FLOAT32) ((float *)p)[i] = (float)v;
    else ((double *)p)[i] = v;
}

/* a itself when contiguous of dtype dt, else a contiguous copy (no recording). */
static mg_tensor *contig(mg_tensor *a, mg_dtype dt) {
    if (a->dtype == dt && mg_is_contiguous(a)) return mg_retain(a);
    return mg_copy_of(a, dt);
}

/* ---- class labels ------------------------------------------------------------------
 * Scores x of shape {N, C, d1, ...} are read as (outer = N, C, inner =
 * d1 * ...); a 1-d x is one sample (outer = inner = 1).  Labels have x's
 * shape without the class axis and count from base. */
typedef struct {
    int64_t outer, C, inner;
    int cls; /* the class axis: 1, or 0 for a 1-d x */
} layout;

static int label_layout(const char *op, int ndim, const int64_t *shape, const mg_tensor *labels,
                        layout *l) {
    char sx[256], sl[256], se[256];
    if (ndim == 0)
        return mg_seterr(MG_ESHAPE, "%s: the scores must have shape {N, C} (or {N, C, d1, ...}, or "
                         "{C}), got a 0-d tensor", op);
    if (labels->dtype != MG_INT64)
        return mg_seterr(MG_EDTYPE, "%s: labels must be an int64 tensor of class numbers, got %s",
                         op, mg_dtype_name(labels->dtype));
    int64_t want[MG_MAXDIM];
    int nw = 0;
    for (int i = 0; i < ndim; i++)
        if (i != (ndim == 1 ? 0 : 1)) want[nw++] = shape[i];
    bool ok = labels->ndim == nw;
    for (int i = 0; ok && i < nw; i++) ok = labels->shape[i] == want[i];
    if (!ok)
        return mg_seterr(MG_ESHAPE,
                         "%s: labels of shape %s do not match scores of shape %s: "
                         "expected labels of shape %s (one per sample)",
                         op, mg_shape_str(labels->ndim, labels->shape, sl, sizeof sl),
                         mg_shape_str(ndim, shape, sx, sizeof sx),
                         mg_shape_str(nw, want, se, sizeof se));
    l->cls = ndim == 1 ? 0 : 1;
    l->C = shape[l->cls];
    l->outer = ndim == 1 ? 1 : shape[0];
    l->inner = 1;
    for (int i = 2; i < ndim; i++) l->inner *= shape[i];
    return MG_OK;
}

/* The labels as a contiguous int64 tensor, every one checked to lie in
 * base .. base + C - 1. */
static mg_tensor *checked_labels(const char *op, mg_tensor *labels, int64_t C, int base) {
    mg_tensor *c = contig(labels, MG_INT64);
    if (!c) return NULL;
    const int64_t *v = mg_data_ptr(c);
    int64_t n = mg_numel(c);
    for (int64_t i = 0; i < n; i++)
        if (v[i] < base || v[i] - base >= C) {
            mg_seterr(MG_EINDEX, "%s: label %lld is out of range for %lld classes (labels count "
                      "from %d: %d..%lld)", op, (long long)v[i], (long long)C, base, base,
                      (long long)(C - 1 + base));
            mg_release(c);
            return NULL;
        }
    return c;
}

/* The C class weights as doubles in *out (malloc'd), or NULL when w is NULL. */
static int read_weights(const char *op, const mg_tensor *w, int64_t C, double **out) {
    *out = NULL;
    if (!w) return MG_OK;
    char s[256];
    if (w->ndim != 1 || w->shape[0] != C)
        return mg_seterr(MG_ESHAPE,
                         "%s: weights must hold one number per class (shape {%lld}), "
                         "got shape %s",
                         op, (long long)C, mg_shape_str(w->ndim, w->shape, s, sizeof s));
    if (!(*out = malloc((size_t)(C ? C : 1) * sizeof **out)))
        return mg_seterr(MG_ENOMEM, "%s: out of memory", op);
    for (int64_t c = 0; c < C; c++) (*out)[c] = mg_get_flat(w, c);
    return MG_OK;
}

/* What a class-label kernel reads: the layout, the checked labels and the
 * weights (NULL = all 1).  The node's inputs are (..., labels, weights or
 * labels again when there are none); p->ival[0] is the label base and
 * p->ival[1] says whether weights were given. */
typedef struct {
    layout l;
    mg_tensor *lab; /* contiguous int64, checked, base subtracted on use */
    double *w;
    int64_t base;
} cls_in;

static int cls_open(const char *op, int ndim, const int64_t *shape, mg_tensor *labels,
                    mg_tensor *w, const mg_params *p, cls_in *ci) {
    memset(ci, 0, sizeof *ci);
    ci->base = p->ival[0];
    if (label_layout(op, ndim, shape, labels, &ci->l)) return mg_errcode();
    if (!(ci->lab = checked_labels(op, labels, ci->l.C, (int)ci->base))) return mg_errcode();
    if (read_weights(op, p->ival[1] ? w : NULL, ci->l.C, &ci->w)) {
        mg_release(ci->lab);
        ci->lab = NULL;
        return mg_errcode();
    }
    return MG_OK;
}
static void cls_close(cls_in *ci) {
    mg_release(ci->lab);
    free(ci->w);
}
static inline double weight(const cls_in *ci, int64_t c) { return ci->w ? ci->w[c] : 1.0; }
/* The label of sample (a, j), 0-based. */
static inline int64_t label_at(const cls_in *ci, int64_t a, int64_t j) {
    return ((const int64_t *)mg_data_ptr(ci->lab))[a * ci->l.inner + j] - ci->base;
}

/* ---- softmax crossentropy: the fused kernels ---------------------------------------
 * One row is the C logits of sample (a, j), stride `inner` apart.  Per row:
 * the maximum, the sum of exp(x - max), lse = max + log(sum), and
 *   loss = (1 - eps) w[y] (lse - x[y]) + eps / C * sum_c w[c] (lse - x[c]).
 * The gradient of that is K softmax(x) - T with K = (1 - eps) w[y] + eps/C
 * sum_c w[c] and T[c] = eps/C w[c] + (c == y) (1 - eps) w[y]. */
#define SCE_KERNELS(sfx, T, EXP)                                                             \
    /* The maximum of a row and the sum of exp(x - max) (into e when given). */              \
    static inline double row_sumexp_##sfx(const T *r, int64_t C, int64_t st, double *mx,      \
                                          T *e) {                                             \
        double m = -INFINITY, s = 0;                                                          \
        for (int64_t c = 0; c < C; c++) {                                                     \
            double v = r[c * st];                                                             \
            if (v > m || v != v) m = v;                                                       \
        }                                                                                     \
        for (int64_t c = 0; c < C; c++) {                                                     \
            T v = EXP((T)(r[c * st] - (T)m));                                                 \
            if (e) e[c * st] = v;                                                             \
            s += v;                                                                           \
        }                                                                                     \
        *mx = m;                                                                              \
        return s;                                                                             \
    }                                                                                         \
    static inline double sce_row_##sfx(const T *r, int64_t C, int64_t st, int64_t y,          \
                                       const double *w, double eps) {                         \
        double mx, s = row_sumexp_##sfx(r, C, st, &mx, NULL);                                 \
        double lse = mx + log(s), loss = (w ? w[y] : 1) * (lse - r[y * st]);                  \
        if (eps > 0) {                                                                        \
            double sm = 0;                                                                    \
            for (int64_t c = 0; c < C; c++) sm += (w ? w[c] : 1) * (lse - r[c * st]);         \
            loss = (1 - eps) * loss + eps / (double)C * sm;                                   \
        }                                                                                     \
        return loss;                                                                          \
    }                                                                                         \
    /* o = gv (K softmax(r) - T), T and K as above; wsum = sum_c w[c]. */                     \
    static inline void sce_grad_row_##sfx(const T *r, T *o, int64_t C, int64_t st, int64_t y, \
                                          const double *w, double eps, double wsum,           \
                                          double gv) {                                        \
        double mx, s = row_sumexp_##sfx(r, C, st, &mx, o);                                    \
        double wy = (1 - eps) * (w ? w[y] : 1);                                               \
        double k = gv * (wy + eps / (double)C * wsum) / s;                                    \
        for (int64_t c = 0; c < C; c++) o[c * st] = (T)(k * o[c * st]);                       \
        if (eps > 0)                                                                          \
            for (int64_t c = 0; c < C; c++)                                                   \
                o[c * st] = (T)(o[c * st] - gv * eps / (double)C * (w ? w[c] : 1));           \
        o[y * st] = (T)(o[y * st] - gv * wy);                                                 \
    }                                                                                         \
    /* Every row; inner == 1 (the usual {N, C}) gets its own, contiguous, loop. */           \
    static void sce_fw_##sfx(const cls_in *ci, const T *x, T *out, double eps) {             \
        int64_t C = ci->l.C, inner = ci->l.inner;                                             \
        for (int64_t a = 0; a < ci->l.outer; a++) {                                           \
            if (inner == 1) {                                                                 \
                out[a] = (T)sce_row_##sfx(x + a * C, C, 1, label_at(ci, a, 0), ci->w, eps);   \
                continue;                                                                     \
            }                                                                                 \
            for (int64_t j = 0; j < inner; j++)                                               \
                out[a * inner + j] = (T)sce_row_##sfx(x + a * C * inner + j, C, inner,        \
                                                      label_at(ci, a, j), ci->w, eps);        \
        }                                                                                     \
    }                                                                                         \
    static void sce_bw_##sfx(const cls_in *ci, const T *x, const double *g, T *out,          \
                             double eps, double wsum) {                                       \
        int64_t C = ci->l.C, inner = ci->l.inner;                                             \
        for (int64_t a = 0; a < ci->l.outer; a++) {                                           \
            if (inner == 1) {                                                                 \
                sce_grad_row_##sfx(x + a * C, out + a * C, C, 1, label_at(ci, a, 0), ci->w,   \
                                   eps, wsum, g[a]);                                          \
                continue;                                                                     \
            }                                                                                 \
            for (int64_t j = 0; j < inner; j++)                                               \
                sce_grad_row_##sfx(x + a * C * inner + j, out + a * C * inner + j, C, inner,  \
                                   label_at(ci, a, j), ci->w, eps, wsum, g[a * inner + j]);   \
        }                                                                                     \
    }

SCE_KERNELS(f32, float, expf)
SCE_KERNELS(f64, double, exp)

/* Inputs: logits, labels, weights (or labels); dval[0] = label smoothing. */
static mg_tensor *sce_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *x = in[0];
    cls_in ci;
    if (cls_open("softmax_crossentropy", x->ndim, x->shape, in[1], in[2], p, &ci)) return NULL;
    mg_tensor *xc = contig(x, x->dtype);
    mg_tensor *out = xc ? mg_empty(in[1]->ndim, in[1]->shape, x->dtype) : NULL;
    if (out && x->dtype == MG_FLOAT32)
        sce_fw_f32(&ci, mg_data_ptr(xc), mg_data_ptr(out), p->dval[0]);
    else if (out) sce_fw_f64(&ci, mg_data_ptr(xc), mg_data_ptr(out), p->dval[0]);
    mg_release(xc);
    cls_close(&ci);
    return out;
}

/* Inputs: logits, g (the gradient of the per-sample losses), labels,
 * weights (or labels).  Output: the gradient of the logits. */
static mg_tensor *sce_grad_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *x = in[0];
    cls_in ci;
    if (cls_open("softmax_crossentropy", x->ndim, x->shape, in[2], in[3], p, &ci)) return NULL;
    double wsum = 0;
    for (int64_t c = 0; c < ci.l.C; c++) wsum += weight(&ci, c);
    mg_tensor *xc = contig(x, x->dtype), *gc = contig(in[1], MG_FLOAT64);
    mg_tensor *out = xc && gc ? mg_empty(x->ndim, x->shape, x->dtype) : NULL;
    if (out && !mg_same_shape(gc, in[2])) { /* g has the labels' shape (the engine sees to it) */
        mg_seterr(MG_ESHAPE, "softmax_crossentropy: gradient of the wrong shape");
        mg_release(out);
        out = NULL;
    }
    if (out && x->dtype == MG_FLOAT32)
        sce_bw_f32(&ci, mg_data_ptr(xc), mg_data_ptr(gc), mg_data_ptr(out), p->dval[0], wsum);
    else if (out)
        sce_bw_f64(&ci, mg_data_ptr(xc), mg_data_ptr(gc), mg_data_ptr(out), p->dval[0], wsum);
    mg_release(xc);
    mg_release(gc);
    cls_close(&ci);
    return out;
}

/* T of the comment above as a dense constant of x's shape (second order only). */
static mg_tensor *sce_target(mg_node *n) {
    mg_tensor *x = n->inputs[0];
    double eps = n->p.dval[0];
    cls_in ci;
    if (cls_open("softmax_crossentropy", x->ndim, x->shape, n->inputs[2], n->inputs[3], &n->p, &ci))
        return NULL;
    mg_tensor *t = mg_empty(x->ndim, x->shape, x->dtype);
    int64_t C = ci.l.C, inner = ci.l.inner;
    for (int64_t a = 0; t && a < ci.l.outer; a++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t y = label_at(&ci, a, j);
            for (int64_t c = 0; c < C; c++) {
                double v =
                    eps / (double)C * weight(&ci, c) + (c == y ? (1 - eps) * weight(&ci, y) : 0);
                setd(mg_data_ptr(t), x->dtype, (a * C + c) * inner + j, v);
            }
        }
    cls_close(&ci);
    return t;
}

static const mg_opdef op_sce_grad;

static int sce_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    if (!mg_wants(n, 0)) return MG_OK;
    mg_tensor *in[4] = {n->inputs[0], g, n->inputs[1], n->inputs[2]};
    gin[0] = mg_apply(&op_sce_grad, in, &n->p);
    return gin[0] ? MG_OK : mg_errcode();
}

/* The output is G = g' (K p - T) with p = softmax(x) and g' = g with the
 * class axis put back.  For an incoming h:
 *   d/dg:  sum over classes of h (K p - T)
 *   d/dx:  p (v - sum(v p)) with v = h g' K   (softmax's backward). */
static int sce_grad_bw(mg_node *n, mg_tensor *h, mg_tensor **gin) {
    mg_tensor *x = n->inputs[0], *g = n->inputs[1];
    int cls = x->ndim == 1 ? 0 : 1;
    int64_t kshape[MG_MAXDIM];
    for (int i = 0; i < x->ndim; i++) kshape[i] = i == cls ? 1 : x->shape[i];
    mg_tensor *T = sce_target(n);
    mg_tensor *K = T ? mg_sum(T, 1u << cls, true) : NULL;
    mg_tensor *p = K ? mg_softmax(x, cls) : NULL;
    if (p && mg_wants(n, 1))
        gin[1] = take_sum(mg_take2(mg_mul, mg_retain(h), mg_take2(mg_sub, mg_mul(K, p), mg_retain(T))),
                          cls, false);
    if (p && mg_wants(n, 0)) {
        mg_tensor *v = mg_take2(mg_mul, mg_take2(mg_mul, mg_retain(h), mg_reshape(g, x->ndim, kshape)),
                             mg_retain(K));
        mg_tensor *dot = v ? take_sum(mg_mul(v, p), cls, true) : NULL;
        gin[0] = mg_take2(mg_mul, mg_retain(p), mg_take2(mg_sub, v, dot));
    }
    mg_release(T);
    mg_release(K);
    mg_release(p);
    for (int i = 0; i < 2; i++)
        if (mg_wants(n, i) && !gin[i]) return mg_errcode() ? mg_errcode() : MG_ENOMEM;
    return MG_OK;
}

#define S(i) MG_SAVES_IN(i)
static const mg_opdef op_sce = {.name = "softmax_crossentropy",
    .grad_name = "SoftmaxCrossEntropyBackward", .arity = 3, .kind = MG_KIND_OTHER,
    .forward = sce_fw, .backward = sce_bw, .saves = S(0) | S(1) | S(2)};
static const mg_opdef op_sce_grad = {.name = "softmax_crossentropy",
    .grad_name = "SoftmaxCrossEntropyBackwardBackward", .arity = 4, .kind = MG_KIND_OTHER,
    .forward = sce_grad_fw, .backward = sce_grad_bw, .saves = S(0) | S(1) | S(2) | S(3)};

/* ---- negative log likelihood: pick and scatter --------------------------------------- */
/* Inputs: logprobs, labels, weights (or labels).  out[a, j] = -w[y] x[a, y, j]. */
static mg_tensor *nll_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *x = in[0];
    cls_in ci;
    if (cls_open("negative_log_likelihood", x->ndim, x->shape, in[1], in[2], p, &ci)) return NULL;
    mg_tensor *xc = contig(x, x->dtype);
    mg_tensor *out = xc ? mg_empty(in[1]->ndim, in[1]->shape, x->dtype) : NULL;
    int64_t C = ci.l.C, inner = ci.l.inner;
    for (int64_t a = 0; out && a < ci.l.outer; a++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t y = label_at(&ci, a, j);
            double v = getd(mg_data_ptr(xc), x->dtype, (a * C + y) * inner + j);
            setd(mg_data_ptr(out), x->dtype, a * inner + j, -weight(&ci, y) * v);
        }
    mg_release(xc);
    cls_close(&ci);
    return out;
}

/* Inputs: g, labels, weights (or labels); p->ndim/shape: the logprobs'
 * shape.  Zeros with -w[y] g[a, j] at each label. */
static mg_tensor *nll_grad_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *g = in[0];
    cls_in ci;
    if (cls_open("negative_log_likelihood", p->ndim, p->shape, in[1], in[2], p, &ci)) return NULL;
    mg_tensor *gc = contig(g, g->dtype);
    mg_tensor *out = gc ? mg_zeros(p->ndim, p->shape, g->dtype) : NULL;
    if (out && !mg_same_shape(gc, in[1])) {
        mg_seterr(MG_ESHAPE, "negative_log_likelihood: gradient of the wrong shape");
        mg_release(out);
        out = NULL;
    }
    int64_t C = ci.l.C, inner = ci.l.inner;
    for (int64_t a = 0; out && a < ci.l.outer; a++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t y = label_at(&ci, a, j);
            double v = getd(mg_data_ptr(gc), g->dtype, a * inner + j);
            setd(mg_data_ptr(out), g->dtype, (a * C + y) * inner + j, -weight(&ci, y) * v);
        }
    mg_release(gc);
    cls_close(&ci);
    return out;
}

static const mg_opdef op_nll_grad;

static int nll_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    if (!mg_wants(n, 0)) return MG_OK;
    mg_params p = n->p;
    p.ndim = n->inputs[0]->ndim;
    memcpy(p.shape, n->inputs[0]->shape, sizeof p.shape);
    mg_tensor *in[3] = {g, n->inputs[1], n->inputs[2]};
    gin[0] = mg_apply(&op_nll_grad, in, &p);
    return gin[0] ? MG_OK : mg_errcode();
}

static const mg_opdef op_nll;

/* The scatter is linear in g: its backward is the pick applied to h. */
static int nll_grad_bw(mg_node *n, mg_tensor *h, mg_tensor **gin) {
    if (!mg_wants(n, 0)) return MG_OK;
    mg_tensor *in[3] = {h, n->inputs[1], n->inputs[2]};
    gin[0] = mg_apply(&op_nll, in, &n->p);
    return gin[0] ? MG_OK : mg_errcode();
}

static const mg_opdef op_nll = {.name = "negative_log_likelihood", .grad_name = "NllLossBackward",
    .arity = 3, .kind = MG_KIND_OTHER, .forward = nll_fw, .backward = nll_bw,
    .saves = S(1) | S(2)};
static const mg_opdef op_nll_grad = {.name = "negative_log_likelihood",
    .grad_name = "NllLossBackwardBackward", .arity = 3, .kind = MG_KIND_OTHER,
    .forward = nll_grad_fw, .backward = nll_grad_bw, .saves = S(1) | S(2)};

/* ---- the class-label entry points -------------------------------------------------- */
static int check_base(const char *op, int base) {
    if (base == 0 || base == 1) return MG_OK;
    return mg_seterr(MG_EVALUE, "%s: the label base must be 0 or 1, got %d", op, base);
}

/* The sum of w[y] over the labels (their count without weights): the
 * denominator of the mean, as PyTorch. */
static int label_weight_sum(const char *op, mg_tensor *x, mg_tensor *labels, mg_tensor *w,
                            const mg_params *p, double *sum) {
    cls_in ci;
    if (cls_open(op, x->ndim, x->shape, labels, w, p, &ci)) return mg_errcode();
    double s = 0;
    for (int64_t a = 0; a < ci.l.outer; a++)
        for (int64_t j = 0; j < ci.l.inner; j++) s += weight(&ci, label_at(&ci, a, j));
    cls_close(&ci);
    *sum = s;
    return MG_OK;
}

/* Applies a fused class-label op to (x as float, labels, weights detached)
 * and reduces (the mean divides by the labels' weight sum). */
static mg_tensor *class_loss(const mg_opdef *op, mg_tensor *x, mg_tensor *labels,
                             mg_tensor *weights, double eps, mg_reduction red, int base) {
    if (!x) return err_missing(op->name, "the scores tensor"), NULL;
    if (!labels) return err_missing(op->name, "the labels tensor"), NULL;
    if (check_reduction(op->name, red) || check_base(op->name, base)) return NULL;
    mg_params p;
    memset(&p, 0, sizeof p);
    p.ival[0] = base;
    p.ival[1] = weights != NULL;
    p.dval[0] = eps;
    mg_tensor *f = as_float(x), *w = weights ? mg_detach(weights) : NULL;
    mg_tensor *in[3] = {f, labels, w ? w : labels};
    mg_tensor *l = f && (w || !weights) ? mg_apply(op, in, &p) : NULL;
    double denom = 0;
    if (l && red == MG_REDUCE_MEAN && label_weight_sum(op->name, f, labels, w, &p, &denom)) {
        mg_release(l);
        l = NULL;
    }
    mg_release(f);
    mg_release(w);
    if (!l || red == MG_REDUCE_NONE) return l;
    mg_tensor *s = mg_sum(l, MG_ALLAXES, false);
    mg_release(l);
    if (!s || red == MG_REDUCE_SUM) return s;
    return mg_take2(mg_div, s, mg_scal(denom, s));
}

mg_tensor *mg_softmax_crossentropy(mg_tensor *logits, mg_tensor *labels, mg_tensor *weights,
                                   double label_smoothing, mg_reduction red, int base) {
    if (!(label_smoothing >= 0 && label_smoothing <= 1)) {
        mg_seterr(MG_EVALUE, "softmax_crossentropy: label_smoothing must be in [0, 1], got %g",
                  label_smoothing);
        return NULL;
    }
    return class_loss(&op_sce, logits, labels, weights, label_smoothing, red, base);
}

mg_tensor *mg_negative_log_likelihood(mg_tensor *logprobs, mg_tensor *labels, mg_tensor *weights,
                                      mg_reduction red, int base) {
    return class_loss(&op_nll, logprobs, labels, weights, 0, red, base);
}

/* A constant bool tensor of x's shape, true at each sample's label. */
static mg_tensor *label_mask(const char *op, mg_tensor *x, mg_tensor *labels, int base) {
    mg_params p;
    memset(&p, 0, sizeof p);
    p.ival[0] = base;
    cls_in ci;
    if (cls_open(op, x->ndim, x->shape, labels, NULL, &p, &ci)) return NULL;
    mg_tensor *m = mg_zeros(x->ndim, x->shape, MG_BOOL);
    int64_t C = ci.l.C, inner = ci.l.inner;
    for (int64_t a = 0; m && a < ci.l.outer; a++)
        for (int64_t j = 0; j < inner; j++)
            ((bool *)mg_data_ptr(m))[(a * C + label_at(&ci, a, j)) * inner + j] = true;
    cls_close(&ci);
    return m;
}

/* Per sample: sum over j != y of max(0, x[j] - x[y] + margin) (MyGrad's). */
mg_tensor *mg_multiclass_hinge(mg_tensor *scores, mg_tensor *labels, double margin,
                               mg_reduction red, int base) {
    const char *op = "multiclass_hinge";
    if (!scores) return err_missing(op, "the scores tensor"), NULL;
    if (!labels) return err_missing(op, "the labels tensor"), NULL;
    if (check_reduction(op, red) || check_base(op, base)) return NULL;
    mg_tensor *x = as_float(scores);
    mg_tensor *mask = x ? label_mask(op, x, labels, base) : NULL;
    if (!mask) {
        mg_release(x);
        return NULL;
    }
    int cls = x->ndim == 1 ? 0 : 1;
    mg_tensor *xy = take_sum(mg_take3(mg_where, mg_retain(mask), mg_retain(x), mg_scal(0, x)), cls, true);
    mg_tensor *m = mg_take1(mg_relu, mg_take2(mg_add, mg_take2(mg_sub, mg_retain(x), xy), mg_scal(margin, x)));
    mg_tensor *l = take_sum(mg_take3(mg_where, mg_retain(mask), mg_scal(0, x), m), cls, false);
    mg_release(mask);
    mg_release(x);
    return reduce(l, red);
}

/* -alpha (1 - p_y)^gamma log p_y with log p_y from logsoftmax (MyGrad's). */
static mg_tensor *focal_factor(mg_tensor *q, double gamma);

mg_tensor *mg_softmax_focal_loss(mg_tensor *logits, mg_tensor *labels, double alpha,
                                 double gamma, mg_reduction red, int base) {
    const char *op = "softmax_focal_loss";
    if (!logits) return err_missing(op, "the logits tensor"), NULL;
    if (!labels) return err_missing(op, "the labels tensor"), NULL;
    if (!(gamma >= 0) || isnan(alpha)) {
        mg_seterr(MG_EVALUE, "%s: gamma must be >= 0 and alpha a number, got gamma %g and alpha %g",
                  op, gamma, alpha);
        return NULL;
    }
    if (check_reduction(op, red) || check_base(op, base)) return NULL;
    mg_tensor *x = as_float(logits);
    /* a 0-d x passes logsoftmax and fails in the pick, with the message */
    mg_tensor *lp = x ? mg_logsoftmax(x, x->ndim == 1 ? 0 : 1) : NULL;
    mg_tensor *ce = lp ? mg_negative_log_likelihood(lp, labels, NULL, MG_REDUCE_NONE, base) : NULL;
    mg_release(lp);
    mg_release(x);
    if (!ce) return NULL;
    if (gamma != 0) { /* (1 - p_y)^gamma with p_y = exp(-ce) */
        mg_tensor *q = mg_take2(mg_sub, mg_scal(1, ce), mg_take1(mg_exp, mg_neg(ce)));
        ce = mg_take2(mg_mul, ce, focal_factor(q, gamma));
    }
    mg_tensor *l = ce ? mg_take2(mg_mul, ce, mg_scal(alpha, ce)) : NULL;
    return reduce(l, red);
}

/* ---- element-wise losses --------------------------------------------------------------- */
/* pred and target (or other inputs) must be present, and target must broadcast to
 * pred's shape (a target that would enlarge it is a mistake, as {N, 1} vs {N}). */
static int check_pair(const char *op, mg_tensor *pred, mg_tensor *target, const char *pn,
                      const char *tn) {
    if (!pred) return err_missing(op, pn);
    if (!target) return err_missing(op, tn);
    int nd = 0;
    int64_t shape[MG_MAXDIM];
    bool same = !mg_broadcast_shape(op, pred, target, &nd, shape) && nd == pred->ndim;
    for (int i = 0; same && i < nd; i++) same = shape[i] == pred->shape[i];
    if (same) return MG_OK;
    char sp[256], st[256];
    return mg_seterr(MG_ESHAPE, "%s: %s of shape %s does not match %s of shape %s (it must have "
                     "the same shape or broadcast to it)", op, tn,
                     mg_shape_str(target->ndim, target->shape, st, sizeof st), pn,
                     mg_shape_str(pred->ndim, pred->shape, sp, sizeof sp));
}

/* pred - target, both as floats. */
static mg_tensor *difference(const char *op, mg_tensor *pred, mg_tensor *target, mg_reduction red) {
    if (check_pair(op, pred, target, "pred", "target") || check_reduction(op, red)) return NULL;
    return mg_take2(mg_sub, as_float(pred), as_float(target));
}

mg_tensor *mg_mse_loss(mg_tensor *pred, mg_tensor *target, mg_reduction red) {
    return reduce(mg_take1(mg_square, difference("mse", pred, target, red)), red);
}

mg_tensor *mg_l1_loss(mg_tensor *pred, mg_tensor *target, mg_reduction red) {
    return reduce(mg_take1(mg_abs, difference("l1", pred, target, red)), red);
}

mg_tensor *mg_huber_loss(mg_tensor *pred, mg_tensor *target, double delta, mg_reduction red) {
    if (!(delta > 0)) {
        mg_seterr(MG_EVALUE, "huber: delta must be > 0, got %g", delta);
        return NULL;
    }
    mg_tensor *d = difference("huber", pred, target, red);
    if (!d) return NULL;
    mg_tensor *ad = mg_abs(d);
    mg_tensor *small = ad ? mg_take2(mg_less, mg_retain(ad), mg_scal(delta, d)) : NULL;
    mg_tensor *sq = mg_take2(mg_mul, mg_square(d), mg_scal(0.5, d));
    mg_tensor *lin =
        mg_take2(mg_mul, mg_take2(mg_sub, mg_retain(ad), mg_scal(0.5 * delta, d)), mg_scal(delta, d));
    mg_release(ad);
    mg_release(d);
    return reduce(mg_take3(mg_where, small, sq, lin), red);
}

/* Probabilities outside [0, 1] (or NaN) are an error, as PyTorch. */
static int check_probs(const char *op, mg_tensor *p) {
    mg_tensor *c = contig(p, MG_FLOAT64);
    if (!c) return mg_errcode();
    const double *v = mg_data_ptr(c);
    int64_t n = mg_numel(c);
    int rc = MG_OK;
    for (int64_t i = 0; i < n && !rc; i++)
        if (!(v[i] >= 0 && v[i] <= 1))
            rc = mg_seterr(MG_EVALUE, "%s: probabilities must be in [0, 1], got %g (use the "
                           "_with_logits form for scores)", op, v[i]);
    mg_release(c);
    return rc;
}

/* log(x) clamped below at -100 (as PyTorch's binary_cross_entropy).  Where
 * it is clamped, the log reads 1 instead of x, so no inf or NaN reaches the
 * gradient (which is 0 there). */
static mg_tensor *clamped_log(mg_tensor *x) {
    bool prev = mg_set_grad_enabled(false);
    mg_tensor *keep = mg_take2(mg_greater, mg_log(x), mg_scal(-100, x));
    mg_set_grad_enabled(prev);
    mg_tensor *xs = keep ? mg_take3(mg_where, mg_retain(keep), mg_retain(x), mg_scal(1, x)) : NULL;
    return mg_take3(mg_where, keep, mg_take1(mg_log, xs), mg_scal(-100, x));
}

/* -(t log p + (1 - t) log(1 - p)) element-wise, logs clamped; p and t floats. */
static mg_tensor *bce_elements(mg_tensor *p, mg_tensor *t) {
    mg_tensor *a = mg_take2(mg_mul, mg_retain(t), clamped_log(p));
    mg_tensor *q = mg_take2(mg_sub, mg_scal(1, p), mg_retain(p));
    mg_tensor *b =
        mg_take2(mg_mul, mg_take2(mg_sub, mg_scal(1, t), mg_retain(t)), q ? clamped_log(q) : NULL);
    mg_release(q);
    return mg_take1(mg_neg, mg_take2(mg_add, a, b));
}

/* probs and targets as floats, checked. */
static int prob_pair(const char *op, mg_tensor *probs, mg_tensor *targets, mg_reduction red,
                     mg_tensor **p, mg_tensor **t) {
    *p = *t = NULL;
    if (check_pair(op, probs, targets, "probs", "targets") || check_reduction(op, red) ||
        check_probs(op, probs))
        return mg_errcode();
    *p = as_float(probs);
    *t = as_float(targets);
    if (*p && *t) return MG_OK;
    mg_release(*p);
    mg_release(*t);
    return mg_errcode();
}

mg_tensor *mg_binary_crossentropy(mg_tensor *probs, mg_tensor *targets, mg_reduction red) {
    mg_tensor *p, *t;
    if (prob_pair("binary_crossentropy", probs, targets, red, &p, &t)) return NULL;
    mg_tensor *l = bce_elements(p, t);
    mg_release(p);
    mg_release(t);
    return reduce(l, red);
}

/* (1 - t) x + (1 + (pw - 1) t) log(1 + e^-x), the log term as logaddexp(0, -x). */
mg_tensor *mg_binary_crossentropy_with_logits(mg_tensor *logits, mg_tensor *targets,
                                              mg_tensor *pos_weight, mg_reduction red) {
    const char *op = "binary_crossentropy_with_logits";
    if (check_pair(op, logits, targets, "logits", "targets") || check_reduction(op, red) ||
        (pos_weight && check_pair(op, logits, pos_weight, "logits", "pos_weight")))
        return NULL;
    mg_tensor *x = as_float(logits), *t = as_float(targets);
    mg_tensor *sp = x ? mg_take2(mg_logaddexp, mg_scal(0, x), mg_neg(x)) : NULL;
    if (sp && t && pos_weight) {
        mg_tensor *pw1 = mg_take2(mg_sub, as_float(pos_weight), mg_scal(1, sp)); /* lw = 1 + (pw - 1) t */
        mg_tensor *lw = mg_take2(mg_add, mg_take2(mg_mul, pw1, mg_retain(t)), mg_scal(1, sp));
        sp = mg_take2(mg_mul, sp, lw);
    }
    mg_tensor *a =
        x && t ? mg_take2(mg_mul, mg_take2(mg_sub, mg_scal(1, t), mg_retain(t)), mg_retain(x)) : NULL;
    mg_release(x);
    mg_release(t);
    return reduce(mg_take2(mg_add, a, sp), red);
}

/* q^gamma for the focal losses, q in [0, 1]; for 0 < gamma < 1, q is kept
 * at least the smallest normal float so the gradient stays finite. */
static mg_tensor *focal_factor(mg_tensor *q, double gamma) {
    if (!q) return NULL;
    if (gamma > 0 && gamma < 1)
        q = mg_take2(mg_maximum, q, mg_scal(q->dtype == MG_FLOAT32 ? FLT_MIN : DBL_MIN, q));
    return q ? mg_take2(mg_pow, q, mg_scal(gamma, q)) : NULL;
}

mg_tensor *mg_focal_loss(mg_tensor *probs, mg_tensor *targets, double alpha, double gamma,
                         mg_reduction red) {
    const char *op = "focal_loss";
    if (!(gamma >= 0) || isnan(alpha) || alpha > 1) {
        mg_seterr(MG_EVALUE, "%s: gamma must be >= 0 and alpha at most 1 (or < 0 for none), got "
                  "gamma %g and alpha %g", op, gamma, alpha);
        return NULL;
    }
    mg_tensor *p, *t;
    if (prob_pair(op, probs, targets, red, &p, &t)) return NULL;
    mg_tensor *l = bce_elements(p, t);
    if (l && gamma != 0) { /* (1 - p_t)^gamma, 1 - p_t = p + t - 2 p t */
        mg_tensor *q = mg_take2(mg_sub, mg_take2(mg_add, mg_retain(p), mg_retain(t)),
                             mg_take2(mg_mul, mg_take2(mg_mul, mg_retain(p), mg_retain(t)), mg_scal(2, l)));
        l = mg_take2(mg_mul, l, focal_factor(q, gamma));
    }
    if (l && alpha >= 0) { /* alpha t + (1 - alpha)(1 - t) = (1 - alpha) + (2 alpha - 1) t */
        mg_tensor *at = mg_take2(mg_add, mg_take2(mg_mul, mg_retain(t), mg_scal(2 * alpha - 1, l)),
                              mg_scal(1 - alpha, l));
        l = mg_take2(mg_mul, l, at);
    }
    mg_release(p);
    mg_release(t);
    return reduce(l, red);
}

/* max(0, margin - y (x1 - x2)); y is a constant. */
mg_tensor *mg_margin_ranking_loss(mg_tensor *x1, mg_tensor *x2, mg_tensor *y, double margin,
                                  mg_reduction red) {
    const char *op = "margin_ranking_loss";
    if (check_pair(op, x1, x2, "x1", "x2") || check_reduction(op, red)) return NULL;
    if (!y) return err_missing(op, "y"), NULL;
    char s1[256], sy[256];
    bool per_row = y->ndim == 1 && x1->ndim >= 2 && y->shape[0] == x1->shape[0];
    if (!per_row && y->ndim != 0 && !mg_same_shape(y, x1)) {
        mg_seterr(MG_ESHAPE, "%s: y of shape %s does not fit x1 of shape %s (expected a number, "
                  "shape %s, or one per row)", op, mg_shape_str(y->ndim, y->shape, sy, sizeof sy),
                  mg_shape_str(x1->ndim, x1->shape, s1, sizeof s1), s1);
        return NULL;
    }
    mg_tensor *yc = mg_detach(y);
    if (yc && per_row) { /* {N} -> {N, 1, ...} */
        int64_t shape[MG_MAXDIM];
        shape[0] = y->shape[0];
        for (int i = 1; i < x1->ndim; i++) shape[i] = 1;
        mg_tensor *r = mg_reshape(yc, x1->ndim, shape);
        mg_release(yc);
        yc = r;
    }
    mg_tensor *yf = mg_take1(as_float, yc);
    mg_tensor *d = mg_take2(mg_sub, as_float(x1), as_float(x2));
    mg_tensor *yd = mg_take2(mg_mul, yf, d ? mg_retain(d) : NULL);
    mg_tensor *m = yd ? mg_take2(mg_sub, mg_scal(margin, yd), yd) : NULL;
    mg_release(d);
    return reduce(mg_take1(mg_relu, m), red);
}
