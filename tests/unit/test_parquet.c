/* test_parquet.c - unit tests of the Parquet writer (io/parquet.h) through
 * the reader (io/parquet_read.h): round trips for every type with NULLs and
 * empty strings kept apart, NaN, -0.0, +-inf, int64 extremes, 1 MB strings,
 * non-ASCII, zero rows, dictionary fallback, several row groups and every
 * codec; the statistics the footer holds (the spec's NaN and zero rules);
 * codec parsing; and malformed files (every truncation, byte flips, bad
 * magic, lying lengths) rejected with SF_E_PARSE, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/fsutil.h"
#include "io/parquet.h"
#include "io/parquet_format.h"
#include "io/parquet_read.h"

static char tmpdir[256];
static char path[320];

static int setup(void **state)
{
    (void)state;
    /* The writer fsyncs on close: on tmpfs that costs nothing, on a busy
     * disk seconds per test. */
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/sf_parquet_XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(path, sizeof path, "%s/part-00000.parquet", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sf_error err;
    return sf_rmtree(tmpdir, &err) == 0 ? 0 : -1;
}

static uint64_t write_table(size_t ncols, const char *const *names, const sf_type *types,
                            const sf_value *rows, size_t nrows, const sf_parquet_options *opt)
{
    sf_parquet_writer *w = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_parquet_writer_open(&w, path, ncols, names, types, opt, &err) != 0)
        fail_msg("open: %s", err.msg);
    for (size_t i = 0; i < nrows; i++)
        if (sf_parquet_writer_append(w, rows + i * ncols, &err) != 0)
            fail_msg("append row %zu: %s", i, err.msg);
    uint64_t nr = 0, bytes = 0;
    if (sf_parquet_writer_close(w, &nr, &bytes, &err) != 0)
        fail_msg("close: %s", err.msg);
    assert_int_equal(nr, nrows);
    uint64_t size = 0;
    assert_int_equal(sf_file_size(path, &size, &err), 0);
    assert_int_equal(size, bytes);
    return bytes;
}

static sf_parquet_reader *open_reader(void)
{
    sf_parquet_reader *r = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_parquet_reader_open(&r, path, &err) != 0)
        fail_msg("reader open: %s", err.msg);
    return r;
}

static int same_value(const sf_value *a, const sf_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SF_NULL: return 1;
    case SF_BOOL: return a->u.b == b->u.b;
    case SF_INT:
    case SF_TIMESTAMP: return a->u.i == b->u.i;
    case SF_DATE: return a->u.date == b->u.date;
    case SF_DOUBLE: return memcmp(&a->u.d, &b->u.d, 8) == 0; /* bitwise: -0.0, NaN */
    default:
        return a->u.s.n == b->u.s.n && (a->u.s.n == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
    }
}

/* Reads the whole file with batches of at most `batch` rows and compares. */
static void check_rows(size_t ncols, const char *const *names, const sf_type *types,
                       const sf_value *rows, size_t nrows, size_t batch)
{
    sf_parquet_reader *r = open_reader();
    assert_int_equal(sf_parquet_reader_ncols(r), ncols);
    assert_int_equal(sf_parquet_reader_nrows(r), nrows);
    for (size_t c = 0; c < ncols; c++) {
        assert_string_equal(sf_parquet_reader_name(r, c), names[c]);
        assert_int_equal(sf_parquet_reader_type(r, c), types[c] == SF_NULL ? SF_STRING : types[c]);
    }
    size_t got = 0;
    for (;;) {
        const sf_value *b;
        size_t n;
        sf_error err;
        sf_error_clear(&err);
        if (sf_parquet_reader_next(r, batch, &b, &n, &err) != 0)
            fail_msg("next: %s", err.msg);
        if (n == 0)
            break;
        assert_true(n <= batch);
        assert_true(got + n <= nrows);
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < ncols; c++) {
                sf_value want = rows[(got + i) * ncols + c];
                if (want.type == SF_INT && types[c] == SF_DOUBLE)
                    want = sf_double((double)want.u.i);
                if (!same_value(&b[i * ncols + c], &want))
                    fail_msg("row %zu column %zu differs", got + i, c);
            }
        got += n;
    }
    assert_int_equal(got, nrows);
    sf_parquet_reader_close(r);
}

static const char *const edge_names[] = {"b", "i", "d", "s", "dt"};
static const sf_type edge_types[] = {SF_BOOL, SF_INT, SF_DOUBLE, SF_STRING, SF_DATE};

