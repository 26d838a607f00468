/* hive.c - partition directory names, written and parsed. */
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
        else if (v->type == SF_STRING || v->type == SF_TIMESTAMP) /* ':' */
            rc = append_escaped(out, text, len);
        else
            rc = sf_buf_append(out, text, len);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- parsing ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Appends p[0..n) with %XX escapes decoded, as sf_hive_dirname wrote them. */
static int unescape(const char *p, size_t n, sf_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 &&
            (lo = hexval(p[i + 2])) >= 0) {
            unsigned char c = (unsigned char)(hi * 16 + lo);
            if (sf_buf_append(out, &c, 1))
                return SF_E_NOMEM;
            i += 2;
        } else if (sf_buf_append(out, &p[i], 1)) {
            return SF_E_NOMEM;
        }
    }
    return 0;
}

int sf_hive_parse(const char *part, sf_hive_parts *kv, sf_error *err)
{
    kv->n = 0;
    kv->text.n = 0;
    const char *p = part;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t clen = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', clen);
        if (!eq)
            return sf_error_set(err, SF_E_PARSE,
                                "partition '%s': component '%.*s' is not key=value", part,
                                (int)clen, p);
        if (kv->n == SF_HIVE_MAX_KEYS)
            return sf_error_set(err, SF_E_LIMIT, "partition '%s': more than %d keys", part,
                                SF_HIVE_MAX_KEYS);
        size_t k = kv->n;
        size_t klen = (size_t)(eq - p), vlen = clen - klen - 1;
        kv->off[2 * k] = kv->text.n;
        if (unescape(p, klen, &kv->text))
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
        kv->len[2 * k] = kv->text.n - kv->off[2 * k];
        kv->null[k] = vlen == strlen(SF_HIVE_NULL) && memcmp(eq + 1, SF_HIVE_NULL, vlen) == 0;
        kv->off[2 * k + 1] = kv->text.n;
        if (!kv->null[k] && unescape(eq + 1, vlen, &kv->text))
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
        kv->len[2 * k + 1] = kv->text.n - kv->off[2 * k + 1];
        kv->n++;
        p += clen;
        if (*p == '/')
            p++;
    }
    return 0;
}

const char *sf_hive_key(const sf_hive_parts *kv, size_t k, size_t *n)
{
    *n = kv->len[2 * k];
    return (const char *)kv->text.p + kv->off[2 * k];
}

const char *sf_hive_value(const sf_hive_parts *kv, size_t k, size_t *n)
{
    *n = kv->len[2 * k + 1];
    return (const char *)kv->text.p + kv->off[2 * k + 1];
}

int sf_hive_same_keys(const sf_hive_parts *a, const sf_hive_parts *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t k = 0; k < a->n; k++) {
        size_t na, nb;
        const char *ka = sf_hive_key(a, k, &na), *kb = sf_hive_key(b, k, &nb);
        if (na != nb || memcmp(ka, kb, na) != 0)
            return 0;
    }
    return 1;
}

void sf_hive_parts_free(sf_hive_parts *kv)
{
    sf_buf_free(&kv->text);
    kv->n = 0;
}
