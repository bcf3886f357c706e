/* The text side of verifiable rewards (reward.h): finding the answer in a completion, normalising two
 * answers and comparing them, numbers included. Pure functions over bytes (UTF-8 expected; invalid
 * UTF-8 never fails: the Unicode steps then leave the text as it is and only ASCII is case-folded).
 *
 * Extraction narrows a span [begin, end) of the completion, step by step (a spec may chain steps, e.g.
 * the text after "Answer:" and then the last number in it):
 *   NONE         the span as it is.
 *   MARKER       the text after the LAST occurrence of the marker, to the end of that line. The last
 *                one because a model that reasons first restates the marker in its reasoning ("I need
 *                the Answer: part") and concludes with the real one; GSM8K's "#### 42" works the same.
 *   LAST_NUMBER  the last number in the span (-?digits with optional thousands commas and decimals, or
 *                -.5): lm-evaluation-harness's "flexible extract" for GSM8K, for models that do not
 *                keep to a format ("so the answer is 42.").
 *   BOXED        the contents of the last \boxed{...} (braces balanced), as math graders read LaTeX.
 *   FENCED       the contents of the last ``` fenced block (its info string line, e.g. "json", dropped),
 *                for JSON that a model wraps in a code block.
 * A step that finds nothing means the completion has no answer (its reward is the term's fail value).
 *
 * Normalisation (each optional, in this order): Unicode NFKC (full-width "４２" -> "42", NBSP -> space,
 * ligatures), Unicode case folding (utf8proc: "Straße" ~ "STRASSE", "Ä" ~ "ä"), white space trimmed at
 * both ends, runs of white space inside collapsed to one space (White_Space code points, not only ASCII).
 * Numeric comparison: when both normalised answers parse as numbers (optional sign, digits with
 * optional thousands commas in groups of three, optional decimals, optional exponent; no hex, inf, nan
 * or fractions), they are equal when |a - b| <= tolerance * max(1, |b|), so "42" == "42.0" == "4.2e1" ==
 * "42.000" and "1,000" == "1000"; otherwise the strings are compared byte for byte. */
#ifndef VKT_REWARD_TEXT_H
#define VKT_REWARD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "vktrain/status.h"

typedef enum {
    VKT_EXTRACT_NONE = 0,
    VKT_EXTRACT_MARKER,
    VKT_EXTRACT_LAST_NUMBER,
    VKT_EXTRACT_BOXED,
    VKT_EXTRACT_FENCED,
} vkt_extract_kind;

/* The spec name ("none", "marker", "last_number", "boxed", "fenced") of a kind, and back (-1: unknown). */
const char *vkt_extract_name(vkt_extract_kind k);
int vkt_extract_from_name(const char *name);

/* Narrows [*begin, *end) of text by one step (marker: for MARKER, borrowed). Returns false when the step
 * finds nothing (the span is then unchanged). */
bool vkt_extract_step(vkt_extract_kind k, const char *marker, const char *text, size_t *begin, size_t *end);

typedef struct {
    bool nfkc;           /* Unicode compatibility normalisation */
    bool case_fold;      /* Unicode case folding */
    bool trim;           /* strip white space at both ends */
    bool collapse_space; /* runs of white space inside -> one ASCII space */
    bool numeric;        /* compare as numbers when both are numbers */
    double tolerance;    /* numeric: relative tolerance (>= 0) */
} vkt_answer_norm;

/* The defaults of an exact-match spec: trim, collapse, numeric with tolerance 1e-9; no NFKC, no case
 * folding (an answer "Paris" vs "paris" is a choice the spec makes). */
vkt_answer_norm vkt_answer_norm_default(void);

/* s[0..n) normalised (steps above, numeric aside): *out is malloc'ed and NUL-terminated, *out_len bytes. */
vkt_status vkt_answer_normalize(const vkt_answer_norm *o, const char *s, size_t n, char **out, size_t *out_len);
/* True when s[0..n) is a number as described above; *v gets its value. */
bool vkt_answer_parse_number(const char *s, size_t n, double *v);
/* Whether two answers are equal after normalisation (numbers compared as numbers when o->numeric).
 * *equal gets the verdict; errors only for memory. */
vkt_status vkt_answer_equal(const vkt_answer_norm *o, const char *a, size_t na, const char *b, size_t nb, bool *equal);

#endif
