/* test_value.c - the value codec and total order of core/value.h: NULL first,
 * exact int64/double comparison, NaN last, strings bytewise then by length,
 * cross-type keys kept apart by sf_value_same, byte-exact encodings that
 * round-trip every type, truncated input rejected, type names. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/value.h"

#define TWO_53 9007199254740992LL

static int cmp(sf_value a, sf_value b) { return sf_value_cmp(&a, &b); }

/* cmp(a, b) must be the mirror of cmp(b, a) for a total order. */
static void assert_less(sf_value a, sf_value b)
{
    assert_true(cmp(a, b) < 0);
    assert_true(cmp(b, a) > 0);
}

static void assert_equal_order(sf_value a, sf_value b)
{
    assert_int_equal(cmp(a, b), 0);
    assert_int_equal(cmp(b, a), 0);
}

static void test_null_sorts_before_every_value(void **state)
{
    (void)state;
    const char s[] = "";
    assert_equal_order(sf_null(), sf_null());
    assert_less(sf_null(), sf_bool(0));
    assert_less(sf_null(), sf_int(INT64_MIN));
    assert_less(sf_null(), sf_double(-INFINITY));
    assert_less(sf_null(), sf_string(s, 0));
    assert_less(sf_null(), sf_date(INT32_MIN));
}

static void test_int_and_double_compare_exactly_beyond_2_pow_53(void **state)
{
    (void)state;
    /* (double)(2^53 + 1) rounds to 2^53: a naive comparison says equal. */
    assert_less(sf_double((double)TWO_53), sf_int(TWO_53 + 1));
    assert_equal_order(sf_int(TWO_53), sf_double((double)TWO_53));
    assert_less(sf_int(TWO_53 + 1), sf_double((double)(TWO_53 + 2)));
    /* (double)INT64_MAX is 2^63, which no int64 reaches. */
    assert_less(sf_int(INT64_MAX), sf_double(9223372036854775808.0));
    assert_equal_order(sf_int(INT64_MIN), sf_double(-9223372036854775808.0));
    assert_less(sf_double(-9223372036854777856.0), sf_int(INT64_MIN));
}

static void test_int_and_double_with_fraction_order_by_the_fraction(void **state)
{
    (void)state;
    assert_less(sf_int(1), sf_double(1.5));
    assert_less(sf_double(1.5), sf_int(2));
    assert_less(sf_double(-0.5), sf_int(0));
    assert_less(sf_int(-1), sf_double(-0.5));
    assert_equal_order(sf_int(0), sf_double(-0.0));
    assert_equal_order(sf_int(-7), sf_double(-7.0));
}

static void test_nan_sorts_after_every_other_number(void **state)
{
    (void)state;
    assert_less(sf_double(INFINITY), sf_double(NAN));
    assert_less(sf_double(1e308), sf_double(NAN));
    assert_less(sf_int(INT64_MAX), sf_double(NAN));
    assert_less(sf_double(-INFINITY), sf_double(NAN));
    assert_equal_order(sf_double(NAN), sf_double(NAN));
}

static void test_doubles_order_numerically(void **state)
{
    (void)state;
    assert_less(sf_double(-INFINITY), sf_double(-1e308));
    assert_less(sf_double(-1.0), sf_double(-0x1p-1074));
    assert_less(sf_double(0.1), sf_double(0.30000000000000004));
    assert_equal_order(sf_double(0.0), sf_double(-0.0));
}

static void test_strings_order_by_bytes_then_length(void **state)
{
    (void)state;
    assert_less(sf_string("ab", 2), sf_string("abc", 3));
    assert_less(sf_string("abc", 3), sf_string("abd", 3));
    assert_less(sf_string("abc", 3), sf_string("b", 1));
    assert_less(sf_string("", 0), sf_string("a", 1));
    /* Bytes compare unsigned: UTF-8 lead bytes sort after ASCII. */
    assert_less(sf_string("z", 1), sf_string("\xc3\xa9", 2));
    /* NUL bytes are data, not terminators. */
    assert_less(sf_string("a\0b", 3), sf_string("a\0c", 3));
    assert_less(sf_string("a", 1), sf_string("a\0", 2));
    assert_equal_order(sf_string("x\0y", 3), sf_string("x\0y", 3));
}

