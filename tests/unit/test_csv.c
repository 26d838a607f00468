/* test_csv.c - unit tests of the CSV writer and reader: quoting rules, value
 * printing, writer -> reader round trips of tricky strings, reader errors
 * with their places, and write errors reported at close. Expected texts are
 * spelled out by hand, not produced by the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/csv.h"
#include "io/fsutil.h"

static char tmpdir[256];
static char path[300];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sf_csv_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(path, sizeof path, "%s/out.csv", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sf_error err;
    return sf_rmtree(tmpdir, &err) == 0 ? 0 : -1;
}

static sf_csv_writer *open_writer(void)
{
    sf_csv_writer *w = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_csv_writer_open(&w, path, &err) != 0)
        fail_msg("open: %s", err.msg);
    return w;
}

/* Closes w and checks that the file holds exactly want. */
static void close_and_expect(sf_csv_writer *w, const char *want, size_t want_len)
{
    sf_error err;
    uint64_t bytes = 0;
    sf_error_clear(&err);
    if (sf_csv_writer_close(w, &bytes, &err) != 0)
        fail_msg("close: %s", err.msg);
    assert_int_equal(bytes, want_len);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *got = malloc(want_len + 16);
    assert_non_null(got);
    size_t n = fread(got, 1, want_len + 16, f);
    fclose(f);
    assert_int_equal(n, want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
}

#define EXPECT_FILE(w, lit) close_and_expect(w, lit, sizeof(lit) - 1)

static void field(sf_csv_writer *w, const char *s)
{
    sf_csv_write_field(w, s, strlen(s));
}

static void test_writer_quotes_only_fields_that_need_it(void **state)
{
    (void)state;
    sf_csv_writer *w = open_writer();
    field(w, "plain");
    field(w, "a,b");
    field(w, "say \"hi\"");
    field(w, "line\nbreak");
    field(w, "cr\rhere");
    field(w, "");
    field(w, " spaced ");
    field(w, "\"");
    sf_csv_end_row(w);
    /* The empty string is quoted: an empty field is NULL only (io/csv.h). */
    EXPECT_FILE(w, "plain,\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"cr\rhere\",\"\", spaced ,\"\"\"\"\n");
}

static void test_writer_separates_fields_and_ends_rows(void **state)
{
    (void)state;
    sf_csv_writer *w = open_writer();
    field(w, "a");
    field(w, "b");
    sf_csv_end_row(w);
    sf_csv_end_row(w);
    field(w, "c");
    sf_csv_end_row(w);
    EXPECT_FILE(w, "a,b\n\nc\n");
}

static void test_writer_prints_every_value_type(void **state)
{
    (void)state;
    sf_csv_writer *w = open_writer();
    sf_value v[] = {
        sf_null(),          sf_bool(1),        sf_bool(0),       sf_int(0),
        sf_int(-42),        sf_int(INT64_MIN), sf_double(354.41), sf_double(0.5),
        sf_double(100.0),   sf_date(0),        sf_date(19000),   sf_date(-1),
        sf_string("x,y", 3), sf_string("", 0),  sf_null(),
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        sf_csv_write_value(w, &v[i]);
    sf_csv_end_row(w);
    EXPECT_FILE(w, ",true,false,0,-42,-9223372036854775808,354.41,0.5,100.0,"
                   "1970-01-01,2022-01-08,1969-12-31,\"x,y\",\"\",\n");
}

static void test_write_row_prints_every_value_type_and_quotes(void **state)
{
    (void)state;
    sf_csv_writer *w = open_writer();
    sf_value v[] = {
        sf_null(),          sf_bool(1),        sf_bool(0),       sf_int(0),
        sf_int(-42),        sf_int(INT64_MIN), sf_double(354.41), sf_double(-0.0),
        sf_double(1.0 / 3.0), sf_double(1e300 * 1e300), sf_date(19000),
        sf_string("x,y", 3), sf_string("", 0),  sf_string("say \"hi\"", 8),
        sf_string("a\nb", 3), sf_string("c\rd", 3),
        sf_string("sixteen bytes ok, then a comma", 30), sf_null(),
    };
    int cols[] = {2, 0};
    sf_csv_write_row(w, v, sizeof v / sizeof v[0], NULL);
    sf_csv_write_row(w, v, 2, cols);
    EXPECT_FILE(w, ",true,false,0,-42,-9223372036854775808,354.41,-0.0,0.3333333333333333,"
                   "inf,2022-01-08,\"x,y\",\"\",\"say \"\"hi\"\"\",\"a\nb\",\"c\rd\","
                   "\"sixteen bytes ok, then a comma\",\nfalse,\n");
}

/* Each special byte at every place of strings of 1..40 bytes (the 16-byte
 * blocks and the tail alike): the row writer quotes exactly when the field
 * writer does, and writes the same bytes. */
static void test_write_row_same_bytes_as_field_writer(void **state)
{
    (void)state;
    /* The four that quote, then bytes that do not: some below '-' like
     * them (a space, '+', a tab, 0x01), one above 0x7f. */
    static const char special[] = {',', '"', '\n', '\r', 'a', ' ', '+', '\t', '\x01', '\xe9'};
    char s[41];
    char other[300];
    snprintf(other, sizeof other, "%s/fields.csv", tmpdir);
    sf_csv_writer *w = open_writer(), *f = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_csv_writer_open(&f, other, &err), 0);
    for (size_t n = 1; n <= 40; n++) {
        for (size_t at = 0; at < n; at++) {
            for (size_t k = 0; k < sizeof special; k++) {
                memset(s, 'x', n);
                s[at] = special[k];
                sf_value v[2] = {sf_string(s, n), sf_int((int64_t)n)};
                sf_csv_write_row(w, v, 2, NULL);
                sf_csv_write_value(f, &v[0]);
                sf_csv_write_value(f, &v[1]);
                sf_csv_end_row(f);
                assert_int_equal(sf_csv_needs_quotes(s, n), k < 4);
            }
        }
    }
    /* A field larger than the write buffer, with a quote in it. */
    size_t big = (size_t)3 << 20;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'y', big);
    huge[big / 2] = '"';
    sf_value hv[3] = {sf_int(1), sf_string(huge, big), sf_double(0.1)};
    sf_csv_write_row(w, hv, 3, NULL);
    for (int i = 0; i < 3; i++)
        sf_csv_write_value(f, &hv[i]);
    sf_csv_end_row(f);
    free(huge);
    uint64_t a = 0, b = 0;
    assert_int_equal(sf_csv_writer_close(w, &a, &err), 0);
    assert_int_equal(sf_csv_writer_close(f, &b, &err), 0);
    assert_int_equal(a, b);
    FILE *x = fopen(path, "rb"), *y = fopen(other, "rb");
    assert_non_null(x);
    assert_non_null(y);
    char *p = malloc((size_t)a), *q = malloc((size_t)b);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal(fread(p, 1, (size_t)a, x), a);
    assert_int_equal(fread(q, 1, (size_t)b, y), b);
    assert_memory_equal(p, q, (size_t)a);
    fclose(x);
    fclose(y);
    free(p);
    free(q);
}

