/* fuzz_csv.c - fuzz target: the CSV reader and writer (io/csv.h).
 *
 * The input is read as a CSV buffer to its end or its first error. Aborts
 * when
 * - an error is not SF_E_PARSE with a message, a byte offset inside the
 *   buffer, a line and a column, or a retry does not report the same error
 *   (the reader stays at the record start);
 * - record line numbers go backwards or start before 1;
 * - an unquoted field holds ',', '"' or '\n';
 * - the round trip changes anything: the records read are written with the
 *   writer to a scratch file, that file is read back, and every record must
 *   have the same number of fields with the same bytes (the quoted flag
 *   aside, since the writer quotes only what needs it); the writer's byte
 *   count must be the file size; and writing the re-read records again
 *   must give the same file, byte for byte (the writer is canonical);
 * - a line alone as a CSV fact line (sf_csv_reader_one_line) is read
 *   otherwise than the buffer reader reads that line.
 */
/* SF_FUZZ_SOURCES: io/csv.c io/fsutil.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/csv.h"
#include "tests/fuzz/scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Records as copies: offsets into one byte buffer, fields per record. */
typedef struct table {
    char *bytes;
    size_t nbytes, cap_bytes;
    size_t *field_off, *field_len;
    size_t nfields, cap_fields;
    size_t *rec_first; /* first field of each record; one extra at the end */
    size_t nrecs, cap_recs;
} table;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_csv: %s\n  %.300s\n", what, detail ? detail : "");
    abort();
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * elem);
    if (!q)
        abort();
    *cap = n;
    return q;
}

static void table_add(table *t, const sf_csv_field *f, size_t nf)
{
    t->rec_first = grow(t->rec_first, &t->cap_recs, t->nrecs + 2, sizeof *t->rec_first);
    t->rec_first[t->nrecs++] = t->nfields;
    for (size_t i = 0; i < nf; i++) {
        if (t->nfields == t->cap_fields) {
            size_t cap = t->cap_fields;
            t->field_off = grow(t->field_off, &cap, t->nfields + 1, sizeof(size_t));
            t->field_len = grow(t->field_len, &t->cap_fields, t->nfields + 1, sizeof(size_t));
        }
        t->bytes = grow(t->bytes, &t->cap_bytes, t->nbytes + f[i].n + 1, 1);
        if (f[i].n)
            memcpy(t->bytes + t->nbytes, f[i].p, f[i].n);
        t->field_off[t->nfields] = t->nbytes;
        t->field_len[t->nfields] = f[i].n;
        t->nfields++;
        t->nbytes += f[i].n;
    }
    t->rec_first[t->nrecs] = t->nfields;
}

static void table_free(table *t)
{
    free(t->bytes);
    free(t->field_off);
    free(t->field_len);
    free(t->rec_first);
}

/* Reads data[0..n) into t up to the end or the first error. Returns 1 at
 * the end, 0 after an error (checked here). */
static int read_all(const char *data, size_t n, table *t, const char *name)
{
    sf_csv_reader *r = sf_csv_reader_new(data, n, name);
    if (!r)
        abort();
    int64_t last_line = 0;
    int ok = 1;
    for (;;) {
        const sf_csv_field *f = NULL;
        size_t nf = 0;
        sf_error err;
        sf_error_clear(&err);
        int rc = sf_csv_reader_next(r, &f, &nf, &err);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (rc != SF_E_PARSE || err.code != rc || err.msg[0] == '\0' || err.offset < 0 ||
                (uint64_t)err.offset > n || err.line < 1 || err.column < 1)
                die("reader error without SF_E_PARSE, message or place", err.msg);
            sf_error again;
            sf_error_clear(&again);
            if (sf_csv_reader_next(r, &f, &nf, &again) != rc || strcmp(again.msg, err.msg) != 0)
                die("a retry after an error reports something else", again.msg);
            ok = 0;
            break;
        }
        if (nf == 0)
            die("a record without fields", NULL);
        int64_t line = sf_csv_reader_line(r);
        if (line < 1 || line < last_line)
            die("record line numbers go backwards", NULL);
        last_line = line;
        for (size_t i = 0; i < nf; i++) {
            if (!f[i].quoted && f[i].n > 0 &&
                (memchr(f[i].p, ',', f[i].n) || memchr(f[i].p, '"', f[i].n) ||
                 memchr(f[i].p, '\n', f[i].n)))
                die("an unquoted field holds a separator or a quote", NULL);
        }
        table_add(t, f, nf);
    }
    sf_csv_reader_free(r);
    return ok;
}

