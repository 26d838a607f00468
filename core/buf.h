/* buf.h - a growable byte buffer (shuffle records, manifests, keys).
 *
 * Growth doubles, so appends are amortized O(1) and a buffer reused across
 * rows stops allocating once it is large enough.
 */
#ifndef SF_BUF_H
#define SF_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sf_buf {
    unsigned char *p;
    size_t n;   /* bytes in use */
    size_t cap; /* bytes allocated */
} sf_buf;

#define SF_BUF_INIT {NULL, 0, 0}

/* Makes room for extra more bytes. Returns 0 or SF_E_NOMEM (b unchanged). */
int sf_buf_reserve(sf_buf *b, size_t extra);

/* Appends n bytes. Returns 0 or SF_E_NOMEM. */
int sf_buf_append(sf_buf *b, const void *p, size_t n);

/* Appends printf-formatted text (no NUL counted; one is kept after the end).
 * Returns 0 or SF_E_NOMEM. */
int sf_buf_printf(sf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string literal (quotes and escapes included); bytes
 * that are not valid UTF-8 become U+FFFD, so the literal is always valid. */
int sf_buf_json_string(sf_buf *b, const char *s, size_t n);

/* Appends n as unsigned LEB128 (7 bits a byte, low first; 1 to 10
 * bytes). Returns 0 or SF_E_NOMEM. */
int sf_buf_put_leb(sf_buf *b, uint64_t n);

/* Reads an unsigned LEB128 number from p (avail bytes) into *n. Returns
 * the bytes it took, or 0 when p holds no complete one of at most 10
 * bytes. Cannot fail otherwise. */
size_t sf_leb_get(const unsigned char *p, size_t avail, uint64_t *n);

/* Frees the memory; b is empty again. */
void sf_buf_free(sf_buf *b);

#endif
