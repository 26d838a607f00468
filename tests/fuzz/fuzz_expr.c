/* fuzz_expr.c - fuzz target: the expression parser, type checker and
 * evaluator (core/expr.h).
 *
 * The input (cut at its first NUL) is parsed twice over a fixed set of
 * columns of every type, dotted paths included: without and with
 * SF_EXPR_ALLOW_AGG. Aborts when
 * - a failed parse gives no negative code or an empty message;
 * - the two parses disagree: a plain expression must parse the same way
 *   (same static type, no aggregate) with aggregates allowed, and a parse
 *   with aggregates allowed that finds none must also succeed without;
 * - a column reference names a slot outside the row;
 * - evaluating over the fixed rows (ordinary values, all NULL, extremes:
 *   INT64_MIN/MAX, NaN, -0.0, infinities, empty and padded strings, the
 *   int32 date bounds; strings one byte shorter, empty) gives a value that
 *   is neither NULL nor the static type, differs between two evaluations,
 *   differs from the interpreter's (sf_expr_eval_tree; sf_expr_test and
 *   sf_expr_eval_to in place too), or (for a string) cannot be read in
 *   full (ASan);
 * - an aggregate's kind, argument and result type do not fit its rules.
 * Recursion is bounded by the parser's depth limit, so deep inputs must
 * fail cleanly, not overflow the stack.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/expr.h"
#include "core/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct column {
    const char *name;
    sf_type type;
} column;

static const column columns[] = {
    {"i", SF_INT},           {"j", SF_INT},           {"d", SF_DOUBLE},
    {"e", SF_DOUBLE},        {"s", SF_STRING},        {"t", SF_STRING},
    {"b", SF_BOOL},          {"c", SF_BOOL},          {"day", SF_DATE},
    {"since", SF_DATE},      {"z", SF_NULL},          {"props.price", SF_DOUBLE},
    {"props.quantity", SF_INT}, {"props.tag", SF_STRING}, {"a.b.c.d", SF_BOOL},
    {"event_type", SF_STRING}, {"ts", SF_INT},        {"user_id", SF_INT},
    {"at", SF_TIMESTAMP},      {"until", SF_TIMESTAMP},
};
#define NCOLS (sizeof columns / sizeof columns[0])
#define NROWS 5

static sf_value rows[NROWS][NCOLS];

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

static const sf_expr_columns cols = {resolve, NULL, NULL};

static void die(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_expr: %s\n  expression: %.300s\n", what, text);
    abort();
}

/* Row values per type: ordinary, NULL, extreme, and a second ordinary set
 * with values that meet the first in comparisons. */
