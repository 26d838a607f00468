/* flatten_write.c - `shardflow flatten`, the write pass: the same chunks
 * again through an engine seeded with the merged dictionary; chunk k's
 * rows go to part-k (input order within and across parts), to DIR/part-k
 * per partition value (--partition-by, Hive paths by io/hive), or
 * (--single-file) to a headerless piece copied into place at its offset by
 * the rank that wrote it. Files are written through io/table_writer, as
 * their column's inferred type in CSV and HDF5 alike. */
#include "cli/flatten_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fmt.h"
#include "io/fsutil.h"
#include "io/hive.h"
#include "io/parquet_read.h"

static int resolve_column(void *ctx, const char *name, size_t len, int *slot, sf_type *type)
{
    fl *F = ctx;
    int64_t id = sf_flatten_column_find(F->eng, name, len);
    if (id < 0)
        return -1;
    *slot = (int)id;
    *type = F->types[id];
    return 0;
}

static void mark_ref(void *ctx, int slot)
{
    fl *F = ctx;
    for (size_t i = 0; i < F->nprefs; i++) {
        if (F->prefs[i] == slot)
            return;
    }
    F->prefs[F->nprefs++] = slot;
}

static int setup_write(fl *F)
{
    F->prefs = calloc(F->ncols + MAX_PARTITION + 1, sizeof *F->prefs);
    F->fcols = calloc(F->ncols + 1, sizeof *F->fcols);
    F->fnames = calloc(F->ncols + 1, sizeof *F->fnames);
    F->ftypes = calloc(F->ncols + 1, sizeof *F->ftypes);
    F->dense = calloc(F->ncols + 1, sizeof *F->dense);
    F->typedrow = calloc(F->ncols + 1, sizeof *F->typedrow);
    F->piece = calloc(F->nchunks + 1, sizeof *F->piece);
    if (!F->prefs || !F->fcols || !F->fnames || !F->ftypes || !F->dense || !F->typedrow ||
        !F->piece)
        return sf_fl_nomem(F);
    sf_arena_init(&F->scratch, 16 * 1024);
    for (int k = 0; k < F->o->npartition; k++) {
        pspec *p = &F->ps[F->nps++];
        const char *arg = F->o->partition[k], *eq = strchr(arg, '=');
        p->col = -1;
        p->name = eq ? strndup(arg, (size_t)(eq - arg)) : strdup(arg);
        if (!p->name)
            return sf_fl_nomem(F);
        p->text = eq ? eq + 1 : arg;
        if (!eq) {
            int64_t id = sf_flatten_column_find(F->eng, arg, strlen(arg));
            if (id < 0)
                return sf_error_set(&F->err, SF_E_SPEC, "--partition-by %s: no such column "
                                    "(give NAME=EXPR for a derived key)", arg);
            p->col = (int)id;
            mark_ref(F, p->col);
            continue;
        }
        if (sf_flatten_column_find(F->eng, p->name, strlen(p->name)) >= 0)
            return sf_error_set(&F->err, SF_E_SPEC, "--partition-by %s: '%s' is already a "
                                "column; name the key differently", arg, p->name);
        sf_expr_columns cols = {resolve_column, F, NULL};
        sf_error e;
        sf_error_clear(&e);
        p->expr = sf_expr_parse(p->text, &cols, 0, &e);
        if (!p->expr)
            return sf_error_set(&F->err, e.code == SF_E_NOMEM ? SF_E_NOMEM : SF_E_SPEC,
                                "--partition-by %s: %s", arg, e.msg);
        sf_expr_visit_columns(p->expr, mark_ref, F);
    }
    for (size_t i = 0; i < F->ncols; i++) {
        int skip = 0;
        for (size_t k = 0; k < F->nps; k++)
            skip |= F->ps[k].col == (int)i;
        if (skip)
            continue;
        F->fcols[F->nfcols] = (int)i;
        F->fnames[F->nfcols] = F->names[i];
        F->ftypes[F->nfcols] = F->types[i];
        F->nfcols++;
    }
    if (F->h5 && F->nfcols && sf_h5_check_columns(F->nfcols, F->fnames, &F->err) != 0)
        return SF_E_SPEC;
    return 0;
}

