/* test_xsum.c - exact sums: agreement with Python's math.fsum (expected
 * values computed with Python 3.11 and pasted as hex floats), order and
 * split independence, merging, serialization, spill, specials, overflow. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/xsum.h"

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Same double, bit for bit (so -0.0 differs from 0.0, NaN equals NaN). */
#define assert_same_double(a, b) assert_int_equal(bits_of(a), bits_of(b))

static double sum_of(const double *v, size_t n)
{
    sf_xsum s;
    sf_xsum_init(&s);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sf_xsum_add(&s, v[i]), 0);
    double r = sf_xsum_round(&s);
    sf_xsum_free(&s);
    return r;
}

static double naive_sum(const double *v, size_t n)
{
    volatile double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += v[i];
    return acc;
}

static void test_empty_sum_is_positive_zero(void **state)
{
    (void)state;
    sf_xsum s;
    sf_xsum_init(&s);
    assert_same_double(sf_xsum_round(&s), 0.0);
    assert_int_equal(s.n, 0);
    sf_xsum_free(&s);
}

static void test_zeroed_bytes_are_an_empty_sum(void **state)
{
    (void)state;
    sf_xsum s;
    memset(&s, 0, sizeof s);
    assert_same_double(sf_xsum_round(&s), 0.0);
    const double v[] = {1e16, 1.0, 1e-16};
    for (int i = 0; i < 3; i++)
        assert_int_equal(sf_xsum_add(&s, v[i]), 0);
    assert_same_double(sf_xsum_round(&s), 0x1.1c37937e08001p+53);
    sf_xsum_free(&s);
}

static void test_cancellation_that_naive_sum_loses(void **state)
{
    (void)state;
    const double v[] = {1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50};
    size_t n = sizeof v / sizeof v[0];
    assert_same_double(naive_sum(v, n), 0.0);
    assert_same_double(sum_of(v, n), 0x1.bff2ee48e0530p-333); /* 1e-100 */
    const double w[] = {1e100, 1.0, -1e100};
    assert_same_double(sum_of(w, 3), 1.0);
}

static void test_ten_tenths_make_exactly_one(void **state)
{
    (void)state;
    double v[10];
    for (int i = 0; i < 10; i++)
        v[i] = 0.1;
    assert_same_double(naive_sum(v, 10), 0x1.fffffffffffffp-1);
    assert_same_double(sum_of(v, 10), 1.0);
}

static void test_exact_tie_rounds_half_even(void **state)
{
    (void)state;
    const double down[] = {1.0, 0x1p-53}; /* halfway, 1.0 is even */
    assert_same_double(sum_of(down, 2), 1.0);
    const double up[] = {0x1.0000000000001p+0, 0x1p-53}; /* halfway, odd below */
    assert_same_double(sum_of(up, 2), 0x1.0000000000002p+0);
}

static void test_tie_broken_by_lower_partial(void **state)
{
    (void)state;
    /* The third partial decides a value that would be a tie without it. */
    const double above[] = {1.0, 0x1p-53, 0x1p-80};
    assert_same_double(sum_of(above, 3), 0x1.0000000000001p+0);
    const double below[] = {1.0, 0x1p-53, -0x1p-80};
    assert_same_double(sum_of(below, 3), 1.0);
    const double brief[] = {1.0, 1e-16, 1e-16};
    assert_same_double(naive_sum(brief, 3), 1.0);
    assert_same_double(sum_of(brief, 3), 0x1.0000000000001p+0);
}

static void test_half_even_correction_across_partials(void **state)
{
    (void)state;
    /* Python's own example: 1e16 + 1 is a tie, the 1e-16 tips it up. */
    const double v[] = {1e16, 1.0, 1e-16};
    assert_same_double(naive_sum(v, 3), 1e16);
    assert_same_double(sum_of(v, 3), 0x1.1c37937e08001p+53);
    const double r[] = {1e-16, 1.0, 1e16};
    assert_same_double(sum_of(r, 3), 0x1.1c37937e08001p+53);
    const double neg[] = {-1e16, -1.0, -1e-16};
    assert_same_double(sum_of(neg, 3), -0x1.1c37937e08001p+53);
}

