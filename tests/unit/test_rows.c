/* test_rows.c - the result row table of core/rows.h: rows appended NULL,
 * strings kept in the table, encode/append_record round trips for every
 * type, malformed records refused without a trace, and a sort that is one
 * total order whatever order the rows arrived in. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/rows.h"

static void set_row(sf_rows *r, const sf_value *vals)
{
    sf_value *row = sf_rows_append(r);
    assert_non_null(row);
    for (size_t c = 0; c < r->ncols; c++) {
        row[c] = vals[c];
        assert_int_equal(sf_rows_keep_string(r, &row[c]), 0);
    }
}

/* The whole table as bytes: identical bytes mean identical rows, down to
 * the bits of doubles and the bytes of strings. */
static void table_bytes(const sf_rows *r, sf_buf *out)
{
    out->n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const sf_value *row = sf_rows_at(r, i);
        size_t n = sf_rows_encoded_size(row, r->ncols);
        assert_int_equal(sf_buf_reserve(out, n), 0);
        assert_int_equal(sf_rows_encode(row, r->ncols, out->p + out->n), n);
        out->n += n;
    }
}

/* a and b hold the same rows in the same order, byte for byte. */
static void assert_same_tables(const sf_rows *a, const sf_rows *b)
{
    sf_buf x = SF_BUF_INIT, y = SF_BUF_INIT;
    table_bytes(a, &x);
    table_bytes(b, &y);
    assert_int_equal(x.n, y.n);
    assert_memory_equal(x.p, y.p, x.n);
    sf_buf_free(&x);
    sf_buf_free(&y);
}

static void test_append_gives_a_row_of_nulls(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 3);
    assert_int_equal(r.n, 0);
    for (int i = 0; i < 600; i++) { /* past the first growth */
        sf_value *row = sf_rows_append(&r);
        assert_non_null(row);
        for (size_t c = 0; c < 3; c++)
            assert_int_equal(row[c].type, SF_NULL);
        row[0] = sf_int(i);
    }
    assert_int_equal(r.n, 600);
    for (int i = 0; i < 600; i++)
        assert_int_equal(sf_rows_at(&r, (size_t)i)[0].u.i, i);
    sf_rows_free(&r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.ncols, 3);
}

/* A slot reused after a row was dropped: the columns the caller sets
 * are left as they were, every later one is NULL again. */
static void test_append_filled_nulls_only_the_rest(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 4);
    assert_int_equal(sf_rows_reserve(&r, 1), 0);
    sf_value *row = sf_rows_append(&r);
    for (int c = 0; c < 4; c++)
        row[c] = sf_int(10 + c);
    r.n--; /* dropped, as the reduce drops a retired group's row */
    row = sf_rows_append_filled(&r, 2);
    assert_int_equal(r.n, 1);
    assert_int_equal(row[0].type, SF_INT);
    assert_int_equal(row[1].u.i, 11);
    assert_int_equal(row[2].type, SF_NULL);
    assert_int_equal(row[3].type, SF_NULL);
    row = sf_rows_append_filled(&r, 4); /* grows: nothing to set NULL */
    assert_non_null(row);
    assert_int_equal(r.n, 2);
    assert_ptr_equal(row, sf_rows_at(&r, 1));
    sf_rows_free(&r);
}

static void test_keep_string_copies_into_the_table(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 2);
    char text[] = "volatile\0bytes";
    sf_value *row = sf_rows_append(&r);
    row[0] = sf_string(text, sizeof text - 1);
    row[1] = sf_int(3);
    assert_int_equal(sf_rows_keep_string(&r, &row[0]), 0);
    assert_int_equal(sf_rows_keep_string(&r, &row[1]), 0);
    memset(text, 'x', sizeof text);
    assert_ptr_not_equal(row[0].u.s.p, text);
    assert_int_equal(row[0].u.s.n, 14);
    assert_memory_equal(row[0].u.s.p, "volatile\0bytes", 14);
    assert_int_equal(row[1].type, SF_INT);
    assert_int_equal(row[1].u.i, 3);
    sf_rows_free(&r);
}

static void test_encode_and_append_record_round_trip_every_type(void **state)
{
    (void)state;
    const char nul_text[] = "a\0b\0";
    const sf_value vals[8] = {
        sf_null(),  sf_bool(1),           sf_int(INT64_MIN),
        sf_double(-0.0), sf_double(NAN),  sf_date(-719468),
        sf_string("", 0), sf_string(nul_text, 4),
    };
    size_t n = sf_rows_encoded_size(vals, 8);
    assert_int_equal(n, 1 + 2 + 9 + 9 + 9 + 5 + 2 + 6);
    unsigned char *rec = malloc(n);
    assert_int_equal(sf_rows_encode(vals, 8, rec), n);

    sf_rows r;
    sf_rows_init(&r, 8);
    assert_int_equal(sf_rows_append_record(&r, rec, n), 0);
    memset(rec, 0xee, n); /* the record was copied */
    free(rec);
    assert_int_equal(r.n, 1);
    const sf_value *row = sf_rows_at(&r, 0);
    for (size_t c = 0; c < 8; c++) {
        assert_int_equal(row[c].type, vals[c].type);
        assert_true(sf_value_same(&row[c], &vals[c]));
    }
    assert_true(signbit(row[3].u.d));
    assert_true(isnan(row[4].u.d));
    assert_int_equal(row[7].u.s.n, 4);
    assert_memory_equal(row[7].u.s.p, nul_text, 4);
    sf_rows_free(&r);
}

static void test_record_strings_are_kept_past_the_record(void **state)
{
    (void)state;
    /* Every string of a decoded row is copied out of the record (one
     * block per row), an empty one included. */
    sf_rows r;
    sf_rows_init(&r, 4);
    const sf_value rows[2][4] = {
        {sf_string("user_000783", 11), sf_date(20300), sf_string("DE", 2), sf_int(7)},
        {sf_string("", 0), sf_date(20301), sf_null(), sf_string("", 0)},
    };
    for (int i = 0; i < 2; i++) {
        unsigned char rec[64];
        size_t n = sf_rows_encode(rows[i], 4, rec);
        assert_int_equal(sf_rows_append_record(&r, rec, n), 0);
        memset(rec, 0xee, sizeof rec);
    }
    assert_int_equal(r.n, 2);
    for (size_t i = 0; i < 2; i++) {
        const sf_value *row = sf_rows_at(&r, i);
        for (size_t c = 0; c < 4; c++)
            assert_true(sf_value_same(&row[c], &rows[i][c]));
    }
    assert_memory_equal(sf_rows_at(&r, 0)[0].u.s.p, "user_000783", 11);
    assert_memory_equal(sf_rows_at(&r, 0)[2].u.s.p, "DE", 2);
    assert_non_null(sf_rows_at(&r, 1)[0].u.s.p);
    sf_rows_free(&r);
}

