/* nn_layers.c — the C parts of mg.nnet's initializers and layers: the
 * orthogonal initializer (Householder QR in double, with the sign fix that
 * makes the distribution uniform), the dirac initializer, embedding (a
 * checked 1-based or 0-based gather whose backward scatter-adds).
 * Everything else of mg.nnet's layers is composed of ops in
 * lua/moongrad/nnet_layers.lua. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared checks -------------------------------------------------------- */
static int check_float_dtype(const char *op, mg_dtype dt) {
    if (mg_dtype_is_float(dt)) return MG_OK;
    return mg_seterr(MG_EDTYPE, "%s: dtype %s is not a float dtype (use float32 or float64)", op,
                     mg_dtype_name(dt));
}

static int check_shape(const char *op, int ndim, const int64_t *shape, int64_t *numel) {
    if (ndim < 0 || ndim > MG_MAXDIM)
        return mg_seterr(MG_ESHAPE, "%s: %d axes (at most %d)", op, ndim, MG_MAXDIM);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return mg_seterr(MG_ESHAPE, "%s: shape entries must be >= 0, got %lld", op,
                             (long long)shape[i]);
    if (mg_shape_numel(ndim, shape, numel))
        return mg_seterr(MG_ENOMEM, "%s: the shape has too many elements", op);
    return MG_OK;
}

/* ---- orthogonal ------------------------------------------------------------
 * As PyTorch's orthogonal_: the tensor is read as a rows x cols matrix (rows
 * = shape[0], cols = the product of the rest); a standard normal matrix of
 * that shape (its transpose when rows < cols, so it is tall) is factored
 * A = QR, Q's columns are multiplied by the signs of R's diagonal (which
 * makes Q Haar-distributed), and the result is gain * Q (transposed back). */

/* Householder QR of the m x n matrix A (row-major, m >= n), in place: the
 * reflector of step k is stored unit-norm in v + k*m (entries k..m-1), and
 * rdiag[k] is R's k-th diagonal entry.  s is scratch of n doubles. */
static void householder_qr(double *A, int64_t m, int64_t n, double *v, double *rdiag, double *s) {
    for (int64_t k = 0; k < n; k++) {
        double *vk = v + k * m, norm = 0;
        for (int64_t i = k; i < m; i++) norm += A[i * n + k] * A[i * n + k];
        norm = sqrt(norm);
        if (norm == 0) { /* a zero column: no reflection */
            for (int64_t i = k; i < m; i++) vk[i] = 0;
            rdiag[k] = 0;
            continue;
        }
        double alpha = A[k * n + k] > 0 ? -norm : norm, vn = 0;
        for (int64_t i = k; i < m; i++) vk[i] = A[i * n + k];
        vk[k] -= alpha;
        for (int64_t i = k; i < m; i++) vn += vk[i] * vk[i];
        vn = sqrt(vn);
        for (int64_t i = k; i < m; i++) vk[i] /= vn;
        /* A[k:, k:] -= 2 v (v^T A[k:, k:]), row by row */
        for (int64_t j = k; j < n; j++) s[j] = 0;
        for (int64_t i = k; i < m; i++)
            for (int64_t j = k; j < n; j++) s[j] += vk[i] * A[i * n + j];
        for (int64_t i = k; i < m; i++)
            for (int64_t j = k; j < n; j++) A[i * n + j] -= 2 * vk[i] * s[j];
        rdiag[k] = alpha;
    }
}

/* Q (m x n, row-major) = H_0 H_1 ... H_{n-1} times the first n columns of I,
 * then column j times sign(rdiag[j]). */
static void householder_q(double *Q, int64_t m, int64_t n, const double *v, const double *rdiag,
                          double *s) {
    memset(Q, 0, (size_t)(m * n) * sizeof *Q);
    for (int64_t j = 0; j < n; j++) Q[j * n + j] = 1;
    for (int64_t k = n - 1; k >= 0; k--) {
        const double *vk = v + k * m;
        for (int64_t j = 0; j < n; j++) s[j] = 0;
        for (int64_t i = k; i < m; i++)
            for (int64_t j = 0; j < n; j++) s[j] += vk[i] * Q[i * n + j];
        for (int64_t i = k; i < m; i++)
            for (int64_t j = 0; j < n; j++) Q[i * n + j] -= 2 * vk[i] * s[j];
    }
    for (int64_t j = 0; j < n; j++)
        if (rdiag[j] < 0)
            for (int64_t i = 0; i < m; i++) Q[i * n + j] = -Q[i * n + j];
}

/* Fills out (rows x cols, contiguous, dtype dt) with gain * the orthogonal
 * factor of the normal matrix g (rows x cols, contiguous doubles). */
static int orthogonal_fill(mg_tensor *out, const double *g, int64_t rows, int64_t cols,
                           double gain) {
    bool tr = rows < cols;
    int64_t m = tr ? cols : rows, n = tr ? rows : cols;
    double *A = malloc((size_t)(m * n) * sizeof *A), *Q = malloc((size_t)(m * n) * sizeof *Q);
    double *v = malloc((size_t)(m * n) * sizeof *v), *rd = malloc((size_t)n * sizeof *rd);
    double *s = malloc((size_t)n * sizeof *s);
    int rc = MG_OK;
    if (!A || !Q || !v || !rd || !s) {
        rc = mg_seterr(MG_ENOMEM, "orthogonal: out of memory for a %lld x %lld matrix",
                       (long long)rows, (long long)cols);
        goto out;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            if (tr) A[j * n + i] = g[i * cols + j];
            else A[i * n + j] = g[i * cols + j];
        }
    householder_qr(A, m, n, v, rd, s);
    householder_q(Q, m, n, v, rd, s);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            mg_set_flat(out, i * cols + j, gain * (tr ? Q[j * n + i] : Q[i * n + j]));
out:
    free(A);
    free(Q);
    free(v);
    free(rd);
    free(s);
    return rc;
}

