/* fmt.c - text forms of numbers, dates and sizes.
 *
 * Doubles: the digits are the shortest that read back to the same double,
 * and among those the closest to it, which is what Python's repr() prints.
 * They are found with the C library's correctly rounded "%.*e" and strtod.
 * That a length-p decimal reading back exists is monotonic in p (every
 * p-digit decimal is also a (p+1)-digit one), so the length is found by
 * bisection. The nearest p-digit decimal reads back whenever any does,
 * except just above a power of two, where the gap to the next double below
 * is half the gap above; there the p-digit decimal above is tried too.
 * This assumes the default rounding mode (round to nearest).
 *
 * Dates: days since 1970-01-01, proleptic Gregorian, computed in 400-year
 * eras (146097 days each) so that negative days and years need no special
 * case; March-based years put the leap day last.
 */
#include "core/fmt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* "00" .. "99": digits written two at a time. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* 10^k as integers, k = 0..19 (the largest below 2^64). */
static const uint64_t pow10_u64[20] = {
    1ull,           10ull,           100ull,           1000ull,           10000ull,
    100000ull,      1000000ull,      10000000ull,      100000000ull,      1000000000ull,
    10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull,
    1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull};

static int put_str(char *buf, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf, s, n + 1);
    return (int)n;
}

/* Reads the significand digits and exponent out of "%.*e" output of a
 * positive number: "D.DDDDe+XX" (no point when there is one digit). */
static int split_exp_form(const char *t, char *dig, int *e)
{
    int nd = 0;
    for (; *t && *t != 'e'; t++) {
        if (*t != '.')
            dig[nd++] = *t;
    }
    *e = (int)strtol(t + 1, NULL, 10);
    return nd;
}

/* Value of the decimal 0.DIG... scaled so its first digit has weight
 * 10^e. */
static double digits_value(const char *dig, int nd, int e)
{
    char t[48];
    int k = 0;
    t[k++] = dig[0];
    t[k++] = '.';
    memcpy(t + k, dig + 1, (size_t)(nd - 1));
    k += nd - 1;
    snprintf(t + k, sizeof t - (size_t)k, "e%d", e);
    return strtod(t, NULL);
}

/* Adds one unit in the last place of the nd digits. Returns the new
 * exponent (one higher when 99..9 carries out to 100..0). */
static int digits_increment(char *dig, int nd, int e)
{
    for (int i = nd - 1; i >= 0; i--) {
        if (dig[i] != '9') {
            dig[i]++;
            return e;
        }
        dig[i] = '0';
    }
    dig[0] = '1';
    return e + 1;
}

/* Tries p significant digits for the positive finite a. On success fills
 * dig/e and returns 1. */
static int shortest_try(double a, int p, int pow2, char *dig, int *e)
{
    char t[48];
    snprintf(t, sizeof t, "%.*e", p - 1, a);
    double v = strtod(t, NULL);
    if (v == a) {
        split_exp_form(t, dig, e);
        return 1;
    }
    if (!pow2 || v > a)
        return 0;
    int e2;
    split_exp_form(t, dig, &e2);
    e2 = digits_increment(dig, p, e2);
    if (digits_value(dig, p, e2) != a)
        return 0;
    *e = e2;
    return 1;
}

/* Writes the nd significant digits dig (no trailing zeros; the first has
 * weight 10^e) in repr's layout: fixed for -4 <= e < 16, else scientific. */
static int layout(char *buf, int neg, const char *dig, int nd, int e)
{
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (e >= -4 && e < 16) {
        if (e < 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -e - 1; i++)
                *o++ = '0';
            memcpy(o, dig, (size_t)nd);
            o += nd;
        } else if (e + 1 < nd) {
            memcpy(o, dig, (size_t)(e + 1));
            o += e + 1;
            *o++ = '.';
            memcpy(o, dig + e + 1, (size_t)(nd - e - 1));
            o += nd - e - 1;
        } else {
            memcpy(o, dig, (size_t)nd);
            o += nd;
            for (int i = nd; i < e + 1; i++)
                *o++ = '0';
            *o++ = '.';
            *o++ = '0';
        }
        *o = '\0';
    } else {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        int ae = e < 0 ? -e : e;
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        if (ae >= 100)
            *o++ = (char)('0' + ae / 100);
        *o++ = (char)('0' + ae / 10 % 10);
        *o++ = (char)('0' + ae % 10);
        *o = '\0';
    }
    return (int)(o - buf);
}

