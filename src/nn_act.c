/* nn_act.c — the activations of mg.nnet.  relu, sigmoid, gelu (exact and
 * tanh form), softmax and logsoftmax are op-table entries with C kernels;
 * their backward functions are written with moongrad's own ops (through
 * the small helper op ndtr, the normal CDF, for the exact gelu), so
 * second derivatives work.  leaky_relu, elu, selu, hard_tanh, soft_sign,
 * softplus and glu are composed of existing differentiable ops. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SQRT1_2 0.70710678118654752440     /* 1 / sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794 /* 1 / sqrt(2 pi) */
#define SQRT_2_PI 0.79788456080286535588   /* sqrt(2 / pi) */
#define GELU_C 0.044715                    /* the cubic term of the tanh form */
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

/* ---- element-wise loops -------------------------------------------------- */
#define UNARY(name, T, expr)                                                   \
    static void name(const void *a_, int64_t sa, void *o_, int64_t n) {        \
        const T *a = a_;                                                       \
        T *o = o_;                                                             \
        for (int64_t i = 0; i < n; i++) {                                      \
            T x = a[i * sa];                                                   \
            o[i] = (expr);                                                     \
        }                                                                      \
    }

/* relu keeps NaN (as PyTorch); the mask is relu's derivative, 0 at 0. */
UNARY(relu_f32, float, (x > 0 || x != x) ? x : 0.0f)
UNARY(relu_f64, double, (x > 0 || x != x) ? x : 0.0)
UNARY(relu_i64, int64_t, x > 0 ? x : 0)
UNARY(step_f32, float, x > 0 ? 1.0f : 0.0f)
UNARY(step_f64, double, x > 0 ? 1.0 : 0.0)

/* 1 / (1 + e^-x) without overflow: for x < 0 it is e^x / (1 + e^x). */
static inline double sigmoid_d(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static inline float sigmoid_s(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
UNARY(sigmoid_f32, float, sigmoid_s(x))
UNARY(sigmoid_f64, double, sigmoid_d(x))

/* The normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 (accurate in both tails);
 * exact gelu is x Phi(x). */
UNARY(ndtr_f32, float, 0.5f * erfcf(-x * (float)SQRT1_2))
UNARY(ndtr_f64, double, 0.5 * erfc(-x * SQRT1_2))
UNARY(gelu_f32, float, x * 0.5f * erfcf(-x * (float)SQRT1_2))
UNARY(gelu_f64, double, x * 0.5 * erfc(-x * SQRT1_2))
/* gelu's tanh form: x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2. */
UNARY(gelu_tanh_f32, float,
      0.5f * x * (1.0f + tanhf((float)SQRT_2_PI * (x + (float)GELU_C * x * x * x))))
UNARY(gelu_tanh_f64, double, 0.5 * x * (1.0 + tanh(SQRT_2_PI * (x + GELU_C * x * x * x))))

/* ---- helpers for backward and composites ------------------------------------- */
static bool wants(mg_node *n, int i) { return n->inputs[i]->requires_grad; }

static mg_tensor *scal(double v, const mg_tensor *like) { return mg_scalar(v, like->dtype); }

/* Consume their tensor arguments (release them) and return op applied to
 * them; a NULL argument (an earlier failure) gives NULL. */
static mg_tensor *take1(mg_tensor *(*op)(mg_tensor *), mg_tensor *a) {
    mg_tensor *r = a ? op(a) : NULL;
    mg_release(a);
    return r;
}
static mg_tensor *take2(mg_tensor *(*op)(mg_tensor *, mg_tensor *), mg_tensor *a, mg_tensor *b) {
    mg_tensor *r = a && b ? op(a, b) : NULL;
    mg_release(a);
    mg_release(b);
    return r;
}
static mg_tensor *take3(mg_tensor *(*op)(mg_tensor *, mg_tensor *, mg_tensor *), mg_tensor *a,
                        mg_tensor *b, mg_tensor *c) {
    mg_tensor *r = a && b && c ? op(a, b, c) : NULL;
    mg_release(a);
    mg_release(b);
    mg_release(c);
    return r;
}
/* Sums over one axis, consuming a. */
static mg_tensor *take_sum(mg_tensor *a, int axis, int ndim, bool keepdims) {
    mg_tensor *r = a ? mg_sum(a, ndim ? 1u << axis : 0u, keepdims) : NULL;
    mg_release(a);
    return r;
}

static int done(mg_node *n, mg_tensor **gin) {
    if (wants(n, 0) && !gin[0]) return mg_errcode() ? mg_errcode() : MG_ENOMEM;
    return MG_OK;
}

/* a, or a float copy of an integer/bool tensor (constant); new reference. */
static mg_tensor *as_float(mg_tensor *a) {
    if (mg_dtype_is_float(a->dtype)) return mg_retain(a);
    return mg_astype(a, mg_default_float());
}

static bool missing(mg_tensor *x, const char *op) {
    if (x) return false;
    mg_seterr(MG_EVALUE, "%s: input 1 is missing", op);
    return true;
}

/* ---- relu ---------------------------------------------------------------------- */
static const mg_opdef op_step = {.name = "relu", .arity = 1, .kind = MG_KIND_UNARY,
    .rule = MG_RES_FLOAT, .unary = {step_f32, step_f64, NULL}};

static int relu_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g (x > 0) */
    mg_tensor *x = n->inputs[0];
    gin[0] = take2(mg_mul, mg_retain(g), mg_apply(&op_step, &x, NULL));
    return done(n, gin);
}

static const mg_opdef op_relu = {.name = "relu", .grad_name = "ReluBackward", .arity = 1,
    .kind = MG_KIND_UNARY, .rule = MG_RES_SAME, .unary = {relu_f32, relu_f64, relu_i64},
    .backward = relu_bw, .saves = MG_SAVES_IN0};

mg_tensor *mg_relu(mg_tensor *x) { return mg_apply(&op_relu, &x, NULL); }

/* ---- sigmoid --------------------------------------------------------------------- */
static int sigmoid_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g s (1 - s) */
    mg_tensor *s = mg_node_output(n);
    if (s) gin[0] = take2(mg_mul, mg_mul(g, s), take2(mg_sub, scal(1, s), mg_retain(s)));
    mg_release(s);
    return done(n, gin);
}

