/* ere.c - vets a POSIX extended regular expression before regcomp(3).
 *
 * Each piece of the pattern is summarised by five numbers of its
 * Thompson automaton (see ere.h): its nodes, whether it matches the empty
 * string, the nodes its entry reaches by epsilon (first), the closure
 * entries inside it (closure), and the epsilon nodes inside it that reach
 * its exit without consuming input (tail). Concatenation, alternation and
 * the repetitions combine summaries without expanding anything; a count
 * {m,n} is a power of the concatenation, taken by squaring. Numbers are
 * doubles: they only need to be compared with the limits, never exact.
 */
#include "core/ere.h"

#include <stdbool.h>
#include <stdio.h>

#define ERE_MAX_DEPTH 256
#define ERE_MAX_COUNT 100000L /* counts past glibc's RE_DUP_MAX, saturated */

typedef struct piece {
    double nodes, first, closure, tail;
    bool empty_ok;
    bool empty_loop; /* holds a loop whose body matches the empty string */
    bool open;       /* holds an anchor that reaches its exit by epsilon */
    double reach;    /* closure entries of the nodes its entry reaches by epsilon */
    double anchored; /* closure entries reachable by epsilon from its anchors */
} piece;

/* The empty pattern: the identity of concatenation. */
static const piece EMPTY = {0, 0, 0, 0, true, false, false, 0, 0};
/* One character, bracket expression or '.'. */
static const piece CHAR = {1, 1, 1, 0, false, false, false, 1, 0};
/* An anchor ('^', '$'): an epsilon node of its own. */
static const piece ANCHOR = {1, 1, 1, 1, true, false, true, 1, 0};

static bool over(const piece *x)
{
    return x->nodes > SF_ERE_MAX_NODES || x->closure > SF_ERE_MAX_CLOSURE ||
           x->anchored > SF_ERE_MAX_ANCHORED;
}

/* x then y: the epsilon nodes at x's exit reach y's entry. */
static piece cat(piece x, piece y)
{
    piece r;
    r.nodes = x.nodes + y.nodes;
    r.empty_ok = x.empty_ok && y.empty_ok;
    r.first = x.first + (x.empty_ok ? y.first : 0);
    r.closure = x.closure + y.closure + x.tail * y.first;
    r.tail = y.tail + (y.empty_ok ? x.tail : 0);
    r.empty_loop = x.empty_loop || y.empty_loop;
    r.open = y.open || (x.open && y.empty_ok);
    r.reach = x.reach + (x.empty_ok ? x.tail * y.first + y.reach : 0);
    r.anchored = x.anchored + y.anchored + (x.open ? y.reach : 0);
    return r;
}

/* x|y: one branching node that reaches both entries. */
static piece alt(piece x, piece y)
{
    piece r;
    r.nodes = x.nodes + y.nodes + 1;
    r.empty_ok = x.empty_ok || y.empty_ok;
    r.first = x.first + y.first + 1;
    r.closure = x.closure + y.closure + 1 + x.first + y.first;
    r.tail = x.tail + y.tail + (r.empty_ok ? 1 : 0);
    r.empty_loop = x.empty_loop || y.empty_loop;
    r.open = x.open || y.open;
    r.reach = x.reach + y.reach + 1 + x.first + y.first;
    r.anchored = x.anchored + y.anchored;
    return r;
}

/* x?: a node that reaches x's entry and the exit. */
static piece opt(piece x)
{
    piece r;
    r.nodes = x.nodes + 1;
    r.empty_ok = true;
    r.first = x.first + 1;
    r.closure = x.closure + 1 + x.first;
    r.tail = x.tail + 1;
    r.empty_loop = x.empty_loop;
    r.open = x.open;
    r.reach = x.reach + 1 + x.first;
    r.anchored = x.anchored;
    return r;
}

/* x*: as x?, and x's nullable exit loops back to the entry; a loop
 * whose body x matches the empty string is an epsilon cycle. */
