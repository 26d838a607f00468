/* inspect.h - `shardflow inspect` and `shardflow cat`: read an output back.
 *
 * Both take an output directory (CSV, HDF5 in either layout, or Parquet) or a
 * single .csv / .h5 / .parquet file, and need no MPI. An output is a list of tables in
 * partition order: partition paths ("date=2025-08-01", the directory of a
 * part file or the group of a single-layout file) sorted as strings
 * (strcmp), then files by name; the files of a partition that several
 * ranks wrote (--write local, coalesce=N) are merged in the writer's row
 * order (output.sort_by, then the written columns, typed as the manifest
 * says), so every split prints the same. `cat` prints it as one CSV text, defined
 * the same way for every format so that the CSV and HDF5 outputs of a job
 * print byte for byte the same:
 *   - one header line: the partition keys (from the key=value path
 *     components, %XX-unescaped), then the table's columns;
 *   - then every row of every table in order: its partition values
 *     (unescaped; __HIVE_DEFAULT_PARTITION__ prints as an empty field),
 *     then its values as the CSV writer prints them (io/csv.h: NULL empty,
 *     true/false, shortest round-trip doubles, YYYY-MM-DD dates), quoted
 *     per RFC 4180 when a field holds ',', '"', CR or LF.
 * An output without any table (a partitioned job with no rows) prints
 * nothing.
 */
#ifndef SF_INSPECT_H
#define SF_INSPECT_H

/* The two commands. argv holds the arguments after the command name
 * (normally argv[0] is the path); options may come in any order. They print
 * to stdout, messages to stderr, and return the exit code: 0 done, 1 the
 * output cannot be read (the message names the file), 2 usage error. */
int sf_inspect_main(int argc, char **argv);
int sf_cat_main(int argc, char **argv);

/* Their --help texts. */
extern const char *const sf_inspect_usage;
extern const char *const sf_cat_usage;

#endif
