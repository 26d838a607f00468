/* decode.c - the decoder front: the jansson reference decoder, and dispatch
 * to the fast projection decoder (core/jsonproj.c).
 *
 * jansson only offers process-wide allocation hooks, so the arena the hooks
 * use is a file-level pointer owned by the single live jansson decoder.
 * jansson never reallocs, and its frees become no-ops: the arena is reset
 * before each line. A fast decoder never touches jansson's hooks.
 */
#include "core/decode.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/fmt.h"
#include "core/jsonproj.h"
#include "core/rejmsg.h"
#include "core/utf8.h"

typedef struct field {
    sf_decode_field f;
    char **segs; /* path split at '.' */
    size_t nsegs;
    /* decimal fields: jansson keeps no number text, so this field alone is
     * read by the projection decoder, exactly from the text */
    sf_jsonproj *dec;
} field;

struct sf_decoder {
    sf_decoder_kind kind;
    sf_jsonproj *fast; /* SF_DECODER_FAST only */
    field *fields;
    size_t nfields;
    sf_arena arena;
    int oom;
    char nulrepl[4]; /* hex of a code point in no field path (see below) */
};

static sf_decoder *live; /* the decoder whose arena jansson allocates from */

static void *arena_malloc(size_t n)
{
    void *p = sf_arena_alloc(&live->arena, n);
    if (!p)
        live->oom = 1;
    return p;
}

static void arena_free(void *p) { (void)p; }

const char *sf_decoder_kind_name(sf_decoder_kind k)
{
    switch (k) {
    case SF_DECODER_FAST: return "fast";
    case SF_DECODER_JANSSON: return "jansson";
    }
    return "unknown";
}

int sf_decoder_kind_parse(const char *name, sf_decoder_kind *k)
{
    if (strcmp(name, "fast") == 0)
        *k = SF_DECODER_FAST;
    else if (strcmp(name, "jansson") == 0)
        *k = SF_DECODER_JANSSON;
    else
        return SF_E_INVAL;
    return 0;
}

sf_decoder *sf_decoder_new(sf_decoder_kind kind, const sf_decode_field *fields, size_t nfields)
{
    if (kind == SF_DECODER_JANSSON)
        return sf_decoder_new_jansson(fields, nfields);
    if (kind != SF_DECODER_FAST)
        return NULL;
    sf_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->kind = SF_DECODER_FAST;
    d->fast = sf_jsonproj_new(fields, nfields);
    if (!d->fast) {
        free(d);
        return NULL;
    }
    return d;
}

sf_decoder *sf_decoder_new_jansson(const sf_decode_field *fields, size_t nfields)
{
    if (live)
        return NULL;
    sf_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->kind = SF_DECODER_JANSSON;
    d->fields = calloc(nfields ? nfields : 1, sizeof *d->fields);
    if (!d->fields) {
        free(d);
        return NULL;
    }
    d->nfields = nfields;
    for (size_t i = 0; i < nfields; i++) {
        field *f = &d->fields[i];
        f->f = fields[i];
        const char *p = fields[i].path;
        size_t nseg = 1;
        for (const char *q = p; *q; q++)
            nseg += *q == '.';
        f->segs = calloc(nseg, sizeof *f->segs);
        if (!f->segs) {
            d->nfields = i + 1;
            sf_decoder_free(d);
            return NULL;
        }
        for (;;) {
            const char *dot = strchr(p, '.');
            size_t n = dot ? (size_t)(dot - p) : strlen(p);
            f->segs[f->nsegs] = malloc(n + 1);
            if (!f->segs[f->nsegs]) {
                d->nfields = i + 1;
                sf_decoder_free(d);
                return NULL;
            }
            memcpy(f->segs[f->nsegs], p, n);
            f->segs[f->nsegs++][n] = '\0';
            if (!dot)
                break;
            p = dot + 1;
        }
        if (fields[i].type == SF_DECIMAL && !(f->dec = sf_jsonproj_new(&fields[i], 1))) {
            d->nfields = i + 1;
            sf_decoder_free(d);
            return NULL;
        }
    }
    /* A code point (3 bytes in UTF-8) that no field path holds. */
    for (unsigned cp = 0xFFFF; cp >= 0x800; cp--) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char u[4] = {(char)(0xE0 | (cp >> 12)), (char)(0x80 | ((cp >> 6) & 0x3F)),
                     (char)(0x80 | (cp & 0x3F)), 0};
        size_t i = 0;
        while (i < nfields && !strstr(fields[i].path, u))
            i++;
        if (i == nfields) {
            char hex[5];
            snprintf(hex, sizeof hex, "%04x", cp);
            memcpy(d->nulrepl, hex, 4);
            break;
        }
    }
    sf_arena_init(&d->arena, 64 * 1024);
    live = d;
    json_set_alloc_funcs(arena_malloc, arena_free);
    return d;
}

