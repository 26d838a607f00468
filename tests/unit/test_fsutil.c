/* test_fsutil.c - unit tests of the file-system helpers. Results are checked
 * with plain lstat/stat/readdir calls, independently of the helpers. Tests
 * that need permission errors are skipped when run as root (root ignores
 * file modes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/fsutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sf_fs_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sf_error err;
    if (sf_rmtree(tmpdir, &err) != 0)
        return -1;
    struct stat st;
    return lstat(tmpdir, &st) == 0 ? -1 : 0;
}

/* A path under the test directory; fmt is relative to it. */
static const char *tp(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", tmpdir, rel);
    return buf;
}

#define TP(buf, rel) tp(buf, sizeof buf, rel)

static void put(const char *p, const char *text)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int is_dir_lstat(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists_lstat(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static void test_mkdirs_creates_nested_directories(void **state)
{
    (void)state;
    char p[512], q[512];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(p, "m1/a/b/c"), &err), 0);
    assert_true(is_dir_lstat(TP(q, "m1/a")));
    assert_true(is_dir_lstat(TP(q, "m1/a/b/c")));
    assert_int_equal(sf_mkdirs(TP(p, "m1//x///y/"), &err), 0);
    assert_true(is_dir_lstat(TP(q, "m1/x/y")));
}

static void test_mkdirs_of_existing_directory_succeeds(void **state)
{
    (void)state;
    char p[512];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(p, "m2/a"), &err), 0);
    assert_int_equal(sf_mkdirs(TP(p, "m2/a"), &err), 0);
    assert_int_equal(sf_mkdirs(tmpdir, &err), 0);
}

static void test_mkdirs_through_a_file_fails_naming_it(void **state)
{
    (void)state;
    char p[512], f[512], want[1024];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(p, "m3"), &err), 0);
    put(TP(f, "m3/file"), "x");
    assert_int_equal(sf_mkdirs(TP(p, "m3/file/sub"), &err), SF_E_IO);
    snprintf(want, sizeof want, "cannot create directory '%s': Not a directory", f);
    assert_string_equal(err.msg, want);
    assert_int_equal(sf_mkdirs(f, &err), SF_E_IO);
    assert_string_equal(err.msg, want);
}

static void test_mkdirs_name_too_long_is_reported_with_path(void **state)
{
    (void)state;
    char rel[400], p[1024];
    memset(rel, 'n', 300);
    rel[300] = '\0';
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(p, rel), &err), SF_E_IO);
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "File name too long"));
}

static void test_mkdirs_permission_denied_names_path(void **state)
{
    (void)state;
    if (geteuid() == 0)
        skip();
    char p[512], q[512], want[1024];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(p, "m4"), &err), 0);
    assert_int_equal(chmod(p, 0500), 0);
    int rc = sf_mkdirs(TP(q, "m4/x/y"), &err);
    chmod(p, 0700);
    assert_int_equal(rc, SF_E_IO);
    snprintf(want, sizeof want, "cannot create directory '%s/m4/x': Permission denied", tmpdir);
    assert_string_equal(err.msg, want);
}

static void test_rmtree_removes_nested_tree(void **state)
{
    (void)state;
    char p[512], q[512];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(p, "r1/a/b/c"), &err), 0);
    assert_int_equal(sf_mkdirs(TP(p, "r1/a/empty"), &err), 0);
    put(TP(q, "r1/top.txt"), "1");
    put(TP(q, "r1/a/b/mid.txt"), "2");
    put(TP(q, "r1/a/b/c/deep.txt"), "3");
    assert_int_equal(symlink("deep.txt", TP(q, "r1/a/b/c/rel-link")), 0);
    assert_int_equal(symlink("/nonexistent/target", TP(q, "r1/dangling")), 0);
    assert_int_equal(sf_rmtree(TP(p, "r1"), &err), 0);
    assert_false(exists_lstat(p));
}

