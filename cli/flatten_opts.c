/* flatten_opts.c - `shardflow flatten` and `schema`: usage and options. */
#include "cli/flatten.h"
#include "cli/flatten_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "core/fmt.h"

const char *const sf_flatten_usage =
    "usage: shardflow flatten INPUT... -o OUT [OPTIONS]\n"
    "\n"
    "Flattens nested JSON Lines into a flat table: nested keys joined with the\n"
    "separator (user.profile.name), arrays by the list policy, chosen arrays\n"
    "exploded into one row per element. The header is the union of all keys in\n"
    "order of first appearance, with types inferred over the whole input; the\n"
    "output keeps input order and is the same bytes for any number of ranks.\n"
    "INPUT is a file, a glob or a directory, plain, gzip or zstd; - (stdin) or a\n"
    "FIFO is read by rank 0 and its decoded bytes are spooled under OUT's staging\n"
    "directory for the second pass (free space about the input's size needed);\n"
    "for plain files each rank keeps its flattened rows there instead (about 2/3\n"
    "of its share of the input), so every line is parsed once.\n"
    "OUT is committed atomically:\n"
    "OUT/part-NNNNN.csv (one per input chunk, in input order), _MANIFEST.json\n"
    "and _SUCCESS. See docs/flatten.md.\n"
    "\n"
    "flatten options:\n"
    "  --sep S               key separator (default \".\"; e.g. _ or __)\n"
    "  --lists index|join|json  arrays: tags.0, tags.1 (default, 0-based); one\n"
    "                        string joined with --join-sep (arrays of scalars\n"
    "                        only, else index); or the array's JSON text\n"
    "  --join-sep S          separator for --lists join (default \",\")\n"
    "  --explode PATH        one row per element of the array at PATH (keys\n"
    "                        joined with '.', e.g. items or orders.items);\n"
    "                        repeatable: several paths give the cartesian product;\n"
    "                        a path no record holds is warned of (a typo?)\n"
    "  --max-depth N         objects and arrays deeper than N keys stay JSON text\n"
    "  --max-rows-per-record N  a record exploding into more rows is an error\n"
    "                        naming the line (default 10000)\n"
    "  --on-collision error|first|last  two paths giving one column ({\"a.b\":1,\n"
    "                        \"a\":{\"b\":2}}): reject the line (default), keep the\n"
    "                        first or the last value\n"
    "\n"
    "output options:\n"
    "  -o OUT, --output OUT  output directory (required)\n"
    "  --single-file         one OUT/part-00000.csv (or .parquet) in input order\n"
    "  --partition-by P      Hive directories by P: a column (left out of the\n"
    "                        files) or NAME=EXPR, e.g. date=to_date(ts); repeatable\n"
    "  --format csv|hdf5|parquet  output format (default csv; hdf5 and parquet\n"
    "                        columns are typed)\n"
    "  --compression C       hdf5: none, gzip or gzip:N (default gzip:4); parquet:\n"
    "                        none, snappy (default), gzip[:N] or zstd[:N]; csv:\n"
    "                        none (default), gzip[:N] or zstd[:N] (.csv.gz / .csv.zst)\n"
    "  --row-group-size R    parquet: rows, bytes (64MiB) or ROWS,BYTES per row\n"
    "                        group (default 1048576 rows or 16 MiB)\n"
    "  --write-mode MODE     error (default), overwrite, overwrite-partitions (replace\n"
    "                        only the partition directories written, keep the rest)\n"
    "                        or append (run-unique file names, nothing replaced)\n"
    "  --overwrite           the same as --write-mode overwrite\n"
    "  --claim-timeout T     break another host's claim on OUT after T (default 1d)\n"
    "\n"
    "bad lines:\n"
    "  --mode M              permissive (default: write them to OUT/_bad_records/\n"
    "                        part-NNNNN.jsonl with file, offset, line, reason, text),\n"
    "                        dropmalformed (only count them) or failfast (stop at\n"
    "                        the first, as FILE:LINE:COLUMN: reason; exit 2)\n"
    "  --max-bad N|P%        fail (exit 2, nothing committed) past N bad lines or P%\n"
    "                        of the lines read (default 10%; 100% turns it off); a\n"
    "                        flatten whose every line is rejected always fails\n"
    "\n"
    "run options:\n"
    "  --chunk-size SIZE     bytes per scan chunk (default 64M, cut down to give at\n"
    "                        least 4 chunks per rank, not below 1M)\n"
    "  --schedule dynamic|static  chunk scheduling (default dynamic)\n"
    "  --max-line-bytes SIZE longer lines are rejected (default 16M)\n"
    "  --progress, --no-progress, --quiet, -h/--help\n"
    "\n"
    "examples:\n"
    "  mpirun -np 4 shardflow flatten orders.jsonl -o out/orders\n"
    "  shardflow flatten api.jsonl --sep _ --lists join -o out/api --single-file\n"
    "  shardflow flatten orders.jsonl --explode items --explode discounts -o out/lines\n"
    "  shardflow flatten events.jsonl --partition-by date=to_date(ts) -o out/events\n";

