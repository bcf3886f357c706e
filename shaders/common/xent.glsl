// Softmax cross-entropy helpers shared by xent_fwd.comp and xent_bwd.comp.
// Row statistics are kept as (m, s): m the running maximum, s = sum_j exp(x_j - m). Subtracting the max
// keeps every exp() argument <= 0, so large-magnitude logits cannot overflow. The sum is Kahan-compensated
// because the one-invocation-per-row variant adds a whole 50k-wide row sequentially.
#ifndef VKT_XENT_GLSL
#define VKT_XENT_GLSL

#define VKT_XENT_NEG_BIG (-3.402823466e38) // -FLT_MAX: exp(x - it) is 0, never NaN as -inf - -inf would be

// Push constants of the row kernels (xent_fwd, xent_bwd). Mirrored by vkt_pc_xent_rows in xent.c.
// base_*: element offset of this chunk's first row inside each (alignment-padded) binding.
layout(push_constant) uniform Pc {
    uint n_rows;        // rows in this chunk
    uint V;             // row width (vocabulary)
    int ignore_index;   // targets equal to it carry no loss and get a zero gradient row
    float dloss;        // upstream gradient of the mean loss (fixed at record time)
    uint base_logits;
    uint base_targets;
    uint base_losses;
    uint base_rowstats; // in floats (two per row)
    uint base_dlogits;
    uint base_weights;  // xent_bwd_w only
    uint ld;            // elements between rows of logits and dlogits (>= V: padded rows, see xent.h)
    uint scale_index;   // gradient kernels: element of the DScale binding that multiplies dloss at run
                        // time (a loss scale in the step scalars), or VKT_XENT_NO_SCALE
} pc;

#define VKT_XENT_NO_SCALE 0xffffffffu

// The gradient kernels bind a device scalar that multiplies dloss (see vkt_xent_opts.dloss_scale) at
// VKT_XENT_SCALE_BINDING; without one the host binds any small buffer there and it is not read.
#ifdef VKT_XENT_SCALE_BINDING
layout(binding = VKT_XENT_SCALE_BINDING) readonly buffer DScale { float dscale[]; };
float vkt_xent_dloss() { return pc.scale_index == VKT_XENT_NO_SCALE ? pc.dloss : pc.dloss * dscale[pc.scale_index]; }
#endif

// Adds exp(x - m) to the compensated sum (s, c), raising m (and rescaling s, c) when x exceeds it.
void vkt_xent_push(float x, inout float m, inout float s, inout float c) {
    if (x > m) {
        float r = exp(m - x);
        s *= r;
        c *= r;
        m = x;
    }
    precise float y = exp(x - m) - c;
    precise float t = s + y;
    precise float cc = (t - s) - y;
    c = cc;
    s = t;
}

// (m, s) <- the statistics of the union of two disjoint sets of logits.
void vkt_xent_merge(inout float m, inout float s, float m2, float s2) {
    float mm = max(m, m2);
    s = s * exp(m - mm) + s2 * exp(m2 - mm);
    m = mm;
}

bool vkt_xent_valid(int t) { return t != pc.ignore_index && t >= 0 && uint(t) < pc.V; }

#endif
