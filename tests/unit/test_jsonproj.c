/* test_jsonproj.c - the fast projection decoder against the jansson
 * reference.
 *
 * Every line goes through both decoders (sf_decoder_new with each kind over
 * the same fields) and run() asserts that they agree: same return, same
 * values (doubles to the bit, strings byte for byte), and the same message
 * where the message is part of the contract (type mismatch, not an object).
 * Tests then check the expected values explicitly.
 *
 * run() also visits every line with the visitor mode (sf_jsonproj_visit):
 * it must reach the same verdict as the decoders (a valid line is valid for
 * it whatever the field types) with the same message, and the value its
 * events rebuild as a jansson tree must equal jansson's own parse of the
 * line, key order and duplicate handling included. While the reference
 * decoder lives, jansson allocates from its arena, which the next decode
 * resets: the trees are built and dropped before that.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/decode.h"
#include "core/error.h"
#include "core/fmt.h"
#include "core/jsonproj.h"
#include "core/jsonscan.h"
#include "core/utf8.h"

enum { USER_ID, ITEM_ID, EVENT_TYPE, TS, PRICE, NAME, OK, DAY, A, QUANTITY, NDEFAULT };

static const sf_decode_field default_fields[] = {
    {"user_id", SF_INT, USER_ID, {0, 0}},   {"item_id", SF_INT, ITEM_ID, {0, 0}},
    {"event_type", SF_STRING, EVENT_TYPE, {0, 0}}, {"ts", SF_INT, TS, {0, 0}},
    {"props.price", SF_DOUBLE, PRICE, {0, 0}}, {"name", SF_STRING, NAME, {0, 0}},
    {"ok", SF_BOOL, OK, {0, 0}},            {"day", SF_DATE, DAY, {0, 0}},
    {"a", SF_DOUBLE, A, {0, 0}},            {"props.quantity", SF_INT, QUANTITY, {0, 0}},
};

#define MAXF 16

typedef struct fixture {
    sf_decoder *fast, *ref;
    sf_jsonproj *vis;
    size_t nfields;
    sf_value frow[MAXF], rrow[MAXF];
    char fmsg[512], rmsg[512];
} fixture;

static void open_fx(fixture *fx, const sf_decode_field *f, size_t n)
{
    assert_true(n <= MAXF);
    fx->nfields = n;
    fx->fast = sf_decoder_new(SF_DECODER_FAST, f, n);
    fx->ref = sf_decoder_new(SF_DECODER_JANSSON, f, n);
    fx->vis = sf_jsonproj_new(NULL, 0);
    assert_non_null(fx->fast);
    assert_non_null(fx->ref);
    assert_non_null(fx->vis);
}

static void close_fx(fixture *fx)
{
    sf_decoder_free(fx->fast);
    sf_decoder_free(fx->ref);
    sf_jsonproj_free(fx->vis);
    fx->fast = fx->ref = NULL;
    fx->vis = NULL;
}

static void reopen(fixture *fx, const sf_decode_field *f, size_t n)
{
    close_fx(fx);
    open_fx(fx, f, n);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    open_fx(fx, default_fields, NDEFAULT);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    close_fx(fx);
    free(fx);
    return 0;
}

static void assert_same_value(const sf_value *a, const sf_value *b, size_t field)
{
    if (a->type != b->type)
        fail_msg("field %zu: fast type %d, jansson type %d", field, a->type, b->type);
    switch (a->type) {
    case SF_NULL: break;
    case SF_BOOL: assert_int_equal(a->u.b, b->u.b); break;
    case SF_INT: assert_true(a->u.i == b->u.i); break;
    case SF_DOUBLE: assert_memory_equal(&a->u.d, &b->u.d, sizeof a->u.d); break;
    case SF_DATE: assert_int_equal(a->u.date, b->u.date); break;
    case SF_TIMESTAMP: assert_true(a->u.i == b->u.i); break;
    case SF_STRING:
        assert_int_equal(a->u.s.n, b->u.s.n);
        if (a->u.s.n)
            assert_memory_equal(a->u.s.p, b->u.s.p, a->u.s.n);
        break;
    default: fail_msg("field %zu: bad type %d", field, a->type);
    }
}

/* ---- rebuilding a visited value with jansson ---- */

#define BUILD_DEPTH 2100 /* above the decoder's nesting limit */

typedef struct builder {
    json_t *root;
    json_t *open[BUILD_DEPTH];
    int depth;
    const char *key;
    size_t klen;
    int failed;
} builder;

static int attach(builder *b, json_t *v)
{
    if (!v) {
        b->failed = 1;
        return SF_E_NOMEM;
    }
    if (b->depth == 0) {
        if (b->root)
            b->failed = 1; /* a second top-level value */
        b->root = v;
        return 0;
    }
    json_t *top = b->open[b->depth - 1];
    int rc = json_is_array(top) ? json_array_append_new(top, v)
                                : json_object_setn_new(top, b->key, b->klen, v);
    if (rc)
        b->failed = 1;
    return 0;
}

static int open_container(builder *b, json_t *c)
{
    if (!c || b->depth >= BUILD_DEPTH) {
        b->failed = 1;
        return SF_E_NOMEM;
    }
    json_incref(c); /* attach() hands one reference to the parent */
    attach(b, c);
    b->open[b->depth++] = c;
    return 0;
}

static int close_container(builder *b)
{
    if (b->depth == 0) {
        b->failed = 1;
        return 0;
    }
    json_decref(b->open[--b->depth]);
    return 0;
}

static int b_obj(void *ctx) { return open_container(ctx, json_object()); }
static int b_arr(void *ctx) { return open_container(ctx, json_array()); }
static int b_end(void *ctx) { return close_container(ctx); }

static int b_key(void *ctx, const char *k, size_t n)
{
    builder *b = ctx;
    b->key = k;
    b->klen = n;
    return 0;
}

static int b_scalar(void *ctx, const sf_value *v)
{
    builder *b = ctx;
    switch (v->type) {
    case SF_NULL: return attach(b, json_null());
    case SF_BOOL: return attach(b, json_boolean(v->u.b));
    case SF_INT: return attach(b, json_integer(v->u.i));
    case SF_DOUBLE: return attach(b, json_real(v->u.d));
    case SF_STRING: return attach(b, json_stringn(v->u.s.p, v->u.s.n));
    default: b->failed = 1; return 0;
    }
}

/* Exact equality: types, integers, reals to the bit, strings byte for
 * byte, object keys in the same order. */
static int json_same(const json_t *a, const json_t *b)
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
            if (!json_same(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
        for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia),
                         ib = json_object_iter_next((json_t *)b, ib)) {
            if (json_object_iter_key_len(ia) != json_object_iter_key_len(ib) ||
                memcmp(json_object_iter_key(ia), json_object_iter_key(ib),
                       json_object_iter_key_len(ia)) != 0 ||
                !json_same(json_object_iter_value(ia), json_object_iter_value(ib)))
                return 0;
        }
        return 1;
    }
    default: return 1;
    }
}

/* Visits the line; asserts the verdict matches the decoders' (rf) and that
 * the events rebuild jansson's value. A visit reads every value, so where
 * the decoders accept a line (or reject one of its values), the visit
 * rejects the first number jansson cannot store, with jansson's reason. */
static void check_visit(fixture *fx, const char *line, size_t len, int rf)
{
    builder *b = calloc(1, sizeof *b);
    assert_non_null(b);
    sf_json_visitor v = {b_obj, b_end, b_arr, b_end, b_key, b_scalar, b};
    char msg[512] = "(unset)";
    int rv = sf_jsonproj_visit(fx->vis, line, len, &v, msg, sizeof msg);
    int want = rf == 1 + SF_REJ_TYPE_MISMATCH || rf == 1 + SF_REJ_DOUBLE_OVERFLOW ? 0 : rf;
    json_error_t jerr;
    json_t *ref = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    int nulkey = !ref && json_error_code(&jerr) == json_error_null_byte_in_key;
    /* jansson cannot load keys holding U+0000, nor the numbers it refuses:
     * no tree to compare for those lines. */
    int unloadable = nulkey || (!ref && json_error_code(&jerr) == json_error_numeric_overflow);
    if (want == 0 && !ref && json_error_code(&jerr) == json_error_numeric_overflow)
        want = 1 + (strstr(jerr.text, "integer") ? SF_REJ_INT_OVERFLOW : SF_REJ_DOUBLE_OVERFLOW);
    if (want == 0 && nulkey && (rv == 1 + SF_REJ_INT_OVERFLOW || rv == 1 + SF_REJ_DOUBLE_OVERFLOW))
        want = rv; /* jansson stopped at the key before any number it refuses */
    if (rv != want)
        fail_msg("visit of \"%.*s\": %d (%s), decoders %d (%s)", (int)(len > 200 ? 200 : len),
                 line, rv, msg, rf, fx->fmsg);
    if (rv > 0 && rv == rf && rv != 1 + SF_REJ_DOUBLE_OVERFLOW)
        assert_string_equal(msg, fx->fmsg);
    if ((rv == 0 || rv == 1 + SF_REJ_NOT_OBJECT) && !unloadable) {
        assert_non_null(ref);
        assert_false(b->failed);
        assert_int_equal(b->depth, 0);
        assert_non_null(b->root);
        if (!json_same(b->root, ref))
            fail_msg("visit of \"%.*s\" rebuilds a different value", (int)(len > 200 ? 200 : len),
                     line);
    }
    json_decref(ref);
    json_decref(b->root);
    for (int i = b->depth; i > 0; i--)
        json_decref(b->open[i - 1]);
    free(b);
}

/* Decodes with both decoders, asserts they agree, returns the result. */
/* The line in a window as a range reader holds it (end, then the next
 * line's bytes, in an exact-size buffer): sf_decoder_decode_window either
 * takes it, which only an accepted line may be, with the row the reference
 * gives and the line's length, or leaves it. A window that ends before
 * the line's '\n' is always left. */
static void check_window(fixture *fx, const char *line, size_t len, int rf, const char *end)
{
    if (memchr(line, '\n', len))
        return; /* a reader would hand out a shorter line */
    size_t elen = strlen(end), n = len + elen + len;
    char *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    memcpy(buf, line, len);
    memcpy(buf + len, end, elen);
    memcpy(buf + len + elen, line, len);
    size_t wlen = 0;
    sf_value row[MAXF];
    memset(row, 0xA5, sizeof row);
    size_t used = sf_decoder_decode_window(fx->fast, buf, n, row, &wlen);
    if (used) {
        if (rf != 0)
            fail_msg("line \"%.*s\": rejected (%d), but its window was taken",
                     (int)(len > 200 ? 200 : len), line, rf);
        assert_int_equal(wlen, len);
        assert_int_equal(used, len + elen);
        for (size_t i = 0; i < fx->nfields; i++)
            assert_same_value(&row[i], &fx->rrow[i], i);
    }
    assert_int_equal(sf_decoder_decode_window(fx->fast, buf, len + elen - 1, row, &wlen), 0);
    free(buf);
}

