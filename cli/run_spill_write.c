/* run_spill_write.c - `shardflow run` under a memory budget, the write
 * side: result rows larger than the budget go through sorted runs on disk
 * and an external merge instead of one table in memory.
 *
 * When a run spilled (run_spill.c) and has no windows and a hive layout,
 * each spill pass's result rows are routed to their writers at once
 * (sf_run_write_route, as the in-memory write does), sorted by the write
 * order (sf_run_write_keys) and written as one sorted run: run k of this
 * rank holds the rows that pass k gave it. The write phase then merges the
 * runs with a heap of one cursor per run (the cursor's row borrows from
 * its reader's block, which only moves when that cursor advances) and
 * writes rows in order, opening the next partition value's file when the
 * partition columns change. sf_rows_cmp_dir is sf_rows_sort_dir's order, so the
 * files are the bytes the in-memory path writes.
 *
 * Windows go through runs of their own first (run_spill_window.c); the
 * last window's batches come here. Still in memory: rows of jobs with a
 * grid or a limit, and --layout single.
 */
#include "cli/run_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fsutil.h"
#include "io/table_writer.h"

#define ROW_BUFFERS ((uint64_t)4 << 20) /* write (and read) blocks of all runs together */

int sf_run_spill_rows(const sf_run *R)
{
    /* --layout single writes every row at once: its rows stay in memory.
     * The grid, windows and computed columns go through sorted runs
     * (run_spill_window.c); a limit without them keeps its first N rows
     * after each pass (sf_run_spill_limit_pass), and after them from each
     * batch of the last stage (sf_run_spill_limit_batch). */
    const sf_job *job = R->job;
    return R->mem.spilled && strcmp(job->output.layout, "single") != 0 &&
           (job->output.limit < 0 || job->nwindows || job->grid.on);
}

/* Appends rows [from, n) of src to dst, their strings copied into dst's
 * arena. Returns 0 or SF_E_NOMEM. */
static int copy_rows(sf_rows *dst, const sf_rows *src, size_t from, size_t n)
{
    int rc = sf_rows_reserve(dst, dst->n + (n - from));
    for (size_t i = from; i < n && !rc; i++) {
        sf_value *row = sf_rows_append(dst);
        rc = row ? 0 : SF_E_NOMEM;
        if (row)
            memcpy(row, sf_rows_at(src, i), src->ncols * sizeof *row);
        for (size_t c = 0; c < src->ncols && !rc; c++)
            rc = sf_rows_keep_string(dst, &row[c]);
    }
    return rc;
}

/* Keeps the first N rows of *t in the limit's total order: what the
 * write's limit would keep of them anyway. A new table, so the dropped
 * rows' strings go with the old arena. Returns 0 or SF_E_NOMEM. */
static int keep_first(sf_run *R, sf_rows *t)
{
    const sf_job_output *o = &R->job->output;
    size_t limit = (uint64_t)o->limit > SIZE_MAX ? SIZE_MAX : (size_t)o->limit;
    if (t->n <= limit)
        return 0;
    if (sf_rows_sort_dir(t, o->sort_by, o->sort_desc, o->nsort) != 0)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory sorting rows for the limit");
    R->limit_dropped += t->n - limit;
    sf_rows kept;
    sf_rows_init(&kept, t->ncols);
    int rc = copy_rows(&kept, t, 0, limit);
    if (rc) {
        sf_rows_free(&kept);
        return sf_error_set(&R->err, rc, "out of memory keeping the rows of the limit");
    }
    sf_rows_free(t);
    *t = kept;
    return 0;
}

int sf_run_spill_limit_pass(sf_run *R)
{
    const sf_job *job = R->job;
    if (job->output.limit < 0 || job->nwindows || job->grid.on)
        return 0;
    /* The limit may sort by a computed column: they are made first (again
     * for the rows kept from earlier passes: the same values). */
    int rc = job->ncomputes ? sf_run_compute(R) : 0;
    R->mem.rows_done = job->ncomputes > 0;
    return rc ? rc : keep_first(R, &R->rows);
}

int sf_run_spill_limit_batch(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    int rc = R->job->ncomputes ? sf_run_compute(R) : 0;
    if (!M->kept.ncols)
        sf_rows_init(&M->kept, R->rows.ncols);
    if (!rc && (rc = copy_rows(&M->kept, &R->rows, 0, R->rows.n)) != 0)
        sf_error_set(&R->err, rc, "out of memory keeping the rows of the limit");
    sf_rows_free(&R->rows);
    sf_rows_init(&R->rows, M->kept.ncols);
    M->rows_done = 1;
    return rc ? rc : keep_first(R, &M->kept);
}

