/* test_expr.c - unit tests of the expression language: precedence, every
 * operator and function with its types, NULL semantics, the daily KPI
 * expressions, every error message with its position, aggregates and the
 * column visitor.
 *
 * Every successful evaluation also checks that the result has the static
 * type sf_expr_type() announced (or is NULL), the promise callers rely on.
 * Dates are written as day numbers: 2025-08-01 is day 20301. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/decimal.h"
#include "core/expr.h"

#define DAY_2025_07_01 20270
#define DAY_2025_07_31 20300
#define DAY_2025_08_01 20301

enum {
    S_EVENT_TYPE,
    S_PRICE,
    S_REVENUE,
    S_TS,
    S_QTY,
    S_DAY,
    S_FLAG,
    S_NAME,
    S_X,
    S_BIG,
    S_A,
    S_B,
    S_AT,
    NSLOTS
};

static const struct {
    const char *name;
    int slot;
    sf_type type;
} columns[] = {
    {"event_type", S_EVENT_TYPE, SF_STRING}, {"props.price", S_PRICE, SF_DOUBLE},
    {"revenue", S_REVENUE, SF_DOUBLE},       {"ts", S_TS, SF_INT},
    {"qty", S_QTY, SF_INT},                  {"day", S_DAY, SF_DATE},
    {"flag", S_FLAG, SF_BOOL},               {"name", S_NAME, SF_STRING},
    {"x", S_X, SF_DOUBLE},                   {"big", S_BIG, SF_INT},
    {"a", S_A, SF_INT},                      {"b", S_B, SF_INT},
    {"at", S_AT, SF_TIMESTAMP},
};

static int resolve(void *ctx, const char *name, size_t len, int *slot, sf_type *type)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
        if (strlen(columns[i].name) == len && memcmp(columns[i].name, name, len) == 0) {
            *slot = columns[i].slot;
            *type = columns[i].type;
            return 0;
        }
    }
    return -1;
}

static const sf_expr_columns cols = {resolve, NULL, NULL};

/* A row with every slot NULL; tests set the slots they use. */
static void empty_row(sf_value *row)
{
    for (int i = 0; i < NSLOTS; i++)
        row[i] = sf_null();
}

static void describe(sf_value v, char *buf, size_t n)
{
    switch ((sf_type)v.type) {
    case SF_NULL: snprintf(buf, n, "NULL"); break;
    case SF_BOOL: snprintf(buf, n, "bool %d", v.u.b); break;
    case SF_INT: snprintf(buf, n, "int64 %lld", (long long)v.u.i); break;
    case SF_DOUBLE: snprintf(buf, n, "double %.17g", v.u.d); break;
    case SF_DATE: snprintf(buf, n, "date %d", (int)v.u.date); break;
    case SF_STRING: snprintf(buf, n, "string '%.*s'", (int)v.u.s.n, v.u.s.p); break;
    default: snprintf(buf, n, "bad type %d", v.type); break;
    }
}

static int same_value(sf_value a, sf_value b)
{
    if (a.type != b.type)
        return 0;
    switch ((sf_type)a.type) {
    case SF_NULL: return 1;
    case SF_BOOL: return a.u.b == b.u.b;
    case SF_INT:
    case SF_TIMESTAMP: return a.u.i == b.u.i;
    case SF_DOUBLE:
        /* Bitwise, so 0.0 and -0.0 differ; any NaN matches any NaN. */
        if (isnan(a.u.d) || isnan(b.u.d))
            return isnan(a.u.d) && isnan(b.u.d);
        return memcmp(&a.u.d, &b.u.d, sizeof(double)) == 0;
    case SF_DATE: return a.u.date == b.u.date;
    case SF_STRING:
        return a.u.s.n == b.u.s.n && (a.u.s.n == 0 || memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0);
    case SF_DECIMAL: return a.scale == b.scale && sf_value_cmp(&a, &b) == 0;
    }
    return 0;
}

static sf_expr *parse_ok(const char *text, int flags, int line)
{
    sf_error err;
    sf_expr *e = sf_expr_parse(text, &cols, flags, &err);
    if (!e)
        fail_msg("line %d: \"%s\" did not parse: %s", line, text, err.msg);
    assert_int_equal(err.code, 0);
    return e;
}

/* Fails when got (from sf_expr_eval and the compiled forms) is not the
 * interpreter's value; where says which evaluation. */
static void expect_as_tree(sf_value got, sf_value tree, const char *text, const char *where,
                           int line)
{
    if (same_value(got, tree))
        return;
    char gs[128], ws[128];
    describe(got, gs, sizeof gs);
    describe(tree, ws, sizeof ws);
    fail_msg("line %d: \"%s\"%s gave %s, the interpreter %s", line, text, where, gs, ws);
}

static void check_value(const char *text, const sf_value *row, sf_value want, int line)
{
    sf_value nulls[NSLOTS];
    if (!row) {
        empty_row(nulls);
        row = nulls;
    }
    sf_expr *e = parse_ok(text, 0, line);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    sf_value got = sf_expr_eval(e, row, &scratch);
    sf_value tree = sf_expr_eval_tree(e, row, &scratch);
    expect_as_tree(got, tree, text, "", line);
    char gs[128], ws[128];
    describe(got, gs, sizeof gs);
    describe(want, ws, sizeof ws);
    if (!same_value(got, want))
        fail_msg("line %d: \"%s\" gave %s, want %s", line, text, gs, ws);
    if (got.type != SF_NULL && got.type != sf_expr_type(e))
        fail_msg("line %d: \"%s\" gave %s but its static type is %s", line, text, gs,
                 sf_type_name(sf_expr_type(e)));
    sf_arena_free(&scratch);
    sf_expr_free(e);
}

static void check_type(const char *text, sf_type want, int line)
{
    sf_expr *e = parse_ok(text, 0, line);
    if (sf_expr_type(e) != want)
        fail_msg("line %d: \"%s\" has static type %s, want %s", line, text,
                 sf_type_name(sf_expr_type(e)), sf_type_name(want));
    sf_expr_free(e);
}

/* Checks the exact message, the code, and that err->line/column/offset
 * agree with the "at L:C" the message ends with. */
static void check_error(const char *text, int flags, int code, const char *want, int line)
{
    sf_error err;
    sf_expr *e = sf_expr_parse(text, &cols, flags, &err);
    if (e) {
        sf_expr_free(e);
        fail_msg("line %d: \"%s\" parsed, want error \"%s\"", line, text, want);
    }
    if (strcmp(err.msg, want) != 0)
        fail_msg("line %d: \"%s\" gave error \"%s\", want \"%s\"", line, text, err.msg, want);
    if (err.code != code)
        fail_msg("line %d: \"%s\" gave code %d, want %d", line, text, err.code, code);
    const char *at = strstr(want, " at ");
    int l = 0, c = 0;
    while (at && strstr(at + 1, " at "))
        at = strstr(at + 1, " at ");
    assert_non_null(at);
    assert_int_equal(sscanf(at, " at %d:%d", &l, &c), 2);
    assert_int_equal(err.line, l);
    assert_int_equal(err.column, c);
    /* Recompute the offset from line and column. */
    int64_t off = 0;
    for (int k = 1; k < l; k++)
        off = (int64_t)(strchr(text + off, '\n') - text) + 1;
    assert_int_equal(err.offset, off + c - 1);
}

#define EXPECT(text, row, want) check_value(text, row, want, __LINE__)
#define EXPECT_INT(text, row, i) EXPECT(text, row, sf_int(i))
#define EXPECT_DBL(text, row, d) EXPECT(text, row, sf_double(d))
#define EXPECT_BOOL(text, row, b) EXPECT(text, row, sf_bool(b))
#define EXPECT_DATE(text, row, d) EXPECT(text, row, sf_date(d))
#define EXPECT_STR(text, row, s) EXPECT(text, row, sf_string(s, strlen(s)))
#define EXPECT_NULL(text, row) EXPECT(text, row, sf_null())
#define EXPECT_TYPE(text, t) check_type(text, t, __LINE__)
#define EXPECT_ERR(text, code, msg) check_error(text, 0, code, msg, __LINE__)
#define EXPECT_AGG_ERR(text, code, msg) check_error(text, SF_EXPR_ALLOW_AGG, code, msg, __LINE__)

/* ------------------------------------------------ precedence, assoc */

static void test_slot_of_a_bare_column_and_minus_one_otherwise(void **state)
{
    (void)state;
    sf_expr *e = parse_ok("ts", 0, __LINE__);
    assert_int_equal(sf_expr_slot(e), S_TS);
    sf_expr_free(e);
    e = parse_ok("ts + 1", 0, __LINE__);
    assert_int_equal(sf_expr_slot(e), -1);
    sf_expr_free(e);
    e = parse_ok("(props.price)", 0, __LINE__);
    assert_int_equal(sf_expr_slot(e), S_PRICE);
    sf_expr_free(e);
    e = parse_ok("1", 0, __LINE__);
    assert_int_equal(sf_expr_slot(e), -1);
    sf_expr_free(e);
    assert_int_equal(sf_expr_slot(NULL), -1);
}

static void test_mul_binds_tighter_than_add(void **state)
{
    (void)state;
    EXPECT_INT("1 + 2 * 3", NULL, 7);
    EXPECT_INT("(1 + 2) * 3", NULL, 9);
    EXPECT_INT("2 * 3 + 1", NULL, 7);
    EXPECT_DBL("10 - 4 / 2", NULL, 8.0);
    EXPECT_INT("1 + 7 % 4", NULL, 4);
}

static void test_binary_operators_are_left_associative(void **state)
{
    (void)state;
    EXPECT_INT("10 - 3 - 2", NULL, 5);
    EXPECT_DBL("8 / 4 / 2", NULL, 1.0);
    EXPECT_INT("100 % 7 % 3", NULL, 2);
    EXPECT_INT("2 * 3 % 4", NULL, 2);
    EXPECT_INT("1 - 2 + 3", NULL, 2);
}

static void test_unary_minus_binds_tighter_than_binary(void **state)
{
    (void)state;
    EXPECT_INT("-2 * 3", NULL, -6);
    EXPECT_INT("- 2 - 3", NULL, -5);
    EXPECT_INT("-(2 + 3)", NULL, -5);
    EXPECT_INT("--4", NULL, 4);
    EXPECT_INT("2 - -3", NULL, 5);
}

static void test_comparison_binds_looser_than_arithmetic(void **state)
{
    (void)state;
    EXPECT_BOOL("1 + 1 == 2", NULL, 1);
    EXPECT_BOOL("2 * 3 > 5", NULL, 1);
    EXPECT_BOOL("2 < 1 + 2 * 3", NULL, 1);
}

static void test_and_binds_tighter_than_or(void **state)
{
    (void)state;
    EXPECT_BOOL("true || false && false", NULL, 1);
    EXPECT_BOOL("(true || false) && false", NULL, 0);
    EXPECT_BOOL("false && true || true", NULL, 1);
    EXPECT_BOOL("1 < 2 && 3 < 4 || false", NULL, 1);
}

static void test_not_binds_tighter_than_and(void **state)
{
    (void)state;
    EXPECT_BOOL("!false && false", NULL, 0);
    EXPECT_BOOL("!(false && false)", NULL, 1);
    EXPECT_BOOL("!!true", NULL, 1);
    EXPECT_BOOL("!(1 > 2)", NULL, 1);
}

