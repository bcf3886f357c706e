/* Saving a tokenizer as a Hugging Face tokenizer.json (see tok_hf_save.c for the layout). */
#ifndef VKT_TOK_SAVE_H
#define VKT_TOK_SAVE_H

#include "data/tokenizer.h"

/* Writes t (byte BPE or SP BPE) to path via "<path>.tmp" + rename. VKT_ERR_IO when the file cannot be
 * written, VKT_ERR_ARG for the byte tokenizer. Thread-safe with respect to t (read only). */
vkt_status vkt_tok_save_hf(const vkt_tokenizer *t, const char *path);

#endif
