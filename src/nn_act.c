/* nn_act.c — the activations of mg.nnet.  relu, sigmoid, gelu (exact and
 * tanh form), softmax and logsoftmax are op-table entries with C kernels.
 * Each one's backward is a fused gradient op (one pass, e.g. g s (1 - s)
 * for sigmoid) whose own backward is written with moongrad ops, so second
 * (and higher) derivatives work.  leaky_relu, elu, selu, hard_tanh, soft_sign,
 * softplus and glu are composed of existing differentiable ops. */
#include "internal.h"
#include "loops.h"

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
#define UNARY(name, T, expr) MG_UNARY_LOOP(name, T, T, expr) /* (loops.h) */

/* o = expr of g = a[i] and x = b[i] (the gradient ops: g first). */
#define GRAD_BINARY(name, T, expr)                                                       \
    static void name(const void *a_, int64_t sa, const void *b_, int64_t sb, void *o_,  \
                     int64_t n) {                                                        \
        const T *a = a_, *b = b_;                                                        \
        T *o = o_;                                                                       \
        for (int64_t i = 0; i < n; i++) {                                                \
            T g = a[i * sa], x = b[i * sb];                                              \
            o[i] = (expr);                                                               \
        }                                                                                \
    }
/* relu keeps NaN (as PyTorch); its gradient op passes g where x > 0 (0 at 0). */
UNARY(relu_f32, float, (x > 0 || x != x) ? x : 0.0f)
UNARY(relu_f64, double, (x > 0 || x != x) ? x : 0.0)
UNARY(relu_i64, int64_t, x > 0 ? x : 0)
GRAD_BINARY(relu_grad_f32, float, x > 0 ? g : 0.0f)
GRAD_BINARY(relu_grad_f64, double, x > 0 ? g : 0.0)

/* 1 / (1 + e^-x) needs no branches to be safe: for very negative x, e^-x
 * overflows to inf and 1 / inf is the right limit 0 (no NaN); for large x
 * it is 1.  (PyTorch computes it the same way.) */
static inline double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline float sigmoid_s(float x) { return 1.0f / (1.0f + expf(-x)); }
UNARY(sigmoid_f32, float, sigmoid_s(x))
UNARY(sigmoid_f64, double, sigmoid_d(x))
/* Its gradient op reads the output s (as x): g s (1 - s). */
GRAD_BINARY(sigmoid_grad_f32, float, g * x * (1.0f - x))
GRAD_BINARY(sigmoid_grad_f64, double, g * x * (1.0 - x))

/* Exact gelu is x Phi(x), Phi the normal CDF, computed as erfc(-x / sqrt 2) / 2
 * (accurate in both tails). */
UNARY(gelu_f32, float, x * 0.5f * erfcf(-x * (float)SQRT1_2))
UNARY(gelu_f64, double, x * 0.5 * erfc(-x * SQRT1_2))
/* gelu's tanh form: x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2. */
UNARY(gelu_tanh_f32, float,
      0.5f * x * (1.0f + tanhf((float)SQRT_2_PI * (x + (float)GELU_C * x * x * x))))
UNARY(gelu_tanh_f64, double, 0.5 * x * (1.0 + tanh(SQRT_2_PI * (x + GELU_C * x * x * x))))

/* The derivatives, for the fused gradient ops g * gelu'(x):
 * exact: Phi(x) + x phi(x), phi the normal density;
 * tanh form: (1 + t) / 2 + x (1 - t^2) u' / 2 with u = k (x + c x^3),
 * t = tanh(u) and u' = k (1 + 3 c x^2). */