static void test_whitespace_and_newlines_between_tokens(void **state)
{
    (void)state;
    EXPECT_INT("\t1\n+\r\n 2  *\n3 ", NULL, 7);
    EXPECT_STR("lower ('A')", NULL, "a");
}

/* ---------------------------------------------------------- arithmetic */

static void test_int_arithmetic_stays_int64(void **state)
{
    (void)state;
    EXPECT_INT("7 + 3", NULL, 10);
    EXPECT_INT("7 - 10", NULL, -3);
    EXPECT_INT("6 * 7", NULL, 42);
    EXPECT_INT("7 % 3", NULL, 1);
    EXPECT_TYPE("qty + 1", SF_INT);
    EXPECT_TYPE("qty * qty - qty % 2", SF_INT);
}

static void test_int_modulo_sign_follows_c(void **state)
{
    (void)state;
    EXPECT_INT("-7 % 3", NULL, -1);
    EXPECT_INT("7 % -3", NULL, 1);
    EXPECT_INT("-7 % -3", NULL, -1);
}

static void test_mixed_int_double_arithmetic_gives_double(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_QTY] = sf_int(3);
    row[S_X] = sf_double(1.5);
    EXPECT_DBL("1 + 0.5", NULL, 1.5);
    EXPECT_DBL("qty * x", row, 4.5);
    EXPECT_DBL("x - qty", row, -1.5);
    EXPECT_DBL("qty + 0.0", row, 3.0);
    EXPECT_DBL("2.5 * 2", NULL, 5.0);
    EXPECT_TYPE("qty * x", SF_DOUBLE);
    EXPECT_TYPE("1 + 0.5", SF_DOUBLE);
}

static void test_double_modulo_uses_fmod(void **state)
{
    (void)state;
    EXPECT_DBL("7.5 % 2", NULL, 1.5);
    EXPECT_DBL("-7.5 % 2", NULL, -1.5);
    EXPECT_DBL("7 % 2.5", NULL, 2.0);
}

static void test_division_always_gives_double(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_QTY] = sf_int(7);
    EXPECT_DBL("7 / 2", NULL, 3.5);
    EXPECT_DBL("6 / 3", NULL, 2.0);
    EXPECT_DBL("1.0 / 4", NULL, 0.25);
    EXPECT_DBL("qty / 2", row, 3.5);
    EXPECT_TYPE("qty / qty", SF_DOUBLE);
}

static void test_division_by_zero_gives_null(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_QTY] = sf_int(0);
    row[S_X] = sf_double(2.0);
    EXPECT_NULL("1 / 0", NULL);
    EXPECT_NULL("0 / 0", NULL);
    EXPECT_NULL("1.0 / 0.0", NULL);
    EXPECT_NULL("-1.0 / -0.0", NULL);
    EXPECT_NULL("x / qty", row);
    EXPECT_DBL("qty / x", row, 0.0);
}

static void test_modulo_by_zero_gives_null(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_QTY] = sf_int(0);
    EXPECT_NULL("5 % 0", NULL);
    EXPECT_NULL("5.5 % 0.0", NULL);
    EXPECT_NULL("5 % qty", row);
}

static void test_int_overflow_gives_null(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_BIG] = sf_int(INT64_MAX);
    EXPECT_NULL("9223372036854775807 + 1", NULL);
    EXPECT_NULL("-9223372036854775808 - 1", NULL);
    EXPECT_NULL("4611686018427387904 * 2", NULL);
    EXPECT_NULL("big * big", row);
    EXPECT_NULL("big + big", row);
    EXPECT_NULL("-big - 2", row);
    EXPECT_INT("9223372036854775806 + 1", NULL, INT64_MAX);
    EXPECT_INT("big - big", row, 0);
    row[S_BIG] = sf_int(INT64_MIN);
    EXPECT_NULL("-big", row);
    EXPECT_NULL("abs(big)", row);
    EXPECT_NULL("big - 1", row);
}

static void test_int_min_modulo_minus_one_is_zero(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_BIG] = sf_int(INT64_MIN);
    EXPECT_INT("big % -1", row, 0);
    EXPECT_INT("big % 10", row, -8);
}

static void test_unary_minus_types(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_QTY] = sf_int(4);
    row[S_X] = sf_double(2.5);
    EXPECT_INT("-qty", row, -4);
    EXPECT_DBL("-x", row, -2.5);
    EXPECT_DBL("-0.0", NULL, -0.0);
    EXPECT_NULL("-null", NULL);
    EXPECT_TYPE("-null", SF_NULL);
    EXPECT_TYPE("-x", SF_DOUBLE);
}

static void test_integer_literal_bounds(void **state)
{
    (void)state;
    EXPECT_INT("9223372036854775807", NULL, INT64_MAX);
    EXPECT_INT("-9223372036854775808", NULL, INT64_MIN);
    EXPECT_INT("0", NULL, 0);
    EXPECT_INT("007", NULL, 7);
    EXPECT_ERR("9223372036854775808", SF_E_RANGE, "integer literal out of range at 1:1");
    EXPECT_ERR("-9223372036854775809", SF_E_RANGE, "integer literal out of range at 1:2");
    EXPECT_ERR("1 + 99999999999999999999999", SF_E_RANGE, "integer literal out of range at 1:5");
    EXPECT_ERR("-(9223372036854775808)", SF_E_RANGE, "integer literal out of range at 1:3");
}

static void test_double_literal_forms(void **state)
{
    (void)state;
    EXPECT_DBL("1.5", NULL, 1.5);
    EXPECT_DBL("1e3", NULL, 1000.0);
    EXPECT_DBL("1E-2", NULL, 0.01);
    EXPECT_DBL("2.5e+1", NULL, 25.0);
    EXPECT_DBL(".5", NULL, 0.5);
    EXPECT_DBL("2.", NULL, 2.0);
    EXPECT_DBL("-.25", NULL, -0.25);
    EXPECT_TYPE("2.", SF_DOUBLE);
    EXPECT_TYPE("1e3", SF_DOUBLE);
}

static void test_malformed_numbers_are_errors(void **state)
{
    (void)state;
    EXPECT_ERR("1e999", SF_E_RANGE, "number literal out of range at 1:1");
    EXPECT_ERR("1 + 1e", SF_E_PARSE, "malformed number '1e' at 1:5");
    EXPECT_ERR("1.2.3", SF_E_PARSE, "malformed number '1.2.3' at 1:1");
    EXPECT_ERR("12abc", SF_E_PARSE, "malformed number '12abc' at 1:1");
}

/* --------------------------------------------------------- comparisons */

static void test_comparison_operators_on_ints(void **state)
{
    (void)state;
    EXPECT_BOOL("1 == 1", NULL, 1);
    EXPECT_BOOL("1 != 1", NULL, 0);
    EXPECT_BOOL("1 < 2", NULL, 1);
    EXPECT_BOOL("2 < 2", NULL, 0);
    EXPECT_BOOL("2 <= 2", NULL, 1);
    EXPECT_BOOL("3 <= 2", NULL, 0);
    EXPECT_BOOL("3 > 2", NULL, 1);
    EXPECT_BOOL("2 > 2", NULL, 0);
    EXPECT_BOOL("2 >= 2", NULL, 1);
    EXPECT_BOOL("1 >= 2", NULL, 0);
    EXPECT_BOOL("-9223372036854775808 < 9223372036854775807", NULL, 1);
}

static void test_int_double_comparison_is_exact(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    EXPECT_BOOL("9007199254740993 > 9007199254740992.0", NULL, 1);
    EXPECT_BOOL("9007199254740993 == 9007199254740992.0", NULL, 0);
    EXPECT_BOOL("9007199254740992.0 < 9007199254740993", NULL, 1);
    EXPECT_BOOL("9007199254740992 == 9007199254740992.0", NULL, 1);
    row[S_BIG] = sf_int(INT64_MAX);
    EXPECT_BOOL("big < 9223372036854775808.0", row, 1);
    EXPECT_BOOL("big != 9223372036854775808.0", row, 1);
    EXPECT_BOOL("1 < 1.5", NULL, 1);
    EXPECT_BOOL("-1 > -1.5", NULL, 1);
    EXPECT_BOOL("0 == -0.0", NULL, 1);
    row[S_QTY] = sf_int(3);
    row[S_X] = sf_double(3.0);
    EXPECT_BOOL("qty == x", row, 1);
    EXPECT_BOOL("x >= qty", row, 1);
    /* A double against an int64 literal, both sides of 2^53. */
    row[S_X] = sf_double(9007199254740992.0);
    EXPECT_BOOL("x == 9007199254740992", row, 1);
    EXPECT_BOOL("x < 9007199254740993", row, 1);
    EXPECT_BOOL("x > -9007199254740993", row, 1);
    row[S_X] = sf_double(-0.0);
    EXPECT_BOOL("x >= 0", row, 1);
    EXPECT_BOOL("x < 0", row, 0);
    row[S_X] = sf_double(NAN);
    EXPECT_BOOL("x >= 0", row, 1); /* NaN orders last, as in the sort */
    EXPECT_BOOL("x == 0", row, 0);
}

static void test_double_comparisons(void **state)
{
    (void)state;
    EXPECT_BOOL("0.1 + 0.2 > 0.3", NULL, 1);
    EXPECT_BOOL("1.5 <= 1.5", NULL, 1);
    EXPECT_BOOL("-1e300 < 1e300", NULL, 1);
}

static void test_nan_compares_like_the_sort_order(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_X] = sf_double(NAN);
    row[S_QTY] = sf_int(INT64_MAX);
    EXPECT_BOOL("x == x", row, 1);
    EXPECT_BOOL("x > 1e308", row, 1);
    EXPECT_BOOL("x > qty", row, 1);
    EXPECT_BOOL("x != 0.0", row, 1);
}

static void test_string_comparison_is_bytewise_then_length(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_NAME] = sf_string("\xc3\xa9t\xc3\xa9", 5);
    EXPECT_BOOL("'abc' < 'abd'", NULL, 1);
    EXPECT_BOOL("'ab' < 'abc'", NULL, 1);
    EXPECT_BOOL("'b' > 'abc'", NULL, 1);
    EXPECT_BOOL("'a' == 'a'", NULL, 1);
    EXPECT_BOOL("'' < 'a'", NULL, 1);
    EXPECT_BOOL("'' == \"\"", NULL, 1);
    EXPECT_BOOL("'B' < 'a'", NULL, 1);
    EXPECT_BOOL("name > 'z'", row, 1);
    EXPECT_BOOL("name == '\xc3\xa9t\xc3\xa9'", row, 1);
}

static void test_bool_equality(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_FLAG] = sf_bool(0);
    EXPECT_BOOL("true == true", NULL, 1);
    EXPECT_BOOL("true != false", NULL, 1);
    EXPECT_BOOL("flag == false", row, 1);
    EXPECT_BOOL("flag != false", row, 0);
    EXPECT_BOOL("(1 < 2) == (3 < 4)", NULL, 1);
}

static void test_bool_ordering_is_a_type_error(void **state)
{
    (void)state;
    EXPECT_ERR("true < false", SF_E_TYPE, "cannot apply '<' to bool and bool at 1:6");
    EXPECT_ERR("flag >= null", SF_E_TYPE, "cannot apply '>=' to bool and null at 1:6");
}