static const mg_opdef op_sigmoid = {.name = "sigmoid", .grad_name = "SigmoidBackward",
    .arity = 1, .kind = MG_KIND_UNARY, .rule = MG_RES_FLOAT,
    .unary = {sigmoid_f32, sigmoid_f64, NULL}, .backward = sigmoid_bw, .saves = MG_SAVES_OUT};

mg_tensor *mg_sigmoid(mg_tensor *x) { return mg_apply(&op_sigmoid, &x, NULL); }

/* ---- gelu ------------------------------------------------------------------------ */
/* phi(x) = exp(-x^2 / 2) / sqrt(2 pi), the normal density, with ops. */
static mg_tensor *normal_pdf(mg_tensor *x) {
    mg_tensor *e = take1(mg_exp, take2(mg_mul, mg_square(x), scal(-0.5, x)));
    return take2(mg_mul, e, scal(INV_SQRT_2PI, x));
}

static int ndtr_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g phi(x) */
    gin[0] = take2(mg_mul, mg_retain(g), normal_pdf(n->inputs[0]));
    return done(n, gin);
}

static const mg_opdef op_ndtr = {.name = "gelu", .grad_name = "NdtrBackward", .arity = 1,
    .kind = MG_KIND_UNARY, .rule = MG_RES_FLOAT, .unary = {ndtr_f32, ndtr_f64, NULL},
    .backward = ndtr_bw, .saves = MG_SAVES_IN0};

static int gelu_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g (Phi(x) + x phi(x)) */
    mg_tensor *x = n->inputs[0];
    mg_tensor *d = take2(mg_add, mg_apply(&op_ndtr, &x, NULL), take2(mg_mul, mg_retain(x), normal_pdf(x)));
    gin[0] = take2(mg_mul, mg_retain(g), d);
    return done(n, gin);
}

/* d/dx of the tanh form: with u = k (x + c x^3) and t = tanh(u),
 * (1 + t) / 2 + x (1 - t^2) k (1 + 3 c x^2) / 2. */
