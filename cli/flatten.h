/* flatten.h - `shardflow flatten` and `shardflow schema`: nested JSON Lines
 * to flat tables, and the schema they infer, on every rank of the world.
 *
 * Both read the inputs in two distributed passes over the same chunks:
 * pass 1 flattens every line to infer the columns (local dictionaries
 * merged on rank 0 by first appearance, so the column order and types do
 * not depend on the rank count); schema prints them, flatten then writes
 * pass 2 with that header: a part per chunk in input order, one file in
 * input order (--single-file), or Hive directories (--partition-by), CSV or
 * HDF5, committed atomically with _MANIFEST.json and _SUCCESS like a job.
 * The flatten rules are core/flatten.h's; docs/flatten.md has them all.
 */
#ifndef SF_CLI_FLATTEN_H
#define SF_CLI_FLATTEN_H

extern const char *const sf_flatten_usage;
extern const char *const sf_schema_usage;

/* `shardflow flatten ARGS...` / `shardflow schema ARGS...` (argv without
 * the command). Collective over MPI_COMM_WORLD. Returns the exit code: 0,
 * 1 (runtime failure: nothing committed) or 2 (usage); rank 0 prints. */
int sf_flatten_main(int argc, char **argv, int rank);
int sf_schema_main(int argc, char **argv, int rank);

/* Checks the arguments of flatten (schema 0) or schema (1) without MPI
 * (before MPI_Init): 0, 1 (out of memory), 2 after a usage error, or -1
 * when the help was asked for (printed like the error unless
 * sf_cli_set_quiet(1); exit 0). */
int sf_flatten_check_args(int argc, char **argv, int schema);

#endif
