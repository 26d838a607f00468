/* test_dimtable.c - dimension tables of io/dimtable.h: JSONL and CSV bytes
 * loaded into a join table (checked through lookups), tolerant of blank
 * lines, CRLF and a UTF-8 BOM, and strict about everything else: every bad
 * row is an error naming the file and line (and column where there is one).
 * Inputs are built by hand as the spec loader would build them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/join.h"
#include "core/spec.h"
#include "io/dimtable.h"

enum { C_ID, C_CATEGORY, C_PRICE, C_LAUNCHED, C_ACTIVE, NCOLS };

static sf_job_column item_columns[NCOLS] = {
    {"item_id", SF_INT, 0, 0, {0, 0}},     {"category", SF_STRING, 1, 0, {0, 0}}, {"price", SF_DOUBLE, 2, 0, {0, 0}},
    {"launched", SF_DATE, 3, 0, {0, 0}},   {"active", SF_BOOL, 4, 0, {0, 0}},
};

static sf_job_input items(sf_input_format format)
{
    sf_job_input in;
    memset(&in, 0, sizeof in);
    in.name = "items";
    in.path = format == SF_FORMAT_CSV ? "dims/items.csv" : "dims/items.jsonl";
    in.format = format;
    in.is_fact = 0;
    in.columns = item_columns;
    in.ncolumns = NCOLS;
    in.key_col = C_ID;
    return in;
}

static sf_job_column user_columns[2] = {{"user", SF_STRING, 0, 0, {0, 0}}, {"country", SF_STRING, 1, 0, {0, 0}}};

/* A dimension keyed by a string column. */
static sf_job_input users(sf_input_format format)
{
    sf_job_input in;
    memset(&in, 0, sizeof in);
    in.name = "users";
    in.path = "users.dat";
    in.format = format;
    in.columns = user_columns;
    in.ncolumns = 2;
    in.key_col = 0;
    return in;
}

static sf_join_table *load_ok(const sf_job_input *in, const char *text)
{
    sf_join_table *t = NULL;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_dimtable_load(in, text, strlen(text), &t, &err);
    if (rc != 0)
        fail_msg("unexpected error %d: %s", rc, err.msg);
    assert_non_null(t);
    return t;
}

static void assert_load_error(const sf_job_input *in, const char *text, size_t len, int code,
                              const char *msg)
{
    sf_join_table *t = (sf_join_table *)1;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_dimtable_load(in, text, len, &t, &err), code);
    assert_null(t);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
}

static const sf_value *find_int(const sf_join_table *t, int64_t id)
{
    sf_value k = sf_int(id);
    return sf_join_table_find(t, &k);
}

static void assert_str(const sf_value *v, const char *want)
{
    assert_int_equal(v->type, SF_STRING);
    assert_int_equal(v->u.s.n, strlen(want));
    assert_memory_equal(v->u.s.p, want, v->u.s.n);
}

static void assert_item(const sf_join_table *t, int64_t id, const char *category, double price,
                        int32_t launched, int active)
{
    const sf_value *r = find_int(t, id);
    assert_non_null(r);
    assert_int_equal(r[C_ID].type, SF_INT);
    assert_int_equal(r[C_ID].u.i, id);
    assert_str(&r[C_CATEGORY], category);
    assert_int_equal(r[C_PRICE].type, SF_DOUBLE);
    assert_true(r[C_PRICE].u.d == price);
    assert_int_equal(r[C_LAUNCHED].type, SF_DATE);
    assert_int_equal(r[C_LAUNCHED].u.date, launched);
    assert_int_equal(r[C_ACTIVE].type, SF_BOOL);
    assert_int_equal(r[C_ACTIVE].u.b, active);
}

/* ---- JSONL ---- */

static void test_jsonl_rows_load_into_lookups(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    sf_join_table *t = load_ok(&in,
        "{\"item_id\": 1, \"category\": \"Books\", \"price\": 12.5, "
        "\"launched\": \"2025-08-01\", \"active\": true}\n"
        "{\"active\": false, \"launched\": \"1970-01-02\", \"price\": 3, "
        "\"category\": \"Toys\", \"item_id\": 2, \"extra\": [1, 2]}\n");
    assert_int_equal(sf_join_table_rows(t), 2);
    assert_item(t, 1, "Books", 12.5, 20301, 1);
    assert_item(t, 2, "Toys", 3.0, 1, 0); /* an integer is a valid double */
    assert_null(find_int(t, 3));
    sf_join_table_free(t);
}

