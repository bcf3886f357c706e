/* One preference record -> one vkt_pref_example: form detection by keys, the implicit-prompt split
 * (shared messages, or the last shared "\n\nAssistant:" of HH transcripts), and the checks every pair
 * passes, with a reason that names the key (see pref_dataset.h). Messages, ShareGPT turns and tools
 * are normalized by the SFT record code (sft_record.h); reading files is pref_dataset.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sft/pref_dataset.h"
#include "sft/sft_record.h"

typedef struct {
    char *buf;
    size_t len;
} why_t;

static vkt_status fail(why_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static vkt_status fail(why_t *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (w->len) vsnprintf(w->buf, w->len, fmt, ap);
    va_end(ap);
    return VKT_ERR_FORMAT;
}

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }
static const char *tname(const cJSON *j) { return vkt_sft_json_type_name(j); }
static const char *role(const cJSON *m) { return get(m, "role")->valuestring; } /* normalized: always there */
static bool is_role(const cJSON *m, const char *r) { return strcmp(role(m), r) == 0; }

static bool calls_tools(const cJSON *m) { return cJSON_GetArraySize(get(m, "tool_calls")) > 0; }

/* Every assistant message is empty: no content, no tool calls (the model writes only end-of-turn). */
static bool completion_empty(const cJSON *list) {
    const cJSON *m;
    cJSON_ArrayForEach(m, list) if (is_role(m, "assistant") &&
                                    (*get(m, "content")->valuestring || calls_tools(m))) return false;
    return true;
}

/* A prompt: non-empty, ending on a user or tool turn. */
static vkt_status check_prompt(const cJSON *p, const char *what, why_t *w) {
    int n = cJSON_GetArraySize(p);
    if (n == 0) return fail(w, "%s is empty: a pair needs a prompt that ends on a user turn", what);
    const cJSON *last = cJSON_GetArrayItem(p, n - 1);
    if (!is_role(last, "user") && !is_role(last, "tool"))
        return fail(w, "%s ends with a%s %s message; a prompt must end on a user (or tool) turn", what,
                    is_role(last, "assistant") ? "n" : "", role(last));
    return VKT_OK;
}

/* A completion: non-empty, assistant first and last, only assistant and tool messages. first is the
 * index of its first message in the record's list named key (for messages). */
static vkt_status check_completion(const cJSON *c, const char *key, int first, why_t *w) {
    int n = cJSON_GetArraySize(c), i = first;
    if (n == 0) return fail(w, "\"%s\" has no completion after the prompt: an empty completion", key);
    const cJSON *m;
    cJSON_ArrayForEach(m, c) {
        if (!is_role(m, "assistant") && !is_role(m, "tool"))
            return fail(w,
                        "%s[%d] is a %s message in the completion; a completion holds the assistant's turns (and tool "
                        "results between them)%s",
                        key, i, role(m),
                        first ? ": the two conversations differ before their last user turn"
                              : " (two whole conversations go without a \"prompt\")");
        i++;
    }
    if (!is_role(cJSON_GetArrayItem(c, 0), "assistant"))
        return fail(w, "%s[%d] is a tool message; a completion starts with an assistant message", key, first);
    if (!is_role(cJSON_GetArrayItem(c, n - 1), "assistant"))
        return fail(w, "\"%s\" ends with a tool message; a completion ends with an assistant message", key);
    return VKT_OK;
}

/* The checks of a chat pair; the prompt is checked by the caller (its name differs per form). */
static vkt_status check_pair(const vkt_pref_example *e, int first, why_t *w) {
    VKT_TRY(check_completion(e->chosen, "chosen", first, w));
    VKT_TRY(check_completion(e->rejected, "rejected", first, w));
    bool ec = completion_empty(e->chosen), er = completion_empty(e->rejected);
    if (ec && er) return fail(w, "\"chosen\" and \"rejected\" are both empty: an empty completion");
    if (cJSON_Compare(e->chosen, e->rejected, true))
        return fail(w, "\"chosen\" and \"rejected\" are identical: the pair prefers nothing");
    return VKT_OK;
}

