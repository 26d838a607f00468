/* test_window.c - rolling windows of core/window.h over sorted core/rows.h
 * tables: ROWS BETWEEN n PRECEDING AND CURRENT ROW within partitions, sum,
 * mean, min and max, NULLs skipped, all-NULL frames, exact sums; RANGE
 * frames over a date order column ("range": "N days"): gaps in the dates,
 * peers with the same date, NULL dates; and the running (linear) evaluation
 * against a frame-by-frame recomputation on random tables.
 *
 * Tables have the columns (group, day, value, out); rows are appended in
 * window order, as sf_rows_sort leaves them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/rows.h"
#include "core/window.h"

enum { C_GROUP, C_DAY, C_VALUE, C_OUT, NCOLS };

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static int partition_cols[] = {C_GROUP};

static sf_job_window window(sf_agg_kind func, int preceding, sf_type type)
{
    sf_job_window w;
    memset(&w, 0, sizeof w);
    w.name = "w";
    w.func = func;
    w.column = C_VALUE;
    w.preceding = preceding;
    w.partition_by = partition_cols;
    w.npartition = 1;
    w.order_by = C_DAY;
    w.type = type;
    w.range = -1;
    return w;
}

static void add_row(sf_rows *r, const char *group, int32_t day, sf_value v)
{
    sf_value *row = sf_rows_append(r);
    assert_non_null(row);
    row[C_GROUP] = sf_string(group, strlen(group));
    row[C_DAY] = sf_date(day);
    row[C_VALUE] = v;
    row[C_OUT] = sf_string("stale", 5); /* must be overwritten */
}

static void add_doubles(sf_rows *r, const char *group, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add_row(r, group, (int32_t)i, sf_double(v[i]));
}

static void assert_out_double(const sf_rows *r, size_t i, double want)
{
    const sf_value *v = &sf_rows_at(r, i)[C_OUT];
    assert_int_equal(v->type, SF_DOUBLE);
    assert_int_equal(bits_of(v->u.d), bits_of(want));
}

static void assert_out_null(const sf_rows *r, size_t i)
{
    assert_int_equal(sf_rows_at(r, i)[C_OUT].type, SF_NULL);
}

static void eval(sf_rows *r, sf_agg_kind func, int preceding, sf_type type)
{
    sf_job_window w = window(func, preceding, type);
    assert_int_equal(sf_window_eval(r, &w, C_OUT), 0);
}

static void test_sum_over_current_and_two_preceding_rows(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double v[] = {1, 2, 3, 4, 5};
    add_doubles(&r, "a", v, 5);
    eval(&r, SF_AGG_SUM, 2, SF_DOUBLE);
    const double want[] = {1, 3, 6, 9, 12};
    for (size_t i = 0; i < 5; i++)
        assert_out_double(&r, i, want[i]);
    sf_rows_free(&r);
}

static void test_partition_boundary_resets_the_frame(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double a[] = {1, 2, 3}, b[] = {10, 20, 30, 40}, c[] = {100};
    add_doubles(&r, "a", a, 3);
    add_doubles(&r, "b", b, 4);
    add_doubles(&r, "c", c, 1);
    eval(&r, SF_AGG_SUM, 2, SF_DOUBLE);
    const double want[] = {1, 3, 6, 10, 30, 60, 90, 100};
    for (size_t i = 0; i < 8; i++)
        assert_out_double(&r, i, want[i]);
    sf_rows_free(&r);
}

static void test_no_partition_columns_is_one_partition(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double a[] = {1, 2}, b[] = {4, 8};
    add_doubles(&r, "a", a, 2);
    add_doubles(&r, "b", b, 2);
    sf_job_window w = window(SF_AGG_SUM, 1, SF_DOUBLE);
    w.npartition = 0;
    assert_int_equal(sf_window_eval(&r, &w, C_OUT), 0);
    const double want[] = {1, 3, 6, 12};
    for (size_t i = 0; i < 4; i++)
        assert_out_double(&r, i, want[i]);
    sf_rows_free(&r);
}

static void test_preceding_zero_is_the_current_row(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double v[] = {7, -1, 0.5};
    add_doubles(&r, "a", v, 3);
    eval(&r, SF_AGG_SUM, 0, SF_DOUBLE);
    for (size_t i = 0; i < 3; i++)
        assert_out_double(&r, i, v[i]);
    sf_rows_free(&r);
}

