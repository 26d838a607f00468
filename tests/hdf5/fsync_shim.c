/* fsync_shim.c - an LD_PRELOAD library for sync_test.sh: watches the
 * fsyncs of a run.
 *
 *   SF_TEST_FSYNC_LOG=FILE   appends the path of every file fsynced (or
 *                            fdatasynced), one a line, after the real call
 *                            succeeded
 *   SF_TEST_FSYNC_FAIL=TEXT  fails the fsync of any file whose path holds
 *                            TEXT with EIO, without syncing it
 *
 * The path is the descriptor's /proc/self/fd link. Only for tests.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static int watched(int fd, sync_fn real)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    const char *fail = getenv("SF_TEST_FSYNC_FAIL");
    if (fail && *fail && strstr(path, fail)) {
        errno = EIO;
        return -1;
    }
    int rc = real(fd);
    const char *log = getenv("SF_TEST_FSYNC_LOG");
    if (rc == 0 && log && *log) {
        int saved = errno;
        int lf = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (lf >= 0) {
            path[n > 0 ? n : 0] = '\n'; /* one write a line: O_APPEND keeps lines whole */
            (void)!write(lf, path, (size_t)(n > 0 ? n : 0) + 1);
            close(lf);
        }
        errno = saved;
    }
    return rc;
}

int fsync(int fd)
{
    static sync_fn real;
    if (!real)
        real = (sync_fn)dlsym(RTLD_NEXT, "fsync");
    return watched(fd, real);
}

int fdatasync(int fd)
{
    static sync_fn real;
    if (!real)
        real = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
    return watched(fd, real);
}
