/* pipeline.h - the map side of a job: one input line in, one combiner update
 * (or one counted reason why not) out.
 *
 * Per line: decode the fact columns, run the steps in spec order (derive,
 * filter, join), encode the group key and update the group's aggregates.
 * Every line lands in exactly one count, so summed over ranks
 *   lines_read = blank + rejected + filtered + dropped_by_join + aggregated
 * (in a split pipeline a shipped row is counted where its journey ends).
 * A fact input with flatten settings or explode paths (core/flatten) may
 * turn a line into several rows: the line is counted by the fate of its
 * first row, and the others are counted apart, so that also
 *   rows_exploded = exploded_filtered + exploded_dropped_by_join
 *                   + exploded_aggregated
 * and the rows that reached the combiner are aggregated + exploded_aggregated.
 * A job with a dedupe step adds deduped (and exploded_deduped) to these
 * sums: a row dropped as a later duplicate of its key.
 * The hot path allocates nothing per line: one scratch arena reset per line,
 * one reused key buffer.
 *
 * Waiting rows: when a join's table is far larger than the caches, a
 * decoded line's row may wait (its strings copied) with up to 15 others
 * while their join lookups are prefetched; its verdict (rejected or not)
 * is known when it is pushed, and the rows run in the order they came.
 * Everything that reads what they change - the counts, samples, step-aside
 * figures and the combiners - runs them first, so a caller sees the same
 * as if each line had gone through at once.
 */
#ifndef SF_PIPELINE_H
#define SF_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/decode.h"
#include "core/error.h"
#include "core/dedupe.h"
#include "core/groups.h"
#include "core/join.h"
#include "core/rows.h"
#include "core/spec.h"

#define SF_MAX_SAMPLES 20

typedef struct sf_counts {
    uint64_t lines_read;
    uint64_t blank_lines;
    uint64_t rows_rejected;
    uint64_t rows_filtered;
    uint64_t rows_dropped_by_join;
    uint64_t rows_aggregated;
    uint64_t rows_shipped;  /* split pipelines: rows handed to another stage */
    uint64_t rows_received; /* ... and rows taken in from one */
    uint64_t rows_exploded; /* explode: rows beyond the first of their line */
    uint64_t exploded_filtered;        /* ... and where they ended */
    uint64_t exploded_dropped_by_join;
    uint64_t exploded_aggregated;
    uint64_t bytes_scanned;
    uint64_t rejected_by_reason[SF_REJ_NREASONS];
    uint64_t dropped_by_join[SF_MAX_INPUTS]; /* by dimension input index */
    uint64_t rows_deduped;     /* dedupe: lines whose (first) row was a duplicate */
    uint64_t exploded_deduped; /* ... and later rows of lines that were */
    uint64_t rows_to_unknown[SF_MAX_INPUTS]; /* join "type": "unknown": rows without a
                                              * match given the unknown key, by input */
} sf_counts;

/* A rejected line kept as an example; the first SF_MAX_SAMPLES by
 * (file, offset) are kept, so the set does not depend on scheduling. */
typedef struct sf_reject_sample {
    int32_t file;
    int32_t reason;
    uint64_t offset;
    char msg[240];
} sf_reject_sample;

typedef struct sf_pipeline sf_pipeline;

/* New pipeline for job; dims[i] is the table of dimension input i (NULL for
 * the fact input), borrowed for the pipeline's lifetime. decoder picks the
 * JSON decoder (a jansson one takes over jansson's allocator while it lives,
 * see core/decode.h). Returns NULL with err set on failure. */
sf_pipeline *sf_pipeline_new(const sf_job *job, sf_join_table *const *dims,
                             sf_decoder_kind decoder, sf_error *err);

/* Processes one line of fact file number file, starting at byte offset.
 * Bad lines are counted, not errors. Returns 0 or SF_E_NOMEM. */
int sf_pipeline_push(sf_pipeline *p, const char *line, size_t len, int file, uint64_t offset);

/* What became of one line pushed with sf_pipeline_push_line(). */
typedef struct sf_line_verdict {
    int rejected;            /* 1: the line was rejected (and counted as such) */
    sf_reject_reason reason; /* why, when rejected */
    const char *msg;         /* the message, when rejected: borrowed until the next
                              * line is pushed or rejected; "" otherwise */
} sf_line_verdict;

