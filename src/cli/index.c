/* `vktrain index`: build a retrieval index of a folder of documents, or query one (rag/rag_index.h).
 * Host only: no device is opened. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "rag/rag_fts_query.h"
#include "rag/rag_index.h"

static void help(void) {
    printf("usage: vktrain index DOCS_DIR --out INDEX [--chunk-words N] [--overlap N]\n"
           "       vktrain index --query TEXT INDEX [--k K] [--headings]\n\n"
           "Build: splits every .txt and .md file under DOCS_DIR (recursively, in path order) into passages of\n"
           "about N words (default %d) on paragraph and sentence boundaries, each repeating up to --overlap\n"
           "words of the one before (default N / 6; at most N / 2); a markdown heading always starts a new\n"
           "passage and is stored with it. Writes one SQLite file with an FTS5 full-text index (bm25\n"
           "ranking; case, accents and English word endings ignored). An existing INDEX is replaced only\n"
           "when it is a vktrain index.\n"
           "Query: prints the K best passages for TEXT (default 5), best first, with their bm25 score (higher\n"
           "is better), source file and passage number. Any text is safe: its words are searched for, one\n"
           "of them is enough to match, and operators or punctuation mean nothing.\n",
           VKT_RAG_CHUNK_WORDS);
}

static int build(const char *docs, const char *out, int32_t chunk_words, int32_t overlap) {
    vkt_rag_chunk_opts o = {.chunk_words = chunk_words, .overlap_words = overlap >= 0 ? overlap : chunk_words / 6};
    vkt_rag_index_info info;
    if (vkt_rag_index_build(docs, out, &o, &info) != VKT_OK) return 1;
    printf("wrote %s: %lld documents, %lld passages of about %d words (overlap %d)\n", out, (long long)info.n_documents,
           (long long)info.n_passages, info.chunk_words, info.overlap_words);
    return 0;
}

static int query(const char *index, const char *text, int32_t k, bool headings) {
    char *fts = NULL;
    int32_t n_terms = 0;
    if (vkt_rag_fts_query(text, strlen(text), &fts, &n_terms) != VKT_OK) return 1;
    free(fts);
    if (n_terms == 0) {
        fprintf(stderr, "vktrain index: --query '%s' has no words to search for\n", text);
        return 2;
    }
    vkt_rag_index *ix;
    if (vkt_rag_index_open(index, &ix) != VKT_OK) return 1;
    vkt_rag_hits hits = {0};
    vkt_status s = vkt_rag_query(ix, text, k, NULL, NULL, &hits);
    if (s == VKT_OK && hits.n == 0) printf("no passage of %s holds a word of the query\n", index);
    for (int32_t i = 0; s == VKT_OK && i < hits.n; i++) {
        const vkt_rag_hit *h = &hits.items[i];
        bool head = headings && h->heading[0];
        printf("%d. score %.4f  %s passage %d%s%s%s\n   %s\n", i + 1, h->score, h->source, h->chunk, head ? " (" : "",
               head ? h->heading : "", head ? ")" : "", h->text);
    }
    vkt_rag_hits_free(&hits);
    vkt_rag_index_close(ix);
    return s == VKT_OK ? 0 : 1;
}

int vkt_cli_index(int argc, char **argv) {
    const char *path = NULL, *out = NULL, *text = NULL;
    int32_t chunk_words = -1, overlap = -1, k = -1;
    bool headings = false;
    for (int i = 1; i < argc; i++) {
        if (vkt_cli_is_help(argv[i]))
            return help(), 0;
        else if (vkt_cli_opt(argc, argv, &i, "--out"))
            out = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--query"))
            text = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--chunk-words"))
            chunk_words = (int32_t)vkt_cli_i64("--chunk-words", argv[i], 1, VKT_RAG_MAX_CHUNK_WORDS);
        else if (vkt_cli_opt(argc, argv, &i, "--overlap"))
            overlap = (int32_t)vkt_cli_i64("--overlap", argv[i], 0, VKT_RAG_MAX_CHUNK_WORDS / 2);
        else if (vkt_cli_opt(argc, argv, &i, "--k"))
            k = (int32_t)vkt_cli_i64("--k", argv[i], 1, 10000);
        else if (strcmp(argv[i], "--headings") == 0)
            headings = true;
        else if ((argv[i][0] != '-' || !argv[i][1]) && !path)
            path = argv[i];
        else {
            fprintf(stderr, "vktrain index: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (text) {
        if (!path || out || chunk_words >= 0 || overlap >= 0) {
            fprintf(stderr, "vktrain index --query TEXT: give INDEX and only --k / --headings (try --help)\n");
            return 2;
        }
        return query(path, text, k > 0 ? k : 5, headings);
    }
    if (!path || !out || k >= 0 || headings) {
        fprintf(stderr, "vktrain index: give DOCS_DIR and --out INDEX, or --query TEXT INDEX (try --help)\n");
        return 2;
    }
    if (chunk_words < 0) chunk_words = VKT_RAG_CHUNK_WORDS;
    if (overlap > chunk_words / 2) {
        fprintf(stderr, "vktrain index: --overlap %d is more than half of --chunk-words %d\n", overlap, chunk_words);
        return 2;
    }
    return build(path, out, chunk_words, overlap);
}
