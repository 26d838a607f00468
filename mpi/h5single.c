/* h5single.c - the single-file HDF5 layout, written by all ranks at once.
 *
 * Invariant: in the parallel phase every rank makes the same sequence of
 * HDF5 calls (file, attributes, groups, datasets, and with collective
 * transfers every H5Dwrite), derived only from the exchanged partition list,
 * never from local data. A rank that fails locally keeps making the calls
 * with empty selections, so no rank is left waiting in a collective; the
 * first failure is agreed on after each phase.
 */
#include "mpi/h5single.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "io/fsutil.h"
#include "mpi/collective.h"

#define TOKEN_TAG 7301
#define HAS_NULL 1

/* One partition of the whole output, as every rank knows it. */
typedef struct gpart {
    const char *name;     /* the gathered bytes, then a terminated copy */
    size_t namelen;
    uint64_t nrows;
    const uint8_t *flags; /* per column: HAS_NULL */
    int owner;
    size_t local;         /* index in the owner's parts */
} gpart;

typedef struct single {
    MPI_Comm comm;
    int rank, nranks;
    const char *path;
    const sf_h5single_table *t;
    const sf_h5single_part *parts;
    size_t nparts;
    sf_h5_options opt;
    size_t stride;
    gpart *g;             /* every partition, in name order */
    size_t ng;
    uint64_t total;
    int collective;       /* transfers are collective (filters are on) */
    sf_error err;         /* this rank's first failure, then the agreed one */
    int agreed;           /* the agreed failure code, 0 while none */
} single;

/* Collective. Every rank learns the first failure (lowest failing rank,
 * through sf_mpi_agree_error) and its message; returns its code, or 0 when
 * no rank failed. */
static int agree(single *S, int rc)
{
    /* Once a failure is agreed every rank knows it: nothing to exchange. */
    if (S->agreed)
        return S->agreed;
    int first;
    int code = sf_mpi_agree_error(S->comm, rc, &S->err, &first);
    if (!code)
        return 0;
    char msg[sizeof S->err.msg];
    memcpy(msg, S->err.msg, sizeof msg);
    sf_error_set(&S->err, code, "rank %d: %s", first, msg);
    S->agreed = code;
    return code;
}

static const sf_value *value_at(const single *S, const sf_h5single_part *p, size_t row, size_t c)
{
    size_t k = S->t->cols ? (size_t)S->t->cols[c] : c;
    return &p->rows[row * S->stride + k];
}

/* Checks this rank's parts and encodes what the others need to know about
 * them: name, row count and which columns hold NULLs. */
static int describe_parts(single *S, sf_buf *out)
{
    const sf_h5single_table *t = S->t;
    for (size_t i = 0; i < S->nparts; i++) {
        const sf_h5single_part *p = &S->parts[i];
        uint64_t len = strlen(p->name), n = p->nrows;
        if (sf_buf_append(out, &len, sizeof len) || sf_buf_append(out, p->name, len) ||
            sf_buf_append(out, &n, sizeof n) || sf_buf_reserve(out, t->ncols))
            return sf_error_set(&S->err, SF_E_NOMEM, "%s: out of memory", S->path);
        uint8_t *flags = out->p + out->n;
        memset(flags, 0, t->ncols);
        out->n += t->ncols;
        for (size_t r = 0; r < p->nrows; r++) {
            for (size_t c = 0; c < t->ncols; c++) {
                const sf_value *v = value_at(S, p, r, c);
                if (v->type == SF_NULL)
                    flags[c] |= HAS_NULL;
                else if (v->type != t->types[c] &&
                         !(v->type == SF_DECIMAL && t->types[c] == SF_STRING))
                    return sf_error_set(&S->err, SF_E_TYPE,
                                        "%s: partition '%s', row %zu, column '%s': a %s value "
                                        "in a %s column",
                                        S->path, p->name, r + 1, t->names[c],
                                        sf_type_name((sf_type)v->type),
                                        sf_type_name(t->types[c]));
            }
        }
    }
    return 0;
}