static void test_mean_over_the_frame(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double a[] = {2, 4, 9, 1}, b[] = {5};
    add_doubles(&r, "a", a, 4);
    add_doubles(&r, "b", b, 1);
    eval(&r, SF_AGG_MEAN, 1, SF_DOUBLE);
    const double want[] = {2, 3, 6.5, 5, 5};
    for (size_t i = 0; i < 5; i++)
        assert_out_double(&r, i, want[i]);
    sf_rows_free(&r);
}

static void test_mean_of_int_column_is_double(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    add_row(&r, "a", 0, sf_int(1));
    add_row(&r, "a", 1, sf_int(2));
    add_row(&r, "a", 2, sf_int(4));
    eval(&r, SF_AGG_MEAN, 2, SF_DOUBLE);
    assert_out_double(&r, 0, 1.0);
    assert_out_double(&r, 1, 1.5);
    assert_out_double(&r, 2, 7.0 / 3.0);
    sf_rows_free(&r);
}

static void test_min_and_max_over_the_frame(void **state)
{
    (void)state;
    sf_rows r, s;
    sf_rows_init(&r, NCOLS);
    sf_rows_init(&s, NCOLS);
    const double v[] = {5, 3, 8, 1, 9, 2};
    add_doubles(&r, "a", v, 6);
    add_doubles(&s, "a", v, 6);
    eval(&r, SF_AGG_MIN, 2, SF_DOUBLE);
    eval(&s, SF_AGG_MAX, 2, SF_DOUBLE);
    const double mins[] = {5, 3, 3, 1, 1, 1}, maxs[] = {5, 5, 8, 8, 9, 9};
    for (size_t i = 0; i < 6; i++) {
        assert_out_double(&r, i, mins[i]);
        assert_out_double(&s, i, maxs[i]);
    }
    sf_rows_free(&r);
    sf_rows_free(&s);
}

static void test_min_and_max_of_strings_order_bytewise(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const char *words[] = {"pear", "apple", "zebra", "fig"};
    for (int i = 0; i < 4; i++)
        add_row(&r, "a", i, sf_string(words[i], strlen(words[i])));
    eval(&r, SF_AGG_MAX, 1, SF_STRING);
    const char *want[] = {"pear", "pear", "zebra", "zebra"};
    for (size_t i = 0; i < 4; i++) {
        const sf_value *v = &sf_rows_at(&r, i)[C_OUT];
        assert_int_equal(v->type, SF_STRING);
        assert_int_equal(v->u.s.n, strlen(want[i]));
        assert_memory_equal(v->u.s.p, want[i], v->u.s.n);
    }
    eval(&r, SF_AGG_MIN, 3, SF_STRING);
    for (size_t i = 0; i < 4; i++) {
        const sf_value *v = &sf_rows_at(&r, i)[C_OUT];
        const char *w = i == 0 ? "pear" : "apple";
        assert_int_equal(v->u.s.n, strlen(w));
        assert_memory_equal(v->u.s.p, w, v->u.s.n);
    }
    sf_rows_free(&r);
}

static void test_nulls_are_skipped(void **state)
{
    (void)state;
    sf_rows r, m;
    sf_rows_init(&r, NCOLS);
    sf_rows_init(&m, NCOLS);
    const sf_value v[] = {sf_double(1), sf_null(), sf_double(3), sf_null(), sf_double(6)};
    for (int i = 0; i < 5; i++) {
        add_row(&r, "a", i, v[i]);
        add_row(&m, "a", i, v[i]);
    }
    eval(&r, SF_AGG_SUM, 2, SF_DOUBLE);
    eval(&m, SF_AGG_MEAN, 2, SF_DOUBLE);
    const double sums[] = {1, 1, 4, 3, 9}, means[] = {1, 1, 2, 3, 4.5};
    for (size_t i = 0; i < 5; i++) {
        assert_out_double(&r, i, sums[i]);
        assert_out_double(&m, i, means[i]);
    }
    sf_rows_free(&r);
    sf_rows_free(&m);
}