static const double pow10_16[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* After p = 0..2 failed: 0 when no p of the loop below can pass, found
 * with one test at the loop's last p (pm, the largest p <= 15 with
 * round(a * 10^p) < 10^15; the rounding is monotonic in p). A decimal of p
 * fraction digits that rounds to a also has pm of them (zeros appended),
 * and round(a * 10^pm) is that decimal times 10^(pm - p) exactly: a's half
 * unit scaled by 10^pm is below 10^15 * 2^-53 < 1/2. So the test at pm
 * passes whenever one at a smaller p does; values of 16 or 17 digits then
 * skip the other dozen tries. */
static int fast_may_pass(double a)
{
    int bexp;
    frexp(a, &bexp); /* a < 2^bexp: e10 is this estimate or one below */
    int pm = 14 - (int)(((int64_t)bexp * 78913) >> 18);
    pm = pm < 0 ? 0 : pm > 15 ? 15 : pm;
    while (pm < 15 && (double)(uint64_t)(a * pow10_16[pm + 1] + 0.5) < 1e15)
        pm++;
    double m = (double)(uint64_t)(a * pow10_16[pm] + 0.5);
    while (pm > 0 && m >= 1e15)
        m = (double)(uint64_t)(a * pow10_16[--pm] + 0.5);
    return m < 1e15 && m / pow10_16[pm] == a;
}

/* The text of m / 10^p (p >= 0; negative when neg): made from its end in
 * t: p fraction digits (one "0" when p is 0), the point, the integer
 * digits (at least one), the sign; then copied out in one fixed-size move
 * (t's end sits 24 bytes before its own, so the move never reads past t;
 * buf has SF_FMT_BUF bytes). No division by a variable 10^p and no copy
 * of a variable length. Returns the length. */
static inline int fixed_text(uint64_t m, int p, int neg, char *buf)
{
    char t[48];
    char *q = t + 24;
    memset(q, 0, 24); /* the NUL, and defined bytes after it */
    if (p == 0)
        *--q = '0';
    for (int k = 0; k < p; k++) {
        *--q = (char)('0' + m % 10);
        m /= 10;
    }
    *--q = '.';
    while (m >= 100) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * (m % 100), 2);
        m /= 100;
    }
    if (m >= 10) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * m, 2);
    } else {
        *--q = (char)('0' + m);
    }
    if (neg)
        *--q = '-';
    memcpy(buf, q, 24);
    return (int)(t + 24 - q);
}

/* Fast path for the common case, decimals with at most 15 significant
 * digits and exponents -4..14. Why it is the shortest repr: if m / 10^p
 * (m < 10^15, so at most 15 significant digits) rounds to d, no decimal
 * with fewer fraction digits does (the first p that works is taken), and
 * no other decimal with p fraction digits does either, since distinct
 * decimals of at most 15 significant digits never round to the same double
 * (DBL_DIG). m is found as round(d * 10^p): for m < 2^50 the product's
 * rounding error is far below one half, and the test (double)m / 10^p == d
 * is exact because m and 10^p are exact doubles and IEEE division rounds
 * correctly, like strtod. Returns 0 when it does not apply. */
static int fmt_double_fast(double d, char *buf)
{
    double a = d < 0 ? -d : d;
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (int p = 0; p < 16; p++) {
        /* floor(x + 0.5) is exact for x < 2^52 and rounds ties up, not to
         * even; that cannot matter: a product within rounding error of
         * k + 0.5 is half a unit from every integer, so no m passes the
         * test below whichever way the tie goes. */
        double m = (double)(uint64_t)(a * pow10_16[p] + 0.5);
        if (m >= 1e15)
            break;
        if (p == 3 && !fast_may_pass(a))
            return 0;
        if (m / pow10_16[p] != a)
            continue;
        return fixed_text((uint64_t)m, p, d < 0, buf);
    }
    return 0;
}

