/* test_keycache.c - fixed-width group keys of core/keycache.h: a tuple
 * found again after it was added, tuples that differ only by a value's
 * type or by NULL stay apart, values without a fixed form have no tuple,
 * the cache keeps its tuples as it grows, refuses more than its limit and
 * forgets everything on clear. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_added_tuples_are_found_with_their_group),
        cmocka_unit_test(test_type_and_null_keep_tuples_apart),
        cmocka_unit_test(test_values_without_a_fixed_form_have_no_tuple),
        cmocka_unit_test(test_limit_refuses_more_tuples_and_clear_forgets),
        cmocka_unit_test(test_wide_keys_and_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
