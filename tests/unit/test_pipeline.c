/* test_pipeline.c - the map side of core/pipeline.h: a small job pushed line
 * by line; every line lands in exactly one count (blank, rejected by reason,
 * filtered, dropped by which join, aggregated), the accounting identity
 * holds, the combiner holds the expected groups, and the kept reject
 * samples are the first SF_MAX_SAMPLES by (file, offset) whatever order the
 * lines arrive in.
 *
 * The jansson decoder takes over jansson's allocator while a pipeline lives,
 * so each test loads the spec and builds the dimension tables first (setup)
 * and frees the pipeline before the job (teardown). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/groups.h"
#include "core/join.h"
#include "core/decimal.h"
#include "core/pipeline.h"
#include "core/spec.h"

static const char spec_text[] =
    "{\"name\": \"p\","
    " \"inputs\": {"
    "  \"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", \"columns\": {\"uid\": \"int64\","
    "          \"item\": \"int64\", \"kind\": \"string\", \"ts\": \"int64\","
    "          \"props.price\": \"double\"}},"
    "  \"users\": {\"role\": \"dimension\", \"path\": \"u\", \"key\": \"uid\","
    "             \"columns\": {\"uid\": \"int64\", \"country\": \"string\"}},"
    "  \"items\": {\"role\": \"dimension\", \"path\": \"i\", \"key\": \"item\","
    "             \"columns\": {\"item\": \"int64\", \"cat\": \"string\"}}},"
    " \"steps\": ["
    "  {\"filter\": \"kind != 'skip'\"},"
    "  {\"join\": \"users\", \"on\": \"uid\", \"select\": [\"country\"]},"
    "  {\"join\": \"items\", \"on\": \"item\", \"type\": \"inner\", \"select\": [\"cat\"]},"
    "  {\"derive\": \"day\", \"expr\": \"to_date(ts)\"}],"
    " \"group_by\": [\"country\"],"
    " \"aggregates\": {\"n\": \"count()\", \"rev\": \"sum(props.price)\","
    "                 \"users\": \"count_distinct(uid)\", \"days\": \"count_distinct(day)\","
    "                 \"cats\": \"count_distinct(cat)\"},"
    " \"output\": {\"path\": \"out\"}}";

enum { IN_EV, IN_USERS, IN_ITEMS, NINPUTS };
enum { A_N, A_REV, A_USERS, A_DAYS, A_CATS };

typedef struct fixture {
    sf_job *job;
    sf_join_table *dims[NINPUTS];
    sf_pipeline *p;
    sf_decoder_kind decoder;
    uint64_t offset; /* of the next line pushed with push() */
} fixture;

/* A fixture with spec (named name in errors) loaded, or NULL (the error
 * printed). */
static fixture *fixture_load(const char *spec, const char *name)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_job_load(spec, strlen(spec), name, NULL, &f->job, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        free(f);
        return NULL;
    }
    return f;
}

/* A pipeline (fast decoder, no dimension tables) of a job loaded from
 * spec; the job goes to *job, for the caller to free after the pipeline. */
static sf_pipeline *pipeline_of(const char *spec, const char *name, sf_job **job)
{
    sf_error err;
    sf_error_clear(&err);
    *job = NULL;
    assert_int_equal(sf_job_load(spec, strlen(spec), name, NULL, job, &err), 0);
    sf_join_table *dims[SF_MAX_INPUTS] = {0};
    sf_pipeline *p = sf_pipeline_new(*job, dims, SF_DECODER_FAST, &err);
    assert_non_null(p);
    return p;
}

/* Every pipeline test runs once per decoder: they must count, reject and
 * describe lines identically. */
static int setup_with(void **state, sf_decoder_kind decoder)
{
    fixture *f = fixture_load(spec_text, "p.json");
    if (!f)
        return -1;
    f->decoder = decoder;
    sf_error err;
    sf_error_clear(&err);
    if (sf_job_input_index(f->job, "users") != IN_USERS ||
        sf_job_input_index(f->job, "items") != IN_ITEMS)
        return -1;
    f->dims[IN_USERS] = sf_join_table_new(2, 0);
    f->dims[IN_ITEMS] = sf_join_table_new(2, 0);
    const sf_value users[][2] = {
        {sf_int(1), sf_string("FR", 2)}, {sf_int(2), sf_string("DE", 2)}, {sf_int(3), sf_null()}};
    const sf_value items[][2] = {{sf_int(10), sf_string("books", 5)},
                                 {sf_int(11), sf_string("toys", 4)}};
    for (size_t i = 0; i < 3; i++) {
        if (sf_join_table_add(f->dims[IN_USERS], users[i]) != 0)
            return -1;
    }
    for (size_t i = 0; i < 2; i++) {
        if (sf_join_table_add(f->dims[IN_ITEMS], items[i]) != 0)
            return -1;
    }
    f->p = sf_pipeline_new(f->job, f->dims, f->decoder, &err);
    if (!f->p) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup_jansson(void **state) { return setup_with(state, SF_DECODER_JANSSON); }
static int setup_fast(void **state) { return setup_with(state, SF_DECODER_FAST); }

static int teardown(void **state)
{
    fixture *f = *state;
    sf_pipeline_free(f->p);
    for (size_t i = 0; i < NINPUTS; i++)
        sf_join_table_free(f->dims[i]);
    sf_job_free(f->job);
    free(f);
    return 0;
}

/* Pushes one line of file 0 at the running offset, as a scan would. */
static void push(fixture *f, const char *line)
{
    size_t len = strlen(line);
    assert_int_equal(sf_pipeline_push(f->p, line, len, 0, f->offset), 0);
    f->offset += len + 1;
}

static void check_identity(const sf_counts *c)
{
    assert_int_equal(c->lines_read, c->blank_lines + c->rows_rejected + c->rows_filtered +
                                        c->rows_dropped_by_join + c->rows_aggregated);
    uint64_t by_reason = 0, by_input = 0;
    for (int r = 0; r < SF_REJ_NREASONS; r++)
        by_reason += c->rejected_by_reason[r];
    for (int i = 0; i < SF_MAX_INPUTS; i++)
        by_input += c->dropped_by_join[i];
    assert_int_equal(by_reason, c->rows_rejected);
    assert_int_equal(by_input, c->rows_dropped_by_join);
}

static const char *const good_lines[] = {
    "{\"uid\": 1, \"item\": 10, \"kind\": \"buy\", \"ts\": 0, \"props\": {\"price\": 2.5}}",
    "{\"uid\": 1, \"item\": 11, \"kind\": \"view\", \"ts\": 86400}",
    "{\"uid\": 2, \"item\": 10, \"kind\": \"buy\", \"ts\": 100, \"props\": {\"price\": 1}}",
    "{\"uid\": 3, \"item\": 11, \"kind\": \"buy\", \"ts\": 0, \"props\": {\"price\": 0.25}}",
    "{\"uid\": 1, \"item\": 10, \"kind\": \"buy\", \"ts\": 172800, \"props\": {\"price\": 0.1}}",
};

static void test_valid_lines_are_aggregated(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < 5; i++)
        push(f, good_lines[i]);
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->lines_read, 5);
    assert_int_equal(c->rows_aggregated, 5);
    assert_int_equal(c->rows_rejected, 0);
    size_t n;
    sf_pipeline_samples(f->p, &n);
    assert_int_equal(n, 0);
    check_identity(c);
}

/* Result j of the group whose key is the string country (NULL: the NULL group). */
static sf_value group_result(sf_groups *g, const char *country, size_t j)
{
    sf_value k = country ? sf_string(country, strlen(country)) : sf_null();
    unsigned char want[32];
    size_t wlen = sf_value_encode(&k, want);
    for (size_t i = 0; i < sf_groups_count(g); i++) {
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(g, i, &key, &klen, &hash);
        if (klen == wlen && memcmp(key, want, wlen) == 0) {
            int overflow = 0;
            return sf_groups_result(g, i, j, &overflow);
        }
    }
    fail_msg("no group %s", country ? country : "NULL");
    return sf_null();
}

static void assert_int_value(sf_value v, int64_t want)
{
    assert_int_equal(v.type, SF_INT);
    assert_int_equal(v.u.i, want);
}

static void assert_double_value(sf_value v, double want)
{
    assert_int_equal(v.type, SF_DOUBLE);
    assert_true(v.u.d == want);
}

static void test_groups_hold_joined_and_derived_columns(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < 5; i++)
        push(f, good_lines[i]);
    sf_groups *g = sf_pipeline_groups(f->p);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_equal(sf_groups_count(g), 3);
    assert_int_value(group_result(g, "FR", A_N), 3);
    assert_double_value(group_result(g, "FR", A_REV), 2.6);
    assert_int_value(group_result(g, "FR", A_USERS), 1);
    assert_int_value(group_result(g, "FR", A_DAYS), 3);
    assert_int_value(group_result(g, "FR", A_CATS), 2);
    assert_int_value(group_result(g, "DE", A_N), 1);
    assert_double_value(group_result(g, "DE", A_REV), 1.0); /* JSON 1 read as a double */
    /* user 3 joins to a NULL country: a group of its own. */
    assert_int_value(group_result(g, NULL, A_N), 1);
    assert_double_value(group_result(g, NULL, A_REV), 0.25);
}

static void test_every_line_lands_in_exactly_one_count(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < 5; i++)
        push(f, good_lines[i]);
    push(f, "");                                                          /* blank */
    push(f, "{bad");                                                      /* invalid JSON */
    push(f, "[1, 2]");                                                    /* not an object */
    push(f, "42");                                                        /* not an object */
    push(f, "{\"uid\": 1, \"item\": 10, \"ts\": \"abc\"}");               /* type mismatch */
    push(f, "{\"uid\": 99999999999999999999}"); /* beyond int64: type mismatch */
    push(f, "{\"kind\": \"\xff\"}");                                      /* invalid UTF-8 */
    push(f, "{\"uid\": 1, \"item\": 10, \"kind\": \"skip\", \"ts\": 0}"); /* filtered */
    push(f, "{\"uid\": 1, \"item\": 10, \"ts\": 0}");          /* NULL filter: filtered */
    push(f, "{\"uid\": 99, \"item\": 10, \"kind\": \"buy\"}"); /* no such user */
    push(f, "{\"item\": 10, \"kind\": \"buy\"}");              /* NULL user key */
    push(f, "{\"uid\": 1, \"item\": 99, \"kind\": \"buy\"}");  /* no such item */
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->lines_read, 17);
    assert_int_equal(c->blank_lines, 1);
    assert_int_equal(c->rows_rejected, 6);
    assert_int_equal(c->rejected_by_reason[SF_REJ_INVALID_JSON], 1);
    assert_int_equal(c->rejected_by_reason[SF_REJ_NOT_OBJECT], 2);
    assert_int_equal(c->rejected_by_reason[SF_REJ_TYPE_MISMATCH], 2);
    assert_int_equal(c->rejected_by_reason[SF_REJ_INT_OVERFLOW], 0);
    assert_int_equal(c->rejected_by_reason[SF_REJ_INVALID_UTF8], 1);
    assert_int_equal(c->rows_filtered, 2);
    assert_int_equal(c->rows_dropped_by_join, 3);
    assert_int_equal(c->dropped_by_join[IN_USERS], 2);
    assert_int_equal(c->dropped_by_join[IN_ITEMS], 1);
    assert_int_equal(c->dropped_by_join[IN_EV], 0);
    assert_int_equal(c->rows_aggregated, 5);
    check_identity(c);
    /* Rejected lines never reach the combiner. */
    sf_groups *g = sf_pipeline_groups(f->p);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_equal(sf_groups_count(g), 3);
    assert_int_value(group_result(g, "FR", A_N), 3);
}

static void test_rejected_lines_are_sampled_with_place_and_reason(void **state)
{
    fixture *f = *state;
    push(f, good_lines[0]);
    uint64_t type_at = f->offset;
    push(f, "{\"uid\": 1, \"item\": 10, \"ts\": \"abc\"}");
    uint64_t json_at = f->offset;
    push(f, "{bad");
    uint64_t array_at = f->offset;
    push(f, "[1]");
    size_t n;
    const sf_reject_sample *s = sf_pipeline_samples(f->p, &n);
    assert_int_equal(n, 3);
    assert_int_equal(s[0].file, 0);
    assert_int_equal(s[0].offset, type_at);
    assert_int_equal(s[0].reason, SF_REJ_TYPE_MISMATCH);
    assert_string_equal(s[0].msg, "ts: expected int64, got string \"abc\"");
    assert_int_equal(s[1].offset, json_at);
    assert_int_equal(s[1].reason, SF_REJ_INVALID_JSON);
    assert_memory_equal(s[1].msg, "invalid JSON at column ", 23);
    assert_int_equal(s[2].offset, array_at);
    assert_int_equal(s[2].reason, SF_REJ_NOT_OBJECT);
    assert_string_equal(s[2].msg, "not an object: the line is an array");
}

static void test_type_mismatch_messages_describe_the_value(void **state)
{
    fixture *f = *state;
    push(f, "{\"uid\": 1.5}");
    push(f, "{\"uid\": 1, \"kind\": 7}");
    push(f, "{\"uid\": 1, \"props\": {\"price\": true}}");
    push(f, "{\"uid\": 1, \"ts\": {\"a\": 1}}");
    size_t n;
    const sf_reject_sample *s = sf_pipeline_samples(f->p, &n);
    assert_int_equal(n, 4);
    assert_string_equal(s[0].msg, "uid: expected int64, got double 1.5");
    assert_string_equal(s[1].msg, "kind: expected string, got int64 7");
    assert_string_equal(s[2].msg, "props.price: expected double, got bool true");
    assert_string_equal(s[3].msg, "ts: expected int64, got an object");
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(s[i].reason, SF_REJ_TYPE_MISMATCH);
}

static void test_samples_keep_first_by_file_and_offset_when_lines_arrive_out_of_order(
    void **state)
{
    fixture *f = *state;
    /* 40 bad lines over files 0..2, pushed in a scrambled order. */
    enum { NBAD = 40 };
    int32_t file[NBAD];
    uint64_t off[NBAD];
    for (int i = 0; i < NBAD; i++) {
        int k = (i * 17 + 5) % NBAD; /* a permutation of 0..39 */
        file[i] = k % 3 == 0 ? 2 : k % 3 == 1 ? 0 : 1;
        off[i] = (uint64_t)k * 1000 + 7;
    }
    for (int i = 0; i < NBAD; i++)
        assert_int_equal(sf_pipeline_push(f->p, "{bad", 4, file[i], off[i]), 0);
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->rows_rejected, NBAD);

    /* The expected samples: all pairs sorted, the first SF_MAX_SAMPLES. */
    int32_t ef[NBAD];
    uint64_t eo[NBAD];
    size_t ne = 0;
    for (int32_t fl = 0; fl < 3; fl++) {
        for (uint64_t k = 0; k < NBAD; k++) {
            for (int i = 0; i < NBAD; i++) {
                if (file[i] == fl && off[i] == k * 1000 + 7) {
                    ef[ne] = fl;
                    eo[ne++] = off[i];
                }
            }
        }
    }
    assert_int_equal(ne, NBAD);
    size_t n;
    const sf_reject_sample *s = sf_pipeline_samples(f->p, &n);
    assert_int_equal(n, SF_MAX_SAMPLES);
    for (size_t i = 0; i < SF_MAX_SAMPLES; i++) {
        assert_int_equal(s[i].file, ef[i]);
        assert_int_equal(s[i].offset, eo[i]);
        assert_int_equal(s[i].reason, SF_REJ_INVALID_JSON);
    }
}

