/* ops_elementwise.c — the element-wise entries of the op table: per-dtype
 * loops (float32, float64, int64), input checks for integer corner cases,
 * and each op's backward written with moongrad's own ops. */
#include "internal.h"
#include "loops.h"

#include <math.h>
#include <string.h>

/* ---- loop templates (loops.h) ---------------------------------------------
 * UNARY(name, T, expr): o[i] = expr of x = a[i], of x's type;
 * BINARY(name, T, R, expr): o[i] = expr of x = a[i], y = b[i], into type R. */
#define UNARY(name, T, expr) MG_UNARY_LOOP(name, T, T, expr)
#define BINARY(name, T, R, expr) MG_BINARY_LOOP(name, T, R, expr)

/* Integer arithmetic wraps around (as Lua's does) instead of overflowing. */
static inline int64_t wrap_add(int64_t x, int64_t y) { return (int64_t)((uint64_t)x + (uint64_t)y); }
static inline int64_t wrap_sub(int64_t x, int64_t y) { return (int64_t)((uint64_t)x - (uint64_t)y); }
static inline int64_t wrap_mul(int64_t x, int64_t y) { return (int64_t)((uint64_t)x * (uint64_t)y); }
static inline int64_t int_floordiv(int64_t x, int64_t y) {
    if (y == -1) return wrap_sub(0, x);
    int64_t q = x / y;
    return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;
}
static inline int64_t int_mod(int64_t x, int64_t y) {
    if (y == -1) return 0;
    int64_t m = x % y;
    return (m != 0 && ((m < 0) != (y < 0))) ? m + y : m;
}
static inline int64_t int_pow(int64_t x, int64_t y) {
    uint64_t r = 1, b = (uint64_t)x;
    for (; y > 0; y >>= 1) {
        if (y & 1) r *= b;
        b *= b;
    }
    return (int64_t)r;
}
static inline double fmod_floor(double x, double y) {
    double m = fmod(x, y);
    return (m != 0 && ((m < 0) != (y < 0))) ? m + y : m;
}
static inline float fmod_floorf(float x, float y) {
    float m = fmodf(x, y);
    return (m != 0 && ((m < 0) != (y < 0))) ? m + y : m;
}
static inline double sign_of(double x) { return x > 0 ? 1 : x < 0 ? -1 : x; }

BINARY(add_f32, float, float, x + y)
BINARY(add_f64, double, double, x + y)
BINARY(add_i64, int64_t, int64_t, wrap_add(x, y))
BINARY(sub_f32, float, float, x - y)
BINARY(sub_f64, double, double, x - y)
BINARY(sub_i64, int64_t, int64_t, wrap_sub(x, y))
BINARY(mul_f32, float, float, x * y)
BINARY(mul_f64, double, double, x * y)
BINARY(mul_i64, int64_t, int64_t, wrap_mul(x, y))
BINARY(div_f32, float, float, x / y)
BINARY(div_f64, double, double, x / y)
BINARY(pow_f32, float, float, powf(x, y))
BINARY(pow_f64, double, double, pow(x, y))
BINARY(pow_i64, int64_t, int64_t, int_pow(x, y))
BINARY(floordiv_f32, float, float, floorf(x / y))
BINARY(floordiv_f64, double, double, floor(x / y))
BINARY(floordiv_i64, int64_t, int64_t, int_floordiv(x, y))
BINARY(mod_f32, float, float, fmod_floorf(x, y))
BINARY(mod_f64, double, double, fmod_floor(x, y))
BINARY(mod_i64, int64_t, int64_t, int_mod(x, y))

UNARY(neg_f32, float, -x)
UNARY(neg_f64, double, -x)
UNARY(neg_i64, int64_t, wrap_sub(0, x))
/* float32 exp of a contiguous run, in blocks that the compiler vectorises:
 * exp(x) = 2^k * exp(r), k = round(x / ln 2), r = x - k ln 2 (ln 2 split in
 * two, Cody-Waite) and exp(r) by Cephes' degree-7 polynomial; at most 1 ulp
 * from the correctly rounded value (libm's expf is within 0.5 ulp; the two
 * differ in the last bit for about 0.4% of inputs, 9% in the FMA builds
 * below), the same for every
 * layout.  Lanes outside [-87, 87] (and NaN) are computed again by expf,
 * which handles overflow, subnormal results and NaN. */
