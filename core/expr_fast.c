/* expr_fast.c - compiles a parsed expression tree into evaluators chosen at
 * parse time (core/expr_node.h, "compiled form").
 *
 * The interpreter in core/expr.c switches on the node kind at every node
 * and moves sf_values by copy; on the shapes' per-row expressions (a string
 * column == a literal, a number against a literal, is_null, if(), &&, ||,
 * to_date of an int64 or timestamp column) that dispatch is most of the
 * cost, and arithmetic (a derive's price * quantity) went through the
 * interpreter whole. Here each node gets the function for its kind and
 * its operands' static types once, so a row pays one indirect call per
 * node and the checks the types leave.
 *
 * Invariants a maintainer must keep:
 * - A specialised form gives exactly what sf_expr_node_eval() gives on the
 *   same node (NULL semantics, NaN ordering, range checks); whatever it
 *   does not cover goes to sf_expr_node_eval() whole. The unit tests
 *   (tests/unit/test_expr.c) and fuzz_expr compare the two.
 * - A form relies on the interpreter's invariant that a column holds its
 *   static type or NULL; a double operand is still checked at run time and
 *   anything else takes the general path.
 */
#include <stdint.h>
#include <string.h>

#include "core/bytes.h"
#include "core/expr.h"
#include "core/expr_node.h"
#include "core/fmt.h"

typedef sf_expr_fast xf;

/* ------------------------------------------------------------- general */

static int c_tree(const xf *x, const sf_value *row, sf_arena *scratch)
{
    sf_value v = sf_expr_node_eval(x->n, row, scratch);
    return v.type == SF_NULL ? SF_XF_NULL : v.u.b != 0;
}

static void v_tree(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    *out = sf_expr_node_eval(x->n, row, scratch);
}

/* --------------------------------------------------------------- leaves */

static void v_col(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    (void)scratch;
    *out = row[x->slot];
}

static void v_const(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    (void)row;
    (void)scratch;
    *out = x->k;
}

static int c_col(const xf *x, const sf_value *row, sf_arena *scratch)
{
    (void)scratch;
    const sf_value *v = &row[x->slot];
    return v->type == SF_NULL ? SF_XF_NULL : v->u.b != 0;
}

static int c_const(const xf *x, const sf_value *row, sf_arena *scratch)
{
    (void)row;
    (void)scratch;
    return x->k.type == SF_NULL ? SF_XF_NULL : x->k.u.b != 0;
}

/* A condition as a value: bool or NULL. */
static void v_cond(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    int c = x->cond(x, row, scratch);
    *out = c == SF_XF_NULL ? sf_null() : sf_bool(c);
}

/* ------------------------------------------- string column vs a literal
 *
 * Strings of equal length n are equal when their first and last words are:
 * for 4 <= n <= 8 two 4-byte words cover every byte, for 8 <= n <= 16 two
 * 8-byte words do (overlapping in the middle). Other lengths use memcmp. */

