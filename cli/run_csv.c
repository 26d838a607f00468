/* run_csv.c - `shardflow run` with a CSV fact input (RFC 4180, a header
 * row naming the columns).
 *
 * Files are split by byte range on line boundaries as JSONL files are, so a
 * record must be one line: a chunk that starts inside a quoted field cannot
 * tell it does, so a quoted field holding a newline is not supported and
 * such a line is rejected ("invalid CSV", with the reason), as is a line
 * whose field count is not the header's. Each file's first line is its
 * header: the chunk that owns it skips it (it keeps its line number, so
 * bad records carry the file's line numbers, but it is not counted as a
 * line read); a rank reads the header of a file the first time it starts a
 * chunk of that file, so no rank waits for another. io/csv parses both the
 * header and the lines; core/pipeline converts the fields to the columns'
 * types.
 */
#include "cli/run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv.h"
#include "io/decompress.h"
#include "io/range_reader.h"

struct sf_run_csv {
    sf_csv_reader *reader; /* reused for every line */
    int *map;              /* per file: ncolumns field indexes, then -1 until read */
    size_t *width;         /* per file: fields in the header; 0 until read */
    sf_value *cells;       /* the fact columns of the current line */
    size_t ncolumns;
    int header_chunk;      /* the chunk being scanned starts at byte 0 */
};

void sf_run_csv_free(sf_run *R)
{
    if (!R->csv)
        return;
    sf_csv_reader_free(R->csv->reader);
    free(R->csv->map);
    free(R->csv->width);
    free(R->csv->cells);
    free(R->csv);
    R->csv = NULL;
}

static int setup(sf_run *R)
{
    const sf_job_input *fact = &R->job->inputs[R->job->fact];
    size_t nfiles = R->life.inputs.n ? R->life.inputs.n : 1;
    struct sf_run_csv *c = calloc(1, sizeof *c);
    R->csv = c;
    if (!c)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory reading CSV input");
    c->ncolumns = fact->ncolumns;
    c->reader = sf_csv_reader_new("", 0, fact->name);
    c->map = malloc(nfiles * fact->ncolumns * sizeof *c->map);
    c->width = calloc(nfiles, sizeof *c->width);
    c->cells = calloc(fact->ncolumns, sizeof *c->cells);
    if (!c->reader || !c->map || !c->width || !c->cells)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory reading CSV input");
    return 0;
}

/* The first line of file f, read through its first chunk (the chunk list
 * is in file order), as the scan reads it. *line is borrowed from *rr or
 * *zr, which the caller closes. Returns 1 with the line, 0 for an empty
 * file, or SF_E_*. */
static int first_line(sf_run *R, int f, sf_range_reader **rr, sf_zreader **zr,
                      const char **line, size_t *len)
{
    const char *path = R->life.inputs.paths[f];
    const sf_chunk *c = NULL;
    for (size_t i = 0; i < R->nchunks && !c; i++) {
        if (R->chunks[i].file == f)
            c = &R->chunks[i];
    }
    if (!c)
        return 0;
    size_t max_line = (size_t)R->o->scan.max_line;
    uint64_t off;
    int rc;
    if (c->codec) {
        sf_zrange range = {c->start, c->end, c->prev};
        rc = sf_zreader_open(zr, path, (sf_codec)c->codec, &range, 0, max_line, &R->err);
        if (!rc)
            rc = sf_zreader_next(*zr, line, len, &off, &R->err);
    } else {
        rc = sf_range_reader_open(rr, path, c->start, c->end, 0, max_line, &R->err);
        if (!rc)
            rc = sf_range_reader_next(*rr, line, len, &off, &R->err);
    }
    return rc;
}

