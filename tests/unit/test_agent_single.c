/* test_agent_single.c: one unlock agent per profile.  A second start
 * while an agent runs, even one too busy to answer in time, is refused:
 * it never takes the socket's name from the running agent, which would
 * leave that agent holding the key where `liaison lock` cannot reach it. */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "client/agent.h"
#include "keys/credential.h"
#include "keys/keyfile.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"

#define PASS "a passphrase of some length"

static int
setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static int
start(const char *dir, int64_t seconds, pid_t *pid)
{
    struct lsn_secret_kek *kek = NULL;
    int r = lsn_agent_key(dir, PASS, &kek);

    if (r != 0)
        return r;
    return lsn_agent_start(dir, &kek, seconds, pid);
}

/* A connection to dir's agent that sends nothing: the agent waits on it
 * for its whole I/O timeout before it answers anyone else. */
static int
idle_peer(const char *dir)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, LSN_AGENT_SOCK);
    assert_true((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(connect(fd, (const struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void
test_agent_single_busy_agent_keeps_its_socket(void **state)
{
    struct lsn_credential *c = NULL;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    pid_t first = 0, second = 0;
    int64_t expiry;
    long pid = 0;
    int a, b, r;

    (void)state;
    snprintf(dir, sizeof dir, "%s", kf_tmpdir("rv2agent"));
    assert_int_equal(lsn_credential_new("police", "analyst", 1, 1, 1, &c), 0);
    snprintf(path, sizeof path, "%s/credential", dir);
    assert_int_equal(lsn_credential_save(c, path, PASS, 0), 0);
    lsn_credential_destroy(&c);

    assert_int_equal(start(dir, 60, &first), 0);
    /* Two silent peers keep the agent from answering for longer than a
     * caller waits for its answer. */
    a = idle_peer(dir);
    b = idle_peer(dir);
    r = start(dir, 60, &second);
    close(a);
    close(b);
    if (r == 0) {
        kill(second, SIGTERM);
        kill(first, SIGTERM);
    }
    assert_int_equal(r, LSN_ERR_EXISTS);
    /* The first agent still answers, and `lock` reaches it. */
    assert_int_equal(lsn_agent_info(dir, &expiry, &pid), 0);
    assert_int_equal(pid, (long)first);
    assert_int_equal(lsn_agent_stop(dir), 0);
    kf_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_single_busy_agent_keeps_its_socket),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