static void test_jsonl_missing_and_null_fields_are_null(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    sf_join_table *t = load_ok(&in, "{\"item_id\": 7, \"category\": null}\n");
    const sf_value *r = find_int(t, 7);
    assert_non_null(r);
    for (int c = C_CATEGORY; c < NCOLS; c++)
        assert_int_equal(r[c].type, SF_NULL);
    sf_join_table_free(t);
}

static void test_jsonl_blank_lines_crlf_and_bom_are_accepted(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    sf_join_table *t = load_ok(&in,
        "\xEF\xBB\xBF{\"item_id\": 1, \"category\": \"A\"}\r\n"
        "\r\n"
        "\n"
        "{\"item_id\": 2, \"category\": \"B\"}\r\n"
        "{\"item_id\": 3, \"category\": \"C\"}"); /* no final newline */
    assert_int_equal(sf_join_table_rows(t), 3);
    const char *want[] = {"A", "B", "C"};
    for (int64_t id = 1; id <= 3; id++)
        assert_str(&find_int(t, id)[C_CATEGORY], want[id - 1]);
    sf_join_table_free(t);
}

/* Lines of one shape after the first are read with their ends found by
 * the decoder (sf_decoder_decode_window): CRLF and LF ends, blank lines
 * among them, a line of the same shape whose value does not convert
 * (named with its own line number), and a last line without a newline
 * give what the line-by-line path gives. */
static void test_jsonl_lines_of_a_learned_shape_keep_every_verdict(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    char text[16384];
    size_t n = 0;
    for (int i = 1; i <= 200; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "{\"item_id\": %d, \"category\": \"c%d\", \"price\": %d.5}%s", i, i,
                              i, i % 2 ? "\r\n" : "\n");
        if (i % 50 == 0)
            n += (size_t)snprintf(text + n, sizeof text - n, "\r\n\n");
    }
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "{\"item_id\": 201, \"category\": \"last\", \"price\": 1.5}");
    sf_join_table *t = NULL;
    sf_error err;
    assert_int_equal(sf_dimtable_load(&in, text, n, &t, &err), 0);
    assert_int_equal(sf_join_table_rows(t), 201);
    char want[16];
    for (int64_t id = 1; id <= 200; id++) {
        const sf_value *r = find_int(t, id);
        snprintf(want, sizeof want, "c%d", (int)id);
        assert_str(&r[C_CATEGORY], want);
        assert_true(r[C_PRICE].u.d == (double)id + 0.5);
    }
    assert_str(&find_int(t, 201)[C_CATEGORY], "last");
    sf_join_table_free(t);

    /* Line 120 of 130 lines of one shape: the price a string. */
    n = 0;
    for (int i = 1; i <= 130; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              i == 120 ? "{\"item_id\": %d, \"category\": \"c\", \"price\": \"x\"}\n"
                                       : "{\"item_id\": %d, \"category\": \"c\", \"price\": 2.5}\n",
                              i);
    assert_load_error(&in, text, n, SF_E_TYPE,
                      "dims/items.jsonl: line 120: column 'price': expected double, got a string");
}

static void test_jsonl_string_key_and_strings_with_escapes(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_JSONL);
    sf_join_table *t = load_ok(&in,
        "{\"user\": \"u\\u00e9\", \"country\": \"a\\u0000b\"}\n"
        "{\"user\": \"plain\", \"country\": \"FR\"}\n");
    sf_value k = sf_string("u\xc3\xa9", 3);
    const sf_value *r = sf_join_table_find(t, &k);
    assert_non_null(r);
    assert_int_equal(r[1].u.s.n, 3);
    assert_memory_equal(r[1].u.s.p, "a\0b", 3);
    k = sf_string("plain", 5);
    assert_str(&sf_join_table_find(t, &k)[1], "FR");
    sf_join_table_free(t);
}

static void test_jsonl_dotted_column_name_is_a_literal_key(void **state)
{
    (void)state;
    sf_job_column cols[2] = {{"id", SF_INT, 0, 0, {0, 0}}, {"geo.country", SF_STRING, 1, 0, {0, 0}}};
    sf_job_input in = users(SF_FORMAT_JSONL);
    in.columns = cols;
    in.key_col = 0;
    sf_join_table *t = load_ok(&in,
        "{\"id\": 1, \"geo.country\": \"FR\", \"geo\": {\"country\": \"DE\"}}\n"
        "{\"id\": 2, \"geo\": {\"country\": \"DE\"}}\n");
    assert_str(&find_int(t, 1)[1], "FR");
    assert_int_equal(find_int(t, 2)[1].type, SF_NULL);
    sf_join_table_free(t);
}