/* Edge values of every type, NULLs and empty strings apart. */
static sf_value *edge_rows(size_t *nrows)
{
    static const char *strs[] = {"", "a", "Zürich", "日本語", "emoji \xF0\x9F\x98\x80",
                                 "with\nnewline,\"quote\"", "nul\0in", "a"};
    static const size_t slen[] = {0, 1, 7, 9, 10, 20, 6, 1};
    const double ds[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 1.5, -2.25, 5e-324, 1.7976931348623157e308};
    const int64_t is[] = {INT64_MIN, INT64_MAX, 0, -1, 1, 42};
    const int32_t dts[] = {0, -719528, 2932896, 20000, -1};
    size_t n = 60;
    sf_value *rows = calloc(n * 5, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        sf_value *r = rows + i * 5;
        r[0] = i % 7 == 3 ? sf_null() : sf_bool(i % 3 == 0);
        r[1] = i % 5 == 4 ? sf_null() : sf_int(is[i % 6]);
        r[2] = i % 11 == 10 ? sf_null() : sf_double(ds[i % 9]);
        r[3] = i % 4 == 1 ? sf_null() : sf_string(strs[i % 8], slen[i % 8]);
        r[4] = i % 6 == 5 ? sf_null() : sf_date(dts[i % 5]);
    }
    *nrows = n;
    return rows;
}

static void test_roundtrip_edge_values_every_codec(void **state)
{
    (void)state;
    size_t n;
    sf_value *rows = edge_rows(&n);
    const char *codecs[] = {"none", "snappy", "gzip", "gzip:9", "zstd", "zstd:19"};
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        sf_parquet_options o;
        sf_parquet_options_init(&o);
        sf_error err;
        assert_int_equal(sf_parquet_parse_codec(codecs[k], &o, &err), 0);
        write_table(5, edge_names, edge_types, rows, n, &o);
        check_rows(5, edge_names, edge_types, rows, n, 1000);
        check_rows(5, edge_names, edge_types, rows, n, 7);
        sf_parquet_reader *r = open_reader();
        sf_parquet_chunk_info info;
        sf_parquet_reader_chunk(r, 0, 3, &info);
        const char *want = k == 0 ? "UNCOMPRESSED" : k == 1 ? "SNAPPY" : k < 4 ? "GZIP" : "ZSTD";
        assert_string_equal(info.codec, want);
        sf_parquet_reader_close(r);
    }
    free(rows);
}

/* INT64 with TIMESTAMP(isAdjustedToUTC=true, MICROS): the reader knows it
 * by that annotation and gives timestamps back. */
