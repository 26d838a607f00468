/* manifest.c - the pieces of _MANIFEST.json, and its reader. */
#include "io/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "io/fsutil.h"

int sf_out_files_add(sf_out_file **files, size_t *n, const char *rel, uint64_t rows,
                     uint64_t bytes)
{
    sf_out_file *f = realloc(*files, (*n + 1) * sizeof *f);
    if (!f)
        return SF_E_NOMEM;
    *files = f;
    snprintf(f[*n].path, sizeof f->path, "%s", rel);
    f[*n].rows = rows;
    f[*n].bytes = bytes;
    (*n)++;
    return 0;
}

static int cmp_files(const void *a, const void *b)
{
    return strcmp(((const sf_out_file *)a)->path, ((const sf_out_file *)b)->path);
}

void sf_out_files_sort(sf_out_file *files, size_t n)
{
    if (n > 1)
        qsort(files, n, sizeof *files, cmp_files);
}

int sf_manifest_samples(sf_buf *m, const sf_reject_sample *s, size_t n,
                        const char *const *paths)
{
    int rc = sf_buf_printf(m, "[");
    for (size_t i = 0; i < n; i++) {
        const char *path = paths[s[i].file];
        rc |= sf_buf_printf(m, "%s\n    {\"file\": ", i ? "," : "");
        rc |= sf_buf_json_string(m, path, strlen(path));
        rc |= sf_buf_printf(m, ", \"offset\": %llu, \"reason\": \"%s\", \"message\": ",
                            (unsigned long long)s[i].offset,
                            sf_reject_reason_name((sf_reject_reason)s[i].reason));
        rc |= sf_buf_json_string(m, s[i].msg, strlen(s[i].msg));
        rc |= sf_buf_printf(m, "}");
    }
    rc |= sf_buf_printf(m, "%s]", n ? "\n  " : "");
    return rc ? SF_E_NOMEM : 0;
}

int sf_manifest_files(sf_buf *m, const sf_out_file *files, size_t n, const char *run_id)
{
    int rc = sf_buf_printf(m, "[");
    for (size_t i = 0; i < n; i++) {
        rc |= sf_buf_printf(m, "%s\n    {\"path\": ", i ? "," : "");
        rc |= sf_buf_json_string(m, files[i].path, strlen(files[i].path));
        rc |= sf_buf_printf(m, ", \"rows\": %llu, \"bytes\": %llu, \"run_id\": ",
                            (unsigned long long)files[i].rows,
                            (unsigned long long)files[i].bytes);
        rc |= sf_buf_json_string(m, run_id, strlen(run_id));
        rc |= sf_buf_printf(m, "}");
    }
    rc |= sf_buf_printf(m, "%s]", n ? "\n  " : "");
    return rc ? SF_E_NOMEM : 0;
}

int sf_manifest_begin(sf_buf *m, const char *key, const char *value, const char *runid,
                      int ranks, const char *schedule)
{
    int rc = sf_buf_printf(m, "{\n  \"shardflow_version\": \"%s\",\n  \"%s\": ", SF_VERSION, key);
    rc |= sf_buf_json_string(m, value, strlen(value));
    rc |= sf_buf_printf(m, ",\n  \"run_id\": \"%s\",\n  \"ranks\": %d,\n  \"schedule\": \"%s\"",
                        runid, ranks, schedule);
    return rc ? SF_E_NOMEM : 0;
}

int sf_manifest_reasons(sf_buf *m, const uint64_t *counts)
{
    int rc = sf_buf_printf(m, "{"), first = 1;
    for (int r = 0; r < SF_REJ_NREASONS; r++) {
        if (!counts[r])
            continue;
        rc |= sf_buf_printf(m, "%s\"%s\": %llu", first ? "" : ", ",
                            sf_reject_reason_name((sf_reject_reason)r),
                            (unsigned long long)counts[r]);
        first = 0;
    }
    rc |= sf_buf_printf(m, "}");
    return rc ? SF_E_NOMEM : 0;
}

int sf_manifest_strings(sf_buf *m, const char *const *v, size_t n)
{
    int rc = sf_buf_printf(m, "[");
    for (size_t i = 0; i < n; i++) {
        rc |= sf_buf_printf(m, "%s", i ? ", " : "");
        rc |= sf_buf_json_string(m, v[i], strlen(v[i]));
    }
    rc |= sf_buf_printf(m, "]");
    return rc ? SF_E_NOMEM : 0;
}

int sf_manifest_u64s(sf_buf *m, const uint64_t *v, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        rc |= sf_buf_printf(m, "%s%llu", i ? ", " : "", (unsigned long long)v[i]);
    return rc ? SF_E_NOMEM : 0;
}

