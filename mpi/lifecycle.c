/* lifecycle.c - run id, inputs, staging, gathers, commit (see lifecycle.h). */
#include "mpi/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/fsutil.h"
#include "mpi/collective.h"

void sf_life_init(sf_lifecycle *L, MPI_Comm comm)
{
    memset(L, 0, sizeof *L);
    L->comm = comm;
    MPI_Comm_rank(comm, &L->rank);
    MPI_Comm_size(comm, &L->nranks);
    L->t_start = MPI_Wtime();
}

void sf_life_runid(sf_lifecycle *L)
{
    if (L->rank == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(L->runid, sizeof L->runid, "%04d%02d%02dT%02d%02d%02d-%ld", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid());
    }
    MPI_Bcast(L->runid, sizeof L->runid, MPI_CHAR, 0, L->comm);
}

int sf_life_expand(sf_lifecycle *L, const char *name, const char *path, sf_error *err)
{
    sf_input_files more;
    int rc = sf_inputs_expand(name, path, &more, err);
    if (rc)
        return rc;
    sf_input_files *in = &L->inputs;
    size_t n = in->n + more.n;
    char **paths = realloc(in->paths, (n ? n : 1) * sizeof *paths);
    if (paths)
        in->paths = paths;
    uint64_t *sizes = paths ? realloc(in->sizes, (n ? n : 1) * sizeof *sizes) : NULL;
    if (sizes)
        in->sizes = sizes;
    unsigned char *streamed = sizes ? realloc(in->streamed, n ? n : 1) : NULL;
    if (streamed)
        in->streamed = streamed;
    if (!paths || !sizes || !streamed) {
        sf_inputs_free(&more);
        return sf_error_set(err, SF_E_NOMEM, "input '%s': out of memory", name);
    }
    memcpy(in->paths + in->n, more.paths, more.n * sizeof *paths);
    memcpy(in->sizes + in->n, more.sizes, more.n * sizeof *sizes);
    memcpy(in->streamed + in->n, more.streamed, more.n);
    in->n = n;
    free(more.paths); /* the strings now belong to L->inputs */
    free(more.sizes);
    free(more.streamed);
    return 0;
}

int sf_life_stage(sf_lifecycle *L, const char *out, sf_commit_mode mode, double claim_timeout,
                  sf_error *err)
{
    /* One writer per output, from before staging to after commit or
     * rollback: the stale staging prepare removes could otherwise be a
     * live run's. */
    char note[1024];
    free(L->out);
    L->out = sf_output_target(out, err);
    if (!L->out)
        return err->code;
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        n--;
    if (strlen(L->out) != n || strncmp(L->out, out, n) != 0)
        fprintf(stderr, "shardflow: output '%s' is a symbolic link: writing into its target "
                "'%s'\n", out, L->out);
    int rc = sf_claim_take(&L->claim, L->out, L->runid, claim_timeout, note, sizeof note, err);
    if (note[0])
        fprintf(stderr, "shardflow: %s\n", note);
    if (!rc)
        rc = sf_output_prepare(&L->stage, L->out, mode, L->runid, err);
    L->staged = rc == 0;
    L->staging = rc == 0;
    L->replacing = L->stage.replacing;
    return rc;
}

int sf_life_share(sf_lifecycle *L, const char *out, sf_error *err)
{
    sf_input_files *in = &L->inputs;
    uint64_t hdr[2] = {in->n, (uint64_t)L->replacing};
    MPI_Bcast(hdr, 2, MPI_UINT64_T, 0, L->comm);
    size_t n = (size_t)hdr[0];
    L->replacing = (int)hdr[1];
    sf_buf names = SF_BUF_INIT;
    for (size_t i = 0; L->rank == 0 && i < n; i++) {
        if (sf_buf_append(&names, in->paths[i], strlen(in->paths[i]) + 1) != 0)
            MPI_Abort(L->comm, 1); /* the others wait in the broadcast */
    }
    /* sf_mpi_bcast_bytes terminates rank 0's buffer in place. */
    if (L->rank == 0 && sf_buf_reserve(&names, 1) != 0)
        MPI_Abort(L->comm, 1);
    int64_t len = (int64_t)names.n;
    char *text = sf_mpi_bcast_bytes(L->comm, (char *)names.p, &len);
    if (L->rank == 0)
        names.p = NULL; /* sf_mpi_bcast_bytes returned rank 0's own buffer */
    sf_buf_free(&names);
    int rc = text ? 0 : SF_E_NOMEM;
    if (L->rank != 0 && !rc) {
        in->n = n;
        in->paths = calloc(n ? n : 1, sizeof *in->paths);
        in->sizes = calloc(n ? n : 1, sizeof *in->sizes);
        in->streamed = calloc(n ? n : 1, 1);
        if (!in->paths || !in->sizes || !in->streamed)
            MPI_Abort(L->comm, 1); /* cannot take part in the next broadcast */
        const char *p = text;
        for (size_t i = 0; i < n; i++) {
            in->paths[i] = strdup(p);
            if (!in->paths[i])
                MPI_Abort(L->comm, 1);
            p += strlen(p) + 1;
        }
    }
    MPI_Bcast(in->sizes, (int)n, MPI_UINT64_T, 0, L->comm);
    MPI_Bcast(in->streamed, (int)n, MPI_UNSIGNED_CHAR, 0, L->comm);
    free(text);
    if (out) {
        /* Rank 0's resolved output path (sf_life_stage) for everyone. */
        int64_t olen = L->rank == 0 ? (int64_t)strlen(L->out) : 0; /* NUL kept in place */
        char *target = sf_mpi_bcast_bytes(L->comm, L->rank == 0 ? L->out : NULL, &olen);
        L->staging = 1;
        if (L->rank != 0) {
            free(L->out);
            L->out = target;
            if (!target || sf_output_paths(&L->stage, target, L->replacing, L->runid) != 0)
                rc = SF_E_NOMEM;
        }
    }
    if (rc)
        sf_error_set(err, SF_E_NOMEM, "out of memory");
    return rc;
}

