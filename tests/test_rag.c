/* Retrieval (src/rag): chunking, query sanitizing, the index's bm25 ranking and its errors. No device.
 *
 * Chunking is checked word for word on generated documents (every passage is a run of the document's
 * words, at most N long, consecutive ones overlap by at most the setting, boundaries fall on paragraph
 * ends, then sentence ends) and exactly on small hand-worked texts (boundaries, overlap snapped to a
 * sentence, headings as paths, code fences, bullets). The ranking is compared with Okapi BM25 computed
 * here in double precision (k1 = 1.2, b = 0.75, FTS5's idf floor) on a hand-made corpus. Every query
 * string that would be an FTS5 syntax error as raw text must run. Bad folders and files must fail
 * with the documented status, and nothing may crash. */
#include <glob.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"
#include "io/file.h"
#include "rag/rag_chunk.h"
#include "rag/rag_fts_query.h"
#include "rag/rag_index.h"
#include "rag_testutil.h"

/* Chunks text; the caller frees. */
static vkt_rag_passages chunk(const char *text, int32_t n, int32_t overlap, bool markdown) {
    vkt_rag_passages p = {0};
    vkt_rag_chunk_opts o = {.chunk_words = n, .overlap_words = overlap, .markdown = markdown};
    EXPECT(vkt_rag_chunk(text, strlen(text), &o, "test", &p) == VKT_OK);
    return p;
}

static bool passage_is(const vkt_rag_passages *p, int32_t i, const char *heading, const char *text, int32_t first) {
    bool ok = i < p->n && strcmp(p->items[i].heading, heading) == 0 && strcmp(p->items[i].text, text) == 0 &&
              p->items[i].first_word == first;
    if (!ok && i < p->n)
        printf("     passage %d: heading '%s' text '%s' first %d; want '%s' '%s' %d\n", i, p->items[i].heading,
               p->items[i].text, p->items[i].first_word, heading, text, first);
    return ok;
}

static void test_chunk_exact(void) {
    /* Sentences end at words 2, 5, 8 (8 also a paragraph) and 11. N = 6: the first passage ends at the
     * sentence end 6 (no paragraph end in (3, 6]); the next starts 3 before, at the sentence start 3,
     * and ends at the paragraph end 9; the last starts at the sentence start 6. */
    vkt_rag_passages p = chunk("A b c. D e f. G h i.\n\nJ k l.", 6, 3, false);
    EXPECT(p.n == 3 && passage_is(&p, 0, "", "A b c. D e f.", 0) && passage_is(&p, 1, "", "D e f. G h i.", 3) &&
           passage_is(&p, 2, "", "G h i. J k l.", 6));
    vkt_rag_passages_free(&p);
    /* A paragraph end in (N/2, N] wins over a later sentence end: words 0-4 are a paragraph. */
    p = chunk("One two three four five.\n\nSix seven. Eight nine ten.", 8, 0, false);
    EXPECT(p.n == 2 && passage_is(&p, 0, "", "One two three four five.", 0) &&
           passage_is(&p, 1, "", "Six seven. Eight nine ten.", 5));
    vkt_rag_passages_free(&p);
    /* No boundary at all: cut at N words, overlap exactly 2 words mid-sentence. */
    char text[512] = "";
    for (int i = 0; i < 25; i++) snprintf(text + strlen(text), sizeof text - strlen(text), "w%d ", i);
    p = chunk(text, 10, 2, false);
    EXPECT(p.n == 3 && p.items[0].first_word == 0 && p.items[0].n_words == 10 && p.items[1].first_word == 8 &&
           p.items[1].n_words == 10 && p.items[2].first_word == 16 && p.items[2].n_words == 9);
    vkt_rag_passages_free(&p);
    /* Closing quotes and brackets after the full stop still end a sentence; "3.5" does not. */
    p = chunk("He said \"stop.\" Then 3.5 more (went away.) Done now", 4, 0, false);
    EXPECT(p.n == 3 && passage_is(&p, 0, "", "He said \"stop.\"", 0) &&
           passage_is(&p, 1, "", "Then 3.5 more (went", 3));
    vkt_rag_passages_free(&p);
}