/* Exact path for doubles the fast path leaves (mostly 16 and 17 digits,
 * e.g. means like 47.28333333333333), in [1e-5, 2^53): the shortest
 * decimal found with 128-bit integers instead of snprintf and strtod.
 * With a = M * 2^E (M < 2^53, -69 <= E <= 0) and k significant digits, the
 * k-digit decimals are the integers D near v = a * 10^q, q = k - 1 - e10.
 * Everything is scaled by den = 2^(2-E) * 10^max(-q, 0) so that
 * num = v * den = 4M * 10^max(q, 0) is an integer, and so are the half
 * gaps to the neighbouring doubles: 2 * 10^max(q, 0) above, and below the
 * same or (just above a power of two, where the gap below is half) half of
 * it. D reads back to a when D * den lies within them, their ends included
 * when M is even (strtod rounds ties to even). The nearest k-digit decimal
 * is floor(v) or floor(v) + 1: the closer one that reads back is taken, a
 * tie to the even one, as "%.*e" rounds; the length is the least k for
 * which one does (monotonic in k, so bisected as in the reference).
 * Bounds: num < 2^55 * 10^21 < 2^125 and D * den < 10^17 * 2^71 < 2^128. */

typedef unsigned __int128 u128;

static u128 pow10_u128(int k)
{
    static const uint64_t p[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull,
                                   1000000ull, 10000000ull, 100000000ull, 1000000000ull,
                                   10000000000ull, 100000000000ull, 1000000000000ull,
                                   10000000000000ull, 100000000000000ull, 1000000000000000ull,
                                   10000000000000000ull, 100000000000000000ull,
                                   1000000000000000000ull, 10000000000000000000ull};
    return k < 20 ? (u128)p[k] : (u128)p[19] * p[k - 19];
}

typedef struct exact_num {
    uint64_t m;
    int e;    /* a = m * 2^e */
    int e10;  /* 10^e10 <= a < 10^(e10 + 1) */
    int pow2; /* the gap below a is half the gap above */
} exact_num;

/* The k-digit decimal for x, or 0 when none reads back. */
static uint64_t exact_try(const exact_num *x, int k)
{
    int q = k - 1 - x->e10;
    u128 up = 2 * pow10_u128(q > 0 ? q : 0);
    u128 down = x->pow2 ? up / 2 : up;
    u128 num = (u128)(4 * x->m) * pow10_u128(q > 0 ? q : 0);
    u128 den = ((u128)1 << (2 - x->e)) * pow10_u128(q < 0 ? -q : 0);
    u128 lo = num - down, hi = num + up;
    /* den is a power of two unless q < 0: a shift then, not a division. */
    uint64_t d0 = (uint64_t)(q >= 0 ? num >> (2 - x->e) : num / den);
    int even = (x->m & 1) == 0;
    u128 at0 = (u128)d0 * den, at1 = at0 + den;
    int in0 = even ? at0 >= lo : at0 > lo; /* at0 <= num < hi */
    int in1 = even ? at1 <= hi : at1 < hi; /* at1 > num > lo */
    if (in0 && in1) {
        u128 below = num - at0, above = at1 - num;
        if (below != above)
            return below < above ? d0 : d0 + 1;
        return d0 % 2 == 0 ? d0 : d0 + 1;
    }
    return in0 ? d0 : in1 ? d0 + 1 : 0;
}

static int fmt_double_exact(double d, char *buf)
{
    double a = d < 0 ? -d : d;
    if (!(a >= 1e-5 && a < 9007199254740992.0))
        return 0;
    exact_num x;
    int bexp;
    double fr = frexp(a, &bexp); /* a = fr * 2^bexp, 0.5 <= fr < 1 */
    x.m = (uint64_t)ldexp(fr, 53);
    x.e = bexp - 53;
    x.pow2 = x.m == (uint64_t)1 << 52;
    /* 2^(bexp-1) <= a < 2^bexp, so floor(bexp * log10(2)) (78913 / 2^18 is
     * log10(2) to 6 digits, enough for these exponents) is e10 or one above
     * it, never below (which would overflow num): the integer part of
     * a * 10^(16 - e10) must have exactly 17 digits. */
    x.e10 = (int)(((int64_t)bexp * 78913) >> 18);
    for (int fix = 0; fix < 2; fix++) {
        int q = 16 - x.e10;
        u128 num = (u128)(4 * x.m) * pow10_u128(q > 0 ? q : 0);
        u128 den = ((u128)1 << (2 - x.e)) * pow10_u128(q < 0 ? -q : 0);
        u128 ip = q >= 0 ? num >> (2 - x.e) : num / den;
        if (ip >= pow10_u128(17))
            x.e10++;
        else if (ip < pow10_u128(16))
            x.e10--;
        else
            break;
    }
    /* Called after the fast path: in [1, 1e15) it has ruled out every
     * length up to 15 (a decimal of at most 15 digits there has at most
     * 14 after the point), so the search starts at 16. */
    int lo = a >= 1.0 && a < 1e15 ? 16 : 1, hi = 17;
    uint64_t best = 0;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        uint64_t got = exact_try(&x, mid);
        if (got) {
            hi = mid;
            best = got;
        } else {
            lo = mid + 1;
        }
    }
    if (!best) /* no length below 17 read back */
        best = exact_try(&x, 17);
    if (!best)
        return 0; /* cannot happen: 17 digits always read back */
    /* best has lo digits, or lo + 1 when floor(v) + 1 carried to 10^lo. */
    int e = x.e10;
    char dig[24];
    int nd = 0;
    if ((u128)best >= pow10_u128(lo)) {
        e++;
        dig[nd++] = '1';
    } else {
        nd = lo;
        uint64_t u = best;
        for (int k = nd; k >= 2; k -= 2, u /= 100)
            memcpy(dig + k - 2, digit_pairs + 2 * (u % 100), 2);
        if (nd & 1)
            dig[0] = (char)('0' + u);
    }
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    return layout(buf, d < 0, dig, nd, e);
}

