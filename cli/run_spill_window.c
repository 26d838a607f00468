/* run_spill_window.c - `shardflow run` under a memory budget: windows over
 * result rows larger than the budget, by sorted runs and an external merge
 * that evaluates one window partition at a time.
 *
 * When a run spilled and its job has windows, each spill pass's result
 * rows are routed by the first window's partition columns (as
 * sf_run_windows does in memory), sorted by those columns and the order
 * column and written as one sorted run. After the passes, window w's runs
 * are merged (sf_run_merge: sf_rows_sort's order, a total one, so the
 * rows come in the order the in-memory sort gives); the rows of one
 * window partition, all on this rank after the routing, are gathered and
 * evaluated (sf_window_eval_at over just them) and join a batch. A batch
 * of about an eighth of the state share (routing may hold it twice, and
 * sorting it and the runs' blocks come beside it) is routed by the next window's
 * partition columns and written as one of its runs, or, after the last
 * window, goes to the write's runs (sf_run_spill_rows_pass: computed
 * columns, the write route and order). Each batch is an exchange every
 * rank takes part in, a rank whose runs are done with an empty batch,
 * until no rank has rows left.
 *
 * Invariant: one window partition is never split over two evaluations;
 * the largest thing held is one batch plus one window partition.
 */
#include "cli/run_internal.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/window.h"
#include "partition/keyhash.h"
#include "partition/partitioner.h"

/* The sort of window win: its partition columns, then its order column.
 * New (free), or NULL when out of memory. */
static int *window_keys(const sf_job_window *win, size_t *n)
{
    int *keys = malloc((win->npartition + 1) * sizeof *keys);
    if (keys) {
        memcpy(keys, win->partition_by, win->npartition * sizeof *keys);
        keys[win->npartition] = win->order_by;
    }
    *n = win->npartition + 1;
    return keys;
}

/* Routes R->rows by window w's partition columns and writes them as run
 * `run` of *store. Collective. */
static int put_window_run(sf_run *R, size_t w, sf_spill **store, size_t run, size_t runs)
{
    const sf_job_window *win = &R->job->windows[w];
    int rc = sf_run_route_rows(R, win->partition_by, win->npartition, -1, "run: window shuffle");
    size_t nkeys;
    int *keys = rc ? NULL : window_keys(win, &nkeys);
    if (!rc && !keys)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory sorting rows for a window");
    char what[32];
    snprintf(what, sizeof what, "window%zu", w);
    if (!rc)
        rc = sf_run_spill_put_run(R, store, what, run, runs, keys, NULL, nkeys);
    free(keys);
    return rc;
}

/* The sort of the grid's runs: key and date (a calendar grid: the date). */
static size_t grid_keys(const sf_job_grid *g, int keys[2])
{
    if (g->key < 0) {
        keys[0] = g->date;
        return 1;
    }
    keys[0] = g->key;
    keys[1] = g->date;
    return 2;
}

/* Routes R->rows by the grid key (a calendar grid: the date) and writes
 * them as run `run` of *store. Collective. */
static int put_grid_run(sf_run *R, sf_spill **store, size_t run, size_t runs)
{
    const sf_job_grid *g = &R->job->grid;
    int keys[2];
    size_t nkeys = grid_keys(g, keys);
    int rc = sf_run_route_rows(R, keys, 1, -1, "run: grid shuffle");
    return rc ? rc : sf_run_spill_put_run(R, store, "grid", run, runs, keys, NULL, nkeys);
}

/* The first stage after the grid (stage 0 is the grid itself when there
 * is one): window `stage` or, past the last, the write. */
static int put_stage_run(sf_run *R, size_t stage, sf_spill **store, size_t run, size_t runs)
{
    if (stage < R->job->nwindows)
        return put_window_run(R, stage, store, run, runs);
    if (R->job->output.limit >= 0)
        return sf_run_spill_limit_batch(R);
    return sf_run_spill_rows_pass(R, run, runs);
}

int sf_run_spill_window_pass(sf_run *R, size_t pass, size_t passes)
{
    struct sf_run_budget *M = &R->mem;
    M->win_runs = pass + 1;
    if (!R->job->grid.on)
        return put_window_run(R, 0, &M->win, pass, passes);
    /* The grid's range defaults to the first and last date of all groups
     * (before any row is dropped), as in memory. */
    int col = R->job->grid.date;
    if (pass == 0) {
        M->grid_mm[0] = M->grid_mm[1] = INT64_MAX;
    }
    for (size_t i = 0; i < R->rows.n; i++) {
        const sf_value *d = &sf_rows_at(&R->rows, i)[col];
        if (d->type == SF_NULL)
            continue;
        if (d->u.date < M->grid_mm[0])
            M->grid_mm[0] = d->u.date;
        if (-(int64_t)d->u.date < M->grid_mm[1])
            M->grid_mm[1] = -(int64_t)d->u.date;
    }
    return put_grid_run(R, &M->win, pass, passes);
}

