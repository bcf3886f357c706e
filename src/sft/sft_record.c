/* One SFT record -> one vkt_sft_example: format detection by keys, validation with a reason that names
 * the key, and conversion of ShareGPT, TRL prompt/completion and Alpaca records to Hugging Face
 * messages (see sft_dataset.h for the formats). Reading files and folders is sft_dataset.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sft/sft_dataset.h"
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

static const char *type_name(const cJSON *j) {
    if (!j) return "missing";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    return "invalid";
}

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* The string at o[key]; required: missing is an error; optional: missing or null gives "". */
static vkt_status get_string(const cJSON *o, const char *key, const char *where, bool required, const char **out,
                             why_t *w) {
    const cJSON *v = get(o, key);
    if (cJSON_IsString(v)) {
        *out = v->valuestring;
        return VKT_OK;
    }
    if (!required && (!v || cJSON_IsNull(v))) {
        *out = "";
        return VKT_OK;
    }
    if (!v) return fail(w, "%s%s\"%s\" is missing; it must be a string", where, *where ? "." : "", key);
    return fail(w, "%s%s\"%s\" is %s; it must be a string", where, *where ? "." : "", key, type_name(v));
}

/* Conversation under construction: HF messages and a train flag per message. */
typedef struct {
    cJSON *msgs;
    uint8_t *train;
    int n, cap;
} conv_t;

static vkt_status conv_push(conv_t *c, cJSON *msg, bool train) {
    if (!msg) return VKT_ERR_OOM;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 8;
        uint8_t *t = realloc(c->train, (size_t)cap);
        if (!t) {
            cJSON_Delete(msg);
            return VKT_ERR_OOM;
        }
        c->train = t, c->cap = cap;
    }
    c->train[c->n++] = train;
    cJSON_AddItemToArray(c->msgs, msg);
    return VKT_OK;
}

static cJSON *new_message(const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    if (m && (!cJSON_AddStringToObject(m, "role", role) || !cJSON_AddStringToObject(m, "content", content))) {
        cJSON_Delete(m);
        return NULL;
    }
    return m;
}

/* Content as one string: a string, or text parts {"type": "text", "text" | "value": ...} joined. */
static vkt_status content_text(const cJSON *c, const char *where, char **out, why_t *w) {
    if (cJSON_IsString(c)) return (*out = strdup(c->valuestring)) ? VKT_OK : VKT_ERR_OOM;
    if (!cJSON_IsArray(c))
        return fail(w, "%s.content is %s; it must be a string or a list of {\"type\": \"text\", \"text\": ...} parts",
                    where, type_name(c));
    size_t len = 0;
    int i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, c) {
        const cJSON *type = get(p, "type"), *t = get(p, "text");
        if (!t) t = get(p, "value");
        if (!cJSON_IsObject(p) || !cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0)
            return fail(w, "%s.content[%d] %s%s%s; only text parts {\"type\": \"text\", \"text\": ...} are supported",
                        where, i, cJSON_IsString(type) ? "has type \"" : "is not a {\"type\": ...} object",
                        cJSON_IsString(type) ? type->valuestring : "", cJSON_IsString(type) ? "\"" : "");
        if (!cJSON_IsString(t)) return fail(w, "%s.content[%d] has no \"text\" (or \"value\") string", where, i);
        len += strlen(t->valuestring);
        i++;
    }
    char *s = malloc(len + 1);
    if (!s) return VKT_ERR_OOM;
    s[0] = 0;
    size_t o = 0;
    cJSON_ArrayForEach(p, c) {
        const cJSON *t = get(p, "text");
        if (!t) t = get(p, "value");
        size_t l = strlen(t->valuestring);
        memcpy(s + o, t->valuestring, l + 1);
        o += l;
    }
    *out = s;
    return VKT_OK;
}

/* A JSON object given as an object or as a string holding one; *out is new. */
static vkt_status object_or_json_string(const cJSON *v, const char *where, cJSON **out, why_t *w) {
    if (cJSON_IsObject(v)) return (*out = cJSON_Duplicate(v, true)) ? VKT_OK : VKT_ERR_OOM;
    if (cJSON_IsString(v)) {
        cJSON *p = cJSON_Parse(v->valuestring);
        if (cJSON_IsObject(p)) return (*out = p, VKT_OK);
        cJSON_Delete(p);
        return fail(w, "%s is a string that is not a JSON object", where);
    }
    return fail(w, "%s is %s; it must be an object (or a string of JSON)", where, type_name(v));
}

