/* tensor.c — errors, dtypes, refcounted storage, tensor headers and views,
 * creation, flat element access, broadcasting helpers, the strided walk and
 * converting copies. */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ----------------------------------------------------------------
 * Per thread: the code (hot, initial-exec TLS) and the message, in a buffer
 * made on the thread's first error and freed when the thread ends (a
 * pthread key's destructor), so that this library's static TLS stays a few
 * hundred bytes (see MG_HOT_TLS). */
#define ERR_BYTES 512
static MG_HOT_TLS mg_err err_code;
static MG_HOT_TLS char *err_buf;
static pthread_key_t err_key;
static pthread_once_t err_once = PTHREAD_ONCE_INIT;

static void err_key_make(void) { (void)pthread_key_create(&err_key, free); }

/* This thread's message buffer, or NULL when it cannot be had. */
static char *err_buffer(void) {
    if (err_buf) return err_buf;
    pthread_once(&err_once, err_key_make);
    if (!(err_buf = malloc(ERR_BYTES))) return NULL;
    err_buf[0] = '\0';
    (void)pthread_setspecific(err_key, err_buf);
    return err_buf;
}

int mg_errcode(void) { return (int)err_code; }
const char *mg_errmsg(void) {
    if (err_code && !err_buf) return "out of memory (while reporting an error)";
    return err_buf ? err_buf : "";
}

int mg_seterr(mg_err code, const char *fmt, ...) {
    char *buf = err_buffer();
    if (buf) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, ERR_BYTES, fmt, ap);
        va_end(ap);
    }
    err_code = code;
    return code;
}

const char *mg_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "{");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, "}");
    return buf;
}

/* ---- dtypes ---------------------------------------------------------------- */
static const char *const dtype_names[MG_NDTYPES] = {"float32", "float64", "int64", "bool"};
static const size_t dtype_sizes[MG_NDTYPES] = {4, 8, 8, 1};
static mg_dtype default_float = MG_FLOAT32;

size_t mg_dtype_size(mg_dtype dt) { return dtype_sizes[dt]; }
const char *mg_dtype_name(mg_dtype dt) { return dtype_names[dt]; }
bool mg_dtype_is_float(mg_dtype dt) { return dt == MG_FLOAT32 || dt == MG_FLOAT64; }
mg_dtype mg_default_float(void) { return default_float; }
void mg_set_default_float(mg_dtype dt) {
    if (mg_dtype_is_float(dt)) default_float = dt;
}

int mg_dtype_from_name(const char *name, mg_dtype *out) {
    static const struct { const char *name; mg_dtype dt; } aliases[] = {
        {"float32", MG_FLOAT32}, {"float", MG_FLOAT32}, {"float64", MG_FLOAT64},
        {"double", MG_FLOAT64}, {"int64", MG_INT64},     {"long", MG_INT64},
        {"bool", MG_BOOL},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].name) == 0) {
            *out = aliases[i].dt;
            return MG_OK;
        }
    return mg_seterr(MG_EDTYPE, "unknown dtype '%s' (expected float32, float64, int64 or bool)", name);
}

/* bool < int64 < float32 < float64 */
mg_dtype mg_promote(mg_dtype a, mg_dtype b) {
    static const int rank[MG_NDTYPES] = {2, 3, 1, 0};
    return rank[a] >= rank[b] ? a : b;
}

/* ---- storage ---------------------------------------------------------------
 * Buffers of 64 KiB and more come from size classes (4 per power of two, so
 * at most 25% slack) and go back to a per-class free list when released, up
 * to a cap on the bytes kept (mg_set_cache_limit).  A training loop then
 * reuses the same buffers every step instead of asking the system for fresh
 * pages (glibc returns large blocks to the kernel, and every reuse would
 * page-fault).  The lists are shared by all threads, under a mutex (a
 * block this large costs far more to fill than to lock). */
#define CACHE_MIN_BYTES ((size_t)64 << 10)
#define NCLASSES 160

typedef struct cached_block {
    struct cached_block *next;
} cached_block;

static cached_block *cache[NCLASSES];
static size_t cache_bytes;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t cache_limit = (size_t)256 << 20;

