/* Small helpers shared by the subcommands' argument parsing. */
#ifndef VKT_CLI_ARGS_H
#define VKT_CLI_ARGS_H

#include <stdbool.h>

#include "vktrain/device.h"

/* "--device INDEX|NAME": an all-digit value is an index, anything else a name substring. */
void vkt_cli_device_arg(const char *value, vkt_device_opts *opts);
/* True when argv[*i] is `name` and a value follows; advances *i to the value. */
bool vkt_cli_opt(int argc, char **argv, int *i, const char *name);
bool vkt_cli_is_help(const char *arg);

#endif
