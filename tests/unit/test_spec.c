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
    /* As run and validate load it from the repository root: the spec's
     * paths are relative to jobs/. */
    sf_job_overrides in_jobs = {0};
    if (ov)
        in_jobs = *ov;
    in_jobs.spec_dir = "jobs";
    int rc = sf_job_load(text, len, "jobs/daily_kpi.json", &in_jobs, &job, &err);
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
    assert_string_equal(ev->path, "jobs/../data/sample/events.jsonl");
    assert_int_equal(ev->format, SF_FORMAT_JSONL);
    assert_int_equal(ev->is_fact, 1);
    assert_int_equal(ev->key_col, -1);
    assert_int_equal(ev->ncolumns, 5);
    const char *names[] = {"user_id", "item_id", "event_type", "ts", "props.price"};
    const sf_type types[] = {SF_INT, SF_INT, SF_STRING, SF_INT, SF_DECIMAL};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(ev->columns[i].name, names[i]);
        assert_int_equal(ev->columns[i].type, types[i]);
        assert_int_equal(ev->columns[i].slot, (int)i);
    }
    /* money is decimal(18,2) */
    assert_int_equal(ev->columns[4].dec.prec, 18);
    assert_int_equal(ev->columns[4].dec.scale, 2);
    const sf_job_input *items = &job->inputs[1];
    assert_string_equal(items->name, "items");
    assert_int_equal(items->is_fact, 0);
    assert_int_equal(items->ncolumns, 5);
    assert_int_equal(items->key_col, 0);
    assert_string_equal(items->columns[1].name, "category");
    assert_int_equal(items->columns[1].slot, 1); /* dimension: column index */
    const sf_job_input *users = &job->inputs[2];
    assert_string_equal(users->name, "users");
    assert_string_equal(users->path, "jobs/../data/sample/users.jsonl");
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
    const sf_type types[] = {SF_INT,     SF_INT,    SF_STRING, SF_INT, SF_DECIMAL,
                             SF_DECIMAL, SF_STRING, SF_STRING, SF_DATE};
    assert_int_equal(job->nslots, 9);
    for (size_t i = 0; i < 9; i++) {
        assert_string_equal(job->slot_names[i], names[i]);
        assert_int_equal(job->slot_types[i], types[i]);
    }
    /* props.price and revenue (if(..., props.price, 0)) are decimal(18,2) */
    for (int i = 4; i <= 5; i++) {
        assert_int_equal(sf_job_slot_dec(job, i).prec, 18);
        assert_int_equal(sf_job_slot_dec(job, i).scale, 2);
    }
    assert_int_equal(sf_job_slot_dec(job, 0).prec, 0);
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
    assert_int_equal(sf_expr_type(s[0].expr), SF_DECIMAL);

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
    const sf_type types[] = {SF_INT, SF_INT, SF_DECIMAL, SF_INT};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(job->aggs[i].name, names[i]);
        assert_int_equal(job->aggs[i].kind, kinds[i]);
        assert_int_equal(job->aggs[i].type, types[i]);
        assert_int_equal(sf_expr_agg_kind(job->aggs[i].expr), kinds[i]);
    }
    assert_null(job->aggs[0].arg);
    assert_int_equal(sf_expr_type(job->aggs[1].arg), SF_BOOL);
    assert_int_equal(sf_expr_type(job->aggs[2].arg), SF_DECIMAL);
    assert_int_equal(job->aggs[2].dec.prec, 38); /* sum(decimal(18,2)) */
    assert_int_equal(job->aggs[2].dec.scale, 2);
    assert_int_equal(sf_expr_type(job->aggs[3].arg), SF_INT);
    sf_job_free(job);
}

static void test_daily_kpi_results_and_window(void **state)
{
    (void)state;
    sf_job *job = load_daily_kpi(NULL);
    const char *names[] = {"date", "country", "category", "events_total", "purchases",
                           "revenue", "unique_users", "revenue_7d"};
    const sf_type types[] = {SF_DATE, SF_STRING,  SF_STRING, SF_INT,
                             SF_INT,  SF_DECIMAL, SF_INT,    SF_DECIMAL};
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
    assert_int_equal(w->type, SF_DECIMAL);
    assert_int_equal(w->dec.prec, 38);
    assert_int_equal(w->dec.scale, 2);
    assert_int_equal(sf_job_result_dec(job, 7).scale, 2);
    sf_job_free(job);
}

static void test_daily_kpi_output(void **state)
{
    (void)state;
    sf_job *job = load_daily_kpi(NULL);
    const sf_job_output *o = &job->output;
    assert_string_equal(o->path, "jobs/../out/daily_kpi");
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
    assert_string_equal(job->inputs[1].path, "jobs/../data/sample/items.jsonl");
    assert_string_equal(job->inputs[2].path, "/data/u.jsonl");
    assert_string_equal(job->output.path, "jobs/../out/daily_kpi");
    sf_job_free(job);
}

static void test_output_override_replaces_spec_output_path(void **state)
{
    (void)state;
    sf_job_overrides ov = {.output = "/scratch/kpi"};
    sf_job *job = load_daily_kpi(&ov);
    assert_string_equal(job->output.path, "/scratch/kpi");
    assert_string_equal(job->inputs[0].path, "jobs/../data/sample/events.jsonl");
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
                      "having, outputs, params, compute, grid, memory_limit)");
}

static void test_unknown_type_name(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"path\": \"e\", \"columns\": {\"uid\": "
               "\"integer\"}}}";
    expect_error(&p, "t.json: inputs.ev.columns.uid: type must be one of string, int64, "
                     "double, bool, date, timestamp, decimal(P,S) (1 <= P <= 38, 0 <= S <= P); got integer");
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
                     "column, preceding, partition_by, order_by, range)");
}


#define FACT_DATED                                                                           \
    "{\"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", \"columns\": {\"uid\": \"int64\", " \
    "\"day\": \"date\"}}}"

static void test_window_with_a_range_in_days(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = FACT_DATED;
    p.group_by = "[\"uid\", \"day\"]";
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"n\", \"range\": \"6 days\", "
                "\"partition_by\": [\"uid\"], \"order_by\": \"day\"}, "
                "\"v\": {\"function\": \"max\", \"column\": \"n\", \"range\": \"1 day\", "
                "\"order_by\": \"day\"}, "
                "\"r\": {\"function\": \"max\", \"column\": \"n\", \"preceding\": 2, "
                "\"order_by\": \"day\"}}";
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->nwindows, 3);
    assert_int_equal(job->windows[0].range, 6);
    assert_int_equal(job->windows[1].range, 1);
    assert_int_equal(job->windows[2].range, -1);
    assert_int_equal(job->windows[2].preceding, 2);
    sf_job_free(job);
}

