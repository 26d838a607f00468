/* test_h5read.c - unit tests of the HDF5 table reader (io/h5read.h): round
 * trips through the part-file writer for every type, NULLs, empty tables,
 * 1 MB strings, non-ASCII and NUL-holding strings, every compression,
 * batches across chunk boundaries; the table list of part files and of
 * grouped (single-layout style) files; and the errors for files that are
 * missing, not HDF5, or not shardflow tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "io/fsutil.h"
#include "io/h5file.h"
#include "io/h5read.h"

static char tmpdir[256];
static char path[320];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sf_h5read_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(path, sizeof path, "%s/part-00000.h5", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sf_error err;
    return sf_rmtree(tmpdir, &err) == 0 ? 0 : -1;
}

/* Writes rows (nrows x ncols values) to path with opt. */
static void write_table(size_t ncols, const char *const *names, const sf_type *types,
                        const sf_value *rows, size_t nrows, const sf_h5_options *opt)
{
    sf_h5_writer *w = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_h5_writer_open(&w, path, ncols, names, types, opt, &err) != 0)
        fail_msg("open: %s", err.msg);
    for (size_t i = 0; i < nrows; i++)
        assert_int_equal(sf_h5_writer_append(w, rows + i * ncols), 0);
    if (sf_h5_writer_close(w, NULL, NULL, &err) != 0)
        fail_msg("close: %s", err.msg);
}

static sf_h5_reader *open_reader(const char *group)
{
    sf_h5_reader *r = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_h5_reader_open(&r, path, group, &err) != 0)
        fail_msg("reader open: %s", err.msg);
    return r;
}

static void assert_same_value(const sf_value *got, const sf_value *want)
{
    assert_int_equal(got->type, want->type);
    switch ((sf_type)want->type) {
    case SF_NULL:
        break;
    case SF_BOOL:
        assert_int_equal(got->u.b, want->u.b);
        break;
    case SF_INT:
    case SF_TIMESTAMP:
        assert_true(got->u.i == want->u.i);
        break;
    case SF_DOUBLE:
        /* Bit for bit: -0.0, NaN payloads and infinities included. */
        assert_memory_equal(&got->u.d, &want->u.d, sizeof(double));
        break;
    case SF_DATE:
        assert_int_equal(got->u.date, want->u.date);
        break;
    case SF_STRING:
        assert_int_equal(got->u.s.n, want->u.s.n);
        assert_memory_equal(got->u.s.p, want->u.s.p, want->u.s.n);
        break;
    case SF_DECIMAL: /* HDF5 holds decimals as text: never read back as one */
        fail_msg("a decimal value read from HDF5");
        break;
    }
}

/* Reads the whole table in batches of batch rows and compares. */
static void expect_rows(sf_h5_reader *r, const sf_value *want, size_t nrows, size_t batch)
{
    size_t ncols = sf_h5_reader_ncols(r), seen = 0;
    assert_int_equal(sf_h5_reader_nrows(r), nrows);
    for (;;) {
        const sf_value *rows;
        size_t n = 99;
        sf_error err;
        if (sf_h5_reader_next(r, batch, &rows, &n, &err) != 0)
            fail_msg("next: %s", err.msg);
        if (n == 0)
            break;
        assert_true(n <= batch);
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < ncols; c++)
                assert_same_value(&rows[i * ncols + c], &want[(seen + i) * ncols + c]);
        seen += n;
    }
    assert_int_equal(seen, nrows);
}

static const char *const names5[] = {"i", "d", "b", "day", "s"};
static const sf_type types5[] = {SF_INT, SF_DOUBLE, SF_BOOL, SF_DATE, SF_STRING};

static void test_every_type_round_trips(void **state)
{
    (void)state;
    sf_value rows[] = {
        sf_int(INT64_MIN), sf_double(-0.0),    sf_bool(1), sf_date(-719528), sf_string("a", 1),
        sf_int(0),         sf_double(INFINITY), sf_bool(0), sf_date(20301),  sf_string("", 0),
        sf_int(INT64_MAX), sf_double(5e-324),  sf_bool(1), sf_date(2932896), sf_string("xyz", 3),
    };
    write_table(5, names5, types5, rows, 3, NULL);
    sf_h5_reader *r = open_reader(NULL);
    assert_int_equal(sf_h5_reader_ncols(r), 5);
    for (size_t c = 0; c < 5; c++) {
        assert_string_equal(sf_h5_reader_name(r, c), names5[c]);
        assert_int_equal(sf_h5_reader_type(r, c), types5[c]);
    }
    expect_rows(r, rows, 3, 100);
    sf_h5_reader_close(r);
}