static void test_timestamp_column_round_trips_as_micros(void **state)
{
    (void)state;
    static const char *const names[] = {"ts", "i"};
    static const sf_type types[] = {SF_TIMESTAMP, SF_INT};
    sf_value rows[] = {
        sf_timestamp(INT64_C(1772368496789000)), sf_int(1),
        sf_null(),                               sf_int(2),
        sf_timestamp(-1),                        sf_int(3),
        sf_timestamp(INT64_C(1772368496789000)), sf_int(4),
    };
    write_table(2, names, types, rows, 4, NULL);
    check_rows(2, names, types, rows, 4, 3);
    /* The footer's schema element, in thrift compact bytes: field 6
     * converted_type = TIMESTAMP_MICROS (10, zigzag 0x14), then field 10
     * logicalType { 8: TimestampType { 1: isAdjustedToUTC true,
     * 2: unit { 2: MICROS {} } } }. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    static const unsigned char lt[] = {0x25, 0x14, 0x4c, 0x8c, 0x11, 0x1c,
                                       0x2c, 0x00, 0x00, 0x00, 0x00};
    int found = 0;
    for (size_t i = 0; i + sizeof lt <= n && !found; i++)
        found = memcmp(buf + i, lt, sizeof lt) == 0;
    assert_true(found);
}

static void test_nulls_and_empty_strings_stay_apart(void **state)
{
    (void)state;
    const char *names[] = {"s"};
    const sf_type types[] = {SF_STRING};
    sf_value rows[] = {sf_null(), sf_string("", 0), sf_null(), sf_string("", 0), sf_string("x", 1)};
    write_table(1, names, types, rows, 5, NULL);
    check_rows(1, names, types, rows, 5, 100);
    sf_parquet_reader *r = open_reader();
    sf_parquet_chunk_info info;
    sf_parquet_reader_chunk(r, 0, 0, &info);
    assert_true(info.has_null_count);
    assert_int_equal(info.null_count, 2);
    assert_true(info.has_minmax);
    assert_int_equal(info.min.u.s.n, 0);
    assert_int_equal(info.max.u.s.n, 1);
    sf_parquet_reader_close(r);
}

static void test_statistics_follow_the_spec(void **state)
{
    (void)state;
    const char *names[] = {"d", "i", "s", "b", "dt", "nan"};
    const sf_type types[] = {SF_DOUBLE, SF_INT, SF_STRING, SF_BOOL, SF_DATE, SF_DOUBLE};
    sf_value rows[] = {
        sf_double(NAN), sf_int(5), sf_string("b", 1), sf_bool(1), sf_date(3), sf_double(NAN),
        sf_double(0.0), sf_int(INT64_MIN), sf_string("\xff", 1), sf_null(), sf_date(-3), sf_null(),
        sf_double(-0.0), sf_null(), sf_string("ab", 2), sf_bool(1), sf_null(), sf_double(NAN),
        sf_null(), sf_int(INT64_MAX), sf_string("a", 1), sf_bool(1), sf_date(0), sf_double(NAN)};
    write_table(6, names, types, rows, 4, NULL);
    check_rows(6, names, types, rows, 4, 3);
    sf_parquet_reader *r = open_reader();
    assert_int_equal(sf_parquet_reader_row_groups(r), 1);
    sf_parquet_chunk_info in;
    /* doubles {NaN, 0.0, -0.0, NULL}: NaN out of min/max, min -0.0, max +0.0 */
    sf_parquet_reader_chunk(r, 0, 0, &in);
    assert_true(in.has_minmax);
    assert_true(in.min.u.d == 0 && signbit(in.min.u.d));
    assert_true(in.max.u.d == 0 && !signbit(in.max.u.d));
    assert_true(in.has_nan_count);
    assert_int_equal(in.nan_count, 1);
    assert_int_equal(in.null_count, 1);
    sf_parquet_reader_chunk(r, 0, 1, &in);
    assert_int_equal(in.min.u.i, INT64_MIN);
    assert_int_equal(in.max.u.i, INT64_MAX);
    assert_int_equal(in.null_count, 1);
    assert_false(in.has_nan_count);
    /* strings compare as unsigned bytes: "\xff" is the largest */
    sf_parquet_reader_chunk(r, 0, 2, &in);
    assert_int_equal(in.min.u.s.n, 1);
    assert_memory_equal(in.min.u.s.p, "a", 1);
    assert_memory_equal(in.max.u.s.p, "\xff", 1);
    sf_parquet_reader_chunk(r, 0, 3, &in);
    assert_int_equal(in.min.u.b, 1);
    assert_int_equal(in.max.u.b, 1);
    sf_parquet_reader_chunk(r, 0, 4, &in);
    assert_int_equal(in.min.type, SF_DATE);
    assert_int_equal(in.min.u.date, -3);
    assert_int_equal(in.max.u.date, 3);
    /* only NaN and NULL: no min/max at all, nan_count 3 */
    sf_parquet_reader_chunk(r, 0, 5, &in);
    assert_false(in.has_minmax);
    assert_int_equal(in.nan_count, 3);
    assert_int_equal(in.null_count, 1);
    sf_parquet_reader_close(r);
}

static void test_one_megabyte_strings(void **state)
{
    (void)state;
    size_t big = (size_t)1 << 20;
    char *a = malloc(big), *b = malloc(big);
    for (size_t i = 0; i < big; i++) {
        a[i] = (char)('a' + i % 26);
        b[i] = (char)(i * 7919 % 251);
    }
    const char *names[] = {"s", "i"};
    const sf_type types[] = {SF_STRING, SF_INT};
    sf_value rows[] = {sf_string(a, big), sf_int(1), sf_null(), sf_int(2), sf_string(b, big),
                       sf_int(3), sf_string(a, big), sf_int(4), sf_string("short", 5), sf_int(5)};
    const char *codecs[] = {"none", "snappy", "gzip", "zstd"};
    for (size_t k = 0; k < 4; k++) {
        sf_parquet_options o;
        sf_parquet_options_init(&o);
        sf_error err;
        assert_int_equal(sf_parquet_parse_codec(codecs[k], &o, &err), 0);
        write_table(2, names, types, rows, 5, &o);
        check_rows(2, names, types, rows, 5, 2);
    }
    free(a);
    free(b);
}

static void test_zero_rows(void **state)
{
    (void)state;
    write_table(5, edge_names, edge_types, NULL, 0, NULL);
    check_rows(5, edge_names, edge_types, NULL, 0, 10);
    sf_parquet_reader *r = open_reader();
    assert_int_equal(sf_parquet_reader_row_groups(r), 0);
    sf_parquet_reader_close(r);
}

