/* Small helpers shared by the subcommands' argument parsing.
 *
 * Values are parsed strictly: the whole argument must be a number in range ("abc", "1x", "" and
 * out-of-range values are refused), and a flag given without its value is named. The vkt_cli_* value
 * functions below print "vktrain: FLAG: ..." and exit with 2 on a bad value: only the command-line front
 * end uses them (the library never exits). The vkt_cli_parse_* functions are the pure parts. */
#ifndef VKT_CLI_ARGS_H
#define VKT_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "vktrain/device.h"

/* "--device INDEX|NAME": an all-digit value is an index, anything else a name substring. */
void vkt_cli_device_arg(const char *value, vkt_device_opts *opts);
/* True when argv[*i] is `name`; advances *i to the value. When no value follows, prints
 * "vktrain: NAME needs a value" and exits with 2. */
bool vkt_cli_opt(int argc, char **argv, int *i, const char *name);
bool vkt_cli_is_help(const char *arg);

/* Whole-string decimal integer / finite floating-point number; false for anything else. */
bool vkt_cli_parse_i64(const char *s, int64_t *out);
bool vkt_cli_parse_f64(const char *s, double *out);
/* Value of `flag` in [lo, hi], or a message naming the flag and the value, and exit(2). */
int64_t vkt_cli_i64(const char *flag, const char *value, int64_t lo, int64_t hi);
double vkt_cli_f64(const char *flag, const char *value, double lo, double hi);

#endif