static piece star(piece x)
{
    piece r = opt(x);
    r.closure += x.tail * (1 + x.first);
    r.empty_loop = x.empty_loop || x.empty_ok;
    r.reach += x.tail * (1 + x.first);
    r.anchored += x.open ? x.reach : 0; /* the loop takes an anchor back to x */
    return r;
}

/* k copies of x in a row, by squaring; stops growing once over a limit. */
static piece power(piece x, long k)
{
    piece r = EMPTY;
    while (k > 0 && !over(&r)) {
        if (k & 1)
            r = cat(r, x);
        k >>= 1;
        if (k > 0) {
            if (over(&x))
                return x;
            x = cat(x, x);
        }
    }
    return r;
}

/* x{lo,hi}; hi < 0 for no upper bound. glibc copies x lo times, then
 * (hi - lo) optional copies, or one starred copy when unbounded. */
static piece repeat(piece x, long lo, long hi)
{
    piece head = power(x, lo);
    if (hi < 0)
        return cat(head, star(x));
    return cat(head, power(opt(x), hi - lo));
}

/* Reads a decimal count at p[*i], saturated; -1 if there is no digit. */
static long read_count(const char *p, size_t n, size_t *i)
{
    long v = -1;
    while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
        long d = p[*i] - '0';
        v = v < 0 ? d : (v > ERE_MAX_COUNT ? v : v * 10 + d);
        (*i)++;
    }
    return v;
}

/* An interval "{m}", "{m,}", "{m,n}" or "{,n}" at p[*i] == '{'. On success
 * moves *i past the '}' and returns true; otherwise leaves *i alone (the
 * brace is then an ordinary character here, and regcomp judges it). */
static bool read_interval(const char *p, size_t n, size_t *i, long *lo, long *hi)
{
    size_t j = *i + 1;
    long a = read_count(p, n, &j);
    long b = a;
    if (j < n && p[j] == ',') {
        j++;
        b = read_count(p, n, &j);
        if (a < 0 && b < 0)
            return false;
    } else if (a < 0) {
        return false;
    }
    if (j >= n || p[j] != '}')
        return false;
    *lo = a < 0 ? 0 : a;
    *hi = b;
    *i = j + 1;
    return true;
}

/* Skips the bracket expression at p[i] == '['; returns the index after its
 * ']', or n if it is not closed (regcomp reports that). */
static size_t skip_bracket(const char *p, size_t n, size_t i)
{
    i++;
    if (i < n && p[i] == '^')
        i++;
    if (i < n && p[i] == ']')
        i++;
    while (i < n && p[i] != ']') {
        if (p[i] == '[' && i + 1 < n && (p[i + 1] == ':' || p[i + 1] == '=' || p[i + 1] == '.')) {
            char close = p[i + 1];
            size_t j = i + 2;
            while (j + 1 < n && !(p[j] == close && p[j + 1] == ']'))
                j++;
            if (j + 1 >= n)
                return n;
            i = j + 2;
        } else {
            i++;
        }
    }
    return i < n ? i + 1 : n;
}

/* A group being read: the finished branches, the current branch without
 * its last piece, and that last piece (which a repetition applies to). */
typedef struct frame {
    piece branches;
    piece branch;
    piece last;
    bool has_branches;
    bool has_last;
} frame;

static void frame_init(frame *f)
{
    f->branches = EMPTY;
    f->branch = EMPTY;
    f->last = EMPTY;
    f->has_branches = false;
    f->has_last = false;
}

static void push_piece(frame *f, piece x)
{
    if (f->has_last)
        f->branch = cat(f->branch, f->last);
    f->last = x;
    f->has_last = true;
}

/* The frame's whole pattern: its branches and the current one. */
static piece frame_close(const frame *f)
{
    piece b = f->has_last ? cat(f->branch, f->last) : f->branch;
    return f->has_branches ? alt(f->branches, b) : b;
}

static void frame_bar(frame *f)
{
    f->branches = frame_close(f);
    f->has_branches = true;
    f->branch = EMPTY;
    f->has_last = false;
}

