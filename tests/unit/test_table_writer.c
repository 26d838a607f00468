/* test_table_writer.c - io/table_writer.h: CSV files as io/csv writes
 * them (header, values in their text form, picked columns), headless
 * pieces, HDF5 and Parquet files with their rows, the abort path, and
 * format names. */
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
#include "io/h5read.h"
#include "io/parquet_read.h"
#include "io/table_writer.h"

static char dir[] = "/tmp/sf_table_writer_XXXXXX";

static const char *names[3] = {"country", "n", "revenue"};
static const sf_type types[3] = {SF_STRING, SF_INT, SF_DOUBLE};

static void assert_file(const char *path, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    sf_error err;
    assert_int_equal(sf_read_file(path, &text, &len, &err), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(text, want, len);
    free(text);
}

static void test_csv_has_header_and_value_text(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/a.csv", dir);
    sf_table_schema s = {3, names, types, NULL, 1, NULL};
    sf_table_writer *w = NULL;
    sf_error err;
    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_CSV, path, &s, &err), 0);
    sf_value r1[3] = {sf_string("FR,x", 4), sf_int(3), sf_double(1e16)};
    sf_value r2[3] = {sf_null(), sf_int(-1), sf_double(0.1)};
    assert_int_equal(sf_table_writer_append(w, r1, NULL), 0);
    assert_int_equal(sf_table_writer_append(w, r2, NULL), 0);
    uint64_t rows = 0, bytes = 0;
    assert_int_equal(sf_table_writer_close(w, &rows, &bytes, &err), 0);
    const char *want = "country,n,revenue\n\"FR,x\",3,1e+16\n,-1,0.1\n";
    assert_int_equal(rows, 2);
    assert_int_equal(bytes, strlen(want));
    assert_file(path, want);
}

static void test_csv_piece_without_header_picks_columns(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/b.csv", dir);
    sf_table_schema s = {2, names + 1, types + 1, NULL, 0, NULL};
    sf_table_writer *w = NULL;
    sf_error err;
    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_CSV, path, &s, &err), 0);
    sf_value wide[4] = {sf_double(2.5), sf_string("DE", 2), sf_int(7), sf_bool(1)};
    const int cols[2] = {2, 0};
    assert_int_equal(sf_table_writer_append(w, wide, cols), 0);
    assert_int_equal(sf_table_writer_close(w, NULL, NULL, &err), 0);
    assert_file(path, "7,2.5\n");
}

static void test_hdf5_rows_read_back(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/c.h5", dir);
    sf_table_schema s = {3, names, types, NULL, 1, NULL};
    sf_table_writer *w = NULL;
    sf_error err;
    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_HDF5, path, &s, &err), 0);
    sf_value r[3] = {sf_string("FR", 2), sf_int(3), sf_double(0.5)};
    assert_int_equal(sf_table_writer_append(w, r, NULL), 0);
    sf_value bad[3] = {sf_int(1), sf_int(3), sf_double(0.5)};
    assert_int_equal(sf_table_writer_append(w, bad, NULL), SF_E_TYPE);
    uint64_t rows = 0, bytes = 0;
    assert_int_equal(sf_table_writer_close(w, &rows, &bytes, &err), SF_E_TYPE);

    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_HDF5, path, &s, &err), 0);
    assert_int_equal(sf_table_writer_append(w, r, NULL), 0);
    assert_int_equal(sf_table_writer_close(w, &rows, &bytes, &err), 0);
    assert_int_equal(rows, 1);
    assert_true(bytes > 0);
    sf_h5_reader *rd = NULL;
    assert_int_equal(sf_h5_reader_open(&rd, path, "", &err), 0);
    assert_int_equal(sf_h5_reader_ncols(rd), 3);
    const sf_value *got;
    size_t n;
    assert_int_equal(sf_h5_reader_next(rd, 10, &got, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[1].u.i, 3);
    sf_h5_reader_close(rd);
}

