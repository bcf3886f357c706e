/* The tests' own host merge of a LoRA adapter, independent of the library's merge: the base parameters
 * (table layout, f32) in double, plus scale * B A for every adapted module. Caller frees. */
#ifndef VKT_LORA_TESTUTIL_H
#define VKT_LORA_TESTUTIL_H

#include <stdlib.h>

#include "finetune/lora.h"
#include "harness.h"

static inline double *lora_test_merge(vkt_test *t, const vkt_model *m, const vkt_lora *l, const float *base) {
    float *ad = malloc((size_t)l->table.total * sizeof *ad);
    VKT_TEST_TRY(t, vkt_lora_download((vkt_lora *)l, ad));
    double *merged = vkt_test_to_double(base, (size_t)m->table.total);
    const int64_t r = l->cfg.r;
    for (int i = 0; i < l->n_mods; i++) {
        const vkt_lora_module *md = &l->mods[i];
        const float *a = ad + l->table.p[md->a].offset, *b = ad + l->table.p[md->b].offset;
        double *w = merged + vkt_params_get(&m->table, md->layer, md->role)->offset;
        for (int64_t o = 0; o < md->out; o++)
            for (int64_t c = 0; c < md->in; c++)
                for (int64_t k = 0; k < r; k++) w[o * md->in + c] += (double)l->scale * b[o * r + k] * a[k * md->in + c];
    }
    free(ad);
    return merged;
}

#endif
