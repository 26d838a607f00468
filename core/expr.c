/* expr.c - parser, type checker and evaluator of the expression language.
 *
 * The text is parsed once by recursive descent into a tree of nodes living in
 * one arena owned by the sf_expr, so freeing is one call and evaluation walks
 * compact memory. Type checking happens while the tree is built and picks a
 * specialised node kind for every operator (int64 add, double add, date minus
 * date, ...), so evaluation is a switch over node kinds with no name lookups
 * and no type dispatch beyond the NULL checks.
 *
 * Invariants a maintainer must keep:
 * - A node's value at evaluation time has the node's static type or is
 *   SF_NULL. Where an int64 meets a double the int64 side is wrapped in a
 *   conversion node (literals are converted in place), so evaluators never
 *   look at the runtime type of a numeric operand.
 * - Tree height and syntactic nesting are both bounded by SF_EXPR_MAX_DEPTH,
 *   which bounds the recursion of the parser, the evaluator and the visitor.
 * - Comparisons order values like sf_value_cmp(): int64 and double compare
 *   exactly, NaN equals NaN and sorts after every other double.
 */
#include "core/expr.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"

#define SF_EXPR_MAX_DEPTH 256

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
    K_AGG
};

/* Comparison classes: how the two operands of a K_CMP are ordered. */
enum cmp_class { C_INT, C_NUM, C_STR, C_DATE, C_BOOL };

enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

typedef struct node node;
struct node {
    uint8_t kind;   /* enum node_kind */
    uint8_t type;   /* static sf_type of the result */
    uint8_t op;     /* enum cmp_op for K_CMP, sf_agg_kind for K_AGG */
    uint8_t cls;    /* enum cmp_class for K_CMP */
    uint16_t height;
    uint32_t nargs; /* K_COALESCE */
    size_t pos;     /* byte offset of the token that made the node */
    union {
        sf_value k; /* K_CONST */
        int slot;   /* K_COL */
        struct {
            node *a, *b, *c;
        } x;
        node **args; /* K_COALESCE */
    } u;
};

struct sf_expr {
    const node *root;
    sf_type type;
    sf_agg_kind agg;
    sf_expr *agg_arg; /* a view into this arena; never freed on its own */
    sf_arena arena;   /* holds every node; unused in an agg_arg view */
};

/* ---------------------------------------------------------------- lexer */

enum tok_kind {
    T_EOF,
    T_INT,
    T_DOUBLE,
    T_STRING,
    T_NAME,
    T_TRUE,
    T_FALSE,
    T_NULL,
    T_LP,
    T_RP,
    T_COMMA,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PERCENT,
    T_NOT,
    T_AND,
    T_OR,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE
};

typedef struct tok {
    int kind;
    size_t start, end; /* raw text [start, end) */
    union {
        struct {
            uint64_t v;
            int too_big; /* more than 20 digits' worth: beyond uint64 */
        } i;
        double d;
        struct {
            const char *p;
            size_t n;
        } s;
    } u;
} tok;

typedef struct parser {
    const char *text;
    size_t len;
    size_t pos; /* lexer cursor: first byte after the current token */
    tok cur;
    const sf_expr_columns *cols;
    int flags;
    int depth;  /* syntactic nesting of parse_unary */
    int in_agg; /* > 0 while parsing an aggregate's arguments */
    int n_agg;
    size_t first_agg_pos;
    const char *first_agg_name;
    sf_arena *arena;
    sf_error *err;
    int failed;
} parser;

static void line_col(const char *text, size_t off, int *line, int *col)
{
    int ln = 1;
    size_t ls = 0;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            ln++;
            ls = i + 1;
        }
    }
    *line = ln;
    *col = (int)(off - ls + 1);
}

