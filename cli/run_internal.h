/* run_internal.h - the state of one `shardflow run` and its phases, shared
 * by the files of the run driver only (mpiFileUtils style: one driver split
 * by phase behind an internal header).
 *
 *   run.c         options, the phase sequence, agreement, cleanup
 *   run_plan.c    plan: spec, inputs, output checks, strategy, dimensions
 *   run_map.c     scan+map: the scan's sink, bad lines, raw-row streams
 *   run_csv.c     a CSV fact input: headers, lines into fields
 *   run_reduce.c  shuffle of partial aggregates, reduce, windows, row routing
 *   run_distinct.c  count_distinct of groups with many values spread over
 *                 ranks by (group, value) before the group shuffle
 *   run_grid.c    the dense grid before windows, computed columns after them
 *   run_stage.c   rows of row outputs, dimension outputs and stages ("from")
 *   run_rowstream.c  unsorted row outputs streamed to their files
 *   run_spill.c   the memory budget: combiner (and dedupe table) flushes to
 *                 spill files during the scan, then shuffle and reduce one
 *                 spill pass at a time, per output
 *   run_spill_write.c  sorted runs of result rows, merged for the write
 *   run_spill_window.c windows over sorted runs, one partition at a time
 *   run_write.c   output files through io/table_writer, --layout single
 *   run_report.c  gathers, accounting checks, manifest, summary, commit
 *
 * Every phase function is collective over R->comm unless it says "rank 0";
 * a phase returns 0 or an SF_E_* code with R->err set, and run.c agrees on
 * it (sf_mpi_agree) before the next phase. Where a phase agrees inside
 * (windows, the single-file write), it returns SF_RUN_AGREED once a
 * failure has been agreed and printed.
 */
#ifndef SF_RUN_INTERNAL_H
#define SF_RUN_INTERNAL_H

#include <mpi.h>
#include <stdint.h>

#include "cli/run.h"
#include "core/budget.h"
#include "core/groups.h"
#include "core/joinplan.h"
#include "core/pipeline.h"
#include "core/rows.h"
#include "core/spec.h"
#include "io/badrec.h"
#include "io/csv.h"
#include "io/h5file.h"
#include "io/manifest.h"
#include "io/parquet.h"
#include "io/spill.h"
#include "mpi/collective.h"
#include "mpi/lifecycle.h"
#include "mpi/membudget.h"
#include "mpi/metrics.h"
#include "mpi/progress.h"
#include "mpi/scan.h"
#include "mpi/shuffle.h"
#include "mpi/stream.h"
#include "partition/salt.h"

/* A phase's failure that was already agreed on and printed. */
#define SF_RUN_AGREED 1

