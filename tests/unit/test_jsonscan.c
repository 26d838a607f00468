/* test_jsonscan.c - the run-time chosen string scans against a byte loop.
 *
 * Each wide scan this CPU has runs over text that ends at the last byte of
 * a mapped page followed by an unmapped one (and starts at the first byte
 * of a page after an unmapped one), so a read outside [s, e) faults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/jsonscan.h"

static const unsigned char *reference(const unsigned char *s, const unsigned char *e)
{
    while (s < e && *s != '"' && *s != '\\' && *s >= 0x20 && *s < 0x80)
        s++;
    return s;
}

/* Three pages: none, read-write, none. */
static unsigned char *guarded(size_t *page)
{
    long ps = sysconf(_SC_PAGESIZE);
    assert_true(ps > 0 && ps >= 512);
    *page = (size_t)ps;
    unsigned char *m = mmap(NULL, 3 * *page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + *page, *page, PROT_READ | PROT_WRITE), 0);
    return m;
}

static void check_level(sf_simd_level level)
{
    sf_jsonscan_fn fn = sf_jsonscan_plain_fn(level);
    assert_non_null(fn);
    size_t page;
    unsigned char *m = guarded(&page);
    unsigned char *lo = m + page, *hi = m + 2 * page;
    static const unsigned char stops[] = {'"', '\\', 0x00, 0x1f, 0x80, 0xc3, 0xff};
    static const unsigned char plain[] = {' ', '!', '#', '[', ']', 'a', 0x7f};
    for (size_t len = 0; len <= 200; len++) {
        for (int end = 0; end < 2; end++) {
            /* the text at the end of the page, or at its start */
            unsigned char *s = end ? hi - len : lo;
            unsigned char *e = s + len;
            for (size_t i = 0; i < len; i++)
                s[i] = plain[i % sizeof plain];
            assert_ptr_equal(fn(s, e), e);
            for (size_t at = 0; at < len; at++)
                for (size_t k = 0; k < sizeof stops; k++) {
                    unsigned char keep = s[at];
                    s[at] = stops[k];
                    assert_ptr_equal(fn(s, e), reference(s, e));
                    assert_ptr_equal(fn(s, e), s + at);
                    s[at] = keep;
                }
        }
    }
    munmap(m, 3 * page);
}

static void test_wide_scans_find_the_first_stop_and_read_nothing_outside(void **state)
{
    (void)state;
    int checked = 0;
    sf_simd_level best = sf_jsonscan_force(-1);
    for (int l = SF_SIMD_AVX2; l <= (int)best; l++) {
        check_level((sf_simd_level)l);
        checked++;
    }
    print_message("wide scans checked: %d (best level %s)\n", checked, sf_simd_level_name(best));
}

static void test_levels_below_avx2_have_no_wide_scan(void **state)
{
    (void)state;
    assert_null(sf_jsonscan_plain_fn(SF_SIMD_SCALAR));
    assert_null(sf_jsonscan_plain_fn(SF_SIMD_SSE2));
}

static void test_force_caps_the_level_and_minus_one_lifts_it(void **state)
{
    (void)state;
    sf_simd_level best = sf_jsonscan_force(-1);
    assert_int_equal(sf_jsonscan_level(), best);
    assert_int_equal(sf_jsonscan_force(SF_SIMD_SCALAR), SF_SIMD_SCALAR);
    assert_int_equal(sf_jsonscan_level(), SF_SIMD_SCALAR);
    assert_true(sf_jsonscan_force(SF_SIMD_AVX512) == best);
    sf_jsonscan_force(-1);
    assert_string_equal(sf_simd_level_name(SF_SIMD_SCALAR), "scalar");
    assert_string_equal(sf_simd_level_name(SF_SIMD_SSE2), "sse2");
    assert_string_equal(sf_simd_level_name(SF_SIMD_AVX2), "avx2");
    assert_string_equal(sf_simd_level_name(SF_SIMD_AVX512), "avx512");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide_scans_find_the_first_stop_and_read_nothing_outside),
        cmocka_unit_test(test_levels_below_avx2_have_no_wide_scan),
        cmocka_unit_test(test_force_caps_the_level_and_minus_one_lifts_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
