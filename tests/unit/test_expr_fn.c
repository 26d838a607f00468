/* test_expr_fn.c - the functions of the expression language and the
 * timestamp type: each function through sf_expr_parse/sf_expr_eval (types,
 * NULLs, edges), the helpers of core/expr_fn.h directly where a property
 * over many inputs is cheaper (rounding against an exact decimal
 * reference), timestamp text both ways, and the parse errors that name
 * the place.
 *
 * Results are compared as text "TYPE VALUE" (value_text's form, NULL as
 * "NULL"), so each expectation reads like the output a user sees. The row:
 * s = "Straße-ab-cd", n = 42, d = -2.5, dt = 2026-03-01 (a Sunday),
 * ts = 2026-03-01T12:34:56.789Z, e = "" and every *_null column NULL. */
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
#include "core/expr_fn.h"
#include "core/fmt.h"
#include "core/value_text.h"

#define DAY_2026_03_01 20513
#define TS_2026_03_01_123456_789 INT64_C(1772368496789000)

enum { S_S, S_N, S_D, S_DT, S_TS, S_E, S_SNULL, S_NNULL, S_DNULL, S_DTNULL, S_TSNULL, NSLOTS };

static const struct {
    const char *name;
    int slot;
    sf_type type;
} columns[] = {
    {"s", S_S, SF_STRING},          {"n", S_N, SF_INT},
    {"d", S_D, SF_DOUBLE},          {"dt", S_DT, SF_DATE},
    {"ts", S_TS, SF_TIMESTAMP},     {"e", S_E, SF_STRING},
    {"s_null", S_SNULL, SF_STRING}, {"n_null", S_NNULL, SF_INT},
    {"d_null", S_DNULL, SF_DOUBLE}, {"dt_null", S_DTNULL, SF_DATE},
    {"ts_null", S_TSNULL, SF_TIMESTAMP},
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

static void fill_row(sf_value *row)
{
    static const char s[] = "Stra\xc3\x9f" "e-ab-cd";
    for (int i = 0; i < NSLOTS; i++)
        row[i] = sf_null();
    row[S_S] = sf_string(s, sizeof s - 1);
    row[S_N] = sf_int(42);
    row[S_D] = sf_double(-2.5);
    row[S_DT] = sf_date(DAY_2026_03_01);
    row[S_TS] = sf_timestamp(TS_2026_03_01_123456_789);
    row[S_E] = sf_string("", 0);
}

/* "TYPE TEXT" of v, or "NULL". */
static void show(sf_value v, char *out, size_t cap)
{
    if (v.type == SF_NULL) {
        snprintf(out, cap, "NULL");
        return;
    }
    char buf[SF_FMT_BUF];
    const char *p;
    size_t n = sf_value_text(&v, buf, &p);
    snprintf(out, cap, "%s %.*s", sf_type_name((sf_type)v.type), (int)n, p);
}

static void check(const char *text, const char *want, int line)
{
    sf_error err;
    sf_expr *e = sf_expr_parse(text, &cols, 0, &err);
    if (!e)
        fail_msg("line %d: \"%s\" did not parse: %s", line, text, err.msg);
    sf_value row[NSLOTS];
    fill_row(row);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    sf_value got = sf_expr_eval(e, row, &scratch);
    char gs[256];
    show(got, gs, sizeof gs);
    if (strcmp(gs, want) != 0)
        fail_msg("line %d: \"%s\" gave \"%s\", want \"%s\"", line, text, gs, want);
    if (got.type != SF_NULL && got.type != sf_expr_type(e))
        fail_msg("line %d: \"%s\" gave %s but its static type is %s", line, text, gs,
                 sf_type_name(sf_expr_type(e)));
    sf_arena_free(&scratch);
    sf_expr_free(e);
}

static void check_error(const char *text, const char *want, int line)
{
    sf_error err;
    sf_expr *e = sf_expr_parse(text, &cols, 0, &err);
    if (e) {
        sf_expr_free(e);
        fail_msg("line %d: \"%s\" parsed, want error \"%s\"", line, text, want);
    }
    if (strcmp(err.msg, want) != 0)
        fail_msg("line %d: \"%s\" gave error \"%s\", want \"%s\"", line, text, err.msg, want);
}

#define EXPECT(text, want) check((text), (want), __LINE__)
#define EXPECT_ERR(text, want) check_error((text), (want), __LINE__)

/* ---- numbers ---- */

static void test_round_half_away_from_zero_on_the_exact_double(void **state)
{
    (void)state;
    EXPECT("round(2.5)", "double 3.0");
    EXPECT("round(-2.5)", "double -3.0");
    EXPECT("round(d)", "double -3.0");
    EXPECT("round(0.125, 2)", "double 0.13"); /* an exact tie */
    EXPECT("round(2.675, 2)", "double 2.67"); /* the double is below the tie */
    EXPECT("round(1.005, 2)", "double 1.0");
    EXPECT("round(1.45, 1)", "double 1.4");
    EXPECT("round(-0.4)", "double -0.0");
    EXPECT("round(1234.5678, -2)", "double 1200.0");
    EXPECT("round(1250.0, -2)", "double 1300.0");
    EXPECT("round(1e300, 2)", "double 1e+300");
    EXPECT("round(1e300, -300)", "double 1e+300");
    EXPECT("round(1e300, -309)", "double 0.0");
    /* The fewest places an int64 can say; -n overflowed here once. */
    EXPECT("round(-2.5, -9223372036854775807 - 1)", "double -0.0");
    EXPECT("round(0.1 + 0.2, 15)", "double 0.3");
    EXPECT("round(d, n_null)", "NULL");
    EXPECT("round(d_null, 2)", "NULL");
}

static void test_round_of_an_int_is_the_int(void **state)
{
    (void)state;
    EXPECT("round(n)", "int64 42");
    EXPECT("round(n, 3)", "int64 42");
    EXPECT("round(n, -1)", "int64 40");
    EXPECT("round(45, -1)", "int64 50");
    EXPECT("round(-45, -1)", "int64 -50");
    EXPECT("round(9223372036854775807, -1)", "NULL"); /* beyond int64 */
    EXPECT("round(n, -40)", "int64 0");
    EXPECT("floor(n)", "int64 42");
    EXPECT("ceil(n)", "int64 42");
}

static void test_floor_and_ceil_of_doubles(void **state)
{
    (void)state;
    EXPECT("floor(d)", "double -3.0");
    EXPECT("ceil(d)", "double -2.0");
    EXPECT("floor(2.0)", "double 2.0");
    EXPECT("ceil(-0.5)", "double -0.0");
    EXPECT("floor(d_null)", "NULL");
}

/* Exact reference: glibc prints the exact binary value with enough
 * digits; the digit after the rounding place decides (half away). */
static double reference_round(double x, int n)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%.90f", fabs(x));
    char *dot = strchr(buf, '.');
    int keep = (int)(dot - buf) + 1 + n; /* characters kept */
    int up = buf[keep] >= '5';
    buf[keep] = '\0';
    for (int i = keep - 1; up && i >= 0; i--) {
        if (buf[i] == '.')
            continue;
        if (buf[i] == '9') {
            buf[i] = '0';
        } else {
            buf[i]++;
            up = 0;
        }
    }
    double r = strtod(buf, NULL);
    if (up)
        r += pow(10, (int)(dot - buf)); /* 99.9 -> 100 carried out of the front */
    return copysign(r, x);
}

