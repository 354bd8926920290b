/* ops_shape.c — shape and layout ops: reshape, permute/transpose,
 * broadcast_to, basic indexing (read as a view, scatter for its backward,
 * differentiable writes), dtype conversion, clone and contiguous. */
#include "internal.h"

#include <string.h>

static mg_params params0(void) {
    mg_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* ---- reshape --------------------------------------------------------------- */
static mg_tensor *reshape_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *a = in[0];
    int64_t st[MG_MAXDIM];
    mg_contiguous_strides(p->ndim, p->shape, st);
    if (mg_is_contiguous(a)) return mg_view(a, p->ndim, p->shape, st, a->offset);
    mg_tensor *c = mg_copy_of(a, a->dtype);
    mg_tensor *v = c ? mg_view(c, p->ndim, p->shape, st, 0) : NULL;
    mg_release(c);
    return v;
}
static int reshape_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_reshape(g, n->inputs[0]->ndim, n->inputs[0]->shape);
    return gin[0] ? MG_OK : mg_errcode();
}
const mg_opdef mg_op_reshape = {"reshape", "ReshapeBackward", 1, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, reshape_fw, reshape_bw, 0, NULL};

mg_tensor *mg_reshape(mg_tensor *a, int ndim, const int64_t *shape) {
    if (!a) return mg_apply(&mg_op_reshape, &a, NULL);
    char sa[256], sb[256];
    if (ndim < 0 || ndim > MG_MAXDIM) {
        mg_seterr(MG_ESHAPE, "reshape: a tensor has at most %d axes, got %d", MG_MAXDIM, ndim);
        return NULL;
    }
    mg_params p = params0();
    p.ndim = ndim;
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        p.shape[i] = shape[i];
        if (shape[i] == -1 && infer < 0) infer = i;
        else if (shape[i] < 0) goto bad;
        else if (shape[i] > 0 && known > INT64_MAX / shape[i]) goto bad; /* > any tensor */
        else known *= shape[i];
    }
    int64_t n = mg_numel(a), m;
    if (infer >= 0) {
        if (known == 0 || n % known) goto bad;
        p.shape[infer] = n / known;
    } else if (known != n) goto bad;
    if (mg_shape_numel(ndim, p.shape, &m)) goto bad; /* e.g. {0, 2^62, 2^62} */
    return mg_apply(&mg_op_reshape, &a, &p);
bad:
    mg_seterr(MG_ESHAPE, "reshape: cannot reshape %s (%lld elements) into %s",
              mg_shape_str(a->ndim, a->shape, sa, sizeof sa), (long long)mg_numel(a),
              mg_shape_str(ndim, shape, sb, sizeof sb));
    return NULL;
}

/* ---- permute ---------------------------------------------------------------- */
static mg_tensor *permute_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *a = in[0];
    int64_t shape[MG_MAXDIM], st[MG_MAXDIM];
    for (int i = 0; i < a->ndim; i++) {
        shape[i] = a->shape[p->perm[i]];
        st[i] = a->stride[p->perm[i]];
    }
    return mg_view(a, a->ndim, shape, st, a->offset);
}
static int permute_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    int inv[MG_MAXDIM];
    for (int i = 0; i < g->ndim; i++) inv[n->p.perm[i]] = i;
    gin[0] = mg_permute(g, inv);
    return gin[0] ? MG_OK : mg_errcode();
}
const mg_opdef mg_op_permute = {"permute", "PermuteBackward", 1, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, permute_fw, permute_bw, 0, NULL};

mg_tensor *mg_permute(mg_tensor *a, const int *perm) {
    if (!a) return mg_apply(&mg_op_permute, &a, NULL);
    mg_params p = params0();
    bool seen[MG_MAXDIM] = {false};
    for (int i = 0; i < a->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= a->ndim || seen[perm[i]]) {
            mg_seterr(MG_EINDEX, "permute: the axes must be a permutation of 0..%d", a->ndim - 1);
            return NULL;
        }
        seen[perm[i]] = true;
        p.perm[i] = perm[i];
    }
    return mg_apply(&mg_op_permute, &a, &p);
}

mg_tensor *mg_transpose(mg_tensor *a) {
    int perm[MG_MAXDIM];
    if (!a) return mg_apply(&mg_op_permute, &a, NULL);
    for (int i = 0; i < a->ndim; i++) perm[i] = a->ndim - 1 - i;
    return mg_permute(a, perm);
}

