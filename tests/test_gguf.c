/* GGUF: Q8_0 blocks against hand-computed values (ggml's rounding: roundf half away from zero, f16
 * scale), a write/read round trip of every key type and tensor encoding with the layout checked byte
 * by byte (header, offsets, alignment, padding), the stories260K export (hyper-parameters, tokenizer
 * arrays, q/k rows equal to llama2.c's own interleaved-RoPE weights, Q8_0 tensors equal to quantizing
 * the F32 export), and bad inputs refused with messages. Pure CPU. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/half.h"
#include "data/tok_export.h"
#include "harness.h"
#include "io/gguf_read.h"
#include "io/gguf_write.h"
#include "io/host_model.h"
#include "io_testutil.h"
#include "train/export_gguf.h"

static void test_q8_0_known(void) {
    float x[96];
    uint8_t q[3 * VKT_GGUF_Q8_0_BLOCK_BYTES];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16) * 0.5f; /* absmax 8 at j = 0 */
    for (int j = 0; j < 32; j++) x[32 + j] = 0.0f;              /* all zero: d = 0, codes 0 */
    for (int j = 0; j < 32; j++) x[64 + j] = 0.0f;
    x[64] = 127.0f, x[65] = 2.5f, x[66] = -2.5f, x[67] = 0.5f, x[68] = -126.5f; /* d = 1: exact halves */
    vkt_gguf_quantize_q8_0(x, 96, q);
    uint16_t d0, d1, d2;
    memcpy(&d0, q, 2), memcpy(&d1, q + 34, 2), memcpy(&d2, q + 68, 2);
    /* 8/127 = 0.06299..: f16 exponent 2^-4 (0x2C00), mantissa round(0.00787 * 1024) = 8. */
    CHECK(d0 == 0x2C08, "block 0 scale 0x%04x, expected 0x2C08", d0);
    CHECK(d1 == 0 && d2 == 0x3C00, "zero block scale 0x%04x (0), unit scale 0x%04x (0x3C00)", d1, d2);
    /* codes: roundf(x * 127/8) computed by hand: -8 -> -127, 0.5 -> 7.9375 -> 8, 7.5 -> 119.06 -> 119,
     * -0.5 -> -8, -7.5 -> -119. */
    int8_t *c0 = (int8_t *)q + 2;
    CHECK(c0[0] == -127 && c0[17] == 8 && c0[31] == 119 && c0[15] == -8 && c0[1] == -119 && c0[16] == 0,
          "block 0 codes %d %d %d %d %d %d", c0[0], c0[17], c0[31], c0[15], c0[1], c0[16]);
    int8_t *c2 = (int8_t *)q + 70;
    /* Half away from zero (roundf), not to even: 2.5 -> 3, -2.5 -> -3, 0.5 -> 1, -126.5 -> -127. */
    CHECK(c2[0] == 127 && c2[1] == 3 && c2[2] == -3 && c2[3] == 1 && c2[4] == -127,
          "block 2 codes %d %d %d %d %d (want 127 3 -3 1 -127)", c2[0], c2[1], c2[2], c2[3], c2[4]);
    bool zero = true;
    for (int j = 0; j < 32; j++) zero = zero && q[36 + j] == 0;
    CHECK(zero, "zero block codes are 0");
    float back[96];
    vkt_gguf_dequantize_q8_0(q, 96, back);
    CHECK(back[65] == 3.0f && fabsf(back[0] - (-127.0f * vkt_f16_to_f32(0x2C08))) == 0.0f, "dequantized %g %g",
          back[65], back[0]);
    printf("ok   Q8_0 blocks match hand-computed scales and codes\n");
}

static uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void test_round_trip(const char *dir) {
    const char *path = tu_path(dir, "rt.gguf");
    vkt_gguf_writer w;
    vkt_gguf_writer_init(&w);
    const char *strs[] = {"a", "", "\xE2\x96\x81hello"};
    float fs[] = {1.5f, -2.0f};
    int32_t is[] = {7, -9, 11};
    CHECK(vkt_gguf_add_str(&w, "general.architecture", "llama") == VKT_OK, "add str");
    CHECK(vkt_gguf_add_u32(&w, "k.u32", 123456u) == VKT_OK, "add u32");
    CHECK(vkt_gguf_add_i32(&w, "k.i32", -5) == VKT_OK, "add i32");
    CHECK(vkt_gguf_add_f32(&w, "k.f32", 0.25f) == VKT_OK, "add f32");
    CHECK(vkt_gguf_add_bool(&w, "k.bool", true) == VKT_OK, "add bool");
    CHECK(vkt_gguf_add_u64(&w, "k.u64", 1ull << 40) == VKT_OK, "add u64");
    CHECK(vkt_gguf_add_arr_str(&w, "k.strs", strs, 3) == VKT_OK, "add strs");
    CHECK(vkt_gguf_add_arr_f32(&w, "k.fs", fs, 2) == VKT_OK, "add fs");
    CHECK(vkt_gguf_add_arr_i32(&w, "k.is", is, 3) == VKT_OK, "add is");
    float v7[7], m[3 * 64], h[5 * 3];
    for (int i = 0; i < 7; i++) v7[i] = (float)i * 0.1f;
    for (int i = 0; i < 3 * 64; i++) m[i] = sinf((float)i);
    for (int i = 0; i < 15; i++) h[i] = (float)i / 3.0f;
    int64_t ne7[] = {7}, ne_m[] = {64, 3}, ne_h[] = {5, 3};
    CHECK(vkt_gguf_add_tensor_f32(&w, "v7", 1, ne7, VKT_GGML_F32, v7) == VKT_OK, "add v7");
    CHECK(vkt_gguf_add_tensor_f32(&w, "q", 2, ne_m, VKT_GGML_Q8_0, m) == VKT_OK, "add q");
    CHECK(vkt_gguf_add_tensor_f32(&w, "h", 2, ne_h, VKT_GGML_F16, h) == VKT_OK, "add h");
    CHECK(vkt_gguf_add_tensor_f32(&w, "b", 2, ne_h, VKT_GGML_BF16, h) == VKT_OK, "add b");
    CHECK(vkt_gguf_write(&w, path) == VKT_OK, "write");
    vkt_gguf_writer_free(&w);

    size_t size;
    uint8_t *raw = tu_read(path, &size);
    CHECK(memcmp(raw, "GGUF", 4) == 0 && raw[4] == 3 && raw[5] == 0, "magic and version 3 at the start");
    CHECK(rd64(raw + 8) == 4 && rd64(raw + 16) == 9, "tensor count %llu (4), kv count %llu (9)",
          (unsigned long long)rd64(raw + 8), (unsigned long long)rd64(raw + 16));
    /* First key: u64 length 20, "general.architecture", type 8 (string), u64 5, "llama". */
    CHECK(rd64(raw + 24) == 20 && memcmp(raw + 32, "general.architecture", 20) == 0 && raw[52] == 8 &&
              rd64(raw + 56) == 5 && memcmp(raw + 64, "llama", 5) == 0,
          "first key/value bytes");
    vkt_gguf_file f;
    CHECK(vkt_gguf_open(path, &f) == VKT_OK, "open");
    uint32_t u;
    float fv;
    bool bv;
    char sv[32];
    CHECK(vkt_gguf_get_u32(&f, "k.u32", &u) && u == 123456u, "u32 back");
    CHECK(vkt_gguf_get_f32(&f, "k.f32", &fv) && fv == 0.25f, "f32 back");
    CHECK(vkt_gguf_get_bool(&f, "k.bool", &bv) && bv, "bool back");
    CHECK(vkt_gguf_get_str(&f, "general.architecture", sv, sizeof sv) && !strcmp(sv, "llama"), "str back");
    CHECK(!vkt_gguf_get_u32(&f, "k.i32", &u), "a typed getter refuses another type");
    const vkt_gguf_kv *kv = vkt_gguf_find(&f, "k.strs");
    size_t len;
    const char *s2 = kv ? vkt_gguf_arr_str(kv, 2, &len) : NULL;
    CHECK(kv && kv->n == 3 && s2 && len == strlen(strs[2]) && !memcmp(s2, strs[2], len), "string array back");
    kv = vkt_gguf_find(&f, "k.is");
    CHECK(kv && vkt_gguf_arr_u32(kv, 1, &u) && (int32_t)u == -9, "int32 array back");
    CHECK(f.alignment == 32 && f.data_start % 32 == 0 && f.data_start >= 24, "data section aligned (%zu)",
          f.data_start);
    /* The bytes between the tensor infos and the data are zero padding. */
    const vkt_gguf_tensor_info *tv = vkt_gguf_tensor(&f, "v7"), *tq = vkt_gguf_tensor(&f, "q"),
                               *th = vkt_gguf_tensor(&f, "h"), *tb = vkt_gguf_tensor(&f, "b");
    CHECK(tv && tq && th && tb, "all tensors listed");
    if (tv && tq && th && tb) {
        /* 28 bytes -> 32; Q8_0 3 rows x 2 blocks x 34 = 204 -> 224; f16 30 -> 32; bf16 30 -> 32. */
        CHECK(tv->offset == 0 && tq->offset == 32 && th->offset == 256 && tb->offset == 288,
              "offsets %llu %llu %llu %llu (0, 32, 256, 288: each padded to 32)", (unsigned long long)tv->offset,
              (unsigned long long)tq->offset, (unsigned long long)th->offset, (unsigned long long)tb->offset);
        CHECK(tq->bytes == 3 * 2 * 34 && tq->ne[0] == 64 && tq->ne[1] == 3 && tq->type == VKT_GGML_Q8_0,
              "q8_0 tensor info");
        CHECK(size == f.data_start + 320, "file ends after the last tensor's padding (%zu)", size);
        CHECK(memcmp(vkt_gguf_tensor_data(&f, tv), v7, sizeof v7) == 0, "f32 bytes round trip");
        uint8_t qq[6 * 34];
        vkt_gguf_quantize_q8_0(m, 192, qq);
        CHECK(memcmp(vkt_gguf_tensor_data(&f, tq), qq, sizeof qq) == 0, "q8_0 bytes are the quantized rows");
        float hb[15], bb[15];
        vkt_gguf_tensor_f32(&f, th, hb);
        vkt_gguf_tensor_f32(&f, tb, bb);
        int bad = 0;
        for (int i = 0; i < 15; i++)
            bad += hb[i] != vkt_f16_to_f32(vkt_f32_to_f16(h[i])) || bb[i] != vkt_bf16_to_f32(vkt_f32_to_bf16(h[i]));
        CHECK(bad == 0, "f16/bf16 values round trip (%d bad)", bad);
        bool pad = true;
        for (size_t i = 28; i < 32; i++) pad = pad && raw[f.data_start + i] == 0;
        CHECK(pad, "tensor padding is zero");
    }
    vkt_gguf_close(&f);

    /* Damaged copies. */
    const char *cut = tu_path(dir, "cut.gguf");
    tu_write(cut, raw, size / 3);
    tu_capture_begin();
    vkt_status s = vkt_gguf_open(cut, &f);
    tu_expect_fail("truncated GGUF", s, VKT_ERR_FORMAT, tu_capture_end(), "cut.gguf", "truncated", (const char *)NULL);
    raw[0] = 'X';
    tu_write(cut, raw, size);
    tu_capture_begin();
    s = vkt_gguf_open(cut, &f);
    tu_expect_fail("bad magic", s, VKT_ERR_FORMAT, tu_capture_end(), "cut.gguf", "not a GGUF", (const char *)NULL);
    free(raw);

    vkt_gguf_writer_init(&w);
    vkt_gguf_add_u32(&w, "dup", 1);
    tu_capture_begin();
    s = vkt_gguf_add_u32(&w, "dup", 2);
    tu_expect_fail("duplicate key", s, VKT_ERR_ARG, tu_capture_end(), "\"dup\"", "twice", (const char *)NULL);
    vkt_gguf_writer_free(&w);
    vkt_gguf_writer_init(&w);
    int64_t ne33[] = {33, 1};
    float z[33] = {0};
    tu_capture_begin();
    s = vkt_gguf_add_tensor_f32(&w, "odd", 2, ne33, VKT_GGML_Q8_0, z);
    tu_expect_fail("Q8_0 row of 33", s, VKT_ERR_ARG, tu_capture_end(), "\"odd\"", "multiple of 32", (const char *)NULL);
    tu_capture_begin();
    s = vkt_gguf_write(&w, tu_path(dir, "never.gguf"));
    tu_expect_fail("write after a failed add", s, VKT_ERR_ARG, tu_capture_end(), "never.gguf", "not written",
                   (const char *)NULL);
    CHECK(access(tu_path(dir, "never.gguf"), F_OK) != 0, "nothing written after a failed add");
    vkt_gguf_writer_free(&w);
}

