/* The matmul tuner: its cache file (written, reread, versioned, corrupt files ignored and rewritten), the
 * choice it stores and reuses, VKT_TUNE=0, and every candidate tile of every kernel this device runs against
 * the double reference (odd shapes, NaN-poisoned outputs) and against the default tile: the same K chunking
 * must give the same bits (every tile sums each output's k terms in the same order), another chunking the
 * reference's bound (tests/test_op_matmul.c derives it). */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "ops/matmul.h"
#include "ops/matmul_tune.h"
#include "ref/ref_matmul.h"
#include "vk/tune_cache.h"

static char g_dir[256];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static bool file_contains(const char *path, const char *needle) {
    char buf[8192] = {0};
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

static void expect_value(vkt_test *t, const vkt_tune_cache *c, const char *key, const char *want, const char *when) {
    const char *got = vkt_tune_cache_get(c, key);
    if (!want ? got != NULL : !got || strcmp(got, want))
        vkt_test_fail(t, "%s: %s = '%s', expected '%s'", when, key, got ? got : "(absent)", want ? want : "(absent)");
}

static void check_cache_file(vkt_test *t) {
    char path[300];
    snprintf(path, sizeof path, "%s/file-test.txt", g_dir);
    remove(path);
    vkt_tune_cache *c;
    VKT_TEST_TRY(t, vkt_tune_cache_create(path, "dev:A", &c));
    expect_value(t, c, "x/y", NULL, "new cache");
    VKT_TEST_TRY(t, vkt_tune_cache_put(c, "x/y", "wg=8 tm=8"));
    VKT_TEST_TRY(t, vkt_tune_cache_put(c, "x/z", "one two # three"));
    VKT_TEST_TRY(t, vkt_tune_cache_put(c, "x/y", "wg=16"));
    if (vkt_tune_cache_put(c, "has space", "v") == VKT_OK) vkt_test_fail(t, "a key with a blank was accepted");
    vkt_tune_cache_destroy(c);
    if (!file_contains(path, "vktrain-tune 2 dev:A\n")) vkt_test_fail(t, "%s lacks the version line", path);

    VKT_TEST_TRY(t, vkt_tune_cache_create(path, "dev:A", &c));
    expect_value(t, c, "x/y", "wg=16", "reread");
    expect_value(t, c, "x/z", "one two # three", "reread");
    vkt_tune_cache_destroy(c);

    /* Another device or driver: the file is not this cache's. */
    VKT_TEST_TRY(t, vkt_tune_cache_create(path, "dev:B", &c));
    expect_value(t, c, "x/y", NULL, "other device line");
    vkt_tune_cache_destroy(c);

    /* Corrupt files: ignored with a warning, rewritten whole by the next put. */
    const char *corrupt[] = {"",
                             "garbage\n",
                             "vktrain-tune 999 dev:A\nx/y wg=16\n",
                             "vktrain-tune 1 dev:A\nx/y wg=16\n",
                             "vktrain-tune 2 dev:A\nx/y\n",
                             "vktrain-tune 2 dev:A\nx/y wg=16\n kv\n"};
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        write_file(path, corrupt[i]);
        VKT_TEST_TRY(t, vkt_tune_cache_create(path, "dev:A", &c));
        expect_value(t, c, "x/y", NULL, "corrupt file");
        VKT_TEST_TRY(t, vkt_tune_cache_put(c, "x/w", "v"));
        vkt_tune_cache_destroy(c);
        VKT_TEST_TRY(t, vkt_tune_cache_create(path, "dev:A", &c));
        expect_value(t, c, "x/w", "v", "rewritten after a corrupt file");
        expect_value(t, c, "x/y", NULL, "rewritten after a corrupt file");
        vkt_tune_cache_destroy(c);
    }
    remove(path);

    vkt_matmul_tile a = {.wg = 16, .tm = 8, .tn = 16, .kmax = 256}, b;
    char text[160];
    vkt_matmul_tile_format(&a, text, sizeof text);
    if (!vkt_matmul_tile_parse(text, &b) || memcmp(&a, &b, sizeof a))
        vkt_test_fail(t, "tile '%s' does not round-trip", text);
    const char *bad[] = {"", "wg=8", "wg=8 tm=8 tn=8 bm=0 bn=0 bk=0 kmax=x", "wg=8 tm=8 tn=8 bm=0 bn=0 bk=0 kmax=0 z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vkt_matmul_tile_parse(bad[i], &b)) vkt_test_fail(t, "tile '%s' was accepted", bad[i]);
}

/* The device's cache: a measured choice is stored, reused, re-measured when invalid; VKT_TUNE=0 ignores it. */
static void check_device_choice(vkt_test *t) {
    const vkt_device_info *info = vkt_device_get_info(t->dev);
    vkt_mm_kernel kern = info->type == VKT_DEVICE_CPU ? VKT_MM_KERNEL_WIDE : VKT_MM_KERNEL_SMEM;
    vkt_matmul_tile cand[VKT_MATMUL_MAX_CANDIDATES], got, again;
    int n_cand = vkt_matmul_tile_candidates(info, kern, true, cand);
    if (n_cand < 2)
        vkt_test_fail(t, "%s has %d candidate(s) on %s: nothing to tune", vkt_mm_kernel_name(kern), n_cand, info->name);
    setenv("VKT_TUNE", "1", 1);
    vkt_tune_cache *cache = vkt_device_tune_cache(t->dev);
    const char *path = vkt_tune_cache_path(cache);
    if (strncmp(path, g_dir, strlen(g_dir)))
        vkt_test_fail(t, "tune cache %s is not under VKT_CACHE_DIR %s", path, g_dir);
    vkt_matmul_class cls = vkt_matmul_class_of(kern, true, false, VKT_DTYPE_F32, 64, 72, 768);
    char key[96];
    vkt_matmul_class_key(&cls, key, sizeof key);
    VKT_TEST_TRY(t, vkt_matmul_tile_for(t->dev, kern, true, false, VKT_DTYPE_F32, 64, 72, 768, &got));
    const char *value = vkt_tune_cache_get(cache, key);
    vkt_matmul_tile stored;
    if (!value || !vkt_matmul_tile_parse(value, &stored) || memcmp(&stored, &got, sizeof got))
        vkt_test_fail(t, "after measuring, %s holds '%s' for %s", path, value ? value : "(nothing)", key);
    if (!file_contains(path, key)) vkt_test_fail(t, "%s was not written", path);
    printf("   tuned %s -> %s\n", key, value ? value : "-");

    /* Same class (other sizes in the same buckets): reused, not measured again. */
    VKT_TEST_TRY(t, vkt_tune_cache_put(cache, key, "wg=999 tm=8 tn=8 bm=0 bn=0 bk=0 kmax=0"));
    VKT_TEST_TRY(t, vkt_matmul_tile_for(t->dev, kern, true, false, VKT_DTYPE_F32, 40, 80, 600, &again));
    if (!vkt_matmul_tile_valid(info, kern, true, &again))
        vkt_test_fail(t, "an invalid cached tile was used instead of measuring again");
    value = vkt_tune_cache_get(cache, key);
    if (!value || !vkt_matmul_tile_parse(value, &stored) || !vkt_matmul_tile_valid(info, kern, true, &stored))
        vkt_test_fail(t, "the invalid entry for %s was not replaced ('%s')", key, value ? value : "-");
    VKT_TEST_TRY(t, vkt_matmul_tile_for(t->dev, kern, true, false, VKT_DTYPE_F32, 40, 80, 600, &again));
    if (memcmp(&again, &stored, sizeof again)) vkt_test_fail(t, "the cached choice for %s was not reused", key);

    /* 16-bit inputs with odd element counts (the general kernel's class of a 65 x 33 x 127 product): the
     * tuner's scratch operands are filled a 4-byte word at a time, so it must not trip over half a word. */
    vkt_matmul_tile odd;
    if (info->storage16)
        VKT_TEST_TRY(t, vkt_matmul_tile_for(t->dev, VKT_MM_KERNEL_REG, false, false, VKT_DTYPE_F16, 65, 33, 127, &odd));

    /* A non-default choice in the cache, then VKT_TUNE=0: the default wins. */
    char text[160];
    vkt_matmul_tile_format(&cand[1], text, sizeof text);
    VKT_TEST_TRY(t, vkt_tune_cache_put(cache, key, text));
    VKT_TEST_TRY(t, vkt_matmul_tile_for(t->dev, kern, true, false, VKT_DTYPE_F32, 64, 72, 768, &again));
    if (memcmp(&again, &cand[1], sizeof again)) vkt_test_fail(t, "a valid cached tile (%s) was not used", text);
    setenv("VKT_TUNE", "0", 1);
    VKT_TEST_TRY(t, vkt_matmul_tile_for(t->dev, kern, true, false, VKT_DTYPE_F32, 64, 72, 768, &again));
    vkt_matmul_tile def = vkt_matmul_tile_default(kern, true);
    if (memcmp(&again, &def, sizeof again)) vkt_test_fail(t, "VKT_TUNE=0 did not give the default tile");
}

/* ---- every candidate against the reference and the default ---- */

typedef struct {
    vkt_tensor a, b, bias, c;
    vkt_matmul_desc d;
} run_ctx;

static vkt_status run_mm(vkt_rec *r, void *p) {
    run_ctx *x = p;
    return vkt_op_matmul(r, &x->a, &x->b, &x->bias, &x->c, &x->d);
}

typedef struct {
    int64_t m, n, k;
    bool ta, tb, acc;
} shape;

/* C (+)= op(A) op(B) + bias with the forced tile; returns C (caller frees). */
static float *run_forced(vkt_test *t, vkt_matmul_variant v, const vkt_matmul_force *f, const shape *s, const float *a,
                         const float *b, const float *bias, const float *c0) {
    run_ctx x = {.a = vkt_test_upload(t, a, s->m * s->k, 1, 1, 1),
                 .b = vkt_test_upload(t, b, s->k * s->n, 1, 1, 1),
                 .bias = vkt_test_upload(t, bias, s->n, 1, 1, 1)};
    vkt_test_out out = s->acc ? vkt_test_output_init(t, c0, s->m, s->n, 1, 1) : vkt_test_output(t, s->m, s->n, 1, 1);
    x.c = out.view;
    x.d = (vkt_matmul_desc){.m = s->m,
                            .n = s->n,
                            .k = s->k,
                            .trans_a = s->ta,
                            .trans_b = s->tb,
                            .accumulate = s->acc,
                            .variant = v,
                            .force = f};
    /* A forced aligned-kernel tile only reaches that kernel on aligned operands. */
    bool words = f->kernel == VKT_MM_KERNEL_WIDE || f->kernel == VKT_MM_KERNEL_NARROW;
    if (words && !vkt_matmul_wide_ok(&x.a, &x.b, &x.d))
        vkt_test_fail(t, "%lldx%lldx%lld is not a shape for matmul_wide or matmul_narrow", (long long)s->m, (long long)s->n,
                      (long long)s->k);
    vkt_test_run(t, run_mm, &x);
    float *y = vkt_test_read_output(t, &out, "c");
    vkt_arena_reset(t->arena);
    return y;
}

/* Dispatches along K that plan() in matmul.c makes for a K chunk limit (equal parts). */
static int64_t k_chunks(int64_t k, uint32_t kmax) { return kmax ? (k + kmax - 1) / kmax : 1; }

static void check_candidates(vkt_test *t, vkt_mm_kernel kern, vkt_matmul_variant v, const shape *shapes,
                             size_t n_shapes) {
    const vkt_device_info *info = vkt_device_get_info(t->dev);
    for (size_t si = 0; si < n_shapes; si++) {
        const shape *s = &shapes[si];
        size_t na = (size_t)(s->m * s->k), nb = (size_t)(s->k * s->n), nc = (size_t)(s->m * s->n);
        float *a = vkt_test_randn(t, na, 1), *b = vkt_test_randn(t, nb, 1), *bias = vkt_test_randn(t, (size_t)s->n, 1);
        float *c0 = vkt_test_randn(t, nc, 1);
        double *ad = vkt_test_to_double(a, na), *bd = vkt_test_to_double(b, nb),
               *biasd = vkt_test_to_double(bias, (size_t)s->n);
        double *ref = vkt_test_to_double(c0, nc);
        vkt_ref_matmul_desc rd = {
            .m = s->m, .n = s->n, .k = s->k, .trans_a = s->ta, .trans_b = s->tb, .alpha = 1, .accumulate = s->acc};
        vkt_ref_matmul(ad, bd, biasd, ref, &rd);
        vkt_matmul_tile cand[VKT_MATMUL_MAX_CANDIDATES];
        int n_cand = vkt_matmul_tile_candidates(info, kern, s->ta, cand);
        float *def = NULL;
        for (int i = 0; i < n_cand; i++) {
            vkt_matmul_force f = {kern, cand[i]};
            float *y = run_forced(t, v, &f, s, a, b, bias, c0);
            char what[160], tile[96];
            vkt_matmul_tile_format(&cand[i], tile, sizeof tile);
            snprintf(what, sizeof what, "%s %c%c %lldx%lldx%lld%s [%s]", vkt_mm_kernel_name(kern), s->ta ? 'T' : 'N',
                     s->tb ? 'T' : 'N', (long long)s->m, (long long)s->n, (long long)s->k, s->acc ? " acc" : "", tile);
            vkt_check(t, what, y, ref, nc, 1.2e-4 * sqrt((double)(s->k > 16 ? s->k : 16)));
            /* Candidate 0 is the default; the same K chunks must give the same bits. */
            bool same_chunks = k_chunks(s->k, cand[i].kmax) == k_chunks(s->k, cand[0].kmax);
            if (i == 0)
                def = y;
            else {
                if (same_chunks && memcmp(y, def, nc * sizeof *y))
                    vkt_test_fail(t, "%s: differs from the default tile's bits with the same K chunks", what);
                free(y);
            }
        }
        free(def), free(a), free(b), free(bias), free(c0), free(ad), free(bd), free(biasd), free(ref);
    }
}

int main(void) {
    /* The device's caches go to a fresh directory (set before the device exists). */
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_test_tune_%d", (int)getpid());
    mkdir(g_dir, 0755);
    setenv("VKT_CACHE_DIR", g_dir, 1);
    vkt_test t;
    vkt_test_init(&t, "matmul_tune");
    const vkt_device_info *info = vkt_device_get_info(t.dev);
    check_cache_file(&t);
    check_device_choice(&t);
    setenv("VKT_TUNE", "0", 1);

    /* Odd shapes for the general kernels; multiples of 8 (but not of the tiles) for the aligned one, with a
     * K past the shorter K chunk. */
    static const shape odd[] = {
        {37, 29, 19, false, false, false},
        {29, 37, 23, false, true, false},
        {33, 27, 45, true, false, true},
        {9, 70, 3, true, true, false},
    };
    static const shape aligned[] = {
        {72, 136, 48, false, false, false}, {40, 24, 64, false, true, true},    {24, 136, 40, true, false, true},
        {40, 24, 600, true, false, true},   {16, 8, 1040, false, false, false},
    };
    /* Untuned, large products take the large tile (itself a candidate, checked below), small ones the default. */
    vkt_matmul_tile big = vkt_matmul_tile_default_for(VKT_MM_KERNEL_WIDE, false, 768, 128, 128),
                    small = vkt_matmul_tile_default_for(VKT_MM_KERNEL_WIDE, true, 64, 64, 64),
                    def = vkt_matmul_tile_default(VKT_MM_KERNEL_WIDE, true);
    if (big.tm != 32 || big.tn != 16 || !vkt_matmul_tile_valid(info, VKT_MM_KERNEL_WIDE, false, &big))
        vkt_test_fail(&t, "a 768x128x128 product does not get the large wide tile (tm %u tn %u)", big.tm, big.tn);
    if (memcmp(&small, &def, sizeof def)) vkt_test_fail(&t, "a 64^3 product does not get the default wide tile");
    /* A 16-bit C keeps to 16 x 16 (the large tile's compile takes minutes there). */
    vkt_matmul_tile capped = vkt_matmul_tile_for_c16(big, true), plain = vkt_matmul_tile_for_c16(big, false);
    if (capped.tm != 16 || capped.tn != 16 || !vkt_matmul_tile_valid(info, VKT_MM_KERNEL_WIDE, false, &capped))
        vkt_test_fail(&t, "16-bit C: tile %ux%u, want 16x16 (a candidate)", capped.tm, capped.tn);
    if (memcmp(&plain, &big, sizeof big) || memcmp(&def, (vkt_matmul_tile[]){vkt_matmul_tile_for_c16(def, true)},
                                                    sizeof def))
        vkt_test_fail(&t, "the epilogue cap changed a tile it should leave alone");
    check_candidates(&t, VKT_MM_KERNEL_REG, VKT_MATMUL_REG, odd, sizeof odd / sizeof odd[0]);
    check_candidates(&t, VKT_MM_KERNEL_WIDE, VKT_MATMUL_REG, aligned, sizeof aligned / sizeof aligned[0]);
    check_candidates(&t, VKT_MM_KERNEL_SMEM, VKT_MATMUL_SMEM, odd, sizeof odd / sizeof odd[0]);
    /* matmul_narrow (C on multiples of 8 too, as every aligned shape here has it) */
    check_candidates(&t, VKT_MM_KERNEL_NARROW, VKT_MATMUL_REG, aligned, sizeof aligned / sizeof aligned[0]);
    if (info->coopmat_nv) printf("   coopmat has one configuration: covered by test_op_matmul\n");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) printf("   could not remove %s\n", g_dir);
    return vkt_test_finish(&t);
}
