/* options.c - command-line parsing shared by run, validate, experiment and
 * flatten.
 *
 * Every rank parses the same argv and reaches the same verdict, so ranks
 * other than 0 parse quietly (one copy of a usage error is enough).
 */
#include "cli/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/decode.h"
#include "core/fmt.h"
#include "io/parquet.h"

/* Set on ranks other than 0: every rank parses the same argv and reaches the
 * same verdict, so one copy of a usage error is enough. */
static int usage_silent;

void sf_cli_set_quiet(int quiet) { usage_silent = quiet; }

int sf_cli_is_quiet(void) { return usage_silent; }

/* The command a usage text is for: the word after "usage: shardflow " ("run",
 * "gen"), copied into cmd; "" for the top-level usage ("COMMAND"). */
static void usage_command(const char *usage, char *cmd, size_t cap)
{
    static const char lead[] = "usage: shardflow ";
    cmd[0] = '\0';
    if (!usage || strncmp(usage, lead, sizeof lead - 1) != 0)
        return;
    const char *w = usage + sizeof lead - 1;
    size_t n = strspn(w, "abcdefghijklmnopqrstuvwxyz");
    if (n == 0 || n >= cap)
        return;
    memcpy(cmd, w, n);
    cmd[n] = '\0';
}

void sf_cli_try_line(const char *usage)
{
    char cmd[32];
    usage_command(usage, cmd, sizeof cmd);
    fprintf(stderr, "Try 'shardflow %s%s--help'.\n", cmd, cmd[0] ? " " : "");
}

int sf_cli_usage_error(const char *usage, const char *fmt, const char *arg)
{
    if (usage_silent)
        return 2;
    char cmd[32];
    usage_command(usage, cmd, sizeof cmd);
    fprintf(stderr, "shardflow%s%s: ", cmd[0] ? " " : "", cmd);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    sf_cli_try_line(usage);
    return 2;
}

size_t sf_cli_edit_distance(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Levenshtein distance over two rows; option names are short. */
    size_t row[2][64];
    if (alen >= 64 || blen >= 64)
        return (size_t)-1;
    for (size_t j = 0; j <= blen; j++)
        row[0][j] = j;
    for (size_t i = 1; i <= alen; i++) {
        size_t *prev = row[(i - 1) & 1], *cur = row[i & 1];
        cur[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t m = del < ins ? del : ins;
            cur[j] = m < sub ? m : sub;
        }
    }
    return row[alen & 1][blen];
}

int sf_cli_suggest(const char *usage, const char *arg, char *out, size_t cap)
{
    /* The known options are the "--name" words of the command's usage text,
     * so a new option documented there is suggested without another table. */
    size_t alen = strcspn(arg, "=");
    if (alen < 3 || strncmp(arg, "--", 2) != 0 || !usage)
        return -1;
    size_t best = 3, nprefix = 0;
    int found = 0;
    char prefix[64] = "";
    for (const char *p = strstr(usage, "--"); p; p = strstr(p + 2, "--")) {
        if (p > usage && p[-1] != ' ' && p[-1] != ',' && p[-1] != '/' && p[-1] != '(' && p[-1] != '[' &&
            p[-1] != '`')
            continue;
        size_t n = 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
        if (n < 4 || n >= 64 || n >= cap)
            continue;
        if (n == alen && strncmp(p, arg, n) == 0)
            return -1; /* known: the problem is not the name */
        if (alen < n && strncmp(p, arg, alen) == 0 &&
            (nprefix == 0 || strlen(prefix) != n || strncmp(prefix, p, n) != 0)) {
            nprefix++;
            memcpy(prefix, p, n);
            prefix[n] = '\0';
        }
        size_t d = sf_cli_edit_distance(arg, alen, p, n);
        if (d < best) {
            best = d;
            memcpy(out, p, n);
            out[n] = '\0';
            found = 1;
        }
    }
    if (!found && nprefix == 1 && strlen(prefix) < cap) {
        strcpy(out, prefix);
        found = 1;
    }
    return found ? 0 : -1;
}

int sf_cli_unknown_option(const char *usage, const char *arg)
{
    if (usage_silent)
        return 2;
    char cmd[32], hint[64];
    usage_command(usage, cmd, sizeof cmd);
    fprintf(stderr, "shardflow%s%s: unknown option '%s'", cmd[0] ? " " : "", cmd, arg);
    if (sf_cli_suggest(usage, arg, hint, sizeof hint) == 0)
        fprintf(stderr, "; did you mean %s?", hint);
    fputc('\n', stderr);
    sf_cli_try_line(usage);
    return 2;
}

