/* test_decimal.c - the decimal(P,S) type of core/decimal.h and how the
 * rest of core treats it: exact parsing of JSON number text with rounding
 * half to even, the precision limit, printing with exactly S places, exact
 * comparison across scales and with int64, the 192-bit sum (order-free,
 * overflow only on the final value), the exact mean, the byte codec, type
 * names, and decimals in expressions (types, values, the "cast one side"
 * error with its position). Expected values were worked out with Python's
 * decimal module (ROUND_HALF_EVEN), the reference the integration test
 * tests/mpi/decimal_test.py also uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/decimal.h"
#include "core/error.h"
#include "core/buf.h"
#include "core/expr.h"
#include "core/groups.h"
#include "core/value_text.h"

/* ---- helpers ---- */

static sf_i128 parse_ok(const char *text, int prec, int scale)
{
    sf_i128 v = 12345;
    int rc = sf_dec_parse(text, strlen(text), prec, scale, &v);
    if (rc != 0)
        fail_msg("'%s' as decimal(%d,%d): rc %d", text, prec, scale, rc);
    return v;
}

static void expect_text(const char *text, int prec, int scale, const char *want)
{
    char buf[SF_DEC_BUF];
    sf_dec_format(parse_ok(text, prec, scale), scale, buf);
    if (strcmp(buf, want) != 0)
        fail_msg("'%s' as decimal(%d,%d) printed '%s', want '%s'", text, prec, scale, buf, want);
}

static void expect_rc(const char *text, int prec, int scale, int want)
{
    sf_i128 v;
    int rc = sf_dec_parse(text, strlen(text), prec, scale, &v);
    if (rc != want)
        fail_msg("'%s' as decimal(%d,%d): rc %d, want %d", text, prec, scale, rc, want);
}

static sf_i128 big(const char *digits) { return parse_ok(digits, 38, 0); }

/* ---- parsing ---- */

static void test_parse_keeps_the_digits_of_the_text(void **state)
{
    (void)state;
    expect_text("42.10", 18, 2, "42.10");
    expect_text("42.1", 18, 2, "42.10");
    expect_text("7", 18, 2, "7.00");
    expect_text("-0.5", 18, 2, "-0.50");
    expect_text("1e-2", 18, 2, "0.01");
    expect_text("1.5E3", 18, 2, "1500.00");
    expect_text("2.5e+1", 10, 0, "25");
    expect_text("0", 18, 2, "0.00");
    expect_text("-0", 18, 2, "0.00"); /* no negative zero */
    expect_text("494.79", 18, 2, "494.79");
    /* 0.1 + 0.2 is not 0.30000000000000004 here */
    assert_true(parse_ok("0.1", 18, 2) + parse_ok("0.2", 18, 2) == parse_ok("0.3", 18, 2));
}

static void test_parse_rounds_half_to_even(void **state)
{
    (void)state;
    expect_text("0.005", 18, 2, "0.00");
    expect_text("0.015", 18, 2, "0.02");
    expect_text("0.025", 18, 2, "0.02");
    expect_text("0.035", 18, 2, "0.04");
    expect_text("-0.015", 18, 2, "-0.02");
    expect_text("-0.025", 18, 2, "-0.02");
    expect_text("0.0250000000000000000000000000000000000000001", 18, 2, "0.03");
    expect_text("0.02499999", 18, 2, "0.02");
    expect_text("5e-3", 18, 2, "0.00");
    expect_text("1e-400", 18, 2, "0.00");
    expect_text("2.5", 5, 0, "2");
    expect_text("3.5", 5, 0, "4");
    expect_text("0.30000000000000004", 18, 2, "0.30");
}

static void test_parse_refuses_more_digits_than_the_precision(void **state)
{
    (void)state;
    expect_text("9999999999999999.99", 18, 2, "9999999999999999.99");
    expect_rc("10000000000000000", 18, 2, SF_E_RANGE);
    expect_rc("-10000000000000000.00", 18, 2, SF_E_RANGE);
    expect_rc("9999999999999999.995", 18, 2, SF_E_RANGE); /* rounds up to 10^16 */
    expect_rc("1e400", 18, 2, SF_E_RANGE);
    expect_rc("1e16", 18, 2, SF_E_RANGE);
    expect_text("1e15", 18, 2, "1000000000000000.00");
    expect_text("99999999999999999999999999999999999999", 38, 0,
                "99999999999999999999999999999999999999");
    expect_text("-99999999999999999999999999999999999999", 38, 0,
                "-99999999999999999999999999999999999999");
    expect_rc("100000000000000000000000000000000000000", 38, 0, SF_E_RANGE);
    expect_rc("1000000000000000000000000000000000000000000000000000", 38, 0, SF_E_RANGE);
    expect_text("0.12345678901234567890123456789012345678", 38, 38,
                "0.12345678901234567890123456789012345678");
}