static int run(fixture *fx, const char *line, size_t len)
{
    memset(fx->frow, 0xA5, sizeof fx->frow);
    memset(fx->rrow, 0x5A, sizeof fx->rrow);
    strcpy(fx->fmsg, "(unset)");
    strcpy(fx->rmsg, "(unset)");
    int rf = sf_decoder_decode(fx->fast, line, len, fx->frow, fx->fmsg, sizeof fx->fmsg);
    int rr = sf_decoder_decode(fx->ref, line, len, fx->rrow, fx->rmsg, sizeof fx->rmsg);
    if (rf != rr)
        fail_msg("line \"%.*s\": fast %d (%s), jansson %d (%s)", (int)(len > 200 ? 200 : len),
                 line, rf, fx->fmsg, rr, fx->rmsg);
    if (rf == 1 + SF_REJ_TYPE_MISMATCH || rf == 1 + SF_REJ_NOT_OBJECT)
        assert_string_equal(fx->fmsg, fx->rmsg);
    if (rf == 0)
        for (size_t i = 0; i < fx->nfields; i++)
            assert_same_value(&fx->frow[i], &fx->rrow[i], i);
    /* Again: a line the fast decoder accepted is now a shape it learned
     * (core/jsonproj.c), which the window and the second pass read it by. */
    if (len == 0 || line[len - 1] != '\r') /* else a reader would drop that '\r' */
        check_window(fx, line, len, rf, "\n");
    check_window(fx, line, len, rf, "\r\n");
    char fmsg1[sizeof fx->fmsg];
    memcpy(fmsg1, fx->fmsg, sizeof fmsg1);
    memset(fx->frow, 0xA5, sizeof fx->frow);
    strcpy(fx->fmsg, "(unset)");
    int rf2 = sf_decoder_decode(fx->fast, line, len, fx->frow, fx->fmsg, sizeof fx->fmsg);
    if (rf2 != rf)
        fail_msg("line \"%.*s\": fast %d (%s), then %d (%s)", (int)(len > 200 ? 200 : len), line,
                 rf, fmsg1, rf2, fx->fmsg);
    if (rf != 0)
        assert_string_equal(fx->fmsg, fmsg1);
    else
        for (size_t i = 0; i < fx->nfields; i++)
            assert_same_value(&fx->frow[i], &fx->rrow[i], i);
    check_visit(fx, line, len, rf);
    return rf;
}

#define RUN(fx, lit) run((fx), (lit), sizeof(lit) - 1)
#define REJ(r) (1 + (r))

static void expect_int(const fixture *fx, int slot, int64_t v)
{
    assert_int_equal(fx->frow[slot].type, SF_INT);
    assert_true(fx->frow[slot].u.i == v);
}

static void expect_double(const fixture *fx, int slot, double v)
{
    assert_int_equal(fx->frow[slot].type, SF_DOUBLE);
    assert_memory_equal(&fx->frow[slot].u.d, &v, sizeof v);
}

static void expect_bytes(const fixture *fx, int slot, const char *p, size_t n)
{
    assert_int_equal(fx->frow[slot].type, SF_STRING);
    assert_int_equal(fx->frow[slot].u.s.n, n);
    assert_memory_equal(fx->frow[slot].u.s.p, p, n);
}

#define EXPECT_STR(fx, slot, lit) expect_bytes((fx), (slot), (lit), sizeof(lit) - 1)

static void expect_null(const fixture *fx, int slot)
{
    assert_int_equal(fx->frow[slot].type, SF_NULL);
}

/* Runs the n bytes at text as one line from a buffer of exactly n bytes,
 * so that a read past the line's end is caught by ASan. */
static int run_exact(fixture *fx, const char *text, size_t n)
{
    char *line = malloc(n ? n : 1);
    assert_non_null(line);
    memcpy(line, text, n);
    int rc = run(fx, line, n);
    free(line);
    return rc;
}

/* Runs each of the n NUL-terminated lines (in exact-size buffers) in turn,
 * so that later lines meet what earlier ones taught the fast decoder. */
static void run_each(fixture *fx, const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_exact(fx, lines[i], strlen(lines[i]));
}

/* ---- values ---- */

static void test_kpi_event_line_extracts_projected_fields(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"event_id\":\"e0000000001\",\"user_id\":862,\"item_id\":22,"
                             "\"event_type\":\"purchase\",\"ts\":1755649439,"
                             "\"props\":{\"price\":354.41,\"quantity\":2}}"),
                     0);
    expect_int(fx, USER_ID, 862);
    expect_int(fx, ITEM_ID, 22);
    EXPECT_STR(fx, EVENT_TYPE, "purchase");
    expect_int(fx, TS, 1755649439);
    expect_double(fx, PRICE, 354.41);
    expect_int(fx, QUANTITY, 2);
    expect_null(fx, NAME);
    expect_null(fx, OK);
    expect_null(fx, DAY);
    expect_null(fx, A);
}

static void test_decoder_reuse_resets_fields_missing_from_the_next_line(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":1,\"name\":\"x\\ny\",\"props\":{\"price\":2}}"), 0);
    expect_int(fx, USER_ID, 1);
    assert_int_equal(RUN(fx, "{\"item_id\":3}"), 0);
    expect_null(fx, USER_ID);
    expect_null(fx, NAME);
    expect_null(fx, PRICE);
    expect_int(fx, ITEM_ID, 3);
}

static void test_simple_escapes_decode_to_their_bytes(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t.\"}"), 0);
    EXPECT_STR(fx, NAME, "q\" b\\ s/ \b\f\n\r\t.");
}

static void test_unicode_escapes_encode_as_utf8(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\":\"\\u0041\\u00e9\\u07FF\\u0800\\u20AC\\uffff\"}"), 0);
    EXPECT_STR(fx, NAME, "A\xc3\xa9\xdf\xbf\xe0\xa0\x80\xe2\x82\xac\xef\xbf\xbf");
}

static void test_surrogate_pair_escape_gives_four_byte_utf8(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\":\"smile \\ud83d\\ude00!\",\"event_type\":\"\\uDBFF\\uDFFF\"}"),
                     0);
    EXPECT_STR(fx, NAME, "smile \xf0\x9f\x98\x80!");
    EXPECT_STR(fx, EVENT_TYPE, "\xf4\x8f\xbf\xbf");
}

static void test_lone_high_surrogate_is_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\":\"\\uD800\"}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"name\":\"\\uD800x\"}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"other\":\"\\uDBFF\\n\"}"), REJ(SF_REJ_INVALID_JSON));
}

static void test_lone_low_surrogate_is_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\":\"\\uDC00\"}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"name\":\"\\uDFFF\\uD800\"}"), REJ(SF_REJ_INVALID_JSON));
}

static void test_high_surrogate_then_non_low_escape_is_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\":\"\\uD800\\u0041\"}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"name\":\"\\uD800\\uD800\\uDC00\"}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"name\":\"\\uD800\\\\u0041\"}"), REJ(SF_REJ_INVALID_JSON));
}

static void test_invalid_utf8_later_in_string_beats_lone_surrogate(void **state)
{
    fixture *fx = *state;
    /* jansson checks surrogates only once the whole string has been read. */
    assert_int_equal(RUN(fx, "{\"name\":\"\\uD800 \xff\"}"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"name\":\"\\uD800\"\xff}"), REJ(SF_REJ_INVALID_JSON));
}

static void test_nul_escape_in_value_is_kept(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\":\"a\\u0000b\"}"), 0);
    expect_bytes(fx, NAME, "a\0b", 3);
}

static void test_nul_escape_in_key_is_accepted_and_matches_no_field(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\\u0000\":\"x\"}"), 0);
    expect_null(fx, NAME);
    assert_int_equal(RUN(fx, "{\"props\":{\"\\u0000\":1,\"price\":2.5}}"), 0);
    expect_double(fx, PRICE, 2.5);
    assert_int_equal(RUN(fx, "{\"name\":\"y\",\"name\\u0000\":\"x\",\"user_id\":1e400,"
                             "\"foo\\u0000bar\":42}"),
                     REJ(SF_REJ_TYPE_MISMATCH));
    assert_int_equal(RUN(fx, "{\"name\":\"y\",\"name\\u0000\":\"x\",\"a\":1e30,\"k\\u0000\":{}}"), 0);
    EXPECT_STR(fx, NAME, "y");
    expect_double(fx, A, 1e30);
    /* An escaped backslash before "u0000" is no NUL escape. */
    assert_int_equal(RUN(fx, "{\"n\\\\u0000\":1,\"user_id\":3}"), 0);
    expect_int(fx, USER_ID, 3);
}

static void test_raw_nul_byte_in_string_is_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\":\"a\0b\"}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"na\0me\":1}"), REJ(SF_REJ_INVALID_JSON));
}

static void test_raw_nul_byte_where_a_token_starts_is_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":\0" "1}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "\0{}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{}\0"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":1 \0}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":1\0\0}"), REJ(SF_REJ_INVALID_JSON));
}

static void test_nul_byte_right_after_number_or_literal_is_invalid_json(void **state)
{
    fixture *fx = *state;
    /* jansson's lexer loses a NUL it reads past a number or literal; the
     * reference rejects the line at that byte all the same. */
    assert_int_equal(RUN(fx, "{\"user_id\":7\0,\"ok\":true\0}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"a\":1.5e3\0}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"v\":true\0}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "[1\0]"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "[1\0"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "[1\0\xff]"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"a\":123\0"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"a\":1e400\0}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"a\":1\0,\"b\":99999999999999999999}"), REJ(SF_REJ_INVALID_JSON));
}

/* ---- UTF-8 ---- */

static void test_valid_multibyte_utf8_is_kept_verbatim(void **state)
{
    fixture *fx = *state;
    static const char *ok[] = {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
                               "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
                               "\xf4\x8f\xbf\xbf", "caf\xc3\xa9 \xe2\x82\xac"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "{\"name\":\"%s\"}", ok[i]);
        assert_int_equal(run(fx, line, (size_t)n), 0);
        expect_bytes(fx, NAME, ok[i], strlen(ok[i]));
    }
}

static void test_invalid_utf8_in_strings_is_invalid_utf8(void **state)
{
    fixture *fx = *state;
    static const char *bad[] = {
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* UTF-16 surrogate encoded in UTF-8 */
        "\xed\xbf\xbf",     /* another surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* lead byte beyond the range */
        "\xff",             /* never valid */
        "\xfe",             /* never valid */
        "\x80",             /* stray continuation */
        "\xe2\x82",         /* truncated before the quote */
        "\xc3",             /* truncated */
        "\xc3\x28",         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "{\"name\":\"%s\"}", bad[i]);
        assert_int_equal(run(fx, line, (size_t)n), REJ(SF_REJ_INVALID_UTF8));
        n = snprintf(line, sizeof line, "{\"k%s\":1}", bad[i]);
        assert_int_equal(run(fx, line, (size_t)n), REJ(SF_REJ_INVALID_UTF8));
    }
}

static void test_utf8_truncated_by_end_of_line_is_invalid_utf8(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"name\":\"\xf0\x9f\x98"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"name\":\"x\"}\xe2\x82"), REJ(SF_REJ_INVALID_UTF8));
}