mg_tensor *mg_swapaxes(mg_tensor *a, int i, int j) {
    int perm[MG_MAXDIM];
    if (!a) return mg_apply(&mg_op_permute, &a, NULL);
    if (i < 0 || j < 0 || i >= a->ndim || j >= a->ndim) {
        mg_seterr(MG_EINDEX, "swapaxes: axes %d and %d out of range for a tensor with %d axes", i,
                  j, a->ndim);
        return NULL;
    }
    for (int k = 0; k < a->ndim; k++) perm[k] = k;
    perm[i] = j;
    perm[j] = i;
    return mg_permute(a, perm);
}

/* ---- broadcast_to ----------------------------------------------------------- */
static mg_tensor *broadcast_fw(mg_tensor **in, const mg_params *p) {
    int64_t st[MG_MAXDIM];
    mg_broadcast_strides(in[0], p->ndim, p->shape, st);
    return mg_view(in[0], p->ndim, p->shape, st, in[0]->offset);
}
static int broadcast_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = mg_sum_to(g, n->inputs[0]->ndim, n->inputs[0]->shape);
    return gin[0] ? MG_OK : mg_errcode();
}
const mg_opdef mg_op_broadcast_to = {"broadcast_to", "ExpandBackward", 1, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, broadcast_fw, broadcast_bw, 0, NULL};

mg_tensor *mg_broadcast_to(mg_tensor *a, int ndim, const int64_t *shape) {
    if (!a) return mg_apply(&mg_op_broadcast_to, &a, NULL);
    char sa[256], sb[256];
    bool ok = ndim >= a->ndim && ndim <= MG_MAXDIM;
    for (int i = 0; ok && i < a->ndim; i++) {
        int64_t d = a->shape[i], t = shape[ndim - a->ndim + i];
        ok = d == t || d == 1;
    }
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] >= 0;
    if (!ok) {
        mg_seterr(MG_ESHAPE, "broadcast_to: cannot broadcast shape %s to %s",
                  mg_shape_str(a->ndim, a->shape, sa, sizeof sa), mg_shape_str(ndim, shape, sb, sizeof sb));
        return NULL;
    }
    int64_t n; /* a view, but its element count must still be countable */
    if (mg_shape_numel(ndim, shape, &n)) {
        mg_seterr(MG_ESHAPE, "broadcast_to: the shape %s is too large",
                  mg_shape_str(ndim, shape, sb, sizeof sb));
        return NULL;
    }
    if (ndim == a->ndim && memcmp(shape, a->shape, (size_t)ndim * sizeof *shape) == 0)
        return mg_retain(a);
    mg_params p = params0();
    p.ndim = ndim;
    memcpy(p.shape, shape, (size_t)ndim * sizeof *shape);
    return mg_apply(&mg_op_broadcast_to, &a, &p);
}

/* ---- basic indexing ---------------------------------------------------------- */
static int check_index(const char *op, const mg_tensor *a, int n, const mg_index *idx) {
    if (n > a->ndim)
        return mg_seterr(MG_EINDEX, "%s: too many indices (%d) for a tensor with %d axes", op, n,
                         a->ndim);
    for (int i = 0; i < n; i++) {
        int64_t len = a->shape[i];
        const mg_index *x = &idx[i];
        if (x->kind == MG_IDX_INT && (x->start < 0 || x->start >= len))
            return mg_seterr(MG_EINDEX, "%s: index %lld is out of range for axis %d of size %lld",
                             op, (long long)x->start, i, (long long)len);
        if (x->kind != MG_IDX_ALL && x->kind != MG_IDX_INT && x->kind != MG_IDX_SLICE)
            return mg_seterr(MG_EVALUE, "%s: unknown index kind %d on axis %d", op, (int)x->kind, i);
        if (x->kind == MG_IDX_SLICE) {
            if (!mg_slice_in_range(x, len))
                return mg_seterr(MG_EINDEX, "%s: slice (start %lld, count %lld, step %lld) is out "
                                 "of range for axis %d of size %lld", op, (long long)x->start,
                                 (long long)x->count, (long long)x->step, i, (long long)len);
        }
    }
    return MG_OK;
}