static void test_samples_insert_merges_sets_from_two_ranks(void **state)
{
    (void)state;
    sf_reject_sample merged[SF_MAX_SAMPLES];
    size_t n = 0;
    /* Rank A saw even offsets of file 1, rank B odd ones and file 0. */
    for (int k = 0; k < 15; k++) {
        sf_reject_sample a;
        memset(&a, 0, sizeof a);
        a.file = 1;
        a.offset = (uint64_t)(28 - 2 * k);
        snprintf(a.msg, sizeof a.msg, "a%d", k);
        sf_samples_insert(merged, &n, &a);
        sf_reject_sample b = a;
        b.offset = (uint64_t)(2 * k + 1);
        b.file = k < 3 ? 0 : 1;
        sf_samples_insert(merged, &n, &b);
    }
    assert_int_equal(n, SF_MAX_SAMPLES);
    assert_int_equal(merged[0].file, 0);
    assert_int_equal(merged[0].offset, 1);
    assert_int_equal(merged[2].file, 0);
    assert_int_equal(merged[2].offset, 5);
    /* Then file 1 from offset 0 upwards, except the odd ones rank B gave
     * to file 0. */
    const uint64_t want[] = {0, 2, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    for (size_t i = 0; i < 17; i++) {
        assert_int_equal(merged[3 + i].file, 1);
        assert_int_equal(merged[3 + i].offset, want[i]);
    }
}

static void test_reject_counts_a_line_read_and_keeps_its_sample(void **state)
{
    fixture *f = *state;
    push(f, good_lines[0]);
    sf_pipeline_reject(f->p, 3, 123456, SF_REJ_LINE_TOO_LONG,
                       "line too long: 5000000 bytes (--max-line-bytes 1048576)");
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->lines_read, 2);
    assert_int_equal(c->rows_rejected, 1);
    assert_int_equal(c->rejected_by_reason[SF_REJ_LINE_TOO_LONG], 1);
    check_identity(c);
    size_t n;
    const sf_reject_sample *s = sf_pipeline_samples(f->p, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].file, 3);
    assert_int_equal(s[0].offset, 123456);
    assert_int_equal(s[0].reason, SF_REJ_LINE_TOO_LONG);
    assert_string_equal(s[0].msg, "line too long: 5000000 bytes (--max-line-bytes 1048576)");
}

static void test_long_sample_messages_are_truncated_not_overflowed(void **state)
{
    fixture *f = *state;
    char msg[600];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    sf_pipeline_reject(f->p, 0, 0, SF_REJ_LINE_TOO_LONG, msg);
    size_t n;
    const sf_reject_sample *s = sf_pipeline_samples(f->p, &n);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(s[0].msg), sizeof s[0].msg - 1);
}

static void test_add_bytes_accumulates_bytes_scanned(void **state)
{
    fixture *f = *state;
    sf_pipeline_add_bytes(f->p, 1000);
    sf_pipeline_add_bytes(f->p, 24);
    assert_int_equal(sf_pipeline_counts(f->p)->bytes_scanned, 1024);
    assert_int_equal(sf_pipeline_counts(f->p)->lines_read, 0);
}

static void test_second_live_jansson_pipeline_is_refused_with_an_error(void **state)
{
    /* jansson's allocator hook is process-wide: one jansson decoder at a time. */
    fixture *f = *state;
    sf_error err;
    sf_error_clear(&err);
    sf_pipeline *other = sf_pipeline_new(f->job, f->dims, SF_DECODER_JANSSON, &err);
    assert_null(other);
    assert_true(err.code < 0);
    assert_true(err.msg[0] != '\0');
}

/* A required column that is missing or null rejects the line with its own
 * reason, with either decoder. */
static void test_missing_required_column_rejects_the_line(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"e\", \"required\": [\"ts\"],"
        " \"columns\": {\"uid\": \"int64\", \"ts\": \"int64\"}}},"
        " \"group_by\": [\"uid\"], \"aggregates\": {\"n\": \"count()\"},"
        " \"output\": {\"path\": \"o\"}}";
    for (int k = 0; k < 2; k++) {
        sf_job *job = NULL;
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_job_load(spec, strlen(spec), "r.json", NULL, &job, &err), 0);
        sf_join_table *dims[1] = {NULL};
        sf_pipeline *p = sf_pipeline_new(job, dims, k ? SF_DECODER_JANSSON : SF_DECODER_FAST,
                                         &err);
        assert_non_null(p);
        const char *lines[] = {"{\"uid\": 1, \"ts\": 5}", "{\"uid\": 2}",
                               "{\"uid\": 3, \"ts\": null}"};
        for (int i = 0; i < 3; i++)
            assert_int_equal(sf_pipeline_push(p, lines[i], strlen(lines[i]), 0, (uint64_t)i), 0);
        const sf_counts *c = sf_pipeline_counts(p);
        assert_int_equal(c->rows_aggregated, 1);
        assert_int_equal(c->rows_rejected, 2);
        assert_int_equal(c->rejected_by_reason[SF_REJ_MISSING_COLUMN], 2);
        const char *msg;
        assert_int_equal(sf_pipeline_last_reject(p, &msg), SF_REJ_MISSING_COLUMN);
        assert_string_equal(msg, "missing required column 'ts'");
        assert_string_equal(sf_reject_reason_name(SF_REJ_MISSING_COLUMN),
                            "missing required column");
        sf_pipeline_free(p);
        sf_job_free(job);
    }
}

static void test_free_null_is_a_no_op(void **state)
{
    (void)state;
    sf_pipeline_free(NULL);
}

/* ---- a flattened fact input with an explode path ---- */

static const char explode_spec[] =
    "{\"name\": \"x\","
    " \"inputs\": {"
    "  \"ord\": {\"role\": \"fact\", \"path\": \"o\", \"explode\": [\"items\"],"
    "          \"flatten\": {\"max_rows_per_record\": 4},"
    "          \"columns\": {\"uid\": \"int64\", \"items.sku\": \"string\","
    "          \"items.qty\": \"int64\", \"items.price\": \"double\", \"day\": \"date\"}},"
    "  \"users\": {\"role\": \"dimension\", \"path\": \"u\", \"key\": \"uid\","
    "             \"columns\": {\"uid\": \"int64\", \"country\": \"string\"}}},"
    " \"steps\": ["
    "  {\"filter\": \"items.qty > 0\"},"
    "  {\"join\": \"users\", \"on\": \"uid\", \"select\": [\"country\"]}],"
    " \"group_by\": [\"items.sku\"],"
    " \"aggregates\": {\"n\": \"count()\", \"units\": \"sum(items.qty)\","
    "                 \"revenue\": \"sum(items.price)\", \"days\": \"count_distinct(day)\"},"
    " \"output\": {\"path\": \"out\"}}";

enum { X_N, X_UNITS, X_REVENUE, X_DAYS };

static int setup_explode(void **state)
{
    fixture *f = fixture_load(explode_spec, "x.json");
    if (!f)
        return -1;
    sf_error err;
    sf_error_clear(&err);
    f->dims[1] = sf_join_table_new(2, 0);
    const sf_value users[][2] = {{sf_int(1), sf_string("FR", 2)}, {sf_int(2), sf_string("DE", 2)}};
    for (size_t i = 0; i < 2; i++) {
        if (sf_join_table_add(f->dims[1], users[i]) != 0)
            return -1;
    }
    f->p = sf_pipeline_new(f->job, f->dims, SF_DECODER_FAST, &err);
    if (!f->p) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

/* Both accounting identities of a pipeline with exploded rows. */
static void check_explode_identity(const sf_counts *c)
{
    check_identity(c);
    assert_int_equal(c->rows_exploded, c->exploded_filtered + c->exploded_dropped_by_join +
                                           c->exploded_aggregated);
}

static void test_exploded_line_counts_once_by_its_first_row(void **state)
{
    fixture *f = *state;
    /* aggregated first row; then one filtered and one aggregated row */
    push(f, "{\"uid\":1,\"items\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\",\"qty\":0},"
            "{\"sku\":\"a\",\"qty\":2,\"price\":1.5}]}");
    /* both rows dropped by the join */
    push(f, "{\"uid\":9,\"items\":[{\"sku\":\"c\",\"qty\":1},{\"sku\":\"d\",\"qty\":3}]}");
    /* filtered first row, aggregated second */
    push(f, "{\"uid\":2,\"items\":[{\"sku\":\"a\",\"qty\":0},{\"sku\":\"a\",\"qty\":5}]}");
    /* no items: one row with NULL qty, filtered */
    push(f, "{\"uid\":1}");
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->lines_read, 4);
    assert_int_equal(c->rows_aggregated, 1);
    assert_int_equal(c->rows_dropped_by_join, 1);
    assert_int_equal(c->dropped_by_join[1], 1);
    assert_int_equal(c->rows_filtered, 2);
    assert_int_equal(c->rows_exploded, 4);
    assert_int_equal(c->exploded_filtered, 1);
    assert_int_equal(c->exploded_dropped_by_join, 1);
    assert_int_equal(c->exploded_aggregated, 2);
    check_explode_identity(c);
    sf_groups *g = sf_pipeline_groups(f->p);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_equal(sf_groups_count(g), 1);
    assert_int_value(group_result(g, "a", X_N), 3);
    assert_int_value(group_result(g, "a", X_UNITS), 8);
    assert_double_value(group_result(g, "a", X_REVENUE), 1.5);
}

static void test_bad_value_in_any_exploded_row_rejects_the_whole_line(void **state)
{
    fixture *f = *state;
    push(f, "{\"uid\":1,\"items\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\",\"qty\":\"x\"}]}");
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->rows_rejected, 1);
    assert_int_equal(c->rejected_by_reason[SF_REJ_TYPE_MISMATCH], 1);
    assert_int_equal(c->rows_aggregated + c->rows_exploded, 0);
    const char *msg;
    assert_int_equal(sf_pipeline_last_reject(f->p, &msg), SF_REJ_TYPE_MISMATCH);
    assert_string_equal(msg, "items.qty: expected int64, got string \"x\"");
    assert_int_equal(sf_groups_count(sf_pipeline_groups(f->p)), 0);
    check_explode_identity(c);
}

static void test_push_line_returns_each_lines_verdict(void **state)
{
    fixture *f = *state;
    const char *good = "{\"uid\":1,\"items\":[{\"sku\":\"a\",\"qty\":1}]}";
    const char *bad = "{\"uid\":1,\"items\":[{\"sku\":\"b\",\"qty\":\"x\"}]}";
    sf_line_verdict v;
    assert_int_equal(sf_pipeline_push_line(f->p, bad, strlen(bad), 0, 0, &v), 0);
    assert_int_equal(v.rejected, 1);
    assert_int_equal(v.reason, SF_REJ_TYPE_MISMATCH);
    assert_string_equal(v.msg, "items.qty: expected int64, got string \"x\"");
    /* the next line's verdict does not carry the last reject over */
    assert_int_equal(sf_pipeline_push_line(f->p, good, strlen(good), 0, 100, &v), 0);
    assert_int_equal(v.rejected, 0);
    assert_string_equal(v.msg, "");
    assert_int_equal(sf_pipeline_push_line(f->p, "", 0, 0, 200, &v), 0);
    assert_int_equal(v.rejected, 0);
    assert_int_equal(sf_pipeline_counts(f->p)->rows_rejected, 1);
}

/* A window of lines taken in one call stops where it must: after
 * max_lines, at the owned end, at a line of a shape the decoder does not
 * know (left for push_line), after a line whose push is rejected; each
 * line taken counts as push_line counts it, and line_bytes grows by its
 * length + 1 ("\r\n" included). */
static void test_window_takes_lines_up_to_the_first_it_leaves(void **state)
{
    fixture *f = *state;
    const char *a = good_lines[0], *skip =
        "{\"uid\": 2, \"item\": 10, \"kind\": \"skip\", \"ts\": 5, \"props\": {\"price\": 9.5}}";
    const char *odd = "{\"kind\": \"buy\", \"uid\": 1, \"item\": 10, \"ts\": 0}";
    for (int k = 0; k < 4; k++) /* the decoder learns a's shape */
        push(f, a);
    size_t la = strlen(a), ls = strlen(skip);
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s\n%s\r\n%s\n%s\n", a, skip, a, odd);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    const sf_counts *c = sf_pipeline_counts(f->p);
    uint64_t read0 = c->lines_read, agg0 = c->rows_aggregated, bytes = 0;
    sf_line_window w = {buf, (size_t)n, (size_t)n, (size_t)n, 1000};
    sf_window_take t;
    sf_line_verdict v;

    assert_int_equal(sf_pipeline_push_window(f->p, &w, 0, 1, &bytes, &t, &v), 0);
    assert_int_equal(t.lines, 1);
    assert_int_equal(t.used, la + 1);
    assert_int_equal(t.last, 0);
    assert_int_equal(t.last_len, la);
    assert_int_equal(t.left, 0);
    assert_int_equal(bytes, la + 1);
    assert_int_equal(v.rejected, 0);

    w.buf += t.used;
    w.avail -= t.used;
    w.owned -= t.used;
    assert_int_equal(sf_pipeline_push_window(f->p, &w, 0, 100, &bytes, &t, &v), 0);
    assert_int_equal(t.lines, 2); /* skip (CRLF) and a; odd is left */
    assert_int_equal(t.used, ls + 2 + la + 1);
    assert_int_equal(t.last, ls + 2);
    assert_int_equal(t.last_len, la);
    assert_int_equal(t.left, 1);
    assert_int_equal(bytes, (la + 1) + (ls + 1) + (la + 1));
    assert_int_equal(c->lines_read, read0 + 3);
    assert_int_equal(c->rows_aggregated, agg0 + 2);
    assert_int_equal(c->rows_filtered, 1);
    check_identity(c);

    /* Only lines that start before owned are taken. */
    sf_line_window w2 = {buf, (size_t)n, la, (size_t)n, 2000};
    assert_int_equal(sf_pipeline_push_window(f->p, &w2, 0, 100, &bytes, &t, &v), 0);
    assert_int_equal(t.lines, 1);
    assert_int_equal(t.left, 0);
    /* A line must end within line_cap bytes. */
    sf_line_window w3 = {buf, (size_t)n, (size_t)n, la, 3000};
    assert_int_equal(sf_pipeline_push_window(f->p, &w3, 0, 100, &bytes, &t, &v), 0);
    assert_int_equal(t.lines, 0);
    assert_int_equal(t.left, 1);
    assert_int_equal(c->lines_read, read0 + 4);
}

/* A plan of derives, inline-test filters and one-column joins of
 * string-keyed tables (through their cells: the lean steps, S1's) counts
 * each row where the general steps do: a filtered row, an inner join's
 * drop by its input, a left join's missing key as a NULL cell (its own
 * group), a NULL key as missing. */
