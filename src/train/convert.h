/* Conversion of any model source (llama2.c .bin, llm.c GPT-2 .bin, Hugging Face folder, vktrain run or
 * checkpoint) into a complete Hugging Face folder: OUT_DIR/step-000000/ with config.json,
 * model.safetensors and tokenizer.json, so transformers' from_pretrained and AutoTokenizer both load it.
 * The tokenizer is the one given, else the one the source names or holds (a llama2.c tokenizer.bin
 * beside the model); a tokenizer.json source is copied byte for byte, a llama2.c or GPT-2 vocab.bpe one
 * is written through data/tok_save.h. vktrain's byte tokenizer has no tokenizer.json: it is recorded in
 * trainer_state.json instead. Not here: the file formats themselves (io/, data/). */
#ifndef VKT_TRAIN_CONVERT_H
#define VKT_TRAIN_CONVERT_H

#include <stddef.h>

#include "vktrain/device.h"
#include "vktrain/status.h"

/* tok_spec may be NULL (use the source's). *saved gets the folder written. A source with no tokenizer
 * and no tok_spec is an error naming --tokenizer, so a converted folder is never silently incomplete. */
vkt_status vkt_convert_to_hf(vkt_device *dev, const char *from, const char *out_dir, const char *tok_spec,
                             char *saved, size_t saved_size);

#endif
