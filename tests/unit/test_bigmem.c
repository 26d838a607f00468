/* test_bigmem.c - zeroed blocks for large tables: small and huge-page
 * sized blocks are zeroed, writable to the last byte and freed with free();
 * an overflowing size is refused. Uninitialized blocks for data written in
 * order (sf_bigmem_alloc). */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/bigmem.h"

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i])
            return 0;
    }
    return 1;
}

static void test_small_and_large_blocks_are_zeroed_and_writable(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 32, 4096, SF_BIGMEM_HUGE - 32, SF_BIGMEM_HUGE,
                                   SF_BIGMEM_HUGE + 4096 + 32};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k] / 32;
        unsigned char *p = sf_bigmem_calloc(n ? n : 1, 32);
        assert_non_null(p);
        size_t bytes = (n ? n : 1) * 32;
        assert_true(all_zero(p, bytes));
        memset(p, 0x5a, bytes);
        assert_int_equal(p[bytes - 1], 0x5a);
        free(p);
    }
}

/* A zeroed block made where a dirty one was freed (malloc's heap, not a
 * fresh mapping: the mmap threshold raised above the sizes): every byte
 * reads zero, the partial pages at both ends and the whole pages between,
 * for sizes that end inside a page and on a page boundary. */
static void test_zeroed_blocks_reuse_dirty_memory_as_zero(void **state)
{
    (void)state;
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
    static const size_t sizes[] = {SF_BIGMEM_STREAM, SF_BIGMEM_STREAM + 100,
                                   SF_BIGMEM_HUGE + 4096 + 8, 3 * SF_BIGMEM_HUGE + 777};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        for (int round = 0; round < 3; round++) {
            unsigned char *d = sf_bigmem_alloc(sizes[k]);
            assert_non_null(d);
            memset(d, 0xa5, sizes[k]);
            free(d);
            unsigned char *p = sf_bigmem_calloc(sizes[k], 1);
            assert_non_null(p);
            assert_true(all_zero(p, sizes[k]));
            memset(p, 0x3c, sizes[k]);
            free(p);
        }
    }
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

static void test_huge_blocks_are_aligned_to_2_mib(void **state)
{
    (void)state;
    void *p = sf_bigmem_calloc(SF_BIGMEM_HUGE / 8, 8);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % ((uintptr_t)2 << 20), 0);
    free(p);
}

/* Uninitialized blocks: any size gives a block to free, writable to its
 * last byte; from SF_BIGMEM_STREAM bytes on it starts on a 2 MiB
 * boundary (where huge pages can back it). */
static void test_stream_blocks_are_writable_and_large_ones_aligned(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 4096, SF_BIGMEM_STREAM - 1, SF_BIGMEM_STREAM,
                                   SF_BIGMEM_STREAM + 12345};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        unsigned char *p = sf_bigmem_alloc(sizes[k]);
        assert_non_null(p);
        if (sizes[k]) {
            memset(p, 0xA5, sizes[k]);
            assert_int_equal(p[sizes[k] - 1], 0xA5);
        }
        if (sizes[k] >= SF_BIGMEM_STREAM)
            assert_int_equal((uintptr_t)p % ((uintptr_t)2 << 20), 0);
        free(p);
    }
}

/* The policy's names, both ways. */
static void test_policy_names(void **state)
{
    (void)state;
    assert_int_equal(sf_bigmem_policy_parse(NULL), SF_BIGMEM_ALL);
    assert_int_equal(sf_bigmem_policy_parse("all"), SF_BIGMEM_ALL);
    assert_int_equal(sf_bigmem_policy_parse("tables"), SF_BIGMEM_TABLES);
    assert_int_equal(sf_bigmem_policy_parse("none"), SF_BIGMEM_NONE);
    assert_int_equal(sf_bigmem_policy_parse("All"), -1);
    assert_int_equal(sf_bigmem_policy_parse("auto"), -1);
    assert_int_equal(sf_bigmem_policy_parse(""), -1);
    static const sf_bigmem_policy_kind kinds[] = {SF_BIGMEM_ALL, SF_BIGMEM_TABLES, SF_BIGMEM_NONE};
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(sf_bigmem_policy_parse(sf_bigmem_policy_name(kinds[k])), kinds[k]);
}

/* Under each policy the blocks are the same to their users: aligned from
 * SF_BIGMEM_STREAM bytes on, zeroed where asked, writable to the last
 * byte (which pages back them is the kernel's; /proc/self/smaps reports
 * per mapping, and glibc may put several blocks in one). */
static void test_each_policy_gives_the_same_blocks(void **state)
{
    (void)state;
    static const sf_bigmem_policy_kind kinds[] = {SF_BIGMEM_ALL, SF_BIGMEM_TABLES, SF_BIGMEM_NONE};
    const size_t n = 3 * SF_BIGMEM_HUGE;
    for (size_t k = 0; k < 3; k++) {
        sf_bigmem_set_policy(kinds[k]);
        assert_int_equal(sf_bigmem_policy(), kinds[k]);
        unsigned char *p = sf_bigmem_alloc(n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % ((uintptr_t)2 << 20), 0);
        memset(p, 0x77, n);
        assert_int_equal(p[n - 1], 0x77);
        unsigned char *z = sf_bigmem_calloc(n, 1);
        assert_non_null(z);
        assert_true(all_zero(z, n));
        memset(z, 0x11, n);
        assert_int_equal(z[n - 1], 0x11);
        unsigned char *m = malloc(n);
        assert_non_null(m);
        sf_bigmem_advise(m, n);
        memset(m, 0x22, n);
        assert_int_equal(m[n - 1], 0x22);
        free(m);
        free(z);
        free(p);
    }
    sf_bigmem_set_policy(SF_BIGMEM_ALL);
}

static void test_overflowing_size_is_null(void **state)
{
    (void)state;
    assert_null(sf_bigmem_calloc(SIZE_MAX / 2, 4));
    assert_null(sf_bigmem_calloc(SIZE_MAX, SIZE_MAX));
}

static void test_zero_elements_give_a_block_to_free(void **state)
{
    (void)state;
    void *p = sf_bigmem_calloc(0, 16);
    assert_non_null(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_and_large_blocks_are_zeroed_and_writable),
        cmocka_unit_test(test_huge_blocks_are_aligned_to_2_mib),
        cmocka_unit_test(test_zeroed_blocks_reuse_dirty_memory_as_zero),
        cmocka_unit_test(test_stream_blocks_are_writable_and_large_ones_aligned),
        cmocka_unit_test(test_policy_names),
        cmocka_unit_test(test_each_policy_gives_the_same_blocks),
        cmocka_unit_test(test_overflowing_size_is_null),
        cmocka_unit_test(test_zero_elements_give_a_block_to_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