static void test_parquet_rows_metadata_and_discard(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/d.parquet", dir);
    const char *keys[1] = {"shardflow.job"}, *vals[1] = {"kpi"};
    sf_parquet_options po;
    sf_parquet_options_init(&po);
    po.codec = SF_PQ_NONE;
    po.kv_keys = keys;
    po.kv_values = vals;
    po.nkv = 1;
    sf_table_schema s = {3, names, types, NULL, 1, &po};
    sf_table_writer *w = NULL;
    sf_error err = {0};
    /* A value of the wrong type fails the append; discard gives its reason. */
    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_PARQUET, path, &s, &err), 0);
    sf_value bad[3] = {sf_int(1), sf_int(3), sf_double(0.5)};
    assert_int_equal(sf_table_writer_append(w, bad, NULL), SF_E_TYPE);
    sf_error why = {0};
    sf_table_writer_discard(w, &why);
    assert_true(why.msg[0] != '\0');

    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_PARQUET, path, &s, &err), 0);
    sf_value wide[4] = {sf_double(2.5), sf_string("", 0), sf_int(7), sf_null()};
    const int cols[3] = {1, 2, 0};
    assert_int_equal(sf_table_writer_append(w, wide, cols), 0);
    sf_value r[3] = {sf_null(), sf_int(-4), sf_null()};
    assert_int_equal(sf_table_writer_append(w, r, NULL), 0);
    uint64_t rows = 0, bytes = 0;
    assert_int_equal(sf_table_writer_close(w, &rows, &bytes, &err), 0);
    assert_int_equal(rows, 2);
    assert_true(bytes > 12);

    sf_parquet_reader *rd = NULL;
    assert_int_equal(sf_parquet_reader_open(&rd, path, &err), 0);
    assert_int_equal(sf_parquet_reader_ncols(rd), 3);
    assert_string_equal(sf_parquet_reader_name(rd, 2), "revenue");
    assert_int_equal(sf_parquet_reader_type(rd, 1), SF_INT);
    assert_string_equal(sf_parquet_reader_kv(rd, "shardflow.job"), "kpi");
    const sf_value *got;
    size_t n;
    assert_int_equal(sf_parquet_reader_next(rd, 10, &got, &n, &err), 0);
    assert_int_equal(n, 2);
    /* The empty string stays a string, apart from the NULL below it. */
    assert_int_equal(got[0].type, SF_STRING);
    assert_int_equal(got[0].u.s.n, 0);
    assert_int_equal(got[1].u.i, 7);
    assert_true(got[2].u.d == 2.5);
    assert_int_equal(got[3].type, SF_NULL);
    assert_int_equal(got[4].u.i, -4);
    sf_parquet_reader_close(rd);

    /* A file with no rows is still a valid Parquet file. */
    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_PARQUET, path, &s, &err), 0);
    assert_int_equal(sf_table_writer_close(w, &rows, NULL, &err), 0);
    assert_int_equal(rows, 0);
    assert_int_equal(sf_parquet_reader_open(&rd, path, &err), 0);
    assert_int_equal(sf_parquet_reader_nrows(rd), 0);
    sf_parquet_reader_close(rd);
    sf_table_writer_discard(NULL, NULL);
}

static void test_format_names(void **state)
{
    (void)state;
    sf_table_format f;
    assert_int_equal(sf_table_format_parse("csv", &f), 0);
    assert_int_equal(f, SF_TABLE_CSV);
    assert_int_equal(sf_table_format_parse("hdf5", &f), 0);
    assert_int_equal(f, SF_TABLE_HDF5);
    assert_int_equal(sf_table_format_parse("parquet", &f), 0);
    assert_int_equal(f, SF_TABLE_PARQUET);
    assert_int_equal(sf_table_format_parse("xlsx", &f), SF_E_INVAL);
    assert_string_equal(sf_table_format_ext(SF_TABLE_PARQUET), "parquet");
    assert_string_equal(sf_table_format_ext(SF_TABLE_CSV), "csv");
    assert_string_equal(sf_table_format_ext(SF_TABLE_HDF5), "h5");
    assert_int_equal(sf_table_writer_close(NULL, NULL, NULL, NULL), 0);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_has_header_and_value_text),
        cmocka_unit_test(test_csv_piece_without_header_picks_columns),
        cmocka_unit_test(test_hdf5_rows_read_back),
        cmocka_unit_test(test_parquet_rows_metadata_and_discard),
        cmocka_unit_test(test_format_names),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sf_error err;
    sf_rmtree(dir, &err);
    return rc;
}
