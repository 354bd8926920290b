/* ops_gather.c — indexing with int64 index tensors and bool masks (NumPy's
 * advanced indexing).  A key becomes a plan: its slices, taken first as a
 * view, and one int64 tensor L of flat positions over the indexed axes
 * (masks give the positions of their true elements, integers 0-d indices,
 * all broadcast together).  Three recorded ops work on such a plan: gather
 * (reads the rows at L), scatter_add (its backward: adds the rows back, so
 * repeated indices accumulate) and put (writes rows at L out of place; the
 * last write of a repeated index wins).  mg_index_adv_get / _set at the end. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The three ops read these mg_params fields:
 *   perm         the indexed tensor's axes, the indexed ones first
 *   axis         k, how many axes are indexed
 *   ival[0]      pos: where L's axes go among the other axes
 *   ndim, shape  the indexed tensor's shape (scatter_add makes it)
 * The gathered shape is R[:pos] + L.shape + R[pos:], R the shape of the
 * axes that are not indexed, in order. */

typedef struct {
    int k, nr, nb, pos;
    int64_t adv_len[MG_MAXDIM], adv_st[MG_MAXDIM]; /* indexed axes: sizes, strides */
    int64_t r_shape[MG_MAXDIM], r_st[MG_MAXDIM];   /* the other axes */
    int64_t b_shape[MG_MAXDIM];                    /* L's shape */
    int64_t rows;                                  /* product of adv_len */
} layout;

/* The layout of an indexed tensor of `shape` (strides st, may be NULL). */
static int make_layout(layout *l, int ndim, const int64_t *shape, const int64_t *st,
                       const mg_params *p, const mg_tensor *L) {
    if (p->axis < 1 || p->axis > ndim || ndim - p->axis + L->ndim > MG_MAXDIM ||
        p->ival[0] < 0 || p->ival[0] > ndim - p->axis || L->dtype != MG_INT64)
        return mg_seterr(MG_EVALUE, "gather: inconsistent parameters");
    l->k = p->axis;
    l->nr = ndim - p->axis;
    l->nb = L->ndim;
    l->pos = (int)p->ival[0];
    l->rows = 1;
    for (int i = 0; i < ndim; i++) {
        int ax = p->perm[i];
        if (ax < 0 || ax >= ndim) return mg_seterr(MG_EVALUE, "gather: inconsistent parameters");
        int64_t s = st ? st[ax] : 0;
        if (i < l->k) {
            l->adv_len[i] = shape[ax];
            l->adv_st[i] = s;
            l->rows *= shape[ax];
        } else {
            l->r_shape[i - l->k] = shape[ax];
            l->r_st[i - l->k] = s;
        }
    }
    for (int j = 0; j < l->nb; j++) l->b_shape[j] = L->shape[j];
    return MG_OK;
}

/* The gathered shape; returns its ndim. */
static int gathered_shape(const layout *l, int64_t *shape) {
    int nd = 0;
    for (int i = 0; i < l->pos; i++) shape[nd++] = l->r_shape[i];
    for (int j = 0; j < l->nb; j++) shape[nd++] = l->b_shape[j];
    for (int i = l->pos; i < l->nr; i++) shape[nd++] = l->r_shape[i];
    return nd;
}

/* L as a contiguous int64 tensor whose values are all rows of l. */
static mg_tensor *checked_rows(mg_tensor *L, const layout *l) {
    mg_tensor *c = mg_is_contiguous(L) ? mg_retain(L) : mg_copy_of(L, MG_INT64);
    if (!c) return NULL;
    const int64_t *d = mg_data_ptr(c);
    for (int64_t i = 0, n = mg_numel(c); i < n; i++)
        if (d[i] < 0 || d[i] >= l->rows) {
            mg_release(c);
            mg_seterr(MG_EINDEX, "gather: row %lld out of range (%lld rows)", (long long)d[i],
                      (long long)l->rows);
            return NULL;
        }
    return c;
}