/* By name, then owner, so every rank sorts to the same order even when a
 * name is (wrongly) used twice. */
static int cmp_gpart(const void *a, const void *b)
{
    const gpart *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->owner > y->owner) - (x->owner < y->owner);
}

/* Decodes the gathered descriptions into S->g, sorted by name. */
static int decode_parts(single *S, const unsigned char *all, const int *counts,
                        const int *displs)
{
    size_t ncols = S->t->ncols, cap = 0;
    for (int r = 0; r < S->nranks; r++) {
        const unsigned char *p = all + displs[r], *end = p + counts[r];
        size_t local = 0;
        while (p < end) {
            uint64_t len, n;
            if ((size_t)(end - p) < sizeof len)
                goto bad;
            memcpy(&len, p, sizeof len);
            p += sizeof len;
            if ((uint64_t)(end - p) < len + sizeof n + ncols)
                goto bad;
            if (S->ng == cap) {
                cap = cap ? cap * 2 : 64;
                gpart *g = realloc(S->g, cap * sizeof *g);
                if (!g)
                    return sf_error_set(&S->err, SF_E_NOMEM, "%s: out of memory", S->path);
                S->g = g;
            }
            gpart *g = &S->g[S->ng++];
            g->name = (const char *)p;
            g->namelen = (size_t)len;
            p += len;
            memcpy(&n, p, sizeof n);
            p += sizeof n;
            g->nrows = n;
            g->flags = p;
            p += ncols;
            g->owner = r;
            g->local = local++;
            S->total += n;
        }
    }
    return 0;
bad:
    return sf_error_set(&S->err, SF_E_INTERNAL, "%s: malformed partition list from a rank",
                        S->path);
}

/* Creates the group of partition g (the root for ""), with its table
 * attributes. */
static hid_t open_group(single *S, hid_t file, const gpart *g, int create, int *rc)
{
    if (!g->name[0])
        return file;
    hid_t grp;
    if (create) {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
        grp = H5I_INVALID_HID;
        if (lcpl >= 0 && gcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0 &&
            H5Pset_obj_track_times(gcpl, 0) >= 0)
            grp = H5Gcreate2(file, g->name, lcpl, gcpl, H5P_DEFAULT);
        if (lcpl >= 0)
            H5Pclose(lcpl);
        if (gcpl >= 0)
            H5Pclose(gcpl);
    } else {
        grp = H5Gopen2(file, g->name, H5P_DEFAULT);
    }
    if (grp < 0 && !*rc)
        *rc = sf_h5_fail(&S->err, SF_E_IO, "%s: cannot %s group '%s'", S->path,
                         create ? "create" : "open", g->name);
    return grp;
}

static void close_group(hid_t grp, hid_t file)
{
    if (grp >= 0 && grp != file)
        H5Gclose(grp);
}

/* The H5Dwrite calls of a rank that has no data for d (collective mode). */
static void write_none(hid_t d, hid_t mtype, hid_t dxpl)
{
    hsize_t one = 1;
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    unsigned char dummy[16] = {0};
    if (fs >= 0 && ms >= 0) {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
        H5Dwrite(d, mtype, ms, fs, dxpl, dummy);
    }
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
}

/* Writes rows [0, g->nrows) of column c of partition g into d (and v) in
 * slabs of chunk rows; ranks other than the owner take part only in
 * collective mode. */