/* A tool call, full {"type": "function", "function": {...}} or short {"name", "arguments"} form, to
 * the full form with arguments as an object ("parameters" is read as "arguments"). */
static vkt_status tool_call(const cJSON *tc, const char *where, cJSON **out, why_t *w) {
    *out = NULL;
    if (!cJSON_IsObject(tc)) return fail(w, "%s is %s; a tool call must be an object", where, type_name(tc));
    const cJSON *fn = cJSON_IsObject(get(tc, "function")) ? get(tc, "function") : tc;
    const char *name;
    char sub[160];
    snprintf(sub, sizeof sub, "%s%s", where, fn == tc ? "" : ".function");
    VKT_TRY(get_string(fn, "name", sub, true, &name, w));
    const cJSON *a = get(fn, "arguments");
    if (!a) a = get(fn, "parameters");
    cJSON *args = NULL;
    snprintf(sub, sizeof sub, "%s%s.arguments", where, fn == tc ? "" : ".function");
    if (a && !cJSON_IsNull(a))
        VKT_TRY(object_or_json_string(a, sub, &args, w));
    else if (!(args = cJSON_CreateObject()))
        return VKT_ERR_OOM;
    cJSON *o = cJSON_CreateObject(), *f = cJSON_CreateObject();
    const cJSON *id = get(tc, "id");
    bool ok = o && f && cJSON_AddStringToObject(o, "type", "function") && cJSON_AddStringToObject(f, "name", name) &&
              (!cJSON_IsString(id) || cJSON_AddStringToObject(o, "id", id->valuestring));
    if (ok) {
        cJSON_AddItemToObject(f, "arguments", args);
        cJSON_AddItemToObject(o, "function", f);
        *out = o;
        return VKT_OK;
    }
    cJSON_Delete(args);
    cJSON_Delete(f);
    cJSON_Delete(o);
    return VKT_ERR_OOM;
}

/* Appends the normalized tool calls of list (an array, or one call object) to a new "tool_calls". */
static vkt_status add_tool_calls(cJSON *msg, const cJSON *list, const char *where, why_t *w) {
    cJSON *arr = cJSON_AddArrayToObject(msg, "tool_calls");
    if (!arr) return VKT_ERR_OOM;
    if (cJSON_IsObject(list)) {
        cJSON *tc;
        VKT_TRY(tool_call(list, where, &tc, w));
        cJSON_AddItemToArray(arr, tc);
        return VKT_OK;
    }
    if (!cJSON_IsArray(list)) return fail(w, "%s is %s; it must be a list of tool calls", where, type_name(list));
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s[%d]", where, i++);
        cJSON *tc;
        VKT_TRY(tool_call(e, sub, &tc, w));
        cJSON_AddItemToArray(arr, tc);
    }
    return VKT_OK;
}

static const char *const ROLES[] = {"system", "user", "assistant", "tool"};

/* Appends the messages of list (HF layout) to c; assistant messages get train = trained unless their
 * loss_weight is 0. key names the list in messages. */