static void test_lean_steps_filter_drop_and_join_as_the_plan_says(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"name\": \"lean\", \"inputs\": {"
        "  \"ev\": {\"role\": \"fact\", \"path\": \"e\", \"columns\": {\"uid\": \"string\","
        "          \"item\": \"string\", \"kind\": \"string\", \"ts\": \"int64\"}},"
        "  \"users\": {\"role\": \"dimension\", \"path\": \"u\", \"key\": \"uid\","
        "             \"columns\": {\"uid\": \"string\", \"country\": \"string\"}},"
        "  \"items\": {\"role\": \"dimension\", \"path\": \"i\", \"key\": \"item\","
        "             \"columns\": {\"item\": \"string\", \"cat\": \"string\"}}},"
        " \"steps\": ["
        "  {\"derive\": \"day\", \"expr\": \"to_date(ts)\"},"
        "  {\"filter\": \"kind == 'purchase'\"},"
        "  {\"join\": \"users\", \"on\": \"uid\", \"type\": \"inner\", \"select\": [\"country\"]},"
        "  {\"join\": \"items\", \"on\": \"item\", \"type\": \"left\", \"select\": [\"cat\"]}],"
        " \"group_by\": [\"country\", \"cat\"],"
        " \"aggregates\": {\"n\": \"count()\", \"days\": \"count_distinct(day)\"},"
        " \"output\": {\"path\": \"out\"}}";
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(spec, strlen(spec), "lean.json", NULL, &job, &err), 0);
    sf_join_table *dims[SF_MAX_INPUTS] = {0};
    int iu = sf_job_input_index(job, "users"), ii = sf_job_input_index(job, "items");
    dims[iu] = sf_join_table_new(2, 0);
    dims[ii] = sf_join_table_new(2, 0);
    const sf_value users[][2] = {{sf_string("user_000001", 11), sf_string("FR", 2)},
                                 {sf_string("user_000002", 11), sf_string("DE", 2)}};
    const sf_value items[][2] = {{sf_string("item_000001", 11), sf_string("books", 5)}};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(sf_join_table_add(dims[iu], users[i]), 0);
    assert_int_equal(sf_join_table_add(dims[ii], items[0]), 0);
    sf_pipeline *p = sf_pipeline_new(job, dims, SF_DECODER_FAST, &err);
    assert_non_null(p);
    static const char *const lines[] = {
        "{\"uid\":\"user_000001\",\"item\":\"item_000001\",\"kind\":\"purchase\",\"ts\":0}",
        "{\"uid\":\"user_000001\",\"item\":\"item_000001\",\"kind\":\"purchase\",\"ts\":86400}",
        "{\"uid\":\"user_000002\",\"item\":\"item_000009\",\"kind\":\"purchase\",\"ts\":0}",
        "{\"uid\":\"user_000009\",\"item\":\"item_000001\",\"kind\":\"purchase\",\"ts\":0}",
        "{\"uid\":null,\"item\":\"item_000001\",\"kind\":\"purchase\",\"ts\":0}",
        "{\"uid\":\"user_000002\",\"item\":null,\"kind\":\"purchase\",\"ts\":0}",
        "{\"uid\":\"user_000001\",\"item\":\"item_000001\",\"kind\":\"view\",\"ts\":0}",
        "{\"uid\":\"user_000002\",\"item\":\"item_000001\",\"kind\":\"purchase\",\"ts\":0}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        assert_int_equal(sf_pipeline_push(p, lines[i], strlen(lines[i]), 0, 100 * i), 0);
    const sf_counts *c = sf_pipeline_counts(p);
    assert_int_equal(c->lines_read, 8);
    assert_int_equal(c->rows_filtered, 1);
    assert_int_equal(c->rows_dropped_by_join, 2);
    assert_int_equal(c->dropped_by_join[iu], 2);
    assert_int_equal(c->dropped_by_join[ii], 0);
    assert_int_equal(c->rows_aggregated, 5);
    check_identity(c);
    /* (FR, books) from two days; (DE, NULL) from a missing item and a NULL
     * one, not the cell of the row before; (DE, books). */
    assert_int_equal(sf_groups_count(sf_pipeline_groups(p)), 3);
    sf_pipeline_free(p);
    sf_join_table_free(dims[iu]);
    sf_join_table_free(dims[ii]);
    sf_job_free(job);
}

/* The daily KPI's steps (derive, filter, join, join, derive) and the
 * selective job's (filter of an &&, join, derive), which run in straight
 * lines of their own, over string keys (the joins' cells) and int keys
 * (the tables), into a text of the counts and every group's key and
 * results, sorted: the same lines must give the text the same plan with
 * one more step gives (that one takes the loop over the steps). */
enum { SHAPE_KPI, SHAPE_SELECTIVE, SHAPE_KPI0 };

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void shape_digest(int shape, int int_keys, int extra_step, char *out, size_t cap)
{
    const char *kt = int_keys ? "int64" : "string";
    char spec[2048];
    int n = snprintf(
        spec, sizeof spec,
        "{\"name\": \"shape\", \"inputs\": {"
        "  \"ev\": {\"role\": \"fact\", \"path\": \"e\", \"columns\": {\"uid\": \"%s\","
        "          \"item\": \"%s\", \"kind\": \"string\", \"ts\": \"int64\", \"price\": \"double\"}},"
        "  \"users\": {\"role\": \"dimension\", \"path\": \"u\", \"key\": \"uid\","
        "             \"columns\": {\"uid\": \"%s\", \"country\": \"string\"}},"
        "  \"items\": {\"role\": \"dimension\", \"path\": \"i\", \"key\": \"item\","
        "             \"columns\": {\"item\": \"%s\", \"cat\": \"string\"}}},"
        " \"steps\": [%s%s],"
        " \"group_by\": %s,"
        " \"aggregates\": {\"n\": \"count()\", \"buys\": \"count_if(kind == 'purchase')\","
        "   \"rev\": \"sum(price)\", \"users\": \"count_distinct(uid)\"},"
        " \"output\": {\"path\": \"out\"}}",
        kt, kt, kt, kt,
        shape == SHAPE_KPI0
            ? "{\"derive\": \"rev\", \"expr\": \"if(kind == 'purchase', price, 0.0)\"},"
              "{\"filter\": \"rev >= 0\"},"
              "{\"join\": \"users\", \"on\": \"uid\", \"type\": \"inner\", \"select\": [\"country\"]},"
              "{\"join\": \"items\", \"on\": \"item\", \"type\": \"left\", \"select\": [\"cat\"]},"
              "{\"derive\": \"day\", \"expr\": \"to_date(ts)\"}"
        : shape == SHAPE_KPI
            ? "{\"derive\": \"rev\", \"expr\": \"if(kind == 'purchase', price, 0.0)\"},"
              "{\"filter\": \"rev >= 1.0\"},"
              "{\"join\": \"users\", \"on\": \"uid\", \"type\": \"inner\", \"select\": [\"country\"]},"
              "{\"join\": \"items\", \"on\": \"item\", \"type\": \"left\", \"select\": [\"cat\"]},"
              "{\"derive\": \"day\", \"expr\": \"to_date(ts)\"}"
            : "{\"filter\": \"kind == 'purchase' && price > 2.0\"},"
              "{\"join\": \"items\", \"on\": \"item\", \"type\": \"inner\", \"select\": [\"cat\"]},"
              "{\"derive\": \"day\", \"expr\": \"to_date(ts)\"}",
        extra_step == 2   ? ",{\"filter\": \"ts >= 0 || ts < 0\"}" /* not lean: run_steps */
        : extra_step == 1 ? ",{\"derive\": \"zz\", \"expr\": \"ts\"}"
                          : "",
        shape != SHAPE_SELECTIVE ? "[\"day\", \"country\", \"cat\"]" : "[\"day\", \"cat\"]");
    assert_true(n > 0 && (size_t)n < sizeof spec);
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(spec, (size_t)n, "shape.json", NULL, &job, &err), 0);
    sf_join_table *dims[SF_MAX_INPUTS] = {0};
    int iu = sf_job_input_index(job, "users"), ii = sf_job_input_index(job, "items");
    dims[iu] = sf_join_table_new(2, 0);
    dims[ii] = sf_join_table_new(2, 0);
    static const char *const users[][2] = {
        {"user_000001", "FR"}, {"user_000002", "DE"}, {"user_000003", "FR"}};
    static const char *const items[][2] = {{"item_000001", "books"}, {"item_000002", "toys"}};
    for (int i = 0; i < 3; i++) {
        sf_value r[2] = {int_keys ? sf_int(i + 1) : sf_string(users[i][0], 11),
                         sf_string(users[i][1], 2)};
        assert_int_equal(sf_join_table_add(dims[iu], r), 0);
    }
    for (int i = 0; i < 2; i++) {
        sf_value r[2] = {int_keys ? sf_int(i + 1) : sf_string(items[i][0], 11),
                         sf_string(items[i][1], strlen(items[i][1]))};
        assert_int_equal(sf_join_table_add(dims[ii], r), 0);
    }
    sf_pipeline *p = sf_pipeline_new(job, dims, SF_DECODER_FAST, &err);
    assert_non_null(p);
    /* users 1-3 and 9 (none), items 1, 2 and 9 (none), a NULL item;
     * purchases and views, prices 0.5 to 6.5, three days */
    static const char *const kinds[] = {"purchase", "view", "purchase", "purchase", "cart"};
    static const int uids[] = {1, 2, 3, 9, 2, 1, 3};
    static const int iids[] = {1, 2, 9, 0, 1};
    char line[256];
    for (int i = 0; i < 60; i++) {
        int u = uids[i % 7], it = iids[i % 5];
        char uid[24], item[24];
        snprintf(uid, sizeof uid, int_keys ? "%d" : "\"user_%06d\"", u);
        if (it)
            snprintf(item, sizeof item, int_keys ? "%d" : "\"item_%06d\"", it);
        else
            snprintf(item, sizeof item, "null");
        /* SHAPE_KPI0: prices below, at and above 0, and NULL */
        char price[24];
        if (shape == SHAPE_KPI0 && i % 11 == 3)
            snprintf(price, sizeof price, "null");
        else
            snprintf(price, sizeof price, "%.1f",
                     shape == SHAPE_KPI0 ? (i % 7) - 2.0 : 0.5 + (i % 7));
        int len = snprintf(line, sizeof line,
                           "{\"uid\":%s,\"item\":%s,\"kind\":\"%s\",\"ts\":%d,\"price\":%s}", uid,
                           item, kinds[i % 5], (i % 3) * 86400 + i, price);
        assert_int_equal(sf_pipeline_push(p, line, (size_t)len, 0, 100 * (uint64_t)i), 0);
    }
    const sf_counts *c = sf_pipeline_counts(p);
    check_identity(c);
    size_t used = (size_t)snprintf(out, cap, "read %llu filtered %llu dropped %llu aggregated %llu\n",
                                   (unsigned long long)c->lines_read,
                                   (unsigned long long)c->rows_filtered,
                                   (unsigned long long)c->rows_dropped_by_join,
                                   (unsigned long long)c->rows_aggregated);
    sf_groups *g = sf_pipeline_groups(p);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    size_t ng = sf_groups_count(g);
    char **rows = calloc(ng ? ng : 1, sizeof *rows);
    assert_non_null(rows);
    for (size_t i = 0; i < ng; i++) {
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(g, i, &key, &klen, &hash);
        rows[i] = calloc(512, 1);
        assert_non_null(rows[i]);
        size_t at = 0;
        for (size_t b = 0; b < klen; b++)
            at += (size_t)snprintf(rows[i] + at, 512 - at, "%02x", key[b]);
        for (size_t j = 0; j < job->naggs; j++) {
            int overflow = 0;
            sf_value v = sf_groups_result(g, i, j, &overflow);
            at += (size_t)snprintf(rows[i] + at, 512 - at, " %d:%lld:%.3f", v.type,
                                   v.type == SF_INT ? (long long)v.u.i : 0LL,
                                   v.type == SF_DOUBLE ? v.u.d : 0.0);
        }
    }
    qsort(rows, ng, sizeof *rows, cmp_text);
    for (size_t i = 0; i < ng; i++) {
        used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s\n", rows[i]);
        free(rows[i]);
    }
    assert_true(used < cap);
    free(rows);
    sf_pipeline_free(p);
    sf_join_table_free(dims[iu]);
    sf_join_table_free(dims[ii]);
    sf_job_free(job);
}

/* The KPI's filter right after its if() (rev >= 0 after if(kind ==
 * 'purchase', price, 0.0)) is answered at plan time for the literal
 * branch (0.0 >= 0) and tested for the column branch (negative, zero and
 * NULL prices): the straight line, the loop over the lean steps and
 * run_steps (which tests every row) give the same text, and the filter
 * stops the purchases below 0 and those without a price. */
static void test_filter_after_if_is_answered_for_the_literal_branch(void **state)
{
    (void)state;
    static char a[16384], b[16384], c[16384];
    for (int int_keys = 0; int_keys < 2; int_keys++) {
        shape_digest(SHAPE_KPI0, int_keys, 0, a, sizeof a);
        shape_digest(SHAPE_KPI0, int_keys, 1, b, sizeof b);
        shape_digest(SHAPE_KPI0, int_keys, 2, c, sizeof c);
        assert_string_equal(a, b);
        assert_string_equal(a, c);
        unsigned long long rd, fl;
        assert_int_equal(sscanf(a, "read %llu filtered %llu", &rd, &fl), 2);
        assert_int_equal(rd, 60);
        assert_int_equal(fl, 15); /* a Python count of the same lines */
    }
}

static void test_lean_shapes_give_what_the_loop_over_steps_gives(void **state)
{
    (void)state;
    static char a[16384], b[16384];
    for (int shape = SHAPE_KPI; shape <= SHAPE_SELECTIVE; shape++)
        for (int int_keys = 0; int_keys < 2; int_keys++) {
            shape_digest(shape, int_keys, 0, a, sizeof a);
            shape_digest(shape, int_keys, 1, b, sizeof b);
            assert_string_equal(a, b);
            /* the rows the filter and the inner joins keep, and their groups */
            unsigned long long rd, fl, dr, ag;
            assert_int_equal(sscanf(a, "read %llu filtered %llu dropped %llu aggregated %llu", &rd,
                                    &fl, &dr, &ag), 4);
            assert_int_equal(rd, 60);
            if (shape == SHAPE_KPI) {
                assert_int_equal(fl, 24 + 5); /* views, carts and purchases at 0.5 */
                assert_int_equal(dr, 6);      /* user 9 */
                assert_int_equal(ag, 25);
            } else {
                assert_int_equal(fl, 24 + 11); /* and purchases at 0.5 to 2.5 */
                assert_int_equal(dr, 17);      /* item 9 and the NULL item */
                assert_int_equal(ag, 8);
            }
        }
}

static void test_explosion_over_the_row_limit_is_rejected(void **state)
{
    fixture *f = *state;
    push(f, "{\"uid\":1,\"items\":[{\"qty\":1},{\"qty\":1},{\"qty\":1},{\"qty\":1},{\"qty\":1}]}");
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->rejected_by_reason[SF_REJ_TOO_MANY_ROWS], 1);
    assert_int_equal(c->rows_exploded, 0);
    check_explode_identity(c);
}

static void test_flattened_values_convert_like_the_decoders(void **state)
{
    fixture *f = *state;
    /* an int64 price is a double, an ISO text a date */
    push(f, "{\"uid\":1,\"day\":\"2025-08-01T10:00:00Z\",\"items\":[{\"sku\":\"a\","
            "\"qty\":1,\"price\":2}]}");
    push(f, "{\"uid\":1,\"day\":\"not a date\",\"items\":[{\"sku\":\"a\",\"qty\":1}]}");
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->rows_aggregated, 1);
    assert_int_equal(c->rows_rejected, 1);
    const char *msg;
    sf_pipeline_last_reject(f->p, &msg);
    assert_string_equal(msg, "day: expected date (YYYY-MM-DD), got string \"not a date\"");
    sf_groups *g = sf_pipeline_groups(f->p);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_double_value(group_result(g, "a", X_REVENUE), 2.0);
    assert_int_value(group_result(g, "a", X_DAYS), 1);
}

