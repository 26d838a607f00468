/* test_fmt.c - number and date text forms. Expected double texts are
 * Python 3.11 repr() output; expected day numbers are Python's
 * (date(y, m, d) - date(1970, 1, 1)).days. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/fmt.h"

static void check_double(double d, const char *expect)
{
    char buf[SF_FMT_BUF];
    memset(buf, 'x', sizeof buf);
    int n = sf_fmt_double(d, buf);
    assert_string_equal(buf, expect);
    assert_int_equal(n, strlen(expect));
}

static void test_double_fixed_notation_like_repr(void **state)
{
    (void)state;
    check_double(354.41, "354.41");
    check_double(0.1 + 0.2, "0.30000000000000004");
    check_double(1e15, "1000000000000000.0");
    check_double(100.0, "100.0");
    check_double(-1.5, "-1.5");
    check_double(0.0001, "0.0001");
    check_double(0.00012, "0.00012");
    check_double(2.0 / 3.0, "0.6666666666666666");
    check_double(9007199254740993.0, "9007199254740992.0");
}

static void test_double_scientific_notation_like_repr(void **state)
{
    (void)state;
    check_double(1e16, "1e+16");
    check_double(1.5e-05, "1.5e-05");
    check_double(1e-05, "1e-05");
    check_double(1e-07, "1e-07");
    check_double(1e22, "1e+22");
    check_double(1e23, "1e+23");
    check_double(1e100, "1e+100");
    check_double(9223372036854775808.0, "9.223372036854776e+18");
    check_double(123456789012345680.0, "1.2345678901234568e+17");
}

static void test_double_extremes_like_repr(void **state)
{
    (void)state;
    check_double(5e-324, "5e-324");
    check_double(-5e-324, "-5e-324");
    check_double(2.2250738585072014e-308, "2.2250738585072014e-308");
    check_double(1.7976931348623157e+308, "1.7976931348623157e+308");
    check_double(-1.7976931348623157e+308, "-1.7976931348623157e+308");
}

static void test_double_power_of_two_uses_shorter_digits_above(void **state)
{
    (void)state;
    /* Just above a power of two the next double below is closer, so the
     * nearest 16-digit decimal does not read back but the one above does. */
    check_double(ldexp(1.0, -24), "5.960464477539063e-08");
    check_double(ldexp(1.0, 89), "6.189700196426902e+26");
    check_double(ldexp(1.0, -1017), "7.120236347223045e-307");
}

static void test_double_zeros_and_non_finite(void **state)
{
    (void)state;
    check_double(0.0, "0.0");
    check_double(-0.0, "-0.0");
    check_double(NAN, "nan");
    check_double(-NAN, "nan");
    check_double(INFINITY, "inf");
    check_double(-INFINITY, "-inf");
}

static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void test_double_text_reads_back_to_same_bits(void **state)
{
    (void)state;
    uint64_t st = 2024;
    for (int i = 0; i < 20000; i++) {
        uint64_t u = rng_next(&st);
        double d;
        memcpy(&d, &u, sizeof d);
        if (!isfinite(d))
            continue;
        char buf[SF_FMT_BUF];
        int n = sf_fmt_double(d, buf);
        double back;
        assert_int_equal(sf_parse_double(buf, (size_t)n, &back), 0);
        assert_memory_equal(&back, &d, sizeof d);
    }
}

static void test_double_sixteen_and_seventeen_digits_like_repr(void **state)
{
    (void)state;
    /* The exact (128-bit) path: values the 15-digit fast path leaves. */
    check_double(1.0 / 3.0, "0.3333333333333333");
    check_double(100.0 / 7.0, "14.285714285714286");
    check_double(0x1.7a44444444444p+5, "47.28333333333333");
    check_double(-0x1.7a44444444444p+5, "-47.28333333333333");
    check_double(9007199254740991.0, "9007199254740991.0");
    check_double(nextafter(1e-5, 0), "9.999999999999999e-06");
    check_double(nextafter(1e-5, 1), "1.0000000000000003e-05");
    check_double(nextafter(1.0, 2), "1.0000000000000002");
    check_double(nextafter(1.0, 0), "0.9999999999999999");
    check_double(ldexp(1.0, -17), "7.62939453125e-06");
    check_double(nextafter(1e15, 0), "999999999999999.9");
}

static void check_like_reference(double d)
{
    char a[SF_FMT_BUF], b[SF_FMT_BUF];
    sf_fmt_double(d, a);
    sf_fmt_double_reference(d, b);
    assert_string_equal(a, b);
}

