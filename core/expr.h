/* expr.h - the job spec's expression language: parsed once, evaluated per row.
 *
 * Grammar (lowest to highest precedence):
 *   or      := and ('||' and)*
 *   and     := cmp ('&&' cmp)*
 *   cmp     := add (('=='|'!='|'<'|'<='|'>'|'>=') add
 *                  | 'in' '(' or (',' or)* ')')?
 *   add     := mul (('+'|'-') mul)*
 *   mul     := unary (('*'|'/'|'%') unary)*
 *   unary   := ('!'|'-') unary | primary
 *   primary := number | 'string' | "string" | true | false | null
 *            | name '(' args ')' | column | '(' or ')'
 *   column  := ident ('.' ident)*      -- dotted path into nested JSON
 * Strings take '' or \' inside single quotes (and "" or \" inside double).
 * The scalar functions (round, cast, substr, date_trunc, ...) are listed in
 * fn_table in expr.c and computed by core/expr_fn.h; arguments that must be
 * literals (units, formats, regexp patterns, cast types) are checked here,
 * and a regexp is compiled once, when the expression is parsed.
 *
 * Types are checked at parse time against the columns the caller resolves;
 * errors name the position as "at LINE:COL" (1-based) and set err->line and
 * err->column. Evaluation cannot fail: NULL propagates SQL-style (arithmetic
 * and comparisons with NULL give NULL, && and || are three-valued, if() takes
 * the else branch on NULL), integer overflow and division by zero give NULL,
 * '/' always gives double, and a cast() of a value that does not convert
 * gives NULL (TRY_CAST).
 *
 * Decimals (core/decimal.h): + - * % of a decimal with a decimal, an int64
 * or an integer literal give a decimal (+ - keep the larger scale, * adds
 * the scales, precision capped at 38; a result beyond its precision gives
 * NULL, as int64 overflow does); '/' gives double; a real literal next to a
 * decimal is read as the exact decimal it spells; any other double next to
 * a decimal is a type error that says to cast one side. Comparisons of
 * decimals with decimals or int64 are exact.
 */
#ifndef SF_EXPR_H
#define SF_EXPR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/value.h"

typedef struct sf_expr sf_expr;

/* How the parser learns about columns. resolve() gets the column text (a
 * dotted path, not NUL-terminated) and returns 0 with *slot and *type set, or
 * -1 when there is no such column. */
typedef struct sf_expr_columns {
    int (*resolve)(void *ctx, const char *name, size_t len, int *slot, sf_type *type);
    void *ctx;
    /* Precision and scale of a column resolve() called SF_DECIMAL; may be
     * NULL when no column is a decimal. */
    void (*decimal)(void *ctx, int slot, sf_dec_type *d);
} sf_expr_columns;

typedef enum sf_agg_kind {
    SF_AGG_NONE = 0,
    SF_AGG_COUNT,         /* count()              -> int64 */
    SF_AGG_COUNT_IF,      /* count_if(bool)       -> int64 */
    SF_AGG_SUM,           /* sum(int64|double)    -> same type; decimal(P,S) -> decimal(38,S) */
    SF_AGG_MIN,           /* min(any but bool)    -> same type */
    SF_AGG_MAX,           /* max(any but bool)    -> same type */
    SF_AGG_MEAN,          /* mean(int64|double)   -> double; decimal -> decimal (core/decimal.h) */
    SF_AGG_COUNT_DISTINCT /* count_distinct(any)  -> int64 */
} sf_agg_kind;

/* Flag for sf_expr_parse: the root may be one aggregate call. */
#define SF_EXPR_ALLOW_AGG 1

/* Parses text. Returns a new expression (caller frees with sf_expr_free), or
 * NULL with err filled, e.g. "unknown column 'revenu' at 1:1". */
sf_expr *sf_expr_parse(const char *text, const sf_expr_columns *cols, int flags,
                       sf_error *err);

/* Frees e; NULL is a no-op. */
void sf_expr_free(sf_expr *e);

/* Static result type. SF_NULL only for an expression that is always NULL. */
sf_type sf_expr_type(const sf_expr *e);

/* Precision and scale of a decimal expression ({0, 0} for other types). */
sf_dec_type sf_expr_decimal(const sf_expr *e);

/* Evaluates e over row (an array indexed by slot). Strings in the result are
 * borrowed from row or allocated in scratch (valid until its reset).
 * Must not be called on an aggregate root. Cannot fail. */
sf_value sf_expr_eval(const sf_expr *e, const sf_value *row, sf_arena *scratch);

/* sf_expr_eval into *out, which may be a slot of row that e reads (a
 * derive that replaces its column): the value is written once, in place,
 * after every operand was read. Cannot fail. */
void sf_expr_eval_to(const sf_expr *e, const sf_value *row, sf_arena *scratch, sf_value *out);