#define EXP_BLOCK 256
static inline float exp_poly(float x) {
    float xc = x > -87.0f ? x : -87.0f; /* NaN becomes -87 here; the block's fix-up redoes it */
    xc = xc < 87.0f ? xc : 87.0f;
    float kf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    int32_t ki = (int32_t)kf;                                          /* in [-126, 126] */
    float r = xc - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    y = y * (r * r) + r + 1.0f;
    uint32_t bits = (uint32_t)(ki + 127) << 23; /* 2^k, a normal float */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

/* On x86-64 with GCC the loop is also built for AVX-512 and AVX2 with FMA
 * (x86-64-v4 and -v3: 16 or 8 lanes, the polynomial's multiply-adds fused),
 * picked at load time when the CPU has it.  The fused clones round less
 * often, so their last bit can differ from the plain build's (both stay
 * within 1 ulp); on one machine every layout gives the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),
               optimize("fp-contract=fast")))
#endif
static void exp_f32(const void *a_, int64_t sa, void *o_, int64_t n) {
    const float *a = a_;
    float *o = o_;
    if (sa != 1) { /* the same values as the contiguous case, one at a time */
        for (int64_t i = 0; i < n; i++) {
            float x = a[i * sa];
            o[i] = x >= -87.0f && x <= 87.0f ? exp_poly(x) : expf(x);
        }
        return;
    }
    for (int64_t b = 0; b < n; b += EXP_BLOCK) {
        int64_t m = n - b < EXP_BLOCK ? n - b : EXP_BLOCK;
        const float *x = a + b;
        float *y = o + b;
        int outside = 0;
        for (int64_t i = 0; i < m; i++) {
            y[i] = exp_poly(x[i]);
            outside |= !(x[i] >= -87.0f && x[i] <= 87.0f);
        }
        if (outside)
            for (int64_t i = 0; i < m; i++)
                if (!(x[i] >= -87.0f && x[i] <= 87.0f)) y[i] = expf(x[i]);
    }
}
UNARY(exp_f64, double, exp(x))
UNARY(log_f32, float, logf(x))
UNARY(log_f64, double, log(x))
UNARY(sqrt_f32, float, sqrtf(x))
UNARY(sqrt_f64, double, sqrt(x))
UNARY(sin_f32, float, sinf(x))
UNARY(sin_f64, double, sin(x))
UNARY(cos_f32, float, cosf(x))
UNARY(cos_f64, double, cos(x))
UNARY(tanh_f32, float, tanhf(x))
UNARY(tanh_f64, double, tanh(x))
UNARY(abs_f32, float, fabsf(x))
UNARY(abs_f64, double, fabs(x))
UNARY(abs_i64, int64_t, x < 0 ? wrap_sub(0, x) : x)
UNARY(square_f32, float, x * x)
UNARY(square_f64, double, x * x)
UNARY(square_i64, int64_t, wrap_mul(x, x))
UNARY(sign_f32, float, (float)sign_of(x))
UNARY(sign_f64, double, sign_of(x))
UNARY(sign_i64, int64_t, (x > 0) - (x < 0))

/* ---- input checks -------------------------------------------------------- */
static bool is_int(const mg_tensor *t) { return t->dtype == MG_INT64 || t->dtype == MG_BOOL; }

/* An integer divisor of 0 would trap; Lua calls it an error, so do we. */
static int check_int_divisor(mg_tensor **in, const char *op) {
    if (!is_int(in[0]) || !is_int(in[1])) return MG_OK;
    int64_t n = mg_numel(in[1]);
    for (int64_t i = 0; i < n; i++)
        if (mg_get_flat_int(in[1], i) == 0)
            return mg_seterr(MG_EVALUE, "%s: integer division by zero", op);
    return MG_OK;
}
static int check_floordiv(mg_tensor **in) { return check_int_divisor(in, "floor_divide"); }
static int check_mod(mg_tensor **in) { return check_int_divisor(in, "mod"); }

static int check_pow(mg_tensor **in) {
    if (!is_int(in[0]) || !is_int(in[1])) return MG_OK;
    int64_t n = mg_numel(in[1]);
    for (int64_t i = 0; i < n; i++)
        if (mg_get_flat_int(in[1], i) < 0)
            return mg_seterr(MG_EVALUE, "power: integers to negative integer powers are not "
                                        "allowed (use a float tensor)");
    return MG_OK;
}

