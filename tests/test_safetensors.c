/* safetensors: write -> read round trips (values and bytes), metadata, sharded models via the index,
 * and malformed files (every truncation, bad JSON types, bad offsets) failing with messages that name
 * the file, tensor and field. Pure CPU. */
#include <math.h>
#include <stdint.h>

#include "core/half.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "io_testutil.h"

/* A file with the given header JSON and `data_bytes` bytes of 0xAB after it. */
static void write_raw(const char *path, const char *json, size_t data_bytes) {
    size_t hl = strlen(json), n = 8 + hl + data_bytes;
    unsigned char *buf = malloc(n);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, json, hl);
    memset(buf + 8 + hl, 0xAB, data_bytes);
    tu_write(path, buf, n);
    free(buf);
}

static void expect_bad(const char *dir, const char *what, const char *json, size_t data_bytes, const char *w1,
                       const char *w2) {
    const char *p = tu_path(dir, "bad.safetensors");
    write_raw(p, json, data_bytes);
    vkt_st_file f;
    tu_capture_begin();
    vkt_status s = vkt_st_open(p, &f);
    const char *log = tu_capture_end();
    tu_expect_fail(what, s, VKT_ERR_FORMAT, log, "bad.safetensors", w1, w2, (const char *)NULL);
    CHECK(f.n_tensors == 0 && f.map.data == NULL, "%s: failed open must leave a zeroed file", what);
}

static void test_round_trip(const char *dir) {
    vkt_rng rng;
    vkt_rng_init(&rng, 1234);
    float a[15], h[7], b[6], sc = 3.25f;
    int32_t ids[4] = {-5, 0, 7, 123456789};
    for (int i = 0; i < 15; i++) a[i] = (float)vkt_rng_normal(&rng);
    for (int i = 0; i < 7; i++) h[i] = (float)vkt_rng_normal(&rng) * 100;
    for (int i = 0; i < 6; i++) b[i] = (float)vkt_rng_normal(&rng);
    vkt_st_write_tensor ts[] = {
        {.name = "layer.a", .dtype = VKT_ST_F32, .ndim = 2, .shape = {3, 5}, .data = a},
        {.name = "h16", .dtype = VKT_ST_F16, .ndim = 1, .shape = {7}, .data = h, .from_f32 = true},
        {.name = "b16", .dtype = VKT_ST_BF16, .ndim = 3, .shape = {2, 3, 1}, .data = b, .from_f32 = true},
        {.name = "ids", .dtype = VKT_ST_I32, .ndim = 1, .shape = {4}, .data = ids},
        {.name = "scalar", .dtype = VKT_ST_F32, .ndim = 0, .data = &sc},
        {.name = "empty", .dtype = VKT_ST_F32, .ndim = 2, .shape = {0, 3}, .data = NULL},
    };
    const char *meta[] = {"format", "pt", "note", "round \"trip\" \u00e9"};
    const char *p = tu_path(dir, "rt.safetensors");
    CHECK(vkt_st_write(p, ts, 6, meta, 2) == VKT_OK, "write");
    vkt_st_file f;
    CHECK(vkt_st_open(p, &f) == VKT_OK, "open");
    if (f.n_tensors != 6) {
        CHECK(f.n_tensors == 6, "tensor count %d", f.n_tensors);
        vkt_st_close(&f);
        return;
    }
    CHECK(f.data_start % 8 == 0, "byte buffer starts at %zu, not 8-aligned", f.data_start);
    CHECK(vkt_st_meta(&f, "format") && strcmp(vkt_st_meta(&f, "format"), "pt") == 0, "metadata format");
    CHECK(vkt_st_meta(&f, "note") && strcmp(vkt_st_meta(&f, "note"), meta[3]) == 0, "metadata note");
    CHECK(vkt_st_meta(&f, "absent") == NULL, "absent metadata key");
    const vkt_st_tensor *t = vkt_st_find(&f, "layer.a");
    float out[15];
    CHECK(t && t->dtype == VKT_ST_F32 && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 5, "layer.a meta");
    CHECK(t && vkt_st_read_f32(&f, t, out, 15) == VKT_OK && memcmp(out, a, sizeof a) == 0, "layer.a values");
    t = vkt_st_find(&f, "h16");
    CHECK(t && t->dtype == VKT_ST_F16 && vkt_st_read_f32(&f, t, out, 7) == VKT_OK, "h16 read");
    for (int i = 0; t && i < 7; i++)
        CHECK(out[i] == vkt_f16_to_f32(vkt_f32_to_f16(h[i])), "h16[%d] %g vs %g", i, out[i], h[i]);
    t = vkt_st_find(&f, "b16");
    CHECK(t && t->dtype == VKT_ST_BF16 && t->ndim == 3 && t->shape[2] == 1 && vkt_st_read_f32(&f, t, out, 6) == 0,
          "b16 read");
    for (int i = 0; t && i < 6; i++)
        CHECK(out[i] == vkt_bf16_to_f32(vkt_f32_to_bf16(b[i])), "b16[%d] %g vs %g", i, out[i], b[i]);
    t = vkt_st_find(&f, "ids");
    CHECK(t && t->dtype == VKT_ST_I32 && memcmp(vkt_st_bytes(&f, t), ids, sizeof ids) == 0, "ids bytes");
    tu_capture_begin();
    vkt_status s = t ? vkt_st_read_f32(&f, t, out, 4) : VKT_ERR_ARG;
    tu_expect_fail("read_f32 of an I32 tensor", s, VKT_ERR_UNSUPPORTED, tu_capture_end(), "ids", "I32",
                   (const char *)NULL);
    t = vkt_st_find(&f, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1 && vkt_st_read_f32(&f, t, out, 1) == 0 && out[0] == sc, "scalar");
    t = vkt_st_find(&f, "empty");
    CHECK(t && t->numel == 0 && t->begin == t->end, "empty tensor");
    CHECK(vkt_st_find(&f, "nope") == NULL, "absent tensor");
    vkt_st_close(&f);
    vkt_st_close(&f); /* twice is safe */

    /* Writing the same tensors again gives the same bytes. */
    const char *p2 = tu_path(dir, "rt2.safetensors");
    CHECK(vkt_st_write(p2, ts, 6, meta, 2) == VKT_OK, "write again");
    size_t n1, n2;
    unsigned char *b1 = tu_read(p, &n1), *b2 = tu_read(p2, &n2);
    CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0, "rewrite is not byte-identical");
    free(b1);
    free(b2);

    /* Rejected arguments: duplicate and reserved names. */
    vkt_st_write_tensor dup[2] = {ts[0], ts[0]};
    tu_capture_begin();
    s = vkt_st_write(tu_path(dir, "dup.safetensors"), dup, 2, NULL, 0);
    tu_expect_fail("write duplicate names", s, VKT_ERR_ARG, tu_capture_end(), "layer.a", (const char *)NULL);
    dup[0].name = "__metadata__";
    tu_capture_begin();
    s = vkt_st_write(tu_path(dir, "dup.safetensors"), dup, 1, NULL, 0);
    tu_expect_fail("write reserved name", s, VKT_ERR_ARG, tu_capture_end(), "reserved", (const char *)NULL);
    CHECK(access(tu_path(dir, "dup.safetensors"), F_OK) != 0, "a refused write must leave no file");
    printf("ok   round trip: 6 tensors, F32/I32 bytes identical, F16/BF16 = rounded f32, metadata kept\n");
}