/* Reads the file at p whole (len bytes, checked). */
static char *slurp(const char *p, uint64_t len)
{
    FILE *x = fopen(p, "rb");
    assert_non_null(x);
    char *d = malloc((size_t)len + 1);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, (size_t)len + 1, x), len);
    fclose(x);
    return d;
}

/* Closes a and b and checks that their files hold the same bytes. */
static void close_both_and_compare(sf_csv_writer *a, sf_csv_writer *b, const char *bpath)
{
    sf_error err;
    uint64_t na = 0, nb = 0;
    assert_int_equal(sf_csv_writer_close(a, &na, &err), 0);
    assert_int_equal(sf_csv_writer_close(b, &nb, &err), 0);
    assert_int_equal(na, nb);
    char *p = slurp(path, na), *q = slurp(bpath, nb);
    assert_memory_equal(p, q, (size_t)na);
    free(p);
    free(q);
}

static void test_format_value_is_the_field_write_value_writes(void **state)
{
    (void)state;
    static const char special[] = {',', '"', '\n', '\r', 'a'};
    char s[41], buf[2 * 41 + 2];
    sf_value vals[64];
    size_t nv = 0;
    vals[nv++] = sf_string("", 0);
    vals[nv++] = sf_int(-9007199254740993LL);
    vals[nv++] = sf_int(0); /* one digit, and the numbers around it */
    vals[nv++] = sf_int(9);
    vals[nv++] = sf_int(10);
    vals[nv++] = sf_int(-1);
    vals[nv++] = sf_int(INT64_MIN);
    vals[nv++] = sf_double(0.1 + 0.2);
    vals[nv++] = sf_double(1e16);
    vals[nv++] = sf_double(0.0);
    vals[nv++] = sf_double(-0.0);
    vals[nv++] = sf_bool(1);
    vals[nv++] = sf_bool(0);
    for (size_t i = 0; i < nv; i++) {
        char want[64];
        sf_csv_writer *w = open_writer();
        sf_csv_write_value(w, &vals[i]);
        sf_error err;
        uint64_t n = 0;
        assert_int_equal(sf_csv_writer_close(w, &n, &err), 0);
        char *got = slurp(path, n);
        assert_true(n < sizeof want);
        memcpy(want, got, (size_t)n);
        free(got);
        assert_true(sf_csv_field_room(&vals[i]) <= sizeof buf);
        assert_int_equal(sf_csv_format_value(&vals[i], buf), n);
        assert_memory_equal(buf, want, (size_t)n);
    }
    sf_value null = sf_null();
    assert_int_equal(sf_csv_format_value(&null, buf), 0);
    /* Strings of every length to 40 with a special byte anywhere: quoted
     * exactly when sf_csv_needs_quotes says, quotes doubled. */
    for (size_t n = 1; n <= 40; n++) {
        for (size_t at = 0; at < n; at++) {
            for (size_t k = 0; k < sizeof special; k++) {
                memset(s, 'x', n);
                s[at] = special[k];
                sf_value v = sf_string(s, n);
                size_t got = sf_csv_format_value(&v, buf);
                assert_true(got <= sf_csv_field_room(&v));
                if (k == 4) {
                    assert_int_equal(got, n);
                    assert_memory_equal(buf, s, n);
                    continue;
                }
                assert_int_equal(got, n + 2 + (k == 1));
                assert_int_equal(buf[0], '"');
                assert_int_equal(buf[got - 1], '"');
                assert_memory_equal(buf + 1, s, at);
            }
        }
    }
}

