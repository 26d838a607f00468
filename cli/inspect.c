/* inspect.c - `shardflow inspect` and `shardflow cat` (see inspect.h).
 *
 * Both start from the same list of tables ("sources", io/dataset): every
 * part file under the output directory, skipping names that start with '_'
 * or '.' (_SUCCESS, _MANIFEST.json, _temporary, ...), every table group of
 * an .h5 file, sorted by partition path and then by file name. Invariant: the
 * CSV text `cat` prints depends only on that list and the values in it, not
 * on the file format, which is what makes the CSV and HDF5 outputs of a job
 * print the same. CSV part files are read through mmap, HDF5 tables in
 * batches, so neither needs a whole file in memory.
 */
#include "cli/inspect.h"
#include "cli/options.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fmt.h"
#include "core/value.h"
#include "core/value_text.h"
#include "io/csv.h"
#include "io/dataset.h"
#include "io/h5read.h"
#include "io/hive.h"
#include "io/manifest.h"

#define READ_BATCH 4096

const char *const sf_inspect_usage =
    "usage: shardflow inspect PATH [--head N]\n"
    "\n"
    "Describes a shardflow output: format and layout, whether it was committed\n"
    "(_SUCCESS), the job that wrote it (HDF5, Parquet), its columns and types,\n"
    "and per partition its files, rows and bytes, with totals; for Parquet also\n"
    "each row group's column chunks (codec, encoding, sizes, statistics),\n"
    "created_by and the key-value metadata. PATH is an output directory (CSV,\n"
    "HDF5 or Parquet) or one .csv / .csv.gz / .csv.zst / .h5 / .parquet file.\n"
    "No MPI is needed.\n"
    "\n"
    "options:\n"
    "  --head N     also print the first N rows, as `shardflow cat` prints them\n"
    "  -h, --help   this help\n";

const char *const sf_cat_usage =
    "usage: shardflow cat PATH [--format csv]\n"
    "\n"
    "Prints a shardflow output (CSV, HDF5 or Parquet) as one CSV text on\n"
    "stdout: a header line with the partition keys and then the columns, then\n"
    "every row, partition directories (or groups) in string order, files in name\n"
    "order, rows in file order, each row led by its partition values. The CSV,\n"
    "HDF5 and Parquet outputs of the same job print exactly the same bytes.\n"
    "PATH is an output directory or one .csv / .csv.gz / .csv.zst / .h5 / .parquet\n"
    "file (gzip and zstd CSV parts are decoded). No MPI is\n"
    "needed.\n"
    "\n"
    "options:\n"
    "  --format csv  the output format (csv is the only one)\n"
    "  -h, --help    this help\n";

/* The dataset reader's types (io/dataset.h), by their short names here. */
typedef sf_dataset_source source;
typedef sf_dataset output;
typedef sf_dataset_table table;

/* ---- CSV text on a stdio stream ---- */

/* The quoting rule and value forms of io/csv.h, so the text is what the CSV
 * writer produces; values are formatted by core/fmt.h as the writer does. */
typedef struct emitter {
    FILE *f;
    int row_open;
} emitter;

static void em_sep(emitter *e)
{
    if (e->row_open)
        putc(',', e->f);
    e->row_open = 1;
}

static void em_field(emitter *e, const char *p, size_t n)
{
    em_sep(e);
    if (!sf_csv_needs_quotes(p, n)) {
        fwrite(p, 1, n, e->f);
        return;
    }
    putc('"', e->f);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            putc('"', e->f);
        putc(p[i], e->f);
    }
    putc('"', e->f);
}

static void em_value(emitter *e, const sf_value *v)
{
    if (v->type == SF_STRING) {
        em_field(e, v->u.s.p, v->u.s.n);
        return;
    }
    char tmp[SF_FMT_BUF];
    size_t n = sf_value_text_format(v, tmp);
    em_sep(e);
    fwrite(tmp, 1, n, e->f);
}

static void em_end(emitter *e)
{
    putc('\n', e->f);
    e->row_open = 0;
}

