/* test_claim.c - the output claim of io/claim.h in a fresh mkdtemp
 * directory per test: exclusive take, the busy message, release, stale
 * claims (a SIGKILLed holder, a reused pid, an old claim from another
 * host, an unreadable claim) and a takeover that release must not undo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "io/claim.h"
#include "io/fsutil.h"

typedef struct fixture {
    char dir[256];
    char out[300];   /* dir/out */
    char claim[340]; /* dir/out.shardflow-claim */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *base = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/sf_claim_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->out, sizeof f->out, "%s/out", f->dir);
    snprintf(f->claim, sizeof f->claim, "%s/out.shardflow-claim", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sf_error err;
    int rc = sf_rmtree(f->dir, &err);
    free(f);
    return rc == 0 ? 0 : -1;
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static void write_text(const char *p, const char *text)
{
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

/* Names in dir, sorted, joined with ','. */
static void assert_listing(const char *dir, const char *want)
{
    char names[16][256], got[2048] = "";
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            assert_true(n < 16);
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
        }
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[256];
            memcpy(t, names[j], sizeof t);
            memcpy(names[j], names[j - 1], sizeof t);
            memcpy(names[j - 1], t, sizeof t);
        }
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(got, ",");
        strcat(got, names[i]);
    }
    assert_string_equal(got, want);
}

static void my_host(char *host, size_t cap)
{
    assert_int_equal(gethostname(host, cap), 0);
    host[cap - 1] = '\0';
}

static void test_claim_path_is_beside_out(void **state)
{
    (void)state;
    char *p = sf_claim_path("/data/out//");
    assert_string_equal(p, "/data/out.shardflow-claim");
    free(p);
}

static void test_take_on_missing_output_writes_claim_and_leaves_out_absent(void **state)
{
    fixture *f = *state;
    char out[400], claim[440], note[256];
    snprintf(out, sizeof out, "%s/a/b/out", f->dir);
    snprintf(claim, sizeof claim, "%s/a/b/out.shardflow-claim", f->dir);
    sf_claim *c = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_claim_take(&c, out, "20260101T000000-1", 0, note, sizeof note, &err), 0);
    assert_non_null(c);
    assert_string_equal(note, "");
    assert_false(exists(out));
    sf_claim_info info;
    assert_int_equal(sf_claim_read(claim, &info, &err), 0);
    char host[256];
    my_host(host, sizeof host);
    assert_string_equal(info.run_id, "20260101T000000-1");
    assert_string_equal(info.host, host);
    assert_int_equal(info.pid, (long)getpid());
    assert_true(info.since_epoch > 0 && llabs((long long)(time(NULL) - info.since_epoch)) < 5);
    assert_int_equal(strlen(info.since), 20);
    assert_int_equal(info.since[19], 'Z');
    assert_int_equal(sf_claim_release(c, &err), 0);
    assert_false(exists(claim));
}

static void test_second_take_is_busy_with_holder_named(void **state)
{
    fixture *f = *state;
    sf_claim *a = NULL, *b = NULL;
    sf_error err;
    char note[256];
    assert_int_equal(sf_claim_take(&a, f->out, "runA", 0, note, sizeof note, &err), 0);
    sf_claim_info info;
    assert_int_equal(sf_claim_read(f->claim, &info, &err), 0);
    sf_error_clear(&err);
    assert_int_equal(sf_claim_take(&b, f->out, "runB", 0, note, sizeof note, &err), SF_E_BUSY);
    assert_null(b);
    char want[1024];
    snprintf(want, sizeof want, "%s is being written by run runA (host %s, pid %ld, since %s)",
             f->out, info.host, (long)getpid(), info.since);
    assert_string_equal(err.msg, want);
    /* The refused take left the holder's claim as it was. */
    sf_claim_info again;
    assert_int_equal(sf_claim_read(f->claim, &again, &err), 0);
    assert_string_equal(again.run_id, "runA");
    assert_listing(f->dir, "out.shardflow-claim");
    assert_int_equal(sf_claim_release(a, &err), 0);
    assert_int_equal(sf_claim_take(&b, f->out, "runB", 0, note, sizeof note, &err), 0);
    assert_int_equal(sf_claim_release(b, &err), 0);
    assert_listing(f->dir, "");
}

