/* Evaluation with a logits dump (see eval_dump.h). */
#include "train/eval_dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/safetensors.h"
#include "ops/xent.h"

vkt_status vkt_eval_dump(vkt_model *m, vkt_rec *r, vkt_batch_fn fill, void *ctx, int64_t n, const char *path,
                         const char *model, const char *data, double *loss) {
    int64_t B = m->B, T = m->T, V = m->cfg.vocab_size, BT = B * T;
    if (m->logits.dtype != VKT_DTYPE_F32 || m->logits.shape[0] * m->logits.shape[1] != BT * V) {
        vkt_log_error("eval dump: the model's logits are not an f32 (B T, V) tensor");
        return VKT_ERR_UNSUPPORTED;
    }
    size_t logit_bytes = (size_t)(n * BT * V) * sizeof(float);
    float *logits = malloc(logit_bytes ? logit_bytes : 1);
    int32_t *inputs = malloc((size_t)(n * BT) * sizeof *inputs + 1), *targets = malloc((size_t)(n * BT) * sizeof *targets + 1);
    if (!logits || !inputs || !targets) {
        vkt_log_error("%s: %.3f GiB of logits (%lld batches of %lld x %lld x %lld) do not fit in host memory; dump "
                      "fewer batches (--batches)", path, (double)logit_bytes / (1 << 30), (long long)n, (long long)B,
                      (long long)T, (long long)V);
        free(logits), free(inputs), free(targets);
        return VKT_ERR_OOM;
    }
    vkt_model_use_slot(m, 0);
    vkt_status s = vkt_rec_begin(r);
    if (s == VKT_OK) s = vkt_model_record_forward(m, r, VKT_FWD_LOSS);
    if (s == VKT_OK) s = vkt_rec_end(r);
    double sum = 0, tokens = 0;
    for (int64_t i = 0; i < n && s == VKT_OK; i++) {
        s = vkt_step_fill_batch(m, 0, fill, ctx);
        if (s == VKT_OK) s = vkt_rec_submit_wait(r);
        if (s != VKT_OK) break;
        const vkt_xent_stats *st = (const vkt_xent_stats *)vkt_model_slot_stats(m, 0);
        sum += st->loss_sum, tokens += st->n_valid;
        memcpy(inputs + i * BT, vkt_model_slot_tokens(m, 0), (size_t)BT * sizeof *inputs);
        memcpy(targets + i * BT, vkt_model_slot_targets(m, 0), (size_t)BT * sizeof *targets);
        s = vkt_tensor_download(m->dev, &m->logits, logits + i * BT * V, (size_t)(BT * V) * sizeof(float));
    }
    *loss = tokens > 0 ? sum / tokens : 0;
    char loss_s[64];
    snprintf(loss_s, sizeof loss_s, "%.17g", *loss);
    const char *meta[] = {"format", "pt", "loss", loss_s, "model", model ? model : "", "data", data ? data : ""};
    vkt_st_write_tensor ts[3] = {
        {.name = "logits", .dtype = VKT_ST_F32, .ndim = 3, .shape = {n * B, T, V}, .data = logits},
        {.name = "input_ids", .dtype = VKT_ST_I32, .ndim = 2, .shape = {n * B, T}, .data = inputs},
        {.name = "targets", .dtype = VKT_ST_I32, .ndim = 2, .shape = {n * B, T}, .data = targets},
    };
    if (s == VKT_OK) s = vkt_st_write(path, ts, 3, meta, 4);
    free(logits), free(inputs), free(targets);
    return s;
}