/* A deterministic pseudo-random sequence (xorshift64). */
static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Writes a row of n columns, the values vals[pick[c]] (NULL for -1), both
 * by sf_csv_write_row into w and by sf_csv_write_sparse into s. */
static void sparse_row(sf_csv_writer *w, sf_csv_writer *s, const sf_value *vals,
                       const int *pick, size_t n)
{
    sf_value *row = calloc(n + 1, sizeof *row);
    const char **text = calloc(n + 1, sizeof *text);
    uint32_t *len = calloc(n + 1, sizeof *len);
    uint64_t *bits = calloc(n / 64 + 1, sizeof *bits);
    char *store = malloc(n * 16 + 64);
    assert_true(row && text && len && bits && store);
    size_t used = 0, bytes = 0;
    for (size_t c = 0; c < n; c++) {
        row[c] = pick[c] < 0 ? sf_null() : vals[pick[c]];
        if (pick[c] < 0)
            continue;
        /* Fields small enough for store; the caller's large ones are their
         * own text (no quoting needed). */
        if (row[c].type == SF_STRING && row[c].u.s.n > 8) {
            text[c] = row[c].u.s.p;
            len[c] = (uint32_t)row[c].u.s.n;
        } else {
            text[c] = store + used;
            len[c] = (uint32_t)sf_csv_format_value(&row[c], store + used);
            used += len[c];
        }
        bytes += len[c];
        bits[c / 64] |= (uint64_t)1 << (c % 64);
    }
    sf_csv_write_row(w, row, n, NULL);
    sf_csv_write_sparse(s, n, bits, text, len, bytes);
    free(row);
    free(text);
    free(len);
    free(bits);
    free(store);
}

static void test_write_sparse_same_bytes_as_write_row(void **state)
{
    (void)state;
    char other[300];
    snprintf(other, sizeof other, "%s/sparse.csv", tmpdir);
    sf_csv_writer *w = open_writer(), *s = NULL;
    sf_error err;
    assert_int_equal(sf_csv_writer_open(&s, other, &err), 0);
    sf_value vals[] = {sf_string("a", 1), sf_string("", 0), sf_string("x,y", 3), sf_int(42),
                       sf_double(2.5), sf_bool(1), sf_string("abcdefgh", 8)};
    size_t nvals = sizeof vals / sizeof vals[0];
    static const size_t widths[] = {1, 2, 3, 17, 63, 64, 65, 130, 200};
    int pick[200];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    /* Rows of every width, empty, full and random, past several buffers. */
    for (int round = 0; round < 400; round++) {
        for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
            size_t n = widths[i];
            for (size_t c = 0; c < n; c++) {
                uint64_t r = next_rand(&x);
                pick[c] = round == 0 ? -1 : round == 1 ? (int)(c % nvals)
                                                       : r % 3 ? -1 : (int)(r / 3 % nvals);
            }
            sparse_row(w, s, vals, pick, n);
        }
    }
    /* After fields of an open row. */
    sf_csv_write_field(w, "open", 4);
    sf_csv_write_field(s, "open", 4);
    for (size_t c = 0; c < 5; c++)
        pick[c] = c == 2 ? 3 : -1;
    sparse_row(w, s, vals, pick, 5);
    /* A field larger than the write buffer (no quoting), then a row of
     * more columns than the buffer holds commas. */
    size_t big = (size_t)3 << 19;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'z', big);
    sf_value hv[] = {sf_int(7), sf_string(huge, big)};
    int hp[4] = {0, -1, 1, 0};
    sparse_row(w, s, hv, hp, 4);
    size_t wide = ((size_t)1 << 20) + 5;
    int *wp = malloc(wide * sizeof *wp);
    assert_non_null(wp);
    for (size_t c = 0; c < wide; c++)
        wp[c] = c == 0 || c == 70000 || c == wide - 1 ? 0 : -1;
    sparse_row(w, s, hv, wp, wide);
    free(wp);
    free(huge);
    close_both_and_compare(w, s, other);
}

/* sf_csv_format_row's text, written by sf_csv_write_text, is the file
 * sf_csv_write_row makes: rows of every value type, NULLs (first, last,
 * all), fields that need quotes, columns picked by cols, texts across
 * several write buffers and a field larger than one. */