/* sf_pipeline_push() that also returns the line's verdict in *v, so a
 * caller handles a bad line (spills it, stops the run) from what this call
 * says instead of asking the pipeline afterwards. Returns what
 * sf_pipeline_push() returns; *v is filled in either case. */
int sf_pipeline_push_line(sf_pipeline *p, const char *line, size_t len, int file,
                          uint64_t offset, sf_line_verdict *v);

/* Lines one after another in the input's buffer, from the first byte of
 * one on, for sf_pipeline_push_window(). */
typedef struct sf_line_window {
    const char *buf;  /* borrowed for the call */
    size_t avail;     /* bytes at buf */
    size_t owned;     /* only lines that start in buf[0, owned) are taken */
    size_t line_cap;  /* a line taken has its '\n' within its first line_cap bytes */
    uint64_t offset;  /* the input offset of buf[0], as sf_pipeline_push_line's */
} sf_line_window;

/* What sf_pipeline_push_window() took. */
typedef struct sf_window_take {
    size_t used;     /* bytes of the lines taken, with their "\n" or "\r\n" */
    size_t lines;    /* lines taken */
    size_t last;     /* where the last line taken starts, from buf */
    size_t last_len; /* its length */
    int left;        /* 1: it stopped at a line it did not take */
} sf_window_take;

/* sf_pipeline_push_line() for the lines of w, whose ends the decoder finds
 * while it reads them (sf_decoder_decode_window), one after another: a
 * line that decodes that way is pushed as sf_pipeline_push_line() would
 * push it, then *line_bytes grows by its length + 1 (before the next line
 * is read: what the pipeline calls out to may read it). Stops after
 * max_lines lines (at least 1), at a line it leaves (t->left; nothing done
 * for it: push it with sf_pipeline_push_line()), when no owned line is
 * left, and after a line that was rejected or failed: *v is that line's
 * verdict (the lines before it were taken without one) and the return
 * value what its sf_pipeline_push_line() returns, else 0. */
int sf_pipeline_push_window(sf_pipeline *p, const sf_line_window *w, int file, size_t max_lines,
                            uint64_t *line_bytes, sf_window_take *t, sf_line_verdict *v);

/* A line of a CSV fact input, split into fields by the caller (io/csv) and
 * mapped by the file's header: cells[i] is the text of fact column i (an
 * SF_STRING borrowed for the call) or SF_NULL for an empty unquoted field.
 * Each is converted to its column's type as sf_value_text_parse() reads
 * text (a mismatch, invalid UTF-8 or a NUL byte rejects the line), then the
 * line goes on as with sf_pipeline_push(); *v gets its verdict. Returns 0 or
 * SF_E_NOMEM. Blank lines go to sf_pipeline_push(). */
int sf_pipeline_push_cells(sf_pipeline *p, const sf_value *cells, int file, uint64_t offset,
                           sf_line_verdict *v);

/* Counts a line that was read but never reached the decoder (e.g. one over
 * --max-line-bytes) as read and rejected. */
void sf_pipeline_reject(sf_pipeline *p, int file, uint64_t offset, sf_reject_reason reason,
                        const char *msg);

/* The reason and message of the most recent rejected line (borrowed until
 * the next reject); reason -1 when no line was rejected yet. */
int sf_pipeline_last_reject(const sf_pipeline *p, const char **msg);

/* Adds n bytes to bytes_scanned. */
void sf_pipeline_add_bytes(sf_pipeline *p, uint64_t n);

/* Runs the rows still waiting (see the note on waiting rows above) and
 * updates their groups: call it before closing whatever the step-aside
 * ships rows through (sf_aside_ops), at the latest when the input ends
 * (the end of each chunk does). Returns 0 or the first error of the rows
 * that ran (which the next call that pushes a row returns too). */
int sf_pipeline_flush(sf_pipeline *p);

/* The counts and the kept reject samples (borrowed from p). Rows that
 * were waiting for a join (see the note on waiting rows below) run first,
 * so the counts are whole. */
