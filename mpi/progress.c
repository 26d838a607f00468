/* progress.c - the progress line rank 0 prints on stderr (see progress.h). */
#include "mpi/progress.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 if the parent process is an MPI launcher whose stderr is a terminal. */
static int launcher_stderr_is_terminal(void)
{
    static const char *const launchers[] = {"mpirun", "mpiexec", "orterun", "prterun", NULL};
    char path[64], comm[64] = "";
    pid_t ppid = getppid();
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)ppid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(comm, sizeof comm, f))
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    int known = 0;
    for (int i = 0; launchers[i]; i++)
        known |= strcmp(comm, launchers[i]) == 0;
    if (!known)
        return 0;
    /* Only a character device can be a terminal; opening anything else
     * (a FIFO) through /proc could block or have effects. */
    snprintf(path, sizeof path, "/proc/%ld/fd/2", (long)ppid);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode))
        return 0;
    int fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int tty = isatty(fd);
    close(fd);
    return tty;
}

int sf_progress_stderr_is_terminal(void)
{
    return isatty(STDERR_FILENO) || launcher_stderr_is_terminal();
}

sf_progress_mode sf_progress_pick(int requested, int rank)
{
    if (rank != 0 || requested == 0)
        return SF_PROGRESS_OFF;
    if (sf_progress_stderr_is_terminal())
        return SF_PROGRESS_TTY;
    return requested > 0 ? SF_PROGRESS_LINES : SF_PROGRESS_OFF;
}

void sf_progress_init(sf_progress *p, sf_progress_mode mode, const char *label)
{
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->unit = "MB";
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
}

void sf_progress_count_rows(sf_progress *p) { p->unit = "rows"; }

void sf_progress_start(sf_progress *p, uint64_t total)
{
    p->total = total;
    p->t0 = p->last = now_s();
    p->interval = p->mode == SF_PROGRESS_TTY ? 0.25 : 1.0;
    const char *env = getenv("SHARDFLOW_PROGRESS_INTERVAL");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        if (*end == '\0' && v >= 0)
            p->interval = v;
    }
}

static void put_eta(char *buf, size_t cap, double s)
{
    if (s < 100)
        snprintf(buf, cap, "ETA %.0f s", s);
    else if (s < 6000)
        snprintf(buf, cap, "ETA %.0f min", s / 60);
    else
        snprintf(buf, cap, "ETA %.1f h", s / 3600);
}

size_t sf_progress_format(char *buf, size_t cap, const char *label, const char *unit,
                          uint64_t done, uint64_t total, double elapsed, int final)
{
    if (cap == 0)
        return 0;
    const char *u = unit ? unit : "MB";
    if (strcmp(u, "rows") == 0) {
        /* Rows are counted one by one, not in millions. */
        if (total && done > total)
            done = total;
        double rate = elapsed > 0 ? (double)done / elapsed : 0;
        char eta[32] = "";
        if (!final && total && rate > 0)
            put_eta(eta, sizeof eta, (double)(total - done) / rate);
        int n;
        if (final)
            n = snprintf(buf, cap, "%s: %llu rows in %.1f s (%.0f rows/s)", label,
                         (unsigned long long)done, elapsed, rate);
        else if (total)
            n = snprintf(buf, cap, "%s: %llu / %llu rows (%.0f%%)  %.0f rows/s%s%s", label,
                         (unsigned long long)done, (unsigned long long)total,
                         100.0 * (double)done / (double)total, rate, eta[0] ? "  " : "", eta);
        else
            n = snprintf(buf, cap, "%s: %llu rows  %.0f rows/s", label, (unsigned long long)done,
                         rate);
        if (n < 0)
            n = 0;
        return (size_t)n < cap ? (size_t)n : cap - 1;
    }
    if (total && done > total)
        done = total;
    double mb = (double)done / 1e6, rate = elapsed > 0 ? mb / elapsed : 0;
    int n;
    if (final) {
        n = snprintf(buf, cap, "%s: %.1f %s in %.1f s (%.1f %s/s)", label, mb, u, elapsed, rate,
                     u);
    } else if (total) {
        char eta[32] = "";
        if (rate > 0)
            put_eta(eta, sizeof eta, ((double)total / 1e6 - mb) / rate);
        n = snprintf(buf, cap, "%s: %.1f / %.1f %s (%.0f%%)  %.1f %s/s%s%s", label, mb,
                     (double)total / 1e6, u, 100.0 * (double)done / (double)total, rate, u,
                     eta[0] ? "  " : "", eta);
    } else {
        n = snprintf(buf, cap, "%s: %.1f %s  %.1f %s/s", label, mb, u, rate, u);
    }
    if (n < 0)
        n = 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* On a terminal: "\r", the text, spaces over what is left of the previous
 * text. */
static void show(sf_progress *p, const char *text, size_t len)
{
    if (p->mode == SF_PROGRESS_TTY) {
        size_t pad = p->shown > len ? p->shown - len : 0;
        fprintf(stderr, "\r%s%*s", text, (int)pad, "");
        p->shown = len;
    } else {
        fprintf(stderr, "%s\n", text);
    }
    fflush(stderr);
}

void sf_progress_update(sf_progress *p, uint64_t done)
{
    if (!p || p->mode == SF_PROGRESS_OFF)
        return;
    double t = now_s();
    if (t - p->last < p->interval)
        return;
    p->last = t;
    char text[160];
    size_t len = sf_progress_format(text, sizeof text, p->label, p->unit, done, p->total,
                                    t - p->t0, 0);
    show(p, text, len);
}

void sf_progress_end(sf_progress *p, uint64_t done)
{
    if (!p || p->mode == SF_PROGRESS_OFF)
        return;
    if (p->mode == SF_PROGRESS_TTY) {
        if (p->shown) {
            fprintf(stderr, "\r%*s\r", (int)p->shown, "");
            fflush(stderr);
        }
        p->shown = 0;
        return;
    }
    if (done == 0)
        return; /* nothing was done: no line to say so */
    char text[160];
    size_t len = sf_progress_format(text, sizeof text, p->label, p->unit, done, p->total,
                                    now_s() - p->t0, 1);
    show(p, text, len);
}
