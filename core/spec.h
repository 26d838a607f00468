/* spec.h - job specs: load a JSON job file, validate it, compile it.
 *
 * Loading checks every field before any data is read: unknown fields, types,
 * column references and expressions (parsed and type-checked here), and
 * reports the exact place, e.g.
 *   jobs/x.json: steps[1].filter: unknown column 'revenu' at 1:1
 * The compiled sf_job fixes the row layout used on the hot path: one slot
 * per fact column, derived column and joined dimension column, in the order
 * the spec introduces them. The format is documented in docs/job-spec.md.
 */
#ifndef SF_SPEC_H
#define SF_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/expr.h"
#include "core/flatten.h"
#include "core/value.h"

#define SF_MAX_INPUTS 32

typedef enum { SF_FORMAT_JSONL = 0, SF_FORMAT_CSV } sf_input_format;

typedef struct sf_job_column {
    const char *name; /* as written; a dotted path for nested JSON */
    sf_type type;
    int slot;         /* fact input: row slot; dimension: column index */
    int required;     /* fact input: a line without a value here is rejected */
    sf_dec_type dec;  /* decimal(P,S): P and S; {0, 0} for other types */
} sf_job_column;

typedef struct sf_job_input {
    const char *name;
    const char *path; /* after --input overrides */
    sf_input_format format;
    int is_fact;
    sf_job_column *columns;
    size_t ncolumns;
    int key_col; /* dimension: index of the key column, else -1 */
    int keep_first_key; /* dimension with "duplicates": "first": a later row of a
                         * key is skipped (and counted), not an error */
    /* Fact input with "flatten" or "explode": each line goes through
     * core/flatten with these options (strings owned by the job) and may
     * give several rows; columns then name flattened columns. */
    int flatten;
    sf_flatten_opts flatten_opts;
    /* Dimension with "unknown": KEY: the documented member that stands for
     * every key the dimension lacks (a join step of type "unknown" gives a
     * fact row without a match this key; a dimension output writes a row
     * for it with NULL attributes). has_unknown 0: none. The string lives
     * in the job's arena. */
    int has_unknown;
    sf_value unknown;
} sf_job_input;

typedef enum { SF_STEP_DERIVE, SF_STEP_FILTER, SF_STEP_JOIN, SF_STEP_DEDUPE } sf_step_kind;

typedef struct sf_job_step {
    sf_step_kind kind;
    const char *field; /* "steps[2]" */
    sf_expr *expr;     /* derive, filter */
    int slot;          /* derive: target slot */
    int replace;       /* derive: a "replace" step (slot is an existing column's) */
    int input;         /* join: index of the dimension input */
    int on_slot;       /* join: slot of the fact key */
    int inner;         /* join: 1 inner, 0 left (or unknown) */
    int to_unknown;    /* join "type": "unknown": a row without a match gets the
                        * dimension's unknown key in its on column */
    int *select_cols;  /* join: dimension column indexes ... */
    int *select_slots; /* ... and the slots they fill */
    size_t nselect;
    int *dedupe_slots; /* dedupe: the key columns (keep "first" in input order) */
    size_t ndedupe;
} sf_job_step;

typedef struct sf_job_agg {
    const char *name;
    sf_expr *expr;       /* root is the aggregate call */
    sf_agg_kind kind;
    const sf_expr *arg;  /* NULL for count() */
    sf_type type;        /* result type */
    sf_dec_type dec;     /* decimal result: P and S */
} sf_job_agg;

typedef struct sf_job_window {
    const char *name;
    sf_agg_kind func;    /* SUM, MEAN, MIN or MAX */
    int column;          /* result column it reads */
    int preceding;       /* rows before the current one */
    int *partition_by;   /* result columns */
    size_t npartition;
    int order_by;        /* result column */
    sf_type type;        /* result type */
    sf_dec_type dec;     /* decimal result: P and S */
    /* A range frame ("range": "6 days"): the rows of the partition whose
     * order value lies in [v - range, v], v the current row's; range is in
     * the order column's unit (days for a date). -1: a rows frame
     * (preceding). */
    int64_t range;
} sf_job_window;

/* "compute": {"NAME": "EXPR", ...}: a result column computed per result row
 * after the windows, from group keys, aggregates, windows and earlier
 * computed columns (in the order written). */
typedef struct sf_job_compute {
    const char *name;
    sf_expr *expr;       /* slots are result column indexes; owned by the job */
    int column;          /* the result column it fills */
} sf_job_compute;

/* "grid": fill the result with a row for every key of a dimension and every
 * date of a range, bounded below by a per-key date of the dimension (the
 * group keys are exactly key and date), or without a dimension with a row
 * for every date of the range (key and input -1; the date is the only
 * group key). Rows of groups outside the grid are
 * dropped; missing rows get aggregates of an empty group with 0 for counts
 * and sums (min, max and mean are NULL). Applied after "having", before the
 * windows. */
typedef struct sf_job_grid {
    int on;              /* 0: no grid */
    int key;             /* result column (a group key) matched to the dimension key,
                          * or -1 for a calendar grid */
    int date;            /* result column (a date group key) */
    int input;           /* the dimension input, or -1 */
    int from_col;        /* dimension column (date) where a key's dates start, or -1 */
    int has_start, has_end; /* given; else the first / last date of the groups */
    int32_t start, end;  /* days since 1970-01-01 */
} sf_job_grid;

/* What an output's rows are made of. */
typedef enum {
    SF_OUT_GROUPS = 0, /* group_by + aggregates over the fact rows (the combiner) */
    SF_OUT_ROWS,       /* no group_by: the fact rows themselves after the steps;
                        * result columns are the row's slots, in slot order */
    SF_OUT_DIMENSION,  /* "dimension": a dimension input's rows (+ its unknown
                        * member); result columns are its columns */
    SF_OUT_STAGE       /* "from": group_by + aggregates over the result rows of an
                        * earlier output; the view's slots are that output's
                        * result columns */
} sf_output_kind;