static vkt_status add_messages(conv_t *c, const cJSON *list, const char *key, bool trained, why_t *w) {
    if (!cJSON_IsArray(list)) return fail(w, "\"%s\" is %s; it must be a list of messages", key, type_name(list));
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, list) {
        char where[96];
        snprintf(where, sizeof where, "%s[%d]", key, i++);
        if (!cJSON_IsObject(m)) return fail(w, "%s is %s; a message must be an object", where, type_name(m));
        const char *role;
        VKT_TRY(get_string(m, "role", where, true, &role, w));
        int r = 0;
        while (r < 4 && strcmp(role, ROLES[r]) != 0) r++;
        if (r == 4) return fail(w, "%s.role is \"%.40s\"; expected system, user, assistant or tool", where, role);
        const cJSON *calls = get(m, "tool_calls"), *content = get(m, "content"), *lw = get(m, "loss_weight");
        bool has_calls = calls && !cJSON_IsNull(calls) && !(cJSON_IsArray(calls) && cJSON_GetArraySize(calls) == 0);
        if (has_calls && r != 2)
            return fail(w, "%s has tool_calls but role \"%s\"; only assistant messages call tools", where, role);
        if (lw && !cJSON_IsNumber(lw))
            return fail(w, "%s.loss_weight is %s; it must be a number", where, type_name(lw));
        char *text = NULL;
        if ((!content || cJSON_IsNull(content)) && has_calls)
            text = strdup("");
        else if (!content)
            return fail(w, "%s has no \"content\"", where);
        else
            VKT_TRY(content_text(content, where, &text, w));
        if (!text) return VKT_ERR_OOM;
        cJSON *out = new_message(role, text);
        free(text);
        if (!out) return VKT_ERR_OOM;
        vkt_status s = VKT_OK;
        const cJSON *kv;
        cJSON_ArrayForEach(kv, m) { /* other keys (name, tool_call_id, reasoning_content, ...) as they are */
            const char *k = kv->string;
            if (strcmp(k, "role") && strcmp(k, "content") && strcmp(k, "tool_calls") && strcmp(k, "loss_weight") &&
                !cJSON_AddItemToObject(out, k, cJSON_Duplicate(kv, true)))
                s = VKT_ERR_OOM;
        }
        char sub[128];
        snprintf(sub, sizeof sub, "%s.tool_calls", where);
        if (s == VKT_OK && has_calls) s = add_tool_calls(out, calls, sub, w);
        if (s != VKT_OK) {
            cJSON_Delete(out);
            return s;
        }
        VKT_TRY(conv_push(c, out, r == 2 && trained && !(lw && lw->valuedouble == 0)));
    }
    return VKT_OK;
}

/* Record "tools": a list of functions (or a string of JSON holding one), to HF layout. */
static vkt_status read_tools(const cJSON *rec, cJSON **out, why_t *w) {
    *out = NULL;
    const cJSON *t = get(rec, "tools");
    if (!t || cJSON_IsNull(t) || (cJSON_IsString(t) && !*t->valuestring)) return VKT_OK;
    cJSON *parsed = NULL;
    if (cJSON_IsString(t)) {
        parsed = cJSON_Parse(t->valuestring);
        if (!cJSON_IsArray(parsed)) {
            cJSON_Delete(parsed);
            return fail(w, "\"tools\" is a string that is not a JSON list of functions");
        }
        t = parsed;
    }
    vkt_status s = VKT_OK;
    if (!cJSON_IsArray(t)) s = fail(w, "\"tools\" is %s; it must be a list of functions", type_name(t));
    cJSON *arr = s == VKT_OK ? cJSON_CreateArray() : NULL;
    if (s == VKT_OK && !arr) s = VKT_ERR_OOM;
    int i = 0;
    const cJSON *e, *list = s == VKT_OK ? t : NULL;
    cJSON_ArrayForEach(e, list) {
        const cJSON *fn = cJSON_IsObject(get(e, "function")) ? get(e, "function") : e;
        char where[64];
        snprintf(where, sizeof where, "tools[%d]%s", i++, fn == e ? "" : ".function");
        const char *name;
        if (!cJSON_IsObject(e)) s = fail(w, "%s is %s; a tool must be an object", where, type_name(e));
        if (s == VKT_OK) s = get_string(fn, "name", where, true, &name, w);
        cJSON *o = s == VKT_OK ? cJSON_CreateObject() : NULL;
        if (s == VKT_OK && (!o || !cJSON_AddStringToObject(o, "type", "function") ||
                            !cJSON_AddItemToObject(o, "function", cJSON_Duplicate(fn, true))))
            s = VKT_ERR_OOM;
        if (o) cJSON_AddItemToArray(arr, o);
        if (s != VKT_OK) break;
    }
    cJSON_Delete(parsed);
    if (s != VKT_OK) {
        cJSON_Delete(arr);
        return s;
    }
    *out = arr;
    return VKT_OK;
}

