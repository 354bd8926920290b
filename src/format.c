/* format.c — mg_format: NumPy-like text of a tensor's values, e.g.
 * "[[1., 2.],\n [3., 4.]]" (no "Tensor(" prefix; the caller adds it and
 * passes its length as `indent` so continuation lines line up).
 *
 * Rules (NumPy's array2string layout, PyTorch's number style):
 *   - 0-d: the value alone ("2.", "7").  Empty tensors: "[]".
 *   - Rows are "[a, b, c]"; sub-arrays are separated by ",\n" and, for
 *     each further axis below, one more blank line; continuation lines are
 *     indented by `indent` + nesting depth spaces.
 *   - More than 1000 elements: only the first and last 3 along each axis
 *     are shown, with "..." in between.  Number formats are chosen from
 *     the shown elements only.
 *   - Floats (format chosen once for all elements, from the finite ones):
 *       scientific "%.4e" ("1.0000e+10") when max |v| >= 1e8 or the
 *       smallest non-zero |v| < 1e-4;
 *       else "7." when every value is integral;
 *       else fixed with p fractional digits, p the fewest in 1..4 that keep
 *       every value's 4-digit rounding ({0.5, 0.25} -> "0.50, 0.25",
 *       {4, 5.333333} -> "4.0000, 5.3333").
 *     nan, inf and -inf print as such.
 *   - int64: plain integers.  bool: True / False.
 *   - All elements are right-aligned to a common width.
 *   - Long rows wrap as NumPy's repr wraps them (linewidth 75, less 1 for
 *     the caller's closing ")"): the first line counts the caller's prefix
 *     of `indent` characters, a row at nesting depth d may fill its lines
 *     up to column 73 - d (the "," or "]" after it still fits), and
 *     continuation lines start under the row's first element.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moongrad.h"

#define SUMMARY_THRESHOLD 1000 /* NumPy's threshold */
#define EDGE_ITEMS 3           /* NumPy's edgeitems */
#define FLOAT_DIGITS 4         /* PyTorch's default precision */
#define ELEM_BUF 64
#define LINE_WIDTH 75          /* NumPy's linewidth */
#define SUFFIX_LEN 1           /* the caller's closing ")", as NumPy's repr counts it */

/* ---- growable string ------------------------------------------------- */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    bool failed;
} strbuf;

