/* safetensors file (io/safetensors.c): header length, header JSON, tensor table; then lookups and
 * f32 conversion of every accepted tensor. */
#include <string.h>

#include "fuzz.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkt_st_file f;
    if (vkt_st_open_mem(data, size, "fuzz.safetensors", &f) != VKT_OK) return 0;
    FUZZ_CHECK(f.data_start >= 8 && f.data_start <= size);
    for (int i = 0; i < f.n_tensors; i++) {
        const vkt_st_tensor *t = &f.tensors[i];
        FUZZ_CHECK(vkt_st_find(&f, t->name) == t);
        FUZZ_CHECK(t->begin <= t->end && t->end <= size - f.data_start);
        FUZZ_CHECK((uint64_t)t->numel * vkt_st_dtype_size(t->dtype) == t->end - t->begin);
        const uint8_t *b = vkt_st_bytes(&f, t);
        uint64_t sum = 0; /* every byte of the range is readable (ASan checks the copy's bounds) */
        for (size_t k = 0; k < t->end - t->begin; k++) sum += b[k];
        FUZZ_CHECK(sum <= 255 * (uint64_t)(t->end - t->begin));
        if (t->numel <= 4096) {
            float *out = malloc((size_t)t->numel * sizeof *out + 1);
            FUZZ_CHECK(out != NULL);
            vkt_status s = vkt_st_read_f32(&f, t, out, t->numel);
            FUZZ_CHECK(s == VKT_OK || s == VKT_ERR_UNSUPPORTED);
            FUZZ_CHECK(vkt_st_read_f32(&f, t, out, t->numel + 1) == VKT_ERR_ARG);
            free(out);
        }
    }
    for (int i = 0; i < f.n_meta; i++) FUZZ_CHECK(vkt_st_meta(&f, f.meta[2 * i]) != NULL);
    FUZZ_CHECK(vkt_st_find(&f, "") == NULL || f.n_tensors > 0);
    vkt_st_close(&f);
    vkt_st_close(&f); /* documented safe twice */
    return 0;
}
