/* fuzz_slice.c — libFuzzer harness for index keys: the slice and integer
 * normalisation the Lua binding parses x[...] with (mg_slice_normalize,
 * mg_int_index_normalize) and the indexing functions it then calls
 * (mg_index_adv_get / mg_index_adv_set, which hand keys without tensors to
 * mg_index_get / mg_index_set).  Any input must give a result or an error
 * with a message, never a crash, an out-of-bounds access, a leak or UB.
 *
 * The indexed tensor holds, in a contiguous base tensor, each element's flat
 * position there, so the values read back say where they came from.  Checked
 * against references written here: the normalised records (the positions a
 * slice takes, computed in 128-bit arithmetic), the values and shape of a
 * basic key's result, the values after a write (the last write of a repeated
 * index wins), and with variables the gradients of sum(x[key]) and of
 * sum(x after x[key] = v).  Built and run by fuzz/run.sh.
 *
 * Input layout (bytes past the end read as 0):
 *   h[0]  bits 0-2: rank (% 5); bits 3-4: dtype (float32, float64, int64,
 *         bool); bit 5: variables and backward (float dtypes); bits 6-7: the
 *         layout: contiguous, a transposed view, every other element of a
 *         larger tensor, or a broadcast view (stride 0 where h[1 + i] >= 128).
 *   h[1..4]  the sizes (% 5).
 *   h[5]  bits 0-2: number of key entries (% 6); bit 3: base 1 (as from Lua)
 *         rather than 0; bits 6-7: the value written: a scalar, the shape of
 *         x[key] (or, when h[6] bit 7 is set, x[key] itself, read from the
 *         tensor written), that shape with its first axis dropped and axes
 *         of size 1 (h[6] bits), or a shape of its own (h[6] % 3 axes, then
 *         sizes % 4).
 *   h[6]  the value's shape bits (above).
 *   then the entries, each a byte b whose (b & 7) % 6 says what it is:
 *     0 an integer (one number), 1 a slice ({start, stop, step}, each given
 *     when bit 3, 4, 5 of b is set: one number each), 2 the whole axis,
 *     3 a bool mask of (b >> 3) % 4 axes, sized as the axes it covers when
 *     bit 5 is set, else one byte % 5 per axis, then one byte per 8 elements,
 *     4 an int64 index tensor of (b >> 3) % 3 axes (one byte % 4 each) and
 *     one number per element, 5 a raw mg_index record (kind byte % 3, then
 *     start, count, step) passed to the library without normalisation.
 *   A number is one byte c: c < 64: c - 32; c < 128: one of INT64_MIN,
 *   INT64_MIN + 1, INT64_MAX, INT64_MAX - 1, -1, 0, 1, 2^40; else the next
 *   8 bytes, little-endian.
 * FUZZ_VERBOSE=1 in the environment prints each result's shape or error. */
#include <stdlib.h>

#include "fuzz_util.h"

#define HDR 7
#define MAXBASE 8192 /* elements of the base tensor: 9^4 at most */
#define MAXRES 65536

typedef __int128 i128;

/* ---- reading the input ----------------------------------------------------------- */
typedef struct {
    const uint8_t *d;
    size_t n, i;
} cursor;

static uint8_t u8(cursor *c) { return c->i < c->n ? c->d[c->i++] : 0; }

static int64_t num(cursor *c) {
    static const int64_t special[8] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1,
                                       -1, 0, 1, (int64_t)1 << 40};
    uint8_t b = u8(c);
    if (b < 64) return (int64_t)b - 32;
    if (b < 128) return special[b & 7];
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)u8(c) << (8 * i);
    return (int64_t)v;
}

typedef struct {
    int rank, layout, n, base, vmode;
    unsigned bmask; /* broadcast layout: the axes of stride 0 */
    int64_t shape[4];
    mg_dtype dt;
    bool grad;
    uint8_t vbits;
} setup;

typedef struct {
    int n;
    mg_aindex ax[MG_MAXDIM];
    mg_tensor *owned[MG_MAXDIM];
    bool tensors;
} key;

static bool verbose;
static char key_text[1024]; /* the key as read, for FUZZ_VERBOSE */

