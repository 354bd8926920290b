/* fuzz_einsum.c — libFuzzer harness for mg_einsum (the subscripts parser and
 * the contraction planner).  Any input must give a result or an error with a
 * message, never a crash, an out-of-bounds access, a leak or a hang.  A
 * result is also checked against a brute-force evaluation (a loop over every
 * assignment of the labels), and so are the gradients that backward gives
 * the operands when they are variables; two operands must never be refused
 * for an intermediate result's number of axes.  Built and run by fuzz/run.sh.
 *
 * Input layout: a 24-byte header (missing bytes read as 0), then the
 * subscripts (up to the first NUL, at most 4096 bytes).
 *   h[0]  bits 0-1: operands - 1 (explicit shapes); bits 2-3: dtype (float32,
 *         float64, int64, bool); bit 4: variables (float dtypes) and
 *         backward; bit 5: shapes derived from the subscripts; bit 6: the
 *         operands are transposed views (non-contiguous); bit 7: an operand
 *         of the same shape as an earlier one is that same tensor.
 *   explicit shapes: h[1 + k] % 5 is operand k's rank, h[5 + 4k + i] % 5 its
 *         size on axis i.
 *   derived shapes: one operand per input term (at most 4); letter c has
 *         size h[1 + id(c) % 20] % 5; operand k's "..." stands for
 *         (h[21] >> 2k) & 3 axes, axis r from the right of size
 *         1 + ((h[22] >> 2r) & 3), or 1 when bit (3k + r) % 8 of h[23] is set.
 * Shapes whose product of sizes (zeros counted as ones) over all operands
 * passes 2^14 have every size cut to at most 1, which keeps each run fast.
 * FUZZ_VERBOSE=1 in the environment prints each result's shape or error. */
#include <stdlib.h>

#include "fuzz_util.h"

#define HDR 24
#define MAXSUB 4096
#define MAXOPS 4
#define BUDGET (1 << 14)
#define NLET 52
#define NLAB (NLET + MG_MAXDIM)

typedef struct {
    int nops;
    int nd[MAXOPS];
    int64_t shape[MAXOPS][MG_MAXDIM];
} shapes;

static int letter_id(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
    return -1;
}

/* The end of the input terms (the first "->", or the end). */
static const char *inputs_end(const char *subs) {
    const char *arrow = strstr(subs, "->");
    return arrow ? arrow : subs + strlen(subs);
}

static int count_terms(const char *subs) {
    int n = 1;
    for (const char *s = subs, *end = inputs_end(subs); s < end; s++) n += *s == ',';
    return n;
}

/* Term k of the inputs as [*b, *e); false when there is none. */
static bool term_of(const char *subs, int k, const char **b, const char **e) {
    const char *t = subs, *end = inputs_end(subs);
    for (int i = 0; i < k; i++) {
        while (t < end && *t != ',') t++;
        if (t == end) return false;
        t++;
    }
    const char *u = t;
    while (u < end && *u != ',') u++;
    *b = t;
    *e = u;
    return true;
}

static void explicit_shapes(const uint8_t *h, shapes *s) {
    s->nops = 1 + (h[0] & 3);
    for (int k = 0; k < s->nops; k++) {
        s->nd[k] = h[1 + k] % 5;
        for (int i = 0; i < s->nd[k]; i++) s->shape[k][i] = h[5 + 4 * k + i] % 5;
    }
}

static void derived_shapes(const uint8_t *h, const char *subs, shapes *s) {
    int n = count_terms(subs);
    s->nops = n < MAXOPS ? n : MAXOPS;
    for (int k = 0; k < s->nops; k++) {
        const char *b, *e;
        int nd = 0, ell = (h[21] >> (2 * k)) & 3;
        bool seen_ell = false;
        term_of(subs, k, &b, &e);
        for (const char *c = b; c < e && nd < MG_MAXDIM; c++) {
            int id = letter_id(*c);
            if (id >= 0) s->shape[k][nd++] = h[1 + id % 20] % 5;
            if (!seen_ell && e - c >= 3 && memcmp(c, "...", 3) == 0) {
                seen_ell = true;
                for (int j = 0; j < ell && nd < MG_MAXDIM; j++) {
                    int r = ell - 1 - j; /* from the right */
                    bool one = (h[23] >> ((3 * k + r) % 8)) & 1;
                    s->shape[k][nd++] = one ? 1 : 1 + ((h[22] >> (2 * r)) & 3);
                }
                c += 2;
            }
        }
        s->nd[k] = nd;
    }
}

