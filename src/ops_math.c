/* ops_math.c — more element-wise math: trigonometric, hyperbolic,
 * exponential and logarithmic functions, cbrt, reciprocal, floor/ceil/round;
 * arctan2, maximum/minimum and logaddexp; comparisons, isnan/isinf/isfinite
 * and logical ops (bool results, constant); where and clip (three inputs,
 * with their own small three-operand loop); the any/all reductions.
 * Backward functions are written with moongrad's own ops, so they are
 * recorded under create_graph and second derivatives work. */
#include "internal.h"
#include "loops.h"

#include <math.h>
#include <string.h>

#define LN2 0.69314718055994530942
#define LN10 2.30258509299404568402

/* ---- loop templates (loops.h) --------------------------------------------- */
#define UNARY(name, T, R, expr) MG_UNARY_LOOP(name, T, R, expr)
#define BINARY(name, T, R, expr) MG_BINARY_LOOP(name, T, R, expr)

/* A float function f: the float32 loop calls f32, the float64 loop f64. */
#define FLOAT_UNARY(name, f32, f64)             \
    UNARY(name##_f32, float, float, f32(x))     \
    UNARY(name##_f64, double, double, f64(x))

FLOAT_UNARY(tan, tanf, tan)
FLOAT_UNARY(arcsin, asinf, asin)
FLOAT_UNARY(arccos, acosf, acos)
FLOAT_UNARY(arctan, atanf, atan)
FLOAT_UNARY(sinh, sinhf, sinh)
FLOAT_UNARY(cosh, coshf, cosh)
FLOAT_UNARY(arcsinh, asinhf, asinh)
FLOAT_UNARY(arccosh, acoshf, acosh)
FLOAT_UNARY(arctanh, atanhf, atanh)
FLOAT_UNARY(exp2, exp2f, exp2)
FLOAT_UNARY(expm1, expm1f, expm1)
FLOAT_UNARY(log2, log2f, log2)
FLOAT_UNARY(log10, log10f, log10)
FLOAT_UNARY(log1p, log1pf, log1p)
FLOAT_UNARY(cbrt, cbrtf, cbrt)
UNARY(reciprocal_f32, float, float, 1.0f / x)
UNARY(reciprocal_f64, double, double, 1.0 / x)

/* floor, ceil, round: integers are already whole (kept as int64).  round
 * goes half to even, as NumPy (nearbyint in the default rounding mode). */
FLOAT_UNARY(floor, floorf, floor)
FLOAT_UNARY(ceil, ceilf, ceil)
FLOAT_UNARY(round, nearbyintf, nearbyint)
UNARY(whole_i64, int64_t, int64_t, x)

/* NaN in, NaN out (as NumPy's maximum/minimum). */
BINARY(maximum_f32, float, float, (x >= y || x != x) ? x : y)
BINARY(maximum_f64, double, double, (x >= y || x != x) ? x : y)
BINARY(maximum_i64, int64_t, int64_t, x >= y ? x : y)
BINARY(minimum_f32, float, float, (x <= y || x != x) ? x : y)
BINARY(minimum_f64, double, double, (x <= y || x != x) ? x : y)
BINARY(minimum_i64, int64_t, int64_t, x <= y ? x : y)
/* The share of the gradient that goes to the first input: 1 where it was
 * picked, 0 where the second was, 1/2 on ties (as MyGrad splits them). */
BINARY(max_share_f32, float, float, (x > y || x != x) ? 1.0f : x == y ? 0.5f : 0.0f)
BINARY(max_share_f64, double, double, (x > y || x != x) ? 1.0 : x == y ? 0.5 : 0.0)
BINARY(min_share_f32, float, float, (x < y || x != x) ? 1.0f : x == y ? 0.5f : 0.0f)
BINARY(min_share_f64, double, double, (x < y || x != x) ? 1.0 : x == y ? 0.5 : 0.0)
BINARY(arctan2_f32, float, float, atan2f(x, y))
BINARY(arctan2_f64, double, double, atan2(x, y))

/* log(exp(x) + exp(y)) without overflow (NumPy's npy_logaddexp). */
static inline double logaddexp_d(double x, double y) {
    if (x == y) return x + LN2; /* also equal infinities */
    double d = x - y;
    if (d > 0) return x + log1p(exp(-d));
    if (d <= 0) return y + log1p(exp(d));
    return d; /* NaN */
}
static inline float logaddexp_s(float x, float y) {
    if (x == y) return x + (float)LN2;
    float d = x - y;
    if (d > 0) return x + log1pf(expf(-d));
    if (d <= 0) return y + log1pf(expf(d));
    return d;
}
BINARY(logaddexp_f32, float, float, logaddexp_s(x, y))
BINARY(logaddexp_f64, double, double, logaddexp_d(x, y))

/* Comparisons and logical ops: one loop per compute dtype, bool result. */
#define BOOL_BINARY(name, expr)                   \
    BINARY(name##_f32, float, bool, expr)         \
    BINARY(name##_f64, double, bool, expr)        \
    BINARY(name##_i64, int64_t, bool, expr)

BOOL_BINARY(equal, x == y)
BOOL_BINARY(not_equal, x != y)
BOOL_BINARY(less, x < y)
BOOL_BINARY(less_equal, x <= y)
BOOL_BINARY(greater, x > y)
BOOL_BINARY(greater_equal, x >= y)
BOOL_BINARY(logical_and, x != 0 && y != 0)
BOOL_BINARY(logical_or, x != 0 || y != 0)
BOOL_BINARY(logical_xor, (x != 0) != (y != 0))

UNARY(logical_not_f32, float, bool, x == 0)
UNARY(logical_not_f64, double, bool, x == 0)
UNARY(logical_not_i64, int64_t, bool, x == 0)
UNARY(isnan_f32, float, bool, isnan(x))
UNARY(isnan_f64, double, bool, isnan(x))
UNARY(isinf_f32, float, bool, isinf(x))
UNARY(isinf_f64, double, bool, isinf(x))
UNARY(isfinite_f32, float, bool, isfinite(x))
UNARY(isfinite_f64, double, bool, isfinite(x))
/* An integer is never NaN or infinite. */
static void false_i64(const void *a, int64_t sa, void *o, int64_t n) {
    (void)a, (void)sa;
    memset(o, 0, (size_t)n);
}
static void true_i64(const void *a, int64_t sa, void *o, int64_t n) {
    (void)a, (void)sa;
    memset(o, 1, (size_t)n);
}

/* ---- backward helpers ------------------------------------------------------ */

/* Checks that every gradient asked for (bit i of `asked`) was made. */
static int done_mask(mg_node *n, mg_tensor **gin, unsigned asked) {
    for (int i = 0; i < n->ninputs; i++)
        if ((asked & (1u << i)) && mg_wants(n, i) && !gin[i])
            return mg_errcode() ? mg_errcode() : MG_ENOMEM;
    return MG_OK;
}
static int done(mg_node *n, mg_tensor **gin) { return done_mask(n, gin, ~0u); }

/* g * d and g / d, consuming d. */
static mg_tensor *gmul(mg_tensor *g, mg_tensor *d) { return mg_take2(mg_mul, mg_retain(g), d); }
static mg_tensor *gdiv(mg_tensor *g, mg_tensor *d) { return mg_take2(mg_div, mg_retain(g), d); }
/* s + x * x and s - x * x (s a number), consuming nothing. */
static mg_tensor *plus_sq(double s, mg_tensor *x) {
    return mg_take2(mg_add, mg_scalar(s, x->dtype), mg_square(x));
}
static mg_tensor *minus_sq(double s, mg_tensor *x) {
    return mg_take2(mg_sub, mg_scalar(s, x->dtype), mg_square(x));
}

/* ---- unary backward ----------------------------------------------------------- */
static int tan_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g (1 + tan^2) */
    mg_tensor *o = mg_node_output(n);
    gin[0] = o ? gmul(g, plus_sq(1, o)) : NULL;
    mg_release(o);
    return done(n, gin);
}
static int arcsin_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g / sqrt(1 - x^2) */
    gin[0] = gdiv(g, mg_take1(mg_sqrt, minus_sq(1, n->inputs[0])));
    return done(n, gin);
}
static int arccos_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_take1(mg_neg, gdiv(g, mg_take1(mg_sqrt, minus_sq(1, n->inputs[0]))));
    return done(n, gin);
}
static int arctan_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g / (1 + x^2) */
    gin[0] = gdiv(g, plus_sq(1, n->inputs[0]));
    return done(n, gin);
}
static int sinh_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = gmul(g, mg_cosh(n->inputs[0]));
    return done(n, gin);
}
static int cosh_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = gmul(g, mg_sinh(n->inputs[0]));
    return done(n, gin);
}
static int arcsinh_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g / sqrt(x^2 + 1) */
    gin[0] = gdiv(g, mg_take1(mg_sqrt, plus_sq(1, n->inputs[0])));
    return done(n, gin);
}
static int arccosh_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g / sqrt(x^2 - 1) */
    gin[0] = gdiv(g, mg_take1(mg_sqrt, mg_take1(mg_neg, minus_sq(1, n->inputs[0]))));
    return done(n, gin);
}
static int arctanh_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g / (1 - x^2) */
    gin[0] = gdiv(g, minus_sq(1, n->inputs[0]));
    return done(n, gin);
}
static int exp2_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g 2^x ln 2 */
    gin[0] = gmul(g, mg_take2(mg_mul, mg_node_output(n), mg_scal(LN2, g)));
    return done(n, gin);
}
static int expm1_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g e^x */
    gin[0] = gmul(g, mg_exp(n->inputs[0]));
    return done(n, gin);
}
static int log2_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g / (x ln 2) */
    gin[0] = gdiv(g, mg_take2(mg_mul, mg_retain(n->inputs[0]), mg_scal(LN2, g)));
    return done(n, gin);
}
static int log10_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = gdiv(g, mg_take2(mg_mul, mg_retain(n->inputs[0]), mg_scal(LN10, g)));
    return done(n, gin);
}
static int log1p_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g / (1 + x) */
    gin[0] = gdiv(g, mg_take2(mg_add, mg_retain(n->inputs[0]), mg_scal(1, g)));
    return done(n, gin);
}
static int cbrt_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g / (3 cbrt(x)^2) */
    gin[0] = gdiv(g, mg_take2(mg_mul, mg_take1(mg_square, mg_node_output(n)), mg_scal(3, g)));
    return done(n, gin);
}
static int reciprocal_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* -g / x^2 */
    gin[0] = mg_take1(mg_neg, gmul(g, mg_take1(mg_square, mg_node_output(n))));
    return done(n, gin);
}