static void em_partition(emitter *e, const sf_hive_parts *kv)
{
    for (size_t k = 0; k < kv->n; k++) {
        size_t n;
        const char *v = sf_hive_value(kv, k, &n);
        if (kv->null[k])
            em_sep(e);
        else
            em_field(e, v, n);
    }
}

static int table_emit(table *t, emitter *e, const sf_hive_parts *kv, uint64_t *left, sf_error *err)
{
    while (*left > 0) {
        if (t->h5 || t->pq) {
            const sf_value *rows;
            size_t n;
            size_t want = *left < READ_BATCH ? (size_t)*left : READ_BATCH;
            int rc = sf_dataset_table_next(t, want, &rows, &n, err);
            if (rc)
                return rc;
            if (n == 0)
                return 0;
            for (size_t i = 0; i < n; i++) {
                em_partition(e, kv);
                for (size_t c = 0; c < t->ncols; c++)
                    em_value(e, &rows[i * t->ncols + c]);
                em_end(e);
            }
            *left -= n;
        } else {
            const sf_csv_field *f;
            size_t nf;
            int rc = sf_csv_reader_next(t->csv, &f, &nf, err);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return 0;
            if (nf != t->ncols)
                return sf_error_set(err, SF_E_PARSE, "%s: line %lld has %zu fields, the header %zu",
                                    t->src->file, (long long)sf_csv_reader_line(t->csv), nf,
                                    t->ncols);
            em_partition(e, kv);
            for (size_t c = 0; c < nf; c++) {
                if (f[c].n == 0 && !f[c].quoted)
                    em_sep(e); /* NULL stays an empty field, "" stays "" */
                else
                    em_field(e, f[c].p, f[c].n);
            }
            em_end(e);
            (*left)--;
        }
    }
    return 0;
}

/* ---- row order of split partitions ----
 *
 * A partition written by several ranks (--write local or coalesce=N) is
 * several files, each sorted. cat merges them in the order the writer
 * sorts by: the manifest's output.sort_by columns (each ascending or, for
 * "NAME desc", descending), then every written column in order, comparing
 * typed values (types from the manifest). That
 * is the order a one-file partition already has, so `cat` prints the same
 * text whatever the split. */

typedef struct row_order {
    size_t ncols;
    sf_type *types;  /* of each written column */
    int *keys;       /* column indexes to compare, in order */
    unsigned char *desc; /* per key: 1 for a descending sort_by entry */
    size_t nkeys;
} row_order;

static void order_free(row_order *r)
{
    free(r->types);
    free(r->keys);
    free(r->desc);
    memset(r, 0, sizeof *r);
}

/* The merge order from DIR/_MANIFEST.json (io/manifest): output.sort_by
 * columns that are written, then every written column. Returns 1 when the
 * order is known, 0 when there is no usable manifest (cat then keeps file
 * order). */
static int order_load(const char *dir, row_order *r)
{
    memset(r, 0, sizeof *r);
    sf_manifest_columns mc;
    int ok = sf_manifest_read_columns(dir, &mc);
    if (ok) {
        r->ncols = mc.ncols;
        r->types = calloc(r->ncols, sizeof *r->types);
        r->keys = calloc(mc.nsort + r->ncols, sizeof *r->keys);
        r->desc = calloc(mc.nsort + r->ncols, 1);
        ok = r->types && r->keys && r->desc;
    }
    for (size_t c = 0; ok && c < r->ncols; c++)
        r->types[c] = mc.types[c];
    for (size_t k = 0; ok && k < mc.nsort; k++) {
        int found = -1;
        for (size_t c = 0; mc.sort_by[k] && c < r->ncols; c++) {
            if (mc.names[c] && strcmp(mc.names[c], mc.sort_by[k]) == 0)
                found = (int)c;
        }
        if (found >= 0) { /* a sort column that is not written cannot be compared */
            r->desc[r->nkeys] = mc.sort_desc[k];
            r->keys[r->nkeys++] = found;
        }
    }
    for (size_t c = 0; ok && c < r->ncols; c++)
        r->keys[r->nkeys++] = (int)c;
    sf_manifest_columns_free(&mc);
    if (!ok)
        order_free(r);
    return ok;
}

