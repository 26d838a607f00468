/* flatten.c - `shardflow flatten` and `shardflow schema` (see flatten.h).
 *
 * Phases, each ending with agree() (an MPI_Allreduce of the status) so a
 * failure anywhere stops every rank at the same point and rank 0 removes
 * what was staged:
 *  1. plan (flatten_plan.c; rank 0, broadcast; mpi/lifecycle): expand the
 *     inputs, stage the output; compressed inputs and streams become feeds
 *     rank 0 deals out in blocks, spooled for the write pass;
 *  2. schema pass: every owned line through a core/flatten engine; the
 *     engines' column dictionaries are gathered and merged on rank 0, which
 *     orders them by first appearance (record position in the input, then
 *     place in the record) and broadcasts the result;
 *  3. write pass (flatten_write.c): the inputs again (a feed's spool as a
 *     plain file) through an engine seeded with that
 *     dictionary, so a column id is its place in the header; chunk k's rows
 *     go to part-k (input order within and across parts), or to
 *     DIR/part-k per partition value, or (--single-file) to a headerless
 *     piece that is then copied in place at its offset (an exclusive sum of
 *     the pieces' sizes in chunk order) by the rank that wrote it;
 *  4. commit (rank 0): the accounting is checked (lines read = records +
 *     rejected + blank, and the write pass saw what the schema pass saw),
 *     then _MANIFEST.json and _SUCCESS as for jobs.
 * Values are written as their column's inferred type, in CSV and HDF5
 * alike (an int64 in a double column becomes a double, any value in a string
 * column its CSV text), so both formats hold the same typed table and
 * `shardflow cat` prints them the same.
 */
#include "cli/flatten.h"
#include "cli/flatten_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/bad_lines.h"
#include "cli/options.h"
#include "core/rejmsg.h"
#include "core/decode.h"
#include "io/badrec.h"
#include "io/decompress.h"
#include "io/fsutil.h"

/* ---- agreement ---- */

static int agree(fl *F, int rc, int same_everywhere) { return sf_fl_agree(F, rc, same_everywhere); }

static int nomem(fl *F) { return sf_fl_nomem(F); }

/* ---- lines (both passes) ---- */

/* The lines of file before the current line (at offset): a feed's block
 * knows its file's lines before it; a plain file is counted. Returns 1, or
 * 0 when they cannot be counted. */
static int line_before(fl *F, int file, uint64_t offset, uint64_t *before)
{
    sf_error e;
    if (F->cur_c.kind != SF_CHUNK_RANGE) {
        *before = F->cur_c.lines_before + F->cur_line - 1;
        return 1;
    }
    return sf_count_lines_before(F->read_paths[file], offset, before, &e) == 0;
}

/* A rejected line: counted; in the schema pass also sampled, and handled as
 * --mode says (spilled for _bad_records, only counted, or the end of the
 * flatten with FILE:LINE:COLUMN). Returns 0 or SF_E_* with F->err set. */
static int reject(fl *F, int file, uint64_t offset, int reason, const char *msg,
                  const char *text, size_t len)
{
    F->c.rows_rejected++;
    F->c.rejected_by_reason[reason]++;
    if (F->pass != 1)
        return 0;
    if (!F->schema_only && F->o->run.mode == SF_MODE_FAILFAST) {
        uint64_t before = 0;
        char place[sizeof F->err.msg];
        int counted = line_before(F, file, offset, &before);
        sf_rejmsg_place(place, sizeof place, F->paths[file], counted ? before + 1 : 0, offset,
                        msg, "--mode failfast");
        F->exit_code = 2;
        return sf_error_set(&F->err, SF_E_PARSE, "%s", place);
    }
    if (!F->schema_only && F->o->run.mode == SF_MODE_PERMISSIVE) {
        int rc = sf_bad_spill(&F->spill, F->life.stage.tmpdir, F->rank, F->cur_chunk,
                              F->cur_line, file, offset, sf_reject_reason_name(reason), msg,
                              text, len, &F->err);
        if (rc)
            return rc;
    }
    sf_reject_sample s;
    s.file = file;
    s.reason = reason;
    s.offset = offset;
    snprintf(s.msg, sizeof s.msg, "%s", msg);
    sf_samples_insert(F->samples, &F->nsamples, &s);
    return 0;
}

