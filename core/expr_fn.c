/* expr_fn.c - scalar functions of the expression language (see expr_fn.h).
 *
 * Rounding of doubles is decided on the exact value: x * 10^n is split into
 * the rounded product and its exact error (fma), so a tie is a tie of the
 * binary value, not of its rounded product (round(2.675, 2) is 2.67, since
 * the double 2.675 lies below the midpoint; round(0.125, 2) is 0.13).
 */
#include "core/expr_fn.h"

#include <math.h>
#include <string.h>

#include "core/decimal.h"
#include "core/error.h"
#include "core/fmt.h"
#include "core/value_text.h"

/* a mod b in [0, b) for b > 0, without a product that could overflow. */
static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

int sf_exprfn_unit_parse(const char *p, size_t n, sf_time_unit *u)
{
    static const struct { const char *name; sf_time_unit u; } units[] = {
        {"year", SF_TU_YEAR}, {"quarter", SF_TU_QUARTER}, {"month", SF_TU_MONTH},
        {"week", SF_TU_WEEK}, {"day", SF_TU_DAY},         {"hour", SF_TU_HOUR},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strlen(units[i].name) == n && memcmp(units[i].name, p, n) == 0) {
            *u = units[i].u;
            return 0;
        }
    }
    return -1;
}

/* ---- strings ---- */

/* First occurrence of needle (nn > 0 bytes) in hay[0..hn), or NULL
 * (memmem is a GNU extension; this is the portable spelling). */
static const char *find(const char *hay, size_t hn, const char *needle, size_t nn)
{
    const char *end = hay + hn;
    while ((size_t)(end - hay) >= nn) {
        const char *q = memchr(hay, needle[0], (size_t)(end - hay) - nn + 1);
        if (!q)
            return NULL;
        if (memcmp(q, needle, nn) == 0)
            return q;
        hay = q + 1;
    }
    return NULL;
}

static int is_lead(char c) { return ((unsigned char)c & 0xC0) != 0x80; }

int64_t sf_exprfn_length(const char *p, size_t n)
{
    int64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += is_lead(p[i]);
    return k;
}

/* Byte offset of character k (0-based) of p[0..n); n when there are no
 * more than k characters. */
static size_t char_offset(const char *p, size_t n, int64_t k)
{
    for (size_t i = 0; i < n; i++) {
        if (is_lead(p[i]) && k-- == 0)
            return i;
    }
    return n;
}

sf_value sf_exprfn_substr(sf_value s, int64_t start, int has_len, int64_t len)
{
    int64_t count = sf_exprfn_length(s.u.s.p, s.u.s.n);
    if (has_len && len < 0)
        return sf_string(s.u.s.p, 0);
    /* 1-based positions [first, end) before clamping to [1, count + 1). */
    int64_t first = start > 0 ? start : start < 0 ? count + start + 1 : 0;
    int64_t end = count + 1, sum;
    if (has_len && !__builtin_add_overflow(first, len, &sum) && sum < end)
        end = sum;
    if (first < 1)
        first = 1;
    if (end <= first)
        return sf_string(s.u.s.p, 0);
    size_t b = char_offset(s.u.s.p, s.u.s.n, first - 1);
    size_t e = end > count ? s.u.s.n : char_offset(s.u.s.p, s.u.s.n, end - 1);
    return sf_string(s.u.s.p + b, e - b);
}

sf_value sf_exprfn_replace(sf_value s, sf_value from, sf_value to, sf_arena *scratch)
{
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, fn = from.u.s.n;
    if (fn == 0 || fn > n)
        return s;
    size_t hits = 0;
    for (const char *q = p; (q = find(q, (size_t)(p + n - q), from.u.s.p, fn)); q += fn)
        hits++;
    if (hits == 0)
        return s;
    size_t outn = n - hits * fn + hits * to.u.s.n;
    char *out = scratch ? sf_arena_alloc(scratch, outn ? outn : 1) : NULL;
    if (!out)
        return sf_null();
    size_t o = 0;
    const char *at = p;
    for (const char *q; (q = find(at, (size_t)(p + n - at), from.u.s.p, fn)); at = q + fn) {
        memcpy(out + o, at, (size_t)(q - at));
        o += (size_t)(q - at);
        if (to.u.s.n)
            memcpy(out + o, to.u.s.p, to.u.s.n);
        o += to.u.s.n;
    }
    memcpy(out + o, at, (size_t)(p + n - at));
    return sf_string(out, outn);
}

