/* test_scan_assign.c - unit tests of the dynamic schedule's hand-out
 * (mpi/scan_assign.c): every chunk exactly once, one run of neighbouring
 * chunks per rank, the back half of the fullest share to a rank whose own
 * is spent, whole compressed files first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mpi/scan_assign.h"

/* The sizes of n chunks: sizes[i] bytes (or 10 when sizes is NULL). */
static uint64_t *chunks_of(size_t n, const uint64_t *sizes)
{
    uint64_t *c = calloc(n, sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < n; i++)
        c[i] = sizes ? sizes[i] : 10;
    return c;
}

static void test_one_stream_per_rank(void **state)
{
    (void)state;
    uint64_t *c = chunks_of(8, NULL);
    sf_scan_assign a;
    sf_scan_assign_init(&a, c, NULL, 8, 0, 2);
    /* Requests interleave, each rank reads on through its half. */
    const long want0[] = {0, 1, 2, 3}, want1[] = {4, 5, 6, 7};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(sf_scan_assign_next(&a, 1), want1[k]);
        assert_int_equal(sf_scan_assign_next(&a, 0), want0[k]);
    }
    assert_false(sf_scan_assign_left(&a));
    assert_int_equal(sf_scan_assign_next(&a, 0), -1);
    assert_int_equal(sf_scan_assign_next(&a, 1), -1);
    sf_scan_assign_free(&a);
    free(c);
}

/* Rank 0 is fast: its share spent, it takes the back half of rank 1's
 * (by bytes), then the back half of what rank 1 still has, down to one
 * chunk. */
static void test_steal_back_half(void **state)
{
    (void)state;
    uint64_t *c = chunks_of(12, NULL);
    sf_scan_assign a;
    sf_scan_assign_init(&a, c, NULL, 12, 0, 2);
    assert_int_equal(sf_scan_assign_next(&a, 1), 6);
    for (long k = 0; k < 6; k++)
        assert_int_equal(sf_scan_assign_next(&a, 0), k);
    /* Rank 1 has 7..11 left (50 bytes): rank 0 takes 10 and 11 (20 <= 25). */
    assert_int_equal(sf_scan_assign_next(&a, 0), 10);
    assert_int_equal(sf_scan_assign_next(&a, 0), 11);
    /* Rank 1 has 7..9: rank 0 takes 9. */
    assert_int_equal(sf_scan_assign_next(&a, 0), 9);
    assert_int_equal(sf_scan_assign_next(&a, 1), 7);
    /* One chunk left (8): whoever asks takes it. */
    assert_int_equal(sf_scan_assign_next(&a, 0), 8);
    assert_false(sf_scan_assign_left(&a));
    assert_int_equal(sf_scan_assign_next(&a, 1), -1);
    sf_scan_assign_free(&a);
    free(c);
}

/* Shares split by bytes, not by count; the guided tail (chunks smaller
 * than the largest, at the end) is in no share: it goes out in order once
 * the shares are spent, stealing first. */
static void test_shares_by_bytes_tail_last(void **state)
{
    (void)state;
    const uint64_t sizes[] = {64, 64, 64, 32, 64, 16, 16, 8, 4, 4};
    uint64_t *c = chunks_of(10, sizes);
    sf_scan_assign a;
    sf_scan_assign_init(&a, c, NULL, 10, 0, 2);
    /* Shares over chunks 0-4 (288 bytes): rank 0's ends once 144 are
     * reached (0, 1, 2), rank 1 has 3 and 4. */
    assert_int_equal(sf_scan_assign_next(&a, 1), 3);
    assert_int_equal(sf_scan_assign_next(&a, 0), 0);
    assert_int_equal(sf_scan_assign_next(&a, 1), 4);
    /* Rank 1's share is spent: the back half of rank 0's (chunk 2). */
    assert_int_equal(sf_scan_assign_next(&a, 1), 2);
    assert_int_equal(sf_scan_assign_next(&a, 0), 1);
    /* No share left: the tail in order, to whoever asks. */
    const long tail[] = {5, 6, 7, 8, 9};
    for (int k = 0; k < 5; k++) {
        assert_true(sf_scan_assign_left(&a));
        assert_int_equal(sf_scan_assign_next(&a, k & 1), tail[k]);
    }
    assert_false(sf_scan_assign_left(&a));
    assert_int_equal(sf_scan_assign_next(&a, 0), -1);
    sf_scan_assign_free(&a);
    free(c);
}

/* The positions before nfirst go out first, in turn to any rank; order maps
 * positions to chunks. */
static void test_first_then_shares(void **state)
{
    (void)state;
    uint64_t *c = chunks_of(6, NULL);
    const size_t order[] = {5, 4, 0, 1, 2, 3};
    sf_scan_assign a;
    sf_scan_assign_init(&a, c, order, 6, 2, 2);
    assert_int_equal(sf_scan_assign_next(&a, 1), 5);
    assert_int_equal(sf_scan_assign_next(&a, 1), 4);
    assert_int_equal(sf_scan_assign_next(&a, 1), 2);
    assert_int_equal(sf_scan_assign_next(&a, 0), 0);
    sf_scan_assign_free(&a);
    free(c);
}

/* Any request sequence on 1-5 ranks hands out every chunk exactly once. */
static void test_each_chunk_once(void **state)
{
    (void)state;
    uint64_t sizes[37];
    unsigned seed = 12345;
    for (size_t i = 0; i < 37; i++) {
        seed = seed * 1103515245u + 12345u;
        sizes[i] = 1 + (seed >> 16) % 100;
    }
    uint64_t *c = chunks_of(37, sizes);
    for (int nranks = 1; nranks <= 5; nranks++) {
        for (size_t nfirst = 0; nfirst <= 3; nfirst += 3) {
            sf_scan_assign a;
            sf_scan_assign_init(&a, c, NULL, 37, nfirst, nranks);
            int seen[37];
            memset(seen, 0, sizeof seen);
            for (size_t k = 0; k < 37; k++) {
                assert_true(sf_scan_assign_left(&a));
                seed = seed * 1103515245u + 12345u;
                long i = sf_scan_assign_next(&a, (int)((seed >> 16) % (unsigned)nranks));
                assert_true(i >= 0 && i < 37);
                assert_int_equal(seen[i]++, 0);
            }
            assert_false(sf_scan_assign_left(&a));
            for (int r = 0; r < nranks; r++)
                assert_int_equal(sf_scan_assign_next(&a, r), -1);
            sf_scan_assign_free(&a);
        }
    }
    free(c);
}

/* Without the sizes (out of memory in the caller) chunks go out in turn. */
static void test_without_sizes_in_turn(void **state)
{
    (void)state;
    sf_scan_assign a;
    sf_scan_assign_init(&a, NULL, NULL, 3, 0, 2);
    assert_int_equal(sf_scan_assign_next(&a, 1), 0);
    assert_int_equal(sf_scan_assign_next(&a, 1), 1);
    assert_int_equal(sf_scan_assign_next(&a, 0), 2);
    assert_false(sf_scan_assign_left(&a));
    assert_int_equal(sf_scan_assign_next(&a, 0), -1);
    sf_scan_assign_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_stream_per_rank),
        cmocka_unit_test(test_steal_back_half),
        cmocka_unit_test(test_shares_by_bytes_tail_last),
        cmocka_unit_test(test_first_then_shares),
        cmocka_unit_test(test_each_chunk_once),
        cmocka_unit_test(test_without_sizes_in_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
