/* The record conversions of sft_record.c that other record formats reuse (preference data,
 * pref_record.c), so that every format normalizes messages, ShareGPT turns and tools the same way
 * and words its errors alike. Each takes a parsed record or list (borrowed) and returns new cJSON
 * (the caller owns it) in the Hugging Face layout described in sft_dataset.h. On VKT_ERR_FORMAT,
 * why[0..why_len) holds the reason (without file and line) and *out is NULL; VKT_ERR_OOM.
 * Thread safety: no shared state. */
#ifndef VKT_SFT_RECORD_H
#define VKT_SFT_RECORD_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "vktrain/status.h"

/* A list of messages (role system | user | assistant | tool, content a string or text parts, tool
 * calls normalized; loss_weight dropped), as for a "messages" record. key names the list in reasons
 * ("chosen" gives "chosen[1].role is ..."). No check of the order of roles. */
vkt_status vkt_sft_messages_from_json(const cJSON *list, const char *key, cJSON **out, char *why, size_t why_len);
/* A ShareGPT record's "conversations" (and its optional "system") as messages. No check of the order
 * of roles beyond a system turn coming first. */
vkt_status vkt_sft_sharegpt_from_json(const cJSON *record, cJSON **out, char *why, size_t why_len);
/* A record's optional "tools" (a list, or a string of JSON holding one); *out is NULL when absent. */
vkt_status vkt_sft_tools_from_json(const cJSON *record, cJSON **out, char *why, size_t why_len);

/* "a string", "an array", ... ("missing" for NULL), for reasons. */
const char *vkt_sft_json_type_name(const cJSON *j);
/* "\"k1\", \"k2\", ..." of an object's keys into buf ("none" when it has none); returns the text. */
const char *vkt_sft_json_keys(const cJSON *o, char *buf, size_t len);

#endif