sf_value sf_exprfn_split_part(sf_value s, sf_value sep, int64_t k)
{
    const char *p = s.u.s.p, *end = p + s.u.s.n;
    size_t sn = sep.u.s.n;
    if (sn == 0)
        return k == 1 || k == -1 ? s : sf_string(p, 0);
    if (k == 0)
        return sf_string(p, 0);
    if (k < 0) {
        int64_t fields = 1;
        for (const char *q = p; (q = find(q, (size_t)(end - q), sep.u.s.p, sn)); q += sn)
            fields++;
        k = fields + k + 1;
        if (k < 1)
            return sf_string(p, 0);
    }
    const char *b = p;
    for (int64_t i = 1;; i++) {
        const char *q = find(b, (size_t)(end - b), sep.u.s.p, sn);
        if (i == k)
            return sf_string(b, (size_t)((q ? q : end) - b));
        if (!q)
            return sf_string(p, 0);
        b = q + sn;
    }
}

int sf_exprfn_starts_with(sf_value s, sf_value pre)
{
    return pre.u.s.n <= s.u.s.n && (pre.u.s.n == 0 || memcmp(s.u.s.p, pre.u.s.p, pre.u.s.n) == 0);
}

int sf_exprfn_contains(sf_value s, sf_value pat)
{
    return pat.u.s.n == 0 || find(s.u.s.p, s.u.s.n, pat.u.s.p, pat.u.s.n) != NULL;
}

/* ---- numbers ---- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

double sf_exprfn_round_double(double x, int64_t n)
{
    if (!isfinite(x) || n > 22)
        return x;
    double v = fabs(x), r;
    if (n >= 0) {
        double P = pow10_exact[n];
        double hi = v * P;
        /* From 2^52 on, x has no digits below the rounding place that a
         * double could keep: the result is x. */
        if (!(hi < 4503599627370496.0))
            return x;
        double lo = fma(v, P, -hi); /* v * P == hi + lo exactly */
        double f = floor(hi);
        /* (hi - f) - 0.5 is exact; the sign of a sum is always right. */
        if (((hi - f) - 0.5) + lo >= 0)
            f += 1;
        r = f / P;
    } else {
        /* 10^309 is beyond every finite double, so every place count
         * below -308 (INT64_MIN among them, which -n cannot negate)
         * rounds to zero. */
        if (n < -308)
            return copysign(0.0, x);
        double P = n >= -22 ? pow10_exact[-n] : pow(10.0, (double)-n);
        if (isinf(P))
            return copysign(0.0, x);
        double rem = fmod(v, P); /* exact */
        r = v - rem;
        if (rem * 2 >= P)
            r += P;
    }
    return copysign(r, x);
}

int sf_exprfn_round_int(int64_t x, int64_t n, int64_t *out)
{
    if (n >= 0) {
        *out = x;
        return 0;
    }
    if (n < -38) {
        *out = 0;
        return 0;
    }
    __int128 P = 1;
    for (int64_t i = 0; i < -n; i++)
        P *= 10;
    __int128 q = (__int128)x / P, rem = (__int128)x % P;
    if ((rem < 0 ? -rem : rem) * 2 >= P)
        q += x < 0 ? -1 : 1;
    __int128 r = q * P;
    if (r < INT64_MIN || r > INT64_MAX)
        return -1;
    *out = (int64_t)r;
    return 0;
}

int sf_exprfn_round_dec(sf_i128 v, int scale, int64_t n, sf_dec_round mode, int to, int prec,
                        sf_i128 *out)
{
    sf_i128 q = v;   /* the rounded value ... */
    int64_t at = scale; /* ... at this scale */
    if (n < scale) {
        at = n;
        /* Digits dropped; beyond 38 of them |v| / 10^k < 0.1. */
        if (n < (int64_t)scale - SF_DEC_MAX_PREC) {
            q = mode == SF_DR_FLOOR && v < 0 ? -1 : mode == SF_DR_CEIL && v > 0 ? 1 : 0;
        } else {
            sf_i128 P = sf_dec_pow10(scale - (int)n), r = v % P;
            q = v / P; /* truncated towards zero */
            if (mode == SF_DR_HALF_AWAY) {
                sf_i128 m = r < 0 ? -r : r;
                if (m >= P - m) /* 2 * |r| >= P, without overflow at P = 10^38 */
                    q += v < 0 ? -1 : 1;
            } else if (mode == SF_DR_FLOOR && r < 0) {
                q -= 1;
            } else if (mode == SF_DR_CEIL && r > 0) {
                q += 1;
            }
        }
    }
    if (to < at)
        return -1;
    if (q != 0) {
        if (to - at > SF_DEC_MAX_PREC ||
            __builtin_mul_overflow(q, sf_dec_pow10((int)(to - at)), &q) || !sf_dec_fits(q, prec))
            return -1;
    }
    *out = q;
    return 0;
}

