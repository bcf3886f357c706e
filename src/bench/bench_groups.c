/* The table of case groups, in the order they run. Adding an op: write src/bench/bench_<op>.c with
 * vkt_bench_group_<op>, declare it in bench_groups.h and add one row here (see src/bench/README.md). */
#include "bench/bench_groups.h"

typedef struct {
    const char *name; /* for messages */
    vkt_status (*run)(vkt_bench *b);
} group;

/* One row per line, so helpers adding groups at once merge cleanly. */
// clang-format off
static const group groups[] = {
    {"residual", vkt_bench_group_residual},
    {"gelu", vkt_bench_group_gelu},
    {"xent", vkt_bench_group_xent},
    {"optim", vkt_bench_group_optim},
    {"embed", vkt_bench_group_embed},
    {"rope", vkt_bench_group_rope},
    {"norm", vkt_bench_group_norm},
    {"swiglu", vkt_bench_group_swiglu},
    {"matmul", vkt_bench_group_matmul},
    {"attention", vkt_bench_group_attention},
    {"qmatmul", vkt_bench_group_qmatmul},
};
// clang-format on

vkt_status vkt_bench_run_all(vkt_bench *b) {
    VKT_TRY(vkt_bench_peaks(b));
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        vkt_status s = groups[i].run(b);
        if (s != VKT_OK) {
            vkt_log_error("bench: group %s stopped with %s", groups[i].name, vkt_status_name(s));
            return s;
        }
    }
    return VKT_OK;
}
