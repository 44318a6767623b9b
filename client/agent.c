/* agent.c: the unlock agent and its client side (see agent.h for the
 * protocol and docs/threat-model.md "The unlock agent" for what it
 * protects and what it does not). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client/agent.h"
#include "keys/keyfile.h"
#include "keys/util.h"
#include "proto/err.h"

#define OP_CREDENTIAL 'C'
#define OP_SEAL       'S'
#define OP_INFO       'I'
#define OP_QUIT       'Q'
#define HDR           5
/* A peer has this long to send its request and take the reply. */
#define IO_TIMEOUT_S  5

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
sock_path(const char *dir, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if ((size_t)snprintf(sa->sun_path, sizeof sa->sun_path, "%s/%s", dir,
                         LSN_AGENT_SOCK) >= sizeof sa->sun_path) {
        lsn_set_detail("the profile folder's path is too long for the agent's "
                       "socket (%zu bytes at most)",
                       sizeof sa->sun_path - sizeof LSN_AGENT_SOCK - 1);
        return LSN_ERR_TOO_LARGE;
    }
    return 0;
}

static int
path_in(const char *dir, const char *name, char *out, size_t n)
{
    return (size_t)snprintf(out, n, "%s/%s", dir, name) >= n ? LSN_ERR_TOO_LARGE : 0;
}

