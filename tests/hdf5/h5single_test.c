/* h5single_test.c - MPI driver for the HDF5 outputs, run under mpiexec -n
 * 1..4 (ctest label "mpi").
 *
 * Every rank generates the same deterministic partitions (every type, NULLs,
 * non-ASCII, a NUL byte, an empty partition, one larger than several
 * chunks) and keeps the ones it owns: ownership is uneven and, from 2 ranks
 * on, the last rank owns none. Then:
 *   - sf_h5single_write writes the single layout with gzip (collective
 *     transfers), again with sync_later (the same bytes), and without
 *     compression (independent ones), and an
 *     unpartitioned file owned by one rank; rank 0 reads every partition
 *     back with io/h5read and checks every value;
 *   - failures agree: a partition named on two ranks, a value of the wrong
 *     type on one rank;
 *   - rank 0 writes the same data as CSV and as hive part files, and checks
 *     that `shardflow cat` prints the same bytes for all three outputs, and
 *     what `inspect` says;
 *   - h5dump reads every file (skipped with a message when not installed),
 *     and h5py_check.py reads the single file with h5py when an interpreter
 *     with h5py is found (skipped with a message otherwise).
 * usage: h5single_test --work DIR [--h5dump PATH] [--check h5py_check.py]
 *                      [--python PYTHON]
 */
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/rows.h"
#include "io/csv.h"
#include "io/fsutil.h"
#include "io/h5file.h"
#include "io/h5read.h"
#include "io/hive.h"
#include "mpi/h5single.h"
#include "cli/inspect.h"

#define NPARTS 9
#define WIDE 7  /* values per generated row: date, n, country, revenue, flag, day, note */
#define NCOLS 6 /* written columns */

static int rank, nranks, failures;

#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__);                   \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fputc('\n', stderr);                                                                  \
            failures++;                                                                           \
        }                                                                                         \
    } while (0)

static const char *const col_names[NCOLS] = {"country", "n", "revenue", "flag", "day", "note"};
static const sf_type col_types[NCOLS] = {SF_STRING, SF_INT, SF_DOUBLE, SF_BOOL, SF_DATE,
                                         SF_STRING};
static const int col_map[NCOLS] = {2, 1, 3, 4, 5, 6};

static const char *const countries[] = {"AU", "BR", "DE", "FR", "JP", "US"};
static const struct {
    const char *p;
    size_t n;
} notes[] = {{"plain", 5},
             {"h\xc3\xa9llo w\xc3\xb6rld", 13},
             {"comma, \"quote\"", 14},
             {"line\nbreak", 10},
             {"", 0},
             {"\xe6\x97\xa5\xe6\x9c\xac", 6},
             {NULL, 0}};
#define NNOTES (sizeof notes / sizeof *notes)

static size_t part_rows(int k)
{
    if (k == 0)
        return 0;
    if (k == 1)
        return 1234;
    return (size_t)((k * 37) % 50 + 1);
}

static int owner_of(int k)
{
    return nranks == 1 ? 0 : (k * 5 + 1) % (nranks - 1);
}

static void gen_row(int k, size_t i, sf_value *w)
{
    w[0] = sf_date(20301 + k);
    w[1] = i % 9 == 4 ? sf_null() : sf_int((int64_t)(k * 100000 + (int)i) * (i % 2 ? -1 : 1));
    w[2] = sf_string(countries[(i + (size_t)k) % 6], 2);
    w[3] = i % 5 == 2 ? sf_null() : sf_double(i % 13 == 0 ? 0.1 * (double)i : (double)i / 8.0 + k);
    w[4] = sf_bool((i + (size_t)k) % 3 == 0);
    w[5] = i % 11 == 7 ? sf_null() : sf_date((int32_t)(i % 1000) - 500);
    size_t idx = (i * 3 + (size_t)k) % NNOTES;
    if (k == 3 && i == 2)
        w[6] = sf_string("a\0b", 3);
    else
        w[6] = notes[idx].p ? sf_string(notes[idx].p, notes[idx].n) : sf_null();
}

