/* spec.c - job spec loading, validation and compilation.
 *
 * Everything a job owns (strings, arrays) lives in one arena freed with the
 * job; expressions are freed one by one. Validation walks the spec in order
 * and stops at the first error, whose message starts with the spec file and
 * the field path ("steps[1].filter"). Columns become visible in spec order:
 * a step sees the fact columns and whatever earlier steps derived or joined.
 */
#include "core/spec.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/fmt.h"

typedef struct job_impl {
    sf_job job; /* first, so sf_job * and job_impl * convert */
    sf_arena arena;
} job_impl;

typedef struct loader {
    job_impl *impl;
    sf_error *err;
    const char *source;
    size_t slot_cap;
} loader;

static char *ldup(loader *L, const char *s)
{
    return sf_arena_memdup(&L->impl->arena, s, strlen(s));
}

static void *lalloc(loader *L, size_t n)
{
    void *p = sf_arena_alloc(&L->impl->arena, n ? n : 1);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

static int fail(loader *L, const char *field, const char *fmt, const char *a, const char *b)
{
    char text[768];
    snprintf(text, sizeof text, fmt, a ? a : "", b ? b : "");
    return sf_error_set(L->err, SF_E_SPEC, "%s: %s: %s", L->source, field, text);
}

static int nomem(loader *L)
{
    return sf_error_set(L->err, SF_E_NOMEM, "%s: out of memory while loading the job", L->source);
}

/* Rejects fields of obj not in allowed (NULL-terminated): catches typos. */
static int check_fields(loader *L, json_t *obj, const char *field, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            ok |= strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char list[512] = "";
            for (size_t i = 0; allowed[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, allowed[i], sizeof list - strlen(list) - 1);
            }
            return fail(L, field, "unknown field '%s' (expected one of: %s)", key, list);
        }
    }
    return 0;
}

static int is_ident(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    }
    return 1;
}

/* A column name: identifiers joined by '.', as expressions can reference. */
static int is_column_name(const char *s)
{
    char part[256];
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof part)
            return 0;
        memcpy(part, p, n);
        part[n] = '\0';
        if (!is_ident(part))
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

static const char *get_string(loader *L, json_t *obj, const char *key, const char *field,
                              int required, int *rc)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            *rc = fail(L, field, "missing field '%s'", key, NULL);
        return NULL;
    }
    if (!json_is_string(v)) {
        *rc = fail(L, field, "field '%s' must be a string", key, NULL);
        return NULL;
    }
    return json_string_value(v);
}

/* ---- slots ---- */

