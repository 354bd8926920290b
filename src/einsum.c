/* einsum.c — Einstein summation (NumPy's subscripts).  The subscripts are
 * parsed into integer labels (letters 0..51 in ASCII order, then one label
 * per broadcast "..." axis); then each operand takes its diagonals (a letter
 * repeated), labels needed nowhere else are summed out, and operands are
 * contracted pairwise, cheapest pair first: by a batched matmul, or by a
 * broadcasting multiply (and a sum) when no summed label is shared or the
 * matrices would be 1 x K and K x 1; a last permute gives the output order.
 * Every step is a differentiable op, so gradients of any order follow. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define NLETTERS 52
#define NLABELS (NLETTERS + MG_MAXDIM) /* letters, then the broadcast axes */
#define MAX_OPERANDS 1024
#define GREEDY_MAX 64 /* operands up to which the cheapest pair is searched */

typedef struct {
    int n;
    int lab[MG_MAXDIM];
} labels;

typedef struct {
    const char *subs;
    int nops;
    labels *in;                /* per operand, one label per axis */
    labels out;
    int64_t size[NLABELS];     /* a label's size (broadcast size for "..." axes) */
    int count[NLABELS];        /* occurrences in the inputs */
    int nell;                  /* number of broadcast axes */
} plan;

/* ---- parsing ---------------------------------------------------------------- */
static int letter_id(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
    return -1;
}
static char letter_of(int id) { return (char)(id < 26 ? 'A' + id : 'a' + id - 26); }

static int bad_char(const plan *p, char c) {
    if (c > ' ' && c < 127)
        return mg_seterr(MG_EVALUE, "einsum: invalid character '%c' in subscripts \"%s\" (expected "
                         "letters, ',', '...' and '->')", c, p->subs);
    return mg_seterr(MG_EVALUE, "einsum: invalid character (code %d) in subscripts \"%s\"",
                     (unsigned char)c, p->subs);
}

/* One term (an operand's or the output's): letters and at most one "...".
 * *ell receives the number of letters before "..." (-1: none). */
static int parse_term(const plan *p, const char *s, size_t len, int *ids, int *nids, int *ell) {
    *nids = 0;
    *ell = -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ') continue;
        if (c == '.') {
            if (*ell >= 0 || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
                return mg_seterr(MG_EVALUE, "einsum: '.' must come as one '...' per operand in "
                                 "subscripts \"%s\"", p->subs);
            *ell = *nids;
            i += 2;
            continue;
        }
        int id = letter_id(c);
        if (id < 0) return bad_char(p, c);
        if (*nids == MG_MAXDIM)
            return mg_seterr(MG_EVALUE, "einsum: a term of subscripts \"%s\" names more than %d "
                             "axes", p->subs, MG_MAXDIM);
        ids[(*nids)++] = id;
    }
    return MG_OK;
}

/* Operand k's labels: its letters with the "..." axes numbered from the right
 * (aligned across operands, as broadcasting is). */
static void expand_term(plan *p, int k, const int *ids, int nids, int ell, int ndim) {
    labels *l = &p->in[k];
    int e = ell >= 0 ? ndim - nids : 0;
    l->n = 0;
    for (int i = 0; i <= nids; i++) {
        if (i == ell)
            for (int j = 0; j < e; j++) l->lab[l->n++] = NLETTERS + p->nell - e + j;
        if (i < nids) l->lab[l->n++] = ids[i];
    }
}

static int check_sizes(plan *p, mg_tensor *const *ops) {
    char s[256];
    int where[NLABELS];
    for (int i = 0; i < NLABELS; i++) {
        p->size[i] = -1;
        p->count[i] = 0;
    }
    for (int k = 0; k < p->nops; k++)
        for (int i = 0; i < p->in[k].n; i++) {
            int l = p->in[k].lab[i];
            int64_t d = ops[k]->shape[i];
            p->count[l]++;
            if (p->size[l] < 0 || (l >= NLETTERS && p->size[l] == 1)) {
                p->size[l] = d;
                where[l] = k;
            } else if (d != p->size[l] && !(l >= NLETTERS && d == 1)) {
                if (l >= NLETTERS)
                    return mg_seterr(MG_ESHAPE, "einsum: the '...' axes of operand %d (shape %s) do "
                                     "not broadcast with those of operand %d (subscripts \"%s\")",
                                     k + 1, mg_shape_str(ops[k]->ndim, ops[k]->shape, s, sizeof s),
                                     where[l] + 1, p->subs);
                return mg_seterr(MG_ESHAPE, "einsum: letter '%c' has size %lld in operand %d and "
                                 "size %lld in operand %d (subscripts \"%s\")", letter_of(l),
                                 (long long)p->size[l], where[l] + 1, (long long)d, k + 1, p->subs);
            }
        }
    return MG_OK;
}