/* v as a value of column type t: int64 widens to double, anything else in
 * a string column becomes its CSV text (in the scratch arena). */
static sf_value typed(fl *F, const sf_value *v, sf_type t)
{
    if (v->type == SF_NULL || v->type == t)
        return *v;
    if (t == SF_DOUBLE && v->type == SF_INT)
        return sf_double((double)v->u.i);
    char b[SF_FMT_BUF];
    const char *p = b;
    size_t n;
    switch (v->type) {
    case SF_BOOL: p = v->u.b ? "true" : "false"; n = strlen(p); break;
    case SF_INT: n = (size_t)sf_fmt_int(v->u.i, b); break;
    case SF_DOUBLE: n = (size_t)sf_fmt_double(v->u.d, b); break;
    default: return *v;
    }
    char *s = sf_arena_memdup(&F->scratch, p, n);
    return s ? sf_string(s, n) : sf_null();
}

int sf_fl_open_part(fl *F, part **out)
{
    const char *dir = F->dir.n ? (const char *)F->dir.p : "";
    uint64_t h = sf_hash_bytes(dir, F->dir.n, 0);
    uint32_t *idx = F->partmap ? sf_hmap_find(F->partmap, dir, F->dir.n, h) : NULL;
    if (idx) {
        *out = &F->parts[*idx];
        return 0;
    }
    if (!F->partmap && !(F->partmap = sf_hmap_new(sizeof(uint32_t), 16)))
        return sf_fl_nomem(F);
    if (F->nparts == F->partcap) {
        size_t cap = F->partcap ? F->partcap * 2 : 8;
        part *p = realloc(F->parts, cap * sizeof *p);
        if (!p)
            return sf_fl_nomem(F);
        F->parts = p;
        F->partcap = cap;
    }
    part *p = &F->parts[F->nparts];
    memset(p, 0, sizeof *p);
    sf_buf rel = SF_BUF_INIT;
    int rc;
    if (F->o->single_file)
        rc = sf_buf_printf(&rel, "_pieces/piece-%0*zu.%s", F->digits, F->chunk,
                           sf_table_file_ext(F->fmt, &F->csvopt));
    else
        rc = sf_buf_printf(&rel, "%.*s%spart-%0*zu.%s", (int)F->dir.n, dir, F->dir.n ? "/" : "",
                           F->digits, F->chunk, sf_table_file_ext(F->fmt, &F->csvopt));
    char *path = NULL;
    if (!rc) {
        size_t n = strlen(F->life.stage.tmpdir) + rel.n + 2;
        path = malloc(n);
        if (path)
            snprintf(path, n, "%s/%s", F->life.stage.tmpdir, (const char *)rel.p);
    }
    if (rc || !path) {
        sf_buf_free(&rel);
        free(path);
        return sf_fl_nomem(F);
    }
    *strrchr(path, '/') = '\0';
    rc = sf_mkdirs(path, &F->err);
    path[strlen(path)] = '/';
    /* CSV pieces of --single-file are headless: the header is written once
     * (Parquet pieces are whole files whose row groups are copied). */
    sf_table_schema schema = {F->nfcols, F->fnames, F->ftypes, &F->h5opt, !F->o->single_file,
                              &F->pqopt, &F->csvopt};
    if (!rc)
        rc = sf_table_writer_open(&p->w, F->fmt, path, &schema, &F->err);
    free(path);
    if (rc) {
        sf_buf_free(&rel);
        return rc;
    }
    p->rel = (char *)rel.p;
    int inserted;
    uint32_t *slot = sf_hmap_upsert(F->partmap, dir, F->dir.n, h, &inserted);
    if (!slot)
        return sf_fl_nomem(F);
    *slot = (uint32_t)F->nparts++;
    *out = p;
    return 0;
}

