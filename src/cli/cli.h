/* Subcommands of the vktrain program. Each returns the process exit code. */
#ifndef VKT_CLI_H
#define VKT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "data/tokenizer.h"
#include "model/model.h"

int vkt_cli_devices(int argc, char **argv);
int vkt_cli_bench(int argc, char **argv);
int vkt_cli_train(int argc, char **argv);
int vkt_cli_finetune(int argc, char **argv);
int vkt_cli_sample(int argc, char **argv);
int vkt_cli_eval(int argc, char **argv);
int vkt_cli_convert(int argc, char **argv);
int vkt_cli_tokenizer(int argc, char **argv);
int vkt_cli_merge(int argc, char **argv);
int vkt_cli_export(int argc, char **argv);
int vkt_cli_index(int argc, char **argv);
int vkt_cli_chat(int argc, char **argv);
int vkt_cli_score(int argc, char **argv);

/* For sample and chat: the model `from` names (batch 1) with the PEFT adapter folder merged in (NULL: none),
 * and its tokenizer (tok_spec, else the one the model names); spec gets the tokenizer spec used. On failure
 * the caller still frees what is set (vkt_model_destroy, vkt_tok_free). */
vkt_status vkt_cli_load_for_generation(vkt_device *dev, const char *from, const char *adapter, const char *tok_spec,
                                       vkt_model **m, vkt_tokenizer **tok, char *spec, size_t spec_size);

#endif
