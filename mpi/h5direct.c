/* h5direct.c - sf_h5_load for programs linked with the HDF5 modules
 * themselves (library sf_h5: the unit tests, tests/hdf5): nothing to load,
 * HDF5 is only started. The shardflow binary has mpi/h5load.c's instead.
 */
#include "mpi/h5api.h"

int sf_h5_load(sf_error *err)
{
    (void)err;
    static int started;
    if (!started) {
        sf_h5_plugin_api()->init();
        started = 1;
    }
    return 0;
}