static int parse_size_opt(const char *name, const char *text, uint64_t *out)
{
    if (sf_parse_size(text, out) != 0 || *out == 0) {
        if (!usage_silent)
            fprintf(stderr, "shardflow: %s: invalid size '%s' (e.g. 4M, 64M, 1G)\n", name, text);
        return -1;
    }
    return 0;
}

static const sf_cli_option shared[] = {
    {"--chunk-size", 1, 0},  {"--max-line-bytes", 1, 0}, {"--schedule", 1, 0},
    {"--progress", 0, 0},    {"--no-progress", 0, 0},     {"--quiet", 0, 0},
    {"--overwrite", 0, 1},   {"--write-mode", 1, 1},      {"--claim-timeout", 1, 1},
    {"--row-group-size", 1, 1}, {"--mode", 1, 1},            {"--max-bad", 1, 1},
};

const sf_cli_option *sf_cli_shared_find(const char *name)
{
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        if (strcmp(name, shared[i].name) == 0)
            return &shared[i];
    }
    return NULL;
}

int sf_cli_shared_apply(const sf_cli_option *opt, const char *val, const char *usage,
                        sf_run_opts *o)
{
    const char *a = opt->name;
    if (strcmp(a, "--chunk-size") == 0)
        return parse_size_opt(a, val, &o->chunk_size) != 0 ? 2 : 0;
    if (strcmp(a, "--max-line-bytes") == 0)
        return parse_size_opt(a, val, &o->scan.max_line) != 0 ? 2 : 0;
    if (strcmp(a, "--schedule") == 0) {
        if (strcmp(val, "dynamic") == 0)
            o->scan.schedule = SF_SCHED_DYNAMIC;
        else if (strcmp(val, "static") == 0)
            o->scan.schedule = SF_SCHED_STATIC;
        else
            return sf_cli_usage_error(usage, "--schedule takes static or dynamic, got '%s'", val);
    } else if (strcmp(a, "--progress") == 0) {
        o->progress = 1;
    } else if (strcmp(a, "--no-progress") == 0) {
        o->progress = 0;
    } else if (strcmp(a, "--quiet") == 0) {
        o->quiet = 1;
    } else if (strcmp(a, "--overwrite") == 0) {
        o->commit_mode = SF_COMMIT_OVERWRITE;
    } else if (strcmp(a, "--write-mode") == 0) {
        if (sf_commit_mode_parse(val, &o->commit_mode) != 0)
            return sf_cli_usage_error(usage, "--write-mode takes error, overwrite, "
                                      "overwrite-partitions or append, got '%s'", val);
    } else if (strcmp(a, "--claim-timeout") == 0) {
        if (sf_cli_parse_seconds(val, &o->claim_timeout) != 0)
            return sf_cli_usage_error(usage, "--claim-timeout takes seconds (or a number "
                                      "with s, m, h or d), got '%s'", val);
    } else if (strcmp(a, "--row-group-size") == 0) {
        /* Checked now so a bad value is a usage error; applied to the
         * Parquet writer's options when the output is planned. */
        sf_parquet_options check;
        sf_parquet_options_init(&check);
        sf_error err = {0};
        if (sf_parquet_parse_row_group_size(val, &check, &err) != 0)
            return sf_cli_usage_error(usage, "%s", err.msg);
        o->row_group_size = val;
    } else if (strcmp(a, "--mode") == 0) {
        if (strcmp(val, "permissive") == 0)
            o->mode = SF_MODE_PERMISSIVE;
        else if (strcmp(val, "dropmalformed") == 0)
            o->mode = SF_MODE_DROPMALFORMED;
        else if (strcmp(val, "failfast") == 0)
            o->mode = SF_MODE_FAILFAST;
        else
            return sf_cli_usage_error(usage, "--mode takes permissive, dropmalformed or "
                                      "failfast, got '%s'", val);
    } else if (strcmp(a, "--max-bad") == 0) {
        char *end;
        double v = strtod(val, &end);
        int pct = *end == '%';
        if (end == val || (pct ? end[1] != '\0' : *end != '\0') || v < 0 ||
            (pct && v > 100) || (!pct && v != (double)(uint64_t)v))
            return sf_cli_usage_error(usage, "--max-bad takes a count (1000) or a "
                                      "percentage (0.5%%), got '%s'", val);
        o->max_bad_set = 1;
        o->max_bad_pct = pct ? v : -1;
        o->max_bad = pct ? 0 : (uint64_t)v;
    }
    return 0;
}

