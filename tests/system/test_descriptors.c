/* test_descriptors.c: a relay under a low descriptor limit, flooded with
 * TCP connections that never start the handshake: it must not spin (its
 * CPU time stays well below the wall time) and must serve a real client
 * again once the flood is gone (docs/relay.md "Limits"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "client/relay_client.h"
#include "proto/err.h"
#include "proto/pb.h"
#include "tests/lib/relayfix.h"

#define FLOOD 300

static struct rf F;

static int
down(void **state)
{
    (void)state;
    rf_teardown(&F);
    return 0;
}

static double
mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of pid, in seconds (/proc/PID/stat fields 14 and 15). */
static double
cpu_s(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    assert_non_null(f = fopen(path, "r"));
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After the command name in parentheses: state is field 3. */
    assert_non_null(p = strrchr(buf, ')'));
    assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &ut, &st), 2);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int
raw_connect(int port)
{
    struct sockaddr_in a;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (s < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    (void)connect(s, (struct sockaddr *)&a, sizeof a);   /* EINPROGRESS */
    return s;
}

static int
log_has(const char *needle)
{
    char path[PATH_MAX + 32], *text;
    long n;
    FILE *f;
    int found;

    snprintf(path, sizeof path, "%s/relay.log", F.relays[0].dir);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)n + 1);
    found = text != NULL && fread(text, 1, (size_t)n, f) == (size_t)n &&
            strstr(text, needle) != NULL;
    free(text);
    fclose(f);
    return found;
}

/* Fails, showing the relay's log, unless it holds needle. */
static void
log_want(const char *needle)
{
    char cmd[PATH_MAX + 64];

    if (log_has(needle))
        return;
    snprintf(cmd, sizeof cmd, "cat %s/relay.log", F.relays[0].dir);
    if (system(cmd) != 0)
        print_message("(no relay log)\n");
    fail_msg("the relay's log has no `%s`", needle);
}

/* FLOOD idle TCP connections against a relay whose hard descriptor limit
 * is hard (started with a soft limit of 64 or less): the relay must not
 * spin while they are open (its CPU time stays under half the wall
 * time), must log want_log, and must serve a real client once they are
 * closed. */
static void
flood_then_served(const char *tag, unsigned hard, int burst, const char *want_log)
{
    int fds[FLOOD], port;
    double t0, c0, wall, cpu;
    struct lsn_relay_client *c = NULL;
    char limit[64];
    int served = 0;

    assert_int_equal(rf_setup(&F, tag, 1, 1, "handshake_ms 10000"), 0);
    F.nofile_soft = hard < 64 ? hard : 64;
    F.nofile_hard = hard;
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    port = atoi(strrchr(F.endpoint, ':') + 1);

    /* One after another while the relay takes them (the kernel drops SYNs
     * past its accept backlog, which would only slow the flood down), the
     * rest at once when the relay says it holds new ones back. */
    for (int i = 0, waiting = !burst; i < FLOOD; i++) {
        struct pollfd p;
        assert_true((fds[i] = raw_connect(port)) >= 0);
        p.fd = fds[i];
        p.events = POLLOUT;
        if (waiting && poll(&p, 1, 200) != 1 && log_has(want_log))
            waiting = 0;
    }
    /* Until the relay says it holds new connections back (the previous
     * relay never did: the CPU check below then shows it spinning). */
    for (int i = 0; i < 50 && !log_has(want_log); i++)
        usleep(100 * 1000);
    t0 = mono_s();
    c0 = cpu_s(F.pid);
    usleep(2000 * 1000);
    wall = mono_s() - t0;
    cpu = cpu_s(F.pid) - c0;
    print_message("relay CPU %.2f s over %.2f s with %d idle connections\n", cpu,
                  wall, FLOOD);
    /* A spinning listener burns a whole core; an idle relay next to none. */
    assert_true(cpu < 0.5 * wall);
    log_want(want_log);

    for (int i = 0; i < FLOOD; i++)
        close(fds[i]);
    /* Served again once the flood is gone: a few tries, each with the
     * client's own timeout. */
    for (int tries = 0; tries < 10 && !served; tries++) {
        Liaison__HelloReply *h = NULL;
        if (rf_connect(&F, F.orgs[0].dev[0], &c) == 0 &&
            lsn_relay_client_hello(c, &h) == 0)
            served = 1;
        lsn_pb_free((ProtobufCMessage *)h);
        lsn_relay_client_close(&c);
        if (!served)
            usleep(500 * 1000);
    }
    if (!served)
        log_want("(a client served after the flood)");
    log_want("accepting connections again");
    if (log_has("descriptor reserve overrun"))
        print_message("(a burst outran the reserve: the listener was reset)\n");
    /* The soft limit was raised to the hard limit. */
    snprintf(limit, sizeof limit, "descriptors: limit %u", hard);
    log_want(limit);
}

/* 300 idle connections, hard limit 128: the reserve holds new ones back
 * before the descriptors run out. */
static void
test_descriptors_flood_no_spin_then_served(void **state)
{
    (void)state;
    flood_then_served("descriptors", 128, 0, "descriptor reserve reached");
}

/* A limit so low that the relay's own descriptors take half of it, and
 * all 300 connections at once: the short backlog and the reserve keep
 * accept from running out, and the relay neither spins nor stays
 * deaf. */
static void
test_descriptors_low_limit_burst_no_spin_then_served(void **state)
{
    (void)state;
    flood_then_served("descriptors-low", 48, 1, "descriptor reserve");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_descriptors_flood_no_spin_then_served, down),
        cmocka_unit_test_teardown(test_descriptors_low_limit_burst_no_spin_then_served,
                                  down),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