/* One file of a split partition, positioned on its current row. */
typedef struct cursor {
    table t;
    const sf_value *batch; /* HDF5, Parquet: rows read, borrowed until the next read */
    size_t nbatch, at;
    sf_value *row;         /* CSV: the current row, typed */
    const sf_value *cur;   /* the current row, or NULL at the end */
} cursor;

/* Types one CSV field as the manifest says; an empty unquoted field is
 * NULL, as the writer prints NULL. */
static int typed_field(const sf_csv_field *f, sf_type t, sf_value *v)
{
    if (f->n == 0 && !f->quoted) {
        *v = sf_null();
        return 0;
    }
    /* Columns typed null in the manifest read back as their text. */
    return sf_value_text_parse(f->p, f->n, t == SF_NULL ? SF_STRING : t, v);
}

static int cursor_next(cursor *c, const row_order *ord, sf_error *err)
{
    c->cur = NULL;
    if (c->t.h5 || c->t.pq) {
        if (c->at == c->nbatch) {
            int rc = sf_dataset_table_next(&c->t, READ_BATCH, &c->batch, &c->nbatch, err);
            if (rc)
                return rc;
            c->at = 0;
            if (c->nbatch == 0)
                return 0;
        }
        c->cur = c->batch + c->at++ * c->t.ncols;
        return 0;
    }
    const sf_csv_field *f;
    size_t nf;
    int rc = sf_csv_reader_next(c->t.csv, &f, &nf, err);
    if (rc <= 0)
        return rc;
    if (nf != c->t.ncols)
        return sf_error_set(err, SF_E_PARSE, "%s: line %lld has %zu fields, the header %zu",
                            c->t.src->file, (long long)sf_csv_reader_line(c->t.csv), nf,
                            c->t.ncols);
    for (size_t k = 0; k < nf; k++) {
        if (typed_field(&f[k], ord->types[k], &c->row[k]) != 0)
            return sf_error_set(err, SF_E_PARSE, "%s: line %lld: '%.*s' is not a %s as the "
                                "manifest says", c->t.src->file,
                                (long long)sf_csv_reader_line(c->t.csv), (int)f[k].n, f[k].p,
                                sf_type_name(ord->types[k]));
    }
    c->cur = c->row;
    return 0;
}

static int row_cmp(const row_order *ord, const sf_value *a, const sf_value *b)
{
    for (size_t k = 0; k < ord->nkeys; k++) {
        int c = sf_value_cmp(&a[ord->keys[k]], &b[ord->keys[k]]);
        if (c)
            return ord->desc[k] ? -c : c;
    }
    return 0;
}

/* Emits the rows of sources [first, last) - one partition - merged in
 * row order; checks their columns against the header's. */
/* Parses the partition values of table i into kv and checks that they
 * have the keys of the first table (first). Returns 0 or SF_E_PARSE. */
static int part_keys(const output *o, size_t i, const sf_hive_parts *first, sf_hive_parts *kv,
                     sf_error *err)
{
    int rc = sf_hive_parse(o->s[i].part, kv, err);
    if (!rc && !sf_hive_same_keys(first, kv))
        rc = sf_error_set(err, SF_E_PARSE, "%s: partition keys of '%s' differ from those of '%s'",
                          o->path, o->s[i].part, o->s[0].part);
    return rc;
}

