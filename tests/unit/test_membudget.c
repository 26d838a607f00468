/* test_membudget.c - mpi/membudget.h: a singleton MPI process is one rank
 * on its node, whose memory is read (MemTotal, capped by a cgroup limit),
 * and whose default limit is 75% of it; the resident size is known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <mpi.h>

#include "core/budget.h"
#include "mpi/membudget.h"

static uint64_t meminfo_total(void)
{
    FILE *fp = fopen("/proc/meminfo", "r");
    unsigned long long kb = 0;
    char line[256];
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            break;
    if (fp)
        fclose(fp);
    return (uint64_t)kb * 1024;
}

static void test_singleton_is_one_rank_with_three_quarters_of_the_node(void **state)
{
    (void)state;
    sf_node_memory n;
    sf_membudget_node(MPI_COMM_WORLD, &n);
    assert_int_equal(n.ranks_on_node, 1);
    assert_int_equal(n.node_rank, 0);
    uint64_t total = meminfo_total();
    if (total == 0)
        skip(); /* no /proc/meminfo here */
    assert_true(n.mem_total > 0 && n.mem_total <= total);
    assert_true(n.default_limit == sf_budget_node_default(n.mem_total, 1));
}

static void test_resident_size_is_known_and_grows(void **state)
{
    (void)state;
    uint64_t before = sf_membudget_rss();
    assert_true(before > 0);
    size_t n = (size_t)64 << 20;
    volatile char *p = malloc(n);
    assert_non_null((void *)p);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = 1;
    assert_true(sf_membudget_rss() >= before + n / 2);
    free((void *)p);
}

int main(int argc, char **argv)
{
    /* Singleton MPI as root in a container needs Open MPI's consent. */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    MPI_Init(&argc, &argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_singleton_is_one_rank_with_three_quarters_of_the_node),
        cmocka_unit_test(test_resident_size_is_known_and_grows),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return rc;
}
