/* test_h5file.c - unit tests of the HDF5 part-file writer (io/h5file.h):
 * the --compression parser, column-name checks, and the file it writes,
 * checked with the plain HDF5 API (not io/h5read) against the format of
 * docs/formats.md: dataset types, values, NULL validity datasets, fill of
 * NULL slots, attributes, chunking and filters, the NUL-byte string form,
 * empty files and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/fsutil.h"
#include "io/h5file.h"

static char tmpdir[256];
static char path[320];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sf_h5file_XXXXXX", base && *base ? base : "/tmp");
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

static sf_h5_writer *open_writer(size_t ncols, const char *const *names, const sf_type *types,
                                 const sf_h5_options *opt)
{
    sf_h5_writer *w = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_h5_writer_open(&w, path, ncols, names, types, opt, &err) != 0)
        fail_msg("open: %s", err.msg);
    return w;
}

static void close_ok(sf_h5_writer *w, uint64_t want_rows)
{
    sf_error err;
    sf_error_clear(&err);
    uint64_t rows = 99, bytes = 0;
    if (sf_h5_writer_close(w, &rows, &bytes, &err) != 0)
        fail_msg("close: %s", err.msg);
    assert_int_equal(rows, want_rows);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(bytes, (uint64_t)st.st_size);
}

static void append(sf_h5_writer *w, const sf_value *row)
{
    assert_int_equal(sf_h5_writer_append(w, row), 0);
}

static hid_t open_file(void)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}

static int has_link(hid_t f, const char *name)
{
    return H5Lexists(f, name, H5P_DEFAULT) > 0;
}

/* Reads a whole 1-D dataset in memory type mt into buf; returns its length. */
static hsize_t read_all(hid_t f, const char *name, hid_t mt, void *buf)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t n = 0;
    assert_int_equal(H5Sget_simple_extent_ndims(sp), 1);
    H5Sget_simple_extent_dims(sp, &n, NULL);
    if (n > 0)
        assert_true(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    return n;
}

/* A scalar string attribute of obj (a new string). */
static char *attr_string(hid_t obj, const char *name)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t t = H5Aget_type(a);
    assert_int_equal(H5Tget_class(t), H5T_STRING);
    assert_true(H5Tis_variable_str(t) > 0);
    assert_int_equal(H5Tget_cset(t), H5T_CSET_UTF8);
    char *v = NULL;
    assert_true(H5Aread(a, t, &v) >= 0);
    char *copy = strdup(v);
    H5free_memory(v);
    H5Tclose(t);
    H5Aclose(a);
    return copy;
}

static void assert_attr_string(hid_t obj, const char *name, const char *want)
{
    char *got = attr_string(obj, name);
    assert_string_equal(got, want);
    free(got);
}

/* Checks a 1-D string array attribute against want[0..n). */
static void assert_attr_strings(hid_t obj, const char *name, const char *const *want, size_t n)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    assert_int_equal(H5Sget_simple_extent_npoints(sp), (hssize_t)n);
    char **v = calloc(n + 1, sizeof *v);
    assert_true(H5Aread(a, t, v) >= 0);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i], want[i]);
        H5free_memory(v[i]);
    }
    free(v);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
}

static uint64_t attr_u64(hid_t obj, const char *name)
{
    uint64_t v = 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t t = H5Aget_type(a);
    assert_true(H5Tequal(t, H5T_STD_U64LE) > 0);
    assert_true(H5Aread(a, H5T_NATIVE_UINT64, &v) >= 0);
    H5Tclose(t);
    H5Aclose(a);
    return v;
}

/* ---- options and names ---- */

static void test_parse_compression_accepts_none_gzip_and_levels(void **state)
{
    (void)state;
    sf_h5_options o;
    sf_h5_options_init(&o);
    assert_int_equal(o.gzip, 4);
    assert_int_equal(o.chunk_rows, SF_H5_CHUNK_ROWS);
    sf_error err;
    assert_int_equal(sf_h5_parse_compression("none", &o, &err), 0);
    assert_int_equal(o.gzip, SF_H5_NO_COMPRESSION);
    assert_int_equal(sf_h5_parse_compression("gzip", &o, &err), 0);
    assert_int_equal(o.gzip, 4);
    assert_int_equal(sf_h5_parse_compression("gzip:0", &o, &err), 0);
    assert_int_equal(o.gzip, 0);
    assert_int_equal(sf_h5_parse_compression("gzip:9", &o, &err), 0);
    assert_int_equal(o.gzip, 9);
}

