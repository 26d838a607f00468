/* fuzz_spec.c - fuzz target: the job spec loader (core/spec.h).
 *
 * Every input is used twice:
 * 1. raw: the whole input is loaded as a job spec text;
 * 2. structured: the input, split at '\n', fills the holes of a template
 *    spec (a daily KPI job with a CSV dimension, a join, derives, a filter,
 *    a window and a partitioned output; see holes[] below) and of the
 *    overrides, so mutations reach validation deep inside a well-formed
 *    spec instead of dying in the JSON parser. Line i replaces hole i: as a
 *    JSON string, or as raw JSON when it starts with \x02 (numbers, arrays,
 *    objects where a string belongs); "\x01" keeps the template value and
 *    "\x7f" deletes the member. Missing lines keep the template, so an
 *    empty input loads the template itself, which must succeed.
 * Aborts when a failure has no negative code, no message, or a message that
 * does not name the spec (or the --input override), or when a loaded job is
 * inconsistent: slots, result columns, steps, aggregates, windows and
 * output must reference only what exists at their place, with matching
 * types, and every expression may only read columns visible at its step.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/expr.h"
#include "core/spec.h"
#include "core/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SOURCE "fuzz.json"

static const char template_text[] =
    "{\"name\": \"fuzz\","
    " \"inputs\": {"
    "  \"events\": {\"role\": \"fact\", \"format\": \"jsonl\", \"path\": \"e.jsonl\","
    "   \"columns\": {\"user_id\": \"int64\", \"item_id\": \"int64\", \"event_type\": \"string\","
    "                 \"ts\": \"int64\", \"props.price\": \"double\", \"extra\": \"string\"}},"
    "  \"items\": {\"role\": \"dimension\", \"format\": \"csv\", \"path\": \"i.csv\","
    "   \"key\": \"item_id\","
    "   \"columns\": {\"item_id\": \"int64\", \"category\": \"string\", \"price\": \"double\"}}},"
    " \"steps\": ["
    "  {\"derive\": \"revenue\","
    "   \"expr\": \"if(event_type == 'purchase' && !is_null(props.price), props.price, 0.0)\"},"
    "  {\"filter\": \"revenue >= 0\"},"
    "  {\"join\": \"items\", \"on\": \"item_id\", \"select\": [\"category\"], \"type\": \"left\"},"
    "  {\"derive\": \"date\", \"expr\": \"to_date(ts)\"},"
    "  {\"derive\": \"spare\", \"expr\": \"user_id + 1\"}],"
    " \"group_by\": [\"date\", \"category\"],"
    " \"aggregates\": {\"revenue_total\": \"sum(revenue)\", \"n\": \"count()\","
    "                  \"users\": \"count_distinct(user_id)\"},"
    " \"windows\": {\"revenue_7d\": {\"function\": \"sum\", \"column\": \"revenue_total\","
    "   \"preceding\": 6, \"partition_by\": [\"category\"], \"order_by\": \"date\"}},"
    " \"output\": {\"path\": \"out\", \"format\": \"csv\", \"layout\": \"hive\","
    "   \"compression\": \"gzip:4\", \"partition_by\": [\"date\"],"
    "   \"columns\": [\"category\", \"revenue_7d\"], \"sort_by\": [\"category\"]}}";

enum hole_kind { H_VALUE, H_KEY, H_OV_INPUT, H_OV_OUTPUT, H_OV_FORMAT, H_OV_LAYOUT, H_OV_COMP };

typedef struct hole {
    const char *path; /* '/'-separated keys and array indexes */
    int kind;
} hole;

/* Value holes first, then key renames (applied after all values, so a value
 * path never goes through a renamed key), then the overrides. */