static void test_window_with_range_and_preceding(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = FACT_DATED;
    p.group_by = "[\"day\"]";
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"n\", \"range\": \"6 days\", "
                "\"preceding\": 6, \"order_by\": \"day\"}}";
    expect_error(&p, "t.json: windows.w: give one of \"preceding\" (rows) and \"range\" (e.g. "
                     "\"6 days\"), not both");
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"n\", \"order_by\": \"day\"}}";
    expect_error(&p, "t.json: windows.w: needs \"preceding\" (rows before the current one) or "
                     "\"range\" (e.g. \"6 days\")");
}

static void test_window_range_text_and_order_type(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = FACT_DATED;
    p.group_by = "[\"uid\", \"day\"]";
    const char *bad[] = {"6", "days", "6 weeks", "-1 days", "100001 days", " 6 days", "6 days "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char win[256], msg[512];
        snprintf(win, sizeof win, "{\"w\": {\"function\": \"sum\", \"column\": \"n\", "
                 "\"range\": \"%s\", \"order_by\": \"day\"}}", bad[i]);
        snprintf(msg, sizeof msg, "t.json: windows.w.range: must be \"N days\" (or N hours, "
                 "minutes, seconds over a timestamp) with N from 0 to 100000 (the frame is the "
                 "rows whose order value is within that span before the current one), got '%s'",
                 bad[i]);
        p.windows = win;
        expect_error(&p, msg);
    }
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"n\", \"range\": \"6 days\", "
                "\"order_by\": \"uid\"}}";
    expect_error(&p, "t.json: windows.w.range: a range needs a date or timestamp order_by "
                     "column; 'uid' is int64");
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"n\", \"range\": \"6 hours\", "
                "\"order_by\": \"day\"}}";
    expect_error(&p, "t.json: windows.w.range: a date order_by column 'day' takes a range in "
                 "days, got '6 hours'");
}

/* Over a timestamp order column a range is kept in microseconds. */
static void test_window_range_over_a_timestamp(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", \"columns\": "
               "{\"uid\": \"int64\", \"at\": \"timestamp\"}}}";
    p.group_by = "[\"uid\", \"at\"]";
    const char *ranges[] = {"6 hours", "90 minutes", "2 days", "1 second"};
    const int64_t us[] = {6 * 3600000000LL, 90 * 60000000LL, 2 * 86400000000LL, 1000000LL};
    for (size_t i = 0; i < 4; i++) {
        char win[256];
        snprintf(win, sizeof win, "{\"w\": {\"function\": \"sum\", \"column\": \"n\", "
                 "\"range\": \"%s\", \"partition_by\": [\"uid\"], \"order_by\": \"at\"}}",
                 ranges[i]);
        p.windows = win;
        sf_job *job = load_parts(&p, NULL);
        assert_int_equal(job->nwindows, 1);
        assert_true(job->windows[0].range == us[i]);
        sf_job_free(job);
    }
}


static void test_dedupe_step_is_compiled(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"filter\": \"uid > 0\"}, {\"dedupe\": [\"ts\", \"item\"], \"keep\": \"first\"}, "
              "{\"derive\": \"x\", \"expr\": \"uid + 1\"}]";
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->dedupe_step, 1);
    const sf_job_step *st = &job->steps[1];
    assert_int_equal(st->kind, SF_STEP_DEDUPE);
    assert_int_equal(st->ndedupe, 2);
    assert_string_equal(job->slot_names[st->dedupe_slots[0]], "ts");
    assert_string_equal(job->slot_names[st->dedupe_slots[1]], "item");
    sf_job_free(job);
    p.steps = "[{\"dedupe\": [\"uid\"]}]"; /* keep defaults to first */
    job = load_parts(&p, NULL);
    assert_int_equal(job->dedupe_step, 0);
    sf_job_free(job);
    p.steps = NULL;
    job = load_parts(&p, NULL);
    assert_int_equal(job->dedupe_step, -1);
    sf_job_free(job);
}

static void test_dedupe_step_errors(void **state)
{
    (void)state;
    parts p = {0};
    p.steps = "[{\"dedupe\": [\"uid\"], \"keep\": \"last\"}]";
    expect_error(&p, "t.json: steps[0]: keep must be \"first\" (the first row in input order), "
                     "got 'last'");
    p.steps = "[{\"dedupe\": []}]";
    expect_error(&p, "t.json: steps[0].dedupe: must list at least one column");
    p.steps = "[{\"dedupe\": [\"nope\"]}]";
    expect_error(&p, "t.json: steps[0].dedupe: unknown column 'nope'");
    p.steps = "[{\"dedupe\": \"uid\"}]";
    expect_error(&p, "t.json: steps[0].dedupe: must be an array of column names");
    p.steps = "[{\"dedupe\": [\"uid\"]}, {\"dedupe\": [\"ts\"]}]";
    expect_error(&p, "t.json: steps[1]: a job has at most one dedupe step (the first is "
                     "steps[0])");
    p.steps = "[{\"dedupe\": [\"uid\"], \"on\": \"x\"}]";
    expect_error(&p, "t.json: steps[0]: unknown field 'on' (expected one of: dedupe, keep)");
    p.steps = "[{\"select\": [\"uid\"]}]";
    expect_error(&p, "t.json: steps[0]: must have one of the fields derive, filter, join, "
                     "dedupe");
}

static void test_csv_fact_input(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"format\": \"csv\", \"path\": \"ev.csv\", "
               "\"columns\": {\"uid\": \"int64\", \"props.price\": \"double\"}}}";
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->inputs[0].format, SF_FORMAT_CSV);
    assert_true(job->inputs[0].is_fact);
    sf_job_free(job);
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"format\": \"csv\", \"path\": \"ev.csv\", "
               "\"explode\": [\"a\"], \"columns\": {\"uid\": \"int64\"}}}";
    expect_error(&p, "t.json: inputs.ev: flatten and explode read JSON; a CSV input has flat "
                     "columns");
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"format\": \"tsv\", \"path\": \"ev.tsv\", "
               "\"columns\": {\"uid\": \"int64\"}}}";
    expect_error(&p, "t.json: inputs.ev: format must be \"jsonl\" or \"csv\", got 'tsv'");
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

/* ---- output shaping: sort directions, limit, having; spec-relative paths ---- */

static void test_sort_by_entries_take_desc_and_asc(void **state)
{
    (void)state;
    parts p = {0};
    p.aggs = "{\"n\": \"count()\", \"revenue\": \"sum(price)\"}";
    p.output = "{\"path\": \"out\", \"sort_by\": [\"revenue desc\", \"uid asc\"], "
               "\"limit\": 10}";
    sf_job *job = load_parts(&p, NULL);
    const sf_job_output *o = &job->output;
    assert_int_equal(o->nsort, 2);
    assert_int_equal(o->sort_by[0], 2);
    assert_int_equal(o->sort_desc[0], 1);
    assert_int_equal(o->sort_by[1], 0);
    assert_int_equal(o->sort_desc[1], 0);
    assert_int_equal(o->limit, 10);
    sf_job_free(job);
}

