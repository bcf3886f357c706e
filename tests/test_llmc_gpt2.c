/* llm.c GPT-2 checkpoint import/export: a synthetic checkpoint (value = float index, zero padding rows)
 * maps every HF GPT-2 tensor to its llm.c source offset, f32 save reproduces the file byte for byte,
 * bf16 (version 5) round-trips to bf16-rounded values, and bad files fail with messages. Pure CPU. */
#include <stdint.h>

#include "core/half.h"
#include "io/llmc_gpt2.h"
#include "io_testutil.h"

enum { MAXT = 5, V = 7, VP = 8, L = 2, NH = 2, C = 4 };

/* llm.c array sizes in file order (all layers). */
static const int k_sizes[16] = {VP * C, MAXT *C, L *C,         L *C,      L * 3 * C *C, L * 3 * C, L *C *C, L *C,
                                L *C,   L *C,    L * 4 * C *C, L * 4 * C, L *C * 4 * C, L *C,      C,       C};

static float *make_file(const char *path, size_t *bytes) {
    int n = 0;
    for (int i = 0; i < 16; i++) n += k_sizes[i];
    *bytes = 1024 + (size_t)n * 4;
    float *buf = calloc(1, *bytes);
    int32_t h[8] = {20240326, 3, MAXT, V, L, NH, C, VP};
    memcpy(buf, h, sizeof h);
    for (int i = 0; i < n; i++) buf[256 + i] = (V * C <= i && i < VP * C) ? 0.0f : (float)i;
    tu_write(path, buf, *bytes);
    return buf;
}

