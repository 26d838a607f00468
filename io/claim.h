/* claim.h - one writer per output: a claim file taken before any staging.
 *
 * A run that writes OUT first creates OUT.shardflow-claim, beside OUT, with
 * open(O_CREAT|O_EXCL). Exclusive create is atomic on a local file system,
 * on NFS v3 and later (the server does the exclusive create) and on Lustre
 * (the metadata server does), so two runs on any nodes of a cluster cannot
 * both hold it; flock/fcntl locks are not used (not reliable on NFS, off on
 * many Lustre mounts, and gone with the process that a stale check must see).
 *
 * Why beside OUT and not inside it: the claim must exist before OUT does (a
 * run that creates OUT would otherwise have to create it to claim it, and
 * removing OUT again on failure is exactly what must not race), and it must
 * stay put while the commit swaps OUT for the new tree.
 *
 * The file holds one JSON object: run_id, host, pid, pid_start (the pid's
 * start time in clock ticks since boot, from /proc, 0 if unknown), since
 * (UTC, ISO 8601) and since_epoch. A claim is stale when its host is this
 * host and the pid is gone (or is another process of the same number: its
 * start time differs), or when it is older than the claim timeout. A stale
 * claim is broken by renaming it to a name of this run, checking that the
 * renamed file is still the one judged stale (else it is linked back), and
 * removing it; then the claim is taken again with O_EXCL.
 *
 * Call on one rank only (rank 0 of the run).
 */
#ifndef SF_CLAIM_H
#define SF_CLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sf_claim sf_claim;

/* What a claim file says. */
typedef struct sf_claim_info {
    char run_id[64];
    char host[256];
    long pid;
    unsigned long long pid_start; /* 0: unknown */
    char since[32];               /* "YYYY-MM-DDTHH:MM:SSZ" */
    int64_t since_epoch;
} sf_claim_info;

/* The claim file's path for out: OUT (trailing slashes dropped) followed by
 * ".shardflow-claim". Returns a new string (caller frees) or NULL when out
 * of memory. */
char *sf_claim_path(const char *out);

/* Takes the claim on out for run runid. Creates OUT's parent directories
 * when missing. A stale claim (see above; timeout_s <= 0 disables the age
 * rule) is broken, and what was broken is written to note (cap bytes, ""
 * when nothing was). Returns 0 with *claim set (new: release with
 * sf_claim_release), SF_E_BUSY with err "OUT is being written by run R
 * (host H, pid P, since T)", or SF_E_IO / SF_E_NOMEM with err set. */
int sf_claim_take(sf_claim **claim, const char *out, const char *runid, double timeout_s,
                  char *note, size_t cap, sf_error *err);

/* Releases the claim (removes the file if it is still this run's) and frees
 * claim; NULL is a no-op. Returns 0, or SF_E_IO with err set when the
 * claim file was gone or had been taken over (left as it is then). */
int sf_claim_release(sf_claim *claim, sf_error *err);

/* Reads and parses a claim file. Returns 0, SF_E_NOTFOUND (no claim),
 * SF_E_PARSE (empty or not a claim: e.g. being written) or SF_E_IO. */
int sf_claim_read(const char *path, sf_claim_info *info, sf_error *err);

/* The start time of process pid of this host in clock ticks since boot
 * (from /proc), or 0 when unknown or gone. Cannot fail. */
unsigned long long sf_claim_process_start(long pid);

/* 1 when process pid of this host is gone: no such process, a zombie, or
 * a process of the same number started at another time than start (0:
 * unknown, not compared). 0 while it may still run. Cannot fail. Spill
 * directories (io/spill) judge their owners with it too. */
int sf_claim_process_gone(long pid, unsigned long long start);

#endif