/* Reads file f's header and maps the job's columns to its fields. */
static int read_header(sf_run *R, int f)
{
    struct sf_run_csv *c = R->csv;
    const sf_job_input *fact = &R->job->inputs[R->job->fact];
    const char *path = R->life.inputs.paths[f];
    sf_range_reader *rr = NULL;
    sf_zreader *zr = NULL;
    const char *line = NULL;
    size_t len = 0;
    int rc = first_line(R, f, &rr, &zr, &line, &len);
    const sf_csv_field *fields = NULL;
    size_t nf = 0;
    char msg[240];
    if (rc == 1) {
        rc = sf_csv_reader_one_line(c->reader, line, len, &fields, &nf, msg, sizeof msg);
        if (rc == SF_E_PARSE)
            sf_error_set(&R->err, rc, "%s: line 1 (the header): %s", path, msg);
        else if (rc < 0)
            sf_error_set(&R->err, rc, "%s: out of memory reading the header", path);
    } else if (rc == 0) {
        rc = sf_error_set(&R->err, SF_E_PARSE, "%s: no header row", path);
    }
    int *map = c->map + (size_t)f * c->ncolumns;
    for (size_t i = 0; rc == 1 && i < c->ncolumns; i++) {
        const char *name = fact->columns[i].name;
        map[i] = -1;
        for (size_t k = 0; k < nf; k++) {
            if (strlen(name) == fields[k].n && memcmp(name, fields[k].p, fields[k].n) == 0) {
                if (map[i] >= 0) {
                    rc = sf_error_set(&R->err, SF_E_PARSE, "%s: line 1: the header names "
                                      "column '%s' twice", path, name);
                    break;
                }
                map[i] = (int)k;
            }
        }
        if (rc == 1 && map[i] < 0)
            rc = sf_error_set(&R->err, SF_E_PARSE, "%s: line 1: the header has no column '%s' "
                              "(input '%s')", path, name, fact->name);
    }
    if (rc == 1)
        c->width[f] = nf;
    sf_range_reader_close(rr);
    sf_zreader_close(zr);
    return rc == 1 ? 0 : rc;
}

int sf_run_csv_chunk_begin(sf_run *R, const sf_chunk *ch)
{
    if (!R->csv && setup(R) != 0)
        return SF_E_NOMEM;
    R->csv->header_chunk = ch->start == 0;
    if (R->csv->width[ch->file] == 0)
        return read_header(R, ch->file);
    return 0;
}

int sf_run_csv_line(sf_run *R, const char *line, size_t len, int file, uint64_t offset)
{
    struct sf_run_csv *c = R->csv;
    if (c->header_chunk && R->cur_line == 0) { /* the header (read at chunk begin) */
        R->cur_line++;
        return 0;
    }
    struct sf_run_acct *a = &R->acct[file];
    a->lines++;
    a->blank += len == 0;
    R->cur_line++;
    sf_line_verdict v;
    int rc;
    if (len == 0) {
        rc = sf_pipeline_push_line(R->pipe, line, len, file, offset, &v);
    } else {
        const sf_csv_field *fields;
        size_t nf;
        char msg[240];
        rc = sf_csv_reader_one_line(c->reader, line, len, &fields, &nf, msg, sizeof msg);
        if (rc == 1 && nf != c->width[file]) {
            snprintf(msg, sizeof msg, "%zu field%s, the header has %zu", nf, nf == 1 ? "" : "s",
                     c->width[file]);
            rc = SF_E_PARSE;
        }
        if (rc == SF_E_PARSE) {
            sf_pipeline_reject(R->pipe, file, offset, SF_REJ_INVALID_CSV, msg);
            v.rejected = 1;
            v.reason = SF_REJ_INVALID_CSV;
            v.msg = msg;
            a->rejected++;
            return sf_run_bad_line(R, &v, file, offset, line, len);
        }
        if (rc < 0)
            return sf_error_set(&R->err, rc, "out of memory reading CSV input");
        const int *map = c->map + (size_t)file * c->ncolumns;
        for (size_t i = 0; i < c->ncolumns; i++) {
            const sf_csv_field *fl = &fields[map[i]];
            c->cells[i] = fl->n == 0 && !fl->quoted ? sf_null() : sf_string(fl->p, fl->n);
        }
        rc = sf_pipeline_push_cells(R->pipe, c->cells, file, offset, &v);
    }
    if (!rc && v.rejected) {
        a->rejected++;
        rc = sf_run_bad_line(R, &v, file, offset, line, len);
    }
    return rc;
}
