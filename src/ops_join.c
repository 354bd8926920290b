/* ops_join.c — shape ops that add, remove, join, split or repeat axes:
 * squeeze/expand_dims/flatten (one "regroup" op: a view when the layout
 * allows, a copy otherwise), moveaxis (a permutation), concatenate (an op
 * of up to MG_MAXINPUTS inputs, applied as a tree for longer lists) and
 * stack, split (views), repeat and tile (a gather along one axis by an
 * int64 index tensor, whose backward is an index_add), flip (a view with
 * negative strides) and constant pad. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static mg_params params0(void) {
    mg_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* Largest size an axis may have (mg_shape_numel's bound), so sums and
 * products of sizes below it never overflow. */
#define SIZE_LIMIT (INT64_MAX / 16)

/* ---- regroup: squeeze, expand_dims, flatten ------------------------------------
 * Reads a with a new shape of the same number of elements.  Strides that
 * do so without copying exist when every group of old axes that merges
 * into (or splits into) new axes is laid out contiguously (NumPy's rule). */
static bool view_strides(const mg_tensor *a, int ndim, const int64_t *shape, int64_t *st) {
    int64_t od[MG_MAXDIM], os[MG_MAXDIM];
    int on = 0, nidx[MG_MAXDIM], nn = 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != 1) {
            od[on] = a->shape[i];
            os[on++] = a->stride[i];
        }
    for (int i = 0; i < ndim; i++)
        if (shape[i] != 1) nidx[nn++] = i;
    int oi = 0, ni = 0;
    while (oi < on && ni < nn) {
        int oj = oi + 1, nj = ni + 1;
        int64_t po = od[oi], pn = shape[nidx[ni]];
        while (po != pn) {
            if (po < pn) {
                if (oj == on) return false;
                po *= od[oj++];
            } else {
                if (nj == nn) return false;
                pn *= shape[nidx[nj++]];
            }
        }
        for (int k = oi; k < oj - 1; k++)
            if (os[k] != od[k + 1] * os[k + 1]) return false;
        st[nidx[nj - 1]] = os[oj - 1];
        for (int k = nj - 1; k > ni; k--) st[nidx[k - 1]] = st[nidx[k]] * shape[nidx[k]];
        oi = oj;
        ni = nj;
    }
    if (oi != on || ni != nn) return false;
    for (int i = ndim - 1; i >= 0; i--) /* axes of size 1: any stride reads the same */
        if (shape[i] == 1) st[i] = i + 1 < ndim ? st[i + 1] * shape[i + 1] : 1;
    return true;
}

static mg_tensor *regroup_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *a = in[0];
    int64_t st[MG_MAXDIM];
    if (mg_numel(a) > 0 && view_strides(a, p->ndim, p->shape, st))
        return mg_view(a, p->ndim, p->shape, st, a->offset);
    mg_tensor *c = mg_copy_of(a, a->dtype);
    mg_contiguous_strides(p->ndim, p->shape, st);
    mg_tensor *v = c ? mg_view(c, p->ndim, p->shape, st, 0) : NULL;
    mg_release(c);
    return v;
}

static int regroup_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static const mg_opdef op_squeeze = {"squeeze", "SqueezeBackward", 1, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, regroup_fw, regroup_bw, 0, NULL};
static const mg_opdef op_unsqueeze = {"unsqueeze", "UnsqueezeBackward", 1, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, regroup_fw, regroup_bw, 0, NULL};
static const mg_opdef op_flatten = {"flatten", "FlattenBackward", 1, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, regroup_fw, regroup_bw, 0, NULL};

static mg_tensor *regroup(const mg_opdef *op, mg_tensor *a, int ndim, const int64_t *shape) {
    mg_params p = params0();
    p.ndim = ndim;
    memcpy(p.shape, shape, (size_t)ndim * sizeof *shape);
    return mg_apply(op, &a, &p);
}

/* The gradient goes back to the input's shape by the inverse regrouping. */
static int regroup_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    const mg_opdef *inv = n->op == &op_squeeze ? &op_unsqueeze
                        : n->op == &op_unsqueeze ? &op_squeeze : &op_flatten;
    gin[0] = regroup(inv, g, n->inputs[0]->ndim, n->inputs[0]->shape);
    return gin[0] ? MG_OK : mg_errcode();
}

