/* test_pairs.c - the distinct (group, value) pair table of core/pairs.h:
 * counts per group and aggregate are exact (duplicates, -0.0, NaN, ints
 * offered as doubles), strings and decimals are interned, the table grows
 * without losing pairs, the routing hash does not depend on which table or
 * string id saw a value, records round-trip and malformed ones are refused,
 * and the property the spread relies on: pairs split over several tables
 * by their hash count, summed, the same as one table fed every pair. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/pairs.h"

static const sf_type two[2] = {SF_INT, SF_STRING};

static void test_counts_distinct_pairs_per_group_and_aggregate(void **state)
{
    (void)state;
    sf_pairs *p = sf_pairs_new(3, two, 2);
    assert_non_null(p);
    int added;
    sf_value a = sf_int(7), b = sf_int(8), s = sf_string("x", 1);
    assert_int_equal(sf_pairs_add(p, 0, 0, &a, &added), 0);
    assert_int_equal(added, 1);
    assert_int_equal(sf_pairs_add(p, 0, 0, &a, &added), 0);
    assert_int_equal(added, 0);
    assert_int_equal(sf_pairs_add(p, 0, 0, &b, NULL), 0);
    assert_int_equal(sf_pairs_add(p, 2, 0, &a, NULL), 0);
    assert_int_equal(sf_pairs_add(p, 2, 1, &s, NULL), 0);
    assert_int_equal(sf_pairs_add(p, 2, 1, &s, NULL), 0);
    assert_int_equal(sf_pairs_count(p, 0, 0), 2);
    assert_int_equal(sf_pairs_count(p, 0, 1), 0);
    assert_int_equal(sf_pairs_count(p, 1, 0), 0);
    assert_int_equal(sf_pairs_count(p, 2, 0), 1);
    assert_int_equal(sf_pairs_count(p, 2, 1), 1);
    assert_int_equal(sf_pairs_count(p, 9, 0), 0);
    assert_int_equal(sf_pairs_size(p), 4);
    assert_true(sf_pairs_memory(p) > 0);
    sf_pairs_free(p);
    sf_pairs_free(NULL);
}

static void test_refuses_bad_gid_agg_and_type_ignores_null(void **state)
{
    (void)state;
    sf_pairs *p = sf_pairs_new(2, two, 2);
    sf_value i = sf_int(1), s = sf_string("a", 1), n = sf_null();
    assert_int_equal(sf_pairs_add(p, 2, 0, &i, NULL), SF_E_INVAL);
    assert_int_equal(sf_pairs_add(p, 0, 2, &i, NULL), SF_E_INVAL);
    assert_int_equal(sf_pairs_add(p, 0, 0, &s, NULL), SF_E_INVAL);
    assert_int_equal(sf_pairs_add(p, 0, 1, &i, NULL), SF_E_INVAL);
    assert_int_equal(sf_pairs_add(p, 0, 1, &n, NULL), 0);
    assert_int_equal(sf_pairs_size(p), 0);
    sf_pairs_free(p);
}

static void test_double_identity_folds_signed_zero_and_nans(void **state)
{
    (void)state;
    sf_type t = SF_DOUBLE;
    sf_pairs *p = sf_pairs_new(1, &t, 1);
    sf_value v[] = {sf_double(0.0), sf_double(-0.0), sf_double(NAN), sf_double(-NAN),
                    sf_double(1.5), sf_int(2), sf_double(2.0)};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
        assert_int_equal(sf_pairs_add(p, 0, 0, &v[k], NULL), 0);
    assert_int_equal(sf_pairs_count(p, 0, 0), 4); /* 0, NaN, 1.5, 2 */
    assert_int_equal(sf_pairs_hash(5, 0, SF_DOUBLE, &v[0]), sf_pairs_hash(5, 0, SF_DOUBLE, &v[1]));
    assert_int_equal(sf_pairs_hash(5, 0, SF_DOUBLE, &v[5]), sf_pairs_hash(5, 0, SF_DOUBLE, &v[6]));
    sf_pairs_free(p);
}

static void test_grows_and_keeps_every_pair(void **state)
{
    (void)state;
    sf_pairs *p = sf_pairs_new(4, two, 2);
    char buf[32];
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 50000; k++) {
            sf_value i = sf_int(k * 7919);
            int n = snprintf(buf, sizeof buf, "item_%06d", k % 3000);
            sf_value s = sf_string(buf, (size_t)n);
            assert_int_equal(sf_pairs_add(p, (uint32_t)(k % 4), 0, &i, NULL), 0);
            assert_int_equal(sf_pairs_add(p, (uint32_t)(k % 4), 1, &s, NULL), 0);
        }
    }
    for (uint32_t g = 0; g < 4; g++) {
        assert_int_equal(sf_pairs_count(p, g, 0), 12500);
        /* k % 3000 over k = g mod 4: every item of g's residue class mod 4 */
        assert_int_equal(sf_pairs_count(p, g, 1), 750);
    }
    assert_int_equal(sf_pairs_size(p), 50000 + 3000);
    sf_pairs_free(p);
}

struct collect {
    sf_pairs *into;
    uint64_t n;
};

static int copy_pair(void *ctx, uint32_t gid, uint32_t agg, const sf_value *v)
{
    struct collect *c = ctx;
    c->n++;
    int added = 0;
    int rc = sf_pairs_add(c->into, gid, agg, v, &added);
    return rc ? rc : added ? 0 : SF_E_INTERNAL;
}

