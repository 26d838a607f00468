/* collective.c - agreement, broadcast and gather of byte strings. */
#include "mpi/collective.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "mpi/run.h"

int sf_mpi_agree(MPI_Comm comm, int rc, int same_everywhere, sf_error *err)
{
    int rank, nranks;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &nranks);
    if (!rc && sf_interrupted) {
        rc = sf_error_set(err, SF_E_INTR, "interrupted by %s",
                          sf_interrupted == SIGINT ? "SIGINT" : "SIGTERM");
        same_everywhere = 0;
    }
    int bad = rc != 0, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm);
    if (bad && (!same_everywhere || rank == 0)) {
        if (same_everywhere || nranks == 1)
            fprintf(stderr, "shardflow: error: %s\n", err->msg);
        else
            fprintf(stderr, "shardflow: rank %d: error: %s\n", rank, err->msg);
    }
    return any;
}

char *sf_mpi_bcast_bytes(MPI_Comm comm, char *data, int64_t *len)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Bcast(len, 1, MPI_INT64_T, 0, comm);
    if (*len < 0)
        return NULL;
    if (rank != 0) {
        data = malloc((size_t)*len + 1);
        if (!data)
            MPI_Abort(comm, 1);
    }
    for (int64_t off = 0; off < *len;) {
        int n = *len - off > (1 << 30) ? (1 << 30) : (int)(*len - off);
        MPI_Bcast(data + off, n, MPI_BYTE, 0, comm);
        off += n;
    }
    data[*len] = '\0';
    return data;
}

void *sf_mpi_gather_bytes(MPI_Comm comm, const void *data, size_t len, size_t *total)
{
    int rank, nranks;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &nranks);
    int mine = (int)len;
    int *counts = rank == 0 ? calloc((size_t)nranks, sizeof(int)) : NULL;
    int *displs = rank == 0 ? calloc((size_t)nranks, sizeof(int)) : NULL;
    if (rank == 0 && (!counts || !displs))
        MPI_Abort(comm, 1);
    MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, comm);
    char *all = NULL;
    *total = 0;
    if (rank == 0) {
        for (int r = 0; r < nranks; r++) {
            displs[r] = (int)*total;
            *total += (size_t)counts[r];
        }
        all = malloc(*total ? *total : 1);
        if (!all)
            MPI_Abort(comm, 1);
    }
    MPI_Gatherv(data, mine, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, comm);
    free(counts);
    free(displs);
    return all;
}

uint64_t sf_peak_rss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_maxrss * 1024;
}