static void test_undeclared_fields_never_reject_a_flattened_line(void **state)
{
    fixture *f = *state;
    /* a.b collides, but the job reads neither */
    push(f, "{\"uid\":1,\"a.b\":1,\"a\":{\"b\":2},\"items\":[{\"sku\":\"z\",\"qty\":1,"
            "\"extra\":[1,2]}]}");
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->rows_aggregated, 1);
    assert_int_equal(c->rows_rejected, 0);
}



/* ---- dedupe ---- */

static const char dedupe_spec[] =
    "{\"name\": \"d\","
    " \"inputs\": {"
    "  \"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", \"columns\": {\"eid\": \"int64\","
    "          \"country\": \"string\", \"price\": \"double\"}}},"
    " \"steps\": ["
    "  {\"filter\": \"price >= 0\"},"
    "  {\"dedupe\": [\"eid\"], \"keep\": \"first\"},"
    "  {\"filter\": \"price < 1000\"}],"
    " \"group_by\": [\"country\"],"
    " \"aggregates\": {\"n\": \"count()\", \"rev\": \"sum(price)\"},"
    " \"output\": {\"path\": \"out\"}}";

static int setup_dedupe(void **state)
{
    fixture *f = fixture_load(dedupe_spec, "d.json");
    if (!f)
        return -1;
    sf_error err;
    sf_error_clear(&err);
    f->p = sf_pipeline_new(f->job, f->dims, SF_DECODER_FAST, &err);
    if (!f->p) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static const char *const dup_lines[] = {
    "{\"eid\": 1, \"country\": \"FR\", \"price\": 1.5}",
    "{\"eid\": 2, \"country\": \"FR\", \"price\": -1}",   /* filtered before dedupe */
    "{\"eid\": 1, \"country\": \"DE\", \"price\": 100}",  /* duplicate of line 0 */
    "{\"eid\": 2, \"country\": \"DE\", \"price\": 2}",    /* first eid 2 that passes */
    "{\"eid\": 3, \"country\": \"DE\", \"price\": 5000}", /* kept, filtered after */
    "{\"eid\": 3, \"country\": \"FR\", \"price\": 1}",    /* duplicate of the one before */
    "{\"eid\": 2, \"country\": \"FR\", \"price\": 0.5}",  /* duplicate */
};

static void check_dedupe_result(fixture *f)
{
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->lines_read, 7);
    assert_int_equal(c->rows_deduped, 3);
    assert_int_equal(c->rows_filtered, 2);
    assert_int_equal(c->rows_aggregated, 2);
    assert_int_equal(c->lines_read, c->blank_lines + c->rows_rejected + c->rows_filtered +
                                        c->rows_dropped_by_join + c->rows_aggregated +
                                        c->rows_deduped);
    sf_groups *g = sf_pipeline_groups(f->p);
    assert_int_equal(sf_groups_count(g), 2);
    assert_int_value(group_result(g, "FR", 0), 1);
    assert_double_value(group_result(g, "FR", 1), 1.5);
    assert_int_value(group_result(g, "DE", 0), 1);
    assert_double_value(group_result(g, "DE", 1), 2.0);
}

static void test_dedupe_keeps_the_first_row_per_key(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < 7; i++)
        push(f, dup_lines[i]);
    /* Nothing past the dedupe step runs before the table is finished. */
    assert_int_equal(sf_groups_count(sf_pipeline_groups(f->p)), 0);
    assert_int_equal(sf_pipeline_finish_dedupe(f->p), 0);
    check_dedupe_result(f);
}

typedef struct shipped {
    unsigned char rec[16][256];
    size_t len[16];
    size_t n;
} shipped;

static int keep_record(void *ctx, uint64_t hash, const unsigned char *rec, size_t len)
{
    shipped *s = ctx;
    (void)hash;
    assert_true(s->n < 16 && len <= sizeof s->rec[0]);
    memcpy(s->rec[s->n], rec, len);
    s->len[s->n++] = len;
    return 0;
}

static void test_dedupe_keeps_the_first_in_input_order_whatever_the_arrival(void **state)
{
    fixture *f = *state;
    shipped s = {.n = 0};
    const sf_job_step *st = &f->job->steps[1];
    /* Splitting anywhere but at the dedupe step is refused. */
    assert_int_equal(sf_pipeline_split(f->p, 0, st->dedupe_slots, 1, keep_record, &s),
                     SF_E_INVAL);
    assert_int_equal(sf_pipeline_split(f->p, 1, st->dedupe_slots, 1, keep_record, &s), 0);
    /* Lines 4..6 come from a later chunk, read first elsewhere. */
    for (size_t i = 0; i < 7; i++) {
        sf_pipeline_set_chunk(f->p, i < 4 ? 0 : 1);
        push(f, dup_lines[i]);
    }
    assert_int_equal(s.n, 6);
    for (size_t i = s.n; i-- > 0;)
        assert_int_equal(sf_pipeline_push_row(f->p, s.rec[i], s.len[i]), 0);
    assert_int_equal(sf_pipeline_push_row(f->p, s.rec[0], s.len[0] - 1), SF_E_PARSE);
    assert_int_equal(sf_pipeline_finish_dedupe(f->p), 0);
    check_dedupe_result(f);
}

/* Keeps a copy of every row the dedupe table holds now, as a spill does. */
static void write_out_kept(fixture *f, shipped *s)
{
    sf_dedupe *t = sf_pipeline_dedupe(f->p);
    assert_non_null(t);
    for (size_t i = 0; i < sf_dedupe_count(t); i++) {
        const void *rec;
        size_t len;
        sf_dedupe_entry(t, i, &rec, &len, NULL, NULL);
        assert_int_equal(keep_record(s, sf_dedupe_hash(t, i), rec, len), 0);
    }
    assert_int_equal(sf_pipeline_dedupe_reset(f->p), 0);
    assert_int_equal(sf_dedupe_count(sf_pipeline_dedupe(f->p)), 0);
}

static void test_dedupe_written_out_and_offered_again_keeps_the_same_rows(void **state)
{
    fixture *f = *state;
    shipped s = {.n = 0};
    /* The table is written out twice during the scan (a memory budget),
     * then every written row is offered again: duplicates that were in
     * different tables are counted then, none twice, and received rows
     * are counted once. */
    for (size_t i = 0; i < 7; i++) {
        push(f, dup_lines[i]);
        if (i == 2 || i == 4)
            write_out_kept(f, &s);
    }
    write_out_kept(f, &s);
    uint64_t received = sf_pipeline_counts(f->p)->rows_received;
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(sf_pipeline_dedupe_reoffer(f->p, s.rec[i], s.len[i]), 0);
    assert_int_equal(sf_pipeline_counts(f->p)->rows_received, received);
    assert_int_equal(sf_pipeline_finish_dedupe(f->p), 0);
    assert_null(sf_pipeline_dedupe(f->p));
    assert_int_equal(sf_pipeline_dedupe_reoffer(f->p, s.rec[0], s.len[0]), SF_E_INVAL);
    check_dedupe_result(f);
}

/* ---- CSV fact lines (fields already split, as text) ---- */

static sf_value text(const char *s) { return sf_string(s, strlen(s)); }

static void test_csv_cells_convert_to_the_column_types(void **state)
{
    fixture *f = *state;
    /* dedupe_spec's fact columns: eid, country, price */
    sf_line_verdict v;
    sf_value cells[3] = {text("7"), text("FR"), text("2.5")};
    assert_int_equal(sf_pipeline_push_cells(f->p, cells, 0, 0, &v), 0);
    assert_false(v.rejected);
    sf_value nulls[3] = {text("8"), sf_null(), sf_null()}; /* NULL price: filtered */
    assert_int_equal(sf_pipeline_push_cells(f->p, nulls, 0, 10, &v), 0);
    assert_false(v.rejected);
    assert_int_equal(sf_pipeline_finish_dedupe(f->p), 0);
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->lines_read, 2);
    assert_int_equal(c->rows_aggregated, 1);
    assert_int_equal(c->rows_filtered, 1);
    assert_double_value(group_result(sf_pipeline_groups(f->p), "FR", 1), 2.5);
}

static void test_csv_cells_that_do_not_convert_reject_the_line(void **state)
{
    fixture *f = *state;
    sf_line_verdict v;
    sf_value a[3] = {text("1.5"), text("FR"), text("1")};
    assert_int_equal(sf_pipeline_push_cells(f->p, a, 0, 0, &v), 0);
    assert_true(v.rejected);
    assert_int_equal(v.reason, SF_REJ_TYPE_MISMATCH);
    assert_string_equal(v.msg, "eid: expected int64, got \"1.5\"");
    sf_value b[3] = {text("1"), text("FR"), text("1e400")};
    assert_int_equal(sf_pipeline_push_cells(f->p, b, 0, 5, &v), 0);
    assert_true(v.rejected);
    assert_int_equal(v.reason, SF_REJ_DOUBLE_OVERFLOW);
    assert_string_equal(v.msg, "price: 1e400 is beyond the range of a double");
    sf_value c3[3] = {text("1"), sf_string("F\xff", 2), text("1")};
    assert_int_equal(sf_pipeline_push_cells(f->p, c3, 0, 9, &v), 0);
    assert_true(v.rejected);
    assert_int_equal(v.reason, SF_REJ_INVALID_UTF8);
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->lines_read, 3);
    assert_int_equal(c->rows_rejected, 3);
    size_t n;
    const sf_reject_sample *smp = sf_pipeline_samples(f->p, &n);
    assert_int_equal(n, 3);
    assert_int_equal(smp[1].offset, 5);
}


/* A decimal CSV cell is read at its column's scale whatever its text's
 * (1.5 and 2.25 sum exactly at scale 2), rounded half to even past it, and
 * a value with more digits than the precision is a type mismatch. */
static void test_csv_decimal_cells_take_the_column_scale(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"inputs\": {\"ev\": {\"role\": \"fact\", \"format\": \"csv\", \"path\": \"e.csv\","
        " \"columns\": {\"k\": \"string\", \"amount\": \"decimal(6,2)\"}}},"
        " \"group_by\": [\"k\"], \"aggregates\": {\"total\": \"sum(amount)\"},"
        " \"output\": {\"path\": \"out\"}}";
    sf_job *job;
    sf_pipeline *p = pipeline_of(spec, "e.json", &job);
    sf_line_verdict v;
    const char *amounts[] = {"1.5", "2.25", "3", "0.125"}; /* 0.125 -> 0.12 */
    for (size_t i = 0; i < 4; i++) {
        sf_value cells[2] = {text("a"), text(amounts[i])};
        assert_int_equal(sf_pipeline_push_cells(p, cells, 0, i * 10, &v), 0);
        assert_false(v.rejected);
    }
    sf_value big[2] = {text("a"), text("12345.6")};
    assert_int_equal(sf_pipeline_push_cells(p, big, 0, 99, &v), 0);
    assert_true(v.rejected);
    assert_int_equal(v.reason, SF_REJ_TYPE_MISMATCH);
    assert_string_equal(v.msg, "amount: expected decimal(6,2), got \"12345.6\" (too many digits)");
    sf_groups *g = sf_pipeline_groups(p);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_equal(sf_groups_count(g), 1);
    int overflow = 0;
    sf_value total = sf_groups_result(g, 0, 0, &overflow);
    assert_int_equal(total.type, SF_DECIMAL);
    assert_int_equal(total.scale, 2);
    assert_true(sf_decimal_get(&total) == 687); /* 1.50 + 2.25 + 3.00 + 0.12 */
    sf_pipeline_free(p);
    sf_job_free(job);
}

static void test_dedupe_of_exploded_rows_counts_lines_by_their_first_row(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"inputs\": {\"ord\": {\"role\": \"fact\", \"path\": \"o\", \"explode\": [\"items\"],"
        " \"columns\": {\"oid\": \"int64\", \"items.sku\": \"string\", \"items.qty\": \"int64\"}}},"
        " \"steps\": [{\"dedupe\": [\"items.sku\"]}],"
        " \"group_by\": [\"items.sku\"], \"aggregates\": {\"n\": \"count()\","
        " \"first_oid\": \"min(oid)\", \"qty\": \"sum(items.qty)\"},"
        " \"output\": {\"path\": \"out\"}}";
    sf_job *job;
    sf_pipeline *p = pipeline_of(spec, "e.json", &job);
    const char *lines[] = {
        "{\"oid\": 1, \"items\": [{\"sku\": \"a\", \"qty\": 1}, {\"sku\": \"a\", \"qty\": 2}]}",
        "{\"oid\": 2, \"items\": [{\"sku\": \"b\", \"qty\": 3}, {\"sku\": \"a\", \"qty\": 4}]}",
        "{\"oid\": 3, \"items\": [{\"sku\": \"b\", \"qty\": 5}]}",
    };
    uint64_t off = 0;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(sf_pipeline_push(p, lines[i], strlen(lines[i]), 0, off), 0);
        off += strlen(lines[i]) + 1;
    }
    assert_int_equal(sf_pipeline_finish_dedupe(p), 0);
    const sf_counts *c = sf_pipeline_counts(p);
    /* line 1: first row kept (a), second a duplicate; line 2: b kept, a
     * dropped; line 3: b dropped, its only row. */
    assert_int_equal(c->lines_read, 3);
    assert_int_equal(c->rows_aggregated, 2);
    assert_int_equal(c->rows_deduped, 1);
    assert_int_equal(c->rows_exploded, 2);
    assert_int_equal(c->exploded_deduped, 2);
    assert_int_equal(c->exploded_aggregated, 0);
    sf_groups *g = sf_pipeline_groups(p);
    assert_int_equal(sf_groups_count(g), 2);
    for (size_t i = 0; i < 2; i++) {
        int overflow = 0;
        sf_value oid = sf_groups_result(g, i, 1, &overflow);
        sf_value qty = sf_groups_result(g, i, 2, &overflow);
        assert_int_equal(oid.u.i, i == 0 ? 1 : 2); /* a first, from order 1 */
        assert_int_equal(qty.u.i, i == 0 ? 1 : 3);
    }
    sf_pipeline_free(p);
    sf_job_free(job);
}

static void test_split_pipeline_counts_shipped_exploded_rows_alike(void **state)
{
    fixture *f = *state;
    shipped s = {.n = 0};
    /* Ship after the filter: the join and the aggregation run on arrival. */
    const int route = f->job->steps[1].on_slot;
    assert_int_equal(sf_pipeline_split(f->p, 1, &route, 1, keep_record, &s), 0);
    push(f, "{\"uid\":1,\"items\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\",\"qty\":0},"
            "{\"sku\":\"a\",\"qty\":2}]}");
    push(f, "{\"uid\":9,\"items\":[{\"sku\":\"c\",\"qty\":1},{\"sku\":\"d\",\"qty\":3}]}");
    assert_int_equal(s.n, 4);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(sf_pipeline_push_row(f->p, s.rec[i], s.len[i]), 0);
    /* A record without its first-row flag is malformed. */
    assert_int_equal(sf_pipeline_push_row(f->p, s.rec[0], s.len[0] - 2), SF_E_PARSE);
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->rows_shipped, 4);
    assert_int_equal(c->rows_received, 4);
    assert_int_equal(c->rows_aggregated, 1);
    assert_int_equal(c->rows_dropped_by_join, 1);
    assert_int_equal(c->rows_exploded, 3);
    assert_int_equal(c->exploded_filtered, 1);
    assert_int_equal(c->exploded_aggregated, 1);
    assert_int_equal(c->exploded_dropped_by_join, 1);
    check_explode_identity(c);
}

/* ---- the combiner's step-aside ---- */

