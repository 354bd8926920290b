/* autograd.c — grad mode, and the one engine behind mg_backward and mg_grad:
 * a topological walk from the roots, the in-place checks (no value a
 * backward reads, and no tensor a node consumed, may have been modified in
 * place since), each node's backward (written with moongrad ops, so it can
 * be recorded under create_graph), gradient accumulation, and then either
 * .grad on every variable of the graph (mg_backward) or the gradients of
 * chosen inputs (mg_grad); the graph is freed afterwards unless retained. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static MG_HOT_TLS bool grad_enabled = true;
static MG_HOT_TLS bool in_backward;
static MG_HOT_TLS bool keep_grad;
static MG_HOT_TLS uint64_t pass_counter;

bool mg_grad_enabled(void) { return grad_enabled; }
bool mg_set_grad_enabled(bool on) {
    bool prev = grad_enabled;
    grad_enabled = on;
    return prev;
}
bool mg_in_backward(void) { return in_backward; }
bool mg_keep_grad(void) { return keep_grad; }
bool mg_set_keep_grad(bool on) {
    bool prev = keep_grad;
    keep_grad = on;
    return prev;
}

void mg_null_grad(mg_tensor *t) {
    if (!t) return;
    mg_release(t->grad);
    t->grad = NULL;
    t->grad_shared = false;
}

static bool exclusive(const mg_tensor *g) {
    return g->refcount == 1 && g->storage->refcount == 1 && mg_is_contiguous(g);
}

mg_tensor *mg_grad_of(mg_tensor *t) {
    if (!t || !t->grad) return NULL;
    if (t->grad_shared && !exclusive(t->grad)) {
        mg_tensor *c = mg_copy_of(t->grad, t->grad->dtype);
        if (!c) return NULL;
        mg_release(t->grad);
        t->grad = c;
    }
    t->grad_shared = false;
    return t->grad;
}

const char *mg_grad_fn_name(const mg_tensor *t) {
    if (!t || !t->grad_fn) return NULL;
    const char *custom = mg_custom_grad_name(t->grad_fn);
    return custom ? custom : t->grad_fn->op->grad_name;
}

int mg_requires_grad_(mg_tensor *t, bool on) {
    if (t->grad_fn)
        return mg_seterr(MG_EGRAPH, "requires_grad_: only leaf tensors can change requires_grad "
                                    "(this one comes from %s; use detach() first)",
                         mg_grad_fn_name(t));
    if (on && !mg_dtype_is_float(t->dtype))
        return mg_seterr(MG_EDTYPE, "requires_grad_: only float tensors can be variables, this "
                                    "one is %s", mg_dtype_name(t->dtype));
    t->requires_grad = on;
    return MG_OK;
}

void mg_detach_(mg_tensor *t) {
    if (!t) return;
    mg_node *n = t->grad_fn;
    t->grad_fn = NULL;
    t->requires_grad = false;
    mg_node_free(n);
}

/* ---- the tensor list of one pass ---------------------------------------------
 * The first TLIST_LOCAL entries live in the list itself (on the C stack of
 * the pass), so a small graph's backward allocates no list. */
#define TLIST_LOCAL 32
typedef struct {
    mg_tensor **v;
    size_t n, cap;
    mg_tensor *local[TLIST_LOCAL];
} tlist;

static void tlist_init(tlist *l) {
    l->v = l->local;
    l->n = 0;
    l->cap = TLIST_LOCAL;
}

static void tlist_free(tlist *l) {
    if (l->v != l->local) free(l->v);
}

