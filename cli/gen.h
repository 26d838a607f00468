/* gen.h - `shardflow gen`: writes generated datasets with every rank at once. */
#ifndef SF_GEN_H
#define SF_GEN_H

#include <mpi.h>

/* Runs `shardflow gen ARGS...`; argv[0] is the dataset kind ("kpi").
 * Collective over comm. Returns the process exit code (0 success, 1 runtime
 * error, 2 usage error); rank 0 prints messages. */
int sf_gen_main(int argc, char **argv, MPI_Comm comm);

/* Checks the arguments of sf_gen_main() without MPI (before MPI_Init):
 * 0, 2 after a usage error, or -1 when the help was asked for (printed
 * like the error unless sf_cli_set_quiet(1); exit 0). */
int sf_gen_check_args(int argc, char **argv);

#endif