static int same_window_partition(const sf_job_window *win, const sf_value *a, const sf_value *b)
{
    for (size_t k = 0; k < win->npartition; k++) {
        if (sf_value_cmp(&a[win->partition_by[k]], &b[win->partition_by[k]]) != 0)
            return 0;
    }
    return 1;
}

static uint64_t batch_bytes(const sf_run *R)
{
    return (uint64_t)R->rows.n * R->rows.ncols * sizeof(sf_value) + R->rows.mem.reserved;
}

/* Windows [w, *end) share their partition and order columns: one sort,
 * one pass over the runs evaluates them all. Within a window partition the
 * rows with equal order values stay in group-key order (the sort's
 * tie-break reaches the window columns only for equal group keys, which
 * no two rows have), so this is the order each window's own sort gives. */
static size_t same_sort_until(const sf_job *job, size_t w)
{
    const sf_job_window *a = &job->windows[w];
    size_t end = w + 1;
    for (; end < job->nwindows; end++) {
        const sf_job_window *b = &job->windows[end];
        if (b->npartition != a->npartition || b->order_by != a->order_by ||
            memcmp(b->partition_by, a->partition_by, a->npartition * sizeof *a->partition_by))
            break;
    }
    return end;
}

/* Appends the next window partition of m to R->rows and evaluates windows
 * [w, same_sort_until(w)) over it. Not collective. Returns 0 or SF_E_*. */
static int eval_partition(sf_run *R, size_t w, sf_run_merge *m)
{
    const sf_job *job = R->job;
    const sf_job_window *win = &job->windows[w];
    const unsigned char *rec;
    size_t len;
    const sf_value *top = sf_run_merge_top(m, &rec, &len);
    size_t start = R->rows.n;
    int rc = 0;
    while (top && !rc) {
        if (R->rows.n > start && !same_window_partition(win, sf_rows_at(&R->rows, start), top))
            break;
        rc = sf_rows_append_record(&R->rows, rec, len);
        if (rc)
            sf_error_set(&R->err, rc, "out of memory holding a window partition");
        else if ((rc = sf_run_merge_next(m)) == 0)
            top = sf_run_merge_top(m, &rec, &len);
    }
    if (rc || R->rows.n == start)
        return rc;
    /* The evaluation reads and writes values only: a view of the
     * partition's rows is enough. */
    sf_rows view;
    memset(&view, 0, sizeof view);
    view.ncols = R->rows.ncols;
    view.n = view.cap = R->rows.n - start;
    view.v = sf_rows_at(&R->rows, start);
    size_t end = same_sort_until(job, w);
    for (size_t v = w; v < end && !rc; v++) {
        const sf_job_window *wv = &job->windows[v];
        size_t bad = 0;
        rc = sf_window_eval_at(&view, wv, (int)(job->ngroup + job->naggs + v), &bad);
        if (rc == SF_E_RANGE)
            sf_run_window_overflow(R, wv, sf_rows_at(&view, bad));
        else if (rc)
            sf_error_set(&R->err, rc, "out of memory evaluating window '%s'", wv->name);
    }
    return rc;
}

/* One unit of a stage: appends some rows to R->rows (a window partition,
 * a grid key) from m; not collective. Returns 0 or SF_E_*. */
typedef int (*stage_unit)(sf_run *R, sf_run_merge *m, void *ctx);

/* A stage over its runs (R->mem.win, merged by keys): units of rows in
 * batches of an eighth of the state share, each batch routed and written
 * as a run of stage `next` (put_stage_run). done() says when this rank
 * has nothing left. Collective; agrees inside: returns 0 or SF_RUN_AGREED. */
static int run_stage(sf_run *R, const int *keys, size_t nkeys, stage_unit unit,
                     int (*done)(sf_run_merge *m, void *ctx), void *ctx, size_t next)
{
    struct sf_run_budget *M = &R->mem;
    sf_run_merge *m = NULL;
    int rc = sf_run_merge_open(R, M->win, M->win_runs, R->rows.ncols, keys, NULL, nkeys, &m);
    uint64_t cap = M->b.state / 8;
    int failed = 0;
    sf_spill *out = NULL;
    /* The batches this stage will make (a run each, on every rank): the
     * next runs' blocks are sized for them, so that merging them later
     * holds about ROW_BUFFERS of blocks. A row takes about twice its
     * encoded bytes in a batch. */
    uint64_t guess = M->win ? 2 * sf_spill_total_bytes(M->win) / (cap ? cap : 1) + 1 : 1;
    MPI_Allreduce(MPI_IN_PLACE, &guess, 1, MPI_UINT64_T, MPI_MAX, R->comm);
    size_t run = 0, runs = (size_t)guess;
    for (;;) {
        while (!rc && !done(m, ctx) && batch_bytes(R) < cap)
            rc = unit(R, m, ctx);
        if ((failed = sf_run_agree(R, rc, 0)) != 0)
            break;
        int any = R->rows.n > 0 || !done(m, ctx);
        MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, R->comm);
        if (!any)
            break;
        rc = put_stage_run(R, next, &out, run, runs);
        run++;
        if ((failed = sf_run_agree(R, rc, 0)) != 0)
            break;
    }
    sf_run_merge_close(m);
    /* This stage's runs are read: their files go, the next stage's (none
     * after the last window: the write's runs are R->mem.rows) take their
     * place. */
    sf_spill_close(M->win);
    M->win = out;
    M->win_runs = run;
    return failed ? SF_RUN_AGREED : 0;
}

