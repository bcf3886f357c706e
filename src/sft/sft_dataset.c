/* SFT datasets: reading JSON array and JSONL files and folders of them record by record (a JSON
 * array is walked one element at a time, so a large file never becomes one cJSON tree and each record
 * knows its line), the skip-or-fail policy, and the seeded train/validation split. Record formats are
 * sft_record.c. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/rng.h"
#include "io/file.h"
#include "sft/sft_dataset.h"

enum { MAX_LOGGED_SKIPS = 5 };

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
    const char *name;
    int32_t file;
    bool skip_bad;
} reader_t;

/* A malformed record: an error, or with skip_bad a count (and a warning for the first few). index is
 * the record's place in a JSON array, or -1 in JSONL. */
static vkt_status bad_record(reader_t *r, int64_t line, int64_t index, const char *why, bool skippable) {
    char rec[48] = "";
    if (index >= 0) snprintf(rec, sizeof rec, " record %lld:", (long long)index);
    if (!r->skip_bad || !skippable) {
        vkt_log_error("%s:%lld:%s %s", r->name, (long long)line, rec, why);
        return VKT_ERR_FORMAT;
    }
    if (++r->d->n_skipped <= MAX_LOGGED_SKIPS)
        vkt_log_warn("%s:%lld:%s %s (record skipped)", r->name, (long long)line, rec, why);
    return VKT_OK;
}

