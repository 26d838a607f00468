/* filelist.c - merging the manifest's file list across runs (filelist.h). */
#include "io/filelist.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sf_filelist_add(sf_filelist *fl, const char *path, uint64_t rows, uint64_t bytes,
                    const char *run_id)
{
    if (fl->n == fl->cap) {
        size_t cap = fl->cap ? fl->cap * 2 : 32;
        sf_filelist_entry *v = realloc(fl->v, cap * sizeof *v);
        if (!v)
            return SF_E_NOMEM;
        fl->v = v;
        fl->cap = cap;
    }
    sf_filelist_entry *e = &fl->v[fl->n];
    e->path = strdup(path);
    e->run_id = strdup(run_id ? run_id : "");
    if (!e->path || !e->run_id) {
        free(e->path);
        free(e->run_id);
        return SF_E_NOMEM;
    }
    e->rows = rows;
    e->bytes = bytes;
    fl->n++;
    return 0;
}

void sf_filelist_free(sf_filelist *fl)
{
    if (!fl)
        return;
    for (size_t i = 0; i < fl->n; i++) {
        free(fl->v[i].path);
        free(fl->v[i].run_id);
    }
    free(fl->v);
    fl->v = NULL;
    fl->n = fl->cap = 0;
}

/* Reads the entries of a parsed manifest. */
static int list_from_json(json_t *root, sf_filelist *fl, sf_error *err)
{
    if (!json_is_object(root))
        return sf_error_set(err, SF_E_PARSE, "manifest: not a JSON object");
    const char *top_run = json_string_value(json_object_get(root, "run_id"));
    json_t *files = json_object_get(root, "files");
    if (!files)
        return 0;
    if (!json_is_array(files))
        return sf_error_set(err, SF_E_PARSE, "manifest: \"files\" is not an array");
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *path = json_string_value(json_object_get(f, "path"));
        json_t *rows = json_object_get(f, "rows"), *bytes = json_object_get(f, "bytes");
        const char *run = json_string_value(json_object_get(f, "run_id"));
        if (!path || !json_is_integer(rows) || !json_is_integer(bytes) ||
            json_integer_value(rows) < 0 || json_integer_value(bytes) < 0)
            return sf_error_set(err, SF_E_PARSE, "manifest: files[%zu] needs a path and "
                                "non-negative integer rows and bytes", i);
        if (sf_filelist_add(fl, path, (uint64_t)json_integer_value(rows),
                            (uint64_t)json_integer_value(bytes), run ? run : top_run) != 0)
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
    }
    return 0;
}

int sf_filelist_from_manifest(const char *json, size_t len, sf_filelist *fl, sf_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return sf_error_set(err, SF_E_PARSE, "manifest: line %d: %s", je.line, je.text);
    int rc = list_from_json(root, fl, err);
    json_decref(root);
    return rc;
}

int sf_filelist_unique_name(const char *rel, const char *runid, char *out, size_t cap)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    const char *dot = strrchr(base, '.');
    /* A compression suffix belongs to the extension: "part-00000.csv.gz"
     * -> "part-00000-RUNID.csv.gz", so readers still see a .csv.gz. */
    if (dot && dot > base && (strcmp(dot, ".gz") == 0 || strcmp(dot, ".zst") == 0)) {
        const char *inner = dot - 1;
        while (inner > base && *inner != '.')
            inner--;
        if (inner > base)
            dot = inner;
    }
    if (!dot || dot == base)
        dot = rel + strlen(rel);
    int n = snprintf(out, cap, "%.*s-%s%s", (int)(dot - rel), rel, runid, dot);
    return n < 0 || (size_t)n >= cap ? SF_E_RANGE : 0;
}

int sf_filelist_in_dir(const char *rel, const char *dir, size_t dirlen)
{
    const char *slash = strrchr(rel, '/');
    size_t n = slash ? (size_t)(slash - rel) : 0;
    return n == dirlen && memcmp(rel, dir, n) == 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const sf_filelist_entry *)a)->path, ((const sf_filelist_entry *)b)->path);
}

