/* Run metrics: one JSON object per line in <run>/metrics.jsonl, and a loss-curve SVG (<run>/loss.svg)
 * rewritten atomically after each evaluation so it is always complete when opened. Every line is valid
 * JSON: a NaN or inf value is written as null (JSON has no spelling for them), and the curve leaves such
 * points out. */
#ifndef VKT_METRICS_H
#define VKT_METRICS_H

#include <stddef.h>
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
/* Opens dir/metrics.jsonl of a run resumed at first_step: lines of steps the resumed run will log again
 * (train steps >= first_step, evaluations after first_step: an abandoned continuation) are removed, with
 * a message saying how many; the rest is kept and drawn on the curve. */
vkt_status vkt_metrics_open_resume(vkt_metrics *m, const char *dir, int64_t first_step);
void vkt_metrics_close(vkt_metrics *m);
/* Appends (nothing on a zeroed vkt_metrics that was never opened: a data-parallel rank other than 0) a line {"step":..,"kind":"train"|"val","loss":..,<extra JSON fields>}; extra is e.g.
 * "\"lr\":0.001" (format its numbers with vkt_metrics_num). A non-finite loss is written as null. */
vkt_status vkt_metrics_log(vkt_metrics *m, int64_t step, const char *kind, double loss, const char *extra);
/* Writes x into buf as JSON: "%.9g" (every float bit survives), or "null" when x is NaN or inf. Returns buf. */
const char *vkt_metrics_num(char *buf, size_t n, double x);
/* Writes dir/loss.svg from every finite point logged so far (nothing when never opened). */
vkt_status vkt_metrics_write_svg(const vkt_metrics *m);

#endif
