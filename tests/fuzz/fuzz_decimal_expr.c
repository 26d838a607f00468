/* fuzz_decimal_expr.c - fuzz target: decimals in expressions (core/expr.h,
 * core/decimal.h).
 *
 * The input (cut at its first NUL) is parsed over columns of decimal types
 * of several precisions and scales next to int64, double, string, bool and
 * NULL columns, with and without SF_EXPR_ALLOW_AGG, and a plain expression
 * is evaluated over rows of ordinary, extreme (the largest values of each
 * precision, both signs) and NULL values. Aborts when
 * - a failed parse gives no negative code or an empty message;
 * - a decimal expression has no precision, a precision over 38 or a scale
 *   over its precision;
 * - a value is neither NULL nor the static type, or a decimal value's scale
 *   is not the static scale, or it has more digits than the static
 *   precision;
 * - two evaluations differ, or sf_expr_eval (the compiled forms) and
 *   sf_expr_eval_tree (the interpreter) differ.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/decimal.h"
#include "core/error.h"
#include "core/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *name;
    sf_type type;
    sf_dec_type dec;
} columns[] = {
    {"p", SF_DECIMAL, {18, 2}}, {"q", SF_DECIMAL, {38, 10}}, {"r", SF_DECIMAL, {5, 5}},
    {"w", SF_DECIMAL, {38, 0}}, {"i", SF_INT, {0, 0}},       {"d", SF_DOUBLE, {0, 0}},
    {"s", SF_STRING, {0, 0}},   {"b", SF_BOOL, {0, 0}},      {"n", SF_NULL, {0, 0}},
};
#define NCOLS (sizeof columns / sizeof columns[0])
#define NROWS 4

static int resolve(void *ctx, const char *name, size_t len, int *slot, sf_type *type)
{
    (void)ctx;
    for (size_t i = 0; i < NCOLS; i++) {
        if (strlen(columns[i].name) == len && memcmp(columns[i].name, name, len) == 0) {
            *slot = (int)i;
            *type = columns[i].type;
            return 0;
        }
    }
    return -1;
}

static void decimal_of(void *ctx, int slot, sf_dec_type *d)
{
    (void)ctx;
    *d = columns[slot].dec;
}

static const sf_expr_columns cols = {resolve, NULL, decimal_of};

static void die(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_decimal_expr: %s\n  expression: %.300s\n", what, text);
    abort();
}

static sf_value cell(size_t c, int row)
{
    if (row == 3)
        return sf_null();
    switch (columns[c].type) {
    case SF_DECIMAL: {
        sf_i128 max = sf_dec_pow10(columns[c].dec.prec) - 1;
        sf_i128 v = row == 0 ? 12345 % (max + 1) : row == 1 ? max : -max;
        return sf_decimal(v, columns[c].dec.scale);
    }
    case SF_INT: return sf_int(row == 0 ? 7 : row == 1 ? INT64_MAX : INT64_MIN);
    case SF_DOUBLE: return sf_double(row == 0 ? 0.5 : row == 1 ? 1e300 : -0.0);
    case SF_STRING: return sf_string("ab", row == 0 ? 2 : row == 1 ? 1 : 0);
    case SF_BOOL: return sf_bool(row == 0);
    default: return sf_null();
    }
}

static int same(const sf_value *a, const sf_value *b)
{
    return a->type == b->type && (a->type == SF_NULL || sf_value_cmp(a, b) == 0) &&
           (a->type != SF_DECIMAL || a->scale == b->scale);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sf_value rows[NROWS][NCOLS];
    for (int r = 0; r < NROWS; r++)
        for (size_t c = 0; c < NCOLS; c++)
            rows[r][c] = cell(c, r);
    for (int flags = 0; flags <= SF_EXPR_ALLOW_AGG; flags += SF_EXPR_ALLOW_AGG) {
        sf_error err;
        sf_expr *e = sf_expr_parse(text, &cols, flags, &err);
        if (!e) {
            if (err.code >= 0 || err.msg[0] == '\0')
                die("a failed parse without a code or message", text);
            continue;
        }
        sf_type t = sf_expr_type(e);
        sf_dec_type d = sf_expr_decimal(e);
        if (t == SF_DECIMAL && (d.prec < 1 || d.prec > 38 || d.scale > d.prec))
            die("bad decimal type", text);
        if (sf_expr_agg_kind(e) == SF_AGG_NONE) {
            sf_arena scratch;
            sf_arena_init(&scratch, 1024);
            for (int r = 0; r < NROWS; r++) {
                sf_value v = sf_expr_eval(e, rows[r], &scratch);
                sf_value again = sf_expr_eval(e, rows[r], &scratch);
                if (v.type != SF_NULL && v.type != t)
                    die("a value of another type than the static one", text);
                if (v.type == SF_DECIMAL &&
                    (v.scale != d.scale || !sf_dec_fits(sf_decimal_get(&v), d.prec)))
                    die("a decimal value outside its static precision or scale", text);
                if (!same(&v, &again))
                    die("two evaluations differ", text);
                sf_value tree = sf_expr_eval_tree(e, rows[r], &scratch);
                if (!same(&v, &tree))
                    die("the compiled forms and the interpreter differ", text);
            }
            sf_arena_free(&scratch);
        }
        sf_expr_free(e);
    }
    free(text);
    return 0;
}
