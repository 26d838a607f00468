/* test_join.c - the dimension join table of core/join.h: lookups by int and
 * string keys (short and longer than the inline key buffer), unique keys,
 * NULL keys refused, rows that own copies of their strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/join.h"

static void assert_string_value(const sf_value *v, const char *want, size_t n)
{
    assert_int_equal(v->type, SF_STRING);
    assert_int_equal(v->u.s.n, n);
    assert_memory_equal(v->u.s.p, want, n);
}

static void test_find_by_int_key_returns_the_whole_row(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(3, 0);
    assert_non_null(t);
    for (int64_t id = 1; id <= 100; id++) {
        char name[16];
        int n = snprintf(name, sizeof name, "item%lld", (long long)id);
        sf_value row[3] = {sf_int(id), sf_string(name, (size_t)n), sf_double((double)id / 4)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    assert_int_equal(sf_join_table_rows(t), 100);
    sf_value key = sf_int(42);
    const sf_value *r = sf_join_table_find(t, &key);
    assert_non_null(r);
    assert_int_equal(r[0].type, SF_INT);
    assert_int_equal(r[0].u.i, 42);
    assert_string_value(&r[1], "item42", 6);
    assert_int_equal(r[2].type, SF_DOUBLE);
    assert_true(r[2].u.d == 10.5);
    assert_int_equal(sf_join_table_key_id(t, r), 0); /* int keys have no id */
    key = sf_int(101);
    assert_null(sf_join_table_find(t, &key));
    key = sf_int(0);
    assert_null(sf_join_table_find(t, &key));
    sf_join_table_free(t);
}

static void test_int_key_does_not_match_equal_double_or_string(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(1, 0);
    sf_value row[1] = {sf_int(7)};
    assert_int_equal(sf_join_table_add(t, row), 0);
    sf_value d = sf_double(7.0), s = sf_string("7", 1), i = sf_int(7);
    assert_null(sf_join_table_find(t, &d));
    assert_null(sf_join_table_find(t, &s));
    assert_non_null(sf_join_table_find(t, &i));
    sf_join_table_free(t);
}

static void test_find_by_string_key_with_key_in_middle_column(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(2, 1);
    sf_value a[2] = {sf_string("France", 6), sf_string("FR", 2)};
    sf_value b[2] = {sf_string("Germany", 7), sf_string("DE", 2)};
    sf_value c[2] = {sf_string("empty key", 9), sf_string("", 0)};
    assert_int_equal(sf_join_table_add(t, a), 0);
    assert_int_equal(sf_join_table_add(t, b), 0);
    assert_int_equal(sf_join_table_add(t, c), 0);
    sf_value key = sf_string("DE", 2);
    const sf_value *r = sf_join_table_find(t, &key);
    assert_non_null(r);
    assert_string_value(&r[0], "Germany", 7);
    key = sf_string("", 0);
    r = sf_join_table_find(t, &key);
    assert_non_null(r);
    assert_string_value(&r[0], "empty key", 9);
    key = sf_string("D", 1);
    assert_null(sf_join_table_find(t, &key));
    key = sf_string("DEU", 3);
    assert_null(sf_join_table_find(t, &key));
    sf_join_table_free(t);
}

/* Many string keys through index growth: every one is found with its own
 * row, keys that differ in one byte, a NUL or the length are not confused,
 * and an int never matches a string key. */
static void test_many_string_keys_through_growth(void **state)
{
    (void)state;
    enum { N = 20000 };
    sf_join_table *t = sf_join_table_new(2, 0);
    char k[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof k, "user_%06d", i);
        sf_value row[2] = {sf_string(k, (size_t)n), sf_int(i)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    sf_value nul[2] = {sf_string("user_000001\0", 12), sf_int(-1)};
    assert_int_equal(sf_join_table_add(t, nul), 0);
    sf_value dup[2] = {sf_string("user_000007", 11), sf_int(-2)};
    assert_int_equal(sf_join_table_add(t, dup), SF_E_EXISTS);
    sf_value intkey[2] = {sf_int(5), sf_int(-3)};
    assert_int_equal(sf_join_table_add(t, intkey), SF_E_INVAL);
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof k, "user_%06d", i);
        sf_value key = sf_string(k, (size_t)n);
        const sf_value *r = sf_join_table_find(t, &key);
        assert_non_null(r);
        assert_int_equal(r[1].u.i, i);
        key = sf_string(k, (size_t)n - 1); /* every key has 6 digits */
        assert_null(sf_join_table_find(t, &key));
        k[n - 1] = (char)(k[n - 1] == '9' ? 'x' : k[n - 1] + 1);
        key = sf_string(k, (size_t)n);
        r = sf_join_table_find(t, &key);
        assert_true(r == NULL || r[1].u.i == i + 1);
    }
    sf_value key = sf_string("user_000001\0", 12);
    assert_int_equal(sf_join_table_find(t, &key)[1].u.i, -1);
    key = sf_string("user_000001", 11);
    assert_int_equal(sf_join_table_find(t, &key)[1].u.i, 1);
    key = sf_int(1);
    assert_null(sf_join_table_find(t, &key));
    assert_int_equal(sf_join_table_rows(t), N + 1);
    sf_join_table_free(t);
}