/* ---- dates and timestamps ---- */

int64_t sf_exprfn_date_part(int32_t days, sf_date_part part)
{
    int y, m, d;
    switch (part) {
    case SF_DP_HOUR: return 0;
    case SF_DP_DOW: return floor_mod((int64_t)days + 4, 7); /* 1970-01-01: Thursday */
    default: break;
    }
    sf_date_to_ymd(days, &y, &m, &d);
    return part == SF_DP_YEAR ? y : part == SF_DP_MONTH ? m : d;
}

int64_t sf_exprfn_ts_part(int64_t us, sf_date_part part)
{
    if (part == SF_DP_HOUR)
        return floor_mod(us, SF_US_PER_DAY) / (3600 * SF_US_PER_SEC);
    return sf_exprfn_date_part(sf_timestamp_date(us), part);
}

int sf_exprfn_date_trunc(int32_t days, sf_time_unit u, int32_t *out)
{
    int y, m, d;
    switch (u) {
    case SF_TU_DAY:
    case SF_TU_HOUR:
        *out = days;
        return 0;
    case SF_TU_WEEK: {
        int64_t v = (int64_t)days - floor_mod((int64_t)days + 3, 7); /* Monday: 0 */
        if (v < INT32_MIN)
            return -1;
        *out = (int32_t)v;
        return 0;
    }
    default:
        break;
    }
    sf_date_to_ymd(days, &y, &m, &d);
    if (u == SF_TU_YEAR)
        m = 1;
    else if (u == SF_TU_QUARTER)
        m = (m - 1) / 3 * 3 + 1;
    return sf_date_from_ymd(y, m, 1, out) == 0 ? 0 : -1;
}

int sf_exprfn_ts_trunc(int64_t us, sf_time_unit u, int64_t *out)
{
    const int64_t hour = 3600 * SF_US_PER_SEC;
    if (u == SF_TU_HOUR) {
        *out = us - floor_mod(us, hour);
        return 0;
    }
    int32_t days;
    if (sf_exprfn_date_trunc(sf_timestamp_date(us), u, &days) != 0 ||
        days < SF_TIMESTAMP_MIN_DAYS - 7)
        return -1;
    return __builtin_mul_overflow((int64_t)days, SF_US_PER_DAY, out) ? -1 : 0;
}

long sf_exprfn_format_check(const char *fmt, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fmt[i] != '%')
            continue;
        if (i + 1 >= n || !strchr("YmdHMSfjuw%", fmt[i + 1]) || fmt[i + 1] == '\0')
            return (long)i;
        i++;
    }
    return -1;
}

static char *put_num(char *o, int64_t v, int width)
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

sf_value sf_exprfn_format_ts(int64_t us, const char *fmt, size_t n, sf_arena *scratch)
{
    /* No conversion writes more than three bytes per format byte ("%Y"
     * gives at most "+12345"). */
    char *out = scratch ? sf_arena_alloc(scratch, 3 * n + 1) : NULL;
    if (!out)
        return sf_null();
    int32_t days = sf_timestamp_date(us);
    int64_t tod = floor_mod(us, SF_US_PER_DAY);
    int64_t secs = tod / SF_US_PER_SEC;
    int y, m, d;
    sf_date_to_ymd(days, &y, &m, &d);
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        if (fmt[i] != '%' || i + 1 >= n) {
            *o++ = fmt[i];
            continue;
        }
        switch (fmt[++i]) {
        case 'Y':
            if (y >= 0 && y <= 9999) {
                o = put_num(o, y, 4);
            } else {
                *o++ = y < 0 ? '-' : '+';
                o = put_num(o, y < 0 ? -(int64_t)y : y, 5);
            }
            break;
        case 'm': o = put_num(o, m, 2); break;
        case 'd': o = put_num(o, d, 2); break;
        case 'H': o = put_num(o, secs / 3600, 2); break;
        case 'M': o = put_num(o, secs / 60 % 60, 2); break;
        case 'S': o = put_num(o, secs % 60, 2); break;
        case 'f': o = put_num(o, tod % SF_US_PER_SEC, 6); break;
        case 'j': {
            int32_t jan1;
            sf_date_from_ymd(y, 1, 1, &jan1);
            o = put_num(o, (int64_t)days - jan1 + 1, 3);
            break;
        }
        case 'u': {
            int64_t w = sf_exprfn_date_part(days, SF_DP_DOW);
            o = put_num(o, w == 0 ? 7 : w, 1);
            break;
        }
        case 'w': o = put_num(o, sf_exprfn_date_part(days, SF_DP_DOW), 1); break;
        default: *o++ = fmt[i]; break; /* '%%'; others were refused by the check */
        }
    }
    return sf_string(out, (size_t)(o - out));
}

