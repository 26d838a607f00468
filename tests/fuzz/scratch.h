/* scratch.h - a scratch file for fuzz targets whose code under test wants a
 * path (the range reader, the CSV writer).
 *
 * The file is created once per process, unlinked at once (so a crash or a
 * killed fuzzer leaves nothing behind) and reached through /proc/self/fd/N,
 * which opens the same inode again. It lives in /dev/shm when that is
 * writable: the CSV writer fsyncs on close, which costs nothing on tmpfs
 * and milliseconds per input on a disk.
 */
#ifndef SF_FUZZ_SCRATCH_H
#define SF_FUZZ_SCRATCH_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fuzz_scratch {
    int fd;
    char path[64]; /* /proc/self/fd/N */
} fuzz_scratch;

/* Opens the scratch file once; aborts when no directory is writable, since
 * a target that cannot run must not pass silently. */
static inline fuzz_scratch *fuzz_scratch_get(const char *tag)
{
    static fuzz_scratch s = {-1, ""};
    if (s.fd >= 0)
        return &s;
    static const char *const dirs[] = {"/dev/shm", "/tmp"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && s.fd < 0; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s/sf_fuzz_%s.%ld", dirs[i], tag, (long)getpid());
        s.fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (s.fd >= 0)
            unlink(name);
    }
    if (s.fd < 0) {
        perror("fuzz scratch file");
        abort();
    }
    snprintf(s.path, sizeof s.path, "/proc/self/fd/%d", s.fd);
    return &s;
}

/* Replaces the scratch file's content with data[0..n). */
static inline void fuzz_scratch_fill(fuzz_scratch *s, const void *data, size_t n)
{
    if (ftruncate(s->fd, 0) != 0) {
        perror("fuzz scratch ftruncate");
        abort();
    }
    const char *p = data;
    size_t done = 0;
    while (done < n) {
        ssize_t k = pwrite(s->fd, p + done, n - done, (off_t)done);
        if (k <= 0) {
            perror("fuzz scratch pwrite");
            abort();
        }
        done += (size_t)k;
    }
}

/* Reads the whole scratch file into a new buffer (caller frees); *n gets
 * its size. */
static inline char *fuzz_scratch_slurp(fuzz_scratch *s, size_t *n)
{
    off_t size = lseek(s->fd, 0, SEEK_END);
    if (size < 0) {
        perror("fuzz scratch lseek");
        abort();
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf)
        abort();
    size_t done = 0;
    while (done < (size_t)size) {
        ssize_t k = pread(s->fd, buf + done, (size_t)size - done, (off_t)done);
        if (k <= 0) {
            perror("fuzz scratch pread");
            abort();
        }
        done += (size_t)k;
    }
    *n = done;
    return buf;
}

#endif