void mg_set_cache_limit(size_t bytes) { cache_limit = bytes; }

/* The class of a request and that class's block size (>= n). */
static int size_class(size_t n, size_t *block) {
    int log2 = 0;
    while (((size_t)1 << (log2 + 1)) <= n) log2++;
    size_t base = (size_t)1 << log2, quarter = base / 4;
    size_t k = (n - base + quarter - 1) / quarter; /* 0..4 */
    *block = base + k * quarter;
    int c = log2 * 4 + (int)k;
    return c < NCLASSES ? c : -1;
}

static void *block_alloc(size_t nbytes, size_t *capacity) {
    size_t block;
    int c = nbytes >= CACHE_MIN_BYTES ? size_class(nbytes, &block) : -1;
    if (c < 0) {
        *capacity = nbytes;
        return malloc(nbytes ? nbytes : 1);
    }
    *capacity = block;
    pthread_mutex_lock(&cache_lock);
    cached_block *b = cache[c];
    if (b) {
        cache[c] = b->next;
        cache_bytes -= block;
    }
    pthread_mutex_unlock(&cache_lock);
    return b ? (void *)b : malloc(block);
}

static void block_free(void *p, size_t capacity) {
    size_t block;
    int c = capacity >= CACHE_MIN_BYTES ? size_class(capacity, &block) : -1;
    bool keep = false;
    if (c >= 0 && block == capacity) {
        pthread_mutex_lock(&cache_lock);
        if ((keep = cache_bytes + capacity <= cache_limit)) {
            cached_block *b = p;
            b->next = cache[c];
            cache[c] = b;
            cache_bytes += capacity;
        }
        pthread_mutex_unlock(&cache_lock);
    }
    if (!keep) free(p);
}

/* ---- small-object pools ------------------------------------------------------
 * A script of scalar arithmetic makes and drops a tensor header, a storage
 * and a node (ops.c) for every op; malloc and free of these dominated the
 * cost of a tiny op.  Released headers, and storages whose data (at most
 * SMALL_BYTES) lives inline after the storage header, go to per-thread free
 * lists of at most POOL_MAX entries and are reused.  Under AddressSanitizer
 * the lists stay empty, so every use after free is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_MAX 0
#else
#define POOL_MAX 4096
#endif
#define SMALL_BYTES 64

typedef struct pooled {
    struct pooled *next;
} pooled;

typedef struct {
    pooled *head;
    int n;
} pool;

static void *pool_get(pool *p) {
    pooled *b = p->head;
    if (!b) return NULL;
    p->head = b->next;
    p->n--;
    return b;
}

/* Keeps block (of the pool's size) for reuse, or frees it when the list is full. */
static void pool_put(pool *p, void *block) {
    if (p->n >= POOL_MAX) {
        free(block);
        return;
    }
    pooled *b = block;
    b->next = p->head;
    p->head = b;
    p->n++;
}

static void pool_clear(pool *p) {
    void *b;
    while ((b = pool_get(p))) free(b);
}

/* A storage with its data inline (nbytes <= SMALL_BYTES). */
typedef struct {
    mg_storage s;
    _Alignas(16) unsigned char data[SMALL_BYTES];
} small_storage;

/* The per-thread counters and pools every tensor's making and freeing
 * touch, in one thread-local object. */
static MG_HOT_TLS struct {
    size_t bytes_allocated, bytes_live;
    pool headers, smalls;
} mem;

size_t mg_bytes_allocated(void) { return mem.bytes_allocated; }
size_t mg_bytes_live(void) { return mem.bytes_live; }

static bool is_inline(const mg_storage *s) {
    return (uintptr_t)s->data == (uintptr_t)s + offsetof(small_storage, data);
}