/* Strides that read t as if broadcast to (nd, shape), or an error. */
static int bcast_strides(const char *op, const mg_tensor *t, int nd, const int64_t *shape,
                         int64_t *st) {
    bool ok = t->ndim <= nd;
    for (int i = 0; ok && i < t->ndim; i++) {
        int64_t d = t->shape[i], want = shape[nd - t->ndim + i];
        ok = d == want || d == 1;
    }
    if (!ok) {
        char sa[256], sb[256];
        return mg_seterr(MG_ESHAPE, "%s: cannot write a value of shape %s into a selection of "
                         "shape %s", op, mg_shape_str(t->ndim, t->shape, sa, sizeof sa),
                         mg_shape_str(nd, shape, sb, sizeof sb));
    }
    mg_broadcast_strides(t, nd, shape, st);
    return MG_OK;
}

/* ---- the row loop ------------------------------------------------------------ */
typedef enum { ROW_GATHER, ROW_PUT, ROW_ADD } row_mode;
typedef struct {
    row_mode mode;
    mg_dtype dt;
    size_t esz;
} row_ctx;

/* One run: p[0] walks the indexed tensor's row, p[1] the gathered block. */
static void row_run(char **p, const int64_t *st, int64_t n, void *vctx) {
    const row_ctx *c = vctx;
    int64_t es = (int64_t)c->esz;
    if (c->mode != ROW_ADD && st[0] == 1 && st[1] == 1) { /* a contiguous run: one copy */
        if (c->mode == ROW_GATHER) memcpy(p[1], p[0], (size_t)(n * es));
        else memmove(p[0], p[1], (size_t)(n * es));
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        char *r = p[0] + i * st[0] * es, *g = p[1] + i * st[1] * es;
        if (c->mode == ROW_GATHER) memcpy(g, r, c->esz);
        else if (c->mode == ROW_PUT) memcpy(r, g, c->esz);
        else if (c->dt == MG_FLOAT32) *(float *)r += *(const float *)g;
        else if (c->dt == MG_FLOAT64) *(double *)r += *(const double *)g;
        else *(int64_t *)r = (int64_t)((uint64_t)*(int64_t *)r + (uint64_t)*(const int64_t *)g);
    }
}

/* For every position b of L: the row L[b] of `rows` (strides in l) against
 * the block at b of `gath` (strides gst, in the gathered shape). */
static void row_loop(const layout *l, char *rows, char *gath, const int64_t *gst, const int64_t *L,
                     row_ctx *c) {
    int64_t bst[MG_MAXDIM], gr_st[MG_MAXDIM], bi[MG_MAXDIM] = {0}, nb = 1, goff = 0;
    int64_t es = (int64_t)c->esz;
    for (int j = 0; j < l->nb; j++) {
        bst[j] = gst[l->pos + j];
        nb *= l->b_shape[j];
    }
    for (int i = 0; i < l->nr; i++) gr_st[i] = gst[i < l->pos ? i : i + l->nb];
    const int64_t *st[2] = {l->r_st, gr_st};
    size_t esz[2] = {c->esz, c->esz};
    for (int64_t b = 0; b < nb; b++) {
        int64_t rest = L[b], roff = 0;
        for (int j = l->k - 1; j >= 0; j--) {
            roff += (rest % l->adv_len[j]) * l->adv_st[j];
            rest /= l->adv_len[j];
        }
        char *base[2] = {rows + roff * es, gath + goff * es};
        mg_strided_walk(l->nr, l->r_shape, 2, base, st, esz, row_run, c);
        for (int d = l->nb - 1; d >= 0; d--) { /* next b */
            goff += bst[d];
            if (++bi[d] < l->b_shape[d]) break;
            goff -= bst[d] * l->b_shape[d];
            bi[d] = 0;
        }
    }
}

/* Writes v (broadcast to the gathered shape, cast to t's dtype) into the
 * rows of t at L, in place.  v is copied first, so it may overlap t. */
static int put_into(const char *op, mg_tensor *t, mg_tensor *L, mg_tensor *v, const mg_params *p) {
    layout l;
    int64_t shape[MG_MAXDIM], vst[MG_MAXDIM];
    if (make_layout(&l, t->ndim, t->shape, t->stride, p, L)) return mg_errcode();
    int nd = gathered_shape(&l, shape);
    if (bcast_strides(op, v, nd, shape, vst)) return mg_errcode();
    mg_tensor *Lc = checked_rows(L, &l);
    mg_tensor *vc = Lc ? mg_copy_of(v, t->dtype) : NULL;
    if (!vc) {
        mg_release(Lc);
        return mg_errcode();
    }
    mg_broadcast_strides(vc, nd, shape, vst);
    row_ctx c = {ROW_PUT, t->dtype, mg_dtype_size(t->dtype)};
    row_loop(&l, mg_data_ptr(t), mg_data_ptr(vc), vst, mg_data_ptr(Lc), &c);
    mg_release(vc);
    mg_release(Lc);
    return MG_OK;
}