/* ---- binary backward ------------------------------------------------------------ */
static int arctan2_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *y = n->inputs[0], *x = n->inputs[1];
    mg_tensor *den = mg_take2(mg_add, mg_square(x), mg_square(y)); /* x^2 + y^2 */
    if (den && mg_wants(n, 0)) gin[0] = mg_take2(mg_div, mg_mul(g, x), mg_retain(den));
    if (den && mg_wants(n, 1)) gin[1] = mg_take1(mg_neg, mg_take2(mg_div, mg_mul(g, y), mg_retain(den)));
    mg_release(den);
    return done(n, gin);
}

static const mg_opdef op_max_share, op_min_share;

/* g times the share of each input (a constant tensor). */
static int shared_bw(mg_node *n, mg_tensor *g, mg_tensor **gin, const mg_opdef *share_op) {
    mg_tensor *w = mg_apply(share_op, n->inputs, NULL);
    if (w && mg_wants(n, 0)) gin[0] = mg_mul(g, w);
    if (w && mg_wants(n, 1)) gin[1] = gmul(g, mg_take2(mg_sub, mg_scal(1, w), mg_retain(w)));
    mg_release(w);
    return done(n, gin);
}
static int maximum_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    return shared_bw(n, g, gin, &op_max_share);
}
static int minimum_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    return shared_bw(n, g, gin, &op_min_share);
}

