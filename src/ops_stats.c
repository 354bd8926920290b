/* ops_stats.c — statistics over axes: var and std (ddof), max and min (tied
 * elements share the gradient), prod (a division-free gradient), argmax and
 * argmin, cumsum and cumprod along one axis, logsumexp.
 *
 * Forward passes read the input as "lanes": a contiguous copy whose axes are
 * permuted so that the kept axes come first and the reduced (or scanned)
 * axes last; each output element then comes from one contiguous row.  Floats
 * compute in double, integers and bools in wrapping int64.
 *
 * Backward passes are written with moongrad's own differentiable ops, so
 * create_graph records them; two internal ops (shift, and linrec, a linear
 * recurrence) let the gradients of prod and cumprod avoid dividing by x.
 * The one constant they need (which elements tie for the max) is computed
 * here in C. */
#include "internal.h"

#include <math.h>
#include <string.h>

static mg_params params0(void) {
    mg_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* ---- axes ------------------------------------------------------------------ */
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

static bool reduces(uint32_t axes, int i) { return (axes >> i) & 1u; }

/* Number of elements each output element is reduced from (saturates at
 * INT64_MAX where a kept axis of size 0 lets the rest be huge). */
static int64_t reduced_count(const mg_tensor *a, uint32_t axes) {
    int64_t c = 1;
    for (int i = 0; i < a->ndim; i++) {
        if (!reduces(axes, i)) continue;
        int64_t d = a->shape[i];
        if (d == 0) return 0;
        c = c > INT64_MAX / d ? INT64_MAX : c * d;
    }
    return c;
}

static void reduced_shape(const mg_tensor *a, uint32_t axes, bool keepdims, int *ndim,
                          int64_t *shape) {
    int n = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (!reduces(axes, i)) shape[n++] = a->shape[i];
        else if (keepdims) shape[n++] = 1;
    }
    *ndim = n;
}

/* max, min, argmax and argmin of nothing are undefined. */
static int check_nonempty(const char *op, const mg_tensor *a, uint32_t axes) {
    char buf[256];
    for (int i = 0; i < a->ndim; i++)
        if (reduces(axes, i) && a->shape[i] == 0)
            return mg_seterr(MG_EVALUE, "%s: cannot reduce over an empty axis (shape %s); %s of "
                             "no elements is undefined", op,
                             mg_shape_str(a->ndim, a->shape, buf, sizeof buf), op);
    return MG_OK;
}

/* ---- small helpers for backward (NULL-safe, they consume their arguments) -- */
/* r (a reduction of a over axes, with or without keepdims) reshaped to a's
 * shape with 1 on the reduced axes, so that it broadcasts against a. */
static mg_tensor *unreduce(mg_tensor *r, const mg_tensor *a, uint32_t axes) {
    int64_t k[MG_MAXDIM];
    for (int i = 0; i < a->ndim; i++) k[i] = reduces(axes, i) ? 1 : a->shape[i];
    mg_tensor *out = r ? mg_reshape(r, a->ndim, k) : NULL;
    mg_release(r);
    return out;
}

/* ---- lanes ------------------------------------------------------------------- */
typedef struct {
    int ndim;
    int nkept;
    int perm[MG_MAXDIM]; /* the kept axes in order, then the reduced ones */
} lanes_t;

static void lane_order(const mg_tensor *a, uint32_t axes, lanes_t *L) {
    int n = 0;
    for (int i = 0; i < a->ndim; i++)
        if (!reduces(axes, i)) L->perm[n++] = i;
    L->nkept = n;
    for (int i = 0; i < a->ndim; i++)
        if (reduces(axes, i)) L->perm[n++] = i;
    L->ndim = a->ndim;
}

static mg_dtype lane_dtype(mg_dtype dt) { return mg_dtype_is_float(dt) ? MG_FLOAT64 : MG_INT64; }

/* A contiguous copy of a in dtype dt with its axes in lane order. */
static mg_tensor *to_lanes(mg_tensor *a, const lanes_t *L, mg_dtype dt) {
    int64_t shape[MG_MAXDIM], st[MG_MAXDIM];
    for (int i = 0; i < L->ndim; i++) {
        shape[i] = a->shape[L->perm[i]];
        st[i] = a->stride[L->perm[i]];
    }
    mg_tensor *v = mg_view(a, L->ndim, shape, st, a->offset);
    mg_tensor *c = v ? mg_copy_of(v, dt) : NULL;
    mg_release(v);
    return c;
}