static vkt_status from_sharegpt(const cJSON *rec, conv_t *c, why_t *w) {
    const cJSON *list = get(rec, "conversations");
    if (!cJSON_IsArray(list))
        return fail(w, "\"conversations\" is %s; it must be a list of {from, value}", type_name(list));
    const char *system;
    VKT_TRY(get_string(rec, "system", "", false, &system, w));
    const cJSON *first = cJSON_GetArrayItem(list, 0), *from0 = get(first, "from");
    if (*system && !(cJSON_IsString(from0) && strcmp(from0->valuestring, "system") == 0))
        VKT_TRY(conv_push(c, new_message("system", system), false));
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, list) {
        char where[64];
        snprintf(where, sizeof where, "conversations[%d]", i);
        const char *from, *value;
        if (!cJSON_IsObject(m)) return fail(w, "%s is %s; a turn must be an object {from, value}", where, type_name(m));
        VKT_TRY(get_string(m, "from", where, true, &from, w));
        VKT_TRY(get_string(m, "value", where, true, &value, w));
        static const char *const from_names[] = {"human", "user", "gpt", "assistant", "system", "observation", "tool"};
        static const char *const to_role[] = {"user", "user", "assistant", "assistant", "system", "tool", "tool"};
        int k = 0;
        while (k < 7 && strcmp(from, from_names[k]) != 0) k++;
        if (k == 4 && i > 0)
            return fail(w, "%s is a system turn but not the first; only the first turn may be system", where);
        if (k < 7) {
            VKT_TRY(conv_push(c, new_message(to_role[k], value), k == 2 || k == 3));
        } else if (strcmp(from, "function_call") == 0) {
            cJSON *calls = cJSON_Parse(value), *msg = new_message("assistant", "");
            char sub[96];
            snprintf(sub, sizeof sub, "%s.value", where);
            vkt_status s =
                !msg     ? VKT_ERR_OOM
                : !calls ? fail(w, "%s (function_call) is not JSON of {\"name\", \"arguments\"} or a list of them", sub)
                         : add_tool_calls(msg, calls, sub, w);
            cJSON_Delete(calls);
            if (s != VKT_OK) {
                cJSON_Delete(msg);
                return s;
            }
            VKT_TRY(conv_push(c, msg, true));
        } else {
            return fail(w,
                        "%s.from is \"%.40s\"; expected human, gpt, system, function_call or observation (or user, "
                        "assistant, tool)",
                        where, from);
        }
        i++;
    }
    return VKT_OK;
}

static vkt_status from_alpaca(const cJSON *rec, conv_t *c, why_t *w) {
    const char *ins, *input, *output, *system;
    VKT_TRY(get_string(rec, "instruction", "", true, &ins, w));
    VKT_TRY(get_string(rec, "input", "", false, &input, w));
    VKT_TRY(get_string(rec, "output", "", true, &output, w));
    VKT_TRY(get_string(rec, "system", "", false, &system, w));
    if (!*output) return fail(w, "\"output\" is empty: an empty completion has nothing to learn");
    if (!*ins && !*input) return fail(w, "\"instruction\" and \"input\" are both empty: there is no prompt");
    if (*system) VKT_TRY(conv_push(c, new_message("system", system), false));
    const cJSON *h = get(rec, "history");
    if (h && !cJSON_IsNull(h) && !cJSON_IsArray(h))
        return fail(w, "\"history\" is %s; it must be a list of [instruction, response] pairs", type_name(h));
    int i = 0;
    const cJSON *pair, *pairs = cJSON_IsArray(h) ? h : NULL;
    cJSON_ArrayForEach(pair, pairs) {
        const cJSON *q = cJSON_GetArrayItem(pair, 0), *a = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(q) || !cJSON_IsString(a))
            return fail(w, "history[%d] is not a pair of strings [instruction, response]", i);
        VKT_TRY(conv_push(c, new_message("user", q->valuestring), false));
        VKT_TRY(conv_push(c, new_message("assistant", a->valuestring), true));
        i++;
    }
    size_t li = strlen(ins), ln = strlen(input);
    char *user = malloc(li + ln + 2);
    if (!user) return VKT_ERR_OOM;
    snprintf(user, li + ln + 2, "%s%s%s", ins, li && ln ? "\n" : "", input);
    cJSON *um = new_message("user", user);
    free(user);
    VKT_TRY(conv_push(c, um, false));
    return conv_push(c, new_message("assistant", output), true);
}

