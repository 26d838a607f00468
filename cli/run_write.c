/* run_write.c - `shardflow run`, write: rows go where --write says
 * (partition/coalesce for coalesce=N), are sorted, and every partition
 * value becomes a file under the staging directory through the one writer
 * interface (io/table_writer: CSV, HDF5 or Parquet); --layout single writes one
 * HDF5 file with every rank at once (mpi/h5single). Every file is recorded
 * in the lifecycle (mpi/lifecycle) for the manifest. */
#include "cli/run_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "io/fsutil.h"
#include "io/hive.h"
#include "io/table_writer.h"
#include "mpi/h5single.h"
#include "partition/coalesce.h"
#include "partition/keyhash.h"

static int same_values(const sf_value *a, const sf_value *b, const int *cols, size_t n);

/* Hash of a whole result row; summed over all written rows it gives a
 * digest of the output that does not depend on how rows were split (the
 * experiment command compares it across strategies within one run). Each
 * value is hashed where it lies - its type, then its bits or bytes - with
 * no encoding and no copy; a type without a case here hashes its
 * encoding. */
static uint64_t row_hash(sf_run *R, const sf_value *row)
{
    uint64_t h = SF_KEY_HASH_SEED;
    for (size_t c = 0; c < R->rows.ncols; c++) {
        const sf_value *v = &row[c];
        uint64_t x;
        switch (v->type) {
        case SF_NULL: x = 0; break;
        case SF_BOOL: x = (uint64_t)(v->u.b != 0); break;
        case SF_INT: x = (uint64_t)v->u.i; break;
        case SF_DOUBLE: memcpy(&x, &v->u.d, sizeof x); break;
        case SF_DATE: x = (uint32_t)v->u.date; break;
        case SF_STRING: x = sf_hash_bytes(v->u.s.p, v->u.s.n, SF_KEY_HASH_SEED); break;
        default: {
            unsigned char small[64];
            size_t n = sf_value_encoded_size(v);
            unsigned char *p = n <= sizeof small ? small : malloc(n);
            if (!p)
                return 0;
            sf_value_encode(v, p);
            x = sf_hash_bytes(p, n, SF_KEY_HASH_SEED);
            if (p != small)
                free(p);
        }
        }
        h = sf_hash_u64((h ^ x) * 0x9e3779b97f4a7c15ull + v->type);
    }
    return h;
}

/* The Hive directory of the partition that starts at row lo ("" when the
 * output is not partitioned), appended to out. */
static int partition_dir(sf_run *R, size_t lo, sf_buf *out)
{
    const sf_job *job = R->job;
    const sf_job_output *o = &job->output;
    const sf_value *first = sf_rows_at(&R->rows, lo);
    sf_value pv[16] = {{0}}; /* the spec allows at most 16 partition columns */
    const char *pn[16] = {0};
    for (size_t k = 0; k < o->npartition; k++) {
        pv[k] = first[o->partition_by[k]];
        pn[k] = job->result_names[o->partition_by[k]];
    }
    return sf_hive_dirname(pn, pv, o->npartition, out);
}

/* Writes rows [lo, hi) to path in the output format (io/table_writer). */
static int write_table(sf_run *R, const char *path, size_t lo, size_t hi, uint64_t *bytes)
{
    const sf_job_output *o = &R->job->output;
    sf_table_format f = SF_TABLE_CSV;
    sf_table_format_parse(o->format, &f); /* the spec checked it */
    sf_table_schema schema = {o->ncolumns, R->out_names, R->out_types, &R->h5opt, 1, &R->pqopt,
                              &R->csvopt};
    sf_table_writer *w = NULL;
    int rc = sf_table_writer_open(&w, f, path, &schema, &R->err);
    for (size_t i = lo; i < hi && !rc; i++)
        rc = sf_table_writer_append(w, sf_rows_at(&R->rows, i), o->columns);
    if (rc) {
        if (rc != SF_E_IO && rc != SF_E_NOMEM && rc != SF_E_TYPE && rc != SF_E_LIMIT)
            rc = SF_E_IO;
        sf_table_writer_discard(w, &R->err);
        if (!R->err.msg[0])
            sf_error_set(&R->err, rc, "%s: cannot write a row", path);
        return rc;
    }
    uint64_t rows = 0;
    return sf_table_writer_close(w, &rows, bytes, &R->err);
}

