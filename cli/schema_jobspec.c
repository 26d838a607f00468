/* schema_jobspec.c - `shardflow schema --format jobspec`: a draft job spec
 * from the inferred schema.
 *
 * The draft is a job that runs as it is: the input as the fact input with
 * every column whose name a spec can hold and its inferred type, the flatten
 * settings the schema was inferred with (so `columns` name the same
 * flattened columns), no steps, one group over all rows with count(), and a
 * CSV output. It goes through the spec loader (core/spec) before it is
 * printed, so what `shardflow validate` would say about it is known here.
 *
 * Without flatten settings the job reads dotted paths with the projection
 * decoder, which (unlike flatten) refuses an object where a column is
 * declared: a column that is also the parent of others ("props" beside
 * "props.price", from records where props is {} or a scalar) or holds no
 * value at all (an empty container, or only nulls) is then left out, so
 * the draft does not reject the very lines it was inferred from. A column
 * typed string because it held strings and other types (a coupon that is
 * "SAVE10" in one record and 15 in another) is left out whatever the
 * decoder: a job's string column rejects the numbers.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flatten_internal.h"
#include "core/spec.h"

/* The input's name: --table, else the first input's file name up to its
 * first '.', made an identifier ([A-Za-z_][A-Za-z0-9_]*). */
