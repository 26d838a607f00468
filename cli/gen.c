/* gen.c - `shardflow gen kpi|orders|learning|video`: every rank writes its slice of each
 * file.
 *
 * Each file is written in two passes over this rank's contiguous range of
 * line indices: pass 1 only measures the lines, an exclusive prefix sum of
 * the byte counts gives the rank's file offset, pass 2 generates the lines
 * again into a large buffer and pwrite()s them in place. Because a line is a
 * pure function of its index (core/gen_kpi.h, core/gen_orders.h), the two
 * passes agree and the file is byte-identical for any rank count.
 *
 * Invariant: every rank goes through the same sequence of collective calls.
 * A local failure is never returned directly; it is agreed on first with
 * status_agree(), so either all ranks go on or all return 1 - no rank is
 * left waiting in a collective.
 */
#include "cli/gen.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/gen_kpi.h"
#include "core/gen_learning.h"
#include "core/gen_orders.h"
#include "core/gen_video.h"
#include "io/fsutil.h"
#include "cli/options.h"
#include "mpi/collective.h"

#define GEN_BUF_SIZE (4u << 20)

static const char *const gen_usage =
    "usage: shardflow gen kpi [OPTIONS]\n"
    "       shardflow gen orders [OPTIONS]\n"
    "       shardflow gen learning [OPTIONS]\n"
    "       shardflow gen video [OPTIONS]\n"
    "\n"
    "Writes the daily KPI sample dataset: DIR/events.jsonl, DIR/users.jsonl and\n"
    "DIR/items.jsonl. Every line is a pure function of the seed and its index,\n"
    "so the files are byte-identical for any number of ranks.\n"
    "\n"
    "options:\n"
    "  --events N            number of events (default 1000000)\n"
    "  --users N             number of users (default 1000)\n"
    "  --items N             number of items (default 200)\n"
    "  --seed S              random seed (default 42)\n"
    "  --ids int|string      user_id and item_id as numbers (default) or as strings\n"
    "                        like the seed dataset's: \"user_000783\", \"item_000055\"\n"
    "  --skew zipf:S         Zipf-distributed user_id and item_id with exponent S\n"
    "                        (e.g. zipf:1.1; id 1 the hottest), default uniform\n"
    "  -o DIR, --output DIR  output directory (required; created if missing)\n"
    "  --overwrite           replace existing output files (default: refuse)\n"
    "  -h, --help            this help\n"
    "\n"
    "gen orders writes DIR/orders.jsonl: nested orders (customer, items, discounts,\n"
    "payment, shipping; about 600 bytes a line) for flatten and jobs/order_lines.json.\n"
    "  --orders N            number of orders (default 1000000)\n"
    "  --customers N         number of customers (default 10000)\n"
    "  --skus N              number of products (default 200)\n"
    "  --seed S, -o DIR      as above\n"
    "\n"
    "gen learning writes DIR/users.csv and DIR/events.jsonl: an e-learning product's\n"
    "users and events (logins, video watches, quizzes, payments; ISO-8601 times) with\n"
    "the dirt of real exports: duplicate user rows and event_ids, mixed-case types and\n"
    "plans, lower-case countries, missing user_id or event_time, events dated 2027.\n"
    "  --users N             number of users (default 10000)\n"
    "  --events N            number of events (default 30 per user)\n"
    "  --seed S, -o DIR      as above\n"
    "\n"
    "gen video writes DIR/events.jsonl (nested playback events with duplicates,\n"
    "unknown video and device ids, mixed-case types), DIR/users.csv, DIR/videos.csv\n"
    "(titles with commas and quotes) and DIR/devices.csv (two devices a user).\n"
    "  --events N            number of events (default 1000000)\n"
    "  --users N             number of users (default 10000)\n"
    "  --videos N            number of videos (default 500)\n"
    "  --seed S, -o DIR      as above\n"
    "\n"
    "Counts take plain digits or a K, M or G suffix (decimal: 1M = 1000000).\n"
    "\n"
    "example:\n"
    "  mpirun -np 2 shardflow gen kpi --events 1M --seed 42 -o data/kpi_1m\n"
    "  mpirun -np 2 shardflow gen orders --orders 1M -o data/orders_1m\n";