static inline double gelu_d(double x) {
    return 0.5 * erfc(-x * SQRT1_2) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
}
static inline float gelu_s(float x) {
    return 0.5f * erfcf(-x * (float)SQRT1_2) + x * (float)INV_SQRT_2PI * expf(-0.5f * x * x);
}
static inline double gelu_tanh_d(double x) {
    double x2 = x * x, t = tanh(SQRT_2_PI * (x + GELU_C * x2 * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_PI * (1 + 3 * GELU_C * x2);
}
static inline float gelu_tanh_s(float x) {
    float x2 = x * x, t = tanhf((float)SQRT_2_PI * (x + (float)GELU_C * x2 * x));
    return 0.5f * (1 + t) +
           0.5f * x * (1 - t * t) * (float)SQRT_2_PI * (1 + 3 * (float)GELU_C * x2);
}

GRAD_BINARY(gelu_grad_f32, float, g * gelu_s(x))
GRAD_BINARY(gelu_grad_f64, double, g * gelu_d(x))
GRAD_BINARY(gelu_tanh_grad_f32, float, g * gelu_tanh_s(x))
GRAD_BINARY(gelu_tanh_grad_f64, double, g * gelu_tanh_d(x))

/* ---- helpers for backward and composites ------------------------------------- */

/* Sums over one axis, consuming a. */
static mg_tensor *take_sum(mg_tensor *a, int axis, int ndim, bool keepdims) {
    mg_tensor *r = a ? mg_sum(a, ndim ? 1u << axis : 0u, keepdims) : NULL;
    mg_release(a);
    return r;
}

static int done(mg_node *n, mg_tensor **gin) {
    if (mg_wants(n, 0) && !gin[0]) return mg_errcode() ? mg_errcode() : MG_ENOMEM;
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
static const mg_opdef op_relu_grad;

static int relu_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *in[2] = {g, n->inputs[0]};
    gin[0] = mg_apply(&op_relu_grad, in, NULL);
    return done(n, gin);
}

/* The gradient op is linear in g (d/dg: the op on h) and piecewise constant
 * in x (no gradient to x). */
static int relu_grad_bw(mg_node *n, mg_tensor *h, mg_tensor **gin) {
    if (!mg_wants(n, 0)) return MG_OK;
    mg_tensor *in[2] = {h, n->inputs[1]};
    gin[0] = mg_apply(&op_relu_grad, in, NULL);
    return done(n, gin);
}

static const mg_opdef op_relu = {.name = "relu", .grad_name = "ReluBackward", .arity = 1,
    .kind = MG_KIND_UNARY, .rule = MG_RES_SAME, .unary = {relu_f32, relu_f64, relu_i64},
    .backward = relu_bw, .saves = MG_SAVES_IN0};
static const mg_opdef op_relu_grad = {.name = "relu", .grad_name = "ReluBackwardBackward",
    .arity = 2, .kind = MG_KIND_BINARY, .rule = MG_RES_FLOAT,
    .binary = {relu_grad_f32, relu_grad_f64, NULL}, .backward = relu_grad_bw,
    .saves = MG_SAVES_IN1};

mg_tensor *mg_relu(mg_tensor *x) { return mg_apply(&op_relu, &x, NULL); }

/* ---- sigmoid --------------------------------------------------------------------- */
static const mg_opdef op_sigmoid_grad;

static int sigmoid_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *s = mg_node_output(n);
    mg_tensor *in[2] = {g, s};
    gin[0] = s ? mg_apply(&op_sigmoid_grad, in, NULL) : NULL;
    mg_release(s);
    return done(n, gin);
}

/* Backward of g s (1 - s):  d/dg: the op on (h, s);  d/ds: h g (1 - 2 s). */
static int sigmoid_grad_bw(mg_node *n, mg_tensor *h, mg_tensor **gin) {
    mg_tensor *g = n->inputs[0], *s = n->inputs[1];
    if (mg_wants(n, 0)) {
        mg_tensor *in[2] = {h, s};
        gin[0] = mg_apply(&op_sigmoid_grad, in, NULL);
    }
    if (mg_wants(n, 1))
        gin[1] = mg_take2(mg_mul, mg_mul(h, g),
                       mg_take2(mg_sub, mg_scal(1, s), mg_take2(mg_mul, mg_retain(s), mg_scal(2, s))));
    for (int i = 0; i < 2; i++)
        if (mg_wants(n, i) && !gin[i]) return mg_errcode() ? mg_errcode() : MG_ENOMEM;
    return MG_OK;
}

static const mg_opdef op_sigmoid = {.name = "sigmoid", .grad_name = "SigmoidBackward",
    .arity = 1, .kind = MG_KIND_UNARY, .rule = MG_RES_FLOAT,
    .unary = {sigmoid_f32, sigmoid_f64, NULL}, .backward = sigmoid_bw, .saves = MG_SAVES_OUT};
static const mg_opdef op_sigmoid_grad = {.name = "sigmoid",
    .grad_name = "SigmoidBackwardBackward", .arity = 2, .kind = MG_KIND_BINARY,
    .rule = MG_RES_FLOAT, .binary = {sigmoid_grad_f32, sigmoid_grad_f64, NULL},
    .backward = sigmoid_grad_bw, .saves = MG_SAVES_IN0 | MG_SAVES_IN1};

mg_tensor *mg_sigmoid(mg_tensor *x) { return mg_apply(&op_sigmoid, &x, NULL); }

/* ---- gelu ------------------------------------------------------------------------ */
/* phi(x) = exp(-x^2 / 2) / sqrt(2 pi), the normal density, with ops. */
static mg_tensor *normal_pdf(mg_tensor *x) {
    mg_tensor *e = mg_take1(mg_exp, mg_take2(mg_mul, mg_square(x), mg_scal(-0.5, x)));
    return mg_take2(mg_mul, e, mg_scal(INV_SQRT_2PI, x));
}

/* gelu'' with ops.  Exact: phi(x) (2 - x^2). */
static mg_tensor *gelu_d2(mg_tensor *x) {
    return mg_take2(mg_mul, normal_pdf(x), mg_take2(mg_sub, mg_scal(2, x), mg_square(x)));
}

/* Tanh form: (1 - t^2) (u' + x (u'' - 2 t u'^2) / 2) with u' = k (1 + 3 c x^2)
 * and u'' = 6 k c x. */
static mg_tensor *gelu_tanh_d2(mg_tensor *x) {
    mg_tensor *x2 = mg_square(x);
    mg_tensor *u = x2 ? mg_take2(mg_mul, mg_take2(mg_add, mg_retain(x), mg_take2(mg_mul, mg_mul(x2, x),
                                                                          mg_scal(GELU_C, x))),
                              mg_scal(SQRT_2_PI, x)) : NULL;
    mg_tensor *t = mg_take1(mg_tanh, u);
    mg_tensor *du = mg_take2(mg_mul, mg_take2(mg_add, mg_take2(mg_mul, x2, mg_scal(3 * GELU_C, x)), mg_scal(1, x)),
                          mg_scal(SQRT_2_PI, x));
    mg_tensor *ddu = mg_take2(mg_mul, mg_retain(x), mg_scal(6 * SQRT_2_PI * GELU_C, x));
    mg_tensor *curv =
        t && du ? mg_take2(mg_mul, mg_take2(mg_mul, mg_retain(t), mg_square(du)), mg_scal(2, x)) : NULL;
    mg_tensor *br =
        mg_take2(mg_mul, mg_take2(mg_mul, mg_retain(x), mg_take2(mg_sub, ddu, curv)), mg_scal(0.5, x));
    mg_tensor *sech2 = t ? mg_take2(mg_sub, mg_scal(1, x), mg_square(t)) : NULL;
    mg_release(t);
    return mg_take2(mg_mul, sech2, mg_take2(mg_add, du, br));
}

static const mg_opdef op_gelu_grad, op_gelu_tanh_grad;

/* The gradient ops g * gelu'(x): linear in g, so d/dg is the op on h again;
 * d/dx is h g gelu''(x). */
static int gelu_grad_bw(mg_node *n, mg_tensor *h, mg_tensor **gin) {
    bool tanh_form = n->op == &op_gelu_tanh_grad;
    mg_tensor *g = n->inputs[0], *x = n->inputs[1];
    if (mg_wants(n, 0)) {
        mg_tensor *in[2] = {h, x};
        gin[0] = mg_apply(n->op, in, NULL);
    }
    if (mg_wants(n, 1))
        gin[1] = mg_take2(mg_mul, mg_mul(h, g), tanh_form ? gelu_tanh_d2(x) : gelu_d2(x));
    for (int i = 0; i < 2; i++)
        if (mg_wants(n, i) && !gin[i]) return mg_errcode() ? mg_errcode() : MG_ENOMEM;
    return MG_OK;
}

static const mg_opdef op_gelu_grad = {.name = "gelu", .grad_name = "GeluBackwardBackward",
    .arity = 2, .kind = MG_KIND_BINARY, .rule = MG_RES_FLOAT,
    .binary = {gelu_grad_f32, gelu_grad_f64, NULL}, .backward = gelu_grad_bw,
    .saves = MG_SAVES_IN0 | MG_SAVES_IN1};
static const mg_opdef op_gelu_tanh_grad = {.name = "gelu", .grad_name = "GeluBackwardBackward",
    .arity = 2, .kind = MG_KIND_BINARY, .rule = MG_RES_FLOAT,
    .binary = {gelu_tanh_grad_f32, gelu_tanh_grad_f64, NULL}, .backward = gelu_grad_bw,
    .saves = MG_SAVES_IN0 | MG_SAVES_IN1};

static const mg_opdef op_gelu_tanh;

static int gelu_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *in[2] = {g, n->inputs[0]};
    gin[0] = mg_apply(n->op == &op_gelu_tanh ? &op_gelu_tanh_grad : &op_gelu_grad, in, NULL);
    return done(n, gin);
}