static void test_invalid_utf8_outside_strings_is_invalid_utf8(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":\xff}"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "\xff"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"user_id\":1}\xc0\x80"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"ok\":true\xff}"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"ok\":tru\xff}"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"user_id\":-\xff}"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"a\":1.\xff}"), REJ(SF_REJ_INVALID_UTF8));
}

static void test_valid_utf8_outside_strings_is_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":\xc3\xa9}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":1\xc2\xa0}"), REJ(SF_REJ_INVALID_JSON));
}

/* ---- numbers ---- */

static void test_leading_zeros_are_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":01}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":-01}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"a\":00.5}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":0}"), 0);
    expect_int(fx, USER_ID, 0);
}

static void test_minus_zero_is_int_zero_and_double_negative_zero(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":-0,\"a\":-0.0,\"props\":{\"price\":-0e5}}"), 0);
    expect_int(fx, USER_ID, 0);
    expect_double(fx, A, -0.0);
    assert_true(signbit(fx->frow[A].u.d));
    expect_double(fx, PRICE, -0.0);
    /* An integer -0 is int 0, so as a double it is +0.0 like the reference. */
    assert_int_equal(RUN(fx, "{\"a\":-0}"), 0);
    expect_double(fx, A, 0.0);
    assert_false(signbit(fx->frow[A].u.d));
}

static void test_malformed_numbers_are_invalid_json(void **state)
{
    fixture *fx = *state;
    static const char *bad[] = {"+1", ".5", "5.", "1.e5", "1e", "1e+", "1E-", "-", "-a",
                                "0x10", "1.5.3", "NaN", "Infinity", "-Infinity", "1e5e5",
                                "--1", "01.5", "1_000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "{\"a\":%s}", bad[i]);
        assert_int_equal(run(fx, line, (size_t)n), REJ(SF_REJ_INVALID_JSON));
    }
}

static void test_exponent_forms_give_strtod_doubles(void **state)
{
    fixture *fx = *state;
    static const char *nums[] = {
        "1e2", "1E+2", "1e-2", "2.5E-3", "1e22", "1e23", "123456789012345.6",
        "1234567890123456789", "0.1", "0.30000000000000004", "9007199254740993",
        "9007199254740993.0", "2.2250738585072014e-308", "4.9e-324", "1.5e300",
        "0.000000000000000000000000000001", "123.456e-7", "100000000000000000000000000",
        "3.141592653589793238462643383279502884197", "-2.5e-3", "1e0", "0e0", "0.0e-9999"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        char line[128];
        int n = snprintf(line, sizeof line, "{\"a\":%s}", nums[i]);
        int rc = run(fx, line, (size_t)n);
        if (rc == REJ(SF_REJ_INT_OVERFLOW))
            continue; /* the 27-digit integer: checked in the int64 test */
        assert_int_equal(rc, 0);
        expect_double(fx, A, strtod(nums[i], NULL));
    }
    assert_int_equal(RUN(fx, "{\"a\":1E+2}"), 0);
    expect_double(fx, A, 100.0);
}

/* Reals of up to 15 digits with a short fraction are read without strtod:
 * the boundaries of that path (digit counts, an exponent after the
 * fraction, a sign, zeros, the line's end right after the number). */
static void test_short_reals_give_strtod_doubles(void **state)
{
    fixture *fx = *state;
    static const char *nums[] = {
        "0.5", "-0.0", "0.0", "-0.5", "189.38", "1.1", "0.1", "0.3", "9.999999", "1.2345678",
        "12345678901234.5", "1234567890123.45", "123456789012345.6", "99999999999999.9",
        "9007199254740.993", "0.000001", "0.0000001", "5.5e1", "5.5E-1", "7.25e+2", "1.0",
        "-123.456", "3.14159265", "2.5000000", "100.01", "-99999999999999.9", "0.1234567",
    };
    char line[96];
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        double want = strtod(nums[i], NULL);
        int n = snprintf(line, sizeof line, "{\"props\":{\"price\":%s}}", nums[i]);
        assert_int_equal(run_exact(fx, line, (size_t)n), 0);
        expect_double(fx, PRICE, want);
        n = snprintf(line, sizeof line, "{\"props\":{\"price\":%s},\"ts\":1}", nums[i]);
        assert_int_equal(run_exact(fx, line, (size_t)n), 0);
        expect_double(fx, PRICE, want);
        n = snprintf(line, sizeof line, "{\"a\":%s}", nums[i]);
        assert_int_equal(run_exact(fx, line, (size_t)n), 0);
        expect_double(fx, A, want);
        n = snprintf(line, sizeof line, "{\"props\":{\"price\":%s", nums[i]);
        assert_int_equal(run_exact(fx, line, (size_t)n), REJ(SF_REJ_INVALID_JSON));
    }
    static const char *bad[] = {"{\"a\":1.}", "{\"a\":1.", "{\"a\":01.5}", "{\"a\":-.5}",
                                "{\"a\":1.5e}", "{\"a\":1.5x}", "{\"a\":1.5\xff}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(run_exact(fx, bad[i], strlen(bad[i])), 0);
}

static void test_real_underflow_is_accepted(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"a\":1e-400}"), 0);
    expect_double(fx, A, 0.0);
    assert_int_equal(RUN(fx, "{\"a\":-1e-400}"), 0);
    expect_double(fx, A, -0.0);
    assert_int_equal(RUN(fx, "{\"a\":4.9406564584124654e-324}"), 0);
    assert_true(fx->frow[A].u.d > 0.0);
}

static void test_real_overflow_in_a_double_field_is_double_overflow(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"a\":1e400}"), REJ(SF_REJ_DOUBLE_OVERFLOW));
    assert_string_equal(fx->fmsg, "a: number 1e400 is beyond the double range");
    assert_int_equal(RUN(fx, "{\"a\":-1e400}"), REJ(SF_REJ_DOUBLE_OVERFLOW));
    assert_int_equal(RUN(fx, "{\"unprojected\":1.8e308}"), 0);
    assert_int_equal(RUN(fx, "{\"a\":1e99999999999999999999}"), REJ(SF_REJ_DOUBLE_OVERFLOW));
    /* An integer literal beyond the double range too. */
    char line[400] = "{\"a\":1";
    memset(line + 6, '0', 320);
    strcpy(line + 326, "}");
    assert_int_equal(run(fx, line, strlen(line)), REJ(SF_REJ_DOUBLE_OVERFLOW));
    /* Around DBL_MAX strtod decides: the largest double and what rounds to it. */
    assert_int_equal(RUN(fx, "{\"a\":1.7976931348623157e308}"), 0);
    expect_double(fx, A, DBL_MAX);
    assert_int_equal(RUN(fx, "{\"a\":1.7976931348623158e308}"), 0);
    expect_double(fx, A, DBL_MAX);
    assert_int_equal(RUN(fx, "{\"a\":1.7976931348623159e308}"), REJ(SF_REJ_DOUBLE_OVERFLOW));
    assert_int_equal(RUN(fx, "{\"a\":0.00017976931348623159e312}"),
                     REJ(SF_REJ_DOUBLE_OVERFLOW));
    assert_int_equal(RUN(fx, "{\"a\":179769313486231570000e288}"), 0);
}

static void test_int64_limits(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":9223372036854775807}"), 0);
    expect_int(fx, USER_ID, INT64_MAX);
    assert_int_equal(RUN(fx, "{\"user_id\":9223372036854775808}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "user_id: expected int64, got number 9223372036854775808 "
                                  "(outside int64)");
    assert_int_equal(RUN(fx, "{\"user_id\":-9223372036854775808}"), 0);
    expect_int(fx, USER_ID, INT64_MIN);
    assert_int_equal(RUN(fx, "{\"user_id\":-9223372036854775809}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_int_equal(RUN(fx, "{\"user_id\":18446744073709551616}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_int_equal(RUN(fx, "{\"user_id\":99999999999999999999999}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_int_equal(RUN(fx, "{\"user_id\":1e400}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "user_id: expected int64, got number 1e400 "
                                  "(beyond the double range)");
    assert_int_equal(RUN(fx, "{\"name\":1234567890123456789012345678901234567890123}"),
                     REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "name: expected string, got number "
                                  "1234567890123456789012345678901234567890... (outside int64)");
    /* Beyond int64, into a double field: the nearest double. */
    assert_int_equal(RUN(fx, "{\"a\":123456789012345678901}"), 0);
    expect_double(fx, A, 123456789012345678901.0);
    assert_int_equal(RUN(fx, "{\"a\":-99999999999999999999999999999}"), 0);
    expect_double(fx, A, -1e29);
    /* An int64 in a double field converts like the reference's cast. */
    assert_int_equal(RUN(fx, "{\"a\":9223372036854775807}"), 0);
    expect_double(fx, A, (double)INT64_MAX);
}

/* Eight digits are read as one word, and two more (unix seconds have ten)
 * in one test when a non-digit follows them: each length around that, and
 * what may follow the tenth digit, agree with the reference. */
static void test_numbers_around_ten_digits(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":123456789,\"ts\":1}"), 0);
    expect_int(fx, USER_ID, 123456789);
    assert_int_equal(RUN(fx, "{\"user_id\":1234567890,\"ts\":1}"), 0);
    expect_int(fx, USER_ID, 1234567890);
    assert_int_equal(RUN(fx, "{\"user_id\":-9876543210}"), 0);
    expect_int(fx, USER_ID, -9876543210);
    assert_int_equal(RUN(fx, "{\"user_id\":12345678901,\"ts\":1}"), 0);
    expect_int(fx, USER_ID, 12345678901);
    assert_int_equal(RUN(fx, "{\"user_id\":123456789012}"), 0);
    expect_int(fx, USER_ID, 123456789012);
    assert_int_equal(RUN(fx, "{\"ts\":1755649439 ,\"user_id\":0}"), 0);
    expect_int(fx, TS, 1755649439);
    assert_int_equal(RUN(fx, "{\"a\":1755649439.5}"), 0);
    expect_double(fx, A, 1755649439.5);
    assert_int_equal(RUN(fx, "{\"a\":1755649439e2}"), 0);
    expect_double(fx, A, 175564943900.0);
    assert_int_equal(RUN(fx, "{\"user_id\":1755649439x}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":0755649439}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":1755649439"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":17556494"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":175564943"), REJ(SF_REJ_INVALID_JSON));
}

static void test_huge_numbers_in_unread_fields_are_accepted(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"x\":[{\"y\":12345678901234567890}],\"user_id\":1}"), 0);
    expect_int(fx, USER_ID, 1);
    assert_int_equal(RUN(fx, "{\"id\":123456789012345678901234567890,\"r\":1e400,"
                             "\"n\":-1E+99999,\"user_id\":2,\"props\":{\"big\":-9e999999}}"),
                     0);
    expect_int(fx, USER_ID, 2);
    expect_null(fx, PRICE);
    /* Grammar is still checked where a number is not read. */
    assert_int_equal(RUN(fx, "{\"id\":0123456789012345678901234567890,\"user_id\":1}"),
                     REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"r\":1e400.5,\"user_id\":1}"), REJ(SF_REJ_INVALID_JSON));
}

