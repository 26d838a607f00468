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
#include "partition/partitioner.h"

/* A line the pipeline rejected, as --mode says: spilled for
 * _bad_records (permissive), only counted (dropmalformed), or the end of
 * the run with FILE:LINE:COLUMN (failfast). */
int sf_run_bad_line(sf_run *R, const sf_line_verdict *v, int file, uint64_t offset,
                    const char *text, size_t len)
{
    const char *msg = v->msg;
    const char *why = sf_reject_reason_name(v->reason);
    const char *path = R->life.inputs.paths[file];
    if (R->o->mode == SF_MODE_FAILFAST) {
        uint64_t before = 0;
        sf_error e;
        char place[sizeof R->err.msg];
        const sf_chunk *c = &R->cur_c;
        int counted;
        if (c->kind != SF_CHUNK_RANGE) {
            /* A feed's block knows its file's lines before it. */
            before = c->lines_before + R->cur_line - 1;
            counted = 1;
        } else if (c->codec) {
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

/* The offset the pipeline keeps for a rejected line's sample: in a chunk
 * of a compressed file, offsets count from the chunk's first decoded byte,
 * whose place in the file is known only after the scan; the chunk's index
 * goes in the high bits (samples stay in file order) and place_samples
 * turns it into the file's offset. */
#define SAMPLE_CHUNK_SHIFT 40
static uint64_t sample_key(const sf_run *R, uint64_t offset)
{
    if (!sf_bad_chunk_relative(&R->cur_c))
        return offset;
    return (uint64_t)R->cur_chunk << SAMPLE_CHUNK_SHIFT | offset;
}

/* After the scan: this rank's samples from compressed chunks get their
 * file's decoded offsets (messages and the manifest name the byte).
 * Collective. */
static void place_samples(sf_run *R)
{
    uint64_t *base = sf_bad_offset_bases(R->comm, R->chunks, R->nchunks, R->chunk_ubytes);
    if (!base)
        return;
    for (size_t f = 0; f < R->nlocal_samples; f++) {
        sf_reject_sample *s = &R->local_samples[f];
        for (size_t c = 0; c < R->nchunks; c++) {
            if (R->chunks[c].file == s->file && sf_bad_chunk_relative(&R->chunks[c])) {
                /* Every chunk of this file is relative: decode the key. */
                uint64_t k = s->offset >> SAMPLE_CHUNK_SHIFT;
                uint64_t rel = s->offset & (((uint64_t)1 << SAMPLE_CHUNK_SHIFT) - 1);
                if (k < R->nchunks)
                    s->offset = base[k] + rel;
                break;
            }
        }
    }
    free(base);
}

/* Counts a line of len bytes that was read. */
static inline struct sf_run_acct *count_line(sf_run *R, int file, size_t len)
{
    struct sf_run_acct *a = &R->acct[file];
    a->lines++;
    a->blank += len == 0;
    R->cur_line++;
    R->line_bytes += len + 1;
    return a;
}

/* The end of a pushed line: its verdict (rc from the push). */
static inline int line_pushed(sf_run *R, struct sf_run_acct *a, int rc, const sf_line_verdict *v,
                              int file, uint64_t offset, const char *line, size_t len)
{
    if (!rc && v->rejected) {
        a->rejected++;
        rc = sf_run_bad_line(R, v, file, offset, line, len);
    }
    return rc ? rc : sf_run_spill_tick(R);
}

static int run_line(void *ctx, const char *line, size_t len, int file, uint64_t offset)
{
    sf_run *R = ctx;
    if (R->csv)
        return sf_run_csv_line(R, line, len, file, offset);
    struct sf_run_acct *a = count_line(R, file, len);
    sf_line_verdict v;
    int rc = sf_pipeline_push_line(R->pipe, line, len, file, sample_key(R, offset), &v);
    return line_pushed(R, a, rc, &v, file, offset, line, len);
}

/* run_line for the lines whose ends the decoder finds (sf_scan_sink.window):
 * the pipeline takes them in one call; the accounting of those it took
 * without a verdict is done for all at once (line_bytes, which the
 * step-aside reads, line by line in the pipeline), the last one's verdict as
 * run_line's. With a memory budget, it stops at the line whose spill tick
 * may check. */
static int run_window(void *ctx, const sf_range_window *w, int file, size_t max_lines,
                      sf_scan_take *t)
{
    sf_run *R = ctx;
    if (R->csv)
        return 0;
    if (R->mem.b.limit && max_lines > 1024 - R->mem.tick)
        max_lines = 1024 - R->mem.tick;
    sf_line_window lw = {w->buf, w->avail, w->owned, w->line_cap, sample_key(R, w->offset)};
    sf_window_take wt;
    sf_line_verdict v;
    int rc = sf_pipeline_push_window(R->pipe, &lw, file, max_lines, &R->line_bytes, &wt, &v);
    t->used = wt.used;
    t->lines = wt.lines;
    t->last = wt.last;
    t->left = wt.left;
    if (wt.lines == 0)
        return 0;
    struct sf_run_acct *a = &R->acct[file];
    a->lines += wt.lines;
    R->cur_line += wt.lines;
    if (R->mem.b.limit)
        R->mem.tick += wt.lines - 1; /* the last line's tick is line_pushed's */
    return line_pushed(R, a, rc, &v, file, w->offset + wt.last, w->buf + wt.last, wt.last_len);
}

static int run_too_long(void *ctx, int file, uint64_t offset, const char *msg)
{
    sf_run *R = ctx;
    R->acct[file].lines++;
    R->acct[file].rejected++;
    R->cur_line++;
    sf_pipeline_reject(R->pipe, file, sample_key(R, offset), SF_REJ_LINE_TOO_LONG, msg);
    sf_line_verdict v = {1, SF_REJ_LINE_TOO_LONG, msg};
    return sf_run_bad_line(R, &v, file, offset, "", 0);
}

/* Makes chunk_lines and chunk_ubytes hold n entries (new ones 0): a
 * feed's blocks are numbered after the planned chunks. */
static int grow_chunk_arrays(sf_run *R, size_t n)
{
    if (n <= R->chunk_cap)
        return 0;
    size_t cap = R->chunk_cap * 2 > n ? R->chunk_cap * 2 : n;
    uint64_t *l = realloc(R->chunk_lines, cap * sizeof *l);
    if (l)
        R->chunk_lines = l;
    uint64_t *u = l ? realloc(R->chunk_ubytes, cap * sizeof *u) : NULL;
    if (u)
        R->chunk_ubytes = u;
    if (!l || !u)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    memset(l + R->chunk_cap, 0, (cap - R->chunk_cap) * sizeof *l);
    memset(u + R->chunk_cap, 0, (cap - R->chunk_cap) * sizeof *u);
    R->chunk_cap = cap;
    return 0;
}

static int run_chunk_begin(void *ctx, size_t chunk, const sf_chunk *c)
{
    sf_run *R = ctx;
    R->cur_chunk = chunk;
    R->cur_c = *c;
    R->cur_line = 0;
    sf_pipeline_set_chunk(R->pipe, chunk); /* a dedupe step's ordinals */
    int rc = grow_chunk_arrays(R, chunk + 1);
    if (!rc && R->job->inputs[R->job->fact].format == SF_FORMAT_CSV)
        rc = sf_run_csv_chunk_begin(R, c);
    return rc;
}

static int run_chunk_end(void *ctx, size_t chunk, const sf_chunk *c, uint64_t bytes)
{
    sf_run *R = ctx;
    /* Rows waiting in the pipeline run now, while the row stream they may
     * ship through is open (it closes after the last chunk). */
    int rc = sf_pipeline_flush(R->pipe);
    if (rc)
        return sf_error_set(&R->err, rc, "out of memory aggregating the chunk's rows");
    if (c->kind != SF_CHUNK_RANGE) {
        /* A feed's block: its offsets are the file's already; the feed's
         * bytes are counted once, by rank 0, after the scan. */
        R->chunk_lines[chunk] = R->cur_line;
        return 0;
    }
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
    place_samples(R);
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

/* ---- the combiner's step-aside (before-aggregate) ---- */

static int aside_owner(void *ctx, uint64_t hash)
{
    sf_run *R = ctx;
    int to = sf_partition_rank(hash, R->nparts, R->nranks);
    return to == R->rank ? -1 : to;
}

static unsigned char *aside_reserve(void *ctx, int dest, size_t len)
{
    sf_run *R = ctx;
    return sf_stream_reserve(R->stream, dest, len);
}

/* The input still to come on this rank as a multiple of what it read:
 * its share of the fact files' bytes (ranks read about equal shares)
 * against the bytes of the lines it read. Not known (-1) before a line,
 * in a compressed chunk (its lines do not compare with the file's bytes)
 * or once the lines outgrow the share. */
static double aside_ahead(void *ctx)
{
    const sf_run *R = ctx;
    double share = (double)R->fact_size / R->nranks, read = (double)R->line_bytes;
    return read > 0 && read < share && !R->cur_c.codec ? (share - read) / read : -1;
}

/* A row record from a rank whose combiner stepped aside: into this
 * rank's combiner, which owns the row's group. */
static int take_row_record(void *ctx, const unsigned char *rec, size_t len, int source)
{
    sf_run *R = ctx;
    R->m.aside_rows_in++;
    /* The groups first: settling the pipeline may send, and so poll. */
    sf_groups *g = sf_pipeline_groups(R->pipe);
    int rc = sf_groups_update_record_hashed(g, rec, len, sf_stream_note(R->stream), &R->err);
    if (rc == SF_E_NOMEM) {
        sf_error_set(&R->err, rc, "out of memory taking in a row from rank %d", source);
    } else if (rc) {
        char why[sizeof R->err.msg];
        snprintf(why, sizeof why, "%s", R->err.msg);
        sf_error_set(&R->err, rc, "bad row record from rank %d: %s", source, why);
    }
    return rc ? rc : sf_run_spill_tick(R);
}

/* The look-ahead over a batch of row records: their groups' index slots,
 * states and count_distinct vectors start loading a few records early (as
 * the pipeline's own batch does for its rows). The pipeline's batch is
 * left alone: a hint reads the table as it is. The record's key is hashed
 * once, at stage 0, into its note; the later stages and take_row_record
 * read it there. Stage 1 (the group's block) says when most records make
 * a new group, which has no block yet, and stage 2 (count_distinct
 * vectors) when the table has too few vectors to pay: the stream then
 * skips the stage, and those after it, for the rest of the batch. */
static int hint_row_record(void *ctx, const unsigned char *rec, size_t len, int stage,
                           uint64_t *note)
{
    sf_run *R = ctx;
    return sf_groups_prefetch_record(sf_pipeline_groups_now(R->pipe), rec, len, stage, note);
}

/* SHARDFLOW_COMBINER (for tests, see docs/testing.md): auto (default),
 * aside (step aside from the first row) or combine (never). */
static int aside_mode(sf_run *R, sf_aside_mode *mode)
{
    const char *e = getenv("SHARDFLOW_COMBINER");
    *mode = SF_ASIDE_AUTO;
    if (!e || !*e || strcmp(e, "auto") == 0)
        return 0;
    if (strcmp(e, "aside") == 0)
        *mode = SF_ASIDE_ON;
    else if (strcmp(e, "combine") == 0)
        *mode = SF_ASIDE_OFF;
    else
        return sf_error_set(&R->err, SF_E_INVAL, "SHARDFLOW_COMBINER takes auto, aside or "
                            "combine, got '%s'", e);
    return 0;
}

/* A before-aggregate job of one grouped output on several ranks: the combiner
 * may step aside (core/pipeline.h), its rows reaching their owners through
 * a row stream during the scan (bounded batches, merged on arrival). Every
 * rank opens the stream, since any rank may ship. A spill under
 * --memory-limit needs nothing more: the records land in the combiner,
 * which is written out when it outgrows the budget, as any other. */
static int setup_aside(sf_run *R)
{
    sf_aside_mode mode;
    R->m.combiner = SF_COMBINER_ONLY;
    if (R->nranks < 2 || R->spec->noutputs > 1 || R->job->kind != SF_OUT_GROUPS)
        return 0;
    int rc = aside_mode(R, &mode);
    if (rc || mode == SF_ASIDE_OFF) {
        R->m.combiner = SF_COMBINER_FORCED;
        return rc;
    }
    size_t batch = R->o->shuffle_round / (uint64_t)R->nranks;
    if (batch > ((size_t)4 << 20))
        batch = (size_t)4 << 20;
    sf_aside_ops ops = {aside_owner, aside_reserve, R, aside_ahead,
                        R->mem.b.limit ? R->mem.b.state : 0};
    R->stream = sf_stream_new(R->comm, 202, batch, take_row_record, R, NULL, NULL);
    if (!R->stream || sf_pipeline_set_aside(R->pipe, mode, &ops) != 0)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory setting up the row stream");
    sf_stream_set_ahead(R->stream, hint_row_record);
    R->m.combiner = mode == SF_ASIDE_ON ? SF_ASIDE_FORCED : SF_COMBINER_AUTO;
    return 0;
}

/* After the scan: what the combiner did, for _METRICS.json. */
static void note_aside(sf_run *R)
{
    const sf_aside_stats *a = sf_pipeline_aside_stats(R->pipe);
    R->m.aside_sample_rows = a->sample_rows;
    R->m.aside_sample_groups = a->sample_groups;
    R->m.aside_rows_out = a->rows_shipped;
    R->aside_ahead[0] = a->rows_ahead;
    R->aside_ahead[1] = (uint64_t)(a->ahead_new_share * 1000 + 0.5);
    R->aside_ahead[2] = a->looks;
    if (R->m.combiner == SF_COMBINER_AUTO)
        R->m.combiner = a->decision == SF_ASIDE_DECIDED_ASIDE     ? SF_ASIDE_SAMPLED
                        : a->decision == SF_ASIDE_DECIDED_COMBINE ? SF_COMBINER_SAMPLED
                                                                  : SF_COMBINER_SMALL;
}

/* Splits the pipeline where the strategy ships raw rows, or at a dedupe
 * step (rows by their dedupe key), and opens the row stream; a
 * before-aggregate job without dedupe needs neither, but opens one for
 * its combiner's step-aside (setup_aside). */
int sf_run_setup_stream(sf_run *R)
{
    const sf_job *job = R->job;
    size_t split = job->nsteps;
    const int *route = job->group_slots;
    size_t nroute = job->ngroup;
    if (job->dedupe_step >= 0) {
        /* Rows meet at their dedupe key's owner (choose_strategy kept
         * before-aggregate): the pipeline's own split, with our stream. */
        split = (size_t)job->dedupe_step;
        route = job->steps[split].dedupe_slots;
        nroute = job->steps[split].ndedupe;
    } else if (R->repartition == SF_REPART_BEFORE_AGGREGATE) {
        return setup_aside(R);
    }
    if (R->repartition == SF_REPART_BEFORE_JOIN && job->dedupe_step < 0) {
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


int sf_run_scan(sf_run *R, sf_chunk *chunks, size_t nchunks)
{
    sf_scan_sink sink = {run_line, run_too_long, run_chunk_begin, run_chunk_end, R, run_window};
    R->chunks = chunks;
    R->nchunks = nchunks;
    if (grow_chunk_arrays(R, nchunks ? nchunks : 1) != 0)
        MPI_Abort(R->comm, 1); /* every rank is about to start the scan */
    size_t nall = 0;
    sf_progress_init(&R->prog, R->progress, "run: scan");
    int rc = sf_scan_run_feeds(R->comm, (const char *const *)R->life.inputs.paths, chunks,
                               nchunks, R->feeds, R->nfeeds, &R->o->scan, &R->prog, &sink,
                               R->stream, &R->scan, &R->all_chunks, &nall, &R->err);
    if (!rc && R->nfeeds) {
        /* From here on the chunks are the planned ones and the blocks. */
        R->chunks = R->all_chunks;
        R->nchunks = nall;
        if (grow_chunk_arrays(R, nall) != 0)
            MPI_Abort(R->comm, 1); /* the bad-line reductions need every entry */
        for (size_t i = 0; i < R->nfeeds; i++) {
            const sf_scan_feed *fd = &R->feeds[i];
            if (R->life.inputs.streamed[fd->file]) {
                /* A stream's size is known now: what was read. */
                R->life.inputs.sizes[fd->file] = fd->cbytes;
                R->fact_size += fd->cbytes;
                R->input_size[R->job->fact] += fd->cbytes;
            }
            if (R->rank == 0) {
                R->acct[fd->file].bytes += fd->cbytes;
                R->acct[fd->file].ubytes += fd->ubytes;
                sf_pipeline_add_bytes(R->pipe, fd->cbytes);
                if (R->fact_codec)
                    R->fact_codec[fd->file] = fd->codec;
            }
        }
    }
    if (R->stream) {
        sf_stream_stats(R->stream, &R->shuffle);
        sf_stream_free(R->stream);
        R->stream = NULL;
    }
    /* Every row has reached its dedupe key's owner: the kept ones go on
     * (those spilled under a budget, partition by partition, first). */
    if (!rc)
        rc = sf_run_spill_dedupe_finish(R);
    if (!rc && (rc = sf_pipeline_finish_dedupe(R->pipe)) != 0)
        sf_error_set(&R->err, rc, "out of memory or a bad row finishing the dedupe step");
    note_aside(R);
    /* Keep the counts: the shuffle frees the pipeline. */
    R->local_counts = *sf_pipeline_counts(R->pipe);
    const sf_reject_sample *s = sf_pipeline_samples(R->pipe, &R->nlocal_samples);
    memcpy(R->local_samples, s, R->nlocal_samples * sizeof *s);
    return rc;
}
