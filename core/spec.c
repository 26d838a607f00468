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
#include "core/buf.h"
#include "core/decimal.h"
#include "core/fmt.h"
#include "core/value_text.h"

typedef struct job_impl {
    sf_job job; /* first, so sf_job * and job_impl * convert */
    sf_arena arena;
} job_impl;

typedef struct loader {
    job_impl *impl;
    sf_error *err;
    const char *source;
    size_t slot_cap;
    size_t slot_dec_cap;
    const char *prefix; /* before field names in messages: "outputs[1]." while an
                         * element of "outputs" loads, else "" */
    const char **pnames; /* "params" and their values after --param (arena) */
    const char **pvalues;
    size_t nparams;
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
    return sf_error_set(L->err, SF_E_SPEC, "%s: %s%s: %s", L->source, L->prefix, field, text);
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

int sf_job_column_name_ok(const char *name) { return is_column_name(name); }

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

/* A path written in the spec, resolved against the spec file's directory
 * (ov->spec_dir) when it is relative: a new string in the job's arena, or
 * NULL when out of memory. */
static char *spec_path(loader *L, const sf_job_overrides *ov, const char *path)
{
    const char *dir = ov && ov->spec_dir ? ov->spec_dir : "";
    if (path[0] == '/' || !dir[0] || strcmp(dir, ".") == 0)
        return ldup(L, path);
    size_t nd = strlen(dir), np = strlen(path);
    char *out = lalloc(L, nd + np + 2);
    if (!out)
        return NULL;
    memcpy(out, dir, nd);
    size_t k = nd;
    if (dir[nd - 1] != '/')
        out[k++] = '/';
    memcpy(out + k, path, np + 1);
    return out;
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

/* slot_add() for a column that may be a decimal: also records its P and S. */
static int slot_add_dec(loader *L, const char *name, sf_type type, sf_dec_type dec)
{
    int s = slot_add(L, name, type);
    if (s < 0)
        return s;
    sf_job *job = &L->impl->job;
    if (job->nslots > L->slot_dec_cap) {
        size_t cap = L->slot_cap;
        sf_dec_type *d = lalloc(L, cap * sizeof *d);
        if (!d)
            return -1;
        if (job->nslot_dec)
            memcpy(d, job->slot_dec, job->nslot_dec * sizeof *d);
        job->slot_dec = d;
        L->slot_dec_cap = cap;
    }
    job->slot_dec[s] = dec;
    job->nslot_dec = job->nslots;
    return s;
}

sf_dec_type sf_job_slot_dec(const sf_job *job, int s)
{
    sf_dec_type none = {0, 0};
    return s >= 0 && (size_t)s < job->nslot_dec && job->slot_types[s] == SF_DECIMAL
               ? job->slot_dec[s]
               : none;
}

sf_dec_type sf_job_result_dec(const sf_job *job, int i)
{
    sf_dec_type none = {0, 0};
    return i >= 0 && (size_t)i < job->nresult_dec && job->result_types[i] == SF_DECIMAL
               ? job->result_dec[i]
               : none;
}

static void resolve_dec(void *ctx, int slot, sf_dec_type *d)
{
    *d = sf_job_slot_dec(ctx, slot);
}

/* "having" reads result columns: their precision and scale. */
static void resolve_result_dec(void *ctx, int col, sf_dec_type *d)
{
    *d = sf_job_result_dec(ctx, col);
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

/* "params": {"NAME": "default", ...}; --param NAME=VALUE replaces a
 * default and must name one of them. */
static int load_params(loader *L, json_t *root, const sf_job_overrides *ov)
{
    json_t *ps = json_object_get(root, "params");
    if (ps && !json_is_object(ps))
        return fail(L, "params", "must be an object of name -> default value (a string or a "
                    "number), e.g. {\"as_of\": \"2025-04-20\"}", NULL, NULL);
    size_t n = ps ? json_object_size(ps) : 0;
    L->pnames = lalloc(L, (n ? n : 1) * sizeof *L->pnames);
    L->pvalues = lalloc(L, (n ? n : 1) * sizeof *L->pvalues);
    if (!L->pnames || !L->pvalues)
        return nomem(L);
    const char *name;
    json_t *val;
    json_object_foreach(ps, name, val) {
        char field[300], num[64];
        snprintf(field, sizeof field, "params.%s", name);
        if (!is_ident(name))
            return fail(L, field, "parameter name '%s' must be an identifier", name, NULL);
        const char *text = json_is_string(val) ? json_string_value(val) : NULL;
        if (json_is_integer(val))
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val));
        else if (json_is_real(val))
            snprintf(num, sizeof num, "%.17g", json_real_value(val));
        else if (!text)
            return fail(L, field, "the default must be a string or a number", NULL, NULL);
        L->pnames[L->nparams] = ldup(L, name);
        L->pvalues[L->nparams] = ldup(L, text ? text : num);
        if (!L->pnames[L->nparams] || !L->pvalues[L->nparams])
            return nomem(L);
        L->nparams++;
    }
    for (size_t i = 0; ov && i < ov->nparams; i++) {
        size_t k = 0;
        while (k < L->nparams && strcmp(L->pnames[k], ov->param_names[i]) != 0)
            k++;
        if (k == L->nparams)
            return sf_error_set(L->err, SF_E_SPEC, "%s: --param %s: the job has no parameter "
                                "'%s' (its \"params\" object lists them)", L->source,
                                ov->param_names[i], ov->param_names[i]);
        if (!(L->pvalues[k] = ldup(L, ov->param_values[i])))
            return nomem(L);
    }
    return 0;
}

/* text with every ${NAME} replaced by parameter NAME's value (in the
 * loader's arena), or NULL with L->err set (an unknown parameter, an
 * unclosed ${, or no memory). A text without "${" is returned as it is. */
static const char *expand_params(loader *L, const char *text, const char *field)
{
    if (!strstr(text, "${"))
        return text;
    sf_buf b = SF_BUF_INIT;
    int rc = 0;
    const char *p = text;
    for (const char *q; !rc && (q = strstr(p, "${")) != NULL;) {
        const char *end = strchr(q + 2, '}');
        size_t k = 0, len = end ? (size_t)(end - q - 2) : 0;
        while (end && k < L->nparams &&
               (strlen(L->pnames[k]) != len || memcmp(L->pnames[k], q + 2, len) != 0))
            k++;
        if (!end || k == L->nparams) {
            sf_buf_free(&b);
            char name[128];
            snprintf(name, sizeof name, "%.*s", end ? (int)(len < 100 ? len : 100) : 0, q + 2);
            fail(L, field, end ? "unknown parameter '${%s}' (declare it in \"params\")"
                               : "'${' without a closing '}'%s", name, NULL);
            return NULL;
        }
        rc = sf_buf_append(&b, p, (size_t)(q - p));
        rc |= sf_buf_append(&b, L->pvalues[k], strlen(L->pvalues[k]));
        p = end + 1;
    }
    rc |= sf_buf_append(&b, p, strlen(p));
    const char *out = rc ? NULL : sf_arena_memdup(&L->impl->arena, (const char *)b.p, b.n);
    sf_buf_free(&b);
    if (!out)
        nomem(L);
    return out;
}

static sf_expr *compile_expr(loader *L, const char *text, const char *field, int flags)
{
    sf_expr_columns cols = {resolve_slot, &L->impl->job, resolve_dec};
    sf_error e;
    sf_error_clear(&e);
    if (!(text = expand_params(L, text, field)))
        return NULL;
    sf_expr *x = sf_expr_parse(text, &cols, flags, &e);
    if (!x) {
        if (e.code == SF_E_NOMEM)
            nomem(L);
        else
            sf_error_set(L->err, SF_E_SPEC, "%s: %s%s: %s", L->source, L->prefix, field, e.msg);
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

/* A dimension's "unknown": the key of the member that stands for keys the
 * dimension lacks: a JSON string (read as the key's type, as a CSV cell
 * is) or, for an int64 key, a JSON integer. */
static int load_unknown(loader *L, json_t *spec, const char *field, sf_job_input *in)
{
    json_t *u = json_object_get(spec, "unknown");
    if (!u)
        return 0;
    char f[340];
    snprintf(f, sizeof f, "%s.unknown", field);
    if (in->is_fact)
        return fail(L, f, "is for dimension inputs (the key that stands for keys the "
                    "dimension lacks)", NULL, NULL);
    const sf_job_column *key = &in->columns[in->key_col];
    char tb[24];
    if (json_is_integer(u) && key->type == SF_INT) {
        in->unknown = sf_int((int64_t)json_integer_value(u));
    } else if (json_is_string(u)) {
        const char *text = json_string_value(u);
        size_t n = strlen(text);
        if (key->type == SF_STRING) {
            char *copy = sf_arena_memdup(&L->impl->arena, text, n);
            if (!copy)
                return nomem(L);
            in->unknown = sf_string(copy, n);
        } else if (key->type == SF_DECIMAL || sf_value_text_parse(text, n, key->type,
                                                                   &in->unknown) != 0) {
            return fail(L, f, "'%s' is not a value of the key's type %s", text,
                        sf_type_format(key->type, key->dec, tb));
        }
    } else {
        return fail(L, f, "must be a key value of the key's type %s (a string, or an integer "
                    "for an int64 key)", sf_type_format(key->type, key->dec, tb), NULL);
    }
    in->has_unknown = 1;
    return 0;
}

static int load_input(loader *L, const char *name, json_t *spec, const sf_job_overrides *ov,
                      sf_job_input *in)
{
    static const char *const fields[] = {"role", "format",  "path",     "columns", "key",
                                         "flatten", "explode", "required", "duplicates",
                                         "unknown", NULL};
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
    else if (strcmp(format, "csv") == 0)
        in->format = SF_FORMAT_CSV;
    else
        return fail(L, field, "format must be \"jsonl\" or \"csv\", got '%s'", format, NULL);
    const char *path = get_string(L, spec, "path", field, 0, &rc);
    if (rc)
        return rc;
    int given = 0; /* by --input: as given, not relative to the spec */
    for (size_t i = 0; ov && i < ov->ninputs; i++) {
        if (strcmp(ov->input_names[i], name) == 0) {
            path = ov->input_paths[i];
            given = 1;
        }
    }
    if (!path)
        return fail(L, field, "no path: give \"path\" in the spec or --input %s=PATH", name, NULL);
    in->path = given ? ldup(L, path) : spec_path(L, ov, path);
    if (!in->path)
        return nomem(L);

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
        if (!json_is_string(ctype) ||
            sf_type_parse_full(json_string_value(ctype), &c->type, &c->dec) != 0)
            return fail(L, f, "type must be one of string, int64, double, bool, date, "
                        "timestamp, decimal(P,S) (1 <= P <= 38, 0 <= S <= P); got %s",
                        json_is_string(ctype) ? json_string_value(ctype) : "a non-string", NULL);
        c->name = ldup(L, cname);
        c->slot = (int)k;
        k++;
    }
    in->key_col = -1;
    if ((rc = load_flatten(L, spec, field, in)) != 0)
        return rc;
    if (in->flatten && in->format == SF_FORMAT_CSV)
        return fail(L, field, "flatten and explode read JSON; a CSV input has flat columns",
                    NULL, NULL);
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
    const char *dups = get_string(L, spec, "duplicates", field, 0, &rc);
    if (rc)
        return rc;
    if (dups && in->is_fact)
        return fail(L, field, "\"duplicates\" is for dimension inputs (a fact input has the "
                    "dedupe step)", NULL, NULL);
    if (dups && strcmp(dups, "first") == 0)
        in->keep_first_key = 1;
    else if (dups && strcmp(dups, "error") != 0)
        return fail(L, field, "duplicates must be \"error\" (the default) or \"first\" (the "
                    "first row of a key in file order wins), got '%s'", dups, NULL);
    if ((rc = load_unknown(L, spec, field, in)) != 0)
        return rc;
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
        int s = slot_add_dec(L, fact->columns[i].name, fact->columns[i].type,
                             fact->columns[i].dec);
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
    /* Decimal keys match by their scaled integers: the scales must agree. */
    sf_dec_type kd = in->columns[in->key_col].dec, fd = sf_job_slot_dec(job, step->on_slot);
    if (kt == SF_DECIMAL && kd.scale != fd.scale) {
        char msg[200], a[24], b[24];
        snprintf(msg, sizeof msg, "'%s' is %s but the key of '%s' is %s (a decimal key needs "
                 "the same scale)", on, sf_type_format(ft, fd, a), in->name,
                 sf_type_format(kt, kd, b));
        return fail(L, field, "on: %s%s", msg, NULL);
    }
    const char *type = get_string(L, st, "type", field, 0, &rc);
    if (rc)
        return rc;
    if (!type || strcmp(type, "inner") == 0)
        step->inner = 1;
    else if (strcmp(type, "unknown") == 0)
        step->to_unknown = 1;
    else if (strcmp(type, "left") != 0)
        return fail(L, field, "type must be \"inner\", \"left\" or \"unknown\", got '%s'",
                    type, NULL);
    if (step->to_unknown && !in->has_unknown)
        return fail(L, field, "type \"unknown\" needs an unknown member: give dimension '%s' "
                    "an \"unknown\" key (e.g. \"unknown\": \"unknown\")", in->name, NULL);

    json_t *sel = json_object_get(st, "select");
    size_t nsel;
    if (sel) {
        if (!json_is_array(sel))
            return fail(L, field, "select must be an array of column names", NULL, NULL);
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
        step->select_slots[i] = slot_add_dec(L, cname, in->columns[col].type,
                                             in->columns[col].dec);
        if (step->select_slots[i] < 0)
            return nomem(L);
    }
    return 0;
}

static int load_name_list(loader *L, json_t *arr, const char *field, int **out, size_t *n,
                          int (*lookup)(const sf_job *, const char *), const char *what);

/* {"dedupe": [cols], "keep": "first"}: one per job; the columns must exist
 * at this step. */
static int load_dedupe(loader *L, json_t *st, const char *field, sf_job_step *step, size_t i)
{
    static const char *const fields[] = {"dedupe", "keep", NULL};
    sf_job *job = &L->impl->job;
    int rc = check_fields(L, st, field, fields);
    if (rc)
        return rc;
    step->kind = SF_STEP_DEDUPE;
    if (job->dedupe_step >= 0)
        return fail(L, field, "a job has at most one dedupe step (the first is %s)",
                    job->steps[job->dedupe_step].field, NULL);
    const char *keep = get_string(L, st, "keep", field, 0, &rc);
    if (rc)
        return rc;
    if (keep && strcmp(keep, "first") != 0)
        return fail(L, field, "keep must be \"first\" (the first row in input order), got '%s'",
                    keep, NULL);
    char f[96];
    snprintf(f, sizeof f, "%s.dedupe", field);
    json_t *cols = json_object_get(st, "dedupe");
    if (json_is_array(cols) && json_array_size(cols) == 0)
        return fail(L, f, "must list at least one column", NULL, NULL);
    if ((rc = load_name_list(L, cols, f, &step->dedupe_slots, &step->ndedupe, slot_find,
                             "column")) != 0)
        return rc;
    job->dedupe_step = (int)i;
    return 0;
}

/* {"replace": "COL", "expr": "..."}: a new value for an existing column,
 * of the same type (a derive step that keeps the column's name and slot). */
static int load_replace(loader *L, json_t *st, const char *field, sf_job_step *step)
{
    static const char *const fields[] = {"replace", "expr", NULL};
    sf_job *job = &L->impl->job;
    int rc = check_fields(L, st, field, fields);
    const char *name = rc ? NULL : get_string(L, st, "replace", field, 1, &rc);
    const char *text = rc ? NULL : get_string(L, st, "expr", field, 1, &rc);
    if (rc)
        return rc;
    int slot = slot_find(job, name);
    if (slot < 0)
        return fail(L, field, "replace: unknown column '%s' (derive makes a new one)", name,
                    NULL);
    char f[96];
    snprintf(f, sizeof f, "%s.expr", field);
    step->kind = SF_STEP_DERIVE;
    step->replace = 1;
    step->expr = compile_expr(L, text, f, 0);
    if (!step->expr)
        return L->err->code;
    step->slot = slot;
    sf_type t = sf_expr_type(step->expr), ct = job->slot_types[slot];
    sf_dec_type d = sf_expr_decimal(step->expr), cd = sf_job_slot_dec(job, slot);
    char a[24], b[24];
    if (t != ct || (t == SF_DECIMAL && (d.prec != cd.prec || d.scale != cd.scale))) {
        if (t == SF_NULL)
            return 0; /* a NULL of any type fits */
        char msg[200];
        snprintf(msg, sizeof msg, "'%s' is %s; its new value must be too, this one is %s",
                 name, sf_type_format(ct, cd, a), sf_type_format(t, d, b));
        return fail(L, f, "%s (cast it, or derive a new column)%s", msg, NULL);
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
        } else if (json_object_get(st, "dedupe")) {
            rc = load_dedupe(L, st, field, step, i);
        } else if (json_object_get(st, "replace")) {
            rc = load_replace(L, st, field, step);
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
            step->slot = slot_add_dec(L, ldup(L, name), t, sf_expr_decimal(step->expr));
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
            return fail(L, field, "must have one of the fields derive, filter, join, dedupe",
                        NULL, NULL);
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

/* result_add() for a column that may be a decimal: also records its P, S. */
static int result_add_dec(loader *L, const char *name, sf_type type, sf_dec_type dec,
                          const char *field)
{
    sf_job *job = &L->impl->job;
    int rc = result_add(L, name, type, field);
    if (rc == 0 && job->result_dec) {
        job->result_dec[job->nresult - 1] = dec;
        job->nresult_dec = job->nresult;
    }
    return rc;
}

/* A window's "range": "N days" over a date order column (N from 0 to
 * 100000; "day" and "days" both read). Fills w->range in days. */
static int load_window_range(loader *L, json_t *val, const char *field, sf_job_window *w)
{
    const sf_job *job = &L->impl->job;
    int rc = 0;
    const char *text = get_string(L, val, "range", field, 1, &rc);
    if (rc)
        return rc;
    char f[340];
    snprintf(f, sizeof f, "%s.range", field);
    const char *p = text;
    int64_t n = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 7) {
        n = n * 10 + (*p++ - '0');
        digits++;
    }
    const char *unit = p;
    while (*unit == ' ')
        unit++;
    /* Units and their length in the order column's unit: days for a date,
     * microseconds for a timestamp. */
    static const struct { const char *name; int64_t us; } units[] = {
        {"days", 86400000000LL}, {"day", 86400000000LL}, {"hours", 3600000000LL},
        {"hour", 3600000000LL},  {"minutes", 60000000LL}, {"minute", 60000000LL},
        {"seconds", 1000000LL},  {"second", 1000000LL}};
    int64_t unit_us = 0;
    for (size_t k = 0; k < sizeof units / sizeof units[0] && unit != p; k++) {
        if (strcmp(unit, units[k].name) == 0)
            unit_us = units[k].us;
    }
    if (digits == 0 || unit_us == 0 || n > 100000)
        return fail(L, f, "must be \"N days\" (or N hours, minutes, seconds over a timestamp) "
                    "with N from 0 to 100000 (the frame is the rows whose order value is within "
                    "that span before the current one), got '%s'", text, NULL);
    sf_type ot = job->result_types[w->order_by];
    if (ot == SF_DATE && unit_us % 86400000000LL != 0)
        return fail(L, f, "a date order_by column '%s' takes a range in days, got '%s'",
                    job->result_names[w->order_by], text);
    if (ot != SF_DATE && ot != SF_TIMESTAMP)
        return fail(L, f, "a range needs a date or timestamp order_by column; '%s' is %s",
                    job->result_names[w->order_by], sf_type_name(ot));
    w->range = ot == SF_DATE ? n * (unit_us / 86400000000LL) : n * unit_us;
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
    json_t *comp = json_object_get(root, "compute");
    size_t cap = job->ngroup + job->naggs + nwin + (json_is_object(comp) ? json_object_size(comp)
                                                                          : 0);
    job->result_names = lalloc(L, cap * sizeof *job->result_names);
    job->result_types = lalloc(L, cap * sizeof *job->result_types);
    job->result_dec = lalloc(L, cap * sizeof *job->result_dec);
    if (!job->aggs || !job->result_names || !job->result_types || !job->result_dec)
        return nomem(L);
    for (size_t i = 0; i < job->ngroup; i++) {
        int s = job->group_slots[i];
        if ((rc = result_add_dec(L, job->slot_names[s], job->slot_types[s],
                                 sf_job_slot_dec(job, s), "group_by")) != 0)
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
        a->dec = sf_expr_decimal(a->expr);
        /* No output format can hold a column typed null (the HDF5 reader
         * cannot read one back), and such a column is always empty. */
        if (a->type == SF_NULL)
            return fail(L, field, "the aggregate is always null; give its argument a type, "
                        "e.g. max(if(false, 0, null))", NULL, NULL);
        if ((rc = result_add_dec(L, a->name, a->type, a->dec, field)) != 0)
            return rc;
    }

    job->nwindows = nwin;
    job->windows = lalloc(L, (nwin ? nwin : 1) * sizeof *job->windows);
    if (!job->windows)
        return nomem(L);
    k = 0;
    json_object_foreach(wins, name, val) {
        static const char *const fields[] = {"function", "column", "preceding",
                                             "partition_by", "order_by", "range", NULL};
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
        if ((w->func == SF_AGG_SUM || w->func == SF_AGG_MEAN) && ct != SF_INT &&
            ct != SF_DOUBLE && ct != SF_DECIMAL)
            return fail(L, field, "%s() needs a numeric column; '%s' is not", fn, col);
        if ((w->func == SF_AGG_MIN || w->func == SF_AGG_MAX) && ct == SF_BOOL)
            return fail(L, field, "%s() cannot take the bool column '%s'", fn, col);
        w->type = w->func == SF_AGG_MEAN && ct != SF_DECIMAL ? SF_DOUBLE : ct;
        if (ct == SF_DECIMAL) {
            sf_dec_type cd = sf_job_result_dec(job, w->column);
            w->dec = w->func == SF_AGG_SUM    ? sf_dec_type_sum(cd)
                     : w->func == SF_AGG_MEAN ? sf_dec_type_mean(cd)
                                              : cd;
        }
        json_t *pre = json_object_get(val, "preceding");
        w->range = -1;
        if (pre && json_object_get(val, "range"))
            return fail(L, field, "give one of \"preceding\" (rows) and \"range\" (e.g. "
                        "\"6 days\"), not both", NULL, NULL);
        if (!pre && !json_object_get(val, "range"))
            return fail(L, field, "needs \"preceding\" (rows before the current one) or "
                        "\"range\" (e.g. \"6 days\")", NULL, NULL);
        if (pre && (!json_is_integer(pre) || json_integer_value(pre) < 0 ||
                    json_integer_value(pre) > 1000000))
            return fail(L, field, "preceding must be an integer from 0 to 1000000 (rows before "
                        "the current one)", NULL, NULL);
        w->preceding = pre ? (int)json_integer_value(pre) : 0;
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
        if (!pre && (rc = load_window_range(L, val, field, w)) != 0)
            return rc;
    }
    /* Windows are added after all aggregates so a window can read any
     * aggregate but not another window. */
    for (size_t i = 0; i < nwin; i++) {
        char field[300];
        snprintf(field, sizeof field, "windows.%s", job->windows[i].name);
        if ((rc = result_add_dec(L, job->windows[i].name, job->windows[i].type,
                                 job->windows[i].dec, field)) != 0)
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

/* "sort_by": result column names, each optionally followed by " desc" or
 * " asc" ("revenue desc"); a name may not be listed twice. */
static int load_sort_by(loader *L, json_t *arr, sf_job_output *o)
{
    const char *field = "output.sort_by";
    if (!json_is_array(arr))
        return fail(L, field, "must be an array of result column names, each optionally "
                    "followed by \" desc\" or \" asc\"", NULL, NULL);
    size_t n = json_array_size(arr);
    o->sort_by = lalloc(L, (n ? n : 1) * sizeof(int));
    o->sort_desc = lalloc(L, n ? n : 1);
    if (!o->sort_by || !o->sort_desc)
        return nomem(L);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v))
            return fail(L, field, "must be an array of result column names, each optionally "
                        "followed by \" desc\" or \" asc\"", NULL, NULL);
        const char *text = json_string_value(v);
        char name[256];
        size_t len = strlen(text);
        int desc = 0;
        const char *sp = strrchr(text, ' ');
        if (sp && (strcmp(sp + 1, "desc") == 0 || strcmp(sp + 1, "asc") == 0)) {
            desc = sp[1] == 'd';
            len = (size_t)(sp - text);
            while (len > 0 && text[len - 1] == ' ')
                len--;
        }
        if (len >= sizeof name)
            return fail(L, field, "unknown result column '%.200s'", text, NULL);
        memcpy(name, text, len);
        name[len] = '\0';
        int idx = sf_job_result_index(&L->impl->job, name);
        if (idx < 0 && sp && !desc && strcmp(sp + 1, "asc") != 0)
            return fail(L, field, "unknown result column '%s' (a direction is \" desc\" or "
                        "\" asc\" after the name, e.g. \"revenue desc\")", text, NULL);
        if (idx < 0)
            return fail(L, field, "unknown result column '%s'", name, NULL);
        for (size_t j = 0; j < i; j++) {
            if (o->sort_by[j] == idx)
                return fail(L, field, "'%s' is listed twice", name, NULL);
        }
        o->sort_by[i] = idx;
        o->sort_desc[i] = (unsigned char)desc;
    }
    o->nsort = n;
    return 0;
}

/* "limit": N >= 0 rows of the sorted result; absent: -1 (every row). */
static int load_limit(loader *L, json_t *out, sf_job_output *o)
{
    json_t *lim = json_object_get(out, "limit");
    o->limit = -1;
    if (!lim)
        return 0;
    if (!json_is_integer(lim) || json_integer_value(lim) < 0)
        return fail(L, "output.limit", "must be an integer >= 0 (the number of rows kept, in "
                    "sort_by order)", NULL, NULL);
    o->limit = (int64_t)json_integer_value(lim);
    return 0;
}

/* Columns a "compute" expression may read: every result column so far. */
static int resolve_result(void *ctx, const char *name, size_t len, int *slot, sf_type *type)
{
    const sf_job *job = ctx;
    for (size_t i = 0; i < job->nresult; i++) {
        if (strlen(job->result_names[i]) == len && memcmp(job->result_names[i], name, len) == 0) {
            *slot = (int)i;
            *type = job->result_types[i];
            return 0;
        }
    }
    return -1;
}

/* "compute": {"NAME": "EXPR", ...}, after the windows, in order. */
static int load_compute(loader *L, json_t *root)
{
    sf_job *job = &L->impl->job;
    json_t *comp = json_object_get(root, "compute");
    job->computes = NULL;
    job->ncomputes = 0;
    if (!comp)
        return 0;
    if (!json_is_object(comp))
        return fail(L, "compute", "must be an object of name -> expression over result "
                    "columns, e.g. {\"month\": \"format_date(date, '%%Y-%%m')\"}", NULL, NULL);
    size_t n = json_object_size(comp);
    job->computes = lalloc(L, (n ? n : 1) * sizeof *job->computes);
    if (!job->computes)
        return nomem(L);
    const char *name;
    json_t *val;
    json_object_foreach(comp, name, val) {
        char field[300];
        snprintf(field, sizeof field, "compute.%s", name);
        if (!is_ident(name))
            return fail(L, field, "column name '%s' must be an identifier", name, NULL);
        if (!json_is_string(val))
            return fail(L, field, "must be an expression string", NULL, NULL);
        const char *text = expand_params(L, json_string_value(val), field);
        if (!text)
            return L->err->code;
        sf_expr_columns cols = {resolve_result, job, resolve_result_dec};
        sf_error e;
        sf_error_clear(&e);
        sf_job_compute *c = &job->computes[job->ncomputes];
        c->expr = sf_expr_parse(text, &cols, 0, &e);
        if (!c->expr) {
            if (e.code == SF_E_NOMEM)
                return nomem(L);
            sf_error_set(L->err, SF_E_SPEC, "%s: %s%s: %s", L->source, L->prefix, field, e.msg);
            L->err->line = e.line;
            L->err->column = e.column;
            return SF_E_SPEC;
        }
        job->ncomputes++;
        c->name = ldup(L, name);
        c->column = (int)job->nresult;
        sf_type t = sf_expr_type(c->expr);
        if (t == SF_NULL)
            return fail(L, field, "the expression is always null; give it a type, e.g. "
                        "cast(null, 'int64')", NULL, NULL);
        int rc = result_add_dec(L, c->name, t, sf_expr_decimal(c->expr), field);
        if (rc)
            return rc;
    }
    return 0;
}

/* A date text of "grid" (start, end); "" or absent: *given = 0. */
static int grid_date(loader *L, json_t *g, const char *key, int *given, int32_t *out)
{
    char field[64];
    snprintf(field, sizeof field, "grid.%s", key);
    int rc = 0;
    const char *text = get_string(L, g, key, "grid", 0, &rc);
    if (rc)
        return rc;
    *given = 0;
    if (text && !(text = expand_params(L, text, field)))
        return L->err->code;
    if (!text || !*text)
        return 0;
    if (sf_parse_iso_date(text, strlen(text), out) != 0)
        return fail(L, field, "must be a date YYYY-MM-DD (or \"\" for the first / last date of "
                    "the groups), got '%s'", text, NULL);
    *given = 1;
    return 0;
}

/* "grid" without a dimension: every date of [start, end] (a calendar);
 * group_by is that date alone. */
static int load_calendar_grid(loader *L, json_t *gj, const char *key, const char *from,
                              const char *date)
{
    sf_job *job = &L->impl->job;
    sf_job_grid *g = &job->grid;
    if (key || from)
        return fail(L, "grid", "\"%s\" needs a \"dimension\" (without one the grid is every "
                    "date of the range)", key ? "key" : "from", NULL);
    g->key = -1;
    g->input = -1;
    g->from_col = -1;
    g->date = sf_job_result_index(job, date);
    if (job->ngroup != 1 || g->date != 0)
        return fail(L, "grid", "group_by must be exactly the grid's date ('%s')", date, NULL);
    if (job->result_types[0] != SF_DATE)
        return fail(L, "grid.date", "'%s' must be a date group key", date, NULL);
    int rc;
    if ((rc = grid_date(L, gj, "start", &g->has_start, &g->start)) != 0 ||
        (rc = grid_date(L, gj, "end", &g->has_end, &g->end)) != 0)
        return rc;
    g->on = 1;
    return 0;
}

/* "grid": {"dimension", "key", "date", "from", "start", "end"}. */
static int load_grid(loader *L, json_t *root)
{
    static const char *const fields[] = {"dimension", "key", "date", "from", "start", "end",
                                         NULL};
    sf_job *job = &L->impl->job;
    sf_job_grid *g = &job->grid;
    memset(g, 0, sizeof *g);
    json_t *gj = json_object_get(root, "grid");
    if (!gj)
        return 0;
    int rc;
    if (!json_is_object(gj))
        return fail(L, "grid", "must be an object {\"dimension\", \"key\", \"date\", ...}",
                    NULL, NULL);
    if ((rc = check_fields(L, gj, "grid", fields)) != 0)
        return rc;
    const char *dim = get_string(L, gj, "dimension", "grid", 0, &rc);
    const char *key = rc ? NULL : get_string(L, gj, "key", "grid", dim != NULL, &rc);
    const char *date = rc ? NULL : get_string(L, gj, "date", "grid", 1, &rc);
    const char *from = rc ? NULL : get_string(L, gj, "from", "grid", 0, &rc);
    if (rc)
        return rc;
    if (!dim)
        return load_calendar_grid(L, gj, key, from, date);
    g->input = sf_job_input_index(job, dim);
    if (g->input < 0 || job->inputs[g->input].is_fact)
        return fail(L, "grid.dimension", "'%s' is not a dimension input", dim, NULL);
    const sf_job_input *in = &job->inputs[g->input];
    g->key = sf_job_result_index(job, key);
    g->date = sf_job_result_index(job, date);
    if (job->ngroup != 2 || g->key < 0 || g->date < 0 || (size_t)g->key >= job->ngroup ||
        (size_t)g->date >= job->ngroup || g->key == g->date)
        return fail(L, "grid", "group_by must be exactly the grid's key and date ('%s' and "
                    "'%s')", key, date);
    if (job->result_types[g->date] != SF_DATE)
        return fail(L, "grid.date", "'%s' must be a date group key", date, NULL);
    if (job->result_types[g->key] != in->columns[in->key_col].type)
        return fail(L, "grid.key", "'%s' must have the type of the key of dimension '%s'", key,
                    dim);
    g->from_col = -1;
    for (size_t i = 0; from && i < in->ncolumns; i++) {
        if (strcmp(in->columns[i].name, from) == 0)
            g->from_col = (int)i;
    }
    if (from && (g->from_col < 0 || in->columns[g->from_col].type != SF_DATE))
        return fail(L, "grid.from", "'%s' is not a date column of dimension '%s'", from, dim);
    if ((rc = grid_date(L, gj, "start", &g->has_start, &g->start)) != 0 ||
        (rc = grid_date(L, gj, "end", &g->has_end, &g->end)) != 0)
        return rc;
    g->on = 1;
    return 0;
}

/* Columns a "having" expression may read: group keys and aggregates (not
 * windows, which are computed after it); the slot is the result index. */
static int resolve_having(void *ctx, const char *name, size_t len, int *slot, sf_type *type)
{
    const sf_job *job = ctx;
    for (size_t i = 0; i < job->ngroup + job->naggs; i++) {
        if (strlen(job->result_names[i]) == len && memcmp(job->result_names[i], name, len) == 0) {
            *slot = (int)i;
            *type = job->result_types[i];
            return 0;
        }
    }
    return -1;
}

/* Top-level "having": a bool expression over group keys and aggregates,
 * applied to the result rows before windows, sort and limit. */
static int load_having(loader *L, json_t *root)
{
    sf_job *job = &L->impl->job;
    json_t *h = json_object_get(root, "having");
    if (!h)
        return 0;
    if (!json_is_string(h))
        return fail(L, "having", "must be an expression string over group keys and "
                    "aggregates, e.g. \"revenue > 100\"", NULL, NULL);
    sf_expr_columns cols = {resolve_having, job, resolve_result_dec};
    sf_error e;
    sf_error_clear(&e);
    const char *text = expand_params(L, json_string_value(h), "having");
    if (!text)
        return L->err->code;
    job->having = sf_expr_parse(text, &cols, 0, &e);
    if (!job->having) {
        if (e.code == SF_E_NOMEM)
            return nomem(L);
        sf_error_set(L->err, SF_E_SPEC, "%s: %shaving: %s", L->source, L->prefix, e.msg);
        L->err->line = e.line;
        L->err->column = e.column;
        return SF_E_SPEC;
    }
    sf_type t = sf_expr_type(job->having);
    if (t != SF_BOOL && t != SF_NULL)
        return fail(L, "having", "must be a bool expression, this one is %s", sf_type_name(t),
                    NULL);
    return 0;
}

static int load_output(loader *L, json_t *root, const sf_job_overrides *ov)
{
    static const char *const fields[] = {"path",    "format",  "layout", "compression",
                                         "partition_by", "columns", "sort_by", "limit", NULL};
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
    if (!(ov && ov->output) && path && *path)
        path = spec_path(L, ov, path);
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
        if ((rc = load_sort_by(L, sb, o)) != 0)
            return rc;
    } else {
        o->sort_by = lalloc(L, (job->ngroup ? job->ngroup : 1) * sizeof(int));
        o->sort_desc = lalloc(L, job->ngroup ? job->ngroup : 1);
        if (!o->sort_by || !o->sort_desc)
            return nomem(L);
        for (size_t i = 0; i < job->ngroup; i++) {
            if (!contains(o->partition_by, o->npartition, (int)i))
                o->sort_by[o->nsort++] = (int)i;
        }
    }
    return load_limit(L, out, o);
}

/* Output directory of element k of "outputs" when --output OUT is given:
 * OUT/<name>, a new string in the job's arena (NULL: out of memory). */
static char *output_dir_of(loader *L, const char *out, const char *name)
{
    size_t n = strlen(out) + strlen(name) + 2;
    char *p = lalloc(L, n);
    if (p)
        snprintf(p, n, "%s%s%s", out, out[0] && out[strlen(out) - 1] == '/' ? "" : "/", name);
    return p;
}

/* 1 when directory a is b or lies inside it (by its text). */
static int path_within(const char *a, const char *b)
{
    size_t n = strlen(b);
    while (n > 1 && b[n - 1] == '/')
        n--;
    return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* One output's group_by, aggregates, windows, having and output from obj
 * (the spec itself, or an element of "outputs"), into the job's own
 * fields; then a view of the job (a shallow copy: inputs, slots and steps
 * shared) holds them as job->outputs[job->noutputs++]. */
/* Result columns of an output that does not aggregate: one per column of
 * the given list (a row output: the row's slots; a dimension output: the
 * dimension's columns), with room for the computed columns after them. */
static int load_plain_results(loader *L, json_t *obj, const char *const *names,
                              const sf_type *types, const sf_dec_type *decs, size_t n)
{
    sf_job *job = &L->impl->job;
    json_t *comp = json_object_get(obj, "compute");
    size_t cap = n + (json_is_object(comp) ? json_object_size(comp) : 0);
    job->result_names = lalloc(L, (cap ? cap : 1) * sizeof *job->result_names);
    job->result_types = lalloc(L, (cap ? cap : 1) * sizeof *job->result_types);
    job->result_dec = lalloc(L, (cap ? cap : 1) * sizeof *job->result_dec);
    job->windows = lalloc(L, sizeof *job->windows);
    if (!job->result_names || !job->result_types || !job->result_dec || !job->windows)
        return nomem(L);
    for (size_t i = 0; i < n; i++) {
        int rc = result_add_dec(L, names[i], types[i], decs ? decs[i] : (sf_dec_type){0, 0},
                                "columns");
        if (rc)
            return rc;
    }
    return 0;
}

/* What the output reads: "dimension" (a dimension input's rows), "from" (an
 * earlier output's result rows), neither group_by nor aggregates (the fact
 * rows themselves), or the fact rows grouped. Fields that do not fit the
 * kind are refused. Sets job->kind, kind_input, kind_from; for a row or
 * dimension output also its result columns. */
static int load_kind(loader *L, json_t *obj)
{
    sf_job *job = &L->impl->job;
    int rc = 0;
    const char *dim = get_string(L, obj, "dimension", "dimension", 0, &rc);
    const char *from = rc ? NULL : get_string(L, obj, "from", "from", 0, &rc);
    if (rc)
        return rc;
    int grouped = json_object_get(obj, "group_by") || json_object_get(obj, "aggregates");
    job->kind = dim ? SF_OUT_DIMENSION : from ? SF_OUT_STAGE
                : grouped ? SF_OUT_GROUPS : SF_OUT_ROWS;
    if (dim && from)
        return fail(L, "from", "an output reads a \"dimension\" or an output (\"from\"), not "
                    "both", NULL, NULL);
    static const char *const not_rows[] = {"group_by", "aggregates", "windows", "grid",
                                           "having", NULL};
    const char *what = job->kind == SF_OUT_DIMENSION ? "a dimension output (its rows are the "
                       "dimension's)" : "a row output (no group_by: each row is written)";
    for (size_t i = 0; not_rows[i] && (job->kind == SF_OUT_ROWS ||
                                       job->kind == SF_OUT_DIMENSION); i++) {
        if (json_object_get(obj, not_rows[i]))
            return fail(L, not_rows[i], "is not for %s", what, NULL);
    }
    if (job->kind == SF_OUT_ROWS) {
        sf_dec_type *decs = lalloc(L, (job->nslots ? job->nslots : 1) * sizeof *decs);
        if (!decs)
            return nomem(L);
        for (size_t i = 0; i < job->nslots; i++)
            decs[i] = sf_job_slot_dec(job, (int)i);
        return load_plain_results(L, obj, job->slot_names, job->slot_types, decs, job->nslots);
    }
    if (job->kind == SF_OUT_DIMENSION) {
        job->kind_input = sf_job_input_index(job, dim);
        if (job->kind_input < 0 || job->inputs[job->kind_input].is_fact)
            return fail(L, "dimension", "'%s' is not a dimension input", dim, NULL);
        const sf_job_input *in = &job->inputs[job->kind_input];
        const char **names = lalloc(L, in->ncolumns * sizeof *names);
        sf_type *types = lalloc(L, in->ncolumns * sizeof *types);
        sf_dec_type *decs = lalloc(L, in->ncolumns * sizeof *decs);
        if (!names || !types || !decs)
            return nomem(L);
        for (size_t i = 0; i < in->ncolumns; i++) {
            names[i] = in->columns[i].name;
            types[i] = in->columns[i].type;
            decs[i] = in->columns[i].dec;
        }
        return load_plain_results(L, obj, names, types, decs, in->ncolumns);
    }
    if (job->kind == SF_OUT_STAGE) {
        for (size_t k = 0; k < job->noutputs; k++) {
            if (strcmp(job->outputs[k].output_name, from) == 0)
                job->kind_from = (int)k;
        }
        if (job->kind_from < 0)
            return fail(L, "from", "no earlier output is named '%s' (a stage reads an output "
                        "listed before it)", from, NULL);
        if (job->outputs[job->kind_from].output.limit >= 0)
            return fail(L, "from", "output '%s' has a limit; a stage reads every result row "
                        "of the output it names (drop the limit, or read another output)",
                        from, NULL);
    }
    return 0;
}

/* A stage ("from") reads the result rows of an earlier output: while its
 * fields load, that output's result columns are the columns expressions
 * see (the view keeps them as its slots). Called with restore 0 before,
 * 1 after. */
static void stage_columns(loader *L, sf_job *saved, int restore)
{
    sf_job *job = &L->impl->job;
    if (restore) {
        job->slot_names = saved->slot_names;
        job->slot_types = saved->slot_types;
        job->nslots = saved->nslots;
        job->slot_dec = saved->slot_dec;
        job->nslot_dec = saved->nslot_dec;
        return;
    }
    *saved = *job;
    const sf_job *src = &job->outputs[job->kind_from];
    job->slot_names = src->result_names;
    job->slot_types = src->result_types;
    job->nslots = src->nresult;
    job->slot_dec = src->result_dec;
    job->nslot_dec = src->nresult_dec;
}

static int load_one_output(loader *L, json_t *obj, const sf_job_overrides *ov, const char *name)
{
    sf_job *job = &L->impl->job;
    /* The previous output's view holds its results; start this one empty. */
    job->group_slots = NULL;
    job->ngroup = 0;
    job->nresult = 0;
    job->result_names = NULL;
    job->result_types = NULL;
    job->result_dec = NULL;
    job->nresult_dec = 0;
    job->windows = NULL;
    job->nwindows = 0;
    memset(&job->output, 0, sizeof job->output);
    job->kind = SF_OUT_GROUPS;
    job->kind_input = job->kind_from = -1;
    job->read_by_stage = 0;
    int rc = load_kind(L, obj);
    if (rc)
        return rc;
    sf_job saved = *job;
    if (job->kind == SF_OUT_STAGE)
        stage_columns(L, &saved, 0);
    if (job->kind == SF_OUT_GROUPS || job->kind == SF_OUT_STAGE)
        rc = load_aggregates(L, obj);
    if (rc == 0)
        rc = load_compute(L, obj);
    if (rc == 0)
        rc = load_grid(L, obj);
    if (rc == 0)
        rc = load_output(L, obj, ov);
    if (rc == 0)
        rc = load_having(L, obj);
    sf_job *v = &job->outputs[job->noutputs];
    if (rc == 0) {
        *v = *job;
        job->noutputs++;
    }
    if (job->kind == SF_OUT_STAGE) {
        stage_columns(L, &saved, 1);
        if (rc == 0)
            job->outputs[job->kind_from].read_by_stage = 1;
    }
    if (rc)
        return rc;
    v->outputs = NULL;
    v->noutputs = 0;
    v->output_name = name;
    /* The view owns them now (sf_job_free frees each view's). */
    job->aggs = NULL;
    job->naggs = 0;
    job->having = NULL;
    job->computes = NULL;
    job->ncomputes = 0;
    return 0;
}

/* The single-output form (group_by, aggregates, ... at the top level) or
 * "outputs": [{name, group_by, aggregates, having, windows, output}, ...].
 * Either way job->outputs holds one view per output and the job's own
 * result fields mirror outputs[0]. */
static int load_outputs(loader *L, json_t *root, const sf_job_overrides *ov)
{
    static const char *const fields[] = {"name", "group_by", "aggregates", "having",
                                         "windows", "compute", "grid", "output",
                                         "dimension", "from", NULL};
    static const char *const top[] = {"group_by", "aggregates", "windows", "output", "having",
                                      "compute", "grid", NULL};
    sf_job *job = &L->impl->job;
    json_t *outs = json_object_get(root, "outputs");
    size_t n = outs ? json_array_size(outs) : 1;
    if (outs && (!json_is_array(outs) || n == 0 || n > 64))
        return fail(L, "outputs", "must be an array of 1 to 64 outputs, each {\"name\", "
                    "\"group_by\", \"aggregates\", \"output\", ...}", NULL, NULL);
    for (size_t i = 0; outs && top[i]; i++) {
        if (json_object_get(root, top[i]))
            return fail(L, top[i], "with \"outputs\", each output has its own \"%s\"; move it "
                        "into the outputs", top[i], NULL);
    }
    job->outputs = lalloc(L, n * sizeof *job->outputs);
    if (!job->outputs)
        return nomem(L);
    int rc = 0;
    if (!outs) {
        rc = load_one_output(L, root, ov, NULL);
    } else {
        for (size_t k = 0; k < n && !rc; k++) {
            json_t *o = json_array_get(outs, k);
            char field[64];
            snprintf(field, sizeof field, "outputs[%zu]", k);
            if (!json_is_object(o))
                return fail(L, field, "must be an object {\"name\", \"group_by\", "
                            "\"aggregates\", \"output\", ...}", NULL, NULL);
            if ((rc = check_fields(L, o, field, fields)) != 0)
                return rc;
            const char *name = get_string(L, o, "name", field, 1, &rc);
            if (rc)
                return rc;
            if (!is_ident(name))
                return fail(L, field, "name '%s' must be an identifier (it names the output's "
                            "directory under --output)", name, NULL);
            for (size_t j = 0; j < k; j++) {
                if (strcmp(job->outputs[j].output_name, name) == 0)
                    return fail(L, field, "two outputs are named '%s'", name, NULL);
            }
            sf_job_overrides ovk = ov ? *ov : (sf_job_overrides){0};
            if (ov && ov->output && !(ovk.output = output_dir_of(L, ov->output, name)))
                return nomem(L);
            char prefix[80];
            snprintf(prefix, sizeof prefix, "%s.", field);
            L->prefix = ldup(L, prefix);
            const char *dup = ldup(L, name);
            if (!L->prefix || !dup)
                return nomem(L);
            rc = load_one_output(L, o, &ovk, dup);
            L->prefix = "";
            for (size_t j = 0; j < k && !rc; j++) {
                const char *a = job->outputs[k].output.path, *b = job->outputs[j].output.path;
                if (path_within(a, b) || path_within(b, a))
                    return fail(L, field, "output.path '%s' is the directory of output '%s' or "
                                "inside it (or around it); give each output its own",
                                a, job->outputs[j].output_name);
            }
        }
    }
    if (rc)
        return rc;
    sf_job *outputs = job->outputs;
    size_t count = job->noutputs;
    *job = job->outputs[0]; /* same inputs and steps; outputs[0]'s results */
    job->outputs = outputs;
    job->noutputs = count;
    job->output_name = NULL;
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
                                         "aggregates", "windows", "output", "having", "outputs",
                                         "params", "compute", "grid", "memory_limit", NULL};
    sf_error_clear(err);
    *out = NULL;
    job_impl *impl = calloc(1, sizeof *impl);
    if (!impl)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", source);
    sf_arena_init(&impl->arena, 16 * 1024);
    loader L = {impl, err, source, 0, 0, "", NULL, NULL, 0};
    sf_job *job = &impl->job;
    job->source = ldup(&L, source);
    job->fact = -1;
    job->dedupe_step = -1;

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
    } else if (json_object_get(root, "limit") || json_object_get(root, "sort_by")) {
        /* Next to "having" at the top level is where a SQL user looks. */
        const char *f = json_object_get(root, "limit") ? "limit" : "sort_by";
        rc = fail(&L, f, "belongs in \"output\", with the order it limits: \"output\": "
                  "{\"sort_by\": [\"revenue desc\"], \"limit\": 10}", NULL, NULL);
    } else if ((rc = check_fields(&L, root, "(top level)", fields)) == 0) {
        const char *name = get_string(&L, root, "name", "name", 0, &rc);
        if (rc == 0) {
            job->name = ldup(&L, name ? name : "job");
            if (!job->source || !job->name)
                rc = nomem(&L);
        }
        if (rc == 0)
            rc = load_params(&L, root, ov);
        if (rc == 0)
            rc = load_inputs(&L, root, ov);
        if (rc == 0)
            rc = load_steps(&L, root);
        if (rc == 0)
            rc = load_memory_limit(&L, root); /* before the output views copy the job */
        if (rc == 0)
            rc = load_outputs(&L, root, ov);
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
    for (size_t k = 0; k < job->noutputs; k++) {
        const sf_job *v = &job->outputs[k];
        for (size_t i = 0; v->aggs && i < v->naggs; i++)
            sf_expr_free(v->aggs[i].expr);
        sf_expr_free(v->having);
        for (size_t i = 0; v->computes && i < v->ncomputes; i++)
            sf_expr_free(v->computes[i].expr);
    }
    /* The job's own fields mirror outputs[0]; while an output was being
     * loaded (a failed load) they held that output alone. */
    int mirrored = job->noutputs > 0 && job->aggs == job->outputs[0].aggs;
    for (size_t i = 0; !mirrored && job->aggs && i < job->naggs; i++)
        sf_expr_free(job->aggs[i].expr);
    if (!mirrored || job->having != job->outputs[0].having)
        sf_expr_free(job->having);
    int cmirrored = job->noutputs > 0 && job->computes == job->outputs[0].computes;
    for (size_t i = 0; !cmirrored && job->computes && i < job->ncomputes; i++)
        sf_expr_free(job->computes[i].expr);
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
