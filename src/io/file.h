/* Whole-file read access (memory map) and atomic whole-file writes, shared by the format readers in
 * io/ and data/.
 *
 * Reads map the file read-only (falling back to a heap copy where mmap fails, e.g. on some network
 * file systems); writes go to a temporary file in the destination's folder which is flushed, fsynced
 * and renamed over the destination, so a crash leaves either the old file or the new one, never a torn
 * one. Not here: format parsing, locking between processes (two writers of one path: last rename wins).
 * All functions log a message naming the file and the failed system call before returning an error. */
#ifndef VKT_IO_FILE_H
#define VKT_IO_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vktrain/status.h"

/* A read-only view of a whole file. */
typedef struct {
    const uint8_t *data; /* owned: the mapping or heap copy; NULL for an empty file */
    size_t size;         /* bytes */
    bool mapped;         /* data is an mmap (else malloc'd) */
    char *path;          /* owned copy of the path, for messages */
} vkt_file_map;

/* Maps `path`. VKT_ERR_IO (logged with the path and errno text) if it cannot be opened or read, or is
 * not a regular file. Thread-safe (no shared state). Close with vkt_file_map_close. */
vkt_status vkt_file_map_open(const char *path, vkt_file_map *out);
/* A map holding a heap copy of data[0..size), as if read from a file called `name` (used in
 * messages). For parsers fed from memory (fuzzers, tests); the copy is exactly `size` bytes, so an
 * address sanitizer sees any read past the end, which a page-rounded mapping would hide. */
vkt_status vkt_file_map_copy(const void *data, size_t size, const char *name, vkt_file_map *out);
/* Unmaps and zeroes. Safe on a zeroed or already closed map. */
void vkt_file_map_close(vkt_file_map *m);

/* Size in bytes and modification time (nanoseconds since the epoch) of a regular file. */
vkt_status vkt_file_stat(const char *path, uint64_t *size, int64_t *mtime_ns);

/* An in-progress atomic write. */
typedef struct {
    FILE *f;        /* owned: the temporary file */
    char *tmp_path; /* owned: "<path>.tmp.XXXXXX" in the destination's folder */
    char *path;     /* owned: the destination */
    bool failed;    /* a write failed; commit will refuse */
} vkt_atomic_file;

/* Creates the temporary file next to `path`. */
vkt_status vkt_atomic_open(const char *path, vkt_atomic_file *out);
/* Appends bytes. On failure the file is marked failed, the error logged, VKT_ERR_IO returned. */
vkt_status vkt_atomic_write(vkt_atomic_file *a, const void *data, size_t bytes);
/* Flushes, fsyncs, closes and renames over the destination, then fsyncs the folder. On any failure the
 * temporary file is removed and the destination is untouched. The struct is freed either way. */
vkt_status vkt_atomic_commit(vkt_atomic_file *a);
/* Drops the temporary file and frees. Safe on a zeroed or committed struct. */
void vkt_atomic_abort(vkt_atomic_file *a);

/* True when path names a folder / anything that exists. */
bool vkt_path_is_dir(const char *path);
bool vkt_path_exists(const char *path);

/* Copies a file byte for byte to `to`, atomically (the destination is whole or untouched). */
vkt_status vkt_file_copy(const char *from, const char *to);

#endif
