/* llama2.c checkpoint import: stories260K loads with the config its header states and the expected
 * HF tensor table; a synthetic unshared checkpoint (value = float index) checks that every tensor comes
 * from the right place; the q/k row permutation is checked to turn llama2.c's interleaved RoPE into HF's
 * rotate_half on the real weights (same rotated q/k up to the permutation, same attention scores); bad
 * files fail with messages. Pure CPU. */
#include <math.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "harness.h"
#include "io/llama2c.h"
#include "io_testutil.h"

/* llama2.c run.c RoPE: pairs (2p, 2p+1) of each head rotated by pos * 10000^(-2p/HS). */
static void rope_interleaved(double *v, int n, int hs, int pos) {
    for (int i = 0; i < n; i += 2) {
        double f = pos * pow(10000.0, -(double)(i % hs) / hs), c = cos(f), s = sin(f);
        double a = v[i], b = v[i + 1];
        v[i] = a * c - b * s;
        v[i + 1] = a * s + b * c;
    }
}

/* HF Llama rotate_half RoPE: (p, p + HS/2) of each head rotated by pos * 10000^(-2p/HS). */
static void rope_half(double *v, int n, int hs, int pos) {
    int half = hs / 2;
    for (int h = 0; h < n / hs; h++)
        for (int p = 0; p < half; p++) {
            double f = pos * pow(10000.0, -2.0 * p / hs), c = cos(f), s = sin(f);
            double *x = v + h * hs, a = x[p], b = x[p + half];
            x[p] = a * c - b * s;
            x[p + half] = b * c + a * s;
        }
}

static void matvec(double *y, const float *w, const double *x, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double acc = 0;
        for (int c = 0; c < cols; c++) acc += (double)w[(int64_t)r * cols + c] * x[c];
        y[r] = acc;
    }
}

