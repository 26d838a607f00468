/* test_spec.c - job spec loading of core/spec.h: the shipped daily KPI job
 * compiles to the expected row layout, steps, groups, results, window and
 * output; every validation error names the spec file, the field path and
 * the reason (checked as the full message); --input and --output overrides.
 *
 * Error cases start from a small valid spec (fact input "ev", dimension
 * "users") and replace one part of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/spec.h"

/* ---- the shipped job ---- */

static char *read_daily_kpi(size_t *len)
{
    const char *tests = getenv("SF_TEST_DATA");
    assert_non_null(tests);
    char path[1024];
    snprintf(path, sizeof path, "%s/../jobs/daily_kpi.json", tests);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    size_t cap = 1 << 16;
    char *text = malloc(cap);
    assert_non_null(text);
    *len = fread(text, 1, cap, fp);
    fclose(fp);
    assert_true(*len > 0 && *len < cap);
    return text;
}

static sf_job *load_daily_kpi(const sf_job_overrides *ov)
{
    size_t len;
    char *text = read_daily_kpi(&len);
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_job_load(text, len, "jobs/daily_kpi.json", ov, &job, &err);
    free(text);
    if (rc != 0)
        fail_msg("daily_kpi.json: %s", err.msg);
    assert_non_null(job);
    return job;
}

static void assert_ints(const int *got, size_t n, const int *want, size_t nwant)
{
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
}

static void test_daily_kpi_inputs(void **state)
{
    (void)state;
    sf_job *job = load_daily_kpi(NULL);
    assert_string_equal(job->name, "daily_kpi");
    assert_string_equal(job->source, "jobs/daily_kpi.json");
    assert_int_equal(job->ninputs, 3);
    assert_int_equal(job->fact, 0);
    const sf_job_input *ev = &job->inputs[0];
    assert_string_equal(ev->name, "events");
    assert_string_equal(ev->path, "data/sample/events.jsonl");
    assert_int_equal(ev->format, SF_FORMAT_JSONL);
    assert_int_equal(ev->is_fact, 1);
    assert_int_equal(ev->key_col, -1);
    assert_int_equal(ev->ncolumns, 5);
    const char *names[] = {"user_id", "item_id", "event_type", "ts", "props.price"};
    const sf_type types[] = {SF_INT, SF_INT, SF_STRING, SF_INT, SF_DOUBLE};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(ev->columns[i].name, names[i]);
        assert_int_equal(ev->columns[i].type, types[i]);
        assert_int_equal(ev->columns[i].slot, (int)i);
    }
    const sf_job_input *items = &job->inputs[1];
    assert_string_equal(items->name, "items");
    assert_int_equal(items->is_fact, 0);
    assert_int_equal(items->ncolumns, 5);
    assert_int_equal(items->key_col, 0);
    assert_string_equal(items->columns[1].name, "category");
    assert_int_equal(items->columns[1].slot, 1); /* dimension: column index */
    const sf_job_input *users = &job->inputs[2];
    assert_string_equal(users->name, "users");
    assert_string_equal(users->path, "data/sample/users.jsonl");
    assert_int_equal(users->key_col, 0);
    assert_string_equal(users->columns[4].name, "registration_date");
    assert_int_equal(users->columns[4].type, SF_DATE);
    assert_int_equal(sf_job_input_index(job, "users"), 2);
    assert_int_equal(sf_job_input_index(job, "nope"), -1);
    sf_job_free(job);
}

static void test_daily_kpi_row_slots(void **state)
{
    (void)state;
    sf_job *job = load_daily_kpi(NULL);
    const char *names[] = {"user_id", "item_id", "event_type", "ts", "props.price",
                           "revenue", "category", "country", "date"};
    const sf_type types[] = {SF_INT,    SF_INT,    SF_STRING, SF_INT, SF_DOUBLE,
                             SF_DOUBLE, SF_STRING, SF_STRING, SF_DATE};
    assert_int_equal(job->nslots, 9);
    for (size_t i = 0; i < 9; i++) {
        assert_string_equal(job->slot_names[i], names[i]);
        assert_int_equal(job->slot_types[i], types[i]);
    }
    sf_job_free(job);
}