static void test_format_row_then_write_text_same_bytes_as_write_row(void **state)
{
    (void)state;
    char other[300];
    snprintf(other, sizeof other, "%s/text.csv", tmpdir);
    sf_csv_writer *w = open_writer(), *t = NULL;
    sf_error err;
    assert_int_equal(sf_csv_writer_open(&t, other, &err), 0);
    sf_value vals[] = {sf_null(), sf_string("a\"b", 3), sf_string("", 0), sf_int(-42),
                       sf_double(0.1), sf_double(-0.0), sf_bool(1), sf_date(20000),
                       sf_string("x,y", 3), sf_string("plain", 5), sf_null()};
    size_t nv = sizeof vals / sizeof vals[0];
    const int cols[] = {10, 3, 0, 1, 9};
    char *buf = malloc(4096);
    assert_non_null(buf);
    uint64_t x = 12345;
    for (int round = 0; round < 150000; round++) { /* past the write buffer */
        size_t n = 1 + next_rand(&x) % nv;
        sf_value row[16];
        for (size_t c = 0; c < n; c++)
            row[c] = vals[next_rand(&x) % nv];
        const int *pick = round % 5 == 0 ? cols : NULL;
        size_t m = pick ? sizeof cols / sizeof cols[0] : n;
        if (pick)
            memcpy(row, vals, sizeof vals);
        assert_true(sf_csv_row_room(row, m, pick) <= 4096);
        size_t len = sf_csv_format_row(row, m, pick, buf);
        assert_true(len <= sf_csv_row_room(row, m, pick));
        assert_int_equal(buf[len - 1], '\n');
        sf_csv_write_row(w, row, m, pick);
        sf_csv_write_text(t, buf, len);
    }
    size_t big = (size_t)3 << 20;
    char *huge = malloc(big + 64);
    assert_non_null(huge);
    memset(huge, 'q', big);
    sf_value hv[2] = {sf_string(huge, big), sf_int(9)};
    size_t room = sf_csv_row_room(hv, 2, NULL);
    char *hb = malloc(room);
    assert_non_null(hb);
    size_t hl = sf_csv_format_row(hv, 2, NULL, hb);
    sf_csv_write_row(w, hv, 2, NULL);
    sf_csv_write_text(t, hb, hl);
    free(hb);
    free(huge);
    free(buf);
    close_both_and_compare(w, t, other);
}

/* sf_csv_write_texts writes the texts a store holds in a given order,
 * through ids and without, as sf_csv_write_text one by one in that
 * order: texts across several write buffers, an empty one, and one
 * larger than the buffer. */
static void test_write_texts_in_an_order_same_bytes_as_one_by_one(void **state)
{
    (void)state;
    char other[300];
    snprintf(other, sizeof other, "%s/texts.csv", tmpdir);
    const size_t n = 60000, big = ((size_t)1 << 20) + 77;
    char *text = malloc(n * 40 + big);
    uint64_t *at = malloc((n + 1) * sizeof *at);
    uint32_t *ids = malloc(n * sizeof *ids), *order = malloc(n * sizeof *order);
    assert_non_null(text);
    assert_non_null(at);
    assert_non_null(ids);
    assert_non_null(order);
    uint64_t x = 777;
    at[0] = 0;
    for (size_t j = 0; j < n; j++) {
        size_t len = j == 123 ? big : j == 456 ? 0 : 1 + next_rand(&x) % 39;
        memset(text + at[j], 'a' + (int)(j % 26), len);
        if (len)
            text[at[j] + len - 1] = '\n';
        at[j + 1] = at[j] + len;
    }
    for (size_t k = 0; k < n; k++) {
        ids[k] = (uint32_t)(n - 1 - k);
        order[k] = (uint32_t)k;
    }
    for (size_t k = n; k-- > 1;) { /* a shuffled order */
        size_t r = next_rand(&x) % (k + 1);
        uint32_t tmp = order[k];
        order[k] = order[r];
        order[r] = tmp;
    }
    for (int with_ids = 0; with_ids < 2; with_ids++) {
        sf_csv_writer *w = open_writer(), *t = NULL;
        sf_error err;
        assert_int_equal(sf_csv_writer_open(&t, other, &err), 0);
        const uint32_t *id = with_ids ? ids : NULL;
        sf_csv_write_texts(w, text, at, id, order, n);
        for (size_t k = 0; k < n; k++) {
            size_t j = id ? id[order[k]] : order[k];
            sf_csv_write_text(t, text + at[j], (size_t)(at[j + 1] - at[j]));
        }
        close_both_and_compare(w, t, other);
    }
    free(text);
    free(at);
    free(ids);
    free(order);
}

