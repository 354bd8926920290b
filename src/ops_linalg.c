/* ops_linalg.c — linear algebra beyond matmul: diagonal (a differentiable
 * view, with its scatter for backward) and trace; NumPy's dot, outer and
 * multi_dot (multi_matmul, ordered by the matrix-chain dynamic programme);
 * vector and matrix norms.  einsum lives in einsum.c. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mg_params params0(void) {
    mg_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static mg_tensor *missing(const char *fn) {
    mg_seterr(MG_EVALUE, "%s: a tensor argument is missing", fn);
    return NULL;
}

/* ---- diagonal ----------------------------------------------------------------
 * params: axis = axis1, ival[0] = axis2, ival[1] = offset; the scatter also
 * keeps the input's shape in ndim/shape. */

/* Length of the diagonal a[i, i + k] of an n1 x n2 block. */
static int64_t diag_len(int64_t n1, int64_t n2, int64_t k) {
    if (k >= 0) return k >= n2 ? 0 : (n1 < n2 - k ? n1 : n2 - k);
    if (k <= -n1) return 0;
    return n1 + k < n2 ? n1 + k : n2;
}

/* The view of t's diagonal (nothing recorded). */
static mg_tensor *diag_view(mg_tensor *t, int a1, int a2, int64_t k) {
    int64_t shape[MG_MAXDIM], st[MG_MAXDIM];
    int nd = 0;
    for (int i = 0; i < t->ndim; i++)
        if (i != a1 && i != a2) {
            shape[nd] = t->shape[i];
            st[nd++] = t->stride[i];
        }
    int64_t len = diag_len(t->shape[a1], t->shape[a2], k);
    int64_t off = t->offset;
    if (len > 0) off += k >= 0 ? k * t->stride[a2] : -k * t->stride[a1];
    shape[nd] = len;
    st[nd++] = t->stride[a1] + t->stride[a2];
    return mg_view(t, nd, shape, st, off);
}

static mg_tensor *diagonal_fw(mg_tensor **in, const mg_params *p) {
    return diag_view(in[0], p->axis, (int)p->ival[0], p->ival[1]);
}

/* zeros of the input's shape with g written along the diagonal */
static mg_tensor *diag_scatter_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *z = mg_zeros(p->ndim, p->shape, in[0]->dtype);
    mg_tensor *v = z ? diag_view(z, p->axis, (int)p->ival[0], p->ival[1]) : NULL;
    int rc = v ? mg_copy_strided(v, in[0]) : MG_ENOMEM;
    mg_release(v);
    if (rc) {
        mg_release(z);
        return NULL;
    }
    return z;
}

static const mg_opdef op_diagonal, op_diag_scatter;

static int diagonal_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_params p = n->p;
    p.ndim = n->inputs[0]->ndim;
    memcpy(p.shape, n->inputs[0]->shape, sizeof p.shape);
    gin[0] = mg_apply(&op_diag_scatter, &g, &p);
    return gin[0] ? MG_OK : mg_errcode();
}
static int diag_scatter_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_apply(&op_diagonal, &g, &n->p);
    return gin[0] ? MG_OK : mg_errcode();
}

static const mg_opdef op_diagonal = {"diagonal", "DiagonalBackward", 1, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, diagonal_fw, diagonal_bw, 0, NULL};
static const mg_opdef op_diag_scatter = {"diagonal_scatter", "DiagonalScatterBackward", 1,
    MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, diag_scatter_fw, diag_scatter_bw, 0, NULL};

static int check_axis_pair(const char *fn, const mg_tensor *a, int axis1, int axis2) {
    char s[256];
    if (a->ndim < 2)
        return mg_seterr(MG_ESHAPE, "%s: needs a tensor with at least 2 axes, got shape %s", fn,
                         mg_shape_str(a->ndim, a->shape, s, sizeof s));
    if (axis1 < 0 || axis1 >= a->ndim || axis2 < 0 || axis2 >= a->ndim)
        return mg_seterr(MG_EINDEX, "%s: axes %d and %d are out of range for a tensor with %d axes",
                         fn, axis1, axis2, a->ndim);
    if (axis1 == axis2)
        return mg_seterr(MG_EVALUE, "%s: axis1 and axis2 must differ, both are %d", fn, axis1);
    return MG_OK;
}

