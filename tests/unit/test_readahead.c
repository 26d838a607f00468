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
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* KiB of fd's first FILE_BYTES mapped with 2 MiB entries: the whole file
 * mapped at a 2 MiB boundary (as the range reader's windows lie), each
 * page touched, the mapping's FilePmdMapped in /proc/self/smaps. */
static size_t pmd_mapped_kib(int fd)
{
    size_t huge = 2 * MIB;
    char *span = mmap(NULL, FILE_BYTES + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(span != MAP_FAILED);
    char *at = (char *)(((uintptr_t)span + huge - 1) & ~(uintptr_t)(huge - 1));
    char *m = mmap(at, FILE_BYTES, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    assert_true(m == at);
    volatile char sink = 0;
    for (size_t i = 0; i < FILE_BYTES; i += 4096)
        sink ^= m[i];
    (void)sink;
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[256], head[32];
    snprintf(head, sizeof head, "%lx-", (unsigned long)(uintptr_t)m);
    size_t kib = 0;
    int in = 0;
    while (fgets(line, sizeof line, f)) { /* the mapping's line, then its fields */
        if (strncmp(line, head, strlen(head)) == 0)
            in = 1;
        unsigned long v;
        if (in && sscanf(line, "FilePmdMapped: %lu kB", &v) == 1) {
            kib = v;
            break;
        }
    }
    fclose(f);
    munmap(span, FILE_BYTES + huge);
    return kib;
}

/* Drops the file's pages; 0 when they stay (tmpfs keeps them). */
static int drop_pages(int fd)
{
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return resident(fd, 0, FILE_BYTES) <= FILE_BYTES / 2;
}

/* Where the kernel keeps a file's pages in 2 MiB folios when a mapping
 * marked MADV_HUGEPAGE faults them in (transparent huge pages for files,
 * a file system with large folios), the helper reads them that way, so
 * that a later mapping takes each 2 MiB with one entry; readahead(2)
 * would leave 4 KiB folios. Skipped, with the reason, where the kernel
 * keeps none for this file even so, or cannot say what is cached. */
static void test_reads_in_huge_folios(void **state)
{
    (void)state;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    if (!drop_pages(fd)) {
        close(fd);
        skip();
    }
    /* The kernel's ability, shown the way the helper asks for it. */
    void *m = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    (void)madvise(m, FILE_BYTES, MADV_HUGEPAGE);
    int populated = madvise(m, FILE_BYTES, 22 /* MADV_POPULATE_READ */) == 0;
    munmap(m, FILE_BYTES);
    size_t able = populated ? pmd_mapped_kib(fd) : 0;
    if (able < FILE_BYTES / 1024 / 2) {
        fprintf(stderr, "[  SKIPPED ] this kernel keeps %zu KiB of %zu in 2 MiB folios for "
                        "this file\n", able, FILE_BYTES / 1024);
        close(fd);
        skip();
    }
    assert_true(drop_pages(fd));
    sf_readahead *ra = sf_readahead_start(FILE_BYTES, 8 * MIB);
    assert_non_null(ra);
    sf_readahead_file(ra, fd, 0);
    sf_readahead_post(ra, 0);
    assert_true(becomes_resident(fd, 0, FILE_BYTES));
    sf_readahead_stop(ra);
    size_t kib = pmd_mapped_kib(fd);
    close(fd);
    if (kib == 0 && syscall(451, -1, NULL, NULL, 0) != 0 && errno == ENOSYS) {
        fprintf(stderr, "[  SKIPPED ] no cachestat(2): the helper keeps readahead(2)\n");
        skip();
    }
    assert_true(kib >= FILE_BYTES / 1024 / 2);
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
        cmocka_unit_test(test_reads_in_huge_folios),
        cmocka_unit_test(test_start_stop_and_null),
        cmocka_unit_test(test_thread_blocks_signals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
