/* inputs.h - expands an input path into the files it names.
 *
 * An input path is a file, a glob (`data/events-*.jsonl`, any of * ? [),
 * or a directory (every regular file in it whose name does not start with
 * '.' or '_', so a shardflow output's markers are skipped). The files come
 * sorted by name, so every rank numbers them alike, and each one is checked
 * before any work: it must exist, be a regular file and open for reading.
 *
 * A stream is an input that can be read only once, in order: `-` (standard
 * input), or a path named as it is (not through a glob or a directory) that
 * is a FIFO, a character device or a socket (`/dev/stdin`, `<(zcat ...)`).
 * It is listed with size 0 and streamed set; only rank 0 reads it
 * (mpi/scan.h, feeds).
 */
#ifndef SF_INPUTS_H
#define SF_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sf_input_files {
    char **paths;    /* n new strings */
    uint64_t *sizes; /* bytes, as planned (0 for a stream until it is read) */
    unsigned char *streamed; /* 1: a stream (see above), else 0 */
    size_t n;
} sf_input_files;

/* 1 when path names a stream: "-", or an existing FIFO, character device
 * or socket. Cannot fail (a path that cannot be examined is not one). */
int sf_inputs_is_stream(const char *path);

/* Expands path (named name in messages). Returns 0 with at least one file,
 * or SF_E_NOTFOUND (nothing matches, missing file), SF_E_INVAL (not a
 * regular file), SF_E_IO (cannot open or list) or SF_E_NOMEM, err naming
 * the input and the path. */
int sf_inputs_expand(const char *name, const char *path, sf_input_files *out, sf_error *err);

/* Frees the lists; the struct is empty again. */
void sf_inputs_free(sf_input_files *f);

#endif