static void test_dictionary_falls_back_to_plain(void **state)
{
    (void)state;
    size_t n = 5000;
    const char *names[] = {"s", "i", "d"};
    const sf_type types[] = {SF_STRING, SF_INT, SF_DOUBLE};
    sf_value *rows = calloc(n * 3, sizeof *rows);
    char *text = malloc(n * 16);
    for (size_t i = 0; i < n; i++) {
        /* first 1000 rows: 10 distinct values; then all distinct */
        size_t key = i < 1000 ? i % 10 : i;
        int len = snprintf(text + i * 16, 16, "k%zu", key);
        rows[i * 3] = i % 13 == 0 ? sf_null() : sf_string(text + i * 16, (size_t)len);
        rows[i * 3 + 1] = sf_int((int64_t)key * 1000003);
        rows[i * 3 + 2] = sf_double((double)key / 7);
    }
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.dict_limit_bytes = 4096;
    uint64_t small = write_table(3, names, types, rows, n, &o);
    check_rows(3, names, types, rows, n, 333);
    sf_parquet_reader *r = open_reader();
    for (size_t c = 0; c < 3; c++) {
        sf_parquet_chunk_info in;
        sf_parquet_reader_chunk(r, 0, c, &in);
        assert_true(in.dictionary);
        assert_true(in.encodings & (1u << PQ_ENC_RLE_DICTIONARY));
        assert_true(in.encodings & (1u << PQ_ENC_PLAIN));
    }
    sf_parquet_reader_close(r);

    /* The same rows with an unlimited dictionary: all RLE_DICTIONARY, and a
     * different file, so the fallback above really happened. */
    o.dict_limit_bytes = UINT64_MAX;
    uint64_t large = write_table(3, names, types, rows, n, &o);
    check_rows(3, names, types, rows, n, 4999);
    assert_true(small != large);

    /* A limit smaller than any value: no dictionary at all. */
    o.dict_limit_bytes = 1;
    write_table(3, names, types, rows, n, &o);
    check_rows(3, names, types, rows, n, 1000);
    r = open_reader();
    sf_parquet_chunk_info in;
    sf_parquet_reader_chunk(r, 0, 0, &in);
    assert_false(in.dictionary);
    assert_false(in.encodings & (1u << PQ_ENC_RLE_DICTIONARY));
    sf_parquet_reader_close(r);
    free(rows);
    free(text);
}

static void test_several_row_groups(void **state)
{
    (void)state;
    size_t n = 3500;
    const char *names[] = {"i", "s", "b"};
    const sf_type types[] = {SF_INT, SF_STRING, SF_BOOL};
    sf_value *rows = calloc(n * 3, sizeof *rows);
    static const char *words[] = {"alpha", "beta", "gamma", "delta"};
    for (size_t i = 0; i < n; i++) {
        rows[i * 3] = i % 100 == 7 ? sf_null() : sf_int((int64_t)i);
        rows[i * 3 + 1] = sf_string(words[i % 4], strlen(words[i % 4]));
        rows[i * 3 + 2] = sf_bool(i % 2);
    }
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.row_group_rows = 1000;
    write_table(3, names, types, rows, n, &o);
    check_rows(3, names, types, rows, n, 256);
    sf_parquet_reader *r = open_reader();
    assert_int_equal(sf_parquet_reader_row_groups(r), 4);
    for (size_t g = 0; g < 4; g++) {
        sf_parquet_chunk_info in;
        sf_parquet_reader_chunk(r, g, 0, &in);
        assert_int_equal(in.rows, g < 3 ? 1000 : 500);
        assert_int_equal(in.min.u.i, (int64_t)(g * 1000));
        assert_int_equal(in.max.u.i, (int64_t)(g < 3 ? g * 1000 + 999 : 3499));
        assert_int_equal(in.null_count, 10 - (g == 3) * 5);
    }
    sf_parquet_reader_close(r);

    /* The byte limit also cuts row groups. */
    o.row_group_rows = (uint64_t)1 << 20;
    o.row_group_bytes = 20000;
    write_table(3, names, types, rows, n, &o);
    check_rows(3, names, types, rows, n, 1 << 20);
    r = open_reader();
    assert_true(sf_parquet_reader_row_groups(r) > 2);
    sf_parquet_reader_close(r);
    free(rows);
}

/* A column of distinct values (an id) stops paying for a dictionary after
 * the writer's probe (1024 values): a dictionary page of those values, then
 * PLAIN pages, and no dictionary in later row groups; a column of repeated
 * values keeps its dictionary in every row group. Both read back. */