static void test_writer_output_larger_than_buffer_is_complete(void **state)
{
    (void)state;
    /* 3 MiB of rows plus one field larger than the 1 MiB buffer. */
    size_t big = (size_t)3 << 19;
    char *huge = malloc(big);
    assert_non_null(huge);
    for (size_t i = 0; i < big; i++)
        huge[i] = (char)('a' + i % 26);
    sf_csv_writer *w = open_writer();
    size_t rows = 0, expect = 0;
    while (expect < ((size_t)3 << 20)) {
        field(w, "row");
        sf_value n = sf_int((int64_t)rows);
        sf_csv_write_value(w, &n);
        sf_csv_end_row(w);
        char tmp[64];
        expect += (size_t)snprintf(tmp, sizeof tmp, "row,%zu\n", rows);
        rows++;
    }
    sf_csv_write_field(w, huge, big);
    sf_csv_end_row(w);
    expect += big + 1;
    sf_error err;
    uint64_t bytes = 0;
    assert_int_equal(sf_csv_writer_close(w, &bytes, &err), 0);
    assert_int_equal(bytes, expect);

    char *data;
    size_t len;
    assert_int_equal(sf_read_file(path, &data, &len, &err), 0);
    assert_int_equal(len, expect);
    sf_csv_reader *r = sf_csv_reader_new(data, len, "out.csv");
    assert_non_null(r);
    const sf_csv_field *f;
    size_t nf;
    for (size_t i = 0; i < rows; i++) {
        assert_int_equal(sf_csv_reader_next(r, &f, &nf, &err), 1);
        assert_int_equal(nf, 2);
        char want[32];
        int wn = snprintf(want, sizeof want, "%zu", i);
        assert_int_equal(f[1].n, (size_t)wn);
        assert_memory_equal(f[1].p, want, (size_t)wn);
    }
    assert_int_equal(sf_csv_reader_next(r, &f, &nf, &err), 1);
    assert_int_equal(nf, 1);
    assert_int_equal(f[0].n, big);
    assert_memory_equal(f[0].p, huge, big);
    assert_int_equal(sf_csv_reader_next(r, &f, &nf, &err), 0);
    sf_csv_reader_free(r);
    free(data);
    free(huge);
}

static void test_round_trip_of_tricky_strings(void **state)
{
    (void)state;
    static const char *const cells[][3] = {
        {"comma, inside", "\"quoted\"", "a\"\"b"},
        {"line\nfeed", "crlf\r\ninside", "lone\rcr"},
        {"", " ", "\"\""},
        {"Z\xC3\xBCrich", "\xE6\x9D\xB1\xE4\xBA\xAC, Tokyo", "\xF0\x9F\x98\x80"},
        {"trailing\n", "\n", ","},
    };
    size_t nrows = sizeof cells / sizeof cells[0];
    sf_csv_writer *w = open_writer();
    for (size_t i = 0; i < nrows; i++) {
        for (size_t j = 0; j < 3; j++)
            field(w, cells[i][j]);
        sf_csv_end_row(w);
    }
    sf_error err;
    assert_int_equal(sf_csv_writer_close(w, NULL, &err), 0);

    char *data;
    size_t len;
    assert_int_equal(sf_read_file(path, &data, &len, &err), 0);
    sf_csv_reader *r = sf_csv_reader_new(data, len, "out.csv");
    assert_non_null(r);
    const sf_csv_field *f;
    size_t nf;
    for (size_t i = 0; i < nrows; i++) {
        assert_int_equal(sf_csv_reader_next(r, &f, &nf, &err), 1);
        assert_int_equal(nf, 3);
        for (size_t j = 0; j < 3; j++) {
            assert_int_equal(f[j].n, strlen(cells[i][j]));
            assert_memory_equal(f[j].p, cells[i][j], f[j].n);
        }
    }
    assert_int_equal(sf_csv_reader_next(r, &f, &nf, &err), 0);
    sf_csv_reader_free(r);
    free(data);
}

static void test_open_in_missing_directory_is_io_error_naming_path(void **state)
{
    (void)state;
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.csv", tmpdir);
    sf_csv_writer *w = (sf_csv_writer *)1;
    sf_error err;
    assert_int_equal(sf_csv_writer_open(&w, bad, &err), SF_E_IO);
    assert_null(w);
    char want[600];
    snprintf(want, sizeof want, "cannot create '%s': No such file or directory", bad);
    assert_string_equal(err.msg, want);
}

static void test_write_to_full_device_fails_at_close_naming_file(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    sf_csv_writer *w = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_csv_writer_open(&w, "/dev/full", &err), 0);
    for (int i = 0; i < 1000; i++) {
        field(w, "some text that will not fit");
        sf_csv_end_row(w);
    }
    uint64_t bytes = 12345;
    assert_int_equal(sf_csv_writer_close(w, &bytes, &err), SF_E_IO);
    assert_int_equal(bytes, 12345);
    assert_string_equal(err.msg, "cannot write '/dev/full': No space left on device");
}

/* sync_later: close starts the writeback only; the bytes are the same as
 * a writer that fsyncs at close, sf_fsync_file then makes them durable,
 * and a write error still shows at close. */
