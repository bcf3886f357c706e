/* replay_<parser>: runs saved inputs through a fuzz harness without libFuzzer, so the seed corpus
 * and every input that once crashed a parser (tests/fuzz/regressions/<parser>/) are replayed by
 * CTest in every build, sanitizer build included.
 *
 * Usage: replay_<parser> FILE|FOLDER...  (a folder: each regular file in it, not recursive; a
 * folder that does not exist is skipped, an empty one is fine). Exit 0 when every input ran (and
 * there was at least one); a crash or a failed invariant aborts. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) return 1;
    /* An exact-size copy, as libFuzzer passes it, so a read past the end is caught by ASan. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) return 1;
    memcpy(exact, buf, n);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

int main(int argc, char **argv) {
    int ran = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) continue;
        if (!S_ISDIR(st.st_mode)) {
            bad += run_file(argv[i]), ran++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "replay: cannot open folder %s\n", argv[i]);
            return 1;
        }
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            bad += run_file(path), ran++;
        }
        closedir(d);
    }
    printf("replayed %d inputs, %d unreadable\n", ran, bad);
    return bad || ran == 0 ? 1 : 0; /* no input at all: the corpus path is wrong */
}