/* ---- backward ---------------------------------------------------------------
 * Each returns gradients at the output's (broadcast) shape; mg_backward sums
 * them down to the inputs' shapes.  Intermediate results are released as
 * soon as they are used. */

static int done(mg_node *n, mg_tensor **gin) {
    for (int i = 0; i < n->ninputs; i++)
        if (mg_wants(n, i) && !gin[i]) return mg_errcode() ? mg_errcode() : MG_ENOMEM;
    return MG_OK;
}

static int add_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    if (mg_wants(n, 0)) gin[0] = mg_retain(g);
    if (mg_wants(n, 1)) gin[1] = mg_retain(g);
    return MG_OK;
}
static int sub_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    if (mg_wants(n, 0)) gin[0] = mg_retain(g);
    if (mg_wants(n, 1)) gin[1] = mg_neg(g);
    return done(n, gin);
}
static int mul_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    if (mg_wants(n, 0)) gin[0] = mg_mul(g, n->inputs[1]);
    if (mg_wants(n, 1)) gin[1] = mg_mul(g, n->inputs[0]);
    return done(n, gin);
}
static int div_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *a = n->inputs[0], *b = n->inputs[1];
    if (mg_wants(n, 0)) gin[0] = mg_div(g, b);
    if (mg_wants(n, 1)) {
        mg_tensor *q = mg_take2(mg_div, mg_mul(g, a), mg_mul(b, b));
        gin[1] = q ? mg_neg(q) : NULL;
        mg_release(q);
    }
    return done(n, gin);
}
/* Whether t is a constant float holding the single value 2 (x^2). */
static bool is_const_two(const mg_tensor *t) {
    if (t->requires_grad || !mg_dtype_is_float(t->dtype)) return false;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != 1) return false;
    return mg_get_flat(t, 0) == 2;
}

static int pow_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *a = n->inputs[0], *b = n->inputs[1];
    if (mg_wants(n, 0) && is_const_two(b)) /* g * (b * a): a^(b - 1) is a itself */
        gin[0] = mg_take2(mg_mul, mg_retain(g), mg_mul(b, a));
    else if (mg_wants(n, 0)) { /* g * b * a^(b - 1) */
        mg_tensor *e = mg_take2(mg_sub, mg_retain(b), mg_scal(1, g));
        mg_tensor *d = mg_take2(mg_mul, mg_retain(b), e ? mg_pow(a, e) : NULL);
        mg_release(e);
        gin[0] = mg_take2(mg_mul, mg_retain(g), d);
    }
    if (mg_wants(n, 1)) /* g * a^b * log(a) */
        gin[1] = mg_take2(mg_mul, mg_take2(mg_mul, mg_retain(g), mg_pow(a, b)), mg_log(a));
    return done(n, gin);
}
static int mod_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    if (mg_wants(n, 0)) gin[0] = mg_retain(g);
    if (mg_wants(n, 1)) /* -g * floor(a / b) */
        gin[1] = mg_take2(mg_mul, mg_neg(g), mg_floordiv(n->inputs[0], n->inputs[1]));
    return done(n, gin);
}
static int neg_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_neg(g);
    return done(n, gin);
}
static int exp_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_take2(mg_mul, mg_retain(g), mg_node_output(n));
    return done(n, gin);
}
static int log_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_div(g, n->inputs[0]);
    return done(n, gin);
}
static int sqrt_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_take2(mg_div, mg_retain(g), mg_take2(mg_mul, mg_node_output(n), mg_scal(2, g)));
    return done(n, gin);
}
static int sin_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_take2(mg_mul, mg_retain(g), mg_cos(n->inputs[0]));
    return done(n, gin);
}
static int cos_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *s = mg_take2(mg_mul, mg_retain(g), mg_sin(n->inputs[0]));
    gin[0] = s ? mg_neg(s) : NULL;
    mg_release(s);
    return done(n, gin);
}
static int tanh_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *o = mg_node_output(n);
    mg_tensor *d = mg_take2(mg_sub, mg_scal(1, g), o ? mg_square(o) : NULL);
    mg_release(o);
    gin[0] = mg_take2(mg_mul, mg_retain(g), d);
    return done(n, gin);
}
static int abs_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_take2(mg_mul, mg_retain(g), mg_sign(n->inputs[0]));
    return done(n, gin);
}
static int square_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_take2(mg_mul, mg_retain(g), mg_take2(mg_mul, mg_retain(n->inputs[0]), mg_scal(2, g)));
    return done(n, gin);
}

