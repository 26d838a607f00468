/* fuzz_parquet.c - fuzz target: the Parquet reader (io/parquet_read.h),
 * with the writer (io/parquet.h) as the round-trip oracle.
 *
 * The input is a file for the reader. Aborts when
 * - open or a read fails with anything but SF_E_PARSE (or SF_E_NOMEM for
 *   an allocation the caps allow), or without a message naming the file,
 *   or a read after an error reports something else;
 * - a batch is empty before nrows rows came, or longer than asked, or the
 *   rows read are not nrows;
 * - a value has another type than its column (or NULL);
 * - the round trip changes anything: when the file reads to its end (and
 *   is small: at most 200,000 rows), its rows are written with the writer
 *   (codec and row group size picked from the input) and read back, and
 *   every value must be the same, bit for bit for doubles; and that file
 *   joined twice by sf_parquet_concat must read back as the rows twice.
 * Every footer's chunk statistics are also fetched, so their decoding runs.
 */
/* SF_FUZZ_SOURCES: io/parquet_read.c io/parquet.c io/parquet_format.c io/thrift_compact.c io/fsutil.c */
/* SF_FUZZ_LIBS: snappy libzstd zlib */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/parquet.h"
#include "io/parquet_read.h"
#include "tests/fuzz/scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROUNDTRIP_ROWS 200000
#define MAX_READ_ROWS 2000000

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_parquet: %s\n  %.300s\n", what, detail ? detail : "");
    abort();
}

/* A second scratch file for the round trip (scratch.h keeps one). */
static const char *second_path(void)
{
    static char path[64];
    static int fd = -1;
    if (fd >= 0)
        return path;
    static const char *const dirs[] = {"/dev/shm", "/tmp"};
    for (size_t i = 0; i < 2 && fd < 0; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s/sf_fuzz_pq_rt.%ld", dirs[i], (long)getpid());
        fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0)
            unlink(name);
    }
    if (fd < 0)
        die("no scratch file for the round trip", NULL);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return path;
}

/* Rows as owned copies. */
typedef struct table {
    sf_value *v;
    size_t n, cap; /* values */
    char *bytes;
    size_t nbytes, cap_bytes;
} table;

static void table_add(table *t, const sf_value *row, size_t ncols)
{
    if (t->n + ncols > t->cap) {
        t->cap = (t->n + ncols) * 2;
        t->v = realloc(t->v, t->cap * sizeof *t->v);
        if (!t->v)
            abort();
    }
    for (size_t c = 0; c < ncols; c++) {
        sf_value v = row[c];
        if (v.type == SF_STRING) {
            if (t->nbytes + v.u.s.n + 1 > t->cap_bytes) {
                t->cap_bytes = (t->nbytes + v.u.s.n + 1) * 2;
                t->bytes = realloc(t->bytes, t->cap_bytes);
                if (!t->bytes)
                    abort();
            }
            if (v.u.s.n)
                memcpy(t->bytes + t->nbytes, v.u.s.p, v.u.s.n);
            v.u.s.p = (const char *)(uintptr_t)t->nbytes; /* offset until done */
            t->nbytes += v.u.s.n;
        }
        t->v[t->n++] = v;
    }
}

static void table_fix(table *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].type == SF_STRING)
            t->v[i].u.s.p = t->bytes + (uintptr_t)t->v[i].u.s.p;
}

static int same(const sf_value *a, const sf_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SF_NULL: return 1;
    case SF_BOOL: return a->u.b == b->u.b;
    case SF_INT: return a->u.i == b->u.i;
    case SF_DATE: return a->u.date == b->u.date;
    case SF_DOUBLE: return memcmp(&a->u.d, &b->u.d, 8) == 0;
    default:
        return a->u.s.n == b->u.s.n && (!a->u.s.n || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
    }
}

static void check_error(int rc, const sf_error *err, const char *path)
{
    if ((rc != SF_E_PARSE && rc != SF_E_NOMEM) || err->code != rc || !strstr(err->msg, path))
        die("an error that is not SF_E_PARSE with the file's name", err->msg);
}

/* Reads path to the end into t (when keep). Returns 1 if it read to the
 * end, 0 after an error or when it stopped at MAX_READ_ROWS. */