mg_tensor *mg_diagonal(mg_tensor *a, int64_t offset, int axis1, int axis2) {
    if (!a) return missing("diagonal");
    if (check_axis_pair("diagonal", a, axis1, axis2)) return NULL;
    mg_params p = params0();
    p.axis = axis1;
    p.ival[0] = axis2;
    p.ival[1] = offset;
    return mg_apply(&op_diagonal, &a, &p);
}

mg_tensor *mg_trace(mg_tensor *a, int64_t offset, int axis1, int axis2) {
    if (!a) return missing("trace");
    if (check_axis_pair("trace", a, axis1, axis2)) return NULL;
    mg_tensor *d = mg_diagonal(a, offset, axis1, axis2);
    mg_tensor *r = d ? mg_sum(d, 1u << (d->ndim - 1), false) : NULL;
    mg_release(d);
    return r;
}

/* ---- dot and outer ------------------------------------------------------------ */

/* N-d by M-d (N >= 2, M >= 3): a as {P, K}, b with its axis -2 moved first
 * as {K, Q}; the product reshaped to a.shape[:-1] + b.shape[:-2] + b.shape[-1:]. */
static mg_tensor *dot_general(mg_tensor *a, mg_tensor *b) {
    int na = a->ndim, nb = b->ndim, perm[MG_MAXDIM], nd = 0;
    int64_t k = a->shape[na - 1], p = 1, q = 1, shape[MG_MAXDIM];
    if (na - 1 + nb - 1 > MG_MAXDIM) {
        mg_seterr(MG_ESHAPE, "dot: the result would have %d axes (at most %d)", na + nb - 2,
                  MG_MAXDIM);
        return NULL;
    }
    for (int i = 0; i < na - 1; i++) {
        p *= a->shape[i];
        shape[nd++] = a->shape[i];
    }
    perm[0] = nb - 2;
    for (int i = 0, j = 1; i < nb; i++)
        if (i != nb - 2) {
            perm[j++] = i;
            q *= b->shape[i];
            shape[nd++] = b->shape[i];
        }
    int64_t sa[2] = {p, k}, sb[2] = {k, q};
    mg_tensor *a2 = mg_reshape(a, 2, sa);
    mg_tensor *bp = a2 ? mg_permute(b, perm) : NULL;
    mg_tensor *b2 = bp ? mg_reshape(bp, 2, sb) : NULL;
    mg_tensor *r = b2 ? mg_matmul(a2, b2) : NULL;
    mg_tensor *out = r ? mg_reshape(r, nd, shape) : NULL;
    mg_release(a2);
    mg_release(bp);
    mg_release(b2);
    mg_release(r);
    return out;
}

mg_tensor *mg_dot(mg_tensor *a, mg_tensor *b) {
    char sa[256], sb[256];
    if (!a || !b) return missing("dot");
    if (a->ndim == 0 || b->ndim == 0) return mg_mul(a, b);
    int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim > 1 ? b->ndim - 2 : 0];
    if (ka != kb) {
        mg_seterr(MG_ESHAPE, "dot: shapes %s and %s are not aligned: the last axis of a has %lld, "
                  "the %s axis of b has %lld", mg_shape_str(a->ndim, a->shape, sa, sizeof sa),
                  mg_shape_str(b->ndim, b->shape, sb, sizeof sb), (long long)ka,
                  b->ndim > 1 ? "second-to-last" : "only", (long long)kb);
        return NULL;
    }
    /* matmul agrees with dot unless both have 2+ axes and b has 3+ */
    if (a->ndim == 1 || b->ndim <= 2) return mg_matmul(a, b);
    return dot_general(a, b);
}