/* Writes rows [lo, hi) - one partition value - to DIR/part-NNNNN.csv|h5|parquet. */
static int write_partition(sf_run *R, size_t lo, size_t hi, int part)
{
    sf_table_format f = SF_TABLE_CSV;
    sf_table_format_parse(R->job->output.format, &f); /* the spec checked it */
    sf_buf rel = SF_BUF_INIT;
    int rc = partition_dir(R, lo, &rel);
    if (!rc)
        rc = sf_buf_printf(&rel, "%spart-%05d.%s", rel.n ? "/" : "", part,
                           sf_table_file_ext(f, &R->csvopt));
    char *dir = NULL, *path = NULL;
    if (!rc) {
        size_t n = strlen(R->life.stage.tmpdir) + rel.n + 2;
        path = malloc(n);
        dir = malloc(n);
        if (!path || !dir)
            rc = SF_E_NOMEM;
        else {
            snprintf(path, n, "%s/%s", R->life.stage.tmpdir, (const char *)rel.p);
            snprintf(dir, n, "%s", path);
            *strrchr(dir, '/') = '\0';
        }
    }
    if (rc)
        sf_error_set(&R->err, rc, "out of memory");
    if (!rc)
        rc = sf_mkdirs(dir, &R->err);
    uint64_t bytes = 0;
    if (!rc)
        rc = write_table(R, path, lo, hi, &bytes);
    if (!rc && sf_life_add_file(&R->life, (const char *)rel.p, hi - lo, bytes) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    for (size_t i = lo; i < hi && !rc; i++)
        R->digest += row_hash(R, sf_rows_at(&R->rows, i));
    sf_buf_free(&rel);
    free(dir);
    free(path);
    return rc;
}

/* --layout single: every rank's partitions go into one OUT/output.h5 with a
 * group per partition value, written collectively. Collective. */
static int write_single(sf_run *R)
{
    const sf_job_output *o = &R->job->output;
    size_t cap = 16, nparts = 0;
    sf_h5single_part *parts = malloc(cap * sizeof *parts);
    sf_buf names = SF_BUF_INIT; /* NUL-separated partition names */
    size_t *name_at = malloc(cap * sizeof *name_at);
    int rc = parts && name_at ? 0 : SF_E_NOMEM;
    size_t lo = 0;
    for (size_t i = 1; i <= R->rows.n && !rc; i++) {
        if (i < R->rows.n && same_values(sf_rows_at(&R->rows, lo), sf_rows_at(&R->rows, i),
                                         o->partition_by, o->npartition))
            continue;
        if (nparts == cap) {
            cap *= 2;
            sf_h5single_part *p2 = realloc(parts, cap * sizeof *parts);
            size_t *n2 = p2 ? realloc(name_at, cap * sizeof *name_at) : NULL;
            if (p2)
                parts = p2;
            if (n2)
                name_at = n2;
            if (!p2 || !n2) {
                rc = SF_E_NOMEM;
                break;
            }
        }
        name_at[nparts] = names.n;
        rc = partition_dir(R, lo, &names);
        if (!rc)
            rc = sf_buf_append(&names, "", 1);
        parts[nparts].rows = sf_rows_at(&R->rows, lo);
        parts[nparts].nrows = i - lo;
        nparts++;
        for (size_t k = lo; k < i; k++)
            R->digest += row_hash(R, sf_rows_at(&R->rows, k));
        lo = i;
    }
    /* An unpartitioned output with no rows still gets its (empty) table. */
    uint64_t mine = R->rows.n, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, R->comm);
    if (!rc && all == 0 && o->npartition == 0 && R->rank == 0) {
        name_at[0] = names.n;
        rc = sf_buf_append(&names, "", 1);
        parts[0].rows = NULL;
        parts[0].nrows = 0;
        nparts = 1;
    }
    for (size_t k = 0; k < nparts && !rc; k++)
        parts[k].name = (const char *)names.p + name_at[k];
    if (rc)
        sf_error_set(&R->err, rc, "out of memory collecting partitions");
    /* Everyone must reach the collective write, or no one. */
    if (sf_run_agree(R, rc, 0)) {
        free(parts);
        free(name_at);
        sf_buf_free(&names);
        return SF_RUN_AGREED;
    }
    size_t n = strlen(R->life.stage.tmpdir) + 16;
    char *path = malloc(n);
    if (!path)
        MPI_Abort(R->comm, 1); /* cannot skip the collective write */
    snprintf(path, n, "%s/output.h5", R->life.stage.tmpdir);
    sf_h5single_table table = {o->ncolumns, R->out_names, R->out_types, o->columns,
                               R->rows.ncols};
    uint64_t rows = 0, bytes = 0;
    rc = sf_h5single_write(R->comm, path, &table, parts, nparts, &R->h5opt, &rows, &bytes,
                           &R->err);
    if (!rc && R->rank == 0 && sf_life_add_file(&R->life, "output.h5", rows, bytes) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    free(path);
    free(parts);
    free(name_at);
    sf_buf_free(&names);
    return rc;
}

static int same_values(const sf_value *a, const sf_value *b, const int *cols, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (sf_value_cmp(&a[cols[k]], &b[cols[k]]) != 0)
            return 0;
    }
    return 1;
}

