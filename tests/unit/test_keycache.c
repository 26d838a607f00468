/* test_keycache.c - fixed-width group keys of core/keycache.h: a tuple
 * found again after it was added, tuples that differ only by a value's
 * type or by NULL stay apart, values without a fixed form have no tuple,
 * the cache keeps its tuples as it grows, refuses more than its limit and
 * forgets everything on clear; keys of small ranges (the direct array)
 * answer the same as the others while their ranges grow, and after, and
 * so does their lookup prepared for a row's place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/keycache.h"

static const int slots[3] = {2, 0, 1};

/* Finds the tuple of row (ids per slot); returns what find returns. */
static int find(const sf_keycache *c, const sf_value *row, const uint32_t *ids, uint64_t *w,
                uint64_t *h, uint64_t *group)
{
    return sf_keycache_find(c, row, ids, slots, 3, w, h, group);
}

static void test_added_tuples_are_found_with_their_group(void **state)
{
    (void)state;
    sf_keycache *c = sf_keycache_new(4, 1000);
    assert_non_null(c);
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h;
    uint64_t group = 0;
    /* Enough tuples to grow the table several times. */
    for (uint32_t i = 0; i < 600; i++) {
        sf_value row[3] = {sf_string("x", 1), sf_int(i % 7), sf_date((int32_t)(i / 7))};
        uint32_t ids[3] = {i + 1, 0, 0};
        assert_int_equal(find(c, row, ids, w, &h, &group), 0);
        assert_int_equal(sf_keycache_add(c, w, h, 1000 + i), 0);
    }
    assert_int_equal(sf_keycache_count(c), 600);
    for (uint32_t i = 0; i < 600; i++) {
        sf_value row[3] = {sf_string("other bytes", 11), sf_int(i % 7), sf_date((int32_t)(i / 7))};
        uint32_t ids[3] = {i + 1, 0, 0}; /* the id stands for the string */
        assert_int_equal(find(c, row, ids, w, &h, &group), 1);
        assert_int_equal(group, 1000 + i);
    }
    assert_true(sf_keycache_memory(c) > 600 * 5 * sizeof(uint64_t));
    sf_keycache_free(c);
}

static void test_type_and_null_keep_tuples_apart(void **state)
{
    (void)state;
    sf_keycache *c = sf_keycache_new(4, 100);
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h;
    uint64_t group;
    const sf_value rows[][3] = {
        {sf_null(), sf_int(0), sf_date(0)},      {sf_null(), sf_bool(0), sf_date(0)},
        {sf_null(), sf_null(), sf_date(0)},      {sf_null(), sf_timestamp(0), sf_date(0)},
        {sf_null(), sf_double(0.0), sf_date(0)}, {sf_null(), sf_double(-0.0), sf_date(0)},
        {sf_null(), sf_int(0), sf_null()},       {sf_null(), sf_int(0), sf_int(0)}};
    size_t n = sizeof rows / sizeof rows[0];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(find(c, rows[i], NULL, w, &h, &group), 0);
        assert_int_equal(sf_keycache_add(c, w, h, (uint32_t)i), 0);
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(find(c, rows[i], NULL, w, &h, &group), 1);
        assert_int_equal(group, i);
    }
    sf_keycache_free(c);
}

static void test_values_without_a_fixed_form_have_no_tuple(void **state)
{
    (void)state;
    sf_keycache *c = sf_keycache_new(4, 100);
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h;
    uint64_t group;
    uint32_t no_ids[3] = {0, 0, 0};
    sf_value str[3] = {sf_int(1), sf_int(2), sf_string("FR", 2)};
    assert_int_equal(find(c, str, no_ids, w, &h, &group), -1); /* a string without an id */
    sf_value dec[3] = {sf_int(1), sf_int(2), sf_decimal(12345, 2)};
    assert_int_equal(find(c, dec, no_ids, w, &h, &group), -1);
    sf_keycache_free(c);
}