mg_tensor *mg_outer(mg_tensor *a, mg_tensor *b) {
    if (!a || !b) return missing("outer");
    int64_t sa[2] = {mg_numel(a), 1}, sb[2] = {1, mg_numel(b)};
    mg_tensor *a2 = mg_reshape(a, 2, sa);
    mg_tensor *b2 = a2 ? mg_reshape(b, 2, sb) : NULL;
    mg_tensor *r = b2 ? mg_mul(a2, b2) : NULL;
    mg_release(a2);
    mg_release(b2);
    return r;
}

/* ---- multi_matmul -------------------------------------------------------------- */
#define CHAIN_DP_MAX 512 /* longer chains are multiplied left to right */

typedef struct {
    int n;
    mg_tensor **m;   /* the matrices (1-d ends made 2-d) */
    int *split;      /* split[i * n + j]: the last matrix of the left factor of i..j */
} chain;

static mg_tensor *chain_product(const chain *c, int i, int j) {
    if (i == j) return mg_retain(c->m[i]);
    int k = c->split[i * c->n + j];
    mg_tensor *l = chain_product(c, i, k);
    mg_tensor *r = l ? chain_product(c, k + 1, j) : NULL;
    mg_tensor *out = r ? mg_matmul(l, r) : NULL;
    mg_release(l);
    mg_release(r);
    return out;
}

/* The classic O(n^3) programme over dims (matrix i is dims[i] x dims[i+1]). */
static int chain_order(chain *c, const int64_t *dims) {
    int n = c->n;
    double *cost = malloc((size_t)n * (size_t)n * sizeof *cost);
    c->split = malloc((size_t)n * (size_t)n * sizeof *c->split);
    if (!cost || !c->split) {
        free(cost);
        return mg_seterr(MG_ENOMEM, "multi_matmul: out of memory");
    }
    for (int i = 0; i < n; i++) cost[i * n + i] = 0;
    for (int len = 1; len < n; len++)
        for (int i = 0; i + len < n; i++) {
            int j = i + len;
            cost[i * n + j] = INFINITY;
            for (int k = i; k < j; k++) {
                double q = cost[i * n + k] + cost[(k + 1) * n + j] +
                           (double)dims[i] * (double)dims[k + 1] * (double)dims[j + 1];
                if (q < cost[i * n + j]) {
                    cost[i * n + j] = q;
                    c->split[i * n + j] = k;
                }
            }
        }
    free(cost);
    return MG_OK;
}

static int chain_check(int n, mg_tensor *const *ts, int64_t *dims) {
    char sa[256], sb[256];
    for (int i = 0; i < n; i++) {
        mg_tensor *t = ts[i];
        if (!t) return mg_seterr(MG_EVALUE, "multi_matmul: tensor %d is missing", i + 1);
        bool end = i == 0 || i == n - 1;
        if (t->ndim != 2 && !(end && t->ndim == 1))
            return mg_seterr(MG_ESHAPE, "multi_matmul: tensor %d has shape %s; expected a 2-d "
                             "matrix (only the first and the last may be 1-d)", i + 1,
                             mg_shape_str(t->ndim, t->shape, sa, sizeof sa));
        if (i == 0) dims[0] = t->ndim == 1 ? 1 : t->shape[0];
        if (i > 0 && t->shape[0] != dims[i])
            return mg_seterr(MG_ESHAPE, "multi_matmul: tensors %d and %d are not aligned: shapes "
                             "%s and %s", i, i + 1,
                             mg_shape_str(ts[i - 1]->ndim, ts[i - 1]->shape, sa, sizeof sa),
                             mg_shape_str(t->ndim, t->shape, sb, sizeof sb));
        dims[i + 1] = t->ndim == 1 ? (i == 0 ? t->shape[0] : 1) : t->shape[1];
    }
    return MG_OK;
}