static void test_params_and_shards(const char *dir) {
    vkt_host_params p = {0};
    CHECK(vkt_host_params_add(&p, 2, (int64_t[]){4, 3}, "model.w%d", 0) == VKT_OK, "add");
    CHECK(vkt_host_params_add(&p, 1, (int64_t[]){5}, "model.b") == VKT_OK, "add");
    CHECK(vkt_host_params_add(&p, 3, (int64_t[]){2, 2, 2}, "model.c") == VKT_OK, "add");
    CHECK(vkt_host_params_alloc(&p) == VKT_OK, "alloc");
    for (int64_t i = 0; i < p.n_total; i++) p.buf[i] = (float)i * 0.5f - 3.0f;
    /* One file through vkt_st_model_open (folder with model.safetensors). */
    CHECK(vkt_st_write_params(tu_path(dir, "model.safetensors"), &p, VKT_ST_F32, NULL, 0) == VKT_OK, "write");
    vkt_st_model m;
    CHECK(vkt_st_model_open(dir, &m) == VKT_OK && m.n_shards == 1 && m.n_entries == 3, "open folder");
    for (int i = 0; i < p.count && m.n_entries == 3; i++) {
        const vkt_st_file *sf;
        const vkt_st_tensor *t = vkt_st_model_find(&m, p.items[i].name, &sf);
        float out[16];
        CHECK(t && t->ndim == p.items[i].ndim && vkt_st_read_f32(sf, t, out, p.items[i].n) == VKT_OK &&
                  memcmp(out, p.items[i].data, (size_t)p.items[i].n * 4) == 0,
              "param %s", p.items[i].name);
    }
    vkt_st_model_close(&m);

    /* Two shards and an index, opened through the folder and through the index path. */
    vkt_st_write_tensor s1[] = {{.name = "model.w0",
                                 .dtype = VKT_ST_BF16,
                                 .ndim = 2,
                                 .shape = {4, 3},
                                 .data = p.items[0].data,
                                 .from_f32 = true}};
    vkt_st_write_tensor s2[] = {
        {.name = "model.b", .dtype = VKT_ST_F32, .ndim = 1, .shape = {5}, .data = p.items[1].data},
        {.name = "model.c",
         .dtype = VKT_ST_F16,
         .ndim = 3,
         .shape = {2, 2, 2},
         .data = p.items[2].data,
         .from_f32 = true}};
    char sub[256];
    snprintf(sub, sizeof sub, "%s/sharded", dir);
    CHECK(mkdir(sub, 0755) == 0, "mkdir");
    CHECK(vkt_st_write(tu_path(sub, "model-00001-of-00002.safetensors"), s1, 1, NULL, 0) == VKT_OK, "shard 1");
    CHECK(vkt_st_write(tu_path(sub, "model-00002-of-00002.safetensors"), s2, 2, NULL, 0) == VKT_OK, "shard 2");
    const char *index = "{\"metadata\": {\"total_size\": 100}, \"weight_map\": {"
                        "\"model.w0\": \"model-00001-of-00002.safetensors\", "
                        "\"model.b\": \"model-00002-of-00002.safetensors\", "
                        "\"model.c\": \"model-00002-of-00002.safetensors\"}}";
    tu_write(tu_path(sub, "model.safetensors.index.json"), index, strlen(index));
    for (int via = 0; via < 2; via++) {
        const char *path = via ? tu_path(sub, "model.safetensors.index.json") : sub;
        CHECK(vkt_st_model_open(path, &m) == VKT_OK && m.n_shards == 2 && m.n_entries == 3, "open sharded %d", via);
        const vkt_st_file *sf = NULL;
        const vkt_st_tensor *t = vkt_st_model_find(&m, "model.c", &sf);
        float out[8];
        CHECK(t && sf == &m.shards[1] && vkt_st_read_f32(sf, t, out, 8) == VKT_OK, "model.c in shard 2");
        for (int i = 0; t && i < 8; i++) CHECK(out[i] == p.items[2].data[i], "model.c[%d]", i);
        t = vkt_st_model_find(&m, "model.w0", &sf);
        CHECK(t && sf == &m.shards[0] && t->dtype == VKT_ST_BF16, "model.w0 in shard 1");
        CHECK(vkt_st_model_find(&m, "model.zzz", &sf) == NULL && sf == NULL, "absent");
        vkt_st_model_close(&m);
    }
    /* Bad indexes. */
    struct {
        const char *what, *json, *word;
    } bad[] = {
        {"index: tensor missing from shard", "{\"weight_map\": {\"model.q\": \"model-00001-of-00002.safetensors\"}}",
         "model.q"},
        {"index: shard outside folder", "{\"weight_map\": {\"model.b\": \"../x.safetensors\"}}", "model.b"},
        {"index: shard not a string", "{\"weight_map\": {\"model.b\": 3}}", "model.b"},
        {"index: no weight_map", "{\"metadata\": {}}", "weight_map"},
        {"index: not JSON", "{\"weight_map\": ", "JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *ip = tu_path(sub, "bad.index.json");
        tu_write(ip, bad[i].json, strlen(bad[i].json));
        tu_capture_begin();
        vkt_status s = vkt_st_model_open(ip, &m);
        tu_expect_fail(bad[i].what, s, VKT_ERR_FORMAT, tu_capture_end(), "bad.index.json", bad[i].word,
                       (const char *)NULL);
    }
    vkt_host_params_free(&p);
}

static void test_bad_headers(const char *dir) {
    const char *T = "{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}";
    char j[1024];
    expect_bad(dir, "header is a JSON array", "[1, 2]", 0, "object", NULL);
    expect_bad(dir, "header not JSON", "{\"t\": {\"dtype\": ", 0, "JSON", NULL);
    snprintf(j, sizeof j, "%s} trailing", T);
    expect_bad(dir, "garbage after the JSON", j, 24, "after", NULL);
    expect_bad(dir, "entry not an object", "{\"t\": 5}", 0, "\"t\"", "object");
    expect_bad(dir, "dtype not a string", "{\"t\": {\"dtype\": 4, \"shape\": [], \"data_offsets\": [0, 4]}}", 4,
               "\"t\"", "dtype");
    expect_bad(dir, "unknown dtype", "{\"t\": {\"dtype\": \"F33\", \"shape\": [], \"data_offsets\": [0, 4]}}", 4, "F33",
               "dtype");
    expect_bad(dir, "shape not an array", "{\"t\": {\"dtype\": \"F32\", \"shape\": 6, \"data_offsets\": [0, 24]}}", 24,
               "\"t\"", "shape");
    expect_bad(dir, "negative dim", "{\"t\": {\"dtype\": \"F32\", \"shape\": [-2, 3], \"data_offsets\": [0, 24]}}", 24,
               "\"t\"", "shape");
    expect_bad(dir, "fractional dim", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 6]}}", 6,
               "\"t\"", "shape");
    expect_bad(dir, "dim as a string", "{\"t\": {\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]}}", 8,
               "\"t\"", "shape");
    expect_bad(dir, "offsets missing", "{\"t\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8, "\"t\"", "data_offsets");
    expect_bad(dir, "offsets of 3 numbers",
               "{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8, 9]}}", 8, "\"t\"",
               "data_offsets");
    expect_bad(dir, "offsets beyond the file",
               "{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}", 20, "\"t\"", "beyond");
    expect_bad(dir, "offsets begin > end", "{\"t\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 0]}}", 8,
               "\"t\"", "data_offsets");
    expect_bad(dir, "offsets disagree with shape",
               "{\"t\": {\"dtype\": \"F16\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}", 24, "\"t\"", "F16");
    expect_bad(dir, "huge shape overflows",
               "{\"t\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 8]}}", 8,
               "\"t\"", "overflow");
    snprintf(j, sizeof j, "%s, \"u\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [16, 24]}}", T);
    expect_bad(dir, "overlapping tensors", j, 24, "overlap", "\"u\"");
    snprintf(j, sizeof j, "%s, \"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [24, 32]}}", T);
    expect_bad(dir, "duplicate tensor name", j, 32, "\"t\"", "twice");
    snprintf(j, sizeof j, "%s, \"__metadata__\": {\"k\": 1}}", T);
    expect_bad(dir, "metadata value not a string", j, 24, "__metadata__", "\"k\"");
    snprintf(j, sizeof j, "%s, \"__metadata__\": {}, \"__metadata__\": {\"a\": \"b\"}}", T);
    expect_bad(dir, "metadata twice", j, 24, "__metadata__", "twice");
    snprintf(j, sizeof j, "%s, \"__metadata__\": [1]}", T);
    expect_bad(dir, "metadata not an object", j, 24, "__metadata__", NULL);

    /* Header length field beyond the file, and tiny files. */
    const char *p = tu_path(dir, "bad.safetensors");
    unsigned char raw[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    tu_write(p, raw, 10);
    vkt_st_file f;
    tu_capture_begin();
    vkt_status s = vkt_st_open(p, &f);
    tu_expect_fail("header length beyond the file", s, VKT_ERR_FORMAT, tu_capture_end(), "bad.safetensors",
                   "header length", (const char *)NULL);
    tu_write(p, raw, 4);
    tu_capture_begin();
    s = vkt_st_open(p, &f);
    tu_expect_fail("4-byte file", s, VKT_ERR_FORMAT, tu_capture_end(), "bad.safetensors", "truncated",
                   (const char *)NULL);
    tu_capture_begin();
    s = vkt_st_open(tu_path(dir, "does-not-exist.safetensors"), &f);
    tu_expect_fail("missing file", s, VKT_ERR_IO, tu_capture_end(), "does-not-exist", (const char *)NULL);
}