int sf_fmt_double(double d, char *buf)
{
    if (d == 0.0) { /* sums and counts of nothing: common */
        memcpy(buf, signbit(d) ? "-0.0" : "0.0", signbit(d) ? 5 : 4);
        return signbit(d) ? 4 : 3;
    }
    int n = fmt_double_fast(d, buf);
    if (!n)
        n = fmt_double_exact(d, buf);
    return n ? n : sf_fmt_double_reference(d, buf);
}

/* m = round(a * 10^places) is the decimal itself: a is within half a unit
 * of m / 10^places, m < 10^15, so the product's error is below
 * 10^15 * 2^-52 < 1/2. Its trailing zeros go; what is left is the
 * shortest repr by the argument of fmt_double_fast, written the same way.
 * Values below 1e-4 (scientific) and zeros go to sf_fmt_double. */
int sf_fmt_double_places(double d, int places, char *buf)
{
    double a = d < 0 ? -d : d;
    if (places < 1 || places > 15 || !(a < 1e15))
        return sf_fmt_double(d, buf);
    uint64_t m = (uint64_t)(a * pow10_16[places] + 0.5);
    if (m == 0 || (places > 4 && m < pow10_u64[places - 4]))
        return sf_fmt_double(d, buf);
    while (places > 0 && m % 10 == 0) {
        m /= 10;
        places--;
    }
    return fixed_text(m, places, d < 0, buf);
}

int sf_fmt_double_reference(double d, char *buf)
{
    if (isnan(d))
        return put_str(buf, "nan");
    if (isinf(d))
        return put_str(buf, d > 0 ? "inf" : "-inf");
    if (d == 0.0)
        return put_str(buf, signbit(d) ? "-0.0" : "0.0");

    double a = fabs(d);
    int bexp;
    int pow2 = frexp(a, &bexp) == 0.5;
    char dig[24];
    char cand[24];
    int e = 0;
    int best = 0; /* length whose digits dig/e hold */
    int lo = 1, hi = 17; /* 17 digits always read back */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int ce;
        if (shortest_try(a, mid, pow2, cand, &ce)) {
            hi = mid;
            best = mid;
            memcpy(dig, cand, (size_t)mid);
            e = ce;
        } else {
            lo = mid + 1;
        }
    }
    if (best != lo)
        shortest_try(a, lo, pow2, dig, &e);
    int nd = lo;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;

    return layout(buf, d < 0, dig, nd, e);
}


/* Digits of u, counted first so they are written in place from the end,
 * two at a time. The count comes from the bit length: t = floor(bits *
 * log10(2)) (1233 / 4096 is close enough below 2^64) is the count or one
 * less, decided by one compare (u | 1 so that 0 has one digit; every
 * power of ten above 1 is even, so the compare is u's own). */