typedef struct sf_run {
    MPI_Comm comm;
    int rank, nranks;
    const sf_run_opts *o;  /* = &opts */
    sf_run_opts opts;      /* the options, with what the budget settles (shuffle round) */
    sf_error err;
    sf_job *job;         /* the job; after the scan, the view of the output being
                          * reduced and written (spec->outputs[out_index]) */
    sf_job *spec;        /* the whole job as loaded (owned) */
    size_t out_index;
    sf_lifecycle *lives; /* several outputs: claim, staging and files of outputs
                          * 1.. (output 0's are in life) */
    struct sf_run_pending { /* several outputs, rank 0: an output written and */
        sf_buf metrics;     /* waiting for its commit */
        sf_buf manifest;
        int ready, committed;
    } *pending;
    sf_join_table *dims[SF_MAX_INPUTS];
    uint64_t fact_size;  /* all fact files */
    uint64_t input_size[SF_MAX_INPUTS];
    sf_lifecycle life;   /* run id, the fact input's files (life.inputs), staging,
                          * written files (life.files) */
    struct sf_run_acct {  /* per fact file, this rank's share */
        uint64_t lines, blank, rejected, bytes;
        uint64_t ubytes;  /* decoded bytes (= bytes for a plain file) */
    } *acct;
    int32_t *fact_codec;  /* sf_codec of each fact file (rank 0, planned) */
    const sf_chunk *chunks; /* of the scan under way; after it, with the feeds' blocks */
    size_t nchunks;
    sf_chunk *all_chunks;   /* the chunks and the feeds' blocks (every rank, after the scan) */
    sf_scan_feed *feeds;    /* fact files rank 0 reads and deals out in blocks */
    size_t nfeeds;
    size_t cur_chunk;       /* chunk being scanned, and lines read in it */
    sf_chunk cur_c;         /* that chunk (a feed's block is in no list during the scan) */
    uint64_t cur_line;
    uint64_t line_bytes;    /* bytes of the JSON lines this rank read, newlines
                             * included (the step-aside's look ahead) */
    uint64_t aside_ahead[3]; /* the look ahead at its last look: rows expected
                              * after it, per mille of them expected to make
                              * a group; looks after the sample */
    size_t chunk_cap;       /* entries of chunk_lines and chunk_ubytes */
    uint64_t *chunk_lines;  /* lines of each chunk this rank scanned */
    uint64_t *chunk_ubytes; /* decoded bytes of each compressed chunk scanned */
    sf_badrec_spill *spill; /* --mode permissive: this rank's bad lines */
    uint64_t bad_written;   /* bad records written (all ranks, rank 0) */
    int exit_code;          /* for a failed run: 1, or 2 for bad input */
    struct sf_run_acct *acct_all; /* summed over ranks (rank 0, at the end) */
    uint64_t chunk_size; /* in effect */
    sf_repartition repartition; /* in effect (may differ from --repartition) */
    int join_step;       /* before-join: the partitioned join step, else -1 */
    struct sf_run_jplan { /* per dimension input a join reads: how it was planned */
        int on;           /* a join step reads this input */
        int forced;       /* --repartition before-join chose it, not the rule */
        sf_joinplan_in in;
        sf_joinplan plan;
    } jplan[SF_MAX_INPUTS];
    int copart;          /* before-join and the join key among the group columns:
                          * every group's rows are on one rank already, so the
                          * group shuffle sends nothing (sf_run_copartitioned) */
    sf_stream *stream;   /* raw-row stream of split pipelines */
    sf_salt salt;        /* hot route keys (--salt) */
    sf_pipeline *pipe;
    sf_groups *reduced;
    sf_rows rows;
    sf_rows *taken;          /* per output: a row output's rows from the scan */
    sf_rows *kept;           /* per output: result rows a later stage reads */
    struct sf_run_rowout *rowouts; /* streamed row outputs (run_rowstream.c) */
    size_t nrowouts;
    sf_stream *rowstream;    /* their rows to the writers */
    int rowstream_in_scan;   /* it is the scan's stream (R->stream) */
    sf_buf rowrec;           /* a record being sent */
    sf_arena rowscratch;     /* strings computed columns make, per row */
    uint64_t having_dropped; /* result rows "having" removed on this rank */
    uint64_t limit_dropped;  /* result rows "limit" removed on this rank */
    uint64_t grid_added;     /* "grid": rows it filled in on this rank ... */
    uint64_t grid_dropped;   /* ... and groups outside the grid it removed */
    uint64_t dim_dropped[SF_MAX_INPUTS]; /* "duplicates": "first": rows skipped per
                                          * dimension (the same on every rank) */
    int sum_overflow;
    sf_metrics m;
    sf_run_result *res;    /* where to report, or NULL */
    const char **out_names; /* names and types of the output columns */
    sf_type *out_types;
    sf_dec_type *out_dec; /* decimal output columns: P and S */
    sf_h5_options h5opt;
    sf_csv_options csvopt;    /* CSV compression (plain, gzip, zstd) */
    sf_parquet_options pqopt; /* codec, row groups, key-value metadata (pq_kv_*) */
    const char *pq_kv_keys[4], *pq_kv_values[4];
    char spec_hash[24];
    uint64_t digest;       /* sum of this rank's output row hashes */
    int nparts;            /* shuffle partitions; partition p belongs to rank p % nranks */
    uint64_t *part_groups; /* per partition: groups and input rows this rank owns */
    uint64_t *part_rows;
    /* Each result row's writer bucket, made by the reduce as it makes
     * the row (sf_run_write_early), for the write's route: wbucket[i]
     * is row i's while nwbucket == rows.n. NULL: the write makes them. */
    uint16_t *wbucket;
    size_t nwbucket;
    /* The result rows as their partitions' CSV text (run_write_text.c),
     * when the reduce made no rows table; NULL otherwise. */
    struct sf_run_text *text;
    sf_shuffle_stats shuffle;
    sf_scan_stats scan;
    sf_progress_mode progress; /* rank 0's progress line (mpi/progress) */
    sf_progress prog;          /* the phase under way; labelled by each phase */
    struct sf_run_budget {   /* --memory-limit (run_spill.c) */
        sf_budget b;         /* state share agreed (the least over ranks) */
        sf_node_memory node;
        const char *dir;     /* spill directory in effect */
        uint32_t nspill;     /* spill partitions (same on every rank) */
        sf_spill *store;     /* this rank's spill files, opened on first use */
        uint32_t tick;       /* lines since the last look at the combiner */
        int spilled;         /* agreed: some rank spilled; reduce runs in passes */
        uint64_t flushes;    /* combiner flushes during the scan (this rank) */
        uint64_t passes;     /* shuffle+reduce passes (every rank the same) */
        uint64_t map_bytes;  /* bytes spilled during the scan (this rank, on disk) */
        uint64_t bytes;      /* all bytes spilled (this rank, on disk) */
        sf_spill *rows;      /* sorted runs of result rows, one per pass */
        size_t row_runs;     /* runs written (0: rows stay in memory) */
        int write_part;      /* file number this rank writes (sf_run_write_route) */
        uint64_t rows_out;   /* result rows written to runs (this rank) */
        uint64_t *out_scan;  /* per output: bytes its combiner spilled in the scan */
        uint64_t splits;     /* spill partitions split again (this output) */
        sf_spill *dedupe;    /* kept rows of the dedupe step, spilled by key hash */
        uint64_t dedupe_flushes; /* times that table was written out (this rank) */
        sf_spill *win;       /* sorted runs of the stage (grid, window) being evaluated */
        size_t win_runs;
        int64_t grid_mm[2];  /* the grid's default range: min date, -max date */
        sf_rows kept;        /* a limit's first N rows after the grid or windows */
        int rows_done;       /* R->rows had their grid, windows and computed columns */
    } mem;
    sf_counts local_counts; /* this rank's, kept when the pipeline is freed */
    sf_reject_sample local_samples[SF_MAX_SAMPLES];
    size_t nlocal_samples;
    sf_counts counts; /* summed over ranks, on rank 0 */
    sf_reject_sample samples[SF_MAX_SAMPLES];
    size_t nsamples;
    struct sf_run_csv *csv; /* a CSV fact input: headers and the line parser */
    struct sf_run_distinct *dist; /* count_distinct groups spread over ranks, from
                                   * the spread to the settle (run_distinct.c) */
} sf_run;