static void test_parse_compression_rejects_bad_text(void **state)
{
    (void)state;
    const char *bad[] = {"gzip:10", "gzip:", "gzip:x", "zip", "", "GZIP", "gzip:4 ", "none2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sf_h5_options o;
        sf_h5_options_init(&o);
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_h5_parse_compression(bad[i], &o, &err), SF_E_INVAL);
        assert_int_equal(o.gzip, 4);
        assert_non_null(strstr(err.msg, "compression"));
        char quoted[32];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        assert_non_null(strstr(err.msg, quoted));
    }
}

static void test_check_columns_rejects_empty_duplicate_and_valid_suffix(void **state)
{
    (void)state;
    sf_error err;
    const char *ok[] = {"a", "a.b", "valid", "x/y"};
    assert_int_equal(sf_h5_check_columns(4, ok, &err), 0);
    const char *dup[] = {"a", "b", "a"};
    assert_int_equal(sf_h5_check_columns(3, dup, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "'a' appears twice"));
    const char *empty[] = {"a", ""};
    assert_int_equal(sf_h5_check_columns(2, empty, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "column 2"));
    const char *clash[] = {"rev.valid", "rev"};
    assert_int_equal(sf_h5_check_columns(2, clash, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "'rev.valid'"));
    assert_non_null(strstr(err.msg, "'rev'"));
}

/* SF_H5_MAX_COLUMNS + 1 distinct names "c0", "c1", ... (static storage). */
static const char *const *wide_names(void)
{
    static char text[SF_H5_MAX_COLUMNS + 1][8];
    static const char *names[SF_H5_MAX_COLUMNS + 1];
    for (size_t i = 0; i <= SF_H5_MAX_COLUMNS; i++) {
        snprintf(text[i], sizeof text[i], "c%zu", i);
        names[i] = text[i];
    }
    return names;
}

static void test_check_columns_refuses_one_past_the_limit_naming_count_and_formats(void **state)
{
    (void)state;
    const char *const *names = wide_names();
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_h5_check_columns(SF_H5_MAX_COLUMNS, names, &err), 0);
    assert_int_equal(sf_h5_check_columns(SF_H5_MAX_COLUMNS + 1, names, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "at most 4091 columns"));
    assert_non_null(strstr(err.msg, "has 4092"));
    assert_non_null(strstr(err.msg, "--format csv or --format parquet"));
    /* The count is checked before the names (no quadratic scan first). */
    const char *const dup[SF_H5_MAX_COLUMNS + 1] = {"same", "same"};
    assert_int_equal(sf_h5_check_columns(SF_H5_MAX_COLUMNS + 1, dup, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "has 4092"));
}

/* The limit is the library's: the table attributes of SF_H5_MAX_COLUMNS
 * columns are written and read back, one more column is refused by HDF5. */
static void test_table_attrs_hold_exactly_the_max_columns(void **state)
{
    (void)state;
    const char *const *names = wide_names();
    static sf_type types[SF_H5_MAX_COLUMNS + 1];
    for (size_t i = 0; i <= SF_H5_MAX_COLUMNS; i++)
        types[i] = SF_STRING;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    sf_error err;
    sf_error_clear(&err);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_int_equal(sf_h5_table_attrs(f, SF_H5_MAX_COLUMNS, names, types, 7, "t", &err), 0);
    hid_t a = H5Aopen(f, "columns", H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t sp = H5Aget_space(a);
    hsize_t dim = 0;
    assert_int_equal(H5Sget_simple_extent_dims(sp, &dim, NULL), 1);
    assert_int_equal(dim, SF_H5_MAX_COLUMNS);
    H5Sclose(sp);
    H5Aclose(a);
    H5Fclose(f);

    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_int_equal(sf_h5_table_attrs(f, SF_H5_MAX_COLUMNS + 1, names, types, 7, "t", &err),
                     SF_E_IO);
    assert_non_null(strstr(err.msg, "'columns'"));
    H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, (H5E_auto2_t)H5Eprint2, stderr);
}

/* The writer at the limit makes a file; one column more is refused at
 * open, before any row is buffered. */
