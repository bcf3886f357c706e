/* SwiGLU reference (see ref_swiglu.h); the scalar SiLU comes from ref_gelu. */
#include "ref/ref_swiglu.h"

#include "ref/ref_gelu.h"

void vkt_ref_swiglu_fwd(const double *gate, const double *up, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = vkt_ref_silu(gate[i]) * up[i];
}

void vkt_ref_swiglu_bwd(const double *gate, const double *up, const double *dout, double *dgate, double *dup,
                        int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        dgate[i] = dout[i] * up[i] * vkt_ref_silu_grad(gate[i]);
        dup[i] = dout[i] * vkt_ref_silu(gate[i]);
    }
}
