/* A whole training run from a run configuration: tokenizer, data, model (new, imported or resumed),
 * the step loop with progress, evaluation, metrics, checkpoints and Ctrl-C / SIGTERM handling, then
 * samples.
 *
 * No silent data loss: the output folder is checked (run_dir.h) before anything expensive is built; a
 * step whose loss or gradient norm is not finite is skipped on the device, logged and counted, and
 * optim.max_bad_steps of them in a row stop the run (VKT_ERR_NONFINITE) without writing a checkpoint;
 * checkpoints with non-finite weights are refused (checkpoint.h); resuming needs optim.steps above the
 * checkpoint's step. */
#ifndef VKT_TRAINER_H
#define VKT_TRAINER_H

#include "io/run_config.h"
#include "model/model.h"
#include "sched/step.h"
#include "train/generate.h"
#include "vktrain/device.h"

/* What fine-tuning changes in a run (src/finetune/finetune.c fills it in; NULL for pre-training): how the
 * model is created, what trains and how checkpoints hold it. The trainer knows nothing else about it. */
typedef struct {
    void *ctx;                    /* borrowed */
    vkt_model_mode mode;          /* VKT_MODEL_TRAIN (full fine-tuning) or VKT_MODEL_FROZEN (adapters) */
    vkt_qformat base_format;      /* storage of the block linear weights (model/model_base.h) */
    /* Before the model is created, with its final config and batch shape: print the memory plan and
     * refuse (an error naming what to change) what will not fit; NULL: none. */
    vkt_status (*plan)(void *ctx, vkt_device *dev, const vkt_model_config *mc, int64_t B, int64_t T);
    bool base_from_model;         /* a resumed run reads the base weights from model.from / model.path (or
                                   * draws them again from the seed when there is none): its checkpoints
                                   * hold only what trains (written by `write`) */
    /* After the base weights are in m: set up what trains and fill *train. resume: the checkpoint folder
     * to read the trained weights from, else NULL. */
    vkt_status (*attach)(void *ctx, vkt_model *m, const char *resume, vkt_trainable *train);
    /* Writes the checkpoint's weights into a folder; NULL: the model's (config.json + model.safetensors). */
    vkt_status (*write)(void *ctx, const char *dir);
    /* Before the closing samples: make m's own weights compute the trained model (merge), or NULL.
     * VKT_ERR_UNSUPPORTED (logged by it): m cannot hold the trained model; the samples are skipped. */
    vkt_status (*before_sample)(void *ctx, vkt_model *m);
    /* Device bytes of what attach allocated (adapter arenas), for memory reports; NULL: none. */
    size_t (*memory)(void *ctx);
    /* At the end of the run, before the model is destroyed: free what attach made, or NULL. */
    void (*release)(void *ctx);
    /* What generation from the model being trained must run besides its weights (a LoRA adapter, valid after
     * attach; train/generate.h), or NULL. */
    const vkt_gen_adapter *gen_adapter;
} vkt_train_ext;

/* How a run ended, for the caller's exit code and messages. */
typedef struct {
    int signal;               /* SIGINT or SIGTERM when a signal stopped the run (a checkpoint was saved
                               * if vkt_train returned VKT_OK), else 0 */
    int64_t steps_done;       /* steps completed and logged by this call (resumed runs: since the checkpoint) */
    int64_t steps_skipped;    /* of those, steps skipped for a non-finite loss or gradient norm */
} vkt_train_outcome;

typedef struct {
    const char *resume;       /* checkpoint folder to resume from, or NULL */
    bool overwrite;           /* output.dir may hold a previous run: its files are removed first */
    double peak_gflops;       /* measured FMA ceiling for utilisation (0: measure at start) */
    bool no_sample;           /* skip the closing samples */
    vkt_train_outcome *outcome; /* borrowed, may be NULL: filled on return */
    const vkt_train_ext *ext;   /* borrowed, NULL: pre-training (see vkt_train_ext) */
} vkt_train_opts;

/* Runs the training. Returns VKT_OK when the run finished or was stopped by SIGINT / SIGTERM and saved
 * (outcome->signal says which); VKT_ERR_ARG for an output folder that holds a run without resume or
 * overwrite, resume with optim.steps at or below the checkpoint's step, or resume with overwrite;
 * VKT_ERR_NONFINITE when the run diverged (too many bad steps, or non-finite weights at a save); other
 * codes from setup and the device. Installs SIGINT and SIGTERM handlers for its duration (not
 * thread-safe: one run per process at a time). */
vkt_status vkt_train(vkt_device *dev, vkt_run_config *cfg, const vkt_train_opts *opts);

/* Model FLOPs per trained token (forward + backward): 6 * (non-embedding parameters + LM head)
 * + 12 * L * T * C for attention (Chinchilla/PaLM accounting, causal masking not discounted). */
double vkt_train_flops_per_token(const vkt_model_config *c, int64_t T);

#endif