static void test_parse_refuses_what_is_not_a_json_number(void **state)
{
    (void)state;
    const char *bad[] = {"", "-", "01", "1.", ".5", "+1", "1e", "1e+", "1.5x", "0x10", " 1",
                         "NaN", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_rc(bad[i], 18, 2, SF_E_PARSE);
}

/* ---- printing, comparing, converting ---- */

static void test_format_prints_exactly_s_places(void **state)
{
    (void)state;
    char buf[SF_DEC_BUF];
    sf_dec_format(99015, 2, buf);
    assert_string_equal(buf, "990.15");
    sf_dec_format(-50, 2, buf);
    assert_string_equal(buf, "-0.50");
    sf_dec_format(0, 2, buf);
    assert_string_equal(buf, "0.00");
    sf_dec_format(5, 0, buf);
    assert_string_equal(buf, "5");
    sf_dec_format(-1, 38, buf);
    assert_string_equal(buf, "-0.00000000000000000000000000000000000001");
    sf_value v = sf_decimal(99015, 2);
    char tb[SF_FMT_BUF];
    assert_int_equal(sf_value_text_format(&v, tb), 6);
    assert_string_equal(tb, "990.15");
}

static void test_text_parse_takes_the_scale_of_the_text(void **state)
{
    (void)state;
    sf_value v;
    assert_int_equal(sf_value_text_parse("990.15", 6, SF_DECIMAL, &v), 0);
    assert_int_equal(v.type, SF_DECIMAL);
    assert_int_equal(v.scale, 2);
    assert_true(sf_decimal_get(&v) == 99015);
    assert_int_equal(sf_value_text_parse("abc", 3, SF_DECIMAL, &v), -1);
}

static void test_compare_is_exact_across_scales_and_with_int64(void **state)
{
    (void)state;
    assert_int_equal(sf_dec_cmp(150, 2, 15, 1), 0);
    assert_int_equal(sf_dec_cmp(151, 2, 15, 1), 1);
    assert_int_equal(sf_dec_cmp(-151, 2, -15, 1), -1);
    assert_int_equal(sf_dec_cmp(-1, 0, 1, 38), -1);
    /* 10^37 at scale 0 against 10^37 at scale 38: the rescale would pass 2^128 */
    assert_int_equal(sf_dec_cmp(big("10000000000000000000000000000000000000"), 0, 5, 38), 1);
    sf_value a = sf_decimal(300, 2), b = sf_int(3), c = sf_decimal(301, 2), n = sf_null();
    assert_int_equal(sf_value_cmp(&a, &b), 0);
    assert_int_equal(sf_value_cmp(&b, &c), -1);
    assert_int_equal(sf_value_cmp(&c, &b), 1);
    assert_int_equal(sf_value_cmp(&n, &a), -1);
    /* the same value at another scale is another group key */
    sf_value d = sf_decimal(30, 1);
    assert_int_equal(sf_value_cmp(&a, &d), 0);
    assert_false(sf_value_same(&a, &d));
    assert_true(sf_value_same(&a, &a));
}

static void test_rescale_and_double_conversions(void **state)
{
    (void)state;
    sf_i128 v;
    assert_int_equal(sf_dec_rescale(12345, 3, 1, 18, &v), 0); /* 12.345 -> 12.3 */
    assert_true(v == 123);
    assert_int_equal(sf_dec_rescale(12350, 3, 1, 18, &v), 0); /* 12.350 -> 12.4 */
    assert_true(v == 124);
    assert_int_equal(sf_dec_rescale(-12250, 3, 1, 18, &v), 0); /* -12.250 -> -12.2 */
    assert_true(v == -122);
    assert_int_equal(sf_dec_rescale(12, 0, 2, 18, &v), 0);
    assert_true(v == 1200);
    assert_int_equal(sf_dec_rescale(12, 0, 2, 3, &v), SF_E_RANGE);
    assert_true(sf_dec_to_double(99015, 2) == 990.15);
    assert_true(sf_dec_to_double(-1, 1) == -0.1);
    assert_int_equal(sf_dec_from_double(0.1, 18, 2, &v), 0);
    assert_true(v == 10);
    assert_int_equal(sf_dec_from_double(990.1500000000001, 18, 2, &v), 0);
    assert_true(v == 99015);
    assert_int_equal(sf_dec_from_double(1e300, 18, 2, &v), SF_E_RANGE);
}

/* ---- sums and means ---- */

static void test_sum_is_exact_and_independent_of_order(void **state)
{
    (void)state;
    sf_i128 nine = big("99999999999999999999999999999999999999");
    /* In this order an int128 would overflow after two additions; the
     * 192-bit accumulator gives the exact total either way. */
    sf_dec_acc a, b, c;
    sf_dec_acc_init(&a);
    sf_dec_acc_init(&b);
    sf_dec_acc_init(&c);
    sf_dec_acc_add(&a, nine);
    sf_dec_acc_add(&a, nine);
    sf_dec_acc_add(&a, nine);
    sf_dec_acc_add(&b, -nine);
    sf_dec_acc_add(&b, -nine);
    sf_dec_acc_add(&b, 7);
    sf_dec_acc_merge(&a, &b); /* nine + 7 */
    sf_i128 out;
    assert_int_equal(sf_dec_acc_get(&a, 38, &out), SF_E_RANGE);
    sf_dec_acc_add(&c, -nine);
    sf_dec_acc_add(&c, -7);
    sf_dec_acc_add(&c, 3);
    sf_dec_acc_merge(&a, &c); /* 3 */
    assert_int_equal(sf_dec_acc_get(&a, 38, &out), 0);
    assert_true(out == 3);
    /* small values, both signs */
    sf_dec_acc_init(&a);
    sf_dec_acc_add(&a, 49479);
    sf_dec_acc_add(&a, 49536);
    assert_int_equal(sf_dec_acc_get(&a, 38, &out), 0);
    assert_true(out == 99015);
    sf_dec_acc_add(&a, -100000);
    assert_int_equal(sf_dec_acc_get(&a, 38, &out), 0);
    assert_true(out == -985);
}

static void test_sum_beyond_38_digits_is_out_of_range(void **state)
{
    (void)state;
    sf_i128 half = big("50000000000000000000000000000000000000"), out;
    sf_dec_acc a;
    sf_dec_acc_init(&a);
    sf_dec_acc_add(&a, half);
    sf_dec_acc_add(&a, half - 1);
    assert_int_equal(sf_dec_acc_get(&a, 38, &out), 0);
    sf_dec_acc_add(&a, 1); /* exactly 10^38 */
    assert_int_equal(sf_dec_acc_get(&a, 38, &out), SF_E_RANGE);
    sf_dec_acc_init(&a);
    sf_dec_acc_add(&a, -half);
    sf_dec_acc_add(&a, -half);
    assert_int_equal(sf_dec_acc_get(&a, 38, &out), SF_E_RANGE);
}

static void test_mean_rounds_half_to_even(void **state)
{
    (void)state;
    sf_i128 out;
    assert_int_equal(sf_dec_mean(5, 2, 0, 38, &out), 0); /* 2.5 -> 2 */
    assert_true(out == 2);
    assert_int_equal(sf_dec_mean(7, 2, 0, 38, &out), 0); /* 3.5 -> 4 */
    assert_true(out == 4);
    assert_int_equal(sf_dec_mean(-7, 2, 0, 38, &out), 0);
    assert_true(out == -4);
    assert_int_equal(sf_dec_mean(100, 3, 4, 38, &out), 0); /* 1.00/3 = 0.333333 */
    assert_true(out == 333333);
    assert_int_equal(sf_dec_mean(200, 3, 4, 38, &out), 0); /* 0.666667 */
    assert_true(out == 666667);
    assert_int_equal(sf_dec_mean(99015, 1, 4, 38, &out), 0);
    assert_true(out == 990150000);
    sf_dec_type t = {18, 2};
    assert_int_equal(sf_dec_type_mean(t).scale, 6);
    assert_int_equal(sf_dec_type_mean(t).prec, 38);
    sf_dec_type wide = {36, 2};
    assert_int_equal(sf_dec_type_mean(wide).scale, 4);
    assert_int_equal(sf_dec_type_sum(t).prec, 38);
    assert_int_equal(sf_dec_type_sum(t).scale, 2);
}

/* ---- codec and type names ---- */

static void test_encode_decode_round_trip(void **state)
{
    (void)state;
    sf_i128 vals[] = {0, 1, -1, 99015, big("-99999999999999999999999999999999999999")};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        sf_value v = sf_decimal(vals[i], 7), w;
        unsigned char b[32];
        assert_int_equal(sf_value_encoded_size(&v), 18);
        assert_int_equal(sf_value_encode(&v, b), 18);
        assert_int_equal(sf_value_decode(b, 18, &w), 18);
        assert_int_equal(w.type, SF_DECIMAL);
        assert_int_equal(w.scale, 7);
        assert_true(sf_decimal_get(&w) == vals[i]);
        assert_int_equal(sf_value_decode(b, 17, &w), 0);
    }
    assert_int_equal(sizeof(sf_value), 24);
}