static void test_many_huge_numbers_each_reach_their_own_field(void **state)
{
    fixture *fx = *state;
    /* The reference tells replaced numbers apart by their bits: use enough
     * of them that several bit passes are needed. */
    char line[2048];
    int n = snprintf(line, sizeof line, "{");
    for (int i = 0; i < 9; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "\"u%d\":%d00000000000000000000%d,", i,
                      i + 1, i);
    n += snprintf(line + n, sizeof line - (size_t)n,
                  "\"a\":7%s,\"props\":{\"price\":-3%s},\"user_id\":5}",
                  "000000000000000000000", "000000000000000000000000");
    assert_int_equal(run(fx, line, (size_t)n), 0);
    expect_double(fx, A, 7e21);
    expect_double(fx, PRICE, -3e24);
    expect_int(fx, USER_ID, 5);
}

static void test_overflow_then_invalid_utf8_byte_reports_utf8(void **state)
{
    fixture *fx = *state;
    /* jansson reads the byte after a number before checking its range. */
    assert_int_equal(RUN(fx, "[99999999999999999999\xff]"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "[1e400\xff]"), REJ(SF_REJ_INVALID_UTF8));
    /* A valid character after a number is an unexpected token. */
    assert_int_equal(RUN(fx, "[99999999999999999999\xc3\xa9]"), REJ(SF_REJ_INVALID_JSON));
}

/* ---- syntax ---- */

static void test_all_whitespace_kinds_are_skipped(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, " \t\r\n{ \"user_id\" \n:\t5 ,\r\"props\" : { \"price\" :\n1.25 } "
                             ",\"ok\":false\t}\r\n "),
                     0);
    expect_int(fx, USER_ID, 5);
    expect_double(fx, PRICE, 1.25);
    assert_int_equal(fx->frow[OK].type, SF_BOOL);
    assert_int_equal(fx->frow[OK].u.b, 0);
}

static void test_other_whitespace_is_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":1}\v"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "\f{\"user_id\":1}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":\xc2\xa0" "1}"), REJ(SF_REJ_INVALID_JSON));
}

static void test_empty_and_whitespace_only_lines_are_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(run(fx, "", 0), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, " \t\r\n"), REJ(SF_REJ_INVALID_JSON));
}

static void test_trailing_garbage_is_invalid_json(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":1}x"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":1} {}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":1},"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":1}}"), REJ(SF_REJ_INVALID_JSON));
    /* The trailing token is read before the error, so its own error wins. */
    assert_int_equal(RUN(fx, "{\"user_id\":1} 99999999999999999999"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"user_id\":1} \"\xff\""), REJ(SF_REJ_INVALID_UTF8));
}

static void test_unexpected_token_is_read_before_the_syntax_error(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "[1 99999999999999999999]"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"a\" \"b\xff\"}"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{99999999999\xf0}"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"a\":1 truex\xff}"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"a\":1 1e400}"), REJ(SF_REJ_INVALID_JSON));
}

static void test_structural_errors_are_invalid_json(void **state)
{
    fixture *fx = *state;
    static const char *bad[] = {"{\"user_id\":1,}", "{,}", "{\"a\"}", "{\"a\" 1}", "{\"a\":}",
                                "[1,]", "[,1]", "[1 2]", "{\"a\":1 \"b\":2}", "{1:2}",
                                "{'a':1}", "{\"a\":1]", "[1}", "{\"a\":truex}", "{\"a\":nul}",
                                "{\"a\":True}", "{\"a\":\"x\"y}", "{\"a\":\"\\x\"}",
                                "{\"a\":\"\\u12G4\"}", "{\"a\":\"tab\there\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(run(fx, bad[i], strlen(bad[i])), REJ(SF_REJ_INVALID_JSON));
}

static void test_invalid_json_message_gives_the_byte_column(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":1,}"), REJ(SF_REJ_INVALID_JSON));
    assert_true(strncmp(fx->fmsg, "invalid JSON at column 14: ", 27) == 0);
    assert_int_equal(RUN(fx, "{\"name\":\"\xc3\xa9\xff\"}"), REJ(SF_REJ_INVALID_UTF8));
    assert_true(strncmp(fx->fmsg, "invalid UTF-8 at column 12: ", 28) == 0);
}

static void test_every_prefix_of_a_valid_line_is_rejected_alike(void **state)
{
    fixture *fx = *state;
    static const char line[] =
        "{\"event_id\":\"e0000000001\",\"user_id\":-862,\"item_id\":22,\"event_type\":"
        "\"caf\xc3\xa9 \\u00e9\\ud83d\\ude00\",\"ts\":1755649439,\"props\":{\"price\":3.5e-1,"
        "\"q\":[true,false,null,{}]},\"ok\":true,\"day\":\"2025-08-19\"}";
    size_t n = sizeof line - 1;
    assert_int_equal(run(fx, line, n), 0);
    for (size_t k = 0; k < n; k++) {
        /* An exact-size copy, so a read past the prefix is an ASan error. */
        char *prefix = malloc(k ? k : 1);
        assert_non_null(prefix);
        memcpy(prefix, line, k);
        int rc = run(fx, prefix, k);
        free(prefix);
        if (rc == 0 || rc == REJ(SF_REJ_TYPE_MISMATCH) || rc == REJ(SF_REJ_NOT_OBJECT))
            fail_msg("prefix of %zu bytes accepted", k);
    }
}

/* ---- duplicate keys and paths ---- */

static void test_duplicate_top_level_key_last_wins(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":1,\"name\":\"a\",\"user_id\":2,\"name\":\"b\\n\"}"), 0);
    expect_int(fx, USER_ID, 2);
    EXPECT_STR(fx, NAME, "b\n");
    assert_int_equal(RUN(fx, "{\"user_id\":1,\"user_id\":null}"), 0);
    expect_null(fx, USER_ID);
}

static void test_duplicate_prefix_key_resets_nested_fields(void **state)
{
    fixture *fx = *state;
    assert_int_equal(
        RUN(fx, "{\"props\":{\"price\":1.5,\"quantity\":2},\"props\":{\"quantity\":3}}"), 0);
    expect_null(fx, PRICE);
    expect_int(fx, QUANTITY, 3);
    assert_int_equal(RUN(fx, "{\"props\":{\"price\":1.5,\"price\":2.5}}"), 0);
    expect_double(fx, PRICE, 2.5);
}

static void test_prefix_key_replaced_by_scalar_gives_null(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"props\":{\"price\":1.5},\"props\":5}"), 0);
    expect_null(fx, PRICE);
    assert_int_equal(RUN(fx, "{\"props\":5,\"props\":{\"price\":1.5}}"), 0);
    expect_double(fx, PRICE, 1.5);
}

static void test_path_through_non_object_gives_null(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"props\":5}"), 0);
    expect_null(fx, PRICE);
    assert_int_equal(RUN(fx, "{\"props\":\"price\"}"), 0);
    expect_null(fx, PRICE);
    assert_int_equal(RUN(fx, "{\"props\":null}"), 0);
    expect_null(fx, PRICE);
}

static void test_fields_inside_arrays_are_not_matched(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"props\":[{\"price\":1.5}],\"x\":[{\"user_id\":1}]}"), 0);
    expect_null(fx, PRICE);
    expect_null(fx, USER_ID);
}

static void test_escaped_key_matches_its_field(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"us\\u0065r_id\":5,\"pr\\u006fps\":{\"pri\\u0063e\":0.5}}"), 0);
    expect_int(fx, USER_ID, 5);
    expect_double(fx, PRICE, 0.5);
}

static void test_key_differing_in_any_one_byte_does_not_match(void **state)
{
    fixture *fx = *state;
    for (size_t n = 1; n <= 20; n++) {
        char key[32], other[32], line[96];
        for (size_t i = 0; i < n; i++)
            key[i] = (char)('a' + i);
        key[n] = '\0';
        const sf_decode_field f[] = {{key, SF_INT, 0, {0, 0}}};
        reopen(fx, f, 1);
        for (size_t i = 0; i < n; i++) {
            memcpy(other, key, n + 1);
            other[i] = '@';
            int len = snprintf(line, sizeof line, "{\"%s\":1,\"%sx\":2,\"x%s\":3}", other, key, key);
            assert_int_equal(run(fx, line, (size_t)len), 0);
            expect_null(fx, 0);
        }
        int len = snprintf(line, sizeof line, "{\"%sx\":2,\"%s\":4}", key, key);
        assert_int_equal(run(fx, line, (size_t)len), 0);
        expect_int(fx, 0, 4);
    }
}

/* The key at a position of an object is first compared, as two words with
 * its closing quote and colon, with the key that was there in an earlier
 * line; every way of not being that key exactly (a longer or shorter key,
 * space before the colon, an escape, the line ending within 16 bytes) must
 * fall back to the scan and still agree with the reference. */
static void test_expected_key_word_match_agrees_with_the_scan(void **state)
{
    fixture *fx = *state;
    static const sf_decode_field f[] = {
        {"abcdefghijklmn", SF_INT, 0, {0, 0}},  /* 14 bytes: the longest compared as words */
        {"abcdefghijklmno", SF_INT, 1, {0, 0}}, /* 15: scanned */
        {"k", SF_STRING, 2, {0, 0}},
        {"p\xc3\xa9", SF_INT, 3, {0, 0}}, /* not ASCII: scanned */
        {"o.k", SF_INT, 4, {0, 0}},
    };
    reopen(fx, f, 5);
    static const char *lines[] = {
        "{\"abcdefghijklmn\":1,\"abcdefghijklmno\":2,\"k\":\"v\",\"p\xc3\xa9\":4,\"o\":{\"k\":5}}",
        "{\"abcdefghijklmn\":1,\"abcdefghijklmno\":2,\"k\":\"v\",\"p\xc3\xa9\":4,\"o\":{\"k\":5}}",
        "{\"abcdefghijklmn\" :1,\"abcdefghijklmno\":2,\"k\"\t:\"v\"          ,\"o\":{\"k\":6}}",
        "{\"abcdefghijklmnx\":1,\"abcdefghijklmm\":3,\"k\":\"w\",\"k\":\"z\",\"o\":{\"k\":7}}",
        "{\"abcdefghijklm\\u006e\":8,\"k\":\"\\u0041\",\"o\":{\"k\":9,\"k\":10}}",
        "{\"o\":{\"k\":1},\"k\":\"a\",\"abcdefghijklmn\":1,\"o\":{\"x\":2}}",
        "{\"abcdefghijklmn\":1,\"k\":\"a\",\"abcdefghijklmn\":\"x\"}",
        "{\"k\":\"a\",\"abcdefghijklmn\"",
        "{\"k\":\"a\",\"abcdefghijklmn\":",
        "{\"k\":\"a\",\"abcdefghijklmn\":}         ",
        "{\"k\":\"a\",\"abcdefghijklmn\":\"\xff\"}         ",
        "{\"k\":\"a\",\"abcdefghijklmn\":1,\"k\":\"\x01\"}         ",
    };
    run_each(fx, lines, sizeof lines / sizeof lines[0]);
    assert_int_equal(run(fx, lines[0], strlen(lines[0])), 0);
    expect_int(fx, 0, 1);
    expect_int(fx, 1, 2);
    EXPECT_STR(fx, 2, "v");
    expect_int(fx, 3, 4);
    expect_int(fx, 4, 5);
    assert_int_equal(run(fx, lines[3], strlen(lines[3])), 0);
    expect_null(fx, 0);
    EXPECT_STR(fx, 2, "z");
    expect_int(fx, 4, 7);
    assert_int_equal(run(fx, lines[4], strlen(lines[4])), 0);
    expect_int(fx, 0, 8);
    EXPECT_STR(fx, 2, "A");
    expect_int(fx, 4, 10);
    assert_int_equal(run(fx, lines[5], strlen(lines[5])), 0);
    expect_null(fx, 4);
}

