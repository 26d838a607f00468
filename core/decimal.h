/* decimal.h - exact decimal numbers: decimal(P,S) as a scaled 128-bit integer.
 *
 * A decimal(P,S) value v stands for v / 10^S with |v| < 10^P, P <= 38. The
 * scaled integer lives in sf_value (u.dec, two 64-bit halves, so sf_value
 * keeps its size) with the scale beside the type tag (sf_value.scale; see
 * sf_decimal() in core/value.h); the precision is static, in the column's
 * or expression's sf_dec_type. This module works on the scaled integers
 * alone and includes no other module but error and fmt (value includes
 * it).
 *
 * Text is parsed exactly, never through a double: JSON number text such as
 * `42.10`, `1e-2`, `-0.5` or `7`. More fractional digits than S are rounded
 * half to even (as Python's decimal module does by default; DuckDB also
 * rounds on a cast); a value that needs more than P digits after that
 * rounding is out of range (the caller rejects it, quoting the text).
 * Printing gives exactly S places: `990.15`, `-0.50`, `0.00`.
 *
 * Sums use sf_dec_acc, a 192-bit accumulator: exact and independent of the
 * order of additions and merges, so every rank count gives the same bits;
 * only the final value is checked against 38 digits.
 */
#ifndef SF_DECIMAL_H
#define SF_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

__extension__ typedef __int128 sf_i128;
__extension__ typedef unsigned __int128 sf_u128;

#define SF_DEC_MAX_PREC 38
/* Bytes for the text of any decimal: sign, 38 digits, point, a leading
 * "0", the NUL. */
#define SF_DEC_BUF 44

/* Precision and scale of a decimal(P,S) column or expression; {0, 0} for
 * every other type. */
typedef struct sf_dec_type {
    uint8_t prec;
    uint8_t scale;
} sf_dec_type;

/* 10^k for 0 <= k <= 38. */
sf_i128 sf_dec_pow10(int k);

/* 1 if |v| < 10^prec. */
int sf_dec_fits(sf_i128 v, int prec);

/* Parses JSON number text (n bytes: -?digits[.digits][(e|E)[+-]digits])
 * as decimal(prec, scale): 0 and *out (the scaled integer), SF_E_PARSE for
 * text that is not such a number, SF_E_RANGE for a value that needs more
 * than prec digits. Extra fractional digits round half to even. Cannot
 * fail otherwise. */
int sf_dec_parse(const char *p, size_t n, int prec, int scale, sf_i128 *out);

/* Text of v / 10^scale with exactly scale places, NUL-terminated in buf
 * (SF_DEC_BUF bytes); returns its length. Cannot fail. */
size_t sf_dec_format(sf_i128 v, int scale, char *buf);

/* v at scale from as a value at scale to (rounding half to even when to <
 * from): 0 and *out, or SF_E_RANGE when the result needs more than prec
 * digits. */
int sf_dec_rescale(sf_i128 v, int from, int to, int prec, sf_i128 *out);

/* Exact order of a / 10^sa and b / 10^sb: -1, 0 or 1. */
int sf_dec_cmp(sf_i128 a, int sa, sf_i128 b, int sb);

/* The double nearest to v / 10^scale (correctly rounded). */
double sf_dec_to_double(sf_i128 v, int scale);

/* A double as decimal(prec, scale): the shortest text that reads back as d
 * (core/fmt), parsed exactly, so 0.1 gives 0.10 at scale 2. 0, SF_E_RANGE
 * (beyond prec digits) or SF_E_PARSE (NaN, infinity). */
int sf_dec_from_double(double d, int prec, int scale, sf_i128 *out);

/* Exact sum of any number of scaled integers of one scale. */
typedef struct sf_dec_acc {
    sf_u128 lo; /* low 128 bits, two's complement with hi */
    int64_t hi; /* high 64 bits */
} sf_dec_acc;

static inline void sf_dec_acc_init(sf_dec_acc *a) { a->lo = 0; a->hi = 0; }
void sf_dec_acc_add(sf_dec_acc *a, sf_i128 v);
void sf_dec_acc_merge(sf_dec_acc *a, const sf_dec_acc *b);

/* The sum: 0 and *out, or SF_E_RANGE when it needs more than prec digits. */
int sf_dec_acc_get(const sf_dec_acc *a, int prec, sf_i128 *out);

/* sum / n (n > 0) at `extra` more places than sum's scale (0 <= extra <= 38),
 * rounded half to even: 0 and *out, or SF_E_RANGE beyond prec digits. */
int sf_dec_mean(sf_i128 sum, int64_t n, int extra, int prec, sf_i128 *out);

/* Checked arithmetic on scaled integers (the caller aligns scales for + and
 * -; a product's scale is the sum of the scales). 0 and *out, or SF_E_RANGE
 * when the result needs more than prec digits. */
int sf_dec_add(sf_i128 a, sf_i128 b, int prec, sf_i128 *out);
int sf_dec_sub(sf_i128 a, sf_i128 b, int prec, sf_i128 *out);
int sf_dec_mul(sf_i128 a, sf_i128 b, int prec, sf_i128 *out);

/* Precision and scale of results, SQL style, capped at 38 digits:
 * a + b and a - b keep max(S) places and one more integer digit; a * b
 * adds the scales and the precisions. Returns 0, or SF_E_RANGE when the
 * scale of a product exceeds 38. */
int sf_dec_type_add(sf_dec_type a, sf_dec_type b, sf_dec_type *out);
int sf_dec_type_mul(sf_dec_type a, sf_dec_type b, sf_dec_type *out);

/* The type that holds values of both a and b exactly (for if(), coalesce()),
 * capped at 38 digits. */
sf_dec_type sf_dec_type_unify(sf_dec_type a, sf_dec_type b);

/* Result types of the aggregates: sum(decimal(P,S)) is decimal(38,S) (as in
 * DuckDB); mean(decimal(P,S)) is decimal(38, S + min(4, 38 - P)): four
 * more places where they fit (Spark gives S + 4), exact and rounded half to
 * even. */
sf_dec_type sf_dec_type_sum(sf_dec_type a);
sf_dec_type sf_dec_type_mean(sf_dec_type a);

#endif