static const mg_opdef op_gelu = {.name = "gelu", .grad_name = "GeluBackward", .arity = 1,
    .kind = MG_KIND_UNARY, .rule = MG_RES_FLOAT, .unary = {gelu_f32, gelu_f64, NULL},
    .backward = gelu_bw, .saves = MG_SAVES_IN0};
static const mg_opdef op_gelu_tanh = {.name = "gelu", .grad_name = "GeluBackward", .arity = 1,
    .kind = MG_KIND_UNARY, .rule = MG_RES_FLOAT, .unary = {gelu_tanh_f32, gelu_tanh_f64, NULL},
    .backward = gelu_bw, .saves = MG_SAVES_IN0};

mg_tensor *mg_gelu(mg_tensor *x, bool tanh_approx) {
    return mg_apply(tanh_approx ? &op_gelu_tanh : &op_gelu, &x, NULL);
}

/* ---- softmax and logsoftmax ---------------------------------------------------------
 * Tensors, made contiguous, are read as (outer, C, inner) with C the size
 * of the axis: every (outer, inner) position is one row of C values,
 * `inner` apart.  The kernels keep one accumulator per inner position (acc,
 * mx), so the innermost loop runs along contiguous memory; they are called
 * with a literal inner = 1 for the last axis, so that case compiles to
 * plain row loops.  Forward shifts each row by its maximum before exp. */