/* Keys are first compared with the keys of the same object at the same
 * position in earlier lines: shapes that change from line to line, more
 * keys than are remembered, an object met twice in one line, and keys that
 * cannot be remembered (escaped, long, spaced) must all agree with the
 * reference. */
static void test_remembered_key_order_agrees_with_the_scan(void **state)
{
    fixture *fx = *state;
    char line[2048];
    for (int round = 0; round < 6; round++) {
        size_t n = (size_t)sprintf(line, "{");
        for (int k = 0; k < 40; k++) {
            /* the projected keys move by one position a round */
            if (k == 3 + round)
                n += (size_t)sprintf(line + n, "\"user_id\":%d,", round);
            if (k == 20 - round)
                n += (size_t)sprintf(line + n, "\"props\":{\"x%d\":1,\"price\":%d.5},", round % 2, round);
            n += (size_t)sprintf(line + n, "\"%c%02d\":\"v\",", "abc"[(k + round) % 3], k);
        }
        n += (size_t)sprintf(line + n, "\"event_type\":\"e%d\"}", round);
        for (int again = 0; again < 2; again++) {
            assert_int_equal(run_exact(fx, line, n), 0);
            expect_int(fx, USER_ID, round);
            expect_double(fx, PRICE, round + 0.5);
        }
    }
    static const char *lines[] = {
        "{\"props\":{\"price\":1.5,\"quantity\":2},\"props\":{\"quantity\":3},\"ts\":1}",
        "{\"props\":{\"price\":1.5,\"quantity\":2},\"props\":{\"quantity\":3},\"ts\":1}",
        "{\"props\":{\"quantity\":2,\"price\":1.5},\"props\":{\"price\":4.5},\"ts\":1}",
        "{\"us\\u0065r_id\":5,\"props\" :{\"price\":1.5},\"a_key_longer_than_fourteen\":1,\"ts\":2}",
        "{\"us\\u0065r_id\":5,\"props\" :{\"price\":1.5},\"a_key_longer_than_fourteen\":1,\"ts\":2}",
        "{\"user_id\":6,\"props\":{\"price\":2.5},\"ts\":3,\"a_key_longer_than_fourteen\":1}",
        "{\"user_id\":7,\"pr\xc3\xa9\":{\"price\":2.5},\"ts\":3,\"props\":{\"price\":9.5}}",
        "{\"user_id\":7,\"pr\xc3\xa9\":{\"price\":2.5},\"ts\":3,\"props\":{\"price\":9.5}}",
        "{\"user_id\":7,\"pr\xc3\":{\"price\":2.5},\"ts\":3,\"props\":{\"price\":9.5}}",
        "{\"user_id\":7,\"props\x01\":{\"price\":2.5},\"ts\":3}",
        "{\"user_id\":8,\"props\"}",
        "{\"user_id\":8,\"props\":",
    };
    run_each(fx, lines, sizeof lines / sizeof lines[0]);
    assert_int_equal(run_exact(fx, lines[2], strlen(lines[2])), 0);
    expect_double(fx, PRICE, 4.5);
    assert_int_equal(run_exact(fx, lines[1], strlen(lines[1])), 0);
    expect_null(fx, PRICE);
    expect_int(fx, QUANTITY, 3);
    assert_int_equal(run_exact(fx, lines[7], strlen(lines[7])), 0);
    expect_double(fx, PRICE, 9.5);
}

/* A learned shape only ever accepts what the walk accepts: each line is
 * learned, then every one-byte change of it (bytes that start or end
 * values, keys and containers, or break UTF-8) is decoded by a decoder that
 * knows the line's shape, and must agree with the reference. */
static void test_learned_shape_agrees_with_the_reference_on_every_one_byte_change(void **state)
{
    fixture *fx = *state;
    static const char *lines[] = {
        "{\"event_id\":\"e01\",\"user_id\":862,\"item_id\":22,\"event_type\":\"add\","
        "\"ts\":1755649439,\"props\":{\"price\":18.5}}",
        "{\"name\":\"a\\\"b\\u00e9\",\"ok\":true,\"a\":-1.5e3,\"x\":[1,{\"y\":null},\"z\"],"
        "\"props\":{},\"day\":\"2024-01-02\",\"q\":false}",
        " { \"props\" : { \"price\" : 1 } , \"props\":{\"quantity\":2},\"ts\":0 } ",
        "{\"user_id\":1,\"user_id\":{\"k\":[]},\"props\":[2],\"a\":12345678901234567890}",
        "{\"ts\":1,\"event_type\":\"x\\u00e9y\\n\",\"name\":\"\xc3\xa9t\xc3\xa9\"}",
    };
    static const char subst[] = "\"\\}],: 0.e\x80";
    char buf[256];
    for (size_t l = 0; l < sizeof lines / sizeof lines[0]; l++) {
        size_t n = strlen(lines[l]);
        assert_true(n < sizeof buf);
        for (size_t i = 0; i <= n; i++) {
            for (size_t k = 0; k < sizeof subst - 1; k++) {
                reopen(fx, default_fields, NDEFAULT);
                run_exact(fx, lines[l], n);
                memcpy(buf, lines[l], n);
                if (i < n) {
                    buf[i] = subst[k];
                    run_exact(fx, buf, n);
                } else {
                    buf[n] = subst[k]; /* one byte more */
                    run_exact(fx, buf, n + 1);
                }
            }
            if (i < n) {
                /* one byte fewer */
                reopen(fx, default_fields, NDEFAULT);
                run_exact(fx, lines[l], n);
                memcpy(buf, lines[l], i);
                memcpy(buf + i, lines[l] + i + 1, n - i - 1);
                run_exact(fx, buf, n - 1);
            }
        }
    }
}

/* Lines of changing shapes: more than the decoder learns, then so many
 * misses that it stops trying for a while; every line still agrees with
 * the reference, and lines of one shape that follow are read right. */
static void test_lines_of_many_shapes_agree_with_the_reference(void **state)
{
    fixture *fx = *state;
    char line[512];
    for (int i = 0; i < 1100; i++) {
        int n = sprintf(line, "{\"k%d\":%d,\"user_id\":%d,\"props\":{\"price\":%d.25,\"w%d\":[%d]}}",
                        i, i, i, i, i % 7, i);
        assert_int_equal(run_exact(fx, line, (size_t)n), 0);
        expect_int(fx, USER_ID, i);
        expect_double(fx, PRICE, i + 0.25);
    }
    for (int i = 0; i < 300; i++) {
        int n = sprintf(line, "{\"user_id\":%d,\"props\":{\"price\":%d.5},\"name\":\"n%d\"}", i,
                        i, i);
        assert_int_equal(run_exact(fx, line, (size_t)n), 0);
        expect_int(fx, USER_ID, i);
        expect_double(fx, PRICE, i + 0.5);
        expect_bytes(fx, NAME, line + n - 2 - (i < 10 ? 2 : i < 100 ? 3 : i < 1000 ? 4 : 5),
                     (size_t)(i < 10 ? 2 : i < 100 ? 3 : i < 1000 ? 4 : 5));
    }
}