/* The inverse of to_lanes: buf (contiguous, lane order) copied back into the
 * original axis order, in dtype dt. */
static mg_tensor *from_lanes(mg_tensor *buf, const lanes_t *L, mg_dtype dt) {
    int64_t shape[MG_MAXDIM], st[MG_MAXDIM];
    for (int i = 0; i < L->ndim; i++) {
        shape[L->perm[i]] = buf->shape[i];
        st[L->perm[i]] = buf->stride[i];
    }
    mg_tensor *v = mg_view(buf, L->ndim, shape, st, buf->offset);
    mg_tensor *c = v ? mg_copy_of(v, dt) : NULL;
    mg_release(v);
    return c;
}

/* Stores element k of a fresh contiguous tensor: v for floats, iv otherwise. */
static void store(mg_tensor *t, int64_t k, double v, int64_t iv) {
    void *d = mg_data_ptr(t);
    switch (t->dtype) {
    case MG_FLOAT32: ((float *)d)[k] = (float)v; break;
    case MG_FLOAT64: ((double *)d)[k] = v; break;
    case MG_INT64: ((int64_t *)d)[k] = iv; break;
    default: ((bool *)d)[k] = iv != 0; break;
    }
}

/* A reduction in progress: the lanes of the input and the output to fill,
 * one element per lane of length len. */
typedef struct {
    mg_tensor *buf, *out;
    int64_t nlanes, len;
    bool fl; /* buf holds doubles (else int64) */
} reduction;

static int red_begin(mg_tensor *a, const mg_params *p, mg_dtype out_dt, reduction *r) {
    lanes_t L;
    int nd;
    int64_t shape[MG_MAXDIM];
    lane_order(a, p->axes, &L);
    reduced_shape(a, p->axes, p->keepdims, &nd, shape);
    r->fl = mg_dtype_is_float(a->dtype);
    r->out = mg_empty(nd, shape, out_dt);
    r->buf = r->out ? to_lanes(a, &L, lane_dtype(a->dtype)) : NULL;
    if (!r->buf) {
        mg_release(r->out);
        return MG_ENOMEM;
    }
    r->nlanes = mg_numel(r->out);
    r->len = reduced_count(a, p->axes);
    return MG_OK;
}

static const double *frow(const reduction *r, int64_t k) {
    return (const double *)mg_data_ptr(r->buf) + k * r->len;
}
static const int64_t *irow(const reduction *r, int64_t k) {
    return (const int64_t *)mg_data_ptr(r->buf) + k * r->len;
}

static mg_tensor *red_end(reduction *r) {
    mg_release(r->buf);
    return r->out;
}

/* ---- per-lane kernels ---------------------------------------------------------
 * Rows of n >= 1 elements unless noted.  NaN wins max and min (as NumPy). */
static double extreme_f(const double *x, int64_t n, bool mx) {
    double m = x[0];
    for (int64_t i = 0; i < n; i++) {
        if (isnan(x[i])) return x[i];
        if (mx ? x[i] > m : x[i] < m) m = x[i];
    }
    return m;
}
static int64_t extreme_i(const int64_t *x, int64_t n, bool mx) {
    int64_t m = x[0];
    for (int64_t i = 1; i < n; i++)
        if (mx ? x[i] > m : x[i] < m) m = x[i];
    return m;
}
/* The first position of the extreme (of the first NaN, if any). */
static int64_t arg_f(const double *x, int64_t n, bool mx) {
    int64_t b = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(x[i])) return i;
        if (mx ? x[i] > x[b] : x[i] < x[b]) b = i;
    }
    return b;
}
static int64_t arg_i(const int64_t *x, int64_t n, bool mx) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (mx ? x[i] > x[b] : x[i] < x[b]) b = i;
    return b;
}
/* Variance (or its square root) with n - ddof in the denominator; NaN for n = 0. */
static double moment(const double *x, int64_t n, double ddof, bool sd) {
    if (n == 0) return NAN;
    double s = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    double mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    double v = ss / ((double)n - ddof);
    return sd ? sqrt(v) : v;
}
/* log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m the max; -inf for n = 0. */
static double lse(const double *x, int64_t n) {
    if (n == 0) return -INFINITY;
    double m = extreme_f(x, n, true);
    if (isnan(m) || isinf(m)) return m;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += exp(x[i] - m);
    return m + log(s);
}