int sf_fl_on_line(void *ctx, const char *line, size_t len, int file, uint64_t offset)
{
    fl *F = ctx;
    F->c.lines_read++;
    F->cur_line++;
    if (len == 0) {
        F->c.blank_lines++;
        return 0;
    }
    char msg[240];
    int rc = sf_flatten_record(F->eng, line, len, F->base[file] + offset, msg, sizeof msg);
    if (rc < 0)
        return sf_error_set(&F->err, rc, "%s: byte %llu: out of memory flattening a line",
                            F->paths[file], (unsigned long long)offset);
    if (rc == 1 + SF_REJ_TOO_MANY_ROWS) {
        /* An unintended explosion: stop, naming the line. */
        uint64_t before = 0;
        uint64_t lineno = line_before(F, file, offset, &before) ? before + 1 : 0; /* 0: "path:?" */
        char place[sizeof F->err.msg];
        sf_rejmsg_place(place, sizeof place, F->paths[file], lineno, offset, msg, NULL);
        return sf_error_set(&F->err, SF_E_LIMIT, "%s", place);
    }
    if (rc > 0)
        return reject(F, file, offset, rc - 1, msg, line, len);
    F->c.records++;
    F->c.rows += sf_flatten_nrows(F->eng);
    if (F->pass == 2)
        return sf_fl_write_rows(F);
    return F->spooling ? sf_fl_spool_rows(F) : 0;
}

int sf_fl_on_too_long(void *ctx, int file, uint64_t offset, const char *msg)
{
    fl *F = ctx;
    F->c.lines_read++;
    F->cur_line++;
    return reject(F, file, offset, SF_REJ_LINE_TOO_LONG, msg, "", 0);
}

static int on_chunk_begin_schema(void *ctx, size_t chunk, const sf_chunk *c)
{
    fl *F = ctx;
    F->cur_chunk = chunk;
    F->cur_c = *c;
    F->cur_line = 0;
    if (F->spooling && sf_fl_spool_chunk(F, chunk, 0) != 0)
        return SF_E_NOMEM;
    return sf_fl_grow_chunk_lines(F, chunk + 1);
}

static int on_chunk_end_schema(void *ctx, size_t chunk, const sf_chunk *c, uint64_t bytes)
{
    fl *F = ctx;
    /* A feed's decoded bytes are counted once, on rank 0, after the scan. */
    if (c->kind == SF_CHUNK_RANGE)
        F->c.bytes_scanned += bytes;
    F->chunk_lines[chunk] = F->cur_line;
    return F->spooling ? sf_fl_spool_chunk(F, chunk, 1) : 0;
}

static int new_engine(fl *F)
{
    sf_flatten_free(F->eng);
    F->eng = NULL;
    return sf_flatten_new(&F->o->fo, &F->eng, &F->err);
}

/* ---- the schema pass ---- */

