/* ops.c — the dispatcher every op goes through (mg_apply): input checks,
 * the element-wise engine (dtype promotion, broadcasting, strided runs),
 * recording of graph nodes, and the rule that using a variable in a new
 * recorded op clears its .grad. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- element-wise engine ------------------------------------------------ */
typedef struct {
    const mg_opdef *op;
    int ci; /* compute dtype index: 0 float32, 1 float64, 2 int64 */
} ew_ctx;

static void unary_run(char **p, const int64_t *st, int64_t n, void *vctx) {
    const ew_ctx *c = vctx;
    c->op->unary[c->ci](p[0], st[0], p[1], n);
}

static void binary_run(char **p, const int64_t *st, int64_t n, void *vctx) {
    const ew_ctx *c = vctx;
    c->op->binary[c->ci](p[0], st[0], p[1], st[1], p[2], n);
}

/* Whether the whole op is one run of the loop: each input is either a
 * single element (read with stride 0) or contiguous at the output's shape
 * (stride 1).  Sets the inputs' strides in run[]. */
static bool one_run(mg_tensor **use, int arity, int ndim, const int64_t *shape, int64_t *run) {
    for (int i = 0; i < arity; i++) {
        const mg_tensor *t = use[i];
        bool single = true;
        for (int d = 0; d < t->ndim; d++) single = single && t->shape[d] == 1;
        if (single) {
            run[i] = 0;
            continue;
        }
        if (t->ndim != ndim || !mg_is_contiguous(t)) return false;
        for (int d = 0; d < ndim; d++)
            if (t->shape[d] != shape[d]) return false;
        run[i] = 1;
    }
    return true;
}

/* The general case: a strided walk over the broadcast shape. */
static void walk(const mg_opdef *op, mg_tensor **use, mg_tensor *out, mg_dtype cd) {
    int64_t st[3][MG_MAXDIM];
    char *base[3];
    size_t esz[3];
    const int64_t *stp[3];
    int ndim = out->ndim, nops = op->arity + 1;
    for (int i = 0; i < op->arity; i++) {
        mg_broadcast_strides(use[i], ndim, out->shape, st[i]);
        base[i] = mg_data_ptr(use[i]);
        esz[i] = mg_dtype_size(cd);
    }
    for (int i = 0; i < ndim; i++) st[op->arity][i] = out->stride[i];
    base[op->arity] = mg_data_ptr(out);
    esz[op->arity] = mg_dtype_size(out->dtype);
    for (int i = 0; i < nops; i++) stp[i] = st[i];
    ew_ctx c = {op, (int)cd};
    mg_strided_walk(ndim, out->shape, nops, base, stp, esz,
                    op->arity == 1 ? unary_run : binary_run, &c);
}

/* Ops whose loops are bound by arithmetic, not memory: contiguous runs of
 * these are split among threads (parallel.c) from 2^16 elements on; the
 * others, which gain less from a second core, from 2^17. */
static const mg_opdef *const heavy_ops[] = {&mg_op_exp, &mg_op_log, &mg_op_tanh, &mg_op_sin,
                                            &mg_op_cos, &mg_op_pow};

static bool is_heavy(const mg_opdef *op) {
    for (size_t i = 0; i < sizeof heavy_ops / sizeof heavy_ops[0]; i++)
        if (heavy_ops[i] == op) return true;
    return false;
}

/* One contiguous run (strides run[] of 0 or 1) over [b, e). */
typedef struct {
    const mg_opdef *op;
    mg_dtype cd;
    const char *a, *b;
    char *o;
    int64_t run[2];
    size_t ea, eo; /* element sizes: compute dtype, result dtype */
} run_ctx;

static void run_range(void *vctx, int64_t b, int64_t e) {
    const run_ctx *c = vctx;
    const char *a = c->a + (size_t)(b * c->run[0]) * c->ea;
    char *o = c->o + (size_t)b * c->eo;
    if (c->op->arity == 1) c->op->unary[c->cd](a, c->run[0], o, e - b);
    else
        c->op->binary[c->cd](a, c->run[0], c->b + (size_t)(b * c->run[1]) * c->ea, c->run[1], o,
                             e - b);
}

