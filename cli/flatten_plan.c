/* flatten_plan.c - `shardflow flatten` and `schema`: the inputs. Rank 0
 * expands them and stages the output; compressed inputs and streams (stdin,
 * FIFOs) become feeds that rank 0 deals out in blocks in the schema pass,
 * spooled (decoded) under the staging directory for the write pass, which
 * reads every input as a plain file; and one scan of every chunk. */
#include "cli/flatten_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/decompress.h"
#include "mpi/h5api.h"

static int agree(fl *F, int rc, int same_everywhere) { return sf_fl_agree(F, rc, same_everywhere); }

static int nomem(fl *F) { return sf_fl_nomem(F); }

/* The feeds: streams (stdin, FIFOs) and compressed files (rank 0 tells
 * them by their magic bytes) are read by rank 0 in the schema pass and
 * dealt out in blocks; their chunks are dropped. flatten (not schema)
 * spools each one's decoded bytes to STAGING/_spool-NNNNN, which the write
 * pass reads as a plain file. Collective. Returns 0 or SF_E_* (rank 0's
 * error, on every rank). */
static int plan_feeds(fl *F)
{
    int rc = 0;
    F->codec = calloc(F->nfiles ? F->nfiles : 1, sizeof *F->codec);
    F->feeds = calloc(F->nfiles ? F->nfiles : 1, sizeof *F->feeds);
    F->read_paths = calloc(F->nfiles ? F->nfiles : 1, sizeof *F->read_paths);
    if (!F->codec || !F->feeds || !F->read_paths)
        MPI_Abort(F->comm, 1); /* the others wait in the broadcast */
    for (size_t f = 0; F->rank == 0 && !rc && f < F->nfiles; f++) {
        sf_codec c = SF_CODEC_NONE;
        if (!F->life.inputs.streamed[f] && F->sizes[f] > 0)
            rc = sf_codec_of_file(F->paths[f], &c, &F->err);
        if (!rc && !sf_codec_supported(c))
            rc = sf_error_set(&F->err, SF_E_INVAL, "%s is %s-compressed; shardflow reads gzip "
                              "and zstd inputs (decompress it first)", F->paths[f],
                              sf_codec_name(c));
        F->codec[f] = (int32_t)c;
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, F->comm);
    if (rc)
        return rc;
    MPI_Bcast(F->codec, (int)F->nfiles, MPI_INT32_T, 0, F->comm);
    uint64_t block = (uint64_t)4 << 20;
    if (F->o->run.chunk_size && F->o->run.chunk_size < block)
        block = F->o->run.chunk_size;
    size_t keep = 0;
    for (size_t i = 0; i < F->nchunks; i++) {
        int f = F->chunks[i].file;
        if (!F->codec[f] && !F->life.inputs.streamed[f])
            F->chunks[keep++] = F->chunks[i];
    }
    F->nchunks = keep;
    for (size_t f = 0; f < F->nfiles; f++) {
        F->read_paths[f] = F->paths[f];
        if (!F->codec[f] && !F->life.inputs.streamed[f])
            continue;
        sf_scan_feed *fd = &F->feeds[F->nfeeds++];
        fd->file = (int32_t)f;
        fd->fd = strcmp(F->paths[f], "-") == 0 ? STDIN_FILENO : -1;
        fd->size = F->sizes[f];
        fd->block = block;
        fd->spool_fd = -1;
        if (F->schema_only)
            continue;
        size_t n = strlen(F->life.stage.tmpdir) + 32;
        char *spool = malloc(n);
        if (!spool)
            return nomem(F);
        snprintf(spool, n, "%s/_spool-%05zu", F->life.stage.tmpdir, f);
        F->read_paths[f] = spool;
        if (F->rank == 0 && !rc) {
            fd->spool_fd = open(spool, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd->spool_fd < 0)
                rc = sf_error_set(&F->err, SF_E_IO, "cannot create the spool '%s': %s", spool,
                                  strerror(errno));
        }
    }
    return rc;
}

