/* run_grid.c - `shardflow run`: result rows shaped around the windows. The
 * dense grid ("grid": a row for every key of a dimension and every date of
 * a range, missing groups filled as empty ones) runs after the reduce and
 * before the windows; computed columns ("compute") run after the windows.
 *
 * The grid routes rows by the key alone, so each key's dates meet on one
 * rank, which also makes the rows of the dimension keys it owns (every rank
 * holds the dimension; the owner is the hash of the key value, the same
 * function that routed the rows). A calendar grid (no dimension) routes by
 * the date and each rank makes the dates it owns. */
#include "cli/run_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/decimal.h"
#include "partition/keyhash.h"
#include "partition/partitioner.h"

sf_value sf_run_grid_empty_agg(const sf_job *job, size_t j)
{
    const sf_job_agg *a = &job->aggs[j];
    switch (a->kind) {
    case SF_AGG_COUNT:
    case SF_AGG_COUNT_IF:
    case SF_AGG_COUNT_DISTINCT:
        return sf_int(0);
    case SF_AGG_SUM:
        if (a->type == SF_INT)
            return sf_int(0);
        if (a->type == SF_DOUBLE)
            return sf_double(0.0);
        if (a->type == SF_DECIMAL)
            return sf_decimal(0, a->dec.scale);
        return sf_null();
    default:
        return sf_null();
    }
}

/* Copies row (ncols values) to a new row of out, strings into out's arena. */
static int copy_row(sf_rows *out, const sf_value *row)
{
    sf_value *dst = sf_rows_append(out);
    if (!dst)
        return SF_E_NOMEM;
    memcpy(dst, row, out->ncols * sizeof *dst);
    int rc = 0;
    for (size_t c = 0; c < out->ncols && !rc; c++)
        rc = sf_rows_keep_string(out, &dst[c]);
    return rc;
}