static void test_type_names(void **state)
{
    (void)state;
    sf_type t;
    sf_dec_type d;
    char buf[24];
    assert_int_equal(sf_type_parse_full("decimal(18,2)", &t, &d), 0);
    assert_int_equal(t, SF_DECIMAL);
    assert_int_equal(d.prec, 18);
    assert_int_equal(d.scale, 2);
    assert_string_equal(sf_type_format(t, d, buf), "decimal(18,2)");
    assert_int_equal(sf_type_parse_full("decimal(38, 38)", &t, &d), 0);
    assert_int_equal(sf_type_parse_full("int64", &t, &d), 0);
    assert_int_equal(t, SF_INT);
    assert_int_equal(d.prec, 0);
    const char *bad[] = {"decimal", "decimal()", "decimal(39,2)", "decimal(0,0)", "decimal(2,3)",
                         "decimal(18,2) ", "decimal(18;2)", "decimal(-1,0)", "decimal(100,2)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sf_type_parse_full(bad[i], &t, &d), SF_E_INVAL);
    assert_int_equal(sf_type_parse("decimal(18,2)", &t), SF_E_INVAL);
    assert_string_equal(sf_type_name(SF_DECIMAL), "decimal");
}

/* ---- expressions ---- */

enum { C_PRICE, C_QTY, C_X, C_RATE, C_NAME, C_BIG, NCOLS };

static int resolve(void *ctx, const char *name, size_t len, int *slot, sf_type *type)
{
    static const struct {
        const char *name;
        sf_type type;
    } cs[] = {{"price", SF_DECIMAL}, {"qty", SF_INT},     {"x", SF_DOUBLE},
              {"rate", SF_DECIMAL},  {"name", SF_STRING}, {"big", SF_DECIMAL}};
    (void)ctx;
    for (int i = 0; i < NCOLS; i++) {
        if (strlen(cs[i].name) == len && memcmp(cs[i].name, name, len) == 0) {
            *slot = i;
            *type = cs[i].type;
            return 0;
        }
    }
    return -1;
}

static void decimal_of(void *ctx, int slot, sf_dec_type *d)
{
    (void)ctx;
    d->prec = slot == C_PRICE ? 18 : slot == C_BIG ? 38 : 10;
    d->scale = slot == C_PRICE ? 2 : slot == C_BIG ? 0 : 4;
}

static const sf_expr_columns cols = {resolve, NULL, decimal_of};

static void row_init(sf_value *row)
{
    row[C_PRICE] = sf_decimal(99015, 2);  /* 990.15 */
    row[C_QTY] = sf_int(3);
    row[C_X] = sf_double(0.5);
    row[C_RATE] = sf_decimal(1250, 4);    /* 0.1250 */
    row[C_NAME] = sf_string("a", 1);
    row[C_BIG] = sf_decimal(0, 0);
}

/* Parses text, checks its static type, evaluates it over the test row and
 * compares the text of the result. */
static void expect_eval(const char *text, const char *type, const char *want)
{
    sf_error err;
    sf_expr *e = sf_expr_parse(text, &cols, 0, &err);
    if (!e)
        fail_msg("'%s': %s", text, err.msg);
    char tb[24];
    if (strcmp(sf_type_format(sf_expr_type(e), sf_expr_decimal(e), tb), type) != 0)
        fail_msg("'%s' is %s, want %s", text, tb, type);
    sf_value row[NCOLS];
    row_init(row);
    sf_value v = sf_expr_eval(e, row, NULL);
    char buf[SF_FMT_BUF];
    const char *p = "NULL";
    size_t n = v.type == SF_NULL ? 4 : sf_value_text(&v, buf, &p);
    if (strlen(want) != n || memcmp(p, want, n) != 0)
        fail_msg("'%s' gave '%.*s', want '%s'", text, (int)n, p, want);
    if (v.type == SF_DECIMAL)
        assert_int_equal(v.scale, sf_expr_decimal(e).scale);
    sf_expr_free(e);
}

static void expect_error(const char *text, const char *want)
{
    sf_error err;
    sf_expr *e = sf_expr_parse(text, &cols, 0, &err);
    if (e)
        fail_msg("'%s' parsed; want error '%s'", text, want);
    assert_string_equal(err.msg, want);
}

static void test_expr_arithmetic_types_and_values(void **state)
{
    (void)state;
    expect_eval("price", "decimal(18,2)", "990.15");
    expect_eval("price + 1", "decimal(19,2)", "991.15");
    expect_eval("price - qty", "decimal(22,2)", "987.15");
    expect_eval("price * qty", "decimal(37,2)", "2970.45");
    expect_eval("price * rate", "decimal(28,6)", "123.768750");
    expect_eval("price + rate", "decimal(21,4)", "990.2750");
    expect_eval("-price", "decimal(18,2)", "-990.15");
    expect_eval("abs(-price)", "decimal(18,2)", "990.15");
    expect_eval("price % 7", "decimal(18,2)", "3.15");
    expect_eval("price + 0.5", "decimal(19,2)", "990.65");
    expect_eval("price * 0.1", "decimal(19,3)", "99.015");
    expect_eval("price / 2", "double", "495.075");
    expect_eval("if(qty > 2, price, 0)", "decimal(18,2)", "990.15");
    expect_eval("if(qty > 5, price, 0)", "decimal(18,2)", "0.00");
    expect_eval("if(qty > 5, price, 0.0)", "decimal(18,2)", "0.00");
    expect_eval("coalesce(null, rate, price)", "decimal(20,4)", "0.1250");
    expect_eval("if(qty > 5, price, null)", "decimal(18,2)", "NULL");
    expect_eval("price + null", "decimal(19,2)", "NULL");
}

static void test_expr_comparisons_are_exact(void **state)
{
    (void)state;
    expect_eval("price == 990.15", "bool", "true");
    expect_eval("price > 990.149999", "bool", "true");
    expect_eval("price < 991", "bool", "true");
    expect_eval("price >= qty", "bool", "true");
    expect_eval("rate == 0.125", "bool", "true");
    expect_eval("price * 2 == 1980.3", "bool", "true");
}

static void test_expr_overflow_gives_null(void **state)
{
    (void)state;
    /* decimal(18,2) * decimal(18,2) ... capped at 38 digits */
    expect_eval("price * price * price * price * price * price * price * price * price * price "
                "* price * price * price * price * price * price * price * price * price",
                "decimal(38,38)", "NULL");
}

static void test_expr_double_with_decimal_says_to_cast(void **state)
{
    (void)state;
    expect_error("price + x", "cannot apply '+' to decimal(18,2) and double: cast one side "
                              "(cast(x, 'double') or cast(x, 'decimal(18,2)')) at 1:7");
    expect_error("x * rate", "cannot apply '*' to decimal(10,4) and double: cast one side "
                             "(cast(x, 'double') or cast(x, 'decimal(10,4)')) at 1:3");
    expect_error("price < x", "cannot apply '<' to decimal(18,2) and double: cast one side "
                              "(cast(x, 'double') or cast(x, 'decimal(18,2)')) at 1:7");
    expect_error("if(true, price, x)", "cannot apply if() to decimal(18,2) and double: cast one "
                                       "side (cast(x, 'double') or cast(x, 'decimal(18,2)')) "
                                       "at 1:1");
    expect_error("price + name", "cannot apply '+' to decimal and string at 1:7");
}

static void test_expr_aggregate_types(void **state)
{
    (void)state;
    const char *texts[] = {"sum(price)", "mean(price)", "min(rate)", "sum(price * qty)"};
    const char *want[] = {"decimal(38,2)", "decimal(38,6)", "decimal(10,4)", "decimal(38,2)"};
    for (size_t i = 0; i < 4; i++) {
        sf_error err;
        sf_expr *e = sf_expr_parse(texts[i], &cols, SF_EXPR_ALLOW_AGG, &err);
        if (!e)
            fail_msg("'%s': %s", texts[i], err.msg);
        char tb[24];
        assert_string_equal(sf_type_format(sf_expr_type(e), sf_expr_decimal(e), tb), want[i]);
        sf_expr_free(e);
    }
}

/* ---- groups: partial aggregates merged as the shuffle merges them ---- */

#define NDEC_AGGS 5
static const char *const dec_aggs[NDEC_AGGS] = {"sum(price)", "mean(price)",
                                                "count_distinct(price)", "min(price)",
                                                "max(price)"};

static sf_groups *dec_groups(sf_expr **exprs)
{
    sf_agg_def defs[NDEC_AGGS];
    memset(defs, 0, sizeof defs);
    for (int j = 0; j < NDEC_AGGS; j++) {
        sf_error err;
        exprs[j] = sf_expr_parse(dec_aggs[j], &cols, SF_EXPR_ALLOW_AGG, &err);
        assert_non_null(exprs[j]);
        defs[j].kind = sf_expr_agg_kind(exprs[j]);
        defs[j].arg = sf_expr_agg_arg(exprs[j]);
        defs[j].arg_type = sf_expr_type(defs[j].arg);
        defs[j].arg_dec = sf_expr_decimal(defs[j].arg);
        defs[j].out_type = sf_expr_type(exprs[j]);
        defs[j].out_dec = sf_expr_decimal(exprs[j]);
    }
    sf_groups *g = sf_groups_new(defs, NDEC_AGGS);
    assert_non_null(g);
    return g;
}

static void feed_price(sf_groups *g, const char *key, const char *price)
{
    sf_value row[NCOLS];
    row_init(row);
    sf_i128 v;
    if (price) {
        assert_int_equal(sf_dec_parse(price, strlen(price), 18, 2, &v), 0);
        row[C_PRICE] = sf_decimal(v, 2);
    } else {
        row[C_PRICE] = sf_null();
    }
    sf_value k = sf_string(key, strlen(key));
    unsigned char kb[32];
    size_t kl = sf_value_encode(&k, kb);
    assert_int_equal(sf_groups_update(g, kb, kl, sf_groups_hash(kb, kl), row, NULL), 0);
}

static void expect_result(const sf_groups *g, size_t j, const char *want)
{
    int overflow = 0;
    sf_value v = sf_groups_result(g, 0, j, &overflow);
    assert_int_equal(overflow, 0);
    char buf[SF_FMT_BUF];
    const char *p;
    size_t n = sf_value_text(&v, buf, &p);
    if (strlen(want) != n || memcmp(p, want, n) != 0)
        fail_msg("%s gave '%.*s', want '%s'", dec_aggs[j], (int)n, p, want);
}

static void test_groups_merge_decimal_states_exactly(void **state)
{
    (void)state;
    sf_expr *ea[NDEC_AGGS], *eb[NDEC_AGGS];
    sf_groups *a = dec_groups(ea), *b = dec_groups(eb);
    feed_price(a, "x", "0.10");
    feed_price(a, "x", "0.20");
    feed_price(a, "x", "0.10");
    feed_price(b, "x", "0.30");
    feed_price(b, "x", NULL);
    /* b's partial state travels to a, as the shuffle sends it */
    sf_buf rec = SF_BUF_INIT;
    assert_int_equal(sf_groups_prepare_export(b), 0);
    assert_int_equal(sf_groups_export(b, 0, &rec), 0);
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_groups_merge_record(a, rec.p, rec.n, &err), 0);
    assert_int_equal(sf_groups_prepare_export(a), 0);
    expect_result(a, 0, "0.70");
    expect_result(a, 1, "0.175000"); /* 0.70 / 4, decimal(38,6) */
    expect_result(a, 2, "3");
    expect_result(a, 3, "0.10");
    expect_result(a, 4, "0.30");
    /* a truncated record is refused */
    assert_int_equal(sf_groups_merge_record(a, rec.p, rec.n - 1, &err), SF_E_PARSE);
    sf_buf_free(&rec);
    sf_groups_free(a);
    sf_groups_free(b);
    for (int j = 0; j < NDEC_AGGS; j++) {
        sf_expr_free(ea[j]);
        sf_expr_free(eb[j]);
    }
}

