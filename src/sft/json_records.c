/* Records of JSON array and JSONL files (see json_records.h): the walk, line numbers, reasons for bad
 * JSON, the skip policy, and the data files of a folder. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/file.h"
#include "sft/json_records.h"

enum { WHY_LEN = 512 };

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* A malformed record: an error, or with skip_bad (when skippable) a count and, for the first few, a
 * warning. index is the record's place in an array, or -1 in JSONL. */
static vkt_status malformed(vkt_json_records *r, int64_t line, int64_t index, const char *why, bool skippable) {
    char rec[48] = "";
    if (index >= 0) snprintf(rec, sizeof rec, " record %lld:", (long long)index);
    if (!r->skip_bad || !skippable) {
        vkt_log_error("%s:%lld:%s %s", r->name, (long long)line, rec, why);
        return VKT_ERR_FORMAT;
    }
    if (++r->n_skipped <= VKT_JSON_RECORDS_LOGGED)
        vkt_log_warn("%s:%lld:%s %s (record skipped)", r->name, (long long)line, rec, why);
    return VKT_OK;
}

static vkt_status take(vkt_json_records *r, const cJSON *rec, int64_t line, int64_t index) {
    char why[WHY_LEN] = "";
    vkt_status s = r->fn(r->ctx, rec, line, why, sizeof why);
    return s == VKT_ERR_FORMAT ? malformed(r, line, index, why, true) : s;
}

/* Advances (line, line_start) to p, counting newlines. */
static void advance(const char *p, int64_t *line, const char **line_start) {
    for (const char *q = *line_start; q < p; q++)
        if (*q == '\n') (*line)++, *line_start = q + 1;
}

/* "bad JSON at line L, column C near "..."" for the parse error at `at`. */
static void bad_json(char *why, size_t len, const char *at, const char *end, const char *line_start, int64_t line) {
    int n = 0;
    while (at + n < end && n < 24 && at[n] != '\n' && at[n] != '\r') n++;
    snprintf(why, len, "bad JSON at line %lld, column %lld%s%.*s%s", (long long)line, (long long)(at - line_start) + 1,
             n ? " near \"" : " (the text ends)", n, at, n ? "\"" : "");
}

static vkt_status read_jsonl(vkt_json_records *r, const char *text, size_t len) {
    int64_t line = 0;
    for (size_t a = 0; a < len;) {
        size_t b = a;
        while (b < len && text[b] != '\n') b++;
        line++;
        size_t s = a, e = b;
        while (e > a && is_blank(text[e - 1])) e--;
        while (s < e && is_blank(text[s])) s++;
        if (s < e) {
            const char *stop = NULL;
            cJSON *rec = cJSON_ParseWithLengthOpts(text + s, e - s, &stop, false);
            char why[200];
            vkt_status st;
            if (!rec) {
                bad_json(why, sizeof why, stop ? stop : text + s, text + e, text + a, line);
                st = malformed(r, line, -1, why, true);
            } else if (stop && stop < text + e) {
                while (is_blank(*stop)) stop++; /* stays below text + e: text[e - 1] is not blank */
                snprintf(why, sizeof why, "bad JSON: text after the record at column %lld (one record per line)",
                         (long long)(stop - (text + a)) + 1);
                st = malformed(r, line, -1, why, true);
            } else {
                st = take(r, rec, line, -1);
            }
            cJSON_Delete(rec);
            VKT_TRY(st);
        }
        a = b + 1;
    }
    return VKT_OK;
}

