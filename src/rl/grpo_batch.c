/* GRPO batches (see grpo_batch.h). */
#include "rl/grpo_batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ref/ref_grpo.h"
#include "sft/sft_pack.h"

vkt_status vkt_grpo_score(vkt_reward *reward, const vkt_rollout_set *set, const char *const *answers,
                          const float *given, float *rewards, float *terms) {
    const int nt = vkt_reward_n_terms(reward);
    for (int64_t i = 0; i < vkt_rollout_set_size(set); i++) {
        const vkt_completion *c = &set->c[i];
        const char *answer = answers ? answers[c->prompt] : NULL;
        VKT_TRY(vkt_reward_score_given(reward, c->text, strlen(c->text), answer, given ? given + i * nt : NULL,
                                       terms ? terms + i * nt : NULL, &rewards[i]));
    }
    return VKT_OK;
}

void vkt_grpo_group_advantages(const float *rewards, int64_t n, int64_t G, vkt_grpo_scale scale, float *advantages,
                               float stats[3]) {
    VKT_ASSERT(G >= 1 && n % G == 0);
    double *r = malloc((size_t)(2 * n + 1) * sizeof *r), st[3] = {0};
    VKT_ASSERT(r);
    for (int64_t i = 0; i < n; i++) r[i] = rewards[i];
    vkt_ref_grpo_params p = {.group_size = G, .scale = (int)scale};
    if (n > 0) vkt_ref_grpo_advantages(&p, r, n, r + n, st);
    for (int64_t i = 0; i < n; i++) advantages[i] = (float)r[n + i];
    if (stats) stats[0] = (float)st[0], stats[1] = (float)st[1], stats[2] = (float)st[2];
    free(r);
}

/* Writes one sequence (prompt + completion) at row b, positions [t0, t0 + n - 1), as sequence s. */
static int64_t place(const vkt_grpo_batch_opts *o, vkt_grpo_batch *b, const vkt_tok_ids *prompt,
                     const vkt_completion *c, int64_t row, int64_t t0, int32_t s) {
    const int64_t np = (int64_t)prompt->len, n = np + c->n;
    int64_t targets = 0;
    for (int64_t j = 0; j + 1 < n; j++) {
        int64_t at = row * o->T + t0 + j;
        b->tokens[at] = j < np ? prompt->data[j] : c->ids[j - np];
        bool completion = j + 1 >= np;
        b->targets[at] = completion ? c->ids[j + 1 - np] : VKT_SFT_IGNORE;
        b->seq_id[at] = completion ? s : -1;
        b->seg_start[at] = (int32_t)t0;
        targets += completion;
    }
    return targets;
}

vkt_status vkt_grpo_batch_fill(const vkt_rollout_set *set, const float *rewards, const float *advantages, int64_t first,
                               const vkt_grpo_batch_opts *o, vkt_grpo_batch *b, int64_t *next) {
    const int64_t total = vkt_rollout_set_size(set), B = o->B, T = o->T;
    const int64_t max_seqs = o->max_seqs > 0 ? o->max_seqs : B * T;
    if (B < 1 || T < 1 || o->max_seqs < 0 || first < 0 || first >= total) {
        vkt_log_error("grpo batch: bad request (B %lld, T %lld, max_seqs %lld, first %lld of %lld completions)",
                      (long long)B, (long long)T, (long long)o->max_seqs, (long long)first, (long long)total);
        return VKT_ERR_ARG;
    }
    int64_t *used = calloc((size_t)B, sizeof *used); /* positions taken per row */
    if (!used) return VKT_ERR_OOM;
    b->n_seqs = 0, b->n_targets = 0;
    int64_t i = first;
    vkt_status st = VKT_OK;
    for (; i < total && b->n_seqs < max_seqs; i++) {
        const vkt_completion *c = &set->c[i];
        const vkt_tok_ids *prompt = &set->prompt_ids[c->prompt];
        int64_t len = (int64_t)prompt->len + c->n - 1;
        if (len > T) {
            vkt_log_error("grpo batch: completion %lld (prompt %lld) needs %lld positions, rows hold %lld; the "
                          "rollout context must not exceed T + 1", (long long)i, (long long)c->prompt,
                          (long long)len, (long long)T);
            st = VKT_ERR_ARG;
            break;
        }
        int64_t row = -1;
        for (int64_t r = 0; r < B && row < 0; r++)
            if (o->pack ? used[r] + len <= T : used[r] == 0) row = r;
        if (row < 0) break;
        int32_t s = b->n_seqs++;
        b->n_targets += place(o, b, prompt, c, row, used[row], s);
        used[row] += len;
        b->completion[s] = i, b->group[s] = (int32_t)c->prompt;
        b->rewards[s] = rewards[i], b->advantages[s] = advantages[i];
    }
    for (int64_t r = 0; st == VKT_OK && r < B; r++)
        for (int64_t t = used[r]; t < T; t++) {
            int64_t at = r * T + t;
            b->tokens[at] = o->pad_id, b->targets[at] = VKT_SFT_IGNORE, b->seq_id[at] = -1;
            b->seg_start[at] = (int32_t)used[r];
        }
    for (int64_t s = b->n_seqs; st == VKT_OK && s < max_seqs; s++)
        b->completion[s] = -1, b->group[s] = -1, b->rewards[s] = 0, b->advantages[s] = 0;
    free(used);
    *next = i;
    return st;
}
