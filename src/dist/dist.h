/* Data-parallel ranks: N copies of vktrain launched by `mpirun -np N`, one per device, that keep identical
 * weights by averaging their gradients every optimizer step (sched/step.c) and agree on when to stop.
 *
 * One process-wide group (MPI is per process). Without MPI (a build without it, or a process not started
 * by mpirun) this is a single rank: rank 0 of 1, every reduction returns its input, and nothing else in
 * the program needs to know. Built with MPI (VKT_HAVE_MPI), MPI is joined only when a launcher's
 * environment says the process is one of several (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE), so a
 * plain `vktrain train` never pays MPI's start-up.
 *
 * Errors: a rank that fails calls vkt_dist_abort after logging its message (with its "[rank R]" tag),
 * which ends every rank at once (MPI_Abort), so no rank waits forever in a reduction. */
#ifndef VKT_DIST_H
#define VKT_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vktrain/status.h"

/* True when this vktrain was built with MPI; its name and version ("Open MPI v4.1.4"), or a sentence
 * saying it was built without. */
bool vkt_dist_built(void);
const char *vkt_dist_backend(void);

/* Joins the job when the process was launched as one of several ranks; else a single rank. Idempotent.
 * VKT_ERR_UNSUPPORTED when a launcher started several copies of a build without MPI (each would train
 * alone). Ranks other than 0 tag their log lines "[rank R]". */
vkt_status vkt_dist_init(void);
/* Leaves the job (MPI_Finalize) once every rank got here; a no-op for a single rank. */
void vkt_dist_finalize(void);

int vkt_dist_rank(void);       /* 0 .. size - 1 */
int vkt_dist_size(void);       /* ranks in the job (1 without MPI) */
int vkt_dist_local_rank(void); /* rank among the ranks of this machine: picks the device */
static inline bool vkt_dist_is_root(void) { return vkt_dist_rank() == 0; }

/* In place: x[i] <- the sum of x[i] over all ranks. Every rank must call it, in the same order, with the
 * same n. Open MPI picks its reduction algorithm (hence the order of the additions) from the rank count and
 * the message size, never from timing, so a run repeats bit for bit on the same N (in practice: the MPI
 * standard does not promise it); different N sum in different orders (fp32 rounding). */
vkt_status vkt_dist_sum_f64(double *x, int n);
vkt_status vkt_dist_sum_f32(float *x, size_t n);
/* A sum over ranks that runs in the background (gradient buckets, dist/grad_buckets.h): start it, then poll it
 * until done while the device computes. Every rank must start the same sums in the same order with the same
 * n (MPI's rule for non-blocking collectives); several may be in flight, each with its own tag.
 *   ordered false: MPI's all-reduce (Open MPI picks the algorithm, hence the order of the additions, from
 *                  the rank count and the size);
 *   ordered true:  an order that depends on nothing but the data: chunk c of x goes to rank c, which adds
 *                  the N ranks' chunks in rank order 0..N-1 (in double, rounded once), then every rank gets
 *                  every summed chunk back (all-gather). A run's sums repeat bit for bit, whatever MPI
 *                  library, network or timing. Needs scratch of n + size floats, untouched until done.
 * x (and scratch) are borrowed until the sum is done. n < 2^31. */
typedef struct vkt_dist_sum_op vkt_dist_sum_op;
vkt_status vkt_dist_sum_start(float *x, int64_t n, bool ordered, float *scratch, int tag, vkt_dist_sum_op **out);
/* Advances op (MPI progresses only inside MPI calls); once x holds the sum: *done = true and op is freed. */
vkt_status vkt_dist_sum_poll(vkt_dist_sum_op *op, bool *done);
/* Frees an op abandoned after an error (its requests are left to MPI_Abort). NULL is fine. */
void vkt_dist_sum_free(vkt_dist_sum_op *op);

/* ZeRO-1 shards: bounds[0..size] split a flat buffer of n elements, rank r owning [bounds[r], bounds[r + 1]);
 * every bound but the last a multiple of align (elements), so every shard starts on a binding alignment. */
void vkt_dist_shard_bounds(int64_t n, int ranks, int64_t align, int64_t *bounds);
/* In place over x (n = bounds[size] elements): every rank's shard of x into every rank. */
vkt_status vkt_dist_allgather_f32(float *x, const int64_t *bounds);
/* Rank 0's full (bounds[size] elements) gets every rank's part (its shard, bounds[r+1] - bounds[r]
 * elements); full is unused elsewhere (may be NULL). */
vkt_status vkt_dist_gather_f32(const float *part, float *full, const int64_t *bounds);
/* The largest v over all ranks (e.g. a stop request that one rank saw). */
int vkt_dist_max_int(int v);

/* Ends every rank of the job with exit code `code` (single rank: exit). For a rank that failed: log the
 * reason first. */
_Noreturn void vkt_dist_abort(int code);

#endif
