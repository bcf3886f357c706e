/* SwiGLU, the gated MLP activation of LLaMA (Shazeer 2020): out = silu(gate) * up over (N, F), with
 * silu(x) = x sigmoid(x). gate and up are either two (N, F) tensors or the two halves of one fused (N, 2F)
 * tensor (gate = columns [0, F), up = [F, 2F)), as produced by one matmul with concatenated weights.
 * Large tensors are split by rows at the binding limit. (Plain SiLU lives in gelu.h.) */
#ifndef VKT_OP_SWIGLU_H
#define VKT_OP_SWIGLU_H

#include "vk/record.h"

/* gate, up, out: (N, F) (or (B, T, F)); one storage dtype (f32, f16 or bf16; f32 math). out must not
 * overlap gate or up. */
vkt_status vkt_op_swiglu_fwd(vkt_rec *r, const vkt_tensor *gate, const vkt_tensor *up, const vkt_tensor *out);
/* d_gate = dout * up * silu'(gate), d_up = dout * silu(gate), both overwritten (they are activation
 * gradients). gate, up, dout, dgate, dup: (N, F), one storage dtype (f32, f16 or bf16: activations and
 * their gradients share the run's dtype; f32 math; mismatches are VKT_ERR_ARG, logged); outputs must not
 * overlap the inputs. */
vkt_status vkt_op_swiglu_bwd(vkt_rec *r, const vkt_tensor *gate, const vkt_tensor *up, const vkt_tensor *dout,
                             const vkt_tensor *dgate, const vkt_tensor *dup);

/* Fused layout: gu (N, 2F) holds gate then up in each row; out, dout: (N, F); dgu: (N, 2F), same layout,
 * overwritten. F is taken from out / dout. Dtypes as above. */
vkt_status vkt_op_swiglu_fused_fwd(vkt_rec *r, const vkt_tensor *gu, const vkt_tensor *out);
vkt_status vkt_op_swiglu_fused_bwd(vkt_rec *r, const vkt_tensor *gu, const vkt_tensor *dout, const vkt_tensor *dgu);

#endif