/* The checks every conversation passes; what names the list for messages. */
static vkt_status check_conversation(const conv_t *c, const char *what, why_t *w) {
    int last_asst = -1, n_train = 0;
    for (int i = 0; i < c->n; i++) {
        const char *role = get(cJSON_GetArrayItem(c->msgs, i), "role")->valuestring;
        if (strcmp(role, "assistant") == 0) last_asst = i;
        n_train += c->train[i];
    }
    if (last_asst < 0) return fail(w, "%s has no assistant message: nothing to train on", what);
    if (last_asst != c->n - 1)
        return fail(w, "%s ends with a %s message; a conversation must end with an assistant message", what,
                    get(cJSON_GetArrayItem(c->msgs, c->n - 1), "role")->valuestring);
    const cJSON *last = cJSON_GetArrayItem(c->msgs, last_asst);
    if (!*get(last, "content")->valuestring && !get(last, "tool_calls"))
        return fail(w, "%s: the last assistant message is empty (no content, no tool_calls): an empty completion",
                    what);
    if (n_train == 0) return fail(w, "%s: no assistant message carries loss (every loss_weight is 0)", what);
    return VKT_OK;
}

/* "k1, k2, ..." of an object's keys, into buf. */
static const char *key_list(const cJSON *o, char *buf, size_t len) {
    size_t n = 0;
    buf[0] = 0;
    const cJSON *kv;
    cJSON_ArrayForEach(kv, o) {
        int r = snprintf(buf + n, len - n, "%s\"%.32s\"", n ? ", " : "", kv->string);
        if (r < 0 || (size_t)r >= len - n) {
            if (len > 4) strcpy(buf + len - 4, "...");
            break;
        }
        n += (size_t)r;
    }
    return n ? buf : "none";
}

static vkt_status detect_and_convert(const cJSON *rec, vkt_sft_example *e, conv_t *c, why_t *w) {
    const cJSON *p = get(rec, "prompt"), *q = get(rec, "completion"), *t = get(rec, "text");
    if (get(rec, "messages")) {
        e->format = VKT_SFT_FMT_MESSAGES;
        VKT_TRY(add_messages(c, get(rec, "messages"), "messages", true, w));
        return check_conversation(c, "\"messages\"", w);
    }
    if (get(rec, "conversations")) {
        e->format = VKT_SFT_FMT_SHAREGPT;
        VKT_TRY(from_sharegpt(rec, c, w));
        return check_conversation(c, "\"conversations\"", w);
    }
    if (p || q) {
        if (!p || !q)
            return fail(w, "the record has \"%s\" but no \"%s\"", p ? "prompt" : "completion",
                        p ? "completion" : "prompt");
        if (cJSON_IsArray(p) && cJSON_IsArray(q)) {
            e->format = VKT_SFT_FMT_TRL_CHAT;
            VKT_TRY(add_messages(c, p, "prompt", false, w));
            int n_prompt = c->n;
            VKT_TRY(add_messages(c, q, "completion", true, w));
            if (c->n == n_prompt) return fail(w, "\"completion\" is an empty list: an empty completion");
            return check_conversation(c, "\"completion\"", w);
        }
        if (!cJSON_IsString(p) || !cJSON_IsString(q))
            return fail(w, "\"prompt\" is %s and \"completion\" %s; both must be strings, or both lists of messages",
                        type_name(p), type_name(q));
        if (!*q->valuestring) return fail(w, "\"completion\" is empty: an empty completion has nothing to learn");
        e->kind = VKT_SFT_PROMPT_COMPLETION;
        e->format = VKT_SFT_FMT_PROMPT_COMPLETION;
        e->prompt = strdup(p->valuestring);
        e->completion = strdup(q->valuestring);
        return e->prompt && e->completion ? VKT_OK : VKT_ERR_OOM;
    }
    if (get(rec, "instruction") || get(rec, "output")) {
        e->format = VKT_SFT_FMT_ALPACA;
        VKT_TRY(from_alpaca(rec, c, w));
        return check_conversation(c, "the Alpaca record", w);
    }
    if (t) {
        if (!cJSON_IsString(t)) return fail(w, "\"text\" is %s; it must be a string", type_name(t));
        if (!*t->valuestring) return fail(w, "\"text\" is empty");
        e->kind = VKT_SFT_TEXT;
        e->format = VKT_SFT_FMT_TEXT;
        return (e->text = strdup(t->valuestring)) ? VKT_OK : VKT_ERR_OOM;
    }
    char keys[256];
    return fail(w,
                "no recognised keys (found %s); accepted: \"messages\", \"conversations\" (ShareGPT), \"prompt\" + "
                "\"completion\", \"instruction\" + \"output\" (Alpaca), \"text\"",
                key_list(rec, keys, sizeof keys));
}

