/* parallel.c — the library's thread count, a split of one long loop over
 * threads (mg_parallel_for, mg_parallel_range), and a share-out of a few
 * heavy work items, such as the sample chunks of a convolution, among
 * threads (mg_parallel_items).
 *
 * Only the compute-heavy element-wise ops (exp, log, tanh, ...) on long
 * contiguous runs use the loop split (ops.c): memory-bound loops such as add or relu
 * already run at the memory bandwidth on one core.  Convolution and
 * max-pooling share out their chunks or planes.  The count starts at
 * MOONGRAD_NUM_THREADS, else OMP_NUM_THREADS, else 1; mg_set_num_threads
 * changes it and OpenBLAS's count (matmul) with it.  Threads are made per call:
 * a split is only taken for runs long enough (MG_PARALLEL_MIN elements of
 * work each) that the tens of microseconds this costs do not show. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MAX_THREADS 64

static int nthreads; /* 0 until read from the environment */

static int env_threads(const char *name) {
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return *end == '\0' && v >= 1 && v <= MAX_THREADS ? (int)v : 0;
}

int mg_num_threads(void) {
    if (!nthreads) {
        int n = env_threads("MOONGRAD_NUM_THREADS");
        if (!n) n = env_threads("OMP_NUM_THREADS");
        nthreads = n ? n : 1;
    }
    return nthreads;
}

int mg_set_num_threads(int n) {
    if (n < 1 || n > MAX_THREADS) {
        mg_seterr(MG_EVALUE, "set_num_threads: expected 1 to %d threads, got %d", MAX_THREADS, n);
        return MG_EVALUE;
    }
    nthreads = n;
    openblas_set_num_threads(n);
    return MG_OK;
}

typedef struct {
    mg_range_fn fn;
    void *ctx;
    int64_t begin, end;
} part;

static void *run_part(void *arg) {
    part *p = arg;
    p->fn(p->ctx, p->begin, p->end);
    return NULL;
}

void mg_parallel_for(int64_t n, mg_range_fn fn, void *ctx) {
    mg_parallel_range(n, MG_PARALLEL_MIN, fn, ctx);
}

void mg_parallel_range(int64_t n, int64_t min_per_thread, mg_range_fn fn, void *ctx) {
    int k = mg_num_threads();
    if (min_per_thread < 1) min_per_thread = 1;
    if ((int64_t)k > n / min_per_thread) k = (int)(n / min_per_thread);
    if (k <= 1) {
        fn(ctx, 0, n);
        return;
    }
    part parts[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    bool started[MAX_THREADS] = {false};
    int64_t step = (n / k + 15) & ~(int64_t)15; /* 64-byte aligned parts for float32 */
    for (int i = 0; i < k; i++) {
        parts[i] = (part){fn, ctx, i * step < n ? i * step : n, (i + 1) * step < n ? (i + 1) * step : n};
        if (i == k - 1) parts[i].end = n;
    }
    for (int i = 1; i < k; i++)
        started[i] = pthread_create(&tid[i], NULL, run_part, &parts[i]) == 0;
    run_part(&parts[0]);
    for (int i = 1; i < k; i++) {
        if (started[i]) pthread_join(tid[i], NULL);
        else run_part(&parts[i]); /* no thread to be had: do it here */
    }
}

/* ---- a few heavy items ---------------------------------------------------------- */
typedef struct {
    mg_part_fn fn;
    void *ctx;
    int64_t nitems;
    atomic_llong next; /* the next item not yet taken */
} item_queue;

typedef struct {
    item_queue *q;
    int part;
} item_worker;

/* Takes items one at a time until none are left. */
static void *run_items(void *arg) {
    item_worker *w = arg;
    item_queue *q = w->q;
    for (;;) {
        long long i = atomic_fetch_add(&q->next, 1);
        if (i >= q->nitems) break;
        q->fn(q->ctx, w->part, i, i + 1);
    }
    return NULL;
}

int mg_parallel_parts(int64_t nitems) {
    int k = mg_num_threads();
    if ((int64_t)k > nitems) k = nitems > 1 ? (int)nitems : 1;
    return k;
}

/* Each part runs on a thread of its own (part 0 on the caller) and takes
 * the items one at a time, whichever is next: a part whose core is slower
 * or busy with other work does fewer.  While the parts run, even a single
 * one, OpenBLAS is held at one thread (openblas_set_num_threads is
 * process-wide; the library's API is used from one thread, so nothing else
 * calls BLAS meanwhile): a GEMM inside an item runs on the thread that
 * calls it, the same call with the same result whichever thread that is
 * and however many there are (OpenBLAS's own threading does not give the
 * same bits as one thread).  The count is restored after. */
void mg_parallel_items(int64_t nitems, mg_part_fn fn, void *ctx) {
    if (nitems <= 0) return;
    int k = mg_parallel_parts(nitems);
    int blas = openblas_get_num_threads();
    if (blas != 1) openblas_set_num_threads(1);
    if (k <= 1) {
        fn(ctx, 0, 0, nitems);
    } else {
        item_queue q = {fn, ctx, nitems, 0};
        item_worker w[MAX_THREADS];
        pthread_t tid[MAX_THREADS];
        bool started[MAX_THREADS] = {false};
        for (int i = 0; i < k; i++) w[i] = (item_worker){&q, i};
        for (int i = 1; i < k; i++)
            started[i] = pthread_create(&tid[i], NULL, run_items, &w[i]) == 0;
        run_items(&w[0]); /* items no thread could be made for are done here too */
        for (int i = 1; i < k; i++)
            if (started[i]) pthread_join(tid[i], NULL);
    }
    if (blas != 1) openblas_set_num_threads(blas);
}