static void test_sync_later_writes_the_same_bytes_and_reports_errors(void **state)
{
    (void)state;
    char other[400];
    snprintf(other, sizeof other, "%s/later.csv", tmpdir);
    sf_csv_options later = {SF_CSV_PLAIN, 0, 1};
    sf_csv_writer *a = open_writer(), *b = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_csv_writer_open_opt(&b, other, &later, &err), 0);
    for (int i = 0; i < 60000; i++) { /* past the 1 MiB buffer */
        char cell[64];
        snprintf(cell, sizeof cell, "row %d, \"quoted\"", i);
        field(a, cell);
        field(b, cell);
        sf_csv_end_row(a);
        sf_csv_end_row(b);
    }
    uint64_t na = 0, nb = 0;
    assert_int_equal(sf_csv_writer_close(a, &na, &err), 0);
    assert_int_equal(sf_csv_writer_close(b, &nb, &err), 0);
    assert_true(na > ((uint64_t)1 << 20));
    assert_int_equal(na, nb);
    assert_int_equal(sf_fsync_file(other, &err), 0);
    char *p, *q;
    size_t lp, lq;
    assert_int_equal(sf_read_file(path, &p, &lp, &err), 0);
    assert_int_equal(sf_read_file(other, &q, &lq, &err), 0);
    assert_int_equal(lp, lq);
    assert_memory_equal(p, q, lp);
    free(p);
    free(q);

    /* A device cannot be synced (EINVAL): not a failure, as at close. */
    assert_int_equal(sf_fsync_file("/dev/null", &err), 0);
    char missing[400], want[600];
    snprintf(missing, sizeof missing, "%s/no-such.csv", tmpdir);
    assert_int_equal(sf_fsync_file(missing, &err), SF_E_IO);
    snprintf(want, sizeof want, "cannot open to sync '%s': No such file or directory", missing);
    assert_string_equal(err.msg, want);

    if (access("/dev/full", W_OK) != 0)
        return;
    sf_csv_writer *f = NULL;
    assert_int_equal(sf_csv_writer_open_opt(&f, "/dev/full", &later, &err), 0);
    for (int i = 0; i < 1000; i++) {
        field(f, "some text that will not fit");
        sf_csv_end_row(f);
    }
    assert_int_equal(sf_csv_writer_close(f, NULL, &err), SF_E_IO);
    assert_string_equal(err.msg, "cannot write '/dev/full': No space left on device");
}

static void test_writer_close_null_is_noop(void **state)
{
    (void)state;
    assert_int_equal(sf_csv_writer_close(NULL, NULL, NULL), 0);
}

/* ---- reader ---- */

typedef struct {
    sf_csv_reader *r;
    sf_error err;
} rd;

static void rd_open(rd *x, const char *text)
{
    x->r = sf_csv_reader_new(text, strlen(text), "users.csv");
    assert_non_null(x->r);
    sf_error_clear(&x->err);
}

/* Reads the next record and checks it against the given unescaped fields. */
static void expect_record(rd *x, size_t n, const char *const *want, const int *quoted)
{
    const sf_csv_field *f;
    size_t nf;
    int rc = sf_csv_reader_next(x->r, &f, &nf, &x->err);
    if (rc != 1)
        fail_msg("expected a record, got %d: %s", rc, x->err.msg);
    assert_int_equal(nf, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(f[i].n, strlen(want[i]));
        assert_memory_equal(f[i].p, want[i], f[i].n);
        if (quoted)
            assert_int_equal(f[i].quoted, quoted[i]);
    }
}

static void expect_end(rd *x)
{
    const sf_csv_field *f;
    size_t nf;
    assert_int_equal(sf_csv_reader_next(x->r, &f, &nf, &x->err), 0);
    sf_csv_reader_free(x->r);
}

static void expect_error(rd *x, const char *msg, int line, int64_t offset)
{
    const sf_csv_field *f;
    size_t nf;
    assert_int_equal(sf_csv_reader_next(x->r, &f, &nf, &x->err), SF_E_PARSE);
    assert_string_equal(x->err.msg, msg);
    assert_int_equal(x->err.line, line);
    assert_int_equal(x->err.offset, offset);
    sf_csv_reader_free(x->r);
}

#define REC(x, q, ...)                                                                          \
    do {                                                                                        \
        const char *const w_[] = {__VA_ARGS__};                                                 \
        expect_record(x, sizeof w_ / sizeof w_[0], w_, q);                                      \
    } while (0)

static void test_reader_unescapes_quoted_fields_and_doubled_quotes(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "a,\"b,c\",\"d\"\"e\",\"\",,\"\"\"\"\n");
    static const int q[] = {0, 1, 1, 1, 0, 1};
    REC(&x, q, "a", "b,c", "d\"e", "", "", "\"");
    expect_end(&x);
}

