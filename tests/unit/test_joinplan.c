/* test_joinplan.c - core/joinplan.h: the projected fraction of a sample,
 * and broadcast or partitioned by memory, by cost and by an explicit
 * --broadcast-limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/joinplan.h"

#define MB ((uint64_t)1000000)

static const char *const user_cols[] = {"user_id", "country"};

static void test_sample_counts_projected_values_only(void **state)
{
    (void)state;
    const char *s = "{\"user_id\":\"u1\",\"country\":\"BR\",\"age\":33}\n"
                    "{\"age\": 7, \"country\" : \"DE\", \"x\":{\"user_id\":\"no\"}}\n"
                    "{\"user_id\":\"partial";
    sf_joinplan_sample out;
    sf_joinplan_scan_sample(s, strlen(s), user_cols, 2, &out);
    assert_int_equal(out.lines, 2);
    /* The two whole lines; the partial third is left out. */
    assert_int_equal(out.bytes, strlen(s) - strlen("{\"user_id\":\"partial"));
    /* "u1", "BR" and "DE" (quotes included); the nested user_id is not
     * a top-level member. */
    assert_int_equal(out.value_bytes, 4 + 4 + 4);
}

static void test_sample_skips_escaped_quotes_and_nested_values(void **state)
{
    (void)state;
    const char *s = "{\"a\":\"x\\\"y,}\",\"b\":[1,{\"c\":\"]\"}],\"country\":true}\n";
    sf_joinplan_sample out;
    sf_joinplan_scan_sample(s, strlen(s), user_cols, 2, &out);
    assert_int_equal(out.lines, 1);
    assert_int_equal(out.value_bytes, 4); /* true */
}

static void test_line_that_is_not_an_object_counts_whole(void **state)
{
    (void)state;
    const char *s = "[1,2,3]\n";
    sf_joinplan_sample out;
    sf_joinplan_scan_sample(s, strlen(s), user_cols, 2, &out);
    assert_int_equal(out.value_bytes, 7);
    assert_true(sf_joinplan_fraction(&out) > 0.8);
}

static void test_empty_sample_has_fraction_one(void **state)
{
    (void)state;
    sf_joinplan_sample out;
    sf_joinplan_scan_sample("no newline", 10, user_cols, 2, &out);
    assert_int_equal(out.lines, 0);
    assert_true(sf_joinplan_fraction(&out) == 1.0);
}

/* S3 with 1M users at np 2: 96 MB of users against 1.35 GB of events of
 * which about half are projected values. */
static sf_joinplan_in s3(int nranks)
{
    sf_joinplan_in in;
    memset(&in, 0, sizeof in);
    in.dim_bytes = 96 * MB;
    in.dim_fraction = 0.18;
    in.dim_line_bytes = 96;
    in.dim_columns = 2;
    in.fact_bytes = 1347 * MB;
    in.fact_fraction = 0.47;
    in.nranks = nranks;
    in.room = (uint64_t)9000 * MB;
    return in;
}

static void test_s3_broadcasts_at_two_ranks(void **state)
{
    (void)state;
    sf_joinplan_in in = s3(2);
    sf_joinplan p;
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 0);
    assert_int_equal(p.reason, SF_JOINPLAN_CHEAPER);
    assert_int_equal(p.broadcast_bytes, 96 * MB);
    assert_true(p.shuffle_bytes > 300 * MB && p.shuffle_bytes < 320 * MB);
    /* 1M rows x (48 + overhead) + 17 MB of values: near the 134 MB measured. */
    assert_true(p.dim_memory > 120 * MB && p.dim_memory < 160 * MB);
}

static void test_many_ranks_make_copies_costlier(void **state)
{
    (void)state;
    sf_joinplan_in in = s3(8); /* 7 x 96 MB against 7/8 x 633 MB */
    sf_joinplan p;
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 1);
    assert_int_equal(p.reason, SF_JOINPLAN_COSTLIER);
    assert_true(p.broadcast_bytes > p.shuffle_bytes);
}