static void test_chunk_markdown(void) {
    const char *md = "# Title\n\nIntro text.\n\n## Part A\n\nAlpha  words\there.\n\n### Sub ###\n\nDeep.\n\n"
                     "## Part B\n\n- item one\n* item two\n\n```\n# not a heading\n```\n---\n2. kept number\n";
    vkt_rag_passages p = chunk(md, 50, 5, true);
    EXPECT(p.n == 4 && passage_is(&p, 0, "Title", "Intro text.", 0) &&
           passage_is(&p, 1, "Title > Part A", "Alpha words here.", 2) &&
           passage_is(&p, 2, "Title > Part A > Sub", "Deep.", 5) &&
           passage_is(&p, 3, "Title > Part B", "item one item two # not a heading 2. kept number", 6));
    vkt_rag_passages_free(&p);
    /* A heading never shares a passage, and overlap does not cross it. */
    p = chunk("# A\none two three four five six.\n# B\nseven eight.\n", 4, 2, true);
    EXPECT(p.n == 3 && passage_is(&p, 0, "A", "one two three four", 0) &&
           passage_is(&p, 1, "A", "three four five six.", 2) && passage_is(&p, 2, "B", "seven eight.", 6));
    vkt_rag_passages_free(&p);
    /* "## Two" after "### Three" drops the deeper level; "#tag" and "####### x" are text. */
    p = chunk("# One\n### Three\nx.\n## Two\n#tag ####### y.\n", 50, 0, true);
    EXPECT(p.n == 2 && passage_is(&p, 0, "One > Three", "x.", 0) &&
           passage_is(&p, 1, "One > Two", "#tag ####### y.", 1));
    vkt_rag_passages_free(&p);
    /* In a .txt file a '#' line is text and there are no headings. */
    p = chunk("# Not a heading\nplain text\n", 50, 0, false);
    EXPECT(p.n == 1 && passage_is(&p, 0, "", "# Not a heading plain text", 0));
    vkt_rag_passages_free(&p);
}

/* Generated: paragraphs of 2-4 sentences of 3-7 unique words "wN". Checks the invariants. */
static void test_chunk_generated(void) {
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    int32_t n_words = 0, sentence_end[4096] = {0}, para_end[4096] = {0};
    uint32_t r = 12345;
    for (int para = 0; para < 40; para++) {
        for (int s = 0, ns = 2 + (int)((r = r * 1103515245 + 12345) >> 16) % 3; s < ns; s++) {
            int nw = 3 + (int)((r = r * 1103515245 + 12345) >> 16) % 5;
            for (int w = 0; w < nw; w++)
                len += (size_t)snprintf(text + len, cap - len, "w%d%s", n_words++, w == nw - 1 ? ". " : " ");
            sentence_end[n_words - 1] = 1;
        }
        para_end[n_words - 1] = 1;
        len += (size_t)snprintf(text + len, cap - len, "\n\n");
    }
    const int32_t N = 24, overlap = 7;
    vkt_rag_passages p = chunk(text, N, overlap, false);
    int bad = 0;
    int32_t covered = 0;
    for (int32_t i = 0; i < p.n; i++) {
        const vkt_rag_passage *x = &p.items[i];
        int32_t f = x->first_word, e = f + x->n_words;
        char want[4096] = "";
        for (int32_t w = f; w < e; w++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "w%d%s%s", w, sentence_end[w] ? "." : "",
                     w + 1 < e ? " " : "");
        bad += strcmp(x->text, want) != 0 || x->n_words > N || x->n_words < 1 || f > covered;
        if (i > 0) {
            int32_t prev_end = p.items[i - 1].first_word + p.items[i - 1].n_words;
            bad += f <= p.items[i - 1].first_word || prev_end - f > overlap || prev_end - f < 0;
            /* Sentences are at most 7 = overlap words long and every passage ends on a boundary (one lies
             * in every N/2 words), so the overlap window always holds a sentence start. */
            bad += !sentence_end[f - 1];
        }
        if (e < n_words) {
            bool para_in_window = false;
            for (int32_t w = f + N / 2; w < f + N && w < n_words; w++) para_in_window |= para_end[w] != 0;
            bad += para_in_window ? !para_end[e - 1] : !sentence_end[e - 1];
        }
        covered = e;
    }
    printf("generated: %d words -> %d passages (N %d, overlap %d), %d bad\n", n_words, p.n, N, overlap, bad);
    EXPECT(bad == 0 && covered == n_words && p.n > n_words / N);
    vkt_rag_passages_free(&p);
    free(text);
}

