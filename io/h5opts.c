/* h5opts.c - the HDF5 output's options and column-name checks: plain C,
 * no HDF5 call, so planning a run (every run sets the options up, an HDF5
 * run checks them) never loads HDF5 (mpi/h5load). Declared in io/h5file.h.
 */
#include <string.h>

#include "io/h5file.h"

void sf_h5_options_init(sf_h5_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->gzip = SF_H5_GZIP_DEFAULT;
    opt->chunk_rows = SF_H5_CHUNK_ROWS;
}

int sf_h5_parse_compression(const char *text, sf_h5_options *opt, sf_error *err)
{
    if (strcmp(text, "none") == 0) {
        opt->gzip = SF_H5_NO_COMPRESSION;
        return 0;
    }
    if (strcmp(text, "gzip") == 0) {
        opt->gzip = SF_H5_GZIP_DEFAULT;
        return 0;
    }
    if (strncmp(text, "gzip:", 5) == 0 && text[5] >= '0' && text[5] <= '9' && text[6] == '\0') {
        opt->gzip = text[5] - '0';
        return 0;
    }
    return sf_error_set(err, SF_E_INVAL,
                        "compression '%s': expected 'none', 'gzip' or 'gzip:N' with N in 0..9",
                        text);
}

int sf_h5_check_columns(size_t ncols, const char *const *names, sf_error *err)
{
    if (ncols > SF_H5_MAX_COLUMNS)
        return sf_error_set(err, SF_E_INVAL,
                            "HDF5 output takes at most %d columns (their names are an attribute "
                            "of the table, which an HDF5 object header holds up to 64 KiB); this "
                            "table has %zu: write it with --format csv or --format parquet",
                            SF_H5_MAX_COLUMNS, ncols);
    for (size_t i = 0; i < ncols; i++) {
        if (!names[i] || !names[i][0])
            return sf_error_set(err, SF_E_INVAL, "column %zu has an empty name", i + 1);
        size_t li = strlen(names[i]);
        for (size_t j = 0; j < ncols; j++) {
            if (j == i)
                continue;
            if (j > i && strcmp(names[i], names[j]) == 0)
                return sf_error_set(err, SF_E_INVAL, "column name '%s' appears twice", names[i]);
            /* names[j] == names[i] + ".valid" would collide with the
             * validity dataset of names[i]. */
            if (strncmp(names[j], names[i], li) == 0 && strcmp(names[j] + li, ".valid") == 0)
                return sf_error_set(err, SF_E_INVAL,
                                    "column name '%s' collides with the HDF5 validity dataset "
                                    "of column '%s'",
                                    names[j], names[i]);
        }
    }
    return 0;
}
