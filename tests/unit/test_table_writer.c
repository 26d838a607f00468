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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/dataset.h"
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
    sf_table_schema s = {3, names, types, NULL, 1, NULL, NULL};
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
    sf_table_schema s = {2, names + 1, types + 1, NULL, 0, NULL, NULL};
    sf_table_writer *w = NULL;
    sf_error err;
    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_CSV, path, &s, &err), 0);
    sf_value wide[4] = {sf_double(2.5), sf_string("DE", 2), sf_int(7), sf_bool(1)};
    const int cols[2] = {2, 0};
    assert_int_equal(sf_table_writer_append(w, wide, cols), 0);
    assert_int_equal(sf_table_writer_close(w, NULL, NULL, &err), 0);
    assert_file(path, "7,2.5\n");
}

/* A row already in its CSV form counts as a row of a CSV file; another
 * format refuses it and writes nothing. */
static void test_csv_text_rows_count_and_other_formats_refuse_them(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/t.csv", dir);
    sf_table_schema s = {3, names, types, NULL, 1, NULL, NULL};
    sf_table_writer *w = NULL;
    sf_error err;
    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_CSV, path, &s, &err), 0);
    sf_value r[3] = {sf_string("FR,x", 4), sf_int(3), sf_double(1e16)};
    assert_int_equal(sf_table_writer_append(w, r, NULL), 0);
    char text[128];
    size_t n = sf_csv_format_row(r, 3, NULL, text);
    assert_int_equal(sf_table_writer_append_text(w, text, n), 0);
    /* Two texts in a store, written second then first. */
    char store[256];
    uint64_t at[3] = {0, n, 0};
    memcpy(store, text, n);
    sf_value r2[3] = {sf_string("DE", 2), sf_null(), sf_double(0.5)};
    at[2] = n + sf_csv_format_row(r2, 3, NULL, store + n);
    const uint32_t order[2] = {1, 0};
    assert_int_equal(sf_table_writer_append_texts(w, store, at, NULL, order, 2), 0);
    uint64_t rows = 0;
    assert_int_equal(sf_table_writer_close(w, &rows, NULL, &err), 0);
    assert_int_equal(rows, 4);
    assert_file(path, "country,n,revenue\n\"FR,x\",3,1e+16\n\"FR,x\",3,1e+16\n"
                      "DE,,0.5\n\"FR,x\",3,1e+16\n");
    snprintf(path, sizeof path, "%s/t.h5", dir);
    assert_int_equal(sf_table_writer_open(&w, SF_TABLE_HDF5, path, &s, &err), 0);
    assert_int_equal(sf_table_writer_append_text(w, text, n), SF_E_INVAL);
    assert_int_equal(sf_table_writer_append_texts(w, store, at, NULL, order, 2), SF_E_INVAL);
    assert_int_equal(sf_table_writer_close(w, &rows, NULL, &err), 0);
    assert_int_equal(rows, 0);
}

static void test_hdf5_rows_read_back(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/c.h5", dir);
    sf_table_schema s = {3, names, types, NULL, 1, NULL, NULL};
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
    sf_table_schema s = {3, names, types, NULL, 1, &po, NULL};
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

/* Writes the same rows plain and with opt: many rows (several 1 MiB text
 * buffers) and one field longer than the buffer. Returns the plain text
 * (malloc'ed) and its length. */
static char *write_pair(const char *plain, const char *packed, const sf_csv_options *opt,
                        size_t *len, uint64_t *packed_bytes)
{
    static char big[(1 << 20) + 4321];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + (i * 7) % 26);
    const char *paths[2] = {plain, packed};
    for (int k = 0; k < 2; k++) {
        sf_table_schema s = {3, names, types, NULL, 1, NULL, k ? opt : NULL};
        sf_table_writer *w = NULL;
        sf_error err;
        assert_int_equal(sf_table_writer_open(&w, SF_TABLE_CSV, paths[k], &s, &err), 0);
        for (int i = 0; i < 60000; i++) {
            char c[32];
            int n = snprintf(c, sizeof c, "c%d,\"q\"", i % 977);
            sf_value r[3] = {i == 30000 ? sf_string(big, sizeof big) : sf_string(c, (size_t)n),
                             i % 5 ? sf_int(i) : sf_null(), sf_double(i * 0.25)};
            assert_int_equal(sf_table_writer_append(w, r, NULL), 0);
        }
        uint64_t rows = 0, bytes = 0;
        assert_int_equal(sf_table_writer_close(w, &rows, &bytes, &err), 0);
        assert_int_equal(rows, 60000);
        struct stat st;
        assert_int_equal(stat(paths[k], &st), 0);
        assert_int_equal(bytes, (uint64_t)st.st_size);
        if (k)
            *packed_bytes = bytes;
    }
    char *text = NULL;
    sf_error err;
    assert_int_equal(sf_read_file(plain, &text, len, &err), 0);
    return text;
}