const sf_counts *sf_pipeline_counts(sf_pipeline *p);
const sf_reject_sample *sf_pipeline_samples(sf_pipeline *p, size_t *n);

/* The combiner (borrowed; owned by p). */
sf_groups *sf_pipeline_groups(sf_pipeline *p);

/* The combiner as it is, rows still waiting in the pipeline's batch (for
 * hints such as sf_groups_prefetch_record(); borrowed, valid until the
 * next call on p). */
const sf_groups *sf_pipeline_groups_now(const sf_pipeline *p);

/* Starts the combiner again, empty, after its partial aggregates were
 * saved elsewhere (a spill under a memory budget: partials merge exactly,
 * so the answer does not change). Returns 0, or SF_E_NOMEM with the old
 * table kept. */
int sf_pipeline_reset_groups(sf_pipeline *p);

/* The combiner of output k (k = 0: sf_pipeline_groups; with several
 * outputs, 1 .. noutputs - 1), borrowed; NULL when k is out of range or
 * its combiner was taken. Cannot fail. */
sf_groups *sf_pipeline_output_groups(sf_pipeline *p, size_t k);

/* sf_pipeline_reset_groups for the combiner of output k. Returns 0, or
 * SF_E_NOMEM (the old table kept) or SF_E_INVAL (k out of range). */
int sf_pipeline_reset_output_groups(sf_pipeline *p, size_t k);

/* Hands the combiner over: the caller owns it (sf_groups_free) and p has
 * none after this; p must not process lines or rows any more. */
sf_groups *sf_pipeline_take_groups(sf_pipeline *p);

/* With several outputs (job->noutputs > 1) every aggregated row updates one
 * combiner per output, keyed by that output's group_by. Hands over the
 * combiner of output k (k = 0: sf_pipeline_take_groups); the caller owns
 * it. NULL when k is out of range or was taken already. */
sf_groups *sf_pipeline_take_output_groups(sf_pipeline *p, size_t k);

/* A row output (job->outputs[k].kind == SF_OUT_ROWS) gets every aggregated
 * row itself, its slots copied (strings too) into a table of the output's
 * nresult columns (computed columns NULL). Hands that table over to *out
 * (the caller owns it: sf_rows_free) and leaves p's empty. Returns 0, or
 * SF_E_INVAL when output k is not a row output. */
int sf_pipeline_take_output_rows(sf_pipeline *p, size_t k, sf_rows *out);

/* Receives one row of row output k instead of the output's table: row is
 * the pipeline's row (its slots), borrowed for the call. Returns 0 or an
 * error, which the pipeline returns. */
typedef int (*sf_row_sink_fn)(void *ctx, size_t k, const sf_value *row);

/* Rows of row output k go to fn from now on (a driver that streams them to
 * their files). Not for other kinds: SF_E_INVAL. Returns 0. */
int sf_pipeline_set_row_sink(sf_pipeline *p, size_t k, sf_row_sink_fn fn, void *ctx);

/* Keeps sample s among samples[0..*n) if it is among the first SF_MAX_SAMPLES
 * by (file, offset). Used to merge samples across ranks too. */
void sf_samples_insert(sf_reject_sample *samples, size_t *n, const sf_reject_sample *s);

/* A new, empty group table for job's aggregates (the combiner of a pipeline
 * or a reduce-side table that partials merge into). NULL when out of memory. */
sf_groups *sf_job_new_groups(const sf_job *job);

/* Receives a shipped row: the destination is chosen from hash (of the route
 * key); rec (len bytes, borrowed for the call) goes to
 * sf_pipeline_push_row() on that rank. Returns 0 or an error. */
typedef int (*sf_emit_fn)(void *ctx, uint64_t hash, const unsigned char *rec, size_t len);

/* Splits p for a raw-row shuffle: steps [0, split) run where the line is
 * read; then the row's route slots are hashed (the same hash as group keys,
 * sf_groups_hash of the encoded values) and the row, reduced to the slots
 * the rest of the pipeline reads, is handed to emit instead of going on.
 * split = nsteps with the group keys as route ships rows to aggregate
 * elsewhere (no combiner); split = a join step with its key as route gives a
 * partitioned join. A job with a dedupe step is split there (and only
 * there: else SF_E_INVAL), with its columns as route; a new pipeline is
 * already split so, with itself as the receiver. Returns 0 or SF_E_NOMEM. */