#define SOFTMAX_KERNELS(sfx, T, EXP)                                                          \
    static inline void softmax_rows_##sfx(const T *x, T *o, int64_t outer, int64_t C,         \
                                          int64_t inner, double *mx, double *acc, bool logsm) { \
        for (int64_t a = 0; a < outer; a++) {                                                 \
            const T *xa = x + a * C * inner;                                                  \
            T *oa = o + a * C * inner;                                                        \
            for (int64_t j = 0; j < inner; j++) mx[j] = -INFINITY, acc[j] = 0;               \
            for (int64_t c = 0; c < C; c++)                                                   \
                for (int64_t j = 0; j < inner; j++) {                                         \
                    double v = xa[c * inner + j];                                             \
                    if (v > mx[j] || v != v) mx[j] = v;                                       \
                }                                                                             \
            for (int64_t c = 0; c < C; c++)                                                   \
                for (int64_t j = 0; j < inner; j++) {                                         \
                    T e = EXP((T)(xa[c * inner + j] - (T)mx[j]));                             \
                    acc[j] += e;                                                              \
                    if (!logsm) oa[c * inner + j] = e;                                        \
                }                                                                             \
            for (int64_t j = 0; j < inner; j++)                                               \
                acc[j] = logsm ? mx[j] + log(acc[j]) : 1.0 / acc[j];                          \
            for (int64_t c = 0; c < C; c++)                                                   \
                for (int64_t j = 0; j < inner; j++)                                           \
                    oa[c * inner + j] = logsm ? (T)(xa[c * inner + j] - acc[j])               \
                                              : (T)(oa[c * inner + j] * acc[j]);              \
        }                                                                                     \
    }                                                                                         \
    /* softmax: o = p (g - sum(g p)); logsoftmax (q = its output):                            \
     * o = g - exp(q) sum(g). */                                                              \
    static inline void softmax_grad_rows_##sfx(const T *g, const T *q, T *o, int64_t outer,   \
                                               int64_t C, int64_t inner, double *acc,         \
                                               bool logsm) {                                  \
        for (int64_t a = 0; a < outer; a++) {                                                 \
            int64_t base = a * C * inner;                                                     \
            for (int64_t j = 0; j < inner; j++) acc[j] = 0;                                   \
            for (int64_t c = 0; c < C; c++)                                                   \
                for (int64_t j = 0; j < inner; j++) {                                         \
                    int64_t i = base + c * inner + j;                                         \
                    acc[j] += logsm ? (double)g[i] : (double)g[i] * q[i];                     \
                }                                                                             \
            for (int64_t c = 0; c < C; c++)                                                   \
                for (int64_t j = 0; j < inner; j++) {                                         \
                    int64_t i = base + c * inner + j;                                         \
                    o[i] = logsm ? (T)(g[i] - EXP(q[i]) * acc[j]) : (T)(q[i] * (g[i] - acc[j])); \
                }                                                                             \
        }                                                                                     \
    }                                                                                         \
    static void softmax_##sfx(const T *x, T *o, int64_t outer, int64_t C, int64_t inner,      \
                              double *mx, double *acc, bool logsm) {                          \
        if (inner == 1) softmax_rows_##sfx(x, o, outer, C, 1, mx, acc, logsm);                \
        else softmax_rows_##sfx(x, o, outer, C, inner, mx, acc, logsm);                       \
    }                                                                                         \
    static void softmax_grad_##sfx(const T *g, const T *q, T *o, int64_t outer, int64_t C,    \
                                   int64_t inner, double *acc, bool logsm) {                  \
        if (inner == 1) softmax_grad_rows_##sfx(g, q, o, outer, C, 1, acc, logsm);            \
        else softmax_grad_rows_##sfx(g, q, o, outer, C, inner, acc, logsm);                   \
    }