/* ---- forward functions ------------------------------------------------------- */
static mg_tensor *extreme_fw(mg_tensor *a, const mg_params *p, bool mx) {
    reduction r;
    if (red_begin(a, p, a->dtype, &r)) return NULL;
    for (int64_t k = 0; k < r.nlanes; k++) {
        if (r.fl) store(r.out, k, extreme_f(frow(&r, k), r.len, mx), 0);
        else store(r.out, k, 0, extreme_i(irow(&r, k), r.len, mx));
    }
    return red_end(&r);
}
static mg_tensor *max_fw(mg_tensor **in, const mg_params *p) { return extreme_fw(in[0], p, true); }
static mg_tensor *min_fw(mg_tensor **in, const mg_params *p) { return extreme_fw(in[0], p, false); }

static mg_tensor *arg_fw(mg_tensor *a, const mg_params *p, bool mx) {
    reduction r;
    if (red_begin(a, p, MG_INT64, &r)) return NULL;
    for (int64_t k = 0; k < r.nlanes; k++)
        store(r.out, k, 0, r.fl ? arg_f(frow(&r, k), r.len, mx) : arg_i(irow(&r, k), r.len, mx));
    return red_end(&r);
}
static mg_tensor *argmax_fw(mg_tensor **in, const mg_params *p) { return arg_fw(in[0], p, true); }
static mg_tensor *argmin_fw(mg_tensor **in, const mg_params *p) { return arg_fw(in[0], p, false); }

/* var and std: float results, integers computing in the default float dtype. */
static mg_tensor *moment_fw(mg_tensor *a, const mg_params *p, bool sd) {
    mg_tensor *f = mg_dtype_is_float(a->dtype) ? mg_retain(a) : mg_copy_of(a, MG_FLOAT64);
    reduction r;
    mg_dtype dt = mg_dtype_is_float(a->dtype) ? a->dtype : mg_default_float();
    int rc = f ? red_begin(f, p, dt, &r) : MG_ENOMEM;
    mg_release(f);
    if (rc) return NULL;
    for (int64_t k = 0; k < r.nlanes; k++) store(r.out, k, moment(frow(&r, k), r.len, p->dval[0], sd), 0);
    return red_end(&r);
}
static mg_tensor *var_fw(mg_tensor **in, const mg_params *p) { return moment_fw(in[0], p, false); }
static mg_tensor *std_fw(mg_tensor **in, const mg_params *p) { return moment_fw(in[0], p, true); }

static mg_tensor *logsumexp_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *a = in[0];
    mg_tensor *f = mg_dtype_is_float(a->dtype) ? mg_retain(a) : mg_copy_of(a, MG_FLOAT64);
    reduction r;
    mg_dtype dt = mg_dtype_is_float(a->dtype) ? a->dtype : mg_default_float();
    int rc = f ? red_begin(f, p, dt, &r) : MG_ENOMEM;
    mg_release(f);
    if (rc) return NULL;
    for (int64_t k = 0; k < r.nlanes; k++) store(r.out, k, lse(frow(&r, k), r.len), 0);
    return red_end(&r);
}

/* The product; 1 for no elements.  Integers wrap (int64), bools count as int64. */
static mg_tensor *prod_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *a = in[0];
    reduction r;
    if (red_begin(a, p, mg_dtype_is_float(a->dtype) ? a->dtype : MG_INT64, &r)) return NULL;
    for (int64_t k = 0; k < r.nlanes; k++) {
        double f = 1;
        uint64_t u = 1;
        for (int64_t i = 0; i < r.len; i++) {
            if (r.fl) f *= frow(&r, k)[i];
            else u *= (uint64_t)irow(&r, k)[i];
        }
        store(r.out, k, f, (int64_t)u);
    }
    return red_end(&r);
}

/* ---- scans along one axis (p->axis): cumsum, cumprod, shift ------------------ */
typedef enum { SCAN_SUM, SCAN_PROD, SCAN_SHIFT } scan_kind;