static void test_layout(const char *dir) {
    size_t bytes;
    const char *path = tu_path(dir, "gpt2.bin");
    float *file = make_file(path, &bytes);
    vkt_gpt2_config c;
    vkt_host_params p = {0};
    CHECK(vkt_llmc_gpt2_load(path, &c, &p) == VKT_OK, "load");
    CHECK(c.max_seq_len == MAXT && c.vocab_size == V && c.padded_vocab_size == VP && c.n_layers == L &&
              c.n_heads == NH && c.channels == C,
          "config");
    CHECK(p.count == 4 + 12 * L, "%d tensors", p.count);
    vkt_gpt2_config hc;
    CHECK(vkt_llmc_gpt2_read_config(path, &hc) == VKT_OK && memcmp(&hc, &c, sizeof c) == 0, "read_config");
    int off[16];
    off[0] = 0;
    for (int i = 1; i < 16; i++) off[i] = off[i - 1] + k_sizes[i - 1];
    struct {
        const char *name;
        int src, rows, cols;
    } want[] = {
        {"transformer.wte.weight", off[0], V, C}, /* padding rows dropped */
        {"transformer.wpe.weight", off[1], MAXT, C},
        {"transformer.h.1.ln_1.weight", off[2] + C, 1, C},
        {"transformer.h.1.ln_1.bias", off[3] + C, 1, C},
        {"transformer.h.1.attn.c_attn.weight", off[4] + 3 * C * C, 3 * C, C},
        {"transformer.h.1.attn.c_attn.bias", off[5] + 3 * C, 1, 3 * C},
        {"transformer.h.0.attn.c_proj.weight", off[6], C, C},
        {"transformer.h.1.attn.c_proj.bias", off[7] + C, 1, C},
        {"transformer.h.1.ln_2.weight", off[8] + C, 1, C},
        {"transformer.h.0.ln_2.bias", off[9], 1, C},
        {"transformer.h.1.mlp.c_fc.weight", off[10] + 4 * C * C, 4 * C, C},
        {"transformer.h.1.mlp.c_fc.bias", off[11] + 4 * C, 1, 4 * C},
        {"transformer.h.1.mlp.c_proj.weight", off[12] + 4 * C * C, C, 4 * C},
        {"transformer.h.1.mlp.c_proj.bias", off[13] + C, 1, C},
        {"transformer.ln_f.weight", off[14], 1, C},
        {"transformer.ln_f.bias", off[15], 1, C},
    };
    for (size_t t = 0; t < sizeof want / sizeof want[0]; t++) {
        const vkt_host_param *e = vkt_host_params_find(&p, want[t].name);
        int n = want[t].rows * want[t].cols, bad = -1;
        if (!e || e->n != n || (want[t].rows > 1 && (e->shape[0] != want[t].rows || e->shape[1] != want[t].cols))) {
            CHECK(0, "%s missing or misshaped", want[t].name);
            continue;
        }
        for (int i = 0; i < n && bad < 0; i++)
            if (e->data[i] != (float)(want[t].src + i)) bad = i;
        CHECK(bad < 0, "%s: element %d comes from the wrong place", want[t].name, bad);
    }
    CHECK(p.items[0].data == vkt_host_params_find(&p, "transformer.wte.weight")->data &&
              !strcmp(p.items[p.count - 1].name, "transformer.ln_f.bias"),
          "table order: wte first, ln_f.bias last");
    CHECK(vkt_gpt2_is_conv1d("h.11.mlp.c_fc.weight") && vkt_gpt2_is_conv1d("h.0.attn.c_attn.weight") &&
              !vkt_gpt2_is_conv1d("h.0.attn.c_attn.bias") && !vkt_gpt2_is_conv1d("wte.weight") &&
              !vkt_gpt2_is_conv1d("h.0.ln_1.weight") && vkt_gpt2_is_conv1d("transformer.h.3.attn.c_proj.weight") &&
              !vkt_gpt2_is_conv1d("transformer.h.3.attn.c_proj.bias"),
          "is_conv1d");

    /* f32 save reproduces the file exactly (padding rows are zero in both). */
    const char *p2 = tu_path(dir, "gpt2_saved.bin");
    CHECK(vkt_llmc_gpt2_save(p2, &c, &p, false) == VKT_OK, "save f32");
    size_t n2;
    unsigned char *b2 = tu_read(p2, &n2);
    CHECK(n2 == bytes && memcmp(b2, file, bytes) == 0, "f32 save not byte-identical (%zu vs %zu bytes)", n2, bytes);
    free(b2);

    /* bf16: version 5, half the payload, values rounded to bf16. */
    const char *p3 = tu_path(dir, "gpt2_bf16.bin");
    CHECK(vkt_llmc_gpt2_save(p3, &c, &p, true) == VKT_OK, "save bf16");
    unsigned char *b3 = tu_read(p3, &n2);
    int32_t ver;
    memcpy(&ver, b3 + 4, 4);
    CHECK(ver == 5 && n2 == 1024 + (bytes - 1024) / 2, "bf16 file: version %d, %zu bytes", ver, n2);
    free(b3);
    vkt_gpt2_config c3;
    vkt_host_params q = {0};
    CHECK(vkt_llmc_gpt2_load(p3, &c3, &q) == VKT_OK && q.n_total == p.n_total, "load bf16");
    int mism = 0;
    for (int64_t i = 0; i < q.n_total && q.n_total == p.n_total; i++)
        mism += q.buf[i] != vkt_bf16_to_f32(vkt_f32_to_bf16(p.buf[i]));
    CHECK(mism == 0, "%d bf16 values differ from rounded f32", mism);
    vkt_host_params_free(&q);

    /* Save refuses a table missing a tensor. */
    snprintf(p.items[5].name, sizeof p.items[5].name, "renamed");
    tu_capture_begin();
    vkt_status s = vkt_llmc_gpt2_save(tu_path(dir, "gpt2_bad.bin"), &c, &p, false);
    tu_expect_fail("save with a tensor missing", s, VKT_ERR_ARG, tu_capture_end(), "transformer.h.0.attn.c_attn.bias",
                   (const char *)NULL);
    vkt_host_params_free(&p);

    /* Bad files. */
    struct {
        const char *what;
        int idx, value;
        const char *word;
    } bad[] = {
        {"wrong magic", 0, 20240520, "magic"}, {"version 4", 1, 4, "version"}, {"Vp < V", 7, 6, "Vp"},
        {"NH not dividing C", 5, 3, "NH"},     {"zero layers", 4, 0, "L"},     {"size mismatch", 4, 3, "implies"},
    };
    int32_t *hdr = (int32_t *)file;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t keep = hdr[bad[i].idx];
        hdr[bad[i].idx] = bad[i].value;
        tu_write(path, file, bytes);
        hdr[bad[i].idx] = keep;
        tu_capture_begin();
        s = vkt_llmc_gpt2_load(path, &c, &p);
        tu_expect_fail(bad[i].what, s, VKT_ERR_FORMAT, tu_capture_end(), "gpt2.bin", bad[i].word, (const char *)NULL);
        tu_capture_begin();
        s = vkt_llmc_gpt2_read_config(path, &c);
        tu_capture_end();
        CHECK(s == VKT_ERR_FORMAT, "read_config: %s", bad[i].what);
        CHECK(p.count == 0, "failed load leaves an empty table");
    }
    int rejected = 0;
    tu_capture_begin();
    for (size_t len = 0; len < bytes; len += 13) {
        tu_write(path, file, len);
        rejected += vkt_llmc_gpt2_load(path, &c, &p) != VKT_OK;
        vkt_host_params_free(&p);
    }
    tu_capture_end();
    CHECK(rejected == (int)((bytes + 12) / 13), "truncations: %d rejected", rejected);
    free(file);
    printf("ok   synthetic GPT-2: 16 tensors at their llm.c offsets, f32 save byte-identical, bf16 round trip, "
           "%d truncations rejected\n",
           rejected);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("test_llmc_gpt2 (pure CPU)\n");
    const char *dir = tu_mkdir();
    test_layout(dir);
    tu_rmdir(dir);
    if (g_failures) fprintf(stderr, "test_llmc_gpt2: %d failures\n", g_failures);
    return g_failures ? 1 : 0;
}