int sf_run_spill_put_run(sf_run *R, sf_spill **store, const char *what, size_t run, size_t runs,
                         const int *keys, const unsigned char *desc, size_t nkeys)
{
    struct sf_run_budget *M = &R->mem;
    int rc = 0;
    if (!*store) {
        char id[sizeof R->life.runid + 16];
        snprintf(id, sizeof id, "%s-%s", R->life.runid, what);
        size_t block = (size_t)(ROW_BUFFERS / (runs ? runs : 1));
        rc = sf_spill_open(store, M->dir, id, R->rank, (uint32_t)(runs ? runs : 1), block,
                           &R->err);
        if (rc)
            return rc;
    }
    /* A spill partition split again adds passes, and so runs. */
    if ((rc = sf_spill_grow(*store, (uint32_t)(run + 1), &R->err)) != 0)
        return rc;
    if (sf_rows_sort_dir(&R->rows, keys, desc, nkeys) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory sorting result rows");
    sf_buf rec = SF_BUF_INIT;
    size_t ncols = R->rows.ncols;
    for (size_t i = 0; i < R->rows.n && !rc; i++) {
        const sf_value *row = sf_rows_at(&R->rows, i);
        rec.n = 0;
        if (sf_buf_reserve(&rec, sf_rows_encoded_size(row, ncols)) != 0) {
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory spilling result rows");
            break;
        }
        size_t n = sf_rows_encode(row, ncols, rec.p);
        rc = sf_spill_put(*store, (uint32_t)run, rec.p, n, &R->err);
    }
    sf_buf_free(&rec);
    /* The run is complete: its buffer goes (runs are written one by one). */
    if (!rc)
        rc = sf_spill_seal(*store, (uint32_t)run, &R->err);
    sf_rows_free(&R->rows);
    sf_rows_init(&R->rows, ncols);
    return rc;
}

int sf_run_spill_rows_pass(sf_run *R, size_t pass, size_t passes)
{
    struct sf_run_budget *M = &R->mem;
    /* Computed columns read one row each: they are made here, batch by
     * batch, after the windows (if any) and before the write order. */
    int rc = R->job->ncomputes ? sf_run_compute(R) : 0;
    if (!rc)
        rc = sf_run_keep_pass_for_stage(R); /* a stage reads these rows too */
    sf_run_write_normalize(R);
    int xrc = sf_run_write_route(R, &M->write_part); /* collective: every rank routes */
    if (!rc)
        rc = xrc;
    if (rc)
        return rc;
    size_t nkeys;
    unsigned char *desc = NULL;
    int *keys = sf_run_write_keys(R, &nkeys, &desc);
    M->rows_out += R->rows.n;
    rc = keys ? sf_run_spill_put_run(R, &M->rows, "rows", pass, passes, keys, desc, nkeys)
              : sf_error_set(&R->err, SF_E_NOMEM, "out of memory sorting output rows");
    free(keys);
    free(desc);
    M->row_runs = pass + 1;
    return rc;
}

/* One sorted run being merged. */
typedef struct cursor {
    sf_spill_reader *r;
    sf_value *row;            /* current row; strings borrow from r */
    const unsigned char *rec; /* its record (borrowed from r) */
    size_t len;
} cursor;

struct sf_run_merge {
    sf_run *R;
    cursor *c;
    size_t k;     /* runs */
    size_t ncols;
    size_t *heap; /* cursor numbers, a min-heap by row */
    size_t n;
    const int *keys;
    size_t nkeys;
    const unsigned char *desc; /* per key: 1 descending; NULL: all ascending */
    sf_value *rows;            /* k rows of ncols values */
};

/* Reads cursor k's next row: 1, 0 at the end, or SF_E_*. */
static int advance(sf_run_merge *m, size_t k)
{
    sf_run *R = m->R;
    const unsigned char *rec;
    size_t len;
    int got = sf_spill_read_next(m->c[k].r, &rec, &len, &R->err);
    if (got != 1)
        return got;
    m->c[k].rec = rec;
    m->c[k].len = len;
    size_t p = 0;
    for (size_t c = 0; c < m->ncols; c++) {
        size_t used = sf_value_decode(rec + p, len - p, &m->c[k].row[c]);
        if (!used)
            return sf_error_set(&R->err, SF_E_IO, "a row in spill run %zu does not decode", k);
        p += used;
    }
    return 1;
}

static int less(const sf_run_merge *m, size_t a, size_t b)
{
    return sf_rows_cmp_dir(m->c[a].row, m->c[b].row, m->ncols, m->keys, m->desc, m->nkeys) < 0;
}

static void sift_down(sf_run_merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->n && less(m, m->heap[l], m->heap[s]))
            s = l;
        if (r < m->n && less(m, m->heap[r], m->heap[s]))
            s = r;
        if (s == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[s];
        m->heap[s] = t;
        i = s;
    }
}