void sf_manifest_columns_free(sf_manifest_columns *c)
{
    for (size_t i = 0; c->names && i < c->ncols; i++)
        free(c->names[i]);
    for (size_t i = 0; c->sort_by && i < c->nsort; i++)
        free(c->sort_by[i]);
    free(c->names);
    free(c->types);
    free(c->sort_by);
    free(c->decs);
    free(c->sort_desc);
    memset(c, 0, sizeof *c);
}

/* DIR/_MANIFEST.json parsed, or NULL when it cannot be read or parsed
 * (new reference: json_decref it). */
static json_t *load_manifest(const char *dir)
{
    size_t n = strlen(dir) + sizeof "/_MANIFEST.json";
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/_MANIFEST.json", dir);
    json_t *m = path ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    return m;
}

int sf_manifest_read_columns(const char *dir, sf_manifest_columns *c)
{
    memset(c, 0, sizeof *c);
    json_t *m = load_manifest(dir);
    json_t *out = json_object_get(m, "output");
    json_t *cols = json_object_get(out, "columns"), *sort = json_object_get(out, "sort_by");
    int ok = json_is_array(cols) && json_is_array(sort) && json_array_size(cols) > 0;
    if (ok) {
        c->ncols = json_array_size(cols);
        c->nsort = json_array_size(sort);
        c->names = calloc(c->ncols, sizeof *c->names);
        c->types = calloc(c->ncols, sizeof *c->types);
        c->decs = calloc(c->ncols, sizeof *c->decs);
        c->sort_by = calloc(c->nsort ? c->nsort : 1, sizeof *c->sort_by);
        c->sort_desc = calloc(c->nsort ? c->nsort : 1, 1);
        ok = c->names && c->types && c->sort_by && c->decs && c->sort_desc;
    }
    for (size_t i = 0; ok && i < c->ncols; i++) {
        json_t *col = json_array_get(cols, i);
        const char *t = json_string_value(json_object_get(col, "type"));
        ok = t && sf_type_parse_full(t, &c->types[i], &c->decs[i]) == 0;
        /* A column without a name (NULL) matches no sort column. */
        const char *name = json_string_value(json_object_get(col, "name"));
        if (ok)
            ok = (c->names[i] = name ? strdup(name) : NULL) != NULL || !name;
    }
    for (size_t k = 0; ok && k < c->nsort; k++) {
        /* A sort entry that is not a string matches no column. */
        const char *name = json_string_value(json_array_get(sort, k));
        ok = (c->sort_by[k] = name ? strdup(name) : NULL) != NULL || !name;
        /* "NAME desc" / "NAME asc": the direction, then the bare name. */
        char *sp = ok && c->sort_by[k] ? strrchr(c->sort_by[k], ' ') : NULL;
        if (sp && (strcmp(sp, " desc") == 0 || strcmp(sp, " asc") == 0)) {
            c->sort_desc[k] = sp[1] == 'd';
            *sp = '\0';
        }
    }
    json_decref(m);
    if (!ok)
        sf_manifest_columns_free(c);
    return ok;
}

static uint64_t json_u64(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

int sf_manifest_read_counts(const char *dir, sf_manifest_counts *c)
{
    memset(c, 0, sizeof *c);
    json_t *m = load_manifest(dir);
    json_t *counts = json_object_get(m, "counts");
    int ok = json_is_object(counts);
    if (ok) {
        c->lines_read = json_u64(json_object_get(counts, "lines_read"));
        c->rows_rejected = json_u64(json_object_get(counts, "rows_rejected"));
        c->output_rows = json_u64(json_object_get(counts, "output_rows"));
        json_t *dup = json_object_get(counts, "duplicates_dropped");
        c->has_duplicates = dup != NULL;
        c->duplicates_dropped = json_u64(dup);
        c->bad_records = json_u64(json_object_get(m, "bad_records"));
        const char *mode = json_string_value(json_object_get(m, "mode"));
        snprintf(c->mode, sizeof c->mode, "%s", mode ? mode : "");
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(counts, "rejected_by_reason"), key, v)
        {
            if (c->nreasons == SF_MANIFEST_REASONS)
                break;
            snprintf(c->reason[c->nreasons], sizeof c->reason[0], "%s", key);
            c->reason_count[c->nreasons++] = json_u64(v);
        }
    }
    json_decref(m);
    return ok;
}

int sf_manifest_read_runs(const char *dir, sf_manifest_run **runs, size_t *n, sf_error *err)
{
    *runs = NULL;
    *n = 0;
    size_t plen = strlen(dir) + sizeof "/_MANIFEST.json";
    char *path = malloc(plen);
    if (!path)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    snprintf(path, plen, "%s/_MANIFEST.json", dir);
    char *data = NULL;
    size_t len = 0;
    int rc = sf_read_file(path, &data, &len, err); /* its errors name the path */
    if (!rc) {
        rc = sf_manifest_runs(data, len, runs, n, err);
        if (rc == SF_E_PARSE)
            sf_error_prefix(err, "%s", path);
    }
    free(data);
    free(path);
    return rc;
}
