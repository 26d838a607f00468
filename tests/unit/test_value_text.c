/* test_value_text.c - core/value_text.h: every type prints as the CSV and
 * Hive outputs show it, parses back to the same value, and text that is not
 * a value of the asked type is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/value_text.h"

static void assert_text(sf_value v, const char *want)
{
    char buf[SF_FMT_BUF];
    const char *p;
    size_t n = sf_value_text(&v, buf, &p);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static void test_each_type_prints_its_text(void **state)
{
    (void)state;
    assert_text(sf_bool(1), "true");
    assert_text(sf_bool(0), "false");
    assert_text(sf_int(-42), "-42");
    assert_text(sf_double(354.41), "354.41");
    assert_text(sf_double(1e16), "1e+16");
    assert_text(sf_date(20301), "2025-08-01");
    assert_text(sf_string("a,b", 3), "a,b");
    assert_text(sf_null(), "");
}

static void test_format_leaves_strings_and_null_empty(void **state)
{
    (void)state;
    char buf[SF_FMT_BUF] = "x";
    sf_value s = sf_string("abc", 3), z = sf_null();
    assert_int_equal(sf_value_text_format(&s, buf), 0);
    assert_string_equal(buf, "");
    buf[0] = 'x';
    assert_int_equal(sf_value_text_format(&z, buf), 0);
    assert_string_equal(buf, "");
    sf_value t = sf_bool(1);
    assert_int_equal(sf_value_text_format(&t, buf), 4);
    assert_string_equal(buf, "true");
}

static void round_trip(sf_value v)
{
    char buf[SF_FMT_BUF];
    const char *p;
    size_t n = sf_value_text(&v, buf, &p);
    sf_value back;
    assert_int_equal(sf_value_text_parse(p, n, (sf_type)v.type, &back), 0);
    assert_int_equal(sf_value_cmp(&v, &back), 0);
}

static void test_text_parses_back_to_the_same_value(void **state)
{
    (void)state;
    round_trip(sf_bool(1));
    round_trip(sf_bool(0));
    round_trip(sf_int(INT64_MIN));
    round_trip(sf_int(INT64_MAX));
    round_trip(sf_double(0.1));
    round_trip(sf_double(-0.0));
    round_trip(sf_double(1.5e-05));
    round_trip(sf_date(-1));
    round_trip(sf_date(20301));
    round_trip(sf_string("x y", 3));
}

static void test_parse_refuses_text_of_another_type(void **state)
{
    (void)state;
    sf_value v;
    assert_int_equal(sf_value_text_parse("12x", 3, SF_INT, &v), -1);
    assert_int_equal(sf_value_text_parse("9223372036854775808", 19, SF_INT, &v), -1);
    assert_int_equal(sf_value_text_parse("abc", 3, SF_DOUBLE, &v), -1);
    assert_int_equal(sf_value_text_parse("2025-02-30", 10, SF_DATE, &v), -1);
    assert_int_equal(sf_value_text_parse("True", 4, SF_BOOL, &v), -1);
    assert_int_equal(sf_value_text_parse("1", 1, SF_BOOL, &v), -1);
    assert_int_equal(sf_value_text_parse("", 0, SF_NULL, &v), -1);
}

static void test_parse_of_a_date_takes_iso_times(void **state)
{
    (void)state;
    sf_value v;
    const char *t = "2025-08-01T23:30:00Z";
    assert_int_equal(sf_value_text_parse(t, strlen(t), SF_DATE, &v), 0);
    assert_int_equal(v.type, SF_DATE);
    assert_int_equal(v.u.date, 20301);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_type_prints_its_text),
        cmocka_unit_test(test_format_leaves_strings_and_null_empty),
        cmocka_unit_test(test_text_parses_back_to_the_same_value),
        cmocka_unit_test(test_parse_refuses_text_of_another_type),
        cmocka_unit_test(test_parse_of_a_date_takes_iso_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