static void test_round_matches_an_exact_decimal_reference(void **state)
{
    (void)state;
    uint64_t seed = 88172645463325252ull;
    for (int i = 0; i < 200000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        int n = (int)(seed % 7);
        /* Values with few decimals hit ties and near-ties often. */
        double x = (double)(int64_t)(seed >> 20 & 0xfffff) / pow(10, (int)(seed >> 50 & 7)) -
                   500.0;
        double want = reference_round(x, n), got = sf_exprfn_round_double(x, n);
        if (memcmp(&want, &got, sizeof got) != 0)
            fail_msg("round(%.17g, %d) = %.17g, want %.17g", x, n, got, want);
    }
}

/* round/floor/ceil of decimals against Python's decimal module
 * (quantize with ROUND_HALF_UP, ROUND_FLOOR, ROUND_CEILING; the table was
 * computed there): scaled integer, its scale, places, mode, the result's
 * scale and precision, and the result's scaled integer or NULL. Ties,
 * 38-digit values and places far beyond the digits are among them. */
static const struct {
    const char *v;
    int scale;
    int64_t n;
    sf_dec_round mode;
    int to, prec;
    const char *want;
} dec_round_cases[] = {
    {"-4583055416886713464365000000000000000", 26, 2, SF_DR_HALF_AWAY, 2, 38, "-4583055416887"},
    {"-1147254589684870143", 12, -5, SF_DR_FLOOR, 0, 38, "-1200000"},
    {"142386264194877917", 4, -7, SF_DR_CEIL, 0, 15, "14238630000000"},
    {"64", 30, 31, SF_DR_HALF_AWAY, 30, 38, "64"},
    {"9335345011735759986", 1, -7, SF_DR_FLOOR, 0, 19, "933534501170000000"},
    {"-5", 30, 29, SF_DR_CEIL, 29, 38, "0"},
    {"-2500000000000000000", 15, 10, SF_DR_HALF_AWAY, 10, 19, "-25000000000000"},
    {"-4", 17, 15, SF_DR_FLOOR, 15, 38, "-1"},
    {"-707128931", 22, 16, SF_DR_CEIL, 16, 38, "-707"},
    {"-666786605500000000", 3, -6, SF_DR_HALF_AWAY, 0, 38, "-666786606000000"},
    {"-829820805655578763303273442213", 12, -1, SF_DR_FLOOR, 0, 30, "-829820805655578770"},
    {"95", 31, 27, SF_DR_CEIL, 27, 38, "1"},
    {"-7223262292383500000", 16, -1, SF_DR_HALF_AWAY, 0, 38, "-720"},
    {"6583", 34, 31, SF_DR_FLOOR, 31, 5, "6"},
    {"186139261436185288", 5, -6, SF_DR_CEIL, 0, 18, "1861393000000"},
    {"-1500000000000000000", 15, 1, SF_DR_HALF_AWAY, 1, 19, "-15000"},
    {"-820", 31, 30, SF_DR_FLOOR, 30, 1, "NULL"},
    {"666141457746189652277226375934", 4, 1, SF_DR_CEIL, 1, 38, "666141457746189652277226376"},
    {"63500", 23, 16, SF_DR_HALF_AWAY, 16, 1, "0"},
    {"5", 10, 11, SF_DR_FLOOR, 10, 38, "5"},
    {"198490038264281969", 13, 2, SF_DR_CEIL, 2, 6, "NULL"},
    {"681963413222811500", 33, 13, SF_DR_HALF_AWAY, 13, 38, "0"},
    {"-78883629615479611190686733145763904214", 32, 0, SF_DR_FLOOR, 0, 7, "-788837"},
    {"179327189079658658244974935295", 29, 18, SF_DR_CEIL, 18, 30, "1793271890796586583"},
    {"-6500", 0, -7, SF_DR_HALF_AWAY, 0, 38, "0"},
    {"-736933886958065434754649556627", 6, -25, SF_DR_FLOOR, 0, 25, "NULL"},
    {"37780303755705800784580981283278978127", 1, -14, SF_DR_CEIL, 0, 38, "3778030375570580078458100000000000000"},
    {"-1500000000000000000", 34, 21, SF_DR_HALF_AWAY, 21, 19, "-150000"},
    {"670166946648558207", 26, 18, SF_DR_FLOOR, 18, 38, "6701669466"},
    {"13767196329321380900310507472894454952", 2, 2, SF_DR_CEIL, 2, 38, "13767196329321380900310507472894454952"},
    {"-135425150000000000", 15, 10, SF_DR_HALF_AWAY, 10, 18, "-1354251500000"},
    {"99033365169294178917596792611", 19, -1, SF_DR_FLOOR, 0, 12, "9903336510"},
    {"246297923796705330", 36, 20, SF_DR_CEIL, 20, 18, "25"},
    {"-55", 24, 24, SF_DR_HALF_AWAY, 24, 38, "-55"},
    {"90990075768229353378513540710771533480", 31, 9, SF_DR_FLOOR, 9, 8, "NULL"},
    {"-78", 9, 6, SF_DR_CEIL, 6, 1, "0"},
    {"75405500000000000000000000000000000000", 18, -7, SF_DR_HALF_AWAY, 0, 21, "75405500000000000000"},
    {"-539419268", 0, -1, SF_DR_FLOOR, 0, 38, "-539419270"},
    {"-88611430905051012", 32, 24, SF_DR_CEIL, 24, 38, "-886114309"},
    {"-50", 21, 22, SF_DR_HALF_AWAY, 21, 1, "NULL"},
    {"-857193344559047118", 24, 14, SF_DR_FLOOR, 14, 38, "-85719335"},
    {"-4749114560012432913", 13, 9, SF_DR_CEIL, 9, 19, "-474911456001243"},
    {"-4985026894058324500", 13, 2, SF_DR_HALF_AWAY, 2, 38, "-49850269"},
    {"9", 22, 22, SF_DR_FLOOR, 22, 1, "9"},
    {"4783609726500580550", 28, 12, SF_DR_CEIL, 12, 1, "NULL"},
    {"24850", 12, 8, SF_DR_HALF_AWAY, 8, 1, "2"},
    {"58", 22, 23, SF_DR_FLOOR, 22, 38, "58"},
    {"-856770585655004904490639178416", 15, 10, SF_DR_CEIL, 10, 16, "NULL"},
    {"99999999999999999999999999999999999999", 0, -1, SF_DR_HALF_AWAY, 0, 38, "NULL"},
    {"-99999999999999999999999999999999999999", 0, -1, SF_DR_HALF_AWAY, 0, 38, "NULL"},
    {"99999999999999999999999999999999999999", 38, 0, SF_DR_HALF_AWAY, 0, 38, "1"},
    {"-99999999999999999999999999999999999999", 38, 0, SF_DR_HALF_AWAY, 0, 38, "-1"},
    {"50000000000000000000000000000000000000", 38, 0, SF_DR_HALF_AWAY, 0, 38, "1"},
    {"-50000000000000000000000000000000000000", 38, 0, SF_DR_HALF_AWAY, 0, 38, "-1"},
    {"1", 0, -60, SF_DR_HALF_AWAY, 0, 38, "0"},
    {"-1", 0, -60, SF_DR_HALF_AWAY, 0, 38, "0"},
    {"99999999999999999999999999999999999999", 0, -1, SF_DR_FLOOR, 0, 38, "99999999999999999999999999999999999990"},
    {"-99999999999999999999999999999999999999", 0, -1, SF_DR_FLOOR, 0, 38, "NULL"},
    {"99999999999999999999999999999999999999", 38, 0, SF_DR_FLOOR, 0, 38, "0"},
    {"-99999999999999999999999999999999999999", 38, 0, SF_DR_FLOOR, 0, 38, "-1"},
    {"50000000000000000000000000000000000000", 38, 0, SF_DR_FLOOR, 0, 38, "0"},
    {"-50000000000000000000000000000000000000", 38, 0, SF_DR_FLOOR, 0, 38, "-1"},
    {"1", 0, -60, SF_DR_FLOOR, 0, 38, "0"},
    {"-1", 0, -60, SF_DR_FLOOR, 0, 38, "NULL"},
    {"99999999999999999999999999999999999999", 0, -1, SF_DR_CEIL, 0, 38, "NULL"},
    {"-99999999999999999999999999999999999999", 0, -1, SF_DR_CEIL, 0, 38, "-99999999999999999999999999999999999990"},
    {"99999999999999999999999999999999999999", 38, 0, SF_DR_CEIL, 0, 38, "1"},
    {"-99999999999999999999999999999999999999", 38, 0, SF_DR_CEIL, 0, 38, "0"},
    {"50000000000000000000000000000000000000", 38, 0, SF_DR_CEIL, 0, 38, "1"},
    {"-50000000000000000000000000000000000000", 38, 0, SF_DR_CEIL, 0, 38, "0"},
    {"1", 0, -60, SF_DR_CEIL, 0, 38, "NULL"},
    {"-1", 0, -60, SF_DR_CEIL, 0, 38, "0"},
};

