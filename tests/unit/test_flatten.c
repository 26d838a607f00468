/* test_flatten.c - the flatten engine: one test per rule of core/flatten.h,
 * plus the scenarios of the classic flatten tutorials (deep nesting, mixed
 * types, empty and null handling, nested arrays, a list of objects
 * exploded, several explode paths, a cartesian product over the guard, an
 * API response with the join policy, an event log explosion).
 *
 * Rows are checked as text: cells "name=value" in row order separated by a
 * space, rows separated by " | "; strings are quoted, null is null.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/decode.h"
#include "core/flatten.h"
#include "core/fmt.h"

static char out[8192];

static sf_flatten *make(const sf_flatten_opts *o)
{
    sf_flatten *f = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_flatten_new(o, &f, &err) != 0)
        fail_msg("sf_flatten_new: %s", err.msg);
    return f;
}

static sf_flatten *make_default(void)
{
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    return make(&o);
}

static sf_flatten *make_explode(const char *const *paths, size_t n)
{
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.explode = paths;
    o.nexplode = n;
    return make(&o);
}

static void put(size_t *n, const char *fmt, const char *s, size_t len)
{
    int k = snprintf(out + *n, sizeof out - *n, fmt, (int)len, s);
    assert_true(k >= 0 && (size_t)k < sizeof out - *n);
    *n += (size_t)k;
}

/* The rows of the last record as text. */
static const char *render(const sf_flatten *f)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t r = 0; r < sf_flatten_nrows(f); r++) {
        size_t nc;
        const sf_flatten_cell *c = sf_flatten_row(f, r, &nc);
        if (r)
            put(&n, "%.*s", " | ", 3);
        for (size_t i = 0; i < nc; i++) {
            sf_flatten_column col;
            sf_flatten_column_get(f, c[i].col, &col);
            if (i)
                put(&n, "%.*s", " ", 1);
            put(&n, "%.*s=", col.name, col.len);
            char num[SF_FMT_BUF];
            const sf_value *v = &c[i].v;
            switch (v->type) {
            case SF_NULL: put(&n, "%.*s", "null", 4); break;
            case SF_BOOL: put(&n, "%.*s", v->u.b ? "true" : "false", v->u.b ? 4 : 5); break;
            case SF_INT: put(&n, "%.*s", num, (size_t)sf_fmt_int(v->u.i, num)); break;
            case SF_DOUBLE: put(&n, "%.*s", num, (size_t)sf_fmt_double(v->u.d, num)); break;
            case SF_STRING: put(&n, "\"%.*s\"", v->u.s.p, v->u.s.n); break;
            default: fail_msg("cell of type %d", v->type);
            }
        }
    }
    return out;
}

static uint64_t next_order; /* records are numbered in the order tests flatten them */

/* Flattens line, which must be accepted, and returns its rows as text. */
static const char *flat(sf_flatten *f, const char *line)
{
    char msg[256] = "";
    int rc = sf_flatten_record(f, line, strlen(line), next_order++, msg, sizeof msg);
    if (rc != 0)
        fail_msg("line %s: rc %d: %s", line, rc, msg);
    return render(f);
}

/* Flattens line, which must be rejected with reason; returns the message. */
static const char *rejected(sf_flatten *f, const char *line, sf_reject_reason reason)
{
    static char msg[256];
    msg[0] = '\0';
    int rc = sf_flatten_record(f, line, strlen(line), 0, msg, sizeof msg);
    if (rc != 1 + (int)reason)
        fail_msg("line %s: rc %d (%s), expected reject %d", line, rc, msg, 1 + (int)reason);
    return msg;
}

static sf_type column_type(const sf_flatten *f, const char *name)
{
    int64_t id = sf_flatten_column_find(f, name, strlen(name));
    if (id < 0)
        fail_msg("no column %s", name);
    sf_flatten_column c;
    sf_flatten_column_get(f, (uint32_t)id, &c);
    return c.type;
}

/* The column names in first-appearance order, comma-separated. */
static const char *column_list(const sf_flatten *f)
{
    static char list[2048];
    size_t n = sf_flatten_ncolumns(f), used = 0;
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    assert_non_null(order);
    assert_int_equal(sf_flatten_columns_order(f, order), 0);
    list[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        sf_flatten_column c;
        sf_flatten_column_get(f, order[i], &c);
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%.*s", i ? "," : "",
                                 (int)c.len, c.name);
    }
    free(order);
    return list;
}

/* ---- objects, arrays, nulls ---- */

static void test_nested_objects_give_dotted_keys(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"user\":{\"profile\":{\"name\":\"Alice\"}},\"id\":1}"),
                        "user.profile.name=\"Alice\" id=1");
    sf_flatten_free(f);
}

static void test_nul_in_a_key_is_written_as_its_escape(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    /* Keys may hold U+0000; a column name shows it rather than stop at it. */
    assert_string_equal(flat(f, "{\"a\\u0000b\":{\"\\u0000\":1},\"c\":2}"),
                        "a\\u0000b.\\u0000=1 c=2");
    sf_flatten_free(f);
}

static void test_separator_option_joins_keys(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.sep = "__";
    sf_flatten *f = make(&o);
    assert_string_equal(flat(f, "{\"a\":{\"b\":{\"c\":1}},\"t\":[true]}"), "a__b__c=1 t__0=true");
    sf_flatten_free(f);
    o.sep = "_";
    f = make(&o);
    assert_string_equal(flat(f, "{\"a\":{\"b\":2}}"), "a_b=2");
    sf_flatten_free(f);
}

static void test_empty_separator_is_refused(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.sep = "";
    sf_flatten *f = NULL;
    sf_error err;
    assert_int_equal(sf_flatten_new(&o, &f, &err), SF_E_INVAL);
    assert_null(f);
    assert_non_null(strstr(err.msg, "separator"));
}

static void test_lists_index_gives_zero_based_columns(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"tags\":[\"a\",\"b\"],\"m\":[[1,2],[3]]}"),
                        "tags.0=\"a\" tags.1=\"b\" m.0.0=1 m.0.1=2 m.1.0=3");
    sf_flatten_free(f);
}

static void test_lists_join_joins_scalars_with_null_as_empty(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.lists = SF_LISTS_JOIN;
    sf_flatten *f = make(&o);
    assert_string_equal(flat(f, "{\"t\":[\"a\",null,1,2.5,true,\"x,y\"]}"),
                        "t=\"a,,1,2.5,true,x,y\"");
    sf_flatten_free(f);
}

static void test_join_separator_option(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.lists = SF_LISTS_JOIN;
    o.join_sep = " | ";
    sf_flatten *f = make(&o);
    assert_string_equal(flat(f, "{\"t\":[\"a\",\"b\"]}"), "t=\"a | b\"");
    sf_flatten_free(f);
}

static void test_lists_join_falls_back_to_index_for_arrays_of_containers(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.lists = SF_LISTS_JOIN;
    sf_flatten *f = make(&o);
    assert_string_equal(flat(f, "{\"t\":[1,{\"a\":2},[3,4]]}"), "t.0=1 t.1.a=2 t.2=\"3,4\"");
    sf_flatten_free(f);
}

static void test_lists_json_keeps_the_array_as_compact_json(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.lists = SF_LISTS_JSON;
    sf_flatten *f = make(&o);
    /* Python's json.dumps(v, ensure_ascii=False, separators=(",", ":")). */
    assert_string_equal(flat(f, "{\"t\": [ 1, 2.50, \"q\\\"\\n\\u0001\\u00e9\", null, "
                                "{\"k\" : [] , \"k2\":false} ]}"),
                        "t=\"[1,2.5,\"q\\\"\\n\\u0001\xc3\xa9\",null,{\"k\":[],\"k2\":false}]\"");
    sf_flatten_free(f);
}

static void test_null_is_a_null_cell(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"a\":null,\"b\":{\"c\":null}}"), "a=null b.c=null");
    sf_flatten_free(f);
}

