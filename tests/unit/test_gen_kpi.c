/* test_gen_kpi.c - unit tests of the KPI dataset generator: line shape,
 * value ranges, determinism and the rare unknown ids. Lines are checked by
 * parsing them with jansson, independently of how they were printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/gen_kpi.h"

static const sf_gen_kpi_params params = {.seed = 42, .events = 1000000, .users = 1000, .items = 200};

/* Generates a line into a buffer with a guard zone after SF_GEN_LINE_MAX
 * and checks the framing every line must have. Returns the length. */
static size_t gen_checked(size_t (*fn)(const sf_gen_kpi_params *, uint64_t, char *),
                          const sf_gen_kpi_params *p, uint64_t i, char *buf)
{
    memset(buf, 0x7f, SF_GEN_LINE_MAX + 16);
    size_t n = fn(p, i, buf);
    assert_true(n > 2);
    assert_true(n <= SF_GEN_LINE_MAX);
    for (size_t k = n; k < SF_GEN_LINE_MAX + 16; k++)
        assert_int_equal(buf[k], 0x7f);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    assert_null(memchr(buf, '\0', n));
    return n;
}

static json_t *parse_line(const char *buf, size_t n)
{
    json_error_t jerr;
    json_t *doc = json_loadb(buf, n - 1, 0, &jerr);
    if (!doc)
        fail_msg("generated line does not parse: %s: %.*s", jerr.text, (int)n, buf);
    assert_true(json_is_object(doc));
    return doc;
}

static json_int_t get_int(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("field %s is not an integer", key);
    return json_integer_value(v);
}

static const char *get_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("field %s is not a string", key);
    return json_string_value(v);
}

/* Finds the text of a number member in the raw line, to check its form. */
static const char *raw_member(const char *buf, const char *key, size_t *len)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(buf, pat);
    assert_non_null(p);
    p += strlen(pat);
    size_t n = strspn(p, "-0123456789.");
    *len = n;
    return p;
}

/* "-?[1-9][0-9]*.[0-9][0-9]" or "-?0.[0-9][0-9]" */
static int is_two_decimal(const char *p, size_t n)
{
    size_t k = 0;
    if (k < n && p[k] == '-')
        k++;
    size_t int_start = k;
    while (k < n && p[k] >= '0' && p[k] <= '9')
        k++;
    size_t int_len = k - int_start;
    if (int_len == 0 || (int_len > 1 && p[int_start] == '0'))
        return 0;
    if (k + 3 != n || p[k] != '.')
        return 0;
    return p[k + 1] >= '0' && p[k + 1] <= '9' && p[k + 2] >= '0' && p[k + 2] <= '9';
}

static int64_t cents_of(const char *p, size_t n)
{
    int neg = p[0] == '-';
    int64_t v = 0;
    for (size_t k = (size_t)neg; k < n; k++)
        if (p[k] != '.')
            v = v * 10 + (p[k] - '0');
    return neg ? -v : v;
}

/* Days since 1970 of a YYYY-MM-DD text, or INT64_MIN if it is not a real
 * calendar date (checked by a timegm/gmtime round trip). */
static int64_t days_of_date(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return INT64_MIN;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_year != y - 1900 || back.tm_mon != m - 1 || back.tm_mday != d)
        return INT64_MIN;
    return (int64_t)t / 86400;
}

static void test_event_id_is_index_plus_one_zero_padded(void **state)
{
    (void)state;
    char buf[SF_GEN_LINE_MAX + 16];
    size_t n = gen_checked(sf_gen_kpi_event, &params, 0, buf);
    assert_memory_equal(buf, "{\"event_id\":\"e0000000001\",", 26);
    n = gen_checked(sf_gen_kpi_event, &params, 12344, buf);
    assert_memory_equal(buf, "{\"event_id\":\"e0000012345\",", 26);
    n = gen_checked(sf_gen_kpi_event, &params, 12345678999ULL, buf);
    json_t *doc = parse_line(buf, n);
    assert_string_equal(get_str(doc, "event_id"), "e12345679000");
    json_decref(doc);
}

