/* Memory-mapped reads and temp-file-plus-rename writes (see file.h). POSIX only. */
#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static vkt_status read_all(int fd, uint8_t *buf, size_t size, const char *path) {
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            vkt_log_error("%s: read failed after %zu of %zu bytes: %s", path, got, size,
                          r < 0 ? strerror(errno) : "unexpected end of file");
            return VKT_ERR_IO;
        }
        got += (size_t)r;
    }
    return VKT_OK;
}

vkt_status vkt_file_map_open(const char *path, vkt_file_map *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        vkt_log_error("%s: cannot open for reading: %s (check the path)", path, strerror(errno));
        return VKT_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        vkt_log_error("%s: not a regular file", path);
        close(fd);
        return VKT_ERR_IO;
    }
    out->path = dup_str(path);
    out->size = (size_t)st.st_size;
    if (!out->path) {
        close(fd);
        return VKT_ERR_OOM;
    }
    if (out->size == 0) {
        close(fd);
        return VKT_OK;
    }
    void *p = mmap(NULL, out->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
        out->data = p;
        out->mapped = true;
        close(fd);
        return VKT_OK;
    }
    uint8_t *buf = malloc(out->size);
    if (!buf) {
        vkt_log_error("%s: out of memory copying %zu bytes", path, out->size);
        close(fd);
        vkt_file_map_close(out);
        return VKT_ERR_OOM;
    }
    vkt_status s = read_all(fd, buf, out->size, path);
    close(fd);
    out->data = buf;
    if (s != VKT_OK) vkt_file_map_close(out);
    return s;
}

vkt_status vkt_file_map_copy(const void *data, size_t size, const char *name, vkt_file_map *out) {
    memset(out, 0, sizeof *out);
    out->path = dup_str(name);
    uint8_t *buf = size ? malloc(size) : NULL;
    if (!out->path || (size && !buf)) {
        free(buf);
        vkt_file_map_close(out);
        return VKT_ERR_OOM;
    }
    if (size) memcpy(buf, data, size);
    out->data = buf;
    out->size = size;
    return VKT_OK;
}

void vkt_file_map_close(vkt_file_map *m) {
    if (m->data) {
        if (m->mapped)
            munmap((void *)m->data, m->size);
        else
            free((void *)m->data);
    }
    free(m->path);
    memset(m, 0, sizeof *m);
}

vkt_status vkt_file_stat(const char *path, uint64_t *size, int64_t *mtime_ns) {
    struct stat st;
    if (stat(path, &st) != 0) {
        vkt_log_error("%s: stat failed: %s", path, strerror(errno));
        return VKT_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        vkt_log_error("%s: not a regular file", path);
        return VKT_ERR_IO;
    }
    *size = (uint64_t)st.st_size;
    *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return VKT_OK;
}

static void atomic_free(vkt_atomic_file *a) {
    free(a->tmp_path);
    free(a->path);
    memset(a, 0, sizeof *a);
}

vkt_status vkt_atomic_open(const char *path, vkt_atomic_file *out) {
    memset(out, 0, sizeof *out);
    size_t n = strlen(path);
    out->path = dup_str(path);
    out->tmp_path = malloc(n + 16);
    if (!out->path || !out->tmp_path) {
        atomic_free(out);
        return VKT_ERR_OOM;
    }
    snprintf(out->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(out->tmp_path);
    if (fd < 0) {
        vkt_log_error("%s: cannot create temporary file %s: %s (is the folder writable?)", path, out->tmp_path,
                      strerror(errno));
        atomic_free(out);
        return VKT_ERR_IO;
    }
    /* mkstemp makes 0600; a finished file should read like any other the user writes. */
    (void)fchmod(fd, 0644);
    out->f = fdopen(fd, "wb");
    if (!out->f) {
        vkt_log_error("%s: fdopen failed: %s", out->tmp_path, strerror(errno));
        close(fd);
        unlink(out->tmp_path);
        atomic_free(out);
        return VKT_ERR_IO;
    }
    return VKT_OK;
}

vkt_status vkt_atomic_write(vkt_atomic_file *a, const void *data, size_t bytes) {
    if (a->failed || !a->f) return VKT_ERR_IO;
    if (bytes && fwrite(data, 1, bytes, a->f) != bytes) {
        vkt_log_error("%s: write of %zu bytes failed: %s (disk full?)", a->tmp_path, bytes, strerror(errno));
        a->failed = true;
        return VKT_ERR_IO;
    }
    return VKT_OK;
}

/* Makes the rename itself durable: fsync the folder that holds the destination. */
static void sync_parent_dir(const char *path) {
    char *dir = dup_str(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

vkt_status vkt_atomic_commit(vkt_atomic_file *a) {
    if (!a->f) return VKT_ERR_ARG;
    bool ok = !a->failed;
    if (ok && fflush(a->f) != 0) {
        vkt_log_error("%s: flush failed: %s", a->tmp_path, strerror(errno));
        ok = false;
    }
    if (ok && fsync(fileno(a->f)) != 0) {
        vkt_log_error("%s: fsync failed: %s", a->tmp_path, strerror(errno));
        ok = false;
    }
    if (fclose(a->f) != 0 && ok) {
        vkt_log_error("%s: close failed: %s", a->tmp_path, strerror(errno));
        ok = false;
    }
    a->f = NULL;
    if (ok && rename(a->tmp_path, a->path) != 0) {
        vkt_log_error("%s: rename from %s failed: %s", a->path, a->tmp_path, strerror(errno));
        ok = false;
    }
    if (!ok) {
        unlink(a->tmp_path);
        atomic_free(a);
        return VKT_ERR_IO;
    }
    sync_parent_dir(a->path);
    atomic_free(a);
    return VKT_OK;
}

void vkt_atomic_abort(vkt_atomic_file *a) {
    if (a->f) {
        fclose(a->f);
        unlink(a->tmp_path);
    }
    atomic_free(a);
}

vkt_status vkt_file_copy(const char *from, const char *to) {
    vkt_file_map f;
    VKT_TRY(vkt_file_map_open(from, &f));
    vkt_atomic_file a = {0};
    vkt_status s = vkt_atomic_open(to, &a);
    if (s == VKT_OK) s = vkt_atomic_write(&a, f.data, f.size);
    if (s == VKT_OK) s = vkt_atomic_commit(&a);
    else vkt_atomic_abort(&a);
    vkt_file_map_close(&f);
    return s;
}

bool vkt_path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool vkt_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}