static vkt_status messages(const cJSON *list, const char *key, cJSON **out, why_t *w) {
    return vkt_sft_messages_from_json(list, key, out, w->buf, w->len);
}

static vkt_status from_explicit_chat(const cJSON *rec, vkt_pref_example *e, why_t *w) {
    e->format = VKT_PREF_FMT_EXPLICIT_CHAT;
    VKT_TRY(messages(get(rec, "prompt"), "prompt", &e->prompt, w));
    VKT_TRY(messages(get(rec, "chosen"), "chosen", &e->chosen, w));
    VKT_TRY(messages(get(rec, "rejected"), "rejected", &e->rejected, w));
    VKT_TRY(check_prompt(e->prompt, "\"prompt\"", w));
    return check_pair(e, 0, w);
}

/* Moves the first k items of *from into a new list (the shared prompt). */
static vkt_status take_prefix(cJSON *from, int k, cJSON **out) {
    if (!(*out = cJSON_CreateArray())) return VKT_ERR_OOM;
    for (int i = 0; i < k; i++) cJSON_AddItemToArray(*out, cJSON_DetachItemFromArray(from, 0));
    return VKT_OK;
}

static vkt_status from_implicit_chat(const cJSON *rec, vkt_pref_example *e, why_t *w) {
    e->format = VKT_PREF_FMT_IMPLICIT_CHAT;
    VKT_TRY(messages(get(rec, "chosen"), "chosen", &e->chosen, w));
    VKT_TRY(messages(get(rec, "rejected"), "rejected", &e->rejected, w));
    int nc = cJSON_GetArraySize(e->chosen), nr = cJSON_GetArraySize(e->rejected), k = 0;
    while (k < nc && k < nr &&
           cJSON_Compare(cJSON_GetArrayItem(e->chosen, k), cJSON_GetArrayItem(e->rejected, k), true))
        k++;
    if (k == nc && k == nr) return fail(w, "\"chosen\" and \"rejected\" are identical: the pair prefers nothing");
    int shared = k;
    while (k > 0 && is_role(cJSON_GetArrayItem(e->chosen, k - 1), "assistant")) k--; /* a completion starts there */
    const char *ignored = cJSON_IsString(get(rec, "prompt")) ? " (the string \"prompt\" is not used beside two "
                                                               "conversations)"
                                                             : "";
    if (k == 0)
        return fail(w,
                    "\"chosen\" and \"rejected\" share no prompt (%d leading messages in common, none ending on a user "
                    "turn): the implicit form needs two conversations that differ only after their last user turn; "
                    "give an explicit \"prompt\" otherwise%s",
                    shared, ignored);
    cJSON *other = NULL;
    VKT_TRY(take_prefix(e->chosen, k, &e->prompt));
    VKT_TRY(take_prefix(e->rejected, k, &other));
    cJSON_Delete(other);
    char what[96];
    snprintf(what, sizeof what, "the shared prompt (chosen[0..%d])", k - 1);
    VKT_TRY(check_prompt(e->prompt, what, w));
    return check_pair(e, k, w);
}

/* ---- Anthropic HH transcripts ---- */

static const char HUMAN[] = "\n\nHuman:", ASSISTANT[] = "\n\nAssistant:";
enum { HUMAN_LEN = sizeof HUMAN - 1, ASSISTANT_LEN = sizeof ASSISTANT - 1 };

/* The next turn marker at or after p (before end): its start, and whether it is a Human turn. */
static const char *next_marker(const char *p, const char *end, bool *human) {
    for (; p < end; p++) {
        if (*p != '\n') continue;
        if ((size_t)(end - p) >= HUMAN_LEN && !memcmp(p, HUMAN, HUMAN_LEN)) return *human = true, p;
        if ((size_t)(end - p) >= ASSISTANT_LEN && !memcmp(p, ASSISTANT, ASSISTANT_LEN)) return *human = false, p;
    }
    return NULL;
}

