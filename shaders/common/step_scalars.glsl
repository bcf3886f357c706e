// Members of the per-step scalars block (vkt_step_scalars in src/optim/optim_types.h). Declare with
//   layout(binding = N) readonly buffer Scalars { VKT_STEP_SCALARS_MEMBERS } st;
#ifndef VKT_STEP_SCALARS_GLSL
#define VKT_STEP_SCALARS_GLSL

#define VKT_STEP_SCALARS_MEMBERS                                                                   \
    uint step;                                                                                     \
    float lr;                                                                                      \
    float bc1;                                                                                     \
    float bc2;                                                                                     \
    float grad_norm;                                                                               \
    float clip_scale;                                                                              \
    float _reserved[10];

#endif