static mg_tensor *elementwise(const mg_opdef *op, mg_tensor **in) {
    mg_dtype cd = in[0]->dtype;
    for (int i = 1; i < op->arity; i++) cd = mg_promote(cd, in[i]->dtype);
    if (cd == MG_BOOL) cd = MG_INT64;
    if (op->rule == MG_RES_FLOAT && cd == MG_INT64) cd = mg_default_float();
    mg_dtype rd = op->rule == MG_RES_BOOL ? MG_BOOL : cd;

    int ndim = in[0]->ndim;
    int64_t shape[MG_MAXDIM];
    for (int i = 0; i < ndim; i++) shape[i] = in[0]->shape[i];
    if (op->arity == 2 && mg_broadcast_shape(op->name, in[0], in[1], &ndim, shape)) return NULL;

    mg_tensor *cast[2] = {NULL, NULL}, *use[2];
    for (int i = 0; i < op->arity; i++) {
        use[i] = in[i];
        if (in[i]->dtype != cd) {
            if (!(cast[i] = mg_copy_of(in[i], cd))) goto fail;
            use[i] = cast[i];
        }
    }
    mg_tensor *out = mg_empty(ndim, shape, rd);
    if (!out) goto fail;

    int64_t run[2];
    int64_t n = mg_numel(out);
    if (n > 0 && one_run(use, op->arity, ndim, shape, run)) {
        run_ctx c = {op, cd, mg_data_ptr(use[0]), op->arity == 2 ? mg_data_ptr(use[1]) : NULL,
                     out->storage->data, {run[0], op->arity == 2 ? run[1] : 0},
                     mg_dtype_size(cd), mg_dtype_size(rd)};
        if (n >= (is_heavy(op) ? 2 : 4) * MG_PARALLEL_MIN) mg_parallel_for(n, run_range, &c);
        else run_range(&c, 0, n);
    } else if (n > 0) {
        walk(op, use, out, cd);
    }
    mg_release(cast[0]);
    mg_release(cast[1]);
    return out;
fail:
    mg_release(cast[0]);
    mg_release(cast[1]);
    return NULL;
}

/* ---- recording ------------------------------------------------------------
 * Released nodes go to a per-thread free list (at most NODE_POOL_MAX) and
 * are reused: a node is over 1 KiB, past malloc's fast path, and every
 * recorded op needs one.  Under AddressSanitizer the list stays empty. */
#if defined(__SANITIZE_ADDRESS__)
#define NODE_POOL_MAX 0
#else
#define NODE_POOL_MAX 1024
#endif
static MG_HOT_TLS mg_node *free_nodes; /* linked through ctx */
static MG_HOT_TLS int nfree_nodes;

static mg_node *node_alloc(void) {
    mg_node *n = free_nodes;
    if (!n) return calloc(1, sizeof *n);
    free_nodes = n->ctx;
    nfree_nodes--;
    memset(n, 0, sizeof *n);
    return n;
}

void mg_node_free(mg_node *n) {
    if (!n) return;
    for (int i = 0; i < n->ninputs; i++) mg_release(n->inputs[i]);
    mg_release(n->out);
    if (n->ctx_free) n->ctx_free(n->ctx);
    if (nfree_nodes >= NODE_POOL_MAX) {
        free(n);
        return;
    }
    n->ctx = free_nodes;
    free_nodes = n;
    nfree_nodes++;
}

