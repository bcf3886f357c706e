/* EXPECT for pure-CPU tests that need no device: counts failures with the location and expression. */
#ifndef VKT_EXPECT_H
#define VKT_EXPECT_H

#include <stdio.h>

static int expect_failures;

#define EXPECT(cond)                                                                                               \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                                 \
            expect_failures++;                                                                                     \
        }                                                                                                          \
    } while (0)

/* Prints the verdict and returns the exit code. */
static inline int expect_finish(const char *name) {
    printf("%s %s (%d failure(s))\n", expect_failures ? "FAIL" : "PASS", name, expect_failures);
    return expect_failures ? 1 : 0;
}

#endif