static void test_round_dec_matches_pythons_decimal_module(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof dec_round_cases / sizeof dec_round_cases[0]; i++) {
        sf_i128 v, w;
        const char *t = dec_round_cases[i].v;
        assert_int_equal(sf_dec_parse(t, strlen(t), SF_DEC_MAX_PREC, 0, &v), 0);
        int rc = sf_exprfn_round_dec(v, dec_round_cases[i].scale, dec_round_cases[i].n,
                                     dec_round_cases[i].mode, dec_round_cases[i].to,
                                     dec_round_cases[i].prec, &w);
        char got[SF_DEC_BUF];
        if (rc == 0)
            sf_dec_format(w, 0, got);
        else
            snprintf(got, sizeof got, "NULL");
        if (strcmp(got, dec_round_cases[i].want) != 0)
            fail_msg("case %zu: %s at scale %d, %lld places, mode %d: got %s, want %s", i, t,
                     dec_round_cases[i].scale, (long long)dec_round_cases[i].n,
                     (int)dec_round_cases[i].mode, got, dec_round_cases[i].want);
    }
}

/* ---- cast ---- */

static void test_cast_between_numbers_and_bools(void **state)
{
    (void)state;
    EXPECT("cast(n, 'double')", "double 42.0");
    EXPECT("cast(2.5, 'int64')", "int64 3");
    EXPECT("cast(-2.5, 'int')", "int64 -3");
    EXPECT("cast(d, 'bool')", "bool true");
    EXPECT("cast(0, 'bool')", "bool false");
    EXPECT("cast(true, 'int64')", "int64 1");
    EXPECT("cast(1e19, 'int64')", "NULL");
    EXPECT("cast(n, 'int64')", "int64 42");
}