/* Every proper prefix of a valid file must fail cleanly; random header corruption must never crash
 * (run under the sanitizers in CI). */
static void test_truncation_and_fuzz(const char *dir) {
    const char *good = tu_path(dir, "rt.safetensors");
    size_t n;
    unsigned char *b = tu_read(good, &n);
    const char *p = tu_path(dir, "cut.safetensors");
    int failed = 0;
    tu_capture_begin(); /* swallow the expected errors */
    for (size_t len = 0; len < n; len++) {
        tu_write(p, b, len);
        vkt_st_file f;
        vkt_status s = vkt_st_open(p, &f);
        if (s == VKT_OK) vkt_st_close(&f);
        failed += s != VKT_OK;
        CHECK(s != VKT_OK, "prefix of %zu/%zu bytes accepted", len, n);
    }
    vkt_rng rng;
    vkt_rng_init(&rng, 99);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    int accepted = 0;
    for (int it = 0; it < 2000; it++) {
        unsigned char *c = malloc(n);
        memcpy(c, b, n);
        int flips = 1 + (int)vkt_rng_below(&rng, 4);
        for (int k = 0; k < flips; k++) {
            size_t at = 8 + vkt_rng_below(&rng, (uint32_t)hl);
            c[at] = "0123456789{}[]\",:-.eE \x01\xff"[vkt_rng_below(&rng, 25)];
        }
        tu_write(p, c, n);
        vkt_st_file f;
        if (vkt_st_open(p, &f) == VKT_OK) {
            accepted++;
            float tmp[64];
            for (int i = 0; i < f.n_tensors; i++)
                if (f.tensors[i].numel <= 64) (void)vkt_st_read_f32(&f, &f.tensors[i], tmp, f.tensors[i].numel);
            vkt_st_close(&f);
        }
        free(c);
    }
    tu_capture_end();
    free(b);
    printf("ok   %zu truncations all rejected (%d), 2000 corrupted headers survived (%d still valid)\n", n, failed,
           accepted);
}

