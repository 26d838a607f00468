/* fuzz_flatten.c - fuzz target of the flatten engine (core/flatten.h).
 *
 * The first byte of the input picks the options (separator, list policy,
 * collision policy, max depth, explode paths among a fixed set, a small row
 * limit); the rest is one line. Aborts when an invariant breaks:
 *  - the engine accepts exactly the lines the visitor accepts, except those
 *    it rejects for a key collision or too many rows, with the visitor's
 *    reason and message otherwise;
 *  - an accepted line gives between 1 and max_rows rows, no column twice in
 *    a row, cell values of JSON types only, column ids in the dictionary;
 *  - the dictionary has no two columns of the same name, and a rejected
 *    line leaves it as it was;
 *  - an engine that builds every record's tree (tree_only) gives the same
 *    verdict, message, rows, columns and values (the direct pass's
 *    reference).
 * ASan and UBSan (scripts/fuzz) catch the memory errors. Built by
 * scripts/fuzz with libFuzzer, and by tests/fuzz/CMakeLists.txt with a
 * plain replay driver over tests/fuzz/corpus/flatten/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/decode.h"
#include "core/flatten.h"
#include "core/jsonproj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_flatten: %s (%s)\n", what, msg);
    abort();
}

/* The rows of f's last record equal those of t's: cell by cell, the same
 * column names and values. */
static void same_rows(const sf_flatten *f, const sf_flatten *t)
{
    size_t nrows = sf_flatten_nrows(f);
    if (sf_flatten_nrows(t) != nrows)
        fail("the tree gives another row count", "");
    for (size_t r = 0; r < nrows; r++) {
        size_t nf, nt;
        const sf_flatten_cell *cf = sf_flatten_row(f, r, &nf), *ct = sf_flatten_row(t, r, &nt);
        if (nf != nt)
            fail("the tree gives another cell count", "");
        for (size_t i = 0; i < nf; i++) {
            sf_flatten_column a, b;
            sf_flatten_column_get(f, cf[i].col, &a);
            sf_flatten_column_get(t, ct[i].col, &b);
            if (a.len != b.len || memcmp(a.name, b.name, a.len) != 0)
                fail("the tree names a cell otherwise", a.name);
            if (cf[i].v.type != ct[i].v.type || sf_value_cmp(&cf[i].v, &ct[i].v) != 0)
                fail("the tree gives a cell another value", a.name);
        }
    }
}

static int ev_nop(void *ctx)
{
    (void)ctx;
    return 0;
}

static int ev_key(void *ctx, const char *k, size_t n)
{
    (void)ctx;
    (void)k;
    (void)n;
    return 0;
}

static int ev_scalar(void *ctx, const sf_value *v)
{
    (void)ctx;
    (void)v;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const seps[] = {".", "_", "__", "::"};
    static const char *const paths[] = {"a", "a.b", "items", "x.y.z"};
    static sf_jsonproj *vis;
    if (!vis && !(vis = sf_jsonproj_new(NULL, 0)))
        abort();
    if (size == 0)
        return 0;
    unsigned o = data[0];
    sf_flatten_opts opts;
    sf_flatten_opts_init(&opts);
    opts.sep = seps[o & 3];
    opts.lists = (sf_lists_policy)((o >> 2) % 3);
    opts.on_collision = (sf_collision_policy)((o >> 4) % 3);
    /* A depth limit only with all three paths, so that one path alone
     * (and none) also runs through the direct pass. */
    opts.max_depth = (o & 0xc0) == 0xc0 ? (int)(o % 4) : -1;
    opts.explode = paths;
    opts.nexplode = (o >> 6) & 3; /* the first 0..3 paths */
    opts.max_rows = 64;
    sf_flatten *f = NULL;
    sf_error err;
    if (sf_flatten_new(&opts, &f, &err) != 0)
        fail("cannot create the engine", err.msg);
    sf_flatten *t = NULL;
    opts.tree_only = 1;
    if (sf_flatten_new(&opts, &t, &err) != 0)
        fail("cannot create the engine", err.msg);

    /* An exact-size copy, so reading past the line is caught by ASan. */
    size_t len = size - 1;
    char *line = malloc(len ? len : 1);
    if (!line)
        abort();
    memcpy(line, data + 1, len);
    char m1[512] = "", m2[512] = "", m3[512] = "";
    sf_json_visitor v = {ev_nop, ev_nop, ev_nop, ev_nop, ev_key, ev_scalar, NULL};
    int rv = sf_jsonproj_visit(vis, line, len, &v, m1, sizeof m1);
    /* Twice: the second time over the dictionary the first call filled,
     * which must give the same verdict and add nothing. */
    for (int pass = 0; pass < 2; pass++) {
        size_t before = sf_flatten_ncolumns(f);
        int rc = sf_flatten_record(f, line, len, (uint64_t)pass, m2, sizeof m2);
        if (rc < 0)
            fail("engine error", m2);
        int rt = sf_flatten_record(t, line, len, (uint64_t)pass, m3, sizeof m3);
        if (rt != rc || strcmp(m2, m3) != 0)
            fail("the tree gives another verdict", m3);
        if (rc == 0)
            same_rows(f, t);
        if (rv != 0) {
            if (rc != rv || strcmp(m1, m2) != 0)
                fail("the engine and the visitor disagree on a bad line", m2);
        } else if (rc == 1 + SF_REJ_KEY_COLLISION || rc == 1 + SF_REJ_TOO_MANY_ROWS) {
            if (rc == 1 + SF_REJ_KEY_COLLISION && opts.on_collision != SF_COLLISION_ERROR)
                fail("a collision rejected the line under first/last", m2);
        } else if (rc != 0) {
            fail("a valid line was rejected", m2);
        }
        if (rc != 0) {
            if (sf_flatten_ncolumns(f) != before)
                fail("a rejected line added columns", m2);
            continue;
        }
        size_t nrows = sf_flatten_nrows(f), ncols = sf_flatten_ncolumns(f);
        if (nrows == 0 || nrows > opts.max_rows)
            fail("row count out of range", "");
        unsigned char *seen = calloc(ncols + 1, 1);
        if (!seen)
            abort();
        for (size_t r = 0; r < nrows; r++) {
            size_t nc;
            const sf_flatten_cell *c = sf_flatten_row(f, r, &nc);
            memset(seen, 0, ncols + 1);
            for (size_t i = 0; i < nc; i++) {
                if (c[i].col >= ncols)
                    fail("a cell names no column", "");
                if (seen[c[i].col]++)
                    fail("a column twice in one row", "");
                if (c[i].v.type > SF_STRING)
                    fail("a cell of a non-JSON type", "");
            }
        }
        free(seen);
        for (size_t i = 0; i < ncols; i++) {
            sf_flatten_column c;
            sf_flatten_column_get(f, (uint32_t)i, &c);
            if (sf_flatten_column_find(f, c.name, c.len) != (int64_t)i)
                fail("the dictionary finds another id for a column name", c.name);
        }
    }
    free(line);
    sf_flatten_free(f);
    sf_flatten_free(t);
    return 0;
}
