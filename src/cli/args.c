/* Argument helpers (see args.h). */
#include "cli/args.h"

#include <stdlib.h>
#include <string.h>

void vkt_cli_device_arg(const char *value, vkt_device_opts *opts) {
    char *end;
    long idx = strtol(value, &end, 10);
    if (*value && *end == 0) opts->index = (int)idx;
    else opts->name = value;
}

bool vkt_cli_opt(int argc, char **argv, int *i, const char *name) {
    if (strcmp(argv[*i], name) != 0 || *i + 1 >= argc) return false;
    (*i)++;
    return true;
}

bool vkt_cli_is_help(const char *arg) { return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0; }