/* ---- the ops -------------------------------------------------------------------- */
static const mg_opdef op_gather, op_scatter_add, op_put;

/* out = in[0][rows L], in the gathered shape */
static mg_tensor *gather_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *a = in[0];
    layout l;
    int64_t shape[MG_MAXDIM];
    if (make_layout(&l, a->ndim, a->shape, a->stride, p, in[1])) return NULL;
    mg_tensor *Lc = checked_rows(in[1], &l);
    mg_tensor *out = Lc ? mg_empty(gathered_shape(&l, shape), shape, a->dtype) : NULL;
    if (out) {
        row_ctx c = {ROW_GATHER, a->dtype, mg_dtype_size(a->dtype)};
        row_loop(&l, mg_data_ptr(a), mg_data_ptr(out), out->stride, mg_data_ptr(Lc), &c);
    }
    mg_release(Lc);
    return out;
}

/* zeros of the indexed shape (p->shape) with in[0]'s blocks added at rows L */
static mg_tensor *scatter_add_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *g = in[0];
    layout l;
    int64_t shape[MG_MAXDIM], gst[MG_MAXDIM];
    if (g->dtype == MG_BOOL) {
        mg_seterr(MG_EDTYPE, "scatter_add: cannot add bool values");
        return NULL;
    }
    mg_tensor *out = mg_zeros(p->ndim, p->shape, g->dtype);
    if (!out) return NULL;
    mg_tensor *Lc = NULL;
    if (make_layout(&l, out->ndim, out->shape, out->stride, p, in[1]) ||
        bcast_strides("scatter_add", g, gathered_shape(&l, shape), shape, gst) ||
        !(Lc = checked_rows(in[1], &l))) {
        mg_release(out);
        return NULL;
    }
    row_ctx c = {ROW_ADD, g->dtype, mg_dtype_size(g->dtype)};
    row_loop(&l, mg_data_ptr(out), mg_data_ptr(g), gst, mg_data_ptr(Lc), &c);
    mg_release(Lc);
    return out;
}

/* out = a copy of in[0] with in[2] written at rows in[1] */
static mg_tensor *put_fw(mg_tensor **in, const mg_params *p) {
    mg_tensor *out = mg_copy_of(in[0], in[0]->dtype);
    if (out && put_into("setitem", out, in[1], in[2], p)) {
        mg_release(out);
        return NULL;
    }
    return out;
}

static mg_tensor *apply_gather(mg_tensor *a, mg_tensor *L, const mg_params *p) {
    mg_tensor *in[2] = {a, L};
    return mg_apply(&op_gather, in, p);
}

static int gather_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *in[2] = {g, n->inputs[1]};
    gin[0] = mg_apply(&op_scatter_add, in, &n->p);
    return gin[0] ? MG_OK : mg_errcode();
}

static int scatter_add_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    gin[0] = apply_gather(g, n->inputs[1], &n->p);
    return gin[0] ? MG_OK : mg_errcode();
}

/* *w = 1 at the positions of L that write their row last, 0 at those a
 * later position overwrites, shaped to broadcast against the gathered
 * shape; *w = NULL when no row repeats. */
static int last_writers(mg_tensor *L, const mg_params *p, mg_dtype dt, mg_tensor **w) {
    layout l;
    int64_t shape[MG_MAXDIM];
    bool repeats = false;
    *w = NULL;
    if (make_layout(&l, p->ndim, p->shape, NULL, p, L)) return mg_errcode();
    mg_tensor *Lc = checked_rows(L, &l);
    if (!Lc) return mg_errcode();
    int64_t n = mg_numel(Lc);
    const int64_t *d = mg_data_ptr(Lc);
    unsigned char *seen = n ? calloc((size_t)l.rows, 1) : NULL;
    int rc = n && !seen ? mg_seterr(MG_ENOMEM, "setitem: out of memory") : MG_OK;
    for (int64_t i = 0; !rc && i < n && !repeats; i++) {
        repeats = seen[d[i]];
        seen[d[i]] = 1;
    }
    if (!rc && repeats) {
        int nd = gathered_shape(&l, shape);
        for (int i = 0; i < nd; i++)
            if (i < l.pos || i >= l.pos + l.nb) shape[i] = 1;
        if (!(*w = mg_zeros(nd, shape, dt))) rc = mg_errcode();
        if (*w) memset(seen, 0, (size_t)l.rows);
        for (int64_t i = n - 1; *w && i >= 0; i--) {
            if (!seen[d[i]]) mg_set_flat(*w, i, 1.0);
            seen[d[i]] = 1;
        }
    }
    free(seen);
    mg_release(Lc);
    return rc;
}

