/* `vktrain tokenizer`: train a byte-level BPE tokenizer, or encode / decode with any tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/log.h"
#include "data/tok_save.h"
#include "data/tok_train.h"
#include "data/tokenizer.h"
#include "io/file.h"

static void help(void) {
    printf("usage: vktrain tokenizer train --corpus FILE --vocab N --out tokenizer.json\n"
           "       vktrain tokenizer encode --tokenizer SPEC TEXT\n"
           "       vktrain tokenizer decode --tokenizer SPEC ID [ID ...]\n\n"
           "train: learns a GPT-2-style byte-level BPE vocabulary of N ids (256 bytes, <|endoftext|> and the\n"
           "merges) from FILE and saves it as a Hugging Face tokenizer.json, usable as tokenizer.path.\n"
           "SPEC: \"bytes\", a tokenizer.json, a folder with encoder.json + vocab.bpe, or a llama2.c .bin.\n");
}

static int train(const char *corpus, int vocab, const char *out) {
    vkt_file_map f;
    if (vkt_file_map_open(corpus, &f) != VKT_OK) return 1;
    const char *text = (const char *)f.data;
    size_t len = f.size;
    const char *special[] = {"<|endoftext|>"};
    vkt_tok_train_opts o = {.vocab_size = vocab, .special = special, .n_special = 1};
    vkt_tokenizer *t = NULL;
    vkt_status s = vkt_tok_train_bpe(text, len, &o, &t);
    if (s == VKT_OK) s = vkt_tok_save_hf(t, out);
    if (s == VKT_OK) printf("wrote %s: %d ids from %zu bytes of %s\n", out, vkt_tok_vocab_size(t), len, corpus);
    vkt_tok_free(t);
    vkt_file_map_close(&f);
    return s == VKT_OK ? 0 : 1;
}

static int run_verb(const char *verb, const char *corpus, int vocab, const char *out, const char *spec,
                    const char **pos, int n_pos);

int vkt_cli_tokenizer(int argc, char **argv) {
    if (argc < 2 || vkt_cli_is_help(argv[1])) return help(), argc < 2 ? 2 : 0;
    const char *verb = argv[1], *corpus = NULL, *out = NULL, *spec = NULL;
    int vocab = 0, n_pos = 0;
    const char **pos = calloc((size_t)argc, sizeof *pos); /* positional arguments: the text or the ids */
    if (!pos) return 1;
    for (int i = 2; i < argc; i++) {
        if (vkt_cli_opt(argc, argv, &i, "--corpus")) corpus = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--out")) out = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--vocab")) vocab = (int)vkt_cli_i64("--vocab", argv[i], 0, INT32_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--tokenizer")) spec = argv[i];
        else if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
            fprintf(stderr, "vktrain tokenizer: unknown option '%s' (try --help)\n", argv[i]);
            free(pos);
            return 2;
        } else pos[n_pos++] = argv[i];
    }
    int rc = run_verb(verb, corpus, vocab, out, spec, pos, n_pos);
    free(pos);
    return rc;
}

static int run_verb(const char *verb, const char *corpus, int vocab, const char *out, const char *spec,
                    const char **pos, int n_pos) {
    if (strcmp(verb, "train") == 0) {
        if (!corpus || !out || vocab <= 256) {
            fprintf(stderr, "vktrain tokenizer train: needs --corpus FILE --vocab N (> 256) --out FILE\n");
            return 2;
        }
        return train(corpus, vocab, out);
    }
    if ((strcmp(verb, "encode") != 0 && strcmp(verb, "decode") != 0) || !spec || !n_pos) {
        fprintf(stderr, "vktrain tokenizer: unknown verb or missing --tokenizer / input (try --help)\n");
        return 2;
    }
    vkt_tokenizer *t;
    if (vkt_tok_load(spec, &t) != VKT_OK) return 1;
    vkt_status s;
    if (strcmp(verb, "encode") == 0) {
        vkt_tok_ids ids = {0};
        s = vkt_tok_encode(t, pos[0], strlen(pos[0]), true, &ids);
        for (size_t i = 0; s == VKT_OK && i < ids.len; i++) printf("%s%d", i ? " " : "", ids.data[i]);
        printf("\n");
        vkt_tok_ids_free(&ids);
    } else {
        int n = n_pos, vocab_n = vkt_tok_vocab_size(t);
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        s = ids ? VKT_OK : VKT_ERR_OOM;
        for (int i = 0; i < n && s == VKT_OK; i++) {
            int64_t v;
            if (!vkt_cli_parse_i64(pos[i], &v) || v < 0 || v >= vocab_n) {
                fprintf(stderr, "vktrain tokenizer decode: '%s' is not a token id of %s (0 to %d)\n",
                        pos[i], spec, vocab_n - 1);
                s = VKT_ERR_ARG;
            } else {
                ids[i] = (int32_t)v;
            }
        }
        vkt_tok_bytes b = {0};
        if (s == VKT_OK) s = vkt_tok_decode(t, ids, (size_t)n, false, &b);
        if (s == VKT_OK) fwrite(b.data, 1, b.len, stdout), printf("\n");
        vkt_tok_bytes_free(&b);
        free(ids);
    }
    vkt_tok_free(t);
    return s == VKT_OK ? 0 : 1;
}
