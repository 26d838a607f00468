/* test_parquet_format.c - unit tests of what the Parquet writer and reader
 * share (io/parquet_format.h): the RLE/bit-packing hybrid round trip at
 * every bit width and length, the spec's bit-packing example, malformed
 * runs rejected; every codec's round trip, and wrong sizes, damaged or cut
 * streams and unsupported codecs rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/parquet_format.h"

static void test_hybrid_round_trip(void **state)
{
    (void)state;
    size_t n = 1000;
    uint32_t *v = malloc(n * sizeof *v), *back = malloc(n * sizeof *back);
    for (int width = 0; width <= 32; width++) {
        uint64_t lim = width == 32 ? 0xffffffffull : ((uint64_t)1 << width) - 1;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = (i / 37) % 3 == 0 ? 5 : i * 2654435761u; /* runs and noise */
            v[i] = (uint32_t)(lim ? x % (lim + 1) : 0);
        }
        for (size_t m = 0; m <= n; m += (m < 20 ? 1 : 97)) {
            sf_buf b = SF_BUF_INIT;
            assert_int_equal(sf_pq_hybrid_encode(v, m, width, &b), 0);
            const char *why = NULL;
            assert_int_equal(sf_pq_hybrid_decode(b.p, b.n, width, m, back, &why), 0);
            if (m)
                assert_memory_equal(v, back, m * sizeof *v);
            sf_buf_free(&b);
        }
    }
    /* The spec's example: 0..7 with bit width 3 bit-packed. */
    const unsigned char ex[] = {0x03, 0x88, 0xc6, 0xfa};
    const char *why;
    assert_int_equal(sf_pq_hybrid_decode(ex, 4, 3, 8, back, &why), 0);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(back[i], i);
    free(v);
    free(back);
}


static void test_codecs_round_trip_and_reject_garbage(void **state)
{
    (void)state;
    size_t n = 100000;
    unsigned char *src = malloc(n), *back = malloc(n);
    for (size_t i = 0; i < n; i++)
        src[i] = (unsigned char)(i % 251 < 200 ? 'a' + i % 7 : i * 31);
    const int codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP, PQ_CODEC_ZSTD};
    for (size_t k = 0; k < 4; k++) {
        sf_buf out = SF_BUF_INIT;
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_pq_compress(codecs[k], 0, src, n, &out, &err), 0);
        if (k)
            assert_true(out.n < n);
        assert_int_equal(sf_pq_decompress(codecs[k], out.p, out.n, back, n, &err), 0);
        assert_memory_equal(src, back, n);
        /* a wrong expected size and a damaged stream are SF_E_PARSE */
        assert_int_equal(sf_pq_decompress(codecs[k], out.p, out.n, back, n - 1, &err), SF_E_PARSE);
        if (k) {
            out.p[out.n / 2] ^= 0x5a;
            out.p[1] ^= 0xff;
            /* damaged: no crash, and no other outcome than data or SF_E_PARSE */
            int rc = sf_pq_decompress(codecs[k], out.p, out.n, back, n, &err);
            assert_true(rc == SF_E_PARSE || rc == 0);
            assert_int_equal(sf_pq_decompress(codecs[k], out.p, out.n / 3, back, n, &err),
                             SF_E_PARSE);
        }
        sf_buf_free(&out);
    }
    sf_error err;
    assert_int_equal(sf_pq_decompress(4 /* BROTLI */, src, 10, back, 10, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "BROTLI"));
    free(src);
    free(back);
}

static void test_hybrid_rejects_malformed_runs(void **state)
{
    (void)state;
    uint32_t out[16];
    const char *why = NULL;
    const unsigned char empty_run[] = {0x00};
    assert_int_equal(sf_pq_hybrid_decode(empty_run, 1, 1, 1, out, &why), SF_E_PARSE);
    const unsigned char wide[] = {0x02, 0x05}; /* RLE run of 1, value 5 at width 2 */
    assert_int_equal(sf_pq_hybrid_decode(wide, 2, 2, 1, out, &why), SF_E_PARSE);
    const unsigned char short_pack[] = {0x03}; /* one group of 8 at width 3, no bytes */
    assert_int_equal(sf_pq_hybrid_decode(short_pack, 1, 3, 8, out, &why), SF_E_PARSE);
    const unsigned char rle[] = {0x08, 0x01}; /* 4 x 1 */
    assert_int_equal(sf_pq_hybrid_decode(rle, 2, 1, 5, out, &why), SF_E_PARSE);
    assert_int_equal(sf_pq_hybrid_decode(rle, 2, 1, 4, out, &why), 0);
    assert_int_equal(sf_pq_hybrid_decode(rle, 2, 33, 1, out, &why), SF_E_PARSE);
    assert_int_equal(sf_pq_bit_width(0), 0);
    assert_int_equal(sf_pq_bit_width(1), 1);
    assert_int_equal(sf_pq_bit_width(255), 8);
    assert_int_equal(sf_pq_bit_width(256), 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hybrid_round_trip),
        cmocka_unit_test(test_hybrid_rejects_malformed_runs),
        cmocka_unit_test(test_codecs_round_trip_and_reject_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