static void test_rmtree_does_not_follow_symlink_to_outside_directory(void **state)
{
    (void)state;
    char p[512], q[512], keep[512], keepfile[512];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(keep, "outside/sub"), &err), 0);
    put(TP(keepfile, "outside/sub/precious.txt"), "keep me");
    assert_int_equal(sf_mkdirs(TP(p, "r2/x/y"), &err), 0);
    assert_int_equal(symlink(keep, TP(q, "r2/link-top")), 0);
    assert_int_equal(symlink(keep, TP(q, "r2/x/y/link-deep")), 0);
    assert_int_equal(sf_rmtree(TP(p, "r2"), &err), 0);
    assert_false(exists_lstat(p));
    assert_true(is_dir_lstat(keep));
    assert_true(exists_lstat(keepfile));

    /* A path that is itself a link: only the link goes. */
    assert_int_equal(symlink(keep, TP(q, "r2link")), 0);
    assert_int_equal(sf_rmtree(q, &err), 0);
    assert_false(exists_lstat(q));
    assert_true(exists_lstat(keepfile));
}

static void test_rmtree_of_file_and_of_missing_path(void **state)
{
    (void)state;
    char p[512];
    sf_error err;
    put(TP(p, "r3.txt"), "x");
    assert_int_equal(sf_rmtree(p, &err), 0);
    assert_false(exists_lstat(p));
    assert_int_equal(sf_rmtree(p, &err), 0);
}

static void test_rmtree_error_names_path(void **state)
{
    (void)state;
    char f[512], p[512], want[1024];
    sf_error err;
    put(TP(f, "r4file"), "x");
    assert_int_equal(sf_rmtree(TP(p, "r4file/sub"), &err), SF_E_IO);
    snprintf(want, sizeof want, "cannot remove '%s': Not a directory", p);
    assert_string_equal(err.msg, want);
}

static void test_rmtree_permission_error_names_nested_path(void **state)
{
    (void)state;
    if (geteuid() == 0)
        skip();
    char p[512], d[512], f[512], want[1024];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(d, "r5/locked"), &err), 0);
    put(TP(f, "r5/locked/file"), "x");
    assert_int_equal(chmod(d, 0500), 0);
    int rc = sf_rmtree(TP(p, "r5"), &err);
    chmod(d, 0700);
    assert_int_equal(rc, SF_E_IO);
    snprintf(want, sizeof want, "cannot remove '%s': Permission denied", f);
    assert_string_equal(err.msg, want);
    assert_int_equal(sf_rmtree(p, &err), 0);
}

static void test_path_exists_and_is_dir(void **state)
{
    (void)state;
    char f[512], d[512], l[512], m[512], dl[512];
    sf_error err;
    put(TP(f, "e1.txt"), "x");
    assert_int_equal(sf_mkdirs(TP(d, "e1dir"), &err), 0);
    assert_int_equal(symlink("/nonexistent/target", TP(l, "e1dangling")), 0);
    assert_int_equal(symlink(d, TP(dl, "e1dirlink")), 0);
    TP(m, "e1missing");
    assert_int_equal(sf_path_exists(f), 1);
    assert_int_equal(sf_path_exists(d), 1);
    assert_int_equal(sf_path_exists(l), 1);
    assert_int_equal(sf_path_exists(m), 0);
    assert_int_equal(sf_is_dir(f), 0);
    assert_int_equal(sf_is_dir(d), 1);
    assert_int_equal(sf_is_dir(l), 0);
    assert_int_equal(sf_is_dir(m), 0);
    assert_int_equal(sf_is_dir(dl), 1);
}

static void test_file_size_of_file_missing_and_directory(void **state)
{
    (void)state;
    char f[512], m[512], want[1024];
    sf_error err;
    uint64_t size = 0;
    put(TP(f, "s1.txt"), "hello\n");
    assert_int_equal(sf_file_size(f, &size, &err), 0);
    assert_int_equal(size, 6);
    assert_int_equal(sf_file_size(TP(m, "s1missing"), &size, &err), SF_E_NOTFOUND);
    snprintf(want, sizeof want, "cannot stat '%s': No such file or directory", m);
    assert_string_equal(err.msg, want);
    assert_int_equal(sf_file_size(tmpdir, &size, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, tmpdir));
}