static int check_tensor(const char *op, const mg_tensor *a) {
    return a ? MG_OK : mg_seterr(MG_EVALUE, "%s: missing tensor", op);
}

mg_tensor *mg_squeeze(mg_tensor *a, uint32_t axes) {
    char sa[256];
    if (check_tensor("squeeze", a)) return NULL;
    int64_t shape[MG_MAXDIM];
    int nd = 0;
    for (int i = a->ndim; axes != MG_ALLAXES && i < 32; i++)
        if (axes & (1u << i)) {
            mg_seterr(MG_EINDEX, "squeeze: axis out of range for shape %s",
                      mg_shape_str(a->ndim, a->shape, sa, sizeof sa));
            return NULL;
        }
    for (int i = 0; i < a->ndim; i++) {
        bool chosen = axes == MG_ALLAXES ? a->shape[i] == 1 : (axes >> i) & 1u;
        if (chosen && a->shape[i] != 1) {
            mg_seterr(MG_ESHAPE, "squeeze: cannot remove an axis of size %lld from shape %s; only "
                      "axes of size 1 can be squeezed", (long long)a->shape[i],
                      mg_shape_str(a->ndim, a->shape, sa, sizeof sa));
            return NULL;
        }
        if (!chosen) shape[nd++] = a->shape[i];
    }
    return regroup(&op_squeeze, a, nd, shape);
}

mg_tensor *mg_expand_dims(mg_tensor *a, uint32_t axes) {
    char sa[256];
    if (check_tensor("expand_dims", a)) return NULL;
    int count = 0;
    for (int i = 0; i < 32; i++) count += (axes >> i) & 1u;
    int nd = a->ndim + count;
    if (nd > MG_MAXDIM) {
        mg_seterr(MG_ESHAPE, "expand_dims: the result would have %d axes, at most %d are allowed",
                  nd, MG_MAXDIM);
        return NULL;
    }
    for (int i = nd; i < 32; i++)
        if (axes & (1u << i)) {
            mg_seterr(MG_EINDEX, "expand_dims: a new axis is out of range for a result of %d axes "
                      "(input shape %s)", nd, mg_shape_str(a->ndim, a->shape, sa, sizeof sa));
            return NULL;
        }
    int64_t shape[MG_MAXDIM];
    for (int i = 0, j = 0; i < nd; i++) shape[i] = (axes >> i) & 1u ? 1 : a->shape[j++];
    return regroup(&op_unsqueeze, a, nd, shape);
}

mg_tensor *mg_unsqueeze(mg_tensor *a, int axis) {
    if (check_tensor("unsqueeze", a)) return NULL;
    if (axis < 0 || axis > a->ndim) {
        mg_seterr(MG_EINDEX, "unsqueeze: position %d is out of range 0..%d", axis, a->ndim);
        return NULL;
    }
    return mg_expand_dims(a, 1u << axis);
}

mg_tensor *mg_flatten(mg_tensor *a, int start, int end) {
    if (check_tensor("flatten", a)) return NULL;
    int last = a->ndim ? a->ndim - 1 : 0;
    if (start < 0 || end > last || start > end) {
        mg_seterr(MG_EINDEX, "flatten: axes %d..%d are not a range of the %d axes", start, end,
                  a->ndim);
        return NULL;
    }
    int64_t shape[MG_MAXDIM];
    int nd = 0;
    for (int i = 0; i < start; i++) shape[nd++] = a->shape[i];
    int64_t merged = 1;
    for (int i = start; i <= end && i < a->ndim; i++) merged *= a->shape[i];
    shape[nd++] = merged;
    for (int i = end + 1; i < a->ndim; i++) shape[nd++] = a->shape[i];
    return regroup(&op_flatten, a, nd, shape);
}

mg_tensor *mg_ravel(mg_tensor *a) {
    if (check_tensor("ravel", a)) return NULL;
    return mg_flatten(a, 0, a->ndim ? a->ndim - 1 : 0);
}

/* ---- moveaxis --------------------------------------------------------------------- */
static bool has_repeats(int n, const int *v) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (v[i] == v[j]) return true;
    return false;
}