static const double prices[] = {354.41, 19.99, 0.01,    1234.56, 7.35, 0.99,
                                42.42,  100.1, 3.33,    2500.75, 0.07, 18.6};
#define NPRICE 1200

static void fill_prices(double *v)
{
    for (int i = 0; i < NPRICE; i++)
        v[i] = prices[i % 12] * (i % 5 ? 1 : -1);
}

static void test_prices_any_order_same_bits(void **state)
{
    (void)state;
    static double v[NPRICE];
    fill_prices(v);
    const double expect = 0x1.f5dd666666666p+17; /* math.fsum */
    assert_true(bits_of(naive_sum(v, NPRICE)) != bits_of(expect));
    assert_same_double(sum_of(v, NPRICE), expect);
    static double r[NPRICE];
    for (int i = 0; i < NPRICE; i++)
        r[i] = v[NPRICE - 1 - i];
    assert_same_double(sum_of(r, NPRICE), expect);
    /* Stride order: every 7th element, 7 passes. */
    sf_xsum s;
    sf_xsum_init(&s);
    for (int k = 0; k < 7; k++)
        for (int i = k; i < NPRICE; i += 7)
            assert_int_equal(sf_xsum_add(&s, v[i]), 0);
    assert_same_double(sf_xsum_round(&s), expect);
    sf_xsum_free(&s);
}

static void test_prices_merged_in_different_splits_same_bits(void **state)
{
    (void)state;
    static double v[NPRICE];
    fill_prices(v);
    const double expect = 0x1.f5dd666666666p+17;
    const int splits[] = {1, 2, 3, 7, 64, NPRICE};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        int parts = splits[k];
        sf_xsum total;
        sf_xsum_init(&total);
        for (int p = parts - 1; p >= 0; p--) { /* merge in reverse too */
            sf_xsum part;
            sf_xsum_init(&part);
            for (int i = p * NPRICE / parts; i < (p + 1) * NPRICE / parts; i++)
                assert_int_equal(sf_xsum_add(&part, v[i]), 0);
            assert_int_equal(sf_xsum_merge(&total, &part), 0);
            sf_xsum_free(&part);
        }
        assert_same_double(sf_xsum_round(&total), expect);
        sf_xsum_free(&total);
    }
}

static void test_merge_with_itself_doubles(void **state)
{
    (void)state;
    sf_xsum s;
    sf_xsum_init(&s);
    const double v[] = {1e16, 1.0, 1e-16};
    for (int i = 0; i < 3; i++)
        sf_xsum_add(&s, v[i]);
    assert_int_equal(sf_xsum_merge(&s, &s), 0);
    assert_same_double(sf_xsum_round(&s), 2 * 0x1.1c37937e08001p+53);
    sf_xsum_free(&s);
}

static void test_serialized_roundtrip_and_merge(void **state)
{
    (void)state;
    const double v[] = {1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50};
    sf_xsum a, b;
    sf_xsum_init(&a);
    sf_xsum_init(&b);
    for (int i = 0; i < 4; i++)
        sf_xsum_add(&a, v[i]);
    for (int i = 4; i < 7; i++)
        sf_xsum_add(&b, v[i]);
    /* Two sums back to back: each read must stop at its own end. */
    size_t na = sf_xsum_serialized_size(&a), nb = sf_xsum_serialized_size(&b);
    unsigned char buf[256];
    assert_true(na + nb <= sizeof buf);
    assert_int_equal(sf_xsum_serialize(&a, buf), na);
    assert_int_equal(sf_xsum_serialize(&b, buf + na), nb);
    sf_xsum c;
    sf_xsum_init(&c);
    size_t used = 0;
    assert_int_equal(sf_xsum_merge_serialized(&c, buf, na + nb, &used), 0);
    assert_int_equal(used, na);
    assert_same_double(sf_xsum_round(&c), sf_xsum_round(&a));
    assert_int_equal(sf_xsum_merge_serialized(&c, buf + na, nb, &used), 0);
    assert_int_equal(used, nb);
    assert_same_double(sf_xsum_round(&c), 0x1.bff2ee48e0530p-333);
    sf_xsum_free(&a);
    sf_xsum_free(&b);
    sf_xsum_free(&c);
}