/* 1 if some entry of next lies in the directory of rel. */
static int dir_rewritten(const sf_filelist *next, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    size_t n = slash ? (size_t)(slash - rel) : 0;
    for (size_t i = 0; i < next->n; i++) {
        if (sf_filelist_in_dir(next->v[i].path, rel, n))
            return 1;
    }
    return 0;
}

int sf_filelist_merge(const sf_filelist *prev, const sf_filelist *next, sf_merge_kind kind,
                      sf_filelist *out, size_t *kept, size_t *dropped, sf_error *err)
{
    size_t k = 0, d = 0;
    for (size_t i = 0; prev && i < prev->n; i++) {
        const sf_filelist_entry *e = &prev->v[i];
        if (kind == SF_MERGE_REPLACE_PARTITIONS && dir_rewritten(next, e->path)) {
            d++;
            continue;
        }
        if (sf_filelist_add(out, e->path, e->rows, e->bytes, e->run_id) != 0)
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
        k++;
    }
    for (size_t i = 0; i < next->n; i++) {
        const sf_filelist_entry *e = &next->v[i];
        if (sf_filelist_add(out, e->path, e->rows, e->bytes, e->run_id) != 0)
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_entry);
    for (size_t i = 1; i < out->n; i++) {
        if (strcmp(out->v[i - 1].path, out->v[i].path) == 0)
            return sf_error_set(err, SF_E_EXISTS, "'%s' is in the output already (written by "
                                "run %s); a run never replaces a file it does not replace "
                                "whole", out->v[i].path, out->v[i - 1].run_id);
    }
    if (kept)
        *kept = k;
    if (dropped)
        *dropped = d;
    return 0;
}

/* "runs": prev's run objects that still own files, in their order, then the
 * runs first seen in files; each with up-to-date "files" and "rows". */
static json_t *runs_json(json_t *prev_root, const sf_filelist *files, const char *runid,
                         const char *mode_name)
{
    json_t *runs = json_array();
    json_t *prev_runs = prev_root ? json_object_get(prev_root, "runs") : NULL;
    if (!runs)
        return NULL;
    /* Previous run objects, or one made from a manifest older than "runs". */
    json_t *seed = json_array();
    if (!seed) {
        json_decref(runs);
        return NULL;
    }
    if (json_is_array(prev_runs)) {
        json_array_extend(seed, prev_runs);
    } else if (prev_root && json_string_value(json_object_get(prev_root, "run_id"))) {
        const char *w = json_string_value(json_object_get(prev_root, "write_mode"));
        json_array_append_new(seed, json_pack("{s:O, s:s}", "run_id",
                                              json_object_get(prev_root, "run_id"),
                                              "write_mode", w ? w : "error"));
    }
    json_array_append_new(seed, json_pack("{s:s, s:s}", "run_id", runid, "write_mode",
                                          mode_name));
    size_t i;
    json_t *r;
    json_array_foreach(seed, i, r) {
        const char *id = json_string_value(json_object_get(r, "run_id"));
        if (!id)
            continue;
        size_t nf = 0;
        uint64_t rows = 0;
        for (size_t k = 0; k < files->n; k++) {
            if (strcmp(files->v[k].run_id, id) == 0) {
                nf++;
                rows += files->v[k].rows;
            }
        }
        int dup = 0;
        size_t j;
        json_t *seen;
        json_array_foreach(runs, j, seen) {
            if (strcmp(json_string_value(json_object_get(seen, "run_id")), id) == 0)
                dup = 1;
        }
        if (dup || (nf == 0 && strcmp(id, runid) != 0))
            continue;
        json_t *copy = json_deep_copy(r);
        json_object_set_new(copy, "files", json_integer((json_int_t)nf));
        json_object_set_new(copy, "rows", json_integer((json_int_t)rows));
        json_array_append_new(runs, copy);
    }
    json_decref(seed);
    return runs;
}