/* Turn text from p (just after a marker's colon) to end, less the one space after the colon. */
static cJSON *turn_message(const char *r, const char *p, const char *end) {
    if (p < end && *p == ' ') p++;
    char *s = strndup(p, (size_t)(end - p));
    cJSON *m = s ? cJSON_CreateObject() : NULL;
    if (m && (!cJSON_AddStringToObject(m, "role", r) || !cJSON_AddStringToObject(m, "content", s))) {
        cJSON_Delete(m);
        m = NULL;
    }
    free(s);
    return m;
}

/* The turns of text[0..len) (a transcript prefix) as messages. */
static vkt_status hh_turns(const char *text, size_t len, cJSON *out, why_t *w) {
    const char *p = text, *end = text + len;
    bool human = true;
    if (len >= HUMAN_LEN - 2 && !memcmp(p, HUMAN + 2, HUMAN_LEN - 2)) { /* "Human:" at the very start */
        p += HUMAN_LEN - 2;
    } else {
        const char *m = next_marker(p, end, &human);
        for (const char *q = p; q < (m ? m : end); q++)
            if (*q != ' ' && *q != '\n' && *q != '\r' && *q != '\t')
                return fail(w,
                            "the transcripts have text before their first \"\\n\\nHuman:\" turn (\"%.*s\"); an HH "
                            "transcript is \"\\n\\nHuman: ...\\n\\nAssistant: ...\"",
                            (int)strcspn(q, "\r\n") < 24 ? (int)strcspn(q, "\r\n") : 24, q);
        if (!m) return VKT_OK;
        p = m + (human ? HUMAN_LEN : ASSISTANT_LEN);
    }
    for (;;) {
        bool next_human = false;
        const char *m = next_marker(p, end, &next_human);
        cJSON *msg = turn_message(human ? "user" : "assistant", p, m ? m : end);
        if (!msg) return VKT_ERR_OOM;
        cJSON_AddItemToArray(out, msg);
        if (!m) return VKT_OK;
        human = next_human;
        p = m + (human ? HUMAN_LEN : ASSISTANT_LEN);
    }
}

/* One side's answer: the text after the split marker; it must hold no further turn. */
static vkt_status hh_answer(const char *side, size_t at, const char *key, cJSON **out, why_t *w) {
    const char *p = side + at, *end = p + strlen(p);
    bool human;
    if (next_marker(p, end, &human))
        return fail(w,
                    "\"%s\" has a further \"\\n\\n%s:\" turn after the split at the last \"\\n\\nAssistant:\" the two "
                    "share: the transcripts must differ only in their last assistant turn",
                    key, human ? "Human" : "Assistant");
    cJSON *m = turn_message("assistant", p, end);
    if (!m || !(*out = cJSON_CreateArray())) {
        cJSON_Delete(m);
        return VKT_ERR_OOM;
    }
    cJSON_AddItemToArray(*out, m);
    return VKT_OK;
}

static vkt_status from_hh(const char *c, const char *r, vkt_pref_example *e, why_t *w) {
    e->format = VKT_PREF_FMT_HH;
    if (strcmp(c, r) == 0) return fail(w, "\"chosen\" and \"rejected\" are identical: the pair prefers nothing");
    size_t shared = 0;
    while (c[shared] && c[shared] == r[shared]) shared++;
    size_t split = 0; /* where the last wholly shared "\n\nAssistant:" starts, + 1 (0: none) */
    bool human;
    for (const char *m = c; (m = next_marker(m, c + shared, &human)); m++) /* markers wholly in the shared text */
        if (!human) split = (size_t)(m - c) + 1;
    if (!split)
        return fail(w,
                    "\"chosen\" and \"rejected\" are strings that share no \"\\n\\nAssistant:\" turn, so there is no "
                    "prompt to find: give an explicit \"prompt\", or Anthropic HH transcripts (\"\\n\\nHuman: "
                    "...\\n\\nAssistant: ...\")");
    split--;
    if (!(e->prompt = cJSON_CreateArray())) return VKT_ERR_OOM;
    VKT_TRY(hh_turns(c, split, e->prompt, w));
    VKT_TRY(check_prompt(e->prompt, "the shared transcript before the last \"\\n\\nAssistant:\"", w));
    VKT_TRY(hh_answer(c, split + ASSISTANT_LEN, "chosen", &e->chosen, w));
    VKT_TRY(hh_answer(r, split + ASSISTANT_LEN, "rejected", &e->rejected, w));
    return check_pair(e, 0, w);
}