static int put_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *L = n->inputs[1];
    if (n->inputs[0]->requires_grad) { /* g with the written rows zeroed */
        mg_tensor *z = mg_scalar(0, g->dtype);
        mg_tensor *in[3] = {g, L, z};
        gin[0] = z ? mg_apply(&op_put, in, &n->p) : NULL;
        mg_release(z);
        if (!gin[0]) return mg_errcode();
    }
    if (n->inputs[2]->requires_grad) { /* g at the rows, where the write survived */
        mg_tensor *w;
        if (last_writers(L, &n->p, g->dtype, &w)) return mg_errcode();
        mg_tensor *t = apply_gather(g, L, &n->p);
        gin[2] = t && w ? mg_mul(t, w) : mg_retain(t);
        mg_release(t);
        mg_release(w);
        if (!gin[2]) return mg_errcode();
    }
    return MG_OK;
}

static const mg_opdef op_gather = {"index", "IndexBackward", 2, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, gather_fw, gather_bw, 0, NULL};
static const mg_opdef op_scatter_add = {"scatter_add", "ScatterAddBackward", 2, MG_KIND_OTHER,
    MG_RES_SAME, {0}, {0}, scatter_add_fw, scatter_add_bw, 0, NULL};
static const mg_opdef op_put = {"setitem", "IndexPutBackward", 3, MG_KIND_OTHER, MG_RES_SAME,
    {0}, {0}, put_fw, put_bw, 0, NULL};

/* ---- plans: a key to slices + L ---------------------------------------------------- */
typedef struct {
    mg_index basic[MG_MAXDIM]; /* per axis: a slice, or ALL (also on indexed axes) */
    bool sliced;               /* some axis is not ALL */
    mg_params p;               /* for the ops, on the sliced tensor */
    mg_tensor *L;
} plan;

typedef struct {
    int axis, span;  /* the axes it takes */
    mg_tensor *t;    /* the key's index tensor or mask (borrowed); NULL for an integer */
    mg_tensor *pos;  /* t as 0-based positions (int64, contiguous) */
    int64_t value;   /* the integer's position */
} group;

static bool in_range(int64_t i, int64_t len) { return i >= 0 && i < len; }

/* t's values as 0-based positions on an axis of length len (a new tensor). */
static mg_tensor *resolve_index(const char *op, mg_tensor *t, int64_t len, int axis, int base) {
    mg_tensor *c = mg_copy_of(t, MG_INT64);
    if (!c) return NULL;
    int64_t *d = mg_data_ptr(c);
    for (int64_t i = 0, n = mg_numel(c); i < n; i++) {
        int64_t v = d[i], r;
        if (v == 0 && base == 1) {
            mg_seterr(MG_EINDEX, "%s: index 0 is not valid on axis %d (indices are 1-based; -1 "
                      "is the last)", op, axis + base);
            mg_release(c);
            return NULL;
        }
        r = v < 0 ? (v < -len ? -1 : len + v) : v - base;
        if (!in_range(r, len)) {
            mg_seterr(MG_EINDEX, "%s: index %lld is out of range for axis %d of size %lld", op,
                      (long long)v, axis + base, (long long)len);
            mg_release(c);
            return NULL;
        }
        d[i] = r;
    }
    return c;
}