static void test_string_key_longer_than_64_bytes(void **state)
{
    (void)state;
    char k1[200], k2[200];
    memset(k1, 'k', sizeof k1);
    memcpy(k2, k1, sizeof k2);
    k2[199] = 'x'; /* differs only in the last byte */
    sf_join_table *t = sf_join_table_new(2, 0);
    sf_value r1[2] = {sf_string(k1, sizeof k1), sf_int(1)};
    sf_value r2[2] = {sf_string(k2, sizeof k2), sf_int(2)};
    assert_int_equal(sf_join_table_add(t, r1), 0);
    assert_int_equal(sf_join_table_add(t, r2), 0);
    assert_int_equal(sf_join_table_add(t, r1), SF_E_EXISTS);
    sf_value key = sf_string(k2, sizeof k2);
    const sf_value *r = sf_join_table_find(t, &key);
    assert_non_null(r);
    assert_int_equal(r[1].u.i, 2);
    assert_string_value(&r[0], k2, sizeof k2);
    key = sf_string(k1, sizeof k1);
    r = sf_join_table_find(t, &key);
    assert_non_null(r);
    assert_int_equal(r[1].u.i, 1);
    key = sf_string(k1, 70);
    assert_null(sf_join_table_find(t, &key));
    assert_int_equal(sf_join_table_rows(t), 2);
    sf_join_table_free(t);
}

static void test_duplicate_key_is_exists_and_keeps_first_row(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(2, 0);
    sf_value first[2] = {sf_int(5), sf_string("first", 5)};
    sf_value second[2] = {sf_int(5), sf_string("second", 6)};
    assert_int_equal(sf_join_table_add(t, first), 0);
    assert_int_equal(sf_join_table_add(t, second), SF_E_EXISTS);
    assert_int_equal(sf_join_table_rows(t), 1);
    sf_value key = sf_int(5);
    const sf_value *r = sf_join_table_find(t, &key);
    assert_non_null(r);
    assert_string_value(&r[1], "first", 5);
    sf_join_table_free(t);
}

static void test_null_key_is_invalid_and_not_added(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(2, 1);
    sf_value row[2] = {sf_string("orphan", 6), sf_null()};
    assert_int_equal(sf_join_table_add(t, row), SF_E_INVAL);
    assert_int_equal(sf_join_table_rows(t), 0);
    sf_value key = sf_null();
    assert_null(sf_join_table_find(t, &key));
    sf_join_table_free(t);
}

static void test_strings_are_copied_into_the_table(void **state)
{
    (void)state;
    char key[] = "user-1";
    char country[] = "FR";
    sf_join_table *t = sf_join_table_new(2, 0);
    sf_value row[2] = {sf_string(key, 6), sf_string(country, 2)};
    assert_int_equal(sf_join_table_add(t, row), 0);
    memcpy(key, "zzzzzz", 6);
    memcpy(country, "ZZ", 2);
    sf_value lookup = sf_string("user-1", 6);
    const sf_value *r = sf_join_table_find(t, &lookup);
    assert_non_null(r);
    assert_ptr_not_equal(r[0].u.s.p, key);
    assert_ptr_not_equal(r[1].u.s.p, country);
    assert_string_value(&r[0], "user-1", 6);
    assert_string_value(&r[1], "FR", 2);
    sf_value mutated = sf_string(key, 6);
    assert_null(sf_join_table_find(t, &mutated));
    sf_join_table_free(t);
}

static void test_null_and_other_columns_are_kept_as_given(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(4, 0);
    sf_value row[4] = {sf_int(1), sf_null(), sf_date(20301), sf_bool(1)};
    assert_int_equal(sf_join_table_add(t, row), 0);
    sf_value key = sf_int(1);
    const sf_value *r = sf_join_table_find(t, &key);
    assert_non_null(r);
    assert_int_equal(r[1].type, SF_NULL);
    assert_int_equal(r[2].type, SF_DATE);
    assert_int_equal(r[2].u.date, 20301);
    assert_int_equal(r[3].type, SF_BOOL);
    assert_int_equal(r[3].u.b, 1);
    sf_join_table_free(t);
}

/* Keys around the 16 bytes a slot holds: equal first 16 bytes, one byte
 * past them apart, lengths 15, 16 and 17, with the same hash slot traffic
 * as any; each finds its own row and a near miss finds none. */