static void test_serialized_form_is_little_endian(void **state)
{
    (void)state;
    sf_xsum s;
    sf_xsum_init(&s);
    sf_xsum_add(&s, 1.0);
    unsigned char buf[32];
    assert_int_equal(sf_xsum_serialize(&s, buf), 13);
    const unsigned char expect[13] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    assert_memory_equal(buf, expect, 13);
    sf_xsum_free(&s);
}

static void test_truncated_or_bad_serialized_is_parse_error(void **state)
{
    (void)state;
    sf_xsum s;
    sf_xsum_init(&s);
    sf_xsum_add(&s, 1.0);
    sf_xsum_add(&s, 1e-30);
    unsigned char buf[64];
    size_t n = sf_xsum_serialize(&s, buf);
    sf_xsum d;
    sf_xsum_init(&d);
    sf_xsum_add(&d, 5.0);
    size_t used = 99;
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(sf_xsum_merge_serialized(&d, buf, cut, &used), SF_E_PARSE);
    assert_int_equal(used, 0);
    unsigned char bad[64];
    memcpy(bad, buf, n);
    bad[4] = 0x80; /* unknown flag */
    assert_int_equal(sf_xsum_merge_serialized(&d, bad, n, &used), SF_E_PARSE);
    memcpy(bad, buf, n);
    memcpy(bad + 5, (unsigned char[8]){0, 0, 0, 0, 0, 0, 0xf0, 0x7f}, 8); /* inf partial */
    assert_int_equal(sf_xsum_merge_serialized(&d, bad, n, &used), SF_E_PARSE);
    /* None of the failures touched d. */
    assert_same_double(sf_xsum_round(&d), 5.0);
    sf_xsum_free(&s);
    sf_xsum_free(&d);
}

static void test_spill_beyond_inline_stays_exact(void **state)
{
    (void)state;
    /* Powers of two 60 bits apart never share a double: one partial each. */
    sf_xsum s;
    sf_xsum_init(&s);
    for (int i = -17; i <= 17; i++)
        assert_int_equal(sf_xsum_add(&s, ldexp(1.0, 60 * i)), 0);
    assert_true(s.n > SF_XSUM_INLINE);
    assert_non_null(s.heap);
    assert_int_equal(s.n, 35);
    /* Taking all but the smallest away again leaves it exactly. */
    for (int i = 17; i > -17; i--)
        assert_int_equal(sf_xsum_add(&s, -ldexp(1.0, 60 * i)), 0);
    assert_same_double(sf_xsum_round(&s), ldexp(1.0, -1020));
    sf_xsum_free(&s);
    assert_null(s.heap);
    assert_int_equal(s.n, 0);
    assert_same_double(sf_xsum_round(&s), 0.0);
}