SOFTMAX_KERNELS(f32, float, expf)
SOFTMAX_KERNELS(f64, double, exp)

static void axis_layout(const mg_tensor *x, int axis, int64_t *outer, int64_t *C, int64_t *inner) {
    *outer = 1, *inner = 1, *C = x->ndim ? x->shape[axis] : 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < axis) *outer *= x->shape[i];
        if (i > axis) *inner *= x->shape[i];
    }
}

/* Runs the forward (g == NULL) or the gradient kernel on contiguous copies
 * of the inputs, into a new tensor of x's shape and dtype. */
static mg_tensor *softmax_run(mg_tensor *x, mg_tensor *g, int axis, bool logsm) {
    const char *op = logsm ? "logsoftmax" : "softmax";
    int64_t outer, C, inner;
    axis_layout(x, axis, &outer, &C, &inner);
    mg_tensor *xc = mg_is_contiguous(x) ? mg_retain(x) : mg_copy_of(x, x->dtype);
    mg_tensor *gc = NULL;
    if (g) gc = g->dtype == x->dtype && mg_is_contiguous(g) ? mg_retain(g) : mg_copy_of(g, x->dtype);
    mg_tensor *out = xc && (gc || !g) ? mg_empty(x->ndim, x->shape, x->dtype) : NULL;
    double *buf = out ? malloc(2 * (size_t)(inner ? inner : 1) * sizeof *buf) : NULL;
    if (out && !buf) mg_seterr(MG_ENOMEM, "%s: out of memory", op);
    if (out && g && !mg_same_shape(g, x)) {
        mg_seterr(MG_ESHAPE, "%s: the gradient's shape does not match", op);
        free(buf);
        buf = NULL;
    }
    void *xp = xc ? mg_data_ptr(xc) : NULL, *op_ = out ? mg_data_ptr(out) : NULL;
    bool f32 = x->dtype == MG_FLOAT32;
    if (buf && !g && f32) softmax_f32(xp, op_, outer, C, inner, buf, buf + inner, logsm);
    else if (buf && !g) softmax_f64(xp, op_, outer, C, inner, buf, buf + inner, logsm);
    else if (buf && f32) softmax_grad_f32(mg_data_ptr(gc), xp, op_, outer, C, inner, buf, logsm);
    else if (buf) softmax_grad_f64(mg_data_ptr(gc), xp, op_, outer, C, inner, buf, logsm);
    if (!buf) {
        mg_release(out);
        out = NULL;
    }
    free(buf);
    mg_release(xc);
    mg_release(gc);
    return out;
}

