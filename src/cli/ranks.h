/* The train and finetune commands as data-parallel ranks (dist/dist.h) under `mpirun -np N`: joining the
 * job, each rank's device, quiet ranks and how a failure ends them all. */
#ifndef VKT_CLI_RANKS_H
#define VKT_CLI_RANKS_H

#include "vktrain/device.h"

/* Joins the job. With several ranks: the device, unless --device or VKT_DEVICE chose one, is the local
 * rank's among the devices of the best type present (discrete GPUs, else integrated, else any), round
 * robin; ranks other than 0 print nothing on stdout (rank 0 reports) and only warnings and errors on
 * stderr. Returns 0 or an exit code. */
int vkt_cli_ranks_begin(vkt_device_opts *dopts);
/* Ends the command with exit code rc: a failed rank (rc 1 or 2) ends every rank at once with its code
 * (its message was logged, tagged with its rank); otherwise the ranks leave the job together. Returns rc. */
int vkt_cli_ranks_end(int rc);

#endif
