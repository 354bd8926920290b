/* ops_matmul.c — matrix product: 1-d, 2-d and batched with broadcast batch
 * axes.  float32/float64 go through OpenBLAS (mg_gemm, gemm.c)
 * reading transposed views in place; int64 uses a plain loop. */
#include "internal.h"

#include <limits.h>
#include <string.h>

typedef struct {
    bool trans;
    int64_t ld;
} mat_layout;

/* Can BLAS read the trailing 2 axes (rows, cols, strides rs, cs) as is? */
static bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, mat_layout *l) {
    int64_t mc = cols > 1 ? cols : 1, mr = rows > 1 ? rows : 1;
    if ((cs == 1 || cols <= 1) && (rows <= 1 || rs >= mc)) {
        l->trans = false;
        l->ld = rows <= 1 ? mc : rs;
        return l->ld <= INT_MAX;
    }
    if ((rs == 1 || rows <= 1) && (cols <= 1 || cs >= mr)) {
        l->trans = true;
        l->ld = cols <= 1 ? mr : cs;
        return l->ld <= INT_MAX;
    }
    return false;
}

static mg_tensor *as_blas_operand(mg_tensor *t, mat_layout *l) {
    int n = t->ndim;
    if (blas_layout(t->shape[n - 2], t->shape[n - 1], t->stride[n - 2], t->stride[n - 1], l))
        return mg_retain(t);
    mg_tensor *c = mg_copy_of(t, t->dtype);
    if (!c) return NULL;
    blas_layout(c->shape[n - 2], c->shape[n - 1], c->stride[n - 2], c->stride[n - 1], l);
    return c;
}

static void gemm_one(mg_dtype dt, const mat_layout *la, const mat_layout *lb, int64_t m,
                     int64_t n, int64_t k, const char *a, const char *b, char *o) {
    mg_gemm(dt, la->trans, lb->trans, m, n, k, 1.0, a, la->ld, b, lb->ld, 0.0, o, n);
}

/* Strided int64 product of one batch item (wrapping arithmetic). */
static void int_matmul(const mg_tensor *a, const mg_tensor *b, const int64_t *pa,
                       const int64_t *pb, int64_t *o, int64_t m, int64_t n, int64_t k) {
    int na = a->ndim, nb = b->ndim;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            uint64_t s = 0;
            for (int64_t q = 0; q < k; q++)
                s += (uint64_t)pa[i * a->stride[na - 2] + q * a->stride[na - 1]] *
                     (uint64_t)pb[q * b->stride[nb - 2] + j * b->stride[nb - 1]];
            o[i * n + j] = (int64_t)s;
        }
}

/* Both inputs have >= 2 axes and the same dtype; batch axes broadcast. */
static mg_tensor *matmul_fw(mg_tensor **in, const mg_params *p) {
    (void)p;
    mg_tensor *a = in[0], *b = in[1];
    int na = a->ndim, nb = b->ndim;
    int64_t m = a->shape[na - 2], k = a->shape[na - 1], n = b->shape[nb - 1];
    /* broadcast batch shape */
    mg_tensor ba = *a, bb = *b;
    ba.ndim = na - 2;
    bb.ndim = nb - 2;
    int nbatch;
    int64_t shape[MG_MAXDIM];
    if (mg_broadcast_shape("matmul", &ba, &bb, &nbatch, shape)) return NULL;
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX) {
        mg_seterr(MG_EVALUE, "matmul: dimensions larger than %d are not supported", INT_MAX);
        return NULL;
    }
    shape[nbatch] = m;
    shape[nbatch + 1] = n;
    /* every entry is written below (BLAS with beta = 0, or the int64 loop);
     * only an empty inner dimension leaves a product of zeros */
    mg_tensor *out = k == 0 ? mg_zeros(nbatch + 2, shape, a->dtype)
                            : mg_empty(nbatch + 2, shape, a->dtype);
    if (!out || m * n == 0 || k == 0) return out;

    mat_layout la = {0}, lb = {0};
    mg_tensor *A = a, *B = b;
    if (a->dtype != MG_INT64) {
        A = as_blas_operand(a, &la);
        B = A ? as_blas_operand(b, &lb) : NULL;
        if (!B) {
            mg_release(A);
            mg_release(out);
            return NULL;
        }
    }
    int64_t sta[MG_MAXDIM], stb[MG_MAXDIM], idx[MG_MAXDIM] = {0};
    ba = *A;
    bb = *B;
    ba.ndim = na - 2;
    bb.ndim = nb - 2;
    mg_broadcast_strides(&ba, nbatch, shape, sta);
    mg_broadcast_strides(&bb, nbatch, shape, stb);
    int64_t batches = 1;
    for (int i = 0; i < nbatch; i++) batches *= shape[i];
    size_t es = mg_dtype_size(a->dtype);
    char *o = mg_data_ptr(out);
    for (int64_t bi = 0; bi < batches; bi++) {
        int64_t oa = 0, ob = 0;
        for (int i = 0; i < nbatch; i++) {
            oa += idx[i] * sta[i];
            ob += idx[i] * stb[i];
        }
        const char *pa = (const char *)mg_data_ptr(A) + oa * (int64_t)es;
        const char *pb = (const char *)mg_data_ptr(B) + ob * (int64_t)es;
        char *po = o + bi * m * n * (int64_t)es;
        if (a->dtype == MG_INT64)
            int_matmul(A, B, (const int64_t *)pa, (const int64_t *)pb, (int64_t *)po, m, n, k);
        else
            gemm_one(a->dtype, &la, &lb, m, n, k, pa, pb, po);
        for (int i = nbatch - 1; i >= 0; i--) {
            if (++idx[i] < shape[i]) break;
            idx[i] = 0;
        }
    }
    if (a->dtype != MG_INT64) { /* as_blas_operand returned new references */
        mg_release(A);
        mg_release(B);
    }
    return out;
}

