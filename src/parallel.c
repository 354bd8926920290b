/* parallel.c — the library's thread count and its pool of worker
 * threads: a split of one long loop over threads (mg_parallel_for,
 * mg_parallel_range), a share-out of a few heavy work items, such as the
 * sample chunks of a convolution (mg_parallel_items), and the pool itself
 * (mg_parallel_run), which gemm.c uses to split large matrix products.
 *
 * Long element-wise runs, full sums, convolution, max-pooling and large
 * GEMMs use it.  The count starts at MOONGRAD_NUM_THREADS, else
 * OMP_NUM_THREADS, else 1; mg_set_num_threads changes it.  OpenBLAS itself
 * is kept at one thread (gemm.c): its own threads would spin against ours.
 *
 * The workers are made on first use and live as long as the process.  A
 * dispatch publishes the job and bumps a generation counter; a worker spins
 * a little while (about 50 microseconds) for the next generation before it
 * sleeps on a condition variable, so the back-to-back splits of a training
 * step cost a few microseconds each, not a thread creation.  (sched_yield in
 * the spin was tried: on this project's machine it made every split run at
 * one thread's speed.)  A job that cannot have the pool (another thread of
 * the program is using it, or the caller is itself a worker) runs its parts
 * on the calling thread. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define SPIN_NS 50000 /* how long a waiting thread spins before it sleeps */

/* The spin, or 0 (sleep at once) while a job has more parts than there
 * are CPUs online: a spinning thread would then take a CPU that a working
 * one needs. */
static _Atomic int64_t spin_ns = SPIN_NS;

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
        mg_blas_single();
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
    return MG_OK;
}

/* ---- the pool ------------------------------------------------------------------ */
static struct {
    pthread_mutex_t busy;  /* held by the thread dispatching a job */
    pthread_mutex_t mu;    /* guards the sleepers and the condition variables */
    pthread_cond_t wake;   /* workers: a new generation */
    pthread_cond_t done;   /* the dispatcher: no part left */
    pthread_t tid[MAX_THREADS];
    unsigned born[MAX_THREADS]; /* the generation when each worker was made */
    int nworkers;          /* workers started: they run parts 1 .. nworkers */
    atomic_uint gen;       /* bumped once per job */
    atomic_int pending;    /* workers not yet done with this job */
    atomic_bool stop;      /* the process is exiting */
    int sleepers;          /* workers waiting on wake (under mu) */
    bool caller_sleeps;    /* the dispatcher waits on done (under mu) */
    mg_job_fn fn;          /* the job, published before gen is bumped */
    void *ctx;
    int nparts;
    int cpus;              /* CPUs online */
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static MG_HOT_TLS bool in_pool; /* this thread is running a part (or a serial job) */

bool mg_in_parallel(void) { return in_pool; }

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins up to spin_ns while *gen == seen; returns the generation it saw. */
static unsigned spin_for_gen(unsigned seen) {
    unsigned g = atomic_load_explicit(&pool.gen, memory_order_acquire);
    for (int64_t t0 = now_ns(); g == seen; g = atomic_load_explicit(&pool.gen, memory_order_acquire)) {
        for (int i = 0; i < 64 && g == seen; i++) {
            cpu_relax();
            g = atomic_load_explicit(&pool.gen, memory_order_acquire);
        }
        if (g != seen || now_ns() - t0 > atomic_load_explicit(&spin_ns, memory_order_relaxed))
            break;
    }
    return g;
}

static void *worker(void *arg) {
    int part = (int)(intptr_t)arg;
    unsigned seen = pool.born[part - 1]; /* jobs before it was made are not its own */
    in_pool = true;
    for (;;) {
        unsigned g = spin_for_gen(seen);
        if (g == seen) {
            pthread_mutex_lock(&pool.mu);
            while ((g = atomic_load_explicit(&pool.gen, memory_order_acquire)) == seen) {
                pool.sleepers++;
                pthread_cond_wait(&pool.wake, &pool.mu);
                pool.sleepers--;
            }
            pthread_mutex_unlock(&pool.mu);
        }
        seen = g;
        if (atomic_load(&pool.stop)) return NULL;
        if (part < pool.nparts) pool.fn(pool.ctx, part);
        /* every worker answers every job, even one without a part for it:
         * so none can still be reading this job's fields when the next is
         * published */
        if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.mu);
            if (pool.caller_sleeps) pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
    }
}

/* At exit: wake the workers, let them return, and join them. */
static void pool_shutdown(void) {
    if (!pool.nworkers) return;
    atomic_store(&pool.stop, true);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.nworkers; i++) pthread_join(pool.tid[i], NULL);
    pool.nworkers = 0;
}

/* A forked child has none of the parent's workers. */
static void pool_forget(void) {
    pool.nworkers = 0;
    pthread_mutex_init(&pool.busy, NULL);
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.sleepers = 0;
    pool.caller_sleeps = false;
}

