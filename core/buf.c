/* buf.c - growable byte buffer. */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"

int sf_buf_reserve(sf_buf *b, size_t extra)
{
    if (extra <= b->cap - b->n)
        return 0;
    size_t need = b->n + extra;
    if (need < b->n)
        return SF_E_NOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p)
        return SF_E_NOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int sf_buf_append(sf_buf *b, const void *p, size_t n)
{
    if (sf_buf_reserve(b, n) != 0)
        return SF_E_NOMEM;
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

int sf_buf_printf(sf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || sf_buf_reserve(b, (size_t)k + 1) != 0)
        return SF_E_NOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
    return 0;
}

int sf_buf_json_string(sf_buf *b, const char *s, size_t n)
{
    if (sf_buf_reserve(b, n + 2) != 0)
        return SF_E_NOMEM;
    int rc = sf_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = sf_buf_append(b, esc, 2);
        } else if (c < 0x20) {
            rc = sf_buf_printf(b, "\\u%04x", c);
        } else if (c < 0x80) {
            rc = sf_buf_append(b, &s[i], 1);
        } else {
            /* Valid UTF-8 is copied; any other byte becomes U+FFFD, so the
             * output is always a valid JSON string. */
            size_t m = sf_utf8_seq((const unsigned char *)s + i, n - i);
            if (m) {
                rc = sf_buf_append(b, &s[i], m);
                i += m - 1;
            } else {
                rc = sf_buf_append(b, "\xef\xbf\xbd", 3);
            }
        }
    }
    if (rc == 0)
        rc = sf_buf_append(b, "\"", 1);
    return rc;
}

void sf_buf_free(sf_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

int sf_buf_put_leb(sf_buf *b, uint64_t n)
{
    unsigned char tmp[10];
    size_t k = 0;
    do {
        tmp[k] = n & 0x7f;
        n >>= 7;
        tmp[k++] |= n ? 0x80 : 0;
    } while (n);
    return sf_buf_append(b, tmp, k);
}

size_t sf_leb_get(const unsigned char *p, size_t avail, uint64_t *n)
{
    uint64_t x = 0;
    for (size_t k = 0; k < avail && k < 10; k++) {
        x |= (uint64_t)(p[k] & 0x7f) << (7 * k);
        if (!(p[k] & 0x80)) {
            *n = x;
            return k + 1;
        }
    }
    return 0;
}