static void test_keys_sharing_the_inline_bytes_find_their_own_rows(void **state)
{
    (void)state;
    static const char *const keys[] = {"0123456789abcde", "0123456789abcdef",
                                       "0123456789abcdefA", "0123456789abcdefB",
                                       "0123456789abcdeX", "0123456789abcdefAB"};
    enum { NK = sizeof keys / sizeof keys[0] };
    sf_join_table *t = sf_join_table_new(2, 0);
    assert_non_null(t);
    for (int i = 0; i < NK; i++) {
        sf_value row[2] = {sf_string(keys[i], strlen(keys[i])), sf_int(i)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    for (int i = 0; i < NK; i++) {
        sf_value k = sf_string(keys[i], strlen(keys[i]));
        const sf_value *r = sf_join_table_find(t, &k);
        assert_non_null(r);
        assert_int_equal(r[1].u.i, i);
    }
    static const char *const misses[] = {"0123456789abcdeY", "0123456789abcdefC",
                                         "0123456789abcd", "0123456789abcdefAC"};
    for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
        sf_value k = sf_string(misses[i], strlen(misses[i]));
        assert_null(sf_join_table_find(t, &k));
    }
    sf_join_table_free(t);
}

/* Rows with the same value in a string column share one copy of it (the
 * selected strings of a big table stay few and hot); the key is not
 * shared and every value still reads back as given. */
static void test_equal_non_key_strings_share_one_copy(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(2, 0);
    assert_non_null(t);
    char id[16], country[4];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "user_%06d", i);
        snprintf(country, sizeof country, "C%d", i % 7);
        sf_value row[2] = {sf_string(id, strlen(id)), sf_string(country, strlen(country))};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "user_%06d", i);
        snprintf(country, sizeof country, "C%d", i % 7);
        sf_value k = sf_string(id, strlen(id));
        const sf_value *r = sf_join_table_find(t, &k);
        assert_non_null(r);
        assert_string_value(&r[1], country, strlen(country));
        assert_ptr_equal(r[1].u.s.p, sf_join_table_row(t, (size_t)(i % 7))[1].u.s.p);
        assert_ptr_not_equal(r[0].u.s.p, id);
    }
    sf_join_table_free(t);
}

/* Short cells that agree in their padded bytes but not their length
 * ("ab", "ab\0", "", "\0") and many short cells that share cache places
 * each keep their own copy and id, however often they come back. */
