/* The monotonic wall clock every timing in vktrain reads (progress lines, benches, communication). */
#ifndef VKT_CLOCK_H
#define VKT_CLOCK_H

#include <time.h>

/* Seconds on the monotonic clock (an arbitrary origin: only differences mean something). */
static inline double vkt_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