/* Line i of a dataset into buf (room for the dataset's line maximum). */
typedef size_t (*gen_line_fn)(const void *params, uint64_t i, char *buf);

typedef enum { GEN_KPI, GEN_ORDERS, GEN_LEARNING, GEN_VIDEO } gen_dataset;

typedef struct gen_opts {
    gen_dataset dataset;
    sf_gen_kpi_params params;
    sf_gen_orders_params oparams;
    sf_gen_learning_params lparams;
    sf_gen_video_params vparams;
    const char *dir;
    int overwrite; /* --overwrite: replace existing output files */
} gen_opts;

static size_t kpi_event(const void *p, uint64_t i, char *buf) { return sf_gen_kpi_event(p, i, buf); }
static size_t kpi_user(const void *p, uint64_t i, char *buf) { return sf_gen_kpi_user(p, i, buf); }
static size_t kpi_item(const void *p, uint64_t i, char *buf) { return sf_gen_kpi_item(p, i, buf); }
static size_t order_line(const void *p, uint64_t i, char *buf)
{
    return sf_gen_orders_line(p, i, buf);
}
static size_t learning_user(const void *p, uint64_t i, char *buf)
{
    return sf_gen_learning_user(p, i, buf);
}
static size_t learning_event(const void *p, uint64_t i, char *buf)
{
    return sf_gen_learning_event(p, i, buf);
}
static size_t video_event(const void *p, uint64_t i, char *buf) { return sf_gen_video_event(p, i, buf); }
static size_t video_user(const void *p, uint64_t i, char *buf) { return sf_gen_video_user(p, i, buf); }
static size_t video_video(const void *p, uint64_t i, char *buf) { return sf_gen_video_video(p, i, buf); }
static size_t video_device(const void *p, uint64_t i, char *buf)
{
    return sf_gen_video_device(p, i, buf);
}

/* Parses a count: digits with an optional K, M or G suffix (powers of 1000,
 * since these are counts, not bytes). Returns 0 or -1. */
static int parse_count(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = text;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
            return -1;
    }
    uint64_t mult = 1;
    if (*p == 'k' || *p == 'K')
        mult = 1000;
    else if (*p == 'm' || *p == 'M')
        mult = 1000000;
    else if (*p == 'g' || *p == 'G')
        mult = 1000000000;
    if (mult != 1)
        p++;
    if (*p != '\0' || __builtin_mul_overflow(v, mult, &v))
        return -1;
    *out = v;
    return 0;
}

/* Returns 0, or 2 after a usage error (printed on rank 0 only). Every rank parses
 * the same argv, so all reach the same verdict without communicating. */
