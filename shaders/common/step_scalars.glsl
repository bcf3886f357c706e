// Members of the per-step scalars block (vkt_step_scalars in src/optim/optim_types.h). Declare with
//   layout(binding = N) readonly buffer Scalars { VKT_STEP_SCALARS_MEMBERS } st;
#ifndef VKT_STEP_SCALARS_GLSL
#define VKT_STEP_SCALARS_GLSL

// True when x is NaN or +-inf: an all-ones exponent, tested on the bits so that no compiler's relaxed
// float rules can fold the test away.
#define VKT_NONFINITE(x) ((floatBitsToUint(x) & 0x7f800000u) == 0x7f800000u)

#define VKT_STEP_SCALARS_MEMBERS                                                                   \
    uint step;                                                                                     \
    float lr;                                                                                      \
    float bc1;                                                                                     \
    float bc2;                                                                                     \
    float grad_norm;                                                                               \
    float clip_scale;                                                                              \
    uint n_skipped;                                                                                \
    uint nonfinite;                                                                                \
    float loss_scale;                                                                              \
    uint good_steps;                                                                               \
    float _reserved[6];

#endif