static void test_empty_object_and_array_are_null_under_their_key(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"o\":{},\"a\":[],\"n\":{\"e\":{}}}"), "o=null a=null n.e=null");
    sf_flatten_free(f);
}

static void test_empty_record_gives_one_row_without_cells(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{}"), "");
    assert_int_equal(sf_flatten_nrows(f), 1);
    assert_int_equal(sf_flatten_ncolumns(f), 0);
    sf_flatten_free(f);
}

static void test_max_depth_keeps_deeper_containers_as_json_text(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.max_depth = 1;
    sf_flatten *f = make(&o);
    assert_string_equal(flat(f, "{\"a\":{\"b\":{\"c\":1},\"d\":2},\"l\":[[1],2]}"),
                        "a.b=\"{\"c\":1}\" a.d=2 l.0=\"[1]\" l.1=2");
    sf_flatten_free(f);
    o.max_depth = 0;
    f = make(&o);
    assert_string_equal(flat(f, "{\"a\":{\"b\":1},\"x\":3}"), "a=\"{\"b\":1}\" x=3");
    sf_flatten_free(f);
}

static void test_numbers_keep_their_json_types(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"i\":1,\"d\":1.0,\"e\":1e-7,\"z\":-0.0,\"b\":false}"),
                        "i=1 d=1.0 e=1e-07 z=-0.0 b=false");
    assert_int_equal(column_type(f, "i"), SF_INT);
    assert_int_equal(column_type(f, "d"), SF_DOUBLE);
    assert_int_equal(column_type(f, "b"), SF_BOOL);
    sf_flatten_free(f);
}

/* A double read from a short decimal literal says its places (scale - 1)
 * so that its text can be written from them; any other says 0. Both
 * passes, and the text is sf_fmt_double's either way. */
static void test_doubles_say_the_places_of_short_literals(void **state)
{
    (void)state;
    static const char *const line =
        "{\"a\":1.50,\"b\":-0.1234567,\"c\":12345678901234.5,\"d\":0.12345678,"
        "\"e\":1.5e1,\"f\":1234567890123456.5,\"g\":0.00001,\"h\":-0.00,\"i\":7}";
    static const int scale[] = {3, 8, 2, 0, 0, 0, 6, 3};
    for (int tree = 0; tree < 2; tree++) {
        sf_flatten_opts o;
        sf_flatten_opts_init(&o);
        o.tree_only = tree;
        sf_flatten *f = make(&o);
        for (int k = 0; k < 2; k++) { /* the second time through the shapes */
            flat(f, line);
            size_t nc;
            const sf_flatten_cell *c = sf_flatten_row(f, 0, &nc);
            assert_int_equal(nc, 9);
            for (size_t i = 0; i < 8; i++) {
                assert_int_equal(c[i].v.type, SF_DOUBLE);
                assert_int_equal(c[i].v.scale, scale[i]);
                char a[SF_FMT_BUF], b[SF_FMT_BUF];
                if (scale[i]) {
                    sf_fmt_double_places(c[i].v.u.d, scale[i] - 1, a);
                    sf_fmt_double(c[i].v.u.d, b);
                    assert_string_equal(a, b);
                }
            }
        }
        sf_flatten_free(f);
    }
}

static void test_escaped_and_unicode_keys_are_unescaped(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"caf\\u00e9\":{\"k\\\"q\":\"v\\tw\"}}"),
                        "caf\xc3\xa9.k\"q=\"v\tw\"");
    sf_flatten_free(f);
}

static void test_explode_path_no_record_holds_is_not_seen(void **state)
{
    (void)state;
    const char *paths[] = {"entities.hashtags", "entities.hashtag", "gone", "x"};
    sf_flatten *f = make_explode(paths, 4);
    assert_false(sf_flatten_explode_seen(f, 0));
    /* Any value at the path counts: an array, null, an empty array. */
    flat(f, "{\"entities\":{\"hashtags\":[\"a\",\"b\"]},\"x\":null}");
    assert_true(sf_flatten_explode_seen(f, 0));
    assert_false(sf_flatten_explode_seen(f, 1));
    assert_false(sf_flatten_explode_seen(f, 2));
    assert_true(sf_flatten_explode_seen(f, 3));
    flat(f, "{\"gone\":[]}");
    assert_true(sf_flatten_explode_seen(f, 2));
    assert_false(sf_flatten_explode_seen(f, 1));
    assert_false(sf_flatten_explode_seen(f, 4)); /* past the list */
    sf_flatten_free(f);
}

/* ---- explode ---- */

static void test_explode_gives_one_row_per_element(void **state)
{
    (void)state;
    const char *paths[] = {"items"};
    sf_flatten *f = make_explode(paths, 1);
    assert_string_equal(flat(f, "{\"id\":7,\"items\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\","
                                "\"qty\":2}],\"paid\":true}"),
                        "id=7 items.sku=\"a\" items.qty=1 paid=true | "
                        "id=7 items.sku=\"b\" items.qty=2 paid=true");
    assert_int_equal(sf_flatten_get_stats(f)->rows, 2);
    sf_flatten_free(f);
}

static void test_explode_array_of_scalars_gives_values_under_the_path(void **state)
{
    (void)state;
    const char *paths[] = {"tags"};
    sf_flatten *f = make_explode(paths, 1);
    assert_string_equal(flat(f, "{\"id\":1,\"tags\":[\"x\",null,3]}"),
                        "id=1 tags=\"x\" | id=1 tags=null | id=1 tags=3");
    sf_flatten_free(f);
}

static void test_explode_two_paths_gives_cartesian_product(void **state)
{
    (void)state;
    const char *paths[] = {"items", "discounts"};
    sf_flatten *f = make_explode(paths, 2);
    assert_string_equal(flat(f, "{\"items\":[{\"s\":1},{\"s\":2}],\"o\":0,\"discounts\":"
                                "[{\"c\":\"A\"},{\"c\":\"B\"},{\"c\":\"C\"}]}"),
                        "items.s=1 o=0 discounts.c=\"A\" | items.s=1 o=0 discounts.c=\"B\" | "
                        "items.s=1 o=0 discounts.c=\"C\" | items.s=2 o=0 discounts.c=\"A\" | "
                        "items.s=2 o=0 discounts.c=\"B\" | items.s=2 o=0 discounts.c=\"C\"");
    assert_int_equal(sf_flatten_nrows(f), 6);
    sf_flatten_free(f);
}

static void test_nested_explode_paths_explode_inside_each_element(void **state)
{
    (void)state;
    const char *paths[] = {"orders", "orders.items"};
    sf_flatten *f = make_explode(paths, 2);
    assert_string_equal(flat(f, "{\"c\":1,\"orders\":[{\"o\":1,\"items\":[{\"s\":\"a\"},{\"s\":"
                                "\"b\"}]},{\"o\":2,\"items\":[]}]}"),
                        "c=1 orders.o=1 orders.items.s=\"a\" | c=1 orders.o=1 orders.items.s=\"b\""
                        " | c=1 orders.o=2 orders.items=null");
    sf_flatten_free(f);
}

static void test_explode_path_inside_a_nested_object(void **state)
{
    (void)state;
    const char *paths[] = {"data.events"};
    sf_flatten *f = make_explode(paths, 1);
    assert_string_equal(flat(f, "{\"data\":{\"src\":\"s\",\"events\":[{\"t\":1},{\"t\":2}]}}"),
                        "data.src=\"s\" data.events.t=1 | data.src=\"s\" data.events.t=2");
    sf_flatten_free(f);
}

static void test_explode_missing_null_or_empty_array_keeps_one_row(void **state)
{
    (void)state;
    const char *paths[] = {"items"};
    sf_flatten *f = make_explode(paths, 1);
    assert_string_equal(flat(f, "{\"id\":1}"), "id=1");
    assert_string_equal(flat(f, "{\"id\":2,\"items\":null}"), "id=2 items=null");
    assert_string_equal(flat(f, "{\"id\":3,\"items\":[]}"), "id=3 items=null");
    assert_int_equal(sf_flatten_get_stats(f)->records, 3);
    assert_int_equal(sf_flatten_get_stats(f)->rows, 3);
    sf_flatten_free(f);
}