/* The write pass reads each fed input's spool: the chunks are cut again
 * over the decoded sizes (as for the plain file, so the parts are the
 * same). Every rank. Returns 0 or SF_E_NOMEM. */
int sf_fl_plan_write(fl *F)
{
    F->total = 0;
    for (size_t i = 0; i < F->nfeeds; i++) {
        sf_scan_feed *fd = &F->feeds[i];
        if (fd->spool_fd >= 0 && close(fd->spool_fd) != 0)
            return sf_error_set(&F->err, SF_E_IO, "cannot write the spool '%s': %s",
                                F->read_paths[fd->file], strerror(errno));
        fd->spool_fd = -1;
        F->sizes[fd->file] = fd->ubytes;
    }
    for (size_t f = 0; f < F->nfiles; f++)
        F->total += F->sizes[f];
    F->chunk_size = sf_run_chunk_size(F->o->run.chunk_size, F->total, F->nranks);
    free(F->chunks);
    F->chunks = sf_scan_make_chunks(F->sizes, F->nfiles, F->chunk_size, &F->nchunks);
    if (!F->chunks)
        return nomem(F);
    F->digits = 5;
    for (size_t c = F->nchunks; c >= 100000; c /= 10)
        F->digits++;
    return 0;
}

/* Rank 0 expands the inputs and stages the output; every rank learns the
 * files, their sizes and the staging paths (mpi/lifecycle), then cuts the
 * chunks. Collective: 0 or -1 (agreed). */
int sf_fl_plan(fl *F)
{
    sf_lifecycle *L = &F->life;
    int rc = 0;
    sf_life_runid(L);
    for (int i = 0; F->rank == 0 && i < F->o->ninputs && !rc; i++)
        rc = sf_life_expand(L, "input", F->o->inputs[i], &F->err);
    if (F->rank == 0 && !rc && !F->schema_only)
        rc = sf_life_stage(L, F->o->output, F->o->run.commit_mode, F->o->run.claim_timeout,
                           &F->err);
    if (agree(F, rc, 1))
        return -1;
    rc = sf_life_share(L, F->schema_only ? NULL : F->o->output, &F->err);
    F->paths = L->inputs.paths;
    F->sizes = L->inputs.sizes;
    F->nfiles = L->inputs.n;
    F->base = calloc(F->nfiles ? F->nfiles : 1, sizeof *F->base);
    if (!rc && !F->base)
        rc = nomem(F);
    if (agree(F, rc, 0))
        return -1;

    /* A record's place in the input, for the first-appearance order of
     * columns: its file, then its decoded offset (a stream's size is not
     * known before it is read). */
    for (size_t i = 0; i < F->nfiles; i++) {
        F->base[i] = (uint64_t)i << 44;
        F->total += F->sizes[i];
    }
    F->chunk_size = sf_run_chunk_size(F->o->run.chunk_size, F->total, F->nranks);
    F->chunks = sf_scan_make_chunks(F->sizes, F->nfiles, F->chunk_size, &F->nchunks);
    rc = F->chunks ? 0 : nomem(F);
    if (!rc)
        rc = plan_feeds(F);
    F->digits = 5;
    for (size_t c = F->nchunks; c >= 100000; c /= 10)
        F->digits++;
    if (!rc && F->h5) {
        sf_h5_options_init(&F->h5opt);
        F->h5opt.job = "flatten";
        /* HDF5 is a plugin (mpi/h5api.h): loaded here, before any data is read. */
        rc = sf_h5_load(&F->err);
        if (!rc)
            rc = sf_h5_parse_compression(F->o->compression, &F->h5opt, &F->err);
    }
    if (!rc && F->fmt == SF_TABLE_CSV)
        rc = sf_csv_parse_compression(F->o->compression, &F->csvopt, &F->err);
    sf_parquet_options_init(&F->pqopt);
    if (!rc && F->fmt == SF_TABLE_PARQUET) {
        /* Many partition files can be open at once (one per partition value
         * in a chunk): row groups of 16 MiB bound the memory of each unless
         * --row-group-size says otherwise. */
        F->pqopt.row_group_bytes = (uint64_t)16 << 20;
        const char *keys[3] = {"shardflow.job", "shardflow.version", "shardflow.run_id"};
        const char *vals[3] = {"flatten", SF_VERSION, L->runid};
        memcpy(F->pq_kv_keys, keys, sizeof keys);
        memcpy(F->pq_kv_values, vals, sizeof vals);
        F->pqopt.kv_keys = F->pq_kv_keys;
        F->pqopt.kv_values = F->pq_kv_values;
        F->pqopt.nkv = 3;
        rc = sf_parquet_parse_codec(F->o->compression, &F->pqopt, &F->err);
        if (!rc && F->o->run.row_group_size)
            rc = sf_parquet_parse_row_group_size(F->o->run.row_group_size, &F->pqopt, &F->err);
    }
    return agree(F, rc, 1) ? -1 : 0;
}

