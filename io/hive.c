/* hive.c - partition directory names. */
#include "io/hive.h"

#include <stdio.h>
#include <string.h>

#include "core/value_text.h"

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
        const char *text;
        size_t len = sf_value_text(v, tmp, &text);
        if (v->type == SF_NULL || (v->type == SF_STRING && len == 0))
            rc = sf_buf_printf(out, SF_HIVE_NULL);
        else if (v->type == SF_STRING)
            rc = append_escaped(out, text, len);
        else
            rc = sf_buf_append(out, text, len);
        if (rc)
            return rc;
    }
    return 0;
}
