/* test_inspect.c - unit tests of `shardflow cat` and `shardflow inspect`
 * (mpi/inspect.h) on outputs built in a fresh mkdtemp directory: CSV trees
 * written by hand, HDF5 part files and grouped files written with
 * io/h5file. Expected texts are spelled out by hand; the HDF5 outputs must
 * print exactly what the CSV output of the same rows prints. stdout and
 * stderr of each command are captured into files. No MPI is started. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/fsutil.h"
#include "io/h5file.h"
#include "io/parquet.h"
#include "cli/inspect.h"

typedef struct fixture {
    char dir[256];
    char out[320]; /* captured stdout */
    char errf[320]; /* captured stderr */
    char *text;     /* last stdout */
    size_t len;
    char *err;      /* last stderr */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *base = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/sf_inspect_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->out, sizeof f->out, "%s/_stdout", f->dir);
    snprintf(f->errf, sizeof f->errf, "%s/_stderr", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sf_error err;
    int rc = sf_rmtree(f->dir, &err);
    free(f->text);
    free(f->err);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* f->dir + "/" + rel, in a static ring of buffers. */
static const char *at(fixture *f, const char *rel)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", f->dir, rel);
    return p;
}

static void put_file(fixture *f, const char *rel, const char *text, size_t len)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", at(f, rel));
    *strrchr(dir, '/') = '\0';
    sf_error err;
    assert_int_equal(sf_mkdirs(dir, &err), 0);
    assert_int_equal(sf_write_file_atomic(at(f, rel), text, len, &err), 0);
}

#define PUT(f, rel, lit) put_file(f, rel, lit, sizeof(lit) - 1)