/* The new output must have the shape of the one it joins: one format,
 * layout, partition columns and columns (names, types, order), or readers
 * (cat, DuckDB over the Hive tree) would meet files that disagree. A
 * manifest without "output" (an old one) has nothing to compare. */
static int same_shape(json_t *prev, json_t *next, const char *mode_name, sf_error *err)
{
    static const char *const keys[] = {"format", "layout", "partition_by", "columns"};
    json_t *po = json_object_get(prev, "output"), *no = json_object_get(next, "output");
    if (!json_is_object(po) || !json_is_object(no))
        return 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *a = json_object_get(po, keys[i]), *b = json_object_get(no, keys[i]);
        if (!a || !b || json_equal(a, b))
            continue;
        char *ta = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        char *tb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        int rc = sf_error_set(err, SF_E_INVAL, "--write-mode %s: the new output has %s %.400s, "
                              "the existing output %.400s; nothing was committed", mode_name, keys[i], tb ? tb : "?", ta ? ta : "?");
        free(ta);
        free(tb);
        return rc;
    }
    return 0;
}

int sf_manifest_merge(const char *prev, size_t prev_len, const char *next, size_t next_len,
                      const char *runid, const char *mode_name, sf_merge_kind kind, char **out,
                      size_t *out_len, sf_merge_stats *stats, sf_error *err)
{
    *out = NULL;
    *out_len = 0;
    json_error_t je;
    json_t *nroot = json_loadb(next, next_len, 0, &je);
    json_t *proot = NULL;
    sf_filelist pl = SF_FILELIST_INIT, nl = SF_FILELIST_INIT, ml = SF_FILELIST_INIT;
    int rc = 0;
    if (!nroot)
        rc = sf_error_set(err, SF_E_PARSE, "new manifest: line %d: %s", je.line, je.text);
    if (!rc && prev) {
        proot = json_loadb(prev, prev_len, 0, &je);
        if (!proot)
            rc = sf_error_set(err, SF_E_PARSE, "previous manifest: line %d: %s", je.line,
                              je.text);
        if (!rc)
            rc = list_from_json(proot, &pl, err);
        if (rc)
            sf_error_prefix(err, "previous _MANIFEST.json");
        if (!rc)
            rc = same_shape(proot, nroot, mode_name, err);
    }
    if (!rc)
        rc = list_from_json(nroot, &nl, err);
    /* This run's files: its run id, and under append their unique names. */
    for (size_t i = 0; !rc && i < nl.n; i++) {
        char *id = strdup(runid);
        if (!id) {
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
            break;
        }
        free(nl.v[i].run_id);
        nl.v[i].run_id = id;
        if (kind == SF_MERGE_APPEND) {
            size_t cap = strlen(nl.v[i].path) + strlen(runid) + 2;
            char *u = malloc(cap);
            if (!u || sf_filelist_unique_name(nl.v[i].path, runid, u, cap) != 0) {
                free(u);
                rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
                break;
            }
            free(nl.v[i].path);
            nl.v[i].path = u;
        }
    }
    size_t kept = 0, dropped = 0;
    if (!rc)
        rc = sf_filelist_merge(prev ? &pl : NULL, &nl, kind, &ml, &kept, &dropped, err);
    json_t *arr = NULL, *runs = NULL;
    if (!rc) {
        arr = json_array();
        for (size_t i = 0; arr && i < ml.n; i++) {
            if (json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s}", "path",
                                                     ml.v[i].path, "rows",
                                                     (json_int_t)ml.v[i].rows, "bytes",
                                                     (json_int_t)ml.v[i].bytes, "run_id",
                                                     ml.v[i].run_id)) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        runs = arr ? runs_json(proot, &ml, runid, mode_name) : NULL;
        if (!arr || !runs ||
            json_object_set_new(nroot, "write_mode", json_string(mode_name)) != 0 ||
            json_object_set(nroot, "files", arr) != 0 ||
            json_object_set(nroot, "runs", runs) != 0)
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory merging the manifest");
    }
    if (!rc) {
        char *text = json_dumps(nroot, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!text) {
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory writing the manifest");
        } else {
            size_t n = strlen(text);
            char *t2 = realloc(text, n + 2);
            if (!t2) {
                free(text);
                rc = sf_error_set(err, SF_E_NOMEM, "out of memory writing the manifest");
            } else {
                t2[n] = '\n';
                t2[n + 1] = '\0';
                *out = t2;
                *out_len = n + 1;
            }
        }
    }
    if (!rc && stats) {
        memset(stats, 0, sizeof *stats);
        stats->files_total = ml.n;
        for (size_t i = 0; i < ml.n; i++)
            stats->rows_total += ml.v[i].rows;
        stats->files_kept = kept;
        stats->files_dropped = dropped;
        stats->runs = json_array_size(runs);
    }
    json_decref(arr);
    json_decref(runs);
    json_decref(nroot);
    json_decref(proot);
    sf_filelist_free(&pl);
    sf_filelist_free(&nl);
    sf_filelist_free(&ml);
    return rc;
}

