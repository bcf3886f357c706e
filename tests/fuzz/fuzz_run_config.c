/* Run config JSON (io/run_config.c): a config file applied over the defaults, cross-field
 * validation (which resolves the model section through model/model_config.c) and the printout;
 * the input is also tried as one command-line override "section.key=value". */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "io/json_file.h"
#include "io/run_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkt_run_config c;
    vkt_run_config_defaults(&c);
    cJSON *root;
    if (vkt_json_parse((const char *)data, size, "fuzz.json", &root) == VKT_OK) {
        if (vkt_run_config_apply(&c, root, "fuzz.json") == VKT_OK && vkt_run_config_validate(&c) == VKT_OK) {
            FUZZ_CHECK(c.batch_size >= 1 && c.seq_len >= 1 && c.lr_min <= c.lr);
            vkt_run_config_print(&c);
        }
        cJSON_Delete(root);
    }
    vkt_run_config_free(&c);
    vkt_run_config_defaults(&c);
    char *line = fuzz_strndup(data, size);
    if (vkt_run_config_set(&c, line) == VKT_OK) (void)vkt_run_config_validate(&c);
    free(line);
    vkt_run_config_free(&c);
    return 0;
}