mg_tensor *mg_moveaxis(mg_tensor *a, int n, const int *src, const int *dst) {
    if (check_tensor("moveaxis", a)) return NULL;
    if (n < 0 || n > a->ndim) {
        mg_seterr(MG_EINDEX, "moveaxis: %d axes given for a tensor with %d axes", n, a->ndim);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (src[i] < 0 || src[i] >= a->ndim || dst[i] < 0 || dst[i] >= a->ndim) {
            mg_seterr(MG_EINDEX, "moveaxis: axis out of range for a tensor with %d axes", a->ndim);
            return NULL;
        }
    if (has_repeats(n, src) || has_repeats(n, dst)) {
        mg_seterr(MG_EINDEX, "moveaxis: an axis is repeated in source or destination");
        return NULL;
    }
    /* each destination holds its source; the other axes keep their order */
    int perm[MG_MAXDIM];
    bool placed[MG_MAXDIM] = {false}, moved[MG_MAXDIM] = {false};
    for (int i = 0; i < n; i++) {
        perm[dst[i]] = src[i];
        placed[dst[i]] = moved[src[i]] = true;
    }
    for (int i = 0, next = 0; i < a->ndim; i++) {
        if (placed[i]) continue;
        while (moved[next]) next++;
        perm[i] = next++;
    }
    return mg_permute(a, perm);
}

/* ---- concatenate ------------------------------------------------------------------- */
/* p->axis: the axis; the output's dtype promotes the inputs'. */
static mg_tensor *cat_fw_n(mg_tensor **in, int n, const mg_params *p) {
    int axis = p->axis, nd = in[0]->ndim;
    int64_t shape[MG_MAXDIM];
    memcpy(shape, in[0]->shape, sizeof shape);
    mg_dtype dt = in[0]->dtype;
    shape[axis] = 0;
    for (int i = 0; i < n; i++) {
        shape[axis] += in[i]->shape[axis];
        dt = mg_promote(dt, in[i]->dtype);
    }
    mg_tensor *out = mg_empty(nd, shape, dt);
    if (!out) return NULL;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        shape[axis] = in[i]->shape[axis];
        mg_tensor *v = mg_view(out, nd, shape, out->stride, out->offset + off * out->stride[axis]);
        int rc = v ? mg_copy_strided(v, in[i]) : MG_ENOMEM;
        mg_release(v);
        if (rc) {
            mg_release(out);
            return NULL;
        }
        off += in[i]->shape[axis];
    }
    return out;
}

/* The piece of a along axis from start, count long (a view). */
static mg_tensor *narrow(mg_tensor *a, int axis, int64_t start, int64_t count) {
    mg_index idx[MG_MAXDIM];
    for (int k = 0; k < axis; k++) idx[k].kind = MG_IDX_ALL;
    idx[axis].kind = MG_IDX_SLICE;
    idx[axis].start = start;
    idx[axis].count = count;
    idx[axis].step = 1;
    return mg_index_get(a, axis + 1, idx);
}

static int cat_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    int axis = n->p.axis;
    int64_t off = 0;
    for (int i = 0; i < n->ninputs; i++) {
        int64_t len = n->inputs[i]->shape[axis];
        if (n->inputs[i]->requires_grad && !(gin[i] = narrow(g, axis, off, len)))
            return mg_errcode();
        off += len;
    }
    return MG_OK;
}

/* One forward per arity (the forward is not told how many inputs it has). */
static mg_tensor *cat_fw1(mg_tensor **in, const mg_params *p) { return cat_fw_n(in, 1, p); }
static mg_tensor *cat_fw2(mg_tensor **in, const mg_params *p) { return cat_fw_n(in, 2, p); }
static mg_tensor *cat_fw3(mg_tensor **in, const mg_params *p) { return cat_fw_n(in, 3, p); }
static mg_tensor *cat_fw4(mg_tensor **in, const mg_params *p) { return cat_fw_n(in, 4, p); }
static mg_tensor *cat_fw5(mg_tensor **in, const mg_params *p) { return cat_fw_n(in, 5, p); }
static mg_tensor *cat_fw6(mg_tensor **in, const mg_params *p) { return cat_fw_n(in, 6, p); }
static mg_tensor *cat_fw7(mg_tensor **in, const mg_params *p) { return cat_fw_n(in, 7, p); }
static mg_tensor *cat_fw8(mg_tensor **in, const mg_params *p) { return cat_fw_n(in, 8, p); }

