/* manifest.h - _MANIFEST.json: the one owner of the format, both ways.
 *
 * Every command's manifest is built from these pieces (the output files,
 * the rejected-line samples and counts per reason, string arrays, peak RSS
 * per rank), and `shardflow inspect`/`cat` read the output columns and
 * sort order back through sf_manifest_read_columns() and the runs that
 * built the output through sf_manifest_read_runs(). The commands add
 * their own fields (a run's strategy, flatten's options) between them.
 * No MPI: files are gathered by the caller. */
#ifndef SF_MANIFEST_H
#define SF_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/pipeline.h"
#include "io/filelist.h"

typedef struct sf_out_file {
    char path[512]; /* relative to the output directory */
    uint64_t rows;
    uint64_t bytes;
} sf_out_file;

/* Appends a file to *files (n entries, grown by realloc). Returns 0 or
 * SF_E_NOMEM (the list unchanged). */
int sf_out_files_add(sf_out_file **files, size_t *n, const char *rel, uint64_t rows,
                     uint64_t bytes);

/* Sorts files by path. */
void sf_out_files_sort(sf_out_file *files, size_t n);

/* Appends the JSON array of the samples ([{file, offset, reason, message}]),
 * file names taken from paths[sample.file]. Returns 0 or SF_E_NOMEM. */
int sf_manifest_samples(sf_buf *m, const sf_reject_sample *s, size_t n,
                        const char *const *paths);

/* Appends the JSON array of the files ([{path, rows, bytes, run_id}]): every
 * file with the run that wrote it (io/filelist.h merges these lists across
 * runs). Returns 0 or SF_E_NOMEM. */
int sf_manifest_files(sf_buf *m, const sf_out_file *files, size_t n, const char *run_id);

/* Opens the manifest object with the fields every command writes first:
 * "shardflow_version", then key (the job's name for "job", the command
 * for "command") with value, "run_id", "ranks" and "schedule". The command
 * continues with ",\n  \"field\": ..." and closes the object. Returns 0
 * or SF_E_NOMEM. */
int sf_manifest_begin(sf_buf *m, const char *key, const char *value, const char *runid,
                      int ranks, const char *schedule);

/* Appends the JSON object of the non-zero counts per reject reason
 * ({"invalid JSON": 3, ...}; counts has SF_REJ_NREASONS entries). Returns 0
 * or SF_E_NOMEM. */
int sf_manifest_reasons(sf_buf *m, const uint64_t *counts);

/* Appends a JSON array of n strings. Returns 0 or SF_E_NOMEM. */
int sf_manifest_strings(sf_buf *m, const char *const *v, size_t n);

/* Appends the n numbers of v separated by ", " (the inside of a JSON array
 * such as "peak_rss_bytes"). Returns 0 or SF_E_NOMEM. */
int sf_manifest_u64s(sf_buf *m, const uint64_t *v, size_t n);

/* What a manifest says about the written table: output.columns (names and
 * types, in file order) and output.sort_by (names; an entry "NAME desc" is
 * NAME with sort_desc 1, as in job specs). */
typedef struct sf_manifest_columns {
    size_t ncols;
    char **names;
    sf_type *types;
    size_t nsort;
    char **sort_by;
    sf_dec_type *decs; /* per column: P and S of a decimal, else {0, 0} */
    unsigned char *sort_desc; /* per sort_by entry: 1 descending, else 0 */
} sf_manifest_columns;

/* Reads output.columns and output.sort_by from DIR/_MANIFEST.json into *c
 * (new strings, NULL for a name or sort entry that is not a string: free
 * with sf_manifest_columns_free). Returns 1 when both
 * are there with at least one column and every type is known, 0 when there
 * is no usable manifest (*c is then empty). Cannot fail otherwise. */
int sf_manifest_read_columns(const char *dir, sf_manifest_columns *c);

/* Frees what sf_manifest_read_columns() filled and empties *c. */
void sf_manifest_columns_free(sf_manifest_columns *c);

/* What a manifest says about the lines read: counts.lines_read,
 * counts.rows_rejected, counts.output_rows, counts.rejected_by_reason and
 * the top-level bad_records and mode (run and flatten write all of them),
 * and counts.duplicates_dropped where a job had a dedupe step.
 * A field the manifest lacks reads 0 / "". At most SF_MANIFEST_REASONS
 * reasons are kept (there are fewer reject reasons than that). */
#define SF_MANIFEST_REASONS 16
typedef struct sf_manifest_counts {
    uint64_t lines_read;
    uint64_t rows_rejected;
    uint64_t output_rows;
    uint64_t bad_records;
    char mode[16];
    size_t nreasons;
    char reason[SF_MANIFEST_REASONS][48];
    uint64_t reason_count[SF_MANIFEST_REASONS];
    int has_duplicates;          /* the job had a dedupe step ... */
    uint64_t duplicates_dropped; /* ... which dropped this many lines' rows */
} sf_manifest_counts;

/* Reads the counts from DIR/_MANIFEST.json into *c. Returns 1 when the
 * manifest parses and has a "counts" object, 0 otherwise (*c then zero).
 * Cannot fail otherwise. */
int sf_manifest_read_counts(const char *dir, sf_manifest_counts *c);

/* Reads the runs that built the output from DIR/_MANIFEST.json
 * (sf_manifest_runs in io/filelist.h). *runs is new (caller frees), *n may
 * be 0. Returns 0, or SF_E_NOTFOUND / SF_E_IO (no readable manifest),
 * SF_E_PARSE or
 * SF_E_NOMEM with err set. */
int sf_manifest_read_runs(const char *dir, sf_manifest_run **runs, size_t *n, sf_error *err);

#endif
