/* cbench.c — the reference figures bench/run.lua sets moongrad's beside:
 * the machine's memory bandwidth, measured with plain C loops over 10^7
 * float32 shaped like the element-wise workloads (read-only for a sum, one
 * in one out for exp and relu, two in one out for add), and the GFLOP/s of a
 * direct cblas_sgemm call.  Built with -fopenmp: the loops run on
 * OMP_NUM_THREADS threads, OpenBLAS on OPENBLAS_NUM_THREADS.
 *   cbench bw [n] [reps]         read / copy / add GB/s (median of reps)
 *   cbench sgemm n [reps]        GFLOP/s of an n x n x n sgemm (median)
 * Output: one "key value" line per figure. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *fresh(long n, float v) {
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) {
        fprintf(stderr, "cbench: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < n; i++) p[i] = v + (float)(i % 7); /* touches every page */
    return p;
}

/* volatile sink so the compiler keeps the read loop */
static volatile float sink;

static double t_read(const float *a, long n) {
    double t0 = now();
    float s = 0;
#pragma omp parallel for simd reduction(+ : s) schedule(static)
    for (long i = 0; i < n; i++) s += a[i];
    sink = s;
    return now() - t0;
}

static double t_copy(const float *a, float *b, long n) {
    double t0 = now();
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) b[i] = a[i] * 1.5f;
    return now() - t0;
}

static double t_add(const float *a, const float *b, float *c, long n) {
    double t0 = now();
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) c[i] = a[i] + b[i];
    return now() - t0;
}

static int bandwidth(long n, int reps) {
    float *a = fresh(n, 1), *b = fresh(n, 2), *c = fresh(n, 3);
    double *tr = malloc((size_t)reps * sizeof *tr), *tc = malloc((size_t)reps * sizeof *tc);
    double *ta = malloc((size_t)reps * sizeof *ta);
    if (!tr || !tc || !ta) return 1;
    for (int r = -2; r < reps; r++) { /* two warm-up rounds */
        double x = t_read(a, n), y = t_copy(a, b, n), z = t_add(a, b, c, n);
        if (r >= 0) {
            tr[r] = x;
            tc[r] = y;
            ta[r] = z;
        }
    }
    double bytes = (double)n * sizeof(float);
    printf("read %.3f\n", bytes / median(tr, reps) / 1e9);
    printf("copy %.3f\n", 2 * bytes / median(tc, reps) / 1e9);
    printf("add %.3f\n", 3 * bytes / median(ta, reps) / 1e9);
    free(a), free(b), free(c), free(tr), free(tc), free(ta);
    return 0;
}

static int sgemm(int n, int reps) {
    long nn = (long)n * n;
    float *a = fresh(nn, 0.001f), *b = fresh(nn, 0.002f), *c = fresh(nn, 0);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t) return 1;
    for (int r = -2; r < reps; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n);
        if (r >= 0) t[r] = now() - t0;
    }
    printf("gflops %.3f\n", 2.0 * n * (double)nn / median(t, reps) / 1e9);
    free(a), free(b), free(c), free(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "bw")) {
        long n = argc > 2 ? atol(argv[2]) : 10000000;
        int reps = argc > 3 ? atoi(argv[3]) : 10;
        return bandwidth(n > 0 ? n : 10000000, reps > 0 ? reps : 10);
    }
    if (argc >= 3 && !strcmp(argv[1], "sgemm")) {
        int n = atoi(argv[2]), reps = argc > 3 ? atoi(argv[3]) : 10;
        if (n <= 0) return 2;
        return sgemm(n, reps > 0 ? reps : 10);
    }
    fprintf(stderr, "usage: cbench bw [n] [reps] | cbench sgemm n [reps]\n");
    return 2;
}
