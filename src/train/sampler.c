/* Token sampling (see sampler.h). Top-k and top-p need the tokens ordered by probability: a full sort
 * of V entries per token is fine at V = 50k on the host next to a forward pass. */
#include "train/sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/log.h"

vkt_status vkt_sampler_init(vkt_sampler *s, int64_t vocab, vkt_sampler_opts opts, uint64_t seed) {
    s->opts = opts;
    s->vocab = vocab;
    vkt_rng_init(&s->rng, seed);
    s->probs = malloc((size_t)vocab * sizeof *s->probs);
    s->order = malloc((size_t)vocab * sizeof *s->order);
    if (!s->probs || !s->order) {
        vkt_sampler_free(s);
        return VKT_ERR_OOM;
    }
    return VKT_OK;
}

void vkt_sampler_free(vkt_sampler *s) {
    free(s->probs);
    free(s->order);
    s->probs = NULL, s->order = NULL;
}

static const float *g_sort_probs; /* qsort has no context argument in C11 */

static int by_prob_desc(const void *a, const void *b) {
    float pa = g_sort_probs[*(const int32_t *)a], pb = g_sort_probs[*(const int32_t *)b];
    if (pa != pb) return pa < pb ? 1 : -1;
    return *(const int32_t *)a - *(const int32_t *)b; /* ties: lower id first, deterministic */
}

int32_t vkt_sampler_next(vkt_sampler *s, const float *logits) {
    int64_t V = s->vocab, best = 0;
    for (int64_t i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (s->opts.temperature <= 0) return (int32_t)best;

    double sum = 0, inv_t = 1.0 / s->opts.temperature;
    for (int64_t i = 0; i < V; i++) {
        s->probs[i] = (float)exp((logits[i] - logits[best]) * inv_t);
        sum += s->probs[i];
    }
    for (int64_t i = 0; i < V; i++) s->probs[i] = (float)(s->probs[i] / sum), s->order[i] = (int32_t)i;

    int64_t keep = V;
    bool filter = (s->opts.top_k > 0 && s->opts.top_k < V) || s->opts.top_p < 1.0;
    if (filter) {
        g_sort_probs = s->probs;
        qsort(s->order, (size_t)V, sizeof *s->order, by_prob_desc);
        if (s->opts.top_k > 0 && s->opts.top_k < keep) keep = s->opts.top_k;
        if (s->opts.top_p < 1.0) {
            double cum = 0;
            for (int64_t i = 0; i < keep; i++) {
                cum += s->probs[s->order[i]];
                if (cum >= s->opts.top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
    }
    double mass = 0;
    for (int64_t i = 0; i < keep; i++) mass += s->probs[s->order[i]];
    double u = vkt_rng_uniform(&s->rng) * mass, cum = 0;
    for (int64_t i = 0; i < keep; i++) {
        cum += s->probs[s->order[i]];
        if (u < cum) return s->order[i];
    }
    return s->order[keep - 1];
}