static void test_frame_of_only_nulls_gives_null(void **state)
{
    (void)state;
    const sf_agg_kind funcs[] = {SF_AGG_SUM, SF_AGG_MEAN, SF_AGG_MIN, SF_AGG_MAX};
    for (size_t f = 0; f < 4; f++) {
        sf_rows r;
        sf_rows_init(&r, NCOLS);
        add_row(&r, "a", 0, sf_double(2));
        add_row(&r, "b", 0, sf_null());
        add_row(&r, "b", 1, sf_null());
        add_row(&r, "b", 2, sf_double(5));
        add_row(&r, "b", 3, sf_null());
        add_row(&r, "b", 4, sf_null());
        eval(&r, funcs[f], 1, SF_DOUBLE);
        assert_out_double(&r, 0, 2);
        assert_out_null(&r, 1); /* the 2 of partition a is not in the frame */
        assert_out_null(&r, 2);
        assert_out_double(&r, 3, 5);
        assert_out_double(&r, 4, 5);
        assert_out_null(&r, 5);
        sf_rows_free(&r);
    }
}

static void test_double_sum_is_exact_where_naive_addition_is_not(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    /* Naive: (1e16 + 1) + -1e16 = 0; exact: 1. */
    const double v[] = {1e16, 1.0, -1e16};
    add_doubles(&r, "a", v, 3);
    eval(&r, SF_AGG_SUM, 2, SF_DOUBLE);
    volatile double naive = v[0];
    naive += v[1];
    naive += v[2];
    assert_true(naive == 0.0);
    assert_out_double(&r, 2, 1.0);
    sf_rows_free(&r);
}

static void test_ten_tenths_sum_to_exactly_one(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    for (int i = 0; i < 10; i++)
        add_row(&r, "a", i, sf_double(0.1));
    eval(&r, SF_AGG_SUM, 9, SF_DOUBLE);
    assert_out_double(&r, 9, 1.0); /* naive addition gives 0.9999999999999999 */
    assert_out_double(&r, 2, 0.30000000000000004); /* fsum([.1, .1, .1]) */
    sf_rows_free(&r);
}

static void test_int_sum_is_exact_beyond_2_pow_53(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    add_row(&r, "a", 0, sf_int(9007199254740992LL));
    add_row(&r, "a", 1, sf_int(1));
    add_row(&r, "a", 2, sf_int(-3));
    eval(&r, SF_AGG_SUM, 1, SF_INT);
    const int64_t want[] = {9007199254740992LL, 9007199254740993LL, -2};
    for (size_t i = 0; i < 3; i++) {
        const sf_value *v = &sf_rows_at(&r, i)[C_OUT];
        assert_int_equal(v->type, SF_INT);
        assert_int_equal(v->u.i, want[i]);
    }
    sf_rows_free(&r);
}

static void test_empty_table_is_fine(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    eval(&r, SF_AGG_SUM, 6, SF_DOUBLE);
    assert_int_equal(r.n, 0);
    sf_rows_free(&r);
}


static void eval_range(sf_rows *r, sf_agg_kind func, int64_t days, sf_type type)
{
    sf_job_window w = window(func, 0, type);
    w.range = days;
    assert_int_equal(sf_window_eval(r, &w, C_OUT), 0);
}

static void assert_out_int(const sf_rows *r, size_t i, int64_t want)
{
    const sf_value *v = &sf_rows_at(r, i)[C_OUT];
    assert_int_equal(v->type, SF_INT);
    assert_int_equal(v->u.i, want);
}

static void test_range_frame_counts_days_not_rows(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    /* days 0, 1, 5, 7, 20: a 6-day range reaches back to v - 6 */
    const int32_t day[] = {0, 1, 5, 7, 20};
    for (size_t i = 0; i < 5; i++)
        add_row(&r, "a", day[i], sf_int((int64_t)1 << i));
    eval_range(&r, SF_AGG_SUM, 6, SF_INT);
    assert_out_int(&r, 0, 1);
    assert_out_int(&r, 1, 1 + 2);
    assert_out_int(&r, 2, 1 + 2 + 4);
    assert_out_int(&r, 3, 2 + 4 + 8); /* day 0 is 7 days back: out */
    assert_out_int(&r, 4, 16);
    sf_rows_free(&r);
}