/* 1 when e is true over row, 0 when it is false or NULL (a filter's test),
 * without building the bool value. Cannot fail. */
int sf_expr_test(const sf_expr *e, const sf_value *row, sf_arena *scratch);

/* A test a hot loop runs inline, without a call (count_if's argument, a
 * filter): a string column == or != a literal of 4 to 16 bytes, compared
 * as its length and first and last words; a double column against a
 * number literal; an int64 or timestamp column against a literal of its
 * type (a time range: ts >= 1754006400), a date column against a date.
 * Filled once, at plan time, by sf_expr_leaf_of. */
enum { SF_LEAF_NONE, SF_LEAF_STR, SF_LEAF_DOUBLE, SF_LEAF_INT, SF_LEAF_DATE };
typedef struct sf_expr_leaf {
    int kind;      /* SF_LEAF_* */
    int slot;      /* the column's */
    unsigned truth; /* bit i: the answer when the comparison's outcome is i
                     * (SF_LEAF_STR: 0 differ, 1 equal; the others: 0
                     * less, 1 equal, 2 greater, a NaN value greater) */
    uint32_t n;     /* SF_LEAF_STR: the literal's length (4..16) */
    uint64_t w0, w1; /* its first and last 8 bytes (4 bytes when n < 8) */
    double k;        /* SF_LEAF_DOUBLE: the literal, never NaN */
    int64_t i;       /* SF_LEAF_INT, SF_LEAF_DATE: the literal (a date's day number) */
    int vtype;       /* SF_LEAF_INT, SF_LEAF_DATE: the column's sf_type */
} sf_expr_leaf;

/* Fills *l with e's inline form; l->kind is SF_LEAF_NONE when e has none
 * (then sf_expr_test it). e may be NULL. Cannot fail. */
void sf_expr_leaf_of(const sf_expr *e, sf_expr_leaf *l);

/* 1 when e is an && of two tests that both have an inline form, filled
 * in *a and *b: e is true (sf_expr_test) exactly when both are, so a
 * filter tests them in turn; 0 otherwise. e may be NULL. Cannot fail. */
int sf_expr_leaf_and(const sf_expr *e, sf_expr_leaf *a, sf_expr_leaf *b);

/* l's test over row, as sf_expr_test gives it: 1 true, 0 false or NULL,
 * -1 when the inline form cannot tell (a number or date column holding
 * another type: call sf_expr_test). */
static inline int sf_expr_leaf_true(const sf_expr_leaf *l, const sf_value *row)
{
    const sf_value *v = &row[l->slot];
    if (v->type == SF_NULL)
        return 0;
    if (l->kind == SF_LEAF_STR) {
        int eq;
        const char *p = v->u.s.p;
        size_t n = l->n;
        if (v->u.s.n != n) {
            eq = 0;
        } else if (n >= 8) {
            uint64_t a, b;
            memcpy(&a, p, 8);
            memcpy(&b, p + n - 8, 8);
            eq = a == l->w0 && b == l->w1;
        } else {
            uint32_t a, b;
            memcpy(&a, p, 4);
            memcpy(&b, p + n - 4, 4);
            eq = a == (uint32_t)l->w0 && b == (uint32_t)l->w1;
        }
        return (int)(l->truth >> eq) & 1;
    }
    if (l->kind == SF_LEAF_DOUBLE) {
        if (v->type != SF_DOUBLE)
            return -1;
        double d = v->u.d, k = l->k;
        int c = d != d ? 2 : (d > k) - (d < k) + 1;
        return (int)(l->truth >> c) & 1;
    }
    if ((int)v->type != l->vtype)
        return -1;
    int64_t i = l->kind == SF_LEAF_DATE ? (int64_t)v->u.date : v->u.i, k = l->i;
    return (int)(l->truth >> ((i > k) - (i < k) + 1)) & 1;
}

/* A derive a hot loop runs inline, without a call (a lean plan's derive
 * step): if() whose test is a string column == a literal of 8 to 16
 * bytes, a !is_null() of a column, or an && of two of those, each branch
 * a column or a literal (the KPI revenue); to_date() of an int64 column
 * of Unix seconds. Filled once, at plan time, by sf_expr_derive_of; the
 * compiled form of the same expression runs the same functions
 * (core/expr_fast.c), so the two cannot disagree. */
enum { SF_DERIVE_NONE, SF_DERIVE_IF, SF_DERIVE_DAY_SECS };
typedef struct sf_expr_derive {
    int kind;              /* SF_DERIVE_* */
    int nt;                /* SF_DERIVE_IF: its leaves, 1 or 2 */
    int slot[2];           /* a leaf's column (SF_DERIVE_DAY_SECS: slot[0], the seconds') */
    size_t n[2];           /* a string leaf's literal length (8..16); 0: a not-NULL leaf */
    uint64_t w0[2], w1[2]; /* a string leaf's literal: its first and last word */
    int bslot, cslot;      /* a branch's column, or -1 for its literal */
    sf_value kb, kc;       /* the branches' literals */
} sf_expr_derive;

