/* run.c - `shardflow run`: options, the sequence of phases, cleanup.
 *
 * Every phase ends with an agreement (sf_run_agree, mpi/collective): a
 * failure on any rank stops every rank at the same point (no hang), the
 * lowest failing rank's message is printed once, and the lifecycle
 * (mpi/lifecycle) removes what was staged. Errors that every rank hits
 * identically (a bad spec, an unreadable input checked by rank 0) are
 * printed once too. The phases live in run_plan.c, run_map.c,
 * run_reduce.c, run_write.c and run_report.c (see run_internal.h).
 */
#include "cli/run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sf_run_opts_init(sf_run_opts *o)
{
    memset(o, 0, sizeof *o); /* chunk_size 0: automatic */
    o->scan.schedule = SF_SCHED_DYNAMIC;
    o->shuffle_round = (uint64_t)64 << 20;
    o->scan.max_line = (uint64_t)16 << 20;
    o->claim_timeout = 86400; /* 1d: another host's claim is stale after a day */
    /* --max-bad 10%: a run that rejects more than a tenth of its lines
     * fails rather than commit a result that silently lacks them. */
    o->max_bad_set = 1;
    o->max_bad_pct = 10;
    o->progress = -1;
}

uint64_t sf_run_chunk_size(uint64_t requested, uint64_t input_bytes, int nranks)
{
    if (requested)
        return requested;
    uint64_t cs = (uint64_t)64 << 20, floor = (uint64_t)1 << 20;
    uint64_t fair = input_bytes / (4 * (uint64_t)(nranks > 0 ? nranks : 1));
    if (fair < cs)
        cs = fair > floor ? fair : floor;
    return cs;
}

static int run_output(sf_run *R);

/* Several outputs: a lifecycle (claim, staging, files) per further output,
 * under the run's id, and a pending commit per output. Not collective.
 * Returns 0 or SF_E_NOMEM. */
static int setup_outputs(sf_run *R)
{
    size_t n = R->spec->noutputs;
    R->lives = calloc(n - 1, sizeof *R->lives);
    R->pending = calloc(n, sizeof *R->pending);
    if (!R->lives || !R->pending)
        return SF_E_NOMEM;
    for (size_t k = 0; k + 1 < n; k++) {
        sf_life_init(&R->lives[k], R->comm);
        memcpy(R->lives[k].runid, R->life.runid, sizeof R->life.runid);
        R->lives[k].t_start = R->life.t_start;
    }
    return 0;
}

/* Makes output k's lifecycle R->life (k >= 1), or puts it back: the same
 * call both ways. The fact input's files stay in R->life. */
static void swap_life(sf_run *R, size_t k)
{
    sf_input_files in = R->life.inputs;
    sf_lifecycle tmp = R->life;
    R->life = R->lives[k - 1];
    R->lives[k - 1] = tmp;
    memset(&R->lives[k - 1].inputs, 0, sizeof R->lives[k - 1].inputs);
    /* Output k's own list (empty: sf_life_share gave it on every rank)
     * goes; the fact input's files stay with whichever is R->life. */
    sf_inputs_free(&R->life.inputs);
    R->life.inputs = in;
}

/* Several outputs from one scan: each output in turn is shuffled, reduced,
 * windowed and written to its own staging, with its own manifest; only
 * when every output is written does rank 0 commit them, in order. A
 * failure before that commits nothing; a failure while committing leaves
 * the outputs before it committed, and says which. Collective. Returns the
 * exit code. */