static void describe(const char *fmt, long long a, long long b, long long c) {
    size_t n = strlen(key_text);
    if (n < sizeof key_text) snprintf(key_text + n, sizeof key_text - n, fmt, a, b, c);
}

/* ---- normalisation against 128-bit references ----------------------------------- */
static i128 resolve128(int64_t i, int64_t len, int base) { return i >= 0 ? (i128)i - base : (i128)len + i; }

static void check_int(int64_t i, int64_t len, int base, int rc, const mg_index *ix) {
    i128 r = resolve128(i, len, base);
    bool ok = !(base == 1 && i == 0) && r >= 0 && r < len;
    if (ok != (rc == 0)) fz_fail(ok ? "mg_int_index_normalize refused a valid index"
                                    : "mg_int_index_normalize accepted a bad index");
    if (!ok) {
        fz_check_error(NULL);
        return;
    }
    if (ix->kind != MG_IDX_INT || ix->start != (int64_t)r) fz_fail("wrong integer index");
}

/* The positions the slice takes (Python's rule: start and stop clamped to
 * the axis, stop inclusive); -1 when it is an error. */
static int expect_slice(int64_t start, int64_t stop, int64_t step, unsigned have, int64_t len,
                        int base, int64_t *pos) {
    i128 s = (have & MG_SLICE_STEP) ? step : 1;
    if (s == 0) return -1;
    if (base == 1 && (((have & MG_SLICE_START) && start == 0) || ((have & MG_SLICE_STOP) && stop == 0)))
        return -1;
    i128 rs = (have & MG_SLICE_START) ? resolve128(start, len, base) : s > 0 ? 0 : (i128)len - 1;
    i128 re = (have & MG_SLICE_STOP) ? resolve128(stop, len, base) : s > 0 ? (i128)len - 1 : 0;
    int n = 0;
    if (s > 0)
        for (i128 p = rs < 0 ? 0 : rs; p <= re && p < len; p += s) pos[n++] = (int64_t)p;
    else
        for (i128 p = rs > len - 1 ? (i128)len - 1 : rs; p >= re && p >= 0; p += s) pos[n++] = (int64_t)p;
    return n;
}

static void check_slice(int64_t start, int64_t stop, int64_t step, unsigned have, int64_t len,
                        int base, int rc, const mg_index *ix) {
    int64_t pos[8];
    int n = expect_slice(start, stop, step, have, len, base, pos);
    if ((n >= 0) != (rc == 0)) fz_fail(n >= 0 ? "mg_slice_normalize refused a valid slice"
                                              : "mg_slice_normalize accepted a bad slice");
    if (n < 0) {
        fz_check_error(NULL);
        return;
    }
    if (ix->kind != MG_IDX_SLICE || ix->count != n || ix->step == 0)
        fz_fail("wrong slice count or step");
    for (int i = 0; i < n; i++)
        if ((i128)ix->start + (i128)i * ix->step != pos[i]) fz_fail("wrong slice positions");
}

/* ---- the key ----------------------------------------------------------------------- */
static mg_tensor *make_mask(cursor *c, uint8_t b, const setup *s, int axis) {
    int m = (b >> 3) % 4;
    int64_t shape[3];
    for (int i = 0; i < m; i++)
        shape[i] = (b & 32) && axis + i < s->rank ? s->shape[axis + i] : u8(c) % 5;
    mg_tensor *t = mg_zeros(m, shape, MG_BOOL);
    if (!t) fz_fail("mg_zeros failed");
    uint8_t bits = 0;
    for (int64_t i = 0, n = mg_numel(t); i < n; i++) {
        if (i % 8 == 0) bits = u8(c);
        mg_set_flat_int(t, i, (bits >> (i % 8)) & 1);
    }
    return t;
}

static mg_tensor *make_index(cursor *c, uint8_t b) {
    int nd = (b >> 3) % 3;
    int64_t shape[2];
    for (int i = 0; i < nd; i++) shape[i] = u8(c) % 4;
    mg_tensor *t = mg_zeros(nd, shape, MG_INT64);
    if (!t) fz_fail("mg_zeros failed");
    for (int64_t i = 0, n = mg_numel(t); i < n; i++) mg_set_flat_int(t, i, num(c));
    return t;
}

/* Reads the key, normalising integers and slices as the binding does;
 * false when normalisation refused an entry (the binding raises then). */