static void test_writer_takes_max_columns_and_refuses_one_more_at_open(void **state)
{
    (void)state;
    const char *const *names = wide_names();
    static sf_type types[SF_H5_MAX_COLUMNS + 1];
    static sf_value row[SF_H5_MAX_COLUMNS + 1];
    for (size_t i = 0; i <= SF_H5_MAX_COLUMNS; i++) {
        types[i] = SF_INT;
        row[i] = sf_int((int64_t)i);
    }
    sf_h5_options opt;
    sf_h5_options_init(&opt);
    sf_h5_writer *w = open_writer(SF_H5_MAX_COLUMNS, names, types, &opt);
    append(w, row);
    close_ok(w, 1);
    hid_t f = open_file();
    assert_true(has_link(f, "c4090"));
    H5Fclose(f);

    sf_error err;
    sf_error_clear(&err);
    w = NULL;
    assert_int_equal(sf_h5_writer_open(&w, path, SF_H5_MAX_COLUMNS + 1, names, types, &opt, &err),
                     SF_E_INVAL);
    assert_null(w);
    assert_non_null(strstr(err.msg, "has 4092"));
}

static void test_link_name_escapes_slash_percent_and_dot(void **state)
{
    (void)state;
    struct {
        const char *col;
        int valid;
        const char *want;
    } cases[] = {{"props.price", 0, "props.price"}, {"a/b", 0, "a%2Fb"},
                 {"50%", 1, "50%25.valid"},        {".", 0, "%2E"},
                 {"x", 1, "x.valid"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sf_buf b = SF_BUF_INIT;
        assert_int_equal(sf_h5_link_name(cases[i].col, cases[i].valid, &b), 0);
        assert_string_equal((const char *)b.p, cases[i].want);
        assert_int_equal(b.n, strlen(cases[i].want));
        sf_buf_free(&b);
    }
}

/* ---- the file ---- */

static const char *const all_names[] = {"i", "d", "b", "day", "s"};
static const sf_type all_types[] = {SF_INT, SF_DOUBLE, SF_BOOL, SF_DATE, SF_STRING};

static void write_three_rows(const sf_h5_options *opt)
{
    sf_h5_writer *w = open_writer(5, all_names, all_types, opt);
    sf_value r0[] = {sf_int(INT64_MIN), sf_double(-0.5), sf_bool(1), sf_date(20301),
                     sf_string("alpha", 5)};
    sf_value r1[] = {sf_int(42), sf_double(1e300), sf_bool(0), sf_date(-1), sf_string("", 0)};
    sf_value r2[] = {sf_int(INT64_MAX), sf_double(354.41), sf_bool(1), sf_date(0),
                     sf_string("gamma", 5)};
    append(w, r0);
    append(w, r1);
    append(w, r2);
    close_ok(w, 3);
}

static void test_each_type_has_its_documented_hdf5_type(void **state)
{
    (void)state;
    write_three_rows(NULL);
    hid_t f = open_file();
    struct {
        const char *name;
        hid_t want;
    } fixed[] = {{"i", H5T_STD_I64LE}, {"d", H5T_IEEE_F64LE}, {"day", H5T_STD_I32LE}};
    for (size_t k = 0; k < 3; k++) {
        hid_t d = H5Dopen2(f, fixed[k].name, H5P_DEFAULT);
        hid_t t = H5Dget_type(d);
        assert_true(H5Tequal(t, fixed[k].want) > 0);
        H5Tclose(t);
        H5Dclose(d);
    }
    hid_t d = H5Dopen2(f, "b", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    assert_int_equal(H5Tget_class(t), H5T_ENUM);
    assert_int_equal(H5Tget_nmembers(t), 2);
    hid_t base = H5Tget_super(t);
    assert_true(H5Tequal(base, H5T_STD_I8LE) > 0);
    char *m0 = H5Tget_member_name(t, 0), *m1 = H5Tget_member_name(t, 1);
    signed char v0 = 9, v1 = 9;
    H5Tget_member_value(t, 0, &v0);
    H5Tget_member_value(t, 1, &v1);
    assert_string_equal(m0, "FALSE");
    assert_int_equal(v0, 0);
    assert_string_equal(m1, "TRUE");
    assert_int_equal(v1, 1);
    H5free_memory(m0);
    H5free_memory(m1);
    H5Tclose(base);
    H5Tclose(t);
    H5Dclose(d);
    d = H5Dopen2(f, "s", H5P_DEFAULT);
    t = H5Dget_type(d);
    assert_int_equal(H5Tget_class(t), H5T_STRING);
    assert_true(H5Tis_variable_str(t) > 0);
    assert_int_equal(H5Tget_cset(t), H5T_CSET_UTF8);
    H5Tclose(t);
    assert_attr_string(d, "type", "string");
    H5Dclose(d);
    d = H5Dopen2(f, "day", H5P_DEFAULT);
    assert_attr_string(d, "type", "date");
    assert_attr_string(d, "units", "days since 1970-01-01");
    H5Dclose(d);
    H5Fclose(f);
}

static void test_values_are_stored_in_row_order(void **state)
{
    (void)state;
    write_three_rows(NULL);
    hid_t f = open_file();
    int64_t iv[3];
    double dv[3];
    int32_t dayv[3];
    assert_int_equal(read_all(f, "i", H5T_NATIVE_INT64, iv), 3);
    assert_int_equal(read_all(f, "d", H5T_NATIVE_DOUBLE, dv), 3);
    assert_int_equal(read_all(f, "day", H5T_NATIVE_INT32, dayv), 3);
    assert_true(iv[0] == INT64_MIN && iv[1] == 42 && iv[2] == INT64_MAX);
    assert_true(dv[0] == -0.5 && dv[1] == 1e300 && dv[2] == 354.41);
    assert_true(dayv[0] == 20301 && dayv[1] == -1 && dayv[2] == 0);
    hid_t d = H5Dopen2(f, "b", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    signed char bv[3];
    assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, bv) >= 0);
    assert_true(bv[0] == 1 && bv[1] == 0 && bv[2] == 1);
    H5Tclose(t);
    H5Dclose(d);
    d = H5Dopen2(f, "s", H5P_DEFAULT);
    t = H5Dget_type(d);
    char *sv[3] = {0};
    assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, sv) >= 0);
    assert_string_equal(sv[0], "alpha");
    assert_string_equal(sv[1], "");
    assert_string_equal(sv[2], "gamma");
    for (int i = 0; i < 3; i++)
        H5free_memory(sv[i]);
    H5Tclose(t);
    H5Dclose(d);
    /* No NULL anywhere: no validity dataset. */
    for (size_t c = 0; c < 5; c++) {
        char vname[32];
        snprintf(vname, sizeof vname, "%s.valid", all_names[c]);
        assert_false(has_link(f, vname));
    }
    H5Fclose(f);
}