static int merge_emit(const output *o, size_t first, size_t last, const row_order *ord,
                      const table *head, emitter *e, const sf_hive_parts *kv, uint64_t *left,
                      sf_error *err)
{
    size_t n = last - first;
    cursor *c = calloc(n, sizeof *c);
    int rc = c ? 0 : sf_error_set(err, SF_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = sf_dataset_table_open(&c[i].t, &o->s[first + i], err);
        int same = !rc && c[i].t.ncols == head->ncols && head->ncols == ord->ncols;
        for (size_t k = 0; same && k < head->ncols; k++)
            same = strcmp(c[i].t.cols[k], head->cols[k]) == 0;
        if (!rc && !same)
            rc = sf_error_set(err, SF_E_PARSE, "%s: its columns differ from those of %s or of "
                              "the manifest", o->s[first + i].file, o->s[0].file);
        if (!rc && !(c[i].row = calloc(ord->ncols, sizeof *c[i].row)))
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
        if (!rc)
            rc = cursor_next(&c[i], ord, err);
    }
    while (!rc && *left > 0) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (c[i].cur && (best == n || row_cmp(ord, c[i].cur, c[best].cur) < 0))
                best = i;
        }
        if (best == n)
            break;
        em_partition(e, kv);
        for (size_t k = 0; k < ord->ncols; k++)
            em_value(e, &c[best].cur[k]);
        em_end(e);
        (*left)--;
        rc = cursor_next(&c[best], ord, err);
    }
    for (size_t i = 0; c && i < n; i++) {
        sf_dataset_table_close(&c[i].t);
        free(c[i].row);
    }
    free(c);
    return rc;
}

/* Prints the output as CSV (header and at most limit rows) on f. */
static int emit(const output *o, FILE *f, uint64_t limit, sf_error *err)
{
    if (o->n == 0 || limit == 0)
        return 0;
    emitter e = {f, 0};
    sf_hive_parts *first = calloc(1, sizeof *first), *kv = calloc(1, sizeof *kv);
    table head, t;
    memset(&head, 0, sizeof head);
    memset(&t, 0, sizeof t);
    int rc = first && kv ? 0 : sf_error_set(err, SF_E_NOMEM, "out of memory");
    if (!rc)
        rc = sf_hive_parse(o->s[0].part, first, err);
    /* The first table fixes the header everything else must match. */
    if (!rc)
        rc = sf_dataset_table_open(&head, &o->s[0], err);
    if (!rc) {
        for (size_t k = 0; k < first->n; k++) {
            size_t n;
            const char *key = sf_hive_key(first, k, &n);
            em_field(&e, key, n);
        }
        for (size_t c = 0; c < head.ncols; c++)
            em_field(&e, head.cols[c], strlen(head.cols[c]));
        em_end(&e);
    }
    uint64_t left = limit;
    row_order ord;
    int ordered = o->is_dir && order_load(o->path, &ord);
    for (size_t i = 0; i < o->n && !rc && left > 0; i++) {
        /* A partition split over several files is merged in row order. */
        size_t last = i + 1;
        while (last < o->n && strcmp(o->s[last].part, o->s[i].part) == 0)
            last++;
        if (ordered && last - i > 1) {
            rc = part_keys(o, i, first, kv, err);
            if (!rc)
                rc = merge_emit(o, i, last, &ord, &head, &e, kv, &left, err);
            i = last - 1;
            continue;
        }
        table *cur = &head;
        if (i > 0) {
            cur = &t;
            rc = part_keys(o, i, first, kv, err);
            if (!rc)
                rc = sf_dataset_table_open(&t, &o->s[i], err);
            int same = !rc && t.ncols == head.ncols;
            for (size_t c = 0; same && c < t.ncols; c++)
                same = strcmp(t.cols[c], head.cols[c]) == 0;
            if (!rc && !same)
                rc = sf_error_set(err, SF_E_PARSE, "%s: its columns differ from those of %s",
                                  o->s[i].file, o->s[0].file);
        }
        if (!rc)
            rc = table_emit(cur, &e, i > 0 ? kv : first, &left, err);
        /* head stays open to the end: its column names are the header. */
        if (i > 0)
            sf_dataset_table_close(&t);
    }
    if (ordered)
        order_free(&ord);
    sf_dataset_table_close(&head);
    sf_dataset_table_close(&t);
    if (first)
        sf_hive_parts_free(first);
    if (kv)
        sf_hive_parts_free(kv);
    free(first);
    free(kv);
    return rc;
}

/* ---- command lines ---- */

static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

/* One line naming the problem, then "Try 'shardflow CMD --help'." (options.c). */
static int usage_error(const char *cmd, const char *usage, const char *what, const char *arg)
{
    (void)cmd;
    if (arg && strcmp(what, "unknown option") == 0)
        return sf_cli_unknown_option(usage, arg);
    char line[512];
    snprintf(line, sizeof line, "%s%s%s", what, arg ? " " : "", arg ? arg : "");
    return sf_cli_usage_error(usage, "%s", line);
}