/* p and the doubles either side of it. */
static void check_neighbours_like_reference(double p)
{
    check_like_reference(p);
    check_like_reference(nextafter(p, 0));
    check_like_reference(nextafter(p, INFINITY));
}

/* Doubles of every binade the exact path covers (and a little beyond),
 * with random mantissas, next to powers of two and ten, and quotients like
 * means: the fast paths must print what the snprintf/strtod search does. */
static void test_double_fast_paths_match_reference(void **state)
{
    (void)state;
    uint64_t st = 4242;
    for (int i = 0; i < 60000; i++) {
        int e = -20 + (int)(rng_next(&st) % 76); /* 2^-20 .. 2^55 */
        double d = ldexp(1.0 + (double)(rng_next(&st) >> 12) / 4503599627370496.0, e);
        check_like_reference(i & 1 ? -d : d);
    }
    for (int k = -20; k < 56; k++)
        check_neighbours_like_reference(ldexp(1.0, k));
    for (int k = -6; k < 17; k++)
        check_neighbours_like_reference(pow(10, k));
    for (int i = 1; i < 20000; i++) {
        check_like_reference(i / 3.0);
        check_like_reference(i / 7.0);
        check_like_reference(i * 0.01 / 9.0);
    }
}

/* One decimal literal (digits m, places fraction digits, negative or not)
 * read as strtod reads it: sf_fmt_double_places must print what
 * sf_fmt_double prints. */
static void check_places(uint64_t m, int places, int neg)
{
    char lit[64], a[SF_FMT_BUF], b[SF_FMT_BUF];
    uint64_t p = 1;
    for (int k = 0; k < places; k++)
        p *= 10;
    snprintf(lit, sizeof lit, "%s%llu.%0*llu", neg ? "-" : "", (unsigned long long)(m / p),
             places, (unsigned long long)(m % p));
    double d = strtod(lit, NULL);
    memset(a, 'x', sizeof a);
    memset(b, 'y', sizeof b);
    int na = sf_fmt_double_places(d, places, a), nb = sf_fmt_double(d, b);
    if (na != nb || strcmp(a, b) != 0)
        fail_msg("%s: places %d gives %s, sf_fmt_double %s", lit, places, a, b);
}

/* Literals of at most 15 significant digits and 1..15 places: prices,
 * trailing zeros, zeros of both signs, values either side of 1e-4 (below
 * it the text is scientific), the largest and smallest of each length. */
static void test_double_from_its_places_matches_the_search(void **state)
{
    (void)state;
    uint64_t st = 777;
    for (int places = 1; places <= 15; places++) {
        for (int digits = 1; digits <= 15; digits++) {
            uint64_t top = 1;
            for (int k = 0; k < digits; k++)
                top *= 10;
            for (int i = 0; i < 400; i++)
                check_places(rng_next(&st) % top, places, i & 1);
            check_places(top - 1, places, 0);
            check_places(top / 10, places, 1);
        }
        check_places(0, places, 0);
        check_places(0, places, 1);
        for (uint64_t m = 1; m < 1000; m++)
            check_places(m, places, 0);
    }
    for (int c = 0; c < 10000; c++) { /* cents, as prices are written */
        check_places((uint64_t)c, 2, 0);
        check_places((uint64_t)c * 10, 3, 0);
    }
    check_places(1, 4, 0);  /* 0.0001 */
    check_places(1, 5, 0);  /* 1e-05 */
    check_places(10, 5, 0); /* 0.00010 */
    check_places(99999999999999ull, 1, 1);
}

static void test_int_texts(void **state)
{
    (void)state;
    char buf[SF_FMT_BUF];
    assert_int_equal(sf_fmt_int(0, buf), 1);
    assert_string_equal(buf, "0");
    assert_int_equal(sf_fmt_int(-42, buf), 3);
    assert_string_equal(buf, "-42");
    assert_int_equal(sf_fmt_int(INT64_MAX, buf), 19);
    assert_string_equal(buf, "9223372036854775807");
    assert_int_equal(sf_fmt_int(INT64_MIN, buf), 20);
    assert_string_equal(buf, "-9223372036854775808");
}

