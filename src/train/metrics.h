/* Run metrics: one JSON object per line in <run>/metrics.jsonl, and a loss-curve SVG (<run>/loss.svg)
 * rewritten atomically after each evaluation so it is always complete when opened. */
#ifndef VKT_METRICS_H
#define VKT_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "vktrain/status.h"

typedef struct {
    char dir[512];
    FILE *jsonl;               /* owned */
    int64_t *train_step, *val_step;
    double *train_loss, *val_loss;
    int64_t n_train, n_val, cap_train, cap_val;
} vkt_metrics;

/* Opens (appending to) dir/metrics.jsonl; creates dir if needed. */
vkt_status vkt_metrics_open(vkt_metrics *m, const char *dir);
void vkt_metrics_close(vkt_metrics *m);
/* Appends a line {"step":..,"kind":"train"|"val",<extra JSON fields>}; extra is e.g. "\"lr\":0.001". */
vkt_status vkt_metrics_log(vkt_metrics *m, int64_t step, const char *kind, double loss, const char *extra);
/* Writes dir/loss.svg from every point logged so far. */
vkt_status vkt_metrics_write_svg(const vkt_metrics *m);

#endif