static int merge_columns(fl *F)
{
    sf_buf mine = SF_BUF_INIT, final = SF_BUF_INIT;
    int rc = sf_flatten_columns_encode(F->eng, &mine) ? nomem(F) : 0;
    size_t total = 0;
    unsigned char *all = sf_mpi_gather_bytes(F->comm, mine.p, rc ? 0 : mine.n, &total);
    sf_buf_free(&mine);
    if (F->rank == 0 && !rc) {
        /* Merge every rank's dictionary, then re-add the columns in their
         * final order, so column ids are header positions. */
        sf_flatten *m = NULL, *ordered = NULL;
        uint32_t *order = NULL;
        rc = sf_flatten_new(&F->o->fo, &m, &F->err);
        if (!rc)
            rc = sf_flatten_new(&F->o->fo, &ordered, &F->err);
        if (!rc && sf_flatten_columns_merge(m, all, total) != 0)
            rc = sf_error_set(&F->err, SF_E_INTERNAL, "cannot merge the column dictionaries");
        size_t n = rc ? 0 : sf_flatten_ncolumns(m);
        order = malloc((n ? n : 1) * sizeof *order);
        if (!rc && (!order || sf_flatten_columns_order(m, order) != 0))
            rc = nomem(F);
        for (size_t i = 0; i < n && !rc; i++) {
            sf_flatten_column c;
            sf_flatten_column_get(m, order[i], &c);
            if (sf_flatten_column_add(ordered, &c, NULL) != 0)
                rc = nomem(F);
        }
        if (!rc && sf_flatten_columns_encode(ordered, &final) != 0)
            rc = nomem(F);
        free(order);
        sf_flatten_free(m);
        sf_flatten_free(ordered);
    }
    free(all);
    if (F->rank == 0 && !rc && sf_buf_reserve(&final, 1) != 0)
        rc = nomem(F); /* bcast_bytes() terminates the buffer in place */
    int64_t len = rc ? -1 : (int64_t)final.n;
    if (F->rank != 0)
        len = 0;
    char *bytes = sf_mpi_bcast_bytes(F->comm, (char *)final.p, &len);
    if (F->rank == 0)
        final.p = NULL;
    sf_buf_free(&final);
    if (!bytes)
        return rc ? rc : sf_error_set(&F->err, SF_E_INTERNAL, "rank 0 could not merge the schema");
    /* The write pass's engine starts with the final dictionary (the
     * spool's rows are mapped to it from this rank's own). */
    sf_flatten *local = F->eng;
    F->eng = NULL;
    rc = new_engine(F);
    if (!rc && sf_flatten_columns_merge(F->eng, (const unsigned char *)bytes, (size_t)len) != 0)
        rc = nomem(F);
    if (!rc && F->spooling)
        rc = sf_fl_spool_map(F, local);
    sf_flatten_free(local);
    free(bytes);
    if (rc)
        return rc;
    F->ncols = sf_flatten_ncolumns(F->eng);
    F->names = calloc(F->ncols + 1, sizeof *F->names);
    F->types = calloc(F->ncols + 1, sizeof *F->types);
    F->nonnull = calloc(F->ncols + 1, sizeof *F->nonnull);
    if (!F->names || !F->types || !F->nonnull)
        return nomem(F);
    for (size_t i = 0; i < F->ncols; i++) {
        sf_flatten_column c;
        sf_flatten_column_get(F->eng, (uint32_t)i, &c);
        F->names[i] = c.name;
        F->types[i] = c.type == SF_NULL ? SF_STRING : c.type;
        F->nonnull[i] = c.nonnull;
    }
    return 0;
}

/* Sums the counts (and merges the samples) of every rank on rank 0. */
static void gather_counts(fl *F, int samples)
{
    memset(&F->all, 0, sizeof F->all);
    MPI_Reduce(&F->c, &F->all, sizeof F->c / sizeof(uint64_t), MPI_UINT64_T, MPI_SUM, 0,
               F->comm);
    if (!samples)
        return;
    size_t total = 0;
    sf_reject_sample *all = sf_mpi_gather_bytes(F->comm, F->samples,
                                                F->nsamples * sizeof *F->samples, &total);
    for (size_t i = 0; all && i < total / sizeof *all; i++)
        sf_samples_insert(F->all_samples, &F->nall_samples, &all[i]);
    free(all);
}

/* After the schema pass of a flatten: never a silent empty success (every
 * line that was not blank rejected), --max-bad, then (permissive) the
 * spills become _bad_records/part-RANK.jsonl (cli/bad_lines). Collective:
 * 0 or -1 (agreed). */
static int bad_lines(fl *F)
{
    sf_bad_counts mine = {F->c.rows_rejected, F->c.lines_read, F->c.blank_lines,
                          F->c.rejected_by_reason};
    if (sf_bad_all_rejected(F->comm, &mine, F->samples, F->nsamples,
                            (const char *const *)F->paths, &F->err) ||
        sf_bad_over_limit(F->comm, &F->o->run, F->c.rows_rejected, F->c.lines_read, &F->err)) {
        F->exit_code = 2;
        agree(F, F->err.code ? F->err.code : SF_E_PARSE, 1);
        return -1;
    }
    uint64_t count = 0;
    int rc = sf_bad_write_records(F->comm, F->rank, &F->spill, F->chunks, F->nchunks,
                                  F->chunk_lines, NULL, (const char *const *)F->paths,
                                  F->life.stage.tmpdir, &count, &F->err);
    MPI_Reduce(&count, &F->bad_written, 1, MPI_UINT64_T, MPI_SUM, 0, F->comm);
    return agree(F, rc, 0) ? -1 : 0;
}

