/* jsonproj.c - the hot-path projection decoder (contract in jsonproj.h).
 *
 * One forward pass over the line with an explicit stack (no tree, no
 * recursion); the projected paths form a trie over keys, and each trie node
 * where a field ends owns a value slot (struct pval) that records the last
 * value seen there. Numbers and escaped strings are converted only for
 * those slots, and reals only once, after the whole line has been checked.
 *
 * Agreement with the jansson reference decides the details. jansson stops at
 * the first error in its reading order, so every check here must fire at the
 * byte where jansson's lexer or parser would; a few of jansson's checks come
 * only after a whole token has been read, and this file keeps that order:
 *  - a syntax error is reported after the unexpected token is read, so an
 *    error inside that token (invalid UTF-8, an overflowing number, a bad
 *    string) wins: see lex_error();
 *  - the nesting limit is checked after the too-deep value's first token has
 *    been read, the same way; an array that ends the input where an element
 *    is expected is a syntax error, not a nesting error;
 *  - lone surrogate escapes are reported when the string is complete, so
 *    invalid UTF-8 later in the same string wins;
 *  - number overflow is reported after the byte that ends the number is
 *    read, so an invalid UTF-8 sequence starting there wins.
 * jansson also loses a NUL byte that directly follows a number or a literal
 * (its one-byte unget cannot restore a NUL), so "[1\0]" is valid for it; this
 * decoder skips such a byte too.
 *
 * Keys: each trie node with children remembers the keys of its object in
 * the order of the last line (struct keyslot), so on lines of one shape a
 * key, projected or not, is recognised by two word compares.
 *
 * Invariant: the string buffer and the key buffer each hold at least len + 1
 * bytes for the current line (decoded text is never longer than its source),
 * so neither moves while a line is decoded and string values may point into
 * them. In visitor mode escaped keys go to the string buffer too (the keys
 * and strings of a line together are never longer than the line), so every
 * key and string handed to the visitor stays valid for the whole line.
 */
#include "core/jsonproj.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/decimal.h"
#include "core/error.h"
#include "core/fmt.h"
#include "core/hash.h"
#include "core/jsonscan.h"
#include "core/rejmsg.h"
#include "core/utf8.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* jansson 2.14's JSON_PARSER_MAX_DEPTH: a value nested in this many
 * containers is rejected. */
#define MAX_DEPTH 2048

/* K_BIG: a number outside int64 (integer literal) or beyond the double range
 * (real literal), kept as its source text. */
enum { K_MISSING = 0, K_NULL, K_TRUE, K_FALSE, K_INT, K_REAL, K_BIG, K_STR, K_OBJ, K_ARR };

/* lex_number()'s *is_real */
#define NUM_INT 0
#define NUM_REAL 1
#define NUM_BIG 2

/* Stack entry of an open array; objects store their trie node or -1. */
#define ARR_MARK (-2)

/* scan_string() flags */
#define STR_ESC 1 /* had escapes: the text differs from the source bytes */
#define STR_NUL 2 /* decoded text holds a NUL byte */

/* lex_number() results besides 0 */
#define NUM_INVALID 1 /* not a number; jansson sets no error for this token */
#define NUM_ERROR 2   /* reading it sets an error (invalid UTF-8) */

#define INLINE static inline __attribute__((always_inline))
#define COLD static __attribute__((noinline, cold))

/* Keys of an object, in the order of the last line: a key in a line is
 * first compared with the slot of its position, as two masked words that
 * hold its bytes, its closing quote and the colon (a key of at most 14
 * bytes written without escapes). The slot was copied from an earlier line
 * where the scan validated those bytes, so equal bytes are valid as they
 * stand and name the same child; a slot that is stale (the shape changed)
 * is still right for the key it holds, it just matches less. */
#define TPL_KEYS 32
typedef struct keyslot {
    uint64_t pat[2], mask[2]; /* mask[0] == 0: empty */
    int32_t child;            /* trie child the key names, -1 for none */
    uint32_t len;             /* the key's bytes + 2 */
} keyslot;

typedef struct node {
    const char *key; /* a segment of a field's path, not NUL-terminated */
    size_t klen;
    int32_t child, next; /* first child, next sibling; -1 for none */
    int32_t parent;
    int32_t state;  /* value slot of the fields ending here, -1 if none */
    int32_t lo, hi; /* value slots of the nodes below this one: [lo, hi) */
    uint64_t lens;  /* bit min(klen, 63) set for each child's key length */
    int32_t hint;   /* child after the last one matched: keys tend to come in
                     * the same order line after line */
    keyslot *tpl;   /* nodes with children: the keys of the object last seen
                     * here, in order: TPL_KEYS slots and an empty one */
    uint32_t pos;   /* which key of the open object comes next, at most
                     * TPL_KEYS (the empty slot) */
} node;

/* Learned line shapes (decoding only; see "learned shapes" below). A shape
 * node is one piece of the bytes between a line's scalars (its keys,
 * punctuation and whitespace: the literal, at most 16 bytes, as two masked
 * words, and with SSE2 as one compare under m16) and what follows it: a scalar value, the rest of a longer literal,
 * or the end of the line. The nodes form a trie from the line's first byte,
 * so lines that share a prefix share its nodes. */
enum { SV_MORE, SV_STR, SV_NUM, SV_WORD, SV_END }; /* SV_MORE and SV_STR first */
#define SHAPE_NODES 1024 /* nodes a decoder learns at most */
#define SHAPE_OPS 256    /* kind changes at most, over all nodes */
#define SHAPE_WINDOW 1024
#define SHAPE_REST (1u << 18)
typedef struct shape {
    uint64_t pat[2], mask[2];
    int32_t child, next; /* first child, next sibling: byte offsets from
                          * shapes[0] (SHAPE_AT), -1 for none */
    int32_t st;          /* pval the value after the literal goes to, -1 for none */
    uint16_t op0, nops;  /* kinds the literal sets: sops[op0, op0 + nops) */
    uint8_t len;         /* literal bytes: 16 for SV_MORE, 0..15 for the others */
    uint8_t vkind;       /* SV_*: what follows the literal */
    uint16_t m16;        /* mask as bits, bit i for byte i (the SSE2 compare) */
    uint8_t pad[12];     /* a node is one 64-byte line (shapes are so aligned), and
                          * its index a shift from its address */
} shape;
_Static_assert(sizeof(shape) == 64, "a shape node fills one cache line");
/* The node at byte offset off from shapes (the walk adds, no index scaled). */
#define SHAPE_AT(shapes, off) ((shape *)(void *)((char *)(shapes) + (off)))
#define SHAPE_CAT(shapes, off) ((const shape *)(const void *)((const char *)(shapes) + (off)))

/* A kind the literal of a shape node sets: K_OBJ or K_ARR for a projected
 * field holding a container, K_MISSING for the fields below a repeated key. */
typedef struct shape_op {
    int32_t st;
    uint8_t kind;
} shape_op;

typedef struct pval {
    uint8_t kind;
    uint8_t frac;    /* K_REAL read exactly by lex_number(): see exact_real() */
    int64_t i;       /* K_INT; K_REAL with frac: the digits as an integer */
    size_t off, len; /* K_REAL, K_BIG: source span in the line; K_STR: len, its bytes */
    sf_value val;    /* K_STR: the string (in the line, or unescaped in sbuf);
                      * K_INT: the integer; what a field of their type gets */
} pval;

typedef struct pfield {
    const pval *v; /* &vals[state], fixed once the decoder is made */
    size_t roff;   /* the field's byte offset in the row: slot * sizeof(sf_value) */
    uint8_t want; /* the kind whose pval's val is this field's value as it is:
                   * K_STR for a string field, K_INT for an int64 one, else none */
    int32_t state;
    int slot;
    sf_type type;
    sf_dec_type dec;
    char *path;
} pfield;

struct sf_jsonproj {
    pfield *fields;
    size_t nfields;
    node *nodes;
    keyslot *tpls; /* every node's tpl, one block */
    size_t nnodes;
    pval *vals;
    size_t nvals;
    char *sbuf; /* unescaped projected strings of the current line */
    char *kbuf; /* unescaped key; scratch for strtod */
    size_t cap; /* bytes in each of sbuf and kbuf */
    size_t sused;
    /* the current line's error */
    int reason;
    const unsigned char *epos;
    const char *ewhat;
    int ebyte; /* offending byte to show, or -1 */
    /* visiting: the first number too big for the visitor's scalars */
    const unsigned char *bigpos;
    int bigreason;
    const unsigned char *lb; /* start of the current line */
    sf_simd_level level;     /* of the string scans, fixed at sf_jsonproj_new() */
    sf_jsonscan_fn wide;     /* the scan past a string's first 16 bytes, or NULL */
    /* learned line shapes: shapes[0] is the root, NULL until the first */
    shape *shapes;
    shape_op *sops;
    uint32_t nshapes, nsops;
    uint32_t sh_tries, sh_misses; /* in the current window of SHAPE_WINDOW tries */
    uint32_t sh_rest;             /* lines to decode before shapes are tried again */
    int32_t stack[MAX_DEPTH];
};

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline int is_digit(unsigned c) { return c - '0' < 10; }
static inline int is_alpha(unsigned c) { return (c | 0x20) - 'a' < 26; }

/* ---- building ---------------------------------------------------------- */

static int32_t add_node(sf_jsonproj *p, int32_t parent, const char *key, size_t klen)
{
    for (int32_t c = p->nodes[parent].child; c >= 0; c = p->nodes[c].next)
        if (p->nodes[c].klen == klen && memcmp(p->nodes[c].key, key, klen) == 0)
            return c;
    int32_t n = (int32_t)p->nnodes++;
    node *nd = &p->nodes[n];
    p->nodes[parent].lens |= 1ull << (klen < 63 ? klen : 63);
    nd->key = key;
    nd->klen = klen;
    nd->child = -1;
    nd->parent = parent;
    nd->state = -1;
    /* Appending keeps the children in first-seen field order. */
    nd->next = -1;
    int32_t *link = &p->nodes[parent].child;
    while (*link >= 0)
        link = &p->nodes[*link].next;
    *link = n;
    return n;
}

