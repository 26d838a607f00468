/* test_scan.c - unit tests of the scan's chunk plans (mpi/scan.c).
 *
 * sf_scan_make_chunks cuts equal chunks; sf_scan_make_chunks_guided cuts
 * the input's tail smaller for dynamic scheduling. Every plan must cover
 * each file exactly once, in order, with ranges that touch; the guided one
 * must keep the chunks before its tail and shrink the tail as documented.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "mpi/scan.h"

#define MIB ((uint64_t)1 << 20)

/* Each file's chunks in order, touching, from 0 to its size; none empty,
 * none over chunk_size. */
static void check_cover(const sf_chunk *c, size_t n, const uint64_t *sizes, size_t nfiles,
                        uint64_t chunk_size)
{
    size_t i = 0;
    for (size_t f = 0; f < nfiles; f++) {
        uint64_t at = 0;
        while (i < n && c[i].file == (int32_t)f) {
            assert_int_equal(c[i].kind, SF_CHUNK_RANGE);
            assert_int_equal(c[i].start, at);
            assert_int_equal(c[i].prev, at);
            assert_true(c[i].end > c[i].start);
            assert_true(c[i].end - c[i].start <= chunk_size);
            at = c[i].end;
            i++;
        }
        assert_int_equal(at, sizes[f]);
    }
    assert_int_equal(i, n);
}

static void test_equal_chunks(void **state)
{
    (void)state;
    const uint64_t sizes[] = {10, 0, 25};
    size_t n = 0;
    sf_chunk *c = sf_scan_make_chunks(sizes, 3, 10, &n);
    assert_non_null(c);
    assert_int_equal(n, 4);
    check_cover(c, n, sizes, 3, 10);
    assert_int_equal(c[3].file, 2);
    assert_int_equal(c[3].start, 20);
    assert_int_equal(c[3].end, 25);
    free(c);
}

/* 1 GiB in 64 MiB chunks on 2 ranks: full chunks while 256 MiB or more are
 * left, then a quarter of what is left each time in whole 4 MiB, down to
 * 4 MiB. */
static void test_guided_tail(void **state)
{
    (void)state;
    const uint64_t sizes[] = {1024 * MIB};
    size_t n = 0;
    sf_chunk *c = sf_scan_make_chunks_guided(sizes, 1, 64 * MIB, 2, &n);
    assert_non_null(c);
    check_cover(c, n, sizes, 1, 64 * MIB);
    size_t i = 0;
    for (; c[i].start < 832 * MIB; i++)
        assert_int_equal(c[i].end - c[i].start, 64 * MIB);
    assert_int_equal(i, 13); /* 12 from 0, the 13th when exactly 256 MiB are left */
    assert_int_equal(c[i].end - c[i].start, 48 * MIB);
    assert_int_equal(c[i + 1].end - c[i + 1].start, 36 * MIB);
    assert_int_equal(c[i + 2].end - c[i + 2].start, 24 * MIB); /* 108 / 4 = 27 */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(c[k].start % (4 * MIB), 0);
    for (size_t k = i + 1; k < n; k++)
        assert_true(c[k].end - c[k].start <= c[k - 1].end - c[k - 1].start);
    for (size_t k = i; k + 1 < n; k++)
        assert_true(c[k].end - c[k].start >= 4 * MIB);
    assert_true(c[n - 1].end - c[n - 1].start <= 4 * MIB);
    free(c);
}

/* The tail counts the bytes of all files: the first file keeps full chunks,
 * the second's end shrinks. */
static void test_guided_files(void **state)
{
    (void)state;
    const uint64_t sizes[] = {300 * MIB + 7, 0, 100 * MIB};
    size_t n = 0;
    sf_chunk *c = sf_scan_make_chunks_guided(sizes, 3, 32 * MIB, 3, &n);
    assert_non_null(c);
    check_cover(c, n, sizes, 3, 32 * MIB);
    /* 192 MiB zone: it starts inside the first file (400 MiB + 7 in all). */
    assert_int_equal(c[0].end - c[0].start, 32 * MIB);
    assert_true(c[n - 1].file == 2);
    size_t small = 0;
    for (size_t k = 0; k < n; k++)
        small += c[k].end - c[k].start < 32 * MIB;
    assert_true(small >= 6);
    for (size_t k = 0; k + 1 < n; k++)
        if (c[k].file == 2 && c[k + 1].file == 2)
            assert_true(c[k + 1].end - c[k + 1].start <= c[k].end - c[k].start);
    free(c);
}

/* The guided plan is the equal one. */
static void assert_equal_plans(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size,
                               int nranks)
{
    size_t n = 0, m = 0;
    sf_chunk *a = sf_scan_make_chunks_guided(sizes, nfiles, chunk_size, nranks, &n);
    sf_chunk *b = sf_scan_make_chunks(sizes, nfiles, chunk_size, &m);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(n, m);
    assert_memory_equal(a, b, n * sizeof *a);
    free(a);
    free(b);
}

/* One rank has no one to wait for; a chunk at the floor stays equal. */
static void test_guided_equal_cases(void **state)
{
    (void)state;
    const uint64_t sizes[] = {100 * MIB + 1};
    assert_equal_plans(sizes, 1, 8 * MIB, 1);
    assert_equal_plans(sizes, 1, SF_SCAN_GUIDED_FLOOR, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_chunks),
        cmocka_unit_test(test_guided_tail),
        cmocka_unit_test(test_guided_files),
        cmocka_unit_test(test_guided_equal_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