/* A stand-in for the rank runtime: "rank 1" owns the keys whose hash is
 * odd (with step_all, every key); records to it are framed into sent. */
typedef struct aside_stub {
    sf_buf sent;
    int step_all;
    size_t reserved;
    double ahead; /* what stub_ahead says */
} aside_stub;

static double stub_ahead(void *ctx)
{
    const aside_stub *a = ctx;
    return a->ahead;
}

/* The next of a fixed xorshift sequence. */
static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static int stub_owner(void *ctx, uint64_t hash)
{
    aside_stub *a = ctx;
    return a->step_all || (hash & 1) ? 1 : -1;
}

static unsigned char *stub_reserve(void *ctx, int dest, size_t len)
{
    aside_stub *a = ctx;
    assert_int_equal(dest, 1);
    if (sf_buf_reserve(&a->sent, 4 + len) != 0)
        return NULL;
    unsigned char *p = a->sent.p + a->sent.n;
    memcpy(p, &(uint32_t){(uint32_t)len}, 4);
    a->sent.n += 4 + len;
    a->reserved++;
    return p + 4;
}

/* Applies every framed record of a->sent to g. */
static void apply_sent(const aside_stub *a, sf_groups *g)
{
    for (size_t pos = 0; pos < a->sent.n;) {
        uint32_t len;
        memcpy(&len, a->sent.p + pos, 4);
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_groups_update_record(g, a->sent.p + pos + 4, len, &err), 0);
        pos += 4 + len;
    }
}

/* Which of tables a and b holds the group of country (NULL: the NULL
 * key); NULL when neither does. */
static sf_groups *table_with_key(sf_groups *a, sf_groups *b, const char *country)
{
    sf_value v = country ? sf_string(country, strlen(country)) : sf_null();
    unsigned char enc[32];
    size_t n = sf_value_encode(&v, enc);
    for (int t = 0; t < 2; t++) {
        sf_groups *h = t ? b : a;
        for (size_t i = 0; i < sf_groups_count(h); i++) {
            const unsigned char *key;
            size_t klen;
            uint64_t hash;
            sf_groups_key(h, i, &key, &klen, &hash);
            if (klen == n && memcmp(key, enc, n) == 0)
                return h;
        }
    }
    return NULL;
}

static void test_stepped_aside_rows_reach_the_owner_with_the_same_results(void **state)
{
    fixture *f = *state;
    aside_stub a = {SF_BUF_INIT, 0, 0, 0};
    sf_aside_ops ops = {stub_owner, stub_reserve, &a, NULL, 0};
    assert_int_equal(sf_pipeline_set_aside(f->p, SF_ASIDE_ON, &ops), 0);
    sf_error err;
    sf_error_clear(&err);
    /* The fast decoder: only one jansson decoder may live at a time. */
    sf_pipeline *plain = sf_pipeline_new(f->job, f->dims, SF_DECODER_FAST, &err);
    assert_non_null(plain);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 5; i++) {
            push(f, good_lines[i]);
            assert_int_equal(sf_pipeline_push(plain, good_lines[i], strlen(good_lines[i]), 0,
                                              0), 0);
        }
    }
    const sf_aside_stats *st = sf_pipeline_aside_stats(f->p);
    assert_int_equal(st->decision, SF_ASIDE_DECIDED_ASIDE);
    assert_int_equal(st->rows_shipped, a.reserved);
    assert_true(a.reserved > 0 && a.reserved < 15); /* some keys stay, some leave */
    /* A shipped row counts as aggregated where it was read. */
    assert_int_equal(sf_pipeline_counts(f->p)->rows_aggregated, 15);
    check_identity(sf_pipeline_counts(f->p));
    /* The owner's table (the records) beside this rank's: together they
     * hold every group, each in exactly one, with the plain results. */
    sf_groups *mine = sf_pipeline_groups(f->p), *owner = sf_job_new_groups(f->job);
    apply_sent(&a, owner);
    sf_groups *want = sf_pipeline_groups(plain);
    assert_int_equal(sf_groups_prepare_export(want), 0);
    assert_int_equal(sf_groups_prepare_export(mine), 0);
    assert_int_equal(sf_groups_prepare_export(owner), 0);
    assert_int_equal(sf_groups_count(mine) + sf_groups_count(owner), sf_groups_count(want));
    static const char *const keys[] = {"FR", "DE", NULL};
    for (size_t k = 0; k < 3; k++) {
        sf_groups *g = table_with_key(mine, owner, keys[k]);
        assert_non_null(g);
        for (size_t j = A_N; j <= A_CATS; j++) {
            sf_value x = group_result(g, keys[k], j), y = group_result(want, keys[k], j);
            assert_true(sf_value_same(&x, &y));
        }
    }
    sf_groups_free(owner);
    sf_pipeline_free(plain);
    sf_buf_free(&a.sent);
}

/* A group key is the values' sf_value_encode bytes, hashed by
 * sf_groups_hash, however it is made: strings of every length around the
 * word size and the one-byte length (0-20, 127, 128, 300), a date, a
 * NULL, for each key column's position. */
static void test_group_keys_are_the_encoded_values_and_their_hash(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"e\","
        " \"columns\": {\"a\": \"string\", \"b\": \"string\", \"ts\": \"int64\"}}},"
        " \"steps\": [{\"derive\": \"d\", \"expr\": \"to_date(ts)\"}],"
        " \"group_by\": [\"a\", \"d\", \"b\"], \"aggregates\": {\"n\": \"count()\"},"
        " \"output\": {\"path\": \"o\"}}";
    sf_job *job;
    sf_pipeline *p = pipeline_of(spec, "k.json", &job);
    static const size_t lens[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                  14, 15, 16, 17, 18, 19, 20, 127, 128, 300};
    size_t nl = sizeof lens / sizeof lens[0], pushed = 0;
    char a[320], b[320], line[800];
    for (size_t i = 0; i < nl; i++) {
        for (size_t j = 0; j < nl; j += 3) {
            for (size_t k = 0; k < lens[i]; k++)
                a[k] = (char)('a' + (k * 7 + i) % 26);
            for (size_t k = 0; k < lens[j]; k++)
                b[k] = (char)('A' + (k * 5 + j) % 26);
            int n = snprintf(line, sizeof line, "{\"a\": \"%.*s\", \"b\": %s%.*s%s, \"ts\": %zu}",
                             (int)lens[i], a, j == 3 ? "" : "\"", j == 3 ? 4 : (int)lens[j],
                             j == 3 ? "null" : b, j == 3 ? "" : "\"", 86400 * (i + 1) + j);
            assert_int_equal(sf_pipeline_push(p, line, (size_t)n, 0, 0), 0);
            pushed++;
        }
    }
    sf_groups *g = sf_pipeline_groups(p);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_equal(sf_groups_count(g), pushed);
    unsigned char enc[1024];
    for (size_t i = 0; i < sf_groups_count(g); i++) {
        const unsigned char *key;
        size_t klen, at = 0, m = 0;
        uint64_t hash;
        sf_groups_key(g, i, &key, &klen, &hash);
        assert_true(hash == sf_groups_hash(key, klen));
        sf_value v[3];
        for (size_t c = 0; c < 3; c++) {
            size_t used = sf_value_decode(key + at, klen - at, &v[c]);
            assert_true(used > 0);
            at += used;
            m += sf_value_encode(&v[c], enc + m);
        }
        assert_int_equal(at, klen);
        assert_int_equal(m, klen);
        assert_memory_equal(enc, key, klen);
        assert_int_equal(v[0].type, SF_STRING);
        assert_int_equal(v[1].type, SF_DATE);
        assert_true(v[2].type == SF_STRING || v[2].type == SF_NULL);
        for (size_t k = 0; k < v[0].u.s.n; k++) /* 'a' + (k * 7 + i) % 26 for some i */
            assert_int_equal((v[0].u.s.p[k] - 'a' - (int)(k * 7) % 26 + 52) % 26,
                             (v[0].u.s.p[0] - 'a' + 26) % 26);
    }
    sf_pipeline_free(p);
    sf_job_free(job);
}

/* With a join table past the ring's 1 MiB, rows wait in the ring with
 * their strings copied (ring_push): every length around the inline
 * copy's 4, 8 and 16 bytes, and longer, comes out byte for byte in the
 * group keys, with the joined column of the row's own key. */
static void test_ring_keeps_each_string_of_any_length(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"e\","
        " \"columns\": {\"u\": \"string\", \"s\": \"string\"}},"
        " \"users\": {\"role\": \"dimension\", \"path\": \"u\", \"key\": \"u\","
        " \"columns\": {\"u\": \"string\", \"c\": \"string\"}}},"
        " \"steps\": [{\"join\": \"users\", \"on\": \"u\", \"select\": [\"c\"]}],"
        " \"group_by\": [\"u\", \"c\", \"s\"], \"aggregates\": {\"n\": \"count()\"},"
        " \"output\": {\"path\": \"o\"}}";
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(spec, strlen(spec), "r.json", NULL, &job, &err), 0);
    int in = sf_job_input_index(job, "users");
    assert_true(in >= 0);
    sf_join_table *dims[SF_MAX_INPUTS] = {0};
    dims[in] = sf_join_table_new(2, 0);
    char u[32], c[32];
    for (int r = 0; r < 30000; r++) {
        int nu = snprintf(u, sizeof u, "user_%06d", r), nc = snprintf(c, sizeof c, "c%d", r % 97);
        sf_value row[2] = {sf_string(u, (size_t)nu), sf_string(c, (size_t)nc)};
        assert_int_equal(sf_join_table_add(dims[in], row), 0);
    }
    assert_true(sf_join_table_memory(dims[in]) > ((size_t)1 << 20));
    sf_pipeline *p = sf_pipeline_new(job, dims, SF_DECODER_FAST, &err);
    assert_non_null(p);
    static const size_t lens[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                  14, 15, 16, 17, 18, 19, 20, 127, 128, 300};
    size_t nl = sizeof lens / sizeof lens[0];
    char text[320], line[512];
    for (size_t i = 0; i < nl; i++) {
        for (size_t k = 0; k < lens[i]; k++)
            text[k] = (char)('a' + (k * 3 + i) % 26);
        int n = snprintf(line, sizeof line, "{\"u\": \"user_%06zu\", \"s\": \"%.*s\"}",
                         i * 1000 + 7, (int)lens[i], text);
        assert_int_equal(sf_pipeline_push(p, line, (size_t)n, 0, 0), 0);
    }
    sf_groups *g = sf_pipeline_groups(p);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_equal(sf_groups_count(g), nl);
    for (size_t i = 0; i < nl; i++) {
        const unsigned char *key;
        size_t klen, at = 0;
        uint64_t hash;
        sf_groups_key(g, i, &key, &klen, &hash);
        sf_value v[3];
        for (size_t k = 0; k < 3; k++)
            at += sf_value_decode(key + at, klen - at, &v[k]);
        assert_int_equal(at, klen);
        size_t r = i * 1000 + 7; /* groups are in the order of their first row */
        int nu = snprintf(u, sizeof u, "user_%06zu", r), nc = snprintf(c, sizeof c, "c%zu", r % 97);
        assert_int_equal(v[0].u.s.n, (size_t)nu);
        assert_memory_equal(v[0].u.s.p, u, (size_t)nu);
        assert_int_equal(v[1].u.s.n, (size_t)nc);
        assert_memory_equal(v[1].u.s.p, c, (size_t)nc);
        assert_int_equal(v[2].u.s.n, lens[i]);
        for (size_t k = 0; k < lens[i]; k++)
            assert_int_equal(v[2].u.s.p[k], 'a' + (int)((k * 3 + i) % 26));
    }
    sf_pipeline_free(p);
    sf_join_table_free(dims[in]);
    sf_job_free(job);
}

/* A job grouping by uid: group_by of the one fact column. */
static sf_pipeline *uid_pipeline(sf_job **job)
{
    static const char spec[] =
        "{\"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"e\","
        " \"columns\": {\"uid\": \"int64\"}}},"
        " \"group_by\": [\"uid\"], \"aggregates\": {\"n\": \"count()\"},"
        " \"output\": {\"path\": \"o\"}}";
    return pipeline_of(spec, "u.json", job);
}

static void push_uid(sf_pipeline *p, long uid)
{
    char line[64];
    int n = snprintf(line, sizeof line, "{\"uid\": %ld}", uid);
    assert_int_equal(sf_pipeline_push(p, line, (size_t)n, 0, 0), 0);
}

/* uid_pipeline() whose combiner decides in auto mode through stub a,
 * which ships every row once it steps aside; with a->ahead < 0, no look
 * ahead. */
static sf_pipeline *auto_pipeline(sf_job **job, aside_stub *a)
{
    sf_pipeline *p = uid_pipeline(job);
    sf_aside_ops ops = {stub_owner, stub_reserve, a, a->ahead < 0 ? NULL : stub_ahead, 0};
    assert_int_equal(sf_pipeline_set_aside(p, SF_ASIDE_AUTO, &ops), 0);
    return p;
}

static void test_sample_of_new_groups_decides_to_step_aside(void **state)
{
    (void)state;
    for (int many = 0; many < 2; many++) {
        sf_job *job = NULL;
        aside_stub a = {SF_BUF_INIT, 1, 0, -1};
        sf_pipeline *p = auto_pipeline(&job, &a);
        /* many: every sampled row a new group; else 100 groups in all. */
        for (long i = 0; i < SF_ASIDE_SAMPLE - 1; i++)
            push_uid(p, many ? i : i % 100);
        const sf_aside_stats *st = sf_pipeline_aside_stats(p);
        assert_int_equal(st->decision, SF_ASIDE_UNDECIDED); /* one row short */
        push_uid(p, many ? SF_ASIDE_SAMPLE : 7);
        assert_int_equal(st->decision, many ? SF_ASIDE_DECIDED_ASIDE : SF_ASIDE_DECIDED_COMBINE);
        assert_int_equal(st->sample_rows, SF_ASIDE_SAMPLE);
        assert_int_equal(st->sample_groups, many ? SF_ASIDE_SAMPLE : 100);
        assert_int_equal(a.reserved, 0); /* the sample itself is combined */
        for (long i = 0; i < 10; i++)
            push_uid(p, i);
        assert_int_equal(a.reserved, many ? 10 : 0);
        assert_int_equal(st->rows_shipped, a.reserved);
        assert_int_equal(sf_groups_count(sf_pipeline_groups(p)), many ? SF_ASIDE_SAMPLE : 100);
        sf_pipeline_free(p);
        sf_job_free(job);
        sf_buf_free(&a.sent);
    }
}

/* Draws n keys from k (a fixed xorshift sequence) and returns how many
 * distinct ones came. */
static uint64_t distinct_draws(uint64_t n, uint64_t k)
{
    unsigned char *seen = calloc(k, 1);
    assert_non_null(seen);
    uint64_t x = 88172645463325252ull, d = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = xorshift(&x) % k;
        d += !seen[key];
        seen[key] = 1;
    }
    free(seen);
    return d;
}

/* The look ahead of the step-aside: a sample of uniform keys gives the
 * share of new groups among the rows to come, as the key count the
 * sample was drawn from says (K e^(-n/K) (1 - e^(-ahead/K)) / ahead). */