static void test_spilled_sums_match_fsum_in_any_order(void **state)
{
    (void)state;
    double v[35];
    for (int i = -17; i <= 17; i++)
        v[i + 17] = (i % 2 != 0 ? -1.0 : 1.0) * ldexp(1.0, 60 * i); /* (-1)**i */
    assert_same_double(sum_of(v, 35), -0x1.0000000000000p+1020);
    double w[35];
    for (int i = -17; i < 17; i++)
        w[i + 17] = ldexp(1.0, 60 * i) + ldexp(1.0, 60 * i - 53);
    w[34] = 3 * ldexp(1.0, 60 * 17 - 53);
    assert_same_double(sum_of(w, 35), 0x1.8100000000000p+968);
    double r[35];
    for (int i = 0; i < 35; i++)
        r[i] = w[34 - i];
    assert_same_double(sum_of(r, 35), 0x1.8100000000000p+968);
    /* A spilled sum merged into an inline one and the other way round. */
    sf_xsum a, b;
    sf_xsum_init(&a);
    sf_xsum_init(&b);
    for (int i = 0; i < 35; i++)
        sf_xsum_add(i % 9 ? &a : &b, w[i]);
    assert_int_equal(sf_xsum_merge(&b, &a), 0);
    assert_same_double(sf_xsum_round(&b), 0x1.8100000000000p+968);
    sf_xsum_free(&a);
    sf_xsum_free(&b);
}

static void test_infinity_dominates_and_opposite_infinities_give_nan(void **state)
{
    (void)state;
    const double a[] = {1.0, INFINITY, -1e308};
    assert_same_double(sum_of(a, 3), INFINITY);
    const double b[] = {-INFINITY, 5.0};
    assert_same_double(sum_of(b, 2), -INFINITY);
    const double c[] = {INFINITY, 2.0, -INFINITY};
    assert_true(isnan(sum_of(c, 3)));
    const double d[] = {1.0, NAN, 2.0};
    assert_true(isnan(sum_of(d, 3)));
    sf_xsum s;
    sf_xsum_init(&s);
    sf_xsum_add(&s, INFINITY);
    assert_int_equal(s.has_special, 1);
    assert_int_equal(s.overflow, 0);
    sf_xsum_free(&s);
}

static void test_special_survives_merge_and_serialization(void **state)
{
    (void)state;
    sf_xsum a, b;
    sf_xsum_init(&a);
    sf_xsum_init(&b);
    sf_xsum_add(&a, 3.0);
    sf_xsum_add(&b, -INFINITY);
    unsigned char buf[32];
    size_t n = sf_xsum_serialize(&b, buf);
    assert_int_equal(n, sf_xsum_serialized_size(&b));
    size_t used;
    assert_int_equal(sf_xsum_merge_serialized(&a, buf, n, &used), 0);
    assert_same_double(sf_xsum_round(&a), -INFINITY);
    sf_xsum c;
    sf_xsum_init(&c);
    sf_xsum_add(&c, INFINITY);
    assert_int_equal(sf_xsum_merge(&a, &c), 0);
    assert_true(isnan(sf_xsum_round(&a)));
    sf_xsum_free(&a);
    sf_xsum_free(&b);
    sf_xsum_free(&c);
}

static void test_overflow_saturates_with_sign_of_dominant_partial(void **state)
{
    (void)state;
    sf_xsum s;
    sf_xsum_init(&s);
    sf_xsum_add(&s, 1e308);
    sf_xsum_add(&s, 1e308);
    assert_int_equal(s.overflow, 1);
    assert_same_double(sf_xsum_round(&s), INFINITY);
    /* Sticky: finite values cannot bring it back. */
    sf_xsum_add(&s, -1e308);
    assert_same_double(sf_xsum_round(&s), INFINITY);
    /* An opposite infinity meets the saturated one as IEEE would. */
    sf_xsum_add(&s, -INFINITY);
    assert_true(isnan(sf_xsum_round(&s)));
    sf_xsum_free(&s);

    const double neg[] = {-1e308, -0.5e308, -0.9e308};
    assert_same_double(sum_of(neg, 3), -INFINITY);
    /* Without an intermediate overflow the exact value is kept. */
    const double ok[] = {1e308, -1e308, 1e308};
    assert_same_double(sum_of(ok, 3), 1e308);
}

