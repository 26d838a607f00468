/* flatten_internal.h - the state of one `shardflow flatten` / `schema`,
 * shared by the files of that driver only.
 *
 *   flatten.c        the lines of both passes, the schema pass, the
 *                    schema printout, manifest, summary, commit, entry
 *   flatten_plan.c   inputs, staging, feeds and spools, chunks, the scan
 *   flatten_opts.c   usage texts and options
 *   flatten_write.c  the write pass: partition keys, part files through
 *                    io/table_writer, --single-file assembly
 *   flatten_spool.c  the schema pass's rows kept for the write pass (plain
 *                    inputs), so each line is decoded and flattened once
 *
 * Phase functions are collective over F->comm and end in an agreement
 * (sf_mpi_agree): they return 0, or -1 once a failure has been agreed on
 * and printed.
 */
#ifndef SF_FLATTEN_INTERNAL_H
#define SF_FLATTEN_INTERNAL_H

#include <mpi.h>
#include <stdint.h>

#include "cli/run.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/expr.h"
#include "core/flatten.h"
#include "core/hash.h"
#include "core/pipeline.h"
#include "io/badrec.h"
#include "io/h5file.h"
#include "io/manifest.h"
#include "io/parquet.h"
#include "io/table_writer.h"
#include "mpi/collective.h"
#include "mpi/lifecycle.h"
#include "mpi/scan.h"

#define MAX_INPUTS 64
#define MAX_PARTITION 16

typedef struct fl_opts {
    const char *inputs[MAX_INPUTS];
    int ninputs;
    const char *output;
    sf_flatten_opts fo;
    const char *explode[SF_FLATTEN_MAX_EXPLODE];
    int single_file;
    const char *partition[MAX_PARTITION];
    int npartition;
    const char *format;
    const char *compression;
    const char *ddl;
    const char *table;
    int jobspec;     /* schema --format jobspec */
    sf_run_opts run; /* write mode, claim timeout, chunk size, schedule, max line,
                      * progress, quiet */
} fl_opts;

/* Counts of one rank (summed on rank 0): all uint64_t, reduced as an array. */
typedef struct fl_counts {
    uint64_t lines_read;
    uint64_t blank_lines;
    uint64_t rows_rejected;
    uint64_t records;
    uint64_t rows;
    uint64_t duplicate_keys;
    uint64_t collisions;
    uint64_t bytes_scanned;
    uint64_t rejected_by_reason[SF_REJ_NREASONS];
} fl_counts;

/* A partition key: a column (written in the path, left out of the files)
 * or NAME=EXPR. */
typedef struct pspec {
    char *name;
    const char *text; /* the EXPR, or the column name */
    int col;          /* the column, or -1 */
    sf_expr *expr;
} pspec;

/* The rows one chunk left in this rank's row spool: bytes [from, to). */
typedef struct fl_spool_range {
    size_t chunk;
    uint64_t from, to;
} fl_spool_range;

/* A file open for the chunk being written. */
typedef struct part {
    char *rel;
    sf_table_writer *w; /* io/table_writer: CSV, HDF5 or Parquet */
    uint64_t rows;
} part;

typedef struct fl_text fl_text; /* flatten_textspool.c */

