/* CPU reference for SwiGLU, out = silu(gate) * up (double precision), on separate (N, F) arrays. */
#ifndef VKT_REF_SWIGLU_H
#define VKT_REF_SWIGLU_H

#include <stdint.h>

void vkt_ref_swiglu_fwd(const double *gate, const double *up, double *out, int64_t n);
/* dgate = dout up silu'(gate), dup = dout silu(gate) (both overwritten). */
void vkt_ref_swiglu_bwd(const double *gate, const double *up, const double *dout, double *dgate, double *dup,
                        int64_t n);

#endif