/* --------------------------------------------------- NULL and logic */

static void test_and_is_three_valued(void **state)
{
    (void)state;
    EXPECT_BOOL("true && true", NULL, 1);
    EXPECT_BOOL("true && false", NULL, 0);
    EXPECT_BOOL("false && null", NULL, 0);
    EXPECT_BOOL("null && false", NULL, 0);
    EXPECT_NULL("true && null", NULL);
    EXPECT_NULL("null && true", NULL);
    EXPECT_NULL("null && null", NULL);
    EXPECT_TYPE("null && null", SF_BOOL);
}

static void test_or_is_three_valued(void **state)
{
    (void)state;
    EXPECT_BOOL("false || false", NULL, 0);
    EXPECT_BOOL("false || true", NULL, 1);
    EXPECT_BOOL("true || null", NULL, 1);
    EXPECT_BOOL("null || true", NULL, 1);
    EXPECT_NULL("false || null", NULL);
    EXPECT_NULL("null || false", NULL);
    EXPECT_NULL("null || null", NULL);
}

static void test_logic_over_null_columns(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    EXPECT_NULL("flag && true", row);
    EXPECT_BOOL("flag && false", row, 0);
    EXPECT_BOOL("flag || qty > 1 || true", row, 1);
    EXPECT_NULL("!flag", row);
    row[S_FLAG] = sf_bool(1);
    EXPECT_BOOL("!flag", row, 0);
}

static void test_not_of_null_is_null(void **state)
{
    (void)state;
    EXPECT_NULL("!null", NULL);
    EXPECT_TYPE("!null", SF_BOOL);
}

static void test_null_propagates_through_operators(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    EXPECT_NULL("qty + 1", row);
    EXPECT_NULL("1 - qty", row);
    EXPECT_NULL("qty * x", row);
    EXPECT_NULL("x / 2", row);
    EXPECT_NULL("qty % 2", row);
    EXPECT_NULL("null + 1", NULL);
    EXPECT_NULL("x > 1", row);
    EXPECT_NULL("name == 'a'", row);
    EXPECT_NULL("null == null", NULL);
    EXPECT_NULL("day + 1", row);
    EXPECT_NULL("day - day", row);
    EXPECT_NULL("lower(name)", row);
    EXPECT_NULL("upper(name)", row);
    EXPECT_NULL("trim(name)", row);
    EXPECT_NULL("abs(x)", row);
    EXPECT_NULL("to_date(ts)", row);
    EXPECT_NULL("date_from_iso(name)", row);
}

static void test_null_literal_unifies_with_any_type(void **state)
{
    (void)state;
    EXPECT_TYPE("null", SF_NULL);
    EXPECT_TYPE("null + 1", SF_INT);
    EXPECT_TYPE("1.5 * null", SF_DOUBLE);
    EXPECT_TYPE("null / null", SF_DOUBLE);
    EXPECT_TYPE("null - null", SF_NULL);
    EXPECT_TYPE("day + null", SF_DATE);
    EXPECT_TYPE("null - day", SF_INT);
    EXPECT_TYPE("null == null", SF_BOOL);
    EXPECT_TYPE("name < null", SF_BOOL);
    EXPECT_TYPE("if(flag, null, 2)", SF_INT);
    EXPECT_TYPE("if(null, 'a', null)", SF_STRING);
    EXPECT_TYPE("coalesce(null, null)", SF_NULL);
    EXPECT_TYPE("lower(null)", SF_STRING);
    EXPECT_TYPE("abs(null)", SF_NULL);
    EXPECT_NULL("if(flag, null, null)", NULL);
}

/* ----------------------------------------------------------- functions */

static void test_if_picks_a_branch_and_else_on_null(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_FLAG] = sf_bool(1);
    EXPECT_INT("if(flag, 1, 2)", row, 1);
    row[S_FLAG] = sf_bool(0);
    EXPECT_INT("if(flag, 1, 2)", row, 2);
    row[S_FLAG] = sf_null();
    EXPECT_INT("if(flag, 1, 2)", row, 2);
    EXPECT_STR("if(null, 'a', 'b')", NULL, "b");
}

static void test_if_unifies_int_and_double(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_FLAG] = sf_bool(1);
    row[S_QTY] = sf_int(3);
    EXPECT_DBL("if(flag, 1, 2.5)", row, 1.0);
    EXPECT_DBL("if(flag, qty, 2.5)", row, 3.0);
    EXPECT_DBL("if(!flag, qty, 2.5)", row, 2.5);
    EXPECT_DBL("if(flag, 2.5, qty)", row, 2.5);
    EXPECT_DBL("if(!flag, 2.5, qty)", row, 3.0);
    EXPECT_TYPE("if(flag, qty, x)", SF_DOUBLE);
    EXPECT_TYPE("if(flag, qty, qty)", SF_INT);
}

static void test_if_with_null_branch_takes_other_type(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_FLAG] = sf_bool(1);
    EXPECT_NULL("if(flag, null, 'x')", row);
    EXPECT_STR("if(!flag, null, 'x')", row, "x");
    EXPECT_TYPE("if(flag, null, 'x')", SF_STRING);
}

static void test_coalesce_returns_first_non_null(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    EXPECT_INT("coalesce(qty, 7)", row, 7);
    EXPECT_DBL("coalesce(null, x, 1)", row, 1.0);
    EXPECT_NULL("coalesce(name)", row);
    EXPECT_NULL("coalesce(qty, a, b)", row);
    row[S_QTY] = sf_int(3);
    EXPECT_INT("coalesce(qty, 7)", row, 3);
    EXPECT_DBL("coalesce(qty, x)", row, 3.0);
    row[S_B] = sf_int(9);
    EXPECT_INT("coalesce(a, null, b, 1, 2, 3)", row, 9);
    EXPECT_TYPE("coalesce(qty, x)", SF_DOUBLE);
    EXPECT_TYPE("coalesce(null, name)", SF_STRING);
}

static void test_is_null_is_never_null(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    EXPECT_BOOL("is_null(qty)", row, 1);
    EXPECT_BOOL("is_null(null)", NULL, 1);
    EXPECT_BOOL("is_null(1)", NULL, 0);
    EXPECT_BOOL("is_null(qty + 1)", row, 1);
    EXPECT_BOOL("is_null(1 / 0)", NULL, 1);
    row[S_QTY] = sf_int(0);
    EXPECT_BOOL("is_null(qty)", row, 0);
    EXPECT_TYPE("is_null(name)", SF_BOOL);
}

static void test_lower_and_upper_map_ascii_only(void **state)
{
    (void)state;
    EXPECT_STR("lower('AbC \xc3\x89 Z9_')", NULL, "abc \xc3\x89 z9_");
    EXPECT_STR("upper('abc \xc3\xa9 z9_')", NULL, "ABC \xc3\xa9 Z9_");
    EXPECT_STR("lower('')", NULL, "");
    EXPECT_STR("upper('ALREADY')", NULL, "ALREADY");
    EXPECT_STR("lower('@[`{')", NULL, "@[`{");
    EXPECT_TYPE("upper(name)", SF_STRING);
}

static void test_lower_copies_into_scratch_and_leaves_the_row_alone(void **state)
{
    (void)state;
    char buf[] = "MiXeD";
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_NAME] = sf_string(buf, 5);
    sf_expr *e = parse_ok("lower(name)", 0, __LINE__);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    sf_value v = sf_expr_eval(e, row, &scratch);
    assert_int_equal(v.type, SF_STRING);
    assert_int_equal(v.u.s.n, 5);
    assert_memory_equal(v.u.s.p, "mixed", 5);
    assert_string_equal(buf, "MiXeD");
    assert_true(scratch.used > 0);
    sf_arena_free(&scratch);
    sf_expr_free(e);
}

static void test_trim_strips_ascii_whitespace(void **state)
{
    (void)state;
    EXPECT_STR("trim(' \\t a b \\n')", NULL, "a b");
    EXPECT_STR("trim('')", NULL, "");
    EXPECT_STR("trim('   ')", NULL, "");
    EXPECT_STR("trim('x')", NULL, "x");
    EXPECT_STR("trim('\xc2\xa0x\xc2\xa0')", NULL, "\xc2\xa0x\xc2\xa0");
}

static void test_to_date_floors_to_the_utc_day(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_TS] = sf_int(1754006400);
    EXPECT_DATE("to_date(ts)", row, DAY_2025_08_01);
    EXPECT_DATE("to_date(1754006399)", NULL, DAY_2025_07_31);
    EXPECT_DATE("to_date(1754092799)", NULL, DAY_2025_08_01);
    EXPECT_DATE("to_date(0)", NULL, 0);
    EXPECT_DATE("to_date(-1)", NULL, -1);
    EXPECT_DATE("to_date(-86400)", NULL, -1);
    EXPECT_DATE("to_date(-86401)", NULL, -2);
    /* A column's seconds take the compiled form (v_day_of_secs), whose
     * non-negative seconds go another way than the negative ones: both
     * sides of 0 and of each end of a date's range. */
    static const struct {
        int64_t secs, day; /* day INT64_MIN: NULL */
    } edge[] = {
        {0, 0},
        {86399, 0},
        {86400, 1},
        {-1, -1},
        {-86400, -1},
        {-86401, -2},
        {(int64_t)INT32_MAX * 86400 - 1, INT32_MAX - 1},
        {(int64_t)INT32_MAX * 86400, INT32_MAX},
        {(int64_t)INT32_MAX * 86400 + 86399, INT32_MAX},
        {((int64_t)INT32_MAX + 1) * 86400, INT64_MIN},
        {INT64_MAX, INT64_MIN},
        {(int64_t)INT32_MIN * 86400, INT32_MIN},
        {(int64_t)INT32_MIN * 86400 - 1, INT64_MIN},
        {INT64_MIN, INT64_MIN},
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        row[S_TS] = sf_int(edge[i].secs);
        if (edge[i].day == INT64_MIN)
            EXPECT_NULL("to_date(ts)", row);
        else
            EXPECT_DATE("to_date(ts)", row, (int32_t)edge[i].day);
    }
}

static void test_to_date_of_double_floors_seconds(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    EXPECT_DATE("to_date(1754006400.9)", NULL, DAY_2025_08_01);
    EXPECT_DATE("to_date(1754006399.9)", NULL, DAY_2025_07_31);
    EXPECT_DATE("to_date(-0.5)", NULL, -1);
    EXPECT_NULL("to_date(1e300)", NULL);
    row[S_X] = sf_double(NAN);
    EXPECT_NULL("to_date(x)", row);
    EXPECT_TYPE("to_date(x)", SF_DATE);
}

static void test_date_from_iso(void **state)
{
    (void)state;
    EXPECT_DATE("date_from_iso('2025-08-01')", NULL, DAY_2025_08_01);
    EXPECT_DATE("date_from_iso('2025-08-01T23:59:59Z')", NULL, DAY_2025_08_01);
    EXPECT_DATE("date_from_iso('1970-01-01')", NULL, 0);
    EXPECT_NULL("date_from_iso('nope')", NULL);
    EXPECT_NULL("date_from_iso('2025-02-30')", NULL);
    EXPECT_TYPE("date_from_iso(name)", SF_DATE);
}