static mg_tensor *swap_last(mg_tensor *t) { return mg_swapaxes(t, t->ndim - 2, t->ndim - 1); }

static mg_tensor *matmul2(mg_tensor *a, mg_tensor *b) {
    mg_tensor *in[2] = {a, b};
    return mg_apply(&mg_op_matmul, in, NULL);
}

/* Whether m (2-d) is the transpose of a contiguous matrix, as W.T is. */
static bool is_transposed_2d(const mg_tensor *m) {
    return m->ndim == 2 && m->stride[0] == 1 && m->stride[1] == m->shape[0];
}

static int matmul_bw(mg_node *n, mg_tensor *g, mg_tensor **gin) {
    mg_tensor *a = n->inputs[0], *b = n->inputs[1];
    if (a->requires_grad) {
        mg_tensor *bt = swap_last(b);
        gin[0] = bt ? matmul2(g, bt) : NULL;
        mg_release(bt);
        if (!gin[0]) return mg_errcode();
    }
    if (b->requires_grad && a->ndim == 2 && g->ndim == 2 && is_transposed_2d(b)) {
        /* y = x @ W.T (a Linear layer): (g.T @ x).T, so that W's gradient
         * comes out in W's own layout, not as a transposed copy */
        mg_tensor *gt = swap_last(g);
        mg_tensor *p = gt ? matmul2(gt, a) : NULL;
        gin[1] = p ? swap_last(p) : NULL;
        mg_release(gt);
        mg_release(p);
        if (!gin[1]) return mg_errcode();
    } else if (b->requires_grad) {
        mg_tensor *at = swap_last(a);
        gin[1] = at ? matmul2(at, g) : NULL;
        mg_release(at);
        if (!gin[1]) return mg_errcode();
    }
    return MG_OK;
}

const mg_opdef mg_op_matmul = {"matmul", "MatmulBackward", 2, MG_KIND_OTHER, MG_RES_SAME, {0},
    {0}, matmul_fw, matmul_bw, MG_SAVES_IN0 | MG_SAVES_IN1, NULL};

/* 1-d operands become matrices ({1, k} on the left, {k, 1} on the right)
 * and the added axis is dropped from the result, as NumPy does. */
mg_tensor *mg_matmul(mg_tensor *a, mg_tensor *b) {
    char sa[256], sb[256];
    if (!a || !b) return matmul2(a, b);
    if (a->ndim == 0 || b->ndim == 0) {
        mg_seterr(MG_ESHAPE, "matmul: 0-d tensors cannot be multiplied as matrices (use *)");
        return NULL;
    }
    int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim > 1 ? b->ndim - 2 : 0];
    if (ka != kb) {
        mg_seterr(MG_ESHAPE, "matmul: shapes %s and %s are not aligned (%lld != %lld)",
                  mg_shape_str(a->ndim, a->shape, sa, sizeof sa),
                  mg_shape_str(b->ndim, b->shape, sb, sizeof sb), (long long)ka, (long long)kb);
        return NULL;
    }
    mg_dtype dt = mg_promote(a->dtype, b->dtype);
    if (dt == MG_BOOL) dt = MG_INT64;
    mg_tensor *A = mg_astype(a, dt), *B = A ? mg_astype(b, dt) : NULL, *out = NULL;
    mg_tensor *A2 = NULL, *B2 = NULL, *r = NULL;
    if (!B) goto done;
    int64_t s2[2] = {1, ka};
    A2 = a->ndim == 1 ? mg_reshape(A, 2, s2) : mg_retain(A);
    int64_t t2[2] = {kb, 1};
    B2 = A2 ? (b->ndim == 1 ? mg_reshape(B, 2, t2) : mg_retain(B)) : NULL;
    if (!B2) goto done;
    r = matmul2(A2, B2);
    if (!r || (a->ndim > 1 && b->ndim > 1)) {
        out = r;
        goto done;
    }
    int64_t shape[MG_MAXDIM];
    int nd = 0;
    for (int i = 0; i < r->ndim; i++) {
        if (a->ndim == 1 && i == r->ndim - 2) continue;
        if (b->ndim == 1 && i == r->ndim - 1) continue;
        shape[nd++] = r->shape[i];
    }
    out = mg_reshape(r, nd, shape);
    mg_release(r);
done:
    mg_release(A);
    mg_release(B);
    mg_release(A2);
    mg_release(B2);
    return out;
}
