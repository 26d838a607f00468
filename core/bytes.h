/* bytes.h - short byte copies inline.
 *
 * Group keys, ids and the strings of a row record are a few to a few dozen
 * bytes: a libc memcpy call for each costs more than the copy. These copy
 * up to 16 or 32 bytes with two or four overlapping loads and stores.
 */
#ifndef SF_CORE_BYTES_H
#define SF_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* n <= 16 bytes from src to dst (not overlapping): two loads and two
 * stores of 8 or 4 bytes that overlap unless n is 8 or 16 (4 or 8), a byte
 * loop under 4. */
static inline void sf_bytes_copy16(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    }
}

/* A string of 4 to 16 bytes as its first and last words: 8 bytes each
 * from 8 bytes on, else 4 (zero-extended). With n, they cover every byte,
 * so two strings of one length are equal when their words are. */
static inline void sf_bytes_words16(const void *p, size_t n, uint64_t *w0, uint64_t *w1)
{
    const unsigned char *s = p;
    if (n >= 8) {
        memcpy(w0, s, 8);
        memcpy(w1, s + n - 8, 8);
    } else {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        *w0 = a;
        *w1 = b;
    }
}

/* n bytes from src to dst (not overlapping): inline up to 32 (from 17
 * bytes on, the first 16 and the last 16, overlapping), memcpy past
 * that. */
static inline void sf_bytes_copy(void *dst, const void *src, size_t n)
{
    if (n > 32) {
        memcpy(dst, src, n);
    } else if (n > 16) {
        sf_bytes_copy16(dst, src, 16);
        sf_bytes_copy16((unsigned char *)dst + n - 16, (const unsigned char *)src + n - 16, 16);
    } else {
        sf_bytes_copy16(dst, src, n);
    }
}

#endif