static inline uint64_t load8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint32_t load4(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

static inline int eq_w8(const xf *x, const char *p) { return load8(p) == x->w0 && load8(p + x->k.u.s.n - 8) == x->w1; }
static inline int eq_w4(const xf *x, const char *p) { return load4(p) == (uint32_t)x->w0 && load4(p + x->k.u.s.n - 4) == (uint32_t)x->w1; }
static inline int eq_mem(const xf *x, const char *p) { return x->k.u.s.n == 0 || memcmp(p, x->k.u.s.p, x->k.u.s.n) == 0; }

#define STR_EQ_FORMS(name, eq)                                                                    \
    static int c_str_eq_##name(const xf *x, const sf_value *row, sf_arena *scratch)              \
    {                                                                                             \
        (void)scratch;                                                                            \
        const sf_value *v = &row[x->slot];                                                        \
        if (v->type == SF_NULL)                                                                   \
            return SF_XF_NULL;                                                                    \
        return v->u.s.n == x->k.u.s.n && eq(x, v->u.s.p);                                         \
    }                                                                                             \
    static int c_str_ne_##name(const xf *x, const sf_value *row, sf_arena *scratch)              \
    {                                                                                             \
        (void)scratch;                                                                            \
        const sf_value *v = &row[x->slot];                                                        \
        if (v->type == SF_NULL)                                                                   \
            return SF_XF_NULL;                                                                    \
        return !(v->u.s.n == x->k.u.s.n && eq(x, v->u.s.p));                                      \
    }

STR_EQ_FORMS(w8, eq_w8)
STR_EQ_FORMS(w4, eq_w4)
STR_EQ_FORMS(mem, eq_mem)

/* ------------------------------------------- number column vs a literal */

/* A double column against a literal that is not NaN, ordered as
 * sf_value_cmp orders them: a NaN value sorts after every number. */
static int c_cmp_double(const xf *x, const sf_value *row, sf_arena *scratch)
{
    const sf_value *v = &row[x->slot];
    if (v->type != SF_DOUBLE)
        return v->type == SF_NULL ? SF_XF_NULL : c_tree(x, row, scratch);
    double d = v->u.d, k = x->k.u.d;
    int c = d != d ? 1 : (d > k) - (d < k);
    return sf_expr_cmp_result(x->op, c);
}

/* An int64 or timestamp column against a literal of its type. */
static int c_cmp_int(const xf *x, const sf_value *row, sf_arena *scratch)
{
    (void)scratch;
    const sf_value *v = &row[x->slot];
    if (v->type == SF_NULL)
        return SF_XF_NULL;
    int64_t i = v->u.i, k = x->k.u.i;
    return sf_expr_cmp_result(x->op, (i > k) - (i < k));
}

static int c_cmp_date(const xf *x, const sf_value *row, sf_arena *scratch)
{
    (void)scratch;
    const sf_value *v = &row[x->slot];
    if (v->type == SF_NULL)
        return SF_XF_NULL;
    int32_t i = v->u.date, k = x->k.u.date;
    return sf_expr_cmp_result(x->op, (i > k) - (i < k));
}

/* Any other comparison, its operands through their compiled forms. */
static int c_cmp(const xf *x, const sf_value *row, sf_arena *scratch)
{
    sf_value l, r;
    x->a->val(x->a, row, scratch, &l);
    if (l.type == SF_NULL)
        return SF_XF_NULL;
    x->b->val(x->b, row, scratch, &r);
    if (r.type == SF_NULL)
        return SF_XF_NULL;
    return sf_expr_cmp_values(x->n, &l, &r);
}

/* ------------------------------------------- a column in (literals)
 *
 * x in (e1, e2, ...) of a column and literals none of which is NULL, as
 * the interpreter's ev_in: NULL for a NULL column, true on the first
 * equal literal, else false. Strings equal by length and bytes; int64s
 * and timestamps by value. */

static int c_in_str(const xf *x, const sf_value *row, sf_arena *scratch)
{
    (void)scratch;
    const sf_value *v = &row[x->slot];
    if (v->type == SF_NULL)
        return SF_XF_NULL;
    for (uint32_t k = 0; k < x->nlist; k++) {
        const sf_value *e = &x->list[k];
        if (v->u.s.n == e->u.s.n && (e->u.s.n == 0 || memcmp(v->u.s.p, e->u.s.p, e->u.s.n) == 0))
            return SF_XF_TRUE;
    }
    return SF_XF_FALSE;
}

static int c_in_int(const xf *x, const sf_value *row, sf_arena *scratch)
{
    (void)scratch;
    const sf_value *v = &row[x->slot];
    if (v->type == SF_NULL)
        return SF_XF_NULL;
    for (uint32_t k = 0; k < x->nlist; k++)
        if (v->u.i == x->list[k].u.i)
            return SF_XF_TRUE;
    return SF_XF_FALSE;
}

/* x's in (...) form when n (K_IN) is a column against literals of a class
 * these take: x->cond set; else left as it is (the tree). 0, or -1 when
 * out of memory. */
static int compile_in(xf *x, const sf_expr_node *n, sf_arena *arena)
{
    const sf_expr_node *col = n->u.args[0];
    if (col->kind != K_COL || n->nargs < 2)
        return 0;
    int cls = n->u.args[1]->cls;
    if (cls != C_STR && cls != C_INT && cls != C_TS)
        return 0;
    for (uint32_t k = 1; k < n->nargs; k++) {
        const sf_expr_node *c = n->u.args[k], *e = c->u.x.b;
        if (c->kind != K_CMP || c->cls != cls || c->u.x.a != col || e->kind != K_CONST ||
            e->u.k.type == SF_NULL)
            return 0;
    }
    sf_value *list = sf_arena_alloc(arena, (n->nargs - 1) * sizeof *list);
    if (!list)
        return -1;
    for (uint32_t k = 1; k < n->nargs; k++)
        list[k - 1] = n->u.args[k]->u.x.b->u.k;
    x->list = list;
    x->nlist = n->nargs - 1;
    x->slot = col->u.slot;
    x->cond = cls == C_STR ? c_in_str : c_in_int;
    return 0;
}

/* ---------------------------------------------------------------- logic */

/* x's condition, the commonest leaves (the KPI revenue's guard) tested in
 * place of a call. */
static inline int leaf_of(const xf *x, const sf_value *row, sf_arena *scratch)
{
    switch (x->leaf) {
    case XL_STR_EQ_W8: {
        const sf_value *v = &row[x->slot];
        if (v->type == SF_NULL)
            return SF_XF_NULL;
        return v->u.s.n == x->k.u.s.n && eq_w8(x, v->u.s.p);
    }
    case XL_NOT_NULL_COL: return row[x->slot].type != SF_NULL;
    default: return x->cond(x, row, scratch);
    }
}

/* && and || alike: dom (FALSE for &&, TRUE for ||) decides alone, and
 * short-circuits; otherwise NULL wins over the other value. */
static inline int logic(const xf *x, const sf_value *row, sf_arena *scratch, int dom)
{
    int a = leaf_of(x->a, row, scratch);
    if (a == dom)
        return dom;
    int b = leaf_of(x->b, row, scratch);
    if (b == dom)
        return dom;
    return a == SF_XF_NULL || b == SF_XF_NULL ? SF_XF_NULL : !dom;
}

/* leaf_of, and an && of two operands (the revenue's guard) in place too. */
static inline int cond_of(const xf *x, const sf_value *row, sf_arena *scratch)
{
    return x->leaf == XL_AND ? logic(x, row, scratch, SF_XF_FALSE) : leaf_of(x, row, scratch);
}

static int c_and(const xf *x, const sf_value *row, sf_arena *scratch)
{
    return logic(x, row, scratch, SF_XF_FALSE);
}

static int c_or(const xf *x, const sf_value *row, sf_arena *scratch)
{
    return logic(x, row, scratch, SF_XF_TRUE);
}

static int c_not(const xf *x, const sf_value *row, sf_arena *scratch)
{
    int a = cond_of(x->a, row, scratch);
    return a == SF_XF_NULL ? SF_XF_NULL : !a;
}

static int c_is_null_col(const xf *x, const sf_value *row, sf_arena *scratch)
{
    (void)scratch;
    return row[x->slot].type == SF_NULL;
}

/* !is_null(column), the guard of the KPI revenue: one test. */
static int c_not_null_col(const xf *x, const sf_value *row, sf_arena *scratch)
{
    (void)scratch;
    return row[x->slot].type != SF_NULL;
}

static int c_is_null(const xf *x, const sf_value *row, sf_arena *scratch)
{
    sf_value v;
    x->a->val(x->a, row, scratch, &v);
    return v.type == SF_NULL;
}

/* if(): the else branch unless the condition is true; a branch that is a
 * column or a literal copied in place of a call. */
static void v_if(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    const xf *br = cond_of(x->a, row, scratch) == SF_XF_TRUE ? x->b : x->c;
    if (br->val == v_col)
        *out = row[br->slot];
    else if (br->val == v_const)
        *out = br->k;
    else
        br->val(br, row, scratch, out);
}

/* if() whose test is a string-equals or a not-NULL leaf or an && of two,
 * each branch a column or a literal (the KPI revenue's): its operands in
 * one block (x->ifb, an SF_DERIVE_IF form filled at compile time; read
 * from the tree's nodes they were five loads one after another), tested
 * by core/expr.h's sf_expr_derive_if, which a lean plan runs inline. */
static void v_if_leaves(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    (void)scratch;
    sf_expr_derive_if(x->ifb, row, out);
}

/* Fills leaf t of d from x (XL_STR_EQ_W8 or XL_NOT_NULL_COL). */
static void if_leaf_fill(sf_expr_derive *d, int t, const xf *x)
{
    d->slot[t] = x->slot;
    d->n[t] = x->leaf == XL_STR_EQ_W8 ? x->k.u.s.n : 0;
    d->w0[t] = x->w0;
    d->w1[t] = x->w1;
}

/* x's block for v_if_leaves (its test and branches checked), in arena;
 * NULL when out of memory. */
static const sf_expr_derive *if_block(const xf *x, sf_arena *arena)
{
    sf_expr_derive *d = sf_arena_alloc(arena, sizeof *d);
    if (!d)
        return NULL;
    memset(d, 0, sizeof *d);
    d->kind = SF_DERIVE_IF;
    const xf *a = x->a;
    d->nt = a->leaf == XL_AND ? 2 : 1;
    if_leaf_fill(d, 0, a->leaf == XL_AND ? a->a : a);
    if (d->nt == 2)
        if_leaf_fill(d, 1, a->b);
    d->bslot = x->b->val == v_col ? x->b->slot : -1;
    d->cslot = x->c->val == v_col ? x->c->slot : -1;
    d->kb = x->b->k;
    d->kc = x->c->k;
    return d;
}

/* 1 when x is a leaf v_if_leaves tests. */
static int is_if_leaf(const xf *x) { return x->leaf == XL_STR_EQ_W8 || x->leaf == XL_NOT_NULL_COL; }

/* to_date() of a column of Unix seconds (86400 a day) or of a timestamp
 * column (microseconds): core/expr.h's sf_expr_day_of_value. */
static void v_day_of_secs(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    (void)scratch;
    sf_expr_day_of_value(&row[x->slot], 86400, out);
}

static void v_day_of_ts(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    (void)scratch;
    sf_expr_day_of_value(&row[x->slot], SF_US_PER_DAY, out);
}

/* ----------------------------------------------------------- arithmetic
 *
 * + - * of two int64 operands, + - * and / of two doubles, and an int64
 * made a double (the parser's K_TO_DOUBLE around an int64 operand of a
 * double operation): the interpreter's K_ADD_I .. K_DIV with the same
 * NULLs (either operand NULL, an int64 overflow, a division by zero) and
 * the same IEEE operations. An operand that is a column or a literal is
 * read in place; any other is its compiled form's call. */

static inline __attribute__((always_inline)) void operand(const xf *o, const sf_value *row,
                                                          sf_arena *scratch, sf_value *v)
{
    if (o->val == v_col)
        *v = row[o->slot];
    else if (o->val == v_const)
        *v = o->k;
    else
        o->val(o, row, scratch, v);
}

/* Both operands of x into *l and *r; 0 (and NULL in *out) when either is
 * NULL, as the interpreter's operands(). */
static inline __attribute__((always_inline)) int operands2(const xf *x, const sf_value *row,
                                                           sf_arena *scratch, sf_value *l,
                                                           sf_value *r, sf_value *out)
{
    operand(x->a, row, scratch, l);
    if (l->type != SF_NULL) {
        operand(x->b, row, scratch, r);
        if (r->type != SF_NULL)
            return 1;
    }
    *out = sf_null();
    return 0;
}

#define ARITH_INT(name, builtin)                                                                 \
    static void v_##name(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)     \
    {                                                                                            \
        sf_value l, r;                                                                           \
        int64_t i;                                                                               \
        if (operands2(x, row, scratch, &l, &r, out))                                             \
            *out = builtin(l.u.i, r.u.i, &i) ? sf_null() : sf_int(i);                            \
    }
ARITH_INT(add_i, __builtin_add_overflow)
ARITH_INT(sub_i, __builtin_sub_overflow)
ARITH_INT(mul_i, __builtin_mul_overflow)

#define ARITH_DOUBLE(name, op)                                                                   \
    static void v_##name(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)     \
    {                                                                                            \
        sf_value l, r;                                                                           \
        if (operands2(x, row, scratch, &l, &r, out))                                             \
            *out = sf_double(l.u.d op r.u.d);                                                    \
    }
ARITH_DOUBLE(add_d, +)
ARITH_DOUBLE(sub_d, -)
ARITH_DOUBLE(mul_d, *)

static void v_div(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    sf_value l, r;
    if (operands2(x, row, scratch, &l, &r, out))
        *out = r.u.d == 0.0 ? sf_null() : sf_double(l.u.d / r.u.d);
}

static void v_to_double(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    sf_value v;
    operand(x->a, row, scratch, &v);
    *out = v.type == SF_INT ? sf_double((double)v.u.i) : v;
}

/* to_date() of any int64 or timestamp operand (ts + 3600): the operand's
 * compiled form, then the column forms' day. */
static void v_day_of_secs_x(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    sf_value v;
    operand(x->a, row, scratch, &v);
    sf_expr_day_of_value(&v, 86400, out);
}

static void v_day_of_ts_x(const xf *x, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    sf_value v;
    operand(x->a, row, scratch, &v);
    sf_expr_day_of_value(&v, SF_US_PER_DAY, out);
}

/* ------------------------------------------------------------- compiler */

static int mirror(int op)
{
    switch (op) {
    case OP_LT: return OP_GT;
    case OP_LE: return OP_GE;
    case OP_GT: return OP_LT;
    case OP_GE: return OP_LE;
    default: return op;
    }
}

/* A column compared with a literal: picks the specialised form, or leaves
 * x->cond as it is (c_cmp) when none fits. */
static void compile_cmp_leaf(xf *x)
{
    const sf_expr_node *n = x->n, *col = n->u.x.a, *lit = n->u.x.b;
    int op = n->op;
    if (col->kind == K_CONST && lit->kind == K_COL) {
        col = n->u.x.b;
        lit = n->u.x.a;
        op = mirror(op);
    }
    if (col->kind != K_COL || lit->kind != K_CONST || lit->u.k.type == SF_NULL)
        return;
    sf_value k = lit->u.k;
    x->slot = col->u.slot;
    x->op = op;
    if (n->cls == C_STR && col->type == SF_STRING && k.type == SF_STRING &&
        (op == OP_EQ || op == OP_NE)) {
        size_t len = k.u.s.n;
        x->k = k;
        if (len >= 4 && len <= 16)
            sf_bytes_words16(k.u.s.p, len, &x->w0, &x->w1);
        if (len >= 8 && len <= 16) {
            x->cond = op == OP_EQ ? c_str_eq_w8 : c_str_ne_w8;
            x->leaf = op == OP_EQ ? XL_STR_EQ_W8 : XL_CALL;
        } else if (len >= 4 && len < 8) {
            x->cond = op == OP_EQ ? c_str_eq_w4 : c_str_ne_w4;
        } else {
            x->cond = op == OP_EQ ? c_str_eq_mem : c_str_ne_mem;
        }
    } else if (n->cls == C_NUM && col->type == SF_DOUBLE) {
        /* An int64 literal within 2^53 is exact as a double. */
        if (k.type == SF_DOUBLE && k.u.d == k.u.d) {
            x->k = k;
        } else if (k.type == SF_INT && k.u.i >= -(INT64_C(1) << 53) &&
                   k.u.i <= (INT64_C(1) << 53)) {
            x->k = sf_double((double)k.u.i);
        } else {
            return;
        }
        x->cond = c_cmp_double;
    } else if ((n->cls == C_INT && col->type == SF_INT && k.type == SF_INT) ||
               (n->cls == C_TS && col->type == SF_TIMESTAMP && k.type == SF_TIMESTAMP)) {
        x->k = k;
        x->cond = c_cmp_int;
    } else if (n->cls == C_DATE && col->type == SF_DATE && k.type == SF_DATE) {
        x->k = k;
        x->cond = c_cmp_date;
    }
}

static xf *compile(const sf_expr_node *n, sf_arena *arena)
{
    xf *x = sf_arena_alloc(arena, sizeof *x);
    if (!x)
        return NULL;
    memset(x, 0, sizeof *x);
    x->n = n;
    x->val = v_tree;
    if (n->type == SF_BOOL || n->type == SF_NULL)
        x->cond = c_tree;
    int kids = 0;
    switch (n->kind) {
    case K_IF: kids = 3; break;
    case K_CMP:
    case K_AND:
    case K_OR: kids = 2; break;
    case K_ADD_I:
    case K_SUB_I:
    case K_MUL_I:
    case K_ADD_D:
    case K_SUB_D:
    case K_MUL_D:
    case K_DIV: kids = 2; break;
    case K_NOT:
    case K_IS_NULL:
    case K_TO_DOUBLE:
    case K_TO_DATE_I:
    case K_TS_TO_DATE: kids = 1; break;
    default: break;
    }
    if ((kids >= 1 && !(x->a = compile(n->u.x.a, arena))) ||
        (kids >= 2 && !(x->b = compile(n->u.x.b, arena))) ||
        (kids >= 3 && !(x->c = compile(n->u.x.c, arena))))
        return NULL;

    switch (n->kind) {
    case K_COL:
        x->slot = n->u.slot;
        x->val = v_col;
        if (x->cond)
            x->cond = c_col;
        return x;
    case K_CONST:
        x->k = n->u.k;
        x->val = v_const;
        if (x->cond)
            x->cond = c_const;
        return x;
    case K_CMP:
        x->cond = c_cmp;
        compile_cmp_leaf(x);
        break;
    case K_AND:
        x->cond = c_and;
        x->leaf = XL_AND;
        break;
    case K_OR: x->cond = c_or; break;
    case K_NOT:
        x->cond = c_not;
        if (n->u.x.a->kind == K_IS_NULL && n->u.x.a->u.x.a->kind == K_COL) {
            x->slot = n->u.x.a->u.x.a->u.slot;
            x->cond = c_not_null_col;
            x->leaf = XL_NOT_NULL_COL;
        }
        break;
    case K_IN:
        if (compile_in(x, n, arena) != 0)
            return NULL;
        if (x->cond == c_tree)
            return x; /* the tree's value and condition */
        break;
    case K_IS_NULL:
        x->cond = c_is_null;
        if (n->u.x.a->kind == K_COL) {
            x->slot = n->u.x.a->u.slot;
            x->cond = c_is_null_col;
        }
        break;
    case K_IF:
        /* The tree takes the then branch only on a bool true. */
        if (x->a->cond)
            x->val = v_if;
        if (x->a->cond &&
            (is_if_leaf(x->a) || (x->a->leaf == XL_AND && is_if_leaf(x->a->a) && is_if_leaf(x->a->b))) &&
            (x->b->val == v_col || x->b->val == v_const) && (x->c->val == v_col || x->c->val == v_const)) {
            if (!(x->ifb = if_block(x, arena)))
                return NULL;
            x->val = v_if_leaves;
        }
        return x;
    case K_ADD_I: x->val = v_add_i; return x;
    case K_SUB_I: x->val = v_sub_i; return x;
    case K_MUL_I: x->val = v_mul_i; return x;
    case K_ADD_D: x->val = v_add_d; return x;
    case K_SUB_D: x->val = v_sub_d; return x;
    case K_MUL_D: x->val = v_mul_d; return x;
    case K_DIV: x->val = v_div; return x;
    case K_TO_DOUBLE: x->val = v_to_double; return x;
    case K_TO_DATE_I:
    case K_TS_TO_DATE:
        if (n->u.x.a->kind == K_COL &&
            n->u.x.a->type == (n->kind == K_TO_DATE_I ? SF_INT : SF_TIMESTAMP)) {
            x->slot = n->u.x.a->u.slot;
            x->val = n->kind == K_TO_DATE_I ? v_day_of_secs : v_day_of_ts;
        } else {
            x->val = n->kind == K_TO_DATE_I ? v_day_of_secs_x : v_day_of_ts_x;
        }
        return x;
    default:
        return x;
    }
    /* A logic or comparison node: its value is its condition. */
    x->val = v_cond;
    return x;
}

void sf_expr_fast_leaf(const sf_expr_fast *x, sf_expr_leaf *l)
{
    memset(l, 0, sizeof *l);
    l->kind = SF_LEAF_NONE;
    if (x->cond == c_str_eq_w8 || x->cond == c_str_ne_w8 || x->cond == c_str_eq_w4 ||
        x->cond == c_str_ne_w4) {
        l->kind = SF_LEAF_STR;
        l->truth = x->op == OP_EQ ? 2u : 1u;
        l->n = (uint32_t)x->k.u.s.n;
        l->w0 = x->w0;
        l->w1 = x->w1;
    } else if (x->cond == c_cmp_double || x->cond == c_cmp_int || x->cond == c_cmp_date) {
        for (int c = -1; c <= 1; c++)
            l->truth |= (unsigned)sf_expr_cmp_result(x->op, c) << (c + 1);
        if (x->cond == c_cmp_double) {
            l->kind = SF_LEAF_DOUBLE;
            l->k = x->k.u.d;
        } else {
            l->kind = x->cond == c_cmp_int ? SF_LEAF_INT : SF_LEAF_DATE;
            l->i = x->cond == c_cmp_int ? x->k.u.i : (int64_t)x->k.u.date;
            l->vtype = (int)x->k.type; /* the column's: compile_cmp_leaf matched them */
        }
    } else {
        return;
    }
    l->slot = x->slot;
}

int sf_expr_fast_leaf_and(const sf_expr_fast *x, sf_expr_leaf *a, sf_expr_leaf *b)
{
    if (x->leaf != XL_AND)
        return 0;
    sf_expr_fast_leaf(x->a, a);
    sf_expr_fast_leaf(x->b, b);
    return a->kind != SF_LEAF_NONE && b->kind != SF_LEAF_NONE;
}

void sf_expr_fast_derive(const sf_expr_fast *x, sf_expr_derive *d)
{
    memset(d, 0, sizeof *d);
    d->kind = SF_DERIVE_NONE;
    if (x->val == v_if_leaves) {
        *d = *x->ifb;
    } else if (x->val == v_day_of_secs) {
        d->kind = SF_DERIVE_DAY_SECS;
        d->slot[0] = x->slot;
    }
}

const sf_expr_fast *sf_expr_fast_compile(const sf_expr_node *n, sf_arena *arena)
{
    return compile(n, arena);
}
