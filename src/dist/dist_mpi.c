/* dist.h over MPI (built when CMake finds MPI: VKT_HAVE_MPI). */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "dist/dist.h"
#include "dist/dist_launch.h"

static struct {
    bool joined; /* MPI_Init ran (several ranks) */
    int rank, size, local_rank;
    char tag[32];
} g = {.size = 1};

bool vkt_dist_built(void) { return true; }

const char *vkt_dist_backend(void) {
    static char name[MPI_MAX_LIBRARY_VERSION_STRING + 8];
    if (!name[0]) {
        int len = 0;
        MPI_Get_library_version(name, &len);
        for (int i = 0; name[i]; i++)
            if (name[i] == ',' || name[i] == '\n') name[i] = 0; /* "Open MPI v4.1.4, package: ..." */
    }
    return name;
}

vkt_status vkt_dist_init(void) {
    if (g.joined || vkt_dist_launch_size() <= 1) return VKT_OK;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        vkt_log_error("MPI_Init failed: run vktrain under `mpirun -np N` (and check `mpirun --version`)");
        return VKT_ERR_UNSUPPORTED;
    }
    g.joined = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g.rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &g.local_rank);
    MPI_Comm_free(&node);
    if (g.rank > 0) { /* rank 0 reports the run; the others only what goes wrong on them */
        snprintf(g.tag, sizeof g.tag, "[rank %d] ", g.rank);
        vkt_log_set_tag(g.tag);
    }
    return VKT_OK;
}

void vkt_dist_finalize(void) {
    if (!g.joined) return;
    MPI_Finalize();
    g.joined = false;
    g.rank = 0, g.size = 1, g.local_rank = 0;
}

int vkt_dist_rank(void) { return g.rank; }
int vkt_dist_size(void) { return g.size; }
int vkt_dist_local_rank(void) { return g.local_rank; }

static vkt_status check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return VKT_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    vkt_log_error("%s failed: %s", what, msg);
    return VKT_ERR_IO;
}