/* Writes t to the scratch file; returns the file's bytes (caller frees). */
static char *write_all(const table *t, size_t *n)
{
    fuzz_scratch *s = fuzz_scratch_get("csv");
    sf_csv_writer *w = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_csv_writer_open(&w, s->path, &err) != 0)
        die("cannot open the writer", err.msg);
    for (size_t r = 0; r < t->nrecs; r++) {
        for (size_t f = t->rec_first[r]; f < t->rec_first[r + 1]; f++)
            sf_csv_write_field(w, t->bytes + t->field_off[f], t->field_len[f]);
        sf_csv_end_row(w);
    }
    uint64_t bytes = 0;
    if (sf_csv_writer_close(w, &bytes, &err) != 0)
        die("cannot close the writer", err.msg);
    char *text = fuzz_scratch_slurp(s, n);
    if (bytes != *n)
        die("the writer's byte count is not the file size", NULL);
    return text;
}

static void same_tables(const table *a, const table *b)
{
    if (a->nrecs != b->nrecs)
        die("the round trip changed the record count", NULL);
    for (size_t r = 0; r < a->nrecs; r++) {
        size_t fa = a->rec_first[r], fb = b->rec_first[r];
        if (a->rec_first[r + 1] - fa != b->rec_first[r + 1] - fb)
            die("the round trip changed a record's field count", NULL);
        for (; fa < a->rec_first[r + 1]; fa++, fb++) {
            if (a->field_len[fa] != b->field_len[fb] ||
                memcmp(a->bytes + a->field_off[fa], b->bytes + b->field_off[fb],
                       a->field_len[fa]) != 0)
                die("the round trip changed a field", NULL);
        }
    }
}

/* Every non-empty line of buf alone (as a CSV fact line: no '\n', one
 * trailing '\r' dropped) through sf_csv_reader_one_line must agree with the
 * buffer reader on that line: the same one record, or an error both ways,
 * with a message. */
static void check_lines(const char *buf, size_t size)
{
    sf_csv_reader *one = sf_csv_reader_new("", 0, "line");
    if (!one)
        abort();
    for (size_t s = 0; s < size;) {
        const char *nl = memchr(buf + s, '\n', size - s);
        size_t e = nl ? (size_t)(nl - buf) : size, len = e - s;
        if (len && buf[s + len - 1] == '\r')
            len--;
        if (len) {
            const sf_csv_field *f, *g;
            size_t nf, ng;
            char msg[240] = "";
            sf_error err;
            sf_error_clear(&err);
            int rc = sf_csv_reader_one_line(one, buf + s, len, &f, &nf, msg, sizeof msg);
            sf_csv_reader *whole = sf_csv_reader_new(buf + s, len, "whole");
            if (!whole)
                abort();
            int rw = sf_csv_reader_next(whole, &g, &ng, &err);
            if ((rc == 1) != (rw == 1))
                die("one line and the buffer reader disagree on whether it is a record", msg);
            if (rc != 1 && (rc != SF_E_PARSE || !msg[0]))
                die("a bad line gives no SF_E_PARSE with a message", msg);
            if (rc == 1) {
                if (nf != ng)
                    die("one line gives another field count than the buffer reader", NULL);
                for (size_t k = 0; k < nf; k++) {
                    if (f[k].n != g[k].n || f[k].quoted != g[k].quoted ||
                        memcmp(f[k].p, g[k].p, f[k].n) != 0)
                        die("one line gives another field than the buffer reader", NULL);
                }
                if (sf_csv_reader_next(whole, &g, &ng, &err) != 0)
                    die("a line read as one record holds another", NULL);
            }
            sf_csv_reader_free(whole);
        }
        s = e + 1;
    }
    sf_csv_reader_free(one);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so reading past the buffer is caught. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);

    table first = {0}, second = {0};
    read_all(buf, size, &first, "fuzz.csv");
    check_lines(buf, size);

    size_t n1, n2;
    char *out1 = write_all(&first, &n1);
    if (!read_all(out1, n1, &second, "roundtrip.csv"))
        die("the writer's output does not read back", NULL);
    same_tables(&first, &second);
    char *out2 = write_all(&second, &n2);
    if (n1 != n2 || memcmp(out1, out2, n1) != 0)
        die("writing the re-read records gives another file", NULL);

    free(out1);
    free(out2);
    table_free(&first);
    table_free(&second);
    free(buf);
    return 0;
}
