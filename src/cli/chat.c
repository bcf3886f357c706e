/* `vktrain chat`: talk to a model with its chat template, in the terminal or one-shot for scripts. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/chat.h"
#include "chat/chat_rag.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "core/log.h"
#include "data/tok_util.h"

static void help(void) {
    printf("usage: vktrain chat MODEL [--adapter DIR] [--system TEXT] [--template NAME|FILE] [--messages FILE|-]\n"
           "                    [--tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--context T]\n"
           "                    [--index INDEX [--k K] [--context-in user|system]] [--tokenizer SPEC] [--device INDEX|NAME]\n\n"
           "An interactive chat with MODEL (any model `sample` takes) using its own chat template (the\n"
           "chat_template of the tokenizer_config.json beside its tokenizer) or --template: \"chatml\", \"llama3\",\n"
           "a .jinja file or a tokenizer_config.json. Each line you type is a user turn; the reply streams as it is\n"
           "sampled, up to an end-of-turn token. The KV cache is kept between turns, so only the new turn is computed;\n"
           "when the history outgrows the context, the oldest turns are left out (the system message stays).\n"
           "Commands: /reset (forget the history), /exit (or end of input).\n"
           "--messages FILE (\"-\": standard input) answers once and exits: FILE holds a JSON array of messages\n"
           "[{\"role\":\"user\",\"content\":\"...\"}, ...] or an object {\"messages\": [...], \"tools\": [...]}; the\n"
           "reply is printed as it is sampled. --adapter DIR merges a PEFT LoRA adapter into the weights first.\n"
           "--index INDEX (built by `vktrain index`) retrieves the K (default 3) best passages for each user message\n"
           "and puts them before the question (or in the system message with --context-in system), as\n"
           "data.retrieve does in fine-tuning; the history keeps the questions without them.\n"
           "Defaults: 256 tokens per reply, temperature 0.7, top-k 40, top-p 0.95, seed 1337.\n");
}

typedef struct {
    vkt_rag_index *index; /* NULL: no retrieval */
    int32_t k;
    vkt_context_place place;
} retrieval;

/* The reply to messages, with the retrieved passages added to a copy of them when there is an index. */
static vkt_status reply_to(vkt_chat *c, const cJSON *messages, const cJSON *tools, const retrieval *rt,
                           const vkt_generate_opts *go, char **reply, int *dropped) {
    if (!rt->index) return vkt_chat_reply(c, messages, tools, go, reply, dropped);
    cJSON *req = cJSON_Duplicate(messages, true);
    vkt_status s = req ? vkt_chat_retrieve(rt->index, rt->k, rt->place, req) : VKT_ERR_OOM;
    if (s == VKT_OK) s = vkt_chat_reply(c, req, tools, go, reply, dropped);
    cJSON_Delete(req);
    return s;
}

static cJSON *message(const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    return m;
}