static int parse_output(plan *p, const char *s, size_t len, bool explicit_out) {
    int ids[MG_MAXDIM], nids, ell;
    labels *o = &p->out;
    o->n = 0;
    if (!explicit_out) { /* the "..." axes, then the letters used once, in ASCII order */
        for (int j = 0; j < p->nell; j++) o->lab[o->n++] = NLETTERS + j;
        for (int l = 0; l < NLETTERS; l++)
            if (p->count[l] == 1) {
                if (o->n == MG_MAXDIM) goto too_many;
                o->lab[o->n++] = l;
            }
        return MG_OK;
    }
    if (parse_term(p, s, len, ids, &nids, &ell)) return mg_errcode();
    for (int i = 0; i < nids; i++) {
        if (p->count[ids[i]] == 0)
            return mg_seterr(MG_EVALUE, "einsum: output letter '%c' does not appear in the inputs "
                             "(subscripts \"%s\")", letter_of(ids[i]), p->subs);
        for (int j = 0; j < i; j++)
            if (ids[j] == ids[i])
                return mg_seterr(MG_EVALUE, "einsum: output letter '%c' appears more than once "
                                 "(subscripts \"%s\")", letter_of(ids[i]), p->subs);
    }
    for (int i = 0; i <= nids; i++) {
        if (i == ell)
            for (int j = 0; j < p->nell; j++) {
                if (o->n == MG_MAXDIM) goto too_many;
                o->lab[o->n++] = NLETTERS + j;
            }
        if (i < nids) {
            if (o->n == MG_MAXDIM) goto too_many;
            o->lab[o->n++] = ids[i];
        }
    }
    return MG_OK;
too_many:
    return mg_seterr(MG_ESHAPE, "einsum: the output of subscripts \"%s\" would have more than %d "
                     "axes", p->subs, MG_MAXDIM);
}

static int parse(plan *p, mg_tensor *const *ops) {
    const char *s = p->subs, *arrow = strstr(s, "->");
    size_t in_len = arrow ? (size_t)(arrow - s) : strlen(s);
    int nterms = 1;
    for (size_t i = 0; i < in_len; i++) {
        if (s[i] == ',') nterms++;
        else if (s[i] == '-' || s[i] == '>') return bad_char(p, s[i]);
    }
    if (nterms != p->nops)
        return mg_seterr(MG_EVALUE, "einsum: subscripts \"%s\" name %d operand%s but %d %s given",
                         s, nterms, nterms == 1 ? "" : "s", p->nops, p->nops == 1 ? "was" : "were");
    int ids[MG_MAXDIM], nids, ell, *info = malloc((size_t)p->nops * 3 * sizeof *info);
    int (*all)[MG_MAXDIM] = malloc((size_t)p->nops * sizeof *all);
    int rc = MG_OK;
    if (!info || !all) {
        rc = mg_seterr(MG_ENOMEM, "einsum: out of memory");
        goto done;
    }
    p->nell = 0;
    const char *t = s;
    for (int k = 0; k < p->nops; k++) {
        const char *end = t;
        while (end < s + in_len && *end != ',') end++;
        if ((rc = parse_term(p, t, (size_t)(end - t), ids, &nids, &ell))) goto done;
        int nd = ops[k]->ndim;
        if (ell < 0 ? nids != nd : nids > nd) {
            rc = mg_seterr(MG_ESHAPE, "einsum: operand %d has %d ax%s but its subscripts \"%.*s\" "
                           "name %d (subscripts \"%s\")", k + 1, nd, nd == 1 ? "is" : "es",
                           (int)(end - t), t, nids, s);
            goto done;
        }
        if (ell >= 0 && nd - nids > p->nell) p->nell = nd - nids;
        memcpy(all[k], ids, sizeof ids);
        info[3 * k] = nids;
        info[3 * k + 1] = ell;
        info[3 * k + 2] = nd;
        t = end + 1;
    }
    for (int k = 0; k < p->nops; k++) expand_term(p, k, all[k], info[3 * k], info[3 * k + 1], info[3 * k + 2]);
    if ((rc = check_sizes(p, ops))) goto done;
    if (arrow && strstr(arrow + 2, "->")) {
        rc = mg_seterr(MG_EVALUE, "einsum: subscripts \"%s\" have more than one '->'", s);
        goto done;
    }
    rc = parse_output(p, arrow ? arrow + 2 : "", arrow ? strlen(arrow + 2) : 0, arrow != NULL);
done:
    free(info);
    free(all);
    return rc;
}