static void test_stories260k(void) {
    const char *path = vkt_test_data("models/stories260K/stories260K.bin");
    size_t size;
    unsigned char *raw = tu_read(path, &size);
    int32_t h[7];
    memcpy(h, raw, sizeof h);
    printf("     header: dim %d hidden %d layers %d heads %d kv_heads %d vocab %d seq_len %d (%zu bytes)\n", h[0], h[1],
           h[2], h[3], h[4], h[5], h[6], size);
    CHECK(h[0] == 64 && h[1] == 172 && h[2] == 5 && h[3] == 8 && h[4] == 4 && h[5] == 512 && h[6] == 512,
          "stories260K header changed");

    vkt_llama2c_config c;
    vkt_host_params p = {0};
    CHECK(vkt_llama2c_load(path, &c, &p) == VKT_OK, "load stories260K");
    CHECK(c.dim == h[0] && c.hidden_dim == h[1] && c.n_layers == h[2] && c.n_heads == h[3] && c.n_kv_heads == h[4] &&
              c.vocab_size == h[5] && c.seq_len == h[6] && c.shared_classifier && c.head_size == 8,
          "config");
    int want_count = 1 + 9 * c.n_layers + 1; /* shared classifier: no lm_head */
    int64_t C = c.dim, H = c.hidden_dim, V = c.vocab_size, kv = (int64_t)c.n_kv_heads * c.head_size;
    int64_t want_n = V * C + c.n_layers * (2 * C * C + 2 * kv * C + 3 * H * C + 2 * C) + C;
    CHECK(p.count == want_count && p.n_total == want_n, "table: %d tensors, %lld values (want %d, %lld)", p.count,
          (long long)p.n_total, want_count, (long long)want_n);
    CHECK(vkt_host_params_find(&p, "lm_head.weight") == NULL, "tied lm_head must not be in the table");
    const vkt_host_param *e = vkt_host_params_find(&p, "model.embed_tokens.weight");
    const vkt_host_param *k4 = vkt_host_params_find(&p, "model.layers.4.self_attn.k_proj.weight");
    const vkt_host_param *d4 = vkt_host_params_find(&p, "model.layers.4.mlp.down_proj.weight");
    const vkt_host_param *nf = vkt_host_params_find(&p, "model.norm.weight");
    CHECK(e && e->shape[0] == V && e->shape[1] == C && memcmp(e->data, raw + 28, (size_t)(V * C) * 4) == 0,
          "embedding = first array of the file");
    CHECK(k4 && k4->ndim == 2 && k4->shape[0] == kv && k4->shape[1] == C, "k_proj shape");
    CHECK(d4 && d4->shape[0] == C && d4->shape[1] == H, "down_proj shape (C, H)");
    /* rms_final sits right before the freq_cis tables (2 * seq_len * HS/2 floats) at the end. */
    CHECK(nf && memcmp(nf->data, raw + size - 4 * (size_t)(c.seq_len * c.head_size + C), (size_t)C * 4) == 0,
          "model.norm.weight = rms_final");
    double sumsq = 0;
    for (int64_t i = 0; i < p.n_total; i++) sumsq += (double)p.buf[i] * p.buf[i];
    CHECK(isfinite(sumsq) && sumsq > 0, "weights finite");

    /* RoPE: permuted rows + rotate_half == original rows + interleaved rotation, per layer. */
    vkt_rng rng;
    vkt_rng_init(&rng, 42);
    int64_t q_off = 7 + V * C + c.n_layers * C, k_off = q_off + c.n_layers * C * C; /* in floats */
    double x[64], y[64], qo[64], qn[64], ko[32], kn[32], ko2[32], kn2[32], worst = 0, worst_s = 0;
    char name[96];
    for (int l = 0; l < c.n_layers; l++) {
        const float *wq_old = (const float *)raw + q_off + l * C * C;
        const float *wk_old = (const float *)raw + k_off + l * kv * C;
        snprintf(name, sizeof name, "model.layers.%d.self_attn.q_proj.weight", l);
        const vkt_host_param *wq = vkt_host_params_find(&p, name);
        snprintf(name, sizeof name, "model.layers.%d.self_attn.k_proj.weight", l);
        const vkt_host_param *wk = vkt_host_params_find(&p, name);
        if (!wq || !wk) continue;
        for (int i = 0; i < C; i++) x[i] = vkt_rng_normal(&rng), y[i] = vkt_rng_normal(&rng);
        int pq = 7 + l * 13, pk = 3 + l * 5;
        matvec(qo, wq_old, x, (int)C, (int)C), matvec(qn, wq->data, x, (int)C, (int)C);
        matvec(ko, wk_old, y, (int)kv, (int)C), matvec(kn, wk->data, y, (int)kv, (int)C);
        rope_interleaved(qo, (int)C, c.head_size, pq), rope_half(qn, (int)C, c.head_size, pq);
        rope_interleaved(ko, (int)kv, c.head_size, pk), rope_half(kn, (int)kv, c.head_size, pk);
        memcpy(ko2, ko, sizeof ko), memcpy(kn2, kn, sizeof kn);
        int half = c.head_size / 2;
        for (int hh = 0; hh < c.n_heads; hh++)
            for (int j = 0; j < 2; j++)
                for (int i = 0; i < half; i++) {
                    double a = qn[hh * c.head_size + j * half + i], b = qo[hh * c.head_size + 2 * i + j];
                    worst = fmax(worst, fabs(a - b) / (fabs(b) + 1e-3));
                }
        /* Attention scores with grouped-query sharing (head hh uses kv head hh / (NH / KVH)). */
        for (int hh = 0; hh < c.n_heads; hh++) {
            int g = hh / (c.n_heads / c.n_kv_heads);
            double so = 0, sn = 0;
            for (int d = 0; d < c.head_size; d++) {
                so += qo[hh * c.head_size + d] * ko2[g * c.head_size + d];
                sn += qn[hh * c.head_size + d] * kn2[g * c.head_size + d];
            }
            worst_s = fmax(worst_s, fabs(so - sn) / (fabs(so) + 1e-6));
        }
    }
    /* Both sides are the same double arithmetic on the same floats, reordered: ~1e-15. */
    CHECK(worst < 1e-12 && worst_s < 1e-9, "RoPE permutation: q max rel err %.3g, score max rel err %.3g", worst,
          worst_s);
    printf("ok   stories260K: %d tensors, %lld values; RoPE check over %d layers: q err %.2g, score err %.2g\n",
           p.count, (long long)p.n_total, c.n_layers, worst, worst_s);
    vkt_host_params_free(&p);

    /* Truncated copy of the real file. */
    const char *dir = tu_mkdir(), *cut = tu_path(dir, "cut.bin");
    tu_write(cut, raw, size - 4);
    tu_capture_begin();
    vkt_status s = vkt_llama2c_load(cut, &c, &p);
    tu_expect_fail("truncated stories260K", s, VKT_ERR_FORMAT, tu_capture_end(), "cut.bin", "truncated",
                   (const char *)NULL);
    CHECK(p.count == 0 && p.buf == NULL, "failed load leaves an empty table");
    tu_rmdir(dir);
    free(raw);
}

