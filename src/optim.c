/* optim.c — the parameter updates of SGD, Adam/AdamW and RMSprop (PyTorch's
 * update rules) over a whole list of parameters in one call.  Each update
 * writes into the parameter's storage (the tensor stays the same leaf) and
 * into the optimizer's state tensors, with plain loops over contiguous
 * float32/float64 buffers; nothing is recorded for autograd.
 *
 * A call first checks the options and every parameter, gradient and state
 * tensor, so a bad input changes nothing (n = 0 checks the options alone);
 * then it updates the parameters one by one. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* ---- one parameter's buffers, made contiguous where needed ---------------- */
typedef struct {
    mg_tensor *p;        /* the parameter */
    mg_tensor *pwork;    /* a contiguous copy when p is not contiguous, else NULL */
    mg_tensor *gwork;    /* a converted copy of the gradient when needed, else NULL */
    void *pd;            /* the data updated in place */
    const void *gd;      /* the gradient read */
    int64_t n;
} slot;

static void slot_release(slot *s) {
    mg_release(s->pwork);
    mg_release(s->gwork);
    s->pwork = s->gwork = NULL;
}

/* Writes back a copied parameter, bumps the storage version. */
static void slot_finish(slot *s) {
    if (s->pwork) mg_copy_strided(s->p, s->pwork);
    s->p->storage->version++;
    slot_release(s);
}

static bool is_broadcast(const mg_tensor *t) {
    for (int i = 0; i < t->ndim; i++)
        if (t->stride[i] == 0 && t->shape[i] > 1) return true;
    return false;
}

static int check_param(const char *fn, int64_t i, const mg_tensor *p, const mg_tensor *g) {
    char sa[256], sb[256];
    if (!p) return mg_seterr(MG_EVALUE, "%s: parameter %lld is missing", fn, (long long)i + 1);
    if (p->dtype != MG_FLOAT32 && p->dtype != MG_FLOAT64)
        return mg_seterr(MG_EDTYPE, "%s: parameter %lld is %s; only float32 and float64 "
                         "parameters can be optimized", fn, (long long)i + 1,
                         mg_dtype_name(p->dtype));
    if (is_broadcast(p))
        return mg_seterr(MG_EVALUE, "%s: parameter %lld is a broadcast view (several elements "
                         "share memory); clone it first", fn, (long long)i + 1);
    if (g && !mg_same_shape(p, g))
        return mg_seterr(MG_ESHAPE, "%s: parameter %lld has shape %s but its gradient has "
                         "shape %s", fn, (long long)i + 1,
                         mg_shape_str(p->ndim, p->shape, sa, sizeof sa),
                         mg_shape_str(g->ndim, g->shape, sb, sizeof sb));
    return MG_OK;
}

/* A state tensor must be a contiguous buffer of the parameter's shape and
 * dtype, apart from the parameter's own memory. */
static int check_state(const char *fn, const char *what, int64_t i, const mg_tensor *p,
                       const mg_tensor *s) {
    char sa[256], sb[256];
    if (!s) return mg_seterr(MG_EVALUE, "%s: the %s of parameter %lld is missing", fn, what,
                             (long long)i + 1);
    if (!mg_same_shape(p, s) || s->dtype != p->dtype)
        return mg_seterr(MG_ESHAPE, "%s: the %s of parameter %lld is %s %s, expected %s %s", fn,
                         what, (long long)i + 1, mg_dtype_name(s->dtype),
                         mg_shape_str(s->ndim, s->shape, sa, sizeof sa), mg_dtype_name(p->dtype),
                         mg_shape_str(p->ndim, p->shape, sb, sizeof sb));
    if (!mg_is_contiguous(s))
        return mg_seterr(MG_EVALUE, "%s: the %s of parameter %lld must be contiguous", fn, what,
                         (long long)i + 1);
    return MG_OK;
}

/* The k state tensors st[] (NULL entries skipped) of parameter p with
 * gradient g must each have memory of their own: the loops write them while
 * reading the others. */
