/* test_decode.c - the JSON conformance suite, through both decoders.
 *
 * tests/cases/json/{accept,reject,impl}/<case>.json hold one JSON text per
 * file (written for shardflow by tests/cases/json/make_cases.py, by
 * category: numbers, strings and escapes, surrogates, UTF-8, structure,
 * whitespace, nesting). Every case goes through the fast decoder and the
 * jansson reference with no field read: an accepted text decodes (0) or,
 * not being an object, is rejected only as "not an object"; a rejected one
 * is invalid JSON, invalid UTF-8 or nesting too deep. Both decoders must
 * give the same result for every case, and the expected verdict: accept/
 * and reject/ by their directory, impl/ by impl/VERDICTS (shardflow's
 * choice where RFC 8259 leaves one). The case files are found through
 * SF_TEST_DATA (the tests directory, set by CMake).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/decode.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t k;
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

static const char *cases_dir(void)
{
    static char dir[4096];
    const char *base = getenv("SF_TEST_DATA");
    snprintf(dir, sizeof dir, "%s/cases/json", base ? base : "tests");
    return dir;
}

/* 1 accepted, 0 rejected as malformed; fails on anything else. */
static int verdict(int rc, const char *name, const char *msg)
{
    if (rc == 0 || rc == 1 + SF_REJ_NOT_OBJECT)
        return 1;
    if (rc == 1 + SF_REJ_INVALID_JSON || rc == 1 + SF_REJ_INVALID_UTF8 ||
        rc == 1 + SF_REJ_TOO_DEEP)
        return 0;
    fail_msg("%s: unexpected result %d (%s)", name, rc, msg);
    return -1;
}

typedef struct tally {
    int cases, fast_accepted, ref_accepted, agreed;
} tally;

/* Runs every case of one directory; want is 1 (accept), 0 (reject) or -1
 * (look the case up in VERDICTS). */
static tally run_dir(const char *sub, int want)
{
    sf_decoder *fast = sf_decoder_new(SF_DECODER_FAST, NULL, 0);
    sf_decoder *ref = sf_decoder_new(SF_DECODER_JANSSON, NULL, 0);
    assert_non_null(fast);
    assert_non_null(ref);
    char dir[4200], path[4600];
    snprintf(dir, sizeof dir, "%s/%s", cases_dir(), sub);
    char *verdicts = NULL;
    if (want < 0) {
        size_t n;
        snprintf(path, sizeof path, "%s/VERDICTS", dir);
        verdicts = read_file(path, &n);
        assert_non_null(verdicts);
        verdicts[n ? n - 1 : 0] = '\0';
    }
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    tally t = {0, 0, 0, 0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *text = read_file(path, &len);
        assert_non_null(text);
        sf_value row[1];
        char m1[256] = "", m2[256] = "";
        int r1 = sf_decoder_decode(fast, text, len, row, m1, sizeof m1);
        int r2 = sf_decoder_decode(ref, text, len, row, m2, sizeof m2);
        int v1 = verdict(r1, e->d_name, m1), v2 = verdict(r2, e->d_name, m2);
        int expect = want;
        if (want < 0) {
            char key[300];
            snprintf(key, sizeof key, "\n%.*s ", (int)(nl - 5), e->d_name);
            const char *hit = strstr(verdicts, key);
            if (!hit)
                fail_msg("%s/%s has no line in VERDICTS", sub, e->d_name);
            expect = strncmp(hit + strlen(key), "accept", 6) == 0;
        }
        if (r1 != r2)
            fail_msg("%s/%s: fast %d (%s), jansson %d (%s)", sub, e->d_name, r1, m1, r2, m2);
        if (v1 != expect)
            fail_msg("%s/%s: expected %s, decoders %s (%s)", sub, e->d_name,
                     expect ? "accept" : "reject", v1 ? "accept" : "reject", m1);
        t.cases++;
        t.fast_accepted += v1;
        t.ref_accepted += v2;
        t.agreed += r1 == r2;
        free(text);
    }
    closedir(d);
    free(verdicts);
    sf_decoder_free(fast);
    sf_decoder_free(ref);
    print_message("json/%s: %d cases; fast accepts %d, rejects %d; jansson accepts %d, "
                  "rejects %d; same result on %d\n",
                  sub, t.cases, t.fast_accepted, t.cases - t.fast_accepted, t.ref_accepted,
                  t.cases - t.ref_accepted, t.agreed);
    return t;
}

static void test_every_must_accept_case_is_accepted_by_both(void **state)
{
    (void)state;
    tally t = run_dir("accept", 1);
    assert_true(t.cases >= 90);
}

static void test_every_must_reject_case_is_rejected_by_both(void **state)
{
    (void)state;
    tally t = run_dir("reject", 0);
    assert_true(t.cases >= 120);
}

static void test_implementation_defined_cases_get_the_documented_verdict(void **state)
{
    (void)state;
    tally t = run_dir("impl", -1);
    assert_true(t.cases >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_must_accept_case_is_accepted_by_both),
        cmocka_unit_test(test_every_must_reject_case_is_rejected_by_both),
        cmocka_unit_test(test_implementation_defined_cases_get_the_documented_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