static int run_outputs(sf_run *R)
{
    sf_metrics m0 = R->m;
    sf_shuffle_stats sh0 = R->shuffle;
    size_t n = R->spec->noutputs;
    /* Every combiner leaves the pipeline now: the first output's shuffle
     * frees the pipeline. */
    sf_groups **comb = calloc(n, sizeof *comb);
    for (size_t k = 0; comb && k < n; k++)
        comb[k] = sf_pipeline_take_output_groups(R->pipe, k);
    /* Under a budget some rank exceeded, every combiner goes to its
     * output's spill partitions now; each output then reduces in passes. */
    int src = comb && R->mem.spilled ? sf_run_spill_outputs(R, comb, n) : 0;
    if (sf_run_agree(R, src, 0)) {
        for (size_t k = 0; k < n; k++)
            sf_groups_free(comb[k]);
        free(comb);
        return 1;
    }
    int code = 0;
    for (size_t k = 0; k < n && !code; k++) {
        int rc = comb ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
        R->out_index = k;
        R->job = &R->spec->outputs[k];
        R->reduced = comb ? comb[k] : NULL;
        if (comb)
            comb[k] = NULL;
        if (!rc && R->job->kind == SF_OUT_STAGE)
            rc = sf_run_stage_groups(R);
        if (k > 0) {
            swap_life(R, k);
            sf_rows_free(&R->rows);
            free(R->part_groups);
            free(R->part_rows);
            R->part_groups = R->part_rows = NULL;
            free(R->wbucket);
            R->wbucket = NULL;
            R->nwbucket = 0;
            sf_run_text_free(R);
            R->m = m0;
            R->shuffle = sh0;
            R->sum_overflow = 0;
            R->digest = 0;
            R->having_dropped = R->limit_dropped = 0;
            R->grid_added = R->grid_dropped = 0;
            R->nsamples = 0;
            R->mem.row_runs = 0;
            R->mem.rows_out = 0;
            R->mem.rows_done = 0;
            rc = sf_run_prepare_output(R);
        }
        if (!rc && !R->reduced && !R->mem.spilled)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory: no combiner for output '%s'",
                              R->job->output_name);
        code = sf_run_agree(R, rc, 0) ? 1 : run_output(R);
        if (k > 0)
            swap_life(R, k);
    }
    for (size_t k = 0; comb && k < n; k++)
        sf_groups_free(comb[k]);
    free(comb);
    if (code)
        return code;
    int rc = 0;
    if (R->rank == 0) {
        size_t done = 0;
        for (size_t k = 0; k < n && !rc; k++) {
            struct sf_run_pending *p = &R->pending[k];
            sf_lifecycle *L = k ? &R->lives[k - 1] : &R->life;
            rc = p->ready ? sf_life_commit(L, &p->metrics, &p->manifest, &R->err)
                          : sf_error_set(&R->err, SF_E_INTERNAL, "internal error: output '%s' "
                                         "was not finished", R->spec->outputs[k].output_name);
            p->committed = rc == 0;
            done += p->committed;
            if (!rc && !R->o->quiet)
                fprintf(stderr, "shardflow: output '%s' committed: %s\n",
                        R->spec->outputs[k].output_name, L->stage.out);
        }
        if (rc) {
            fprintf(stderr, "shardflow: committed %zu of %zu outputs:", done, n);
            for (size_t k = 0; k < n; k++)
                fprintf(stderr, " %s (%s)", R->spec->outputs[k].output_name,
                        R->pending[k].committed ? "committed" : "not committed");
            fprintf(stderr, "\n");
        }
    }
    if (sf_run_agree(R, rc, 1))
        return 1;
    /* Every output committed: the outputs they replaced go. */
    sf_life_drop_replaced(&R->life);
    for (size_t k = 0; k + 1 < n; k++)
        sf_life_drop_replaced(&R->lives[k]);
    return 0;
}