static void test_records_append_after_existing_rows(void **state)
{
    (void)state;
    sf_rows a, b;
    sf_rows_init(&a, 2);
    sf_rows_init(&b, 2);
    for (int i = 0; i < 5; i++) {
        char s[2] = {(char)('a' + i), 0};
        sf_value v[2] = {sf_int(i), sf_string(s, 1)};
        set_row(&a, v);
    }
    for (size_t i = 0; i < a.n; i++) {
        unsigned char rec[64];
        size_t n = sf_rows_encode(sf_rows_at(&a, i), 2, rec);
        assert_int_equal(sf_rows_append_record(&b, rec, n), 0);
    }
    assert_same_tables(&a, &b);
    sf_rows_free(&a);
    sf_rows_free(&b);
}

static void test_record_with_too_few_values_is_rejected(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 3);
    sf_value vals[2] = {sf_int(1), sf_int(2)};
    unsigned char rec[32];
    size_t n = sf_rows_encode(vals, 2, rec);
    assert_int_equal(sf_rows_append_record(&r, rec, n), SF_E_PARSE);
    assert_int_equal(r.n, 0);
    assert_int_equal(sf_rows_append_record(&r, rec, 0), SF_E_PARSE);
    assert_int_equal(r.n, 0);
    sf_rows_free(&r);
}

static void test_record_with_trailing_bytes_is_rejected(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 2);
    sf_value vals[3] = {sf_int(1), sf_int(2), sf_null()};
    unsigned char rec[32];
    size_t n = sf_rows_encode(vals, 3, rec);
    assert_int_equal(sf_rows_append_record(&r, rec, n), SF_E_PARSE);
    assert_int_equal(r.n, 0);
    /* The same record cut to two values is fine. */
    assert_int_equal(sf_rows_append_record(&r, rec, n - 1), 0);
    assert_int_equal(r.n, 1);
    sf_rows_free(&r);
}

static void test_truncated_record_is_rejected_at_every_cut(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 2);
    sf_value vals[2] = {sf_string("hello", 5), sf_double(2.5)};
    unsigned char rec[32];
    size_t n = sf_rows_encode(vals, 2, rec);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(sf_rows_append_record(&r, rec, cut), SF_E_PARSE);
    assert_int_equal(r.n, 0);
    rec[0] = 0x42; /* no such type tag */
    assert_int_equal(sf_rows_append_record(&r, rec, n), SF_E_PARSE);
    assert_int_equal(r.n, 0);
    sf_rows_free(&r);
}

static void test_sort_by_key_columns_then_the_rest(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 3);
    /* (name, day, value): sort by day, then name; ties broken by value. */
    const struct { const char *name; int32_t day; int64_t v; } in[] = {
        {"b", 2, 1}, {"a", 2, 9}, {"a", 1, 5}, {"b", 1, 0}, {"a", 2, 3}, {"c", 0, 7},
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        sf_value v[3] = {sf_string(in[i].name, 1), sf_date(in[i].day), sf_int(in[i].v)};
        set_row(&r, v);
    }
    const int keys[] = {1, 0};
    assert_int_equal(sf_rows_sort(&r, keys, 2), 0);
    const struct { char name; int32_t day; int64_t v; } want[] = {
        {'c', 0, 7}, {'a', 1, 5}, {'b', 1, 0}, {'a', 2, 3}, {'a', 2, 9}, {'b', 2, 1},
    };
    assert_int_equal(r.n, 6);
    for (size_t i = 0; i < 6; i++) {
        const sf_value *row = sf_rows_at(&r, i);
        assert_int_equal(row[0].u.s.p[0], want[i].name);
        assert_int_equal(row[1].u.date, want[i].day);
        assert_int_equal(row[2].u.i, want[i].v);
    }
    sf_rows_free(&r);
}

/* Timestamps sort by their int64 microseconds through the key prefix:
 * negative before positive, the extremes at the ends, NULL first. */
static void test_sort_orders_timestamps_including_extremes(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 2);
    const int64_t in[] = {INT64_MAX, -5, 0, 3, INT64_MIN, -5, 1};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        sf_value v[2] = {in[i] == 0 ? sf_null() : sf_timestamp(in[i]), sf_int((int64_t)i)};
        set_row(&r, v);
    }
    const int keys[] = {0};
    assert_int_equal(sf_rows_sort(&r, keys, 1), 0);
    const int64_t want_ts[] = {0, INT64_MIN, -5, -5, 1, 3, INT64_MAX};
    const int64_t want_i[] = {2, 4, 1, 5, 6, 3, 0};
    for (size_t i = 0; i < 7; i++) {
        const sf_value *row = sf_rows_at(&r, i);
        if (want_ts[i] == 0) {
            assert_int_equal(row[0].type, SF_NULL);
        } else {
            assert_int_equal(row[0].type, SF_TIMESTAMP);
            assert_true(row[0].u.i == want_ts[i]);
        }
        assert_int_equal(row[1].u.i, want_i[i]);
    }
    sf_rows_free(&r);
}

static void test_sort_puts_nulls_first_in_key_columns(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 2);
    sf_value a[2] = {sf_int(2), sf_int(0)}, b[2] = {sf_null(), sf_int(1)},
             c[2] = {sf_int(-1), sf_int(2)};
    set_row(&r, a);
    set_row(&r, b);
    set_row(&r, c);
    const int keys[] = {0};
    assert_int_equal(sf_rows_sort(&r, keys, 1), 0);
    assert_int_equal(sf_rows_at(&r, 0)[0].type, SF_NULL);
    assert_int_equal(sf_rows_at(&r, 1)[0].u.i, -1);
    assert_int_equal(sf_rows_at(&r, 2)[0].u.i, 2);
    sf_rows_free(&r);
}

/* Fills a table with the rows of vals (nrows x ncols) in the order perm. */
static void fill_in_order(sf_rows *r, const sf_value *vals, size_t ncols, const size_t *perm,
                          size_t nrows)
{
    for (size_t i = 0; i < nrows; i++)
        set_row(r, vals + perm[i] * ncols);
}

static void assert_same_sorted_bytes(const sf_value *vals, size_t ncols, const size_t *p1,
                                     const size_t *p2, size_t nrows, const int *keys,
                                     size_t nkeys)
{
    sf_rows a, b;
    sf_rows_init(&a, ncols);
    sf_rows_init(&b, ncols);
    fill_in_order(&a, vals, ncols, p1, nrows);
    fill_in_order(&b, vals, ncols, p2, nrows);
    assert_int_equal(sf_rows_sort(&a, keys, nkeys), 0);
    assert_int_equal(sf_rows_sort(&b, keys, nkeys), 0);
    assert_same_tables(&a, &b);
    sf_rows_free(&a);
    sf_rows_free(&b);
}