typedef struct sf_job_output {
    const char *path;
    const char *format;  /* "csv" or "hdf5" */
    const char *layout;  /* hdf5: "hive" (a file per partition) or "single" */
    const char *compression; /* hdf5: "none", "gzip" or "gzip:N"; csv: "none", "gzip[:N]",
                                "zstd[:N]"; parquet: its codecs */
    int *partition_by;   /* result columns that name directories */
    size_t npartition;
    int *columns;        /* result columns written, in order */
    size_t ncolumns;
    int *sort_by;        /* result columns rows are sorted by within a file */
    size_t nsort;
    unsigned char *sort_desc; /* per sort_by entry: 1 for "NAME desc", else 0 */
    int64_t limit;       /* "limit": keep the first N rows of the sorted result
                          * (sort_by, then every result column ascending), over
                          * the whole output, not per partition; -1: no limit */
} sf_job_output;

typedef struct sf_job {
    const char *name;
    const char *source;  /* the spec's file name, for messages */
    sf_job_input *inputs;
    size_t ninputs;
    int fact;            /* index of the fact input */

    size_t nslots;       /* row layout */
    const char **slot_names;
    sf_type *slot_types;

    sf_job_step *steps;
    size_t nsteps;

    int *group_slots;
    size_t ngroup;
    sf_job_agg *aggs;
    size_t naggs;

    /* Result rows: group keys, then aggregates, then windows, then
     * computed columns. */
    size_t nresult;
    const char **result_names;
    sf_type *result_types;
    sf_job_window *windows;
    size_t nwindows;

    sf_job_output output;

    /* Precision and scale of decimal slots and result columns (read them
     * with sf_job_slot_dec and sf_job_result_dec). */
    sf_dec_type *slot_dec;
    size_t nslot_dec;
    sf_dec_type *result_dec;
    size_t nresult_dec;
    /* "having": a bool expression over the result row (slots are result
     * column indexes; group keys and aggregates only); a result row is kept
     * when it is true. NULL when the spec has none. Owned by the job. */
    sf_expr *having;

    /* Every output of the job: "outputs": [{name, group_by, aggregates,
     * having, windows, output}, ...], all fed by one scan of the inputs
     * through the same steps; the single-output form gives one. Each is a
     * view of this job: a copy sharing its inputs, slots and steps, with
     * its own group_slots, aggs, result columns, windows, output and
     * having, and output_name set (NULL for the single-output form).
     * The job's own fields above mirror outputs[0], so code that knows one
     * output works on the first. Views are owned by the job: pass them
     * where an sf_job is read, never to sf_job_free. A view's own
     * outputs/noutputs are NULL/0. */
    struct sf_job *outputs;
    size_t noutputs;
    const char *output_name;
    int dedupe_step;     /* index of the one dedupe step, or -1 */
    /* What this output reads (see sf_output_kind); kind_input is the
     * dimension input of SF_OUT_DIMENSION, kind_from the index in outputs of
     * the output an SF_OUT_STAGE reads (always an earlier one), else -1.
     * read_by_stage: a later output reads this one's result rows, so they
     * are kept after it is written. */
    sf_output_kind kind;
    int kind_input;
    int kind_from;
    int read_by_stage;

    /* After windows: computed result columns (result indexes after the
     * windows'), and the dense grid. */
    sf_job_compute *computes;
    size_t ncomputes;
    sf_job_grid grid;
    /* "memory_limit": bytes per rank ("128M"), 0 for "none" (unlimited);
     * memory_limit_set is 0 when the spec does not say. */
    uint64_t memory_limit;
    int memory_limit_set;
} sf_job;

typedef struct sf_job_overrides {
    const char *const *input_names; /* --input NAME=PATH */
    const char *const *input_paths;
    size_t ninputs;
    const char *output; /* --output, or NULL */
    const char *format; /* --format, --layout, --compression, or NULL */
    const char *layout;
    const char *compression;
    const char *spec_dir; /* relative paths in the spec ("path" of inputs and
                           * the output) resolve against this directory (the
                           * spec file's); NULL or "": as written. Paths given
                           * by --input / --output are used as given. */
    const char *const *param_names; /* --param NAME=VALUE: replaces the default */
    const char *const *param_values; /* of "params" NAME (which must exist) */
    size_t nparams;
} sf_job_overrides;

/* Parses and compiles the spec text (len bytes; source names it in
 * messages). Returns 0 and a new job (free with sf_job_free), or SF_E_SPEC /
 * SF_E_PARSE / SF_E_NOMEM with err filled. */
int sf_job_load(const char *text, size_t len, const char *source, const sf_job_overrides *ov,
                sf_job **out, sf_error *err);

/* Frees job; NULL is a no-op. */
void sf_job_free(sf_job *job);

/* 1 if name may name an input column: identifiers ([A-Za-z_][A-Za-z0-9_]*)
 * joined by '.', as expressions can reference it; else 0. */
int sf_job_column_name_ok(const char *name);

/* Index of the result column named name, or -1. */
int sf_job_result_index(const sf_job *job, const char *name);

/* Precision and scale of slot s or result column i when it is a decimal;
 * {0, 0} otherwise. */
sf_dec_type sf_job_slot_dec(const sf_job *job, int s);
sf_dec_type sf_job_result_dec(const sf_job *job, int i);

/* Index of the input named name, or -1. */
int sf_job_input_index(const sf_job *job, const char *name);

#endif
