/* inplace.c — in-place ops (add_, sub_, mul_, div_, pow_, clamp_, fill_,
 * copy_, zero_).  When nothing is recorded they are plain writes into the
 * tensor's storage; when the write is recorded, an out-of-place recorded op
 * computes the new values, which are written back into the storage, and the
 * op's result (re-pointed at that storage) stands for the tensor from then
 * on.  Every write bumps the storage's version counter, which autograd.c
 * checks.  Also the clamp op (x, lo, hi) that clamp_ records. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>


static mg_params params0(void) {
    mg_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* ---- checks ------------------------------------------------------------------- */
/* A value of dtype `from` can be stored in a tensor of dtype `into`. */
static bool storable(mg_dtype from, mg_dtype into) {
    if (mg_dtype_is_float(into)) return true;
    if (into == MG_INT64) return !mg_dtype_is_float(from);
    return from == MG_BOOL;
}

/* A broadcast view has several elements in one memory location. */
static int check_target(const char *op, const mg_tensor *a) {
    for (int i = 0; i < a->ndim; i++)
        if (a->stride[i] == 0 && a->shape[i] > 1)
            return mg_seterr(MG_EVALUE, "%s: cannot write in place into a broadcast view (several "
                             "of its elements share one memory location); clone it first", op);
    return MG_OK;
}

/* b must broadcast to a's shape: an in-place op cannot change a's shape. */
static int check_arg_shape(const char *op, const mg_tensor *a, const mg_tensor *b) {
    char sa[256], sb[256];
    bool ok = b->ndim <= a->ndim;
    for (int i = 0; ok && i < b->ndim; i++) {
        int64_t d = b->shape[i], t = a->shape[a->ndim - b->ndim + i];
        ok = d == t || d == 1;
    }
    if (ok) return MG_OK;
    return mg_seterr(MG_ESHAPE, "%s: the argument's shape %s does not broadcast to the tensor's "
                     "shape %s (an in-place op keeps the tensor's shape)",
                     op, mg_shape_str(b->ndim, b->shape, sb, sizeof sb),
                     mg_shape_str(a->ndim, a->shape, sa, sizeof sa));
}

/* For a tensor made by a recorded view op (no write, output in an input's
 * storage), that input; NULL otherwise.  (autograd.c walks views the same way.) */
static const mg_tensor *view_base(const mg_tensor *t) {
    const mg_node *m = t->grad_fn;
    if (!m || m->freed) return NULL;
    for (int k = 0; k < m->ninputs; k++)
        if (m->inputs[k]->storage == t->storage && m->versions[k] == m->out_version)
            return m->inputs[k];
    return NULL;
}

/* A recorded write may not change a leaf variable's values, directly or
 * through a view: the leaf is what its gradient is taken with respect to. */
static int check_recorded_write(const char *op, const mg_tensor *a) {
    if (a->requires_grad && !a->grad_fn)
        return mg_seterr(MG_EGRAPH, "%s: a leaf variable that requires grad is used in an "
                         "in-place operation; update x.data instead, or do it under mg.no_grad",
                         op);
    const mg_tensor *s = a, *b;
    while ((b = view_base(s))) s = b;
    if (s != a && s->requires_grad && !s->grad_fn)
        return mg_seterr(MG_EGRAPH, "%s: a view of a leaf variable that requires grad is used in "
                         "an in-place operation; write into the leaf's .data, or under "
                         "mg.no_grad", op);
    return MG_OK;
}

