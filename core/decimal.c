/* decimal.c - exact decimal numbers (see decimal.h).
 *
 * Every operation works on the scaled integer; magnitudes are handled as
 * unsigned 128-bit so that the most negative value needs no special case.
 * Nothing here goes through a double except sf_dec_to_double, which goes
 * through the exact text and strtod (correctly rounded).
 */
#include "core/decimal.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fmt.h"

#define U128_MAX (~(sf_u128)0)

static sf_u128 upow10(int k)
{
    sf_u128 r = 1;
    while (k-- > 0)
        r *= 10;
    return r;
}

sf_i128 sf_dec_pow10(int k) { return (sf_i128)upow10(k); }

static sf_u128 mag(sf_i128 v) { return v < 0 ? (sf_u128)0 - (sf_u128)v : (sf_u128)v; }

int sf_dec_fits(sf_i128 v, int prec) { return mag(v) < upow10(prec); }

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int sf_dec_parse(const char *p, size_t n, int prec, int scale, sf_i128 *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && p[i] == '-') {
        neg = 1;
        i++;
    }
    size_t int0 = i;
    while (i < n && is_digit(p[i]))
        i++;
    size_t nint = i - int0;
    if (nint == 0 || (nint > 1 && p[int0] == '0'))
        return SF_E_PARSE;
    size_t frac0 = i, nfrac = 0;
    if (i < n && p[i] == '.') {
        frac0 = ++i;
        while (i < n && is_digit(p[i]))
            i++;
        nfrac = i - frac0;
        if (nfrac == 0)
            return SF_E_PARSE;
    }
    long exp = 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            eneg = p[i++] == '-';
        if (i >= n || !is_digit(p[i]))
            return SF_E_PARSE;
        for (; i < n && is_digit(p[i]); i++) {
            if (exp < 1000000)
                exp = exp * 10 + (p[i] - '0');
        }
        if (eneg)
            exp = -exp;
    }
    if (i != n)
        return SF_E_PARSE;

    /* Mantissa digit j (over the integer then the fraction digits) stands
     * for d * 10^k of the scaled integer, k = nint - 1 - j + exp + scale:
     * digits with k >= 0 build the integer, k == -1 is the rounding digit,
     * the rest only tell whether anything nonzero was cut off. */
    size_t ndig = nint + nfrac;
    long k0 = (long)nint - 1 + exp + scale;
    sf_u128 acc = 0;
    int over = 0, round = 0, sticky = 0;
    for (size_t j = 0; j < ndig; j++) {
        int d = p[j < nint ? int0 + j : frac0 + (j - nint)] - '0';
        long k = k0 - (long)j;
        if (k >= 0) {
            if (acc > (U128_MAX - 9) / 10)
                over = 1;
            else
                acc = acc * 10 + (sf_u128)d;
        } else if (k == -1) {
            round = d;
        } else {
            sticky |= d != 0;
        }
    }
    long klast = k0 - (long)ndig + 1; /* k of the last digit */
    if (klast > 0 && acc != 0) {
        if (klast > 38)
            over = 1;
        else {
            sf_u128 m = upow10((int)klast);
            if (acc > U128_MAX / m)
                over = 1;
            else
                acc *= m;
        }
    }
    if (round > 5 || (round == 5 && (sticky || (acc & 1))))
        acc++;
    if (over || acc >= upow10(prec))
        return SF_E_RANGE;
    *out = neg ? -(sf_i128)acc : (sf_i128)acc;
    return 0;
}

size_t sf_dec_format(sf_i128 v, int scale, char *buf)
{
    char digits[48];
    size_t nd = 0;
    sf_u128 m = mag(v);
    do {
        digits[nd++] = (char)('0' + (int)(m % 10));
        m /= 10;
    } while (m);
    while (nd < (size_t)scale + 1) /* at least one digit before the point */
        digits[nd++] = '0';
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    for (size_t j = nd; j-- > 0;) {
        buf[len++] = digits[j];
        if (j == (size_t)scale && scale > 0)
            buf[len++] = '.';
    }
    buf[len] = '\0';
    return len;
}

/* m / 10^k rounded half to even. */
static sf_u128 div_round(sf_u128 m, sf_u128 den)
{
    sf_u128 q = m / den, r = m % den;
    if (r > den - r || (r == den - r && (q & 1)))
        q++;
    return q;
}

int sf_dec_rescale(sf_i128 v, int from, int to, int prec, sf_i128 *out)
{
    sf_u128 m = mag(v);
    if (to >= from) {
        sf_u128 f = upow10(to - from);
        if (to - from > 38 || (m && m > U128_MAX / f))
            return SF_E_RANGE;
        m *= f;
    } else {
        m = from - to > 38 ? 0 : div_round(m, upow10(from - to));
    }
    if (m >= upow10(prec))
        return SF_E_RANGE;
    *out = v < 0 ? -(sf_i128)m : (sf_i128)m;
    return 0;
}

int sf_dec_cmp(sf_i128 a, int sa, sf_i128 b, int sb)
{
    if ((a < 0) != (b < 0))
        return a < 0 ? -1 : 1;
    int neg = a < 0;
    sf_u128 x = mag(a), y = mag(b);
    /* Bring both to the larger scale; a magnitude that would pass 2^128
     * there is larger than the other one, which fits. */
    if (sa < sb) {
        sf_u128 f = upow10(sb - sa);
        if (x > U128_MAX / f)
            return neg ? -1 : 1;
        x *= f;
    } else if (sb < sa) {
        sf_u128 f = upow10(sa - sb);
        if (y > U128_MAX / f)
            return neg ? 1 : -1;
        y *= f;
    }
    int c = (x > y) - (x < y);
    return neg ? -c : c;
}

