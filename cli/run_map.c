/* run_map.c - `shardflow run`, scan+map: every line of the fact input
 * through the pipeline (core/pipeline), counted per fact file; bad lines
 * handled as --mode says (spilled for _bad_records, counted, or the end of
 * the run); and, for the strategies that ship raw rows (before-join,
 * none), the row stream to the owners partition/salt picks. */
#include "cli/run_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bad_lines.h"
#include "core/rejmsg.h"
#include "io/decompress.h"
#include "io/fsutil.h"

/* A line the pipeline rejected, as --mode says: spilled for
 * _bad_records (permissive), only counted (dropmalformed), or the end of
 * the run with FILE:LINE:COLUMN (failfast). */
static int bad_line(sf_run *R, const sf_line_verdict *v, int file, uint64_t offset,
                    const char *text, size_t len)
{
    const char *msg = v->msg;
    const char *why = sf_reject_reason_name(v->reason);
    const char *path = R->life.inputs.paths[file];
    if (R->o->mode == SF_MODE_FAILFAST) {
        uint64_t before = 0;
        sf_error e;
        char place[sizeof R->err.msg];
        const sf_chunk *c = &R->chunks[R->cur_chunk];
        int counted;
        if (c->codec) {
            /* Decode what the earlier chunks own to place the line. */
            uint64_t ubytes = 0;
            counted = sf_zcount_before(path, (sf_codec)c->codec, c->start, &before, &ubytes,
                                       &e) == 0;
            before += R->cur_line - 1;
            offset += ubytes;
        } else {
            counted = sf_count_lines_before(path, offset, &before, &e) == 0;
        }
        sf_rejmsg_place(place, sizeof place, path, counted ? before + 1 : 0, offset, msg,
                        "--mode failfast");
        if (counted)
            R->exit_code = 2;
        return sf_error_set(&R->err, SF_E_PARSE, "%s", place);
    }
    if (R->o->mode != SF_MODE_PERMISSIVE)
        return 0;
    return sf_bad_spill(&R->spill, R->life.stage.tmpdir, R->rank, R->cur_chunk, R->cur_line,
                        file, offset, why, msg, text, len, &R->err);
}

static int run_line(void *ctx, const char *line, size_t len, int file, uint64_t offset)
{
    sf_run *R = ctx;
    struct sf_run_acct *a = &R->acct[file];
    a->lines++;
    a->blank += len == 0;
    R->cur_line++;
    sf_line_verdict v;
    int rc = sf_pipeline_push_line(R->pipe, line, len, file, offset, &v);
    if (!rc && v.rejected) {
        a->rejected++;
        rc = bad_line(R, &v, file, offset, line, len);
    }
    return rc ? rc : sf_run_spill_tick(R);
}

static int run_too_long(void *ctx, int file, uint64_t offset, const char *msg)
{
    sf_run *R = ctx;
    R->acct[file].lines++;
    R->acct[file].rejected++;
    R->cur_line++;
    sf_pipeline_reject(R->pipe, file, offset, SF_REJ_LINE_TOO_LONG, msg);
    sf_line_verdict v = {1, SF_REJ_LINE_TOO_LONG, msg};
    return bad_line(R, &v, file, offset, "", 0);
}

static int run_chunk_begin(void *ctx, size_t chunk)
{
    sf_run *R = ctx;
    R->cur_chunk = chunk;
    R->cur_line = 0;
    return 0;
}

static int run_chunk_end(void *ctx, size_t chunk, uint64_t bytes)
{
    sf_run *R = ctx;
    const sf_chunk *c = &R->chunks[chunk];
    /* A compressed chunk accounts for its share of the file; its decoded
     * bytes place its lines' offsets in the file (sf_run_finish_bad_lines). */
    uint64_t planned = c->codec ? c->end - c->start : bytes;
    if (c->codec)
        R->chunk_ubytes[chunk] = bytes;
    sf_pipeline_add_bytes(R->pipe, planned);
    R->acct[c->file].bytes += planned;
    R->acct[c->file].ubytes += bytes;
    R->chunk_lines[chunk] = R->cur_line;
    return 0;
}

/* After the scan: --max-bad, then (permissive) every rank's spill becomes
 * _bad_records/part-<rank>.jsonl, numbered from the per-chunk line counts
 * of all ranks. Collective. */