/* A plain double-precision Llama forward over the imported table, HF conventions (rotate_half RoPE,
 * theta 10000, RMSNorm eps 1e-5, SwiGLU, tied classifier), one position at a time with a KV cache. */
typedef struct {
    const vkt_llama2c_config *c;
    const vkt_host_params *p;
    double *kc, *vc; /* (L, seq, KVH*HS) caches */
} fwd_ctx;

static const float *W(const fwd_ctx *f, const char *fmt, int l) {
    char name[96];
    snprintf(name, sizeof name, fmt, l);
    const vkt_host_param *e = vkt_host_params_find(f->p, name);
    if (!e) {
        fprintf(stderr, "FAIL missing %s\n", name);
        exit(1);
    }
    return e->data;
}

static void rmsnorm(double *y, const double *x, const float *w, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    ss = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++) y[i] = x[i] * ss * w[i];
}

static int forward_argmax(fwd_ctx *f, int token, int pos) {
    const vkt_llama2c_config *c = f->c;
    int C = c->dim, H = c->hidden_dim, HS = c->head_size, KV = c->n_kv_heads * HS, S = c->seq_len;
    double x[256], xb[256], q[256], att[256], h1[1024], h3[1024], sc[1024];
    const float *emb = W(f, "model.embed_tokens.weight", 0);
    for (int i = 0; i < C; i++) x[i] = emb[(int64_t)token * C + i];
    for (int l = 0; l < c->n_layers; l++) {
        double *kc = f->kc + (int64_t)l * S * KV, *vc = f->vc + (int64_t)l * S * KV;
        rmsnorm(xb, x, W(f, "model.layers.%d.input_layernorm.weight", l), C);
        matvec(q, W(f, "model.layers.%d.self_attn.q_proj.weight", l), xb, C, C);
        matvec(kc + pos * KV, W(f, "model.layers.%d.self_attn.k_proj.weight", l), xb, KV, C);
        matvec(vc + pos * KV, W(f, "model.layers.%d.self_attn.v_proj.weight", l), xb, KV, C);
        rope_half(q, C, HS, pos);
        rope_half(kc + pos * KV, KV, HS, pos);
        for (int h = 0; h < c->n_heads; h++) {
            int g = h / (c->n_heads / c->n_kv_heads);
            double mx = -1e300, sum = 0;
            for (int t = 0; t <= pos; t++) {
                double d = 0;
                for (int i = 0; i < HS; i++) d += q[h * HS + i] * kc[t * KV + g * HS + i];
                sc[t] = d / sqrt((double)HS);
                mx = fmax(mx, sc[t]);
            }
            for (int t = 0; t <= pos; t++) sum += sc[t] = exp(sc[t] - mx);
            for (int i = 0; i < HS; i++) {
                double a = 0;
                for (int t = 0; t <= pos; t++) a += sc[t] / sum * vc[t * KV + g * HS + i];
                att[h * HS + i] = a;
            }
        }
        matvec(xb, W(f, "model.layers.%d.self_attn.o_proj.weight", l), att, C, C);
        for (int i = 0; i < C; i++) x[i] += xb[i];
        rmsnorm(xb, x, W(f, "model.layers.%d.post_attention_layernorm.weight", l), C);
        matvec(h1, W(f, "model.layers.%d.mlp.gate_proj.weight", l), xb, H, C);
        matvec(h3, W(f, "model.layers.%d.mlp.up_proj.weight", l), xb, H, C);
        for (int i = 0; i < H; i++) h1[i] = h1[i] / (1.0 + exp(-h1[i])) * h3[i];
        matvec(xb, W(f, "model.layers.%d.mlp.down_proj.weight", l), h1, C, H);
        for (int i = 0; i < C; i++) x[i] += xb[i];
    }
    rmsnorm(xb, x, W(f, "model.norm.weight", 0), C);
    int best = 0;
    double best_v = -1e300;
    for (int v = 0; v < c->vocab_size; v++) {
        double d = 0;
        for (int i = 0; i < C; i++) d += (double)emb[(int64_t)v * C + i] * xb[i];
        if (d > best_v) best_v = d, best = v;
    }
    return best;
}

