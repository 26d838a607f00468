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
    if (!R->spill) {
        size_t n = strlen(R->life.stage.tmpdir) + 64;
        char *dir = malloc(n), *spill = malloc(n);
        int rc = dir && spill ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
        if (!rc) {
            snprintf(dir, n, "%s/_bad_records", R->life.stage.tmpdir);
            snprintf(spill, n, "%s/.spill-%05d", dir, R->rank);
            rc = sf_mkdirs(dir, &R->err);
        }
        if (!rc)
            rc = sf_badrec_open(&R->spill, spill, &R->err);
        free(dir);
        free(spill);
        if (rc)
            return rc;
    }
    if (sf_badrec_add(R->spill, R->cur_chunk, R->cur_line, file, offset, why, msg, text, len))
        return sf_error_set(&R->err, SF_E_IO, "cannot spill bad records under %s: %s",
                            R->life.stage.tmpdir, strerror(errno));
    return 0;
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
    return rc;
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

/* Never a silent empty success: a run that read lines and rejected every
 * one that was not blank fails (exit 2, nothing committed), naming the top
 * reason and the first bad line. (No "looks compressed" note: compressed
 * fact files are decoded.) Collective; returns 1 when the run must stop. */
static int fail_if_all_rejected(sf_run *R)
{
    const sf_counts *c = sf_pipeline_counts(R->pipe);
    uint64_t mine[3 + SF_REJ_NREASONS] = {c->rows_rejected, c->lines_read, c->blank_lines};
    memcpy(mine + 3, c->rejected_by_reason, sizeof c->rejected_by_reason);
    uint64_t all[3 + SF_REJ_NREASONS];
    MPI_Allreduce(mine, all, 3 + SF_REJ_NREASONS, MPI_UINT64_T, MPI_SUM, R->comm);
    if (all[0] == 0 || all[0] + all[2] != all[1])
        return 0;
    size_t total = 0;
    sf_reject_sample *s = sf_mpi_gather_bytes(R->comm, R->local_samples,
                                              R->nlocal_samples * sizeof *s, &total);
    sf_reject_sample first[SF_MAX_SAMPLES];
    size_t nfirst = 0;
    for (size_t i = 0; s && i < total / sizeof *s; i++)
        sf_samples_insert(first, &nfirst, &s[i]);
    free(s);
    int top = 0;
    for (int r = 1; r < SF_REJ_NREASONS; r++)
        if (all[3 + r] > all[3 + top])
            top = r;
    const char *path = nfirst ? R->life.inputs.paths[first[0].file] : NULL;
    char msg[sizeof R->err.msg];
    sf_rejmsg_all_rejected(msg, sizeof msg, all[1], all[0],
                           sf_reject_reason_name((sf_reject_reason)top), all[3 + top], path,
                           nfirst ? first[0].offset : 0, nfirst ? first[0].msg : NULL, NULL);
    sf_error_set(&R->err, SF_E_PARSE, "%s; nothing was committed", msg);
    R->exit_code = 2;
    sf_run_agree(R, SF_E_PARSE, 1);
    return 1;
}

/* After the scan: --max-bad, then (permissive) every rank's spill becomes
 * _bad_records/part-<rank>.jsonl, numbered from the per-chunk line counts
 * of all ranks. Collective. */
int sf_run_finish_bad_lines(sf_run *R)
{
    if (fail_if_all_rejected(R))
        return SF_RUN_AGREED;
    uint64_t mine[2] = {sf_pipeline_counts(R->pipe)->rows_rejected,
                        sf_pipeline_counts(R->pipe)->lines_read};
    uint64_t all[2];
    MPI_Allreduce(mine, all, 2, MPI_UINT64_T, MPI_SUM, R->comm);
    const sf_run_opts *o = R->o;
    double pct = all[1] ? 100.0 * (double)all[0] / (double)all[1] : 0;
    if (o->max_bad_set && (o->max_bad_pct >= 0 ? pct > o->max_bad_pct : all[0] > o->max_bad)) {
        char limit[64];
        if (o->max_bad_pct >= 0)
            snprintf(limit, sizeof limit, "%g%%", o->max_bad_pct);
        else
            snprintf(limit, sizeof limit, "%llu", (unsigned long long)o->max_bad);
        R->exit_code = 2;
        sf_error_set(&R->err, SF_E_LIMIT, "%llu bad lines (%.3g%% of %llu read) exceed "
                     "--max-bad %s; nothing was committed", (unsigned long long)all[0], pct,
                     (unsigned long long)all[1], limit);
        return sf_run_agree(R, SF_E_LIMIT, 1) ? SF_RUN_AGREED : 0;
    }
    int any = R->spill != NULL;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, R->comm);
    if (!any)
        return 0;
    uint64_t *lines = calloc(R->nchunks ? R->nchunks : 1, sizeof *lines);
    if (!lines)
        MPI_Abort(R->comm, 1); /* cannot take part in the reduction */
    MPI_Allreduce(R->chunk_lines, lines, (int)R->nchunks, MPI_UINT64_T, MPI_SUM, R->comm);
    /* First line number of each chunk: 1 + the lines of the earlier chunks
     * of its file (chunks are in file order, then offset order). */
    uint64_t next = 1;
    for (size_t c = 0; c < R->nchunks; c++) {
        if (c == 0 || R->chunks[c].file != R->chunks[c - 1].file)
            next = 1;
        uint64_t n = lines[c];
        lines[c] = next;
        next += n;
    }
    /* Compressed chunks give offsets from their first line: add the
     * decoded bytes of the file's earlier chunks. */
    int compressed = 0;
    for (size_t c = 0; c < R->nchunks; c++)
        compressed |= R->chunks[c].codec != 0;
    uint64_t *base = NULL;
    if (compressed) {
        base = calloc(R->nchunks, sizeof *base);
        if (!base)
            MPI_Abort(R->comm, 1); /* cannot take part in the reduction */
        MPI_Allreduce(R->chunk_ubytes, base, (int)R->nchunks, MPI_UINT64_T, MPI_SUM, R->comm);
        uint64_t at = 0;
        for (size_t c = 0; c < R->nchunks; c++) {
            if (c == 0 || R->chunks[c].file != R->chunks[c - 1].file)
                at = 0;
            uint64_t n = base[c];
            base[c] = at;
            at += n;
        }
    }
    int rc = 0;
    uint64_t count = 0;
    if (R->spill) {
        size_t n = strlen(R->life.stage.tmpdir) + 64;
        char *path = malloc(n);
        if (!path)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
        else {
            snprintf(path, n, "%s/_bad_records/part-%05d.jsonl", R->life.stage.tmpdir, R->rank);
            rc = sf_badrec_finish(R->spill, path, (const char *const *)R->life.inputs.paths, lines,
                                  base, &count, &R->err);
        }
        R->spill = NULL;
        free(path);
    }
    free(lines);
    free(base);
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
    return rc;
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