mg_tensor *mg_init_orthogonal(int ndim, const int64_t *shape, double gain, mg_dtype dt) {
    int64_t numel;
    char sb[256];
    if (check_shape("orthogonal", ndim, shape, &numel) || check_float_dtype("orthogonal", dt))
        return NULL;
    if (ndim < 2) {
        mg_seterr(MG_ESHAPE, "orthogonal: only tensors with 2 or more dimensions are supported, "
                  "got shape %s", mg_shape_str(ndim, shape, sb, sizeof sb));
        return NULL;
    }
    mg_tensor *out = mg_zeros(ndim, shape, dt);
    if (!out || numel == 0) return out;
    int64_t rows = shape[0], cols = numel / rows, gs[2] = {rows, cols};
    mg_tensor *g = mg_randn(2, gs, MG_FLOAT64);
    int rc = g ? orthogonal_fill(out, mg_data_ptr(g), rows, cols, gain) : MG_ENOMEM;
    mg_release(g);
    if (rc) {
        mg_release(out);
        return NULL;
    }
    return out;
}

/* ---- dirac -------------------------------------------------------------------
 * As PyTorch's dirac_ (and MyGrad's dirac for groups = 1): zeros, with
 * out[g * opg + d, d, k1 // 2, k2 // 2, ...] = gain for each group g and
 * d < min(opg, shape[1]), opg = shape[0] / groups.  A convolution with
 * this weight copies (gain times) its input channels. */
mg_tensor *mg_init_dirac(int ndim, const int64_t *shape, int64_t groups, double gain, mg_dtype dt) {
    int64_t numel;
    char sb[256];
    if (check_shape("dirac", ndim, shape, &numel) || check_float_dtype("dirac", dt)) return NULL;
    if (ndim < 2) {
        mg_seterr(MG_ESHAPE, "dirac: only tensors with 2 or more dimensions are supported (conv "
                  "weights: out x in x k1 ...), got shape %s", mg_shape_str(ndim, shape, sb, sizeof sb));
        return NULL;
    }
    if (groups < 1 || shape[0] % groups != 0) {
        mg_seterr(MG_EVALUE, "dirac: dim 1 of shape %s (%lld) must be divisible by groups (%lld >= 1)",
                  mg_shape_str(ndim, shape, sb, sizeof sb), (long long)shape[0], (long long)groups);
        return NULL;
    }
    mg_tensor *out = mg_zeros(ndim, shape, dt);
    if (!out || numel == 0) return out;
    int64_t opg = shape[0] / groups, mind = opg < shape[1] ? opg : shape[1];
    int64_t center = 0; /* flat offset of the kernel's centre within one (out, in) slice */
    for (int i = 2; i < ndim; i++) center = center * shape[i] + shape[i] / 2;
    int64_t ksize = numel / (shape[0] * shape[1]);
    for (int64_t g = 0; g < groups; g++)
        for (int64_t d = 0; d < mind; d++) {
            int64_t o = g * opg + d;
            mg_set_flat(out, (o * shape[1] + d) * ksize + center, gain);
        }
    return out;
}

/* ---- embedding ---------------------------------------------------------------- */
mg_tensor *mg_embedding(mg_tensor *idx, mg_tensor *table, int base) {
    char sb[256];
    if (!idx || !table) {
        mg_seterr(MG_EVALUE, "embedding: missing tensor");
        return NULL;
    }
    if (idx->dtype != MG_INT64) {
        mg_seterr(MG_EDTYPE, "embedding: indices must be an int64 tensor, got %s",
                  mg_dtype_name(idx->dtype));
        return NULL;
    }
    if (table->ndim != 2) {
        mg_seterr(MG_ESHAPE, "embedding: the table must be 2-d (V x D), got shape %s",
                  mg_shape_str(table->ndim, table->shape, sb, sizeof sb));
        return NULL;
    }
    if (idx->ndim + 1 > MG_MAXDIM) {
        mg_seterr(MG_ESHAPE, "embedding: indices have %d axes (at most %d)", idx->ndim, MG_MAXDIM - 1);
        return NULL;
    }
    int64_t V = table->shape[0], n = mg_numel(idx);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = mg_get_flat_int(idx, i);
        if (v < base || (uint64_t)v - (uint64_t)base >= (uint64_t)V) {
            mg_seterr(MG_EINDEX, "embedding: index %lld (element %lld of the indices) is out of "
                      "range for a table of V = %lld rows (valid: %d..%lld)", (long long)v,
                      (long long)i + base, (long long)V, base, (long long)V - 1 + base);
            return NULL;
        }
    }
    mg_aindex key;
    memset(&key, 0, sizeof key);
    key.t = idx;
    return mg_index_adv_get(table, 1, &key, base);
}