static int write_column(single *S, const gpart *g, size_t c, hid_t d, hid_t v, hid_t dxpl,
                        sf_h5_column *col, int rc)
{
    sf_type type = S->t->types[c];
    int mine = g->owner == S->rank;
    if (!mine && !S->collective)
        return rc;
    size_t slab = S->opt.chunk_rows ? S->opt.chunk_rows : SF_H5_CHUNK_ROWS;
    const sf_h5single_part *p = mine ? &S->parts[g->local] : NULL;
    hid_t mt = sf_h5_type(type, 0, 1);
    char what[600];
    snprintf(what, sizeof what, "%s: partition '%s', column '%s'", S->path, g->name,
             S->t->names[c]);
    if (mt < 0 && !rc)
        rc = sf_h5_fail(&S->err, SF_E_IO, "%s: cannot make the memory type", what);
    for (uint64_t lo = 0; lo < g->nrows; lo += slab) {
        uint64_t hi = g->nrows - lo < slab ? g->nrows : lo + slab;
        int wrote = 0;
        if (mine && !rc && d >= 0) {
            sf_h5_column_clear(col);
            for (uint64_t r = lo; r < hi && !rc; r++) {
                if (sf_h5_column_push(col, value_at(S, p, (size_t)r, c)) != 0)
                    rc = sf_error_set(&S->err, SF_E_NOMEM, "%s: out of memory", what);
            }
            if (!rc) {
                rc = sf_h5_column_write(col, d, v, lo, dxpl, what, &S->err);
                wrote = 1;
            }
        }
        if (!wrote && S->collective && d >= 0 && mt >= 0) {
            write_none(d, mt, dxpl);
            if (v >= 0)
                write_none(v, H5T_NATIVE_UINT8, dxpl);
        }
    }
    if (mt >= 0)
        H5Tclose(mt);
    return rc;
}

/* Parallel phase: the file, its attributes, every group and the
 * fixed-width columns. Collective. */