/* Collective: agrees on rc (mpi/collective.h); 1 if any rank failed. */
static inline int sf_run_agree(sf_run *R, int rc, int same_everywhere)
{
    return sf_mpi_agree(R->comm, rc, same_everywhere, &R->err);
}

/* run_plan.c */
sf_job_overrides sf_run_overrides(const sf_run_opts *o);
const char *sf_run_write_mode_text(const sf_run_opts *o);
const char *sf_run_repartition_text(sf_repartition r);
/* Rank 0 reads the spec, every rank compiles it and prepares the output
 * columns. Collective. Returns 0 or SF_E_* (a bad spec: exit code 2). */
int sf_run_load_job(sf_run *R);
/* Inputs, output staging (of every output), dimension tables, strategy.
 * Collective; agrees inside: returns 0 or SF_RUN_AGREED. */
int sf_run_plan(sf_run *R);
/* Output column names and types and the writer options of R->job's output;
 * the same on every rank. Not collective. Returns 0 or SF_E_* (a bad spec:
 * SF_E_SPEC). */
int sf_run_prepare_output(sf_run *R);
/* Compressed fact files (told by their magic bytes on rank 0) replace their
 * byte chunks in *chunks with ranges of their units (io/decompress); bzip2
 * and xz are refused. Collective: rank 0 plans, every rank gets the list
 * when any file is compressed. Returns 0 or SF_E_* (rank 0's error). */
int sf_run_plan_compressed(sf_run *R, sf_chunk **chunks, size_t *n);
/* The feeds (mpi/scan.h): streams (stdin, FIFOs), and, on more than one
 * rank, a compressed file that is one chunk and more than half of
 * the input (rank 0 decodes it while every rank parses); their chunks are
 * dropped from *chunks. Not collective (every rank computes the same).
 * Returns 0 or SF_E_NOMEM. */