static void test_explode_of_a_non_array_is_its_only_element(void **state)
{
    (void)state;
    const char *paths[] = {"items"};
    sf_flatten *f = make_explode(paths, 1);
    assert_string_equal(flat(f, "{\"items\":{\"sku\":\"a\"}}"), "items.sku=\"a\"");
    assert_string_equal(flat(f, "{\"items\":5}"), "items=5");
    sf_flatten_free(f);
}

static void test_elements_that_are_arrays_are_not_exploded_again(void **state)
{
    (void)state;
    const char *paths[] = {"m"};
    sf_flatten *f = make_explode(paths, 1);
    assert_string_equal(flat(f, "{\"m\":[[1,2],3]}"), "m.0=1 m.1=2 | m=3");
    sf_flatten_free(f);
}

static void test_explode_beats_max_depth_on_its_path(void **state)
{
    (void)state;
    const char *paths[] = {"a.items"};
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.explode = paths;
    o.nexplode = 1;
    o.max_depth = 0;
    sf_flatten *f = make(&o);
    assert_string_equal(flat(f, "{\"a\":{\"items\":[{\"x\":{\"y\":1}}],\"b\":{\"c\":2}}}"),
                        "a.items.x=\"{\"y\":1}\" a.b=\"{\"c\":2}\"");
    sf_flatten_free(f);
}

static void test_max_rows_per_record_rejects_large_cartesian_product(void **state)
{
    (void)state;
    const char *paths[] = {"a", "b", "c"};
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.explode = paths;
    o.nexplode = 3;
    o.max_rows = 26;
    sf_flatten *f = make(&o);
    const char *line = "{\"a\":[1,2,3],\"b\":[1,2,3],\"c\":[1,2,3]}";
    const char *msg = rejected(f, line, SF_REJ_TOO_MANY_ROWS);
    assert_non_null(strstr(msg, "more than 26 rows"));
    assert_int_equal(sf_flatten_ncolumns(f), 0);
    sf_flatten_free(f);
    o.max_rows = 27;
    f = make(&o);
    flat(f, line);
    assert_int_equal(sf_flatten_nrows(f), 27);
    sf_flatten_free(f);
}

static void test_guard_counts_without_overflowing(void **state)
{
    (void)state;
    /* 20 paths of 10 elements: 10^20 rows would overflow 64 bits. */
    const char *paths[20];
    char names[20][4];
    sf_buf line = SF_BUF_INIT;
    assert_int_equal(sf_buf_printf(&line, "{"), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "p%d", i);
        paths[i] = names[i];
        assert_int_equal(sf_buf_printf(&line, "%s\"p%d\":[0,1,2,3,4,5,6,7,8,9]", i ? "," : "", i),
                         0);
    }
    assert_int_equal(sf_buf_printf(&line, "}"), 0);
    sf_flatten *f = make_explode(paths, 20);
    char msg[256];
    assert_int_equal(sf_flatten_record(f, (const char *)line.p, line.n, 0, msg, sizeof msg),
                     1 + SF_REJ_TOO_MANY_ROWS);
    sf_flatten_free(f);
    sf_buf_free(&line);
}

static void test_explode_paths_are_checked(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    sf_flatten *f = NULL;
    sf_error err;
    const char *bad1[] = {"a..b"};
    o.explode = bad1;
    o.nexplode = 1;
    assert_int_equal(sf_flatten_new(&o, &f, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "empty key"));
    const char *bad2[] = {"items", "items"};
    o.explode = bad2;
    o.nexplode = 2;
    assert_int_equal(sf_flatten_new(&o, &f, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "twice"));
    const char *bad3[] = {""};
    o.explode = bad3;
    o.nexplode = 1;
    assert_int_equal(sf_flatten_new(&o, &f, &err), SF_E_INVAL);
    assert_null(f);
}

/* ---- duplicates and collisions ---- */

static void test_duplicate_keys_last_wins_at_the_first_place_and_are_counted(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"a\":1,\"b\":2,\"a\":3}"), "a=3 b=2");
    assert_int_equal(sf_flatten_get_stats(f)->duplicate_keys, 1);
    sf_flatten_free(f);
}

static void test_repeated_object_key_replaces_its_nested_fields(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"p\":{\"x\":1,\"y\":2},\"q\":0,\"p\":{\"z\":3}}"), "p.z=3 q=0");
    /* Columns of the replaced value never appear. */
    assert_int_equal(sf_flatten_column_find(f, "p.x", 3), -1);
    sf_flatten_free(f);
}

/* {"k0":0,...,"k<n-1>":n-1} plus extra text before the closing brace. */
static void wide_object(sf_buf *b, const char *key, int from, int to, const char *extra)
{
    assert_int_equal(sf_buf_printf(b, "\"%s\":{", key), 0);
    for (int i = from; i < to; i++)
        assert_int_equal(sf_buf_printf(b, "%s\"k%d\":%d", i > from ? "," : "", i, i), 0);
    assert_int_equal(sf_buf_printf(b, "%s}", extra), 0);
}

static void test_repeated_keys_of_a_wide_object_last_wins(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    sf_buf line = SF_BUF_INIT;
    assert_int_equal(sf_buf_printf(&line, "{"), 0);
    wide_object(&line, "o", 0, 100, ",\"k5\":\"five\",\"k80\":-80,\"k5\":5.5");
    assert_int_equal(sf_buf_printf(&line, "}"), 0);
    assert_int_equal(sf_buf_append(&line, "", 1), 0);
    flat(f, (const char *)line.p);
    size_t nc;
    const sf_flatten_cell *c = sf_flatten_row(f, 0, &nc);
    assert_int_equal(nc, 100);
    assert_int_equal(c[5].v.type, SF_DOUBLE);
    assert_true(c[5].v.u.d == 5.5);
    assert_true(c[80].v.u.i == -80);
    assert_true(c[99].v.u.i == 99);
    assert_int_equal(sf_flatten_get_stats(f)->duplicate_keys, 3);
    sf_buf_free(&line);
    sf_flatten_free(f);
}

static void test_repeated_wide_object_replaces_all_its_keys(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    sf_buf line = SF_BUF_INIT;
    assert_int_equal(sf_buf_printf(&line, "{"), 0);
    wide_object(&line, "o", 0, 30, "");
    assert_int_equal(sf_buf_printf(&line, ","), 0);
    /* k3 is new in the second object: no duplicate of the first one's k3 */
    wide_object(&line, "o", 30, 60, ",\"k3\":3");
    assert_int_equal(sf_buf_printf(&line, "}"), 0);
    assert_int_equal(sf_buf_append(&line, "", 1), 0);
    flat(f, (const char *)line.p);
    size_t nc;
    const sf_flatten_cell *c = sf_flatten_row(f, 0, &nc);
    assert_int_equal(nc, 31);
    assert_true(c[0].v.u.i == 30);
    assert_true(c[30].v.u.i == 3);
    assert_int_equal(sf_flatten_get_stats(f)->duplicate_keys, 1);
    assert_int_equal(sf_flatten_column_find(f, "o.k0", 4), -1);
    sf_buf_free(&line);
    sf_flatten_free(f);
}

static void test_collision_error_rejects_the_line_naming_the_column(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    const char *msg = rejected(f, "{\"a.b\":1,\"a\":{\"b\":2}}", SF_REJ_KEY_COLLISION);
    assert_non_null(strstr(msg, "'a.b'"));
    assert_int_equal(sf_flatten_get_stats(f)->records, 0);
    sf_flatten_free(f);
}

static void test_collision_first_keeps_the_first_value(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.on_collision = SF_COLLISION_FIRST;
    sf_flatten *f = make(&o);
    assert_string_equal(flat(f, "{\"a.b\":1,\"x\":0,\"a\":{\"b\":2}}"), "a.b=1 x=0");
    assert_int_equal(sf_flatten_get_stats(f)->collisions, 1);
    sf_flatten_free(f);
}