/* ---- LLaMA-Factory ShareGPT ---- */

/* chosen / rejected: {from: gpt | assistant, value} or a string, as a one-message completion. */
static vkt_status sharegpt_answer(const cJSON *v, const char *key, cJSON **out, why_t *w) {
    const cJSON *text = v;
    if (cJSON_IsObject(v)) {
        const cJSON *from = get(v, "from");
        text = get(v, "value");
        if (!cJSON_IsString(from) || (strcmp(from->valuestring, "gpt") && strcmp(from->valuestring, "assistant")))
            return fail(w, "%s.from is %s%.40s%s; the answer of a ShareGPT pair is from \"gpt\" (or \"assistant\")",
                        key, cJSON_IsString(from) ? "\"" : tname(from), cJSON_IsString(from) ? from->valuestring : "",
                        cJSON_IsString(from) ? "\"" : "");
        if (!cJSON_IsString(text)) return fail(w, "%s.value is %s; it must be a string", key, tname(text));
    } else if (!cJSON_IsString(v)) {
        return fail(w, "\"%s\" is %s; in the ShareGPT form it must be {\"from\": \"gpt\", \"value\": ...}", key,
                    tname(v));
    }
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddStringToObject(m, "role", "assistant") ||
        !cJSON_AddStringToObject(m, "content", text->valuestring) || !(*out = cJSON_CreateArray())) {
        cJSON_Delete(m);
        return VKT_ERR_OOM;
    }
    cJSON_AddItemToArray(*out, m);
    return VKT_OK;
}

static vkt_status from_sharegpt(const cJSON *rec, vkt_pref_example *e, why_t *w) {
    e->format = VKT_PREF_FMT_SHAREGPT;
    VKT_TRY(vkt_sft_sharegpt_from_json(rec, &e->prompt, w->buf, w->len));
    VKT_TRY(check_prompt(e->prompt, "\"conversations\"", w));
    VKT_TRY(sharegpt_answer(get(rec, "chosen"), "chosen", &e->chosen, w));
    VKT_TRY(sharegpt_answer(get(rec, "rejected"), "rejected", &e->rejected, w));
    return check_pair(e, 0, w);
}

static vkt_status from_explicit_text(const cJSON *rec, vkt_pref_example *e, why_t *w) {
    const char *p = get(rec, "prompt")->valuestring, *c = get(rec, "chosen")->valuestring,
               *r = get(rec, "rejected")->valuestring;
    e->kind = VKT_PREF_TEXT;
    e->format = VKT_PREF_FMT_EXPLICIT_TEXT;
    if (!*c && !*r) return fail(w, "\"chosen\" and \"rejected\" are both empty: an empty completion");
    if (strcmp(c, r) == 0) return fail(w, "\"chosen\" and \"rejected\" are identical: the pair prefers nothing");
    e->prompt_text = strdup(p);
    e->chosen_text = strdup(c);
    e->rejected_text = strdup(r);
    return e->prompt_text && e->chosen_text && e->rejected_text ? VKT_OK : VKT_ERR_OOM;
}