mg_tensor *mg_multi_matmul(int n, mg_tensor *const *ts) {
    if (n < 2 || !ts) {
        mg_seterr(MG_EVALUE, "multi_matmul: expected at least 2 tensors, got %d", n < 0 ? 0 : n);
        return NULL;
    }
    int64_t *dims = malloc((size_t)(n + 1) * sizeof *dims);
    chain c = {n, calloc((size_t)n, sizeof(mg_tensor *)), NULL};
    mg_tensor *r = NULL, *out = NULL;
    if (!dims || !c.m) {
        mg_seterr(MG_ENOMEM, "multi_matmul: out of memory");
        goto done;
    }
    if (chain_check(n, ts, dims)) goto done;
    for (int i = 0; i < n; i++) {
        mg_tensor *t = ts[i];
        int64_t s[2] = {dims[i], dims[i + 1]};
        c.m[i] = t->ndim == 1 ? mg_reshape(t, 2, s) : mg_retain(t);
        if (!c.m[i]) goto done;
    }
    if (n <= CHAIN_DP_MAX) {
        if (chain_order(&c, dims)) goto done;
        r = chain_product(&c, 0, n - 1);
    } else {
        r = mg_retain(c.m[0]);
        for (int i = 1; r && i < n; i++) {
            mg_tensor *next = mg_matmul(r, c.m[i]);
            mg_release(r);
            r = next;
        }
    }
    if (!r) goto done;
    int64_t shape[2];
    int nd = 0;
    if (ts[0]->ndim == 2) shape[nd++] = dims[0];
    if (ts[n - 1]->ndim == 2) shape[nd++] = dims[n];
    out = nd == 2 ? mg_retain(r) : mg_reshape(r, nd, shape);
done:
    if (c.m)
        for (int i = 0; i < n; i++) mg_release(c.m[i]);
    free(c.m);
    free(c.split);
    free(dims);
    mg_release(r);
    return out;
}

/* ---- norms ------------------------------------------------------------------------
 * One op reduces |x| over a set of axes: params axes, keepdims, dval[0] = p
 * (p > 0: (sum |x|^p)^(1/p); +-inf: max/min |x|; 0: the count of non-zeros,
 * through a second, non-differentiable entry).  Its backward uses two constant
 * helpers: the indicator of zeros (for 0/0 = 0, PyTorch's subgradient) and,
 * for +-inf, the extreme elements (ties share the gradient equally). */

/* x's values in float64, permuted so the reduced axes come last and made
 * contiguous: `outer` groups of `inner` elements.  perm receives the order. */
static mg_tensor *grouped(mg_tensor *x, uint32_t axes, int *perm, int64_t *outer,
                          int64_t *inner) {
    int64_t shape[MG_MAXDIM], st[MG_MAXDIM];
    int nd = 0;
    *outer = *inner = 1;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < x->ndim; i++) {
            bool red = (axes >> i) & 1u;
            if (red != (pass == 1)) continue;
            perm[nd] = i;
            shape[nd] = x->shape[i];
            st[nd++] = x->stride[i];
            if (red) *inner *= x->shape[i];
            else *outer *= x->shape[i];
        }
    mg_tensor *v = mg_view(x, nd, shape, st, x->offset);
    mg_tensor *c = v ? mg_copy_of(v, MG_FLOAT64) : NULL;
    mg_release(v);
    return c;
}

static double group_norm(const double *v, int64_t n, double p) {
    double s = 0;
    if (isinf(p)) {
        s = fabs(v[0]);
        for (int64_t i = 1; i < n; i++) {
            double a = fabs(v[i]);
            if (isnan(a)) return a;
            if (p > 0 ? a > s : a < s) s = a;
        }
        return s;
    }
    if (p == 0) {
        for (int64_t i = 0; i < n; i++) s += v[i] != 0;
        return s;
    }
    if (p == 1) {
        for (int64_t i = 0; i < n; i++) s += fabs(v[i]);
        return s;
    }
    if (p == 2) {
        for (int64_t i = 0; i < n; i++) s += v[i] * v[i];
        return sqrt(s);
    }
    for (int64_t i = 0; i < n; i++) s += pow(fabs(v[i]), p);
    return pow(s, 1 / p);
}

