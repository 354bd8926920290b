/* io_safetensors.c — checkpoints in the safetensors format: saving named
 * tensors (atomically: a temporary file renamed into place) and loading them
 * from a file or a memory buffer, validating everything first.
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * (padded with spaces so that 8 + N is a multiple of 8), then the raw
 * little-endian data; offsets count bytes from the start of the data, and
 * the entries tile the data area exactly (no gaps, no overlaps). */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000ULL /* as the reference implementation */

/* ---- dtypes ------------------------------------------------------------------ */
typedef enum { ST_NATIVE, ST_HALF, ST_BF16, ST_SIGNED, ST_UNSIGNED, ST_NONE } st_conv;

typedef struct st_dtype {
    const char *name;
    size_t size;
    st_conv conv;   /* how the file's values become moongrad's */
    mg_dtype dt;    /* the tensor dtype they load as */
} st_dtype;

static const st_dtype st_dtypes[] = {
    {"F32", 4, ST_NATIVE, MG_FLOAT32},  {"F64", 8, ST_NATIVE, MG_FLOAT64},
    {"I64", 8, ST_NATIVE, MG_INT64},    {"BOOL", 1, ST_NATIVE, MG_BOOL},
    {"F16", 2, ST_HALF, MG_FLOAT32},    {"BF16", 2, ST_BF16, MG_FLOAT32},
    {"I8", 1, ST_SIGNED, MG_INT64},     {"I16", 2, ST_SIGNED, MG_INT64},
    {"I32", 4, ST_SIGNED, MG_INT64},    {"U8", 1, ST_UNSIGNED, MG_INT64},
    {"U16", 2, ST_UNSIGNED, MG_INT64},  {"U32", 4, ST_UNSIGNED, MG_INT64},
    {"U64", 8, ST_UNSIGNED, MG_INT64},  {"F8_E4M3", 1, ST_NONE, MG_FLOAT32},
    {"F8_E5M2", 1, ST_NONE, MG_FLOAT32}, {"C64", 8, ST_NONE, MG_FLOAT32},
};
#define ST_NDTYPES (sizeof st_dtypes / sizeof st_dtypes[0])
#define ST_READABLE "F32, F64, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL"

static const char *st_name_of(mg_dtype dt) {
    static const char *const names[MG_NDTYPES] = {"F32", "F64", "I64", "BOOL"};
    return names[dt];
}

static bool host_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverses each size-byte element of p in place (big-endian hosts only). */
static void swap_elems(unsigned char *p, size_t n, size_t size) {
    for (size_t i = 0; size > 1 && i < n; i++)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char c = p[i * size + a];
            p[i * size + a] = p[i * size + b];
            p[i * size + b] = c;
        }
}

static uint64_t le_bits(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = v << 8 | p[i];
    return v;
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);              /* zero, subnormal */
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 0x400), e - 25);
    return h & 0x8000 ? -v : v;
}

static float bf16_to_float(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* ---- the source: a file or a buffer ------------------------------------------- */
typedef struct st_src {
    const char *name;
    FILE *f;
    const unsigned char *buf;
    uint64_t size;
} st_src;

static int src_read_at(const st_src *s, uint64_t off, void *dst, size_t n) {
    if (n == 0) return 0;
    if (off > s->size || n > s->size - off)
        return mg_seterr(MG_EVALUE, "load: '%s' is truncated", s->name);
    if (!s->f) {
        memcpy(dst, s->buf + off, n);
        return 0;
    }
    if (off > (uint64_t)INT64_MAX || fseeko(s->f, (off_t)off, SEEK_SET) != 0 ||
        fread(dst, 1, n, s->f) != n)
        return mg_seterr(MG_EVALUE, "load: '%s': read error or file truncated while reading",
                         s->name);
    return 0;
}

/* ---- header entries ----------------------------------------------------------- */
typedef struct st_entry {
    const char *name;   /* borrowed from the JSON */
    const st_dtype *dt;
    int ndim;
    int64_t shape[MG_MAXDIM];
    uint64_t begin, end;
} st_entry;

static const st_dtype *find_dtype(const char *name) {
    for (size_t i = 0; i < ST_NDTYPES; i++)
        if (strcmp(st_dtypes[i].name, name) == 0) return &st_dtypes[i];
    return NULL;
}

/* A non-negative JSON integer, or -1. */
static long long json_nonneg(const json_t *v) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    return x < 0 ? -1 : (long long)x;
}