_Static_assert(MG_MAXINPUTS == 8, "one concatenate op per arity 1..MG_MAXINPUTS");
static const mg_opdef cat_ops[MG_MAXINPUTS] = {
    {"concatenate", "CatBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, cat_fw1, cat_bw, 0, NULL},
    {"concatenate", "CatBackward", 2, MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, cat_fw2, cat_bw, 0, NULL},
    {"concatenate", "CatBackward", 3, MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, cat_fw3, cat_bw, 0, NULL},
    {"concatenate", "CatBackward", 4, MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, cat_fw4, cat_bw, 0, NULL},
    {"concatenate", "CatBackward", 5, MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, cat_fw5, cat_bw, 0, NULL},
    {"concatenate", "CatBackward", 6, MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, cat_fw6, cat_bw, 0, NULL},
    {"concatenate", "CatBackward", 7, MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, cat_fw7, cat_bw, 0, NULL},
    {"concatenate", "CatBackward", 8, MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, cat_fw8, cat_bw, 0, NULL},
};

static int check_cat(const char *op, int n, mg_tensor *const *ts, int axis) {
    char sa[256], sb[256];
    if (n < 1 || !ts) return mg_seterr(MG_EVALUE, "%s: expected a non-empty list of tensors", op);
    for (int i = 0; i < n; i++)
        if (!ts[i]) return mg_seterr(MG_EVALUE, "%s: tensor %d of the list is missing", op, i + 1);
    const mg_tensor *a = ts[0];
    if (a->ndim == 0)
        return mg_seterr(MG_ESHAPE, "%s: 0-d tensors cannot be concatenated (use stack)", op);
    if (axis < 0 || axis >= a->ndim)
        return mg_seterr(MG_EINDEX, "%s: axis out of range for tensors of shape %s", op,
                         mg_shape_str(a->ndim, a->shape, sa, sizeof sa));
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const mg_tensor *b = ts[i];
        bool ok = b->ndim == a->ndim;
        for (int k = 0; ok && k < a->ndim; k++) ok = k == axis || b->shape[k] == a->shape[k];
        if (!ok)
            return mg_seterr(MG_ESHAPE, "%s: tensor %d has shape %s but tensor 1 has shape %s; "
                             "all sizes must match except along the joining axis", op, i + 1,
                             mg_shape_str(b->ndim, b->shape, sb, sizeof sb),
                             mg_shape_str(a->ndim, a->shape, sa, sizeof sa));
        if (b->shape[axis] > SIZE_LIMIT - total)
            return mg_seterr(MG_ENOMEM, "%s: the result would be too large", op);
        total += b->shape[axis];
    }
    return MG_OK;
}

static mg_tensor *cat_group(mg_tensor **in, int n, int axis) {
    mg_params p = params0();
    p.axis = axis;
    return mg_apply(&cat_ops[n - 1], in, &p);
}

static void release_all(mg_tensor **v, int n) {
    for (int i = 0; i < n; i++) mg_release(v[i]);
}