static int tlist_push(tlist *l, mg_tensor *t) {
    if (l->n == l->cap) {
        size_t nc = l->cap * 2;
        bool local = l->v == l->local;
        mg_tensor **nv = local ? malloc(nc * sizeof *nv) : realloc(l->v, nc * sizeof *nv);
        if (!nv) return mg_seterr(MG_ENOMEM, "backward: out of memory");
        if (local) memcpy(nv, l->local, sizeof l->local);
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = t;
    return MG_OK;
}

/* A node's graph edges are followed unless the node was freed by an earlier
 * backward: then its output acts as a leaf (as MyGrad clears graphs). */
static bool live(const mg_tensor *t) { return t->grad_fn && !t->grad_fn->freed; }

/* Post-order DFS over variables reachable from root that are not marked yet,
 * without recursion, appended to order (which retains every tensor it lists).
 * Inputs come before the tensors made from them. */
static int topo_order(mg_tensor *root, uint64_t mark, tlist *order) {
    tlist stack, child; /* child: parallel stack of next-input positions, stored as ints */
    tlist_init(&stack);
    tlist_init(&child);
    int rc = MG_OK;
    root->pass_mark = mark;
    if ((rc = tlist_push(&stack, root)) || (rc = tlist_push(&child, NULL))) goto out;
    while (stack.n) {
        mg_tensor *t = stack.v[stack.n - 1];
        intptr_t next = (intptr_t)child.v[child.n - 1];
        mg_node *nd = live(t) ? t->grad_fn : NULL;
        if (nd && next < nd->ninputs) {
            child.v[child.n - 1] = (mg_tensor *)(next + 1);
            mg_tensor *in = nd->inputs[next];
            if (in->requires_grad && in->pass_mark != mark) {
                in->pass_mark = mark;
                if ((rc = tlist_push(&stack, in)) || (rc = tlist_push(&child, NULL))) goto out;
            }
            continue;
        }
        stack.n--;
        child.n--;
        if ((rc = tlist_push(order, mg_retain(t)))) {
            mg_release(t);
            goto out;
        }
    }
out:
    tlist_free(&stack);
    tlist_free(&child);
    return rc;
}

/* ---- in-place checks ----------------------------------------------------------
 * Every write into a storage bumps its version.  A node remembers the
 * version of each input's storage when it was recorded (versions[i]) and of
 * its output's right after it was made (out_version).  Two checks follow,
 * so that an in-place write gives an error, never a wrong gradient. */


/* 1. The values a node's backward reads are unchanged.  Under create_graph
 * an op that saves its output recomputes it from its inputs
 * (mg_node_output), so then all its inputs are read. */
static int check_saved(const mg_node *n, bool create) {
    bool recompute = create && (n->op->saves & MG_SAVES_OUT);
    for (int i = 0; i < n->ninputs; i++)
        if ((recompute || (n->op->saves & MG_SAVES_IN(i))) &&
            n->inputs[i]->storage->version != n->versions[i])
            return mg_seterr(MG_EGRAPH, "backward: an input of %s was modified in place after "
                             "it was used; its gradient would be wrong (clone it before editing)",
                             n->op->grad_name);
    if (n->out && n->out->storage->version != n->out_version)
        return mg_seterr(MG_EGRAPH, "backward: the output of %s was modified in place after it "
                         "was computed; its gradient would be wrong (clone it before editing)",
                         n->op->grad_name);
    return MG_OK;
}

/* For a tensor made by a view op (its node wrote nothing and its output
 * shares an input's storage), that input: the view's values are its base's.
 * NULL otherwise. */
static const mg_tensor *view_base(const mg_tensor *t) {
    const mg_node *m = t->grad_fn;
    for (int k = 0; k < m->ninputs; k++)
        if (m->inputs[k]->storage == t->storage && m->versions[k] == m->out_version)
            return m->inputs[k];
    return NULL;
}

/* 2. Each variable a node consumed still held, when the node used it, the
 * values its own graph describes: no write between its making and that use
 * (into it, into its base, or through another view of the same storage).
 * A view of a leaf is always current (a leaf's values are whatever its
 * storage holds), so the walk down a chain of views stops there.  Returns
 * the tensor whose values changed under its graph, or NULL. */
static const mg_tensor *stale(const mg_tensor *s, uint64_t used) {
    while (live(s) && s->grad_fn->out_version != used) {
        const mg_tensor *base = view_base(s);
        if (!base) return s;
        s = base;
    }
    return NULL;
}

static int check_fresh(const mg_node *n) {
    for (int i = 0; i < n->ninputs; i++) {
        const mg_tensor *s = n->inputs[i];
        if (!s->requires_grad || !(s = stale(s, n->versions[i]))) continue;
        return mg_seterr(MG_EGRAPH, "backward: a tensor made by %s was modified in place "
                         "(directly, through a view or through its base) before %s used "
                         "it; its gradient would be wrong (clone it before editing)",
                         s->grad_fn->op->grad_name, n->op->grad_name);
    }
    return MG_OK;
}

/* ---- one pass ------------------------------------------------------------------ */
/* g, shaped and typed as t needs it (sums broadcast axes, casts).  Consumes g. */
static mg_tensor *fit(mg_tensor *g, const mg_tensor *t) {
    mg_tensor *r = g;
    if (!mg_same_shape(r, t)) {
        r = mg_sum_to(g, t->ndim, t->shape);
        mg_release(g);
        if (!r) return NULL;
    }
    if (r->dtype != t->dtype) {
        mg_tensor *c = mg_astype(r, t->dtype);
        mg_release(r);
        r = c;
    }
    return r;
}

/* Adds g into *slot (a new tensor, never in place: grads may be shared). */
static int accumulate(mg_tensor **slot, mg_tensor *g) {
    if (!*slot) {
        *slot = g;
        return MG_OK;
    }
    mg_tensor *s = mg_add(*slot, g);
    mg_release(g);
    if (!s) return mg_errcode();
    mg_release(*slot);
    *slot = s;
    return MG_OK;
}

/* A gradient handed to the caller must not alias another tensor's memory.
 * Outside create_graph the copy is not recorded, so it is made directly
 * (what mg_clone would do then, without the dispatch). */
static mg_tensor *own(mg_tensor *g) {
    if (exclusive(g)) return mg_retain(g);
    return mg_grad_enabled() ? mg_clone(g) : mg_copy_of(g, g->dtype);
}

static mg_tensor *head_grad(const char *fn, mg_tensor *y, mg_tensor *grad) {
    if (!grad) return mg_full(y->ndim, y->shape, 1, y->dtype);
    mg_tensor *c = mg_astype(grad, y->dtype);
    mg_tensor *b = c ? mg_broadcast_to(c, y->ndim, y->shape) : NULL;
    mg_release(c);
    if (b && !b->requires_grad) { /* the caller's tensor may change: .grad must not see it */
        c = mg_copy_of(b, b->dtype);
        mg_release(b);
        b = c;
    }
    if (!b) {
        char sa[256], sb[256];
        mg_seterr(MG_ESHAPE, "%s: the gradient's shape %s does not broadcast to the "
                  "tensor's shape %s", fn, mg_shape_str(grad->ndim, grad->shape, sa, sizeof sa),
                  mg_shape_str(y->ndim, y->shape, sb, sizeof sb));
    }
    return b;
}

/* What a pass delivers: .grad on every tensor of the graph (inputs == NULL,
 * mg_backward), or the gradients of the given inputs into out (mg_grad);
 * then only tensors marked `need` (those through which an input is reached)
 * are walked. */
typedef struct {
    const char *fn;
    mg_tensor *const *inputs;
    int nin;
    mg_tensor **out;
    uint64_t need;
} pass_sink;

static bool needed(const pass_sink *s, const mg_tensor *t) {
    return !s->inputs || t->pass_mark == s->need;
}

/* Marks the inputs, then (inputs before their users in `order`) every
 * tensor whose node consumes a marked one. */
static void mark_needed(pass_sink *s, const tlist *order, uint64_t visited) {
    for (int j = 0; j < s->nin; j++)
        if (s->inputs[j]->pass_mark == visited) s->inputs[j]->pass_mark = s->need;
    for (size_t k = 0; k < order->n; k++) {
        mg_tensor *t = order->v[k];
        if (t->pass_mark == s->need || !live(t)) continue;
        for (int i = 0; i < t->grad_fn->ninputs; i++)
            if (t->grad_fn->inputs[i]->pass_mark == s->need) t->pass_mark = s->need;
    }
}

/* Whether running t's node sends gradient anywhere it is wanted. */
static bool runs(const pass_sink *s, const mg_tensor *t) {
    if (!live(t)) return false;
    if (!s->inputs) return true;
    for (int i = 0; i < t->grad_fn->ninputs; i++)
        if (needed(s, t->grad_fn->inputs[i])) return true;
    return false;
}

static int run_node(const pass_sink *s, mg_tensor *t, mg_tensor *g) {
    mg_node *n = t->grad_fn;
    mg_tensor *gin[MG_MAXINPUTS] = {NULL};
    int rc = n->op->backward(n, g, gin);
    for (int i = 0; i < n->ninputs; i++) {
        mg_tensor *in = n->inputs[i];
        if (!gin[i]) continue;
        if (rc || !in->requires_grad || !needed(s, in)) {
            mg_release(gin[i]);
            continue;
        }
        mg_tensor *f = fit(gin[i], in);
        rc = f ? accumulate(&in->pass_grad, f) : mg_errcode();
    }
    return rc;
}

/* Hands t's total gradient g to the sink.  An intermediate's .grad is kept
 * as a constant even under create_graph: a recorded gradient usually refers
 * back to the tensor (d(t*t)/dt = 2t), and that reference cycle could never
 * be freed (no handle reaches an intermediate to null its grad).  Leaves
 * keep a differentiable .grad; x:null_grad() breaks their cycle. */
static int deliver(pass_sink *s, mg_tensor *t, mg_tensor *g) {
    if (!s->inputs) {
        /* a constant gradient is kept as it is, shared or not, until
         * mg_grad_of reads it (copying a shared one then) */
        bool lazy = !g->requires_grad, had = t->grad != NULL;
        mg_tensor *kept = lazy ? mg_retain(g)
                          : t->grad_fn ? mg_copy_of(g, g->dtype) : own(g);
        int rc = kept ? accumulate(&t->grad, kept) : mg_errcode();
        if (!rc) t->grad_shared = lazy && !had;
        return rc;
    }
    for (int j = 0; j < s->nin; j++)
        if (s->inputs[j] == t && !s->out[j] && !(s->out[j] = own(g))) return mg_errcode();
    return MG_OK;
}

static int walk(pass_sink *s, tlist *order) {
    int rc = MG_OK;
    for (size_t k = order->n; k-- > 0 && !rc;) {
        mg_tensor *t = order->v[k];
        mg_tensor *g = t->pass_grad;
        t->pass_grad = NULL;
        if (!g) continue;
        if (needed(s, t)) rc = deliver(s, t, g);
        if (!rc && runs(s, t)) rc = run_node(s, t, g);
        mg_release(g);
    }
    for (size_t k = 0; k < order->n; k++) { /* leftovers after an error */
        mg_release(order->v[k]->pass_grad);
        order->v[k]->pass_grad = NULL;
    }
    return rc;
}

/* After a pass that does not retain it, the graph is released: its nodes
 * drop their inputs and outputs act as leaves from then on. */
static void free_graph(tlist *order) {
    for (size_t k = 0; k < order->n; k++) {
        mg_node *n = order->v[k]->grad_fn;
        if (!n || n->freed) continue;
        for (int i = 0; i < n->ninputs; i++) mg_release(n->inputs[i]);
        n->ninputs = 0;
        mg_release(n->out);
        n->out = NULL;
        n->freed = true;
    }
}

/* A root is freed, or (check 2 at the values it holds now) was written
 * through a view or a base after its node made it: its graph no longer
 * describes it (y = x * 1; y.T:mul_(z); y:backward() would miss z). */
static int check_root(const char *fn, mg_tensor *y) {
    if (!y) return mg_seterr(MG_EVALUE, "%s: missing tensor", fn);
    if (y->grad_fn && y->grad_fn->freed)
        return mg_seterr(MG_EGRAPH, "%s: the graph behind this tensor was already freed by "
                         "an earlier backward; pass {retain_graph = true} to the earlier "
                         "backward to run it again", fn);
    const mg_tensor *s = y->requires_grad ? stale(y, y->storage->version) : NULL;
    if (s)
        return mg_seterr(MG_EGRAPH, "%s: the tensor was modified in place through a view or "
                         "its base after %s made it, so its graph no longer describes its "
                         "values; use the tensor the in-place op returned, or clone before "
                         "editing", fn, s->grad_fn->op->grad_name);
    return MG_OK;
}

/* The order of every variable the roots reach, the in-place checks on the
 * nodes that will run, and each root's head gradient in its pass_grad. */
static int prepare(pass_sink *s, mg_tensor *const *roots, mg_tensor *const *heads, int nroots,
                   bool create, tlist *order) {
    int rc = MG_OK;
    uint64_t visited = ++pass_counter;
    for (int r = 0; r < nroots && !rc; r++)
        if ((rc = check_root(s->fn, roots[r])) == MG_OK && roots[r]->requires_grad &&
            roots[r]->pass_mark != visited)
            rc = topo_order(roots[r], visited, order);
    if (rc) return rc;
    if (s->inputs) {
        s->need = ++pass_counter;
        mark_needed(s, order, visited);
    }
    for (size_t k = 0; !rc && k < order->n; k++) {
        mg_tensor *t = order->v[k];
        if (runs(s, t) && needed(s, t) && !(rc = check_saved(t->grad_fn, create)))
            rc = check_fresh(t->grad_fn);
    }
    for (int r = 0; r < nroots && !rc; r++) {
        if (!roots[r]->requires_grad) continue;
        mg_tensor *h = head_grad(s->fn, roots[r], heads ? heads[r] : NULL);
        rc = h ? accumulate(&roots[r]->pass_grad, h) : mg_errcode();
    }
    return rc;
}

/* The shared engine: grad mode is create_graph during the pass. */
static int run_pass(pass_sink *s, mg_tensor *const *roots, mg_tensor *const *heads, int nroots,
                    const mg_backward_opts *opts) {
    mg_backward_opts o = {false, false};
    if (opts) o = *opts;
    bool prev_mode = mg_set_grad_enabled(o.create_graph);
    bool prev_inb = in_backward;
    in_backward = true;
    tlist order;
    tlist_init(&order);
    int rc = prepare(s, roots, heads, nroots, o.create_graph, &order);
    if (!rc) rc = walk(s, &order);
    else
        for (size_t k = 0; k < order.n; k++) {
            mg_release(order.v[k]->pass_grad);
            order.v[k]->pass_grad = NULL;
        }
    /* The gradient recorded under create_graph runs through the forward graph
     * (the intermediates it reads), so that graph must stay (as PyTorch's
     * retain_graph defaults to create_graph). */
    if (!rc && !o.retain_graph && !o.create_graph) free_graph(&order);
    for (size_t k = 0; k < order.n; k++) mg_release(order.v[k]);
    tlist_free(&order);
    in_backward = prev_inb;
    mg_set_grad_enabled(prev_mode);
    return rc;
}

int mg_backward(mg_tensor *y, mg_tensor *grad, const mg_backward_opts *opts) {
    pass_sink s = {"backward", NULL, 0, NULL, 0};
    if (!y) return mg_seterr(MG_EVALUE, "backward: missing tensor");
    if (!y->requires_grad) return MG_OK; /* a constant: nothing to do, as in MyGrad */
    return run_pass(&s, &y, grad ? &grad : NULL, 1, opts);
}

int mg_grad(mg_tensor *const *outputs, int nout, mg_tensor *const *grad_outputs,
            mg_tensor *const *inputs, int nin, const mg_backward_opts *opts, mg_tensor **out) {
    if (nout < 1 || nin < 1 || !outputs || !inputs || !out)
        return mg_seterr(MG_EVALUE, "grad: expected at least one output and one input, got %d "
                         "and %d", nout, nin);
    for (int j = 0; j < nin; j++) {
        if (!inputs[j]) return mg_seterr(MG_EVALUE, "grad: input %d is missing", j + 1);
        if (!inputs[j]->requires_grad)
            return mg_seterr(MG_EGRAPH, "grad: input %d is a constant (it does not require grad), "
                             "so there is no gradient with respect to it", j + 1);
        out[j] = NULL;
    }
    pass_sink s = {"grad", inputs, nin, out, 0};
    int rc = run_pass(&s, outputs, grad_outputs, nout, opts);
    /* an input the outputs reach but no gradient got to: zeros */
    for (int j = 0; !rc && j < nin; j++)
        if (!out[j] && inputs[j]->pass_mark == s.need &&
            !(out[j] = mg_zeros(inputs[j]->ndim, inputs[j]->shape, inputs[j]->dtype)))
            rc = mg_errcode();
    if (rc)
        for (int j = 0; j < nin; j++) {
            mg_release(out[j]);
            out[j] = NULL;
        }
    return rc;
}