static int logaddexp_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) { /* g exp(a - out) */
    mg_tensor *o = mg_node_output(n);
    for (int i = 0; o && i < 2; i++)
        if (mg_wants(n, i)) gin[i] = gmul(g, mg_take1(mg_exp, mg_sub(n->inputs[i], o)));
    mg_release(o);
    return done(n, gin);
}

/* ---- the table entries (element-wise) -------------------------------------------- */
#define S0 MG_SAVES_IN0
#define S1 MG_SAVES_IN1
#define SO MG_SAVES_OUT

#define FLOAT_OP(var, nm, gname, bw, sv)                                                \
    static const mg_opdef var = {.name = #nm, .grad_name = gname, .arity = 1,              \
                                 .kind = MG_KIND_UNARY, .rule = MG_RES_FLOAT,              \
                                 .unary = {nm##_f32, nm##_f64, NULL}, .backward = bw,      \
                                 .saves = sv}

FLOAT_OP(op_tan, tan, "TanBackward", tan_bw, SO);
FLOAT_OP(op_arcsin, arcsin, "ArcsinBackward", arcsin_bw, S0);
FLOAT_OP(op_arccos, arccos, "ArccosBackward", arccos_bw, S0);
FLOAT_OP(op_arctan, arctan, "ArctanBackward", arctan_bw, S0);
FLOAT_OP(op_sinh, sinh, "SinhBackward", sinh_bw, S0);
FLOAT_OP(op_cosh, cosh, "CoshBackward", cosh_bw, S0);
FLOAT_OP(op_arcsinh, arcsinh, "ArcsinhBackward", arcsinh_bw, S0);
FLOAT_OP(op_arccosh, arccosh, "ArccoshBackward", arccosh_bw, S0);
FLOAT_OP(op_arctanh, arctanh, "ArctanhBackward", arctanh_bw, S0);
FLOAT_OP(op_exp2, exp2, "Exp2Backward", exp2_bw, SO);
FLOAT_OP(op_expm1, expm1, "Expm1Backward", expm1_bw, S0);
FLOAT_OP(op_log2, log2, "Log2Backward", log2_bw, S0);
FLOAT_OP(op_log10, log10, "Log10Backward", log10_bw, S0);
FLOAT_OP(op_log1p, log1p, "Log1pBackward", log1p_bw, S0);
FLOAT_OP(op_cbrt, cbrt, "CbrtBackward", cbrt_bw, SO);
FLOAT_OP(op_reciprocal, reciprocal, "ReciprocalBackward", reciprocal_bw, SO);

/* floor, ceil, round: constant results (no gradient), as sign. */
#define WHOLE_OP(var, nm)                                                                   \
    static const mg_opdef var = {.name = #nm, .arity = 1, .kind = MG_KIND_UNARY,           \
                                 .rule = MG_RES_SAME,                                      \
                                 .unary = {nm##_f32, nm##_f64, whole_i64}}

WHOLE_OP(op_floor, floor);
WHOLE_OP(op_ceil, ceil);
WHOLE_OP(op_round, round);

static const mg_opdef op_arctan2 = {.name = "arctan2", .grad_name = "Arctan2Backward",
    .arity = 2, .kind = MG_KIND_BINARY, .rule = MG_RES_FLOAT,
    .binary = {arctan2_f32, arctan2_f64, NULL}, .backward = arctan2_bw, .saves = S0 | S1};
static const mg_opdef op_maximum = {.name = "maximum", .grad_name = "MaximumBackward",
    .arity = 2, .kind = MG_KIND_BINARY, .rule = MG_RES_SAME,
    .binary = {maximum_f32, maximum_f64, maximum_i64}, .backward = maximum_bw,
    .saves = S0 | S1};
static const mg_opdef op_minimum = {.name = "minimum", .grad_name = "MinimumBackward",
    .arity = 2, .kind = MG_KIND_BINARY, .rule = MG_RES_SAME,
    .binary = {minimum_f32, minimum_f64, minimum_i64}, .backward = minimum_bw,
    .saves = S0 | S1};
static const mg_opdef op_max_share = {.name = "maximum", .arity = 2, .kind = MG_KIND_BINARY,
    .rule = MG_RES_FLOAT, .binary = {max_share_f32, max_share_f64, NULL}};
static const mg_opdef op_min_share = {.name = "minimum", .arity = 2, .kind = MG_KIND_BINARY,
    .rule = MG_RES_FLOAT, .binary = {min_share_f32, min_share_f64, NULL}};
static const mg_opdef op_logaddexp = {.name = "logaddexp", .grad_name = "LogaddexpBackward",
    .arity = 2, .kind = MG_KIND_BINARY, .rule = MG_RES_FLOAT,
    .binary = {logaddexp_f32, logaddexp_f64, NULL}, .backward = logaddexp_bw,
    .saves = S0 | S1 | SO};

/* Bool-valued ops: constant results. */
#define BOOL_OP2(var, nm)                                                                   \
    static const mg_opdef var = {.name = #nm, .arity = 2, .kind = MG_KIND_BINARY,          \
                                 .rule = MG_RES_BOOL,                                      \
                                 .binary = {nm##_f32, nm##_f64, nm##_i64}}
#define BOOL_OP1(var, nm, i64)                                                              \
    static const mg_opdef var = {.name = #nm, .arity = 1, .kind = MG_KIND_UNARY,           \
                                 .rule = MG_RES_BOOL, .unary = {nm##_f32, nm##_f64, i64}}

BOOL_OP2(op_equal, equal);
BOOL_OP2(op_not_equal, not_equal);
BOOL_OP2(op_less, less);
BOOL_OP2(op_less_equal, less_equal);
BOOL_OP2(op_greater, greater);
BOOL_OP2(op_greater_equal, greater_equal);
BOOL_OP2(op_logical_and, logical_and);
BOOL_OP2(op_logical_or, logical_or);
BOOL_OP2(op_logical_xor, logical_xor);
BOOL_OP1(op_logical_not, logical_not, logical_not_i64);
BOOL_OP1(op_isnan, isnan, false_i64);
BOOL_OP1(op_isinf, isinf, false_i64);
BOOL_OP1(op_isfinite, isfinite, true_i64);

/* ---- three inputs: where and clip ------------------------------------------------
 * Both broadcast their three inputs together and walk them with one
 * four-operand strided loop (inputs, then the output). */
static int broadcast3(const char *op, mg_tensor **in, int *ndim, int64_t *shape) {
    int n = 0;
    for (int k = 0; k < 3; k++)
        if (in[k]->ndim > n) n = in[k]->ndim;
    for (int i = 0; i < n; i++) {
        shape[i] = 1;
        for (int k = 0; k < 3; k++) {
            int j = in[k]->ndim - n + i;
            int64_t d = j >= 0 ? in[k]->shape[j] : 1;
            if (d == 1 || d == shape[i]) continue;
            if (shape[i] != 1) {
                char s[3][256];
                for (int m = 0; m < 3; m++) mg_shape_str(in[m]->ndim, in[m]->shape, s[m], 256);
                return mg_seterr(MG_ESHAPE, "%s: shapes %s, %s and %s cannot be broadcast "
                                 "together", op, s[0], s[1], s[2]);
            }
            shape[i] = d;
        }
    }
    *ndim = n;
    return MG_OK;
}

/* Casts in[k] to dts[k] (copies only where the dtype differs), makes the
 * output of dtype out_dt and runs fn over the four operands. */
static mg_tensor *ternary(const char *op, mg_tensor **in, const mg_dtype *dts, mg_dtype out_dt,
                          mg_run_fn fn, void *ctx) {
    int ndim = 0;
    int64_t shape[MG_MAXDIM], st[4][MG_MAXDIM];
    if (broadcast3(op, in, &ndim, shape)) return NULL;
    mg_tensor *cast[3] = {NULL, NULL, NULL}, *use[3], *out = NULL;
    char *base[4];
    size_t esz[4];
    const int64_t *stp[4] = {st[0], st[1], st[2], st[3]};
    for (int k = 0; k < 3; k++) {
        use[k] = in[k];
        if (in[k]->dtype != dts[k] && !(use[k] = cast[k] = mg_copy_of(in[k], dts[k]))) goto out;
        mg_broadcast_strides(use[k], ndim, shape, st[k]);
        base[k] = mg_data_ptr(use[k]);
        esz[k] = mg_dtype_size(dts[k]);
    }
    if (!(out = mg_empty(ndim, shape, out_dt))) goto out;
    for (int i = 0; i < ndim; i++) st[3][i] = out->stride[i];
    base[3] = mg_data_ptr(out);
    esz[3] = mg_dtype_size(out_dt);
    mg_strided_walk(ndim, shape, 4, base, stp, esz, fn, ctx);
out:
    for (int k = 0; k < 3; k++) mg_release(cast[k]);
    return out;
}

/* where: o = c ? a : b, copied bytewise (any dtype). */
static void where_run(char **p, const int64_t *st, int64_t n, void *ctx) {
    size_t es = *(const size_t *)ctx;
    const bool *c = (const bool *)p[0];
    for (int64_t i = 0; i < n; i++) {
        const char *src = c[i * st[0]] ? p[1] + i * st[1] * (int64_t)es : p[2] + i * st[2] * (int64_t)es;
        memcpy(p[3] + i * st[3] * (int64_t)es, src, es);
    }
}

static mg_tensor *where_fw(mg_tensor **in, const mg_params *p) {
    (void)p;
    mg_dtype dt = mg_promote(in[1]->dtype, in[2]->dtype);
    mg_dtype dts[3] = {MG_BOOL, dt, dt};
    size_t es = mg_dtype_size(dt);
    return ternary("where", in, dts, dt, where_run, &es);
}

static int where_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *c = n->inputs[0];
    if (mg_wants(n, 1)) gin[1] = mg_take3(mg_where, mg_retain(c), mg_retain(g), mg_scal(0, g));
    if (mg_wants(n, 2)) gin[2] = mg_take3(mg_where, mg_retain(c), mg_scal(0, g), mg_retain(g));
    return done_mask(n, gin, 6u); /* the condition has no gradient */
}

static const mg_opdef op_where = {.name = "where", .grad_name = "WhereBackward", .arity = 3,
    .kind = MG_KIND_OTHER, .forward = where_fw, .backward = where_bw, .saves = S0};

/* clip: o = min(max(x, lo), hi), comparisons as written (a NaN x stays NaN).
 * An absent bound is passed as x itself and flagged in ival[0] (bit 0: lo
 * given, bit 1: hi given): the loop skips it and backward sends it nothing. */
typedef struct {
    mg_dtype dt;
    bool lo, hi;
} clip_ctx;

#define CLIP_LOOP(name, T)                                                           \
    static void name(char **p, const int64_t *st, int64_t n, const clip_ctx *c) {    \
        const T *x = (const T *)p[0], *lo = (const T *)p[1], *hi = (const T *)p[2];  \
        T *o = (T *)p[3];                                                            \
        for (int64_t i = 0; i < n; i++) {                                            \
            T v = x[i * st[0]];                                                      \
            if (c->lo && v < lo[i * st[1]]) v = lo[i * st[1]];                       \
            if (c->hi && v > hi[i * st[2]]) v = hi[i * st[2]];                       \
            o[i * st[3]] = v;                                                        \
        }                                                                            \
    }
CLIP_LOOP(clip_f32, float)
CLIP_LOOP(clip_f64, double)
CLIP_LOOP(clip_i64, int64_t)

static void clip_run(char **p, const int64_t *st, int64_t n, void *ctx) {
    const clip_ctx *c = ctx;
    if (c->dt == MG_FLOAT32) clip_f32(p, st, n, c);
    else if (c->dt == MG_FLOAT64) clip_f64(p, st, n, c);
    else clip_i64(p, st, n, c);
}

static mg_tensor *clip_fw(mg_tensor **in, const mg_params *p) {
    mg_dtype dt = mg_promote(mg_promote(in[0]->dtype, in[1]->dtype), in[2]->dtype);
    if (dt == MG_BOOL) dt = MG_INT64;
    mg_dtype dts[3] = {dt, dt, dt};
    clip_ctx c = {dt, (p->ival[0] & 1) != 0, (p->ival[0] & 2) != 0};
    return ternary("clip", in, dts, dt, clip_run, &c);
}

/* The masks backward needs (constant bool tensors, NULL where a bound is
 * absent): below = x < lo, above = max(x, lo) > hi (the hi branch won). */
static int clip_masks(mg_node *n, mg_tensor **below, mg_tensor **above) {
    mg_tensor *x = n->inputs[0], *lo = n->inputs[1], *hi = n->inputs[2];
    bool prev = mg_set_grad_enabled(false);
    if (n->p.ival[0] & 1) *below = mg_less(x, lo);
    if (n->p.ival[0] & 2) {
        mg_tensor *m = !(n->p.ival[0] & 1) ? mg_retain(x) : *below ? mg_where(*below, lo, x) : NULL;
        *above = mg_take2(mg_greater, m, mg_retain(hi));
    }
    mg_set_grad_enabled(prev);
    bool ok = (!(n->p.ival[0] & 1) || *below) && (!(n->p.ival[0] & 2) || *above);
    return ok ? MG_OK : (mg_errcode() ? mg_errcode() : MG_ENOMEM);
}

static int clip_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *below = NULL, *above = NULL, *outside = NULL;
    unsigned asked = 1u | ((unsigned)n->p.ival[0] << 1);
    int rc = clip_masks(n, &below, &above);
    if (rc) goto out;
    if (below && above) {
        bool prev = mg_set_grad_enabled(false);
        outside = mg_logical_or(below, above);
        mg_set_grad_enabled(prev);
    } else outside = mg_retain(below ? below : above);
    if (mg_wants(n, 0)) gin[0] = outside ? mg_take3(mg_where, mg_retain(outside), mg_scal(0, g), mg_retain(g))
                                      : mg_retain(g);
    if (below && mg_wants(n, 1)) {
        gin[1] = mg_take3(mg_where, mg_retain(below), mg_retain(g), mg_scal(0, g));
        if (above) gin[1] = mg_take3(mg_where, mg_retain(above), mg_scal(0, g), gin[1]);
    }
    if (above && mg_wants(n, 2)) gin[2] = mg_take3(mg_where, mg_retain(above), mg_retain(g), mg_scal(0, g));
    rc = done_mask(n, gin, asked);
out:
    mg_release(below);
    mg_release(above);
    mg_release(outside);
    return rc;
}

/* Backward reads x and both bounds. */
static const mg_opdef op_clip = {.name = "clip", .grad_name = "ClipBackward", .arity = 3,
    .kind = MG_KIND_OTHER, .forward = clip_fw, .backward = clip_bw,
    .saves = S0 | S1 | MG_SAVES_IN(2)};

/* ---- any / all ---------------------------------------------------------------------
 * A bool reduction: the input is read as bool (non-zero is true) and each
 * output element starts at false (any) or true (all). */
static void any_run(char **p, const int64_t *st, int64_t n, void *ctx) {
    (void)ctx;
    const bool *a = (const bool *)p[0];
    bool *o = (bool *)p[1];
    for (int64_t i = 0; i < n; i++) o[i * st[1]] = o[i * st[1]] || a[i * st[0]];
}
static void all_run(char **p, const int64_t *st, int64_t n, void *ctx) {
    (void)ctx;
    const bool *a = (const bool *)p[0];
    bool *o = (bool *)p[1];
    for (int64_t i = 0; i < n; i++) o[i * st[1]] = o[i * st[1]] && a[i * st[0]];
}

static mg_tensor *anyall_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *a = in[0], *cast = NULL, *out;
    bool all = p->ival[0] != 0;
    int ndim = 0;
    int64_t shape[MG_MAXDIM], kshape[MG_MAXDIM], kstride[MG_MAXDIM];
    for (int i = 0; i < a->ndim; i++) {
        bool red = p->axes & (1u << i);
        kshape[i] = red ? 1 : a->shape[i];
        if (!red || p->keepdims) shape[ndim++] = kshape[i];
    }
    if (a->dtype != MG_BOOL && !(a = cast = mg_copy_of(a, MG_BOOL))) return NULL;
    if ((out = mg_empty(ndim, shape, MG_BOOL))) {
        memset(mg_data_ptr(out), all, (size_t)mg_numel(out));
        /* the output read at a's shape: stride 0 on reduced axes */
        mg_contiguous_strides(a->ndim, kshape, kstride);
        for (int i = 0; i < a->ndim; i++)
            if (p->axes & (1u << i)) kstride[i] = 0;
        char *base[2] = {(char *)mg_data_ptr(a), (char *)mg_data_ptr(out)};
        const int64_t *st[2] = {a->stride, kstride};
        size_t esz[2] = {1, 1};
        mg_strided_walk(a->ndim, a->shape, 2, base, st, esz, all ? all_run : any_run, NULL);
    }
    mg_release(cast);
    return out;
}

static const mg_opdef op_any = {.name = "any", .arity = 1, .kind = MG_KIND_OTHER,
    .forward = anyall_fw};
static const mg_opdef op_all = {.name = "all", .arity = 1, .kind = MG_KIND_OTHER,
    .forward = anyall_fw};

static mg_tensor *anyall(const mg_opdef *op, mg_tensor *a, uint32_t axes, bool keepdims) {
    if (!a) return mg_apply(op, &a, NULL); /* reports the missing input */
    if (axes == MG_ALLAXES) axes = a->ndim ? (uint32_t)((1ull << a->ndim) - 1) : 0;
    for (int i = a->ndim; i < 32; i++)
        if (axes & (1u << i)) {
            mg_seterr(MG_EINDEX, "%s: axis %d is out of range for a tensor with %d axes",
                      op->name, i, a->ndim);
            return NULL;
        }
    mg_params p;
    memset(&p, 0, sizeof p);
    p.axes = axes;
    p.keepdims = keepdims;
    p.ival[0] = op == &op_all;
    return mg_apply(op, &a, &p);
}

/* ---- named entry points ---------------------------------------------------------- */
static mg_tensor *apply1(const mg_opdef *op, mg_tensor *a) { return mg_apply(op, &a, NULL); }
static mg_tensor *apply2(const mg_opdef *op, mg_tensor *a, mg_tensor *b) {
    mg_tensor *in[2] = {a, b};
    return mg_apply(op, in, NULL);
}

mg_tensor *mg_tan(mg_tensor *a) { return apply1(&op_tan, a); }
mg_tensor *mg_arcsin(mg_tensor *a) { return apply1(&op_arcsin, a); }
mg_tensor *mg_arccos(mg_tensor *a) { return apply1(&op_arccos, a); }
mg_tensor *mg_arctan(mg_tensor *a) { return apply1(&op_arctan, a); }
mg_tensor *mg_sinh(mg_tensor *a) { return apply1(&op_sinh, a); }
mg_tensor *mg_cosh(mg_tensor *a) { return apply1(&op_cosh, a); }
mg_tensor *mg_arcsinh(mg_tensor *a) { return apply1(&op_arcsinh, a); }
mg_tensor *mg_arccosh(mg_tensor *a) { return apply1(&op_arccosh, a); }
mg_tensor *mg_arctanh(mg_tensor *a) { return apply1(&op_arctanh, a); }
mg_tensor *mg_exp2(mg_tensor *a) { return apply1(&op_exp2, a); }
mg_tensor *mg_expm1(mg_tensor *a) { return apply1(&op_expm1, a); }
mg_tensor *mg_log2(mg_tensor *a) { return apply1(&op_log2, a); }
mg_tensor *mg_log10(mg_tensor *a) { return apply1(&op_log10, a); }
mg_tensor *mg_log1p(mg_tensor *a) { return apply1(&op_log1p, a); }
mg_tensor *mg_cbrt(mg_tensor *a) { return apply1(&op_cbrt, a); }
mg_tensor *mg_reciprocal(mg_tensor *a) { return apply1(&op_reciprocal, a); }
mg_tensor *mg_floor(mg_tensor *a) { return apply1(&op_floor, a); }
mg_tensor *mg_ceil(mg_tensor *a) { return apply1(&op_ceil, a); }

static mg_tensor *round0(mg_tensor *a) { return apply1(&op_round, a); }

/* round(x, decimals): rint(x * 10^d) / 10^d (for d < 0: rint(x / 10^-d) * 10^-d,
 * as NumPy), computed in float64 without recording; the result is constant
 * and keeps x's dtype. */
mg_tensor *mg_round(mg_tensor *a, int decimals) {
    if (!a || decimals == 0 || (decimals > 0 && !mg_dtype_is_float(a->dtype))) return round0(a);
    if (decimals < -308 || decimals > 308) {
        mg_seterr(MG_EVALUE, "round: decimals must be between -308 and 308, got %d", decimals);
        return NULL;
    }
    bool prev = mg_set_grad_enabled(false);
    mg_tensor *s = mg_scalar(pow(10.0, decimals < 0 ? -decimals : decimals), MG_FLOAT64);
    mg_tensor *x = s ? mg_copy_of(a, MG_FLOAT64) : NULL;
    mg_tensor *scaled = mg_take2(decimals > 0 ? mg_mul : mg_div, x, mg_retain(s));
    mg_tensor *r = mg_take2(decimals > 0 ? mg_div : mg_mul, mg_take1(round0, scaled), s);
    if (r && r->dtype != a->dtype) {
        mg_tensor *c = mg_astype(r, a->dtype);
        mg_release(r);
        r = c;
    }
    mg_set_grad_enabled(prev);
    return r;
}

mg_tensor *mg_arctan2(mg_tensor *y, mg_tensor *x) { return apply2(&op_arctan2, y, x); }
mg_tensor *mg_maximum(mg_tensor *a, mg_tensor *b) { return apply2(&op_maximum, a, b); }
mg_tensor *mg_minimum(mg_tensor *a, mg_tensor *b) { return apply2(&op_minimum, a, b); }
mg_tensor *mg_logaddexp(mg_tensor *a, mg_tensor *b) { return apply2(&op_logaddexp, a, b); }

mg_tensor *mg_equal(mg_tensor *a, mg_tensor *b) { return apply2(&op_equal, a, b); }
mg_tensor *mg_not_equal(mg_tensor *a, mg_tensor *b) { return apply2(&op_not_equal, a, b); }
mg_tensor *mg_less(mg_tensor *a, mg_tensor *b) { return apply2(&op_less, a, b); }
mg_tensor *mg_less_equal(mg_tensor *a, mg_tensor *b) { return apply2(&op_less_equal, a, b); }
mg_tensor *mg_greater(mg_tensor *a, mg_tensor *b) { return apply2(&op_greater, a, b); }
mg_tensor *mg_greater_equal(mg_tensor *a, mg_tensor *b) { return apply2(&op_greater_equal, a, b); }
mg_tensor *mg_logical_and(mg_tensor *a, mg_tensor *b) { return apply2(&op_logical_and, a, b); }
mg_tensor *mg_logical_or(mg_tensor *a, mg_tensor *b) { return apply2(&op_logical_or, a, b); }
mg_tensor *mg_logical_xor(mg_tensor *a, mg_tensor *b) { return apply2(&op_logical_xor, a, b); }
mg_tensor *mg_logical_not(mg_tensor *a) { return apply1(&op_logical_not, a); }
mg_tensor *mg_isnan(mg_tensor *a) { return apply1(&op_isnan, a); }
mg_tensor *mg_isinf(mg_tensor *a) { return apply1(&op_isinf, a); }
mg_tensor *mg_isfinite(mg_tensor *a) { return apply1(&op_isfinite, a); }

mg_tensor *mg_where(mg_tensor *cond, mg_tensor *a, mg_tensor *b) {
    mg_tensor *in[3] = {cond, a, b};
    return mg_apply(&op_where, in, NULL);
}

mg_tensor *mg_clip(mg_tensor *x, mg_tensor *lo, mg_tensor *hi) {
    if (x && !lo && !hi) {
        mg_seterr(MG_EVALUE, "clip: at least one of the bounds lo and hi must be given");
        return NULL;
    }
    mg_params p;
    memset(&p, 0, sizeof p);
    p.ival[0] = (lo ? 1 : 0) | (hi ? 2 : 0);
    mg_tensor *in[3] = {x, lo ? lo : x, hi ? hi : x};
    return mg_apply(&op_clip, in, &p);
}

mg_tensor *mg_any(mg_tensor *a, uint32_t axes, bool keepdims) {
    return anyall(&op_any, a, axes, keepdims);
}
mg_tensor *mg_all(mg_tensor *a, uint32_t axes, bool keepdims) {
    return anyall(&op_all, a, axes, keepdims);
}
