/* expr_node.h - the expression tree and its compiled form, shared by the
 * parser and interpreter (core/expr.c) and the compiler of fast evaluators
 * (core/expr_fast.c). Internal to core/expr*.c: nothing else includes it.
 */
#ifndef SF_EXPR_NODE_H
#define SF_EXPR_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/value.h"

typedef struct sf_expr_node sf_expr_node;

enum node_kind {
    K_CONST,
    K_COL,
    K_TO_DOUBLE,
    K_NEG_I,
    K_NEG_D,
    K_ADD_I,
    K_SUB_I,
    K_MUL_I,
    K_MOD_I,
    K_ADD_D,
    K_SUB_D,
    K_MUL_D,
    K_MOD_D,
    K_DIV,
    K_DATE_ADD,  /* date + int64 days */
    K_DATE_SUB,  /* date - int64 days */
    K_DATE_DIFF, /* date - date, in days */
    K_CMP,
    K_AND,
    K_OR,
    K_NOT,
    K_IF,
    K_COALESCE,
    K_IS_NULL,
    K_LOWER,
    K_UPPER,
    K_TRIM,
    K_TO_DATE_I,
    K_TO_DATE_D,
    K_DATE_FROM_ISO,
    K_ABS_I,
    K_ABS_D,
    K_AGG,
    K_ROUND_I,     /* a, optional b: places */
    K_ROUND_D,
    K_FLOOR_D,
    K_CEIL_D,
    K_CAST,        /* op: target sf_type */
    K_LENGTH,
    K_SUBSTR,      /* a, b: start, optional c: length */
    K_CONCAT,      /* args */
    K_REPLACE,
    K_STARTS_WITH,
    K_CONTAINS,
    K_SPLIT_PART,
    K_REGEX,       /* a; aux: the compiled regex_t */
    K_IN,          /* args[0]: x; args[1..]: K_CMP nodes (x == element) */
    K_DATE_PART,   /* op: sf_date_part */
    K_TS_PART,
    K_DATE_TRUNC,  /* op: sf_time_unit */
    K_TS_TRUNC,
    K_TS_ADD_DAYS, /* timestamp + int64 days */
    K_TO_TS_I,     /* op: microseconds per unit index, see unit_us[] */
    K_TO_TS_D,
    K_DATE_TO_TS,
    K_TS_TO_DATE,
    K_FORMAT_DATE, /* a: timestamp, b: the format literal */
    /* decimals: operands already at the scales the node needs */
    K_DEC_TO_DEC,    /* int64 or decimal to this node's scale */
    K_DEC_ADD,
    K_DEC_SUB,
    K_DEC_MUL,       /* scale: the sum of the operands' */
    K_DEC_MOD,
    K_DEC_NEG,
    K_DEC_ABS,
    K_DEC_TO_DOUBLE,
    K_ROUND_DEC,     /* a, optional b: places; result at this node's scale */
    K_FLOOR_DEC,     /* to scale 0 */
    K_CEIL_DEC
};

/* Comparison classes: how the two operands of a K_CMP are ordered. */
enum cmp_class { C_INT, C_NUM, C_STR, C_DATE, C_BOOL, C_TS };

enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

struct sf_expr_node {
    uint8_t kind;   /* enum node_kind */
    uint8_t type;   /* static sf_type of the result */
    uint8_t op;     /* enum cmp_op for K_CMP, sf_agg_kind for K_AGG */
    uint8_t cls;    /* enum cmp_class for K_CMP */
    uint16_t height;
    uint8_t dprec;  /* type SF_DECIMAL: precision ... */
    uint8_t dscale; /* ... and scale */
    uint32_t nargs; /* K_COALESCE, K_CONCAT, K_IN */
    size_t pos;     /* byte offset of the token that made the node */
    void *aux;      /* K_REGEX: its regex_t */
    union {
        sf_value k; /* K_CONST */
        int slot;   /* K_COL */
        struct {
            sf_expr_node *a, *b, *c;
        } x;
        sf_expr_node **args; /* K_COALESCE */
    } u;
};

/* The value of the tree under n by the plain interpreter (core/expr.c):
 * the general path every compiled form falls back to. Cannot fail. */
sf_value sf_expr_node_eval(const sf_expr_node *n, const sf_value *row, sf_arena *scratch);

