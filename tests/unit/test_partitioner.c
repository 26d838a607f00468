/* test_partitioner.c - key hash to partition: range, edges, uniformity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/hash.h"
#include "partition/partitioner.h"

static void test_single_partition_is_always_zero(void **state)
{
    (void)state;
    assert_int_equal(sf_partition_of(0, 1), 0);
    assert_int_equal(sf_partition_of(UINT64_MAX, 1), 0);
    for (uint64_t i = 0; i < 1000; i++)
        assert_int_equal(sf_partition_of(sf_hash_u64(i), 1), 0);
}

static void test_partition_stays_in_range_at_the_edges(void **state)
{
    (void)state;
    const uint32_t counts[] = {2, 3, 7, 8, 1000, UINT32_MAX};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        uint32_t n = counts[k];
        assert_int_equal(sf_partition_of(0, n), 0);
        assert_int_equal(sf_partition_of(UINT64_MAX, n), n - 1);
        for (uint64_t i = 0; i < 10000; i++)
            assert_true(sf_partition_of(sf_hash_u64(i), n) < n);
    }
}

static void test_partition_follows_high_bits(void **state)
{
    (void)state;
    /* Equal shares of the hash range, in order: the top quarter is part 3. */
    assert_int_equal(sf_partition_of(0x3fffffffffffffffull, 4), 0);
    assert_int_equal(sf_partition_of(0x4000000000000000ull, 4), 1);
    assert_int_equal(sf_partition_of(0xc000000000000000ull, 4), 3);
    /* Low bits alone do not move a key. */
    assert_int_equal(sf_partition_of(0x8000000000000000ull, 3), sf_partition_of(0x80000000ffffffffull, 3));
}

static void check_uniform(uint32_t nparts)
{
    unsigned count[8] = {0};
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        char key[16];
        int kl = 0;
        for (int v = i; v || kl == 0; v /= 10)
            key[kl++] = (char)('0' + v % 10);
        count[sf_partition_of(sf_hash_bytes(key, (size_t)kl, 0), nparts)]++;
    }
    /* Binomial sd is under 150 here; allow about 6 sd. */
    unsigned expect = (unsigned)(n / nparts);
    for (uint32_t p = 0; p < nparts; p++)
        assert_in_range(count[p], expect - 900, expect + 900);
}

static void test_three_partitions_are_uniform(void **state)
{
    (void)state;
    check_uniform(3);
}

static void test_seven_partitions_are_uniform(void **state)
{
    (void)state;
    check_uniform(7);
}

static void test_partition_p_belongs_to_rank_p_mod_ranks(void **state)
{
    (void)state;
    assert_int_equal(sf_partition_owner(0, 3), 0);
    assert_int_equal(sf_partition_owner(4, 3), 1);
    assert_int_equal(sf_partition_owner(5, 3), 2);
    assert_int_equal(sf_partition_owner(7, 1), 0);
}

static void test_owner_is_partition_mod_ranks_below_and_above_the_rank_count(void **state)
{
    (void)state;
    for (int nranks = 1; nranks <= 9; nranks++) {
        for (uint32_t p = 0; p < 40; p++)
            assert_int_equal(sf_partition_owner(p, nranks), (int)(p % (uint32_t)nranks));
        assert_int_equal(sf_partition_owner(UINT32_MAX, nranks),
                         (int)(UINT32_MAX % (uint32_t)nranks));
    }
}

static void test_rank_of_a_hash_is_the_owner_of_its_partition(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t h = sf_hash_u64(i);
        assert_int_equal(sf_partition_rank(h, 5, 3), (int)(sf_partition_of(h, 5) % 3));
        assert_int_equal(sf_partition_rank(h, 4, 4), (int)sf_partition_of(h, 4));
    }
}

static void test_spill_partition_is_independent_of_rank(void **state)
{
    (void)state;
    /* Every (rank partition, spill partition) pair of 4 x 16 is hit, and
     * spill partitions are near-uniform: a pass holds every rank's keys. */
    uint32_t hits[4][16] = {{0}};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 64000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t s = sf_partition_spill(x, 16);
        assert_true(s < 16);
        hits[sf_partition_of(x, 4)][s]++;
    }
    for (int r = 0; r < 4; r++)
        for (int s = 0; s < 16; s++)
            assert_true(hits[r][s] > 800 && hits[r][s] < 1200);
    assert_int_equal(sf_partition_spill(UINT64_MAX, 1), 0);
    assert_int_equal(sf_partition_spill(UINT64_MAX, 0), 0);
    assert_int_equal(sf_partition_spill(UINT64_MAX, 256), 255);
}

