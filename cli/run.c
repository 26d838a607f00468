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
#include <unistd.h>

void sf_run_opts_init(sf_run_opts *o)
{
    memset(o, 0, sizeof *o); /* chunk_size 0: automatic */
    o->scan.schedule = SF_SCHED_DYNAMIC;
    o->shuffle_round = (uint64_t)64 << 20;
    o->scan.max_line = (uint64_t)16 << 20;
    o->broadcast_limit = (uint64_t)64 << 20;
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
    R->nparts = R->o->partitions > 0 ? R->o->partitions : R->nranks;
    sf_metrics_begin(&R->m, &R->shuffle);
    if (sf_run_plan(R) != 0)
        return 1;
    if (sf_run_agree(R, sf_run_budget_dims(R), 0))
        return 2;
    int progress = R->o->progress >= 0 ? R->o->progress : isatty(STDERR_FILENO);
    int rc = 0;
    R->pipe = sf_pipeline_new(R->job, R->dims, (sf_decoder_kind)R->o->decoder, &R->err);
    if (!R->pipe)
        rc = SF_E_NOMEM;
    size_t nchunks = 0;
    R->chunk_size = sf_run_chunk_size(R->o->chunk_size, R->fact_size, R->nranks);
    sf_chunk *chunks = rc ? NULL : sf_scan_make_chunks(R->life.inputs.sizes, R->life.inputs.n,
                                                       R->chunk_size, &nchunks);
    if (!rc && !chunks)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory planning chunks");
    int prc = sf_run_plan_compressed(R, &chunks, &nchunks);
    if (!rc)
        rc = prc;
    if (!rc)
        rc = sf_run_setup_stream(R);
    sf_metrics_end(&R->m, SF_PH_PLAN, &R->shuffle, 0, 0);
    if (sf_run_agree(R, rc, 0)) {
        free(chunks);
        return 1;
    }

    sf_metrics_begin(&R->m, &R->shuffle);
    rc = sf_run_scan(R, chunks, nchunks, progress);
    uint64_t local_groups = sf_groups_count(sf_pipeline_groups(R->pipe));
    sf_metrics_end(&R->m, SF_PH_SCAN, &R->shuffle, R->local_counts.lines_read, local_groups);
    if (sf_run_agree(R, rc, 0)) {
        free(chunks);
        R->chunks = NULL;
        MPI_Allreduce(MPI_IN_PLACE, &R->exit_code, 1, MPI_INT, MPI_MAX, R->comm);
        return R->exit_code;
    }
    rc = sf_run_finish_bad_lines(R);
    free(chunks);
    R->chunks = NULL;
    if (rc)
        return R->exit_code;

    /* Under a memory budget that some rank exceeded, shuffle and reduce
     * run together, one spill pass at a time (run_spill.c). */
    sf_run_spill_agree(R);
    sf_metrics_begin(&R->m, &R->shuffle);
    rc = R->mem.spilled ? sf_run_spill_passes(R) : sf_run_shuffle_groups(R);
    sf_metrics_end(&R->m, SF_PH_SHUFFLE, &R->shuffle, local_groups,
                   R->reduced ? sf_groups_live_count(R->reduced)
                              : R->rows.n + R->mem.rows_out);
    if (rc == SF_RUN_AGREED || sf_run_agree(R, rc, 0))
        return 1;

    sf_metrics_begin(&R->m, &R->shuffle);
    uint64_t reduce_groups = R->reduced ? sf_groups_live_count(R->reduced)
                                        : R->rows.n + R->mem.rows_out;
    rc = R->mem.spilled ? 0 : sf_run_reduce(R);
    sf_metrics_end(&R->m, SF_PH_REDUCE, &R->shuffle, reduce_groups, R->rows.n + R->mem.rows_out);
    if (sf_run_agree(R, rc, 0))
        return 1;

    sf_metrics_begin(&R->m, &R->shuffle);
    uint64_t rows_before = R->rows.n + R->mem.rows_out;
    rc = sf_run_windows(R);
    sf_metrics_end(&R->m, SF_PH_WINDOW, &R->shuffle, rows_before, R->rows.n + R->mem.rows_out);
    if (rc)
        return 1;

    sf_metrics_begin(&R->m, &R->shuffle);
    rows_before = R->rows.n + R->mem.rows_out;
    rc = sf_run_write_output(R);
    uint64_t written = 0;
    for (size_t i = 0; i < R->life.nfiles; i++)
        written += R->life.files[i].rows;
    sf_metrics_end(&R->m, SF_PH_WRITE, &R->shuffle, rows_before, written);
    if (rc == SF_RUN_AGREED || sf_run_agree(R, rc, 0))
        return 1;

    rc = sf_run_finish(R);
    if (sf_run_agree(R, rc, 1))
        return 1;
    return 0;
}

static void run_free(sf_run *R)
{
    sf_stream_free(R->stream);
    sf_run_spill_close(R);
    sf_badrec_discard(R->spill);
    free(R->chunk_lines);
    free(R->chunk_ubytes);
    free(R->fact_codec);
    sf_pipeline_free(R->pipe);
    sf_groups_free(R->reduced);
    sf_rows_free(&R->rows);
    for (size_t i = 0; i < SF_MAX_INPUTS; i++)
        sf_join_table_free(R->dims[i]);
    sf_job_free(R->job);
    free(R->acct);
    free(R->acct_all);
    free(R->out_names);
    free(R->out_types);
    free(R->part_groups);
    free(R->part_rows);
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
    run_free(R);
    sf_life_end(&R->life, rc != 0, "run");
    free(R);
    return rc;
}
