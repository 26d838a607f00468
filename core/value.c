/* value.c - type names. */
#include "core/value.h"

#include <string.h>

#include "core/decimal.h"
#include "core/error.h"
#include <stdio.h>

const char *sf_type_name(sf_type t)
{
    switch (t) {
    case SF_NULL: return "null";
    case SF_BOOL: return "bool";
    case SF_INT: return "int64";
    case SF_DOUBLE: return "double";
    case SF_STRING: return "string";
    case SF_DATE: return "date";
    case SF_TIMESTAMP: return "timestamp";
    case SF_DECIMAL: return "decimal";
    }
    return "unknown";
}

int sf_type_parse(const char *name, sf_type *t)
{
    static const struct { const char *name; sf_type t; } names[] = {
        {"bool", SF_BOOL},     {"int64", SF_INT},     {"int", SF_INT},
        {"double", SF_DOUBLE}, {"float", SF_DOUBLE},  {"string", SF_STRING},
        {"date", SF_DATE},     {"timestamp", SF_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *t = names[i].t;
            return 0;
        }
    }
    return SF_E_INVAL;
}

int sf_type_parse_full(const char *name, sf_type *t, sf_dec_type *d)
{
    d->prec = d->scale = 0;
    if (strncmp(name, "decimal(", 8) != 0)
        return sf_type_parse(name, t);
    const char *p = name + 8;
    int v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (k == 1)
            while (*p == ' ')
                p++;
        if (*p < '0' || *p > '9')
            return SF_E_INVAL;
        for (int digits = 0; *p >= '0' && *p <= '9'; p++) {
            if (++digits > 2)
                return SF_E_INVAL;
            v[k] = v[k] * 10 + (*p - '0');
        }
        if (*p++ != (k == 0 ? ',' : ')'))
            return SF_E_INVAL;
    }
    if (*p != '\0' || v[0] < 1 || v[0] > SF_DEC_MAX_PREC || v[1] > v[0])
        return SF_E_INVAL;
    *t = SF_DECIMAL;
    d->prec = (uint8_t)v[0];
    d->scale = (uint8_t)v[1];
    return 0;
}

const char *sf_type_format(sf_type t, sf_dec_type d, char *buf)
{
    if (t == SF_DECIMAL)
        snprintf(buf, 24, "decimal(%u,%u)", (unsigned)d.prec, (unsigned)d.scale);
    else
        snprintf(buf, 24, "%s", sf_type_name(t));
    return buf;
}

static int cmp_int_double(int64_t i, double d)
{
    /* Exact comparison: doubles beyond int64 range or with a fraction are
     * handled without rounding i to double. */
    if (d != d)
        return -1; /* NaN sorts last */
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    int64_t t = (int64_t)d; /* truncates toward zero, exact for |d| < 2^63 */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = d - (double)t;
    if (frac > 0)
        return -1;
    if (frac < 0)
        return 1;
    return 0;
}

static int cmp_double(double a, double b)
{
    int an = a != a, bn = b != b;
    if (an || bn)
        return an - bn;
    return (a > b) - (a < b);
}

int sf_value_cmp(const sf_value *a, const sf_value *b)
{
    if (a->type == SF_NULL || b->type == SF_NULL)
        return (b->type == SF_NULL) - (a->type == SF_NULL);
    if (a->type == SF_INT && b->type == SF_DOUBLE)
        return cmp_int_double(a->u.i, b->u.d);
    if (a->type == SF_DOUBLE && b->type == SF_INT)
        return -cmp_int_double(b->u.i, a->u.d);
    if (a->type == SF_DECIMAL && (b->type == SF_DECIMAL || b->type == SF_INT))
        return sf_dec_cmp(sf_decimal_get(a), a->scale,
                          b->type == SF_INT ? (sf_i128)b->u.i : sf_decimal_get(b),
                          b->type == SF_INT ? 0 : b->scale);
    if (a->type == SF_INT && b->type == SF_DECIMAL)
        return sf_dec_cmp((sf_i128)a->u.i, 0, sf_decimal_get(b), b->scale);
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    switch ((sf_type)a->type) {
    case SF_BOOL: return a->u.b - b->u.b;
    case SF_INT: return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    case SF_DOUBLE: return cmp_double(a->u.d, b->u.d);
    case SF_DATE: return (a->u.date > b->u.date) - (a->u.date < b->u.date);
    case SF_TIMESTAMP: return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    case SF_STRING: {
        size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int c = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
    }
    case SF_NULL:
    case SF_DECIMAL: return 0; /* handled above */
    }
    return 0;
}

int sf_value_same(const sf_value *a, const sf_value *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == SF_DOUBLE)
        return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
    if (a->type == SF_DECIMAL) /* same value at the same scale: same bytes */
        return a->scale == b->scale && a->u.dec.lo == b->u.dec.lo && a->u.dec.hi == b->u.dec.hi;
    return sf_value_cmp(a, b) == 0;
}

static size_t leb128_size(size_t n)
{
    size_t k = 1;
    while (n >= 0x80) {
        n >>= 7;
        k++;
    }
    return k;
}

size_t sf_value_encoded_size(const sf_value *v)
{
    switch ((sf_type)v->type) {
    case SF_NULL: return 1;
    case SF_BOOL: return 2;
    case SF_INT:
    case SF_DOUBLE: return 9;
    case SF_DATE: return 5;
    case SF_TIMESTAMP: return 9;
    case SF_STRING: return 1 + leb128_size(v->u.s.n) + v->u.s.n;
    case SF_DECIMAL: return 18;
    }
    return 1;
}

static void put_le(unsigned char *out, uint64_t x, int nbytes)
{
    for (int k = 0; k < nbytes; k++)
        out[k] = (unsigned char)(x >> (8 * k));
}

static uint64_t get_le(const unsigned char *p, int nbytes)
{
    uint64_t x = 0;
    for (int k = 0; k < nbytes; k++)
        x |= (uint64_t)p[k] << (8 * k);
    return x;
}

size_t sf_value_encode(const sf_value *v, unsigned char *out)
{
    out[0] = v->type;
    switch ((sf_type)v->type) {
    case SF_NULL: return 1;
    case SF_BOOL: out[1] = (unsigned char)v->u.b; return 2;
    case SF_INT:
    case SF_TIMESTAMP: put_le(out + 1, (uint64_t)v->u.i, 8); return 9;
    case SF_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.d, 8);
        put_le(out + 1, bits, 8);
        return 9;
    }
    case SF_DATE: put_le(out + 1, (uint32_t)v->u.date, 4); return 5;
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
        put_le(out + 2, v->u.dec.lo, 8);
        put_le(out + 10, (uint64_t)v->u.dec.hi, 8);
        return 18;
    }
    return 1;
}

size_t sf_value_decode(const unsigned char *p, size_t avail, sf_value *v)
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
        *v = sf_int((int64_t)get_le(p + 1, 8));
        return 9;
    case SF_TIMESTAMP:
        if (avail < 9) return 0;
        *v = sf_timestamp((int64_t)get_le(p + 1, 8));
        return 9;
    case SF_DOUBLE: {
        if (avail < 9) return 0;
        uint64_t bits = get_le(p + 1, 8);
        double d;
        memcpy(&d, &bits, 8);
        *v = sf_double(d);
        return 9;
    }
    case SF_DATE:
        if (avail < 5) return 0;
        *v = sf_date((int32_t)(uint32_t)get_le(p + 1, 4));
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
        v->u.dec.lo = get_le(p + 2, 8);
        v->u.dec.hi = (int64_t)get_le(p + 10, 8);
        return 18;
    }
    return 0;
}