static int check_nonempty(const mg_tensor *x, int64_t inner, double p) {
    char s[256];
    if (inner == 0 && isinf(p))
        return mg_seterr(MG_EVALUE, "norm: ord=%sinf takes a max or min, which an empty axis (shape "
                         "%s) does not have", p < 0 ? "-" : "", mg_shape_str(x->ndim, x->shape, s, sizeof s));
    return MG_OK;
}

static mg_tensor *norm_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *x = in[0];
    int perm[MG_MAXDIM], nd = 0;
    int64_t outer, inner, shape[MG_MAXDIM];
    double ord = p->dval[0];
    mg_tensor *c = grouped(x, p->axes, perm, &outer, &inner);
    if (!c) return NULL;
    if (outer > 0 && check_nonempty(x, inner, ord)) {
        mg_release(c);
        return NULL;
    }
    for (int i = 0; i < x->ndim; i++) {
        if (!((p->axes >> i) & 1u)) shape[nd++] = x->shape[i];
        else if (p->keepdims) shape[nd++] = 1;
    }
    mg_tensor *out = mg_empty(nd, shape, x->dtype);
    if (out) {
        const double *v = mg_data_ptr(c);
        void *o = mg_data_ptr(out);
        for (int64_t g = 0; g < outer; g++) {
            double r = group_norm(v + g * inner, inner, ord);
            if (x->dtype == MG_FLOAT32) ((float *)o)[g] = (float)r;
            else ((double *)o)[g] = r;
        }
    }
    mg_release(c);
    return out;
}

/* The constant weights of the elements that reach the max (p = inf) or min
 * (p = -inf) of |x| in each group: 1 / (number of ties) there, 0 elsewhere. */
static mg_tensor *extreme_mask_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *x = in[0];
    int perm[MG_MAXDIM];
    int64_t outer, inner, st[MG_MAXDIM], ost[MG_MAXDIM];
    mg_tensor *c = grouped(x, p->axes, perm, &outer, &inner);
    if (!c) return NULL;
    double *v = mg_data_ptr(c);
    for (int64_t g = 0; g < outer && inner > 0; g++) {
        double *w = v + g * inner, m = group_norm(w, inner, p->dval[0]);
        int64_t ties = 0;
        for (int64_t i = 0; i < inner; i++) ties += fabs(w[i]) == m;
        for (int64_t i = 0; i < inner; i++) w[i] = fabs(w[i]) == m ? 1.0 / (double)ties : 0.0;
    }
    mg_contiguous_strides(c->ndim, c->shape, st);
    for (int j = 0; j < x->ndim; j++) ost[perm[j]] = st[j];
    mg_tensor *back = mg_view(c, x->ndim, x->shape, ost, 0);
    mg_tensor *out = back ? mg_copy_of(back, x->dtype) : NULL;
    mg_release(back);
    mg_release(c);
    return out;
}

static void iszero_f32(const void *a_, int64_t sa, void *o_, int64_t n) {
    const float *a = a_;
    float *o = o_;
    for (int64_t i = 0; i < n; i++) o[i] = a[i * sa] == 0;
}
static void iszero_f64(const void *a_, int64_t sa, void *o_, int64_t n) {
    const double *a = a_;
    double *o = o_;
    for (int64_t i = 0; i < n; i++) o[i] = a[i * sa] == 0;
}

static const mg_opdef op_iszero = {"norm", NULL, 1, MG_KIND_UNARY, MG_RES_FLOAT,
    {iszero_f32, iszero_f64, NULL}, {0}, NULL, NULL, 0, NULL};
static const mg_opdef op_extreme_mask = {"norm", NULL, 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    extreme_mask_fw, NULL, 0, NULL};

static mg_tensor *iszero(mg_tensor *t) { return t ? mg_apply(&op_iszero, &t, NULL) : NULL; }

/* t + (t == 0): t with its zeros made ones, so that 0 / 0 reads 0 / 1.
 * Consumes t. */
