/* fuzz_idx.c — libFuzzer harness for the IDX reader (mg_read_idx_buffer,
 * plain and gzip-compressed input): any input must give a tensor of the
 * header's shape or an error, never a crash, an out-of-bounds access, a
 * leak or a huge allocation driven by a lying header.  Built and run by
 * fuzz/run.sh. */
#include <stdint.h>
#include <string.h>

#include "moongrad.h"

static mg_tensor *read_buf(const uint8_t *data, size_t size, mg_dtype want) {
    mg_seterr(MG_OK, "%s", "");
    return mg_read_idx_buffer(data, size, want, "fuzz");
}

static void check(mg_tensor *t) {
    if (!t) {
        if (mg_errmsg()[0] == '\0') __builtin_trap();
        return;
    }
    const unsigned char *p = mg_data_ptr(t);
    size_t nb = (size_t)mg_numel(t) * mg_dtype_size(t->dtype);
    unsigned acc = 0;
    for (size_t k = 0; k < nb; k++) acc += p[k];
    (void)acc;
    mg_release(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mg_tensor *t = read_buf(data, size, MG_NDTYPES);
    bool ok = t != NULL;
    check(t);
    if (ok) {
        /* the same input converted (bool fails for float data) */
        check(read_buf(data, size, MG_FLOAT32));
        check(read_buf(data, size, MG_BOOL));
    }
    return 0;
}