static int parse_shape(const st_src *s, const char *key, json_t *shape, st_entry *e,
                       uint64_t *numel) {
    if (!json_is_array(shape))
        return mg_seterr(MG_EVALUE, "load: '%s': entry '%s': \"shape\" must be an array of "
                         "integers", s->name, key);
    size_t nd = json_array_size(shape);
    if (nd > MG_MAXDIM)
        return mg_seterr(MG_EVALUE, "load: '%s': entry '%s' has %zu dimensions; at most %d are "
                         "supported", s->name, key, nd, MG_MAXDIM);
    e->ndim = (int)nd;
    /* The product of the non-zero sizes must stay small (tensor strides are
     * products of sizes, even when another size is 0). */
    uint64_t n = 1, nz = 1;
    bool overflow = false;
    for (size_t i = 0; i < nd; i++) {
        long long d = json_nonneg(json_array_get(shape, i));
        if (d < 0)
            return mg_seterr(MG_EVALUE, "load: '%s': entry '%s': shape entry %zu is not a "
                             "non-negative integer", s->name, key, i + 1);
        e->shape[i] = d;
        if (d == 0) n = 0;
        else if (nz > (uint64_t)INT64_MAX / 16 / (uint64_t)d) overflow = true;
        else nz *= (uint64_t)d;
    }
    if (n != 0) n = nz;
    if (overflow)
        return mg_seterr(MG_EVALUE, "load: '%s': entry '%s': the shape has too many elements",
                         s->name, key);
    *numel = n;
    return 0;
}

static int parse_entry(const st_src *s, const char *key, json_t *v, uint64_t data_size,
                       st_entry *e) {
    e->name = key;
    if (!json_is_object(v))
        return mg_seterr(MG_EVALUE, "load: '%s': entry '%s' is not a JSON object", s->name, key);
    json_t *dt = json_object_get(v, "dtype");
    if (!json_is_string(dt))
        return mg_seterr(MG_EVALUE, "load: '%s': entry '%s' has no \"dtype\" string", s->name,
                         key);
    e->dt = find_dtype(json_string_value(dt));
    if (!e->dt)
        return mg_seterr(MG_EDTYPE, "load: '%s': entry '%s' has unknown dtype \"%s\"", s->name,
                         key, json_string_value(dt));
    if (e->dt->conv == ST_NONE)
        return mg_seterr(MG_EDTYPE, "load: '%s': entry '%s' has unsupported dtype %s (moongrad "
                         "reads " ST_READABLE ")", s->name, key, e->dt->name);
    uint64_t numel = 0;
    if (parse_shape(s, key, json_object_get(v, "shape"), e, &numel) != 0) return -1;
    json_t *off = json_object_get(v, "data_offsets");
    long long b = json_nonneg(json_array_get(off, 0)), en = json_nonneg(json_array_get(off, 1));
    if (!json_is_array(off) || json_array_size(off) != 2 || b < 0 || en < 0)
        return mg_seterr(MG_EVALUE, "load: '%s': entry '%s': \"data_offsets\" must be two "
                         "non-negative integers [begin, end]", s->name, key);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    if (e->end < e->begin || e->end > data_size)
        return mg_seterr(MG_EVALUE, "load: '%s': entry '%s': data_offsets [%llu, %llu] lie outside "
                         "the data area of %llu bytes", s->name, key, (unsigned long long)e->begin,
                         (unsigned long long)e->end, (unsigned long long)data_size);
    if (e->end - e->begin != numel * e->dt->size) {
        char sb[256];
        return mg_seterr(MG_EVALUE, "load: '%s': entry '%s': data_offsets [%llu, %llu] hold %llu "
                         "bytes, but shape %s of %s needs %llu", s->name, key,
                         (unsigned long long)e->begin, (unsigned long long)e->end,
                         (unsigned long long)(e->end - e->begin),
                         mg_shape_str(e->ndim, e->shape, sb, sizeof sb), e->dt->name,
                         (unsigned long long)(numel * e->dt->size));
    }
    return 0;
}