static void test_abs(void **state)
{
    (void)state;
    EXPECT_INT("abs(-3)", NULL, 3);
    EXPECT_INT("abs(3)", NULL, 3);
    EXPECT_DBL("abs(-2.5)", NULL, 2.5);
    EXPECT_DBL("abs(-0.0)", NULL, 0.0);
    EXPECT_INT("abs(-9223372036854775807)", NULL, INT64_MAX);
    EXPECT_TYPE("abs(qty)", SF_INT);
    EXPECT_TYPE("abs(x)", SF_DOUBLE);
}

/* --------------------------------------------------------------- dates */

static void test_date_arithmetic(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_DAY] = sf_date(DAY_2025_08_01);
    row[S_QTY] = sf_int(7);
    EXPECT_DATE("day + 1", row, DAY_2025_08_01 + 1);
    EXPECT_DATE("1 + day", row, DAY_2025_08_01 + 1);
    EXPECT_DATE("day - 31", row, DAY_2025_07_01);
    EXPECT_DATE("day - qty", row, DAY_2025_08_01 - 7);
    EXPECT_INT("day - date_from_iso('2025-07-01')", row, 31);
    EXPECT_INT("date_from_iso('2025-07-01') - day", row, -31);
    EXPECT_TYPE("day - day", SF_INT);
    EXPECT_TYPE("day + qty", SF_DATE);
}

static void test_date_arithmetic_out_of_range_gives_null(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_DAY] = sf_date(DAY_2025_08_01);
    row[S_BIG] = sf_int(INT64_MAX);
    EXPECT_NULL("day + big", row);
    EXPECT_NULL("day - -big", row);
    EXPECT_NULL("day + 3000000000", row);
    row[S_DAY] = sf_date(INT32_MIN);
    EXPECT_NULL("day - 1", row);
}

static void test_date_compared_with_string_literal(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_DAY] = sf_date(DAY_2025_08_01);
    EXPECT_BOOL("day >= '2025-08-01'", row, 1);
    EXPECT_BOOL("day < '2025-08-01'", row, 0);
    EXPECT_BOOL("'2025-07-31' < day", row, 1);
    EXPECT_BOOL("day == \"2025-08-01\"", row, 1);
    EXPECT_BOOL("day == '2025-08-01T10:00:00Z'", row, 1);
    EXPECT_BOOL("day != '2025-08-02'", row, 1);
    EXPECT_BOOL("to_date(1754006400) == '2025-08-01'", NULL, 1);
}

static void test_date_compared_with_invalid_literal_is_an_error(void **state)
{
    (void)state;
    EXPECT_ERR("day == 'tomorrow'", SF_E_PARSE, "invalid date literal 'tomorrow' at 1:8");
    EXPECT_ERR("'2025-13-01' < day", SF_E_PARSE, "invalid date literal '2025-13-01' at 1:1");
}

static void test_date_compared_with_string_column_is_a_type_error(void **state)
{
    (void)state;
    EXPECT_ERR("day == name", SF_E_TYPE, "cannot apply '==' to date and string at 1:5");
    EXPECT_ERR("day < 20301", SF_E_TYPE, "cannot apply '<' to date and int64 at 1:5");
}

/* ------------------------------------------------------------- strings */

static void test_string_escapes(void **state)
{
    (void)state;
    EXPECT_STR("'it''s'", NULL, "it's");
    EXPECT_STR("'it\\'s'", NULL, "it's");
    EXPECT_STR("\"say \"\"hi\"\"\"", NULL, "say \"hi\"");
    EXPECT_STR("\"a\\\"b\"", NULL, "a\"b");
    EXPECT_STR("\"it's\"", NULL, "it's");
    EXPECT_STR("'say \"hi\"'", NULL, "say \"hi\"");
    EXPECT_STR("'a\\\\b'", NULL, "a\\b");
    EXPECT_STR("'a\\nb'", NULL, "a\nb");
    EXPECT_STR("'\\t'", NULL, "\t");
    EXPECT_STR("''''", NULL, "'");
    EXPECT_STR("'line1\nline2'", NULL, "line1\nline2");
}

static void test_unknown_escape_is_an_error(void **state)
{
    (void)state;
    EXPECT_ERR("'a\\qb'", SF_E_PARSE, "unknown escape '\\q' in string at 1:3");
}

static void test_unterminated_string_is_an_error(void **state)
{
    (void)state;
    EXPECT_ERR("name == 'abc", SF_E_PARSE, "unterminated string at 1:9");
    EXPECT_ERR("\"abc\\", SF_E_PARSE, "unterminated string at 1:1");
    EXPECT_ERR("'abc''", SF_E_PARSE, "unterminated string at 1:1");
    EXPECT_ERR("1 +\n  'abc\ndef", SF_E_PARSE, "unterminated string at 2:3");
}

/* ------------------------------------------------- daily KPI expressions */

static const char kpi_revenue[] =
    "if(event_type == 'purchase' && !is_null(props.price), props.price, 0.0)";

static void test_kpi_revenue_of_a_purchase_is_its_price(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_EVENT_TYPE] = sf_string("purchase", 8);
    row[S_PRICE] = sf_double(354.41);
    EXPECT_DBL(kpi_revenue, row, 354.41);
    row[S_PRICE] = sf_double(-12.5);
    EXPECT_DBL(kpi_revenue, row, -12.5);
    EXPECT_TYPE(kpi_revenue, SF_DOUBLE);
}

static void test_kpi_revenue_is_zero_otherwise(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_EVENT_TYPE] = sf_string("purchase", 8);
    EXPECT_DBL(kpi_revenue, row, 0.0);
    row[S_EVENT_TYPE] = sf_string("view", 4);
    row[S_PRICE] = sf_double(10.0);
    EXPECT_DBL(kpi_revenue, row, 0.0);
    row[S_EVENT_TYPE] = sf_string("purchases", 9);
    EXPECT_DBL(kpi_revenue, row, 0.0);
    row[S_EVENT_TYPE] = sf_null();
    EXPECT_DBL(kpi_revenue, row, 0.0);
}

static void test_kpi_revenue_filter(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_REVENUE] = sf_double(5.0);
    EXPECT_BOOL("revenue >= 0", row, 1);
    row[S_REVENUE] = sf_double(0.0);
    EXPECT_BOOL("revenue >= 0", row, 1);
    row[S_REVENUE] = sf_double(-3.5);
    EXPECT_BOOL("revenue >= 0", row, 0);
    row[S_REVENUE] = sf_double(-1e-300);
    EXPECT_BOOL("revenue >= 0", row, 0);
    row[S_REVENUE] = sf_null();
    EXPECT_NULL("revenue >= 0", row);
}

static void test_kpi_date_of_timestamp(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_TS] = sf_int(1754006400);
    EXPECT_DATE("to_date(ts)", row, DAY_2025_08_01);
    EXPECT_TYPE("to_date(ts)", SF_DATE);
}

/* -------------------------------------------------------------- errors */

static void test_error_unknown_column_at_1_1(void **state)
{
    (void)state;
    EXPECT_ERR("revenu >= 0", SF_E_NOTFOUND, "unknown column 'revenu' at 1:1");
    EXPECT_ERR("props.cost", SF_E_NOTFOUND, "unknown column 'props.cost' at 1:1");
    EXPECT_ERR("TRUE", SF_E_NOTFOUND, "unknown column 'TRUE' at 1:1");
}

static void test_error_unknown_column_on_a_later_line(void **state)
{
    (void)state;
    EXPECT_ERR("revenue >= 0 &&\n  revenu < 10", SF_E_NOTFOUND, "unknown column 'revenu' at 2:3");
    EXPECT_ERR("1 +\n\n    \tzz", SF_E_NOTFOUND, "unknown column 'zz' at 3:6");
}

static void test_error_every_column_unknown_without_resolver(void **state)
{
    (void)state;
    sf_error err;
    assert_null(sf_expr_parse("qty + 1", NULL, 0, &err));
    assert_string_equal(err.msg, "unknown column 'qty' at 1:1");
    sf_expr *e = sf_expr_parse("1 + 2", NULL, 0, &err);
    assert_non_null(e);
    sf_expr_free(e);
}

static void test_error_unknown_function(void **state)
{
    (void)state;
    EXPECT_ERR("foo(1)", SF_E_PARSE, "unknown function 'foo' at 1:1");
    EXPECT_ERR("1 + bar()", SF_E_PARSE, "unknown function 'bar' at 1:5");
    EXPECT_ERR("LOWER(name)", SF_E_PARSE, "unknown function 'LOWER' at 1:1");
    EXPECT_ERR("props.price(1)", SF_E_PARSE, "unknown function 'props.price' at 1:1");
}

static void test_error_wrong_arity(void **state)
{
    (void)state;
    EXPECT_ERR("if(flag, 1)", SF_E_PARSE, "if() takes 3 arguments, got 2 at 1:1");
    EXPECT_ERR("1 + if(flag, 1, 2, 3)", SF_E_PARSE, "if() takes 3 arguments, got 4 at 1:5");
    EXPECT_ERR("lower()", SF_E_PARSE, "lower() takes 1 argument, got 0 at 1:1");
    EXPECT_ERR("abs(1, 2)", SF_E_PARSE, "abs() takes 1 argument, got 2 at 1:1");
    EXPECT_ERR("coalesce()", SF_E_PARSE, "coalesce() takes at least 1 argument, got 0 at 1:1");
    EXPECT_AGG_ERR("count(qty)", SF_E_PARSE, "count() takes 0 arguments, got 1 at 1:1");
    EXPECT_AGG_ERR("sum()", SF_E_PARSE, "sum() takes 1 argument, got 0 at 1:1");
}

static void test_error_operator_type_mismatch(void **state)
{
    (void)state;
    EXPECT_ERR("'abc' + 1", SF_E_TYPE, "cannot apply '+' to string and int64 at 1:7");
    EXPECT_ERR("flag * 2", SF_E_TYPE, "cannot apply '*' to bool and int64 at 1:6");
    EXPECT_ERR("x / name", SF_E_TYPE, "cannot apply '/' to double and string at 1:3");
    EXPECT_ERR("1 % true", SF_E_TYPE, "cannot apply '%' to int64 and bool at 1:3");
    EXPECT_ERR("name - null", SF_E_TYPE, "cannot apply '-' to string and null at 1:6");
    EXPECT_ERR("name < 1", SF_E_TYPE, "cannot apply '<' to string and int64 at 1:6");
    EXPECT_ERR("qty == 'a'", SF_E_TYPE, "cannot apply '==' to int64 and string at 1:5");
    EXPECT_ERR("flag != 1", SF_E_TYPE, "cannot apply '!=' to bool and int64 at 1:6");
    EXPECT_ERR("-name", SF_E_TYPE, "cannot apply '-' to string at 1:1");
    EXPECT_ERR("1 + !qty", SF_E_TYPE, "cannot apply '!' to int64 at 1:5");
    EXPECT_ERR("qty && flag", SF_E_TYPE, "cannot apply '&&' to int64 and bool at 1:5");
    EXPECT_ERR("flag || 'x'", SF_E_TYPE, "cannot apply '||' to bool and string at 1:6");
}

