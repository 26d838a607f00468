/* commit.c - staging and commit of output directories (see commit.h).
 *
 * Invariant: every path this file removes is one this run made (its
 * staging, its ROOT, entries listed in st->made, an OUT it created and
 * emptied again) or staging that prepare judged stale under the claim.
 */
#include "io/commit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "io/fsutil.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static const char *const mode_names[] = {"error", "overwrite", "overwrite-partitions", "append"};

int sf_commit_mode_parse(const char *text, sf_commit_mode *mode)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, mode_names[i]) == 0) {
            *mode = (sf_commit_mode)i;
            return 0;
        }
    }
    return SF_E_INVAL;
}

const char *sf_commit_mode_name(sf_commit_mode mode)
{
    return (unsigned)mode < 4 ? mode_names[mode] : "unknown";
}

/* renameat2(2) by syscall (glibc has a wrapper only since 2.28). Returns
 * 0, or -1 with errno; EINVAL/ENOSYS/ENOTSUP mean: flags not supported. */
static int rename2(const char *from, const char *to, unsigned flags)
{
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
#else
    (void)from;
    (void)to;
    (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

static int unsupported(int e)
{
    return e == EINVAL || e == ENOSYS || e == ENOTSUP || e == EOPNOTSUPP;
}

/* rename that never replaces: RENAME_NOREPLACE, or where the file system
 * lacks it (NFS, Lustre) a check first (the claim keeps other shardflow
 * runs out; the check keeps a file we did not make). */
static int rename_noreplace(const char *from, const char *to, sf_error *err)
{
    if (rename2(from, to, RENAME_NOREPLACE) == 0)
        return 0;
    int e = errno;
    if (unsupported(e)) {
        struct stat st;
        if (lstat(to, &st) == 0)
            e = EEXIST;
        else if (rename(from, to) == 0)
            return 0;
        else
            e = errno;
    }
    return sf_error_set(err, SF_E_IO, "cannot rename '%s' to '%s': %s", from, to, strerror(e));
}

int sf_output_paths(sf_output_stage *st, const char *out, int replacing, const char *runid)
{
    memset(st, 0, sizeof *st);
    st->runid = strdup(runid);
    if (!st->runid)
        return SF_E_NOMEM;
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        n--; /* "out/" and "out" are the same output */
    st->out = malloc(n + 1);
    if (!st->out)
        return SF_E_NOMEM;
    memcpy(st->out, out, n);
    st->out[n] = '\0';
    st->replacing = replacing;
    if (replacing) {
        size_t m = n + strlen(runid) + 16;
        st->root = malloc(m);
        if (st->root)
            snprintf(st->root, m, "%s.shardflow-%s", st->out, runid);
    } else {
        st->root = strdup(st->out);
    }
    char *tmp = st->root ? join(st->root, "_temporary") : NULL;
    st->tmpdir = tmp ? join(tmp, runid) : NULL;
    free(tmp);
    if (!st->root || !st->tmpdir) {
        sf_output_stage_free(st);
        return SF_E_NOMEM;
    }
    return 0;
}

/* 1 if dir is empty or holds a shardflow marker file. */
static int looks_like_output(const char *dir)
{
    static const char *const markers[] = {"_SUCCESS", "_MANIFEST.json", "_temporary"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        char *p = join(dir, markers[i]);
        int yes = p && sf_path_exists(p);
        free(p);
        if (yes)
            return 1;
    }
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    }
    closedir(d);
    return empty;
}

/* 1 if name looks like a run id (YYYYMMDDTHHMMSS-PID, see sf_life_runid in mpi/lifecycle.c). */
static int is_runid(const char *name)
{
    size_t n = strlen(name);
    if (n < 17 || name[8] != 'T' || name[15] != '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i != 8 && i != 15 && (name[i] < '0' || name[i] > '9'))
            return 0;
    }
    return 1;
}

/* 1 if dir holds nothing but run-id directories: shardflow's staging. */
static int only_runs(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            ok = is_runid(e->d_name);
    }
    closedir(d);
    return ok;
}

/* Removes what killed runs left: OUT/_temporary and OUT.shardflow-*
 * siblings (staging of an --overwrite run and the .old of a swap), noting
 * each in note. An OUT left empty by that is removed too. */