static vkt_status read_array(vkt_json_records *r, const char *text, size_t len) {
    const char *p = text, *end = text + len, *line_start = text;
    int64_t line = 1, index = 0;
    char why[200];
    while (p < end && is_blank(*p)) p++;
    p++; /* the '[' */
    while (p < end && is_blank(*p)) p++;
    bool done = p < end && *p == ']';
    if (done) p++;
    while (!done) {
        while (p < end && is_blank(*p)) p++;
        advance(p, &line, &line_start);
        const char *stop = NULL;
        cJSON *rec = p < end ? cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, false) : NULL;
        if (!rec) {
            const char *at = stop && stop >= p ? stop : p, *ls = line_start;
            int64_t l = line;
            advance(at, &l, &ls);
            bad_json(why, sizeof why, at, end, ls, l);
            return malformed(r, line, index, why, false);
        }
        vkt_status st = take(r, rec, line, index);
        cJSON_Delete(rec);
        VKT_TRY(st);
        p = stop;
        while (p < end && is_blank(*p)) p++;
        if (p < end && (*p == ',' || *p == ']')) {
            done = *p++ == ']';
            index++;
            continue;
        }
        advance(p, &line, &line_start);
        snprintf(why, sizeof why, "bad JSON at line %lld: expected ',' or ']' after the record", (long long)line);
        return malformed(r, line, index, why, false);
    }
    while (p < end && is_blank(*p)) p++;
    if (p < end) {
        advance(p, &line, &line_start);
        vkt_log_error("%s:%lld: text after the closing ']' of the JSON array", r->name, (long long)line);
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

vkt_status vkt_json_records_read(vkt_json_records *r, const char *text, size_t len) {
    size_t i = 0;
    while (i < len && is_blank(text[i])) i++;
    return i < len && text[i] == '[' ? read_array(r, text, len) : read_jsonl(r, text, len);
}

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static vkt_status push_name(char ***files, int32_t *n, const char *dir, const char *name) {
    char **g = realloc(*files, (size_t)(*n + 1) * sizeof *g);
    if (!g) return VKT_ERR_OOM;
    *files = g;
    size_t l = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *p = malloc(l);
    if (!p) return VKT_ERR_OOM;
    snprintf(p, l, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    g[(*n)++] = p;
    return VKT_OK;
}

vkt_status vkt_json_records_files(const char *path, const char *what, char ***files, int32_t *n_files) {
    *files = NULL, *n_files = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        vkt_log_error("%s '%s': no such file or folder; give a .json / .jsonl file or a folder of them", what, path);
        return VKT_ERR_IO;
    }
    if (!S_ISDIR(st.st_mode)) return push_name(files, n_files, NULL, path);
    DIR *dh = opendir(path);
    if (!dh) {
        vkt_log_error("%s '%s': cannot open the folder", what, path);
        return VKT_ERR_IO;
    }
    vkt_status s = VKT_OK;
    for (struct dirent *e; s == VKT_OK && (e = readdir(dh));)
        if (has_suffix(e->d_name, ".json") || has_suffix(e->d_name, ".jsonl"))
            s = push_name(files, n_files, path, e->d_name);
    closedir(dh);
    if (s == VKT_OK && *n_files == 0) {
        vkt_log_error("%s '%s': the folder has no .json or .jsonl files", what, path);
        s = VKT_ERR_IO;
    }
    if (s != VKT_OK) {
        vkt_json_records_files_free(*files, *n_files);
        *files = NULL, *n_files = 0;
        return s;
    }
    qsort(*files, (size_t)*n_files, sizeof **files, cmp_str);
    return VKT_OK;
}

void vkt_json_records_files_free(char **files, int32_t n_files) {
    for (int32_t i = 0; i < n_files; i++) free(files[i]);
    free(files);
}

vkt_status vkt_json_records_load(const char *path, const char *what, vkt_json_file_fn load, void *ctx,
                                 const int64_t *n_skipped) {
    char **files = NULL;
    int32_t n_files = 0;
    VKT_TRY(vkt_json_records_files(path, what, &files, &n_files));
    vkt_status s = VKT_OK;
    for (int32_t i = 0; i < n_files && s == VKT_OK; i++) {
        vkt_file_map m;
        s = vkt_file_map_open(files[i], &m);
        if (s != VKT_OK) break;
        s = load(ctx, (const char *)m.data, m.size, files[i]);
        vkt_file_map_close(&m);
    }
    vkt_json_records_files_free(files, n_files);
    VKT_TRY(s);
    if (*n_skipped > VKT_JSON_RECORDS_LOGGED)
        vkt_log_warn("%s '%s': %lld malformed records skipped in all (the first %d are listed above)", what, path,
                     (long long)*n_skipped, VKT_JSON_RECORDS_LOGGED);
    return VKT_OK;
}