/* In place over a row of n doubles, in index order or reversed. */
static void scan_f(double *x, int64_t n, scan_kind kind, bool rev, double fill) {
    if (kind == SCAN_SHIFT) { /* rev: x[i] = x[i + 1], else x[i] = x[i - 1]; fill the gap */
        if (n == 0) return;
        if (rev) memmove(x, x + 1, (size_t)(n - 1) * sizeof *x);
        else memmove(x + 1, x, (size_t)(n - 1) * sizeof *x);
        x[rev ? n - 1 : 0] = fill;
        return;
    }
    double acc = kind == SCAN_PROD ? 1 : 0;
    for (int64_t j = 0; j < n; j++) {
        int64_t i = rev ? n - 1 - j : j;
        acc = kind == SCAN_PROD ? acc * x[i] : acc + x[i];
        x[i] = acc;
    }
}
static void scan_i(int64_t *x, int64_t n, scan_kind kind, bool rev, double fill) {
    if (kind == SCAN_SHIFT) {
        if (n == 0) return;
        if (rev) memmove(x, x + 1, (size_t)(n - 1) * sizeof *x);
        else memmove(x + 1, x, (size_t)(n - 1) * sizeof *x);
        x[rev ? n - 1 : 0] = (int64_t)fill;
        return;
    }
    uint64_t acc = kind == SCAN_PROD ? 1 : 0;
    for (int64_t j = 0; j < n; j++) {
        int64_t i = rev ? n - 1 - j : j;
        acc = kind == SCAN_PROD ? acc * (uint64_t)x[i] : acc + (uint64_t)x[i];
        x[i] = (int64_t)acc;
    }
}

/* p: axis, ival[0] = reversed (scan from the end), dval[0] = shift's fill. */
static mg_tensor *scan_fw(mg_tensor *a, const mg_params *p, scan_kind kind) {
    lanes_t L;
    lane_order(a, 1u << p->axis, &L);
    bool fl = mg_dtype_is_float(a->dtype);
    mg_tensor *buf = to_lanes(a, &L, lane_dtype(a->dtype));
    if (!buf) return NULL;
    int64_t len = a->shape[p->axis], total = mg_numel(a);
    for (int64_t off = 0; len > 0 && off < total; off += len) {
        if (fl) scan_f((double *)mg_data_ptr(buf) + off, len, kind, p->ival[0], p->dval[0]);
        else scan_i((int64_t *)mg_data_ptr(buf) + off, len, kind, p->ival[0], p->dval[0]);
    }
    mg_dtype dt = fl || kind == SCAN_SHIFT ? a->dtype : MG_INT64;
    mg_tensor *out = from_lanes(buf, &L, dt);
    mg_release(buf);
    return out;
}
static mg_tensor *cumsum_fw(mg_tensor **in, const mg_params *p) { return scan_fw(in[0], p, SCAN_SUM); }
static mg_tensor *cumprod_fw(mg_tensor **in, const mg_params *p) { return scan_fw(in[0], p, SCAN_PROD); }
static mg_tensor *shift_fw(mg_tensor **in, const mg_params *p) { return scan_fw(in[0], p, SCAN_SHIFT); }

/* Internal, for cumprod's backward: the linear recurrence along the axis
 *   y[i] = b[i] + a[i] * y[i - 1]   (y[-1] = 0),  or reversed (ival[0]):
 *   y[i] = b[i] + a[i] * y[i + 1]   (y[n] = 0).
 * a and b are floats of one shape. */
static mg_tensor *linrec_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *a = in[0], *b = in[1];
    char sa[256], sb[256];
    if (!mg_same_shape(a, b) || !mg_dtype_is_float(a->dtype) || !mg_dtype_is_float(b->dtype)) {
        mg_seterr(MG_ESHAPE, "linrec: needs two float tensors of one shape, got %s %s and %s %s",
                  mg_dtype_name(a->dtype), mg_shape_str(a->ndim, a->shape, sa, sizeof sa),
                  mg_dtype_name(b->dtype), mg_shape_str(b->ndim, b->shape, sb, sizeof sb));
        return NULL;
    }
    lanes_t L;
    lane_order(a, 1u << p->axis, &L);
    mg_tensor *la = to_lanes(a, &L, MG_FLOAT64);
    mg_tensor *lb = la ? to_lanes(b, &L, MG_FLOAT64) : NULL;
    mg_tensor *out = NULL;
    if (lb) {
        const double *x = mg_data_ptr(la);
        double *y = mg_data_ptr(lb);
        int64_t len = a->shape[p->axis], total = mg_numel(a);
        bool rev = p->ival[0];
        for (int64_t off = 0; len > 0 && off < total; off += len) {
            double acc = 0;
            for (int64_t j = 0; j < len; j++) {
                int64_t i = off + (rev ? len - 1 - j : j);
                acc = y[i] + x[i] * acc;
                y[i] = acc;
            }
        }
        out = from_lanes(lb, &L, mg_promote(a->dtype, b->dtype));
    }
    mg_release(la);
    mg_release(lb);
    return out;
}