static void test_distinct_column_falls_back_early(void **state)
{
    (void)state;
    size_t n = 5000;
    const char *names[] = {"id", "rep", "num"};
    const sf_type types[] = {SF_STRING, SF_STRING, SF_INT};
    sf_value *rows = calloc(n * 3, sizeof *rows);
    char *text = malloc(n * 16);
    static const char *reps[] = {"play", "pause", "seek", "stop", "ad"};
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(text + i * 16, 16, "ev-%06zu", i * 7919 % 100003);
        rows[i * 3] = i % 11 == 0 ? sf_null() : sf_string(text + i * 16, (size_t)len);
        rows[i * 3 + 1] = sf_string(reps[i % 5], strlen(reps[i % 5]));
        rows[i * 3 + 2] = sf_int((int64_t)(i % 3) * 1000003); /* repeated, fixed width */
    }
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.row_group_rows = 3000;
    write_table(3, names, types, rows, n, &o);
    check_rows(3, names, types, rows, n, 777);
    sf_parquet_reader *r = open_reader();
    assert_int_equal(sf_parquet_reader_row_groups(r), 2);
    sf_parquet_chunk_info in;
    /* Row group 0: the id's 1024 first values in a dictionary, the rest PLAIN. */
    sf_parquet_reader_chunk(r, 0, 0, &in);
    assert_true(in.dictionary);
    assert_true(in.encodings & (1u << PQ_ENC_RLE_DICTIONARY));
    /* Row group 1: the verdict holds, no dictionary for the id. */
    sf_parquet_reader_chunk(r, 1, 0, &in);
    assert_false(in.dictionary);
    assert_false(in.encodings & (1u << PQ_ENC_RLE_DICTIONARY));
    for (size_t rg = 0; rg < 2; rg++)
        for (size_t c = 1; c < 3; c++) {
            sf_parquet_reader_chunk(r, rg, c, &in);
            assert_true(in.dictionary);
            assert_true(in.encodings & (1u << PQ_ENC_RLE_DICTIONARY));
        }
    sf_parquet_reader_close(r);

    /* Under the probe's 1024 values nothing is decided: 1000 distinct ids
     * stay in their dictionary. */
    write_table(3, names, types, rows, 1000, &o);
    check_rows(3, names, types, rows, 1000, 1000);
    r = open_reader();
    sf_parquet_reader_chunk(r, 0, 0, &in);
    assert_true(in.dictionary);
    assert_true(in.encodings & (1u << PQ_ENC_RLE_DICTIONARY));
    sf_parquet_reader_close(r);
    free(rows);
    free(text);
}

/* A wide table of distinct values: its dictionaries take far more memory
 * than its PLAIN size, and row_group_bytes caps that memory too. */
static void test_row_group_bytes_caps_dictionary_memory(void **state)
{
    (void)state;
    size_t nc = 500, n = 100;
    char **names = calloc(nc, sizeof *names);
    sf_type *types = calloc(nc, sizeof *types);
    sf_value *rows = calloc(nc * n, sizeof *rows);
    for (size_t c = 0; c < nc; c++) {
        names[c] = malloc(16);
        snprintf(names[c], 16, "c%zu", c);
        types[c] = SF_INT;
        for (size_t r = 0; r < n; r++)
            rows[r * nc + c] = sf_int((int64_t)(r * 7919 + c));
    }
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.row_group_bytes = 256 << 10; /* PLAIN alone would cut every 64 rows */
    write_table(nc, (const char *const *)names, types, rows, n, &o);
    check_rows(nc, (const char *const *)names, types, rows, n, 1000);
    sf_parquet_reader *r = open_reader();
    assert_true(sf_parquet_reader_row_groups(r) >= 10);
    sf_parquet_reader_close(r);
    for (size_t c = 0; c < nc; c++)
        free(names[c]);
    free(names);
    free(types);
    free(rows);
}

static void test_large_table_pages_and_batches(void **state)
{
    (void)state;
    size_t n = 200000; /* several pages per chunk */
    const char *names[] = {"i", "d"};
    const sf_type types[] = {SF_INT, SF_DOUBLE};
    sf_value *rows = calloc(n * 2, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        rows[i * 2] = sf_int((int64_t)(i * 2654435761u));
        rows[i * 2 + 1] = i % 3 ? sf_double((double)i / 3) : sf_null();
    }
    write_table(2, names, types, rows, n, NULL);
    check_rows(2, names, types, rows, n, 100000);
    free(rows);
}

