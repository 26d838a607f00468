/* claim.c - the output claim file (see claim.h for the protocol).
 *
 * Invariant: this module never removes a claim file it has not first moved
 * to a name of its own and read back, so a claim taken by another run in
 * the meantime is never removed by mistake.
 */
#include "io/claim.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/fsutil.h"

struct sf_claim {
    char *out;  /* OUT as given, trailing slashes dropped */
    char *path; /* OUT.shardflow-claim */
    sf_claim_info mine;
    int held;   /* the claim file is this run's */
};

static char *out_name(const char *out)
{
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        n--;
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, out, n);
        p[n] = '\0';
    }
    return p;
}

char *sf_claim_path(const char *out)
{
    char *o = out_name(out);
    if (!o)
        return NULL;
    size_t n = strlen(o) + sizeof ".shardflow-claim";
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s.shardflow-claim", o);
    free(o);
    return p;
}

/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat),
 * or 0 when unknown; *state gets field 3 ('Z': a zombie, dead but not yet
 * reaped, as a killed rank is until mpiexec collects it), or 0. */
static unsigned long long pid_stat(long pid, char *state)
{
    *state = 0;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    p++;
    while (*p == ' ')
        p++;
    *state = *p;
    /* After ')': field 3 (state) onwards; starttime is field 22. */
    for (int field = 3; field < 22 && *p; field++) {
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    return strtoull(p, NULL, 10);
}

unsigned long long sf_claim_process_start(long pid)
{
    char state;
    return pid_stat(pid, &state);
}

int sf_claim_process_gone(long pid, unsigned long long start)
{
    if (pid <= 0)
        return 0;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 1;
    char state;
    unsigned long long now = pid_stat(pid, &state);
    if (state == 'Z' || state == 'X')
        return 1;
    return start != 0 && now != 0 && now != start;
}

static void host_name(char *host, size_t cap)
{
    if (gethostname(host, cap) != 0)
        snprintf(host, cap, "unknown");
    host[cap - 1] = '\0';
}

static int claim_format(const sf_claim_info *c, char *buf, size_t cap)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I}", "run_id", c->run_id, "host",
                          c->host, "pid", (json_int_t)c->pid, "pid_start",
                          (json_int_t)c->pid_start, "since", c->since, "since_epoch",
                          (json_int_t)c->since_epoch);
    if (!o)
        return -1;
    size_t n = json_dumpb(o, buf, cap - 1, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(o);
    if (n == 0 || n >= cap - 1)
        return -1;
    buf[n++] = '\n';
    return (int)n;
}

int sf_claim_read(const char *path, sf_claim_info *info, sf_error *err)
{
    memset(info, 0, sizeof *info);
    char *data = NULL;
    size_t len = 0;
    int rc = sf_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    free(data);
    const char *run_id = NULL, *host = NULL, *since = NULL;
    json_int_t pid = 0, pid_start = 0, epoch = 0;
    if (!o || json_unpack(o, "{s:s, s:s, s:I, s:I, s:s, s:I}", "run_id", &run_id, "host", &host,
                          "pid", &pid, "pid_start", &pid_start, "since", &since,
                          "since_epoch", &epoch) != 0) {
        json_decref(o);
        return sf_error_set(err, SF_E_PARSE, "claim '%s' is empty or not a shardflow claim",
                            path);
    }
    snprintf(info->run_id, sizeof info->run_id, "%s", run_id);
    snprintf(info->host, sizeof info->host, "%s", host);
    snprintf(info->since, sizeof info->since, "%s", since);
    info->pid = (long)pid;
    info->pid_start = (unsigned long long)pid_start;
    info->since_epoch = (int64_t)epoch;
    json_decref(o);
    return 0;
}

static int same_claim(const sf_claim_info *a, const sf_claim_info *b)
{
    return strcmp(a->run_id, b->run_id) == 0 && strcmp(a->host, b->host) == 0 &&
           a->pid == b->pid && a->since_epoch == b->since_epoch;
}

/* Why the claim is stale (a phrase for the note), or NULL while its holder
 * may still be writing. */
