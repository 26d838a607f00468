/* metrics.h - per-phase, per-rank measurements of a run, and _METRICS.json.
 *
 * Every phase records its seconds, rows in and out, and the bytes and
 * messages the shuffle moved during it (deltas of the shuffle counters).
 * At the end rank 0 gathers every rank's figures, the partition sizes (skew)
 * and the heaviest group keys, and writes them as JSON.
 */
#ifndef SF_METRICS_H
#define SF_METRICS_H

#include <mpi.h>
#include <stdint.h>

#include "core/buf.h"
#include "mpi/shuffle.h"
#include "partition/skew.h"

enum {
    SF_PH_PLAN,
    SF_PH_SCAN,
    SF_PH_SHUFFLE,
    SF_PH_REDUCE,
    SF_PH_WINDOW,
    SF_PH_WRITE,
    SF_PH_COMMIT,
    SF_PH_COUNT
};

/* "plan", "scan+map", "shuffle", "reduce", "window", "write", "commit". */
const char *sf_phase_name(int phase);

typedef struct sf_phase_stat {
    double secs;
    double cpu_secs;       /* this process's CPU time in the phase */
    uint64_t rows_in, rows_out;
    uint64_t bytes_sent, bytes_recv;
    uint64_t msgs_sent, msgs_recv;
    uint64_t recs_sent, recs_recv; /* records (rows, partial groups) moved */
    uint64_t spill_bytes;  /* written to spill files during the phase */
    uint64_t spill_passes; /* scan+map: times the combiner was written out;
                            * shuffle: merge passes over the spill (totals: max) */
} sf_phase_stat;

/* Output files of a run: count and sizes. */
typedef struct sf_file_stats {
    uint64_t count;
    uint64_t bytes, min_bytes, max_bytes;
} sf_file_stats;

/* What a rank's combiner did (core/pipeline.h's step-aside). */
enum {
    SF_COMBINER_ONLY,    /* combined: no step-aside here (one rank, several outputs,
                          * a raw-row strategy) */
    SF_COMBINER_FORCED,  /* combined: SHARDFLOW_COMBINER=combine */
    SF_COMBINER_AUTO,    /* (during the scan: to be decided) */
    SF_COMBINER_SMALL,   /* combined: fewer rows than the sample */
    SF_COMBINER_SAMPLED, /* combined: the sample said so */
    SF_ASIDE_SAMPLED,    /* stepped aside: the sample said so */
    SF_ASIDE_FORCED      /* stepped aside: SHARDFLOW_COMBINER=aside */
};

/* "combine", "step-aside" and why, for _METRICS.json and --verbose. */
const char *sf_combiner_name(int combiner);

typedef struct sf_metrics {
    sf_phase_stat ph[SF_PH_COUNT];
    double start;             /* of the phase under way */
    double cpu_start;         /* ... and the CPU time then */
    sf_shuffle_stats at_start;
    sf_heavy_key top[SF_TOP_KEYS]; /* this rank's heaviest groups, heaviest first */
    int ntop;
    uint64_t stream_rows_in;  /* raw rows this rank received (split pipelines) */
    int32_t combiner;         /* SF_COMBINER_* / SF_ASIDE_* */
    uint64_t aside_sample_rows, aside_sample_groups; /* the sample: rows, new groups */
    uint64_t aside_rows_out;  /* rows this rank shipped as row records */
    uint64_t aside_rows_in;   /* row records this rank took in */
    uint64_t memory_limit;    /* this rank's --memory-limit in effect; 0: none */
    uint64_t largest_table;   /* under a limit: the largest combiner or spill pass
                               * table seen (sf_groups_memory), bytes */
    uint64_t distinct_groups; /* groups whose distinct values were spread over ranks */
    uint64_t distinct_pairs;  /* distinct (group, value) pairs of them counted here */
    uint64_t distinct_spill_bytes; /* of those pairs written to spill files here */
    uint64_t spill_splits;    /* spill partitions too big for a pass, split again */
    uint64_t dedupe_spills;   /* times the dedupe step's table of kept rows was written out */
} sf_metrics;

/* Marks the start / end of a phase; sh is the run's cumulative shuffle
 * counters at that moment. Not collective; cannot fail. */
void sf_metrics_begin(sf_metrics *m, const sf_shuffle_stats *sh);
void sf_metrics_end(sf_metrics *m, int phase, const sf_shuffle_stats *sh, uint64_t rows_in,
                    uint64_t rows_out);

/* Offers a group (its printable key and rows) to the top list. Not
 * collective. */
void sf_metrics_offer_key(sf_metrics *m, const char *key, uint64_t rows);

/* Figures of the whole run, on rank 0. */
typedef struct sf_metrics_summary {
    sf_phase_stat total[SF_PH_COUNT]; /* secs: max over ranks; the rest: sums */
    double groups_skew;               /* max/mean groups per partition */
    double rows_skew;                 /* max/mean input rows per partition */
    double stream_skew;               /* max/mean raw rows received per rank */
    uint64_t spill_splits;            /* max over ranks (every rank the same) */
    uint64_t dedupe_spills;           /* max over ranks */
} sf_metrics_summary;

/* Collective over comm: gathers every rank's metrics on rank 0 and appends
 * the _METRICS.json document to out there (out is untouched elsewhere).
 * part_groups/part_rows (nparts each, may be NULL when no partition was
 * reduced) are this rank's groups and input rows per shuffle partition;
 * files (read on rank 0 only) describes the output files.
 * Fills *sum on rank 0. Returns 0 or SF_E_NOMEM (rank 0). */
int sf_metrics_report(MPI_Comm comm, const sf_metrics *m, const uint64_t *part_groups,
                      const uint64_t *part_rows, int nparts, const sf_file_stats *files,
                      sf_buf *out, sf_metrics_summary *sum);

#endif