/* Records the first error only: later failures while unwinding keep it. */
static void fail_at(parser *p, size_t off, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_at(parser *p, size_t off, int code, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    char what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int line, col;
    line_col(p->text, off, &line, &col);
    if (p->err) {
        sf_error_set(p->err, code, "%s at %d:%d", what, line, col);
        p->err->offset = (int64_t)off;
        p->err->line = line;
        p->err->column = col;
    }
}

static void fail_nomem(parser *p)
{
    if (p->failed)
        return;
    p->failed = 1;
    sf_error_set(p->err, SF_E_NOMEM, "out of memory while parsing an expression");
}

/* Text of the token for messages, cut short so a message stays readable. */
static int tok_len_for_msg(const tok *t)
{
    size_t n = t->end - t->start;
    return n > 40 ? 40 : (int)n;
}

static int is_ident_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int lex_number(parser *p, size_t i)
{
    const char *s = p->text;
    size_t j = i;
    int is_dbl = 0;
    while (is_digit(s[j]))
        j++;
    if (s[j] == '.') {
        is_dbl = 1;
        j++;
        while (is_digit(s[j]))
            j++;
    }
    if (s[j] == 'e' || s[j] == 'E') {
        size_t k = j + 1;
        if (s[k] == '+' || s[k] == '-')
            k++;
        if (is_digit(s[k])) {
            while (is_digit(s[k]))
                k++;
            j = k;
            is_dbl = 1;
        } else {
            j = k;
            goto malformed;
        }
    }
    if (is_ident_char(s[j]) || s[j] == '.')
        goto malformed;

    p->cur.start = i;
    p->cur.end = j;
    if (!is_dbl) {
        uint64_t v = 0;
        int big = 0;
        for (size_t k = i; k < j; k++) {
            unsigned d = (unsigned)(s[k] - '0');
            if (v > (UINT64_MAX - d) / 10)
                big = 1;
            else
                v = v * 10 + d;
        }
        p->cur.kind = T_INT;
        p->cur.u.i.v = v;
        p->cur.u.i.too_big = big;
    } else {
        /* strtod needs a terminator right after the number. */
        char small[64];
        char *buf = small;
        size_t n = j - i;
        if (n >= sizeof small) {
            buf = sf_arena_memdup(p->arena, s + i, n);
            if (!buf) {
                fail_nomem(p);
                return -1;
            }
        } else {
            memcpy(small, s + i, n);
            small[n] = '\0';
        }
        double d = strtod(buf, NULL);
        if (isinf(d)) {
            fail_at(p, i, SF_E_RANGE, "number literal out of range");
            return -1;
        }
        p->cur.kind = T_DOUBLE;
        p->cur.u.d = d;
    }
    p->pos = j;
    return 0;

malformed:
    while (is_ident_char(s[j]) || s[j] == '.')
        j++;
    fail_at(p, i, SF_E_PARSE, "malformed number '%.*s'", (int)(j - i > 40 ? 40 : j - i),
            s + i);
    return -1;
}

/* Scans the string starting at the quote at i. With out == NULL only checks
 * it and counts the decoded bytes; otherwise writes them to out. */
static int scan_string(parser *p, size_t i, char *out, size_t *n_out, size_t *end_out)
{
    const char *s = p->text;
    char q = s[i];
    size_t j = i + 1, n = 0;
    for (;;) {
        char c = s[j];
        if (j >= p->len) {
            fail_at(p, i, SF_E_PARSE, "unterminated string");
            return -1;
        }
        if (c == q) {
            if (s[j + 1] == q) {
                if (out)
                    out[n] = q;
                n++;
                j += 2;
                continue;
            }
            break;
        }
        if (c == '\\') {
            char e = s[j + 1], r;
            switch (e) {
            case '\\': r = '\\'; break;
            case 'n': r = '\n'; break;
            case 't': r = '\t'; break;
            case '\'': r = '\''; break;
            case '"': r = '"'; break;
            case '\0':
                fail_at(p, i, SF_E_PARSE, "unterminated string");
                return -1;
            default:
                if (e > ' ' && e < 127)
                    fail_at(p, j, SF_E_PARSE, "unknown escape '\\%c' in string", e);
                else
                    fail_at(p, j, SF_E_PARSE, "unknown escape in string");
                return -1;
            }
            if (out)
                out[n] = r;
            n++;
            j += 2;
            continue;
        }
        if (out)
            out[n] = c;
        n++;
        j++;
    }
    *n_out = n;
    *end_out = j + 1;
    return 0;
}

static int lex_string(parser *p, size_t i)
{
    size_t n, end;
    if (scan_string(p, i, NULL, &n, &end) != 0)
        return -1;
    char *buf = sf_arena_alloc(p->arena, n ? n : 1);
    if (!buf) {
        fail_nomem(p);
        return -1;
    }
    scan_string(p, i, buf, &n, &end);
    p->cur.kind = T_STRING;
    p->cur.start = i;
    p->cur.end = end;
    p->cur.u.s.p = buf;
    p->cur.u.s.n = n;
    p->pos = end;
    return 0;
}

static int lex_name(parser *p, size_t i)
{
    const char *s = p->text;
    size_t j = i;
    int dotted = 0;
    for (;;) {
        while (is_ident_char(s[j]))
            j++;
        if (s[j] != '.')
            break;
        if (!is_ident_start(s[j + 1])) {
            fail_at(p, j + 1, SF_E_PARSE, "expected a name after '.'");
            return -1;
        }
        dotted = 1;
        j++;
    }
    p->cur.kind = T_NAME;
    p->cur.start = i;
    p->cur.end = j;
    p->pos = j;
    if (!dotted) {
        size_t n = j - i;
        if (n == 4 && memcmp(s + i, "true", 4) == 0)
            p->cur.kind = T_TRUE;
        else if (n == 5 && memcmp(s + i, "false", 5) == 0)
            p->cur.kind = T_FALSE;
        else if (n == 4 && memcmp(s + i, "null", 4) == 0)
            p->cur.kind = T_NULL;
    }
    return 0;
}

/* Reads the next token into p->cur. Returns 0, or -1 with the error set. */
static int advance(parser *p)
{
    const char *s = p->text;
    size_t i = p->pos;
    while (i < p->len && is_space(s[i]))
        i++;
    if (i >= p->len) {
        p->cur.kind = T_EOF;
        p->cur.start = p->cur.end = p->pos = i;
        return 0;
    }
    char c = s[i];
    if (is_ident_start(c))
        return lex_name(p, i);
    if (is_digit(c) || (c == '.' && is_digit(s[i + 1])))
        return lex_number(p, i);
    if (c == '\'' || c == '"')
        return lex_string(p, i);

    int kind, w = 1;
    char c2 = s[i + 1];
    switch (c) {
    case '(': kind = T_LP; break;
    case ')': kind = T_RP; break;
    case ',': kind = T_COMMA; break;
    case '+': kind = T_PLUS; break;
    case '-': kind = T_MINUS; break;
    case '*': kind = T_STAR; break;
    case '/': kind = T_SLASH; break;
    case '%': kind = T_PERCENT; break;
    case '!':
        kind = c2 == '=' ? T_NE : T_NOT;
        w = c2 == '=' ? 2 : 1;
        break;
    case '<':
        kind = c2 == '=' ? T_LE : T_LT;
        w = c2 == '=' ? 2 : 1;
        break;
    case '>':
        kind = c2 == '=' ? T_GE : T_GT;
        w = c2 == '=' ? 2 : 1;
        break;
    case '=':
        if (c2 != '=') {
            fail_at(p, i, SF_E_PARSE, "unexpected '=' (equality is '==')");
            return -1;
        }
        kind = T_EQ;
        w = 2;
        break;
    case '&':
        if (c2 != '&') {
            fail_at(p, i, SF_E_PARSE, "unexpected '&' (logical and is '&&')");
            return -1;
        }
        kind = T_AND;
        w = 2;
        break;
    case '|':
        if (c2 != '|') {
            fail_at(p, i, SF_E_PARSE, "unexpected '|' (logical or is '||')");
            return -1;
        }
        kind = T_OR;
        w = 2;
        break;
    default:
        if (c > ' ' && c < 127)
            fail_at(p, i, SF_E_PARSE, "unexpected character '%c'", c);
        else
            fail_at(p, i, SF_E_PARSE, "unexpected byte 0x%02x", (unsigned)(unsigned char)c);
        return -1;
    }
    p->cur.kind = kind;
    p->cur.start = i;
    p->cur.end = i + (size_t)w;
    p->pos = i + (size_t)w;
    return 0;
}

/* "end of text" or the quoted token, for "expected X but found Y". */
static void fail_found(parser *p, const char *expected)
{
    if (p->cur.kind == T_EOF)
        fail_at(p, p->cur.start, SF_E_PARSE, "expected %s but found end of text", expected);
    else
        fail_at(p, p->cur.start, SF_E_PARSE, "expected %s but found '%.*s'", expected,
                tok_len_for_msg(&p->cur), p->text + p->cur.start);
}

/* ------------------------------------------------------- tree building */

static node *new_node(parser *p, int kind, sf_type type, size_t pos, node *a, node *b, node *c)
{
    unsigned h = 0;
    if (a && a->height > h)
        h = a->height;
    if (b && b->height > h)
        h = b->height;
    if (c && c->height > h)
        h = c->height;
    if (h + 1 > SF_EXPR_MAX_DEPTH) {
        fail_at(p, pos, SF_E_LIMIT, "expression nested too deeply (limit %d)",
                SF_EXPR_MAX_DEPTH);
        return NULL;
    }
    node *n = sf_arena_alloc(p->arena, sizeof *n);
    if (!n) {
        fail_nomem(p);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->type = (uint8_t)type;
    n->height = (uint16_t)(h + 1);
    n->pos = pos;
    n->u.x.a = a;
    n->u.x.b = b;
    n->u.x.c = c;
    return n;
}

static node *new_const(parser *p, sf_value v, size_t pos)
{
    node *n = new_node(p, K_CONST, (sf_type)v.type, pos, NULL, NULL, NULL);
    if (n)
        n->u.k = v;
    return n;
}

static int is_num(sf_type t) { return t == SF_INT || t == SF_DOUBLE; }

/* Makes an int64-typed node deliver doubles; other nodes pass through. */
static node *as_double(parser *p, node *n)
{
    if (n->type != SF_INT)
        return n;
    if (n->kind == K_CONST) {
        n->u.k = sf_double((double)n->u.k.u.i);
        n->type = SF_DOUBLE;
        return n;
    }
    return new_node(p, K_TO_DOUBLE, SF_DOUBLE, n->pos, n, NULL, NULL);
}

/* Common type of two branches, or -1 when they do not unify. */
static int unify(sf_type a, sf_type b)
{
    if (a == SF_NULL)
        return b;
    if (b == SF_NULL || a == b)
        return a;
    if (is_num(a) && is_num(b))
        return SF_DOUBLE;
    return -1;
}

static const char *tname(int t) { return sf_type_name((sf_type)t); }

static const char *const arith_text[] = {"+", "-", "*", "/", "%"};
enum { A_ADD, A_SUB, A_MUL, A_DIV, A_MOD };

static node *make_arith(parser *p, int aop, node *l, node *r, size_t pos)
{
    sf_type ta = (sf_type)l->type, tb = (sf_type)r->type;
    int bad = ta == SF_BOOL || ta == SF_STRING || tb == SF_BOOL || tb == SF_STRING;
    if (!bad && (ta == SF_DATE || tb == SF_DATE)) {
        /* A NULL literal stands for whichever operand type makes sense. */
        if (aop == A_ADD) {
            if (ta == SF_DATE && (tb == SF_INT || tb == SF_NULL))
                return new_node(p, K_DATE_ADD, SF_DATE, pos, l, r, NULL);
            if (tb == SF_DATE && (ta == SF_INT || ta == SF_NULL))
                return new_node(p, K_DATE_ADD, SF_DATE, pos, r, l, NULL);
        } else if (aop == A_SUB) {
            if (ta == SF_DATE && (tb == SF_INT || tb == SF_NULL))
                return new_node(p, K_DATE_SUB, SF_DATE, pos, l, r, NULL);
            if (tb == SF_DATE && (ta == SF_DATE || ta == SF_NULL))
                return new_node(p, K_DATE_DIFF, SF_INT, pos, l, r, NULL);
        }
        bad = 1;
    }
    if (bad) {
        fail_at(p, pos, SF_E_TYPE, "cannot apply '%s' to %s and %s", arith_text[aop], tname(ta),
                tname(tb));
        return NULL;
    }
    if (aop == A_DIV) {
        l = as_double(p, l);
        r = l ? as_double(p, r) : NULL;
        if (!l || !r)
            return NULL;
        return new_node(p, K_DIV, SF_DOUBLE, pos, l, r, NULL);
    }
    if (ta == SF_DOUBLE || tb == SF_DOUBLE) {
        l = as_double(p, l);
        r = l ? as_double(p, r) : NULL;
        if (!l || !r)
            return NULL;
        static const int kd[] = {K_ADD_D, K_SUB_D, K_MUL_D, 0, K_MOD_D};
        return new_node(p, kd[aop], SF_DOUBLE, pos, l, r, NULL);
    }
    static const int ki[] = {K_ADD_I, K_SUB_I, K_MUL_I, 0, K_MOD_I};
    sf_type t = (ta == SF_NULL && tb == SF_NULL) ? SF_NULL : SF_INT;
    return new_node(p, ki[aop], t, pos, l, r, NULL);
}

static const char *const cmp_text[] = {"==", "!=", "<", "<=", ">", ">="};

/* A string literal compared with a date becomes a date at parse time. */
static int literal_to_date(parser *p, node *n)
{
    int32_t days;
    if (sf_parse_iso_date(n->u.k.u.s.p, n->u.k.u.s.n, &days) != 0) {
        size_t len = n->u.k.u.s.n;
        fail_at(p, n->pos, SF_E_PARSE, "invalid date literal '%.*s'", len > 40 ? 40 : (int)len,
                n->u.k.u.s.p);
        return -1;
    }
    n->u.k = sf_date(days);
    n->type = SF_DATE;
    return 0;
}

static node *make_cmp(parser *p, int op, node *l, node *r, size_t pos)
{
    if (l->type == SF_DATE && r->kind == K_CONST && r->type == SF_STRING) {
        if (literal_to_date(p, r) != 0)
            return NULL;
    } else if (r->type == SF_DATE && l->kind == K_CONST && l->type == SF_STRING) {
        if (literal_to_date(p, l) != 0)
            return NULL;
    }
    sf_type ta = (sf_type)l->type, tb = (sf_type)r->type;
    sf_type ea = ta == SF_NULL ? tb : ta, eb = tb == SF_NULL ? ta : tb;
    int cls = -1;
    if (ea == SF_NULL || (ea == SF_INT && eb == SF_INT))
        cls = C_INT;
    else if (is_num(ea) && is_num(eb))
        cls = C_NUM;
    else if (ea == eb && ea == SF_STRING)
        cls = C_STR;
    else if (ea == eb && ea == SF_DATE)
        cls = C_DATE;
    else if (ea == eb && ea == SF_BOOL && (op == OP_EQ || op == OP_NE))
        cls = C_BOOL;
    if (cls < 0) {
        fail_at(p, pos, SF_E_TYPE, "cannot apply '%s' to %s and %s", cmp_text[op], tname(ta),
                tname(tb));
        return NULL;
    }
    node *n = new_node(p, K_CMP, SF_BOOL, pos, l, r, NULL);
    if (n) {
        n->op = (uint8_t)op;
        n->cls = (uint8_t)cls;
    }
    return n;
}

static node *make_logic(parser *p, int kind, node *l, node *r, size_t pos)
{
    sf_type ta = (sf_type)l->type, tb = (sf_type)r->type;
    if ((ta != SF_BOOL && ta != SF_NULL) || (tb != SF_BOOL && tb != SF_NULL)) {
        fail_at(p, pos, SF_E_TYPE, "cannot apply '%s' to %s and %s",
                kind == K_AND ? "&&" : "||", tname(ta), tname(tb));
        return NULL;
    }
    return new_node(p, kind, SF_BOOL, pos, l, r, NULL);
}

/* --------------------------------------------------------- functions */

enum fn_id {
    F_IF,
    F_COALESCE,
    F_IS_NULL,
    F_LOWER,
    F_UPPER,
    F_TRIM,
    F_TO_DATE,
    F_DATE_FROM_ISO,
    F_ABS,
    F_AGG
};

typedef struct fn_def {
    const char *name;
    int id;
    int min_args, max_args; /* max -1: unbounded */
    sf_agg_kind agg;
} fn_def;

static const fn_def fn_table[] = {
    {"if", F_IF, 3, 3, SF_AGG_NONE},
    {"coalesce", F_COALESCE, 1, -1, SF_AGG_NONE},
    {"is_null", F_IS_NULL, 1, 1, SF_AGG_NONE},
    {"lower", F_LOWER, 1, 1, SF_AGG_NONE},
    {"upper", F_UPPER, 1, 1, SF_AGG_NONE},
    {"trim", F_TRIM, 1, 1, SF_AGG_NONE},
    {"to_date", F_TO_DATE, 1, 1, SF_AGG_NONE},
    {"date_from_iso", F_DATE_FROM_ISO, 1, 1, SF_AGG_NONE},
    {"abs", F_ABS, 1, 1, SF_AGG_NONE},
    {"count", F_AGG, 0, 0, SF_AGG_COUNT},
    {"count_if", F_AGG, 1, 1, SF_AGG_COUNT_IF},
    {"sum", F_AGG, 1, 1, SF_AGG_SUM},
    {"min", F_AGG, 1, 1, SF_AGG_MIN},
    {"max", F_AGG, 1, 1, SF_AGG_MAX},
    {"mean", F_AGG, 1, 1, SF_AGG_MEAN},
    {"count_distinct", F_AGG, 1, 1, SF_AGG_COUNT_DISTINCT},
};

static const fn_def *find_fn(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof fn_table / sizeof fn_table[0]; i++) {
        if (strlen(fn_table[i].name) == n && memcmp(fn_table[i].name, name, n) == 0)
            return &fn_table[i];
    }
    return NULL;
}

static node *fn_arg_error(parser *p, const fn_def *f, size_t pos, const node *arg)
{
    fail_at(p, pos, SF_E_TYPE, "cannot apply %s() to %s", f->name, tname(arg->type));
    return NULL;
}

static node *make_agg(parser *p, const fn_def *f, size_t pos, node **args)
{
    node *a = f->agg == SF_AGG_COUNT ? NULL : args[0];
    sf_type ta = a ? (sf_type)a->type : SF_NULL;
    sf_type t;
    switch (f->agg) {
    case SF_AGG_COUNT:
    case SF_AGG_COUNT_DISTINCT:
        t = SF_INT;
        break;
    case SF_AGG_COUNT_IF:
        if (ta != SF_BOOL && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        t = SF_INT;
        break;
    case SF_AGG_SUM:
    case SF_AGG_MEAN:
        if (!is_num(ta) && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        t = f->agg == SF_AGG_MEAN ? SF_DOUBLE : ta;
        break;
    default: /* min, max */
        if (ta == SF_BOOL)
            return fn_arg_error(p, f, pos, a);
        t = ta;
        break;
    }
    node *n = new_node(p, K_AGG, t, pos, a, NULL, NULL);
    if (n)
        n->op = (uint8_t)f->agg;
    return n;
}

static node *make_call(parser *p, const fn_def *f, size_t pos, node **args, uint32_t nargs)
{
    node *a = nargs ? args[0] : NULL;
    sf_type ta = a ? (sf_type)a->type : SF_NULL;
    switch (f->id) {
    case F_IF: {
        if (ta != SF_BOOL && ta != SF_NULL) {
            fail_at(p, pos, SF_E_TYPE, "if() condition must be bool, got %s", tname(ta));
            return NULL;
        }
        int t = unify((sf_type)args[1]->type, (sf_type)args[2]->type);
        if (t < 0) {
            fail_at(p, pos, SF_E_TYPE, "if() branches have incompatible types %s and %s",
                    tname(args[1]->type), tname(args[2]->type));
            return NULL;
        }
        node *x = args[1], *y = args[2];
        if (t == SF_DOUBLE) {
            x = as_double(p, x);
            y = x ? as_double(p, y) : NULL;
            if (!x || !y)
                return NULL;
        }
        return new_node(p, K_IF, (sf_type)t, pos, a, x, y);
    }
    case F_COALESCE: {
        int t = SF_NULL;
        unsigned h = 0;
        for (uint32_t i = 0; i < nargs; i++) {
            int u = unify((sf_type)t, (sf_type)args[i]->type);
            if (u < 0) {
                fail_at(p, pos, SF_E_TYPE, "coalesce() arguments have incompatible types %s and %s",
                        tname(t), tname(args[i]->type));
                return NULL;
            }
            t = u;
        }
        for (uint32_t i = 0; i < nargs; i++) {
            if (t == SF_DOUBLE && !(args[i] = as_double(p, args[i])))
                return NULL;
            if (args[i]->height > h)
                h = args[i]->height;
        }
        node *n = new_node(p, K_COALESCE, (sf_type)t, pos, NULL, NULL, NULL);
        if (!n)
            return NULL;
        if (h + 1 > SF_EXPR_MAX_DEPTH) {
            fail_at(p, pos, SF_E_LIMIT, "expression nested too deeply (limit %d)",
                    SF_EXPR_MAX_DEPTH);
            return NULL;
        }
        n->height = (uint16_t)(h + 1);
        n->u.args = args;
        n->nargs = nargs;
        return n;
    }
    case F_IS_NULL:
        return new_node(p, K_IS_NULL, SF_BOOL, pos, a, NULL, NULL);
    case F_LOWER:
    case F_UPPER:
    case F_TRIM:
        if (ta != SF_STRING && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        return new_node(p, f->id == F_LOWER ? K_LOWER : f->id == F_UPPER ? K_UPPER : K_TRIM,
                        SF_STRING, pos, a, NULL, NULL);
    case F_TO_DATE:
        if (!is_num(ta) && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        return new_node(p, ta == SF_DOUBLE ? K_TO_DATE_D : K_TO_DATE_I, SF_DATE, pos, a, NULL,
                        NULL);
    case F_DATE_FROM_ISO:
        if (ta != SF_STRING && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        return new_node(p, K_DATE_FROM_ISO, SF_DATE, pos, a, NULL, NULL);
    case F_ABS:
        if (!is_num(ta) && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        return new_node(p, ta == SF_DOUBLE ? K_ABS_D : K_ABS_I, ta, pos, a, NULL, NULL);
    default:
        return make_agg(p, f, pos, args);
    }
}

/* ------------------------------------------------------------- parser */

static node *parse_or(parser *p);

static node *parse_call(parser *p, size_t name_pos, size_t name_len)
{
    const char *name = p->text + name_pos;
    int shown = name_len > 64 ? 64 : (int)name_len;
    const fn_def *f = find_fn(name, name_len);
    if (!f) {
        fail_at(p, name_pos, SF_E_PARSE, "unknown function '%.*s'", shown, name);
        return NULL;
    }
    if (f->agg != SF_AGG_NONE) {
        if (!(p->flags & SF_EXPR_ALLOW_AGG)) {
            fail_at(p, name_pos, SF_E_PARSE, "aggregate %s() is only allowed in aggregates",
                    f->name);
            return NULL;
        }
        if (p->in_agg) {
            fail_at(p, name_pos, SF_E_PARSE, "aggregate %s() is not allowed here", f->name);
            return NULL;
        }
        p->in_agg++;
    }
    if (advance(p) != 0) /* the '(' */
        return NULL;

    /* Arguments go to an arena array that doubles as it fills; the parse
     * arena is freed with the expression, so the old copies cost nothing. */
    node **args = NULL;
    uint32_t nargs = 0, cap = 0;
    if (p->cur.kind != T_RP) {
        for (;;) {
            node *a = parse_or(p);
            if (!a)
                return NULL;
            if (nargs == cap) {
                uint32_t ncap = cap ? cap * 2 : 4;
                node **na = sf_arena_alloc(p->arena, ncap * sizeof *na);
                if (!na) {
                    fail_nomem(p);
                    return NULL;
                }
                if (nargs)
                    memcpy(na, args, nargs * sizeof *na);
                args = na;
                cap = ncap;
            }
            args[nargs++] = a;
            if (p->cur.kind == T_COMMA) {
                if (advance(p) != 0)
                    return NULL;
                continue;
            }
            if (p->cur.kind != T_RP) {
                fail_found(p, "',' or ')'");
                return NULL;
            }
            break;
        }
    }
    if (advance(p) != 0) /* the ')' */
        return NULL;
    if (f->agg != SF_AGG_NONE)
        p->in_agg--;

    if ((int)nargs < f->min_args || (f->max_args >= 0 && (int)nargs > f->max_args)) {
        if (f->max_args < 0)
            fail_at(p, name_pos, SF_E_PARSE, "%s() takes at least %d argument%s, got %u", f->name,
                    f->min_args, f->min_args == 1 ? "" : "s", nargs);
        else
            fail_at(p, name_pos, SF_E_PARSE, "%s() takes %d argument%s, got %u", f->name,
                    f->min_args, f->min_args == 1 ? "" : "s", nargs);
        return NULL;
    }
    node *n = make_call(p, f, name_pos, args, nargs);
    if (n && f->agg != SF_AGG_NONE && p->n_agg++ == 0) {
        p->first_agg_pos = name_pos;
        p->first_agg_name = f->name;
    }
    return n;
}

static node *parse_column(parser *p, size_t start, size_t len)
{
    const char *name = p->text + start;
    int slot;
    sf_type type;
    if (!p->cols || !p->cols->resolve ||
        p->cols->resolve(p->cols->ctx, name, len, &slot, &type) != 0) {
        fail_at(p, start, SF_E_NOTFOUND, "unknown column '%.*s'", len > 200 ? 200 : (int)len,
                name);
        return NULL;
    }
    if (slot < 0 || (int)type < SF_NULL || (int)type > SF_DATE) {
        fail_at(p, start, SF_E_INTERNAL, "column '%.*s' resolved to slot %d of type %d",
                len > 200 ? 200 : (int)len, name, slot, (int)type);
        return NULL;
    }
    node *n = new_node(p, K_COL, type, start, NULL, NULL, NULL);
    if (n)
        n->u.slot = slot;
    return n;
}

static node *parse_primary(parser *p)
{
    tok t = p->cur;
    switch (t.kind) {
    case T_INT:
        if (t.u.i.too_big || t.u.i.v > (uint64_t)INT64_MAX) {
            fail_at(p, t.start, SF_E_RANGE, "integer literal out of range");
            return NULL;
        }
        if (advance(p) != 0)
            return NULL;
        return new_const(p, sf_int((int64_t)t.u.i.v), t.start);
    case T_DOUBLE:
        if (advance(p) != 0)
            return NULL;
        return new_const(p, sf_double(t.u.d), t.start);
    case T_STRING:
        if (advance(p) != 0)
            return NULL;
        return new_const(p, sf_string(t.u.s.p, t.u.s.n), t.start);
    case T_TRUE:
    case T_FALSE:
        if (advance(p) != 0)
            return NULL;
        return new_const(p, sf_bool(t.kind == T_TRUE), t.start);
    case T_NULL:
        if (advance(p) != 0)
            return NULL;
        return new_const(p, sf_null(), t.start);
    case T_LP: {
        if (advance(p) != 0)
            return NULL;
        node *n = parse_or(p);
        if (!n)
            return NULL;
        if (p->cur.kind != T_RP) {
            fail_found(p, "')'");
            return NULL;
        }
        if (advance(p) != 0)
            return NULL;
        return n;
    }
    case T_NAME:
        if (advance(p) != 0)
            return NULL;
        if (p->cur.kind == T_LP)
            return parse_call(p, t.start, t.end - t.start);
        return parse_column(p, t.start, t.end - t.start);
    default:
        fail_found(p, "an expression");
        return NULL;
    }
}

/* Negates a literal right away, so -9223372036854775808 is expressible. */
static node *negated_literal(parser *p)
{
    tok t = p->cur;
    sf_value v;
    if (t.kind == T_INT) {
        if (t.u.i.too_big || t.u.i.v > (uint64_t)INT64_MAX + 1) {
            fail_at(p, t.start, SF_E_RANGE, "integer literal out of range");
            return NULL;
        }
        v = sf_int(t.u.i.v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)t.u.i.v);
    } else {
        v = sf_double(-t.u.d);
    }
    if (advance(p) != 0)
        return NULL;
    return new_const(p, v, t.start);
}

static node *parse_unary(parser *p);

static node *parse_unary_inner(parser *p)
{
    size_t pos = p->cur.start;
    if (p->cur.kind == T_NOT) {
        if (advance(p) != 0)
            return NULL;
        node *a = parse_unary(p);
        if (!a)
            return NULL;
        if (a->type != SF_BOOL && a->type != SF_NULL) {
            fail_at(p, pos, SF_E_TYPE, "cannot apply '!' to %s", tname(a->type));
            return NULL;
        }
        return new_node(p, K_NOT, SF_BOOL, pos, a, NULL, NULL);
    }
    if (p->cur.kind == T_MINUS) {
        if (advance(p) != 0)
            return NULL;
        if (p->cur.kind == T_INT || p->cur.kind == T_DOUBLE)
            return negated_literal(p);
        node *a = parse_unary(p);
        if (!a)
            return NULL;
        if (a->type == SF_DOUBLE)
            return new_node(p, K_NEG_D, SF_DOUBLE, pos, a, NULL, NULL);
        if (a->type == SF_INT || a->type == SF_NULL)
            return new_node(p, K_NEG_I, (sf_type)a->type, pos, a, NULL, NULL);
        fail_at(p, pos, SF_E_TYPE, "cannot apply '-' to %s", tname(a->type));
        return NULL;
    }
    return parse_primary(p);
}

/* Every level of syntactic nesting ('(', call arguments, '!' and '-')
 * passes through here, so the depth check bounds the parser's recursion. */
static node *parse_unary(parser *p)
{
    if (++p->depth > SF_EXPR_MAX_DEPTH) {
        fail_at(p, p->cur.start, SF_E_LIMIT, "expression nested too deeply (limit %d)",
                SF_EXPR_MAX_DEPTH);
        return NULL;
    }
    node *n = parse_unary_inner(p);
    p->depth--;
    return n;
}

static node *parse_mul(parser *p)
{
    node *l = parse_unary(p);
    while (l) {
        int k = p->cur.kind, aop;
        if (k == T_STAR)
            aop = A_MUL;
        else if (k == T_SLASH)
            aop = A_DIV;
        else if (k == T_PERCENT)
            aop = A_MOD;
        else
            break;
        size_t pos = p->cur.start;
        if (advance(p) != 0)
            return NULL;
        node *r = parse_unary(p);
        if (!r)
            return NULL;
        l = make_arith(p, aop, l, r, pos);
    }
    return l;
}

static node *parse_add(parser *p)
{
    node *l = parse_mul(p);
    while (l && (p->cur.kind == T_PLUS || p->cur.kind == T_MINUS)) {
        int aop = p->cur.kind == T_PLUS ? A_ADD : A_SUB;
        size_t pos = p->cur.start;
        if (advance(p) != 0)
            return NULL;
        node *r = parse_mul(p);
        if (!r)
            return NULL;
        l = make_arith(p, aop, l, r, pos);
    }
    return l;
}

static int cmp_op_of(int kind)
{
    switch (kind) {
    case T_EQ: return OP_EQ;
    case T_NE: return OP_NE;
    case T_LT: return OP_LT;
    case T_LE: return OP_LE;
    case T_GT: return OP_GT;
    case T_GE: return OP_GE;
    default: return -1;
    }
}

static node *parse_cmp(parser *p)
{
    node *l = parse_add(p);
    if (!l)
        return NULL;
    int op = cmp_op_of(p->cur.kind);
    if (op < 0)
        return l;
    size_t pos = p->cur.start;
    if (advance(p) != 0)
        return NULL;
    node *r = parse_add(p);
    if (!r)
        return NULL;
    node *n = make_cmp(p, op, l, r, pos);
    if (n && cmp_op_of(p->cur.kind) >= 0) {
        fail_at(p, p->cur.start, SF_E_PARSE,
                "comparisons cannot be chained; use parentheses or '&&'");
        return NULL;
    }
    return n;
}

static node *parse_and(parser *p)
{
    node *l = parse_cmp(p);
    while (l && p->cur.kind == T_AND) {
        size_t pos = p->cur.start;
        if (advance(p) != 0)
            return NULL;
        node *r = parse_cmp(p);
        if (!r)
            return NULL;
        l = make_logic(p, K_AND, l, r, pos);
    }
    return l;
}

static node *parse_or(parser *p)
{
    node *l = parse_and(p);
    while (l && p->cur.kind == T_OR) {
        size_t pos = p->cur.start;
        if (advance(p) != 0)
            return NULL;
        node *r = parse_and(p);
        if (!r)
            return NULL;
        l = make_logic(p, K_OR, l, r, pos);
    }
    return l;
}

sf_expr *sf_expr_parse(const char *text, const sf_expr_columns *cols, int flags, sf_error *err)
{
    sf_error_clear(err);
    if (!text) {
        sf_error_set(err, SF_E_INVAL, "no expression text");
        return NULL;
    }
    sf_expr *e = malloc(sizeof *e);
    if (!e) {
        sf_error_set(err, SF_E_NOMEM, "out of memory while parsing an expression");
        return NULL;
    }
    memset(e, 0, sizeof *e);
    sf_arena_init(&e->arena, 4096);

    parser p;
    memset(&p, 0, sizeof p);
    p.text = text;
    p.len = strlen(text);
    p.cols = cols;
    p.flags = flags;
    p.arena = &e->arena;
    p.err = err;

    node *root = NULL;
    if (advance(&p) == 0) {
        if (p.cur.kind == T_EOF) {
            fail_at(&p, p.cur.start, SF_E_PARSE, "empty expression");
        } else {
            root = parse_or(&p);
            if (root && p.cur.kind != T_EOF)
                fail_at(&p, p.cur.start, SF_E_PARSE, "unexpected '%.*s' after the expression",
                        tok_len_for_msg(&p.cur), text + p.cur.start);
        }
    }
    /* Aggregates inside another aggregate fail while parsing; this catches
     * the rest, e.g. sum(x) + 1, where only the finished tree tells. */
    if (!p.failed && p.n_agg > 0 && root->kind != K_AGG)
        fail_at(&p, p.first_agg_pos, SF_E_PARSE, "aggregate %s() is not allowed here",
                p.first_agg_name);
    if (p.failed) {
        sf_expr_free(e);
        return NULL;
    }

    e->root = root;
    e->type = (sf_type)root->type;
    if (root->kind == K_AGG) {
        e->agg = (sf_agg_kind)root->op;
        if (root->u.x.a) {
            sf_expr *view = sf_arena_alloc(&e->arena, sizeof *view);
            if (!view) {
                sf_error_set(err, SF_E_NOMEM, "out of memory while parsing an expression");
                sf_expr_free(e);
                return NULL;
            }
            memset(view, 0, sizeof *view);
            view->root = root->u.x.a;
            view->type = (sf_type)root->u.x.a->type;
            view->agg = SF_AGG_NONE;
            e->agg_arg = view;
        }
    }
    return e;
}

void sf_expr_free(sf_expr *e)
{
    if (!e)
        return;
    sf_arena_free(&e->arena);
    free(e);
}

sf_type sf_expr_type(const sf_expr *e) { return e->type; }

sf_agg_kind sf_expr_agg_kind(const sf_expr *e) { return e->agg; }

const sf_expr *sf_expr_agg_arg(const sf_expr *e) { return e->agg_arg; }

static void visit(const node *n, void (*fn)(void *ctx, int slot), void *ctx)
{
    switch (n->kind) {
    case K_CONST:
        return;
    case K_COL:
        fn(ctx, n->u.slot);
        return;
    case K_COALESCE:
        for (uint32_t i = 0; i < n->nargs; i++)
            visit(n->u.args[i], fn, ctx);
        return;
    default:
        if (n->u.x.a)
            visit(n->u.x.a, fn, ctx);
        if (n->u.x.b)
            visit(n->u.x.b, fn, ctx);
        if (n->u.x.c)
            visit(n->u.x.c, fn, ctx);
        return;
    }
}

void sf_expr_visit_columns(const sf_expr *e, void (*fn)(void *ctx, int slot), void *ctx)
{
    visit(e->root, fn, ctx);
}

/* ---------------------------------------------------------- evaluator */

static sf_value ev(const node *n, const sf_value *row, sf_arena *scratch);

static int cmp_result(int op, int c)
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
 * interpreter and the fast path below share it. */
static inline int cmp_values(const node *n, const sf_value *lp, const sf_value *rp)
{
    const sf_value l = *lp, r = *rp;
    int c;
    switch (n->cls) {
    case C_INT: c = (l.u.i > r.u.i) - (l.u.i < r.u.i); break;
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
    return cmp_result(n->op, c);
}

static sf_value ev_cmp(const node *n, const sf_value *row, sf_arena *scratch)
{
    sf_value l = ev(n->u.x.a, row, scratch);
    if (l.type == SF_NULL)
        return l;
    sf_value r = ev(n->u.x.b, row, scratch);
    if (r.type == SF_NULL)
        return r;
    return sf_bool(cmp_values(n, &l, &r));
}

/* lower()/upper(): the input itself when nothing changes, else a copy in
 * scratch (NULL when scratch is missing or exhausted). */
static sf_value ev_case(sf_value v, int upper, sf_arena *scratch)
{
    char from = upper ? 'a' : 'A', to = upper ? 'z' : 'Z';
    size_t i = 0, n = v.u.s.n;
    while (i < n && !(v.u.s.p[i] >= from && v.u.s.p[i] <= to))
        i++;
    if (i == n)
        return v;
    char *out = scratch ? sf_arena_alloc(scratch, n) : NULL;
    if (!out)
        return sf_null();
    memcpy(out, v.u.s.p, n);
    for (; i < n; i++) {
        if (out[i] >= from && out[i] <= to)
            out[i] = (char)(out[i] ^ 0x20);
    }
    return sf_string(out, n);
}

static sf_value ev_trim(sf_value v)
{
    const char *s = v.u.s.p;
    size_t b = 0, e = v.u.s.n;
    while (b < e && is_space(s[b]))
        b++;
    while (e > b && is_space(s[e - 1]))
        e--;
    return sf_string(s + b, e - b);
}

static sf_value date_or_null(int64_t days)
{
    if (days < INT32_MIN || days > INT32_MAX)
        return sf_null();
    return sf_date((int32_t)days);
}

/* Evaluates both operands of a binary node; 0 when either is NULL (the
 * right one is skipped when the left one already is). */
static inline int operands(const node *n, const sf_value *row, sf_arena *scratch, sf_value *l,
                           sf_value *r)
{
    *l = ev(n->u.x.a, row, scratch);
    if (l->type == SF_NULL)
        return 0;
    *r = ev(n->u.x.b, row, scratch);
    return r->type != SF_NULL;
}

static sf_value ev(const node *n, const sf_value *row, sf_arena *scratch)
{
    sf_value l, r;
    int64_t i;
    int32_t days;
    switch (n->kind) {
    case K_CONST:
        return n->u.k;
    case K_COL:
        return row[n->u.slot];
    case K_TO_DOUBLE:
        l = ev(n->u.x.a, row, scratch);
        return l.type == SF_INT ? sf_double((double)l.u.i) : l;
    case K_NEG_I:
        l = ev(n->u.x.a, row, scratch);
        if (l.type == SF_NULL || l.u.i == INT64_MIN)
            return sf_null();
        return sf_int(-l.u.i);
    case K_NEG_D:
        l = ev(n->u.x.a, row, scratch);
        return l.type == SF_NULL ? l : sf_double(-l.u.d);
    case K_ADD_I:
        if (!operands(n, row, scratch, &l, &r) || __builtin_add_overflow(l.u.i, r.u.i, &i))
            return sf_null();
        return sf_int(i);
    case K_SUB_I:
        if (!operands(n, row, scratch, &l, &r) || __builtin_sub_overflow(l.u.i, r.u.i, &i))
            return sf_null();
        return sf_int(i);
    case K_MUL_I:
        if (!operands(n, row, scratch, &l, &r) || __builtin_mul_overflow(l.u.i, r.u.i, &i))
            return sf_null();
        return sf_int(i);
    case K_MOD_I:
        if (!operands(n, row, scratch, &l, &r) || r.u.i == 0)
            return sf_null();
        /* INT64_MIN % -1 is undefined in C; its true value is 0. */
        return sf_int(r.u.i == -1 ? 0 : l.u.i % r.u.i);
    case K_ADD_D:
        return operands(n, row, scratch, &l, &r) ? sf_double(l.u.d + r.u.d) : sf_null();
    case K_SUB_D:
        return operands(n, row, scratch, &l, &r) ? sf_double(l.u.d - r.u.d) : sf_null();
    case K_MUL_D:
        return operands(n, row, scratch, &l, &r) ? sf_double(l.u.d * r.u.d) : sf_null();
    case K_MOD_D:
        if (!operands(n, row, scratch, &l, &r) || r.u.d == 0.0)
            return sf_null();
        return sf_double(fmod(l.u.d, r.u.d));
    case K_DIV:
        if (!operands(n, row, scratch, &l, &r) || r.u.d == 0.0)
            return sf_null();
        return sf_double(l.u.d / r.u.d);
    case K_DATE_ADD:
        if (!operands(n, row, scratch, &l, &r) ||
            __builtin_add_overflow((int64_t)l.u.date, r.u.i, &i))
            return sf_null();
        return date_or_null(i);
    case K_DATE_SUB:
        if (!operands(n, row, scratch, &l, &r) ||
            __builtin_sub_overflow((int64_t)l.u.date, r.u.i, &i))
            return sf_null();
        return date_or_null(i);
    case K_DATE_DIFF:
        if (!operands(n, row, scratch, &l, &r))
            return sf_null();
        return sf_int((int64_t)l.u.date - (int64_t)r.u.date);
    case K_CMP:
        return ev_cmp(n, row, scratch);
    case K_AND:
        l = ev(n->u.x.a, row, scratch);
        if (l.type == SF_BOOL && !l.u.b)
            return l;
        r = ev(n->u.x.b, row, scratch);
        if (r.type == SF_BOOL && !r.u.b)
            return r;
        return l.type == SF_NULL || r.type == SF_NULL ? sf_null() : sf_bool(1);
    case K_OR:
        l = ev(n->u.x.a, row, scratch);
        if (l.type == SF_BOOL && l.u.b)
            return l;
        r = ev(n->u.x.b, row, scratch);
        if (r.type == SF_BOOL && r.u.b)
            return r;
        return l.type == SF_NULL || r.type == SF_NULL ? sf_null() : sf_bool(0);
    case K_NOT:
        l = ev(n->u.x.a, row, scratch);
        return l.type == SF_NULL ? l : sf_bool(!l.u.b);
    case K_IF:
        l = ev(n->u.x.a, row, scratch);
        return ev(l.type == SF_BOOL && l.u.b ? n->u.x.b : n->u.x.c, row, scratch);
    case K_COALESCE:
        for (uint32_t k = 0; k < n->nargs; k++) {
            l = ev(n->u.args[k], row, scratch);
            if (l.type != SF_NULL)
                return l;
        }
        return sf_null();
    case K_IS_NULL:
        l = ev(n->u.x.a, row, scratch);
        return sf_bool(l.type == SF_NULL);
    case K_LOWER:
    case K_UPPER:
        l = ev(n->u.x.a, row, scratch);
        return l.type == SF_NULL ? l : ev_case(l, n->kind == K_UPPER, scratch);
    case K_TRIM:
        l = ev(n->u.x.a, row, scratch);
        return l.type == SF_NULL ? l : ev_trim(l);
    case K_TO_DATE_I:
        l = ev(n->u.x.a, row, scratch);
        if (l.type == SF_NULL || sf_date_from_unix(l.u.i, &days) != 0)
            return sf_null();
        return sf_date(days);
    case K_TO_DATE_D: {
        l = ev(n->u.x.a, row, scratch);
        if (l.type == SF_NULL)
            return l;
        double d = floor(l.u.d);
        /* The negated test also rejects NaN. */
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
            sf_date_from_unix((int64_t)d, &days) != 0)
            return sf_null();
        return sf_date(days);
    }
    case K_DATE_FROM_ISO:
        l = ev(n->u.x.a, row, scratch);
        if (l.type == SF_NULL || sf_parse_iso_date(l.u.s.p, l.u.s.n, &days) != 0)
            return sf_null();
        return sf_date(days);
    case K_ABS_I:
        l = ev(n->u.x.a, row, scratch);
        if (l.type == SF_NULL || l.u.i == INT64_MIN)
            return sf_null();
        return sf_int(l.u.i < 0 ? -l.u.i : l.u.i);
    case K_ABS_D:
        l = ev(n->u.x.a, row, scratch);
        return l.type == SF_NULL ? l : sf_double(fabs(l.u.d));
    default: /* K_AGG: evaluated by the aggregation code, not here */
        return sf_null();
    }
}

int sf_expr_slot(const sf_expr *e)
{
    return e && e->root->kind == K_COL ? e->root->u.slot : -1;
}

/* ------------------------------------------------------------ fast path
 *
 * The shapes jobs use in derives, filters and count_if - a column compared
 * with a literal, null tests, and/or/not of those, if() choosing between
 * columns and literals, to_date() of a column - evaluated beside the tree
 * walk: columns and literals are read where they are (no sf_value copied
 * out per leaf) and conditions stay three-valued ints (FAST_NULL) instead
 * of sf_values. Every other node goes to ev(), so the two agree by
 * construction on what the fast path does not know, and the unit tests
 * compare them on every expression they evaluate (sf_expr_eval_tree). */

enum { FAST_FALSE = 0, FAST_TRUE = 1, FAST_NULL = 2 };

static sf_value fast_value(const node *n, const sf_value *row, sf_arena *scratch);

/* A leaf's value in place, or NULL when n is not a leaf. */
static inline const sf_value *fast_leaf(const node *n, const sf_value *row)
{
    return n->kind == K_COL ? &row[n->u.slot] : n->kind == K_CONST ? &n->u.k : NULL;
}

/* The value of a boolean node as FAST_FALSE, FAST_TRUE or FAST_NULL. */
static int fast_cond(const node *n, const sf_value *row, sf_arena *scratch)
{
    const sf_value *v = fast_leaf(n, row);
    if (v)
        return v->type == SF_NULL ? FAST_NULL : v->u.b != 0;
    switch (n->kind) {
    case K_CMP: {
        sf_value lv, rv;
        const sf_value *l = fast_leaf(n->u.x.a, row), *r;
        if (!l) {
            lv = fast_value(n->u.x.a, row, scratch);
            l = &lv;
        }
        if (l->type == SF_NULL)
            return FAST_NULL;
        if (!(r = fast_leaf(n->u.x.b, row))) {
            rv = fast_value(n->u.x.b, row, scratch);
            r = &rv;
        }
        if (r->type == SF_NULL)
            return FAST_NULL;
        return cmp_values(n, l, r);
    }
    case K_AND: {
        int a = fast_cond(n->u.x.a, row, scratch);
        if (a == FAST_FALSE)
            return FAST_FALSE;
        int b = fast_cond(n->u.x.b, row, scratch);
        if (b == FAST_FALSE)
            return FAST_FALSE;
        return a == FAST_NULL || b == FAST_NULL ? FAST_NULL : FAST_TRUE;
    }
    case K_OR: {
        int a = fast_cond(n->u.x.a, row, scratch);
        if (a == FAST_TRUE)
            return FAST_TRUE;
        int b = fast_cond(n->u.x.b, row, scratch);
        if (b == FAST_TRUE)
            return FAST_TRUE;
        return a == FAST_NULL || b == FAST_NULL ? FAST_NULL : FAST_FALSE;
    }
    case K_NOT: {
        int a = fast_cond(n->u.x.a, row, scratch);
        return a == FAST_NULL ? FAST_NULL : !a;
    }
    case K_IS_NULL: {
        const sf_value *a = fast_leaf(n->u.x.a, row);
        if (a)
            return a->type == SF_NULL;
        return fast_value(n->u.x.a, row, scratch).type == SF_NULL;
    }
    default: {
        sf_value x = ev(n, row, scratch);
        return x.type == SF_NULL ? FAST_NULL : x.u.b != 0;
    }
    }
}

static sf_value fast_value(const node *n, const sf_value *row, sf_arena *scratch)
{
    switch (n->kind) {
    case K_COL:
        return row[n->u.slot];
    case K_CONST:
        return n->u.k;
    case K_IF:
        return fast_value(fast_cond(n->u.x.a, row, scratch) == FAST_TRUE ? n->u.x.b : n->u.x.c,
                          row, scratch);
    case K_CMP:
    case K_AND:
    case K_OR:
    case K_NOT:
    case K_IS_NULL: {
        int c = fast_cond(n, row, scratch);
        return c == FAST_NULL ? sf_null() : sf_bool(c);
    }
    case K_TO_DATE_I: {
        const sf_value *a = fast_leaf(n->u.x.a, row);
        int32_t days;
        if (!a)
            return ev(n, row, scratch);
        if (a->type == SF_NULL || sf_date_from_unix(a->u.i, &days) != 0)
            return sf_null();
        return sf_date(days);
    }
    default:
        return ev(n, row, scratch);
    }
}

sf_value sf_expr_eval(const sf_expr *e, const sf_value *row, sf_arena *scratch)
{
    return fast_value(e->root, row, scratch);
}

sf_value sf_expr_eval_tree(const sf_expr *e, const sf_value *row, sf_arena *scratch)
{
    return ev(e->root, row, scratch);
}
