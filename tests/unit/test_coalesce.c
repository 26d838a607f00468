/* test_coalesce.c - partition/coalesce.h: ranks split into N contiguous
 * groups, each written by its first rank. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "partition/coalesce.h"

static void test_groups_are_contiguous_and_written_by_their_first_rank(void **state)
{
    (void)state;
    const int cases[][2] = {{4, 2}, {5, 2}, {7, 3}, {8, 8}, {3, 1}, {6, 4}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int nranks = cases[c][0], n = cases[c][1];
        int prev = -1;
        for (int r = 0; r < nranks; r++) {
            int file = -1;
            int w = sf_coalesce_writer(r, nranks, n, &file);
            assert_in_range(file, 0, n - 1);
            assert_true(file == prev || file == prev + 1); /* contiguous */
            if (file != prev)
                assert_int_equal(w, r); /* the first rank of the group */
            int wfile = -1;
            assert_int_equal(sf_coalesce_writer(w, nranks, n, &wfile), w);
            assert_int_equal(wfile, file);
            prev = file;
        }
        assert_int_equal(prev, n - 1); /* every group is used */
    }
}

static void test_more_writers_than_ranks_is_one_per_rank(void **state)
{
    (void)state;
    for (int r = 0; r < 3; r++) {
        int file = -1;
        assert_int_equal(sf_coalesce_writer(r, 3, 10, &file), r);
        assert_int_equal(file, r);
    }
}

static void test_one_writer_takes_everything_at_rank_zero(void **state)
{
    (void)state;
    for (int r = 0; r < 5; r++) {
        int file = -1;
        assert_int_equal(sf_coalesce_writer(r, 5, 1, &file), 0);
        assert_int_equal(file, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_are_contiguous_and_written_by_their_first_rank),
        cmocka_unit_test(test_more_writers_than_ranks_is_one_per_rank),
        cmocka_unit_test(test_one_writer_takes_everything_at_rank_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
