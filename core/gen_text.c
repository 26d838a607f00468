/* gen_text.c - generator draws and number text. */
#include "core/gen_text.h"

#include <string.h>

uint64_t sf_gen_mix64(uint64_t z)
{
    z += SF_GEN_GOLDEN;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sf_gen_draw(uint64_t key, unsigned field, uint64_t n)
{
    uint64_t r = sf_gen_mix64(key + (uint64_t)(field + 1) * SF_GEN_GOLDEN);
    return (uint64_t)(((unsigned __int128)r * n) >> 64);
}

char *sf_gen_put_lit(char *b, const char *s)
{
    size_t n = strlen(s);
    memcpy(b, s, n);
    return b + n;
}

char *sf_gen_put_u64w(char *b, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    while (n)
        *b++ = tmp[--n];
    return b;
}

char *sf_gen_put_u64(char *b, uint64_t v) { return sf_gen_put_u64w(b, v, 1); }

char *sf_gen_put_cents(char *b, int64_t cents)
{
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    if (cents < 0)
        *b++ = '-';
    b = sf_gen_put_u64(b, mag / 100);
    *b++ = '.';
    return sf_gen_put_u64w(b, mag % 100, 2);
}

/* Proleptic Gregorian civil date of a day count, after the era-based method
 * in Howard Hinnant's "chrono-compatible low-level date algorithms". */
char *sf_gen_put_date(char *b, int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    b = sf_gen_put_u64w(b, (uint64_t)y, 4);
    *b++ = '-';
    b = sf_gen_put_u64w(b, (uint64_t)m, 2);
    *b++ = '-';
    return sf_gen_put_u64w(b, (uint64_t)d, 2);
}
