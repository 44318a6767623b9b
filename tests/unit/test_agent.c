/* test_agent.c: the unlock agent (client/agent.h) and the file keys it
 * holds (keys/keyfile.h): it serves the credential without the
 * passphrase and reseals it under the same one; it stops on request, on
 * its timeout, on SIGHUP and when its session's leader exits; it answers
 * no other uid even where file modes would let one in; its secrets are
 * neither on disk nor in its environment, and its memory is locked. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "client/agent.h"
#include "keys/credential.h"
#include "keys/keyfile.h"
#include "keys/util.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"

#define PASS "a passphrase of some length"
#define NOBODY 65534

static int
setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

/* A profile-like folder holding only a protected credential; *c is it. */
static const char *
make_dir(const char *tag, struct lsn_credential **c)
{
    static char dir[PATH_MAX];
    char path[PATH_MAX + 16];

    snprintf(dir, sizeof dir, "%s", kf_tmpdir(tag));
    assert_int_equal(lsn_credential_new("police", "analyst", 1, 1, 1, c), 0);
    snprintf(path, sizeof path, "%s/credential", dir);
    assert_int_equal(lsn_credential_save(*c, path, PASS, 0), 0);
    return dir;
}

/* lsn_agent_key, then lsn_agent_start. */
static int
start(const char *dir, const char *pass, int64_t seconds, pid_t *pid)
{
    struct lsn_secret_kek *kek = NULL;
    int r = lsn_agent_key(dir, pass, &kek);

    if (r != 0)
        return r;
    r = lsn_agent_start(dir, &kek, seconds, pid);
    assert_null(kek);
    return r;
}

static void
short_sleep(void)
{
    struct timespec ts = { 0, 50 * 1000 * 1000 };

    nanosleep(&ts, NULL);
}

/* Waits (at most 30 s: a bound, not a timing check) until no agent
 * answers for dir; returns 1 when none does. */
static int
gone(const char *dir)
{
    int64_t expiry;
    long pid;

    for (int i = 0; i < 600; i++) {
        if (lsn_agent_info(dir, &expiry, &pid) == LSN_ERR_NOT_FOUND)
            return 1;
        short_sleep();
    }
    return 0;
}

static void
test_agent_file_key_opens_and_reseals(void **state)
{
    struct lsn_credential *c = NULL;
    const char *dir = make_dir("agkek", &c);
    struct lsn_secret_kek kek, other;
    char path[PATH_MAX + 16], *text = NULL;
    uint8_t *file = NULL, *payload = NULL, *got = NULL;
    size_t fn = 0, pn = 0, tn = 0, gn = 0;

    (void)state;
    snprintf(path, sizeof path, "%s/credential", dir);
    assert_int_equal(lsn_file_read(path, LSN_SECRET_FILE_MAX, &file, &fn), 0);
    assert_int_equal(lsn_secret_kek_derive(file, fn, LSN_KEY_CREDENTIAL, "wrong", &kek),
                     LSN_ERR_PASSPHRASE);
    assert_int_equal(lsn_secret_kek_derive(file, fn, LSN_KEY_CREDENTIAL, PASS, &kek), 0);
    assert_int_equal(lsn_secret_decode_kek(file, fn, LSN_KEY_CREDENTIAL, &kek,
                                           &payload, &pn), 0);
    /* Resealed under the key, the passphrase still opens it. */
    assert_int_equal(lsn_secret_encode_kek(LSN_KEY_CREDENTIAL, NULL, payload, pn, &kek,
                                           &text, &tn), 0);
    assert_int_equal(lsn_secret_decode((uint8_t *)text, tn, LSN_KEY_CREDENTIAL, PASS,
                                       &got, &gn), 0);
    assert_int_equal(gn, pn);
    assert_memory_equal(got, payload, pn);
    lsn_secret_free(got);
    /* Another file under the same passphrase has another salt: refused. */
    free(text);
    assert_int_equal(lsn_secret_encode(LSN_KEY_CREDENTIAL, NULL, payload, pn, PASS,
                                       &text, &tn), 0);
    assert_int_equal(lsn_secret_decode_kek((uint8_t *)text, tn, LSN_KEY_CREDENTIAL,
                                           &kek, &got, &gn), LSN_ERR_PASSPHRASE);
    assert_null(got);
    assert_int_equal(lsn_secret_kek_derive((uint8_t *)text, tn, LSN_KEY_CREDENTIAL,
                                           PASS, &other), 0);
    assert_true(sodium_memcmp(other.k, kek.k, 32) != 0);
    /* Another kind is not sealed under a credential's key. */
    free(text);
    assert_int_equal(lsn_secret_encode_kek(LSN_KEY_AUTHORITY, NULL, payload, pn, &kek,
                                           &text, &tn), LSN_ERR_WRONG_KIND);
    assert_null(text);
    lsn_secret_free(payload);
    free(file);
    lsn_credential_destroy(&c);
    kf_rmdir(dir);
}

