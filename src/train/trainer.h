/* A whole training run from a run configuration: tokenizer, data, model (new, imported or resumed),
 * the step loop with progress, evaluation, metrics, checkpoints and Ctrl-C handling, then samples. */
#ifndef VKT_TRAINER_H
#define VKT_TRAINER_H

#include "io/run_config.h"
#include "vktrain/device.h"

typedef struct {
    const char *resume;       /* checkpoint folder to resume from, or NULL */
    double peak_gflops;       /* measured FMA ceiling for utilisation (0: measure at start) */
    bool no_sample;           /* skip the closing samples */
} vkt_train_opts;

vkt_status vkt_train(vkt_device *dev, vkt_run_config *cfg, const vkt_train_opts *opts);

/* Model FLOPs per trained token (forward + backward): 6 * (non-embedding parameters + LM head)
 * + 12 * L * T * C for attention (Chinchilla/PaLM accounting, causal masking not discounted). */
double vkt_train_flops_per_token(const vkt_model_config *c, int64_t T);

#endif