vkt_status vkt_dist_sum_f64(double *x, int n) {
    if (g.size <= 1) return VKT_OK;
    return check(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce (f64 sum)");
}

vkt_status vkt_dist_sum_f32(float *x, size_t n) {
    if (g.size <= 1) return VKT_OK;
    const size_t chunk = (size_t)1 << 30; /* MPI counts are int */
    for (size_t i = 0; i < n; i += chunk) {
        int c = (int)(n - i < chunk ? n - i : chunk);
        VKT_TRY(check(MPI_Allreduce(MPI_IN_PLACE, x + i, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
                      "MPI_Allreduce (f32 sum)"));
    }
    return VKT_OK;
}

/* MPI's int counts and displacements of the shards; false (logged) past INT_MAX elements. */
static bool shard_counts(const int64_t *bounds, int *counts, int *displs) {
    if (bounds[g.size] > INT_MAX) {
        vkt_log_error("ZeRO-1: %lld elements are more than MPI's int counts address; use optim.zero_stage=0",
                      (long long)bounds[g.size]);
        return false;
    }
    for (int r = 0; r < g.size; r++) displs[r] = (int)bounds[r], counts[r] = (int)(bounds[r + 1] - bounds[r]);
    return true;
}

vkt_status vkt_dist_allgather_f32(float *x, const int64_t *bounds) {
    if (g.size <= 1) return VKT_OK;
    int *counts = malloc(2 * (size_t)g.size * sizeof *counts);
    vkt_status st = counts ? VKT_OK : VKT_ERR_OOM;
    if (st == VKT_OK && !shard_counts(bounds, counts, counts + g.size)) st = VKT_ERR_UNSUPPORTED;
    if (st == VKT_OK)
        st = check(
            MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, counts, counts + g.size, MPI_FLOAT, MPI_COMM_WORLD),
            "MPI_Allgatherv (ZeRO-1 parameters)");
    free(counts);
    return st;
}

vkt_status vkt_dist_gather_f32(const float *part, float *full, const int64_t *bounds) {
    int *counts = malloc(2 * (size_t)g.size * sizeof *counts);
    vkt_status st = counts ? VKT_OK : VKT_ERR_OOM;
    if (st == VKT_OK && !shard_counts(bounds, counts, counts + g.size)) st = VKT_ERR_UNSUPPORTED;
    if (st == VKT_OK)
        st = check(
            MPI_Gatherv(part, counts[g.rank], MPI_FLOAT, full, counts, counts + g.size, MPI_FLOAT, 0, MPI_COMM_WORLD),
            "MPI_Gatherv (ZeRO-1 optimizer state)");
    free(counts);
    return st;
}

/* A background sum (dist.h). Ordered: phase 0 exchanges the chunks (rank r receives every rank's chunk r
 * into scratch, sends its chunk q to rank q), phase 1 sends the summed chunk r to every rank and receives
 * theirs. Both are point to point: a collective could not start here, since the sums of several buckets
 * reach phase 1 in an order that differs between ranks, and MPI matches collectives by the order they
 * start. Unordered: phase 1 is MPI's all-reduce, started in bucket order on every rank. */
struct vkt_dist_sum_op {
    float *x, *scratch; /* borrowed */
    int phase, n_reqs, tag;
    int *counts, *displs; /* owned (ordered): the chunks (one allocation), size entries each */
    MPI_Request reqs[];   /* ordered: 2 (size - 1) per phase; unordered: 1 */
};

void vkt_dist_sum_free(vkt_dist_sum_op *op) {
    if (!op) return;
    free(op->counts);
    free(op);
}

/* Ordered phase 0 (gather = true): every rank's chunk r into scratch (rank q's at q * count), this rank's
 * chunk q to rank q. Phase 1: this rank's summed chunk to every rank, theirs into place. */
static vkt_status exchange_chunks(vkt_dist_sum_op *op, bool gather) {
    int mine = op->counts[g.rank], tag = 2 * op->tag + !gather;
    op->n_reqs = 0;
    for (int q = 0; q < g.size; q++) {
        if (q == g.rank) continue;
        float *in = gather ? op->scratch + (size_t)q * (size_t)mine : op->x + op->displs[q];
        float *out = op->x + op->displs[gather ? q : g.rank];
        int n_in = gather ? mine : op->counts[q], n_out = gather ? op->counts[q] : mine;
        VKT_TRY(check(MPI_Irecv(in, n_in, MPI_FLOAT, q, tag, MPI_COMM_WORLD, &op->reqs[op->n_reqs++]),
                      "MPI_Irecv (ordered gradient sum)"));
        VKT_TRY(check(MPI_Isend(out, n_out, MPI_FLOAT, q, tag, MPI_COMM_WORLD, &op->reqs[op->n_reqs++]),
                      "MPI_Isend (ordered gradient sum)"));
    }
    return VKT_OK;
}

vkt_status vkt_dist_sum_start(float *x, int64_t n, bool ordered, float *scratch, int tag, vkt_dist_sum_op **out) {
    VKT_ASSERT(n >= 0 && n <= INT_MAX && (!ordered || scratch));
    size_t reqs = g.size > 1 ? 2 * (size_t)(g.size - 1) : 1;
    vkt_dist_sum_op *op = calloc(1, sizeof *op + reqs * sizeof(MPI_Request));
    if (!op) return VKT_ERR_OOM;
    op->x = x, op->scratch = scratch;
    *out = op;
    if (g.size <= 1) {
        op->phase = 2; /* done */
        return VKT_OK;
    }
    if (!ordered) {
        op->phase = 1, op->n_reqs = 1;
        return check(MPI_Iallreduce(MPI_IN_PLACE, x, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &op->reqs[0]),
                     "MPI_Iallreduce (gradient bucket)");
    }
    op->counts = malloc(2 * (size_t)g.size * sizeof *op->counts);
    if (!op->counts) return VKT_ERR_OOM;
    op->displs = op->counts + g.size;
    for (int c = 0; c < g.size; c++) {
        int64_t lo = n * c / g.size, hi = n * (c + 1) / g.size;
        op->displs[c] = (int)lo, op->counts[c] = (int)(hi - lo);
    }
    op->tag = tag & 0x3fff; /* MPI promises tags up to 32767 */
    return exchange_chunks(op, true);
}

/* Ordered, after the exchange: this rank's chunk <- the ranks' chunks added in rank order. */
static void add_in_rank_order(vkt_dist_sum_op *op) {
    int mine = op->counts[g.rank];
    float *own = op->x + op->displs[g.rank];
    for (int i = 0; i < mine; i++) {
        double acc = 0;
        for (int q = 0; q < g.size; q++) acc += q == g.rank ? own[i] : op->scratch[(size_t)q * (size_t)mine + i];
        own[i] = (float)acc;
    }
}

vkt_status vkt_dist_sum_poll(vkt_dist_sum_op *op, bool *done) {
    *done = false;
    if (op->phase < 2) {
        int flag = 0;
        VKT_TRY(check(MPI_Testall(op->n_reqs, op->reqs, &flag, MPI_STATUSES_IGNORE), "MPI_Testall (gradient sum)"));
        if (!flag) return VKT_OK;
        if (op->phase == 0) {
            add_in_rank_order(op);
            op->phase = 1;
            return exchange_chunks(op, false);
        }
    }
    *done = true;
    vkt_dist_sum_free(op);
    return VKT_OK;
}

int vkt_dist_max_int(int v) {
    if (g.size <= 1) return v;
    int out = v;
    if (MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS) vkt_dist_abort(1);
    return out;
}

_Noreturn void vkt_dist_abort(int code) {
    fflush(stdout);
    if (g.joined && g.size > 1) {
        vkt_log_error("stopping all %d ranks (exit code %d)", g.size, code);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    exit(code);
}
