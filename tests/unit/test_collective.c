/* test_collective.c - mpi/collective.h's sf_mpi_launcher_nodelay: Nagle's
 * algorithm turned off on this process's TCP sockets (both ends of a
 * loopback connection), nothing done to other descriptors, and nothing at
 * all with SHARDFLOW_MPI_NODELAY=0. No MPI runtime is needed. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_tcp_socket_changes_nothing),
        cmocka_unit_test(test_every_tcp_socket_gets_nodelay),
        cmocka_unit_test(test_zero_in_the_environment_leaves_sockets_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
