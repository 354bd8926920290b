/* fuzz_util.h — helpers shared by the einsum and slice harnesses: failing
 * loudly (a message, then a trap libFuzzer records as a crash), checking
 * that a tensor's view stays inside its storage, filling and comparing
 * values in logical order. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "moongrad.h"

static inline void fz_fail(const char *what) {
    fprintf(stderr, "fuzz: %s (last error: \"%s\")\n", what, mg_errmsg());
    __builtin_trap();
}

/* A NULL result must come with a message. */
static inline void fz_check_error(const void *result) {
    if (!result && mg_errmsg()[0] == '\0') fz_fail("a failure without an error message");
}

static inline void fz_clear_error(void) { mg_seterr(MG_OK, "%s", ""); }

/* Every element of t's view lies inside its storage (checked by hand, as
 * the storage's block may be larger than nbytes). */
static inline void fz_check_view(const mg_tensor *t) {
    if (t->ndim < 0 || t->ndim > MG_MAXDIM) fz_fail("bad ndim");
    int64_t n = 1, lo = t->offset, hi = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) fz_fail("negative extent");
        n *= t->shape[i];
    }
    if (n == 0) return;
    for (int i = 0; i < t->ndim; i++) {
        int64_t span = (t->shape[i] - 1) * t->stride[i];
        if (span < 0) lo += span;
        else hi += span;
    }
    int64_t elems = (int64_t)(t->storage->nbytes / mg_dtype_size(t->dtype));
    if (lo < 0 || hi >= elems) fz_fail("a view reaches outside its storage");
}

/* Reads every element (ASan sees a bad one) and returns their sum. */
static inline double fz_touch(const mg_tensor *t) {
    fz_check_view(t);
    double s = 0;
    for (int64_t i = 0, n = mg_numel(t); i < n; i++) s += mg_get_flat(t, i);
    return s;
}

static inline bool fz_close(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= 1e-6 * (1 + fabs(b));
}

static inline bool fz_same_shape(const mg_tensor *t, int ndim, const int64_t *shape) {
    return t->ndim == ndim && memcmp(t->shape, shape, (size_t)ndim * sizeof *shape) == 0;
}

/* FUZZ_VERBOSE's line: what ran and its result's shape or its error. */
static inline void fz_report(const char *what, const char *key, const mg_tensor *r) {
    char buf[256];
    if (r) fprintf(stderr, "%s \"%s\": %s %s\n", what, key, mg_dtype_name(r->dtype),
                   mg_shape_str(r->ndim, r->shape, buf, sizeof buf));
    else fprintf(stderr, "%s \"%s\": error: %s\n", what, key, mg_errmsg());
}

#endif
