/* test_gen_learning.c - unit tests of the e-learning generator: framing,
 * the users.csv layout and its duplicates, events read back with jansson
 * (fields, ranges, times on or after signup), the dirt the user_daily
 * pipeline must clean (rates within bounds, so a change that drops a kind of
 * dirt fails), determinism, and ids past 999999. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/gen_learning.h"

static const sf_gen_learning_params params = {.seed = 7, .users = 1000, .events = 30000};

#define GUARD 16

static size_t gen_checked(size_t (*fn)(const sf_gen_learning_params *, uint64_t, char *),
                          const sf_gen_learning_params *p, uint64_t i, char *buf)
{
    memset(buf, 0x7f, SF_GEN_LEARNING_LINE_MAX + GUARD);
    size_t n = fn(p, i, buf);
    assert_true(n > 2 && n <= SF_GEN_LEARNING_LINE_MAX);
    for (size_t k = n; k < SF_GEN_LEARNING_LINE_MAX + GUARD; k++)
        assert_int_equal(buf[k], 0x7f);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    return n;
}

/* Splits a CSV line without quotes into at most 8 fields. */
static int split(char *line, char **f)
{
    int n = 0;
    f[n++] = line;
    for (char *c = line; *c && *c != '\n'; c++) {
        if (*c == ',') {
            *c = '\0';
            f[n++] = c + 1;
        }
    }
    line[strcspn(line, "\n")] = '\0';
    f[n - 1][strcspn(f[n - 1], "\n")] = '\0';
    return n;
}

static void test_users_layout(void **state)
{
    (void)state;
    char buf[SF_GEN_LEARNING_LINE_MAX + GUARD];
    size_t n = gen_checked(sf_gen_learning_user, &params, 0, buf);
    assert_int_equal(n, strlen("user_id,signup_date,plan,country,is_paid\n"));
    assert_memory_equal(buf, "user_id,signup_date,plan,country,is_paid\n", n);
    uint64_t dups = sf_gen_learning_dup_users(&params);
    assert_int_equal(dups, 20);
    int lower_country = 0, odd_plan = 0;
    for (uint64_t i = 1; i <= params.users + dups; i++) {
        gen_checked(sf_gen_learning_user, &params, i, buf);
        char *f[8];
        assert_int_equal(split(buf, f), 5);
        unsigned long id = strtoul(f[0] + 2, NULL, 10);
        assert_true(strncmp(f[0], "u_", 2) == 0 && strlen(f[0]) == 8);
        if (i <= params.users)
            assert_int_equal(id, i); /* users 1..N in order */
        else
            assert_true(id >= 1 && id <= params.users); /* a duplicate of one of them */
        assert_true(strncmp(f[1], "2025-0", 6) == 0 && strlen(f[1]) == 10);
        assert_true(strcmp(f[1], "2025-01-01") >= 0 && strcmp(f[1], "2025-04-20") <= 0);
        int free_plan = strcasecmp(f[2], "free") == 0;
        assert_true(free_plan || strcasecmp(f[2], "basic") == 0 || strcasecmp(f[2], "premium") == 0);
        odd_plan += strcmp(f[2], "free") && strcmp(f[2], "basic") && strcmp(f[2], "premium");
        assert_int_equal(strlen(f[3]), 2);
        lower_country += f[3][0] >= 'a' && f[3][0] <= 'z';
        assert_string_equal(f[4], free_plan ? "false" : "true");
    }
    /* about 10% each */
    assert_true(odd_plan > 50 && odd_plan < 160);
    assert_true(lower_country > 50 && lower_country < 160);
}

/* The signup date of user id from users.csv line id. */
static void signup_of(uint64_t id, char *out)
{
    char buf[SF_GEN_LEARNING_LINE_MAX + GUARD];
    sf_gen_learning_user(&params, id, buf);
    memcpy(out, buf + 9, 10);
    out[10] = '\0';
}