int sf_run_plan_feeds(sf_run *R, sf_chunk *chunks, size_t *n);

/* run_map.c */
/* Splits the pipeline and opens the row stream where the strategy ships
 * raw rows. Not collective. Returns 0 or SF_E_NOMEM. */
int sf_run_setup_stream(sf_run *R);
/* Scans every chunk through the pipeline. Collective. Returns 0 or SF_E_*. */
int sf_run_scan(sf_run *R, sf_chunk *chunks, size_t nchunks);
/* --max-bad, then _bad_records from every rank's spill. Collective; agrees
 * inside: returns 0 or SF_RUN_AGREED. */
int sf_run_finish_bad_lines(sf_run *R);

/* A line the pipeline rejected (verdict v), as --mode says: spilled for
 * _bad_records, only counted, or the end of the run (failfast). Returns 0
 * or SF_E_* with R->err. */
int sf_run_bad_line(sf_run *R, const sf_line_verdict *v, int file, uint64_t offset,
                    const char *text, size_t len);

/* run_csv.c: a CSV fact input. Each file's first line is its header; a
 * rank reads a file's header (once) when it starts a chunk of the file. */
/* Prepares chunk (the scan's chunk_begin). Not collective. Returns 0 or
 * SF_E_* with R->err (a header without one of the job's columns). */
int sf_run_csv_chunk_begin(sf_run *R, const sf_chunk *c);
/* One line of a CSV fact file (the scan's line callback for CSV): the
 * header line is skipped (numbered, not counted); a line that is not one
 * CSV record of the header's width is rejected as "invalid CSV". Returns 0
 * or SF_E_*. */
int sf_run_csv_line(sf_run *R, const char *line, size_t len, int file, uint64_t offset);
/* Frees R->csv; NULL is a no-op. */
void sf_run_csv_free(sf_run *R);
/* run_spill.c */
/* Works out the memory budget (option, spec, or the node's share), shrinks
 * the shuffle round to fit it, refuses a limit too small to make progress
 * (SF_E_LIMIT naming the minimum) and removes spill directories of killed
 * runs on this node. Collective. Returns 0 or SF_E_LIMIT. */
int sf_run_budget(sf_run *R);
/* After the plan: the dimension tables (the largest share on any rank)
 * come off the state share; a budget they leave too small is refused with
 * the least limit that fits them. Collective. Returns 0 or SF_E_LIMIT. */
int sf_run_budget_dims(sf_run *R);
/* During the scan, every 1024 lines or rows: when the combiner is over
 * the budget, its partial aggregates go to spill partitions and it starts
 * again empty. Not collective. Returns 0 or SF_E_*. */
int sf_run_spill_check(sf_run *R);
static inline int sf_run_spill_tick(sf_run *R)
{
    return R->mem.b.limit && ++R->mem.tick >= 1024 ? sf_run_spill_check(R) : 0;
}
/* After the scan, before the combiners are taken: a dedupe step whose
 * kept rows were spilled finishes partition by partition (the earliest
 * row per key kept, then the steps after it and the aggregation, the
 * combiners spilling as during the scan). No-op when nothing of it
 * spilled. Not collective. Returns 0 or SF_E_*. */
int sf_run_spill_dedupe_finish(sf_run *R);
/* After the scan: whether any rank spilled (R->mem.spilled). Collective. */
void sf_run_spill_agree(sf_run *R);
/* Several outputs, when R->mem.spilled: every output's combiner (comb[k],
 * freed and set to NULL) goes to its own spill partitions, so that the
 * passes of one output do not sit beside the others' combiners. Not
 * collective. Returns 0 or SF_E_*. */
int sf_run_spill_outputs(sf_run *R, sf_groups **comb, size_t n);
/* Instead of sf_run_shuffle_groups + sf_run_reduce when R->mem.spilled:
 * every partial of output R->out_index goes to the spill, then pass by
 * pass (its spill partitions grouped to fit the budget; one partition too
 * big for a pass split again by other hash bits) the partials are routed
 * to their owners, merged into a table of that pass only and turned into
 * result rows.
 * Collective; agrees inside: returns 0 or SF_RUN_AGREED. */