static void test_int_texts_match_printf(void **state)
{
    (void)state;
    uint64_t st = 99;
    char buf[SF_FMT_BUF], want[SF_FMT_BUF];
    for (int k = 0; k < 19; k++) {
        int64_t v = 1; /* 10^k */
        for (int i = 0; i < k; i++)
            v *= 10;
        int64_t c[6] = {v, v - 1, v + 1, -v, -(v - 1), -(v + 1)};
        for (int j = 0; j < 6; j++) {
            snprintf(want, sizeof want, "%lld", (long long)c[j]);
            assert_int_equal(sf_fmt_int(c[j], buf), strlen(want));
            assert_string_equal(buf, want);
        }
    }
    /* Either side of every power of two (the digit count starts from the
     * bit length), and the extremes. */
    for (int k = 0; k < 64; k++) {
        uint64_t v = (uint64_t)1 << k;
        int64_t c[6] = {(int64_t)v, (int64_t)(v - 1), (int64_t)(v + 1), (int64_t)(0 - v),
                        (int64_t)(1 - v), INT64_MAX - (int64_t)(v - 1)};
        for (int j = 0; j < 6; j++) {
            snprintf(want, sizeof want, "%lld", (long long)c[j]);
            assert_int_equal(sf_fmt_int(c[j], buf), strlen(want));
            assert_string_equal(buf, want);
        }
    }
    for (int i = 0; i < 100000; i++) {
        uint64_t u = rng_next(&st) >> (rng_next(&st) % 64);
        int64_t x = (int64_t)(i & 1 ? 0 - u : u); /* INT64_MIN included, no overflow */
        snprintf(want, sizeof want, "%lld", (long long)x);
        assert_int_equal(sf_fmt_int(x, buf), strlen(want));
        assert_string_equal(buf, want);
    }
}

static void check_date(int y, int m, int d, int32_t days, const char *text)
{
    int32_t got = 12345;
    assert_int_equal(sf_date_from_ymd(y, m, d, &got), 0);
    assert_int_equal(got, days);
    int yy, mm, dd;
    sf_date_to_ymd(days, &yy, &mm, &dd);
    assert_int_equal(yy, y);
    assert_int_equal(mm, m);
    assert_int_equal(dd, d);
    char buf[SF_FMT_BUF];
    assert_int_equal(sf_fmt_date(days, buf), strlen(text));
    assert_string_equal(buf, text);
}

static void test_known_dates_match_python(void **state)
{
    (void)state;
    check_date(1970, 1, 1, 0, "1970-01-01");
    check_date(2025, 8, 1, 20301, "2025-08-01");
    check_date(2000, 2, 29, 11016, "2000-02-29");
    check_date(2024, 2, 29, 19782, "2024-02-29");
    check_date(1969, 12, 31, -1, "1969-12-31");
    check_date(1900, 3, 1, -25508, "1900-03-01");
    check_date(1600, 2, 29, -135081, "1600-02-29");
    check_date(1, 1, 1, -719162, "0001-01-01");
    check_date(9999, 12, 31, 2932896, "9999-12-31");
}

static void test_years_outside_four_digits_print_signed(void **state)
{
    (void)state;
    check_date(10000, 1, 1, 2932897, "+10000-01-01");
    check_date(0, 3, 1, -719468, "0000-03-01");
    check_date(0, 1, 1, -719528, "0000-01-01"); /* year 0 is a leap year */
    check_date(-1, 12, 31, -719529, "-00001-12-31");
}

static void test_invalid_civil_dates_are_range_errors(void **state)
{
    (void)state;
    int32_t d = 7;
    assert_int_equal(sf_date_from_ymd(2025, 2, 29, &d), SF_E_RANGE);
    assert_int_equal(sf_date_from_ymd(1900, 2, 29, &d), SF_E_RANGE);
    assert_int_equal(sf_date_from_ymd(2025, 13, 1, &d), SF_E_RANGE);
    assert_int_equal(sf_date_from_ymd(2025, 0, 1, &d), SF_E_RANGE);
    assert_int_equal(sf_date_from_ymd(2025, 4, 31, &d), SF_E_RANGE);
    assert_int_equal(sf_date_from_ymd(2025, 4, 0, &d), SF_E_RANGE);
    assert_int_equal(sf_date_from_ymd(INT_MAX, 1, 1, &d), SF_E_RANGE);
    assert_int_equal(d, 7);
}