int sf_ere_check(const char *p, size_t n, sf_ere_cost *cost, char *why, size_t why_len)
{
    frame stack[ERE_MAX_DEPTH + 1];
    int depth = 0;
    frame_init(&stack[0]);
    if (why_len > 0)
        why[0] = '\0';
    int rc = 0;
    size_t i = 0;
    while (i < n) {
        frame *f = &stack[depth];
        char c = p[i];
        long lo, hi;
        if (c == '(') {
            if (depth == ERE_MAX_DEPTH) {
                snprintf(why, why_len, "more than %d nested groups", ERE_MAX_DEPTH);
                rc = -1;
                break;
            }
            frame_init(&stack[++depth]);
            i++;
        } else if (c == ')' && depth > 0) {
            piece g = frame_close(f);
            push_piece(&stack[--depth], g);
            i++;
        } else if (c == '|') {
            frame_bar(f);
            i++;
        } else if ((c == '*' || c == '+' || c == '?') && f->has_last) {
            piece x = f->last;
            f->last = c == '*' ? star(x) : c == '?' ? opt(x) : cat(x, star(x));
            i++;
        } else if (c == '{' && f->has_last && read_interval(p, n, &i, &lo, &hi)) {
            f->last = repeat(f->last, lo, hi);
        } else if (c == '[') {
            push_piece(f, CHAR);
            i = skip_bracket(p, n, i);
        } else if (c == '\\') {
            if (i + 1 < n && p[i + 1] >= '1' && p[i + 1] <= '9') {
                snprintf(why, why_len,
                         "back-reference '\\%c' at byte %zu: POSIX extended expressions have none, "
                         "and matching one takes time exponential in the value's length",
                         p[i + 1], i + 1);
                rc = -1;
                break;
            }
            /* glibc's word and buffer constraints are anchors too. */
            char e = i + 1 < n ? p[i + 1] : 0;
            int anchor = e == '<' || e == '>' || e == 'b' || e == 'B' || e == '`' || e == '\'';
            push_piece(f, anchor ? ANCHOR : CHAR);
            i += i + 1 < n ? 2 : 1;
        } else if (c == '^' || c == '$') {
            push_piece(f, ANCHOR);
            i++;
        } else {
            push_piece(f, CHAR);
            i++;
        }
        if (stack[depth].has_last && over(&stack[depth].last))
            break; /* the whole can only be larger */
    }
    /* Unclosed groups (regcomp reports them) are closed for the estimate. */
    piece all = frame_close(&stack[depth]);
    while (depth > 0) {
        push_piece(&stack[--depth], all);
        all = frame_close(&stack[depth]);
    }
    if (cost) {
        cost->nodes = all.nodes;
        cost->closure = all.closure;
        cost->anchored = all.anchored;
    }
    if (rc == 0 && all.empty_loop) {
        snprintf(why, why_len,
                 "it repeats ('*', '+' or '{m,}') a part that can match the empty string, as in "
                 "'(a?)*', '(x*)+' or '(a|b|)+', which can take glibc's regcomp time exponential "
                 "in the pattern's length; repeat a part that cannot match empty ('(a)*', "
                 "'(a|b)*')");
        rc = -1;
    } else if (rc == 0 && all.anchored > SF_ERE_MAX_ANCHORED) {
        snprintf(why, why_len,
                 "an anchor ('^', '$', '\\<' ...) is followed by about %.3g closure entries that "
                 "can all match the empty string (limit %.0f), as in '^(a{0,3}){0,300}', which "
                 "glibc's regcomp copies for the anchor; start with a part that cannot match "
                 "empty, or use fewer optional copies",
                 all.anchored, SF_ERE_MAX_ANCHORED);
        rc = -1;
    } else if (rc == 0 && over(&all)) {
        snprintf(why, why_len,
                 "its repetitions would expand past %.0f automaton nodes or %.0f closure entries "
                 "(estimated: %.3g and %.3g, or more); each '+' doubles what it repeats, and a "
                 "run of optional copies such as 'x{1,5000}' or '(x*){1000}' grows with its square",
                 SF_ERE_MAX_NODES, SF_ERE_MAX_CLOSURE, all.nodes, all.closure);
        rc = -1;
    }
    return rc;
}
