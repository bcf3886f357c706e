/* Verifiable rewards for GRPO: a completion's text (and the record's reference answer) -> a float, from
 * a spec written in JSON (a run config's reward list, or a file). As in TRL's GRPOTrainer with several
 * reward functions, the reward of a completion is the weighted sum of its terms, and each term is
 * reported on its own (TRL logs rewards/<name>/mean and std). A term may also be a trained reward model
 * (TRL's reward_funcs given a model): its value is the model's score, computed on the device by the
 * caller (rl/reward_models.h) and handed in (vkt_reward_score_given).
 *
 * A spec is one term object or a list of them. Keys of every term:
 *   "type"     required: "exact_match" | "regex" | "json_schema" | "format" | "model"
 *   "name"     the term's metric name (default: the type)
 *   "weight"   its weight in the sum (default 1)
 *   "pass", "fail"  the term's value when the check holds / does not (default 1 and 0); not for "model"
 *   "extract"  a step name or a list of them applied in order (reward_text.h): "none" (default),
 *              "marker", "last_number", "boxed", "fenced"; a step that finds nothing fails the term
 *   "marker"   the marker text for "marker" steps (e.g. "Answer:", "####"); required with them
 *   (extract and marker: not for "model")
 * Per type:
 *   exact_match  the extracted text equals the record's reference answer after normalisation:
 *                "trim" (default true), "collapse_whitespace" (true), "numeric" (true; "42" == "42.0"),
 *                "tolerance" (relative, 1e-9), "case_fold" (false), "unicode_nfkc" (false). The answer
 *                is normalised the same way but never extracted (it is clean).
 *   regex        "pattern" (PCRE2 syntax, UTF-8 and Unicode properties on) must match the extracted
 *                text: "mode" "search" (default: anywhere, Python's re.search) or "full" (the whole
 *                text, re.fullmatch); flags "ignore_case", "dotall", "multiline" (default false). A
 *                match that exceeds PCRE2's backtracking limit counts as no match (logged).
 *   json_schema  the extracted text (white space around it allowed) is one valid JSON value that
 *                matches "schema", a JSON Schema in the subset of json_schema.h.
 *   format       the extraction finds something (TRL's format rewards: "the answer is present"); it
 *                needs an extract step other than "none".
 *   model        the score of a reward model (train/reward_model.h) for the prompt and the completion,
 *                rendered as the reward model was trained on them (train/score.h: a conversation with the
 *                completion as the assistant's answer through its chat template, a text prompt as
 *                prompt + completion + EOS): "path" (required) a reward model (a run or step folder of
 *                finetune.objective "reward", method full) or the base of a LoRA one, "adapter" that run's
 *                PEFT folder, "tokenizer" (default: the one the model names), "template" (default: the one
 *                beside its tokenizer), "batch_size" completions scored at once (8), "max_length" tokens
 *                per completion (default: the caller's; a longer one keeps its end).
 * Any other key is refused (a misspelt option would silently do nothing).
 * Example, the arithmetic task with a shaping term:
 *   [{"type": "exact_match", "name": "accuracy"},
 *    {"type": "format", "extract": "last_number", "weight": 0.1}]
 * and a LoRA reward model:
 *   {"type": "model", "name": "rm", "path": "data/models/stories260K/stories260K.bin",
 *    "adapter": "runs/reward_lora_stories260k/step-000150"}
 *
 * Errors: VKT_ERR_FORMAT logged as "WHERE[i].key: reason" (or "WHERE.key" for a single object): a
 * missing or mistyped key, an unknown type, extract step or key, a regex that does not compile (PCRE2's
 * reason and offset), a schema outside the subset. Not thread-safe: a regex term holds its PCRE2 match
 * data (one reward per thread). */
#ifndef VKT_REWARD_H
#define VKT_REWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "vktrain/status.h"

typedef struct vkt_reward vkt_reward;

/* From a parsed spec (borrowed; nothing of it is kept). where names it in messages ("run.json:
 * finetune.grpo.rewards"). */
vkt_status vkt_reward_from_json(const cJSON *spec, const char *where, vkt_reward **out);
/* From JSON text (e.g. a file's contents or a command-line option). Bad JSON: VKT_ERR_FORMAT naming
 * where and the byte offset. */
vkt_status vkt_reward_parse(const char *text, size_t len, const char *where, vkt_reward **out);
void vkt_reward_free(vkt_reward *r); /* NULL-safe */

int vkt_reward_n_terms(const vkt_reward *r);
const char *vkt_reward_term_name(const vkt_reward *r, int i);
/* Whether some term compares with the record's reference answer (exact_match): a data set without
 * answers cannot be scored. */
bool vkt_reward_needs_answer(const vkt_reward *r);

/* Scores completion[0..len) against answer (NUL-terminated; NULL when the record has none): *total gets
 * the weighted sum, terms[i] (when not NULL, n_terms of them) each term's unweighted value. VKT_ERR_ARG
 * (logged) when a term needs the answer and it is NULL; VKT_ERR_OOM. */
vkt_status vkt_reward_score(vkt_reward *r, const char *completion, size_t len, const char *answer, float *terms,
                            float *total);
/* The same with given[i] the value of each "model" term i (given: n_terms values, the others not read;
 * NULL only when there is no model term: else VKT_ERR_ARG, logged). */
vkt_status vkt_reward_score_given(vkt_reward *r, const char *completion, size_t len, const char *answer,
                                  const float *given, float *terms, float *total);

/* A "model" term's options (strings NULL when not given); NULL for term i of another type. */
typedef struct {
    char *path, *adapter, *tokenizer, *template_spec;
    int64_t batch_size; /* default 8 */
    int64_t max_length; /* 0: the caller's default */
    char *where;        /* the term in messages: "WHERE[i]" */
} vkt_reward_model_term;
const vkt_reward_model_term *vkt_reward_term_model(const vkt_reward *r, int i);
bool vkt_reward_has_model(const vkt_reward *r);

#endif
