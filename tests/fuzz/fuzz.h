/* Shared by the libFuzzer harnesses in this folder (one per parser of outside input, see README.md).
 *
 * A harness feeds one input to a parser through its in-memory entry point and, when the parser
 * accepts it, exercises what was built (lookups, conversions, encode/decode) and checks the
 * invariants the parser promises. A broken invariant aborts, which libFuzzer reports as a crash.
 * The same files build twice: with -fsanitize=fuzzer under VKT_FUZZ (clang), and in every build as
 * replay_<parser>, a plain program that runs saved inputs (the seed corpus, past crashes) through
 * the harness as a CTest test. Not here: file opening and mmap (the path entry points wrap the
 * in-memory ones), anything that needs a Vulkan device. */
#ifndef VKT_FUZZ_H
#define VKT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of an accepted input; aborting turns it into a libFuzzer crash report. */
#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                         \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* A NUL-terminated heap copy of data (the text parsers' inputs are not NUL-terminated; callers
 * that pass the exact-size buffer make any read past the end visible to ASan). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    for (size_t i = 0; i < size; i++) s[i] = (char)data[i];
    s[size] = 0;
    return s;
}

#endif