/* (mg_empty and free_one use the static versions, which the compiler inlines) */
static inline mg_storage *storage_make(size_t nbytes) {
    mg_storage *s;
    size_t capacity = nbytes;
    void *data;
    if (nbytes <= SMALL_BYTES) {
        small_storage *ss = pool_get(&mem.smalls);
        if (!ss) ss = malloc(sizeof *ss);
        s = ss ? &ss->s : NULL;
        data = ss ? ss->data : NULL;
    } else {
        s = malloc(sizeof *s);
        data = s ? block_alloc(nbytes, &capacity) : NULL;
    }
    if (!s || !data) {
        free(s);
        mg_seterr(MG_ENOMEM, "out of memory allocating %zu bytes", nbytes);
        return NULL;
    }
    s->refcount = 1;
    s->nbytes = nbytes;
    s->capacity = capacity;
    s->data = data;
    s->version = 0;
    mem.bytes_allocated += nbytes + sizeof *s;
    mem.bytes_live += nbytes;
    return s;
}

static inline void storage_drop(mg_storage *s) {
    if (s && --s->refcount == 0) {
        mem.bytes_live -= s->nbytes;
        if (is_inline(s)) {
            pool_put(&mem.smalls, s);
            return;
        }
        block_free(s->data, s->capacity);
        free(s);
    }
}

void mg_cache_clear(void) {
    pthread_mutex_lock(&cache_lock);
    for (int c = 0; c < NCLASSES; c++)
        while (cache[c]) {
            cached_block *b = cache[c];
            cache[c] = b->next;
            free(b);
        }
    cache_bytes = 0;
    pthread_mutex_unlock(&cache_lock);
    pool_clear(&mem.headers);
    pool_clear(&mem.smalls);
}

/* ---- tensor headers ----------------------------------------------------- */
/* Every field but shape[] and stride[] is cleared (the caller fills the
 * first ndim entries of those; nothing reads past ndim): clearing the whole
 * ~300-byte header was a tenth of a tiny op's time. */
static inline mg_tensor *header_make(void) {
    mg_tensor *t = pool_get(&mem.headers);
    if (!t && !(t = malloc(sizeof *t))) {
        mg_seterr(MG_ENOMEM, "out of memory allocating a tensor");
        return NULL;
    }
    t->storage = NULL;
    t->offset = 0;
    t->ndim = 0;
    t->dtype = MG_FLOAT32;
    t->requires_grad = false;
    t->grad_shared = false;
    t->grad = NULL;
    t->grad_fn = NULL;
    t->pass_grad = NULL;
    t->pass_mark = 0;
    t->refcount = 1;
    mem.bytes_allocated += sizeof *t;
    return t;
}

mg_storage *mg_storage_new(size_t nbytes) { return storage_make(nbytes); }
void mg_storage_release(mg_storage *s) { storage_drop(s); }
mg_tensor *mg_tensor_alloc(void) { return header_make(); }

/* Gives back a header from mg_tensor_alloc (its references already dropped). */
static void header_free(mg_tensor *t) {
    pool_put(&mem.headers, t);
}

mg_tensor *mg_retain(mg_tensor *t) {
    if (t) t->refcount++;
    return t;
}

/* The tensors waiting to be freed by one mg_release: a small array on the
 * C stack first, then the heap. */
#define RELEASE_LOCAL 32
typedef struct {
    mg_tensor **v;
    size_t n, cap;
    mg_tensor *local[RELEASE_LOCAL];
} release_stack;

