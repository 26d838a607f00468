/* joinplan.c - broadcast or partitioned join (see joinplan.h). */
#include "core/joinplan.h"

#include <stdio.h>
#include <string.h>

#include "core/value.h"

/* Bytes a table row costs besides its sf_values and string bytes: the
 * index slots (kept under half full), the key's copy and the arenas'
 * slack. Measured on S3's users (1M rows of 96 bytes, 2 columns kept):
 * 128 MiB on one rank (the --memory-limit check's figure), 134 bytes a
 * row, 48 of them the two sf_values and 13 the strings; rounded up. */
#define ROW_OVERHEAD 80

/* A table fits comfortably when it takes at most 1/ROOM_SHARE of the
 * room: the rest stays for the group tables, which grow with the data. */
#define ROOM_SHARE 4

/* Past the closing quote of the string that starts at p[0] == '"'. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

/* Past the JSON value that starts at p (whitespace skipped before it). */
static const char *skip_value(const char *p, const char *end)
{
    if (p < end && *p == '"')
        return skip_string(p, end);
    if (p < end && (*p == '{' || *p == '[')) {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                continue;
            }
            depth += *p == '{' || *p == '[';
            depth -= *p == '}' || *p == ']';
            p++;
            if (depth == 0)
                return p;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ' ' && *p != '\t' && *p != '\r')
        p++;
    return p;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static int named(const char *key, size_t n, const char *const *names, size_t nnames)
{
    for (size_t i = 0; i < nnames; i++)
        if (strlen(names[i]) == n && memcmp(names[i], key, n) == 0)
            return 1;
    return 0;
}

/* Bytes of the named members' values of the object line [p, end), or
 * end - p when the line is not an object. */
static uint64_t line_values(const char *p, const char *end, const char *const *names,
                            size_t nnames)
{
    const char *q = skip_ws(p, end);
    if (q >= end || *q != '{')
        return (uint64_t)(end - p);
    uint64_t sum = 0;
    q++;
    for (;;) {
        q = skip_ws(q, end);
        if (q >= end || *q != '"')
            return sum;
        const char *k = q + 1;
        q = skip_string(q, end);
        size_t klen = q > k ? (size_t)(q - k - 1) : 0;
        q = skip_ws(q, end);
        if (q >= end || *q != ':')
            return sum;
        const char *v = skip_ws(q + 1, end);
        q = skip_value(v, end);
        if (named(k, klen, names, nnames))
            sum += (uint64_t)(q - v);
        q = skip_ws(q, end);
        if (q >= end || *q != ',')
            return sum;
        q++;
    }
}

void sf_joinplan_scan_sample(const char *buf, size_t n, const char *const *names,
                             size_t nnames, sf_joinplan_sample *out)
{
    memset(out, 0, sizeof *out);
    const char *p = buf, *end = buf + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        out->lines++;
        out->bytes += (uint64_t)(nl + 1 - p);
        out->value_bytes += line_values(p, nl, names, nnames);
        p = nl + 1;
    }
}

double sf_joinplan_fraction(const sf_joinplan_sample *s)
{
    if (!s->lines || !s->bytes)
        return 1.0;
    double f = (double)s->value_bytes / (double)s->bytes;
    return f > 1.0 ? 1.0 : f;
}