typedef struct fl {
    MPI_Comm comm;
    int rank, nranks;
    fl_opts *o;
    int schema_only;
    int h5;             /* fmt == SF_TABLE_HDF5 */
    sf_table_format fmt;
    sf_error err;
    double t0, tphase[4]; /* plan, schema, write, commit */
    sf_lifecycle life;  /* run id, inputs, staging, written files, commit */
    /* inputs (paths and sizes borrowed from life.inputs) */
    char **paths;
    uint64_t *sizes, *base;
    size_t nfiles;
    uint64_t total;
    sf_chunk *chunks;
    size_t nchunks;
    /* Inputs rank 0 feeds in blocks in the schema pass (mpi/scan.h): stdin,
     * FIFOs and compressed files. flatten spools each one's decoded bytes
     * under the staging directory, and the write pass reads that spool. */
    sf_scan_feed *feeds;
    size_t nfeeds;
    int32_t *codec;    /* per file, as rank 0 found it (0: plain) */
    char **read_paths; /* per file, what the write pass reads (borrowed, or a spool) */
    sf_chunk cur_c;    /* the chunk being scanned */
    size_t chunk_cap;  /* entries of chunk_lines */
    uint64_t chunk_size;
    int digits; /* of part numbers */
    /* output */
    sf_h5_options h5opt;
    sf_csv_options csvopt;    /* CSV compression (plain, gzip, zstd) */
    sf_parquet_options pqopt; /* codec, row groups, key-value metadata (pq_kv_*) */
    const char *pq_kv_keys[3], *pq_kv_values[3];
    /* passes */
    sf_flatten *eng;
    int pass;
    fl_counts c, all; /* this rank's (current pass), summed on rank 0 */
    fl_counts first;  /* this rank's schema-pass counts */
    int explode_seen[SF_FLATTEN_MAX_EXPLODE]; /* some rank's record held --explode path i */
    size_t nexplode_missing;                   /* paths no record held (likely typos) */
    /* bad lines (schema pass; cli/bad_lines) */
    sf_badrec_spill *spill; /* --mode permissive: this rank's bad lines */
    uint64_t cur_chunk, cur_line; /* the line's chunk and number in it */
    uint64_t *chunk_lines;        /* lines of each chunk (mine; 0 elsewhere) */
    uint64_t bad_written;         /* _bad_records lines (rank 0: all ranks') */
    int exit_code;                /* 2 for a bad input (failfast, --max-bad, all rejected) */
    sf_reject_sample samples[SF_MAX_SAMPLES], all_samples[SF_MAX_SAMPLES];
    size_t nsamples, nall_samples;
    /* the schema, in header order (all ranks) */
    size_t ncols;
    const char **names;
    sf_type *types;
    uint64_t *nonnull;
    /* the write pass */
    int *fcols; /* columns written to files */
    size_t nfcols;
    const char **fnames;
    sf_type *ftypes;
    pspec ps[MAX_PARTITION];
    size_t nps;
    int *prefs; /* columns partition keys read */
    size_t nprefs;
    sf_value *dense, *typedrow, pvals[MAX_PARTITION]; /* dense: the row, typed */
    sf_arena scratch;
    sf_buf dir;
    size_t chunk; /* being written */
    part *parts;
    size_t nparts, partcap;
    sf_hmap *partmap; /* partition path -> index in parts */
    /* the row spool (flatten_spool.c) */
    int spooling;        /* the schema pass keeps its rows; the write pass reads them */
    int spool_fd;        /* STAGING/_rows-RANK, or -1 */
    int spool_errno;     /* first failed write, reported by the replay */
    char *spool_path;
    sf_buf spool_out;    /* encoded rows not yet written */
    uint64_t spool_bytes; /* bytes written to the file */
    fl_spool_range *spool_chunks;
    size_t nspool_chunks, spool_chunkcap;
    uint32_t *spool_map; /* schema-pass column id -> header position */
    size_t spool_ncols;
    int spool_text;      /* cells kept as CSV text (flatten_textspool.c) */
    fl_text *text;       /* its state */
    uint64_t *piece; /* --single-file: bytes of each chunk's piece (0 unless mine); for
                        Parquet the bytes of its row groups (sf_parquet_piece_range) */
} fl;


/* Collective: agrees on rc (mpi/collective.h); 1 if any rank failed. */
static inline int sf_fl_agree(fl *F, int rc, int same_everywhere)
{
    return sf_mpi_agree(F->comm, rc, same_everywhere, &F->err);
}

static inline int sf_fl_nomem(fl *F) { return sf_error_set(&F->err, SF_E_NOMEM, "out of memory"); }

/* flatten_opts.c: parses argv (without the command). Returns 0 or 2 after a
 * usage error (printed on rank 0). */
int sf_fl_parse_opts(int argc, char **argv, const char *usage, int schema, fl_opts *o);

/* flatten.c: the scan sink's line callbacks (both passes). */
int sf_fl_on_line(void *ctx, const char *line, size_t len, int file, uint64_t offset);
int sf_fl_on_too_long(void *ctx, int file, uint64_t offset, const char *msg);

/* flatten_plan.c */
/* Rank 0 expands the inputs and stages the output; every rank learns the
 * files, the staging paths, the chunks and the feeds. Collective: 0 or -1
 * (agreed). */
int sf_fl_plan(fl *F);
/* Before the write pass: closes the spools and cuts every input again as a
 * plain file (a fed one's spool at its decoded size). Every rank. Returns 0
 * or SF_E_* (to agree on). */
int sf_fl_plan_write(fl *F);
/* One scan of every chunk (the schema pass also reads the feeds, and the
 * chunks become the planned ones and the feeds' blocks). Collective. */
