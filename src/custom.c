/* custom.c — ops defined outside the library (mg_custom): the caller
 * computes the output itself and hands over a backward callback; the output
 * is recorded as ONE graph node whose ctx keeps the callback, the caller's
 * state, a constant alias of the output and the grad_fn name
 * ("<name>Backward").  The Lua binding builds mg.autograd.Function on this
 * (binding/b_extend.c).
 *
 * Under create_graph the callback gets the output as a variable: a second
 * node of the same op over the same inputs (sharing the state, which is
 * reference counted), so a backward that reads the output differentiates
 * through it, as the built-in ops do with mg_node_output. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* What a custom node keeps in its ctx; shared by the nodes of one call. */
typedef struct custom_state {
    int refcount;
    char *name;      /* "Square": used in error messages */
    char *grad_name; /* "SquareBackward": the node's grad_fn */
    mg_custom_backward fn;
    void *user;      /* the caller's ctx, and how to free it */
    void (*user_free)(void *ctx);
    mg_tensor *out;  /* constant alias of the output */
} custom_state;

static void state_release(void *p) {
    custom_state *s = p;
    if (!s || --s->refcount > 0) return;
    if (s->user_free) s->user_free(s->user);
    mg_release(s->out);
    free(s->name);
    free(s->grad_name);
    free(s);
}

static char *concat(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *r = malloc(na + nb + 1);
    if (!r) return NULL;
    memcpy(r, a, na);
    memcpy(r + na, b, nb + 1);
    return r;
}

/* A new state owning the caller's ctx; NULL (ctx freed) on failure. */
static custom_state *state_new(mg_tensor *out, const char *name, mg_custom_backward fn,
                               void *ctx, void (*ctx_free)(void *)) {
    custom_state *s = calloc(1, sizeof *s);
    if (!s) {
        if (ctx_free) ctx_free(ctx);
        mg_seterr(MG_ENOMEM, "%s: out of memory recording the graph", name);
        return NULL;
    }
    s->refcount = 1;
    s->fn = fn;
    s->user = ctx;
    s->user_free = ctx_free;
    s->name = concat(name, "");
    s->grad_name = concat(name, "Backward");
    s->out = mg_detach(out);
    if (!s->name || !s->grad_name || !s->out) {
        state_release(s);
        mg_seterr(MG_ENOMEM, "%s: out of memory recording the graph", name);
        return NULL;
    }
    return s;
}

/* The output mg_custom is recording (mg_apply calls the forward below while
 * it is set); the op cannot be recomputed from its inputs otherwise. */
static _Thread_local mg_tensor *pending_out;

static mg_tensor *custom_forward(mg_tensor **in, const mg_params *p) {
    (void)in;
    (void)p;
    if (!pending_out) {
        mg_seterr(MG_EGRAPH, "custom op: its output cannot be recomputed from its inputs");
        return NULL;
    }
    return mg_detach(pending_out);
}

static int custom_backward(mg_node *n, mg_tensor *g, mg_tensor **gin);

/* One op table entry per arity (the node's input count is the op's). */
#define CUSTOM_OP(k)                                                                      \
    {"custom", "CustomBackward", k, MG_KIND_OTHER, MG_RES_SAME, {0}, {0}, custom_forward, \
     custom_backward, 0, NULL}
static const mg_opdef custom_ops[MG_MAXINPUTS] = {
    CUSTOM_OP(1), CUSTOM_OP(2), CUSTOM_OP(3), CUSTOM_OP(4),
    CUSTOM_OP(5), CUSTOM_OP(6), CUSTOM_OP(7), CUSTOM_OP(8)};
#undef CUSTOM_OP

const char *mg_custom_grad_name(const mg_node *n) {
    if (n->op->backward != custom_backward) return NULL;
    const custom_state *s = n->ctx;
    return s ? s->grad_name : n->op->grad_name;
}

/* Records s->out as the result of the op over the n inputs; the node (if
 * any: grad mode on and a variable input) takes a reference to s.  Returns
 * a new tensor, or NULL; s stays the caller's either way. */
