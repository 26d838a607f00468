/* progress.h - the progress line rank 0 prints on stderr.
 *
 * Two ways to show it: on a terminal one line is rewritten in place ("\r",
 * padded over the previous text) and cleared when the phase ends; into a
 * file or a pipe (only with --progress) every update is a line of its own,
 * and the phase ends with a final line. Each phase or pass has a name
 * ("run: scan", "flatten: pass 1/2 schema"), and a line reads
 *
 *     run: scan: 74.6 / 114.1 MB (65%)  14.8 MB/s  ETA 3 s
 *
 * (MB done / total, rate and ETA only where the total is known; a phase
 * that counts rows, such as run's write, counts "rows" instead of MB).
 *
 * A terminal is found through the launcher too: under `mpirun` a rank's
 * stderr is a pipe to mpirun, so rank 0 also looks at the stderr of its
 * parent process when that parent is the launcher (mpirun, mpiexec,
 * orterun, prterun). That is the terminal the user sees, and "2> log" or
 * "|& tee" on mpirun's command line turn it off, as they should. (isatty(1)
 * says nothing: Open MPI gives every rank a pty for stdout. A rank 0 that
 * a remote orted started, or one under srun, sees no terminal; srun --pty
 * gives it one on stderr itself.)
 *
 * Nothing here is collective; only the rank that prints uses it.
 */
#ifndef SF_PROGRESS_H
#define SF_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SF_PROGRESS_OFF = 0,
    SF_PROGRESS_LINES, /* one line per update (a file or a pipe) */
    SF_PROGRESS_TTY    /* one line rewritten in place */
} sf_progress_mode;

/* 1 when what this process writes to stderr reaches a terminal: stderr is
 * one, or stderr is a pipe to an MPI launcher (the parent process, by its
 * name) whose own stderr is one. Linux (/proc); elsewhere only isatty(2). */
int sf_progress_stderr_is_terminal(void);

/* The mode for --progress (requested 1), --no-progress (0) or neither (-1):
 * a terminal gets SF_PROGRESS_TTY unless turned off; a file or pipe gets
 * lines only when asked for; a rank other than 0 gets nothing. */
sf_progress_mode sf_progress_pick(int requested, int rank);

typedef struct sf_progress {
    sf_progress_mode mode;
    char label[48];
    const char *unit; /* "MB" (bytes, the default) or "rows" */
    uint64_t total;   /* bytes (or rows) of the phase; 0 when unknown */
    double t0, last;  /* monotonic seconds: start, last print */
    double interval;  /* seconds between prints */
    size_t shown;     /* tty: width of the text on screen (0: none) */
} sf_progress;

/* Sets mode and label (copied, cut to fit) for the next phase, counted in
 * bytes; nothing is printed. p may be zeroed memory: SF_PROGRESS_OFF prints
 * nothing at all. */
void sf_progress_init(sf_progress *p, sf_progress_mode mode, const char *label);

/* The phase counts rows, not bytes (after sf_progress_init()). */
void sf_progress_count_rows(sf_progress *p);

/* Starts the phase: total bytes (0: unknown) and the clock. The interval is
 * 0.25 s on a terminal and 1 s for lines, or SHARDFLOW_PROGRESS_INTERVAL
 * seconds when that is set (tests use 0 to print every update). */
void sf_progress_start(sf_progress *p, uint64_t total);

/* done bytes so far: prints when the interval has passed since the last
 * print. p may be NULL. */
void sf_progress_update(sf_progress *p, uint64_t done);

/* Ends the phase: lines mode prints a final line (done of total, the time
 * taken), a terminal's line is cleared. p may be NULL. */
void sf_progress_end(sf_progress *p, uint64_t done);

/* The text of one update, without "\r" or "\n": "LABEL: D / T MB (P%)  R
 * MB/s  ETA E s", or "LABEL: D MB  R MB/s" without a total; final gives
 * "LABEL: T MB in S s (R MB/s)". unit NULL or "MB": done and total are
 * bytes, shown in MB; "rows": rows, shown one by one ("LABEL: D / T rows
 * (P%)  R rows/s  ETA E s"). Returns the length written (cut to cap-1). */
size_t sf_progress_format(char *buf, size_t cap, const char *label, const char *unit,
                          uint64_t done, uint64_t total, double elapsed, int final);

#endif