/* The NAME=VALUE of --input NAME=PATH or --param NAME=VALUE at argv[*i]
 * (also --opt=NAME=..., where the first '=' after the option separates
 * it): *name is new (free it), *value points into argv. what names the
 * value in messages; empty_ok allows NAME=. Returns 0, or 2 after a usage
 * error (*i moves past a separate value). */
static int name_value_arg(const char *opt, const char *what, int empty_ok, int argc, char **argv,
                          int *i, const char *usage, char **name, const char **value)
{
    const char *a = argv[*i], *val;
    char fmt[96];
    if (strcmp(a, opt) == 0) {
        if (*i + 1 >= argc) {
            snprintf(fmt, sizeof fmt, "option %%s needs NAME=%s", what);
            return sf_cli_usage_error(usage, fmt, a);
        }
        val = argv[++*i];
    } else {
        val = a + strlen(opt) + 1;
    }
    const char *eq = strchr(val, '=');
    if (!eq || eq == val || (!empty_ok && !eq[1])) {
        snprintf(fmt, sizeof fmt, "%s takes NAME=%s, got '%%s'", opt, what);
        return sf_cli_usage_error(usage, fmt, val);
    }
    size_t n = (size_t)(eq - val);
    *name = malloc(n + 1);
    if (!*name)
        return 2;
    memcpy(*name, val, n);
    (*name)[n] = '\0';
    *value = eq + 1;
    return 0;
}

int sf_cli_parse_run(int argc, char **argv, const char *usage, int allow_run_opts,
                     sf_run_opts *o)
{
    sf_run_opts_init(o);
    int opts_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = 1; /* "--" ends the options: the rest are arguments */
            continue;
        }
        if (opts_done) {
            if (o->job_path)
                return sf_cli_usage_error(usage, "unexpected argument '%s'", a);
            o->job_path = a;
            continue;
        }
#define NEXT_VALUE()                                                                  \
    do {                                                                              \
        const char *eq = strchr(a, '=');                                              \
        if (strncmp(a, "--", 2) == 0 && eq) {                                         \
            val = eq + 1;                                                             \
        } else if (i + 1 < argc) {                                                    \
            val = argv[++i];                                                          \
        } else {                                                                      \
            return sf_cli_usage_error(usage, "option %s needs a value", a);                  \
        }                                                                             \
    } while (0)