/* ---- evaluation ---------------------------------------------------------------- */
typedef struct {
    mg_tensor *t;   /* NULL once contracted into another */
    labels l;
    bool is_input;  /* still the caller's tensor */
} operand;

static bool has(const labels *l, int lab) {
    for (int i = 0; i < l->n; i++)
        if (l->lab[i] == lab) return true;
    return false;
}

/* Is label lab needed outside operands skip1 and skip2 (the output counts)? */
static bool needed_elsewhere(const plan *p, const operand *ops, int skip1, int skip2, int lab) {
    if (has(&p->out, lab)) return true;
    for (int k = 0; k < p->nops; k++)
        if (k != skip1 && k != skip2 && ops[k].t && has(&ops[k].l, lab)) return true;
    return false;
}

/* Replaces o->t by r (consumed); the labels are set by the caller. */
static int replace(operand *o, mg_tensor *r) {
    if (!r) return mg_errcode();
    mg_release(o->t);
    o->t = r;
    o->is_input = false;
    return MG_OK;
}

/* Takes the diagonal of every letter repeated within the operand. */
static int take_diagonals(operand *o) {
    for (;;) {
        int a = -1, b = -1;
        for (int i = 0; i < o->l.n && a < 0; i++)
            for (int j = i + 1; j < o->l.n; j++)
                if (o->l.lab[i] == o->l.lab[j]) {
                    a = i;
                    b = j;
                    break;
                }
        if (a < 0) return MG_OK;
        int lab = o->l.lab[a], n = 0;
        if (replace(o, mg_diagonal(o->t, 0, a, b))) return mg_errcode();
        for (int i = 0; i < o->l.n; i++)
            if (i != a && i != b) o->l.lab[n++] = o->l.lab[i];
        o->l.lab[n++] = lab;
        o->l.n = n;
    }
}

/* Sums out the axes for which drop(label) holds. */
static int sum_labels(operand *o, const bool *drop) {
    uint32_t axes = 0;
    int n = 0;
    for (int i = 0; i < o->l.n; i++) {
        if (drop[o->l.lab[i]]) axes |= 1u << i;
        else o->l.lab[n++] = o->l.lab[i];
    }
    if (!axes) return MG_OK;
    o->l.n = n;
    return replace(o, mg_sum(o->t, axes, false));
}

/* Sums out of operand k the labels needed by no other operand, by skip, nor the output. */
static int sum_private(const plan *p, operand *ops, int k, int skip) {
    bool drop[NLABELS] = {false};
    for (int i = 0; i < ops[k].l.n; i++) {
        int lab = ops[k].l.lab[i];
        drop[lab] = !needed_elsewhere(p, ops, k, skip, lab) && !(skip >= 0 && has(&ops[skip].l, lab));
    }
    return sum_labels(&ops[k], drop);
}

/* reshape, skipped (t retained) when the shape is already right */
static mg_tensor *reshape_to(mg_tensor *t, int nd, const int64_t *shape) {
    if (t->ndim == nd && memcmp(t->shape, shape, (size_t)nd * sizeof *shape) == 0)
        return mg_retain(t);
    return mg_reshape(t, nd, shape);
}

/* Permutes o so its labels read `order` (a permutation of them), then
 * reshapes it to `nd` axes of `shape` (no op recorded for either when it
 * would change nothing). */
static mg_tensor *arrange(const operand *o, const int *order, int n, int nd, const int64_t *shape) {
    int perm[MG_MAXDIM];
    bool identity = true;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < o->l.n; j++)
            if (o->l.lab[j] == order[i]) {
                perm[i] = j;
                identity = identity && i == j;
            }
    mg_tensor *t = identity ? mg_retain(o->t) : mg_permute(o->t, perm);
    mg_tensor *r = t ? reshape_to(t, nd, shape) : NULL;
    mg_release(t);
    return r;
}