/* Starts workers until there are n (as many as can be had); with busy held. */
static void pool_grow(int n) {
    static bool hooked;
    if (!hooked) {
        hooked = true;
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        pool.cpus = n > 0 && n < INT_MAX ? (int)n : 1;
        atexit(pool_shutdown);
        pthread_atfork(NULL, NULL, pool_forget);
    }
    while (pool.nworkers < n) {
        int part = pool.nworkers + 1;
        pool.born[pool.nworkers] = atomic_load(&pool.gen);
        if (pthread_create(&pool.tid[pool.nworkers], NULL, worker, (void *)(intptr_t)part) != 0)
            break;
        pool.nworkers++;
    }

}

/* fn(ctx, part) for part 0 .. nparts - 1: part 0 on the caller, the others
 * on the pool's workers (those that could not be had, and every part when
 * the pool is in use or the caller is a worker, on the caller, in order).
 * Returns when all are done. */
void mg_parallel_run(int nparts, mg_job_fn fn, void *ctx) {
    bool was = in_pool;
    if (nparts <= 1 || in_pool || pthread_mutex_trylock(&pool.busy) != 0) {
        in_pool = true;
        for (int i = 0; i < nparts; i++) fn(ctx, i);
        in_pool = was;
        return;
    }
    pool_grow(nparts - 1 < MAX_THREADS - 1 ? nparts - 1 : MAX_THREADS - 1);
    int onpool = nparts - 1 < pool.nworkers ? nparts - 1 : pool.nworkers;
    atomic_store_explicit(&spin_ns, nparts <= pool.cpus ? SPIN_NS : 0, memory_order_relaxed);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.nparts = onpool + 1;
    atomic_store_explicit(&pool.pending, pool.nworkers, memory_order_relaxed);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
    if (pool.sleepers) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    in_pool = true;
    fn(ctx, 0);
    for (int i = onpool + 1; i < nparts; i++) fn(ctx, i); /* no worker for these */
    in_pool = was;
    /* wait for the workers' parts: spin a little, then sleep */
    int64_t t0 = now_ns();
    int64_t spin = atomic_load_explicit(&spin_ns, memory_order_relaxed);
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0 && now_ns() - t0 < spin)
        for (int i = 0; i < 64; i++) cpu_relax();
    if (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&pool.mu);
        while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) {
            pool.caller_sleeps = true;
            pthread_cond_wait(&pool.done, &pool.mu);
        }
        pool.caller_sleeps = false;
        pthread_mutex_unlock(&pool.mu);
    }
    pthread_mutex_unlock(&pool.busy);
}

/* ---- one long loop ------------------------------------------------------------- */
typedef struct {
    mg_range_fn fn;
    void *ctx;
    int64_t n, step;
    int nparts;
} range_job;

/* Part i: [i step, (i + 1) step), the last to n. */
static void run_range_part(void *arg, int part) {
    const range_job *j = arg;
    int64_t b = part * j->step, e = part == j->nparts - 1 ? j->n : b + j->step;
    if (b > j->n) b = j->n;
    if (e > j->n) e = j->n;
    if (b < e) j->fn(j->ctx, b, e);
}

void mg_parallel_for(int64_t n, mg_range_fn fn, void *ctx) {
    mg_parallel_range(n, MG_PARALLEL_MIN, fn, ctx);
}

void mg_parallel_range(int64_t n, int64_t min_per_thread, mg_range_fn fn, void *ctx) {
    int k = mg_num_threads();
    if (min_per_thread < 1) min_per_thread = 1;
    if ((int64_t)k > n / min_per_thread) k = (int)(n / min_per_thread);
    if (k <= 1 || in_pool) {
        fn(ctx, 0, n);
        return;
    }
    range_job j = {fn, ctx, n, (n / k + 15) & ~(int64_t)15, k}; /* 64-byte aligned float32 parts */
    mg_parallel_run(k, run_range_part, &j);
}

/* ---- a few heavy items ---------------------------------------------------------- */
typedef struct {
    mg_part_fn fn;
    void *ctx;
    int64_t nitems;
    atomic_llong next; /* the next item not yet taken */
} item_queue;

/* Takes items one at a time until none are left. */
static void run_items(void *arg, int part) {
    item_queue *q = arg;
    for (;;) {
        long long i = atomic_fetch_add(&q->next, 1);
        if (i >= q->nitems) break;
        q->fn(q->ctx, part, i, i + 1);
    }
}

int mg_parallel_parts(int64_t nitems) {
    int k = mg_num_threads();
    if ((int64_t)k > nitems) k = nitems > 1 ? (int)nitems : 1;
    return k;
}

/* Each part runs on a thread of its own (part 0 on the caller) and takes
 * the items one at a time, whichever is next: a part whose core is slower
 * or busy with other work does fewer.  A GEMM inside an item runs on the
 * thread that calls it, unsplit (mg_in_parallel), the same call with the
 * same result whichever thread that is and however many there are. */
void mg_parallel_items(int64_t nitems, mg_part_fn fn, void *ctx) {
    if (nitems <= 0) return;
    int k = mg_parallel_parts(nitems);
    if (k <= 1) {
        bool was = in_pool;
        in_pool = true;
        fn(ctx, 0, 0, nitems);
        in_pool = was;
        return;
    }
    item_queue q = {fn, ctx, nitems, 0};
    mg_parallel_run(k, run_items, &q);
}