static int gelu_tanh_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *x = n->inputs[0];
    mg_tensor *x2 = mg_square(x);
    mg_tensor *inner = take2(mg_add, mg_retain(x), take2(mg_mul, mg_mul(x2 ? x2 : x, x), scal(GELU_C, x)));
    mg_tensor *t = take1(mg_tanh, take2(mg_mul, inner, scal(SQRT_2_PI, x)));
    mg_tensor *du = take2(mg_mul, take2(mg_add, take2(mg_mul, mg_retain(x2), scal(3 * GELU_C, x)),
                                        scal(1, x)), scal(0.5 * SQRT_2_PI, x));
    mg_tensor *sech2 = t ? take2(mg_sub, scal(1, x), mg_square(t)) : NULL;
    mg_tensor *b = take2(mg_mul, take2(mg_mul, mg_retain(x), sech2), du);
    mg_tensor *a = t ? take2(mg_mul, take2(mg_add, mg_retain(t), scal(1, x)), scal(0.5, x)) : NULL;
    gin[0] = take2(mg_mul, mg_retain(g), take2(mg_add, a, b));
    mg_release(x2);
    mg_release(t);
    return done(n, gin);
}

static const mg_opdef op_gelu = {.name = "gelu", .grad_name = "GeluBackward", .arity = 1,
    .kind = MG_KIND_UNARY, .rule = MG_RES_FLOAT, .unary = {gelu_f32, gelu_f64, NULL},
    .backward = gelu_bw, .saves = MG_SAVES_IN0};
static const mg_opdef op_gelu_tanh = {.name = "gelu", .grad_name = "GeluBackward", .arity = 1,
    .kind = MG_KIND_UNARY, .rule = MG_RES_FLOAT, .unary = {gelu_tanh_f32, gelu_tanh_f64, NULL},
    .backward = gelu_tanh_bw, .saves = MG_SAVES_IN0};

mg_tensor *mg_gelu(mg_tensor *x, bool tanh_approx) {
    return mg_apply(tanh_approx ? &op_gelu_tanh : &op_gelu, &x, NULL);
}

/* ---- softmax and logsoftmax ---------------------------------------------------------
 * The input, made contiguous, is read as (outer, C, inner) with C the size
 * of the axis; every (outer, inner) position is one row of C values,
 * shifted by its maximum before exp.  mx and sm hold one value per inner
 * position (the running maximum, then the sum or the log-sum-exp). */
#define SOFTMAX_KERNEL(name, T, EXP)                                                       \
    static void name(const T *x, T *o, int64_t outer, int64_t C, int64_t inner, double *mx, \
                     double *sm, bool logsm) {                                               \
        for (int64_t a = 0; a < outer; a++) {                                                \
            const T *xa = x + a * C * inner;                                                 \
            T *oa = o + a * C * inner;                                                       \
            for (int64_t j = 0; j < inner; j++) mx[j] = -INFINITY, sm[j] = 0;               \
            for (int64_t c = 0; c < C; c++)                                                  \
                for (int64_t j = 0; j < inner; j++) {                                        \
                    double v = xa[c * inner + j];                                            \
                    if (v > mx[j] || v != v) mx[j] = v;                                      \
                }                                                                            \
            for (int64_t c = 0; c < C; c++)                                                  \
                for (int64_t j = 0; j < inner; j++) {                                        \
                    T e = EXP((T)(xa[c * inner + j] - (T)mx[j]));                            \
                    sm[j] += e;                                                              \
                    if (!logsm) oa[c * inner + j] = e;                                       \
                }                                                                            \
            for (int64_t j = 0; j < inner; j++) sm[j] = logsm ? mx[j] + log(sm[j]) : 1.0 / sm[j]; \
            for (int64_t c = 0; c < C; c++)                                                  \
                for (int64_t j = 0; j < inner; j++)                                          \
                    oa[c * inner + j] = logsm ? (T)(xa[c * inner + j] - sm[j])               \
                                              : (T)(oa[c * inner + j] * sm[j]);              \
        }                                                                                    \
    }
SOFTMAX_KERNEL(softmax_f32, float, expf)
SOFTMAX_KERNEL(softmax_f64, double, exp)

static void axis_layout(const mg_tensor *x, int axis, int64_t *outer, int64_t *C, int64_t *inner) {
    *outer = 1, *inner = 1, *C = x->ndim ? x->shape[axis] : 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < axis) *outer *= x->shape[i];
        if (i > axis) *inner *= x->shape[i];
    }
}