static void sb_reserve(strbuf *b, size_t extra)
{
    if (b->failed)
        return;
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_putn(strbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(strbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_repeat(strbuf *b, char c, int n)
{
    if (n <= 0)
        return;
    sb_reserve(b, (size_t)n);
    if (b->failed)
        return;
    memset(b->p + b->len, c, (size_t)n);
    b->len += (size_t)n;
    b->p[b->len] = '\0';
}

/* The finished string, or NULL (and nothing leaked) after a failure. */
static char *sb_finish(strbuf *b)
{
    if (b->failed || b->p == NULL) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

/* ---- number formats ----------------------------------------------------- */

typedef enum { FMT_INT, FMT_BOOL, FMT_FLOAT_INTEGRAL, FMT_FLOAT_FIXED, FMT_FLOAT_SCI } fmt_kind;

typedef struct fmt_ctx {
    const mg_tensor *t;
    int64_t cstride[MG_MAXDIM]; /* row-major strides of the logical shape */
    bool summarise;
    fmt_kind kind;
    int digits;                 /* FMT_FLOAT_FIXED: fractional digits */
    int width;                  /* common element width */
    /* statistics gathered over the shown float elements */
    bool any_finite;
    bool all_integral;
    double max_abs;
    double min_nonzero_abs;     /* INFINITY when no finite non-zero value */
    int needed_digits;          /* fewest digits in 1..4 keeping 4-digit values */
    strbuf out;
} fmt_ctx;

typedef void (*visit_fn)(fmt_ctx *c, int64_t flat);

/* Calls fn on the flat index of every element that will be shown. */
static void visit_shown(fmt_ctx *c, int axis, int64_t base, visit_fn fn)
{
    const mg_tensor *t = c->t;
    if (axis == t->ndim) {
        fn(c, base);
        return;
    }
    int64_t n = t->shape[axis];
    bool skip = c->summarise && n > 2 * EDGE_ITEMS;
    for (int64_t i = 0; i < n; i++) {
        if (skip && i == EDGE_ITEMS)
            i = n - EDGE_ITEMS;
        visit_shown(c, axis + 1, base + i * c->cstride[axis], fn);
    }
}

/* Fractional digits (0..4) that v needs when rounded to 4 digits. */
static int fixed_digits_needed(double v)
{
    char buf[ELEM_BUF];
    snprintf(buf, sizeof buf, "%.*f", FLOAT_DIGITS, v);
    const char *dot = strchr(buf, '.');
    if (dot == NULL)
        return 0;
    int n = (int)strlen(dot + 1);
    while (n > 0 && dot[n] == '0')
        n--;
    return n;
}

static void gather_stats(fmt_ctx *c, int64_t flat)
{
    double v = mg_get_flat(c->t, flat);
    if (!isfinite(v))
        return;
    double a = fabs(v);
    c->any_finite = true;
    if (a > c->max_abs)
        c->max_abs = a;
    if (a != 0.0 && a < c->min_nonzero_abs)
        c->min_nonzero_abs = a;
    if (v != floor(v))
        c->all_integral = false;
    /* only meaningful for fixed notation, where |v| < 1e8 */
    if (a < 1e8) {
        int d = fixed_digits_needed(v);
        if (d > c->needed_digits)
            c->needed_digits = d;
    }
}

static void choose_float_format(fmt_ctx *c)
{
    c->any_finite = false;
    c->all_integral = true;
    c->max_abs = 0.0;
    c->min_nonzero_abs = INFINITY;
    c->needed_digits = 1;
    visit_shown(c, 0, 0, gather_stats);
    if (!c->any_finite)
        c->kind = FMT_FLOAT_INTEGRAL; /* only nan / inf: printed by name */
    else if (c->max_abs >= 1e8 || c->min_nonzero_abs < 1e-4)
        c->kind = FMT_FLOAT_SCI;
    else if (c->all_integral)
        c->kind = FMT_FLOAT_INTEGRAL;
    else
        c->kind = FMT_FLOAT_FIXED;
    c->digits = c->needed_digits;
}

static void format_float(const fmt_ctx *c, double v, char *buf)
{
    if (isnan(v))
        snprintf(buf, ELEM_BUF, "nan");
    else if (isinf(v))
        snprintf(buf, ELEM_BUF, v > 0 ? "inf" : "-inf");
    else if (c->kind == FMT_FLOAT_SCI)
        snprintf(buf, ELEM_BUF, "%.*e", FLOAT_DIGITS, v);
    else if (c->kind == FMT_FLOAT_INTEGRAL)
        snprintf(buf, ELEM_BUF, "%.0f.", v);
    else
        snprintf(buf, ELEM_BUF, "%.*f", c->digits, v);
}

/* Writes element `flat` (unpadded) into buf, which holds ELEM_BUF chars. */
static void format_elem(const fmt_ctx *c, int64_t flat, char *buf)
{
    switch (c->kind) {
    case FMT_INT:
        snprintf(buf, ELEM_BUF, "%lld", (long long)mg_get_flat_int(c->t, flat));
        break;
    case FMT_BOOL:
        snprintf(buf, ELEM_BUF, "%s", mg_get_flat_int(c->t, flat) ? "True" : "False");
        break;
    default:
        format_float(c, mg_get_flat(c->t, flat), buf);
        break;
    }
}

static void measure_width(fmt_ctx *c, int64_t flat)
{
    char buf[ELEM_BUF];
    format_elem(c, flat, buf);
    int w = (int)strlen(buf);
    if (w > c->width)
        c->width = w;
}

/* ---- rows: the last axis, wrapped ------------------------------------------ */

/* One row being written.  `col` is the column after the text so far,
 * counting the blank of a pending ", " separator (NumPy's len(line)). */
typedef struct row_state {
    int hang;  /* column of the row's first element (continuation lines) */
    int limit; /* a word may end at this column at most */
    int col;
} row_state;

/* Writes a word of width w, first starting a new line when it would pass
 * the limit (never on a line that holds no word yet). */
static void put_word(fmt_ctx *c, row_state *r, const char *word, int w)
{
    if (r->col > r->hang && r->col + w > r->limit) {
        sb_puts(&c->out, "\n");
        sb_repeat(&c->out, ' ', r->hang);
        r->col = r->hang;
    } else if (r->col > r->hang) {
        sb_puts(&c->out, " ");
    }
    sb_puts(&c->out, word);
    r->col += w;
}

static void put_elem(fmt_ctx *c, row_state *r, int64_t flat)
{
    char buf[ELEM_BUF], padded[2 * ELEM_BUF];
    format_elem(c, flat, buf);
    snprintf(padded, sizeof padded, "%*s", c->width, buf);
    put_word(c, r, padded, (int)strlen(padded));
}

/* The sub-array of the last axis starting at flat index base; `hang` is
 * the column its first element starts at. */
static void emit_row(fmt_ctx *c, int64_t base, int hang)
{
    int depth = c->t->ndim - 1;
    row_state r = {hang, LINE_WIDTH - SUFFIX_LEN - depth - 1, hang};
    int64_t n = c->t->shape[depth];
    bool skip = c->summarise && n > 2 * EDGE_ITEMS;
    sb_puts(&c->out, "[");
    for (int64_t i = 0; i < n; i++) {
        if (skip && i == EDGE_ITEMS) {
            put_word(c, &r, "...", 3);
            sb_puts(&c->out, ",");
            r.col += 2;
            i = n - EDGE_ITEMS;
        }
        put_elem(c, &r, base + i);
        if (i + 1 < n) {
            sb_puts(&c->out, ",");
            r.col += 2;
        }
    }
    sb_puts(&c->out, "]");
}

/* ---- layout ------------------------------------------------------------- */

/* What goes between two sub-arrays of `axis` (not the last axis): "," plus
 * one newline per axis below (blank lines between blocks), then the
 * hanging indent. */
static void emit_separator(fmt_ctx *c, int axis, int hang)
{
    int axes_left = c->t->ndim - axis;
    sb_puts(&c->out, ",");
    sb_repeat(&c->out, '\n', axes_left - 1);
    sb_repeat(&c->out, ' ', hang);
}

/* Emits the sub-array at `axis` starting at flat index base; `hang` is the
 * column of its opening "[". */
static void emit_array(fmt_ctx *c, int axis, int64_t base, int hang)
{
    if (axis == c->t->ndim - 1) {
        emit_row(c, base, hang + 1);
        return;
    }
    int64_t n = c->t->shape[axis];
    bool skip = c->summarise && n > 2 * EDGE_ITEMS;
    sb_puts(&c->out, "[");
    for (int64_t i = 0; i < n; i++) {
        if (skip && i == EDGE_ITEMS) {
            sb_puts(&c->out, "...");
            emit_separator(c, axis, hang + 1);
            i = n - EDGE_ITEMS;
        }
        emit_array(c, axis + 1, base + i * c->cstride[axis], hang + 1);
        if (i + 1 < n)
            emit_separator(c, axis, hang + 1);
    }
    sb_puts(&c->out, "]");
}

char *mg_format(const mg_tensor *t, int indent)
{
    if (t == NULL)
        return NULL;
    fmt_ctx c;
    memset(&c, 0, sizeof c);
    c.t = t;
    if (indent < 0)
        indent = 0;

    int64_t numel = mg_numel(t);
    if (numel == 0) {
        sb_puts(&c.out, "[]");
        return sb_finish(&c.out);
    }
    int64_t s = 1;
    for (int k = t->ndim - 1; k >= 0; k--) {
        c.cstride[k] = s;
        s *= t->shape[k];
    }
    c.summarise = numel > SUMMARY_THRESHOLD;

    if (t->dtype == MG_INT64)
        c.kind = FMT_INT;
    else if (t->dtype == MG_BOOL)
        c.kind = FMT_BOOL;
    else
        choose_float_format(&c);

    c.width = 0;
    visit_shown(&c, 0, 0, measure_width);
    if (t->ndim == 0) {
        char buf[ELEM_BUF];
        format_elem(&c, 0, buf);
        sb_puts(&c.out, buf);
    } else {
        emit_array(&c, 0, 0, indent);
    }
    return sb_finish(&c.out);
}
