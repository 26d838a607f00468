/* test_salt.c - partition/salt.h: the space-saving sketch finds a hot key,
 * hot rows rotate over K ranks from the owner, cold rows go to the owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash.h"
#include "partition/partitioner.h"
#include "partition/salt.h"

static void test_sketch_counts_a_key_exactly_while_it_has_room(void **state)
{
    (void)state;
    sf_salt s;
    sf_salt_init(&s);
    for (uint64_t i = 1; i <= 10; i++)
        assert_true(sf_salt_count(&s, 42) == i);
    assert_true(sf_salt_count(&s, 43) == 1);
}

static void test_full_sketch_replaces_the_smallest_and_inherits_its_count(void **state)
{
    (void)state;
    sf_salt s;
    sf_salt_init(&s);
    for (uint64_t k = 0; k < SF_SALT_SKETCH; k++) {
        for (uint64_t i = 0; i <= k; i++)
            sf_salt_count(&s, 1000 + k); /* key 1000+k counted k+1 times */
    }
    /* Key 1000 has the smallest count (1): a new key takes its place. */
    assert_true(sf_salt_count(&s, 5) == 2);
    /* Key 1000 comes back over the first smallest counter (key 5's, 2). */
    assert_true(sf_salt_count(&s, 1000) == 3);
    assert_true(sf_salt_count(&s, 5) == 3); /* and key 5 over key 1001's (2) */
}

static void test_without_salt_every_row_goes_to_its_owner(void **state)
{
    (void)state;
    sf_salt s;
    sf_salt_init(&s);
    for (uint64_t i = 0; i < 5000; i++) {
        uint64_t h = sf_hash_u64(i % 3); /* three very hot keys */
        assert_int_equal(sf_salt_route(&s, h, 4, 4, 1), sf_partition_rank(h, 4, 4));
    }
}

static void test_hot_key_rotates_over_salt_ranks_from_its_owner(void **state)
{
    (void)state;
    sf_salt s;
    sf_salt_init(&s);
    int nranks = 4, salt = 3;
    uint64_t hot = sf_hash_u64(99);
    int owner = sf_partition_rank(hot, nranks, nranks);
    unsigned seen[4] = {0};
    for (uint64_t i = 0; i < 4000; i++) {
        /* Every other row is the hot key, the rest are all different. */
        uint64_t h = i % 2 ? hot : sf_hash_u64(100000 + i);
        int d = sf_salt_route(&s, h, nranks, nranks, salt);
        if (h != hot) {
            if (i >= 2048)
                assert_int_equal(d, sf_partition_rank(h, nranks, nranks));
            continue;
        }
        if (i < 1023)
            assert_int_equal(d, owner); /* too early to call anything hot */
        else
            seen[d]++;
    }
    for (int k = 0; k < nranks; k++) {
        int off = (k - owner + nranks) % nranks;
        if (off < salt)
            assert_true(seen[k] > 300);
        else
            assert_int_equal(seen[k], 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_counts_a_key_exactly_while_it_has_room),
        cmocka_unit_test(test_full_sketch_replaces_the_smallest_and_inherits_its_count),
        cmocka_unit_test(test_without_salt_every_row_goes_to_its_owner),
        cmocka_unit_test(test_hot_key_rotates_over_salt_ranks_from_its_owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