static int window_unit(sf_run *R, sf_run_merge *m, void *ctx)
{
    return eval_partition(R, *(const size_t *)ctx, m);
}

static int merge_done(sf_run_merge *m, void *ctx)
{
    (void)ctx;
    return sf_run_merge_top(m, NULL, NULL) == NULL;
}

/* Window w over its runs, into the next window's runs or the write's.
 * Collective; agrees inside: returns 0 or SF_RUN_AGREED. */
static int eval_window(sf_run *R, size_t w)
{
    size_t nkeys;
    int *keys = window_keys(&R->job->windows[w], &nkeys);
    int rc = keys ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory merging window runs");
    if (sf_run_agree(R, rc, 0))
        return SF_RUN_AGREED;
    rc = run_stage(R, keys, nkeys, window_unit, merge_done, &w, same_sort_until(R->job, w));
    free(keys);
    return rc;
}

/* ---- the grid ---- */

typedef struct grid_walk {
    const sf_job_grid *g;
    sf_rows keys;       /* this rank's dimension keys, sorted: key, first date */
    size_t k;           /* next of them; a calendar grid: */
    int64_t day;        /* the next date of the range */
    int64_t start, end; /* the range */
} grid_walk;

/* Drops merged rows while drop(top) says so, counting them. */
static int drop_while(sf_run *R, sf_run_merge *m, const grid_walk *gw, const sf_value *key,
                      int64_t before)
{
    const sf_job_grid *g = gw->g;
    const sf_value *top;
    while ((top = sf_run_merge_top(m, NULL, NULL)) != NULL) {
        if (key) {
            int c = sf_value_cmp(&top[g->key], key);
            if (c > 0 || (c == 0 && top[g->date].type != SF_NULL && top[g->date].u.date >= before))
                break;
        } else if (top[g->date].type != SF_NULL && top[g->date].u.date >= before) {
            break;
        }
        R->grid_dropped++;
        int rc = sf_run_merge_next(m);
        if (rc)
            return rc;
    }
    return 0;
}

/* The row of (key, day): the merged one when it is next, else an empty
 * group's. */
static int grid_row(sf_run *R, sf_run_merge *m, const grid_walk *gw, const sf_value *key,
                    int64_t day)
{
    const sf_job *job = R->job;
    const sf_job_grid *g = gw->g;
    int rc = drop_while(R, m, gw, key, day);
    const unsigned char *rec;
    size_t len;
    const sf_value *top = rc ? NULL : sf_run_merge_top(m, &rec, &len);
    if (top && (!key || sf_value_cmp(&top[g->key], key) == 0) && top[g->date].u.date == day) {
        rc = sf_rows_append_record(&R->rows, rec, len);
        return rc ? rc : sf_run_merge_next(m);
    }
    if (rc)
        return rc;
    sf_value *dst = sf_rows_append(&R->rows);
    if (!dst)
        return SF_E_NOMEM;
    if (key)
        dst[g->key] = *key;
    dst[g->date] = sf_date((int32_t)day);
    for (size_t j = 0; j < job->naggs; j++)
        dst[job->ngroup + j] = sf_run_grid_empty_agg(job, j);
    R->grid_added++;
    return key ? sf_rows_keep_string(&R->rows, &dst[g->key]) : 0;
}

static int grid_done(sf_run_merge *m, void *ctx)
{
    const grid_walk *gw = ctx;
    if (gw->g->key < 0 ? gw->day <= gw->end : gw->k < gw->keys.n)
        return 0;
    return sf_run_merge_top(m, NULL, NULL) == NULL;
}

/* One dimension key's dates (a calendar grid: one date this rank owns);
 * past the last, the rows left are dropped. */
