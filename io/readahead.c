/* readahead.c - readahead(2) for the bytes ahead of a reader, on a thread.
 *
 * State under the mutex: the reader's position pos in the file fd, the
 * next byte not yet asked for (next), and a new file to follow (fd_new,
 * handed over by the reader, taken by the thread). The thread calls
 * readahead() without the mutex; only it closes the descriptor it uses.
 */
#define _GNU_SOURCE
#include "io/readahead.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* cachestat(2) (Linux 6.5) and MADV_POPULATE_READ (5.14), declared here:
 * the C library's headers may predate them. cachestat's number is the
 * same on every architecture. */
#define RA_NR_CACHESTAT 451
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
struct ra_cachestat_range {
    uint64_t off, len;
};
struct ra_cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/* Mappings of the helper start at a multiple of this (a huge page). */
#define RA_HUGE ((uint64_t)2 << 20)

struct sf_readahead {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t depth, step;
    int fd;      /* the thread's: the file followed, -1: none */
    uint64_t fsize; /* fd's size when taken */
    int plain;      /* readahead(2) only: the kernel lacks cachestat or
                     * MADV_POPULATE_READ */
    int fd_new;  /* the reader's newest file not yet taken, -1: none */
    uint64_t pos;  /* the reader's position */
    uint64_t next; /* the first byte not yet asked for */
    int stop;
};

/* The range the thread asks for next: next is moved on when the reader
 * has passed it or jumped back (another range). 1 if there is one. */
static int ra_due(struct sf_readahead *ra)
{
    if (ra->fd < 0)
        return 0;
    if (ra->next < ra->pos || ra->next > ra->pos + ra->depth + ra->step)
        ra->next = ra->pos;
    return ra->next < ra->pos + ra->depth;
}

/* 1 when every page of fd's bytes [off, off + len) is in the page
 * cache, 0 when some is not, -1 when the kernel cannot tell (no
 * cachestat). off and len are whole pages. */
static int ra_cached(int fd, uint64_t off, uint64_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t pages = len / (page > 0 ? (uint64_t)page : 4096);
    struct ra_cachestat_range r = {off, len};
    struct ra_cachestat cs = {0, 0, 0, 0, 0};
    if (syscall(RA_NR_CACHESTAT, fd, &r, &cs, 0) != 0)
        return errno == ENOSYS || errno == EPERM ? -1 : 0;
    return cs.nr_cache >= pages;
}

/* Has the kernel read fd's step bytes from off (clipped to the file)
 * into the page cache, waiting for the reads. The 2 MiB pieces not there
 * yet are faulted in, one at a time, through a mapping marked
 * MADV_HUGEPAGE, for which the kernel reads 2 MiB folios: the reader's
 * windows then map each with one entry (io/range_reader.c; S1 at np 2
 * 0.81 -> 0.73 s with its file in such folios). A piece is mapped while
 * it is read in, so this adds at most 2 MiB to the process's RSS.
 * readahead(2) leaves 4 KiB folios behind; it is kept for a kernel
 * without cachestat(2) (which says what is there already, so that a warm
 * file is not mapped for nothing) or MADV_POPULATE_READ. A failure only
 * leaves the reading to the reader's own faults: the populate call
 * reports a page it cannot read (a file made shorter) as an error, not
 * as SIGBUS. */
static void ra_fetch(struct sf_readahead *ra, int fd, uint64_t off)
{
    uint64_t end = off + ra->step;
    if (end > ra->fsize)
        end = ra->fsize;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t ps = page > 0 ? (uint64_t)page : 4096;
    for (uint64_t at = off - off % RA_HUGE; !ra->plain && at < end; at += RA_HUGE) {
        uint64_t stop = at + RA_HUGE < end ? at + RA_HUGE : end;
        size_t len = (size_t)((stop - at + ps - 1) / ps * ps);
        int cached = ra_cached(fd, at, len);
        if (cached == 1)
            continue;
        if (cached < 0) {
            ra->plain = 1;
            break;
        }
        void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)at);
        if (p == MAP_FAILED)
            return;
        (void)madvise(p, len, MADV_HUGEPAGE);
        int rc = madvise(p, len, MADV_POPULATE_READ);
        int e = errno;
        munmap(p, len);
        if (rc != 0 && e == EINVAL)
            ra->plain = 1;
        else if (rc != 0)
            return;
    }
    if (ra->plain)
        (void)readahead(fd, (off64_t)off, (size_t)ra->step);
}