static void test_cast_to_and_from_string(void **state)
{
    (void)state;
    EXPECT("cast(n, 'string')", "string 42");
    EXPECT("cast(d, 'string')", "string -2.5");
    EXPECT("cast(dt, 'string')", "string 2026-03-01");
    EXPECT("cast(ts, 'string')", "string 2026-03-01T12:34:56.789000Z");
    EXPECT("cast(' 17 ', 'int64')", "int64 17");
    EXPECT("cast('1.5', 'int64')", "NULL"); /* int64 text is a whole number */
    EXPECT("cast('abc', 'double')", "NULL");
    EXPECT("cast('1e3', 'double')", "double 1000.0");
    EXPECT("cast('true', 'bool')", "bool true");
    EXPECT("cast('2026-02-30', 'date')", "NULL");
    EXPECT("cast('2026-03-01 10:00:00+02:00', 'timestamp')", "timestamp 2026-03-01T08:00:00Z");
    EXPECT("cast(s_null, 'int64')", "NULL");
}

static void test_cast_between_date_and_timestamp(void **state)
{
    (void)state;
    EXPECT("cast(dt, 'timestamp')", "timestamp 2026-03-01T00:00:00Z");
    EXPECT("cast(ts, 'date')", "date 2026-03-01");
    EXPECT("cast(cast('1969-12-31T23:59:59.5Z', 'timestamp'), 'date')", "date 1969-12-31");
}

static void test_cast_errors_name_the_types(void **state)
{
    (void)state;
    EXPECT_ERR("cast(dt, 'int64')", "cannot cast date to int64 at 1:1");
    EXPECT_ERR("cast(n, 'decimal')",
               "cast() to unknown type 'decimal' (bool, int64, double, decimal(P,S), string, "
               "date, timestamp) at 1:9");
    EXPECT_ERR("round(d, 1, 2)", "round() takes 1 to 2 arguments, got 3 at 1:1");
    EXPECT_ERR("substr(s)", "substr() takes 2 to 3 arguments, got 1 at 1:1");
    EXPECT_ERR("concat()", "concat() takes at least 1 argument, got 0 at 1:1");
    EXPECT_ERR("cast(n, s)",
               "cast() argument 2 must be a string literal (a type name such as 'int64') at 1:9");
}

