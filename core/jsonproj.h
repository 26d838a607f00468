/* jsonproj.h - the hot-path JSON decoder: strict, streaming, projecting.
 *
 * Validates one line as a JSON text exactly as strictly as the jansson
 * reference decoder in core/decode.c is configured (RFC 8259, UTF-8, no
 * NaN/Infinity, `\u0000` allowed, lone surrogate escapes rejected, integer
 * literals outside int64 rejected as "int64 overflow", reals beyond double
 * range rejected, nesting deeper than jansson's limit rejected), builds no
 * tree and allocates nothing per line, and extracts only the projected
 * paths into typed row slots. Duplicate keys: the last occurrence wins, for
 * nested paths too (a later "props" object replaces an earlier one).
 *
 * Agreement with the reference is the contract: for every input both accept
 * or both reject with the same sf_reject_reason, and every extracted value
 * is equal (numbers to the bit, strings byte for byte after unescaping).
 * Differential fuzzing (tests/fuzz/) checks it.
 */
#ifndef SF_JSONPROJ_H
#define SF_JSONPROJ_H

#include <stddef.h>

#include "core/decode.h"
#include "core/value.h"

typedef struct sf_jsonproj sf_jsonproj;

/* New decoder for these fields (copied). NULL when out of memory. */
sf_jsonproj *sf_jsonproj_new(const sf_decode_field *fields, size_t nfields);

/* Same contract as sf_decoder_decode(): 0 with every field's slot set
 * (SF_NULL when missing/null), 1 + sf_reject_reason with a message, or
 * SF_E_NOMEM. Strings are borrowed from line or from p (unescaped copies),
 * valid until the next call. The message for a type mismatch is the same
 * text as the reference's ("ts: expected int64, got string \"abc\"");
 * invalid JSON messages give the byte column. */
int sf_jsonproj_decode(sf_jsonproj *p, const char *line, size_t len, sf_value *row, char *msg,
                       size_t msgcap);

/* Frees p; NULL is a no-op. */
void sf_jsonproj_free(sf_jsonproj *p);

#endif
