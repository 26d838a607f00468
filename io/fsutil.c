/* fsutil.c - file-system helpers for output commit and input planning.
 *
 * Invariant: sf_rmtree never follows a symlink. It walks with directory file
 * descriptors (openat with O_NOFOLLOW, unlinkat), so a link to a directory is
 * removed as a link and whatever it points to survives, even if the tree is
 * changed while it is walked.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sync_file_range */
#endif
#include "io/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fs_fail(sf_error *err, int code, int e, const char *what, const char *path)
{
    return sf_error_set(err, code, "%s '%s': %s", what, path, strerror(e));
}

int sf_mkdirs(const char *path, sf_error *err)
{
    size_t n = strlen(path);
    if (n == 0)
        return fs_fail(err, SF_E_IO, ENOENT, "cannot create directory", path);
    char *p = malloc(n + 1);
    if (!p)
        return sf_error_set(err, SF_E_NOMEM, "cannot create directory '%s': out of memory", path);
    memcpy(p, path, n + 1);
    int rc = 0;
    /* Each prefix ending before a '/' is a parent; the whole path last. */
    for (size_t i = 1; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        if (i < n && p[i - 1] == '/')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0) {
            int e = errno;
            struct stat st;
            if (e == EEXIST) {
                if (stat(p, &st) != 0)
                    e = errno;
                else if (!S_ISDIR(st.st_mode))
                    e = ENOTDIR;
                else
                    e = 0;
            }
            if (e != 0) {
                rc = fs_fail(err, SF_E_IO, e, "cannot create directory", p);
                break;
            }
        }
        p[i] = saved;
    }
    free(p);
    return rc;
}

/* A path being built while walking, for error messages only. */
typedef struct fs_path {
    char *p;
    size_t len, cap;
} fs_path;

static int fs_path_push(fs_path *fp, const char *name, size_t *old_len)
{
    size_t n = strlen(name);
    size_t need = fp->len + 1 + n + 1;
    if (need > fp->cap) {
        size_t ncap = fp->cap ? fp->cap : 256;
        while (ncap < need)
            ncap *= 2;
        char *np = realloc(fp->p, ncap);
        if (!np)
            return -1;
        fp->p = np;
        fp->cap = ncap;
    }
    *old_len = fp->len;
    fp->p[fp->len++] = '/';
    memcpy(fp->p + fp->len, name, n + 1);
    fp->len += n;
    return 0;
}

static void fs_path_pop(fs_path *fp, size_t old_len)
{
    fp->len = old_len;
    fp->p[old_len] = '\0';
}

/* Empties the directory open as dfd (consumed: closed here); fp names it. */
static int fs_empty_dir(int dfd, fs_path *fp, sf_error *err)
{
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        int e = errno;
        close(dfd);
        return fs_fail(err, SF_E_IO, e, "cannot read directory", fp->p);
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno != 0)
                rc = fs_fail(err, SF_E_IO, errno, "cannot read directory", fp->p);
            break;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        size_t old;
        if (fs_path_push(fp, name, &old) != 0) {
            rc = sf_error_set(err, SF_E_NOMEM, "cannot remove '%s/%s': out of memory", fp->p, name);
            break;
        }
        struct stat st;
        if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT)
                rc = fs_fail(err, SF_E_IO, errno, "cannot remove", fp->p);
        } else if (S_ISDIR(st.st_mode)) {
            int cfd = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd < 0)
                rc = fs_fail(err, SF_E_IO, errno, "cannot open directory", fp->p);
            else
                rc = fs_empty_dir(cfd, fp, err);
            if (rc == 0 && unlinkat(dirfd(dir), name, AT_REMOVEDIR) != 0 && errno != ENOENT)
                rc = fs_fail(err, SF_E_IO, errno, "cannot remove directory", fp->p);
        } else if (unlinkat(dirfd(dir), name, 0) != 0 && errno != ENOENT) {
            rc = fs_fail(err, SF_E_IO, errno, "cannot remove", fp->p);
        }
        fs_path_pop(fp, old);
        if (rc != 0)
            break;
    }
    closedir(dir);
    return rc;
}

int sf_rmtree(const char *path, sf_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return fs_fail(err, SF_E_IO, errno, "cannot remove", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return fs_fail(err, SF_E_IO, errno, "cannot remove", path);
        return 0;
    }
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return fs_fail(err, SF_E_IO, errno, "cannot open directory", path);
    fs_path fp = {0};
    size_t n = strlen(path);
    fp.cap = n + 256;
    fp.p = malloc(fp.cap);
    if (!fp.p) {
        close(dfd);
        return sf_error_set(err, SF_E_NOMEM, "cannot remove '%s': out of memory", path);
    }
    memcpy(fp.p, path, n + 1);
    fp.len = n;
    int rc = fs_empty_dir(dfd, &fp, err);
    free(fp.p);
    if (rc == 0 && rmdir(path) != 0 && errno != ENOENT)
        rc = fs_fail(err, SF_E_IO, errno, "cannot remove directory", path);
    return rc;
}