static void test_reader_accepts_lf_and_crlf_row_ends(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "a,b\r\nc,d\ne,\"f\"\r\n");
    REC(&x, NULL, "a", "b");
    REC(&x, NULL, "c", "d");
    REC(&x, NULL, "e", "f");
    expect_end(&x);
}

static void test_reader_final_row_without_newline_is_a_record(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "a\nb,c");
    REC(&x, NULL, "a");
    REC(&x, NULL, "b", "c");
    expect_end(&x);
    rd_open(&x, "a\n\"q\"");
    REC(&x, NULL, "a");
    REC(&x, NULL, "q");
    expect_end(&x);
}

static void test_reader_empty_final_line_is_not_a_record(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "a\r\n");
    REC(&x, NULL, "a");
    expect_end(&x);
    rd_open(&x, "");
    expect_end(&x);
}

static void test_reader_blank_line_is_one_empty_field(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "a\n\nb\n");
    REC(&x, NULL, "a");
    REC(&x, NULL, "");
    REC(&x, NULL, "b");
    expect_end(&x);
}

static void test_reader_trailing_comma_gives_empty_last_field(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "a,\n,");
    REC(&x, NULL, "a", "");
    REC(&x, NULL, "", "");
    expect_end(&x);
}

static void test_reader_line_numbers_count_embedded_newlines(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "h\n\"two\nlines\",x\r\nnext\n");
    REC(&x, NULL, "h");
    assert_int_equal(sf_csv_reader_line(x.r), 1);
    REC(&x, NULL, "two\nlines", "x");
    assert_int_equal(sf_csv_reader_line(x.r), 2);
    REC(&x, NULL, "next");
    assert_int_equal(sf_csv_reader_line(x.r), 4);
    expect_end(&x);
}

static void test_reader_unterminated_quote_names_line_and_byte(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "id,name\n1,ok\n2,\"open\nmore\n");
    REC(&x, NULL, "id", "name");
    REC(&x, NULL, "1", "ok");
    expect_error(&x, "users.csv: line 3 (byte 15): unterminated quoted field", 3, 15);
}

static void test_reader_quote_inside_unquoted_field_is_error(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "a,b\"c\n");
    expect_error(&x, "users.csv: line 1 (byte 3): quote inside unquoted field", 1, 3);
}

static void test_reader_garbage_after_closing_quote_is_error(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "x\n\"ab\"c,d\n");
    REC(&x, NULL, "x");
    expect_error(&x, "users.csv: line 2 (byte 6): unexpected character after closing quote", 2,
                 6);
    /* After a quoted field spanning lines, the line is the one of the garbage. */
    rd_open(&x, "\"a\nb\" ,c\n");
    expect_error(&x, "users.csv: line 2 (byte 5): unexpected character after closing quote", 2,
                 5);
}

static void test_reader_bare_carriage_return_is_error(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "a\rb\n");
    expect_error(&x, "users.csv: line 1 (byte 1): carriage return without line feed in unquoted field",
                 1, 1);
}

static void test_reader_error_repeats_at_same_place(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, "\"a\nb\"x\n");
    const sf_csv_field *f;
    size_t nf;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sf_csv_reader_next(x.r, &f, &nf, &x.err), SF_E_PARSE);
        assert_string_equal(x.err.msg,
                            "users.csv: line 2 (byte 5): unexpected character after closing quote");
    }
    sf_csv_reader_free(x.r);
}

static void test_reader_free_null_is_noop(void **state)
{
    (void)state;
    sf_csv_reader_free(NULL);
}

static void test_parse_compression(void **state)
{
    (void)state;
    sf_csv_options o;
    sf_error err;
    assert_int_equal(sf_csv_parse_compression(NULL, &o, &err), 0);
    assert_int_equal(o.codec, SF_CSV_PLAIN);
    assert_string_equal(sf_csv_ext(&o), "csv");
    assert_int_equal(sf_csv_parse_compression("none", &o, &err), 0);
    assert_int_equal(o.codec, SF_CSV_PLAIN);
    assert_int_equal(sf_csv_parse_compression("gzip", &o, &err), 0);
    assert_int_equal(o.codec, SF_CSV_GZIP);
    assert_int_equal(o.level, 6);
    assert_string_equal(sf_csv_ext(&o), "csv.gz");
    assert_int_equal(sf_csv_parse_compression("gzip:9", &o, &err), 0);
    assert_int_equal(o.level, 9);
    assert_int_equal(sf_csv_parse_compression("zstd", &o, &err), 0);
    assert_int_equal(o.codec, SF_CSV_ZSTD);
    assert_int_equal(o.level, 3);
    assert_string_equal(sf_csv_ext(&o), "csv.zst");
    assert_int_equal(sf_csv_parse_compression("zstd:22", &o, &err), 0);
    assert_int_equal(o.level, 22);
    static const char *const bad[] = {"snappy", "gzip:0", "gzip:10", "zstd:23", "zstd:x",
                                      "gzip:4x", "", "GZIP"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(sf_csv_parse_compression(bad[i], &o, &err), SF_E_INVAL);
        assert_non_null(strstr(err.msg, "zstd:N"));
    }
    assert_string_equal(sf_csv_ext(NULL), "csv");
}