static void test_read_file_returns_nul_terminated_contents(void **state)
{
    (void)state;
    char f[512];
    sf_error err;
    static const char bytes[] = "a\0b\nsecond line\n";
    FILE *fp = fopen(TP(f, "rf.bin"), "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, sizeof bytes - 1, fp), sizeof bytes - 1);
    assert_int_equal(fclose(fp), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(sf_read_file(f, &data, &len, &err), 0);
    assert_int_equal(len, sizeof bytes - 1);
    assert_memory_equal(data, bytes, len);
    assert_int_equal(data[len], '\0');
    free(data);

    put(f, "");
    assert_int_equal(sf_read_file(f, &data, &len, &err), 0);
    assert_int_equal(len, 0);
    assert_int_equal(data[0], '\0');
    free(data);
}

static void test_read_file_of_file_with_unknown_size(void **state)
{
    (void)state;
    /* /proc files report size 0 but have contents. */
    if (access("/proc/self/status", R_OK) != 0)
        skip();
    char *data = NULL;
    size_t len = 0;
    sf_error err;
    assert_int_equal(sf_read_file("/proc/self/status", &data, &len, &err), 0);
    assert_true(len > 0);
    assert_non_null(strstr(data, "Name:"));
    assert_int_equal(strlen(data), len);
    free(data);
}

static void test_read_file_errors_name_path(void **state)
{
    (void)state;
    char m[512], want[1024];
    sf_error err;
    char *data = (char *)1;
    size_t len = 7;
    assert_int_equal(sf_read_file(TP(m, "rfmissing"), &data, &len, &err), SF_E_NOTFOUND);
    assert_null(data);
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", m);
    assert_string_equal(err.msg, want);
    assert_int_equal(sf_read_file(tmpdir, &data, &len, &err), SF_E_IO);
    snprintf(want, sizeof want, "cannot read '%s': Is a directory", tmpdir);
    assert_string_equal(err.msg, want);
}

/* Number of entries in dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void test_write_file_atomic_replaces_existing_file(void **state)
{
    (void)state;
    char d[512], f[512];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(d, "aw1"), &err), 0);
    put(TP(f, "aw1/_SUCCESS"), "old contents that are longer");
    assert_int_equal(sf_write_file_atomic(f, "new", 3, &err), 0);
    char *data;
    size_t len;
    assert_int_equal(sf_read_file(f, &data, &len, &err), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "new", 3);
    free(data);
    assert_int_equal(count_prefixed(d, "_SUCCESS"), 1);
    assert_int_equal(sf_write_file_atomic(f, "", 0, &err), 0);
    struct stat st;
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_size, 0);
}

static void test_write_file_atomic_of_new_empty_file_leaves_no_temporary(void **state)
{
    (void)state;
    char d[512], f[512];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(d, "aw3"), &err), 0);
    assert_int_equal(sf_write_file_atomic(TP(f, "aw3/_SUCCESS"), "", 0, &err), 0);
    struct stat st;
    assert_int_equal(stat(f, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 0);
    assert_int_equal(count_prefixed(d, "_SUCCESS"), 1); /* no _SUCCESS.tmp.PID */
    assert_int_equal(sf_write_file_staged(TP(f, "aw3/empty"), "", 0, &err), 0);
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(count_prefixed(d, "empty"), 1);
}

static void test_write_file_atomic_empty_over_existing_file_replaces_it_whole(void **state)
{
    (void)state;
    char d[512], f[512], other[512];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(d, "aw4"), &err), 0);
    put(TP(f, "aw4/_SUCCESS"), "old");
    /* A second name of the old file: the old file must keep its contents
     * (replaced by a rename), never be truncated where it is. */
    assert_int_equal(link(f, TP(other, "aw4/old-link")), 0);
    assert_int_equal(sf_write_file_atomic(f, "", 0, &err), 0);
    struct stat st;
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_size, 0);
    char *data;
    size_t len;
    assert_int_equal(sf_read_file(other, &data, &len, &err), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "old", 3);
    free(data);
    assert_int_equal(count_prefixed(d, "_SUCCESS"), 1);
}