int sf_run_spill_passes(sf_run *R);
/* Closes and removes this rank's spill files. Not collective. */
void sf_run_spill_close(sf_run *R);

/* run_spill_write.c */
/* 1 when the rows of spill passes go to sorted runs on disk rather than
 * stay in memory: the run spilled, has no grid and no limit and writes
 * hive files. */
int sf_run_spill_rows(const sf_run *R);
/* A job with a limit (and no windows or grid), whose rows stay in
 * memory: after each spill pass (computed columns made first) only this
 * rank's first N rows in the limit's order are kept, so the rows held stay
 * N however many groups there are. Not collective. Returns 0 or
 * SF_E_NOMEM. */
int sf_run_spill_limit_pass(sf_run *R);
/* A limit after a grid or windows: the last stage's batch (R->rows) gets
 * its computed columns and joins R->mem.kept, which keeps only this rank's
 * first N rows; R->rows is then empty and R->mem.rows_done set. Not
 * collective. Returns 0 or SF_E_NOMEM. */
int sf_run_spill_limit_batch(sf_run *R);
/* Sorts R->rows by keys (desc: per key 1 descending, or NULL) and writes
 * them as run `run` of *store (opened on first use as
 * DIR/shardflow-<run id>-<what>-r<rank>/ with blocks for about `runs`
 * runs, grown as runs come); R->rows is then empty. Not collective.
 * Returns 0 or SF_E_*. */
int sf_run_spill_put_run(sf_run *R, sf_spill **store, const char *what, size_t run, size_t runs,
                         const int *keys, const unsigned char *desc, size_t nkeys);
/* A k-way merge of sorted runs 0..k-1 of a spill, in sf_rows_cmp_dir's
 * order by keys/desc (borrowed until close): the order sf_rows_sort_dir
 * gives, so merged runs read as one sorted table. */
typedef struct sf_run_merge sf_run_merge;
/* Opens it (*out new: sf_run_merge_close, set even on failure). Not
 * collective. Returns 0 or SF_E_*. */
int sf_run_merge_open(sf_run *R, sf_spill *runs, size_t k, size_t ncols, const int *keys,
                      const unsigned char *desc, size_t nkeys, sf_run_merge **out);
/* The least row left (its strings and *rec, when rec is not NULL, borrowed
 * until the next sf_run_merge_next), or NULL when every run is done. */
const sf_value *sf_run_merge_top(const sf_run_merge *m, const unsigned char **rec, size_t *len);
/* Moves past the least row. Returns 0 or SF_E_* (a damaged run). */
int sf_run_merge_next(sf_run_merge *m);
/* Closes the readers and frees m; NULL is a no-op. */
void sf_run_merge_close(sf_run_merge *m);
/* In each spill pass, once R->rows holds the pass's result rows: routes
 * them to their writers, sorts them and writes them as sorted run `pass`
 * (of `passes` planned so far: more may follow); R->rows is then empty.
 * Collective. Returns 0 or SF_E_*. */
int sf_run_spill_rows_pass(sf_run *R, size_t pass, size_t passes);
/* run_spill_window.c */
/* In each spill pass of a job with a grid or windows (instead of
 * sf_run_spill_rows_pass): routes R->rows by the grid key or the first
 * window's partition columns and writes them as the stage's sorted run
 * `pass`. Collective. Returns 0 or SF_E_*. */
int sf_run_spill_window_pass(sf_run *R, size_t pass, size_t passes);
/* After the passes: the grid (one dimension key, or one date, at a time)
 * and then window by window, the runs are merged and evaluated one unit at
 * a time, in batches routed and written as runs of the next stage, and
 * after the last one as the write's runs (sf_run_spill_rows_pass).
 * Collective; agrees inside: returns 0 or SF_RUN_AGREED. */
int sf_run_spill_windows(sf_run *R);

/* The write phase over sorted runs: a k-way merge of this rank's runs
 * writes each partition value's file in order. Collective (the empty
 * unpartitioned output). Returns 0 or SF_E_*. */
int sf_run_spill_write(sf_run *R);

