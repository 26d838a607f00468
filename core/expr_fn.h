/* expr_fn.h - the scalar functions of the expression language, one C
 * function each, apart from parsing (core/expr.c picks and type-checks them).
 *
 * Every function here is pure: no allocation except in the scratch arena
 * given (NULL scratch, or scratch exhausted, gives a NULL value), no I/O.
 * NULL handling is the caller's: these take non-NULL inputs of the types
 * their comment names. Strings are UTF-8 bytes; "characters" are code
 * points (a byte that is not a continuation byte 10xxxxxx starts one).
 */
#ifndef SF_EXPR_FN_H
#define SF_EXPR_FN_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/value.h"

/* Units of date_trunc, and the date parts of year() ... dow(). */
typedef enum sf_time_unit {
    SF_TU_YEAR = 0,
    SF_TU_QUARTER,
    SF_TU_MONTH,
    SF_TU_WEEK, /* ISO: weeks start on Monday */
    SF_TU_DAY,
    SF_TU_HOUR
} sf_time_unit;

typedef enum sf_date_part {
    SF_DP_YEAR = 0,
    SF_DP_MONTH,
    SF_DP_DAY,
    SF_DP_HOUR,
    SF_DP_DOW /* 0 = Sunday .. 6 = Saturday */
} sf_date_part;

/* Parses a date_trunc unit name ('year', ..., 'hour'). Returns 0, or -1. */
int sf_exprfn_unit_parse(const char *p, size_t n, sf_time_unit *u);

/* Number of characters (code points) of s. */
int64_t sf_exprfn_length(const char *p, size_t n);

/* substr(s, start, len): characters [start, start + len) counted from 1;
 * a negative start counts from the end (-1 is the last character); start 0
 * is the position before the first (SQL's rule, so len covers one less).
 * Without len (has_len 0), to the end. A negative len gives ''. The result
 * is borrowed from s. */
sf_value sf_exprfn_substr(sf_value s, int64_t start, int has_len, int64_t len);

/* replace(s, from, to): every non-overlapping occurrence of from, left to
 * right; an empty from gives s. Borrowed from s when nothing changes, else
 * in scratch. */
sf_value sf_exprfn_replace(sf_value s, sf_value from, sf_value to, sf_arena *scratch);

/* split_part(s, sep, n): the n-th field (1-based; negative counts from the
 * end) of s split at every sep; '' when n is 0 or beyond the fields. An
 * empty sep gives s itself as the only field. Borrowed from s. */
sf_value sf_exprfn_split_part(sf_value s, sf_value sep, int64_t n);

/* starts_with(s, p) and contains(s, p): an empty p is in every s. */
int sf_exprfn_starts_with(sf_value s, sf_value p);
int sf_exprfn_contains(sf_value s, sf_value p);

/* round(x, n) of a double: the exact value of x rounded half away from
 * zero to n decimal places (n < 0 rounds to tens, hundreds, ...), then the
 * nearest double. n above 22 gives x; a NaN or infinity gives itself. */
double sf_exprfn_round_double(double x, int64_t n);

/* round(x, n) of an int64: x for n >= 0, else rounded half away from zero
 * to a multiple of 10^-n. Returns 0, or -1 when the result leaves int64. */
int sf_exprfn_round_int(int64_t x, int64_t n, int64_t *out);

/* Rounding modes of sf_exprfn_round_dec. */
typedef enum sf_dec_round {
    SF_DR_HALF_AWAY = 0, /* round(): ties away from zero, as for doubles */
    SF_DR_FLOOR,         /* towards minus infinity */
    SF_DR_CEIL           /* towards plus infinity */
} sf_dec_round;

/* round(x, n), floor(x), ceil(x) of a decimal, exact in 128 bits: the
 * value v / 10^scale rounded by mode to n places (n < 0 rounds to tens,
 * hundreds, ...; n >= scale leaves it as it is), as a scaled integer at
 * scale to (0 <= to <= 38, to >= min(n, scale): trailing zeros added).
 * Returns 0 and *out, or -1 when the result needs more than prec digits. */
int sf_exprfn_round_dec(sf_i128 v, int scale, int64_t n, sf_dec_round mode, int to, int prec,
                        sf_i128 *out);

/* A part of a date (days since 1970-01-01) or of a timestamp (microseconds
 * since 1970-01-01T00:00:00Z, UTC). hour of a date is 0. */
int64_t sf_exprfn_date_part(int32_t days, sf_date_part part);
int64_t sf_exprfn_ts_part(int64_t us, sf_date_part part);

/* date_trunc(unit, x). Return 0, or -1 when the result leaves the type's
 * range. 'day' and 'hour' leave a date as it is. */
int sf_exprfn_date_trunc(int32_t days, sf_time_unit u, int32_t *out);
int sf_exprfn_ts_trunc(int64_t us, sf_time_unit u, int64_t *out);

/* format_date(x, fmt): fmt's bytes with %Y (year, 4 digits; outside
 * 0..9999 signed 5), %m, %d, %H, %M, %S (2 digits), %f (microseconds, 6
 * digits), %j (day of year, 3 digits), %u (ISO weekday 1 = Monday .. 7),
 * %w (0 = Sunday .. 6) and %% replaced. sf_exprfn_format_check returns -1
 * when fmt is valid, else the byte offset of the bad '%'. */
long sf_exprfn_format_check(const char *fmt, size_t n);
sf_value sf_exprfn_format_ts(int64_t us, const char *fmt, size_t n, sf_arena *scratch);

/* Whether cast(x, 'to') is defined for a value of type from (both not
 * SF_NULL): every type to string and from string; numbers (int64, double,
 * decimal) and bools among themselves; date and timestamp between
 * themselves. */
int sf_exprfn_cast_ok(sf_type from, sf_type to);

/* cast of a non-NULL v to type to (sf_exprfn_cast_ok must hold; to is not
 * SF_DECIMAL, which needs sf_exprfn_cast_dec). Strings parse as the column
 * text of value_text (core/value_text.h), with surrounding ASCII spaces
 * ignored; a double to int64 rounds half away from zero; a decimal to
 * int64 rounds half to even (as a cast to decimal(P,0) does, and Python's
 * decimal module by default); a decimal to double is the nearest double;
 * a number to bool is "not zero"; a date is midnight UTC as a timestamp
 * and a timestamp's UTC date is its date. Returns 0 with *out set (strings
 * borrowed from v or in scratch), or -1 when the value does not convert
 * (not a number, out of range, NaN to int64). */
int sf_exprfn_cast(sf_value v, sf_type to, sf_arena *scratch, sf_value *out);

/* cast of a non-NULL bool, int64, double, decimal or string v to
 * decimal(to.prec, to.scale): a bool is 0 or 1; a double converts from the
 * shortest text that reads back as it (sf_dec_from_double: 0.1 is 0.10 at
 * scale 2); a string is JSON number text (`42.10`, `1e-2`) with
 * surrounding ASCII spaces ignored; places beyond to.scale round half to
 * even (sf_dec_rescale, sf_dec_parse). Returns 0 with *out set, or -1 when
 * the value does not convert (not a number, NaN, infinity, or more than
 * to.prec digits). */
int sf_exprfn_cast_dec(sf_value v, sf_dec_type to, sf_value *out);

#endif