int sf_pipeline_split(sf_pipeline *p, size_t split, const int *route, size_t nroute,
                      sf_emit_fn emit, void *ctx);

/* Runs the rest of a split pipeline (steps [split, n) and the aggregation)
 * on a shipped row. Uses its own row and scratch, so it may run while
 * sf_pipeline_push() is in the middle of a line. Returns 0, SF_E_PARSE for
 * a malformed record, or SF_E_NOMEM. */
int sf_pipeline_push_row(sf_pipeline *p, const unsigned char *rec, size_t len);

/* Dedupe: the ordinal of the chunk the following lines come from (chunks
 * numbered in input order; lines of one chunk by byte offset). Rows of a
 * dedupe key are kept by (file, chunk, offset, row within the line). */
void sf_pipeline_set_chunk(sf_pipeline *p, uint64_t chunk);

/* Dedupe: runs the steps after the dedupe step and the aggregation on the
 * row kept for each key this pipeline received (sf_pipeline_push_row), then
 * frees the table. Call once, after every row has arrived (after the scan)
 * and before sf_pipeline_take_groups(). No-op without a dedupe step.
 * Returns 0 or SF_E_NOMEM / SF_E_PARSE. */
int sf_pipeline_finish_dedupe(sf_pipeline *p);

/* ---- the combiner's step-aside ----
 * When groups come close to rows, pre-aggregating costs a table insert per
 * row and an export per group and saves little: the combiner steps aside
 * and each row whose group another rank owns leaves as a one-row record
 * (sf_groups_row_args/_write), encoded straight into the caller's send
 * batch, to be applied there with sf_groups_update_record(); rows of this
 * rank's own groups still go into the table, which is the reduce table.
 * So every row is hashed into a table once, at its group's owner. In auto
 * mode the first SF_ASIDE_SAMPLE rows aggregated here decide, from the
 * data only: step aside when more than SF_ASIDE_AHEAD_PCT percent of the
 * rows still to come are expected to make a new group. The sample alone
 * says little when the input is long (S4: 94% of the first 65,536 rows
 * make a group, yet 10M rows hold 688k groups), so when the caller knows
 * how much input is left (sf_aside_ops.ahead) the sample fits the number
 * of distinct keys and looks ahead (sf_aside_new_share); else the
 * sample's own share of new groups decides (more than
 * SF_ASIDE_RATIO_PCT percent: step aside). With the look ahead, a rank
 * that keeps combining looks again each time its rows double, from the
 * share of new groups among the rows since its last look, and may still
 * step aside then. The final states are exact and order-free, so the
 * answer is the same whenever a rank steps aside. */
#define SF_ASIDE_SAMPLE 65536
#define SF_ASIDE_RATIO_PCT 50
/* With the look ahead the bar is lower: a group made costs an export
 * and a merge, several times a shipped row's record (S4 at np 2 on this
 * machine: 2M lines, 42% expected, step-aside is 20% cheaper; 5M lines,
 * 19%, a tie; 10M, 10%, combining is 5% cheaper). */
#define SF_ASIDE_AHEAD_PCT 20

typedef enum sf_aside_mode {
    SF_ASIDE_OFF,  /* always combine (the default) */
    SF_ASIDE_AUTO, /* decide on the sample */
    SF_ASIDE_ON    /* step aside from the first row (tests) */
} sf_aside_mode;

typedef struct sf_aside_ops {
    /* The rank that owns the group of this key hash, or -1 for this rank. */
    int (*owner)(void *ctx, uint64_t hash);
    /* Room for a record of len bytes to rank dest, to be written before
     * any other call; NULL when out of memory. May take in records from
     * other ranks (sf_groups_update_record on this pipeline's combiner). */
    unsigned char *(*reserve)(void *ctx, int dest, size_t len);
    void *ctx;
    /* May be NULL: how much of this rank's input is still to come, as a
     * multiple of what it has read (3.0 when a quarter is read); < 0 when
     * not known. */
    double (*ahead)(void *ctx);
    /* Bytes the combiner may hold (a memory budget's share for growing
     * state), 0 for no limit: when it steps aside knowing the rows ahead,
     * the pipeline sizes its group table for the groups it expects
     * (sf_groups_reserve), at most half of those this room holds. */
    uint64_t room;
} sf_aside_ops;