static void test_groups_decimal_sum_overflow_is_reported(void **state)
{
    (void)state;
    sf_expr *e[NDEC_AGGS];
    sf_groups *g = dec_groups(e);
    for (int i = 0; i < 3; i++)
        feed_price(g, "y", "9999999999999999.99"); /* the largest decimal(18,2) */
    assert_int_equal(sf_groups_prepare_export(g), 0);
    expect_result(g, 0, "29999999999999999.97"); /* 20 digits: fits decimal(38,2) */
    sf_groups_free(g);
    for (int j = 0; j < NDEC_AGGS; j++)
        sf_expr_free(e[j]);

    /* decimal(38,0) values: eleven of the largest pass 38 digits */
    sf_agg_def def;
    memset(&def, 0, sizeof def);
    sf_error err;
    sf_expr *sum = sf_expr_parse("sum(big)", &cols, SF_EXPR_ALLOW_AGG, &err);
    assert_non_null(sum);
    def.kind = SF_AGG_SUM;
    def.arg = sf_expr_agg_arg(sum);
    def.arg_type = SF_DECIMAL;
    def.arg_dec = sf_expr_decimal(def.arg);
    def.out_type = SF_DECIMAL;
    def.out_dec = sf_expr_decimal(sum);
    g = sf_groups_new(&def, 1);
    sf_value row[NCOLS];
    row_init(row);
    row[C_BIG] = sf_decimal(sf_dec_pow10(38) - 1, 0);
    unsigned char kb[4];
    sf_value k = sf_null();
    size_t kl = sf_value_encode(&k, kb);
    for (int i = 0; i < 11; i++)
        assert_int_equal(sf_groups_update(g, kb, kl, sf_groups_hash(kb, kl), row, NULL), 0);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    int overflow = 0;
    sf_value v = sf_groups_result(g, 0, 0, &overflow);
    assert_int_equal(overflow, 2);
    assert_int_equal(v.type, SF_NULL);
    sf_groups_free(g);
    sf_expr_free(sum);
}