static void test_root_attributes_describe_the_table_and_job(void **state)
{
    (void)state;
    sf_h5_options o;
    sf_h5_options_init(&o);
    o.job = "daily_kpi";
    o.spec_hash = "abc123";
    o.version = "9.8.7";
    write_three_rows(&o);
    hid_t f = open_file();
    assert_attr_strings(f, "columns", all_names, 5);
    const char *types[] = {"int64", "double", "bool", "date", "string"};
    assert_attr_strings(f, "types", types, 5);
    assert_int_equal(attr_u64(f, "row_count"), 3);
    assert_attr_string(f, "job", "daily_kpi");
    assert_attr_string(f, "spec_hash", "abc123");
    assert_attr_string(f, "shardflow_version", "9.8.7");
    assert_attr_string(f, "shardflow_layout", "hive");
    H5Fclose(f);
}

static void test_default_version_attribute_is_the_build_version(void **state)
{
    (void)state;
    write_three_rows(NULL);
    hid_t f = open_file();
    assert_attr_string(f, "shardflow_version", SF_VERSION);
    assert_attr_string(f, "job", "");
    H5Fclose(f);
}

static void test_nulls_get_a_validity_dataset_only_where_present(void **state)
{
    (void)state;
    sf_h5_writer *w = open_writer(5, all_names, all_types, NULL);
    sf_value r0[] = {sf_null(), sf_null(), sf_null(), sf_null(), sf_null()};
    sf_value r1[] = {sf_int(7), sf_double(2.5), sf_bool(1), sf_date(3), sf_string("x", 1)};
    sf_value r2[] = {sf_int(8), sf_null(), sf_bool(0), sf_date(4), sf_string("", 0)};
    append(w, r0);
    append(w, r1);
    append(w, r2);
    close_ok(w, 3);
    hid_t f = open_file();
    uint8_t v[3];
    assert_int_equal(read_all(f, "i.valid", H5T_NATIVE_UINT8, v), 3);
    assert_true(v[0] == 0 && v[1] == 1 && v[2] == 1);
    assert_int_equal(read_all(f, "d.valid", H5T_NATIVE_UINT8, v), 3);
    assert_true(v[0] == 0 && v[1] == 1 && v[2] == 0);
    assert_int_equal(read_all(f, "s.valid", H5T_NATIVE_UINT8, v), 3);
    assert_true(v[0] == 0 && v[1] == 1 && v[2] == 1);
    assert_true(has_link(f, "b.valid") && has_link(f, "day.valid"));
    /* The documented content of NULL slots: 0, NaN, "". */
    int64_t iv[3];
    double dv[3];
    read_all(f, "i", H5T_NATIVE_INT64, iv);
    read_all(f, "d", H5T_NATIVE_DOUBLE, dv);
    assert_int_equal(iv[0], 0);
    assert_true(isnan(dv[0]) && isnan(dv[2]) && dv[1] == 2.5);
    hid_t d = H5Dopen2(f, "s", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    char *sv[3] = {0};
    assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, sv) >= 0);
    assert_string_equal(sv[0], "");
    for (int i = 0; i < 3; i++)
        H5free_memory(sv[i]);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_empty_file_has_zero_length_datasets_and_attributes(void **state)
{
    (void)state;
    sf_h5_writer *w = open_writer(5, all_names, all_types, NULL);
    close_ok(w, 0);
    hid_t f = open_file();
    assert_int_equal(attr_u64(f, "row_count"), 0);
    assert_attr_strings(f, "columns", all_names, 5);
    for (size_t c = 0; c < 5; c++) {
        int64_t dummy;
        assert_int_equal(read_all(f, all_names[c], H5T_NATIVE_INT64, &dummy), 0);
        hid_t d = H5Dopen2(f, all_names[c], H5P_DEFAULT);
        hid_t dcpl = H5Dget_create_plist(d);
        assert_int_equal(H5Pget_layout(dcpl), H5D_CONTIGUOUS);
        H5Pclose(dcpl);
        H5Dclose(d);
    }
    H5Fclose(f);
}

