/* test_skew.c - partition/skew.h: max and mean, the max/mean ratio, and
 * the heaviest-keys list kept sorted with ties broken by key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "partition/skew.h"

static void test_stats_give_max_and_mean(void **state)
{
    (void)state;
    const double v[] = {1, 4, 1, 2};
    double max, mean;
    sf_skew_stats(v, 4, &max, &mean);
    assert_true(max == 4 && mean == 2);
    assert_true(sf_skew_ratio(max, mean) == 2);
    sf_skew_stats(v, 0, &max, &mean);
    assert_true(max == 0 && mean == 0);
    assert_true(sf_skew_ratio(max, mean) == 0);
}

static sf_heavy_key key(const char *k, uint64_t rows)
{
    sf_heavy_key h;
    memset(&h, 0, sizeof h);
    strcpy(h.key, k);
    h.rows = rows;
    return h;
}

static void test_top_keys_are_heaviest_first_ties_by_key(void **state)
{
    (void)state;
    sf_heavy_key top[SF_TOP_KEYS];
    int n = 0;
    const char *names[] = {"e", "a", "d", "b", "c", "f", "g"};
    const uint64_t rows[] = {5, 9, 5, 1, 7, 2, 9};
    for (int i = 0; i < 7; i++) {
        sf_heavy_key k = key(names[i], rows[i]);
        sf_skew_top_insert(top, &n, &k);
    }
    assert_int_equal(n, SF_TOP_KEYS);
    const char *want[] = {"a", "g", "c", "d", "e"};
    for (int i = 0; i < SF_TOP_KEYS; i++)
        assert_string_equal(top[i].key, want[i]);
}

static void test_top_keys_do_not_depend_on_offer_order(void **state)
{
    (void)state;
    sf_heavy_key a[SF_TOP_KEYS], b[SF_TOP_KEYS];
    int na = 0, nb = 0;
    for (int i = 0; i < 8; i++) {
        char k[4] = {(char)('a' + i), 0};
        sf_heavy_key x = key(k, (uint64_t)(i % 3));
        sf_skew_top_insert(a, &na, &x);
        k[0] = (char)('a' + 7 - i);
        sf_heavy_key y = key(k, (uint64_t)((7 - i) % 3));
        sf_skew_top_insert(b, &nb, &y);
    }
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_string_equal(a[i].key, b[i].key);
        assert_true(a[i].rows == b[i].rows);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_give_max_and_mean),
        cmocka_unit_test(test_top_keys_are_heaviest_first_ties_by_key),
        cmocka_unit_test(test_top_keys_do_not_depend_on_offer_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
