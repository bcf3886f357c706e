/* llm.c GPT-2 checkpoints (gpt2_124M.bin, gpt2_124M_bf16.bin): read into, and write from, a host
 * parameter table with Hugging Face GPT-2 names.
 *
 * File layout (llm.c train_gpt2.c gpt2_build_from_checkpoint): 256 int32 header: [0] magic 20240326,
 * [1] version 3 (f32 weights) or 5 (bf16 weights), [2] maxT, [3] V, [4] L, [5] NH, [6] C, [7] Vp
 * (V padded up, e.g. 50304); then the weights, each array covering all layers:
 *   wte (Vp, C)  wpe (maxT, C)  ln1w (L, C)  ln1b (L, C)  qkvw (L, 3C, C)  qkvb (L, 3C)
 *   attprojw (L, C, C)  attprojb (L, C)  ln2w (L, C)  ln2b (L, C)  fcw (L, 4C, C)  fcb (L, 4C)
 *   fcprojw (L, C, 4C)  fcprojb (L, C)  lnfw (C)  lnfb (C)
 * Matrices are (out, in) (llm.c uses nn.Linear layout). The file size must match exactly.
 *
 * Output table, HF GPT2LMHeadModel names as in model/params.c (the hub's model.safetensors stores
 * the same names without the "transformer." prefix), in this order:
 *   transformer.wte.weight (V, C)  -- the Vp - V padding rows are dropped (llm.c keeps them zero)
 *   transformer.wpe.weight (maxT, C)
 *   per layer N, prefix transformer.h.N.: ln_1.{weight,bias} (C), attn.c_attn.{weight (3C, C), bias (3C)},
 *   attn.c_proj.{weight (C, C), bias (C)}, ln_2.{weight,bias} (C), mlp.c_fc.{weight (4C, C), bias (4C)},
 *   mlp.c_proj.{weight (C, 4C), bias (C)}
 *   transformer.ln_f.{weight,bias} (C)
 * The classifier is tied to wte (GPT-2 has no separate lm_head).
 *
 * LAYOUT CHOICE: the four matrices per layer are kept (out, in) like every linear weight in vktrain
 * (host_params.h), so one matmul convention (y = x W^T) serves GPT-2 and Llama. Hugging Face's GPT-2
 * uses Conv1D modules whose weights are stored (in, out): an importer or exporter of HF GPT-2
 * safetensors must transpose exactly the tensors for which vkt_gpt2_is_conv1d() is true. */
#ifndef VKT_IO_LLMC_GPT2_H
#define VKT_IO_LLMC_GPT2_H

#include <stdbool.h>
#include <stddef.h>

#include "io/host_params.h"

#define VKT_LLMC_GPT2_MAGIC        20240326
#define VKT_LLMC_GPT2_VERSION_F32  3
#define VKT_LLMC_GPT2_VERSION_BF16 5

typedef struct {
    int max_seq_len;       /* maxT */
    int vocab_size;        /* V */
    int padded_vocab_size; /* Vp >= V */
    int n_layers;          /* L */
    int n_heads;           /* NH */
    int channels;          /* C */
} vkt_gpt2_config;

/* Reads and validates only the header (the file size is checked too, without reading the weights). */
vkt_status vkt_llmc_gpt2_read_config(const char *path, vkt_gpt2_config *cfg);
/* Reads config and weights (bf16 widened to f32) into *out (zeroed; free with vkt_host_params_free).
 * VKT_ERR_FORMAT names the file and the field (magic, version, a config value, the file size). */
vkt_status vkt_llmc_gpt2_load(const char *path, vkt_gpt2_config *cfg, vkt_host_params *out);
/* The same for a file's bytes in memory (borrowed for the call; `name` stands for the path). */
vkt_status vkt_llmc_gpt2_load_mem(const void *data, size_t size, const char *name, vkt_gpt2_config *cfg,
                                  vkt_host_params *out);
/* Writes a table with the names and shapes above as an llm.c checkpoint (version 3, or 5 when bf16),
 * padding wte with zero rows up to Vp. Atomic (temp file + rename). VKT_ERR_ARG if a tensor is
 * missing or has the wrong shape (logged with its name). */
vkt_status vkt_llmc_gpt2_save(const char *path, const vkt_gpt2_config *cfg, const vkt_host_params *p, bool bf16);

/* True for the (out, in) matrices that HF GPT-2 stores transposed as Conv1D (in, out):
 * [transformer.]h.N.{attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj}.weight (prefix optional). */
bool vkt_gpt2_is_conv1d(const char *name);

#endif
