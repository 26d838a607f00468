/* utf8.h - UTF-8 helpers for text that is shown to people or written into
 * JSON: messages, samples and quoted values must stay valid UTF-8 even when
 * the input they quote is not, or when a length limit cuts a character.
 *
 * Validity is RFC 3629's (the same rules the JSON decoders apply): no
 * overlong forms, no UTF-16 surrogates, nothing above U+10FFFF.
 */
#ifndef SF_UTF8_H
#define SF_UTF8_H

#include <stddef.h>

/* Length (2-4) of the valid multi-byte sequence at s, of at most avail
 * bytes, whose lead byte is >= 0x80; 0 when it is not one (a stray
 * continuation byte, an overlong form, a surrogate, a code point above
 * U+10FFFF, or a sequence cut by avail). Cannot fail. Inline: the JSON
 * decoder calls it for every non-ASCII byte of a line. */
static inline size_t sf_utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return avail >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (avail < 3)
            return 0;
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c < 0xF5) {
        if (avail < 4)
            return 0;
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80 ? 4
                                                                                           : 0;
    }
    return 0;
}

/* The largest n <= max such that the first n bytes of s (len bytes) do not
 * end inside a valid multi-byte character: where to cut a quote of s. */
size_t sf_utf8_cut(const char *s, size_t len, size_t max);

/* Makes the NUL-terminated s valid UTF-8 in place: a sequence cut by the end
 * of s is dropped, every other byte that does not start a valid sequence
 * becomes '?'. Returns the number of bytes changed or dropped. */
size_t sf_utf8_clean(char *s);

#endif
