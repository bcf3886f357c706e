/* Records of a data file: a JSON array, or JSONL (one JSON value per line, blank lines skipped), walked
 * one record at a time (a large array never becomes one cJSON tree, and every record knows the line it
 * starts on), with the skip-or-fail policy for malformed records. What a record means is the caller's
 * business (a callback). Used by the SFT and preference data (sft_dataset.c, pref_dataset.c).
 *
 * Messages: a malformed record is "NAME:LINE: REASON" in JSONL, "NAME:LINE: record N: REASON" in an
 * array (N the 0-based index in the array, LINE where the record starts). Without skip_bad the first
 * one is logged as an error and the walk returns VKT_ERR_FORMAT; with skip_bad it is counted, and the
 * first VKT_JSON_RECORDS_LOGGED are logged as warnings. Bad JSON inside an array cannot be skipped
 * (the rest of the array is unreadable): always an error. Thread safety: none needed (no shared
 * state besides cJSON's hooks). */
#ifndef VKT_JSON_RECORDS_H
#define VKT_JSON_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "vktrain/status.h"

enum { VKT_JSON_RECORDS_LOGGED = 5 }; /* skipped records logged one by one */

/* Takes one record (borrowed; only valid during the call). Returns VKT_OK, VKT_ERR_FORMAT with the
 * reason in why[0..why_len) (malformed: skipped or reported by the walk), or another error, which
 * stops the walk and is returned as it is. */
typedef vkt_status (*vkt_json_record_fn)(void *ctx, const cJSON *record, int64_t line, char *why, size_t why_len);

typedef struct {
    const char *name;      /* borrowed: the file's name in messages */
    bool skip_bad;         /* skip malformed records instead of failing */
    vkt_json_record_fn fn; /* called for every record, in file order */
    void *ctx;             /* borrowed: passed to fn */
    int64_t n_skipped;     /* malformed records skipped; accumulates over walks (set name per file) */
} vkt_json_records;

/* Walks the records of text[0..len) (no NUL needed; borrowed): an array when the first non-blank
 * byte is '[', else JSONL. An empty text has no records. */
vkt_status vkt_json_records_read(vkt_json_records *r, const char *text, size_t len);

/* The data files of path: the path itself when it is a file, else the .json and .jsonl files of the
 * folder in name order. *files (each owned, and the array) is freed with vkt_json_records_files_free.
 * VKT_ERR_IO (logged, "what" naming the data: "preference data") when path does not exist or the
 * folder cannot be read or has no such file. */
vkt_status vkt_json_records_files(const char *path, const char *what, char ***files, int32_t *n_files);
void vkt_json_records_files_free(char **files, int32_t n_files);

/* Maps each data file of path (vkt_json_records_files) and passes its contents to load (name: the file's path);
 * stops at the first failure. Then, when more than VKT_JSON_RECORDS_LOGGED records were skipped in all, says
 * how many. */
typedef vkt_status (*vkt_json_file_fn)(void *ctx, const char *text, size_t len, const char *name);
vkt_status vkt_json_records_load(const char *path, const char *what, vkt_json_file_fn load, void *ctx,
                                 const int64_t *n_skipped);

#endif