/* Fills *d with e's inline form; d->kind is SF_DERIVE_NONE when e has
 * none (then sf_expr_eval_to it). Cannot fail. */
void sf_expr_derive_of(const sf_expr *e, sf_expr_derive *d);

/* 1 when leaf t of an SF_DERIVE_IF form is true over row: false and NULL
 * both give 0. */
static inline int sf_expr_if_leaf_true(const sf_expr_derive *d, int t, const sf_value *row)
{
    const sf_value *v = &row[d->slot[t]];
    if (v->type == SF_NULL)
        return 0;
    size_t n = d->n[t];
    if (n == 0)
        return 1;
    uint64_t a, b;
    if (v->u.s.n != n)
        return 0;
    memcpy(&a, v->u.s.p, 8);
    memcpy(&b, v->u.s.p + n - 8, 8);
    return a == d->w0[t] && b == d->w1[t];
}

/* An SF_DERIVE_IF form's value over row into *out (which may be a slot of
 * row: every operand is read first): the then branch only when every
 * leaf is true (an && is true only when both operands are; if() takes the
 * else branch on false and NULL alike). Returns 1 when it took the then
 * branch. */
static inline int sf_expr_derive_if(const sf_expr_derive *d, const sf_value *row, sf_value *out)
{
    int then = sf_expr_if_leaf_true(d, 0, row) && (d->nt == 1 || sf_expr_if_leaf_true(d, 1, row));
    if (then)
        *out = d->bslot >= 0 ? row[d->bslot] : d->kb;
    else
        *out = d->cslot >= 0 ? row[d->cslot] : d->kc;
    return then;
}

/* to_date() of s, a count of 1/per days from 1970 (per = 86400: Unix
 * seconds; SF_US_PER_DAY: a timestamp), into *out: the UTC day by floor
 * division, NULL when it does not fit a date (as sf_date_from_unix). per
 * is a constant in each caller, so the division is a multiplication. */
static inline void sf_expr_day_of(int64_t s, int64_t per, sf_value *out)
{
    /* From 1970 on, a day that fits: one unsigned division, no floor
     * correction and no range test (S1's every row). */
    const uint64_t fits = per > INT64_MAX / INT32_MAX ? (uint64_t)INT64_MAX
                                                     : (uint64_t)per * INT32_MAX;
    if ((uint64_t)s < fits) {
        *out = sf_date((int32_t)((uint64_t)s / (uint64_t)per));
        return;
    }
    int64_t q = s / per;
    if (s % per != 0 && s < 0)
        q--;
    *out = q < INT32_MIN || q > INT32_MAX ? sf_null() : sf_date((int32_t)q);
}

/* to_date() of column value v (int64 Unix seconds for per = 86400, a
 * timestamp for SF_US_PER_DAY) into *out (which may be v): NULL for NULL,
 * else sf_expr_day_of. */
static inline void sf_expr_day_of_value(const sf_value *v, int64_t per, sf_value *out)
{
    if (v->type == SF_NULL)
        *out = sf_null();
    else
        sf_expr_day_of(v->u.i, per, out);
}

/* An SF_DERIVE_DAY_SECS form's value over row into *out (which may be a
 * slot of row). */
static inline void sf_expr_derive_day(const sf_expr_derive *d, const sf_value *row, sf_value *out)
{
    sf_expr_day_of_value(&row[d->slot[0]], 86400, out);
}

/* The same value through the plain tree-walking interpreter only, without
 * the forms compiled at parse time (core/expr_fast.c) that sf_expr_eval,
 * sf_expr_eval_to and sf_expr_test run: the reference the unit tests and
 * fuzz_expr check the compiled forms against. */
sf_value sf_expr_eval_tree(const sf_expr *e, const sf_value *row, sf_arena *scratch);

/* For an expression parsed with SF_EXPR_ALLOW_AGG: the aggregate at its root
 * (SF_AGG_NONE if it is a plain expression) and its argument (borrowed from
 * e; NULL for count()). */
sf_agg_kind sf_expr_agg_kind(const sf_expr *e);
const sf_expr *sf_expr_agg_arg(const sf_expr *e);

/* Calls fn(ctx, slot) for every column reference in e (with repeats). */
void sf_expr_visit_columns(const sf_expr *e, void (*fn)(void *ctx, int slot), void *ctx);

/* The row slot e reads when e is just a column reference, else -1: lets a
 * hot loop take row[slot] instead of evaluating. */
int sf_expr_slot(const sf_expr *e);

#endif