/* Concatenates groups of up to MG_MAXINPUTS until one group is left. */
mg_tensor *mg_concatenate(int n, mg_tensor *const *ts, int axis) {
    if (check_cat("concatenate", n, ts, axis)) return NULL;
    mg_tensor **cur = malloc((size_t)n * sizeof *cur);
    if (!cur) {
        mg_seterr(MG_ENOMEM, "concatenate: out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) cur[i] = mg_retain(ts[i]);
    int m = n;
    while (m > MG_MAXINPUTS) {
        int groups = 0;
        for (int s = 0; s < m; s += MG_MAXINPUTS, groups++) {
            int len = m - s < MG_MAXINPUTS ? m - s : MG_MAXINPUTS;
            mg_tensor *r = len == 1 ? mg_retain(cur[s]) : cat_group(cur + s, len, axis);
            release_all(cur + s, len);
            for (int k = s + 1; k < s + len; k++) cur[k] = NULL;
            cur[groups] = r; /* groups <= s: only slots already consumed are written */
            if (!r) {
                release_all(cur, groups);
                release_all(cur + s + len, m - s - len);
                free(cur);
                return NULL;
            }
        }
        m = groups;
    }
    mg_tensor *out = cat_group(cur, m, axis);
    release_all(cur, m);
    free(cur);
    return out;
}

mg_tensor *mg_stack(int n, mg_tensor *const *ts, int axis) {
    char sa[256], sb[256];
    if (n < 1 || !ts) {
        mg_seterr(MG_EVALUE, "stack: expected a non-empty list of tensors");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!ts[i]) {
            mg_seterr(MG_EVALUE, "stack: tensor %d of the list is missing", i + 1);
            return NULL;
        }
        if (!mg_same_shape(ts[i], ts[0])) {
            mg_seterr(MG_ESHAPE, "stack: tensor %d has shape %s but tensor 1 has shape %s; all "
                      "must have the same shape", i + 1,
                      mg_shape_str(ts[i]->ndim, ts[i]->shape, sb, sizeof sb),
                      mg_shape_str(ts[0]->ndim, ts[0]->shape, sa, sizeof sa));
            return NULL;
        }
    }
    if (axis < 0 || axis > ts[0]->ndim) {
        mg_seterr(MG_EINDEX, "stack: position %d of the new axis is out of range 0..%d", axis,
                  ts[0]->ndim);
        return NULL;
    }
    mg_tensor **u = calloc((size_t)n, sizeof *u);
    if (!u) {
        mg_seterr(MG_ENOMEM, "stack: out of memory");
        return NULL;
    }
    mg_tensor *out = NULL;
    int i = 0;
    for (; i < n; i++)
        if (!(u[i] = mg_unsqueeze(ts[i], axis))) break;
    if (i == n) out = mg_concatenate(n, u, axis);
    release_all(u, n);
    free(u);
    return out;
}

/* ---- split ------------------------------------------------------------------------- */
int64_t mg_split_plan(int64_t len, int64_t n, bool chunks, int64_t *sizes) {
    if (len < 0) {
        mg_seterr(MG_EVALUE, "split: negative axis length");
        return -1;
    }
    if (chunks) {
        if (n <= 0) {
            mg_seterr(MG_EVALUE, "chunk: the number of chunks must be positive, got %lld",
                      (long long)n);
            return -1;
        }
        if (len == 0) { /* n empty pieces, as PyTorch */
            for (int64_t i = 0; sizes && i < n; i++) sizes[i] = 0;
            return n;
        }
        n = len / n + (len % n != 0); /* pieces of ceil(len / n) */
    } else if (n < 0 || (n == 0 && len > 0)) {
        mg_seterr(MG_EVALUE, "split: the piece size must be positive, got %lld", (long long)n);
        return -1;
    }
    if (len == 0) {
        if (sizes) sizes[0] = 0;
        return 1;
    }
    int64_t count = len / n + (len % n != 0);
    for (int64_t i = 0; sizes && i < count; i++) sizes[i] = len - i * n < n ? len - i * n : n;
    return count;
}

int mg_split(mg_tensor *a, int axis, int64_t n, const int64_t *sizes, mg_tensor **out) {
    char sa[256];
    if (check_tensor("split", a)) return MG_EVALUE;
    if (axis < 0 || axis >= a->ndim)
        return mg_seterr(MG_EINDEX, "split: axis out of range for shape %s",
                         mg_shape_str(a->ndim, a->shape, sa, sizeof sa));
    int64_t len = a->shape[axis], sum = 0;
    for (int64_t i = 0; i < n; i++) {
        if (sizes[i] < 0)
            return mg_seterr(MG_EVALUE, "split: piece sizes must be >= 0, got %lld",
                             (long long)sizes[i]);
        if (sizes[i] > SIZE_LIMIT - sum)
            return mg_seterr(MG_EVALUE, "split: the piece sizes add up to more than the axis "
                             "length %lld", (long long)len);
        sum += sizes[i];
    }
    if (n < 0 || sum != len)
        return mg_seterr(MG_EVALUE, "split: the piece sizes add up to %lld but the axis has "
                         "length %lld", (long long)sum, (long long)len);
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(out[i] = narrow(a, axis, off, sizes[i]))) {
            for (int64_t k = 0; k < i; k++) {
                mg_release(out[k]);
                out[k] = NULL;
            }
            return mg_errcode();
        }
        off += sizes[i];
    }
    return MG_OK;
}

/* ---- gather along one axis (repeat, tile) and its backward ---------------------------
 * take: out[.., j, ..] = x[.., idx[j], ..] with idx an int64 vector (input 1);
 * index_add: out = zeros of p->shape, out[.., idx[j], ..] += g[.., j, ..]. */
