/* grad_util.c — small helpers that backward functions and composite ops
 * share: "is input i a variable", a 0-d scalar typed like a tensor, and
 * take1/2/3, which apply an op and release their arguments so a chain of
 * temporaries reads as one expression (a NULL argument, from an earlier
 * failure, gives NULL and keeps the first error message). */
#include "internal.h"

bool mg_wants(const mg_node *n, int i) { return n->inputs[i]->requires_grad; }

mg_tensor *mg_scal(double v, const mg_tensor *like) { return mg_scalar(v, like->dtype); }

mg_tensor *mg_take1(mg_tensor *(*op)(mg_tensor *), mg_tensor *a) {
    mg_tensor *r = a ? op(a) : NULL;
    mg_release(a);
    return r;
}

mg_tensor *mg_take2(mg_tensor *(*op)(mg_tensor *, mg_tensor *), mg_tensor *a, mg_tensor *b) {
    mg_tensor *r = a && b ? op(a, b) : NULL;
    mg_release(a);
    mg_release(b);
    return r;
}

mg_tensor *mg_take3(mg_tensor *(*op)(mg_tensor *, mg_tensor *, mg_tensor *), mg_tensor *a,
                    mg_tensor *b, mg_tensor *c) {
    mg_tensor *r = a && b && c ? op(a, b, c) : NULL;
    mg_release(a);
    mg_release(b);
    mg_release(c);
    return r;
}
