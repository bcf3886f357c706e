/* Learning-rate schedule: linear warmup from 0 to lr_max over warmup steps, then cosine decay to lr_min
 * at the last step (as nanoGPT and llm.c do). Steps count from 0. */
#ifndef VKT_SCHEDULE_H
#define VKT_SCHEDULE_H

#include <stdint.h>

typedef struct {
    double lr_max, lr_min;
    int64_t warmup, total;
} vkt_lr_schedule;

double vkt_lr_at(const vkt_lr_schedule *s, int64_t step);

#endif