static void test_zero_columns_still_make_a_valid_file(void **state)
{
    (void)state;
    sf_h5_writer *w = open_writer(0, NULL, NULL, NULL);
    sf_value none[1];
    append(w, none);
    close_ok(w, 1);
    hid_t f = open_file();
    assert_int_equal(attr_u64(f, "row_count"), 1);
    H5Fclose(f);
}

/* Chunk size and filters of dataset name. */
static void dataset_layout(const char *name, hsize_t *chunk, int *nfilters, int *shuffle,
                           unsigned *level)
{
    hid_t f = open_file();
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_layout(dcpl), H5D_CHUNKED);
    assert_int_equal(H5Pget_chunk(dcpl, 1, chunk), 1);
    *nfilters = H5Pget_nfilters(dcpl);
    *shuffle = 0;
    *level = 99;
    for (int k = 0; k < *nfilters; k++) {
        unsigned flags, cd[4];
        size_t ncd = 4;
        char fname[64];
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)k, &flags, &ncd, cd, sizeof fname,
                                         fname, NULL);
        if (id == H5Z_FILTER_SHUFFLE)
            *shuffle = k == 0; /* shuffle must run before deflate */
        if (id == H5Z_FILTER_DEFLATE)
            *level = cd[0];
    }
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_chunk_rows_are_clamped_to_the_row_count(void **state)
{
    (void)state;
    write_three_rows(NULL);
    hsize_t chunk;
    int nf, sh;
    unsigned level;
    dataset_layout("i", &chunk, &nf, &sh, &level);
    assert_int_equal(chunk, 3);
    sf_h5_options o;
    sf_h5_options_init(&o);
    o.chunk_rows = 2;
    write_three_rows(&o);
    dataset_layout("s", &chunk, &nf, &sh, &level);
    assert_int_equal(chunk, 2);
}

