/* test_thrift_compact.c - unit tests of the Thrift compact protocol
 * (io/thrift_compact.h): a struct with every field kind written and read
 * back, the short and long field-header forms, and every truncation failing
 * cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/thrift_compact.h"

static void test_thrift_compact_round_trip(void **state)
{
    (void)state;
    sf_buf b = SF_BUF_INIT;
    sf_tc_writer w;
    sf_tc_writer_init(&w, &b);
    sf_tc_struct_begin(&w);
    sf_tc_field_i32(&w, 1, -1);
    sf_tc_field_i64(&w, 2, INT64_MIN);
    sf_tc_field_bool(&w, 3, 1);
    sf_tc_field_string(&w, 40, "hi"); /* long-form header (delta > 15) */
    sf_tc_field_list(&w, 41, SF_TC_I32, 20);
    for (int i = 0; i < 20; i++)
        sf_tc_i32(&w, i * 1000);
    sf_tc_field_struct(&w, 42);
    sf_tc_field_bool(&w, 1, 0);
    sf_tc_struct_end(&w);
    sf_tc_struct_end(&w);
    assert_int_equal(w.err, 0);
    assert_int_equal(b.p[0], 0x15); /* delta 1, i32 */
    assert_int_equal(b.p[1], 0x01); /* zigzag(-1) */

    sf_tc_reader r;
    sf_tc_reader_init(&r, b.p, b.n);
    assert_true(sf_tc_struct_enter(&r));
    int16_t last = 0, id;
    int type, seen = 0;
    while (sf_tc_next_field(&r, &last, &id, &type)) {
        seen++;
        if (id == 1)
            assert_int_equal(sf_tc_read_i32(&r), -1);
        else if (id == 2)
            assert_true(sf_tc_read_i64(&r) == INT64_MIN);
        else if (id == 3)
            assert_int_equal(type, SF_TC_TRUE);
        else if (id == 40) {
            const unsigned char *p;
            size_t n;
            sf_tc_read_binary(&r, &p, &n);
            assert_int_equal(n, 2);
            assert_memory_equal(p, "hi", 2);
        } else if (id == 41) {
            int et;
            size_t n;
            sf_tc_read_list(&r, &et, &n);
            assert_int_equal(n, 20);
            for (int i = 0; i < 20; i++)
                assert_int_equal(sf_tc_read_i32(&r), i * 1000);
        } else {
            assert_int_equal(id, 42);
            sf_tc_skip(&r, type);
        }
    }
    assert_int_equal(r.err, 0);
    assert_int_equal(seen, 6);
    assert_true(r.p == b.p + b.n);
    /* Every truncation fails cleanly. */
    for (size_t n = 0; n < b.n; n++) {
        sf_tc_reader_init(&r, b.p, n);
        sf_tc_skip(&r, SF_TC_STRUCT);
        assert_int_equal(r.err, 1);
    }
    sf_buf_free(&b);
}

static void test_hostile_input_fails_cleanly(void **state)
{
    (void)state;
    sf_tc_reader r;
    /* a list claiming more elements than bytes */
    const unsigned char list[] = {0x19, 0xf5, 0xff, 0xff, 0xff, 0x07, 0x00};
    sf_tc_reader_init(&r, list, sizeof list);
    sf_tc_skip(&r, SF_TC_STRUCT);
    assert_int_equal(r.err, 1);
    /* structs nested past the limit */
    unsigned char deep[100];
    memset(deep, 0x1c, sizeof deep);
    sf_tc_reader_init(&r, deep, sizeof deep);
    sf_tc_skip(&r, SF_TC_STRUCT);
    assert_int_equal(r.err, 1);
    /* a varint that never ends */
    const unsigned char v[] = {0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    sf_tc_reader_init(&r, v, sizeof v);
    sf_tc_skip(&r, SF_TC_STRUCT);
    assert_int_equal(r.err, 1);
    /* an i32 out of range */
    const unsigned char big[] = {0x80, 0x80, 0x80, 0x80, 0x20};
    sf_tc_reader_init(&r, big, sizeof big);
    (void)sf_tc_read_i32(&r);
    assert_int_equal(r.err, 1);
    /* a binary longer than the input */
    const unsigned char bin[] = {0x05, 'a'};
    sf_tc_reader_init(&r, bin, sizeof bin);
    const unsigned char *p;
    size_t n;
    sf_tc_read_binary(&r, &p, &n);
    assert_int_equal(r.err, 1);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thrift_compact_round_trip),
        cmocka_unit_test(test_hostile_input_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