static int schema_pass(fl *F)
{
    F->pass = 1;
    memset(&F->c, 0, sizeof F->c);
    int rc = new_engine(F);
    if (agree(F, rc, 1))
        return -1;
    rc = sf_fl_grow_chunk_lines(F, F->nchunks ? F->nchunks : 1);
    if (!rc)
        rc = sf_fl_spool_open(F);
    if (agree(F, rc, 0))
        return -1;
    sf_scan_sink sink = {sf_fl_on_line, sf_fl_on_too_long, on_chunk_begin_schema,
                         on_chunk_end_schema, F, NULL};
    rc = sf_fl_scan(F, &sink);
    if (agree(F, rc, 0))
        return -1;
    if (!F->schema_only && bad_lines(F) != 0)
        return -1;
    const sf_flatten_stats *st = sf_flatten_get_stats(F->eng);
    F->c.duplicate_keys = st->duplicate_keys;
    F->c.collisions = st->collisions;
    F->first = F->c;
    gather_counts(F, 1);
    /* An --explode path no record holds is likely a typo: said in the
     * summary and the manifest. */
    size_t ne = F->o->fo.nexplode;
    for (size_t i = 0; i < ne; i++)
        F->explode_seen[i] = sf_flatten_explode_seen(F->eng, i);
    if (ne)
        MPI_Allreduce(MPI_IN_PLACE, F->explode_seen, (int)ne, MPI_INT, MPI_MAX, F->comm);
    for (size_t i = 0; i < ne; i++)
        F->nexplode_missing += !F->explode_seen[i];
    rc = merge_columns(F);
    return agree(F, rc, 0) ? -1 : 0;
}

/* ---- schema output ---- */

static const char *sql_type(sf_type t, const char *ddl)
{
    int pg = strcmp(ddl, "postgres") == 0, sf = strcmp(ddl, "snowflake") == 0;
    switch (t) {
    case SF_BOOL: return pg ? "boolean" : "BOOLEAN";
    case SF_INT: return pg ? "bigint" : sf ? "NUMBER(19,0)" : "BIGINT";
    case SF_DOUBLE: return pg ? "double precision" : sf ? "FLOAT" : "DOUBLE";
    default: return pg ? "text" : "VARCHAR";
    }
}

/* Prints s as a double-quoted SQL identifier. */
static void print_ident(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_schema(fl *F)
{
    uint64_t rows = F->all.rows;
    if (!F->o->ddl) {
        size_t w = 6;
        for (size_t i = 0; i < F->ncols; i++)
            w = strlen(F->names[i]) > w ? strlen(F->names[i]) : w;
        printf("%-*s  %-7s  %12s  %s\n", (int)w, "column", "type", "non-null", "nullable");
        for (size_t i = 0; i < F->ncols; i++)
            printf("%-*s  %-7s  %12llu  %s\n", (int)w, F->names[i], sf_type_name(F->types[i]),
                   (unsigned long long)F->nonnull[i], F->nonnull[i] < rows ? "yes" : "no");
        printf("(%zu columns; %llu rows from %llu records, %llu lines rejected)\n", F->ncols,
               (unsigned long long)rows, (unsigned long long)F->all.records,
               (unsigned long long)F->all.rows_rejected);
        return;
    }
    char table[256];
    if (F->o->table) {
        snprintf(table, sizeof table, "%s", F->o->table);
    } else {
        const char *b = strrchr(F->o->inputs[0], '/');
        snprintf(table, sizeof table, "%s",
                 strcmp(F->o->inputs[0], "-") == 0 ? "stdin" : b ? b + 1 : F->o->inputs[0]);
        char *dot = strchr(table, '.');
        if (dot && dot != table)
            *dot = '\0';
    }
    printf("CREATE TABLE ");
    print_ident(table);
    printf(" (\n");
    for (size_t i = 0; i < F->ncols; i++) {
        printf("    ");
        print_ident(F->names[i]);
        printf(" %s%s%s\n", sql_type(F->types[i], F->o->ddl),
               F->nonnull[i] == rows && rows > 0 ? " NOT NULL" : "", i + 1 < F->ncols ? "," : "");
    }
    printf(");\n");
}

/* ---- manifest and commit ---- */

/* The warning for an --explode path no record holds. */
static void explode_warning(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "--explode %s: no record holds this path (a typo?); nothing was "
             "exploded there", path);
}

/* Prints the warnings (rank 0) to stderr, indented under a summary or
 * after a schema. */
static void print_warnings(fl *F)
{
    for (size_t i = 0; i < F->o->fo.nexplode; i++) {
        char w[512];
        if (F->explode_seen[i])
            continue;
        explode_warning(w, sizeof w, F->o->fo.explode[i]);
        fprintf(stderr, "  warning: %s\n", w);
    }
}