static void test_gzip_levels_use_shuffle_then_deflate(void **state)
{
    (void)state;
    int levels[] = {1, 4, 9};
    for (size_t k = 0; k < 3; k++) {
        sf_h5_options o;
        sf_h5_options_init(&o);
        o.gzip = levels[k];
        write_three_rows(&o);
        hsize_t chunk;
        int nf, sh;
        unsigned level;
        dataset_layout("d", &chunk, &nf, &sh, &level);
        assert_int_equal(nf, 2);
        assert_true(sh);
        assert_int_equal(level, (unsigned)levels[k]);
    }
}

static void test_compression_none_has_no_filters(void **state)
{
    (void)state;
    sf_h5_options o;
    sf_h5_options_init(&o);
    o.gzip = SF_H5_NO_COMPRESSION;
    write_three_rows(&o);
    hsize_t chunk;
    int nf, sh;
    unsigned level;
    dataset_layout("i", &chunk, &nf, &sh, &level);
    assert_int_equal(nf, 0);
}

static uint64_t write_repetitive(int gzip)
{
    sf_h5_options o;
    sf_h5_options_init(&o);
    o.gzip = gzip;
    const char *n[] = {"v"};
    sf_type t[] = {SF_INT};
    sf_h5_writer *w = open_writer(1, n, t, &o);
    for (int i = 0; i < 100000; i++) {
        sf_value v = sf_int(i % 10);
        append(w, &v);
    }
    uint64_t bytes = 0;
    sf_error err;
    assert_int_equal(sf_h5_writer_close(w, NULL, &bytes, &err), 0);
    return bytes;
}

static void test_gzip_shrinks_repetitive_columns(void **state)
{
    (void)state;
    uint64_t plain = write_repetitive(SF_H5_NO_COMPRESSION);
    uint64_t packed = write_repetitive(9);
    assert_true(plain >= 800000);
    assert_true(packed * 10 < plain);
}

static void test_string_with_nul_byte_is_stored_as_uint8_sequences(void **state)
{
    (void)state;
    const char *n[] = {"s", "t"};
    sf_type t[] = {SF_STRING, SF_STRING};
    sf_h5_writer *w = open_writer(2, n, t, NULL);
    sf_value r0[] = {sf_string("a\0b", 3), sf_string("plain", 5)};
    sf_value r1[] = {sf_null(), sf_string("x", 1)};
    append(w, r0);
    append(w, r1);
    close_ok(w, 2);
    hid_t f = open_file();
    hid_t d = H5Dopen2(f, "s", H5P_DEFAULT);
    hid_t ft = H5Dget_type(d);
    assert_int_equal(H5Tget_class(ft), H5T_VLEN);
    hid_t base = H5Tget_super(ft);
    assert_true(H5Tequal(base, H5T_STD_U8LE) > 0);
    hid_t mt = H5Tvlen_create(H5T_NATIVE_UCHAR);
    hvl_t hv[2];
    assert_true(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, hv) >= 0);
    assert_int_equal(hv[0].len, 3);
    assert_memory_equal(hv[0].p, "a\0b", 3);
    assert_int_equal(hv[1].len, 0);
    hid_t sp = H5Dget_space(d);
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, hv);
    assert_attr_string(d, "type", "string");
    H5Sclose(sp);
    H5Tclose(mt);
    H5Tclose(base);
    H5Tclose(ft);
    H5Dclose(d);
    /* The other string column keeps the ordinary string form. */
    d = H5Dopen2(f, "t", H5P_DEFAULT);
    ft = H5Dget_type(d);
    assert_int_equal(H5Tget_class(ft), H5T_STRING);
    H5Tclose(ft);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_null_typed_column_is_uint8_without_validity(void **state)
{
    (void)state;
    const char *n[] = {"nothing"};
    sf_type t[] = {SF_NULL};
    sf_h5_writer *w = open_writer(1, n, t, NULL);
    sf_value v = sf_null();
    append(w, &v);
    append(w, &v);
    close_ok(w, 2);
    hid_t f = open_file();
    uint8_t u[2] = {9, 9};
    assert_int_equal(read_all(f, "nothing", H5T_NATIVE_UINT8, u), 2);
    assert_true(u[0] == 0 && u[1] == 0);
    assert_false(has_link(f, "nothing.valid"));
    H5Fclose(f);
}

/* sync_later: close starts the writeback only (the run syncs its files
 * together, sf_fsync_files); the file holds the same bytes as one fsynced
 * at close, its size is reported alike, sf_fsync_file then makes it
 * durable, and an append failure still shows at close. */