static void test_same_rows_in_two_orders_sort_identically(void **state)
{
    (void)state;
    /* Rows equal in the key column differ only in later columns, including
     * strings that differ after a NUL and a prefix pair. */
    const sf_value vals[] = {
        sf_string("x", 1), sf_int(2),  sf_string("a\0b", 3),
        sf_string("x", 1), sf_int(2),  sf_string("a\0a", 3),
        sf_string("x", 1), sf_int(2),  sf_string("a", 1),
        sf_string("x", 1), sf_null(),  sf_string("z", 1),
        sf_string("w", 1), sf_int(9),  sf_null(),
        sf_string("x", 1), sf_int(-4), sf_string("", 0),
        sf_string("x", 1), sf_int(2),  sf_string("a\0b", 3),
    };
    const size_t p1[] = {0, 1, 2, 3, 4, 5, 6};
    const size_t p2[] = {6, 5, 4, 3, 2, 1, 0};
    const size_t p3[] = {3, 0, 6, 2, 5, 1, 4};
    const int keys[] = {0};
    assert_same_sorted_bytes(vals, 3, p1, p2, 7, keys, 1);
    assert_same_sorted_bytes(vals, 3, p1, p3, 7, keys, 1);
    assert_same_sorted_bytes(vals, 3, p2, p3, 7, NULL, 0);
}

static void test_rows_differing_only_in_zero_sign_sort_identically(void **state)
{
    (void)state;
    /* sf_value_cmp calls 0.0 and -0.0 equal; the sort must still order
     * the two rows the same way whatever their input order. */
    const sf_value vals[] = {
        sf_string("k", 1), sf_double(0.0),
        sf_string("k", 1), sf_double(-0.0),
    };
    const size_t p1[] = {0, 1};
    const size_t p2[] = {1, 0};
    const int keys[] = {0};
    assert_same_sorted_bytes(vals, 2, p1, p2, 2, keys, 1);
}

static void test_sort_of_empty_and_single_row_tables(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 1);
    const int keys[] = {0};
    assert_int_equal(sf_rows_sort(&r, keys, 1), 0);
    assert_int_equal(r.n, 0);
    sf_value v[1] = {sf_int(4)};
    set_row(&r, v);
    assert_int_equal(sf_rows_sort(&r, keys, 1), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(sf_rows_at(&r, 0)[0].u.i, 4);
    sf_rows_free(&r);
}

/* The sorted table is in the order of sf_value_cmp over the keys and then
 * every column, on values built to trip a key prefix: strings that share
 * their first 30 bytes, differ only in a trailing NUL or in length, NULLs,
 * negative and huge int64s, dates before 1970, bools, and doubles (0.0 and
 * -0.0, infinities and NaN among them). */
static void test_sort_agrees_with_value_order_on_prefix_edge_cases(void **state)
{
    (void)state;
    static const char *strs[] = {"", "a", "a\0", "a\0b", "ab", "\xff", "user_000123",
                                 "user_000124", "user_0001234",
                                 "0123456789012345678901234567890a",
                                 "0123456789012345678901234567890b",
                                 "0123456789012345678901234567890"};
    static const size_t lens[] = {0, 1, 2, 3, 2, 1, 11, 11, 12, 32, 32, 31};
    const size_t ns = sizeof lens / sizeof lens[0];
    sf_rows r;
    sf_rows_init(&r, 5);
    uint64_t x = 12345;
    for (size_t i = 0; i < 600; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned d = (unsigned)(x >> 33);
        sf_value v[5];
        v[0] = d % 7 == 0 ? sf_null() : sf_bool((int)(d & 1));
        v[1] = d % 11 == 0 ? sf_null() : sf_date((int32_t)(d % 5) - 2);
        v[2] = d % 13 == 0 ? sf_null() : sf_string(strs[(d >> 4) % ns], lens[(d >> 4) % ns]);
        static const int64_t ints[] = {INT64_MIN, -1, 0, 1, INT64_MAX, 256, -256};
        v[3] = d % 17 == 0 ? sf_null() : sf_int(ints[(d >> 8) % 7]);
        static const double dbls[] = {-0.0, 0.0, -1.5, 2.5, 1e300, -1e-300};
        v[4] = (d >> 12) % 9 == 0   ? sf_double(NAN)
               : (d >> 12) % 9 == 1 ? sf_double((d >> 16) & 1 ? INFINITY : -INFINITY)
                                    : sf_double(dbls[(d >> 14) % 6]);
        set_row(&r, v);
    }
    const int orders[][5] = {{0, 1, 2, 3, 4}, {2, 3, 0, 1, 4}, {3, 1, 4, 2, 0}, {4, 2, 0, 1, 3}};
    for (size_t o = 0; o < 4; o++) {
        assert_int_equal(sf_rows_sort(&r, orders[o], 5), 0);
        for (size_t i = 1; i < r.n; i++) {
            const sf_value *a = sf_rows_at(&r, i - 1), *b = sf_rows_at(&r, i);
            int c = 0;
            for (size_t k = 0; k < 5 && c == 0; k++)
                c = sf_value_cmp(&a[orders[o][k]], &b[orders[o][k]]);
            assert_true(c <= 0);
        }
    }
    sf_rows_free(&r);
}

/* A reference order: keys, then every column (sf_value_cmp), then the
 * input position - what a stable sort by the full row order gives. */
static const sf_value *ref_vals;
static size_t ref_ncols;
static const int *ref_keys;
static size_t ref_nkeys;

static int ref_cmp(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const sf_value *x = ref_vals + i * ref_ncols, *y = ref_vals + j * ref_ncols;
    for (size_t k = 0; k < ref_nkeys; k++) {
        int c = sf_value_cmp(&x[ref_keys[k]], &y[ref_keys[k]]);
        if (c)
            return c;
    }
    for (size_t c = 0; c < ref_ncols; c++) {
        int d = sf_value_cmp(&x[c], &y[c]);
        if (d)
            return d;
    }
    return (i > j) - (i < j);
}

/* Tens of thousands of rows whose key prefixes tie in long runs (one date,
 * strings sharing their first 28 bytes, a few distinct ints) and in short
 * ones, so the radix sort takes every path - skipped bytes, buckets, small
 * buckets, equal prefixes - and must give the reference order exactly. */
static void test_large_sort_gives_the_reference_order(void **state)
{
    (void)state;
    enum { N = 40000, NC = 4 };
    static sf_value vals[N * NC];
    static char text[N][40];
    uint64_t x = 987654321;
    for (size_t i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned d = (unsigned)(x >> 33);
        sf_value *v = &vals[i * NC];
        v[0] = sf_date(d % 3 == 0 ? 19000 : 19000 + (int32_t)(d % 40));
        int len = d % 5 == 0 ? snprintf(text[i], sizeof text[i], "u%u", (d >> 3) % 97)
                             : snprintf(text[i], sizeof text[i], "shared_prefix_of_28_bytes___%05u",
                                        (d >> 7) % 3000);
        v[1] = d % 29 == 0 ? sf_null() : sf_string(text[i], (size_t)len);
        v[2] = sf_int((int64_t)((d >> 11) % 4) - 2);
        v[3] = (d >> 13) % 7 == 0 ? sf_int(1) : sf_double((double)((d >> 15) % 3));
    }
    const int orders[][2] = {{0, 1}, {1, 0}, {2, 3}, {3, 1}};
    size_t *idx = malloc(N * sizeof *idx);
    assert_non_null(idx);
    for (size_t o = 0; o < 4; o++) {
        sf_rows r;
        sf_rows_init(&r, NC);
        for (size_t i = 0; i < N; i++)
            set_row(&r, &vals[i * NC]);
        assert_int_equal(sf_rows_sort(&r, orders[o], 2), 0);
        for (size_t i = 0; i < N; i++)
            idx[i] = i;
        ref_vals = vals;
        ref_ncols = NC;
        ref_keys = orders[o];
        ref_nkeys = 2;
        qsort(idx, N, sizeof *idx, ref_cmp);
        for (size_t i = 0; i < N; i++) {
            const sf_value *got = sf_rows_at(&r, i), *want = &vals[idx[i] * NC];
            for (size_t c = 0; c < NC; c++) {
                assert_int_equal(got[c].type, want[c].type);
                assert_int_equal(sf_value_cmp(&got[c], &want[c]), 0);
            }
        }
        sf_rows_free(&r);
    }
    free(idx);
}