static void test_error_date_arithmetic_type_mismatch(void **state)
{
    (void)state;
    EXPECT_ERR("day + day", SF_E_TYPE, "cannot apply '+' to date and date at 1:5");
    EXPECT_ERR("day + 1.5", SF_E_TYPE, "cannot apply '+' to date and double at 1:5");
    EXPECT_ERR("qty - day", SF_E_TYPE, "cannot apply '-' to int64 and date at 1:5");
    EXPECT_ERR("day * 2", SF_E_TYPE, "cannot apply '*' to date and int64 at 1:5");
    EXPECT_ERR("day / 2", SF_E_TYPE, "cannot apply '/' to date and int64 at 1:5");
    EXPECT_ERR("-day", SF_E_TYPE, "cannot apply '-' to date at 1:1");
}

static void test_error_function_type_mismatch(void **state)
{
    (void)state;
    EXPECT_ERR("lower(qty)", SF_E_TYPE, "cannot apply lower() to int64 at 1:1");
    EXPECT_ERR("trim(flag)", SF_E_TYPE, "cannot apply trim() to bool at 1:1");
    EXPECT_ERR("to_date(name)", SF_E_TYPE, "cannot apply to_date() to string at 1:1");
    EXPECT_ERR("to_date(day)", SF_E_TYPE, "cannot apply to_date() to date at 1:1");
    EXPECT_ERR("date_from_iso(1)", SF_E_TYPE, "cannot apply date_from_iso() to int64 at 1:1");
    EXPECT_ERR("abs('a')", SF_E_TYPE, "cannot apply abs() to string at 1:1");
    EXPECT_ERR("if(qty, 1, 2)", SF_E_TYPE, "if() condition must be bool, got int64 at 1:1");
    EXPECT_ERR("if(flag, 1, 'a')", SF_E_TYPE,
               "if() branches have incompatible types int64 and string at 1:1");
    EXPECT_ERR("coalesce(1, null, 'a')", SF_E_TYPE,
               "coalesce() arguments have incompatible types int64 and string at 1:1");
}

static void test_error_trailing_garbage(void **state)
{
    (void)state;
    EXPECT_ERR("a b", SF_E_PARSE, "unexpected 'b' after the expression at 1:3");
    EXPECT_ERR("1 )", SF_E_PARSE, "unexpected ')' after the expression at 1:3");
    EXPECT_ERR("lower('a') 'b'", SF_E_PARSE, "unexpected ''b'' after the expression at 1:12");
}

static void test_error_empty_text(void **state)
{
    (void)state;
    EXPECT_ERR("", SF_E_PARSE, "empty expression at 1:1");
    EXPECT_ERR("  \n  ", SF_E_PARSE, "empty expression at 2:3");
}

static void test_error_incomplete_expressions(void **state)
{
    (void)state;
    EXPECT_ERR("1 +", SF_E_PARSE, "expected an expression but found end of text at 1:4");
    EXPECT_ERR("* 2", SF_E_PARSE, "expected an expression but found '*' at 1:1");
    EXPECT_ERR("(1 + 2", SF_E_PARSE, "expected ')' but found end of text at 1:7");
    EXPECT_ERR("lower('a'", SF_E_PARSE, "expected ',' or ')' but found end of text at 1:10");
    EXPECT_ERR("if(flag 1, 2)", SF_E_PARSE, "expected ',' or ')' but found '1' at 1:9");
    EXPECT_ERR("abs(,)", SF_E_PARSE, "expected an expression but found ',' at 1:5");
}

static void test_error_bad_characters_and_operators(void **state)
{
    (void)state;
    EXPECT_ERR("qty = 1", SF_E_PARSE, "unexpected '=' (equality is '==') at 1:5");
    EXPECT_ERR("flag & flag", SF_E_PARSE, "unexpected '&' (logical and is '&&') at 1:6");
    EXPECT_ERR("flag | flag", SF_E_PARSE, "unexpected '|' (logical or is '||') at 1:6");
    EXPECT_ERR("qty # 1", SF_E_PARSE, "unexpected character '#' at 1:5");
    EXPECT_ERR("qty \x01", SF_E_PARSE, "unexpected byte 0x01 at 1:5");
    EXPECT_ERR("props.", SF_E_PARSE, "expected a name after '.' at 1:7");
    EXPECT_ERR("props..price", SF_E_PARSE, "expected a name after '.' at 1:7");
}

static void test_error_chained_comparison(void **state)
{
    (void)state;
    EXPECT_ERR("1 < 2 < 3", SF_E_PARSE,
               "comparisons cannot be chained; use parentheses or '&&' at 1:7");
    EXPECT_BOOL("(1 < 2) == true", NULL, 1);
}

/* Builds open + "1" + close repeated n times, e.g. "((1))". */
static char *nest(const char *open, const char *mid, const char *close, int n)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *s = malloc(n * (lo + lc) + lm + 1);
    assert_non_null(s);
    char *p = s;
    for (int i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, mid, lm);
    p += lm;
    for (int i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

static void test_nesting_within_the_limit_parses(void **state)
{
    (void)state;
    char *s = nest("(", "1", ")", 200);
    EXPECT_INT(s, NULL, 1);
    free(s);
    s = nest("-", "1", "", 200);
    EXPECT_INT(s, NULL, 1);
    free(s);
    s = nest("", "1", " + 1", 200);
    EXPECT_INT(s, NULL, 201);
    free(s);
    s = nest("abs(", "-1", ")", 200);
    EXPECT_INT(s, NULL, 1);
    free(s);
}

static void test_error_deep_nesting(void **state)
{
    (void)state;
    char *s = nest("(", "1", ")", 300);
    EXPECT_ERR(s, SF_E_LIMIT, "expression nested too deeply (limit 256) at 1:257");
    free(s);
    s = nest("(", "1", ")", 100000);
    EXPECT_ERR(s, SF_E_LIMIT, "expression nested too deeply (limit 256) at 1:257");
    free(s);
    s = nest("!", "true", "", 100000);
    EXPECT_ERR(s, SF_E_LIMIT, "expression nested too deeply (limit 256) at 1:257");
    free(s);
    s = nest("lower(", "'a'", ")", 1000);
    EXPECT_ERR(s, SF_E_LIMIT, "expression nested too deeply (limit 256) at 1:1537");
    free(s);
}

static void test_error_long_flat_chain_is_too_deep(void **state)
{
    (void)state;
    /* A chain of n additions is a tree n levels deep; evaluating it must
     * not recurse without bound, so it is refused like nesting. */
    char *s = nest("", "1", "+1", 100000);
    EXPECT_ERR(s, SF_E_LIMIT, "expression nested too deeply (limit 256) at 1:512");
    free(s);
}

static void test_error_with_null_err_pointer(void **state)
{
    (void)state;
    assert_null(sf_expr_parse("revenu", &cols, 0, NULL));
    assert_null(sf_expr_parse("", &cols, 0, NULL));
    assert_null(sf_expr_parse(NULL, &cols, 0, NULL));
}

static void test_error_is_cleared_on_success(void **state)
{
    (void)state;
    sf_error err;
    assert_null(sf_expr_parse("revenu", &cols, 0, &err));
    assert_int_not_equal(err.code, 0);
    sf_expr *e = sf_expr_parse("revenue", &cols, 0, &err);
    assert_non_null(e);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.msg, "");
    sf_expr_free(e);
}

/* ---------------------------------------------------------- aggregates */

static void check_agg(const char *text, sf_agg_kind kind, sf_type type, int has_arg,
                      sf_type arg_type, int line)
{
    sf_expr *e = parse_ok(text, SF_EXPR_ALLOW_AGG, line);
    if (sf_expr_agg_kind(e) != kind)
        fail_msg("line %d: \"%s\" has aggregate kind %d, want %d", line, text,
                 (int)sf_expr_agg_kind(e), (int)kind);
    if (sf_expr_type(e) != type)
        fail_msg("line %d: \"%s\" has type %s, want %s", line, text,
                 sf_type_name(sf_expr_type(e)), sf_type_name(type));
    const sf_expr *arg = sf_expr_agg_arg(e);
    if (!has_arg) {
        assert_null(arg);
    } else {
        assert_non_null(arg);
        assert_int_equal(sf_expr_agg_kind(arg), SF_AGG_NONE);
        if (sf_expr_type(arg) != arg_type)
            fail_msg("line %d: argument of \"%s\" has type %s, want %s", line, text,
                     sf_type_name(sf_expr_type(arg)), sf_type_name(arg_type));
    }
    sf_expr_free(e);
}

#define EXPECT_AGG(text, kind, type, has_arg, arg_type) \
    check_agg(text, kind, type, has_arg, arg_type, __LINE__)

static void test_aggregates_accepted_at_root_with_flag(void **state)
{
    (void)state;
    EXPECT_AGG("count()", SF_AGG_COUNT, SF_INT, 0, SF_NULL);
    EXPECT_AGG("count_if(event_type == 'purchase')", SF_AGG_COUNT_IF, SF_INT, 1, SF_BOOL);
    EXPECT_AGG("sum(revenue)", SF_AGG_SUM, SF_DOUBLE, 1, SF_DOUBLE);
    EXPECT_AGG("sum(qty)", SF_AGG_SUM, SF_INT, 1, SF_INT);
    EXPECT_AGG("min(day)", SF_AGG_MIN, SF_DATE, 1, SF_DATE);
    EXPECT_AGG("max(name)", SF_AGG_MAX, SF_STRING, 1, SF_STRING);
    EXPECT_AGG("max(qty * x)", SF_AGG_MAX, SF_DOUBLE, 1, SF_DOUBLE);
    EXPECT_AGG("mean(qty)", SF_AGG_MEAN, SF_DOUBLE, 1, SF_INT);
    EXPECT_AGG("count_distinct(flag)", SF_AGG_COUNT_DISTINCT, SF_INT, 1, SF_BOOL);
    EXPECT_AGG(" ( sum(qty) ) ", SF_AGG_SUM, SF_INT, 1, SF_INT);
    EXPECT_AGG("qty + 1", SF_AGG_NONE, SF_INT, 0, SF_NULL);
}

static void test_aggregate_argument_evaluates_per_row(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_QTY] = sf_int(4);
    row[S_X] = sf_double(0.5);
    sf_expr *e = parse_ok("sum(qty * x + 1)", SF_EXPR_ALLOW_AGG, __LINE__);
    sf_value v = sf_expr_eval(sf_expr_agg_arg(e), row, NULL);
    assert_int_equal(v.type, SF_DOUBLE);
    assert_true(v.u.d == 3.0);
    sf_expr_free(e);
}

static void test_aggregates_rejected_without_flag(void **state)
{
    (void)state;
    EXPECT_ERR("sum(revenue)", SF_E_PARSE, "aggregate sum() is only allowed in aggregates at 1:1");
    EXPECT_ERR("1 + count()", SF_E_PARSE, "aggregate count() is only allowed in aggregates at 1:5");
    EXPECT_ERR("if(flag, min(qty), 0)", SF_E_PARSE,
               "aggregate min() is only allowed in aggregates at 1:10");
}

static void test_aggregates_rejected_below_the_root(void **state)
{
    (void)state;
    EXPECT_AGG_ERR("sum(qty) + 1", SF_E_PARSE, "aggregate sum() is not allowed here at 1:1");
    EXPECT_AGG_ERR("1 + sum(qty)", SF_E_PARSE, "aggregate sum() is not allowed here at 1:5");
    EXPECT_AGG_ERR("sum(sum(qty))", SF_E_PARSE, "aggregate sum() is not allowed here at 1:5");
    EXPECT_AGG_ERR("count_if(count() > 1)", SF_E_PARSE,
                   "aggregate count() is not allowed here at 1:10");
    EXPECT_AGG_ERR("if(flag, max(qty), 0)", SF_E_PARSE,
                   "aggregate max() is not allowed here at 1:10");
    EXPECT_AGG_ERR("-count()", SF_E_PARSE, "aggregate count() is not allowed here at 1:2");
}