static void
set_timeouts(int fd)
{
    struct timeval tv = { IO_TIMEOUT_S, 0 };

    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Reads (wr 0) or writes exactly n bytes. */
static int
io_full(int fd, void *buf, size_t n, int wr)
{
    uint8_t *p = buf;

    while (n > 0) {
        ssize_t k = wr ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0)
            return LSN_ERR_TRUNCATED;
        if (k < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? LSN_ERR_TIMEOUT
                                                           : LSN_ERR_IO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One message: a code (op or status), then the body. */
static int
msg_send(int fd, uint8_t code, const uint8_t *body, size_t len)
{
    uint8_t h[HDR];
    int r;

    h[0] = code;
    put32(h + 1, (uint32_t)len);
    if ((r = io_full(fd, h, HDR, 1)) != 0)
        return r;
    return len > 0 ? io_full(fd, (void *)body, len, 1) : 0;
}

/* The body lands in sodium_malloc'd memory (it may be a credential), NULL
 * when empty; more than LSN_AGENT_BODY_MAX is refused unread. */
static int
msg_recv(int fd, uint8_t *code, uint8_t **body, size_t *len)
{
    uint8_t h[HDR];
    uint32_t n;
    int r;

    *body = NULL;
    *len = 0;
    if ((r = io_full(fd, h, HDR, 0)) != 0)
        return r;
    if ((n = get32(h + 1)) > LSN_AGENT_BODY_MAX)
        return LSN_ERR_TOO_LARGE;
    *code = h[0];
    if (n == 0)
        return 0;
    if ((*body = sodium_malloc(n)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = io_full(fd, *body, n, 0)) != 0) {
        sodium_free(*body);
        *body = NULL;
        return r;
    }
    *len = n;
    return 0;
}

/* ------------------------------------------------------------ the agent */

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

static int64_t
boot_ms(void)
{
    struct timespec ts;

    /* CLOCK_BOOTTIME counts a suspended laptop's sleep: --for is real time. */
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The credential file's payload, opened with the agent's key. */
static int
open_credential(const char *dir, const struct lsn_secret_kek *kek,
                uint8_t **payload, size_t *len)
{
    char path[PATH_MAX];
    uint8_t *text = NULL;
    size_t n = 0;
    int r;

    if ((r = path_in(dir, "credential", path, sizeof path)) != 0 ||
        (r = lsn_secret_file_read(path, LSN_SECRET_FILE_MAX * 2, &text, &n)) != 0)
        return r;
    r = lsn_secret_decode_kek(text, n, LSN_KEY_CREDENTIAL, kek, payload, len);
    sodium_memzero(text, n);
    free(text);
    return r;
}

/* A new credential payload of the same device, sealed as a file text. */
static int
reseal(const char *dir, const struct lsn_secret_kek *kek, const uint8_t *body,
       size_t len, char **text, size_t *text_len)
{
    struct lsn_credential *cur = NULL, *next = NULL;
    uint8_t *payload = NULL;
    size_t n = 0;
    char comment[160];
    int r;

    if ((r = lsn_credential_decode(body, len, &next)) != 0 ||
        (r = open_credential(dir, kek, &payload, &n)) != 0 ||
        (r = lsn_credential_decode(payload, n, &cur)) != 0)
        goto out;
    if (sodium_memcmp(cur->keys->sign_pk, next->keys->sign_pk, 32) != 0) {
        lsn_set_detail("the agent seals only the credential of the device it holds");
        r = LSN_ERR_KEY_MISMATCH;
        goto out;
    }
    snprintf(comment, sizeof comment, "device `%s` of org `%s`", next->device,
             next->org);
    r = lsn_secret_encode_kek(LSN_KEY_CREDENTIAL, comment, body, len, kek, text,
                              text_len);
out:
    lsn_secret_free(payload);
    lsn_credential_destroy(&cur);
    lsn_credential_destroy(&next);
    return r;
}

/* Answers one connection.  Returns 1 when the agent is to exit. */
static int
serve(int fd, const char *dir, const struct lsn_secret_kek *kek, int64_t expiry)
{
    struct ucred uc;
    socklen_t ul = sizeof uc;
    uint8_t op = 0, *body = NULL, *payload = NULL, info[12];
    char *text = NULL;
    size_t len = 0, n = 0, tn = 0;
    int r = 0, quit = 0;

    /* Another uid (root included) gets no answer at all. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) != 0 ||
        ul != sizeof uc || uc.uid != getuid())
        return 0;
    set_timeouts(fd);
    if (msg_recv(fd, &op, &body, &len) != 0)
        return 0;
    lsn_set_detail("%s", "");
    switch (op) {
    case OP_INFO:
        put32(info, (uint32_t)((uint64_t)expiry >> 32));
        put32(info + 4, (uint32_t)expiry);
        put32(info + 8, (uint32_t)getpid());
        (void)msg_send(fd, 0, info, sizeof info);
        break;
    case OP_QUIT:
        (void)msg_send(fd, 0, NULL, 0);
        quit = 1;
        break;
    case OP_CREDENTIAL:
        r = open_credential(dir, kek, &payload, &n);
        if (r == 0)
            (void)msg_send(fd, 0, payload, n);
        /* Sealed under another passphrase: this key opens nothing now. */
        quit = r == LSN_ERR_PASSPHRASE || r == LSN_ERR_NOT_FOUND;
        if (r == LSN_ERR_PASSPHRASE)
            lsn_set_detail("the credential was sealed under another passphrase "
                           "since `liaison unlock`; the agent stopped");
        break;
    case OP_SEAL:
        if ((r = reseal(dir, kek, body, len, &text, &tn)) == 0)
            (void)msg_send(fd, 0, (const uint8_t *)text, tn);
        break;
    default:
        lsn_set_detail("unknown agent request %u", (unsigned)op);
        r = LSN_ERR_PROTOCOL;
        break;
    }
    if (op != OP_INFO && op != OP_QUIT && r != 0)
        (void)msg_send(fd, (uint8_t)-r, (const uint8_t *)lsn_detail(),
                       strlen(lsn_detail()));
    if (body != NULL)
        sodium_free(body);
    lsn_secret_free(payload);
    if (text != NULL) {
        sodium_memzero(text, tn);
        free(text);
    }
    return quit;
}

/* Moves lfd to descriptor 3 and the profile folder's lock (lkfd) to 4,
 * closes every other one and points 0-2 at /dev/null: the agent keeps
 * nothing of the command that started it. */
static int
own_fds(int lfd, int lkfd)
{
    int nul, a, b;

    /* Copies above both targets first: either may sit on 3 or 4. */
    if ((a = fcntl(lfd, F_DUPFD, 5)) < 0 || (b = fcntl(lkfd, F_DUPFD, 5)) < 0 ||
        dup2(a, 3) < 0 || dup2(b, 4) < 0)
        return -1;
    for (int fd = 0; fd < 3; fd++)
        close(fd);
    if (close_range(5, ~0U, 0) != 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = 5; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
            close((int)fd);
    }
    if ((nul = open("/dev/null", O_RDWR)) != 0)
        return -1;
    if (dup2(0, 1) < 0 || dup2(0, 2) < 0)
        return -1;
    return 3;
}

static void __attribute__((noreturn))
run_agent(int lfd, int lkfd, const char *dir, struct lsn_secret_kek *inherited,
          int64_t seconds, int64_t expiry, pid_t watch, ino_t sock_ino)
{
    struct lsn_secret_kek *kek;
    struct sigaction sa;
    struct rlimit nocore = { 0, 0 };
    struct sockaddr_un addr;
    struct stat st;
    int64_t end = boot_ms() + seconds * 1000;

    /* No core dump and no ptrace or /proc/PID/mem by the same uid. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)setrlimit(RLIMIT_CORE, &nocore);
    /* Memory locks do not survive fork: a fresh locked, guarded copy. */
    kek = sodium_malloc(sizeof *kek);
    if (kek != NULL)
        memcpy(kek, inherited, sizeof *kek);
    sodium_free(inherited);
    if (kek == NULL || chdir("/") != 0 || (lfd = own_fds(lfd, lkfd)) < 0)
        _exit(1);
    umask(077);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    while (stop_signal == 0) {
        struct pollfd p = { lfd, POLLIN, 0 };
        int64_t left = end - boot_ms();
        int fd;

        if (left <= 0)
            break;
        /* The session's leader (the login shell) is gone: logged out. */
        if (watch > 0 && kill(watch, 0) != 0 && errno == ESRCH)
            break;
        if (poll(&p, 1, left < 1000 ? (int)left : 1000) <= 0)
            continue;
        if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
            continue;
        if (serve(fd, dir, kek, expiry)) {
            close(fd);
            break;
        }
        close(fd);
    }
    sodium_free(kek);
    /* Remove the socket unless another agent has bound the name since;
     * the folder's lock goes with this process, after. */
    if (sock_path(dir, &addr) == 0 && stat(addr.sun_path, &st) == 0 &&
        st.st_ino == sock_ino)
        unlink(addr.sun_path);
    _exit(0);
}

/* A listening socket at sa (0600), replacing a stale one no agent answers. */
static int
listen_at(const struct sockaddr_un *sa, ino_t *ino)
{
    struct stat st;
    mode_t old;
    int fd, r;

    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return LSN_ERR_IO;
    if (lstat(sa->sun_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            lsn_set_detail("%s is not a socket: remove it", sa->sun_path);
            close(fd);
            return LSN_ERR_EXISTS;
        }
        unlink(sa->sun_path);
    }
    old = umask(0177);
    r = bind(fd, (const struct sockaddr *)sa, sizeof *sa);
    umask(old);
    if (r != 0 || chmod(sa->sun_path, 0600) != 0 || listen(fd, 16) != 0 ||
        stat(sa->sun_path, &st) != 0) {
        lsn_set_detail("cannot listen on %s: %s", sa->sun_path, strerror(errno));
        close(fd);
        return LSN_ERR_IO;
    }
    *ino = st.st_ino;
    return fd;
}

int
lsn_agent_key(const char *dir, const char *pass, struct lsn_secret_kek **kek)
{
    char path[PATH_MAX];
    uint8_t *text = NULL;
    size_t n = 0;
    int r;

    if ((*kek = sodium_malloc(sizeof **kek)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = path_in(dir, "credential", path, sizeof path)) == 0 &&
        (r = lsn_secret_file_read(path, LSN_SECRET_FILE_MAX * 2, &text, &n)) == 0) {
        r = lsn_secret_kek_derive(text, n, LSN_KEY_CREDENTIAL, pass, *kek);
        sodium_memzero(text, n);
        free(text);
    }
    if (r != 0) {
        sodium_free(*kek);
        *kek = NULL;
    }
    return r;
}

int
lsn_agent_start(const char *dir, struct lsn_secret_kek **kekp, int64_t seconds,
                pid_t *pid)
{
    struct lsn_secret_kek *kek = *kekp;
    struct sockaddr_un sa;
    char abs[PATH_MAX];
    int64_t expiry;
    long apid;
    ino_t ino = 0;
    pid_t child, watch;
    int lfd = -1, lkfd = -1, st = 0, r;

    *kekp = NULL;
    *pid = 0;
    r = LSN_ERR_INVALID;
    if (kek == NULL || seconds < 1 || seconds > LSN_AGENT_MAX_SECONDS)
        goto out;
    r = LSN_ERR_NOT_FOUND;
    if (realpath(dir, abs) == NULL || (r = sock_path(abs, &sa)) != 0)
        goto out;
    /* The agent holds an flock on the profile folder for its whole life:
     * while it is held, a socket at sa is a live agent's (if a busy one)
     * and is left alone; once it is taken here, any socket there is
     * stale. */
    r = LSN_ERR_IO;
    if ((lkfd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        goto out;
    if (flock(lkfd, LOCK_EX | LOCK_NB) != 0) {
        if (lsn_agent_info(abs, &expiry, &apid) == 0)
            lsn_set_detail("an agent (pid %ld) already holds it", apid);
        else
            lsn_set_detail("an agent runs or starts for it");
        r = LSN_ERR_EXISTS;
        goto out;
    }
    if ((lfd = listen_at(&sa, &ino)) < 0) {
        r = lfd;
        goto out;
    }
    expiry = (int64_t)time(NULL) + seconds;
    /* The agent lives as long as this login session: its leader is
     * watched, unless this process leads it (then its exit is no logout). */
    watch = getsid(0);
    if (watch == getpid())
        watch = 0;
    fflush(NULL);
    if ((child = fork()) < 0) {
        r = LSN_ERR_IO;
        goto out;
    }
    if (child == 0) {
        pid_t g;
        if (setsid() < 0)
            _exit(1);
        if ((g = fork()) != 0)
            _exit(g < 0);
        run_agent(lfd, lkfd, abs, kek, seconds, expiry, watch, ino);
    }
    close(lfd);
    lfd = -1;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        lsn_set_detail("the agent could not be started");
        r = LSN_ERR_INTERNAL;
        goto out;
    }
    /* The socket listens already: this waits for the agent's answer. */
    if ((r = lsn_agent_info(abs, &expiry, &apid)) != 0)
        goto out;
    *pid = (pid_t)apid;
out:
    if (lfd >= 0) {
        close(lfd);
        unlink(sa.sun_path);
    }
    if (lkfd >= 0)
        close(lkfd);
    sodium_free(kek);
    return r;
}

/* ------------------------------------------------------------ client side */

/* One request to dir's agent, its reply body in sodium_malloc'd *body.
 * LSN_ERR_NOT_FOUND when nothing listens, LSN_ERR_DENIED when the agent
 * hangs up without an answer (it refuses this uid). */
static int
call(const char *dir, uint8_t op, const uint8_t *req, size_t req_len,
     uint8_t **body, size_t *len)
{
    struct sockaddr_un sa;
    struct ucred uc;
    socklen_t ul = sizeof uc;
    uint8_t status = 0;
    int fd, r;

    *body = NULL;
    *len = 0;
    if ((r = sock_path(dir, &sa)) != 0)
        return r;
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return LSN_ERR_IO;
    set_timeouts(fd);
    if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return LSN_ERR_NOT_FOUND;
    }
    /* Only an agent of this uid is handed a credential or believed. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) != 0 || ul != sizeof uc ||
        uc.uid != getuid()) {
        close(fd);
        lsn_set_detail("%s belongs to another user", sa.sun_path);
        return LSN_ERR_DENIED;
    }
    if ((r = msg_send(fd, op, req, req_len)) == 0)
        r = msg_recv(fd, &status, body, len);
    close(fd);
    if (r == LSN_ERR_TRUNCATED || r == LSN_ERR_IO) {
        lsn_set_detail("the agent at %s hung up without an answer", sa.sun_path);
        return LSN_ERR_DENIED;
    }
    if (r == 0 && status != 0) {
        /* The error's detail sentence, shown as text. */
        char detail[256] = "";
        size_t k = *len < sizeof detail - 1 ? *len : sizeof detail - 1;
        if (k > 0)
            memcpy(detail, *body, k);
        detail[k] = '\0';
        lsn_set_detail("%s", detail);
        sodium_free(*body);
        *body = NULL;
        *len = 0;
        r = -(int)status;
    }
    return r;
}

int
lsn_agent_credential(const char *dir, struct lsn_credential **out)
{
    uint8_t *body = NULL;
    size_t len = 0;
    int r;

    *out = NULL;
    r = call(dir, OP_CREDENTIAL, NULL, 0, &body, &len);
    if (r == LSN_ERR_NOT_FOUND)
        return LSN_ERR_NEED_PASSPHRASE;
    if (r == 0)
        r = lsn_credential_decode(body, len, out);
    if (body != NULL)
        sodium_free(body);
    return r;
}

int
lsn_agent_credential_save(const char *dir, const struct lsn_credential *c)
{
    uint8_t *payload = NULL, *text = NULL;
    size_t n = 0, tn = 0;
    char path[PATH_MAX];
    int r;

    if ((r = path_in(dir, "credential", path, sizeof path)) != 0 ||
        (r = lsn_credential_encode(c, &payload, &n)) != 0)
        return r;
    r = call(dir, OP_SEAL, payload, n, &text, &tn);
    sodium_free(payload);
    if (r == LSN_ERR_NOT_FOUND) {
        lsn_set_detail("the agent stopped before the credential could be "
                       "saved: run the command again");
        return LSN_ERR_NEED_PASSPHRASE;
    }
    if (r == 0)
        r = lsn_file_write(path, text, tn, LSN_WRITE_FORCE | LSN_WRITE_SECRET);
    if (text != NULL)
        sodium_free(text);
    return r;
}

int
lsn_agent_info(const char *dir, int64_t *expiry, long *pid)
{
    uint8_t *body = NULL;
    size_t len = 0;
    int r;

    *expiry = 0;
    *pid = 0;
    if ((r = call(dir, OP_INFO, NULL, 0, &body, &len)) != 0)
        return r;
    if (len == 12) {
        *expiry = (int64_t)((uint64_t)get32(body) << 32 | get32(body + 4));
        *pid = (long)get32(body + 8);
    } else {
        r = LSN_ERR_PROTOCOL;
    }
    sodium_free(body);
    return r;
}

int
lsn_agent_stop(const char *dir)
{
    uint8_t *body = NULL;
    size_t len = 0;
    int r = call(dir, OP_QUIT, NULL, 0, &body, &len);

    if (body != NULL)
        sodium_free(body);
    return r;
}