/* A timestamp is int64 microseconds on disk, with a "units" attribute,
 * and reads back as a timestamp (the "type" attribute says so). */
static void test_timestamp_round_trips_as_int64_microseconds(void **state)
{
    (void)state;
    static const char *const names[] = {"ts"};
    static const sf_type types[] = {SF_TIMESTAMP};
    sf_value rows[] = {sf_timestamp(INT64_C(1772368496789000)), sf_null(), sf_timestamp(-1)};
    write_table(1, names, types, rows, 3, NULL);
    sf_h5_reader *r = open_reader(NULL);
    assert_int_equal(sf_h5_reader_type(r, 0), SF_TIMESTAMP);
    expect_rows(r, rows, 3, 2);
    sf_h5_reader_close(r);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "ts", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    assert_true(H5Tequal(t, H5T_STD_I64LE) > 0);
    hid_t a = H5Aopen(d, "units", H5P_DEFAULT);
    hid_t at = H5Aget_type(a);
    char *units = NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    assert_true(H5Aread(a, mt, &units) >= 0);
    assert_string_equal(units, "microseconds since 1970-01-01T00:00:00Z");
    H5free_memory(units);
    H5Tclose(mt);
    H5Tclose(at);
    H5Aclose(a);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_nan_round_trips_as_nan_not_null(void **state)
{
    (void)state;
    const char *n[] = {"d"};
    sf_type t[] = {SF_DOUBLE};
    sf_value rows[] = {sf_double(NAN), sf_null()};
    write_table(1, n, t, rows, 2, NULL);
    sf_h5_reader *r = open_reader("");
    const sf_value *got;
    size_t k;
    sf_error err;
    assert_int_equal(sf_h5_reader_next(r, 10, &got, &k, &err), 0);
    assert_int_equal(k, 2);
    assert_int_equal(got[0].type, SF_DOUBLE);
    assert_true(isnan(got[0].u.d));
    assert_int_equal(got[1].type, SF_NULL);
    sf_h5_reader_close(r);
}

static void test_nulls_come_back_as_nulls_in_every_type(void **state)
{
    (void)state;
    sf_value rows[] = {
        sf_null(), sf_null(),       sf_null(),  sf_null(),  sf_null(),
        sf_int(1), sf_double(2.0),  sf_bool(0), sf_date(3), sf_string("", 0),
        sf_null(), sf_double(-1.5), sf_null(),  sf_date(4), sf_null(),
    };
    write_table(5, names5, types5, rows, 3, NULL);
    sf_h5_reader *r = open_reader(NULL);
    expect_rows(r, rows, 3, 2);
    sf_h5_reader_close(r);
}

static void test_empty_table_reads_zero_rows(void **state)
{
    (void)state;
    write_table(5, names5, types5, NULL, 0, NULL);
    sf_h5_reader *r = open_reader(NULL);
    assert_int_equal(sf_h5_reader_ncols(r), 5);
    assert_int_equal(sf_h5_reader_type(r, 4), SF_STRING);
    expect_rows(r, NULL, 0, 10);
    sf_h5_reader_close(r);
}

static void test_one_megabyte_string_round_trips(void **state)
{
    (void)state;
    size_t big = (size_t)1 << 20;
    char *s = malloc(big);
    assert_non_null(s);
    for (size_t i = 0; i < big; i++)
        s[i] = (char)('a' + i % 26);
    const char *n[] = {"s", "i"};
    sf_type t[] = {SF_STRING, SF_INT};
    sf_value rows[] = {sf_string(s, big), sf_int(1), sf_string("tail", 4), sf_int(2)};
    write_table(2, n, t, rows, 2, NULL);
    sf_h5_reader *r = open_reader(NULL);
    expect_rows(r, rows, 2, 1);
    sf_h5_reader_close(r);
    free(s);
}

static void test_non_ascii_strings_round_trip(void **state)
{
    (void)state;
    const char *texts[] = {"h\xc3\xa9llo", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80 ok",
                           "caf\xc3\xa9, \"quoted\"\nline"};
    const char *n[] = {"s"};
    sf_type t[] = {SF_STRING};
    sf_value rows[4];
    for (int i = 0; i < 4; i++)
        rows[i] = sf_string(texts[i], strlen(texts[i]));
    write_table(1, n, t, rows, 4, NULL);
    sf_h5_reader *r = open_reader(NULL);
    expect_rows(r, rows, 4, 3);
    sf_h5_reader_close(r);
}

static void test_strings_with_nul_bytes_round_trip(void **state)
{
    (void)state;
    const char *n[] = {"s"};
    sf_type t[] = {SF_STRING};
    sf_value rows[] = {sf_string("\0", 1), sf_string("a\0b\0", 4), sf_null(), sf_string("", 0)};
    write_table(1, n, t, rows, 4, NULL);
    sf_h5_reader *r = open_reader(NULL);
    expect_rows(r, rows, 4, 4);
    sf_h5_reader_close(r);
}

/* Rows for the chunk and compression tests: every type, some NULLs. */
static sf_value *make_rows(size_t nrows, char *text)
{
    sf_value *rows = calloc(nrows * 5, sizeof *rows);
    assert_non_null(rows);
    for (size_t i = 0; i < nrows; i++) {
        sf_value *row = rows + i * 5;
        row[0] = i % 7 == 3 ? sf_null() : sf_int((int64_t)i * 1000003 - 5);
        row[1] = i % 11 == 5 ? sf_null() : sf_double((double)i / 7.0);
        row[2] = sf_bool(i % 3 == 0);
        row[3] = sf_date((int32_t)(i % 400) - 200);
        size_t len = i % 17;
        row[4] = i % 13 == 1 ? sf_null() : sf_string(text + i % 50, len);
    }
    return rows;
}

static void test_every_compression_reads_back_the_same_values(void **state)
{
    (void)state;
    char text[80];
    for (int i = 0; i < 79; i++)
        text[i] = (char)('A' + i % 50);
    text[79] = '\0';
    size_t nrows = 3000;
    sf_value *rows = make_rows(nrows, text);
    int levels[] = {SF_H5_NO_COMPRESSION, 1, 9};
    for (size_t k = 0; k < 3; k++) {
        sf_h5_options o;
        sf_h5_options_init(&o);
        o.gzip = levels[k];
        o.chunk_rows = 512;
        write_table(5, names5, types5, rows, nrows, &o);
        sf_h5_reader *r = open_reader(NULL);
        expect_rows(r, rows, nrows, 1000);
        sf_h5_reader_close(r);
    }
    free(rows);
}

static void test_many_rows_read_in_batches_across_chunk_boundaries(void **state)
{
    (void)state;
    char text[80];
    for (int i = 0; i < 79; i++)
        text[i] = (char)('a' + i % 26);
    size_t nrows = 10007;
    sf_value *rows = make_rows(nrows, text);
    sf_h5_options o;
    sf_h5_options_init(&o);
    o.chunk_rows = 1000;
    write_table(5, names5, types5, rows, nrows, &o);
    size_t batches[] = {1, 333, 1000, 20000};
    for (size_t k = 0; k < 4; k++) {
        sf_h5_reader *r = open_reader(NULL);
        expect_rows(r, rows, nrows, batches[k]);
        sf_h5_reader_close(r);
    }
    free(rows);
}

static void test_batch_size_zero_reads_one_row(void **state)
{
    (void)state;
    const char *n[] = {"i"};
    sf_type t[] = {SF_INT};
    sf_value rows[] = {sf_int(1), sf_int(2)};
    write_table(1, n, t, rows, 2, NULL);
    sf_h5_reader *r = open_reader(NULL);
    const sf_value *got;
    size_t k;
    sf_error err;
    assert_int_equal(sf_h5_reader_next(r, 0, &got, &k, &err), 0);
    assert_int_equal(k, 1);
    assert_int_equal(got[0].u.i, 1);
    sf_h5_reader_close(r);
}

static void test_file_attributes_are_available(void **state)
{
    (void)state;
    sf_h5_options o;
    sf_h5_options_init(&o);
    o.job = "daily_kpi";
    o.spec_hash = "f00d";
    write_table(5, names5, types5, NULL, 0, &o);
    sf_h5_reader *r = open_reader(NULL);
    assert_string_equal(sf_h5_reader_attr(r, "job"), "daily_kpi");
    assert_string_equal(sf_h5_reader_attr(r, "spec_hash"), "f00d");
    assert_string_equal(sf_h5_reader_attr(r, "shardflow_version"), SF_VERSION);
    assert_string_equal(sf_h5_reader_attr(r, "shardflow_layout"), "hive");
    assert_null(sf_h5_reader_attr(r, "no_such_attribute"));
    sf_h5_reader_close(r);
}

static void test_storage_counts_the_datasets(void **state)
{
    (void)state;
    const char *n[] = {"i"};
    sf_type t[] = {SF_INT};
    sf_value rows[100];
    for (int i = 0; i < 100; i++)
        rows[i] = sf_int(i);
    sf_h5_options o;
    sf_h5_options_init(&o);
    o.gzip = SF_H5_NO_COMPRESSION;
    write_table(1, n, t, rows, 100, &o);
    sf_h5_reader *r = open_reader(NULL);
    assert_int_equal(sf_h5_reader_storage(r), 800);
    sf_h5_reader_close(r);
}

static void test_tables_of_a_part_file_is_the_root(void **state)
{
    (void)state;
    write_table(5, names5, types5, NULL, 0, NULL);
    char **names = NULL;
    size_t n = 0;
    sf_error err;
    assert_int_equal(sf_h5_tables(path, &names, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "");
    sf_h5_tables_free(names, n);
}

/* Builds a grouped file like the single layout does, serially, with the
 * shared building blocks: tables /b=2, /a=1/x=%2F, /a=1/x=0 of one int
 * column v, each holding its group's number of rows. */
static void write_grouped_file(void)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    sf_h5_options o;
    sf_h5_options_init(&o);
    sf_error err;
    assert_int_equal(sf_h5_file_attrs(f, "single", &o, path, &err), 0);
    const char *groups[] = {"b=2", "a=1/x=%2F", "a=1/x=0"};
    const char *n[] = {"v"};
    sf_type t[] = {SF_INT};
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (int g = 0; g < 3; g++) {
        hid_t grp = H5Gcreate2(f, groups[g], lcpl, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(grp >= 0);
        uint64_t rows = (uint64_t)g + 1;
        assert_int_equal(sf_h5_table_attrs(grp, 1, n, t, rows, path, &err), 0);
        hid_t d;
        assert_int_equal(sf_h5_dataset_create(grp, "v", SF_INT, 0, 0, rows, &o, path, &d, &err),
                         0);
        sf_h5_column col;
        sf_h5_column_init(&col, SF_INT);
        for (int i = 0; i <= g; i++) {
            sf_value v = sf_int(g * 10 + i);
            assert_int_equal(sf_h5_column_push(&col, &v), 0);
        }
        assert_int_equal(sf_h5_column_write(&col, d, H5I_INVALID_HID, 0, H5P_DEFAULT, "v", &err),
                         0);
        sf_h5_column_free(&col);
        H5Dclose(d);
        H5Gclose(grp);
    }
    H5Pclose(lcpl);
    H5Fclose(f);
}

static void test_tables_of_a_grouped_file_are_sorted_group_paths(void **state)
{
    (void)state;
    write_grouped_file();
    char **names = NULL;
    size_t n = 0;
    sf_error err;
    assert_int_equal(sf_h5_tables(path, &names, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "a=1/x=%2F");
    assert_string_equal(names[1], "a=1/x=0");
    assert_string_equal(names[2], "b=2");
    sf_h5_tables_free(names, n);
}

static void test_a_group_table_reads_its_own_rows(void **state)
{
    (void)state;
    write_grouped_file();
    sf_h5_reader *r = open_reader("a=1/x=0");
    sf_value want[] = {sf_int(20), sf_int(21), sf_int(22)};
    expect_rows(r, want, 3, 2);
    assert_string_equal(sf_h5_reader_attr(r, "shardflow_layout"), "single");
    sf_h5_reader_close(r);
}

static void test_missing_file_is_not_found(void **state)
{
    (void)state;
    char missing[400];
    snprintf(missing, sizeof missing, "%s/nope.h5", tmpdir);
    sf_h5_reader *r = (sf_h5_reader *)1;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_h5_reader_open(&r, missing, NULL, &err), SF_E_NOTFOUND);
    assert_null(r);
    assert_non_null(strstr(err.msg, missing));
    char **names = NULL;
    size_t n = 7;
    assert_int_equal(sf_h5_tables(missing, &names, &n, &err), SF_E_NOTFOUND);
    assert_int_equal(n, 0);
}

static void test_a_text_file_is_not_hdf5(void **state)
{
    (void)state;
    char txt[400];
    snprintf(txt, sizeof txt, "%s/not.h5", tmpdir);
    sf_error err;
    assert_int_equal(sf_write_file_atomic(txt, "a,b\n1,2\n", 8, &err), 0);
    sf_h5_reader *r = NULL;
    sf_error_clear(&err);
    assert_int_equal(sf_h5_reader_open(&r, txt, NULL, &err), SF_E_PARSE);
    assert_non_null(strstr(err.msg, "not a readable HDF5 file"));
    assert_non_null(strstr(err.msg, txt));
}

static void test_an_hdf5_file_without_table_attributes_is_rejected(void **state)
{
    (void)state;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    sf_h5_reader *r = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_h5_reader_open(&r, path, NULL, &err), SF_E_PARSE);
    assert_non_null(strstr(err.msg, "not a shardflow table"));
    char **names = NULL;
    size_t n = 7;
    assert_int_equal(sf_h5_tables(path, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    sf_h5_tables_free(names, n);
}

static void test_missing_group_is_not_found(void **state)
{
    (void)state;
    write_grouped_file();
    sf_h5_reader *r = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_h5_reader_open(&r, path, "c=3", &err), SF_E_NOTFOUND);
    assert_non_null(strstr(err.msg, "'c=3'"));
}

static void test_dataset_shorter_than_row_count_is_rejected(void **state)
{
    (void)state;
    const char *n[] = {"i"};
    sf_type t[] = {SF_INT};
    sf_value rows[] = {sf_int(1), sf_int(2)};
    write_table(1, n, t, rows, 2, NULL);
    /* Make row_count lie. */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, "row_count");
    sf_error err;
    assert_int_equal(sf_h5_attr_u64(f, "row_count", 3, path, &err), 0);
    H5Fclose(f);
    sf_h5_reader *r = NULL;
    sf_error_clear(&err);
    assert_int_equal(sf_h5_reader_open(&r, path, NULL, &err), SF_E_PARSE);
    assert_non_null(strstr(err.msg, "dataset 'i'"));
    assert_non_null(strstr(err.msg, "3 elements"));
}

static void test_dataset_of_the_wrong_class_is_rejected(void **state)
{
    (void)state;
    const char *n[] = {"i"};
    sf_type t[] = {SF_INT};
    sf_value rows[] = {sf_int(1)};
    write_table(1, n, t, rows, 1, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, "types");
    const char *lie[] = {"string"};
    sf_error err;
    assert_int_equal(sf_h5_attr_strings(f, "types", lie, 1, path, &err), 0);
    H5Fclose(f);
    sf_h5_reader *r = NULL;
    sf_error_clear(&err);
    assert_int_equal(sf_h5_reader_open(&r, path, NULL, &err), SF_E_PARSE);
    assert_non_null(strstr(err.msg, "cannot hold a string column"));
}

static void test_close_of_null_is_a_noop(void **state)
{
    (void)state;
    sf_h5_reader_close(NULL);
    sf_h5_tables_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_timestamp_round_trips_as_int64_microseconds),
        cmocka_unit_test(test_nan_round_trips_as_nan_not_null),
        cmocka_unit_test(test_nulls_come_back_as_nulls_in_every_type),
        cmocka_unit_test(test_empty_table_reads_zero_rows),
        cmocka_unit_test(test_one_megabyte_string_round_trips),
        cmocka_unit_test(test_non_ascii_strings_round_trip),
        cmocka_unit_test(test_strings_with_nul_bytes_round_trip),
        cmocka_unit_test(test_every_compression_reads_back_the_same_values),
        cmocka_unit_test(test_many_rows_read_in_batches_across_chunk_boundaries),
        cmocka_unit_test(test_batch_size_zero_reads_one_row),
        cmocka_unit_test(test_file_attributes_are_available),
        cmocka_unit_test(test_storage_counts_the_datasets),
        cmocka_unit_test(test_tables_of_a_part_file_is_the_root),
        cmocka_unit_test(test_tables_of_a_grouped_file_are_sorted_group_paths),
        cmocka_unit_test(test_a_group_table_reads_its_own_rows),
        cmocka_unit_test(test_missing_file_is_not_found),
        cmocka_unit_test(test_a_text_file_is_not_hdf5),
        cmocka_unit_test(test_an_hdf5_file_without_table_attributes_is_rejected),
        cmocka_unit_test(test_missing_group_is_not_found),
        cmocka_unit_test(test_dataset_shorter_than_row_count_is_rejected),
        cmocka_unit_test(test_dataset_of_the_wrong_class_is_rejected),
        cmocka_unit_test(test_close_of_null_is_a_noop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
