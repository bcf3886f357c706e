/* Checkpoints: a Hugging Face-style folder per save, <out_dir>/step-NNNNNN/, holding
 *   config.json              the model's Hugging Face config
 *   model.safetensors        parameters under Hugging Face names and layouts (GPT-2 Conv1D weights
 *                            transposed back to (in, out); a tied lm_head is not stored)
 *   optimizer_m.safetensors  AdamW first moments per parameter ("exp_avg.<name>", table layout)
 *   optimizer_v.safetensors  AdamW second moments ("exp_avg_sq.<name>", table layout)
 *   trainer_state.json       step, data-sampler state, tokenizer spec
 * A save writes into a hidden temporary folder, fsyncs every file, renames it into place and then
 * updates <out_dir>/latest.json, so a crash at any point leaves the previous checkpoint intact. Only the
 * newest `keep` step folders are kept, and never at the cost of the one just written (the one latest.json
 * names). Weights or optimizer moments holding a NaN or inf are never written: the save fails with
 * VKT_ERR_NONFINITE, naming the tensor, and the previous checkpoints stay. */
#ifndef VKT_CHECKPOINT_H
#define VKT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/run_config.h"
#include "model/model.h"
#include "sched/step.h"

typedef struct {
    int64_t step;            /* optimizer steps completed, skipped ones included */
    int64_t optimizer_step;  /* AdamW updates applied: step minus the steps skipped for a non-finite
                              * gradient norm (the t of the bias corrections); 0 <= optimizer_step <= step.
                              * Written from the optimizer state on save; read and checked on load */
    int64_t data_epoch;      /* training loader position (data/loader.h) */
    int64_t data_batch;
    uint64_t data_rng[2];    /* objective randomness (masking, FIM cuts) */
    double loss_scale;       /* f16 dynamic loss scaling: the scale (0: the run had none); written from the
                              * step on save, restored into it by vkt_checkpoint_load_optimizer */
    int64_t loss_scale_good_steps; /* finite steps in a row since the scale last changed */
} vkt_checkpoint_state;

/* Writes a checkpoint's trainable weights into folder dir in place of config.json + model.safetensors (a
 * LoRA run writes its PEFT adapter, src/finetune/). It must refuse non-finite weights (VKT_ERR_NONFINITE). */
typedef struct {
    vkt_status (*write)(void *ctx, const char *dir);
    void *ctx; /* borrowed */
} vkt_checkpoint_weights;

/* Saves m (and the optimizer state of s when not NULL; st->optimizer_step is then taken from s, else
 * it is written as given); *saved gets the folder written. VKT_ERR_NONFINITE: a weight or moment is NaN
 * or inf, nothing was written or deleted. */
vkt_status vkt_checkpoint_save(const char *out_dir, int64_t keep, vkt_model *m, vkt_step *s,
                               const vkt_checkpoint_state *st, const vkt_run_config *cfg, char *saved,
                               size_t saved_size);
/* The same with the weights written by w (NULL: the model's). The moments follow s's trainable table. */
vkt_status vkt_checkpoint_save_with(const char *out_dir, int64_t keep, vkt_model *m, vkt_step *s,
                                    const vkt_checkpoint_state *st, const vkt_run_config *cfg,
                                    const vkt_checkpoint_weights *w, char *saved, size_t saved_size);
/* `dir` may be a step folder (config.json or adapter_config.json in it) or a run folder (its newest
 * checkpoint is used). */
vkt_status vkt_checkpoint_resolve(const char *dir, char *out, size_t out_size);
/* The same without logging: false when dir is no checkpoint. */
bool vkt_checkpoint_resolve_quiet(const char *dir, char *out, size_t out_size);
/* The tokenizer spec recorded in checkpoint folder ck's trainer_state.json ("bytes" or a path). */
bool vkt_checkpoint_tokenizer(const char *ck, char *spec, size_t n);
vkt_status vkt_checkpoint_read_config(const char *dir, vkt_model_config *cfg);
/* Reads trainer_state.json of `dir` (a step or run folder) without touching the weights: cheap. Fields
 * missing or out of range (optimizer_step above step, say) are VKT_ERR_FORMAT naming the file and field. */
vkt_status vkt_checkpoint_read_state(const char *dir, vkt_checkpoint_state *st);
/* Parameters into m and the state as vkt_checkpoint_read_state gives it. */
vkt_status vkt_checkpoint_load_params(const char *dir, vkt_model *m, vkt_checkpoint_state *st);
/* Parameters from a Hugging Face model folder or file accepted by vkt_st_model_open. */
vkt_status vkt_checkpoint_load_hf(const char *path, vkt_model *m);
/* The same into a host buffer in table layout (t->total floats), no device: every parameter must be in
 * the file with its exact shape, and every file tensor must be a parameter (io/param_match.h); errors
 * name the file, the tensor, the shape found and the shape expected. VKT_ERR_FORMAT. */
vkt_status vkt_checkpoint_read_hf_flat(const char *path, const vkt_param_table *t, float *flat);
/* Moments into s (over its trainable table, vkt_step_table), with its step counter and updates from st (as
 * vkt_checkpoint_read_state gave them). m is unused (kept for callers). */
vkt_status vkt_checkpoint_load_optimizer(const char *dir, vkt_model *m, vkt_step *s,
                                         const vkt_checkpoint_state *st);

/* Model import from outside formats: a Hugging Face model folder (config.json + model.safetensors or a
 * sharded index), a llama2.c checkpoint (.bin) or an llm.c GPT-2 checkpoint (.bin). */
vkt_status vkt_import_config(const char *from, vkt_model_config *cfg);
vkt_status vkt_import_params(const char *from, vkt_model *m);
/* The same parameters (any source vkt_load_model takes, a vktrain run or step folder too) into a host
 * buffer in table layout (t->total floats, t built from the source's config), no device. */
vkt_status vkt_import_flat(const char *from, const vkt_param_table *t, float *flat);
/* The tokenizer a source names or holds (a checkpoint's trainer_state.json, a folder's tokenizer.json,
 * a llama2.c tokenizer.bin beside the model), "" when none. */
void vkt_import_tokenizer_spec(const char *from, char *spec, size_t n);

/* Any model source (a vktrain run or step folder, a Hugging Face folder, a llama2.c or llm.c file) as a
 * device model for (B, T) batches. *tokenizer_spec gets the tokenizer the source names or holds ("" when
 * it says nothing), for vkt_tok_load; the caller owns *out. */
vkt_status vkt_load_model(vkt_device *dev, const char *from, int64_t B, int64_t T, bool with_grads, vkt_model **out,
                          char *tokenizer_spec, size_t spec_size);

#endif