static int check_apart(const char *fn, int64_t i, const mg_tensor *p, const mg_tensor *g,
                       const mg_tensor *const *st, int k) {
    for (int a = 0; a < k; a++) {
        if (!st[a]) continue;
        bool shared = st[a]->storage == p->storage || st[a]->storage == g->storage;
        for (int b = 0; b < a; b++) shared = shared || (st[b] && st[b]->storage == st[a]->storage);
        if (shared)
            return mg_seterr(MG_EVALUE, "%s: the state tensors of parameter %lld share memory "
                             "with each other, the parameter or its gradient", fn,
                             (long long)i + 1);
    }
    return MG_OK;
}

/* The buffers of parameter p with gradient g: the data itself when
 * contiguous, copies otherwise (and a gradient of another dtype, or one that
 * shares the parameter's memory, is copied too). */
static int slot_open(slot *s, mg_tensor *p, mg_tensor *g) {
    memset(s, 0, sizeof *s);
    s->p = p;
    s->n = mg_numel(p);
    if (!mg_is_contiguous(p) && !(s->pwork = mg_copy_of(p, p->dtype))) return mg_errcode();
    if ((!mg_is_contiguous(g) || g->dtype != p->dtype || g->storage == p->storage) &&
        !(s->gwork = mg_copy_of(g, p->dtype))) {
        slot_release(s);
        return mg_errcode();
    }
    s->pd = mg_data_ptr(s->pwork ? s->pwork : p);
    s->gd = mg_data_ptr(s->gwork ? s->gwork : g);
    return MG_OK;
}

static void *sdata(mg_tensor *const *arr, int64_t i) { return arr ? mg_data_ptr(arr[i]) : NULL; }

static void bump(mg_tensor *const *arr, int64_t i) {
    if (arr) arr[i]->storage->version++;
}

static int check_lr(const char *fn, double lr, double weight_decay) {
    if (!(lr >= 0) || isinf(lr))
        return mg_seterr(MG_EVALUE, "%s: invalid learning rate %g (lr must be >= 0)", fn, lr);
    if (!(weight_decay >= 0) || isinf(weight_decay))
        return mg_seterr(MG_EVALUE, "%s: invalid weight_decay %g (must be >= 0)", fn,
                         weight_decay);
    return MG_OK;
}

/* ---- SGD -------------------------------------------------------------------- */
typedef struct {
    float lr, momentum, undamped, wd, gsign; /* undamped = 1 - dampening */
    bool nesterov, fresh;
} sgd_f32c;
typedef struct {
    double lr, momentum, undamped, wd, gsign;
    bool nesterov, fresh;
} sgd_f64c;

/* The loops take their optional state arrays with a flag that is a constant
 * at every call (the *_run functions pick the variant), so each variant is a
 * loop without branches that the compiler vectorises. */
static inline void sgd_f32(int64_t n, float *restrict p, const float *restrict g,
                           float *restrict buf, sgd_f32c c, bool has_buf) {
    for (int64_t i = 0; i < n; i++) {
        float d = c.gsign * g[i];
        d = c.wd != 0 ? d + c.wd * p[i] : d;
        if (has_buf) {
            float b = c.fresh ? d : c.momentum * buf[i] + c.undamped * d;
            buf[i] = b;
            d = c.nesterov ? d + c.momentum * b : b;
        }
        p[i] -= c.lr * d;
    }
}

static inline void sgd_f64(int64_t n, double *restrict p, const double *restrict g,
                           double *restrict buf, sgd_f64c c, bool has_buf) {
    for (int64_t i = 0; i < n; i++) {
        double d = c.gsign * g[i];
        d = c.wd != 0 ? d + c.wd * p[i] : d;
        if (has_buf) {
            double b = c.fresh ? d : c.momentum * buf[i] + c.undamped * d;
            buf[i] = b;
            d = c.nesterov ? d + c.momentum * b : b;
        }
        p[i] -= c.lr * d;
    }
}

static void sgd_f32_run(int64_t n, float *p, const float *g, float *buf, sgd_f32c c) {
    if (buf) sgd_f32(n, p, g, buf, c, true);
    else sgd_f32(n, p, g, NULL, c, false);
}

static void sgd_f64_run(int64_t n, double *p, const double *g, double *buf, sgd_f64c c) {
    if (buf) sgd_f64(n, p, g, buf, c, true);
    else sgd_f64(n, p, g, NULL, c, false);
}