/* "date=2025-08-0K" into buf. */
static void part_name(int k, char *buf, size_t size)
{
    sf_buf b = SF_BUF_INIT;
    const char *key[] = {"date"};
    sf_value v = sf_date(20301 + k);
    sf_hive_dirname(key, &v, 1, &b);
    snprintf(buf, size, "%.*s", (int)b.n, (const char *)b.p);
    sf_buf_free(&b);
}

static int same_value(const sf_value *a, const sf_value *b)
{
    if (a->type != b->type)
        return 0;
    switch ((sf_type)a->type) {
    case SF_NULL:
        return 1;
    case SF_BOOL:
        return a->u.b == b->u.b;
    case SF_INT:
    case SF_TIMESTAMP:
        return a->u.i == b->u.i;
    case SF_DOUBLE:
        return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
    case SF_DATE:
        return a->u.date == b->u.date;
    case SF_STRING:
        return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
    case SF_DECIMAL:
        return a->scale == b->scale && sf_value_cmp(a, b) == 0;
    }
    return 0;
}

/* This rank's partitions: rows in t, parts pointing into it. */
typedef struct mine {
    sf_rows t;
    sf_h5single_part parts[NPARTS];
    char names[NPARTS][64];
    size_t n;
} mine;

static void build_mine(mine *m)
{
    sf_rows_init(&m->t, WIDE);
    size_t start[NPARTS];
    int ks[NPARTS];
    m->n = 0;
    for (int k = 0; k < NPARTS; k++) {
        if (owner_of(k) != rank)
            continue;
        start[m->n] = m->t.n;
        ks[m->n] = k;
        for (size_t i = 0; i < part_rows(k); i++) {
            sf_value *row = sf_rows_append(&m->t);
            if (!row) {
                fprintf(stderr, "rank %d: out of memory\n", rank);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            gen_row(k, i, row);
        }
        m->n++;
    }
    /* Pointers only once the table stopped growing. */
    for (size_t j = 0; j < m->n; j++) {
        part_name(ks[j], m->names[j], sizeof m->names[j]);
        m->parts[j].name = m->names[j];
        m->parts[j].rows = part_rows(ks[j]) ? sf_rows_at(&m->t, start[j]) : NULL;
        m->parts[j].nrows = part_rows(ks[j]);
    }
}

static const sf_h5single_table table = {NCOLS, col_names, col_types, col_map, WIDE};

static uint64_t total_rows(void)
{
    uint64_t n = 0;
    for (int k = 0; k < NPARTS; k++)
        n += part_rows(k);
    return n;
}

/* Reads group of path back and compares with partition k (rank 0). */
static void verify_table(const char *path, const char *group, int k)
{
    sf_h5_reader *r = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_h5_reader_open(&r, path, group, &err) != 0) {
        CHECK(0, "open %s:%s: %s", path, group, err.msg);
        return;
    }
    CHECK(sf_h5_reader_ncols(r) == NCOLS, "%s: %zu columns", group, sf_h5_reader_ncols(r));
    for (size_t c = 0; c < NCOLS && c < sf_h5_reader_ncols(r); c++) {
        CHECK(strcmp(sf_h5_reader_name(r, c), col_names[c]) == 0, "column %zu name", c);
        CHECK(sf_h5_reader_type(r, c) == col_types[c], "column %zu type", c);
    }
    CHECK(sf_h5_reader_nrows(r) == part_rows(k), "%s: %llu rows, want %zu", group,
          (unsigned long long)sf_h5_reader_nrows(r), part_rows(k));
    size_t seen = 0;
    for (;;) {
        const sf_value *rows;
        size_t n;
        if (sf_h5_reader_next(r, 97, &rows, &n, &err) != 0) {
            CHECK(0, "read %s: %s", group, err.msg);
            break;
        }
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            sf_value w[WIDE];
            gen_row(k, seen + i, w);
            for (size_t c = 0; c < NCOLS; c++)
                CHECK(same_value(&rows[i * NCOLS + c], &w[col_map[c]]),
                      "%s row %zu column %s differs", group, seen + i, col_names[c]);
        }
        seen += n;
    }
    CHECK(seen == part_rows(k), "%s: read %zu rows", group, seen);
    sf_h5_reader_close(r);
}

/* opt.sync_later: rank 0 only started the file's writeback (the run syncs
 * it with its other files); the file is the one written with an fsync. */