/* Runs a command with stdout and stderr captured; returns its exit code. */
static int run(fixture *f, int (*fn)(int, char **), int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(f->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(f->errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    int code = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    free(f->text);
    free(f->err);
    sf_error err;
    size_t n;
    assert_int_equal(sf_read_file(f->out, &f->text, &f->len, &err), 0);
    assert_int_equal(sf_read_file(f->errf, &f->err, &n, &err), 0);
    return code;
}

static int cat(fixture *f, const char *path)
{
    char *argv[] = {(char *)path};
    return run(f, sf_cat_main, 1, argv);
}

static void expect_text(fixture *f, const char *want, size_t n)
{
    if (f->len != n || memcmp(f->text, want, n) != 0)
        fail_msg("got:\n%s\nwant:\n%s", f->text, want);
}

#define EXPECT(f, lit) expect_text(f, lit, sizeof(lit) - 1)

/* A two-partition CSV output as shardflow writes it. */
static void csv_output(fixture *f, const char *root)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/date=2025-08-02/part-00000.csv", root);
    PUT(f, rel, "country,revenue\nFR,1.5\n\"a,b\",\n");
    snprintf(rel, sizeof rel, "%s/date=2025-08-01/part-00000.csv", root);
    PUT(f, rel, "country,revenue\nAU,354.41\nBR,-0.0\n");
    snprintf(rel, sizeof rel, "%s/_SUCCESS", root);
    PUT(f, rel, "");
    snprintf(rel, sizeof rel, "%s/_MANIFEST.json", root);
    PUT(f, rel, "{}\n");
}

static const char csv_cat[] = "date,country,revenue\n"
                              "2025-08-01,AU,354.41\n"
                              "2025-08-01,BR,-0.0\n"
                              "2025-08-02,FR,1.5\n"
                              "2025-08-02,\"a,b\",\n";

static void test_cat_prints_one_header_and_partition_columns_first(void **state)
{
    fixture *f = *state;
    csv_output(f, "out");
    assert_int_equal(cat(f, at(f, "out")), 0);
    EXPECT(f, csv_cat);
}

/* The rows of csv_output as hive HDF5 part files. */
static void h5_part(fixture *f, const char *rel, const sf_value *rows, size_t n)
{
    const char *names[] = {"country", "revenue"};
    sf_type types[] = {SF_STRING, SF_DOUBLE};
    char dir[512];
    snprintf(dir, sizeof dir, "%s", at(f, rel));
    *strrchr(dir, '/') = '\0';
    sf_error err;
    assert_int_equal(sf_mkdirs(dir, &err), 0);
    sf_h5_writer *w = NULL;
    if (sf_h5_writer_open(&w, at(f, rel), 2, names, types, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sf_h5_writer_append(w, rows + 2 * i), 0);
    assert_int_equal(sf_h5_writer_close(w, NULL, NULL, &err), 0);
}

static void hdf5_output(fixture *f, const char *root)
{
    sf_value p1[] = {sf_string("AU", 2), sf_double(354.41), sf_string("BR", 2), sf_double(-0.0)};
    sf_value p2[] = {sf_string("FR", 2), sf_double(1.5), sf_string("a,b", 3), sf_null()};
    char rel[256];
    snprintf(rel, sizeof rel, "%s/date=2025-08-02/part-00000.h5", root);
    h5_part(f, rel, p2, 2);
    snprintf(rel, sizeof rel, "%s/date=2025-08-01/part-00000.h5", root);
    h5_part(f, rel, p1, 2);
}

static void test_cat_of_hdf5_parts_equals_cat_of_the_csv_output(void **state)
{
    fixture *f = *state;
    hdf5_output(f, "h5");
    assert_int_equal(cat(f, at(f, "h5")), 0);
    EXPECT(f, csv_cat);
}

/* The same rows in one grouped file, built like the single layout. */
static void grouped_output(fixture *f, const char *rel)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", at(f, rel));
    *strrchr(dir, '/') = '\0';
    sf_error err;
    assert_int_equal(sf_mkdirs(dir, &err), 0);
    hid_t file = H5Fcreate(at(f, rel), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    sf_h5_options o;
    sf_h5_options_init(&o);
    o.job = "kpi";
    assert_int_equal(sf_h5_file_attrs(file, "single", &o, "x", &err), 0);
    const char *names[] = {"country", "revenue"};
    sf_type types[] = {SF_STRING, SF_DOUBLE};
    sf_value rows[2][4] = {
        {sf_string("AU", 2), sf_double(354.41), sf_string("BR", 2), sf_double(-0.0)},
        {sf_string("FR", 2), sf_double(1.5), sf_string("a,b", 3), sf_null()}};
    const char *groups[] = {"date=2025-08-02", "date=2025-08-01"};
    for (int g = 1; g >= 0; g--) {
        int k = g == 0 ? 1 : 0; /* group 0 holds the second partition's rows */
        hid_t grp = H5Gcreate2(file, groups[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_int_equal(sf_h5_table_attrs(grp, 2, names, types, 2, "x", &err), 0);
        for (int c = 0; c < 2; c++) {
            sf_h5_column col;
            sf_h5_column_init(&col, types[c]);
            assert_int_equal(sf_h5_column_push(&col, &rows[k][c]), 0);
            assert_int_equal(sf_h5_column_push(&col, &rows[k][2 + c]), 0);
            hid_t d, v = H5I_INVALID_HID;
            assert_int_equal(
                sf_h5_dataset_create(grp, names[c], types[c], 0, 0, 2, &o, "x", &d, &err), 0);
            if (col.nnull)
                assert_int_equal(
                    sf_h5_dataset_create(grp, names[c], types[c], 1, 0, 2, &o, "x", &v, &err), 0);
            assert_int_equal(sf_h5_column_write(&col, d, v, 0, H5P_DEFAULT, "x", &err), 0);
            H5Dclose(d);
            if (v >= 0)
                H5Dclose(v);
            sf_h5_column_free(&col);
        }
        H5Gclose(grp);
    }
    H5Fclose(file);
}

static void test_cat_of_a_grouped_hdf5_file_equals_cat_of_the_csv_output(void **state)
{
    fixture *f = *state;
    grouped_output(f, "single/output.h5");
    assert_int_equal(cat(f, at(f, "single")), 0);
    EXPECT(f, csv_cat);
    /* The file named directly prints the same. */
    assert_int_equal(cat(f, at(f, "single/output.h5")), 0);
    EXPECT(f, csv_cat);
}

static void test_cat_unescapes_partition_values_and_prints_default_as_empty(void **state)
{
    fixture *f = *state;
    PUT(f, "o/k=a%2Fb%25/part-00000.csv", "v\n1\n");
    PUT(f, "o/k=__HIVE_DEFAULT_PARTITION__/part-00000.csv", "v\n2\n");
    PUT(f, "o/k=x%2Cy/part-00000.csv", "v\n3\n");
    assert_int_equal(cat(f, at(f, "o")), 0);
    /* Partition order is the string order of the directory names. */
    EXPECT(f, "k,v\n,2\na/b%,1\n\"x,y\",3\n");
}

static void test_cat_orders_partitions_as_strings_and_files_by_name(void **state)
{
    fixture *f = *state;
    PUT(f, "o/a=10/part-00001.csv", "v\n4\n");
    PUT(f, "o/a=10/part-00000.csv", "v\n3\n");
    PUT(f, "o/a=9/part-00000.csv", "v\n5\n");
    PUT(f, "o/a=1/b=x/part-00000.csv", "v\n1\n");
    assert_int_equal(cat(f, at(f, "o/a=10")), 0);
    EXPECT(f, "v\n3\n4\n");
    PUT(f, "p/a=10/part-00001.csv", "v\n4\n");
    PUT(f, "p/a=10/part-00000.csv", "v\n3\n");
    PUT(f, "p/a=9/part-00000.csv", "v\n5\n");
    assert_int_equal(cat(f, at(f, "p")), 0);
    EXPECT(f, "a,v\n10,3\n10,4\n9,5\n");
}

static void test_cat_skips_underscore_and_dot_entries(void **state)
{
    fixture *f = *state;
    PUT(f, "o/part-00000.csv", "x,y\n1,2\n");
    PUT(f, "o/_temporary/run1/part-00000.csv", "x,y\n9,9\n");
    PUT(f, "o/.part-00000.csv.crc", "junk");
    PUT(f, "o/_SUCCESS", "");
    PUT(f, "o/README.txt", "not data\n");
    assert_int_equal(cat(f, at(f, "o")), 0);
    EXPECT(f, "x,y\n1,2\n");
}

static void test_cat_of_an_unpartitioned_header_only_output_prints_the_header(void **state)
{
    fixture *f = *state;
    PUT(f, "o/part-00000.csv", "x,y\n");
    assert_int_equal(cat(f, at(f, "o")), 0);
    EXPECT(f, "x,y\n");
}

static void test_cat_of_an_output_without_tables_prints_nothing(void **state)
{
    fixture *f = *state;
    PUT(f, "o/_SUCCESS", "");
    assert_int_equal(cat(f, at(f, "o")), 0);
    assert_int_equal(f->len, 0);
}

static void test_cat_fails_when_columns_differ_between_files(void **state)
{
    fixture *f = *state;
    PUT(f, "o/d=1/part-00000.csv", "x,y\n1,2\n");
    PUT(f, "o/d=2/part-00000.csv", "x,z\n1,2\n");
    assert_int_equal(cat(f, at(f, "o")), 1);
    assert_non_null(strstr(f->err, "d=2/part-00000.csv: its columns differ"));
}

static void test_cat_fails_when_partition_keys_differ(void **state)
{
    fixture *f = *state;
    PUT(f, "o/d=1/part-00000.csv", "x\n1\n");
    PUT(f, "o/e=2/part-00000.csv", "x\n1\n");
    assert_int_equal(cat(f, at(f, "o")), 1);
    assert_non_null(strstr(f->err, "partition keys of 'e=2' differ from those of 'd=1'"));
}

static void test_cat_fails_on_a_row_with_the_wrong_field_count(void **state)
{
    fixture *f = *state;
    PUT(f, "o/part-00000.csv", "x,y\n1,2\n3\n");
    assert_int_equal(cat(f, at(f, "o")), 1);
    assert_non_null(strstr(f->err, "line 3 has 1 fields, the header 2"));
}

/* The rows of csv_output as Parquet part files, with the metadata run
 * writes. */
static void parquet_output(fixture *f, const char *root)
{
    const char *names[] = {"country", "revenue"};
    sf_type types[] = {SF_STRING, SF_DOUBLE};
    const char *keys[] = {"shardflow.job", "shardflow.run_id"}, *vals[] = {"kpi", "RUN1"};
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.kv_keys = keys;
    o.kv_values = vals;
    o.nkv = 2;
    sf_value p1[] = {sf_string("AU", 2), sf_double(354.41), sf_string("BR", 2), sf_double(-0.0)};
    sf_value p2[] = {sf_string("FR", 2), sf_double(1.5), sf_string("a,b", 3), sf_null()};
    const char *days[] = {"2025-08-01", "2025-08-02"};
    const sf_value *rows[] = {p1, p2};
    for (int d = 0; d < 2; d++) {
        char rel[256], dir[512];
        snprintf(rel, sizeof rel, "%s/date=%s/part-00000.parquet", root, days[d]);
        snprintf(dir, sizeof dir, "%s", at(f, rel));
        *strrchr(dir, '/') = '\0';
        sf_error err;
        assert_int_equal(sf_mkdirs(dir, &err), 0);
        sf_parquet_writer *w = NULL;
        if (sf_parquet_writer_open(&w, at(f, rel), 2, names, types, &o, &err) != 0)
            fail_msg("%s", err.msg);
        for (size_t i = 0; i < 2; i++)
            assert_int_equal(sf_parquet_writer_append(w, rows[d] + 2 * i, &err), 0);
        assert_int_equal(sf_parquet_writer_close(w, NULL, NULL, &err), 0);
    }
}

static void test_cat_of_parquet_parts_equals_cat_of_the_csv_output(void **state)
{
    fixture *f = *state;
    parquet_output(f, "pq");
    assert_int_equal(cat(f, at(f, "pq")), 0);
    EXPECT(f, csv_cat);
}

static void test_inspect_of_parquet_shows_row_groups_and_statistics(void **state)
{
    fixture *f = *state;
    parquet_output(f, "pq");
    char *argv[] = {(char *)at(f, "pq")};
    assert_int_equal(run(f, sf_inspect_main, 1, argv), 0);
    assert_non_null(strstr(f->text, "format:     parquet\n"));
    assert_non_null(strstr(f->text, "job:        kpi (spec hash -, shardflow -)\n"));
    assert_non_null(strstr(f->text, "run id:     RUN1\n"));
    assert_non_null(strstr(f->text, "created by: shardflow version "));
    assert_non_null(strstr(f->text, "  country  string\n  revenue  double\n"));
    assert_non_null(strstr(f->text, "      row group 0: 2 rows\n"));
    const char *rev = strstr(f->text, "date=2025-08-02/part-00000.parquet");
    assert_non_null(rev);
    rev = strstr(rev, "        revenue ");
    assert_non_null(rev);
    assert_non_null(strstr(rev, "SNAPPY"));
    assert_non_null(strstr(rev, "nulls 1  NaN 0  min 1.5  max 1.5\n"));
    assert_non_null(strstr(f->text, "total:      2 partitions, 2 files, 4 rows, "));
}

static void test_cat_refuses_a_mix_of_csv_and_hdf5(void **state)
{
    fixture *f = *state;
    hdf5_output(f, "o");
    PUT(f, "o/date=2025-08-03/part-00000.csv", "country,revenue\n");
    assert_int_equal(cat(f, at(f, "o")), 1);
    assert_non_null(strstr(f->err, "mixes CSV and HDF5 files"));
}

static void test_cat_of_a_missing_path_names_it(void **state)
{
    fixture *f = *state;
    assert_int_equal(cat(f, at(f, "nope")), 1);
    assert_non_null(strstr(f->err, "nope"));
    assert_non_null(strstr(f->err, "No such file"));
}

static void test_cat_accepts_only_the_csv_format(void **state)
{
    fixture *f = *state;
    csv_output(f, "out");
    char *ok[] = {(char *)at(f, "out"), "--format", "csv"};
    assert_int_equal(run(f, sf_cat_main, 3, ok), 0);
    EXPECT(f, csv_cat);
    char *bad[] = {"--format=json", (char *)at(f, "out")};
    assert_int_equal(run(f, sf_cat_main, 2, bad), 2);
    assert_non_null(strstr(f->err, "only csv"));
    assert_non_null(strstr(f->err, "Try 'shardflow cat --help'.")); /* one line, not the usage */
    char *none[] = {"--format"};
    assert_int_equal(run(f, sf_cat_main, 1, none), 2);
    assert_int_equal(run(f, sf_cat_main, 0, NULL), 2);
    assert_non_null(strstr(f->err, "missing PATH"));
}

static void test_help_texts_go_to_stdout(void **state)
{
    fixture *f = *state;
    char *argv[] = {"--help"};
    assert_int_equal(run(f, sf_cat_main, 1, argv), 0);
    assert_non_null(strstr(f->text, "usage: shardflow cat PATH"));
    assert_int_equal(run(f, sf_inspect_main, 1, argv), 0);
    assert_non_null(strstr(f->text, "usage: shardflow inspect PATH"));
    assert_non_null(strstr(f->text, "--head N"));
}

static void test_inspect_lists_partitions_rows_bytes_and_totals(void **state)
{
    fixture *f = *state;
    csv_output(f, "out");
    char *argv[] = {(char *)at(f, "out")};
    assert_int_equal(run(f, sf_inspect_main, 1, argv), 0);
    assert_non_null(strstr(f->text, "format:     csv\n"));
    assert_non_null(strstr(f->text, "committed:  yes"));
    assert_non_null(strstr(f->text, "columns:    2 (CSV: untyped text)\n  country\n  revenue\n"));
    assert_non_null(strstr(f->text, "partitioned by: date\n"));
    /* 34 and 30 bytes: the files written above. */
    char line[256];
    snprintf(line, sizeof line, "  %-24s %-40s %10d rows %12d bytes\n", "date=2025-08-01",
             "date=2025-08-01/part-00000.csv", 2, 34);
    assert_non_null(strstr(f->text, line));
    snprintf(line, sizeof line, "  %-24s %-40s %10d rows %12d bytes\n", "date=2025-08-02",
             "date=2025-08-02/part-00000.csv", 2, 30);
    assert_non_null(strstr(f->text, line));
    assert_true(strstr(f->text, "date=2025-08-01 ") < strstr(f->text, "date=2025-08-02 "));
    assert_non_null(strstr(f->text, "total:      2 partitions, 2 files, 4 rows, 64 bytes\n"));
    assert_null(strstr(f->text, "first"));
}

static void test_inspect_reads_types_counts_and_bad_records_from_the_manifest(void **state)
{
    fixture *f = *state;
    csv_output(f, "out");
    PUT(f, "out/_MANIFEST.json",
        "{\"run_id\": \"R1\", \"mode\": \"permissive\", \"bad_records\": 3,"
        " \"output\": {\"columns\": [{\"name\": \"country\", \"type\": \"string\"},"
        " {\"name\": \"revenue\", \"type\": \"double\"}], \"sort_by\": [\"country\"]},"
        " \"counts\": {\"lines_read\": 10, \"rows_rejected\": 3, \"output_rows\": 4,"
        " \"rejected_by_reason\": {\"invalid JSON\": 2, \"type mismatch\": 1}},"
        " \"files\": [{\"path\": \"date=2025-08-01/part-00000.csv\", \"rows\": 2,"
        " \"bytes\": 34, \"run_id\": \"R1\"}]}\n");
    PUT(f, "out/_bad_records/part-00000.jsonl", "{}\n{}\n{}\n");
    char *argv[] = {(char *)at(f, "out")};
    assert_int_equal(run(f, sf_inspect_main, 1, argv), 0);
    assert_non_null(strstr(f->text, "columns:    2 (types from _MANIFEST.json)\n"
                                    "  country  string\n  revenue  double\n"));
    assert_null(strstr(f->text, "untyped"));
    assert_non_null(strstr(f->text, "rows:       4 written from 10 lines read"));
    assert_non_null(strstr(f->text, "rejected:   3 lines (--mode permissive)\n"));
    char line[256];
    snprintf(line, sizeof line, "  %-28s %12d\n", "invalid JSON", 2);
    assert_non_null(strstr(f->text, line));
    snprintf(line, sizeof line, "  %-28s %12d\n", "type mismatch", 1);
    assert_non_null(strstr(f->text, line));
    snprintf(line, sizeof line, "bad lines:  3 in %s/_bad_records/\n", at(f, "out"));
    assert_non_null(strstr(f->text, line));
    assert_non_null(strstr(f->text, "runs:       1\n  R1 "));

    /* A manifest whose columns are not the file's: untyped, as before; no
     * bad lines: no path. */
    PUT(f, "out/_MANIFEST.json",
        "{\"bad_records\": 0, \"output\": {\"columns\": [{\"name\": \"other\","
        " \"type\": \"int64\"}], \"sort_by\": []}, \"counts\": {\"lines_read\": 4,"
        " \"rows_rejected\": 0, \"output_rows\": 4}}\n");
    assert_int_equal(run(f, sf_inspect_main, 1, argv), 0);
    assert_non_null(strstr(f->text, "columns:    2 (CSV: untyped text)\n  country\n"));
    assert_non_null(strstr(f->text, "rejected:   0 lines\n"));
    assert_null(strstr(f->text, "bad lines:"));
}

static void test_inspect_of_hdf5_shows_types_and_job(void **state)
{
    fixture *f = *state;
    grouped_output(f, "single/output.h5");
    char *argv[] = {(char *)at(f, "single")};
    assert_int_equal(run(f, sf_inspect_main, 1, argv), 0);
    assert_non_null(strstr(f->text, "format:     hdf5, single-file layout\n"));
    assert_non_null(strstr(f->text, "committed:  no"));
    assert_non_null(strstr(f->text, "job:        kpi (spec hash -, shardflow " SF_VERSION ")\n"));
    assert_non_null(strstr(f->text, "  country  string\n  revenue  double\n"));
    assert_non_null(strstr(f->text, "output.h5:/date=2025-08-01"));
    assert_non_null(strstr(f->text, "total:      2 partitions, 1 file, 4 rows, "));
}

static void test_inspect_head_prints_the_first_rows_as_cat_does(void **state)
{
    fixture *f = *state;
    hdf5_output(f, "h5");
    char *argv[] = {"--head", "3", (char *)at(f, "h5")};
    assert_int_equal(run(f, sf_inspect_main, 3, argv), 0);
    assert_non_null(strstr(f->text, "format:     hdf5, hive layout\n"));
    const char *want = "first 3 rows:\n"
                       "date,country,revenue\n"
                       "2025-08-01,AU,354.41\n"
                       "2025-08-01,BR,-0.0\n"
                       "2025-08-02,FR,1.5\n";
    const char *got = strstr(f->text, "first 3 rows:");
    assert_non_null(got);
    assert_string_equal(got, want);
}

static void test_inspect_rejects_a_bad_head_count(void **state)
{
    fixture *f = *state;
    char *argv[] = {"x", "--head=-1"};
    assert_int_equal(run(f, sf_inspect_main, 2, argv), 2);
    assert_non_null(strstr(f->err, "--head needs a non-negative number, not -1"));
    char *argv2[] = {"x", "--bogus"};
    assert_int_equal(run(f, sf_inspect_main, 2, argv2), 2);
    assert_non_null(strstr(f->err, "unknown option '--bogus'"));
}

static void test_inspect_of_an_empty_csv_file_fails_with_the_reason(void **state)
{
    fixture *f = *state;
    PUT(f, "o/x.csv", "");
    char *argv[] = {(char *)at(f, "o")};
    assert_int_equal(run(f, sf_inspect_main, 1, argv), 1);
    assert_non_null(strstr(f->err, "x.csv: empty CSV file (no header line)"));
}

static void test_a_part_file_that_is_not_hdf5_fails_naming_it(void **state)
{
    fixture *f = *state;
    PUT(f, "o/d=1/part-00000.h5", "country,revenue\n");
    char *argv[] = {(char *)at(f, "o")};
    assert_int_equal(run(f, sf_inspect_main, 1, argv), 1);
    assert_non_null(strstr(f->err, "d=1/part-00000.h5' is not a readable HDF5 file"));
    assert_int_equal(cat(f, at(f, "o")), 1);
    assert_non_null(strstr(f->err, "is not a readable HDF5 file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cat_prints_one_header_and_partition_columns_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cat_of_parquet_parts_equals_cat_of_the_csv_output,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_inspect_of_parquet_shows_row_groups_and_statistics,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cat_of_hdf5_parts_equals_cat_of_the_csv_output, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_cat_of_a_grouped_hdf5_file_equals_cat_of_the_csv_output, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cat_unescapes_partition_values_and_prints_default_as_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cat_orders_partitions_as_strings_and_files_by_name,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cat_skips_underscore_and_dot_entries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_cat_of_an_unpartitioned_header_only_output_prints_the_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cat_of_an_output_without_tables_prints_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cat_fails_when_columns_differ_between_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cat_fails_when_partition_keys_differ, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cat_fails_on_a_row_with_the_wrong_field_count, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cat_refuses_a_mix_of_csv_and_hdf5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cat_of_a_missing_path_names_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cat_accepts_only_the_csv_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_texts_go_to_stdout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inspect_lists_partitions_rows_bytes_and_totals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_inspect_reads_types_counts_and_bad_records_from_the_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inspect_of_hdf5_shows_types_and_job, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inspect_head_prints_the_first_rows_as_cat_does,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_inspect_rejects_a_bad_head_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inspect_of_an_empty_csv_file_fails_with_the_reason,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_part_file_that_is_not_hdf5_fails_naming_it, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