static mg_tensor *softmax_any(mg_tensor *x, int axis, bool logsm) {
    int64_t outer, C, inner;
    axis_layout(x, axis, &outer, &C, &inner);
    mg_tensor *c = mg_is_contiguous(x) ? mg_retain(x) : mg_copy_of(x, x->dtype);
    mg_tensor *out = c ? mg_empty(x->ndim, x->shape, x->dtype) : NULL;
    double *buf = out ? malloc(2 * (size_t)(inner ? inner : 1) * sizeof *buf) : NULL;
    if (out && !buf) mg_seterr(MG_ENOMEM, "%s: out of memory", logsm ? "logsoftmax" : "softmax");
    if (buf && x->dtype == MG_FLOAT32)
        softmax_f32(mg_data_ptr(c), mg_data_ptr(out), outer, C, inner, buf, buf + inner, logsm);
    else if (buf)
        softmax_f64(mg_data_ptr(c), mg_data_ptr(out), outer, C, inner, buf, buf + inner, logsm);
    if (!buf) {
        mg_release(out);
        out = NULL;
    }
    free(buf);
    mg_release(c);
    return out;
}

static mg_tensor *softmax_fw(mg_tensor **in, const mg_params *p) {
    return softmax_any(in[0], p->axis, false);
}
static mg_tensor *logsoftmax_fw(mg_tensor **in, const mg_params *p) {
    return softmax_any(in[0], p->axis, true);
}

static int softmax_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* p (g - sum(g p)) */
    int nd = n->inputs[0]->ndim, ax = n->p.axis;
    mg_tensor *s = mg_node_output(n);
    mg_tensor *dot = s ? take_sum(mg_mul(g, s), ax, nd, true) : NULL;
    gin[0] = dot ? take2(mg_mul, mg_retain(s), take2(mg_sub, mg_retain(g), dot)) : NULL;
    mg_release(s);
    return done(n, gin);
}

static int logsoftmax_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g - e^out sum(g) */
    int nd = n->inputs[0]->ndim, ax = n->p.axis;
    mg_tensor *e = take1(mg_exp, mg_node_output(n));
    mg_tensor *t = take2(mg_mul, e, take_sum(mg_retain(g), ax, nd, true));
    gin[0] = take2(mg_sub, mg_retain(g), t);
    return done(n, gin);
}

static const mg_opdef op_softmax = {.name = "softmax", .grad_name = "SoftmaxBackward",
    .arity = 1, .kind = MG_KIND_OTHER, .forward = softmax_fw, .backward = softmax_bw,
    .saves = MG_SAVES_OUT};
static const mg_opdef op_logsoftmax = {.name = "logsoftmax", .grad_name = "LogSoftmaxBackward",
    .arity = 1, .kind = MG_KIND_OTHER, .forward = logsoftmax_fw, .backward = logsoftmax_bw,
    .saves = MG_SAVES_OUT};

/* A 0-d tensor counts as one value on axis 0. */
static mg_tensor *softmax_entry(const mg_opdef *op, mg_tensor *x, int axis) {
    if (missing(x, op->name)) return NULL;
    int nd = x->ndim ? x->ndim : 1;
    if (axis < -nd || axis >= nd) {
        mg_seterr(MG_EINDEX, "%s: axis %d is out of range for a tensor with %d axes", op->name,
                  axis, x->ndim);
        return NULL;
    }
    mg_params p;
    memset(&p, 0, sizeof p);
    p.axis = x->ndim ? (axis < 0 ? axis + nd : axis) : 0;
    mg_tensor *f = as_float(x);
    mg_tensor *r = f ? mg_apply(op, &f, &p) : NULL;
    mg_release(f);
    return r;
}

mg_tensor *mg_softmax(mg_tensor *x, int axis) { return softmax_entry(&op_softmax, x, axis); }
mg_tensor *mg_logsoftmax(mg_tensor *x, int axis) { return softmax_entry(&op_logsoftmax, x, axis); }

/* ---- composites ------------------------------------------------------------------- */
/* x > 0 as a constant bool mask. */
static mg_tensor *positive(mg_tensor *x) { return take2(mg_greater, mg_retain(x), scal(0, x)); }

mg_tensor *mg_leaky_relu(mg_tensor *x, double slope) { /* x > 0 ? x : slope x */
    if (missing(x, "leaky_relu")) return NULL;
    mg_tensor *f = as_float(x);
    mg_tensor *r = f ? take3(mg_where, positive(f), mg_retain(f), take2(mg_mul, mg_retain(f), scal(slope, f)))
                     : NULL;
    mg_release(f);
    return r;
}

/* x > 0 ? x : alpha (e^x - 1); the exp branch reads where(x > 0, 0, x), so a
 * large positive x neither overflows nor sends NaN through the gradient. */
