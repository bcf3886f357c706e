/* SFT data records (sft/sft_dataset.c, sft/sft_record.c): the input as one file's contents (a JSON
 * array when it starts with '[', else JSONL), read failing on the first bad record and again
 * skipping bad records. Every accepted example must keep the promises of sft_dataset.h: a
 * conversation is a non-empty list of {role, content string} messages in the four roles, ending with
 * a non-empty assistant message, with a train flag per message and at least one set on an assistant
 * message; prompt/completion and text examples have their non-empty strings; every example knows its
 * file and line. A seeded split of an accepted set keeps every example once. */
#include <string.h>

#include "fuzz.h"
#include "sft/sft_dataset.h"

static void check_example(const vkt_sft_dataset *d, const vkt_sft_example *e) {
    FUZZ_CHECK(e->file >= 0 && e->file < d->n_files && e->line >= 1);
    char where[256];
    vkt_sft_example_where(d, e, where, sizeof where);
    if (e->kind == VKT_SFT_PROMPT_COMPLETION) {
        FUZZ_CHECK(e->prompt && e->completion && e->completion[0]);
        return;
    }
    if (e->kind == VKT_SFT_TEXT) {
        FUZZ_CHECK(e->text && e->text[0]);
        return;
    }
    FUZZ_CHECK(e->kind == VKT_SFT_CHAT && cJSON_IsArray(e->messages) && e->train);
    int n = cJSON_GetArraySize(e->messages), trained = 0, i = 0;
    FUZZ_CHECK(n >= 1);
    const cJSON *m, *last = NULL;
    cJSON_ArrayForEach(m, e->messages) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        FUZZ_CHECK(cJSON_IsString(role) && cJSON_IsString(content));
        bool asst = strcmp(role->valuestring, "assistant") == 0;
        FUZZ_CHECK(asst || !strcmp(role->valuestring, "user") || !strcmp(role->valuestring, "system") ||
                   !strcmp(role->valuestring, "tool"));
        FUZZ_CHECK(e->train[i] == 0 || (e->train[i] == 1 && asst));
        trained += e->train[i++];
        last = m;
    }
    FUZZ_CHECK(trained >= 1);
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(last, "tool_calls");
    FUZZ_CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(last, "role")->valuestring, "assistant"));
    FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(last, "content")->valuestring[0] || cJSON_IsArray(calls));
    FUZZ_CHECK(!e->tools || cJSON_IsArray(e->tools));
}

static void check_dataset(const vkt_sft_dataset *d) {
    int64_t sum = 0;
    for (int f = 0; f < VKT_SFT_FMT_COUNT; f++) sum += d->n_format[f];
    FUZZ_CHECK(sum == d->n);
    for (int64_t i = 0; i < d->n; i++) check_example(d, &d->ex[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int skip = 0; skip < 2; skip++) {
        vkt_sft_dataset d = {0};
        vkt_sft_load_opts o = {.skip_bad = skip == 1};
        if (vkt_sft_dataset_add_mem(&d, (const char *)data, size, "fuzz.jsonl", &o) == VKT_OK) {
            check_dataset(&d);
            int64_t n = d.n;
            vkt_sft_dataset tr, va;
            if (n >= 2 && vkt_sft_dataset_split(&d, 0.5, 7, &tr, &va) == VKT_OK) {
                FUZZ_CHECK(tr.n + va.n == n && tr.n >= 1 && va.n >= 1);
                check_dataset(&tr);
                check_dataset(&va);
                vkt_sft_dataset_free(&tr);
                vkt_sft_dataset_free(&va);
            }
        }
        vkt_sft_dataset_free(&d);
    }
    return 0;
}
