/* Chat templates: a conversation (Hugging Face `messages`, optional `tools`) rendered to the text a model
 * was trained on, with the model's own Jinja `chat_template` from tokenizer_config.json (src/chat/jinja.h
 * runs the subset of Jinja real templates use) or a built-in one for models that have none.
 *
 * Rendering follows transformers' apply_chat_template: the template sees `messages`, `tools` (or none),
 * `add_generation_prompt`, `bos_token`, `eos_token` (strings, from tokenizer_config.json) and the helpers
 * `raise_exception` and `strftime_now`; the Jinja environment has trim_blocks and lstrip_blocks on, and
 * the output is the template's, byte for byte (special tokens appear as text; the tokenizer maps them
 * to ids with parse_special).
 *
 * Spans say which bytes of the render each message produced, so the SFT loss mask can be built from
 * character offsets (never by re-tokenizing prefixes). */
#ifndef VKT_CHAT_TEMPLATE_H
#define VKT_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "vktrain/status.h"

typedef struct vkt_chat_template vkt_chat_template;

/* The chat_template of a Hugging Face tokenizer_config.json (a string, or a list of {name, template}
 * where "default" is used, and "tool_use" when tools are given), with its bos_token / eos_token.
 * VKT_ERR_FORMAT naming the file and key when there is no chat_template or the template does not parse
 * (the construct and its line are named). VKT_ERR_IO when the file cannot be read. */
vkt_status vkt_chat_template_load_hf(const char *tokenizer_config_json, vkt_chat_template **out);
/* A template from source text. name is used in messages; bos/eos may be NULL ("" in the template). */
vkt_status vkt_chat_template_from_source(const char *source, size_t len, const char *name, const char *bos_token,
                                         const char *eos_token, vkt_chat_template **out);
/* Built-in templates: "chatml" and "llama3". VKT_ERR_ARG for another name. */
vkt_status vkt_chat_template_builtin(const char *name, const char *bos_token, const char *eos_token,
                                     vkt_chat_template **out);
void vkt_chat_template_free(vkt_chat_template *t); /* NULL-safe */
/* Makes strftime_now report this time (UTC) instead of the local time, for reproducible renders. */
void vkt_chat_template_set_now(vkt_chat_template *t, int64_t unix_seconds);
const char *vkt_chat_template_name(const vkt_chat_template *t);

/* The bytes [begin, end) of the render that message `message` (its index in messages) produced.
 * For an assistant message the span is what the model must learn to write: from the end of the text
 * a generation prompt would end with, through the end-of-turn marker (e.g. "<|im_end|>", "</s>",
 * "<|eot_id|>"), excluding any whitespace the template emits after it. */
typedef struct {
    int32_t message;
    int64_t begin, end;
} vkt_chat_span;

typedef struct {
    char *text; /* owned, NUL-terminated */
    size_t len;
    vkt_chat_span *spans; /* owned: one per assistant message, in order */
    int32_t n_spans;
} vkt_chat_render_out;

/* Renders messages (a cJSON array of {role, content, ...}; content a string or a list of
 * {"type":"text","text":...} parts) with tools (a cJSON array or NULL). extra (a cJSON object or NULL)
 * adds template variables (e.g. "date_string"). VKT_ERR_FORMAT with the template's message for a
 * raise_exception, or naming the construct and line for a runtime error. The template sees messages,
 * tools (None without), documents (None), add_generation_prompt, bos_token, eos_token, then extra's keys;
 * list content reaches it as a list, as in transformers (templates that concatenate content as a string
 * fail on it with their own TypeError). When tools are given and tokenizer_config.json had a "tool_use"
 * template, that one renders.
 *
 * Spans, by rendering prefixes of the conversation: for assistant message i, P = render(messages[:i],
 * add_generation_prompt=true) and F = render(messages[:i+1], add_generation_prompt=false); the span is
 * [len(P), len(F) without trailing whitespace). It is accepted only when P is a prefix of F and of the
 * whole render, and F (to the span's end) is a prefix of the whole render; one exception: when F ends
 * with an eos_token the template adds after the final message only (Phi-3), the span ends before it.
 * A template that renders a message differently depending on what follows it (e.g. Mistral v0.3 puts
 * the system prompt and tools into the last user message) breaks the prefix property: the render then
 * fails with VKT_ERR_FORMAT naming the template and the message index, never a silently wrong span.
 * Cost: 2 extra renders per assistant message (quadratic in the conversation length). Thread-safe
 * for concurrent renders of one template. */
vkt_status vkt_chat_render(const vkt_chat_template *t, const cJSON *messages, const cJSON *tools,
                           bool add_generation_prompt, const cJSON *extra, vkt_chat_render_out *out);
void vkt_chat_render_free(vkt_chat_render_out *out); /* NULL-safe */
/* The render alone, without spans (for prompts, or templates whose spans the prefix method refuses):
 * *text is malloc'd and NUL-terminated, *len bytes. Errors as vkt_chat_render. */
vkt_status vkt_chat_render_text(const vkt_chat_template *t, const cJSON *messages, const cJSON *tools,
                                bool add_generation_prompt, const cJSON *extra, char **text, size_t *len);

#endif
