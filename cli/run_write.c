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
#include "io/dataset.h"
#include "io/fsutil.h"
#include "io/hive.h"
#include "io/table_writer.h"
#include "mpi/h5single.h"
#include "partition/coalesce.h"
#include "partition/keyhash.h"
#include "partition/partitioner.h"

static int same_values(const sf_value *a, const sf_value *b, const int *cols, size_t n);

/* Hash of a whole result row; summed over all written rows it gives a
 * digest of the output that does not depend on how rows were split (the
 * experiment command compares it across strategies within one run). Each
 * value is hashed where it lies - its type, then its bits or bytes - with
 * no encoding and no copy; a type without a case here hashes its
 * encoding. */
uint64_t sf_run_row_hash(sf_run *R, const sf_value *row)
{
    uint64_t h = SF_KEY_HASH_SEED;
    for (size_t c = 0; c < R->rows.ncols; c++) {
        const sf_value *v = &row[c];
        uint64_t x;
        switch (v->type) {
        case SF_NULL: x = 0; break;
        case SF_BOOL: x = (uint64_t)(v->u.b != 0); break;
        case SF_INT:
        case SF_TIMESTAMP: x = (uint64_t)v->u.i; break;
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

/* The i-th row in written order: rows[order[i]], or rows[i] when order
 * is NULL (the rows themselves are in that order). */
static inline sf_value *row_in(sf_run *R, const uint32_t *order, size_t i)
{
    return sf_rows_at(&R->rows, order ? (size_t)order[i] : i);
}

/* The Hive directory of the partition that starts at row lo ("" when the
 * output is not partitioned), appended to out. */
static int partition_dir(sf_run *R, size_t lo, sf_buf *out)
{
    return sf_run_partition_dir(R, sf_rows_at(&R->rows, lo), out);
}

int sf_run_partition_dir(sf_run *R, const sf_value *first, sf_buf *out)
{
    const sf_job *job = R->job;
    const sf_job_output *o = &job->output;
    sf_value pv[16] = {{0}}; /* the spec allows at most 16 partition columns */
    const char *pn[16] = {0};
    for (size_t k = 0; k < o->npartition; k++) {
        pv[k] = first[o->partition_by[k]];
        pn[k] = job->result_names[o->partition_by[k]];
    }
    return sf_hive_dirname(pn, pv, o->npartition, out);
}

/* Rows ahead of the one written whose strings are fetched. */
#define WRITE_PREFETCH 4

static inline void prefetch_strings(const sf_value *row, const int *cols, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        const sf_value *v = &row[cols ? (size_t)cols[c] : c];
        if (v->type == SF_STRING)
            __builtin_prefetch(v->u.s.p);
    }
}

/* Writes the rows in written order (row_in) from lo on that hold row lo's
 * partition values, up to end at most, to path in the output format
 * (io/table_writer); *hi gets the row after the last written. The rows
 * are sorted: one partition's lie together. */
static int write_table(sf_run *R, const uint32_t *order, const char *path, size_t lo,
                       size_t end, size_t *hi, uint64_t *bytes)
{
    const sf_job_output *o = &R->job->output;
    sf_table_format f = SF_TABLE_CSV;
    sf_table_format_parse(o->format, &f); /* the spec checked it */
    sf_table_schema schema = {o->ncolumns, R->out_names, R->out_types, &R->h5opt, 1, &R->pqopt,
                              &R->csvopt};
    sf_table_writer *w = NULL;
    int rc = sf_table_writer_open(&w, f, path, &schema, &R->err);
    const sf_value *first = lo < end ? row_in(R, order, lo) : NULL;
    size_t i = lo;
    for (; i < end && !rc; i++) {
        /* Rows are read in sorted order, but they and their strings lie
         * in the order the rows were made: rows 2 * WRITE_PREFETCH ahead
         * and strings WRITE_PREFETCH ahead are fetched, so formatting
         * does not wait on each (S3: 87% of sf_csv_write_row's time was
         * the load of a user_id). */
        if (order && i + 2 * WRITE_PREFETCH < end)
            __builtin_prefetch(row_in(R, order, i + 2 * WRITE_PREFETCH));
        if (i + WRITE_PREFETCH < end)
            prefetch_strings(row_in(R, order, i + WRITE_PREFETCH), o->columns, o->ncolumns);
        const sf_value *row = row_in(R, order, i);
        if (i > lo && !same_values(first, row, o->partition_by, o->npartition))
            break;
        rc = sf_table_writer_append(w, row, o->columns);
        /* Rows are written in table order: i rows of this rank are done. */
        if ((i & 0xffff) == 0)
            sf_progress_update(&R->prog, i);
    }
    *hi = i;
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

int sf_run_part_path(sf_run *R, const sf_value *first, int part, sf_buf *rel, char **path)
{
    sf_table_format f = SF_TABLE_CSV;
    sf_table_format_parse(R->job->output.format, &f); /* the spec checked it */
    int rc = sf_run_partition_dir(R, first, rel);
    if (!rc)
        rc = sf_buf_printf(rel, "%spart-%05d.%s", rel->n ? "/" : "", part,
                           sf_table_file_ext(f, &R->csvopt));
    char *dir = NULL;
    *path = NULL;
    if (!rc) {
        size_t n = strlen(R->life.stage.tmpdir) + rel->n + 2;
        *path = malloc(n);
        dir = malloc(n);
        if (!*path || !dir)
            rc = SF_E_NOMEM;
        else {
            snprintf(*path, n, "%s/%s", R->life.stage.tmpdir, (const char *)rel->p);
            snprintf(dir, n, "%s", *path);
            *strrchr(dir, '/') = '\0';
        }
    }
    if (rc)
        sf_error_set(&R->err, rc, "out of memory");
    if (!rc)
        rc = sf_mkdirs(dir, &R->err);
    free(dir);
    return rc;
}

/* Writes the rows from lo on in written order (row_in) that hold row lo's
 * partition values (up to end at most) to DIR/part-NNNNN.csv|h5|parquet;
 * *next gets the first row after them. */
static int write_partition(sf_run *R, const uint32_t *order, size_t lo, size_t end, int part,
                           size_t *next)
{
    size_t hi = lo;
    sf_buf rel = SF_BUF_INIT;
    char *path = NULL;
    int rc = sf_run_part_path(R, row_in(R, order, lo), part, &rel, &path);
    uint64_t bytes = 0;
    if (!rc)
        rc = write_table(R, order, path, lo, end, &hi, &bytes);
    if (!rc && sf_life_add_file(&R->life, (const char *)rel.p, hi - lo, bytes) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    /* The digest is for `experiment` (R->res), which compares it across
     * strategies; a plain run does not hash its rows. */
    for (size_t i = lo; i < hi && !rc && R->res; i++)
        R->digest += sf_run_row_hash(R, row_in(R, order, i));
    sf_buf_free(&rel);
    free(path);
    *next = hi;
    return rc;
}

/* ---- CSV: each row formatted once, in table order ---- */

/* A partition's rows as text while its batch is walked: the rows' CSV
 * bytes in visit order, and where each starts. */
typedef struct text_part {
    sf_buf text;
    sf_buf starts; /* uint64_t per row */
} text_part;

/* The CSV write's walk (sf_rows_walk_parts): visit formats a row into its
 * partition's text (a pass in table order, where the rows and their
 * strings lie in the order they were made), emit writes a partition's
 * file from its text in sort order. A written partition's buffers go to
 * spare and serve a later one, so their pages are touched once. */
typedef struct csv_walk {
    sf_run *R;
    int part;        /* the files' part number */
    size_t visited;  /* rows formatted (progress) */
    text_part *tp;   /* by partition index */
    size_t ntp;
    text_part *spare;
    size_t nspare, capspare;
    uint64_t rows_done, bytes_done; /* in the partitions written so far */
} csv_walk;

/* Partition o's buffers, with room for its n rows: their starts, and
 * their text as long as the rows written so far were a row on average
 * (more grows as it comes). */
static int csv_start(void *ctx, size_t o, size_t n)
{
    csv_walk *c = ctx;
    if (o >= c->ntp) {
        size_t m = o + 1 > 2 * c->ntp ? o + 1 : 2 * c->ntp;
        text_part *tp = realloc(c->tp, m * sizeof *tp);
        if (!tp)
            return SF_E_NOMEM;
        memset(tp + c->ntp, 0, (m - c->ntp) * sizeof *tp);
        c->tp = tp;
        c->ntp = m;
    }
    text_part *t = &c->tp[o];
    if (!t->text.p && c->nspare)
        *t = c->spare[--c->nspare];
    size_t avg = c->rows_done ? (size_t)(c->bytes_done / c->rows_done) + 8 : 0;
    if (sf_buf_reserve(&t->starts, (n + 1) * sizeof(uint64_t)) != 0 ||
        (avg && n <= SIZE_MAX / avg && sf_buf_reserve(&t->text, n * avg) != 0))
        return SF_E_NOMEM;
    return 0;
}

static int csv_visit(void *ctx, size_t o, const sf_value *row)
{
    csv_walk *c = ctx;
    const sf_job_output *out = &c->R->job->output;
    text_part *t = &c->tp[o];
    size_t room = sf_csv_row_room(row, out->ncolumns, out->columns);
    uint64_t at = t->text.n;
    if (sf_buf_reserve(&t->text, room) != 0 || sf_buf_append(&t->starts, &at, sizeof at) != 0)
        return SF_E_NOMEM;
    t->text.n += sf_csv_format_row(row, out->ncolumns, out->columns, (char *)t->text.p + at);
    /* The digest is a sum: the order rows are hashed in does not count. */
    if (c->R->res)
        c->R->digest += sf_run_row_hash(c->R, row);
    if ((++c->visited & 0xffff) == 0)
        sf_progress_update(&c->R->prog, c->visited);
    return 0;
}

int sf_run_write_texts(sf_run *R, const sf_value *first, int part, const char *text,
                       const uint64_t *at, const uint32_t *ids, const uint32_t *order, size_t n)
{
    const sf_job_output *o = &R->job->output;
    sf_buf rel = SF_BUF_INIT;
    char *path = NULL;
    uint64_t bytes = 0;
    int rc = sf_run_part_path(R, first, part, &rel, &path);
    sf_table_schema schema = {o->ncolumns, R->out_names, R->out_types, &R->h5opt, 1, &R->pqopt,
                              &R->csvopt};
    sf_table_writer *w = NULL;
    if (!rc)
        rc = sf_table_writer_open(&w, SF_TABLE_CSV, path, &schema, &R->err);
    if (!rc) {
        /* The texts are read in sort order, not the order they were made
         * (sf_csv_write_texts fetches them ahead). */
        sf_table_writer_append_texts(w, text, at, ids, order, n);
        rc = sf_table_writer_close(w, NULL, &bytes, &R->err);
    }
    if (!rc && sf_life_add_file(&R->life, (const char *)rel.p, n, bytes) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    sf_buf_free(&rel);
    free(path);
    return rc;
}

static int csv_emit(void *ctx, const sf_rows_part *p)
{
    csv_walk *c = ctx;
    sf_run *R = c->R;
    text_part *t = &c->tp[p->index];
    uint64_t end = t->text.n;
    int rc = sf_buf_append(&t->starts, &end, sizeof end) != 0
                 ? sf_error_set(&R->err, SF_E_NOMEM, "out of memory")
                 : sf_run_write_texts(R, p->first, c->part, (const char *)t->text.p,
                                      (const uint64_t *)(const void *)t->starts.p, NULL,
                                      p->order, p->n);
    c->rows_done += p->n;
    c->bytes_done += t->text.n;
    /* The buffers wait for the next partition that needs some. */
    t->text.n = t->starts.n = 0;
    if (c->nspare == c->capspare) {
        size_t n = c->capspare ? 2 * c->capspare : 16;
        text_part *sp = realloc(c->spare, n * sizeof *sp);
        if (sp) {
            c->spare = sp;
            c->capspare = n;
        }
    }
    if (c->nspare < c->capspare)
        c->spare[c->nspare++] = *t;
    else {
        sf_buf_free(&t->text);
        sf_buf_free(&t->starts);
    }
    *t = (text_part){SF_BUF_INIT, SF_BUF_INIT};
    return rc;
}

/* The CSV files of this rank's rows through sf_rows_walk_parts. Returns
 * 0, SF_E_* (R->err set), or SF_ROWS_NOT_WALKED (nothing done: the caller
 * sorts and writes another way). */
static int write_csv_walk(sf_run *R, const int *keys, const unsigned char *desc, size_t nkeys,
                          int part)
{
    csv_walk c = {.R = R, .part = part};
    sf_rows_walk w = {csv_start, csv_visit, csv_emit, &c};
    int rc = sf_rows_walk_parts(&R->rows, keys, desc, nkeys, R->job->output.npartition, &w);
    if (rc == SF_E_NOMEM && !R->err.msg[0])
        sf_error_set(&R->err, rc, "out of memory sorting output rows");
    for (size_t k = 0; k < c.ntp; k++) {
        sf_buf_free(&c.tp[k].text);
        sf_buf_free(&c.tp[k].starts);
    }
    for (size_t k = 0; k < c.nspare; k++) {
        sf_buf_free(&c.spare[k].text);
        sf_buf_free(&c.spare[k].starts);
    }
    free(c.tp);
    free(c.spare);
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
        for (size_t k = lo; k < i && R->res; k++)
            R->digest += sf_run_row_hash(R, sf_rows_at(&R->rows, k));
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
    /* HDF5 holds decimals as their exact text: string columns. */
    sf_type *h5types = malloc((o->ncolumns ? o->ncolumns : 1) * sizeof *h5types);
    if (!h5types)
        MPI_Abort(R->comm, 1); /* cannot skip the collective write */
    for (size_t c = 0; c < o->ncolumns; c++)
        h5types[c] = R->out_types[c] == SF_DECIMAL ? SF_STRING : R->out_types[c];
    sf_h5single_table table = {o->ncolumns, R->out_names, h5types, o->columns,
                               R->rows.ncols};
    uint64_t rows = 0, bytes = 0;
    rc = sf_h5single_write(R->comm, path, &table, parts, nparts, &R->h5opt, &rows, &bytes,
                           &R->err);
    if (!rc && R->rank == 0 && sf_life_add_file(&R->life, "output.h5", rows, bytes) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    free(path);
    free(h5types);
    free(parts);
    free(name_at);
    sf_buf_free(&names);
    return rc;
}

/* 1 when rows a and b hold equal values in cols (sorted rows: where one
 * partition ends). Dates, integers and strings of one type are compared
 * in place; other values as sf_value_cmp orders them (-0.0 equals 0.0). */
static int same_values(const sf_value *a, const sf_value *b, const int *cols, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const sf_value *x = &a[cols[k]], *y = &b[cols[k]];
        if (x->type == y->type && x->type == SF_DATE) {
            if (x->u.date != y->u.date)
                return 0;
        } else if (x->type == y->type && (x->type == SF_INT || x->type == SF_TIMESTAMP)) {
            if (x->u.i != y->u.i)
                return 0;
        } else if (x->type == y->type && x->type == SF_STRING) {
            if (x->u.s.n != y->u.s.n || memcmp(x->u.s.p, y->u.s.p, x->u.s.n) != 0)
                return 0;
        } else if (sf_value_cmp(x, y) != 0) {
            return 0;
        }
    }
    return 1;
}

/* "limit": the first N rows of the whole result in sort_by order (then
 * every result column ascending, so the choice among ties is one total
 * order). Each rank keeps its own first N, rank 0 merges those (at most
 * N x ranks rows) and keeps the first N: the N rows the whole sorted
 * result would start with, on any rank count, and no rank ever holds more
 * than N x ranks rows for it. Collective; agrees inside. */
static int apply_limit(sf_run *R)
{
    const sf_job_output *o = &R->job->output;
    size_t limit = (uint64_t)o->limit > SIZE_MAX ? SIZE_MAX : (size_t)o->limit;
    int rc = sf_rows_sort_dir(&R->rows, o->sort_by, o->sort_desc, o->nsort);
    if (rc)
        sf_error_set(&R->err, rc, "out of memory sorting rows for the limit");
    else if (R->rows.n > limit) {
        R->limit_dropped += R->rows.n - limit;
        R->rows.n = limit;
    }
    if (sf_run_agree(R, rc, 0))
        return SF_RUN_AGREED;
    rc = sf_run_route_rows(R, NULL, 0, 0, "run: limit");
    if (sf_run_agree(R, rc, 0))
        return SF_RUN_AGREED;
    if (R->rank == 0) {
        rc = sf_rows_sort_dir(&R->rows, o->sort_by, o->sort_desc, o->nsort);
        if (rc)
            sf_error_set(&R->err, rc, "out of memory sorting rows for the limit");
        else if (R->rows.n > limit) {
            R->limit_dropped += R->rows.n - limit;
            R->rows.n = limit;
        }
    }
    return sf_run_agree(R, rc, 0) ? SF_RUN_AGREED : 0;
}

/* Forms the output files as --write says: repartition sends each row to the
 * owner of its partition value (one part-00000 per value); coalesce=N sends
 * all rows of ranks [k*P/N, (k+1)*P/N) to writer k without rehashing (at
 * most N files per value, part-<k>); local writes what each rank holds
 * (part-<rank>). An output without partition columns is one file
 * (part-00000, written by rank 0) whatever --write says. Within a file
 * rows are in sort_by order, each entry ascending or descending. */
int sf_run_write_route(sf_run *R, int *part)
{
    const sf_job_output *o = &R->job->output;
    int rc = 0;
    *part = 0;
    /* An output without partition columns is one file in every write
     * mode: its rows go to rank 0, which writes part-00000. */
    sf_write_mode mode = o->npartition == 0 ? SF_WRITE_COALESCE : R->o->write_mode;
    switch (mode) {
    case SF_WRITE_REPARTITION:
        rc = sf_run_route_rows(R, o->partition_by, o->npartition, -1, "run: write shuffle");
        break;
    case SF_WRITE_COALESCE: {
        int writer = o->npartition == 0 ? 0
                     : sf_coalesce_writer(R->rank, R->nranks, R->o->coalesce, part);
        rc = sf_run_route_rows(R, NULL, 0, writer, "run: write shuffle");
        break;
    }
    case SF_WRITE_LOCAL:
        *part = R->rank;
        break;
    }
    return rc;
}

/* Hive names NULL and the empty string alike (__HIVE_DEFAULT_PARTITION__):
 * as Spark does, an empty string partition value becomes NULL, so both
 * land in one partition instead of two that would write the same files. */
void sf_run_write_normalize(sf_run *R)
{
    const sf_job_output *o = &R->job->output;
    for (size_t i = 0; i < R->rows.n && o->npartition; i++) {
        sf_value *row = sf_rows_at(&R->rows, i);
        for (size_t k = 0; k < o->npartition; k++) {
            sf_value *v = &row[o->partition_by[k]];
            if (v->type == SF_STRING && v->u.s.n == 0)
                *v = sf_null();
        }
    }
}

int *sf_run_write_keys(sf_run *R, size_t *nkeys, unsigned char **desc)
{
    /* Partition, sort_by, then the written columns in their order: the same
     * order `shardflow cat` merges split partitions in, so any split of a
     * partition into files prints the same. */
    const sf_job_output *o = &R->job->output;
    *nkeys = o->npartition + o->nsort + o->ncolumns;
    int *keys = malloc((*nkeys + 1) * sizeof *keys);
    *desc = calloc(*nkeys + 1, 1);
    if (!keys || !*desc) {
        free(keys);
        free(*desc);
        *desc = NULL;
        return NULL;
    }
    memcpy(keys, o->partition_by, o->npartition * sizeof *keys);
    memcpy(keys + o->npartition, o->sort_by, o->nsort * sizeof *keys);
    memcpy(*desc + o->npartition, o->sort_desc, o->nsort);
    memcpy(keys + o->npartition + o->nsort, o->columns, o->ncolumns * sizeof *keys);
    return keys;
}

/* --write repartition with every row in memory (their partition values
 * normalized first, as sf_run_write_normalize does): each partition value
 * still has one writer, but the writers are chosen from the rows per
 * value on all ranks (sf_partition_balance), not by the hash alone, which
 * with 31 dates on 2 ranks gave one rank 64% of the rows to sort and
 * format. The files are the same (part-00000 per value); only which rank
 * writes which value changes. The spill path routes pass by pass and
 * keeps hash owners (a value must have one writer over every pass).
 * Collective; agrees inside: returns 0, SF_E_* or SF_RUN_AGREED. */
static int route_balanced(sf_run *R)
{
    /* The reduce gave each row its bucket as it made it: only the counts
     * are left (a pass over every row's partition column less: S3 1M/10M
     * reads 4.3M rows of 168 bytes a rank for it). */
    int early = R->wbucket && R->nwbucket == R->rows.n;
    uint16_t *bucket = early ? R->wbucket : malloc((R->rows.n ? R->rows.n : 1) * sizeof *bucket);
    if (early) {
        R->wbucket = NULL;
        R->nwbucket = 0;
    }
    uint64_t *count = calloc(2 * SF_RUN_WRITE_BUCKETS, sizeof *count);
    int *owner = malloc(SF_RUN_WRITE_BUCKETS * sizeof *owner);
    sf_buf key = SF_BUF_INIT;
    int rc = bucket && count && owner ? 0 : SF_E_NOMEM;
    for (size_t i = 0; i < R->rows.n && !rc; i++) {
        if (!early)
            rc = sf_run_write_bucket(R, sf_rows_at(&R->rows, i), &key, &bucket[i]);
        count[bucket[i]]++;
    }
    sf_buf_free(&key);
    if (rc)
        sf_error_set(&R->err, rc, "out of memory routing rows to their writers");
    if (!sf_run_agree(R, rc, 0)) {
        uint64_t *all = count + SF_RUN_WRITE_BUCKETS;
        rc = sf_run_write_deal(R, count, all, owner);
        /* The rows this rank will receive are known now: the table gets
         * room for them before the route (rows can arrive before any
         * leaves), instead of doubling as they come (the reduce's table
         * mostly has it already: sf_run_reduce). */
        size_t incoming = 0;
        for (size_t b = 0; b < SF_RUN_WRITE_BUCKETS && !rc; b++)
            incoming += owner[b] == R->rank ? (size_t)(all[b] - count[b]) : 0;
        if (!rc && incoming && (rc = sf_rows_reserve(&R->rows, R->rows.n + incoming)) != 0)
            sf_error_set(&R->err, rc, "out of memory routing rows to their writers");
        rc = sf_run_agree(R, rc, 0) ? SF_RUN_AGREED
                                    : sf_run_route_rows_owned(R, bucket, owner,
                                                              "run: write shuffle");
    } else {
        rc = SF_RUN_AGREED;
    }
    free(bucket);
    free(count);
    free(owner);
    return rc;
}

int sf_run_write_deal(sf_run *R, const uint64_t *count, uint64_t *all, int *owner)
{
    MPI_Allreduce(count, all, SF_RUN_WRITE_BUCKETS, MPI_UINT64_T, MPI_SUM, R->comm);
    int rc = sf_partition_balance(all, SF_RUN_WRITE_BUCKETS, R->nranks, owner);
    if (rc)
        sf_error_set(&R->err, rc, "out of memory routing rows to their writers");
    return rc;
}

int sf_run_write_early(const sf_run *R)
{
    const sf_job *job = R->job;
    const sf_job_output *o = &job->output;
    return o->npartition && R->o->write_mode == SF_WRITE_REPARTITION && !job->grid.on &&
           !job->nwindows && !job->ncomputes && o->limit < 0 && !job->read_by_stage &&
           !R->mem.spilled;
}

int sf_run_write_bucket(sf_run *R, sf_value *row, sf_buf *key, uint16_t *bucket)
{
    const sf_job_output *o = &R->job->output;
    uint64_t hash;
    /* sf_run_write_normalize, on the row at hand. */
    for (size_t k = 0; k < o->npartition; k++) {
        sf_value *v = &row[o->partition_by[k]];
        if (v->type == SF_STRING && v->u.s.n == 0)
            *v = sf_null();
    }
    /* A bucket only has to be the same for one value on every rank: one
     * date column (the common partition) hashes its day number as it
     * is, anything else its values' encodings (S3: 136 instructions a
     * row before). */
    const sf_value *d = o->npartition == 1 ? &row[o->partition_by[0]] : NULL;
    if (d && d->type == SF_DATE)
        hash = sf_hash_u64((uint64_t)(uint32_t)d->u.date);
    else if (sf_key_hash_columns(row, o->partition_by, o->npartition, key, &hash) != 0)
        return SF_E_NOMEM;
    *bucket = (uint16_t)sf_partition_of(hash, SF_RUN_WRITE_BUCKETS);
    return 0;
}

/* After this rank's files (rc: their verdict): an unpartitioned output
 * with no rows at all still gets one file (a header), from rank 0.
 * Collective. Returns rc or that file's failure. */
static int write_end(sf_run *R, int rc)
{
    uint64_t mine = R->rows.n, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, R->comm);
    if (!rc && R->job->output.npartition == 0 && all == 0 && R->rank == 0)
        rc = write_partition(R, NULL, 0, 0, 0, &(size_t){0});
    sf_progress_end(&R->prog, R->rows.n);
    return rc;
}

static int write_output(sf_run *R)
{
    const sf_job_output *o = &R->job->output;
    if (R->mem.row_runs)
        return sf_run_spill_write(R);
    if (R->text)
        return sf_run_text_write(R);
    int part = 0, rc = 0;
    if (o->limit >= 0 && (rc = apply_limit(R)) != 0)
        return rc;
    if (o->npartition && R->o->write_mode == SF_WRITE_REPARTITION) {
        rc = route_balanced(R); /* normalizes as it goes */
    } else {
        sf_run_write_normalize(R);
        rc = sf_run_write_route(R, &part);
    }
    if (rc == SF_RUN_AGREED || sf_run_agree(R, rc, 0))
        return SF_RUN_AGREED;
    size_t nkeys;
    unsigned char *desc = NULL;
    int *keys = sf_run_write_keys(R, &nkeys, &desc);
    rc = keys ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    /* One partition at a time: the sort's items exist for the largest
     * partition only (docs/memory.md). */
    /* The files only read the rows: they are written through the sorted
     * order, not moved into it (--layout single hands the collective
     * write each partition's rows together: they move). */
    int single = strcmp(o->layout, "single") == 0;
    sf_table_format f = SF_TABLE_CSV;
    sf_table_format_parse(o->format, &f); /* the spec checked it */
    if (keys && !single && f == SF_TABLE_CSV) {
        sf_progress_init(&R->prog, R->progress, "run: write, rank 0");
        sf_progress_count_rows(&R->prog);
        sf_progress_start(&R->prog, R->rows.n);
        rc = write_csv_walk(R, keys, desc, nkeys, part);
        if (rc != SF_ROWS_NOT_WALKED) {
            free(keys);
            free(desc);
            return write_end(R, rc);
        }
        rc = 0;
    }
    uint32_t *order = NULL;
    if (keys && (single ? sf_rows_sort_parts(&R->rows, keys, desc, nkeys, o->npartition)
                        : sf_rows_order_parts(&R->rows, keys, desc, nkeys, o->npartition,
                                              &order)) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory sorting output rows");
    free(keys);
    free(desc);
    if (single)
        return sf_run_agree(R, rc, 0) ? SF_RUN_AGREED : write_single(R);
    /* Rank 0 shows its own rows: every rank writes its share at once. */
    sf_progress_init(&R->prog, R->progress, "run: write, rank 0");
    sf_progress_count_rows(&R->prog);
    sf_progress_start(&R->prog, R->rows.n);
    for (size_t lo = 0; lo < R->rows.n && !rc;)
        rc = write_partition(R, order, lo, R->rows.n, part, &lo);
    free(order);
    return write_end(R, rc);
}

int sf_run_write_output(sf_run *R)
{
    sf_table_format f = SF_TABLE_CSV;
    sf_table_format_parse(R->job->output.format, &f); /* the spec checked it */
    size_t first = R->life.nfiles;
    R->csvopt.sync_later = f == SF_TABLE_CSV;
    R->pqopt.sync_later = f == SF_TABLE_PARQUET;
    R->h5opt.sync_later = f == SF_TABLE_HDF5; /* both layouts: --layout single's
                                                * file is rank 0's to sync */
    int rc = write_output(R);
    R->csvopt.sync_later = 0;
    R->pqopt.sync_later = 0;
    R->h5opt.sync_later = 0;
    if (rc != SF_RUN_AGREED) {
        /* each writer's close only started its writeback (sync_later):
         * the files went to the device while the next were formatted */
        int src = sf_life_sync_files(&R->life, first, &R->err);
        if (!rc)
            rc = src;
    }
    return rc;
}
