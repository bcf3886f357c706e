/* Host parameter table (see host_params.h). */
#include "io/host_params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

vkt_status vkt_host_params_add(vkt_host_params *t, int ndim, const int64_t *shape, const char *fmt, ...) {
    if (t->buf) {
        vkt_log_error("vkt_host_params_add: table already allocated");
        return VKT_ERR_ARG;
    }
    vkt_host_param p = {.ndim = ndim, .shape = {1, 1, 1, 1}, .n = 1};
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(p.name, sizeof p.name, fmt, ap);
    va_end(ap);
    if (len < 0 || len >= VKT_PARAM_NAME_MAX) {
        vkt_log_error("parameter name too long (max %d): %s...", VKT_PARAM_NAME_MAX - 1, p.name);
        return VKT_ERR_ARG;
    }
    if (ndim < 1 || ndim > 4) {
        vkt_log_error("parameter %s: %d dims (need 1..4)", p.name, ndim);
        return VKT_ERR_ARG;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0 || p.n > INT64_MAX / shape[i]) {
            vkt_log_error("parameter %s: bad dim %d = %lld", p.name, i, (long long)shape[i]);
            return VKT_ERR_ARG;
        }
        p.shape[i] = shape[i];
        p.n *= shape[i];
    }
    if (vkt_host_params_find(t, p.name)) {
        vkt_log_error("parameter %s: duplicate name", p.name);
        return VKT_ERR_ARG;
    }
    if (t->count == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        vkt_host_param *items = realloc(t->items, (size_t)cap * sizeof *items);
        if (!items) return VKT_ERR_OOM;
        t->items = items;
        t->cap = cap;
    }
    p.offset = t->n_total;
    t->n_total += p.n;
    t->items[t->count++] = p;
    return VKT_OK;
}

vkt_status vkt_host_params_alloc(vkt_host_params *t) {
    if (t->buf) return VKT_ERR_ARG;
    t->buf = calloc((size_t)(t->n_total ? t->n_total : 1), sizeof(float));
    if (!t->buf) {
        vkt_log_error("out of host memory for %lld parameters (%.1f MiB)", (long long)t->n_total,
                      (double)t->n_total * 4.0 / (1 << 20));
        return VKT_ERR_OOM;
    }
    for (int i = 0; i < t->count; i++) t->items[i].data = t->buf + t->items[i].offset;
    return VKT_OK;
}

vkt_host_param *vkt_host_params_find(const vkt_host_params *t, const char *name) {
    for (int i = 0; i < t->count; i++)
        if (strcmp(t->items[i].name, name) == 0) return &t->items[i];
    return NULL;
}

void vkt_host_params_free(vkt_host_params *t) {
    free(t->items);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

void vkt_transpose_f32(float *dst, const float *src, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}
