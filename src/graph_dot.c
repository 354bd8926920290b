/* graph_dot.c — mg_graph_dot: the computation graph behind a tensor as
 * Graphviz DOT text.  One DOT node per tensor, numbered t0 (the tensor
 * itself), t1, ... in breadth-first order over the recorded inputs; ops are
 * boxes labelled by grad_fn name and output shape, leaves are ellipses
 * labelled "variable" or "constant" and their shape; edges run from each
 * op's inputs (in input order) to its output.  The walk is iterative: the
 * list of tensors found so far is also the queue. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable text ------------------------------------------------------ */
typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
} text;

static void text_printf(text *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* A name inside a DOT string: quotes and backslashes escaped, control
 * characters as spaces. */
static void text_escaped(text *b, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') text_printf(b, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) text_printf(b, " ");
        else text_printf(b, "%c", *s);
    }
}

/* ---- the tensors of the graph: a list (the queue) and a pointer -> id map ---- */
typedef struct {
    const mg_tensor **list; /* by id */
    size_t n, list_cap;
    const mg_tensor **keys; /* open addressing; NULL = empty */
    size_t *ids;
    size_t map_cap;         /* a power of two */
} tset;

static size_t slot_of(const tset *s, const mg_tensor *t) {
    size_t h = (size_t)(((uintptr_t)t >> 4) * (uintptr_t)0x9E3779B97F4A7C15u);
    size_t i = h & (s->map_cap - 1);
    while (s->keys[i] && s->keys[i] != t) i = (i + 1) & (s->map_cap - 1);
    return i;
}

static int tset_grow_map(tset *s) {
    size_t cap = s->map_cap ? s->map_cap * 2 : 64;
    const mg_tensor **keys = calloc(cap, sizeof *keys);
    size_t *ids = calloc(cap, sizeof *ids);
    if (!keys || !ids) {
        free(keys);
        free(ids);
        return MG_ENOMEM;
    }
    const mg_tensor **old_keys = s->keys;
    size_t *old_ids = s->ids, old_cap = s->map_cap;
    s->keys = keys;
    s->ids = ids;
    s->map_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old_keys[i]) {
            size_t j = slot_of(s, old_keys[i]);
            s->keys[j] = old_keys[i];
            s->ids[j] = old_ids[i];
        }
    free(old_keys);
    free(old_ids);
    return MG_OK;
}

/* The id of a tensor already in the set. */
static size_t tset_find(const tset *s, const mg_tensor *t) { return s->ids[slot_of(s, t)]; }

/* Adds t at the end of the list unless it is there; false when out of memory. */
static bool tset_add(tset *s, const mg_tensor *t) {
    if (s->map_cap && s->keys[slot_of(s, t)]) return true;
    if (2 * (s->n + 1) > s->map_cap && tset_grow_map(s)) return false;
    size_t i = slot_of(s, t);
    if (s->n == s->list_cap) {
        size_t cap = s->list_cap ? s->list_cap * 2 : 64;
        const mg_tensor **l = realloc(s->list, cap * sizeof *l);
        if (!l) return false;
        s->list = l;
        s->list_cap = cap;
    }
    s->keys[i] = t;
    s->ids[i] = s->n;
    s->list[s->n++] = t;
    return true;
}

static void tset_free(tset *s) {
    free(s->list);
    free(s->keys);
    free(s->ids);
}

/* ---- the DOT text --------------------------------------------------------- */
static bool live(const mg_tensor *t) { return t->grad_fn && !t->grad_fn->freed; }

static void node_line(text *b, size_t id, const mg_tensor *t) {
    char shape[256];
    mg_shape_str(t->ndim, t->shape, shape, sizeof shape);
    text_printf(b, "  t%zu [label=\"", id);
    if (t->grad_fn) {
        text_escaped(b, mg_grad_fn_name(t));
        text_printf(b, "\\n%s%s\", shape=box];\n", shape,
                    live(t) ? "" : "\\n(graph freed)");
    } else if (t->requires_grad) {
        text_printf(b, "variable\\n%s\", shape=ellipse, style=filled, fillcolor=lightblue];\n",
                    shape);
    } else {
        text_printf(b, "constant\\n%s\", shape=ellipse, style=filled, fillcolor=lightgray];\n",
                    shape);
    }
}

char *mg_graph_dot(const mg_tensor *y) {
    if (!y) {
        mg_seterr(MG_EVALUE, "graph: missing tensor");
        return NULL;
    }
    tset s = {0};
    text b = {0};
    bool failed = !tset_add(&s, y);
    for (size_t k = 0; !failed && k < s.n; k++) { /* s.list grows as inputs are found */
        const mg_tensor *t = s.list[k];
        if (!live(t)) continue;
        for (int i = 0; !failed && i < t->grad_fn->ninputs; i++)
            failed = !tset_add(&s, t->grad_fn->inputs[i]);
    }
    text_printf(&b, "digraph moongrad {\n  node [fontname=\"Helvetica\", fontsize=11];\n");
    for (size_t k = 0; !failed && k < s.n; k++) node_line(&b, k, s.list[k]);
    for (size_t k = 0; !failed && k < s.n; k++) {
        const mg_tensor *t = s.list[k];
        if (!live(t)) continue;
        for (int i = 0; i < t->grad_fn->ninputs; i++)
            text_printf(&b, "  t%zu -> t%zu;\n", tset_find(&s, t->grad_fn->inputs[i]), k);
    }
    text_printf(&b, "}\n");
    tset_free(&s);
    if (failed || b.failed) {
        free(b.p);
        mg_seterr(MG_ENOMEM, "graph: out of memory");
        return NULL;
    }
    return b.p;
}