static const hole holes[] = {
    {"name", H_VALUE},
    {"inputs/events/role", H_VALUE},
    {"inputs/events/columns/extra", H_VALUE},
    {"inputs/events/columns/props.price", H_VALUE},
    {"inputs/items/format", H_VALUE},
    {"inputs/items/key", H_VALUE},
    {"inputs/items/columns/category", H_VALUE},
    {"inputs/items/role", H_VALUE},
    {"steps/0/derive", H_VALUE},
    {"steps/0/expr", H_VALUE},
    {"steps/1/filter", H_VALUE},
    {"steps/2/join", H_VALUE},
    {"steps/2/on", H_VALUE},
    {"steps/2/select/0", H_VALUE},
    {"steps/2/type", H_VALUE},
    {"steps/3/expr", H_VALUE},
    {"group_by/0", H_VALUE},
    {"group_by/1", H_VALUE},
    {"aggregates/revenue_total", H_VALUE},
    {"aggregates/n", H_VALUE},
    {"aggregates/users", H_VALUE},
    {"windows/revenue_7d/function", H_VALUE},
    {"windows/revenue_7d/column", H_VALUE},
    {"windows/revenue_7d/preceding", H_VALUE},
    {"windows/revenue_7d/partition_by/0", H_VALUE},
    {"windows/revenue_7d/order_by", H_VALUE},
    {"output/format", H_VALUE},
    {"output/layout", H_VALUE},
    {"output/compression", H_VALUE},
    {"output/partition_by/0", H_VALUE},
    {"output/columns/0", H_VALUE},
    {"output/columns/1", H_VALUE},
    {"output/sort_by/0", H_VALUE},
    {"steps/4/derive", H_VALUE}, /* a step nothing depends on */
    {"steps/4/expr", H_VALUE},
    {"inputs/events/columns/extra", H_KEY},
    {"inputs/items", H_KEY},
    {"aggregates/revenue_total", H_KEY},
    {"windows/revenue_7d", H_KEY},
    {"", H_OV_INPUT},
    {"", H_OV_OUTPUT},
    {"", H_OV_FORMAT},
    {"", H_OV_LAYOUT},
    {"", H_OV_COMP},
};
#define NHOLES (sizeof holes / sizeof holes[0])

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_spec: %s\n  %.600s\n", what, detail ? detail : "");
    abort();
}

/* ------------------------------------------------- consistency checks */

typedef struct slot_check {
    size_t visible; /* slots a step may read */
    int bad;
} slot_check;

static void note_slot(void *ctx, int slot)
{
    slot_check *c = ctx;
    if (slot < 0 || (size_t)slot >= c->visible)
        c->bad = 1;
}

static void check_reads(const sf_expr *e, size_t visible, const char *what)
{
    slot_check c = {visible, 0};
    sf_expr_visit_columns(e, note_slot, &c);
    if (c.bad)
        die("an expression reads a slot not visible at its place", what);
}

static int valid_type(int t) { return t >= SF_NULL && t <= SF_DATE; }

static void check_list(const int *a, size_t n, size_t limit, const char *what)
{
    if (n > 0 && !a)
        die("a non-empty index list is NULL", what);
    for (size_t i = 0; i < n; i++) {
        if (a[i] < 0 || (size_t)a[i] >= limit)
            die("an index is out of range", what);
        for (size_t j = 0; j < i; j++) {
            if (a[j] == a[i])
                die("an index is listed twice", what);
        }
    }
}