/* ---- cast, round, floor, ceil ---- */

static void test_expr_cast_to_decimal(void **state)
{
    (void)state;
    expect_eval("cast(qty, 'decimal(10,2)')", "decimal(10,2)", "3.00");
    expect_eval("cast(-qty, 'decimal(1,0)')", "decimal(1,0)", "-3");
    expect_eval("cast(x, 'decimal(5,3)')", "decimal(5,3)", "0.500");
    expect_eval("cast(0.1, 'decimal(18,2)')", "decimal(18,2)", "0.10");
    expect_eval("cast(-2.675, 'decimal(4,2)')", "decimal(4,2)", "-2.68"); /* text, not binary */
    expect_eval("cast(' 42.105 ', 'decimal(10,2)')", "decimal(10,2)", "42.10"); /* half even */
    expect_eval("cast('42.115', 'decimal(10, 2)')", "decimal(10,2)", "42.12");
    expect_eval("cast('-1e-2', 'decimal(4,3)')", "decimal(4,3)", "-0.010");
    expect_eval("cast(price, 'decimal(4,1)')", "decimal(4,1)", "990.2");
    expect_eval("cast(-price, 'decimal(38,10)')", "decimal(38,10)", "-990.1500000000");
    expect_eval("cast(price, 'decimal(18,2)')", "decimal(18,2)", "990.15");
    expect_eval("cast(true, 'decimal(3,2)')", "decimal(3,2)", "1.00");
    expect_eval("cast(qty, 'decimal(38,37)')", "decimal(38,37)",
                "3.0000000000000000000000000000000000000");
}