static int fail(const char *cmd, const sf_error *err)
{
    fprintf(stderr, "shardflow %s: %s\n", cmd, err->msg);
    return 1;
}

/* Finishes stdout; a write error (a full disk, a closed pipe) is a failure. */
static int finish_stdout(const char *cmd)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "shardflow %s: cannot write to stdout: %s\n", cmd, strerror(errno));
        return 1;
    }
    return 0;
}

/* Parses the arguments of a command that takes one PATH and one option with
 * a value (opt VALUE or opt=VALUE); "--" ends the options. Sets *path and
 * *val (NULL when the option is not given). Returns -1 when the arguments
 * are well formed, else the exit code of the usage error it printed
 * (missing_value names a missing value). */
static int path_and_option(const char *cmd, const char *usage, const char *opt,
                           const char *missing_value, int argc, char **argv, const char **path,
                           const char **val)
{
    size_t olen = strlen(opt);
    int opts_done = 0;
    *path = *val = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = 1;
        } else if (!opts_done && strcmp(a, opt) == 0) {
            if (i + 1 >= argc)
                return usage_error(cmd, usage, missing_value, NULL);
            *val = argv[++i];
        } else if (!opts_done && strncmp(a, opt, olen) == 0 && a[olen] == '=') {
            *val = a + olen + 1;
        } else if (!opts_done && a[0] == '-' && a[1]) {
            return usage_error(cmd, usage, "unknown option", a);
        } else if (*path) {
            return usage_error(cmd, usage, "more than one path:", a);
        } else {
            *path = a;
        }
    }
    if (!*path)
        return usage_error(cmd, usage, "missing PATH", NULL);
    return -1;
}

int sf_cat_main(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(sf_cat_usage, stdout);
        return 0;
    }
    const char *path, *fmt;
    int bad = path_and_option("cat", sf_cat_usage, "--format", "--format needs a value", argc, argv,
                              &path, &fmt);
    if (bad >= 0)
        return bad;
    if (fmt && strcmp(fmt, "csv") != 0)
        return usage_error("cat", sf_cat_usage, "unsupported --format (only csv):", fmt);
    output o;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_dataset_open(&o, path, &err);
    if (!rc)
        rc = emit(&o, stdout, UINT64_MAX, &err);
    sf_dataset_free(&o);
    int code = finish_stdout("cat");
    return rc ? fail("cat", &err) : code;
}

/* Rows and bytes of one table, as inspect lists them. */
static int measure(const source *s, uint64_t *rows, uint64_t *bytes, sf_error *err)
{
    *rows = 0;
    *bytes = 0;
    if (s->kind == SRC_H5 && s->group[0]) {
        /* A group of a single-layout file: its share of the file. */
        sf_h5_reader *r;
        int rc = sf_h5_reader_open(&r, s->file, s->group, err);
        if (rc)
            return rc;
        *rows = sf_h5_reader_nrows(r);
        *bytes = sf_h5_reader_storage(r);
        sf_h5_reader_close(r);
        return 0;
    }
    struct stat st;
    if (stat(s->file, &st) != 0)
        return sf_error_set(err, SF_E_IO, "cannot stat '%s': %s", s->file, strerror(errno));
    *bytes = (uint64_t)st.st_size;
    table t;
    int rc = sf_dataset_table_open(&t, s, err);
    if (!rc && t.h5) {
        *rows = sf_h5_reader_nrows(t.h5);
    } else if (!rc && t.pq) {
        *rows = sf_parquet_reader_nrows(t.pq);
    } else if (!rc) {
        const sf_csv_field *f;
        size_t nf;
        while ((rc = sf_csv_reader_next(t.csv, &f, &nf, err)) > 0)
            (*rows)++;
    }
    sf_dataset_table_close(&t);
    return rc;
}

/* A statistic for inspect: strings quoted and cut at 24 bytes, other
 * values in their text form. */
