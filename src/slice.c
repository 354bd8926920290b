/* slice.c — the arithmetic of index keys as users write them: an integer
 * position and an inclusive slice {start, stop, step} counted from a base
 * (1 from Lua), negatives from the end, turned into the resolved 0-based
 * mg_index records that mg_index_get / mg_index_adv_get take.  Every value
 * of int64 is accepted without overflow; bad ones set an error.  Also the
 * range check of a resolved slice record that the indexing ops share. */
#include "internal.h"

/* A position counted from base (>= base) or from the end (< 0), 0-based.
 * Never overflows: i - base for i >= base >= 0, len + i for i < 0 <= len. */
static int64_t resolve(int64_t i, int64_t len, int base) { return i >= 0 ? i - base : len + i; }

static int check_args(int64_t len, int base) {
    if (len < 0) return mg_seterr(MG_EVALUE, "index: axis length %lld is negative", (long long)len);
    if (base != 0 && base != 1) return mg_seterr(MG_EVALUE, "index: base must be 0 or 1, got %d", base);
    return MG_OK;
}

int mg_int_index_normalize(int64_t i, int64_t len, int axis, int base, mg_index *out) {
    if (check_args(len, base)) return MG_EVALUE;
    if (i == 0 && base == 1)
        return mg_seterr(MG_EINDEX, "index: 0 is not a valid index (indices are 1-based; -1 is the "
                         "last)");
    int64_t r = resolve(i, len, base);
    if (r < 0 || r >= len)
        return mg_seterr(MG_EINDEX, "index: index %lld is out of range for axis %d of size %lld",
                         (long long)i, axis + base, (long long)len);
    out->kind = MG_IDX_INT;
    out->start = r;
    out->count = 0;
    out->step = 0;
    return MG_OK;
}

int mg_slice_normalize(int64_t start, int64_t stop, int64_t step, unsigned have, int64_t len,
                       int axis, int base, mg_index *out) {
    bool ha = have & MG_SLICE_START, hb = have & MG_SLICE_STOP;
    if (check_args(len, base)) return MG_EVALUE;
    if (!(have & MG_SLICE_STEP)) step = 1;
    if (step == 0) return mg_seterr(MG_EINDEX, "index: slice step cannot be 0 (axis %d)", axis + base);
    /* a step longer than the axis takes one element at most: the same slice
     * with |step| = len, which keeps -step and the counts below exact */
    int64_t most = len > 0 ? len : 1;
    if (step > most) step = most;
    if (step < -most) step = -most;
    if (base == 1 && ((ha && start == 0) || (hb && stop == 0)))
        return mg_seterr(MG_EINDEX, "index: 0 is not a valid position (indices are 1-based; -1 is "
                         "the last)");
    int64_t lo, hi, count; /* 0-based first and inclusive last, before clamping */
    if (step > 0) {
        lo = ha ? resolve(start, len, base) : 0;
        hi = hb ? resolve(stop, len, base) : len - 1;
        if (lo < 0) lo = 0;
        if (hi > len - 1) hi = len - 1;
        count = hi >= lo ? (hi - lo) / step + 1 : 0;
    } else {
        lo = ha ? resolve(start, len, base) : len - 1;
        hi = hb ? resolve(stop, len, base) : 0;
        if (lo > len - 1) lo = len - 1;
        if (hi < 0) hi = 0;
        count = lo >= hi ? (lo - hi) / (-step) + 1 : 0;
    }
    out->kind = MG_IDX_SLICE;
    out->start = count ? lo : 0;
    out->count = count;
    out->step = step;
    return MG_OK;
}

bool mg_slice_in_range(const mg_index *x, int64_t len) {
    if (x->step == 0 || x->count < 0 || x->count > len) return false;
    if (x->count == 0) return true;
    if (x->start < 0 || x->start >= len) return false;
    /* the last position start + (count - 1) step, compared by division so
     * that no product can overflow */
    int64_t more = x->count - 1;
    if (more == 0) return true;
    if (x->step > 0) return more <= (len - 1 - x->start) / x->step;
    if (x->step == INT64_MIN) return false; /* two positions 2^63 apart */
    return more <= x->start / -x->step;
}