static void test_jsonl_invalid_json_names_file_line_and_column(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    const char *text = "{\"item_id\": 1}\n\n{\"item_id\": 2,}\n";
    assert_load_error(&in, text, strlen(text), SF_E_PARSE,
                      "dims/items.jsonl: line 3, column 15: invalid JSON: "
                      "string or '}' expected near '}'");
}

static void test_jsonl_line_that_is_not_an_object(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    const char *text = "{\"item_id\": 1}\n[1, 2]\n";
    assert_load_error(&in, text, strlen(text), SF_E_PARSE,
                      "dims/items.jsonl: line 2: not a JSON object");
}

static void test_jsonl_type_mismatch_names_column_and_types(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    const char *text = "{\"item_id\": 1}\r\n{\"item_id\": 2}\r\n{\"item_id\": 3, \"price\": \"9.99\"}\r\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.jsonl: line 3: column 'price': expected double, got a string");
    text = "{\"item_id\": 1.5}\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.jsonl: line 1: column 'item_id': expected int64, got a double");
    text = "{\"item_id\": 1, \"launched\": \"2025-02-30\"}\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.jsonl: line 1: column 'launched': expected date, got a string");
    text = "{\"item_id\": 1, \"active\": 1}\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.jsonl: line 1: column 'active': expected bool, got an int64");
    text = "{\"item_id\": 1, \"category\": {\"a\": 1}}\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.jsonl: line 1: column 'category': expected string, "
                      "got an object or array");
}

static void test_jsonl_duplicate_key_names_line(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    const char *text = "{\"item_id\": 1}\n{\"item_id\": 2}\n\n{\"item_id\": 1}\n";
    assert_load_error(&in, text, strlen(text), SF_E_EXISTS,
                      "dims/items.jsonl: line 4: duplicate key item_id (keys of a dimension "
                      "table must be unique)");
}

/* "duplicates": "first": the first row of a key in file order wins, the
 * later ones are counted, in both formats. */
static void test_duplicates_first_keeps_the_first_row_and_counts(void **state)
{
    (void)state;
    const sf_input_format formats[2] = {SF_FORMAT_CSV, SF_FORMAT_JSONL};
    const char *texts[2] = {
        "user,country\nu1,FR\nu2,DE\nu1,US\nu1,IT\n",
        "{\"user\": \"u1\", \"country\": \"FR\"}\n{\"user\": \"u2\", \"country\": \"DE\"}\n"
        "{\"user\": \"u1\", \"country\": \"US\"}\n{\"user\": \"u1\", \"country\": \"IT\"}\n"};
    for (int f = 0; f < 2; f++) {
        sf_job_input in = users(formats[f]);
        in.keep_first_key = 1;
        sf_join_table *t = NULL;
        uint64_t dropped = 99;
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_dimtable_load_counted(&in, texts[f], strlen(texts[f]), &t, &dropped,
                                                  &err), 0);
        assert_int_equal(dropped, 2);
        assert_int_equal(sf_join_table_rows(t), 2);
        sf_value key = sf_string("u1", 2);
        const sf_value *row = sf_join_table_find(t, &key);
        assert_non_null(row);
        assert_int_equal(row[1].u.s.n, 2);
        assert_memory_equal(row[1].u.s.p, "FR", 2);
        sf_join_table_free(t);
        /* Without the option the same text is an error. */
        in.keep_first_key = 0;
        t = (sf_join_table *)1;
        assert_int_equal(sf_dimtable_load_counted(&in, texts[f], strlen(texts[f]), &t, &dropped,
                                                  &err), SF_E_EXISTS);
        assert_null(t);
    }
}

/* Rows wait a few lines for their add (their index slots prefetched):
 * a duplicate is still named by its own line when many lines follow it,
 * and comes before the error of a later bad line. */
static void test_jsonl_duplicate_before_later_lines_names_its_line(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_JSONL);
    char text[4096];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "{\"user\": \"u%d\", \"country\": \"FR\"}\n", i == 5 ? 2 : i);
    assert_load_error(&in, text, n, SF_E_EXISTS,
                      "users.dat: line 6: duplicate key user (keys of a dimension table must be "
                      "unique)");
    n = (size_t)snprintf(text, sizeof text,
                         "{\"user\": \"a\"}\n{\"user\": \"b\"}\n{\"user\": \"a\"}\n"
                         "{\"user\": \"c\"}\nnot json\n");
    assert_load_error(&in, text, n, SF_E_EXISTS,
                      "users.dat: line 3: duplicate key user (keys of a dimension table must be "
                      "unique)");
}