static void test_expr_cast_to_decimal_that_does_not_fit_is_null(void **state)
{
    (void)state;
    expect_eval("cast(price, 'decimal(3,1)')", "decimal(3,1)", "NULL");
    expect_eval("cast(qty * 4, 'decimal(38,37)')", "decimal(38,37)", "NULL");
    expect_eval("cast(true, 'decimal(2,2)')", "decimal(2,2)", "NULL");
    expect_eval("cast(1e300, 'decimal(38,0)')", "decimal(38,0)", "NULL");
    expect_eval("cast(x / 0.0, 'decimal(38,0)')", "decimal(38,0)", "NULL");
    expect_eval("cast('abc', 'decimal(10,2)')", "decimal(10,2)", "NULL");
    expect_eval("cast('  ', 'decimal(10,2)')", "decimal(10,2)", "NULL");
    expect_eval("cast('1,5', 'decimal(10,2)')", "decimal(10,2)", "NULL");
    expect_eval("cast(null, 'decimal(5,1)')", "decimal(5,1)", "NULL");
}

static void test_expr_cast_from_decimal(void **state)
{
    (void)state;
    expect_eval("cast(price, 'double')", "double", "990.15");
    expect_eval("cast(rate, 'double')", "double", "0.125");
    expect_eval("cast(price, 'int64')", "int64", "990");
    expect_eval("cast(-price, 'int64')", "int64", "-990");
    expect_eval("cast(price, 'bool')", "bool", "true");
    expect_eval("cast(big, 'bool')", "bool", "false");
    expect_eval("cast(cast(null, 'decimal(3,1)'), 'int64')", "int64", "NULL");
}