int sf_fl_write_row(fl *F, const sf_flatten_cell *cells, size_t nc)
{
    /* Only the row's cells are typed (into dense, every other column NULL);
     * the files take dense through fcols. */
    for (size_t i = 0; i < nc; i++) {
        uint32_t col = cells[i].col;
        if (col >= F->ncols)
            return sf_error_set(&F->err, SF_E_INTERNAL, "the write pass found a column the "
                                "schema pass did not see: did the input change?");
        const sf_value *v = &cells[i].v;
        F->dense[col] = v->type == SF_NULL || v->type == F->types[col] ? *v
                                                                       : typed(F, v, F->types[col]);
    }
    F->dir.n = 0;
    if (F->nps) {
        for (size_t i = 0; i < F->nprefs; i++)
            F->typedrow[F->prefs[i]] = F->dense[F->prefs[i]];
        const char *names[MAX_PARTITION];
        for (size_t k = 0; k < F->nps; k++) {
            const pspec *p = &F->ps[k];
            names[k] = p->name;
            F->pvals[k] = p->expr ? sf_expr_eval(p->expr, F->typedrow, &F->scratch)
                                  : F->typedrow[p->col];
        }
        if (sf_hive_dirname(names, F->pvals, F->nps, &F->dir) != 0)
            return sf_fl_nomem(F);
    }
    part *p = F->parts;
    int rc = 0;
    /* Unpartitioned, a chunk has one file: no lookup once it is open. */
    if (F->nps || F->nparts == 0)
        rc = sf_fl_open_part(F, &p);
    if (rc)
        return rc;
    rc = sf_table_writer_append(p->w, F->dense, F->fcols);
    if (rc) {
        sf_table_writer_discard(p->w, &F->err);
        p->w = NULL;
        if (!F->err.msg[0])
            sf_error_set(&F->err, rc, "%s: cannot buffer a row", p->rel);
        return rc;
    }
    p->rows++;
    for (size_t i = 0; i < nc; i++)
        F->dense[cells[i].col] = sf_null();
    return 0;
}