static void test_default_sort_is_ascending_without_limit(void **state)
{
    (void)state;
    parts p = {0};
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->output.nsort, 1);
    assert_int_equal(job->output.sort_desc[0], 0);
    assert_int_equal(job->output.limit, -1);
    assert_null(job->having);
    sf_job_free(job);
}

static void test_sort_by_with_an_unknown_direction_says_how(void **state)
{
    (void)state;
    parts p = {0};
    p.output = "{\"path\": \"out\", \"sort_by\": [\"n descending\"]}";
    expect_error(&p, "t.json: output.sort_by: unknown result column 'n descending' (a "
                 "direction is \" desc\" or \" asc\" after the name, e.g. \"revenue desc\")");
    p.output = "{\"path\": \"out\", \"sort_by\": [\"nope desc\"]}";
    expect_error(&p, "t.json: output.sort_by: unknown result column 'nope'");
    p.output = "{\"path\": \"out\", \"sort_by\": [\"n desc\", \"n\"]}";
    expect_error(&p, "t.json: output.sort_by: 'n' is listed twice");
}

static void test_top_level_limit_says_where_it_belongs(void **state)
{
    (void)state;
    parts p = {0};
    char *text = build(&p);
    text[strlen(text) - 1] = '\0';
    char buf[8400];
    snprintf(buf, sizeof buf, "%s, \"limit\": 10}", text);
    expect_text_error(buf, NULL, SF_E_SPEC, "t.json: limit: belongs in \"output\", with the "
                      "order it limits: \"output\": {\"sort_by\": [\"revenue desc\"], "
                      "\"limit\": 10}");
    free(text);
}

static void test_limit_must_be_a_count(void **state)
{
    (void)state;
    parts p = {0};
    p.output = "{\"path\": \"out\", \"limit\": -1}";
    expect_error(&p, "t.json: output.limit: must be an integer >= 0 (the number of rows "
                 "kept, in sort_by order)");
    p.output = "{\"path\": \"out\", \"limit\": \"10\"}";
    expect_error(&p, "t.json: output.limit: must be an integer >= 0 (the number of rows "
                 "kept, in sort_by order)");
    p.output = "{\"path\": \"out\", \"limit\": 0}";
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->output.limit, 0);
    sf_job_free(job);
}

static char *with_having(const parts *p, const char *having)
{
    char *text = build(p);
    size_t n = strlen(text) + strlen(having) + 32;
    char *out = malloc(n);
    assert_non_null(out);
    /* build() ends with the output object and the closing brace. */
    text[strlen(text) - 1] = '\0';
    snprintf(out, n, "%s, \"having\": %s}", text, having);
    free(text);
    return out;
}

static void test_having_reads_group_keys_and_aggregates(void **state)
{
    (void)state;
    parts p = {0};
    p.aggs = "{\"n\": \"count()\", \"revenue\": \"sum(price)\"}";
    char *text = with_having(&p, "\"n >= 2 && revenue > 10.5 && uid != 7\"");
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", NULL, &job, &err), 0);
    assert_non_null(job->having);
    assert_int_equal(sf_expr_type(job->having), SF_BOOL);
    /* Slots are result columns: uid, n, revenue. */
    sf_value row[3] = {sf_int(1), sf_int(3), sf_double(11.0)};
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    sf_value v = sf_expr_eval(job->having, row, &scratch);
    assert_int_equal(v.type, SF_BOOL);
    assert_int_equal(v.u.b, 1);
    row[1] = sf_int(1);
    v = sf_expr_eval(job->having, row, &scratch);
    assert_int_equal(v.u.b, 0);
    sf_arena_free(&scratch);
    sf_job_free(job);
    free(text);
}

/* ---- params, compute, grid, dimension duplicates (issue 18) ---- */

/* A grid job: events by user and day, the users dimension with a sign-up
 * date; %s is the rest of the top level (after "aggregates"). */
#define GRID_JOB                                                                             \
    "{\"name\": \"g\", \"params\": {\"as_of\": \"2025-04-20\", \"start\": \"\"},"               \
    " \"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", \"columns\": "         \
    "{\"uid\": \"string\", \"day\": \"date\", \"mins\": \"double\"}},"                         \
    " \"users\": {\"role\": \"dimension\", \"path\": \"u.csv\", \"format\": \"csv\", "         \
    "\"key\": \"uid\", \"duplicates\": \"first\", \"columns\": {\"uid\": \"string\", "         \
    "\"signup\": \"date\"}}},"                                                                 \
    " \"steps\": [{\"filter\": \"day <= '${as_of}'\"}],"                                       \
    " \"group_by\": [\"uid\", \"day\"], \"aggregates\": {\"n\": \"count()\", "                 \
    "\"m\": \"sum(mins)\", \"last\": \"max(day)\"}%s}"

static char *grid_job(const char *rest)
{
    size_t n = strlen(GRID_JOB) + strlen(rest) + 1;
    char *text = malloc(n);
    assert_non_null(text);
    snprintf(text, n, GRID_JOB, rest);
    return text;
}

static sf_job *load_grid_job(const char *rest, const sf_job_overrides *ov)
{
    char *text = grid_job(rest);
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_job_load(text, strlen(text), "t.json", ov, &job, &err) != 0)
        fail_msg("%s\n  in %s", err.msg, text);
    free(text);
    return job;
}

static void expect_grid_error(const char *rest, const sf_job_overrides *ov, const char *msg)
{
    char *text = grid_job(rest);
    expect_text_error(text, ov, SF_E_SPEC, msg);
    free(text);
}

/* The filter's ${as_of} takes the default, or --param's value. */
static int filter_keeps(const sf_job *job, int32_t day)
{
    sf_value row[4] = {sf_string("u", 1), sf_date(day), sf_double(1.0), sf_null()};
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    sf_value v = sf_expr_eval(job->steps[0].expr, row, &scratch);
    sf_arena_free(&scratch);
    return v.type == SF_BOOL && v.u.b;
}

static void test_params_replace_their_references_and_take_param_overrides(void **state)
{
    (void)state;
    const int32_t apr20 = 20198, apr21 = 20199; /* 2025-04-20, 2025-04-21 */
    sf_job *job = load_grid_job(", \"output\": {\"path\": \"out\"}", NULL);
    assert_true(filter_keeps(job, apr20));
    assert_false(filter_keeps(job, apr21));
    sf_job_free(job);
    const char *names[1] = {"as_of"}, *values[1] = {"2025-04-21"};
    sf_job_overrides ov = {.param_names = names, .param_values = values, .nparams = 1};
    job = load_grid_job(", \"output\": {\"path\": \"out\"}", &ov);
    assert_true(filter_keeps(job, apr21));
    sf_job_free(job);
    names[0] = "asof";
    expect_grid_error(", \"output\": {\"path\": \"out\"}", &ov,
                      "t.json: --param asof: the job has no parameter 'asof' (its \"params\" "
                      "object lists them)");
}