static void test_new_share_fits_the_key_count_of_the_sample(void **state)
{
    (void)state;
    static const struct {
        uint64_t keys, ahead;
    } cases[] = {{20000, 1000000}, {500000, 5000000}, {2000000, 500000}, {600000, 30000}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double k = (double)cases[c].keys, n = SF_ASIDE_SAMPLE, a = (double)cases[c].ahead;
        double want = k * exp(-n / k) * -expm1(-a / k) / a;
        double got = sf_aside_new_share(SF_ASIDE_SAMPLE,
                                        distinct_draws(SF_ASIDE_SAMPLE, cases[c].keys),
                                        cases[c].ahead);
        assert_true(fabs(got - want) < 0.03 + 0.15 * want);
    }
    assert_true(sf_aside_new_share(100, 100, 1000) == 1); /* no repeat */
    assert_true(sf_aside_new_share(100, 40, 0) == 0);     /* nothing ahead */
    assert_true(sf_aside_new_share(100000, 10, 1000) < 1e-9); /* all keys seen */
    assert_true(sf_aside_new_share(0, 0, 1000) == 1);
}

/* Stepping aside with the rows ahead known sizes the group table once for
 * the groups expected (every sampled row new, 4 times the sample ahead:
 * about 5 * SF_ASIDE_SAMPLE groups, an index of 8 * SF_ASIDE_SAMPLE
 * slots), unless the memory room holds fewer groups than twice those it
 * has (64 bytes a group is less than any group takes); the results are
 * the same either way. */
static void test_stepping_aside_sizes_the_table_for_the_groups_ahead(void **state)
{
    (void)state;
    for (int small = 0; small < 2; small++) {
        sf_job *job = NULL;
        aside_stub a = {SF_BUF_INIT, 1, 0, 4.0};
        sf_pipeline *p = uid_pipeline(&job);
        uint64_t room = small ? (uint64_t)SF_ASIDE_SAMPLE * 64 : 0;
        sf_aside_ops ops = {stub_owner, stub_reserve, &a, stub_ahead, room};
        assert_int_equal(sf_pipeline_set_aside(p, SF_ASIDE_AUTO, &ops), 0);
        for (long i = 0; i < SF_ASIDE_SAMPLE - 1; i++)
            push_uid(p, i);
        size_t before = sf_groups_memory(sf_pipeline_groups(p));
        push_uid(p, SF_ASIDE_SAMPLE);
        const sf_aside_stats *st = sf_pipeline_aside_stats(p);
        assert_int_equal(st->decision, SF_ASIDE_DECIDED_ASIDE);
        size_t after = sf_groups_memory(sf_pipeline_groups(p));
        if (small)
            assert_true(after < before + ((size_t)1 << 20)); /* the index as it was */
        else
            assert_true(after >= before + (size_t)SF_ASIDE_SAMPLE * 4 * 8);
        push_uid(p, 3);
        assert_int_equal(sf_groups_count(sf_pipeline_groups(p)), SF_ASIDE_SAMPLE);
        sf_pipeline_free(p);
        sf_job_free(job);
        sf_buf_free(&a.sent);
    }
}

/* S4's case: 94% of the sample made a new group, yet the input goes on
 * for a hundred times the sample over about 500k keys, so combining pays
 * and the combiner stays; with little input left, it steps aside. */
static void test_sample_looks_ahead_before_stepping_aside(void **state)
{
    (void)state;
    for (int little = 0; little < 2; little++) {
        sf_job *job = NULL;
        aside_stub a = {SF_BUF_INIT, 1, 0, little ? 0.5 : 100.0};
        sf_pipeline *p = auto_pipeline(&job, &a);
        uint64_t x = 88172645463325252ull;
        for (long i = 0; i < SF_ASIDE_SAMPLE; i++)
            push_uid(p, (long)(xorshift(&x) % 500000));
        const sf_aside_stats *st = sf_pipeline_aside_stats(p);
        assert_true(st->sample_groups * 100 > st->sample_rows * 90); /* the old rule: aside */
        assert_int_equal(st->rows_ahead, (uint64_t)(a.ahead * SF_ASIDE_SAMPLE));
        assert_int_equal(st->decision, little ? SF_ASIDE_DECIDED_ASIDE : SF_ASIDE_DECIDED_COMBINE);
        assert_true(little ? st->ahead_new_share > 0.8 : st->ahead_new_share < 0.1);
        push_uid(p, 1);
        push_uid(p, 2);
        assert_int_equal(a.reserved, little ? 2 : 0);
        sf_pipeline_free(p);
        sf_job_free(job);
        sf_buf_free(&a.sent);
    }
}

/* A combining rank looks again as its rows double: keys that change after
 * the sample (a time-sorted input) step it aside then; keys that keep
 * repeating as the sample said keep it combining. */
static void test_combining_rank_looks_again_as_its_rows_double(void **state)
{
    (void)state;
    /* 1M keys: the mean rate over rows 100k..200k, and what the next 1M
     * rows make. */
    double k = 1e6, m = 1e5, n = 2e5, rate = k * (exp(-m / k) - exp(-n / k)) / (n - m);
    double want = exp(-n / k) * -expm1(-1.0);
    assert_true(fabs(sf_aside_rate_share((uint64_t)m, (uint64_t)n, rate, 1000000) - want) < 1e-4);
    assert_true(sf_aside_rate_share(1000, 2000, 1.0, 5000) == 1);
    assert_true(sf_aside_rate_share(1000, 2000, 0.0, 5000) == 0);
    assert_true(sf_aside_rate_share(1000, 2000, 0.5, 0) == 0);
    for (int change = 0; change < 2; change++) {
        sf_job *job = NULL;
        aside_stub a = {SF_BUF_INIT, 1, 0, 100.0};
        sf_pipeline *p = auto_pipeline(&job, &a);
        for (long i = 0; i < SF_ASIDE_SAMPLE; i++)
            push_uid(p, i % 100);
        const sf_aside_stats *st = sf_pipeline_aside_stats(p);
        assert_int_equal(st->decision, SF_ASIDE_DECIDED_COMBINE);
        /* change: every later row a new key; else the same 100 keys. */
        for (long i = 0; i < SF_ASIDE_SAMPLE; i++)
            push_uid(p, change ? 1000 + i : i % 100);
        assert_int_equal(st->looks, 0); /* the look comes at twice the sample */
        assert_int_equal(a.reserved, 0);
        push_uid(p, change ? 999999 : 5);
        assert_int_equal(st->looks, 1);
        assert_int_equal(st->decision,
                         change ? SF_ASIDE_DECIDED_ASIDE : SF_ASIDE_DECIDED_COMBINE);
        assert_int_equal(a.reserved, change ? 1 : 0);
        sf_pipeline_free(p);
        sf_job_free(job);
        sf_buf_free(&a.sent);
    }
}

static int stub_emit(void *ctx, uint64_t hash, const unsigned char *rec, size_t len)
{
    (void)ctx, (void)hash, (void)rec, (void)len;
    return 0;
}

static void test_step_aside_is_refused_for_a_split_pipeline(void **state)
{
    fixture *f = *state;
    aside_stub a = {SF_BUF_INIT, 0, 0, 0};
    sf_aside_ops ops = {stub_owner, stub_reserve, &a, NULL, 0};
    assert_int_equal(sf_pipeline_set_aside(f->p, SF_ASIDE_OFF, NULL), 0);
    assert_int_equal(sf_pipeline_set_aside(f->p, SF_ASIDE_ON, NULL), SF_E_INVAL);
    static const int route[] = {0};
    assert_int_equal(sf_pipeline_split(f->p, 0, route, 1, stub_emit, NULL), 0);
    assert_int_equal(sf_pipeline_set_aside(f->p, SF_ASIDE_AUTO, &ops), SF_E_INVAL);
}

/* Rows of the combiner wait in a batch (their groups looked up together)
 * and outlive their lines: each line here is written into the same buffer,
 * overwritten by the next, and the groups read after any line (a batch
 * half full) hold every row so far, numbered in the order keys came. */
static void test_batched_rows_keep_their_strings_order_and_counts(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"e\","
        " \"columns\": {\"c\": \"string\", \"s\": \"string\", \"x\": \"int64\"}}},"
        " \"group_by\": [\"c\"], \"aggregates\": {\"n\": \"count()\","
        " \"hits\": \"count_if(s == 'value-1-with-some-length')\", \"top\": \"max(s)\","
        " \"vals\": \"count_distinct(s)\", \"sx\": \"sum(x)\"},"
        " \"output\": {\"path\": \"o\"}}";
    sf_job *job;
    sf_pipeline *p = pipeline_of(spec, "b.json", &job);
    enum { NLINES = 100, NKEYS = 7 };
    char line[128];
    int64_t n[NKEYS] = {0}, hits[NKEYS] = {0}, sx[NKEYS] = {0};
    for (int i = 0; i < NLINES; i++) {
        int k = (i * 3) % NKEYS, v = i % 3;
        int len = snprintf(line, sizeof line,
                           "{\"c\": \"group-%02d-of-the-test\", \"s\": \"value-%d-with-some-length\","
                           " \"x\": %d}", k, v, i);
        assert_int_equal(sf_pipeline_push(p, line, (size_t)len, 0, (uint64_t)i), 0);
        memset(line, 'z', sizeof line); /* the line is gone: the row must not need it */
        n[k]++;
        hits[k] += v == 1;
        sx[k] += i;
        assert_int_equal(sf_pipeline_counts(p)->rows_aggregated, (uint64_t)i + 1);
        if (i % 5 != 2)
            continue;
        sf_groups *g = sf_pipeline_groups(p);
        assert_int_equal(sf_groups_count(g), i + 1 < NKEYS ? (size_t)i + 1 : NKEYS);
        char name[32];
        snprintf(name, sizeof name, "group-%02d-of-the-test", k);
        assert_int_value(group_result(g, name, 0), n[k]);
    }
    sf_groups *g = sf_pipeline_take_groups(p);
    assert_non_null(g);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    for (int i = 0; i < NKEYS; i++) {
        /* Keys in the order they first came: line i has key 3i mod 7. */
        char name[32];
        int k = (i * 3) % NKEYS;
        snprintf(name, sizeof name, "group-%02d-of-the-test", k);
        sf_value want = sf_string(name, strlen(name));
        unsigned char enc[64];
        size_t elen = sf_value_encode(&want, enc), klen;
        const unsigned char *key;
        uint64_t hash;
        sf_groups_key(g, (size_t)i, &key, &klen, &hash);
        assert_int_equal(klen, elen);
        assert_memory_equal(key, enc, elen);
        assert_int_value(group_result(g, name, 0), n[k]);
        assert_int_value(group_result(g, name, 1), hits[k]);
        sf_value top = group_result(g, name, 2);
        assert_int_equal(top.type, SF_STRING);
        assert_int_equal(top.u.s.n, strlen("value-2-with-some-length"));
        assert_memory_equal(top.u.s.p, "value-2-with-some-length", top.u.s.n);
        assert_int_value(group_result(g, name, 3), 3);
        assert_int_value(group_result(g, name, 4), sx[k]);
    }
    sf_groups_free(g);
    sf_pipeline_free(p);
    sf_job_free(job);
}

/* Strings larger than the batch holds: a row whose strings do not fit
 * beside the ones waiting empties the batch first, and one larger than the
 * whole batch updates its group directly, after the rows before it. */
static void test_rows_too_large_for_the_batch_keep_their_order(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"e\","
        " \"columns\": {\"c\": \"string\", \"s\": \"string\"}}},"
        " \"group_by\": [\"c\"], \"aggregates\": {\"n\": \"count()\", \"top\": \"max(s)\","
        " \"vals\": \"count_distinct(s)\"}, \"output\": {\"path\": \"o\"}}";
    sf_job *job;
    sf_pipeline *p = pipeline_of(spec, "l.json", &job);
    enum { BIG = 100 * 1024, NLINES = 9 };
    const size_t sizes[NLINES] = {10, 40000, 40000, BIG, 5, 40000, BIG, 30000, 7};
    char *line = malloc(BIG + 64);
    assert_non_null(line);
    for (int i = 0; i < NLINES; i++) {
        int k = i % 4;
        int head = snprintf(line, 64, "{\"c\": \"k%d\", \"s\": \"", k);
        memset(line + head, 'a' + i, sizes[i]);
        size_t len = (size_t)head + sizes[i];
        memcpy(line + len, "\"}", 2);
        assert_int_equal(sf_pipeline_push(p, line, len + 2, 0, (uint64_t)i), 0);
        memset(line, 'z', BIG + 64);
    }
    free(line);
    sf_groups *g = sf_pipeline_take_groups(p);
    assert_non_null(g);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_equal(sf_groups_count(g), 4);
    for (int k = 0; k < 4; k++) {
        char name[8];
        snprintf(name, sizeof name, "k%d", k);
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(g, (size_t)k, &key, &klen, &hash); /* k0..k3 in order */
        sf_value want = sf_string(name, strlen(name));
        unsigned char enc[16];
        size_t elen = sf_value_encode(&want, enc);
        assert_int_equal(klen, elen);
        assert_memory_equal(key, enc, elen);
        int last = k + 4 * ((NLINES - 1 - k) / 4); /* the group's last line: the largest letter */
        assert_int_value(group_result(g, name, 0), (NLINES - 1 - k) / 4 + 1);
        sf_value top = group_result(g, name, 1);
        assert_int_equal(top.type, SF_STRING);
        assert_int_equal(top.u.s.n, sizes[last]);
        for (size_t b = 0; b < top.u.s.n; b++)
            assert_int_equal(top.u.s.p[b], 'a' + last);
        assert_int_value(group_result(g, name, 2), (NLINES - 1 - k) / 4 + 1);
    }
    sf_groups_free(g);
    sf_pipeline_free(p);
    sf_job_free(job);
}

#define X(name) cmocka_unit_test_setup_teardown(name, setup_explode, teardown)
#define D(name) cmocka_unit_test_setup_teardown(name, setup_dedupe, teardown)

#define T(name) cmocka_unit_test_setup_teardown(name, setup_jansson, teardown), \
                cmocka_unit_test_setup_teardown(name, setup_fast, teardown)

/* "outputs": one pushed line updates a combiner per output, each keyed by
 * its own group_by; a filtered line reaches none; counts count lines once. */
static void test_every_output_gets_its_own_combiner(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"e\","
        " \"columns\": {\"uid\": \"int64\", \"c\": \"string\", \"x\": \"int64\"}}},"
        " \"steps\": [{\"filter\": \"x >= 0\"}],"
        " \"outputs\": [{\"name\": \"u\", \"group_by\": [\"uid\"],"
        "   \"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"a\"}},"
        "  {\"name\": \"c\", \"group_by\": [\"c\"], \"aggregates\": {\"s\": \"sum(x)\","
        "   \"n\": \"count()\"}, \"output\": {\"path\": \"b\"}}]}";
    for (int k = 0; k < 2; k++) {
        sf_job *job = NULL;
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_job_load(spec, strlen(spec), "m.json", NULL, &job, &err), 0);
        sf_join_table *dims[1] = {NULL};
        sf_pipeline *p = sf_pipeline_new(job, dims, k ? SF_DECODER_JANSSON : SF_DECODER_FAST,
                                         &err);
        assert_non_null(p);
        const char *lines[] = {"{\"uid\": 1, \"c\": \"FR\", \"x\": 5}",
                               "{\"uid\": 2, \"c\": \"FR\", \"x\": 7}",
                               "{\"uid\": 1, \"c\": \"DE\", \"x\": 1}",
                               "{\"uid\": 3, \"c\": \"DE\", \"x\": -1}",
                               "{\"uid\": 3, \"x\": 2}"};
        for (int i = 0; i < 5; i++)
            assert_int_equal(sf_pipeline_push(p, lines[i], strlen(lines[i]), 0, (uint64_t)i), 0);
        const sf_counts *c = sf_pipeline_counts(p);
        assert_int_equal(c->rows_aggregated, 4);
        assert_int_equal(c->rows_filtered, 1);
        sf_groups *gu = sf_pipeline_take_output_groups(p, 0);
        sf_groups *gc = sf_pipeline_take_output_groups(p, 1);
        assert_non_null(gu);
        assert_non_null(gc);
        assert_null(sf_pipeline_take_output_groups(p, 1));
        assert_null(sf_pipeline_take_output_groups(p, 2));
        assert_int_equal(sf_groups_count(gu), 3); /* uid 1, 2, 3 */
        assert_int_equal(sf_groups_count(gc), 3); /* FR, DE, NULL */
        assert_int_value(group_result(gc, "FR", 0), 12);
        assert_int_value(group_result(gc, "FR", 1), 2);
        assert_int_value(group_result(gc, "DE", 0), 1);
        assert_int_value(group_result(gc, NULL, 0), 2);
        sf_groups_free(gu);
        sf_groups_free(gc);
        sf_pipeline_free(p);
        sf_job_free(job);
    }
}