/* ---- cast ---- */

static int numeric_like(sf_type t)
{
    return t == SF_BOOL || t == SF_INT || t == SF_DOUBLE || t == SF_DECIMAL;
}

/* s without surrounding ASCII spaces and tabs (borrowed). */
static void trim_blanks(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

int sf_exprfn_cast_ok(sf_type from, sf_type to)
{
    if (from == to || to == SF_STRING || from == SF_STRING)
        return 1;
    if (numeric_like(from) && numeric_like(to))
        return 1;
    return (from == SF_DATE || from == SF_TIMESTAMP) && (to == SF_DATE || to == SF_TIMESTAMP);
}

int sf_exprfn_cast(sf_value v, sf_type to, sf_arena *scratch, sf_value *out)
{
    sf_type from = (sf_type)v.type;
    if (to == SF_DECIMAL)
        return -1; /* needs precision and scale: sf_exprfn_cast_dec */
    if (from == to) {
        *out = v;
        return 0;
    }
    if (to == SF_STRING) {
        char buf[SF_FMT_BUF];
        size_t n = sf_value_text_format(&v, buf);
        char *p = scratch ? sf_arena_memdup(scratch, buf, n) : NULL;
        if (!p)
            return -1;
        *out = sf_string(p, n);
        return 0;
    }
    switch (from) {
    case SF_STRING: {
        const char *p = v.u.s.p;
        size_t n = v.u.s.n;
        trim_blanks(&p, &n);
        return sf_value_text_parse(p, n, to, out) == 0 ? 0 : -1;
    }
    case SF_DECIMAL: {
        sf_i128 w = sf_decimal_get(&v);
        if (to == SF_BOOL) {
            *out = sf_bool(w != 0);
        } else if (to == SF_DOUBLE) {
            *out = sf_double(sf_dec_to_double(w, v.scale));
        } else {
            if (sf_dec_rescale(w, v.scale, 0, SF_DEC_MAX_PREC, &w) != 0 || w < INT64_MIN ||
                w > INT64_MAX)
                return -1;
            *out = sf_int((int64_t)w);
        }
        return 0;
    }
    case SF_BOOL:
        *out = to == SF_INT ? sf_int(v.u.b) : sf_double(v.u.b);
        return 0;
    case SF_INT:
        *out = to == SF_BOOL ? sf_bool(v.u.i != 0) : sf_double((double)v.u.i);
        return 0;
    case SF_DOUBLE: {
        double d = v.u.d;
        if (d != d)
            return -1;
        if (to == SF_BOOL) {
            *out = sf_bool(d != 0);
            return 0;
        }
        double r = round(d); /* half away from zero */
        if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0))
            return -1;
        *out = sf_int((int64_t)r);
        return 0;
    }
    case SF_DATE:
        if (v.u.date < SF_TIMESTAMP_MIN_DAYS || v.u.date > SF_TIMESTAMP_MAX_DAYS)
            return -1;
        *out = sf_timestamp((int64_t)v.u.date * SF_US_PER_DAY);
        return 0;
    case SF_TIMESTAMP:
        *out = sf_date(sf_timestamp_date(v.u.i));
        return 0;
    default:
        return -1;
    }
}

int sf_exprfn_cast_dec(sf_value v, sf_dec_type to, sf_value *out)
{
    sf_i128 w;
    int rc;
    switch (v.type) {
    case SF_BOOL:
        rc = sf_dec_rescale(v.u.b ? 1 : 0, 0, to.scale, to.prec, &w);
        break;
    case SF_INT:
        rc = sf_dec_rescale(v.u.i, 0, to.scale, to.prec, &w);
        break;
    case SF_DOUBLE:
        rc = sf_dec_from_double(v.u.d, to.prec, to.scale, &w);
        break;
    case SF_DECIMAL:
        rc = sf_dec_rescale(sf_decimal_get(&v), v.scale, to.scale, to.prec, &w);
        break;
    case SF_STRING: {
        const char *p = v.u.s.p;
        size_t n = v.u.s.n;
        trim_blanks(&p, &n);
        rc = n ? sf_dec_parse(p, n, to.prec, to.scale, &w) : SF_E_PARSE;
        break;
    }
    default:
        return -1;
    }
    if (rc != 0)
        return -1;
    *out = sf_decimal(w, to.scale);
    return 0;
}