static void test_sync_later_writes_the_same_bytes_and_leaves_the_sync(void **state)
{
    (void)state;
    sf_error err;
    sf_error_clear(&err);
    write_three_rows(NULL);
    char *p, *q;
    size_t lp, lq;
    assert_int_equal(sf_read_file(path, &p, &lp, &err), 0);
    sf_h5_options later;
    sf_h5_options_init(&later);
    assert_int_equal(later.sync_later, 0);
    later.sync_later = 1;
    write_three_rows(&later); /* close_ok: the size reported is the file's */
    assert_int_equal(sf_read_file(path, &q, &lq, &err), 0);
    assert_int_equal(lp, lq);
    assert_memory_equal(p, q, lp);
    free(p);
    free(q);
    assert_int_equal(sf_fsync_file(path, &err), 0);

    sf_h5_writer *w = open_writer(5, all_names, all_types, &later);
    sf_value bad[] = {sf_int(2), sf_int(2), sf_bool(1), sf_date(1), sf_string("a", 1)};
    assert_int_equal(sf_h5_writer_append(w, bad), SF_E_TYPE);
    assert_int_equal(sf_h5_writer_close(w, NULL, NULL, &err), SF_E_TYPE);
    assert_non_null(strstr(err.msg, path));
}

static void test_type_mismatch_is_reported_at_close_with_row_and_column(void **state)
{
    (void)state;
    sf_h5_writer *w = open_writer(5, all_names, all_types, NULL);
    sf_value ok[] = {sf_int(1), sf_double(1), sf_bool(1), sf_date(1), sf_string("a", 1)};
    sf_value bad[] = {sf_int(2), sf_int(2), sf_bool(1), sf_date(1), sf_string("a", 1)};
    append(w, ok);
    assert_int_equal(sf_h5_writer_append(w, bad), SF_E_TYPE);
    /* Later rows are refused: the first failure sticks. */
    assert_int_equal(sf_h5_writer_append(w, ok), SF_E_TYPE);
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_h5_writer_close(w, NULL, NULL, &err), SF_E_TYPE);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "row 2"));
    assert_non_null(strstr(err.msg, "column 'd'"));
    assert_non_null(strstr(err.msg, "int64 value in a double column"));
}

static void test_append_cols_picks_values_from_a_wider_row(void **state)
{
    (void)state;
    const char *n[] = {"b", "a"};
    sf_type t[] = {SF_STRING, SF_INT};
    sf_h5_writer *w = open_writer(2, n, t, NULL);
    int cols[] = {2, 0};
    sf_value wide[] = {sf_int(5), sf_double(9.5), sf_string("five", 4)};
    assert_int_equal(sf_h5_writer_append_cols(w, wide, cols), 0);
    close_ok(w, 1);
    hid_t f = open_file();
    int64_t a;
    assert_int_equal(read_all(f, "a", H5T_NATIVE_INT64, &a), 1);
    assert_int_equal(a, 5);
    hid_t d = H5Dopen2(f, "b", H5P_DEFAULT);
    hid_t ft = H5Dget_type(d);
    char *s = NULL;
    assert_true(H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) >= 0);
    assert_string_equal(s, "five");
    H5free_memory(s);
    H5Tclose(ft);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_column_with_slash_in_name_is_stored_escaped(void **state)
{
    (void)state;
    const char *n[] = {"a/b"};
    sf_type t[] = {SF_INT};
    sf_h5_writer *w = open_writer(1, n, t, NULL);
    sf_value v = sf_null();
    append(w, &v);
    close_ok(w, 1);
    hid_t f = open_file();
    assert_true(has_link(f, "a%2Fb"));
    assert_true(has_link(f, "a%2Fb.valid"));
    assert_attr_strings(f, "columns", n, 1);
    H5Fclose(f);
}

static void test_open_in_missing_directory_fails_naming_the_file(void **state)
{
    (void)state;
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/dir/part-00000.h5", tmpdir);
    sf_h5_writer *w = (sf_h5_writer *)1;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_h5_writer_open(&w, bad, 5, all_names, all_types, NULL, &err), SF_E_IO);
    assert_null(w);
    assert_non_null(strstr(err.msg, bad));
}