static void test_range_zero_days_is_the_rows_of_that_day(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    add_row(&r, "a", 3, sf_int(1));
    add_row(&r, "a", 3, sf_int(2));
    add_row(&r, "a", 4, sf_int(4));
    eval_range(&r, SF_AGG_SUM, 0, SF_INT);
    /* Peers (the same date) are in each other's frame, the later one too. */
    assert_out_int(&r, 0, 3);
    assert_out_int(&r, 1, 3);
    assert_out_int(&r, 2, 4);
    sf_rows_free(&r);
}

static void test_range_frame_stops_at_the_partition(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    add_row(&r, "a", 1, sf_double(0.5));
    add_row(&r, "a", 2, sf_double(0.25));
    add_row(&r, "b", 2, sf_double(8.0));
    add_row(&r, "b", 3, sf_double(1.0));
    eval_range(&r, SF_AGG_MEAN, 6, SF_DOUBLE);
    assert_out_double(&r, 0, 0.5);
    assert_out_double(&r, 1, 0.375);
    assert_out_double(&r, 2, 8.0);
    assert_out_double(&r, 3, 4.5);
    sf_rows_free(&r);
}

static void test_range_null_dates_frame_each_other(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    add_row(&r, "a", 0, sf_int(1));
    add_row(&r, "a", 0, sf_int(2));
    add_row(&r, "a", 0, sf_int(4));
    add_row(&r, "a", 100000, sf_int(8));
    sf_rows_at(&r, 0)[C_DAY] = sf_null(); /* NULLs sort first */
    sf_rows_at(&r, 1)[C_DAY] = sf_null();
    eval_range(&r, SF_AGG_SUM, 100000, SF_INT);
    assert_out_int(&r, 0, 3);
    assert_out_int(&r, 1, 3);
    assert_out_int(&r, 2, 4); /* a NULL date is in no dated row's frame */
    assert_out_int(&r, 3, 12);
    sf_rows_free(&r);
}

static void test_range_min_max_keep_the_frame_extreme(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const int32_t day[] = {0, 2, 3, 9, 10};
    const int64_t val[] = {5, 1, 7, 3, 3};
    for (size_t i = 0; i < 5; i++)
        add_row(&r, "a", day[i], sf_int(val[i]));
    eval_range(&r, SF_AGG_MIN, 6, SF_INT);
    const int64_t want_min[] = {5, 1, 1, 3, 3};
    for (size_t i = 0; i < 5; i++)
        assert_out_int(&r, i, want_min[i]);
    eval_range(&r, SF_AGG_MAX, 6, SF_INT);
    const int64_t want_max[] = {5, 5, 7, 7, 3};
    for (size_t i = 0; i < 5; i++)
        assert_out_int(&r, i, want_max[i]);
    sf_rows_free(&r);
}

/* The frame's value from scratch: the definition the running evaluation
 * must match bit for bit. */
static sf_value naive(const sf_rows *r, const sf_job_window *w, size_t i, size_t start)
{
    sf_value out = sf_null();
    sf_rows one;
    sf_rows_init(&one, NCOLS);
    for (size_t j = start; j <= i || (j < r->n && w->range >= 0); j++) {
        if (j >= r->n || sf_value_cmp(&sf_rows_at(r, j)[C_GROUP], &sf_rows_at(r, i)[C_GROUP]))
            break;
        int in;
        const sf_value *dj = &sf_rows_at(r, j)[C_DAY], *di = &sf_rows_at(r, i)[C_DAY];
        if (w->range < 0)
            in = j <= i && i - j <= (size_t)w->preceding;
        else if (di->type == SF_NULL)
            in = dj->type == SF_NULL;
        else
            in = dj->type != SF_NULL && dj->u.date <= di->u.date &&
                 (int64_t)dj->u.date >= (int64_t)di->u.date - w->range;
        if (in) {
            sf_value *row = sf_rows_append(&one);
            memcpy(row, sf_rows_at(r, j), NCOLS * sizeof *row);
        }
    }
    sf_job_window all = *w;
    all.range = -1;
    all.preceding = 1000000;
    all.npartition = 0;
    if (one.n > 0) {
        assert_int_equal(sf_window_eval(&one, &all, C_OUT), 0);
        out = sf_rows_at(&one, one.n - 1)[C_OUT];
    }
    sf_rows_free(&one);
    return out;
}