static void test_reserve_holds_exactly_and_keeps_rows(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 2);
    sf_value a[2] = {sf_int(1), sf_string("x", 1)};
    set_row(&r, a);
    assert_int_equal(sf_rows_reserve(&r, 1000), 0);
    assert_int_equal(r.cap, 1000);
    assert_int_equal(r.n, 1);
    assert_int_equal(sf_rows_at(&r, 0)[0].u.i, 1);
    for (int i = 1; i < 1000; i++)
        assert_non_null(sf_rows_append(&r));
    assert_int_equal(r.cap, 1000);
    assert_int_equal(sf_rows_reserve(&r, 10), 0); /* never shrinks */
    assert_int_equal(r.cap, 1000);
    assert_int_equal(r.n, 1000);
    sf_rows_free(&r);
}

static void test_descending_key_reverses_its_order_and_puts_nulls_last(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 2);
    /* (revenue, user): revenue desc; equal revenues by user ascending. */
    sf_value a[2] = {sf_double(5.5), sf_int(3)}, b[2] = {sf_null(), sf_int(1)},
             c[2] = {sf_double(9.0), sf_int(2)}, d[2] = {sf_double(5.5), sf_int(1)};
    set_row(&r, a);
    set_row(&r, b);
    set_row(&r, c);
    set_row(&r, d);
    const int keys[] = {0};
    const unsigned char desc[] = {1};
    assert_int_equal(sf_rows_sort_dir(&r, keys, desc, 1), 0);
    assert_true(sf_rows_at(&r, 0)[0].u.d == 9.0);
    assert_true(sf_rows_at(&r, 1)[0].u.d == 5.5);
    assert_int_equal(sf_rows_at(&r, 1)[1].u.i, 1);
    assert_true(sf_rows_at(&r, 2)[0].u.d == 5.5);
    assert_int_equal(sf_rows_at(&r, 2)[1].u.i, 3);
    assert_int_equal(sf_rows_at(&r, 3)[0].type, SF_NULL);
    sf_rows_free(&r);
}

/* Mixed directions on the prefix edge cases (strings that share a long
 * prefix or differ by a trailing NUL, NULLs, extreme int64s, -0.0 and
 * NaN): the sorted table agrees with sf_rows_cmp_dir, which agrees with
 * sf_value_cmp negated on the descending keys. */