static int build_manifest(fl *F, sf_out_file *files, size_t nfiles, const uint64_t *rss,
                          double wall, sf_buf *m)
{
    const fl_counts *c = &F->all;
    const sf_flatten_opts *fo = &F->o->fo;
    uint64_t out_rows = 0, out_bytes = 0;
    for (size_t i = 0; i < nfiles; i++) {
        out_rows += files[i].rows;
        out_bytes += files[i].bytes;
    }
    int rc = sf_manifest_begin(m, "command", "flatten", F->life.runid, F->nranks,
                               F->o->run.scan.schedule == SF_SCHED_STATIC ? "static" : "dynamic");
    rc |= sf_buf_printf(m, ",\n  \"chunk_size\": %llu,\n  \"status\": \"committed\",\n"
                        "  \"inputs\": [", (unsigned long long)F->chunk_size);
    for (size_t i = 0; i < F->nfiles; i++) {
        /* A fed input: the bytes read (compressed if it was), and decoded. */
        uint64_t bytes = F->sizes[i], ubytes = F->sizes[i];
        int32_t codec = F->codec[i];
        for (size_t k = 0; k < F->nfeeds; k++) {
            if (F->feeds[k].file == (int32_t)i) {
                bytes = F->feeds[k].cbytes;
                codec = F->feeds[k].codec;
            }
        }
        rc |= sf_buf_printf(m, "%s\n    {\"path\": ", i ? "," : "");
        rc |= sf_buf_json_string(m, F->paths[i], strlen(F->paths[i]));
        rc |= sf_buf_printf(m, ", \"bytes\": %llu, \"codec\": \"%s\", \"uncompressed_bytes\": "
                            "%llu}", (unsigned long long)bytes,
                            sf_codec_name((sf_codec)codec),
                            (unsigned long long)ubytes);
    }
    rc |= sf_buf_printf(m, "\n  ],\n  \"flatten\": {\"sep\": ");
    rc |= sf_buf_json_string(m, fo->sep, strlen(fo->sep));
    rc |= sf_buf_printf(m, ", \"lists\": \"%s\", \"join_sep\": ", sf_lists_policy_name(fo->lists));
    rc |= sf_buf_json_string(m, fo->join_sep, strlen(fo->join_sep));
    rc |= sf_buf_printf(m, ", \"explode\": ");
    rc |= sf_manifest_strings(m, fo->explode, fo->nexplode);
    if (fo->max_depth >= 0)
        rc |= sf_buf_printf(m, ", \"max_depth\": %d", fo->max_depth);
    else
        rc |= sf_buf_printf(m, ", \"max_depth\": null");
    rc |= sf_buf_printf(m, ", \"max_rows_per_record\": %llu, \"on_collision\": \"%s\"},\n",
                        (unsigned long long)fo->max_rows,
                        sf_collision_policy_name(fo->on_collision));
    rc |= sf_buf_printf(m, "  \"mode\": \"%s\",\n  \"bad_records\": %llu,\n",
                        F->o->run.mode == SF_MODE_FAILFAST        ? "failfast"
                        : F->o->run.mode == SF_MODE_DROPMALFORMED ? "dropmalformed"
                                                                  : "permissive",
                        (unsigned long long)F->bad_written);
    rc |= sf_buf_printf(m, "  \"warnings\": [");
    for (size_t i = 0, k = 0; i < fo->nexplode; i++) {
        char w[512];
        if (F->explode_seen[i])
            continue;
        explode_warning(w, sizeof w, fo->explode[i]);
        rc |= sf_buf_printf(m, "%s", k++ ? ", " : "");
        rc |= sf_buf_json_string(m, w, strlen(w));
    }
    rc |= sf_buf_printf(m, "],\n");
    const char *pnames[MAX_PARTITION];
    for (size_t k = 0; k < F->nps; k++)
        pnames[k] = F->ps[k].name;
    rc |= sf_buf_printf(m, "  \"output\": {\"format\": \"%s\", \"layout\": \"%s\", "
                        "\"order\": \"input\", \"partition_by\": ", F->fmt == SF_TABLE_PARQUET ? "parquet" : F->h5 ? "hdf5" : "csv",
                        F->o->single_file ? "single" : "hive");
    rc |= sf_manifest_strings(m, pnames, F->nps);
    rc |= sf_buf_printf(m, ",\n    \"columns\": [");
    for (size_t i = 0; i < F->nfcols; i++) {
        rc |= sf_buf_printf(m, "%s{\"name\": ", i ? ", " : "");
        rc |= sf_buf_json_string(m, F->fnames[i], strlen(F->fnames[i]));
        rc |= sf_buf_printf(m, ", \"type\": \"%s\"}", sf_type_name(F->ftypes[i]));
    }
    rc |= sf_buf_printf(m, "]},\n  \"counts\": {\n    \"lines_read\": %llu,\n"
                        "    \"blank_lines\": %llu,\n    \"rows_rejected\": %llu,\n"
                        "    \"records\": %llu,\n    \"rows\": %llu,\n"
                        "    \"rows_exploded\": %llu,\n    \"duplicate_keys\": %llu,\n"
                        "    \"collisions\": %llu,\n    \"output_rows\": %llu,\n"
                        "    \"rejected_by_reason\": ",
                        (unsigned long long)c->lines_read, (unsigned long long)c->blank_lines,
                        (unsigned long long)c->rows_rejected, (unsigned long long)c->records,
                        (unsigned long long)c->rows,
                        (unsigned long long)(c->rows - c->records),
                        (unsigned long long)c->duplicate_keys, (unsigned long long)c->collisions,
                        (unsigned long long)out_rows);
    rc |= sf_manifest_reasons(m, c->rejected_by_reason);
    rc |= sf_buf_printf(m, "\n  },\n  \"rejected_samples\": ");
    rc |= sf_manifest_samples(m, F->all_samples, F->nall_samples,
                              (const char *const *)F->paths);
    rc |= sf_buf_printf(m, ",\n  \"files\": ");
    rc |= sf_manifest_files(m, files, nfiles, F->life.runid);
    rc |= sf_buf_printf(m, ",\n  \"output_bytes\": %llu,\n  \"bytes_scanned\": %llu,\n"
                        "  \"phases_seconds\": {\"plan\": %.6f, \"schema\": %.6f, "
                        "\"write\": %.6f, \"commit\": %.6f},\n  \"wall_seconds\": %.6f,\n"
                        "  \"peak_rss_bytes\": [",
                        (unsigned long long)out_bytes,
                        (unsigned long long)c->bytes_scanned, F->tphase[0], F->tphase[1],
                        F->tphase[2], F->tphase[3], wall);
    rc |= sf_manifest_u64s(m, rss, (size_t)F->nranks);
    rc |= sf_buf_printf(m, "]\n}\n");
    return rc ? SF_E_NOMEM : 0;
}

