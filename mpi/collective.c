/* collective.c - signals, agreement, broadcast and gather of byte strings. */
#include "mpi/collective.h"

#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "core/bigmem.h"

volatile sig_atomic_t sf_interrupted;

static void on_signal(int sig) { sf_interrupted = sig; }

void sf_mpi_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

/* 1 when a variable of the environment starts with prefix, or (part not
 * NULL) contains part. */
static int env_has(const char *prefix, const char *part)
{
    extern char **environ;
    size_t n = strlen(prefix), m = part ? strlen(part) : 0;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        if (len >= n && strncmp(*e, prefix, n) == 0)
            return 1;
        for (size_t i = 0; m && i + m <= len; i++)
            if (strncmp(*e + i, part, m) == 0)
                return 1;
    }
    return 0;
}

int sf_mpi_prefer_one_node(void)
{
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const char *own = getenv("SHARDFLOW_MPI_PML");
    if (!size || !local || strcmp(size, local) != 0 || (own && strcmp(own, "auto") == 0))
        return 0;
    int set = 0;
    if (!getenv("OMPI_MCA_pml") && setenv("OMPI_MCA_pml", "ob1", 0) == 0)
        set |= SF_MPI_ONE_NODE_PML;
    /* MPI_Init 32.4 -> 30.0 M instructions a rank (callgrind, one-line S1
     * at np 2), and the communicators made later ask fewer components. */
    if (!env_has("OMPI_MCA_coll", "monitoring") &&
        setenv("OMPI_MCA_coll", "^han,adapt,monitoring,sync,inter", 0) == 0)
        set |= SF_MPI_ONE_NODE_COLL;
    /* The ranks' job data from mpirun's PMIx server by message: MPI_Init
     * 22 -> 12 ms a rank here, as the server no longer fills a datastore
     * segment of shared memory for them (a file in the session directory,
     * on the disk in /tmp here) while they wait. */
    if (!env_has("PMIX_MCA_gds", NULL) && setenv("PMIX_MCA_gds", "hash", 0) == 0)
        set |= SF_MPI_ONE_NODE_GDS;
    return set;
}

/* 1 when fd is a TCP socket (IPv4 or IPv6) and TCP_NODELAY is now set on
 * it; 0 for anything else. */
static int nodelay_fd(int fd)
{
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM)
        return 0;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
        return 0;
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
}

int sf_mpi_launcher_nodelay(void)
{
    const char *own = getenv("SHARDFLOW_MPI_NODELAY");
    if (own && strcmp(own, "0") == 0)
        return 0;
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int self = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end;
            long fd = strtol(e->d_name, &end, 10);
            if (end != e->d_name && *end == '\0' && fd != self && fd >= 0 && fd <= INT_MAX)
                n += nodelay_fd((int)fd);
        }
        closedir(d);
        return n;
    }
    /* No /proc: the launcher's sockets are among the first descriptors. */
    for (int fd = 0; fd < 1024; fd++)
        n += nodelay_fd(fd);
    return n;
}

int sf_mpi_agree_error(MPI_Comm comm, int rc, sf_error *err, int *first)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (!rc && sf_interrupted)
        rc = sf_error_set(err, SF_E_INTR, "interrupted by %s",
                          sf_interrupted == SIGINT ? "SIGINT" : "SIGTERM");
    /* The lowest rank with an error of its own wins over ranks that only
     * stopped because of it (SF_E_PEER), so the message says what broke. */
    int v[2] = {rc && rc != SF_E_PEER ? rank : INT_MAX, rc ? rank : INT_MAX};
    MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MIN, comm);
    int low = v[0] != INT_MAX ? v[0] : v[1];
    if (first)
        *first = low;
    if (low == INT_MAX)
        return 0;
    struct {
        int code;
        char msg[sizeof err->msg];
    } m;
    memset(&m, 0, sizeof m);
    if (rank == low) {
        m.code = rc;
        memcpy(m.msg, err->msg, sizeof m.msg);
    }
    MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, low, comm);
    m.msg[sizeof m.msg - 1] = '\0';
    err->code = m.code;
    memcpy(err->msg, m.msg, sizeof m.msg);
    return m.code ? m.code : SF_E_INTERNAL;
}

int sf_mpi_agree(MPI_Comm comm, int rc, int same_everywhere, sf_error *err)
{
    int rank, nranks, first;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &nranks);
    if (!sf_mpi_agree_error(comm, rc, err, &first))
        return 0;
    if (rank == 0) {
        /* A signal is one rank's, even where errors would be shared. */
        if ((same_everywhere && err->code != SF_E_INTR) || nranks == 1)
            fprintf(stderr, "shardflow: error: %s\n", err->msg);
        else
            fprintf(stderr, "shardflow: rank %d: error: %s\n", first, err->msg);
    }
    return 1;
}

char *sf_mpi_bcast_bytes(MPI_Comm comm, char *data, int64_t *len)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Bcast(len, 1, MPI_INT64_T, 0, comm);
    if (*len < 0)
        return NULL;
    if (rank != 0) {
        data = sf_bigmem_alloc((size_t)*len + 1); /* written once, in order */
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
