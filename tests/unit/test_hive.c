/* test_hive.c - Hive partition directory names of io/hive.h: values printed
 * as in CSV, NULL and "" as __HIVE_DEFAULT_PARTITION__, unsafe bytes as %XX,
 * "." and ".." never left as path components, several columns joined by
 * '/'. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "io/hive.h"
#include "core/value_text.h"

/* The dirname of one column called name. */
static void assert_dirname1(const char *name, sf_value v, const char *want)
{
    sf_buf out = SF_BUF_INIT;
    const char *names[1] = {name};
    assert_int_equal(sf_hive_dirname(names, &v, 1, &out), 0);
    assert_int_equal(out.n, strlen(want));
    assert_memory_equal(out.p, want, out.n);
    sf_buf_free(&out);
}

static void assert_string_dirname(const char *value, size_t n, const char *want)
{
    assert_dirname1("k", sf_string(value, n), want);
}

static void test_date_prints_as_iso_day(void **state)
{
    (void)state;
    assert_dirname1("date", sf_date(20301), "date=2025-08-01");
    assert_dirname1("date", sf_date(0), "date=1970-01-01");
    assert_dirname1("date", sf_date(-1), "date=1969-12-31");
}

/* A timestamp's colons are escaped (as Spark writes them), and the value
 * parses back to the ISO text value_text reads. */
static void test_timestamp_is_iso_text_with_escaped_colons(void **state)
{
    (void)state;
    assert_dirname1("ts", sf_timestamp(INT64_C(1772366400000000)),
                    "ts=2026-03-01T12%3A00%3A00Z");
    const char *names[1] = {"ts"};
    sf_value v = sf_timestamp(INT64_C(1772368496789000));
    sf_buf path = SF_BUF_INIT;
    assert_int_equal(sf_hive_dirname(names, &v, 1, &path), 0);
    assert_int_equal(sf_buf_append(&path, "", 1), 0);
    sf_hive_parts kv;
    memset(&kv, 0, sizeof kv);
    sf_error err;
    assert_int_equal(sf_hive_parse((const char *)path.p, &kv, &err), 0);
    size_t n;
    const char *val = sf_hive_value(&kv, 0, &n);
    sf_value back;
    assert_int_equal(sf_value_text_parse(val, n, SF_TIMESTAMP, &back), 0);
    assert_true(back.type == SF_TIMESTAMP && back.u.i == v.u.i);
    sf_hive_parts_free(&kv);
    sf_buf_free(&path);
}

static void test_int_double_and_bool_print_as_in_csv(void **state)
{
    (void)state;
    assert_dirname1("n", sf_int(42), "n=42");
    assert_dirname1("n", sf_int(-7), "n=-7");
    assert_dirname1("n", sf_int(INT64_MIN), "n=-9223372036854775808");
    assert_dirname1("x", sf_double(354.41), "x=354.41");
    assert_dirname1("x", sf_double(100.0), "x=100.0");
    assert_dirname1("x", sf_double(1e16), "x=1e+16");
    assert_dirname1("x", sf_double(-0.0), "x=-0.0");
    assert_dirname1("b", sf_bool(1), "b=true");
    assert_dirname1("b", sf_bool(0), "b=false");
}

static void test_plain_string_is_kept(void **state)
{
    (void)state;
    assert_string_dirname("FR", 2, "k=FR");
    assert_string_dirname("Home & Garden", 13, "k=Home & Garden");
    assert_string_dirname("caf\xc3\xa9", 5, "k=caf\xc3\xa9");
    assert_string_dirname("v1.2-x_y+z", 10, "k=v1.2-x_y+z");
}

static void test_null_and_empty_string_are_the_default_partition(void **state)
{
    (void)state;
    assert_dirname1("country", sf_null(), "country=__HIVE_DEFAULT_PARTITION__");
    assert_string_dirname("", 0, "k=" SF_HIVE_NULL);
}

static void test_slash_equals_and_percent_are_escaped(void **state)
{
    (void)state;
    assert_string_dirname("a/b", 3, "k=a%2Fb");
    assert_string_dirname("x=1", 3, "k=x%3D1");
    assert_string_dirname("50%", 3, "k=50%25");
    assert_string_dirname("%2F", 3, "k=%252F");
    assert_string_dirname("/", 1, "k=%2F");
}

static void test_quotes_and_other_unsafe_bytes_are_escaped(void **state)
{
    (void)state;
    assert_string_dirname("\"q'", 3, "k=%22q%27");
    assert_string_dirname("a:b", 3, "k=a%3Ab");
    assert_string_dirname("a\\b", 3, "k=a%5Cb");
    assert_string_dirname("#?*", 3, "k=%23%3F%2A");
    assert_string_dirname("[]{}^", 5, "k=%5B%5D%7B%7D%5E");
}

static void test_control_bytes_are_escaped_in_upper_hex(void **state)
{
    (void)state;
    assert_string_dirname("a\nb", 3, "k=a%0Ab");
    assert_string_dirname("\t\r", 2, "k=%09%0D");
    assert_string_dirname("\x1f\x7f", 2, "k=%1F%7F");
    assert_string_dirname("a\0b", 3, "k=a%00b");
}

static void test_dot_and_dot_dot_are_escaped(void **state)
{
    (void)state;
    assert_string_dirname(".", 1, "k=%2E");
    assert_string_dirname("..", 2, "k=%2E%2E");
    assert_string_dirname("...", 3, "k=...");
    assert_string_dirname(".hidden", 7, "k=.hidden");
}

static void test_column_names_are_escaped_too(void **state)
{
    (void)state;
    assert_dirname1("a/b", sf_int(1), "a%2Fb=1");
    assert_dirname1("a=b", sf_int(1), "a%3Db=1");
}