static void test_unknown_param_reference_names_the_field(void **state)
{
    (void)state;
    expect_grid_error(", \"compute\": {\"x\": \"date_add(day, ${days})\"}, \"output\": "
                      "{\"path\": \"out\"}", NULL,
                      "t.json: compute.x: unknown parameter '${days}' (declare it in "
                      "\"params\")");
    expect_grid_error(", \"compute\": {\"x\": \"date_add(day, ${days)\"}, \"output\": "
                      "{\"path\": \"out\"}", NULL,
                      "t.json: compute.x: '${' without a closing '}'");
}

static void test_compute_columns_follow_the_windows(void **state)
{
    (void)state;
    sf_job *job = load_grid_job(
        ", \"windows\": {\"seen\": {\"function\": \"max\", \"column\": \"last\", \"range\": "
        "\"100000 days\", \"partition_by\": [\"uid\"], \"order_by\": \"day\"}},"
        " \"compute\": {\"since\": \"date_diff(seen, day)\", \"month\": "
        "\"format_date(day, '%Y-%m')\"},"
        " \"output\": {\"path\": \"out\", \"partition_by\": [\"month\"], \"columns\": "
        "[\"uid\", \"day\", \"since\"]}", NULL);
    assert_int_equal(job->nresult, 8);
    assert_int_equal(job->ncomputes, 2);
    assert_int_equal(job->computes[0].column, 6);
    assert_string_equal(job->result_names[6], "since");
    assert_int_equal(job->result_types[6], SF_INT);
    assert_string_equal(job->result_names[7], "month");
    assert_int_equal(job->result_types[7], SF_STRING);
    assert_int_equal(job->output.partition_by[0], 7);
    /* uid, day, n, m, last, seen: since = day - seen. */
    sf_value row[8] = {sf_string("u", 1), sf_date(20198), sf_int(0), sf_double(0.0), sf_null(),
                       sf_date(20195), sf_null(), sf_null()};
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    sf_value v = sf_expr_eval(job->computes[0].expr, row, &scratch);
    assert_int_equal(v.type, SF_INT);
    assert_int_equal(v.u.i, 3);
    v = sf_expr_eval(job->computes[1].expr, row, &scratch);
    assert_int_equal(v.type, SF_STRING);
    assert_memory_equal(v.u.s.p, "2025-04", 7);
    sf_arena_free(&scratch);
    sf_job_free(job);
    expect_grid_error(", \"compute\": {\"x\": \"nope + 1\"}, \"output\": {\"path\": \"out\"}",
                      NULL, "t.json: compute.x: unknown column 'nope' at 1:1");
}

static void test_grid_names_its_dimension_key_date_and_bounds(void **state)
{
    (void)state;
    sf_job *job = load_grid_job(
        ", \"grid\": {\"dimension\": \"users\", \"key\": \"uid\", \"date\": \"day\", \"from\": "
        "\"signup\", \"start\": \"${start}\", \"end\": \"2025-04-30\"}, \"output\": "
        "{\"path\": \"out\"}", NULL);
    assert_true(job->grid.on);
    assert_int_equal(job->grid.key, 0);
    assert_int_equal(job->grid.date, 1);
    assert_int_equal(job->grid.input, 1);
    assert_int_equal(job->grid.from_col, 1);
    assert_false(job->grid.has_start); /* "${start}" is "" */
    assert_true(job->grid.has_end);
    assert_int_equal(job->grid.end, 20208);
    assert_true(job->inputs[1].keep_first_key);
    sf_job_free(job);
    expect_grid_error(", \"grid\": {\"dimension\": \"ev\", \"key\": \"uid\", \"date\": \"day\"}, "
                      "\"output\": {\"path\": \"out\"}", NULL,
                      "t.json: grid.dimension: 'ev' is not a dimension input");
    expect_grid_error(", \"grid\": {\"dimension\": \"users\", \"key\": \"uid\", \"date\": "
                      "\"n\"}, \"output\": {\"path\": \"out\"}", NULL,
                      "t.json: grid: group_by must be exactly the grid's key and date ('uid' "
                      "and 'n')");
    expect_grid_error(", \"grid\": {\"dimension\": \"users\", \"key\": \"uid\", \"date\": "
                      "\"day\", \"from\": \"uid\"}, \"output\": {\"path\": \"out\"}", NULL,
                      "t.json: grid.from: 'uid' is not a date column of dimension 'users'");
    expect_grid_error(", \"grid\": {\"dimension\": \"users\", \"key\": \"uid\", \"date\": "
                      "\"day\", \"end\": \"April\"}, \"output\": {\"path\": \"out\"}", NULL,
                      "t.json: grid.end: must be a date YYYY-MM-DD (or \"\" for the first / "
                      "last date of the groups), got 'April'");
}