static int remove_stale(const char *out, char *note, size_t cap, sf_error *err)
{
    char *tmp = join(out, "_temporary");
    size_t n = strlen(out) + sizeof ".shardflow-[0-9]*";
    char *pattern = malloc(n + 8);
    int rc = tmp && pattern ? 0 : sf_error_set(err, SF_E_NOMEM, "out of memory");
    if (!rc && sf_is_dir(out) && sf_is_dir(tmp) && only_runs(tmp)) {
        rc = sf_rmtree(tmp, err);
        if (!rc)
            snprintf(note + strlen(note), cap - strlen(note),
                     "removed '%s' left by a run that did not finish; ", tmp);
        if (!rc && rmdir(out) == 0)
            snprintf(note + strlen(note), cap - strlen(note),
                     "'%s' held nothing else and was removed; ", out);
    }
    if (!rc && !sf_path_exists(out)) {
        /* A run killed between the two renames of a fallback swap left OUT
         * as OUT.shardflow-RUNID.old: that is the committed output. */
        snprintf(pattern, n + 8, "%s.shardflow-[0-9]*.old", out);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) == 0) {
            if (g.gl_pathc == 1) {
                rc = sf_rename(g.gl_pathv[0], out, err);
                if (!rc)
                    snprintf(note + strlen(note), cap - strlen(note),
                             "put back '%s' as '%s' (a run was killed while swapping it); ",
                             g.gl_pathv[0], out);
            }
            globfree(&g);
        }
    }
    if (!rc) {
        snprintf(pattern, n, "%s.shardflow-[0-9]*", out);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
                rc = sf_rmtree(g.gl_pathv[i], err);
                if (!rc)
                    snprintf(note + strlen(note), cap - strlen(note),
                             "removed '%s' left by a run that did not finish; ", g.gl_pathv[i]);
            }
            globfree(&g);
        }
    }
    size_t len = strlen(note);
    if (len >= 2 && note[len - 2] == ';')
        note[len - 2] = '\0';
    free(tmp);
    free(pattern);
    return rc;
}

int sf_output_prepare(sf_output_stage *st, const char *out, sf_commit_mode mode,
                      const char *runid, sf_error *err)
{
    char note[sizeof st->note] = "";
    int rc0 = remove_stale(out, note, sizeof note, err);
    if (rc0)
        return rc0;
    int exists = sf_path_exists(out);
    if (exists && !sf_is_dir(out))
        return sf_error_set(err, SF_E_INVAL, "output '%s' exists and is not a directory", out);
    if (exists && mode == SF_COMMIT_ERROR)
        return sf_error_set(err, SF_E_EXISTS, "output '%s' already exists; use --overwrite to "
                            "replace it (only after the new output is complete)", out);
    if (exists && !looks_like_output(out))
        return sf_error_set(err, SF_E_INVAL, "refusing to %s '%s': it does not look like "
                            "a shardflow output (no _SUCCESS or _MANIFEST.json, not empty)",
                            mode == SF_COMMIT_OVERWRITE ? "overwrite" : "write into", out);
    if (exists && (mode == SF_COMMIT_APPEND || mode == SF_COMMIT_OVERWRITE_PARTITIONS)) {
        char *man = join(out, "_MANIFEST.json");
        char *ok = join(out, "_SUCCESS");
        int has_man = man && sf_path_exists(man), has_ok = ok && sf_path_exists(ok);
        free(man);
        free(ok);
        if (has_ok && !has_man)
            return sf_error_set(err, SF_E_INVAL, "cannot %s '%s': it has no _MANIFEST.json, "
                                "whose file list the new run's is merged with",
                                mode == SF_COMMIT_APPEND ? "append to" : "overwrite "
                                "partitions of", out);
    }
    if (sf_output_paths(st, out, exists, runid) != 0)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    st->mode = mode;
    snprintf(st->note, sizeof st->note, "%s", note);
    st->created = !sf_path_exists(st->root);
    int rc = sf_mkdirs(st->tmpdir, err);
    if (rc) {
        sf_output_abort(st);
        return rc;
    }
    return 0;
}