/* ---- strings ---- */

static void test_length_counts_characters(void **state)
{
    (void)state;
    EXPECT("length(s)", "int64 12");
    EXPECT("length(e)", "int64 0");
    EXPECT("length(s_null)", "NULL");
}

static void test_substr_is_one_based_on_characters(void **state)
{
    (void)state;
    EXPECT("substr(s, 1, 6)", "string Stra\xc3\x9f" "e");
    EXPECT("substr(s, 5, 2)", "string \xc3\x9f" "e");
    EXPECT("substr(s, 8)", "string ab-cd");
    EXPECT("substr(s, -2)", "string cd");
    EXPECT("substr(s, -2, 1)", "string c");
    EXPECT("substr(s, 0, 2)", "string S"); /* SQL: position 0 is before the first */
    EXPECT("substr(s, 20, 2)", "string ");
    EXPECT("substr(s, 2, -1)", "string ");
    EXPECT("substr(s, 1, 9223372036854775807)", "string Stra\xc3\x9f" "e-ab-cd");
    EXPECT("substr(s, n_null, 2)", "NULL");
}

static void test_concat_reads_null_as_empty(void **state)
{
    (void)state;
    EXPECT("concat(s, '/', n, '/', d, '/', dt, '/', true)",
           "string Stra\xc3\x9f" "e-ab-cd/42/-2.5/2026-03-01/true");
    EXPECT("concat(s_null, 'x', n_null)", "string x");
    EXPECT("concat(s_null)", "string ");
    EXPECT("concat(ts)", "string 2026-03-01T12:34:56.789000Z");
}

static void test_replace_every_occurrence(void **state)
{
    (void)state;
    EXPECT("replace(s, '-', '_')", "string Stra\xc3\x9f" "e_ab_cd");
    EXPECT("replace('aaaa', 'aa', 'b')", "string bb");
    EXPECT("replace(s, '', 'x')", "string Stra\xc3\x9f" "e-ab-cd");
    EXPECT("replace(s, '-ab-cd', '')", "string Stra\xc3\x9f" "e");
    EXPECT("replace(s, 'zz', 'y')", "string Stra\xc3\x9f" "e-ab-cd");
    EXPECT("replace(s, s_null, 'y')", "NULL");
}

static void test_starts_with_and_contains(void **state)
{
    (void)state;
    EXPECT("starts_with(s, 'Str')", "bool true");
    EXPECT("starts_with(s, 'tr')", "bool false");
    EXPECT("starts_with(s, '')", "bool true");
    EXPECT("contains(s, 'ab')", "bool true");
    EXPECT("contains(s, 'ba')", "bool false");
    EXPECT("contains(e, '')", "bool true");
    EXPECT("contains(s_null, 'a')", "NULL");
}

static void test_split_part_is_one_based(void **state)
{
    (void)state;
    EXPECT("split_part(s, '-', 1)", "string Stra\xc3\x9f" "e");
    EXPECT("split_part(s, '-', 3)", "string cd");
    EXPECT("split_part(s, '-', 4)", "string ");
    EXPECT("split_part(s, '-', 0)", "string ");
    EXPECT("split_part(s, '-', -1)", "string cd");
    EXPECT("split_part(s, '-', -3)", "string Stra\xc3\x9f" "e");
    EXPECT("split_part(s, '-', -4)", "string ");
    EXPECT("split_part('a--b', '-', 2)", "string ");
    EXPECT("split_part(s, '', 1)", "string Stra\xc3\x9f" "e-ab-cd");
    EXPECT("split_part(s, '-', n_null)", "NULL");
}

static void test_regexp_match_finds_the_pattern_anywhere(void **state)
{
    (void)state;
    EXPECT("regexp_match(s, 'ab-c')", "bool true");
    EXPECT("regexp_match(s, '^ab')", "bool false");
    EXPECT("regexp_match(s, '^S.*-(ab|xy)-[a-d]+$')", "bool true");
    EXPECT("regexp_match(e, '^$')", "bool true");
    EXPECT("regexp_match(s_null, 'a')", "NULL");
}

static void test_regexp_match_errors_at_parse_time(void **state)
{
    (void)state;
    EXPECT_ERR("regexp_match(s, e)", "regexp_match() argument 2 must be a string literal (a "
                                     "POSIX extended regular expression) at 1:17");
    sf_error err;
    sf_expr *e = sf_expr_parse("regexp_match(s, 'a(b')", &cols, 0, &err);
    assert_null(e);
    assert_non_null(strstr(err.msg, "regexp_match(): invalid pattern 'a(b': "));
    assert_non_null(strstr(err.msg, " at 1:17"));
    /* Patterns that would take regcomp gigabytes, or matching exponential
     * time, are refused with the reason (core/ere.h). */
    e = sf_expr_parse("regexp_match(s, 'x{1,32767}')", &cols, 0, &err);
    assert_null(e);
    assert_non_null(strstr(err.msg, "regexp_match(): pattern 'x{1,32767}' refused: its "
                                    "repetitions would expand past"));
    assert_non_null(strstr(err.msg, " at 1:17"));
    e = sf_expr_parse("s == 'a' && regexp_match(s, '(a+)\\\\1')", &cols, 0, &err);
    assert_null(e);
    assert_non_null(strstr(err.msg, "pattern '(a+)\\1' refused: back-reference '\\1' at byte 5"));
    assert_non_null(strstr(err.msg, " at 1:29"));
}