static void test_mixed_directions_agree_with_the_row_comparison(void **state)
{
    (void)state;
    static const char *strs[] = {"", "a", "a\0", "a\0b", "ab", "\xff",
                                 "0123456789012345678901234567890a",
                                 "0123456789012345678901234567890b",
                                 "0123456789012345678901234567890"};
    static const size_t lens[] = {0, 1, 2, 3, 2, 1, 32, 32, 31};
    const size_t ns = sizeof lens / sizeof lens[0];
    sf_rows r;
    sf_rows_init(&r, 4);
    uint64_t x = 777;
    for (size_t i = 0; i < 500; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned d = (unsigned)(x >> 33);
        static const int64_t ints[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
        static const double dbls[] = {-0.0, 0.0, -1.5, 2.5, 1e300};
        sf_value v[4];
        v[0] = d % 13 == 0 ? sf_null() : sf_string(strs[(d >> 4) % ns], lens[(d >> 4) % ns]);
        v[1] = d % 11 == 0 ? sf_null() : sf_int(ints[(d >> 8) % 5]);
        v[2] = (d >> 12) % 7 == 0 ? sf_double(NAN) : sf_double(dbls[(d >> 14) % 5]);
        v[3] = sf_date((int32_t)(d % 5) - 2);
        set_row(&r, v);
    }
    const int orders[][3] = {{0, 1, 2}, {1, 0, 3}, {2, 3, 0}};
    const unsigned char dirs[][3] = {{1, 0, 1}, {1, 1, 1}, {0, 1, 0}};
    for (size_t o = 0; o < 3; o++) {
        assert_int_equal(sf_rows_sort_dir(&r, orders[o], dirs[o], 3), 0);
        for (size_t i = 1; i < r.n; i++) {
            const sf_value *a = sf_rows_at(&r, i - 1), *b = sf_rows_at(&r, i);
            assert_true(sf_rows_cmp_dir(a, b, 4, orders[o], dirs[o], 3) <= 0);
            int c = 0;
            for (size_t k = 0; k < 3 && c == 0; k++) {
                c = sf_value_cmp(&a[orders[o][k]], &b[orders[o][k]]);
                c = dirs[o][k] ? -c : c;
            }
            assert_true(c <= 0);
        }
    }
    sf_rows_free(&r);
}

/* Key images sorted as bytes give the order sf_rows_sort_dir gives the
 * rows on those keys: strings with 0x00 (in short strings, in either word
 * of 8 to 16 bytes, in long ones) and prefixes of each other, int64
 * and date extremes, bools, NULLs, an int64 among strings (types apart by
 * number), each key ascending or descending. */
static void test_sorted_key_images_give_the_row_order(void **state)
{
    (void)state;
    static const char *strs[] = {"", "a", "a\0", "a\0b", "ab", "\xff", "a\0\xff",
                                 "0123456789012345678901234567890a",
                                 "0123456789012345678901234567890",
                                 /* 8 to 16 bytes (two words) with a zero in
                                  * the first, the second, the last byte,
                                  * and longer with one */
                                 "user_0\0abc", "abcdefgh\0ij", "abcdefghijklmno\0",
                                 "abcdefgh\0", "abcdefghijklmnopq\0rs",
                                 /* and what they start with */
                                 "user_0", "abcdefgh", "abcdefghijklmno",
                                 "abcdefghijklmnopq"};
    static const size_t lens[] = {0, 1, 2, 3, 2, 1, 3, 32, 31, 10, 11, 16, 9, 20, 6, 8, 15, 17};
    static const int64_t ints[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    static const int32_t dates[] = {INT32_MIN, -1, 0, 1, INT32_MAX};
    const size_t ns = sizeof lens / sizeof lens[0];
    const int keys[] = {0, 1, 2, 3};
    const unsigned char dirs[][4] = {{0, 0, 0, 0}, {1, 0, 1, 0}, {0, 1, 0, 1}, {1, 1, 1, 1}};
    sf_rows_image_room *room = NULL;
    for (size_t o = 0; o < 4; o++) {
        sf_rows r;
        sf_rows_init(&r, 5);
        uint64_t x = 4242 + o;
        for (size_t i = 0; i < 3000; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            unsigned d = (unsigned)(x >> 33);
            sf_value v[5];
            v[0] = d % 17 == 0  ? sf_null()
                   : d % 23 == 0 ? sf_int(ints[(d >> 3) % 5])
                                 : sf_string(strs[(d >> 4) % ns], lens[(d >> 4) % ns]);
            v[1] = d % 11 == 0 ? sf_null() : sf_int(ints[(d >> 8) % 5]);
            v[2] = (d >> 12) % 9 == 0 ? sf_null() : sf_date(dates[(d >> 14) % 5]);
            v[3] = (d >> 18) % 5 == 0 ? sf_null() : sf_bool((int)((d >> 20) & 1));
            v[4] = sf_int((int64_t)i); /* not a key: the row's number */
            set_row(&r, v);
        }
        sf_buf img = SF_BUF_INIT;
        uint64_t *at = malloc((r.n + 1) * sizeof *at);
        uint32_t *order = malloc(r.n * sizeof *order);
        assert_non_null(at);
        assert_non_null(order);
        at[0] = 0;
        for (size_t i = 0; i < r.n; i++) {
            for (size_t k = 0; k < 4; k++)
                assert_int_equal(sf_rows_image_append(&img, &sf_rows_at(&r, i)[keys[k]],
                                                      dirs[o][k]),
                                 0);
            at[i + 1] = img.n;
        }
        assert_int_equal(sf_rows_sort_images(img.p, at, NULL, r.n, order, &room), 0);
        sf_rows sorted;
        sf_rows_init(&sorted, 5);
        for (size_t i = 0; i < r.n; i++)
            set_row(&sorted, sf_rows_at(&r, i));
        assert_int_equal(sf_rows_sort_dir(&sorted, keys, dirs[o], 4), 0);
        for (size_t k = 0; k < r.n; k++) {
            const sf_value *a = sf_rows_at(&r, order[k]), *b = sf_rows_at(&sorted, k);
            /* Equal keys: equal images, kept in input order (the row's
             * number, the sort's last tie-break too). */
            assert_int_equal(sf_rows_cmp_dir(a, b, 4, keys, dirs[o], 4), 0);
            assert_int_equal(a[4].u.i, b[4].u.i);
        }
        /* Every third image through ids, with the room of the sort
         * before: the same order among them. */
        size_t m = r.n / 3;
        uint32_t *ids = malloc(m * sizeof *ids), *sub = malloc(m * sizeof *sub);
        assert_non_null(ids);
        assert_non_null(sub);
        for (size_t i = 0; i < m; i++)
            ids[i] = (uint32_t)(3 * i + 1);
        assert_int_equal(sf_rows_sort_images(img.p, at, ids, m, sub, &room), 0);
        for (size_t k = 0, i = 0; k < r.n; k++) {
            if (order[k] % 3 == 1 && order[k] / 3 < m)
                assert_int_equal(ids[sub[i++]], order[k]);
        }
        free(ids);
        free(sub);
        sf_buf_free(&img);
        free(at);
        free(order);
        sf_rows_free(&sorted);
        sf_rows_free(&r);
    }
    sf_rows_image_room_free(room);
    sf_buf b = SF_BUF_INIT;
    assert_int_equal(sf_rows_image_append(&b, &(sf_value){.type = SF_DOUBLE}, 0), SF_E_TYPE);
    sf_buf_free(&b);
}

/* qsort's order of raw images (byte order, a shorter one first where
 * one starts the other, equal ones by their number): the reference for
 * sf_rows_sort_images. */
static const unsigned char *raw_img;
static const uint64_t *raw_at;
static const uint32_t *raw_ids;

static int raw_image_cmp(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    size_t x = raw_ids ? raw_ids[i] : i, y = raw_ids ? raw_ids[j] : j;
    size_t nx = (size_t)(raw_at[x + 1] - raw_at[x]), ny = (size_t)(raw_at[y + 1] - raw_at[y]);
    int c = memcmp(raw_img + raw_at[x], raw_img + raw_at[y], nx < ny ? nx : ny);
    if (c)
        return c;
    if (nx != ny)
        return nx < ny ? -1 : 1;
    return (i > j) - (i < j);
}

/* Images made by gen(k, seed, out) (out: room for 64 bytes; returns the
 * length), sorted whole and through ids (every other image, backwards),
 * against qsort. */
static void check_image_sort(size_t n, size_t (*gen)(size_t, uint64_t *, unsigned char *),
                             sf_rows_image_room **room)
{
    sf_buf img = SF_BUF_INIT;
    uint64_t *at = malloc((n + 1) * sizeof *at), seed = 0x9e3779b97f4a7c15ull + n;
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    uint32_t *ref = malloc((n ? n : 1) * sizeof *ref);
    uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    assert_non_null(at);
    assert_non_null(order);
    assert_non_null(ref);
    assert_non_null(ids);
    at[0] = 0;
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(sf_buf_reserve(&img, 64), 0);
        img.n += gen(k, &seed, img.p + img.n);
        at[k + 1] = img.n;
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t m = pass ? n / 2 : n;
        for (size_t i = 0; i < m; i++) {
            ids[i] = (uint32_t)(n - 1 - 2 * i);
            ref[i] = (uint32_t)i;
        }
        raw_img = img.p;
        raw_at = at;
        raw_ids = pass ? ids : NULL;
        qsort(ref, m, sizeof *ref, raw_image_cmp);
        assert_int_equal(sf_rows_sort_images(img.p, at, pass ? ids : NULL, m, order, room), 0);
        for (size_t i = 0; i < m; i++)
            assert_int_equal(order[i], ref[i]);
    }
    sf_buf_free(&img);
    free(at);
    free(order);
    free(ref);
    free(ids);
}

static unsigned rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(*s >> 33);
}

/* Any bytes, 0 to 40 of them: more than 32 bits of ranks. */
static size_t gen_random(size_t k, uint64_t *s, unsigned char *out)
{
    (void)k;
    size_t n = rnd(s) % 41;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)rnd(s);
    return n;
}

/* S3's images: "user_0" and five digits, a country of two letters from
 * ten (the ranks fit 32 bits), every 7th repeating an earlier one. */
static size_t gen_user(size_t k, uint64_t *s, unsigned char *out)
{
    static const char cc[] = "USAUCAESFRJPINDEBRGB";
    unsigned u = rnd(s) % (k % 7 == 6 ? 50u : 100000u);
    int n = snprintf((char *)out, 64, "\001\005user_%06u", u);
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = 1;
    out[n++] = 5;
    out[n++] = (unsigned char)cc[2 * (u % 10)];
    out[n++] = (unsigned char)cc[2 * (u % 10) + 1];
    out[n++] = 0;
    out[n++] = 0;
    return (size_t)n;
}

/* A 30-byte common start, then a few bytes of few values and a tail:
 * images that are prefixes of others, ties, differences past the 32
 * bytes the sort packs and past the eight bytes it ranks. */