/* __metadata__: an object of strings (or null). */
static int parse_meta(const st_src *s, json_t *v, mg_named_tensors *set) {
    if (json_is_null(v)) return 0;
    if (!json_is_object(v))
        return mg_seterr(MG_EVALUE, "load: '%s': \"__metadata__\" must be an object of strings",
                         s->name);
    size_t n = json_object_size(v);
    set->meta_keys = calloc(n ? n : 1, sizeof(char *));
    set->meta_values = calloc(n ? n : 1, sizeof(char *));
    if (!set->meta_keys || !set->meta_values) return mg_seterr(MG_ENOMEM, "load: out of memory");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (!json_is_string(x))
            return mg_seterr(MG_EVALUE, "load: '%s': \"__metadata__\" entry '%s' is not a string",
                             s->name, k);
        char *kc = strdup(k), *vc = strdup(json_string_value(x));
        set->meta_keys[set->nmeta] = kc;
        set->meta_values[set->nmeta++] = vc;
        if (!kc || !vc) return mg_seterr(MG_ENOMEM, "load: out of memory");
    }
    return 0;
}

static int cmp_entry(const void *a, const void *b) {
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* The entries, sorted by offset, must tile [0, data_size) exactly. */
static int check_tiling(const st_src *s, st_entry *e, size_t n, uint64_t data_size) {
    st_entry **ord = malloc((n ? n : 1) * sizeof *ord);
    if (!ord) return mg_seterr(MG_ENOMEM, "load: out of memory");
    for (size_t i = 0; i < n; i++) ord[i] = &e[i];
    qsort(ord, n, sizeof *ord, cmp_entry);
    uint64_t at = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (ord[i]->begin < at)
            rc = mg_seterr(MG_EVALUE, "load: '%s': entries '%s' and '%s' overlap (their "
                           "data_offsets share bytes)", s->name, ord[i - 1]->name, ord[i]->name);
        else if (ord[i]->begin > at)
            rc = mg_seterr(MG_EVALUE, "load: '%s': entry '%s' starts at byte %llu of the data, "
                           "leaving a gap after byte %llu (entries must cover the data area)",
                           s->name, ord[i]->name, (unsigned long long)ord[i]->begin,
                           (unsigned long long)at);
        at = ord[i]->end;
    }
    if (rc == 0 && at != data_size)
        rc = mg_seterr(MG_EVALUE, "load: '%s': the entries cover %llu bytes of data but the data "
                       "area holds %llu (file truncated, or trailing bytes)", s->name,
                       (unsigned long long)at, (unsigned long long)data_size);
    free(ord);
    return rc;
}

/* Converts n elements of the file's dtype in raw (little-endian) into out. */
static int convert_raw(const st_src *s, const st_entry *e, const unsigned char *raw, uint64_t n,
                       void *out) {
    size_t sz = e->dt->size;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t bits = le_bits(raw + i * sz, sz);
        switch (e->dt->conv) {
        case ST_HALF: ((float *)out)[i] = half_to_float((uint16_t)bits); break;
        case ST_BF16: ((float *)out)[i] = bf16_to_float((uint16_t)bits); break;
        case ST_SIGNED: {
            uint64_t sign = (uint64_t)1 << (sz * 8 - 1);
            ((int64_t *)out)[i] = (int64_t)((bits ^ sign) - sign);
            break;
        }
        default:
            if (bits > (uint64_t)INT64_MAX)
                return mg_seterr(MG_EVALUE, "load: '%s': entry '%s' (U64) holds %llu, beyond "
                                 "int64", s->name, e->name, (unsigned long long)bits);
            ((int64_t *)out)[i] = (int64_t)bits;
        }
    }
    return 0;
}

