/* listen.c: the ROUTER's sockets and the descriptor reserve.  The ZAP
 * handler is bound before the ROUTER exists; the ROUTER's monitor counts
 * accepted TCP connections, and at the descriptor limit less a reserve the
 * listening socket drops new handshakes until enough close (docs/relay.md
 * "Limits"). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <zmq.h>

#include "keys/util.h"
#include "proto/err.h"
#include "proto/wire.h"
#include "relay/listen.h"
#include "relay/log.h"

#define ZAP_ENDPOINT  "inproc://zeromq.zap.01"

#define MON_ENDPOINT  "inproc://lsn-router-monitor"
/* Descriptors kept free beyond what the relay holds once listening, for
 * what it opens later (a store reader, a log file); each peer relay adds
 * FDS_PER_PEER (its DEALER, monitor and connection). */
#define FDS_SLACK     16
#define FDS_PER_PEER  4

static int
sockopt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v) == 0 ? 0 : LSN_ERR_IO;
}

/* Raises the soft descriptor limit to the hard one: a relay holds one
 * descriptor per connection, and the reserve below is taken from it. */
void
lsn_listen_nofile(struct lsn_relay *r)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = { rl.rlim_max, rl.rlim_max };
        /* An unlimited hard limit is not a value the kernel takes here. */
        if (want.rlim_cur == RLIM_INFINITY)
            want.rlim_cur = want.rlim_max = 1048576;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    r->nofile = rl.rlim_cur == RLIM_INFINITY ? 1048576 : (uint64_t)rl.rlim_cur;
}

/* The listen backlog: connections the kernel completes before they are
 * accepted are accepted even while new handshakes are dropped, so the
 * reserve covers them; a low descriptor limit gets a short backlog. */
static int
listen_backlog(const struct lsn_relay *r)
{
    uint64_t b = r->nofile > 64 ? (r->nofile - 64) / 8 : 0;

    return b < 4 ? 4 : b > 32 ? 32 : (int)b;
}

/* Descriptors open in this process (/proc/self/fd), 0 if unknown. */
static uint64_t
fds_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    uint64_t n = 0;

    if (d == NULL)
        return 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n > 3 ? n - 3 : 0;       /* ".", ".." and the folder's own */
}

/* How many accepted connections may be open before new ones are held
 * back: the limit less what the relay holds itself (counted once it
 * listens), the backlog twice over, each peer relay's and some slack;
 * under a very low limit the slack goes first.  At least 1. */
size_t
lsn_listen_tcp_max(const struct lsn_relay *r)
{
    uint64_t need = r->fds_own + 2 * (uint64_t)(listen_backlog(r) + 1) +
                    FDS_PER_PEER * (uint64_t)r->n_peers;

    if (r->nofile > need + FDS_SLACK)
        return (size_t)(r->nofile - need - FDS_SLACK);
    return r->nofile > need + 1 ? (size_t)(r->nofile - need) : 1;
}

/* Drops (on) or takes again (off) new TCP handshakes on the listening
 * socket, by a socket filter that passes nothing.  zmq_unbind would stop
 * the listener too, but it closes every connection the listener accepted;
 * the filter leaves them alone, and a client whose SYN was dropped
 * retries it (TCP) and is accepted once the filter is gone. */
static int
accepting_set(struct lsn_relay *r, int on)
{
    struct sock_filter drop[] = { { BPF_RET | BPF_K, 0, 0, 0 } };
    struct sock_fprog prog = { 1, drop };
    int none = 0;

    if (r->listen_fd < 0)
        return -1;
    if (on)
        return setsockopt(r->listen_fd, SOL_SOCKET, SO_DETACH_FILTER, &none,
                          sizeof none) == 0 || errno == ENOENT ? 0 : -1;
    return setsockopt(r->listen_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                      sizeof prog);
}

/* Pauses accepting at the reserve, resumes below 7/8 of it (so that one
 * connection more or less does not flip it); after the listener was
 * closed (listener_reset), listens again a second later.  One log line
 * per change. */
