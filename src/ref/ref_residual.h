/* CPU reference for the residual add (double precision). */
#ifndef VKT_REF_RESIDUAL_H
#define VKT_REF_RESIDUAL_H

#include <stdint.h>

/* out[i] = a[i] + b[i] */
void vkt_ref_residual_fwd(const double *a, const double *b, double *out, int64_t n);
/* da[i] += dout[i]; db[i] += dout[i] */
void vkt_ref_residual_bwd(const double *dout, double *da, double *db, int64_t n);

#endif