static void check_same_bytes_then_sync(const char *synced, const char *later)
{
    sf_error err;
    sf_error_clear(&err);
    char *p = NULL, *q = NULL;
    size_t lp = 0, lq = 0;
    CHECK(sf_read_file(synced, &p, &lp, &err) == 0, "read: %s", err.msg);
    CHECK(sf_read_file(later, &q, &lq, &err) == 0, "read: %s", err.msg);
    CHECK(p && q && lp == lq && memcmp(p, q, lp) == 0,
          "%s (sync_later) is not %s byte for byte (%zu, %zu bytes)", later, synced, lq, lp);
    free(p);
    free(q);
    CHECK(sf_fsync_file(later, &err) == 0, "sync: %s", err.msg);
}

static void write_single(const char *path, mine *m, const sf_h5_options *opt)
{
    sf_error err;
    sf_error_clear(&err);
    uint64_t rows = 0, bytes = 0;
    int rc = sf_h5single_write(MPI_COMM_WORLD, path, &table, m->parts, m->n, opt, &rows, &bytes,
                               &err);
    CHECK(rc == 0, "sf_h5single_write %s: %s", path, err.msg);
    CHECK(rows == total_rows(), "%s: %llu rows", path, (unsigned long long)rows);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == bytes, "%s: size %llu", path,
          (unsigned long long)bytes);
    if (rank == 0 && rc == 0) {
        char **tables = NULL;
        size_t nt = 0;
        CHECK(sf_h5_tables(path, &tables, &nt, &err) == 0, "tables: %s", err.msg);
        CHECK(nt == NPARTS, "%s: %zu tables", path, nt);
        for (int k = 0; k < NPARTS && (size_t)k < nt; k++) {
            char name[64];
            part_name(k, name, sizeof name);
            CHECK(strcmp(tables[k], name) == 0, "table %d is %s", k, tables[k]);
            verify_table(path, name, k);
        }
        sf_h5_tables_free(tables, nt);
    }
}

/* An unpartitioned output: one root table, owned by the last rank. */
static void write_flat(const char *path)
{
    int k = 1;
    size_t n = part_rows(k);
    sf_rows t;
    sf_rows_init(&t, WIDE);
    sf_h5single_part part = {"", NULL, 0};
    if (rank == nranks - 1) {
        for (size_t i = 0; i < n; i++)
            gen_row(k, i, sf_rows_append(&t));
        part.rows = sf_rows_at(&t, 0);
        part.nrows = n;
    }
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_h5single_write(MPI_COMM_WORLD, path, &table, &part, rank == nranks - 1, NULL,
                               NULL, NULL, &err);
    CHECK(rc == 0, "flat: %s", err.msg);
    if (rank == 0 && rc == 0) {
        char **tables = NULL;
        size_t nt = 0;
        CHECK(sf_h5_tables(path, &tables, &nt, &err) == 0 && nt == 1 && tables[0][0] == '\0',
              "flat: tables");
        sf_h5_tables_free(tables, nt);
        verify_table(path, "", k);
    }
    sf_rows_free(&t);
}

static void check_failures_agree(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bad.h5", dir);
    sf_value row[WIDE];
    gen_row(2, 0, row);
    sf_h5single_part dup = {"date=dup", row, 1};
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_h5single_write(MPI_COMM_WORLD, path, &table, &dup, 1, NULL, NULL, NULL, &err);
    if (nranks == 1) {
        CHECK(rc == 0, "one rank, one partition: %s", err.msg);
    } else {
        CHECK(rc == SF_E_INVAL, "duplicate partition: rc %d", rc);
        CHECK(strstr(err.msg, "'date=dup' is written by ranks 0 and 1") != NULL, "message: %s",
              err.msg);
    }
    /* A wrong type on the last rank only: everybody fails with its message. */
    sf_value bad[WIDE];
    gen_row(2, 0, bad);
    if (rank == nranks - 1)
        bad[col_map[1]] = sf_double(1.5);
    char name[32];
    snprintf(name, sizeof name, "r=%d", rank);
    sf_h5single_part part = {name, bad, 1};
    sf_error_clear(&err);
    rc = sf_h5single_write(MPI_COMM_WORLD, path, &table, &part, 1, NULL, NULL, NULL, &err);
    CHECK(rc == SF_E_TYPE, "wrong type: rc %d", rc);
    char want[64];
    snprintf(want, sizeof want, "rank %d: ", nranks - 1);
    CHECK(strncmp(err.msg, want, strlen(want)) == 0, "message: %s", err.msg);
    CHECK(strstr(err.msg, "column 'n': a double value in a int64 column") != NULL, "message: %s",
          err.msg);
}