static int64_t size_in(const operand *o, int lab) {
    for (int i = 0; i < o->l.n; i++)
        if (o->l.lab[i] == lab) return o->t->shape[i];
    return 1;
}

typedef struct {
    int batch[MG_MAXDIM], aonly[MG_MAXDIM], bonly[MG_MAXDIM], contr[MG_MAXDIM];
    int nb, na, nbo, nc;
} split;

static int too_many_axes(const plan *p, int n) {
    return mg_seterr(MG_ESHAPE, "einsum: an intermediate result of subscripts \"%s\" would have %d "
                     "axes (at most %d)", p->subs, n, MG_MAXDIM);
}

/* A * B, then summed over the contracted labels (used when there are none,
 * or when matmul would multiply 1 x K by K x 1 matrices):
 * (batch, aonly, 1.., contr) * (batch, 1.., bonly, contr). */
static mg_tensor *contract_mul(const plan *p, const operand *A, const operand *B, const split *s) {
    int nd = s->nb + s->na + s->nbo + s->nc, order[MG_MAXDIM], n = 0, c0 = nd - s->nc;
    int64_t sa[MG_MAXDIM], sb[MG_MAXDIM];
    if (nd > MG_MAXDIM) return too_many_axes(p, nd), NULL;
    for (int i = 0; i < s->nb; i++) {
        sa[i] = size_in(A, s->batch[i]);
        sb[i] = size_in(B, s->batch[i]);
    }
    for (int i = 0; i < s->na; i++) {
        sa[s->nb + i] = size_in(A, s->aonly[i]);
        sb[s->nb + i] = 1;
    }
    for (int i = 0; i < s->nbo; i++) {
        sa[s->nb + s->na + i] = 1;
        sb[s->nb + s->na + i] = size_in(B, s->bonly[i]);
    }
    for (int i = 0; i < s->nc; i++) sa[c0 + i] = sb[c0 + i] = size_in(A, s->contr[i]);
    for (int i = 0; i < s->nb; i++) order[n++] = s->batch[i];
    for (int i = 0; i < s->na; i++) order[n++] = s->aonly[i];
    for (int i = 0; i < s->nc; i++) order[n++] = s->contr[i];
    mg_tensor *a = arrange(A, order, n, nd, sa);
    n = 0;
    for (int i = 0; i < s->nb; i++) order[n++] = s->batch[i];
    for (int i = 0; i < s->nbo; i++) order[n++] = s->bonly[i];
    for (int i = 0; i < s->nc; i++) order[n++] = s->contr[i];
    mg_tensor *b = a ? arrange(B, order, n, nd, sb) : NULL;
    mg_tensor *r = b ? mg_mul(a, b) : NULL;
    mg_release(a);
    mg_release(b);
    if (!r || !s->nc) return r;
    uint32_t axes = (uint32_t)(((1ull << s->nc) - 1) << c0);
    mg_tensor *out = mg_sum(r, axes, false);
    mg_release(r);
    return out;
}

/* A . B over the contracted labels: (batch, M, K) @ (batch, K, N). */
static mg_tensor *contract_matmul(const plan *p, const operand *A, const operand *B, const split *s) {
    int order[MG_MAXDIM], n = 0, nd = s->nb + s->na + s->nbo;
    int64_t sa[MG_MAXDIM], sb[MG_MAXDIM], so[MG_MAXDIM], m = 1, k = 1, nn = 1;
    if (nd > MG_MAXDIM) return too_many_axes(p, nd), NULL;
    for (int i = 0; i < s->nb; i++) {
        sa[i] = size_in(A, s->batch[i]);
        sb[i] = size_in(B, s->batch[i]);
        so[i] = sa[i] == 1 ? sb[i] : sa[i];
    }
    for (int i = 0; i < s->na; i++) m *= so[s->nb + i] = size_in(A, s->aonly[i]);
    for (int i = 0; i < s->nbo; i++) nn *= so[s->nb + s->na + i] = size_in(B, s->bonly[i]);
    for (int i = 0; i < s->nc; i++) k *= size_in(A, s->contr[i]);
    sa[s->nb] = m;
    sa[s->nb + 1] = k;
    sb[s->nb] = k;
    sb[s->nb + 1] = nn;
    for (int i = 0; i < s->nb; i++) order[n++] = s->batch[i];
    for (int i = 0; i < s->na; i++) order[n++] = s->aonly[i];
    for (int i = 0; i < s->nc; i++) order[n++] = s->contr[i];
    mg_tensor *a = arrange(A, order, n, s->nb + 2, sa);
    n = s->nb;
    for (int i = 0; i < s->nc; i++) order[n++] = s->contr[i];
    for (int i = 0; i < s->nbo; i++) order[n++] = s->bonly[i];
    mg_tensor *b = a ? arrange(B, order, n, s->nb + 2, sb) : NULL;
    mg_tensor *r = b ? mg_matmul(a, b) : NULL;
    mg_tensor *out = r ? reshape_to(r, nd, so) : NULL;
    mg_release(a);
    mg_release(b);
    mg_release(r);
    return out;
}