static void test_collision_last_keeps_the_last_value_at_the_first_place(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.on_collision = SF_COLLISION_LAST;
    sf_flatten *f = make(&o);
    assert_string_equal(flat(f, "{\"a.b\":1,\"x\":0,\"a\":{\"b\":2}}"), "a.b=2 x=0");
    assert_int_equal(sf_flatten_get_stats(f)->collisions, 1);
    sf_flatten_free(f);
}

/* Two paths that name one column in different records, each cached by the
 * direct pass, then both in one record: still a collision, whatever the
 * policy (the direct pass's row is its leaves only while no column is
 * shared by two paths). */
static void test_collision_of_paths_met_apart_before(void **state)
{
    (void)state;
    static const char *const lines[] = {"{\"a.b\":1,\"x\":0}", "{\"a.b\":1,\"x\":0}",
                                        "{\"a\":{\"b\":2},\"x\":0}", "{\"a\":{\"b\":2},\"x\":0}"};
    static const char *const both = "{\"a.b\":1,\"x\":0,\"a\":{\"b\":2}}";
    for (int pol = SF_COLLISION_ERROR; pol <= SF_COLLISION_LAST; pol++) {
        sf_flatten_opts o;
        sf_flatten_opts_init(&o);
        o.on_collision = (sf_collision_policy)pol;
        sf_flatten *f = make(&o);
        assert_string_equal(flat(f, lines[0]), "a.b=1 x=0");
        assert_string_equal(flat(f, lines[1]), "a.b=1 x=0");
        assert_string_equal(flat(f, lines[2]), "a.b=2 x=0");
        assert_string_equal(flat(f, lines[3]), "a.b=2 x=0");
        if (pol == SF_COLLISION_ERROR)
            assert_non_null(strstr(rejected(f, both, SF_REJ_KEY_COLLISION), "'a.b'"));
        else
            assert_string_equal(flat(f, both),
                                pol == SF_COLLISION_FIRST ? "a.b=1 x=0" : "a.b=2 x=0");
        assert_int_equal(sf_flatten_get_stats(f)->collisions, pol != SF_COLLISION_ERROR);
        /* And the lines of one path after it: rows as before. */
        assert_string_equal(flat(f, lines[3]), "a.b=2 x=0");
        assert_int_equal(sf_flatten_ncolumns(f), 2);
        sf_flatten_free(f);
    }
}

static void test_collision_of_record_field_with_exploded_field(void **state)
{
    (void)state;
    const char *paths[] = {"items"};
    sf_flatten *f = make_explode(paths, 1);
    rejected(f, "{\"items.sku\":\"z\",\"items\":[{\"sku\":\"a\"}]}", SF_REJ_KEY_COLLISION);
    sf_flatten_free(f);
}

static void test_same_column_in_different_exploded_elements_is_no_collision(void **state)
{
    (void)state;
    const char *paths[] = {"items"};
    sf_flatten *f = make_explode(paths, 1);
    assert_string_equal(flat(f, "{\"items\":[{\"sku\":\"a\"},{\"sku\":\"b\"}]}"),
                        "items.sku=\"a\" | items.sku=\"b\"");
    assert_int_equal(sf_flatten_get_stats(f)->collisions, 0);
    sf_flatten_free(f);
}

/* ---- rejects ---- */

static void test_bad_lines_are_rejected_with_the_decoder_reasons(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    const char *msg = rejected(f, "{\"a\":1,}", SF_REJ_INVALID_JSON);
    assert_non_null(strstr(msg, "invalid JSON at column 8"));
    rejected(f, "[1,2]", SF_REJ_NOT_OBJECT);
    rejected(f, "{\"a\":\"\xff\"}", SF_REJ_INVALID_UTF8);
    rejected(f, "{\"a\":12345678901234567890}", SF_REJ_INT_OVERFLOW);
    rejected(f, "", SF_REJ_INVALID_JSON);
    sf_flatten_free(f);
}

static void test_rejected_line_leaves_no_columns_or_types(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    flat(f, "{\"a\":1}");
    rejected(f, "{\"a\":\"text\",\"new\":1,\"x.y\":1,\"x\":{\"y\":2}}", SF_REJ_KEY_COLLISION);
    rejected(f, "{\"a\":\"text\",\"other\":1", SF_REJ_INVALID_JSON);
    assert_int_equal(sf_flatten_ncolumns(f), 1);
    assert_int_equal(column_type(f, "a"), SF_INT);
    assert_int_equal(sf_flatten_get_stats(f)->records, 1);
    sf_flatten_free(f);
}

/* ---- columns and types ---- */

static void test_columns_are_in_first_appearance_order(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    flat(f, "{\"b\":1,\"a\":{\"z\":1,\"y\":2}}");
    flat(f, "{\"c\":1,\"a\":{\"x\":0,\"y\":1},\"b\":2}");
    assert_string_equal(column_list(f), "b,a.z,a.y,c,a.x");
    sf_flatten_free(f);
}

static void test_type_inference_widens(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    flat(f, "{\"n\":1,\"m\":true,\"s\":1,\"z\":null,\"d\":2.5}");
    flat(f, "{\"n\":2.5,\"m\":1,\"s\":\"x\",\"z\":null,\"d\":3}");
    flat(f, "{\"n\":null}");
    assert_int_equal(column_type(f, "n"), SF_DOUBLE);
    assert_int_equal(column_type(f, "m"), SF_STRING);
    assert_int_equal(column_type(f, "s"), SF_STRING);
    assert_int_equal(column_type(f, "z"), SF_NULL);
    assert_int_equal(column_type(f, "d"), SF_DOUBLE);
    assert_int_equal(sf_flatten_type_merge(SF_NULL, SF_BOOL), SF_BOOL);
    assert_int_equal(sf_flatten_type_merge(SF_INT, SF_INT), SF_INT);
    assert_int_equal(sf_flatten_type_merge(SF_DOUBLE, SF_STRING), SF_STRING);
    assert_int_equal(sf_flatten_type_merge(SF_BOOL, SF_DOUBLE), SF_STRING);
    sf_flatten_free(f);
}

static void test_columns_count_their_non_null_rows(void **state)
{
    (void)state;
    const char *paths[] = {"l"};
    sf_flatten *f = make_explode(paths, 1);
    flat(f, "{\"a\":1,\"l\":[1,null,2]}");
    flat(f, "{\"a\":null}");
    sf_flatten_column c;
    sf_flatten_column_get(f, (uint32_t)sf_flatten_column_find(f, "a", 1), &c);
    assert_int_equal(c.nonnull, 3);
    sf_flatten_column_get(f, (uint32_t)sf_flatten_column_find(f, "l", 1), &c);
    assert_int_equal(c.nonnull, 2);
    assert_int_equal(sf_flatten_get_stats(f)->rows, 4);
    sf_flatten_free(f);
}

static void test_merged_dictionaries_order_like_one_pass(void **state)
{
    (void)state;
    const char *lines[] = {"{\"a\":1,\"b\":{\"c\":2}}", "{\"d\":1,\"a\":2.5}",
                           "{\"e\":[1],\"b\":{\"f\":true}}", "{\"g\":\"x\",\"d\":\"s\"}"};
    char msg[128];
    sf_flatten *whole = make_default();
    for (int i = 0; i < 4; i++)
        assert_int_equal(sf_flatten_record(whole, lines[i], strlen(lines[i]), (uint64_t)i * 100,
                                           msg, sizeof msg), 0);
    /* Two engines take the lines in another order; a third merges them. */
    sf_flatten *x = make_default(), *y = make_default(), *m = make_default();
    for (int i = 3; i >= 0; i--) {
        sf_flatten *e = i % 2 ? x : y;
        assert_int_equal(sf_flatten_record(e, lines[i], strlen(lines[i]), (uint64_t)i * 100, msg,
                                           sizeof msg), 0);
    }
    sf_buf a = SF_BUF_INIT, b = SF_BUF_INIT;
    assert_int_equal(sf_flatten_columns_encode(x, &a), 0);
    assert_int_equal(sf_flatten_columns_encode(y, &b), 0);
    assert_int_equal(sf_flatten_columns_merge(m, a.p, a.n), 0);
    assert_int_equal(sf_flatten_columns_merge(m, b.p, b.n), 0);
    char expect[512];
    snprintf(expect, sizeof expect, "%s", column_list(whole));
    assert_string_equal(expect, "a,b.c,d,e.0,b.f,g");
    assert_string_equal(column_list(m), expect);
    assert_int_equal(column_type(m, "a"), SF_DOUBLE);
    assert_int_equal(column_type(m, "d"), SF_STRING);
    sf_flatten_column c;
    sf_flatten_column_get(m, (uint32_t)sf_flatten_column_find(m, "d", 1), &c);
    assert_int_equal(c.nonnull, 2);
    sf_buf_free(&a);
    sf_buf_free(&b);
    sf_flatten_free(whole);
    sf_flatten_free(x);
    sf_flatten_free(y);
    sf_flatten_free(m);
}

