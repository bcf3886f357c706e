/* SFT datasets: JSON array and JSONL files and folders of them, read record by record with the
 * skip-or-fail policy (json_records.h), and the seeded train/validation split. Record formats are
 * sft_record.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sft/json_records.h"
#include "sft/record_split.h"
#include "sft/sft_dataset.h"

static vkt_status add_file(vkt_sft_dataset *d, const char *name, int32_t *index) {
    char **f = realloc(d->files, (size_t)(d->n_files + 1) * sizeof *f);
    if (!f) return VKT_ERR_OOM;
    d->files = f;
    if (!(d->files[d->n_files] = strdup(name))) return VKT_ERR_OOM;
    *index = d->n_files++;
    return VKT_OK;
}

/* Moves *e into d (e is zeroed). */
static vkt_status add_example(vkt_sft_dataset *d, vkt_sft_example *e) {
    if (d->n == d->cap) {
        int64_t cap = d->cap ? 2 * d->cap : 64;
        vkt_sft_example *g = realloc(d->ex, (size_t)cap * sizeof *g);
        if (!g) {
            vkt_sft_example_free(e);
            return VKT_ERR_OOM;
        }
        d->ex = g, d->cap = cap;
    }
    d->n_format[e->format]++;
    d->ex[d->n++] = *e;
    memset(e, 0, sizeof *e);
    return VKT_OK;
}

typedef struct {
    vkt_sft_dataset *d;
    int32_t file;
} reader_t;

static vkt_status take_record(void *ctx, const cJSON *rec, int64_t line, char *why, size_t why_len) {
    reader_t *r = ctx;
    vkt_sft_example e;
    VKT_TRY(vkt_sft_example_from_json(rec, &e, why, why_len));
    e.file = r->file, e.line = line;
    return add_example(r->d, &e);
}

vkt_status vkt_sft_dataset_add_mem(vkt_sft_dataset *d, const char *text, size_t len, const char *name,
                                   const vkt_sft_load_opts *opts) {
    reader_t r = {d, 0};
    VKT_TRY(add_file(d, name, &r.file));
    vkt_json_records w = {.name = name, .skip_bad = opts && opts->skip_bad, .fn = take_record, .ctx = &r};
    vkt_status s = vkt_json_records_read(&w, text, len);
    d->n_skipped += w.n_skipped;
    return s;
}

typedef struct {
    vkt_sft_dataset *d;
    const vkt_sft_load_opts *opts;
} loader_t;

static vkt_status load_file(void *ctx, const char *text, size_t len, const char *name) {
    loader_t *l = ctx;
    return vkt_sft_dataset_add_mem(l->d, text, len, name, l->opts);
}

vkt_status vkt_sft_dataset_load(const char *path, const vkt_sft_load_opts *opts, vkt_sft_dataset *out) {
    memset(out, 0, sizeof *out);
    loader_t l = {out, opts};
    VKT_TRY(vkt_json_records_load(path, "sft data", load_file, &l, &out->n_skipped));
    if (out->n == 0) {
        vkt_log_error("sft data '%s': no usable record (%lld skipped)", path, (long long)out->n_skipped);
        return VKT_ERR_FORMAT;
    }
    char counts[256] = "";
    size_t k = 0;
    for (int f = 0; f < VKT_SFT_FMT_COUNT; f++)
        if (out->n_format[f] && k < sizeof counts)
            k += (size_t)snprintf(counts + k, sizeof counts - k, "%s%s %lld", k ? ", " : "",
                                  vkt_sft_format_name((vkt_sft_format)f), (long long)out->n_format[f]);
    vkt_log_info("sft data '%s': %lld examples (%s), %lld malformed skipped", path, (long long)out->n, counts,
                 (long long)out->n_skipped);
    return VKT_OK;
}

void vkt_sft_dataset_free(vkt_sft_dataset *d) {
    if (!d) return;
    for (int64_t i = 0; i < d->n; i++) vkt_sft_example_free(&d->ex[i]);
    free(d->ex);
    for (int32_t i = 0; i < d->n_files; i++) free(d->files[i]);
    free(d->files);
    memset(d, 0, sizeof *d);
}

const char *vkt_sft_example_where(const vkt_sft_dataset *d, const vkt_sft_example *e, char *buf, size_t len) {
    snprintf(buf, len, "%s:%lld", e->file >= 0 && e->file < d->n_files ? d->files[e->file] : "?", (long long)e->line);
    return buf;
}

static vkt_status copy_files(const vkt_sft_dataset *from, vkt_sft_dataset *to) {
    for (int32_t i = 0; i < from->n_files; i++) {
        int32_t k;
        VKT_TRY(add_file(to, from->files[i], &k));
    }
    return VKT_OK;
}

vkt_status vkt_sft_dataset_split(vkt_sft_dataset *d, double fraction, uint64_t seed, vkt_sft_dataset *train,
                                 vkt_sft_dataset *val) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    uint8_t *is_val;
    VKT_TRY(vkt_record_split(d->n, fraction, seed, "sft data", &is_val));
    int64_t n = d->n;
    vkt_status s = copy_files(d, train);
    if (s == VKT_OK) s = copy_files(d, val);
    for (int64_t i = 0; s == VKT_OK && i < n; i++) s = add_example(is_val[i] ? val : train, &d->ex[i]);
    free(is_val);
    if (s != VKT_OK) {
        vkt_sft_dataset_free(train);
        vkt_sft_dataset_free(val);
        return s;
    }
    train->n_skipped = d->n_skipped;
    d->n = 0; /* the examples moved */
    vkt_sft_dataset_free(d);
    return VKT_OK;
}