void
lsn_listen_check(struct lsn_relay *r)
{
    size_t max = lsn_listen_tcp_max(r);

    if (r->unbound) {
        if (lsn_relay_now_ms() - r->unbound_ms < 1000)
            return;
        if (zmq_bind(r->router, r->endpoint) != 0) {
            if (!r->rebind_failed)
                lsn_relay_log("cannot listen on %s again: %s (retrying)", r->endpoint,
                              zmq_strerror(errno));
            r->rebind_failed = 1;
            r->unbound_ms = lsn_relay_now_ms();
            return;
        }
        r->unbound = 0;
        r->rebind_failed = 0;
        r->paused = 0;
        lsn_relay_log("accepting connections again: listening on %s", r->endpoint);
        return;
    }
    if (!r->paused && r->n_tcp >= max) {
        if (accepting_set(r, 0) != 0) {
            lsn_relay_log("descriptor reserve reached (%zu connections, limit %llu "
                          "descriptors) and new connections cannot be held back: %s",
                          r->n_tcp, (unsigned long long)r->nofile, strerror(errno));
        } else {
            lsn_relay_log("descriptor reserve reached: %zu connections open, limit "
                          "%llu descriptors; new connections wait until some close "
                          "(half-open ones after handshake_ms)", r->n_tcp,
                          (unsigned long long)r->nofile);
        }
        r->paused = 1;
    } else if (r->paused && r->n_tcp < max - max / 8 && accepting_set(r, 1) == 0) {
        r->paused = 0;
        lsn_relay_log("accepting connections again: %zu open", r->n_tcp);
    }
}

/* Out of descriptors all the same: a burst of connections was accepted
 * faster than the reserve took effect, and libzmq's listener fails
 * accept (EMFILE) for the connections still in the kernel's queue, over
 * and over.  The one way to stop it is to close the listener: zmq_unbind
 * closes it and every connection it accepted (their clients connect
 * again), and lsn_listen_check listens again a second later. */
static void
listener_reset(struct lsn_relay *r)
{
    if (r->unbound)
        return;
    lsn_relay_log("descriptor reserve overrun: out of descriptors accepting a "
                  "connection (%zu open); closing every connection and listening "
                  "again in 1 s", r->n_tcp);
    if (zmq_unbind(r->router, r->endpoint) != 0) {
        lsn_relay_log("cannot stop listening on %s: %s", r->endpoint,
                      zmq_strerror(errno));
        return;
    }
    r->unbound = 1;
    r->unbound_ms = lsn_relay_now_ms();
    r->listen_fd = -1;
    r->n_tcp = 0;
}

/* Takes every event the ROUTER's monitor has: the listening socket, and
 * each accepted connection opened or gone. */