static void axis_split(int ndim, const int64_t *shape, int axis, int64_t *outer, int64_t *inner) {
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= shape[i];
    for (int i = axis + 1; i < ndim; i++) *inner *= shape[i];
}

static int check_idx(const char *op, const mg_tensor *idx, int64_t len) {
    const int64_t *ix = mg_data_ptr(idx);
    for (int64_t j = 0; j < mg_numel(idx); j++)
        if (ix[j] < 0 || ix[j] >= len)
            return mg_seterr(MG_EINDEX, "%s: gather index %lld out of range for length %lld", op,
                             (long long)ix[j], (long long)len);
    return MG_OK;
}

static mg_tensor *take_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *x = in[0], *idx = in[1];
    int axis = p->axis;
    int64_t len = x->shape[axis], m = mg_numel(idx), outer, inner;
    if (check_idx("repeat", idx, len)) return NULL;
    int64_t shape[MG_MAXDIM];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = m;
    mg_tensor *xc = mg_is_contiguous(x) ? mg_retain(x) : mg_copy_of(x, x->dtype);
    mg_tensor *out = xc ? mg_empty(x->ndim, shape, x->dtype) : NULL;
    if (!out) {
        mg_release(xc);
        return NULL;
    }
    axis_split(x->ndim, x->shape, axis, &outer, &inner);
    size_t row = (size_t)inner * mg_dtype_size(x->dtype);
    const char *src = mg_data_ptr(xc);
    char *dst = mg_data_ptr(out);
    const int64_t *ix = mg_data_ptr(idx);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < m; j++)
            memcpy(dst + (size_t)(o * m + j) * row, src + (size_t)(o * len + ix[j]) * row, row);
    mg_release(xc);
    return out;
}

/* dst[k] += src[k] for n elements of dtype dt (integers wrap, bools or). */
static void add_row(char *dst, const char *src, int64_t n, mg_dtype dt) {
    if (dt == MG_FLOAT32)
        for (int64_t k = 0; k < n; k++) ((float *)dst)[k] += ((const float *)src)[k];
    else if (dt == MG_FLOAT64)
        for (int64_t k = 0; k < n; k++) ((double *)dst)[k] += ((const double *)src)[k];
    else if (dt == MG_INT64)
        for (int64_t k = 0; k < n; k++)
            ((int64_t *)dst)[k] = (int64_t)((uint64_t)((int64_t *)dst)[k] +
                                            (uint64_t)((const int64_t *)src)[k]);
    else
        for (int64_t k = 0; k < n; k++) ((bool *)dst)[k] = ((bool *)dst)[k] || ((const bool *)src)[k];
}

static mg_tensor *index_add_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *g = in[0], *idx = in[1];
    int axis = p->axis;
    int64_t len = p->shape[axis], m = mg_numel(idx), outer, inner;
    if (check_idx("repeat_backward", idx, len)) return NULL;
    mg_tensor *gc = mg_is_contiguous(g) ? mg_retain(g) : mg_copy_of(g, g->dtype);
    mg_tensor *out = gc ? mg_zeros(p->ndim, p->shape, g->dtype) : NULL;
    if (!out) {
        mg_release(gc);
        return NULL;
    }
    axis_split(p->ndim, p->shape, axis, &outer, &inner);
    size_t row = (size_t)inner * mg_dtype_size(g->dtype);
    const char *src = mg_data_ptr(gc);
    char *dst = mg_data_ptr(out);
    const int64_t *ix = mg_data_ptr(idx);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < m; j++)
            add_row(dst + (size_t)(o * len + ix[j]) * row, src + (size_t)(o * m + j) * row, inner,
                    g->dtype);
    mg_release(gc);
    return out;
}

static int take_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
static int index_add_bw(mg_node *n, mg_tensor *g, mg_tensor **gin);
#define S1 MG_SAVES_IN1
static const mg_opdef op_repeat = {"repeat", "RepeatBackward", 2, MG_KIND_OTHER, MG_RES_SAME, {0},
    {0}, take_fw, take_bw, S1, NULL};
static const mg_opdef op_tile = {"tile", "TileBackward", 2, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    take_fw, take_bw, S1, NULL};
static const mg_opdef op_index_add = {"repeat_backward", "RepeatBackwardBackward", 2,
    MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, index_add_fw, index_add_bw, S1, NULL};

