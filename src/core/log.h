/* Logging to stderr with a level filter. Thread-safe for whole lines (one fprintf per message). */
#ifndef VKT_LOG_H
#define VKT_LOG_H

#include <stdio.h>

#include "vktrain/status.h"

typedef enum { VKT_LOG_ERROR = 0, VKT_LOG_WARN = 1, VKT_LOG_INFO = 2, VKT_LOG_DEBUG = 3 } vkt_log_level;

void vkt_log_set_level(vkt_log_level level);
vkt_log_level vkt_log_get_level(void);
/* A prefix for every line (borrowed, must outlive logging; NULL: none): data-parallel ranks tag theirs
 * "[rank R] " (dist/dist.h). */
void vkt_log_set_tag(const char *tag);
void vkt_log(vkt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vkt_log_error(...) vkt_log(VKT_LOG_ERROR, __VA_ARGS__)
#define vkt_log_warn(...) vkt_log(VKT_LOG_WARN, __VA_ARGS__)
#define vkt_log_info(...) vkt_log(VKT_LOG_INFO, __VA_ARGS__)
#define vkt_log_debug(...) vkt_log(VKT_LOG_DEBUG, __VA_ARGS__)

/* Propagate a failing internal call, logging where it was seen. */
#define VKT_TRY(call)                                                                              \
    do {                                                                                           \
        vkt_status s_ = (call);                                                                    \
        if (s_ != VKT_OK) {                                                                        \
            vkt_log_debug("  from %s (%s:%d)", #call, __FILE__, __LINE__);                         \
            return s_;                                                                             \
        }                                                                                          \
    } while (0)

/* Programmer errors (shape mismatch, wrong binding count): always on, aborts with the expression. */
#define VKT_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) vkt_assert_fail(#cond, __FILE__, __LINE__);                                   \
    } while (0)

_Noreturn void vkt_assert_fail(const char *expr, const char *file, int line);

#endif