static bool read_key(cursor *c, const setup *s, key *k) {
    int axis = 0;
    memset(k, 0, sizeof *k);
    k->n = s->n;
    key_text[0] = '\0';
    for (int e = 0; e < s->n; e++) {
        uint8_t b = u8(c);
        mg_aindex *x = &k->ax[e];
        int64_t len = axis < s->rank ? s->shape[axis] : -1;
        int rc = 0;
        x->basic = (mg_index){MG_IDX_ALL, 0, 0, 0};
        fz_clear_error();
        switch ((b & 7) % 6) {
        case 0: {
            int64_t i = num(c);
            describe("%lld ", i, 0, 0);
            if (len < 0) x->basic = (mg_index){MG_IDX_INT, 0, 0, 0}; /* the library says "too many" */
            else check_int(i, len, s->base, rc = mg_int_index_normalize(i, len, axis, s->base, &x->basic),
                           &x->basic);
            axis++;
            break;
        }
        case 1: {
            unsigned have = (b >> 3) & 7;
            int64_t a = have & 1 ? num(c) : 0, z = have & 2 ? num(c) : 0, st = have & 4 ? num(c) : 0;
            describe("{%lld, %lld, %lld} ", a, z, st); /* (0 where not given) */
            if (len < 0) x->basic = (mg_index){MG_IDX_SLICE, 0, 0, 1};
            else check_slice(a, z, st, have, len, s->base,
                             rc = mg_slice_normalize(a, z, st, have, len, axis, s->base, &x->basic),
                             &x->basic);
            axis++;
            break;
        }
        case 2:
            describe(": ", 0, 0, 0);
            axis++;
            break;
        case 3:
            x->t = k->owned[e] = make_mask(c, b, s, axis);
            describe("mask(%lld axes) ", x->t->ndim, 0, 0);
            axis += x->t->ndim;
            break;
        case 4:
            x->t = k->owned[e] = make_index(c, b);
            describe("index(%lld elements) ", mg_numel(x->t), 0, 0);
            axis++;
            break;
        default: {
            static const mg_idx_kind kinds[3] = {MG_IDX_ALL, MG_IDX_INT, MG_IDX_SLICE};
            mg_idx_kind kind = kinds[u8(c) % 3];
            int64_t a = num(c), cnt = num(c), st = num(c);
            x->basic = (mg_index){kind, a, cnt, st};
            describe("raw(start %lld, count %lld, step %lld) ", a, cnt, st);
            axis++;
        }
        }
        k->tensors = k->tensors || x->t;
        if (rc) return false;
    }
    return true;
}

static void free_key(key *k) {
    for (int e = 0; e < k->n; e++) mg_release(k->owned[e]);
}

/* ---- the indexed tensor ------------------------------------------------------------ */
/* base: contiguous, element p holding p; a: the layout's view of it. */
typedef struct {
    mg_tensor *x;    /* the leaf variable (grad) or NULL */
    mg_tensor *base; /* x + 0 (grad) or the constant base */
    mg_tensor *a;    /* the view that is indexed */
} target;

static void make_target(const setup *s, target *t) {
    int64_t bs[4];
    int r = s->rank;
    for (int i = 0; i < r; i++) {
        int64_t d = s->shape[i];
        switch (s->layout) {
        case 1: bs[r - 1 - i] = d; break;
        case 2: bs[i] = 2 * d + 1; break;
        case 3: bs[i] = (s->bmask >> i) & 1 ? 1 : d; break;
        default: bs[i] = d;
        }
    }
    mg_tensor *b = mg_empty(r, bs, s->dt);
    if (!b) fz_fail("mg_empty failed");
    for (int64_t i = 0, n = mg_numel(b); i < n; i++) mg_set_flat(b, i, s->dt == MG_BOOL ? (double)(i % 3 == 1) : (double)i);
    t->x = NULL;
    if (s->grad) {
        mg_tensor *zero = mg_scalar(0, s->dt);
        if (mg_requires_grad_(b, true)) fz_fail("requires_grad_ failed");
        t->x = b;
        b = mg_add(t->x, zero);
        mg_release(zero);
        if (!b) fz_fail("x + 0 failed");
    }
    t->base = b;
    mg_index ix[4];
    switch (s->layout) {
    case 1: t->a = mg_transpose(b); break;
    case 2:
        for (int i = 0; i < r; i++) ix[i] = (mg_index){MG_IDX_SLICE, 1, s->shape[i], 2};
        t->a = mg_index_get(b, r, ix);
        break;
    case 3: t->a = mg_broadcast_to(b, r, s->shape); break;
    default: t->a = mg_retain(b);
    }
    if (!t->a) fz_fail("making the indexed view failed");
}