#define IS_OPT(name) (strcmp(a, name) == 0 || strncmp(a, name "=", sizeof(name)) == 0)
        char name[48];
        size_t nlen = strcspn(a, "=");
        snprintf(name, sizeof name, "%.*s", (int)(nlen < sizeof name ? nlen : 0), a);
        const sf_cli_option *opt = allow_run_opts ? sf_cli_shared_find(name) : NULL;
        if (opt && (opt->has_value || !a[nlen])) {
            if (opt->has_value)
                NEXT_VALUE();
            int rc = sf_cli_shared_apply(opt, val, usage, o);
            if (rc)
                return rc;
        } else if (IS_OPT("--input") || IS_OPT("--param")) {
            int input = IS_OPT("--input");
            const char *opt = input ? "--input" : "--param";
            int *count = input ? &o->ninputs : &o->nparams;
            if (*count >= SF_MAX_INPUT_OVERRIDES)
                return sf_cli_usage_error(usage, input ? "too many --input options (at most %s)"
                                                       : "too many --param options (at most %s)",
                                          "64");
            char *name = NULL;
            const char *value = NULL;
            int rc = name_value_arg(opt, input ? "PATH" : "VALUE", !input, argc, argv, &i, usage,
                                    &name, &value);
            if (rc)
                return rc;
            if (input) {
                o->input_names[o->ninputs] = name;
                o->input_paths[o->ninputs] = value;
            } else {
                o->param_names[o->nparams] = name;
                o->param_values[o->nparams] = value;
            }
            (*count)++;
        } else if (allow_run_opts && (IS_OPT("--output") || strcmp(a, "-o") == 0)) {
            NEXT_VALUE();
            o->output = val;
        } else if (allow_run_opts && strcmp(a, "--verbose") == 0) {
            o->verbose = 1;
        } else if (allow_run_opts && IS_OPT("--decoder")) {
            NEXT_VALUE();
            sf_decoder_kind k;
            if (sf_decoder_kind_parse(val, &k) != 0)
                return sf_cli_usage_error(usage, "--decoder takes fast or jansson, got '%s'", val);
            o->decoder = (int)k;
        } else if (allow_run_opts && IS_OPT("--format")) {
            NEXT_VALUE();
            o->format = val;
        } else if (allow_run_opts && IS_OPT("--layout")) {
            NEXT_VALUE();
            o->layout = val;
        } else if (allow_run_opts && IS_OPT("--compression")) {
            NEXT_VALUE();
            o->compression = val;
        } else if (allow_run_opts && IS_OPT("--shuffle-round")) {
            NEXT_VALUE();
            if (parse_size_opt("--shuffle-round", val, &o->shuffle_round) != 0)
                return 2;
            o->shuffle_round_set = 1;
        } else if (allow_run_opts && IS_OPT("--memory-limit")) {
            NEXT_VALUE();
            o->memory_limit_set = 1;
            o->memory_limit = 0;
            if (strcmp(val, "none") != 0 &&
                parse_size_opt("--memory-limit", val, &o->memory_limit) != 0)
                return 2;
        } else if (allow_run_opts && IS_OPT("--spill-dir")) {
            NEXT_VALUE();
            if (!*val)
                return sf_cli_usage_error(usage, "--spill-dir needs a directory%s", "");
            o->spill_dir = val;
        } else if (allow_run_opts && IS_OPT("--repartition")) {
            NEXT_VALUE();
            if (strcmp(val, "before-aggregate") == 0)
                o->repartition = SF_REPART_BEFORE_AGGREGATE;
            else if (strcmp(val, "before-join") == 0)
                o->repartition = SF_REPART_BEFORE_JOIN;
            else if (strcmp(val, "none") == 0)
                o->repartition = SF_REPART_NONE;
            else
                return sf_cli_usage_error(usage, "--repartition takes before-aggregate, before-join or "
                                   "none, got '%s'", val);
        } else if (allow_run_opts && IS_OPT("--salt")) {
            NEXT_VALUE();
            char *end;
            long k = strtol(val, &end, 10);
            if (*end || k < 1 || k > 4096)
                return sf_cli_usage_error(usage, "--salt takes a number from 1 to 4096, got '%s'",
                                          val);
            o->salt = (int)k;
        } else if (allow_run_opts && IS_OPT("--broadcast-limit")) {
            NEXT_VALUE();
            if (parse_size_opt("--broadcast-limit", val, &o->broadcast_limit) != 0)
                return 2;
            o->broadcast_limit_set = 1;
        } else if (allow_run_opts && IS_OPT("--partitions")) {
            NEXT_VALUE();
            char *end;
            long p = strtol(val, &end, 10);
            if (*end || p < 1 || p > 1000000)
                return sf_cli_usage_error(usage, "--partitions takes a number from 1 to 1000000, got '%s'",
                                   val);
            o->partitions = (int)p;
        } else if (allow_run_opts && IS_OPT("--write")) {
            NEXT_VALUE();
            if (strcmp(val, "repartition") == 0) {
                o->write_mode = SF_WRITE_REPARTITION;
            } else if (strcmp(val, "local") == 0) {
                o->write_mode = SF_WRITE_LOCAL;
            } else if (strncmp(val, "coalesce=", 9) == 0) {
                char *end;
                long n = strtol(val + 9, &end, 10);
                if (*end || n < 1 || n > 1000000)
                    return sf_cli_usage_error(usage, "--write coalesce=N takes N >= 1, got '%s'", val);
                o->write_mode = SF_WRITE_COALESCE;
                o->coalesce = (int)n;
            } else {
                return sf_cli_usage_error(usage, "--write takes repartition, coalesce=N or local, got "
                                   "'%s'", val);
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return sf_cli_unknown_option(usage, a);
        } else if (!o->job_path) {
            o->job_path = a;
        } else {
            return sf_cli_usage_error(usage, "unexpected argument '%s'", a);
        }
#undef NEXT_VALUE
#undef IS_OPT
    }
    if (!o->job_path)
        return sf_cli_usage_error(usage, "%s", "missing JOB.json");
    return 0;
}

void sf_cli_free_run(sf_run_opts *o)
{
    for (int i = 0; i < o->ninputs; i++)
        free((char *)o->input_names[i]);
    o->ninputs = 0;
    for (int i = 0; i < o->nparams; i++)
        free((char *)o->param_names[i]);
    o->nparams = 0;
}

int sf_cli_parse_seconds(const char *text, double *seconds)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || v < 0 || v != v)
        return -1;
    double unit = 1;
    if (*end == 'm')
        unit = 60;
    else if (*end == 'h')
        unit = 3600;
    else if (*end == 'd')
        unit = 86400;
    else if (*end != 's' && *end != '\0')
        return -1;
    if (*end && end[1] != '\0')
        return -1;
    *seconds = v * unit;
    return 0;
}