static void test_in_list(void **state)
{
    (void)state;
    EXPECT("n in (1, 42, 7)", "bool true");
    EXPECT("n in (1, 2)", "bool false");
    EXPECT("n in (1, null)", "NULL");
    EXPECT("n in (42, null)", "bool true");
    EXPECT("n_null in (1, 2)", "NULL");
    EXPECT("n in (41.5, 42.0)", "bool true");
    EXPECT("s in ('x', concat('Stra', '\xc3\x9f', 'e-ab-cd'))", "bool true");
    EXPECT("dt in ('2026-02-28', '2026-03-01')", "bool true");
    EXPECT("ts in ('2026-03-01 12:34:56.789')", "bool true");
    EXPECT("!(n in (1, 2)) && n > 1", "bool true");
    EXPECT_ERR("n in (1, 'a')", "cannot apply '==' to int64 and string at 1:10");
    EXPECT_ERR("n in 1", "expected '(' after 'in' but found '1' at 1:6");
    EXPECT_ERR("dt in (ts)",
               "'in' compares a date with a timestamp; cast one of them so both have one type "
               "at 1:8");
}

/* ---- dates and timestamps ---- */

static void test_date_parts(void **state)
{
    (void)state;
    EXPECT("year(dt)", "int64 2026");
    EXPECT("month(dt)", "int64 3");
    EXPECT("day(dt)", "int64 1");
    EXPECT("dow(dt)", "int64 0"); /* Sunday */
    EXPECT("dow(dt + 6)", "int64 6");
    EXPECT("hour(dt)", "int64 0");
    EXPECT("hour(ts)", "int64 12");
    EXPECT("year(ts)", "int64 2026");
    EXPECT("dow(ts)", "int64 0");
    EXPECT("dow(cast('1970-01-01', 'date'))", "int64 4"); /* a Thursday */
}

static void test_date_parts_of_null_and_before_1970(void **state)
{
    (void)state;
    EXPECT("month(dt_null)", "NULL");
    EXPECT("hour(ts_null)", "NULL");
    EXPECT("hour(cast('1969-12-31T23:00:00Z', 'timestamp'))", "int64 23");
    EXPECT("dow(cast('1969-12-28', 'date'))", "int64 0");
}

static void test_date_trunc_keeps_the_type(void **state)
{
    (void)state;
    EXPECT("date_trunc('year', dt)", "date 2026-01-01");
    EXPECT("date_trunc('quarter', dt + 40)", "date 2026-04-01");
    EXPECT("date_trunc('month', dt + 40)", "date 2026-04-01");
    EXPECT("date_trunc('week', dt)", "date 2026-02-23"); /* Monday before a Sunday */
    EXPECT("date_trunc('week', dt + 1)", "date 2026-03-02");
    EXPECT("date_trunc('day', dt)", "date 2026-03-01");
    EXPECT("date_trunc('hour', ts)", "timestamp 2026-03-01T12:00:00Z");
    EXPECT("date_trunc('day', ts)", "timestamp 2026-03-01T00:00:00Z");
    EXPECT("date_trunc('month', ts)", "timestamp 2026-03-01T00:00:00Z");
    EXPECT("date_trunc('week', ts)", "timestamp 2026-02-23T00:00:00Z");
    EXPECT("date_trunc('hour', cast('1969-12-31T23:59:59Z', 'timestamp'))",
           "timestamp 1969-12-31T23:00:00Z");
    EXPECT("date_trunc('year', ts_null)", "NULL");
    EXPECT_ERR("date_trunc('fortnight', dt)", "date_trunc() unit 'fortnight' is not one of year, "
                                             "quarter, month, week, day, hour at 1:12");
    EXPECT_ERR("date_trunc('day', n)",
               "date_trunc() argument 2 must be date or timestamp, got int64 at 1:19");
}

static void test_date_add_and_date_diff(void **state)
{
    (void)state;
    EXPECT("date_add(dt, 31)", "date 2026-04-01");
    EXPECT("date_add(dt, -1)", "date 2026-02-28");
    EXPECT("date_add(ts, 1)", "timestamp 2026-03-02T12:34:56.789000Z");
    EXPECT("date_add(dt, n_null)", "NULL");
    EXPECT("date_diff(dt, date_add(dt, 7))", "int64 7"); /* b - a */
    EXPECT("date_diff('2026-03-08', dt)", "int64 -7");
    EXPECT("date_diff(dt, ts)", "int64 0");
    EXPECT("date_diff(cast('2026-03-01T23:59:59Z', 'timestamp'), "
           "cast('2026-03-02T00:00:01Z', 'timestamp'))",
           "int64 1"); /* a day boundary crossed */
    EXPECT("date_add(ts, 9223372036854775807)", "NULL");
}

