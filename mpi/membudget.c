/* membudget.c - the memory a node offers its ranks (see membudget.h). */
#include "mpi/membudget.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/budget.h"

/* MemTotal of /proc/meminfo in bytes, or 0. */
static uint64_t meminfo_total(void)
{
    FILE *fp = fopen("/proc/meminfo", "r");
    if (!fp)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, fp)) {
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            break;
    }
    fclose(fp);
    return (uint64_t)kb * 1024;
}

/* The cgroup's memory limit in bytes, or 0 when there is none. */
static uint64_t cgroup_limit(void)
{
    static const char *const files[] = {"/sys/fs/cgroup/memory.max",
                                        "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        FILE *fp = fopen(files[i], "r");
        if (!fp)
            continue;
        unsigned long long v = 0;
        int ok = fscanf(fp, "%llu", &v) == 1; /* "max" reads as no number */
        fclose(fp);
        /* cgroup v1 reports "no limit" as a huge page-aligned number. */
        if (ok && v > 0 && v < ((unsigned long long)1 << 60))
            return (uint64_t)v;
    }
    return 0;
}

void sf_membudget_node(MPI_Comm comm, sf_node_memory *out)
{
    memset(out, 0, sizeof *out);
    MPI_Comm node;
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &out->ranks_on_node);
        MPI_Comm_rank(node, &out->node_rank);
        MPI_Comm_free(&node);
    } else {
        out->ranks_on_node = 1;
    }
    uint64_t total = meminfo_total(), cg = cgroup_limit();
    if (cg && (total == 0 || cg < total))
        total = cg;
    out->mem_total = total;
    out->default_limit = total ? sf_budget_node_default(total, out->ranks_on_node) : 0;
}

uint64_t sf_membudget_rss(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    if (!fp)
        return 0;
    unsigned long long size = 0, resident = 0;
    int ok = fscanf(fp, "%llu %llu", &size, &resident) == 2;
    fclose(fp);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}