static bool release_push(release_stack *s, mg_tensor *t) {
    if (s->n == s->cap) {
        size_t nc = s->cap * 2;
        mg_tensor **nv = s->v == s->local ? malloc(nc * sizeof *nv) : realloc(s->v, nc * sizeof *nv);
        if (!nv) return false;
        if (s->v == s->local) memcpy(nv, s->local, sizeof s->local);
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = t;
    return true;
}

/* Frees t's header and storage reference, and queues what it owned. */
static void free_one(mg_tensor *t, release_stack *s) {
    mg_tensor *owned[MG_MAXINPUTS + 2];
    int nowned = 0;
    if (t->grad_fn) {
        mg_node *nd = t->grad_fn;
        for (int i = 0; i < nd->ninputs; i++) owned[nowned++] = nd->inputs[i];
        nd->ninputs = 0;
        owned[nowned++] = nd->out;
        nd->out = NULL;
        mg_node_free(nd);
    }
    owned[nowned++] = t->grad;
    storage_drop(t->storage);
    header_free(t);
    for (int i = 0; i < nowned; i++) {
        mg_tensor *o = owned[i];
        if (!o || --o->refcount > 0) continue;
        if (!release_push(s, o)) { /* cannot queue: free recursively instead (rare) */
            o->refcount = 1;
            mg_release(o);
        }
    }
}

/* Releases iteratively, so dropping a graph a million ops deep is safe. */
void mg_release(mg_tensor *t) {
    if (!t || --t->refcount > 0) return;
    release_stack s;
    s.v = s.local;
    s.n = 0;
    s.cap = RELEASE_LOCAL;
    free_one(t, &s);
    while (s.n > 0) free_one(s.v[--s.n], &s);
    if (s.v != s.local) free(s.v);
}

int64_t mg_numel(const mg_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

void mg_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

bool mg_is_contiguous(const mg_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

void *mg_data_ptr(const mg_tensor *t) {
    return (char *)t->storage->data + t->offset * (int64_t)mg_dtype_size(t->dtype);
}

bool mg_same_shape(const mg_tensor *a, const mg_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

int mg_shape_numel(int ndim, const int64_t *shape, int64_t *out) {
    char buf[256];
    if (ndim < 0 || ndim > MG_MAXDIM)
        return mg_seterr(MG_ESHAPE, "a tensor has at most %d axes, got %d", MG_MAXDIM, ndim);
    /* The product of the non-zero sizes is bounded too, so strides of an
     * empty tensor such as {0, 2^40, 2^40} cannot overflow. */
    int64_t n = 1, nonzero = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return mg_seterr(MG_ESHAPE, "shape %s has a negative size",
                             mg_shape_str(ndim, shape, buf, sizeof buf));
        int64_t m; /* the non-zero sizes' product, leaving room for 16-byte elements */
        if (shape[i] > 0 && (__builtin_mul_overflow(nonzero, shape[i], &m) || m > INT64_MAX / 16))
            return mg_seterr(MG_ENOMEM, "shape %s is too large",
                             mg_shape_str(ndim, shape, buf, sizeof buf));
        if (shape[i] > 0) nonzero *= shape[i];
        n *= shape[i];
    }
    *out = n;
    return MG_OK;
}

/* ---- creation ------------------------------------------------------------- */
mg_tensor *mg_empty(int ndim, const int64_t *shape, mg_dtype dt) {
    int64_t n;
    if (mg_shape_numel(ndim, shape, &n)) return NULL;
    if ((uint64_t)n > SIZE_MAX / 8) {
        mg_seterr(MG_ENOMEM, "tensor of %lld elements is too large", (long long)n);
        return NULL;
    }
    mg_tensor *t = header_make();
    if (!t) return NULL;
    t->storage = storage_make((size_t)n * mg_dtype_size(dt));
    if (!t->storage) {
        header_free(t);
        return NULL;
    }
    t->ndim = ndim;
    t->dtype = dt;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    mg_contiguous_strides(ndim, shape, t->stride);
    return t;
}

mg_tensor *mg_zeros(int ndim, const int64_t *shape, mg_dtype dt) {
    mg_tensor *t = mg_empty(ndim, shape, dt);
    if (t) memset(t->storage->data, 0, t->storage->nbytes);
    return t;
}

static void fill(mg_tensor *t, double v, int64_t iv) {
    int64_t n = mg_numel(t);
    void *p = mg_data_ptr(t);
    switch (t->dtype) {
    case MG_FLOAT32: for (int64_t i = 0; i < n; i++) ((float *)p)[i] = (float)v; break;
    case MG_FLOAT64: for (int64_t i = 0; i < n; i++) ((double *)p)[i] = v; break;
    case MG_INT64: for (int64_t i = 0; i < n; i++) ((int64_t *)p)[i] = iv; break;
    case MG_BOOL: memset(p, iv != 0, (size_t)n); break;
    default: break;
    }
}

mg_tensor *mg_full(int ndim, const int64_t *shape, double v, mg_dtype dt) {
    if (!mg_dtype_is_float(dt) && !(v >= -9.2233720368547758e18 && v < 9.2233720368547758e18)) {
        mg_seterr(MG_EVALUE, "full: %g cannot be stored as %s", v, mg_dtype_name(dt));
        return NULL;
    }
    mg_tensor *t = mg_empty(ndim, shape, dt);
    if (t) fill(t, v, (int64_t)v);
    return t;
}

mg_tensor *mg_full_int(int ndim, const int64_t *shape, int64_t v, mg_dtype dt) {
    mg_tensor *t = mg_empty(ndim, shape, dt);
    if (t) fill(t, (double)v, v);
    return t;
}

mg_tensor *mg_scalar(double v, mg_dtype dt) {
    if (!mg_dtype_is_float(dt)) return mg_full(0, NULL, v, dt); /* checks the range */
    mg_tensor *t = mg_empty(0, NULL, dt);
    if (t && dt == MG_FLOAT32) *(float *)t->storage->data = (float)v;
    else if (t) *(double *)t->storage->data = v;
    return t;
}

/* Whether a double converts to int64 without overflow. */
static bool fits_int64(double v) { return v >= -9.2233720368547758e18 && v < 9.2233720368547758e18; }

mg_tensor *mg_arange(double start, double stop, double step, mg_dtype dt) {
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        mg_seterr(MG_EVALUE, "arange: start, stop and step must be finite and step non-zero "
                             "(got %g, %g, %g)", start, stop, step);
        return NULL;
    }
    double count = ceil((stop - start) / step);
    if (count < 0) count = 0;
    if (count > 1e15) {
        mg_seterr(MG_ENOMEM, "arange: %g elements is too many", count);
        return NULL;
    }
    int64_t n = (int64_t)count;
    /* int64 values: the first and last must fit (the rest lie between) */
    double last = n > 0 ? start + (double)(n - 1) * step : start;
    if (dt == MG_INT64 && n > 0 && !(fits_int64(start) && fits_int64(last))) {
        mg_seterr(MG_EVALUE, "arange: the values %g .. %g do not fit in int64", start, last);
        return NULL;
    }
    mg_tensor *t = mg_empty(1, &n, dt);
    if (!t) return NULL;
    /* exact integer steps when start and step are integers (wrapping
     * unsigned arithmetic: the values themselves are in range) */
    bool exact = dt == MG_INT64 && fits_int64(step) && start == floor(start) && step == floor(step);
    for (int64_t i = 0; i < n; i++) {
        if (exact)
            mg_set_flat_int(t, i, (int64_t)((uint64_t)(int64_t)start + (uint64_t)i * (uint64_t)(int64_t)step));
        else if (dt == MG_INT64)
            mg_set_flat_int(t, i, (int64_t)(start + (double)i * step));
        else mg_set_flat(t, i, start + (double)i * step);
    }
    return t;
}

mg_tensor *mg_linspace(double a, double b, int64_t n, mg_dtype dt) {
    if (!isfinite(a) || !isfinite(b)) {
        mg_seterr(MG_EVALUE, "linspace: start and stop must be finite, got %g and %g", a, b);
        return NULL;
    }
    if (n < 0) {
        mg_seterr(MG_EVALUE, "linspace: number of points must be >= 0, got %lld", (long long)n);
        return NULL;
    }
    mg_tensor *t = mg_empty(1, &n, dt);
    if (!t) return NULL;
    double step = n > 1 ? (b - a) / (double)(n - 1) : 0;
    for (int64_t i = 0; i < n; i++) mg_set_flat(t, i, i == n - 1 && n > 1 ? b : a + (double)i * step);
    return t;
}

mg_tensor *mg_eye(int64_t n, int64_t m, mg_dtype dt) {
    int64_t shape[2] = {n, m};
    mg_tensor *t = mg_zeros(2, shape, dt);
    if (!t) return NULL;
    for (int64_t i = 0; i < n && i < m; i++) mg_set_flat(t, i * m + i, 1);
    return t;
}

/* ---- flat access ------------------------------------------------------------ */
static int64_t flat_offset(const mg_tensor *t, int64_t i) {
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t k = i % t->shape[d];
        i /= t->shape[d];
        off += k * t->stride[d];
    }
    return off;
}

double mg_get_flat(const mg_tensor *t, int64_t i) {
    const char *base = t->storage->data;
    int64_t off = flat_offset(t, i);
    switch (t->dtype) {
    case MG_FLOAT32: return ((const float *)base)[off];
    case MG_FLOAT64: return ((const double *)base)[off];
    case MG_INT64: return (double)((const int64_t *)base)[off];
    default: return ((const bool *)base)[off];
    }
}

int64_t mg_get_flat_int(const mg_tensor *t, int64_t i) {
    if (t->dtype == MG_INT64) return ((const int64_t *)t->storage->data)[flat_offset(t, i)];
    if (t->dtype == MG_BOOL) return ((const bool *)t->storage->data)[flat_offset(t, i)];
    double v = mg_get_flat(t, i);
    return v >= -9.2233720368547758e18 && v < 9.2233720368547758e18 ? (int64_t)v : 0;
}

void mg_set_flat(mg_tensor *t, int64_t i, double v) {
    char *base = t->storage->data;
    int64_t off = flat_offset(t, i);
    switch (t->dtype) {
    case MG_FLOAT32: ((float *)base)[off] = (float)v; break;
    case MG_FLOAT64: ((double *)base)[off] = v; break;
    case MG_INT64:
        ((int64_t *)base)[off] = v >= -9.2233720368547758e18 && v < 9.2233720368547758e18 ? (int64_t)v : 0;
        break;
    default: ((bool *)base)[off] = v != 0; break;
    }
}

void mg_set_flat_int(mg_tensor *t, int64_t i, int64_t v) {
    if (t->dtype == MG_INT64) ((int64_t *)t->storage->data)[flat_offset(t, i)] = v;
    else if (t->dtype == MG_BOOL) ((bool *)t->storage->data)[flat_offset(t, i)] = v != 0;
    else mg_set_flat(t, i, (double)v);
}

/* ---- views -------------------------------------------------------------- */
mg_tensor *mg_view(mg_tensor *base, int ndim, const int64_t *shape, const int64_t *stride,
                   int64_t offset) {
    mg_tensor *t = mg_tensor_alloc();
    if (!t) return NULL;
    t->storage = base->storage;
    t->storage->refcount++;
    t->dtype = base->dtype;
    t->ndim = ndim;
    t->offset = offset;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->stride[i] = stride[i];
    }
    return t;
}

