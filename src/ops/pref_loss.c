/* Pairwise preference loss recorder (see pref_loss.h): one dispatch of one workgroup. */
#include "ops/pref_loss.h"

#include "core/log.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t type, n_pairs, S, policy_stride, ref_stride, has_ref, has_margin, _pad0;
    float beta, label_smoothing, orpo_lambda, center_coef, dloss, _pad1[3];
} vkt_pc_pref_loss;
_Static_assert(sizeof(vkt_pc_pref_loss) == 64, "keep in sync with shaders/pref_loss.comp");

/* One workgroup: pairs per batch are few (tens to thousands), and 64 keeps its 14 shared arrays small. */
#define WG 64
/* lavapipe stops an invocation after 65535 loop iterations in total (gallivm's loop limiter, Mesa 22-24);
 * the gradient pass walks the pair list once per sequence an invocation owns. */
#define CPU_MAX_ITERATIONS 60000

vkt_pref_opts vkt_pref_opts_default(vkt_pref_loss_type type) {
    return (vkt_pref_opts){.type = type, .beta = 0.1f, .orpo_lambda = 0.1f, .dloss = 1.0f};
}

static uint32_t stride_of(const vkt_tensor *t, int64_t S) {
    int64_t n = vkt_tensor_numel(t);
    VKT_ASSERT(t->dtype == VKT_DTYPE_F32 && (n == S || n == 2 * S));
    return (uint32_t)(n / S);
}

vkt_status vkt_op_pref_loss(vkt_rec *r, const vkt_tensor *policy, const vkt_tensor *ref, const vkt_tensor *pairs,
                            const vkt_tensor *margins, const vkt_tensor *pair_losses, const vkt_tensor *dseq,
                            const vkt_tensor *stats, const vkt_pref_opts *o) {
    int64_t S = vkt_tensor_numel(dseq), P = vkt_tensor_numel(pair_losses);
    VKT_ASSERT(S >= 1 && S <= INT32_MAX && P >= 1 && P <= INT32_MAX);
    VKT_ASSERT(o->type >= VKT_PREF_DPO_SIGMOID && o->type <= VKT_PREF_BT);
    bool needs_ref = o->type <= VKT_PREF_IPO, needs_counts = o->type == VKT_PREF_IPO || o->type == VKT_PREF_ORPO;
    VKT_ASSERT((ref != NULL) == needs_ref); /* DPO/IPO need a reference; the others take none */
    VKT_ASSERT(margins == NULL || o->type == VKT_PREF_BT);
    VKT_ASSERT(!needs_ref || o->beta > 0);
    VKT_ASSERT(o->type != VKT_PREF_DPO_ROBUST || (o->label_smoothing >= 0 && o->label_smoothing < 0.5f));
    VKT_ASSERT(o->label_smoothing >= 0 && o->label_smoothing <= 1);
    vkt_pc_pref_loss pc = {.type = (uint32_t)o->type,
                           .n_pairs = (uint32_t)P,
                           .S = (uint32_t)S,
                           .policy_stride = stride_of(policy, S),
                           .ref_stride = ref ? stride_of(ref, S) : 1,
                           .has_ref = ref != NULL,
                           .has_margin = margins != NULL,
                           .beta = o->beta,
                           .label_smoothing = o->label_smoothing,
                           .orpo_lambda = o->orpo_lambda,
                           .center_coef = o->center_rewards_coef,
                           .dloss = o->dloss};
    VKT_ASSERT(!needs_counts || pc.policy_stride == 2); /* IPO/ORPO average over token counts */
    int64_t iterations = (S + WG - 1) / WG * P + (P + WG - 1) / WG;
    if (vkt_device_get_info(vkt_rec_device(r))->type == VKT_DEVICE_CPU && iterations > CPU_MAX_ITERATIONS) {
        vkt_log_error("pref_loss: %lld pairs over %lld sequences need %lld loop iterations per invocation; CPU "
                      "drivers stop at 65535 (lavapipe): use at most about %lld pairs per micro-batch",
                      (long long)P, (long long)S, (long long)iterations,
                      (long long)(CPU_MAX_ITERATIONS / ((S + WG - 1) / WG + 1)));
        return VKT_ERR_UNSUPPORTED;
    }
    vkt_pipeline *p;
    const uint32_t spec[] = {WG};
    VKT_TRY(vkt_ops_pipeline(r, "pref_loss", 7, sizeof pc, spec, 1, &p));
    vkt_tensor pol = vkt_ops_whole(r, policy, VKT_DTYPE_F32, S * pc.policy_stride);
    /* Absent optional inputs are never read: the policy tensor stands in for their bindings. */
    vkt_binding b[7] = {{pol, VKT_READ},
                        {ref ? vkt_ops_whole(r, ref, VKT_DTYPE_F32, S * pc.ref_stride) : pol, VKT_READ},
                        {vkt_ops_whole(r, pairs, VKT_DTYPE_I32, 2 * P), VKT_READ},
                        {margins ? vkt_ops_whole(r, margins, VKT_DTYPE_F32, P) : pol, VKT_READ},
                        {vkt_ops_whole(r, pair_losses, VKT_DTYPE_F32, P), VKT_WRITE},
                        {vkt_ops_whole(r, dseq, VKT_DTYPE_F32, S), VKT_WRITE},
                        {vkt_ops_whole(r, stats, VKT_DTYPE_F32, 16), VKT_WRITE}};
    return vkt_rec_dispatch(r, "pref_loss", p, b, 7, &pc, sizeof pc, 1, 1, 1);
}
