/* CPU reference for the Linear layer on a stored frozen weight (ops/qmatmul.h): the weight is
 * dequantized on the host with vkt_quant_unpack (the formats' exact f32 semantics), then every product
 * is summed in double. */
#ifndef VKT_REF_QMATMUL_H
#define VKT_REF_QMATMUL_H

#include <stdbool.h>
#include <stdint.h>

#include "quant/quant.h"

/* y (+)= x W^T + bias. x (rows, in), W from (l, blob) (out, in), bias (out) or NULL, y (rows, out). */
void vkt_ref_qmatmul_fwd(const double *x, const vkt_qlayout *l, const void *blob, const double *bias, double *y,
                         int64_t rows, bool accumulate);
/* dx (+)= dy W. dy (rows, out), dx (rows, in). */
void vkt_ref_qmatmul_bwd_dx(const double *dy, const vkt_qlayout *l, const void *blob, double *dx, int64_t rows,
                            bool accumulate);

#endif
