/* autograd.c — grad mode, and the backward pass: a topological walk from
 * the root, each node's backward (written with moongrad ops, so it can be
 * recorded under create_graph), gradient accumulation, .grad on every
 * variable of the graph, and freeing the graph afterwards. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local bool grad_enabled = true;
static _Thread_local bool in_backward;
static _Thread_local bool keep_grad;
static _Thread_local uint64_t pass_counter;

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

/* ---- the tensor list of one pass --------------------------------------------- */
typedef struct {
    mg_tensor **v;
    size_t n, cap;
} tlist;

static int tlist_push(tlist *l, mg_tensor *t) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        mg_tensor **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return mg_seterr(MG_ENOMEM, "backward: out of memory");
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = t;
    return MG_OK;
}

/* A node's graph edges are followed unless the node was freed by an earlier
 * backward: then its output acts as a leaf (as MyGrad clears graphs). */
static bool live(const mg_tensor *t) { return t->grad_fn && !t->grad_fn->freed; }

/* Post-order DFS over variables reachable from root, without recursion.
 * Every listed tensor is retained by the list. */
static int topo_order(mg_tensor *root, uint64_t mark, tlist *order) {
    tlist stack = {0};
    tlist child = {0}; /* parallel stack of next-input positions, stored as ints */
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
    free(stack.v);
    free(child.v);
    return rc;
}

/* In-place edits of values a node's backward reads are errors, not wrong
 * gradients (the storage version counter, as in PyTorch). */
static int check_versions(const mg_node *n) {
    for (int i = 0; i < n->ninputs; i++)
        if ((n->op->saves & (1u << i)) && n->inputs[i]->storage->version != n->versions[i])
            return mg_seterr(MG_EGRAPH, "backward: an input of %s was modified in place after "
                             "it was used; its gradient would be wrong (clone it before editing)",
                             n->op->grad_name);
    if (n->out && n->out->storage->version != n->out_version)
        return mg_seterr(MG_EGRAPH, "backward: the output of %s was modified in place after it "
                         "was computed; its gradient would be wrong (clone it before editing)",
                         n->op->grad_name);
    return MG_OK;
}

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

/* The .grad a tensor keeps must not alias another tensor's memory. */
static mg_tensor *own(mg_tensor *g) {
    if (g->refcount == 1 && g->storage->refcount == 1 && mg_is_contiguous(g)) return mg_retain(g);
    return mg_clone(g);
}

static mg_tensor *head_grad(mg_tensor *y, mg_tensor *grad) {
    if (!grad) return mg_full(y->ndim, y->shape, 1, y->dtype);
    mg_tensor *c = mg_astype(grad, y->dtype);
    mg_tensor *b = c ? mg_broadcast_to(c, y->ndim, y->shape) : NULL;
    mg_release(c);
    if (!b) {
        char sa[256], sb[256];
        mg_seterr(MG_ESHAPE, "backward: the gradient's shape %s does not broadcast to the "
                  "tensor's shape %s", mg_shape_str(grad->ndim, grad->shape, sa, sizeof sa),
                  mg_shape_str(y->ndim, y->shape, sb, sizeof sb));
    }
    return b;
}

static int run_node(mg_tensor *t, mg_tensor *g) {
    mg_node *n = t->grad_fn;
    mg_tensor *gin[MG_MAXINPUTS] = {NULL};
    int rc = n->op->backward(n, g, gin);
    for (int i = 0; i < n->ninputs; i++) {
        mg_tensor *in = n->inputs[i];
        if (!gin[i]) continue;
        if (rc || !in->requires_grad) {
            mg_release(gin[i]);
            continue;
        }
        mg_tensor *f = fit(gin[i], in);
        rc = f ? accumulate(&in->pass_grad, f) : mg_errcode();
    }
    return rc;
}

static int backward_pass(tlist *order, mg_tensor *head) {
    int rc = MG_OK;
    order->v[order->n - 1]->pass_grad = head;
    for (size_t k = order->n; k-- > 0 && !rc;) {
        mg_tensor *t = order->v[k];
        mg_tensor *g = t->pass_grad;
        t->pass_grad = NULL;
        if (!g) continue;
        mg_tensor *kept = own(g);
        rc = kept ? accumulate(&t->grad, kept) : mg_errcode();
        if (!rc && live(t)) rc = run_node(t, g);
        mg_release(g);
    }
    for (size_t k = 0; k < order->n; k++) { /* leftovers after an error */
        mg_release(order->v[k]->pass_grad);
        order->v[k]->pass_grad = NULL;
    }
    return rc;
}

int mg_backward(mg_tensor *y, mg_tensor *grad, const mg_backward_opts *opts) {
    mg_backward_opts o = {false, false};
    if (opts) o = *opts;
    if (!y) return mg_seterr(MG_EVALUE, "backward: missing tensor");
    if (!y->requires_grad) return MG_OK; /* a constant: nothing to do, as in MyGrad */
    if (y->grad_fn && y->grad_fn->freed)
        return mg_seterr(MG_EGRAPH, "backward: the graph behind this tensor was already freed by "
                         "an earlier backward; pass {retain_graph = true} to the earlier "
                         "backward to run it again");
    bool prev_mode = mg_set_grad_enabled(o.create_graph);
    bool prev_inb = in_backward;
    in_backward = true;
    tlist order = {0};
    int rc = MG_OK;
    mg_tensor *head = head_grad(y, grad);
    if (!head) rc = mg_errcode();
    if (!rc) rc = topo_order(y, ++pass_counter, &order);
    for (size_t k = 0; !rc && k < order.n; k++)
        if (live(order.v[k])) rc = check_versions(order.v[k]->grad_fn);
    if (!rc) rc = backward_pass(&order, head);
    else mg_release(head);
    /* The gradient recorded under create_graph runs through the forward graph
     * (the intermediates it reads), so that graph must stay (as PyTorch's
     * retain_graph defaults to create_graph). */
    if (!rc && !o.retain_graph && !o.create_graph)
        for (size_t k = 0; k < order.n; k++) {
            mg_node *n = order.v[k]->grad_fn;
            if (!n || n->freed) continue;
            for (int i = 0; i < n->ninputs; i++) mg_release(n->inputs[i]);
            n->ninputs = 0;
            mg_release(n->out);
            n->out = NULL;
            n->freed = true;
        }
    for (size_t k = 0; k < order.n; k++) mg_release(order.v[k]);
    free(order.v);
    in_backward = prev_inb;
    mg_set_grad_enabled(prev_mode);
    return rc;
}
