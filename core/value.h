/* value.h - the typed value every layer passes around.
 *
 * A row on the hot path is an array of sf_value slots, one per column the job
 * uses, indexed by a slot number fixed when the job is planned. Strings are
 * borrowed: s.p points into the current line buffer, a per-row scratch arena
 * or a table's arena, and is valid only as long as that storage.
 */
#ifndef SF_VALUE_H
#define SF_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/decimal.h" /* sf_i128, sf_dec_type; decimal includes no value */

typedef enum sf_type {
    SF_NULL = 0, /* also "no value" / SQL NULL */
    SF_BOOL,
    SF_INT,    /* int64 */
    SF_DOUBLE, /* IEEE double */
    SF_STRING, /* UTF-8 bytes, not NUL-terminated */
    SF_DATE,   /* days since 1970-01-01 (UTC), int32 */
    SF_TIMESTAMP, /* microseconds since 1970-01-01T00:00:00Z, int64 in u.i */
    SF_DECIMAL    /* decimal(P,S): a scaled 128-bit integer, see core/decimal.h */
} sf_type;

typedef struct sf_value {
    uint8_t type; /* sf_type */
    uint8_t scale; /* SF_DECIMAL only: S, the value is u.dec / 10^S */
    union {
        int b; /* 0 or 1 */
        int64_t i;
        double d;
        int32_t date;
        struct {
            const char *p;
            size_t n;
        } s;
        struct {
            uint64_t lo; /* low half of the two's complement int128 */
            int64_t hi;
        } dec;
    } u;
} sf_value;

static inline sf_value sf_null(void) { sf_value v; v.type = SF_NULL; v.u.i = 0; return v; }
static inline sf_value sf_bool(int b) { sf_value v; v.type = SF_BOOL; v.u.b = b != 0; return v; }
static inline sf_value sf_int(int64_t i) { sf_value v; v.type = SF_INT; v.u.i = i; return v; }
static inline sf_value sf_double(double d) { sf_value v; v.type = SF_DOUBLE; v.u.d = d; return v; }
/* The date's union is written in one 8-byte store (the upper half zero, as
 * it always was): an 8-byte store then a 4-byte one into it made every
 * later load of the value wait for both to retire (a store-forwarding
 * stall, ~80% of to_date's cycles under perf). */
static inline sf_value sf_date(int32_t days)
{
    sf_value v;
    v.type = SF_DATE;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v.u.i = (int64_t)(uint32_t)days;
#else
    v.u.i = 0;
    v.u.date = days;
#endif
    return v;
}
static inline sf_value sf_timestamp(int64_t us) { sf_value v; v.type = SF_TIMESTAMP; v.u.i = us; return v; }
static inline sf_value sf_string(const char *p, size_t n) { sf_value v; v.type = SF_STRING; v.u.s.p = p; v.u.s.n = n; return v; }

/* A decimal: the scaled integer v (|v| < 10^38) at scale S. */
static inline sf_value sf_decimal(sf_i128 v, int scale)
{
    sf_value x;
    x.type = SF_DECIMAL;
    x.scale = (uint8_t)scale;
    x.u.dec.lo = (uint64_t)(sf_u128)v;
    x.u.dec.hi = (int64_t)(v >> 64);
    return x;
}

/* The scaled integer of a decimal value. */
static inline sf_i128 sf_decimal_get(const sf_value *v)
{
    return (sf_i128)(((sf_u128)(uint64_t)v->u.dec.hi << 64) | (sf_u128)v->u.dec.lo);
}

/* Name of a type as used in job specs: "null", "bool", "int64", "double",
 * "string", "date", "timestamp". Never NULL. */
const char *sf_type_name(sf_type t);

/* Parses a spec type name (the names above; "int" and "float" are accepted
 * as aliases). Returns 0 and sets *t, or SF_E_INVAL. */
int sf_type_parse(const char *name, sf_type *t);

/* As sf_type_parse, and also "decimal(P,S)" (1 <= P <= 38, 0 <= S <= P;
 * spaces allowed after the comma), which sets *d; *d is {0, 0} for other
 * types. Returns 0 or SF_E_INVAL. */
int sf_type_parse_full(const char *name, sf_type *t, sf_dec_type *d);

/* The spec name of a type with its precision and scale: "decimal(18,2)"
 * for SF_DECIMAL, else sf_type_name(t). buf holds at least 24 bytes;
 * returns buf. Cannot fail. */
const char *sf_type_format(sf_type t, sf_dec_type d, char *buf);

#endif

#ifndef SF_VALUE_CODEC
#define SF_VALUE_CODEC
/* Total order used for sorting rows and group keys: NULL first, then by
 * value; int64 and double compare numerically (exactly); strings bytewise
 * then by length; NaN after every other double. Values of unrelated types
 * order by type tag. */
int sf_value_cmp(const sf_value *a, const sf_value *b);
/* (Decimals compare exactly with decimals of any scale and with int64.) */

/* Equality in the sense of sf_value_cmp() == 0 but without cross-type
 * numeric equality: used for group keys and join keys, where int64 1 and
 * double 1.0 stay different keys. */
int sf_value_same(const sf_value *a, const sf_value *b);

/* Byte encoding of values for keys and row shipping: a type tag, then
 * int64/double as 8 little-endian bytes, date 4, bool 1, string as a LEB128
 * length and the bytes, decimal as its scale byte and 16 little-endian
 * bytes. Equal values (sf_value_same) encode to equal bytes.
 * sf_value_encoded_size() is the exact size; sf_value_encode() writes it and
 * returns it. */
size_t sf_value_encoded_size(const sf_value *v);
size_t sf_value_encode(const sf_value *v, unsigned char *out);

/* Decodes one value from p (avail bytes). Strings are borrowed from p.
 * Returns bytes used, or 0 if the input is truncated or malformed. */
size_t sf_value_decode(const unsigned char *p, size_t avail, sf_value *v);
#endif