/* The flat positions (row-major over the axes it takes) of m's true elements. */
static mg_tensor *mask_positions(const char *op, mg_tensor *m, const mg_tensor *a, int axis,
                                 int base) {
    char sa[256], sb[256];
    for (int i = 0; i < m->ndim; i++)
        if (m->shape[i] != a->shape[axis + i]) {
            mg_seterr(MG_ESHAPE, "%s: a bool mask of shape %s does not match the shape %s of the "
                      "axes %d..%d it indexes", op, mg_shape_str(m->ndim, m->shape, sa, sizeof sa),
                      mg_shape_str(m->ndim, a->shape + axis, sb, sizeof sb), axis + base,
                      axis + m->ndim - 1 + base);
            return NULL;
        }
    mg_tensor *c = mg_copy_of(m, MG_BOOL);
    if (!c) return NULL;
    const bool *d = mg_data_ptr(c);
    int64_t n = mg_numel(c), count = 0;
    for (int64_t i = 0; i < n; i++) count += d[i];
    mg_tensor *out = mg_empty(1, &count, MG_INT64);
    if (out) {
        int64_t *o = mg_data_ptr(out), k = 0;
        for (int64_t i = 0; i < n; i++)
            if (d[i]) o[k++] = i;
    }
    mg_release(c);
    return out;
}

static int check_slice(const char *op, const mg_index *x, int64_t len, int axis, int base) {
    if (x->kind != MG_IDX_SLICE) return MG_OK;
    if (!mg_slice_in_range(x, len))
        return mg_seterr(MG_EINDEX, "%s: slice (start %lld, count %lld, step %lld) is out of "
                         "range for axis %d of size %lld", op, (long long)x->start,
                         (long long)x->count, (long long)x->step, axis + base, (long long)len);
    return MG_OK;
}

typedef struct {
    int64_t mult;
} addmul_ctx;

/* p[0] (L) += p[1] (positions) * mult */
static void addmul_run(char **p, const int64_t *st, int64_t n, void *vctx) {
    const addmul_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++) {
        int64_t *o = (int64_t *)p[0] + i * st[0];
        *o += ((const int64_t *)p[1])[i * st[1]] * c->mult;
    }
}

/* L = the sum over groups of their positions (broadcast to B) times the
 * number of rows of the groups after them. */
static mg_tensor *flat_rows(const mg_tensor *a, group *g, int ng, int nb, const int64_t *B) {
    mg_tensor *L = mg_zeros(nb, B, MG_INT64);
    if (!L) return NULL;
    int64_t mult = 1;
    for (int i = ng - 1; i >= 0; i--) {
        addmul_ctx c = {mult};
        if (g[i].pos) {
            int64_t st[MG_MAXDIM];
            mg_broadcast_strides(g[i].pos, nb, B, st);
            char *base[2] = {mg_data_ptr(L), mg_data_ptr(g[i].pos)};
            const int64_t *sts[2] = {L->stride, st};
            size_t esz[2] = {8, 8};
            mg_strided_walk(nb, B, 2, base, sts, esz, addmul_run, &c);
        } else {
            int64_t *d = mg_data_ptr(L);
            for (int64_t k = 0, n = mg_numel(L); k < n; k++) d[k] += g[i].value * mult;
        }
        for (int s = 0; s < g[i].span; s++) mult *= a->shape[g[i].axis + s];
    }
    return L;
}

/* Broadcasts the shape (nb, B) with t's shape, or an error naming both. */
static int broadcast_with(const char *op, int *nb, int64_t *B, const mg_tensor *t) {
    int n = *nb > t->ndim ? *nb : t->ndim;
    int64_t out[MG_MAXDIM];
    for (int i = 0; i < n; i++) {
        int ia = *nb - n + i, ib = t->ndim - n + i;
        int64_t da = ia >= 0 ? B[ia] : 1, db = ib >= 0 ? t->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[256], sb[256];
            return mg_seterr(MG_ESHAPE, "%s: index tensors of shapes %s and %s cannot be "
                             "broadcast together", op, mg_shape_str(*nb, B, sa, sizeof sa),
                             mg_shape_str(t->ndim, t->shape, sb, sizeof sb));
        }
        out[i] = da == 1 ? db : da;
    }
    *nb = n;
    memcpy(B, out, (size_t)n * sizeof *B);
    return MG_OK;
}