static void print_stat(const sf_value *v)
{
    if (v->type == SF_STRING) {
        int n = v->u.s.n > 24 ? 24 : (int)v->u.s.n;
        printf("\"%.*s\"%s", n, v->u.s.p, v->u.s.n > 24 ? "..." : "");
        return;
    }
    char tmp[SF_FMT_BUF];
    size_t n = sf_value_text_format(v, tmp);
    printf("%.*s", (int)n, tmp);
}

/* Per row group of a Parquet file, per column chunk: codec, encoding,
 * compressed and uncompressed bytes and the statistics the footer holds. */
static int print_parquet_chunks(const source *s, sf_error *err)
{
    sf_parquet_reader *r;
    int rc = sf_parquet_reader_open(&r, s->file, err);
    if (rc)
        return rc;
    size_t nrg = sf_parquet_reader_row_groups(r), ncols = sf_parquet_reader_ncols(r);
    for (size_t g = 0; g < nrg; g++) {
        for (size_t c = 0; c < ncols; c++) {
            sf_parquet_chunk_info ci;
            sf_parquet_reader_chunk(r, g, c, &ci);
            if (c == 0)
                printf("      row group %zu: %llu rows\n", g, (unsigned long long)ci.rows);
            printf("        %-20s %-12s %-10s %10llu bytes (%llu uncompressed)",
                   sf_parquet_reader_name(r, c), ci.codec, ci.dictionary ? "dictionary" : "plain",
                   (unsigned long long)ci.compressed, (unsigned long long)ci.uncompressed);
            if (ci.has_null_count)
                printf("  nulls %llu", (unsigned long long)ci.null_count);
            if (ci.has_nan_count)
                printf("  NaN %llu", (unsigned long long)ci.nan_count);
            if (ci.has_minmax) {
                printf("  min ");
                print_stat(&ci.min);
                printf("  max ");
                print_stat(&ci.max);
            }
            putchar('\n');
        }
    }
    sf_parquet_reader_close(r);
    return 0;
}

/* Whether source i is the first table listed from its file. */
static int first_of_file(const output *o, size_t i)
{
    if (!o->s[i].group || !o->s[i].group[0])
        return 1; /* a CSV file or a part file holds one table */
    for (size_t j = 0; j < i; j++) {
        if (strcmp(o->s[j].file, o->s[i].file) == 0)
            return 0;
    }
    return 1;
}

/* The runs that built the output, from its _MANIFEST.json (if any). */
static void print_runs(const char *dir)
{
    sf_error err;
    sf_manifest_run *runs = NULL;
    size_t n = 0;
    if (sf_manifest_read_runs(dir, &runs, &n, &err) == 0 && n > 0) {
        printf("runs:       %zu\n", n);
        for (size_t i = 0; i < n; i++)
            printf("  %-28s %-22s %8llu files %12llu rows\n", runs[i].run_id,
                   runs[i].write_mode[0] ? runs[i].write_mode : "-",
                   (unsigned long long)runs[i].files, (unsigned long long)runs[i].rows);
    }
    free(runs);
}

/* What the output's _MANIFEST.json (if any) says about the lines read:
 * rows, rejected lines by reason, and where the bad lines went. */
static void print_counts(const char *dir)
{
    sf_manifest_counts c;
    if (!sf_manifest_read_counts(dir, &c))
        return;
    printf("rows:       %llu written from %llu lines read (_MANIFEST.json)\n",
           (unsigned long long)c.output_rows, (unsigned long long)c.lines_read);
    printf("rejected:   %llu line%s%s%s%s\n", (unsigned long long)c.rows_rejected,
           c.rows_rejected == 1 ? "" : "s", c.mode[0] ? " (--mode " : "", c.mode,
           c.mode[0] ? ")" : "");
    for (size_t i = 0; i < c.nreasons; i++)
        printf("  %-28s %12llu\n", c.reason[i], (unsigned long long)c.reason_count[i]);
    if (c.has_duplicates)
        printf("duplicates: %llu dropped by the dedupe step\n",
               (unsigned long long)c.duplicates_dropped);
    if (c.bad_records) {
        char *bad = sf_dataset_join(dir, "/", "_bad_records/");
        struct stat st;
        int there = bad && stat(bad, &st) == 0 && S_ISDIR(st.st_mode);
        printf("bad lines:  %llu in %s%s\n", (unsigned long long)c.bad_records,
               bad ? bad : "_bad_records/", there ? "" : " (missing)");
        free(bad);
    }
}