static vkt_status take_record(reader_t *r, const cJSON *rec, int64_t line, int64_t index) {
    char why[512];
    vkt_sft_example e;
    vkt_status s = vkt_sft_example_from_json(rec, &e, why, sizeof why);
    if (s == VKT_ERR_FORMAT) return bad_record(r, line, index, why, true);
    if (s != VKT_OK) return s;
    e.file = r->file, e.line = line;
    return add_example(r->d, &e);
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Moves (line, line start) forward to p, counting newlines. */
static void locate(const char *p, int64_t *line, const char **line_start) {
    for (const char *q = *line_start; q < p; q++)
        if (*q == '\n') (*line)++, *line_start = q + 1;
}

static void bad_json_reason(char *why, size_t len, const char *at, const char *end, const char *line_start,
                            int64_t line) {
    int n = 0;
    while (at + n < end && n < 24 && at[n] != '\n' && at[n] != '\r') n++;
    snprintf(why, len, "bad JSON at line %lld, column %lld%s%.*s%s", (long long)line, (long long)(at - line_start) + 1,
             n ? " near \"" : " (the text ends)", n, at, n ? "\"" : "");
}

static vkt_status read_jsonl(reader_t *r, const char *text, size_t len) {
    int64_t line = 0;
    for (size_t a = 0; a < len;) {
        size_t b = a;
        while (b < len && text[b] != '\n') b++;
        line++;
        size_t e = b;
        while (e > a && is_blank(text[e - 1])) e--;
        size_t s = a;
        while (s < e && is_blank(text[s])) s++;
        if (s < e) {
            const char *end = NULL;
            cJSON *rec = cJSON_ParseWithLengthOpts(text + s, e - s, &end, false);
            char why[160];
            vkt_status st;
            if (!rec) {
                bad_json_reason(why, sizeof why, end ? end : text + s, text + e, text + a, line);
                st = bad_record(r, line, -1, why, true);
            } else if (end && end < text + e) {
                while (is_blank(*end)) end++; /* end < text + e, and text[e - 1] is not blank */
                snprintf(why, sizeof why, "bad JSON: text after the record at column %lld (one record per line)",
                         (long long)(end - (text + a)) + 1);
                st = bad_record(r, line, -1, why, true);
            } else {
                st = take_record(r, rec, line, -1);
            }
            cJSON_Delete(rec);
            VKT_TRY(st);
        }
        a = b + 1;
    }
    return VKT_OK;
}

static vkt_status read_array(reader_t *r, const char *text, size_t len) {
    const char *p = text, *end = text + len, *line_start = text;
    int64_t line = 1, index = 0;
    char why[200];
    while (p < end && is_blank(*p)) p++;
    p++; /* the '[' the caller saw */
    while (p < end && is_blank(*p)) p++;
    bool done = p < end && *p == ']';
    if (done) p++;
    while (!done) {
        while (p < end && is_blank(*p)) p++;
        locate(p, &line, &line_start);
        const char *stop = NULL;
        cJSON *rec = p < end ? cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, false) : NULL;
        if (!rec) {
            const char *at = stop && stop >= p ? stop : p, *ls = line_start;
            int64_t l = line;
            locate(at, &l, &ls);
            bad_json_reason(why, sizeof why, at, end, ls, l);
            return bad_record(r, line, index, why, false);
        }
        vkt_status st = take_record(r, rec, line, index);
        cJSON_Delete(rec);
        VKT_TRY(st);
        p = stop;
        while (p < end && is_blank(*p)) p++;
        if (p < end && (*p == ',' || *p == ']')) {
            done = *p == ']';
            p++;
            index++;
            continue;
        }
        locate(p, &line, &line_start);
        snprintf(why, sizeof why, "bad JSON at line %lld: expected ',' or ']' after the record", (long long)line);
        return bad_record(r, line, index, why, false);
    }
    while (p < end && is_blank(*p)) p++;
    if (p < end) {
        locate(p, &line, &line_start);
        vkt_log_error("%s:%lld: text after the closing ']' of the JSON array", r->name, (long long)line);
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

vkt_status vkt_sft_dataset_add_mem(vkt_sft_dataset *d, const char *text, size_t len, const char *name,
                                   const vkt_sft_load_opts *opts) {
    reader_t r = {d, name, 0, opts && opts->skip_bad};
    VKT_TRY(add_file(d, name, &r.file));
    size_t i = 0;
    while (i < len && is_blank(text[i])) i++;
    return i < len && text[i] == '[' ? read_array(&r, text, len) : read_jsonl(&r, text, len);
}

static vkt_status load_file(vkt_sft_dataset *d, const char *path, const vkt_sft_load_opts *opts) {
    vkt_file_map m;
    VKT_TRY(vkt_file_map_open(path, &m));
    vkt_status s = vkt_sft_dataset_add_mem(d, (const char *)m.data, m.size, path, opts);
    vkt_file_map_close(&m);
    return s;
}

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static vkt_status load_folder(vkt_sft_dataset *d, const char *dir, const vkt_sft_load_opts *opts) {
    DIR *dh = opendir(dir);
    if (!dh) {
        vkt_log_error("sft data '%s': cannot open the folder", dir);
        return VKT_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0;
    vkt_status s = VKT_OK;
    for (struct dirent *e; s == VKT_OK && (e = readdir(dh));) {
        if (!has_suffix(e->d_name, ".json") && !has_suffix(e->d_name, ".jsonl")) continue;
        char **g = realloc(names, (n + 1) * sizeof *g);
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        char *p = g ? malloc(l) : NULL;
        if (g) names = g;
        if (!p) {
            s = VKT_ERR_OOM;
            break;
        }
        snprintf(p, l, "%s/%s", dir, e->d_name);
        names[n++] = p;
    }
    closedir(dh);
    if (s == VKT_OK && n == 0) {
        vkt_log_error("sft data '%s': the folder has no .json or .jsonl files", dir);
        s = VKT_ERR_IO;
    }
    if (names) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (s == VKT_OK) s = load_file(d, names[i], opts);
        free(names[i]);
    }
    free(names);
    return s;
}

vkt_status vkt_sft_dataset_load(const char *path, const vkt_sft_load_opts *opts, vkt_sft_dataset *out) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) {
        vkt_log_error("sft data '%s': no such file or folder; give a .json / .jsonl file or a folder of them", path);
        return VKT_ERR_IO;
    }
    VKT_TRY(S_ISDIR(st.st_mode) ? load_folder(out, path, opts) : load_file(out, path, opts));
    if (out->n_skipped > MAX_LOGGED_SKIPS)
        vkt_log_warn("sft data '%s': %lld malformed records skipped in all (the first %d are listed above)", path,
                     (long long)out->n_skipped, MAX_LOGGED_SKIPS);
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
    if (!(fraction >= 0 && fraction < 1)) {
        vkt_log_error("sft data: validation fraction %g is outside [0, 1)", fraction);
        return VKT_ERR_ARG;
    }
    int64_t n = d->n, n_val = (int64_t)llround(fraction * (double)n);
    if (fraction > 0 && n_val == 0 && n >= 2) n_val = 1;
    if (n - n_val < 1) {
        vkt_log_error("sft data: a validation fraction of %g leaves no training example of %lld", fraction,
                      (long long)n);
        return VKT_ERR_ARG;
    }
    uint8_t *is_val = calloc((size_t)n + 1, 1);
    int64_t *perm = malloc(((size_t)n + 1) * sizeof *perm);
    vkt_status s = is_val && perm ? VKT_OK : VKT_ERR_OOM;
    if (s == VKT_OK) {
        vkt_rng rng;
        vkt_rng_init(&rng, seed);
        for (int64_t i = 0; i < n; i++) perm[i] = i;
        for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int64_t j = (int64_t)(vkt_rng_u64(&rng) % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        for (int64_t i = 0; i < n_val; i++) is_val[perm[i]] = 1;
        s = copy_files(d, train);
        if (s == VKT_OK) s = copy_files(d, val);
    }
    for (int64_t i = 0; s == VKT_OK && i < n; i++) s = add_example(is_val[i] ? val : train, &d->ex[i]);
    free(is_val);
    free(perm);
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
