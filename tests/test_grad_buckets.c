/* The plan of the data-parallel gradient buckets (dist/grad_buckets.h), host only, on the parameter tables of
 * GPT-2 small (tied LM head), a Llama shape with an untied head, and a table out of layer order:
 *   - the buckets tile [0, total) top down with no gap or overlap, and no tensor straddles two of them;
 *   - each bucket closes at a point where the backward has completed every tensor in it: after block l only
 *     blocks >= l and the tensors after the blocks (final norm, untied LM head); the embeddings (and a tied
 *     head) only in the last bucket, after the whole backward;
 *   - every bucket but the last reaches the size target, and a bucket of whole layers closes as soon as it
 *     does (a tiny target: one bucket per block, the first holding the tail with block L-1);
 *   - a target of 0 (or a table whose tensors are not in layer order) gives one bucket after the backward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/grad_buckets.h"
#include "model/model_config.h"
#include "model/params.h"

static int g_failures;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "FAIL grad_buckets: " __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                                       \
            g_failures++;                                                                                              \
        }                                                                                                              \
    } while (0)

#define CAP 4096

static int64_t blocks_end(const vkt_param_table *t) {
    int64_t end = -1;
    for (int i = 0; i < t->n; i++)
        if (t->p[i].layer >= 0 && t->p[i].offset + t->p[i].numel > end) end = t->p[i].offset + t->p[i].numel;
    return end;
}

/* Plans t with cap_mb and checks the invariants; returns the bucket count. */
static int check_plan(const char *what, const vkt_param_table *t, double cap_mb, int64_t *lo, int64_t *hi,
                      int *layer) {
    int n = vkt_grad_buckets_plan(t, t->n_layer, cap_mb, lo, hi, layer, CAP);
    CHECK(n >= 1, "%s: %d buckets", what, n);
    if (n < 1) return n;
    CHECK(hi[0] == t->total && lo[n - 1] == 0 && layer[n - 1] == -1,
          "%s: the buckets must run from the top (%lld) to 0, the last one after the backward", what,
          (long long)t->total);
    int64_t cap = (int64_t)(cap_mb * (1 << 20) / 4), tail = blocks_end(t);
    for (int b = 0; b < n; b++) {
        CHECK(lo[b] < hi[b] && (b == 0 || hi[b] == lo[b - 1]), "%s: bucket %d [%lld, %lld) does not follow on", what,
              b, (long long)lo[b], (long long)hi[b]);
        CHECK(b == n - 1 || layer[b] >= 0, "%s: bucket %d closes after the backward but is not the last", what, b);
        CHECK(b == n - 1 || hi[b] - lo[b] >= cap, "%s: bucket %d has %lld elements, under the target %lld", what, b,
              (long long)(hi[b] - lo[b]), (long long)cap);
        for (int i = 0; i < t->n; i++) {
            const vkt_param *e = &t->p[i];
            int64_t a = e->offset, z = e->offset + e->numel;
            if (z <= lo[b] || a >= hi[b]) continue;
            CHECK(a >= lo[b] && z <= hi[b], "%s: %s straddles bucket %d's edge", what, e->name, b);
            bool done = layer[b] < 0 || e->layer >= layer[b] || (e->layer < 0 && a >= tail);
            CHECK(done, "%s: %s (layer %d) is in bucket %d, which closes after block %d, before its gradient is complete",
                  what, e->name, e->layer, b, layer[b]);
        }
    }
    return n;
}

static void check_table(const char *what, const vkt_model_config *c) {
    vkt_param_table t;
    if (vkt_params_build(c, 64, &t) != VKT_OK) {
        CHECK(0, "%s: no table", what);
        return;
    }
    int64_t *lo = malloc(2 * CAP * sizeof *lo), *hi = lo + CAP;
    int *layer = malloc(CAP * sizeof *layer);
    int L = t.n_layer;

    int n = check_plan(what, &t, 1e-4, lo, hi, layer); /* tiny target: one bucket per block, then the end */
    CHECK(n == L + 1, "%s, tiny target: %d buckets, want %d (one per block and the embeddings)", what, n, L + 1);
    for (int b = 0; b < n - 1 && n == L + 1; b++) {
        const vkt_param *first = vkt_params_get(&t, L - 1 - b, VKT_ROLE_NORM1_W); /* each block's first tensor */
        CHECK(layer[b] == L - 1 - b && lo[b] == first->offset, "%s, tiny target: bucket %d is [%lld, %lld) after "
              "block %d, want from %lld (block %d's first tensor) after block %d", what, b, (long long)lo[b],
              (long long)hi[b], layer[b], (long long)first->offset, L - 1 - b, L - 1 - b);
    }
    const vkt_param *wte = vkt_params_get(&t, -1, VKT_ROLE_WTE);
    CHECK(wte->offset >= lo[n - 1] && wte->offset < hi[n - 1], "%s: the embeddings must be in the last bucket", what);

    n = check_plan(what, &t, 0, lo, hi, layer);
    CHECK(n == 1, "%s, target 0: %d buckets, want one after the backward", what, n);
    n = check_plan(what, &t, 25, lo, hi, layer);
    printf("  %s: %lld elements, %d layers; buckets for a 25 MiB target: %d\n", what, (long long)t.total, L, n);

    CHECK(vkt_grad_buckets_plan(&t, L, 1e-4, lo, hi, layer, 2) == -1, "%s: 2 slots must be too few", what);

    /* Out of layer order: swap where blocks 0 and 1 live; completed tensors no longer form a suffix. */
    if (L >= 2) {
        int64_t off0 = vkt_params_get(&t, 0, VKT_ROLE_NORM1_W)->offset;
        int64_t off1 = vkt_params_get(&t, 1, VKT_ROLE_NORM1_W)->offset, span = off1 - off0;
        for (int i = 0; i < t.n; i++)
            if (t.p[i].layer == 0) t.p[i].offset += span;
            else if (t.p[i].layer == 1) t.p[i].offset -= span;
        n = vkt_grad_buckets_plan(&t, L, 1e-4, lo, hi, layer, CAP);
        CHECK(n == 1 && layer[0] == -1 && lo[0] == 0 && hi[0] == t.total,
              "%s, blocks 0 and 1 swapped: %d buckets, want one after the backward", what, n);
    }
    free(lo), free(layer);
    vkt_params_free(&t);
}

int main(void) {
    vkt_model_config gpt2 = *vkt_model_preset("gpt2"), llama = *vkt_model_preset("llama-tiny");
    llama.tie_word_embeddings = false;
    check_table("gpt2 small (tied head)", &gpt2);
    check_table("llama-tiny (untied head)", &llama);
    if (g_failures) {
        fprintf(stderr, "grad_buckets: %d failure(s)\n", g_failures);
        return 1;
    }
    printf("grad_buckets: all passed\n");
    return 0;
}