static void print_header(const output *o, const table *t)
{
    printf("output:     %s\n", o->path);
    const char *layout = t->h5 ? sf_h5_reader_attr(t->h5, "shardflow_layout") : NULL;
    if (t->h5)
        printf("format:     hdf5, %s layout\n", layout && strcmp(layout, "single") == 0
                                                     ? "single-file"
                                                     : "hive");
    else if (t->pq)
        printf("format:     parquet\n");
    else
        printf("format:     csv\n");
    if (o->is_dir) {
        char *success = sf_dataset_join(o->path, "/", "_SUCCESS");
        struct stat st;
        int ok = success && stat(success, &st) == 0;
        printf("committed:  %s\n", ok ? "yes (_SUCCESS present)"
                                      : "no (no _SUCCESS: the run failed or is still running)");
        free(success);
        print_runs(o->path);
        print_counts(o->path);
    }
    if (t->h5) {
        const char *job = sf_h5_reader_attr(t->h5, "job");
        const char *hash = sf_h5_reader_attr(t->h5, "spec_hash");
        const char *ver = sf_h5_reader_attr(t->h5, "shardflow_version");
        printf("job:        %s (spec hash %s, shardflow %s)\n", job && job[0] ? job : "-",
               hash && hash[0] ? hash : "-", ver && ver[0] ? ver : "-");
    }
    if (t->pq) {
        const char *job = sf_parquet_reader_kv(t->pq, "shardflow.job");
        const char *hash = sf_parquet_reader_kv(t->pq, "shardflow.spec_hash");
        const char *ver = sf_parquet_reader_kv(t->pq, "shardflow.version");
        const char *cb = sf_parquet_reader_created_by(t->pq);
        printf("job:        %s (spec hash %s, shardflow %s)\n", job && job[0] ? job : "-",
               hash && hash[0] ? hash : "-", ver && ver[0] ? ver : "-");
        const char *rid = sf_parquet_reader_kv(t->pq, "shardflow.run_id");
        printf("run id:     %s\n", rid && rid[0] ? rid : "-");
        printf("created by: %s\n", cb ? cb : "-");
    }
    size_t width = 0;
    for (size_t c = 0; c < t->ncols; c++)
        width = strlen(t->cols[c]) > width ? strlen(t->cols[c]) : width;
    /* CSV holds text: the types are the manifest's, when it names every
     * column of the file. */
    sf_manifest_columns mc;
    memset(&mc, 0, sizeof mc);
    const char **csv_types = calloc(t->ncols ? t->ncols : 1, sizeof *csv_types); /* owned */
    char(*tnames)[24] = calloc(t->ncols ? t->ncols : 1, sizeof *tnames); /* "decimal(P,S)" */
    int typed = csv_types && tnames && !t->h5 && !t->pq && o->is_dir &&
                sf_manifest_read_columns(o->path, &mc);
    for (size_t c = 0; typed && c < t->ncols; c++) {
        for (size_t k = 0; k < mc.ncols && !csv_types[c]; k++) {
            if (mc.names[k] && strcmp(mc.names[k], t->cols[c]) == 0)
                csv_types[c] = sf_type_format(mc.types[k], mc.decs[k], tnames[c]);
        }
        typed = csv_types[c] != NULL;
    }
    sf_manifest_columns_free(&mc);
    printf("columns:    %zu%s\n", t->ncols,
           t->h5 || t->pq ? "" : typed ? " (types from _MANIFEST.json)" : " (CSV: untyped text)");
    for (size_t c = 0; c < t->ncols; c++) {
        char tb[24];
        if (t->pq && !typed) /* decimal(P,S) from the Parquet schema */
            sf_type_format(sf_parquet_reader_type(t->pq, c), sf_parquet_reader_dec(t->pq, c), tb);
        if (t->h5 || t->pq || typed)
            printf("  %-*s  %s\n", (int)width, t->cols[c],
                   typed ? csv_types[c]
                   : t->pq ? tb
                           : sf_type_name(sf_h5_reader_type(t->h5, c)));
        else
            printf("  %s\n", t->cols[c]);
    }
    free(csv_types);
    free(tnames);
}

