/* io_idx.c — the IDX reader (the format of MNIST and Fashion-MNIST): a file,
 * gzipped or plain (zlib's gzread reads both), or a memory buffer, to a
 * tensor of the file's shape.
 *
 * Layout: magic 0x00 0x00 TYPE NDIM, NDIM big-endian uint32 sizes, then the
 * elements, big-endian, row-major.  TYPE: 0x08 ubyte, 0x09 byte, 0x0B short,
 * 0x0C int, 0x0D float, 0x0E double.
 *
 * A lying header cannot drive a huge allocation: the raw bytes are read into
 * a buffer that grows (doubling) only as data actually arrives, and the
 * tensor is allocated only once all of it has been read. */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_FIRST_CHUNK ((size_t)1 << 20)

/* Where the bytes come from: a gzFile, or a buffer (inflated if gzipped). */
typedef struct idx_src {
    const char *name;      /* for messages */
    gzFile gz;             /* file source, or NULL */
    const unsigned char *buf;
    size_t len, pos;       /* buffer source, plain */
    z_stream zs;           /* buffer source, gzipped */
    bool inflating, zdone;
} idx_src;

/* Reads up to n bytes; returns the count (< n only at the end of the data),
 * or -1 after setting the error. */
static long long src_read(idx_src *s, void *dst, size_t n) {
    if (n > (size_t)INT_MAX / 2) n = (size_t)INT_MAX / 2;
    if (s->gz) {
        int got = gzread(s->gz, dst, (unsigned)n);
        int code = Z_OK;
        const char *msg = gzerror(s->gz, &code);
        if (got >= 0 && code != Z_BUF_ERROR) return got;
        if (code == Z_BUF_ERROR)
            return mg_seterr(MG_EVALUE, "read_idx: '%s' is truncated: the gzip data ends early",
                             s->name), -1;
        return mg_seterr(MG_EVALUE, "read_idx: cannot read '%s' (%s)", s->name,
                         msg ? msg : "read error"), -1;
    }
    if (!s->inflating) {
        size_t k = s->len - s->pos < n ? s->len - s->pos : n;
        memcpy(dst, s->buf + s->pos, k);
        s->pos += k;
        return (long long)k;
    }
    s->zs.next_out = dst;
    s->zs.avail_out = (uInt)n;
    while (s->zs.avail_out > 0 && !s->zdone) {
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) s->zdone = true;
        else if (rc == Z_BUF_ERROR)
            return mg_seterr(MG_EVALUE, "read_idx: '%s' is truncated: the gzip data ends early",
                             s->name), -1;
        else if (rc != Z_OK)
            return mg_seterr(MG_EVALUE, "read_idx: '%s': corrupt gzip data (%s)", s->name,
                             s->zs.msg ? s->zs.msg : "inflate failed"), -1;
        else if (s->zs.avail_in == 0 && s->zs.avail_out > 0)
            return mg_seterr(MG_EVALUE, "read_idx: '%s': truncated gzip data", s->name), -1;
    }
    return (long long)(n - s->zs.avail_out);
}