static vkt_status detect_and_convert(const cJSON *rec, vkt_pref_example *e, why_t *w) {
    const cJSON *p = get(rec, "prompt"), *c = get(rec, "chosen"), *r = get(rec, "rejected");
    if (!c && !r && get(rec, "conversations"))
        return fail(w, "the record has \"conversations\" but no \"chosen\" and \"rejected\": a ShareGPT pair needs "
                       "both (a conversation alone is SFT data)");
    if (!c != !r)
        return fail(w, "the record has \"%s\" but no \"%s\": a pair needs both", c ? "chosen" : "rejected",
                    c ? "rejected" : "chosen");
    if (get(rec, "conversations")) return from_sharegpt(rec, e, w);
    if (c) {
        bool lists = cJSON_IsArray(c) && cJSON_IsArray(r), strings = cJSON_IsString(c) && cJSON_IsString(r);
        if (p && !cJSON_IsNull(p)) {
            if (lists && cJSON_IsArray(p)) return from_explicit_chat(rec, e, w);
            if (strings && cJSON_IsString(p)) return from_explicit_text(rec, e, w);
            if (lists && cJSON_IsString(p)) return from_implicit_chat(rec, e, w);
            return fail(w,
                        "\"prompt\" is %s, \"chosen\" %s and \"rejected\" %s; give three strings or three lists of "
                        "messages (or \"chosen\" and \"rejected\" as two whole conversations)",
                        tname(p), tname(c), tname(r));
        }
        if (lists) return from_implicit_chat(rec, e, w);
        if (strings) return from_hh(c->valuestring, r->valuestring, e, w);
        return fail(w, "\"chosen\" is %s and \"rejected\" %s; both must be strings, or both lists of messages",
                    tname(c), tname(r));
    }
    char keys[256];
    return fail(w,
                "no recognised keys (found %s); accepted: \"prompt\" + \"chosen\" + \"rejected\" (strings or message "
                "lists), \"chosen\" + \"rejected\" (whole conversations, or Anthropic HH transcripts), "
                "\"conversations\" + \"chosen\" + \"rejected\" (ShareGPT)%s",
                vkt_sft_json_keys(rec, keys, sizeof keys),
                get(rec, "messages") || get(rec, "completion") || get(rec, "instruction") ? "; this looks like SFT data"
                                                                                          : "");
}

vkt_status vkt_pref_example_from_json(const cJSON *rec, vkt_pref_example *e, char *why, size_t why_len) {
    memset(e, 0, sizeof *e);
    why_t w = {why, why_len};
    if (why_len) why[0] = 0;
    if (!cJSON_IsObject(rec)) return fail(&w, "the record is %s; it must be a JSON object", tname(rec));
    vkt_status s = detect_and_convert(rec, e, &w);
    if (s == VKT_OK && e->kind == VKT_PREF_CHAT) s = vkt_sft_tools_from_json(rec, &e->tools, why, why_len);
    if (s != VKT_OK) vkt_pref_example_free(e);
    if (s == VKT_ERR_OOM) fail(&w, "out of memory");
    return s;
}

void vkt_pref_example_free(vkt_pref_example *e) {
    if (!e) return;
    cJSON_Delete(e->prompt);
    cJSON_Delete(e->chosen);
    cJSON_Delete(e->rejected);
    cJSON_Delete(e->tools);
    free(e->prompt_text);
    free(e->chosen_text);
    free(e->rejected_text);
    memset(e, 0, sizeof *e);
}

bool vkt_pref_example_has_empty_answer(const vkt_pref_example *e) {
    if (e->kind == VKT_PREF_TEXT) return !*e->chosen_text || !*e->rejected_text;
    return completion_empty(e->chosen) || completion_empty(e->rejected);
}

const char *vkt_pref_format_name(vkt_pref_format f) {
    static const char *const names[] = {"trl_chat", "trl_text", "implicit_chat", "hh", "sharegpt"};
    return f >= 0 && f < VKT_PREF_FMT_COUNT ? names[f] : "unknown";
}