static void test_to_timestamp_units(void **state)
{
    (void)state;
    EXPECT("to_timestamp(0)", "timestamp 1970-01-01T00:00:00Z");
    EXPECT("to_timestamp(1772368496)", "timestamp 2026-03-01T12:34:56Z");
    EXPECT("to_timestamp(1772368496789, 'ms')", "timestamp 2026-03-01T12:34:56.789000Z");
    EXPECT("to_timestamp(1772368496789000, 'us')", "timestamp 2026-03-01T12:34:56.789000Z");
    EXPECT("to_timestamp(1.5)", "timestamp 1970-01-01T00:00:01.500000Z");
    EXPECT("to_timestamp(-1)", "timestamp 1969-12-31T23:59:59Z");
    EXPECT("to_timestamp(9223372036854775807)", "NULL");
    EXPECT("to_timestamp(n_null)", "NULL");
    EXPECT("to_date(ts)", "date 2026-03-01");
    EXPECT_ERR("to_timestamp(1, 'ns')", "to_timestamp() unit must be 's', 'ms' or 'us' at 1:17");
}

static void test_format_date(void **state)
{
    (void)state;
    EXPECT("format_date(dt, '%Y-%m')", "string 2026-03");
    EXPECT("format_date(ts, '%Y-%m-%dT%H:%M:%S.%f')", "string 2026-03-01T12:34:56.789000");
    EXPECT("format_date(dt, '%j %u %w %%')", "string 060 7 0 %");
    EXPECT("format_date(dt_null, '%Y')", "NULL");
    EXPECT_ERR("format_date(dt, '%Y-%q')", "format_date() format: '%q' at byte 4 is not one of "
                                          "%Y %m %d %H %M %S %f %j %u %w %% at 1:17");
}

static void test_timestamp_comparisons(void **state)
{
    (void)state;
    EXPECT("ts > '2026-03-01'", "bool true");
    EXPECT("ts < '2026-03-01 12:34:57'", "bool true");
    EXPECT("ts == '2026-03-01T14:34:56.789+02:00'", "bool true");
    EXPECT("ts > dt", "bool true");
    EXPECT("dt == cast(date_trunc('day', ts), 'date')", "bool true");
    EXPECT("dt < ts", "bool true");
    EXPECT("date_trunc('day', ts) == dt", "bool true");
    EXPECT("dt == '2026-03-01'", "bool true");
    EXPECT("ts_null > dt", "NULL");
    EXPECT_ERR("ts > '2026-13-01'", "invalid timestamp literal '2026-13-01' at 1:6");
    EXPECT_ERR("ts + 1", "cannot apply '+' to timestamp and int64 at 1:4");
}

/* ---- the timestamp type itself ---- */

static void test_timestamp_text_round_trips(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "1970-01-01T00:00:00Z",        "2026-03-01T12:34:56Z",
        "2026-03-01T12:34:56.000001Z", "1969-12-31T23:59:59.999999Z",
        "0001-01-01T00:00:00Z",        "9999-12-31T23:59:59.999999Z",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        sf_value v;
        assert_int_equal(sf_value_text_parse(texts[i], strlen(texts[i]), SF_TIMESTAMP, &v), 0);
        assert_int_equal(v.type, SF_TIMESTAMP);
        char buf[SF_FMT_BUF];
        size_t n = sf_value_text_format(&v, buf);
        assert_int_equal(n, strlen(texts[i]));
        assert_string_equal(buf, texts[i]);
    }
}

static void test_timestamp_parse_forms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t us;
    } ok[] = {
        {"2026-03-01T12:34:56Z", TS_2026_03_01_123456_789 - 789000},
        {"2026-03-01 12:34:56", TS_2026_03_01_123456_789 - 789000},
        {"2026-03-01T12:34:56.789Z", TS_2026_03_01_123456_789},
        {"2026-03-01T12:34:56,789Z", TS_2026_03_01_123456_789},
        {"2026-03-01T14:34:56.789+02:00", TS_2026_03_01_123456_789},
        {"2026-03-01T10:04:56.789-0230", TS_2026_03_01_123456_789},
        {"2026-03-01T12:34Z", TS_2026_03_01_123456_789 - 56789000},
        {"2026-03-01", (int64_t)DAY_2026_03_01 * SF_US_PER_DAY},
        {"1970-01-01T00:00:00.000001Z", 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t us = 0;
        if (sf_parse_iso_timestamp(ok[i].text, strlen(ok[i].text), &us) != 0)
            fail_msg("'%s' did not parse", ok[i].text);
        if (us != ok[i].us)
            fail_msg("'%s' gave %lld, want %lld", ok[i].text, (long long)us, (long long)ok[i].us);
    }
    static const char *const bad[] = {
        "2026-03-01T12:34:56.1234567Z", /* a seventh fraction digit */
        "2026-03-01T12:34:60Z",         /* a leap second */
        "2026-03-01T24:00:00Z",         "2026-02-29T00:00:00Z", "2026-03-01T12:34:56.Z",
        "2026-03-01T12",                "2026-03-01T12:34:56+25:00", "2026-03-01X12:34",
        "",                             "2026-03-01T12:34:56Z ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us;
        if (sf_parse_iso_timestamp(bad[i], strlen(bad[i]), &us) == 0)
            fail_msg("'%s' parsed", bad[i]);
    }
}

