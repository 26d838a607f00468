/* experiment.h - `shardflow experiment`: the repartition / coalesce study.
 *
 * Runs every combination of strategies and write modes in the same MPI
 * world (a warm-up first, then the repeats, combinations interleaved within
 * each repeat so machine noise spreads evenly), checks that every run wrote
 * the same rows (an order-free digest of the output), and writes
 * report.csv, report.md and, when gnuplot is installed, plots.
 */
#ifndef SF_EXPERIMENT_H
#define SF_EXPERIMENT_H

/* Collective over MPI_COMM_WORLD. argv[0] is the job spec. Returns the exit
 * code: 0, 1 (a run failed or outputs disagree), 2 (usage). */
int sf_experiment_main(int argc, char **argv, int rank);

/* Checks the arguments of sf_experiment_main() without MPI (before
 * MPI_Init): 0, 1 (out of memory), 2 after a usage error, or -1 when the
 * help was asked for (printed like the error unless sf_cli_set_quiet(1);
 * exit 0). */
int sf_experiment_check_args(int argc, char **argv);

#endif
