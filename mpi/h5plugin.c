/* h5plugin.c - the table of entry points shardflow-h5.so exports (the
 * plugin's only visible symbol; mpi/h5api.h). Built into the plugin and
 * into library sf_h5, which tests link directly.
 */
#include <hdf5.h>

#include "mpi/h5api.h"

static void h5_init(void)
{
    /* HDF5 never shuts down on its own: cli/main.c's with_mpi says why. */
    H5dont_atexit();
    H5open();
}

static const sf_h5_api api = {
    .version = SF_H5_API_VERSION,
    .size = sizeof(sf_h5_api),
    .init = h5_init,
    .writer_open = sf_h5_writer_open,
    .writer_append = sf_h5_writer_append,
    .writer_append_cols = sf_h5_writer_append_cols,
    .writer_close = sf_h5_writer_close,
    .tables = sf_h5_tables,
    .tables_free = sf_h5_tables_free,
    .reader_open = sf_h5_reader_open,
    .reader_ncols = sf_h5_reader_ncols,
    .reader_name = sf_h5_reader_name,
    .reader_type = sf_h5_reader_type,
    .reader_nrows = sf_h5_reader_nrows,
    .reader_storage = sf_h5_reader_storage,
    .reader_attr = sf_h5_reader_attr,
    .reader_next = sf_h5_reader_next,
    .reader_close = sf_h5_reader_close,
    .single_write = sf_h5single_write,
};

__attribute__((visibility("default"))) const sf_h5_api *sf_h5_plugin_api(void) { return &api; }
