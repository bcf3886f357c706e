// Numerics shared by the preference and RL loss kernels (pref_loss, grpo_*): log-sigmoid, sigmoid,
// log1p, expm1, log(1 - e^x) and the k3 KL estimator, written so that fp32 keeps its accuracy where the
// naive formula cancels. GLSL has no log1p/expm1, and the Vulkan spec only bounds log() by an absolute
// 2^-21 on [0.5, 2], so small arguments go through short Taylor series instead (truncation errors below
// 1e-7 relative at the switch points). The double references in src/ref/ use the C library functions.
#ifndef VKT_PREF_GLSL
#define VKT_PREF_GLSL

#define VKT_LN2 0.69314718055994531

// log(1 + v) for v > -1. v = 1 is log sig(0), DPO's loss when policy and reference agree: it returns ln 2
// rounded once, where log(2.0) may be off by 2^-21 (eight ulp) on a conforming driver.
float vkt_log1p(float v) {
    if (abs(v) < 1e-2) return v * (1.0 - v * (0.5 - v * (1.0 / 3.0 - v * (0.25 - v * 0.2))));
    if (v == 1.0) return VKT_LN2;
    return log(1.0 + v);
}

// e^x - 1 - x for |x| <= 1: Taylor to x^10 (truncation below 3e-8 absolute, 1e-7 relative).
float vkt_exp_tail(float x) {
    return x * x *
           (1.0 / 2.0 +
            x * (1.0 / 6.0 +
                 x * (1.0 / 24.0 +
                      x * (1.0 / 120.0 +
                           x * (1.0 / 720.0 +
                                x * (1.0 / 5040.0 + x * (1.0 / 40320.0 + x * (1.0 / 362880.0 + x / 3628800.0))))))));
}

// e^x - 1.
float vkt_expm1(float x) { return abs(x) < 1.0 ? x + vkt_exp_tail(x) : exp(x) - 1.0; }

// log(1 - e^x) for x < 0 (Maechler's two branches: log1p(-e^x) far from 0, log(-expm1(x)) near it).
float vkt_log1mexp(float x) { return x < -VKT_LN2 ? vkt_log1p(-exp(x)) : log(-vkt_expm1(x)); }

// log sigmoid(z) = min(z, 0) - log(1 + e^-|z|): no overflow for any z; exactly -log(2) at z = 0.
float vkt_logsig(float z) { return min(z, 0.0) - vkt_log1p(exp(-abs(z))); }

// sigmoid(z), from the side where exp() cannot overflow.
float vkt_sig(float z) {
    if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
    float e = exp(z);
    return e / (1.0 + e);
}

// TRL's k3 estimator of KL(new || ref) for one token, d = logp_ref - logp_new: e^d - d - 1 >= 0. Near d = 0
// the three terms cancel to d^2/2, so the series takes over there.
float vkt_kl_k3(float d) { return abs(d) < 1.0 ? vkt_exp_tail(d) : exp(d) - d - 1.0; }

#endif