/* Contracts operand j into operand i. */
static int contract(const plan *p, operand *ops, int i, int j) {
    if (sum_private(p, ops, i, j) || sum_private(p, ops, j, i)) return mg_errcode();
    operand *A = &ops[i], *B = &ops[j];
    /* a summed "..." axis of size 1 on one side: sum it out of each side alone */
    bool drop[NLABELS] = {false}, any = false;
    for (int a = 0; a < A->l.n; a++) {
        int lab = A->l.lab[a];
        if (has(&B->l, lab) && !needed_elsewhere(p, ops, i, j, lab) &&
            size_in(A, lab) != size_in(B, lab))
            any = drop[lab] = true;
    }
    if (any && (sum_labels(A, drop) || sum_labels(B, drop))) return mg_errcode();
    split s;
    s.nb = s.na = s.nbo = s.nc = 0;
    for (int a = 0; a < A->l.n; a++) {
        int lab = A->l.lab[a];
        if (!has(&B->l, lab)) s.aonly[s.na++] = lab;
        else if (needed_elsewhere(p, ops, i, j, lab)) s.batch[s.nb++] = lab;
        else s.contr[s.nc++] = lab;
    }
    for (int b = 0; b < B->l.n; b++)
        if (!has(&A->l, B->l.lab[b])) s.bonly[s.nbo++] = B->l.lab[b];
    double m = 1, n = 1;
    for (int a = 0; a < s.na; a++) m *= (double)size_in(A, s.aonly[a]);
    for (int b = 0; b < s.nbo; b++) n *= (double)size_in(B, s.bonly[b]);
    /* (the multiply keeps the contracted axes until its sum: only while
     * they fit in MG_MAXDIM; matmul folds them) */
    bool use_mul = s.nc == 0 || (m == 1 && n == 1 && s.nb + s.na + s.nbo + s.nc <= MG_MAXDIM);
    mg_tensor *r = use_mul ? contract_mul(p, A, B, &s) : contract_matmul(p, A, B, &s);
    if (replace(A, r)) return mg_errcode();
    A->l.n = 0;
    for (int a = 0; a < s.nb; a++) A->l.lab[A->l.n++] = s.batch[a];
    for (int a = 0; a < s.na; a++) A->l.lab[A->l.n++] = s.aonly[a];
    for (int a = 0; a < s.nbo; a++) A->l.lab[A->l.n++] = s.bonly[a];
    mg_release(B->t);
    B->t = NULL;
    return MG_OK;
}

/* Work of contracting i and j (the product of the sizes of their labels). */
static double pair_cost(const plan *p, const operand *ops, int i, int j) {
    double c = 1;
    for (int a = 0; a < ops[i].l.n; a++) c *= (double)p->size[ops[i].l.lab[a]];
    for (int b = 0; b < ops[j].l.n; b++)
        if (!has(&ops[i].l, ops[j].l.lab[b])) c *= (double)p->size[ops[j].l.lab[b]];
    return c;
}

/* Does contracting i and j give at most MG_MAXDIM axes: the labels of
 * either that the output or another operand still needs (cnt[l]: how many
 * operands left have label l)? */
