/* Whole-model test helper shared by test_model.c and the LoRA tests. */
#ifndef VKT_MODEL_TESTUTIL_H
#define VKT_MODEL_TESTUTIL_H

#include "model/model.h"

/* Records m's forward in `mode` (plus the backward for VKT_FWD_LOSS_GRAD) into r, submits and waits. */
static inline vkt_status vkt_test_model_pass(vkt_model *m, vkt_rec *r, vkt_fwd_mode mode) {
    VKT_TRY(vkt_rec_begin(r));
    VKT_TRY(vkt_model_record_forward(m, r, mode));
    if (mode == VKT_FWD_LOSS_GRAD) VKT_TRY(vkt_model_record_backward(m, r));
    VKT_TRY(vkt_rec_end(r));
    return vkt_rec_submit_wait(r);
}

/* The tiny GPT-2 and LLaMA shapes the whole-model tests use: every dimension small, odd vocabularies, GQA
 * (2 kv heads of 4) and an untied head for LLaMA. */
static inline vkt_model_config vkt_test_tiny_gpt2(void) {
    vkt_model_config c = *vkt_model_preset("gpt2-tiny");
    c.vocab_size = 37, c.n_embd = 32, c.n_layer = 2, c.n_head = 4, c.head_dim = 8;
    c.n_inner = 128, c.max_seq_len = 32;
    return c;
}

static inline vkt_model_config vkt_test_tiny_llama(void) {
    vkt_model_config c = *vkt_model_preset("llama-tiny");
    c.vocab_size = 41, c.n_embd = 32, c.n_layer = 2, c.n_head = 4, c.n_kv_head = 2;
    c.head_dim = 8, c.n_inner = 40, c.max_seq_len = 32, c.tie_word_embeddings = false;
    return c;
}

#endif
