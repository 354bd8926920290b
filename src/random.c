/* random.c — moongrad's random numbers: the global generator (mg_seed,
 * mg_random_u64) and the random tensor makers mg_rand, mg_randn, mg_randint.
 *
 * moongrad's generator: xoshiro256** (Blackman & Vigna), its 4-word state
 * filled from splitmix64(seed); default seed 0x5eed (fixed, like Torch's
 * default generator, so runs are reproducible).  There is one global
 * generator; it is not thread-safe.
 *
 *   uniform float64: (u64 >> 11) * 2^-53  -> [0, 1), 53 random bits
 *   uniform float32: (u64 >> 40) * 2^-24  -> [0, 1), 24 random bits
 *   normal:          Marsaglia's polar method in double, both values of each
 *                    pair used, then cast to the dtype
 *   integers:        unbiased by rejection (threshold = 2^64 mod range)
 */
#include <math.h>

#include "moongrad.h"

#define MG_DEFAULT_SEED 0x5eedu

static uint64_t rng_state[4];
static bool rng_seeded = false;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void mg_seed(uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng_state[i] = splitmix64(&x);
    rng_seeded = true;
}

uint64_t mg_random_u64(void)
{
    uint64_t *s = rng_state;
    if (!rng_seeded)
        mg_seed(MG_DEFAULT_SEED);
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double uniform64(void)
{
    return (double)(mg_random_u64() >> 11) * 0x1.0p-53;
}

static float uniform32(void)
{
    return (float)(mg_random_u64() >> 40) * 0x1.0p-24f;
}

/* A value in [0, range), range >= 1, without modulo bias. */
static uint64_t uniform_below(uint64_t range)
{
    uint64_t threshold = (0 - range) % range; /* 2^64 mod range */
    for (;;) {
        uint64_t r = mg_random_u64();
        if (r >= threshold)
            return r % range;
    }
}

/* Two independent N(0, 1) values (Marsaglia's polar method). */
static void normal_pair(double *a, double *b)
{
    double u, v, s;
    do {
        u = 2.0 * uniform64() - 1.0;
        v = 2.0 * uniform64() - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    *a = u * m;
    *b = v * m;
}

static bool check_float(const char *op, mg_dtype dt)
{
    if (mg_dtype_is_float(dt))
        return true;
    mg_seterr(MG_EDTYPE, "%s: dtype %s is not a float dtype", op, mg_dtype_name(dt));
    return false;
}

mg_tensor *mg_rand(int ndim, const int64_t *shape, mg_dtype dt)
{
    if (!check_float("rand", dt))
        return NULL;
    mg_tensor *t = mg_empty(ndim, shape, dt);
    if (t == NULL)
        return NULL;
    int64_t n = mg_numel(t);
    if (dt == MG_FLOAT32) {
        float *p = mg_data_ptr(t);
        for (int64_t i = 0; i < n; i++)
            p[i] = uniform32();
    } else {
        double *p = mg_data_ptr(t);
        for (int64_t i = 0; i < n; i++)
            p[i] = uniform64();
    }
    return t;
}

mg_tensor *mg_randn(int ndim, const int64_t *shape, mg_dtype dt)
{
    if (!check_float("randn", dt))
        return NULL;
    mg_tensor *t = mg_empty(ndim, shape, dt);
    if (t == NULL)
        return NULL;
    int64_t n = mg_numel(t);
    float *pf = dt == MG_FLOAT32 ? mg_data_ptr(t) : NULL;
    double *pd = dt == MG_FLOAT32 ? NULL : mg_data_ptr(t);
    for (int64_t i = 0; i < n; i += 2) {
        double a, b;
        normal_pair(&a, &b);
        if (pf != NULL) {
            pf[i] = (float)a;
            if (i + 1 < n)
                pf[i + 1] = (float)b;
        } else {
            pd[i] = a;
            if (i + 1 < n)
                pd[i + 1] = b;
        }
    }
    return t;
}

mg_tensor *mg_randint(int64_t lo, int64_t hi, int ndim, const int64_t *shape)
{
    if (hi <= lo) {
        mg_seterr(MG_EVALUE, "randint: high (%lld) must be greater than low (%lld)",
                  (long long)hi, (long long)lo);
        return NULL;
    }
    mg_tensor *t = mg_empty(ndim, shape, MG_INT64);
    if (t == NULL)
        return NULL;
    /* hi - lo computed in unsigned arithmetic: exact even past INT64_MAX. */
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    int64_t n = mg_numel(t);
    int64_t *p = mg_data_ptr(t);
    for (int64_t i = 0; i < n; i++)
        p[i] = (int64_t)((uint64_t)lo + uniform_below(range));
    return t;
}
