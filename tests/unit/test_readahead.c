/* test_readahead.c - unit tests of io/readahead: the helper thread asks
 * the kernel for the bytes ahead of the reader's posted position (they
 * become resident in the page cache without the test reading them), and
 * starts, follows files and stops cleanly (ASan and the CI's leak check
 * see its descriptors and memory). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/readahead.h"

#define MIB ((size_t)1 << 20)
#define FILE_BYTES (32 * MIB)

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/sf_test_readahead_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char *block = malloc(MIB);
    assert_non_null(block);
    memset(block, 'x', MIB);
    for (size_t i = 0; i < FILE_BYTES / MIB; i++)
        assert_int_equal(write(fd, block, MIB), (ssize_t)MIB);
    free(block);
    assert_int_equal(fsync(fd), 0);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

/* Pages of [off, off + len) resident in the page cache. */
static size_t resident(int fd, size_t off, size_t len)
{
    void *m = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 0;
    unsigned char *vec = malloc(FILE_BYTES / page);
    assert_non_null(vec);
    assert_int_equal(mincore(m, FILE_BYTES, vec), 0);
    for (size_t p = off / page; p < (off + len) / page; p++)
        n += vec[p] & 1;
    free(vec);
    munmap(m, FILE_BYTES);
    return n * page;
}

/* Waits up to 5 s for [off, off + len) to be resident. */
static int becomes_resident(int fd, size_t off, size_t len)
{
    for (int i = 0; i < 500; i++) {
        if (resident(fd, off, len) == len)
            return 1;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return 0;
}

static void test_reads_ahead_of_the_position(void **state)
{
    (void)state;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (resident(fd, 0, FILE_BYTES) > FILE_BYTES / 2) {
        close(fd); /* a file system that keeps its pages (tmpfs): nothing to see */
        skip();
    }
    sf_readahead *ra = sf_readahead_start(8 * MIB, 2 * MIB);
    assert_non_null(ra);
    sf_readahead_file(ra, fd, 0);
    sf_readahead_post(ra, 0);
    assert_true(becomes_resident(fd, 0, 8 * MIB));
    /* Further on: the next 8 MiB after the new position. */
    sf_readahead_post(ra, 16 * MIB);
    assert_true(becomes_resident(fd, 16 * MIB, 8 * MIB));
    close(fd); /* the helper reads through its own duplicate */
    sf_readahead_post(ra, 24 * MIB);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_true(becomes_resident(fd, 24 * MIB, 8 * MIB));
    close(fd);
    sf_readahead_stop(ra);
}

static void test_start_stop_and_null(void **state)
{
    (void)state;
    sf_readahead *ra = sf_readahead_start(4 * MIB, 0);
    assert_non_null(ra);
    sf_readahead_stop(ra); /* no file ever followed */
    ra = sf_readahead_start(4 * MIB, MIB);
    assert_non_null(ra);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    sf_readahead_file(ra, fd, 0);
    sf_readahead_file(ra, fd, 0); /* a second file before the first was taken */
    sf_readahead_post(ra, FILE_BYTES + 4 * MIB); /* past the end: asks for nothing */
    close(fd);
    sf_readahead_stop(ra);
    sf_readahead_file(NULL, 0, 0);
    sf_readahead_post(NULL, 0);
    sf_readahead_stop(NULL);
}

/* The helper thread blocks every signal, so a SIGINT goes to the thread
 * that runs the scan: started while SIGUSR1 is open, the helper must still
 * leave it pending for the process once the main thread blocks it (taken
 * by the helper, its default action would end the test). */
static void test_thread_blocks_signals(void **state)
{
    (void)state;
    sf_readahead *ra = sf_readahead_start(4 * MIB, MIB);
    assert_non_null(ra);
    /* Let the thread start (glibc's new threads block every signal until
     * they set the mask they were given). */
    nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    sigset_t usr, old;
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr, &old);
    kill(getpid(), SIGUSR1);
    sigset_t pending;
    sigpending(&pending);
    assert_true(sigismember(&pending, SIGUSR1));
    int sig = 0;
    assert_int_equal(sigwait(&usr, &sig), 0);
    assert_int_equal(sig, SIGUSR1);
    sf_readahead_stop(ra);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_ahead_of_the_position),
        cmocka_unit_test(test_start_stop_and_null),
        cmocka_unit_test(test_thread_blocks_signals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
