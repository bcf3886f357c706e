/* Subcommands of the vktrain program. Each returns the process exit code. */
#ifndef VKT_CLI_H
#define VKT_CLI_H

#include <stdbool.h>

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

#endif