static void init_rows(void)
{
    static const char padded[] = "  MiXeD Case\t";
    for (size_t c = 0; c < NCOLS; c++) {
        switch (columns[c].type) {
        case SF_INT:
            rows[0][c] = sf_int(42 + (int64_t)c);
            rows[2][c] = sf_int(c % 2 ? INT64_MIN : INT64_MAX);
            rows[3][c] = sf_int(c % 3 ? -1 : 0);
            break;
        case SF_DOUBLE:
            rows[0][c] = sf_double(12.5);
            rows[2][c] = sf_double(c % 2 ? NAN : -INFINITY);
            rows[3][c] = sf_double(c % 3 ? -0.0 : 1e308);
            break;
        case SF_STRING:
            rows[0][c] = sf_string("purchase", 8);
            rows[2][c] = sf_string(padded, sizeof padded - 1);
            rows[3][c] = sf_string("2025-08-01T23:30:00-02:00", 25);
            break;
        case SF_BOOL:
            rows[0][c] = sf_bool(1);
            rows[2][c] = sf_bool(0);
            rows[3][c] = sf_bool(c % 2);
            break;
        case SF_DATE:
            rows[0][c] = sf_date(20301);
            rows[2][c] = sf_date(c % 2 ? INT32_MIN : INT32_MAX);
            rows[3][c] = sf_date(-1);
            break;
        case SF_TIMESTAMP:
            rows[0][c] = sf_timestamp(INT64_C(1772368496789000));
            rows[2][c] = sf_timestamp(c % 2 ? INT64_MIN : INT64_MAX);
            rows[3][c] = sf_timestamp(-1);
            break;
        default:
            rows[0][c] = sf_null();
            rows[2][c] = sf_null();
            rows[3][c] = sf_null();
            break;
        }
        rows[1][c] = sf_null();
        /* Near the first row: a string one byte shorter, or empty; zero
         * doubles, days cut at midnight from either side. */
        switch (columns[c].type) {
        case SF_INT: rows[4][c] = sf_int(c % 2 ? -86401 : 86399); break;
        case SF_DOUBLE: rows[4][c] = sf_double(c % 2 ? 0.0 : 12.500000000000002); break;
        case SF_STRING: rows[4][c] = c % 2 ? sf_string("purchas", 7) : sf_string("", 0); break;
        case SF_BOOL: rows[4][c] = sf_bool(!(c % 2)); break;
        case SF_DATE: rows[4][c] = sf_date(20300); break;
        case SF_TIMESTAMP: rows[4][c] = sf_timestamp(-INT64_C(86400000000)); break;
        default: rows[4][c] = sf_null(); break;
        }
    }
}

static int identical(const sf_value *a, const sf_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SF_NULL: return 1;
    case SF_BOOL: return a->u.b == b->u.b;
    case SF_INT:
    case SF_TIMESTAMP: return a->u.i == b->u.i;
    case SF_DOUBLE: return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0;
    case SF_DATE: return a->u.date == b->u.date;
    case SF_STRING:
        return a->u.s.n == b->u.s.n && (a->u.s.n == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
    }
    return 0;
}

static void check_slot(void *ctx, int slot)
{
    if (slot < 0 || (size_t)slot >= NCOLS)
        die("column reference outside the row", ctx);
}

static volatile unsigned sink;

static void keep_first(void *ctx, int slot)
{
    int *first = ctx;
    if (*first < 0)
        *first = slot;
}

/* The slot of the first column e reads, or 0 when it reads none. */
static int first_slot(const sf_expr *e)
{
    int first = -1;
    sf_expr_visit_columns(e, keep_first, &first);
    return first < 0 ? 0 : first;
}

/* Evaluates e (a plain expression) over every row and checks the results. */
static void check_eval(const sf_expr *e, const char *text, sf_arena *scratch)
{
    sf_type t = sf_expr_type(e);
    if ((int)t < SF_NULL || (int)t > SF_TIMESTAMP)
        die("static type out of range", text);
    sf_expr_visit_columns(e, check_slot, (void *)text);
    for (size_t r = 0; r < NROWS; r++) {
        sf_value v = sf_expr_eval(e, rows[r], scratch);
        if (v.type != SF_NULL && v.type != t)
            die("value type differs from the static type", text);
        if (v.type == SF_BOOL && v.u.b != 0 && v.u.b != 1)
            die("bool value other than 0 or 1", text);
        if (v.type == SF_STRING) {
            unsigned h = 0;
            for (size_t k = 0; k < v.u.s.n; k++)
                h = h * 31 + (unsigned char)v.u.s.p[k];
            sink = h;
        }
        sf_value again = sf_expr_eval(e, rows[r], scratch);
        if (!identical(&v, &again))
            die("two evaluations of the same row differ", text);
        sf_value tree = sf_expr_eval_tree(e, rows[r], scratch);
        if (!identical(&v, &tree))
            die("the compiled forms and the interpreter differ", text);
        if ((t == SF_BOOL || t == SF_NULL) &&
            sf_expr_test(e, rows[r], scratch) != (tree.type == SF_BOOL && tree.u.b))
            die("sf_expr_test differs from the interpreter's truth", text);
        if (t == SF_BOOL || t == SF_NULL) {
            sf_expr_leaf leaf;
            sf_expr_leaf_of(e, &leaf);
            int got = leaf.kind != SF_LEAF_NONE ? sf_expr_leaf_true(&leaf, rows[r]) : -1;
            if (got >= 0 && got != (tree.type == SF_BOOL && tree.u.b))
                die("sf_expr_leaf_true differs from the interpreter's truth", text);
        }
        /* In place, over the slot of a column the expression reads. */
        sf_value copy[NCOLS];
        memcpy(copy, rows[r], sizeof copy);
        sf_expr_eval_to(e, copy, scratch, &copy[first_slot(e)]);
        if (!identical(&copy[first_slot(e)], &tree))
            die("sf_expr_eval_to in place differs from the interpreter", text);
        sf_arena_reset(scratch);
    }
}