int sf_run_finish_bad_lines(sf_run *R)
{
    /* Never a silent empty success: a run that read lines and rejected
     * every one that was not blank fails (exit 2, nothing committed). (No
     * "looks compressed" note: compressed fact files are decoded.) */
    const sf_counts *pc = sf_pipeline_counts(R->pipe);
    sf_bad_counts mine = {pc->rows_rejected, pc->lines_read, pc->blank_lines,
                          pc->rejected_by_reason};
    if (sf_bad_all_rejected(R->comm, &mine, R->local_samples, R->nlocal_samples,
                            (const char *const *)R->life.inputs.paths, &R->err)) {
        R->exit_code = 2;
        sf_run_agree(R, SF_E_PARSE, 1);
        return SF_RUN_AGREED;
    }
    if (sf_bad_over_limit(R->comm, R->o, pc->rows_rejected, pc->lines_read, &R->err)) {
        R->exit_code = 2;
        return sf_run_agree(R, SF_E_LIMIT, 1) ? SF_RUN_AGREED : 0;
    }
    uint64_t count = 0;
    int rc = sf_bad_write_records(R->comm, R->rank, &R->spill, R->chunks, R->nchunks,
                                  R->chunk_lines, R->chunk_ubytes,
                                  (const char *const *)R->life.inputs.paths, R->life.stage.tmpdir,
                                  &count, &R->err);
    MPI_Reduce(&count, &R->bad_written, 1, MPI_UINT64_T, MPI_SUM, 0, R->comm);
    return sf_run_agree(R, rc, 0) ? SF_RUN_AGREED : 0;
}

/* ---- raw-row streams (before-join, none) ---- */

static int emit_row(void *ctx, uint64_t hash, const unsigned char *rec, size_t len)
{
    sf_run *R = ctx;
    int salt = R->repartition == SF_REPART_NONE ? R->o->salt : 1;
    int dest = sf_salt_route(&R->salt, hash, R->nparts, R->nranks, salt);
    return sf_stream_put(R->stream, dest, rec, len);
}

static int take_row(void *ctx, const unsigned char *rec, size_t len, int source)
{
    sf_run *R = ctx;
    R->m.stream_rows_in++;
    int rc = sf_pipeline_push_row(R->pipe, rec, len);
    if (rc)
        sf_error_set(&R->err, rc, "bad or unstorable row from rank %d", source);
    return rc ? rc : sf_run_spill_tick(R);
}

/* Splits the pipeline where the strategy ships raw rows and opens the row
 * stream; before-aggregate needs neither. */
int sf_run_setup_stream(sf_run *R)
{
    const sf_job *job = R->job;
    if (R->repartition == SF_REPART_BEFORE_AGGREGATE)
        return 0;
    size_t split = job->nsteps;
    const int *route = job->group_slots;
    size_t nroute = job->ngroup;
    if (R->repartition == SF_REPART_BEFORE_JOIN) {
        split = (size_t)R->join_step;
        route = &job->steps[R->join_step].on_slot;
        nroute = 1;
    }
    sf_salt_init(&R->salt);
    size_t batch = R->o->shuffle_round / (uint64_t)R->nranks;
    if (batch > ((size_t)4 << 20))
        batch = (size_t)4 << 20;
    R->stream = sf_stream_new(R->comm, 201, batch, take_row, R, NULL, NULL);
    if (!R->stream || sf_pipeline_split(R->pipe, split, route, nroute, emit_row, R) != 0)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory setting up the row stream");
    return 0;
}


int sf_run_scan(sf_run *R, sf_chunk *chunks, size_t nchunks, int progress)
{
    sf_scan_sink sink = {run_line, run_too_long, run_chunk_begin, run_chunk_end, R};
    R->chunks = chunks;
    R->nchunks = nchunks;
    R->chunk_lines = calloc(nchunks ? nchunks : 1, sizeof *R->chunk_lines);
    R->chunk_ubytes = calloc(nchunks ? nchunks : 1, sizeof *R->chunk_ubytes);
    if (!R->chunk_lines || !R->chunk_ubytes)
        MPI_Abort(R->comm, 1); /* every rank is about to start the scan */
    int rc = sf_scan_run(R->comm, (const char *const *)R->life.inputs.paths, chunks, nchunks,
                         &R->o->scan, progress, &sink, R->stream, &R->scan, &R->err);
    if (R->stream) {
        sf_stream_stats(R->stream, &R->shuffle);
        sf_stream_free(R->stream);
        R->stream = NULL;
    }
    /* Keep the counts: the shuffle frees the pipeline. */
    R->local_counts = *sf_pipeline_counts(R->pipe);
    const sf_reject_sample *s = sf_pipeline_samples(R->pipe, &R->nlocal_samples);
    memcpy(R->local_samples, s, R->nlocal_samples * sizeof *s);
    return rc;
}