static void test_overflow_flag_travels_through_merge_and_serialization(void **state)
{
    (void)state;
    sf_xsum a, b;
    sf_xsum_init(&a);
    sf_xsum_init(&b);
    sf_xsum_add(&a, -1.5e308);
    sf_xsum_add(&a, -1.5e308);
    unsigned char buf[32];
    size_t n = sf_xsum_serialize(&a, buf);
    size_t used;
    assert_int_equal(sf_xsum_merge_serialized(&b, buf, n, &used), 0);
    assert_int_equal(used, n);
    assert_int_equal(b.overflow, 1);
    assert_same_double(sf_xsum_round(&b), -INFINITY);
    sf_xsum c;
    sf_xsum_init(&c);
    assert_int_equal(sf_xsum_merge(&c, &a), 0);
    assert_int_equal(c.overflow, 1);
    assert_same_double(sf_xsum_round(&c), -INFINITY);
    sf_xsum_free(&a);
    sf_xsum_free(&b);
    sf_xsum_free(&c);
}

static void test_negative_zero_sums_to_positive_zero_like_fsum(void **state)
{
    (void)state;
    /* Python 3.11: math.fsum([-0.0]) == 0.0 with a positive sign. */
    const double a[] = {-0.0};
    assert_same_double(sum_of(a, 1), 0.0);
    const double b[] = {-0.0, -0.0};
    assert_same_double(sum_of(b, 2), 0.0);
    const double c[] = {-2.5, 2.5};
    assert_same_double(sum_of(c, 2), 0.0);
}

