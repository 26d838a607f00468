/* options.h - command-line parsing shared by the commands: usage errors,
 * the one table of the options that run and flatten share, and the
 * options of run, validate and experiment. */
#ifndef SF_OPTIONS_H
#define SF_OPTIONS_H

#include <stddef.h>

#include "cli/run.h"

/* Ranks other than 0 call this with 1 so usage errors print once. */
void sf_cli_set_quiet(int quiet);

/* What sf_cli_set_quiet() set last (0 at start). */
int sf_cli_is_quiet(void);

/* Prints one line "shardflow CMD: <fmt with arg>" and "Try 'shardflow CMD
 * --help'." (CMD taken from the usage text; unless quiet); returns 2, the
 * usage-error exit code. */
int sf_cli_usage_error(const char *usage, const char *fmt, const char *arg);

/* The same for an unknown option arg, with "; did you mean --NAME?" when a
 * "--NAME" of the usage text is within edit distance 2 or the one option arg
 * is a prefix of. Returns 2. */
int sf_cli_unknown_option(const char *usage, const char *arg);

/* Prints "Try 'shardflow CMD --help'." for the command of usage. */
void sf_cli_try_line(const char *usage);

/* The near miss of arg ("--outptu", "--out=x") among the usage text's options,
 * into out; 0, or -1 when there is none (or arg is itself known). */
int sf_cli_suggest(const char *usage, const char *arg, char *out, size_t cap);

/* Levenshtein distance of a[0..alen) and b[0..blen); (size_t)-1 past 63. */
size_t sf_cli_edit_distance(const char *a, size_t alen, const char *b, size_t blen);

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