/* Each of several outputs has its own grid and computed columns. */
static void test_outputs_have_their_own_grid_and_compute(void **state)
{
    (void)state;
    const char *text =
        "{\"name\": \"g\", \"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": \"ev.jsonl\", "
        "\"columns\": {\"uid\": \"string\", \"day\": \"date\"}}, \"users\": {\"role\": "
        "\"dimension\", \"path\": \"u.csv\", \"format\": \"csv\", \"key\": \"uid\", \"columns\": "
        "{\"uid\": \"string\", \"signup\": \"date\"}}},"
        " \"outputs\": ["
        "{\"name\": \"a\", \"group_by\": [\"uid\", \"day\"], \"aggregates\": {\"n\": \"count()\"},"
        " \"grid\": {\"dimension\": \"users\", \"key\": \"uid\", \"date\": \"day\"},"
        " \"compute\": {\"y\": \"year(day)\"}, \"output\": {\"path\": \"a\"}},"
        "{\"name\": \"b\", \"group_by\": [\"day\"], \"aggregates\": {\"n\": \"count()\"},"
        " \"output\": {\"path\": \"b\"}}]}";
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_job_load(text, strlen(text), "t.json", NULL, &job, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(job->noutputs, 2);
    assert_true(job->outputs[0].grid.on);
    assert_int_equal(job->outputs[0].ncomputes, 1);
    assert_string_equal(job->outputs[0].result_names[3], "y");
    assert_false(job->outputs[1].grid.on);
    assert_int_equal(job->outputs[1].ncomputes, 0);
    assert_int_equal(job->outputs[1].nresult, 2);
    sf_job_free(job);
    const char *top = "{\"name\": \"g\", \"inputs\": {\"ev\": {\"role\": \"fact\", \"path\": "
                      "\"e\", \"columns\": {\"day\": \"date\"}}}, \"compute\": {\"y\": "
                      "\"year(day)\"}, \"outputs\": [{\"name\": \"a\", \"group_by\": [\"day\"], "
                      "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"a\"}}]}";
    expect_text_error(top, NULL, SF_E_SPEC, "t.json: compute: with \"outputs\", each output "
                      "has its own \"compute\"; move it into the outputs");
}

/* A grid without a dimension is a calendar over the one date group key. */
static void test_calendar_grid_needs_the_date_alone(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"path\": \"e\", \"columns\": {\"day\": \"date\", "
               "\"uid\": \"int64\"}}}";
    p.group_by = "[\"day\"]";
    p.output = "{\"path\": \"out\"}, \"grid\": {\"date\": \"day\", \"start\": \"2025-01-01\"}";
    sf_job *job = load_parts(&p, NULL);
    assert_true(job->grid.on);
    assert_int_equal(job->grid.key, -1);
    assert_int_equal(job->grid.input, -1);
    assert_int_equal(job->grid.date, 0);
    assert_true(job->grid.has_start);
    assert_int_equal(job->grid.start, 20089);
    assert_false(job->grid.has_end);
    sf_job_free(job);
    p.group_by = "[\"day\", \"uid\"]";
    expect_error(&p, "t.json: grid: group_by must be exactly the grid's date ('day')");
    p.group_by = "[\"day\"]";
    p.output = "{\"path\": \"out\"}, \"grid\": {\"date\": \"day\", \"key\": \"uid\"}";
    expect_error(&p, "t.json: grid: \"key\" needs a \"dimension\" (without one the grid is "
                 "every date of the range)");
}

static void test_dimension_duplicates_option(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{" FACT_EV ", \"users\": {\"role\": \"dimension\", \"path\": \"u.csv\", "
               "\"key\": \"uid\", \"duplicates\": \"last\", \"columns\": {\"uid\": \"int64\"}}}";
    expect_error(&p, "t.json: inputs.users: duplicates must be \"error\" (the default) or "
                 "\"first\" (the first row of a key in file order wins), got 'last'");
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"path\": \"e\", \"duplicates\": \"first\", "
               "\"columns\": {\"uid\": \"int64\"}}}";
    expect_error(&p, "t.json: inputs.ev: \"duplicates\" is for dimension inputs (a fact input "
                 "has the dedupe step)");
}

static void test_having_errors_name_the_place(void **state)
{
    (void)state;
    parts p = {0};
    p.aggs = "{\"n\": \"count()\"}";
    char *text = with_having(&p, "\"n > 1 && price > 2\"");
    expect_text_error(text, NULL, SF_E_SPEC, "t.json: having: unknown column 'price' at 1:10");
    free(text);
    text = with_having(&p, "\"n + 1\"");
    expect_text_error(text, NULL, SF_E_SPEC, "t.json: having: must be a bool expression, this "
                      "one is int64");
    free(text);
    text = with_having(&p, "3");
    expect_text_error(text, NULL, SF_E_SPEC, "t.json: having: must be an expression string "
                      "over group keys and aggregates, e.g. \"revenue > 100\"");
    free(text);
    /* A window is computed after having: it is not visible there. */
    p.aggs = "{\"n\": \"count()\"}";
    p.windows = "{\"w\": {\"function\": \"sum\", \"column\": \"n\", \"preceding\": 1, "
                "\"order_by\": \"uid\"}}";
    text = with_having(&p, "\"w > 1\"");
    expect_text_error(text, NULL, SF_E_SPEC, "t.json: having: unknown column 'w' at 1:1");
    free(text);
}

static void test_relative_spec_paths_resolve_against_the_spec_dir(void **state)
{
    (void)state;
    const char *text = "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"../data/e.jsonl\", "
                       "\"columns\": {\"a\": \"int64\"}}, \"d\": {\"role\": \"dimension\", "
                       "\"path\": \"/abs/d.jsonl\", \"key\": \"a\", \"columns\": {\"a\": "
                       "\"int64\", \"b\": \"string\"}}}, \"group_by\": [\"a\"], "
                       "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"out/x\"}}";
    sf_job_overrides ov = {.spec_dir = "jobs"};
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(text, strlen(text), "jobs/t.json", &ov, &job, &err), 0);
    assert_string_equal(job->inputs[0].path, "jobs/../data/e.jsonl");
    assert_string_equal(job->inputs[1].path, "/abs/d.jsonl");
    assert_string_equal(job->output.path, "jobs/out/x");
    sf_job_free(job);
    /* --input and --output are used as given (relative to the cwd). */
    const char *names[] = {"e"};
    const char *paths[] = {"here/e.jsonl"};
    sf_job_overrides given = {.input_names = names, .input_paths = paths, .ninputs = 1,
                              .output = "o2", .spec_dir = "/srv/jobs/"};
    assert_int_equal(sf_job_load(text, strlen(text), "/srv/jobs/t.json", &given, &job, &err),
                     0);
    assert_string_equal(job->inputs[0].path, "here/e.jsonl");
    assert_string_equal(job->output.path, "o2");
    sf_job_free(job);
    /* No spec dir (or "."): as written. */
    sf_job_overrides dot = {.spec_dir = "."};
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", &dot, &job, &err), 0);
    assert_string_equal(job->inputs[0].path, "../data/e.jsonl");
    assert_string_equal(job->output.path, "out/x");
    sf_job_free(job);
}

/* ---- several outputs from one scan ---- */

#define MULTI_INPUTS                                                                         \
    "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"e.jsonl\", \"columns\": "          \
    "{\"u\": \"int64\", \"c\": \"string\", \"x\": \"double\"}}}, "                           \
    "\"steps\": [{\"derive\": \"y\", \"expr\": \"x * 2\"}], "

static void test_outputs_each_get_a_view_and_the_job_mirrors_the_first(void **state)
{
    (void)state;
    const char *text = MULTI_INPUTS
        "\"outputs\": [{\"name\": \"by_user\", \"group_by\": [\"u\"], \"aggregates\": "
        "{\"n\": \"count()\"}, \"having\": \"n > 1\", \"output\": {\"path\": \"o/u\", "
        "\"sort_by\": [\"n desc\"], \"limit\": 3}}, {\"name\": \"by_country\", \"group_by\": "
        "[\"c\"], \"aggregates\": {\"s\": \"sum(y)\", \"m\": \"max(x)\"}, \"windows\": {\"w\": "
        "{\"function\": \"sum\", \"column\": \"s\", \"preceding\": 1, \"order_by\": \"c\"}}, "
        "\"output\": {\"path\": \"o/c\", \"partition_by\": [\"c\"]}}]}";
    sf_job_overrides ov = {.spec_dir = "specs"};
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_job_load(text, strlen(text), "specs/t.json", &ov, &job, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(job->noutputs, 2);
    const sf_job *a = &job->outputs[0], *b = &job->outputs[1];
    assert_string_equal(a->output_name, "by_user");
    assert_string_equal(b->output_name, "by_country");
    assert_null(job->output_name);
    /* Shared: inputs, slots, steps. */
    assert_ptr_equal(a->steps, job->steps);
    assert_ptr_equal(b->slot_names, job->slot_names);
    assert_int_equal(b->nslots, 4);
    /* Own: groups, aggregates, results, windows, output, having. */
    assert_int_equal(a->ngroup, 1);
    assert_int_equal(a->group_slots[0], 0);
    assert_int_equal(b->group_slots[0], 1);
    assert_int_equal(a->naggs, 1);
    assert_int_equal(b->naggs, 2);
    assert_int_equal(a->nresult, 2);
    assert_int_equal(b->nresult, 4);
    assert_string_equal(b->result_names[3], "w");
    assert_int_equal(b->nwindows, 1);
    assert_int_equal(a->nwindows, 0);
    assert_non_null(a->having);
    assert_null(b->having);
    assert_string_equal(a->output.path, "specs/o/u");
    assert_string_equal(b->output.path, "specs/o/c");
    assert_int_equal(a->output.limit, 3);
    assert_int_equal(b->output.limit, -1);
    assert_int_equal(b->output.npartition, 1);
    /* The job's own fields are the first output's. */
    assert_ptr_equal(job->aggs, a->aggs);
    assert_ptr_equal(job->having, a->having);
    assert_string_equal(job->output.path, "specs/o/u");
    assert_int_equal(job->nresult, 2);
    sf_job_free(job);
}

static void test_single_output_form_is_one_view(void **state)
{
    (void)state;
    parts p = {0};
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->noutputs, 1);
    assert_null(job->outputs[0].output_name);
    assert_ptr_equal(job->outputs[0].aggs, job->aggs);
    assert_string_equal(job->outputs[0].output.path, "out");
    sf_job_free(job);
}

static void test_output_override_names_a_directory_per_output(void **state)
{
    (void)state;
    const char *text = MULTI_INPUTS
        "\"outputs\": [{\"name\": \"a\", \"group_by\": [\"u\"], \"aggregates\": {\"n\": "
        "\"count()\"}, \"output\": {}}, {\"name\": \"b\", \"group_by\": [], \"aggregates\": "
        "{\"n\": \"count()\"}, \"output\": {\"path\": \"x\"}}]}";
    sf_job_overrides ov = {.output = "/scratch/out/"};
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(text, strlen(text), "t.json", &ov, &job, &err), 0);
    assert_string_equal(job->outputs[0].output.path, "/scratch/out/a");
    assert_string_equal(job->outputs[1].output.path, "/scratch/out/b");
    sf_job_free(job);
    /* Without --output, an output without a path is an error naming it. */
    expect_text_error(text, NULL, SF_E_SPEC, "t.json: outputs[0].output: no path: give "
                      "\"path\" in the spec or --output DIR");
}

