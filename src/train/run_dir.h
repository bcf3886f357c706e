/* The output folder of a training run: what may be done to it before a run starts.
 *
 * A run folder holds what vktrain writes there: metrics.jsonl, loss.svg, latest.json, step-NNNNNN/
 * checkpoints and .step-NNNNNN.tmp/ leftovers of an interrupted save. A new run refuses a folder that
 * holds any of them (two runs' metrics would mix, and checkpoint rotation would count the old run's
 * folders), unless the caller resumes or asks to overwrite; overwriting removes exactly those files and
 * nothing else. The folder is created if needed and proven writable (a file is created and removed), so
 * a bad output.dir fails in milliseconds, before the tokenizer, data and model are built.
 * Not here: locking against two processes writing one folder at the same time. */
#ifndef VKT_RUN_DIR_H
#define VKT_RUN_DIR_H

#include "vktrain/status.h"

typedef enum {
    VKT_RUN_DIR_NEW = 0,       /* refuse a folder that holds a run */
    VKT_RUN_DIR_RESUME = 1,    /* keep what is there: the run continues */
    VKT_RUN_DIR_OVERWRITE = 2, /* remove the previous run's files first */
} vkt_run_dir_mode;

/* Prepares dir for a run in `mode`. Errors, each logged with the folder and what to do:
 * VKT_ERR_IO (cannot create or write the folder, or remove an old file), VKT_ERR_ARG (NEW and the
 * folder holds a run). Not thread-safe with respect to other writers of dir. */
vkt_status vkt_run_dir_prepare(const char *dir, vkt_run_dir_mode mode);

#endif
