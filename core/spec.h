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
} sf_job_column;

typedef struct sf_job_input {
    const char *name;
    const char *path; /* after --input overrides */
    sf_input_format format;
    int is_fact;
    sf_job_column *columns;
    size_t ncolumns;
    int key_col; /* dimension: index of the key column, else -1 */
    /* Fact input with "flatten" or "explode": each line goes through
     * core/flatten with these options (strings owned by the job) and may
     * give several rows; columns then name flattened columns. */
    int flatten;
    sf_flatten_opts flatten_opts;
} sf_job_input;

typedef enum { SF_STEP_DERIVE, SF_STEP_FILTER, SF_STEP_JOIN } sf_step_kind;

typedef struct sf_job_step {
    sf_step_kind kind;
    const char *field; /* "steps[2]" */
    sf_expr *expr;     /* derive, filter */
    int slot;          /* derive: target slot */
    int input;         /* join: index of the dimension input */
    int on_slot;       /* join: slot of the fact key */
    int inner;         /* join: 1 inner, 0 left */
    int *select_cols;  /* join: dimension column indexes ... */
    int *select_slots; /* ... and the slots they fill */
    size_t nselect;
} sf_job_step;

typedef struct sf_job_agg {
    const char *name;
    sf_expr *expr;       /* root is the aggregate call */
    sf_agg_kind kind;
    const sf_expr *arg;  /* NULL for count() */
    sf_type type;        /* result type */
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
} sf_job_window;

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

    /* Result rows: group keys, then aggregates, then windows. */
    size_t nresult;
    const char **result_names;
    sf_type *result_types;
    sf_job_window *windows;
    size_t nwindows;

    sf_job_output output;

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
} sf_job_overrides;

/* Parses and compiles the spec text (len bytes; source names it in
 * messages). Returns 0 and a new job (free with sf_job_free), or SF_E_SPEC /
 * SF_E_PARSE / SF_E_NOMEM with err filled. */
int sf_job_load(const char *text, size_t len, const char *source, const sf_job_overrides *ov,
                sf_job **out, sf_error *err);

/* Frees job; NULL is a no-op. */
void sf_job_free(sf_job *job);

/* Index of the result column named name, or -1. */
int sf_job_result_index(const sf_job *job, const char *name);

/* Index of the input named name, or -1. */
int sf_job_input_index(const sf_job *job, const char *name);

#endif
