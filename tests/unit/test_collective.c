/* test_collective.c - mpi/collective.h's sf_mpi_launcher_nodelay: Nagle's
 * algorithm turned off on this process's TCP sockets (both ends of a
 * loopback connection), nothing done to other descriptors, and nothing at
 * all with SHARDFLOW_MPI_NODELAY=0; and sf_mpi_prefer_one_node: the Open
 * MPI and PMIx variables it sets on one node only, never over the user's.
 * No MPI runtime is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "mpi/collective.h"

typedef struct conn {
    int listener, client, server, unix_pair[2];
} conn;

/* A loopback TCP connection (listener, client and accepted server ends)
 * and a UNIX socket pair, all with Nagle's algorithm on (the default). */
static void open_conn(conn *c)
{
    c->listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->listener >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(c->listener, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(c->listener, 1), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(c->listener, (struct sockaddr *)&a, &al), 0);
    c->client = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c->client, (struct sockaddr *)&a, sizeof a), 0);
    c->server = accept(c->listener, NULL, NULL);
    assert_true(c->server >= 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c->unix_pair), 0);
}

static void close_conn(conn *c)
{
    close(c->listener);
    close(c->client);
    close(c->server);
    close(c->unix_pair[0]);
    close(c->unix_pair[1]);
}

static int nodelay_of(int fd)
{
    int v = -1;
    socklen_t l = sizeof v;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
    return v;
}

static void test_every_tcp_socket_gets_nodelay(void **state)
{
    (void)state;
    unsetenv("SHARDFLOW_MPI_NODELAY");
    conn c;
    open_conn(&c);
    assert_int_equal(nodelay_of(c.client), 0);
    assert_int_equal(nodelay_of(c.server), 0);
    /* listener, client and server: three TCP sockets; the UNIX pair and
     * stdin/stdout/stderr are left alone. */
    assert_true(sf_mpi_launcher_nodelay() >= 3);
    assert_int_not_equal(nodelay_of(c.client), 0);
    assert_int_not_equal(nodelay_of(c.server), 0);
    /* The UNIX sockets still work as before. */
    assert_int_equal(write(c.unix_pair[0], "x", 1), 1);
    char ch = 0;
    assert_int_equal(read(c.unix_pair[1], &ch, 1), 1);
    assert_int_equal(ch, 'x');
    close_conn(&c);
}

static void test_zero_in_the_environment_leaves_sockets_alone(void **state)
{
    (void)state;
    conn c;
    open_conn(&c);
    setenv("SHARDFLOW_MPI_NODELAY", "0", 1);
    assert_int_equal(sf_mpi_launcher_nodelay(), 0);
    assert_int_equal(nodelay_of(c.client), 0);
    assert_int_equal(nodelay_of(c.server), 0);
    unsetenv("SHARDFLOW_MPI_NODELAY");
    close_conn(&c);
}

static void test_no_tcp_socket_changes_nothing(void **state)
{
    (void)state;
    unsetenv("SHARDFLOW_MPI_NODELAY");
    int p[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    assert_int_equal(sf_mpi_launcher_nodelay(), 0);
    close(p[0]);
    close(p[1]);
}

/* The launcher's variables of a job with size ranks, local of them here,
 * and none of the MCA variables the tests look at. */
static void one_node_env(const char *size, const char *local)
{
    setenv("OMPI_COMM_WORLD_SIZE", size, 1);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", local, 1);
    unsetenv("SHARDFLOW_MPI_PML");
    unsetenv("OMPI_MCA_pml");
    unsetenv("OMPI_MCA_coll");
    unsetenv("OMPI_MCA_coll_han_priority");
    unsetenv("OMPI_MCA_pml_monitoring_enable");
    unsetenv("PMIX_MCA_gds");
    unsetenv("PMIX_MCA_gds_hash_priority");
}

static int env_is(const char *name, const char *want)
{
    const char *v = getenv(name);
    return v && strcmp(v, want) == 0;
}

static void test_one_node_asks_for_ob1_and_leaves_unused_collectives(void **state)
{
    (void)state;
    one_node_env("2", "2");
    assert_int_equal(sf_mpi_prefer_one_node(),
                     SF_MPI_ONE_NODE_PML | SF_MPI_ONE_NODE_COLL | SF_MPI_ONE_NODE_GDS);
    assert_true(env_is("OMPI_MCA_pml", "ob1"));
    assert_true(env_is("OMPI_MCA_coll", "^han,adapt,monitoring,sync,inter"));
    assert_true(env_is("PMIX_MCA_gds", "hash"));
}

static void test_several_nodes_or_no_launcher_set_nothing(void **state)
{
    (void)state;
    one_node_env("4", "2");
    assert_int_equal(sf_mpi_prefer_one_node(), 0);
    assert_null(getenv("OMPI_MCA_pml"));
    assert_null(getenv("OMPI_MCA_coll"));
    assert_null(getenv("PMIX_MCA_gds"));
    one_node_env("2", "2");
    unsetenv("OMPI_COMM_WORLD_SIZE");
    assert_int_equal(sf_mpi_prefer_one_node(), 0);
    assert_null(getenv("OMPI_MCA_pml"));
    assert_null(getenv("OMPI_MCA_coll"));
    assert_null(getenv("PMIX_MCA_gds"));
}

static void test_the_users_choices_are_kept(void **state)
{
    (void)state;
    one_node_env("2", "2");
    setenv("OMPI_MCA_pml", "cm", 1);
    setenv("OMPI_MCA_coll_han_priority", "100", 1); /* a coll choice, not "coll" itself */
    setenv("PMIX_MCA_gds", "ds21,hash", 1);
    assert_int_equal(sf_mpi_prefer_one_node(), 0);
    assert_true(env_is("OMPI_MCA_pml", "cm"));
    assert_null(getenv("OMPI_MCA_coll"));
    assert_true(env_is("PMIX_MCA_gds", "ds21,hash"));
    one_node_env("2", "2");
    setenv("OMPI_MCA_coll", "basic,self", 1);
    setenv("PMIX_MCA_gds_hash_priority", "5", 1); /* a gds choice, not "gds" itself */
    assert_int_equal(sf_mpi_prefer_one_node(), SF_MPI_ONE_NODE_PML);
    assert_true(env_is("OMPI_MCA_coll", "basic,self"));
    assert_null(getenv("PMIX_MCA_gds"));
    one_node_env("2", "2");
    setenv("OMPI_MCA_pml_monitoring_enable", "1", 1); /* monitoring wants its coll part */
    assert_int_equal(sf_mpi_prefer_one_node(), SF_MPI_ONE_NODE_PML | SF_MPI_ONE_NODE_GDS);
    assert_null(getenv("OMPI_MCA_coll"));
    one_node_env("2", "2");
    setenv("SHARDFLOW_MPI_PML", "auto", 1);
    assert_int_equal(sf_mpi_prefer_one_node(), 0);
    assert_null(getenv("OMPI_MCA_pml"));
    assert_null(getenv("OMPI_MCA_coll"));
    assert_null(getenv("PMIX_MCA_gds"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_tcp_socket_changes_nothing),
        cmocka_unit_test(test_every_tcp_socket_gets_nodelay),
        cmocka_unit_test(test_zero_in_the_environment_leaves_sockets_alone),
        cmocka_unit_test(test_one_node_asks_for_ob1_and_leaves_unused_collectives),
        cmocka_unit_test(test_several_nodes_or_no_launcher_set_nothing),
        cmocka_unit_test(test_the_users_choices_are_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