static unsigned column_seen(const sf_flatten *f, const char *name)
{
    sf_flatten_column c;
    sf_flatten_column_get(f, (uint32_t)sf_flatten_column_find(f, name, strlen(name)), &c);
    return c.seen;
}

static void test_columns_note_every_type_they_held_across_merges(void **state)
{
    (void)state;
    sf_flatten *x = make_default(), *y = make_default(), *m = make_default();
    flat(x, "{\"coupon\":\"SAVE\",\"n\":1,\"z\":null}");
    flat(y, "{\"coupon\":15,\"n\":2.5,\"s\":\"t\"}");
    sf_buf a = SF_BUF_INIT, b = SF_BUF_INIT;
    assert_int_equal(sf_flatten_columns_encode(x, &a), 0);
    assert_int_equal(sf_flatten_columns_encode(y, &b), 0);
    assert_int_equal(sf_flatten_columns_merge(m, a.p, a.n), 0);
    assert_int_equal(sf_flatten_columns_merge(m, b.p, b.n), 0);
    /* A string column that also held a number is a mix; one that only held
     * strings is not, though both are typed string. */
    assert_int_equal(column_type(m, "coupon"), SF_STRING);
    assert_int_equal(column_seen(m, "coupon"), (1u << SF_STRING) | (1u << SF_INT));
    assert_int_equal(column_seen(m, "s"), 1u << SF_STRING);
    assert_int_equal(column_seen(m, "n"), (1u << SF_INT) | (1u << SF_DOUBLE));
    assert_int_equal(column_seen(m, "z"), 0); /* nulls are no type */
    sf_buf_free(&a);
    sf_buf_free(&b);
    sf_flatten_free(x);
    sf_flatten_free(y);
    sf_flatten_free(m);
}

static void test_malformed_column_record_is_a_parse_error(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    flat(f, "{\"abc\":1}");
    sf_buf b = SF_BUF_INIT;
    assert_int_equal(sf_flatten_columns_encode(f, &b), 0);
    sf_flatten *g = make_default();
    assert_int_equal(sf_flatten_columns_merge(g, b.p, b.n - 1), SF_E_PARSE);
    assert_int_equal(sf_flatten_columns_merge(g, b.p, 10), SF_E_PARSE);
    assert_int_equal(sf_flatten_columns_merge(g, b.p, b.n), 0);
    assert_int_equal(sf_flatten_column_find(g, "abc", 3) >= 0, 1);
    sf_buf_free(&b);
    sf_flatten_free(f);
    sf_flatten_free(g);
}

static void test_seeded_columns_keep_their_ids(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    sf_flatten_column c = {"z", 1, SF_NULL, 0, 0, 0, 0};
    uint32_t id;
    assert_int_equal(sf_flatten_column_add(f, &c, &id), 0);
    assert_int_equal(id, 0);
    c.name = "a";
    assert_int_equal(sf_flatten_column_add(f, &c, &id), 0);
    assert_int_equal(id, 1);
    flat(f, "{\"a\":1,\"z\":2,\"n\":3}");
    size_t nc;
    const sf_flatten_cell *cells = sf_flatten_row(f, 0, &nc);
    assert_int_equal(nc, 3);
    assert_int_equal(cells[0].col, 1);
    assert_int_equal(cells[1].col, 0);
    assert_int_equal(cells[2].col, 2);
    sf_flatten_free(f);
}

static void test_policy_names_round_trip(void **state)
{
    (void)state;
    sf_lists_policy l;
    sf_collision_policy c;
    for (int i = SF_LISTS_INDEX; i <= SF_LISTS_JSON; i++) {
        assert_int_equal(sf_lists_policy_parse(sf_lists_policy_name((sf_lists_policy)i), &l), 0);
        assert_int_equal(l, i);
    }
    for (int i = SF_COLLISION_ERROR; i <= SF_COLLISION_LAST; i++) {
        assert_int_equal(
            sf_collision_policy_parse(sf_collision_policy_name((sf_collision_policy)i), &c), 0);
        assert_int_equal(c, i);
    }
    assert_int_equal(sf_lists_policy_parse("flat", &l), SF_E_INVAL);
    assert_int_equal(sf_collision_policy_parse("", &c), SF_E_INVAL);
    sf_flatten_free(NULL);
}

static void test_engine_reuse_keeps_no_cells_of_the_previous_record(void **state)
{
    (void)state;
    const char *paths[] = {"l"};
    sf_flatten *f = make_explode(paths, 1);
    flat(f, "{\"l\":[1,2,3,4,5],\"k\":\"x\"}");
    assert_string_equal(flat(f, "{\"k\":\"y\"}"), "k=\"y\"");
    assert_int_equal(sf_flatten_nrows(f), 1);
    sf_flatten_free(f);
}

static void test_records_of_changing_shape_name_every_leaf(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    /* Each record's leaves are first matched with the previous record's;
     * an element more or less in the middle shifts the rest. */
    assert_string_equal(flat(f, "{\"a\":[{\"x\":1}],\"b\":2,\"c\":3}"), "a.0.x=1 b=2 c=3");
    assert_string_equal(flat(f, "{\"a\":[{\"x\":1},{\"x\":4}],\"b\":2,\"c\":3}"),
                        "a.0.x=1 a.1.x=4 b=2 c=3");
    assert_string_equal(flat(f, "{\"a\":[],\"c\":5,\"b\":6}"), "a=null c=5 b=6");
    assert_string_equal(flat(f, "{\"b\":7,\"a\":[{\"x\":8},{\"x\":9}],\"c\":1}"),
                        "b=7 a.0.x=8 a.1.x=9 c=1");
    assert_string_equal(flat(f, "{\"c\":1}"), "c=1");
    assert_string_equal(flat(f, "{\"a\":[{\"x\":1},{\"x\":4}],\"b\":2,\"c\":3}"),
                        "a.0.x=1 a.1.x=4 b=2 c=3");
    sf_flatten_free(f);
}

static void test_lists_index_names_elements_past_nine(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"a\":[0,1,2,3,4,5,6,7,8,9,10,11]}"),
                        "a.0=0 a.1=1 a.2=2 a.3=3 a.4=4 a.5=5 a.6=6 a.7=7 a.8=8 a.9=9 a.10=10 a.11=11");
    sf_flatten_free(f);
}

static void test_repeated_keys_are_found_among_keys_alike(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    /* Keys of the same length, first and last byte (one signature bit)
     * are still told apart, and a repeat is found after them. */
    assert_string_equal(flat(f, "{\"axb\":1,\"ayb\":2,\"azb\":3,\"ayb\":4}"), "axb=1 ayb=4 azb=3");
    assert_int_equal(sf_flatten_get_stats(f)->duplicate_keys, 1);
    /* A replaced object forgets its old keys: none of them is a repeat. */
    assert_string_equal(flat(f, "{\"p\":{\"k\":1,\"j\":2},\"p\":{\"j\":3,\"k\":4}}"),
                        "p.j=3 p.k=4");
    assert_int_equal(sf_flatten_get_stats(f)->duplicate_keys, 2);
    /* An escaped key equals its plain spelling. */
    assert_string_equal(flat(f, "{\"q\":1,\"\\u0071\":2,\"r\\u0000\":3}"), "q=2 r\\u0000=3");
    assert_int_equal(sf_flatten_get_stats(f)->duplicate_keys, 3);
    sf_flatten_free(f);
}