static void test_limit_refuses_more_tuples_and_clear_forgets(void **state)
{
    (void)state;
    sf_keycache *c = sf_keycache_new(4, 3);
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h;
    uint64_t group;
    for (int i = 0; i < 4; i++) {
        sf_value row[3] = {sf_int(i), sf_int(i), sf_int(i)};
        assert_int_equal(find(c, row, NULL, w, &h, &group), 0);
        assert_int_equal(sf_keycache_add(c, w, h, (uint32_t)i), i < 3 ? 0 : SF_E_LIMIT);
    }
    sf_value row3[3] = {sf_int(3), sf_int(3), sf_int(3)}, row0[3] = {sf_int(0), sf_int(0),
                                                                     sf_int(0)};
    assert_int_equal(find(c, row3, NULL, w, &h, &group), 0); /* refused, so not there */
    assert_int_equal(find(c, row0, NULL, w, &h, &group), 1);
    sf_keycache_clear(c);
    assert_int_equal(sf_keycache_count(c), 0);
    assert_int_equal(find(c, row0, NULL, w, &h, &group), 0);
    sf_keycache_free(c);
}

static void test_wide_keys_and_bad_sizes(void **state)
{
    (void)state;
    assert_null(sf_keycache_new(1, 10));
    assert_null(sf_keycache_new(SF_KEYCACHE_MAX_COLS + 2, 10));
    sf_keycache *c = sf_keycache_new(SF_KEYCACHE_MAX_COLS + 1, 10);
    assert_non_null(c);
    int wide[SF_KEYCACHE_MAX_COLS];
    sf_value row[SF_KEYCACHE_MAX_COLS];
    for (int i = 0; i < SF_KEYCACHE_MAX_COLS; i++) {
        wide[i] = i;
        row[i] = sf_int(i);
    }
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h;
    uint64_t group;
    assert_int_equal(sf_keycache_find(c, row, NULL, wide, SF_KEYCACHE_MAX_COLS, w, &h, &group), 0);
    assert_int_equal(sf_keycache_add(c, w, h, 7), 0);
    row[SF_KEYCACHE_MAX_COLS - 1] = sf_int(99);
    assert_int_equal(sf_keycache_find(c, row, NULL, wide, SF_KEYCACHE_MAX_COLS, w, &h, &group), 0);
    row[SF_KEYCACHE_MAX_COLS - 1] = sf_int(SF_KEYCACHE_MAX_COLS - 1);
    assert_int_equal(sf_keycache_find(c, row, NULL, wide, SF_KEYCACHE_MAX_COLS, w, &h, &group), 1);
    assert_int_equal(group, 7);
    sf_keycache_free(c);
    sf_keycache_free(NULL);
}

/* Finds (date, int, id) and checks the answer: the group when known. */
static void expect(const sf_keycache *c, int32_t day, int64_t x, uint32_t id, int known,
                   uint64_t want)
{
    sf_value row[3] = {sf_string("s", 1), sf_int(x), sf_date(day)};
    uint32_t ids[4] = {id, 0, 0, 0};
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h, group = 0;
    assert_int_equal(find(c, row, ids, w, &h, &group), known);
    if (known)
        assert_int_equal(group, want);
}