/* Rank 0: the same partitions as CSV and as hive part files. */
static void write_reference_outputs(const char *csvdir, const char *hivedir)
{
    for (int k = 0; k < NPARTS; k++) {
        char name[64], dir[768], path[800];
        part_name(k, name, sizeof name);
        sf_error err;
        sf_error_clear(&err);
        snprintf(dir, sizeof dir, "%s/%s", csvdir, name);
        CHECK(sf_mkdirs(dir, &err) == 0, "mkdir %s", dir);
        snprintf(path, sizeof path, "%s/part-00000.csv", dir);
        sf_csv_writer *cw = NULL;
        CHECK(sf_csv_writer_open(&cw, path, &err) == 0, "csv open: %s", err.msg);
        if (!cw)
            return;
        for (size_t c = 0; c < NCOLS; c++)
            sf_csv_write_field(cw, col_names[c], strlen(col_names[c]));
        sf_csv_end_row(cw);
        snprintf(dir, sizeof dir, "%s/%s", hivedir, name);
        CHECK(sf_mkdirs(dir, &err) == 0, "mkdir %s", dir);
        snprintf(path, sizeof path, "%s/part-00000.h5", dir);
        sf_h5_writer *hw = NULL;
        sf_h5_options o;
        sf_h5_options_init(&o);
        o.chunk_rows = 100;
        CHECK(sf_h5_writer_open(&hw, path, NCOLS, col_names, col_types, &o, &err) == 0,
              "h5 open: %s", err.msg);
        for (size_t i = 0; i < part_rows(k); i++) {
            sf_value w[WIDE];
            gen_row(k, i, w);
            for (size_t c = 0; c < NCOLS; c++)
                sf_csv_write_value(cw, &w[col_map[c]]);
            sf_csv_end_row(cw);
            if (hw)
                CHECK(sf_h5_writer_append_cols(hw, w, col_map) == 0, "append");
        }
        CHECK(sf_csv_writer_close(cw, NULL, &err) == 0, "csv close: %s", err.msg);
        CHECK(sf_h5_writer_close(hw, NULL, NULL, &err) == 0, "h5 close: %s", err.msg);
    }
}

/* Runs a command main with stdout sent to out; returns its exit code. */
static int run_captured(int (*fn)(int, char **), int argc, char **argv, const char *out)
{
    fflush(stdout);
    int saved = dup(1);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved < 0 || fd < 0)
        return -1;
    dup2(fd, 1);
    close(fd);
    int code = fn(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    return code;
}

static int contains(const char *hay, size_t n, const char *needle, size_t k)
{
    for (size_t i = 0; hay && k <= n && i <= n - k; i++) {
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    }
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    char *data = NULL;
    sf_error err;
    if (sf_read_file(path, &data, len, &err) != 0)
        return NULL;
    return data;
}