int sf_run_merge_open(sf_run *R, sf_spill *runs, size_t k, size_t ncols, const int *keys,
                      const unsigned char *desc, size_t nkeys, sf_run_merge **out)
{
    sf_run_merge *m = calloc(1, sizeof *m);
    *out = m;
    if (!m)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory merging sorted runs");
    *m = (sf_run_merge){R, calloc(k ? k : 1, sizeof(cursor)), k, ncols,
                        calloc(k ? k : 1, sizeof(size_t)), 0, keys, nkeys, desc,
                        calloc(k * ncols + 1, sizeof(sf_value))};
    int rc = m->c && m->heap && m->rows ? 0 : sf_error_set(&R->err, SF_E_NOMEM,
                                                           "out of memory merging sorted runs");
    for (size_t i = 0; i < k && !rc; i++) {
        m->c[i].row = m->rows + i * ncols;
        rc = sf_spill_read_open(runs, (uint32_t)i, &m->c[i].r, &R->err);
        int got = rc ? rc : advance(m, i);
        if (got == 1)
            m->heap[m->n++] = i;
        else if (got < 0)
            rc = got;
    }
    for (size_t i = m->n / 2; !rc && i-- > 0;)
        sift_down(m, i);
    return rc;
}

const sf_value *sf_run_merge_top(const sf_run_merge *m, const unsigned char **rec, size_t *len)
{
    if (m->n == 0)
        return NULL;
    const cursor *c = &m->c[m->heap[0]];
    if (rec) {
        *rec = c->rec;
        *len = c->len;
    }
    return c->row;
}

int sf_run_merge_next(sf_run_merge *m)
{
    int got = advance(m, m->heap[0]);
    if (got == 0)
        m->heap[0] = m->heap[--m->n];
    if (got >= 0)
        sift_down(m, 0);
    return got < 0 ? got : 0;
}

void sf_run_merge_close(sf_run_merge *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->c && i < m->k; i++)
        sf_spill_read_close(m->c[i].r);
    free(m->c);
    free(m->heap);
    free(m->rows);
    free(m);
}

/* The file of the partition value that row starts. */
static int open_file(sf_run *R, const sf_value *row, sf_table_writer **w, sf_buf *rel,
                     char **path)
{
    sf_table_format f = SF_TABLE_CSV;
    sf_table_format_parse(R->job->output.format, &f); /* the spec checked it */
    rel->n = 0;
    int rc = sf_run_partition_dir(R, row, rel);
    if (!rc)
        rc = sf_buf_printf(rel, "%spart-%05d.%s", rel->n ? "/" : "", R->mem.write_part,
                           sf_table_file_ext(f, &R->csvopt));
    if (!rc)
        rc = sf_buf_append(rel, "", 1) ? SF_E_NOMEM : 0;
    size_t n = strlen(R->life.stage.tmpdir) + rel->n + 2;
    *path = rc ? NULL : malloc(n);
    if (!*path)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    rel->n--; /* the NUL stays behind the text */
    snprintf(*path, n, "%s/%s", R->life.stage.tmpdir, (const char *)rel->p);
    char *slash = strrchr(*path, '/');
    *slash = '\0';
    rc = sf_mkdirs(*path, &R->err);
    *slash = '/';
    const sf_job_output *o = &R->job->output;
    sf_table_schema schema = {o->ncolumns, R->out_names, R->out_types, &R->h5opt, 1, &R->pqopt,
                              &R->csvopt};
    return rc ? rc : sf_table_writer_open(w, f, *path, &schema, &R->err);
}