/* End to end: the imported table, run with HF's rotate_half, reproduces llama2.c's greedy sample. */
static void test_greedy(void) {
    vkt_llama2c_config c;
    vkt_host_params p = {0};
    CHECK(vkt_llama2c_load(vkt_test_data("models/stories260K/stories260K.bin"), &c, &p) == VKT_OK, "load");
    size_t n;
    char *js = (char *)tu_read(vkt_test_data("models/stories260K/greedy_reference.json"), &n);
    cJSON *root = cJSON_ParseWithLength(js, n);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "token_ids");
    const cJSON *bos = cJSON_GetObjectItemCaseSensitive(root, "bos_id");
    int steps = cJSON_GetArraySize(ids);
    bool ok = cJSON_IsArray(ids) && cJSON_IsNumber(bos) && steps == 256 && c.dim <= 256 && c.hidden_dim <= 1024;
    CHECK(ok, "reference file / model sizes");
    if (!ok) goto cleanup;
    int64_t cache = (int64_t)c.n_layers * c.seq_len * c.n_kv_heads * c.head_size;
    fwd_ctx f = {&c, &p, calloc((size_t)cache, sizeof(double)), calloc((size_t)cache, sizeof(double))};
    int token = bos->valueint, match = 0, first_bad = -1;
    for (int pos = 0; pos < steps; pos++) {
        int next = forward_argmax(&f, token, pos), want = cJSON_GetArrayItem(ids, pos)->valueint;
        if (next == want)
            match++;
        else if (first_bad < 0)
            first_bad = pos;
        token = want; /* teacher-force so one near-tie cannot derail the rest */
    }
    CHECK(match == steps, "greedy tokens: %d of %d match, first mismatch at position %d", match, steps, first_bad);
    if (match == steps)
        printf("ok   greedy decode with rotate_half on the imported weights: %d of %d tokens match greedy_reference\n",
               match, steps);
    free(f.kc);
    free(f.vc);
cleanup:
    cJSON_Delete(root);
    free(js);
    vkt_host_params_free(&p);
}