static void test_daily_kpi_steps(void **state)
{
    (void)state;
    sf_job *job = load_daily_kpi(NULL);
    assert_int_equal(job->nsteps, 5);
    const sf_job_step *s = job->steps;
    assert_int_equal(s[0].kind, SF_STEP_DERIVE);
    assert_string_equal(s[0].field, "steps[0]");
    assert_int_equal(s[0].slot, 5);
    assert_non_null(s[0].expr);
    assert_int_equal(sf_expr_type(s[0].expr), SF_DOUBLE);

    assert_int_equal(s[1].kind, SF_STEP_FILTER);
    assert_int_equal(sf_expr_type(s[1].expr), SF_BOOL);

    assert_int_equal(s[2].kind, SF_STEP_JOIN);
    assert_string_equal(s[2].field, "steps[2]");
    assert_int_equal(s[2].input, 1);
    assert_int_equal(s[2].on_slot, 1);
    assert_int_equal(s[2].inner, 1);
    const int items_cols[] = {1}, items_slots[] = {6};
    assert_ints(s[2].select_cols, s[2].nselect, items_cols, 1);
    assert_ints(s[2].select_slots, s[2].nselect, items_slots, 1);

    assert_int_equal(s[3].kind, SF_STEP_JOIN);
    assert_int_equal(s[3].input, 2);
    assert_int_equal(s[3].on_slot, 0);
    const int users_cols[] = {1}, users_slots[] = {7};
    assert_ints(s[3].select_cols, s[3].nselect, users_cols, 1);
    assert_ints(s[3].select_slots, s[3].nselect, users_slots, 1);

    assert_int_equal(s[4].kind, SF_STEP_DERIVE);
    assert_int_equal(s[4].slot, 8);
    assert_int_equal(sf_expr_type(s[4].expr), SF_DATE);
    sf_job_free(job);
}

static void test_daily_kpi_groups_and_aggregates(void **state)
{
    (void)state;
    sf_job *job = load_daily_kpi(NULL);
    const int groups[] = {8, 7, 6};
    assert_ints(job->group_slots, job->ngroup, groups, 3);
    assert_int_equal(job->naggs, 4);
    const char *names[] = {"events_total", "purchases", "revenue", "unique_users"};
    const sf_agg_kind kinds[] = {SF_AGG_COUNT, SF_AGG_COUNT_IF, SF_AGG_SUM,
                                 SF_AGG_COUNT_DISTINCT};
    const sf_type types[] = {SF_INT, SF_INT, SF_DOUBLE, SF_INT};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(job->aggs[i].name, names[i]);
        assert_int_equal(job->aggs[i].kind, kinds[i]);
        assert_int_equal(job->aggs[i].type, types[i]);
        assert_int_equal(sf_expr_agg_kind(job->aggs[i].expr), kinds[i]);
    }
    assert_null(job->aggs[0].arg);
    assert_int_equal(sf_expr_type(job->aggs[1].arg), SF_BOOL);
    assert_int_equal(sf_expr_type(job->aggs[2].arg), SF_DOUBLE);
    assert_int_equal(sf_expr_type(job->aggs[3].arg), SF_INT);
    sf_job_free(job);
}

static void test_daily_kpi_results_and_window(void **state)
{
    (void)state;
    sf_job *job = load_daily_kpi(NULL);
    const char *names[] = {"date", "country", "category", "events_total", "purchases",
                           "revenue", "unique_users", "revenue_7d"};
    const sf_type types[] = {SF_DATE, SF_STRING, SF_STRING, SF_INT,
                             SF_INT,  SF_DOUBLE, SF_INT,    SF_DOUBLE};
    assert_int_equal(job->nresult, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(job->result_names[i], names[i]);
        assert_int_equal(job->result_types[i], types[i]);
        assert_int_equal(sf_job_result_index(job, names[i]), (int)i);
    }
    assert_int_equal(sf_job_result_index(job, "props.price"), -1);
    assert_int_equal(job->nwindows, 1);
    const sf_job_window *w = &job->windows[0];
    assert_string_equal(w->name, "revenue_7d");
    assert_int_equal(w->func, SF_AGG_SUM);
    assert_int_equal(w->column, 5);
    assert_int_equal(w->preceding, 6);
    const int part[] = {1, 2};
    assert_ints(w->partition_by, w->npartition, part, 2);
    assert_int_equal(w->order_by, 0);
    assert_int_equal(w->type, SF_DOUBLE);
    sf_job_free(job);
}

static void test_daily_kpi_output(void **state)
{
    (void)state;
    sf_job *job = load_daily_kpi(NULL);
    const sf_job_output *o = &job->output;
    assert_string_equal(o->path, "out/daily_kpi");
    assert_string_equal(o->format, "csv");
    const int part[] = {0}, cols[] = {1, 2, 3, 4, 5, 6, 7}, sort[] = {1, 2};
    assert_ints(o->partition_by, o->npartition, part, 1);
    assert_ints(o->columns, o->ncolumns, cols, 7);
    assert_ints(o->sort_by, o->nsort, sort, 2);
    sf_job_free(job);
}

