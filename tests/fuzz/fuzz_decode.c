/* fuzz_decode.c - differential fuzz target: the fast projection decoder
 * against the jansson reference.
 *
 * Decodes the input as one line with both decoders over a fixed projection
 * (the daily KPI columns, plus nested, string, bool, date and conflicting
 * paths) and aborts on any disagreement: accept vs reject, the reason, the
 * message where it must be identical (type mismatch, not an object), or any
 * extracted value (numbers to the bit, strings byte for byte). The same
 * input also goes through the visitor mode of the fast decoder
 * (sf_jsonproj_visit, what flatten uses): its verdict and message must be
 * the decoders' (a type mismatch aside, which a visit does not check), and
 * the value its events rebuild with jansson must equal jansson's own parse,
 * key order and last-wins duplicates included; a visit reads every value,
 * so it also rejects numbers jansson cannot store. Every message must be
 * valid UTF-8. Built by scripts/fuzz with
 * libFuzzer, and by tests/fuzz/CMakeLists.txt with a plain replay driver
 * over the committed corpus.
 *
 * While the reference decoder lives, jansson allocates from its arena,
 * which the reference's next decode resets; the trees compared here are
 * built after both decodes and dropped before the next input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/decode.h"
#include "core/jsonproj.h"
#include "core/utf8.h"
#include "core/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sf_decode_field fields[] = {
    {"user_id", SF_INT, 0, {0, 0}},
    {"item_id", SF_INT, 1, {0, 0}},
    {"event_type", SF_STRING, 2, {0, 0}},
    {"ts", SF_INT, 3, {0, 0}},
    {"props.price", SF_DOUBLE, 4, {0, 0}},
    {"props.quantity", SF_INT, 5, {0, 0}},
    {"props.tag", SF_STRING, 6, {0, 0}},
    {"props.deep.x", SF_DOUBLE, 7, {0, 0}},
    {"ok", SF_BOOL, 8, {0, 0}},
    {"day", SF_DATE, 9, {0, 0}},
    {"name", SF_STRING, 10, {0, 0}},
    {"a", SF_DOUBLE, 11, {0, 0}},
    {"a.b", SF_INT, 12, {0, 0}},
    {"n", SF_NULL, 13, {0, 0}},
    {"", SF_STRING, 14, {0, 0}},
    {"user_id", SF_DOUBLE, 15, {0, 0}},
    {"props.price", SF_DECIMAL, 16, {18, 2}}, /* the reference reads decimals from the text too */
    {"a", SF_DECIMAL, 17, {38, 5}},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static void fail(const char *what, size_t field, const char *m1, const char *m2)
{
    fprintf(stderr, "fuzz_decode: decoders disagree: %s (field %zu)\n  fast:    %s\n  jansson: %s\n",
            what, field, m1, m2);
    abort();
}

static int same_value(const sf_value *a, const sf_value *b)
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
    case SF_DECIMAL:
        return a->scale == b->scale && a->u.dec.lo == b->u.dec.lo && a->u.dec.hi == b->u.dec.hi;
    case SF_STRING:
        return a->u.s.n == b->u.s.n && (a->u.s.n == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
    }
    return 0;
}

