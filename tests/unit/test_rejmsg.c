/* test_rejmsg.c - reject messages: the column written and read back, and
 * the FILE:LINE:COLUMN report (core/rejmsg). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/rejmsg.h"

static void test_column_round_trips(void **state)
{
    (void)state;
    char msg[128];
    sf_rejmsg_at(msg, sizeof msg, "invalid JSON", 41, "unexpected token");
    assert_string_equal(msg, "invalid JSON at column 41: unexpected token");
    size_t rlen;
    const char *what;
    assert_int_equal(sf_rejmsg_column(msg, &rlen, &what), 41);
    assert_int_equal(rlen, strlen("invalid JSON"));
    assert_string_equal(what, "unexpected token");
}

static void test_message_without_column_reads_as_column_zero(void **state)
{
    (void)state;
    size_t rlen;
    const char *what;
    const char *m = "ts: expected int64, got string \"at column 3\"";
    assert_int_equal(sf_rejmsg_column(m, &rlen, &what), 0);
    assert_ptr_equal(what, m);
}

static void test_place_puts_file_line_column_first_and_the_offset_after(void **state)
{
    (void)state;
    char out[256];
    sf_rejmsg_place(out, sizeof out, "broken.jsonl", 11, 1139,
                    "invalid JSON at column 41: unexpected token", "--mode failfast");
    assert_string_equal(out, "broken.jsonl:11:41: invalid JSON: unexpected token "
                             "(byte offset 1139; --mode failfast)");
    sf_rejmsg_place(out, sizeof out, "e.jsonl", 2, 10, "ts: expected int64, got bool true", NULL);
    assert_string_equal(out, "e.jsonl:2: ts: expected int64, got bool true (byte offset 10)");
    sf_rejmsg_place(out, sizeof out, "e.jsonl", 0, 10, "not an object: the line is an array",
                    NULL);
    assert_string_equal(out, "e.jsonl:?: not an object: the line is an array (byte offset 10)");
}

static void test_cut_messages_stay_valid_utf8(void **state)
{
    (void)state;
    char out[16];
    sf_rejmsg_at(out, sizeof out, "r", 1, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
    /* "r at column 1: " is 15 bytes: the euro sign cut at 16 is dropped. */
    assert_string_equal(out, "r at column 1: ");
}

static void test_all_rejected_names_reason_sample_and_compression(void **state)
{
    (void)state;
    char out[512];
    sf_rejmsg_all_rejected(out, sizeof out, 10, 9, "invalid UTF-8", 7, "ev.jsonl", 0,
                           "invalid UTF-8 at column 1: unable to decode byte 0x8b", "gzip");
    assert_string_equal(out, "all 10 lines read were rejected (9 bad, the rest blank; most as "
                             "'invalid UTF-8': 7); first: ev.jsonl: byte 0: invalid UTF-8 at "
                             "column 1: unable to decode byte 0x8b; ev.jsonl looks "
                             "gzip-compressed (its first bytes are gzip's magic): decompress "
                             "it first, e.g. zcat/zstdcat into a file");
    sf_rejmsg_all_rejected(out, sizeof out, 3, 3, "type mismatch", 3, NULL, 0, NULL, NULL);
    assert_string_equal(out, "all 3 lines read were rejected (3 bad, the rest blank; most as "
                             "'type mismatch': 3)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_column_round_trips),
        cmocka_unit_test(test_message_without_column_reads_as_column_zero),
        cmocka_unit_test(test_place_puts_file_line_column_first_and_the_offset_after),
        cmocka_unit_test(test_cut_messages_stay_valid_utf8),
        cmocka_unit_test(test_all_rejected_names_reason_sample_and_compression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
