/* test_utf8.c - UTF-8 validity, cutting and cleaning (core/utf8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"

#define SEQ(lit) sf_utf8_seq((const unsigned char *)(lit), sizeof(lit) - 1)

static void test_seq_accepts_every_length_and_rejects_the_rfc3629_exclusions(void **state)
{
    (void)state;
    assert_int_equal(SEQ("\xc3\xa9"), 2);
    assert_int_equal(SEQ("\xe2\x82\xac"), 3);
    assert_int_equal(SEQ("\xf0\x9f\x98\x80"), 4);
    assert_int_equal(SEQ("\xf4\x8f\xbf\xbf"), 4);
    assert_int_equal(SEQ("\xc0\x80"), 0);         /* overlong */
    assert_int_equal(SEQ("\xe0\x80\xaf"), 0);     /* overlong */
    assert_int_equal(SEQ("\xed\xa0\x80"), 0);     /* surrogate */
    assert_int_equal(SEQ("\xf4\x90\x80\x80"), 0); /* above U+10FFFF */
    assert_int_equal(SEQ("\x80"), 0);
    assert_int_equal(SEQ("\xe2\x82"), 0); /* cut */
}

static void test_cut_never_splits_a_character(void **state)
{
    (void)state;
    const char *s = "ab\xe2\x82\xac" "c";
    assert_int_equal(sf_utf8_cut(s, 6, 10), 6);
    assert_int_equal(sf_utf8_cut(s, 6, 5), 5);
    assert_int_equal(sf_utf8_cut(s, 6, 4), 2);
    assert_int_equal(sf_utf8_cut(s, 6, 3), 2);
    assert_int_equal(sf_utf8_cut(s, 6, 2), 2);
    /* Invalid bytes count one each. */
    assert_int_equal(sf_utf8_cut("\xff\xff\xff", 3, 2), 2);
}

static void test_clean_drops_a_cut_tail_and_marks_bad_bytes(void **state)
{
    (void)state;
    char a[] = "ok \xe2\x82";
    assert_int_equal(sf_utf8_clean(a), 2);
    assert_string_equal(a, "ok ");
    char b[] = "x\xff y \xc3\xa9 \xe2\x82z";
    assert_int_equal(sf_utf8_clean(b), 3);
    assert_string_equal(b, "x? y \xc3\xa9 ??z");
    char c[] = "caf\xc3\xa9";
    assert_int_equal(sf_utf8_clean(c), 0);
    assert_string_equal(c, "caf\xc3\xa9");
    char d[] = "\xf0\x9f\x98";
    sf_utf8_clean(d);
    assert_string_equal(d, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_accepts_every_length_and_rejects_the_rfc3629_exclusions),
        cmocka_unit_test(test_cut_never_splits_a_character),
        cmocka_unit_test(test_clean_drops_a_cut_tail_and_marks_bad_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