const char *const sf_schema_usage =
    "usage: shardflow schema INPUT... [OPTIONS]\n"
    "\n"
    "Prints the flat schema of nested JSON Lines: every column `flatten` would\n"
    "write with the same options, in the same order, with its type inferred over\n"
    "the whole input (bool, int64, double, string; int64 and double widen to\n"
    "double, any other mix to string; a column holding only nulls is string) and\n"
    "how many rows hold a value. The inference is a distributed pass over all\n"
    "lines, not a sample. INPUT may be - (stdin) or a FIFO, plain, gzip or zstd.\n"
    "\n"
    "options:\n"
    "  --format table|jobspec  table (default) or a DRAFT job spec (JSON on stdout):\n"
    "                        the input as the fact input with the inferred column\n"
    "                        types (and the --sep/--lists/--explode settings),\n"
    "                        no steps, and one count() over all rows; `shardflow\n"
    "                        validate` accepts it and `run` runs it as it is; then\n"
    "                        edit its steps, group_by, aggregates and output.\n"
    "                        Columns a job could not read from these lines (array\n"
    "                        indexes such as items.0.sku, strings mixed with\n"
    "                        numbers) are left out and named on stderr\n"
    "  --ddl duckdb|postgres|snowflake  print CREATE TABLE instead of the table\n"
    "                        (an error, exit 2, when the input has no column)\n"
    "  --table NAME          table name for --ddl, input name for --format jobspec\n"
    "                        (default: the first input's file name)\n"
    "  --sep, --lists, --join-sep, --explode, --max-depth, --max-rows-per-record,\n"
    "  --on-collision        as for `shardflow flatten`\n"
    "  --chunk-size, --schedule, --max-line-bytes, --progress, --no-progress\n"
    "\n"
    "examples:\n"
    "  shardflow schema orders.jsonl --explode items --ddl duckdb\n"
    "  shardflow schema events.jsonl --format jobspec > jobs/events.json\n";