/* ---- row outputs and the unknown member ---- */

static const char star_spec[] =
    "{\"name\": \"s\","
    " \"inputs\": {"
    "  \"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", \"columns\": {\"eid\": \"int64\","
    "          \"user\": \"string\", \"w\": \"int64\"}},"
    "  \"users\": {\"role\": \"dimension\", \"path\": \"u\", \"key\": \"user\","
    "             \"unknown\": \"unknown\", \"columns\": {\"user\": \"string\","
    "             \"tier\": \"string\"}}},"
    " \"steps\": [{\"join\": \"users\", \"on\": \"user\", \"type\": \"unknown\"},"
    "            {\"replace\": \"w\", \"expr\": \"coalesce(w, 0)\"}],"
    " \"outputs\": ["
    "  {\"name\": \"fact\", \"output\": {\"path\": \"o/f\", \"columns\": [\"eid\", \"user\"]}},"
    "  {\"name\": \"n\", \"group_by\": [\"user\"], \"aggregates\": {\"w\": \"sum(w)\"},"
    "   \"output\": {\"path\": \"o/n\"}},"
    "  {\"name\": \"dim\", \"dimension\": \"users\", \"output\": {\"path\": \"o/d\"}}]}";

static const char *const star_lines[] = {
    "{\"eid\": 1, \"user\": \"a\", \"w\": 5}",
    "{\"eid\": 2, \"user\": \"zz\", \"w\": 7}", /* no such user */
    "{\"eid\": 3, \"user\": null}",             /* NULL key, no w */
    "{\"eid\": 4, \"user\": \"b\", \"w\": 1}",
};

static int setup_star(void **state)
{
    fixture *f = fixture_load(star_spec, "s.json");
    if (!f)
        return -1;
    sf_error err;
    sf_error_clear(&err);
    f->dims[1] = sf_join_table_new(2, 0);
    const sf_value users[][2] = {{sf_string("a", 1), sf_string("gold", 4)},
                                 {sf_string("b", 1), sf_null()}};
    for (size_t i = 0; i < 2; i++) {
        if (!f->dims[1] || sf_join_table_add(f->dims[1], users[i]) != 0)
            return -1;
    }
    f->p = sf_pipeline_new(f->job, f->dims, SF_DECODER_FAST, &err);
    if (!f->p) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static void assert_str_value(sf_value v, const char *want)
{
    assert_int_equal(v.type, SF_STRING);
    assert_int_equal(v.u.s.n, strlen(want));
    assert_memory_equal(v.u.s.p, want, v.u.s.n);
}

static void test_unknown_join_and_row_output_keep_every_row(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < 4; i++)
        push(f, star_lines[i]);
    const sf_counts *c = sf_pipeline_counts(f->p);
    assert_int_equal(c->rows_aggregated, 4);
    assert_int_equal(c->rows_dropped_by_join, 0);
    assert_int_equal(c->rows_to_unknown[1], 2);
    /* The row output holds the rows, its written columns filled. */
    sf_rows rows;
    assert_int_equal(sf_pipeline_take_output_rows(f->p, 0, &rows), 0);
    assert_int_equal(rows.n, 4);
    assert_int_equal(rows.ncols, 4); /* eid, user, w, tier */
    assert_int_value(sf_rows_at(&rows, 1)[0], 2);
    assert_str_value(sf_rows_at(&rows, 0)[1], "a");
    assert_str_value(sf_rows_at(&rows, 1)[1], "unknown");
    assert_str_value(sf_rows_at(&rows, 2)[1], "unknown");
    assert_int_equal(sf_rows_at(&rows, 0)[2].type, SF_NULL); /* not written: not kept */
    sf_rows_free(&rows);
    assert_int_equal(sf_pipeline_take_output_rows(f->p, 1, &rows), SF_E_INVAL);
    /* The grouped output sees the unknown key and the replaced w. */
    sf_groups *g = sf_pipeline_take_output_groups(f->p, 1);
    assert_non_null(g);
    assert_int_equal(sf_groups_count(g), 3);
    int found = 0;
    assert_int_equal(sf_groups_prepare_export(g), 0);
    for (size_t i = 0; i < sf_groups_count(g); i++) {
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(g, i, &key, &klen, &hash);
        sf_value k = sf_null();
        assert_int_not_equal(sf_value_decode(key, klen, &k), 0);
        int overflow = 0;
        if (k.type == SF_STRING && k.u.s.n == 7) {
            assert_int_value(sf_groups_result(g, i, 0, &overflow), 7); /* 7 + 0 */
            found = 1;
        }
    }
    assert_true(found);
    sf_groups_free(g);
}

static int count_rows(void *ctx, size_t k, const sf_value *row)
{
    assert_int_equal(k, 0);
    assert_int_equal(row[0].type, SF_INT);
    (*(int *)ctx)++;
    return 0;
}

static void test_row_sink_takes_the_rows_instead_of_the_table(void **state)
{
    fixture *f = *state;
    int n = 0;
    assert_int_equal(sf_pipeline_set_row_sink(f->p, 0, count_rows, &n), 0);
    assert_int_equal(sf_pipeline_set_row_sink(f->p, 2, count_rows, &n), SF_E_INVAL);
    for (size_t i = 0; i < 4; i++)
        push(f, star_lines[i]);
    assert_int_equal(n, 4);
    sf_rows rows;
    assert_int_equal(sf_pipeline_take_output_rows(f->p, 0, &rows), 0);
    assert_int_equal(rows.n, 0);
    sf_rows_free(&rows);
}

/* ---- fixed-width keys and dimension ids ----
 * A job whose group key is fixed-width once joined strings stand as their
 * dimension ids (day, the user's country, the user id itself): the
 * combiner's groups and their records must be those of the long way
 * (encoded keys, strings hashed), which a split pipeline takes (its rows
 * arrive without ids). Lines include a user the left join does not match
 * (its key and count_distinct value are the fact's string), a missing user
 * (NULL key) and a user whose country is NULL. */
/* The inputs and steps of both jobs below. */
#define IDS_SPEC_HEAD                                                                         \
    "{\"name\": \"ids\","                                                                     \
    " \"inputs\": {"                                                                          \
    "  \"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", \"columns\": {\"user\": \"string\"," \
    "          \"ts\": \"int64\"}},"                                                          \
    "  \"users\": {\"role\": \"dimension\", \"path\": \"u\", \"key\": \"user\","              \
    "             \"columns\": {\"user\": \"string\", \"country\": \"string\"}}},"            \
    " \"steps\": ["                                                                           \
    "  {\"join\": \"users\", \"on\": \"user\", \"type\": \"left\", \"select\": [\"country\"]},"   \
    "  {\"derive\": \"day\", \"expr\": \"to_date(ts)\"}],"

static const char ids_spec[] =
    IDS_SPEC_HEAD
    " \"group_by\": [\"day\", \"country\", \"user\"],"
    " \"aggregates\": {\"n\": \"count()\", \"users\": \"count_distinct(user)\","
    "                 \"countries\": \"count_distinct(country)\"},"
    " \"output\": {\"path\": \"out\"}}";

static const char ids_spec_by_country[] =
    IDS_SPEC_HEAD
    " \"group_by\": [\"day\", \"country\"],"
    " \"aggregates\": {\"n\": \"count()\", \"users\": \"count_distinct(user)\"},"
    " \"output\": {\"path\": \"out\"}}";

/* A string group column with no dimension id (u2, a derive's copy of the
 * line's user): the key cache interns its strings, beside the country's
 * dimension ids. */
static const char ids_spec_raw[] =
    "{\"name\": \"ids\","
    " \"inputs\": {"
    "  \"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", \"columns\": {\"user\": \"string\","
    "          \"ts\": \"int64\"}},"
    "  \"users\": {\"role\": \"dimension\", \"path\": \"u\", \"key\": \"user\","
    "             \"columns\": {\"user\": \"string\", \"country\": \"string\"}}},"
    " \"steps\": ["
    "  {\"derive\": \"u2\", \"expr\": \"user\"},"
    "  {\"join\": \"users\", \"on\": \"user\", \"type\": \"left\", \"select\": [\"country\"]},"
    "  {\"derive\": \"day\", \"expr\": \"to_date(ts)\"}],"
    " \"group_by\": [\"day\", \"u2\", \"country\"],"
    " \"aggregates\": {\"n\": \"count()\", \"users\": \"count_distinct(user)\"},"
    " \"output\": {\"path\": \"out\"}}";

static int push_back(void *ctx, uint64_t hash, const unsigned char *rec, size_t len)
{
    (void)hash;
    return sf_pipeline_push_row(ctx, rec, len);
}

/* The fixture of spec (ids.json) with the users dimension the ids tests
 * join: four users, user 3 without a country. */
