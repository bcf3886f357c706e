/* A subset of JSON Schema (draft 2020-12 semantics for the keywords it has), enough to check that a
 * model's structured output has the right shape: a verifiable reward (reward.h).
 *
 * The subset:
 *   type                  "object" | "array" | "string" | "number" | "integer" | "boolean" | "null", or a
 *                         list of them ("integer": a number with no fractional part, so 1.0 is one)
 *   enum                  a non-empty list; the value must equal one (numbers by value, 1 == 1.0)
 *   const                 the value must equal it
 *   properties            an object of schemas for the named members (members not listed are free)
 *   required              a list of member names that must be present
 *   additionalProperties  false: no members beyond those in properties; true (default); or a schema
 *                         every other member must match
 *   items                 a schema every element of an array must match
 *   minItems, maxItems    array length bounds
 *   minimum, maximum, exclusiveMinimum, exclusiveMaximum   number bounds (numbers, draft 6+)
 *   minLength, maxLength  string length bounds, counted in Unicode code points as the standard says
 * Annotations that constrain nothing ($schema, $id, $comment, title, description, default, examples)
 * are accepted and ignored. Any other keyword (allOf, pattern, $ref, format, ...) is refused when the
 * schema is compiled, naming its path: a constraint silently ignored would reward wrong output.
 * A constraint keyword applies whatever the value's type (as in the standard: "minimum" says nothing
 * about a string).
 *
 * Thread safety: a compiled schema is read-only; checks may run concurrently. */
#ifndef VKT_JSON_SCHEMA_H
#define VKT_JSON_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "vktrain/status.h"

typedef struct vkt_json_schema vkt_json_schema;

/* Checks schema (borrowed; copied) against the subset: VKT_ERR_FORMAT, logged as "WHERE.PATH: reason"
 * (where names the schema in messages, e.g. "rewards[1].schema"), for an unknown keyword, a keyword of
 * the wrong type, an unknown type name, a negative length, or a bound pair with min > max. */
vkt_status vkt_json_schema_compile(const cJSON *schema, const char *where, vkt_json_schema **out);
void vkt_json_schema_free(vkt_json_schema *s); /* NULL-safe */
/* True when value conforms. When it does not and why is not NULL, why[0..why_len) gets the first
 * violation as "$.path: reason" ("$.items[2]: 7 is above the maximum 5"). */
bool vkt_json_schema_check(const vkt_json_schema *s, const cJSON *value, char *why, size_t why_len);

#endif