static int read_exact(idx_src *s, void *dst, size_t n, const char *what) {
    long long got = src_read(s, dst, n);
    if (got < 0) return -1;
    if ((size_t)got < n)
        return mg_seterr(MG_EVALUE, "read_idx: '%s' is truncated: it ends inside the %s", s->name,
                         what), -1;
    return 0;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be_bits(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* The element type byte: its size and the dtype the file's values read as. */
static int idx_type(idx_src *s, unsigned type, size_t *size, mg_dtype *natural) {
    switch (type) {
    case 0x08: case 0x09: *size = 1; *natural = MG_INT64; return 0;
    case 0x0B: *size = 2; *natural = MG_INT64; return 0;
    case 0x0C: *size = 4; *natural = MG_INT64; return 0;
    case 0x0D: *size = 4; *natural = MG_FLOAT32; return 0;
    case 0x0E: *size = 8; *natural = MG_FLOAT64; return 0;
    default:
        return mg_seterr(MG_EVALUE, "read_idx: '%s': unknown IDX data type 0x%02X (expected 0x08 "
                         "ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float or 0x0E double)",
                         s->name, type);
    }
}

/* Magic and sizes; sets the shape, the element count and the raw byte count. */
static int read_header(idx_src *s, int *ndim, int64_t *shape, unsigned *type, int64_t *count,
                       size_t *nbytes, mg_dtype *natural) {
    unsigned char m[4];
    if (read_exact(s, m, 4, "magic number") != 0) return -1;
    if (m[0] != 0 || m[1] != 0)
        return mg_seterr(MG_EVALUE, "read_idx: '%s' is not an IDX file (bad magic %02X %02X %02X "
                         "%02X; expected 00 00 TYPE NDIM)", s->name, m[0], m[1], m[2], m[3]);
    size_t esz = 1;
    if (idx_type(s, m[2], &esz, natural) != 0) return -1;
    if (m[3] > MG_MAXDIM)
        return mg_seterr(MG_EVALUE, "read_idx: '%s' has %u dimensions; at most %d are supported",
                         s->name, m[3], MG_MAXDIM);
    *type = m[2];
    *ndim = m[3];
    /* The product of the non-zero sizes must stay small (tensor strides are
     * products of sizes, even when another size is 0). */
    uint64_t n = 1, nz = 1;
    bool overflow = false;
    for (int i = 0; i < *ndim; i++) {
        unsigned char d[4];
        if (read_exact(s, d, 4, "dimension sizes") != 0) return -1;
        shape[i] = be32(d);
        if (shape[i] == 0) n = 0;
        else if (nz > (uint64_t)INT64_MAX / 16 / (uint64_t)shape[i]) overflow = true;
        else nz *= (uint64_t)shape[i];
    }
    if (n != 0) n = nz;
    if (overflow || n > (uint64_t)SIZE_MAX / esz) {
        char sb[256];
        return mg_seterr(MG_EVALUE, "read_idx: '%s': dimensions %s give too many elements", s->name,
                         mg_shape_str(*ndim, shape, sb, sizeof sb));
    }
    *count = (int64_t)n;
    *nbytes = (size_t)n * esz;
    return 0;
}

/* All nbytes raw bytes, in a buffer grown as the data arrives; then checks
 * that nothing follows them. */
static unsigned char *read_body(idx_src *s, size_t nbytes, const int64_t *shape, int ndim) {
    size_t cap = nbytes < IDX_FIRST_CHUNK ? nbytes : IDX_FIRST_CHUNK, have = 0;
    unsigned char *buf = malloc(cap ? cap : 1);
    if (!buf) return mg_seterr(MG_ENOMEM, "read_idx: out of memory"), NULL;
    while (have < nbytes) {
        if (have == cap) {
            size_t ncap = cap > nbytes / 2 ? nbytes : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) return free(buf), mg_seterr(MG_ENOMEM, "read_idx: out of memory"), NULL;
            buf = nb;
            cap = ncap;
        }
        long long got = src_read(s, buf + have, cap - have);
        if (got < 0) return free(buf), NULL;
        if (got == 0) {
            char sb[256];
            mg_seterr(MG_EVALUE, "read_idx: '%s' is truncated: its header says %s (%zu bytes of "
                      "data) but it holds only %zu", s->name,
                      mg_shape_str(ndim, shape, sb, sizeof sb), nbytes, have);
            return free(buf), NULL;
        }
        have += (size_t)got;
    }
    unsigned char extra;
    long long got = src_read(s, &extra, 1);
    if (got != 0) {
        if (got > 0) {
            char sb[256];
            mg_seterr(MG_EVALUE, "read_idx: '%s' holds more data than its header says (%s, %zu "
                      "bytes)", s->name, mg_shape_str(ndim, shape, sb, sizeof sb), nbytes);
        }
        return free(buf), NULL;
    }
    return buf;
}

/* Element i of the raw big-endian data, as double or as integer. */
static double raw_float(unsigned type, const unsigned char *p) {
    if (type == 0x0D) {
        uint32_t b = (uint32_t)be_bits(p, 4);
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    uint64_t b = be_bits(p, 8);
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static int64_t raw_int(unsigned type, const unsigned char *p) {
    switch (type) {
    case 0x08: return p[0];
    case 0x09: return (int8_t)p[0];
    case 0x0B: return (int16_t)(uint16_t)be_bits(p, 2);
    default: return (int32_t)(uint32_t)be_bits(p, 4);
    }
}

static void convert(unsigned type, size_t esz, const unsigned char *raw, int64_t n, mg_tensor *t) {
    bool isf = type == 0x0D || type == 0x0E;
    void *out = mg_data_ptr(t);
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *p = raw + (size_t)i * esz;
        switch (t->dtype) {
        case MG_FLOAT32: ((float *)out)[i] = isf ? (float)raw_float(type, p) : (float)raw_int(type, p); break;
        case MG_FLOAT64: ((double *)out)[i] = isf ? raw_float(type, p) : (double)raw_int(type, p); break;
        case MG_INT64: ((int64_t *)out)[i] = raw_int(type, p); break;
        default: ((bool *)out)[i] = raw_int(type, p) != 0; break;
        }
    }
}

static mg_tensor *read_src(idx_src *s, mg_dtype want) {
    int ndim = 0;
    int64_t shape[MG_MAXDIM] = {0}, count = 0;
    unsigned type = 0;
    size_t nbytes = 0;
    mg_dtype natural = MG_INT64;
    if (read_header(s, &ndim, shape, &type, &count, &nbytes, &natural) != 0) return NULL;
    mg_dtype dt = want == MG_NDTYPES ? natural : want;
    if (!mg_dtype_is_float(dt) && mg_dtype_is_float(natural))
        return mg_seterr(MG_EDTYPE, "read_idx: '%s' holds %s values, which do not read as %s",
                         s->name, mg_dtype_name(natural), mg_dtype_name(dt)), NULL;
    unsigned char *raw = read_body(s, nbytes, shape, ndim);
    if (!raw) return NULL;
    mg_tensor *t = mg_empty(ndim, shape, dt);
    if (t) convert(type, count ? nbytes / (size_t)count : 0, raw, count, t);
    free(raw);
    return t;
}

static bool bad_want(mg_dtype want) {
    if ((int)want >= 0 && want <= MG_NDTYPES) return false;
    mg_seterr(MG_EDTYPE, "read_idx: invalid dtype code %d", (int)want);
    return true;
}

mg_tensor *mg_read_idx(const char *path, mg_dtype want) {
    if (bad_want(want)) return NULL;
    idx_src s = {.name = path};
    s.gz = gzopen(path, "rb");
    if (!s.gz)
        return mg_seterr(MG_EVALUE, "read_idx: cannot open '%s'", path), NULL;
    gzbuffer(s.gz, 1 << 17);
    mg_tensor *t = read_src(&s, want);
    gzclose(s.gz);
    return t;
}

mg_tensor *mg_read_idx_buffer(const void *buf, size_t n, mg_dtype want, const char *name) {
    if (bad_want(want)) return NULL;
    idx_src s = {.name = name ? name : "<buffer>", .buf = buf, .len = n};
    const unsigned char *b = buf;
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
        if (n > UINT_MAX)
            return mg_seterr(MG_EVALUE, "read_idx: '%s': gzip buffer too large", s.name), NULL;
        if (inflateInit2(&s.zs, 16 + MAX_WBITS) != Z_OK)
            return mg_seterr(MG_ENOMEM, "read_idx: cannot start zlib"), NULL;
        s.zs.next_in = (unsigned char *)b;
        s.zs.avail_in = (uInt)n;
        s.inflating = true;
    }
    mg_tensor *t = read_src(&s, want);
    if (s.inflating) inflateEnd(&s.zs);
    return t;
}
