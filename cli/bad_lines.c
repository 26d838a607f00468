/* bad_lines.c - the verdicts on a scan's bad lines that run and flatten
 * share (see bad_lines.h). */
#include "cli/bad_lines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rejmsg.h"
#include "io/fsutil.h"
#include "mpi/collective.h"

int sf_bad_all_rejected(MPI_Comm comm, const sf_bad_counts *mine,
                        const sf_reject_sample *samples, size_t nsamples,
                        const char *const *paths, sf_error *err)
{
    uint64_t in[3 + SF_REJ_NREASONS] = {mine->rejected, mine->read, mine->blank};
    memcpy(in + 3, mine->by_reason, SF_REJ_NREASONS * sizeof *in);
    uint64_t all[3 + SF_REJ_NREASONS];
    MPI_Allreduce(in, all, 3 + SF_REJ_NREASONS, MPI_UINT64_T, MPI_SUM, comm);
    if (all[0] == 0 || all[0] + all[2] != all[1])
        return 0;
    size_t total = 0;
    sf_reject_sample *s = sf_mpi_gather_bytes(comm, samples, nsamples * sizeof *s, &total);
    sf_reject_sample first[SF_MAX_SAMPLES];
    size_t nfirst = 0;
    for (size_t i = 0; s && i < total / sizeof *s; i++)
        sf_samples_insert(first, &nfirst, &s[i]);
    free(s);
    int top = 0;
    for (int r = 1; r < SF_REJ_NREASONS; r++)
        if (all[3 + r] > all[3 + top])
            top = r;
    const char *path = nfirst ? paths[first[0].file] : NULL;
    char msg[sizeof err->msg];
    sf_rejmsg_all_rejected(msg, sizeof msg, all[1], all[0],
                           sf_reject_reason_name((sf_reject_reason)top), all[3 + top], path,
                           nfirst ? first[0].offset : 0, nfirst ? first[0].msg : NULL, NULL);
    sf_error_set(err, SF_E_PARSE, "%s; nothing was committed", msg);
    return 1;
}

int sf_bad_over_limit(MPI_Comm comm, const sf_run_opts *o, uint64_t rejected, uint64_t read,
                      sf_error *err)
{
    uint64_t mine[2] = {rejected, read}, all[2];
    MPI_Allreduce(mine, all, 2, MPI_UINT64_T, MPI_SUM, comm);
    double pct = all[1] ? 100.0 * (double)all[0] / (double)all[1] : 0;
    if (!o->max_bad_set || (o->max_bad_pct >= 0 ? pct <= o->max_bad_pct : all[0] <= o->max_bad))
        return 0;
    char limit[64];
    if (o->max_bad_pct >= 0)
        snprintf(limit, sizeof limit, "%g%%", o->max_bad_pct);
    else
        snprintf(limit, sizeof limit, "%llu", (unsigned long long)o->max_bad);
    sf_error_set(err, SF_E_LIMIT, "%llu bad lines (%.3g%% of %llu read) exceed --max-bad %s; "
                 "nothing was committed", (unsigned long long)all[0], pct,
                 (unsigned long long)all[1], limit);
    return 1;
}

int sf_bad_spill(sf_badrec_spill **spill, const char *tmpdir, int rank, uint64_t chunk,
                 uint64_t line, int file, uint64_t offset, const char *why, const char *msg,
                 const char *text, size_t len, sf_error *err)
{
    if (!*spill) {
        size_t n = strlen(tmpdir) + 64;
        char *dir = malloc(n), *path = malloc(n);
        int rc = dir && path ? 0 : sf_error_set(err, SF_E_NOMEM, "out of memory");
        if (!rc) {
            snprintf(dir, n, "%s/_bad_records", tmpdir);
            snprintf(path, n, "%s/.spill-%05d", dir, rank);
            rc = sf_mkdirs(dir, err);
        }
        if (!rc)
            rc = sf_badrec_open(spill, path, err);
        free(dir);
        free(path);
        if (rc)
            return rc;
    }
    if (sf_badrec_add(*spill, chunk, line, file, offset, why, msg, text, len))
        return sf_error_set(err, SF_E_IO, "cannot spill bad records under %s: %s", tmpdir,
                            strerror(errno));
    return 0;
}

/* Turns per-chunk amounts v into where each chunk starts within its file:
 * first plus the amounts of the file's earlier chunks (chunks are in file
 * order, then offset order). */
static void file_starts(uint64_t *v, const sf_chunk *chunks, size_t nchunks, uint64_t first)
{
    uint64_t at = first;
    for (size_t c = 0; c < nchunks; c++) {
        if (c == 0 || chunks[c].file != chunks[c - 1].file)
            at = first;
        uint64_t n = v[c];
        v[c] = at;
        at += n;
    }
}

uint64_t *sf_bad_offset_bases(MPI_Comm comm, const sf_chunk *chunks, size_t nchunks,
                              const uint64_t *chunk_ubytes)
{
    int compressed = 0;
    for (size_t c = 0; chunk_ubytes && c < nchunks; c++)
        compressed |= sf_bad_chunk_relative(&chunks[c]);
    if (!compressed)
        return NULL;
    uint64_t *base = calloc(nchunks, sizeof *base);
    if (!base)
        MPI_Abort(comm, 1); /* cannot take part in the reduction */
    MPI_Allreduce(chunk_ubytes, base, (int)nchunks, MPI_UINT64_T, MPI_SUM, comm);
    file_starts(base, chunks, nchunks, 0);
    return base;
}

int sf_bad_write_records(MPI_Comm comm, int rank, sf_badrec_spill **spill, const sf_chunk *chunks,
                         size_t nchunks, const uint64_t *chunk_lines,
                         const uint64_t *chunk_ubytes, const char *const *paths,
                         const char *tmpdir, uint64_t *count, sf_error *err)
{
    int any = *spill != NULL;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, comm);
    *count = 0;
    if (!any)
        return 0;
    uint64_t *lines = calloc(nchunks ? nchunks : 1, sizeof *lines);
    if (!lines)
        MPI_Abort(comm, 1); /* cannot take part in the reduction */
    MPI_Allreduce(chunk_lines, lines, (int)nchunks, MPI_UINT64_T, MPI_SUM, comm);
    /* First line number of each chunk in its file. */
    file_starts(lines, chunks, nchunks, 1);
    /* Compressed chunks give offsets from their first line: add the
     * decoded bytes of the file's earlier chunks. */
    uint64_t *base = sf_bad_offset_bases(comm, chunks, nchunks, chunk_ubytes);
    int rc = 0;
    if (*spill) {
        size_t n = strlen(tmpdir) + 64;
        char *path = malloc(n);
        if (!path)
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
        else {
            snprintf(path, n, "%s/_bad_records/part-%05d.jsonl", tmpdir, rank);
            rc = sf_badrec_finish(*spill, path, paths, lines,
                                  base, count, err);
        }
        *spill = NULL;
        free(path);
    }
    free(lines);
    free(base);
    return rc;
}