static int record(const mg_opdef *op, mg_tensor **in, const mg_params *p, mg_tensor *out) {
    mg_node *n = node_alloc();
    if (!n) return mg_seterr(MG_ENOMEM, "%s: out of memory recording the graph", op->name);
    n->op = op;
    n->ninputs = op->arity;
    for (int i = 0; i < op->arity; i++) {
        n->inputs[i] = mg_retain(in[i]);
        n->versions[i] = in[i]->storage->version;
    }
    if (p) n->p = *p;
    n->out_version = out->storage->version; /* autograd.c's in-place checks read it */
    if ((op->saves & MG_SAVES_OUT) && !(n->out = mg_detach(out))) {
        mg_node_free(n);
        return MG_ENOMEM;
    }
    out->grad_fn = n;
    out->requires_grad = true;
    bool any_grad = false; /* (the mode checks below cost more than this loop) */
    for (int i = 0; i < op->arity; i++) any_grad = any_grad || in[i]->grad;
    if (any_grad && !mg_in_backward() && !mg_keep_grad())
        for (int i = 0; i < op->arity; i++)
            if (in[i]->requires_grad) {
                mg_release(in[i]->grad);
                in[i]->grad = NULL;
                in[i]->grad_shared = false;
            }
    return MG_OK;
}

mg_tensor *mg_apply(const mg_opdef *op, mg_tensor **in, const mg_params *p) {
    for (int i = 0; i < op->arity; i++)
        if (!in[i]) {
            mg_seterr(MG_EVALUE, "%s: input %d is missing", op->name, i + 1);
            return NULL;
        }
    if (op->check && op->check(in)) return NULL;
    mg_tensor *out = op->kind == MG_KIND_OTHER ? op->forward(in, p) : elementwise(op, in);
    if (!out) return NULL;
    if (!op->grad_name || !mg_grad_enabled() || !mg_dtype_is_float(out->dtype)) return out;
    bool any = false;
    for (int i = 0; i < op->arity; i++) any = any || in[i]->requires_grad;
    if (any && record(op, in, p, out)) {
        mg_release(out);
        return NULL;
    }
    return out;
}

mg_tensor *mg_node_output(mg_node *n) {
    if (mg_grad_enabled()) return mg_apply(n->op, n->inputs, &n->p);
    return mg_retain(n->out);
}

/* ---- named entry points for element-wise ops -------------------------- */
static mg_tensor *apply1(const mg_opdef *op, mg_tensor *a) { return mg_apply(op, &a, NULL); }
static mg_tensor *apply2(const mg_opdef *op, mg_tensor *a, mg_tensor *b) {
    mg_tensor *in[2] = {a, b};
    return mg_apply(op, in, NULL);
}

mg_tensor *mg_add(mg_tensor *a, mg_tensor *b) { return apply2(&mg_op_add, a, b); }
mg_tensor *mg_sub(mg_tensor *a, mg_tensor *b) { return apply2(&mg_op_sub, a, b); }
mg_tensor *mg_mul(mg_tensor *a, mg_tensor *b) { return apply2(&mg_op_mul, a, b); }
mg_tensor *mg_div(mg_tensor *a, mg_tensor *b) { return apply2(&mg_op_div, a, b); }
mg_tensor *mg_pow(mg_tensor *a, mg_tensor *b) { return apply2(&mg_op_pow, a, b); }
mg_tensor *mg_floordiv(mg_tensor *a, mg_tensor *b) { return apply2(&mg_op_floordiv, a, b); }
mg_tensor *mg_mod(mg_tensor *a, mg_tensor *b) { return apply2(&mg_op_mod, a, b); }
mg_tensor *mg_neg(mg_tensor *a) { return apply1(&mg_op_neg, a); }
mg_tensor *mg_exp(mg_tensor *a) { return apply1(&mg_op_exp, a); }
mg_tensor *mg_log(mg_tensor *a) { return apply1(&mg_op_log, a); }
mg_tensor *mg_sqrt(mg_tensor *a) { return apply1(&mg_op_sqrt, a); }
mg_tensor *mg_sin(mg_tensor *a) { return apply1(&mg_op_sin, a); }
mg_tensor *mg_cos(mg_tensor *a) { return apply1(&mg_op_cos, a); }
mg_tensor *mg_tanh(mg_tensor *a) { return apply1(&mg_op_tanh, a); }
mg_tensor *mg_abs(mg_tensor *a) { return apply1(&mg_op_abs, a); }
mg_tensor *mg_square(mg_tensor *a) { return apply1(&mg_op_square, a); }
mg_tensor *mg_sign(mg_tensor *a) { return apply1(&mg_op_sign, a); }