static void test_claim_of_a_sigkilled_holder_is_broken_with_a_note(void **state)
{
    fixture *f = *state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        sf_claim *c = NULL;
        sf_error err;
        char note[64];
        char ok = sf_claim_take(&c, f->out, "child", 0, note, sizeof note, &err) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    close(ready[0]);
    close(ready[1]);

    /* While the child lives, its claim holds. */
    sf_claim *c = NULL;
    sf_error err;
    char note[512];
    assert_int_equal(sf_claim_take(&c, f->out, "parent", 3600, note, sizeof note, &err),
                     SF_E_BUSY);
    char want[128];
    snprintf(want, sizeof want, "pid %ld,", (long)child);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "is being written by run child"));

    assert_int_equal(kill(child, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_true(exists(f->claim)); /* nothing cleaned up after a SIGKILL */

    sf_error_clear(&err);
    assert_int_equal(sf_claim_take(&c, f->out, "parent", 3600, note, sizeof note, &err), 0);
    char want_note[512];
    snprintf(want_note, sizeof want_note, "broke the claim on '%s' left by run child (host ",
             f->out);
    assert_memory_equal(note, want_note, strlen(want_note));
    assert_non_null(strstr(note, ": its process is gone"));
    sf_claim_info info;
    assert_int_equal(sf_claim_read(f->claim, &info, &err), 0);
    assert_string_equal(info.run_id, "parent");
    assert_listing(f->dir, "out.shardflow-claim");
    assert_int_equal(sf_claim_release(c, &err), 0);
}

static void test_claim_with_a_reused_pid_is_stale(void **state)
{
    fixture *f = *state;
    char host[256], text[1024];
    my_host(host, sizeof host);
    /* Our own (live) pid, but a start time that is not ours. */
    snprintf(text, sizeof text,
             "{\"run_id\": \"old\", \"host\": \"%s\", \"pid\": %ld, \"pid_start\": 1, "
             "\"since\": \"2026-01-01T00:00:00Z\", \"since_epoch\": %lld}\n",
             host, (long)getpid(), (long long)time(NULL));
    write_text(f->claim, text);
    sf_claim *c = NULL;
    sf_error err;
    char note[512];
    assert_int_equal(sf_claim_take(&c, f->out, "new", 0, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "the pid now belongs to another process"));
    assert_int_equal(sf_claim_release(c, &err), 0);
}

static void test_claim_of_another_host_breaks_only_after_the_timeout(void **state)
{
    fixture *f = *state;
    char text[1024];
    snprintf(text, sizeof text,
             "{\"run_id\": \"far\", \"host\": \"node-that-is-not-this-one\", \"pid\": 1, "
             "\"pid_start\": 0, \"since\": \"2026-01-01T00:00:00Z\", \"since_epoch\": %lld}\n",
             (long long)time(NULL) - 100);
    write_text(f->claim, text);
    sf_claim *c = NULL;
    sf_error err;
    char note[512];
    /* No age rule, and a longer timeout: a live claim on another node. */
    assert_int_equal(sf_claim_take(&c, f->out, "me", 0, note, sizeof note, &err), SF_E_BUSY);
    char want[600];
    snprintf(want, sizeof want, "%s is being written by run far (host "
             "node-that-is-not-this-one, pid 1, since 2026-01-01T00:00:00Z)", f->out);
    assert_string_equal(err.msg, want);
    assert_int_equal(sf_claim_take(&c, f->out, "me", 1000, note, sizeof note, &err), SF_E_BUSY);
    /* Older than the timeout: broken. */
    assert_int_equal(sf_claim_take(&c, f->out, "me", 50, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "left by run far (host node-that-is-not-this-one"));
    assert_non_null(strstr(note, "over --claim-timeout 50 s"));
    assert_int_equal(sf_claim_release(c, &err), 0);
    assert_listing(f->dir, "");
}

static void test_unreadable_claim_is_busy_while_young_and_broken_when_old(void **state)
{
    fixture *f = *state;
    write_text(f->claim, ""); /* created, not yet written */
    sf_claim *c = NULL;
    sf_error err;
    char note[512];
    assert_int_equal(sf_claim_take(&c, f->out, "me", 0, note, sizeof note, &err), SF_E_BUSY);
    assert_non_null(strstr(err.msg, "is being written by run (claim being written)"));
    struct timeval tv[2] = {{time(NULL) - 120, 0}, {time(NULL) - 120, 0}};
    assert_int_equal(utimes(f->claim, tv), 0);
    assert_int_equal(sf_claim_take(&c, f->out, "me", 0, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "left by an unreadable claim: it is unreadable"));
    assert_int_equal(sf_claim_release(c, &err), 0);
}

static void test_release_leaves_a_claim_taken_over_by_another_run(void **state)
{
    fixture *f = *state;
    sf_claim *c = NULL;
    sf_error err;
    char note[64];
    assert_int_equal(sf_claim_take(&c, f->out, "mine", 0, note, sizeof note, &err), 0);
    /* Someone broke our claim (e.g. a too short --claim-timeout) and took it. */
    assert_int_equal(unlink(f->claim), 0);
    write_text(f->claim, "{\"run_id\": \"theirs\", \"host\": \"h\", \"pid\": 5, "
                         "\"pid_start\": 0, \"since\": \"x\", \"since_epoch\": 1}\n");
    sf_error_clear(&err);
    assert_int_equal(sf_claim_release(c, &err), SF_E_IO);
    assert_non_null(strstr(err.msg, "had been taken over by another run"));
    sf_claim_info info;
    assert_int_equal(sf_claim_read(f->claim, &info, &err), 0);
    assert_string_equal(info.run_id, "theirs");
    assert_listing(f->dir, "out.shardflow-claim");
}

static void test_release_of_a_vanished_claim_is_an_error_and_null_is_a_noop(void **state)
{
    fixture *f = *state;
    sf_claim *c = NULL;
    sf_error err;
    char note[64];
    assert_int_equal(sf_claim_take(&c, f->out, "mine", 0, note, sizeof note, &err), 0);
    assert_int_equal(unlink(f->claim), 0);
    assert_int_equal(sf_claim_release(c, &err), SF_E_IO);
    assert_non_null(strstr(err.msg, "was gone at release"));
    assert_int_equal(sf_claim_release(NULL, &err), 0);
    assert_listing(f->dir, "");
}

static void test_read_of_missing_and_garbage_claims(void **state)
{
    fixture *f = *state;
    sf_claim_info info;
    sf_error err;
    assert_int_equal(sf_claim_read(f->claim, &info, &err), SF_E_NOTFOUND);
    write_text(f->claim, "{\"run_id\": 3}");
    assert_int_equal(sf_claim_read(f->claim, &info, &err), SF_E_PARSE);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_claim_path_is_beside_out),
        T(test_take_on_missing_output_writes_claim_and_leaves_out_absent),
        T(test_second_take_is_busy_with_holder_named),
        T(test_claim_of_a_sigkilled_holder_is_broken_with_a_note),
        T(test_claim_with_a_reused_pid_is_stale),
        T(test_claim_of_another_host_breaks_only_after_the_timeout),
        T(test_unreadable_claim_is_busy_while_young_and_broken_when_old),
        T(test_release_leaves_a_claim_taken_over_by_another_run),
        T(test_release_of_a_vanished_claim_is_an_error_and_null_is_a_noop),
        T(test_read_of_missing_and_garbage_claims),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