static void test_timestamp_from_unix_range(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(sf_timestamp_from_unix(-1, SF_US_PER_SEC, &us), 0);
    assert_int_equal(us, -1000000);
    assert_int_not_equal(sf_timestamp_from_unix(INT64_MAX / 1000, SF_US_PER_SEC, &us), 0);
    assert_int_not_equal(sf_timestamp_from_unix(INT64_MAX, 1, &us), 0);
    char buf[SF_FMT_BUF];
    /* Every int64 prints, even beyond the parseable range. */
    assert_true(sf_fmt_timestamp(INT64_MIN, buf) > 0);
    assert_true(sf_fmt_timestamp(INT64_MAX, buf) > 0);
}

static void test_timestamp_value_codec_and_order(void **state)
{
    (void)state;
    sf_value a = sf_timestamp(-5), b = sf_timestamp(7), d;
    unsigned char buf[16];
    size_t n = sf_value_encode(&b, buf);
    assert_int_equal(n, sf_value_encoded_size(&b));
    assert_int_equal(sf_value_decode(buf, n, &d), n);
    assert_int_equal(d.type, SF_TIMESTAMP);
    assert_int_equal(d.u.i, 7);
    assert_true(sf_value_cmp(&a, &b) < 0);
    assert_true(sf_value_same(&b, &d));
    sf_type t;
    assert_int_equal(sf_type_parse("timestamp", &t), 0);
    assert_int_equal(t, SF_TIMESTAMP);
    assert_string_equal(sf_type_name(SF_TIMESTAMP), "timestamp");
}

/* ---- helpers directly ---- */

static void test_exprfn_units_and_format_check(void **state)
{
    (void)state;
    sf_time_unit u;
    assert_int_equal(sf_exprfn_unit_parse("quarter", 7, &u), 0);
    assert_int_equal(u, SF_TU_QUARTER);
    assert_int_equal(sf_exprfn_unit_parse("Year", 4, &u), -1);
    assert_int_equal(sf_exprfn_format_check("%Y-%m", 5), -1);
    assert_int_equal(sf_exprfn_format_check("abc%", 4), 3);
    assert_int_equal(sf_exprfn_format_check("%e", 2), 0);
}

static void test_exprfn_substr_without_scratch_needs_none(void **state)
{
    (void)state;
    /* substr and split_part borrow from their input: no arena needed. */
    sf_value s = sf_string("a,b", 3);
    sf_value r = sf_exprfn_split_part(s, sf_string(",", 1), 2);
    assert_int_equal(r.type, SF_STRING);
    assert_ptr_equal(r.u.s.p, s.u.s.p + 2);
    r = sf_exprfn_replace(s, sf_string(",", 1), sf_string(";", 1), NULL);
    assert_int_equal(r.type, SF_NULL); /* needs scratch, has none */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_half_away_from_zero_on_the_exact_double),
        cmocka_unit_test(test_round_of_an_int_is_the_int),
        cmocka_unit_test(test_floor_and_ceil_of_doubles),
        cmocka_unit_test(test_round_matches_an_exact_decimal_reference),
        cmocka_unit_test(test_round_dec_matches_pythons_decimal_module),
        cmocka_unit_test(test_cast_between_numbers_and_bools),
        cmocka_unit_test(test_cast_to_and_from_string),
        cmocka_unit_test(test_cast_between_date_and_timestamp),
        cmocka_unit_test(test_cast_errors_name_the_types),
        cmocka_unit_test(test_length_counts_characters),
        cmocka_unit_test(test_substr_is_one_based_on_characters),
        cmocka_unit_test(test_concat_reads_null_as_empty),
        cmocka_unit_test(test_replace_every_occurrence),
        cmocka_unit_test(test_starts_with_and_contains),
        cmocka_unit_test(test_split_part_is_one_based),
        cmocka_unit_test(test_regexp_match_finds_the_pattern_anywhere),
        cmocka_unit_test(test_regexp_match_errors_at_parse_time),
        cmocka_unit_test(test_in_list),
        cmocka_unit_test(test_date_parts),
        cmocka_unit_test(test_date_parts_of_null_and_before_1970),
        cmocka_unit_test(test_date_trunc_keeps_the_type),
        cmocka_unit_test(test_date_add_and_date_diff),
        cmocka_unit_test(test_to_timestamp_units),
        cmocka_unit_test(test_format_date),
        cmocka_unit_test(test_timestamp_comparisons),
        cmocka_unit_test(test_timestamp_text_round_trips),
        cmocka_unit_test(test_timestamp_parse_forms),
        cmocka_unit_test(test_timestamp_from_unix_range),
        cmocka_unit_test(test_timestamp_value_codec_and_order),
        cmocka_unit_test(test_exprfn_units_and_format_check),
        cmocka_unit_test(test_exprfn_substr_without_scratch_needs_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