/* The view a[idx] (no recording). */
static mg_tensor *index_view(mg_tensor *a, int n, const mg_index *idx) {
    int64_t shape[MG_MAXDIM], st[MG_MAXDIM], off = a->offset;
    int nd = 0;
    for (int i = 0; i < a->ndim; i++) {
        const mg_index *x = i < n ? &idx[i] : NULL;
        if (x && x->kind == MG_IDX_INT) {
            off += x->start * a->stride[i];
        } else if (x && x->kind == MG_IDX_SLICE) {
            if (x->count > 0) off += x->start * a->stride[i];
            shape[nd] = x->count;
            /* one element (or none): the step does not matter, and may be huge */
            st[nd++] = x->count > 1 ? a->stride[i] * x->step : a->stride[i];
        } else {
            shape[nd] = a->shape[i];
            st[nd++] = a->stride[i];
        }
    }
    return mg_view(a, nd, shape, st, off);
}

static mg_tensor *index_get_fw(mg_tensor **in, const mg_params *p) {
    return index_view(in[0], p->nidx, p->idx);
}

/* zeros of the indexed tensor's shape with g written at idx */
static mg_tensor *scatter_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *z = mg_zeros(p->ndim, p->shape, in[0]->dtype);
    mg_tensor *v = z ? index_view(z, p->nidx, p->idx) : NULL;
    int rc = v ? mg_copy_strided(v, in[0]) : MG_ENOMEM;
    mg_release(v);
    if (rc) {
        mg_release(z);
        return NULL;
    }
    return z;
}

static mg_tensor *index_with(const mg_opdef *op, mg_tensor *a, const mg_params *p) {
    return mg_apply(op, &a, p);
}

static int index_get_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_params p = n->p;
    p.ndim = n->inputs[0]->ndim;
    memcpy(p.shape, n->inputs[0]->shape, sizeof p.shape);
    gin[0] = index_with(&mg_op_index_scatter, g, &p);
    return gin[0] ? MG_OK : mg_errcode();
}
static int scatter_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = index_with(&mg_op_index_get, g, &n->p);
    return gin[0] ? MG_OK : mg_errcode();
}
const mg_opdef mg_op_index_get = {"index", "IndexBackward", 1, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, index_get_fw, index_get_bw, 0, NULL};
const mg_opdef mg_op_index_scatter = {"index_scatter", "IndexScatterBackward", 1, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, scatter_fw, scatter_bw, 0, NULL};

static int index_params(const char *op, mg_tensor *a, int n, const mg_index *idx, mg_params *p) {
    if (n < 0 || check_index(op, a, n, idx)) return n < 0 ? mg_seterr(MG_EINDEX, "%s: bad index", op) : MG_EINDEX;
    *p = params0();
    p->nidx = n;
    memcpy(p->idx, idx, (size_t)n * sizeof *idx);
    return MG_OK;
}

mg_tensor *mg_index_get(mg_tensor *a, int n, const mg_index *idx) {
    mg_params p;
    if (!a) return mg_apply(&mg_op_index_get, &a, NULL);
    if (index_params("index", a, n, idx, &p)) return NULL;
    return mg_apply(&mg_op_index_get, &a, &p);
}

/* Writes v (broadcast) into the view dst, copying v first if they overlap. */
static int write_into(mg_tensor *dst, mg_tensor *v) {
    char sa[256], sb[256];
    int64_t st[MG_MAXDIM];
    bool ok = v->ndim <= dst->ndim;
    for (int i = 0; ok && i < v->ndim; i++) {
        int64_t d = v->shape[i], t = dst->shape[dst->ndim - v->ndim + i];
        ok = d == t || d == 1;
    }
    if (!ok)
        return mg_seterr(MG_ESHAPE, "setitem: cannot write a value of shape %s into a region of shape %s",
                         mg_shape_str(v->ndim, v->shape, sa, sizeof sa),
                         mg_shape_str(dst->ndim, dst->shape, sb, sizeof sb));
    mg_tensor *src = v->storage == dst->storage ? mg_copy_of(v, v->dtype) : mg_retain(v);
    if (!src) return MG_ENOMEM;
    mg_broadcast_strides(src, dst->ndim, dst->shape, st);
    mg_tensor *b = mg_view(src, dst->ndim, dst->shape, st, src->offset);
    int rc = b ? mg_copy_strided(dst, b) : MG_ENOMEM;
    mg_release(b);
    mg_release(src);
    dst->storage->version++;
    return rc;
}