static void test_metadata_and_int_into_double(void **state)
{
    (void)state;
    const char *keys[] = {"job", "run_id"};
    const char *vals[] = {"daily_kpi", "r-123"};
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.kv_keys = keys;
    o.kv_values = vals;
    o.nkv = 2;
    const char *names[] = {"d", "n"};
    const sf_type types[] = {SF_DOUBLE, SF_NULL};
    sf_value rows[] = {sf_int(3), sf_null(), sf_double(2.5), sf_null()};
    write_table(2, names, types, rows, 2, &o);
    check_rows(2, names, types, rows, 2, 10);
    /* append_cols picks the file's columns out of a wider row */
    sf_parquet_writer *w = NULL;
    sf_error err;
    assert_int_equal(sf_parquet_writer_open(&w, path, 2, names, types, &o, &err), 0);
    const int cols[] = {2, 0};
    sf_value wide[] = {sf_null(), sf_string("x", 1), sf_int(3), sf_null(), sf_string("y", 1), sf_double(2.5)};
    assert_int_equal(sf_parquet_writer_append_cols(w, wide, cols, &err), 0);
    assert_int_equal(sf_parquet_writer_append_cols(w, wide + 3, cols, &err), 0);
    assert_int_equal(sf_parquet_writer_close(w, NULL, NULL, &err), 0);
    sf_value picked[] = {sf_int(3), sf_null(), sf_double(2.5), sf_null()};
    check_rows(2, names, types, picked, 2, 10);
    sf_parquet_reader *r = open_reader();
    assert_string_equal(sf_parquet_reader_kv(r, "job"), "daily_kpi");
    assert_string_equal(sf_parquet_reader_kv(r, "run_id"), "r-123");
    assert_null(sf_parquet_reader_kv(r, "nope"));
    assert_string_equal(sf_parquet_reader_created_by(r), "shardflow version " SF_VERSION);
    sf_parquet_reader_close(r);
}

static void test_wrong_type_is_refused(void **state)
{
    (void)state;
    const char *names[] = {"i"};
    const sf_type types[] = {SF_INT};
    sf_parquet_writer *w = NULL;
    sf_error err;
    assert_int_equal(sf_parquet_writer_open(&w, path, 1, names, types, NULL, &err), 0);
    sf_value v = sf_string("x", 1);
    assert_int_equal(sf_parquet_writer_append(w, &v, &err), SF_E_TYPE);
    assert_non_null(strstr(err.msg, "column 'i'"));
    assert_int_equal(sf_parquet_writer_close(w, NULL, NULL, &err), SF_E_TYPE);
    sf_parquet_writer_discard(NULL);
    assert_int_equal(sf_parquet_writer_open(&w, path, 1, names, types, NULL, &err), 0);
    sf_parquet_writer_discard(w);
}

/* A full disk (here RLIMIT_FSIZE, with SIGXFSZ ignored as the commands
 * do) fails the append or close with SF_E_IO naming the file. */
static void test_write_failure_names_the_file(void **state)
{
    (void)state;
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 100000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    const char *names[] = {"s"};
    const sf_type types[] = {SF_STRING};
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.codec = SF_PQ_NONE;
    o.row_group_rows = 100;
    sf_parquet_writer *w = NULL;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_parquet_writer_open(&w, path, 1, names, types, &o, &err);
    char text[64];
    for (int i = 0; rc == 0 && i < 20000; i++) {
        int n = snprintf(text, sizeof text, "distinct value number %d", i);
        sf_value v = sf_string(text, (size_t)n);
        rc = sf_parquet_writer_append(w, &v, &err);
    }
    if (rc == 0)
        rc = sf_parquet_writer_close(w, NULL, NULL, &err);
    else
        sf_parquet_writer_discard(w);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, SF_E_IO);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "write failed"));
}

static void test_parse_codec(void **state)
{
    (void)state;
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    assert_int_equal(o.codec, SF_PQ_SNAPPY);
    sf_error err;
    assert_int_equal(sf_parquet_parse_codec("zstd:7", &o, &err), 0);
    assert_int_equal(o.codec, SF_PQ_ZSTD);
    assert_int_equal(o.level, 7);
    assert_int_equal(sf_parquet_parse_codec("gzip", &o, &err), 0);
    assert_int_equal(o.codec, SF_PQ_GZIP);
    assert_int_equal(o.level, 0);
    assert_int_equal(sf_parquet_parse_codec("none", &o, &err), 0);
    assert_int_equal(o.codec, SF_PQ_NONE);
    const char *bad[] = {"", "lz4", "zstd:", "zstd:0", "zstd:23", "gzip:10", "snappy:1",
                         "zstd:3x", "gzip:-1", "ZSTD"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sf_parquet_parse_codec(bad[i], &o, &err), SF_E_INVAL);
        assert_int_equal(o.codec, SF_PQ_NONE);
    }
}

