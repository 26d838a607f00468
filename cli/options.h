/* options.h - command-line parsing shared by the commands: usage errors,
 * the one table of the options that run and flatten share, and the
 * options of run, validate and experiment. */
#ifndef SF_OPTIONS_H
#define SF_OPTIONS_H

#include "cli/run.h"

/* Ranks other than 0 call this with 1 so usage errors print once. */
void sf_cli_set_quiet(int quiet);

/* Prints "shardflow: <fmt with arg>" and the usage text (unless quiet);
 * returns 2, the usage-error exit code. */
int sf_cli_usage_error(const char *usage, const char *fmt, const char *arg);

/* The options run and flatten (and schema) share: --chunk-size,
 * --max-line-bytes, --schedule, --progress, --no-progress, --quiet and
 * (not for schema) --overwrite, --write-mode and --claim-timeout. */
typedef struct sf_cli_option {
    const char *name;
    int has_value;  /* takes a value (--name V or --name=V) */
    int writes;     /* only for commands that write an output */
} sf_cli_option;

/* The shared option called name ("--chunk-size"; no "=value"), or NULL. */
const sf_cli_option *sf_cli_shared_find(const char *name);

/* Applies a shared option with its value (NULL for a flag) to o. Returns 0,
 * or 2 after a usage error (printed unless quiet). */
int sf_cli_shared_apply(const sf_cli_option *opt, const char *val, const char *usage,
                        sf_run_opts *o);

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
