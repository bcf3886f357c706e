/* Elementwise dispatch helper: one shader over n elements of several same-length flat tensors, split into
 * chunks that fit one binding each (as residual.c does), with push constants {n, flags}. */
#ifndef VKT_OP_ELTWISE_H
#define VKT_OP_ELTWISE_H

#include "vk/record.h"

typedef struct {
    uint32_t n, flags;
} vkt_pc_eltwise;

/* Records shader (workgroup size 256, one element per invocation, vkt_group_index() grid) over every
 * binding's elements; all bindings must hold the same number of elements. `name` labels the dispatches. */
vkt_status vkt_ops_eltwise(vkt_rec *r, const char *name, const char *shader, const vkt_binding *b, uint32_t nb,
                           uint32_t flags);

#endif