mg_tensor *mg_detach(mg_tensor *a) {
    return mg_view(a, a->ndim, a->shape, a->stride, a->offset);
}

/* ---- broadcasting ------------------------------------------------------------ */
int mg_broadcast_shape(const char *op, const mg_tensor *a, const mg_tensor *b, int *ndim,
                       int64_t *shape) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[256], sb[256];
            return mg_seterr(MG_ESHAPE, "%s: shapes %s and %s cannot be broadcast together", op,
                             mg_shape_str(a->ndim, a->shape, sa, sizeof sa),
                             mg_shape_str(b->ndim, b->shape, sb, sizeof sb));
        }
        shape[i] = da == 1 ? db : da;
    }
    *ndim = n;
    return MG_OK;
}

void mg_broadcast_strides(const mg_tensor *t, int ndim, const int64_t *shape, int64_t *stride) {
    for (int i = 0; i < ndim; i++) {
        int it = t->ndim - ndim + i;
        stride[i] = (it < 0 || (t->shape[it] == 1 && shape[i] != 1)) ? 0 : t->stride[it];
    }
}

/* ---- strided walk ------------------------------------------------------------ */
#define MAXOPS 4

/* Adjacent axes that every operand steps through as one (stride of the
 * outer = stride of the inner * its size) are merged, and axes of size 1
 * dropped, so the runs handed to fn are as long as the layouts allow:
 * summing a {128, 32, 26, 26} tensor over axes 1, 3 and 4 walks runs of
 * 676, not 26.  Returns the merged number of axes. */