static mg_tensor *nonzero_of(mg_tensor *t) {
    mg_tensor *z = iszero(t);
    return mg_take2(mg_add, t, z);
}

/* d norm / dx at x's shape, without the head gradient. */
static mg_tensor *norm_partial(mg_node *n, const int64_t *kshape) {
    mg_tensor *x = n->inputs[0];
    double p = n->p.dval[0];
    if (p == 1) return mg_sign(x);
    if (isinf(p)) return mg_take2(mg_mul, mg_sign(x), mg_apply(&op_extreme_mask, &x, &n->p));
    mg_tensor *o = mg_node_output(n);
    mg_tensor *den = nonzero_of(o ? mg_reshape(o, x->ndim, kshape) : NULL);
    mg_release(o);
    if (p == 2) return mg_take2(mg_div, mg_retain(x), den);
    mg_tensor *ax = mg_take2(mg_add, mg_abs(x), iszero(x));
    mg_tensor *ratio = mg_take2(mg_div, ax, den);
    mg_tensor *pw = mg_take2(mg_pow, ratio, mg_scalar(p - 1, x->dtype));
    return mg_take2(mg_mul, mg_sign(x), pw);
}

static int norm_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *x = n->inputs[0];
    int64_t kshape[MG_MAXDIM];
    for (int i = 0; i < x->ndim; i++) kshape[i] = ((n->p.axes >> i) & 1u) ? 1 : x->shape[i];
    gin[0] = mg_take2(mg_mul, mg_reshape(g, x->ndim, kshape), norm_partial(n, kshape));
    return gin[0] ? MG_OK : mg_errcode();
}

static const mg_opdef op_norm = {"norm", "NormBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0},
    {0}, norm_fw, norm_bw, MG_SAVES_IN0 | MG_SAVES_OUT, NULL};
static const mg_opdef op_norm_count = {"norm", NULL, 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    norm_fw, NULL, 0, NULL};

static mg_tensor *reduce_norm(mg_tensor *x, uint32_t axes, bool keepdims, double p) {
    mg_params prm = params0();
    prm.axes = axes;
    prm.keepdims = keepdims;
    prm.dval[0] = p;
    return mg_apply(p == 0 ? &op_norm_count : &op_norm, &x, &prm);
}

/* ord as text for messages */
static const char *ord_str(mg_norm_ord ord, char *buf, size_t n) {
    if (ord.kind == MG_ORD_FRO) return "'fro'";
    if (ord.kind == MG_ORD_NUC) return "'nuc'";
    if (ord.kind == MG_ORD_DEFAULT) return "nil";
    if (isinf(ord.p)) return ord.p > 0 ? "inf" : "-inf";
    if (isnan(ord.p)) return "nan";
    snprintf(buf, n, "%g", ord.p);
    return buf;
}

static mg_tensor *vector_norm(mg_tensor *x, mg_norm_ord ord, int axis, bool keepdims) {
    char b[64];
    double p = ord.kind == MG_ORD_DEFAULT ? 2 : ord.p;
    if (ord.kind == MG_ORD_FRO || ord.kind == MG_ORD_NUC) {
        mg_seterr(MG_EVALUE, "norm: ord=%s is a matrix norm: give two axes (axis = {1, 2})",
                  ord_str(ord, b, sizeof b));
        return NULL;
    }
    if (isnan(p) || (p < 0 && !isinf(p))) {
        mg_seterr(MG_EVALUE, "norm: ord=%s is not a vector norm (expected a number > 0, 0, inf "
                  "or -inf)", ord_str(ord, b, sizeof b));
        return NULL;
    }
    return reduce_norm(x, 1u << axis, keepdims, p);
}

/* Removes axes a1 and a2 (kept as 1 by the steps before) unless keepdims. */
static mg_tensor *drop_two(mg_tensor *t, int a1, int a2, bool keepdims) {
    if (!t || keepdims) return t;
    int64_t shape[MG_MAXDIM];
    int nd = 0;
    for (int i = 0; i < t->ndim; i++)
        if (i != a1 && i != a2) shape[nd++] = t->shape[i];
    mg_tensor *r = mg_reshape(t, nd, shape);
    mg_release(t);
    return r;
}

