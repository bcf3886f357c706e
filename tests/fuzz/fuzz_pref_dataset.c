/* Preference data records (sft/pref_dataset.c, sft/pref_record.c, sft/json_records.c): the input as one
 * file's contents (a JSON array when it starts with '[', else JSONL), read failing on the first bad
 * record and again skipping bad records. Every accepted pair must keep the promises of pref_dataset.h:
 * a chat pair has a non-empty prompt of {role, content string} messages ending on a user or tool turn,
 * and two completions that start and end with an assistant message and hold only assistant and tool
 * messages; a text pair has its three strings; chosen and rejected differ and are not both empty; the
 * counts per form and of empty answers add up; every pair knows its file and line. A seeded split of
 * an accepted set keeps every pair once. */
#include <string.h>

#include "fuzz.h"
#include "sft/pref_dataset.h"

static const char *role_of(const cJSON *m) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    FUZZ_CHECK(cJSON_IsString(role) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "content")));
    return role->valuestring;
}

static void check_completion(const cJSON *c) {
    int n = cJSON_GetArraySize(c), i = 0;
    FUZZ_CHECK(cJSON_IsArray(c) && n >= 1);
    const cJSON *m;
    cJSON_ArrayForEach(m, c) {
        const char *r = role_of(m);
        FUZZ_CHECK(!strcmp(r, "assistant") || !strcmp(r, "tool"));
        FUZZ_CHECK((i != 0 && i != n - 1) || !strcmp(r, "assistant"));
        i++;
    }
}

static void check_pair(const vkt_pref_dataset *d, const vkt_pref_example *e) {
    FUZZ_CHECK(e->file >= 0 && e->file < d->n_files && e->line >= 1);
    FUZZ_CHECK(e->format >= 0 && e->format < VKT_PREF_FMT_COUNT);
    char where[256];
    vkt_pref_example_where(d, e, where, sizeof where);
    if (e->kind == VKT_PREF_TEXT) {
        FUZZ_CHECK(e->format == VKT_PREF_FMT_EXPLICIT_TEXT && e->prompt_text && e->chosen_text && e->rejected_text);
        FUZZ_CHECK(strcmp(e->chosen_text, e->rejected_text) != 0 && (*e->chosen_text || *e->rejected_text));
        FUZZ_CHECK(!e->prompt && !e->chosen && !e->rejected && !e->tools);
        return;
    }
    FUZZ_CHECK(e->kind == VKT_PREF_CHAT && cJSON_IsArray(e->prompt) && cJSON_GetArraySize(e->prompt) >= 1);
    const cJSON *m, *last = NULL;
    cJSON_ArrayForEach(m, e->prompt) {
        role_of(m);
        last = m;
    }
    FUZZ_CHECK(!strcmp(role_of(last), "user") || !strcmp(role_of(last), "tool"));
    check_completion(e->chosen);
    check_completion(e->rejected);
    FUZZ_CHECK(!cJSON_Compare(e->chosen, e->rejected, true));
    FUZZ_CHECK(!e->tools || cJSON_IsArray(e->tools));
}

static void check_dataset(const vkt_pref_dataset *d) {
    int64_t sum = 0, empty = 0;
    for (int f = 0; f < VKT_PREF_FMT_COUNT; f++) sum += d->n_format[f];
    FUZZ_CHECK(sum == d->n);
    for (int64_t i = 0; i < d->n; i++) {
        check_pair(d, &d->ex[i]);
        empty += vkt_pref_example_has_empty_answer(&d->ex[i]);
    }
    FUZZ_CHECK(empty == d->n_empty_answer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int skip = 0; skip < 2; skip++) {
        vkt_pref_dataset d = {0};
        vkt_pref_load_opts o = {.skip_bad = skip == 1};
        if (vkt_pref_dataset_add_mem(&d, (const char *)data, size, "fuzz.jsonl", &o) == VKT_OK) {
            check_dataset(&d);
            int64_t n = d.n;
            vkt_pref_dataset tr, va;
            if (n >= 2 && vkt_pref_dataset_split(&d, 0.5, 7, &tr, &va) == VKT_OK) {
                FUZZ_CHECK(tr.n + va.n == n && tr.n >= 1 && va.n >= 1);
                check_dataset(&tr);
                check_dataset(&va);
                vkt_pref_dataset_free(&tr);
                vkt_pref_dataset_free(&va);
            }
        }
        vkt_pref_dataset_free(&d);
    }
    return 0;
}
