/* test_budget.c - core/budget.h: the fixed and state shares of a limit,
 * refusal of a limit too small to make progress, the node default and the
 * grouping of spill partitions into passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/budget.h"

#define MiB ((uint64_t)1 << 20)

static const sf_budget_fixed fixed = {30 * MiB, 4 * MiB, 8 * MiB, 2 * MiB};

static void test_state_is_limit_minus_fixed(void **state)
{
    (void)state;
    sf_budget b;
    sf_error err = {0};
    assert_int_equal(sf_budget_init(&b, 128 * MiB, &fixed, &err), 0);
    assert_true(b.fixed == 44 * MiB);
    assert_true(b.state == 84 * MiB);
    assert_false(sf_budget_over(&b, 84 * MiB));
    assert_true(sf_budget_over(&b, 84 * MiB + 1));
}

static void test_unlimited_is_never_over(void **state)
{
    (void)state;
    sf_budget b;
    sf_error err = {0};
    assert_int_equal(sf_budget_init(&b, 0, &fixed, &err), 0);
    assert_false(sf_budget_over(&b, UINT64_MAX));
}

static void test_too_small_limit_is_refused_with_the_minimum(void **state)
{
    (void)state;
    sf_budget b;
    sf_error err = {0};
    uint64_t min = sf_budget_minimum(&fixed);
    assert_true(min == 48 * MiB);
    assert_int_equal(sf_budget_init(&b, min - 1, &fixed, &err), SF_E_LIMIT);
    assert_non_null(strstr(err.msg, "at least 48M per rank"));
    assert_non_null(strstr(err.msg, "30M resident"));
    sf_error_clear(&err);
    assert_int_equal(sf_budget_init(&b, min, &fixed, &err), 0);
    assert_true(b.state == SF_BUDGET_MIN_STATE);
}

static void test_minimum_saturates(void **state)
{
    (void)state;
    sf_budget_fixed huge = {UINT64_MAX - 1, 5, 5, 5};
    assert_true(sf_budget_minimum(&huge) == UINT64_MAX);
}

static void test_node_default_is_three_quarters_over_ranks(void **state)
{
    (void)state;
    assert_true(sf_budget_node_default(16 * 1024 * MiB, 4) == 3 * 1024 * MiB);
    assert_true(sf_budget_node_default(8 * MiB, 0) == 6 * MiB);
}

static void test_passes_group_consecutive_partitions_within_cap(void **state)
{
    (void)state;
    const uint64_t bytes[] = {3, 3, 3, 10, 0, 0, 4, 5};
    uint32_t first[9];
    size_t n = sf_budget_plan_passes(bytes, 8, 6, first);
    /* {3,3} {3} {10} {0,0,4} {5} */
    assert_int_equal(n, 5);
    const uint32_t want[] = {0, 2, 3, 4, 7, 8};
    for (size_t k = 0; k <= n; k++)
        assert_int_equal(first[k], want[k]);
}

static void test_one_pass_when_everything_fits(void **state)
{
    (void)state;
    const uint64_t bytes[] = {1, 2, 3, 4};
    uint32_t first[5];
    assert_int_equal(sf_budget_plan_passes(bytes, 4, 100, first), 1);
    assert_int_equal(first[0], 0);
    assert_int_equal(first[1], 4);
    assert_int_equal(sf_budget_plan_passes(bytes, 0, 100, first), 0);
    assert_int_equal(first[0], 0);
}

static void test_spill_partitions_grow_with_the_estimate(void **state)
{
    (void)state;
    assert_int_equal(sf_budget_spill_partitions(1 * MiB, 64 * MiB), 8);
    assert_int_equal(sf_budget_spill_partitions(1024 * MiB, 64 * MiB), 64);
    assert_int_equal(sf_budget_spill_partitions(UINT64_MAX, 64 * MiB), 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_is_limit_minus_fixed),
        cmocka_unit_test(test_unlimited_is_never_over),
        cmocka_unit_test(test_too_small_limit_is_refused_with_the_minimum),
        cmocka_unit_test(test_minimum_saturates),
        cmocka_unit_test(test_node_default_is_three_quarters_over_ranks),
        cmocka_unit_test(test_passes_group_consecutive_partitions_within_cap),
        cmocka_unit_test(test_one_pass_when_everything_fits),
        cmocka_unit_test(test_spill_partitions_grow_with_the_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