static void test_expr_cast_decimal_to_int64_rounds_half_to_even(void **state)
{
    (void)state;
    expect_eval("cast(cast('2.5', 'decimal(2,1)'), 'int64')", "int64", "2");
    expect_eval("cast(cast('3.5', 'decimal(2,1)'), 'int64')", "int64", "4");
    expect_eval("cast(cast('-2.5', 'decimal(2,1)'), 'int64')", "int64", "-2");
    expect_eval("cast(cast('-3.5', 'decimal(2,1)'), 'int64')", "int64", "-4");
    expect_eval("cast(cast('2.51', 'decimal(3,2)'), 'int64')", "int64", "3");
    expect_eval("cast(cast('9223372036854775807.4', 'decimal(20,1)'), 'int64')", "int64",
                "9223372036854775807");
    expect_eval("cast(cast('9223372036854775807.5', 'decimal(20,1)'), 'int64')", "int64", "NULL");
    expect_eval("cast(cast('-9223372036854775808.5', 'decimal(20,1)'), 'int64')", "int64",
                "-9223372036854775808");
    expect_eval("cast(cast('-9223372036854775809', 'decimal(19,0)'), 'int64')", "int64", "NULL");
}

static void test_expr_cast_decimal_errors(void **state)
{
    (void)state;
    expect_error("cast(price, 'date')", "cannot cast decimal(18,2) to date at 1:1");
    expect_error("cast(name, 'decimal(39,2)')",
                 "cast() to unknown type 'decimal(39,2)' (bool, int64, double, decimal(P,S), "
                 "string, date, timestamp) at 1:12");
    expect_error("cast(qty, 'decimal(2,3)')",
                 "cast() to unknown type 'decimal(2,3)' (bool, int64, double, decimal(P,S), "
                 "string, date, timestamp) at 1:11");
}

static void test_expr_round_decimal_half_away_from_zero(void **state)
{
    (void)state;
    expect_eval("round(price)", "decimal(18,0)", "990");
    expect_eval("round(price, 1)", "decimal(18,1)", "990.2");
    expect_eval("round(-price, 1)", "decimal(18,1)", "-990.2");
    expect_eval("round(price, 2)", "decimal(18,2)", "990.15");
    expect_eval("round(price, 5)", "decimal(18,2)", "990.15");
    expect_eval("round(price * 1.19, 2)", "decimal(21,2)", "1178.28"); /* docs/job-spec.md */
    expect_eval("round(cast('2.5', 'decimal(2,1)'))", "decimal(2,0)", "3");
    expect_eval("round(cast('-2.5', 'decimal(2,1)'))", "decimal(2,0)", "-3");
    expect_eval("round(cast('0.125', 'decimal(3,3)'), 2)", "decimal(3,2)", "0.13");
    expect_eval("round(cast('-0.125', 'decimal(3,3)'), 2)", "decimal(3,2)", "-0.13");
    expect_eval("round(cast('0.1249', 'decimal(4,4)'), 2)", "decimal(4,2)", "0.12");
    expect_eval("round(cast('9.99', 'decimal(3,2)'), 1)", "decimal(3,1)", "10.0");
    expect_eval("round(cast('-99.5', 'decimal(3,1)'))", "decimal(3,0)", "-100");
}