/* Tiny unshared checkpoint whose every float is its own index in the weight area. */
static void test_synthetic(const char *dir) {
    enum { C = 8, H = 12, L = 2, NH = 2, KVH = 1, V = 10, S = 4, HS = 4, KV = 4 };
    const int n = V * C + L * (C + C * C + 2 * KV * C + C * C + C + 3 * H * C) + C + S * HS + V * C;
    float *buf = malloc(28 + (size_t)n * 4);
    int32_t hdr[7] = {C, H, L, NH, KVH, -V, S};
    memcpy(buf, hdr, 28);
    for (int i = 0; i < n; i++) buf[7 + i] = (float)i;
    const char *path = tu_path(dir, "tiny.bin");
    tu_write(path, buf, 28 + (size_t)n * 4);
    vkt_llama2c_config c;
    vkt_host_params p = {0};
    CHECK(vkt_llama2c_load(path, &c, &p) == VKT_OK, "load tiny");
    CHECK(!c.shared_classifier && c.vocab_size == V && p.count == 3 + 9 * L, "tiny: unshared, %d tensors", p.count);
    /* Source offsets of each llama2.c array (floats), written out independently of the reader. */
    int emb = 0, rms_att = emb + V * C, wq = rms_att + L * C, wk = wq + L * C * C, wv = wk + L * KV * C;
    int wo = wv + L * KV * C, rms_ffn = wo + L * C * C, w1 = rms_ffn + L * C, w2 = w1 + L * H * C;
    int w3 = w2 + L * C * H, rms_f = w3 + L * H * C, wcls = rms_f + C + S * HS;
    CHECK(wcls + V * C == n, "layout arithmetic");
    struct {
        const char *name;
        int src, rows, cols;
        bool permuted;
    } want[] = {
        {"model.embed_tokens.weight", emb, V, C, false},
        {"model.layers.1.input_layernorm.weight", rms_att + C, 1, C, false},
        {"model.layers.1.self_attn.q_proj.weight", wq + C * C, C, C, true},
        {"model.layers.1.self_attn.k_proj.weight", wk + KV * C, KV, C, true},
        {"model.layers.1.self_attn.v_proj.weight", wv + KV * C, KV, C, false},
        {"model.layers.0.self_attn.o_proj.weight", wo, C, C, false},
        {"model.layers.1.post_attention_layernorm.weight", rms_ffn + C, 1, C, false},
        {"model.layers.1.mlp.gate_proj.weight", w1 + H * C, H, C, false},
        {"model.layers.1.mlp.down_proj.weight", w2 + C * H, C, H, false},
        {"model.layers.1.mlp.up_proj.weight", w3 + H * C, H, C, false},
        {"model.norm.weight", rms_f, 1, C, false},
        {"lm_head.weight", wcls, V, C, false},
    };
    for (size_t t = 0; t < sizeof want / sizeof want[0]; t++) {
        const vkt_host_param *e = vkt_host_params_find(&p, want[t].name);
        if (!e || e->n != (int64_t)want[t].rows * want[t].cols) {
            CHECK(0, "%s missing or wrong size", want[t].name);
            continue;
        }
        int bad = -1;
        for (int r = 0; r < want[t].rows && bad < 0; r++) {
            /* new row h*HS + j*HS/2 + i holds old row h*HS + 2i + j */
            int hh = r / HS, j = (r % HS) / (HS / 2), i = r % (HS / 2);
            int src_row = want[t].permuted ? hh * HS + 2 * i + j : r;
            for (int col = 0; col < want[t].cols; col++)
                if (e->data[r * want[t].cols + col] != (float)(want[t].src + src_row * want[t].cols + col)) bad = r;
        }
        CHECK(bad < 0, "%s: row %d comes from the wrong place", want[t].name, bad);
    }
    vkt_host_params_free(&p);
    printf("ok   synthetic unshared checkpoint: 12 tensors match their llama2.c source offsets\n");

    /* Bad headers. */
    struct {
        const char *what;
        int32_t h[7];
        vkt_status want;
        const char *word;
    } bad[] = {
        {"vocab_size 0", {C, H, L, NH, KVH, 0, S}, VKT_ERR_FORMAT, "vocab_size"},
        {"negative dim", {-8, H, L, NH, KVH, V, S}, VKT_ERR_FORMAT, "dim"},
        {"heads not dividing dim", {C, H, L, 3, 1, V, S}, VKT_ERR_FORMAT, "n_heads"},
        {"kv heads not dividing heads", {C, H, L, NH, 3, V, S}, VKT_ERR_FORMAT, "n_kv_heads"},
        {"size mismatch", {C, H, L, NH, KVH, V, S}, VKT_ERR_FORMAT, "implies"},
        {"ak42 export", {0x616b3432, 1, 0, 0, 0, 0, 0}, VKT_ERR_UNSUPPORTED, "ak42"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(buf, bad[i].h, 28);
        tu_write(path, buf, 28 + (size_t)n * 4);
        tu_capture_begin();
        vkt_status s = vkt_llama2c_load(path, &c, &p);
        tu_expect_fail(bad[i].what, s, bad[i].want, tu_capture_end(), "tiny.bin", bad[i].word, (const char *)NULL);
    }
    tu_write(path, buf, 10);
    tu_capture_begin();
    vkt_status s = vkt_llama2c_read_config(path, &c);
    tu_expect_fail("10-byte file", s, VKT_ERR_FORMAT, tu_capture_end(), "tiny.bin", "truncated", (const char *)NULL);
    free(buf);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("test_llama2c (pure CPU)\n");
    test_stories260k();
    test_greedy();
    const char *dir = tu_mkdir();
    test_synthetic(dir);
    tu_rmdir(dir);
    if (g_failures) fprintf(stderr, "test_llama2c: %d failures\n", g_failures);
    return g_failures ? 1 : 0;
}