static mg_tensor *load_entry(const st_src *s, const st_entry *e, uint64_t data_start) {
    mg_tensor *t = mg_empty(e->ndim, e->shape, e->dt->dt);
    if (!t) return NULL;
    uint64_t n = (uint64_t)mg_numel(t), nbytes = e->end - e->begin;
    unsigned char *dst = mg_data_ptr(t);
    unsigned char *raw = e->dt->conv == ST_NATIVE ? dst : malloc(nbytes ? nbytes : 1);
    int rc = raw ? src_read_at(s, data_start + e->begin, raw, nbytes)
                 : mg_seterr(MG_ENOMEM, "load: out of memory");
    if (rc == 0 && e->dt->conv == ST_NATIVE) {
        if (e->dt->dt == MG_BOOL)
            for (uint64_t i = 0; i < n; i++) dst[i] = dst[i] != 0;
        else if (!host_le())
            swap_elems(dst, n, e->dt->size);
    } else if (rc == 0) {
        rc = convert_raw(s, e, raw, n, dst);
    }
    if (raw != dst) free(raw);
    if (rc != 0) mg_release(t), t = NULL;
    return t;
}

void mg_named_tensors_free(mg_named_tensors *set) {
    if (!set) return;
    for (int64_t i = 0; i < set->n; i++) {
        if (set->names) free(set->names[i]);
        if (set->tensors) mg_release(set->tensors[i]);
    }
    for (int64_t i = 0; i < set->nmeta; i++) {
        free(set->meta_keys[i]);
        free(set->meta_values[i]);
    }
    free(set->names);
    free(set->tensors);
    free(set->meta_keys);
    free(set->meta_values);
    free(set);
}

/* Parses and validates the header, then reads every tensor. */
static mg_named_tensors *load_header(const st_src *s, const char *text, size_t len,
                                     uint64_t data_start) {
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        bool dup = strstr(jerr.text, "duplicate") != NULL;
        return mg_seterr(MG_EVALUE, "load: '%s': %s in the JSON header (line %d, column %d): %s",
                         s->name, dup ? "duplicate tensor name" : "invalid JSON", jerr.line,
                         jerr.column, jerr.text), NULL;
    }
    if (!json_is_object(root))
        return json_decref(root), mg_seterr(MG_EVALUE, "load: '%s': the JSON header is not an "
                                            "object", s->name), NULL;
    uint64_t data_size = s->size - data_start;
    size_t cap = json_object_size(root);
    mg_named_tensors *set = calloc(1, sizeof *set);
    st_entry *es = calloc(cap ? cap : 1, sizeof *es);
    if (set) set->names = calloc(cap ? cap : 1, sizeof(char *));
    if (set) set->tensors = calloc(cap ? cap : 1, sizeof(mg_tensor *));
    int rc = set && es && set->names && set->tensors ? 0 : mg_seterr(MG_ENOMEM, "load: out of memory");
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (rc != 0) break;
        if (strcmp(key, "__metadata__") == 0) rc = parse_meta(s, v, set);
        else rc = parse_entry(s, key, v, data_size, &es[n++]);
    }
    if (rc == 0) rc = check_tiling(s, es, n, data_size);
    for (size_t i = 0; i < n && rc == 0; i++) {
        set->names[i] = strdup(es[i].name);
        set->tensors[i] = set->names[i] ? load_entry(s, &es[i], data_start) : NULL;
        set->n = (int64_t)i + 1;
        if (!set->names[i] && rc == 0) rc = mg_seterr(MG_ENOMEM, "load: out of memory");
        if (!set->tensors[i]) rc = -1;
    }
    free(es);
    json_decref(root);
    if (rc != 0) mg_named_tensors_free(set), set = NULL;
    return set;
}

