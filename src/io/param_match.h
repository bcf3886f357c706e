/* Matching tensors read from a file against the model's parameter table: names, shapes and leftovers.
 *
 * A checkpoint or model file is accepted only when every parameter the model needs is there with
 * exactly the expected shape, and nothing else is (apart from the known non-parameter buffers below).
 * An element count alone is not enough: a transposed (in, out) matrix has the right count and samples
 * garbage. Expected shapes:
 *   vectors             [n]
 *   matrices            [out, in] (torch nn.Linear), or [in, out] for GPT-2's Conv1D weights when the
 *                       file uses Hugging Face layout (vkt_param.hf_transposed)
 *   optimizer moments   [rows, cols] as vktrain writes them (table layout, vectors as [1, n])
 * Ignored buffers, which Hugging Face files may carry and transformers itself recomputes:
 *   *.attn.bias, *.attn.masked_bias (GPT-2 causal masks), *.rotary_emb.inv_freq (RoPE frequencies).
 * Not here: reading values (safetensors.c, llama2c.c, llmc_gpt2.c) or uploading them (model.c). */
#ifndef VKT_IO_PARAM_MATCH_H
#define VKT_IO_PARAM_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/params.h"

typedef enum {
    VKT_LAYOUT_HF,    /* Hugging Face model files: vectors 1-D, Conv1D weights (in, out) */
    VKT_LAYOUT_TABLE, /* vktrain optimizer files: (rows, cols) for every entry */
    VKT_LAYOUT_OUT_IN /* host tables of the llama2.c / llm.c readers: vectors 1-D, matrices (out, in) */
} vkt_param_layout;

/* The shape e has in a file of the given layout; returns ndim (1 or 2). */
int vkt_param_file_shape(const vkt_param *e, vkt_param_layout layout, int64_t shape[2]);
/* "[a, b]" into buf. */
const char *vkt_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);
/* VKT_OK when (ndim, shape) is e's shape in layout; otherwise logs "FILE: tensor "NAME" has shape
 * [..], expected [..] (...)" and returns VKT_ERR_FORMAT. */
vkt_status vkt_param_check_shape(const char *file, const char *tensor, int ndim, const int64_t *shape,
                                 const vkt_param *e, vkt_param_layout layout);
/* True for the non-parameter buffers listed above. */
bool vkt_param_ignorable(const char *tensor);
/* The table entry a file tensor name stands for: exact, or with the "transformer." prefix GPT-2 hub
 * files leave out. NULL when the model has no such parameter. */
const vkt_param *vkt_param_for_file_name(const vkt_param_table *t, const char *tensor);

#endif