static void print_summary(fl *F, size_t nfiles, uint64_t rows, const uint64_t *rss, double wall)
{
    const fl_counts *c = &F->all;
    uint64_t maxrss = 0;
    for (int r = 0; r < F->nranks; r++)
        maxrss = rss[r] > maxrss ? rss[r] : maxrss;
    double mb = (double)c->bytes_scanned / 1e6;
    fprintf(stderr, "shardflow: flatten: %llu lines, %.1f MB in %.2f s on %d rank%s "
            "(%.1f MB/s, %s)\n", (unsigned long long)c->lines_read, mb, wall, F->nranks,
            F->nranks == 1 ? "" : "s", wall > 0 ? mb / wall : 0,
            F->spooling ? "parsed once, rows kept for the write pass" : "two passes");
    fprintf(stderr, "  lines read %llu = records %llu + rejected %llu + blank %llu\n",
            (unsigned long long)c->lines_read, (unsigned long long)c->records,
            (unsigned long long)c->rows_rejected, (unsigned long long)c->blank_lines);
    fprintf(stderr, "  rows %llu (%llu from explode), %zu columns, %llu duplicate keys, "
            "%llu collisions resolved\n", (unsigned long long)rows,
            (unsigned long long)(c->rows - c->records), F->nfcols,
            (unsigned long long)c->duplicate_keys, (unsigned long long)c->collisions);
    for (size_t i = 0; i < F->nall_samples && i < 3; i++)
        fprintf(stderr, "  rejected: %s: byte %llu: %s\n", F->paths[F->all_samples[i].file],
                (unsigned long long)F->all_samples[i].offset, F->all_samples[i].msg);
    if (F->bad_written)
        fprintf(stderr, "  bad lines: %llu in %s/_bad_records/\n",
                (unsigned long long)F->bad_written, F->o->output);
    print_warnings(F);
    fprintf(stderr, "  phases: plan %.2f s, schema %.2f s, write %.2f s, commit %.2f s; peak RSS "
            "per rank %.1f MiB (max)\n", F->tphase[0], F->tphase[1], F->tphase[2], F->tphase[3],
            (double)maxrss / 1048576.0);
    fprintf(stderr, "  output: %s (%zu file%s)\n", F->life.stage.out, nfiles, nfiles == 1 ? "" : "s");
    sf_life_say_merged(&F->life);
}