static void
test_agent_serves_credential_and_reseals_key_deliveries(void **state)
{
    struct lsn_credential *c = NULL, *got = NULL, *back = NULL;
    const char *dir = make_dir("agserve", &c);
    struct lsn_enc_secret s;
    char path[PATH_MAX + 16];
    struct stat st;
    int64_t expiry;
    long apid;
    pid_t pid;

    (void)state;
    assert_int_equal(lsn_agent_credential(dir, &got), LSN_ERR_NEED_PASSPHRASE);
    assert_int_equal(start(dir, "wrong", 60, &pid), LSN_ERR_PASSPHRASE);
    snprintf(path, sizeof path, "%s/%s", dir, LSN_AGENT_SOCK);
    assert_int_not_equal(stat(path, &st), 0);

    assert_int_equal(start(dir, PASS, 60, &pid), 0);
    assert_true(pid > 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lsn_agent_info(dir, &expiry, &apid), 0);
    assert_int_equal(apid, pid);
    assert_true(expiry > time(NULL) && expiry <= time(NULL) + 60);
    assert_int_equal(start(dir, PASS, 60, &pid), LSN_ERR_EXISTS);

    assert_int_equal(lsn_agent_credential(dir, &got), 0);
    assert_memory_equal(got->keys->sign_sk, c->keys->sign_sk, 64);
    assert_memory_equal(got->keys->curve_sk, c->keys->curve_sk, 32);
    assert_string_equal(got->device, "analyst");
    /* A key delivery: the agent reseals, the passphrase opens the file. */
    memset(&s, 0, sizeof s);
    s.key_id = 7;
    s.created = 1;
    crypto_box_keypair(s.pk, s.sk);
    assert_int_equal(lsn_credential_put_enc(got, &s), 0);
    assert_int_equal(lsn_agent_credential_save(dir, got), 0);
    snprintf(path, sizeof path, "%s/credential", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lsn_credential_load(path, NULL, &back), LSN_ERR_NEED_PASSPHRASE);
    assert_int_equal(lsn_credential_load(path, PASS, &back), 0);
    assert_non_null(lsn_credential_find_enc(back, 7));
    lsn_credential_destroy(&back);
    /* The agent serves the file as it is now. */
    assert_int_equal(lsn_agent_credential(dir, &back), 0);
    assert_non_null(lsn_credential_find_enc(back, 7));
    lsn_credential_destroy(&back);
    /* It seals no other device's credential. */
    assert_int_equal(lsn_credential_new("police", "other", 1, 1, 1, &back), 0);
    assert_int_equal(lsn_agent_credential_save(dir, back), LSN_ERR_KEY_MISMATCH);
    lsn_credential_destroy(&back);

    /* lock: the socket goes, the next open needs the passphrase. */
    assert_int_equal(lsn_agent_stop(dir), 0);
    assert_true(gone(dir));
    snprintf(path, sizeof path, "%s/%s", dir, LSN_AGENT_SOCK);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(lsn_agent_credential(dir, &back), LSN_ERR_NEED_PASSPHRASE);
    assert_int_equal(lsn_agent_stop(dir), LSN_ERR_NOT_FOUND);
    sodium_memzero(&s, sizeof s);
    lsn_credential_destroy(&got);
    lsn_credential_destroy(&c);
    kf_rmdir(dir);
}