static void test_outputs_errors_name_the_output(void **state)
{
    (void)state;
    const char *bad_agg = MULTI_INPUTS
        "\"outputs\": [{\"name\": \"a\", \"group_by\": [\"u\"], \"aggregates\": {\"n\": "
        "\"count()\"}, \"output\": {\"path\": \"a\"}}, {\"name\": \"b\", \"group_by\": "
        "[\"u\"], \"aggregates\": {\"n\": \"sum(nope)\"}, \"output\": {\"path\": \"b\"}}]}";
    expect_text_error(bad_agg, NULL, SF_E_SPEC,
                      "t.json: outputs[1].aggregates.n: unknown column 'nope' at 1:5");
    const char *bad_having = MULTI_INPUTS
        "\"outputs\": [{\"name\": \"a\", \"group_by\": [\"u\"], \"aggregates\": {\"n\": "
        "\"count()\"}, \"having\": \"n > \", \"output\": {\"path\": \"a\"}}]}";
    sf_job *job = (sf_job *)1;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_job_load(bad_having, strlen(bad_having), "t.json", NULL, &job, &err),
                     SF_E_SPEC);
    assert_null(job);
    assert_non_null(strstr(err.msg, "t.json: outputs[0].having: "));
    const char *twice = MULTI_INPUTS
        "\"outputs\": [{\"name\": \"a\", \"group_by\": [\"u\"], \"aggregates\": {\"n\": "
        "\"count()\"}, \"output\": {\"path\": \"a\"}}, {\"name\": \"a\", \"group_by\": "
        "[\"u\"], \"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"b\"}}]}";
    expect_text_error(twice, NULL, SF_E_SPEC, "t.json: outputs[1]: two outputs are named 'a'");
    const char *nested = MULTI_INPUTS
        "\"outputs\": [{\"name\": \"a\", \"group_by\": [\"u\"], \"aggregates\": {\"n\": "
        "\"count()\"}, \"output\": {\"path\": \"o\"}}, {\"name\": \"b\", \"group_by\": "
        "[\"u\"], \"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o/b\"}}]}";
    expect_text_error(nested, NULL, SF_E_SPEC, "t.json: outputs[1]: output.path 'o/b' is the "
                      "directory of output 'a' or inside it (or around it); give each output "
                      "its own");
    const char *mixed = MULTI_INPUTS
        "\"group_by\": [\"u\"], \"outputs\": [{\"name\": \"a\", \"group_by\": [\"u\"], "
        "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o\"}}]}";
    expect_text_error(mixed, NULL, SF_E_SPEC, "t.json: group_by: with \"outputs\", each output "
                      "has its own \"group_by\"; move it into the outputs");
    const char *empty = MULTI_INPUTS "\"outputs\": []}";
    expect_text_error(empty, NULL, SF_E_SPEC, "t.json: outputs: must be an array of 1 to 64 "
                      "outputs, each {\"name\", \"group_by\", \"aggregates\", \"output\", ...}");
}

