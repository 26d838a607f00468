/* manifest.c - output files and samples in manifests. */
#include "mpi/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int sf_out_files_add(sf_out_file **files, size_t *n, const char *rel, uint64_t rows,
                     uint64_t bytes)
{
    sf_out_file *f = realloc(*files, (*n + 1) * sizeof *f);
    if (!f)
        return SF_E_NOMEM;
    *files = f;
    snprintf(f[*n].path, sizeof f->path, "%s", rel);
    f[*n].rows = rows;
    f[*n].bytes = bytes;
    (*n)++;
    return 0;
}

static int cmp_files(const void *a, const void *b)
{
    return strcmp(((const sf_out_file *)a)->path, ((const sf_out_file *)b)->path);
}

void sf_out_files_sort(sf_out_file *files, size_t n)
{
    if (n > 1)
        qsort(files, n, sizeof *files, cmp_files);
}

int sf_manifest_samples(sf_buf *m, const sf_reject_sample *s, size_t n,
                        const char *const *paths)
{
    int rc = sf_buf_printf(m, "[");
    for (size_t i = 0; i < n; i++) {
        const char *path = paths[s[i].file];
        rc |= sf_buf_printf(m, "%s\n    {\"file\": ", i ? "," : "");
        rc |= sf_buf_json_string(m, path, strlen(path));
        rc |= sf_buf_printf(m, ", \"offset\": %llu, \"reason\": \"%s\", \"message\": ",
                            (unsigned long long)s[i].offset,
                            sf_reject_reason_name((sf_reject_reason)s[i].reason));
        rc |= sf_buf_json_string(m, s[i].msg, strlen(s[i].msg));
        rc |= sf_buf_printf(m, "}");
    }
    rc |= sf_buf_printf(m, "%s]", n ? "\n  " : "");
    return rc ? SF_E_NOMEM : 0;
}

int sf_manifest_files(sf_buf *m, const sf_out_file *files, size_t n, const char *run_id)
{
    int rc = sf_buf_printf(m, "[");
    for (size_t i = 0; i < n; i++) {
        rc |= sf_buf_printf(m, "%s\n    {\"path\": ", i ? "," : "");
        rc |= sf_buf_json_string(m, files[i].path, strlen(files[i].path));
        rc |= sf_buf_printf(m, ", \"rows\": %llu, \"bytes\": %llu, \"run_id\": ",
                            (unsigned long long)files[i].rows,
                            (unsigned long long)files[i].bytes);
        rc |= sf_buf_json_string(m, run_id, strlen(run_id));
        rc |= sf_buf_printf(m, "}");
    }
    rc |= sf_buf_printf(m, "%s]", n ? "\n  " : "");
    return rc ? SF_E_NOMEM : 0;
}