/* Forms the output files as --write says: repartition sends each row to the
 * owner of its partition value (one part-00000 per value); coalesce=N sends
 * all rows of ranks [k*P/N, (k+1)*P/N) to writer k without rehashing (at
 * most N files per value, part-<k>); local writes what each rank holds
 * (part-<rank>). Within a file rows are in sort_by order. */
int sf_run_write_output(sf_run *R)
{
    const sf_job_output *o = &R->job->output;
    int part = 0, rc = 0;
    switch (R->o->write_mode) {
    case SF_WRITE_REPARTITION:
        rc = sf_run_route_rows(R, o->partition_by, o->npartition, -1);
        break;
    case SF_WRITE_COALESCE: {
        int writer = sf_coalesce_writer(R->rank, R->nranks, R->o->coalesce, &part);
        rc = sf_run_route_rows(R, NULL, 0, writer);
        break;
    }
    case SF_WRITE_LOCAL:
        part = R->rank;
        break;
    }
    if (sf_run_agree(R, rc, 0))
        return SF_RUN_AGREED;
    /* Partition, sort_by, then the written columns in their order: the same
     * order `shardflow cat` merges split partitions in, so any split of a
     * partition into files prints the same. */
    size_t nkeys = o->npartition + o->nsort + o->ncolumns;
    int *keys = malloc((nkeys + 1) * sizeof *keys);
    rc = keys ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    if (keys) {
        memcpy(keys, o->partition_by, o->npartition * sizeof *keys);
        memcpy(keys + o->npartition, o->sort_by, o->nsort * sizeof *keys);
        memcpy(keys + o->npartition + o->nsort, o->columns, o->ncolumns * sizeof *keys);
        if (sf_rows_sort(&R->rows, keys, nkeys) != 0)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory sorting output rows");
    }
    free(keys);
    if (strcmp(o->layout, "single") == 0)
        return sf_run_agree(R, rc, 0) ? SF_RUN_AGREED : write_single(R);
    size_t lo = 0;
    for (size_t i = 1; i <= R->rows.n && !rc; i++) {
        if (i == R->rows.n || !same_values(sf_rows_at(&R->rows, lo), sf_rows_at(&R->rows, i),
                                           o->partition_by, o->npartition)) {
            rc = write_partition(R, lo, i, part);
            lo = i;
        }
    }
    /* An unpartitioned output with no rows at all still gets one file (a
     * header), from rank 0. */
    uint64_t mine = R->rows.n, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, R->comm);
    if (!rc && o->npartition == 0 && all == 0 && R->rank == 0)
        rc = write_partition(R, 0, 0, 0);
    return rc;
}