static void test_small_ranges_grow_then_give_up(void **state)
{
    (void)state;
    sf_keycache *c = sf_keycache_new(4, 100000);
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h, group;
    size_t bare = sf_keycache_memory(c);
    /* Days that come in order, negative ints, ids: a daily KPI's key. */
    uint64_t next = 0;
    for (int32_t day = 19000; day < 19040; day++)
        for (int64_t x = -3; x < 5; x++)
            for (uint32_t id = 1; id <= 9; id += 2) {
                expect(c, day, x, id, 0, 0);
                sf_value row[3] = {sf_string("s", 1), sf_int(x), sf_date(day)};
                uint32_t ids[4] = {id, 0, 0, 0};
                assert_int_equal(find(c, row, ids, w, &h, &group), 0);
                assert_int_equal(sf_keycache_add(c, w, h, next++), 0);
                expect(c, day, x, id, 1, next - 1);
            }
    /* A NULL in the middle column: other tags, the table only. */
    sf_value nrow[3] = {sf_string("s", 1), sf_null(), sf_date(19001)};
    uint32_t nids[3] = {3, 0, 0};
    assert_int_equal(find(c, nrow, nids, w, &h, &group), 0);
    assert_int_equal(sf_keycache_add(c, w, h, 5555), 0);
    assert_int_equal(find(c, nrow, nids, w, &h, &group), 1);
    assert_int_equal(group, 5555);
    assert_true(sf_keycache_memory(c) > bare + 40 * 8 * 5 * 5 * sizeof(uint64_t));
    /* In the spans but never added; an earlier day, then a far one. */
    expect(c, 19010, 0, 2, 0, 0);
    expect(c, 19039, 4, 8, 0, 0);
    expect(c, 18990, 0, 1, 0, 0);
    next = 0;
    for (int32_t day = 19000; day < 19040; day++)
        for (int64_t x = -3; x < 5; x++)
            for (uint32_t id = 1; id <= 9; id += 2)
                expect(c, day, x, id, 1, next++);
    sf_value far[3] = {sf_string("s", 1), sf_int((int64_t)1 << 40), sf_date(19000)};
    uint32_t fids[3] = {1, 0, 0};
    assert_int_equal(find(c, far, fids, w, &h, &group), 0);
    assert_int_equal(sf_keycache_add(c, w, h, 7777), 0);
    assert_int_equal(find(c, far, fids, w, &h, &group), 1);
    assert_int_equal(group, 7777);
    expect(c, 19039, 4, 9, 1, next - 1);
    expect(c, 19000, -3, 1, 1, 0);
    /* Cleared: nothing found, and new tuples elsewhere are. */
    sf_keycache_clear(c);
    expect(c, 19000, -3, 1, 0, 0);
    sf_value row[3] = {sf_string("s", 1), sf_int(-50), sf_date(-7)};
    uint32_t ids[3] = {400, 0, 0};
    assert_int_equal(find(c, row, ids, w, &h, &group), 0);
    assert_int_equal(sf_keycache_add(c, w, h, 9), 0);
    expect(c, -7, -50, 400, 1, 9);
    expect(c, -7, -50, 401, 0, 0);
    sf_keycache_free(c);
}

/* The 512 tuples (day 20000..20007, int 5..8, id 1..16) in that order:
 * added as groups 0.. (add), or each found with its group. */
static void day_int_id_tuples(sf_keycache *c, int add)
{
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h, group = 0, next = 0;
    for (int32_t day = 20000; day < 20008; day++)
        for (int64_t x = 5; x < 9; x++)
            for (uint32_t id = 1; id <= 16; id++) {
                sf_value row[3] = {sf_string("s", 1), sf_int(x), sf_date(day)};
                uint32_t ids[4] = {id, 0, 0, 0};
                assert_int_equal(find(c, row, ids, w, &h, &group), !add);
                if (add)
                    assert_int_equal(sf_keycache_add(c, w, h, next++), 0);
                else
                    assert_int_equal(group, next++);
            }
}

/* Once the direct array answers, a row is found by its values read as
 * the array's tags say: a string by its id (0: no tuple, even where a cell
 * would be), an int by its bits, a date by its day; a value of another
 * type with the same bits, or no ids, is not that tuple. */
/* sf_keycache_find_direct, checked against the lookup prepared for row
 * and ids (sf_keycache_direct_prepare): both say the same. */
static int find_direct_both(const sf_keycache *c, const sf_value *row, const uint32_t *ids,
                            uint64_t *group)
{
    uint64_t g = 0;
    int found = sf_keycache_find_direct(c, row, ids, slots, 3, group);
    sf_keycache_direct d;
    int prepared = sf_keycache_direct_prepare(c, row, ids, slots, 3, &d);
    assert_int_equal(prepared && sf_keycache_direct_find(&d, &g), found);
    if (found)
        assert_int_equal(g, *group);
    return found;
}