/* Lines whose strings the decoder unescapes (copies it overwrites on the
 * next line) among plain ones that wait: every row keeps its own values. */
static void test_jsonl_escaped_and_plain_rows_interleaved_keep_their_values(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_JSONL);
    char text[8192];
    size_t n = 0;
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              i % 3 ? "{\"user\": \"k%d\", \"country\": \"C%d\"}\n"
                                    : "{\"user\": \"k\\u0041%d\", \"country\": \"E\\u0042%d\"}\n",
                              i, i);
    sf_join_table *t = load_ok(&in, text);
    assert_int_equal(sf_join_table_rows(t), 60);
    char key[32], want[32];
    for (int i = 0; i < 60; i++) {
        int kn = snprintf(key, sizeof key, i % 3 ? "k%d" : "kA%d", i);
        snprintf(want, sizeof want, i % 3 ? "C%d" : "EB%d", i);
        sf_value k = sf_string(key, (size_t)kn);
        const sf_value *r = sf_join_table_find(t, &k);
        assert_non_null(r);
        assert_str(&r[1], want);
    }
    sf_join_table_free(t);
}

/* The same with the text in the heap, where the decoder's buffer for
 * unescaped strings usually lies past the text's end (a rank's received
 * piece): an escaped key that waited for its add would be overwritten by
 * the next line's and both rows would get the last key (at np 2 this
 * read "line 2: duplicate key" for two distinct keys). */
static void test_jsonl_escaped_keys_from_a_heap_buffer_keep_their_values(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_JSONL);
    const char *lines = "{\"user\": \"abcdefg\\n1\", \"country\": \"X\"}\n"
                        "{\"user\": \"zzzzzzz\\n1\", \"country\": \"Y\"}\n"
                        "{\"user\": \"plain\", \"country\": \"Z\"}\n";
    size_t len = strlen(lines);
    char *text = malloc(len + 1);
    assert_non_null(text);
    memcpy(text, lines, len + 1);
    sf_join_table *t = NULL;
    sf_error err = {0};
    assert_int_equal(sf_dimtable_load(&in, text, len, &t, &err), 0);
    assert_int_equal(sf_join_table_rows(t), 3);
    const char *keys[] = {"abcdefg\n1", "zzzzzzz\n1", "plain"}, *want[] = {"X", "Y", "Z"};
    for (int i = 0; i < 3; i++) {
        sf_value k = sf_string(keys[i], strlen(keys[i]));
        const sf_value *r = sf_join_table_find(t, &k);
        assert_non_null(r);
        assert_str(&r[1], want[i]);
    }
    sf_join_table_free(t);
    free(text);
}

static void test_jsonl_missing_or_null_key_names_line(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    const char *text = "{\"item_id\": 1}\n{\"category\": \"x\"}\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.jsonl: line 2: key 'item_id' is missing or null");
    text = "{\"item_id\": null}\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.jsonl: line 1: key 'item_id' is missing or null");
}

static void test_jsonl_empty_input_is_an_empty_table(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_JSONL);
    sf_join_table *t = load_ok(&in, "\n\r\n");
    assert_int_equal(sf_join_table_rows(t), 0);
    sf_join_table_free(t);
}

/* ---- CSV ---- */

static void test_csv_rows_load_by_header_name(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_CSV);
    /* Header order differs from the spec and has a column the spec lacks. */
    sf_join_table *t = load_ok(&in,
        "active,price,note,item_id,launched,category\n"
        "true,12.5,ignored,1,2025-08-01,Books\n"
        "false,3,\"a, b\",2,1970-01-02,\"Toys, \"\"Games\"\"\"\n");
    assert_int_equal(sf_join_table_rows(t), 2);
    assert_item(t, 1, "Books", 12.5, 20301, 1);
    assert_item(t, 2, "Toys, \"Games\"", 3.0, 1, 0);
    sf_join_table_free(t);
}

static void test_csv_empty_field_is_null_and_quoted_empty_is_empty_string(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_CSV);
    sf_join_table *t = load_ok(&in,
        "item_id,category,price,launched,active\n"
        "1,,,,\n"
        "2,\"\",1.0,,\n");
    const sf_value *r = find_int(t, 1);
    for (int c = C_CATEGORY; c < NCOLS; c++)
        assert_int_equal(r[c].type, SF_NULL);
    r = find_int(t, 2);
    assert_str(&r[C_CATEGORY], "");
    sf_join_table_free(t);
}

