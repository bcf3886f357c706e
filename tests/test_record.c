/* The recorder: synchronization validation is live (a missing barrier is reported, the automatic ones
 * are clean), barriers go exactly where accesses conflict, and recorded buffers replay identically. */
#include <string.h>

#include "harness.h"
#include "ops/residual.h"

/* Dependent pair: y = a + b, then z = y + b (reads what the first wrote). */
static vkt_status record_dependent(vkt_rec *r, const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *y,
                                   const vkt_tensor *z) {
    VKT_TRY(vkt_op_residual_fwd(r, a, b, y));
    return vkt_op_residual_fwd(r, y, b, z);
}

/* (1) On its own device (the hazard it provokes must not count against the harness device). */
static void check_validation_live(vkt_test *t) {
    vkt_device_opts opts = vkt_device_opts_default();
    opts.validation = true;
    vkt_device *dev;
    vkt_arena *arena;
    vkt_rec *r;
    VKT_TEST_TRY(t, vkt_device_create(&opts, &dev));
    VKT_TEST_TRY(t, vkt_arena_create(dev, "sync", 1 << 20, &arena));
    VKT_TEST_TRY(t, vkt_rec_create(dev, 0, &r));
    const int64_t n = 4096;
    vkt_tensor a, b, y, z;
    VKT_TEST_TRY(t, vkt_tensor_alloc(arena, VKT_DTYPE_F32, n, 1, 1, 1, &a));
    VKT_TEST_TRY(t, vkt_tensor_alloc(arena, VKT_DTYPE_F32, n, 1, 1, 1, &b));
    VKT_TEST_TRY(t, vkt_tensor_alloc(arena, VKT_DTYPE_F32, n, 1, 1, 1, &y));
    VKT_TEST_TRY(t, vkt_tensor_alloc(arena, VKT_DTYPE_F32, n, 1, 1, 1, &z));

    VKT_TEST_TRY(t, vkt_rec_begin(r));
    VKT_TEST_TRY(t, record_dependent(r, &a, &b, &y, &z));
    VKT_TEST_TRY(t, vkt_rec_end(r));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(r));
    uint32_t with = vkt_device_validation_messages(dev), barriers_with = vkt_rec_barrier_count(r);

    vkt_rec_set_auto_barriers(r, false);
    printf("   recording without automatic barriers: one SYNC-HAZARD-READ-AFTER-WRITE error is expected\n");
    fflush(stdout);
    VKT_TEST_TRY(t, vkt_rec_begin(r));
    VKT_TEST_TRY(t, record_dependent(r, &a, &b, &y, &z));
    VKT_TEST_TRY(t, vkt_rec_end(r));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(r));
    uint32_t without = vkt_device_validation_messages(dev) - with, barriers_without = vkt_rec_barrier_count(r);
    printf("   sync validation: %u message(s) with automatic barriers (%u barriers), %u without (%u barriers)\n", with,
           barriers_with, without, barriers_without);
    if (with != 0) vkt_test_fail(t, "automatic barriers still drew %u validation message(s)", with);
    if (without == 0)
        vkt_test_fail(t, "a read-after-write without a barrier drew no validation message: synchronization "
                         "validation is not live (is VK_LAYER_KHRONOS_validation installed and enabled?)");
    if (barriers_without + 1 != barriers_with)
        vkt_test_fail(t, "expected exactly one hazard barrier to be dropped (%u with, %u without)", barriers_with,
                      barriers_without);
    vkt_rec_destroy(r);
    vkt_arena_destroy(arena);
    vkt_device_destroy(dev);
}

