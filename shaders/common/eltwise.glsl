// Elementwise kernels written once for two layouts (the host picks one per dispatch, ops/op_eltwise.h):
//   default     one element per invocation (VKT_EW = 1): GPUs, and bindings not on 8-element boundaries
//   -DVKT_VEC8  8 consecutive elements per invocation (VKT_EW = 8), moved as one word per access
//               (wide8.glsl: CPU drivers); a last, partial word goes element by element
// Declare each binding with VKT_EW_IN / VKT_EW_OUT / VKT_EW_RW(binding, Block, name) to get
//   void name_ld(uint a, uint m, out float f[VKT_EW])  f[t] = element a + t for t < min(m, VKT_EW), else 0
//   void name_st(uint a, uint m, float f[VKT_EW])      stores f[t] at a + t for t < min(m, VKT_EW)
// a: element index (a multiple of 8 in the wide layout); m >= 1: elements left from a on. Each element
// goes through VKT_LOAD / VKT_STORE's conversions in either layout, so both give bit-identical results.
// (Parameters end in _ so that no binding name shadows them.) Include after dtype.glsl and common.glsl.
#ifndef VKT_ELTWISE_GLSL
#define VKT_ELTWISE_GLSL

#extension GL_EXT_control_flow_attributes : require

#ifdef VKT_VEC8
#include "wide8.glsl"
#define VKT_EW 8
#define VKT_EW_LD_(name)                                                                           \
    void name##_ld(uint a_, uint m_, out float f_[8]) {                                            \
        if (m_ >= 8u) {                                                                            \
            vkt_unpack8(name##8[a_ >> 3], f_);                                                     \
        } else {                                                                                   \
            [[unroll]] for (uint t_ = 0; t_ < 8; t_++) f_[t_] = t_ < m_ ? VKT_LOAD(name[a_ + t_]) : 0.0; \
        }                                                                                          \
    }
#define VKT_EW_ST_(name)                                                                           \
    void name##_st(uint a_, uint m_, float f_[8]) {                                                \
        if (m_ >= 8u) {                                                                            \
            name##8[a_ >> 3] = vkt_pack8(f_);                                                      \
        } else {                                                                                   \
            [[unroll]] for (uint t_ = 0; t_ < 8; t_++)                                             \
                if (t_ < m_) name[a_ + t_] = VKT_STORE(f_[t_]);                                    \
        }                                                                                          \
    }
// The same binding seen twice: as words for the bulk and as elements for the tail.
#define VKT_EW_DECL_(q, bnd, Blk, name)                                                            \
    layout(binding = bnd) q buffer Blk { VKT_T name[]; };                                          \
    layout(binding = bnd) q buffer Blk##8 { VKT_W8 name##8[]; };
#else
#define VKT_EW 1
#define VKT_EW_LD_(name)                                                                           \
    void name##_ld(uint a_, uint m_, out float f_[1]) { f_[0] = VKT_LOAD(name[a_]); }
#define VKT_EW_ST_(name)                                                                           \
    void name##_st(uint a_, uint m_, float f_[1]) { name[a_] = VKT_STORE(f_[0]); }
#define VKT_EW_DECL_(q, bnd, Blk, name) layout(binding = bnd) q buffer Blk { VKT_T name[]; };
#endif

#define VKT_EW_IN(bnd, Blk, name) VKT_EW_DECL_(readonly, bnd, Blk, name) VKT_EW_LD_(name)
#define VKT_EW_OUT(bnd, Blk, name) VKT_EW_DECL_(writeonly, bnd, Blk, name) VKT_EW_ST_(name)
#define VKT_EW_RW(bnd, Blk, name) VKT_EW_DECL_(, bnd, Blk, name) VKT_EW_LD_(name) VKT_EW_ST_(name)

// This invocation's first element on a vkt_group_index() grid of wg-wide workgroups.
uint vkt_ew_first(uint wg) { return (vkt_group_index() * wg + gl_LocalInvocationID.x) * VKT_EW; }

#endif
