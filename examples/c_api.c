/* examples/c_api.c — moongrad from C alone: build a tiny graph, run
 * backward, read the gradient, and report an error the library's way.
 * Built and run by `make test` (target c-example). */
#include <stdio.h>

#include "moongrad.h"

int main(void) {
    mg_tensor *x = mg_arange(1, 4, 1, MG_FLOAT64); /* [1, 2, 3] */
    x->requires_grad = true;
    mg_tensor *sq = mg_mul(x, x);
    mg_tensor *y = mg_sum(sq, MG_ALLAXES, false); /* y = sum(x²) */
    if (!y || mg_backward(y, NULL, NULL)) {
        fprintf(stderr, "error: %s\n", mg_errmsg());
        return 1;
    }
    for (int64_t i = 0; i < 3; i++) printf("dy/dx[%lld] = %g\n", (long long)i, mg_get_flat(x->grad, i));

    mg_tensor *bad = mg_zeros(1, (int64_t[]){5}, MG_FLOAT32);
    mg_tensor *m = mg_zeros(2, (int64_t[]){3, 4}, MG_FLOAT32);
    mg_tensor *r = mg_add(bad, m); /* NULL: shapes do not broadcast */
    printf("expected error: %s\n", r ? "(none)" : mg_errmsg());

    mg_release(r);
    mg_release(m);
    mg_release(bad);
    mg_release(y);
    mg_release(sq);
    mg_release(x);
    return 0;
}