static int merge_axes(int ndim, const int64_t *shape, int nops, const int64_t *const *st,
                      int64_t *mshape, int64_t (*mst)[MG_MAXDIM]) {
    int m = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        bool joins = m > 0;
        for (int k = 0; joins && k < nops; k++) joins = mst[k][m - 1] == st[k][d] * shape[d];
        if (joins) {
            mshape[m - 1] *= shape[d];
            for (int k = 0; k < nops; k++) mst[k][m - 1] = st[k][d];
            continue;
        }
        mshape[m] = shape[d];
        for (int k = 0; k < nops; k++) mst[k][m] = st[k][d];
        m++;
    }
    return m;
}

void mg_strided_walk(int ndim, const int64_t *shape, int nops, char **base,
                     const int64_t *const *st, const size_t *esz, mg_run_fn fn, void *ctx) {
    int64_t idx[MG_MAXDIM] = {0};
    char *p[MAXOPS];
    int64_t inner[MAXOPS];
    int64_t total = 1;
    for (int d = 0; d < ndim; d++) total *= shape[d];
    if (total == 0) return;
    int64_t mshape[MG_MAXDIM], mst[MAXOPS][MG_MAXDIM];
    ndim = merge_axes(ndim, shape, nops, st, mshape, mst);
    shape = mshape;
    for (int k = 0; k < nops; k++) {
        p[k] = base[k];
        inner[k] = ndim ? mst[k][ndim - 1] : 0;
    }
    if (ndim == 0) {
        fn(p, inner, 1, ctx);
        return;
    }
    int64_t run = shape[ndim - 1];
    for (int64_t done = 0; done < total; done += run) {
        fn(p, inner, run, ctx);
        for (int d = ndim - 2; d >= 0; d--) { /* advance the outer counter */
            idx[d]++;
            for (int k = 0; k < nops; k++) p[k] += mst[k][d] * (int64_t)esz[k];
            if (idx[d] < shape[d]) break;
            for (int k = 0; k < nops; k++) p[k] -= mst[k][d] * shape[d] * (int64_t)esz[k];
            idx[d] = 0;
        }
    }
}

