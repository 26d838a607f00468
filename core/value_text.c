/* value_text.c - values to text and back (see value_text.h). */
#include "core/value_text.h"

#include <string.h>

#include "core/decimal.h"

size_t sf_value_text_format(const sf_value *v, char *buf)
{
    switch ((sf_type)v->type) {
    case SF_BOOL:
        memcpy(buf, v->u.b ? "true" : "false", v->u.b ? 5 : 6);
        return v->u.b ? 4 : 5;
    case SF_INT: return (size_t)sf_fmt_int(v->u.i, buf);
    case SF_DOUBLE: return (size_t)sf_fmt_double(v->u.d, buf);
    case SF_DATE: return (size_t)sf_fmt_date(v->u.date, buf);
    case SF_TIMESTAMP: return (size_t)sf_fmt_timestamp(v->u.i, buf);
    case SF_DECIMAL: return sf_dec_format(sf_decimal_get(v), v->scale, buf);
    default:
        /* NULL and strings are the caller's; an unknown tag (a bug
         * upstream) also gives "", which keeps columns aligned. */
        buf[0] = '\0';
        return 0;
    }
}

size_t sf_value_text(const sf_value *v, char *buf, const char **p)
{
    if (v->type == SF_STRING) {
        *p = v->u.s.p;
        return v->u.s.n;
    }
    *p = buf;
    return sf_value_text_format(v, buf);
}

int sf_value_text_parse(const char *p, size_t n, sf_type t, sf_value *out)
{
    int32_t days;
    switch (t) {
    case SF_STRING:
        *out = sf_string(p, n);
        return 0;
    case SF_INT:
        out->type = SF_INT;
        return sf_parse_int64(p, n, &out->u.i) == 0 ? 0 : -1;
    case SF_DOUBLE:
        out->type = SF_DOUBLE;
        return sf_parse_double(p, n, &out->u.d) == 0 ? 0 : -1;
    case SF_DATE:
        if (sf_parse_iso_date(p, n, &days) != 0)
            return -1;
        *out = sf_date(days);
        return 0;
    case SF_TIMESTAMP:
        out->type = SF_TIMESTAMP;
        return sf_parse_iso_timestamp(p, n, &out->u.i) == 0 ? 0 : -1;
    case SF_BOOL:
        if (n == 4 && memcmp(p, "true", 4) == 0)
            *out = sf_bool(1);
        else if (n == 5 && memcmp(p, "false", 5) == 0)
            *out = sf_bool(0);
        else
            return -1;
        return 0;
    case SF_DECIMAL: {
        /* The scale is the text's own: the digits after its point. */
        const char *dot = memchr(p, '.', n);
        size_t scale = 0;
        while (dot && dot + 1 + scale < p + n && dot[1 + scale] >= '0' && dot[1 + scale] <= '9')
            scale++;
        sf_i128 x;
        if (scale > SF_DEC_MAX_PREC || sf_dec_parse(p, n, SF_DEC_MAX_PREC, (int)scale, &x) != 0)
            return -1;
        *out = sf_decimal(x, (int)scale);
        return 0;
    }
    case SF_NULL:
        break;
    }
    return -1;
}