/* Makes chunk_lines hold n entries (new ones 0): a feed's blocks are
 * numbered after the planned chunks. */
int sf_fl_grow_chunk_lines(fl *F, size_t n)
{
    if (n <= F->chunk_cap)
        return 0;
    size_t cap = F->chunk_cap * 2 > n ? F->chunk_cap * 2 : n;
    uint64_t *l = realloc(F->chunk_lines, cap * sizeof *l);
    if (!l)
        return nomem(F);
    memset(l + F->chunk_cap, 0, (cap - F->chunk_cap) * sizeof *l);
    F->chunk_lines = l;
    F->chunk_cap = cap;
    return 0;
}

int sf_fl_scan(fl *F, sf_scan_sink *sink)
{
    /* Both passes read every byte, so each is named on the progress line. */
    const char *label = F->schema_only ? "schema: scan"
                        : F->pass == 1 ? "flatten: pass 1/2 schema"
                                       : "flatten: pass 2/2 write";
    sf_progress prog;
    sf_progress_init(&prog, sf_progress_pick(F->o->run.progress, F->rank), label);
    sf_progress *progress = &prog;
    sf_scan_stats st = {0, 0};
    if (F->pass == 2)
        return sf_scan_run(F->comm, (const char *const *)F->read_paths, F->chunks, F->nchunks,
                           &F->o->run.scan, progress, sink, NULL, &st, &F->err);
    sf_chunk *all = NULL;
    size_t nall = 0;
    int rc = sf_scan_run_feeds(F->comm, (const char *const *)F->paths, F->chunks, F->nchunks,
                               F->feeds, F->nfeeds, &F->o->run.scan, progress, sink, NULL, &st,
                               &all, &nall, &F->err);
    if (rc)
        return rc;
    /* The chunks are now the planned ones and the feeds' blocks. */
    free(F->chunks);
    F->chunks = all;
    F->nchunks = nall;
    rc = sf_fl_grow_chunk_lines(F, nall ? nall : 1);
    for (size_t i = 0; i < F->nfeeds && F->rank == 0; i++)
        F->c.bytes_scanned += F->feeds[i].ubytes;
    return rc;
}

void sf_fl_remove_spools(fl *F)
{
    for (size_t i = 0; F->rank == 0 && i < F->nfeeds; i++) {
        const char *spool = F->read_paths[F->feeds[i].file];
        if (spool != F->paths[F->feeds[i].file] && unlink(spool) != 0)
            fprintf(stderr, "shardflow: warning: cannot remove '%s': %s\n", spool,
                    strerror(errno));
    }
}

void sf_fl_plan_free(fl *F)
{
    for (size_t i = 0; i < F->nfeeds; i++) {
        int f = F->feeds[i].file;
        if (F->feeds[i].spool_fd >= 0)
            close(F->feeds[i].spool_fd);
        if (F->read_paths && F->read_paths[f] != F->paths[f])
            free(F->read_paths[f]);
    }
    free(F->feeds);
    free(F->codec);
    free(F->read_paths);
}
