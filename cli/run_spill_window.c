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

int sf_run_spill_window_pass(sf_run *R, size_t pass, size_t passes)
{
    R->mem.win_runs = pass + 1;
    return put_window_run(R, 0, &R->mem.win, pass, passes);
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

/* Appends the next window partition of m to R->rows and evaluates window
 * w over it. Not collective. Returns 0 or SF_E_*. */
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
    size_t bad = 0;
    rc = sf_window_eval_at(&view, win, (int)(job->ngroup + job->naggs + w), &bad);
    if (rc == SF_E_RANGE)
        sf_run_window_overflow(R, win, sf_rows_at(&view, bad));
    else if (rc)
        sf_error_set(&R->err, rc, "out of memory evaluating window '%s'", win->name);
    return rc;
}

/* Window w over its runs (R->mem.win), into the next window's runs or the
 * write's. Collective; agrees inside: returns 0 or SF_RUN_AGREED. */
static int eval_window(sf_run *R, size_t w)
{
    struct sf_run_budget *M = &R->mem;
    const sf_job *job = R->job;
    size_t nkeys;
    int *keys = window_keys(&job->windows[w], &nkeys);
    sf_run_merge *m = NULL;
    int rc = keys ? sf_run_merge_open(R, M->win, M->win_runs, R->rows.ncols, keys, NULL, nkeys,
                                      &m)
                  : sf_error_set(&R->err, SF_E_NOMEM, "out of memory merging window runs");
    uint64_t cap = M->b.state / 8;
    int last = w + 1 == job->nwindows, failed = 0;
    sf_spill *next = NULL;
    /* The batches this window will make (a run each, on every rank): the
     * next runs' blocks are sized for them, so that merging them later
     * holds about ROW_BUFFERS of blocks. A row takes about twice its
     * encoded bytes in a batch. */
    uint64_t guess = M->win ? 2 * sf_spill_total_bytes(M->win) / (cap ? cap : 1) + 1 : 1;
    MPI_Allreduce(MPI_IN_PLACE, &guess, 1, MPI_UINT64_T, MPI_MAX, R->comm);
    size_t run = 0, runs = (size_t)guess;
    for (;;) {
        while (!rc && sf_run_merge_top(m, NULL, NULL) && batch_bytes(R) < cap)
            rc = eval_partition(R, w, m);
        if ((failed = sf_run_agree(R, rc, 0)) != 0)
            break;
        int any = R->rows.n > 0 || sf_run_merge_top(m, NULL, NULL) != NULL;
        MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, R->comm);
        if (!any)
            break;
        rc = last ? sf_run_spill_rows_pass(R, run, runs) : put_window_run(R, w + 1, &next, run,
                                                                           runs);
        run++;
        if ((failed = sf_run_agree(R, rc, 0)) != 0)
            break;
    }
    sf_run_merge_close(m);
    free(keys);
    /* This window's runs are read: their files go, the next window's
     * (none after the last) take their place. */
    sf_spill_close(M->win);
    M->win = next;
    M->win_runs = run;
    return failed ? SF_RUN_AGREED : 0;
}

int sf_run_spill_windows(sf_run *R)
{
    for (size_t w = 0; w < R->job->nwindows; w++) {
        /* What the passes and the last window freed goes back to the
         * system before the next holds its batches (glibc keeps freed
         * heap otherwise, and the budget is resident memory). */
        malloc_trim(0);
        if (eval_window(R, w) != 0)
            return SF_RUN_AGREED;
    }
    return 0;
}