/* Records a path this run made inside OUT (ROOT == OUT), for abort. */
static int made_add(sf_output_stage *st, const char *path, sf_error *err)
{
    char **v = realloc(st->made, (st->nmade + 1) * sizeof *v);
    if (!v)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    st->made = v;
    v[st->nmade] = strdup(path);
    if (!v[st->nmade])
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    st->nmade++;
    return 0;
}

/* Moves every entry of from into to (same file system), never replacing
 * one; with st, records each moved entry as made by this run. */
static int move_entries(const char *from, const char *to, sf_output_stage *st, sf_error *err)
{
    DIR *d = opendir(from);
    if (!d)
        return sf_error_set(err, SF_E_IO, "cannot list '%s': %s", from, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *a = join(from, e->d_name), *b = join(to, e->d_name);
        if (!a || !b)
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
        if (!rc && st)
            rc = made_add(st, b, err); /* before the move: abort may find either */
        if (!rc)
            rc = rename_noreplace(a, b, err);
        if (rc && st && st->nmade && b && strcmp(st->made[st->nmade - 1], b) == 0)
            free(st->made[--st->nmade]); /* not moved: not ours to remove */
        free(a);
        free(b);
    }
    closedir(d);
    return rc;
}

/* Append: gives every staged data file its run-unique name (filelist.h),
 * in dir and below. Top-level files starting with '_' (_METRICS.json)
 * describe the run, not data, and keep their names. */
static int uniquify(const char *dir, const char *runid, int top, sf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return sf_error_set(err, SF_E_IO, "cannot list '%s': %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    /* Renaming while listing could list an entry twice: collect first. */
    char **names = NULL;
    size_t n = 0;
    while (!rc && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char **v = realloc(names, (n + 1) * sizeof *v);
        if (!v || !(v[n] = strdup(e->d_name))) {
            if (v)
                names = v;
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
            break;
        }
        names = v;
        n++;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        char *p = rc ? NULL : join(dir, names[i]);
        if (!rc && !p)
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
        if (!rc && sf_is_dir(p)) {
            rc = uniquify(p, runid, 0, err);
        } else if (!rc && !(top && names[i][0] == '_')) {
            size_t cap = strlen(p) + strlen(runid) + 2;
            char *u = malloc(cap);
            if (!u || sf_filelist_unique_name(p, runid, u, cap) != 0)
                rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
            else
                rc = rename_noreplace(p, u, err);
            free(u);
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Copies a regular file (where hard links are not possible). */
static int copy_file(const char *from, const char *to, sf_error *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return sf_error_set(err, SF_E_IO, "cannot open '%s': %s", from, strerror(errno));
    struct stat st;
    int out = fstat(in, &st) == 0
                  ? open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777)
                  : -1;
    if (out < 0) {
        int e = errno;
        close(in);
        return sf_error_set(err, SF_E_IO, "cannot create '%s': %s", to, strerror(e));
    }
    char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r == 0)
            break;
        if (r < 0 || write(out, buf, (size_t)r) != r) {
            rc = sf_error_set(err, SF_E_IO, "cannot copy '%s' to '%s': %s", from, to,
                              strerror(errno));
            break;
        }
    }
    if (close(out) != 0 && !rc)
        rc = sf_error_set(err, SF_E_IO, "cannot write '%s': %s", to, strerror(errno));
    close(in);
    return rc;
}

/* 1 if dir holds a regular file (at the top: not counting '_' files). */
static int holds_files(const char *dir, int top)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int yes = 0;
    struct dirent *e;
    while (!yes && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if (top && e->d_name[0] == '_')
            continue;
        char *p = join(dir, e->d_name);
        struct stat st;
        yes = p && lstat(p, &st) == 0 && !S_ISDIR(st.st_mode);
        free(p);
    }
    closedir(d);
    return yes;
}

/* Puts into to (ROOT) hard links to the files of from (OUT) that the new
 * output keeps: all of them (append), or those in a directory where the
 * new run wrote no file (overwrite-partitions). OUT's own markers and
 * staging are not carried over. */