static int parallel_phase(single *S)
{
    const sf_h5single_table *t = S->t;
    /* One buffer per column, reused for every slab of every partition;
     * allocated (and agreed on) before any collective HDF5 call. */
    sf_h5_column *cols = calloc(t->ncols ? t->ncols : 1, sizeof *cols);
    int rc = cols ? 0 : sf_error_set(&S->err, SF_E_NOMEM, "%s: out of memory", S->path);
    rc = agree(S, rc);
    if (rc) {
        free(cols);
        return rc;
    }
    for (size_t c = 0; c < t->ncols; c++)
        sf_h5_column_init(&cols[c], t->types[c]);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t file = H5I_INVALID_HID, dxpl = H5Pcreate(H5P_DATASET_XFER);
    /* Metadata is flushed with collective writes. Metadata reads stay
     * independent: with independent transfers only the owner of a dataset
     * writes it, and any chunk-index read that needs must not wait for the
     * other ranks. */
    if (fapl < 0 || dxpl < 0 || H5Pset_fapl_mpio(fapl, S->comm, MPI_INFO_NULL) < 0 ||
        H5Pset_coll_metadata_write(fapl, 1) < 0 ||
        H5Pset_dxpl_mpio(dxpl, S->collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT) < 0)
        rc = sf_h5_fail(&S->err, SF_E_IO, "%s: cannot set up the MPI-IO driver", S->path);
    if (!rc) {
        file = H5Fcreate(S->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (file < 0)
            rc = sf_h5_fail(&S->err, SF_E_IO, "cannot create HDF5 file '%s'", S->path);
    }
    if (!rc)
        rc = sf_h5_file_attrs(file, "single", &S->opt, S->path, &S->err);
    if (!rc && !(S->ng == 1 && !S->g[0].name[0]))
        rc = sf_h5_attr_u64(file, "row_count", S->total, S->path, &S->err);
    if (!rc)
        rc = sf_h5_attr_u64(file, "partition_count", S->ng, S->path, &S->err);
    for (size_t i = 0; i < S->ng && file >= 0; i++) {
        const gpart *g = &S->g[i];
        hid_t grp = open_group(S, file, g, 1, &rc);
        if (grp >= 0 && !rc)
            rc = sf_h5_table_attrs(grp, t->ncols, t->names, t->types, g->nrows, S->path,
                                   &S->err);
        for (size_t c = 0; c < t->ncols && grp >= 0; c++) {
            if (t->types[c] == SF_STRING)
                continue;
            char where[600];
            snprintf(where, sizeof where, "%s: partition '%s'", S->path, g->name);
            hid_t d = H5I_INVALID_HID, v = H5I_INVALID_HID;
            int crc = sf_h5_dataset_create(grp, t->names[c], t->types[c], 0, 0, g->nrows,
                                           &S->opt, where, &d, rc ? NULL : &S->err);
            if (!crc && (g->flags[c] & HAS_NULL) && t->types[c] != SF_NULL)
                crc = sf_h5_dataset_create(grp, t->names[c], t->types[c], 1, 0, g->nrows,
                                           &S->opt, where, &v, rc ? NULL : &S->err);
            if (crc && !rc)
                rc = crc;
            rc = write_column(S, g, c, d, v, dxpl, &cols[c], rc);
            if (d >= 0)
                H5Dclose(d);
            if (v >= 0)
                H5Dclose(v);
        }
        close_group(grp, file);
    }
    for (size_t c = 0; c < t->ncols; c++)
        sf_h5_column_free(&cols[c]);
    free(cols);
    if (file >= 0 && H5Fclose(file) < 0 && !rc)
        rc = sf_h5_fail(&S->err, SF_E_IO, "cannot close HDF5 file '%s'", S->path);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (dxpl >= 0)
        H5Pclose(dxpl);
    return rc;
}

/* Whether some string of column c of p holds a NUL byte. */
static int has_nul_bytes(const single *S, const sf_h5single_part *p, size_t c)
{
    for (size_t r = 0; r < p->nrows; r++) {
        const sf_value *v = value_at(S, p, r, c);
        if (v->type == SF_STRING && v->u.s.n && memchr(v->u.s.p, '\0', v->u.s.n))
            return 1;
    }
    return 0;
}

/* Creates and writes this rank's string columns with the serial driver. */
static int write_strings(single *S)
{
    const sf_h5single_table *t = S->t;
    int rc = 0;
    hid_t file = H5Fopen(S->path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0)
        return sf_h5_fail(&S->err, SF_E_IO, "cannot reopen HDF5 file '%s'", S->path);
    sf_h5_column col;
    sf_h5_column_init(&col, SF_STRING);
    for (size_t i = 0; i < S->ng && !rc; i++) {
        const gpart *g = &S->g[i];
        if (g->owner != S->rank)
            continue;
        const sf_h5single_part *p = &S->parts[g->local];
        hid_t grp = open_group(S, file, g, 0, &rc);
        char where[600];
        snprintf(where, sizeof where, "%s: partition '%s'", S->path, g->name);
        for (size_t c = 0; c < t->ncols && !rc; c++) {
            if (t->types[c] != SF_STRING)
                continue;
            hid_t d = H5I_INVALID_HID, v = H5I_INVALID_HID;
            rc = sf_h5_dataset_create(grp, t->names[c], SF_STRING, 0, has_nul_bytes(S, p, c),
                                      g->nrows, &S->opt, where, &d, &S->err);
            if (!rc && (g->flags[c] & HAS_NULL))
                rc = sf_h5_dataset_create(grp, t->names[c], SF_STRING, 1, 0, g->nrows, &S->opt,
                                          where, &v, &S->err);
            if (!rc)
                rc = write_column(S, g, c, d, v, H5P_DEFAULT, &col, rc);
            if (d >= 0)
                H5Dclose(d);
            if (v >= 0)
                H5Dclose(v);
        }
        close_group(grp, file);
    }
    sf_h5_column_free(&col);
    if (H5Fclose(file) < 0 && !rc)
        rc = sf_h5_fail(&S->err, SF_E_IO, "cannot close HDF5 file '%s'", S->path);
    return rc;
}

/* Serial phase: the owners write their string columns one after the other,
 * passing a token in rank order. Every rank ends in agree(). */
static int serial_phase(single *S, int rc)
{
    int any_string = 0;
    for (size_t c = 0; c < S->t->ncols; c++)
        any_string |= S->t->types[c] == SF_STRING;
    if (!any_string)
        return rc;
    int prev = -1, next = -1, mine = 0;
    for (size_t i = 0; i < S->ng; i++) {
        int o = S->g[i].owner;
        if (o == S->rank)
            mine = 1;
        else if (o < S->rank && o > prev)
            prev = o;
        else if (o > S->rank && (next < 0 || o < next))
            next = o;
    }
    if (!mine)
        return rc;
    int token = 0;
    if (prev >= 0)
        MPI_Recv(&token, 1, MPI_INT, prev, TOKEN_TAG, S->comm, MPI_STATUS_IGNORE);
    /* After a failure upstream the file may be unusable: skip the work but
     * pass the token on, so nobody waits forever. */
    if (!token && !rc) {
        S->collective = 0;
        rc = write_strings(S);
    }
    int out = token || rc;
    if (next >= 0)
        MPI_Send(&out, 1, MPI_INT, next, TOKEN_TAG, S->comm);
    return rc;
}

/* Size of the finished file, after an fsync so it is durable before the
 * caller commits it (opt.sync_later: after starting its writeback, the
 * caller syncs it with its other files). */
static int sync_and_size(single *S, uint64_t *bytes)
{
    int fd = open(S->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sf_error_set(&S->err, SF_E_IO, "cannot open '%s' to sync it: %s", S->path,
                            strerror(errno));
    struct stat st;
    int rc = 0;
    if (S->opt.sync_later)
        sf_writeback_start(fd);
    if (!S->opt.sync_later && fsync(fd) != 0 && errno != EINVAL)
        rc = sf_error_set(&S->err, SF_E_IO, "cannot sync '%s': %s", S->path, strerror(errno));
    else if (fstat(fd, &st) != 0)
        rc = sf_error_set(&S->err, SF_E_IO, "cannot stat '%s': %s", S->path, strerror(errno));
    else
        *bytes = (uint64_t)st.st_size;
    close(fd);
    return rc;
}

/* Gathers every rank's description and builds S->g (collective). all is
 * returned so the names it holds stay valid. */
static int exchange(single *S, const sf_buf *mine, unsigned char **all, char ***names)
{
    int rc = 0;
    int len = (int)mine->n;
    if (mine->n > INT_MAX)
        rc = sf_error_set(&S->err, SF_E_LIMIT, "%s: too many partitions on one rank", S->path);
    rc = agree(S, rc);
    if (rc)
        return rc;
    int *counts = calloc((size_t)S->nranks, sizeof *counts);
    int *displs = calloc((size_t)S->nranks, sizeof *displs);
    if (!counts || !displs)
        rc = sf_error_set(&S->err, SF_E_NOMEM, "%s: out of memory", S->path);
    rc = agree(S, rc);
    if (!rc) {
        MPI_Allgather(&len, 1, MPI_INT, counts, 1, MPI_INT, S->comm);
        size_t total = 0;
        for (int r = 0; r < S->nranks; r++) {
            if (total > (size_t)INT_MAX - (size_t)counts[r])
                rc = sf_error_set(&S->err, SF_E_LIMIT, "%s: partition list too long", S->path);
            displs[r] = (int)total;
            total += (size_t)counts[r];
        }
        if (!rc) {
            *all = malloc(total ? total : 1);
            if (!*all)
                rc = sf_error_set(&S->err, SF_E_NOMEM, "%s: out of memory", S->path);
        }
        rc = agree(S, rc);
        if (!rc)
            MPI_Allgatherv(mine->p ? mine->p : (unsigned char *)"", len, MPI_BYTE, *all, counts,
                           displs, MPI_BYTE, S->comm);
    }
    if (!rc)
        rc = decode_parts(S, *all, counts, displs);
    /* Terminated copies of the names, for HDF5 calls and sorting. */
    if (!rc) {
        *names = calloc(S->ng ? S->ng : 1, sizeof **names);
        if (!*names)
            rc = sf_error_set(&S->err, SF_E_NOMEM, "%s: out of memory", S->path);
        for (size_t i = 0; i < S->ng && !rc; i++) {
            (*names)[i] = strndup(S->g[i].name, S->g[i].namelen);
            if (!(*names)[i])
                rc = sf_error_set(&S->err, SF_E_NOMEM, "%s: out of memory", S->path);
            else
                S->g[i].name = (*names)[i];
        }
    }
    free(counts);
    free(displs);
    return rc;
}

int sf_h5single_write(MPI_Comm comm, const char *path, const sf_h5single_table *t,
                      const sf_h5single_part *parts, size_t nparts, const sf_h5_options *opt,
                      uint64_t *rows, uint64_t *bytes, sf_error *err)
{
    single S;
    memset(&S, 0, sizeof S);
    /* A private communicator: the token messages cannot meet the caller's. */
    MPI_Comm_dup(comm, &S.comm);
    MPI_Comm_rank(S.comm, &S.rank);
    MPI_Comm_size(S.comm, &S.nranks);
    S.path = path;
    S.t = t;
    S.parts = parts;
    S.nparts = nparts;
    S.stride = t->stride ? t->stride : t->ncols;
    if (opt)
        S.opt = *opt;
    else
        sf_h5_options_init(&S.opt);
    S.collective = S.opt.gzip != SF_H5_NO_COMPRESSION;
    sf_h5_quiet();

    int rc = sf_h5_check_columns(t->ncols, t->names, &S.err);
    if (rc)
        sf_error_prefix(&S.err, "%s", path);
    if (!rc && S.opt.gzip != SF_H5_NO_COMPRESSION && (S.opt.gzip < 0 || S.opt.gzip > 9))
        rc = sf_error_set(&S.err, SF_E_INVAL, "%s: deflate level %d is not in 0..9", path,
                          S.opt.gzip);
    sf_buf mine = SF_BUF_INIT;
    if (!rc)
        rc = describe_parts(&S, &mine);
    unsigned char *all = NULL;
    char **names = NULL;
    rc = agree(&S, rc);
    if (!rc)
        rc = exchange(&S, &mine, &all, &names);
    sf_buf_free(&mine);
    rc = agree(&S, rc);
    if (!rc) {
        if (S.ng > 1)
            qsort(S.g, S.ng, sizeof *S.g, cmp_gpart);
        /* Every rank holds the same list, so they all reach the same verdict. */
        for (size_t i = 0; i < S.ng && !rc; i++) {
            if (i > 0 && strcmp(S.g[i - 1].name, S.g[i].name) == 0)
                rc = sf_error_set(&S.err, SF_E_INVAL,
                                  "%s: partition '%s' is written by ranks %d and %d", path,
                                  S.g[i].name, S.g[i - 1].owner, S.g[i].owner);
            else if (!S.g[i].name[0] && S.ng > 1)
                rc = sf_error_set(&S.err, SF_E_INVAL,
                                  "%s: an unnamed (root) partition cannot be combined with "
                                  "named ones",
                                  path);
        }
    }
    if (!rc) {
        rc = parallel_phase(&S);
        rc = agree(&S, rc);
    }
    if (!rc) {
        rc = serial_phase(&S, rc);
        rc = agree(&S, rc);
    }
    uint64_t size = 0;
    if (!rc) {
        if (S.rank == 0)
            rc = sync_and_size(&S, &size);
        rc = agree(&S, rc);
        MPI_Bcast(&size, 1, MPI_UINT64_T, 0, S.comm);
    }
    if (!rc) {
        if (rows)
            *rows = S.total;
        if (bytes)
            *bytes = size;
    } else if (err) {
        *err = S.err;
    }
    for (size_t i = 0; names && i < S.ng; i++)
        free(names[i]);
    free(names);
    free(all);
    free(S.g);
    MPI_Comm_free(&S.comm);
    return rc;
}