/* Every one of the 65536 f16 and bf16 bit patterns converts exactly: against (-1)^s 2^(e-15) (1 + m/1024)
 * (subnormals 2^-14 m/1024, e = 31 inf/NaN) and against the bf16 bits as the top of an f32. F64, integer
 * and 8-bit float tensors are refused by name and dtype (F64 would round). */
static void test_exact_conversions(const char *dir) {
    uint16_t *all = malloc(65536 * sizeof *all);
    for (uint32_t i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    double d[3] = {0.1, 1e-300, 3};
    vkt_st_write_tensor ts[] = {
        {.name = "f16", .dtype = VKT_ST_F16, .ndim = 1, .shape = {65536}, .data = all},
        {.name = "bf16", .dtype = VKT_ST_BF16, .ndim = 1, .shape = {65536}, .data = all},
        {.name = "f64", .dtype = VKT_ST_F64, .ndim = 1, .shape = {3}, .data = d},
        {.name = "e4m3", .dtype = VKT_ST_F8_E4M3, .ndim = 1, .shape = {2}, .data = all},
    };
    const char *p = tu_path(dir, "all16.safetensors");
    CHECK(vkt_st_write(p, ts, 4, NULL, 0) == VKT_OK, "write all16");
    vkt_st_file f;
    CHECK(vkt_st_open(p, &f) == VKT_OK, "open all16");
    float *out = malloc(65536 * sizeof *out);
    long bad16 = 0, badb = 0, first16 = -1;
    CHECK(vkt_st_read_f32(&f, vkt_st_find(&f, "f16"), out, 65536) == VKT_OK, "read f16");
    for (uint32_t i = 0; i < 65536; i++) {
        int sgn = i >> 15, e = (i >> 10) & 31, m = i & 1023;
        double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
        float want = (float)(sgn ? -v : v);
        bool same = isnan(want) ? isnan(out[i]) : (out[i] == want && signbit(out[i]) == signbit(want));
        if (!same && bad16++ == 0) first16 = (long)i;
    }
    CHECK(vkt_st_read_f32(&f, vkt_st_find(&f, "bf16"), out, 65536) == VKT_OK, "read bf16");
    for (uint32_t i = 0; i < 65536; i++) {
        uint32_t u = i << 16, got;
        memcpy(&got, &out[i], 4);
        badb += got != u;
    }
    printf("ok   all 65536 f16 / bf16 patterns: %ld / %ld wrong (first bad f16 index %ld)\n", bad16, badb, first16);
    CHECK(bad16 == 0 && badb == 0, "f16 %ld wrong (first 0x%04lx), bf16 %ld wrong", bad16, first16, badb);
    const char *refused[] = {"f64", "e4m3"}, *names[] = {"F64", "F8_E4M3"};
    for (int k = 0; k < 2; k++) {
        tu_capture_begin();
        vkt_status s = vkt_st_read_f32(&f, vkt_st_find(&f, refused[k]), out, k ? 2 : 3);
        tu_expect_fail(names[k], s, VKT_ERR_UNSUPPORTED, tu_capture_end(), "all16.safetensors", refused[k], names[k],
                       (const char *)NULL);
    }
    CHECK(!vkt_st_dtype_exact_f32(VKT_ST_F64) && vkt_st_dtype_exact_f32(VKT_ST_BF16), "exact dtypes");
    vkt_st_close(&f);
    free(out);
    free(all);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("test_safetensors (pure CPU)\n");
    const char *dir = tu_mkdir();
    test_round_trip(dir);
    test_exact_conversions(dir);
    test_params_and_shards(dir);
    test_bad_headers(dir);
    test_truncation_and_fuzz(dir);
    tu_rmdir(dir);
    if (g_failures) fprintf(stderr, "test_safetensors: %d failures\n", g_failures);
    return g_failures ? 1 : 0;
}