void sf_decoder_free(sf_decoder *d)
{
    if (!d)
        return;
    if (d->kind == SF_DECODER_FAST) {
        sf_jsonproj_free(d->fast);
        free(d);
        return;
    }
    if (live == d) {
        json_set_alloc_funcs(malloc, free);
        live = NULL;
    }
    for (size_t i = 0; i < d->nfields; i++) {
        for (size_t s = 0; s < d->fields[i].nsegs; s++)
            free(d->fields[i].segs[s]);
        free(d->fields[i].segs);
        sf_jsonproj_free(d->fields[i].dec);
    }
    free(d->fields);
    sf_arena_free(&d->arena);
    free(d);
}

/* A short description of a JSON value for type-mismatch messages. */
static void describe(const json_t *v, char *out, size_t cap)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        size_t n = json_string_length(v), k = sf_utf8_cut(json_string_value(v), n, 40);
        snprintf(out, cap, "string \"%.*s%s\"", (int)k, json_string_value(v), k < n ? "..." : "");
        break;
    }
    case JSON_INTEGER: snprintf(out, cap, "int64 %lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: {
        char b[SF_FMT_BUF];
        sf_fmt_double(json_real_value(v), b);
        snprintf(out, cap, "double %s", b);
        break;
    }
    case JSON_TRUE: snprintf(out, cap, "bool true"); break;
    case JSON_FALSE: snprintf(out, cap, "bool false"); break;
    case JSON_OBJECT: snprintf(out, cap, "an object"); break;
    case JSON_ARRAY: snprintf(out, cap, "an array"); break;
    case JSON_NULL: snprintf(out, cap, "null"); break;
    }
}

static int mismatch(const field *f, const json_t *v, char *msg, size_t cap)
{
    char what[96];
    describe(v, what, sizeof what);
    snprintf(msg, cap, "%s: expected %s%s, got %s", f->f.path, sf_type_name(f->f.type),
             f->f.type == SF_DATE ? " (YYYY-MM-DD)"
             : f->f.type == SF_TIMESTAMP ? " (ISO-8601 text or unix seconds)" : "", what);
    sf_utf8_clean(msg);
    return 1 + SF_REJ_TYPE_MISMATCH;
}

static int convert(const field *f, const json_t *v, sf_value *out, char *msg, size_t cap)
{
    if (!v || json_is_null(v)) {
        *out = sf_null();
        return 0;
    }
    switch (f->f.type) {
    case SF_INT:
        if (!json_is_integer(v))
            return mismatch(f, v, msg, cap);
        *out = sf_int(json_integer_value(v));
        return 0;
    case SF_DOUBLE:
        if (json_is_integer(v))
            *out = sf_double((double)json_integer_value(v));
        else if (json_is_real(v))
            *out = sf_double(json_real_value(v));
        else
            return mismatch(f, v, msg, cap);
        return 0;
    case SF_STRING:
        if (!json_is_string(v))
            return mismatch(f, v, msg, cap);
        *out = sf_string(json_string_value(v), json_string_length(v));
        return 0;
    case SF_BOOL:
        if (!json_is_boolean(v))
            return mismatch(f, v, msg, cap);
        *out = sf_bool(json_is_true(v));
        return 0;
    case SF_DATE: {
        int32_t days;
        if (!json_is_string(v) ||
            sf_parse_iso_date(json_string_value(v), json_string_length(v), &days) != 0)
            return mismatch(f, v, msg, cap);
        *out = sf_date(days);
        return 0;
    }
    case SF_TIMESTAMP: {
        int64_t us;
        if (json_is_string(v) ? sf_parse_iso_timestamp(json_string_value(v),
                                                       json_string_length(v), &us) != 0
            : !json_is_integer(v) ||
                  sf_timestamp_from_unix(json_integer_value(v), SF_US_PER_SEC, &us) != 0)
            return mismatch(f, v, msg, cap);
        *out = sf_timestamp(us);
        return 0;
    }
    case SF_NULL:
    case SF_DECIMAL: /* read by f->dec */
        break;
    }
    *out = sf_null();
    return 0;
}