static void test_concat_joins_pieces_without_reencoding(void **state)
{
    (void)state;
    size_t n;
    sf_value *rows = edge_rows(&n);
    char pieces[4][400];
    const char *codecs[] = {"zstd", "none", "gzip", "snappy"};
    size_t cut[] = {0, 17, 17, 40, n}; /* piece 1 has no rows */
    for (size_t k = 0; k < 4; k++) {
        snprintf(pieces[k], sizeof pieces[k], "%s/piece-%zu.parquet", tmpdir, k);
        sf_parquet_options o;
        sf_parquet_options_init(&o);
        sf_error err;
        assert_int_equal(sf_parquet_parse_codec(codecs[k], &o, &err), 0);
        o.row_group_rows = 10;
        sf_parquet_writer *w;
        assert_int_equal(sf_parquet_writer_open(&w, pieces[k], 5, edge_names, edge_types, &o, &err), 0);
        for (size_t i = cut[k]; i < cut[k + 1]; i++)
            assert_int_equal(sf_parquet_writer_append(w, rows + i * 5, &err), 0);
        assert_int_equal(sf_parquet_writer_close(w, NULL, NULL, &err), 0);
    }
    const char *list[] = {pieces[0], pieces[1], pieces[2], pieces[3]};
    const char *keys[] = {"job"}, *vals[] = {"concat"};
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.kv_keys = keys;
    o.kv_values = vals;
    o.nkv = 1;
    sf_error err;
    sf_error_clear(&err);
    uint64_t nr = 0, bytes = 0, size = 0;
    if (sf_parquet_concat(path, 5, edge_names, edge_types, list, 4, &o, &nr, &bytes, &err) != 0)
        fail_msg("concat: %s", err.msg);
    assert_int_equal(nr, n);
    assert_int_equal(sf_file_size(path, &size, &err), 0);
    assert_int_equal(size, bytes);
    check_rows(5, edge_names, edge_types, rows, n, 9);
    /* the row groups and their statistics are the pieces' */
    sf_parquet_reader *r = open_reader();
    assert_string_equal(sf_parquet_reader_kv(r, "job"), "concat");
    assert_int_equal(sf_parquet_reader_row_groups(r), 2 + 0 + 3 + 2);
    sf_parquet_chunk_info a, b;
    sf_parquet_reader_chunk(r, 2, 1, &a);
    assert_string_equal(a.codec, "GZIP");
    sf_parquet_reader *p2;
    assert_int_equal(sf_parquet_reader_open(&p2, pieces[2], &err), 0);
    sf_parquet_reader_chunk(p2, 0, 1, &b);
    assert_int_equal(a.rows, b.rows);
    assert_int_equal(a.null_count, b.null_count);
    assert_true(a.has_minmax && b.has_minmax);
    assert_true(a.min.u.i == b.min.u.i && a.max.u.i == b.max.u.i);
    sf_parquet_reader_close(p2);
    sf_parquet_reader_close(r);

    /* no pieces: a valid empty file */
    assert_int_equal(sf_parquet_concat(path, 5, edge_names, edge_types, NULL, 0, NULL, &nr, NULL, &err), 0);
    check_rows(5, edge_names, edge_types, NULL, 0, 9);
    /* a piece of other columns is refused, naming it */
    const char *other[] = {"b", "i", "d", "s", "when"};
    assert_int_equal(sf_parquet_concat(path, 5, other, edge_types, list, 4, NULL, NULL, NULL, &err),
                     SF_E_INVAL);
    assert_non_null(strstr(err.msg, pieces[0]));
    free(rows);
}

static void test_parse_row_group_size(void **state)
{
    (void)state;
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    sf_error err;
    assert_int_equal(sf_parquet_parse_row_group_size("500000", &o, &err), 0);
    assert_int_equal(o.row_group_rows, 500000);
    assert_int_equal(o.row_group_bytes, (uint64_t)128 << 20);
    assert_int_equal(sf_parquet_parse_row_group_size("64MiB", &o, &err), 0);
    assert_int_equal(o.row_group_rows, 500000);
    assert_int_equal(o.row_group_bytes, (uint64_t)64 << 20);
    assert_int_equal(sf_parquet_parse_row_group_size("1G,2000", &o, &err), 0);
    assert_int_equal(o.row_group_rows, 2000);
    assert_int_equal(o.row_group_bytes, (uint64_t)1 << 30);
    const char *bad[] = {"", "0", "0MiB", "x", "10,20", "1M,2M", "1,2,3", "10,", ",10", "5Q"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sf_parquet_parse_row_group_size(bad[i], &o, &err), SF_E_INVAL);
        assert_int_equal(o.row_group_rows, 2000);
        assert_int_equal(o.row_group_bytes, (uint64_t)1 << 30);
    }
}

/* ---- malformed files ---------------------------------------------------- */

static unsigned char *slurp(size_t *n)
{
    char *data;
    sf_error err;
    assert_int_equal(sf_read_file(path, &data, n, &err), 0);
    return (unsigned char *)data;
}