int sf_fl_scan(fl *F, sf_scan_sink *sink);
/* Makes chunk_lines hold n entries. Returns 0 or SF_E_NOMEM. */
int sf_fl_grow_chunk_lines(fl *F, size_t n);
/* Rank 0, after the write pass: removes the spools (before the commit
 * moves the staging into place). A failure is a warning. */
void sf_fl_remove_spools(fl *F);
/* Frees what sf_fl_plan made for the feeds (closing a spool left open). */
void sf_fl_plan_free(fl *F);

/* flatten_write.c */
/* Writes the current record's rows to their part files. Not collective.
 * Returns 0 or SF_E_* with F->err set. */
int sf_fl_write_rows(fl *F);
/* Writes one row of nc cells (column ids are header positions; strings
 * borrowed for the call) to its part file of the current chunk. Values
 * typed into F->scratch stay until the caller resets it. Not collective.
 * Returns 0 or SF_E_* with F->err set. */
int sf_fl_write_row(fl *F, const sf_flatten_cell *cells, size_t nc);
/* The file of the current chunk for the partition path in F->dir ("" when
 * unpartitioned), opened on first use. Returns 0 or SF_E_* with F->err
 * set. */
int sf_fl_open_part(fl *F, part **out);
/* Closes the files of the chunk just written; returns rc, or the first
 * error closing them when rc is 0. Not collective. */
int sf_fl_close_parts(fl *F, int rc);
/* The whole write pass. Collective: 0 or -1 (agreed). */
int sf_fl_write_pass(fl *F);

/* flatten_spool.c (not collective; each rank has its own spool) */
/* Before the schema pass: creates this rank's spool unless the run is a
 * schema or has fed inputs (then F->spooling stays 0). Returns 0 or
 * SF_E_IO / SF_E_NOMEM. */
int sf_fl_spool_open(fl *F);
/* Appends the rows of the record just accepted. Returns 0 or SF_E_NOMEM
 * (a write error is kept for sf_fl_spool_replay). */
int sf_fl_spool_rows(fl *F);
/* Marks the begin (end 0) or end (end 1) of a chunk's rows. Returns 0 or
 * SF_E_NOMEM. */
int sf_fl_spool_chunk(fl *F, size_t chunk, int end);
/* With the merged dictionary in F->eng: maps every column of the schema
 * pass's engine local to its header position. Returns 0, SF_E_NOMEM or
 * SF_E_INTERNAL (a column the merge lost). */
int sf_fl_spool_map(fl *F, const sf_flatten *local);
/* The write pass: every chunk of the spool through sf_fl_write_row, its
 * files closed at its end; counts F->c.rows. Returns 0 or SF_E_*. */
int sf_fl_spool_replay(fl *F);
/* Closes and removes the spool and frees its state; safe to call twice. */
void sf_fl_spool_free(fl *F);

/* The spool's malformed bytes: sets F->err, returns SF_E_INTERNAL. */
int sf_fl_spool_corrupt(fl *F);

/* Room for a LEB128 number at o: at most 10 bytes. Returns the byte after. */
static inline unsigned char *sf_fl_put_leb(unsigned char *o, uint64_t n)
{
    while (n >= 0x80) {
        *o++ = (unsigned char)(n | 0x80);
        n >>= 7;
    }
    *o++ = (unsigned char)n;
    return o;
}

/* flatten_textspool.c (not collective): the spool of a CSV output without
 * partition keys, cells as CSV text. */
#define SF_FL_TEXT_HEAD 8 /* a row's head: byte length, cells */
/* sf_fl_spool_rows for it. Returns 0, SF_E_NOMEM or SF_E_LIMIT. */
int sf_fl_text_rows(fl *F);
/* Writes one row (nc cells in p[0..end)) to its part file. Returns 0 or
 * SF_E_* with F->err set. */
int sf_fl_text_write_row(fl *F, const unsigned char *p, const unsigned char *end, uint32_t nc);
/* Frees its state; safe to call twice. */
void sf_fl_text_free(fl *F);

/* schema_jobspec.c */
/* Rank 0, after the schema pass: prints the draft job spec of schema
 * --format jobspec on stdout (checked with the spec loader first). Returns
 * 0, 2 when no column can be named in a spec, or 1 (out of memory, or a
 * draft the loader refuses), with the message on stderr. */
int sf_fl_print_jobspec(fl *F);
/* Closes what the write pass left open and frees its state. */
void sf_fl_write_free(fl *F);

#endif