static bool pair_fits(const plan *p, const operand *ops, int i, int j, const int *cnt) {
    int n = 0;
    for (int a = 0; a < ops[i].l.n; a++) {
        int lab = ops[i].l.lab[a];
        n += has(&p->out, lab) || cnt[lab] > 1 + has(&ops[j].l, lab);
    }
    for (int b = 0; b < ops[j].l.n; b++) {
        int lab = ops[j].l.lab[b];
        n += !has(&ops[i].l, lab) && (has(&p->out, lab) || cnt[lab] > 1);
    }
    return n <= MG_MAXDIM;
}

/* Contracts pairs, the cheapest first (the leftmost among equals) among
 * those whose result fits in MG_MAXDIM axes, down to one; past GREEDY_MAX
 * operands, simply left to right. */
static int contract_all(const plan *p, operand *ops) {
    bool greedy = p->nops <= GREEDY_MAX;
    for (int left = p->nops; left > 1; left--) {
        int bi = -1, bj = -1, cnt[NLABELS] = {0};
        double best = 0;
        bool best_fits = false;
        for (int k = 0; greedy && k < p->nops; k++) /* (no label repeats within an operand now) */
            for (int a = 0; ops[k].t && a < ops[k].l.n; a++) cnt[ops[k].l.lab[a]]++;
        for (int i = 0; i < p->nops; i++)
            for (int j = i + 1; ops[i].t && j < p->nops; j++) {
                if (!ops[j].t) continue;
                double c = greedy ? pair_cost(p, ops, i, j) : 0;
                bool fits = greedy && pair_fits(p, ops, i, j, cnt);
                if (bi < 0 || (fits && !best_fits) || (fits == best_fits && c < best)) {
                    best = c;
                    best_fits = fits;
                    bi = i;
                    bj = j;
                }
                if (!greedy) break;
            }
        if (contract(p, ops, bi, bj)) return mg_errcode();
    }
    return MG_OK;
}

/* The last operand: sum what the output lacks, then permute to its order. */
static mg_tensor *finish(const plan *p, operand *o) {
    bool drop[NLABELS] = {false};
    for (int i = 0; i < o->l.n; i++) drop[o->l.lab[i]] = !has(&p->out, o->l.lab[i]);
    if (sum_labels(o, drop)) return NULL;
    int perm[MG_MAXDIM];
    bool identity = true;
    for (int i = 0; i < p->out.n; i++)
        for (int j = 0; j < o->l.n; j++)
            if (o->l.lab[j] == p->out.lab[i]) {
                perm[i] = j;
                identity = identity && i == j;
            }
    if (identity && !o->is_input) return mg_retain(o->t);
    return mg_permute(o->t, perm);
}

mg_tensor *mg_einsum(const char *subscripts, int n, mg_tensor *const *ops) {
    if (!subscripts) {
        mg_seterr(MG_EVALUE, "einsum: the subscripts string is missing");
        return NULL;
    }
    if (n < 1 || !ops) {
        mg_seterr(MG_EVALUE, "einsum: needs at least one operand (subscripts \"%s\")", subscripts);
        return NULL;
    }
    if (n > MAX_OPERANDS) {
        mg_seterr(MG_EVALUE, "einsum: at most %d operands, got %d", MAX_OPERANDS, n);
        return NULL;
    }
    for (int k = 0; k < n; k++)
        if (!ops[k]) {
            mg_seterr(MG_EVALUE, "einsum: operand %d is missing (subscripts \"%s\")", k + 1, subscripts);
            return NULL;
        }
    plan p;
    memset(&p, 0, sizeof p);
    p.subs = subscripts;
    p.nops = n;
    p.in = calloc((size_t)n, sizeof *p.in);
    operand *w = calloc((size_t)n, sizeof *w);
    mg_tensor *out = NULL;
    if (!p.in || !w) {
        mg_seterr(MG_ENOMEM, "einsum: out of memory");
        goto done;
    }
    if (parse(&p, ops)) goto done;
    for (int k = 0; k < n; k++) {
        w[k].t = mg_retain(ops[k]);
        w[k].l = p.in[k];
        w[k].is_input = true;
    }
    for (int k = 0; k < n; k++)
        if (take_diagonals(&w[k]) || (n > 1 && sum_private(&p, w, k, -1))) goto done;
    if (contract_all(&p, w)) goto done;
    for (int k = 0; k < n; k++)
        if (w[k].t) out = finish(&p, &w[k]);
done:
    for (int k = 0; w && k < n; k++) mg_release(w[k].t);
    free(w);
    free(p.in);
    return out;
}
