/* run.h - `shardflow run` and `shardflow validate`: the distributed job driver.
 *
 * Phases of a run (see docs/architecture.md): plan on rank 0 and broadcast,
 * scan+map every chunk into a per-rank combiner, shuffle partial aggregates
 * to their owners, reduce, window, write the partitions under _temporary and
 * commit with _MANIFEST.json and _SUCCESS.
 */
#ifndef SF_RUN_H
#define SF_RUN_H

#include <stdint.h>

#include "io/commit.h"
#include "mpi/scan.h"

#define SF_MAX_INPUT_OVERRIDES 64


/* What happens to a bad input line (Spark's names). */
typedef enum {
    SF_MODE_PERMISSIVE = 0, /* counted, written to OUT/_bad_records/, the run goes on */
    SF_MODE_DROPMALFORMED,  /* counted only */
    SF_MODE_FAILFAST        /* the first one stops the run (exit 2) */
} sf_bad_mode;

/* Where data moves before aggregation. */
typedef enum {
    SF_REPART_BEFORE_AGGREGATE = 0, /* combiner per rank, shuffle partial aggregates */
    SF_REPART_BEFORE_JOIN,          /* shuffle raw rows by a join key: partitioned join */
    SF_REPART_NONE                  /* no combiner: shuffle raw rows by group key */
} sf_repartition;

/* How output files are formed (Spark's repartition / coalesce). */
typedef enum {
    SF_WRITE_REPARTITION = 0, /* rows go to the owner of their partition value: one file each */
    SF_WRITE_COALESCE,        /* N writers take whole contiguous groups of ranks' rows */
    SF_WRITE_LOCAL            /* every rank writes what it holds */
} sf_write_mode;

typedef struct sf_run_opts {
    const char *job_path;
    const char *input_names[SF_MAX_INPUT_OVERRIDES];
    const char *input_paths[SF_MAX_INPUT_OVERRIDES];
    int ninputs;
    const char *param_names[SF_MAX_INPUT_OVERRIDES]; /* --param NAME=VALUE (names owned) */
    const char *param_values[SF_MAX_INPUT_OVERRIDES];
    int nparams;
    const char *output;   /* NULL: the spec's output.path */
    const char *format;   /* NULL: the spec's output.format (csv|hdf5|parquet) */
    const char *layout;   /* NULL: the spec's output.layout (hive|single) */
    const char *compression; /* NULL: the spec's output.compression */
    sf_commit_mode commit_mode; /* --write-mode (--overwrite: SF_COMMIT_OVERWRITE) */
    double claim_timeout; /* seconds after which another host's claim is stale; 0: never */
    const char *row_group_size; /* parquet: --row-group-size (checked when parsed);
                                   NULL: the writer's defaults */
    uint64_t chunk_size;  /* bytes; 0 = automatic (see sf_run_chunk_size) */
    sf_scan_opts scan;    /* schedule and max line length */
    uint64_t shuffle_round; /* bytes per all-to-all round, summed over ranks */
    int partitions;       /* shuffle partitions; 0 = one per rank */
    sf_repartition repartition;
    uint64_t broadcast_limit; /* with broadcast_limit_set: larger dimension tables are
                               * joined partitioned, others broadcast */
    int broadcast_limit_set;  /* --broadcast-limit given; else core/joinplan's rule */
    sf_write_mode write_mode;
    int coalesce;         /* writers for SF_WRITE_COALESCE */
    uint64_t memory_limit; /* --memory-limit bytes per rank; 0 with memory_limit_set:
                            * none (unlimited) */
    int memory_limit_set;  /* --memory-limit given */
    const char *spill_dir; /* --spill-dir, or NULL: $TMPDIR, else /tmp */
    int shuffle_round_set; /* --shuffle-round given (else a budget may shrink it) */
    int salt;             /* > 1: hot group keys of raw-row shuffles go to this
                           * many partial owners before the final merge */
    int progress;         /* 1 on, 0 off, -1 when stderr is a terminal */
    int quiet;            /* no summary table */
    int verbose;          /* --verbose: the summary says what each rank's combiner did */
    int decoder;          /* sf_decoder_kind: SF_DECODER_FAST (default) or _JANSSON */
    sf_bad_mode mode;
    int max_bad_set;      /* --max-bad given: */
    uint64_t max_bad;     /* at most this many bad lines, or */
    double max_bad_pct;   /* (when >= 0) at most this % of the lines read */
} sf_run_opts;

/* What a run measured, for `shardflow experiment` (valid on rank 0). */
typedef struct sf_run_result {
    double wall;              /* seconds */
    double phase[8];          /* max seconds over ranks, by SF_PH_* */
    uint64_t bytes_moved;     /* shuffle and stream bytes sent, all ranks */
    uint64_t messages;        /* messages sent, all ranks */
    double rows_skew;         /* max/mean input rows per partition */
    double groups_skew;       /* max/mean groups per partition */
    double stream_skew;       /* max/mean raw rows received per rank (0: none) */
    uint64_t files;           /* output files */
    uint64_t output_bytes;
    uint64_t output_rows;
    uint64_t rows_in;         /* rows aggregated (after filters and joins), all ranks */
    uint64_t digest;          /* order-free digest of the output rows */
    const char *repartition;  /* strategy in effect */
} sf_run_result;

/* Runs the job like sf_run_main(), filling *res (may be NULL) on rank 0.
 * Collective over MPI_COMM_WORLD. Returns the exit code. */
int sf_run_job(const sf_run_opts *o, sf_run_result *res);

/* The chunk size a run uses: the given one, or automatically 64 MiB cut
 * down (to no less than 1 MiB) until there are at least 4 chunks per rank,
 * so dynamic scheduling can balance small inputs too. */
uint64_t sf_run_chunk_size(uint64_t requested, uint64_t input_bytes, int nranks);

/* Defaults for every option. Cannot fail. */
void sf_run_opts_init(sf_run_opts *o);

/* Runs the job. Collective over MPI_COMM_WORLD (MPI is initialized).
 * Returns the process exit code: 0 success, 1 runtime failure, 2 bad spec or
 * usage. Rank 0 prints errors; nothing is committed on failure. */
int sf_run_main(const sf_run_opts *o);

/* Loads and checks the job spec without reading data; prints a summary of
 * the plan. Not collective (runs without MPI). Returns 0 or 2. */
int sf_validate_main(const sf_run_opts *o);

#endif