/* ---- constants for backward ---------------------------------------------------- */
/* Weights that share the gradient of max (mx) or min among the tied
 * elements of each lane: 1/count where an element equals the extreme (NaN
 * counts as equal to NaN), 0 elsewhere.  A constant of a's shape and dtype. */
static mg_tensor *tie_weights(mg_tensor *a, uint32_t axes, bool mx) {
    lanes_t L;
    lane_order(a, axes, &L);
    mg_tensor *buf = to_lanes(a, &L, MG_FLOAT64);
    if (!buf) return NULL;
    int64_t len = reduced_count(a, axes), total = mg_numel(a);
    for (int64_t off = 0; len > 0 && off < total; off += len) {
        double *x = (double *)mg_data_ptr(buf) + off;
        double m = extreme_f(x, len, mx);
        int64_t count = 0;
        for (int64_t i = 0; i < len; i++) {
            bool tie = isnan(m) ? isnan(x[i]) : x[i] == m;
            x[i] = tie;
            count += tie;
        }
        for (int64_t i = 0; i < len; i++) x[i] /= (double)count;
    }
    mg_tensor *w = from_lanes(buf, &L, a->dtype);
    mg_release(buf);
    return w;
}

/* ---- the op table entries -------------------------------------------------------- */
static int var_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static int std_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static int max_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static int prod_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static int logsumexp_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static int cumsum_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static int cumprod_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static int shift_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static int linrec_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);

#define S0 MG_SAVES_IN0
#define SO MG_SAVES_OUT
static const mg_opdef op_var = {"var", "VarBackward", 1, MG_KIND_OTHER, MG_RES_FLOAT, {0}, {0},
    var_fw, var_bw, S0, NULL};
static const mg_opdef op_std = {"std", "StdBackward", 1, MG_KIND_OTHER, MG_RES_FLOAT, {0}, {0},
    std_fw, std_bw, S0 | SO, NULL};