static void apply_budget(shapes *s) {
    int64_t work = 1;
    for (int k = 0; k < s->nops; k++)
        for (int i = 0; i < s->nd[k]; i++) {
            work *= s->shape[k][i] > 1 ? s->shape[k][i] : 1;
            if (work > BUDGET) goto cut;
        }
    return;
cut:
    for (int k = 0; k < s->nops; k++)
        for (int i = 0; i < s->nd[k]; i++)
            if (s->shape[k][i] > 1) s->shape[k][i] = 1;
}

/* ---- brute-force reference ------------------------------------------------------- */
typedef struct {
    int nops, n[MAXOPS], lab[MAXOPS][MG_MAXDIM];
    int nout, out[MG_MAXDIM];
    int nell;
    int64_t size[NLAB];
    int count[NLAB];
} ref;

/* Letters and the position of "..." (-1: none) of one term; false when
 * the term has anything else (the library accepted it, so never). */
static bool ref_term(const char *b, const char *e, int *ids, int *nids, int *ell) {
    *nids = 0;
    *ell = -1;
    for (const char *c = b; c < e; c++) {
        if (*c == ' ') continue;
        if (*c == '.') {
            if (*ell >= 0 || e - c < 3 || memcmp(c, "...", 3) != 0) return false;
            *ell = *nids;
            c += 2;
            continue;
        }
        int id = letter_id(*c);
        if (id < 0 || *nids == MG_MAXDIM) return false;
        ids[(*nids)++] = id;
    }
    return true;
}

static bool ref_plan(ref *r, const char *subs, int nops, mg_tensor *const *ops) {
    int ids[MAXOPS][MG_MAXDIM], nids[MAXOPS], ell[MAXOPS];
    memset(r, 0, sizeof *r);
    r->nops = nops;
    for (int k = 0; k < nops; k++) {
        const char *b, *e;
        if (!term_of(subs, k, &b, &e) || !ref_term(b, e, ids[k], &nids[k], &ell[k])) return false;
        if (ell[k] >= 0 && ops[k]->ndim - nids[k] > r->nell) r->nell = ops[k]->ndim - nids[k];
    }
    for (int l = 0; l < NLAB; l++) r->size[l] = -1;
    for (int k = 0; k < nops; k++) {
        int e = ell[k] >= 0 ? ops[k]->ndim - nids[k] : 0;
        r->n[k] = 0;
        for (int i = 0; i <= nids[k]; i++) {
            if (i == ell[k])
                for (int j = 0; j < e; j++) r->lab[k][r->n[k]++] = NLET + r->nell - e + j;
            if (i < nids[k]) r->lab[k][r->n[k]++] = ids[k][i];
        }
        if (r->n[k] != ops[k]->ndim) return false;
        for (int i = 0; i < r->n[k]; i++) {
            int l = r->lab[k][i];
            int64_t d = ops[k]->shape[i];
            r->count[l]++;
            if (r->size[l] < 0 || (l >= NLET && r->size[l] == 1)) r->size[l] = d;
        }
    }
    const char *arrow = strstr(subs, "->");
    if (arrow) {
        int oid[MG_MAXDIM], no, oell;
        if (!ref_term(arrow + 2, arrow + 2 + strlen(arrow + 2), oid, &no, &oell)) return false;
        for (int i = 0; i <= no; i++) {
            if (i == oell)
                for (int j = 0; j < r->nell; j++) r->out[r->nout++] = NLET + j;
            if (i < no) r->out[r->nout++] = oid[i];
        }
    } else {
        for (int j = 0; j < r->nell; j++) r->out[r->nout++] = NLET + j;
        for (int l = 0; l < NLET; l++)
            if (r->count[l] == 1) r->out[r->nout++] = l;
    }
    return true;
}