static void test_other_types_order_within_their_type(void **state)
{
    (void)state;
    assert_less(sf_bool(0), sf_bool(1));
    assert_less(sf_int(-3), sf_int(2));
    assert_less(sf_date(-1), sf_date(0));
    assert_less(sf_date(20300), sf_date(20301));
}

static void test_unrelated_types_order_by_type_tag(void **state)
{
    (void)state;
    assert_less(sf_bool(1), sf_int(-5));
    assert_less(sf_double(1e300), sf_string("", 0));
    assert_less(sf_string("zzz", 3), sf_date(-100000));
    assert_less(sf_int(INT64_MAX), sf_date(INT32_MIN));
}

static void test_same_keeps_int_and_double_keys_apart(void **state)
{
    (void)state;
    sf_value i = sf_int(1), d = sf_double(1.0);
    assert_int_equal(cmp(i, d), 0);
    assert_false(sf_value_same(&i, &d));
    assert_false(sf_value_same(&d, &i));
    sf_value i2 = sf_int(1), d2 = sf_double(1.0);
    assert_true(sf_value_same(&i, &i2));
    assert_true(sf_value_same(&d, &d2));
}

static void test_same_compares_strings_by_content_not_pointer(void **state)
{
    (void)state;
    char a[] = "key\0one", b[] = "key\0one";
    sf_value x = sf_string(a, 7), y = sf_string(b, 7), z = sf_string(b, 3);
    assert_true(sf_value_same(&x, &y));
    assert_false(sf_value_same(&x, &z));
    sf_value n1 = sf_null(), n2 = sf_null(), date = sf_date(0), zero = sf_int(0);
    assert_true(sf_value_same(&n1, &n2));
    assert_false(sf_value_same(&date, &zero));
}

/* The codec's promise for keys: values sf_value_same calls equal have equal
 * bytes, and values it calls different have different bytes. */
static void test_same_values_have_identical_encodings(void **state)
{
    (void)state;
    const sf_value vals[] = {
        sf_null(),          sf_bool(0),           sf_bool(1),         sf_int(0),
        sf_int(1),          sf_int(-1),           sf_double(0.0),     sf_double(-0.0),
        sf_double(1.0),     sf_double(NAN),       sf_date(0),         sf_date(1),
        sf_string("", 0),   sf_string("1", 1),    sf_string("a\0", 2), sf_string("a", 1),
    };
    size_t n = sizeof vals / sizeof vals[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            unsigned char a[32], b[32];
            size_t la = sf_value_encode(&vals[i], a), lb = sf_value_encode(&vals[j], b);
            int same_bytes = la == lb && memcmp(a, b, la) == 0;
            assert_int_equal(sf_value_same(&vals[i], &vals[j]), same_bytes);
        }
    }
}