static void *ra_main(void *arg)
{
    struct sf_readahead *ra = arg;
    pthread_mutex_lock(&ra->mu);
    for (;;) {
        if (ra->fd_new >= 0) {
            if (ra->fd >= 0)
                close(ra->fd);
            ra->fd = ra->fd_new;
            ra->fd_new = -1;
            ra->next = ra->pos;
            struct stat st;
            ra->fsize = fstat(ra->fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
        }
        if (ra->stop)
            break;
        if (!ra_due(ra)) {
            pthread_cond_wait(&ra->cv, &ra->mu);
            continue;
        }
        int fd = ra->fd;
        uint64_t off = ra->next;
        ra->next += ra->step;
        pthread_mutex_unlock(&ra->mu);
        ra_fetch(ra, fd, off);
        pthread_mutex_lock(&ra->mu);
    }
    pthread_mutex_unlock(&ra->mu);
    return NULL;
}

sf_readahead *sf_readahead_start(uint64_t depth, uint64_t step)
{
    struct sf_readahead *ra = calloc(1, sizeof *ra);
    if (!ra)
        return NULL;
    ra->depth = depth;
    ra->step = step ? step : depth;
    ra->fd = ra->fd_new = -1;
    if (pthread_mutex_init(&ra->mu, NULL) != 0) {
        free(ra);
        return NULL;
    }
    if (pthread_cond_init(&ra->cv, NULL) != 0) {
        pthread_mutex_destroy(&ra->mu);
        free(ra);
        return NULL;
    }
    /* The thread starts with every signal blocked: SIGINT and SIGTERM go
     * to the main thread, whose blocking calls they interrupt. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int started = pthread_create(&ra->thread, NULL, ra_main, ra) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        pthread_cond_destroy(&ra->cv);
        pthread_mutex_destroy(&ra->mu);
        free(ra);
        return NULL;
    }
    return ra;
}

void sf_readahead_file(sf_readahead *ra, int fd, uint64_t pos)
{
    if (!ra)
        return;
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0)
        return;
    pthread_mutex_lock(&ra->mu);
    if (ra->fd_new >= 0)
        close(ra->fd_new); /* never taken: the thread does not use it */
    ra->fd_new = dup_fd;
    ra->pos = pos;
    pthread_mutex_unlock(&ra->mu);
    pthread_cond_signal(&ra->cv);
}

void sf_readahead_post(sf_readahead *ra, uint64_t pos)
{
    if (!ra)
        return;
    pthread_mutex_lock(&ra->mu);
    ra->pos = pos;
    int wake = ra->fd_new >= 0 || ra_due(ra);
    pthread_mutex_unlock(&ra->mu);
    if (wake)
        pthread_cond_signal(&ra->cv);
}

void sf_readahead_stop(sf_readahead *ra)
{
    if (!ra)
        return;
    pthread_mutex_lock(&ra->mu);
    ra->stop = 1;
    pthread_mutex_unlock(&ra->mu);
    pthread_cond_signal(&ra->cv);
    pthread_join(ra->thread, NULL);
    if (ra->fd >= 0)
        close(ra->fd);
    if (ra->fd_new >= 0)
        close(ra->fd_new);
    pthread_cond_destroy(&ra->cv);
    pthread_mutex_destroy(&ra->mu);
    free(ra);
}
