/* Supervised fine-tuning data: files of records in the common SFT formats, each normalized to one
 * example kind. Host-only; nothing here tokenizes (sft_tokenize.h) or batches (sft_pack.h).
 *
 * Input: a JSON array file, a JSONL file (one record per line; blank lines skipped), or a folder of
 * .json / .jsonl files read in name order. A file whose first non-blank byte is '[' is an array.
 * The format is detected per record from its keys:
 *   - "messages": Hugging Face / OpenAI conversations, roles system | user | assistant | tool;
 *     content a string or a list of text parts {"type": "text", "text" | "value": ...} (joined with
 *     no separator into one string); assistant "tool_calls" ({"type": "function", "function":
 *     {"name", "arguments"}} or the short {"name", "arguments"}; arguments an object or a JSON string
 *     of one); optional per-message "loss_weight" (LLaMA-Factory: 0 leaves that assistant turn
 *     untrained); optional record "tools" (a list of JSON-schema functions, {"type": "function",
 *     "function": {...}} or bare {"name", ...}, or a string holding such a list).
 *   - "conversations": ShareGPT, {"from", "value"} with from human | user -> user, gpt | assistant
 *     -> assistant, system (first only), function_call -> an assistant tool call (value: JSON of
 *     {"name", "arguments"} or a list of them), observation | tool -> tool; optional record
 *     "system" and "tools".
 *   - "prompt" + "completion" as message lists: TRL's conversational prompt/completion; the
 *     completion's assistant messages are the trained ones.
 *   - "prompt" + "completion" as strings: loss on the completion.
 *   - "instruction" + "output": Alpaca (optional "input", "system", "history" [[q, a], ...]). The
 *     user turn is instruction and input joined with "\n", leaving out an empty one, as LLaMA-Factory's
 *     AlpacaDatasetConverter does ("prompt\nquery").
 *   - "text": continued pre-training, loss on every token.
 * Any record may name its "gold" document (a string: the path of the document that answers it, as a
 * retrieval index stores it) for retrieval-augmented fine-tuning (sft_retrieve.h).
 * Every record becomes a vkt_sft_example. Conversations are kept as cJSON in Hugging Face layout
 * (content strings, tool_calls as {"type": "function", "function": {name, arguments object}}, tools
 * as {"type": "function", "function": {...}}), since the chat-template renderer takes cJSON. A
 * conversation must end with an assistant message and its last assistant turn must not be empty.
 *
 * Errors: a malformed record is reported as "FILE:LINE: REASON" (JSONL) or "FILE:LINE: record N:
 * REASON" (JSON array; N is the 0-based index in the array, LINE where the record starts), naming
 * the key and what was expected: bad JSON, no recognised keys (the keys found and the formats
 * accepted), a missing or mistyped key, an unknown role, no assistant turn, a conversation not
 * ending with an assistant message, an empty completion. By default the first one fails the load
 * (VKT_ERR_FORMAT); with skip_bad such records are skipped, counted and the first few logged. Bad
 * JSON inside a JSON array cannot be skipped (the rest of the file is unreadable): always an error.
 * VKT_ERR_IO for a file or folder that cannot be read, VKT_ERR_OOM.
 * Thread safety: a dataset is plain data; loading touches no global state except cJSON's hooks. */
#ifndef VKT_SFT_DATASET_H
#define VKT_SFT_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "vktrain/status.h"

typedef enum {
    VKT_SFT_CHAT = 0,              /* messages (+ tools): render with a chat template */
    VKT_SFT_PROMPT_COMPLETION = 1, /* prompt + completion strings: loss on the completion */
    VKT_SFT_TEXT = 2,              /* text: loss on every token */
} vkt_sft_kind;

/* Which input format a record was written in (for counts and messages). */
typedef enum {
    VKT_SFT_FMT_MESSAGES = 0,
    VKT_SFT_FMT_SHAREGPT,
    VKT_SFT_FMT_TRL_CHAT, /* prompt/completion message lists */
    VKT_SFT_FMT_ALPACA,
    VKT_SFT_FMT_PROMPT_COMPLETION,
    VKT_SFT_FMT_TEXT,
    VKT_SFT_FMT_COUNT
} vkt_sft_format;