static void test_input_overrides_replace_spec_paths(void **state)
{
    (void)state;
    const char *names[] = {"users", "events"};
    const char *paths[] = {"/data/u.jsonl", "/data/e-*.jsonl"};
    sf_job_overrides ov = {.input_names = names, .input_paths = paths, .ninputs = 2};
    sf_job *job = load_daily_kpi(&ov);
    assert_string_equal(job->inputs[0].path, "/data/e-*.jsonl");
    assert_string_equal(job->inputs[1].path, "data/sample/items.jsonl");
    assert_string_equal(job->inputs[2].path, "/data/u.jsonl");
    assert_string_equal(job->output.path, "out/daily_kpi");
    sf_job_free(job);
}

static void test_output_override_replaces_spec_output_path(void **state)
{
    (void)state;
    sf_job_overrides ov = {.output = "/scratch/kpi"};
    sf_job *job = load_daily_kpi(&ov);
    assert_string_equal(job->output.path, "/scratch/kpi");
    assert_string_equal(job->inputs[0].path, "data/sample/events.jsonl");
    sf_job_free(job);
}

static void test_free_null_is_a_no_op(void **state)
{
    (void)state;
    sf_job_free(NULL);
}

/* ---- small specs ---- */

#define FACT_EV                                                                              \
    "\"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", \"columns\": {\"uid\": \"int64\", " \
    "\"item\": \"string\", \"price\": \"double\", \"ts\": \"int64\", \"tags.kind\": "          \
    "\"string\"}}"
#define DIM_USERS                                                                            \
    "\"users\": {\"role\": \"dimension\", \"path\": \"u.csv\", \"format\": \"csv\", "         \
    "\"key\": \"uid\", \"columns\": {\"uid\": \"int64\", \"country\": \"string\", "           \
    "\"age\": \"int64\"}}"

typedef struct parts {
    const char *inputs;   /* default: ev and users */
    const char *steps;    /* default: [] */
    const char *group_by; /* default: ["uid"] */
    const char *aggs;     /* default: {"n": "count()"} */
    const char *windows;  /* default: none */
    const char *output;   /* default: {"path": "out"} */
} parts;

static char *build(const parts *p)
{
    size_t cap = 8192;
    char *text = malloc(cap);
    assert_non_null(text);
    int n = snprintf(text, cap,
                     "{\"name\": \"t\", \"inputs\": %s, \"steps\": %s, \"group_by\": %s, "
                     "\"aggregates\": %s%s%s, \"output\": %s}",
                     p->inputs ? p->inputs : "{" FACT_EV ", " DIM_USERS "}",
                     p->steps ? p->steps : "[]", p->group_by ? p->group_by : "[\"uid\"]",
                     p->aggs ? p->aggs : "{\"n\": \"count()\"}",
                     p->windows ? ", \"windows\": " : "", p->windows ? p->windows : "",
                     p->output ? p->output : "{\"path\": \"out\"}");
    assert_true(n > 0 && (size_t)n < cap);
    return text;
}

static sf_job *load_parts(const parts *p, const sf_job_overrides *ov)
{
    char *text = build(p);
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_job_load(text, strlen(text), "t.json", ov, &job, &err);
    if (rc != 0)
        fail_msg("%s\n  in %s", err.msg, text);
    free(text);
    return job;
}

static void expect_text_error(const char *text, const sf_job_overrides *ov, int code,
                              const char *msg)
{
    sf_job *job = (sf_job *)1;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_job_load(text, strlen(text), "t.json", ov, &job, &err);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_null(job);
    assert_string_equal(err.msg, msg);
}

static void expect_error(const parts *p, const char *msg)
{
    char *text = build(p);
    expect_text_error(text, NULL, SF_E_SPEC, msg);
    free(text);
}

static void test_small_spec_is_valid(void **state)
{
    (void)state;
    parts p = {0};
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->ninputs, 2);
    assert_int_equal(job->inputs[1].format, SF_FORMAT_CSV);
    assert_int_equal(job->nslots, 5);
    assert_string_equal(job->slot_names[4], "tags.kind");
    sf_job_free(job);
}

static void test_join_without_select_takes_every_column_but_the_key(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"join\": \"users\", \"on\": \"uid\", \"type\": \"left\"}]";
    sf_job *job = load_parts(&p, NULL);
    const sf_job_step *s = &job->steps[0];
    assert_int_equal(s->inner, 0);
    const int cols[] = {1, 2}, slots[] = {5, 6};
    assert_ints(s->select_cols, s->nselect, cols, 2);
    assert_ints(s->select_slots, s->nselect, slots, 2);
    assert_string_equal(job->slot_names[6], "age");
    sf_job_free(job);
}