/* llama2.c stories260K header then the f32 arrays, for comparing against the raw file. */
static const float *raw_array(const uint8_t *raw, int which, int64_t *n_out) {
    int32_t h[7];
    memcpy(h, raw, sizeof h);
    int64_t C = h[0], H = h[1], L = h[2], NH = h[3], KVH = h[4], V = h[5] < 0 ? -h[5] : h[5], HS = C / NH;
    int64_t sizes[] = {V * C,     L * C,     L * C * C, L * KVH * HS * C, L * KVH * HS * C, L * C * C, L * C, L * H * C,
                       L * C * H, L * H * C, C};
    int64_t off = 0;
    for (int i = 0; i < which; i++) off += sizes[i];
    *n_out = sizes[which];
    return (const float *)(raw + 28) + off;
}

static void test_stories260k(const char *dir) {
    char model[1024], tok[1024]; /* vkt_test_data returns a shared buffer */
    snprintf(model, sizeof model, "%s", vkt_test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof tok, "%s", vkt_test_data("models/stories260K/tok512.bin"));
    const char *f32 = tu_path(dir, "s_f32.gguf"), *q8 = tu_path(dir, "s_q8.gguf");
    vkt_export_opts o = {.type = "f32", .tokenizer = tok};
    CHECK(vkt_export_gguf(model, f32, &o) == VKT_OK, "export f32");
    o.type = "q8_0";
    CHECK(vkt_export_gguf(model, q8, &o) == VKT_OK, "export q8_0");
    vkt_gguf_file f, g;
    if (vkt_gguf_open(f32, &f) != VKT_OK || vkt_gguf_open(q8, &g) != VKT_OK) {
        CHECK(false, "exports open");
        return;
    }
    char arch[16], tm[16];
    uint32_t u[8];
    float eps, base;
    CHECK(vkt_gguf_get_str(&f, "general.architecture", arch, sizeof arch) && !strcmp(arch, "llama"), "arch llama");
    CHECK(vkt_gguf_get_u32(&f, "llama.embedding_length", &u[0]) && vkt_gguf_get_u32(&f, "llama.block_count", &u[1]) &&
              vkt_gguf_get_u32(&f, "llama.attention.head_count", &u[2]) &&
              vkt_gguf_get_u32(&f, "llama.attention.head_count_kv", &u[3]) &&
              vkt_gguf_get_u32(&f, "llama.context_length", &u[4]) &&
              vkt_gguf_get_u32(&f, "llama.feed_forward_length", &u[5]) &&
              vkt_gguf_get_u32(&f, "llama.rope.dimension_count", &u[6]) &&
              vkt_gguf_get_u32(&f, "general.file_type", &u[7]),
          "llama.* keys present");
    CHECK(u[0] == 64 && u[1] == 5 && u[2] == 8 && u[3] == 4 && u[4] == 512 && u[5] == 172 && u[6] == 8 && u[7] == 0,
          "hyper-parameters %u %u %u %u %u %u %u ftype %u", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7]);
    CHECK(vkt_gguf_get_f32(&f, "llama.attention.layer_norm_rms_epsilon", &eps) && eps == 1e-5f &&
              vkt_gguf_get_f32(&f, "llama.rope.freq_base", &base) && base == 10000.0f,
          "eps and rope base");
    CHECK(vkt_gguf_get_u32(&g, "general.file_type", &u[7]) && u[7] == 7, "q8_0 file type 7");
    CHECK(vkt_gguf_get_str(&f, "tokenizer.ggml.model", tm, sizeof tm) && !strcmp(tm, "llama"), "SentencePiece vocab");
    CHECK(vkt_gguf_get_u32(&f, "tokenizer.ggml.bos_token_id", &u[0]) && u[0] == 1 &&
              vkt_gguf_get_u32(&f, "tokenizer.ggml.eos_token_id", &u[1]) && u[1] == 2,
          "bos 1, eos 2");
    const vkt_gguf_kv *toks = vkt_gguf_find(&f, "tokenizer.ggml.tokens"),
                      *types = vkt_gguf_find(&f, "tokenizer.ggml.token_type"),
                      *scores = vkt_gguf_find(&f, "tokenizer.ggml.scores");
    CHECK(toks && types && scores && toks->n == 512 && types->n == 512 && scores->n == 512,
          "512 tokens, types, scores");
    if (toks && types && scores) {
        size_t len;
        const char *t1 = vkt_gguf_arr_str(toks, 1, &len);
        CHECK(t1 && len == 3 && !memcmp(t1, "<s>", 3), "token 1 is <s>");
        const char *t3 = vkt_gguf_arr_str(toks, 3, &len);
        uint32_t ty0, ty1, ty3, ty403, sc403;
        vkt_gguf_arr_u32(types, 0, &ty0), vkt_gguf_arr_u32(types, 1, &ty1), vkt_gguf_arr_u32(types, 3, &ty3);
        vkt_gguf_arr_u32(types, 403, &ty403), vkt_gguf_arr_u32(scores, 403, &sc403);
        CHECK(t3 && len == 6 && !memcmp(t3, "<0x00>", 6) && ty3 == 6 && ty0 == 2 && ty1 == 3 && ty403 == 1,
              "byte token <0x00> type BYTE, <unk> UNKNOWN, <s> CONTROL, others NORMAL");
        /* Id 403 is " Once" in tok512: a space becomes U+2581, and a merged token scores below 0. */
        const char *t403 = vkt_gguf_arr_str(toks, 403, &len);
        float s403;
        memcpy(&s403, &sc403, 4);
        CHECK(t403 && len == 7 && !memcmp(t403, "\xE2\x96\x81Once", 7) && s403 < 0, "token 403 \"\u2581Once\" score %g",
              s403);
    }
    /* q/k rows come back to llama.cpp's interleaved order, which is llama2.c's own: equal to the file. */
    size_t size;
    uint8_t *raw = tu_read(model, &size);
    int64_t n;
    const float *wq = raw_array(raw, 2, &n), *wk = raw_array(raw, 3, &n), *emb = raw_array(raw, 0, &n);
    float *buf = malloc(512 * 64 * sizeof *buf);
    const vkt_gguf_tensor_info *tq = vkt_gguf_tensor(&f, "blk.0.attn_q.weight"),
                               *tk = vkt_gguf_tensor(&f, "blk.2.attn_k.weight"),
                               *te = vkt_gguf_tensor(&f, "token_embd.weight");
    CHECK(tq && tk && te && tq->ne[0] == 64 && tq->ne[1] == 64 && tk->ne[1] == 32 && te->ne[1] == 512,
          "q (64, 64), k (64, 32), token_embd (64, 512) in ggml order");
    if (tq && tk && te) {
        CHECK(memcmp(vkt_gguf_tensor_data(&f, tq), wq, 64 * 64 * 4) == 0, "attn_q == llama2.c wq (layer 0)");
        CHECK(memcmp(vkt_gguf_tensor_data(&f, tk), wk + 2 * 32 * 64, 32 * 64 * 4) == 0,
              "attn_k == llama2.c wk (layer 2)");
        CHECK(memcmp(vkt_gguf_tensor_data(&f, te), emb, 512 * 64 * 4) == 0, "token_embd == llama2.c embedding");
    }
    CHECK(!vkt_gguf_tensor(&f, "output.weight") && f.n_tensors == 2 + 5 * 9, "tied output omitted: %lld tensors",
          (long long)f.n_tensors);
    /* Q8_0 file: each matrix is the F32 tensor quantized; vectors stay F32; 172-wide rows fall back to F16. */
    int checked = 0, bad = 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const vkt_gguf_tensor_info *a = &g.tensors[i], *b = vkt_gguf_tensor(&f, a->name);
        if (!b) {
            bad++;
            continue;
        }
        int64_t cnt = b->ne[0] * b->ne[1];
        uint32_t want = b->ne[1] == 1 ? VKT_GGML_F32 : b->ne[0] % 32 ? VKT_GGML_F16 : VKT_GGML_Q8_0;
        if (a->type != want) {
            printf("FAIL %s: type %u, want %u\n", a->name, a->type, want);
            bad++;
            continue;
        }
        if (a->type == VKT_GGML_Q8_0) {
            uint8_t *qb = malloc((size_t)a->bytes);
            vkt_gguf_quantize_q8_0((const float *)vkt_gguf_tensor_data(&f, b), cnt, qb);
            bad += memcmp(qb, vkt_gguf_tensor_data(&g, a), a->bytes) != 0;
            free(qb);
            checked++;
        }
    }
    CHECK(bad == 0 && checked == 1 + 5 * 6, "q8_0 tensors: %d checked, %d bad", checked, bad);
    free(buf);
    free(raw);
    vkt_gguf_close(&f);
    vkt_gguf_close(&g);

    tu_capture_begin();
    o.type = "q4_0";
    vkt_status s = vkt_export_gguf(model, tu_path(dir, "x.gguf"), &o);
    tu_expect_fail("unknown --type", s, VKT_ERR_ARG, tu_capture_end(), "q4_0", "q8_0", (const char *)NULL);
    tu_capture_begin();
    o.type = NULL, o.tokenizer = NULL;
    s = vkt_export_gguf(model, tu_path(dir, "x.gguf"), &o);
    tu_expect_fail("no tokenizer", s, VKT_ERR_ARG, tu_capture_end(), "--tokenizer", (const char *)NULL);
}

