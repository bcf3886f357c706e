/* Preference data (DPO, ORPO, reward models): files of records that pair a prompt with a chosen and a
 * rejected completion, in the forms TRL and LLaMA-Factory read, each normalized to one pair. Host-only;
 * nothing here tokenizes (pref_tokenize.h) or batches (pref_pack.h).
 *
 * Input: a JSON array file, a JSONL file, or a folder of .json / .jsonl files read in name order (as
 * for SFT data, sft_dataset.h). The form is detected per record from its keys:
 *   - "prompt" + "chosen" + "rejected", all message lists (TRL conversational, explicit prompt): the
 *     prompt may hold a system message and earlier turns; the completions are the assistant's turns.
 *   - "prompt" + "chosen" + "rejected", all strings (TRL standard, explicit prompt): a TEXT pair.
 *   - "chosen" + "rejected" message lists without a prompt (TRL implicit prompt): two whole
 *     conversations; the prompt is their longest shared prefix of messages, cut back so that it
 *     ends before an assistant message (as TRL's extract_prompt does), and the rest of each is its
 *     completion. A string "prompt" beside two whole conversations (UltraFeedback binarized) is
 *     ignored, as TRL ignores it.
 *   - "chosen" + "rejected" strings without a prompt: Anthropic HH-RLHF transcripts
 *     ("\n\nHuman: ...\n\nAssistant: ..."). The pair is split at the last "\n\nAssistant:" that lies
 *     wholly in the text the two share; the turns before it become messages (Human -> user,
 *     Assistant -> assistant, the one space after the colon dropped, the rest verbatim) and the text
 *     after it, without that space, each side's assistant answer. This is what TRL's script for
 *     hh-rlhf-helpful-base does. A transcript may begin with "\n\nHuman:" or "Human:"; other text
 *     before the first turn is an error. Strings without a shared "\n\nAssistant:" are an error:
 *     there is no prompt to find (TRL would split inside a word).
 *   - "conversations" ({from, value} turns; optional "system") + "chosen" + "rejected" ({from: gpt |
 *     assistant, value} or a plain string): LLaMA-Factory's ShareGPT preference form.
 * Every chat form also reads the record's optional "tools" (as SFT data does). Other keys (ids,
 * scores, margins) are ignored. Messages are normalized as for SFT (sft_record.h): content strings,
 * tool calls {"type": "function", "function": {name, arguments object}}.
 *
 * Checks: the prompt is non-empty and ends on a user or tool turn (a prompt ending on a system or
 * assistant message is an error); a completion is a non-empty list that starts and ends with an
 * assistant message and holds only assistant messages and tool results between them (a user turn in
 * a completion means the two conversations differ before their last user turn); chosen and rejected
 * differ. An empty answer (an assistant message with content "" and no tool calls, or a string "") on
 * one side is kept and counted (n_empty_answer): preferring to say nothing is a real preference
 * (HH-RLHF harmless-base line 87 prefers an empty answer to giving out a home address), and the
 * answer still ends with the end-of-turn token (or EOS) whose log-probability is compared. Empty on
 * both sides is an empty completion. TEXT pairs may have an empty prompt.
 *
 * Errors: as for SFT data: "FILE:LINE: REASON" (JSONL) or "FILE:LINE: record N: REASON" (JSON array),
 * naming the key: bad JSON; no recognised keys (the keys found and the forms accepted); a missing or
 * mistyped key; chosen identical to rejected; an empty completion; no shared prefix (implicit forms);
 * a prompt that does not end on a user or tool turn. By default the first one fails the load
 * (VKT_ERR_FORMAT); with skip_bad such records are skipped, counted (n_skipped) and the first few
 * logged. Bad JSON inside a JSON array is always an error. VKT_ERR_IO for a file or folder that
 * cannot be read, VKT_ERR_OOM. Thread safety: a dataset is plain data. */
#ifndef VKT_PREF_DATASET_H
#define VKT_PREF_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "vktrain/status.h"

typedef enum {
    VKT_PREF_CHAT = 0, /* prompt / chosen / rejected messages (+ tools): render with a chat template */
    VKT_PREF_TEXT = 1, /* prompt / chosen / rejected strings */
} vkt_pref_kind;