static size_t gen_tricky(size_t k, uint64_t *s, unsigned char *out)
{
    (void)k;
    memset(out, 'x', 30);
    size_t n = 30 + rnd(s) % 14;
    for (size_t i = 30; i < n; i++)
        out[i] = (unsigned char)(rnd(s) % 3);
    return n;
}

/* Four bytes of 256 values (exactly 32 bits of ranks), then one of two
 * (33: past what the ranks hold), by the image's number. */
static size_t gen_wide(size_t k, uint64_t *s, unsigned char *out)
{
    for (size_t i = 0; i < 4; i++)
        out[i] = (unsigned char)rnd(s);
    out[4] = (unsigned char)(k % 3 == 0 ? rnd(s) & 1 : 0);
    return 5;
}

/* Every image equal, or empty: the input order. */
static size_t gen_same(size_t k, uint64_t *s, unsigned char *out)
{
    (void)s;
    memcpy(out, "same", 4);
    return k % 2 ? 4 : 0;
}

static void test_image_sort_agrees_with_qsort(void **state)
{
    (void)state;
    sf_rows_image_room *room = NULL;
    /* Room for the largest sort made once (huge pages), then every sort
     * in it. */
    assert_int_equal(sf_rows_image_room_reserve(&room, 20000), 0);
    assert_non_null(room);
    size_t (*gens[])(size_t, uint64_t *, unsigned char *) = {gen_random, gen_user, gen_tricky,
                                                             gen_wide, gen_same};
    static const size_t sizes[] = {0, 1, 2, 31, 32, 33, 34, 65, 1000, 20000};
    for (size_t g = 0; g < sizeof gens / sizeof gens[0]; g++) {
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
            check_image_sort(sizes[z], gens[g], &room);
    }
    sf_rows_image_room_free(room);
}

static void test_cmp_is_the_order_sort_gives(void **state)
{
    (void)state;
    /* Rows sorted in two halves and merged by sf_rows_cmp come out in the
     * order sf_rows_sort gives the whole table (the external merge's
     * promise), equal rows included; 0.0 and -0.0 are told apart. */
    sf_rows all, half[2];
    sf_rows_init(&all, 3);
    sf_rows_init(&half[0], 3);
    sf_rows_init(&half[1], 3);
    uint64_t x = 99;
    for (size_t i = 0; i < 400; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned d = (unsigned)(x >> 33);
        static const char *strs[] = {"a", "b", "ab", ""};
        sf_value v[3] = {d % 5 == 0 ? sf_null() : sf_int((int64_t)(d % 4)),
                         sf_string(strs[(d >> 3) % 4], strlen(strs[(d >> 3) % 4])),
                         sf_double((d >> 6) & 1 ? -0.0 : 0.0)};
        set_row(&all, v);
        set_row(&half[i & 1], v);
    }
    const int keys[] = {1, 0};
    assert_int_equal(sf_rows_sort(&all, keys, 2), 0);
    assert_int_equal(sf_rows_sort(&half[0], keys, 2), 0);
    assert_int_equal(sf_rows_sort(&half[1], keys, 2), 0);
    size_t at[2] = {0, 0};
    for (size_t i = 0; i < all.n; i++) {
        int from;
        if (at[0] == half[0].n)
            from = 1;
        else if (at[1] == half[1].n)
            from = 0;
        else
            from = sf_rows_cmp(sf_rows_at(&half[1], at[1]), sf_rows_at(&half[0], at[0]), 3,
                               keys, 2) < 0;
        const sf_value *got = sf_rows_at(&half[from], at[from]++);
        const sf_value *want = sf_rows_at(&all, i);
        assert_int_equal(sf_rows_cmp(got, want, 3, keys, 2), 0);
        if (i > 0)
            assert_true(sf_rows_cmp(sf_rows_at(&all, i - 1), want, 3, keys, 2) <= 0);
    }
    sf_value neg[3] = {sf_int(1), sf_string("a", 1), sf_double(-0.0)};
    sf_value pos[3] = {sf_int(1), sf_string("a", 1), sf_double(0.0)};
    int c = sf_rows_cmp(neg, pos, 3, keys, 2);
    assert_true(c != 0);
    assert_true((c < 0) == (sf_rows_cmp(pos, neg, 3, keys, 2) > 0));
    assert_int_equal(sf_rows_cmp(neg, neg, 3, keys, 2), 0);
    sf_rows_free(&all);
    sf_rows_free(&half[0]);
    sf_rows_free(&half[1]);
}

/* n rows of 5 columns for the partition sorts, from seed: a date of 31,
 * a string of `strings` values printed by fmt (NULL 1 in 17), a double
 * with -0.0, an int or a double, an int of 3000 values (NULL 1 in 53).
 * text holds the strings. */
static void part_rows(sf_value *vals, char (*text)[24], size_t n, uint64_t seed,
                      unsigned strings, const char *fmt)
{
    enum { NC = 5 };
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned d = (unsigned)(x >> 33);
        sf_value *v = &vals[i * NC];
        v[0] = sf_date(19000 + (int32_t)(d % 31));
        int len = snprintf(text[i], sizeof text[i], fmt, (d >> 5) % strings);
        v[1] = (d >> 9) % 17 == 0 ? sf_null() : sf_string(text[i], (size_t)len);
        v[2] = (d >> 13) % 3 == 0 ? sf_double(-0.0) : sf_double((double)((d >> 15) % 4));
        /* An int and a double of one value would compare equal and keep
         * their input order, which the two sorts do not share. */
        v[3] = (d >> 17) % 5 == 0 ? sf_double(2.5) : sf_int((int64_t)((d >> 19) % 6));
        v[4] = i % 53 == 0 ? sf_null() : sf_int((int64_t)(i * 7 % 3000) - 1500);
    }
}

/* sf_rows_sort_parts, and the rows read through sf_rows_order_parts,
 * against sf_rows_sort_dir on the same rows: the same bytes, for partition columns of every kind it splits on (date, string
 * with NULLs, int with NULLs, two columns, descending ones) and of those it
 * sorts whole (doubles with 0.0 and -0.0, int mixed with double, more
 * partitions than it splits), and tables of 0 to 3 rows. */