int sf_fmt_int(int64_t i, char *buf)
{
    /* Negate in unsigned arithmetic so INT64_MIN needs no special case. */
    uint64_t u = i < 0 ? 0u - (uint64_t)i : (uint64_t)i;
    int t = ((64 - __builtin_clzll(u | 1)) * 1233) >> 12;
    int n = t + ((u | 1) >= pow10_u64[t]);
    char *o = buf;
    if (i < 0)
        *o++ = '-';
    char *p = o + n;
    *p = '\0';
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    return (int)(o - buf) + n;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Floor division for a positive divisor. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Days since 1970-01-01 of a valid civil date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t ym = m <= 2 ? y - 1 : y; /* year starting in March */
    int64_t era = floor_div(ym, 400);
    int64_t yoe = ym - era * 400;                                /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* 0..146096 */
    return era * 146097 + doe - 719468; /* 719468: 0000-03-01 to 1970-01-01 */
}

int sf_date_from_ymd(int y, int m, int d, int32_t *days)
{
    if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return SF_E_RANGE;
    int64_t v = days_from_civil(y, m, d);
    if (v < INT32_MIN || v > INT32_MAX)
        return SF_E_RANGE;
    *days = (int32_t)v;
    return 0;
}

void sf_date_to_ymd(int32_t days, int *y, int *m, int *d)
{
    int64_t z = (int64_t)days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                        /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                 /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                      /* 0 = March */
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t yy = yoe + era * 400 + (mm <= 2);
    *y = (int)yy;
    *m = mm;
    *d = dd;
}