int sf_life_add_file(sf_lifecycle *L, const char *rel, uint64_t rows, uint64_t bytes)
{
    return sf_out_files_add(&L->files, &L->nfiles, rel, rows, bytes);
}

int sf_life_sync_files(sf_lifecycle *L, size_t first, sf_error *err)
{
    size_t n = L->nfiles > first ? L->nfiles - first : 0;
    if (n == 0)
        return 0;
    char **paths = calloc(n, sizeof *paths);
    int rc = paths ? 0 : sf_error_set(err, SF_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = strlen(L->stage.tmpdir) + strlen(L->files[first + i].path) + 2;
        if ((paths[i] = malloc(len)))
            snprintf(paths[i], len, "%s/%s", L->stage.tmpdir, L->files[first + i].path);
        else
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
    }
    if (!rc)
        rc = sf_fsync_files((const char *const *)paths, n, err);
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
    return rc;
}

sf_out_file *sf_life_gather(sf_lifecycle *L, size_t *nfiles, uint64_t **rss)
{
    size_t nbytes = 0;
    sf_out_file *files = sf_mpi_gather_bytes(L->comm, L->files, L->nfiles * sizeof *L->files,
                                             &nbytes);
    *nfiles = nbytes / sizeof *files;
    if (files)
        sf_out_files_sort(files, *nfiles);
    uint64_t myrss = sf_peak_rss_bytes();
    *rss = L->rank == 0 ? calloc((size_t)L->nranks, sizeof **rss) : NULL;
    MPI_Gather(&myrss, 1, MPI_UINT64_T, *rss, 1, MPI_UINT64_T, 0, L->comm);
    return files;
}

int sf_life_commit(sf_lifecycle *L, const sf_buf *metrics, const sf_buf *manifest,
                   sf_error *err)
{
    int rc = 0;
    if (metrics) {
        size_t n = strlen(L->stage.tmpdir) + 16;
        char *path = malloc(n);
        if (!path)
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
        snprintf(path, n, "%s/_METRICS.json", L->stage.tmpdir);
        /* Durable in ROOT once the commit has moved it there and synced
         * ROOT (with the manifest): the staging directory is not synced. */
        rc = sf_write_file_staged(path, metrics->p, metrics->n, err);
        free(path);
    }
    L->stage.keep_replaced = 1; /* sf_life_drop_replaced or sf_life_end removes it */
    if (!rc)
        rc = sf_output_commit(&L->stage, (const char *)manifest->p, manifest->n, err);
    if (!rc)
        L->staged = 0;
    return rc;
}

void sf_life_say_merged(const sf_lifecycle *L)
{
    const sf_output_stage *st = &L->stage;
    int merged = st->mode == SF_COMMIT_APPEND || st->mode == SF_COMMIT_OVERWRITE_PARTITIONS;
    if (L->rank != 0 || !merged)
        return;
    fprintf(stderr, "  %s: the output now holds %zu files, %llu rows from %zu run%s (%zu "
            "earlier files kept, %zu replaced)\n", sf_commit_mode_name(st->mode),
            st->merged.files_total, (unsigned long long)st->merged.rows_total, st->merged.runs,
            st->merged.runs == 1 ? "" : "s", st->merged.files_kept, st->merged.files_dropped);
}

void sf_life_drop_replaced(sf_lifecycle *L)
{
    if (!L->replacing || !L->stage.root)
        return; /* the same on every rank (sf_life_share) */
    char **names = NULL;
    size_t n = 0;
    /* A list cut short by memory is only a smaller share: rank 0's
     * sf_output_drop_replaced removes whatever the shares left. */
    (void)sf_output_list_replaced(&L->stage, &names, &n);
    MPI_Barrier(L->comm); /* every list made before any removal */
    sf_output_drop_share(&L->stage, names, n, L->rank, L->nranks);
    MPI_Barrier(L->comm);
    if (L->rank == 0)
        sf_output_drop_replaced(&L->stage);
}

void sf_life_end(sf_lifecycle *L, int failed, const char *what)
{
    if (failed && L->rank == 0 && L->staged)
        fprintf(stderr, "shardflow: %s failed; nothing was committed%s\n", what,
                L->replacing ? " and the previous output is untouched" : "");
    if (L->rank == 0 && L->staged)
        sf_output_abort(&L->stage);
    if (L->rank == 0)
        sf_output_drop_replaced(&L->stage); /* committed, not dropped together */
    L->staged = 0;
    sf_error cerr;
    if (sf_claim_release(L->claim, &cerr) != 0) /* after commit, failure or SIGINT */
        fprintf(stderr, "shardflow: warning: %s\n", cerr.msg);
    L->claim = NULL;
    sf_output_stage_free(&L->stage);
    free(L->out);
    L->out = NULL;
    sf_inputs_free(&L->inputs);
    free(L->files);
    L->files = NULL;
    L->nfiles = 0;
}