/* Messages end up in JSON files (_bad_records, the manifest). */
static int valid_utf8(const char *m)
{
    const unsigned char *s = (const unsigned char *)m;
    size_t n = strlen(m);
    for (size_t i = 0; i < n;) {
        size_t k = s[i] < 0x80 ? 1 : sf_utf8_seq(s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* ---- the visitor's events rebuilt as a jansson value ---- */

#define BUILD_DEPTH 2100 /* above the nesting limit */

typedef struct builder {
    json_t *root;
    json_t *open[BUILD_DEPTH];
    int depth;
    const char *key;
    size_t klen;
    int bad;
} builder;

static int attach(builder *b, json_t *v)
{
    if (!v) {
        b->bad = 1;
        return -1;
    }
    if (b->depth == 0) {
        b->bad |= b->root != NULL;
        b->root = v;
        return 0;
    }
    json_t *top = b->open[b->depth - 1];
    if (json_is_array(top) ? json_array_append_new(top, v)
                           : json_object_setn_new(top, b->key, b->klen, v))
        b->bad = 1;
    return 0;
}

static int open_container(builder *b, json_t *c)
{
    if (!c || b->depth == BUILD_DEPTH) {
        b->bad = 1;
        return -1;
    }
    attach(b, json_incref(c));
    b->open[b->depth++] = c;
    return 0;
}

static int v_obj(void *ctx) { return open_container(ctx, json_object()); }
static int v_arr(void *ctx) { return open_container(ctx, json_array()); }

static int v_end(void *ctx)
{
    builder *b = ctx;
    if (b->depth == 0) {
        b->bad = 1;
        return -1;
    }
    json_decref(b->open[--b->depth]);
    return 0;
}

static int v_key(void *ctx, const char *k, size_t n)
{
    builder *b = ctx;
    b->key = k;
    b->klen = n;
    return 0;
}

static int v_scalar(void *ctx, const sf_value *v)
{
    builder *b = ctx;
    switch (v->type) {
    case SF_NULL: return attach(b, json_null());
    case SF_BOOL: return attach(b, json_boolean(v->u.b));
    case SF_INT: return attach(b, json_integer(v->u.i));
    case SF_DOUBLE: return attach(b, json_real(v->u.d));
    case SF_STRING: return attach(b, json_stringn(v->u.s.p, v->u.s.n));
    }
    b->bad = 1;
    return -1;
}

/* Exact equality: reals to the bit, object keys in the same order. */
static int same_json(const json_t *a, const json_t *b)
{
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_INTEGER: return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL: {
        double x = json_real_value(a), y = json_real_value(b);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_json(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
        for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia),
                         ib = json_object_iter_next((json_t *)b, ib)) {
            size_t n = json_object_iter_key_len(ia);
            if (n != json_object_iter_key_len(ib) ||
                memcmp(json_object_iter_key(ia), json_object_iter_key(ib), n) != 0 ||
                !same_json(json_object_iter_value(ia), json_object_iter_value(ib)))
                return 0;
        }
        return 1;
    }
    default: return 1;
    }
}

/* Visits the line and checks it against the decoders' verdict rc and
 * message m1, and against jansson's parse. */
static void check_visit(const char *line, size_t size, int rc, const char *m1)
{
    static sf_jsonproj *vis;
    static builder b;
    if (!vis && !(vis = sf_jsonproj_new(NULL, 0))) {
        fprintf(stderr, "fuzz_decode: cannot create the visitor\n");
        abort();
    }
    memset(&b, 0, sizeof b);
    sf_json_visitor v = {v_obj, v_end, v_arr, v_end, v_key, v_scalar, &b};
    char m3[512];
    strcpy(m3, "(none)");
    int rv = sf_jsonproj_visit(vis, line, size, &v, m3, sizeof m3);
    if (!valid_utf8(m3))
        fail("visitor message is not valid UTF-8", 0, m3, m1);
    /* A visit reads every value: where the decoders accept the line (or
     * reject a value in it), it rejects the first number jansson refuses. */
    int want = rc == 1 + SF_REJ_TYPE_MISMATCH || rc == 1 + SF_REJ_DOUBLE_OVERFLOW ? 0 : rc;
    json_error_t jerr;
    json_t *ref = json_loadb(line, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    int nulkey = !ref && json_error_code(&jerr) == json_error_null_byte_in_key;
    /* jansson cannot load keys holding U+0000, nor the numbers it refuses:
     * no tree to compare for those lines. */
    int unloadable = nulkey || (!ref && json_error_code(&jerr) == json_error_numeric_overflow);
    if (want == 0 && !ref && json_error_code(&jerr) == json_error_numeric_overflow)
        want = 1 + (strstr(jerr.text, "integer") ? SF_REJ_INT_OVERFLOW : SF_REJ_DOUBLE_OVERFLOW);
    if (want == 0 && nulkey && (rv == 1 + SF_REJ_INT_OVERFLOW || rv == 1 + SF_REJ_DOUBLE_OVERFLOW))
        want = rv; /* jansson stopped at the key before any number it refuses */
    if (rv != want)
        fail("visitor return code", 0, m3, m1);
    if (rv > 0 && rv == rc && rv != 1 + SF_REJ_DOUBLE_OVERFLOW && strcmp(m3, m1) != 0)
        fail("visitor message", 0, m3, m1);
    if ((rv == 0 || rv == 1 + SF_REJ_NOT_OBJECT) && !unloadable) {
        if (!ref || b.bad || b.depth != 0 || !b.root || !same_json(b.root, ref))
            fail("visited value", 0, "(rebuilt from events)", "(json_loadb)");
    }
    json_decref(ref);
    json_decref(b.root);
    while (b.depth > 0)
        json_decref(b.open[--b.depth]);
}

/* Decodes one line with both decoders and compares them. */
static void check_line(sf_decoder *fast, sf_decoder *ref, const uint8_t *data, size_t size)
{
    /* An exact-size copy, so reading past the line is caught by ASan. */
    char *line = malloc(size ? size : 1);
    if (!line)
        abort();
    if (size)
        memcpy(line, data, size);
    sf_value r1[NFIELDS], r2[NFIELDS];
    char m1[512], m2[512];
    memset(r1, 0, sizeof r1);
    memset(r2, 0, sizeof r2);
    strcpy(m1, "(none)");
    strcpy(m2, "(none)");
    int rc1 = sf_decoder_decode(fast, line, size, r1, m1, sizeof m1);
    int rc2 = sf_decoder_decode(ref, line, size, r2, m2, sizeof m2);
    if (rc1 != rc2)
        fail("return code", 0, m1, m2);
    if (!valid_utf8(m1) || !valid_utf8(m2))
        fail("message is not valid UTF-8", 0, m1, m2);
    if (rc1 == 1 + SF_REJ_TYPE_MISMATCH || rc1 == 1 + SF_REJ_NOT_OBJECT) {
        if (strcmp(m1, m2) != 0)
            fail("message", 0, m1, m2);
    }
    if (rc1 == 0) {
        for (size_t i = 0; i < NFIELDS; i++)
            if (!same_value(&r1[i], &r2[i]))
                fail("value", i, m1, m2);
    }
    check_visit(line, size, rc1, m1);
    free(line);
}

/* The input's lines as a range reader hands them out (split at '\n', one
 * '\r' before it dropped), each first offered to the fast decoder with the
 * rest of the input after it (sf_decoder_decode_window): a line it takes
 * must be that line, accepted by the reference with the same values. */
static void check_windows(sf_decoder *fast, sf_decoder *ref, const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* exact size, for ASan */
    if (!buf)
        abort();
    if (size)
        memcpy(buf, data, size);
    sf_value r1[NFIELDS], r2[NFIELDS];
    char m2[512];
    for (size_t pos = 0; pos < size;) {
        const char *nl = memchr(buf + pos, '\n', size - pos);
        if (!nl)
            break; /* a last line without '\n' is never taken */
        size_t raw = (size_t)(nl - (buf + pos)), len = raw;
        if (len > 0 && buf[pos + len - 1] == '\r')
            len--;
        size_t wlen = 0, used = sf_decoder_decode_window(fast, buf + pos, size - pos, r1, &wlen);
        if (used) {
            strcpy(m2, "(none)");
            if (wlen != len || used != raw + 1)
                fail("the line a window took", 0, "(window)", "(split at the newline)");
            if (sf_decoder_decode(ref, buf + pos, len, r2, m2, sizeof m2) != 0)
                fail("a window took a line the reference rejects", 0, "(window)", m2);
            for (size_t i = 0; i < NFIELDS; i++)
                if (!same_value(&r1[i], &r2[i]))
                    fail("window value", i, "(window)", m2);
        }
        pos += raw + 1;
    }
    free(buf);
}

/* The fast decoder remembers the key order and the shapes of the lines it
 * has decoded (core/jsonproj.c), so each input gets a new one, which first
 * decodes the input's first line (up to a newline) on its own, then the
 * whole input twice (the second time with what the first taught it), then
 * the rest after the first newline twice: one line against the shape of
 * another; then the input's lines as windows (check_windows). What it
 * knows comes from the input alone, so a failure replays
 * from that input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sf_decoder *ref;
    if (!ref && !(ref = sf_decoder_new(SF_DECODER_JANSSON, fields, NFIELDS))) {
        fprintf(stderr, "fuzz_decode: cannot create the reference decoder\n");
        abort();
    }
    sf_decoder *fast = sf_decoder_new(SF_DECODER_FAST, fields, NFIELDS);
    if (!fast) {
        fprintf(stderr, "fuzz_decode: cannot create the fast decoder\n");
        abort();
    }
    const uint8_t *nl = size ? memchr(data, '\n', size) : NULL;
    if (nl)
        check_line(fast, ref, data, (size_t)(nl - data));
    check_line(fast, ref, data, size);
    check_line(fast, ref, data, size);
    if (nl) {
        /* The rest against the shape the first line taught it. */
        check_line(fast, ref, nl + 1, size - (size_t)(nl + 1 - data));
        check_line(fast, ref, nl + 1, size - (size_t)(nl + 1 - data));
        check_windows(fast, ref, data, size);
    }
    sf_decoder_free(fast);
    return 0;
}