/* splitmix64: a fixed generator reproduced in Python for the expected sum. */
static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Random sign, exponent in [-32, 31] and full 52-bit mantissa. */
static double rng_double(uint64_t *st)
{
    uint64_t u = rng_next(st);
    uint64_t e = (uint64_t)(1023 + (int)((u >> 52) & 63) - 32);
    uint64_t b = (u & (1ull << 63)) | (e << 52) | (u & ((1ull << 52) - 1));
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

#define NRAND 10000

static void test_random_doubles_same_bits_in_three_orders_and_match_fsum(void **state)
{
    (void)state;
    static double v[NRAND];
    uint64_t st = 12345;
    for (int i = 0; i < NRAND; i++)
        v[i] = rng_double(&st);
    /* Python: the same generator, math.fsum(vals).hex() */
    const double expect = 0x1.b697c710e2248p+34;
    assert_true(bits_of(naive_sum(v, NRAND)) != bits_of(expect));

    assert_same_double(sum_of(v, NRAND), expect);

    sf_xsum s;
    sf_xsum_init(&s);
    for (int i = NRAND - 1; i >= 0; i--)
        sf_xsum_add(&s, v[i]);
    assert_same_double(sf_xsum_round(&s), expect);
    sf_xsum_free(&s);

    /* Shuffled, split in three unequal parts, one of them through bytes. */
    static double w[NRAND];
    memcpy(w, v, sizeof w);
    uint64_t sh = 777;
    for (int i = NRAND - 1; i > 0; i--) {
        int j = (int)(rng_next(&sh) % (uint64_t)(i + 1));
        double t = w[i];
        w[i] = w[j];
        w[j] = t;
    }
    sf_xsum p[3];
    const int cut[4] = {0, 1234, 7000, NRAND};
    for (int k = 0; k < 3; k++) {
        sf_xsum_init(&p[k]);
        for (int i = cut[k]; i < cut[k + 1]; i++)
            assert_int_equal(sf_xsum_add(&p[k], w[i]), 0);
    }
    size_t n = sf_xsum_serialized_size(&p[1]);
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    sf_xsum_serialize(&p[1], buf);
    size_t used;
    assert_int_equal(sf_xsum_merge(&p[2], &p[0]), 0);
    assert_int_equal(sf_xsum_merge_serialized(&p[2], buf, n, &used), 0);
    assert_same_double(sf_xsum_round(&p[2]), expect);
    free(buf);
    for (int k = 0; k < 3; k++)
        sf_xsum_free(&p[k]);
}

static void test_fixed_point_values_match_int128_exact_sum(void **state)
{
    (void)state;
    /* Multiples of 2^-20 below 2^33 in magnitude: their exact sum is an
     * __int128 count of 2^-20 units, which the compiler converts to double
     * with correct rounding. */
    uint64_t st = 99;
    __int128 exact = 0;
    sf_xsum s;
    sf_xsum_init(&s);
    for (int i = 0; i < NRAND; i++) {
        uint64_t u = rng_next(&st);
        int64_t units = (int64_t)(u >> 11) >> (u & 15); /* 53 bits at most: exact */
        if (i % 3 == 0)
            units = -units;
        exact += units;
        sf_xsum_add(&s, ldexp((double)units, -20));
    }
    assert_same_double(sf_xsum_round(&s), ldexp((double)exact, -20));
    sf_xsum_free(&s);
}

/* The compact sum fed vals gives the same bits as an sf_xsum fed them, alone
 * and through its serialized form merged into either kind; big says
 * whether it had to leave its integer form. */
static void check_compact(const double *vals, size_t n, int big)
{
    sf_xsum full;
    sf_xsumc c;
    sf_xsum_init(&full);
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sf_xsum_add(&full, vals[i]), 0);
        assert_int_equal(sf_xsumc_add(&c, vals[i]), 0);
    }
    double want = sf_xsum_round(&full);
    assert_same_double(sf_xsumc_round(&c), want);
    assert_int_equal(sf_xsumc_big(&c) != NULL, big);

    /* compact -> serialized -> full and compact */
    size_t len = sf_xsumc_serialized_size(&c);
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(sf_xsumc_serialize(&c, buf), len);
    sf_xsum f2;
    sf_xsumc c2;
    sf_xsum_init(&f2);
    memset(&c2, 0, sizeof c2);
    size_t used = 0;
    assert_int_equal(sf_xsum_merge_serialized(&f2, buf, len, &used), 0);
    assert_int_equal(used, len);
    assert_int_equal(sf_xsumc_merge_serialized(&c2, buf, len, &used), 0);
    assert_int_equal(used, len);
    assert_same_double(sf_xsum_round(&f2), want);
    assert_same_double(sf_xsumc_round(&c2), want);
    free(buf);

    /* full -> serialized -> compact holding the compact sum already:
     * twice the value */
    len = sf_xsum_serialized_size(&full);
    buf = malloc(len);
    assert_non_null(buf);
    sf_xsum_serialize(&full, buf);
    assert_int_equal(sf_xsumc_merge_serialized(&c, buf, len, &used), 0);
    assert_int_equal(used, len);
    assert_int_equal(sf_xsum_merge(&full, &f2), 0);
    assert_same_double(sf_xsumc_round(&c), sf_xsum_round(&full));
    free(buf);
    sf_xsum_free(&full);
    sf_xsum_free(&f2);
    sf_xsumc_free(&c);
    sf_xsumc_free(&c2);
    assert_null(sf_xsumc_big(&c));
}

static void test_compact_zeroed_bytes_are_an_empty_sum(void **state)
{
    (void)state;
    sf_xsumc c;
    memset(&c, 0, sizeof c);
    assert_same_double(sf_xsumc_round(&c), 0.0);
    const double z[] = {-0.0, -0.0};
    check_compact(z, 2, 0);
    check_compact(z, 0, 0);
}

static void test_compact_prices_stay_integer_and_match(void **state)
{
    (void)state;
    static double v[NRAND];
    uint64_t st = 7;
    for (int i = 0; i < NRAND; i++) {
        uint64_t u = rng_next(&st);
        v[i] = (double)(int64_t)(u % 2000000) / 100.0 * ((u >> 40) & 1 ? -1.0 : 1.0);
    }
    check_compact(v, NRAND, 0);
    const double tenths[] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    check_compact(tenths, 10, 0);
    const double big_ints[] = {0x1p62, 0x1p62 - 1024, -0x1p61, 1e18, 3.0};
    check_compact(big_ints, 5, 0);
}