static void free_target(target *t) {
    mg_release(t->a);
    mg_release(t->base);
    mg_release(t->x);
}

/* ---- reference for keys without tensors ---------------------------------------------- */
static bool basic_valid(const setup *s, const key *k) {
    if (k->n > s->rank) return false;
    for (int e = 0; e < k->n; e++) {
        const mg_index *x = &k->ax[e].basic;
        int64_t len = s->shape[e];
        if (x->kind == MG_IDX_INT && (x->start < 0 || x->start >= len)) return false;
        if (x->kind == MG_IDX_SLICE) {
            if (x->step == 0 || x->count < 0 || x->count > len) return false;
            for (int64_t i = 0; i < x->count; i++) {
                i128 p = (i128)x->start + (i128)i * x->step;
                if (p < 0 || p >= len) return false;
            }
        }
    }
    return true;
}

/* x[key] (no tensors) computed element by element from a. */
static void check_basic_get(const setup *s, const key *k, const mg_tensor *a, const mg_tensor *r) {
    int64_t shape[4];
    int nd = 0, src[4];
    for (int i = 0; i < s->rank; i++) {
        const mg_index *x = i < k->n ? &k->ax[i].basic : NULL;
        if (x && x->kind == MG_IDX_INT) continue;
        src[nd] = i;
        shape[nd++] = x && x->kind == MG_IDX_SLICE ? x->count : s->shape[i];
    }
    if (!fz_same_shape(r, nd, shape)) fz_fail("basic indexing gave the wrong shape");
    int64_t at[4] = {0};
    for (int64_t i = 0, n = mg_numel(r); i < n; i++) {
        int64_t rem = i, f = 0, j[4];
        for (int d = nd - 1; d >= 0; d--) {
            j[d] = rem % shape[d];
            rem /= shape[d];
        }
        for (int ax = 0, d = 0; ax < s->rank; ax++) {
            const mg_index *x = ax < k->n ? &k->ax[ax].basic : NULL;
            if (x && x->kind == MG_IDX_INT) at[ax] = x->start;
            else if (x && x->kind == MG_IDX_SLICE) at[ax] = x->start + j[d++] * x->step;
            else at[ax] = j[d++];
            f = f * s->shape[ax] + at[ax];
        }
        if (mg_get_flat(r, i) != mg_get_flat(a, f)) fz_fail("basic indexing read the wrong element");
    }
}

/* ---- get ------------------------------------------------------------------------------ */
static int64_t base_numel(const target *t) { return mg_numel(t->base); }

/* Every value of r is a position in the base (values say where they came from). */
static void check_positions(const setup *s, const target *t, const mg_tensor *r) {
    if (s->dt == MG_BOOL) return;
    for (int64_t i = 0, n = mg_numel(r); i < n; i++) {
        double v = mg_get_flat(r, i);
        if (!(v >= 0 && v < (double)base_numel(t)) || v != (double)(int64_t)v)
            fz_fail("an indexed value that is no element of the tensor");
    }
}

static int counts[MAXBASE];

/* sum(r).backward(): x.grad[p] is how often r holds position p. */
static void check_get_grad(const target *t, mg_tensor *r) {
    mg_tensor *y = mg_sum(r, MG_ALLAXES, false);
    if (!y || mg_backward(y, NULL, NULL)) fz_fail("backward of sum(x[key]) failed");
    mg_release(y);
    int64_t nb = base_numel(t);
    for (int64_t p = 0; p < nb; p++) counts[p] = 0;
    for (int64_t i = 0, n = mg_numel(r); i < n; i++) counts[(int64_t)mg_get_flat(r, i)]++;
    mg_tensor *g = t->x->grad;
    if (!g) {
        for (int64_t p = 0; p < nb; p++)
            if (counts[p]) fz_fail("x got no gradient");
        return;
    }
    fz_touch(g);
    if (!fz_same_shape(g, t->x->ndim, t->x->shape)) fz_fail("gradient of the wrong shape");
    for (int64_t p = 0; p < nb; p++)
        if (mg_get_flat(g, p) != counts[p]) fz_fail("wrong gradient of x[key]");
}

