/* What both builds of dist.h share: whether a launcher started this process as one of several ranks. */
#ifndef VKT_DIST_LAUNCH_H
#define VKT_DIST_LAUNCH_H

/* The job size a launcher's environment announces (Open MPI's OMPI_COMM_WORLD_SIZE, PMI's PMI_SIZE),
 * 2 when only a PMIx rank is set, else 1. */
int vkt_dist_launch_size(void);

#endif
