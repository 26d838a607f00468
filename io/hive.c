/* hive.c - partition directory names. */
#include "io/hive.h"

#include <stdio.h>
#include <string.h>

#include "core/fmt.h"

static int safe_byte(unsigned char c)
{
    if (c < 0x20 || c == 0x7f)
        return 0;
    return !strchr("\"#%'*/:=?\\{}[]^<>|", c);
}

static int append_escaped(sf_buf *out, const char *p, size_t n)
{
    if (n == 1 && p[0] == '.')
        return sf_buf_printf(out, "%%2E");
    if (n == 2 && p[0] == '.' && p[1] == '.')
        return sf_buf_printf(out, "%%2E%%2E");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        int rc = safe_byte(c) ? sf_buf_append(out, &p[i], 1) : sf_buf_printf(out, "%%%02X", c);
        if (rc)
            return rc;
    }
    return 0;
}

int sf_hive_dirname(const char *const *names, const sf_value *values, size_t n, sf_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        const sf_value *v = &values[i];
        int rc = i ? sf_buf_append(out, "/", 1) : 0;
        if (!rc)
            rc = append_escaped(out, names[i], strlen(names[i]));
        if (!rc)
            rc = sf_buf_append(out, "=", 1);
        if (rc)
            return rc;
        char tmp[SF_FMT_BUF];
        switch ((sf_type)v->type) {
        case SF_NULL: rc = sf_buf_printf(out, SF_HIVE_NULL); break;
        case SF_BOOL: rc = sf_buf_printf(out, "%s", v->u.b ? "true" : "false"); break;
        case SF_INT: sf_fmt_int(v->u.i, tmp); rc = sf_buf_printf(out, "%s", tmp); break;
        case SF_DOUBLE: sf_fmt_double(v->u.d, tmp); rc = sf_buf_printf(out, "%s", tmp); break;
        case SF_DATE: sf_fmt_date(v->u.date, tmp); rc = sf_buf_printf(out, "%s", tmp); break;
        case SF_STRING:
            rc = v->u.s.n ? append_escaped(out, v->u.s.p, v->u.s.n)
                          : sf_buf_printf(out, SF_HIVE_NULL);
            break;
        }
        if (rc)
            return rc;
    }
    return 0;
}