static int link_kept(const char *from, const char *to, sf_commit_mode mode, int top,
                     sf_error *err)
{
    DIR *d = opendir(from);
    if (!d)
        return sf_error_set(err, SF_E_IO, "cannot list '%s': %s", from, strerror(errno));
    int replaced = mode == SF_COMMIT_OVERWRITE_PARTITIONS && holds_files(to, top);
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        if (top && (strcmp(nm, "_SUCCESS") == 0 || strcmp(nm, "_MANIFEST.json") == 0 ||
                    strcmp(nm, "_METRICS.json") == 0 || strcmp(nm, "_temporary") == 0))
            continue;
        char *a = join(from, nm), *b = join(to, nm);
        struct stat st;
        if (!a || !b)
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
        else if (lstat(a, &st) != 0)
            rc = sf_error_set(err, SF_E_IO, "cannot stat '%s': %s", a, strerror(errno));
        else if (S_ISDIR(st.st_mode)) {
            rc = sf_mkdirs(b, err);
            if (!rc)
                rc = link_kept(a, b, mode, 0, err);
            if (!rc)
                rmdir(b); /* nothing kept in it and nothing new: no directory */
        } else if (!replaced) {
            if (link(a, b) != 0) {
                int e2 = errno;
                if (e2 == EXDEV || e2 == EPERM || e2 == ENOTSUP || e2 == EOPNOTSUPP ||
                    e2 == EMLINK)
                    rc = copy_file(a, b, err);
                else
                    rc = sf_error_set(err, SF_E_IO, "cannot link '%s' to '%s': %s", a, b,
                                      strerror(e2));
            }
        }
        free(a);
        free(b);
    }
    closedir(d);
    return rc;
}

/* Swaps the complete new tree root into out's place; the old tree ends up
 * at root (removed by the caller). */
static int swap_in(sf_output_stage *st, sf_error *err)
{
    if (!st->two_renames && rename2(st->root, st->out, RENAME_EXCHANGE) == 0) {
        st->exchanged = 1;
        return 0;
    }
    if (!st->two_renames && !unsupported(errno))
        return sf_error_set(err, SF_E_IO, "cannot exchange '%s' and '%s': %s", st->root,
                            st->out, strerror(errno));
    /* Two renames: OUT is absent between them (see commit.h). */
    size_t n = strlen(st->root) + 8;
    char *old = malloc(n);
    if (!old)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    snprintf(old, n, "%s.old", st->root);
    int rc = sf_rename(st->out, old, err);
    if (!rc && sf_rename(st->root, st->out, err) != 0) {
        sf_error err2;
        sf_rename(old, st->out, &err2); /* put the previous output back */
        rc = SF_E_IO;
    }
    if (!rc)
        rc = sf_rename(old, st->root, err);
    free(old);
    return rc;
}