static int parse_gen_opts(int argc, char **argv, gen_opts *o)
{
    memset(&o->params, 0, sizeof o->params); /* uniform ids, no tables */
    o->params.events = 1000000;
    o->params.users = 1000;
    o->params.items = 200;
    o->params.seed = 42;
    o->oparams.orders = 1000000;
    o->oparams.customers = 10000;
    o->oparams.skus = 200;
    o->oparams.seed = 42;
    o->lparams.users = 10000;
    o->lparams.events = 0; /* 30 per user unless given */
    o->lparams.seed = 42;
    o->vparams.events = 1000000;
    o->vparams.users = 10000;
    o->vparams.videos = 500;
    o->vparams.seed = 42;
    o->dir = NULL;
    o->overwrite = 0;
    for (int i = 1; i < argc; i++) {
        /* "--opt=value" and "--opt value" both work, as for `shardflow run`. */
        char name[32];
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "--") == 0) {
            /* "--" ends the options; gen takes no further arguments */
            if (i + 1 < argc)
                return sf_cli_usage_error(gen_usage, "unexpected argument '%s'", argv[i + 1]);
            break;
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            a = name;
            val = eq + 1;
        }
        uint64_t *count = NULL;
        int skew = 0, ids = 0;
        if (strcmp(a, "--overwrite") == 0) {
            if (val)
                return sf_cli_usage_error(gen_usage, "option %s takes no value", a);
            o->overwrite = 1;
            continue;
        }
        const gen_dataset d = o->dataset;
        if (d == GEN_LEARNING && strcmp(a, "--users") == 0)
            count = &o->lparams.users;
        else if (d == GEN_LEARNING && strcmp(a, "--events") == 0)
            count = &o->lparams.events;
        else if (d == GEN_LEARNING && strcmp(a, "--seed") == 0)
            count = &o->lparams.seed;
        else if (d == GEN_VIDEO && strcmp(a, "--events") == 0)
            count = &o->vparams.events;
        else if (d == GEN_VIDEO && strcmp(a, "--users") == 0)
            count = &o->vparams.users;
        else if (d == GEN_VIDEO && strcmp(a, "--videos") == 0)
            count = &o->vparams.videos;
        else if (d == GEN_VIDEO && strcmp(a, "--seed") == 0)
            count = &o->vparams.seed;
        else if (strcmp(a, "--skew") == 0 && d == GEN_KPI)
            skew = 1;
        else if (strcmp(a, "--ids") == 0 && d == GEN_KPI)
            ids = 1;
        else if (strcmp(a, "--events") == 0 && d == GEN_KPI)
            count = &o->params.events;
        else if (strcmp(a, "--users") == 0 && d == GEN_KPI)
            count = &o->params.users;
        else if (strcmp(a, "--items") == 0 && d == GEN_KPI)
            count = &o->params.items;
        else if (strcmp(a, "--orders") == 0 && d == GEN_ORDERS)
            count = &o->oparams.orders;
        else if (strcmp(a, "--customers") == 0 && d == GEN_ORDERS)
            count = &o->oparams.customers;
        else if (strcmp(a, "--skus") == 0 && d == GEN_ORDERS)
            count = &o->oparams.skus;
        else if (strcmp(a, "--seed") == 0 && d <= GEN_ORDERS)
            count = d == GEN_ORDERS ? &o->oparams.seed : &o->params.seed;
        else if (strcmp(a, "-o") != 0 && strcmp(a, "--output") != 0) {
            if (a[0] == '-' && a[1])
                return sf_cli_unknown_option(gen_usage, argv[i]);
            return sf_cli_usage_error(gen_usage, "unexpected argument '%s'", argv[i]);
        }
        if (!val) {
            if (i + 1 >= argc)
                return sf_cli_usage_error(gen_usage, "option %s needs a value", a);
            val = argv[++i];
        }
        if (ids) {
            if (strcmp(val, "int") != 0 && strcmp(val, "string") != 0)
                return sf_cli_usage_error(gen_usage, "--ids takes int or string, got '%s'", val);
            o->params.string_ids = strcmp(val, "string") == 0;
        } else if (skew) {
            char *end = NULL;
            double z = strncmp(val, "zipf:", 5) == 0 ? strtod(val + 5, &end) : -1;
            if (strcmp(val, "uniform") == 0) {
                o->params.zipf_s = 0;
            } else if (!end || *end || !(z > 0 && z <= 10)) {
                return sf_cli_usage_error(gen_usage, "--skew takes zipf:S with 0 < S <= 10 or "
                                          "uniform, got '%s'", val);
            } else {
                o->params.zipf_s = z;
            }
        } else if (!count) {
            o->dir = val;
        } else if (parse_count(val, count) != 0) {
            char what[96];
            snprintf(what, sizeof what, "%s: invalid number '%%s' (e.g. 1000, 50K, 1M)", a);
            return sf_cli_usage_error(gen_usage, what, val);
        }
    }
    if (!o->dir || !o->dir[0])
        return sf_cli_usage_error(gen_usage, "missing -o DIR%s", "");
    if (o->lparams.users == 0 || o->vparams.users == 0 || o->vparams.videos == 0)
        return sf_cli_usage_error(gen_usage, "--users and --videos must be at least 1%s", "");
    if (o->lparams.events == 0)
        o->lparams.events = 30 * o->lparams.users;
    if (o->params.users == 0 || o->params.items == 0)
        return sf_cli_usage_error(gen_usage, "--users and --items must be at least 1%s", "");
    if (o->oparams.customers == 0 || o->oparams.skus == 0 || o->oparams.skus > 9999) {
        return sf_cli_usage_error(gen_usage, "--customers must be at least 1 and --skus "
                                  "from 1 to 9999%s", "");
    }
    return 0;
}

