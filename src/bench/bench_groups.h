/* Case groups of `vktrain bench`: one function per op file, listed in bench_groups.c. */
#ifndef VKT_BENCH_GROUPS_H
#define VKT_BENCH_GROUPS_H

#include "bench/bench.h"

/* Each runs its cases through vkt_bench_run (which applies --filter) and returns device errors only. */
vkt_status vkt_bench_group_residual(vkt_bench *b);
vkt_status vkt_bench_group_gelu(vkt_bench *b);
vkt_status vkt_bench_group_xent(vkt_bench *b);
vkt_status vkt_bench_group_optim(vkt_bench *b);
vkt_status vkt_bench_group_embed(vkt_bench *b);
vkt_status vkt_bench_group_rope(vkt_bench *b);
vkt_status vkt_bench_group_norm(vkt_bench *b);
vkt_status vkt_bench_group_swiglu(vkt_bench *b);
vkt_status vkt_bench_group_matmul(vkt_bench *b);
vkt_status vkt_bench_group_attention(vkt_bench *b);
vkt_status vkt_bench_group_qmatmul(vkt_bench *b);

#endif