static void test_same_index_gives_same_line_in_any_order(void **state)
{
    (void)state;
    char a[SF_GEN_LINE_MAX + 16], b[SF_GEN_LINE_MAX + 16];
    for (uint64_t i = 0; i < 2000; i++) {
        size_t na = gen_checked(sf_gen_kpi_event, &params, i, a);
        /* interleave other draws so no hidden state could carry over */
        gen_checked(sf_gen_kpi_user, &params, 1999 - i, b);
        gen_checked(sf_gen_kpi_item, &params, i * 7, b);
        size_t nb = gen_checked(sf_gen_kpi_event, &params, i, b);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na);
    }
}

static void test_seed_changes_the_data(void **state)
{
    (void)state;
    sf_gen_kpi_params other = params;
    other.seed = 43;
    char a[SF_GEN_LINE_MAX + 16], b[SF_GEN_LINE_MAX + 16];
    int differ = 0;
    for (uint64_t i = 0; i < 100; i++) {
        size_t na = gen_checked(sf_gen_kpi_event, &params, i, a);
        size_t nb = gen_checked(sf_gen_kpi_event, &other, i, b);
        differ += na != nb || memcmp(a, b, na) != 0;
    }
    assert_true(differ >= 95);
}

static void test_event_fields_have_types_and_ranges(void **state)
{
    (void)state;
    char buf[SF_GEN_LINE_MAX + 16];
    static const char *types[] = {"view", "click", "add_to_cart", "remove_from_cart", "purchase"};
    long type_count[5] = {0};
    const uint64_t n_lines = 50000;
    for (uint64_t i = 0; i < n_lines; i++) {
        size_t n = gen_checked(sf_gen_kpi_event, &params, i, buf);
        json_t *doc = parse_line(buf, n);
        assert_int_equal(json_object_size(doc), 6);
        json_int_t user = get_int(doc, "user_id");
        json_int_t item = get_int(doc, "item_id");
        assert_true(user >= 1 && user <= (json_int_t)params.users + 10);
        assert_true(item >= 1 && item <= (json_int_t)params.items + 10);
        json_int_t ts = get_int(doc, "ts");
        assert_true(ts >= 1753920000 && ts < 1756598400);
        const char *type = get_str(doc, "event_type");
        int t = -1;
        for (int k = 0; k < 5; k++)
            if (strcmp(type, types[k]) == 0)
                t = k;
        if (t < 0)
            fail_msg("unknown event_type %s", type);
        type_count[t]++;
        json_t *props = json_object_get(doc, "props");
        assert_true(json_is_object(props));
        switch (t) {
        case 0: {
            json_int_t d = get_int(props, "duration");
            assert_true(d >= 5 && d <= 300);
            assert_int_equal(json_object_size(props), 1);
            break;
        }
        case 2: {
            json_int_t q = get_int(props, "quantity");
            assert_true(q >= 1 && q <= 5);
            assert_int_equal(json_object_size(props), 1);
            break;
        }
        case 4:
            assert_true(json_is_real(json_object_get(props, "price")));
            assert_int_equal(json_object_size(props), 1);
            break;
        default:
            assert_int_equal(json_object_size(props), 0);
        }
        json_decref(doc);
    }
    for (int k = 0; k < 5; k++)
        assert_true(type_count[k] > 9000 && type_count[k] < 11000);
}

static void test_purchase_price_is_two_decimals_with_some_refunds(void **state)
{
    (void)state;
    char buf[SF_GEN_LINE_MAX + 16];
    long purchases = 0, refunds = 0, small = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        size_t n = gen_checked(sf_gen_kpi_event, &params, i, buf);
        buf[n] = '\0';
        if (!strstr(buf, "\"purchase\""))
            continue;
        purchases++;
        size_t len;
        const char *p = raw_member(buf, "price", &len);
        if (!is_two_decimal(p, len))
            fail_msg("price not printed with two decimals: %.*s", (int)len, p);
        int64_t cents = cents_of(p, len);
        int64_t mag = cents < 0 ? -cents : cents;
        assert_true(mag >= 100 && mag <= 50000);
        refunds += cents < 0;
        small += mag % 100 < 10;
        json_t *doc = parse_line(buf, n);
        double d = json_real_value(json_object_get(json_object_get(doc, "props"), "price"));
        assert_true(d * 100.0 > (double)cents - 0.5 && d * 100.0 < (double)cents + 0.5);
        json_decref(doc);
    }
    assert_true(purchases > 18000 && purchases < 22000);
    assert_true(refunds * 100 > purchases * 12 && refunds * 100 < purchases * 16);
    assert_true(small > 0); /* cents below 10 print with a leading zero */
}

