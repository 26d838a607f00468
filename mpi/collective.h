/* collective.h - how ranks agree, and small collectives shared by every
 * command.
 *
 * sf_mpi_agree_error() is the one way ranks agree on an error: every rank
 * brings its status, a pending SIGINT/SIGTERM counts as a failure, and
 * every rank leaves with the code and message of the lowest failing rank.
 * Every phase of a command ends with it (directly, or through
 * sf_mpi_agree(), which also prints the verdict once), so a failure on any
 * rank stops every rank at the same point, with no hang.
 */
#ifndef SF_COLLECTIVE_H
#define SF_COLLECTIVE_H

#include <mpi.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Set by SIGINT/SIGTERM (to the signal number) once sf_mpi_catch_signals()
 * has run; the scan and every agreement check it, so a run stops promptly,
 * on every rank, and removes what it staged. */
extern volatile sig_atomic_t sf_interrupted;

/* Installs the SIGINT/SIGTERM handlers and ignores SIGXFSZ (a write over
 * RLIMIT_FSIZE then fails with EFBIG, reported with the file's name,
 * instead of killing the process). Not collective. */
void sf_mpi_catch_signals(void);

/* Before MPI_Init: Open MPI and PMIx components asked for when mpirun
 * says every rank of the job is on this node (OMPI_COMM_WORLD_SIZE equals
 * OMPI_COMM_WORLD_LOCAL_SIZE), each only when the user chose nothing in
 * its framework:
 *   SF_MPI_ONE_NODE_PML   OMPI_MCA_pml=ob1 (unless OMPI_MCA_pml is set):
 *                         Open MPI otherwise probes UCX first, 0.2 s of
 *                         MPI_Init here, and chooses ob1 after it anyway.
 *   SF_MPI_ONE_NODE_COLL  OMPI_MCA_coll=^han,adapt,monitoring,sync,inter
 *                         (unless any OMPI_MCA_coll* variable is set, or
 *                         one naming monitoring): collective components
 *                         that are opened, registered and asked on every
 *                         communicator but never chosen unless configured
 *                         (priority 0 by default, profiling, barriers on
 *                         request, intercommunicators).
 *   SF_MPI_ONE_NODE_GDS   PMIX_MCA_gds=hash (unless a PMIX_MCA_gds*
 *                         variable is set): the job's data comes from
 *                         mpirun's PMIx server by message; otherwise the
 *                         server first fills a shared-memory datastore
 *                         segment for the ranks, a file in its session
 *                         directory (disk-backed /tmp: 10 of MPI_Init's
 *                         22 ms here), while they wait.
 * A job over several nodes keeps all of Open MPI's choices, and so does
 * SHARDFLOW_MPI_PML=auto. Every rank decides from the same variables.
 * Returns the SF_MPI_ONE_NODE_* bits of what it set. Not collective. */
enum { SF_MPI_ONE_NODE_PML = 1, SF_MPI_ONE_NODE_COLL = 2, SF_MPI_ONE_NODE_GDS = 4 };
int sf_mpi_prefer_one_node(void);

/* Turns off Nagle's algorithm (TCP_NODELAY) on every TCP socket this
 * process holds; called right after MPI_Init, when the open TCP sockets
 * are the launcher's (PMIx to mpirun's server, or Slurm's step daemon).
 * PMIx sends its fence in MPI_Finalize as small writes without
 * TCP_NODELAY, so the second write waited for the server's delayed ACK:
 * 40 ms of every run (docs/performance.md, "The ninth round"). Returns
 * how many sockets it changed. SHARDFLOW_MPI_NODELAY=0 leaves them. Not
 * collective. */
int sf_mpi_launcher_nodelay(void);

/* Collective over comm. rc is this rank's status (0 or a negative SF_E_*
 * code with err filled); a pending signal turns a 0 into SF_E_INTR. Returns
 * 0 when no rank failed; otherwise the code of the lowest failing rank
 * (preferring ranks whose error is not SF_E_PEER, a stop caused by another),
 * whose message every rank then holds in err (err->code set), and *first
 * (may be NULL) is that rank. */
int sf_mpi_agree_error(MPI_Comm comm, int rc, sf_error *err, int *first);

/* Collective over comm: sf_mpi_agree_error(), then rank 0 prints the agreed
 * message once: "shardflow: error: ..." when same_everywhere says every
 * rank has the same one (or there is one rank), else "shardflow: rank N:
 * error: ..." naming the lowest failing rank. Returns 1 if any rank
 * failed, else 0. */
int sf_mpi_agree(MPI_Comm comm, int rc, int same_everywhere, sf_error *err);

/* Collective: rank 0's *len bytes to every rank (*len -1 from rank 0 means
 * "failed": everyone gets NULL). Returns a NUL-terminated buffer: rank 0's
 * own data there, a new buffer elsewhere. Aborts the job when a rank cannot
 * allocate, since it could not take part. */
char *sf_mpi_bcast_bytes(MPI_Comm comm, char *data, int64_t *len);

/* Collective: every rank's len bytes concatenated in rank order, as a new
 * buffer on rank 0 (*total its length); NULL elsewhere. */
void *sf_mpi_gather_bytes(MPI_Comm comm, const void *data, size_t len, size_t *total);

/* This process's peak resident set size in bytes. Not collective. */
uint64_t sf_peak_rss_bytes(void);

#endif
