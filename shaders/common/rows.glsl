// One subgroup per row: the lane layout shared by the row ops (norms). A workgroup owns rows
// [group * rows_per_group, ...) and its subgroups take them in turn, so no barrier() is ever needed: the
// only cross-invocation communication is subgroupAdd. Lane count and index come from a ballot, which is
// correct for any subgroup size and even for a partially filled subgroup.
#ifndef VKT_ROWS_GLSL
#define VKT_ROWS_GLSL

#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_ballot : require

uint vkt_lanes;  // active invocations in this subgroup
uint vkt_lane;   // this invocation's index among them

// Call once, in uniform control flow, before vkt_row_begin/vkt_row_end.
void vkt_rows_init() {
    uvec4 all = subgroupBallot(true);
    vkt_lanes = subgroupBallotBitCount(all);
    vkt_lane = subgroupBallotExclusiveBitCount(all);
}

uint vkt_row_first(uint rows_per_group) { return vkt_group_index() * rows_per_group + gl_SubgroupID; }
uint vkt_row_end(uint rows_per_group, uint n_rows) { return min(vkt_group_index() * rows_per_group + rows_per_group, n_rows); }

#endif
