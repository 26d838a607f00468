/* test_spill.c - io/spill.h: records put into partitions come back in
 * order, per partition, through bounded blocks; a damaged block is an
 * error naming the file; dropped partitions and closed spills leave no
 * files; directories of killed runs are removed and live ones kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/fsutil.h"
#include "io/spill.h"

static char root[256];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/sf_test_spill_%ld", (long)getpid());
    sf_error err;
    sf_rmtree(root, &err);
    return mkdir(root, 0700);
}

static int teardown(void **state)
{
    (void)state;
    sf_error err;
    return sf_rmtree(root, &err);
}

/* Record i of partition p: "p:i" padded to a length that varies with i. */
static size_t make_rec(char *buf, uint32_t p, int i)
{
    int n = snprintf(buf, 64, "%u:%d:", (unsigned)p, i);
    size_t len = (size_t)n + (size_t)(i % 37);
    memset(buf + n, 'a' + i % 26, len - (size_t)n);
    return len;
}

static void test_records_come_back_per_partition_in_order(void **state)
{
    (void)state;
    sf_spill *s;
    sf_error err = {0};
    assert_int_equal(sf_spill_open(&s, root, "run1", 3, 4, 256, &err), 0);
    assert_true(sf_is_dir(sf_spill_path(s)));
    assert_non_null(strstr(sf_spill_path(s), "/shardflow-run1-r3"));
    char buf[128];
    uint64_t want_total = 0;
    for (int i = 0; i < 500; i++) {
        uint32_t p = (uint32_t)(i * 7 % 3); /* partition 3 stays empty */
        size_t len = make_rec(buf, p, i);
        assert_int_equal(sf_spill_put(s, p, buf, len, &err), 0);
        want_total += 4 + len;
    }
    assert_true(sf_spill_total_bytes(s) == want_total);
    assert_true(sf_spill_disk_bytes(s) > 0); /* 256-byte blocks were written */
    for (uint32_t p = 0; p < 4; p++) {
        sf_spill_reader *r;
        assert_int_equal(sf_spill_read_open(s, p, &r, &err), 0);
        const unsigned char *rec;
        size_t len;
        int got = 0;
        for (int i = 0; i < 500; i++) {
            if ((uint32_t)(i * 7 % 3) != p)
                continue;
            assert_int_equal(sf_spill_read_next(r, &rec, &len, &err), 1);
            size_t wl = make_rec(buf, p, i);
            assert_int_equal(len, wl);
            assert_memory_equal(rec, buf, wl);
            got++;
        }
        assert_int_equal(sf_spill_read_next(r, &rec, &len, &err), 0);
        sf_spill_read_close(r);
        if (p == 3)
            assert_int_equal(got, 0);
    }
    sf_spill_close(s);
}

static void test_record_larger_than_a_block_round_trips(void **state)
{
    (void)state;
    sf_spill *s;
    sf_error err = {0};
    assert_int_equal(sf_spill_open(&s, root, "big", 0, 1, 100, &err), 0);
    size_t n = 10000;
    unsigned char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 31);
    assert_int_equal(sf_spill_put(s, 0, "x", 1, &err), 0);
    assert_int_equal(sf_spill_put(s, 0, big, n, &err), 0);
    assert_int_equal(sf_spill_put(s, 0, "yz", 2, &err), 0);
    sf_spill_reader *r;
    const unsigned char *rec;
    size_t len;
    assert_int_equal(sf_spill_read_open(s, 0, &r, &err), 0);
    assert_int_equal(sf_spill_read_next(r, &rec, &len, &err), 1);
    assert_int_equal(len, 1);
    assert_int_equal(sf_spill_read_next(r, &rec, &len, &err), 1);
    assert_int_equal(len, n);
    assert_memory_equal(rec, big, n);
    assert_int_equal(sf_spill_read_next(r, &rec, &len, &err), 1);
    assert_int_equal(len, 2);
    assert_memory_equal(rec, "yz", 2);
    assert_int_equal(sf_spill_read_next(r, &rec, &len, &err), 0);
    sf_spill_read_close(r);
    free(big);
    sf_spill_close(s);
}

/* Flips one byte of partition 0's file at offset off. */
static void damage(sf_spill *s, long off)
{
    char file[600];
    snprintf(file, sizeof file, "%s/part-00000.run", sf_spill_path(s));
    FILE *fp = fopen(file, "r+b");
    assert_non_null(fp);
    fseek(fp, off, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, off, SEEK_SET);
    fputc(c ^ 0x40, fp);
    fclose(fp);
}