static void test_unknown_ids_are_rare_and_just_past_the_tables(void **state)
{
    (void)state;
    char buf[SF_GEN_LINE_MAX + 16];
    long bad_user = 0, bad_item = 0;
    const long n_lines = 200000;
    for (uint64_t i = 0; i < (uint64_t)n_lines; i++) {
        size_t n = gen_checked(sf_gen_kpi_event, &params, i, buf);
        json_t *doc = parse_line(buf, n);
        bad_user += get_int(doc, "user_id") > (json_int_t)params.users;
        bad_item += get_int(doc, "item_id") > (json_int_t)params.items;
        json_decref(doc);
    }
    long bad = bad_user + bad_item;
    assert_true(bad_user > 0 && bad_item > 0);
    assert_true(bad * 1000 > n_lines * 1 && bad * 1000 < n_lines * 3);
}

static void test_user_fields_have_types_and_ranges(void **state)
{
    (void)state;
    static const char *countries[] = {"US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "AU", "ES"};
    sf_gen_kpi_params p = params;
    p.users = 100000;
    char buf[SF_GEN_LINE_MAX + 16];
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    long seen_country[10] = {0};
    for (uint64_t i = 0; i < p.users; i++) {
        size_t n = gen_checked(sf_gen_kpi_user, &p, i, buf);
        json_t *doc = parse_line(buf, n);
        assert_int_equal(json_object_size(doc), 5);
        assert_int_equal(get_int(doc, "user_id"), (json_int_t)i + 1);
        const char *c = get_str(doc, "country");
        int found = 0;
        for (int k = 0; k < 10; k++)
            if (strcmp(c, countries[k]) == 0) {
                found = 1;
                seen_country[k]++;
            }
        assert_true(found);
        json_int_t age = get_int(doc, "age");
        assert_true(age >= 18 && age <= 80);
        const char *g = get_str(doc, "gender");
        assert_true(strcmp(g, "f") == 0 || strcmp(g, "m") == 0 || strcmp(g, "x") == 0);
        int64_t days = days_of_date(get_str(doc, "registration_date"));
        if (days == INT64_MIN)
            fail_msg("invalid registration_date %s", get_str(doc, "registration_date"));
        lo = days < lo ? days : lo;
        hi = days > hi ? days : hi;
        json_decref(doc);
    }
    /* 100000 draws over 2038 days reach both ends of the range. */
    assert_int_equal(lo, days_of_date("2020-01-01"));
    assert_int_equal(hi, days_of_date("2025-07-30"));
    for (int k = 0; k < 10; k++)
        assert_true(seen_country[k] > 9000);
}

static void test_item_fields_have_types_and_ranges(void **state)
{
    (void)state;
    static const char *cats[] = {"electronics", "books", "clothing", "home",
                                 "sports", "toys", "beauty", "grocery"};
    char buf[SF_GEN_LINE_MAX + 16], want[SF_GEN_LINE_MAX + 16];
    long seen_cat[8] = {0};
    for (uint64_t i = 0; i < 20000; i++) {
        size_t n = gen_checked(sf_gen_kpi_item, &params, i, buf);
        buf[n] = '\0';
        size_t len;
        const char *p = raw_member(buf, "price", &len);
        assert_true(is_two_decimal(p, len));
        int64_t cents = cents_of(p, len);
        assert_true(cents >= 100 && cents <= 50000);
        json_t *doc = parse_line(buf, n);
        assert_int_equal(json_object_size(doc), 5);
        assert_int_equal(get_int(doc, "item_id"), (json_int_t)i + 1);
        const char *c = get_str(doc, "category");
        int found = 0;
        for (int k = 0; k < 8; k++)
            if (strcmp(c, cats[k]) == 0) {
                found = 1;
                seen_cat[k]++;
            }
        assert_true(found);
        const char *brand = get_str(doc, "brand");
        assert_int_equal(strlen(brand), 8);
        assert_memory_equal(brand, "brand-", 6);
        int nn = atoi(brand + 6);
        assert_true(nn >= 1 && nn <= 50);
        snprintf(want, sizeof want, "item-%llu", (unsigned long long)i + 1);
        assert_string_equal(get_str(doc, "name"), want);
        json_decref(doc);
    }
    for (int k = 0; k < 8; k++)
        assert_true(seen_cat[k] > 2000);
}

static void test_huge_counts_still_fit_the_line_limit(void **state)
{
    (void)state;
    sf_gen_kpi_params p = {.seed = UINT64_MAX, .events = UINT64_MAX,
                           .users = UINT64_MAX / 2, .items = UINT64_MAX / 2};
    char buf[SF_GEN_LINE_MAX + 16];
    for (uint64_t i = UINT64_MAX - 3000; i < UINT64_MAX - 1; i++) {
        gen_checked(sf_gen_kpi_event, &p, i, buf);
        gen_checked(sf_gen_kpi_user, &p, i, buf);
        gen_checked(sf_gen_kpi_item, &p, i, buf);
        p.string_ids = 1;
        gen_checked(sf_gen_kpi_event, &p, i, buf);
        gen_checked(sf_gen_kpi_user, &p, i, buf);
        gen_checked(sf_gen_kpi_item, &p, i, buf);
        p.string_ids = 0;
    }
}

static void test_string_ids_use_the_seed_format_and_match_the_tables(void **state)
{
    (void)state;
    sf_gen_kpi_params p = params;
    p.string_ids = 1;
    char buf[SF_GEN_LINE_MAX + 16], want[SF_GEN_LINE_MAX + 16];
    for (uint64_t i = 0; i < 2000; i++) {
        size_t n = gen_checked(sf_gen_kpi_event, &p, i, buf);
        json_t *doc = parse_line(buf, n);
        const char *u = get_str(doc, "user_id"), *it = get_str(doc, "item_id");
        assert_int_equal(strlen(u), 11);
        assert_int_equal(strlen(it), 11);
        assert_memory_equal(u, "user_", 5);
        assert_memory_equal(it, "item_", 5);
        assert_int_equal(strspn(u + 5, "0123456789"), 6);
        assert_int_equal(strspn(it + 5, "0123456789"), 6);
        /* The same draws as with numbers: only the text changes. */
        size_t m = gen_checked(sf_gen_kpi_event, &params, i, want);
        json_t *num = parse_line(want, m);
        assert_int_equal(strtoull(u + 5, NULL, 10), get_int(num, "user_id"));
        assert_int_equal(strtoull(it + 5, NULL, 10), get_int(num, "item_id"));
        json_decref(num);
        json_decref(doc);
    }
    size_t n = gen_checked(sf_gen_kpi_user, &p, 782, buf);
    json_t *doc = parse_line(buf, n);
    assert_string_equal(get_str(doc, "user_id"), "user_000783");
    json_decref(doc);
    n = gen_checked(sf_gen_kpi_item, &p, 54, buf);
    doc = parse_line(buf, n);
    assert_string_equal(get_str(doc, "item_id"), "item_000055");
    json_decref(doc);
    /* Past a million the number keeps all its digits. */
    p.users = 5000000;
    n = gen_checked(sf_gen_kpi_user, &p, 1234566, buf);
    doc = parse_line(buf, n);
    snprintf(want, sizeof want, "user_%d", 1234567);
    assert_string_equal(get_str(doc, "user_id"), want);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_id_is_index_plus_one_zero_padded),
        cmocka_unit_test(test_same_index_gives_same_line_in_any_order),
        cmocka_unit_test(test_seed_changes_the_data),
        cmocka_unit_test(test_event_fields_have_types_and_ranges),
        cmocka_unit_test(test_purchase_price_is_two_decimals_with_some_refunds),
        cmocka_unit_test(test_unknown_ids_are_rare_and_just_past_the_tables),
        cmocka_unit_test(test_user_fields_have_types_and_ranges),
        cmocka_unit_test(test_item_fields_have_types_and_ranges),
        cmocka_unit_test(test_huge_counts_still_fit_the_line_limit),
        cmocka_unit_test(test_string_ids_use_the_seed_format_and_match_the_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
