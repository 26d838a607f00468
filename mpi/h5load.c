/* h5load.c - the shardflow binary's HDF5 functions: each loads
 * shardflow-h5.so on first use (sf_h5_load) and calls through its table
 * (mpi/h5api.h). Linked into the executable only; programs linked with the
 * HDF5 modules themselves have the real functions under the same names.
 *
 * Invariant: a function without an sf_error (append, the reader's shape)
 * is only reached with a writer or reader the plugin made, so the table is
 * there; _close/_free of NULL never load anything.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi/h5api.h"

#ifndef SF_H5_PLUGIN_LIBDIR
#define SF_H5_PLUGIN_LIBDIR "../lib/shardflow"
#endif

static const sf_h5_api *api;

/* The directory of the running executable into dir (no trailing '/');
 * 0, or -1 when /proc/self/exe cannot be read. */
static int exe_dir(char *dir, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
    if (n <= 0)
        return -1;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return 0;
}

/* dlopens path and checks its table: the table, or NULL with why set.
 * RTLD_LAZY: the plugin's libraries built for lazy binding (most of the
 * 31) stay lazy, as they were when the binary linked them; RTLD_NOW binds
 * every one of their symbols at the dlopen: 27.9 against 20.9 M
 * instructions for `cat` of an HDF5 file (callgrind). The functions the
 * plugin takes from the binary are checked by test mpi.h5plugin. */
static const sf_h5_api *open_plugin(const char *path, char *why, size_t cap)
{
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, cap, "%s", e ? e : "unknown error");
        return NULL;
    }
    const sf_h5_api *(*entry)(void);
    *(void **)&entry = dlsym(h, SF_H5_PLUGIN_SYMBOL);
    if (!entry) {
        const char *e = dlerror();
        snprintf(why, cap, "%s", e ? e : "no " SF_H5_PLUGIN_SYMBOL);
        dlclose(h);
        return NULL;
    }
    const sf_h5_api *t = entry();
    if (!t || t->version != SF_H5_API_VERSION || t->size != sizeof(sf_h5_api)) {
        snprintf(why, cap, "%s: a plugin of another shardflow build (interface %d, want %d)",
                 path, t ? t->version : -1, SF_H5_API_VERSION);
        dlclose(h);
        return NULL;
    }
    return t;
}

int sf_h5_load(sf_error *err)
{
    if (api)
        return 0;
    char why[1024] = "";
    const char *env = getenv("SHARDFLOW_H5_PLUGIN");
    const sf_h5_api *t = NULL;
    if (env && *env) {
        t = open_plugin(env, why, sizeof why);
        if (!t)
            return sf_error_set(err, SF_E_NOTFOUND,
                                "HDF5 support could not be loaded from SHARDFLOW_H5_PLUGIN=%s: %s",
                                env, why);
    } else {
        char dir[PATH_MAX];
        if (exe_dir(dir, sizeof dir) != 0)
            return sf_error_set(err, SF_E_NOTFOUND,
                                "HDF5 support could not be loaded: the executable's directory "
                                "is unknown (/proc/self/exe); set SHARDFLOW_H5_PLUGIN to the "
                                "path of " SF_H5_PLUGIN_NAME);
        /* Next to the binary (the build tree), then the install layout. */
        char path[2][PATH_MAX + 64];
        snprintf(path[0], sizeof path[0], "%s/%s", dir, SF_H5_PLUGIN_NAME);
        snprintf(path[1], sizeof path[1], "%s/%s/%s", dir, SF_H5_PLUGIN_LIBDIR,
                 SF_H5_PLUGIN_NAME);
        char why1[1024] = "";
        t = open_plugin(path[0], why, sizeof why);
        if (!t && access(path[0], F_OK) != 0) {
            t = open_plugin(path[1], why1, sizeof why1);
            /* Report the install path's reason when that file exists. */
            if (!t && access(path[1], F_OK) == 0)
                memcpy(why, why1, sizeof why);
        }
        if (!t)
            return sf_error_set(err, SF_E_NOTFOUND,
                                "HDF5 support could not be loaded (looked for %s and %s): %s",
                                path[0], path[1], why);
    }
    t->init();
    api = t;
    return 0;
}

int sf_h5_writer_open(sf_h5_writer **out, const char *path, size_t ncols,
                      const char *const *names, const sf_type *types, const sf_h5_options *opt,
                      sf_error *err)
{
    *out = NULL;
    int rc = sf_h5_load(err);
    return rc ? rc : api->writer_open(out, path, ncols, names, types, opt, err);
}

int sf_h5_writer_append(sf_h5_writer *w, const sf_value *row)
{
    return api->writer_append(w, row);
}

int sf_h5_writer_append_cols(sf_h5_writer *w, const sf_value *row, const int *cols)
{
    return api->writer_append_cols(w, row, cols);
}

int sf_h5_writer_close(sf_h5_writer *w, uint64_t *rows, uint64_t *bytes, sf_error *err)
{
    return w ? api->writer_close(w, rows, bytes, err) : 0;
}

int sf_h5_tables(const char *path, char ***names, size_t *n, sf_error *err)
{
    *names = NULL;
    *n = 0;
    int rc = sf_h5_load(err);
    return rc ? rc : api->tables(path, names, n, err);
}

void sf_h5_tables_free(char **names, size_t n)
{
    if (api)
        api->tables_free(names, n);
}

int sf_h5_reader_open(sf_h5_reader **out, const char *path, const char *group, sf_error *err)
{
    *out = NULL;
    int rc = sf_h5_load(err);
    return rc ? rc : api->reader_open(out, path, group, err);
}

size_t sf_h5_reader_ncols(const sf_h5_reader *r) { return api->reader_ncols(r); }

const char *sf_h5_reader_name(const sf_h5_reader *r, size_t col)
{
    return api->reader_name(r, col);
}

sf_type sf_h5_reader_type(const sf_h5_reader *r, size_t col)
{
    return api->reader_type(r, col);
}

uint64_t sf_h5_reader_nrows(const sf_h5_reader *r) { return api->reader_nrows(r); }

uint64_t sf_h5_reader_storage(const sf_h5_reader *r) { return api->reader_storage(r); }

const char *sf_h5_reader_attr(const sf_h5_reader *r, const char *name)
{
    return api->reader_attr(r, name);
}

int sf_h5_reader_next(sf_h5_reader *r, size_t max, const sf_value **rows, size_t *n,
                      sf_error *err)
{
    return api->reader_next(r, max, rows, n, err);
}

void sf_h5_reader_close(sf_h5_reader *r)
{
    if (r && api)
        api->reader_close(r);
}

int sf_h5single_write(MPI_Comm comm, const char *path, const sf_h5single_table *t,
                      const sf_h5single_part *parts, size_t nparts, const sf_h5_options *opt,
                      uint64_t *rows, uint64_t *bytes, sf_error *err)
{
    int rc = sf_h5_load(err);
    return rc ? rc : api->single_write(comm, path, t, parts, nparts, opt, rows, bytes, err);
}
