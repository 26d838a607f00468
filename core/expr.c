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
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/decimal.h"
#include "core/ere.h"
#include "core/expr_fn.h"
#include "core/expr_node.h"
#include "core/fmt.h"
#include "core/value_text.h"

#define SF_EXPR_MAX_DEPTH 256

typedef sf_expr_node node;

/* A compiled pattern of regexp_match(), in the expression's arena; the
 * list lets sf_expr_free release what regcomp allocated. */
typedef struct expr_regex {
    regex_t re;
    struct expr_regex *next;
} expr_regex;

struct sf_expr {
    const node *root;
    const sf_expr_fast *fast; /* root's compiled form, in arena */
    expr_regex *regexes;
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
    expr_regex **regexes; /* the expression's list */
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

/* ---- decimals ----
 *
 * A decimal node knows its precision and scale (dprec, dscale) statically;
 * its values carry the same scale. int64 operands and integer literals join
 * a decimal as decimal(19,0) and decimal(digits,0); a real literal joins it
 * as the exact decimal of its text (0.5 is decimal(1,1)); any other double
 * is an error that says to cast, since mixing would silently round. */

static sf_dec_type dec_of(const node *n)
{
    sf_dec_type d = {1, 0};
    if (n->type == SF_DECIMAL) {
        d.prec = n->dprec;
        d.scale = n->dscale;
    } else if (n->type == SF_INT && n->kind == K_CONST) {
        uint64_t m = n->u.k.u.i < 0 ? (uint64_t)0 - (uint64_t)n->u.k.u.i : (uint64_t)n->u.k.u.i;
        for (d.prec = 1; m >= 10; m /= 10)
            d.prec++;
    } else if (n->type == SF_INT) {
        d.prec = 19;
    }
    return d;
}

static void describe_type(const node *n, char *buf)
{
    sf_dec_type d = dec_of(n);
    sf_type_format((sf_type)n->type, d, buf);
}

/* A real literal becomes the decimal its shortest text spells. */
static int literal_to_decimal(parser *p, node *n)
{
    char text[SF_FMT_BUF];
    int len = sf_fmt_double(n->u.k.u.d, text);
    int scale = 0, exp = 0, prec = 0;
    const char *dot = memchr(text, '.', (size_t)len), *e = memchr(text, 'e', (size_t)len);
    if (dot)
        for (const char *q = dot + 1; q < text + len && *q >= '0' && *q <= '9'; q++)
            scale++;
    if (e)
        exp = atoi(e + 1);
    scale = scale - exp < 0 ? 0 : scale - exp;
    sf_i128 v;
    if (scale > SF_DEC_MAX_PREC ||
        sf_dec_parse(text, (size_t)len, SF_DEC_MAX_PREC, scale, &v) != 0) {
        fail_at(p, n->pos, SF_E_RANGE, "literal %s does not fit a decimal(38,S)", text);
        return -1;
    }
    char digits[SF_DEC_BUF];
    sf_dec_format(v < 0 ? -v : v, 0, digits);
    prec = (int)strlen(digits);
    if (prec < scale)
        prec = scale;
    if (prec == 0)
        prec = 1;
    n->u.k = sf_decimal(v, scale);
    n->type = SF_DECIMAL;
    n->dprec = (uint8_t)prec;
    n->dscale = (uint8_t)scale;
    return 0;
}

/* The double side of a decimal operation: a literal converts, anything
 * else is an error at pos naming both types. */
static int double_with_decimal(parser *p, node *dbl, const node *dec, const char *what,
                               size_t pos)
{
    if (dbl->kind == K_CONST)
        return literal_to_decimal(p, dbl);
    char tb[24];
    describe_type(dec, tb);
    fail_at(p, pos, SF_E_TYPE,
            "cannot apply %s to %s and double: cast one side (cast(x, 'double') or "
            "cast(x, '%s'))", what, tb, tb);
    return -1;
}

/* n (int64, decimal or the NULL literal) delivering decimals at scale. */
static node *as_dec(parser *p, node *n, int scale)
{
    if (n->type == SF_NULL || (n->type == SF_DECIMAL && n->dscale == scale))
        return n;
    sf_dec_type d = dec_of(n);
    int prec = d.prec + (scale - d.scale);
    if (prec > SF_DEC_MAX_PREC)
        prec = SF_DEC_MAX_PREC;
    if (prec < 1)
        prec = 1;
    if (n->kind == K_CONST) {
        sf_i128 v = n->type == SF_INT ? (sf_i128)n->u.k.u.i : sf_decimal_get(&n->u.k), w;
        if (sf_dec_rescale(v, d.scale, scale, SF_DEC_MAX_PREC, &w) != 0) {
            fail_at(p, n->pos, SF_E_RANGE, "literal does not fit a decimal with %d places",
                    scale);
            return NULL;
        }
        n->u.k = sf_decimal(w, scale);
        n->type = SF_DECIMAL;
        n->dprec = (uint8_t)prec;
        n->dscale = (uint8_t)scale;
        return n;
    }
    node *c = new_node(p, K_DEC_TO_DEC, SF_DECIMAL, n->pos, n, NULL, NULL);
    if (c) {
        c->dprec = (uint8_t)prec;
        c->dscale = (uint8_t)scale;
    }
    return c;
}

static node *dec_to_double(parser *p, node *n)
{
    if (n->type != SF_DECIMAL)
        return as_double(p, n);
    return new_node(p, K_DEC_TO_DOUBLE, SF_DOUBLE, n->pos, n, NULL, NULL);
}

static node *make_dec_arith(parser *p, int aop, node *l, node *r, size_t pos)
{
    char what[8];
    snprintf(what, sizeof what, "'%s'", arith_text[aop]);
    if (l->type == SF_DOUBLE && double_with_decimal(p, l, r, what, pos) != 0)
        return NULL;
    if (r->type == SF_DOUBLE && double_with_decimal(p, r, l, what, pos) != 0)
        return NULL;
    if (aop == A_DIV) {
        /* '/' gives double, as it does for int64: a quotient rarely has a
         * finite decimal expansion. */
        l = dec_to_double(p, l);
        r = l ? dec_to_double(p, r) : NULL;
        if (!l || !r)
            return NULL;
        return new_node(p, K_DIV, SF_DOUBLE, pos, l, r, NULL);
    }
    sf_dec_type a = dec_of(l), b = dec_of(r), t;
    if (aop == A_MUL) {
        if (sf_dec_type_mul(a, b, &t) != 0) {
            fail_at(p, pos, SF_E_RANGE, "a product of decimals with %d + %d places has more "
                    "than 38", a.scale, b.scale);
            return NULL;
        }
        l = as_dec(p, l, a.scale);
        r = l ? as_dec(p, r, b.scale) : NULL;
    } else {
        if (aop == A_MOD)
            t = sf_dec_type_unify(a, b);
        else
            sf_dec_type_add(a, b, &t);
        l = as_dec(p, l, t.scale);
        r = l ? as_dec(p, r, t.scale) : NULL;
    }
    if (!l || !r)
        return NULL;
    static const int kd[] = {K_DEC_ADD, K_DEC_SUB, K_DEC_MUL, 0, K_DEC_MOD};
    node *n = new_node(p, kd[aop], SF_DECIMAL, pos, l, r, NULL);
    if (n) {
        n->dprec = t.prec;
        n->dscale = t.scale;
    }
    return n;
}

/* Branches of if() or coalesce() of which one is a decimal: the common
 * decimal type, every branch brought to its scale. Returns 0 or -1. */
static int unify_dec(parser *p, node **args, uint32_t nargs, const char *what, size_t pos,
                     sf_dec_type *out)
{
    const node *dec = NULL;
    for (uint32_t i = 0; i < nargs; i++)
        if (args[i]->type == SF_DECIMAL)
            dec = args[i];
    sf_dec_type t = {1, 0};
    int first = 1;
    for (uint32_t i = 0; i < nargs; i++) {
        sf_type ti = (sf_type)args[i]->type;
        if (ti == SF_DOUBLE && double_with_decimal(p, args[i], dec, what, pos) != 0)
            return -1;
        ti = (sf_type)args[i]->type;
        if (ti != SF_DECIMAL && ti != SF_INT && ti != SF_NULL) {
            char tb[24];
            describe_type(dec, tb);
            fail_at(p, pos, SF_E_TYPE, "%s has incompatible types %s and %s", what, tb,
                    tname(ti));
            return -1;
        }
        if (ti == SF_NULL)
            continue;
        t = first ? dec_of(args[i]) : sf_dec_type_unify(t, dec_of(args[i]));
        first = 0;
    }
    for (uint32_t i = 0; i < nargs; i++)
        if (!(args[i] = as_dec(p, args[i], t.scale)))
            return -1;
    *out = t;
    return 0;
}

static int has_dec(node *const *args, uint32_t nargs)
{
    for (uint32_t i = 0; i < nargs; i++)
        if (args[i]->type == SF_DECIMAL)
            return 1;
    return 0;
}

static node *make_arith(parser *p, int aop, node *l, node *r, size_t pos)
{
    sf_type ta = (sf_type)l->type, tb = (sf_type)r->type;
    int bad = ta == SF_BOOL || ta == SF_STRING || tb == SF_BOOL || tb == SF_STRING ||
              ta == SF_TIMESTAMP || tb == SF_TIMESTAMP;
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
    if (ta == SF_DECIMAL || tb == SF_DECIMAL)
        return make_dec_arith(p, aop, l, r, pos);
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

/* A string literal compared with a timestamp becomes a timestamp. */
static int literal_to_ts(parser *p, node *n)
{
    int64_t us;
    if (sf_parse_iso_timestamp(n->u.k.u.s.p, n->u.k.u.s.n, &us) != 0) {
        size_t len = n->u.k.u.s.n;
        fail_at(p, n->pos, SF_E_PARSE, "invalid timestamp literal '%.*s'",
                len > 40 ? 40 : (int)len, n->u.k.u.s.p);
        return -1;
    }
    n->u.k = sf_timestamp(us);
    n->type = SF_TIMESTAMP;
    return 0;
}

static node *make_cmp(parser *p, int op, node *l, node *r, size_t pos)
{
    if (l->type == SF_TIMESTAMP && r->kind == K_CONST && r->type == SF_STRING) {
        if (literal_to_ts(p, r) != 0)
            return NULL;
    } else if (r->type == SF_TIMESTAMP && l->kind == K_CONST && l->type == SF_STRING) {
        if (literal_to_ts(p, l) != 0)
            return NULL;
    }
    /* A date meets a timestamp as its midnight (UTC). */
    if (l->type == SF_DATE && r->type == SF_TIMESTAMP)
        l = new_node(p, K_DATE_TO_TS, SF_TIMESTAMP, l->pos, l, NULL, NULL);
    else if (r->type == SF_DATE && l->type == SF_TIMESTAMP)
        r = new_node(p, K_DATE_TO_TS, SF_TIMESTAMP, r->pos, r, NULL, NULL);
    if (!l || !r)
        return NULL;
    if (l->type == SF_DATE && r->kind == K_CONST && r->type == SF_STRING) {
        if (literal_to_date(p, r) != 0)
            return NULL;
    } else if (r->type == SF_DATE && l->kind == K_CONST && l->type == SF_STRING) {
        if (literal_to_date(p, l) != 0)
            return NULL;
    }
    if (l->type == SF_DECIMAL || r->type == SF_DECIMAL) {
        /* int64 and decimals of any scale compare exactly (sf_value_cmp) */
        char what[8];
        snprintf(what, sizeof what, "'%s'", cmp_text[op]);
        if (l->type == SF_DOUBLE && double_with_decimal(p, l, r, what, pos) != 0)
            return NULL;
        if (r->type == SF_DOUBLE && double_with_decimal(p, r, l, what, pos) != 0)
            return NULL;
    }
    sf_type ta = (sf_type)l->type, tb = (sf_type)r->type;
    sf_type ea = ta == SF_NULL ? tb : ta, eb = tb == SF_NULL ? ta : tb;
    int cls = -1;
    int dec_ok = (ea == SF_DECIMAL || ea == SF_INT) && (eb == SF_DECIMAL || eb == SF_INT);
    if (dec_ok && (ea == SF_DECIMAL || eb == SF_DECIMAL))
        cls = C_NUM;
    else if (ea == SF_NULL || (ea == SF_INT && eb == SF_INT))
        cls = C_INT;
    else if (is_num(ea) && is_num(eb))
        cls = C_NUM;
    else if (ea == eb && ea == SF_STRING)
        cls = C_STR;
    else if (ea == eb && ea == SF_DATE)
        cls = C_DATE;
    else if (ea == eb && ea == SF_TIMESTAMP)
        cls = C_TS;
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
    F_AGG,
    F_ROUND,
    F_FLOOR,
    F_CEIL,
    F_CAST,
    F_LENGTH,
    F_SUBSTR,
    F_CONCAT,
    F_REPLACE,
    F_STARTS_WITH,
    F_CONTAINS,
    F_SPLIT_PART,
    F_REGEXP_MATCH,
    F_YEAR,
    F_MONTH,
    F_DAY,
    F_HOUR,
    F_DOW,
    F_DATE_TRUNC,
    F_DATE_ADD,
    F_DATE_DIFF,
    F_TO_TIMESTAMP,
    F_FORMAT_DATE
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
    {"round", F_ROUND, 1, 2, SF_AGG_NONE},
    {"floor", F_FLOOR, 1, 1, SF_AGG_NONE},
    {"ceil", F_CEIL, 1, 1, SF_AGG_NONE},
    {"cast", F_CAST, 2, 2, SF_AGG_NONE},
    {"length", F_LENGTH, 1, 1, SF_AGG_NONE},
    {"substr", F_SUBSTR, 2, 3, SF_AGG_NONE},
    {"concat", F_CONCAT, 1, -1, SF_AGG_NONE},
    {"replace", F_REPLACE, 3, 3, SF_AGG_NONE},
    {"starts_with", F_STARTS_WITH, 2, 2, SF_AGG_NONE},
    {"contains", F_CONTAINS, 2, 2, SF_AGG_NONE},
    {"split_part", F_SPLIT_PART, 3, 3, SF_AGG_NONE},
    {"regexp_match", F_REGEXP_MATCH, 2, 2, SF_AGG_NONE},
    {"year", F_YEAR, 1, 1, SF_AGG_NONE},
    {"month", F_MONTH, 1, 1, SF_AGG_NONE},
    {"day", F_DAY, 1, 1, SF_AGG_NONE},
    {"hour", F_HOUR, 1, 1, SF_AGG_NONE},
    {"dow", F_DOW, 1, 1, SF_AGG_NONE},
    {"date_trunc", F_DATE_TRUNC, 2, 2, SF_AGG_NONE},
    {"date_add", F_DATE_ADD, 2, 2, SF_AGG_NONE},
    {"date_diff", F_DATE_DIFF, 2, 2, SF_AGG_NONE},
    {"to_timestamp", F_TO_TIMESTAMP, 1, 2, SF_AGG_NONE},
    {"format_date", F_FORMAT_DATE, 2, 2, SF_AGG_NONE},
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
        if (ta == SF_DECIMAL) {
            /* decimal(38,S) and decimal(38,S+4) (core/decimal.h) */
            sf_dec_type d = f->agg == SF_AGG_SUM ? sf_dec_type_sum(dec_of(a))
                                                 : sf_dec_type_mean(dec_of(a));
            node *n = new_node(p, K_AGG, SF_DECIMAL, pos, a, NULL, NULL);
            if (n) {
                n->op = (uint8_t)f->agg;
                n->dprec = d.prec;
                n->dscale = d.scale;
            }
            return n;
        }
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
    if (n && a && t == SF_DECIMAL) { /* min, max */
        n->dprec = a->dprec;
        n->dscale = a->dscale;
    }
    return n;
}

/* Argument i of f must have type t (or be NULL); 0, or -1 with the error. */
static int want_arg(parser *p, const fn_def *f, node **args, uint32_t i, sf_type t)
{
    sf_type got = (sf_type)args[i]->type;
    if (got == t || got == SF_NULL)
        return 0;
    fail_at(p, args[i]->pos, SF_E_TYPE, "%s() argument %u must be %s, got %s", f->name, i + 1,
            tname(t), tname(got));
    return -1;
}

/* Argument i of f must be a string literal: returns it (borrowed from the
 * parse arena, NUL-terminated), or NULL with the error. */
static const sf_value *literal_arg(parser *p, const fn_def *f, node **args, uint32_t i,
                                   const char *what)
{
    if (args[i]->kind != K_CONST || args[i]->type != SF_STRING) {
        fail_at(p, args[i]->pos, SF_E_TYPE, "%s() argument %u must be a string literal (%s)",
                f->name, i + 1, what);
        return NULL;
    }
    return &args[i]->u.k;
}

/* A date or timestamp argument: 0 (date), 1 (timestamp), or -1 with the
 * error. A NULL literal counts as a date; a string literal becomes a date
 * ('YYYY-MM-DD') or a timestamp (with a time). */
static int date_or_ts(parser *p, const fn_def *f, node **args, uint32_t i)
{
    node *a = args[i];
    if (a->kind == K_CONST && a->type == SF_STRING &&
        (a->u.k.u.s.n == 10 ? literal_to_date(p, a) : literal_to_ts(p, a)) != 0)
        return -1;
    sf_type t = (sf_type)args[i]->type;
    if (t == SF_DATE || t == SF_NULL)
        return 0;
    if (t == SF_TIMESTAMP)
        return 1;
    fail_at(p, args[i]->pos, SF_E_TYPE, "%s() argument %u must be date or timestamp, got %s",
            f->name, i + 1, tname(t));
    return -1;
}

static const int64_t unit_us[] = {1000000, 1000, 1}; /* to_timestamp: 's', 'ms', 'us' */

static node *make_regex(parser *p, const fn_def *f, size_t pos, node **args)
{
    if (want_arg(p, f, args, 0, SF_STRING) != 0)
        return NULL;
    const sf_value *pat = literal_arg(p, f, args, 1, "a POSIX extended regular expression");
    if (!pat)
        return NULL;
    if (memchr(pat->u.s.p, '\0', pat->u.s.n)) {
        fail_at(p, args[1]->pos, SF_E_PARSE, "regexp_match() pattern holds a NUL byte");
        return NULL;
    }
    char why[400];
    if (sf_ere_check(pat->u.s.p, pat->u.s.n, NULL, why, sizeof why) != 0) {
        size_t n = pat->u.s.n;
        fail_at(p, args[1]->pos, SF_E_PARSE, "regexp_match(): pattern '%.*s%s' refused: %s",
                n > 60 ? 60 : (int)n, pat->u.s.p, n > 60 ? "..." : "", why);
        return NULL;
    }
    expr_regex *rx = sf_arena_alloc(p->arena, sizeof *rx);
    char *text = rx ? sf_arena_memdup(p->arena, pat->u.s.p, pat->u.s.n) : NULL;
    if (!text) {
        fail_nomem(p);
        return NULL;
    }
    int rc = regcomp(&rx->re, text, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, &rx->re, why, sizeof why);
        size_t n = pat->u.s.n;
        fail_at(p, args[1]->pos, SF_E_PARSE, "regexp_match(): invalid pattern '%.*s': %s",
                n > 60 ? 60 : (int)n, text, why);
        return NULL;
    }
    rx->next = *p->regexes;
    *p->regexes = rx;
    node *n = new_node(p, K_REGEX, SF_BOOL, pos, args[0], NULL, NULL);
    if (n)
        n->aux = &rx->re;
    return n;
}

static node *make_cast(parser *p, const fn_def *f, size_t pos, node **args)
{
    const sf_value *name = literal_arg(p, f, args, 1, "a type name such as 'int64'");
    if (!name)
        return NULL;
    sf_type to;
    sf_dec_type dt;
    char tn[32];
    size_t tl = name->u.s.n < sizeof tn ? name->u.s.n : sizeof tn - 1;
    memcpy(tn, name->u.s.p, tl);
    tn[tl] = '\0';
    if (name->u.s.n >= sizeof tn || memchr(name->u.s.p, '\0', name->u.s.n) ||
        sf_type_parse_full(tn, &to, &dt) != 0 || to == SF_NULL) {
        size_t n = name->u.s.n;
        fail_at(p, args[1]->pos, SF_E_TYPE,
                "cast() to unknown type '%.*s' (bool, int64, double, decimal(P,S), string, "
                "date, timestamp)",
                n > 40 ? 40 : (int)n, name->u.s.p);
        return NULL;
    }
    sf_type from = (sf_type)args[0]->type;
    if (from != SF_NULL && !sf_exprfn_cast_ok(from, to)) {
        char fb[24], tb[24];
        describe_type(args[0], fb);
        fail_at(p, pos, SF_E_TYPE, "cannot cast %s to %s", fb, sf_type_format(to, dt, tb));
        return NULL;
    }
    if (from == to && (to != SF_DECIMAL ||
                       (args[0]->dprec == dt.prec && args[0]->dscale == dt.scale)))
        return args[0];
    node *n = new_node(p, K_CAST, to, pos, args[0], NULL, NULL);
    if (n) {
        n->op = (uint8_t)to;
        n->dprec = dt.prec; /* {0, 0} unless to is a decimal */
        n->dscale = dt.scale;
    }
    return n;
}

/* Node of a function with all its arguments in args[] (concat, in). */
static node *new_list_node(parser *p, int kind, sf_type t, size_t pos, node **args,
                           uint32_t nargs)
{
    unsigned h = 0;
    for (uint32_t i = 0; i < nargs; i++) {
        if (args[i]->height > h)
            h = args[i]->height;
    }
    if (h + 1 > SF_EXPR_MAX_DEPTH) {
        fail_at(p, pos, SF_E_LIMIT, "expression nested too deeply (limit %d)", SF_EXPR_MAX_DEPTH);
        return NULL;
    }
    node *n = new_node(p, kind, t, pos, NULL, NULL, NULL);
    if (!n)
        return NULL;
    n->height = (uint16_t)(h + 1);
    n->u.args = args;
    n->nargs = nargs;
    return n;
}

/* round(x[, n]) of a decimal(P,S), rounding half away from zero as
 * round() does for doubles. The result type: with n a literal (or absent:
 * 0), the argument itself for n >= S, decimal(P, n) for 0 <= n < S (as
 * DuckDB; P - n >= P - S + 1 integer digits hold the carry of 9.99 to
 * 10.0), decimal(min(38, P - S + 1), 0) for n < 0; with n an expression,
 * decimal(min(38, P + 1), S), the rounded value with trailing zeros. */
static node *make_round_dec(parser *p, const fn_def *f, size_t pos, node **args, uint32_t nargs)
{
    node *a = args[0], *b = nargs == 2 ? args[1] : NULL;
    if (b && want_arg(p, f, args, 1, SF_INT) != 0)
        return NULL;
    int prec = a->dprec, scale = a->dscale;
    if (!b || (b->kind == K_CONST && b->type == SF_INT)) {
        int64_t k = b ? b->u.k.u.i : 0;
        if (k >= scale)
            return a;
        if (k >= 0) {
            scale = (int)k;
        } else {
            prec = prec - scale + 1 > SF_DEC_MAX_PREC ? SF_DEC_MAX_PREC : prec - scale + 1;
            scale = 0;
        }
    } else if (prec < SF_DEC_MAX_PREC) {
        prec++;
    }
    node *n = new_node(p, K_ROUND_DEC, SF_DECIMAL, pos, a, b, NULL);
    if (n) {
        n->dprec = (uint8_t)prec;
        n->dscale = (uint8_t)scale;
    }
    return n;
}

/* The functions added with the timestamp type: text, rounding, casts and
 * calendar functions. NULL in gives NULL out, except for concat. */
static node *make_call2(parser *p, const fn_def *f, size_t pos, node **args, uint32_t nargs)
{
    node *a = args[0];
    sf_type ta = (sf_type)a->type;
    int ts;
    switch (f->id) {
    case F_ROUND:
        if (ta == SF_DECIMAL)
            return make_round_dec(p, f, pos, args, nargs);
        if (!is_num(ta) && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        if (nargs == 2 && want_arg(p, f, args, 1, SF_INT) != 0)
            return NULL;
        if (ta == SF_DOUBLE)
            return new_node(p, K_ROUND_D, SF_DOUBLE, pos, a, nargs == 2 ? args[1] : NULL, NULL);
        if (nargs == 1)
            return a; /* round of an int64 is itself */
        return new_node(p, K_ROUND_I, ta, pos, a, args[1], NULL);
    case F_FLOOR:
    case F_CEIL:
        if (ta == SF_DECIMAL) {
            if (a->dscale == 0)
                return a;
            /* decimal(P,0), as DuckDB: P - S + 1 integer digits are enough
             * for the carry out of 9.99 and P >= P - S + 1 when S >= 1. */
            node *n = new_node(p, f->id == F_FLOOR ? K_FLOOR_DEC : K_CEIL_DEC, SF_DECIMAL, pos,
                               a, NULL, NULL);
            if (n)
                n->dprec = a->dprec;
            return n;
        }
        if (!is_num(ta) && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        if (ta != SF_DOUBLE)
            return a;
        return new_node(p, f->id == F_FLOOR ? K_FLOOR_D : K_CEIL_D, SF_DOUBLE, pos, a, NULL, NULL);
    case F_CAST:
        return make_cast(p, f, pos, args);
    case F_LENGTH:
        if (want_arg(p, f, args, 0, SF_STRING) != 0)
            return NULL;
        return new_node(p, K_LENGTH, SF_INT, pos, a, NULL, NULL);
    case F_SUBSTR:
        if (want_arg(p, f, args, 0, SF_STRING) != 0 || want_arg(p, f, args, 1, SF_INT) != 0 ||
            (nargs == 3 && want_arg(p, f, args, 2, SF_INT) != 0))
            return NULL;
        return new_node(p, K_SUBSTR, SF_STRING, pos, a, args[1], nargs == 3 ? args[2] : NULL);
    case F_CONCAT:
        return new_list_node(p, K_CONCAT, SF_STRING, pos, args, nargs);
    case F_REPLACE:
        if (want_arg(p, f, args, 0, SF_STRING) != 0 || want_arg(p, f, args, 1, SF_STRING) != 0 ||
            want_arg(p, f, args, 2, SF_STRING) != 0)
            return NULL;
        return new_node(p, K_REPLACE, SF_STRING, pos, a, args[1], args[2]);
    case F_STARTS_WITH:
    case F_CONTAINS:
        if (want_arg(p, f, args, 0, SF_STRING) != 0 || want_arg(p, f, args, 1, SF_STRING) != 0)
            return NULL;
        return new_node(p, f->id == F_CONTAINS ? K_CONTAINS : K_STARTS_WITH, SF_BOOL, pos, a,
                        args[1], NULL);
    case F_SPLIT_PART:
        if (want_arg(p, f, args, 0, SF_STRING) != 0 || want_arg(p, f, args, 1, SF_STRING) != 0 ||
            want_arg(p, f, args, 2, SF_INT) != 0)
            return NULL;
        return new_node(p, K_SPLIT_PART, SF_STRING, pos, a, args[1], args[2]);
    case F_REGEXP_MATCH:
        return make_regex(p, f, pos, args);
    case F_YEAR:
    case F_MONTH:
    case F_DAY:
    case F_HOUR:
    case F_DOW: {
        if ((ts = date_or_ts(p, f, args, 0)) < 0)
            return NULL;
        static const sf_date_part parts[] = {SF_DP_YEAR, SF_DP_MONTH, SF_DP_DAY, SF_DP_HOUR,
                                             SF_DP_DOW};
        node *n = new_node(p, ts ? K_TS_PART : K_DATE_PART, SF_INT, pos, a, NULL, NULL);
        if (n)
            n->op = (uint8_t)parts[f->id - F_YEAR];
        return n;
    }
    case F_DATE_TRUNC: {
        const sf_value *unit = literal_arg(p, f, args, 0, "'year', 'quarter', 'month', 'week', "
                                                          "'day' or 'hour'");
        sf_time_unit u;
        if (!unit)
            return NULL;
        if (sf_exprfn_unit_parse(unit->u.s.p, unit->u.s.n, &u) != 0) {
            size_t n = unit->u.s.n;
            fail_at(p, a->pos, SF_E_PARSE,
                    "date_trunc() unit '%.*s' is not one of year, quarter, month, week, day, "
                    "hour",
                    n > 40 ? 40 : (int)n, unit->u.s.p);
            return NULL;
        }
        if ((ts = date_or_ts(p, f, args, 1)) < 0)
            return NULL;
        node *n = new_node(p, ts ? K_TS_TRUNC : K_DATE_TRUNC, ts ? SF_TIMESTAMP : SF_DATE, pos,
                           args[1], NULL, NULL);
        if (n)
            n->op = (uint8_t)u;
        return n;
    }
    case F_DATE_ADD:
        if ((ts = date_or_ts(p, f, args, 0)) < 0 || want_arg(p, f, args, 1, SF_INT) != 0)
            return NULL;
        return new_node(p, ts ? K_TS_ADD_DAYS : K_DATE_ADD, ts ? SF_TIMESTAMP : SF_DATE, pos, a,
                        args[1], NULL);
    case F_DATE_DIFF: {
        /* Days from a to b (b - a, as DuckDB's date_diff('day', a, b)):
         * day boundaries crossed, so timestamps count by their dates. */
        node *x[2];
        for (uint32_t i = 0; i < 2; i++) {
            if ((ts = date_or_ts(p, f, args, i)) < 0)
                return NULL;
            x[i] = ts ? new_node(p, K_TS_TO_DATE, SF_DATE, args[i]->pos, args[i], NULL, NULL)
                      : args[i];
            if (!x[i])
                return NULL;
        }
        return new_node(p, K_DATE_DIFF, SF_INT, pos, x[1], x[0], NULL);
    }
    case F_TO_TIMESTAMP: {
        if (!is_num(ta) && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        int unit = 0;
        if (nargs == 2) {
            const sf_value *u = literal_arg(p, f, args, 1, "'s', 'ms' or 'us'");
            if (!u)
                return NULL;
            static const char *const names[] = {"s", "ms", "us"};
            for (unit = 0; unit < 3; unit++) {
                if (strlen(names[unit]) == u->u.s.n && memcmp(names[unit], u->u.s.p, u->u.s.n) == 0)
                    break;
            }
            if (unit == 3) {
                fail_at(p, args[1]->pos, SF_E_PARSE,
                        "to_timestamp() unit must be 's', 'ms' or 'us'");
                return NULL;
            }
        }
        node *n = new_node(p, ta == SF_DOUBLE ? K_TO_TS_D : K_TO_TS_I, SF_TIMESTAMP, pos, a, NULL,
                           NULL);
        if (n)
            n->op = (uint8_t)unit;
        return n;
    }
    case F_FORMAT_DATE: {
        if ((ts = date_or_ts(p, f, args, 0)) < 0)
            return NULL;
        const sf_value *fmt = literal_arg(p, f, args, 1, "a format such as '%Y-%m'");
        if (!fmt)
            return NULL;
        long bad = sf_exprfn_format_check(fmt->u.s.p, fmt->u.s.n);
        if (bad >= 0) {
            fail_at(p, args[1]->pos, SF_E_PARSE,
                    "format_date() format: '%%%.1s' at byte %ld is not one of %%Y %%m %%d %%H "
                    "%%M %%S %%f %%j %%u %%w %%%%",
                    (size_t)bad + 1 < fmt->u.s.n ? fmt->u.s.p + bad + 1 : "", bad + 1);
            return NULL;
        }
        node *x = ts ? a : new_node(p, K_DATE_TO_TS, SF_TIMESTAMP, a->pos, a, NULL, NULL);
        if (!x)
            return NULL;
        return new_node(p, K_FORMAT_DATE, SF_STRING, pos, x, args[1], NULL);
    }
    default:
        fail_at(p, pos, SF_E_INTERNAL, "function %s() has no implementation", f->name);
        return NULL;
    }
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
        if (has_dec(args + 1, 2)) {
            sf_dec_type d;
            if (unify_dec(p, args + 1, 2, "if()", pos, &d) != 0)
                return NULL;
            node *n = new_node(p, K_IF, SF_DECIMAL, pos, a, args[1], args[2]);
            if (n) {
                n->dprec = d.prec;
                n->dscale = d.scale;
            }
            return n;
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
        sf_dec_type dt = {0, 0};
        if (has_dec(args, nargs)) {
            if (unify_dec(p, args, nargs, "coalesce()", pos, &dt) != 0)
                return NULL;
            t = SF_DECIMAL;
        }
        for (uint32_t i = 0; i < nargs && t != SF_DECIMAL; i++) {
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
        n->dprec = dt.prec;
        n->dscale = dt.scale;
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
        if (ta == SF_TIMESTAMP)
            return new_node(p, K_TS_TO_DATE, SF_DATE, pos, a, NULL, NULL);
        if (!is_num(ta) && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        return new_node(p, ta == SF_DOUBLE ? K_TO_DATE_D : K_TO_DATE_I, SF_DATE, pos, a, NULL,
                        NULL);
    case F_DATE_FROM_ISO:
        if (ta != SF_STRING && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        return new_node(p, K_DATE_FROM_ISO, SF_DATE, pos, a, NULL, NULL);
    case F_ABS:
        if (ta == SF_DECIMAL) {
            node *n = new_node(p, K_DEC_ABS, SF_DECIMAL, pos, a, NULL, NULL);
            if (n) {
                n->dprec = a->dprec;
                n->dscale = a->dscale;
            }
            return n;
        }
        if (!is_num(ta) && ta != SF_NULL)
            return fn_arg_error(p, f, pos, a);
        return new_node(p, ta == SF_DOUBLE ? K_ABS_D : K_ABS_I, ta, pos, a, NULL, NULL);
    case F_AGG:
        return make_agg(p, f, pos, args);
    default:
        return make_call2(p, f, pos, args, nargs);
    }
}

/* ------------------------------------------------------------- parser */

static node *parse_or(parser *p);

/* Appends a to the argument array *args (n used, cap allocated) in the
 * parse arena, doubling it as it fills; the parse arena is freed with the
 * expression, so the old copies cost nothing. Returns 0 or -1 (out of
 * memory, said). */
static int args_push(parser *p, node ***args, uint32_t *n, uint32_t *cap, node *a)
{
    if (*n >= *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 8;
        node **na = sf_arena_alloc(p->arena, ncap * sizeof *na);
        if (!na) {
            fail_nomem(p);
            return -1;
        }
        if (*args)
            memcpy(na, *args, *n * sizeof *na);
        *args = na;
        *cap = ncap;
    }
    (*args)[(*n)++] = a;
    return 0;
}

/* After a list element: 1 when a ',' (consumed) says another follows, 0 at
 * the ')' (not consumed), -1 on anything else (said). */
static int list_next(parser *p)
{
    if (p->cur.kind == T_COMMA)
        return advance(p) != 0 ? -1 : 1;
    if (p->cur.kind != T_RP) {
        fail_found(p, "',' or ')'");
        return -1;
    }
    return 0;
}

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

    node **args = NULL; /* args_push */
    uint32_t nargs = 0, cap = 0;
    if (p->cur.kind != T_RP) {
        for (;;) {
            node *a = parse_or(p);
            if (!a)
                return NULL;
            if (args_push(p, &args, &nargs, &cap, a) != 0)
                return NULL;
            int more = list_next(p);
            if (more < 0)
                return NULL;
            if (!more)
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
        else if (f->min_args != f->max_args)
            fail_at(p, name_pos, SF_E_PARSE, "%s() takes %d to %d arguments, got %u", f->name,
                    f->min_args, f->max_args, nargs);
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
    if (slot < 0 || (int)type < SF_NULL || strcmp(sf_type_name(type), "unknown") == 0 ||
        (type == SF_DECIMAL && !p->cols->decimal)) {
        fail_at(p, start, SF_E_INTERNAL, "column '%.*s' resolved to slot %d of type %d",
                len > 200 ? 200 : (int)len, name, slot, (int)type);
        return NULL;
    }
    node *n = new_node(p, K_COL, type, start, NULL, NULL, NULL);
    if (n)
        n->u.slot = slot;
    if (n && type == SF_DECIMAL) {
        sf_dec_type d = {0, 0};
        p->cols->decimal(p->cols->ctx, slot, &d);
        n->dprec = d.prec;
        n->dscale = d.scale;
    }
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
        if (a->type == SF_DECIMAL) {
            node *n = new_node(p, K_DEC_NEG, SF_DECIMAL, pos, a, NULL, NULL);
            if (n) {
                n->dprec = a->dprec;
                n->dscale = a->dscale;
            }
            return n;
        }
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

/* x in (e1, e2, ...): each element is type-checked as x == e. */
static node *parse_in(parser *p, node *x)
{
    size_t pos = p->cur.start;
    if (advance(p) != 0) /* 'in' */
        return NULL;
    if (p->cur.kind != T_LP) {
        fail_found(p, "'(' after 'in'");
        return NULL;
    }
    if (advance(p) != 0)
        return NULL;
    node **args = NULL;
    uint32_t nargs = 1, cap = 0;
    for (;;) {
        node *e = parse_or(p);
        if (!e)
            return NULL;
        node *c = make_cmp(p, OP_EQ, x, e, e->pos);
        if (!c)
            return NULL;
        if (c->u.x.a != x) {
            fail_at(p, e->pos, SF_E_TYPE,
                    "'in' compares a %s with a %s; cast one of them so both have one type",
                    tname(x->type), tname(e->type));
            return NULL;
        }
        if (args_push(p, &args, &nargs, &cap, c) != 0)
            return NULL;
        int more = list_next(p);
        if (more < 0)
            return NULL;
        if (!more)
            break;
    }
    if (advance(p) != 0)
        return NULL;
    args[0] = x;
    return new_list_node(p, K_IN, SF_BOOL, pos, args, nargs);
}

static int is_keyword_in(const parser *p)
{
    return p->cur.kind == T_NAME && p->cur.end - p->cur.start == 2 &&
           memcmp(p->text + p->cur.start, "in", 2) == 0;
}

static node *parse_cmp(parser *p)
{
    node *l = parse_add(p);
    if (!l)
        return NULL;
    if (is_keyword_in(p)) {
        node *n = parse_in(p, l);
        if (n && (cmp_op_of(p->cur.kind) >= 0 || is_keyword_in(p))) {
            fail_at(p, p->cur.start, SF_E_PARSE,
                    "comparisons cannot be chained; use parentheses or '&&'");
            return NULL;
        }
        return n;
    }
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
    p.regexes = &e->regexes;
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
    if (!(e->fast = sf_expr_fast_compile(root, &e->arena))) {
        sf_error_set(err, SF_E_NOMEM, "out of memory while parsing an expression");
        sf_expr_free(e);
        return NULL;
    }
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
            view->fast = sf_expr_fast_compile(view->root, &e->arena);
            if (!view->fast) {
                sf_error_set(err, SF_E_NOMEM, "out of memory while parsing an expression");
                sf_expr_free(e);
                return NULL;
            }
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
    for (expr_regex *r = e->regexes; r; r = r->next)
        regfree(&r->re);
    sf_arena_free(&e->arena);
    free(e);
}

sf_type sf_expr_type(const sf_expr *e) { return e->type; }

sf_dec_type sf_expr_decimal(const sf_expr *e)
{
    sf_dec_type d = {0, 0};
    if (e->type == SF_DECIMAL) {
        d.prec = e->root->dprec;
        d.scale = e->root->dscale;
    }
    return d;
}

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
    case K_CONCAT:
        for (uint32_t i = 0; i < n->nargs; i++)
            visit(n->u.args[i], fn, ctx);
        return;
    case K_IN:
        /* args[1..] compare args[0] with an element: visit it once. */
        visit(n->u.args[0], fn, ctx);
        for (uint32_t i = 1; i < n->nargs; i++)
            visit(n->u.args[i]->u.x.b, fn, ctx);
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

static sf_value ev_cmp(const node *n, const sf_value *row, sf_arena *scratch)
{
    sf_value l = ev(n->u.x.a, row, scratch);
    if (l.type == SF_NULL)
        return l;
    sf_value r = ev(n->u.x.b, row, scratch);
    if (r.type == SF_NULL)
        return r;
    return sf_bool(sf_expr_cmp_values(n, &l, &r));
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

/* x in (...): true on a match; else NULL when x or an element is NULL. */
static sf_value ev_in(const node *n, const sf_value *row, sf_arena *scratch)
{
    sf_value x = ev(n->u.args[0], row, scratch);
    if (x.type == SF_NULL)
        return x;
    int saw_null = 0;
    for (uint32_t k = 1; k < n->nargs; k++) {
        const node *c = n->u.args[k];
        sf_value e = ev(c->u.x.b, row, scratch);
        if (e.type == SF_NULL) {
            saw_null = 1;
            continue;
        }
        int eq;
        switch (c->cls) {
        case C_INT:
        case C_TS: eq = x.u.i == e.u.i; break;
        case C_DATE: eq = x.u.date == e.u.date; break;
        case C_BOOL: eq = x.u.b == e.u.b; break;
        case C_STR:
            eq = x.u.s.n == e.u.s.n && (x.u.s.n == 0 || memcmp(x.u.s.p, e.u.s.p, x.u.s.n) == 0);
            break;
        default: eq = sf_value_cmp(&x, &e) == 0; break;
        }
        if (eq)
            return sf_bool(1);
    }
    return saw_null ? sf_null() : sf_bool(0);
}

/* concat(): every argument as text (NULL as ''), in scratch. */
static sf_value ev_concat(const node *n, const sf_value *row, sf_arena *scratch)
{
    sf_value *v = scratch ? sf_arena_alloc(scratch, n->nargs * sizeof *v) : NULL;
    if (!v)
        return sf_null();
    size_t cap = 0;
    for (uint32_t k = 0; k < n->nargs; k++) {
        v[k] = ev(n->u.args[k], row, scratch);
        cap += v[k].type == SF_STRING ? v[k].u.s.n : v[k].type == SF_NULL ? 0 : SF_FMT_BUF;
    }
    char *out = sf_arena_alloc(scratch, cap ? cap : 1);
    if (!out)
        return sf_null();
    size_t o = 0;
    for (uint32_t k = 0; k < n->nargs; k++) {
        if (v[k].type == SF_STRING) {
            if (v[k].u.s.n)
                memcpy(out + o, v[k].u.s.p, v[k].u.s.n);
            o += v[k].u.s.n;
        } else if (v[k].type != SF_NULL) {
            char buf[SF_FMT_BUF];
            size_t m = sf_value_text_format(&v[k], buf);
            memcpy(out + o, buf, m);
            o += m;
        }
    }
    return sf_string(out, o);
}

/* Evaluates the children a, b (and c when present) of n; 0 when one is
 * NULL. Missing optional children are left as SF_NULL with *has_* 0. */
static int args3(const node *n, const sf_value *row, sf_arena *scratch, sf_value *a, sf_value *b,
                 sf_value *c)
{
    *a = ev(n->u.x.a, row, scratch);
    if (a->type == SF_NULL)
        return 0;
    *b = n->u.x.b ? ev(n->u.x.b, row, scratch) : sf_null();
    if (n->u.x.b && b->type == SF_NULL)
        return 0;
    *c = n->u.x.c ? ev(n->u.x.c, row, scratch) : sf_null();
    return !(n->u.x.c && c->type == SF_NULL);
}

/* The node kinds of the functions added with timestamps (make_call2). */
static sf_value ev_fn(const node *n, const sf_value *row, sf_arena *scratch)
{
    sf_value a, b, c, out;
    int64_t i;
    int32_t days;
    switch (n->kind) {
    case K_IN:
        return ev_in(n, row, scratch);
    case K_CONCAT:
        return ev_concat(n, row, scratch);
    default:
        break;
    }
    if (!args3(n, row, scratch, &a, &b, &c))
        return sf_null();
    switch (n->kind) {
    case K_ROUND_I:
        return sf_exprfn_round_int(a.u.i, b.u.i, &i) == 0 ? sf_int(i) : sf_null();
    case K_ROUND_D:
        return sf_double(sf_exprfn_round_double(a.u.d, n->u.x.b ? b.u.i : 0));
    case K_FLOOR_D:
        return sf_double(floor(a.u.d));
    case K_CEIL_D:
        return sf_double(ceil(a.u.d));
    case K_CAST:
        if (n->type == SF_DECIMAL) {
            sf_dec_type d = {n->dprec, n->dscale};
            return sf_exprfn_cast_dec(a, d, &out) == 0 ? out : sf_null();
        }
        return sf_exprfn_cast(a, (sf_type)n->op, scratch, &out) == 0 ? out : sf_null();
    case K_ROUND_DEC:
    case K_FLOOR_DEC:
    case K_CEIL_DEC: {
        static const sf_dec_round mode[] = {SF_DR_HALF_AWAY, SF_DR_FLOOR, SF_DR_CEIL};
        sf_i128 w;
        if (sf_exprfn_round_dec(sf_decimal_get(&a), a.scale, n->u.x.b ? b.u.i : 0,
                                mode[n->kind - K_ROUND_DEC], n->dscale, n->dprec, &w) != 0)
            return sf_null();
        return sf_decimal(w, n->dscale);
    }
    case K_LENGTH:
        return sf_int(sf_exprfn_length(a.u.s.p, a.u.s.n));
    case K_SUBSTR:
        return sf_exprfn_substr(a, b.u.i, n->u.x.c != NULL, c.u.i);
    case K_REPLACE:
        return sf_exprfn_replace(a, b, c, scratch);
    case K_STARTS_WITH:
        return sf_bool(sf_exprfn_starts_with(a, b));
    case K_CONTAINS:
        return sf_bool(sf_exprfn_contains(a, b));
    case K_SPLIT_PART:
        return sf_exprfn_split_part(a, b, c.u.i);
    case K_REGEX: {
        regmatch_t m[1];
        m[0].rm_so = 0;
        m[0].rm_eo = (regoff_t)a.u.s.n;
        return sf_bool(regexec((const regex_t *)n->aux, a.u.s.n ? a.u.s.p : "", 1, m,
                               REG_STARTEND) == 0);
    }
    case K_DATE_PART:
        return sf_int(sf_exprfn_date_part(a.u.date, (sf_date_part)n->op));
    case K_TS_PART:
        return sf_int(sf_exprfn_ts_part(a.u.i, (sf_date_part)n->op));
    case K_DATE_TRUNC:
        return sf_exprfn_date_trunc(a.u.date, (sf_time_unit)n->op, &days) == 0 ? sf_date(days)
                                                                             : sf_null();
    case K_TS_TRUNC:
        return sf_exprfn_ts_trunc(a.u.i, (sf_time_unit)n->op, &i) == 0 ? sf_timestamp(i)
                                                                      : sf_null();
    case K_TS_ADD_DAYS: {
        int64_t d;
        if (__builtin_mul_overflow(b.u.i, SF_US_PER_DAY, &d) ||
            __builtin_add_overflow(a.u.i, d, &i) || sf_timestamp_from_unix(i, 1, &i) != 0)
            return sf_null();
        return sf_timestamp(i);
    }
    case K_TO_TS_I:
        return sf_timestamp_from_unix(a.u.i, unit_us[n->op], &i) == 0 ? sf_timestamp(i)
                                                                      : sf_null();
    case K_TO_TS_D: {
        double us = round(a.u.d * (double)unit_us[n->op]);
        if (!(us >= -9223372036854775808.0 && us < 9223372036854775808.0) ||
            sf_timestamp_from_unix((int64_t)us, 1, &i) != 0)
            return sf_null();
        return sf_timestamp(i);
    }
    case K_DATE_TO_TS:
        return sf_exprfn_cast(a, SF_TIMESTAMP, NULL, &out) == 0 ? out : sf_null();
    case K_TS_TO_DATE:
        return sf_date(sf_timestamp_date(a.u.i));
    case K_FORMAT_DATE:
        return sf_exprfn_format_ts(a.u.i, b.u.s.p, b.u.s.n, scratch);
    default:
        return sf_null();
    }
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
    case K_DEC_TO_DEC: {
        l = ev(n->u.x.a, row, scratch);
        if (l.type == SF_NULL)
            return l;
        sf_i128 v = l.type == SF_INT ? (sf_i128)l.u.i : sf_decimal_get(&l), w;
        if (sf_dec_rescale(v, l.type == SF_INT ? 0 : l.scale, n->dscale, n->dprec, &w) != 0)
            return sf_null();
        return sf_decimal(w, n->dscale);
    }
    case K_DEC_ADD:
    case K_DEC_SUB:
    case K_DEC_MUL:
    case K_DEC_MOD: {
        if (!operands(n, row, scratch, &l, &r))
            return sf_null();
        sf_i128 a = sf_decimal_get(&l), b = sf_decimal_get(&r), w;
        int rc;
        if (n->kind == K_DEC_ADD)
            rc = sf_dec_add(a, b, n->dprec, &w);
        else if (n->kind == K_DEC_SUB)
            rc = sf_dec_sub(a, b, n->dprec, &w);
        else if (n->kind == K_DEC_MUL)
            rc = sf_dec_mul(a, b, n->dprec, &w);
        else if ((rc = b == 0) == 0)
            w = a % b; /* |a|, |b| < 10^38: no INT128_MIN % -1 */
        return rc ? sf_null() : sf_decimal(w, n->dscale);
    }
    case K_DEC_NEG:
    case K_DEC_ABS:
        l = ev(n->u.x.a, row, scratch);
        if (l.type == SF_NULL)
            return l;
        if (n->kind == K_DEC_NEG || sf_decimal_get(&l) < 0)
            return sf_decimal(-sf_decimal_get(&l), l.scale);
        return l;
    case K_DEC_TO_DOUBLE:
        l = ev(n->u.x.a, row, scratch);
        return l.type == SF_NULL ? l : sf_double(sf_dec_to_double(sf_decimal_get(&l), l.scale));
    case K_AGG:
        return sf_null(); /* evaluated by the aggregation code, not here */
    default:
        return ev_fn(n, row, scratch);
    }
}

int sf_expr_slot(const sf_expr *e)
{
    return e && e->root->kind == K_COL ? e->root->u.slot : -1;
}


sf_value sf_expr_node_eval(const sf_expr_node *n, const sf_value *row, sf_arena *scratch)
{
    return ev(n, row, scratch);
}

sf_value sf_expr_eval(const sf_expr *e, const sf_value *row, sf_arena *scratch)
{
    const sf_expr_fast *x = e->fast;
    /* A condition (count_if's argument) is built right in the return
     * slot: copying a value another function had just stored field by
     * field stalls on store forwarding (~85% of this function's cycles
     * under perf on S1). */
    if (x->cond) {
        int c = x->cond(x, row, scratch);
        return c == SF_XF_NULL ? sf_null() : sf_bool(c);
    }
    sf_value v;
    x->val(x, row, scratch, &v);
    return v;
}

void sf_expr_eval_to(const sf_expr *e, const sf_value *row, sf_arena *scratch, sf_value *out)
{
    e->fast->val(e->fast, row, scratch, out);
}

void sf_expr_derive_of(const sf_expr *e, sf_expr_derive *d)
{
    sf_expr_fast_derive(e->fast, d);
}

int sf_expr_test(const sf_expr *e, const sf_value *row, sf_arena *scratch)
{
    const sf_expr_fast *x = e->fast;
    if (x->cond)
        return x->cond(x, row, scratch) == SF_XF_TRUE;
    sf_value v;
    x->val(x, row, scratch, &v);
    return v.type == SF_BOOL && v.u.b;
}

void sf_expr_leaf_of(const sf_expr *e, sf_expr_leaf *l)
{
    if (e)
        sf_expr_fast_leaf(e->fast, l);
    else
        *l = (sf_expr_leaf){.kind = SF_LEAF_NONE};
}

int sf_expr_leaf_and(const sf_expr *e, sf_expr_leaf *a, sf_expr_leaf *b)
{
    return e && sf_expr_fast_leaf_and(e->fast, a, b);
}

sf_value sf_expr_eval_tree(const sf_expr *e, const sf_value *row, sf_arena *scratch)
{
    return ev(e->root, row, scratch);
}