static void test_events_fields_and_dirt(void **state)
{
    (void)state;
    char buf[SF_GEN_LEARNING_LINE_MAX + GUARD];
    int no_user = 0, null_user = 0, no_time = 0, no_type = 0, odd_case = 0, future = 0;
    int resent = 0, offsets = 0, spaces = 0, millis = 0, watch = 0, watch_missing = 0;
    char prev_ids[5][16] = {{0}};
    for (uint64_t i = 0; i < params.events; i++) {
        size_t n = gen_checked(sf_gen_learning_event, &params, i, buf);
        json_error_t jerr;
        json_t *e = json_loadb(buf, n - 1, 0, &jerr);
        if (!e)
            fail_msg("event %llu does not parse: %s", (unsigned long long)i, jerr.text);
        const char *id = json_string_value(json_object_get(e, "event_id"));
        assert_non_null(id);
        assert_int_equal(strlen(id), 12);
        char own[16];
        snprintf(own, sizeof own, "ev%010llu", (unsigned long long)i + 1);
        if (strcmp(id, own) != 0) {
            int found = 0;
            for (int k = 0; k < 5; k++)
                found |= strcmp(prev_ids[k], id) == 0;
            if (!found)
                fail_msg("event %llu repeats %s, not one of the 5 before", (unsigned long long)i, id);
            resent++;
        }
        memmove(prev_ids[1], prev_ids[0], sizeof prev_ids - sizeof prev_ids[0]);
        snprintf(prev_ids[0], sizeof prev_ids[0], "%s", own);
        json_t *u = json_object_get(e, "user_id");
        no_user += u == NULL;
        null_user += u != NULL && json_is_null(u);
        json_t *t = json_object_get(e, "event_time");
        if (!t) {
            no_time++;
        } else {
            const char *ts = json_string_value(t);
            assert_non_null(ts);
            future += strncmp(ts, "2027-", 5) == 0;
            offsets += strchr(ts + 19, '+') || strchr(ts + 19, '-');
            spaces += ts[10] == ' ';
            millis += ts[19] == '.';
            if (json_is_string(u) && strncmp(ts, "2027-", 5) != 0 && ts[10] != ' ' &&
                !strchr(ts + 19, '+') && !strchr(ts + 19, '-')) {
                char signup[11];
                signup_of(strtoull(json_string_value(u) + 2, NULL, 10), signup);
                if (strncmp(ts, signup, 10) < 0)
                    fail_msg("event %llu at %s before its user's signup %s",
                             (unsigned long long)i, ts, signup);
                assert_true(strncmp(ts, "2025-04-30", 10) <= 0);
            }
        }
        json_t *type = json_object_get(e, "event_type");
        if (!type) {
            no_type++;
        } else {
            const char *ty = json_string_value(type);
            odd_case += ty[0] >= 'A' && ty[0] <= 'Z';
            if (strcmp(ty, "video_watch") == 0) {
                watch++;
                json_t *w = json_object_get(e, "watch_minutes");
                if (!w)
                    watch_missing++;
                else
                    assert_true(json_number_value(w) >= 1 && json_number_value(w) <= 90.5);
                assert_non_null(json_string_value(json_object_get(e, "course_name")));
            }
            if (strcmp(ty, "quiz_attempt") == 0) {
                json_int_t q = json_integer_value(json_object_get(e, "quiz_score"));
                assert_true(q >= 0 && q <= 100);
            }
            if (strcmp(ty, "payment_success") == 0) {
                double a = json_number_value(json_object_get(e, "amount"));
                assert_true(a == 9.99 || a == 19.99 || a == 49.0);
            }
        }
        json_decref(e);
    }
    /* the rates of the header comment, with room for chance */
    assert_true(no_user > 60 && no_user < 200);     /* 0.4% of 30000 = 120 */
    assert_true(null_user > 20 && null_user < 110); /* 0.2% = 60 */
    assert_true(no_time > 60 && no_time < 200);
    assert_true(no_type > 20 && no_type < 110);
    assert_true(odd_case > 800 && odd_case < 1600); /* 4% = 1200 */
    assert_true(future > 80 && future < 230);       /* 0.5% = 150 */
    assert_true(resent > 400 && resent < 800);      /* 2% = 600 */
    assert_true(offsets > 2000 && spaces > 1000 && millis > 1000);
    assert_true(watch_missing > watch / 100 && watch_missing < watch / 15);
}

static void test_deterministic_and_seeded(void **state)
{
    (void)state;
    char a[SF_GEN_LEARNING_LINE_MAX + GUARD], b[SF_GEN_LEARNING_LINE_MAX + GUARD];
    sf_gen_learning_params other = params;
    other.seed = 8;
    int differ = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        size_t n = gen_checked(sf_gen_learning_event, &params, i, a);
        assert_int_equal(gen_checked(sf_gen_learning_event, &params, i, b), n);
        assert_memory_equal(a, b, n);
        size_t m = gen_checked(sf_gen_learning_event, &other, i, b);
        differ += m != n || memcmp(a, b, n) != 0;
    }
    assert_true(differ > 990);
}

static void test_large_ids_fit(void **state)
{
    (void)state;
    sf_gen_learning_params big = {.seed = 1, .users = 50000000, .events = 100};
    char buf[SF_GEN_LEARNING_LINE_MAX + GUARD];
    gen_checked(sf_gen_learning_user, &big, big.users, buf);
    assert_memory_equal(buf, "u_50000000,", 11);
    for (uint64_t i = 0; i < 2000; i++)
        gen_checked(sf_gen_learning_event, &big, UINT64_C(9999999000) + i, buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_layout),
        cmocka_unit_test(test_events_fields_and_dirt),
        cmocka_unit_test(test_deterministic_and_seeded),
        cmocka_unit_test(test_large_ids_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