/* run_distinct.c */
/* Before local's groups are exported: the groups that hold many distinct
 * values of a count_distinct on some rank have their values routed by
 * (group, value) to every rank, counted there (under the memory budget)
 * and taken out of local; the counts are summed over ranks and kept in
 * R->dist. rc is this rank's status so far: every rank takes part either
 * way. Collective (none at all for a job without count_distinct).
 * Returns 0 or the agreed SF_E_* (R->err set everywhere). */
int sf_run_distinct_spread(sf_run *R, sf_groups *local, int rc);
/* After the group shuffle: adds the spread counts to the groups g owns
 * and frees R->dist. Not collective. Returns 0 or SF_E_NOMEM. */
int sf_run_distinct_settle(sf_run *R, sf_groups *g);
/* Under the budget: a combiner about to spill notes its groups with many
 * distinct values (sf_run_distinct_big's test). Not collective. Returns 0
 * or SF_E_NOMEM. */
int sf_run_distinct_note(sf_run *R, const sf_groups *g);
/* Before the spill passes: agrees on the groups every rank noted; if any,
 * R->dist stays and each pass spreads them. Collective. Returns 0 or the
 * agreed SF_E_*. */
int sf_run_distinct_spilled(sf_run *R);
/* In a spill pass, a record read back: when it is a spread group's, it
 * is merged into R->reduced with its values routed as pairs, and *taken
 * is 1. Not collective. Returns 0 or SF_E_*. */
int sf_run_distinct_pass_record(sf_run *R, const unsigned char *rec, size_t len, int *taken);
/* The exchange of a spill pass with spread groups (instead of
 * sf_shuffle_exchange): spread groups merged here go to their owners, the
 * pairs to their ranks, and their counts come back to the owners'
 * R->reduced. Collective. Returns 0 or SF_E_*. */
int sf_run_distinct_pass_exchange(sf_run *R, int rc, sf_buf *out);
/* Frees R->dist; a no-op without it. */
void sf_run_distinct_free(sf_run *R);

/* run_reduce.c */
/* Partial aggregates to their owners, merged there. Collective. */
int sf_run_shuffle_groups(sf_run *R);
/* 1 when R->job's groups are whole on the rank that made them: rows were
 * routed by a join key (before-join) that is one of the group columns and
 * that no later step rewrites, so the group shuffle sends nothing. Cannot
 * fail; the same on every rank. */
int sf_run_copartitioned(const sf_run *R);
/* The shuffle's callback that merges a partial aggregate record into
 * R->reduced (ctx is R). Returns 0 or SF_E_* with R->err. */
int sf_run_merge_group(void *ctx, const unsigned char *rec, size_t len, int source);
/* This rank's groups into result rows. Not collective. */
int sf_run_reduce(sf_run *R);
/* The empty result rows and per-partition counts that sf_run_reduce_groups
 * fills. Not collective. Returns 0 or SF_E_NOMEM. */
int sf_run_reduce_begin(sf_run *R);
/* Appends the result rows of g's live groups; with keep_strings their
 * strings are copied into the rows' arena (g may then be freed), else
 * they borrow from g. With SF_RUN_REDUCE_DRAIN they are copied and g is
 * drained as the rows are made (sf_groups_drain_to): g is then good only
 * for sf_groups_free(). Not collective. Returns 0 or SF_E_NOMEM. */
#define SF_RUN_REDUCE_DRAIN 2
int sf_run_reduce_groups(sf_run *R, sf_groups *g, int keep_strings);
/* Every row to the owner of the hash of its keys, or all to rank dest >= 0;
 * label names the exchange on the progress line. Collective. */
int sf_run_route_rows(sf_run *R, const int *keys, size_t nkeys, int dest, const char *label);
/* sf_run_route_rows with the owners decided by the caller: row i (its
 * number before routing) goes to rank owner[bucket[i]]. Collective. */
int sf_run_route_rows_owned(sf_run *R, const uint16_t *bucket, const int *owner,
                            const char *label);
/* Every window: route, sort, evaluate. Collective; agrees inside: returns
 * 0 or SF_RUN_AGREED. */
int sf_run_windows(sf_run *R);
/* Sets R->err for window win whose decimal frame at row overflowed,
 * naming the partition and the order value. Cannot fail. */
void sf_run_window_overflow(sf_run *R, const sf_job_window *win, const sf_value *row);

