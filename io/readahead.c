/* readahead.c - readahead(2) for the bytes ahead of a reader, on a thread.
 *
 * State under the mutex: the reader's position pos in the file fd, the
 * next byte not yet asked for (next), and a new file to follow (fd_new,
 * handed over by the reader, taken by the thread). The thread calls
 * readahead() without the mutex; only it closes the descriptor it uses.
 */
#define _GNU_SOURCE
#include "io/readahead.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

struct sf_readahead {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t depth, step;
    int fd;      /* the thread's: the file followed, -1: none */
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
        /* Past the end of the file it asks for nothing; a failure only
         * leaves the reading to the kernel's own read-ahead. */
        (void)readahead(fd, (off64_t)off, (size_t)ra->step);
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