int sf_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

char *sf_output_target(const char *out, sf_error *err)
{
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        n--;
    char *p = malloc(n + 1);
    if (!p) {
        sf_error_set(err, SF_E_NOMEM, "output '%s': out of memory", out);
        return NULL;
    }
    memcpy(p, out, n);
    p[n] = '\0';
    struct stat st;
    if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode))
        return p;
    char *real = realpath(p, NULL);
    if (!real) {
        int e = errno;
        char target[1024];
        ssize_t t = readlink(p, target, sizeof target - 1);
        target[t > 0 ? t : 0] = '\0';
        sf_error_set(err, SF_E_INVAL, "output '%s' is a symbolic link to '%s', which cannot be "
                     "resolved (%s); create the directory it names or give another path", p,
                     target, strerror(e));
        free(p);
        return NULL;
    }
    free(p);
    return real;
}

int sf_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sf_file_size(const char *path, uint64_t *size, sf_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        int code = (e == ENOENT || e == ENOTDIR) ? SF_E_NOTFOUND : SF_E_IO;
        return fs_fail(err, code, e, "cannot stat", path);
    }
    if (!S_ISREG(st.st_mode))
        return sf_error_set(err, SF_E_INVAL, "'%s' is not a regular file", path);
    *size = (uint64_t)st.st_size;
    return 0;
}

int sf_read_file(const char *path, char **data, size_t *len, sf_error *err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        int code = (e == ENOENT || e == ENOTDIR) ? SF_E_NOTFOUND : SF_E_IO;
        return fs_fail(err, code, e, "cannot open", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fs_fail(err, SF_E_IO, e, "cannot stat", path);
    }
    /* The size is a hint: files in /proc report 0 and a file may grow. */
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    size_t n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return sf_error_set(err, SF_E_NOMEM, "cannot read '%s': out of memory for %zu bytes", path, cap);
    }
    for (;;) {
        if (n + 1 == cap) {
            size_t ncap = cap * 2;
            char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb) {
                free(buf);
                close(fd);
                return sf_error_set(err, SF_E_NOMEM, "cannot read '%s': out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return fs_fail(err, SF_E_IO, e, "cannot read", path);
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* The directory holding path: "a/b" -> "a", "b" -> ".", "/b" -> "/".
 * Returns a new string or NULL when out of memory. */
static char *fs_dirname(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0)
        return strdup(".");
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static int fs_write_tmp(const char *tmp, const char *path, const void *data, size_t len,
                        sf_error *err)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return sf_error_set(err, SF_E_IO, "cannot write '%s' (temporary '%s'): %s", path, tmp,
                            strerror(errno));
    const char *p = data;
    size_t left = len;
    int e = 0;
    while (left > 0) {
        ssize_t k = write(fd, p, left);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            break;
        }
        p += k;
        left -= (size_t)k;
    }
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e && errno != EINTR)
        e = errno;
    if (e)
        return sf_error_set(err, SF_E_IO, "cannot write '%s' (temporary '%s'): %s", path, tmp,
                            strerror(e));
    return 0;
}

/* An empty file has no partial state to hide: made new under its own name
 * (O_EXCL: never over an existing file, whose replacement stays one
 * rename) it needs no temporary and no rename, and the same two syncs, the
 * file's and then its directory's, make it durable. This is the commit's
 * _SUCCESS: on ext4 the temporary's fsync, the rename and the directory's
 * fsync were two journal commits; now the file's fsync commits its entry
 * with it and the directory's has little or nothing left to write.
 * Returns 0, SF_E_IO, or 1 when path exists (take the rename). */
static int write_empty_new(const char *path, const char *dir, int sync_dir, sf_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST)
        return 1;
    if (fd < 0)
        return sf_error_set(err, SF_E_IO, "cannot write '%s': %s", path, strerror(errno));
    int e = fsync(fd) != 0 ? errno : 0;
    if (close(fd) != 0 && !e && errno != EINTR)
        e = errno;
    if (e) {
        unlink(path); /* made by this call (O_EXCL) */
        return sf_error_set(err, SF_E_IO, "cannot write '%s': %s", path, strerror(e));
    }
    return sync_dir ? sf_fsync_dir(dir, err) : 0;
}