/* (2) Barriers only between conflicting accesses: RAW, WAR and WAW, compute and transfer. */
static void check_barrier_placement(vkt_test *t) {
    const int64_t n = 1000;
    vkt_tensor a, b, c, y1, y2, y3;
    vkt_tensor *all[] = {&a, &b, &c, &y1, &y2, &y3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_F32, n, 1, 1, 1, all[i]));
    vkt_rec *r = t->rec;
    VKT_TEST_TRY(t, vkt_rec_begin(r));
    uint32_t base = vkt_rec_barrier_count(r); /* the begin barrier */
    struct {
        const char *what;
        uint32_t want; /* barriers after this step, relative to base */
        int step;
    } steps[] = {
        {"fill a, b, c (disjoint writes)", 0, 0},
        {"y1 = a + b (reads the fills: RAW)", 1, 1},
        {"y2 = a + c (independent of y1)", 1, 2},
        {"y3 = a + b (independent again)", 1, 3},
        {"a = b + c (writes what y1..y3 read: WAR)", 2, 4},
        {"a = b + c again (rewrites a: WAW)", 3, 5},
        {"copy y3 -> c (transfer overwrites c, which the last step read: WAR)", 4, 6},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        switch (steps[i].step) {
        case 0:
            VKT_TEST_TRY(t, vkt_rec_fill(r, &a, 0x3f800000u)); /* 1.0f */
            VKT_TEST_TRY(t, vkt_rec_fill(r, &b, 0x40000000u)); /* 2.0f */
            VKT_TEST_TRY(t, vkt_rec_fill(r, &c, 0x40400000u)); /* 3.0f */
            break;
        case 1: VKT_TEST_TRY(t, vkt_op_residual_fwd(r, &a, &b, &y1)); break;
        case 2: VKT_TEST_TRY(t, vkt_op_residual_fwd(r, &a, &c, &y2)); break;
        case 3: VKT_TEST_TRY(t, vkt_op_residual_fwd(r, &a, &b, &y3)); break;
        case 4: VKT_TEST_TRY(t, vkt_op_residual_fwd(r, &b, &c, &a)); break;
        case 5: VKT_TEST_TRY(t, vkt_op_residual_fwd(r, &b, &c, &a)); break;
        case 6: VKT_TEST_TRY(t, vkt_rec_copy(r, &y3, &c)); break;
        }
        uint32_t got = vkt_rec_barrier_count(r) - base;
        printf("   %-70s barriers %u (want %u)\n", steps[i].what, got, steps[i].want);
        if (got != steps[i].want)
            vkt_test_fail(t, "barrier placement: after '%s' %u barrier(s), want %u", steps[i].what, got, steps[i].want);
    }
    VKT_TEST_TRY(t, vkt_rec_end(r));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(r));
    /* The values prove the order held: a = 2 + 3 = 5 only after y1..y3 read a = 1. */
    const struct {
        const vkt_tensor *x;
        float want;
        const char *name;
    } expect[] = {{&a, 5, "a"}, {&y1, 3, "y1"}, {&y2, 4, "y2"}, {&y3, 3, "y3"}, {&c, 3, "c"}};
    for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++) {
        float *v = vkt_test_download(t, expect[k].x);
        for (int64_t i = 0; i < n; i++)
            if (v[i] != expect[k].want) {
                vkt_test_fail(t, "%s[%lld] = %g, want %g", expect[k].name, (long long)i, v[i], expect[k].want);
                break;
            }
        free(v);
    }
    vkt_arena_reset(t->arena);
}

/* (3) Replays: a pure chain gives the same bits every time; an accumulating op adds once per replay. */
static void check_replay(vkt_test *t) {
    const int64_t n = 12345;
    const int replays = 4;
    float *ha = vkt_test_randn(t, (size_t)n, 1), *hb = vkt_test_randn(t, (size_t)n, 1);
    float *hacc = vkt_test_randn(t, (size_t)n, 1);
    vkt_tensor a = vkt_test_upload(t, ha, n, 1, 1, 1), b = vkt_test_upload(t, hb, n, 1, 1, 1);
    vkt_tensor acc = vkt_test_upload(t, hacc, n, 1, 1, 1), db = vkt_test_upload(t, hacc, n, 1, 1, 1);
    vkt_tensor y, z;
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_F32, n, 1, 1, 1, &y));
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_F32, n, 1, 1, 1, &z));
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    VKT_TEST_TRY(t, record_dependent(t->rec, &a, &b, &y, &z));
    /* acc += b (and db += b): the residual backward with dout = b */
    VKT_TEST_TRY(t, vkt_op_residual_bwd(t->rec, &b, &acc, &db));
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    float *first = NULL;
    for (int k = 1; k <= replays; k++) {
        VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
        float *zk = vkt_test_download(t, &z), *acck = vkt_test_download(t, &acc);
        if (!first)
            first = zk;
        else if (memcmp(first, zk, (size_t)n * sizeof *zk) != 0)
            vkt_test_fail(t, "replay %d: z differs from replay 1", k);
        /* Exact in float as long as we add in the same order the GPU does: one add per replay. */
        float worst = 0;
        int64_t bad = -1;
        for (int64_t i = 0; i < n; i++) {
            float want = hacc[i];
            for (int j = 0; j < k; j++) want += hb[i];
            float e = fabsf(acck[i] - want);
            if (!(e <= worst)) worst = e, bad = i;
        }
        if (worst != 0) vkt_test_fail(t, "replay %d: accumulator off by %g at index %lld", k, worst, (long long)bad);
        if (zk != first) free(zk);
        free(acck);
    }
    printf("   %d replays: z identical, accumulator grew by exactly one add per replay\n", replays);
    for (int64_t i = 0; i < n; i++)
        if (first[i] != (ha[i] + hb[i]) + hb[i]) {
            vkt_test_fail(t, "z[%lld] = %g, want %g", (long long)i, first[i], (ha[i] + hb[i]) + hb[i]);
            break;
        }
    free(first), free(ha), free(hb), free(hacc);
    vkt_arena_reset(t->arena);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "record");
    check_validation_live(&t);
    check_barrier_placement(&t);
    check_replay(&t);
    return vkt_test_finish(&t);
}