static void
test_agent_stops_on_timeout_sighup_and_new_passphrase(void **state)
{
    struct lsn_credential *c = NULL, *got = NULL;
    const char *dir = make_dir("agstop", &c);
    char path[PATH_MAX + 16];
    pid_t pid;

    (void)state;
    assert_int_equal(start(dir, PASS, 1, &pid), 0);
    assert_true(gone(dir));

    assert_int_equal(start(dir, PASS, 60, &pid), 0);
    assert_int_equal(kill(pid, SIGHUP), 0);
    assert_true(gone(dir));

    /* Sealed under another passphrase (passwd): the agent ends. */
    assert_int_equal(start(dir, PASS, 60, &pid), 0);
    snprintf(path, sizeof path, "%s/credential", dir);
    assert_int_equal(lsn_credential_save(c, path, "another passphrase", LSN_WRITE_FORCE), 0);
    assert_int_equal(lsn_agent_credential(dir, &got), LSN_ERR_PASSPHRASE);
    assert_null(got);
    assert_true(gone(dir));
    lsn_credential_destroy(&c);
    kf_rmdir(dir);
}

static void
test_agent_ends_with_its_session(void **state)
{
    struct lsn_credential *c = NULL;
    const char *dir = make_dir("agsess", &c);
    int64_t expiry;
    long apid;
    int hold[2], st = 0;
    pid_t leader;

    (void)state;
    assert_int_equal(pipe(hold), 0);
    /* A login session: its leader lives until hold is closed; a process
     * in it (not the leader) runs `unlock`. */
    if ((leader = fork()) == 0) {
        pid_t cmd;
        char b;
        close(hold[1]);
        if (setsid() < 0)
            _exit(1);
        if ((cmd = fork()) == 0) {
            pid_t p;
            _exit(start(dir, PASS, 600, &p) == 0 ? 0 : 1);
        }
        if (cmd < 0 || waitpid(cmd, &st, 0) != cmd || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0)
            _exit(1);
        (void)!read(hold[0], &b, 1);
        _exit(0);
    }
    assert_true(leader > 0);
    close(hold[0]);
    for (int i = 0; i < 600 && lsn_agent_info(dir, &expiry, &apid) != 0; i++)
        short_sleep();
    assert_int_equal(lsn_agent_info(dir, &expiry, &apid), 0);
    /* The session is still there: so is the agent. */
    short_sleep();
    assert_int_equal(lsn_agent_info(dir, &expiry, &apid), 0);
    close(hold[1]);     /* logout */
    assert_int_equal(waitpid(leader, &st, 0), leader);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(gone(dir));
    lsn_credential_destroy(&c);
    kf_rmdir(dir);
}

/* In a child as uid/gid NOBODY: 0 when the agent hung up without a word
 * after the connection was made, 2 when the socket could not even be
 * reached, 1 when the agent answered. */