static mg_named_tensors *load_src(const st_src *s) {
    unsigned char lenb[8];
    if (s->size < 8)
        return mg_seterr(MG_EVALUE, "load: '%s' is truncated: %llu bytes, shorter than the "
                         "8-byte header length", s->name, (unsigned long long)s->size), NULL;
    if (src_read_at(s, 0, lenb, 8) != 0) return NULL;
    uint64_t n = le_bits(lenb, 8);
    if (n > s->size - 8)
        return mg_seterr(MG_EVALUE, "load: '%s': the header length %llu runs past the end of the "
                         "file (%llu bytes): truncated or not a safetensors file", s->name,
                         (unsigned long long)n, (unsigned long long)s->size), NULL;
    if (n > ST_MAX_HEADER)
        return mg_seterr(MG_EVALUE, "load: '%s': the header length %llu exceeds the limit of %llu "
                         "bytes", s->name, (unsigned long long)n, ST_MAX_HEADER), NULL;
    char *text = malloc(n ? n : 1);
    if (!text) return mg_seterr(MG_ENOMEM, "load: out of memory"), NULL;
    mg_named_tensors *set = NULL;
    if (src_read_at(s, 8, text, n) == 0) set = load_header(s, text, n, 8 + n);
    free(text);
    return set;
}

mg_named_tensors *mg_load_safetensors(const char *path) {
    st_src s = {.name = path};
    s.f = fopen(path, "rb");
    if (!s.f)
        return mg_seterr(MG_EVALUE, "load: cannot open '%s': %s", path, strerror(errno)), NULL;
    struct stat st;
    if (fstat(fileno(s.f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(s.f);
        return mg_seterr(MG_EVALUE, "load: '%s' is not a regular file", path), NULL;
    }
    s.size = (uint64_t)st.st_size;
    mg_named_tensors *set = load_src(&s);
    fclose(s.f);
    return set;
}

mg_named_tensors *mg_load_safetensors_buffer(const void *buf, size_t n, const char *name) {
    st_src s = {.name = name ? name : "<buffer>", .buf = buf, .size = n};
    return load_src(&s);
}

/* ---- saving ---------------------------------------------------------------- */
static int check_save_args(int64_t n, const char *const *names, mg_tensor *const *ts) {
    if (n < 0 || (n > 0 && (!names || !ts)))
        return mg_seterr(MG_EVALUE, "save: invalid tensor list");
    for (int64_t i = 0; i < n; i++) {
        if (!names[i] || !ts[i])
            return mg_seterr(MG_EVALUE, "save: entry %lld has no name or no tensor", (long long)i + 1);
        if (strcmp(names[i], "__metadata__") == 0)
            return mg_seterr(MG_EVALUE, "save: the name \"__metadata__\" is reserved");
    }
    return 0;
}

/* The JSON header, padded with spaces so that 8 + length is a multiple of 8. */
static char *build_header(int64_t n, const char *const *names, mg_tensor *const *ts,
                          int64_t nmeta, const char *const *keys, const char *const *vals,
                          size_t *len) {
    json_t *root = json_object();
    int rc = root ? 0 : mg_seterr(MG_ENOMEM, "save: out of memory");
    if (rc == 0 && nmeta > 0) {
        json_t *meta = json_object();
        if (json_object_set_new(root, "__metadata__", meta) != 0)
            rc = mg_seterr(MG_ENOMEM, "save: out of memory");
        for (int64_t i = 0; i < nmeta && rc == 0; i++)
            if (!keys[i] || !vals[i] || json_object_get(meta, keys[i]) ||
                json_object_set_new(meta, keys[i], json_string(vals[i])) != 0)
                rc = mg_seterr(MG_EVALUE, "save: metadata entry %lld is missing, repeated or not "
                               "valid UTF-8", (long long)i + 1);
    }
    uint64_t at = 0;
    for (int64_t i = 0; i < n && rc == 0; i++) {
        const mg_tensor *t = ts[i];
        uint64_t nb = (uint64_t)mg_numel(t) * mg_dtype_size(t->dtype);
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", st_name_of(t->dtype), "shape",
                              shape, "data_offsets", (json_int_t)at, (json_int_t)(at + nb));
        at += nb;
        if (!e) rc = mg_seterr(MG_ENOMEM, "save: out of memory");
        else if (json_object_get(root, names[i]))
            json_decref(e), rc = mg_seterr(MG_EVALUE, "save: the name '%s' appears twice", names[i]);
        else if (json_object_set_new(root, names[i], e) != 0)
            rc = mg_seterr(MG_EVALUE, "save: the name of entry %lld is not valid UTF-8",
                           (long long)i + 1);
    }
    char *text = rc == 0 ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (rc != 0) return NULL;
    if (!text) return mg_seterr(MG_ENOMEM, "save: out of memory"), NULL;
    size_t l = strlen(text), pad = (8 - (8 + l) % 8) % 8;
    char *out = realloc(text, l + pad + 1);
    if (!out) return free(text), mg_seterr(MG_ENOMEM, "save: out of memory"), NULL;
    memset(out + l, ' ', pad);
    out[l + pad] = '\0';
    *len = l + pad;
    return out;
}

/* The tensor's logical values, contiguous and little-endian.  Returns 0, -1
 * on a write error (see errno) or -2 when the copy failed (error set). */
static int write_tensor(FILE *f, mg_tensor *t) {
    mg_tensor *c = mg_is_contiguous(t) ? mg_retain(t) : mg_copy_of(t, t->dtype);
    if (!c) return -2;
    size_t n = (size_t)mg_numel(c), sz = mg_dtype_size(c->dtype);
    int rc = 0;
    if (host_le() || sz == 1) {
        if (n && fwrite(mg_data_ptr(c), sz, n, f) != n) rc = -1;
    } else {
        unsigned char tmp[4096];
        const unsigned char *p = mg_data_ptr(c);
        for (size_t i = 0; i < n && rc == 0; i += sizeof tmp / sz) {
            size_t k = n - i < sizeof tmp / sz ? n - i : sizeof tmp / sz;
            memcpy(tmp, p + i * sz, k * sz);
            swap_elems(tmp, k, sz);
            if (fwrite(tmp, sz, k, f) != k) rc = -1;
        }
    }
    mg_release(c);
    return rc;
}

/* A new file next to path, opened for writing; its name in tmp. */
static FILE *open_temp(const char *path, char *tmp, size_t cap) {
    static unsigned counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, cap, "%s.tmp-%ld-%u", path, (long)getpid(), counter++);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0) {
            FILE *f = fdopen(fd, "wb");
            if (!f) close(fd), unlink(tmp);
            return f;
        }
        if (errno != EEXIST) break;
    }
    return NULL;
}