double sf_dec_to_double(sf_i128 v, int scale)
{
    char buf[SF_DEC_BUF];
    sf_dec_format(v, scale, buf);
    return strtod(buf, NULL);
}

int sf_dec_from_double(double d, int prec, int scale, sf_i128 *out)
{
    char buf[SF_FMT_BUF];
    if (d != d || d - d != 0)
        return SF_E_PARSE;
    int n = sf_fmt_double(d, buf);
    return sf_dec_parse(buf, (size_t)n, prec, scale, out);
}

void sf_dec_acc_add(sf_dec_acc *a, sf_i128 v)
{
    sf_u128 lo = a->lo + (sf_u128)v;
    a->hi += (lo < a->lo) + (v < 0 ? -1 : 0);
    a->lo = lo;
}

void sf_dec_acc_merge(sf_dec_acc *a, const sf_dec_acc *b)
{
    sf_u128 lo = a->lo + b->lo;
    a->hi += (lo < a->lo) + b->hi;
    a->lo = lo;
}

int sf_dec_acc_get(const sf_dec_acc *a, int prec, sf_i128 *out)
{
    /* The 192-bit value fits an int128 when hi is the sign extension of
     * lo's top bit. */
    sf_i128 v = (sf_i128)a->lo;
    if (a->hi != (v < 0 ? -1 : 0) || !sf_dec_fits(v, prec))
        return SF_E_RANGE;
    *out = v;
    return 0;
}

int sf_dec_mean(sf_i128 sum, int64_t n, int extra, int prec, sf_i128 *out)
{
    sf_u128 m = mag(sum), den = (sf_u128)n;
    sf_u128 q = m / den, r = m % den;
    /* r < n < 2^63 and extra <= 4 in use; for larger extra split it so
     * r * 10^e never passes 2^128. */
    sf_u128 res = q;
    for (int left = extra; left > 0;) {
        int e = left > 18 ? 18 : left;
        sf_u128 fe = upow10(e);
        if (res > U128_MAX / fe)
            return SF_E_RANGE;
        r *= fe; /* r < 2^63, fe <= 10^18 < 2^60: no overflow */
        res = res * fe + r / den;
        r %= den;
        left -= e;
    }
    if (r > den - r || (r == den - r && (res & 1)))
        res++;
    if (res >= upow10(prec))
        return SF_E_RANGE;
    *out = sum < 0 ? -(sf_i128)res : (sf_i128)res;
    return 0;
}

static int checked(sf_i128 v, int overflow, int prec, sf_i128 *out)
{
    if (overflow || !sf_dec_fits(v, prec))
        return SF_E_RANGE;
    *out = v;
    return 0;
}

int sf_dec_add(sf_i128 a, sf_i128 b, int prec, sf_i128 *out)
{
    sf_i128 v;
    int o = __builtin_add_overflow(a, b, &v);
    return checked(v, o, prec, out);
}

int sf_dec_sub(sf_i128 a, sf_i128 b, int prec, sf_i128 *out)
{
    sf_i128 v;
    int o = __builtin_sub_overflow(a, b, &v);
    return checked(v, o, prec, out);
}

int sf_dec_mul(sf_i128 a, sf_i128 b, int prec, sf_i128 *out)
{
    sf_i128 v;
    int o = __builtin_mul_overflow(a, b, &v);
    return checked(v, o, prec, out);
}

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

int sf_dec_type_add(sf_dec_type a, sf_dec_type b, sf_dec_type *out)
{
    int s = imax(a.scale, b.scale);
    int ip = imax(a.prec - a.scale, b.prec - b.scale);
    out->scale = (uint8_t)s;
    out->prec = (uint8_t)imin(SF_DEC_MAX_PREC, ip + s + 1);
    return 0;
}

int sf_dec_type_mul(sf_dec_type a, sf_dec_type b, sf_dec_type *out)
{
    int s = a.scale + b.scale;
    if (s > SF_DEC_MAX_PREC)
        return SF_E_RANGE;
    out->scale = (uint8_t)s;
    out->prec = (uint8_t)imax(s, imin(SF_DEC_MAX_PREC, a.prec + b.prec));
    if (out->prec == 0)
        out->prec = 1;
    return 0;
}

sf_dec_type sf_dec_type_unify(sf_dec_type a, sf_dec_type b)
{
    int s = imax(a.scale, b.scale);
    int ip = imax(a.prec - a.scale, b.prec - b.scale);
    sf_dec_type t = {(uint8_t)imin(SF_DEC_MAX_PREC, ip + s), (uint8_t)s};
    if (t.prec == 0)
        t.prec = 1;
    return t;
}

sf_dec_type sf_dec_type_sum(sf_dec_type a)
{
    sf_dec_type t = {SF_DEC_MAX_PREC, a.scale};
    return t;
}

sf_dec_type sf_dec_type_mean(sf_dec_type a)
{
    sf_dec_type t = {SF_DEC_MAX_PREC,
                     (uint8_t)(a.scale + imin(4, SF_DEC_MAX_PREC - a.prec))};
    return t;
}