/* Agrees on success across comm (sf_mpi_agree_error). A failed rank
 * passes its error; if any rank failed, rank 0 prints the message of the
 * lowest failed rank and every rank gets 1, else 0. Collective over comm. */
static int status_agree(MPI_Comm comm, int rank, int size, const sf_error *err)
{
    (void)size;
    sf_error e = *err;
    int first;
    if (!sf_mpi_agree_error(comm, err->code, &e, &first))
        return 0;
    if (rank == 0)
        fprintf(stderr, "shardflow gen: rank %d: %s\n", first, e.msg);
    return 1;
}

/* Writes all of data at offset, retrying short writes and EINTR. Returns 0
 * or SF_E_IO. */
static int pwrite_all(int fd, const char *data, size_t len, uint64_t off, const char *path,
                      sf_error *err)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, data, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return sf_error_set(err, SF_E_IO, "%s: write at byte offset %" PRIu64 ": %s", path,
                                off, strerror(errno));
        }
        data += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Generates lines [lo, hi) (at most line_max bytes each) into buf and
 * writes them from offset off on. Returns 0 or SF_E_IO. */
static int write_range(int fd, const char *path, const void *p, gen_line_fn fn, size_t line_max,
                       uint64_t lo, uint64_t hi, uint64_t off, char *buf, sf_error *err)
{
    size_t used = 0;
    for (uint64_t i = lo; i < hi; i++) {
        if (GEN_BUF_SIZE - used < line_max) {
            if (pwrite_all(fd, buf, used, off, path, err) != 0)
                return SF_E_IO;
            off += used;
            used = 0;
        }
        used += fn(p, i, buf + used);
    }
    return pwrite_all(fd, buf, used, off, path, err);
}

/* Writes one file with every rank. Collective over comm. Returns 0, or 1
 * on every rank after rank 0 printed the error. */
