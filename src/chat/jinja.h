/* A Jinja2 interpreter for the subset Hugging Face chat templates use.
 *
 * The template is parsed once into an AST (jinja_lex.c, jinja_parse.c); a render walks it
 * (jinja_eval.c) over values converted from JSON (jinja_value.c), with the filters, tests and Python
 * methods templates call (jinja_filters.c, jinja_methods.c). Semantics follow jinja2 3.1 as
 * transformers configures it for apply_chat_template: ImmutableSandboxedEnvironment with
 * trim_blocks, lstrip_blocks and the loopcontrols extension, transformers' own tojson
 * (json.dumps(ensure_ascii=False), key order kept), raise_exception and strftime_now, and jinja2's
 * default Undefined (prints as "", is falsy, iterates as empty; arithmetic, calls and attributes on
 * it are errors). The sandbox's refusals are kept: list.append, dict.update and the other mutating
 * methods fail as they do under transformers.
 *
 * Not supported (a template that uses them fails to load, naming the construct and line):
 * template inheritance and inclusion (extends, block, include, import, from), with, autoescape, do,
 * recursive loops, *args / **kwargs in calls, and filters or tests outside the list in
 * jinja_filters.c. A JSON number reaches templates as an int when it is integral (cJSON keeps no
 * text), so "1.0" in a tool schema prints as 1 where Python would print 1.0.
 *
 * Every render is bounded (jinja_limits): output bytes, memory, executed statements and loop
 * iterations, range() length and nesting depth, each with a clear error, so arbitrary template text
 * cannot hang or exhaust the process. Thread safety: a parsed template is read-only during renders;
 * renders of one template may run concurrently. */
#ifndef VKT_CHAT_JINJA_H
#define VKT_CHAT_JINJA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "vktrain/status.h"

typedef struct vkt_jinja vkt_jinja;

/* Where a parse or a render failed: line 0 when no line applies (e.g. a memory limit). */
typedef struct {
    int line;
    char msg[512];
} vkt_jinja_error;

typedef struct {
    int64_t max_output_bytes; /* the rendered text */
    int64_t max_memory_bytes; /* everything a render allocates */
    int64_t max_steps;        /* statements executed plus loop iterations */
    int64_t max_range;        /* elements one range() call may produce */
    int max_depth;            /* nesting of expressions, statements and macro calls */
} vkt_jinja_limits;

/* Generous limits for real templates: 64 MiB output, 512 MiB memory, 50 M steps, range 1 M, depth 256. */
vkt_jinja_limits vkt_jinja_default_limits(void);

/* Parses template text (len bytes, no NUL needed). VKT_ERR_FORMAT with *err filled (syntax errors,
 * unsupported constructs, unknown filters or tests, with their line); VKT_ERR_OOM. Nothing is logged:
 * the caller names the template in its own message. */
vkt_status vkt_jinja_parse(const char *source, size_t len, vkt_jinja **out, vkt_jinja_error *err);
void vkt_jinja_free(vkt_jinja *t); /* NULL-safe */

typedef struct {
    const cJSON *vars;              /* a JSON object: its keys become template variables (borrowed) */
    const vkt_jinja_limits *limits; /* NULL: vkt_jinja_default_limits() */
    bool fixed_now;                 /* strftime_now formats now_unix (UTC) instead of the local time */
    int64_t now_unix;
} vkt_jinja_render_opts;

/* Renders into *out (malloc'd, NUL-terminated; *out_len bytes without the NUL). VKT_ERR_FORMAT with
 * *err filled for a runtime error (raise_exception's message, type errors, undefined values, limits). */
vkt_status vkt_jinja_render(const vkt_jinja *t, const vkt_jinja_render_opts *opts, char **out, size_t *out_len,
                            vkt_jinja_error *err);

#endif