/* Opens path through io/dataset and returns its decoded text (borrowed
 * from t). */
static void read_back(const char *path, sf_dataset *o, sf_dataset_table *t, const char *want,
                      size_t len)
{
    sf_error err;
    assert_int_equal(sf_dataset_open(o, path, &err), 0);
    assert_int_equal(o->n, 1);
    assert_int_equal(o->s[0].kind, SRC_CSV);
    assert_int_equal(sf_dataset_table_open(t, &o->s[0], &err), 0);
    assert_int_equal(t->ncols, 3);
    assert_string_equal(t->cols[2], "revenue");
    assert_int_equal(t->map.n, len);
    assert_memory_equal(t->map.p, want, len);
    sf_dataset_table_close(t);
    sf_dataset_free(o);
}

static void test_csv_compressed_round_trip(void **state)
{
    (void)state;
    static const char *const codecs[2] = {"gzip:3", "zstd:5"};
    static const unsigned char magic[2][4] = {{0x1f, 0x8b, 0, 0}, {0x28, 0xb5, 0x2f, 0xfd}};
    for (int c = 0; c < 2; c++) {
        sf_csv_options opt;
        sf_error err;
        assert_int_equal(sf_csv_parse_compression(codecs[c], &opt, &err), 0);
        const char *ext = sf_table_file_ext(SF_TABLE_CSV, &opt);
        assert_string_equal(ext, c ? "csv.zst" : "csv.gz");
        char plain[256], packed[256], twice[256];
        snprintf(plain, sizeof plain, "%s/plain%d.csv", dir, c);
        snprintf(packed, sizeof packed, "%s/packed%d.%s", dir, c, ext);
        snprintf(twice, sizeof twice, "%s/twice%d.%s", dir, c, ext);
        size_t len = 0;
        uint64_t zbytes = 0;
        char *want = write_pair(plain, packed, &opt, &len, &zbytes);
        assert_true(zbytes < len / 4); /* repetitive text: it did compress */
        char *z = NULL;
        size_t zn = 0;
        assert_int_equal(sf_read_file(packed, &z, &zn, &err), 0);
        assert_int_equal(zn, zbytes);
        assert_memory_equal(z, magic[c], c ? 4 : 2);
        sf_dataset o;
        sf_dataset_table t;
        read_back(packed, &o, &t, want, len);
        /* Two members / frames back to back (flatten --single-file copies
         * pieces so) read as the two texts one after the other. */
        FILE *f = fopen(twice, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(z, 1, zn, f), zn);
        assert_int_equal(fwrite(z, 1, zn, f), zn);
        assert_int_equal(fclose(f), 0);
        char *want2 = malloc(2 * len);
        assert_non_null(want2);
        memcpy(want2, want, len);
        memcpy(want2 + len, want, len);
        read_back(twice, &o, &t, want2, 2 * len);
        /* A cut file is a clear error, not a short table. */
        f = fopen(twice, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(z, 1, zn / 2, f), zn / 2);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(sf_dataset_open(&o, twice, &err), 0);
        assert_int_equal(sf_dataset_table_open(&t, &o.s[0], &err), SF_E_PARSE);
        assert_non_null(strstr(err.msg, twice));
        sf_dataset_table_close(&t);
        sf_dataset_free(&o);
        free(want2);
        free(z);
        free(want);
    }
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
    assert_string_equal(sf_table_file_ext(SF_TABLE_CSV, NULL), "csv");
    assert_string_equal(sf_table_file_ext(SF_TABLE_PARQUET, NULL), "parquet");
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_has_header_and_value_text),
        cmocka_unit_test(test_csv_piece_without_header_picks_columns),
        cmocka_unit_test(test_csv_text_rows_count_and_other_formats_refuse_them),
        cmocka_unit_test(test_hdf5_rows_read_back),
        cmocka_unit_test(test_parquet_rows_metadata_and_discard),
        cmocka_unit_test(test_csv_compressed_round_trip),
        cmocka_unit_test(test_format_names),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sf_error err;
    sf_rmtree(dir, &err);
    return rc;
}