static inline int sf_expr_cmp_result(int op, int c)
{
    switch (op) {
    case OP_EQ: return c == 0;
    case OP_NE: return c != 0;
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* The truth of comparison n between two non-NULL operands (1 or 0); the
 * interpreter and the compiled forms share it. */
static inline int sf_expr_cmp_values(const sf_expr_node *n, const sf_value *lp,
                                     const sf_value *rp)
{
    const sf_value l = *lp, r = *rp;
    int c;
    switch (n->cls) {
    case C_INT:
    case C_TS: c = (l.u.i > r.u.i) - (l.u.i < r.u.i); break;
    case C_DATE: c = (l.u.date > r.u.date) - (l.u.date < r.u.date); break;
    case C_BOOL: c = l.u.b - r.u.b; break;
    case C_STR: {
        if (n->op == OP_EQ || n->op == OP_NE) {
            /* Equality needs no order: strings of other lengths differ. */
            int eq = l.u.s.n == r.u.s.n && (l.u.s.n == 0 || memcmp(l.u.s.p, r.u.s.p, l.u.s.n) == 0);
            return n->op == OP_EQ ? eq : !eq;
        }
        size_t m = l.u.s.n < r.u.s.n ? l.u.s.n : r.u.s.n;
        c = m ? memcmp(l.u.s.p, r.u.s.p, m) : 0;
        if (c == 0)
            c = (l.u.s.n > r.u.s.n) - (l.u.s.n < r.u.s.n);
        break;
    }
    default:
        /* C_NUM: int64 and double mixed; same-typed operands inline. */
        if (l.type == SF_DOUBLE && r.type == SF_DOUBLE && l.u.d == l.u.d && r.u.d == r.u.d)
            c = (l.u.d > r.u.d) - (l.u.d < r.u.d);
        else if (l.type == SF_INT && r.type == SF_INT)
            c = (l.u.i > r.u.i) - (l.u.i < r.u.i);
        else if (l.type == SF_DOUBLE && r.type == SF_INT && l.u.d == l.u.d &&
                 r.u.i >= -(INT64_C(1) << 53) && r.u.i <= (INT64_C(1) << 53))
            /* (revenue >= 0): an int64 this small is exact as a double. */
            c = (l.u.d > (double)r.u.i) - (l.u.d < (double)r.u.i);
        else
            c = sf_value_cmp(&l, &r);
        break;
    }
    return sf_expr_cmp_result(n->op, c);
}

/* ------------------------------------------------------- compiled form
 *
 * Every node of a parsed tree gets a compiled twin (core/expr_fast.c) whose
 * function pointers were chosen at parse time from the node's kind and its
 * operands' static types: a string column == a literal is a length check
 * and one or two word compares, a double column against a literal compares
 * doubles directly, conditions stay three-valued ints (SF_XF_*) instead of
 * sf_values, and && / || short-circuit. A node no specialised form covers
 * evaluates through sf_expr_node_eval(), so both paths agree on it by
 * construction; the unit tests and fuzz_expr compare them on every
 * expression they evaluate. */

enum { SF_XF_FALSE = 0, SF_XF_TRUE = 1, SF_XF_NULL = 2 };

typedef struct sf_expr_fast sf_expr_fast;
struct sf_expr_fast {
    /* The truth of a node of static type bool (or null) as SF_XF_*; NULL
     * for nodes of other types. */
    int (*cond)(const sf_expr_fast *x, const sf_value *row, sf_arena *scratch);
    /* Stores the node's value in *out, which may be a slot of row the node
     * reads: every form reads its operands before it writes. */
    void (*val)(const sf_expr_fast *x, const sf_value *row, sf_arena *scratch, sf_value *out);
    const sf_expr_node *n; /* the tree node: the general path */
    const sf_expr_fast *a, *b, *c;
    int slot;   /* the column operand's slot */
    int op;     /* enum cmp_op, mirrored when the literal is on the left */
    sf_value k; /* the literal operand (a constant node's value) */
    uint64_t w0, w1; /* string literal of 4..16 bytes: its first and last word */
    int leaf; /* XL_*: a form a parent node runs inline instead of calling cond */
    const struct sf_expr_derive *ifb; /* v_if_leaves: its operands in one block (expr_fast.c) */
    const sf_value *list; /* c_in_str, c_in_int: the literals of an in (...), nlist of them */
    uint32_t nlist;
};

/* The forms && || ! and if() test inline (expr_fast.c leaf_of, cond_of):
 * two leaves, and an && that if() and ! take apart in place. */
enum { XL_CALL, XL_STR_EQ_W8, XL_NOT_NULL_COL, XL_AND };

/* Fills *l with x's inline form for hot loops outside (sf_expr_leaf_of;
 * the struct is core/expr.h's). */
struct sf_expr_leaf;
void sf_expr_fast_leaf(const sf_expr_fast *x, struct sf_expr_leaf *l);

/* 1 when x is an && of two operands that both have an inline form, filled
 * in *a and *b (sf_expr_leaf_and); else 0. */
int sf_expr_fast_leaf_and(const sf_expr_fast *x, struct sf_expr_leaf *a, struct sf_expr_leaf *b);

/* Fills *d with x's inline derive form (sf_expr_derive_of; the struct is
 * core/expr.h's). */
struct sf_expr_derive;
void sf_expr_fast_derive(const sf_expr_fast *x, struct sf_expr_derive *d);

/* Compiles the tree under n into arena (the expression's). Returns the
 * root's compiled form (borrowed from arena), or NULL when out of memory. */
const sf_expr_fast *sf_expr_fast_compile(const sf_expr_node *n, sf_arena *arena);

#endif