static int write_file_atomic(const char *path, const void *data, size_t len, int sync_dir,
                             sf_error *err)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    char *dir = fs_dirname(path);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return sf_error_set(err, SF_E_NOMEM, "cannot write '%s': out of memory", path);
    }
    int rc = len == 0 ? write_empty_new(path, dir, sync_dir, err) : 1;
    if (rc != 1) {
        free(tmp);
        free(dir);
        return rc;
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    rc = fs_write_tmp(tmp, path, data, len, err);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = sf_error_set(err, SF_E_IO, "cannot rename '%s' to '%s': %s", tmp, path,
                          strerror(errno));
    if (rc != 0)
        unlink(tmp);
    else if (sync_dir)
        rc = sf_fsync_dir(dir, err);
    free(tmp);
    free(dir);
    return rc;
}

int sf_write_file_atomic(const char *path, const void *data, size_t len, sf_error *err)
{
    return write_file_atomic(path, data, len, 1, err);
}

int sf_write_file_staged(const char *path, const void *data, size_t len, sf_error *err)
{
    return write_file_atomic(path, data, len, 0, err);
}

int sf_rename(const char *from, const char *to, sf_error *err)
{
    if (rename(from, to) != 0)
        return sf_error_set(err, SF_E_IO, "cannot rename '%s' to '%s': %s", from, to,
                            strerror(errno));
    return 0;
}

/* fsync of path opened read-only with extra flags; the errors say what
 * could not be opened or synced. EINVAL is no failure: some file systems
 * cannot sync a directory, and devices and pipes cannot be synced. */
static int sync_path(const char *path, int flags, const char *open_what, const char *sync_what,
                     sf_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    if (fd < 0)
        return fs_fail(err, SF_E_IO, errno, open_what, path);
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = fs_fail(err, SF_E_IO, errno, sync_what, path);
    close(fd);
    return rc;
}

int sf_fsync_dir(const char *path, sf_error *err)
{
    return sync_path(path, O_DIRECTORY, "cannot open directory", "cannot sync directory", err);
}

void sf_writeback_start(int fd)
{
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
    (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
#endif
}

int sf_fsync_file(const char *path, sf_error *err)
{
    return sync_path(path, 0, "cannot open to sync", "cannot sync", err);
}

/* One batch of sf_fsync_files: the open descriptors, each one's errno
 * after its fsync (0: synced), the next one to take. */
typedef struct fsync_batch {
    const int *fds;
    int *errs;
    size_t n;
    atomic_size_t next;
} fsync_batch;

static void fsync_take(fsync_batch *b)
{
    for (size_t i; (i = atomic_fetch_add(&b->next, 1)) < b->n;)
        b->errs[i] = fsync(b->fds[i]) != 0 && errno != EINVAL ? errno : 0;
}

static void *fsync_thread(void *arg)
{
    fsync_take(arg);
    return NULL;
}

/* Syncs paths[0, n) (n <= SF_FSYNC_BATCH) with fds and errs for room. */
static int fsync_batch_run(const char *const *paths, size_t n, int *fds, int *errs,
                           sf_error *err)
{
    size_t opened = 0;
    int rc = 0;
    for (; opened < n; opened++) {
        fds[opened] = open(paths[opened], O_RDONLY | O_CLOEXEC);
        if (fds[opened] < 0) {
            rc = fs_fail(err, SF_E_IO, errno, "cannot open to sync", paths[opened]);
            break;
        }
    }
    if (!rc) {
        fsync_batch b = {fds, errs, n, 0};
        pthread_t t[SF_FSYNC_THREADS - 1];
        size_t nt = 0, want = n < SF_FSYNC_THREADS ? n - 1 : SF_FSYNC_THREADS - 1;
        /* The threads take no signal: SIGINT and SIGTERM stay the
         * calling thread's, as io/readahead's thread leaves them. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        while (nt < want && pthread_create(&t[nt], NULL, fsync_thread, &b) == 0)
            nt++;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        fsync_take(&b);
        for (size_t k = 0; k < nt; k++)
            pthread_join(t[k], NULL);
        for (size_t i = 0; i < n && !rc; i++)
            if (errs[i])
                rc = fs_fail(err, SF_E_IO, errs[i], "cannot sync", paths[i]);
    }
    for (size_t i = 0; i < opened; i++)
        close(fds[i]);
    return rc;
}

int sf_fsync_files(const char *const *paths, size_t n, sf_error *err)
{
    if (n <= 1) /* malloc(0) may give NULL: none is no failure */
        return n ? sf_fsync_file(paths[0], err) : 0;
    size_t room = n < SF_FSYNC_BATCH ? n : SF_FSYNC_BATCH;
    int *fds = malloc(room * sizeof *fds), *errs = malloc(room * sizeof *errs);
    int rc = fds && errs ? 0 : sf_error_set(err, SF_E_NOMEM, "out of memory syncing %zu files", n);
    for (size_t i = 0; i < n && !rc; i += room)
        rc = fsync_batch_run(paths + i, n - i < room ? n - i : room, fds, errs, err);
    free(fds);
    free(errs);
    return rc;
}