static void test_open_rejects_colliding_names_before_creating_the_file(void **state)
{
    (void)state;
    const char *n[] = {"x", "x.valid"};
    sf_type t[] = {SF_INT, SF_INT};
    sf_h5_writer *w = NULL;
    sf_error err;
    sf_error_clear(&err);
    unlink(path); /* left by an earlier test */
    assert_int_equal(sf_h5_writer_open(&w, path, 2, n, t, NULL, &err), SF_E_INVAL);
    assert_null(w);
    assert_non_null(strstr(err.msg, path));
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
}

static void test_open_rejects_a_deflate_level_out_of_range(void **state)
{
    (void)state;
    sf_h5_options o;
    sf_h5_options_init(&o);
    o.gzip = 12;
    sf_h5_writer *w = NULL;
    sf_error err;
    assert_int_equal(sf_h5_writer_open(&w, path, 5, all_names, all_types, &o, &err), SF_E_INVAL);
    assert_null(w);
    assert_non_null(strstr(err.msg, "12"));
}

static void test_close_of_null_is_a_noop(void **state)
{
    (void)state;
    assert_int_equal(sf_h5_writer_close(NULL, NULL, NULL, NULL), 0);
}

static void test_column_buffer_rejects_wrong_type_and_stays_unchanged(void **state)
{
    (void)state;
    sf_h5_column c;
    sf_h5_column_init(&c, SF_DATE);
    sf_value d = sf_date(5), s = sf_string("x", 1), n = sf_null();
    assert_int_equal(sf_h5_column_push(&c, &d), 0);
    assert_int_equal(sf_h5_column_push(&c, &s), SF_E_TYPE);
    assert_int_equal(sf_h5_column_push(&c, &n), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.nnull, 1);
    assert_int_equal(((int32_t *)c.data)[0], 5);
    assert_int_equal(c.valid[0], 1);
    assert_int_equal(c.valid[1], 0);
    sf_h5_column_clear(&c);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.nnull, 0);
    sf_h5_column_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_compression_accepts_none_gzip_and_levels),
        cmocka_unit_test(test_parse_compression_rejects_bad_text),
        cmocka_unit_test(test_check_columns_rejects_empty_duplicate_and_valid_suffix),
        cmocka_unit_test(test_check_columns_refuses_one_past_the_limit_naming_count_and_formats),
        cmocka_unit_test(test_table_attrs_hold_exactly_the_max_columns),
        cmocka_unit_test(test_writer_takes_max_columns_and_refuses_one_more_at_open),
        cmocka_unit_test(test_link_name_escapes_slash_percent_and_dot),
        cmocka_unit_test(test_each_type_has_its_documented_hdf5_type),
        cmocka_unit_test(test_values_are_stored_in_row_order),
        cmocka_unit_test(test_root_attributes_describe_the_table_and_job),
        cmocka_unit_test(test_default_version_attribute_is_the_build_version),
        cmocka_unit_test(test_nulls_get_a_validity_dataset_only_where_present),
        cmocka_unit_test(test_empty_file_has_zero_length_datasets_and_attributes),
        cmocka_unit_test(test_zero_columns_still_make_a_valid_file),
        cmocka_unit_test(test_chunk_rows_are_clamped_to_the_row_count),
        cmocka_unit_test(test_gzip_levels_use_shuffle_then_deflate),
        cmocka_unit_test(test_compression_none_has_no_filters),
        cmocka_unit_test(test_gzip_shrinks_repetitive_columns),
        cmocka_unit_test(test_string_with_nul_byte_is_stored_as_uint8_sequences),
        cmocka_unit_test(test_null_typed_column_is_uint8_without_validity),
        cmocka_unit_test(test_sync_later_writes_the_same_bytes_and_leaves_the_sync),
        cmocka_unit_test(test_type_mismatch_is_reported_at_close_with_row_and_column),
        cmocka_unit_test(test_append_cols_picks_values_from_a_wider_row),
        cmocka_unit_test(test_column_with_slash_in_name_is_stored_escaped),
        cmocka_unit_test(test_open_in_missing_directory_fails_naming_the_file),
        cmocka_unit_test(test_open_rejects_colliding_names_before_creating_the_file),
        cmocka_unit_test(test_open_rejects_a_deflate_level_out_of_range),
        cmocka_unit_test(test_close_of_null_is_a_noop),
        cmocka_unit_test(test_column_buffer_rejects_wrong_type_and_stays_unchanged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