static void check_agg(const sf_expr *e, const char *text, sf_arena *scratch)
{
    sf_agg_kind k = sf_expr_agg_kind(e);
    const sf_expr *arg = sf_expr_agg_arg(e);
    sf_type t = sf_expr_type(e);
    if ((k == SF_AGG_COUNT) != (arg == NULL))
        die("count() must be the only aggregate without an argument", text);
    sf_type at = arg ? sf_expr_type(arg) : SF_NULL;
    switch (k) {
    case SF_AGG_COUNT:
    case SF_AGG_COUNT_DISTINCT:
        if (t != SF_INT)
            die("count aggregate not int64", text);
        break;
    case SF_AGG_COUNT_IF:
        if (t != SF_INT || (at != SF_BOOL && at != SF_NULL))
            die("count_if() types", text);
        break;
    case SF_AGG_SUM:
        if (t != at || (at != SF_INT && at != SF_DOUBLE && at != SF_NULL))
            die("sum() types", text);
        break;
    case SF_AGG_MEAN:
        if (t != SF_DOUBLE || (at != SF_INT && at != SF_DOUBLE && at != SF_NULL))
            die("mean() types", text);
        break;
    case SF_AGG_MIN:
    case SF_AGG_MAX:
        if (t != at || at == SF_BOOL)
            die("min()/max() types", text);
        break;
    default:
        die("unknown aggregate kind", text);
    }
    sf_expr_visit_columns(e, check_slot, (void *)text);
    if (arg)
        check_eval(arg, text, scratch);
}

static void check_failure(const sf_error *err, const char *text)
{
    if (err->code >= 0 || err->msg[0] == '\0')
        die("failed parse without a negative code and a message", text);
    if (err->code != SF_E_NOMEM && err->line < 1)
        die("parse error without a line", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        init_rows();
        ready = 1;
    }
    /* An exact-size copy, so reading past the terminator is caught. */
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';

    sf_arena scratch;
    sf_arena_init(&scratch, 256);
    sf_error err;

    sf_expr *plain = sf_expr_parse(text, &cols, 0, &err);
    if (plain)
        check_eval(plain, text, &scratch);
    else
        check_failure(&err, text);

    sf_expr *agg = sf_expr_parse(text, &cols, SF_EXPR_ALLOW_AGG, &err);
    if (!agg) {
        check_failure(&err, text);
        if (plain && err.code != SF_E_NOMEM)
            die("parses as a plain expression but not with aggregates allowed", text);
    } else if (sf_expr_agg_kind(agg) == SF_AGG_NONE) {
        if (!plain)
            die("no aggregate in it, yet it only parses with aggregates allowed", text);
        if (sf_expr_type(agg) != sf_expr_type(plain))
            die("static type depends on SF_EXPR_ALLOW_AGG", text);
        check_eval(agg, text, &scratch);
    } else {
        if (plain)
            die("an aggregate parsed without SF_EXPR_ALLOW_AGG", text);
        check_agg(agg, text, &scratch);
    }

    sf_expr_free(plain);
    sf_expr_free(agg);
    sf_arena_free(&scratch);
    free(text);
    return 0;
}