/* Lines for the direct pass against the tree: nested objects, empty
 * containers, nulls, key order changing between lines, arrays (past nine
 * elements too), objects whose keys spell the indexes of an array at the
 * same path, repeated keys (the direct pass hands those to the tree),
 * collisions, escaped keys, a wide object, a non-object and bad JSON. */
static const char *const shapes[] = {
    "{\"id\":1,\"c\":{\"n\":\"a\",\"addr\":{\"city\":\"P\",\"zip\":null}},\"l\":[{\"s\":1,\"t\":[]},{\"s\":2,\"t\":[\"x\",\"y\"]}]}",
    "{\"id\":2,\"c\":{\"n\":\"b\",\"addr\":{\"city\":\"Q\",\"zip\":\"7\"}},\"l\":[{\"s\":3,\"t\":[\"z\"]}]}",
    "{\"c\":{\"addr\":{\"zip\":\"8\",\"city\":\"R\"},\"n\":\"c\"},\"id\":3,\"l\":[]}",
    "{}",
    "{\"o\":{},\"a\":[],\"n\":{\"e\":{}},\"z\":null,\"m\":[[],[{}],[1,[2]]]}",
    "{\"a\":[0,1,2,3,4,5,6,7,8,9,10,11],\"b\":true,\"d\":2.5}",
    "{\"o\":{\"p\":1},\"a\":[5,{\"e\":[]}],\"n\":{\"e\":{\"f\":null}},\"z\":{}}",
    "{\"p\":{\"x\":1},\"q\":0,\"p\":{\"z\":3}}",
    "{\"id\":4,\"c\":{\"n\":\"d\",\"n\":\"e\"},\"l\":[{\"s\":1,\"s\":2}]}",
    "{\"axb\":1,\"ayb\":2,\"azb\":3}",
    "{\"a.b\":1,\"a\":{\"b\":2},\"c\":3}",
    "{\"q\":1,\"\\u0071\":2,\"r\\u0000\":{\"s\\u0000t\":3}}",
    "{\"k01\":1,\"k02\":2,\"k03\":3,\"k04\":4,\"k05\":5,\"k06\":6,\"k07\":7,\"k08\":8,\"k09\":9,"
    "\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17\":17,"
    "\"k18\":18,\"k19\":19,\"k20\":20,\"k21\":21,\"k22\":22,\"k10\":0}",
    "{\"k01\":1,\"k02\":2,\"k03\":3,\"k04\":4,\"k05\":5,\"k06\":6,\"k07\":7,\"k08\":8,\"k09\":9,"
    "\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17\":17}",
    "[1,2]",
    "{\"a\":1,\"b\":[1,{\"c\":2}",
    "{\"id\":5,\"l\":[{\"t\":[\"w\"],\"s\":9}],\"c\":{\"n\":\"f\"}}",
    "{\"x\":1,\"l\":[{\"s\":1},{\"s\":2}],\"x\":2}",
    "{\"l\":[[1,2],3,{},[],null,{\"s\":[4]},{\"s\":5,\"t\":{\"u\":6}}],\"y\":0}",
    "{\"l\":{\"s\":5},\"m\":[[7]]}",
    "{\"l\":7,\"a\":[]}",
    "{\"l\":null,\"a\":null}",
    "{\"y\":1,\"l\":[]}",
    "{\"a\":{\"1\":7,\"0\":8},\"l\":{\"0\":{\"s\":1},\"1\":[2]}}",
    "{\"a\":[3,4],\"l\":[{\"s\":5},[6]]}",
    "{\"id\":1,\"c\":{\"n\":\"a\",\"addr\":{\"city\":\"P\",\"zip\":null}},\"l\":[{\"s\":1,\"t\":[]},{\"s\":2,\"t\":[\"x\",\"y\"]}]}",
};

/* One line through an engine: its return code, message and rows. */
static void run_line(sf_flatten *f, const char *line, uint64_t order, char *buf, size_t cap)
{
    char msg[256] = "";
    int rc = sf_flatten_record(f, line, strlen(line), order, msg, sizeof msg);
    snprintf(buf, cap, "rc=%d msg=%s rows=%s", rc, msg, rc == 0 ? render(f) : "");
}

/* The columns so far: names, types, counts and first places, in order. */
static void columns_text(const sf_flatten *f, char *buf, size_t cap)
{
    size_t n = sf_flatten_ncolumns(f), k = 0;
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    assert_non_null(order);
    assert_int_equal(sf_flatten_columns_order(f, order), 0);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        sf_flatten_column c;
        sf_flatten_column_get(f, order[i], &c);
        int w = snprintf(buf + k, cap - k, "%s:%d:%llu:%llu:%u ", c.name, (int)c.type,
                         (unsigned long long)c.nonnull, (unsigned long long)c.first, c.ordinal);
        assert_true(w > 0 && (size_t)w < cap - k);
        k += (size_t)w;
    }
    free(order);
}

/* Every shape, in two orders, through the direct pass and through the
 * tree: the same verdicts, rows, columns and counts (with one explode
 * path when explode is not NULL, at most max_rows rows a record when it
 * is not 0). */
static void direct_matches_tree_exploding(sf_collision_policy pol, int known_only,
                                          const char *explode, uint64_t max_rows)
{
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.on_collision = pol;
    o.known_only = known_only;
    o.explode = &explode;
    o.nexplode = explode != NULL;
    o.max_rows = max_rows;
    sf_flatten *d = make(&o);
    o.tree_only = 1;
    sf_flatten *t = make(&o);
    if (known_only) {
        for (sf_flatten *e = d; e; e = e == d ? t : NULL) {
            uint32_t id;
            sf_flatten_column c = {.name = "id", .len = 2, .type = SF_INT};
            assert_int_equal(sf_flatten_column_add(e, &c, &id), 0);
            c.name = "c.n";
            c.len = 3;
            c.type = SF_STRING;
            assert_int_equal(sf_flatten_column_add(e, &c, &id), 0);
        }
    }
    size_t n = sizeof shapes / sizeof *shapes;
    static char a[8192], b[8192];
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t j = 0; j < n; j++) {
            /* The second pass goes backwards: other neighbours, other hints. */
            const char *line = shapes[pass ? n - 1 - j : j];
            uint64_t order = pass * n + j;
            run_line(d, line, order, a, sizeof a);
            run_line(t, line, order, b, sizeof b);
            if (strcmp(a, b) != 0)
                fail_msg("line %s:\n direct %s\n tree   %s", line, a, b);
        }
    }
    columns_text(d, a, sizeof a);
    columns_text(t, b, sizeof b);
    assert_string_equal(a, b);
    const sf_flatten_stats *sd = sf_flatten_get_stats(d), *st = sf_flatten_get_stats(t);
    assert_int_equal(sd->records, st->records);
    assert_int_equal(sd->rows, st->rows);
    assert_int_equal(sd->duplicate_keys, st->duplicate_keys);
    assert_int_equal(sd->collisions, st->collisions);
    assert_true(st->duplicate_keys > 0);
    if (explode)
        assert_int_equal(sf_flatten_explode_seen(d, 0), sf_flatten_explode_seen(t, 0));
    sf_flatten_free(d);
    sf_flatten_free(t);
}

static void direct_matches_tree(sf_collision_policy pol, int known_only)
{
    direct_matches_tree_exploding(pol, known_only, NULL, 0);
}

static void test_direct_pass_equals_the_tree_on_collision_error(void **state)
{
    (void)state;
    direct_matches_tree(SF_COLLISION_ERROR, 0);
}