/* ---- converting copies ------------------------------------------------------ */
typedef struct { mg_dtype from, to; } cast_ctx;

static double load(const char *p, mg_dtype dt) {
    switch (dt) {
    case MG_FLOAT32: return *(const float *)p;
    case MG_FLOAT64: return *(const double *)p;
    case MG_INT64: return (double)*(const int64_t *)p;
    default: return *(const bool *)p;
    }
}

/* A run of same-dtype elements, moved as integers of the element's size. */
static void copy_run(char **p, const int64_t *st, int64_t n, size_t es) {
    if (st[0] == 1 && st[1] == 1) {
        memcpy(p[1], p[0], (size_t)n * es);
    } else if (es == 4) {
        const uint32_t *s = (const uint32_t *)p[0];
        uint32_t *d = (uint32_t *)p[1];
        for (int64_t i = 0; i < n; i++) d[i * st[1]] = s[i * st[0]];
    } else if (es == 8) {
        const uint64_t *s = (const uint64_t *)p[0];
        uint64_t *d = (uint64_t *)p[1];
        for (int64_t i = 0; i < n; i++) d[i * st[1]] = s[i * st[0]];
    } else {
        for (int64_t i = 0; i < n; i++)
            memcpy(p[1] + i * st[1] * (int64_t)es, p[0] + i * st[0] * (int64_t)es, es);
    }
}

static void cast_run(char **p, const int64_t *st, int64_t n, void *vctx) {
    const cast_ctx *c = vctx;
    size_t es = mg_dtype_size(c->from), ed = mg_dtype_size(c->to);
    char *src = p[0], *dst = p[1];
    if (c->from == c->to) {
        copy_run(p, st, n, es);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const char *s = src + i * st[0] * (int64_t)es;
        char *d = dst + i * st[1] * (int64_t)ed;
        if (c->to == MG_INT64 && c->from == MG_BOOL) *(int64_t *)d = *(const bool *)s;
        else if (c->to == MG_INT64) *(int64_t *)d = (int64_t)load(s, c->from);
        else if (c->to == MG_FLOAT32) *(float *)d = c->from == MG_INT64 ? (float)*(const int64_t *)s
                                                                        : (float)load(s, c->from);
        else if (c->to == MG_FLOAT64) *(double *)d = load(s, c->from);
        else *(bool *)d = c->from == MG_INT64 ? *(const int64_t *)s != 0 : load(s, c->from) != 0;
    }
}