/* First row index in [0, n) whose key column is >= key (rows sorted by it). */
static size_t lower_bound(const sf_rows *rows, int col, const sf_value *key)
{
    size_t lo = 0, hi = rows->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sf_value_cmp(&sf_rows_at(rows, mid)[col], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The grid rows of one dimension key: its existing rows (sorted by date)
 * within [lo, end] kept, the missing dates filled; used[] marks the rows
 * taken. */
static int grid_key(sf_run *R, sf_rows *out, const sf_value *key, int32_t lo, int32_t end,
                    unsigned char *used)
{
    const sf_job *job = R->job;
    const sf_job_grid *g = &job->grid;
    size_t i = lower_bound(&R->rows, g->key, key);
    int rc = 0;
    for (int64_t d = lo; d <= end && !rc; d++) {
        while (i < R->rows.n && sf_value_cmp(&sf_rows_at(&R->rows, i)[g->key], key) == 0) {
            const sf_value *dv = &sf_rows_at(&R->rows, i)[g->date];
            if (dv->type != SF_NULL && dv->u.date >= d)
                break;
            i++; /* before the key's first date, or NULL: not in the grid */
        }
        const sf_value *row = i < R->rows.n ? sf_rows_at(&R->rows, i) : NULL;
        if (row && sf_value_cmp(&row[g->key], key) == 0 && row[g->date].u.date == d) {
            used[i++] = 1;
            rc = copy_row(out, row);
            continue;
        }
        sf_value *dst = sf_rows_append(out);
        if (!dst)
            return SF_E_NOMEM;
        dst[g->key] = *key;
        dst[g->date] = sf_date((int32_t)d);
        for (size_t j = 0; j < job->naggs; j++)
            dst[job->ngroup + j] = sf_run_grid_empty_agg(job, j);
        rc = sf_rows_keep_string(out, &dst[g->key]);
        R->grid_added++;
    }
    return rc;
}

/* A calendar grid (no dimension): rows were routed by their date, so this
 * rank makes the dates of [start, end] whose hash it owns; the rows (sorted
 * by date) inside the range are kept, the missing dates filled. */
static int grid_dates(sf_run *R, sf_rows *out, int64_t start, int64_t end, unsigned char *used)
{
    const sf_job *job = R->job;
    const int col = job->grid.date;
    size_t i = 0;
    int rc = 0;
    for (int64_t d = start; d <= end && !rc; d++) {
        sf_value day = sf_date((int32_t)d);
        uint64_t hash;
        if ((rc = sf_key_hash_value(&day, &hash)) != 0)
            break;
        if (sf_partition_rank(hash, R->nparts, R->nranks) != R->rank)
            continue;
        while (i < R->rows.n) {
            const sf_value *dv = &sf_rows_at(&R->rows, i)[col];
            if (dv->type != SF_NULL && dv->u.date >= d)
                break;
            i++; /* NULL or before the range: not in the grid */
        }
        if (i < R->rows.n && sf_rows_at(&R->rows, i)[col].u.date == d) {
            used[i] = 1;
            rc = copy_row(out, sf_rows_at(&R->rows, i++));
            continue;
        }
        sf_value *dst = sf_rows_append(out);
        if (!dst)
            return SF_E_NOMEM;
        dst[col] = day;
        for (size_t j = 0; j < job->naggs; j++)
            dst[job->ngroup + j] = sf_run_grid_empty_agg(job, j);
        R->grid_added++;
    }
    return rc;
}

int sf_run_grid_owns(sf_run *R, const sf_value *drow, sf_buf *scratch, int *mine)
{
    const sf_job_input *in = &R->job->inputs[R->job->grid.input];
    uint64_t hash;
    int rc = sf_key_hash_columns(drow, &in->key_col, 1, scratch, &hash);
    *mine = !rc && sf_partition_rank(hash, R->nparts, R->nranks) == R->rank;
    return rc;
}

int sf_run_grid(sf_run *R)
{
    const sf_job *job = R->job;
    const sf_job_grid *g = &job->grid;
    /* The range's defaults: the first and last date of the groups, over
     * every rank, before any row is dropped. */
    int64_t mm[2] = {INT64_MAX, INT64_MAX}; /* min date, -max date */
    for (size_t i = 0; i < R->rows.n; i++) {
        const sf_value *d = &sf_rows_at(&R->rows, i)[g->date];
        if (d->type == SF_NULL)
            continue;
        if (d->u.date < mm[0])
            mm[0] = d->u.date;
        if (-(int64_t)d->u.date < mm[1])
            mm[1] = -(int64_t)d->u.date;
    }
    MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_INT64_T, MPI_MIN, R->comm);
    int64_t start = g->has_start ? g->start : mm[0];
    int64_t end = g->has_end ? g->end : (mm[1] == INT64_MAX ? INT64_MIN : -mm[1]);

    const int calendar = g->key < 0;
    int rc = sf_run_route_rows(R, calendar ? &g->date : &g->key, 1, -1, "run: grid shuffle");
    if (sf_run_agree(R, rc, 0))
        return SF_RUN_AGREED;
    int keys[2] = {calendar ? g->date : g->key, g->date};
    rc = sf_rows_sort(&R->rows, keys, calendar ? 1 : 2);
    unsigned char *used = calloc(R->rows.n ? R->rows.n : 1, 1);
    sf_rows out;
    sf_rows_init(&out, R->rows.ncols);
    sf_buf scratch = SF_BUF_INIT;
    const sf_join_table *dim = calendar ? NULL : R->dims[g->input];
    const sf_job_input *in = calendar ? NULL : &job->inputs[g->input];
    if (!rc && !used)
        rc = SF_E_NOMEM;
    if (!rc && calendar)
        rc = grid_dates(R, &out, start, end, used);
    size_t ndim = rc || calendar ? 0 : sf_join_table_rows(dim);
    for (size_t k = 0; k < ndim && !rc && start <= end; k++) {
        const sf_value *drow = sf_join_table_row(dim, k);
        int mine;
        if ((rc = sf_run_grid_owns(R, drow, &scratch, &mine)) != 0 || !mine)
            continue;
        int64_t lo = start;
        if (g->from_col >= 0 && drow[g->from_col].type == SF_DATE &&
            drow[g->from_col].u.date > lo)
            lo = drow[g->from_col].u.date;
        if (lo <= end)
            rc = grid_key(R, &out, &drow[in->key_col], (int32_t)lo, (int32_t)end, used);
    }
    for (size_t i = 0; !rc && i < R->rows.n; i++)
        R->grid_dropped += !used[i];
    sf_buf_free(&scratch);
    free(used);
    if (rc) {
        sf_rows_free(&out);
        return sf_error_set(&R->err, rc, "out of memory filling the grid");
    }
    sf_rows_free(&R->rows);
    R->rows = out;
    return 0;
}

int sf_run_compute(sf_run *R)
{
    const sf_job *job = R->job;
    sf_arena scratch; /* strings an expression makes, reset after each row */
    sf_arena_init(&scratch, 0);
    int rc = 0;
    for (size_t i = 0; i < R->rows.n && !rc; i++) {
        sf_value *row = sf_rows_at(&R->rows, i);
        for (size_t c = 0; c < job->ncomputes && !rc; c++) {
            sf_value v = sf_expr_eval(job->computes[c].expr, row, &scratch);
            rc = sf_rows_keep_string(&R->rows, &v);
            row[job->computes[c].column] = v;
        }
        sf_arena_reset(&scratch);
    }
    sf_arena_free(&scratch);
    if (rc)
        sf_error_set(&R->err, rc, "out of memory computing result columns");
    return rc;
}