/* ---- writing back ------------------------------------------------------------- */
/* Writes the new values r into a; returns what stands for a now (consumes r). */
static mg_tensor *write_back(const char *op, mg_tensor *a, mg_tensor *r) {
    if (!storable(r->dtype, a->dtype)) {
        mg_seterr(MG_EDTYPE, "%s: the result is %s and cannot be stored in place in a tensor "
                  "of dtype %s", op, mg_dtype_name(r->dtype), mg_dtype_name(a->dtype));
        mg_release(r);
        return NULL;
    }
    if (r->grad_fn && r->dtype != a->dtype) { /* keep the cast in the graph */
        mg_tensor *c = mg_astype(r, a->dtype);
        mg_release(r);
        if (!(r = c)) return NULL;
    }
    if (r->grad_fn) return mg_write_back(a, r);
    int rc = mg_copy_strided(a, r);
    a->storage->version++;
    mg_release(r);
    return rc ? NULL : mg_retain(a);
}

/* Whether writing `in` into a is recorded (and then allowed). */
static int recorded(const char *op, mg_tensor *a, mg_tensor **in, int n, bool *rec) {
    *rec = false;
    if (!mg_grad_enabled()) return MG_OK;
    for (int i = 0; i < n; i++) *rec = *rec || (in[i] && in[i]->requires_grad);
    *rec = *rec || a->requires_grad;
    return *rec ? check_recorded_write(op, a) : MG_OK;
}

/* The op applied to in[] for a recorded write into a: inputs that the op's
 * backward reads and that live in a's storage are cloned first, so the
 * write does not overwrite what the backward needs. */
static mg_tensor *apply_snapshot(const mg_opdef *op, mg_tensor *a, mg_tensor **in,
                                 const mg_params *p, const unsigned *saves_mask) {
    mg_tensor *use[MG_MAXINPUTS], *clones[MG_MAXINPUTS] = {NULL};
    mg_tensor *r = NULL;
    for (int i = 0; i < op->arity; i++) {
        use[i] = in[i];
        if (!(op->saves & saves_mask[i]) || in[i]->storage != a->storage) continue;
        for (int j = 0; j < i && use[i] == in[i]; j++)
            if (in[j] == in[i] && clones[j]) use[i] = clones[j];
        if (use[i] == in[i]) {
            if (!(clones[i] = mg_clone(in[i]))) goto out;
            use[i] = clones[i];
        }
    }
    r = mg_apply(op, use, p);
out:
    for (int i = 0; i < op->arity; i++) mg_release(clones[i]);
    return r;
}

static const unsigned saves_masks[3] = {MG_SAVES_IN0, MG_SAVES_IN1, MG_SAVES_IN(2)};

/* a op= in[1..] for the op in[0] op in[1] (, in[2]); in[0] is a. */
static mg_tensor *inplace_apply(const char *name, const mg_opdef *op, mg_tensor **in,
                                const mg_params *p) {
    mg_tensor *a = in[0];
    bool rec;
    for (int i = 0; i < op->arity; i++)
        if (!in[i]) {
            mg_seterr(MG_EVALUE, "%s: missing tensor", name);
            return NULL;
        }
    if (check_target(name, a)) return NULL;
    for (int i = 1; i < op->arity; i++)
        if (check_arg_shape(name, a, in[i])) return NULL;
    if (recorded(name, a, in, op->arity, &rec)) return NULL;
    mg_tensor *r = rec ? apply_snapshot(op, a, in, p, saves_masks) : mg_apply(op, in, p);
    return r ? write_back(name, a, r) : NULL;
}

static mg_tensor *binary_(const char *name, const mg_opdef *op, mg_tensor *a, mg_tensor *b) {
    mg_tensor *in[2] = {a, b};
    return inplace_apply(name, op, in, NULL);
}

mg_tensor *mg_add_(mg_tensor *a, mg_tensor *b) { return binary_("add_", &mg_op_add, a, b); }
mg_tensor *mg_sub_(mg_tensor *a, mg_tensor *b) { return binary_("sub_", &mg_op_sub, a, b); }
mg_tensor *mg_mul_(mg_tensor *a, mg_tensor *b) { return binary_("mul_", &mg_op_mul, a, b); }
mg_tensor *mg_div_(mg_tensor *a, mg_tensor *b) { return binary_("div_", &mg_op_div, a, b); }
mg_tensor *mg_pow_(mg_tensor *a, mg_tensor *b) { return binary_("pow_", &mg_op_pow, a, b); }