static char *put_digits(char *o, int64_t v, int width)
{
    char t[24];
    int k = 0;
    do {
        t[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k < width)
        t[k++] = '0';
    while (k > 0)
        *o++ = t[--k];
    return o;
}

int sf_fmt_date(int32_t days, char *buf)
{
    int y, m, d;
    sf_date_to_ymd(days, &y, &m, &d);
    char *o = buf;
    if (y >= 0 && y <= 9999) {
        o = put_digits(o, y, 4);
    } else {
        *o++ = y < 0 ? '-' : '+';
        o = put_digits(o, y < 0 ? -(int64_t)y : y, 5);
    }
    *o++ = '-';
    o = put_digits(o, m, 2);
    *o++ = '-';
    o = put_digits(o, d, 2);
    *o = '\0';
    return (int)(o - buf);
}

int sf_date_from_unix(int64_t secs, int32_t *days)
{
    int64_t v = floor_div(secs, 86400);
    if (v < INT32_MIN || v > INT32_MAX)
        return SF_E_RANGE;
    *days = (int32_t)v;
    return 0;
}

/* Reads exactly k digits at p[*at]; returns -1 if any is not a digit. */
static int iso_digits(const char *p, size_t n, size_t *at, int k)
{
    if (n - *at < (size_t)k)
        return -1;
    int v = 0;
    for (int i = 0; i < k; i++) {
        char c = p[*at + (size_t)i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *at += (size_t)k;
    return v;
}

static int iso_char(const char *p, size_t n, size_t *at, char c)
{
    if (*at < n && p[*at] == c) {
        (*at)++;
        return 1;
    }
    return 0;
}

/* YYYY-MM-DD at p[*at...], a valid calendar date: its day number in *day
 * and *at past it. Returns 0 or SF_E_PARSE. */
static int iso_ymd(const char *p, size_t n, size_t *at, int32_t *day)
{
    int y = iso_digits(p, n, at, 4);
    if (y < 0 || !iso_char(p, n, at, '-'))
        return SF_E_PARSE;
    int m = iso_digits(p, n, at, 2);
    if (m < 0 || !iso_char(p, n, at, '-'))
        return SF_E_PARSE;
    int d = iso_digits(p, n, at, 2);
    if (d < 0 || sf_date_from_ymd(y, m, d, day) != 0)
        return SF_E_PARSE;
    return 0;
}

/* "THH:MM" (or " HH:MM") at p[*at...]: hours and minutes, *at past them.
 * Returns 0 or SF_E_PARSE. */
static int iso_hm(const char *p, size_t n, size_t *at, int *hh, int *mi)
{
    if (*at >= n || (p[*at] != 'T' && p[*at] != ' '))
        return SF_E_PARSE;
    (*at)++;
    *hh = iso_digits(p, n, at, 2);
    if (*hh < 0 || *hh > 23 || !iso_char(p, n, at, ':'))
        return SF_E_PARSE;
    *mi = iso_digits(p, n, at, 2);
    return *mi < 0 || *mi > 59 ? SF_E_PARSE : 0;
}

/* An optional zone at p[*at...]: "Z", "+HH:MM", "-HHMM" or nothing (UTC):
 * *offset minutes east of UTC, *at past it. Returns 0 or SF_E_PARSE. */
static int iso_zone(const char *p, size_t n, size_t *at, int *offset)
{
    *offset = 0;
    if (iso_char(p, n, at, 'Z') || *at >= n || (p[*at] != '+' && p[*at] != '-'))
        return 0;
    int sign = p[*at] == '-' ? -1 : 1;
    (*at)++;
    int oh = iso_digits(p, n, at, 2);
    if (oh < 0 || oh > 23)
        return SF_E_PARSE;
    iso_char(p, n, at, ':');
    int om = iso_digits(p, n, at, 2);
    if (om < 0 || om > 59)
        return SF_E_PARSE;
    *offset = sign * (oh * 60 + om);
    return 0;
}

int sf_parse_iso_date(const char *p, size_t n, int32_t *days)
{
    size_t at = 0;
    int32_t day;
    if (iso_ymd(p, n, &at, &day) != 0)
        return SF_E_PARSE;
    if (at == n) {
        *days = day;
        return 0;
    }
    int hh, mi;
    if (iso_hm(p, n, &at, &hh, &mi) != 0)
        return SF_E_PARSE;
    if (iso_char(p, n, &at, ':')) {
        int ss = iso_digits(p, n, &at, 2);
        if (ss < 0 || ss > 60) /* 60: a leap second */
            return SF_E_PARSE;
        if (iso_char(p, n, &at, '.') || iso_char(p, n, &at, ',')) {
            size_t start = at;
            while (at < n && p[at] >= '0' && p[at] <= '9')
                at++;
            if (at == start)
                return SF_E_PARSE;
        }
    }
    int offset; /* minutes east of UTC */
    if (iso_zone(p, n, &at, &offset) != 0 || at != n)
        return SF_E_PARSE;
    /* Seconds cannot move the date: the offset is in whole minutes. */
    int utc = hh * 60 + mi - offset;
    int64_t v = (int64_t)day + (utc < 0 ? -1 : utc >= 24 * 60 ? 1 : 0);
    if (v < INT32_MIN || v > INT32_MAX)
        return SF_E_PARSE;
    *days = (int32_t)v;
    return 0;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int sf_parse_size(const char *text, uint64_t *out)
{
    if (!text)
        return SF_E_PARSE;
    const char *s = text;
    uint64_t v = 0;
    int range = 0;
    if (*s < '0' || *s > '9')
        return SF_E_PARSE;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            range = 1;
    }
    unsigned shift = 0;
    switch (lower(*s)) {
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: break;
    }
    if (shift) {
        s++;
        if (lower(*s) == 'i') {
            s++;
            if (lower(*s) != 'b')
                return SF_E_PARSE;
        }
    }
    if (lower(*s) == 'b')
        s++;
    if (*s != '\0')
        return SF_E_PARSE;
    if (range || (shift && v > (UINT64_MAX >> shift)))
        return SF_E_RANGE;
    *out = v << shift;
    return 0;
}

int sf_parse_int64(const char *p, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (p[i] == '-' || p[i] == '+')) {
        neg = p[i] == '-';
        i++;
    }
    if (i == n)
        return SF_E_PARSE;
    /* Accumulate as a negative number: its range includes INT64_MIN. */
    int64_t v = 0;
    int range = 0;
    for (; i < n; i++) {
        char c = p[i];
        if (c < '0' || c > '9')
            return SF_E_PARSE;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_sub_overflow(v, c - '0', &v))
            range = 1;
    }
    if (range || (!neg && v == INT64_MIN))
        return SF_E_RANGE;
    *out = neg ? v : -v;
    return 0;
}

/* Checks that p[0..n) is a plain decimal number, "inf", "infinity" or "nan"
 * (any case), optionally signed: the subset of strtod syntax we accept, so
 * hex floats, "nan(...)" and surrounding spaces are rejected. */
static int double_syntax_ok(const char *p, size_t n)
{
    size_t i = 0;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        i++;
    size_t rest = n - i;
    static const char *const words[] = {"inf", "infinity", "nan"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t wl = strlen(words[w]);
        if (rest == wl) {
            size_t k = 0;
            while (k < wl && lower((unsigned char)p[i + k]) == words[w][k])
                k++;
            if (k == wl)
                return 1;
        }
    }
    size_t digits = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        i++;
        digits++;
    }
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t ed = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
            ed++;
        }
        if (ed == 0)
            return 0;
    }
    return i == n;
}