static void check_job(const sf_job *job)
{
    if (!job->name || !job->source || strcmp(job->source, SOURCE) != 0)
        die("job without name or source", NULL);
    if (job->ninputs == 0 || job->ninputs > SF_MAX_INPUTS || job->fact < 0 ||
        (size_t)job->fact >= job->ninputs)
        die("inputs or fact index out of range", NULL);
    size_t nfact = 0;
    for (size_t i = 0; i < job->ninputs; i++) {
        const sf_job_input *in = &job->inputs[i];
        nfact += in->is_fact != 0;
        if (!in->name || !in->path || in->ncolumns == 0 || !in->columns)
            die("input without name, path or columns", in->name);
        if (sf_job_input_index(job, in->name) != (int)i)
            die("two inputs with one name", in->name);
        if (in->is_fact != (job->fact == (int)i))
            die("is_fact disagrees with the fact index", in->name);
        if (in->is_fact ? in->key_col != -1
                        : in->key_col < 0 || (size_t)in->key_col >= in->ncolumns ||
                              in->columns[in->key_col].type == SF_DOUBLE)
            die("bad key column", in->name);
        for (size_t c = 0; c < in->ncolumns; c++) {
            const sf_job_column *col = &in->columns[c];
            if (!col->name || !valid_type(col->type) || col->type == SF_NULL)
                die("input column without name or with a bad type", in->name);
            if (!in->is_fact && col->slot != (int)c)
                die("dimension column slot is not its index", col->name);
            if (!in->is_fact && strchr(col->name, '.'))
                die("dimension column is a path", col->name);
        }
    }
    if (nfact != 1)
        die("not exactly one fact input", NULL);

    const sf_job_input *fact = &job->inputs[job->fact];
    if (job->nslots < fact->ncolumns)
        die("fewer slots than fact columns", NULL);
    for (size_t s = 0; s < job->nslots; s++) {
        if (!job->slot_names[s] || !valid_type(job->slot_types[s]) ||
            job->slot_types[s] == SF_NULL)
            die("slot without name or with a bad type", job->slot_names[s]);
        for (size_t t = 0; t < s; t++) {
            if (strcmp(job->slot_names[s], job->slot_names[t]) == 0)
                die("two slots with one name", job->slot_names[s]);
        }
    }
    for (size_t c = 0; c < fact->ncolumns; c++) {
        if (fact->columns[c].slot != (int)c ||
            strcmp(job->slot_names[c], fact->columns[c].name) != 0 ||
            job->slot_types[c] != fact->columns[c].type)
            die("fact column does not own its slot", fact->columns[c].name);
    }

    /* Steps add slots in order; each sees only the slots before it. */
    size_t visible = fact->ncolumns;
    for (size_t i = 0; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        if (!st->field)
            die("step without its field name", NULL);
        switch (st->kind) {
        case SF_STEP_DERIVE:
            if (!st->expr || st->slot != (int)visible)
                die("derive does not fill the next slot", st->field);
            check_reads(st->expr, visible, st->field);
            if (sf_expr_agg_kind(st->expr) != SF_AGG_NONE ||
                job->slot_types[st->slot] != sf_expr_type(st->expr))
                die("derive type differs from its expression's", st->field);
            visible++;
            break;
        case SF_STEP_FILTER:
            if (!st->expr)
                die("filter without expression", st->field);
            check_reads(st->expr, visible, st->field);
            if (sf_expr_type(st->expr) != SF_BOOL && sf_expr_type(st->expr) != SF_NULL)
                die("filter is not bool", st->field);
            break;
        case SF_STEP_JOIN: {
            if (st->input < 0 || (size_t)st->input >= job->ninputs ||
                job->inputs[st->input].is_fact)
                die("join of a non-dimension", st->field);
            const sf_job_input *dim = &job->inputs[st->input];
            if (st->on_slot < 0 || (size_t)st->on_slot >= visible ||
                job->slot_types[st->on_slot] != dim->columns[dim->key_col].type)
                die("join key slot invisible or of the wrong type", st->field);
            if (st->nselect > 0 && (!st->select_cols || !st->select_slots))
                die("join select arrays missing", st->field);
            for (size_t k = 0; k < st->nselect; k++) {
                int c = st->select_cols[k];
                if (c < 0 || (size_t)c >= dim->ncolumns || st->select_slots[k] != (int)visible ||
                    job->slot_types[visible] != dim->columns[c].type ||
                    strcmp(job->slot_names[visible], dim->columns[c].name) != 0)
                    die("join select does not fill the next slot", st->field);
                visible++;
            }
            break;
        }
        default:
            die("unknown step kind", st->field);
        }
    }
    if (visible != job->nslots)
        die("slot count differs from what the steps add", NULL);

    check_list(job->group_slots, job->ngroup, job->nslots, "group_by");
    if (job->naggs == 0 || job->nresult != job->ngroup + job->naggs + job->nwindows)
        die("result column count", NULL);
    for (size_t i = 0; i < job->nresult; i++) {
        if (!job->result_names[i] || !valid_type(job->result_types[i]))
            die("result column without name or type", NULL);
        /* The HDF5 reader cannot read back a column typed null. */
        if (job->result_types[i] == SF_NULL)
            die("result column of type null", job->result_names[i]);
        if (sf_job_result_index(job, job->result_names[i]) != (int)i)
            die("two result columns with one name", job->result_names[i]);
    }
    for (size_t i = 0; i < job->ngroup; i++) {
        int s = job->group_slots[i];
        if (strcmp(job->result_names[i], job->slot_names[s]) != 0 ||
            job->result_types[i] != job->slot_types[s])
            die("group key result differs from its slot", job->result_names[i]);
    }
    for (size_t i = 0; i < job->naggs; i++) {
        const sf_job_agg *a = &job->aggs[i];
        size_t r = job->ngroup + i;
        if (!a->expr || a->kind == SF_AGG_NONE || a->kind != sf_expr_agg_kind(a->expr) ||
            a->arg != sf_expr_agg_arg(a->expr) || a->type != sf_expr_type(a->expr) ||
            (a->kind == SF_AGG_COUNT) != (a->arg == NULL))
            die("aggregate disagrees with its expression", a->name);
        if (strcmp(job->result_names[r], a->name) != 0 || job->result_types[r] != a->type)
            die("aggregate result column differs", a->name);
        check_reads(a->expr, job->nslots, a->name);
    }
    size_t nbase = job->ngroup + job->naggs;
    for (size_t i = 0; i < job->nwindows; i++) {
        const sf_job_window *w = &job->windows[i];
        size_t r = nbase + i;
        if (strcmp(job->result_names[r], w->name) != 0 || job->result_types[r] != w->type)
            die("window result column differs", w->name);
        if (w->column < 0 || (size_t)w->column >= nbase || w->order_by < 0 ||
            (size_t)w->order_by >= nbase)
            die("window reads a window or nothing", w->name);
        check_list(w->partition_by, w->npartition, nbase, w->name);
        sf_type ct = job->result_types[w->column];
        int numeric = ct == SF_INT || ct == SF_DOUBLE;
        if (w->preceding < 0 || w->preceding > 1000000 ||
            ((w->func == SF_AGG_SUM || w->func == SF_AGG_MEAN) && !numeric) ||
            ((w->func == SF_AGG_MIN || w->func == SF_AGG_MAX) && ct == SF_BOOL) ||
            w->type != (w->func == SF_AGG_MEAN ? SF_DOUBLE : ct))
            die("window function, frame or type", w->name);
    }

    const sf_job_output *o = &job->output;
    if (!o->path || !o->path[0] || !o->format || !o->layout || !o->compression)
        die("output without path, format, layout or compression", NULL);
    if (strcmp(o->format, "csv") != 0 && strcmp(o->format, "hdf5") != 0)
        die("output format", o->format);
    if (strcmp(o->layout, "hive") != 0 &&
        !(strcmp(o->layout, "single") == 0 && strcmp(o->format, "hdf5") == 0))
        die("output layout", o->layout);
    check_list(o->partition_by, o->npartition, job->nresult, "output.partition_by");
    check_list(o->columns, o->ncolumns, job->nresult, "output.columns");
    check_list(o->sort_by, o->nsort, job->nresult, "output.sort_by");
    if (o->npartition > 16)
        die("more than 16 partition columns", NULL);
    if (o->limit < -1)
        die("limit below -1", NULL);
    for (size_t i = 0; i < o->nsort; i++) {
        if (!o->sort_desc || o->sort_desc[i] > 1)
            die("sort direction not 0 or 1", NULL);
    }
    if (job->having && sf_expr_type(job->having) != SF_BOOL && sf_expr_type(job->having) != SF_NULL)
        die("having is not bool", NULL);
}

