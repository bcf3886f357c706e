/* Helpers shared by the pure-CPU file-format tests: a scratch folder, raw file writes, and a check
 * that a call fails with a logged message containing given words. Header-only (static functions). */
#ifndef VKT_IO_TESTUTIL_H
#define VKT_IO_TESTUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#include "vktrain/status.h"

static int g_failures;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                            \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fprintf(stderr, "\n");                                                                                     \
            g_failures++;                                                                                              \
        }                                                                                                              \
    } while (0)

/* A fresh folder under /tmp, removed (with its files) by tu_rmdir. */
static inline const char *tu_mkdir(void) {
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/vkt_io_test_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

static inline void tu_rmdir(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

static inline const char *tu_path(const char *dir, const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static inline void tu_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* Whole file into a malloc'd buffer (caller frees); *n gets the size. */
static inline unsigned char *tu_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) exit(1);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* stderr capture: everything logged between tu_capture_begin and tu_capture_end. */
static int g_saved_stderr = -1;
static char g_capture_path[96];
static char g_captured[8192];

static inline void tu_capture_begin(void) {
    fflush(stderr);
    snprintf(g_capture_path, sizeof g_capture_path, "/tmp/vkt_io_capture_XXXXXX");
    int fd = mkstemp(g_capture_path);
    if (fd < 0) exit(1);
    g_saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

static inline const char *tu_capture_end(void) {
    fflush(stderr);
    dup2(g_saved_stderr, 2);
    close(g_saved_stderr);
    FILE *f = fopen(g_capture_path, "rb");
    size_t n = f ? fread(g_captured, 1, sizeof g_captured - 1, f) : 0;
    if (f) fclose(f);
    g_captured[n] = '\0';
    unlink(g_capture_path);
    return g_captured;
}

/* Checks that status is `want` and the captured log contains every word (NULL-terminated list). */
static inline void tu_expect_fail(const char *what, vkt_status got, vkt_status want, const char *log, ...) {
    if (got != want) {
        fprintf(stderr, "FAIL %s: got %s, want %s\n", what, vkt_status_name(got), vkt_status_name(want));
        g_failures++;
        return;
    }
    va_list ap;
    va_start(ap, log);
    int missing = 0;
    for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
        if (!strstr(log, w)) {
            fprintf(stderr, "FAIL %s: message lacks \"%s\": %s\n", what, w, log);
            missing++;
        }
    va_end(ap);
    g_failures += missing;
    if (!missing) printf("ok   %-44s %s", what, log[0] ? log : "(no message)\n");
}

#endif