static void test_each_gives_every_pair_once_with_its_value(void **state)
{
    (void)state;
    sf_type types[3] = {SF_STRING, SF_DATE, SF_DECIMAL};
    sf_pairs *p = sf_pairs_new(2, types, 3), *q = sf_pairs_new(2, types, 3);
    sf_value v[] = {sf_string("a", 1), sf_string("bb", 2), sf_date(-3), sf_date(19000),
                    sf_decimal(12345, 2), sf_decimal(-1, 0)};
    uint32_t agg[] = {0, 0, 1, 1, 2, 2};
    for (size_t k = 0; k < 6; k++)
        for (uint32_t g = 0; g < 2; g++)
            assert_int_equal(sf_pairs_add(p, g, agg[k], &v[k], NULL), 0);
    struct collect c = {q, 0};
    assert_int_equal(sf_pairs_each(p, copy_pair, &c), 0);
    assert_int_equal(c.n, 12);
    for (uint32_t g = 0; g < 2; g++)
        for (uint32_t a = 0; a < 3; a++)
            assert_int_equal(sf_pairs_count(q, g, a), 2);
    /* Adding them to q again finds every one: the values came back equal. */
    c.into = q;
    assert_int_equal(sf_pairs_each(p, copy_pair, &c), SF_E_INTERNAL);
    sf_pairs_free(p);
    sf_pairs_free(q);
}

static void test_hash_depends_on_group_aggregate_and_value_not_on_table(void **state)
{
    (void)state;
    char a[] = "user_000783", b[] = "user_000783";
    sf_value x = sf_string(a, 11), y = sf_string(b, 11), z = sf_string("user_000784", 11);
    uint64_t h = sf_pairs_hash(42, 1, SF_STRING, &x);
    assert_int_equal(h, sf_pairs_hash(42, 1, SF_STRING, &y));
    assert_int_not_equal(h, sf_pairs_hash(42, 1, SF_STRING, &z));
    assert_int_not_equal(h, sf_pairs_hash(43, 1, SF_STRING, &x));
    assert_int_not_equal(h, sf_pairs_hash(42, 0, SF_STRING, &x));
    sf_value i = sf_int(5), d = sf_double(5.0);
    assert_int_equal(sf_pairs_hash(1, 0, SF_INT, &i), sf_pairs_hash(1, 0, SF_INT, &d));
}

static void test_records_round_trip_and_malformed_are_refused(void **state)
{
    (void)state;
    sf_buf b = SF_BUF_INIT;
    sf_value s = sf_string("hello", 5);
    assert_int_equal(sf_pairs_encode(&b, 300000, 3, &s), 0);
    uint32_t gid, agg;
    sf_value v;
    assert_int_equal(sf_pairs_decode(b.p, b.n, &gid, &agg, &v), 0);
    assert_int_equal(gid, 300000);
    assert_int_equal(agg, 3);
    assert_int_equal(v.type, SF_STRING);
    assert_memory_equal(v.u.s.p, "hello", 5);
    assert_int_equal(sf_pairs_decode(b.p, b.n - 1, &gid, &agg, &v), SF_E_PARSE);
    assert_int_equal(sf_buf_append(&b, "x", 1), 0);
    assert_int_equal(sf_pairs_decode(b.p, b.n, &gid, &agg, &v), SF_E_PARSE);
    unsigned char bad[12];
    memset(bad, 0xff, sizeof bad);
    assert_int_equal(sf_pairs_decode(bad, sizeof bad, &gid, &agg, &v), SF_E_PARSE);
    assert_int_equal(sf_pairs_decode(bad, 0, &gid, &agg, &v), SF_E_PARSE);
    sf_buf_free(&b);
}

/* Pairs dealt to 3 tables by their hash (some offered twice, to different
 * tables' "senders" as a spread does): the per-group counts summed over
 * the tables equal one table's. */
static void test_split_by_hash_counts_sum_to_one_table(void **state)
{
    (void)state;
    sf_type t = SF_INT;
    sf_pairs *all = sf_pairs_new(5, &t, 1), *part[3];
    for (int r = 0; r < 3; r++)
        part[r] = sf_pairs_new(5, &t, 1);
    uint64_t ghash[5] = {11, 22, 33, 44, 55};
    for (int k = 0; k < 40000; k++) {
        uint32_t g = (uint32_t)(k % 5);
        sf_value v = sf_int((k * 31) % 9000);
        assert_int_equal(sf_pairs_add(all, g, 0, &v, NULL), 0);
        int r = (int)(sf_pairs_hash(ghash[g], 0, SF_INT, &v) % 3);
        assert_int_equal(sf_pairs_add(part[r], g, 0, &v, NULL), 0);
    }
    for (uint32_t g = 0; g < 5; g++) {
        uint64_t sum = 0;
        for (int r = 0; r < 3; r++) {
            sum += sf_pairs_count(part[r], g, 0);
            assert_true(sf_pairs_count(part[r], g, 0) < sf_pairs_count(all, g, 0));
        }
        assert_int_equal(sum, sf_pairs_count(all, g, 0));
    }
    sf_pairs_free(all);
    for (int r = 0; r < 3; r++)
        sf_pairs_free(part[r]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_distinct_pairs_per_group_and_aggregate),
        cmocka_unit_test(test_refuses_bad_gid_agg_and_type_ignores_null),
        cmocka_unit_test(test_double_identity_folds_signed_zero_and_nans),
        cmocka_unit_test(test_grows_and_keeps_every_pair),
        cmocka_unit_test(test_each_gives_every_pair_once_with_its_value),
        cmocka_unit_test(test_hash_depends_on_group_aggregate_and_value_not_on_table),
        cmocka_unit_test(test_records_round_trip_and_malformed_are_refused),
        cmocka_unit_test(test_split_by_hash_counts_sum_to_one_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
