/* manifest.h - pieces of _MANIFEST.json that every command writes: the
 * output files and the rejected-line samples. */
#ifndef SF_MANIFEST_H
#define SF_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/pipeline.h"

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

#endif
