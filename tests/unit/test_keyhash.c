/* test_keyhash.c - partition/keyhash.h: a key's hash is the combiner's
 * group hash of its encoding, whichever way it is formed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/groups.h"
#include "core/hash.h"
#include "partition/keyhash.h"

static void test_key_hash_is_the_group_hash(void **state)
{
    (void)state;
    const unsigned char k[] = "some key bytes";
    assert_true(sf_key_hash(k, sizeof k) == sf_groups_hash(k, sizeof k));
    assert_true(sf_key_hash(k, sizeof k) == sf_hash_bytes(k, sizeof k, SF_KEY_HASH_SEED));
}

static void test_columns_hash_as_their_concatenated_encoding(void **state)
{
    (void)state;
    sf_value row[3] = {sf_int(7), sf_string("FR", 2), sf_date(20301)};
    const int cols[2] = {2, 1};
    unsigned char enc[64];
    size_t n = sf_value_encode(&row[2], enc);
    n += sf_value_encode(&row[1], enc + n);
    sf_buf scratch = SF_BUF_INIT;
    uint64_t h = 0;
    assert_int_equal(sf_key_hash_columns(row, cols, 2, &scratch, &h), 0);
    assert_true(h == sf_key_hash(enc, n));
    /* The scratch buffer is reused: a second key does not see the first. */
    assert_int_equal(sf_key_hash_columns(row, cols + 1, 1, &scratch, &h), 0);
    n = sf_value_encode(&row[1], enc);
    assert_true(h == sf_key_hash(enc, n));
    sf_buf_free(&scratch);
}

static void test_one_value_hashes_like_a_one_column_key(void **state)
{
    (void)state;
    sf_value row[1] = {sf_int(123456789)};
    const int col = 0;
    sf_buf scratch = SF_BUF_INIT;
    uint64_t a = 0, b = 1;
    assert_int_equal(sf_key_hash_columns(row, &col, 1, &scratch, &a), 0);
    assert_int_equal(sf_key_hash_value(&row[0], &b), 0);
    assert_true(a == b);
    sf_buf_free(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_hash_is_the_group_hash),
        cmocka_unit_test(test_columns_hash_as_their_concatenated_encoding),
        cmocka_unit_test(test_one_value_hashes_like_a_one_column_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
