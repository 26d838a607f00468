/* fmt.h - text forms of values: numbers, dates, sizes.
 *
 * Doubles print like Python's repr(): the shortest decimal that reads back to
 * the same double, fixed notation for decimal exponents -4..15 with at least
 * one fractional digit ("354.41", "0.0", "-0.0", "100.0"), otherwise
 * scientific with a signed two-digit-minimum exponent ("1e+16", "1.5e-05");
 * "nan", "inf", "-inf". Dates are days since 1970-01-01 in the proleptic
 * Gregorian calendar, printed YYYY-MM-DD.
 */
#ifndef SF_FMT_H
#define SF_FMT_H

#include <stddef.h>
#include <stdint.h>

#define SF_FMT_BUF 48 /* enough for any number or date below, and any decimal(38,S) */

/* Each writes a NUL-terminated text into buf (SF_FMT_BUF bytes) and returns
 * its length. They cannot fail. */
int sf_fmt_double(double d, char *buf);
/* The same text found by a search over precisions (snprintf and strtod):
 * slower, the reference sf_fmt_double's fast path is tested against. */
int sf_fmt_double_reference(double d, char *buf);
/* sf_fmt_double's text of d, the nearest double to a decimal literal of at
 * most 15 significant digits, no exponent and places (1..15) digits after
 * the point (core/jsonproj's visitor says which doubles are; see its
 * scalar event): found from those digits, with no search. The result for
 * any other d is undefined. */
int sf_fmt_double_places(double d, int places, char *buf);
int sf_fmt_int(int64_t i, char *buf);
int sf_fmt_date(int32_t days, char *buf); /* years outside 0..9999 print as +/-YYYYY */

/* Civil date <-> days. sf_date_from_ymd returns 0, or SF_E_RANGE for an
 * invalid date (month 13, Feb 30, ...). */
int sf_date_from_ymd(int y, int m, int d, int32_t *days);
void sf_date_to_ymd(int32_t days, int *y, int *m, int *d);

/* UTC date of a unix time in seconds (floor, so -1 is 1969-12-31).
 * Returns 0, or SF_E_RANGE if the date does not fit in int32 days. */
int sf_date_from_unix(int64_t secs, int32_t *days);

/* Parses ISO-8601 text: "YYYY-MM-DD", optionally followed by 'T' or ' ' and
 * "HH:MM[:SS[.fraction]]" and an optional "Z" or "+HH:MM"/"-HH:MM" (or
 * "+HHMM"); the result is the UTC date. Returns 0, or SF_E_PARSE. */
int sf_parse_iso_date(const char *p, size_t n, int32_t *days);

/* Timestamps are int64 microseconds since 1970-01-01T00:00:00Z (UTC, no
 * leap seconds), the range of SF_TIMESTAMP_MIN_DAYS..MAX_DAYS whole days. */
#define SF_US_PER_SEC INT64_C(1000000)
#define SF_US_PER_DAY INT64_C(86400000000)
#define SF_TIMESTAMP_MAX_DAYS INT64_C(106751990) /* days * SF_US_PER_DAY fits */
#define SF_TIMESTAMP_MIN_DAYS (-SF_TIMESTAMP_MAX_DAYS)

/* Writes "YYYY-MM-DDTHH:MM:SSZ", with ".ffffff" (always six digits) before
 * the Z when the microseconds are not zero; years outside 0..9999 print as
 * for dates. Cannot fail. */
int sf_fmt_timestamp(int64_t us, char *buf);

/* Parses ISO-8601 text as a timestamp: "YYYY-MM-DD" (midnight UTC), or that
 * followed by 'T' or ' ', "HH:MM[:SS[.f]]" with 1 to 6 fraction digits, and
 * an optional "Z" or "+HH:MM"/"-HH:MM" (or "+HHMM") offset, converted to
 * UTC; no offset means UTC. A leap second (:60) and a seventh fraction digit
 * are refused. Returns 0, SF_E_PARSE, or SF_E_RANGE beyond the range. */
int sf_parse_iso_timestamp(const char *p, size_t n, int64_t *us);

/* Microseconds of a unix time given in units of unit_us microseconds
 * (1000000 for seconds, 1000 for milliseconds, 1 for microseconds).
 * Returns 0, or SF_E_RANGE outside the timestamp range. */
int sf_timestamp_from_unix(int64_t t, int64_t unit_us, int64_t *us);

/* Days since 1970-01-01 of a timestamp (floor): its UTC date. */
int32_t sf_timestamp_date(int64_t us);

/* Parses a byte size: digits with an optional K, M, G or T suffix (powers of
 * 1024; "KiB"/"MB" style suffixes are accepted too). Returns 0, SF_E_PARSE or
 * SF_E_RANGE. */
int sf_parse_size(const char *text, uint64_t *out);

/* Parses a whole decimal int64 / double. Return 0, SF_E_PARSE or SF_E_RANGE. */
int sf_parse_int64(const char *p, size_t n, int64_t *out);
int sf_parse_double(const char *p, size_t n, double *out);

#endif