static void test_expr_round_decimal_to_tens(void **state)
{
    (void)state;
    expect_eval("round(price, -1)", "decimal(17,0)", "990");
    expect_eval("round(price, -2)", "decimal(17,0)", "1000");
    expect_eval("round(-price, -3)", "decimal(17,0)", "-1000");
    expect_eval("round(price, -4)", "decimal(17,0)", "0");
    expect_eval("round(price, -100)", "decimal(17,0)", "0");
    expect_eval("round(cast(qty * 333, 'decimal(3,0)'), -1)", "decimal(4,0)", "1000");
    expect_eval("round(cast('-0.99', 'decimal(2,2)'), -1)", "decimal(1,0)", "0");
    /* 38 nines round to 10^38, beyond decimal(38,0) */
    expect_eval("round(cast('99999999999999999999999999999999999999', 'decimal(38,0)'), -1)",
                "decimal(38,0)", "NULL");
    expect_eval("round(cast('99999999999999999999999999999999999994', 'decimal(38,0)'), -1)",
                "decimal(38,0)", "99999999999999999999999999999999999990");
}

static void test_expr_round_decimal_places_from_an_expression(void **state)
{
    (void)state;
    expect_eval("round(price, qty - 2)", "decimal(19,2)", "990.20");
    expect_eval("round(price, qty - 5)", "decimal(19,2)", "1000.00");
    expect_eval("round(price, qty)", "decimal(19,2)", "990.15");
    expect_eval("round(price, -qty * 1000)", "decimal(19,2)", "0.00");
    expect_eval("round(price, cast(null, 'int64'))", "decimal(19,2)", "NULL");
    expect_eval("round(cast('99999999999999999999999999999999999999', 'decimal(38,0)'), "
                "qty - 4)", "decimal(38,0)", "NULL");
    expect_eval("round(cast(null, 'decimal(5,2)'), 1)", "decimal(5,1)", "NULL");
    expect_error("round(price, 'a')", "round() argument 2 must be int64, got string at 1:14");
    expect_error("round(price, 1.5)", "round() argument 2 must be int64, got double at 1:14");
}

static void test_expr_floor_and_ceil_of_decimals(void **state)
{
    (void)state;
    expect_eval("floor(price)", "decimal(18,0)", "990");
    expect_eval("ceil(price)", "decimal(18,0)", "991");
    expect_eval("floor(-price)", "decimal(18,0)", "-991");
    expect_eval("ceil(-price)", "decimal(18,0)", "-990");
    expect_eval("floor(cast('-0.5', 'decimal(2,1)'))", "decimal(2,0)", "-1");
    expect_eval("ceil(cast('-0.5', 'decimal(2,1)'))", "decimal(2,0)", "0");
    expect_eval("floor(cast('3.00', 'decimal(3,2)'))", "decimal(3,0)", "3");
    expect_eval("ceil(cast('-3.00', 'decimal(3,2)'))", "decimal(3,0)", "-3");
    expect_eval("ceil(cast('9.01', 'decimal(3,2)'))", "decimal(3,0)", "10");
    expect_eval("ceil(cast('0.99', 'decimal(2,2)'))", "decimal(2,0)", "1");
    expect_eval("floor(big)", "decimal(38,0)", "0");
    expect_eval("floor(cast(null, 'decimal(5,2)'))", "decimal(5,0)", "NULL");
    expect_eval("ceil(rate)", "decimal(10,0)", "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_keeps_the_digits_of_the_text),
        cmocka_unit_test(test_parse_rounds_half_to_even),
        cmocka_unit_test(test_parse_refuses_more_digits_than_the_precision),
        cmocka_unit_test(test_parse_refuses_what_is_not_a_json_number),
        cmocka_unit_test(test_format_prints_exactly_s_places),
        cmocka_unit_test(test_text_parse_takes_the_scale_of_the_text),
        cmocka_unit_test(test_compare_is_exact_across_scales_and_with_int64),
        cmocka_unit_test(test_rescale_and_double_conversions),
        cmocka_unit_test(test_sum_is_exact_and_independent_of_order),
        cmocka_unit_test(test_sum_beyond_38_digits_is_out_of_range),
        cmocka_unit_test(test_mean_rounds_half_to_even),
        cmocka_unit_test(test_encode_decode_round_trip),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_expr_arithmetic_types_and_values),
        cmocka_unit_test(test_expr_comparisons_are_exact),
        cmocka_unit_test(test_expr_overflow_gives_null),
        cmocka_unit_test(test_expr_double_with_decimal_says_to_cast),
        cmocka_unit_test(test_expr_aggregate_types),
        cmocka_unit_test(test_groups_merge_decimal_states_exactly),
        cmocka_unit_test(test_groups_decimal_sum_overflow_is_reported),
        cmocka_unit_test(test_expr_cast_to_decimal),
        cmocka_unit_test(test_expr_cast_to_decimal_that_does_not_fit_is_null),
        cmocka_unit_test(test_expr_cast_from_decimal),
        cmocka_unit_test(test_expr_cast_decimal_to_int64_rounds_half_to_even),
        cmocka_unit_test(test_expr_cast_decimal_errors),
        cmocka_unit_test(test_expr_round_decimal_half_away_from_zero),
        cmocka_unit_test(test_expr_round_decimal_to_tens),
        cmocka_unit_test(test_expr_round_decimal_places_from_an_expression),
        cmocka_unit_test(test_expr_floor_and_ceil_of_decimals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
