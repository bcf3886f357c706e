/* CPU reference for the token + position embedding (double precision). */
#ifndef VKT_REF_EMBED_H
#define VKT_REF_EMBED_H

#include <stdint.h>

/* out[(b*T + t)*C + c] = wte[id*C + c] + wpe[(pos0 + p)*C + c], id = tokens[b*T + t], p = t, or
 * t - seg_start[b*T + t] for packed rows (seg_start non-NULL, ops/seg_start.h); an id outside [0, V)
 * contributes a zero row. wpe may be NULL (no position term). */
void vkt_ref_embed_fwd(const int32_t *tokens, const double *wte, const double *wpe, int64_t B, int64_t T, int64_t C,
                       int64_t V, int64_t pos0, const int32_t *seg_start, double *out);
/* dwte[id] += dout[b, t] over rows with valid id; dwpe[pos0 + p] += dout[b, t] (dwpe may be NULL). */
void vkt_ref_embed_bwd(const double *dout, const int32_t *tokens, int64_t B, int64_t T, int64_t C, int64_t V,
                       int64_t pos0, const int32_t *seg_start, double *dwte, double *dwpe);

#endif