static const char *stale_reason(const sf_claim_info *c, double timeout_s, char *buf, size_t cap)
{
    char host[256];
    host_name(host, sizeof host);
    if (strcmp(host, c->host) == 0 && c->pid > 0) {
        if (kill((pid_t)c->pid, 0) != 0 && errno == ESRCH)
            return "its process is gone";
        char state;
        unsigned long long start = pid_stat(c->pid, &state);
        if (state == 'Z' || state == 'X')
            return "its process is gone";
        if (c->pid_start != 0 && start != 0 && start != c->pid_start)
            return "its process is gone (the pid now belongs to another process)";
    }
    int64_t age = (int64_t)time(NULL) - c->since_epoch;
    if (timeout_s > 0 && (double)age > timeout_s) {
        snprintf(buf, cap, "it is %lld s old, over --claim-timeout %.0f s", (long long)age,
                 timeout_s);
        return buf;
    }
    return NULL;
}

/* A claim file that does not parse is being written (the O_EXCL create and
 * the write are two steps) or was left by a crash between them: give it a
 * moment, then judge it by its age. */
#define UNREADABLE_GRACE_S 30

/* 0: taken; 1: another claim exists; < 0: error. */
static int take_once(const char *path, const sf_claim_info *mine, sf_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            return 1;
        return sf_error_set(err, SF_E_IO, "cannot create claim '%s': %s", path, strerror(errno));
    }
    char buf[1024];
    int n = claim_format(mine, buf, sizeof buf);
    int rc = 0;
    if (n < 0)
        rc = sf_error_set(err, SF_E_NOMEM, "out of memory formatting claim '%s'", path);
    /* Not synced: a claim only keeps live runs apart, and they see it
     * without (the page cache; NFS writes it back at close). After a
     * crash it is judged stale whether it survived or not, and one lost
     * or left empty costs nothing (absent; unreadable: judged by its age).
     * A fsync here was a journal commit on rank 0 before every run's
     * staging, with the other ranks waiting (1-4 ms, more while other
     * writes fill the journal). */
    else if (write(fd, buf, (size_t)n) != n)
        rc = sf_error_set(err, SF_E_IO, "cannot write claim '%s': %s", path, strerror(errno));
    if (close(fd) != 0 && !rc)
        rc = sf_error_set(err, SF_E_IO, "cannot write claim '%s': %s", path, strerror(errno));
    if (rc)
        unlink(path); /* ours: created by the open above */
    return rc;
}

/* Moves the claim at path aside under a name of this process; if it is
 * still the claim `judged`, removes it and returns 0. If another claim
 * took its place meanwhile it is linked back and 1 is returned. */
static int break_claim(const char *path, const sf_claim_info *judged, const sf_claim_info *mine)
{
    size_t n = strlen(path) + strlen(mine->host) + 64;
    char *aside = malloc(n);
    if (!aside)
        return 1;
    snprintf(aside, n, "%s.broken-%s-%ld", path, mine->host, mine->pid);
    int rc = 1;
    if (rename(path, aside) == 0) {
        sf_claim_info now;
        sf_error e;
        int same = sf_claim_read(aside, &now, &e) == 0 && same_claim(&now, judged);
        int unreadable_judged = judged->run_id[0] == '\0';
        if (same || (unreadable_judged && sf_claim_read(aside, &now, &e) == SF_E_PARSE)) {
            rc = 0;
        } else if (link(aside, path) != 0) {
            /* A third run claimed OUT meanwhile: that one holds it; the
             * claim moved aside belonged to a live run that will find its
             * claim gone at release and say so. */
        }
        unlink(aside);
    }
    free(aside);
    return rc;
}

static void describe(const sf_claim_info *c, const char *out, char *buf, size_t cap)
{
    snprintf(buf, cap, "run %s (host %s, pid %ld, since %s)", c->run_id, c->host, c->pid,
             c->since);
    (void)out;
}