static void put_file(const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Opens and reads path to the end. Returns 0 or the error (checked to
 * carry a message naming the file). */
static int read_all(void)
{
    sf_parquet_reader *r = NULL;
    sf_error err;
    sf_error_clear(&err);
    int rc = sf_parquet_reader_open(&r, path, &err);
    if (rc == 0) {
        for (;;) {
            const sf_value *b;
            size_t n;
            rc = sf_parquet_reader_next(r, 64, &b, &n, &err);
            if (rc != 0 || n == 0)
                break;
        }
        sf_parquet_reader_close(r);
    }
    if (rc != 0) {
        assert_true(rc == SF_E_PARSE || rc == SF_E_INVAL);
        assert_non_null(strstr(err.msg, path));
    }
    return rc;
}

static void write_small_file(const char *codec)
{
    size_t n;
    sf_value *rows = edge_rows(&n);
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    sf_error err;
    assert_int_equal(sf_parquet_parse_codec(codec, &o, &err), 0);
    o.row_group_rows = 25;
    o.dict_limit_bytes = 40;
    write_table(5, edge_names, edge_types, rows, n, &o);
    free(rows);
}

static void test_every_truncation_is_rejected(void **state)
{
    (void)state;
    write_small_file("snappy");
    size_t n;
    unsigned char *good = slurp(&n);
    assert_int_equal(read_all(), 0);
    for (size_t len = 0; len < n; len++) {
        put_file(good, len);
        assert_int_not_equal(read_all(), 0);
    }
    /* Data cut out of the middle (footer intact, offsets now wrong). */
    for (size_t cut = 4; cut + 16 < n; cut += 7) {
        unsigned char *b = malloc(n);
        memcpy(b, good, cut);
        memcpy(b + cut, good + cut + 16, n - cut - 16);
        put_file(b, n - 16);
        assert_int_not_equal(read_all(), 0);
        free(b);
    }
    free(good);
}

static void test_byte_flips_never_crash(void **state)
{
    (void)state;
    const char *codecs[] = {"none", "snappy", "gzip", "zstd"};
    for (size_t k = 0; k < 4; k++) {
        write_small_file(codecs[k]);
        size_t n;
        unsigned char *good = slurp(&n);
        unsigned char *b = malloc(n);
        int rejected = 0;
        for (size_t i = 0; i < n; i++) {
            static const unsigned char x[] = {0x01, 0x80, 0xff, 0x10};
            memcpy(b, good, n);
            b[i] ^= x[i % 4];
            put_file(b, n);
            rejected += read_all() != 0;
        }
        /* Most flips in headers, lengths and compressed data are caught. */
        assert_true(rejected > 0);
        free(b);
        free(good);
    }
}

static void test_not_parquet_and_lying_footer(void **state)
{
    (void)state;
    put_file((const unsigned char *)"hello, world\n", 13);
    assert_int_equal(read_all(), SF_E_PARSE);
    put_file((const unsigned char *)"PAR1PAR1", 8);
    assert_int_equal(read_all(), SF_E_PARSE);
    /* a footer length larger than the file */
    unsigned char f1[] = {'P', 'A', 'R', '1', 0, 0, 0xff, 0xff, 0, 0, 'P', 'A', 'R', '1'};
    put_file(f1, sizeof f1);
    assert_int_equal(read_all(), SF_E_PARSE);
    /* a footer of deeply nested structs */
    unsigned char deep[200];
    memcpy(deep, "PAR1", 4);
    size_t k = 4;
    for (int i = 0; i < 180; i++)
        deep[k++] = 0x1c; /* field 1, struct */
    unsigned char tail[8];
    sf_pq_put32(tail, 180);
    memcpy(tail + 4, "PAR1", 4);
    memcpy(deep + k, tail, 8);
    put_file(deep, k + 8);
    assert_int_equal(read_all(), SF_E_PARSE);
    sf_parquet_reader *r = NULL;
    sf_error err;
    snprintf(path + strlen(path), 8, ".none");
    assert_int_equal(sf_parquet_reader_open(&r, path, &err), SF_E_NOTFOUND);
    path[strlen(path) - 5] = '\0';
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_edge_values_every_codec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nulls_and_empty_strings_stay_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statistics_follow_the_spec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_megabyte_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_column_round_trips_as_micros, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dictionary_falls_back_to_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_row_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_distinct_column_falls_back_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_group_bytes_caps_dictionary_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_table_pages_and_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_and_int_into_double, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_type_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_names_the_file, setup, teardown),
        cmocka_unit_test(test_parse_codec),
        cmocka_unit_test(test_parse_row_group_size),
        cmocka_unit_test_setup_teardown(test_concat_joins_pieces_without_reencoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_flips_never_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_parquet_and_lying_footer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