static void test_split_again_spreads_one_spill_partition(void **state)
{
    (void)state;
    /* The keys of one spill partition (of 16) land in every one of 16
     * sub-partitions at each level, near-uniformly, and a key's level-1 and
     * level-2 sub-partitions are independent of each other. */
    uint32_t hits[2][16] = {{0}}, pair[16][16] = {{0}};
    uint64_t x = 0x243f6a8885a308d3ull;
    int kept = 0;
    while (kept < 64000) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (sf_partition_spill(x, 16) != 5)
            continue;
        kept++;
        uint32_t a = sf_partition_spill_again(x, 16, 1), b = sf_partition_spill_again(x, 16, 2);
        assert_true(a < 16 && b < 16);
        hits[0][a]++;
        hits[1][b]++;
        pair[a][b]++;
    }
    for (int s = 0; s < 16; s++) {
        assert_true(hits[0][s] > 3600 && hits[0][s] < 4400);
        assert_true(hits[1][s] > 3600 && hits[1][s] < 4400);
        for (int t = 0; t < 16; t++)
            assert_true(pair[s][t] > 120 && pair[s][t] < 380);
    }
    assert_int_equal(sf_partition_spill_again(UINT64_MAX, 1, 1), 0);
    assert_int_equal(sf_partition_spill_again(UINT64_MAX, 16, 0), 0);
    assert_int_equal(sf_partition_spill_again((uint64_t)0xff << 32, 16, 1), 15);
    assert_int_equal(sf_partition_spill_again((uint64_t)0xff << 32, 16, 2), 0);
    assert_int_equal(sf_partition_spill_again((uint64_t)0x80 << 24, 256, 2), 128);
}

static void test_balance_puts_heaviest_bucket_on_least_loaded_rank(void **state)
{
    (void)state;
    /* Buckets 7, 5, 4, 3 rows (numbers 1, 3, 0, 2) on 2 ranks: 7 -> rank 0,
     * 5 -> rank 1, 4 -> rank 1 (5 < 7), 3 -> rank 0 (7 < 9): 10 and 9. */
    const uint64_t count[6] = {4, 7, 3, 5, 0, 0};
    int owner[6];
    assert_int_equal(sf_partition_balance(count, 6, 2, owner), 0);
    assert_int_equal(owner[1], 0);
    assert_int_equal(owner[3], 1);
    assert_int_equal(owner[0], 1);
    assert_int_equal(owner[2], 0);
    /* Empty buckets: b mod ranks. */
    assert_int_equal(owner[4], 0);
    assert_int_equal(owner[5], 1);
}

static void test_balance_of_equal_buckets_is_even_and_deterministic(void **state)
{
    (void)state;
    /* 31 equal "dates" on 2, 3 and 4 ranks: no rank gets more than one
     * bucket over its share, and the same counts give the same owners. */
    enum { NB = 4096 };
    static uint64_t count[NB];
    static int owner[NB], again[NB];
    for (uint32_t d = 0; d < 31; d++)
        count[sf_partition_of(sf_hash_u64(20000 + d), NB)] += 1000;
    for (int ranks = 2; ranks <= 4; ranks++) {
        assert_int_equal(sf_partition_balance(count, NB, ranks, owner), 0);
        assert_int_equal(sf_partition_balance(count, NB, ranks, again), 0);
        uint64_t load[4] = {0};
        for (uint32_t b = 0; b < NB; b++) {
            assert_int_equal(owner[b], again[b]);
            assert_true(owner[b] >= 0 && owner[b] < ranks);
            load[owner[b]] += count[b];
        }
        for (int r = 0; r < ranks; r++)
            assert_true(load[r] <= 31000 / (uint64_t)ranks + 2000);
    }
}

static void test_balance_on_one_rank_owns_everything(void **state)
{
    (void)state;
    const uint64_t count[3] = {9, 0, 2};
    int owner[3] = {-1, -1, -1};
    assert_int_equal(sf_partition_balance(count, 3, 1, owner), 0);
    for (int b = 0; b < 3; b++)
        assert_int_equal(owner[b], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_partition_is_always_zero),
        cmocka_unit_test(test_partition_stays_in_range_at_the_edges),
        cmocka_unit_test(test_partition_follows_high_bits),
        cmocka_unit_test(test_three_partitions_are_uniform),
        cmocka_unit_test(test_seven_partitions_are_uniform),
        cmocka_unit_test(test_partition_p_belongs_to_rank_p_mod_ranks),
        cmocka_unit_test(test_owner_is_partition_mod_ranks_below_and_above_the_rank_count),
        cmocka_unit_test(test_rank_of_a_hash_is_the_owner_of_its_partition),
        cmocka_unit_test(test_spill_partition_is_independent_of_rank),
        cmocka_unit_test(test_split_again_spreads_one_spill_partition),
        cmocka_unit_test(test_balance_puts_heaviest_bucket_on_least_loaded_rank),
        cmocka_unit_test(test_balance_of_equal_buckets_is_even_and_deterministic),
        cmocka_unit_test(test_balance_on_one_rank_owns_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