int sf_claim_take(sf_claim **claim, const char *out, const char *runid, double timeout_s,
                  char *note, size_t cap, sf_error *err)
{
    *claim = NULL;
    if (cap)
        note[0] = '\0';
    sf_claim *c = calloc(1, sizeof *c);
    if (!c)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    c->out = out_name(out);
    c->path = sf_claim_path(out);
    if (!c->out || !c->path) {
        sf_claim_release(c, NULL);
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    }
    sf_claim_info *me = &c->mine;
    snprintf(me->run_id, sizeof me->run_id, "%s", runid);
    host_name(me->host, sizeof me->host);
    me->pid = (long)getpid();
    char state;
    me->pid_start = pid_stat(me->pid, &state);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(me->since, sizeof me->since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    me->since_epoch = (int64_t)now;

    /* The directory that will hold OUT must exist to hold the claim. */
    char *parent = strdup(c->out);
    char *slash = parent ? strrchr(parent, '/') : NULL;
    int rc = parent ? 0 : sf_error_set(err, SF_E_NOMEM, "out of memory");
    if (!rc && slash && slash != parent) {
        *slash = '\0';
        rc = sf_mkdirs(parent, err);
    }
    free(parent);

    for (int attempt = 0; !rc && attempt < 8; attempt++) {
        int got = take_once(c->path, me, err);
        if (got <= 0) {
            rc = got;
            if (!rc) {
                c->held = 1;
                *claim = c;
                return 0;
            }
            break;
        }
        /* Held: read it, waiting briefly for a claim being written. */
        sf_claim_info held;
        sf_error e;
        int rd = SF_E_PARSE;
        for (int tries = 0; tries < 20; tries++) {
            rd = sf_claim_read(c->path, &held, &e);
            if (rd != SF_E_PARSE)
                break;
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (rd == SF_E_NOTFOUND)
            continue; /* released meanwhile */
        char why[128], who[512];
        const char *reason = NULL;
        if (rd == SF_E_PARSE) {
            struct stat st;
            if (stat(c->path, &st) != 0)
                continue;
            memset(&held, 0, sizeof held);
            snprintf(held.host, sizeof held.host, "unknown");
            snprintf(held.run_id, sizeof held.run_id, "(unreadable claim)");
            gmtime_r(&st.st_mtime, &tm);
            strftime(held.since, sizeof held.since, "%Y-%m-%dT%H:%M:%SZ", &tm);
            held.since_epoch = (int64_t)st.st_mtime;
            if ((int64_t)time(NULL) - held.since_epoch > UNREADABLE_GRACE_S)
                reason = "it is unreadable and older than 30 s";
            held.run_id[0] = '\0';
        } else if (rd != 0) {
            rc = sf_error_set(err, rd, "%s", e.msg);
            break;
        } else {
            reason = stale_reason(&held, timeout_s, why, sizeof why);
        }
        if (!reason) {
            if (!held.run_id[0])
                snprintf(held.run_id, sizeof held.run_id, "(claim being written)");
            describe(&held, c->out, who, sizeof who);
            rc = sf_error_set(err, SF_E_BUSY, "%s is being written by %s", c->out, who);
            break;
        }
        if (!held.run_id[0])
            snprintf(who, sizeof who, "an unreadable claim");
        else
            describe(&held, c->out, who, sizeof who);
        if (break_claim(c->path, &held, me) == 0 && cap) {
            size_t used = strlen(note);
            snprintf(note + used, cap - used, "%sbroke the claim on '%s' left by %s: %s",
                     used ? "; " : "", c->out, who, reason);
        }
    }
    if (!rc)
        rc = sf_error_set(err, SF_E_BUSY, "%s is being written by other runs (the claim "
                          "changed hands 8 times while being taken)", c->out);
    sf_claim_release(c, NULL);
    return rc;
}

int sf_claim_release(sf_claim *c, sf_error *err)
{
    if (!c)
        return 0;
    int rc = 0;
    if (c->held) {
        size_t n = strlen(c->path) + strlen(c->mine.host) + 64;
        char *aside = malloc(n);
        if (!aside) {
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory releasing claim '%s'", c->path);
        } else {
            snprintf(aside, n, "%s.release-%s-%ld", c->path, c->mine.host, c->mine.pid);
            if (rename(c->path, aside) != 0) {
                rc = sf_error_set(err, SF_E_IO, "claim '%s' was gone at release: %s", c->path,
                                  strerror(errno));
            } else {
                sf_claim_info now;
                sf_error e;
                if (sf_claim_read(aside, &now, &e) == 0 && same_claim(&now, &c->mine)) {
                    unlink(aside);
                } else {
                    if (link(aside, c->path) != 0 && errno != EEXIST)
                        rc = sf_error_set(err, SF_E_IO, "cannot put back claim '%s': %s",
                                          c->path, strerror(errno));
                    unlink(aside);
                    if (!rc)
                        rc = sf_error_set(err, SF_E_IO, "claim '%s' had been taken over by "
                                          "another run; left in place", c->path);
                }
            }
            free(aside);
        }
    }
    free(c->out);
    free(c->path);
    free(c);
    return rc;
}
