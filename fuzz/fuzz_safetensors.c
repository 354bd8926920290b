/* fuzz_safetensors.c — libFuzzer harness for the safetensors loader
 * (mg_load_safetensors_buffer): any input must load or fail with an error,
 * never crash, read out of bounds, leak or allocate beyond what the input
 * justifies.  Built and run by fuzz/run.sh. */
#include <stdint.h>
#include <string.h>

#include "moongrad.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mg_seterr(MG_OK, "%s", "");
    mg_named_tensors *set = mg_load_safetensors_buffer(data, size, "fuzz");
    if (!set) {
        /* a failure must come with a message */
        if (mg_errmsg()[0] == '\0') __builtin_trap();
        return 0;
    }
    /* touch every loaded element so a bad size would show under ASan */
    for (int64_t i = 0; i < set->n; i++) {
        mg_tensor *t = set->tensors[i];
        if (!t || !set->names[i] || (mg_numel(t) > 0 && !mg_is_contiguous(t))) __builtin_trap();
        const unsigned char *p = mg_data_ptr(t);
        size_t nb = (size_t)mg_numel(t) * mg_dtype_size(t->dtype);
        unsigned acc = 0;
        for (size_t k = 0; k < nb; k++) acc += p[k];
        if (t->dtype == MG_BOOL)
            for (size_t k = 0; k < nb; k++)
                if (p[k] > 1) __builtin_trap();
        (void)acc;
    }
    mg_named_tensors_free(set);
    return 0;
}