vkt_status vkt_sft_example_from_json(const cJSON *rec, vkt_sft_example *e, char *why, size_t why_len) {
    memset(e, 0, sizeof *e);
    why_t w = {why, why_len};
    if (why_len) why[0] = 0;
    if (!cJSON_IsObject(rec)) return fail(&w, "the record is %s; it must be a JSON object", type_name(rec));
    conv_t c = {.msgs = cJSON_CreateArray()};
    if (!c.msgs) return VKT_ERR_OOM;
    vkt_status s = detect_and_convert(rec, e, &c, &w);
    const cJSON *gold = get(rec, "gold");
    if (s == VKT_OK && gold && (!cJSON_IsString(gold) || !gold->valuestring[0]))
        s = fail(&w, "\"gold\" is %s; it must be the non-empty path of the document that answers the record",
                 type_name(gold));
    if (s == VKT_OK && gold && !(e->gold = strdup(gold->valuestring))) s = VKT_ERR_OOM;
    if (s == VKT_OK && e->kind == VKT_SFT_CHAT) {
        s = read_tools(rec, &e->tools, &w);
        e->messages = c.msgs, e->train = c.train;
        c.msgs = NULL, c.train = NULL;
    }
    cJSON_Delete(c.msgs);
    free(c.train);
    if (s != VKT_OK) vkt_sft_example_free(e);
    if (s == VKT_ERR_OOM) fail(&w, "out of memory");
    return s;
}

void vkt_sft_example_free(vkt_sft_example *e) {
    if (!e) return;
    cJSON_Delete(e->messages);
    cJSON_Delete(e->tools);
    free(e->train);
    free(e->prompt);
    free(e->completion);
    free(e->text);
    free(e->gold);
    memset(e, 0, sizeof *e);
}

const char *vkt_sft_format_name(vkt_sft_format f) {
    static const char *const names[] = {"messages", "sharegpt",          "trl_prompt_completion",
                                        "alpaca",   "prompt_completion", "text"};
    return f >= 0 && f < VKT_SFT_FMT_COUNT ? names[f] : "unknown";
}

/* Helpers for other record formats (sft/sft_record.h): thin wrappers of the conversions above. */
static vkt_status conv_to_messages(conv_t *c, vkt_status s, cJSON **out, why_t *w) {
    free(c->train);
    if (s != VKT_OK) {
        cJSON_Delete(c->msgs);
        if (s == VKT_ERR_OOM) fail(w, "out of memory");
        return s;
    }
    *out = c->msgs;
    return VKT_OK;
}

vkt_status vkt_sft_messages_from_json(const cJSON *list, const char *key, cJSON **out, char *why, size_t why_len) {
    why_t w = {why, why_len};
    conv_t c = {.msgs = cJSON_CreateArray()};
    *out = NULL;
    if (!c.msgs) return VKT_ERR_OOM;
    return conv_to_messages(&c, add_messages(&c, list, key, false, &w), out, &w);
}

vkt_status vkt_sft_sharegpt_from_json(const cJSON *record, cJSON **out, char *why, size_t why_len) {
    why_t w = {why, why_len};
    conv_t c = {.msgs = cJSON_CreateArray()};
    *out = NULL;
    if (!c.msgs) return VKT_ERR_OOM;
    return conv_to_messages(&c, from_sharegpt(record, &c, &w), out, &w);
}

vkt_status vkt_sft_tools_from_json(const cJSON *record, cJSON **out, char *why, size_t why_len) {
    why_t w = {why, why_len};
    return read_tools(record, out, &w);
}

const char *vkt_sft_json_type_name(const cJSON *j) { return type_name(j); }

const char *vkt_sft_json_keys(const cJSON *o, char *buf, size_t len) { return key_list(o, buf, len); }