static void test_decimal_columns_and_join_keys(void **state)
{
    (void)state;
    parts p = {0};
    p.inputs = "{\"ev\": {\"role\": \"fact\", \"path\": \"e\", \"columns\": {\"uid\": "
               "\"int64\", \"amt\": \"decimal(10,2)\"}}, \"prices\": {\"role\": \"dimension\", "
               "\"path\": \"p.csv\", \"format\": \"csv\", \"key\": \"amt\", \"columns\": "
               "{\"amt\": \"decimal(12,3)\", \"label\": \"string\"}}}";
    p.steps = "[{\"join\": \"prices\", \"on\": \"amt\"}]";
    expect_error(&p, "t.json: steps[0]: on: 'amt' is decimal(10,2) but the key of 'prices' is "
                     "decimal(12,3) (a decimal key needs the same scale)");
    p.steps = NULL;
    p.aggs = "{\"total\": \"sum(amt)\", \"avg\": \"mean(amt)\"}";
    p.windows = "{\"roll\": {\"function\": \"mean\", \"column\": \"total\", "
                "\"preceding\": 1, \"order_by\": \"uid\"}}";
    sf_job *job = load_parts(&p, NULL);
    assert_int_equal(job->aggs[0].type, SF_DECIMAL);
    assert_int_equal(sf_job_result_dec(job, 1).prec, 38); /* sum: decimal(38,2) */
    assert_int_equal(sf_job_result_dec(job, 1).scale, 2);
    assert_int_equal(sf_job_result_dec(job, 2).scale, 6); /* mean: decimal(38,6) */
    assert_int_equal(sf_job_result_dec(job, 3).scale, 2); /* mean of a decimal(38,2) */
    assert_int_equal(sf_job_result_dec(job, 0).prec, 0);  /* uid */
    sf_job_free(job);
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


/* ---- row outputs, dimension outputs, stages, replace, unknown ---- */

#define STAR_INPUTS                                                                          \
    "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"e.jsonl\", \"columns\": "          \
    "{\"u\": \"string\", \"d\": \"date\", \"x\": \"int64\"}}, "                              \
    "\"users\": {\"role\": \"dimension\", \"path\": \"u.csv\", \"format\": \"csv\", "         \
    "\"key\": \"u\", \"unknown\": \"unknown\", \"columns\": {\"u\": \"string\", "             \
    "\"tier\": \"string\"}}}, "

static sf_job *load_ok(const char *text)
{
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_job_load(text, strlen(text), "t.json", NULL, &job, &err) != 0)
        fail_msg("%s", err.msg);
    return job;
}