static void test_chunk_edges(void) {
    vkt_rag_passages p = chunk("", 10, 0, true);
    EXPECT(p.n == 0);
    p = chunk(" \n\t\r\n\n", 10, 0, false);
    EXPECT(p.n == 0);
    p = chunk("# Only a heading\n", 10, 0, true);
    EXPECT(p.n == 0);
    p = chunk("a b c d", 1, 0, false);
    EXPECT(p.n == 4 && passage_is(&p, 3, "", "d", 3));
    vkt_rag_passages_free(&p);
    vkt_rag_chunk_opts bad[] = {
        {0, 0, false}, {10, 6, false}, {10, -1, false}, {VKT_RAG_MAX_CHUNK_WORDS + 1, 0, false}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vkt_rag_passages q = {0};
        EXPECT(vkt_rag_chunk("a b", 3, &bad[i], "test", &q) == VKT_ERR_ARG && q.n == 0);
    }
    vkt_rag_chunk_opts d = vkt_rag_chunk_defaults();
    EXPECT(d.chunk_words == 120 && d.overlap_words == 20 && vkt_rag_chunk_check(&d) == VKT_OK);
}

static void expect_fts(const char *text, const char *want, int32_t want_terms) {
    char *q = NULL;
    int32_t n = -1;
    bool ok = vkt_rag_fts_query(text, strlen(text), &q, &n) == VKT_OK && strcmp(q, want) == 0 && n == want_terms;
    printf("%s fts query of '%s' -> '%s' (%d terms)\n", ok ? "ok  " : "FAIL", text, q ? q : "", n);
    EXPECT(ok);
    free(q);
}

static void test_fts_query(void) {
    expect_fts("Who's the \"mayor\" (NEAR* OR -x:y^)",
               "\"Who\" OR \"s\" OR \"the\" OR \"mayor\" OR \"NEAR\" OR "
               "\"OR\" OR \"x\" OR \"y\"",
               8);
    expect_fts("", "", 0);
    expect_fts("?! * ( ) \" ' : ^ + -", "", 0);
    expect_fts("Bell bell BELL", "\"Bell\"", 1);
    expect_fts("Caf\xc3\xa9 \xe2\x80\x94 \xc2\xbf"
               "D\xc3\xb3nde? \xe6\x9d\xb1\xe4\xba\xac",
               "\"Caf\xc3\xa9\" OR \"\xc2\xbf"
               "D\xc3\xb3nde\" OR \"\xe6\x9d\xb1\xe4\xba\xac\"",
               3);
    expect_fts("\xff\xfe"
               "abc\xc3 d\xc2\xa0"
               "e",
               "\"abc\" OR \"d\" OR \"e\"", 3); /* invalid bytes, NBSP */
    char many[2048] = "";
    for (int i = 0; i < 100; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "t%d ", i);
    char *q = NULL;
    int32_t n = 0;
    EXPECT(vkt_rag_fts_query(many, strlen(many), &q, &n) == VKT_OK && n == VKT_RAG_MAX_QUERY_TERMS &&
           strstr(q, "\"t63\"") && !strstr(q, "\"t64\""));
    free(q);
}

/* The hand-made corpus: six one-passage .txt documents (+ one in a subfolder, a skipped hidden file
 * and a skipped .csv), token counts chosen for the BM25 check below. */
static void write_corpus(const char *dir) {
    rag_write(dir, "d1.txt", "zebra apple apple");
    rag_write(dir, "d2.txt", "zebra apple mango kiwi");
    rag_write(dir, "d3.txt", "plum pear fig grape lime");
    rag_write(dir, "d4.txt", "plum pear fig");
    rag_write(dir, "d5.txt", "plum pear fig grape Caf\xc3\xa9 bells");
    rag_write(dir, "sub/d6.md", "# Quokka facts\n\nplum pear");
    rag_write(dir, ".hidden.md", "apple apple apple apple");
    rag_write(dir, "notes.csv", "apple,apple");
}

/* Okapi BM25 as FTS5 computes it: sum over terms of idf * f (k1 + 1) / (f + k1 (1 - b + b D / avgdl)),
 * idf = log((N - n + 0.5) / (n + 0.5)) floored at 1e-6. */
static double bm25(int n_terms, const int *f, const int *n_hit, int D, double avgdl, int N) {
    double s = 0;
    for (int i = 0; i < n_terms; i++) {
        double idf = log((N - n_hit[i] + 0.5) / (n_hit[i] + 0.5));
        if (idf <= 0) idf = 1e-6;
        s += idf * f[i] * 2.2 / (f[i] + 1.2 * (0.25 + 0.75 * D / avgdl));
    }
    return s;
}

