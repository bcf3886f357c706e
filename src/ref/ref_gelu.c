/* GELU / SiLU references (see ref_gelu.h). */
#include "ref/ref_gelu.h"

#include <math.h>

#define GELU_K 0.79788456080286535588 /* sqrt(2 / pi) */
#define GELU_A 0.044715

double vkt_ref_gelu(double x) { return 0.5 * x * (1.0 + tanh(GELU_K * (x + GELU_A * x * x * x))); }

/* d/dx 0.5 x (1 + tanh u) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) u' */
double vkt_ref_gelu_grad(double x) {
    double t = tanh(GELU_K * (x + GELU_A * x * x * x));
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_A * x * x);
}

double vkt_ref_silu(double x) { return x / (1.0 + exp(-x)); }

/* d/dx x s(x) = s + x s (1 - s) */
double vkt_ref_silu_grad(double x) {
    double s = 1.0 / (1.0 + exp(-x));
    return s + x * s * (1.0 - s);
}

void vkt_ref_gelu_fwd(const double *x, double *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = vkt_ref_gelu(x[i]);
}

void vkt_ref_gelu_bwd(const double *x, const double *dy, double *dx, int64_t n, bool accumulate) {
    for (int64_t i = 0; i < n; i++) dx[i] = (accumulate ? dx[i] : 0.0) + dy[i] * vkt_ref_gelu_grad(x[i]);
}

void vkt_ref_silu_fwd(const double *x, double *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = vkt_ref_silu(x[i]);
}

void vkt_ref_silu_bwd(const double *x, const double *dy, double *dx, int64_t n, bool accumulate) {
    for (int64_t i = 0; i < n; i++) dx[i] = (accumulate ? dx[i] : 0.0) + dy[i] * vkt_ref_silu_grad(x[i]);
}