int sf_inspect_main(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(sf_inspect_usage, stdout);
        return 0;
    }
    const char *path, *val;
    uint64_t head = 0;
    int want_head = 0;
    int bad = path_and_option("inspect", sf_inspect_usage, "--head", "--head needs a number", argc,
                              argv, &path, &val);
    if (bad >= 0)
        return bad;
    if (val) {
        int64_t n;
        if (sf_parse_int64(val, strlen(val), &n) != 0 || n < 0)
            return usage_error("inspect", sf_inspect_usage,
                               "--head needs a non-negative number, not", val);
        head = (uint64_t)n;
        want_head = 1;
    }

    output o;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_dataset_open(&o, path, &err);
    table first;
    memset(&first, 0, sizeof first);
    if (!rc && o.n == 0) {
        printf("output:     %s\n", path);
        printf("tables:     none (no part files: an output without rows, or not an output)\n");
    } else if (!rc) {
        rc = sf_dataset_table_open(&first, &o.s[0], &err);
        if (!rc)
            print_header(&o, &first);
        sf_dataset_table_close(&first);
    }
    uint64_t total_rows = 0, total_bytes = 0;
    size_t nparts = 0, nfiles = 0;
    if (!rc && o.n > 0) {
        sf_hive_parts *kv = calloc(1, sizeof *kv);
        rc = kv ? sf_hive_parse(o.s[0].part, kv, &err) : sf_error_set(&err, SF_E_NOMEM, "out of memory");
        if (!rc) {
            printf("partitioned by: ");
            for (size_t k = 0; k < kv->n; k++) {
                size_t n;
                const char *key = sf_hive_key(kv, k, &n);
                printf("%s%.*s", k ? ", " : "", (int)n, key);
            }
            printf("%s\n", kv->n ? "" : "(not partitioned)");
        }
        if (kv)
            sf_hive_parts_free(kv);
        free(kv);
        /* Partitions may have failed to parse as key=value: inspect still
         * lists them, only cat needs the keys. */
        if (rc) {
            printf("partitioned by: (%s)\n", err.msg);
            sf_error_clear(&err);
            rc = 0;
        }
        printf("tables:\n");
        for (size_t i = 0; i < o.n && !rc; i++) {
            uint64_t rows, bytes;
            rc = measure(&o.s[i], &rows, &bytes, &err);
            if (rc)
                break;
            printf("  %-24s %-40s %10llu rows %12llu bytes\n", o.s[i].part[0] ? o.s[i].part : "-",
                   o.s[i].name, (unsigned long long)rows, (unsigned long long)bytes);
            if (o.s[i].kind == SRC_PQ && (rc = print_parquet_chunks(&o.s[i], &err)) != 0)
                break;
            total_rows += rows;
            if (i == 0 || strcmp(o.s[i].part, o.s[i - 1].part) != 0)
                nparts++;
            if (first_of_file(&o, i)) {
                /* Whole files, so a single-layout file counts with its
                 * overhead, once. */
                struct stat st;
                nfiles++;
                if (stat(o.s[i].file, &st) == 0)
                    total_bytes += (uint64_t)st.st_size;
            }
        }
        if (!rc)
            printf("total:      %zu partition%s, %zu file%s, %llu rows, %llu bytes\n", nparts,
                   nparts == 1 ? "" : "s", nfiles, nfiles == 1 ? "" : "s",
                   (unsigned long long)total_rows, (unsigned long long)total_bytes);
    }
    if (!rc && want_head) {
        printf("first %llu rows:\n", (unsigned long long)head);
        rc = emit(&o, stdout, head, &err);
    }
    sf_dataset_free(&o);
    int code = finish_stdout("inspect");
    return rc ? fail("inspect", &err) : code;
}

