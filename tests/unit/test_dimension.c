/* test_dimension.c - partition/dimension.h: the ranks' shares of a
 * dimension table are disjoint, cover it, and follow the key's owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "partition/dimension.h"
#include "partition/keyhash.h"
#include "partition/partitioner.h"

static void test_shares_are_disjoint_cover_the_table_and_follow_owners(void **state)
{
    (void)state;
    sf_join_table *all = sf_join_table_new(2, 0);
    assert_non_null(all);
    for (int64_t k = 0; k < 500; k++) {
        sf_value row[2] = {sf_int(k * 7919), sf_string("x", 1)};
        assert_int_equal(sf_join_table_add(all, row), 0);
    }
    const int nranks = 3, nparts = 5;
    size_t total = 0;
    for (int r = 0; r < nranks; r++) {
        sf_join_table *mine = NULL;
        assert_int_equal(sf_partition_join_table(all, 2, 0, nparts, nranks, r, &mine), 0);
        assert_non_null(mine);
        total += sf_join_table_rows(mine);
        for (size_t i = 0; i < sf_join_table_rows(mine); i++) {
            uint64_t h;
            assert_int_equal(sf_key_hash_value(&sf_join_table_row(mine, i)[0], &h), 0);
            assert_int_equal(sf_partition_rank(h, nparts, nranks), r);
        }
        sf_join_table_free(mine);
    }
    assert_int_equal(total, 500);
    assert_int_equal(sf_join_table_rows(all), 500); /* left as it was */
    sf_join_table_free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shares_are_disjoint_cover_the_table_and_follow_owners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