/* ---- what jansson cannot load as it is ----------------------------------
 *
 * jansson rejects numbers it cannot store (an integer outside int64, a real
 * beyond the double range) and keys holding U+0000, while the contract
 * (core/jsonproj.h) accepts both; and it loses a NUL byte that follows a
 * number or a literal. So the reference loads a copy of the line in which
 * each such number is replaced by "0e0" or "1e0" (with its minus sign) after
 * spaces (the same length, so every error keeps its column) and each `\u0000`
 * escape in a key by an escape of a code point no field path holds (such a
 * key can never match a field either way). To tell which projected values
 * came from a replaced number, the copy is loaded in pairs of passes: in
 * pass pair j, replaced number k reads as bit j of k and as its complement;
 * a value that differs within a pair was replaced, and its bits name k.
 * A raw NUL byte is never valid JSON, and the only byte jansson can lose:
 * the copy has 0x01 in its place, which is invalid wherever a NUL is (a
 * control character in a string, an invalid token elsewhere), so jansson
 * stops at the first error as the fast decoder does. */

typedef struct big {
    size_t off, len;
} big;

typedef struct prescan {
    big *nums;
    size_t nnums, numcap;
    size_t *nulkeys; /* offsets of `\u0000` escapes in keys */
    size_t nnulkeys, nulcap;
    int oom;
} prescan;