/* Reads the key: fills the slices and the groups of indexed axes. */
static int read_key(const char *op, mg_tensor *a, int n, const mg_aindex *idx, int base,
                    plan *pl, group *g, int *ng, int *first, int *last) {
    char sa[256];
    int axis = 0;
    *ng = 0;
    *first = *last = -1;
    for (int e = 0; e < n; e++) {
        const mg_aindex *x = &idx[e];
        int span = 1;
        if (x->t && x->t->dtype != MG_INT64 && x->t->dtype != MG_BOOL)
            return mg_seterr(MG_EDTYPE, "%s: index tensors must be int64 or bool, got %s", op,
                             mg_dtype_name(x->t->dtype));
        if (x->t && x->t->dtype == MG_BOOL) {
            span = x->t->ndim;
            if (span == 0)
                return mg_seterr(MG_EINDEX, "%s: a bool mask needs at least one axis (got a 0-d "
                                 "mask)", op);
        }
        if (axis + span > a->ndim)
            return mg_seterr(MG_EINDEX, "%s: too many indices for a tensor of shape %s", op,
                             mg_shape_str(a->ndim, a->shape, sa, sizeof sa));
        if (x->t || x->basic.kind == MG_IDX_INT) {
            g[*ng] = (group){axis, span, x->t, NULL, x->basic.start};
            if (!x->t && !in_range(x->basic.start, a->shape[axis]))
                return mg_seterr(MG_EINDEX, "%s: index %lld is out of range for axis %d of size "
                                 "%lld", op, (long long)x->basic.start, axis + base,
                                 (long long)a->shape[axis]);
            (*ng)++;
            if (*first < 0) *first = e;
            *last = e;
        } else {
            if (x->basic.kind != MG_IDX_ALL && x->basic.kind != MG_IDX_SLICE)
                return mg_seterr(MG_EVALUE, "%s: unknown index kind", op);
            if (check_slice(op, &x->basic, a->shape[axis], axis, base)) return MG_EINDEX;
            pl->basic[axis] = x->basic;
            pl->sliced = pl->sliced || x->basic.kind == MG_IDX_SLICE;
        }
        axis += span;
    }
    return MG_OK;
}

static int make_plan(const char *op, mg_tensor *a, int n, const mg_aindex *idx, int base,
                     plan *pl) {
    group g[MG_MAXDIM];
    int ng = 0, first, last, nb = 0, k = 0, nr = 0;
    int64_t B[MG_MAXDIM];
    memset(pl, 0, sizeof *pl);
    if (base != 0 && base != 1) return mg_seterr(MG_EVALUE, "%s: base must be 0 or 1", op);
    int rc = read_key(op, a, n, idx, base, pl, g, &ng, &first, &last);
    /* positions of each tensor group, and their broadcast shape */
    for (int i = 0; !rc && i < ng; i++) {
        mg_tensor *t = g[i].t;
        if (!t) continue;
        if (t->dtype == MG_BOOL) g[i].pos = mask_positions(op, t, a, g[i].axis, base);
        else g[i].pos = resolve_index(op, t, a->shape[g[i].axis], g[i].axis, base);
        rc = g[i].pos ? broadcast_with(op, &nb, B, g[i].pos) : mg_errcode();
    }
    for (int i = 0; i < ng; i++) k += g[i].span;
    nr = a->ndim - k;
    if (!rc && nr + nb > MG_MAXDIM)
        rc = mg_seterr(MG_EINDEX, "%s: the result would have %d axes (at most %d)", op, nr + nb,
                       MG_MAXDIM);
    int64_t count;
    if (!rc) rc = mg_shape_numel(nb, B, &count);
    if (!rc) {
        bool adjacent = last - first + 1 == ng;
        int np = 0;
        for (int i = 0; i < ng; i++)
            for (int s = 0; s < g[i].span; s++) pl->p.perm[np++] = g[i].axis + s;
        for (int ax = 0; ax < a->ndim; ax++) {
            bool indexed = false;
            for (int i = 0; i < k; i++) indexed = indexed || pl->p.perm[i] == ax;
            if (!indexed) pl->p.perm[np++] = ax;
        }
        pl->p.axis = k;
        pl->p.ival[0] = adjacent ? g[0].axis : 0;
        pl->p.ndim = a->ndim;
        for (int ax = 0; ax < a->ndim; ax++)
            pl->p.shape[ax] = pl->basic[ax].kind == MG_IDX_SLICE ? pl->basic[ax].count : a->shape[ax];
        if (!(pl->L = flat_rows(a, g, ng, nb, B))) rc = mg_errcode();
    }
    for (int i = 0; i < ng; i++) mg_release(g[i].pos);
    return rc;
}

