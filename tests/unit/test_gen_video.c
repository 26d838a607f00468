/* test_gen_video.c - unit tests of the video generator: framing, the CSV
 * dimension files read back with an RFC 4180 field splitter written here,
 * the nested events read back with jansson, exact re-sent duplicates, the
 * dirt the star-schema pipeline must handle (unknown ids, mixed-case types,
 * null users), and determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/gen_video.h"

static const sf_gen_video_params params = {.seed = 3, .events = 20000, .users = 400,
                                           .videos = 300};

#define GUARD 16
#define LINE (SF_GEN_VIDEO_LINE_MAX + GUARD)

typedef size_t (*line_fn)(const sf_gen_video_params *, uint64_t, char *);

static size_t gen_checked(line_fn fn, uint64_t i, char *buf)
{
    memset(buf, 0x7f, LINE);
    size_t n = fn(&params, i, buf);
    assert_true(n > 2 && n <= SF_GEN_VIDEO_LINE_MAX);
    for (size_t k = n; k < LINE; k++)
        assert_int_equal(buf[k], 0x7f);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    return n;
}

/* RFC 4180 fields of one record (no newline inside quotes) into out[k]
 * (64 bytes each). Returns the field count, or -1 on a malformed quote. */
static int csv_fields(const char *line, char out[][64], int max)
{
    int n = 0;
    const char *c = line;
    for (;;) {
        if (n == max)
            return -1;
        size_t len = 0;
        if (*c == '"') {
            c++;
            for (;;) {
                if (*c == '\0' || *c == '\n')
                    return -1;
                if (*c == '"' && c[1] == '"') {
                    out[n][len++] = '"';
                    c += 2;
                } else if (*c == '"') {
                    c++;
                    break;
                } else {
                    out[n][len++] = *c++;
                }
            }
            if (*c != ',' && *c != '\n')
                return -1; /* text after a closing quote */
        } else {
            while (*c != ',' && *c != '\n' && *c != '\0') {
                if (*c == '"')
                    return -1; /* a quote inside an unquoted field */
                out[n][len++] = *c++;
            }
        }
        out[n++][len] = '\0';
        if (*c != ',')
            return n;
        c++;
    }
}

static void check_csv(line_fn fn, uint64_t lines, const char *header, int nfields,
                      const char *prefix, int *quoted)
{
    char buf[LINE], f[8][64];
    size_t n = gen_checked(fn, 0, buf);
    assert_int_equal(n, strlen(header));
    assert_memory_equal(buf, header, n);
    for (uint64_t i = 1; i < lines; i++) {
        gen_checked(fn, i, buf);
        assert_int_equal(csv_fields(buf, f, 8), nfields);
        char id[32];
        snprintf(id, sizeof id, "%s%0*llu", prefix, strcmp(prefix, "vid_") ? 6 : 5,
                 (unsigned long long)i);
        assert_string_equal(f[0], id);
        if (quoted)
            *quoted += buf[strlen(f[0]) + 1] == '"';
    }
}

static void test_dimension_files(void **state)
{
    (void)state;
    assert_int_equal(sf_gen_video_user_lines(&params), 401);
    assert_int_equal(sf_gen_video_video_lines(&params), 301);
    assert_int_equal(sf_gen_video_device_lines(&params), 801);
    check_csv(sf_gen_video_user, 401, "user_id,signup_date,country,subscription_tier\n", 4,
              "usr_", NULL);
    int quoted = 0;
    check_csv(sf_gen_video_video, 301, "video_id,title,category,duration_sec,publish_date\n", 5,
              "vid_", &quoted);
    assert_true(quoted > 30 && quoted < 95); /* about one title in five */
    check_csv(sf_gen_video_device, 801, "device_id,device_type,os,app_version\n", 4, "dev_",
              NULL);
}

static void test_events(void **state)
{
    (void)state;
    static char lines[20000][SF_GEN_VIDEO_LINE_MAX];
    int resent = 0, odd_case = 0, bad_video = 0, bad_device = 0, null_user = 0, no_player = 0;
    for (uint64_t i = 0; i < params.events; i++) {
        char buf[LINE];
        size_t n = gen_checked(sf_gen_video_event, i, buf);
        memcpy(lines[i], buf, n);
        lines[i][n - 1] = '\0';
        json_error_t jerr;
        json_t *e = json_loadb(buf, n - 1, 0, &jerr);
        if (!e)
            fail_msg("event %llu does not parse: %s", (unsigned long long)i, jerr.text);
        const char *id = json_string_value(json_object_get(e, "event_id"));
        unsigned long long k = strtoull(id + 2, NULL, 10);
        assert_true(k >= 1 && k <= i + 1);
        if (k != i + 1) { /* a re-sent event: the exact line of event k-1 */
            assert_string_equal(lines[i], lines[k - 1]);
            resent++;
        }
        const char *ty = json_string_value(json_object_get(e, "event_type"));
        odd_case += ty[0] >= 'A' && ty[0] <= 'Z';
        json_t *u = json_object_get(e, "user_id");
        null_user += json_is_null(u);
        unsigned long long video = strtoull(json_string_value(json_object_get(e, "video_id")) + 4,
                                            NULL, 10);
        bad_video += video > params.videos;
        unsigned long long dev = strtoull(json_string_value(json_object_get(e, "device_id")) + 4,
                                          NULL, 10);
        bad_device += dev > 2 * params.users;
        if (json_is_string(u) && dev <= 2 * params.users) { /* one of the user's two devices */
            unsigned long long user = strtoull(json_string_value(u) + 4, NULL, 10);
            assert_true(dev == 2 * user - 1 || dev == 2 * user);
        }
        json_t *ctx = json_object_get(e, "context");
        assert_true(json_is_object(json_object_get(ctx, "geo")));
        no_player += json_object_get(ctx, "player") == NULL;
        const char *t = json_string_value(json_object_get(e, "event_time"));
        assert_true(strncmp(t, "2025-06-", 8) == 0 && strlen(t) == 20 && t[19] == 'Z');
        json_decref(e);
    }
    assert_true(resent > 250 && resent < 550);    /* 2% = 400 */
    assert_true(odd_case > 400 && odd_case < 850); /* 3% = 600 */
    assert_true(bad_video > 50 && bad_video < 160);
    assert_true(bad_device > 50 && bad_device < 160);
    assert_true(null_user > 20 && null_user < 110);
    assert_true(no_player > 120 && no_player < 300);
}

static void test_deterministic(void **state)
{
    (void)state;
    char a[LINE], b[LINE];
    for (uint64_t i = 0; i < 500; i++) {
        size_t n = gen_checked(sf_gen_video_event, i * 37, a);
        assert_int_equal(gen_checked(sf_gen_video_event, i * 37, b), n);
        assert_memory_equal(a, b, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dimension_files),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
