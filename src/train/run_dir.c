/* Run folder checks (see run_dir.h). */
#include "train/run_dir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static vkt_status mkdir_p(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        vkt_log_error("output.dir %s: cannot create the folder (%s); choose another output.dir", dir, strerror(errno));
        return VKT_ERR_IO;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        vkt_log_error("output.dir %s: exists and is not a folder; choose another output.dir", dir);
        return VKT_ERR_IO;
    }
    return VKT_OK;
}

static vkt_status check_writable(const char *dir) {
    char path[1100];
    snprintf(path, sizeof path, "%s/.vktrain-write-test.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        vkt_log_error("output.dir %s: not writable (%s); fix its permissions or choose another output.dir", dir,
                      strerror(errno));
        return VKT_ERR_IO;
    }
    close(fd);
    unlink(path);
    return VKT_OK;
}

/* "step-" or ".step-" + digits (+ ".tmp" for the hidden one): a checkpoint folder name. */
static bool is_checkpoint_name(const char *name) {
    bool tmp = name[0] == '.';
    const char *p = name + (tmp ? 1 : 0);
    if (strncmp(p, "step-", 5) != 0) return false;
    p += 5;
    if (!isdigit((unsigned char)*p)) return false;
    while (isdigit((unsigned char)*p)) p++;
    return tmp ? strcmp(p, ".tmp") == 0 : *p == 0;
}

static bool is_run_file(const char *name) {
    return strcmp(name, "metrics.jsonl") == 0 || strcmp(name, "loss.svg") == 0 || strcmp(name, "latest.json") == 0 ||
           strcmp(name, "loss.svg.tmp") == 0;
}

/* The evaluation generations of an SFT run (sft/sft_eval_gen.h), a flat folder like a checkpoint. */
static bool is_run_folder(const char *name) { return is_checkpoint_name(name) || strcmp(name, "generations") == 0; }

/* Checkpoint and generation folders are flat (files only); anything else inside is left, and the folder then
 * stays. */
static int remove_flat_folder(const char *path) { /* path: < 1100 bytes */
    DIR *d = opendir(path);
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[1400];
        if (snprintf(p, sizeof p, "%s/%s", path, e->d_name) < (int)sizeof p) unlink(p);
    }
    closedir(d);
    return rmdir(path);
}

vkt_status vkt_run_dir_prepare(const char *dir, vkt_run_dir_mode mode) {
    VKT_TRY(mkdir_p(dir));
    VKT_TRY(check_writable(dir));
    if (mode == VKT_RUN_DIR_RESUME) return VKT_OK;
    DIR *d = opendir(dir);
    if (!d) {
        vkt_log_error("output.dir %s: cannot list (%s)", dir, strerror(errno));
        return VKT_ERR_IO;
    }
    int n_ck = 0, n_files = 0;
    char example[300] = "";
    vkt_status s = VKT_OK;
    for (struct dirent *e; (e = readdir(d));) {
        bool ck = is_run_folder(e->d_name), file = is_run_file(e->d_name);
        if (!ck && !file) continue;
        n_ck += ck, n_files += file;
        if (!example[0] || (file && strcmp(e->d_name, "latest.json") == 0))
            snprintf(example, sizeof example, "%s", e->d_name);
        if (mode != VKT_RUN_DIR_OVERWRITE) continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if ((ck ? remove_flat_folder(p) : unlink(p)) != 0) {
            vkt_log_error("output.dir %s: --overwrite could not remove %s (%s)", dir, p, strerror(errno));
            s = VKT_ERR_IO;
        }
    }
    closedir(d);
    if (s != VKT_OK || n_ck + n_files == 0) return s;
    if (mode == VKT_RUN_DIR_OVERWRITE) {
        vkt_log_info("output.dir %s: --overwrite removed the previous run (%d checkpoint folder(s), %d file(s))", dir,
                     n_ck, n_files);
        return VKT_OK;
    }
    vkt_log_error("output.dir %s already holds a run (%s, %d checkpoint folder(s), %d other file(s)); pass "
                  "--resume %s to continue it, --overwrite to delete it and start again, or choose another "
                  "output.dir",
                  dir, example, n_ck, n_files, dir);
    return VKT_ERR_ARG;
}