static void test_aggregate_argument_types(void **state)
{
    (void)state;
    EXPECT_AGG_ERR("sum(name)", SF_E_TYPE, "cannot apply sum() to string at 1:1");
    EXPECT_AGG_ERR("mean(day)", SF_E_TYPE, "cannot apply mean() to date at 1:1");
    EXPECT_AGG_ERR("min(flag)", SF_E_TYPE, "cannot apply min() to bool at 1:1");
    EXPECT_AGG_ERR("max(qty > 1)", SF_E_TYPE, "cannot apply max() to bool at 1:1");
    EXPECT_AGG_ERR("count_if(qty)", SF_E_TYPE, "cannot apply count_if() to int64 at 1:1");
}

static void test_aggregate_names_are_columns_without_parentheses(void **state)
{
    (void)state;
    EXPECT_ERR("sum + 1", SF_E_NOTFOUND, "unknown column 'sum' at 1:1");
}

/* -------------------------------------------------------- visit_columns */

typedef struct seen {
    int slots[16];
    int n;
} seen;

static void record_slot(void *ctx, int slot)
{
    seen *s = ctx;
    assert_true(s->n < 16);
    s->slots[s->n++] = slot;
}

static void check_visit(const char *text, int flags, const int *want, int n, int line)
{
    sf_expr *e = parse_ok(text, flags, line);
    seen s = {{0}, 0};
    sf_expr_visit_columns(e, record_slot, &s);
    if (s.n != n)
        fail_msg("line %d: \"%s\" visited %d columns, want %d", line, text, s.n, n);
    for (int i = 0; i < n; i++) {
        if (s.slots[i] != want[i])
            fail_msg("line %d: \"%s\" visit %d gave slot %d, want %d", line, text, i,
                     s.slots[i], want[i]);
    }
    sf_expr_free(e);
}

static void test_visit_columns_reports_every_reference_with_repeats(void **state)
{
    (void)state;
    const int w1[] = {S_QTY, S_QTY, S_X, S_A};
    check_visit("qty + qty * x > a", 0, w1, 4, __LINE__);
    const int w2[] = {S_EVENT_TYPE, S_PRICE, S_PRICE};
    check_visit(kpi_revenue, 0, w2, 3, __LINE__);
    const int w3[] = {S_QTY, S_B, S_A};
    check_visit("coalesce(qty, b, a, 1)", 0, w3, 3, __LINE__);
    const int w4[] = {S_DAY, S_DAY, S_DAY};
    check_visit("day - 1 == '2025-08-01' || day - day > 3", 0, w4, 3, __LINE__);
    check_visit("1 + 2 * abs(-3)", 0, NULL, 0, __LINE__);
}

static void test_visit_columns_of_an_aggregate_covers_its_argument(void **state)
{
    (void)state;
    const int w1[] = {S_QTY, S_X};
    check_visit("sum(qty / x)", SF_EXPR_ALLOW_AGG, w1, 2, __LINE__);
    check_visit("count()", SF_EXPR_ALLOW_AGG, NULL, 0, __LINE__);
}

/* ----------------------------------------------------------- misc */

static void test_string_constant_result(void **state)
{
    (void)state;
    EXPECT_STR("'abc'", NULL, "abc");
    EXPECT_STR("\"\"", NULL, "");
    EXPECT_TYPE("'abc'", SF_STRING);
    EXPECT_BOOL("true", NULL, 1);
    EXPECT_BOOL("false", NULL, 0);
}

static void test_columns_return_row_values(void **state)
{
    (void)state;
    sf_value row[NSLOTS];
    empty_row(row);
    row[S_PRICE] = sf_double(1.25);
    row[S_NAME] = sf_string("bob", 3);
    EXPECT_DBL("props.price", row, 1.25);
    EXPECT_STR("name", row, "bob");
    EXPECT_NULL("qty", row);
    EXPECT_TYPE("props.price", SF_DOUBLE);
}

static void test_free_null_is_a_noop(void **state)
{
    (void)state;
    sf_expr_free(NULL);
}

/* ------------------------------ compiled forms against the interpreter
 *
 * sf_expr_eval, sf_expr_eval_to and sf_expr_test run the forms compiled at
 * parse time (core/expr_fast.c); sf_expr_eval_tree is the plain
 * interpreter. Every expression below hits one specialised form (or the
 * general one beside it) and runs over rows that cross every column's
 * values: NULL, NaN, signed zeros, infinities, the int64 and int32 bounds,
 * empty strings and strings that differ from a literal only in length. */

static const char *const fast_strings[] = {
    "", "a", "ab", "abc", "abcd", "abcde", "abcdefg", "abcdefgh", "abcdefghi",
    "abcdefghijklmno", "abcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmnopX",
    "purchase", "purchas", "purchasee", "Purchase", "view", "vie",
    /* Same lengths as others above, differing only in the last byte. */
    "abcX", "abcdX", "abcdefX", "abcdefgX", "abcdefghijklmnoX",
};
#define N_FAST_STRINGS (sizeof fast_strings / sizeof fast_strings[0])

/* Row r of the cross: each column steps through its values at its own
 * stride; index 0 of every list is NULL. */
static void fast_row(size_t r, sf_value *row)
{
    static const double dbl[] = {0.0, -0.0, 475.0, 475.00000000000006, 474.99999999999994,
                                 -1.5, 1e300, -INFINITY, INFINITY, 9007199254740992.0};
    static const int64_t ints[] = {0, 3, -1, 2, 86399, 86400, -86400, -86401,
                                   INT64_MIN, INT64_MAX, INT64_C(185542587187200),
                                   INT64_C(-185542587187201)};
    static const int32_t days[] = {DAY_2025_08_01, DAY_2025_07_01, DAY_2025_07_31, INT32_MIN,
                                   INT32_MAX, 0};
    size_t nd = sizeof dbl / sizeof dbl[0] + 2, ni = sizeof ints / sizeof ints[0] + 1;
    size_t ns = N_FAST_STRINGS + 1, ny = sizeof days / sizeof days[0] + 1;
    empty_row(row);
    size_t k;
    if ((k = r % ns) > 0)
        row[S_EVENT_TYPE] = sf_string(fast_strings[k - 1], strlen(fast_strings[k - 1]));
    if ((k = (r / 3) % ns) > 0)
        row[S_NAME] = sf_string(fast_strings[k - 1], strlen(fast_strings[k - 1]));
    /* Index 1 of the doubles is NaN. */
    if ((k = r % nd) > 0)
        row[S_PRICE] = sf_double(k == 1 ? NAN : dbl[k - 2]);
    if ((k = (r / 2) % nd) > 0)
        row[S_X] = sf_double(k == 1 ? NAN : dbl[k - 2]);
    if ((k = (r / 5) % nd) > 0)
        row[S_REVENUE] = sf_double(k == 1 ? NAN : dbl[k - 2]);
    if ((k = r % ni) > 0)
        row[S_QTY] = sf_int(ints[k - 1]);
    if ((k = (r / 7) % ni) > 0)
        row[S_TS] = sf_int(ints[k - 1]);
    if ((k = r % ny) > 0)
        row[S_DAY] = sf_date(days[k - 1]);
    if ((k = r % 3) > 0)
        row[S_FLAG] = sf_bool(k == 2);
    /* Microseconds: the same values, and a day's edges either side of 0. */
    static const int64_t us[] = {INT64_C(86399999999), INT64_C(86400000000), -1,
                                 INT64_C(-86400000000), INT64_C(-86400000001)};
    size_t nu = ni + sizeof us / sizeof us[0];
    if ((k = (r / 11) % nu) > 0)
        row[S_AT] = sf_timestamp(k < ni ? ints[k - 1] : us[k - ni]);
}

static void first_slot_of(void *ctx, int slot)
{
    int *first = ctx;
    if (*first < 0)
        *first = slot;
}

static void check_fast_against_tree(const char *text, int line)
{
    sf_expr *e = parse_ok(text, 0, line);
    sf_type t = sf_expr_type(e);
    int slot = -1;
    sf_expr_visit_columns(e, first_slot_of, &slot);
    if (slot < 0)
        slot = S_A;
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    size_t nrows = 4 * 1024;
    for (size_t r = 0; r < nrows; r++) {
        sf_value row[NSLOTS], copy[NSLOTS];
        fast_row(r, row);
        sf_value tree = sf_expr_eval_tree(e, row, &scratch);
        char where[64];
        snprintf(where, sizeof where, " row %zu", r);
        expect_as_tree(sf_expr_eval(e, row, &scratch), tree, text, where, line);
        /* In place over a slot the expression reads, as a derive that
         * replaces its column. */
        memcpy(copy, row, sizeof copy);
        sf_expr_eval_to(e, copy, &scratch, &copy[slot]);
        snprintf(where, sizeof where, " row %zu in place", r);
        expect_as_tree(copy[slot], tree, text, where, line);
        /* The inline form a lean plan's derive runs, when it has one, in
         * place too; an if() says which branch it took. */
        sf_expr_derive d;
        sf_expr_derive_of(e, &d);
        if (d.kind != SF_DERIVE_NONE) {
            memcpy(copy, row, sizeof copy);
            if (d.kind == SF_DERIVE_IF) {
                int then = sf_expr_derive_if(&d, copy, &copy[slot]);
                sf_value br = then ? (d.bslot >= 0 ? row[d.bslot] : d.kb)
                                   : (d.cslot >= 0 ? row[d.cslot] : d.kc);
                snprintf(where, sizeof where, " row %zu: the branch taken", r);
                expect_as_tree(br, tree, text, where, line);
            } else {
                sf_expr_derive_day(&d, copy, &copy[slot]);
            }
            snprintf(where, sizeof where, " row %zu inline", r);
            expect_as_tree(copy[slot], tree, text, where, line);
        }
        if (t == SF_BOOL || t == SF_NULL) {
            int want = tree.type == SF_BOOL && tree.u.b;
            if (sf_expr_test(e, row, &scratch) != want)
                fail_msg("line %d: \"%s\" row %zu: sf_expr_test gave %d, the interpreter %d",
                         line, text, r, !want, want);
            /* The inline form a filter or count_if runs, when it has one. */
            sf_expr_leaf leaf;
            sf_expr_leaf_of(e, &leaf);
            int got = leaf.kind != SF_LEAF_NONE ? sf_expr_leaf_true(&leaf, row) : want;
            if (got != want)
                fail_msg("line %d: \"%s\" row %zu: sf_expr_leaf_true gave %d, the interpreter %d",
                         line, text, r, got, want);
            /* An && of two inline tests as a filter runs it: the first,
             * then the second while true, the test itself when one
             * cannot tell. */
            sf_expr_leaf a, b;
            if (sf_expr_leaf_and(e, &a, &b)) {
                int t = sf_expr_leaf_true(&a, row);
                if (t > 0)
                    t = sf_expr_leaf_true(&b, row);
                if (t < 0)
                    t = sf_expr_test(e, row, &scratch);
                if (t != want)
                    fail_msg("line %d: \"%s\" row %zu: the && of inline tests gave %d, the "
                             "interpreter %d",
                             line, text, r, t, want);
            }
        }
        sf_arena_reset(&scratch);
    }
    sf_arena_free(&scratch);
    sf_expr_free(e);
}

