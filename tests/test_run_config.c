/* Run configs: defaults, files, overrides, and errors that name the key. Pure CPU. */
#include <stdio.h>

#include "expect.h"
#include <stdlib.h>
#include <string.h>

#include "io/run_config.h"


static vkt_status load_text(vkt_run_config *c, const char *text) {
    char path[] = "/tmp/vkt_run_config_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    vkt_status s = vkt_run_config_load(path, c);
    remove(path);
    return s;
}

int main(void) {
    vkt_run_config c;
    vkt_run_config_defaults(&c);
    EXPECT(vkt_run_config_validate(&c) == VKT_OK);
    EXPECT(c.model.arch == VKT_ARCH_GPT2 && c.model.n_embd == 128 && c.model.n_layer == 4);

    EXPECT(load_text(&c, "{\"model\":{\"preset\":\"llama-tiny\",\"num_hidden_layers\":2},"
                         "\"optim\":{\"lr\":0.0003,\"batch_size\":4},\"data\":{\"objective\":\"fim\"}}") == VKT_OK);
    EXPECT(vkt_run_config_set(&c, "optim.steps=10") == VKT_OK);
    EXPECT(vkt_run_config_set(&c, "model.hidden_size=128") == VKT_OK);
    EXPECT(vkt_run_config_set(&c, "output.dir=runs/x y") == VKT_OK);
    EXPECT(vkt_run_config_validate(&c) == VKT_OK);
    EXPECT(c.model.arch == VKT_ARCH_LLAMA && c.model.n_layer == 2 && c.model.n_embd == 128);
    EXPECT(c.model.head_dim == 16); /* follows the new width: 128 / 8 heads */
    EXPECT(c.lr == 0.0003 && c.batch_size == 4 && c.steps == 10 && c.objective == VKT_OBJ_FIM);
    EXPECT(strcmp(c.out_dir, "runs/x y") == 0);
    vkt_run_config_free(&c);

    printf("expected errors follow:\n");
    vkt_run_config_defaults(&c);
    EXPECT(load_text(&c, "{\"optim\":{\"lr\":\"fast\"}}") == VKT_ERR_FORMAT);
    EXPECT(load_text(&c, "{\"optim\":{\"learning_rate\":0.1}}") == VKT_ERR_FORMAT);
    EXPECT(load_text(&c, "{\"optimizer\":{}}") == VKT_ERR_FORMAT);
    EXPECT(load_text(&c, "{\"optim\":{\"batch_size\":0}}") == VKT_ERR_FORMAT);
    EXPECT(load_text(&c, "{\"optim\":{\"batch_size\":2.5}}") == VKT_ERR_FORMAT);
    EXPECT(load_text(&c, "{\"optim\":{\"lr\":1e-3,}}") == VKT_ERR_FORMAT);
    EXPECT(load_text(&c, "{\"data\":{\"objective\":\"gan\"}}") == VKT_ERR_FORMAT);
    EXPECT(vkt_run_config_set(&c, "lr=3") == VKT_ERR_ARG);
    EXPECT(vkt_run_config_load("/nonexistent/config.json", &c) == VKT_ERR_IO);
    vkt_run_config_free(&c);
    vkt_run_config_defaults(&c);
    EXPECT(vkt_run_config_set(&c, "model.n_layerz=3") == VKT_OK); /* checked when resolved */
    EXPECT(vkt_run_config_validate(&c) == VKT_ERR_FORMAT);
    vkt_run_config_free(&c);
    vkt_run_config_defaults(&c);
    EXPECT(vkt_run_config_set(&c, "optim.seq_len=100000") == VKT_OK);
    EXPECT(vkt_run_config_validate(&c) == VKT_ERR_FORMAT);
    vkt_run_config_free(&c);

    return expect_finish("run_config");
}
