/* Argument helpers (see args.h). */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vkt_cli_device_arg(const char *value, vkt_device_opts *opts) {
    char *end;
    long idx = strtol(value, &end, 10);
    if (*value && *end == 0) opts->index = (int)idx;
    else opts->name = value;
}

bool vkt_cli_opt(int argc, char **argv, int *i, const char *name) {
    if (strcmp(argv[*i], name) != 0) return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "vktrain: %s needs a value (try --help)\n", name);
        exit(2);
    }
    (*i)++;
    return true;
}

bool vkt_cli_is_help(const char *arg) { return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0; }

bool vkt_cli_parse_i64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE || s[0] == ' ' || s[0] == '\t') return false;
    *out = (int64_t)v;
    return true;
}

bool vkt_cli_parse_f64(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !isfinite(v) || s[0] == ' ' || s[0] == '\t') return false;
    *out = v;
    return true;
}

int64_t vkt_cli_i64(const char *flag, const char *value, int64_t lo, int64_t hi) {
    int64_t v;
    if (!vkt_cli_parse_i64(value, &v)) {
        fprintf(stderr, "vktrain: %s: '%s' is not an integer\n", flag, value);
        exit(2);
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "vktrain: %s: %lld is outside [%lld, %lld]\n", flag, (long long)v, (long long)lo,
                (long long)hi);
        exit(2);
    }
    return v;
}

double vkt_cli_f64(const char *flag, const char *value, double lo, double hi) {
    double v;
    if (!vkt_cli_parse_f64(value, &v)) {
        fprintf(stderr, "vktrain: %s: '%s' is not a number\n", flag, value);
        exit(2);
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "vktrain: %s: %g is outside [%g, %g]\n", flag, v, lo, hi);
        exit(2);
    }
    return v;
}
