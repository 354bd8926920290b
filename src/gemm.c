/* gemm.c — the library's one entry to matrix products (matmul, dense
 * layers, convolution): C = alpha op(A) op(B) + beta C, row-major, float32
 * or float64, through OpenBLAS.  OpenBLAS is held at one thread: a product
 * large enough to pay for it is split here into blocks of C's rows (or
 * columns, when C is wider than tall), one block per thread of the pool
 * (parallel.c), each an ordinary single-threaded GEMM.  Every block packs
 * the whole of the operand it shares (B for rows, A for columns), so the
 * split goes along the longer side; for square products rows measured
 * faster (1024^3 at 2 threads: 193-196 GFLOP/s by rows, 184-189 by
 * columns, 198 for OpenBLAS's own threading).  Inside a parallel part
 * nothing is split, so convolution's per-chunk GEMMs give the same bits at
 * any thread count.  A split product can differ from the unsplit one in
 * the last bits (as OpenBLAS's own threading can). */
#include "internal.h"

#include <cblas.h>

/* m n k at which a product is split (about 2 MFLOP: ~20 us on one core) */
#define SPLIT_MIN ((int64_t)1 << 20)
/* the fewest rows (columns) a block gets */
#define BLOCK_MIN 32

typedef struct {
    mg_dtype dt;
    bool ta, tb, by_cols;
    int64_t m, n, k, lda, ldb, ldc, step;
    double alpha, beta;
    const char *a, *b;
    char *c;
    int nparts;
} gemm_job;

static void gemm_call(mg_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                      double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                      double beta, void *c, int64_t ldc) {
    CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    if (dt == MG_FLOAT32)
        cblas_sgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, (float)alpha, a, (int)lda, b,
                    (int)ldb, (float)beta, c, (int)ldc);
    else
        cblas_dgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                    (int)ldb, beta, c, (int)ldc);
}

/* Block `part`: rows (or columns) [part step, (part + 1) step) of C, the
 * last to the end. */
static void gemm_part(void *arg, int part) {
    const gemm_job *j = arg;
    int64_t total = j->by_cols ? j->n : j->m;
    int64_t b = part * j->step, e = part == j->nparts - 1 ? total : b + j->step;
    if (e > total) e = total;
    if (b >= e) return;
    size_t es = mg_dtype_size(j->dt);
    if (j->by_cols) /* op(B)'s columns b..e: B + b (row-major k x n), or B's rows b..e */
        gemm_call(j->dt, j->ta, j->tb, j->m, e - b, j->k, j->alpha, j->a, j->lda,
                  j->b + (size_t)(j->tb ? b * j->ldb : b) * es, j->ldb, j->beta,
                  j->c + (size_t)b * es, j->ldc);
    else /* op(A)'s rows b..e: A's rows, or A + b (A stored k x m) */
        gemm_call(j->dt, j->ta, j->tb, e - b, j->n, j->k, j->alpha,
                  j->a + (size_t)(j->ta ? b : b * j->lda) * es, j->lda, j->b, j->ldb, j->beta,
                  j->c + (size_t)(b * j->ldc) * es, j->ldc);
}

/* OpenBLAS's pthreads build stops its own threads with this (at fork);
 * weak, so a build without it (serial, OpenMP) still links and loads. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

/* Once (from mg_num_threads): OpenBLAS to one thread, and its idle threads
 * stopped: made when the library loads, they spin through their first
 * ~0.1 s and would take a CPU from the pool.  OpenBLAS makes them again
 * itself if anything in the process later asks it for more threads. */
void mg_blas_single(void) {
    static bool done;
    if (done) return;
    done = true;
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

void mg_gemm(mg_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
             const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c,
             int64_t ldc) {
    int t = mg_num_threads(); /* (which first holds OpenBLAS at one thread) */
    bool by_cols = n > m;
    int64_t along = by_cols ? n : m;
    int parts = (int)(along / BLOCK_MIN < t ? along / BLOCK_MIN : t);
    if (parts <= 1 || mg_in_parallel() || m * n * k < SPLIT_MIN) {
        gemm_call(dt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int64_t step = ((along + parts - 1) / parts + 15) & ~(int64_t)15; /* whole cache lines */
    gemm_job j = {dt, ta, tb, by_cols, m, n, k, lda, ldb, ldc, step, alpha, beta, a, b, c, parts};
    mg_parallel_run(parts, gemm_part, &j);
}