int sf_fl_write_rows(fl *F)
{
    sf_arena_reset(&F->scratch);
    for (size_t r = 0; r < sf_flatten_nrows(F->eng); r++) {
        size_t nc;
        const sf_flatten_cell *cells = sf_flatten_row(F->eng, r, &nc);
        int rc = sf_fl_write_row(F, cells, nc);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_file(fl *F, const char *rel, uint64_t rows, uint64_t bytes)
{
    return sf_life_add_file(&F->life, rel, rows, bytes) ? sf_fl_nomem(F) : 0;
}

/* The bytes of a Parquet piece's row groups (what --single-file copies). */
static int piece_range(fl *F, const char *rel, uint64_t *len)
{
    size_t n = strlen(F->life.stage.tmpdir) + strlen(rel) + 2;
    char *path = malloc(n);
    if (!path)
        return sf_fl_nomem(F);
    snprintf(path, n, "%s/%s", F->life.stage.tmpdir, rel);
    uint64_t off = 0;
    int rc = sf_parquet_piece_range(path, &off, len, &F->err);
    free(path);
    return rc;
}

int sf_fl_close_parts(fl *F, int rc)
{
    for (size_t i = 0; i < F->nparts; i++) {
        part *p = &F->parts[i];
        uint64_t bytes = 0, rows = 0;
        sf_error e;
        int crc = sf_table_writer_close(p->w, &rows, &bytes, &e);
        if (crc && !rc) {
            F->err = e;
            rc = crc;
        }
        if (!rc && F->o->single_file && F->fmt == SF_TABLE_PARQUET)
            rc = piece_range(F, p->rel, &F->piece[F->chunk]);
        else if (!rc && F->o->single_file)
            F->piece[F->chunk] = bytes;
        else if (!rc)
            rc = add_file(F, p->rel, p->rows, bytes);
        free(p->rel);
    }
    F->nparts = 0;
    sf_hmap_free(F->partmap);
    F->partmap = NULL;
    return rc;
}

static int on_chunk_begin(void *ctx, size_t chunk, const sf_chunk *c)
{
    fl *F = ctx;
    (void)c;
    F->chunk = chunk;
    return 0;
}

static int on_chunk_end_write(void *ctx, size_t chunk, const sf_chunk *c, uint64_t bytes)
{
    fl *F = ctx;
    (void)chunk;
    (void)c;
    F->c.bytes_scanned += bytes;
    return sf_fl_close_parts(F, 0);
}

/* Rank 0, Parquet --single-file: the footer of OUT/part-00000.parquet over
 * the pieces copied at their offsets, written at off (then the file's end).
 * *rows gets the rows. */
static int parquet_footer(fl *F, const char *path, const uint64_t *sizes, uint64_t *off,
                          uint64_t *rows)
{
    size_t n = strlen(F->life.stage.tmpdir) + 64, np = 0;
    char **pieces = calloc(F->nchunks + 1, sizeof *pieces);
    uint64_t *at = calloc(F->nchunks + 1, sizeof *at);
    int rc = pieces && at ? 0 : sf_fl_nomem(F);
    uint64_t pos = 4;
    for (size_t k = 0; k < F->nchunks && !rc; k++) {
        if (!sizes[k])
            continue;
        if (!(pieces[np] = malloc(n))) {
            rc = sf_fl_nomem(F);
            break;
        }
        snprintf(pieces[np], n, "%s/_pieces/piece-%0*zu.parquet", F->life.stage.tmpdir,
                 F->digits, k);
        at[np++] = pos;
        pos += sizes[k];
    }
    sf_buf footer = SF_BUF_INIT;
    if (!rc)
        rc = sf_parquet_concat_footer(F->nfcols, F->fnames, F->ftypes,
                                      (const char *const *)pieces, np, at, &F->pqopt, &footer,
                                      rows, &F->err);
    int fd = rc ? -1 : open(path, O_WRONLY);
    if (!rc && fd < 0)
        rc = sf_error_set(&F->err, SF_E_IO, "cannot open '%s': %s", path, strerror(errno));
    for (size_t done = 0; !rc && done < footer.n;) {
        ssize_t w = pwrite(fd, (const char *)footer.p + done, footer.n - done,
                           (off_t)(*off + done));
        if (w < 0 && errno != EINTR)
            rc = sf_error_set(&F->err, SF_E_IO, "cannot write '%s': %s", path, strerror(errno));
        else if (w > 0)
            done += (size_t)w;
    }
    if (fd >= 0 && fsync(fd) != 0 && !rc)
        rc = sf_error_set(&F->err, SF_E_IO, "cannot sync '%s': %s", path, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = sf_error_set(&F->err, SF_E_IO, "cannot close '%s': %s", path, strerror(errno));
    if (!rc)
        *off += footer.n;
    sf_buf_free(&footer);
    for (size_t i = 0; pieces && i < np; i++)
        free(pieces[i]);
    free(pieces);
    free(at);
    return rc;
}

/* --single-file: each rank copies its pieces into OUT/part-00000.csv at
 * their offsets, after the header; for Parquet the pieces' row groups go
 * after the magic and rank 0 then appends the footer that moves their
 * offsets (io/parquet_read's sf_parquet_concat_footer). Collective. */
static int assemble_single(fl *F)
{
    if (F->fmt == SF_TABLE_PARQUET && F->nfcols == 0)
        return 0; /* no rows and no columns: a Parquet file needs a column */
    uint64_t *sizes = calloc(F->nchunks + 1, sizeof *sizes);
    if (!sizes)
        MPI_Abort(F->comm, 1); /* cannot take part in the reduction */
    MPI_Allreduce(F->piece, sizes, (int)F->nchunks, MPI_UINT64_T, MPI_SUM, F->comm);
    int rc = 0;
    size_t n = strlen(F->life.stage.tmpdir) + 64;
    char *path = malloc(n), *piece = malloc(n);
    if (!path || !piece)
        MPI_Abort(F->comm, 1);
    const char *ext = sf_table_file_ext(F->fmt, &F->csvopt);
    int pq = F->fmt == SF_TABLE_PARQUET;
    snprintf(path, n, "%s/part-%0*d.%s", F->life.stage.tmpdir, F->digits, 0, ext);
    uint64_t header = 0;
    if (F->rank == 0 && pq) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "PAR1", 4) != 4)
            rc = sf_error_set(&F->err, SF_E_IO, "cannot write '%s': %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        header = 4;
    } else if (F->rank == 0) {
        sf_table_writer *w = NULL;
        sf_table_schema schema = {F->nfcols, F->fnames, F->ftypes, NULL, 1, NULL, &F->csvopt};
        rc = sf_table_writer_open(&w, SF_TABLE_CSV, path, &schema, &F->err);
        if (!rc)
            rc = sf_table_writer_close(w, NULL, &header, &F->err);
    }
    MPI_Bcast(&header, 1, MPI_UINT64_T, 0, F->comm);
    if (sf_fl_agree(F, rc, 0)) {
        free(sizes);
        free(path);
        free(piece);
        return -1;
    }
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        rc = sf_error_set(&F->err, SF_E_IO, "cannot open '%s': %s", path, strerror(errno));
    uint64_t off = header;
    char *buf = rc ? NULL : malloc((size_t)4 << 20);
    if (!rc && !buf)
        rc = sf_fl_nomem(F);
    for (size_t k = 0; k < F->nchunks && !rc; k++) {
        uint64_t at = off;
        off += sizes[k];
        if (!F->piece[k])
            continue;
        snprintf(piece, n, "%s/_pieces/piece-%0*zu.%s", F->life.stage.tmpdir, F->digits, k, ext);
        uint64_t from = 0, len = sizes[k];
        if (pq && (rc = sf_parquet_piece_range(piece, &from, &len, &F->err)) != 0)
            break;
        int in = open(piece, O_RDONLY);
        if (in < 0) {
            rc = sf_error_set(&F->err, SF_E_IO, "cannot open '%s': %s", piece, strerror(errno));
            break;
        }
        for (uint64_t left = len; left > 0;) {
            size_t want = left < ((size_t)4 << 20) ? (size_t)left : (size_t)4 << 20;
            ssize_t got = pread(in, buf, want, (off_t)from);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                rc = sf_error_set(&F->err, SF_E_IO, "cannot read '%s': %s", piece,
                                  strerror(errno));
                break;
            }
            if (got == 0) {
                rc = sf_error_set(&F->err, SF_E_IO, "'%s' is shorter than it was", piece);
                break;
            }
            from += (uint64_t)got;
            left -= (uint64_t)got;
            for (ssize_t done = 0; done < got && !rc;) {
                ssize_t w = pwrite(fd, buf + done, (size_t)(got - done), (off_t)at);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0)
                    rc = sf_error_set(&F->err, SF_E_IO, "cannot write '%s': %s", path,
                                      strerror(errno));
                else {
                    done += w;
                    at += (uint64_t)w;
                }
            }
            if (rc)
                break;
        }
        close(in);
        if (!pq) /* Parquet pieces are read again for the footer */
            unlink(piece);
    }
    free(buf);
    if (fd >= 0 && fsync(fd) != 0 && !rc)
        rc = sf_error_set(&F->err, SF_E_IO, "cannot sync '%s': %s", path, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = sf_error_set(&F->err, SF_E_IO, "cannot close '%s': %s", path, strerror(errno));
    if (sf_fl_agree(F, rc, 0)) {
        free(sizes);
        free(path);
        free(piece);
        return -1;
    }
    if (F->rank == 0) {
        uint64_t rows = 0;
        if (pq)
            rc = parquet_footer(F, path, sizes, &off, &rows);
        snprintf(piece, n, "%s/_pieces", F->life.stage.tmpdir);
        sf_error ignored;
        sf_rmtree(piece, &ignored);
        if (!rc && truncate(path, (off_t)off) != 0)
            rc = sf_error_set(&F->err, SF_E_IO, "cannot truncate '%s': %s", path,
                              strerror(errno));
        if (!rc)
            rc = add_file(F, path + strlen(F->life.stage.tmpdir) + 1, rows, off);
    }
    free(sizes);
    free(path);
    free(piece);
    return sf_fl_agree(F, rc, 0) ? -1 : 0;
}