static double ref_out[BUDGET], ref_grad[MAXOPS][BUDGET];

/* Fills ref_out (the result, row-major) and ref_grad (d sum(result) / d
 * operand k, row-major over operand k's logical shape). */
static void ref_eval(const ref *r, mg_tensor *const *ops) {
    int used[NLAB], nused = 0;
    int64_t val[NLAB] = {0}, total = 1;
    for (int l = 0; l < NLAB; l++)
        if (r->count[l] > 0) {
            used[nused++] = l;
            total *= r->size[l];
        }
    int64_t onumel = 1;
    for (int i = 0; i < r->nout; i++) onumel *= r->size[r->out[i]];
    for (int64_t i = 0; i < onumel; i++) ref_out[i] = 0;
    for (int k = 0; k < r->nops; k++)
        for (int64_t i = 0, n = mg_numel(ops[k]); i < n; i++) ref_grad[k][i] = 0;
    for (int64_t it = 0; it < total; it++) {
        double v[MAXOPS];
        int64_t at[MAXOPS];
        for (int k = 0; k < r->nops; k++) {
            int64_t f = 0;
            for (int i = 0; i < r->n[k]; i++) {
                int64_t d = ops[k]->shape[i];
                f = f * d + (d == 1 ? 0 : val[r->lab[k][i]]);
            }
            at[k] = f;
            v[k] = mg_get_flat(ops[k], f);
        }
        int64_t o = 0;
        for (int i = 0; i < r->nout; i++) o = o * r->size[r->out[i]] + val[r->out[i]];
        double prod = 1;
        for (int k = 0; k < r->nops; k++) prod *= v[k];
        ref_out[o] += prod;
        for (int k = 0; k < r->nops; k++) {
            double others = 1;
            for (int j = 0; j < r->nops; j++)
                if (j != k) others *= v[j];
            ref_grad[k][at[k]] += others;
        }
        for (int u = nused - 1; u >= 0; u--) { /* the next assignment */
            if (++val[used[u]] < r->size[used[u]]) break;
            val[used[u]] = 0;
        }
    }
}

static void compare(const mg_tensor *t, const double *want, const char *what) {
    for (int64_t i = 0, n = mg_numel(t); i < n; i++)
        if (!fz_close(mg_get_flat(t, i), want[i])) {
            fprintf(stderr, "fuzz: %s element %lld is %g, expected %g\n", what, (long long)i,
                    mg_get_flat(t, i), want[i]);
            fz_fail("wrong value");
        }
}

static void check_result(const char *subs, int nops, mg_tensor *const *ops, const mg_tensor *r) {
    ref rf;
    fz_touch(r);
    if (!ref_plan(&rf, subs, nops, ops)) fz_fail("einsum accepted subscripts the reference cannot read");
    int64_t shape[MG_MAXDIM];
    for (int i = 0; i < rf.nout; i++) shape[i] = rf.size[rf.out[i]];
    if (!fz_same_shape(r, rf.nout, shape)) fz_fail("einsum result has the wrong shape");
    if (r->dtype == MG_BOOL) return;
    ref_eval(&rf, ops);
    compare(r, ref_out, "result");
}

/* ---- the operands ------------------------------------------------------------------ */
static mg_tensor *make_operand(int nd, const int64_t *shape, mg_dtype dt, bool transposed, int k,
                               int seed, mg_tensor **leaf) {
    int64_t ls[MG_MAXDIM];
    for (int i = 0; i < nd; i++) ls[i] = transposed ? shape[nd - 1 - i] : shape[i];
    mg_tensor *t = mg_empty(nd, ls, dt);
    if (!t) fz_fail("mg_empty failed on a small shape");
    for (int64_t i = 0, n = mg_numel(t); i < n; i++)
        mg_set_flat(t, i, (double)((i * 7 + k * 3 + seed) % 5 - 2));
    *leaf = t;
    if (!transposed) return mg_retain(t);
    mg_tensor *v = mg_transpose(t);
    if (!v) fz_fail("transpose failed");
    return v;
}