#define EXPECT_FAST(text) check_fast_against_tree(text, __LINE__)

static void test_fast_string_equals_literal_of_every_length(void **state)
{
    (void)state;
    /* Literals of length 0, 1-3 (memcmp), 4-7 (two 4-byte words), 8-16
     * (two 8-byte words) and 17 (memcmp), both operand orders, == and !=. */
    for (size_t i = 0; i < N_FAST_STRINGS; i++) {
        char text[96];
        snprintf(text, sizeof text, "event_type == '%s'", fast_strings[i]);
        EXPECT_FAST(text);
        snprintf(text, sizeof text, "name != '%s'", fast_strings[i]);
        EXPECT_FAST(text);
        snprintf(text, sizeof text, "'%s' == name", fast_strings[i]);
        EXPECT_FAST(text);
    }
    EXPECT_FAST("event_type < 'purchase'");
    EXPECT_FAST("event_type >= 'abcdefgh'");
    EXPECT_FAST("event_type == name");
    EXPECT_FAST("lower(event_type) == 'purchase'");
}

static void test_fast_double_column_against_literals(void **state)
{
    (void)state;
    EXPECT_FAST("revenue >= 0");
    EXPECT_FAST("props.price > 475.0");
    EXPECT_FAST("props.price <= 475");
    EXPECT_FAST("0 < x");
    EXPECT_FAST("-1.5 >= x");
    EXPECT_FAST("x == -0.0");
    EXPECT_FAST("x != 0");
    EXPECT_FAST("x < 1e300");
    EXPECT_FAST("x > -1e308");
    EXPECT_FAST("x == 9007199254740992");
    /* Beyond 2^53 the int64 literal is not exact as a double: general. */
    EXPECT_FAST("x >= 9007199254740993");
    EXPECT_FAST("x < 9223372036854775807");
    EXPECT_FAST("x > null");
    EXPECT_FAST("x + 1 > qty");
    EXPECT_FAST("qty > 2.5");
}

static void test_fast_int_and_date_columns_against_literals(void **state)
{
    (void)state;
    EXPECT_FAST("qty > 2");
    EXPECT_FAST("2 <= qty");
    EXPECT_FAST("qty == -9223372036854775807 - 1");
    EXPECT_FAST("qty != 9223372036854775807");
    EXPECT_FAST("qty < -1");
    EXPECT_FAST("qty == ts");
    EXPECT_FAST("day >= '2025-08-01'");
    EXPECT_FAST("'2025-07-31' > day");
    EXPECT_FAST("day == '2025-07-01'");
    EXPECT_FAST("day != day");
}

static void test_fast_arithmetic_of_columns_and_literals(void **state)
{
    (void)state;
    /* int64: the bounds overflow to NULL both ways; columns and literals
     * on either side. */
    EXPECT_FAST("qty + 1");
    EXPECT_FAST("1 + qty");
    EXPECT_FAST("qty - ts");
    EXPECT_FAST("qty * ts");
    EXPECT_FAST("qty * 2");
    EXPECT_FAST("-9223372036854775807 - qty");
    EXPECT_FAST("qty + 9223372036854775807");
    EXPECT_FAST("qty - null");
    /* double: NaN, signed zeros, infinities; an int64 operand made a
     * double, a column's at run time, a literal's at parse time. */
    EXPECT_FAST("revenue * 2");
    EXPECT_FAST("x + revenue");
    EXPECT_FAST("x - props.price");
    EXPECT_FAST("2.5 * x");
    EXPECT_FAST("x * qty");
    EXPECT_FAST("qty + 0.5");
    EXPECT_FAST("x / qty");
    EXPECT_FAST("qty / ts");
    EXPECT_FAST("x / 0");
    EXPECT_FAST("x / -0.0");
    EXPECT_FAST("1 / x");
    /* Nested: an operand that is itself a compiled form, a tree one
     * (abs), and comparisons over them. */
    EXPECT_FAST("x * 2 + revenue / 4");
    EXPECT_FAST("(qty + 1) * (ts - 1)");
    EXPECT_FAST("abs(x) * 2 - qty");
    EXPECT_FAST("x * 2 >= revenue");
    EXPECT_FAST("if(x > 0, x * 2, revenue - 1)");
}

static void test_fast_in_of_a_column_and_literals(void **state)
{
    (void)state;
    /* Compiled: a string, int64 or timestamp column against literals. */
    EXPECT_FAST("event_type in ('purchase', 'view', 'abcd')");
    EXPECT_FAST("name in ('', 'a', 'abcdefghijklmnopq', 'abcdefghijklmnoX')");
    EXPECT_FAST("event_type in ('purchase')");
    EXPECT_FAST("qty in (2, -1, 9223372036854775807)");
    EXPECT_FAST("ts in (86400, -86401)");
    EXPECT_FAST("at in ('2025-08-01T00:00:00Z', '1970-01-02T00:00:00Z')");
    EXPECT_FAST("!(event_type in ('purchase', 'view'))");
    /* The tree: a NULL literal, a double or date column, a column among
     * the elements, an expression as x. */
    EXPECT_FAST("event_type in ('purchase', null)");
    EXPECT_FAST("x in (1.5, 2)");
    EXPECT_FAST("day in ('2025-08-01', '2025-07-01')");
    EXPECT_FAST("qty in (ts, 1)");
    EXPECT_FAST("lower(name) in ('abcd', 'purchase')");
}

static void test_fast_logic_null_tests_and_if(void **state)
{
    (void)state;
    EXPECT_FAST("flag");
    EXPECT_FAST("!flag");
    EXPECT_FAST("true");
    EXPECT_FAST("null");
    EXPECT_FAST("flag && x > 0");
    EXPECT_FAST("flag || qty == 2");
    EXPECT_FAST("!(flag || event_type == 'view')");
    EXPECT_FAST("is_null(x)");
    EXPECT_FAST("!is_null(name)");
    EXPECT_FAST("is_null(x + 1)");
    EXPECT_FAST("!is_null(x / 0)");
    EXPECT_FAST("is_null(x) || x < 0 && event_type != 'purchase'");
    EXPECT_FAST("event_type == 'purchase' && props.price > 475.0");
    EXPECT_FAST("if(event_type == 'purchase' && !is_null(props.price), props.price, 0.0)");
    EXPECT_FAST("if(flag, qty, 0)");
    EXPECT_FAST("if(flag, qty, x)");
    EXPECT_FAST("if(null, 1, 2)");
    EXPECT_FAST("if(x > 0, name, 'none')");
    EXPECT_FAST("if(is_null(flag), null, flag)");
    /* if() of string-equals and not-null leaves, branches a column or a
     * literal (v_if_leaves), and forms beside it that are not. */
    EXPECT_FAST("if(name == 'abcdefghijklmnop', x, revenue)");
    EXPECT_FAST("if(event_type == 'abcdefghi', name, 'none')");
    EXPECT_FAST("if(name == 'abcdefghijklmnop' && !is_null(x), x, 1.5)");
    EXPECT_FAST("if(!is_null(name), 'y', 'n')");
    EXPECT_FAST("if(!is_null(x) && name == 'purchase', x, 1.5)");
    EXPECT_FAST("if(name == 'abcdefgh' && event_type == 'purchase', name, event_type)");
    EXPECT_FAST("if(name != 'purchase' && !is_null(x), x, 0.0)");
    EXPECT_FAST("if(name == 'purchase' && !is_null(x), x + 1, 0.0)");
    EXPECT_FAST("if(name == 'abc' && !is_null(x), x, 0.0)");
    EXPECT_FAST("coalesce(x, revenue, 0.0) >= 0");
    /* && of two inline tests (S5's filter), NULLs and other types among
     * the rows' values. */
    EXPECT_FAST("event_type == 'purchase' && x > 0");
    EXPECT_FAST("x >= 1.5 && name != 'abcd'");
    EXPECT_FAST("name == 'abcdefgh' && revenue < 3");
    EXPECT_FAST("475 < x && 'purchase' == event_type");
}

static int leaf_kind(const char *text, int line)
{
    sf_expr *e = parse_ok(text, 0, line);
    sf_expr_leaf leaf;
    sf_expr_leaf_of(e, &leaf);
    sf_expr_free(e);
    return leaf.kind;
}

static int derive_kind(const char *text, int line)
{
    sf_expr *e = parse_ok(text, 0, line);
    sf_expr_derive d;
    sf_expr_derive_of(e, &d);
    sf_expr_free(e);
    return d.kind;
}

/* The inline derive forms are the KPI revenue's if() of leaves with
 * column or literal branches and to_date of int64 seconds; nothing else
 * (check_fast_against_tree compares their values with the interpreter's). */
static void test_derive_forms_are_the_if_of_leaves_and_to_date_of_seconds(void **state)
{
    (void)state;
    assert_int_equal(
        derive_kind("if(event_type == 'purchase' && !is_null(props.price), props.price, 0.0)",
                    __LINE__),
        SF_DERIVE_IF);
    assert_int_equal(derive_kind("if(name == 'abcdefghijklmnop', x, revenue)", __LINE__),
                     SF_DERIVE_IF);
    assert_int_equal(derive_kind("if(!is_null(x), 1.5, x)", __LINE__), SF_DERIVE_IF);
    assert_int_equal(derive_kind("to_date(ts)", __LINE__), SF_DERIVE_DAY_SECS);
    assert_int_equal(derive_kind("if(x > 0, name, 'none')", __LINE__), SF_DERIVE_NONE);
    assert_int_equal(derive_kind("if(name == 'abc', x, 1.5)", __LINE__), SF_DERIVE_NONE);
    assert_int_equal(derive_kind("if(flag, qty, 0)", __LINE__), SF_DERIVE_NONE);
    assert_int_equal(derive_kind("to_date(at)", __LINE__), SF_DERIVE_NONE);
    assert_int_equal(derive_kind("to_date(qty + 1)", __LINE__), SF_DERIVE_NONE);
    assert_int_equal(derive_kind("x", __LINE__), SF_DERIVE_NONE);
}

static int leaf_and(const char *text, int line)
{
    sf_expr *e = parse_ok(text, 0, line);
    sf_expr_leaf a, b;
    int r = sf_expr_leaf_and(e, &a, &b);
    sf_expr_free(e);
    return r;
}