static void test_one_line_gives_the_fields_of_one_record(void **state)
{
    (void)state;
    sf_csv_reader *r = sf_csv_reader_new("", 0, "t");
    const sf_csv_field *f;
    size_t n;
    char msg[240];
    const char *line = "1,\"a,\"\"b\"\"\",,\"\"";
    assert_int_equal(sf_csv_reader_one_line(r, line, strlen(line), &f, &n, msg, sizeof msg), 1);
    assert_int_equal(n, 4);
    assert_int_equal(f[0].n, 1);
    assert_memory_equal(f[1].p, "a,\"b\"", 5);
    assert_int_equal(f[1].n, 5);
    assert_int_equal(f[2].n, 0);
    assert_false(f[2].quoted);
    assert_int_equal(f[3].n, 0);
    assert_true(f[3].quoted);
    /* The reader is reused: the next line forgets the previous one. */
    assert_int_equal(sf_csv_reader_one_line(r, "x", 1, &f, &n, msg, sizeof msg), 1);
    assert_int_equal(n, 1);
    assert_memory_equal(f[0].p, "x", 1);
    sf_csv_reader_free(r);
}

static void test_one_line_with_an_open_quote_says_newlines_are_not_supported(void **state)
{
    (void)state;
    sf_csv_reader *r = sf_csv_reader_new("", 0, "t");
    const sf_csv_field *f;
    size_t n;
    char msg[240];
    const char *line = "1,\"starts here";
    assert_int_equal(sf_csv_reader_one_line(r, line, strlen(line), &f, &n, msg, sizeof msg),
                     SF_E_PARSE);
    assert_string_equal(msg, "quoted field from column 3 runs past the end of the line (a "
                             "newline inside a quoted field is not supported in CSV fact "
                             "inputs)");
    line = "1,a\"b";
    assert_int_equal(sf_csv_reader_one_line(r, line, strlen(line), &f, &n, msg, sizeof msg),
                     SF_E_PARSE);
    assert_string_equal(msg, "quote inside unquoted field at column 4");
    line = "\"a\"b";
    assert_int_equal(sf_csv_reader_one_line(r, line, strlen(line), &f, &n, msg, sizeof msg),
                     SF_E_PARSE);
    assert_string_equal(msg, "unexpected character after closing quote at column 4");
    sf_csv_reader_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_compression),
        cmocka_unit_test(test_writer_quotes_only_fields_that_need_it),
        cmocka_unit_test(test_writer_separates_fields_and_ends_rows),
        cmocka_unit_test(test_writer_prints_every_value_type),
        cmocka_unit_test(test_write_row_prints_every_value_type_and_quotes),
        cmocka_unit_test(test_write_row_same_bytes_as_field_writer),
        cmocka_unit_test(test_format_value_is_the_field_write_value_writes),
        cmocka_unit_test(test_write_sparse_same_bytes_as_write_row),
        cmocka_unit_test(test_format_row_then_write_text_same_bytes_as_write_row),
        cmocka_unit_test(test_write_texts_in_an_order_same_bytes_as_one_by_one),
        cmocka_unit_test(test_writer_output_larger_than_buffer_is_complete),
        cmocka_unit_test(test_round_trip_of_tricky_strings),
        cmocka_unit_test(test_open_in_missing_directory_is_io_error_naming_path),
        cmocka_unit_test(test_write_to_full_device_fails_at_close_naming_file),
        cmocka_unit_test(test_writer_close_null_is_noop),
        cmocka_unit_test(test_sync_later_writes_the_same_bytes_and_reports_errors),
        cmocka_unit_test(test_reader_unescapes_quoted_fields_and_doubled_quotes),
        cmocka_unit_test(test_reader_accepts_lf_and_crlf_row_ends),
        cmocka_unit_test(test_reader_final_row_without_newline_is_a_record),
        cmocka_unit_test(test_reader_empty_final_line_is_not_a_record),
        cmocka_unit_test(test_reader_blank_line_is_one_empty_field),
        cmocka_unit_test(test_reader_trailing_comma_gives_empty_last_field),
        cmocka_unit_test(test_reader_line_numbers_count_embedded_newlines),
        cmocka_unit_test(test_reader_unterminated_quote_names_line_and_byte),
        cmocka_unit_test(test_reader_quote_inside_unquoted_field_is_error),
        cmocka_unit_test(test_reader_garbage_after_closing_quote_is_error),
        cmocka_unit_test(test_reader_bare_carriage_return_is_error),
        cmocka_unit_test(test_reader_error_repeats_at_same_place),
        cmocka_unit_test(test_reader_free_null_is_noop),
        cmocka_unit_test(test_one_line_gives_the_fields_of_one_record),
        cmocka_unit_test(test_one_line_with_an_open_quote_says_newlines_are_not_supported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
