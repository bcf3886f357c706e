/* Chatting with a model: a conversation (Hugging Face messages) rendered with the model's chat template,
 * encoded with its special tokens, and answered by sampling on the device until an end-of-turn token.
 * The KV cache is kept between replies (train/generate.h sessions), so a multi-turn chat only computes
 * the new turn's tokens. Used by `vktrain chat` and by the SFT evaluation's generations. */
#ifndef VKT_CHAT_H
#define VKT_CHAT_H

#include <cjson/cJSON.h>

#include "chat/chat_template.h"
#include "data/tokenizer.h"
#include "train/generate.h"

/* The template for a model: `spec` is a built-in name ("chatml", "llama3"), a .jinja file, a
 * tokenizer_config.json, or NULL for the model's own: tokenizer_config.json in the folder (or beside the
 * file) `tokenizer_spec` names. VKT_ERR_FORMAT, saying to pass a template, when the model has none. bos and
 * eos are the tokenizer's, for templates that print them. */
vkt_status vkt_chat_template_resolve(const char *spec, const char *tokenizer_spec, const vkt_tokenizer *tok,
                                     vkt_chat_template **out);

/* The ids that end an assistant turn: EOS and the end-of-turn markers the tokenizer knows
 * (<|im_end|>, <|eot_id|>, <|end|>, <end_of_turn>, <|endoftext|>, </s>). Returns how many (<= cap). */
int vkt_chat_stop_ids(const vkt_tokenizer *tok, int32_t *ids, int cap);

typedef struct vkt_chat vkt_chat;

/* A chat over src's current parameters (borrowed: src, tok and tmpl must outlive the chat). context: the
 * positions the KV cache holds (0: the model's maximum). */
vkt_status vkt_chat_create(vkt_device *dev, const vkt_model *src, vkt_tokenizer *tok, const vkt_chat_template *tmpl,
                           int64_t context, vkt_chat **out);
/* The same with an adapter the generation's models run (a LoRA being trained; borrowed, NULL: none). */
vkt_status vkt_chat_create_ex(vkt_device *dev, const vkt_model *src, vkt_tokenizer *tok, const vkt_chat_template *tmpl,
                              int64_t context, const vkt_gen_adapter *adapter, vkt_chat **out);
void vkt_chat_destroy(vkt_chat *c); /* NULL-safe */

/* The assistant's reply to messages (+ tools, or NULL), streamed to opts->stream when set; *reply gets the
 * text (malloc'ed, no end-of-turn marker). opts->stop_ids are ignored (the chat's are used). When the prompt and
 * opts->max_tokens do not fit the context, the oldest turns after a leading system message are left out
 * (*dropped counts them, may be NULL); VKT_ERR_ARG when even the last message does not fit. */
vkt_status vkt_chat_reply(vkt_chat *c, const cJSON *messages, const cJSON *tools, const vkt_generate_opts *opts,
                          char **reply, int *dropped);

#endif
