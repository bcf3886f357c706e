/* A whole model on the host, no device: its config and every parameter as f32 in parameter-table
 * layout (model/params.h: (out, in) matrices, GPT-2 Conv1D weights included), loaded from any source
 * vktrain imports, and saved back as a Hugging Face folder (config.json + model.safetensors).
 *
 * For host-side model surgery (train/merge.h folds LoRA adapters in, train/export_gguf.h writes GGUF)
 * where building a device model would only cost memory. Not here: tokenizer files (the callers copy or
 * write them), sharded output. Not thread-safe for concurrent modification. */
#ifndef VKT_IO_HOST_MODEL_H
#define VKT_IO_HOST_MODEL_H

#include "io/safetensors.h"
#include "model/params.h"

typedef struct {
    vkt_model_config cfg;
    vkt_param_table table; /* owned; built without padding */
    float *flat;           /* owned: table.total floats, each parameter at its table offset */
    vkt_st_dtype dtype;    /* how the source stores its weights: F32, F16 or BF16 (mixed: F32) */
} vkt_host_model;

/* from: a Hugging Face folder, a vktrain run or step folder, a llama2.c or llm.c .bin. *out must be
 * zeroed; on failure it is freed. Errors as vkt_import_flat (they name the file and tensor). */
vkt_status vkt_host_model_load(const char *from, vkt_host_model *out);
/* Writes dir/config.json (torch_dtype set to dtype) and dir/model.safetensors in dtype (F32, F16 or
 * BF16) under Hugging Face names and layouts; a tied lm_head is not stored. Creates dir (one level).
 * Both files are written atomically. */
vkt_status vkt_host_model_save_hf(const vkt_host_model *m, const char *dir, vkt_st_dtype dtype);
/* Safe on a zeroed struct and twice. */
void vkt_host_model_free(vkt_host_model *m);

/* "f32" / "f16" / "bf16" (also "float32", "float16", "bfloat16") to a dtype; false if none. */
bool vkt_host_dtype_parse(const char *s, vkt_st_dtype *out);

#endif