static mg_tensor *softmax_fw(mg_tensor **in, const mg_params *p) {
    return softmax_run(in[0], NULL, p->axis, false);
}
static mg_tensor *logsoftmax_fw(mg_tensor **in, const mg_params *p) {
    return softmax_run(in[0], NULL, p->axis, true);
}
/* The gradient ops: inputs (g, the forward's output). */
static mg_tensor *softmax_grad_fw(mg_tensor **in, const mg_params *p) {
    return softmax_run(in[1], in[0], p->axis, false);
}
static mg_tensor *logsoftmax_grad_fw(mg_tensor **in, const mg_params *p) {
    return softmax_run(in[1], in[0], p->axis, true);
}

static const mg_opdef op_softmax_grad, op_logsoftmax_grad;

/* Backward of the forward ops: the gradient op on (g, output). */
static int softmax_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *o = mg_node_output(n);
    mg_tensor *in[2] = {g, o};
    const mg_opdef *op = n->op->forward == softmax_fw ? &op_softmax_grad : &op_logsoftmax_grad;
    gin[0] = o ? mg_apply(op, in, &n->p) : NULL;
    mg_release(o);
    return done(n, gin);
}

/* Backward of softmax's gradient op, o = p g - p sum(g p) (p the softmax):
 *   d/dg: the same op on (h, p);   d/dp: h (g - sum(g p)) - g sum(h p). */
static int softmax_grad_bw(mg_node *n, mg_tensor *h, mg_tensor **gin) {
    mg_tensor *g = n->inputs[0], *p = n->inputs[1];
    int nd = p->ndim, ax = n->p.axis;
    if (mg_wants(n, 0)) {
        mg_tensor *in[2] = {h, p};
        gin[0] = mg_apply(&op_softmax_grad, in, &n->p);
    }
    if (mg_wants(n, 1)) {
        mg_tensor *gp = take_sum(mg_mul(g, p), ax, nd, true),
                  *hp = take_sum(mg_mul(h, p), ax, nd, true);
        mg_tensor *a = gp ? mg_take2(mg_mul, mg_retain(h), mg_take2(mg_sub, mg_retain(g), gp)) : NULL;
        gin[1] = mg_take2(mg_sub, a, hp ? mg_take2(mg_mul, mg_retain(g), hp) : NULL);
    }
    for (int i = 0; i < 2; i++)
        if (mg_wants(n, i) && !gin[i]) return mg_errcode() ? mg_errcode() : MG_ENOMEM;
    return MG_OK;
}

/* Backward of logsoftmax's gradient op, o = g - e^q sum(g) (q the output):
 *   d/dg: h - sum(h e^q);   d/dq: -h e^q sum(g). */
static int logsoftmax_grad_bw(mg_node *n, mg_tensor *h, mg_tensor **gin) {
    mg_tensor *g = n->inputs[0], *q = n->inputs[1];
    int nd = q->ndim, ax = n->p.axis;
    mg_tensor *e = mg_exp(q);
    if (e && mg_wants(n, 0))
        gin[0] = mg_take2(mg_sub, mg_retain(h), take_sum(mg_mul(h, e), ax, nd, true));
    if (e && mg_wants(n, 1))
        gin[1] = mg_take1(mg_neg, mg_take2(mg_mul, mg_mul(h, e), take_sum(mg_retain(g), ax, nd, true)));
    mg_release(e);
    for (int i = 0; i < 2; i++)
        if (mg_wants(n, i) && !gin[i]) return mg_errcode() ? mg_errcode() : MG_ENOMEM;
    return MG_OK;
}

static const mg_opdef op_softmax = {.name = "softmax", .grad_name = "SoftmaxBackward",
    .arity = 1, .kind = MG_KIND_OTHER, .forward = softmax_fw, .backward = softmax_bw,
    .saves = MG_SAVES_OUT};
static const mg_opdef op_logsoftmax = {.name = "logsoftmax", .grad_name = "LogSoftmaxBackward",
    .arity = 1, .kind = MG_KIND_OTHER, .forward = logsoftmax_fw, .backward = softmax_bw,
    .saves = MG_SAVES_OUT};