static void test_every_day_roundtrips_and_follows_the_previous(void **state)
{
    (void)state;
    int py, pm, pd;
    sf_date_to_ymd(-800001, &py, &pm, &pd);
    for (int32_t days = -800000; days <= 3000000; days++) {
        int y, m, d;
        sf_date_to_ymd(days, &y, &m, &d);
        int32_t back;
        assert_int_equal(sf_date_from_ymd(y, m, d, &back), 0);
        assert_int_equal(back, days);
        if (d != pd + 1) { /* a new month starts on the 1st */
            assert_int_equal(d, 1);
            assert_int_equal(m, pm == 12 ? 1 : pm + 1);
            assert_int_equal(y, pm == 12 ? py + 1 : py);
        } else {
            assert_int_equal(m, pm);
            assert_int_equal(y, py);
        }
        py = y;
        pm = m;
        pd = d;
    }
}

static void test_int32_day_extremes_roundtrip(void **state)
{
    (void)state;
    const int32_t ends[] = {INT32_MIN, INT32_MIN + 1, INT32_MAX - 1, INT32_MAX};
    for (size_t i = 0; i < 4; i++) {
        int y, m, d;
        sf_date_to_ymd(ends[i], &y, &m, &d);
        int32_t back;
        assert_int_equal(sf_date_from_ymd(y, m, d, &back), 0);
        assert_int_equal(back, ends[i]);
        char buf[SF_FMT_BUF];
        int n = sf_fmt_date(ends[i], buf);
        assert_int_equal(buf[0], ends[i] < 0 ? '-' : '+');
        assert_int_equal(n, strlen(buf));
    }
    int y, m, d;
    int32_t out = 4;
    sf_date_to_ymd(INT32_MAX, &y, &m, &d);
    assert_int_equal(sf_date_from_ymd(y + 1, 1, 1, &out), SF_E_RANGE);
    sf_date_to_ymd(INT32_MIN, &y, &m, &d);
    assert_int_equal(sf_date_from_ymd(y - 1, 12, 31, &out), SF_E_RANGE);
    assert_int_equal(out, 4);
}

static void test_unix_seconds_floor_to_utc_date(void **state)
{
    (void)state;
    int32_t d = 0;
    assert_int_equal(sf_date_from_unix(0, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(sf_date_from_unix(86399, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(sf_date_from_unix(86400, &d), 0);
    assert_int_equal(d, 1);
    assert_int_equal(sf_date_from_unix(-1, &d), 0);
    assert_int_equal(d, -1);
    assert_int_equal(sf_date_from_unix(-86400, &d), 0);
    assert_int_equal(d, -1);
    assert_int_equal(sf_date_from_unix(-86401, &d), 0);
    assert_int_equal(d, -2);
    assert_int_equal(sf_date_from_unix(1754006400, &d), 0); /* 2025-08-01T00:00Z */
    assert_int_equal(d, 20301);
    assert_int_equal(sf_date_from_unix(1754006399, &d), 0);
    assert_int_equal(d, 20300);
    d = 5;
    assert_int_equal(sf_date_from_unix(INT64_MAX, &d), SF_E_RANGE);
    assert_int_equal(sf_date_from_unix(INT64_MIN, &d), SF_E_RANGE);
    assert_int_equal(d, 5);
}

static int iso(const char *s, int32_t *d)
{
    return sf_parse_iso_date(s, strlen(s), d);
}

static void test_iso_dates_and_times_give_utc_date(void **state)
{
    (void)state;
    int32_t d = 0;
    assert_int_equal(iso("2025-08-01", &d), 0);
    assert_int_equal(d, 20301);
    assert_int_equal(iso("2024-02-29", &d), 0);
    assert_int_equal(d, 19782);
    assert_int_equal(iso("2025-08-01T12:00", &d), 0);
    assert_int_equal(d, 20301);
    assert_int_equal(iso("2025-08-01T23:59:59.999999Z", &d), 0);
    assert_int_equal(d, 20301);
    assert_int_equal(iso("2025-08-01 12:00:00+05:30", &d), 0);
    assert_int_equal(d, 20301);
    assert_int_equal(iso("2025-08-01T23:30:00-02:00", &d), 0);
    assert_int_equal(d, 20302);
    assert_int_equal(iso("2025-08-01T00:30:00+0100", &d), 0);
    assert_int_equal(d, 20300);
    assert_int_equal(iso("2025-08-01T01:00:00+01:00", &d), 0);
    assert_int_equal(d, 20301);
    assert_int_equal(iso("2025-12-31T23:00-01:00", &d), 0);
    assert_int_equal(d, 20454); /* 2026-01-01 */
    assert_int_equal(iso("1970-01-01T00:00:00+00:01", &d), 0);
    assert_int_equal(d, -1);
}

static void test_iso_parse_reads_only_n_bytes(void **state)
{
    (void)state;
    int32_t d = 0;
    assert_int_equal(sf_parse_iso_date("2025-08-01T23:30:00-02:00", 10, &d), 0);
    assert_int_equal(d, 20301);
    assert_int_equal(sf_parse_iso_date("2025-08-01", 9, &d), SF_E_PARSE);
}

static void test_bad_iso_texts_are_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2025-02-29",
        "2025-13-01",
        "2025-00-10",
        "2025-08-00",
        "2025-04-31",
        "2025-8-01",
        "25-08-01",
        "2025/08/01",
        " 2025-08-01",
        "2025-08-01 ",
        "2025-08-01X",
        "2025-08-01T",
        "2025-08-01T12",
        "2025-08-01T24:00",
        "2025-08-01T12:60",
        "2025-08-01T12:00:61",
        "2025-08-01T12:00:00.",
        "2025-08-01T12:00:00+5",
        "2025-08-01T12:00:00+05:",
        "2025-08-01T12:00:00+25:00",
        "2025-08-01T12:00:00Zjunk",
        "2025-08-01Z",
        "+2025-08-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t d = 77;
        if (iso(bad[i], &d) != SF_E_PARSE)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(d, 77);
    }
}

static void test_sizes_with_binary_suffixes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t value;
    } ok[] = {
        {"0", 0},
        {"4096", 4096},
        {"64M", 67108864},
        {"64m", 67108864},
        {"1K", 1024},
        {"1KiB", 1024},
        {"1kib", 1024},
        {"2MB", 2097152},
        {"3GiB", 3221225472ull},
        {"1T", 1099511627776ull},
        {"100B", 100},
        {"16777215T", 16777215ull << 40},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(sf_parse_size(ok[i].text, &v), 0);
        assert_int_equal(v, ok[i].value);
    }
}