static const mg_opdef op_max = {"max", "MaxBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    max_fw, max_bw, S0, NULL};
static const mg_opdef op_min = {"min", "MinBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    min_fw, max_bw, S0, NULL};
static const mg_opdef op_argmax = {"argmax", NULL, 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    argmax_fw, NULL, 0, NULL};
static const mg_opdef op_argmin = {"argmin", NULL, 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    argmin_fw, NULL, 0, NULL};
static const mg_opdef op_prod = {"prod", "ProdBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    prod_fw, prod_bw, S0, NULL};
static const mg_opdef op_logsumexp = {"logsumexp", "LogsumexpBackward", 1, MG_KIND_OTHER,
    MG_RES_FLOAT, {0}, {0}, logsumexp_fw, logsumexp_bw, S0 | SO, NULL};
static const mg_opdef op_cumsum = {"cumsum", "CumsumBackward", 1, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, cumsum_fw, cumsum_bw, 0, NULL};
static const mg_opdef op_cumprod = {"cumprod", "CumprodBackward", 1, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, cumprod_fw, cumprod_bw, S0, NULL};
/* Internal: moves every element one place along the axis (prod's and cumprod's backward). */
static const mg_opdef op_shift = {"shift", "ShiftBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0},
    {0}, shift_fw, shift_bw, 0, NULL};
/* Internal: a linear recurrence along the axis (for cumprod's backward). */
static const mg_opdef op_linrec = {"linrec", "LinrecBackward", 2, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, linrec_fw, linrec_bw, S0 | SO, NULL};

/* ---- entry points ------------------------------------------------------------------ */
static int reduce_params(const mg_opdef *op, mg_tensor *a, uint32_t axes, bool keepdims,
                         mg_params *p) {
    *p = params0();
    if (check_axes(op->name, a, &axes)) return MG_EINDEX;
    p->axes = axes;
    p->keepdims = keepdims;
    return MG_OK;
}

static mg_tensor *reduce(const mg_opdef *op, mg_tensor *a, uint32_t axes, bool keepdims,
                         bool nonempty) {
    mg_params p;
    if (!a) return mg_apply(op, &a, NULL); /* reports the missing input */
    if (reduce_params(op, a, axes, keepdims, &p)) return NULL;
    if (nonempty && check_nonempty(op->name, a, p.axes)) return NULL;
    return mg_apply(op, &a, &p);
}

static mg_tensor *moments(const mg_opdef *op, mg_tensor *a, uint32_t axes, bool keepdims,
                          double ddof) {
    mg_params p;
    if (!a) return mg_apply(op, &a, NULL);
    if (reduce_params(op, a, axes, keepdims, &p)) return NULL;
    int64_t n = reduced_count(a, p.axes);
    if (!(ddof >= 0) || isinf(ddof)) {
        mg_seterr(MG_EVALUE, "%s: ddof must be a finite number >= 0, got %g", op->name, ddof);
        return NULL;
    }
    if (n > 0 && ddof >= (double)n) {
        mg_seterr(MG_EVALUE, "%s: ddof (%g) must be less than the number of elements reduced "
                  "(%lld)", op->name, ddof, (long long)n);
        return NULL;
    }
    p.dval[0] = ddof;
    return mg_apply(op, &a, &p);
}

static mg_tensor *argreduce(const mg_opdef *op, mg_tensor *a, uint32_t axes, bool keepdims) {
    mg_params p;
    if (!a) return mg_apply(op, &a, NULL);
    if (reduce_params(op, a, axes, keepdims, &p)) return NULL;
    int count = 0;
    for (int i = 0; i < a->ndim; i++) count += reduces(p.axes, i);
    if (count > 1 && count < a->ndim) {
        mg_seterr(MG_EVALUE, "%s: takes one axis, or none for the flattened tensor; got %d of "
                  "%d axes", op->name, count, a->ndim);
        return NULL;
    }
    if (check_nonempty(op->name, a, p.axes)) return NULL;
    return mg_apply(op, &a, &p);
}

mg_tensor *mg_var(mg_tensor *a, uint32_t axes, bool keepdims, double ddof) {
    return moments(&op_var, a, axes, keepdims, ddof);
}
mg_tensor *mg_std(mg_tensor *a, uint32_t axes, bool keepdims, double ddof) {
    return moments(&op_std, a, axes, keepdims, ddof);
}
mg_tensor *mg_max(mg_tensor *a, uint32_t axes, bool keepdims) {
    return reduce(&op_max, a, axes, keepdims, true);
}
mg_tensor *mg_min(mg_tensor *a, uint32_t axes, bool keepdims) {
    return reduce(&op_min, a, axes, keepdims, true);
}
mg_tensor *mg_prod(mg_tensor *a, uint32_t axes, bool keepdims) {
    return reduce(&op_prod, a, axes, keepdims, false);
}
mg_tensor *mg_logsumexp(mg_tensor *a, uint32_t axes, bool keepdims) {
    return reduce(&op_logsumexp, a, axes, keepdims, false);
}
mg_tensor *mg_argmax(mg_tensor *a, uint32_t axes, bool keepdims) {
    return argreduce(&op_argmax, a, axes, keepdims);
}
mg_tensor *mg_argmin(mg_tensor *a, uint32_t axes, bool keepdims) {
    return argreduce(&op_argmin, a, axes, keepdims);
}

/* A scan along axis (checked by the caller); NULL-safe for backward. */
static mg_tensor *scan(const mg_opdef *op, mg_tensor *a, int axis, bool rev, double fill) {
    if (!a) return NULL;
    mg_params p = params0();
    p.axis = axis;
    p.ival[0] = rev;
    p.dval[0] = fill;
    return mg_apply(op, &a, &p);
}
/* The same, consuming a. */
static mg_tensor *scan_take(const mg_opdef *op, mg_tensor *a, int axis, bool rev, double fill) {
    mg_tensor *r = scan(op, a, axis, rev, fill);
    mg_release(a);
    return r;
}

static mg_tensor *scan_public(const mg_opdef *op, mg_tensor *a, int axis) {
    if (!a) return mg_apply(op, &a, NULL);
    if (axis == MG_NOAXIS) { /* over the flattened tensor, as NumPy */
        int64_t n = mg_numel(a);
        mg_tensor *f = mg_reshape(a, 1, &n);
        mg_tensor *r = scan(op, f, 0, false, 0);
        mg_release(f);
        return r;
    }
    if (axis < 0 || axis >= a->ndim) {
        mg_seterr(MG_EINDEX, "%s: axis %d is out of range for a tensor with %d axes", op->name,
                  axis, a->ndim);
        return NULL;
    }
    return scan(op, a, axis, false, 0);
}

mg_tensor *mg_cumsum(mg_tensor *a, int axis) { return scan_public(&op_cumsum, a, axis); }
mg_tensor *mg_cumprod(mg_tensor *a, int axis) { return scan_public(&op_cumprod, a, axis); }

/* ---- backward functions ------------------------------------------------------------ */
/* a minus its mean over the node's axes. */
static mg_tensor *centered(mg_node *n) {
    mg_tensor *a = n->inputs[0];
    return mg_take2(mg_sub, mg_retain(a), mg_mean(a, n->p.axes, true));
}

/* d var / dx = 2 (x - mean) / (N - ddof) */
static int var_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *a = n->inputs[0];
    double d = (double)reduced_count(a, n->p.axes) - n->p.dval[0];
    mg_tensor *s = mg_take2(mg_mul, unreduce(mg_retain(g), a, n->p.axes), mg_scalar(2 / d, g->dtype));
    gin[0] = mg_take2(mg_mul, s, centered(n));
    return gin[0] ? MG_OK : mg_errcode();
}

/* d std / dx = (x - mean) / ((N - ddof) std) */
static int std_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *a = n->inputs[0];
    double d = (double)reduced_count(a, n->p.axes) - n->p.dval[0];
    mg_tensor *den = mg_take2(mg_mul, mg_node_output(n), mg_scalar(d, g->dtype));
    mg_tensor *q = mg_take2(mg_div, mg_retain(g), den);
    gin[0] = mg_take2(mg_mul, unreduce(q, a, n->p.axes), centered(n));
    return gin[0] ? MG_OK : mg_errcode();
}

/* The gradient goes to the elements equal to the max (min), split evenly
 * among ties; the weights are constants, so the second derivative is 0. */
static int max_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *a = n->inputs[0];
    mg_tensor *w = tie_weights(a, n->p.axes, n->op == &op_max);
    gin[0] = mg_take2(mg_mul, unreduce(mg_retain(g), a, n->p.axes), w);
    return gin[0] ? MG_OK : mg_errcode();
}