static void test_short_cells_of_equal_bytes_keep_their_own_copies(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(2, 0);
    assert_non_null(t);
    static const char cells[4][3] = {"ab", "ab", "", ""};
    static const size_t lens[4] = {2, 3, 0, 1};
    char id[16], cell[16];
    for (int i = 0; i < 4000; i++) {
        snprintf(id, sizeof id, "user_%06d", i);
        size_t n = i < 2000 ? lens[i % 4]
                            : (size_t)snprintf(cell, sizeof cell, "c%d", (i - 2000) % 300);
        const char *c = i < 2000 ? cells[i % 4] : cell;
        sf_value row[2] = {sf_string(id, strlen(id)), sf_string(c, n)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    for (int i = 0; i < 4000; i++) {
        const sf_value *r = sf_join_table_row(t, (size_t)i);
        size_t first = i < 2000 ? (size_t)(i % 4) : (size_t)(2000 + (i - 2000) % 300);
        const sf_value *f = sf_join_table_row(t, first);
        assert_ptr_equal(r[1].u.s.p, f[1].u.s.p);
        assert_int_equal(sf_join_table_id(t, r, 1), sf_join_table_id(t, f, 1));
        if (i < 2000)
            assert_int_equal(r[1].u.s.n, lens[i % 4]);
        if (i < 4)
            assert_int_equal(sf_join_table_id(t, r, 1), (uint32_t)i + 1);
    }
    sf_join_table_free(t);
}

static void test_free_null_is_a_no_op(void **state)
{
    (void)state;
    sf_join_table_free(NULL);
}

/* A table told how many rows come makes its index and rows' room once, at
 * the size the doublings reach: its memory after the first row is its
 * memory after the last, and equals an untold table's at the end. Rows past
 * the hint still go in and are found, by string and by int keys. */
static void test_reserved_table_sizes_once_and_takes_more_rows(void **state)
{
    (void)state;
    enum { N = 30000 };
    for (int ints = 0; ints <= 1; ints++) {
        sf_join_table *told = sf_join_table_new(2, 0), *untold = sf_join_table_new(2, 0);
        sf_join_table_reserve(told, N);
        char k[32];
        size_t first = 0;
        for (int i = 0; i < N; i++) {
            int n = snprintf(k, sizeof k, "user_%06d", i);
            sf_value row[2] = {ints ? sf_int(7 * (int64_t)i) : sf_string(k, (size_t)n),
                               sf_int(i)};
            assert_int_equal(sf_join_table_add(told, row), 0);
            assert_int_equal(sf_join_table_add(untold, row), 0);
            if (i == 0)
                first = sf_join_table_memory(told);
        }
        /* The strings' arena grows with the rows either way; the int
         * index is the power of two the doublings reach, the string index
         * told its rows is sized nearer them (load about 0.6), so less. */
        size_t told_bytes = sf_join_table_memory(told), untold_bytes = sf_join_table_memory(untold);
        if (ints)
            assert_int_equal(untold_bytes, told_bytes);
        else
            assert_true(told_bytes < untold_bytes);
        /* Past the first row only the strings' copies grow (16 bytes a
         * row here, their arena's blocks doubling): no index or rows. */
        assert_true(sf_join_table_memory(told) <= first + (size_t)N * 32);
        sf_join_table_reserve(told, 4 * N); /* after the first row: ignored */
        for (int i = N; i < 2 * N; i++) {
            int n = snprintf(k, sizeof k, "user_%06d", i);
            sf_value row[2] = {ints ? sf_int(7 * (int64_t)i) : sf_string(k, (size_t)n),
                               sf_int(i)};
            assert_int_equal(sf_join_table_add(told, row), 0);
        }
        for (int i = 0; i < 2 * N; i++) {
            int n = snprintf(k, sizeof k, "user_%06d", i);
            sf_value key = ints ? sf_int(7 * (int64_t)i) : sf_string(k, (size_t)n);
            const sf_value *r = sf_join_table_find(told, &key);
            assert_non_null(r);
            assert_int_equal(r[1].u.i, i);
        }
        assert_int_equal(sf_join_table_rows(told), 2 * N);
        sf_join_table_free(told);
        sf_join_table_free(untold);
    }
}

static void test_memory_grows_with_rows_and_strings(void **state)
{
    (void)state;
    assert_int_equal(sf_join_table_memory(NULL), 0);
    sf_join_table *t = sf_join_table_new(2, 0);
    size_t empty = sf_join_table_memory(t);
    char k[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(k, sizeof k, "user_%06d", i);
        sf_value row[2] = {sf_string(k, (size_t)n), sf_int(i)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    /* At least the rows' values and the key bytes. */
    size_t full = sf_join_table_memory(t);
    assert_true(full >= empty + 5000 * (2 * sizeof(sf_value) + 11));
    sf_join_table_free(t);
}

/* Every string cell has a dense id: the key column its row number + 1,
 * the other columns their string's number + 1, shared by equal strings in
 * any column; NULLs and other types 0. Two tables built from the same rows
 * in the same order (two ranks loading a replicated table) agree. */
static void test_string_cells_get_dense_ids_that_agree_across_loads(void **state)
{
    (void)state;
    sf_join_table *t[2];
    for (int k = 0; k < 2; k++) {
        t[k] = sf_join_table_new(4, 1);
        assert_non_null(t[k]);
        const sf_value rows[][4] = {
            {sf_string("FR", 2), sf_string("user_000001", 11), sf_int(30), sf_string("m", 1)},
            {sf_string("DE", 2), sf_string("user_000002", 11), sf_int(41), sf_null()},
            {sf_string("FR", 2), sf_string("user_000003", 11), sf_null(), sf_string("FR", 2)},
            {sf_string("m", 1), sf_string("a_much_longer_user_key_0004", 27), sf_int(7),
             sf_string("DE", 2)}};
        for (size_t i = 0; i < 4; i++)
            assert_int_equal(sf_join_table_add(t[k], rows[i]), 0);
    }
    const sf_value *r[4];
    for (size_t i = 0; i < 4; i++) {
        r[i] = sf_join_table_row(t[0], i);
        assert_int_equal(sf_join_table_id(t[0], r[i], 1), i + 1); /* the key: row + 1 */
        assert_int_equal(sf_join_table_key_id(t[0], r[i]), i + 1);
        assert_int_equal(sf_join_table_id(t[0], r[i], 2), 0);     /* int64 or NULL */
        for (size_t c = 0; c < 4; c++)
            assert_int_equal(sf_join_value_id(&r[i][c]), sf_join_table_id(t[0], r[i], c));
    }
    uint32_t fr = sf_join_table_id(t[0], r[0], 0), de = sf_join_table_id(t[0], r[1], 0),
             m = sf_join_table_id(t[0], r[0], 3);
    assert_true(fr != 0 && de != 0 && m != 0);
    assert_true(fr != de && fr != m && de != m);
    assert_int_equal(sf_join_table_id(t[0], r[2], 0), fr);
    assert_int_equal(sf_join_table_id(t[0], r[2], 3), fr); /* equal strings, other column */
    assert_int_equal(sf_join_table_id(t[0], r[3], 3), de);
    assert_int_equal(sf_join_table_id(t[0], r[3], 0), m);
    assert_int_equal(sf_join_table_id(t[0], r[1], 3), 0); /* NULL */
    /* Found by key, the other load gives every cell the same id. */
    for (size_t i = 0; i < 4; i++) {
        const sf_value *o = sf_join_table_find(t[1], &r[i][1]);
        assert_non_null(o);
        for (size_t c = 0; c < 4; c++)
            assert_int_equal(sf_join_table_id(t[1], o, c), sf_join_table_id(t[0], r[i], c));
    }
    sf_join_table_free(t[0]);
    sf_join_table_free(t[1]);
}

/* Int keys dense enough take the direct-address array: every added key
 * is found with its own row, a key in a gap or beyond either end is not,
 * whatever the order the keys came in (below the first key, far above). */
static void test_dense_int_keys_with_gaps_and_negatives_find_their_rows(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(2, 1);
    assert_non_null(t);
    int64_t keys[] = {5, 3, -2, 7, 100, -40, 0, 2000, 1999, -1};
    size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < n; i++) {
        sf_value row[2] = {sf_int((int64_t)i * 10), sf_int(keys[i])};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    for (size_t i = 0; i < n; i++) {
        sf_value key = sf_int(keys[i]);
        uint32_t id = 99;
        const sf_value *r = sf_join_table_lookup(t, &key, &id);
        assert_non_null(r);
        assert_int_equal(r[1].u.i, keys[i]);
        assert_int_equal(r[0].u.i, (int64_t)i * 10);
        assert_int_equal(id, 0); /* int keys have no id */
        assert_ptr_equal(sf_join_table_find(t, &key), r);
    }
    int64_t absent[] = {4, 6, 1, -3, -41, -39, 101, 1998, 2001, 4000, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        sf_value key = sf_int(absent[i]);
        assert_null(sf_join_table_find(t, &key));
    }
    sf_value null = sf_null(), d = sf_double(5.0);
    assert_null(sf_join_table_find(t, &null));
    assert_null(sf_join_table_find(t, &d));
    sf_join_table_free(t);
}

/* Keys at the ends of int64 (a range no array can cover) and a dense run
 * beside them: the hashed index answers for all, before and after. */
static void test_sparse_int_keys_at_the_int64_ends_are_found(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(1, 0);
    int64_t ends[] = {INT64_MIN, INT64_MAX, 0, INT64_MIN + 1, INT64_MAX - 1};
    for (size_t i = 0; i < 5; i++) {
        sf_value row[1] = {sf_int(ends[i])};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    for (int64_t k = 1; k <= 3000; k++) {
        sf_value row[1] = {sf_int(k)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    for (size_t i = 0; i < 5; i++) {
        sf_value key = sf_int(ends[i]);
        const sf_value *r = sf_join_table_find(t, &key);
        assert_non_null(r);
        assert_int_equal(r[0].u.i, ends[i]);
    }
    for (int64_t k = -5; k <= 3005; k++) {
        sf_value key = sf_int(k);
        const sf_value *r = sf_join_table_find(t, &key);
        if (k >= 0 && k <= 3000) {
            assert_non_null(r);
            assert_int_equal(r[0].u.i, k);
        } else {
            assert_null(r);
        }
    }
    sf_join_table_free(t);
}

/* A duplicate int key is refused as before, whether the key lies in the
 * direct-address array or not, and the first row stays the one found;
 * a NULL key is refused and leaves no trace. */
static void test_duplicate_dense_int_key_is_refused_and_keeps_first_row(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(2, 0);
    for (int64_t k = 0; k < 1000; k++) {
        sf_value row[2] = {sf_int(k), sf_int(k + 1)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    sf_value dup[2] = {sf_int(500), sf_int(-1)};
    assert_int_equal(sf_join_table_add(t, dup), SF_E_EXISTS);
    sf_value nul[2] = {sf_null(), sf_int(-1)};
    assert_int_equal(sf_join_table_add(t, nul), SF_E_INVAL);
    assert_int_equal(sf_join_table_rows(t), 1000);
    sf_value key = sf_int(500);
    const sf_value *r = sf_join_table_find(t, &key);
    assert_non_null(r);
    assert_int_equal(r[1].u.i, 501);
    /* Growth past the array's room (ids that keep growing) keeps every row. */
    for (int64_t k = 1000; k < 20000; k++) {
        sf_value row[2] = {sf_int(k), sf_int(k + 1)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    for (int64_t k = 0; k < 20000; k += 7) {
        key = sf_int(k);
        r = sf_join_table_find(t, &key);
        assert_non_null(r);
        assert_int_equal(r[1].u.i, k + 1);
    }
    key = sf_int(20000);
    assert_null(sf_join_table_find(t, &key));
    sf_join_table_free(t);
}

/* sf_join_table_lookup gives a string key's id as sf_join_table_key_id
 * does, and 0 with no match. */
static void test_lookup_gives_the_string_key_id(void **state)
{
    (void)state;
    sf_join_table *t = sf_join_table_new(2, 0);
    const char *names[] = {"user_000001", "user_000002", "u3"};
    for (size_t i = 0; i < 3; i++) {
        sf_value row[2] = {sf_string(names[i], strlen(names[i])), sf_int((int64_t)i)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    for (size_t i = 0; i < 3; i++) {
        sf_value key = sf_string(names[i], strlen(names[i]));
        uint32_t id = 0;
        const sf_value *r = sf_join_table_lookup(t, &key, &id);
        assert_non_null(r);
        assert_int_equal(id, i + 1);
        assert_int_equal(id, sf_join_table_key_id(t, r));
    }
    sf_value key = sf_string("user_000003", 11);
    uint32_t id = 7;
    assert_null(sf_join_table_lookup(t, &key, &id));
    assert_int_equal(id, 0);
    sf_join_table_free(t);
}

/* A key's slot holds it whole up to 12 bytes unless it ends in NUL, and
 * its hash otherwise: keys of 0 to 20 bytes, each also with a NUL byte
 * after it and with its last byte changed (so "ab" and "ab\0" and "ab\0\0"
 * are all held), each find their own row and id, also after the index was
 * rebuilt larger from its slots alone (no size told); a key not held is
 * not found, and a held key added again is SF_E_EXISTS. */
static void test_keys_ending_in_nul_and_of_every_length_are_told_apart(void **state)
{
    (void)state;
    char k[64];
    memset(k, 'q', sizeof k);
    sf_join_table *t = sf_join_table_new(2, 0);
    assert_non_null(t);
    int rows = 0;
    for (int round = 0; round < 3; round++) {
        for (int n = 0; n <= 20; n++) {
            for (int form = 0; form < 3; form++) {
                size_t len = (size_t)n + (form == 1);
                memset(k, 'q', sizeof k);
                if (form == 1)
                    k[n] = '\0';
                if (form == 2 && n)
                    k[n - 1] = (char)('a' + round);
                if (form == 2 && !n)
                    continue; /* the empty key has no last byte */
                if (round && form != 2)
                    continue; /* once only */
                k[len] = 'z'; /* a byte past the key that must not count */
                sf_value row[2] = {sf_string(k, len), sf_int(rows)};
                assert_int_equal(sf_join_table_add(t, row), 0);
                rows++;
            }
        }
    }
    /* More keys so the index rebuilds from 64 slots a few times over. */
    for (int i = 0; i < 500; i++) {
        int n = snprintf(k, sizeof k, i % 2 ? "%d" : "a-much-longer-key-%d", i);
        sf_value row[2] = {sf_string(k, (size_t)n), sf_int(rows)};
        assert_int_equal(sf_join_table_add(t, row), 0);
        rows++;
    }
    assert_int_equal(sf_join_table_rows(t), (size_t)rows);
    for (int i = 0; i < rows; i++) {
        const sf_value *r = sf_join_table_row(t, (size_t)i);
        char copy[64];
        memcpy(copy, r[0].u.s.p, r[0].u.s.n);
        copy[r[0].u.s.n] = 'z';
        sf_value key = sf_string(copy, r[0].u.s.n);
        uint32_t id = 0;
        assert_ptr_equal(sf_join_table_lookup(t, &key, &id), r);
        assert_int_equal(id, (uint32_t)i + 1);
        assert_int_equal(sf_join_table_add(t, r), SF_E_EXISTS);
        /* one more NUL, and one byte changed: not held */
        if (r[0].u.s.n + 1 < sizeof copy) {
            copy[r[0].u.s.n] = '\0';
            key = sf_string(copy, r[0].u.s.n + 1);
            const sf_value *other = sf_join_table_lookup(t, &key, &id);
            assert_true(other == NULL || other[0].u.s.n == r[0].u.s.n + 1);
        }
        if (r[0].u.s.n) {
            copy[0] = '#';
            key = sf_string(copy, r[0].u.s.n);
            id = 7;
            assert_null(sf_join_table_lookup(t, &key, &id));
            assert_int_equal(id, 0);
        }
    }
    sf_join_table_free(t);
}

/* Keys of 8 to 16 bytes are found by their first and last 8 bytes and
 * their length: keys of every length from 7 to 17 over the same bytes,
 * whose words overlap (the 8-byte key is the 16-byte key's both halves),
 * each find their own row and id; keys that share one word or the length
 * with a key held are not found. */
static void test_short_string_keys_by_their_words(void **state)
{
    (void)state;
    static const char bytes[] = "abcdefghabcdefghab";
    sf_join_table *t = sf_join_table_new(2, 0);
    assert_non_null(t);
    for (int n = 7; n <= 17; n++) {
        sf_value row[2] = {sf_string(bytes, (size_t)n), sf_int(n)};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    for (int n = 7; n <= 17; n++) {
        sf_value key = sf_string(bytes, (size_t)n);
        uint32_t id = 0;
        const sf_value *row = sf_join_table_lookup(t, &key, &id);
        assert_non_null(row);
        assert_int_equal(row[1].u.i, n);
        assert_int_equal(id, (uint32_t)(n - 7 + 1));
    }
    const char *absent[] = {"abcdefgXabcdefgh", "Xbcdefghabcdefgh", "abcdefghabcXefgh",
                            "abcdefgX", "bcdefgha", "abcdefghabcdefgX"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
        size_t n = strlen(absent[i]);
        sf_value key = sf_string(absent[i], n);
        uint32_t id = 7;
        assert_null(sf_join_table_lookup(t, &key, &id));
        assert_int_equal(id, 0);
    }
    sf_join_table_free(t);
}

/* sf_join_cells answers as sf_join_table_lookup() and sf_join_value_id()
 * would, for every key: held keys of 7 to 17 bytes over the same bytes
 * (those of 8 to 16 in the index, the others through the table), absent
 * keys that share a word or the length with a held one, a key of
 * another type, and a row added after the index was made. A column of
 * NULLs and ints beside strings: the cell is copied as the table holds
 * it, its id 0. */
static void test_cells_answer_as_the_table(void **state)
{
    (void)state;
    static const char bytes[] = "abcdefghabcdefghab";
    sf_join_table *t = sf_join_table_new(3, 0);
    assert_non_null(t);
    const char *cats[] = {"sports", "books", "toys"};
    for (int n = 7; n <= 17; n++) {
        sf_value row[3] = {sf_string(bytes, (size_t)n), sf_string(cats[n % 3], strlen(cats[n % 3])),
                           n % 4 ? sf_int(n) : sf_null()};
        assert_int_equal(sf_join_table_add(t, row), 0);
    }
    sf_join_cells *c1 = sf_join_cells_new(t, 1), *c2 = sf_join_cells_new(t, 2);
    assert_non_null(c1);
    assert_non_null(c2);
    assert_null(sf_join_cells_new(t, 3));
    const char *absent[] = {"abcdefgXabcdefgh", "Xbcdefghabcdefgh", "abcdefghabcXefgh",
                            "abcdefgX", "bcdefgha", "abcdefghabcdefgX", "abc"};
    for (int pass = 0; pass < 2; pass++) {
        for (int n = 7; n <= 17 + pass; n++) {
            const char *kb = n == 18 ? "zyxwvutsrq" : bytes;
            sf_value key = sf_string(kb, n == 18 ? 10 : (size_t)n);
            uint32_t want_id = 0;
            const sf_value *row = sf_join_table_lookup(t, &key, &want_id);
            assert_non_null(row);
            sf_value cell = sf_null();
            uint32_t kid = 99, cid = 99;
            assert_int_equal(sf_join_cells_lookup(c1, &key, &cell, &kid, &cid), 1);
            assert_int_equal(kid, want_id);
            assert_ptr_equal(cell.u.s.p, row[1].u.s.p);
            assert_int_equal(cell.u.s.n, row[1].u.s.n);
            assert_int_equal(cid, sf_join_value_id(&row[1]));
            assert_true(cid != 0);
            assert_int_equal(sf_join_cells_lookup(c2, &key, &cell, &kid, &cid), 1);
            assert_int_equal(kid, want_id);
            assert_int_equal(cell.type, row[2].type);
            if (row[2].type == SF_INT)
                assert_int_equal(cell.u.i, row[2].u.i);
            assert_int_equal(cid, 0);
        }
        for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
            sf_value key = sf_string(absent[i], strlen(absent[i]));
            sf_value cell = sf_int(5);
            uint32_t kid = 7, cid = 7;
            assert_int_equal(sf_join_cells_lookup(c1, &key, &cell, &kid, &cid), 0);
            assert_int_equal(kid, 0);
            assert_int_equal(cid, 0);
            assert_int_equal(cell.type, SF_INT); /* untouched */
        }
        sf_value ikey = sf_int(8);
        sf_value cell = sf_null();
        uint32_t kid = 7, cid = 7;
        assert_int_equal(sf_join_cells_lookup(c1, &ikey, &cell, &kid, &cid), 0);
        assert_int_equal(kid, 0);
        assert_int_equal(cid, 0);
        if (pass == 0) { /* a row after the index: found through the table */
            sf_value row[3] = {sf_string("zyxwvutsrq", 10), sf_string("games", 5), sf_int(1)};
            assert_int_equal(sf_join_table_add(t, row), 0);
        }
    }
    /* The key is read before the cell is written over it. */
    sf_value slot = sf_string(bytes, 11);
    uint32_t kid = 0, cid = 0;
    assert_int_equal(sf_join_cells_lookup(c1, &slot, &slot, &kid, &cid), 1);
    assert_string_value(&slot, cats[11 % 3], strlen(cats[11 % 3]));
    sf_join_cells_free(c1);
    sf_join_cells_free(c2);
    sf_join_cells_free(NULL);
    sf_join_table_free(t);
}

/* No index for int keys, for an empty table, or past SF_JOIN_CELLS_MAX
 * rows; up to it, every key is found through the index. */
static void test_cells_only_for_small_string_keyed_tables(void **state)
{
    (void)state;
    sf_join_table *ti = sf_join_table_new(2, 0), *ts = sf_join_table_new(2, 0);
    assert_non_null(ti);
    assert_non_null(ts);
    assert_null(sf_join_cells_new(ts, 1));
    assert_int_equal(sf_join_cells_memory(ts), 0);
    sf_value irow[2] = {sf_int(1), sf_string("x", 1)};
    assert_int_equal(sf_join_table_add(ti, irow), 0);
    assert_null(sf_join_cells_new(ti, 1));
    assert_int_equal(sf_join_cells_memory(ti), 0);
    char k[16];
    for (int i = 0; i <= SF_JOIN_CELLS_MAX; i++) {
        if (i == 1) /* an index of 64 words (4 bytes) and one 64-byte entry */
            assert_in_range(sf_join_cells_memory(ts), 64 * 4 + 64, 64 * 4 + 64 + 256);
        if (i == SF_JOIN_CELLS_MAX) {
            /* 16,384 index words and 8,192 entries: what a budget counts */
            assert_in_range(sf_join_cells_memory(ts), 16384 * 4 + 8192 * 64,
                            16384 * 4 + 8192 * 64 + 256);
            sf_join_cells *c = sf_join_cells_new(ts, 1);
            assert_non_null(c);
            for (int j = 0; j < SF_JOIN_CELLS_MAX; j++) {
                snprintf(k, sizeof k, "user_%06d", j);
                sf_value key = sf_string(k, strlen(k)), cell = sf_null();
                uint32_t kid = 0, cid = 0;
                assert_int_equal(sf_join_cells_lookup(c, &key, &cell, &kid, &cid), 1);
                assert_int_equal(kid, (uint32_t)j + 1);
                assert_int_equal(cell.u.i, j);
            }
            sf_join_cells_free(c);
        }
        snprintf(k, sizeof k, "user_%06d", i);
        sf_value row[2] = {sf_string(k, strlen(k)), sf_int(i)};
        assert_int_equal(sf_join_table_add(ts, row), 0);
    }
    assert_null(sf_join_cells_new(ts, 1));
    assert_int_equal(sf_join_cells_memory(ts), 0); /* one row too many */
    sf_join_table_free(ti);
    sf_join_table_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_by_int_key_returns_the_whole_row),
        cmocka_unit_test(test_string_cells_get_dense_ids_that_agree_across_loads),
        cmocka_unit_test(test_int_key_does_not_match_equal_double_or_string),
        cmocka_unit_test(test_find_by_string_key_with_key_in_middle_column),
        cmocka_unit_test(test_many_string_keys_through_growth),
        cmocka_unit_test(test_short_string_keys_by_their_words),
        cmocka_unit_test(test_keys_ending_in_nul_and_of_every_length_are_told_apart),
        cmocka_unit_test(test_memory_grows_with_rows_and_strings),
        cmocka_unit_test(test_reserved_table_sizes_once_and_takes_more_rows),
        cmocka_unit_test(test_string_key_longer_than_64_bytes),
        cmocka_unit_test(test_duplicate_key_is_exists_and_keeps_first_row),
        cmocka_unit_test(test_null_key_is_invalid_and_not_added),
        cmocka_unit_test(test_strings_are_copied_into_the_table),
        cmocka_unit_test(test_null_and_other_columns_are_kept_as_given),
        cmocka_unit_test(test_keys_sharing_the_inline_bytes_find_their_own_rows),
        cmocka_unit_test(test_equal_non_key_strings_share_one_copy),
        cmocka_unit_test(test_free_null_is_a_no_op),
        cmocka_unit_test(test_short_cells_of_equal_bytes_keep_their_own_copies),
        cmocka_unit_test(test_dense_int_keys_with_gaps_and_negatives_find_their_rows),
        cmocka_unit_test(test_sparse_int_keys_at_the_int64_ends_are_found),
        cmocka_unit_test(test_duplicate_dense_int_key_is_refused_and_keeps_first_row),
        cmocka_unit_test(test_lookup_gives_the_string_key_id),
        cmocka_unit_test(test_cells_answer_as_the_table),
        cmocka_unit_test(test_cells_only_for_small_string_keyed_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