/* Closes the current file and records it. */
static int close_file(sf_run *R, sf_table_writer **w, const sf_buf *rel, char **path,
                      uint64_t nrows)
{
    uint64_t rows = 0, bytes = 0;
    int rc = sf_table_writer_close(*w, &rows, &bytes, &R->err);
    *w = NULL;
    if (!rc && sf_life_add_file(&R->life, (const char *)rel->p, nrows, bytes) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    free(*path);
    *path = NULL;
    return rc;
}

static int same_partition(sf_run *R, const sf_value *a, const sf_value *b)
{
    const sf_job_output *o = &R->job->output;
    for (size_t k = 0; k < o->npartition; k++) {
        if (sf_value_cmp(&a[o->partition_by[k]], &b[o->partition_by[k]]) != 0)
            return 0;
    }
    return 1;
}

/* Merges the runs into files. Not collective. */
static int merge_runs(sf_run *R, uint64_t *written)
{
    struct sf_run_budget *M = &R->mem;
    size_t ncols = R->rows.ncols;
    size_t nkeys = 0;
    unsigned char *desc = NULL;
    int *keys = sf_run_write_keys(R, &nkeys, &desc);
    sf_value *last = calloc(ncols + 1, sizeof *last); /* the open file's first row */
    sf_run_merge *m = NULL;
    int rc = keys && last ? sf_run_merge_open(R, M->rows, M->row_runs, ncols, keys, desc, nkeys,
                                              &m)
                          : sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    sf_table_writer *w = NULL;
    sf_buf rel = SF_BUF_INIT, hold = SF_BUF_INIT;
    char *path = NULL;
    uint64_t in_file = 0;
    const sf_job_output *o = &R->job->output;
    const sf_value *row;
    while (!rc && (row = sf_run_merge_top(m, NULL, NULL)) != NULL) {
        if (w && !same_partition(R, last, row)) {
            rc = close_file(R, &w, &rel, &path, in_file);
            in_file = 0;
        }
        if (!rc && !w) {
            rc = open_file(R, row, &w, &rel, &path);
            /* A copy of the file's first row (its strings in hold), so
             * its partition values outlive the reader's block. */
            hold.n = 0;
            if (!rc && sf_buf_reserve(&hold, sf_rows_encoded_size(row, ncols)) != 0)
                rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
            if (!rc) {
                hold.n = sf_rows_encode(row, ncols, hold.p);
                for (size_t c = 0, p = 0; c < ncols; c++)
                    p += sf_value_decode(hold.p + p, hold.n - p, &last[c]);
            }
        }
        if (!rc && (rc = sf_table_writer_append(w, row, o->columns)) != 0) {
            if (!R->err.msg[0])
                sf_error_set(&R->err, rc, "%s: cannot write a row", path);
        }
        if (!rc) {
            R->digest += sf_run_row_hash(R, row);
            in_file++;
            (*written)++;
            rc = sf_run_merge_next(m);
        }
    }
    if (w && !rc)
        rc = close_file(R, &w, &rel, &path, in_file);
    else if (w)
        sf_table_writer_discard(w, &R->err);
    free(path);
    sf_buf_free(&rel);
    sf_buf_free(&hold);
    sf_run_merge_close(m);
    free(keys);
    free(desc);
    free(last);
    return rc;
}

int sf_run_spill_write(sf_run *R)
{
    uint64_t written = 0;
    /* The runs count as the write's spill, merged in one pass. */
    R->m.ph[SF_PH_WRITE].spill_bytes = sf_spill_total_bytes(R->mem.rows);
    R->m.ph[SF_PH_WRITE].spill_passes = 1;
    int rc = merge_runs(R, &written);
    sf_spill_close(R->mem.rows);
    R->mem.rows = NULL;
    /* An unpartitioned output with no rows at all still gets one file (a
     * header), from rank 0, as in memory. */
    uint64_t all = 0;
    MPI_Allreduce(&written, &all, 1, MPI_UINT64_T, MPI_SUM, R->comm);
    if (!rc && R->job->output.npartition == 0 && all == 0 && R->rank == 0) {
        sf_table_writer *w = NULL;
        sf_buf rel = SF_BUF_INIT;
        char *path = NULL;
        sf_value *none = calloc(R->rows.ncols ? R->rows.ncols : 1, sizeof *none);
        rc = none ? open_file(R, none, &w, &rel, &path) : SF_E_NOMEM;
        if (!rc)
            rc = close_file(R, &w, &rel, &path, 0);
        else if (w)
            sf_table_writer_discard(w, &R->err);
        free(path);
        free(none);
        sf_buf_free(&rel);
    }
    return rc;
}