/* Returns x[key] (a new reference) or NULL. */
static mg_tensor *stage_get(const setup *s, const key *k, bool check_grad) {
    target t;
    make_target(s, &t);
    fz_clear_error();
    mg_tensor *r = mg_index_adv_get(t.a, k->n, k->ax, s->base);
    fz_check_error(r);
    if (verbose) fz_report("get", key_text, r);
    if (!k->tensors && (r != NULL) != basic_valid(s, k))
        fz_fail(r ? "a bad basic key was accepted" : "a valid basic key was refused");
    if (r) {
        fz_touch(r);
        if (!k->tensors) check_basic_get(s, k, t.a, r);
        check_positions(s, &t, r);
        if (check_grad && s->grad && s->dt != MG_BOOL) check_get_grad(&t, r);
    }
    free_target(&t);
    return r;
}

/* ---- set ------------------------------------------------------------------------------ */
static mg_tensor *make_value(const setup *s, cursor *c, const mg_tensor *r) {
    int64_t shape[MG_MAXDIM];
    int nd = 0;
    switch (s->vmode) {
    case 0: break;
    case 1:
        nd = r ? r->ndim : 0;
        for (int i = 0; i < nd; i++) shape[i] = r->shape[i];
        break;
    case 2:
        for (int i = 1; r && i < r->ndim; i++)
            shape[nd++] = (s->vbits >> (i % 8)) & 1 ? 1 : r->shape[i];
        break;
    default:
        nd = s->vbits % 3;
        for (int i = 0; i < nd; i++) shape[i] = u8(c) % 4;
    }
    mg_tensor *v = mg_empty(nd, shape, s->dt);
    if (!v) fz_fail("mg_empty failed");
    for (int64_t i = 0, n = mg_numel(v); i < n; i++)
        mg_set_flat(v, i, s->dt == MG_BOOL ? (double)(i % 2) : (double)(1000 + i));
    if (s->grad && mg_requires_grad_(v, true)) fz_fail("requires_grad_ failed");
    return v;
}

/* Does v broadcast to r's shape? */
static bool fits(const mg_tensor *v, const mg_tensor *r) {
    if (v->ndim > r->ndim) return false;
    for (int i = 0; i < v->ndim; i++) {
        int64_t d = v->shape[i], t = r->shape[r->ndim - v->ndim + i];
        if (d != t && d != 1) return false;
    }
    return true;
}

/* The flat index into v of the element broadcast to element i of shape r. */
static int64_t v_at(const mg_tensor *v, const mg_tensor *r, int64_t i) {
    int64_t j[MG_MAXDIM], f = 0;
    for (int d = r->ndim - 1; d >= 0; d--) {
        j[d] = i % r->shape[d];
        i /= r->shape[d];
    }
    for (int d = 0; d < v->ndim; d++) {
        int64_t n = v->shape[d];
        f = f * n + (n == 1 ? 0 : j[r->ndim - v->ndim + d]);
    }
    return f;
}

static int64_t last_writer[MAXBASE];
static bool covered[MAXBASE];
static double before[MAXBASE];
static int64_t a_pos[MAXBASE]; /* a's element e is base position a_pos[e] */

/* v: made by make_value, or (alias) x[key] itself, read from the target
 * that is written, so the write reads what it overwrites. */