/* ---- entry points ------------------------------------------------------------------- */
/* When no entry is a tensor: the basic entries, for mg_index_get/set. */
static bool basic_only(int n, const mg_aindex *idx, mg_index *out) {
    for (int i = 0; i < n; i++) {
        if (idx[i].t) return false;
        out[i] = idx[i].basic;
    }
    return true;
}

static int check_args(const char *op, mg_tensor *a, int n, const mg_aindex *idx) {
    if (!a || (n > 0 && !idx)) return mg_seterr(MG_EVALUE, "%s: missing tensor or index", op);
    if (n < 0 || n > MG_MAXDIM)
        return mg_seterr(MG_EINDEX, "%s: %d index entries (at most %d)", op, n, MG_MAXDIM);
    return MG_OK;
}

mg_tensor *mg_index_adv_get(mg_tensor *a, int n, const mg_aindex *idx, int base) {
    mg_index b[MG_MAXDIM];
    plan pl;
    if (check_args("index", a, n, idx)) return NULL;
    if (basic_only(n, idx, b)) return mg_index_get(a, n, b);
    if (make_plan("index", a, n, idx, base, &pl)) return NULL;
    mg_tensor *sub = pl.sliced ? mg_index_get(a, a->ndim, pl.basic) : mg_retain(a);
    mg_tensor *out = sub ? apply_gather(sub, pl.L, &pl.p) : NULL;
    mg_release(sub);
    mg_release(pl.L);
    return out;
}

/* The recorded write: the tensor that stands for a's new contents. */
static mg_tensor *recorded_set(mg_tensor *a, const plan *pl, mg_tensor *v) {
    if (!pl->sliced) {
        mg_tensor *in[3] = {a, pl->L, v};
        return mg_apply(&op_put, in, &pl->p);
    }
    /* a with its sliced region replaced by (that region with v put in) */
    mg_tensor *sub = mg_index_get(a, a->ndim, pl->basic);
    mg_tensor *in[3] = {sub, pl->L, v};
    mg_tensor *nsub = sub ? mg_apply(&op_put, in, &pl->p) : NULL;
    mg_params pb;
    memset(&pb, 0, sizeof pb);
    pb.nidx = a->ndim;
    memcpy(pb.idx, pl->basic, sizeof pb.idx);
    mg_tensor *in2[2] = {a, nsub};
    mg_tensor *out = nsub ? mg_apply(&mg_op_index_put, in2, &pb) : NULL;
    mg_release(sub);
    mg_release(nsub);
    return out;
}

mg_tensor *mg_index_adv_set(mg_tensor *a, int n, const mg_aindex *idx, mg_tensor *v, int base) {
    mg_index b[MG_MAXDIM];
    plan pl;
    layout l;
    int64_t shape[MG_MAXDIM], vst[MG_MAXDIM];
    if (check_args("setitem", a, n, idx)) return NULL;
    if (!v) {
        mg_seterr(MG_EVALUE, "setitem: missing value");
        return NULL;
    }
    if (basic_only(n, idx, b)) return mg_index_set(a, n, b, v);
    if (make_plan("setitem", a, n, idx, base, &pl)) return NULL;
    int rc = make_layout(&l, pl.p.ndim, pl.p.shape, NULL, &pl.p, pl.L);
    if (!rc) rc = bcast_strides("setitem", v, gathered_shape(&l, shape), shape, vst);
    if (!rc && (!mg_grad_enabled() || (!a->requires_grad && !v->requires_grad))) {
        mg_tensor *sub = pl.sliced ? mg_index_get(a, a->ndim, pl.basic) : mg_retain(a);
        rc = sub ? put_into("setitem", sub, pl.L, v, &pl.p) : mg_errcode();
        if (!rc) a->storage->version++;
        mg_release(sub);
        mg_release(pl.L);
        return rc ? NULL : mg_retain(a);
    }
    if (!rc && !mg_dtype_is_float(a->dtype))
        rc = mg_seterr(MG_EDTYPE, "setitem: cannot write a variable into a %s tensor",
                       mg_dtype_name(a->dtype));
    mg_tensor *out = rc ? NULL : recorded_set(a, &pl, v);
    mg_release(pl.L);
    if (!out) return NULL;
    return mg_write_back(a, out);
}