/* prod over each lane of everything but the element itself, without
 * dividing by it: (product of the elements before it) * (product of those
 * after it), two exclusive cumprods (a shifted cumprod each way).  With one
 * zero in a lane only that element gets a non-zero value; with two, none. */
static mg_tensor *prod_others(mg_tensor *a, uint32_t axes) {
    if (!axes) return mg_scalar(1, a->dtype);
    lanes_t L;
    int inv[MG_MAXDIM], nk;
    int64_t shape[MG_MAXDIM], pshape[MG_MAXDIM];
    lane_order(a, axes, &L);
    nk = L.nkept;
    for (int i = 0; i < a->ndim; i++) {
        pshape[i] = a->shape[L.perm[i]];
        inv[L.perm[i]] = i;
    }
    for (int i = 0; i < nk; i++) shape[i] = pshape[i];
    shape[nk] = reduced_count(a, axes);
    mg_tensor *pa = mg_permute(a, L.perm);
    mg_tensor *r = pa ? mg_reshape(pa, nk + 1, shape) : NULL;
    mg_release(pa);
    mg_tensor *before = scan_take(&op_cumprod, scan(&op_shift, r, nk, false, 1), nk, false, 0);
    mg_tensor *after = scan_take(&op_cumprod, scan(&op_shift, r, nk, true, 1), nk, true, 0);
    mg_release(r);
    mg_tensor *o = mg_take2(mg_mul, before, after);
    mg_tensor *po = o ? mg_reshape(o, a->ndim, pshape) : NULL;
    mg_release(o);
    mg_tensor *res = po ? mg_permute(po, inv) : NULL;
    mg_release(po);
    return res;
}