static int
connect_as_nobody(const char *sock)
{
    struct sockaddr_un sa;
    uint8_t req[5] = { 'C', 0, 0, 0, 0 }, b;
    int fd, st = 0;
    pid_t p;

    if ((p = fork()) == 0) {
        ssize_t k;
        if (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
            setresuid(NOBODY, NOBODY, NOBODY) != 0)
            _exit(3);
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
        if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
            connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            _exit(2);
        /* The agent may hang up before the request is even sent. */
        if (send(fd, req, sizeof req, MSG_NOSIGNAL) < 0)
            _exit(errno == EPIPE || errno == ECONNRESET ? 0 : 1);
        while ((k = read(fd, &b, 1)) < 0 && errno == EINTR)
            ;
        _exit(k == 0 || (k < 0 && errno == ECONNRESET) ? 0 : 1);
    }
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void
test_agent_refuses_another_uid(void **state)
{
    struct lsn_credential *c = NULL, *got = NULL;
    const char *dir;
    char sock[PATH_MAX + 16];
    pid_t pid;

    (void)state;
    if (getuid() != 0) {
        print_message("skipped: only root can run a client as another uid here\n");
        skip();
    }
    dir = make_dir("aguid", &c);
    snprintf(sock, sizeof sock, "%s/%s", dir, LSN_AGENT_SOCK);
    assert_int_equal(start(dir, PASS, 60, &pid), 0);
    /* As made: the 0600 socket in a 0700 folder keeps nobody out. */
    assert_int_equal(connect_as_nobody(sock), 2);
    /* Opened up on purpose: the agent itself refuses the other uid. */
    assert_int_equal(chmod(dir, 0711), 0);
    assert_int_equal(chmod(sock, 0666), 0);
    assert_int_equal(connect_as_nobody(sock), 0);
    /* Its own uid is still served. */
    assert_int_equal(lsn_agent_credential(dir, &got), 0);
    lsn_credential_destroy(&got);
    assert_int_equal(lsn_agent_stop(dir), 0);
    assert_true(gone(dir));
    lsn_credential_destroy(&c);
    kf_rmdir(dir);
}

/* 1 if the n bytes at key are in buf, raw, as hex or as base64. */
static int
holds(const uint8_t *buf, size_t len, const uint8_t *key, size_t n)
{
    char hex[2 * 64 + 1], b64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    char b64u[sizeof b64];

    sodium_bin2hex(hex, sizeof hex, key, n);
    sodium_bin2base64(b64, sizeof b64, key, n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sodium_bin2base64(b64u, sizeof b64u, key, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return memmem(buf, len, key, n) != NULL || memmem(buf, len, hex, strlen(hex)) != NULL ||
           memmem(buf, len, b64, strlen(b64)) != NULL ||
           memmem(buf, len, b64u, strlen(b64u)) != NULL;
}

/* 1 if the file at path holds one of c's secrets (or, with pass, the
 * passphrase). */
static int
file_holds(const char *path, const struct lsn_credential *c, int pass)
{
    uint8_t *buf = malloc(4u << 20);
    ssize_t k;
    size_t len = 0;
    int fd, found = 0;

    if (buf == NULL || (fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)) < 0) {
        free(buf);
        return 0;
    }
    while (len < (4u << 20) && (k = read(fd, buf + len, (4u << 20) - len)) > 0)
        len += (size_t)k;
    close(fd);
    found = holds(buf, len, c->keys->sign_sk, 32) || holds(buf, len, c->keys->curve_sk, 32) ||
            holds(buf, len, c->keys->delivery_sk, 32) ||
            (pass && holds(buf, len, (const uint8_t *)PASS, strlen(PASS)));
    free(buf);
    return found;
}

/* The first regular file under dir (depth at most 3) that holds one of
 * c's secrets, in found; 1 if there is one.  (Not the passphrase: it is
 * in this test's source, which may lie anywhere.) */
static int
tree_holds(const char *dir, const struct lsn_credential *c, int depth, char *found,
           size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int hit = 0;

    if (d == NULL)
        return 0;
    while (!hit && (e = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth > 0)
            hit = tree_holds(path, c, depth - 1, found, n);
        else if (S_ISREG(st.st_mode) && st.st_size < (4 << 20) && file_holds(path, c, 0)) {
            snprintf(found, n, "%s", path);
            hit = 1;
        }
    }
    closedir(d);
    return hit;
}

static void
test_agent_secret_not_on_disk_nor_in_environment(void **state)
{
    struct lsn_credential *c = NULL, *got = NULL;
    const char *dir = make_dir("agdisk", &c);
    char path[64], found[PATH_MAX] = "", line[256];
    const char *tmp = getenv("LSN_TMP");
    long locked = -1;
    FILE *f;
    pid_t pid;

    (void)state;
    assert_int_equal(start(dir, PASS, 60, &pid), 0);
    /* Used as a command uses it, and resealed once. */
    assert_int_equal(lsn_agent_credential(dir, &got), 0);
    assert_int_equal(lsn_agent_credential_save(dir, got), 0);
    lsn_credential_destroy(&got);
    if (tree_holds(dir, c, 3, found, sizeof found) ||
        tree_holds("/tmp", c, 2, found, sizeof found) ||
        (tmp != NULL && tree_holds(tmp, c, 2, found, sizeof found)))
        fail_msg("a device secret is on disk in %s", found);
    snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
    assert_int_equal(access(path, R_OK), 0);
    assert_false(file_holds(path, c, 1));
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    assert_false(file_holds(path, c, 1));
    /* The key it holds is in locked memory (AddressSanitizer makes mlock
     * a no-op: nothing to see in its builds). */
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    assert_non_null(f = fopen(path, "r"));
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmLck: %ld", &locked) == 1)
            break;
    fclose(f);
#ifndef __SANITIZE_ADDRESS__
    assert_true(locked > 0);
#else
    (void)locked;
#endif
    assert_int_equal(lsn_agent_stop(dir), 0);
    assert_true(gone(dir));
    lsn_credential_destroy(&c);
    kf_rmdir(dir);
}

/* 1 if the readable memory of pid (regions up to 64 MiB each) holds the
 * n bytes at needle. */
static int
memory_holds(pid_t pid, const uint8_t *needle, size_t n)
{
    char path[64], line[512];
    FILE *maps;
    int mem, hit = 0;

    snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
    assert_non_null(maps = fopen(path, "r"));
    snprintf(path, sizeof path, "/proc/%ld/mem", (long)pid);
    assert_true((mem = open(path, O_RDONLY)) >= 0);
    while (!hit && fgets(line, sizeof line, maps) != NULL) {
        unsigned long lo, hi;
        char perms[5];
        uint8_t *buf;
        ssize_t k;
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
            hi - lo > (64ul << 20) || strstr(line, "[vvar]") != NULL ||
            strstr(line, "[vsyscall]") != NULL || (buf = malloc(hi - lo)) == NULL)
            continue;
        k = pread(mem, buf, hi - lo, (off_t)lo);
        hit = k > 0 && memmem(buf, (size_t)k, needle, n) != NULL;
        free(buf);
    }
    close(mem);
    fclose(maps);
    return hit;
}

static void
test_agent_memory_holds_no_passphrase_nor_device_key(void **state)
{
    struct lsn_credential *c = NULL, *got = NULL;
    struct lsn_secret_kek *kek = NULL;
    char dir[PATH_MAX], path[PATH_MAX + 16], *pass;
    uint8_t rnd[16], masked_pass[32], masked_sk[64], *needle;
    pid_t pid;

    (void)state;
    if (getuid() != 0) {
        print_message("skipped: only root reads a non-dumpable agent's memory\n");
        skip();
    }
    /* The test process keeps only masked copies, so that the agent,
     * forked from it, cannot hold them by inheritance. */
    snprintf(dir, sizeof dir, "%s", kf_tmpdir("agmem"));
    assert_non_null(pass = sodium_malloc(33));
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(pass, 33, rnd, sizeof rnd);
    sodium_memzero(rnd, sizeof rnd);
    assert_int_equal(lsn_credential_new("police", "analyst", 1, 1, 1, &c), 0);
    snprintf(path, sizeof path, "%s/credential", dir);
    assert_int_equal(lsn_credential_save(c, path, pass, 0), 0);
    for (size_t i = 0; i < 32; i++)
        masked_pass[i] = (uint8_t)pass[i] ^ 0x5a;
    for (size_t i = 0; i < 64; i++)
        masked_sk[i] = c->keys->sign_sk[i] ^ 0x5a;
    lsn_credential_destroy(&c);
    assert_int_equal(lsn_agent_key(dir, pass, &kek), 0);
    sodium_free(pass);
    assert_int_equal(lsn_agent_start(dir, &kek, 60, &pid), 0);
    /* Served once, as a command is. */
    assert_int_equal(lsn_agent_credential(dir, &got), 0);
    lsn_credential_destroy(&got);

    assert_non_null(needle = sodium_malloc(64));
    for (size_t i = 0; i < 32; i++)
        needle[i] = masked_pass[i] ^ 0x5a;
    assert_false(memory_holds(pid, needle, 32));
    for (size_t i = 0; i < 64; i++)
        needle[i] = masked_sk[i] ^ 0x5a;
    assert_false(memory_holds(pid, needle, 32));        /* the seed half */
    assert_false(memory_holds(pid, needle + 32, 32));   /* the public half */
    sodium_free(needle);
    assert_int_equal(lsn_agent_stop(dir), 0);
    assert_true(gone(dir));
    kf_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_file_key_opens_and_reseals),
        cmocka_unit_test(test_agent_serves_credential_and_reseals_key_deliveries),
        cmocka_unit_test(test_agent_stops_on_timeout_sighup_and_new_passphrase),
        cmocka_unit_test(test_agent_ends_with_its_session),
        cmocka_unit_test(test_agent_refuses_another_uid),
        cmocka_unit_test(test_agent_secret_not_on_disk_nor_in_environment),
        cmocka_unit_test(test_agent_memory_holds_no_passphrase_nor_device_key),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