static void check_cat_and_inspect(const char *work, const char *csvdir, const char *hivedir,
                                  const char *singledir)
{
    const char *dirs[3] = {csvdir, hivedir, singledir};
    char *text[3] = {0};
    size_t len[3] = {0};
    for (int i = 0; i < 3; i++) {
        char out[600];
        snprintf(out, sizeof out, "%s/cat%d.csv", work, i);
        char *argv[] = {(char *)dirs[i], "--format", "csv"};
        CHECK(run_captured(sf_cat_main, 3, argv, out) == 0, "cat %s failed", dirs[i]);
        text[i] = slurp(out, &len[i]);
        CHECK(text[i] != NULL, "no cat output for %s", dirs[i]);
    }
    size_t lines = 0;
    for (size_t i = 0; text[0] && i < len[0]; i++)
        lines += text[0][i] == '\n';
    /* One line per row, plus the header, plus the embedded newlines of the
     * "line\nbreak" notes. */
    size_t breaks = 0;
    for (int k = 0; k < NPARTS; k++)
        for (size_t i = 0; i < part_rows(k); i++) {
            sf_value w[WIDE];
            gen_row(k, i, w);
            breaks += w[6].type == SF_STRING && w[6].u.s.n == 10;
        }
    CHECK(lines == 1 + total_rows() + breaks, "cat of CSV has %zu lines", lines);
    const char *header = "date,country,n,revenue,flag,day,note\n";
    CHECK(text[0] && strncmp(text[0], header, strlen(header)) == 0, "cat header");
    CHECK(contains(text[0], len[0], "\n2025-08-04,", 12), "partition value printed");
    CHECK(contains(text[0], len[0], "a\0b", 3), "NUL byte kept");
    for (int i = 1; i < 3; i++)
        CHECK(text[0] && text[i] && len[0] == len[i] && memcmp(text[0], text[i], len[0]) == 0,
              "cat of %s differs from cat of the CSV output", dirs[i]);
    for (int i = 0; i < 3; i++)
        free(text[i]);

    char out[600];
    snprintf(out, sizeof out, "%s/inspect.txt", work);
    char *argv[] = {(char *)singledir, "--head", "3"};
    CHECK(run_captured(sf_inspect_main, 3, argv, out) == 0, "inspect failed");
    size_t n;
    char *ins = slurp(out, &n);
    char want[128];
    snprintf(want, sizeof want, "%d partitions, 1 file, %llu rows", NPARTS,
             (unsigned long long)total_rows());
    CHECK(ins && strstr(ins, want), "inspect says: %s", ins ? ins : "(nothing)");
    CHECK(ins && strstr(ins, "hdf5, single-file layout"), "inspect layout");
    CHECK(ins && strstr(ins, "  revenue  double\n"), "inspect column types");
    CHECK(ins && strstr(ins, "first 3 rows:\ndate,country,n,"), "inspect --head");
    free(ins);
}

/* Runs a shell command; returns its exit status (or -1). */
static int shell(const char *cmd)
{
    int st = system(cmd);
    return st == -1 ? -1 : WEXITSTATUS(st);
}

static void check_h5dump(const char *h5dump, const char *work, const char *const *files,
                         size_t nfiles)
{
    if (!h5dump || !h5dump[0] || strstr(h5dump, "NOTFOUND") || access(h5dump, X_OK) != 0) {
        printf("h5single_test: h5dump not installed: skipping the h5dump check "
               "(apt-get install hdf5-tools)\n");
        return;
    }
    for (size_t i = 0; i < nfiles; i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "'%s' '%s' > '%s/h5dump.txt' 2>&1", h5dump, files[i], work);
        CHECK(shell(cmd) == 0, "h5dump cannot read %s (see %s/h5dump.txt)", files[i], work);
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -H '%s' | grep -q 'GROUP \"date=2025-08-02\"'", h5dump,
             files[0]);
    CHECK(shell(cmd) == 0, "h5dump -H does not show the partition group");
    printf("h5single_test: h5dump read %zu files\n", nfiles);
}

