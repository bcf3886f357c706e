/* Mixed-precision bridges: the few places where a model storing activations in f16 / bf16 calls an op
 * that has no 16-bit-storage variant yet. Each converts its 16-bit operands into the model's f32 scratch
 * (m->mp_f32), runs the f32 op and converts the result back, so the model's own tensors are
 * 16-bit throughout and only two (BT, C) f32 scratch tensors are shared by all layers. With an f32 model
 * (or once the op gains a 16-bit variant) each is the plain op. Internal to src/model. */
#ifndef VKT_MODEL_MP_H
#define VKT_MODEL_MP_H

#include "model/model.h"

/* The embedding backward from d(embed_out) in the storage dtype into f32 dwte, dwpe. */
vkt_status vkt_mp_embed_bwd(vkt_model *m, vkt_rec *r, const vkt_tensor *dout, const vkt_tensor *dwte,
                            const vkt_tensor *dwpe);

#endif