static void test_compact_leaves_integer_form_exactly(void **state)
{
    (void)state;
    static double v[NRAND];
    uint64_t st = 11;
    for (int i = 0; i < NRAND; i++)
        v[i] = rng_double(&st); /* exponents down to 2^-32: past 2^-64 bits */
    check_compact(v, NRAND, 1);
    /* integer first, then a value finer than 2^-64 */
    const double fine[] = {19.99, 5.25, 0x1.8p-70, -7.5};
    check_compact(fine, 4, 1);
    const double sub[] = {1.0, 4.9406564584124654e-324};
    check_compact(sub, 2, 1);
    const double huge[] = {2.5, 0x1p63, -1.0};
    check_compact(huge, 3, 1);
    /* each fits, their total passes 2^127 units */
    const double total[] = {0x1.fffffffffffffp62, 0x1.fffffffffffffp62, 0x1.fffffffffffffp62, 0.125};
    check_compact(total, 4, 1);
    const double inf[] = {1.0, INFINITY, 2.0};
    check_compact(inf, 3, 1);
    const double nan_[] = {1.0, INFINITY, -INFINITY};
    check_compact(nan_, 3, 1);
    const double over[] = {1.0, 1e308, 1e308, -1e308};
    check_compact(over, 4, 1);
}

/* The integer form never holds a total in [-2^127, -2^127 + 2^64) (its
 * high word would read as the heap form's mark): such a total, reached by
 * one value, by a sum, or by a merged integer, moves to the heap form with
 * the exact value, and totals just above it stay integers. */
static void test_compact_total_at_the_heap_mark_moves_to_the_heap(void **state)
{
    (void)state;
    const double one[] = {-0x1p63};
    check_compact(one, 1, 1);
    const double two[] = {-0x1p62, -0x1p62, 0x1p62, 3.5};
    check_compact(two, 4, 1);
    /* -2^127 + 2^74 units, then -2^74 + 2^63 more: inside the mark's range */
    const double near[] = {-0x1p62, -0x1.ffffffffffffep61, -1023.5};
    check_compact(near, 3, 1);
    const double above[] = {-0x1p62, -0x1.ffffffffffffep61};
    check_compact(above, 2, 0);
    sf_xsumc c;
    memset(&c, 0, sizeof c);
    assert_int_equal(sf_xsumc_add(&c, -0x1p62), 0);
    assert_null(sf_xsumc_big(&c));
    assert_int_equal(sf_xsumc_add_int(&c, -((__int128)1 << 126)), 0); /* -2^127 units */
    assert_non_null(sf_xsumc_big(&c));
    assert_same_double(sf_xsumc_round(&c), -0x1p63);
    assert_int_equal(sf_xsumc_add(&c, 0x1p62), 0);
    assert_same_double(sf_xsumc_round(&c), -0x1p62);
    sf_xsumc_free(&c);
    assert_null(sf_xsumc_big(&c));
    __int128 v = 0;
    assert_int_equal(sf_xsumc_get_int(&c, &v), 1);
    assert_true(v == 0);
}

static void test_compact_merge_of_bad_record_is_parse_error_and_keeps_sum(void **state)
{
    (void)state;
    sf_xsumc c;
    memset(&c, 0, sizeof c);
    assert_int_equal(sf_xsumc_add(&c, 2.5), 0);
    unsigned char bad[13] = {1, 0, 0, 0, 0};
    double inf = INFINITY;
    memcpy(bad + 5, &inf, 8);
    size_t used = 99;
    assert_int_equal(sf_xsumc_merge_serialized(&c, bad, sizeof bad, &used), SF_E_PARSE);
    assert_int_equal(sf_xsumc_merge_serialized(&c, bad, 3, &used), SF_E_PARSE);
    bad[0] = 2; /* says two partials, holds one */
    assert_int_equal(sf_xsumc_merge_serialized(&c, bad, sizeof bad, &used), SF_E_PARSE);
    assert_null(sf_xsumc_big(&c));
    assert_same_double(sf_xsumc_round(&c), 2.5);
    sf_xsumc_free(&c);
}