static int sgd_check(int64_t n, mg_tensor *const *params, mg_tensor *const *grads,
                     mg_tensor *const *bufs, const mg_sgd_opts *o) {
    int rc = check_lr("SGD", o->lr, o->weight_decay);
    if (rc) return rc;
    if (!(o->momentum >= 0) || isinf(o->momentum))
        return mg_seterr(MG_EVALUE, "SGD: invalid momentum %g (must be >= 0)", o->momentum);
    if (!isfinite(o->dampening))
        return mg_seterr(MG_EVALUE, "SGD: invalid dampening %g", o->dampening);
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return mg_seterr(MG_EVALUE, "SGD: nesterov momentum requires a momentum > 0 and zero "
                         "dampening");
    if (n > 0 && o->momentum != 0 && !bufs)
        return mg_seterr(MG_EVALUE, "SGD: momentum %g needs momentum buffers", o->momentum);
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!grads[i]) continue;
        rc = check_param("SGD", i, params[i], grads[i]);
        if (!rc && o->momentum != 0) {
            rc = check_state("SGD", "momentum buffer", i, params[i], bufs[i]);
            const mg_tensor *st[1] = {bufs[i]};
            if (!rc) rc = check_apart("SGD", i, params[i], grads[i], st, 1);
        }
    }
    return rc;
}

int mg_sgd_step(int64_t n, mg_tensor *const *params, mg_tensor *const *grads,
                mg_tensor *const *bufs, const bool *fresh, const mg_sgd_opts *o) {
    if (n < 0 || (n > 0 && (!params || !grads)) || !o)
        return mg_seterr(MG_EVALUE, "SGD: missing parameters, gradients or options");
    int rc = sgd_check(n, params, grads, bufs, o);
    if (rc) return rc;
    if (o->momentum == 0) bufs = NULL;
    for (int64_t i = 0; i < n; i++) {
        if (!grads[i]) continue;
        slot s;
        if ((rc = slot_open(&s, params[i], grads[i]))) return rc;
        bool fr = fresh ? fresh[i] : false;
        double gs = o->maximize ? -1 : 1;
        if (params[i]->dtype == MG_FLOAT32) {
            sgd_f32c c = {(float)o->lr, (float)o->momentum, (float)(1 - o->dampening),
                          (float)o->weight_decay, (float)gs, o->nesterov, fr};
            sgd_f32_run(s.n, s.pd, s.gd, sdata(bufs, i), c);
        } else {
            sgd_f64c c = {o->lr, o->momentum, 1 - o->dampening, o->weight_decay, gs, o->nesterov, fr};
            sgd_f64_run(s.n, s.pd, s.gd, sdata(bufs, i), c);
        }
        bump(bufs, i);
        slot_finish(&s);
    }
    return MG_OK;
}

/* ---- Adam and AdamW ----------------------------------------------------------- */
typedef struct {
    float lr, beta1, beta2, cbeta1, cbeta2, eps, wd, gsign, decay, step_size, bc2_sqrt;
} adam_f32c;
typedef struct {
    double lr, beta1, beta2, cbeta1, cbeta2, eps, wd, gsign, decay, step_size, bc2_sqrt;
} adam_f64c;

/* m and v are exp_avg and exp_avg_sq; vmax is max_exp_avg_sq (amsgrad).
 * decay is AdamW's factor 1 - lr * weight_decay (1 for Adam); wd is Adam's
 * L2 term added to the gradient (0 for AdamW). */
static inline void adam_f32(int64_t n, float *restrict p, const float *restrict g,
                            float *restrict m, float *restrict v, float *restrict vmax,
                            adam_f32c c, bool amsgrad) {
    for (int64_t i = 0; i < n; i++) {
        float pi = p[i] * c.decay;
        float gi = c.gsign * g[i];
        gi = c.wd != 0 ? gi + c.wd * pi : gi;
        float mi = m[i] * c.beta1 + c.cbeta1 * gi;
        float vi = v[i] * c.beta2 + c.cbeta2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) {
            vi = vmax[i] > vi ? vmax[i] : vi;
            vmax[i] = vi;
        }
        float denom = sqrtf(vi) / c.bc2_sqrt + c.eps;
        p[i] = pi - c.step_size * (mi / denom);
    }
}