static void test_leaf_forms_are_the_column_against_literal_tests(void **state)
{
    (void)state;
    /* The rows of check_fast_against_tree compare each with the
     * interpreter; here, which tests have an inline form at all. */
    assert_int_equal(leaf_kind("event_type == 'purchase'", __LINE__), SF_LEAF_STR);
    assert_int_equal(leaf_kind("'abcd' != name", __LINE__), SF_LEAF_STR);
    assert_int_equal(leaf_kind("name == 'abcdefghijklmnop'", __LINE__), SF_LEAF_STR);
    assert_int_equal(leaf_kind("revenue >= 0", __LINE__), SF_LEAF_DOUBLE);
    assert_int_equal(leaf_kind("475 < props.price", __LINE__), SF_LEAF_DOUBLE);
    assert_int_equal(leaf_kind("name == 'abc'", __LINE__), SF_LEAF_NONE);
    assert_int_equal(leaf_kind("name == 'abcdefghijklmnopq'", __LINE__), SF_LEAF_NONE);
    assert_int_equal(leaf_kind("name < 'abcd'", __LINE__), SF_LEAF_NONE);
    assert_int_equal(leaf_kind("qty > 2", __LINE__), SF_LEAF_INT);
    assert_int_equal(leaf_kind("2 <= qty", __LINE__), SF_LEAF_INT);
    assert_int_equal(leaf_kind("at >= '2025-08-01T00:00:00Z'", __LINE__), SF_LEAF_INT);
    assert_int_equal(leaf_kind("day < '2025-08-01'", __LINE__), SF_LEAF_DATE);
    assert_int_equal(leaf_kind("qty == ts", __LINE__), SF_LEAF_NONE);
    assert_int_equal(leaf_kind("qty > 2.5", __LINE__), SF_LEAF_NONE);
    assert_int_equal(leaf_kind("qty + 1 > 2", __LINE__), SF_LEAF_NONE);
    assert_int_equal(leaf_kind("x >= 9007199254740993", __LINE__), SF_LEAF_NONE);
    assert_int_equal(leaf_kind("event_type == 'purchase' && x > 0", __LINE__), SF_LEAF_NONE);
    /* An && of two of them has two, for a filter to test in turn. */
    assert_int_equal(leaf_and("event_type == 'purchase' && x > 0", __LINE__), 1);
    assert_int_equal(leaf_and("x >= 1.5 && name != 'abcd'", __LINE__), 1);
    assert_int_equal(leaf_and("name == 'abc' && x > 0", __LINE__), 0);
    assert_int_equal(leaf_and("x > 0 && qty > 2", __LINE__), 1);
    assert_int_equal(leaf_and("ts >= 86400 && ts < 172800", __LINE__), 1);
    assert_int_equal(leaf_and("x > 0 && qty > 2.5", __LINE__), 0);
    assert_int_equal(leaf_and("event_type == 'purchase' || x > 0", __LINE__), 0);
    assert_int_equal(leaf_and("x > 0", __LINE__), 0);
    sf_expr_leaf a, b;
    assert_int_equal(sf_expr_leaf_and(NULL, &a, &b), 0);
    sf_expr_leaf none;
    sf_expr_leaf_of(NULL, &none);
    assert_int_equal(none.kind, SF_LEAF_NONE);
    /* A double column holding another type: the inline form cannot tell. */
    sf_expr *e = parse_ok("x > 2", 0, __LINE__);
    sf_expr_leaf leaf;
    sf_expr_leaf_of(e, &leaf);
    sf_value row[NSLOTS];
    memset(row, 0, sizeof row); /* gcc cannot see empty_row fill what leaf.slot picks */
    empty_row(row);
    row[S_X] = sf_int(3);
    assert_int_equal(sf_expr_leaf_true(&leaf, row), -1);
    row[S_X] = sf_double(3.0);
    assert_int_equal(sf_expr_leaf_true(&leaf, row), 1);
    row[S_X] = sf_null();
    assert_int_equal(sf_expr_leaf_true(&leaf, row), 0);
    sf_expr_free(e);
    /* The same for an int64 column holding a double. */
    e = parse_ok("qty >= 3", 0, __LINE__);
    sf_expr_leaf_of(e, &leaf);
    row[S_QTY] = sf_double(3.0);
    assert_int_equal(sf_expr_leaf_true(&leaf, row), -1);
    row[S_QTY] = sf_int(3);
    assert_int_equal(sf_expr_leaf_true(&leaf, row), 1);
    row[S_QTY] = sf_int(2);
    assert_int_equal(sf_expr_leaf_true(&leaf, row), 0);
    row[S_QTY] = sf_null();
    assert_int_equal(sf_expr_leaf_true(&leaf, row), 0);
    sf_expr_free(e);
}

static void test_fast_to_date_of_int_seconds_and_timestamps(void **state)
{
    (void)state;
    /* ts covers the day edges on both sides of 0 and the first seconds
     * whose day no longer fits an int32 (NULL). */
    EXPECT_FAST("to_date(ts)");
    EXPECT_FAST("to_date(qty)");
    EXPECT_FAST("to_date(qty + 1)");
    EXPECT_FAST("to_date(ts - 86400)");
    EXPECT_FAST("to_date(qty * 86400)");
    EXPECT_FAST("to_date(if(flag, qty, ts))");
    EXPECT_FAST("to_date(if(flag, at, null))");
    EXPECT_FAST("to_date(coalesce(at, at))");
    EXPECT_FAST("to_date(x)");
    EXPECT_FAST("to_date(ts) == day");
    EXPECT_FAST("to_date(at)");
    EXPECT_FAST("to_date(at) >= day");
    EXPECT_FAST("at >= '2025-08-01T00:00:00Z'");
    EXPECT_FAST("at < at");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_of_a_bare_column_and_minus_one_otherwise),
        cmocka_unit_test(test_mul_binds_tighter_than_add),
        cmocka_unit_test(test_binary_operators_are_left_associative),
        cmocka_unit_test(test_unary_minus_binds_tighter_than_binary),
        cmocka_unit_test(test_comparison_binds_looser_than_arithmetic),
        cmocka_unit_test(test_and_binds_tighter_than_or),
        cmocka_unit_test(test_not_binds_tighter_than_and),
        cmocka_unit_test(test_whitespace_and_newlines_between_tokens),
        cmocka_unit_test(test_int_arithmetic_stays_int64),
        cmocka_unit_test(test_int_modulo_sign_follows_c),
        cmocka_unit_test(test_mixed_int_double_arithmetic_gives_double),
        cmocka_unit_test(test_double_modulo_uses_fmod),
        cmocka_unit_test(test_division_always_gives_double),
        cmocka_unit_test(test_division_by_zero_gives_null),
        cmocka_unit_test(test_modulo_by_zero_gives_null),
        cmocka_unit_test(test_int_overflow_gives_null),
        cmocka_unit_test(test_int_min_modulo_minus_one_is_zero),
        cmocka_unit_test(test_unary_minus_types),
        cmocka_unit_test(test_integer_literal_bounds),
        cmocka_unit_test(test_double_literal_forms),
        cmocka_unit_test(test_malformed_numbers_are_errors),
        cmocka_unit_test(test_comparison_operators_on_ints),
        cmocka_unit_test(test_int_double_comparison_is_exact),
        cmocka_unit_test(test_double_comparisons),
        cmocka_unit_test(test_nan_compares_like_the_sort_order),
        cmocka_unit_test(test_string_comparison_is_bytewise_then_length),
        cmocka_unit_test(test_bool_equality),
        cmocka_unit_test(test_bool_ordering_is_a_type_error),
        cmocka_unit_test(test_and_is_three_valued),
        cmocka_unit_test(test_or_is_three_valued),
        cmocka_unit_test(test_logic_over_null_columns),
        cmocka_unit_test(test_not_of_null_is_null),
        cmocka_unit_test(test_null_propagates_through_operators),
        cmocka_unit_test(test_null_literal_unifies_with_any_type),
        cmocka_unit_test(test_if_picks_a_branch_and_else_on_null),
        cmocka_unit_test(test_if_unifies_int_and_double),
        cmocka_unit_test(test_if_with_null_branch_takes_other_type),
        cmocka_unit_test(test_coalesce_returns_first_non_null),
        cmocka_unit_test(test_is_null_is_never_null),
        cmocka_unit_test(test_lower_and_upper_map_ascii_only),
        cmocka_unit_test(test_lower_copies_into_scratch_and_leaves_the_row_alone),
        cmocka_unit_test(test_trim_strips_ascii_whitespace),
        cmocka_unit_test(test_to_date_floors_to_the_utc_day),
        cmocka_unit_test(test_to_date_of_double_floors_seconds),
        cmocka_unit_test(test_date_from_iso),
        cmocka_unit_test(test_abs),
        cmocka_unit_test(test_date_arithmetic),
        cmocka_unit_test(test_date_arithmetic_out_of_range_gives_null),
        cmocka_unit_test(test_date_compared_with_string_literal),
        cmocka_unit_test(test_date_compared_with_invalid_literal_is_an_error),
        cmocka_unit_test(test_date_compared_with_string_column_is_a_type_error),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_unknown_escape_is_an_error),
        cmocka_unit_test(test_unterminated_string_is_an_error),
        cmocka_unit_test(test_kpi_revenue_of_a_purchase_is_its_price),
        cmocka_unit_test(test_kpi_revenue_is_zero_otherwise),
        cmocka_unit_test(test_kpi_revenue_filter),
        cmocka_unit_test(test_kpi_date_of_timestamp),
        cmocka_unit_test(test_error_unknown_column_at_1_1),
        cmocka_unit_test(test_error_unknown_column_on_a_later_line),
        cmocka_unit_test(test_error_every_column_unknown_without_resolver),
        cmocka_unit_test(test_error_unknown_function),
        cmocka_unit_test(test_error_wrong_arity),
        cmocka_unit_test(test_error_operator_type_mismatch),
        cmocka_unit_test(test_error_date_arithmetic_type_mismatch),
        cmocka_unit_test(test_error_function_type_mismatch),
        cmocka_unit_test(test_error_trailing_garbage),
        cmocka_unit_test(test_error_empty_text),
        cmocka_unit_test(test_error_incomplete_expressions),
        cmocka_unit_test(test_error_bad_characters_and_operators),
        cmocka_unit_test(test_error_chained_comparison),
        cmocka_unit_test(test_nesting_within_the_limit_parses),
        cmocka_unit_test(test_error_deep_nesting),
        cmocka_unit_test(test_error_long_flat_chain_is_too_deep),
        cmocka_unit_test(test_error_with_null_err_pointer),
        cmocka_unit_test(test_error_is_cleared_on_success),
        cmocka_unit_test(test_aggregates_accepted_at_root_with_flag),
        cmocka_unit_test(test_aggregate_argument_evaluates_per_row),
        cmocka_unit_test(test_aggregates_rejected_without_flag),
        cmocka_unit_test(test_aggregates_rejected_below_the_root),
        cmocka_unit_test(test_aggregate_argument_types),
        cmocka_unit_test(test_aggregate_names_are_columns_without_parentheses),
        cmocka_unit_test(test_visit_columns_reports_every_reference_with_repeats),
        cmocka_unit_test(test_visit_columns_of_an_aggregate_covers_its_argument),
        cmocka_unit_test(test_string_constant_result),
        cmocka_unit_test(test_columns_return_row_values),
        cmocka_unit_test(test_free_null_is_a_noop),
        cmocka_unit_test(test_fast_string_equals_literal_of_every_length),
        cmocka_unit_test(test_fast_double_column_against_literals),
        cmocka_unit_test(test_fast_int_and_date_columns_against_literals),
        cmocka_unit_test(test_fast_arithmetic_of_columns_and_literals),
        cmocka_unit_test(test_fast_in_of_a_column_and_literals),
        cmocka_unit_test(test_fast_logic_null_tests_and_if),
        cmocka_unit_test(test_fast_to_date_of_int_seconds_and_timestamps),
        cmocka_unit_test(test_leaf_forms_are_the_column_against_literal_tests),
        cmocka_unit_test(test_derive_forms_are_the_if_of_leaves_and_to_date_of_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