static mg_tensor *record(custom_state *s, int n, mg_tensor **in) {
    mg_tensor *prev = pending_out;
    pending_out = s->out;
    mg_tensor *r = mg_apply(&custom_ops[n - 1], in, NULL);
    pending_out = prev;
    if (r && r->grad_fn) {
        s->refcount++;
        r->grad_fn->ctx = s;
        r->grad_fn->ctx_free = state_release;
    }
    return r;
}

/* Whether a gradient shaped like g sums down to in's shape (in broadcasts to g). */
static bool sums_to(const mg_tensor *g, const mg_tensor *in) {
    if (g->ndim < in->ndim) return false;
    for (int i = 1; i <= in->ndim; i++) {
        int64_t d = in->shape[in->ndim - i], e = g->shape[g->ndim - i];
        if (d != e && d != 1) return false;
    }
    return true;
}

static int check_grad(const custom_state *s, const mg_tensor *g, const mg_tensor *in, int i) {
    if (!g || sums_to(g, in)) return MG_OK;
    char sg[256], si[256];
    return mg_seterr(MG_ESHAPE, "%s.backward: the gradient for input %d has shape %s, but the "
                     "input has shape %s (a gradient must have its input's shape)", s->name,
                     i + 1, mg_shape_str(g->ndim, g->shape, sg, sizeof sg),
                     mg_shape_str(in->ndim, in->shape, si, sizeof si));
}

static int custom_backward(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    custom_state *s = n->ctx;
    if (!s) return mg_seterr(MG_EGRAPH, "custom op: the node lost its backward");
    int nin = n->ninputs;
    /* the output as backward may read it: differentiable under create_graph */
    mg_tensor *out = mg_grad_enabled() ? record(s, nin, n->inputs) : mg_retain(s->out);
    if (!out) return mg_errcode();
    bool mode = mg_grad_enabled();
    int rc = s->fn(s->user, g, out, nin, n->inputs, gin);
    mg_set_grad_enabled(mode); /* whatever the callback did to it */
    mg_release(out);
    if (!rc && (n->freed || n->ninputs != nin))
        rc = mg_seterr(MG_EGRAPH, "%s.backward: the graph was freed while it ran (a backward "
                       "inside a custom backward is not supported)", s->name);
    for (int i = 0; !rc && i < nin; i++) rc = check_grad(s, gin[i], n->inputs[i], i);
    if (rc)
        for (int i = 0; i < nin; i++) {
            mg_release(gin[i]);
            gin[i] = NULL;
        }
    return rc;
}

static int check_args(mg_tensor *out, int n, mg_tensor *const *inputs, const char *name,
                      mg_custom_backward fn) {
    if (!out) return mg_seterr(MG_EVALUE, "%s: the output is missing", name);
    if (!fn) return mg_seterr(MG_EVALUE, "%s: the backward function is missing", name);
    if (n < 0 || n > MG_MAXINPUTS)
        return mg_seterr(MG_EVALUE, "%s: a custom op takes 0 to %d tensor inputs, got %d", name,
                         MG_MAXINPUTS, n);
    for (int i = 0; i < n; i++)
        if (!inputs || !inputs[i])
            return mg_seterr(MG_EVALUE, "%s: input %d is missing", name, i + 1);
    return MG_OK;
}

mg_tensor *mg_custom(mg_tensor *out, int n, mg_tensor *const *inputs, const char *name,
                     mg_custom_backward fn, void *ctx, void (*ctx_free)(void *ctx)) {
    if (!name) name = "Custom";
    if (check_args(out, n, inputs, name, fn)) {
        if (ctx_free) ctx_free(ctx);
        return NULL;
    }
    if (n == 0) { /* nothing to differentiate: a constant */
        if (ctx_free) ctx_free(ctx);
        return mg_detach(out);
    }
    custom_state *s = state_new(out, name, fn, ctx, ctx_free);
    if (!s) return NULL;
    mg_tensor *in[MG_MAXINPUTS];
    for (int i = 0; i < n; i++) in[i] = inputs[i];
    mg_tensor *r = record(s, n, in);
    state_release(s); /* the node holds it now, if there is one */
    return r;
}