static bool close_to(double a, double b) { return fabs(a - b) <= 1e-9 * fabs(b); }

static void test_index_ranking(const char *dir, const char *index) {
    vkt_rag_chunk_opts o = vkt_rag_chunk_defaults();
    vkt_rag_index_info info;
    EXPECT(vkt_rag_index_build(dir, index, &o, &info) == VKT_OK);
    EXPECT(info.n_documents == 6 && info.n_passages == 6 && info.chunk_words == 120);
    vkt_rag_index *ix = NULL;
    if (vkt_rag_index_open(index, &ix) != VKT_OK) {
        EXPECT(!"index opens");
        return;
    }
    const vkt_rag_index_info *in = vkt_rag_index_get_info(ix);
    EXPECT(in->format_version == 1 && in->chunk_words == 120 && in->overlap_words == 20 && in->n_documents == 6 &&
           in->n_passages == 6);
    /* Tokens per row (heading + text): 3, 4, 5, 3, 6, 2 + 2 ("Quokka facts"): 25 in 6 rows. */
    const double avgdl = 25.0 / 6.0;
    vkt_rag_hits h = {0};
    EXPECT(vkt_rag_query(ix, "apple", 5, NULL, NULL, &h) == VKT_OK && h.n == 2);
    double s1 = bm25(1, (int[]){2}, (int[]){2}, 3, avgdl, 6), s2 = bm25(1, (int[]){1}, (int[]){2}, 4, avgdl, 6);
    if (h.n == 2) {
        printf("apple: %s %.12f (want %.12f), %s %.12f (want %.12f)\n", h.items[0].source, h.items[0].score, s1,
               h.items[1].source, h.items[1].score, s2);
        EXPECT(!strcmp(h.items[0].source, "d1.txt") && close_to(h.items[0].score, s1));
        EXPECT(!strcmp(h.items[1].source, "d2.txt") && close_to(h.items[1].score, s2));
    }
    vkt_rag_hits_free(&h);
    /* Two terms: "kiwi" (1 row) lifts d2 over d1; scores add per term. */
    EXPECT(vkt_rag_query(ix, "apple? kiwi!", 5, NULL, NULL, &h) == VKT_OK && h.n == 2);
    double t2 = bm25(2, (int[]){1, 1}, (int[]){2, 1}, 4, avgdl, 6);
    EXPECT(h.n == 2 && !strcmp(h.items[0].source, "d2.txt") && close_to(h.items[0].score, t2) &&
           close_to(h.items[1].score, s1));
    vkt_rag_hits_free(&h);
    /* A unique word in a heading, in a subfolder; accents and plurals ignored; k limits; filters. */
    EXPECT(vkt_rag_query(ix, "quokkas", 3, NULL, NULL, &h) == VKT_OK && h.n == 1 &&
           !strcmp(h.items[0].source, "sub/d6.md") && !strcmp(h.items[0].heading, "Quokka facts") &&
           !strcmp(h.items[0].text, "plum pear"));
    vkt_rag_hits_free(&h);
    EXPECT(vkt_rag_query(ix, "CAFE bell", 3, NULL, NULL, &h) == VKT_OK && h.n == 1 &&
           !strcmp(h.items[0].source, "d5.txt"));
    vkt_rag_hits_free(&h);
    EXPECT(vkt_rag_query(ix, "plum", 2, NULL, NULL, &h) == VKT_OK && h.n == 2);
    vkt_rag_hits_free(&h);
    EXPECT(vkt_rag_query(ix, "plum", 9, "d4.txt", NULL, &h) == VKT_OK && h.n == 1 &&
           !strcmp(h.items[0].source, "d4.txt"));
    vkt_rag_hits_free(&h);
    EXPECT(vkt_rag_query(ix, "plum", 9, NULL, "d4.txt", &h) == VKT_OK && h.n == 3);
    vkt_rag_hits_free(&h);
    EXPECT(vkt_rag_query(ix, "plum", 0, NULL, NULL, &h) == VKT_ERR_ARG);
    /* Text that is an FTS5 syntax error when passed raw must run (and match what its words match). */
    const char *nasty[] = {"\"",
                           "\"unterminated",
                           "AND",
                           "NOT apple",
                           "apple OR",
                           "(",
                           ")",
                           "*",
                           "col:val",
                           "NEAR(apple kiwi, 2)",
                           "^apple",
                           "'",
                           "\\",
                           "-apple",
                           "+",
                           "{d1}",
                           "apple\"kiwi",
                           "\xf0\x9f\x8d\x8e",
                           "\xe2\x98\x83",
                           "\xff\xfe",
                           "a\xc2\xa0"
                           "b",
                           "x AND y OR NOT z"};
    for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
        vkt_status s = vkt_rag_query(ix, nasty[i], 5, NULL, NULL, &h);
        if (s != VKT_OK) printf("FAIL query '%s' -> %s\n", nasty[i], vkt_status_name(s));
        EXPECT(s == VKT_OK);
        vkt_rag_hits_free(&h);
    }
    EXPECT(vkt_rag_query(ix, "NOT apple", 5, NULL, NULL, &h) == VKT_OK && h.n == 2); /* "not" OR "apple" */
    vkt_rag_hits_free(&h);
    EXPECT(vkt_rag_document_passages(ix, "d3.txt", &h) == VKT_OK && h.n == 1 && h.items[0].chunk == 0);
    EXPECT(vkt_rag_passage_get(ix, 6, &h) == VKT_OK && h.n == 2 && !strcmp(h.items[1].source, "sub/d6.md"));
    EXPECT(vkt_rag_passage_get(ix, 7, &h) == VKT_ERR_ARG && vkt_rag_passage_get(ix, 0, &h) == VKT_ERR_ARG);
    vkt_rag_hits_free(&h);
    EXPECT(vkt_rag_document_passages(ix, "nope.txt", &h) == VKT_OK && h.n == 0);
    vkt_rag_index_close(ix);
    /* Rebuilding over an index replaces it. */
    o.chunk_words = 2, o.overlap_words = 1;
    EXPECT(vkt_rag_index_build(dir, index, &o, &info) == VKT_OK && info.n_passages > 6);
    EXPECT(vkt_rag_index_open(index, &ix) == VKT_OK && ix && vkt_rag_index_get_info(ix)->chunk_words == 2);
    vkt_rag_index_close(ix);
}

