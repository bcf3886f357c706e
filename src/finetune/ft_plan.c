/* Fine-tuning memory plan (see ft_plan.h). */
#include "finetune/ft_plan.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "finetune/finetune.h"
#include "finetune/lora.h"

static double mib(size_t b) { return (double)b / (1 << 20); }

vkt_status vkt_ft_plan_make(vkt_device *dev, const vkt_run_config *cfg, const vkt_model_config *mc,
                            vkt_qformat base_format, vkt_ft_plan *out) {
    memset(out, 0, sizeof *out);
    out->base_format = base_format;
    out->lora = strcmp(cfg->ft_method, "full") != 0;
    int64_t B = cfg->batch_size, T = cfg->seq_len;
    out->precision = vkt_run_config_precision(cfg);
    vkt_model_opts mo = {.mode = out->lora ? VKT_MODEL_FROZEN : VKT_MODEL_TRAIN, .recompute = cfg->recompute,
                         .base_format = base_format, .precision = out->precision};
    vkt_model_bytes mb;
    VKT_TRY(vkt_model_plan_bytes(dev, mc, B, T, &mo, &mb));
    out->base_linear = mb.linear, out->base_other = mb.other, out->grads = mb.grads, out->activations = mb.acts;
    out->half_copy = mb.half;
    out->workspace = mb.io + (size_t)cfg->steps * 4 + 4 * 4096;
    const vkt_device_info *info = vkt_device_get_info(dev);
    int64_t align = (info->min_storage_offset_align > 256 ? info->min_storage_offset_align : 256) /
                    (int64_t)vkt_dtype_size(out->precision);
    size_t trained_bytes;
    if (out->lora) {
        vkt_lora_cfg lc;
        VKT_TRY(vkt_finetune_lora_cfg(cfg, &lc));
        vkt_param_table t;
        VKT_TRY(vkt_params_build(mc, align, &t));
        vkt_lora_bytes lb;
        vkt_status s = vkt_lora_plan_bytes(&t, mc, &lc, B * T, align, out->precision, &lb);
        vkt_params_free(&t);
        if (s != VKT_OK) return s;
        out->adapters = lb.params + lb.grads, out->activations += lb.acts, out->workspace += lb.scratch;
        out->half_copy += lb.half;
        out->trainable = lb.n_params, trained_bytes = lb.params;
    } else {
        out->trainable = (int64_t)(mb.grads / 4), trained_bytes = mb.grads;
    }
    out->optimizer = 2 * trained_bytes;
    /* Gradient-norm partials: at most one float per 256 trained values, with slack. */
    out->workspace += trained_bytes / 256 + 4096;
    out->total = out->base_linear + out->base_other + out->half_copy + out->grads + out->adapters + out->optimizer +
                 out->activations + out->workspace;
    out->heap = info->device_local_bytes ? info->device_local_bytes : info->host_visible_bytes;
    return VKT_OK;
}

void vkt_ft_plan_print(const vkt_ft_plan *p) {
    bool mixed = p->precision != VKT_DTYPE_F32;
    vkt_log_info("memory plan (%s, base %s, precision %s):", p->lora ? "LoRA" : "full fine-tuning",
                 vkt_qformat_name(p->base_format), vkt_dtype_name(p->precision));
    vkt_log_info("  base linear weights (%s) %10.1f MiB", vkt_qformat_name(p->base_format), mib(p->base_linear));
    vkt_log_info("  base other (f32: embeddings, norms, biases, LM head) %10.1f MiB", mib(p->base_other));
    if (mixed)
        vkt_log_info("  %s weight copy (what the passes read; f32 master weights above) %10.1f MiB",
                     vkt_dtype_name(p->precision), mib(p->half_copy));
    if (p->grads) vkt_log_info("  gradients (f32, every parameter) %10.1f MiB", mib(p->grads));
    if (p->lora) vkt_log_info("  adapters (parameters + gradients) %10.1f MiB", mib(p->adapters));
    vkt_log_info("  optimizer state (AdamW moments, %lld parameters) %10.1f MiB", (long long)p->trainable,
                 mib(p->optimizer));
    vkt_log_info("  activations (%s) %10.1f MiB", vkt_dtype_name(p->precision), mib(p->activations));
    vkt_log_info("  workspace %10.1f MiB", mib(p->workspace));
    vkt_log_info("  total %.1f MiB of the device's %.1f MiB (%.1f%%)", mib(p->total), mib(p->heap),
                 p->heap ? 100.0 * (double)p->total / (double)p->heap : 0.0);
}

vkt_status vkt_ft_plan_check(const vkt_ft_plan *p, const vkt_run_config *cfg) {
    if (p->heap == 0 || p->total <= p->heap) return VKT_OK;
    char hint[512], lora_knobs[160] = "";
    if (!p->lora)
        snprintf(hint, sizeof hint, "use finetune.method \"lora\" or \"qlora\" (no gradients or moments for the base)");
    else if (p->base_format == VKT_QFORMAT_F32 || p->base_format == VKT_QFORMAT_F16 || p->base_format == VKT_QFORMAT_BF16)
        snprintf(hint, sizeof hint, "store the base in fewer bits (finetune.base_format %s\"int8\" or \"nf4\"; method "
                                    "\"qlora\" is nf4)",
                 p->base_format == VKT_QFORMAT_F32 ? "\"bf16\", " : "");
    else if (p->base_format == VKT_QFORMAT_INT8)
        snprintf(hint, sizeof hint, "store the base as finetune.base_format \"nf4\" (method \"qlora\")");
    else
        snprintf(hint, sizeof hint, "the base is already nf4");
    if (p->lora)
        snprintf(lora_knobs, sizeof lora_knobs, "finetune.r (now %lld; adapters and moments %.1f MiB), ",
                 (long long)cfg->ft_r, mib(p->adapters + p->optimizer));
    vkt_log_error("fine-tuning needs %.1f MiB but the device has %.1f MiB (nothing was allocated): %s; %slower "
                  "optim.batch_size (now %lld) or optim.seq_len (now %lld; activations %.1f MiB)%s",
                  mib(p->total), mib(p->heap), hint, lora_knobs, (long long)cfg->batch_size, (long long)cfg->seq_len,
                  mib(p->activations), cfg->recompute ? "" : ", or set optim.recompute true (keeps one block's activations)");
    return VKT_ERR_OOM;
}