static void test_row_output_has_the_row_slots_as_result_columns(void **state)
{
    (void)state;
    sf_job *job = load_ok(STAR_INPUTS
        "\"steps\": [{\"derive\": \"y\", \"expr\": \"x * 2\"}], "
        "\"outputs\": [{\"name\": \"fact\", \"compute\": {\"z\": \"y + 1\"}, \"output\": "
        "{\"path\": \"o/f\", \"partition_by\": [\"d\"], \"sort_by\": [\"x desc\"]}}]}");
    const sf_job *f = &job->outputs[0];
    assert_int_equal(f->kind, SF_OUT_ROWS);
    assert_int_equal(f->ngroup, 0);
    assert_int_equal(f->naggs, 0);
    assert_int_equal(f->nresult, 5); /* u, d, x, y, then z */
    const char *names[] = {"u", "d", "x", "y", "z"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(f->result_names[i], names[i]);
    assert_int_equal(f->result_types[1], SF_DATE);
    assert_int_equal(f->output.npartition, 1);
    assert_int_equal(f->output.ncolumns, 4); /* all but the partition column */
    assert_int_equal(f->output.nsort, 1);
    assert_int_equal(f->output.sort_desc[0], 1);
    sf_job_free(job);
}

static void test_dimension_output_and_unknown_join(void **state)
{
    (void)state;
    sf_job *job = load_ok(STAR_INPUTS
        "\"steps\": [{\"join\": \"users\", \"on\": \"u\", \"select\": [], \"type\": "
        "\"unknown\"}], \"outputs\": [{\"name\": \"dim\", \"dimension\": \"users\", "
        "\"output\": {\"path\": \"o/d\"}}, {\"name\": \"n\", \"group_by\": [\"u\"], "
        "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o/n\"}}]}");
    const sf_job_input *users = &job->inputs[1];
    assert_int_equal(users->has_unknown, 1);
    assert_int_equal(users->unknown.type, SF_STRING);
    assert_int_equal(users->unknown.u.s.n, 7);
    assert_memory_equal(users->unknown.u.s.p, "unknown", 7);
    assert_int_equal(job->steps[0].to_unknown, 1);
    assert_int_equal(job->steps[0].inner, 0);
    assert_int_equal(job->steps[0].nselect, 0);
    const sf_job *d = &job->outputs[0];
    assert_int_equal(d->kind, SF_OUT_DIMENSION);
    assert_int_equal(d->kind_input, 1);
    assert_int_equal(d->nresult, 2);
    assert_string_equal(d->result_names[1], "tier");
    assert_int_equal(job->outputs[1].kind, SF_OUT_GROUPS);
    sf_job_free(job);
}

static void test_stage_reads_an_earlier_outputs_columns(void **state)
{
    (void)state;
    sf_job *job = load_ok(STAR_INPUTS
        "\"outputs\": [{\"name\": \"days\", \"group_by\": [\"u\", \"d\"], \"aggregates\": "
        "{\"n\": \"count()\"}, \"windows\": {\"first\": {\"function\": \"min\", \"column\": "
        "\"d\", \"range\": \"100000 days\", \"partition_by\": [\"u\"], \"order_by\": \"d\"}}, "
        "\"output\": {\"path\": \"o/a\"}}, {\"name\": \"cohorts\", \"from\": \"days\", "
        "\"group_by\": [\"first\", \"d\"], \"aggregates\": {\"users\": \"count()\", "
        "\"events\": \"sum(n)\"}, \"output\": {\"path\": \"o/b\"}}]}");
    const sf_job *a = &job->outputs[0], *b = &job->outputs[1];
    assert_int_equal(a->read_by_stage, 1);
    assert_int_equal(b->kind, SF_OUT_STAGE);
    assert_int_equal(b->kind_from, 0);
    /* The stage's slots are the first output's result columns. */
    assert_int_equal(b->nslots, 4);
    assert_int_equal(b->group_slots[0], 3); /* first */
    assert_int_equal(b->group_slots[1], 1); /* d */
    assert_int_equal(b->result_types[0], SF_DATE);
    assert_int_equal(b->aggs[1].type, SF_INT);
    /* The job's own slots are the fact row's again. */
    assert_int_equal(job->nslots, 3);
    assert_string_equal(job->slot_names[0], "u");
    sf_job_free(job);
}

static void test_replace_keeps_the_slot(void **state)
{
    (void)state;
    sf_job *job = load_ok(STAR_INPUTS
        "\"steps\": [{\"replace\": \"u\", \"expr\": \"lower(u)\"}], "
        "\"group_by\": [\"u\"], \"aggregates\": {\"n\": \"count()\"}, \"output\": "
        "{\"path\": \"o\"}}");
    assert_int_equal(job->nslots, 3);
    assert_int_equal(job->steps[0].kind, SF_STEP_DERIVE);
    assert_int_equal(job->steps[0].slot, 0);
    sf_job_free(job);
}

static void test_kind_errors_name_the_place(void **state)
{
    (void)state;
    expect_text_error(STAR_INPUTS "\"steps\": [{\"replace\": \"x\", \"expr\": \"u\"}], "
                      "\"group_by\": [], \"aggregates\": {\"n\": \"count()\"}, \"output\": "
                      "{\"path\": \"o\"}}", NULL, SF_E_SPEC,
                      "t.json: steps[0].expr: 'x' is int64; its new value must be too, this "
                      "one is string (cast it, or derive a new column)");
    expect_text_error(STAR_INPUTS "\"steps\": [{\"replace\": \"nope\", \"expr\": \"u\"}], "
                      "\"group_by\": [], \"aggregates\": {\"n\": \"count()\"}, \"output\": "
                      "{\"path\": \"o\"}}", NULL, SF_E_SPEC,
                      "t.json: steps[0]: replace: unknown column 'nope' (derive makes a new one)");
    expect_text_error(STAR_INPUTS "\"outputs\": [{\"name\": \"r\", \"windows\": {}, "
                      "\"output\": {\"path\": \"o\"}}]}", NULL, SF_E_SPEC,
                      "t.json: outputs[0].windows: is not for a row output (no group_by: each "
                      "row is written)");
    expect_text_error(STAR_INPUTS "\"outputs\": [{\"name\": \"r\", \"dimension\": \"users\", "
                      "\"group_by\": [], \"output\": {\"path\": \"o\"}}]}", NULL, SF_E_SPEC,
                      "t.json: outputs[0].group_by: is not for a dimension output (its rows are "
                      "the dimension's)");
    expect_text_error(STAR_INPUTS "\"outputs\": [{\"name\": \"r\", \"dimension\": \"e\", "
                      "\"output\": {\"path\": \"o\"}}]}", NULL, SF_E_SPEC,
                      "t.json: outputs[0].dimension: 'e' is not a dimension input");
    expect_text_error(STAR_INPUTS "\"outputs\": [{\"name\": \"s\", \"from\": \"later\", "
                      "\"group_by\": [], \"aggregates\": {\"n\": \"count()\"}, \"output\": "
                      "{\"path\": \"o/s\"}}, {\"name\": \"later\", \"group_by\": [\"u\"], "
                      "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o/l\"}}]}",
                      NULL, SF_E_SPEC, "t.json: outputs[0].from: no earlier output is named "
                      "'later' (a stage reads an output listed before it)");
    expect_text_error(STAR_INPUTS "\"outputs\": [{\"name\": \"a\", \"group_by\": [\"u\"], "
                      "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o/a\", "
                      "\"limit\": 5}}, {\"name\": \"s\", \"from\": \"a\", \"group_by\": [], "
                      "\"aggregates\": {\"n\": \"sum(x)\"}, \"output\": {\"path\": \"o/s\"}}]}",
                      NULL, SF_E_SPEC, "t.json: outputs[1].from: output 'a' has a limit; a "
                      "stage reads every result row of the output it names (drop the limit, or "
                      "read another output)");
    expect_text_error(STAR_INPUTS "\"outputs\": [{\"name\": \"a\", \"group_by\": [\"u\"], "
                      "\"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o/a\"}}, "
                      "{\"name\": \"s\", \"from\": \"a\", \"group_by\": [], \"aggregates\": "
                      "{\"m\": \"sum(x)\"}, \"output\": {\"path\": \"o/s\"}}]}", NULL, SF_E_SPEC,
                      "t.json: outputs[1].aggregates.m: unknown column 'x' at 1:5");
    const char *no_unknown =
        "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"e.jsonl\", \"columns\": "
        "{\"u\": \"string\"}}, \"users\": {\"role\": \"dimension\", \"path\": \"u.csv\", "
        "\"key\": \"u\", \"columns\": {\"u\": \"string\", \"t\": \"string\"}}}, "
        "\"steps\": [{\"join\": \"users\", \"on\": \"u\", \"type\": \"unknown\"}], "
        "\"group_by\": [], \"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o\"}}";
    expect_text_error(no_unknown, NULL, SF_E_SPEC, "t.json: steps[0]: type \"unknown\" needs an "
                      "unknown member: give dimension 'users' an \"unknown\" key (e.g. "
                      "\"unknown\": \"unknown\")");
    const char *int_key =
        "{\"inputs\": {\"e\": {\"role\": \"fact\", \"path\": \"e.jsonl\", \"columns\": "
        "{\"u\": \"int64\"}}, \"users\": {\"role\": \"dimension\", \"path\": \"u.csv\", "
        "\"key\": \"u\", \"unknown\": \"x1\", \"columns\": {\"u\": \"int64\"}}}, "
        "\"group_by\": [], \"aggregates\": {\"n\": \"count()\"}, \"output\": {\"path\": \"o\"}}";
    expect_text_error(int_key, NULL, SF_E_SPEC, "t.json: inputs.users.unknown: 'x1' is not a "
                      "value of the key's type int64");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_by_entries_take_desc_and_asc),
        cmocka_unit_test(test_outputs_each_get_a_view_and_the_job_mirrors_the_first),
        cmocka_unit_test(test_single_output_form_is_one_view),
        cmocka_unit_test(test_output_override_names_a_directory_per_output),
        cmocka_unit_test(test_outputs_errors_name_the_output),
        cmocka_unit_test(test_row_output_has_the_row_slots_as_result_columns),
        cmocka_unit_test(test_dimension_output_and_unknown_join),
        cmocka_unit_test(test_stage_reads_an_earlier_outputs_columns),
        cmocka_unit_test(test_replace_keeps_the_slot),
        cmocka_unit_test(test_kind_errors_name_the_place),
        cmocka_unit_test(test_default_sort_is_ascending_without_limit),
        cmocka_unit_test(test_sort_by_with_an_unknown_direction_says_how),
        cmocka_unit_test(test_limit_must_be_a_count),
        cmocka_unit_test(test_top_level_limit_says_where_it_belongs),
        cmocka_unit_test(test_having_reads_group_keys_and_aggregates),
        cmocka_unit_test(test_having_errors_name_the_place),
        cmocka_unit_test(test_relative_spec_paths_resolve_against_the_spec_dir),
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
        cmocka_unit_test(test_window_with_a_range_in_days),
        cmocka_unit_test(test_window_with_range_and_preceding),
        cmocka_unit_test(test_window_range_text_and_order_type),
        cmocka_unit_test(test_window_range_over_a_timestamp),
        cmocka_unit_test(test_dedupe_step_is_compiled),
        cmocka_unit_test(test_dedupe_step_errors),
        cmocka_unit_test(test_csv_fact_input),
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
        cmocka_unit_test(test_decimal_columns_and_join_keys),
        cmocka_unit_test(test_params_replace_their_references_and_take_param_overrides),
        cmocka_unit_test(test_unknown_param_reference_names_the_field),
        cmocka_unit_test(test_compute_columns_follow_the_windows),
        cmocka_unit_test(test_grid_names_its_dimension_key_date_and_bounds),
        cmocka_unit_test(test_dimension_duplicates_option),
        cmocka_unit_test(test_calendar_grid_needs_the_date_alone),
        cmocka_unit_test(test_outputs_have_their_own_grid_and_compute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
