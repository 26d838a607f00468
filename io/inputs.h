/* inputs.h - expands an input path into the files it names.
 *
 * An input path is a file, a glob (`data/events-*.jsonl`, any of * ? [),
 * or a directory (every regular file in it whose name does not start with
 * '.' or '_', so a shardflow output's markers are skipped). The files come
 * sorted by name, so every rank numbers them alike, and each one is checked
 * before any work: it must exist, be a regular file and open for reading.
 */
#ifndef SF_INPUTS_H
#define SF_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sf_input_files {
    char **paths;    /* n new strings */
    uint64_t *sizes; /* bytes, as planned */
    size_t n;
} sf_input_files;

/* Expands path (named name in messages). Returns 0 with at least one file,
 * or SF_E_NOTFOUND (nothing matches, missing file), SF_E_INVAL (not a
 * regular file), SF_E_IO (cannot open or list) or SF_E_NOMEM, err naming
 * the input and the path. */
int sf_inputs_expand(const char *name, const char *path, sf_input_files *out, sf_error *err);

/* Frees the lists; the struct is empty again. */
void sf_inputs_free(sf_input_files *f);

#endif