static void test_direct_array_reads_values_by_their_tags(void **state)
{
    (void)state;
    sf_keycache *c = sf_keycache_new(4, 100000);
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h, group = 0;
    size_t bare = sf_keycache_memory(c); /* its struct and 64 slots of 5 words */
    day_int_id_tuples(c, 1);
    /* 512 tuples: 1,024 slots, and the array's 8 x 4 x 16 cells. */
    assert_true(sf_keycache_memory(c) >=
                bare + (1024 - 64) * 5 * sizeof(uint64_t) + 512 * sizeof(uint64_t));
    day_int_id_tuples(c, 0);
    sf_value row[3] = {sf_string("s", 1), sf_int(5), sf_date(20003)};
    uint32_t ids[4] = {0, 0, 0, 0}; /* an entry after each slot: the prepared lookup's */
    assert_int_equal(find(c, row, ids, w, &h, &group), -1);
    assert_int_equal(sf_keycache_find(c, row, NULL, slots, 3, w, &h, &group), -1);
    ids[0] = 2;
    assert_int_equal(find(c, row, ids, w, &h, &group), 1);
    assert_int_equal(group, 3 * 64 + 1);
    double d; /* the bits of the int 5 as a double: another tuple */
    int64_t bits = 5;
    memcpy(&d, &bits, sizeof d);
    row[1] = sf_double(d);
    assert_int_equal(find(c, row, ids, w, &h, &group), 0);
    row[1] = sf_int(5);
    row[2] = sf_int(20003); /* a date's day as an int */
    assert_int_equal(find(c, row, ids, w, &h, &group), 0);
    row[2] = sf_date(20003);
    assert_int_equal(find(c, row, ids, w, &h, &group), 1);
    assert_int_equal(group, 3 * 64 + 1);
    /* The direct array alone answers as sf_keycache_find on a hit, and
     * says 0 (not "none") where only the general lookup could tell. */
    group = 0;
    assert_int_equal(find_direct_both(c, row, ids, &group), 1);
    assert_int_equal(group, 3 * 64 + 1);
    /* A date is its word's low half and an int or a date has no id: the
     * bytes above the day and the ids of those slots are not read. */
    uint64_t word = (uint64_t)(uint32_t)20003 | 0xdeadbeef00000000ull;
    memcpy(&row[2].u, &word, sizeof word);
    assert_int_equal(row[2].u.date, 20003);
    ids[1] = 77;
    ids[2] = 99;
    group = 0;
    assert_int_equal(find_direct_both(c, row, ids, &group), 1);
    assert_int_equal(group, 3 * 64 + 1);
    ids[1] = ids[2] = 0;
    row[2] = sf_date(20003);
    assert_int_equal(find_direct_both(c, row, NULL, &group), 0);
    row[1] = sf_double(d);
    assert_int_equal(find_direct_both(c, row, ids, &group), 0);
    row[1] = sf_int(5);
    ids[0] = 0;
    assert_int_equal(find_direct_both(c, row, ids, &group), 0);
    sf_keycache_free(c);
}

/* Columns that fill their spans unequally (16 ids in 16, 4 ints in 4,
 * 4 days spread over 32): the array orders its bit fields by how full
 * each column is, and every tuple is still found with its own group
 * through both lookups, the days between none. */
static void test_direct_array_with_a_sparse_column_finds_every_tuple(void **state)
{
    (void)state;
    sf_keycache *c = sf_keycache_new(4, 100000);
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], h, group = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t next = 0;
        for (int32_t k = 0; k < 4; k++)
            for (int64_t x = 5; x < 9; x++)
                for (uint32_t id = 1; id <= 16; id++) {
                    sf_value row[3] = {sf_string("s", 1), sf_int(x), sf_date(20000 + 8 * k)};
                    uint32_t ids[4] = {id, 0, 0, 0};
                    assert_int_equal(find(c, row, ids, w, &h, &group), pass);
                    if (!pass) {
                        assert_int_equal(sf_keycache_add(c, w, h, next++), 0);
                        continue;
                    }
                    assert_int_equal(group, next);
                    group = 0;
                    assert_int_equal(find_direct_both(c, row, ids, &group), 1);
                    assert_int_equal(group, next++);
                    row[2] = sf_date(20000 + 8 * k + 4);
                    assert_int_equal(find(c, row, ids, w, &h, &group), 0);
                    assert_int_equal(find_direct_both(c, row, ids, &group), 0);
                }
    }
    sf_keycache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_added_tuples_are_found_with_their_group),
        cmocka_unit_test(test_type_and_null_keep_tuples_apart),
        cmocka_unit_test(test_values_without_a_fixed_form_have_no_tuple),
        cmocka_unit_test(test_limit_refuses_more_tuples_and_clear_forgets),
        cmocka_unit_test(test_wide_keys_and_bad_sizes),
        cmocka_unit_test(test_small_ranges_grow_then_give_up),
        cmocka_unit_test(test_direct_array_reads_values_by_their_tags),
        cmocka_unit_test(test_direct_array_with_a_sparse_column_finds_every_tuple),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