mg_tensor *mg_elu(mg_tensor *x, double alpha) {
    if (missing(x, "elu")) return NULL;
    mg_tensor *f = as_float(x);
    mg_tensor *pos = f ? positive(f) : NULL;
    mg_tensor *neg = pos ? take3(mg_where, mg_retain(pos), scal(0, f), mg_retain(f)) : NULL;
    mg_tensor *e = take2(mg_mul, take1(mg_expm1, neg), f ? scal(alpha, f) : NULL);
    mg_tensor *r = e ? take3(mg_where, mg_retain(pos), mg_retain(f), e) : NULL;
    mg_release(pos);
    mg_release(f);
    return r;
}

mg_tensor *mg_selu(mg_tensor *x) {
    mg_tensor *e = mg_elu(x, SELU_ALPHA);
    return e ? take2(mg_mul, e, scal(SELU_SCALE, e)) : NULL;
}

mg_tensor *mg_hard_tanh(mg_tensor *x, double lo, double hi) {
    if (missing(x, "hard_tanh")) return NULL;
    if (!(lo <= hi)) {
        mg_seterr(MG_EVALUE, "hard_tanh: min_val (%g) must not exceed max_val (%g)", lo, hi);
        return NULL;
    }
    mg_tensor *f = as_float(x);
    mg_tensor *r = f ? take3(mg_clip, mg_retain(f), scal(lo, f), scal(hi, f)) : NULL;
    mg_release(f);
    return r;
}

mg_tensor *mg_soft_sign(mg_tensor *x) { /* x / (1 + |x|) */
    if (missing(x, "soft_sign")) return NULL;
    mg_tensor *f = as_float(x);
    mg_tensor *r = f ? take2(mg_div, mg_retain(f), take2(mg_add, mg_abs(f), scal(1, f))) : NULL;
    mg_release(f);
    return r;
}

/* log(1 + e^(beta x)) / beta, or x where beta x > threshold (as PyTorch). */
mg_tensor *mg_softplus(mg_tensor *x, double beta, double threshold) {
    if (missing(x, "softplus")) return NULL;
    if (!(beta != 0) || isnan(threshold)) {
        mg_seterr(MG_EVALUE, "softplus: beta must be a non-zero number and threshold a number, "
                  "got beta %g and threshold %g", beta, threshold);
        return NULL;
    }
    mg_tensor *f = as_float(x);
    mg_tensor *bx = f ? take2(mg_mul, mg_retain(f), scal(beta, f)) : NULL;
    mg_tensor *big = bx ? take2(mg_greater, mg_retain(bx), scal(threshold, f)) : NULL;
    mg_tensor *sp = big ? take2(mg_div, take2(mg_logaddexp, scal(0, f), mg_retain(bx)), scal(beta, f))
                        : NULL;
    mg_tensor *r = sp ? take3(mg_where, mg_retain(big), mg_retain(f), sp) : NULL;
    mg_release(bx);
    mg_release(big);
    mg_release(f);
    return r;
}

/* a * sigmoid(b) with a and b the two halves of x along axis. */
mg_tensor *mg_glu(mg_tensor *x, int axis) {
    if (missing(x, "glu")) return NULL;
    if (x->ndim == 0 || axis < -x->ndim || axis >= x->ndim) {
        mg_seterr(MG_EINDEX, "glu: axis %d is out of range for a tensor with %d axes", axis, x->ndim);
        return NULL;
    }
    if (axis < 0) axis += x->ndim;
    char buf[256];
    int64_t len = x->shape[axis];
    if (len % 2) {
        mg_seterr(MG_ESHAPE, "glu: the split axis must have an even size, got %lld (shape %s)",
                  (long long)len, mg_shape_str(x->ndim, x->shape, buf, sizeof buf));
        return NULL;
    }
    mg_index idx[MG_MAXDIM];
    for (int i = 0; i < axis; i++) idx[i].kind = MG_IDX_ALL;
    idx[axis] = (mg_index){MG_IDX_SLICE, 0, len / 2, 1};
    mg_tensor *f = as_float(x);
    mg_tensor *a = f ? mg_index_get(f, axis + 1, idx) : NULL;
    idx[axis].start = len ? len / 2 : 0;
    mg_tensor *b = f ? mg_index_get(f, axis + 1, idx) : NULL;
    mg_release(f);
    return take2(mg_mul, a, take1(mg_sigmoid, b));
}
