/* Evaluation that also writes what it saw: the logits, inputs and targets of every evaluated position as
 * one safetensors file, so a user can compare vktrain with another framework position by position.
 *
 * File layout (all little-endian, row-major; N = batches x B sequences of T positions, V = vocab_size):
 *   "logits"     F32 [N, T, V]  the model's outputs before the softmax
 *   "input_ids"  I32 [N, T]     the tokens fed in
 *   "targets"    I32 [N, T]     the token each position is scored against (-100: not scored)
 *   metadata     "format": "pt", "loss": the mean cross-entropy per scored token (%.17g), "model", "data"
 * The loss is the same one vkt_eval_loss reports, from the same forward passes. Everything is held in
 * host memory until the file is written atomically: size it with the number of batches. */
#ifndef VKT_TRAIN_EVAL_DUMP_H
#define VKT_TRAIN_EVAL_DUMP_H

#include "sched/step.h"

/* Runs n batches from fill through m (recorded on r), writes path, and sets *loss. model and data are
 * recorded in the metadata (either may be NULL). VKT_ERR_OOM when the host cannot hold the dump. */
vkt_status vkt_eval_dump(vkt_model *m, vkt_rec *r, vkt_batch_fn fill, void *ctx, int64_t n, const char *path,
                         const char *model, const char *data, double *loss);

#endif