static mg_tensor *matrix_norm(mg_tensor *x, mg_norm_ord ord, int a1, int a2, bool keepdims) {
    char b[64];
    if (ord.kind == MG_ORD_DEFAULT || ord.kind == MG_ORD_FRO)
        return reduce_norm(x, (1u << a1) | (1u << a2), keepdims, 2);
    if (ord.kind == MG_ORD_NUC || fabs(ord.p) == 2) {
        mg_seterr(MG_EVALUE, "norm: the matrix norm ord=%s (from singular values) is not supported "
                  "yet; use 'fro', 1, -1, inf or -inf", ord_str(ord, b, sizeof b));
        return NULL;
    }
    if (fabs(ord.p) != 1 && !isinf(ord.p)) {
        mg_seterr(MG_EVALUE, "norm: ord=%s is not a matrix norm (expected 'fro', 'nuc', 1, -1, 2, "
                  "-2, inf or -inf)", ord_str(ord, b, sizeof b));
        return NULL;
    }
    /* 1: max over columns of the column sums of |x|; inf: max over rows of the row sums */
    int sum_axis = fabs(ord.p) == 1 ? a1 : a2, ext_axis = fabs(ord.p) == 1 ? a2 : a1;
    mg_tensor *ax = mg_abs(x);
    mg_tensor *s = ax ? mg_sum(ax, 1u << sum_axis, true) : NULL;
    mg_release(ax);
    mg_tensor *e = s ? reduce_norm(s, 1u << ext_axis, true, ord.p > 0 ? INFINITY : -INFINITY) : NULL;
    mg_release(s);
    return drop_two(e, a1, a2, keepdims);
}

mg_tensor *mg_norm(mg_tensor *a, mg_norm_ord ord, int naxes, const int *axes, bool keepdims) {
    char b[64], s[256];
    if (!a) return missing("norm");
    if (naxes < 0 || naxes > 2 || (naxes > 0 && !axes)) {
        mg_seterr(MG_EVALUE, "norm: axis must be one axis (a vector norm) or two (a matrix norm), "
                  "got %d", naxes);
        return NULL;
    }
    int ax[2];
    for (int i = 0; i < naxes; i++) {
        ax[i] = axes[i] < 0 ? axes[i] + a->ndim : axes[i];
        if (ax[i] < 0 || ax[i] >= a->ndim) {
            mg_seterr(MG_EINDEX, "norm: axis %d is out of range for a tensor with %d axes",
                      axes[i], a->ndim);
            return NULL;
        }
    }
    if (naxes == 2 && ax[0] == ax[1]) {
        mg_seterr(MG_EVALUE, "norm: the two axes of a matrix norm must differ, both are %d", ax[0]);
        return NULL;
    }
    if (naxes == 0 && ord.kind != MG_ORD_DEFAULT) {
        if (a->ndim != 1 && a->ndim != 2) {
            mg_seterr(MG_ESHAPE, "norm: ord=%s needs a 1-d (vector) or 2-d (matrix) tensor, or the "
                      "axis option; got shape %s", ord_str(ord, b, sizeof b),
                      mg_shape_str(a->ndim, a->shape, s, sizeof s));
            return NULL;
        }
        naxes = a->ndim;
        ax[0] = 0;
        ax[1] = 1;
    }
    mg_tensor *x = mg_dtype_is_float(a->dtype) ? mg_retain(a) : mg_astype(a, mg_default_float());
    mg_tensor *r = NULL;
    if (!x) return NULL;
    uint32_t all = a->ndim ? (uint32_t)((1ull << a->ndim) - 1) : 0u;
    if (naxes == 0) r = reduce_norm(x, all, keepdims, 2);
    else if (naxes == 1) r = vector_norm(x, ord, ax[0], keepdims);
    else r = matrix_norm(x, ord, ax[0], ax[1], keepdims);
    mg_release(x);
    return r;
}