static void test_compact_rounds_half_even_like_xsum(void **state)
{
    (void)state;
    const double t1[] = {0x1p53, 1.0};             /* tie: stays even */
    const double t2[] = {0x1p53, 3.0};             /* tie: goes up to even */
    const double t3[] = {0x1p53, 1.0, 0x1p-60};    /* past the tie */
    const double t4[] = {-0x1p53, -1.0, 0x1p-60};  /* short of the tie */
    const double t5[] = {-0x1p53, -3.0};
    const double t6[] = {0x1p-10, 0x1p-64, 0x1p43}; /* 117 bits apart */
    check_compact(t1, 2, 0);
    check_compact(t2, 2, 0);
    check_compact(t3, 3, 0);
    check_compact(t4, 3, 0);
    check_compact(t5, 2, 0);
    check_compact(t6, 3, 0);
    /* small random sets of full mantissas at exponents -8..40 */
    uint64_t st = 5;
    for (int k = 0; k < 3000; k++) {
        double v[6];
        size_t n = 1 + rng_next(&st) % 6;
        for (size_t i = 0; i < n; i++) {
            uint64_t u = rng_next(&st);
            v[i] = ldexp((double)(u >> 11), (int)(u % 49) - 61) * ((u >> 7) & 1 ? -1.0 : 1.0);
        }
        check_compact(v, n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_sum_is_positive_zero),
        cmocka_unit_test(test_zeroed_bytes_are_an_empty_sum),
        cmocka_unit_test(test_cancellation_that_naive_sum_loses),
        cmocka_unit_test(test_ten_tenths_make_exactly_one),
        cmocka_unit_test(test_exact_tie_rounds_half_even),
        cmocka_unit_test(test_tie_broken_by_lower_partial),
        cmocka_unit_test(test_half_even_correction_across_partials),
        cmocka_unit_test(test_prices_any_order_same_bits),
        cmocka_unit_test(test_prices_merged_in_different_splits_same_bits),
        cmocka_unit_test(test_merge_with_itself_doubles),
        cmocka_unit_test(test_serialized_roundtrip_and_merge),
        cmocka_unit_test(test_serialized_form_is_little_endian),
        cmocka_unit_test(test_truncated_or_bad_serialized_is_parse_error),
        cmocka_unit_test(test_spill_beyond_inline_stays_exact),
        cmocka_unit_test(test_spilled_sums_match_fsum_in_any_order),
        cmocka_unit_test(test_infinity_dominates_and_opposite_infinities_give_nan),
        cmocka_unit_test(test_special_survives_merge_and_serialization),
        cmocka_unit_test(test_overflow_saturates_with_sign_of_dominant_partial),
        cmocka_unit_test(test_overflow_flag_travels_through_merge_and_serialization),
        cmocka_unit_test(test_negative_zero_sums_to_positive_zero_like_fsum),
        cmocka_unit_test(test_random_doubles_same_bits_in_three_orders_and_match_fsum),
        cmocka_unit_test(test_fixed_point_values_match_int128_exact_sum),
        cmocka_unit_test(test_compact_zeroed_bytes_are_an_empty_sum),
        cmocka_unit_test(test_compact_prices_stay_integer_and_match),
        cmocka_unit_test(test_compact_leaves_integer_form_exactly),
        cmocka_unit_test(test_compact_total_at_the_heap_mark_moves_to_the_heap),
        cmocka_unit_test(test_compact_rounds_half_even_like_xsum),
        cmocka_unit_test(test_compact_merge_of_bad_record_is_parse_error_and_keeps_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