static void test_write_file_atomic_empty_in_missing_directory_names_path(void **state)
{
    (void)state;
    char f[512];
    sf_error err;
    assert_int_equal(sf_write_file_atomic(TP(f, "aw-missing2/_SUCCESS"), "", 0, &err), SF_E_IO);
    assert_non_null(strstr(err.msg, f));
    assert_non_null(strstr(err.msg, "No such file or directory"));
}

static void test_write_file_atomic_in_missing_directory_names_path(void **state)
{
    (void)state;
    char f[512];
    sf_error err;
    assert_int_equal(sf_write_file_atomic(TP(f, "aw-missing/x.json"), "{}", 2, &err), SF_E_IO);
    assert_non_null(strstr(err.msg, f));
    assert_non_null(strstr(err.msg, "No such file or directory"));
}

static void test_write_file_atomic_failed_rename_removes_temporary(void **state)
{
    (void)state;
    char d[512], target[512], inner[512];
    sf_error err;
    assert_int_equal(sf_mkdirs(TP(d, "aw2"), &err), 0);
    /* A non-empty directory cannot be replaced by a file. */
    assert_int_equal(sf_mkdirs(TP(target, "aw2/out"), &err), 0);
    put(TP(inner, "aw2/out/keep"), "x");
    assert_int_equal(sf_write_file_atomic(target, "data", 4, &err), SF_E_IO);
    assert_non_null(strstr(err.msg, target));
    assert_non_null(strstr(err.msg, "Is a directory"));
    assert_int_equal(count_prefixed(d, "out.tmp."), 0);
    assert_true(is_dir_lstat(target));
    assert_true(exists_lstat(inner));
}

static void test_rename_moves_file_and_errors_name_both_paths(void **state)
{
    (void)state;
    char a[512], b[512], c[512], want[1200];
    sf_error err;
    put(TP(a, "rn-a"), "A");
    assert_int_equal(sf_rename(a, TP(b, "rn-b"), &err), 0);
    assert_false(exists_lstat(a));
    assert_true(exists_lstat(b));
    assert_int_equal(sf_rename(a, TP(c, "rn-c"), &err), SF_E_IO);
    snprintf(want, sizeof want, "cannot rename '%s' to '%s': No such file or directory", a, c);
    assert_string_equal(err.msg, want);
}

static void test_fsync_dir_of_directory_and_missing_path(void **state)
{
    (void)state;
    char m[512], want[1024];
    sf_error err;
    assert_int_equal(sf_fsync_dir(tmpdir, &err), 0);
    assert_int_equal(sf_fsync_dir(TP(m, "fsync-missing"), &err), SF_E_IO);
    snprintf(want, sizeof want, "cannot open directory '%s': No such file or directory", m);
    assert_string_equal(err.msg, want);
}

/* sf_fsync_files: every file of a set synced (across batches of
 * SF_FSYNC_BATCH), none for an empty set, and the first path in order
 * that cannot be opened named, whichever thread got to it. */
static void test_fsync_files_syncs_a_set_and_names_the_first_failure(void **state)
{
    (void)state;
    enum { N = SF_FSYNC_BATCH + 44 };
    static char names[N][512];
    const char *paths[N];
    sf_error err;
    for (size_t i = 0; i < N; i++) {
        char leaf[64];
        snprintf(leaf, sizeof leaf, "fs-set-%zu", i);
        put(TP(names[i], leaf), "row\n");
        paths[i] = names[i];
    }
    assert_int_equal(sf_fsync_files(paths, 0, &err), 0);
    assert_int_equal(sf_fsync_files(paths, 1, &err), 0);
    assert_int_equal(sf_fsync_files(paths, 9, &err), 0);
    assert_int_equal(sf_fsync_files(paths, N, &err), 0);

    char miss1[512], miss2[512], want[1024];
    paths[5] = TP(miss1, "fs-set-missing-1");
    paths[7] = TP(miss2, "fs-set-missing-2");
    assert_int_equal(sf_fsync_files(paths, 9, &err), SF_E_IO);
    snprintf(want, sizeof want, "cannot open to sync '%s': No such file or directory", miss1);
    assert_string_equal(err.msg, want);
    /* a failure in the second batch, the first all synced */
    paths[5] = names[5];
    paths[7] = names[7];
    paths[SF_FSYNC_BATCH + 3] = miss2;
    assert_int_equal(sf_fsync_files(paths, N, &err), SF_E_IO);
    snprintf(want, sizeof want, "cannot open to sync '%s': No such file or directory", miss2);
    assert_string_equal(err.msg, want);
    assert_int_equal(sf_fsync_files(&paths[SF_FSYNC_BATCH + 3], 1, &err), SF_E_IO);
    assert_string_equal(err.msg, want);
}