static void test_damaged_block_fails_its_checksum(void **state)
{
    (void)state;
    sf_spill *s;
    sf_error err = {0};
    assert_int_equal(sf_spill_open(&s, root, "bad", 0, 1, 64, &err), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(sf_spill_put(s, 0, "0123456789", 10, &err), 0);
    assert_int_equal(sf_spill_flush(s, &err), 0);
    damage(s, SF_SPILL_BLOCK_HEADER + 6); /* a payload byte of the first block */
    sf_spill_reader *r;
    const unsigned char *rec;
    size_t len;
    assert_int_equal(sf_spill_read_open(s, 0, &r, &err), 0);
    assert_int_equal(sf_spill_read_next(r, &rec, &len, &err), SF_E_IO);
    assert_non_null(strstr(err.msg, "fails its checksum"));
    assert_non_null(strstr(err.msg, "part-00000.run"));
    sf_spill_read_close(r);
    sf_spill_close(s);
}

static void test_cut_short_file_is_an_error(void **state)
{
    (void)state;
    sf_spill *s;
    sf_error err = {0};
    assert_int_equal(sf_spill_open(&s, root, "cut", 0, 1, 64, &err), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(sf_spill_put(s, 0, "0123456789", 10, &err), 0);
    assert_int_equal(sf_spill_flush(s, &err), 0);
    char file[600];
    snprintf(file, sizeof file, "%s/part-00000.run", sf_spill_path(s));
    assert_int_equal(truncate(file, (off_t)(sf_spill_disk_bytes(s) - 3)), 0);
    sf_spill_reader *r;
    const unsigned char *rec;
    size_t len;
    int rc;
    assert_int_equal(sf_spill_read_open(s, 0, &r, &err), 0);
    while ((rc = sf_spill_read_next(r, &rec, &len, &err)) == 1)
        ;
    assert_int_equal(rc, SF_E_IO);
    assert_non_null(strstr(err.msg, "cut short"));
    sf_spill_read_close(r);
    sf_spill_close(s);
}

static void test_drop_and_close_leave_no_files(void **state)
{
    (void)state;
    sf_spill *s;
    sf_error err = {0};
    assert_int_equal(sf_spill_open(&s, root, "gone", 1, 2, 64, &err), 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(sf_spill_put(s, 0, "abcdefgh", 8, &err), 0);
        assert_int_equal(sf_spill_put(s, 1, "ijklmnop", 8, &err), 0);
    }
    assert_int_equal(sf_spill_flush(s, &err), 0);
    char file[600], dir[512];
    snprintf(dir, sizeof dir, "%s", sf_spill_path(s));
    snprintf(file, sizeof file, "%s/part-00000.run", dir);
    assert_true(sf_path_exists(file));
    assert_int_equal(sf_spill_drop(s, 0, &err), 0);
    assert_false(sf_path_exists(file));
    assert_true(sf_spill_part_bytes(s, 0) == 0);
    sf_spill_reader *r;
    const unsigned char *rec;
    size_t len;
    assert_int_equal(sf_spill_read_open(s, 0, &r, &err), 0);
    assert_int_equal(sf_spill_read_next(r, &rec, &len, &err), 0);
    sf_spill_read_close(r);
    sf_spill_close(s);
    assert_false(sf_path_exists(dir));
    sf_spill_close(NULL);
}

static void test_grown_and_sealed_partitions_round_trip(void **state)
{
    (void)state;
    sf_spill *s;
    sf_error err = {0};
    assert_int_equal(sf_spill_open(&s, root, "grow", 0, 2, 128, &err), 0);
    char buf[128];
    for (int i = 0; i < 50; i++) {
        size_t len = make_rec(buf, 1, i);
        assert_int_equal(sf_spill_put(s, 1, buf, len, &err), 0);
    }
    assert_int_equal(sf_spill_grow(s, 1, &err), 0); /* fewer: no-op */
    assert_int_equal(sf_spill_nparts(s), 2);
    assert_int_equal(sf_spill_seal(s, 1, &err), 0); /* written, buffer freed */
    for (int i = 50; i < 60; i++) {
        size_t len = make_rec(buf, 1, i);
        assert_int_equal(sf_spill_put(s, 1, buf, len, &err), 0);
    }
    assert_int_equal(sf_spill_grow(s, 5, &err), 0);
    assert_int_equal(sf_spill_nparts(s), 5);
    assert_int_equal(sf_spill_part_bytes(s, 4), 0);
    for (int i = 0; i < 80; i++) {
        size_t len = make_rec(buf, 4, i);
        assert_int_equal(sf_spill_put(s, 4, buf, len, &err), 0);
    }
    for (uint32_t p = 1; p < 5; p += 3) {
        sf_spill_reader *r;
        assert_int_equal(sf_spill_read_open(s, p, &r, &err), 0);
        const unsigned char *rec;
        size_t len;
        int i = 0;
        while (sf_spill_read_next(r, &rec, &len, &err) == 1) {
            size_t want = make_rec(buf, p, i++);
            assert_int_equal(len, want);
            assert_memory_equal(rec, buf, len);
        }
        assert_int_equal(i, p == 1 ? 60 : 80);
        sf_spill_read_close(r);
    }
    sf_spill_reader *r;
    assert_int_equal(sf_spill_read_open(s, 3, &r, &err), 0);
    const unsigned char *rec;
    size_t len;
    assert_int_equal(sf_spill_read_next(r, &rec, &len, &err), 0);
    sf_spill_read_close(r);
    sf_spill_close(s);
}

static void test_default_dir_is_tmpdir_then_tmp(void **state)
{
    (void)state;
    assert_string_equal(sf_spill_default_dir("/scratch"), "/scratch");
    setenv("TMPDIR", "/var/tmp", 1);
    assert_string_equal(sf_spill_default_dir(NULL), "/var/tmp");
    assert_string_equal(sf_spill_default_dir(""), "/var/tmp");
    setenv("TMPDIR", "", 1);
    assert_string_equal(sf_spill_default_dir(NULL), "/tmp");
    unsetenv("TMPDIR");
    assert_string_equal(sf_spill_default_dir(NULL), "/tmp");
}

static void test_stale_directories_of_dead_owners_are_removed(void **state)
{
    (void)state;
    sf_spill *live;
    sf_error err = {0};
    assert_int_equal(sf_spill_open(&live, root, "live", 0, 1, 64, &err), 0);
    /* A directory whose owner is a child that has exited and been reaped. */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    assert_true(child > 0);
    waitpid(child, NULL, 0);
    char dead[512], owner[600], host[256];
    snprintf(dead, sizeof dead, "%s/shardflow-dead-r2", root);
    assert_int_equal(mkdir(dead, 0700), 0);
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(owner, sizeof owner, "%s/owner", dead);
    FILE *fp = fopen(owner, "w");
    fprintf(fp, "%s\n%ld\n0\n", host, (long)child);
    fclose(fp);
    /* Another host's directory is never judged from here. */
    char other[512];
    snprintf(other, sizeof other, "%s/shardflow-other-r0", root);
    assert_int_equal(mkdir(other, 0700), 0);
    snprintf(owner, sizeof owner, "%s/owner", other);
    fp = fopen(owner, "w");
    fprintf(fp, "not-%s\n%ld\n0\n", host, (long)child);
    fclose(fp);
    char note[256];
    assert_int_equal(sf_spill_clean_stale(root, note, sizeof note), 1);
    assert_non_null(strstr(note, "removed 1 spill directory of killed runs"));
    assert_false(sf_path_exists(dead));
    assert_true(sf_path_exists(other));
    assert_true(sf_is_dir(sf_spill_path(live)));
    assert_int_equal(sf_spill_clean_stale(root, note, sizeof note), 0);
    assert_string_equal(note, "");
    sf_spill_close(live);
}

static void test_open_in_unwritable_place_names_it(void **state)
{
    (void)state;
    sf_spill *s;
    sf_error err = {0};
    char file[512];
    snprintf(file, sizeof file, "%s/plainfile", root);
    FILE *fp = fopen(file, "w");
    fclose(fp);
    assert_int_equal(sf_spill_open(&s, file, "x", 0, 1, 64, &err), SF_E_IO);
    assert_null(s);
    assert_non_null(strstr(err.msg, "plainfile"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_come_back_per_partition_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_record_larger_than_a_block_round_trips, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damaged_block_fails_its_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_short_file_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_and_close_leave_no_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grown_and_sealed_partitions_round_trip, setup,
                                        teardown),
        cmocka_unit_test(test_default_dir_is_tmpdir_then_tmp),
        cmocka_unit_test_setup_teardown(test_stale_directories_of_dead_owners_are_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_in_unwritable_place_names_it, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
