/* Sampling with a KV cache (llm.c / llama.cpp style inference): a batch-1 model whose forward takes the
 * next Tq tokens at positions pos0 .. pos0 + Tq - 1, appends their keys and values to per-layer caches,
 * attends over the cache, and produces logits for the last of them only. Work per generated token is one
 * token's matmuls plus O(pos0) attention, instead of a full forward over the window.
 *
 * pos0 is read on the device from m->dec_pos (host-visible, i32 [0]), written by the host between
 * submits: the Tq = 1 recording is made once and replayed for every token. Positions feed RoPE (LLaMA;
 * the table covers kv_len positions) or the learned position embedding (GPT-2) through the ops'
 * device-position variants (vkt_op_rope_fwd_at, vkt_op_embed_fwd_at). */
#ifndef VKT_MODEL_DECODE_H
#define VKT_MODEL_DECODE_H

#include "model/model.h"

/* An inference model (B = 1, no gradients) whose decode forwards take up to T tokens at a time (the
 * prompt chunk; 1 for generation only), with K/V caches of kv_len positions (T <= kv_len <=
 * max_seq_len) in the activations arena. Its plain vkt_model_record_forward still works over (1, T). */
vkt_status vkt_model_create_decode(vkt_device *dev, const vkt_model_config *cfg, int64_t T, int64_t kv_len,
                                   vkt_model **out);

/* Records the decode forward of Tq <= m->T tokens: reads tokens [0, Tq) of m->tokens (the current slot)
 * at positions dec_pos[0] + t, writes cache rows dec_pos[0] .. dec_pos[0] + Tq - 1 of every layer, and
 * leaves the last position's logits in row 0 of m->logits and in host-visible m->dec_logits. Requires dec_pos[0] + Tq
 * <= kv_len at submit time (the host's job; rows past the cache are dropped, never written out of bounds). */
vkt_status vkt_model_record_decode(vkt_model *m, vkt_rec *r, int64_t Tq);

/* Host pointer to dec_pos[0]. */
int32_t *vkt_model_decode_pos(const vkt_model *m);
/* Host pointer to the V logits of the last decode forward (valid after its submit has completed). */
const float *vkt_model_decode_logits(const vkt_model *m);

#endif