/* ---- fill_, copy_, zero_: a setitem of the whole tensor ---------------------- */
static mg_tensor *write_(const char *name, mg_tensor *a, mg_tensor *v) {
    mg_index whole[1];
    bool rec;
    if (!a || !v) {
        mg_seterr(MG_EVALUE, "%s: missing tensor", name);
        return NULL;
    }
    if (check_target(name, a) || check_arg_shape(name, a, v)) return NULL;
    if (recorded(name, a, &v, 1, &rec)) return NULL;
    if (rec && !mg_dtype_is_float(a->dtype)) {
        mg_seterr(MG_EDTYPE, "%s: cannot write a variable into a tensor of dtype %s", name,
                  mg_dtype_name(a->dtype));
        return NULL;
    }
    return mg_index_set(a, 0, whole, v);
}

mg_tensor *mg_fill_(mg_tensor *a, mg_tensor *v) { return write_("fill_", a, v); }
mg_tensor *mg_copy_(mg_tensor *a, mg_tensor *src) { return write_("copy_", a, src); }
mg_tensor *mg_zero_(mg_tensor *a) {
    if (!a) return write_("zero_", a, NULL);
    mg_tensor *z = mg_scalar(0, a->dtype);
    mg_tensor *r = z ? write_("zero_", a, z) : NULL;
    mg_release(z);
    return r;
}

/* ---- the clamp op -------------------------------------------------------------
 * out = min(max(x, lo), hi) with inputs x, lo, hi; p->ival[0] and ival[1]
 * say whether lo and hi are there (an absent one is a placeholder input).
 * Each element comes from exactly one of x, lo, hi: hi where max(x, lo) >
 * hi, else lo where x < lo, else x (NaN in x stays NaN); the gradient goes
 * to that one. */
enum { FROM_X, FROM_LO, FROM_HI };

/* A contiguous copy of t, broadcast to (ndim, shape), in dtype dt. */
static mg_tensor *spread(mg_tensor *t, int ndim, const int64_t *shape, mg_dtype dt) {
    int64_t st[MG_MAXDIM];
    mg_broadcast_strides(t, ndim, shape, st);
    mg_tensor *v = mg_view(t, ndim, shape, st, t->offset);
    mg_tensor *c = v ? mg_copy_of(v, dt) : NULL;
    mg_release(v);
    return c;
}

static int clamp_shape(mg_tensor **in, int *ndim, int64_t *shape) {
    mg_tensor *tmp = mg_tensor_alloc();
    if (!tmp) return MG_ENOMEM;
    int rc = mg_broadcast_shape("clamp", in[0], in[1], &tmp->ndim, tmp->shape);
    if (!rc) rc = mg_broadcast_shape("clamp", tmp, in[2], ndim, shape);
    free(tmp);
    return rc;
}

/* Element k of a contiguous tensor, exactly (long double holds any int64). */
static long double at(const mg_tensor *c, int64_t k) {
    const void *d = c->storage->data;
    switch (c->dtype) {
    case MG_FLOAT32: return ((const float *)d)[k];
    case MG_FLOAT64: return ((const double *)d)[k];
    default: return (long double)((const int64_t *)d)[k];
    }
}

/* Which input each element of the output comes from, as bytes (FROM_*);
 * the comparisons are made in dtype dt (float32, float64 or int64). */
static unsigned char *clamp_sources(mg_tensor **in, const mg_params *p, int ndim,
                                    const int64_t *shape, int64_t n, mg_dtype dt) {
    unsigned char *src = malloc((size_t)(n ? n : 1));
    mg_tensor *c[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3 && src; i++)
        if (!(c[i] = spread(in[i], ndim, shape, dt))) {
            free(src);
            src = NULL;
        }
    if (!src) mg_seterr(MG_ENOMEM, "clamp: out of memory");
    for (int64_t k = 0; src && k < n; k++) {
        long double x = at(c[0], k), lo = at(c[1], k), hi = at(c[2], k);
        bool below = p->ival[0] && x < lo;
        long double m = below ? lo : x;
        src[k] = p->ival[1] && m > hi ? FROM_HI : below ? FROM_LO : FROM_X;
    }
    for (int i = 0; i < 3; i++) mg_release(c[i]);
    return src;
}