/* Float to int64 conversion of NaN, inf or out-of-range values is an error. */
static int check_int_range(const mg_tensor *src) {
    if (!mg_dtype_is_float(src->dtype)) return MG_OK;
    int64_t n = mg_numel(src);
    for (int64_t i = 0; i < n; i++) {
        double v = mg_get_flat(src, i);
        if (!(v >= -9.2233720368547758e18 && v < 9.2233720368547758e18))
            return mg_seterr(MG_EVALUE, "astype: %g cannot be converted to int64", v);
    }
    return MG_OK;
}

int mg_copy_strided(mg_tensor *dst, const mg_tensor *src) {
    if (dst->dtype == MG_INT64 && check_int_range(src)) return MG_EVALUE;
    cast_ctx c = {src->dtype, dst->dtype};
    char *base[2] = {(char *)mg_data_ptr(src), (char *)mg_data_ptr(dst)};
    const int64_t *st[2] = {src->stride, dst->stride};
    size_t esz[2] = {mg_dtype_size(src->dtype), mg_dtype_size(dst->dtype)};
    mg_strided_walk(dst->ndim, dst->shape, 2, base, st, esz, cast_run, &c);
    return MG_OK;
}

mg_tensor *mg_copy_of(mg_tensor *a, mg_dtype dt) {
    mg_tensor *c = mg_empty(a->ndim, a->shape, dt);
    if (c && mg_copy_cast(a, mg_data_ptr(c), dt)) {
        mg_release(c);
        return NULL;
    }
    return c;
}

/* A transposed matrix (rows r, cols c, src element (i, j) at i + j * ld)
 * copied into the contiguous dst in square tiles, so both sides stay in cache. */
#define TILE 32
static void transpose_copy(const char *src, char *dst, int64_t r, int64_t c, int64_t ld,
                           size_t es) {
    for (int64_t i0 = 0; i0 < r; i0 += TILE)
        for (int64_t j0 = 0; j0 < c; j0 += TILE) {
            int64_t i1 = i0 + TILE < r ? i0 + TILE : r, j1 = j0 + TILE < c ? j0 + TILE : c;
            for (int64_t i = i0; i < i1; i++) {
                char *p[2] = {(char *)src + (i + j0 * ld) * (int64_t)es, dst + (i * c + j0) * (int64_t)es};
                int64_t st[2] = {ld, 1};
                copy_run(p, st, j1 - j0, es);
            }
        }
}

/* Whether src is a transposed matrix (2-d, or with leading axes of size 1)
 * worth the tiled copy. */
static bool is_transposed_matrix(const mg_tensor *src) {
    int n = src->ndim;
    if (n < 2) return false;
    for (int d = 0; d < n - 2; d++)
        if (src->shape[d] != 1) return false;
    return src->stride[n - 2] == 1 && src->stride[n - 1] >= src->shape[n - 2] &&
           src->shape[n - 2] >= TILE && src->shape[n - 1] >= TILE;
}

int mg_copy_cast(const mg_tensor *src, void *dst, mg_dtype dt) {
    if (dt == MG_INT64 && check_int_range(src)) return MG_EVALUE;
    int64_t cst[MG_MAXDIM];
    mg_contiguous_strides(src->ndim, src->shape, cst);
    if (src->dtype == dt && mg_is_contiguous(src)) {
        memcpy(dst, mg_data_ptr(src), (size_t)mg_numel(src) * mg_dtype_size(dt));
        return MG_OK;
    }
    if (src->dtype == dt && is_transposed_matrix(src)) {
        int n = src->ndim;
        transpose_copy(mg_data_ptr(src), dst, src->shape[n - 2], src->shape[n - 1],
                       src->stride[n - 1], mg_dtype_size(dt));
        return MG_OK;
    }
    cast_ctx c = {src->dtype, dt};
    char *base[2] = {(char *)mg_data_ptr(src), dst};
    const int64_t *st[2] = {src->stride, cst};
    size_t esz[2] = {mg_dtype_size(src->dtype), mg_dtype_size(dt)};
    mg_strided_walk(src->ndim, src->shape, 2, base, st, esz, cast_run, &c);
    return MG_OK;
}