static void test_output_target_resolves_a_link_only(void **state)
{
    (void)state;
    char dir[512], link[512], dangling[512], nowhere[512], want[PATH_MAX];
    tp(dir, sizeof dir, "target_dir");
    tp(link, sizeof link, "out_link");
    tp(dangling, sizeof dangling, "dangling_link");
    tp(nowhere, sizeof nowhere, "nowhere");
    assert_int_equal(mkdir(dir, 0777), 0);
    assert_int_equal(symlink(dir, link), 0);
    assert_int_equal(symlink(nowhere, dangling), 0);
    assert_non_null(realpath(dir, want));
    sf_error err;
    sf_error_clear(&err);
    /* not a link: as given, trailing slashes dropped; a missing path too */
    char *t = sf_output_target("some/where//", &err);
    assert_string_equal(t, "some/where");
    free(t);
    t = sf_output_target(dir, &err);
    assert_string_equal(t, dir);
    free(t);
    /* a link, with or without a trailing slash: its target */
    t = sf_output_target(link, &err);
    assert_string_equal(t, want);
    free(t);
    char slash[520];
    snprintf(slash, sizeof slash, "%s/", link);
    t = sf_output_target(slash, &err);
    assert_string_equal(t, want);
    free(t);
    /* a link to nothing: an error naming both */
    assert_null(sf_output_target(dangling, &err));
    assert_int_equal(err.code, SF_E_INVAL);
    assert_non_null(strstr(err.msg, dangling));
    assert_non_null(strstr(err.msg, nowhere));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkdirs_creates_nested_directories),
        cmocka_unit_test(test_mkdirs_of_existing_directory_succeeds),
        cmocka_unit_test(test_mkdirs_through_a_file_fails_naming_it),
        cmocka_unit_test(test_mkdirs_name_too_long_is_reported_with_path),
        cmocka_unit_test(test_mkdirs_permission_denied_names_path),
        cmocka_unit_test(test_rmtree_removes_nested_tree),
        cmocka_unit_test(test_rmtree_does_not_follow_symlink_to_outside_directory),
        cmocka_unit_test(test_rmtree_of_file_and_of_missing_path),
        cmocka_unit_test(test_rmtree_error_names_path),
        cmocka_unit_test(test_rmtree_permission_error_names_nested_path),
        cmocka_unit_test(test_path_exists_and_is_dir),
        cmocka_unit_test(test_file_size_of_file_missing_and_directory),
        cmocka_unit_test(test_read_file_returns_nul_terminated_contents),
        cmocka_unit_test(test_read_file_of_file_with_unknown_size),
        cmocka_unit_test(test_read_file_errors_name_path),
        cmocka_unit_test(test_write_file_atomic_replaces_existing_file),
        cmocka_unit_test(test_write_file_atomic_in_missing_directory_names_path),
        cmocka_unit_test(test_write_file_atomic_of_new_empty_file_leaves_no_temporary),
        cmocka_unit_test(test_write_file_atomic_empty_over_existing_file_replaces_it_whole),
        cmocka_unit_test(test_write_file_atomic_empty_in_missing_directory_names_path),
        cmocka_unit_test(test_write_file_atomic_failed_rename_removes_temporary),
        cmocka_unit_test(test_rename_moves_file_and_errors_name_both_paths),
        cmocka_unit_test(test_fsync_dir_of_directory_and_missing_path),
        cmocka_unit_test(test_fsync_files_syncs_a_set_and_names_the_first_failure),
        cmocka_unit_test(test_output_target_resolves_a_link_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