static void test_sort_by_partition_gives_the_whole_sort_order(void **state)
{
    (void)state;
    enum { N = 30000, NC = 5 };
    static sf_value vals[N * NC];
    static char text[N][24];
    part_rows(vals, text, N, 424242, 9, "c%u");
    /* date; string with NULLs; two columns; double; int mixed with double;
     * int with NULLs over a short range; two columns with too many
     * partitions (3000 x 10). */
    const int keys[][4] = {{0, 1, 3, 2}, {1, 0, 2, 4}, {0, 1, 4, 2}, {2, 0, 1, 3},
                           {3, 0, 1, 2}, {4, 0, 1, 2}, {4, 1, 0, 2}};
    const size_t npart[] = {1, 1, 2, 1, 1, 1, 2};
    const unsigned char dirs[][4] = {{0, 1, 0, 0}, {1, 0, 1, 0}, {0, 1, 1, 0}, {0, 0, 0, 1},
                                     {0, 1, 0, 0}, {1, 0, 1, 0}, {0, 0, 1, 0}};
    for (size_t o = 0; o < 7; o++) {
        for (size_t n = 0; n <= N; n += n < 3 ? 1 : N - 3) {
            sf_rows a, b;
            sf_rows_init(&a, NC);
            sf_rows_init(&b, NC);
            for (size_t i = 0; i < n; i++) {
                set_row(&a, &vals[i * NC]);
                set_row(&b, &vals[i * NC]);
            }
            assert_int_equal(sf_rows_sort_dir(&a, keys[o], dirs[o], 4), 0);
            assert_int_equal(sf_rows_sort_parts(&b, keys[o], dirs[o], 4, npart[o]), 0);
            assert_same_tables(&a, &b);
            /* The order alone: the rows stay as they came, and read
             * through it they are the sorted table (fewer than 2 rows:
             * no order, the rows sorted themselves). */
            sf_rows c, d, e;
            sf_rows_init(&c, NC);
            sf_rows_init(&d, NC);
            sf_rows_init(&e, NC);
            for (size_t i = 0; i < n; i++) {
                set_row(&c, &vals[i * NC]);
                set_row(&e, &vals[i * NC]);
            }
            uint32_t *order = (uint32_t *)&order; /* must be overwritten */
            assert_int_equal(sf_rows_order_parts(&c, keys[o], dirs[o], 4, npart[o], &order), 0);
            assert_true((order == NULL) == (n < 2));
            for (size_t i = 0; i < n; i++)
                set_row(&d, sf_rows_at(&c, order ? order[i] : i));
            assert_same_tables(&a, &d);
            if (order)
                assert_same_tables(&c, &e);
            free(order);
            sf_rows_free(&a);
            sf_rows_free(&b);
            sf_rows_free(&c);
            sf_rows_free(&d);
            sf_rows_free(&e);
        }
    }
}

/* What a walk's callbacks saw: every visited row with its partition, in
 * visit order, and the rows emitted, in emitted order, into out. */
typedef struct walk_seen {
    const sf_value **row;
    size_t *part, n;
    size_t next_index; /* the partition index the next emit must have */
    const sf_value **mine; /* scratch: one partition's rows in visit order */
    sf_rows *out;
} walk_seen;

static int seen_visit(void *ctx, size_t part, const sf_value *row)
{
    walk_seen *w = ctx;
    assert_true(part >= w->next_index); /* never a partition already emitted */
    w->row[w->n] = row;
    w->part[w->n++] = part;
    return 0;
}

static int seen_emit(void *ctx, const sf_rows_part *p)
{
    walk_seen *w = ctx;
    assert_int_equal(p->index, w->next_index++);
    size_t m = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->part[i] == p->index)
            w->mine[m++] = w->row[i];
    }
    assert_int_equal(p->n, m);
    for (size_t k = 0; k < p->n; k++) {
        assert_true(p->order[k] < p->n);
        set_row(w->out, w->mine[p->order[k]]);
    }
    return 0;
}

/* Room for a walk of up to n rows, emitting into out. */
static void seen_init(walk_seen *w, size_t n, sf_rows *out)
{
    memset(w, 0, sizeof *w);
    w->row = malloc(n * sizeof *w->row);
    w->mine = malloc(n * sizeof *w->mine);
    w->part = malloc(n * sizeof *w->part);
    w->out = out;
    assert_true(w->row && w->mine && w->part);
}

static void seen_free(walk_seen *w)
{
    free(w->row);
    free(w->mine);
    free(w->part);
}

/* sf_rows_walk_parts against sf_rows_sort_dir on the rows of
 * test_sort_by_partition_gives_the_whole_sort_order: partitions emitted
 * in output order after their rows were visited, and the rows read
 * through each partition's order are the sorted table; partition columns
 * it does not split (doubles, int mixed with double, too many
 * partitions) leave it to the caller before any callback. */
static void test_walk_by_partition_gives_the_whole_sort_order(void **state)
{
    (void)state;
    enum { N = 30000, NC = 5 };
    static sf_value vals[N * NC];
    static char text[N][24];
    part_rows(vals, text, N, 515151, 5000, "user_%06u");
    const int keys[][4] = {{0, 1, 3, 2}, {1, 0, 2, 4}, {0, 1, 4, 2}, {2, 0, 1, 3},
                           {3, 0, 1, 2}, {4, 0, 1, 2}, {4, 1, 0, 2}, {1, 4, 0, 2}};
    const size_t npart[] = {1, 1, 2, 1, 1, 1, 2, 0};
    const int walked[] = {1, 0, 0, 0, 0, 1, 0, 1}; /* 1: 5000 strings, 2: 31 x 5000 */
    const unsigned char dirs[][4] = {{0, 1, 0, 0}, {1, 0, 1, 0}, {0, 1, 1, 0}, {0, 0, 0, 1},
                                     {0, 1, 0, 0}, {1, 0, 1, 0}, {0, 0, 1, 0}, {1, 0, 0, 0}};
    walk_seen w;
    seen_init(&w, N, NULL);
    for (size_t o = 0; o < 8; o++) {
        for (size_t n = 0; n <= N; n += n < 3 ? 1 : N - 3) {
            sf_rows a, c, d;
            sf_rows_init(&a, NC);
            sf_rows_init(&c, NC);
            sf_rows_init(&d, NC);
            for (size_t i = 0; i < n; i++) {
                set_row(&a, &vals[i * NC]);
                set_row(&c, &vals[i * NC]);
            }
            assert_int_equal(sf_rows_sort_dir(&a, keys[o], dirs[o], 4), 0);
            w.n = 0;
            w.next_index = 0;
            w.out = &d;
            sf_rows_walk cb = {NULL, seen_visit, seen_emit, &w};
            int rc = sf_rows_walk_parts(&c, keys[o], dirs[o], 4, npart[o], &cb);
            if (n == 0) {
                assert_int_equal(rc, 0);
            } else if (!walked[o] && n == N) {
                assert_int_equal(rc, SF_ROWS_NOT_WALKED);
                assert_int_equal(d.n, 0);
            } else if (rc == 0) {
                assert_same_tables(&a, &d);
            } else {
                /* A few rows may still be told apart (o 1 to 4: 3 rows). */
                assert_int_equal(rc, SF_ROWS_NOT_WALKED);
                assert_true(!walked[o]);
            }
            sf_rows_free(&a);
            sf_rows_free(&c);
            sf_rows_free(&d);
        }
    }
    seen_free(&w);
}

/* Partition values far from the first one (outside the walk's dense
 * window of 65,536 around it), NULLs among them, and a type change in
 * the partition column (the walk refuses it after its pass began). */
