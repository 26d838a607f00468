/* bytes.h - short byte copies inline.
 *
 * Group keys, ids and the strings of a row record are a few to a few dozen
 * bytes: a libc memcpy call for each costs more than the copy. These copy
 * up to 32 bytes with two or four overlapping loads and stores.
 */
#ifndef SF_CORE_BYTES_H
#define SF_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* n bytes from src to dst (not overlapping): inline up to 32, memcpy past
 * that. Loads and stores of 4 or 8 bytes that overlap unless n is twice
 * the width, four of 8 from 17 bytes on. */
static inline void sf_bytes_copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    uint64_t a, b, c, e;
    if (n > 32) {
        memcpy(d, s, n);
    } else if (n > 16) {
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        memcpy(&c, s + n - 16, 8);
        memcpy(&e, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + 8, &b, 8);
        memcpy(d + n - 16, &c, 8);
        memcpy(d + n - 8, &e, 8);
    } else if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        memcpy(d, &x, 4);
        memcpy(d + n - 4, &y, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    }
}

#endif