static void test_csv_blank_lines_crlf_and_bom_are_accepted(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_CSV);
    sf_join_table *t = load_ok(&in,
        "\xEF\xBB\xBFuser,country\r\n"
        "u1,FR\r\n"
        "\r\n"
        "u2,DE\r\n"
        "\n"
        "u3,US");
    assert_int_equal(sf_join_table_rows(t), 3);
    sf_value k = sf_string("u3", 2);
    assert_str(&sf_join_table_find(t, &k)[1], "US");
    k = sf_string("u1", 2);
    assert_str(&sf_join_table_find(t, &k)[1], "FR");
    sf_join_table_free(t);
}

static void test_csv_header_missing_a_column(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_CSV);
    const char *text = "item_id,category,launched,active\n1,a,2025-01-01,true\n";
    assert_load_error(&in, text, strlen(text), SF_E_PARSE,
                      "dims/items.csv: line 1: the header has no column 'price'");
}

static void test_csv_row_with_wrong_number_of_fields(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_CSV);
    const char *text = "user,country\nu1,FR\nu2,DE,extra\n";
    assert_load_error(&in, text, strlen(text), SF_E_PARSE,
                      "users.dat: line 3: 3 fields, the header has 2");
    text = "user,country\nu1\n";
    assert_load_error(&in, text, strlen(text), SF_E_PARSE,
                      "users.dat: line 2: 1 fields, the header has 2");
}

static void test_csv_line_numbers_count_embedded_newlines(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_CSV);
    const char *text = "user,country\n\"u\n1\",FR\nu2\n";
    assert_load_error(&in, text, strlen(text), SF_E_PARSE,
                      "users.dat: line 4: 1 fields, the header has 2");
}

static void test_csv_type_mismatch_quotes_the_field(void **state)
{
    (void)state;
    sf_job_input in = items(SF_FORMAT_CSV);
    const char *text = "item_id,category,price,launched,active\n1,a,1,2025-01-01,true\n"
                       "x2,a,1,2025-01-01,true\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.csv: line 3: column 'item_id': expected int64, got \"x2\"");
    text = "item_id,category,price,launched,active\n1,a,1,2025-01-01,yes\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.csv: line 2: column 'active': expected bool, got \"yes\"");
    text = "item_id,category,price,launched,active\n1,a,cheap,2025-01-01,true\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "dims/items.csv: line 2: column 'price': expected double, got \"cheap\"");
}

static void test_csv_duplicate_and_missing_key(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_CSV);
    const char *text = "user,country\nu1,FR\nu1,DE\n";
    assert_load_error(&in, text, strlen(text), SF_E_EXISTS,
                      "users.dat: line 3: duplicate key user (keys of a dimension table must "
                      "be unique)");
    text = "user,country\n,FR\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "users.dat: line 2: key 'user' is missing or null");
}

static void test_csv_without_header_is_an_error(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_CSV);
    assert_load_error(&in, "", 0, SF_E_PARSE,
                      "users.dat: empty file: a CSV dimension table needs a header row");
}

static void test_csv_unterminated_quote_is_a_parse_error(void **state)
{
    (void)state;
    sf_job_input in = users(SF_FORMAT_CSV);
    const char *text = "user,country\nu1,\"FR\n";
    sf_join_table *t = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_dimtable_load(&in, text, strlen(text), &t, &err), SF_E_PARSE);
    assert_null(t);
    assert_non_null(strstr(err.msg, "users.dat"));
    assert_non_null(strstr(err.msg, "line 2"));
}

/* ---- decimal columns ---- */

static sf_job_column price_columns[2] = {{"sku", SF_INT, 0, 0, {0, 0}},
                                         {"price", SF_DECIMAL, 1, 0, {8, 2}}};

static sf_job_input prices(sf_input_format format)
{
    sf_job_input in;
    memset(&in, 0, sizeof in);
    in.name = "prices";
    in.path = format == SF_FORMAT_CSV ? "p.csv" : "p.jsonl";
    in.format = format;
    in.columns = price_columns;
    in.ncolumns = 2;
    in.key_col = 0;
    return in;
}

