/* A scalar head on a model's final hidden state: Hugging Face's *ForSequenceClassification with num_labels 1
 * (score.weight (1, C), no bias, on the final-norm output), as a reward model uses it (TRL's RewardTrainer).
 * A sequence's score is  r = score . normf[p]  at the position p whose input is its last token (the last
 * non-padding token of Hugging Face's rows); packed rows hold several sequences, so a per-position table
 * names which sequence, if any, ends at each position.
 *
 * Device ops (the model's forward runs with VKT_FWD_HIDDEN or VKT_FWD_HIDDEN_TRAIN first):
 *   forward   scores (BT) = normf score^T (one matmul), then vkt_op_seq_sum over the last-position table
 *             picks each sequence's score: rewards (S, 2) = (r, 1), or (0, 0) for a sequence with no last
 *             position in the batch (padding)
 *   backward  dscores[p] = dL/dr of the sequence ending at p (vkt_op_seq_scatter), then d(normf) = dscores
 *             score (into m->dtmp_c), d(score) += dscores^T normf, and the model's backward from d(normf)
 * The weight lives wherever the caller trains it (a LoRA adapter's table, PEFT's modules_to_save "score",
 * or the model's own); the head only borrows views. Not thread-safe. */
#ifndef VKT_SCORE_HEAD_H
#define VKT_SCORE_HEAD_H

#include "model/model.h"

typedef struct {
    vkt_arena *arena;  /* owned */
    vkt_tensor scores; /* (BT) per-position scores, then their gradient */
    vkt_tensor factor; /* (BT) -1s: vkt_op_seq_scatter writes -coef, the head wants +dL/dr */
    int64_t BT;
} vkt_score_head;

/* Scratch for a model of BT positions. */
vkt_status vkt_score_head_create(vkt_device *dev, int64_t BT, vkt_score_head *h);
void vkt_score_head_destroy(vkt_score_head *h); /* safe on a zeroed or destroyed head */

/* rewards (S, 2) f32 from m->normf (after a hidden-state forward); w (1, C) f32; last_id (BT) i32. */
vkt_status vkt_score_head_fwd(vkt_score_head *h, vkt_rec *r, const vkt_model *m, const vkt_tensor *w,
                              const vkt_tensor *last_id, const vkt_tensor *rewards);
/* From drewards (S) f32 = dL/dr: dw (1, C) accumulates (NULL: the head is frozen), and the model's backward
 * runs from d(normf) (vkt_model_record_backward_hidden; its parameter or adapter gradients accumulate). */
vkt_status vkt_score_head_bwd(vkt_score_head *h, vkt_rec *r, vkt_model *m, const vkt_tensor *w,
                              const vkt_tensor *dw, const vkt_tensor *last_id, const vkt_tensor *drewards);

/* Host: the last-position table of a batch from each sequence's last position (seq_last (S): the position
 * b * T + t whose input is its last token, -1 for none): last_id[p] = s where seq_last[s] = p, -1 elsewhere.
 * VKT_ERR_FORMAT (logged) for a position outside [0, n) or two sequences ending at one position. */
vkt_status vkt_score_last_ids(const int32_t *seq_last, int64_t S, int64_t n, int32_t *last_id);

/* The index in t of the score head's weight: the entry named "score.weight" or ending in ".score.weight"
 * (PEFT's base_model.model.score.weight), -1 when there is none. */
int vkt_score_head_find(const vkt_param_table *t);

#endif