static int gen_file(MPI_Comm comm, int rank, int size, const char *path, uint64_t lines,
                    const void *p, gen_line_fn fn, size_t line_max, char *buf)
{
    sf_error err;
    sf_error_clear(&err);

    /* Rank 0 truncates before anyone writes, so no stale tail survives. */
    if (rank == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0)
            sf_error_set(&err, SF_E_IO, "%s: cannot create: %s", path, strerror(errno));
        else if (close(fd) != 0)
            sf_error_set(&err, SF_E_IO, "%s: close: %s", path, strerror(errno));
    }
    if (status_agree(comm, rank, size, &err) != 0)
        return 1;

    int fd = open(path, O_WRONLY);
    if (fd < 0)
        sf_error_set(&err, SF_E_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    if (status_agree(comm, rank, size, &err) != 0) {
        if (fd >= 0)
            close(fd);
        return 1;
    }

    uint64_t lo = (uint64_t)((unsigned __int128)lines * (unsigned)rank / (unsigned)size);
    uint64_t hi = (uint64_t)((unsigned __int128)lines * (unsigned)(rank + 1) / (unsigned)size);
    uint64_t bytes = 0;
    _Static_assert(SF_GEN_ORDERS_LINE_MAX >= SF_GEN_LINE_MAX &&
                   SF_GEN_ORDERS_LINE_MAX >= SF_GEN_LEARNING_LINE_MAX &&
                   SF_GEN_ORDERS_LINE_MAX >= SF_GEN_VIDEO_LINE_MAX,
                   "the line buffer holds the longest line of every dataset");
    char line[SF_GEN_ORDERS_LINE_MAX];
    for (uint64_t i = lo; i < hi; i++)
        bytes += fn(p, i, line);
    uint64_t off = 0, total = 0;
    MPI_Exscan(&bytes, &off, 1, MPI_UINT64_T, MPI_SUM, comm);
    if (rank == 0)
        off = 0; /* MPI_Exscan leaves rank 0's result undefined */
    MPI_Allreduce(&bytes, &total, 1, MPI_UINT64_T, MPI_SUM, comm);

    write_range(fd, path, p, fn, line_max, lo, hi, off, buf, &err);
    if (status_agree(comm, rank, size, &err) != 0) {
        close(fd);
        return 1;
    }

    /* Everyone has written: rank 0 fixes the size, which also covers a file
     * system that left it short of the last write. */
    if (rank == 0 && ftruncate(fd, (off_t)total) != 0)
        sf_error_set(&err, SF_E_IO, "%s: truncate to %" PRIu64 " bytes: %s", path, total,
                     strerror(errno));
    if (close(fd) != 0 && err.code == 0)
        sf_error_set(&err, SF_E_IO, "%s: close: %s", path, strerror(errno));
    if (status_agree(comm, rank, size, &err) != 0)
        return 1;
    if (rank == 0)
        printf("%s: %" PRIu64 " lines, %" PRIu64 " bytes\n", path, lines, total);
    return 0;
}

/* One file of a dataset: its name, line count and line function. */
typedef struct gen_file_spec {
    const char *name;
    uint64_t lines;
    gen_line_fn fn;
    const void *params;
    size_t line_max;
} gen_file_spec;

/* Fills files[] (room for 4) with the chosen dataset's files; returns how
 * many. */
static int gen_files(const gen_opts *o, gen_file_spec *files)
{
    const sf_gen_video_params *v = &o->vparams;
    const sf_gen_learning_params *l = &o->lparams;
    switch (o->dataset) {
    case GEN_ORDERS:
        files[0] = (gen_file_spec){"orders.jsonl", o->oparams.orders, order_line, &o->oparams,
                                   SF_GEN_ORDERS_LINE_MAX};
        return 1;
    case GEN_LEARNING:
        files[0] = (gen_file_spec){"users.csv", 1 + l->users + sf_gen_learning_dup_users(l),
                                   learning_user, l, SF_GEN_LEARNING_LINE_MAX};
        files[1] = (gen_file_spec){"events.jsonl", l->events, learning_event, l,
                                   SF_GEN_LEARNING_LINE_MAX};
        return 2;
    case GEN_VIDEO:
        files[0] = (gen_file_spec){"events.jsonl", v->events, video_event, v, SF_GEN_VIDEO_LINE_MAX};
        files[1] = (gen_file_spec){"users.csv", sf_gen_video_user_lines(v), video_user, v,
                                   SF_GEN_VIDEO_LINE_MAX};
        files[2] = (gen_file_spec){"videos.csv", sf_gen_video_video_lines(v), video_video, v,
                                   SF_GEN_VIDEO_LINE_MAX};
        files[3] = (gen_file_spec){"devices.csv", sf_gen_video_device_lines(v), video_device, v,
                                   SF_GEN_VIDEO_LINE_MAX};
        return 4;
    case GEN_KPI:
    default:
        break;
    }
    files[0] = (gen_file_spec){"events.jsonl", o->params.events, kpi_event, &o->params,
                               SF_GEN_LINE_MAX};
    files[1] = (gen_file_spec){"users.jsonl", o->params.users, kpi_user, &o->params,
                               SF_GEN_LINE_MAX};
    files[2] = (gen_file_spec){"items.jsonl", o->params.items, kpi_item, &o->params,
                               SF_GEN_LINE_MAX};
    return 3;
}