static int prod_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *a = n->inputs[0];
    gin[0] = mg_take2(mg_mul, unreduce(mg_retain(g), a, n->p.axes), prod_others(a, n->p.axes));
    return gin[0] ? MG_OK : mg_errcode();
}

/* d logsumexp / dx = exp(x - logsumexp): the softmax over the axes. */
static int logsumexp_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *a = n->inputs[0];
    mg_tensor *o = unreduce(mg_node_output(n), a, n->p.axes);
    mg_tensor *e = mg_take1(mg_exp, mg_take2(mg_sub, mg_retain(a), o));
    gin[0] = mg_take2(mg_mul, unreduce(mg_retain(g), a, n->p.axes), e);
    return gin[0] ? MG_OK : mg_errcode();
}

/* The gradient of a scan is the scan of the gradient the other way. */
static int cumsum_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = scan(&op_cumsum, g, n->p.axis, !n->p.ival[0], 0);
    return gin[0] ? MG_OK : mg_errcode();
}
static int shift_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = scan(&op_shift, g, n->p.axis, !n->p.ival[0], 0);
    return gin[0] ? MG_OK : mg_errcode();
}

/* linrec(a, b) along the axis, optionally reversed; NULL-safe, consumes a and b. */
static mg_tensor *linrec_take(mg_tensor *a, mg_tensor *b, int axis, bool rev) {
    mg_tensor *r = NULL;
    if (a && b) {
        mg_params p = params0();
        p.axis = axis;
        p.ival[0] = rev;
        mg_tensor *in[2] = {a, b};
        r = mg_apply(&op_linrec, in, &p);
    }
    mg_release(a);
    mg_release(b);
    return r;
}

/* cumprod (in scan order: out[j] = x[0] ... x[j]) has
 *   dx[i] = sum over j >= i of g[j] * prod(x[k], k <= j, k != i) = P[i] * R[i]
 * with P[i] = prod(x[k], k < i), an exclusive cumprod (cumprod of x shifted
 * one place, 1 coming in), and R[i] = sum over j >= i of g[j] * prod(x[k],
 * i < k <= j), which is the recurrence R[i] = g[i] + x[i + 1] * R[i + 1]
 * run from the end (linrec).  Nothing divides by x, so zeros are exact: with
 * one zero at z, dx[i] = 0 for i > z (P[i] holds x[z]); with more, every
 * element past the first zero gets 0, and so on. */
static int cumprod_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *x = n->inputs[0];
    int ax = n->p.axis;
    bool rev = n->p.ival[0];
    mg_tensor *p = scan_take(&op_cumprod, scan(&op_shift, x, ax, rev, 1), ax, rev, 0);
    mg_tensor *r = linrec_take(scan(&op_shift, x, ax, !rev, 0), mg_retain(g), ax, !rev);
    gin[0] = mg_take2(mg_mul, p, r);
    return gin[0] ? MG_OK : mg_errcode();
}

/* linrec forward, y[i] = b[i] + a[i] y[i - 1], with output gradient h:
 *   db[j] = Z[j] = h[j] + a[j + 1] Z[j + 1]   (the recurrence reversed),
 *   da[m] = y[m - 1] * Z[m];
 * the reversed recurrence mirrors it. */
static int linrec_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *a = n->inputs[0];
    int ax = n->p.axis;
    bool rev = n->p.ival[0];
    mg_tensor *z = linrec_take(scan(&op_shift, a, ax, !rev, 0), mg_retain(g), ax, !rev);
    if (!z) return mg_errcode();
    if (n->inputs[0]->requires_grad) {
        mg_tensor *y = mg_node_output(n);
        gin[0] = mg_take2(mg_mul, scan_take(&op_shift, y, ax, rev, 0), mg_retain(z));
        if (!gin[0]) {
            mg_release(z);
            return mg_errcode();
        }
    }
    if (n->inputs[1]->requires_grad) gin[1] = mg_retain(z);
    mg_release(z);
    return MG_OK;
}