static void test_encoding_layout_is_tag_then_little_endian(void **state)
{
    (void)state;
    unsigned char out[16];
    sf_value v = sf_int(0x0102030405060708LL);
    assert_int_equal(sf_value_encoded_size(&v), 9);
    assert_int_equal(sf_value_encode(&v, out), 9);
    const unsigned char want_int[] = {SF_INT, 8, 7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(out, want_int, 9);

    v = sf_double(1.0); /* 0x3ff0000000000000 */
    assert_int_equal(sf_value_encode(&v, out), 9);
    const unsigned char want_double[] = {SF_DOUBLE, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    assert_memory_equal(out, want_double, 9);

    v = sf_date(-2);
    assert_int_equal(sf_value_encode(&v, out), 5);
    const unsigned char want_date[] = {SF_DATE, 0xfe, 0xff, 0xff, 0xff};
    assert_memory_equal(out, want_date, 5);

    v = sf_bool(1);
    assert_int_equal(sf_value_encode(&v, out), 2);
    assert_int_equal(out[0], SF_BOOL);
    assert_int_equal(out[1], 1);

    v = sf_null();
    assert_int_equal(sf_value_encode(&v, out), 1);
    assert_int_equal(out[0], SF_NULL);

    v = sf_string("hi", 2);
    assert_int_equal(sf_value_encode(&v, out), 4);
    const unsigned char want_str[] = {SF_STRING, 2, 'h', 'i'};
    assert_memory_equal(out, want_str, 4);
}

static void test_string_length_is_leb128(void **state)
{
    (void)state;
    static char text[300];
    memset(text, 'x', sizeof text);
    unsigned char out[320];
    sf_value v = sf_string(text, 127);
    assert_int_equal(sf_value_encoded_size(&v), 1 + 1 + 127);
    assert_int_equal(sf_value_encode(&v, out), 129);
    assert_int_equal(out[1], 127);
    v = sf_string(text, 128);
    assert_int_equal(sf_value_encoded_size(&v), 1 + 2 + 128);
    assert_int_equal(sf_value_encode(&v, out), 131);
    assert_int_equal(out[1], 0x80);
    assert_int_equal(out[2], 0x01);
    v = sf_string(text, 300); /* 300 = 0b10_0101100 */
    assert_int_equal(sf_value_encode(&v, out), 1 + 2 + 300);
    assert_int_equal(out[1], 0xac);
    assert_int_equal(out[2], 0x02);
}

static void assert_round_trip(sf_value v)
{
    unsigned char buf[512];
    size_t n = sf_value_encoded_size(&v);
    assert_true(n <= sizeof buf);
    assert_int_equal(sf_value_encode(&v, buf), n);
    sf_value back;
    memset(&back, 0xa5, sizeof back);
    assert_int_equal(sf_value_decode(buf, n, &back), n);
    assert_int_equal(back.type, v.type);
    assert_true(sf_value_same(&back, &v));
    if (v.type == SF_STRING) {
        /* Decoded strings are borrowed from the encoded bytes. */
        assert_ptr_equal(back.u.s.p, (const char *)buf + n - v.u.s.n);
    }
}

static void test_every_type_round_trips(void **state)
{
    (void)state;
    static char big[200];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)i;
    assert_round_trip(sf_null());
    assert_round_trip(sf_bool(0));
    assert_round_trip(sf_bool(1));
    assert_round_trip(sf_int(0));
    assert_round_trip(sf_int(INT64_MIN));
    assert_round_trip(sf_int(INT64_MAX));
    assert_round_trip(sf_double(-0.0));
    assert_round_trip(sf_double(0x1p-1074));
    assert_round_trip(sf_double(-INFINITY));
    assert_round_trip(sf_double(NAN));
    assert_round_trip(sf_date(INT32_MIN));
    assert_round_trip(sf_date(20301));
    assert_round_trip(sf_string("", 0));
    assert_round_trip(sf_string("\0\0\0", 3));
    assert_round_trip(sf_string("caf\xc3\xa9\n\"x\"", 10));
    assert_round_trip(sf_string(big, sizeof big));
}

static void test_decode_keeps_negative_zero_and_nan_bits(void **state)
{
    (void)state;
    unsigned char buf[9];
    sf_value v = sf_double(-0.0), back;
    sf_value_encode(&v, buf);
    assert_int_equal(sf_value_decode(buf, 9, &back), 9);
    assert_true(signbit(back.u.d));
    assert_true(back.u.d == 0.0);
    v = sf_double(NAN);
    sf_value_encode(&v, buf);
    assert_int_equal(sf_value_decode(buf, 9, &back), 9);
    assert_true(isnan(back.u.d));
}

static void test_decode_of_consecutive_values_reports_bytes_used(void **state)
{
    (void)state;
    unsigned char buf[64];
    sf_value in[] = {sf_int(42), sf_string("ab", 2), sf_null(), sf_date(7)};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++)
        n += sf_value_encode(&in[i], buf + n);
    assert_int_equal(n, 9 + 4 + 1 + 5);
    size_t p = 0;
    for (size_t i = 0; i < 4; i++) {
        sf_value v;
        size_t used = sf_value_decode(buf + p, n - p, &v);
        assert_int_equal(used, sf_value_encoded_size(&in[i]));
        assert_true(sf_value_same(&v, &in[i]));
        p += used;
    }
    assert_int_equal(p, n);
}

static void test_decode_of_truncated_input_returns_zero(void **state)
{
    (void)state;
    const sf_value vals[] = {sf_bool(1), sf_int(-9), sf_double(2.5), sf_date(3),
                             sf_string("hello", 5)};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        /* Room for any type: the inline codec's every case is checked. */
        unsigned char buf[32];
        size_t n = sf_value_encode(&vals[i], buf);
        for (size_t cut = 0; cut < n; cut++) {
            sf_value v;
            assert_int_equal(sf_value_decode(buf, cut, &v), 0);
        }
    }
}