/* The phases in order. Collective. Returns the exit code. */
static int run_job(sf_run *R)
{
    if (sf_run_load_job(R) != 0) {
        if (R->rank == 0)
            fprintf(stderr, "shardflow: %s\n", R->err.msg);
        return 2;
    }
    sf_life_runid(&R->life);
    if (sf_run_agree(R, sf_run_budget(R), 0))
        return 2;
    int src = R->spec->noutputs > 1 ? setup_outputs(R) : 0;
    if (src)
        sf_error_set(&R->err, src, "out of memory setting up %zu outputs", R->spec->noutputs);
    if (sf_run_agree(R, src, 0))
        return 1;
    R->nparts = R->o->partitions > 0 ? R->o->partitions : R->nranks;
    sf_metrics_begin(&R->m, &R->shuffle);
    if (sf_run_plan(R) != 0)
        return 1;
    if (sf_run_agree(R, sf_run_budget_dims(R), 0))
        return 2;
    R->progress = sf_progress_pick(R->o->progress, R->rank);
    int rc = 0;
    R->pipe = sf_pipeline_new(R->job, R->dims, (sf_decoder_kind)R->o->decoder, &R->err);
    if (!R->pipe)
        rc = SF_E_NOMEM;
    size_t nchunks = 0;
    R->chunk_size = sf_run_chunk_size(R->o->chunk_size, R->fact_size, R->nranks);
    /* Automatic sizes under dynamic scheduling end in smaller chunks (see
     * sf_scan_make_chunks_guided); --chunk-size is taken as given. */
    int guided = !R->o->chunk_size && R->o->scan.schedule == SF_SCHED_DYNAMIC;
    sf_chunk *chunks = rc ? NULL
                       : guided ? sf_scan_make_chunks_guided(R->life.inputs.sizes, R->life.inputs.n,
                                                             R->chunk_size, R->nranks, &nchunks)
                                : sf_scan_make_chunks(R->life.inputs.sizes, R->life.inputs.n,
                                                      R->chunk_size, &nchunks);
    if (!rc && !chunks)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory planning chunks");
    int prc = sf_run_plan_compressed(R, &chunks, &nchunks);
    if (!rc)
        rc = prc;
    if (!rc)
        rc = sf_run_plan_feeds(R, chunks, &nchunks);
    if (!rc)
        rc = sf_run_setup_stream(R);
    if (!rc)
        rc = sf_run_rowstream_setup(R);
    sf_metrics_end(&R->m, SF_PH_PLAN, &R->shuffle, 0, 0);
    if (sf_run_agree(R, rc, 0)) {
        free(chunks);
        return 1;
    }

    sf_metrics_begin(&R->m, &R->shuffle);
    rc = sf_run_scan(R, chunks, nchunks);
    uint64_t local_groups = sf_groups_count(sf_pipeline_groups(R->pipe));
    sf_metrics_end(&R->m, SF_PH_SCAN, &R->shuffle, R->local_counts.lines_read, local_groups);
    if (sf_run_agree(R, rc, 0)) {
        free(chunks);
        R->chunks = NULL;
        MPI_Allreduce(MPI_IN_PLACE, &R->exit_code, 1, MPI_INT, MPI_MAX, R->comm);
        return R->exit_code;
    }
    if (sf_run_agree(R, sf_run_rowstream_finish(R, 0), 0)) {
        free(chunks);
        R->chunks = NULL;
        return 1;
    }
    rc = sf_run_finish_bad_lines(R);
    free(chunks);
    R->chunks = NULL;
    if (rc)
        return R->exit_code;
    if (sf_run_agree(R, sf_run_take_rows(R), 0))
        return 1;

    /* Under a memory budget that some rank exceeded, shuffle and reduce
     * run together, one spill pass at a time (run_spill.c). */
    sf_run_spill_agree(R);
    if (R->spec->noutputs > 1)
        return run_outputs(R);
    return run_output(R);
}

/* Shuffle, reduce, windows, write and finish of R->job's output (with
 * several outputs: its commit is only prepared). Collective. Returns the
 * exit code. */
static int run_output(sf_run *R)
{
    int rc;
    /* A row or dimension output has its rows already: no shuffle, no
     * reduce (run_stage.c). */
    const int direct = R->job->kind == SF_OUT_ROWS || R->job->kind == SF_OUT_DIMENSION;
    sf_groups *mine = direct ? NULL
                      : R->reduced ? R->reduced
                      : R->pipe    ? sf_pipeline_groups(R->pipe)
                                   : NULL;
    uint64_t local_groups = mine ? sf_groups_count(mine) : 0;
    R->copart = !direct && sf_run_copartitioned(R);
    sf_metrics_begin(&R->m, &R->shuffle);
    rc = direct ? sf_run_direct_rows(R)
         : R->mem.spilled ? sf_run_spill_passes(R) : sf_run_shuffle_groups(R);
    sf_metrics_end(&R->m, SF_PH_SHUFFLE, &R->shuffle, local_groups,
                   R->reduced ? sf_groups_live_count(R->reduced)
                              : R->rows.n + R->mem.rows_out + sf_run_text_rows(R));
    if (rc == SF_RUN_AGREED || sf_run_agree(R, rc, 0))
        return 1;

    sf_metrics_begin(&R->m, &R->shuffle);
    uint64_t reduce_groups = R->reduced ? sf_groups_live_count(R->reduced)
                                        : R->rows.n + R->mem.rows_out + sf_run_text_rows(R);
    rc = R->mem.spilled || direct ? 0 : sf_run_reduce(R);
    sf_metrics_end(&R->m, SF_PH_REDUCE, &R->shuffle, reduce_groups,
                   R->rows.n + R->mem.rows_out + sf_run_text_rows(R));
    if (sf_run_agree(R, rc, 0))
        return 1;

    sf_metrics_begin(&R->m, &R->shuffle);
    uint64_t rows_before = R->rows.n + R->mem.rows_out + sf_run_text_rows(R);
    int done = R->mem.row_runs || R->mem.rows_done;
    rc = R->job->grid.on && !done ? sf_run_grid(R) : 0;
    if (rc == SF_RUN_AGREED || sf_run_agree(R, rc, 0))
        return 1;
    /* Rows in sorted runs had their grid, windows and computed columns in
     * the spill passes (run_spill_window.c, run_spill_write.c). */
    rc = done ? 0 : sf_run_windows(R);
    if (rc)
        return 1;
    rc = done ? 0 : sf_run_compute(R);
    if (!rc)
        rc = sf_run_keep_for_stage(R);
    sf_metrics_end(&R->m, SF_PH_WINDOW, &R->shuffle, rows_before,
                   R->rows.n + R->mem.rows_out + sf_run_text_rows(R));
    if (sf_run_agree(R, rc, 0))
        return 1;

    sf_metrics_begin(&R->m, &R->shuffle);
    rows_before = R->rows.n + R->mem.rows_out + sf_run_text_rows(R);
    rc = sf_run_rowstream_written(R) ? 0 : sf_run_write_output(R);
    uint64_t written = 0;
    for (size_t i = 0; i < R->life.nfiles; i++)
        written += R->life.files[i].rows;
    sf_metrics_end(&R->m, SF_PH_WRITE, &R->shuffle, rows_before, written);
    if (rc == SF_RUN_AGREED || sf_run_agree(R, rc, 0))
        return 1;

    rc = sf_run_finish(R);
    if (sf_run_agree(R, rc, 1))
        return 1;
    if (!R->pending)
        sf_life_drop_replaced(&R->life); /* committed: the output it replaced goes */
    return 0;
}