/* Which input form a record was written in (for counts and messages). */
typedef enum {
    VKT_PREF_FMT_EXPLICIT_CHAT = 0, /* prompt, chosen, rejected message lists */
    VKT_PREF_FMT_EXPLICIT_TEXT,     /* prompt, chosen, rejected strings */
    VKT_PREF_FMT_IMPLICIT_CHAT,     /* chosen, rejected whole conversations */
    VKT_PREF_FMT_HH,                /* chosen, rejected Human/Assistant transcripts */
    VKT_PREF_FMT_SHAREGPT,          /* conversations + chosen, rejected turns */
    VKT_PREF_FMT_COUNT
} vkt_pref_format;

typedef struct {
    vkt_pref_kind kind;
    vkt_pref_format format;
    cJSON *prompt;       /* owned (CHAT): messages, ending on a user or tool message */
    cJSON *chosen;       /* owned (CHAT): completion messages, assistant first and last */
    cJSON *rejected;     /* owned (CHAT): as chosen */
    cJSON *tools;        /* owned or NULL (CHAT) */
    char *prompt_text;   /* owned (TEXT), NUL-terminated, may be empty */
    char *chosen_text;   /* owned (TEXT) */
    char *rejected_text; /* owned (TEXT) */
    int32_t file;        /* index into the dataset's files */
    int64_t line;        /* 1-based line where the record starts */
} vkt_pref_example;

typedef struct {
    vkt_pref_example *ex; /* owned (n) */
    int64_t n, cap;
    char **files; /* owned (n_files), each owned: the files read, in order */
    int32_t n_files;
    int64_t n_format[VKT_PREF_FMT_COUNT]; /* pairs per input form */
    int64_t n_skipped;                    /* malformed records skipped (skip_bad) */
    int64_t n_empty_answer;               /* pairs kept with an empty answer on one side */
} vkt_pref_dataset;

typedef struct {
    bool skip_bad; /* skip malformed records (counted) instead of failing the load */
} vkt_pref_load_opts;

/* Loads a file or a folder (see above) into *out (zeroed first; free with vkt_pref_dataset_free even on
 * failure), and logs the counts. opts may be NULL (defaults). No usable record: VKT_ERR_FORMAT. */
vkt_status vkt_pref_dataset_load(const char *path, const vkt_pref_load_opts *opts, vkt_pref_dataset *out);
/* Appends the records of one file's contents text[0..len) (no NUL needed; borrowed), named `name` in
 * messages, to d (zeroed or loaded). Used by the loader, the fuzzer and tests; an empty text adds none. */
vkt_status vkt_pref_dataset_add_mem(vkt_pref_dataset *d, const char *text, size_t len, const char *name,
                                    const vkt_pref_load_opts *opts);
void vkt_pref_dataset_free(vkt_pref_dataset *d); /* NULL-safe; leaves *d zeroed */

/* Normalizes one parsed record (borrowed) into *out. On VKT_ERR_FORMAT, why[0..why_len) holds the
 * reason (without file and line); *out is left zeroed. */
vkt_status vkt_pref_example_from_json(const cJSON *record, vkt_pref_example *out, char *why, size_t why_len);
void vkt_pref_example_free(vkt_pref_example *e); /* NULL-safe; leaves *e zeroed */
/* True when one side's answer is empty (see above). */
bool vkt_pref_example_has_empty_answer(const vkt_pref_example *e);

/* Name of a form ("trl_chat", "trl_text", "implicit_chat", "hh", "sharegpt"). */
const char *vkt_pref_format_name(vkt_pref_format f);
/* "FILE:LINE" of an example, into buf; returns buf. */
const char *vkt_pref_example_where(const vkt_pref_dataset *d, const vkt_pref_example *e, char *buf, size_t len);

/* Splits d into train and validation pairs as vkt_sft_dataset_split splits SFT data: a shuffle drawn
 * from seed picks round(fraction * n) pairs (at least one when fraction > 0 and n >= 2) for val; each
 * side keeps file order; the pairs move (d is left empty). VKT_ERR_ARG for a fraction outside [0, 1) or
 * a split that leaves train empty. */
vkt_status vkt_pref_dataset_split(vkt_pref_dataset *d, double fraction, uint64_t seed, vkt_pref_dataset *train,
                                  vkt_pref_dataset *val);

#endif