static fixture *ids_fixture(const char *spec)
{
    fixture *f = fixture_load(spec, "ids.json");
    assert_non_null(f);
    f->dims[1] = sf_join_table_new(2, 0);
    const sf_value users[][2] = {{sf_string("user_000001", 11), sf_string("FR", 2)},
                                 {sf_string("user_000002", 11), sf_string("DE", 2)},
                                 {sf_string("user_000003", 11), sf_null()},
                                 {sf_string("user_000004", 11), sf_string("FR", 2)}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(sf_join_table_add(f->dims[1], users[i]), 0);
    return f;
}

/* a and b (prepared for export) export the same records in the same order. */
static void assert_same_exports(sf_groups *a, sf_groups *b)
{
    assert_int_equal(sf_groups_count(a), sf_groups_count(b));
    for (size_t i = 0; i < sf_groups_count(a); i++) {
        sf_buf x = {0}, y = {0};
        assert_int_equal(sf_groups_export(a, i, &x), 0);
        assert_int_equal(sf_groups_export(b, i, &y), 0);
        assert_int_equal(x.n, y.n);
        assert_memory_equal(x.p, y.p, x.n);
        sf_buf_free(&x);
        sf_buf_free(&y);
    }
}

/* Line i of the ids tests (into line, cap bytes): users 1-4, the unmatched
 * user 9 and a missing user in turn, over three days. Returns its length. */
static int ids_line(int i, char *line, size_t cap)
{
    static const char *const users_seen[] = {"user_000001", "user_000002", "user_000003",
                                             "user_000004", "user_000009", NULL};
    const char *u = users_seen[(i * 7) % 6];
    return u ? snprintf(line, cap, "{\"user\": \"%s\", \"ts\": %d}", u, ((i / 6) % 3) * 86400)
             : snprintf(line, cap, "{\"ts\": %d}", ((i / 6) % 3) * 86400);
}

/* Runs nlines lines (line_of) through a pipeline of spec and through one
 * split before its aggregation (the long way), and checks both combiners
 * export the same records in the same order; returns the number of
 * groups. */
static size_t same_groups_both_ways_of(const char *spec, int nlines,
                                       int (*line_of)(int i, char *line, size_t cap))
{
    fixture *f = ids_fixture(spec);
    sf_error err;
    sf_error_clear(&err);
    sf_pipeline *fixed = sf_pipeline_new(f->job, f->dims, SF_DECODER_FAST, &err);
    sf_pipeline *longway = sf_pipeline_new(f->job, f->dims, SF_DECODER_FAST, &err);
    assert_non_null(fixed);
    assert_non_null(longway);
    assert_int_equal(sf_pipeline_split(longway, f->job->nsteps, f->job->group_slots,
                                       f->job->ngroup, push_back, longway),
                     0);
    char line[128];
    uint64_t off = 0;
    for (int i = 0; i < nlines; i++) {
        int n = line_of(i, line, sizeof line);
        assert_true(n > 0 && (size_t)n < sizeof line);
        assert_int_equal(sf_pipeline_push(fixed, line, (size_t)n, 0, off), 0);
        assert_int_equal(sf_pipeline_push(longway, line, (size_t)n, 0, off), 0);
        off += (uint64_t)n + 1;
    }
    sf_groups *a = sf_pipeline_groups(fixed), *b = sf_pipeline_groups(longway);
    assert_int_equal(sf_pipeline_counts(fixed)->rows_aggregated, (uint64_t)nlines);
    assert_int_equal(sf_groups_count(a), sf_groups_count(b));
    assert_int_equal(sf_groups_prepare_export(a), 0);
    assert_int_equal(sf_groups_prepare_export(b), 0);
    assert_same_exports(a, b);
    size_t n = sf_groups_count(a);
    sf_pipeline_free(fixed);
    sf_pipeline_free(longway);
    sf_join_table_free(f->dims[1]);
    sf_job_free(f->job);
    free(f);
    return n;
}

static size_t same_groups_both_ways(const char *spec)
{
    return same_groups_both_ways_of(spec, 200, ids_line);
}

static void test_fixed_width_keys_give_the_groups_of_encoded_keys(void **state)
{
    (void)state;
    /* 3 days x (4 matched users, 1 unmatched, the NULL user). */
    assert_int_equal(same_groups_both_ways(ids_spec), 18);
    /* 3 days x (FR, DE, NULL country: user 3, the unmatched and the NULL user). */
    assert_int_equal(same_groups_both_ways(ids_spec_by_country), 9);
    /* As ids_spec, the user a string of the line (interned). */
    assert_int_equal(same_groups_both_ways(ids_spec_raw), 18);
}

/* Line i of the test below: users of 1 to 17 bytes, pairs among them
 * that differ in one byte only (the first word's, the last word's, where
 * both words overlap), over two days. */
static int mixed_users_line(int i, char *line, size_t cap)
{
    static const char *const users[] = {
        "a", "ab", "abc", "abcd", "abXd", "abcde", "abXde", "abcdefg", "abcdefgh", "abcdefXh",
        "abcdefghijkl", "abcdefgXijkl", "abcdefghijklmnop", "abcdefgXijklmnop",
        "abcdefghXjklmnop", "abcdefghijklmnopq"};
    return snprintf(line, cap, "{\"user\": \"%s\", \"ts\": %d}", users[i % 16],
                    ((i / 16) % 2) * 86400);
}

static void test_interned_strings_of_every_length_give_the_groups_of_encoded_keys(void **state)
{
    (void)state;
    /* 16 users x 2 days, through the short strings' index (4 to 16 bytes)
     * and the dictionary (the others) */
    assert_int_equal(same_groups_both_ways_of(ids_spec_raw, 6000, mixed_users_line), 32);
}

/* Line i of the test below: the first lines repeat 4 users (a cache that
 * pays), then each line a new one. */
static int many_users_line(int i, char *line, size_t cap)
{
    return snprintf(line, cap, "{\"user\": \"user_%06d\", \"ts\": %d}", i < 8192 ? 1 + i % 4 : i,
                    (i % 2) * 86400);
}

/* More distinct strings of the line than the key cache holds tuples: the
 * cache is dropped (its dictionary or its tuples past their bound) and the
 * rows go on the long way, with the groups of encoded keys throughout. */
static void test_interned_strings_past_the_cache_give_the_groups_of_encoded_keys(void **state)
{
    (void)state;
    /* user i % 4 + 1 on day i % 2 (4 groups), then one group a line */
    assert_int_equal(same_groups_both_ways_of(ids_spec_raw, 70000, many_users_line),
                     4 + (70000 - 8192));
}

/* Windows of lines whose rows the key cache's direct array takes (past
 * its first 4096 lookups) count and aggregate as the same lines pushed
 * one by one: lines read, rows aggregated, line_bytes, the groups and
 * their records. The lines include rows the array cannot take in the
 * middle of a window (an unmatched user: no id; a missing one: NULL; a
 * day far from the others, which rebuilds the array) and lines the
 * decoder leaves (another shape), windows of many lines and of a few. */
static void direct_windows_as_pushed(const char *spec)
{
    fixture *f = ids_fixture(spec);
    sf_error err;
    sf_error_clear(&err);
    sf_pipeline *win = sf_pipeline_new(f->job, f->dims, SF_DECODER_FAST, &err);
    sf_pipeline *one = sf_pipeline_new(f->job, f->dims, SF_DECODER_FAST, &err);
    assert_non_null(win);
    assert_non_null(one);
    enum { LINES = 12000 };
    sf_buf text = SF_BUF_INIT;
    uint64_t want_bytes = 0;
    for (int i = 0; i < LINES; i++) {
        char line[128];
        int n;
        if (i % 997 == 500)
            n = snprintf(line, sizeof line, "{\"user\": \"user_000009\", \"ts\": %d}", 86400);
        else if (i % 1499 == 700)
            n = snprintf(line, sizeof line, "{\"ts\": %d}", 2 * 86400);
        else if (i % 2003 == 900)
            n = snprintf(line, sizeof line, "{\"ts\": 5, \"user\": \"user_000002\"}");
        else /* users 1, 2 and 4 (user 3's country is NULL: not in the array) */
            n = snprintf(line, sizeof line, "{\"user\": \"user_00000%d\", \"ts\": %d}",
                         i % 101 == 50 ? 3 : 1 + (i * 7) % 3 + (i * 7) % 3 / 2,
                         (i > 9000 && i % 3000 == 1 ? 400 : i % 5) * 86400);
        assert_true(n > 0 && (size_t)n < sizeof line - 1);
        assert_int_equal(sf_pipeline_push(one, line, (size_t)n, 0, text.n), 0);
        line[n] = '\n';
        assert_int_equal(sf_buf_append(&text, line, (size_t)n + 1), 0);
        want_bytes += (uint64_t)n + 1;
    }
    uint64_t bytes = 0;
    size_t pos = 0, round = 0;
    while (pos < text.n) {
        size_t max = round++ % 3 == 0 ? 7 : 2048;
        sf_line_window w = {(const char *)text.p + pos, text.n - pos, text.n - pos, text.n - pos,
                            pos};
        sf_window_take t;
        sf_line_verdict v;
        assert_int_equal(sf_pipeline_push_window(win, &w, 0, max, &bytes, &t, &v), 0);
        assert_int_equal(v.rejected, 0);
        pos += t.used;
        if (t.left) { /* the line it leaves goes the usual way */
            const char *l = (const char *)text.p + pos;
            size_t len = (size_t)((const char *)memchr(l, '\n', text.n - pos) - l);
            assert_int_equal(sf_pipeline_push_line(win, l, len, 0, pos, &v), 0);
            bytes += len + 1;
            pos += len + 1;
        }
    }
    const sf_counts *cw = sf_pipeline_counts(win), *co = sf_pipeline_counts(one);
    assert_int_equal(bytes, want_bytes);
    assert_int_equal(cw->lines_read, LINES);
    assert_int_equal(co->lines_read, LINES);
    assert_int_equal(cw->rows_aggregated, co->rows_aggregated);
    assert_int_equal(cw->rows_aggregated, LINES);
    sf_groups *a = sf_pipeline_groups(win), *b = sf_pipeline_groups(one);
    assert_int_equal(sf_groups_count(a), sf_groups_count(b));
    assert_int_equal(sf_groups_prepare_export(a), 0);
    assert_int_equal(sf_groups_prepare_export(b), 0);
    assert_same_exports(a, b);
    sf_buf_free(&text);
    sf_pipeline_free(win);
    sf_pipeline_free(one);
    sf_join_table_free(f->dims[1]);
    sf_job_free(f->job);
    free(f);
}

static void test_direct_windows_count_and_aggregate_as_pushed_lines(void **state)
{
    (void)state;
    direct_windows_as_pushed(ids_spec);
    /* the user a string of the line: interned */
    direct_windows_as_pushed(ids_spec_raw);
}

/* A join on a dimension table larger than the caches (40,000 string keys:
 * over a MiB of index) makes rows wait in the pipeline's ring while their
 * lookups are prefetched. Whatever the waiting, every line is counted by
 * the time the counts are read, the line's buffer may be overwritten as
 * soon as it was pushed, rows run in the order they came (the groups'
 * order), a line whose strings outgrow the ring runs after the rows before
 * it, and rows that step aside leave through the step-aside while the
 * ring runs. */
static void test_rows_waiting_for_a_large_join_count_and_aggregate_as_pushed(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"e\","
        "   \"columns\": {\"uid\": \"string\", \"x\": \"int64\", \"note\": \"string\"}},"
        "  \"users\": {\"role\": \"dimension\", \"path\": \"u\", \"key\": \"uid\","
        "   \"columns\": {\"uid\": \"string\", \"country\": \"string\"}}},"
        " \"steps\": [{\"filter\": \"x != 13\"},"
        "  {\"join\": \"users\", \"on\": \"uid\", \"select\": [\"country\"]}],"
        " \"group_by\": [\"country\"], \"aggregates\": {\"n\": \"count()\", \"sx\": \"sum(x)\","
        "  \"users\": \"count_distinct(uid)\", \"longest\": \"max(note)\"},"
        " \"output\": {\"path\": \"o\"}}";
    static const char *const countries[] = {"FR", "DE", "US", "JP"};
    enum { NUSERS = 40000, NLINES = 600 };
    sf_error err;
    sf_error_clear(&err);
    sf_job *job = NULL;
    assert_int_equal(sf_job_load(spec, strlen(spec), "r.json", NULL, &job, &err), 0);
    sf_join_table *dims[SF_MAX_INPUTS] = {0};
    int users = sf_job_input_index(job, "users");
    dims[users] = sf_join_table_new(2, 0);
    for (int u = 0; u < NUSERS; u++) {
        char id[32];
        int n = snprintf(id, sizeof id, "user_%06d", u);
        sf_value row[2] = {sf_string(id, (size_t)n), sf_string(countries[u % 4], 2)};
        assert_int_equal(sf_join_table_add(dims[users], row), 0);
    }
    assert_true(sf_join_table_memory(dims[users]) > ((size_t)1 << 20));
    for (int aside = 0; aside < 2; aside++) {
        sf_pipeline *p = sf_pipeline_new(job, dims, SF_DECODER_FAST, &err);
        assert_non_null(p);
        aside_stub a = {SF_BUF_INIT, 0, 0, 0};
        sf_aside_ops ops = {stub_owner, stub_reserve, &a, NULL, 0};
        if (aside)
            assert_int_equal(sf_pipeline_set_aside(p, SF_ASIDE_ON, &ops), 0);
        /* Per country: rows, sum. */
        int64_t n[4] = {0}, sx[4] = {0};
        uint64_t filtered = 0, dropped = 0;
        static char line[80000];
        int first = -1;
        for (int i = 0; i < NLINES; i++) {
            int u = i % 10 == 9 ? NUSERS + i : (i * 7919) % NUSERS; /* some beyond the table */
            size_t note = i == 300 ? 70000 : 4; /* one line outgrows the ring's strings */
            int len = snprintf(line, sizeof line, "{\"uid\": \"user_%06d\", \"x\": %d, \"note\": \"", u, i);
            memset(line + len, i == 300 ? 'z' : 'a', note);
            len += (int)note;
            len += snprintf(line + len, sizeof line - (size_t)len, "\"}");
            assert_int_equal(sf_pipeline_push(p, line, (size_t)len, 0, (uint64_t)i), 0);
            memset(line, 'q', (size_t)len); /* the line is gone: a waiting row must not need it */
            if (i == 13) {
                filtered++;
                continue;
            }
            if (u >= NUSERS) { /* an inner join (the default) drops it */
                dropped++;
                continue;
            }
            int c = u % 4;
            if (first < 0)
                first = c;
            n[c]++;
            sx[c] += i;
            if (i % 97 == 5) { /* reading the counts runs the waiting rows */
                const sf_counts *k = sf_pipeline_counts(p);
                assert_int_equal(k->lines_read, (uint64_t)i + 1);
                assert_int_equal(k->rows_aggregated + k->rows_filtered + k->rows_dropped_by_join,
                                 (uint64_t)i + 1);
            }
        }
        assert_int_equal(sf_pipeline_flush(p), 0);
        const sf_counts *k = sf_pipeline_counts(p);
        assert_int_equal(k->lines_read, NLINES);
        assert_int_equal(k->rows_filtered, filtered);
        assert_int_equal(k->rows_dropped_by_join, dropped);
        assert_int_equal(k->rows_aggregated, NLINES - filtered - dropped);
        check_identity(k);
        sf_groups *mine = sf_pipeline_groups(p), *owner = sf_job_new_groups(job);
        apply_sent(&a, owner);
        if (aside)
            assert_int_equal(sf_pipeline_aside_stats(p)->rows_shipped, a.reserved);
        assert_int_equal(sf_groups_prepare_export(mine), 0);
        assert_int_equal(sf_groups_prepare_export(owner), 0);
        assert_int_equal(sf_groups_count(mine) + sf_groups_count(owner), 4);
        if (!aside) { /* rows ran in order: the first row's group is group 0 */
            sf_value v = sf_string(countries[first], 2);
            unsigned char enc[16];
            size_t elen = sf_value_encode(&v, enc), klen;
            const unsigned char *key;
            uint64_t hash;
            sf_groups_key(mine, 0, &key, &klen, &hash);
            assert_int_equal(klen, elen);
            assert_memory_equal(key, enc, elen);
        }
        for (int c = 0; c < 4; c++) {
            const char *name = countries[c];
            sf_groups *g = table_with_key(mine, owner, name);
            assert_non_null(g);
            assert_int_value(group_result(g, name, 0), n[c]);
            assert_int_value(group_result(g, name, 1), sx[c]);
        }
        /* The long note (all 'z') is the greatest in its group. */
        int c300 = (300 * 7919) % NUSERS % 4;
        sf_groups *g300 = table_with_key(mine, owner, countries[c300]);
        assert_non_null(g300);
        sf_value top = group_result(g300, countries[c300], 3);
        assert_int_equal(top.type, SF_STRING);
        assert_int_equal(top.u.s.n, 70000);
        assert_true(top.u.s.p[0] == 'z' && top.u.s.p[69999] == 'z');
        sf_groups_free(owner);
        sf_buf_free(&a.sent);
        sf_pipeline_free(p);
    }
    sf_join_table_free(dims[users]);
    sf_job_free(job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_valid_lines_are_aggregated),
        cmocka_unit_test_setup_teardown(test_window_takes_lines_up_to_the_first_it_leaves, setup_fast,
                                        teardown),
        cmocka_unit_test(test_lean_steps_filter_drop_and_join_as_the_plan_says),
        cmocka_unit_test(test_lean_shapes_give_what_the_loop_over_steps_gives),
        cmocka_unit_test(test_filter_after_if_is_answered_for_the_literal_branch),
        cmocka_unit_test(test_every_output_gets_its_own_combiner),
        cmocka_unit_test(test_batched_rows_keep_their_strings_order_and_counts),
        cmocka_unit_test(test_rows_waiting_for_a_large_join_count_and_aggregate_as_pushed),
        cmocka_unit_test(test_rows_too_large_for_the_batch_keep_their_order),
        cmocka_unit_test(test_fixed_width_keys_give_the_groups_of_encoded_keys),
        cmocka_unit_test(test_interned_strings_of_every_length_give_the_groups_of_encoded_keys),
        cmocka_unit_test(test_interned_strings_past_the_cache_give_the_groups_of_encoded_keys),
        cmocka_unit_test(test_direct_windows_count_and_aggregate_as_pushed_lines),
        T(test_groups_hold_joined_and_derived_columns),
        T(test_every_line_lands_in_exactly_one_count),
        T(test_rejected_lines_are_sampled_with_place_and_reason),
        T(test_type_mismatch_messages_describe_the_value),
        T(test_samples_keep_first_by_file_and_offset_when_lines_arrive_out_of_order),
        cmocka_unit_test(test_samples_insert_merges_sets_from_two_ranks),
        T(test_reject_counts_a_line_read_and_keeps_its_sample),
        T(test_long_sample_messages_are_truncated_not_overflowed),
        T(test_add_bytes_accumulates_bytes_scanned),
        cmocka_unit_test_setup_teardown(test_second_live_jansson_pipeline_is_refused_with_an_error,
                                        setup_jansson, teardown),
        cmocka_unit_test(test_missing_required_column_rejects_the_line),
        cmocka_unit_test(test_free_null_is_a_no_op),
        X(test_exploded_line_counts_once_by_its_first_row),
        X(test_bad_value_in_any_exploded_row_rejects_the_whole_line),
        X(test_push_line_returns_each_lines_verdict),
        X(test_explosion_over_the_row_limit_is_rejected),
        X(test_flattened_values_convert_like_the_decoders),
        X(test_undeclared_fields_never_reject_a_flattened_line),
        X(test_split_pipeline_counts_shipped_exploded_rows_alike),
        D(test_dedupe_keeps_the_first_row_per_key),
        D(test_dedupe_keeps_the_first_in_input_order_whatever_the_arrival),
        D(test_dedupe_written_out_and_offered_again_keeps_the_same_rows),
        D(test_csv_cells_convert_to_the_column_types),
        D(test_csv_cells_that_do_not_convert_reject_the_line),
        cmocka_unit_test(test_csv_decimal_cells_take_the_column_scale),
        cmocka_unit_test(test_dedupe_of_exploded_rows_counts_lines_by_their_first_row),
        T(test_stepped_aside_rows_reach_the_owner_with_the_same_results),
        cmocka_unit_test(test_sample_of_new_groups_decides_to_step_aside),
        cmocka_unit_test(test_new_share_fits_the_key_count_of_the_sample),
        cmocka_unit_test(test_sample_looks_ahead_before_stepping_aside),
        cmocka_unit_test(test_stepping_aside_sizes_the_table_for_the_groups_ahead),
        cmocka_unit_test(test_combining_rank_looks_again_as_its_rows_double),
        cmocka_unit_test(test_group_keys_are_the_encoded_values_and_their_hash),
        cmocka_unit_test(test_ring_keeps_each_string_of_any_length),
        T(test_step_aside_is_refused_for_a_split_pipeline),
        cmocka_unit_test_setup_teardown(test_unknown_join_and_row_output_keep_every_row,
                                        setup_star, teardown),
        cmocka_unit_test_setup_teardown(test_row_sink_takes_the_rows_instead_of_the_table,
                                        setup_star, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