int sf_output_commit(sf_output_stage *st, const char *manifest, size_t len, sf_error *err)
{
    char *tmproot = join(st->root, "_temporary");
    char *man = join(st->root, "_MANIFEST.json");
    char *ok = join(st->root, "_SUCCESS");
    char *prev = NULL, *merged = NULL;
    size_t prev_len = 0, merged_len = 0;
    int merging = st->mode == SF_COMMIT_APPEND || st->mode == SF_COMMIT_OVERWRITE_PARTITIONS;
    int in_place = !st->replacing; /* ROOT == OUT */
    int rc = (!tmproot || !man || !ok) ? sf_error_set(err, SF_E_NOMEM, "out of memory") : 0;
    if (!rc && st->mode == SF_COMMIT_APPEND)
        rc = uniquify(st->tmpdir, st->runid, 1, err);
    if (!rc && merging) {
        char *old_man = st->replacing ? join(st->out, "_MANIFEST.json") : NULL;
        if (old_man && sf_path_exists(old_man))
            rc = sf_read_file(old_man, &prev, &prev_len, err);
        free(old_man);
        if (!rc)
            rc = sf_manifest_merge(prev, prev_len, manifest, len, st->runid,
                                   sf_commit_mode_name(st->mode),
                                   st->mode == SF_COMMIT_APPEND ? SF_MERGE_APPEND
                                                                : SF_MERGE_REPLACE_PARTITIONS,
                                   &merged, &merged_len, &st->merged, err);
        if (!rc) {
            manifest = merged;
            len = merged_len;
        }
    }
    if (!rc)
        rc = move_entries(st->tmpdir, st->root, in_place ? st : NULL, err);
    if (!rc && rmdir(st->tmpdir) != 0)
        rc = sf_error_set(err, SF_E_IO, "cannot remove '%s': %s", st->tmpdir, strerror(errno));
    if (!rc)
        rmdir(tmproot); /* may hold another run's leftovers: then it stays */
    if (!rc && merging && st->replacing)
        rc = link_kept(st->out, st->root, st->mode, 1, err);
    if (!rc && in_place)
        rc = made_add(st, man, err);
    if (!rc)
        rc = sf_write_file_atomic(man, manifest, len, err);
    if (!rc && in_place)
        rc = made_add(st, ok, err);
    if (!rc)
        rc = sf_write_file_atomic(ok, "", 0, err); /* syncs ROOT after its rename */
    if (!rc && st->replacing) {
        rc = swap_in(st, err);
        if (!rc && st->keep_replaced) {
            st->replaced_left = 1; /* the previous output now: the ranks remove it */
        } else if (!rc) {
            sf_error ignored;
            sf_rmtree(st->root, &ignored); /* the previous output now */
        }
    }
    if (!rc) {
        for (size_t i = 0; i < st->nmade; i++)
            free(st->made[i]);
        st->nmade = 0; /* committed: nothing for abort to take back */
    }
    free(tmproot);
    free(man);
    free(ok);
    free(prev);
    free(merged);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sf_output_list_replaced(const sf_output_stage *st, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    if (!st->replacing || !st->root)
        return 0;
    DIR *d = opendir(st->root);
    if (!d)
        return 0; /* gone or unreadable: rank 0's last removal says nothing either */
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && !rc) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (*n == cap) {
            size_t c = cap ? 2 * cap : 64;
            char **more = realloc(*names, c * sizeof *more);
            if (!more) {
                rc = SF_E_NOMEM;
                break;
            }
            *names = more;
            cap = c;
        }
        (*names)[*n] = strdup(e->d_name);
        if (!(*names)[*n])
            rc = SF_E_NOMEM;
        else
            (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_names);
    return rc;
}

void sf_output_drop_share(const sf_output_stage *st, char **names, size_t n, int rank,
                          int nranks)
{
    sf_error ignored;
    for (size_t i = 0; i < n; i++) {
        if (nranks > 0 && (int)(i % (size_t)nranks) == rank) {
            char *p = join(st->root, names[i]);
            if (p)
                sf_rmtree(p, &ignored);
            free(p);
        }
        free(names[i]);
    }
    free(names);
}

void sf_output_drop_replaced(sf_output_stage *st)
{
    sf_error ignored;
    if (st->replaced_left && st->replacing) /* ROOT is never OUT here */
        sf_rmtree(st->root, &ignored); /* what the shares left, and ROOT itself */
    st->replaced_left = 0;
}

void sf_output_abort(sf_output_stage *st)
{
    sf_error ignored;
    if (!st->root)
        return;
    if (st->replacing || strcmp(st->root, st->out) != 0) {
        if (st->created)
            sf_rmtree(st->root, &ignored); /* OUT.shardflow-RUNID: named for this run */
        return;
    }
    sf_rmtree(st->tmpdir, &ignored);
    char *tmproot = join(st->root, "_temporary");
    if (tmproot)
        rmdir(tmproot);
    free(tmproot);
    for (size_t i = 0; i < st->nmade; i++)
        sf_rmtree(st->made[i], &ignored);
    if (st->created)
        rmdir(st->out); /* only if empty again: never another run's files */
}

void sf_output_stage_free(sf_output_stage *st)
{
    if (!st)
        return;
    free(st->out);
    free(st->root);
    free(st->tmpdir);
    free(st->runid);
    for (size_t i = 0; i < st->nmade; i++)
        free(st->made[i]);
    free(st->made);
    st->out = st->root = st->tmpdir = st->runid = NULL;
    st->made = NULL;
    st->nmade = 0;
}