static void test_several_columns_are_joined_with_slash(void **state)
{
    (void)state;
    const char *names[3] = {"date", "country", "category"};
    sf_value vals[3] = {sf_date(20301), sf_string("FR", 2), sf_string("a/b", 3)};
    sf_buf out = SF_BUF_INIT;
    assert_int_equal(sf_hive_dirname(names, vals, 3, &out), 0);
    const char *want = "date=2025-08-01/country=FR/category=a%2Fb";
    assert_int_equal(out.n, strlen(want));
    assert_memory_equal(out.p, want, out.n);
    sf_buf_free(&out);

    vals[1] = sf_null();
    assert_int_equal(sf_hive_dirname(names, vals, 3, &out), 0);
    want = "date=2025-08-01/country=__HIVE_DEFAULT_PARTITION__/category=a%2Fb";
    assert_int_equal(out.n, strlen(want));
    assert_memory_equal(out.p, want, out.n);
    sf_buf_free(&out);
}

static void test_appends_to_the_buffer_and_zero_columns_add_nothing(void **state)
{
    (void)state;
    sf_buf out = SF_BUF_INIT;
    assert_int_equal(sf_buf_append(&out, "out/", 4), 0);
    assert_int_equal(sf_hive_dirname(NULL, NULL, 0, &out), 0);
    assert_int_equal(out.n, 4);
    const char *names[1] = {"n"};
    sf_value v = sf_int(3);
    assert_int_equal(sf_hive_dirname(names, &v, 1, &out), 0);
    assert_int_equal(out.n, 7);
    assert_memory_equal(out.p, "out/n=3", 7);
    sf_buf_free(&out);
}

/* Writes names/values as a dirname, parses it back and checks each key
 * and value (want_null: the value was the default partition). */
static void test_parse_reads_back_what_dirname_wrote(void **state)
{
    (void)state;
    const char *names[4] = {"date", "a/b=c", "s", "n"};
    sf_value v[4] = {sf_date(20301), sf_string("x/y=%z..", 8), sf_string("", 0), sf_null()};
    sf_buf path = SF_BUF_INIT;
    assert_int_equal(sf_hive_dirname(names, v, 4, &path), 0);
    assert_int_equal(sf_buf_append(&path, "", 1), 0);
    sf_hive_parts kv;
    memset(&kv, 0, sizeof kv);
    sf_error err;
    assert_int_equal(sf_hive_parse((const char *)path.p, &kv, &err), 0);
    assert_int_equal(kv.n, 4);
    const char *want_val[4] = {"2025-08-01", "x/y=%z..", "", ""};
    for (size_t k = 0; k < 4; k++) {
        size_t n;
        const char *key = sf_hive_key(&kv, k, &n);
        assert_int_equal(n, strlen(names[k]));
        assert_memory_equal(key, names[k], n);
        const char *val = sf_hive_value(&kv, k, &n);
        assert_int_equal(n, strlen(want_val[k]));
        assert_memory_equal(val, want_val[k], n);
        assert_int_equal(kv.null[k], k >= 2);
    }
    sf_hive_parts_free(&kv);
    sf_buf_free(&path);
}

static void test_parse_refuses_a_component_without_equals(void **state)
{
    (void)state;
    sf_hive_parts kv;
    memset(&kv, 0, sizeof kv);
    sf_error err;
    assert_int_equal(sf_hive_parse("date=2025-08-01/oops", &kv, &err), SF_E_PARSE);
    assert_non_null(strstr(err.msg, "'oops' is not key=value"));
    assert_int_equal(sf_hive_parse("", &kv, &err), 0);
    assert_int_equal(kv.n, 0);
    sf_hive_parts_free(&kv);
}

static void test_same_keys_compares_names_in_order(void **state)
{
    (void)state;
    sf_hive_parts a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    sf_error err;
    assert_int_equal(sf_hive_parse("x=1/y=2", &a, &err), 0);
    assert_int_equal(sf_hive_parse("x=3/y=4", &b, &err), 0);
    assert_true(sf_hive_same_keys(&a, &b));
    assert_int_equal(sf_hive_parse("y=3/x=4", &b, &err), 0);
    assert_false(sf_hive_same_keys(&a, &b));
    assert_int_equal(sf_hive_parse("x=3", &b, &err), 0);
    assert_false(sf_hive_same_keys(&a, &b));
    sf_hive_parts_free(&a);
    sf_hive_parts_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_prints_as_iso_day),
        cmocka_unit_test(test_timestamp_is_iso_text_with_escaped_colons),
        cmocka_unit_test(test_int_double_and_bool_print_as_in_csv),
        cmocka_unit_test(test_plain_string_is_kept),
        cmocka_unit_test(test_null_and_empty_string_are_the_default_partition),
        cmocka_unit_test(test_slash_equals_and_percent_are_escaped),
        cmocka_unit_test(test_quotes_and_other_unsafe_bytes_are_escaped),
        cmocka_unit_test(test_control_bytes_are_escaped_in_upper_hex),
        cmocka_unit_test(test_dot_and_dot_dot_are_escaped),
        cmocka_unit_test(test_column_names_are_escaped_too),
        cmocka_unit_test(test_several_columns_are_joined_with_slash),
        cmocka_unit_test(test_appends_to_the_buffer_and_zero_columns_add_nothing),
        cmocka_unit_test(test_parse_reads_back_what_dirname_wrote),
        cmocka_unit_test(test_parse_refuses_a_component_without_equals),
        cmocka_unit_test(test_same_keys_compares_names_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