static inline void adam_f64(int64_t n, double *restrict p, const double *restrict g,
                            double *restrict m, double *restrict v, double *restrict vmax,
                            adam_f64c c, bool amsgrad) {
    for (int64_t i = 0; i < n; i++) {
        double pi = p[i] * c.decay;
        double gi = c.gsign * g[i];
        gi = c.wd != 0 ? gi + c.wd * pi : gi;
        double mi = m[i] * c.beta1 + c.cbeta1 * gi;
        double vi = v[i] * c.beta2 + c.cbeta2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) {
            vi = vmax[i] > vi ? vmax[i] : vi;
            vmax[i] = vi;
        }
        double denom = sqrt(vi) / c.bc2_sqrt + c.eps;
        p[i] = pi - c.step_size * (mi / denom);
    }
}

/* (an AVX2 clone where the CPU has it: 8 lanes instead of 4, the same
 * IEEE operations without FMA contraction, so the same bits) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
static void adam_f32_run(int64_t n, float *p, const float *g, float *m, float *v, float *vmax,
                         adam_f32c c) {
    if (vmax) adam_f32(n, p, g, m, v, vmax, c, true);
    else adam_f32(n, p, g, m, v, NULL, c, false);
}

static void adam_f64_run(int64_t n, double *p, const double *g, double *m, double *v,
                         double *vmax, adam_f64c c) {
    if (vmax) adam_f64(n, p, g, m, v, vmax, c, true);
    else adam_f64(n, p, g, m, v, NULL, c, false);
}

static int adam_check(const char *fn, int64_t n, mg_tensor *const *params,
                      mg_tensor *const *grads, mg_tensor *const *m, mg_tensor *const *v,
                      mg_tensor *const *vmax, const int64_t *steps, const mg_adam_opts *o) {
    int rc = check_lr(fn, o->lr, o->weight_decay);
    if (rc) return rc;
    if (!(o->beta1 >= 0 && o->beta1 < 1))
        return mg_seterr(MG_EVALUE, "%s: invalid beta1 %g (betas must be in [0, 1))", fn,
                         o->beta1);
    if (!(o->beta2 >= 0 && o->beta2 < 1))
        return mg_seterr(MG_EVALUE, "%s: invalid beta2 %g (betas must be in [0, 1))", fn,
                         o->beta2);
    if (!(o->eps >= 0) || isinf(o->eps))
        return mg_seterr(MG_EVALUE, "%s: invalid eps %g (must be >= 0)", fn, o->eps);
    if (n > 0 && (!m || !v || !steps || (o->amsgrad && !vmax)))
        return mg_seterr(MG_EVALUE, "%s: missing state tensors or step counts", fn);
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!grads[i]) continue;
        rc = check_param(fn, i, params[i], grads[i]);
        if (!rc) rc = check_state(fn, "exp_avg", i, params[i], m[i]);
        if (!rc) rc = check_state(fn, "exp_avg_sq", i, params[i], v[i]);
        if (!rc && o->amsgrad) rc = check_state(fn, "max_exp_avg_sq", i, params[i], vmax[i]);
        if (!rc) {
            const mg_tensor *st[3] = {m[i], v[i], o->amsgrad ? vmax[i] : NULL};
            rc = check_apart(fn, i, params[i], grads[i], st, 3);
        }
        if (!rc && steps[i] < 1)
            rc = mg_seterr(MG_EVALUE, "%s: step %lld of parameter %lld must be >= 1", fn,
                           (long long)steps[i], (long long)i + 1);
    }
    return rc;
}

int mg_adam_step(int64_t n, mg_tensor *const *params, mg_tensor *const *grads,
                 mg_tensor *const *exp_avg, mg_tensor *const *exp_avg_sq,
                 mg_tensor *const *max_exp_avg_sq, const int64_t *steps,
                 const mg_adam_opts *o) {
    const char *fn = o && o->decoupled ? "AdamW" : "Adam";
    if (n < 0 || (n > 0 && (!params || !grads)) || !o)
        return mg_seterr(MG_EVALUE, "%s: missing parameters, gradients or options", fn);
    int rc = adam_check(fn, n, params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, steps, o);
    if (rc) return rc;
    mg_tensor *const *vmax = o->amsgrad ? max_exp_avg_sq : NULL;
    for (int64_t i = 0; i < n; i++) {
        if (!grads[i]) continue;
        slot s;
        if ((rc = slot_open(&s, params[i], grads[i]))) return rc;
        double step = (double)steps[i];
        double bc1 = 1 - pow(o->beta1, step), bc2 = 1 - pow(o->beta2, step);
        adam_f64c c = {o->lr, o->beta1, o->beta2, 1 - o->beta1, 1 - o->beta2, o->eps,
                       o->decoupled ? 0 : o->weight_decay, o->maximize ? -1 : 1,
                       o->decoupled ? 1 - o->lr * o->weight_decay : 1, o->lr / bc1, sqrt(bc2)};
        if (params[i]->dtype == MG_FLOAT32) {
            adam_f32c f = {(float)c.lr, (float)c.beta1, (float)c.beta2, (float)c.cbeta1,
                           (float)c.cbeta2, (float)c.eps,
                           (float)c.wd, (float)c.gsign, (float)c.decay, (float)c.step_size,
                           (float)c.bc2_sqrt};
            adam_f32_run(s.n, s.pd, s.gd, sdata(exp_avg, i), sdata(exp_avg_sq, i), sdata(vmax, i),
                     f);
        } else {
            adam_f64_run(s.n, s.pd, s.gd, sdata(exp_avg, i), sdata(exp_avg_sq, i), sdata(vmax, i),
                     c);
        }
        bump(exp_avg, i);
        bump(exp_avg_sq, i);
        bump(vmax, i);
        slot_finish(&s);
    }
    return MG_OK;
}

/* ---- RMSprop ------------------------------------------------------------------ */
typedef struct {
    float lr, alpha, calpha, eps, wd, momentum, gsign; /* calpha = 1 - alpha */
} rms_f32c;
typedef struct {
    double lr, alpha, calpha, eps, wd, momentum, gsign;
} rms_f64c;