/* Copies element k of the chosen contiguous input into out (same dtype). */
static mg_tensor *clamp_fw(mg_tensor **in, const mg_params *p) {
    int ndim;
    int64_t shape[MG_MAXDIM], n;
    mg_dtype cd = in[0]->dtype;
    if (p->ival[0]) cd = mg_promote(cd, in[1]->dtype);
    if (p->ival[1]) cd = mg_promote(cd, in[2]->dtype);
    if (cd == MG_BOOL) cd = MG_INT64;
    if (clamp_shape(in, &ndim, shape) || mg_shape_numel(ndim, shape, &n)) return NULL;
    unsigned char *src = clamp_sources(in, p, ndim, shape, n, cd);
    mg_tensor *c[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3 && src; i++) c[i] = spread(in[i], ndim, shape, cd);
    mg_tensor *out = src && c[0] && c[1] && c[2] ? mg_empty(ndim, shape, cd) : NULL;
    size_t es = mg_dtype_size(cd);
    for (int64_t k = 0; out && k < n; k++)
        memcpy((char *)out->storage->data + k * (int64_t)es,
               (char *)c[src[k]]->storage->data + k * (int64_t)es, es);
    for (int i = 0; i < 3; i++) mg_release(c[i]);
    free(src);
    return out;
}

/* A constant 0/1 mask of the elements that come from input `which`. */
static mg_tensor *clamp_mask(mg_node *nd, int which, mg_dtype dt) {
    int ndim;
    int64_t shape[MG_MAXDIM], n;
    if (clamp_shape(nd->inputs, &ndim, shape) || mg_shape_numel(ndim, shape, &n)) return NULL;
    unsigned char *src = clamp_sources(nd->inputs, &nd->p, ndim, shape, n, dt);
    mg_tensor *m = src ? mg_empty(ndim, shape, dt) : NULL;
    for (int64_t k = 0; m && k < n; k++) mg_set_flat(m, k, src[k] == which);
    free(src);
    return m;
}

static int clamp_bw(mg_node *nd, mg_tensor *g, mg_tensor **gin) {
    for (int i = 0; i < 3; i++) {
        if (!nd->inputs[i]->requires_grad) continue;
        mg_tensor *m = clamp_mask(nd, i, g->dtype);
        gin[i] = m ? mg_mul(g, m) : NULL;
        mg_release(m);
        if (!gin[i]) return mg_errcode() ? mg_errcode() : MG_ENOMEM;
    }
    return MG_OK;
}

static const mg_opdef op_clamp = {"clamp", "ClampBackward", 3, MG_KIND_OTHER, MG_RES_SAME, {0},
    {0}, clamp_fw, clamp_bw, MG_SAVES_IN0 | MG_SAVES_IN1 | MG_SAVES_IN(2), NULL};

mg_tensor *mg_clamp_(mg_tensor *a, mg_tensor *lo, mg_tensor *hi) {
    if (!a) return write_("clamp_", NULL, NULL);
    if (!lo && !hi) {
        mg_seterr(MG_EVALUE, "clamp_: at least one of lo and hi must be given");
        return NULL;
    }
    mg_params p = params0();
    p.ival[0] = lo != NULL;
    p.ival[1] = hi != NULL;
    mg_tensor *none = mg_scalar(0, a->dtype);
    mg_tensor *in[3] = {a, lo ? lo : none, hi ? hi : none};
    mg_tensor *r = none ? inplace_apply("clamp_", &op_clamp, in, &p) : NULL;
    mg_release(none);
    return r;
}