int sf_fl_write_pass(fl *F)
{
    int rc = setup_write(F);
    if (sf_fl_agree(F, rc, 1))
        return -1;
    F->pass = 2;
    memset(&F->c, 0, sizeof F->c);
    /* A part's close only starts its writeback: the parts go to the
     * device while the next are written, and are made durable together
     * below (a --single-file's pieces need no sync: they are copied into
     * the file, which is, and removed). */
    size_t first = F->life.nfiles;
    F->csvopt.sync_later = F->fmt == SF_TABLE_CSV;
    F->pqopt.sync_later = F->fmt == SF_TABLE_PARQUET;
    F->h5opt.sync_later = F->fmt == SF_TABLE_HDF5;
    if (F->spooling) {
        /* The schema pass read every line: its counts stand, the rows are
         * counted again as they are written. */
        F->c = F->first;
        F->c.rows = 0;
        rc = sf_fl_spool_replay(F);
        sf_fl_spool_free(F); /* before the commit moves the staging into place */
    } else {
        sf_scan_sink sink = {sf_fl_on_line, sf_fl_on_too_long, on_chunk_begin,
                             on_chunk_end_write, F, NULL};
        rc = sf_fl_scan(F, &sink);
    }
    rc = sf_fl_close_parts(F, rc);
    if (sf_fl_agree(F, rc, 0))
        return -1;
    /* An unpartitioned output with no rows still gets its header (a
     * Parquet file needs a column: an input with none gets no file). */
    uint64_t mine = F->c.rows, rows = 0;
    MPI_Allreduce(&mine, &rows, 1, MPI_UINT64_T, MPI_SUM, F->comm);
    if (rows == 0 && F->nps == 0 && !F->o->single_file && F->rank == 0 &&
        !(F->fmt == SF_TABLE_PARQUET && F->nfcols == 0)) {
        F->chunk = 0;
        F->dir.n = 0;
        part *p;
        rc = sf_fl_open_part(F, &p);
        rc = sf_fl_close_parts(F, rc);
    }
    F->csvopt.sync_later = 0;
    F->pqopt.sync_later = 0;
    F->h5opt.sync_later = 0;
    if (!rc)
        rc = sf_life_sync_files(&F->life, first, &F->err);
    if (sf_fl_agree(F, rc, 0))
        return -1;
    if (F->o->single_file && assemble_single(F) != 0)
        return -1;
    return 0;
}


void sf_fl_write_free(fl *F)
{
    free(F->fcols);
    free(F->fnames);
    free(F->ftypes);
    for (size_t k = 0; k < F->nps; k++) {
        free(F->ps[k].name);
        sf_expr_free(F->ps[k].expr);
    }
    free(F->prefs);
    free(F->dense);
    free(F->typedrow);
    sf_arena_free(&F->scratch);
    sf_buf_free(&F->dir);
    for (size_t i = 0; i < F->nparts; i++) {
        sf_error ignored;
        sf_table_writer_close(F->parts[i].w, NULL, NULL, &ignored);
        free(F->parts[i].rel);
    }
    free(F->parts);
    sf_hmap_free(F->partmap);
    free(F->piece);
}