static int finish(fl *F)
{
    double t = MPI_Wtime();
    /* The write pass must have seen what the schema pass saw. */
    gather_counts(F, 0);
    fl_counts second = F->all;
    F->c = F->first;
    gather_counts(F, 0);
    size_t nfiles = 0;
    uint64_t *rss = NULL;
    sf_out_file *files = sf_life_gather(&F->life, &nfiles, &rss);
    int rc = 0;
    if (F->rank == 0) {
        const fl_counts *c = &F->all;
        uint64_t rows = 0;
        for (size_t i = 0; i < nfiles; i++)
            rows += files[i].rows;
        if (F->o->single_file && nfiles == 1)
            files[0].rows = rows = c->rows;
        if (!rss)
            rc = nomem(F);
        else if (c->lines_read != c->records + c->rows_rejected + c->blank_lines)
            rc = sf_error_set(&F->err, SF_E_INTERNAL, "internal error: line accounting does not "
                              "add up (read %llu)", (unsigned long long)c->lines_read);
        else if (c->bytes_scanned != F->total || second.bytes_scanned != F->total)
            rc = sf_error_set(&F->err, SF_E_INTERNAL, "scanned %llu bytes of %llu (did the input "
                              "change during the run?)", (unsigned long long)c->bytes_scanned,
                              (unsigned long long)F->total);
        else if (second.lines_read != c->lines_read || second.rows != c->rows ||
                 second.rows_rejected != c->rows_rejected || rows != c->rows)
            rc = sf_error_set(&F->err, SF_E_INTERNAL, "the write pass read %llu lines and wrote "
                              "%llu rows, the schema pass %llu and %llu: did the input change "
                              "during the run?", (unsigned long long)second.lines_read,
                              (unsigned long long)rows, (unsigned long long)c->lines_read,
                              (unsigned long long)c->rows);
        sf_buf m = SF_BUF_INIT;
        F->tphase[3] = MPI_Wtime() - t;
        double wall = MPI_Wtime() - F->t0;
        if (!rc && build_manifest(F, files, nfiles, rss, wall, &m) != 0)
            rc = nomem(F);
        if (!rc)
            rc = sf_life_commit(&F->life, NULL, &m, &F->err);
        sf_buf_free(&m);
        F->tphase[3] = MPI_Wtime() - t;
        if (!rc && !F->o->run.quiet)
            print_summary(F, nfiles, rows, rss, MPI_Wtime() - F->t0);
    }
    free(files);
    free(rss);
    if (agree(F, rc, 1))
        return -1;
    sf_life_drop_replaced(&F->life); /* committed: the output it replaced goes */
    return 0;
}

/* ---- entry points ---- */

static void fl_free(fl *F)
{
    sf_fl_plan_free(F);
    free(F->base);
    free(F->chunks);
    sf_flatten_free(F->eng);
    free(F->names);
    free(F->types);
    free(F->nonnull);
    free(F->chunk_lines);
    sf_badrec_discard(F->spill);
    sf_fl_write_free(F);
    sf_fl_spool_free(F);
}