int mg_save_safetensors(const char *path, int64_t n, const char *const *names,
                        mg_tensor *const *ts, int64_t nmeta, const char *const *keys,
                        const char *const *vals) {
    if (!path) return mg_seterr(MG_EVALUE, "save: no path");
    if (check_save_args(n, names, ts) != 0) return MG_EVALUE;
    if (nmeta < 0 || (nmeta > 0 && (!keys || !vals)))
        return mg_seterr(MG_EVALUE, "save: invalid metadata");
    size_t hlen;
    char *header = build_header(n, names, ts, nmeta, keys, vals, &hlen);
    if (!header) return mg_errcode();
    size_t cap = strlen(path) + 64;
    char *tmp = malloc(cap);
    FILE *f = tmp ? open_temp(path, tmp, cap) : NULL;
    if (!f) {
        int e = errno;
        free(header);
        free(tmp);
        return mg_seterr(MG_EVALUE, "save: cannot create a file next to '%s': %s", path,
                         strerror(e));
    }
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    int rc = fwrite(lenb, 1, 8, f) == 8 && fwrite(header, 1, hlen, f) == hlen ? 0 : -1;
    for (int64_t i = 0; i < n && rc == 0; i++) rc = write_tensor(f, ts[i]);
    bool ok = rc == 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) ok = false, e = errno;
    if (ok && rename(tmp, path) != 0) ok = false, e = errno;
    if (!ok) {
        unlink(tmp);
        if (rc != -2) mg_seterr(MG_EVALUE, "save: writing '%s' failed: %s", path, strerror(e));
    }
    free(header);
    free(tmp);
    return ok ? 0 : mg_errcode();
}
