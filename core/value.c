/* value.c - type names. */
#include "core/value.h"

#include <string.h>

#include "core/error.h"

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
    case SF_NULL: return 0;
    }
    return 0;
}

int sf_value_same(const sf_value *a, const sf_value *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == SF_DOUBLE)
        return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
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
    }
    return 0;
}