/* The conversation in a --messages file: a messages array, or {"messages": [...], "tools": [...]}. */
static vkt_status read_messages(const char *path, cJSON **doc, const cJSON **messages, const cJSON **tools) {
    char *text = NULL;
    size_t len = 0;
    vkt_status s = strcmp(path, "-") == 0 ? vkt_tok_read_file("/dev/stdin", "--messages", &text, &len)
                                          : vkt_tok_read_file(path, "--messages", &text, &len);
    VKT_TRY(s);
    *doc = cJSON_ParseWithLength(text, len);
    free(text);
    *messages = *tools = NULL;
    if (cJSON_IsArray(*doc)) *messages = *doc;
    else if (cJSON_IsObject(*doc)) {
        *messages = cJSON_GetObjectItemCaseSensitive(*doc, "messages");
        *tools = cJSON_GetObjectItemCaseSensitive(*doc, "tools");
    }
    if (!cJSON_IsArray(*messages) || cJSON_GetArraySize(*messages) == 0 || (*tools && !cJSON_IsArray(*tools))) {
        vkt_log_error("--messages %s: expected a JSON array of messages [{\"role\": ..., \"content\": ...}] or an object "
                      "{\"messages\": [...], \"tools\": [...]}%s", path, *doc ? "" : " (the file is not valid JSON)");
        cJSON_Delete(*doc);
        *doc = NULL;
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

static vkt_status one_shot(vkt_chat *c, const char *path, const char *system, const retrieval *rt,
                           const vkt_generate_opts *go) {
    cJSON *doc;
    const cJSON *messages, *tools;
    VKT_TRY(read_messages(path, &doc, &messages, &tools));
    cJSON *use = (cJSON *)messages;
    if (system) {
        use = cJSON_Duplicate(messages, true);
        cJSON_InsertItemInArray(use, 0, message("system", system));
    }
    char *reply = NULL;
    int dropped = 0;
    vkt_status s = reply_to(c, use, tools, rt, go, &reply, &dropped);
    if (s == VKT_OK) printf("\n");
    if (s == VKT_OK && dropped) vkt_log_warn("chat: %d oldest message(s) left out to fit the context", dropped);
    free(reply);
    if (use != messages) cJSON_Delete(use);
    cJSON_Delete(doc);
    return s;
}

static vkt_status interactive(vkt_chat *c, const char *system, const retrieval *rt, vkt_generate_opts *go) {
    bool tty = isatty(STDIN_FILENO);
    cJSON *history = cJSON_CreateArray();
    if (system) cJSON_AddItemToArray(history, message("system", system));
    char *line = NULL;
    size_t cap = 0;
    vkt_status s = VKT_OK;
    for (;;) {
        if (tty) printf("> "), fflush(stdout);
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        if (strcmp(line, "/exit") == 0 || strcmp(line, "/quit") == 0) break;
        if (strcmp(line, "/reset") == 0) {
            while (cJSON_GetArraySize(history) > (system ? 1 : 0))
                cJSON_DeleteItemFromArray(history, cJSON_GetArraySize(history) - 1);
            printf("(history cleared)\n");
            continue;
        }
        cJSON_AddItemToArray(history, message("user", line));
        char *reply = NULL;
        int dropped = 0;
        s = reply_to(c, history, NULL, rt, go, &reply, &dropped);
        if (s != VKT_OK) {
            cJSON_DeleteItemFromArray(history, cJSON_GetArraySize(history) - 1); /* the turn is not kept */
            if (s == VKT_ERR_ARG) { s = VKT_OK; continue; }                       /* too long: say so, go on */
            break;
        }
        printf("\n");
        if (dropped) printf("(the %d oldest message(s) no longer fit the context and were left out)\n", dropped);
        cJSON_AddItemToArray(history, message("assistant", reply));
        free(reply);
        go->seed++; /* a new draw per turn */
    }
    free(line);
    cJSON_Delete(history);
    return s;
}

int vkt_cli_chat(int argc, char **argv) {
    const char *from = NULL, *tok_spec = NULL, *adapter = NULL, *system = NULL, *tmpl_spec = NULL, *messages = NULL;
    int64_t context = 0;
    const char *index_path = NULL, *place = "user";
    retrieval rt = {.k = 3};
    vkt_device_opts dopts = vkt_device_opts_default();
    vkt_generate_opts go = {.max_tokens = 256, .sampler = {.temperature = 0.7, .top_k = 40, .top_p = 0.95},
                            .seed = 1337, .stream = stdout};
    for (int i = 1; i < argc; i++) {
        if (vkt_cli_is_help(argv[i])) return help(), 0;
        else if (vkt_cli_opt(argc, argv, &i, "--system")) system = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--template")) tmpl_spec = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--messages")) messages = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--tokens")) go.max_tokens = vkt_cli_i64("--tokens", argv[i], 1, INT32_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--temperature")) go.sampler.temperature = vkt_cli_f64("--temperature", argv[i], 0, 1e6);
        else if (vkt_cli_opt(argc, argv, &i, "--top-k")) go.sampler.top_k = vkt_cli_i64("--top-k", argv[i], 0, INT32_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--top-p")) go.sampler.top_p = vkt_cli_f64("--top-p", argv[i], 0, 1);
        else if (vkt_cli_opt(argc, argv, &i, "--seed")) go.seed = (uint64_t)vkt_cli_i64("--seed", argv[i], 0, INT64_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--context")) context = vkt_cli_i64("--context", argv[i], 0, INT32_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--tokenizer")) tok_spec = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--adapter")) adapter = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--index")) index_path = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--k")) rt.k = (int32_t)vkt_cli_i64("--k", argv[i], 1, 64);
        else if (vkt_cli_opt(argc, argv, &i, "--context-in")) place = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--device")) vkt_cli_device_arg(argv[i], &dopts);
        else if (argv[i][0] != '-' && !from) from = argv[i];
        else {
            fprintf(stderr, "vktrain chat: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (!from) {
        fprintf(stderr, "vktrain chat: give a MODEL (try --help)\n");
        return 2;
    }
    if (vkt_context_place_parse(place, "--context-in", &rt.place) != VKT_OK) return 2;
    if (index_path && vkt_rag_index_open(index_path, &rt.index) != VKT_OK) return 1;
    vkt_device *dev;
    if (vkt_device_create(&dopts, &dev) != VKT_OK) return vkt_rag_index_close(rt.index), 1;
    vkt_model *m = NULL;
    vkt_tokenizer *tok = NULL;
    vkt_chat_template *tmpl = NULL;
    vkt_chat *c = NULL;
    char spec[1024] = "";
    vkt_status s = vkt_cli_load_for_generation(dev, from, adapter, tok_spec, &m, &tok, spec, sizeof spec);
    if (s == VKT_OK) s = vkt_chat_template_resolve(tmpl_spec, spec, tok, &tmpl);
    if (s == VKT_OK) s = vkt_chat_create(dev, m, tok, tmpl, context, &c);
    if (s == VKT_OK) s = messages ? one_shot(c, messages, system, &rt, &go) : interactive(c, system, &rt, &go);
    vkt_chat_destroy(c);
    vkt_chat_template_free(tmpl);
    vkt_tok_free(tok);
    vkt_model_destroy(m);
    vkt_device_destroy(dev);
    vkt_rag_index_close(rt.index);
    return s == VKT_OK ? 0 : 1;
}
