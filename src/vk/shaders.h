/* The SPIR-V of every shader variant, embedded at build time (cmake/shaders.cmake). */
#ifndef VKT_SHADERS_H
#define VKT_SHADERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;     /* variant name, e.g. "matmul_fwd" */
    const uint32_t *code; /* SPIR-V words */
    size_t size;          /* bytes */
} vkt_spirv;

/* NULL when no variant of that name was built (e.g. a cooperative-matrix shader glslang could not compile). */
const vkt_spirv *vkt_shader_find(const char *name);
/* Number of embedded variants, and the i-th one (for listings and tests). */
size_t vkt_shader_count(void);
const vkt_spirv *vkt_shader_at(size_t i);

#endif