/* sq is square_avg; ga is grad_avg (centered); buf is the momentum buffer
 * (momentum > 0). */
static inline void rms_f32(int64_t n, float *restrict p, const float *restrict g,
                           float *restrict sq, float *restrict ga, float *restrict buf,
                           rms_f32c c, bool centered, bool has_buf) {
    for (int64_t i = 0; i < n; i++) {
        float gi = c.gsign * g[i];
        gi = c.wd != 0 ? gi + c.wd * p[i] : gi;
        float si = sq[i] * c.alpha + c.calpha * gi * gi;
        sq[i] = si;
        if (centered) {
            float ai = ga[i] * c.alpha + c.calpha * gi;
            ga[i] = ai;
            si -= ai * ai;
        }
        float u = gi / (sqrtf(si) + c.eps);
        if (has_buf) {
            u += buf[i] * c.momentum;
            buf[i] = u;
        }
        p[i] -= c.lr * u;
    }
}

static inline void rms_f64(int64_t n, double *restrict p, const double *restrict g,
                           double *restrict sq, double *restrict ga, double *restrict buf,
                           rms_f64c c, bool centered, bool has_buf) {
    for (int64_t i = 0; i < n; i++) {
        double gi = c.gsign * g[i];
        gi = c.wd != 0 ? gi + c.wd * p[i] : gi;
        double si = sq[i] * c.alpha + c.calpha * gi * gi;
        sq[i] = si;
        if (centered) {
            double ai = ga[i] * c.alpha + c.calpha * gi;
            ga[i] = ai;
            si -= ai * ai;
        }
        double u = gi / (sqrt(si) + c.eps);
        if (has_buf) {
            u += buf[i] * c.momentum;
            buf[i] = u;
        }
        p[i] -= c.lr * u;
    }
}

static void rms_f32_run(int64_t n, float *p, const float *g, float *sq, float *ga, float *buf,
                        rms_f32c c) {
    if (ga && buf) rms_f32(n, p, g, sq, ga, buf, c, true, true);
    else if (ga) rms_f32(n, p, g, sq, ga, NULL, c, true, false);
    else if (buf) rms_f32(n, p, g, sq, NULL, buf, c, false, true);
    else rms_f32(n, p, g, sq, NULL, NULL, c, false, false);
}