static void test_decode_of_malformed_input_returns_zero(void **state)
{
    (void)state;
    sf_value v;
    const unsigned char bad_tag[] = {6, 0, 0, 0, 0};
    assert_int_equal(sf_value_decode(bad_tag, sizeof bad_tag, &v), 0);
    const unsigned char huge_tag[] = {0xff};
    assert_int_equal(sf_value_decode(huge_tag, 1, &v), 0);
    /* A string whose length runs past the buffer. */
    const unsigned char long_len[] = {SF_STRING, 0x05, 'a', 'b'};
    assert_int_equal(sf_value_decode(long_len, sizeof long_len, &v), 0);
    /* A LEB128 length that never ends. */
    const unsigned char endless[] = {SF_STRING, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80,      0x80, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(sf_value_decode(endless, sizeof endless, &v), 0);
}

static void test_type_names_are_the_spec_names(void **state)
{
    (void)state;
    assert_string_equal(sf_type_name(SF_NULL), "null");
    assert_string_equal(sf_type_name(SF_BOOL), "bool");
    assert_string_equal(sf_type_name(SF_INT), "int64");
    assert_string_equal(sf_type_name(SF_DOUBLE), "double");
    assert_string_equal(sf_type_name(SF_STRING), "string");
    assert_string_equal(sf_type_name(SF_DATE), "date");
    assert_non_null(sf_type_name((sf_type)99));
}

static void test_type_parse_accepts_names_and_aliases(void **state)
{
    (void)state;
    const sf_type types[] = {SF_BOOL, SF_INT, SF_DOUBLE, SF_STRING, SF_DATE};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        sf_type t = SF_NULL;
        assert_int_equal(sf_type_parse(sf_type_name(types[i]), &t), 0);
        assert_int_equal(t, types[i]);
    }
    sf_type t = SF_NULL;
    assert_int_equal(sf_type_parse("int", &t), 0);
    assert_int_equal(t, SF_INT);
    assert_int_equal(sf_type_parse("float", &t), 0);
    assert_int_equal(t, SF_DOUBLE);
}

static void test_type_parse_rejects_unknown_names(void **state)
{
    (void)state;
    sf_type t = SF_DATE;
    assert_int_equal(sf_type_parse("integer", &t), SF_E_INVAL);
    assert_int_equal(sf_type_parse("INT64", &t), SF_E_INVAL);
    assert_int_equal(sf_type_parse("", &t), SF_E_INVAL);
    assert_int_equal(sf_type_parse("int64 ", &t), SF_E_INVAL);
    assert_int_equal(t, SF_DATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_sorts_before_every_value),
        cmocka_unit_test(test_int_and_double_compare_exactly_beyond_2_pow_53),
        cmocka_unit_test(test_int_and_double_with_fraction_order_by_the_fraction),
        cmocka_unit_test(test_nan_sorts_after_every_other_number),
        cmocka_unit_test(test_doubles_order_numerically),
        cmocka_unit_test(test_strings_order_by_bytes_then_length),
        cmocka_unit_test(test_other_types_order_within_their_type),
        cmocka_unit_test(test_unrelated_types_order_by_type_tag),
        cmocka_unit_test(test_same_keeps_int_and_double_keys_apart),
        cmocka_unit_test(test_same_compares_strings_by_content_not_pointer),
        cmocka_unit_test(test_same_values_have_identical_encodings),
        cmocka_unit_test(test_encoding_layout_is_tag_then_little_endian),
        cmocka_unit_test(test_string_length_is_leb128),
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_decode_keeps_negative_zero_and_nan_bits),
        cmocka_unit_test(test_decode_of_consecutive_values_reports_bytes_used),
        cmocka_unit_test(test_decode_of_truncated_input_returns_zero),
        cmocka_unit_test(test_decode_of_malformed_input_returns_zero),
        cmocka_unit_test(test_type_names_are_the_spec_names),
        cmocka_unit_test(test_type_parse_accepts_names_and_aliases),
        cmocka_unit_test(test_type_parse_rejects_unknown_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