static void run_free(sf_run *R)
{
    sf_run_text_free(R);
    sf_stream_free(R->stream);
    sf_run_stage_free(R);
    sf_run_rowstream_free(R);
    sf_run_spill_close(R);
    sf_run_csv_free(R);
    sf_badrec_discard(R->spill);
    free(R->chunk_lines);
    free(R->chunk_ubytes);
    free(R->all_chunks);
    free(R->feeds);
    free(R->fact_codec);
    sf_pipeline_free(R->pipe);
    sf_groups_free(R->reduced);
    sf_run_distinct_free(R);
    sf_rows_free(&R->rows);
    for (size_t i = 0; i < SF_MAX_INPUTS; i++)
        sf_join_table_free(R->dims[i]);
    for (size_t k = 0; R->pending && k < R->spec->noutputs; k++) {
        sf_buf_free(&R->pending[k].metrics);
        sf_buf_free(&R->pending[k].manifest);
    }
    free(R->pending);
    sf_job_free(R->spec ? R->spec : R->job);
    free(R->acct);
    free(R->acct_all);
    free(R->out_names);
    free(R->out_types);
    free(R->out_dec);
    free(R->part_groups);
    free(R->part_rows);
    free(R->wbucket);
}

int sf_run_main(const sf_run_opts *o) { return sf_run_job(o, NULL); }

int sf_run_job(const sf_run_opts *o, sf_run_result *res)
{
    sf_run *R = calloc(1, sizeof *R);
    if (!R) {
        fprintf(stderr, "shardflow: out of memory\n");
        return 1;
    }
    sf_life_init(&R->life, MPI_COMM_WORLD);
    R->comm = R->life.comm;
    R->rank = R->life.rank;
    R->nranks = R->life.nranks;
    R->opts = *o;
    R->o = &R->opts;
    R->res = res;
    R->exit_code = 1;
    sf_error_clear(&R->err);
    sf_rows_init(&R->rows, 0);
    int rc = run_job(R);
    size_t nlives = R->lives ? R->spec->noutputs - 1 : 0;
    for (size_t k = 0; k < nlives; k++) {
        /* An output committed before a later one failed stays committed. */
        const char *name = R->spec->outputs[k + 1].output_name;
        char what[96];
        snprintf(what, sizeof what, "run (output '%s')", name);
        sf_life_end(&R->lives[k], rc != 0, what);
    }
    free(R->lives);
    char what0[96] = "run";
    if (nlives)
        snprintf(what0, sizeof what0, "run (output '%s')", R->spec->outputs[0].output_name);
    run_free(R);
    sf_life_end(&R->life, rc != 0, what0);
    free(R);
    return rc;
}
