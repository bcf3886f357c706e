/* Document folders for the retrieval tests (test_rag, test_rag_raft), on io_testutil.h's scratch
 * folders: write a document, making its one level of subfolder when the name has a '/'. */
#ifndef VKT_RAG_TESTUTIL_H
#define VKT_RAG_TESTUTIL_H

#include "io_testutil.h"

static inline void rag_write(const char *dir, const char *rel, const char *text) {
    char path[2048];
    const char *slash = strrchr(rel, '/');
    if (slash && snprintf(path, sizeof path, "%s/%.*s", dir, (int)(slash - rel), rel) < (int)sizeof path)
        mkdir(path, 0755);
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path) exit(1);
    tu_write(path, text, strlen(text));
}

#endif
