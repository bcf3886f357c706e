/* CPU references for GELU (tanh approximation) and SiLU, in double precision, written from the textbook
 * tanh / logistic forms (independent of the shaders' exp-based rewrite). */
#ifndef VKT_REF_GELU_H
#define VKT_REF_GELU_H

#include <stdbool.h>
#include <stdint.h>

/* y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void vkt_ref_gelu_fwd(const double *x, double *y, int64_t n);
/* dx = dy * gelu'(x) (accumulate: dx += ...) */
void vkt_ref_gelu_bwd(const double *x, const double *dy, double *dx, int64_t n, bool accumulate);
/* y = x / (1 + exp(-x)) */
void vkt_ref_silu_fwd(const double *x, double *y, int64_t n);
/* dx = dy * silu'(x) (accumulate: dx += ...) */
void vkt_ref_silu_bwd(const double *x, const double *dy, double *dx, int64_t n, bool accumulate);

/* Scalar forms, shared with the SwiGLU reference. */
double vkt_ref_gelu(double x);
double vkt_ref_gelu_grad(double x);
double vkt_ref_silu(double x);
double vkt_ref_silu_grad(double x);

#endif