static void rms_f64_run(int64_t n, double *p, const double *g, double *sq, double *ga,
                        double *buf, rms_f64c c) {
    if (ga && buf) rms_f64(n, p, g, sq, ga, buf, c, true, true);
    else if (ga) rms_f64(n, p, g, sq, ga, NULL, c, true, false);
    else if (buf) rms_f64(n, p, g, sq, NULL, buf, c, false, true);
    else rms_f64(n, p, g, sq, NULL, NULL, c, false, false);
}

static int rms_check(int64_t n, mg_tensor *const *params, mg_tensor *const *grads,
                     mg_tensor *const *sq, mg_tensor *const *ga, mg_tensor *const *buf,
                     const mg_rmsprop_opts *o) {
    int rc = check_lr("RMSprop", o->lr, o->weight_decay);
    if (rc) return rc;
    if (!(o->alpha >= 0) || isinf(o->alpha))
        return mg_seterr(MG_EVALUE, "RMSprop: invalid alpha %g (must be >= 0)", o->alpha);
    if (!(o->eps >= 0) || isinf(o->eps))
        return mg_seterr(MG_EVALUE, "RMSprop: invalid eps %g (must be >= 0)", o->eps);
    if (!(o->momentum >= 0) || isinf(o->momentum))
        return mg_seterr(MG_EVALUE, "RMSprop: invalid momentum %g (must be >= 0)", o->momentum);
    if (n > 0 && (!sq || (o->centered && !ga) || (o->momentum > 0 && !buf)))
        return mg_seterr(MG_EVALUE, "RMSprop: missing state tensors");
    for (int64_t i = 0; i < n && !rc; i++) {
        if (!grads[i]) continue;
        rc = check_param("RMSprop", i, params[i], grads[i]);
        if (!rc) rc = check_state("RMSprop", "square_avg", i, params[i], sq[i]);
        if (!rc && o->centered) rc = check_state("RMSprop", "grad_avg", i, params[i], ga[i]);
        if (!rc && o->momentum > 0)
            rc = check_state("RMSprop", "momentum buffer", i, params[i], buf[i]);
        if (!rc) {
            const mg_tensor *st[3] = {sq[i], o->centered ? ga[i] : NULL,
                                      o->momentum > 0 ? buf[i] : NULL};
            rc = check_apart("RMSprop", i, params[i], grads[i], st, 3);
        }
    }
    return rc;
}

int mg_rmsprop_step(int64_t n, mg_tensor *const *params, mg_tensor *const *grads,
                    mg_tensor *const *square_avg, mg_tensor *const *grad_avg,
                    mg_tensor *const *momentum_buffer, const mg_rmsprop_opts *o) {
    if (n < 0 || (n > 0 && (!params || !grads)) || !o)
        return mg_seterr(MG_EVALUE, "RMSprop: missing parameters, gradients or options");
    int rc = rms_check(n, params, grads, square_avg, grad_avg, momentum_buffer, o);
    if (rc) return rc;
    mg_tensor *const *ga = o->centered ? grad_avg : NULL;
    mg_tensor *const *buf = o->momentum > 0 ? momentum_buffer : NULL;
    for (int64_t i = 0; i < n; i++) {
        if (!grads[i]) continue;
        slot s;
        if ((rc = slot_open(&s, params[i], grads[i]))) return rc;
        double gs = o->maximize ? -1 : 1;
        if (params[i]->dtype == MG_FLOAT32) {
            rms_f32c c = {(float)o->lr, (float)o->alpha, (float)(1 - o->alpha), (float)o->eps, (float)o->weight_decay,
                          (float)o->momentum, (float)gs};
            rms_f32_run(s.n, s.pd, s.gd, sdata(square_avg, i), sdata(ga, i), sdata(buf, i), c);
        } else {
            rms_f64c c = {o->lr, o->alpha, 1 - o->alpha, o->eps, o->weight_decay, o->momentum, gs};
            rms_f64_run(s.n, s.pd, s.gd, sdata(square_avg, i), sdata(ga, i), sdata(buf, i), c);
        }
        bump(square_avg, i);
        bump(ga, i);
        bump(buf, i);
        slot_finish(&s);
    }
    return MG_OK;
}
