/* Retrieved passages in a conversation: the same placement for retrieval-augmented fine-tuning
 * (data.retrieve) and for `vktrain chat --index`, so a model sees at inference the layout it was trained on.
 *   user    the last user message becomes "<context>\n\n<question>" (the default: works with every template,
 *           including those without a system role)
 *   system  the context goes into the system message (appended after a blank line to one that exists,
 *           else a new first message) */
#ifndef VKT_CHAT_RAG_H
#define VKT_CHAT_RAG_H

#include <cjson/cJSON.h>

#include "rag/rag_index.h"
#include "vktrain/status.h"

typedef enum { VKT_CONTEXT_USER = 0, VKT_CONTEXT_SYSTEM = 1 } vkt_context_place;

/* "user" or "system"; VKT_ERR_ARG naming `what` otherwise. */
vkt_status vkt_context_place_parse(const char *name, const char *what, vkt_context_place *out);

/* The text of the last user message (a string content, or its text parts joined), or NULL. Borrowed from
 * messages when content is a string; else written into buf (n bytes). */
const char *vkt_chat_last_user_text(const cJSON *messages, char *buf, size_t n);

/* Puts context into messages (modified in place) at place. VKT_ERR_ARG when place is user and there is no
 * user message. */
vkt_status vkt_chat_add_context(cJSON *messages, const char *context, vkt_context_place place);

/* Retrieves the top k passages of ix for the last user message and adds them (vkt_rag_format_context) at
 * place. No user text or no passage: messages unchanged. */
vkt_status vkt_chat_retrieve(vkt_rag_index *ix, int32_t k, vkt_context_place place, cJSON *messages);

#endif