static sf_manifest_run *run_slot(sf_manifest_run **runs, size_t *n, const char *id)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*runs)[i].run_id, id) == 0)
            return &(*runs)[i];
    }
    sf_manifest_run *v = realloc(*runs, (*n + 1) * sizeof *v);
    if (!v)
        return NULL;
    *runs = v;
    memset(&v[*n], 0, sizeof v[*n]);
    snprintf(v[*n].run_id, sizeof v[*n].run_id, "%s", id);
    return &v[(*n)++];
}

int sf_manifest_runs(const char *json, size_t len, sf_manifest_run **runs, size_t *n,
                     sf_error *err)
{
    *runs = NULL;
    *n = 0;
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return sf_error_set(err, SF_E_PARSE, "manifest: line %d: %s", je.line, je.text);
    int rc = 0;
    json_t *arr = json_object_get(root, "runs");
    const char *top_mode = json_string_value(json_object_get(root, "write_mode"));
    if (json_is_array(arr)) {
        size_t i;
        json_t *r;
        json_array_foreach(arr, i, r) {
            const char *id = json_string_value(json_object_get(r, "run_id"));
            const char *mode = json_string_value(json_object_get(r, "write_mode"));
            sf_manifest_run *s = id ? run_slot(runs, n, id) : NULL;
            if (id && !s) {
                rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
                break;
            }
            if (!s)
                continue;
            snprintf(s->write_mode, sizeof s->write_mode, "%s", mode ? mode : "");
            s->files = (uint64_t)json_integer_value(json_object_get(r, "files"));
            s->rows = (uint64_t)json_integer_value(json_object_get(r, "rows"));
        }
    } else {
        sf_filelist fl = SF_FILELIST_INIT;
        rc = list_from_json(root, &fl, err);
        for (size_t i = 0; !rc && i < fl.n; i++) {
            sf_manifest_run *s = run_slot(runs, n, fl.v[i].run_id);
            if (!s) {
                rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
                break;
            }
            s->files++;
            s->rows += fl.v[i].rows;
        }
        sf_filelist_free(&fl);
        const char *top = json_string_value(json_object_get(root, "run_id"));
        if (!rc && *n == 0 && top && !run_slot(runs, n, top))
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
        for (size_t i = 0; !rc && i < *n; i++)
            snprintf((*runs)[i].write_mode, sizeof (*runs)[i].write_mode, "%s",
                     top_mode ? top_mode : "");
    }
    json_decref(root);
    if (rc) {
        free(*runs);
        *runs = NULL;
        *n = 0;
    }
    return rc;
}
