/* h5api.h - HDF5 support, loaded only by the runs that use it.
 *
 * The modules that call HDF5 (io/h5file.c, io/h5read.c, mpi/h5single.c)
 * are built into a plugin, shardflow-h5.so, linked with libhdf5 (and,
 * through it, libcurl, OpenSSL, Kerberos and the rest: 31 libraries the
 * shardflow binary would otherwise load and relocate at every start). The
 * binary reaches them through the table below, filled by one dlopen
 * (mpi/h5load.c): their public functions (sf_h5_writer_*, sf_h5_reader_*,
 * sf_h5_tables*, sf_h5single_write) keep their names and signatures and
 * load the plugin on first use. Tests and tools may link the modules
 * directly instead (library sf_h5, with mpi/h5direct.c's sf_h5_load).
 *
 * Invariant: a change to this table or to the signatures in it bumps
 * SF_H5_API_VERSION, so a binary never calls a stale plugin.
 */
#ifndef SF_H5API_H
#define SF_H5API_H

#include <stddef.h>

#include "core/error.h"
#include "io/h5file.h"
#include "io/h5read.h"
#include "mpi/h5single.h"

#define SF_H5_API_VERSION 2 /* 2: sf_h5_options.sync_later */

/* The plugin's file name, looked for next to the executable, then in
 * SF_H5_PLUGIN_LIBDIR (relative to the executable's directory, the install
 * layout). SHARDFLOW_H5_PLUGIN, when set, names the file to load instead. */
#define SF_H5_PLUGIN_NAME "shardflow-h5.so"
#define SF_H5_PLUGIN_SYMBOL "sf_h5_plugin_api"

typedef struct sf_h5_api {
    int version;  /* SF_H5_API_VERSION */
    size_t size;  /* sizeof(sf_h5_api) */
    void (*init)(void); /* HDF5 started, told not to shut down at exit */
    int (*writer_open)(sf_h5_writer **, const char *, size_t, const char *const *,
                       const sf_type *, const sf_h5_options *, sf_error *);
    int (*writer_append)(sf_h5_writer *, const sf_value *);
    int (*writer_append_cols)(sf_h5_writer *, const sf_value *, const int *);
    int (*writer_close)(sf_h5_writer *, uint64_t *, uint64_t *, sf_error *);
    int (*tables)(const char *, char ***, size_t *, sf_error *);
    void (*tables_free)(char **, size_t);
    int (*reader_open)(sf_h5_reader **, const char *, const char *, sf_error *);
    size_t (*reader_ncols)(const sf_h5_reader *);
    const char *(*reader_name)(const sf_h5_reader *, size_t);
    sf_type (*reader_type)(const sf_h5_reader *, size_t);
    uint64_t (*reader_nrows)(const sf_h5_reader *);
    uint64_t (*reader_storage)(const sf_h5_reader *);
    const char *(*reader_attr)(const sf_h5_reader *, const char *);
    int (*reader_next)(sf_h5_reader *, size_t, const sf_value **, size_t *, sf_error *);
    void (*reader_close)(sf_h5_reader *);
    int (*single_write)(MPI_Comm, const char *, const sf_h5single_table *,
                        const sf_h5single_part *, size_t, const sf_h5_options *, uint64_t *,
                        uint64_t *, sf_error *);
} sf_h5_api;

/* The plugin's one exported symbol: the table, borrowed for the process's
 * life. Cannot fail. */
const sf_h5_api *sf_h5_plugin_api(void);

/* Makes HDF5 ready: loads the plugin (once; later calls return at once)
 * and starts HDF5 (H5open, with its shutdown at exit turned off). Call it
 * before MPI_Init in a process that will use HDF5 under MPI (cli/main.c's
 * with_mpi says why); the functions above also call it on first use.
 * Returns 0, or SF_E_NOTFOUND with err naming the file that could not be
 * loaded and the loader's reason (dlerror) and nothing loaded: a later call
 * tries again. Not thread-safe: call it from the main thread. */
int sf_h5_load(sf_error *err);

#endif
