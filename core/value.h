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
#include <string.h>

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
/* Inline: row shipping (the group and write shuffles, the write route,
 * spill runs) runs the codec on every value of every row, and a call per
 * value was a third of the write route's decode (S3). */
static inline size_t sf_leb128_size(size_t n)
{
    size_t k = 1;
    while (n >= 0x80) {
        n >>= 7;
        k++;
    }
    return k;
}

static inline size_t sf_value_encoded_size(const sf_value *v)
{
    switch ((sf_type)v->type) {
    case SF_NULL: return 1;
    case SF_BOOL: return 2;
    case SF_INT:
    case SF_DOUBLE: return 9;
    case SF_DATE: return 5;
    case SF_TIMESTAMP: return 9;
    case SF_STRING: return 1 + sf_leb128_size(v->u.s.n) + v->u.s.n;
    case SF_DECIMAL: return 18;
    }
    return 1;
}

static inline void sf_put_le(unsigned char *out, uint64_t x, int nbytes)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (nbytes == 8) {
        memcpy(out, &x, 8); /* one store: GCC -O2 keeps the byte loop */
        return;
    }
#endif
    for (int k = 0; k < nbytes; k++)
        out[k] = (unsigned char)(x >> (8 * k));
}

static inline uint64_t sf_get_le(const unsigned char *p, int nbytes)
{
    uint64_t x = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (nbytes == 8) {
        memcpy(&x, p, 8); /* one load */
        return x;
    }
#endif
    for (int k = 0; k < nbytes; k++)
        x |= (uint64_t)p[k] << (8 * k);
    return x;
}

static inline size_t sf_value_encode(const sf_value *v, unsigned char *out)
{
    out[0] = v->type;
    switch ((sf_type)v->type) {
    case SF_NULL: return 1;
    case SF_BOOL: out[1] = (unsigned char)v->u.b; return 2;
    case SF_INT:
    case SF_TIMESTAMP: sf_put_le(out + 1, (uint64_t)v->u.i, 8); return 9;
    case SF_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.d, 8);
        sf_put_le(out + 1, bits, 8);
        return 9;
    }
    case SF_DATE: sf_put_le(out + 1, (uint32_t)v->u.date, 4); return 5;
    case SF_STRING: {
        size_t n = v->u.s.n, k = 1;
        do {
            unsigned char byte = n & 0x7f;
            n >>= 7;
            out[k++] = byte | (n ? 0x80 : 0);
        } while (n);
        if (v->u.s.n)
            memcpy(out + k, v->u.s.p, v->u.s.n);
        return k + v->u.s.n;
    }
    case SF_DECIMAL:
        out[1] = v->scale;
        sf_put_le(out + 2, v->u.dec.lo, 8);
        sf_put_le(out + 10, (uint64_t)v->u.dec.hi, 8);
        return 18;
    }
    return 1;
}

/* Decodes one value from p (avail bytes). Strings are borrowed from p.
 * Returns bytes used, or 0 if the input is truncated or malformed. */
static inline size_t sf_value_decode(const unsigned char *p, size_t avail, sf_value *v)
{
    if (avail < 1)
        return 0;
    switch ((sf_type)p[0]) {
    case SF_NULL: *v = sf_null(); return 1;
    case SF_BOOL:
        if (avail < 2) return 0;
        *v = sf_bool(p[1]);
        return 2;
    case SF_INT:
        if (avail < 9) return 0;
        *v = sf_int((int64_t)sf_get_le(p + 1, 8));
        return 9;
    case SF_TIMESTAMP:
        if (avail < 9) return 0;
        *v = sf_timestamp((int64_t)sf_get_le(p + 1, 8));
        return 9;
    case SF_DOUBLE: {
        if (avail < 9) return 0;
        uint64_t bits = sf_get_le(p + 1, 8);
        double d;
        memcpy(&d, &bits, 8);
        *v = sf_double(d);
        return 9;
    }
    case SF_DATE:
        if (avail < 5) return 0;
        *v = sf_date((int32_t)(uint32_t)sf_get_le(p + 1, 4));
        return 5;
    case SF_STRING: {
        size_t n = 0, k = 1;
        int shift = 0;
        for (;;) {
            if (k >= avail || shift > 56)
                return 0;
            unsigned char byte = p[k++];
            n |= (size_t)(byte & 0x7f) << shift;
            if (!(byte & 0x80))
                break;
            shift += 7;
        }
        if (n > avail - k)
            return 0;
        *v = sf_string((const char *)p + k, n);
        return k + n;
    }
    case SF_DECIMAL:
        if (avail < 18 || p[1] > SF_DEC_MAX_PREC)
            return 0;
        v->type = SF_DECIMAL;
        v->scale = p[1];
        v->u.dec.lo = sf_get_le(p + 2, 8);
        v->u.dec.hi = (int64_t)sf_get_le(p + 10, 8);
        return 18;
    }
    return 0;
}

#endif