void
lsn_listen_events(struct lsn_relay *r)
{
    int failed = 0;

    for (int k = 0; k < 4096; k++) {
        zmq_msg_t ev, addr;
        uint16_t id = 0;
        uint32_t value = 0;
        int ok;

        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, r->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        ok = zmq_msg_size(&ev) >= 6;
        if (ok) {
            memcpy(&id, zmq_msg_data(&ev), 2);
            memcpy(&value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
        }
        /* The second frame (the endpoint) is not needed. */
        if (zmq_msg_more(&ev)) {
            zmq_msg_init(&addr);
            (void)zmq_msg_recv(&addr, r->mon, ZMQ_DONTWAIT);
            zmq_msg_close(&addr);
        }
        zmq_msg_close(&ev);
        if (!ok)
            continue;
        switch (id) {
        case ZMQ_EVENT_LISTENING:
            r->listen_fd = (int)value;
            break;
        case ZMQ_EVENT_ACCEPTED:
            r->n_tcp++;
            break;
        case ZMQ_EVENT_DISCONNECTED:
            if (r->n_tcp > 0)
                r->n_tcp--;
            break;
        case ZMQ_EVENT_ACCEPT_FAILED:
            failed |= value == EMFILE || value == ENFILE;
            break;
        default:
            break;
        }
    }
    if (failed)
        listener_reset(r);
    lsn_listen_check(r);
}

int
lsn_listen_open(struct lsn_relay *r)
{
    /* The largest request: an envelope or a batch of small ones. */
    int64_t maxmsg = (int64_t)(r->cfg.max_envelope > LSN_WIRE_BATCH_FRAME_MAX
                               ? r->cfg.max_envelope : LSN_WIRE_BATCH_FRAME_MAX) + 4096;
    size_t elen = sizeof r->endpoint;

    if ((r->zctx = zmq_ctx_new()) == NULL)
        return LSN_ERR_IO;
    /* ZAP first: a ROUTER bound before its handler would admit anyone. */
    if ((r->zap = zmq_socket(r->zctx, ZMQ_REP)) == NULL ||
        zmq_bind(r->zap, ZAP_ENDPOINT) != 0) {
        lsn_set_detail("cannot bind the ZAP handler: %s", zmq_strerror(errno));
        return LSN_ERR_IO;
    }
    if ((r->router = zmq_socket(r->zctx, ZMQ_ROUTER)) == NULL)
        return LSN_ERR_IO;
    if (sockopt_int(r->router, ZMQ_CURVE_SERVER, 1) != 0 ||
        zmq_setsockopt(r->router, ZMQ_CURVE_SECRETKEY, r->sk, 32) != 0 ||
        zmq_setsockopt(r->router, ZMQ_ZAP_DOMAIN, "liaison", 7) != 0 ||
        sockopt_int(r->router, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
        zmq_setsockopt(r->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        sockopt_int(r->router, ZMQ_HEARTBEAT_IVL, (int)r->cfg.heartbeat_ms) != 0 ||
        sockopt_int(r->router, ZMQ_HEARTBEAT_TIMEOUT, 3 * (int)r->cfg.heartbeat_ms) != 0 ||
        sockopt_int(r->router, ZMQ_HEARTBEAT_TTL, 3 * (int)r->cfg.heartbeat_ms) != 0 ||
        sockopt_int(r->router, ZMQ_HANDSHAKE_IVL, (int)r->cfg.handshake_ms) != 0 ||
        sockopt_int(r->router, ZMQ_LINGER, 1000) != 0 ||
        /* Per connection: at most max_pending requests wait in ZeroMQ (then
         * it stops reading that peer's socket), and room for the replies
         * to those and a full push window (credit <= max_pending). */
        sockopt_int(r->router, ZMQ_SNDHWM, 2 * (int)r->cfg.max_pending + 64) != 0 ||
        sockopt_int(r->router, ZMQ_RCVHWM, (int)r->cfg.max_pending) != 0 ||
        sockopt_int(r->router, ZMQ_BACKLOG, listen_backlog(r)) != 0) {
        lsn_set_detail("cannot set the ROUTER options: %s", zmq_strerror(errno));
        return LSN_ERR_IO;
    }
    /* The monitor before the bind: its first event names the listening
     * socket. */
    r->listen_fd = -1;
    if (zmq_socket_monitor(r->router, MON_ENDPOINT, ZMQ_EVENT_LISTENING |
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                           ZMQ_EVENT_ACCEPT_FAILED) != 0 ||
        (r->mon = zmq_socket(r->zctx, ZMQ_PAIR)) == NULL ||
        sockopt_int(r->mon, ZMQ_LINGER, 0) != 0 ||
        sockopt_int(r->mon, ZMQ_RCVHWM, 0) != 0 ||
        zmq_connect(r->mon, MON_ENDPOINT) != 0) {
        lsn_set_detail("cannot monitor the ROUTER: %s", zmq_strerror(errno));
        return LSN_ERR_IO;
    }
    if (zmq_bind(r->router, r->cfg.listen) != 0) {
        lsn_set_detail("cannot listen on %s: %s", r->cfg.listen, zmq_strerror(errno));
        return LSN_ERR_IO;
    }
    if (zmq_getsockopt(r->router, ZMQ_LAST_ENDPOINT, r->endpoint, &elen) != 0)
        snprintf(r->endpoint, sizeof r->endpoint, "%s", r->cfg.listen);
    if ((r->fds_own = fds_open()) == 0)
        r->fds_own = 48;
    lsn_listen_events(r);
    return 0;
}
