/* hive.h - Hive-style partition directory names: key=value/key2=value2.
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
#include "core/value.h"

#define SF_HIVE_NULL "__HIVE_DEFAULT_PARTITION__"

/* Appends "name0=value0/name1=value1..." for n values to out (no leading or
 * trailing '/'; nothing for n = 0). Returns 0 or SF_E_NOMEM. */
int sf_hive_dirname(const char *const *names, const sf_value *values, size_t n, sf_buf *out);

#endif