enum { SF_ASIDE_UNDECIDED, SF_ASIDE_DECIDED_COMBINE, SF_ASIDE_DECIDED_ASIDE };

typedef struct sf_aside_stats {
    uint64_t sample_rows;   /* rows of the sample seen (auto mode) */
    uint64_t sample_groups; /* ... and how many of them made a new group */
    int decision;           /* SF_ASIDE_UNDECIDED (fewer rows than the sample, or off),
                             * _COMBINE or _ASIDE */
    uint64_t rows_shipped;  /* rows that left as row records */
    uint64_t rows_ahead;    /* rows expected after the sample (0: not known) */
    double ahead_new_share; /* ... and the share of them expected to make a new
                             * group (sf_aside_new_share), as of the last look */
    uint64_t looks;         /* looks again after the sample while combining */
} sf_aside_stats;

/* The share of the next ahead rows expected to make a new group, after d
 * of the first n rows made one: keys drawn uniformly from K distinct
 * ones, where K is fitted so that n draws give d distinct keys on
 * average, d = K (1 - e^(-n/K)); the next ahead rows then make
 * K e^(-n/K) (1 - e^(-ahead/K)) new groups. 1 when every sampled row made
 * a group (no repeat: K unbounded), 0 when ahead is 0. Skewed keys repeat
 * early, so the fit is low for them (combining suits their heavy keys).
 * Cannot fail. */
double sf_aside_new_share(uint64_t n, uint64_t d, uint64_t ahead);

/* The same for a combining rank's later look: rate is the share of the
 * rows after the m-th up to the n-th that made a new group. Keys drawn
 * uniformly from K give K (e^(-m/K) - e^(-n/K)) / (n - m) on average,
 * which fits K; the next ahead rows then make K e^(-n/K) (1 -
 * e^(-ahead/K)) new groups. A rate of 1 is K unbounded (1 returned).
 * Keys that change over the input (a time-sorted one) show as a rate the
 * keys seen before do not explain. Cannot fail. */
double sf_aside_rate_share(uint64_t m, uint64_t n, double rate, uint64_t ahead);

/* Lets p's combiner step aside (mode ON or AUTO; OFF changes nothing),
 * routing through ops (copied). Only for a pipeline that is not split and
 * feeds one output. Returns 0, SF_E_INVAL, or SF_E_NOMEM. */
int sf_pipeline_set_aside(sf_pipeline *p, sf_aside_mode mode, const sf_aside_ops *ops);

/* What the step-aside decided and did (borrowed from p). */
const sf_aside_stats *sf_pipeline_aside_stats(sf_pipeline *p);
/* Dedupe under a memory budget: the table of kept rows (borrowed; NULL
 * without a dedupe step or after sf_pipeline_finish_dedupe), for a driver
 * that writes its rows out (sf_dedupe_entry, sf_dedupe_hash) ... */
sf_dedupe *sf_pipeline_dedupe(sf_pipeline *p);

/* ... and then starts it again empty (or makes a new one after
 * sf_pipeline_finish_dedupe freed it). Returns 0 or SF_E_NOMEM (the old
 * table kept); no-op without a dedupe step. */
int sf_pipeline_dedupe_reset(sf_pipeline *p);

/* Offers a kept row that was written out (its record as sf_dedupe_entry
 * gave it) to the table again: as sf_pipeline_push_row, but not counted
 * as received; when it meets a row of its key kept since, the later one
 * is counted as a duplicate then. Returns 0, SF_E_PARSE or SF_E_NOMEM. */
int sf_pipeline_dedupe_reoffer(sf_pipeline *p, const unsigned char *rec, size_t len);

/* Frees p (and its decoder); NULL is a no-op. */
void sf_pipeline_free(sf_pipeline *p);

#endif