static int slot_find(const sf_job *job, const char *name)
{
    for (size_t i = 0; i < job->nslots; i++) {
        if (strcmp(job->slot_names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

static int slot_add(loader *L, const char *name, sf_type type)
{
    sf_job *job = &L->impl->job;
    if (job->nslots == L->slot_cap) {
        size_t cap = L->slot_cap ? L->slot_cap * 2 : 16;
        const char **names = lalloc(L, cap * sizeof *names);
        sf_type *types = lalloc(L, cap * sizeof *types);
        if (!names || !types)
            return -1;
        if (job->nslots) {
            memcpy(names, job->slot_names, job->nslots * sizeof *names);
            memcpy(types, job->slot_types, job->nslots * sizeof *types);
        }
        job->slot_names = names;
        job->slot_types = types;
        L->slot_cap = cap;
    }
    job->slot_names[job->nslots] = name;
    job->slot_types[job->nslots] = type;
    return (int)job->nslots++;
}

static int resolve_slot(void *ctx, const char *name, size_t len, int *slot, sf_type *type)
{
    const sf_job *job = ctx;
    for (size_t i = 0; i < job->nslots; i++) {
        if (strlen(job->slot_names[i]) == len && memcmp(job->slot_names[i], name, len) == 0) {
            *slot = (int)i;
            *type = job->slot_types[i];
            return 0;
        }
    }
    return -1;
}

static sf_expr *compile_expr(loader *L, const char *text, const char *field, int flags)
{
    sf_expr_columns cols = {resolve_slot, &L->impl->job};
    sf_error e;
    sf_error_clear(&e);
    sf_expr *x = sf_expr_parse(text, &cols, flags, &e);
    if (!x) {
        if (e.code == SF_E_NOMEM)
            nomem(L);
        else
            sf_error_set(L->err, SF_E_SPEC, "%s: %s: %s", L->source, field, e.msg);
        L->err->line = e.line;
        L->err->column = e.column;
    }
    return x;
}

/* ---- inputs ---- */

/* The fact input's "flatten" settings and "explode" paths (either turns
 * flattening on); checked by building an engine once. */
static int load_flatten(loader *L, json_t *spec, const char *field, sf_job_input *in)
{
    static const char *const fields[] = {"separator", "lists", "join_separator", "max_depth",
                                         "max_rows_per_record", "on_collision", NULL};
    json_t *fl = json_object_get(spec, "flatten"), *ex = json_object_get(spec, "explode");
    if (!fl && !ex)
        return 0;
    char f[340];
    if (!in->is_fact)
        return fail(L, field, "\"flatten\" and \"explode\" are for the fact input only", NULL,
                    NULL);
    in->flatten = 1;
    sf_flatten_opts *o = &in->flatten_opts;
    sf_flatten_opts_init(o);
    int rc = 0;
    if (fl) {
        snprintf(f, sizeof f, "%s.flatten", field);
        if (!json_is_object(fl))
            return fail(L, f, "must be an object of flatten settings", NULL, NULL);
        if ((rc = check_fields(L, fl, f, fields)) != 0)
            return rc;
        const char *sep = get_string(L, fl, "separator", f, 0, &rc);
        const char *lists = rc ? NULL : get_string(L, fl, "lists", f, 0, &rc);
        const char *join = rc ? NULL : get_string(L, fl, "join_separator", f, 0, &rc);
        const char *coll = rc ? NULL : get_string(L, fl, "on_collision", f, 0, &rc);
        if (rc)
            return rc;
        if (sep && !(o->sep = ldup(L, sep)))
            return nomem(L);
        if (join && !(o->join_sep = ldup(L, join)))
            return nomem(L);
        if (lists && sf_lists_policy_parse(lists, &o->lists) != 0)
            return fail(L, f, "lists must be \"index\", \"join\" or \"json\", got '%s'", lists,
                        NULL);
        if (coll && sf_collision_policy_parse(coll, &o->on_collision) != 0)
            return fail(L, f, "on_collision must be \"error\", \"first\" or \"last\", got '%s'",
                        coll, NULL);
        json_t *md = json_object_get(fl, "max_depth");
        if (md && (!json_is_integer(md) || json_integer_value(md) < 0 ||
                   json_integer_value(md) > 100000))
            return fail(L, f, "max_depth must be an integer >= 0", NULL, NULL);
        if (md)
            o->max_depth = (int)json_integer_value(md);
        json_t *mr = json_object_get(fl, "max_rows_per_record");
        if (mr && (!json_is_integer(mr) || json_integer_value(mr) < 1))
            return fail(L, f, "max_rows_per_record must be an integer >= 1", NULL, NULL);
        if (mr)
            o->max_rows = (uint64_t)json_integer_value(mr);
    }
    if (ex) {
        snprintf(f, sizeof f, "%s.explode", field);
        if (!json_is_array(ex) || json_array_size(ex) > SF_FLATTEN_MAX_EXPLODE)
            return fail(L, f, "must be an array of at most 64 array paths, e.g. [\"items\"]",
                        NULL, NULL);
        const char **paths = lalloc(L, (json_array_size(ex) + 1) * sizeof *paths);
        if (!paths)
            return nomem(L);
        for (size_t i = 0; i < json_array_size(ex); i++) {
            json_t *v = json_array_get(ex, i);
            if (!json_is_string(v))
                return fail(L, f, "must hold path strings (keys joined with '.')", NULL, NULL);
            if (!(paths[i] = ldup(L, json_string_value(v))))
                return nomem(L);
        }
        o->explode = paths;
        o->nexplode = json_array_size(ex);
    }
    sf_flatten *probe = NULL;
    sf_error e;
    sf_error_clear(&e);
    rc = sf_flatten_new(o, &probe, &e);
    sf_flatten_free(probe);
    if (rc == SF_E_NOMEM)
        return nomem(L);
    if (rc)
        return fail(L, ex ? f : field, "%.600s", e.msg, NULL);
    return 0;
}

/* "required": fact columns a line must have (not missing, not null). */
static int load_required(loader *L, json_t *spec, const char *field, sf_job_input *in)
{
    json_t *req = json_object_get(spec, "required");
    if (!req)
        return 0;
    char f[340];
    snprintf(f, sizeof f, "%s.required", field);
    if (!in->is_fact)
        return fail(L, f, "only the fact input has required columns", NULL, NULL);
    if (!json_is_array(req))
        return fail(L, f, "must be an array of column names", NULL, NULL);
    for (size_t i = 0; i < json_array_size(req); i++) {
        const char *name = json_string_value(json_array_get(req, i));
        size_t c = 0;
        while (name && c < in->ncolumns && strcmp(in->columns[c].name, name) != 0)
            c++;
        if (!name || c == in->ncolumns)
            return fail(L, f, "'%s' is not one of the input's columns", name ? name : "?", NULL);
        in->columns[c].required = 1;
    }
    return 0;
}

static int load_input(loader *L, const char *name, json_t *spec, const sf_job_overrides *ov,
                      sf_job_input *in)
{
    static const char *const fields[] = {"role", "format",  "path",     "columns", "key",
                                         "flatten", "explode", "required", NULL};
    char field[300];
    snprintf(field, sizeof field, "inputs.%s", name);
    int rc = 0;
    if (!json_is_object(spec))
        return fail(L, field, "must be an object", NULL, NULL);
    if ((rc = check_fields(L, spec, field, fields)) != 0)
        return rc;
    if (!is_ident(name))
        return fail(L, field, "input name '%s' must be an identifier ([A-Za-z_][A-Za-z0-9_]*)",
                    name, NULL);
    in->name = ldup(L, name);
    const char *role = get_string(L, spec, "role", field, 1, &rc);
    if (rc)
        return rc;
    if (strcmp(role, "fact") == 0)
        in->is_fact = 1;
    else if (strcmp(role, "dimension") != 0)
        return fail(L, field, "role must be \"fact\" or \"dimension\", got '%s'", role, NULL);
    const char *format = get_string(L, spec, "format", field, 0, &rc);
    if (rc)
        return rc;
    if (!format || strcmp(format, "jsonl") == 0)
        in->format = SF_FORMAT_JSONL;
    else if (strcmp(format, "csv") == 0 && !in->is_fact)
        in->format = SF_FORMAT_CSV;
    else
        return fail(L, field, "format must be \"jsonl\"%s, got '%s'",
                    in->is_fact ? "" : " or \"csv\"", format);
    const char *path = get_string(L, spec, "path", field, 0, &rc);
    if (rc)
        return rc;
    for (size_t i = 0; ov && i < ov->ninputs; i++) {
        if (strcmp(ov->input_names[i], name) == 0)
            path = ov->input_paths[i];
    }
    if (!path)
        return fail(L, field, "no path: give \"path\" in the spec or --input %s=PATH", name, NULL);
    in->path = ldup(L, path);

    json_t *cols = json_object_get(spec, "columns");
    char cfield[340];
    snprintf(cfield, sizeof cfield, "%s.columns", field);
    if (!json_is_object(cols) || json_object_size(cols) == 0)
        return fail(L, cfield, "must be a non-empty object of column name -> type", NULL, NULL);
    in->ncolumns = json_object_size(cols);
    in->columns = lalloc(L, in->ncolumns * sizeof *in->columns);
    if (!in->columns)
        return nomem(L);
    const char *cname;
    json_t *ctype;
    size_t k = 0;
    json_object_foreach(cols, cname, ctype) {
        sf_job_column *c = &in->columns[k];
        char f[600];
        snprintf(f, sizeof f, "%s.%s", cfield, cname);
        if (!is_column_name(cname))
            return fail(L, f, "invalid column name '%s' (identifiers joined by '.')", cname, NULL);
        if (!in->is_fact && strchr(cname, '.'))
            return fail(L, f, "dimension columns are top-level fields; '%s' is a path", cname,
                        NULL);
        if (!json_is_string(ctype) || sf_type_parse(json_string_value(ctype), &c->type) != 0)
            return fail(L, f, "type must be one of string, int64, double, bool, date; got %s",
                        json_is_string(ctype) ? json_string_value(ctype) : "a non-string", NULL);
        c->name = ldup(L, cname);
        c->slot = (int)k;
        k++;
    }
    in->key_col = -1;
    if ((rc = load_flatten(L, spec, field, in)) != 0)
        return rc;
    const char *key = get_string(L, spec, "key", field, !in->is_fact, &rc);
    if (rc)
        return rc;
    if (key && in->is_fact)
        return fail(L, field, "\"key\" is for dimension inputs only", NULL, NULL);
    if (key) {
        for (size_t i = 0; i < in->ncolumns; i++) {
            if (strcmp(in->columns[i].name, key) == 0)
                in->key_col = (int)i;
        }
        if (in->key_col < 0)
            return fail(L, field, "key '%s' is not one of its columns", key, NULL);
        if (in->columns[in->key_col].type == SF_DOUBLE)
            return fail(L, field, "key '%s' must not be a double (use int64 or string)", key,
                        NULL);
    }
    return load_required(L, spec, field, in);
}

static int load_inputs(loader *L, json_t *root, const sf_job_overrides *ov)
{
    sf_job *job = &L->impl->job;
    json_t *inputs = json_object_get(root, "inputs");
    if (!json_is_object(inputs) || json_object_size(inputs) == 0)
        return fail(L, "inputs", "must be a non-empty object of input name -> input", NULL,
                    NULL);
    if (json_object_size(inputs) > SF_MAX_INPUTS)
        return fail(L, "inputs", "too many inputs (at most 32)", NULL, NULL);
    job->ninputs = json_object_size(inputs);
    job->inputs = lalloc(L, job->ninputs * sizeof *job->inputs);
    if (!job->inputs)
        return nomem(L);
    const char *name;
    json_t *spec;
    size_t k = 0;
    job->fact = -1;
    json_object_foreach(inputs, name, spec) {
        int rc = load_input(L, name, spec, ov, &job->inputs[k]);
        if (rc)
            return rc;
        if (job->inputs[k].is_fact) {
            if (job->fact >= 0)
                return fail(L, "inputs", "two fact inputs ('%s' and '%s'); exactly one is needed",
                            job->inputs[job->fact].name, name);
            job->fact = (int)k;
        }
        k++;
    }
    if (job->fact < 0)
        return fail(L, "inputs", "no input has role \"fact\"", NULL, NULL);
    for (size_t i = 0; ov && i < ov->ninputs; i++) {
        if (sf_job_input_index(job, ov->input_names[i]) < 0) {
            char list[512] = "";
            for (size_t j = 0; j < job->ninputs; j++) {
                strncat(list, j ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, job->inputs[j].name, sizeof list - strlen(list) - 1);
            }
            return sf_error_set(L->err, SF_E_SPEC,
                                "--input %s: the job has no input named '%s' (inputs: %s)",
                                ov->input_names[i], ov->input_names[i], list);
        }
    }
    /* The fact input's columns are the first slots. */
    sf_job_input *fact = &job->inputs[job->fact];
    for (size_t i = 0; i < fact->ncolumns; i++) {
        int s = slot_add(L, fact->columns[i].name, fact->columns[i].type);
        if (s < 0)
            return nomem(L);
        fact->columns[i].slot = s;
    }
    return 0;
}

/* ---- steps ---- */

static int load_join(loader *L, json_t *st, const char *field, sf_job_step *step)
{
    static const char *const fields[] = {"join", "on", "select", "type", NULL};
    sf_job *job = &L->impl->job;
    int rc = check_fields(L, st, field, fields);
    if (rc)
        return rc;
    step->kind = SF_STEP_JOIN;
    const char *dim = get_string(L, st, "join", field, 1, &rc);
    if (rc)
        return rc;
    step->input = sf_job_input_index(job, dim);
    if (step->input < 0 || job->inputs[step->input].is_fact)
        return fail(L, field, "join: '%s' is not a dimension input", dim, NULL);
    const sf_job_input *in = &job->inputs[step->input];
    const char *on = get_string(L, st, "on", field, 1, &rc);
    if (rc)
        return rc;
    step->on_slot = slot_find(job, on);
    if (step->on_slot < 0)
        return fail(L, field, "on: unknown column '%s'", on, NULL);
    sf_type kt = in->columns[in->key_col].type, ft = job->slot_types[step->on_slot];
    if (kt != ft) {
        char msg[200];
        snprintf(msg, sizeof msg, "'%s' is %s but the key of '%s' is %s", on, sf_type_name(ft),
                 in->name, sf_type_name(kt));
        return fail(L, field, "on: %s%s", msg, NULL);
    }
    const char *type = get_string(L, st, "type", field, 0, &rc);
    if (rc)
        return rc;
    if (!type || strcmp(type, "inner") == 0)
        step->inner = 1;
    else if (strcmp(type, "left") != 0)
        return fail(L, field, "type must be \"inner\" or \"left\", got '%s'", type, NULL);

    json_t *sel = json_object_get(st, "select");
    size_t nsel;
    if (sel) {
        if (!json_is_array(sel) || json_array_size(sel) == 0)
            return fail(L, field, "select must be a non-empty array of column names", NULL, NULL);
        nsel = json_array_size(sel);
    } else {
        nsel = in->ncolumns - 1; /* every column but the key */
    }
    step->nselect = nsel;
    step->select_cols = lalloc(L, nsel * sizeof(int));
    step->select_slots = lalloc(L, nsel * sizeof(int));
    if (!step->select_cols || !step->select_slots)
        return nomem(L);
    for (size_t i = 0, k = 0; i < nsel; i++) {
        int col = -1;
        if (sel) {
            json_t *v = json_array_get(sel, i);
            if (!json_is_string(v))
                return fail(L, field, "select must hold column names (strings)", NULL, NULL);
            for (size_t c = 0; c < in->ncolumns; c++) {
                if (strcmp(in->columns[c].name, json_string_value(v)) == 0)
                    col = (int)c;
            }
            if (col < 0)
                return fail(L, field, "select: '%s' is not a column of '%s'",
                            json_string_value(v), in->name);
        } else {
            if ((int)k == in->key_col)
                k++;
            col = (int)k++;
        }
        const char *cname = in->columns[col].name;
        if (slot_find(job, cname) >= 0)
            return fail(L, field, "select: column '%s' already exists in the row; select "
                        "fewer columns", cname, NULL);
        step->select_cols[i] = col;
        step->select_slots[i] = slot_add(L, cname, in->columns[col].type);
        if (step->select_slots[i] < 0)
            return nomem(L);
    }
    return 0;
}

static int load_steps(loader *L, json_t *root)
{
    sf_job *job = &L->impl->job;
    json_t *steps = json_object_get(root, "steps");
    if (!steps)
        return 0;
    if (!json_is_array(steps))
        return fail(L, "steps", "must be an array", NULL, NULL);
    job->nsteps = json_array_size(steps);
    job->steps = lalloc(L, job->nsteps * sizeof *job->steps);
    if (job->nsteps && !job->steps)
        return nomem(L);
    for (size_t i = 0; i < job->nsteps; i++) {
        json_t *st = json_array_get(steps, i);
        sf_job_step *step = &job->steps[i];
        char field[64];
        snprintf(field, sizeof field, "steps[%zu]", i);
        step->field = ldup(L, field);
        step->on_slot = step->input = step->slot = -1;
        if (!json_is_object(st))
            return fail(L, field, "must be an object with one of derive, filter, join", NULL,
                        NULL);
        int rc = 0;
        if (json_object_get(st, "join")) {
            rc = load_join(L, st, field, step);
        } else if (json_object_get(st, "derive")) {
            static const char *const fields[] = {"derive", "expr", NULL};
            if ((rc = check_fields(L, st, field, fields)) != 0)
                return rc;
            const char *name = get_string(L, st, "derive", field, 1, &rc);
            const char *text = rc ? NULL : get_string(L, st, "expr", field, 1, &rc);
            if (rc)
                return rc;
            if (!is_column_name(name))
                return fail(L, field, "derive: invalid column name '%s'", name, NULL);
            if (slot_find(job, name) >= 0)
                return fail(L, field, "derive: column '%s' already exists", name, NULL);
            char f[96];
            snprintf(f, sizeof f, "%s.expr", field);
            step->kind = SF_STEP_DERIVE;
            step->expr = compile_expr(L, text, f, 0);
            if (!step->expr)
                return L->err->code;
            sf_type t = sf_expr_type(step->expr);
            if (t == SF_NULL)
                return fail(L, f, "the expression is always null; give it a type, e.g. "
                            "if(false, 0, null)", NULL, NULL);
            step->slot = slot_add(L, ldup(L, name), t);
            if (step->slot < 0)
                return nomem(L);
        } else if (json_object_get(st, "filter")) {
            static const char *const fields[] = {"filter", NULL};
            if ((rc = check_fields(L, st, field, fields)) != 0)
                return rc;
            const char *text = get_string(L, st, "filter", field, 1, &rc);
            if (rc)
                return rc;
            char f[96];
            snprintf(f, sizeof f, "%s.filter", field);
            step->kind = SF_STEP_FILTER;
            step->expr = compile_expr(L, text, f, 0);
            if (!step->expr)
                return L->err->code;
            sf_type t = sf_expr_type(step->expr);
            if (t != SF_BOOL && t != SF_NULL)
                return fail(L, f, "a filter must be a bool expression, this one is %s",
                            sf_type_name(t), NULL);
        } else {
            return fail(L, field, "must have one of the fields derive, filter, join", NULL,
                        NULL);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- grouping, aggregates, windows, output ---- */

static int load_name_list(loader *L, json_t *arr, const char *field, int **out, size_t *n,
                          int (*lookup)(const sf_job *, const char *), const char *what)
{
    if (!json_is_array(arr))
        return fail(L, field, "must be an array of %s names", what, NULL);
    *n = json_array_size(arr);
    *out = lalloc(L, (*n ? *n : 1) * sizeof(int));
    if (!*out)
        return nomem(L);
    for (size_t i = 0; i < *n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v))
            return fail(L, field, "must be an array of %s names", what, NULL);
        int idx = lookup(&L->impl->job, json_string_value(v));
        if (idx < 0)
            return fail(L, field, "unknown %s '%s'", what, json_string_value(v));
        for (size_t j = 0; j < i; j++) {
            if ((*out)[j] == idx)
                return fail(L, field, "'%s' is listed twice", json_string_value(v), NULL);
        }
        (*out)[i] = idx;
    }
    return 0;
}

static int result_add(loader *L, const char *name, sf_type type, const char *field)
{
    sf_job *job = &L->impl->job;
    if (sf_job_result_index(job, name) >= 0)
        return fail(L, field, "result column '%s' is defined twice", name, NULL);
    job->result_names[job->nresult] = name;
    job->result_types[job->nresult] = type;
    job->nresult++;
    return 0;
}

static int load_aggregates(loader *L, json_t *root)
{
    sf_job *job = &L->impl->job;
    int rc = 0;
    json_t *gb = json_object_get(root, "group_by");
    if (!gb)
        return fail(L, "group_by", "missing (use [] for one group over all rows)", NULL, NULL);
    if ((rc = load_name_list(L, gb, "group_by", &job->group_slots, &job->ngroup, slot_find,
                             "column")) != 0)
        return rc;

    json_t *aggs = json_object_get(root, "aggregates");
    if (!json_is_object(aggs) || json_object_size(aggs) == 0)
        return fail(L, "aggregates", "must be a non-empty object of name -> aggregate "
                    "expression, e.g. {\"rows\": \"count()\"}", NULL, NULL);
    json_t *wins = json_object_get(root, "windows");
    if (wins && !json_is_object(wins))
        return fail(L, "windows", "must be an object of name -> window", NULL, NULL);
    size_t nwin = wins ? json_object_size(wins) : 0;

    job->naggs = json_object_size(aggs);
    job->aggs = lalloc(L, job->naggs * sizeof *job->aggs);
    size_t cap = job->ngroup + job->naggs + nwin;
    job->result_names = lalloc(L, cap * sizeof *job->result_names);
    job->result_types = lalloc(L, cap * sizeof *job->result_types);
    if (!job->aggs || !job->result_names || !job->result_types)
        return nomem(L);
    for (size_t i = 0; i < job->ngroup; i++) {
        int s = job->group_slots[i];
        if ((rc = result_add(L, job->slot_names[s], job->slot_types[s], "group_by")) != 0)
            return rc;
    }
    const char *name;
    json_t *val;
    size_t k = 0;
    json_object_foreach(aggs, name, val) {
        sf_job_agg *a = &job->aggs[k++];
        char field[300];
        snprintf(field, sizeof field, "aggregates.%s", name);
        if (!is_ident(name))
            return fail(L, field, "aggregate name '%s' must be an identifier", name, NULL);
        if (!json_is_string(val))
            return fail(L, field, "must be an aggregate expression string, e.g. \"sum(x)\"",
                        NULL, NULL);
        a->name = ldup(L, name);
        a->expr = compile_expr(L, json_string_value(val), field, SF_EXPR_ALLOW_AGG);
        if (!a->expr)
            return L->err->code;
        a->kind = sf_expr_agg_kind(a->expr);
        if (a->kind == SF_AGG_NONE)
            return fail(L, field, "expected an aggregate such as count(), sum(x), "
                        "count_distinct(x); got a plain expression", NULL, NULL);
        a->arg = sf_expr_agg_arg(a->expr);
        a->type = sf_expr_type(a->expr);
        /* No output format can hold a column typed null (the HDF5 reader
         * cannot read one back), and such a column is always empty. */
        if (a->type == SF_NULL)
            return fail(L, field, "the aggregate is always null; give its argument a type, "
                        "e.g. max(if(false, 0, null))", NULL, NULL);
        if ((rc = result_add(L, a->name, a->type, field)) != 0)
            return rc;
    }

    job->nwindows = nwin;
    job->windows = lalloc(L, (nwin ? nwin : 1) * sizeof *job->windows);
    if (!job->windows)
        return nomem(L);
    k = 0;
    json_object_foreach(wins, name, val) {
        static const char *const fields[] = {"function", "column", "preceding",
                                             "partition_by", "order_by", NULL};
        sf_job_window *w = &job->windows[k++];
        char field[300];
        snprintf(field, sizeof field, "windows.%s", name);
        if (!is_ident(name))
            return fail(L, field, "window name '%s' must be an identifier", name, NULL);
        if (!json_is_object(val))
            return fail(L, field, "must be an object", NULL, NULL);
        if ((rc = check_fields(L, val, field, fields)) != 0)
            return rc;
        w->name = ldup(L, name);
        const char *fn = get_string(L, val, "function", field, 1, &rc);
        if (rc)
            return rc;
        if (strcmp(fn, "sum") == 0) w->func = SF_AGG_SUM;
        else if (strcmp(fn, "mean") == 0) w->func = SF_AGG_MEAN;
        else if (strcmp(fn, "min") == 0) w->func = SF_AGG_MIN;
        else if (strcmp(fn, "max") == 0) w->func = SF_AGG_MAX;
        else
            return fail(L, field, "function must be sum, mean, min or max, got '%s'", fn, NULL);
        const char *col = get_string(L, val, "column", field, 1, &rc);
        if (rc)
            return rc;
        w->column = sf_job_result_index(job, col);
        if (w->column < 0)
            return fail(L, field, "column: unknown result column '%s' (group keys and "
                        "aggregates)", col, NULL);
        sf_type ct = job->result_types[w->column];
        if ((w->func == SF_AGG_SUM || w->func == SF_AGG_MEAN) && ct != SF_INT && ct != SF_DOUBLE)
            return fail(L, field, "%s() needs a numeric column; '%s' is not", fn, col);
        if ((w->func == SF_AGG_MIN || w->func == SF_AGG_MAX) && ct == SF_BOOL)
            return fail(L, field, "%s() cannot take the bool column '%s'", fn, col);
        w->type = w->func == SF_AGG_MEAN ? SF_DOUBLE : ct;
        json_t *pre = json_object_get(val, "preceding");
        if (!json_is_integer(pre) || json_integer_value(pre) < 0 ||
            json_integer_value(pre) > 1000000)
            return fail(L, field, "preceding must be an integer from 0 to 1000000 (rows before "
                        "the current one)", NULL, NULL);
        w->preceding = (int)json_integer_value(pre);
        json_t *pb = json_object_get(val, "partition_by");
        char f[340];
        snprintf(f, sizeof f, "%s.partition_by", field);
        if (pb) {
            if ((rc = load_name_list(L, pb, f, &w->partition_by, &w->npartition,
                                     sf_job_result_index, "result column")) != 0)
                return rc;
        } else {
            w->partition_by = lalloc(L, sizeof(int));
            if (!w->partition_by)
                return nomem(L);
        }
        const char *ob = get_string(L, val, "order_by", field, 1, &rc);
        if (rc)
            return rc;
        w->order_by = sf_job_result_index(job, ob);
        if (w->order_by < 0)
            return fail(L, field, "order_by: unknown result column '%s'", ob, NULL);
    }
    /* Windows are added after all aggregates so a window can read any
     * aggregate but not another window. */
    for (size_t i = 0; i < nwin; i++) {
        char field[300];
        snprintf(field, sizeof field, "windows.%s", job->windows[i].name);
        if ((rc = result_add(L, job->windows[i].name, job->windows[i].type, field)) != 0)
            return rc;
    }
    return 0;
}

static int contains(const int *a, size_t n, int x)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] == x)
            return 1;
    }
    return 0;
}

static int load_output(loader *L, json_t *root, const sf_job_overrides *ov)
{
    static const char *const fields[] = {"path",    "format",  "layout", "compression",
                                         "partition_by", "columns", "sort_by", NULL};
    sf_job *job = &L->impl->job;
    sf_job_output *o = &job->output;
    json_t *out = json_object_get(root, "output");
    int rc = 0;
    if (!json_is_object(out))
        return fail(L, "output", "missing or not an object", NULL, NULL);
    if ((rc = check_fields(L, out, "output", fields)) != 0)
        return rc;
    const char *path = get_string(L, out, "path", "output", 0, &rc);
    if (rc)
        return rc;
    if (ov && ov->output)
        path = ov->output;
    if (!path || !*path)
        return fail(L, "output", "no path: give \"path\" in the spec or --output DIR", NULL,
                    NULL);
    o->path = ldup(L, path);
    const char *format = get_string(L, out, "format", "output", 0, &rc);
    const char *layout = rc ? NULL : get_string(L, out, "layout", "output", 0, &rc);
    const char *comp = rc ? NULL : get_string(L, out, "compression", "output", 0, &rc);
    if (rc)
        return rc;
    const char *fsrc = ov && ov->format ? "--format" : "output.format";
    const char *lsrc = ov && ov->layout ? "--layout" : "output.layout";
    const char *csrc = ov && ov->compression ? "--compression" : "output.compression";
    format = ov && ov->format ? ov->format : format ? format : "csv";
    layout = ov && ov->layout ? ov->layout : layout ? layout : "hive";
    int parquet = strcmp(format, "parquet") == 0;
    /* Parquet's codecs default to snappy and are checked where the writer's
     * options are made (io/parquet's sf_parquet_parse_codec, at plan time). */
    int csv = strcmp(format, "csv") == 0;
    /* CSV's codecs (none by default, gzip or zstd) are checked where the
     * writer's options are made (io/csv's sf_csv_parse_compression). */
    comp = ov && ov->compression ? ov->compression : comp ? comp
           : parquet ? "snappy" : csv ? "none" : "gzip:4";
    if (strcmp(format, "csv") != 0 && strcmp(format, "hdf5") != 0 && !parquet)
        return fail(L, fsrc, "must be csv, hdf5 or parquet, got '%s'", format, NULL);
    if (strcmp(layout, "hive") != 0 && strcmp(layout, "single") != 0)
        return fail(L, lsrc, "must be hive or single, got '%s'", layout, NULL);
    if (strcmp(layout, "single") == 0 && parquet)
        return fail(L, lsrc, "'single' is an hdf5 layout; parquet outputs are hive (a "
                    "part-NNNNN.parquet per partition value)", NULL, NULL);
    if (strcmp(layout, "single") == 0 && strcmp(format, "hdf5") != 0)
        return fail(L, lsrc, "'single' is an hdf5 layout; csv outputs are hive (%s)", format,
                    NULL);
    int level = -1;
    char extra = 0;
    if (!parquet && !csv && strcmp(comp, "none") != 0 && strcmp(comp, "gzip") != 0 &&
        !(sscanf(comp, "gzip:%d%c", &level, &extra) == 1 && level >= 0 && level <= 9))
        return fail(L, csrc, "must be none, gzip or gzip:N with N in 0..9, got '%s'", comp,
                    NULL);
    o->format = ldup(L, format);
    o->layout = ldup(L, layout);
    o->compression = ldup(L, comp);

    json_t *pb = json_object_get(out, "partition_by");
    if (pb) {
        if ((rc = load_name_list(L, pb, "output.partition_by", &o->partition_by, &o->npartition,
                                 sf_job_result_index, "result column")) != 0)
            return rc;
        if (o->npartition > 16)
            return fail(L, "output.partition_by", "at most 16 partition columns", NULL, NULL);
    } else if (!(o->partition_by = lalloc(L, sizeof(int)))) {
        return nomem(L);
    }
    json_t *cols = json_object_get(out, "columns");
    if (cols) {
        if ((rc = load_name_list(L, cols, "output.columns", &o->columns, &o->ncolumns,
                                 sf_job_result_index, "result column")) != 0)
            return rc;
        if (o->ncolumns == 0)
            return fail(L, "output.columns", "must name at least one column", NULL, NULL);
    } else {
        o->columns = lalloc(L, job->nresult * sizeof(int));
        if (!o->columns)
            return nomem(L);
        for (size_t i = 0; i < job->nresult; i++) {
            if (!contains(o->partition_by, o->npartition, (int)i))
                o->columns[o->ncolumns++] = (int)i;
        }
        if (o->ncolumns == 0)
            return fail(L, "output.partition_by", "every result column is a partition column: "
                        "the files would have no columns (list output.columns)", NULL, NULL);
    }
    json_t *sb = json_object_get(out, "sort_by");
    if (sb) {
        if ((rc = load_name_list(L, sb, "output.sort_by", &o->sort_by, &o->nsort,
                                 sf_job_result_index, "result column")) != 0)
            return rc;
    } else {
        o->sort_by = lalloc(L, (job->ngroup ? job->ngroup : 1) * sizeof(int));
        if (!o->sort_by)
            return nomem(L);
        for (size_t i = 0; i < job->ngroup; i++) {
            if (!contains(o->partition_by, o->npartition, (int)i))
                o->sort_by[o->nsort++] = (int)i;
        }
    }
    return 0;
}

/* "memory_limit": a size with K/M/G/T ("128M") or "none". */
static int load_memory_limit(loader *L, json_t *root)
{
    int rc = 0;
    const char *text = get_string(L, root, "memory_limit", "memory_limit", 0, &rc);
    if (rc || !text)
        return rc;
    sf_job *job = &L->impl->job;
    job->memory_limit_set = 1;
    if (strcmp(text, "none") == 0)
        return 0;
    if (sf_parse_size(text, &job->memory_limit) != 0 || job->memory_limit == 0)
        return fail(L, "memory_limit", "'%s' is not a size (e.g. 512M, 4G) or \"none\"", text,
                    NULL);
    return 0;
}

int sf_job_load(const char *text, size_t len, const char *source, const sf_job_overrides *ov,
                sf_job **out, sf_error *err)
{
    static const char *const fields[] = {"name", "description", "inputs", "steps", "group_by",
                                         "aggregates", "windows", "output", "memory_limit",
                                         NULL};
    sf_error_clear(err);
    *out = NULL;
    job_impl *impl = calloc(1, sizeof *impl);
    if (!impl)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", source);
    sf_arena_init(&impl->arena, 16 * 1024);
    loader L = {impl, err, source, 0};
    sf_job *job = &impl->job;
    job->source = ldup(&L, source);
    job->fact = -1;

    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = 0;
    if (!root) {
        rc = sf_error_set(err, SF_E_PARSE, "%s:%d:%d: invalid JSON: %s", source, jerr.line,
                          jerr.column, jerr.text);
        err->line = jerr.line;
        err->column = jerr.column;
        err->offset = jerr.position;
    } else if (!json_is_object(root)) {
        rc = fail(&L, "(top level)", "a job spec must be a JSON object", NULL, NULL);
    } else if ((rc = check_fields(&L, root, "(top level)", fields)) == 0) {
        const char *name = get_string(&L, root, "name", "name", 0, &rc);
        if (rc == 0) {
            job->name = ldup(&L, name ? name : "job");
            if (!job->source || !job->name)
                rc = nomem(&L);
        }
        if (rc == 0)
            rc = load_inputs(&L, root, ov);
        if (rc == 0)
            rc = load_steps(&L, root);
        if (rc == 0)
            rc = load_aggregates(&L, root);
        if (rc == 0)
            rc = load_output(&L, root, ov);
        if (rc == 0)
            rc = load_memory_limit(&L, root);
    }
    json_decref(root);
    if (rc != 0) {
        sf_job_free(job);
        return rc;
    }
    *out = job;
    return 0;
}

void sf_job_free(sf_job *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < job->nsteps; i++)
        sf_expr_free(job->steps[i].expr);
    for (size_t i = 0; i < job->naggs; i++)
        sf_expr_free(job->aggs[i].expr);
    job_impl *impl = (job_impl *)job;
    sf_arena_free(&impl->arena);
    free(impl);
}

int sf_job_result_index(const sf_job *job, const char *name)
{
    for (size_t i = 0; i < job->nresult; i++) {
        if (strcmp(job->result_names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

int sf_job_input_index(const sf_job *job, const char *name)
{
    for (size_t i = 0; i < job->ninputs; i++) {
        if (strcmp(job->inputs[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}