static void *grow_array(sf_arena *a, void *old, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return old;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = sf_arena_alloc(a, nc * elem);
    if (p && n)
        memcpy(p, old, n * elem);
    *cap = nc;
    return p;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* 1 when the number literal [s, s+n) (valid JSON) is one jansson refuses:
 * strtoll or strtod report ERANGE as jansson's lexer checks them. */
static int number_too_big(sf_arena *a, const char *s, size_t n, int real)
{
    char *t = sf_arena_memdup(a, s, n);
    if (!t)
        return -1;
    errno = 0;
    if (real) {
        double v = strtod(t, NULL);
        return (v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE;
    }
    (void)strtoll(t, NULL, 10);
    return errno == ERANGE;
}

/* Finds the numbers jansson refuses and the `\u0000` escapes in keys. Only
 * the part of the line before its first error matters (jansson stops
 * there), and there the tokens are what this simple lexer sees. */
static int prescan_line(sf_arena *a, const char *s, size_t len, prescan *ps)
{
    memset(ps, 0, sizeof *ps);
    /* Where a key is due: jansson checks a key for U+0000 as soon as it has
     * read it, in an object after '{' or ','. Deeper than jansson's limit
     * nothing matters (it stops there). */
    enum { MAXD = 4096 };
    char open[MAXD];
    size_t depth = 0;
    unsigned char prev = 0; /* last structural byte outside strings */
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '{' || c == '[') {
            if (depth < MAXD)
                open[depth] = (char)c;
            depth++;
            prev = c;
            i++;
            continue;
        }
        if (c == '}' || c == ']') {
            if (depth)
                depth--;
            prev = c;
            i++;
            continue;
        }
        if (c == ',' || c == ':') {
            prev = c;
            i++;
            continue;
        }
        if (c == '"') {
            size_t first = ps->nnulkeys;
            int key = depth && depth <= MAXD && open[depth - 1] == '{' &&
                      (prev == '{' || prev == ',');
            prev = '"';
            i++;
            while (i < len && s[i] != '"') {
                if (s[i] == '\\') {
                    if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0) {
                        ps->nulkeys = grow_array(a, ps->nulkeys, ps->nnulkeys, &ps->nulcap,
                                                 sizeof *ps->nulkeys);
                        if (!ps->nulkeys)
                            return SF_E_NOMEM;
                        ps->nulkeys[ps->nnulkeys++] = i;
                    }
                    i += 2;
                } else {
                    i++;
                }
            }
            if (!key)
                ps->nnulkeys = first; /* a value, not a key */
            if (i >= len)
                break;
            i++;
            continue;
        }
        if (c != '-' && !is_digit(c)) {
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                prev = c;
            i++;
            continue;
        }
        prev = '0';
        /* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
        size_t j = i + (c == '-');
        if (j >= len || !is_digit((unsigned char)s[j])) {
            i = j > i ? j : i + 1;
            continue;
        }
        if (s[j] == '0')
            j++;
        else
            while (j < len && is_digit((unsigned char)s[j]))
                j++;
        int real = 0, ok = 1;
        if (j < len && s[j] == '.') {
            if (j + 1 < len && is_digit((unsigned char)s[j + 1])) {
                real = 1;
                j += 2;
                while (j < len && is_digit((unsigned char)s[j]))
                    j++;
            } else {
                ok = 0;
            }
        }
        if (ok && j < len && (s[j] | 0x20) == 'e') {
            size_t k = j + 1;
            if (k < len && (s[k] == '+' || s[k] == '-'))
                k++;
            if (k < len && is_digit((unsigned char)s[k])) {
                real = 1;
                j = k + 1;
                while (j < len && is_digit((unsigned char)s[j]))
                    j++;
            } else {
                ok = 0;
            }
        }
        if (ok) {
            int b = number_too_big(a, s + i, j - i, real);
            if (b < 0)
                return SF_E_NOMEM;
            if (b) {
                ps->nums = grow_array(a, ps->nums, ps->nnums, &ps->numcap, sizeof *ps->nums);
                if (!ps->nums)
                    return SF_E_NOMEM;
                ps->nums[ps->nnums].off = i;
                ps->nums[ps->nnums++].len = j - i;
            }
        }
        i = j > i ? j : i + 1;
    }
    return 0;
}

/* The value at f's path under root, or NULL. */
static const json_t *lookup(const field *f, const json_t *root)
{
    const json_t *v = root;
    for (size_t s = 0; s < f->nsegs && v; s++)
        v = json_is_object(v) ? json_object_get(v, f->segs[s]) : NULL;
    return v;
}

/* A rejection by jansson as reason and message; returns 1 + reason, or
 * SF_E_NOMEM. */
static int jansson_reject(const json_error_t *jerr, char *msg, size_t msgcap)
{
    int reason = SF_REJ_INVALID_JSON;
    switch (json_error_code(jerr)) {
    case json_error_invalid_utf8: reason = SF_REJ_INVALID_UTF8; break;
    case json_error_stack_overflow: reason = SF_REJ_TOO_DEEP; break;
    case json_error_out_of_memory: return SF_E_NOMEM;
    default: break;
    }
    /* jansson's text may quote a token cut inside a UTF-8 sequence; its
     * column counts characters, the contract's counts bytes. */
    sf_rejmsg_at(msg, msgcap, sf_reject_reason_name(reason), (size_t)jerr->position,
                 jerr->text);
    return 1 + reason;
}

static int decode_jansson(sf_decoder *d, const char *line, size_t len, sf_value *row, char *msg,
                          size_t msgcap)
{
    sf_arena_reset(&d->arena);
    d->oom = 0;
    const int flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_error_t jerr;
    const char *text = line;
    if (len && memchr(line, '\0', len)) {
        char *copy = sf_arena_memdup(&d->arena, line, len);
        if (!copy)
            return SF_E_NOMEM;
        for (char *z = copy; (z = memchr(z, '\0', len - (size_t)(z - copy))) != NULL; z++)
            *z = '\x01';
        text = copy;
    }
    json_t *root = json_loadb(text, len, flags, &jerr);
    if (d->oom)
        return SF_E_NOMEM;
    prescan ps = {0};
    json_t **roots = NULL;
    size_t npasses = 1;
    if (!root && (json_error_code(&jerr) == json_error_numeric_overflow ||
                  json_error_code(&jerr) == json_error_null_byte_in_key)) {
        if (prescan_line(&d->arena, text, len, &ps) != 0)
            return SF_E_NOMEM;
        char *copy = sf_arena_memdup(&d->arena, text, len);
        if (!copy)
            return SF_E_NOMEM;
        for (size_t i = 0; i < ps.nnulkeys; i++)
            memcpy(copy + ps.nulkeys[i] + 2, d->nulrepl, 4);
        size_t bits = 1;
        while (ps.nnums > ((size_t)1 << bits))
            bits++;
        npasses = ps.nnums ? 2 * bits : 1;
        roots = sf_arena_alloc(&d->arena, npasses * sizeof *roots);
        if (!roots)
            return SF_E_NOMEM;
        for (size_t pass = 0; pass < npasses; pass++) {
            size_t j = pass / 2;
            unsigned inv = pass & 1;
            for (size_t k = 0; k < ps.nnums; k++) {
                /* "[-]De0" ends where the number ended: jansson reads
                 * the byte after a number (an invalid UTF-8 byte there is
                 * its error); the exponent keeps a following '.' or 'e'
                 * from joining it ("1e400.5" stays invalid), and the
                 * spaces before keep it from joining a token before
                 * ("-9-9...9" stays two numbers). */
                char *t = copy + ps.nums[k].off;
                size_t len = ps.nums[k].len;
                int neg = *t == '-';
                memset(t, ' ', len);
                memcpy(t + len - 3, "0e0", 3);
                t[len - 3] = (char)('0' + ((((k >> j) & 1) ^ inv) & 1));
                if (neg)
                    t[len - 4] = '-';
            }
            roots[pass] = json_loadb(copy, len, flags, &jerr);
            if (d->oom)
                return SF_E_NOMEM;
            if (!roots[pass])
                break;
        }
        root = roots[0];
        if (root && !roots[npasses - 1])
            root = NULL; /* cannot happen: every pass has the same grammar */
    }
    if (!root)
        return jansson_reject(&jerr, msg, msgcap);
    if (!json_is_object(root)) {
        snprintf(msg, msgcap, "not an object: the line is %s",
                 json_is_array(root) ? "an array" : "a scalar");
        return 1 + SF_REJ_NOT_OBJECT;
    }
    for (size_t i = 0; i < d->nfields; i++) {
        const field *f = &d->fields[i];
        if (f->dec) {
            int rc = sf_jsonproj_decode(f->dec, line, len, row, msg, msgcap);
            if (rc)
                return rc;
            continue;
        }
        const json_t *v = lookup(f, root);
        if (ps.nnums && json_is_real(v)) {
            const json_t *w = lookup(f, roots[1]);
            if (json_is_real(w) && json_real_value(w) != json_real_value(v)) {
                size_t k = 0;
                for (size_t pass = 0; pass < npasses; pass += 2)
                    if (fabs(json_real_value(lookup(f, roots[pass]))) == 1.0)
                        k |= (size_t)1 << (pass / 2);
                const big *n = &ps.nums[k];
                char *scratch = sf_arena_alloc(&d->arena, n->len + 1);
                if (!scratch)
                    return SF_E_NOMEM;
                int rc = sf_jsonproj_big_number(f->f.path, f->f.type, line + n->off, n->len,
                                                scratch, &row[f->f.slot], msg, msgcap);
                if (rc)
                    return rc;
                continue;
            }
        }
        int rc = convert(f, v, &row[f->f.slot], msg, msgcap);
        if (rc)
            return rc;
    }
    return 0;
}

size_t sf_decoder_decode_window(sf_decoder *d, const char *buf, size_t avail, sf_value *row,
                                size_t *len)
{
    return d->kind == SF_DECODER_FAST ? sf_jsonproj_decode_window(d->fast, buf, avail, row, len)
                                      : 0;
}

sf_jsonproj *sf_decoder_fast(sf_decoder *d) { return d->kind == SF_DECODER_FAST ? d->fast : NULL; }

int sf_decoder_decode(sf_decoder *d, const char *line, size_t len, sf_value *row, char *msg,
                      size_t msgcap)
{
    if (d->kind == SF_DECODER_FAST)
        return sf_jsonproj_decode(d->fast, line, len, row, msg, msgcap);
    return decode_jansson(d, line, len, row, msg, msgcap);
}