static void stage_set(const setup *s, const key *k, cursor *c, const mg_tensor *got) {
    target t;
    make_target(s, &t);
    bool alias = s->vmode == 1 && (s->vbits & 128) && got;
    mg_tensor *v = alias ? mg_index_adv_get(t.a, k->n, k->ax, s->base) : make_value(s, c, got);
    if (!v) fz_fail("x[key] failed the second time");
    int64_t nb = base_numel(&t), na = mg_numel(t.a);
    bool exact = s->layout != 3 && s->dt != MG_BOOL; /* positions identify a's elements */
    for (int64_t p = 0; p < nb; p++) {
        last_writer[p] = -1;
        covered[p] = false;
        before[p] = mg_get_flat(t.base, p);
    }
    for (int64_t e = 0; exact && e < na; e++) covered[a_pos[e] = (int64_t)mg_get_flat(t.a, e)] = true;
    /* the writes in order: element i of x[key] comes from base position got[i] */
    for (int64_t i = 0; exact && got && i < mg_numel(got); i++)
        last_writer[(int64_t)mg_get_flat(got, i)] = i;

    fz_clear_error();
    mg_tensor *r = mg_index_adv_set(t.a, k->n, k->ax, v, s->base);
    fz_check_error(r);
    if (verbose) fz_report(alias ? "set (v = x[key])" : "set", key_text, r);
    if (r && !got) fz_fail("a write succeeded where the read failed");
    if (!r && got && fits(v, got)) fz_fail("a write failed where the read succeeded");
    if (r && exact) {
        fz_touch(r);
        /* r stands for a: each element holds v's value if written, else its
         * own; x[key] = x[key] changes nothing */
        for (int64_t e = 0; e < na; e++) {
            int64_t p = a_pos[e], w = last_writer[p];
            double want = w < 0 || alias ? (double)p : 1000 + (double)v_at(v, got, w);
            if (mg_get_flat(r, e) != want) fz_fail("wrong value after x[key] = v");
        }
        for (int64_t p = 0; p < nb; p++)
            if (!covered[p] && mg_get_flat(t.base, p) != before[p])
                fz_fail("x[key] = v changed an element outside x");
    }
    if (r && exact && s->grad && r->requires_grad) {
        mg_tensor *y = mg_sum(r, MG_ALLAXES, false);
        if (!y || mg_backward(y, NULL, NULL)) fz_fail("backward of sum(x after x[key] = v) failed");
        mg_release(y);
        /* x's gradient: 1 where an element of x survives, and with v = x[key]
         * also where it was rewritten (through v) */
        mg_tensor *g = t.x->grad;
        if (g) fz_touch(g);
        for (int64_t p = 0; p < nb; p++) {
            double want = covered[p] && (alias || last_writer[p] < 0);
            if ((g ? mg_get_flat(g, p) : 0) != want) fz_fail("wrong gradient of x after x[key] = v");
        }
        if (!alias) {
            int64_t nv = mg_numel(v);
            static int vcount[MAXRES];
            for (int64_t j = 0; j < nv; j++) vcount[j] = 0;
            for (int64_t p = 0; p < nb; p++)
                if (last_writer[p] >= 0) vcount[v_at(v, got, last_writer[p])]++;
            mg_tensor *gv = v->grad;
            for (int64_t j = 0; j < nv; j++)
                if ((gv ? mg_get_flat(gv, j) : 0) != vcount[j]) fz_fail("wrong gradient of v");
        }
    }
    mg_release(r);
    mg_release(v);
    free_target(&t);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    mg_set_cache_limit(0); /* every buffer freed at once, so ASan sees each */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cursor c = {data, size, 0};
    uint8_t h[HDR];
    for (int i = 0; i < HDR; i++) h[i] = u8(&c);
    static const mg_dtype dts[4] = {MG_FLOAT32, MG_FLOAT64, MG_INT64, MG_BOOL};
    setup s;
    s.rank = (h[0] & 7) % 5;
    s.dt = dts[(h[0] >> 3) & 3];
    s.grad = (h[0] & 32) && mg_dtype_is_float(s.dt);
    s.layout = h[0] >> 6;
    for (int i = 0; i < 4; i++) s.shape[i] = h[1 + i] % 5;
    s.n = (h[5] & 7) % 6;
    s.base = (h[5] >> 3) & 1;
    s.vmode = h[5] >> 6;
    s.vbits = h[6];
    s.bmask = 0;
    for (int i = 0; i < 4; i++) s.bmask |= (unsigned)(h[1 + i] >= 128) << i;
    key k;
    if (read_key(&c, &s, &k)) {
        mg_tensor *got = stage_get(&s, &k, true);
        stage_set(&s, &k, &c, got);
        mg_release(got);
    }
    free_key(&k);
    return 0;
}