static int read_file(const char *path, size_t batch, table *t, int keep, sf_parquet_reader **out)
{
    sf_parquet_reader *r = NULL;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_parquet_reader_open(&r, path, &err);
    if (rc != 0) {
        check_error(rc, &err, path);
        return 0;
    }
    size_t ncols = sf_parquet_reader_ncols(r);
    for (size_t g = 0; g < sf_parquet_reader_row_groups(r); g++)
        for (size_t c = 0; c < ncols; c++) {
            sf_parquet_chunk_info in;
            sf_parquet_reader_chunk(r, g, c, &in);
            if (in.has_minmax && (in.min.type != sf_parquet_reader_type(r, c) ||
                                  in.max.type != sf_parquet_reader_type(r, c)))
                die("a statistic of another type than its column", NULL);
        }
    uint64_t nrows = sf_parquet_reader_nrows(r), got = 0;
    int complete = 1;
    for (;;) {
        const sf_value *rows;
        size_t n;
        rc = sf_parquet_reader_next(r, batch, &rows, &n, &err);
        if (rc != 0) {
            check_error(rc, &err, path);
            sf_error again;
            sf_error_clear(&again);
            if (sf_parquet_reader_next(r, batch, &rows, &n, &again) != rc ||
                strcmp(again.msg, err.msg) != 0)
                die("a read after an error reports something else", again.msg);
            complete = 0;
            break;
        }
        if (n == 0)
            break;
        if (n > batch)
            die("a batch longer than asked", NULL);
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < ncols; c++) {
                int ty = rows[i * ncols + c].type;
                if (ty != SF_NULL && ty != (int)sf_parquet_reader_type(r, c))
                    die("a value of another type than its column", NULL);
            }
        if (keep)
            for (size_t i = 0; i < n; i++)
                table_add(t, rows + i * ncols, ncols);
        got += n;
        if (got > MAX_READ_ROWS) {
            complete = 0;
            break;
        }
    }
    if (complete && got != nrows)
        die("rows read differ from the footer's num_rows", NULL);
    if (out && complete)
        *out = r;
    else
        sf_parquet_reader_close(r);
    return complete;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_scratch *s = fuzz_scratch_get("parquet");
    fuzz_scratch_fill(s, data, size);
    size_t batch = size % 3 == 0 ? 1 : size % 3 == 1 ? 7 : 4096;

    table first = {0};
    sf_parquet_reader *r = NULL;
    if (!read_file(s->path, batch, &first, 1, &r)) {
        free(first.v);
        free(first.bytes);
        return 0;
    }
    table_fix(&first);
    size_t ncols = sf_parquet_reader_ncols(r);
    uint64_t nrows = sf_parquet_reader_nrows(r);
    if (nrows > MAX_ROUNDTRIP_ROWS) {
        sf_parquet_reader_close(r);
        free(first.v);
        free(first.bytes);
        return 0;
    }

    /* Round trip through the writer. */
    const char **names = calloc(ncols, sizeof *names);
    sf_type *types = calloc(ncols, sizeof *types);
    if (!names || !types)
        abort();
    for (size_t c = 0; c < ncols; c++) {
        names[c] = sf_parquet_reader_name(r, c);
        types[c] = sf_parquet_reader_type(r, c);
    }
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.codec = (sf_parquet_codec)(size % 4);
    o.row_group_rows = 1 + size % 50;
    o.dict_limit_bytes = size % 7 == 0 ? 1 : 64 + size % 500;
    const char *path = second_path();
    sf_parquet_writer *w = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_parquet_writer_open(&w, path, ncols, names, types, &o, &err) != 0)
        die("cannot open the writer", err.msg);
    for (uint64_t i = 0; i < nrows; i++)
        if (sf_parquet_writer_append(w, first.v + i * ncols, &err) != 0)
            die("the writer refuses rows the reader gave", err.msg);
    if (sf_parquet_writer_close(w, NULL, NULL, &err) != 0)
        die("cannot close the writer", err.msg);

    table second = {0};
    sf_parquet_reader *r2 = NULL;
    if (!read_file(path, 4096, &second, 1, &r2))
        die("the writer's file does not read back", NULL);
    table_fix(&second);
    if (sf_parquet_reader_ncols(r2) != ncols || second.n != first.n)
        die("the round trip changed the shape", NULL);
    for (size_t c = 0; c < ncols; c++)
        if (strcmp(sf_parquet_reader_name(r2, c), names[c]) != 0 ||
            sf_parquet_reader_type(r2, c) != types[c])
            die("the round trip changed a column", names[c]);
    for (size_t i = 0; i < first.n; i++)
        if (!same(&first.v[i], &second.v[i]))
            die("the round trip changed a value", NULL);

    /* The writer's file twice, joined without re-encoding. */
    const char *twice[] = {path, path};
    const char *cpath = s->path; /* the input is no longer needed */
    uint64_t crows = 0;
    if (sf_parquet_concat(cpath, ncols, names, types, twice, 2, NULL, &crows, NULL, &err) != 0)
        die("cannot concat the writer's file with itself", err.msg);
    if (crows != 2 * nrows)
        die("concat counted other rows", NULL);
    table third = {0};
    if (!read_file(cpath, 1000, &third, 1, NULL))
        die("the concatenated file does not read back", NULL);
    table_fix(&third);
    if (third.n != 2 * first.n)
        die("the concatenated file has other rows", NULL);
    for (size_t i = 0; i < third.n; i++)
        if (!same(&first.v[i % (first.n ? first.n : 1)], &third.v[i]))
            die("concat changed a value", NULL);
    free(third.v);
    free(third.bytes);

    sf_parquet_reader_close(r2);
    sf_parquet_reader_close(r);
    free(names);
    free(types);
    free(first.v);
    free(first.bytes);
    free(second.v);
    free(second.bytes);
    return 0;
}