static void test_direct_pass_equals_the_tree_on_collision_first_and_last(void **state)
{
    (void)state;
    direct_matches_tree(SF_COLLISION_FIRST, 0);
    direct_matches_tree(SF_COLLISION_LAST, 0);
}

static void test_direct_pass_equals_the_tree_on_known_columns_only(void **state)
{
    (void)state;
    direct_matches_tree(SF_COLLISION_LAST, 1);
}

static void test_direct_pass_equals_the_tree_exploding_one_path(void **state)
{
    (void)state;
    /* Arrays of objects with arrays inside, of scalars past nine, of
     * arrays, a path that never holds an array, one below an object, one
     * no line holds; every collision policy, known columns only, and a
     * row limit some lines pass. */
    static const char *const paths[] = {"l", "a", "m", "c.addr", "n.e", "none"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        direct_matches_tree_exploding(SF_COLLISION_ERROR, 0, paths[i], 0);
        direct_matches_tree_exploding(SF_COLLISION_LAST, 0, paths[i], 0);
        direct_matches_tree_exploding(SF_COLLISION_FIRST, 1, paths[i], 0);
        direct_matches_tree_exploding(SF_COLLISION_ERROR, 0, paths[i], 3);
    }
}

static void test_direct_pass_hands_repeated_keys_to_the_tree(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    /* Direct, then a repeat deep inside (the tree), then direct again: each
     * record's own rows, none of the stopped pass's leaves. */
    assert_string_equal(flat(f, "{\"a\":{\"b\":1},\"c\":[2]}"), "a.b=1 c.0=2");
    assert_string_equal(flat(f, "{\"a\":{\"b\":1,\"x\":{\"y\":1,\"y\":{}}},\"c\":[2,{\"d\":1,\"d\":3}]}"),
                        "a.b=1 a.x.y=null c.0=2 c.1.d=3");
    for (int i = 0; i < 20; i++)
        assert_string_equal(flat(f, "{\"c\":[],\"a\":{\"b\":null}}"), "c=null a.b=null");
    assert_int_equal(sf_flatten_get_stats(f)->duplicate_keys, 2);
    sf_flatten_free(f);
}

static void test_direct_pass_past_its_shape_cap_still_finds_columns(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.known_only = 1;
    sf_flatten *f = make(&o);
    uint32_t id;
    sf_flatten_column c = {.name = "id", .len = 2, .type = SF_INT};
    assert_int_equal(sf_flatten_column_add(f, &c, &id), 0);
    /* A key never seen again in every line: past the shape table's cap
     * (262,144 paths) the direct pass gives way to the tree. */
    char line[64], want[32];
    for (int i = 0; i < 270000; i++) {
        snprintf(line, sizeof line, "{\"k%d\":{\"x\":1},\"id\":%d}", i, i);
        snprintf(want, sizeof want, "id=%d", i);
        if (i % 9973 == 0 || i >= 262000)
            assert_string_equal(flat(f, line), want);
        else
            flat(f, line);
    }
    assert_int_equal(sf_flatten_ncolumns(f), 1);
    sf_flatten_free(f);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void test_fast_double_format_equals_the_reference(void **state)
{
    (void)state;
    static const double fixed[] = {0.0, -0.0, 1.0, -1.5, 0.1, 0.2, 0.3, 1e-4, 9.9999e-5, 1e15,
                                   999999999999999.0, 0.30000000000000004, 123456789012345.6,
                                   1e16, 1e-7, 54.78, 20.10, 4.5, 1.0 / 3.0, 2.0 / 3.0, 1e300,
                                   5e-324, 0.000123, 1234.5678};
    char a[SF_FMT_BUF], b[SF_FMT_BUF];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        for (int sign = 0; sign < 2; sign++) {
            double d = sign ? -fixed[i] : fixed[i];
            assert_int_equal(sf_fmt_double(d, a), sf_fmt_double_reference(d, b));
            assert_string_equal(a, b);
        }
    }
    for (int i = 0; i < 200000; i++) {
        uint64_t r = rng();
        double d;
        switch (i % 4) {
        case 0: /* a short decimal, as JSON data has: m / 10^k */
            d = (double)(r % 100000000) / pow(10, (double)(rng() % 12));
            break;
        case 1: /* up to 17 digits */
            d = (double)(r % 100000000000000000ull) / pow(10, (double)(rng() % 20));
            break;
        case 2: /* any finite bit pattern in [1e-5, 1e16] */
            d = 1e-5 + (double)(r >> 11) * 0x1p-53 * pow(10, (double)(rng() % 21));
            break;
        default: /* an integer, or a half */
            d = (double)(int64_t)(r % 2000000000000000ull) / ((r & 1) ? 2.0 : 1.0);
            break;
        }
        if (r & 2)
            d = -d;
        int n = sf_fmt_double(d, a);
        if (n != sf_fmt_double_reference(d, b) || strcmp(a, b) != 0)
            fail_msg("%.17g: fast %s, reference %s", d, a, b);
    }
}

/* ---- tutorial scenarios ---- */

static void test_tutorial_deep_nesting(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"l1\":{\"l2\":{\"l3\":{\"l4\":{\"l5\":{\"v\":\"deep\"}}}},"
                                "\"w\":1}}"),
                        "l1.l2.l3.l4.l5.v=\"deep\" l1.w=1");
    sf_flatten_free(f);
}

static void test_tutorial_mixed_types(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    flat(f, "{\"id\":1,\"score\":10,\"meta\":{\"ok\":true,\"ratio\":0.5}}");
    flat(f, "{\"id\":\"A-2\",\"score\":9.75,\"meta\":{\"ok\":\"yes\",\"ratio\":1}}");
    assert_int_equal(column_type(f, "id"), SF_STRING);
    assert_int_equal(column_type(f, "score"), SF_DOUBLE);
    assert_int_equal(column_type(f, "meta.ok"), SF_STRING);
    assert_int_equal(column_type(f, "meta.ratio"), SF_DOUBLE);
    sf_flatten_free(f);
}

static void test_tutorial_empty_and_null_handling(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"name\":\"\",\"nick\":null,\"tags\":[],\"address\":{},"
                                "\"phones\":[null]}"),
                        "name=\"\" nick=null tags=null address=null phones.0=null");
    sf_flatten_free(f);
}

static void test_tutorial_nested_arrays(void **state)
{
    (void)state;
    sf_flatten *f = make_default();
    assert_string_equal(flat(f, "{\"matrix\":[[1,2],[3,[4,5]]],\"pts\":[{\"xy\":[0,1]}]}"),
                        "matrix.0.0=1 matrix.0.1=2 matrix.1.0=3 matrix.1.1.0=4 matrix.1.1.1=5 "
                        "pts.0.xy.0=0 pts.0.xy.1=1");
    sf_flatten_free(f);
}

static void test_tutorial_list_of_objects_exploded(void **state)
{
    (void)state;
    const char *paths[] = {"employees"};
    sf_flatten *f = make_explode(paths, 1);
    assert_string_equal(flat(f, "{\"company\":\"Acme\",\"employees\":[{\"name\":\"Ann\","
                                "\"skills\":[\"c\",\"sql\"]},{\"name\":\"Bo\",\"skills\":[]}]}"),
                        "company=\"Acme\" employees.name=\"Ann\" employees.skills.0=\"c\" "
                        "employees.skills.1=\"sql\" | company=\"Acme\" employees.name=\"Bo\" "
                        "employees.skills=null");
    sf_flatten_free(f);
}

static void test_tutorial_multi_path_explosion(void **state)
{
    (void)state;
    const char *paths[] = {"sizes", "colors"};
    sf_flatten *f = make_explode(paths, 2);
    assert_string_equal(flat(f, "{\"sku\":\"t\",\"sizes\":[\"S\",\"M\"],\"colors\":[\"red\","
                                "\"blue\"]}"),
                        "sku=\"t\" sizes=\"S\" colors=\"red\" | sku=\"t\" sizes=\"S\" "
                        "colors=\"blue\" | sku=\"t\" sizes=\"M\" colors=\"red\" | sku=\"t\" "
                        "sizes=\"M\" colors=\"blue\"");
    sf_flatten_free(f);
}