/* Assigns value slots in depth-first preorder, so that every subtree's slots
 * are one range [lo, hi) which a repeated key resets at once. */
static int number_states(sf_jsonproj *p, const uint8_t *ends_field)
{
    int32_t *todo = malloc(p->nnodes * sizeof *todo);
    if (!todo)
        return SF_E_NOMEM;
    size_t ntodo = 0;
    int32_t count = 0;
    todo[ntodo++] = 0;
    while (ntodo) {
        int32_t n = todo[--ntodo];
        p->nodes[n].lo = count;
        if (ends_field[n])
            p->nodes[n].state = count++;
        /* Push children in reverse so they are visited in order. */
        size_t first = ntodo;
        for (int32_t c = p->nodes[n].child; c >= 0; c = p->nodes[c].next)
            todo[ntodo++] = c;
        for (size_t a = first, b = ntodo; b > a + 1; a++, b--) {
            int32_t t = todo[a];
            todo[a] = todo[b - 1];
            todo[b - 1] = t;
        }
    }
    free(todo);
    p->nvals = (size_t)count;
    /* A subtree's slot count, bottom-up: children have larger indices. */
    int32_t *sub = calloc(p->nnodes, sizeof *sub);
    if (!sub)
        return SF_E_NOMEM;
    for (size_t i = p->nnodes; i-- > 0;) {
        sub[i] += ends_field[i];
        if (i > 0)
            sub[p->nodes[i].parent] += sub[i];
    }
    for (size_t i = 0; i < p->nnodes; i++) {
        p->nodes[i].hint = p->nodes[i].child >= 0 ? p->nodes[i].child : 0;
        p->nodes[i].hi = p->nodes[i].lo + sub[i];
        p->nodes[i].lo += ends_field[i]; /* preorder: its own slot comes first */
    }
    free(sub);
    return 0;
}

sf_jsonproj *sf_jsonproj_new(const sf_decode_field *fields, size_t nfields)
{
    sf_jsonproj *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->level = sf_jsonscan_level();
    p->wide = sf_jsonscan_plain_fn(p->level);
    size_t maxnodes = 1;
    for (size_t i = 0; i < nfields; i++) {
        maxnodes++;
        for (const char *q = fields[i].path; *q; q++)
            maxnodes += *q == '.';
    }
    p->fields = calloc(nfields ? nfields : 1, sizeof *p->fields);
    p->nodes = calloc(maxnodes, sizeof *p->nodes);
    uint8_t *ends_field = calloc(maxnodes, 1);
    int32_t *field_node = calloc(nfields ? nfields : 1, sizeof *field_node);
    if (!p->fields || !p->nodes || !ends_field || !field_node)
        goto oom;
    p->nodes[0].child = p->nodes[0].next = p->nodes[0].parent = -1;
    p->nodes[0].state = -1;
    p->nnodes = 1;
    for (size_t i = 0; i < nfields; i++) {
        pfield *f = &p->fields[i];
        p->nfields = i + 1;
        f->path = strdup(fields[i].path);
        if (!f->path)
            goto oom;
        f->type = fields[i].type;
        f->want = f->type == SF_STRING ? K_STR : f->type == SF_INT ? K_INT : 0xFF;
        f->dec = fields[i].dec;
        f->slot = fields[i].slot;
        int32_t n = 0;
        const char *seg = f->path;
        for (;;) {
            const char *dot = strchr(seg, '.');
            size_t klen = dot ? (size_t)(dot - seg) : strlen(seg);
            n = add_node(p, n, seg, klen);
            if (!dot)
                break;
            seg = dot + 1;
        }
        ends_field[n] = 1;
        field_node[i] = n;
    }
    if (number_states(p, ends_field) != 0)
        goto oom;
    for (size_t i = 0; i < nfields; i++)
        p->fields[i].state = p->nodes[field_node[i]].state;
    p->vals = calloc(p->nvals ? p->nvals : 1, sizeof *p->vals);
    if (!p->vals)
        goto oom;
    for (size_t i = 0; i < nfields; i++) {
        p->fields[i].v = &p->vals[p->fields[i].state];
        p->fields[i].roff = (size_t)p->fields[i].slot * sizeof(sf_value);
    }
    size_t nobj = 0;
    for (size_t i = 0; i < p->nnodes; i++)
        nobj += p->nodes[i].child >= 0;
    p->tpls = calloc(nobj ? nobj * (TPL_KEYS + 1) : 1, sizeof *p->tpls);
    if (!p->tpls)
        goto oom;
    for (size_t i = 0, k = 0; i < p->nnodes; i++)
        if (p->nodes[i].child >= 0)
            p->nodes[i].tpl = p->tpls + (TPL_KEYS + 1) * k++;
    free(ends_field);
    free(field_node);
    return p;
oom:
    free(ends_field);
    free(field_node);
    sf_jsonproj_free(p);
    return NULL;
}

void sf_jsonproj_free(sf_jsonproj *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nfields; i++)
        free(p->fields[i].path);
    free(p->fields);
    free(p->nodes);
    free(p->tpls);
    free(p->shapes);
    free(p->sops);
    free(p->vals);
    free(p->sbuf);
    free(p->kbuf);
    free(p);
}

static int grow(sf_jsonproj *p, size_t need)
{
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < need)
        cap *= 2;
    char *s = malloc(cap), *k = malloc(cap);
    if (!s || !k) {
        free(s);
        free(k);
        return SF_E_NOMEM;
    }
    free(p->sbuf);
    free(p->kbuf);
    p->sbuf = s;
    p->kbuf = k;
    p->cap = cap;
    return 0;
}

/* ---- lexing ------------------------------------------------------------ */

/* Records the line's error; returns NUM_ERROR for the callers' convenience. */
COLD int set_error(sf_jsonproj *p, int reason, const unsigned char *at, const char *what)
{
    p->reason = reason;
    p->epos = at;
    p->ewhat = what;
    p->ebyte = -1;
    return NUM_ERROR;
}

static inline const unsigned char *skip_ws(const unsigned char *s, const unsigned char *e)
{
    const uint64_t ws = (1ull << ' ') | (1ull << '\t') | (1ull << '\n') | (1ull << '\r');
    while (s < e && *s <= ' ' && ((ws >> *s) & 1))
        s++;
    return s;
}

/* The UTF-8 rules are jansson's utf8_check_first/utf8_check_full: no
 * overlong forms, no surrogates, nothing above U+10FFFF (sf_utf8_seq). */
static inline size_t utf8_seq(const unsigned char *s, const unsigned char *e)
{
    return sf_utf8_seq(s, (size_t)(e - s));
}

/* jansson validates every byte it reads as UTF-8, wherever it is. For a byte
 * that does not fit the grammar at s: sets the invalid-UTF-8 error and
 * returns 1 when it starts a bad sequence, else returns 0. */
COLD int bad_utf8_at(sf_jsonproj *p, const unsigned char *s, const unsigned char *e)
{
    if (s < e && *s >= 0x80 && !utf8_seq(s, e)) {
        set_error(p, SF_REJ_INVALID_UTF8, s, "unable to decode byte");
        p->ebyte = *s;
        return 1;
    }
    return 0;
}

/* skip_plain() eight bytes at a time: each term sets a byte's top bit for
 * one class; borrows only run towards more significant bytes, so on
 * little-endian machines the lowest set bit is exact. The scalar level. */
static inline const unsigned char *skip_plain_swar(const unsigned char *s, const unsigned char *e)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    while (e - s >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        uint64_t q = w ^ (ones * '"'), k = w ^ (ones * '\\');
        uint64_t m = ((q - ones) & ~q) | ((k - ones) & ~k) | ((w - ones * 0x20) & ~w) | w;
        m &= high;
        if (m)
            return s + (__builtin_ctzll(m) >> 3);
        s += 8;
    }
#endif
    return sf_jsonscan_bytes(s, e);
}

/* First byte at or after s that needs a look inside a string: '"', '\\', a
 * control byte or a non-ASCII byte; e if none. b is the start of the line:
 * near its end, one load of its last 16 bytes replaces a byte loop. Most
 * strings end within 16 bytes, so the first block is inline SSE2 at every
 * vector level; a longer one goes on at the decoder's level (p->wide).
 * vec: p->level >= SF_SIMD_SSE2, a constant where the caller is hot. */
INLINE const unsigned char *skip_plain(const sf_jsonproj *p, const unsigned char *s,
                                       const unsigned char *e, const unsigned char *b,
                                       const int vec)
{
#if defined(__SSE2__)
    if (vec) {
        /* Signed "less than 0x20" is also true for bytes >= 0x80. */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(' ');
#define STOPS16(w)                                                                                \
    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)),                \
                 _mm_cmplt_epi8(w, space))
        if (e - s >= 16) {
            __m128i w = _mm_loadu_si128((const __m128i *)(const void *)s);
            unsigned bits = (unsigned)_mm_movemask_epi8(STOPS16(w));
            if (bits)
                return s + __builtin_ctz(bits);
            s += 16;
            if (p->wide && e - s >= 48) {
                /* A second block inline: the window of a line found by the
                 * decoder (sf_jsonproj_decode_window) runs far past it, and
                 * most strings that pass 16 bytes end within 32. */
                w = _mm_loadu_si128((const __m128i *)(const void *)s);
                bits = (unsigned)_mm_movemask_epi8(STOPS16(w));
                if (bits)
                    return s + __builtin_ctz(bits);
                return p->wide(s + 16, e);
            }
            while (e - s >= 16) {
                w = _mm_loadu_si128((const __m128i *)(const void *)s);
                bits = (unsigned)_mm_movemask_epi8(STOPS16(w));
                if (bits)
                    return s + __builtin_ctz(bits);
                s += 16;
            }
        }
        if (s < e && e - b >= 16) {
            __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(e - 16));
            unsigned bits = (unsigned)_mm_movemask_epi8(STOPS16(w)) >> (16 - (e - s));
            return bits ? s + __builtin_ctz(bits) : e;
        }
