/* Elementwise dispatch helper: one shader over n elements of several same-length flat tensors, split into
 * chunks that fit one binding each (as residual.c does), with push constants {n, flags}; and the choice of
 * 8-wide kernels on CPU drivers (shaders/common/eltwise.glsl, wide8.glsl). */
#ifndef VKT_OP_ELTWISE_H
#define VKT_OP_ELTWISE_H

#include "vk/record.h"

typedef struct {
    uint32_t n, flags;
} vkt_pc_eltwise;

/* Whether kernels may move 8 elements per access over these bindings: the device is a CPU driver (where an
 * access costs about the same at 4 or 32 bytes, while GPUs coalesce one element per invocation anyway) and
 * every binding starts on an 8-element boundary (32 bytes for f32, 16 for f16 / bf16). */
bool vkt_ops_wide8(const vkt_rec *r, const vkt_binding *b, uint32_t nb);

/* Records shader (workgroup size 256, one element per invocation, vkt_group_index() grid) over every
 * binding's elements; all bindings must hold the same number of elements. `name` labels the dispatches.
 * has_vec8: the shader has a `<shader>_vec8` variant (8 elements per invocation, any count: the last
 * partial word goes element by element), recorded instead when vkt_ops_wide8 allows. The profile detail
 * of each dispatch names the variant that ran. */
vkt_status vkt_ops_eltwise(vkt_rec *r, const char *name, const char *shader, bool has_vec8, const vkt_binding *b,
                           uint32_t nb, uint32_t flags);

#endif