int sf_parse_double(const char *p, size_t n, double *out)
{
    if (!double_syntax_ok(p, n))
        return SF_E_PARSE;
    /* strtod needs a terminated string; number texts are short, so the copy
     * lives on the stack and only absurdly long ones pay for a malloc. */
    char small[128];
    char *t = small;
    if (n >= sizeof small) {
        t = malloc(n + 1);
        if (!t)
            return SF_E_NOMEM;
    }
    memcpy(t, p, n);
    t[n] = '\0';
    errno = 0;
    double v = strtod(t, NULL);
    int overflow = errno == ERANGE && isinf(v);
    if (t != small)
        free(t);
    if (overflow)
        return SF_E_RANGE;
    *out = v;
    return 0;
}

/* ---- timestamps ---------------------------------------------------------
 *
 * Microseconds since the epoch in an int64; whole days are limited to
 * SF_TIMESTAMP_MAX_DAYS either way so that a day count times the day length
 * plus the time of day can never overflow. */

int32_t sf_timestamp_date(int64_t us)
{
    return (int32_t)floor_div(us, SF_US_PER_DAY);
}

int sf_fmt_timestamp(int64_t us, char *buf)
{
    int64_t days = floor_div(us, SF_US_PER_DAY);
    int64_t rem = us % SF_US_PER_DAY; /* 0 .. one day, with no product to overflow */
    if (rem < 0)
        rem += SF_US_PER_DAY;
    int o = sf_fmt_date((int32_t)days, buf);
    char *q = buf + o;
    int64_t secs = rem / SF_US_PER_SEC, frac = rem % SF_US_PER_SEC;
    *q++ = 'T';
    q = put_digits(q, secs / 3600, 2);
    *q++ = ':';
    q = put_digits(q, secs / 60 % 60, 2);
    *q++ = ':';
    q = put_digits(q, secs % 60, 2);
    if (frac) {
        *q++ = '.';
        q = put_digits(q, frac, 6);
    }
    *q++ = 'Z';
    *q = '\0';
    return (int)(q - buf);
}

int sf_timestamp_from_unix(int64_t t, int64_t unit_us, int64_t *us)
{
    int64_t v;
    if (__builtin_mul_overflow(t, unit_us, &v))
        return SF_E_RANGE;
    int64_t days = floor_div(v, SF_US_PER_DAY);
    if (days < SF_TIMESTAMP_MIN_DAYS || days > SF_TIMESTAMP_MAX_DAYS)
        return SF_E_RANGE;
    *us = v;
    return 0;
}

int sf_parse_iso_timestamp(const char *p, size_t n, int64_t *us)
{
    size_t at = 0;
    int32_t day;
    if (iso_ymd(p, n, &at, &day) != 0)
        return SF_E_PARSE;
    int64_t tod = 0; /* microseconds into the day, before the offset */
    int offset = 0;  /* minutes east of UTC */
    if (at < n) {
        int hh, mi;
        if (iso_hm(p, n, &at, &hh, &mi) != 0)
            return SF_E_PARSE;
        int ss = 0;
        int64_t frac = 0;
        if (iso_char(p, n, &at, ':')) {
            ss = iso_digits(p, n, &at, 2);
            if (ss < 0 || ss > 59)
                return SF_E_PARSE;
            if (iso_char(p, n, &at, '.') || iso_char(p, n, &at, ',')) {
                int k = 0;
                while (at < n && p[at] >= '0' && p[at] <= '9') {
                    if (++k > 6)
                        return SF_E_PARSE;
                    frac = frac * 10 + (p[at++] - '0');
                }
                if (k == 0)
                    return SF_E_PARSE;
                for (; k < 6; k++)
                    frac *= 10;
            }
        }
        tod = ((int64_t)hh * 3600 + mi * 60 + ss) * SF_US_PER_SEC + frac;
        if (iso_zone(p, n, &at, &offset) != 0 || at != n)
            return SF_E_PARSE;
    }
    if (day < SF_TIMESTAMP_MIN_DAYS || day > SF_TIMESTAMP_MAX_DAYS)
        return SF_E_RANGE;
    *us = (int64_t)day * SF_US_PER_DAY + tod - (int64_t)offset * 60 * SF_US_PER_SEC;
    return 0;
}