static void test_walk_with_partitions_far_apart_and_a_type_change(void **state)
{
    (void)state;
    enum { N = 600, NC = 2 };
    sf_rows a, c, d;
    sf_rows_init(&a, NC);
    sf_rows_init(&c, NC);
    sf_rows_init(&d, NC);
    const int64_t far[] = {7, 1000000, -1000000, 7 + 32767, 7 - 32768, 7 + 32768, INT64_MAX};
    for (size_t i = 0; i < N; i++) {
        sf_value v[NC] = {i % 11 == 3 ? sf_null() : sf_int(far[i % 7]),
                          sf_int((int64_t)((i * 37) % 101))};
        set_row(&a, v);
        set_row(&c, v);
    }
    const int keys[] = {0, 1};
    walk_seen w;
    seen_init(&w, N, &d);
    sf_rows_walk cb = {NULL, seen_visit, seen_emit, &w};
    assert_int_equal(sf_rows_sort_dir(&a, keys, NULL, 2), 0);
    assert_int_equal(sf_rows_walk_parts(&c, keys, NULL, 2, 1, &cb), 0);
    assert_same_tables(&a, &d);
    /* The last row's partition value turns into a date. */
    sf_rows_at(&c, N - 1)[0] = sf_date(7);
    w.n = w.next_index = 0;
    assert_int_equal(sf_rows_walk_parts(&c, keys, NULL, 2, 1, &cb), SF_ROWS_NOT_WALKED);
    assert_int_equal(w.n, 0);
    seen_free(&w);
    sf_rows_free(&a);
    sf_rows_free(&c);
    sf_rows_free(&d);
}

static void test_keep_strings_copies_a_rows_strings_in_one_piece(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 4);
    char a[] = "alpha", b[] = "";
    char c[] = "gamma\0x";
    sf_value *row = sf_rows_append(&r);
    assert_non_null(row);
    row[0] = sf_string(a, 5);
    row[1] = sf_int(7);
    row[2] = sf_string(b, 0);
    row[3] = sf_string(c, 7);
    assert_int_equal(sf_rows_keep_strings(&r, row), 0);
    memset(a, 'z', 5);
    memset(c, 'z', 7);
    assert_int_equal(row[0].u.s.n, 5);
    assert_memory_equal(row[0].u.s.p, "alpha", 5);
    assert_int_equal(row[1].u.i, 7);
    assert_int_equal(row[2].u.s.n, 0);
    assert_int_equal(row[3].u.s.n, 7);
    assert_memory_equal(row[3].u.s.p, "gamma\0x", 7);
    assert_ptr_equal(row[3].u.s.p, row[0].u.s.p + 5); /* one piece */
    /* A row whose strings are all empty keeps nothing of the source. */
    row = sf_rows_append(&r);
    row[0] = sf_string(a, 0);
    assert_int_equal(sf_rows_keep_strings(&r, row), 0);
    assert_true(row[0].u.s.p != a);
    assert_int_equal(row[0].u.s.n, 0);
    sf_rows_free(&r);
}

/* A record decodes into a row slot the caller picks (routing puts received
 * rows into room other rows left), with its strings in the table's arena. */
static void test_decode_record_fills_a_given_row_and_keeps_its_strings(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 3);
    sf_value v[3] = {sf_string("north", 5), sf_int(-4), sf_date(19500)};
    sf_value *row = sf_rows_append(&r);
    sf_rows_append(&r);
    unsigned char rec[64];
    size_t n = sf_rows_encode(v, 3, rec);
    assert_int_equal(sf_rows_decode_record(&r, sf_rows_at(&r, 1), rec, n), 0);
    memset(rec, 0, sizeof rec);
    const sf_value *got = sf_rows_at(&r, 1);
    assert_int_equal(got[0].type, SF_STRING);
    assert_int_equal(got[0].u.s.n, 5);
    assert_memory_equal(got[0].u.s.p, "north", 5);
    assert_int_equal(got[1].u.i, -4);
    assert_int_equal(got[2].u.date, 19500);
    assert_int_equal(row[0].type, SF_NULL); /* row 0 untouched */
    assert_int_equal(r.n, 2);
    n = sf_rows_encode(v, 3, rec);
    assert_int_equal(sf_rows_decode_record(&r, row, rec, n - 1), SF_E_PARSE);
    sf_rows_free(&r);
}

static void test_fit_gives_back_unused_room_and_keeps_rows(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, 2);
    assert_int_equal(sf_rows_reserve(&r, 1000), 0);
    for (int i = 0; i < 10; i++) {
        sf_value *row = sf_rows_append(&r);
        row[0] = sf_int(i);
        row[1] = sf_int(-i);
    }
    sf_rows_fit(&r);
    assert_int_equal(r.cap, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(sf_rows_at(&r, (size_t)i)[1].u.i, -i);
    assert_non_null(sf_rows_append(&r)); /* still grows: 11 rows of 20 */
    sf_rows_fit(&r);
    assert_int_equal(r.cap, 11);
    for (int i = 0; i < 4; i++)
        assert_non_null(sf_rows_append(&r));
    sf_rows_fit(&r);
    assert_int_equal(r.cap, 15);
    assert_int_equal(sf_rows_reserve(&r, 16), 0);
    sf_rows_fit(&r); /* one row of room in 16: less than an eighth, kept */
    assert_int_equal(r.cap, 16);
    assert_int_equal(r.n, 15);
    sf_rows_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_holds_exactly_and_keeps_rows),
        cmocka_unit_test(test_append_filled_nulls_only_the_rest),
        cmocka_unit_test(test_cmp_is_the_order_sort_gives),
        cmocka_unit_test(test_sorted_key_images_give_the_row_order),
        cmocka_unit_test(test_image_sort_agrees_with_qsort),
        cmocka_unit_test(test_large_sort_gives_the_reference_order),
        cmocka_unit_test(test_sort_agrees_with_value_order_on_prefix_edge_cases),
        cmocka_unit_test(test_append_gives_a_row_of_nulls),
        cmocka_unit_test(test_keep_string_copies_into_the_table),
        cmocka_unit_test(test_encode_and_append_record_round_trip_every_type),
        cmocka_unit_test(test_record_strings_are_kept_past_the_record),
        cmocka_unit_test(test_records_append_after_existing_rows),
        cmocka_unit_test(test_record_with_too_few_values_is_rejected),
        cmocka_unit_test(test_record_with_trailing_bytes_is_rejected),
        cmocka_unit_test(test_truncated_record_is_rejected_at_every_cut),
        cmocka_unit_test(test_sort_by_key_columns_then_the_rest),
        cmocka_unit_test(test_sort_orders_timestamps_including_extremes),
        cmocka_unit_test(test_sort_puts_nulls_first_in_key_columns),
        cmocka_unit_test(test_same_rows_in_two_orders_sort_identically),
        cmocka_unit_test(test_rows_differing_only_in_zero_sign_sort_identically),
        cmocka_unit_test(test_sort_of_empty_and_single_row_tables),
        cmocka_unit_test(test_descending_key_reverses_its_order_and_puts_nulls_last),
        cmocka_unit_test(test_mixed_directions_agree_with_the_row_comparison),
        cmocka_unit_test(test_sort_by_partition_gives_the_whole_sort_order),
        cmocka_unit_test(test_walk_by_partition_gives_the_whole_sort_order),
        cmocka_unit_test(test_walk_with_partitions_far_apart_and_a_type_change),
        cmocka_unit_test(test_keep_strings_copies_a_rows_strings_in_one_piece),
        cmocka_unit_test(test_decode_record_fills_a_given_row_and_keeps_its_strings),
        cmocka_unit_test(test_fit_gives_back_unused_room_and_keeps_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