static int run(fl *F)
{
    F->t0 = MPI_Wtime();
    {
        /* The engine options are checked once, before any file is touched. */
        sf_flatten *probe = NULL;
        int rc = sf_flatten_new(&F->o->fo, &probe, &F->err);
        sf_flatten_free(probe);
        if (rc) {
            if (F->rank == 0)
                fprintf(stderr, "shardflow: %s\n", F->err.msg);
            return 2;
        }
    }
    if (sf_fl_plan(F) != 0)
        return 1;
    F->tphase[0] = MPI_Wtime() - F->t0;
    double t = MPI_Wtime();
    if (schema_pass(F) != 0) {
        /* Every rank fails with the exit code of the rank that found why. */
        int code = F->exit_code;
        MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, F->comm);
        return code ? code : 1;
    }
    F->tphase[1] = MPI_Wtime() - t;
    if (F->schema_only) {
        if (F->rank == 0 && F->o->ddl && F->ncols == 0) {
            /* A CREATE TABLE with no column is not SQL any database takes. */
            fprintf(stderr, "shardflow: schema --ddl: the input has no columns (%llu lines "
                    "read: %llu records without a key, %llu rejected, %llu blank); nothing "
                    "to declare\n", (unsigned long long)F->all.lines_read,
                    (unsigned long long)F->all.records, (unsigned long long)F->all.rows_rejected,
                    (unsigned long long)F->all.blank_lines);
            if (F->nall_samples)
                fprintf(stderr, "  first rejected: %s: byte %llu: %s\n",
                        F->paths[F->all_samples[0].file],
                        (unsigned long long)F->all_samples[0].offset, F->all_samples[0].msg);
        }
        if (F->o->ddl && F->ncols == 0)
            return 2;
        int rc = 0;
        if (F->rank == 0) {
            if (F->o->jobspec)
                rc = sf_fl_print_jobspec(F);
            else
                print_schema(F);
            if (F->nexplode_missing)
                fprintf(stderr, "shardflow: schema:\n");
            print_warnings(F);
        }
        /* Every rank exits with rank 0's verdict on the draft. */
        MPI_Bcast(&rc, 1, MPI_INT, 0, F->comm);
        return rc;
    }
    uint64_t records = F->all.records;
    MPI_Bcast(&records, 1, MPI_UINT64_T, 0, F->comm);
    if (F->ncols == 0 && records > 0) {
        /* Records without a single field (all {}): a table of empty rows
         * is no result, and Parquet cannot even hold it. */
        if (F->rank == 0)
            fprintf(stderr, "shardflow: error: flatten: the input's %llu records have no fields "
                    "(every record is an empty object); nothing to write\n",
                    (unsigned long long)records);
        return 2;
    }
    t = MPI_Wtime();
    if (agree(F, sf_fl_plan_write(F), 1) || sf_fl_write_pass(F) != 0)
        return 1;
    sf_fl_remove_spools(F);
    F->tphase[2] = MPI_Wtime() - t;
    return finish(F) != 0 ? 1 : 0;
}

static int main_common(int argc, char **argv, int rank, int schema)
{
    const char *usage = schema ? sf_schema_usage : sf_flatten_usage;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            if (rank == 0)
                fputs(usage, stdout);
            return 0;
        }
    }
    fl_opts *o = calloc(1, sizeof *o);
    fl *F = calloc(1, sizeof *F);
    if (!o || !F) {
        free(o);
        free(F);
        fprintf(stderr, "shardflow: out of memory\n");
        return 1;
    }
    F->spool_fd = -1;
    sf_cli_set_quiet(rank != 0);
    int rc = sf_fl_parse_opts(argc, argv, usage, schema, o);
    if (rc == 0) {
        sf_life_init(&F->life, MPI_COMM_WORLD);
        F->comm = F->life.comm;
        F->rank = rank;
        F->nranks = F->life.nranks;
        F->o = o;
        F->schema_only = schema;
        F->fmt = SF_TABLE_CSV;
        sf_table_format_parse(o->format, &F->fmt); /* the options checked it */
        F->h5 = F->fmt == SF_TABLE_HDF5;
        sf_error_clear(&F->err);
        rc = run(F);
        fl_free(F);
        sf_life_end(&F->life, rc != 0, "flatten");
    }
    free(F);
    free(o);
    return rc;
}

int sf_flatten_check_args(int argc, char **argv, int schema)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            if (!sf_cli_is_quiet())
                fputs(schema ? sf_schema_usage : sf_flatten_usage, stdout);
            return -1;
        }
    }
    fl_opts *o = calloc(1, sizeof *o);
    if (!o)
        return 1;
    int rc = sf_fl_parse_opts(argc, argv, schema ? sf_schema_usage : sf_flatten_usage, schema, o);
    free(o);
    return rc;
}

int sf_flatten_main(int argc, char **argv, int rank) { return main_common(argc, argv, rank, 0); }

int sf_schema_main(int argc, char **argv, int rank) { return main_common(argc, argv, rank, 1); }

