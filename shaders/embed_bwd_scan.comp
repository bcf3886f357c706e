#version 450
// Embedding backward, sort pass 2 of 3: exclusive prefix sum of the (256, n_blocks) histogram in place,
// digit-major, so hist[d * n_blocks + k] becomes where block k's entries with digit d start in the output.
// One workgroup; each thread owns whole digit rows (n_blocks = N / WG is small: 64 for N = 16k).
#extension GL_GOOGLE_include_directive : require

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) buffer Hist { uint hist[]; }; // (256, n_blocks)

layout(push_constant) uniform Pc { uint n_blocks; } pc;

shared uint base[256];

void main() {
    uint lid = gl_LocalInvocationID.x;
    for (uint d = lid; d < 256u; d += WG) {
        uint s = 0;
        for (uint k = 0; k < pc.n_blocks; k++) s += hist[d * pc.n_blocks + k];
        base[d] = s;
    }
    barrier();
    if (lid == 0u) {
        uint run = 0;
        for (uint d = 0; d < 256u; d++) {
            uint s = base[d];
            base[d] = run;
            run += s;
        }
    }
    barrier();
    for (uint d = lid; d < 256u; d += WG) {
        uint run = base[d];
        for (uint k = 0; k < pc.n_blocks; k++) {
            uint c = hist[d * pc.n_blocks + k];
            hist[d * pc.n_blocks + k] = run;
            run += c;
        }
    }
}