static void test_invalid_json_gives_line_and_column(void **state)
{
    (void)state;
    const char *text = "{\n  \"name\": \"t\",\n  \"inputs\": {,}\n}\n";
    sf_job *job = (sf_job *)1;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", NULL, &job, &err), SF_E_PARSE);
    assert_null(job);
    assert_string_equal(err.msg, "t.json:3:14: invalid JSON: string or '}' expected near ','");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 14);
}

static void test_spec_that_is_not_an_object(void **state)
{
    (void)state;
    expect_text_error("[1]", NULL, SF_E_SPEC,
                      "t.json: (top level): a job spec must be a JSON object");
}

static void test_unknown_top_level_field(void **state)
{
    (void)state;
    expect_text_error("{\"nmae\": \"x\"}", NULL, SF_E_SPEC,
                      "t.json: (top level): unknown field 'nmae' (expected one of: name, "
                      "description, inputs, steps, group_by, aggregates, windows, output, "
                      "memory_limit)");
}

static void test_unknown_type_name(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"path\": \"e\", \"columns\": {\"uid\": "
               "\"integer\"}}}";
    expect_error(&p, "t.json: inputs.ev.columns.uid: type must be one of string, int64, "
                     "double, bool, date; got integer");
}

static void test_two_fact_inputs(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{" FACT_EV ", \"ev2\": {\"role\": \"fact\", \"path\": \"e2\", \"columns\": "
               "{\"uid\": \"int64\"}}}";
    expect_error(&p, "t.json: inputs: two fact inputs ('ev' and 'ev2'); exactly one is needed");
}

static void test_no_fact_input(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{" DIM_USERS "}";
    expect_error(&p, "t.json: inputs: no input has role \"fact\"");
}

static void test_dimension_without_key(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{" FACT_EV ", \"users\": {\"role\": \"dimension\", \"path\": \"u\", "
               "\"columns\": {\"uid\": \"int64\"}}}";
    expect_error(&p, "t.json: inputs.users: missing field 'key'");
}

static void test_key_that_is_not_a_column(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{" FACT_EV ", \"users\": {\"role\": \"dimension\", \"path\": \"u\", "
               "\"key\": \"user_id\", \"columns\": {\"uid\": \"int64\"}}}";
    expect_error(&p, "t.json: inputs.users: key 'user_id' is not one of its columns");
}

static void test_double_key(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{" FACT_EV ", \"users\": {\"role\": \"dimension\", \"path\": \"u\", "
               "\"key\": \"score\", \"columns\": {\"score\": \"double\"}}}";
    expect_error(&p, "t.json: inputs.users: key 'score' must not be a double (use int64 or "
                     "string)");
}

static void test_join_to_unknown_input(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"join\": \"items\", \"on\": \"uid\"}]";
    expect_error(&p, "t.json: steps[0]: join: 'items' is not a dimension input");
}

static void test_join_to_the_fact_input(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"join\": \"ev\", \"on\": \"uid\"}]";
    expect_error(&p, "t.json: steps[0]: join: 'ev' is not a dimension input");
}

static void test_join_key_type_mismatch(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"derive\": \"x\", \"expr\": \"1\"}, {\"join\": \"users\", \"on\": \"item\"}]";
    expect_error(&p, "t.json: steps[1]: on: 'item' is string but the key of 'users' is int64");
}

static void test_join_on_unknown_column(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"join\": \"users\", \"on\": \"user\"}]";
    expect_error(&p, "t.json: steps[0]: on: unknown column 'user'");
}

static void test_select_of_unknown_column(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"join\": \"users\", \"on\": \"uid\", \"select\": [\"country\", \"city\"]}]";
    expect_error(&p, "t.json: steps[0]: select: 'city' is not a column of 'users'");
}

static void test_select_colliding_with_existing_column(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"join\": \"users\", \"on\": \"uid\", \"select\": [\"uid\"]}]";
    expect_error(&p, "t.json: steps[0]: select: column 'uid' already exists in the row; "
                     "select fewer columns");
}

static void test_derive_of_existing_name(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"derive\": \"price\", \"expr\": \"price * 2\"}]";
    expect_error(&p, "t.json: steps[0]: derive: column 'price' already exists");
}

static void test_filter_that_is_not_bool(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"filter\": \"price + 1\"}]";
    expect_error(&p, "t.json: steps[0].filter: a filter must be a bool expression, this one "
                     "is double");
}

static void test_unknown_column_in_filter_names_field_and_position(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"derive\": \"revenue\", \"expr\": \"price * 2\"}, "
              "{\"filter\": \"revenu > 0\"}]";
    char *text = build(&p);
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", NULL, &job, &err), SF_E_SPEC);
    free(text);
    assert_string_equal(err.msg, "t.json: steps[1].filter: unknown column 'revenu' at 1:1");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 1);
}

static void test_step_sees_only_columns_of_earlier_steps(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"filter\": \"country == 'FR'\"}, "
              "{\"join\": \"users\", \"on\": \"uid\", \"select\": [\"country\"]}]";
    expect_error(&p, "t.json: steps[0].filter: unknown column 'country' at 1:1");
}

static void test_aggregate_that_is_a_plain_expression(void **state)
{
    (void)state;
    parts p = {0};
    p.aggs = "{\"p\": \"price * 2\"}";
    expect_error(&p, "t.json: aggregates.p: expected an aggregate such as count(), sum(x), "
                     "count_distinct(x); got a plain expression");
}

/* Found by fuzz_spec: min(null) typed a result column null, which the
 * HDF5 writer stored and `shardflow cat` could not read back. */
static void test_aggregate_that_is_always_null(void **state)
{
    (void)state;
    parts p = {0};
    p.aggs = "{\"n\": \"count()\", \"m\": \"min(null)\"}";
    expect_error(&p, "t.json: aggregates.m: the aggregate is always null; give its argument "
                     "a type, e.g. max(if(false, 0, null))");
    p.aggs = "{\"s\": \"sum(-null)\"}";
    expect_error(&p, "t.json: aggregates.s: the aggregate is always null; give its argument "
                     "a type, e.g. max(if(false, 0, null))");
    p.aggs = "{\"m\": \"max(if(false, 0, null))\", \"a\": \"mean(null)\"}";
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->aggs[0].type, SF_INT);
    assert_int_equal(job->aggs[1].type, SF_DOUBLE);
    sf_job_free(job);
}

static void test_aggregate_of_unknown_column(void **state)
{
    (void)state;
    parts p = {0};
    p.aggs = "{\"n\": \"count()\", \"s\": \"sum(prize)\"}";
    expect_error(&p, "t.json: aggregates.s: unknown column 'prize' at 1:5");
}

static void test_duplicate_result_names(void **state)
{
    (void)state;
    parts p = {0};
    p.aggs = "{\"uid\": \"count()\"}";
    expect_error(&p, "t.json: aggregates.uid: result column 'uid' is defined twice");
    p.aggs = NULL;
    p.windows = "{\"n\": {\"function\": \"sum\", \"column\": \"n\", \"preceding\": 1, "
                "\"order_by\": \"uid\"}}";
    expect_error(&p, "t.json: windows.n: result column 'n' is defined twice");
}

static void test_window_over_unknown_column(void **state)
{
    (void)state;
    parts p = {0};
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"nn\", \"preceding\": 1, "
                "\"order_by\": \"uid\"}}";
    expect_error(&p, "t.json: windows.w: column: unknown result column 'nn' (group keys and "
                     "aggregates)");
}

static void test_window_with_unknown_order_by(void **state)
{
    (void)state;
    parts p = {0};
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"n\", \"preceding\": 1, "
                "\"order_by\": \"day\"}}";
    expect_error(&p, "t.json: windows.w: order_by: unknown result column 'day'");
}

static void test_window_with_unknown_partition_column(void **state)
{
    (void)state;
    parts p = {0};
    p.windows = "{\"w\": {\"function\": \"max\", \"column\": \"n\", \"preceding\": 1, "
                "\"partition_by\": [\"price\"], \"order_by\": \"uid\"}}";
    expect_error(&p, "t.json: windows.w.partition_by: unknown result column 'price'");
}

static void test_sum_window_over_a_string_column(void **state)
{
    (void)state;
    parts p = {0};
    p.group_by = "[\"item\"]";
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"item\", \"preceding\": 1, "
                "\"order_by\": \"n\"}}";
    expect_error(&p, "t.json: windows.w: sum() needs a numeric column; 'item' is not");
}

static void test_window_with_negative_preceding(void **state)
{
    (void)state;
    parts p = {0};
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"n\", \"preceding\": -1, "
                "\"order_by\": \"uid\"}}";
    expect_error(&p, "t.json: windows.w: preceding must be an integer from 0 to 1000000 "
                     "(rows before the current one)");
}

static void test_window_with_unknown_field(void **state)
{
    (void)state;
    parts p = {0};
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"n\", \"preceding\": 1, "
                "\"order\": \"uid\"}}";
    expect_error(&p, "t.json: windows.w: unknown field 'order' (expected one of: function, "
                     "column, preceding, partition_by, order_by)");
}

static void test_output_with_only_partition_columns_is_refused(void **state)
{
    (void)state;
    const char *text = "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"e.jsonl\", "
                       "\"columns\": {\"a\": \"int64\"}}}, \"group_by\": [\"a\"], "
                       "\"aggregates\": {\"n\": \"count()\"}, "
                       "\"output\": {\"path\": \"o\", \"partition_by\": [\"a\", \"n\"]}}";
    expect_text_error(text, NULL, SF_E_SPEC,
                      "t.json: output.partition_by: every result column is a partition column: "
                      "the files would have no columns (list output.columns)");
}

static void test_required_column_must_be_a_fact_column(void **state)
{
    (void)state;
    const char *text = "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"e.jsonl\", "
                       "\"required\": [\"b\"], \"columns\": {\"a\": \"int64\"}}}, "
                       "\"group_by\": [\"a\"], \"aggregates\": {\"n\": \"count()\"}, "
                       "\"output\": {\"path\": \"o\"}}";
    expect_text_error(text, NULL, SF_E_SPEC,
                      "t.json: inputs.e.required: 'b' is not one of the input's columns");
}

static void test_single_layout_needs_hdf5(void **state)
{
    (void)state;
    sf_job_overrides ov = {.layout = "single"};
    const char *text = "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"e.jsonl\", "
                       "\"columns\": {\"a\": \"int64\"}}}, \"group_by\": [\"a\"], "
                       "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o\"}}";
    expect_text_error(text, &ov, SF_E_SPEC,
                      "t.json: --layout: 'single' is an hdf5 layout; csv outputs are hive (csv)");
    sf_job_overrides bad = {.format = "hdf5", .compression = "gzip:12"};
    expect_text_error(text, &bad, SF_E_SPEC, "t.json: --compression: must be none, gzip or "
                      "gzip:N with N in 0..9, got 'gzip:12'");
}

static void test_output_format_that_is_neither_csv_nor_hdf5(void **state)
{
    (void)state;
    parts p = {0};
    p.output = "{\"path\": \"out\", \"format\": \"xlsx\"}";
    expect_error(&p, "t.json: output.format: must be csv, hdf5 or parquet, got 'xlsx'");
}

static void test_parquet_output_is_hive_and_snappy_by_default(void **state)
{
    (void)state;
    const char *text = "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"e.jsonl\", "
                       "\"columns\": {\"a\": \"int64\"}}}, \"group_by\": [\"a\"], "
                       "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o\", "
                       "\"format\": \"parquet\"}}";
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", NULL, &job, &err), 0);
    assert_string_equal(job->output.format, "parquet");
    assert_string_equal(job->output.layout, "hive");
    assert_string_equal(job->output.compression, "snappy");
    sf_job_free(job);
    sf_job_overrides zstd = {.compression = "zstd:7"};
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", &zstd, &job, &err), 0);
    assert_string_equal(job->output.compression, "zstd:7");
    sf_job_free(job);
    sf_job_overrides single = {.layout = "single"};
    expect_text_error(text, &single, SF_E_SPEC,
                      "t.json: --layout: 'single' is an hdf5 layout; parquet outputs are hive (a "
                      "part-NNNNN.parquet per partition value)");
}

static void test_output_column_unknown(void **state)
{
    (void)state;
    parts p = {0};
    p.output = "{\"path\": \"out\", \"columns\": [\"n\", \"nope\"]}";
    expect_error(&p, "t.json: output.columns: unknown result column 'nope'");
}

static void test_output_without_path_or_override(void **state)
{
    (void)state;
    parts p = {0};
    p.output = "{\"format\": \"csv\"}";
    expect_error(&p, "t.json: output: no path: give \"path\" in the spec or --output DIR");
}

static void test_override_of_an_unknown_input_name(void **state)
{
    (void)state;
    parts p = {0};
    char *text = build(&p);
    const char *names[] = {"evts"};
    const char *paths[] = {"/x.jsonl"};
    sf_job_overrides ov = {.input_names = names, .input_paths = paths, .ninputs = 1};
    expect_text_error(text, &ov, SF_E_SPEC,
                      "--input evts: the job has no input named 'evts' (inputs: ev, users)");
    free(text);
}

static void test_override_supplies_a_path_the_spec_lacks(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"columns\": {\"uid\": \"int64\"}}}";
    p.output = "{}";
    char *text = build(&p);
    expect_text_error(text, NULL, SF_E_SPEC,
                      "t.json: inputs.ev: no path: give \"path\" in the spec or --input "
                      "ev=PATH");
    const char *names[] = {"ev"};
    const char *paths[] = {"/in/ev.jsonl"};
    sf_job_overrides ov = {.input_names = names, .input_paths = paths, .ninputs = 1,
                           .output = "/out/dir"};
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", &ov, &job, &err), 0);
    assert_string_equal(job->inputs[0].path, "/in/ev.jsonl");
    assert_string_equal(job->output.path, "/out/dir");
    sf_job_free(job);
    free(text);
}

/* ---- flatten settings of the fact input ---- */

#define FLAT_EV(extra)                                                                       \
    "{\"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", " extra ", \"columns\": "      \
    "{\"uid\": \"int64\", \"items.sku\": \"string\"}}}"

static void test_explode_and_flatten_settings_are_loaded(void **state)
{
    (void)state;
    parts p = {.inputs = FLAT_EV("\"explode\": [\"items\", \"items.parts\"], \"flatten\": "
                                 "{\"separator\": \".\", \"lists\": \"join\", "
                                 "\"join_separator\": \";\", \"max_depth\": 3, "
                                 "\"max_rows_per_record\": 50, \"on_collision\": \"last\"}")};
    sf_job *job = load_parts(&p, NULL);
    const sf_job_input *in = &job->inputs[job->fact];
    assert_int_equal(in->flatten, 1);
    const sf_flatten_opts *o = &in->flatten_opts;
    assert_int_equal(o->nexplode, 2);
    assert_string_equal(o->explode[0], "items");
    assert_string_equal(o->explode[1], "items.parts");
    assert_string_equal(o->sep, ".");
    assert_string_equal(o->join_sep, ";");
    assert_int_equal(o->lists, SF_LISTS_JOIN);
    assert_int_equal(o->max_depth, 3);
    assert_int_equal(o->max_rows, 50);
    assert_int_equal(o->on_collision, SF_COLLISION_LAST);
    assert_string_equal(job->slot_names[1], "items.sku");
    sf_job_free(job);
}

static void test_input_without_flatten_settings_is_projected(void **state)
{
    (void)state;
    parts p = {0};
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->inputs[job->fact].flatten, 0);
    sf_job_free(job);
    parts q = {.inputs = FLAT_EV("\"flatten\": {}")};
    job = load_parts(&q, NULL);
    assert_int_equal(job->inputs[job->fact].flatten, 1);
    assert_int_equal(job->inputs[job->fact].flatten_opts.nexplode, 0);
    sf_job_free(job);
}

static void test_bad_flatten_settings_name_the_field(void **state)
{
    (void)state;
    parts p = {.inputs = FLAT_EV("\"explode\": [\"items..x\"]")};
    expect_error(&p, "t.json: inputs.ev.explode: explode path 'items..x': empty key (keys are "
                     "joined with '.', e.g. orders.items)");
    p.inputs = FLAT_EV("\"explode\": \"items\"");
    expect_error(&p, "t.json: inputs.ev.explode: must be an array of at most 64 array paths, "
                     "e.g. [\"items\"]");
    p.inputs = FLAT_EV("\"flatten\": {\"lists\": \"flat\"}");
    expect_error(&p, "t.json: inputs.ev.flatten: lists must be \"index\", \"join\" or "
                     "\"json\", got 'flat'");
    p.inputs = FLAT_EV("\"flatten\": {\"sep\": \"_\"}");
    expect_error(&p, "t.json: inputs.ev.flatten: unknown field 'sep' (expected one of: "
                     "separator, lists, join_separator, max_depth, max_rows_per_record, "
                     "on_collision)");
    p.inputs = FLAT_EV("\"flatten\": {\"max_rows_per_record\": 0}");
    expect_error(&p, "t.json: inputs.ev.flatten: max_rows_per_record must be an integer >= 1");
    p.inputs = FLAT_EV("\"flatten\": {\"separator\": \"\"}");
    expect_error(&p, "t.json: inputs.ev: the key separator must not be empty");
}

static void test_explode_on_a_dimension_input_is_refused(void **state)
{
    (void)state;
    parts p = {.inputs = "{" FACT_EV ", \"users\": {\"role\": \"dimension\", \"path\": "
                         "\"u\", \"key\": \"uid\", \"explode\": [\"x\"], \"columns\": "
                         "{\"uid\": \"int64\"}}}"};
    expect_error(&p, "t.json: inputs.users: \"flatten\" and \"explode\" are for the fact input "
                     "only");
}

static void test_memory_limit_is_a_size_or_none(void **state)
{
    (void)state;
    const char *head = "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"e.jsonl\", "
                       "\"columns\": {\"a\": \"int64\"}}}, \"group_by\": [\"a\"], "
                       "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o\"}";
    char text[512];
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    snprintf(text, sizeof text, "%s}", head);
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", NULL, &job, &err), 0);
    assert_int_equal(job->memory_limit_set, 0);
    sf_job_free(job);
    snprintf(text, sizeof text, "%s, \"memory_limit\": \"128M\"}", head);
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", NULL, &job, &err), 0);
    assert_int_equal(job->memory_limit_set, 1);
    assert_true(job->memory_limit == (uint64_t)128 << 20);
    sf_job_free(job);
    snprintf(text, sizeof text, "%s, \"memory_limit\": \"none\"}", head);
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", NULL, &job, &err), 0);
    assert_int_equal(job->memory_limit_set, 1);
    assert_true(job->memory_limit == 0);
    sf_job_free(job);
    snprintf(text, sizeof text, "%s, \"memory_limit\": \"lots\"}", head);
    expect_text_error(text, NULL, SF_E_SPEC, "t.json: memory_limit: 'lots' is not a size (e.g. "
                      "512M, 4G) or \"none\"");
    snprintf(text, sizeof text, "%s, \"memory_limit\": 5}", head);
    expect_text_error(text, NULL, SF_E_SPEC,
                      "t.json: memory_limit: field 'memory_limit' must be a string");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daily_kpi_inputs),
        cmocka_unit_test(test_daily_kpi_row_slots),
        cmocka_unit_test(test_daily_kpi_steps),
        cmocka_unit_test(test_daily_kpi_groups_and_aggregates),
        cmocka_unit_test(test_daily_kpi_results_and_window),
        cmocka_unit_test(test_daily_kpi_output),
        cmocka_unit_test(test_input_overrides_replace_spec_paths),
        cmocka_unit_test(test_output_override_replaces_spec_output_path),
        cmocka_unit_test(test_free_null_is_a_no_op),
        cmocka_unit_test(test_small_spec_is_valid),
        cmocka_unit_test(test_join_without_select_takes_every_column_but_the_key),
        cmocka_unit_test(test_invalid_json_gives_line_and_column),
        cmocka_unit_test(test_spec_that_is_not_an_object),
        cmocka_unit_test(test_unknown_top_level_field),
        cmocka_unit_test(test_unknown_type_name),
        cmocka_unit_test(test_two_fact_inputs),
        cmocka_unit_test(test_no_fact_input),
        cmocka_unit_test(test_dimension_without_key),
        cmocka_unit_test(test_key_that_is_not_a_column),
        cmocka_unit_test(test_double_key),
        cmocka_unit_test(test_join_to_unknown_input),
        cmocka_unit_test(test_join_to_the_fact_input),
        cmocka_unit_test(test_join_key_type_mismatch),
        cmocka_unit_test(test_join_on_unknown_column),
        cmocka_unit_test(test_select_of_unknown_column),
        cmocka_unit_test(test_select_colliding_with_existing_column),
        cmocka_unit_test(test_derive_of_existing_name),
        cmocka_unit_test(test_filter_that_is_not_bool),
        cmocka_unit_test(test_unknown_column_in_filter_names_field_and_position),
        cmocka_unit_test(test_step_sees_only_columns_of_earlier_steps),
        cmocka_unit_test(test_aggregate_that_is_a_plain_expression),
        cmocka_unit_test(test_aggregate_that_is_always_null),
        cmocka_unit_test(test_aggregate_of_unknown_column),
        cmocka_unit_test(test_duplicate_result_names),
        cmocka_unit_test(test_window_over_unknown_column),
        cmocka_unit_test(test_window_with_unknown_order_by),
        cmocka_unit_test(test_window_with_unknown_partition_column),
        cmocka_unit_test(test_sum_window_over_a_string_column),
        cmocka_unit_test(test_window_with_negative_preceding),
        cmocka_unit_test(test_window_with_unknown_field),
        cmocka_unit_test(test_output_format_that_is_neither_csv_nor_hdf5),
        cmocka_unit_test(test_parquet_output_is_hive_and_snappy_by_default),
        cmocka_unit_test(test_memory_limit_is_a_size_or_none),
        cmocka_unit_test(test_single_layout_needs_hdf5),
        cmocka_unit_test(test_required_column_must_be_a_fact_column),
        cmocka_unit_test(test_output_with_only_partition_columns_is_refused),
        cmocka_unit_test(test_output_column_unknown),
        cmocka_unit_test(test_output_without_path_or_override),
        cmocka_unit_test(test_override_of_an_unknown_input_name),
        cmocka_unit_test(test_override_supplies_a_path_the_spec_lacks),
        cmocka_unit_test(test_explode_and_flatten_settings_are_loaded),
        cmocka_unit_test(test_input_without_flatten_settings_is_projected),
        cmocka_unit_test(test_bad_flatten_settings_name_the_field),
        cmocka_unit_test(test_explode_on_a_dimension_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