static int take_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_params p = n->p;
    p.ndim = n->inputs[0]->ndim;
    memcpy(p.shape, n->inputs[0]->shape, sizeof p.shape);
    mg_tensor *in[2] = {g, n->inputs[1]};
    gin[0] = mg_apply(&op_index_add, in, &p);
    return gin[0] ? MG_OK : mg_errcode();
}
static int index_add_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *in[2] = {g, n->inputs[1]};
    gin[0] = mg_apply(&op_repeat, in, &n->p);
    return gin[0] ? MG_OK : mg_errcode();
}

static mg_tensor *gather_axis(const mg_opdef *op, mg_tensor *a, int axis, mg_tensor *idx) {
    mg_params p = params0();
    p.axis = axis;
    mg_tensor *in[2] = {a, idx};
    mg_tensor *r = idx ? mg_apply(op, in, &p) : NULL;
    mg_release(idx);
    return r;
}

mg_tensor *mg_repeat(mg_tensor *a, int64_t n, const int64_t *repeats, int axis) {
    if (check_tensor("repeat", a)) return NULL;
    if (axis == MG_NOAXIS) {
        mg_tensor *f = mg_ravel(a);
        mg_tensor *r = f ? mg_repeat(f, n, repeats, 0) : NULL;
        mg_release(f);
        return r;
    }
    if (axis < 0 || axis >= a->ndim) {
        mg_seterr(MG_EINDEX, "repeat: axis out of range for a tensor with %d axes", a->ndim);
        return NULL;
    }
    int64_t len = a->shape[axis], total = 0;
    if (n != 1 && n != len) {
        mg_seterr(MG_ESHAPE, "repeat: got %lld counts for an axis of length %lld; give one count "
                  "or one per element", (long long)n, (long long)len);
        return NULL;
    }
    for (int64_t i = 0; i < len; i++) {
        int64_t r = repeats[n == 1 ? 0 : i];
        if (r < 0 || r > SIZE_LIMIT - total) {
            mg_seterr(r < 0 ? MG_EVALUE : MG_ENOMEM, r < 0 ? "repeat: repeats must be >= 0, got %lld"
                      : "repeat: the result would be too large (%lld)", (long long)r);
            return NULL;
        }
        total += r;
    }
    if (n == 1 && repeats[0] < 0) {
        mg_seterr(MG_EVALUE, "repeat: repeats must be >= 0, got %lld", (long long)repeats[0]);
        return NULL;
    }
    mg_tensor *idx = mg_empty(1, &total, MG_INT64);
    if (!idx) return NULL;
    int64_t *ix = mg_data_ptr(idx), k = 0;
    for (int64_t i = 0; i < len; i++)
        for (int64_t r = repeats[n == 1 ? 0 : i]; r > 0; r--) ix[k++] = i;
    return gather_axis(&op_repeat, a, axis, idx);
}

/* The input repeated reps times along axis (indices 0..len-1, reps times). */
static mg_tensor *tile_axis(mg_tensor *a, int axis, int64_t reps) {
    int64_t len = a->shape[axis];
    if (len > 0 && reps > SIZE_LIMIT / len) {
        mg_seterr(MG_ENOMEM, "tile: the result would be too large");
        return NULL;
    }
    int64_t total = len * reps;
    mg_tensor *idx = mg_empty(1, &total, MG_INT64);
    if (!idx) return NULL;
    int64_t *ix = mg_data_ptr(idx);
    for (int64_t k = 0; k < total; k++) ix[k] = k % len;
    return gather_axis(&op_tile, a, axis, idx);
}

