/* collective.h - small collective helpers shared by the commands.
 *
 * agree() is how every phase of a command ends: an MPI_Allreduce of the
 * phase's status, so a failure on any rank stops every rank at the same
 * point, with the failing rank's own message printed once.
 */
#ifndef SF_COLLECTIVE_H
#define SF_COLLECTIVE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Collective over comm. Returns 1 if any rank's rc is non-zero. A failing
 * rank prints err's message ("shardflow: rank N: error: ..."), or rank 0
 * alone when same_everywhere says every rank has the same one. A pending
 * SIGINT/SIGTERM (sf_interrupted) counts as a failure of this rank and
 * fills err. */
int sf_mpi_agree(MPI_Comm comm, int rc, int same_everywhere, sf_error *err);

/* Collective: rank 0's *len bytes to every rank (*len -1 from rank 0 means
 * "failed": everyone gets NULL). Returns a NUL-terminated buffer: rank 0's
 * own data there, a new buffer elsewhere. Aborts the job when a rank cannot
 * allocate, since it could not take part. */
char *sf_mpi_bcast_bytes(MPI_Comm comm, char *data, int64_t *len);

/* Collective: every rank's len bytes concatenated in rank order, as a new
 * buffer on rank 0 (*total its length); NULL elsewhere. */
void *sf_mpi_gather_bytes(MPI_Comm comm, const void *data, size_t len, size_t *total);

/* This process's peak resident set size in bytes. */
uint64_t sf_peak_rss_bytes(void);

#endif