typedef struct {
    vkt_sft_kind kind;
    vkt_sft_format format;
    cJSON *messages;  /* owned (CHAT): array of {role, content[, tool_calls, name, tool_call_id]} */
    cJSON *tools;     /* owned or NULL (CHAT) */
    uint8_t *train;   /* owned (CHAT): per message, 1 for an assistant message that may carry loss */
    char *prompt;     /* owned (PROMPT_COMPLETION), NUL-terminated */
    char *completion; /* owned (PROMPT_COMPLETION), non-empty */
    char *text;       /* owned (TEXT), non-empty */
    char *gold;       /* owned or NULL: the record's "gold" string, the document that answers it (retrieval-
                       * augmented fine-tuning: data.retrieve puts its passages in the context, RAFT-style) */
    int32_t file;     /* index into the dataset's files */
    int64_t line;     /* 1-based line where the record starts */
} vkt_sft_example;

typedef struct {
    vkt_sft_example *ex; /* owned (n) */
    int64_t n, cap;
    char **files; /* owned (n_files), each owned: the files read, in order */
    int32_t n_files;
    int64_t n_format[VKT_SFT_FMT_COUNT]; /* examples per input format */
    int64_t n_skipped;                   /* malformed records skipped (skip_bad) */
} vkt_sft_dataset;

typedef struct {
    bool skip_bad; /* skip malformed records (counted) instead of failing the load */
} vkt_sft_load_opts;

/* Loads a file or a folder (see above) into *out (zeroed first; free with vkt_sft_dataset_free even on
 * failure). opts may be NULL (defaults). An input with no usable record is VKT_ERR_FORMAT. */
vkt_status vkt_sft_dataset_load(const char *path, const vkt_sft_load_opts *opts, vkt_sft_dataset *out);
/* Appends the records of one file's contents text[0..len) (no NUL needed; borrowed), named `name` in
 * messages, to d (zeroed or loaded). Used by vkt_sft_dataset_load, the fuzzer and tests. Does not
 * require a record (an empty file adds none). */
vkt_status vkt_sft_dataset_add_mem(vkt_sft_dataset *d, const char *text, size_t len, const char *name,
                                   const vkt_sft_load_opts *opts);
void vkt_sft_dataset_free(vkt_sft_dataset *d); /* NULL-safe; leaves *d zeroed */

/* Normalizes one parsed record (borrowed) into *out. On VKT_ERR_FORMAT, why[0..why_len) holds the
 * reason (without file and line); *out is left zeroed. */
vkt_status vkt_sft_example_from_json(const cJSON *record, vkt_sft_example *out, char *why, size_t why_len);
void vkt_sft_example_free(vkt_sft_example *e); /* NULL-safe; leaves *e zeroed */

/* Name of a format ("messages", "sharegpt", "trl_prompt_completion", "alpaca", "prompt_completion",
 * "text"). */
const char *vkt_sft_format_name(vkt_sft_format f);
/* "FILE:LINE" of an example, into buf; returns buf. */
const char *vkt_sft_example_where(const vkt_sft_dataset *d, const vkt_sft_example *e, char *buf, size_t len);

/* Splits d into train and validation: a shuffle of the example order drawn from seed (deterministic:
 * same dataset and seed, same split), the first round(fraction * n) examples to val (at least one
 * when fraction > 0 and n >= 2), the rest to train; each side keeps the file order of its examples.
 * The examples move (d is left empty); train and val share no storage with d. fraction in [0, 1).
 * VKT_ERR_ARG for a fraction outside it or a split that leaves train empty. */
vkt_status vkt_sft_dataset_split(vkt_sft_dataset *d, double fraction, uint64_t seed, vkt_sft_dataset *train,
                                 vkt_sft_dataset *val);

#endif