static const mg_opdef op_softmax_grad = {.name = "softmax",
    .grad_name = "SoftmaxBackwardBackward", .arity = 2, .kind = MG_KIND_OTHER,
    .forward = softmax_grad_fw, .backward = softmax_grad_bw,
    .saves = MG_SAVES_IN0 | MG_SAVES_IN1};
static const mg_opdef op_logsoftmax_grad = {.name = "logsoftmax",
    .grad_name = "LogSoftmaxBackwardBackward", .arity = 2, .kind = MG_KIND_OTHER,
    .forward = logsoftmax_grad_fw, .backward = logsoftmax_grad_bw,
    .saves = MG_SAVES_IN0 | MG_SAVES_IN1};

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
static mg_tensor *positive(mg_tensor *x) { return mg_take2(mg_greater, mg_retain(x), mg_scal(0, x)); }

mg_tensor *mg_leaky_relu(mg_tensor *x, double slope) { /* x > 0 ? x : slope x */
    if (missing(x, "leaky_relu")) return NULL;
    mg_tensor *f = as_float(x);
    mg_tensor *r =
        f ? mg_take3(mg_where, positive(f), mg_retain(f), mg_take2(mg_mul, mg_retain(f), mg_scal(slope, f)))
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
    mg_tensor *neg = pos ? mg_take3(mg_where, mg_retain(pos), mg_scal(0, f), mg_retain(f)) : NULL;
    mg_tensor *e = mg_take2(mg_mul, mg_take1(mg_expm1, neg), f ? mg_scal(alpha, f) : NULL);
    mg_tensor *r = e ? mg_take3(mg_where, mg_retain(pos), mg_retain(f), e) : NULL;
    mg_release(pos);
    mg_release(f);
    return r;
}

mg_tensor *mg_selu(mg_tensor *x) {
    mg_tensor *e = mg_elu(x, SELU_ALPHA);
    return e ? mg_take2(mg_mul, e, mg_scal(SELU_SCALE, e)) : NULL;
}

mg_tensor *mg_hard_tanh(mg_tensor *x, double lo, double hi) {
    if (missing(x, "hard_tanh")) return NULL;
    if (!(lo <= hi)) {
        mg_seterr(MG_EVALUE, "hard_tanh: min_val (%g) must not exceed max_val (%g)", lo, hi);
        return NULL;
    }
    mg_tensor *f = as_float(x);
    mg_tensor *r = f ? mg_take3(mg_clip, mg_retain(f), mg_scal(lo, f), mg_scal(hi, f)) : NULL;
    mg_release(f);
    return r;
}

mg_tensor *mg_soft_sign(mg_tensor *x) { /* x / (1 + |x|) */
    if (missing(x, "soft_sign")) return NULL;
    mg_tensor *f = as_float(x);
    mg_tensor *r = f ? mg_take2(mg_div, mg_retain(f), mg_take2(mg_add, mg_abs(f), mg_scal(1, f))) : NULL;
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
    mg_tensor *bx = f ? mg_take2(mg_mul, mg_retain(f), mg_scal(beta, f)) : NULL;
    mg_tensor *big = bx ? mg_take2(mg_greater, mg_retain(bx), mg_scal(threshold, f)) : NULL;
    mg_tensor *sp =
        big ? mg_take2(mg_div, mg_take2(mg_logaddexp, mg_scal(0, f), mg_retain(bx)), mg_scal(beta, f)) : NULL;
    mg_tensor *r = sp ? mg_take3(mg_where, mg_retain(big), mg_retain(f), sp) : NULL;
    mg_release(bx);
    mg_release(big);
    mg_release(f);
    return r;
}

/* a * sigmoid(b) with a and b the two halves of x along axis. */
mg_tensor *mg_glu(mg_tensor *x, int axis) {
    if (missing(x, "glu")) return NULL;
    if (x->ndim == 0 || axis < -x->ndim || axis >= x->ndim) {
        mg_seterr(MG_EINDEX, "glu: axis %d is out of range for a tensor with %d axes", axis,
                  x->ndim);
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
    return mg_take2(mg_mul, a, mg_take1(mg_sigmoid, b));
}