/* Runs an SQL script on a database file (to forge not-quite-index files). */
static void sql(const char *path, const char *script) {
    sqlite3 *db;
    EXPECT(sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, script, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

/* Building docs into out fails with `want`, a message naming `name` and holding `word`, and leaves
 * neither the index nor a temporary file behind. */
static void expect_build_fails(const char *docs, const char *out, const vkt_rag_chunk_opts *o, vkt_status want,
                               const char *name, const char *word) {
    tu_capture_begin();
    vkt_status s = vkt_rag_index_build(docs, out, o, NULL);
    const char *log = tu_capture_end();
    tu_expect_fail(docs, s, want, log, name, word, NULL);
    char pattern[1100];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s.tmp.*", out);
    EXPECT(glob(pattern, 0, NULL, &g) == GLOB_NOMATCH);
    globfree(&g);
}

static void expect_open_fails(const char *path, vkt_status want, const char *word) {
    vkt_rag_index *ix = (vkt_rag_index *)1;
    tu_capture_begin();
    vkt_status s = vkt_rag_index_open(path, &ix);
    const char *log = tu_capture_end();
    tu_expect_fail(path, s, want, log, path, word, NULL);
    EXPECT(ix == NULL);
}

static void test_build_errors(const char *root) {
    vkt_rag_chunk_opts o = vkt_rag_chunk_defaults();
    char out[512], docs[512];
    snprintf(out, sizeof out, "%s", tu_path(root, "out.db"));
    expect_build_fails(tu_path(root, "missing"), out, &o, VKT_ERR_IO, "missing", "No such file");
    rag_write(root, "file.txt", "a file");
    expect_build_fails(tu_path(root, "file.txt"), out, &o, VKT_ERR_IO, "file.txt", "not a folder");
    const struct {
        const char *folder, *name, *text, *word;
        vkt_status want;
    } cases[] = {{"empty", NULL, NULL, "no .txt or .md documents", VKT_ERR_FORMAT},
                 {"others", "a.csv", "x", "1 other file(s) ignored", VKT_ERR_FORMAT},
                 {"blank", "a.md", " \n\n# Heading only\n", "no words", VKT_ERR_FORMAT},
                 {"latin1", "a.txt", "caf\xe9", "byte 3 is not valid UTF-8", VKT_ERR_FORMAT},
                 {"nul", "a.txt", "ab", "byte 2 is a NUL byte", VKT_ERR_FORMAT}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(docs, sizeof docs, "%s", tu_path(root, cases[i].folder));
        mkdir(docs, 0755);
        if (cases[i].name) rag_write(docs, cases[i].name, cases[i].text);
        if (!strcmp(cases[i].folder, "nul")) tu_write(tu_path(docs, "a.txt"), "ab", 3);     /* with its NUL */
        bool file_named = cases[i].want == VKT_ERR_FORMAT && strstr(cases[i].word, "byte"); /* else the folder */
        expect_build_fails(docs, out, &o, cases[i].want, file_named ? cases[i].name : docs, cases[i].word);
        EXPECT(access(out, F_OK) != 0);
    }
    snprintf(docs, sizeof docs, "%s", tu_path(root, "dangling"));
    mkdir(docs, 0755);
    rag_write(docs, "ok.md", "fine words");
    EXPECT(symlink("/nonexistent/vkt_rag", tu_path(docs, "broken.md")) == 0);
    expect_build_fails(docs, out, &o, VKT_ERR_IO, "broken.md", "cannot read the document");
    expect_build_fails(docs, out, &(vkt_rag_chunk_opts){10, 9, false}, VKT_ERR_ARG, "overlap 9", "half");
    /* --out that is not an index is refused and left as it was; a missing folder for it fails. */
    rag_write(tu_path(root, "others"), "b.txt", "words now");
    snprintf(docs, sizeof docs, "%s", tu_path(root, "others"));
    expect_build_fails(docs, tu_path(root, "file.txt"), &o, VKT_ERR_ARG, "file.txt", "refusing to overwrite");
    size_t n = 0;
    unsigned char *kept = tu_read(tu_path(root, "file.txt"), &n);
    EXPECT(n == 6 && !memcmp(kept, "a file", 6));
    free(kept);
    expect_build_fails(docs, tu_path(root, "no/dir/x.db"), &o, VKT_ERR_IO, "no/dir/x.db", "cannot create");
}

static void test_open_errors(const char *root, const char *good_index) {
    expect_open_fails(tu_path(root, "missing.db"), VKT_ERR_IO, "No such file");
    expect_open_fails(root, VKT_ERR_FORMAT, "not a vktrain index (not a regular file)");
    expect_open_fails(tu_path(root, "file.txt"), VKT_ERR_FORMAT, "not an SQLite database");
    tu_write(tu_path(root, "empty.db"), "", 0);
    expect_open_fails(tu_path(root, "empty.db"), VKT_ERR_FORMAT, "without a vkt_meta table");
    sql(tu_path(root, "plain.db"), "CREATE TABLE t(x);");
    expect_open_fails(tu_path(root, "plain.db"), VKT_ERR_FORMAT, "without a vkt_meta table");
    const struct {
        const char *sql, *word;
    } forged[] = {{"UPDATE vkt_meta SET value = 'other' WHERE key = 'format';", "format is 'other'"},
                  {"UPDATE vkt_meta SET value = '2' WHERE key = 'format_version';", "format version 2"},
                  {"UPDATE vkt_meta SET value = '12x' WHERE key = 'chunk_words';", "'chunk_words' is '12x'"},
                  {"DELETE FROM vkt_meta WHERE key = 'n_passages';", "'n_passages' is missing"},
                  {"DROP TABLE passages_fts;", "damaged"}};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "forged%zu.db", i);
        EXPECT(vkt_file_copy(good_index, tu_path(root, name)) == VKT_OK);
        sql(tu_path(root, name), forged[i].sql);
        expect_open_fails(tu_path(root, name), VKT_ERR_FORMAT, forged[i].word);
    }
}

int main(void) {
    test_chunk_exact();
    test_chunk_markdown();
    test_chunk_generated();
    test_chunk_edges();
    test_fts_query();
    const char *root = tu_mkdir();
    char docs[512], index[512];
    snprintf(docs, sizeof docs, "%s", tu_path(root, "docs"));
    snprintf(index, sizeof index, "%s", tu_path(root, "index.db"));
    mkdir(docs, 0755);
    write_corpus(docs);
    test_index_ranking(docs, index);
    test_build_errors(root);
    test_open_errors(root, index);
    tu_rmdir(root);
    expect_failures += g_failures;
    return expect_finish("rag");
}
