/* hive.h - Hive-style partition directory names: key=value/key2=value2,
 * written (sf_hive_dirname) and parsed back (sf_hive_parse).
 *
 * Values print as in CSV (dates YYYY-MM-DD, doubles shortest round-trip);
 * bytes that are unsafe in a path component ('/', '=', '%', control
 * characters, quotes and the like) are escaped as %XX, as Hive does. NULL
 * and the empty string become __HIVE_DEFAULT_PARTITION__.
 */
#ifndef SF_HIVE_H
#define SF_HIVE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/value.h"

#define SF_HIVE_NULL "__HIVE_DEFAULT_PARTITION__"

/* Appends "name0=value0/name1=value1..." for n values to out (no leading or
 * trailing '/'; nothing for n = 0). Returns 0 or SF_E_NOMEM. */
int sf_hive_dirname(const char *const *names, const sf_value *values, size_t n, sf_buf *out);

#define SF_HIVE_MAX_KEYS 64

/* A partition path split into its keys and values, %XX escapes decoded:
 * key k is text.p[off[2k] .. + len[2k]), its value text.p[off[2k+1] ..
 * + len[2k+1]); a value that was SF_HIVE_NULL has null[k] set (and no
 * text). Zero-initialize, reuse across calls, free with
 * sf_hive_parts_free(). */
typedef struct sf_hive_parts {
    size_t n;
    sf_buf text;
    size_t off[2 * SF_HIVE_MAX_KEYS], len[2 * SF_HIVE_MAX_KEYS];
    int null[SF_HIVE_MAX_KEYS];
} sf_hive_parts;

/* Parses "k=v/k2=v2" (as sf_hive_dirname wrote it; "" is no keys) into
 * *kv. Returns 0, SF_E_PARSE for a component without '=', SF_E_LIMIT over
 * SF_HIVE_MAX_KEYS keys, or SF_E_NOMEM, with err naming the path. */
int sf_hive_parse(const char *path, sf_hive_parts *kv, sf_error *err);

/* Key / value k of a parse (n bytes, borrowed from kv until its next
 * parse). Cannot fail. */
const char *sf_hive_key(const sf_hive_parts *kv, size_t k, size_t *n);
const char *sf_hive_value(const sf_hive_parts *kv, size_t k, size_t *n);

/* 1 if a and b have the same keys in the same order. */
int sf_hive_same_keys(const sf_hive_parts *a, const sf_hive_parts *b);

/* Frees kv's text; kv can be parsed into again. */
void sf_hive_parts_free(sf_hive_parts *kv);

#endif