static void check_failure(int rc, const sf_job *job, const sf_error *err)
{
    if (rc >= 0 || job)
        die("failure without a negative code, or with a job", err->msg);
    if (err->code != rc || err->msg[0] == '\0')
        die("failure with a different code or no message", err->msg);
    if (strncmp(err->msg, SOURCE, strlen(SOURCE)) != 0 && strncmp(err->msg, "--input ", 8) != 0)
        die("message does not start with the spec name", err->msg);
}

static void load_and_check(const char *text, size_t len, const sf_job_overrides *ov)
{
    static sf_job sentinel; /* sf_job_load must overwrite it */
    sf_job *job = &sentinel;
    sf_error err;
    int rc = sf_job_load(text, len, SOURCE, ov, &job, &err);
    if (rc == 0) {
        if (!job)
            die("success without a job", text);
        check_job(job);
        if (job->noutputs < 1 || job->noutputs > 64 || job->outputs[0].aggs != job->aggs)
            die("outputs: none, too many, or the job does not mirror the first", NULL);
        for (size_t k = 0; k < job->noutputs; k++)
            check_job(&job->outputs[k]);
        sf_job_free(job);
    } else {
        check_failure(rc, job, &err);
    }
}

/* ------------------------------------------------ structured mode */

/* The container holding the last component of path, and that component. */
static json_t *walk(json_t *root, const char *path, char *last, size_t last_size)
{
    json_t *cur = root;
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n >= last_size)
            return NULL;
        memcpy(last, p, n);
        last[n] = '\0';
        if (!slash)
            return cur;
        if (json_is_object(cur))
            cur = json_object_get(cur, last);
        else if (json_is_array(cur))
            cur = json_array_get(cur, strtoul(last, NULL, 10));
        else
            return NULL;
        if (!cur)
            return NULL;
        p = slash + 1;
    }
}

