/* value_text.h - a value as text, and text as a value of a given type.
 *
 * The one text form of values that every output and reader shares (CSV
 * fields, Hive directory values, printed group keys, `shardflow cat`):
 * bools "true"/"false", int64 in decimal, doubles shortest round-trip
 * (core/fmt.h), dates YYYY-MM-DD, timestamps YYYY-MM-DDTHH:MM:SS[.ffffff]Z,
 * decimals with exactly their scale's places (core/decimal.h), strings their
 * own bytes. How NULL and
 * the empty string are spelled is the caller's (an empty CSV field, Hive's
 * default partition, "null"), so both directions leave NULL to it.
 */
#ifndef SF_VALUE_TEXT_H
#define SF_VALUE_TEXT_H

#include <stddef.h>

#include "core/fmt.h"
#include "core/value.h"

/* The text of a non-string value, NUL-terminated in buf (SF_FMT_BUF
 * bytes); returns its length. NULL, a string (its bytes are the text) or
 * an unknown tag give "" and 0. Cannot fail. */
size_t sf_value_text_format(const sf_value *v, char *buf);

/* The text of any value: a string's own bytes (borrowed from v), else
 * sf_value_text_format() into buf. Sets *p and returns the length (0 and
 * "" for NULL). Cannot fail. */
size_t sf_value_text(const sf_value *v, char *buf, const char **p);

/* Parses n bytes as a value of type t into *out: SF_INT and SF_DOUBLE as
 * whole decimal numbers, SF_DATE as ISO-8601 (core/fmt.h), SF_BOOL exactly
 * "true" or "false", SF_TIMESTAMP as ISO-8601 (printed
 * YYYY-MM-DDTHH:MM:SS[.ffffff]Z), SF_STRING as the bytes themselves (borrowed
 * from p), SF_DECIMAL exactly at the scale the text shows ("990.15": scale 2).
 * Returns 0, or -1 when the text is not a value of that type (*out is then
 * unspecified); SF_NULL never parses. */
int sf_value_text_parse(const char *p, size_t n, sf_type t, sf_value *out);

#endif