static void input_name(const fl *F, char *out, size_t cap)
{
    const char *src = F->o->table;
    char base[256];
    if (!src) {
        const char *b = strrchr(F->o->inputs[0], '/');
        snprintf(base, sizeof base, "%s", b ? b + 1 : F->o->inputs[0]);
        char *dot = strchr(base, '.');
        if (dot && dot != base)
            *dot = '\0';
        src = base;
    }
    size_t n = 0;
    if (!((*src >= 'A' && *src <= 'Z') || (*src >= 'a' && *src <= 'z') || *src == '_'))
        out[n++] = '_';
    for (; *src && n + 1 < cap; src++) {
        char c = *src;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
}

/* The flatten settings that differ from the defaults, or NULL when none do
 * (the job then reads dotted paths with the projection decoder, which
 * gives the same columns). New reference. */
static json_t *flatten_settings(const sf_flatten_opts *o)
{
    sf_flatten_opts d;
    sf_flatten_opts_init(&d);
    json_t *s = json_object();
    if (!s)
        return NULL;
    if (strcmp(o->sep, d.sep) != 0)
        json_object_set_new(s, "separator", json_string(o->sep));
    if (o->lists != d.lists)
        json_object_set_new(s, "lists", json_string(sf_lists_policy_name(o->lists)));
    if (strcmp(o->join_sep, d.join_sep) != 0)
        json_object_set_new(s, "join_separator", json_string(o->join_sep));
    if (o->max_depth != d.max_depth)
        json_object_set_new(s, "max_depth", json_integer(o->max_depth));
    if (o->max_rows != d.max_rows)
        json_object_set_new(s, "max_rows_per_record", json_integer((json_int_t)o->max_rows));
    if (o->on_collision != d.on_collision)
        json_object_set_new(s, "on_collision",
                            json_string(sf_collision_policy_name(o->on_collision)));
    if (json_object_size(s) == 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 if some name in sorted[0..n) starts with prefix + ".". */
static int is_parent(const char *const *sorted, size_t n, const char *prefix)
{
    size_t plen = strlen(prefix), lo = 0, hi = n;
    while (lo < hi) { /* the first name >= prefix + "." */
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(sorted[mid], prefix, plen);
        if (c < 0 || (c == 0 && (unsigned char)sorted[mid][plen] < '.'))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strncmp(sorted[lo], prefix, plen) == 0 && sorted[lo][plen] == '.';
}

/* Why the draft leaves out column i: 1 for a name a spec cannot hold, 2 for
 * a column the projection decoder would reject objects in, 3 for a string
 * column of mixed types, 0 to keep it. */
static int left_out(const fl *F, size_t i, int engine, const char *const *sorted)
{
    if (!sf_job_column_name_ok(F->names[i]))
        return 1;
    sf_flatten_column c;
    sf_flatten_column_get(F->eng, (uint32_t)i, &c);
    if (F->types[i] == SF_STRING && (c.seen & ~(1u << SF_STRING)) != 0)
        return 3;
    if (!engine && (F->nonnull[i] == 0 || is_parent(sorted, F->ncols, F->names[i])))
        return 2;
    return 0;
}

/* The draft as a new JSON object (NULL: out of memory); *kept counts the
 * columns it holds, left[1..3] those left out for each reason of
 * left_out() (first[1..3]: the first of each, borrowed from F). */
static json_t *draft(const fl *F, const char *name, size_t *kept, size_t left[4],
                     const char *first[4])
{
    json_t *root = json_object(), *inputs = json_object(), *in = json_object();
    json_t *cols = json_object(), *aggs = json_object(), *out = json_object();
    char desc[512], path[300];
    *kept = 0;
    memset(left, 0, 4 * sizeof *left);
    memset(first, 0, 4 * sizeof *first);
    json_t *fs = flatten_settings(&F->o->fo);
    int engine = fs != NULL || F->o->fo.nexplode > 0; /* the flatten engine reads the lines */
    const char **sorted = malloc((F->ncols ? F->ncols : 1) * sizeof *sorted);
    if (sorted) {
        memcpy(sorted, F->names, F->ncols * sizeof *sorted);
        qsort(sorted, F->ncols, sizeof *sorted, cmp_str);
    }
    if (!root || !inputs || !in || !cols || !aggs || !out || !sorted) {
        free(sorted);
        json_decref(fs);
        json_decref(root);
        json_decref(inputs);
        json_decref(in);
        json_decref(cols);
        json_decref(aggs);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < F->ncols; i++) {
        int why = left_out(F, i, engine, sorted);
        if (why) {
            if (!first[why])
                first[why] = F->names[i];
            left[why]++;
            continue;
        }
        json_object_set_new(cols, F->names[i], json_string(sf_type_name(F->types[i])));
        (*kept)++;
    }
    snprintf(desc, sizeof desc, "Draft from `shardflow schema --format jobspec`: %zu columns "
             "with the types inferred over %llu rows. Add steps, group_by and aggregates.",
             *kept, (unsigned long long)F->all.rows);
    json_object_set_new(root, "name", json_string(name));
    json_object_set_new(root, "description", json_string(desc));
    json_object_set_new(in, "role", json_string("fact"));
    json_object_set_new(in, "format", json_string("jsonl"));
    json_object_set_new(in, "path", json_string(F->o->inputs[0]));
    if (F->o->fo.nexplode) {
        json_t *ex = json_array();
        for (size_t i = 0; ex && i < F->o->fo.nexplode; i++)
            json_array_append_new(ex, json_string(F->o->fo.explode[i]));
        json_object_set_new(in, "explode", ex);
    }
    free(sorted);
    if (fs)
        json_object_set_new(in, "flatten", fs);
    json_object_set_new(in, "columns", cols);
    json_object_set_new(inputs, name, in);
    json_object_set_new(root, "inputs", inputs);
    json_object_set_new(root, "steps", json_array());
    json_object_set_new(root, "group_by", json_array());
    json_object_set_new(aggs, "rows", json_string("count()"));
    json_object_set_new(root, "aggregates", aggs);
    snprintf(path, sizeof path, "out/%s", name);
    json_object_set_new(out, "path", json_string(path));
    json_object_set_new(out, "format", json_string("csv"));
    json_object_set_new(root, "output", out);
    return root;
}

int sf_fl_print_jobspec(fl *F)
{
    char name[128];
    input_name(F, name, sizeof name);
    size_t kept, left[4];
    const char *first[4];
    json_t *root = draft(F, name, &kept, left, first);
    if (!root) {
        fprintf(stderr, "shardflow: schema: out of memory\n");
        return 1;
    }
    if (left[1])
        fprintf(stderr, "shardflow: schema --format jobspec: left out %zu column%s whose name "
                "is not identifiers joined by '.' (first: '%s'); --lists join or json makes an "
                "array one column, --explode makes its elements rows\n", left[1],
                left[1] == 1 ? "" : "s", first[1]);
    if (left[2])
        fprintf(stderr, "shardflow: schema --format jobspec: left out %zu column%s with no "
                "value or with nested fields under it (first: '%s'): a job reading dotted paths "
                "would reject the lines where it is an object\n", left[2],
                left[2] == 1 ? "" : "s", first[2]);
    if (left[3])
        fprintf(stderr, "shardflow: schema --format jobspec: left out %zu column%s of mixed "
                "types, strings and others (first: '%s'): a job's string column rejects the "
                "lines where it is not a string\n", left[3], left[3] == 1 ? "" : "s",
                first[3]);
    if (F->o->ninputs > 1)
        fprintf(stderr, "shardflow: schema --format jobspec: the draft's path is the first "
                "input, %s; give a directory or a glob there to read all %d\n",
                F->o->inputs[0], F->o->ninputs);
    if (kept == 0) {
        fprintf(stderr, "shardflow: schema --format jobspec: no column a job spec can name; "
                "nothing to draft\n");
        json_decref(root);
        return 2;
    }
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) {
        fprintf(stderr, "shardflow: schema: out of memory\n");
        return 1;
    }
    /* What validate will say: the draft must load as it is. */
    sf_job *job = NULL;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_job_load(text, strlen(text), "draft", NULL, &job, &err);
    sf_job_free(job);
    if (rc) {
        fprintf(stderr, "shardflow: schema --format jobspec: the draft does not load: %s\n",
                err.msg);
        free(text);
        return 1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}