static void test_tutorial_large_cartesian_product_hits_the_guard(void **state)
{
    (void)state;
    const char *paths[] = {"a", "b"};
    sf_flatten *f = make_explode(paths, 2);
    sf_buf line = SF_BUF_INIT;
    assert_int_equal(sf_buf_printf(&line, "{\"a\":["), 0);
    for (int i = 0; i < 101; i++)
        assert_int_equal(sf_buf_printf(&line, "%s%d", i ? "," : "", i), 0);
    assert_int_equal(sf_buf_printf(&line, "],\"b\":["), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sf_buf_printf(&line, "%s%d", i ? "," : "", i), 0);
    assert_int_equal(sf_buf_printf(&line, "]}"), 0);
    char msg[256];
    /* 101 x 100 = 10100 rows, over the default 10000. */
    assert_int_equal(sf_flatten_record(f, (const char *)line.p, line.n, 0, msg, sizeof msg),
                     1 + SF_REJ_TOO_MANY_ROWS);
    assert_non_null(strstr(msg, "10000"));
    sf_buf_free(&line);
    sf_flatten_free(f);
}

static void test_tutorial_api_response_with_join_policy(void **state)
{
    (void)state;
    sf_flatten_opts o;
    sf_flatten_opts_init(&o);
    o.lists = SF_LISTS_JOIN;
    o.sep = "_";
    sf_flatten *f = make(&o);
    assert_string_equal(flat(f, "{\"status\":200,\"data\":{\"user\":{\"id\":42,\"roles\":"
                                "[\"admin\",\"dev\"]},\"links\":[{\"rel\":\"self\"}]}}"),
                        "status=200 data_user_id=42 data_user_roles=\"admin,dev\" "
                        "data_links_0_rel=\"self\"");
    sf_flatten_free(f);
}

static void test_tutorial_event_log_explosion(void **state)
{
    (void)state;
    const char *paths[] = {"events"};
    sf_flatten *f = make_explode(paths, 1);
    assert_string_equal(flat(f, "{\"session\":\"s1\",\"device\":{\"os\":\"ios\"},\"events\":["
                                "{\"type\":\"open\",\"ts\":1},{\"type\":\"tap\",\"ts\":2,"
                                "\"target\":\"buy\"}]}"),
                        "session=\"s1\" device.os=\"ios\" events.type=\"open\" events.ts=1 | "
                        "session=\"s1\" device.os=\"ios\" events.type=\"tap\" events.ts=2 "
                        "events.target=\"buy\"");
    sf_flatten_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_objects_give_dotted_keys),
        cmocka_unit_test(test_separator_option_joins_keys),
        cmocka_unit_test(test_empty_separator_is_refused),
        cmocka_unit_test(test_lists_index_gives_zero_based_columns),
        cmocka_unit_test(test_lists_join_joins_scalars_with_null_as_empty),
        cmocka_unit_test(test_join_separator_option),
        cmocka_unit_test(test_lists_join_falls_back_to_index_for_arrays_of_containers),
        cmocka_unit_test(test_lists_json_keeps_the_array_as_compact_json),
        cmocka_unit_test(test_null_is_a_null_cell),
        cmocka_unit_test(test_empty_object_and_array_are_null_under_their_key),
        cmocka_unit_test(test_empty_record_gives_one_row_without_cells),
        cmocka_unit_test(test_max_depth_keeps_deeper_containers_as_json_text),
        cmocka_unit_test(test_numbers_keep_their_json_types),
        cmocka_unit_test(test_doubles_say_the_places_of_short_literals),
        cmocka_unit_test(test_escaped_and_unicode_keys_are_unescaped),
        cmocka_unit_test(test_explode_gives_one_row_per_element),
        cmocka_unit_test(test_explode_array_of_scalars_gives_values_under_the_path),
        cmocka_unit_test(test_explode_two_paths_gives_cartesian_product),
        cmocka_unit_test(test_nested_explode_paths_explode_inside_each_element),
        cmocka_unit_test(test_explode_path_inside_a_nested_object),
        cmocka_unit_test(test_explode_missing_null_or_empty_array_keeps_one_row),
        cmocka_unit_test(test_explode_of_a_non_array_is_its_only_element),
        cmocka_unit_test(test_elements_that_are_arrays_are_not_exploded_again),
        cmocka_unit_test(test_explode_beats_max_depth_on_its_path),
        cmocka_unit_test(test_max_rows_per_record_rejects_large_cartesian_product),
        cmocka_unit_test(test_guard_counts_without_overflowing),
        cmocka_unit_test(test_explode_paths_are_checked),
        cmocka_unit_test(test_explode_path_no_record_holds_is_not_seen),
        cmocka_unit_test(test_duplicate_keys_last_wins_at_the_first_place_and_are_counted),
        cmocka_unit_test(test_repeated_object_key_replaces_its_nested_fields),
        cmocka_unit_test(test_repeated_keys_of_a_wide_object_last_wins),
        cmocka_unit_test(test_repeated_wide_object_replaces_all_its_keys),
        cmocka_unit_test(test_collision_error_rejects_the_line_naming_the_column),
        cmocka_unit_test(test_collision_first_keeps_the_first_value),
        cmocka_unit_test(test_collision_last_keeps_the_last_value_at_the_first_place),
        cmocka_unit_test(test_collision_of_paths_met_apart_before),
        cmocka_unit_test(test_collision_of_record_field_with_exploded_field),
        cmocka_unit_test(test_same_column_in_different_exploded_elements_is_no_collision),
        cmocka_unit_test(test_bad_lines_are_rejected_with_the_decoder_reasons),
        cmocka_unit_test(test_rejected_line_leaves_no_columns_or_types),
        cmocka_unit_test(test_columns_are_in_first_appearance_order),
        cmocka_unit_test(test_type_inference_widens),
        cmocka_unit_test(test_columns_count_their_non_null_rows),
        cmocka_unit_test(test_merged_dictionaries_order_like_one_pass),
        cmocka_unit_test(test_columns_note_every_type_they_held_across_merges),
        cmocka_unit_test(test_malformed_column_record_is_a_parse_error),
        cmocka_unit_test(test_seeded_columns_keep_their_ids),
        cmocka_unit_test(test_policy_names_round_trip),
        cmocka_unit_test(test_engine_reuse_keeps_no_cells_of_the_previous_record),
        cmocka_unit_test(test_records_of_changing_shape_name_every_leaf),
        cmocka_unit_test(test_direct_pass_equals_the_tree_on_collision_error),
        cmocka_unit_test(test_direct_pass_equals_the_tree_on_collision_first_and_last),
        cmocka_unit_test(test_direct_pass_equals_the_tree_on_known_columns_only),
        cmocka_unit_test(test_direct_pass_equals_the_tree_exploding_one_path),
        cmocka_unit_test(test_direct_pass_hands_repeated_keys_to_the_tree),
        cmocka_unit_test(test_direct_pass_past_its_shape_cap_still_finds_columns),
        cmocka_unit_test(test_repeated_keys_are_found_among_keys_alike),
        cmocka_unit_test(test_lists_index_names_elements_past_nine),
        cmocka_unit_test(test_fast_double_format_equals_the_reference),
        cmocka_unit_test(test_tutorial_deep_nesting),
        cmocka_unit_test(test_tutorial_mixed_types),
        cmocka_unit_test(test_tutorial_empty_and_null_handling),
        cmocka_unit_test(test_tutorial_nested_arrays),
        cmocka_unit_test(test_tutorial_list_of_objects_exploded),
        cmocka_unit_test(test_tutorial_multi_path_explosion),
        cmocka_unit_test(test_tutorial_large_cartesian_product_hits_the_guard),
        cmocka_unit_test(test_tutorial_api_response_with_join_policy),
        cmocka_unit_test(test_tutorial_event_log_explosion),
        cmocka_unit_test(test_nul_in_a_key_is_written_as_its_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