static int grid_unit(sf_run *R, sf_run_merge *m, void *ctx)
{
    grid_walk *gw = ctx;
    int rc = 0;
    if (gw->g->key < 0) {
        for (; gw->day <= gw->end; gw->day++) {
            sf_value day = sf_date((int32_t)gw->day);
            uint64_t hash;
            if ((rc = sf_key_hash_value(&day, &hash)) != 0)
                break;
            if (sf_partition_rank(hash, R->nparts, R->nranks) == R->rank) {
                rc = grid_row(R, m, gw, NULL, gw->day++);
                return rc == SF_E_NOMEM ? sf_error_set(&R->err, rc, "out of memory filling "
                                                       "the grid") : rc;
            }
        }
    } else if (gw->k < gw->keys.n) {
        const sf_value *dk = sf_rows_at(&gw->keys, gw->k++);
        int64_t lo = gw->start;
        if (dk[1].type == SF_DATE && dk[1].u.date > lo)
            lo = dk[1].u.date;
        for (int64_t d = lo; d <= gw->end && !rc; d++)
            rc = grid_row(R, m, gw, &dk[0], d);
        /* The key's rows past the range (and before it, when there are no
         * dates to make) are not in the grid. */
        if (!rc)
            rc = drop_while(R, m, gw, &dk[0], INT64_MAX);
        return rc == SF_E_NOMEM ? sf_error_set(&R->err, rc, "out of memory filling the grid")
                                : rc;
    }
    /* Every key or date made: what is left is outside the grid. */
    while (!rc && sf_run_merge_top(m, NULL, NULL)) {
        R->grid_dropped++;
        rc = sf_run_merge_next(m);
    }
    return rc;
}

/* The grid over its runs, into the first window's runs or the write's.
 * Collective; agrees inside: returns 0 or SF_RUN_AGREED. */
static int eval_grid(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    const sf_job *job = R->job;
    grid_walk gw;
    memset(&gw, 0, sizeof gw);
    gw.g = &job->grid;
    MPI_Allreduce(MPI_IN_PLACE, M->grid_mm, 2, MPI_INT64_T, MPI_MIN, R->comm);
    gw.start = gw.g->has_start ? gw.g->start : M->grid_mm[0];
    gw.end = gw.g->has_end ? gw.g->end
                           : (M->grid_mm[1] == INT64_MAX ? INT64_MIN : -M->grid_mm[1]);
    gw.day = gw.start;
    /* The dimension keys this rank owns (the hash of the key value, as the
     * rows were routed), sorted as the runs are. */
    sf_rows_init(&gw.keys, 2);
    int rc = 0;
    sf_buf scratch = SF_BUF_INIT;
    if (gw.g->key >= 0 && gw.start <= gw.end) {
        const sf_join_table *dim = R->dims[gw.g->input];
        const sf_job_input *in = &job->inputs[gw.g->input];
        size_t ndim = sf_join_table_rows(dim);
        for (size_t k = 0; k < ndim && !rc; k++) {
            const sf_value *drow = sf_join_table_row(dim, k);
            int mine;
            if ((rc = sf_run_grid_owns(R, drow, &scratch, &mine)) != 0 || !mine)
                continue;
            sf_value *dst = sf_rows_append(&gw.keys);
            if (!dst) {
                rc = SF_E_NOMEM;
                break;
            }
            dst[0] = drow[in->key_col];
            if (gw.g->from_col >= 0)
                dst[1] = drow[gw.g->from_col];
        }
        int zero = 0;
        if (!rc)
            rc = sf_rows_sort(&gw.keys, &zero, 1);
        if (rc)
            sf_error_set(&R->err, rc, "out of memory listing the grid's keys");
    }
    sf_buf_free(&scratch);
    int keys[2];
    size_t nkeys = grid_keys(gw.g, keys);
    if (!sf_run_agree(R, rc, 0))
        rc = run_stage(R, keys, nkeys, grid_unit, grid_done, &gw, 0);
    else
        rc = SF_RUN_AGREED;
    sf_rows_free(&gw.keys);
    return rc;
}

int sf_run_spill_windows(sf_run *R)
{
    if (R->job->grid.on) {
        malloc_trim(0);
        if (eval_grid(R) != 0)
            return SF_RUN_AGREED;
    }
    for (size_t w = 0; w < R->job->nwindows; w = same_sort_until(R->job, w)) {
        /* What the passes and the last window freed goes back to the
         * system before the next holds its batches (glibc keeps freed
         * heap otherwise, and the budget is resident memory). */
        malloc_trim(0);
        if (eval_window(R, w) != 0)
            return SF_RUN_AGREED;
    }
    /* A limit's first N rows, kept from the batches, are the result rows
     * from here on (in memory, as the limit takes them). */
    if (R->mem.rows_done) {
        sf_rows_free(&R->rows);
        R->rows = R->mem.kept;
        memset(&R->mem.kept, 0, sizeof R->mem.kept);
    }
    return 0;
}