static void test_running_frames_match_recomputed_frames(void **state)
{
    (void)state;
    static const double pool[] = {0.1, 1e16, -1e16, 3.5, -0.1, 1e-300, 2.0, -0.0};
    unsigned seed = 12345;
    for (int round = 0; round < 40; round++) {
        sf_rows r;
        sf_rows_init(&r, NCOLS);
        int dbl = round % 2;
        const char *groups[] = {"a", "b", "c"};
        for (int g = 0; g < 3; g++) {
            int32_t day = 0;
            int n = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 30;
            for (int k = 0; k < n; k++) {
                seed = seed * 1103515245u + 12345u;
                day += (int32_t)((seed >> 16) % 4);
                sf_value v = dbl ? sf_double(pool[(seed >> 8) % 8]) : sf_int((int64_t)(seed >> 12) % 1000 - 500);
                if ((seed >> 20) % 7 == 0)
                    v = sf_null();
                add_row(&r, groups[g], day, v);
                if ((seed >> 24) % 11 == 0)
                    sf_rows_at(&r, r.n - 1)[C_DAY] = sf_null();
            }
        }
        /* NULL dates first within each group, as the sort leaves them. */
        int keys[] = {C_GROUP, C_DAY};
        assert_int_equal(sf_rows_sort(&r, keys, 2), 0);
        sf_agg_kind funcs[] = {SF_AGG_SUM, SF_AGG_MEAN, SF_AGG_MIN, SF_AGG_MAX};
        for (int f = 0; f < 4; f++) {
            for (int mode = 0; mode < 4; mode++) {
                sf_type t = funcs[f] == SF_AGG_MEAN ? SF_DOUBLE : dbl ? SF_DOUBLE : SF_INT;
                sf_job_window w = window(funcs[f], mode * 2, t);
                if (mode >= 2)
                    w.range = mode == 2 ? 0 : 6;
                assert_int_equal(sf_window_eval(&r, &w, C_OUT), 0);
                size_t start = 0;
                for (size_t i = 0; i < r.n; i++) {
                    if (i > 0 && sf_value_cmp(&sf_rows_at(&r, i)[C_GROUP],
                                              &sf_rows_at(&r, i - 1)[C_GROUP]))
                        start = i;
                    sf_value got = sf_rows_at(&r, i)[C_OUT];
                    sf_value want = naive(&r, &w, i, start);
                    assert_int_equal(got.type, want.type);
                    if (got.type == SF_DOUBLE)
                        assert_int_equal(bits_of(got.u.d), bits_of(want.u.d));
                    else if (got.type == SF_INT)
                        assert_int_equal(got.u.i, want.u.i);
                }
            }
        }
        sf_rows_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_over_current_and_two_preceding_rows),
        cmocka_unit_test(test_partition_boundary_resets_the_frame),
        cmocka_unit_test(test_no_partition_columns_is_one_partition),
        cmocka_unit_test(test_preceding_zero_is_the_current_row),
        cmocka_unit_test(test_mean_over_the_frame),
        cmocka_unit_test(test_mean_of_int_column_is_double),
        cmocka_unit_test(test_min_and_max_over_the_frame),
        cmocka_unit_test(test_min_and_max_of_strings_order_bytewise),
        cmocka_unit_test(test_nulls_are_skipped),
        cmocka_unit_test(test_frame_of_only_nulls_gives_null),
        cmocka_unit_test(test_double_sum_is_exact_where_naive_addition_is_not),
        cmocka_unit_test(test_ten_tenths_sum_to_exactly_one),
        cmocka_unit_test(test_int_sum_is_exact_beyond_2_pow_53),
        cmocka_unit_test(test_empty_table_is_fine),
        cmocka_unit_test(test_range_frame_counts_days_not_rows),
        cmocka_unit_test(test_range_zero_days_is_the_rows_of_that_day),
        cmocka_unit_test(test_range_frame_stops_at_the_partition),
        cmocka_unit_test(test_range_null_dates_frame_each_other),
        cmocka_unit_test(test_range_min_max_keep_the_frame_extreme),
        cmocka_unit_test(test_running_frames_match_recomputed_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