/* The whole command line: 0 (o filled), 2 after a usage error, or 3 when
 * the usage text was asked for (printed to stdout when print_help; with no
 * arguments at all it goes to stderr and the result is 2). No MPI call. */
static int gen_args(int argc, char **argv, gen_opts *o, int print_help)
{
    if (argc < 1 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
        if (print_help)
            fputs(gen_usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 3;
    }
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            if (print_help)
                fputs(gen_usage, stdout);
            return 3;
        }
    }
    static const char *const datasets[] = {"kpi", "orders", "learning", "video"};
    o->dataset = GEN_KPI;
    while (o->dataset <= GEN_VIDEO && strcmp(argv[0], datasets[o->dataset]) != 0)
        o->dataset++;
    if (o->dataset > GEN_VIDEO)
        return sf_cli_usage_error(gen_usage, "unknown dataset '%s' (known: kpi, orders, "
                                  "learning, video)", argv[0]);
    return parse_gen_opts(argc, argv, o);
}

int sf_gen_check_args(int argc, char **argv)
{
    gen_opts o;
    int rc = gen_args(argc, argv, &o, !sf_cli_is_quiet());
    return rc == 3 ? -1 : rc;
}

int sf_gen_main(int argc, char **argv, MPI_Comm comm)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);

    sf_cli_set_quiet(rank != 0);
    gen_opts o;
    int rc = gen_args(argc, argv, &o, rank == 0);
    if (rc != 0)
        return rc == 3 ? 0 : rc;

    double t0 = MPI_Wtime();
    sf_error err;
    sf_error_clear(&err);
    gen_file_spec files[4];
    int nfiles = gen_files(&o, files);
    if (rank == 0)
        sf_mkdirs(o.dir, &err);
    /* An existing file is kept unless --overwrite: a typo in -o must not
     * replace a dataset that took an hour to generate. */
    for (int f = 0; f < nfiles && rank == 0 && err.code == 0 && !o.overwrite; f++) {
        char existing[4096];
        snprintf(existing, sizeof existing, "%s/%s", o.dir, files[f].name);
        struct stat st;
        if (lstat(existing, &st) == 0)
            sf_error_set(&err, SF_E_EXISTS, "%s exists; --overwrite replaces it", existing);
    }
    char *buf = malloc(GEN_BUF_SIZE);
    if (!buf && err.code == 0)
        sf_error_set(&err, SF_E_NOMEM, "cannot allocate a %u-byte write buffer", GEN_BUF_SIZE);
    if (err.code == 0 && sf_gen_kpi_prepare(&o.params) != 0)
        sf_error_set(&err, SF_E_NOMEM, "out of memory building the Zipf tables");
    if (status_agree(comm, rank, size, &err) != 0) {
        free(buf);
        sf_gen_kpi_release(&o.params);
        return 1;
    }

    size_t dlen = strlen(o.dir);
    char *path = malloc(dlen + 32);
    if (!path)
        sf_error_set(&err, SF_E_NOMEM, "out of memory building output paths");
    if (status_agree(comm, rank, size, &err) != 0) {
        free(buf);
        free(path);
        sf_gen_kpi_release(&o.params);
        return 1;
    }
    for (int f = 0; f < nfiles && rc == 0; f++) {
        snprintf(path, dlen + 32, "%s/%s", o.dir, files[f].name);
        rc = gen_file(comm, rank, size, path, files[f].lines, files[f].params, files[f].fn,
                      files[f].line_max, buf);
    }
    free(buf);
    free(path);
    sf_gen_kpi_release(&o.params);
    if (rc == 0 && rank == 0)
        printf("generated in %.2f s on %d rank%s\n", MPI_Wtime() - t0, size, size == 1 ? "" : "s");
    return rc;
}