#undef STOPS16
        return sf_jsonscan_bytes(s, e);
    }
#endif
    (void)b;
    return skip_plain_swar(s, e);
}

static inline size_t put_utf8(char *out, uint32_t v)
{
    if (v < 0x80) {
        out[0] = (char)v;
        return 1;
    }
    if (v < 0x800) {
        out[0] = (char)(0xC0 | (v >> 6));
        out[1] = (char)(0x80 | (v & 0x3F));
        return 2;
    }
    if (v < 0x10000) {
        out[0] = (char)(0xE0 | (v >> 12));
        out[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        out[2] = (char)(0x80 | (v & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (v >> 18));
    out[1] = (char)(0x80 | ((v >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((v >> 6) & 0x3F));
    out[3] = (char)(0x80 | (v & 0x3F));
    return 4;
}

/* Four hex digits of a \u escape at *sp. */
static int hex4(sf_jsonproj *p, const unsigned char **sp, const unsigned char *e, uint32_t *v)
{
    const unsigned char *s = *sp;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++, s++) {
        if (s == e)
            return set_error(p, SF_REJ_INVALID_JSON, s, "premature end of input in a \\u escape");
        unsigned c = *s, d;
        if (is_digit(c))
            d = c - '0';
        else if ((c | 0x20) - 'a' < 6)
            d = (c | 0x20) - 'a' + 10;
        else if (bad_utf8_at(p, s, e))
            return NUM_ERROR;
        else
            return set_error(p, SF_REJ_INVALID_JSON, s, "invalid \\u escape");
        x = x << 4 | d;
    }
    *sp = s;
    *v = x;
    return 0;
}

/* The rest of a string that has an escape at s (start is just after the
 * opening quote); appends the decoded text to out when out is not NULL. */
COLD int scan_escaped(sf_jsonproj *p, const unsigned char *start, const unsigned char *s,
                        const unsigned char **sp, const unsigned char *e, char *out, size_t *outn,
                        int *flags)
{
    size_t n = 0;
    const unsigned char *surrogate = NULL; /* first lone surrogate escape */
    *flags |= STR_ESC;
    if (out) {
        n = (size_t)(s - start);
        memcpy(out, start, n);
    }
    for (;;) {
        const unsigned char *q = skip_plain(p, s, e, p->lb, p->level >= SF_SIMD_SSE2);
        if (out) {
            memcpy(out + n, s, (size_t)(q - s));
            n += (size_t)(q - s);
        }
        s = q;
        if (s == e)
            return set_error(p, SF_REJ_INVALID_JSON, s, "premature end of input in a string");
        unsigned c = *s;
        if (c == '"') {
            if (surrogate)
                return set_error(p, SF_REJ_INVALID_JSON, surrogate,
                                 "invalid Unicode: lone surrogate escape");
            *sp = s + 1;
            *outn = n;
            return 0;
        }
        if (c >= 0x80) {
            size_t m = utf8_seq(s, e);
            if (!m) {
                bad_utf8_at(p, s, e);
                return NUM_ERROR;
            }
            if (out) {
                memcpy(out + n, s, m);
                n += m;
            }
            s += m;
            continue;
        }
        if (c < 0x20) {
            set_error(p, SF_REJ_INVALID_JSON, s, "control character in a string");
            p->ebyte = (int)c;
            return NUM_ERROR;
        }
        s++; /* the backslash */
        if (s == e)
            return set_error(p, SF_REJ_INVALID_JSON, s, "premature end of input in an escape");
        char one;
        switch (*s) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': {
            const unsigned char *esc = s - 1;
            uint32_t v, v2;
            s++;
            if (hex4(p, &s, e, &v))
                return NUM_ERROR;
            if (v >= 0xD800 && v <= 0xDBFF) {
                if (e - s >= 2 && s[0] == '\\' && s[1] == 'u') {
                    s += 2;
                    if (hex4(p, &s, e, &v2))
                        return NUM_ERROR;
                    if (v2 >= 0xDC00 && v2 <= 0xDFFF) {
                        v = 0x10000 + ((v - 0xD800) << 10) + (v2 - 0xDC00);
                    } else {
                        if (!surrogate)
                            surrogate = esc;
                        continue;
                    }
                } else {
                    if (!surrogate)
                        surrogate = esc;
                    continue;
                }
            } else if (v >= 0xDC00 && v <= 0xDFFF) {
                if (!surrogate)
                    surrogate = esc;
                continue;
            }
            if (v == 0)
                *flags |= STR_NUL;
            if (out)
                n += put_utf8(out + n, v);
            continue;
        }
        default:
            if (bad_utf8_at(p, s, e))
                return NUM_ERROR;
            return set_error(p, SF_REJ_INVALID_JSON, s, "invalid escape");
        }
        if (out)
            out[n++] = one;
        s++;
    }
}

/* The rest of a string from s, the first byte after start (just after the
 * opening quote) that is not plain ASCII text. */
static int scan_string_slow(sf_jsonproj *p, const unsigned char *start, const unsigned char *s,
                            const unsigned char **sp, const unsigned char *e, char *out,
                            size_t *outn, int *flags)
{
    for (;;) {
        if (s == e)
            return set_error(p, SF_REJ_INVALID_JSON, s, "premature end of input in a string");
        unsigned c = *s;
        if (c == '"') {
            *sp = s + 1;
            return 0;
        }
        if (c >= 0x80) {
            size_t m = utf8_seq(s, e);
            if (!m) {
                bad_utf8_at(p, s, e);
                return NUM_ERROR;
            }
            s = skip_plain(p, s + m, e, p->lb, p->level >= SF_SIMD_SSE2);
            continue;
        }
        if (c == '\\')
            return scan_escaped(p, start, s, sp, e, out, outn, flags);
        set_error(p, SF_REJ_INVALID_JSON, s, "control character in a string");
        p->ebyte = (int)c;
        return NUM_ERROR;
    }
}

/* A string from *sp (just after the opening quote) to its closing quote,
 * validated. On success *sp is past the closing quote; without STR_ESC in
 * *flags the text is the source bytes, with it the decoded text is in out
 * (when not NULL), *outn bytes. */
INLINE int scan_string(sf_jsonproj *p, const unsigned char **sp, const unsigned char *e,
                       const unsigned char *b, char *out, size_t *outn, int *flags, const int vec)
{
    const unsigned char *s = skip_plain(p, *sp, e, b, vec);
    if (s < e && *s == '"') {
        *sp = s + 1;
        return 0;
    }
    return scan_string_slow(p, *sp, s, sp, e, out, outn, flags);
}

/* The number breaks off at s: jansson read that byte, then gave up. */
COLD int num_bad(sf_jsonproj *p, const unsigned char *s, const unsigned char *e)
{
    if (bad_utf8_at(p, s, e))
        return NUM_ERROR;
    set_error(p, SF_REJ_INVALID_JSON, s, "invalid number");
    return NUM_INVALID;
}

/* strtod on the n bytes at s, copied and terminated in buf (n + 1 bytes). */
static double strtod_span(const unsigned char *s, size_t n, char *buf, int *overflow)
{
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    *overflow = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
    return d;
}

/* A JSON number at *sp (a '-' or a digit), by RFC 8259's grammar, read the
 * way jansson reads it. 0: *sp is past it, *is_real says NUM_INT (with
 * *ival), NUM_REAL or NUM_BIG (an integer outside int64 or a real beyond the
 * double range: valid JSON, converted only if a field reads it);
 * NUM_INVALID or NUM_ERROR with the error recorded. Reals are not converted,
 * but their magnitude is bounded from the digits so that only numbers within
 * a factor of ten of DBL_MAX need strtod to decide. */
static int lex_number_full(sf_jsonproj *p, const unsigned char **sp, const unsigned char *e,
                           int64_t *ival, int *is_real)
{
    const unsigned char *start = *sp, *s = start;
    int neg = *s == '-';
    s += neg;
    if (s == e)
        return num_bad(p, s, e);
    const unsigned char *ip = s;
    uint64_t u = 0;
    if (*s == '0') {
        s++;
        if (s < e && is_digit(*s))
            return num_bad(p, s, e);
    } else if (is_digit(*s)) {
        do {
            u = u * 10 + (*s - '0');
            s++;
        } while (s < e && is_digit(*s));
    } else {
        return num_bad(p, s, e);
    }
    size_t nint = (size_t)(s - ip);
    if (s == e || (*s != '.' && (*s | 0x20) != 'e')) {
        if (nint >= 19) {
            /* No leading zeros, so 20 digits are always too many. */
            const uint64_t lim = (uint64_t)INT64_MAX + (uint64_t)neg;
            if (nint > 19 || u > lim) {
                *is_real = NUM_BIG;
                *sp = s;
                return 0;
            }
        }
        *ival = neg ? (int64_t)(~u + 1) : (int64_t)u;
        *is_real = NUM_INT;
        *sp = s;
        return 0;
    }
    const unsigned char *fp = s;
    size_t nfrac = 0;
    if (*s == '.') {
        s++;
        if (s == e || !is_digit(*s))
            return num_bad(p, s, e);
        fp = s;
        do
            s++;
        while (s < e && is_digit(*s));
        nfrac = (size_t)(s - fp);
    }
    int64_t ex = 0;
    if (s < e && (*s | 0x20) == 'e') {
        s++;
        int eneg = 0;
        if (s < e && (*s == '+' || *s == '-')) {
            eneg = *s == '-';
            s++;
        }
        if (s == e || !is_digit(*s))
            return num_bad(p, s, e);
        do {
            if (ex < 100000000) /* saturate: far beyond any double */
                ex = ex * 10 + (*s - '0');
            s++;
        } while (s < e && is_digit(*s));
        if (eneg)
            ex = -ex;
    }
    /* The value lies in [10^(k-1), 10^k); DBL_MAX is about 1.8e308. */
    int64_t k;
    if (*ip != '0') {
        k = (int64_t)nint + ex;
    } else {
        size_t lz = 0;
        while (lz < nfrac && fp[lz] == '0')
            lz++;
        k = lz == nfrac ? INT64_MIN : ex - (int64_t)lz;
    }
    if (k >= 309) {
        int overflow = 1;
        if (k == 309)
            strtod_span(start, (size_t)(s - start), p->kbuf, &overflow);
        if (overflow) {
            *is_real = NUM_BIG;
            *sp = s;
            return 0;
        }
    }
    *is_real = NUM_REAL;
    *sp = s;
    return 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR_DIGITS 1
/* How many of the 8 bytes in w (first byte lowest) are ASCII digits before
 * the first non-digit. A byte is a digit when its high nibble is 3 both
 * before and after adding 6; a carry out of a byte only happens for a
 * non-digit and only disturbs bytes after it. */
INLINE unsigned leading_digits(uint64_t w)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ull;
    uint64_t t = ((w & hi) | (((w + 0x0606060606060606ull) & hi) >> 4)) ^ 0x3333333333333333ull;
    return t ? (unsigned)__builtin_ctzll(t) >> 3 : 8;
}

/* The value of 8 digit values (0..9), the first in the lowest byte: pairs,
 * then quads, then the whole, each step one multiply. */
INLINE uint64_t eight_digits(uint64_t d)
{
    d = d * 10 + (d >> 8);
    d = ((d & 0x000000FF000000FFull) * (100 + (1000000ull << 32)) +
         ((d >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32))) >> 32;
    return d;
}
#endif

/* lex_number_full() with the common cases inline: an integer of at most 18
 * digits, which cannot overflow, and a real written as at most 15 digits
 * with a point and no exponent. For that real *frac is set to the number of
 * digits after the point (1..7), with FRAC_NEG for a minus sign, and *ival
 * to all its digits as one integer: exact_real() gives its double without
 * reading the text again. *frac is left alone otherwise. */
#define FRAC_NEG 0x80
INLINE int lex_number(sf_jsonproj *p, const unsigned char **sp, const unsigned char *e,
                      int64_t *ival, int *is_real, unsigned *frac)
{
    const unsigned char *ds = *sp + (**sp == '-'), *q = ds;
    uint64_t u = 0;
#ifdef SWAR_DIGITS
    if (e - ds >= 8) {
        uint64_t w;
        memcpy(&w, ds, 8);
        unsigned n = leading_digits(w);
        if (n == 0)
            return lex_number_full(p, sp, e, ival, is_real);
        /* Digits below the top n bytes become leading zeros. */
        u = eight_digits((w - 0x3030303030303030ull) << (8 * (8 - n)));
        q = ds + n;
        if (n < 8)
            goto digits_done;
        /* Unix seconds have 10 digits: the last two in one test, for what
         * the byte loop below would read (two digits, then a non-digit). */
        if (e - q >= 3 && is_digit(q[0]) && is_digit(q[1]) && !is_digit(q[2])) {
            u = u * 100 + (uint64_t)(q[0] - '0') * 10 + (uint64_t)(q[1] - '0');
            q += 2;
            goto digits_done;
        }
    }
#endif
    while (q < e && is_digit(*q)) {
        u = u * 10 + (*q - '0');
        q++;
    }
#ifdef SWAR_DIGITS
digits_done:;
#endif
    size_t nd = (size_t)(q - ds);
    if (nd - 1 < 18 && (*ds != '0' || nd == 1) && (q == e || (*q != '.' && (*q | 0x20) != 'e'))) {
        *ival = ds != *sp ? -(int64_t)u : (int64_t)u;
        *is_real = NUM_INT;
        *sp = q;
        return 0;
    }
#if FLT_EVAL_METHOD == 0
    if (nd - 1 < 14 && (*ds != '0' || nd == 1) && q < e && *q == '.') {
        /* Fractions are short (prices have two digits): a byte loop. */
        const unsigned char *f = q + 1, *fe = e - f > 7 ? f + 7 : e;
        uint64_t m = u;
        while (f < fe && is_digit(*f)) {
            m = m * 10 + (*f - '0');
            f++;
        }
        unsigned nf = (unsigned)(f - q - 1);
        if (nf > 0 && nd + nf <= 15 && (f == e || (!is_digit(*f) && (*f | 0x20) != 'e'))) {
            *ival = (int64_t)m;
            *frac = nf | (ds != *sp ? FRAC_NEG : 0);
            *is_real = NUM_REAL;
            *sp = f;
            return 0;
        }
    }
#endif
    return lex_number_full(p, sp, e, ival, is_real);
}

/* The double of a real that lex_number() read as digits m and frac: the
 * same as real_value()'s, whose first case this is (m has at most 15
 * digits, so it and 10^frac are exact doubles and one division rounds
 * correctly; a zero keeps its sign). */
static inline double exact_real(int64_t m, unsigned frac)
{
    double d = (double)m / pow10_exact[frac & ~FRAC_NEG];
    return frac & FRAC_NEG ? -d : d;
}

/* The double strtod (and so jansson) gives for a validated JSON real.
 * Clinger's fast path when it is exact: at most 15 significant digits form
 * an integer below 2^53, and 10^|e| for |e| <= 22 is a double, so one
 * correctly rounded multiply or divide gives the correctly rounded result. */
static double real_value(sf_jsonproj *p, const unsigned char *s, size_t n)
{
    const unsigned char *q = s, *e = s + n;
    int neg = *q == '-';
    q += neg;
    uint64_t m = 0;
    int sig = 0;
    int64_t ex = 0;
    for (; q < e && is_digit(*q); q++) {
        if (m == 0 && *q == '0')
            continue;
        if (++sig <= 19)
            m = m * 10 + (*q - '0');
    }
    if (q < e && *q == '.') {
        for (q++; q < e && is_digit(*q); q++) {
            ex--;
            if (m == 0 && *q == '0')
                continue;
            if (++sig <= 19)
                m = m * 10 + (*q - '0');
        }
    }
    if (q < e && (*q | 0x20) == 'e') {
        q++;
        int eneg = 0;
        if (*q == '+' || *q == '-')
            eneg = *q++ == '-';
        int64_t x = 0;
        for (; q < e; q++)
            if (x < 100000000)
                x = x * 10 + (*q - '0');
        ex += eneg ? -x : x;
    }
#if FLT_EVAL_METHOD == 0
    if (m == 0)
        return neg ? -0.0 : 0.0;
    if (sig <= 15 && ex >= -22 && ex <= 22) {
        double d = (double)m;
        d = ex < 0 ? d / pow10_exact[-ex] : d * pow10_exact[ex];
        return neg ? -d : d;
    }
#endif
    int overflow;
    char small[64];
    return strtod_span(s, n, n < sizeof small ? small : p->kbuf, &overflow);
}

/* What jansson's lexer does with the token at s when the parser did not
 * expect it (or it is nested too deep): 1 when reading it already sets an
 * error (recorded), 0 when it would read without one. */
static int lex_error(sf_jsonproj *p, const unsigned char *s, const unsigned char *e)
{
    if (s == e)
        return 0;
    unsigned c = *s;
    if (c == '"') {
        const unsigned char *q = s + 1;
        int flags = 0;
        size_t n;
        return scan_string(p, &q, e, p->lb, NULL, &n, &flags, p->level >= SF_SIMD_SSE2) != 0;
    }
    if (c == '-' || is_digit(c)) {
        const unsigned char *q = s;
        int64_t iv;
        int real;
        unsigned frac;
        int rc = lex_number(p, &q, e, &iv, &real, &frac);
        /* A whole number was read with the byte after it. */
        return rc == NUM_ERROR || (rc == 0 && bad_utf8_at(p, q, e));
    }
    if (is_alpha(c)) {
        /* jansson reads a whole run of letters as one identifier. */
        while (s < e && is_alpha(*s))
            s++;
        return bad_utf8_at(p, s, e);
    }
    return bad_utf8_at(p, s, e);
}

/* ---- converting -------------------------------------------------------- */

static const char *str_ptr(const pval *v)
{
    return v->val.u.s.p;
}

/* The reference's description of a value in a type-mismatch message. */
static void describe(sf_jsonproj *p, const char *line, const pval *v, char *out, size_t cap)
{
    switch (v->kind) {
    case K_STR: {
        size_t n = v->len, k = sf_utf8_cut(str_ptr(v), n, 40);
        snprintf(out, cap, "string \"%.*s%s\"", (int)k, str_ptr(v), k < n ? "..." : "");
        break;
    }
    case K_INT: snprintf(out, cap, "int64 %lld", (long long)v->i); break;
    case K_REAL: {
        char b[SF_FMT_BUF];
        sf_fmt_double(real_value(p, (const unsigned char *)line + v->off, v->len), b);
        snprintf(out, cap, "double %s", b);
        break;
    }
    case K_TRUE: snprintf(out, cap, "bool true"); break;
    case K_FALSE: snprintf(out, cap, "bool false"); break;
    case K_OBJ: snprintf(out, cap, "an object"); break;
    case K_ARR: snprintf(out, cap, "an array"); break;
    default: snprintf(out, cap, "null"); break;
    }
}

static int mismatch(sf_jsonproj *p, const char *line, const pfield *f, const pval *v, char *msg,
                    size_t cap)
{
    char what[96], tb[24];
    describe(p, line, v, what, sizeof what);
    snprintf(msg, cap, "%s: expected %s%s, got %s", f->path, sf_type_format(f->type, f->dec, tb),
             f->type == SF_DATE ? " (YYYY-MM-DD)"
             : f->type == SF_TIMESTAMP ? " (ISO-8601 text or unix seconds)" : "", what);
    sf_utf8_clean(msg);
    return 1 + SF_REJ_TYPE_MISMATCH;
}

int sf_jsonproj_big_number(const char *path, sf_type type, const char *text, size_t n,
                           char *scratch, sf_value *out, char *msg, size_t cap)
{
    size_t k = sf_utf8_cut(text, n, 40);
    if (type == SF_DOUBLE) {
        int overflow;
        double d = strtod_span((const unsigned char *)text, n, scratch, &overflow);
        if (!overflow) {
            *out = sf_double(d);
            return 0;
        }
        snprintf(msg, cap, "%s: number %.*s%s is beyond the double range", path, (int)k, text,
                 k < n ? "..." : "");
        sf_utf8_clean(msg);
        return 1 + SF_REJ_DOUBLE_OVERFLOW;
    }
    if (type == SF_NULL) {
        *out = sf_null();
        return 0;
    }
    snprintf(msg, cap, "%s: expected %s%s, got number %.*s%s (%s)", path, sf_type_name(type),
             type == SF_DATE ? " (YYYY-MM-DD)" : "", (int)k, text, k < n ? "..." : "",
             memchr(text, '.', n) || memchr(text, 'e', n) || memchr(text, 'E', n)
                 ? "beyond the double range"
                 : "outside int64");
    sf_utf8_clean(msg);
    return 1 + SF_REJ_TYPE_MISMATCH;
}

/* A number into a decimal(P,S) field, exactly from its text. */
static int convert_decimal(sf_jsonproj *p, const char *line, const pfield *f, const pval *v,
                           sf_value *out, char *msg, size_t cap)
{
    if (v->kind != K_INT && v->kind != K_REAL && v->kind != K_BIG)
        return mismatch(p, line, f, v, msg, cap);
    const char *text = line + v->off;
    sf_i128 x;
    if (sf_dec_parse(text, v->len, f->dec.prec, f->dec.scale, &x) == 0) {
        *out = sf_decimal(x, f->dec.scale);
        return 0;
    }
    char tb[24];
    size_t k = sf_utf8_cut(text, v->len, 40);
    snprintf(msg, cap, "%s: expected %s, got number %.*s%s (more than %d digits)", f->path,
             sf_type_format(f->type, f->dec, tb), (int)k, text, k < v->len ? "..." : "",
             f->dec.prec);
    sf_utf8_clean(msg);
    return 1 + SF_REJ_TYPE_MISMATCH;
}

static int convert(sf_jsonproj *p, const char *line, const pfield *f, sf_value *out, char *msg,
                   size_t cap)
{
    const pval *v = &p->vals[f->state];
    if (v->kind == K_MISSING || v->kind == K_NULL) {
        *out = sf_null();
        return 0;
    }
    if (f->type == SF_DECIMAL)
        return convert_decimal(p, line, f, v, out, msg, cap);
    if (v->kind == K_BIG)
        return sf_jsonproj_big_number(f->path, f->type, line + v->off, v->len, p->kbuf, out, msg,
                                      cap);
    switch (f->type) {
    case SF_INT:
        if (v->kind != K_INT)
            return mismatch(p, line, f, v, msg, cap);
        *out = sf_int(v->i);
        return 0;
    case SF_DOUBLE:
        if (v->kind == K_INT)
            *out = sf_double((double)v->i);
        else if (v->kind == K_REAL)
            *out = sf_double(v->frac ? exact_real(v->i, v->frac)
                                     : real_value(p, (const unsigned char *)line + v->off, v->len));
        else
            return mismatch(p, line, f, v, msg, cap);
        return 0;
    case SF_STRING:
        if (v->kind != K_STR)
            return mismatch(p, line, f, v, msg, cap);
        *out = sf_string(str_ptr(v), v->len);
        return 0;
    case SF_BOOL:
        if (v->kind != K_TRUE && v->kind != K_FALSE)
            return mismatch(p, line, f, v, msg, cap);
        *out = sf_bool(v->kind == K_TRUE);
        return 0;
    case SF_DATE: {
        int32_t days;
        if (v->kind != K_STR || sf_parse_iso_date(str_ptr(v), v->len, &days) != 0)
            return mismatch(p, line, f, v, msg, cap);
        *out = sf_date(days);
        return 0;
    }
    case SF_TIMESTAMP: {
        int64_t us;
        if (v->kind == K_STR ? sf_parse_iso_timestamp(str_ptr(v), v->len, &us) != 0
            : v->kind != K_INT || sf_timestamp_from_unix(v->i, SF_US_PER_SEC, &us) != 0)
            return mismatch(p, line, f, v, msg, cap);
        *out = sf_timestamp(us);
        return 0;
    }
    case SF_NULL:
    case SF_DECIMAL: break;
    }
    *out = sf_null();
    return 0;
}

/* ---- the decoder ------------------------------------------------------- */

static inline void record(sf_jsonproj *p, int32_t cur, int kind)
{
    if (cur >= 0 && p->nodes[cur].state >= 0)
        p->vals[p->nodes[cur].state].kind = (uint8_t)kind;
}

/* The string value of pval st: from just after its opening quote (start)
 * to just past its closing quote (s); scan_string()'s flags and length. */
INLINE void store_string(sf_jsonproj *p, int32_t st, const unsigned char *start,
                         const unsigned char *s, int flags, size_t n)
{
    pval *v = &p->vals[st];
    v->kind = K_STR;
    if (flags & STR_ESC) {
        v->len = n;
        v->val = sf_string(p->sbuf + p->sused, n);
        p->sused += n;
    } else {
        v->len = (size_t)(s - 1 - start);
        v->val = sf_string((const char *)start, v->len);
    }
}

/* A number at *sp read by lex_number() (its results in *iv, *real and
 * *frac) and recorded in pval st when st >= 0. 0, or lex_number()'s error
 * with the error recorded. */
INLINE int read_number(sf_jsonproj *p, int32_t st, const unsigned char *b,
                       const unsigned char **sp, const unsigned char *e, int64_t *iv, int *real,
                       unsigned *frac)
{
    const unsigned char *start = *sp;
    *iv = 0;
    *frac = 0;
    int rc = lex_number(p, sp, e, iv, real, frac);
    if (rc == 0 && st >= 0) {
        pval *v = &p->vals[st];
        v->kind = *real == NUM_INT ? K_INT : *real == NUM_REAL ? K_REAL : K_BIG;
        v->frac = (uint8_t)*frac;
        v->i = *iv;
        v->val = sf_int(*iv);
        v->off = (size_t)(start - b);
        v->len = (size_t)(*sp - start);
    }
    return rc;
}

/* The child of trie node obj named by the key k, or -1. */
INLINE int32_t find_child(sf_jsonproj *p, int32_t obj, const char *k, size_t klen)
{
    node *o = &p->nodes[obj];
    if (!((o->lens >> (klen < 63 ? klen : 63)) & 1))
        return -1;
    int32_t c = o->hint;
    const node *nd = &p->nodes[c];
    if (!(nd->klen == klen && sf_key_eq(nd->key, k, klen))) {
        for (c = o->child; c >= 0; c = nd->next) {
            nd = &p->nodes[c];
            if (nd->klen == klen && sf_key_eq(nd->key, k, klen))
                break;
        }
        if (c < 0)
            return -1;
    }
    o->hint = nd->next >= 0 ? nd->next : o->child;
    return c;
}

/* Records the key [ks, ke) (its bytes, closing quote and colon; scanned
 * and valid) in o's slot for the current position, and moves on. Only a key
 * written without escapes and short enough for two words is kept. */
static inline void learn_key(node *o, const unsigned char *ks, const unsigned char *ke,
                             const unsigned char *e, int flags, int32_t child)
{
    /* 16 bytes of 0xFF then 16 of 0: from offset 16 - n, a mask of n bytes. */
    static const unsigned char ff[32] = {255, 255, 255, 255, 255, 255, 255, 255,
                                         255, 255, 255, 255, 255, 255, 255, 255};
    size_t n = (size_t)(ke - ks);
    if (o->pos >= TPL_KEYS)
        return; /* the last slot stays empty */
    keyslot *k = &o->tpl[o->pos++];
    if (flags || n > 16 || e - ks < 16)
        return;
    memcpy(k->mask, ff + 16 - n, 16);
    memcpy(k->pat, ks, 16);
    k->pat[0] &= k->mask[0];
    k->pat[1] &= k->mask[1];
    k->child = child;
    k->len = (uint32_t)n;
}

/* The rejection message of the line's recorded error; returns 1 + reason. */
COLD int reject_msg(const sf_jsonproj *p, const unsigned char *b, char *msg, size_t msgcap)
{
    char what[96];
    if (p->ebyte >= 0)
        snprintf(what, sizeof what, "%s 0x%02x", p->ewhat, (unsigned)p->ebyte);
    else
        snprintf(what, sizeof what, "%s", p->ewhat);
    sf_rejmsg_at(msg, msgcap, sf_reject_reason_name(p->reason), (size_t)(p->epos - b) + 1, what);
    return 1 + p->reason;
}

/* Calls a visitor callback when visiting; a non-zero return stops the walk. */
#define VISIT(call)                                                                           \
    do {                                                                                      \
        if (visiting && (vrc = (call)) != 0)                                                  \
            return vrc < 0 ? vrc : SF_E_INVAL;                                                \
    } while (0)

/* The one grammar of both entry points: validates [b, e) as a JSON text,
 * recording projected values (decoding) or reporting every event to vis
 * (visiting; nothing is projected). visiting is a constant at each call
 * site, so the decoder's copy carries none of the visitor's code. Returns 0
 * with *topp set to the first byte of the top-level value, 1 with the error
 * recorded, or a visitor callback's error (negative). */
INLINE int walk(sf_jsonproj *p, const unsigned char *const b, const unsigned char *const e,
                const sf_json_visitor *vis, const int visiting, const int vec, unsigned *topp)
{
    const unsigned char *s = skip_ws(b, e);
    p->lb = b;
    const unsigned top = s < e ? *s : 0; /* first byte of the top-level value */
    int depth = 0;
    int32_t cur = visiting ? -1 : 0; /* trie node of the value at s; -1 when not projected */
    int vrc = 0;

    /* Whitespace is looked for only where the expected byte is not found:
     * most lines have none. */
value:
    if (depth >= MAX_DEPTH)
        goto too_deep;
    if (s == e) {
        set_error(p, SF_REJ_INVALID_JSON, s, "unexpected end of input, a value expected");
        return 1;
    }
    switch (*s) {
    case ' ': case '\t': case '\n': case '\r':
        s = skip_ws(s + 1, e);
        goto value;
    case '{':
        record(p, cur, K_OBJ);
        if (cur >= 0 && p->nodes[cur].child >= 0) {
            p->nodes[cur].pos = 0;
            p->stack[depth++] = cur;
        } else {
            p->stack[depth++] = -1;
        }
        VISIT(vis->object_begin(vis->ctx));
        s++;
        if (s < e && *s == '"')
            goto key;
        s = skip_ws(s, e);
        if (s < e && *s == '}') {
            s++;
            depth--;
            VISIT(vis->object_end(vis->ctx));
            goto after_value;
        }
        goto key;
    case '[':
        record(p, cur, K_ARR);
        p->stack[depth++] = ARR_MARK;
        VISIT(vis->array_begin(vis->ctx));
        s = skip_ws(s + 1, e);
        if (s < e && *s == ']') {
            s++;
            depth--;
            VISIT(vis->array_end(vis->ctx));
            goto after_value;
        }
        goto element;
    case '"':
    string_value: {
        int32_t st = !visiting && cur >= 0 ? p->nodes[cur].state : -1;
        const unsigned char *start = ++s;
        int flags = 0;
        size_t n = 0;
        if (scan_string(p, &s, e, b, visiting || st >= 0 ? p->sbuf + p->sused : NULL, &n,
                        &flags, vec) != 0)
            return 1;
        if (st >= 0)
            store_string(p, st, start, s, flags, n);
        if (visiting) {
            sf_value v;
            if (flags & STR_ESC) {
                v = sf_string(p->sbuf + p->sused, n);
                p->sused += n;
            } else {
                v = sf_string((const char *)start, (size_t)(s - 1 - start));
            }
            VISIT(vis->scalar(vis->ctx, &v));
        }
        goto after_value;
    }
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': {
        const unsigned char *start = s;
        int64_t iv;
        int real;
        unsigned frac;
        if (read_number(p, !visiting && cur >= 0 ? p->nodes[cur].state : -1, b, &s, e, &iv, &real,
                        &frac))
            return 1;
        if (visiting) {
            sf_value v;
            if (real == NUM_INT) {
                v = sf_int(iv);
            } else if (real == NUM_REAL) {
                v = sf_double(frac ? exact_real(iv, frac)
                                   : real_value(p, start, (size_t)(s - start)));
                /* lex_number's short reals: the places, for writing it back */
                v.scale = (uint8_t)(frac ? (frac & ~FRAC_NEG) + 1 : 0);
            } else {
                /* Every value is read when visiting: the line is rejected
                 * once its grammar is known to be valid (see walk's end). */
                v = sf_null();
                if (!p->bigpos) {
                    p->bigpos = start;
                    p->bigreason = memchr(start, '.', (size_t)(s - start)) ||
                                           memchr(start, 'e', (size_t)(s - start)) ||
                                           memchr(start, 'E', (size_t)(s - start))
                                       ? SF_REJ_DOUBLE_OVERFLOW
                                       : SF_REJ_INT_OVERFLOW;
                }
            }
            VISIT(vis->scalar(vis->ctx, &v));
        }
        goto after_scalar;
    }
    case 't':
        if (e - s >= 4 && memcmp(s, "true", 4) == 0) {
            s += 4;
            record(p, cur, K_TRUE);
            if (visiting) {
                sf_value v = sf_bool(1);
                VISIT(vis->scalar(vis->ctx, &v));
            }
            goto after_scalar;
        }
        goto bad_token;
    case 'f':
        if (e - s >= 5 && memcmp(s, "false", 5) == 0) {
            s += 5;
            record(p, cur, K_FALSE);
            if (visiting) {
                sf_value v = sf_bool(0);
                VISIT(vis->scalar(vis->ctx, &v));
            }
            goto after_scalar;
        }
        goto bad_token;
    case 'n':
        if (e - s >= 4 && memcmp(s, "null", 4) == 0) {
            s += 4;
            record(p, cur, K_NULL);
            if (visiting) {
                sf_value v = sf_null();
                VISIT(vis->scalar(vis->ctx, &v));
            }
            goto after_scalar;
        }
        goto bad_token;
    default:
        goto bad_token;
    }

after_scalar:
    /* (jansson loses a NUL byte it reads past a number or literal; a NUL
     * byte is never valid JSON, so it is an unexpected token here.) */
after_value:
    if (depth == 0)
        goto done;
    if (s == e) {
        set_error(p, SF_REJ_INVALID_JSON, s, "unexpected end of input");
        return 1;
    }
    if (p->stack[depth - 1] != ARR_MARK) {
        if (*s == ',') {
            s++;
            if (s < e && *s == '"')
                goto key;
            s = skip_ws(s, e);
            goto key;
        }
        if (*s == '}') {
            s++;
            depth--;
            VISIT(vis->object_end(vis->ctx));
            goto after_value;
        }
    } else {
        if (*s == ',') {
            s = skip_ws(s + 1, e);
            goto element;
        }
        if (*s == ']') {
            s++;
            depth--;
            VISIT(vis->array_end(vis->ctx));
            goto after_value;
        }
    }
    if (*s <= ' ') {
        const unsigned char *q = skip_ws(s, e);
        if (q != s) {
            s = q;
            goto after_value;
        }
    }
    goto bad_token;

element:
    /* jansson's array loop stops at the end of input before its depth
     * check: there it is a syntax error even when nested too deep. */
    if (s == e) {
        set_error(p, SF_REJ_INVALID_JSON, s, "unexpected end of input in an array");
        return 1;
    }
    cur = -1;
    goto value;

key:
    if (s == e || *s != '"')
        goto bad_token;
    {
        int32_t obj = p->stack[depth - 1];
        const unsigned char *ks = ++s;
        if (!visiting && obj >= 0 && e - ks >= 16) {
            /* The key at this position in the last line, its quote and the
             * colon, as two words: a match needs no scan, lookup or colon
             * check. */
            node *o = &p->nodes[obj];
            const keyslot *k = &o->tpl[o->pos];
            uint64_t w0, w1;
            memcpy(&w0, ks, 8);
            memcpy(&w1, ks + 8, 8);
            if ((((w0 ^ k->pat[0]) & k->mask[0]) | ((w1 ^ k->pat[1]) & k->mask[1]) |
                 (k->mask[0] == 0)) == 0) {
                o->pos++; /* below TPL_KEYS: the last slot stays empty */
                s = ks + k->len;
                cur = k->child;
                if (cur >= 0) {
                    const node *nd = &p->nodes[cur];
                    for (int32_t i = nd->lo; i < nd->hi; i++)
                        p->vals[i].kind = K_MISSING;
                }
                /* Most values after a key are strings: straight there
                 * when no check of value: can fire. */
                if (s < e && *s == '"' && depth < MAX_DEPTH)
                    goto string_value;
                goto value;
            }
        }
        int flags = 0;
        size_t kn = 0;
        char *kout = visiting ? p->sbuf + p->sused : obj >= 0 ? p->kbuf : NULL;
        if (scan_string(p, &s, e, b, kout, &kn, &flags, vec) != 0)
            return 1;
        int32_t child = -1;
        if (flags) {
            /* A key may hold U+0000 (RFC 8259); no field path does, so such
             * a key never matches one. */
            if (obj >= 0)
                child = find_child(p, obj, p->kbuf, kn);
        } else if (obj >= 0) {
            child = find_child(p, obj, (const char *)ks, (size_t)(s - 1 - ks));
        }
        const char *kp = kout;
        if (visiting) {
            /* Keys stay valid for the whole line, like string values. */
            if (flags) {
                p->sused += kn;
            } else {
                kp = (const char *)ks;
                kn = (size_t)(s - 1 - ks);
            }
        }
        if (s < e && *s == ':') {
            if (!visiting && obj >= 0)
                learn_key(&p->nodes[obj], ks, s + 1, e, flags, child);
            s++;
        } else {
            if (!visiting && obj >= 0)
                p->nodes[obj].pos += p->nodes[obj].pos < TPL_KEYS;
            s = skip_ws(s, e);
            if (s == e || *s != ':')
                goto bad_token;
            s++;
        }
        if (child >= 0) {
            /* A repeated key replaces everything projected below it. */
            const node *nd = &p->nodes[child];
            for (int32_t i = nd->lo; i < nd->hi; i++)
                p->vals[i].kind = K_MISSING;
        }
        VISIT(vis->key(vis->ctx, kp, kn));
        cur = child;
        goto value;
    }

done:
    s = skip_ws(s, e);
    if (s != e) {
        if (!lex_error(p, s, e))
            set_error(p, SF_REJ_INVALID_JSON, s, "end of input expected after the value");
        return 1;
    }
    *topp = top;
    return 0;

bad_token:
    if (!lex_error(p, s, e))
        set_error(p, SF_REJ_INVALID_JSON, s,
                  s == e ? "unexpected end of input" : "unexpected token");
    return 1;

too_deep:
    if (!lex_error(p, s, e))
        set_error(p, SF_REJ_TOO_DEEP, s, "maximum nesting depth (2048) reached");
    return 1;
}

#undef VISIT

static int not_object(unsigned top, char *msg, size_t msgcap)
{
    snprintf(msg, msgcap, "not an object: the line is %s", top == '[' ? "an array" : "a scalar");
    return 1 + SF_REJ_NOT_OBJECT;
}

/* ---- learned shapes -----------------------------------------------------
 *
 * The lines of one input tend to have a few shapes: the same keys in the
 * same order with the same punctuation, only the scalars differ. A line the
 * walk accepted as an object is learned as its literals (the bytes between
 * its scalars) and the kind of each scalar (shape_learn); a later line is
 * first matched against what was learned (shape_match): each literal
 * compared as two masked words (one SSE2 compare where the machine has
 * it), each scalar read by the walk's own
 * scan_string() and lex_number(). A line that matches a shape to its end
 * has the bytes of an accepted line outside its scalars, and in their
 * places valid scalars of the same kinds, each ending where the literal
 * that follows begins: the walk would accept it too, through the same trie
 * nodes, and record the same values. So a match stands for the walk, and
 * anything else (a literal that differs, a scalar that does not read, a
 * line that ends early or late) goes to the walk from the line's start,
 * which gives every verdict and every message: a match only ever accepts.
 *
 * What a literal does to the projected values (a projected field that
 * holds a container, a repeated key that resets the fields below it) is
 * fixed by the shape up to it, and is kept with its node (shape_op).
 *
 * Learned lines agree on their prefix, so the shapes form a trie. When a
 * quarter of a window of tries fails (keys in a changing order, more shapes
 * than SHAPE_NODES hold), the decoder forgets them and decodes SHAPE_REST
 * lines with the walk alone before it learns again.
 */

/* The 16 bytes from s as two words (first byte lowest on little-endian
 * machines, as memcpy lays them out); bytes at or past e read as 0, which
 * no learned literal holds (a NUL byte is invalid JSON). Reads only inside
 * [b, e). */
static inline void load16(const unsigned char *s, const unsigned char *e, const unsigned char *b,
                          uint64_t *w0, uint64_t *w1)
{
    if (e - s >= 16) {
        memcpy(w0, s, 8);
        memcpy(w1, s + 8, 8);
        return;
    }
    size_t n = (size_t)(e - s);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (e - b >= 16) {
        /* The line's last 16 bytes, shifted so that s comes first. */
        uint64_t lo, hi;
        memcpy(&lo, e - 16, 8);
        memcpy(&hi, e - 8, 8);
        unsigned k = 16 - (unsigned)n; /* 1..16 bytes before s */
        if (k >= 8) {
            lo = k == 16 ? 0 : hi >> (8 * (k - 8));
            hi = 0;
        } else {
            lo = lo >> (8 * k) | hi << (64 - 8 * k);
            hi >>= 8 * k;
        }
        *w0 = lo;
        *w1 = hi;
        return;
    }
#else
    (void)b;
#endif
    unsigned char t[16] = {0};
    memcpy(t, s, n);
    memcpy(w0, t, 8);
    memcpy(w1, t + 8, 8);
}

/* The end of the line when [b, e) has a learned shape, with the pvals
 * (reset by the caller) holding what the walk would have recorded; NULL
 * when it has none, with the pvals, the string buffer and the line's error
 * in any state. vec as for walk().
 *
 * win (a constant): [b, e) is a window of bytes that holds a line from b
 * and whatever follows it; the line is the one a range reader would hand
 * out (io/range_reader.h): up to the first '\n', without one '\r' before
 * it. Then a match ends with the end piece followed by "\n" (its last byte
 * not '\r') or by "\r\n", and the line ends where they start. A line holds no
 * '\n' and a learned literal none either, and no scalar reads across one
 * (a string stops at a control byte, a number at a non-digit, and every
 * scalar is followed by a non-empty literal), so the pieces and scalars
 * met are those of the line alone: the match is the one the line gets. */
INLINE const unsigned char *shape_match(sf_jsonproj *p, const unsigned char *const b,
                                        const unsigned char *const e, const int vec, const int win)
{
    const shape *const sh = p->shapes;
    const unsigned char *s = b;
    int32_t at = 0;
    p->lb = b;
    for (;;) {
#if defined(__SSE2__)
        /* The 16 bytes at s in a register; each literal one compare. */
        __m128i x;
        if (e - s >= 16) {
            x = _mm_loadu_si128((const __m128i *)(const void *)s);
        } else {
            uint64_t w0, w1;
            load16(s, e, b, &w0, &w1);
            x = _mm_set_epi64x((long long)w1, (long long)w0);
        }
#else
        uint64_t w0, w1;
        load16(s, e, b, &w0, &w1);
#endif
        const size_t left = (size_t)(e - s);
        const shape *n = NULL;
        int32_t c;
        for (c = SHAPE_CAT(sh, at)->child; c >= 0; c = n->next) {
            n = SHAPE_CAT(sh, c);
            /* (A literal that runs past e meets the zeros load16 put there.) */
#if defined(__SSE2__)
            const unsigned eq = (unsigned)_mm_movemask_epi8(
                _mm_cmpeq_epi8(x, _mm_load_si128((const __m128i *)(const void *)n->pat)));
            if (~eq & n->m16)
                continue;
#else
            if ((((w0 ^ n->pat[0]) & n->mask[0]) | ((w1 ^ n->pat[1]) & n->mask[1])) != 0)
                continue;
#endif
            /* The byte after the literal must be able to start what follows
             * it: a literal is often followed by values of several kinds. */
            if (n->vkind <= SV_STR) {
                break;
            } else if (n->vkind == SV_END) {
                if (!win) {
                    if (n->len == left)
                        break;
                } else if ((size_t)n->len + 1 < left) {
                    /* Two bytes after the piece, for "\r\n" (a '\n' that
                     * ends the window is left to the reader). x[-1] is in
                     * the line: every shape holds a '{' before its end. */
                    const unsigned char *x = s + n->len;
                    if ((x[0] == '\n' && x[-1] != '\r') || (x[0] == '\r' && x[1] == '\n'))
                        break;
                }
            } else if (n->vkind == SV_NUM) {
                if (n->len < left && (s[n->len] == '-' || is_digit(s[n->len])))
                    break;
            } else if (n->vkind == SV_WORD) {
                if (n->len < left && (s[n->len] == 't' || s[n->len] == 'f' || s[n->len] == 'n'))
                    break;
            }
        }
        if (c < 0)
            return NULL;
        s += n->len;
        if (n->nops)
            for (uint32_t i = n->op0; i < (uint32_t)n->op0 + n->nops; i++)
                p->vals[p->sops[i].st].kind = p->sops[i].kind;
        switch (n->vkind) {
        case SV_END: return s;
        case SV_STR: {
            const unsigned char *start = s;
            int flags = 0;
            size_t len = 0;
            if (scan_string(p, &s, e, b, n->st >= 0 ? p->sbuf + p->sused : NULL, &len, &flags,
                            vec) != 0)
                return NULL;
            if (n->st >= 0)
                store_string(p, n->st, start, s, flags, len);
            break;
        }
        case SV_NUM: {
            int64_t iv;
            int real;
            unsigned frac;
            if (read_number(p, n->st, b, &s, e, &iv, &real, &frac))
                return NULL;
            break;
        }
        case SV_WORD: {
            size_t rest = (size_t)(e - s);
            int kind;
            if (rest >= 4 && memcmp(s, "true", 4) == 0)
                kind = K_TRUE, s += 4;
            else if (rest >= 5 && memcmp(s, "false", 5) == 0)
                kind = K_FALSE, s += 5;
            else if (rest >= 4 && memcmp(s, "null", 4) == 0)
                kind = K_NULL, s += 4;
            else
                return NULL;
            if (n->st >= 0)
                p->vals[n->st].kind = (uint8_t)kind;
            break;
        }
        default: break; /* SV_MORE: the literal goes on */
        }
        at = c;
    }
}

/* The node below *at (a byte offset, as the links) for the n <= 16 literal
 * bytes at lit followed by vkind: found, or added with the kind changes
 * ops[0, nops). *at becomes that node's offset. 0, or -1 when the budget is spent (nothing added). */
static int shape_add(sf_jsonproj *p, int32_t *at, const unsigned char *lit, size_t n, int vkind,
                     int32_t st, const shape_op *ops, size_t nops)
{
    static const unsigned char ff[32] = {255, 255, 255, 255, 255, 255, 255, 255,
                                         255, 255, 255, 255, 255, 255, 255, 255};
    uint64_t pat[2] = {0, 0}, mask[2];
    memcpy(pat, lit, n);
    memcpy(mask, ff + 16 - n, 16);
    int32_t *link = &SHAPE_AT(p->shapes, *at)->child;
    for (; *link >= 0; link = &SHAPE_AT(p->shapes, *link)->next) {
        const shape *c = SHAPE_AT(p->shapes, *link);
        if (c->len == n && c->vkind == vkind && c->st == st && c->pat[0] == pat[0] &&
            c->pat[1] == pat[1]) {
            *at = *link;
            return 0;
        }
    }
    if (p->nshapes == SHAPE_NODES || p->nsops + nops > SHAPE_OPS)
        return -1;
    int32_t k = (int32_t)p->nshapes++;
    shape *c = &p->shapes[k];
    memcpy(c->pat, pat, sizeof pat);
    memcpy(c->mask, mask, sizeof mask);
    c->child = c->next = -1;
    c->st = st;
    c->op0 = (uint16_t)p->nsops;
    c->nops = (uint16_t)nops;
    if (nops)
        memcpy(p->sops + p->nsops, ops, nops * sizeof *ops);
    p->nsops += (uint32_t)nops;
    c->len = (uint8_t)n;
    c->vkind = (uint8_t)vkind;
    c->m16 = (uint16_t)((1u << n) - 1); /* n <= 16 */
    *link = k * (int32_t)sizeof(shape);
    *at = *link;
    return 0;
}

/* The literal [lit, s) and what follows it, as nodes below *at: pieces of
 * 16 bytes (SV_MORE), then the last 0..15 bytes with vkind, st and ops. So
 * a piece that ends a literal never has the bytes of one that goes on. */
static int shape_emit(sf_jsonproj *p, int32_t *at, const unsigned char *lit,
                      const unsigned char *s, int vkind, int32_t st, const shape_op *ops,
                      size_t nops)
{
    for (; s - lit > 15; lit += 16)
        if (shape_add(p, at, lit, 16, SV_MORE, -1, NULL, 0) != 0)
            return -1;
    return shape_add(p, at, lit, (size_t)(s - lit), vkind, st, ops, nops);
}

#define SHAPE_DEPTH 64 /* deeper lines are not learned */

/* Learns the shape of [b, e), a line the walk has just accepted as an
 * object, so every byte is known to fit the grammar. Stops (keeping what it
 * added, a prefix no line ends in) at a key with escapes, deeper than
 * SHAPE_DEPTH, or when the budget is spent. */
static void shape_learn(sf_jsonproj *p, const unsigned char *const b, const unsigned char *const e)
{
    if (!p->shapes) {
        p->shapes = aligned_alloc(64, SHAPE_NODES * sizeof *p->shapes);
        p->sops = malloc(SHAPE_OPS * sizeof *p->sops);
        if (!p->shapes || !p->sops) {
            /* Shapes are only a faster way to the same answer. */
            free(p->shapes);
            free(p->sops);
            p->shapes = NULL;
            p->sops = NULL;
            p->sh_rest = UINT32_MAX;
            return;
        }
        memset(&p->shapes[0], 0, sizeof p->shapes[0]);
        p->shapes[0].child = p->shapes[0].next = -1;
        p->nshapes = 1;
        p->nsops = 0;
    }
    int32_t stk[SHAPE_DEPTH]; /* each open container: its trie node, -1 or ARR_MARK */
    int depth = 0;
    shape_op ops[SHAPE_OPS];
    size_t nops = 0;
    uint64_t written = 0; /* pvals below 64 this line has set so far */
    int32_t at = 0, cur = 0;
    const unsigned char *s = b, *lit = b;

value:
    s = skip_ws(s, e);
    {
        const int32_t st = cur >= 0 ? p->nodes[cur].state : -1;
        const unsigned c = *s;
        if (c == '{' || c == '[') {
            if (st >= 0) {
                if (nops == SHAPE_OPS)
                    return;
                ops[nops].st = st;
                ops[nops++].kind = c == '{' ? K_OBJ : K_ARR;
                written |= st < 64 ? 1ull << st : 0;
            }
            if (depth == SHAPE_DEPTH)
                return;
            stk[depth++] = c == '[' ? ARR_MARK : cur >= 0 && p->nodes[cur].child >= 0 ? cur : -1;
            s = skip_ws(s + 1, e);
            if (*s == (c == '{' ? '}' : ']')) {
                s++;
                depth--;
                goto after;
            }
            if (c == '{')
                goto key;
            cur = -1;
            goto value;
        }
        const int vkind = c == '"' ? SV_STR : c == '-' || is_digit(c) ? SV_NUM : SV_WORD;
        if (shape_emit(p, &at, lit, s + (c == '"'), vkind, st, ops, nops) != 0)
            return;
        nops = 0;
        written |= st >= 0 && st < 64 ? 1ull << st : 0;
        if (c == '"') {
            for (s++; *s != '"'; s += *s == '\\' ? 2 : 1)
                ;
            s++;
        } else if (vkind == SV_NUM) {
            while (s < e && (is_digit(*s) || *s == '-' || *s == '+' || *s == '.' ||
                             (*s | 0x20) == 'e'))
                s++;
        } else {
            s += c == 'f' ? 5 : 4;
        }
        lit = s;
    }
after:
    s = skip_ws(s, e);
    if (depth == 0) {
        shape_emit(p, &at, lit, e, SV_END, -1, ops, nops);
        return;
    }
    if (*s == ',') {
        s++;
        if (stk[depth - 1] != ARR_MARK)
            goto key;
        cur = -1;
        goto value;
    }
    s++; /* '}' or ']' */
    depth--;
    goto after;

key:
    s = skip_ws(s, e);
    {
        const unsigned char *ks = s + 1, *q = ks;
        for (; *q != '"'; q++)
            if (*q == '\\')
                return;
        const int32_t obj = stk[depth - 1];
        const int32_t child = obj >= 0 ? find_child(p, obj, (const char *)ks, (size_t)(q - ks)) : -1;
        if (child >= 0) {
            /* The walk resets the fields below a key; only a reset of a
             * value this line already set changes anything. */
            const node *nd = &p->nodes[child];
            for (int32_t i = nd->lo; i < nd->hi; i++) {
                if (i < 64 && !((written >> i) & 1))
                    continue;
                if (nops == SHAPE_OPS)
                    return;
                ops[nops].st = i;
                ops[nops++].kind = K_MISSING;
                written &= i < 64 ? ~(1ull << i) : ~0ull;
            }
        }
        s = skip_ws(q + 1, e) + 1; /* past the colon */
        cur = child;
        goto value;
    }
}

/* Counts a try of the shapes; forgets them when too many fail. */
static inline void shape_count(sf_jsonproj *p, int matched)
{
    p->sh_misses += !matched;
    if (++p->sh_tries < SHAPE_WINDOW)
        return;
    if (p->sh_misses > SHAPE_WINDOW / 4) {
        p->sh_rest = SHAPE_REST;
        if (p->shapes) {
            p->shapes[0].child = -1;
            p->nshapes = 1;
            p->nsops = 0;
        }
    }
    p->sh_tries = p->sh_misses = 0;
}

/* The projected values into the row: 0, or convert()'s verdict. */
INLINE int put_row(sf_jsonproj *p, const char *line, sf_value *row, char *msg, size_t msgcap)
{
    /* The bounds in locals: a store to the row (it holds a size_t) could
     * otherwise change p->fields and p->nfields for the compiler. */
    const pfield *const fields = p->fields;
    const size_t nfields = p->nfields;
    for (size_t i = 0; i < nfields; i++) {
        const pfield *f = &fields[i];
        const pval *v = f->v;
        /* The kinds that need no check beyond their type, inline. */
        if (v->kind == f->want) {
            *(sf_value *)(void *)((char *)row + f->roff) = v->val;
        } else if (f->type == SF_DOUBLE && v->kind == K_REAL && v->frac) {
            row[f->slot] = sf_double(exact_real(v->i, v->frac));
        } else if (v->kind <= K_NULL) {
            row[f->slot] = sf_null();
        } else {
            int rc = convert(p, line, f, &row[f->slot], msg, msgcap);
            if (rc)
                return rc;
        }
    }
    return 0;
}

INLINE void reset_vals(sf_jsonproj *p)
{
    /* The bounds in locals: each kind stored is a byte, which may alias
     * anything, p->vals and p->nvals included. */
    for (pval *v = p->vals, *const end = v + p->nvals; v < end; v++)
        v->kind = K_MISSING;
    p->sused = 0;
}

int sf_jsonproj_decode(sf_jsonproj *p, const char *line, size_t len, sf_value *row, char *msg,
                       size_t msgcap)
{
    if (len + 1 > p->cap && grow(p, len + 1) != 0)
        return SF_E_NOMEM;
    if (!line)
        line = "";
    reset_vals(p);

    const unsigned char *const b = (const unsigned char *)line;
    int matched = 0;
    if (p->sh_rest == 0) {
        /* One copy of each pass per scan width, so the hot loop tests none. */
        if (p->nshapes > 1) {
            matched = (p->level >= SF_SIMD_SSE2 ? shape_match(p, b, b + len, 1, 0)
                                                : shape_match(p, b, b + len, 0, 0)) != NULL;
            if (!matched)
                reset_vals(p);
        }
        shape_count(p, matched);
    } else {
        p->sh_rest--;
    }
    if (!matched) {
        unsigned top = 0;
        int rc = p->level >= SF_SIMD_SSE2 ? walk(p, b, b + len, NULL, 0, 1, &top)
                                          : walk(p, b, b + len, NULL, 0, 0, &top);
        if (rc != 0)
            return reject_msg(p, b, msg, msgcap);
        if (top != '{')
            return not_object(top, msg, msgcap);
        if (p->sh_rest == 0)
            shape_learn(p, b, b + len);
    }
    return put_row(p, line, row, msg, msgcap);
}

size_t sf_jsonproj_decode_window(sf_jsonproj *p, const char *buf, size_t avail, sf_value *row,
                                 size_t *len)
{
    /* Shapes in use, and room in the string buffer for any line that ends
     * inside the window (sf_jsonproj_decode grows it for longer ones). */
    if (p->sh_rest != 0 || p->nshapes <= 1 || !buf)
        return 0;
    if (avail > p->cap - 1)
        avail = p->cap - 1;
    reset_vals(p);
    const unsigned char *const b = (const unsigned char *)buf;
    const unsigned char *lend = p->level >= SF_SIMD_SSE2 ? shape_match(p, b, b + avail, 1, 1)
                                                         : shape_match(p, b, b + avail, 0, 1);
    char msg[8];
    if (!lend || put_row(p, buf, row, msg, sizeof msg) != 0)
        return 0; /* the line's sf_jsonproj_decode counts the try */
    shape_count(p, 1);
    *len = (size_t)(lend - b);
    return *len + 1 + (*lend == '\r');
}

int sf_jsonproj_visit(sf_jsonproj *p, const char *line, size_t len, const sf_json_visitor *v,
                      char *msg, size_t msgcap)
{
    if (len + 1 > p->cap && grow(p, len + 1) != 0)
        return SF_E_NOMEM;
    if (!line)
        line = "";
    p->sused = 0;
    const unsigned char *const b = (const unsigned char *)line;
    unsigned top = 0;
    p->bigpos = NULL;
    int rc = p->level >= SF_SIMD_SSE2 ? walk(p, b, b + len, v, 1, 1, &top)
                                      : walk(p, b, b + len, v, 1, 0, &top);
    if (rc < 0)
        return rc;
    if (rc > 0)
        return reject_msg(p, b, msg, msgcap);
    if (top != '{')
        return not_object(top, msg, msgcap);
    if (p->bigpos) {
        set_error(p, p->bigreason, p->bigpos,
                  p->bigreason == SF_REJ_INT_OVERFLOW ? "integer out of int64 range"
                                                      : "real number beyond the double range");
        return reject_msg(p, b, msg, msgcap);
    }
    return 0;
}
