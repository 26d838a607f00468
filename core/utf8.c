/* utf8.c - UTF-8 validity, cutting and cleaning (see utf8.h). */
#include "core/utf8.h"

#include <string.h>

size_t sf_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < max) {
        size_t m = u[i] < 0x80 ? 1 : sf_utf8_seq(u + i, len - i);
        if (m == 0)
            m = 1; /* an invalid byte is a unit of its own */
        if (i + m > max)
            break;
        i += m;
    }
    return i;
}

size_t sf_utf8_clean(char *s)
{
    unsigned char *u = (unsigned char *)s;
    size_t len = strlen(s), changed = 0;
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t m = sf_utf8_seq(u + i, len - i);
        if (m) {
            i += m;
            continue;
        }
        /* A lead byte whose continuation bytes all remain valid up to the
         * end was cut there: drop it and what follows. */
        size_t need = u[i] >= 0xF0 ? 4 : u[i] >= 0xE0 ? 3 : u[i] >= 0xC2 ? 2 : 0;
        if (need && len - i < need && u[i] < 0xF5) {
            size_t j = i + 1;
            while (j < len && (u[j] & 0xC0) == 0x80)
                j++;
            if (j == len) {
                changed += len - i;
                u[i] = '\0';
                break;
            }
        }
        u[i++] = '?';
        changed++;
    }
    return changed;
}
