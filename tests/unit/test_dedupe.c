/* test_dedupe.c - core/dedupe.h: the first row per key by ordinal, whatever
 * the arrival order; ordinals compare by file, chunk, offset, row; records
 * replaced in place or anew; the tags of dropped rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/dedupe.h"
#include "core/hash.h"

static int offer(sf_dedupe *t, const char *key, sf_dedupe_ord ord, const char *rec, int tag,
                 int *old_tag)
{
    return sf_dedupe_offer(t, key, strlen(key), sf_hash_bytes(key, strlen(key), SF_KEY_HASH_SEED),
                           &ord, rec, strlen(rec), tag, old_tag);
}

static const char *kept(const sf_dedupe *t, size_t i, size_t *len)
{
    const void *rec;
    sf_dedupe_entry(t, i, &rec, len, NULL, NULL);
    return rec;
}

static void test_first_offer_of_a_key_is_kept(void **state)
{
    (void)state;
    sf_dedupe *t = sf_dedupe_new();
    assert_non_null(t);
    assert_int_equal(offer(t, "a", (sf_dedupe_ord){0, 0, 10, 0}, "ra", 1, NULL), SF_DEDUPE_NEW);
    assert_int_equal(offer(t, "b", (sf_dedupe_ord){0, 0, 5, 0}, "rb", 1, NULL), SF_DEDUPE_NEW);
    assert_int_equal(sf_dedupe_count(t), 2);
    size_t len;
    assert_memory_equal(kept(t, 0, &len), "ra", 2);
    assert_int_equal(len, 2);
    sf_dedupe_free(t);
}

static void test_a_later_row_is_dropped(void **state)
{
    (void)state;
    sf_dedupe *t = sf_dedupe_new();
    assert_int_equal(offer(t, "a", (sf_dedupe_ord){0, 0, 10, 0}, "first", 1, NULL),
                     SF_DEDUPE_NEW);
    assert_int_equal(offer(t, "a", (sf_dedupe_ord){0, 0, 10, 1}, "row1", 0, NULL),
                     SF_DEDUPE_DROPPED);
    assert_int_equal(offer(t, "a", (sf_dedupe_ord){0, 0, 10, 0}, "same", 1, NULL),
                     SF_DEDUPE_DROPPED);
    size_t len;
    assert_memory_equal(kept(t, 0, &len), "first", 5);
    assert_int_equal(sf_dedupe_count(t), 1);
    sf_dedupe_free(t);
}

static void test_an_earlier_row_replaces_the_kept_one_and_reports_its_tag(void **state)
{
    (void)state;
    sf_dedupe *t = sf_dedupe_new();
    int old = -1;
    assert_int_equal(offer(t, "k", (sf_dedupe_ord){1, 0, 0, 0}, "file1", 7, NULL),
                     SF_DEDUPE_NEW);
    /* file beats chunk beats offset beats row */
    assert_int_equal(offer(t, "k", (sf_dedupe_ord){0, 9, 9, 9}, "longer record", 3, &old),
                     SF_DEDUPE_REPLACED);
    assert_int_equal(old, 7);
    assert_int_equal(offer(t, "k", (sf_dedupe_ord){0, 8, 99, 0}, "short", 2, &old),
                     SF_DEDUPE_REPLACED);
    assert_int_equal(old, 3);
    assert_int_equal(offer(t, "k", (sf_dedupe_ord){0, 8, 98, 5}, "", 1, &old),
                     SF_DEDUPE_REPLACED);
    assert_int_equal(offer(t, "k", (sf_dedupe_ord){0, 8, 98, 4}, "r4", 0, &old),
                     SF_DEDUPE_REPLACED);
    size_t len;
    sf_dedupe_ord ord;
    int tag;
    const void *rec;
    sf_dedupe_entry(t, 0, &rec, &len, &ord, &tag);
    assert_int_equal(len, 2);
    assert_memory_equal(rec, "r4", 2);
    assert_int_equal(ord.offset, 98);
    assert_int_equal(ord.row, 4);
    assert_int_equal(tag, 0);
    assert_true(sf_dedupe_memory(t) > 0);
    sf_dedupe_free(t);
}

static void test_arrival_order_does_not_change_the_survivors(void **state)
{
    (void)state;
    enum { N = 200 };
    sf_dedupe *fwd = sf_dedupe_new(), *rev = sf_dedupe_new();
    char key[16], rec[32];
    for (int pass = 0; pass < 2; pass++) {
        for (int j = 0; j < N; j++) {
            int i = pass ? N - 1 - j : j;
            snprintf(key, sizeof key, "k%d", i % 17);
            snprintf(rec, sizeof rec, "row%d", i);
            sf_dedupe_ord o = {0, (uint64_t)(i / 50), (uint64_t)i * 10, 0};
            assert_true(offer(pass ? rev : fwd, key, o, rec, 1, NULL) >= 0);
        }
    }
    assert_int_equal(sf_dedupe_count(fwd), 17);
    assert_int_equal(sf_dedupe_count(rev), 17);
    for (size_t i = 0; i < 17; i++) {
        /* fwd saw keys 0..16 first in that order, with rows 0..16 */
        size_t len;
        const char *r = kept(fwd, i, &len);
        snprintf(rec, sizeof rec, "row%zu", i);
        assert_int_equal(len, strlen(rec));
        assert_memory_equal(r, rec, len);
        sf_dedupe_ord o;
        for (size_t k = 0; k < 17; k++) {
            sf_dedupe_entry(rev, k, NULL, NULL, &o, NULL);
            if (o.offset == i * 10)
                break;
            assert_true(k < 16);
        }
    }
    sf_dedupe_free(fwd);
    sf_dedupe_free(rev);
}

static void test_kept_row_gives_back_its_key_hash(void **state)
{
    (void)state;
    /* A spill under a memory budget partitions kept rows by this hash. */
    sf_dedupe *t = sf_dedupe_new();
    assert_non_null(t);
    assert_int_equal(offer(t, "k1", (sf_dedupe_ord){0, 0, 1, 0}, "r1", 1, NULL), SF_DEDUPE_NEW);
    assert_int_equal(offer(t, "k2", (sf_dedupe_ord){0, 0, 2, 0}, "r2", 1, NULL), SF_DEDUPE_NEW);
    assert_int_equal(offer(t, "k1", (sf_dedupe_ord){0, 0, 0, 0}, "r0", 1, NULL),
                     SF_DEDUPE_REPLACED);
    assert_true(sf_dedupe_hash(t, 0) == sf_hash_bytes("k1", 2, SF_KEY_HASH_SEED));
    assert_true(sf_dedupe_hash(t, 1) == sf_hash_bytes("k2", 2, SF_KEY_HASH_SEED));
    sf_dedupe_free(t);
}

static void test_free_null_is_a_no_op(void **state)
{
    (void)state;
    sf_dedupe_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_offer_of_a_key_is_kept),
        cmocka_unit_test(test_a_later_row_is_dropped),
        cmocka_unit_test(test_an_earlier_row_replaces_the_kept_one_and_reports_its_tag),
        cmocka_unit_test(test_arrival_order_does_not_change_the_survivors),
        cmocka_unit_test(test_kept_row_gives_back_its_key_hash),
        cmocka_unit_test(test_free_null_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