static void assert_price(const sf_join_table *t, int64_t sku, int64_t scaled)
{
    const sf_value *r = find_int(t, sku);
    assert_non_null(r);
    assert_int_equal(r[1].type, SF_DECIMAL);
    assert_int_equal(r[1].scale, 2);
    assert_true(r[1].u.dec.lo == (uint64_t)scaled && r[1].u.dec.hi == (scaled < 0 ? -1 : 0));
}

static void test_decimal_columns_read_exactly_at_their_scale(void **state)
{
    (void)state;
    sf_job_input in = prices(SF_FORMAT_JSONL);
    sf_join_table *t = load_ok(&in, "{\"sku\": 1, \"price\": 494.79}\n"
                                    "{\"sku\": 2, \"price\": 7}\n"
                                    "{\"sku\": 3, \"price\": 0.125}\n"
                                    "{\"sku\": 4, \"price\": -1e-1}\n");
    assert_price(t, 1, 49479);
    assert_price(t, 2, 700);
    assert_price(t, 3, 12); /* half to even */
    assert_price(t, 4, -10);
    sf_join_table_free(t);
    in = prices(SF_FORMAT_CSV);
    t = load_ok(&in, "sku,price\n1,494.79\n2,7\n3,0.135\n");
    assert_price(t, 1, 49479);
    assert_price(t, 2, 700);
    assert_price(t, 3, 14);
    sf_join_table_free(t);
}

static void test_decimal_beyond_its_precision_is_an_error(void **state)
{
    (void)state;
    sf_job_input in = prices(SF_FORMAT_JSONL);
    const char *text = "{\"sku\": 1, \"price\": 1.5}\n{\"price\": 1234567.891, \"sku\": 2}\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "p.jsonl: line 2: column price: expected decimal(8,2), got number "
                      "1234567.891 (more than 8 digits)");
    text = "{\"sku\": 1, \"price\": \"1.5\"}\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "p.jsonl: line 1: column 'price': expected decimal(8,2), got a string");
    in = prices(SF_FORMAT_CSV);
    text = "sku,price\n1,1e9\n";
    assert_load_error(&in, text, strlen(text), SF_E_TYPE,
                      "p.csv: line 2: column 'price': expected decimal(8,2), got \"1e9\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl_rows_load_into_lookups),
        cmocka_unit_test(test_jsonl_missing_and_null_fields_are_null),
        cmocka_unit_test(test_jsonl_blank_lines_crlf_and_bom_are_accepted),
        cmocka_unit_test(test_jsonl_lines_of_a_learned_shape_keep_every_verdict),
        cmocka_unit_test(test_jsonl_string_key_and_strings_with_escapes),
        cmocka_unit_test(test_jsonl_dotted_column_name_is_a_literal_key),
        cmocka_unit_test(test_jsonl_invalid_json_names_file_line_and_column),
        cmocka_unit_test(test_jsonl_line_that_is_not_an_object),
        cmocka_unit_test(test_jsonl_type_mismatch_names_column_and_types),
        cmocka_unit_test(test_jsonl_duplicate_key_names_line),
        cmocka_unit_test(test_jsonl_duplicate_before_later_lines_names_its_line),
        cmocka_unit_test(test_jsonl_escaped_and_plain_rows_interleaved_keep_their_values),
        cmocka_unit_test(test_jsonl_escaped_keys_from_a_heap_buffer_keep_their_values),
        cmocka_unit_test(test_jsonl_missing_or_null_key_names_line),
        cmocka_unit_test(test_jsonl_empty_input_is_an_empty_table),
        cmocka_unit_test(test_csv_rows_load_by_header_name),
        cmocka_unit_test(test_csv_empty_field_is_null_and_quoted_empty_is_empty_string),
        cmocka_unit_test(test_csv_blank_lines_crlf_and_bom_are_accepted),
        cmocka_unit_test(test_csv_header_missing_a_column),
        cmocka_unit_test(test_csv_row_with_wrong_number_of_fields),
        cmocka_unit_test(test_csv_line_numbers_count_embedded_newlines),
        cmocka_unit_test(test_csv_type_mismatch_quotes_the_field),
        cmocka_unit_test(test_csv_duplicate_and_missing_key),
        cmocka_unit_test(test_decimal_columns_read_exactly_at_their_scale),
        cmocka_unit_test(test_decimal_beyond_its_precision_is_an_error),
        cmocka_unit_test(test_csv_without_header_is_an_error),
        cmocka_unit_test(test_csv_unterminated_quote_is_a_parse_error),
        cmocka_unit_test(test_duplicates_first_keeps_the_first_row_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
