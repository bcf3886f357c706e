/* GRPO recorders (see grpo.h): advantages and reduction in one workgroup each, the per-token pass one
 * invocation per position. */
#include "ops/grpo.h"

#include "ops/op_util.h"

typedef struct {
    uint32_t S, G, scale_mode, _pad;
} vkt_pc_grpo_adv;
_Static_assert(sizeof(vkt_pc_grpo_adv) == 16, "keep in sync with shaders/grpo_adv.comp");

typedef struct {
    uint32_t n, S, has_old, has_ref;
    float eps_low, eps_high, beta, _pad;
} vkt_pc_grpo_token;
_Static_assert(sizeof(vkt_pc_grpo_token) == 32, "keep in sync with shaders/grpo_token.comp");

typedef struct {
    uint32_t S, agg, has_norm, max_completion_length;
    float dloss, _pad[3];
} vkt_pc_grpo_reduce;
_Static_assert(sizeof(vkt_pc_grpo_reduce) == 32, "keep in sync with shaders/grpo_reduce.comp");

#define WG 256

vkt_grpo_opts vkt_grpo_opts_default(int32_t group_size) {
    return (vkt_grpo_opts){.group_size = group_size,
                           .scale = VKT_GRPO_SCALE_GROUP,
                           .epsilon_low = 0.2f,
                           .epsilon_high = 0.2f,
                           .agg = VKT_GRPO_AGG_DAPO,
                           .max_completion_length = 256,
                           .dloss = 1.0f};
}

static vkt_status pipeline(vkt_rec *r, const char *name, uint32_t nb, uint32_t pc_size, vkt_pipeline **p) {
    const uint32_t spec[] = {WG};
    return vkt_ops_pipeline(r, name, nb, pc_size, spec, 1, p);
}

vkt_status vkt_op_grpo_advantages(vkt_rec *r, const vkt_tensor *rewards, const vkt_tensor *advantages,
                                  const vkt_tensor *stats, const vkt_grpo_opts *o) {
    int64_t S = vkt_tensor_numel(rewards);
    VKT_ASSERT(S >= 1 && S <= INT32_MAX && o->group_size >= 1 && S % o->group_size == 0);
    VKT_ASSERT(o->scale >= VKT_GRPO_SCALE_GROUP && o->scale <= VKT_GRPO_SCALE_NONE);
    vkt_pipeline *p;
    VKT_TRY(pipeline(r, "grpo_adv", 3, sizeof(vkt_pc_grpo_adv), &p));
    vkt_pc_grpo_adv pc = {(uint32_t)S, (uint32_t)o->group_size, (uint32_t)o->scale, 0};
    vkt_binding b[3] = {{vkt_ops_whole(r, rewards, VKT_DTYPE_F32, S), VKT_READ},
                        {vkt_ops_whole(r, advantages, VKT_DTYPE_F32, S), VKT_WRITE},
                        {vkt_ops_whole(r, stats, VKT_DTYPE_F32, 4), VKT_WRITE}};
    return vkt_rec_dispatch(r, "grpo_adv", p, b, 3, &pc, sizeof pc, 1, 1, 1);
}

vkt_status vkt_op_grpo_token(vkt_rec *r, const vkt_tensor *losses, const vkt_tensor *seq_ids,
                             const vkt_tensor *old_losses, const vkt_tensor *ref_losses, const vkt_tensor *advantages,
                             const vkt_tensor *tokvals, const vkt_tensor *tokgrad, const vkt_grpo_opts *o) {
    int64_t N = vkt_tensor_numel(seq_ids), S = vkt_tensor_numel(advantages);
    VKT_ASSERT(N >= 1 && N <= UINT32_MAX / 4 && S >= 1 && S <= INT32_MAX);
    VKT_ASSERT(o->epsilon_low >= 0 && o->epsilon_low < 1 && o->epsilon_high >= 0);
    VKT_ASSERT(o->beta == 0 || ref_losses != NULL); /* a KL penalty needs the reference */
    vkt_pipeline *p;
    VKT_TRY(pipeline(r, "grpo_token", 7, sizeof(vkt_pc_grpo_token), &p));
    vkt_pc_grpo_token pc = {(uint32_t)N,    (uint32_t)S,     old_losses != NULL, ref_losses != NULL,
                            o->epsilon_low, o->epsilon_high, o->beta,           0};
    vkt_tensor lo = vkt_ops_whole(r, losses, VKT_DTYPE_F32, N);
    /* Absent optional inputs are never read: the losses stand in for their bindings. */
    vkt_binding b[7] = {{lo, VKT_READ},
                        {vkt_ops_whole(r, seq_ids, VKT_DTYPE_I32, N), VKT_READ},
                        {old_losses ? vkt_ops_whole(r, old_losses, VKT_DTYPE_F32, N) : lo, VKT_READ},
                        {ref_losses ? vkt_ops_whole(r, ref_losses, VKT_DTYPE_F32, N) : lo, VKT_READ},
                        {vkt_ops_whole(r, advantages, VKT_DTYPE_F32, S), VKT_READ},
                        {vkt_ops_whole(r, tokvals, VKT_DTYPE_F32, 4 * N), VKT_WRITE},
                        {vkt_ops_whole(r, tokgrad, VKT_DTYPE_F32, N), VKT_WRITE}};
    uint32_t gx, gy;
    vkt_ops_grid_1d(vkt_ceil_div((uint64_t)N, WG), &gx, &gy);
    return vkt_rec_dispatch(r, "grpo_token", p, b, 7, &pc, sizeof pc, gx, gy, 1);
}

vkt_status vkt_op_grpo_reduce(vkt_rec *r, const vkt_tensor *seqvals, const vkt_tensor *norm, const vkt_tensor *coef,
                              const vkt_tensor *stats, const vkt_grpo_opts *o) {
    int64_t S = vkt_tensor_numel(coef);
    VKT_ASSERT(S >= 1 && S <= INT32_MAX);
    VKT_ASSERT(o->agg >= VKT_GRPO_AGG_DAPO && o->agg <= VKT_GRPO_AGG_DR_GRPO);
    VKT_ASSERT(o->agg != VKT_GRPO_AGG_DR_GRPO || o->max_completion_length >= 1);
    VKT_ASSERT(norm == NULL || o->agg == VKT_GRPO_AGG_DAPO);
    vkt_pipeline *p;
    VKT_TRY(pipeline(r, "grpo_reduce", 4, sizeof(vkt_pc_grpo_reduce), &p));
    vkt_pc_grpo_reduce pc = {.S = (uint32_t)S,
                             .agg = (uint32_t)o->agg,
                             .has_norm = norm != NULL,
                             .max_completion_length = (uint32_t)o->max_completion_length,
                             .dloss = o->dloss};
    vkt_tensor sv = vkt_ops_whole(r, seqvals, VKT_DTYPE_F32, 5 * S);
    vkt_binding b[4] = {{sv, VKT_READ},
                        {norm ? vkt_ops_whole(r, norm, VKT_DTYPE_F32, 1) : sv, VKT_READ},
                        {vkt_ops_whole(r, coef, VKT_DTYPE_F32, S), VKT_WRITE},
                        {vkt_ops_whole(r, stats, VKT_DTYPE_F32, 8), VKT_WRITE}};
    return vkt_rec_dispatch(r, "grpo_reduce", p, b, 4, &pc, sizeof pc, 1, 1, 1);
}