static void test_field_that_is_also_a_path_prefix(void **state)
{
    fixture *fx = *state;
    static const sf_decode_field f[] = {
        {"props.price", SF_DOUBLE, 0, {0, 0}}, {"props", SF_STRING, 1, {0, 0}}, {"props.price", SF_INT, 2, {0, 0}}};
    reopen(fx, f, 3);
    assert_int_equal(RUN(fx, "{\"props\":\"flat\"}"), 0);
    expect_null(fx, 0);
    EXPECT_STR(fx, 1, "flat");
    expect_null(fx, 2);
    assert_int_equal(RUN(fx, "{\"props\":{\"price\":7}}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "props: expected string, got an object");
}

static void test_same_path_twice_fills_both_slots(void **state)
{
    fixture *fx = *state;
    static const sf_decode_field f[] = {{"v", SF_INT, 1, {0, 0}}, {"v", SF_DOUBLE, 0, {0, 0}}};
    reopen(fx, f, 2);
    assert_int_equal(RUN(fx, "{\"v\":3}"), 0);
    expect_int(fx, 1, 3);
    expect_double(fx, 0, 3.0);
}

static void test_empty_key_and_deep_paths(void **state)
{
    fixture *fx = *state;
    static const sf_decode_field f[] = {{"", SF_STRING, 0, {0, 0}}, {"a.b.c.d", SF_INT, 1, {0, 0}},
                                        {"a.b", SF_BOOL, 2, {0, 0}}};
    reopen(fx, f, 3);
    assert_int_equal(RUN(fx, "{\"\":\"e\",\"a\":{\"b\":{\"c\":{\"d\":4}}}}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "a.b: expected bool, got an object");
    assert_int_equal(RUN(fx, "{\"\":\"e\",\"a\":{\"b\":{\"c\":{\"d\":4}},\"b\":false}}"), 0);
    EXPECT_STR(fx, 0, "e");
    expect_null(fx, 1);
    assert_int_equal(fx->frow[2].u.b, 0);
}

/* ---- types and messages ---- */

static void test_type_mismatch_messages_match_the_reference(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"ts\":\"abc\"}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "ts: expected int64, got string \"abc\"");
    assert_int_equal(RUN(fx, "{\"ts\":1.5}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "ts: expected int64, got double 1.5");
    assert_int_equal(RUN(fx, "{\"ts\":1e300}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "ts: expected int64, got double 1e+300");
    assert_int_equal(RUN(fx, "{\"ts\":-0.0}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "ts: expected int64, got double -0.0");
    assert_int_equal(RUN(fx, "{\"event_type\":42}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "event_type: expected string, got int64 42");
    assert_int_equal(RUN(fx, "{\"ok\":1}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "ok: expected bool, got int64 1");
    assert_int_equal(RUN(fx, "{\"day\":\"2025-02-30\"}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "day: expected date (YYYY-MM-DD), got string \"2025-02-30\"");
    assert_int_equal(RUN(fx, "{\"name\":[1]}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "name: expected string, got an array");
    assert_int_equal(RUN(fx, "{\"name\":{}}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "name: expected string, got an object");
    assert_int_equal(RUN(fx, "{\"a\":true}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "a: expected double, got bool true");
    assert_int_equal(RUN(fx, "{\"user_id\":false}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "user_id: expected int64, got bool false");
}

static void test_mismatch_message_cuts_strings_at_40_bytes(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"ts\":\"0123456789012345678901234567890123456789X\"}"),
                     REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg,
                        "ts: expected int64, got string \"0123456789012345678901234567890123456789...\"");
    /* Escapes are decoded first; printing stops at a NUL like the reference. */
    assert_int_equal(RUN(fx, "{\"ts\":\"a\\\"b\\u0000c\"}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "ts: expected int64, got string \"a\"b\"");
}

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

static void test_messages_are_valid_utf8_whatever_they_quote(void **state)
{
    fixture *fx = *state;
    /* A bad escape before a multi-byte character: jansson's own text quotes
     * the token cut inside the character. */
    assert_int_equal(RUN(fx, "{\"name\":\"\\\xc3\xa9\"}"), REJ(SF_REJ_INVALID_JSON));
    assert_true(valid_utf8(fx->fmsg));
    assert_true(valid_utf8(fx->rmsg));
    assert_int_equal(RUN(fx, "{\"name\":\"\\\xe2\x82\xac\xe2\x82\xac\"}"), REJ(SF_REJ_INVALID_JSON));
    assert_true(valid_utf8(fx->rmsg));
    assert_int_equal(RUN(fx, "{\"a\":tru\xc3\xa9}"), REJ(SF_REJ_INVALID_JSON));
    assert_true(valid_utf8(fx->rmsg));
    /* A quote cut at 40 bytes stops before a character, never inside. */
    assert_int_equal(RUN(fx, "{\"ts\":\"012345678901234567890123456789012345678\xe2\x82\xacX\"}"),
                     REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg,
                        "ts: expected int64, got string \"012345678901234567890123456789012345678...\"");
    /* A message cut by the caller's buffer drops a cut character. */
    char line[] = "{\"ts\":\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"}";
    char m1[40], m2[40];
    sf_value row[MAXF];
    for (size_t cap = 30; cap < 40; cap++) {
        assert_int_equal(sf_decoder_decode(fx->fast, line, strlen(line), row, m1, cap),
                         REJ(SF_REJ_TYPE_MISMATCH));
        assert_int_equal(sf_decoder_decode(fx->ref, line, strlen(line), row, m2, cap),
                         REJ(SF_REJ_TYPE_MISMATCH));
        assert_true(valid_utf8(m1));
        assert_string_equal(m1, m2);
    }
}

static void test_first_mismatching_field_in_field_order_is_reported(void **state)
{
    fixture *fx = *state;
    /* Field order, not line order: ts (field 3) comes before ok (field 6). */
    assert_int_equal(RUN(fx, "{\"ok\":\"yes\",\"ts\":\"now\"}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "ts: expected int64, got string \"now\"");
}

static void test_syntax_error_beats_type_mismatch(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"ts\":\"abc\",\"x\":01}"), REJ(SF_REJ_INVALID_JSON));
    assert_int_equal(RUN(fx, "{\"ts\":\"abc\",\"x\":\"\xff\"}"), REJ(SF_REJ_INVALID_UTF8));
    assert_int_equal(RUN(fx, "{\"ts\":\"abc\",\"x\":99999999999999999999,}"),
                     REJ(SF_REJ_INVALID_JSON));
    /* A number beyond int64 in an unread field is valid: ts decides. */
    assert_int_equal(RUN(fx, "{\"ts\":\"abc\",\"x\":99999999999999999999}"),
                     REJ(SF_REJ_TYPE_MISMATCH));
}

static void test_null_value_gives_null_for_every_type(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"user_id\":null,\"event_type\":null,\"props\":{\"price\":null},"
                             "\"ok\":null,\"day\":null}"),
                     0);
    expect_null(fx, USER_ID);
    expect_null(fx, EVENT_TYPE);
    expect_null(fx, PRICE);
    expect_null(fx, OK);
    expect_null(fx, DAY);
}

static void test_date_and_bool_fields_convert(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "{\"day\":\"2025-08-19T23:30:00-02:00\",\"ok\":true}"), 0);
    int32_t days;
    assert_int_equal(sf_date_from_ymd(2025, 8, 20, &days), 0);
    assert_int_equal(fx->frow[DAY].type, SF_DATE);
    assert_int_equal(fx->frow[DAY].u.date, days);
    assert_int_equal(fx->frow[OK].u.b, 1);
    assert_int_equal(RUN(fx, "{\"day\":\"2025-08-1\\u0039\"}"), 0);
    assert_int_equal(sf_date_from_ymd(2025, 8, 19, &days), 0);
    assert_int_equal(fx->frow[DAY].u.date, days);
}

/* A timestamp column reads ISO-8601 text (offsets converted to UTC) or a
 * JSON integer of unix seconds; anything else is a type mismatch that says
 * which forms it takes. */
static void test_timestamp_fields_read_iso_text_or_unix_seconds(void **state)
{
    fixture *fx = *state;
    static const sf_decode_field f[] = {{"t", SF_TIMESTAMP, 0, {0, 0}}};
    reopen(fx, f, 1);
    assert_int_equal(RUN(fx, "{\"t\":\"2026-03-01T14:34:56.789+02:00\"}"), 0);
    assert_int_equal(fx->frow[0].type, SF_TIMESTAMP);
    assert_true(fx->frow[0].u.i == INT64_C(1772368496789000));
    assert_int_equal(RUN(fx, "{\"t\":\"2026-03-01 12:34:56\"}"), 0);
    assert_true(fx->frow[0].u.i == INT64_C(1772368496000000));
    assert_int_equal(RUN(fx, "{\"t\":1772368496}"), 0);
    assert_true(fx->frow[0].u.i == INT64_C(1772368496000000));
    assert_int_equal(RUN(fx, "{\"t\":-1}"), 0);
    assert_true(fx->frow[0].u.i == -1000000);
    assert_int_equal(RUN(fx, "{\"t\":null}"), 0);
    assert_int_equal(fx->frow[0].type, SF_NULL);
    assert_int_equal(RUN(fx, "{\"t\":1.5}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg,
                        "t: expected timestamp (ISO-8601 text or unix seconds), got double 1.5");
    assert_int_equal(RUN(fx, "{\"t\":\"yesterday\"}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(fx->fmsg, "t: expected timestamp (ISO-8601 text or unix seconds), got "
                                  "string \"yesterday\"");
    /* Seconds beyond the microsecond range are a mismatch, not a wrap. */
    assert_int_equal(RUN(fx, "{\"t\":9223372036854775807}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_int_equal(RUN(fx, "{\"t\":99999999999999999999}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_int_equal(RUN(fx, "{\"t\":1e400}"), REJ(SF_REJ_TYPE_MISMATCH));
    assert_int_equal(RUN(fx, "{\"t\":\"2026-03-01T12:34:56.1234567Z\"}"),
                     REJ(SF_REJ_TYPE_MISMATCH));
}

static void test_top_level_non_objects_are_not_objects(void **state)
{
    fixture *fx = *state;
    assert_int_equal(RUN(fx, "[1,2]"), REJ(SF_REJ_NOT_OBJECT));
    assert_string_equal(fx->fmsg, "not an object: the line is an array");
    assert_int_equal(RUN(fx, " \"s\" "), REJ(SF_REJ_NOT_OBJECT));
    assert_string_equal(fx->fmsg, "not an object: the line is a scalar");
    assert_int_equal(RUN(fx, "-1.5e3"), REJ(SF_REJ_NOT_OBJECT));
    assert_int_equal(RUN(fx, "null"), REJ(SF_REJ_NOT_OBJECT));
    assert_int_equal(RUN(fx, "7\0"), REJ(SF_REJ_INVALID_JSON)); /* a NUL byte after the value */
    /* Trailing garbage is found first: the whole line is parsed. */
    assert_int_equal(RUN(fx, "[1] x"), REJ(SF_REJ_INVALID_JSON));
}

/* ---- nesting ---- */

static char *nested(size_t depth, const char *open, const char *inner, const char *close,
                    size_t *len)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    char *p = malloc(depth * (lo + lc) + li + 1);
    assert_non_null(p);
    size_t n = 0;
    for (size_t i = 0; i < depth; i++, n += lo)
        memcpy(p + n, open, lo);
    memcpy(p + n, inner, li);
    n += li;
    for (size_t i = 0; i < depth; i++, n += lc)
        memcpy(p + n, close, lc);
    *len = n;
    return p;
}

static void check_nested(fixture *fx, size_t depth, const char *open, const char *inner,
                         const char *close, int expect)
{
    size_t n;
    char *p = nested(depth, open, inner, close, &n);
    int rc = run(fx, p, n);
    free(p);
    if (rc != expect)
        fail_msg("depth %zu %s%s%s: got %d, expected %d", depth, open, inner, close, rc, expect);
}

static void test_nesting_at_the_limit_is_accepted(void **state)
{
    fixture *fx = *state;
    /* 2048 nested containers; the innermost must then be empty. */
    check_nested(fx, 2048, "[", "", "]", REJ(SF_REJ_NOT_OBJECT));
    check_nested(fx, 2047, "[", "1", "]", REJ(SF_REJ_NOT_OBJECT));
    check_nested(fx, 2047, "{\"props\":", "{}", "}", 0);
    /* A syntax error inside the limit stays a syntax error. */
    check_nested(fx, 2047, "{\"a\":", "", "}", REJ(SF_REJ_INVALID_JSON));
}

static void test_nesting_beyond_the_limit_is_too_deep(void **state)
{
    fixture *fx = *state;
    check_nested(fx, 2049, "[", "", "]", REJ(SF_REJ_TOO_DEEP));
    check_nested(fx, 2048, "[", "1", "]", REJ(SF_REJ_TOO_DEEP));
    check_nested(fx, 2048, "{\"a\":", "{}", "}", REJ(SF_REJ_TOO_DEEP));
    check_nested(fx, 2048, "[", "tx", "]", REJ(SF_REJ_TOO_DEEP));
    check_nested(fx, 2047, "[", "{\"a\":", "", REJ(SF_REJ_TOO_DEEP));
}

static void test_too_deep_value_reports_its_own_token_error_first(void **state)
{
    fixture *fx = *state;
    check_nested(fx, 2048, "[", "\"\xff\"", "]", REJ(SF_REJ_INVALID_UTF8));
    /* A number beyond int64 is valid JSON: no token error, so too deep. */
    check_nested(fx, 2048, "[", "99999999999999999999", "]", REJ(SF_REJ_TOO_DEEP));
    check_nested(fx, 2048, "[", "\"\\uD800\"", "]", REJ(SF_REJ_INVALID_JSON));
    check_nested(fx, 2048, "[", "t\xff", "]", REJ(SF_REJ_INVALID_UTF8));
}

static void test_array_ending_where_too_deep_element_was_due_is_invalid_json(void **state)
{
    fixture *fx = *state;
    /* jansson's array loop stops at the end before its depth check... */
    check_nested(fx, 2048, "[", "", "", REJ(SF_REJ_INVALID_JSON));
    check_nested(fx, 2048, "[", " \n", "", REJ(SF_REJ_INVALID_JSON));
    /* ...but an object's value goes through it. */
    check_nested(fx, 2047, "[", "{\"a\":", "", REJ(SF_REJ_TOO_DEEP));
}

static void test_100k_deep_input_does_not_overflow_the_stack(void **state)
{
    fixture *fx = *state;
    check_nested(fx, 100000, "[", "", "]", REJ(SF_REJ_TOO_DEEP));
    check_nested(fx, 100000, "{\"props\":", "1", "}", REJ(SF_REJ_TOO_DEEP));
    check_nested(fx, 100000, "[", "", "", REJ(SF_REJ_TOO_DEEP));
}

/* ---- sizes ---- */

static void test_very_long_strings_and_keys(void **state)
{
    fixture *fx = *state;
    size_t big = 1 << 20;
    char *line = malloc(2 * big + 64);
    assert_non_null(line);
    size_t n = 0;
    n += (size_t)sprintf(line + n, "{\"");
    memset(line + n, 'k', big);
    n += big;
    n += (size_t)sprintf(line + n, "\":1,\"name\":\"");
    for (size_t i = 0; i < big / 8; i++, n += 8)
        memcpy(line + n, i % 2 ? "abc\xc3\xa9xyz" : "012345\\n", 8);
    n += (size_t)sprintf(line + n, "\\\"\"}");
    assert_int_equal(run(fx, line, n), 0);
    assert_int_equal(fx->frow[NAME].type, SF_STRING);
    assert_int_equal(fx->frow[NAME].u.s.n, big / 16 * 15 + 1);
    assert_memory_equal(fx->frow[NAME].u.s.p, "012345\nabc\xc3\xa9xyz", 15);
    free(line);
    assert_int_equal(RUN(fx, "{\"user_id\":2}"), 0);
    expect_int(fx, USER_ID, 2);
}

/* Each byte sequence that stops a string scan, at every offset of strings up
 * to 72 bytes long (so across the 16, 32 and 64-byte blocks of every scan
 * width), in a value, in a key, and in a string the line's end cuts off. */
static void test_string_stops_at_every_block_offset(void **state)
{
    fixture *fx = *state;
    static const struct {
        const char *s;
        size_t n;
    } stops[] = {
        {"\\n", 2},          {"\\u00e9", 6},      {"\\ud83d\\ude00", 12}, {"\\\"", 2},
        {"\xc3\xa9", 2},     {"\xe6\x9d\xb1", 3}, {"\xf0\x9f\x98\x80", 4}, {"\xff", 1},
        {"\xc3", 1},         {"\x01", 1},         {"\x7f", 1},         {"\xed\xa0\x80", 3},
        {"\\x", 2},          {"\\u12", 4},        {"\\ud800", 6},      {"\\", 1},
    };
    char line[160];
    for (size_t k = 0; k < sizeof stops / sizeof stops[0]; k++)
        for (size_t len = 0; len <= 72; len++)
            for (size_t at = 0; at <= len; at++) {
                char text[100];
                memset(text, 'a', at);
                memcpy(text + at, stops[k].s, stops[k].n);
                memset(text + at + stops[k].n, 'b', len - at);
                int tn = (int)(len + stops[k].n);
                int n = snprintf(line, sizeof line, "{\"name\":\"%.*s\",\"ts\":1}", tn, text);
                run_exact(fx, line, (size_t)n);
                n = snprintf(line, sizeof line, "{\"%.*s\":\"x\",\"ts\":2}", tn, text);
                run_exact(fx, line, (size_t)n);
                n = snprintf(line, sizeof line, "{\"name\":\"%.*s", tn, text);
                run_exact(fx, line, (size_t)n);
            }
    /* Lines shorter than any vector, and a plain string ending the buffer. */
    assert_int_equal(run_exact(fx, "{}", 2), 0);
    assert_int_equal(run_exact(fx, "{\"name\":\"\"}", 11), 0);
    EXPECT_STR(fx, NAME, "");
    assert_int_equal(run_exact(fx, "{\"name\":\"", 9), REJ(SF_REJ_INVALID_JSON));
    static const char plain[] = "{\"name\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
    assert_int_equal(run_exact(fx, plain, sizeof plain - 1), REJ(SF_REJ_INVALID_JSON));
}

/* Skipped containers nested deep, with strings and escapes inside them. */
static void test_deep_skipped_values_are_validated(void **state)
{
    fixture *fx = *state;
    char *line = malloc(40000);
    assert_non_null(line);
    for (int bad = 0; bad < 3; bad++) {
        size_t n = (size_t)sprintf(line, "{\"x\":");
        for (int d = 0; d < 1000; d++)
            n += (size_t)sprintf(line + n, d % 2 ? "[\"a\\\"b\"," : "{\"k\\u0041\":");
        n += (size_t)sprintf(line + n, bad == 1 ? "tru" : bad == 2 ? "\"\xc3\"" : "null");
        for (int d = 999; d >= 0; d--)
            n += (size_t)sprintf(line + n, d % 2 ? "]" : "}");
        n += (size_t)sprintf(line + n, ",\"user_id\":7}");
        int rc = run_exact(fx, line, n);
        if (bad == 0) {
            assert_int_equal(rc, 0);
            expect_int(fx, USER_ID, 7);
        } else {
            assert_int_equal(rc, bad == 1 ? REJ(SF_REJ_INVALID_JSON) : REJ(SF_REJ_INVALID_UTF8));
        }
    }
    free(line);
}

/* ---- the API ---- */

static void test_decoder_kind_names_round_trip(void **state)
{
    (void)state;
    sf_decoder_kind k = SF_DECODER_JANSSON;
    assert_string_equal(sf_decoder_kind_name(SF_DECODER_FAST), "fast");
    assert_string_equal(sf_decoder_kind_name(SF_DECODER_JANSSON), "jansson");
    assert_int_equal(sf_decoder_kind_parse("fast", &k), 0);
    assert_int_equal(k, SF_DECODER_FAST);
    assert_int_equal(sf_decoder_kind_parse("jansson", &k), 0);
    assert_int_equal(k, SF_DECODER_JANSSON);
    assert_int_equal(sf_decoder_kind_parse("simdjson", &k), SF_E_INVAL);
    assert_int_equal(sf_decoder_kind_parse("", &k), SF_E_INVAL);
}

static void test_fast_decoders_coexist_and_free_null_is_a_no_op(void **state)
{
    (void)state;
    sf_decoder *a = sf_decoder_new(SF_DECODER_FAST, default_fields, NDEFAULT);
    sf_decoder *b = sf_decoder_new(SF_DECODER_FAST, default_fields, 0);
    assert_non_null(a);
    assert_non_null(b);
    sf_value row[NDEFAULT];
    char msg[128];
    assert_int_equal(sf_decoder_decode(b, "{\"x\":1}", 7, row, msg, sizeof msg), 0);
    assert_int_equal(sf_decoder_decode(a, "{\"ts\":1}", 8, row, msg, sizeof msg), 0);
    assert_int_equal(row[TS].u.i, 1);
    sf_decoder_free(a);
    sf_decoder_free(b);
    sf_decoder_free(NULL);
    sf_jsonproj_free(NULL);
}

static void test_jsonproj_api_decodes_directly(void **state)
{
    (void)state;
    sf_jsonproj *p = sf_jsonproj_new(default_fields, NDEFAULT);
    assert_non_null(p);
    sf_value row[NDEFAULT];
    char msg[128];
    const char *line = "{\"event_type\":\"view\",\"ts\":\"x\"}";
    assert_int_equal(sf_jsonproj_decode(p, line, strlen(line), row, msg, sizeof msg),
                     REJ(SF_REJ_TYPE_MISMATCH));
    assert_string_equal(msg, "ts: expected int64, got string \"x\"");
    line = "{\"event_type\":\"view\"}";
    assert_int_equal(sf_jsonproj_decode(p, line, strlen(line), row, msg, sizeof msg), 0);
    /* An unescaped string is borrowed from the line itself. */
    assert_ptr_equal(row[EVENT_TYPE].u.s.p, line + 15);
    sf_jsonproj_free(p);
}

/* ---- visitor mode ---- */

/* Writes the events as text: { } [ ] for containers, k=KEY for keys,
 * n / t / f / i:INT / d:DOUBLE / s:STRING for scalars, space-separated. */
typedef struct logger {
    char text[1024];
    size_t n;
    int stop_after; /* events before returning SF_E_NOMEM; 0: never */
    int events;
    const char *keys[8]; /* the first keys and strings, to check they stay valid */
    size_t klens[8];
    int nkeys;
} logger;

static int log_event(logger *l, const char *fmt, const char *p, size_t n)
{
    if (l->stop_after && l->events == l->stop_after)
        return SF_E_NOMEM;
    l->events++;
    int w = snprintf(l->text + l->n, sizeof l->text - l->n, "%s", l->n ? " " : "");
    l->n += (size_t)w;
    w = snprintf(l->text + l->n, sizeof l->text - l->n, fmt, (int)n, p);
    l->n += (size_t)w;
    return 0;
}

static void keep(logger *l, const char *p, size_t n)
{
    if (l->nkeys < 8) {
        l->keys[l->nkeys] = p;
        l->klens[l->nkeys++] = n;
    }
}

static int l_obj(void *c) { return log_event(c, "{%.*s", "", 0); }
static int l_oend(void *c) { return log_event(c, "}%.*s", "", 0); }
static int l_arr(void *c) { return log_event(c, "[%.*s", "", 0); }
static int l_aend(void *c) { return log_event(c, "]%.*s", "", 0); }

static int l_key(void *c, const char *k, size_t n)
{
    keep(c, k, n);
    return log_event(c, "k=%.*s", k, n);
}

static int l_scalar(void *c, const sf_value *v)
{
    char b[SF_FMT_BUF];
    switch (v->type) {
    case SF_NULL: return log_event(c, "n%.*s", "", 0);
    case SF_BOOL: return log_event(c, "%.*s", v->u.b ? "t" : "f", 1);
    case SF_INT: sf_fmt_int(v->u.i, b); return log_event(c, "i:%.*s", b, strlen(b));
    case SF_DOUBLE: sf_fmt_double(v->u.d, b); return log_event(c, "d:%.*s", b, strlen(b));
    case SF_STRING: keep(c, v->u.s.p, v->u.s.n); return log_event(c, "s:%.*s", v->u.s.p, v->u.s.n);
    default: return SF_E_INTERNAL;
    }
}

static int visit_log(sf_jsonproj *p, const char *line, logger *l, char *msg, size_t cap)
{
    sf_json_visitor v = {l_obj, l_oend, l_arr, l_aend, l_key, l_scalar, l};
    return sf_jsonproj_visit(p, line, strlen(line), &v, msg, cap);
}

static void test_visit_reports_events_in_document_order(void **state)
{
    (void)state;
    sf_jsonproj *p = sf_jsonproj_new(NULL, 0);
    assert_non_null(p);
    logger l = {.n = 0};
    char msg[128];
    assert_int_equal(visit_log(p, "{\"a\":1,\"b\":{\"c\":[true,false,null,\"x\",2.5,[]]},\"d\":{}}",
                               &l, msg, sizeof msg), 0);
    assert_string_equal(l.text, "{ k=a i:1 k=b { k=c [ t f n s:x d:2.5 [ ] ] } k=d { } }");
    sf_jsonproj_free(p);
}

static void test_visit_keeps_json_number_kinds(void **state)
{
    (void)state;
    sf_jsonproj *p = sf_jsonproj_new(NULL, 0);
    assert_non_null(p);
    logger l = {.n = 0};
    char msg[128];
    assert_int_equal(visit_log(p, "{\"a\":1,\"b\":1.0,\"c\":-0,\"d\":-0.0,\"e\":1e2,"
                               "\"f\":-9223372036854775808}", &l, msg, sizeof msg), 0);
    assert_string_equal(l.text, "{ k=a i:1 k=b d:1.0 k=c i:0 k=d d:-0.0 k=e d:100.0 "
                        "k=f i:-9223372036854775808 }");
    sf_jsonproj_free(p);
}

static void test_visit_unescapes_keys_and_strings_valid_until_the_next_call(void **state)
{
    (void)state;
    sf_jsonproj *p = sf_jsonproj_new(NULL, 0);
    assert_non_null(p);
    logger l = {.n = 0};
    char msg[128];
    assert_int_equal(visit_log(p, "{\"k\\u00e9y\":\"v\\n1\",\"plain\":\"a\\\"b\",\"x\":\"raw\"}",
                               &l, msg, sizeof msg), 0);
    /* Every key and string seen is still intact after the visit. */
    assert_int_equal(l.nkeys, 6);
    assert_memory_equal(l.keys[0], "k\xc3\xa9y", 4);
    assert_memory_equal(l.keys[1], "v\n1", 3);
    assert_memory_equal(l.keys[2], "plain", 5);
    assert_memory_equal(l.keys[3], "a\"b", 3);
    assert_memory_equal(l.keys[4], "x", 1);
    assert_memory_equal(l.keys[5], "raw", 3);
    assert_int_equal(l.klens[0], 4);
    assert_int_equal(l.klens[3], 3);
    sf_jsonproj_free(p);
}

static void test_visit_reports_duplicate_keys_as_they_occur(void **state)
{
    (void)state;
    sf_jsonproj *p = sf_jsonproj_new(NULL, 0);
    assert_non_null(p);
    logger l = {.n = 0};
    char msg[128];
    assert_int_equal(visit_log(p, "{\"a\":1,\"a\":{\"b\":2}}", &l, msg, sizeof msg), 0);
    assert_string_equal(l.text, "{ k=a i:1 k=a { k=b i:2 } }");
    sf_jsonproj_free(p);
}

static void test_visit_callback_error_stops_the_visit(void **state)
{
    (void)state;
    sf_jsonproj *p = sf_jsonproj_new(NULL, 0);
    assert_non_null(p);
    logger l = {.n = 0, .stop_after = 3};
    char msg[128];
    assert_int_equal(visit_log(p, "{\"a\":1,\"b\":2}", &l, msg, sizeof msg), SF_E_NOMEM);
    assert_string_equal(l.text, "{ k=a i:1");
    sf_jsonproj_free(p);
}

static void test_visit_of_non_object_delivers_events_then_rejects(void **state)
{
    (void)state;
    sf_jsonproj *p = sf_jsonproj_new(NULL, 0);
    assert_non_null(p);
    logger l = {.n = 0};
    char msg[128];
    assert_int_equal(visit_log(p, "[1,{\"a\":\"b\"}]", &l, msg, sizeof msg),
                     REJ(SF_REJ_NOT_OBJECT));
    assert_string_equal(msg, "not an object: the line is an array");
    assert_string_equal(l.text, "[ i:1 { k=a s:b } ]");
    sf_jsonproj_free(p);
}

static void test_visit_rejects_with_the_decoder_reason_and_message(void **state)
{
    (void)state;
    sf_jsonproj *p = sf_jsonproj_new(NULL, 0);
    assert_non_null(p);
    logger l = {.n = 0};
    char msg[128];
    assert_int_equal(visit_log(p, "{\"a\":[1,2}", &l, msg, sizeof msg), REJ(SF_REJ_INVALID_JSON));
    assert_string_equal(msg, "invalid JSON at column 10: unexpected token");
    l.n = 0;
    assert_int_equal(visit_log(p, "{\"a\":99999999999999999999}", &l, msg, sizeof msg),
                     REJ(SF_REJ_INT_OVERFLOW));
    l.n = 0;
    assert_int_equal(visit_log(p, "{\"a\":\"\xff\"}", &l, msg, sizeof msg),
                     REJ(SF_REJ_INVALID_UTF8));
    sf_jsonproj_free(p);
}

static void test_visit_ignores_projected_fields_of_its_decoder(void **state)
{
    (void)state;
    sf_jsonproj *p = sf_jsonproj_new(default_fields, NDEFAULT);
    assert_non_null(p);
    logger l = {.n = 0};
    char msg[128];
    assert_int_equal(visit_log(p, "{\"ts\":\"not an int\"}", &l, msg, sizeof msg), 0);
    assert_string_equal(l.text, "{ k=ts s:not an int }");
    sf_value row[NDEFAULT];
    const char *line = "{\"ts\":5}";
    assert_int_equal(sf_jsonproj_decode(p, line, strlen(line), row, msg, sizeof msg), 0);
    assert_true(row[TS].u.i == 5);
    sf_jsonproj_free(p);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_kpi_event_line_extracts_projected_fields),
        T(test_decoder_reuse_resets_fields_missing_from_the_next_line),
        T(test_simple_escapes_decode_to_their_bytes),
        T(test_unicode_escapes_encode_as_utf8),
        T(test_surrogate_pair_escape_gives_four_byte_utf8),
        T(test_lone_high_surrogate_is_invalid_json),
        T(test_lone_low_surrogate_is_invalid_json),
        T(test_high_surrogate_then_non_low_escape_is_invalid_json),
        T(test_invalid_utf8_later_in_string_beats_lone_surrogate),
        T(test_nul_escape_in_value_is_kept),
        T(test_nul_escape_in_key_is_accepted_and_matches_no_field),
        T(test_raw_nul_byte_in_string_is_invalid_json),
        T(test_raw_nul_byte_where_a_token_starts_is_invalid_json),
        T(test_nul_byte_right_after_number_or_literal_is_invalid_json),
        T(test_valid_multibyte_utf8_is_kept_verbatim),
        T(test_invalid_utf8_in_strings_is_invalid_utf8),
        T(test_utf8_truncated_by_end_of_line_is_invalid_utf8),
        T(test_invalid_utf8_outside_strings_is_invalid_utf8),
        T(test_valid_utf8_outside_strings_is_invalid_json),
        T(test_leading_zeros_are_invalid_json),
        T(test_minus_zero_is_int_zero_and_double_negative_zero),
        T(test_malformed_numbers_are_invalid_json),
        T(test_exponent_forms_give_strtod_doubles),
        T(test_short_reals_give_strtod_doubles),
        T(test_real_underflow_is_accepted),
        T(test_real_overflow_in_a_double_field_is_double_overflow),
        T(test_int64_limits),
        T(test_numbers_around_ten_digits),
        T(test_huge_numbers_in_unread_fields_are_accepted),
        T(test_many_huge_numbers_each_reach_their_own_field),
        T(test_overflow_then_invalid_utf8_byte_reports_utf8),
        T(test_all_whitespace_kinds_are_skipped),
        T(test_other_whitespace_is_invalid_json),
        T(test_empty_and_whitespace_only_lines_are_invalid_json),
        T(test_trailing_garbage_is_invalid_json),
        T(test_unexpected_token_is_read_before_the_syntax_error),
        T(test_structural_errors_are_invalid_json),
        T(test_invalid_json_message_gives_the_byte_column),
        T(test_every_prefix_of_a_valid_line_is_rejected_alike),
        T(test_duplicate_top_level_key_last_wins),
        T(test_duplicate_prefix_key_resets_nested_fields),
        T(test_prefix_key_replaced_by_scalar_gives_null),
        T(test_path_through_non_object_gives_null),
        T(test_fields_inside_arrays_are_not_matched),
        T(test_escaped_key_matches_its_field),
        T(test_key_differing_in_any_one_byte_does_not_match),
        T(test_expected_key_word_match_agrees_with_the_scan),
        T(test_remembered_key_order_agrees_with_the_scan),
        T(test_learned_shape_agrees_with_the_reference_on_every_one_byte_change),
        T(test_lines_of_many_shapes_agree_with_the_reference),
        T(test_field_that_is_also_a_path_prefix),
        T(test_same_path_twice_fills_both_slots),
        T(test_empty_key_and_deep_paths),
        T(test_type_mismatch_messages_match_the_reference),
        T(test_mismatch_message_cuts_strings_at_40_bytes),
        T(test_messages_are_valid_utf8_whatever_they_quote),
        T(test_first_mismatching_field_in_field_order_is_reported),
        T(test_syntax_error_beats_type_mismatch),
        T(test_null_value_gives_null_for_every_type),
        T(test_date_and_bool_fields_convert),
        T(test_timestamp_fields_read_iso_text_or_unix_seconds),
        T(test_top_level_non_objects_are_not_objects),
        T(test_nesting_at_the_limit_is_accepted),
        T(test_nesting_beyond_the_limit_is_too_deep),
        T(test_too_deep_value_reports_its_own_token_error_first),
        T(test_array_ending_where_too_deep_element_was_due_is_invalid_json),
        T(test_100k_deep_input_does_not_overflow_the_stack),
        T(test_very_long_strings_and_keys),
        T(test_string_stops_at_every_block_offset),
        T(test_deep_skipped_values_are_validated),
        cmocka_unit_test(test_decoder_kind_names_round_trip),
        cmocka_unit_test(test_fast_decoders_coexist_and_free_null_is_a_no_op),
        cmocka_unit_test(test_jsonproj_api_decodes_directly),
        cmocka_unit_test(test_visit_reports_events_in_document_order),
        cmocka_unit_test(test_visit_keeps_json_number_kinds),
        cmocka_unit_test(test_visit_unescapes_keys_and_strings_valid_until_the_next_call),
        cmocka_unit_test(test_visit_reports_duplicate_keys_as_they_occur),
        cmocka_unit_test(test_visit_callback_error_stops_the_visit),
        cmocka_unit_test(test_visit_of_non_object_delivers_events_then_rejects),
        cmocka_unit_test(test_visit_rejects_with_the_decoder_reason_and_message),
        cmocka_unit_test(test_visit_ignores_projected_fields_of_its_decoder),
    };
    /* Every test at every scan width this CPU has, the scalar one included
     * (core/jsonscan.h): each must agree with the reference on its own. */
    int failed = 0, last = -1;
    for (int want = SF_SIMD_SCALAR; want <= SF_SIMD_AVX512; want++) {
        int got = (int)sf_jsonscan_force(want);
        if (got == last)
            continue;
        last = got;
        print_message("scan level %s\n", sf_simd_level_name((sf_simd_level)got));
        failed += cmocka_run_group_tests(tests, NULL, NULL);
    }
    sf_jsonscan_force(-1);
    return failed;
}