/* ---- the table entries ----------------------------------------------------- */
#define S0 MG_SAVES_IN0
#define S1 MG_SAVES_IN1
#define SO MG_SAVES_OUT

const mg_opdef mg_op_add = {"add", "AddBackward", 2, MG_KIND_BINARY, MG_RES_SAME, {0},
    {add_f32, add_f64, add_i64}, NULL, add_bw, 0, NULL};
const mg_opdef mg_op_sub = {"subtract", "SubBackward", 2, MG_KIND_BINARY, MG_RES_SAME, {0},
    {sub_f32, sub_f64, sub_i64}, NULL, sub_bw, 0, NULL};
const mg_opdef mg_op_mul = {"multiply", "MulBackward", 2, MG_KIND_BINARY, MG_RES_SAME, {0},
    {mul_f32, mul_f64, mul_i64}, NULL, mul_bw, S0 | S1, NULL};
const mg_opdef mg_op_div = {"divide", "DivBackward", 2, MG_KIND_BINARY, MG_RES_FLOAT, {0},
    {div_f32, div_f64, NULL}, NULL, div_bw, S0 | S1, NULL};
const mg_opdef mg_op_pow = {"power", "PowBackward", 2, MG_KIND_BINARY, MG_RES_SAME, {0},
    {pow_f32, pow_f64, pow_i64}, NULL, pow_bw, S0 | S1, check_pow};
const mg_opdef mg_op_floordiv = {"floor_divide", NULL, 2, MG_KIND_BINARY, MG_RES_SAME, {0},
    {floordiv_f32, floordiv_f64, floordiv_i64}, NULL, NULL, 0, check_floordiv};
const mg_opdef mg_op_mod = {"mod", "RemainderBackward", 2, MG_KIND_BINARY, MG_RES_SAME, {0},
    {mod_f32, mod_f64, mod_i64}, NULL, mod_bw, S0 | S1, check_mod};

const mg_opdef mg_op_neg = {"negative", "NegBackward", 1, MG_KIND_UNARY, MG_RES_SAME,
    {neg_f32, neg_f64, neg_i64}, {0}, NULL, neg_bw, 0, NULL};
const mg_opdef mg_op_exp = {"exp", "ExpBackward", 1, MG_KIND_UNARY, MG_RES_FLOAT,
    {exp_f32, exp_f64, NULL}, {0}, NULL, exp_bw, SO, NULL};
const mg_opdef mg_op_log = {"log", "LogBackward", 1, MG_KIND_UNARY, MG_RES_FLOAT,
    {log_f32, log_f64, NULL}, {0}, NULL, log_bw, S0, NULL};
const mg_opdef mg_op_sqrt = {"sqrt", "SqrtBackward", 1, MG_KIND_UNARY, MG_RES_FLOAT,
    {sqrt_f32, sqrt_f64, NULL}, {0}, NULL, sqrt_bw, SO, NULL};
const mg_opdef mg_op_sin = {"sin", "SinBackward", 1, MG_KIND_UNARY, MG_RES_FLOAT,
    {sin_f32, sin_f64, NULL}, {0}, NULL, sin_bw, S0, NULL};
const mg_opdef mg_op_cos = {"cos", "CosBackward", 1, MG_KIND_UNARY, MG_RES_FLOAT,
    {cos_f32, cos_f64, NULL}, {0}, NULL, cos_bw, S0, NULL};
const mg_opdef mg_op_tanh = {"tanh", "TanhBackward", 1, MG_KIND_UNARY, MG_RES_FLOAT,
    {tanh_f32, tanh_f64, NULL}, {0}, NULL, tanh_bw, SO, NULL};
const mg_opdef mg_op_abs = {"abs", "AbsBackward", 1, MG_KIND_UNARY, MG_RES_SAME,
    {abs_f32, abs_f64, abs_i64}, {0}, NULL, abs_bw, S0, NULL};
const mg_opdef mg_op_square = {"square", "SquareBackward", 1, MG_KIND_UNARY, MG_RES_SAME,
    {square_f32, square_f64, square_i64}, {0}, NULL, square_bw, S0, NULL};
const mg_opdef mg_op_sign = {"sign", NULL, 1, MG_KIND_UNARY, MG_RES_SAME,
    {sign_f32, sign_f64, sign_i64}, {0}, NULL, NULL, 0, NULL};