/* run_grid.c */
/* "grid": rows routed by the grid key, every (dimension key, date) of the
 * range made present (missing ones as empty groups), groups outside it
 * dropped. Collective; agrees inside: returns 0, SF_E_* or SF_RUN_AGREED. */
int sf_run_grid(sf_run *R);
/* Whether this rank makes the grid rows of dimension row drow: the owner
 * of its key's hash, as the grid routes rows (*mine). Not collective.
 * Returns 0 or SF_E_NOMEM (scratch: a buffer for the key). */
int sf_run_grid_owns(sf_run *R, const sf_value *drow, sf_buf *scratch, int *mine);
/* Aggregate j of a group without rows (a row the grid fills in): 0 for
 * counts and sums (of the sum's type), NULL for min, max and mean. Cannot
 * fail. */
sf_value sf_run_grid_empty_agg(const sf_job *job, size_t j);
/* "compute": the computed columns of every row. Not collective. Returns 0
 * or SF_E_NOMEM. */
int sf_run_compute(sf_run *R);

/* run_stage.c */
/* After the scan: every row output's rows leave the pipeline for
 * R->taken. Not collective. Returns 0 or SF_E_NOMEM. */
int sf_run_take_rows(sf_run *R);
/* A row or dimension output (instead of shuffle and reduce): R->rows gets
 * the rows (a row output's own share; a dimension's rows whose key hash
 * this rank owns, with the unknown member). Not collective. Returns 0 or
 * SF_E_NOMEM. */
int sf_run_direct_rows(sf_run *R);
/* After the computed columns of an output a later stage reads: a copy of
 * this rank's result rows in R->kept. Not collective. Returns 0 or
 * SF_E_NOMEM. */
int sf_run_keep_for_stage(sf_run *R);
/* Under the budget: the rows of one spill pass (computed columns made),
 * kept for the stages that read this output before they go to a sorted
 * run. Returns 0 or SF_E_NOMEM. */
int sf_run_keep_pass_for_stage(sf_run *R);
/* A stage: R->reduced becomes a combiner of the kept rows of the output it
 * reads (this rank's share), ready for sf_run_shuffle_groups. Not
 * collective. Returns 0 or SF_E_NOMEM. */
int sf_run_stage_groups(sf_run *R);
/* Frees R->taken and R->kept. Cannot fail. */
void sf_run_stage_free(sf_run *R);

/* run_rowstream.c */
/* Before the scan: every row output without a sort, limit or stage
 * reading it (with a hive layout, and no raw-row stream unless the job
 * dedupes) gets its rows streamed to its files: the pipeline's row sink
 * sends them through a row stream, the scan's own when there is no other.
 * Not collective. Returns 0 or SF_E_*. */
int sf_run_rowstream_setup(sf_run *R);
/* After the scan (and the dedupe step's kept rows): the row stream
 * finished, every streamed file closed and recorded in its output's
 * lifecycle. Collective. Returns 0 or SF_E_*. */
int sf_run_rowstream_finish(sf_run *R, int failed);
/* 1 when R->out_index is a streamed output (its files are written; its
 * digest is set), else 0. Not collective. */
int sf_run_rowstream_written(sf_run *R);
/* Frees what run_rowstream.c holds. Cannot fail. */
void sf_run_rowstream_free(sf_run *R);

/* run_write.c */
/* Sends every row to its writer as --write says (repartition: the owner
 * of its partition value; coalesce: writer k; local: stays) and sets *part
 * to the file number this rank writes. Collective. Returns 0 or SF_E_*. */
int sf_run_write_route(sf_run *R, int *part);
/* The columns output rows are sorted by (partition, sort_by, written
 * columns); new (free), *nkeys set, and *desc (new, free) the direction
 * of each (1: descending, from sort_by); NULL when out of memory. */
int *sf_run_write_keys(sf_run *R, size_t *nkeys, unsigned char **desc);
/* 1 when the reduce may give each row its writer bucket
 * (sf_run_write_bucket): the rows go from the reduce to the in-memory
 * repartition write as they are (no grid, window, computed column,
 * limit or stage read between), so their bucket is known as they are
 * made. */
int sf_run_write_early(const sf_run *R);
/* Row's writer bucket into *bucket, its empty string partition values
 * made NULL first (sf_run_write_normalize's rule); key is scratch.
 * Returns 0 or SF_E_NOMEM. */