static void test_table_over_a_quarter_of_the_room_is_partitioned(void **state)
{
    (void)state;
    sf_joinplan_in in = s3(2);
    in.room = 400 * MB; /* a quarter is 100 MB, the table about 140 MB */
    sf_joinplan p;
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 1);
    assert_int_equal(p.reason, SF_JOINPLAN_TOO_BIG);
    in.room = 0; /* no limit known: memory does not decide */
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 0);
}

static void test_explicit_limit_decides_alone(void **state)
{
    (void)state;
    sf_joinplan_in in = s3(8);
    in.limit_set = 1;
    in.limit = 128 * MB; /* the rule alone would partition at 8 ranks */
    sf_joinplan p;
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 0);
    assert_int_equal(p.reason, SF_JOINPLAN_UNDER_LIMIT);
    in = s3(2);
    in.limit_set = 1;
    in.limit = 1024; /* --broadcast-limit 1K */
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 1);
    assert_int_equal(p.reason, SF_JOINPLAN_OVER_LIMIT);
}

static void test_small_table_broadcasts_unweighed(void **state)
{
    (void)state;
    sf_joinplan_in in = s3(4);
    in.dim_bytes = 50000; /* 3 copies: 150 KB */
    in.fact_bytes = 100000; /* 3/4 of 42 KB would move */
    sf_joinplan p;
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 0);
    assert_int_equal(p.reason, SF_JOINPLAN_SMALL_TABLE);
    assert_true(p.broadcast_bytes > p.shuffle_bytes);
    in.room = 100000; /* but a table that does not fit is partitioned */
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 1);
}

static void test_one_rank_broadcasts(void **state)
{
    (void)state;
    sf_joinplan_in in = s3(1);
    in.room = 1 * MB; /* even a table that does not fit: nothing to partition over */
    sf_joinplan p;
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 0);
    assert_int_equal(p.reason, SF_JOINPLAN_ONE_RANK);
}

static void test_unknown_fact_size_broadcasts_what_fits(void **state)
{
    (void)state;
    sf_joinplan_in in = s3(4);
    in.fact_bytes = 0;
    sf_joinplan p;
    sf_joinplan_decide(&in, &p);
    assert_int_equal(p.partitioned, 0);
    char text[512];
    sf_joinplan_text(&in, &p, "users", text, sizeof text);
    assert_non_null(strstr(text, "not known"));
}

static void test_text_gives_the_figures(void **state)
{
    (void)state;
    sf_joinplan_in in = s3(2);
    sf_joinplan p;
    sf_joinplan_decide(&in, &p);
    char text[512];
    sf_joinplan_text(&in, &p, "users", text, sizeof text);
    assert_non_null(strstr(text, "join 'users': broadcast"));
    assert_non_null(strstr(text, "96.0 MB <= moving fact rows"));
    assert_string_equal(sf_joinplan_reason_name(p.reason), "cheaper");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_counts_projected_values_only),
        cmocka_unit_test(test_sample_skips_escaped_quotes_and_nested_values),
        cmocka_unit_test(test_line_that_is_not_an_object_counts_whole),
        cmocka_unit_test(test_empty_sample_has_fraction_one),
        cmocka_unit_test(test_s3_broadcasts_at_two_ranks),
        cmocka_unit_test(test_many_ranks_make_copies_costlier),
        cmocka_unit_test(test_table_over_a_quarter_of_the_room_is_partitioned),
        cmocka_unit_test(test_explicit_limit_decides_alone),
        cmocka_unit_test(test_small_table_broadcasts_unweighed),
        cmocka_unit_test(test_one_rank_broadcasts),
        cmocka_unit_test(test_unknown_fact_size_broadcasts_what_fits),
        cmocka_unit_test(test_text_gives_the_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