void sf_joinplan_decide(const sf_joinplan_in *in, sf_joinplan *out)
{
    memset(out, 0, sizeof *out);
    int r = in->nranks > 1 ? in->nranks : 1;
    double rows = (double)in->dim_bytes / (in->dim_line_bytes > 0 ? in->dim_line_bytes : 64.0);
    double mem = rows * (double)(in->dim_columns * sizeof(sf_value) + ROW_OVERHEAD) +
                 (double)in->dim_bytes * in->dim_fraction;
    out->dim_memory = (uint64_t)mem;
    out->broadcast_bytes = in->dim_bytes * (uint64_t)(r - 1);
    out->shuffle_bytes = (uint64_t)((double)in->fact_bytes * in->fact_fraction * (double)(r - 1) /
                                    (double)r);
    if (in->limit_set) {
        out->partitioned = in->dim_bytes > in->limit;
        out->reason = out->partitioned ? SF_JOINPLAN_OVER_LIMIT : SF_JOINPLAN_UNDER_LIMIT;
        return;
    }
    if (r == 1) {
        out->reason = SF_JOINPLAN_ONE_RANK;
        return;
    }
    if (in->room && out->dim_memory > in->room / ROOM_SHARE) {
        out->partitioned = 1;
        out->reason = SF_JOINPLAN_TOO_BIG;
        return;
    }
    if (in->dim_bytes <= SF_JOINPLAN_SMALL) {
        out->reason = SF_JOINPLAN_SMALL_TABLE;
        return;
    }
    /* A fact input of unknown size (a stream) cannot be weighed: a table
     * that fits is broadcast. */
    if (in->fact_bytes && out->broadcast_bytes > out->shuffle_bytes) {
        out->partitioned = 1;
        out->reason = SF_JOINPLAN_COSTLIER;
        return;
    }
    out->reason = SF_JOINPLAN_CHEAPER;
}

const char *sf_joinplan_reason_name(sf_joinplan_reason r)
{
    static const char *const names[] = {"one-rank", "cheaper",  "under-limit", "small",
                                        "too-big",  "costlier", "over-limit"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

static double mb(uint64_t n) { return (double)n / 1e6; }

void sf_joinplan_text(const sf_joinplan_in *in, const sf_joinplan *p, const char *dim_name,
                      char *buf, size_t size)
{
    const char *way = p->partitioned ? "partitioned (before-join)" : "broadcast";
    switch (p->reason) {
    case SF_JOINPLAN_UNDER_LIMIT:
    case SF_JOINPLAN_OVER_LIMIT:
        snprintf(buf, size, "join '%s': %s: %llu bytes %s --broadcast-limit (%llu bytes)",
                 dim_name, way, (unsigned long long)in->dim_bytes,
                 p->partitioned ? "is over" : "are within", (unsigned long long)in->limit);
        return;
    case SF_JOINPLAN_ONE_RANK:
        snprintf(buf, size, "join '%s': %s: one rank", dim_name, way);
        return;
    case SF_JOINPLAN_SMALL_TABLE:
        snprintf(buf, size, "join '%s': %s: %llu bytes, at most %llu (small tables are "
                 "broadcast unweighed)", dim_name, way, (unsigned long long)in->dim_bytes,
                 (unsigned long long)SF_JOINPLAN_SMALL);
        return;
    case SF_JOINPLAN_TOO_BIG:
        snprintf(buf, size, "join '%s': %s: the table (%.1f MB, about %.1f MB in memory) is "
                 "more than a quarter of a rank's %.1f MB of memory for data", dim_name, way,
                 mb(in->dim_bytes), mb(p->dim_memory), mb(in->room));
        return;
    default:
        break;
    }
    char room[64] = "no memory limit";
    if (in->room)
        snprintf(room, sizeof room, "a quarter of %.1f MB", mb(in->room));
    if (!in->fact_bytes) {
        snprintf(buf, size, "join '%s': %s: about %.1f MB in memory fits (%s); the fact "
                 "input's size is not known", dim_name, way, mb(p->dim_memory), room);
        return;
    }
    snprintf(buf, size, "join '%s': %s: copies to %d rank%s %.1f MB %s moving fact rows "
             "%.1f MB (%.0f%% of %.1f MB projected); about %.1f MB in memory fits (%s)",
             dim_name, way, in->nranks - 1, in->nranks == 2 ? "" : "s", mb(p->broadcast_bytes),
             p->partitioned ? ">" : "<=", mb(p->shuffle_bytes), in->fact_fraction * 100.0,
             mb(in->fact_bytes), mb(p->dim_memory), room);
}