static void check_h5py(const char *python, const char *script, const char *work,
                       const char *file)
{
    const char *candidates[] = {python, "python3", "/usr/bin/python3"};
    const char *py = NULL;
    for (size_t i = 0; i < 3 && !py; i++) {
        char cmd[1024];
        if (!candidates[i] || !candidates[i][0])
            continue;
        snprintf(cmd, sizeof cmd, "'%s' -c 'import h5py' > /dev/null 2>&1", candidates[i]);
        if (shell(cmd) == 0)
            py = candidates[i];
    }
    if (!py || !script) {
        printf("h5single_test: no python3 with h5py: skipping the h5py check "
               "(apt-get install python3-h5py)\n");
        return;
    }
    char out[600], cmd[2048];
    snprintf(out, sizeof out, "%s/h5py.txt", work);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' > '%s' 2>&1", py, script, file, out);
    CHECK(shell(cmd) == 0, "h5py_check.py failed on %s (see %s)", file, out);
    uint64_t nsum = 0, trues = 0, dnulls = 0, sbytes = 0;
    for (int k = 0; k < NPARTS; k++)
        for (size_t i = 0; i < part_rows(k); i++) {
            sf_value w[WIDE];
            gen_row(k, i, w);
            nsum += w[1].type == SF_INT ? (uint64_t)w[1].u.i : 0;
            trues += w[4].u.b != 0;
            dnulls += w[3].type == SF_NULL;
            sbytes += w[2].u.s.n + (w[6].type == SF_STRING ? w[6].u.s.n : 0);
        }
    char want[256];
    snprintf(want, sizeof want,
             "tables=%d rows=%llu nsum=%lld trues=%llu double_nulls=%llu string_bytes=%llu\n",
             NPARTS, (unsigned long long)total_rows(), (long long)nsum,
             (unsigned long long)trues, (unsigned long long)dnulls, (unsigned long long)sbytes);
    size_t n;
    char *got = slurp(out, &n);
    CHECK(got && strcmp(got, want) == 0, "h5py says %s, want %s", got ? got : "(nothing)", want);
    free(got);
    printf("h5single_test: h5py (%s) read %s\n", py, file);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    const char *work = NULL, *h5dump = NULL, *script = NULL, *python = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--work") == 0)
            work = argv[i + 1];
        else if (strcmp(argv[i], "--h5dump") == 0)
            h5dump = argv[i + 1];
        else if (strcmp(argv[i], "--check") == 0)
            script = argv[i + 1];
        else if (strcmp(argv[i], "--python") == 0)
            python = argv[i + 1];
    }
    if (!work) {
        if (rank == 0)
            fprintf(stderr, "usage: h5single_test --work DIR [--h5dump PATH] [--check SCRIPT] "
                            "[--python PYTHON]\n");
        MPI_Finalize();
        return 2;
    }
    char csvdir[512], hivedir[512], singledir[512], single[600], nocomp[600], flat[600],
        later[600];
    snprintf(csvdir, sizeof csvdir, "%s/csv", work);
    snprintf(hivedir, sizeof hivedir, "%s/hive", work);
    snprintf(singledir, sizeof singledir, "%s/single", work);
    snprintf(single, sizeof single, "%s/output.h5", singledir);
    snprintf(nocomp, sizeof nocomp, "%s/nocomp.h5", work);
    snprintf(flat, sizeof flat, "%s/flat.h5", work);
    snprintf(later, sizeof later, "%s/later.h5", work);
    if (rank == 0) {
        sf_error err;
        CHECK(sf_rmtree(work, &err) == 0 && sf_mkdirs(singledir, &err) == 0, "work dir: %s",
              err.msg);
    }
    MPI_Barrier(MPI_COMM_WORLD);

    mine m;
    build_mine(&m);
    sf_h5_options gz;
    sf_h5_options_init(&gz);
    gz.chunk_rows = 100;
    gz.job = "h5single_test";
    gz.spec_hash = "0123abcd";
    write_single(single, &m, &gz);
    sf_h5_options none = gz;
    none.gzip = SF_H5_NO_COMPRESSION;
    write_single(nocomp, &m, &none);
    sf_h5_options synclater = gz;
    synclater.sync_later = 1;
    write_single(later, &m, &synclater);
    if (rank == 0)
        check_same_bytes_then_sync(single, later);
    write_flat(flat);
    check_failures_agree(work);
    sf_rows_free(&m.t);

    if (rank == 0) {
        write_reference_outputs(csvdir, hivedir);
        check_cat_and_inspect(work, csvdir, hivedir, singledir);
        const char *files[3 + NPARTS] = {single, nocomp, flat};
        char hive[NPARTS][640];
        for (int k = 0; k < NPARTS; k++) {
            char name[64];
            part_name(k, name, sizeof name);
            snprintf(hive[k], sizeof hive[k], "%s/%s/part-00000.h5", hivedir, name);
            files[3 + k] = hive[k];
        }
        check_h5dump(h5dump, work, files, 3 + NPARTS);
        check_h5py(python, script, work, single);
    }
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("h5single_test: %d ranks: %s (%d failed checks)\n", nranks, all ? "FAIL" : "ok",
               all);
    MPI_Finalize();
    return all ? 1 : 0;
}