/* The hole's text as JSON: raw JSON after a \x02, else a string. NULL when
 * it is neither (invalid JSON, invalid UTF-8): the template stays. */
static json_t *hole_value(const char *p, size_t n)
{
    if (n > 0 && p[0] == '\x02')
        return json_loadb(p + 1, n - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return json_stringn(p, n);
}

static void apply_value(json_t *root, const char *path, const char *p, size_t n)
{
    char last[64];
    json_t *parent = walk(root, path, last, sizeof last);
    int omit = n == 1 && p[0] == '\x7f';
    if (json_is_object(parent)) {
        if (omit) {
            json_object_del(parent, last);
        } else {
            json_t *v = hole_value(p, n);
            if (v)
                json_object_set_new(parent, last, v);
        }
    } else if (json_is_array(parent)) {
        size_t i = strtoul(last, NULL, 10);
        if (i >= json_array_size(parent))
            return;
        if (omit) {
            json_array_remove(parent, i);
        } else {
            json_t *v = hole_value(p, n);
            if (v)
                json_array_set_new(parent, i, v);
        }
    }
}

static void apply_key(json_t *root, const char *path, const char *p, size_t n)
{
    char last[64];
    json_t *parent = walk(root, path, last, sizeof last);
    if (!json_is_object(parent))
        return;
    json_t *v = json_object_get(parent, last);
    if (!v)
        return;
    json_incref(v);
    json_object_del(parent, last);
    if (!(n == 1 && p[0] == '\x7f'))
        json_object_setn_new(parent, p, n, json_incref(v));
    json_decref(v);
}

static void structured(const uint8_t *data, size_t size, const json_t *tmpl)
{
    const char *line[NHOLES];
    size_t len[NHOLES], nlines = 0, pos = 0;
    while (nlines < NHOLES && pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t stop = nl ? (size_t)(nl - data) : size;
        line[nlines] = (const char *)data + pos;
        len[nlines] = stop - pos;
        nlines++;
        pos = nl ? stop + 1 : size;
    }

    json_t *root = json_deep_copy(tmpl);
    if (!root)
        abort();
    /* Overrides point into these NUL-terminated copies. */
    char *ov_text[NHOLES] = {NULL};
    sf_job_overrides ov;
    memset(&ov, 0, sizeof ov);
    const char *in_name = NULL, *in_path = "override.jsonl";
    for (size_t h = nlines; h-- > 0;) {
        if (len[h] == 1 && line[h][0] == '\x01')
            continue;
        if (holes[h].kind == H_VALUE) {
            apply_value(root, holes[h].path, line[h], len[h]);
            continue;
        }
        if (holes[h].kind == H_KEY) {
            apply_key(root, holes[h].path, line[h], len[h]);
            continue;
        }
        if (len[h] == 1 && line[h][0] == '\x7f')
            continue;
        ov_text[h] = malloc(len[h] + 1);
        if (!ov_text[h])
            abort();
        memcpy(ov_text[h], line[h], len[h]);
        ov_text[h][len[h]] = '\0';
        switch (holes[h].kind) {
        case H_OV_INPUT: in_name = ov_text[h]; break;
        case H_OV_OUTPUT: ov.output = ov_text[h]; break;
        case H_OV_FORMAT: ov.format = ov_text[h]; break;
        case H_OV_LAYOUT: ov.layout = ov_text[h]; break;
        default: ov.compression = ov_text[h]; break;
        }
    }
    if (in_name) {
        ov.input_names = &in_name;
        ov.input_paths = &in_path;
        ov.ninputs = 1;
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        abort();
    int template_only = nlines == 0;
    if (template_only) {
        sf_job *job = NULL;
        sf_error err;
        if (sf_job_load(text, strlen(text), SOURCE, NULL, &job, &err) != 0)
            die("the template spec does not load", err.msg);
        sf_job_free(job);
    }
    load_and_check(text, strlen(text), &ov);
    free(text);
    for (size_t h = 0; h < NHOLES; h++)
        free(ov_text[h]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *tmpl;
    if (!tmpl) {
        json_error_t jerr;
        tmpl = json_loads(template_text, 0, &jerr);
        if (!tmpl)
            die("the template is not JSON", jerr.text);
    }
    /* An exact-size copy, so reading past the text is caught. */
    char *text = malloc(size ? size : 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    load_and_check(text, size, NULL);
    free(text);

    structured(data, size, tmpl);
    return 0;
}