/* The tokenizer of tokenizer.json `json` with its pre_tokenizer (and normalizer, NULL: unchanged) replaced. */
static vkt_tokenizer *load_with(const char *dir, const char *json, const char *pre, const char *norm) {
    size_t n;
    char *text = (char *)tu_read(json, &n);
    cJSON *j = text ? cJSON_ParseWithLength(text, n) : NULL;
    free(text);
    if (!j) return NULL;
    cJSON_ReplaceItemInObject(j, "pre_tokenizer", cJSON_Parse(pre));
    if (norm) cJSON_ReplaceItemInObject(j, "normalizer", cJSON_Parse(norm));
    char *out = cJSON_PrintUnformatted(j);
    const char *path = tu_path(dir, "tokenizer.json");
    tu_write(path, out, strlen(out));
    cJSON_free(out), cJSON_Delete(j);
    vkt_tokenizer *t = NULL;
    return vkt_tok_load_hf(path, &t) == VKT_OK ? t : NULL;
}

/* Byte-level tokenizers get llama.cpp's name for their pre-tokenizer, recognised by their steps; any other
 * configuration is refused, naming what to do. */
static void test_byte_level_pre(const char *dir) {
    static const struct {
        const char *json, *want;
    } cases[] = {
        {VKT_TEST_FIXTURES "/tokenizers/llama3_style/tokenizer.json", "llama-bpe"},
        {VKT_TEST_FIXTURES "/tokenizers/qwen2_style/tokenizer.json", "qwen2"},
        {VKT_TEST_DATA "/tokenizers/gpt2-hf/tokenizer.json", "gpt-2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vkt_tokenizer *t = NULL;
        vkt_tok_vocab v;
        CHECK(vkt_tok_load_hf(cases[i].json, &t) == VKT_OK, "load %s", cases[i].json);
        if (!t) continue;
        CHECK(vkt_tok_vocab_get(t, vkt_tok_vocab_size(t), &v) == VKT_OK && !strcmp(v.model, "gpt2") && v.pre &&
                  !strcmp(v.pre, cases[i].want) && v.add_bos == vkt_tok_adds_bos(t) && v.eos == vkt_tok_eos(t),
              "%s: pre %s (want %s), add_bos as the tokenizer", cases[i].json, v.pre ? v.pre : "NULL", cases[i].want);
        vkt_tok_vocab_free(&v);
        vkt_tok_free(t);
    }
    const char *qwen = VKT_TEST_FIXTURES "/tokenizers/qwen2_style/tokenizer.json";
    /* SmolLM: each digit its own word, then GPT-2's split. */
    vkt_tokenizer *t =
        load_with(dir, qwen,
                  "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
                  "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}]}",
                  "null");
    vkt_tok_vocab v;
    CHECK(t && vkt_tok_vocab_get(t, vkt_tok_vocab_size(t), &v) == VKT_OK && v.pre && !strcmp(v.pre, "smollm"),
          "Digits + ByteLevel is smollm");
    if (t) vkt_tok_vocab_free(&v), vkt_tok_free(t);
    /* Qwen2's split without its NFC normalizer, and digit runs kept together: not llama.cpp's. */
    const char *refused[][2] = {
        {NULL, "{\"type\":\"Lowercase\"}"},
        {"{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":false},"
         "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}]}",
         "null"},
    };
    for (int i = 0; i < 2; i++) {
        size_t n;
        char *text = refused[i][0] ? NULL : (char *)tu_read(qwen, &n);
        cJSON *j = text ? cJSON_ParseWithLength(text, n) : NULL;
        char *pre = j ? cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "pre_tokenizer")) : NULL;
        t = load_with(dir, qwen, refused[i][0] ? refused[i][0] : pre, refused[i][1]);
        free(text), cJSON_free(pre), cJSON_Delete(j);
        CHECK(t != NULL, "refused case %d loads", i);
        if (!t) continue;
        tu_capture_begin();
        vkt_status s = vkt_tok_vocab_get(t, vkt_tok_vocab_size(t), &v);
        tu_expect_fail("unknown pre-tokenizer", s, VKT_ERR_UNSUPPORTED, tu_capture_end(), "convert_hf_to_gguf.py",
                       "Llama 3", (const char *)NULL);
        vkt_tok_free(t);
    }
}

int main(void) {
    const char *dir = tu_mkdir();
    test_byte_level_pre(dir);
    test_q8_0_known();
    test_round_trip(dir);
    test_stories260k(dir);
    tu_rmdir(dir);
    printf("%s test_gguf\n", g_failures ? "FAIL" : "PASS");
    return g_failures ? 1 : 0;
}
