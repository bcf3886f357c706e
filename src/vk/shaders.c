/* The one file that includes the generated SPIR-V headers: they define non-static arrays. */
#include "vk/shaders.h"

#include <string.h>

#include "all.h"

static const vkt_spirv table[] = {
#include "table.inc"
};

const vkt_spirv *vkt_shader_find(const char *name) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0) return &table[i];
    return NULL;
}

size_t vkt_shader_count(void) { return sizeof table / sizeof table[0]; }
const vkt_spirv *vkt_shader_at(size_t i) { return i < vkt_shader_count() ? &table[i] : NULL; }
