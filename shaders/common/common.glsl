// Shared helpers for every compute shader. Included with #include "common.glsl".
#ifndef VKT_COMMON_GLSL
#define VKT_COMMON_GLSL


// Flat index of this workgroup on a 2-D grid (x up to 65535, y for the rest); see vkt_ops_grid_1d.
uint vkt_group_index() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

#endif
