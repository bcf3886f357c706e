/* Logging and status names. Messages go to stderr so stdout stays machine-readable. */
#include "core/log.h"

#include <stdarg.h>
#include <stdlib.h>

static vkt_log_level g_level = VKT_LOG_INFO;
static const char *g_tag = "";

void vkt_log_set_tag(const char *tag) { g_tag = tag ? tag : ""; }

void vkt_log_set_level(vkt_log_level level) { g_level = level; }
vkt_log_level vkt_log_get_level(void) { return g_level; }

void vkt_log(vkt_log_level level, const char *fmt, ...) {
    static const char *prefix[] = {"error: ", "warning: ", "", "debug: "};
    if (level > g_level) return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s%s\n", g_tag, prefix[level], line);
}

_Noreturn void vkt_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "vktrain: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

const char *vkt_status_name(vkt_status s) {
    switch (s) {
    case VKT_OK: return "VKT_OK";
    case VKT_ERR_VK: return "VKT_ERR_VK";
    case VKT_ERR_OOM: return "VKT_ERR_OOM";
    case VKT_ERR_IO: return "VKT_ERR_IO";
    case VKT_ERR_FORMAT: return "VKT_ERR_FORMAT";
    case VKT_ERR_UNSUPPORTED: return "VKT_ERR_UNSUPPORTED";
    case VKT_ERR_ARG: return "VKT_ERR_ARG";
    case VKT_ERR_DEVICE_LOST: return "VKT_ERR_DEVICE_LOST";
    case VKT_ERR_NONFINITE: return "VKT_ERR_NONFINITE";
    }
    return "VKT_ERR_UNKNOWN";
}
