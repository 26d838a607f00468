/* commit.c - staging and commit of output directories. */
#include "io/commit.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/fsutil.h"

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

int sf_output_paths(sf_output_stage *st, const char *out, int replacing, const char *runid)
{
    memset(st, 0, sizeof *st);
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

/* 1 if name looks like a run id (YYYYMMDDTHHMMSS-PID, see mpi/run.c). */
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
    char *pattern = malloc(n);
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

int sf_output_prepare(sf_output_stage *st, const char *out, int overwrite, const char *runid,
                      sf_error *err)
{
    char note[sizeof st->note] = "";
    int rc0 = remove_stale(out, note, sizeof note, err);
    if (rc0)
        return rc0;
    int exists = sf_path_exists(out);
    if (exists && !sf_is_dir(out))
        return sf_error_set(err, SF_E_INVAL, "output '%s' exists and is not a directory", out);
    if (exists && !overwrite)
        return sf_error_set(err, SF_E_EXISTS, "output '%s' already exists; use --overwrite to "
                            "replace it (only after the new output is complete)", out);
    if (exists && !looks_like_output(out))
        return sf_error_set(err, SF_E_INVAL, "refusing to overwrite '%s': it does not look like "
                            "a shardflow output (no _SUCCESS or _MANIFEST.json, not empty)", out);
    if (sf_output_paths(st, out, exists, runid) != 0)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    snprintf(st->note, sizeof st->note, "%s", note);
    st->created = !sf_path_exists(st->root);
    int rc = sf_mkdirs(st->tmpdir, err);
    if (rc) {
        sf_output_abort(st);
        return rc;
    }
    return 0;
}

/* Moves every entry of from into to (same file system). */
static int move_entries(const char *from, const char *to, sf_error *err)
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
        else
            rc = sf_rename(a, b, err);
        free(a);
        free(b);
    }
    closedir(d);
    return rc;
}

int sf_output_commit(sf_output_stage *st, const char *manifest, size_t len, sf_error *err)
{
    char *tmproot = join(st->root, "_temporary");
    char *man = join(st->root, "_MANIFEST.json");
    char *ok = join(st->root, "_SUCCESS");
    char *old = NULL;
    int rc = (!tmproot || !man || !ok) ? sf_error_set(err, SF_E_NOMEM, "out of memory") : 0;
    if (!rc)
        rc = move_entries(st->tmpdir, st->root, err);
    if (!rc && rmdir(st->tmpdir) != 0)
        rc = sf_error_set(err, SF_E_IO, "cannot remove '%s': %s", st->tmpdir, strerror(errno));
    if (!rc)
        rmdir(tmproot); /* may hold another run's leftovers: then it stays */
    if (!rc)
        rc = sf_write_file_atomic(man, manifest, len, err);
    if (!rc)
        rc = sf_write_file_atomic(ok, "", 0, err);
    if (!rc)
        rc = sf_fsync_dir(st->root, err);
    if (!rc && st->replacing) {
        size_t n = strlen(st->root) + 8;
        old = malloc(n);
        if (!old)
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
        else
            snprintf(old, n, "%s.old", st->root);
        if (!rc)
            rc = sf_rename(st->out, old, err);
        if (!rc && sf_rename(st->root, st->out, err) != 0) {
            sf_error err2;
            sf_rename(old, st->out, &err2); /* put the previous output back */
            rc = SF_E_IO;
        }
        if (!rc) {
            sf_error ignored;
            sf_rmtree(old, &ignored);
        }
    }
    free(tmproot);
    free(man);
    free(ok);
    free(old);
    return rc;
}

void sf_output_abort(sf_output_stage *st)
{
    sf_error ignored;
    if (!st->root)
        return;
    if (st->created) {
        sf_rmtree(st->root, &ignored);
        return;
    }
    sf_rmtree(st->tmpdir, &ignored);
    char *tmproot = join(st->root, "_temporary");
    if (tmproot)
        rmdir(tmproot);
    free(tmproot);
}

void sf_output_stage_free(sf_output_stage *st)
{
    if (!st)
        return;
    free(st->out);
    free(st->root);
    free(st->tmpdir);
    st->out = st->root = st->tmpdir = NULL;
}