/* sum(result).backward(), then each operand's gradient against the reference
 * (same[k] != k: operand k is operand same[k] again). */
static void check_backward(const char *subs, int nops, mg_tensor *const *ops, mg_tensor *const *leaves,
                           const int *same, mg_tensor *r, bool transposed) {
    mg_tensor *y = mg_sum(r, MG_ALLAXES, false);
    if (!y) fz_fail("sum of an einsum result failed");
    if (mg_backward(y, NULL, NULL)) fz_fail("backward of an einsum failed");
    mg_release(y);
    ref rf;
    if (!ref_plan(&rf, subs, nops, ops)) fz_fail("reference plan");
    ref_eval(&rf, ops);
    for (int k = 0; k < nops; k++) /* a tensor given twice gets both gradients */
        if (same[k] != k)
            for (int64_t i = 0, n = mg_numel(ops[k]); i < n; i++) ref_grad[same[k]][i] += ref_grad[k][i];
    for (int k = 0; k < nops; k++) {
        if (same[k] != k) continue;
        mg_tensor *g = leaves[k]->grad;
        if (!g) fz_fail("an operand got no gradient");
        fz_touch(g);
        if (!fz_same_shape(g, leaves[k]->ndim, leaves[k]->shape)) fz_fail("gradient of the wrong shape");
        mg_tensor *gv = transposed ? mg_transpose(g) : mg_retain(g);
        if (!gv) fz_fail("transpose of a gradient failed");
        compare(gv, ref_grad[k], "gradient");
        mg_release(gv);
    }
}

static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    mg_set_cache_limit(0); /* every buffer freed at once, so ASan sees each */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t h[HDR] = {0};
    static char subs[MAXSUB + 1];
    memcpy(h, data, size < HDR ? size : HDR);
    size_t n = size > HDR ? size - HDR : 0;
    if (n > MAXSUB) n = MAXSUB;
    memcpy(subs, data + (size > HDR ? HDR : size), n);
    subs[n] = '\0';

    static const mg_dtype dts[4] = {MG_FLOAT32, MG_FLOAT64, MG_INT64, MG_BOOL};
    mg_dtype dt = dts[(h[0] >> 2) & 3];
    bool grad = (h[0] & 16) && mg_dtype_is_float(dt), transposed = h[0] & 64;
    shapes s;
    if (h[0] & 32) derived_shapes(h, subs, &s);
    else explicit_shapes(h, &s);
    apply_budget(&s);

    mg_tensor *ops[MAXOPS], *leaves[MAXOPS];
    int same[MAXOPS];
    for (int k = 0; k < s.nops; k++) {
        same[k] = k;
        for (int j = 0; (h[0] & 128) && j < k && same[k] == k; j++)
            if (s.nd[j] == s.nd[k] && !memcmp(s.shape[j], s.shape[k], (size_t)s.nd[k] * sizeof(int64_t)))
                same[k] = j;
        if (same[k] != k) {
            ops[k] = mg_retain(ops[same[k]]);
            leaves[k] = mg_retain(leaves[same[k]]);
            continue;
        }
        ops[k] = make_operand(s.nd[k], s.shape[k], dt, transposed, k, h[1], &leaves[k]);
        if (grad && mg_requires_grad_(leaves[k], true)) fz_fail("requires_grad_ failed");
    }
    fz_clear_error();
    mg_tensor *r = mg_einsum(subs, s.nops, ops);
    fz_check_error(r);
    if (verbose) fz_report("einsum", subs, r);
    /* two operands have one intermediate result: the output itself */
    static const char too_many[] = "einsum: an intermediate result of";
    if (!r && s.nops <= 2 && strncmp(mg_errmsg(), too_many, sizeof too_many - 1) == 0)
        fz_fail("einsum of two operands refused for the size of an intermediate result");
    if (r) {
        check_result(subs, s.nops, ops, r);
        if (grad && r->requires_grad) check_backward(subs, s.nops, ops, leaves, same, r, transposed);
    }
    mg_release(r);
    for (int k = 0; k < s.nops; k++) {
        mg_release(ops[k]);
        mg_release(leaves[k]);
    }
    return 0;
}
