// Activation functions and their derivatives, in f32. Included by the gelu, silu and swiglu shaders.
// Written with exp-based logistic forms instead of tanh(): tanh() of a large argument may return NaN on
// some drivers (exp overflow inside (e^2u - 1) / (e^2u + 1)), and the logistic form keeps full relative
// accuracy in the far negative tail, where 1 + tanh(u) would cancel.
#ifndef VKT_ACT_GLSL
#define VKT_ACT_GLSL

// GELU, tanh approximation (Hendrycks & Gimpel 2016, as in GPT-2):
//   gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
// and 0.5 (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u)).
const float VKT_GELU_K = 0.7978845608028654;
const float VKT_GELU_A = 0.044715;

float vkt_gelu(float x) {
    float u = VKT_GELU_K * (x + VKT_GELU_A * x * x * x);
    return x / (1.0 + exp(-2.0 * u));
}

// gelu'(x) = s + 2 x s (1 - s) u',  s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
// 1 - s = e s with e = exp(-2u); e is capped so that e * s never becomes inf * 0 (the capped tail is
// below 1e-34 either way).
float vkt_gelu_grad(float x) {
    float u = VKT_GELU_K * (x + VKT_GELU_A * x * x * x);
    float e = exp(min(-2.0 * u, 80.0));
    float s = 1.0 / (1.0 + e);
    float du = VKT_GELU_K * (1.0 + 3.0 * VKT_GELU_A * x * x);
    return s + 2.0 * x * s * (e * s) * du;
}

// SiLU (swish): silu(x) = x sigmoid(x); silu'(x) = s (1 + x (1 - s)), s = sigmoid(x), 1 - s = e s.
float vkt_silu(float x) { return x / (1.0 + exp(-x)); }

float vkt_silu_grad(float x) {
    float e = exp(min(-x, 80.0));
    float s = 1.0 / (1.0 + e);
    return s * (1.0 + x * (e * s));
}

#endif