static int parse_count(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int sf_fl_parse_opts(int argc, char **argv, const char *usage, int schema, fl_opts *o)
{
    memset(o, 0, sizeof *o);
    sf_flatten_opts_init(&o->fo);
    sf_run_opts_init(&o->run);
    o->format = "csv";
    o->compression = NULL; /* by format, below */
    int opts_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = 1; /* "--" ends the options: the rest are inputs */
            continue;
        }
        if (opts_done) {
            if (o->ninputs == MAX_INPUTS)
                return sf_cli_usage_error(usage, "too many inputs (at most %s)", "64");
            o->inputs[o->ninputs++] = a;
            continue;
        }
        char name[48];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
            a = name;
        }
        /* The options run shares (cli/options.c), then flatten's own. */
        const sf_cli_option *opt = sf_cli_shared_find(a);
        if (opt && (!opt->writes || !schema)) {
            if (!opt->has_value && val)
                return sf_cli_usage_error(usage, "option %s takes no value", a);
            if (opt->has_value && !val) {
                if (i + 1 >= argc)
                    return sf_cli_usage_error(usage, "option %s needs a value", a);
                val = argv[++i];
            }
            int rc = sf_cli_shared_apply(opt, val, usage, &o->run);
            if (rc)
                return rc;
            continue;
        }
        static const char *const flags[] = {"--single-file", "--overwrite", NULL};
        int is_flag = 0;
        for (int k = 0; flags[k]; k++)
            is_flag |= strcmp(a, flags[k]) == 0;
        if (is_flag) {
            if (val)
                return sf_cli_usage_error(usage, "option %s takes no value", a);
            if (strcmp(a, "--single-file") == 0 && !schema)
                o->single_file = 1;
            else
                return sf_cli_unknown_option(usage, a);
            continue;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (o->ninputs == MAX_INPUTS)
                return sf_cli_usage_error(usage, "too many inputs (at most %s)", "64");
            o->inputs[o->ninputs++] = a;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc)
                return sf_cli_usage_error(usage, "option %s needs a value", a);
            val = argv[++i];
        }
        uint64_t n;
        if (strcmp(a, "--sep") == 0) {
            if (!*val)
                return sf_cli_usage_error(usage, "--sep must not be empty%s", "");
            o->fo.sep = val;
        } else if (strcmp(a, "--lists") == 0) {
            if (sf_lists_policy_parse(val, &o->fo.lists) != 0)
                return sf_cli_usage_error(usage, "--lists takes index, join or json, got '%s'",
                                          val);
        } else if (strcmp(a, "--join-sep") == 0) {
            o->fo.join_sep = val;
        } else if (strcmp(a, "--explode") == 0) {
            if (o->fo.nexplode == SF_FLATTEN_MAX_EXPLODE)
                return sf_cli_usage_error(usage, "too many --explode paths (at most %s)", "64");
            o->explode[o->fo.nexplode++] = val;
        } else if (strcmp(a, "--max-depth") == 0) {
            if (parse_count(val, &n) != 0 || n > 100000)
                return sf_cli_usage_error(usage, "--max-depth takes a number >= 0, got '%s'",
                                          val);
            o->fo.max_depth = (int)n;
        } else if (strcmp(a, "--max-rows-per-record") == 0) {
            if (parse_count(val, &n) != 0 || n == 0)
                return sf_cli_usage_error(usage, "--max-rows-per-record takes a number >= 1, "
                                          "got '%s'", val);
            o->fo.max_rows = n;
        } else if (strcmp(a, "--on-collision") == 0) {
            if (sf_collision_policy_parse(val, &o->fo.on_collision) != 0)
                return sf_cli_usage_error(usage, "--on-collision takes error, first or last, "
                                          "got '%s'", val);
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && !schema) {
            o->output = val;
        } else if (strcmp(a, "--partition-by") == 0 && !schema) {
            if (o->npartition == MAX_PARTITION)
                return sf_cli_usage_error(usage, "too many --partition-by keys (at most %s)",
                                          "16");
            if (!*val || val[0] == '=')
                return sf_cli_usage_error(usage, "--partition-by takes a column or NAME=EXPR, "
                                          "got '%s'", val);
            o->partition[o->npartition++] = val;
        } else if (strcmp(a, "--format") == 0 && !schema) {
            if (strcmp(val, "csv") != 0 && strcmp(val, "hdf5") != 0 &&
                strcmp(val, "parquet") != 0)
                return sf_cli_usage_error(usage, "--format takes csv, hdf5 or parquet, got '%s'",
                                          val);
            o->format = val;
        } else if (strcmp(a, "--compression") == 0 && !schema) {
            o->compression = val;
        } else if (strcmp(a, "--format") == 0 && schema) {
            if (strcmp(val, "table") != 0 && strcmp(val, "jobspec") != 0)
                return sf_cli_usage_error(usage, "--format takes table or jobspec, got '%s'", val);
            o->jobspec = strcmp(val, "jobspec") == 0;
        } else if (strcmp(a, "--ddl") == 0 && schema) {
            if (strcmp(val, "duckdb") != 0 && strcmp(val, "postgres") != 0 &&
                strcmp(val, "snowflake") != 0)
                return sf_cli_usage_error(usage, "--ddl takes duckdb, postgres or snowflake, "
                                          "got '%s'", val);
            o->ddl = val;
        } else if (strcmp(a, "--table") == 0 && schema) {
            o->table = val;
        } else {
            return sf_cli_unknown_option(usage, a);
        }
    }
    o->fo.explode = o->explode;
    if (!o->compression)
        o->compression = strcmp(o->format, "parquet") == 0 ? "snappy"
                         : strcmp(o->format, "csv") == 0 ? "none" : "gzip:4";
    if (strcmp(o->format, "csv") == 0) {
        sf_csv_options check;
        sf_error err = {0};
        if (sf_csv_parse_compression(o->compression, &check, &err) != 0)
            return sf_cli_usage_error(usage, "--compression: %s", err.msg);
    }
    if (strcmp(o->format, "parquet") == 0) {
        sf_parquet_options check;
        sf_parquet_options_init(&check);
        sf_error err = {0};
        if (sf_parquet_parse_codec(o->compression, &check, &err) != 0)
            return sf_cli_usage_error(usage, "--compression: %s", err.msg);
    }
    if (o->ninputs == 0)
        return sf_cli_usage_error(usage, "missing INPUT%s", "");
    if (o->jobspec && o->ddl)
        return sf_cli_usage_error(usage, "--format jobspec and --ddl exclude each other%s", "");
    if (!schema && (!o->output || !*o->output))
        return sf_cli_usage_error(usage, "missing -o OUT%s", "");
    if (o->single_file && o->npartition)
        return sf_cli_usage_error(usage, "--single-file and --partition-by exclude each "
                                  "other%s", "");
    if (o->single_file && strcmp(o->format, "hdf5") == 0)
        return sf_cli_usage_error(usage, "--single-file writes CSV; for one HDF5 table per "
                                  "chunk drop it%s", "");
    return 0;
}