mg_tensor *mg_tile(mg_tensor *a, int n, const int64_t *reps) {
    if (check_tensor("tile", a)) return NULL;
    if (n < 0 || n > MG_MAXDIM) {
        mg_seterr(MG_ESHAPE, "tile: %d repetition counts, at most %d axes are allowed", n, MG_MAXDIM);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (reps[i] < 0) {
            mg_seterr(MG_EVALUE, "tile: repetition counts must be >= 0, got %lld", (long long)reps[i]);
            return NULL;
        }
    /* as NumPy: the shorter of reps and the shape gets leading 1s */
    mg_tensor *cur = n > a->ndim ? mg_expand_dims(a, (1u << (n - a->ndim)) - 1u) : mg_retain(a);
    int lead = cur ? cur->ndim - n : 0;
    bool any = false;
    for (int i = 0; cur && i < n; i++) {
        if (reps[i] == 1) continue;
        mg_tensor *next = tile_axis(cur, lead + i, reps[i]);
        mg_release(cur);
        cur = next;
        any = true;
    }
    if (cur && !any) { /* NumPy returns a copy */
        mg_tensor *c = mg_clone(cur);
        mg_release(cur);
        cur = c;
    }
    return cur;
}

/* ---- flip ---------------------------------------------------------------------------- */
mg_tensor *mg_flip(mg_tensor *a, uint32_t axes) {
    if (check_tensor("flip", a)) return NULL;
    if (axes == MG_ALLAXES) axes = a->ndim ? (uint32_t)((1ull << a->ndim) - 1) : 0;
    for (int i = a->ndim; i < 32; i++)
        if (axes & (1u << i)) {
            mg_seterr(MG_EINDEX, "flip: axis out of range for a tensor with %d axes", a->ndim);
            return NULL;
        }
    mg_index idx[MG_MAXDIM];
    int nidx = 0;
    for (int i = 0; i < a->ndim; i++) {
        idx[i].kind = MG_IDX_ALL;
        if (!((axes >> i) & 1u)) continue;
        idx[i].kind = MG_IDX_SLICE;
        idx[i].count = a->shape[i];
        idx[i].start = a->shape[i] ? a->shape[i] - 1 : 0;
        idx[i].step = -1;
        nidx = i + 1;
    }
    return mg_index_get(a, nidx, idx);
}

/* ---- pad ------------------------------------------------------------------------------
 * p->shape: the output's shape; p->ival: the widths before each axis;
 * p->dval[0]: the fill value. */
static mg_tensor *pad_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *a = in[0];
    mg_tensor *out = mg_full(p->ndim, p->shape, p->dval[0], a->dtype);
    if (!out) return NULL;
    int64_t off = 0;
    for (int i = 0; i < a->ndim; i++) off += p->ival[i] * out->stride[i];
    mg_tensor *v = mg_view(out, a->ndim, a->shape, out->stride, off);
    int rc = v ? mg_copy_strided(v, a) : MG_ENOMEM;
    mg_release(v);
    if (rc) {
        mg_release(out);
        return NULL;
    }
    return out;
}
static int pad_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    const mg_tensor *a = n->inputs[0];
    mg_index idx[MG_MAXDIM];
    for (int i = 0; i < a->ndim; i++) {
        idx[i].kind = MG_IDX_SLICE;
        idx[i].start = n->p.ival[i];
        idx[i].count = a->shape[i];
        idx[i].step = 1;
    }
    gin[0] = mg_index_get(g, a->ndim, idx);
    return gin[0] ? MG_OK : mg_errcode();
}
static const mg_opdef op_pad = {"pad", "PadBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    pad_fw, pad_bw, 0, NULL};

mg_tensor *mg_pad(mg_tensor *a, const int64_t *before, const int64_t *after, double value) {
    if (check_tensor("pad", a)) return NULL;
    if (!mg_dtype_is_float(a->dtype) && !(value >= -9.2233720368547758e18 && value < 9.2233720368547758e18)) {
        mg_seterr(MG_EVALUE, "pad: the value %g cannot be stored in a %s tensor", value,
                  mg_dtype_name(a->dtype));
        return NULL;
    }
    mg_params p = params0();
    p.ndim = a->ndim;
    p.dval[0] = value;
    for (int i = 0; i < a->ndim; i++) {
        if (before[i] < 0 || after[i] < 0) {
            mg_seterr(MG_EVALUE, "pad: pad widths must be >= 0, got %lld",
                      (long long)(before[i] < 0 ? before[i] : after[i]));
            return NULL;
        }
        if (before[i] > SIZE_LIMIT - a->shape[i] || after[i] > SIZE_LIMIT - a->shape[i] - before[i]) {
            mg_seterr(MG_ENOMEM, "pad: the result would be too large");
            return NULL;
        }
        p.ival[i] = before[i];
        p.shape[i] = a->shape[i] + before[i] + after[i];
    }
    return mg_apply(&op_pad, &a, &p);
}
