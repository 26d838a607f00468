/* cli.h - command-line parsing shared by the commands that run jobs. */
#ifndef SF_CLI_H
#define SF_CLI_H

#include "mpi/run.h"

/* Ranks other than 0 call this with 1 so usage errors print once. */
void sf_cli_set_quiet(int quiet);

/* Prints "shardflow: <fmt with arg>" and the usage text (unless quiet);
 * returns 2, the usage-error exit code. */
int sf_cli_usage_error(const char *usage, const char *fmt, const char *arg);

/* Parses JOB.json and the options of `run` (or, with allow_run_opts 0,
 * only --input, as validate takes). Returns 0, or 2 after a usage error.
 * sf_cli_free_run() releases what it allocated. */
int sf_cli_parse_run(int argc, char **argv, const char *usage, int allow_run_opts,
                     sf_run_opts *o);
void sf_cli_free_run(sf_run_opts *o);

/* Parses a duration: a non-negative number of seconds, optionally followed
 * by s, m, h or d. Returns 0 or -1. */
int sf_cli_parse_seconds(const char *text, double *seconds);

#endif
