#version 450
// Global gradient norm, stage 1: sums of squares of fixed blocks of BLOCK = WG * ITEMS elements. Group g
// reads elements g*BLOCK + k*WG + tid (coalesced) and writes partials[g] after a shared-memory tree, or,
// in gradnorm_part_serial (CPU drivers, where barriers are dear), each invocation writes its own partial
// partials[g*WG + tid] with no barrier. Slots from n_real to n_slots (alignment padding of this chunk's
// slice) are zeroed by group 0 so stage 2 can sum every slot. Fixed assignment, fixed order: deterministic.
// gradnorm_part_serial_vec8 (CPU drivers, the chunk's base on an 8-element word): the serial kernel's
// partials, the same sums in the same order, with each invocation standing for 8 adjacent ones: its loads
// are words of 8 elements (one access instead of 8 on lavapipe). WG invocations then cover the block of
// the serial kernel with 8 WG (the host passes WG = 8 for the serial kernel's 64).
//! variant gradnorm_part
//! variant gradnorm_part_serial -DVKT_SERIAL=1
//! variant gradnorm_part_serial_vec8 -DVKT_SERIAL=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint ITEMS = 16;
layout(local_size_x_id = 0) in;

#ifdef VKT_VEC8
#include "eltwise.glsl" // g as words of 8 (a last, partial word element by element)
VKT_EW_IN(0, Grads, g)
#else
layout(binding = 0) readonly buffer Grads { float g[]; };
#endif
layout(binding = 1) writeonly buffer Partials { float partials[]; };

layout(push_constant) uniform Pc {
    uint n;       // elements in this chunk
    uint base;    // element offset of the chunk inside the (alignment-padded) grads binding
    uint n_real;  // partials this dispatch produces
    uint n_slots; // n_real rounded up to the binding alignment
} pc;

#ifndef VKT_SERIAL
shared float sh[WG];
#endif

#ifdef VKT_VEC8
void main() {
    // Invocation u holds the serial kernel's partials 8u .. 8u + 7: element tid + k WG of the block for
    // tid = 8u + c is component c of one word.
    const uint LANES = 8u * WG; // the serial kernel's invocations per workgroup
    uint grp = vkt_group_index(), u = gl_LocalInvocationID.x;
    uint i0 = grp * (LANES * ITEMS) + 8u * u;
    float s[8];
    for (uint c = 0; c < 8; c++) s[c] = 0.0;
    for (uint k = 0; k < ITEMS; k++) {
        uint i = i0 + k * LANES;
        if (i >= pc.n) break;
        float x[8];
        g_ld(pc.base + i, pc.n - i, x); // zero past n: adds 0 to partials that hold no element
        for (uint c = 0; c < 8; c++) s[c] += x[c] * x[c];
    }
    for (uint c = 0; c < 8; c++) {
        partials[grp * LANES + 8u * u + c] = s[c];
        if (grp == 0 && pc.n_real + 8u * u + c < pc.n_slots) partials[pc.n_real + 8u * u + c] = 0.0;
    }
}
#else
void main() {
    uint grp = vkt_group_index(), tid = gl_LocalInvocationID.x;
    uint i0 = grp * (WG * ITEMS) + tid;
    float s = 0.0;
    for (uint k = 0; k < ITEMS; k++) {
        uint i = i0 + k * WG;
        if (i < pc.n) {
            float x = g[pc.base + i];
            s += x * x;
        }
    }
#ifdef VKT_SERIAL
    partials[grp * WG + tid] = s;
#else
    sh[tid] = s;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (tid < h) sh[tid] += sh[tid + h];
        barrier();
    }
    if (tid == 0) partials[grp] = sh[0];
#endif
    if (grp == 0 && pc.n_real + tid < pc.n_slots) partials[pc.n_real + tid] = 0.0;
}
#endif
