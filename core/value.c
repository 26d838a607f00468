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
