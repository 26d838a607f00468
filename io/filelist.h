/* filelist.h - the output's file list across runs: every data file of an
 * output with the run that wrote it.
 *
 * _MANIFEST.json's "files" array is the list ([{path, rows, bytes,
 * run_id}]). A run that replaces the whole output writes its own list; a run
 * with --write-mode append or overwrite-partitions merges the previous
 * manifest's list (read here with jansson) with its own: append keeps every
 * previous entry and adds the new files under run-unique names;
 * overwrite-partitions drops the previous entries of every partition
 * directory the new run wrote and keeps the rest. The merged manifest also
 * gets "runs": the runs that still own files, with their file and row
 * counts. Pure functions of their arguments: no file I/O.
 */
#ifndef SF_FILELIST_H
#define SF_FILELIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sf_filelist_entry {
    char *path;   /* relative to the output directory */
    uint64_t rows;
    uint64_t bytes;
    char *run_id; /* the run that wrote the file */
} sf_filelist_entry;

typedef struct sf_filelist {
    sf_filelist_entry *v; /* owned, with their strings */
    size_t n, cap;
} sf_filelist;

#define SF_FILELIST_INIT {NULL, 0, 0}

/* Appends a copy of the entry. Returns 0 or SF_E_NOMEM (list unchanged). */
int sf_filelist_add(sf_filelist *fl, const char *path, uint64_t rows, uint64_t bytes,
                    const char *run_id);

/* Frees the entries; the list is empty afterwards. NULL is a no-op. */
void sf_filelist_free(sf_filelist *fl);

/* Reads the "files" array of a manifest into fl (appended). An entry
 * without run_id takes the manifest's top-level "run_id" (manifests written
 * before runs were recorded per file). A manifest without "files" gives no
 * entries. Returns 0, SF_E_PARSE (not a JSON object, or a malformed entry)
 * or SF_E_NOMEM, with err set. */
int sf_filelist_from_manifest(const char *json, size_t len, sf_filelist *fl, sf_error *err);

/* The name append gives a staged file: RUNID before the last extension of
 * the file name ("date=x/part-00000.csv" -> "date=x/part-00000-RUNID.csv",
 * "part" -> "part-RUNID"; "part-00000.csv.gz" -> "part-00000-RUNID.csv.gz"). Writes it to out (cap bytes). Returns 0 or
 * SF_E_RANGE when it does not fit. */
int sf_filelist_unique_name(const char *rel, const char *runid, char *out, size_t cap);

/* 1 if rel lies directly in the partition directory dir ("" is the top). */
int sf_filelist_in_dir(const char *rel, const char *dir, size_t dirlen);

/* How a merge treats the previous files. */
typedef enum {
    SF_MERGE_APPEND = 0,         /* keep them all */
    SF_MERGE_REPLACE_PARTITIONS  /* drop those in a directory that next has files in */
} sf_merge_kind;

/* Merges prev (may be NULL) and next into out (must be empty), sorted by
 * path. Returns 0, SF_E_EXISTS (append: a path in both; nothing is ever
 * replaced) or SF_E_NOMEM, with err set. kept/dropped count prev's entries
 * (may be NULL). */
int sf_filelist_merge(const sf_filelist *prev, const sf_filelist *next, sf_merge_kind kind,
                      sf_filelist *out, size_t *kept, size_t *dropped, sf_error *err);

/* What sf_manifest_merge() found, for the run's summary. */
typedef struct sf_merge_stats {
    size_t files_total;     /* files of the output after the merge */
    uint64_t rows_total;
    size_t files_kept;      /* previous files kept */
    size_t files_dropped;   /* previous files dropped (replaced partitions) */
    size_t runs;            /* runs owning files afterwards */
} sf_merge_stats;

/* Builds the manifest of a merged output: next (this run's manifest, a JSON
 * object) with its "files" replaced by the merge of prev's list (prev may
 * be NULL: no previous output) and next's, next's entries taking run_id
 * runid (and, for append, their unique names), plus "write_mode" and
 * "runs". The two manifests' "output" must agree on format, layout,
 * partition_by and columns (names, types and order), else SF_E_INVAL: an
 * output whose files disagree could not be read as one table. Returns 0
 * with *out (new, NUL-terminated, caller frees) and *out_len, or
 * SF_E_PARSE / SF_E_INVAL / SF_E_EXISTS / SF_E_NOMEM with err set. */
int sf_manifest_merge(const char *prev, size_t prev_len, const char *next, size_t next_len,
                      const char *runid, const char *mode_name, sf_merge_kind kind, char **out,
                      size_t *out_len, sf_merge_stats *stats, sf_error *err);

/* One run that built an output, as a manifest records it. */
typedef struct sf_manifest_run {
    char run_id[64];
    char write_mode[32]; /* "" when the manifest does not say */
    uint64_t files;
    uint64_t rows;
} sf_manifest_run;

/* The runs that built an output: the manifest's "runs" (append and
 * overwrite-partitions), else its files grouped by run_id in order of first
 * appearance, else its top-level run_id alone. *runs is new (caller frees),
 * *n may be 0. Returns 0, SF_E_PARSE or SF_E_NOMEM with err set. */
int sf_manifest_runs(const char *json, size_t len, sf_manifest_run **runs, size_t *n,
                     sf_error *err);

#endif