int sf_run_write_bucket(sf_run *R, sf_value *row, sf_buf *key, uint16_t *bucket);
/* Buckets of partition values for the in-memory write: enough that a few
 * hundred values rarely share one, few enough for one small allreduce
 * (and a row's bucket fits 16 bits). */
#define SF_RUN_WRITE_BUCKETS 4096
/* Deals the buckets to writers by their rows on every rank: count[] this
 * rank's rows a bucket, all[] gets the totals, owner[] each bucket's
 * writer (sf_partition_balance; arrays of SF_RUN_WRITE_BUCKETS).
 * Collective. Returns 0 or SF_E_NOMEM with R->err set. */
int sf_run_write_deal(sf_run *R, const uint64_t *count, uint64_t *all, int *owner);
/* The file of the partition whose values row first holds: its path
 * relative to the staging directory into rel (appended) and in full into
 * *path (malloc'd, the caller frees it), its directory made. Returns 0 or
 * SF_E_* with R->err set. */
int sf_run_part_path(sf_run *R, const sf_value *first, int part, sf_buf *rel, char **path);

/* Writes n CSV row texts, each ending its row, to the file of the
 * partition whose values row first holds (part number part) and records
 * the file: the k-th is text[at[j], at[j + 1]) with j = order[k], or
 * ids[order[k]] when ids is not NULL. Returns 0 or SF_E_* with R->err
 * set. */
int sf_run_write_texts(sf_run *R, const sf_value *first, int part, const char *text,
                       const uint64_t *at, const uint32_t *ids, const uint32_t *order, size_t n);

/* ---- the write without a rows table (run_write_text.c) ---- */
typedef struct sf_run_text sf_run_text;
/* 1 when the reduce may format its rows straight into their partitions'
 * CSV text: the in-memory repartition write (sf_run_write_early) to CSV
 * files, partition columns of date, int64, timestamp or bool, and the
 * sort keys after them (sort_by, then the written columns) reaching every
 * group column before any aggregate or a double or decimal column (so
 * the groups' key images alone decide their order). Fills t's image
 * columns when t is not NULL. The same on every rank. Cannot fail. */
int sf_run_text_plan(const sf_run *R, sf_run_text *t);
/* R->text, empty, with room for the offsets of about rows rows made here
 * (and as many received). Returns 0 or SF_E_NOMEM. */
int sf_run_text_begin(sf_run *R, size_t rows);
/* Formats a result row (its strings borrowed for the call only) into its
 * partition's text and image; klen is the length of the group key its
 * group values were decoded from (their strings lie in it). Returns 0,
 * SF_E_NOMEM, or SF_E_TYPE (a group value of another type than its
 * column's, R->err set). */
int sf_run_text_add(sf_run *R, sf_value *row, size_t klen);
/* Rows R->text holds (0 without it). Cannot fail. */
uint64_t sf_run_text_rows(const sf_run *R);
/* The write of R->text: each partition to its writer, sorted, written.
 * Collective; agrees inside: returns 0, SF_E_* or SF_RUN_AGREED. */
int sf_run_text_write(sf_run *R);
/* Frees R->text; NULL is a no-op. */
void sf_run_text_free(sf_run *R);
/* An empty string partition value becomes NULL in every row: Hive names
 * both __HIVE_DEFAULT_PARTITION__. Not collective. Cannot fail. */
void sf_run_write_normalize(sf_run *R);
/* The Hive directory of row's partition ("" when not partitioned),
 * appended to out. Returns 0 or SF_E_*. */
int sf_run_partition_dir(sf_run *R, const sf_value *row, sf_buf *out);
/* Hash of a whole result row, summed into R->digest. Cannot fail. */
uint64_t sf_run_row_hash(sf_run *R, const sf_value *row);
/* Forms and writes the output files as --write says. Collective. Returns 0,
 * SF_E_* or SF_RUN_AGREED. */
int sf_run_write_output(sf_run *R);

/* run_report.c */
/* Gathers every rank's figures, checks the accounting, writes
 * _METRICS.json and the manifest and commits (rank 0), prints the
 * summary. Collective. Returns 0 or SF_E_* (rank 0). */
int sf_run_finish(sf_run *R);

#endif