/* out = a with v written at idx (out of place). */
static mg_tensor *index_put_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *out = mg_copy_of(in[0], in[0]->dtype);
    mg_tensor *v = out ? index_view(out, p->nidx, p->idx) : NULL;
    int rc = v ? write_into(v, in[1]) : MG_ENOMEM;
    mg_release(v);
    if (rc) {
        mg_release(out);
        return NULL;
    }
    return out;
}
static int index_put_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    if (n->inputs[0]->requires_grad) { /* g with the overwritten region zeroed */
        mg_tensor *z = mg_scalar(0, g->dtype);
        mg_tensor *in[2] = {g, z};
        gin[0] = z ? mg_apply(&mg_op_index_put, in, &n->p) : NULL;
        mg_release(z);
        if (!gin[0]) return mg_errcode();
    }
    if (n->inputs[1]->requires_grad) {
        gin[1] = index_with(&mg_op_index_get, g, &n->p);
        if (!gin[1]) return mg_errcode();
    }
    return MG_OK;
}
const mg_opdef mg_op_index_put = {"setitem", "SetitemBackward", 2, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, index_put_fw, index_put_bw, 0, NULL};

mg_tensor *mg_index_set(mg_tensor *a, int n, const mg_index *idx, mg_tensor *v) {
    mg_params p;
    if (!a || !v) {
        mg_seterr(MG_EVALUE, "setitem: missing tensor");
        return NULL;
    }
    if (index_params("setitem", a, n, idx, &p)) return NULL;
    if (!mg_grad_enabled() || (!a->requires_grad && !v->requires_grad)) {
        mg_tensor *view = index_view(a, n, idx);
        int rc = view ? write_into(view, v) : MG_ENOMEM;
        mg_release(view);
        return rc ? NULL : mg_retain(a);
    }
    if (!mg_dtype_is_float(a->dtype)) {
        mg_seterr(MG_EDTYPE, "setitem: cannot write a variable into a %s tensor", mg_dtype_name(a->dtype));
        return NULL;
    }
    mg_tensor *in[2] = {a, v};
    mg_tensor *out = mg_apply(&mg_op_index_put, in, &p);
    if (!out) return NULL;
    return mg_write_back(a, out);
}

mg_tensor *mg_write_back(mg_tensor *a, mg_tensor *out) {
    if (mg_copy_strided(a, out)) {
        mg_release(out);
        return NULL;
    }
    a->storage->version++;
    mg_tensor *alias[2] = {out, out->grad_fn ? out->grad_fn->out : NULL};
    for (int k = 0; k < 2; k++) {
        mg_tensor *t = alias[k];
        if (!t) continue;
        mg_storage_release(t->storage);
        t->storage = a->storage;
        t->storage->refcount++;
        t->offset = a->offset;
        memcpy(t->stride, a->stride, sizeof t->stride);
    }
    if (out->grad_fn) out->grad_fn->out_version = a->storage->version; /* made now, here */
    return out;
}

int mg_copy_into(mg_tensor *dst, mg_tensor *src) {
    if (!dst || !src) return mg_seterr(MG_EVALUE, "copy: missing tensor");
    return write_into(dst, src);
}

/* ---- dtype conversion, clone, contiguous --------------------------------- */
static mg_tensor *astype_fw(mg_tensor **in, const mg_params *p) { return mg_copy_of(in[0], p->dtype); }
static mg_tensor *clone_fw(mg_tensor **in, const mg_params *p) {
    (void)p;
    return mg_copy_of(in[0], in[0]->dtype);
}
/* The engine casts the gradient back to the input's dtype. */
static int identity_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    (void)n;
    gin[0] = mg_retain(g);
    return MG_OK;
}
const mg_opdef mg_op_astype = {"astype", "ToCopyBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0},
    {0}, astype_fw, identity_bw, 0, NULL};
const mg_opdef mg_op_clone = {"clone", "CloneBackward", 1, MG_KIND_OTHER, MG_RES_SAME, {0}, {0},
    clone_fw, identity_bw, 0, NULL};

mg_tensor *mg_astype(mg_tensor *a, mg_dtype dt) {
    mg_params p = params0();
    p.dtype = dt;
    if (a && a->dtype == dt) return mg_retain(a);
    return mg_apply(&mg_op_astype, &a, &p);
}
mg_tensor *mg_clone(mg_tensor *a) { return mg_apply(&mg_op_clone, &a, NULL); }
mg_tensor *mg_contiguous(mg_tensor *a) {
    if (a && mg_is_contiguous(a)) return mg_retain(a);
    return mg_clone(a);
}