static void test_bad_sizes_are_parse_or_range_errors(void **state)
{
    (void)state;
    static const char *const junk[] = {"", "M", "12X", "1.5G", " 1K", "1K ", "1iB",
                                       "1Ki", "-1", "+1", "1KB2", "1MBB"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        uint64_t v = 9;
        if (sf_parse_size(junk[i], &v) != SF_E_PARSE)
            fail_msg("accepted \"%s\"", junk[i]);
        assert_int_equal(v, 9);
    }
    uint64_t v = 9;
    assert_int_equal(sf_parse_size(NULL, &v), SF_E_PARSE);
    assert_int_equal(sf_parse_size("16777216T", &v), SF_E_RANGE);
    assert_int_equal(sf_parse_size("18446744073709551616", &v), SF_E_RANGE);
    assert_int_equal(sf_parse_size("99999999999999999999999K", &v), SF_E_RANGE);
    assert_int_equal(v, 9);
}

static int i64(const char *s, int64_t *v)
{
    return sf_parse_int64(s, strlen(s), v);
}

static void test_int64_parse_whole_text(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(i64("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(i64("-0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(i64("+5", &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(i64("007", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(i64("9223372036854775807", &v), 0);
    assert_int_equal(v, INT64_MAX);
    assert_int_equal(i64("-9223372036854775808", &v), 0);
    assert_int_equal(v, INT64_MIN);
    assert_int_equal(sf_parse_int64("123456", 3, &v), 0);
    assert_int_equal(v, 123);
}

static void test_int64_bad_texts_and_overflow(void **state)
{
    (void)state;
    static const char *const junk[] = {"", "-", "+", "12a", " 1", "1 ", "1e3", "1.0", "--1", "0x10"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        int64_t v = 3;
        if (i64(junk[i], &v) != SF_E_PARSE)
            fail_msg("accepted \"%s\"", junk[i]);
        assert_int_equal(v, 3);
    }
    int64_t v = 3;
    assert_int_equal(i64("9223372036854775808", &v), SF_E_RANGE);
    assert_int_equal(i64("-9223372036854775809", &v), SF_E_RANGE);
    assert_int_equal(i64("100000000000000000000000", &v), SF_E_RANGE);
    assert_int_equal(v, 3);
}

static int dbl(const char *s, double *v)
{
    return sf_parse_double(s, strlen(s), v);
}

static void test_double_parse_whole_text(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(dbl("354.41", &v), 0);
    assert_true(v == 354.41);
    assert_int_equal(dbl("1.5e-05", &v), 0);
    assert_true(v == 1.5e-05);
    assert_int_equal(dbl("-0.0", &v), 0);
    assert_true(v == 0.0 && signbit(v));
    assert_int_equal(dbl(".5", &v), 0);
    assert_true(v == 0.5);
    assert_int_equal(dbl("5.", &v), 0);
    assert_true(v == 5.0);
    assert_int_equal(dbl("1E+3", &v), 0);
    assert_true(v == 1000.0);
    assert_int_equal(dbl("1e-400", &v), 0); /* underflow rounds, like Python */
    assert_true(v == 0.0);
    assert_int_equal(dbl("5e-324", &v), 0);
    assert_true(v == 5e-324);
    assert_int_equal(dbl("-Infinity", &v), 0);
    assert_true(isinf(v) && v < 0);
    assert_int_equal(dbl("inf", &v), 0);
    assert_true(isinf(v) && v > 0);
    assert_int_equal(dbl("NaN", &v), 0);
    assert_true(isnan(v));
    assert_int_equal(sf_parse_double("2.5e10", 3, &v), 0);
    assert_true(v == 2.5);
}

static void test_double_parse_long_text(void **state)
{
    (void)state;
    char text[400];
    memset(text, '0', sizeof text);
    text[1] = '.';
    text[sizeof text - 1] = '1'; /* 0.000...01 = 1e-398: underflows to 0 */
    double v = 1;
    assert_int_equal(sf_parse_double(text, sizeof text, &v), 0);
    assert_true(v == 0.0);
    text[sizeof text - 1] = '0';
    text[0] = '7';
    assert_int_equal(sf_parse_double(text, sizeof text, &v), 0);
    assert_true(v == 7.0);
}

static void test_double_bad_texts_and_overflow(void **state)
{
    (void)state;
    static const char *const junk[] = {"",      ".",   "e5",     "1e",    "1e+", " 1.0", "1.0 ",
                                       "0x10",  "1,5", "nan(1)", "infin", "--1", "1.0.0", "+"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        double v = 3;
        if (dbl(junk[i], &v) != SF_E_PARSE)
            fail_msg("accepted \"%s\"", junk[i]);
        assert_true(v == 3);
    }
    double v = 3;
    assert_int_equal(dbl("1e400", &v), SF_E_RANGE);
    assert_int_equal(dbl("-1e400", &v), SF_E_RANGE);
    assert_true(v == 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_fixed_notation_like_repr),
        cmocka_unit_test(test_double_scientific_notation_like_repr),
        cmocka_unit_test(test_double_extremes_like_repr),
        cmocka_unit_test(test_double_power_of_two_uses_shorter_digits_above),
        cmocka_unit_test(test_double_zeros_and_non_finite),
        cmocka_unit_test(test_double_text_reads_back_to_same_bits),
        cmocka_unit_test(test_double_sixteen_and_seventeen_digits_like_repr),
        cmocka_unit_test(test_double_fast_paths_match_reference),
        cmocka_unit_test(test_double_from_its_places_matches_the_search),
        cmocka_unit_test(test_int_texts),
        cmocka_unit_test(test_int_texts_match_printf),
        cmocka_unit_test(test_known_dates_match_python),
        cmocka_unit_test(test_years_outside_four_digits_print_signed),
        cmocka_unit_test(test_invalid_civil_dates_are_range_errors),
        cmocka_unit_test(test_every_day_roundtrips_and_follows_the_previous),
        cmocka_unit_test(test_int32_day_extremes_roundtrip),
        cmocka_unit_test(test_unix_seconds_floor_to_utc_date),
        cmocka_unit_test(test_iso_dates_and_times_give_utc_date),
        cmocka_unit_test(test_iso_parse_reads_only_n_bytes),
        cmocka_unit_test(test_bad_iso_texts_are_parse_errors),
        cmocka_unit_test(test_sizes_with_binary_suffixes),
        cmocka_unit_test(test_bad_sizes_are_parse_or_range_errors),
        cmocka_unit_test(test_int64_parse_whole_text),
        cmocka_unit_test(test_int64_bad_texts_and_overflow),
        cmocka_unit_test(test_double_parse_whole_text),
        cmocka_unit_test(test_double_parse_long_text),
        cmocka_unit_test(test_double_bad_texts_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
