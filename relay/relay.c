/* relay.c: liaison-relay's transport and loop (relay.h, docs/relay.md).
 *
 * One thread, one ZeroMQ context.  The ZAP handler (bound on
 * inproc://zeromq.zap.01 before the ROUTER exists) admits a CURVE key only
 * if the allow-list built from the roster and the held bundles names it;
 * an unknown key is admitted, under a global rate limit, as "unknown" and
 * may then only put its own org's first bundle.  The loop is a group
 * commit: it drains every request that arrived (up to batch_max) into one
 * store batch, commits it durably, and only then sends the replies and
 * pushes, so everything that arrived while a commit ran goes into the next
 * one and no client hears "stored" before the fsync. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <dirent.h>
#include <linux/filter.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <sodium.h>
#include <zmq.h>

#include "keys/keyfile.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/wire.h"
#include "relay/offline.h"
#include "relay/relay_int.h"

#define ZAP_ENDPOINT  "inproc://zeromq.zap.01"
#define TICK_MS       200
#define BOOT_BURST    3.0
#define CONN_IDLE_MS  (10 * 60 * 1000)
#define MON_ENDPOINT  "inproc://lsn-router-monitor"
/* Descriptors kept free beyond what the relay holds once listening, for
 * what it opens later (a store reader, a log file); each peer relay adds
 * FDS_PER_PEER (its DEALER, monitor and connection). */
#define FDS_SLACK     16
#define FDS_PER_PEER  4
/* Unknown-key requests: one a second per source address (burst 12), ten
 * a second from all together (burst 120). */
#define BOOT_REQ_PER_S      1.0
#define BOOT_REQ_BURST      (BOOT_BURST * 4)
#define BOOT_REQ_ALL_PER_S  10.0
#define BOOT_REQ_ALL_BURST  (BOOT_REQ_BURST * 10)
/* Source addresses whose unknown-key budgets are kept: one address with
 * its own budget cannot take the others', and a table full of flooding
 * addresses gives its least recently used slot to the next one (which
 * starts with a full budget, so an evicted honest address loses
 * nothing). */
#define BOOT_ADDRS    1024

/* The global unknown-key handshake budget a minute: never below one
 * address's. */
static double
boot_total_rate(const struct lsn_relay_config *cfg)
{
    return (double)(cfg->bootstrap_total_per_minute > cfg->bootstrap_per_minute
                    ? cfg->bootstrap_total_per_minute : cfg->bootstrap_per_minute);
}

/* Its burst: a quarter of a minute's worth, between one and ten
 * addresses' bursts. */
static double
boot_total_burst(const struct lsn_relay_config *cfg)
{
    double b = boot_total_rate(cfg) / 4.0;

    return b < BOOT_BURST ? BOOT_BURST : b > 10 * BOOT_BURST ? 10 * BOOT_BURST : b;
}

/* ---------------------------------------------------------- logging */

static int log_syslog, log_quiet;

void
lsn_relay_log_syslog(int on)
{
    log_syslog = on;
}

void
lsn_relay_log_quiet(int on)
{
    log_quiet = on;
}

static void log_v(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void
log_v(const char *fmt, va_list ap)
{
    char line[1024], ts[32];
    struct tm tm;
    time_t now = time(NULL);

    if (log_quiet)
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s liaison-relay: %s\n", ts, line);
    if (log_syslog)
        syslog(LOG_INFO, "%s", line);
}

void
lsn_relay_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_v(fmt, ap);
    va_end(ap);
}

/* Lines that requests cause are one per request, and one frame can hold
 * 4096 requests.  Routine ones (a hello, a subscription) share a budget
 * of REQ_LOG_PER_S a second; refusals, which an operator must see, have a
 * budget per connection, so one client can flood neither the log nor the
 * disk under it, nor hide another client's refusals.  What is not
 * written is counted and reported once a second. */
#define REQ_LOG_PER_S 100
#define REFUSALS_PER_S 20

/* Starts a new second of budget b once one has passed: the lines of the
 * last one not written (0 if none, or still the same second). */
static uint64_t
budget_tick(struct log_budget *b, int64_t now)
{
    uint64_t dropped = b->dropped;

    if (now - b->ms < 1000)
        return 0;
    b->ms = now;
    b->n = 0;
    b->dropped = 0;
    return dropped;
}

/* Writes one line if budget b has room for it this second, else counts it. */
static void budget_log(struct log_budget *b, unsigned per_s, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
budget_log(struct log_budget *b, unsigned per_s, const char *fmt, va_list ap)
{
    if (b->n >= per_s) {
        b->dropped++;
        return;
    }
    b->n++;
    log_v(fmt, ap);
}

/* Starts a new second of c's refusal lines, saying how many of the last
 * one's were not written. */
static void
conn_log_tick(struct conn *c, int64_t now)
{
    uint64_t dropped = budget_tick(&c->log, now);

    if (dropped > 0)
        lsn_relay_log("%llu more refusals of requests from %.80s not written (at most "
                      "%d a second per connection)", (unsigned long long)dropped,
                      c->who_user[0] != '\0' ? c->who_user : "an unidentified connection",
                      REFUSALS_PER_S);
}

/* Starts a new second of request log lines, saying how many of the last
 * one's were not written (the routine ones, and each connection's
 * refusals). */
static void
req_log_tick(struct lsn_relay *r)
{
    int64_t now = lsn_relay_now_ms();
    uint64_t dropped;

    if (now - r->req_log.ms < 1000)
        return;
    for (struct conn *c = r->conns; c != NULL; c = c->next)
        if (c->log.dropped > 0)
            conn_log_tick(c, now);
    if ((dropped = budget_tick(&r->req_log, now)) > 0)
        lsn_relay_log("%llu more routine log lines about requests (hellos, "
                      "subscriptions) not written (at most %d a second)",
                      (unsigned long long)dropped, REQ_LOG_PER_S);
}

void
lsn_relay_log_req(struct lsn_relay *r, const char *fmt, ...)
{
    va_list ap;

    req_log_tick(r);
    va_start(ap, fmt);
    budget_log(&r->req_log, REQ_LOG_PER_S, fmt, ap);
    va_end(ap);
}

void
lsn_relay_log_refusal(struct conn *c, const char *fmt, ...)
{
    va_list ap;

    conn_log_tick(c, lsn_relay_now_ms());
    va_start(ap, fmt);
    budget_log(&c->log, REFUSALS_PER_S, fmt, ap);
    va_end(ap);
}

void
lsn_relay_msg(struct lsn_relay *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

int64_t
lsn_relay_time(const struct lsn_relay *r)
{
    return r->fixed_now != 0 ? r->fixed_now : lsn_now();
}

int64_t
lsn_relay_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------- directory state */

int
lsn_relay_org_index(const struct lsn_relay *r, const char *org)
{
    for (size_t i = 0; i < r->roster->r->n_orgs; i++)
        if (strcmp(r->roster->r->orgs[i]->id, org) == 0)
            return (int)i;
    return -1;
}

const char *
lsn_relay_home(const struct lsn_relay *r, const char *org)
{
    int i = lsn_relay_org_index(r, org);

    return i < 0 || r->roster->r->orgs[i]->relay == NULL ? ""
           : r->roster->r->orgs[i]->relay;
}

const Liaison__Device *
lsn_relay_device(const struct lsn_relay *r, const char *org, const char *device)
{
    int i = lsn_relay_org_index(r, org);

    if (i < 0 || r->bundles[i] == NULL)
        return NULL;
    return lsn_bundle_find_device(r->bundles[i], device);
}

static int
allow_add(struct lsn_relay *r, const uint8_t key[32], const char *id)
{
    if (r->n_allow == r->cap_allow) {
        size_t cap = r->cap_allow ? 2 * r->cap_allow : 64;
        struct allow_entry *n = realloc(r->allow, cap * sizeof *n);
        if (n == NULL)
            return LSN_ERR_NOMEM;
        r->allow = n;
        r->cap_allow = cap;
    }
    memcpy(r->allow[r->n_allow].key, key, 32);
    snprintf(r->allow[r->n_allow].id, sizeof r->allow[r->n_allow].id, "%s", id);
    r->n_allow++;
    return 0;
}

static int
allow_cmp(const void *a, const void *b)
{
    return memcmp(((const struct allow_entry *)a)->key,
                  ((const struct allow_entry *)b)->key, 32);
}

int
lsn_relay_allow_rebuild(struct lsn_relay *r)
{
    const Liaison__Roster *ro = r->roster->r;
    char id[LSN_DEV_ID_MAX + 8];
    int rc;

    r->n_allow = 0;
    for (size_t i = 0; i < ro->n_relays; i++) {
        if (ro->relays[i]->curve_key.len != 32)
            continue;
        snprintf(id, sizeof id, "relay:%s", ro->relays[i]->name);
        if ((rc = allow_add(r, ro->relays[i]->curve_key.data, id)) != 0)
            return rc;
    }
    for (size_t i = 0; i < ro->n_orgs; i++) {
        const struct lsn_bundle *b = r->bundles[i];
        /* A device talks only to its org's home relay (docs/design.md
         * "Decisions"): bundles of orgs homed elsewhere are held for the
         * directory and for STALE_KEY, not to admit their devices. */
        if (b == NULL || strcmp(ro->orgs[i]->relay, r->name) != 0)
            continue;
        for (size_t j = 0; j < b->b->n_devices; j++) {
            const Liaison__Device *d = b->b->devices[j];
            if (d->curve_key.len != 32)
                continue;
            snprintf(id, sizeof id, "%s/%s", b->b->org, d->name);
            if ((rc = allow_add(r, d->curve_key.data, id)) != 0)
                return rc;
        }
    }
    qsort(r->allow, r->n_allow, sizeof *r->allow, allow_cmp);
    return 0;
}

static const struct allow_entry *
allow_find(const struct lsn_relay *r, const uint8_t key[32])
{
    struct allow_entry k;

    memcpy(k.key, key, 32);
    return r->n_allow == 0 ? NULL
        : bsearch(&k, r->allow, r->n_allow, sizeof k, allow_cmp);
}

/* Devices of b that may receive and are named name (or NULL). */
static const Liaison__Device *
receiving(const struct lsn_bundle *b, const char *name)
{
    const Liaison__Device *d;

    if (b == NULL || (d = lsn_bundle_find_device(b, name)) == NULL || !d->may_receive)
        return NULL;
    return d;
}

int
lsn_relay_bundle_replace(struct lsn_relay *r, int i, struct lsn_bundle *b)
{
    struct lsn_bundle *old = r->bundles[i];
    char dev[LSN_DEV_ID_MAX + 1];
    int rc = 0;

    if (old != NULL)
        for (size_t j = 0; j < old->b->n_devices && rc == 0; j++) {
            const Liaison__Device *d = old->b->devices[j];
            const Liaison__Device *nd = lsn_bundle_find_device(b, d->name);
            if (!d->may_receive || receiving(b, d->name) != NULL)
                continue;
            snprintf(dev, sizeof dev, "%s/%s", old->b->org, d->name);
            rc = lsn_store_drop_device(r->store, dev);
            lsn_relay_log("device %s %s: its queue is dropped", dev,
                          nd == NULL ? "left its bundle" : "may no longer receive");
            r->dirty = 1;
        }
    if (rc != 0) {
        lsn_bundle_destroy(&b);
        return rc;
    }
    lsn_bundle_destroy(&r->bundles[i]);
    r->bundles[i] = b;
    r->dir_gen++;
    return lsn_relay_allow_rebuild(r);
}

/* Loads the stored bundle of every roster org that still verifies.  An
 * expired one is held all the same: its devices are admitted so that its
 * administrator can publish the next bundle along the bundle chain, and
 * they hear why they may not send (handlers.c sender_check). */
static int
bundles_load(struct lsn_relay *r)
{
    const Liaison__Roster *ro = r->roster->r;
    char name[16 + LSN_ORG_ID_MAX];
    int own = !lsn_store_batch_open(r->store), rc;

    free(r->bundles);
    if ((r->bundles = calloc(ro->n_orgs + 1, sizeof *r->bundles)) == NULL)
        return LSN_ERR_NOMEM;
    /* Inside a round (a roster put) the batch is the round's: keep it. */
    if (own && (rc = lsn_store_batch_begin(r->store)) != 0)
        return rc;
    for (size_t i = 0; i < ro->n_orgs; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        struct lsn_bundle *b = NULL;
        snprintf(name, sizeof name, "bundle/%s", ro->orgs[i]->id);
        if (lsn_store_dir_get(r->store, name, &buf, &len) != 0)
            continue;
        if ((rc = lsn_bundle_parse(buf, len, &b)) == 0 &&
            (rc = lsn_bundle_verify(b, r->roster, lsn_relay_time(r))) == LSN_ERR_EXPIRED) {
            lsn_relay_log("held bundle of org %s (v%llu) has expired: its devices "
                          "may publish a new one but not send", ro->orgs[i]->id,
                          (unsigned long long)b->b->version);
            rc = 0;
        }
        if (rc != 0) {
            lsn_relay_log("held bundle of org %s no longer verifies (%s): its "
                          "devices are not admitted", ro->orgs[i]->id,
                          lsn_strerror(rc));
            lsn_bundle_destroy(&b);
        }
        r->bundles[i] = b;
        free(buf);
    }
    if (own)
        lsn_store_batch_abort(r->store);
    return lsn_relay_allow_rebuild(r);
}

int
lsn_relay_roster_replace(struct lsn_relay *r, struct lsn_roster *ro)
{
    int rc;

    if (r->bundles != NULL && r->roster != NULL)
        for (size_t i = 0; i < r->roster->r->n_orgs; i++)
            lsn_bundle_destroy(&r->bundles[i]);
    lsn_roster_destroy(&r->roster);
    r->roster = ro;
    r->dir_gen++;
    if ((rc = bundles_load(r)) != 0)
        return rc;
    /* The relays may have changed: forwarders follow (once running). */
    return r->zctx != NULL && r->name[0] != '\0' ? lsn_peers_rebuild(r) : 0;
}

int
lsn_relay_roster_history(struct lsn_relay *r, const struct lsn_roster *ro)
{
    char name[32];

    snprintf(name, sizeof name, "rhist/%020llu", (unsigned long long)ro->r->version);
    return lsn_store_dir_put(r->store, name, ro->bytes, ro->len);
}

/* Reads the roster file and picks it or the held one (the higher version
 * that verifies); the operator's file is trusted to jump versions. */
static int
roster_load(struct lsn_relay *r, int startup)
{
    struct lsn_roster *file = NULL, *held = NULL;
    uint8_t *bin = NULL, *hb = NULL;
    size_t len = 0, hl = 0;
    int64_t now = lsn_relay_time(r);
    int rc;

    if ((rc = lsn_signed_file_read(r->cfg.roster, LSN_TYPE_ROSTER, &bin, &len)) != 0 ||
        (rc = lsn_roster_parse(bin, len, &file)) != 0 ||
        (rc = lsn_roster_verify(file, now)) != 0) {
        lsn_set_detail("roster %s: %s", r->cfg.roster, lsn_strerror(rc));
        goto out;
    }
    if (startup) {
        if ((rc = lsn_store_batch_begin(r->store)) != 0)
            goto out;
        if (lsn_store_dir_get(r->store, "roster", &hb, &hl) == 0 &&
            lsn_roster_parse(hb, hl, &held) == 0 &&
            lsn_roster_verify(held, now) == 0 &&
            held->r->version > file->r->version) {
            lsn_relay_log("roster: held v%llu is newer than %s (v%llu); using it",
                          (unsigned long long)held->r->version, r->cfg.roster,
                          (unsigned long long)file->r->version);
            lsn_roster_destroy(&file);
            file = held;
            held = NULL;
        } else if ((rc = lsn_store_dir_put(r->store, "roster", file->bytes, file->len)) != 0 ||
                   (rc = lsn_relay_roster_history(r, file)) != 0 ||
                   (rc = lsn_store_batch_commit(r->store)) != 0) {
            goto out;
        }
        lsn_store_batch_abort(r->store);
    } else if (file->r->version < r->roster->r->version) {
        lsn_set_detail("roster %s: v%llu is older than the held v%llu",
                       r->cfg.roster, (unsigned long long)file->r->version,
                       (unsigned long long)r->roster->r->version);
        rc = LSN_ERR_ROLLBACK;
        goto out;
    } else {
        if ((rc = lsn_store_batch_begin(r->store)) != 0 ||
            (rc = lsn_store_dir_put(r->store, "roster", file->bytes, file->len)) != 0 ||
            (rc = lsn_relay_roster_history(r, file)) != 0 ||
            (rc = lsn_store_batch_commit(r->store)) != 0)
            goto out;
    }
    rc = lsn_relay_roster_replace(r, file);
    file = NULL;
out:
    lsn_store_batch_abort(r->store);
    lsn_roster_destroy(&file);
    lsn_roster_destroy(&held);
    free(bin);
    free(hb);
    return rc;
}

/* ---------------------------------------------------------- set-up */

static int
sockopt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v) == 0 ? 0 : LSN_ERR_IO;
}

/* Raises the soft descriptor limit to the hard one: a relay holds one
 * descriptor per connection, and the reserve below is taken from it. */
static void
nofile_raise(struct lsn_relay *r)
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
static size_t
tcp_max(const struct lsn_relay *r)
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
static void
reserve_check(struct lsn_relay *r)
{
    size_t max = tcp_max(r);

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
 * again), and reserve_check listens again a second later. */
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
static void
monitor_events(struct lsn_relay *r)
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
    reserve_check(r);
}

static int
sockets_open(struct lsn_relay *r)
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
    monitor_events(r);
    return 0;
}

static int
key_load(struct lsn_relay *r)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    int rc;

    if ((rc = lsn_secret_read(r->cfg.key, LSN_KEY_RELAY, NULL, &payload, &len)) != 0) {
        lsn_set_detail("relay key %s: %s (a relay key must be stored without "
                       "a passphrase)", r->cfg.key, lsn_strerror(rc));
        return rc;
    }
    if (len != 32) {
        lsn_secret_free(payload);
        lsn_set_detail("relay key %s: not a 32-byte X25519 secret", r->cfg.key);
        return LSN_ERR_MALFORMED;
    }
    if ((r->sk = sodium_malloc(32)) == NULL) {
        lsn_secret_free(payload);
        return LSN_ERR_NOMEM;
    }
    memcpy(r->sk, payload, 32);
    lsn_secret_free(payload);
    crypto_scalarmult_base(r->pk, r->sk);
    return 0;
}

/* Finds this relay in the roster by its CURVE key. */
static int
name_find(struct lsn_relay *r)
{
    const Liaison__Roster *ro = r->roster->r;

    for (size_t i = 0; i < ro->n_relays; i++)
        if (ro->relays[i]->curve_key.len == 32 &&
            sodium_memcmp(ro->relays[i]->curve_key.data, r->pk, 32) == 0) {
            snprintf(r->name, sizeof r->name, "%s", ro->relays[i]->name);
            return 0;
        }
    lsn_set_detail("this relay's key (%s) is not listed in roster v%llu: add it "
                   "with `liaison-keys roster add-relay`", r->cfg.key,
                   (unsigned long long)ro->version);
    return LSN_ERR_NOT_FOUND;
}

/* lsn_relay_new, and without sockets or forwarders for relay/offline.h
 * (online 0), with the clock fixed at now (0: the real clock). */
static int
relay_open(const struct lsn_relay_config *cfg, int online, int64_t now,
           struct lsn_relay **out)
{
    struct lsn_relay *r;
    struct lsn_store_limits lim;
    int rc;

    *out = NULL;
    if ((rc = lsn_relay_config_check(cfg)) != 0)
        return rc;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return LSN_ERR_NOMEM;
    r->cfg = *cfg;
    r->fixed_now = now;
    r->boot_tokens = boot_total_burst(cfg);
    r->boot_req_tokens = BOOT_REQ_ALL_BURST;
    r->boot_last_ms = lsn_relay_now_ms();
    r->boot_req_last_ms = r->boot_last_ms;
    if ((rc = key_load(r)) != 0)
        goto out;
    if ((rc = lsn_store_open(cfg->data, cfg->map_size, &r->store)) != 0) {
        lsn_set_detail("data %s: %s", cfg->data, lsn_store_why(r->store));
        goto out;
    }
    lim.sender_msgs = cfg->sender_msgs;
    lim.sender_bytes = cfg->sender_bytes;
    lim.recipient_msgs = cfg->recipient_msgs;
    lim.recipient_bytes = cfg->recipient_bytes;
    lim.device_backlog = cfg->device_backlog;
    lsn_store_set_limits(r->store, &lim);
    lsn_store_set_share(r->store, (unsigned)cfg->recipient_share);
    lsn_store_set_log(r->store, lsn_relay_log);
    {
        uint64_t q = 0;
        if (lsn_store_quarantined(r->store, &q) == 0 && q > 0)
            lsn_relay_log("store %s: %llu envelope(s) failed their checksum and are "
                          "in quarantine (never served)", cfg->data,
                          (unsigned long long)q);
    }
    if ((rc = roster_load(r, 1)) != 0 || (rc = name_find(r)) != 0)
        goto out;
    if (!online) {
        if ((rc = lsn_relay_allow_rebuild(r)) != 0)
            goto out;
        *out = r;
        return 0;
    }
    nofile_raise(r);
    if ((rc = sockets_open(r)) != 0 || (rc = lsn_relay_allow_rebuild(r)) != 0 ||
        (rc = lsn_peers_rebuild(r)) != 0)
        goto out;
    lsn_relay_log("relay %s listening on %s (roster v%llu, %zu keys admitted, "
                  "%zu peer relays)", r->name, r->endpoint,
                  (unsigned long long)r->roster->r->version, r->n_allow, r->n_peers);
    lsn_relay_log("descriptors: limit %llu, new connections held back from %zu open "
                  "connections on%s", (unsigned long long)r->nofile, tcp_max(r),
                  r->listen_fd < 0 ? " (cannot be held back: listening socket "
                  "unknown)" : "");
    if (tcp_max(r) < 64)
        lsn_relay_log("descriptor limit %llu is low for a relay: raise the hard "
                      "limit (ulimit -Hn, systemd LimitNOFILE) to hold more "
                      "connections", (unsigned long long)r->nofile);
    *out = r;
    r = NULL;
out:
    lsn_relay_destroy(&r);
    return rc;
}

int
lsn_relay_new(const struct lsn_relay_config *cfg, struct lsn_relay **out)
{
    return relay_open(cfg, 1, 0, out);
}

void
lsn_relay_destroy(struct lsn_relay **rp)
{
    struct lsn_relay *r = *rp;

    if (r == NULL)
        return;
    lsn_peers_destroy(r);
    lsn_peers_parked_free(r);
    if (r->mon != NULL)
        zmq_close(r->mon);
    if (r->router != NULL) {
        if (r->mon != NULL)
            zmq_socket_monitor(r->router, NULL, 0);
        zmq_close(r->router);
    }
    if (r->zap != NULL)
        zmq_close(r->zap);
    if (r->zctx != NULL)
        zmq_ctx_term(r->zctx);
    if (r->roster != NULL && r->bundles != NULL)
        for (size_t i = 0; i < r->roster->r->n_orgs; i++)
            lsn_bundle_destroy(&r->bundles[i]);
    free(r->bundles);
    lsn_roster_destroy(&r->roster);
    lsn_store_close(&r->store);
    while (r->conns != NULL) {
        struct conn *c = r->conns;
        r->conns = c->next;
        free(c);
    }
    for (size_t i = 0; i < r->n_out; i++)
        free(r->out[i].buf);
    free(r->out);
    free(r->allow);
    free(r->boot_addrs);
    lsn_relay_response_free(r);
    free(r->arena);
    free(r->pbs);
    free(r->sub_info);
    free(r->sub_fan);
    free(r->sub_names);
    if (r->sk != NULL)
        sodium_free(r->sk);
    free(r);
    *rp = NULL;
}

void
lsn_relay_stop(struct lsn_relay *r)
{
    r->stop = 1;
}

void
lsn_relay_reload(struct lsn_relay *r)
{
    r->reload = 1;
}

const char *
lsn_relay_endpoint(const struct lsn_relay *r)
{
    return r->endpoint;
}

const uint8_t *
lsn_relay_public_key(const struct lsn_relay *r)
{
    return r->pk;
}

const char *
lsn_relay_name(const struct lsn_relay *r)
{
    return r->name;
}

/* ---------------------------------------------------------- ZAP */

/* Refills a token bucket of rate per_s tokens per second up to burst. */
static void
bucket_fill(double *tokens, int64_t *last_ms, double per_s, double burst)
{
    int64_t now = lsn_relay_now_ms();

    *tokens += (double)(now - *last_ms) * per_s / 1000.0;
    if (*tokens > burst)
        *tokens = burst;
    *last_ms = now;
}

/* The budget key of source address addr (len bytes): an IPv6 address
 * by its /64, since one host is given a whole /64 and could take a fresh
 * address for every connection; any other address as it is (cut to
 * fit).  Its length. */
static size_t
boot_key(char key[64], const char *addr, size_t len)
{
    char text[INET6_ADDRSTRLEN + 1];
    struct in6_addr a6;
    const char *zone;

    if (len < sizeof text) {
        memcpy(text, addr, len);
        text[len] = '\0';
        if ((zone = strchr(text, '%')) != NULL)     /* fe80::1%eth0 */
            text[zone - text] = '\0';
        if (inet_pton(AF_INET6, text, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6))
            return (size_t)snprintf(key, 64, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64",
                                    a6.s6_addr[0], a6.s6_addr[1], a6.s6_addr[2],
                                    a6.s6_addr[3], a6.s6_addr[4], a6.s6_addr[5],
                                    a6.s6_addr[6], a6.s6_addr[7]);
    }
    if (len > 63)
        len = 63;
    memcpy(key, addr, len);
    key[len] = '\0';
    return len;
}

/* The budgets of source address addr (len bytes; boot_key), made with
 * full buckets if new; the least recently used slot is reused when the
 * table is full.  NULL without memory. */
static struct boot_addr *
boot_addr(struct lsn_relay *r, const char *raw, size_t raw_len)
{
    struct boot_addr *a, *lru = NULL;
    int64_t now = lsn_relay_now_ms();
    char addr[64];
    size_t len = boot_key(addr, raw, raw_len);

    _Static_assert(sizeof a->addr == sizeof addr, "a key fits a slot");
    if (r->boot_addrs == NULL &&
        (r->boot_addrs = calloc(BOOT_ADDRS, sizeof *r->boot_addrs)) == NULL)
        return NULL;
    for (size_t i = 0; i < r->n_boot_addrs; i++) {
        a = &r->boot_addrs[i];
        if (strlen(a->addr) == len && memcmp(a->addr, addr, len) == 0)
            return a;
        if (lru == NULL || (a->hs_ms > a->req_ms ? a->hs_ms : a->req_ms) <
                           (lru->hs_ms > lru->req_ms ? lru->hs_ms : lru->req_ms))
            lru = a;
    }
    a = r->n_boot_addrs < BOOT_ADDRS ? &r->boot_addrs[r->n_boot_addrs++] : lru;
    memcpy(a->addr, addr, len);
    a->addr[len] = '\0';
    a->hs = BOOT_BURST;
    a->req = BOOT_REQ_BURST;
    a->hs_ms = a->req_ms = now;
    return a;
}

static int
zap_frames(void *zap, zmq_msg_t *f, int max, int *n)
{
    *n = 0;
    for (;;) {
        zmq_msg_t tmp;
        int more;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&tmp);
            return *n == 0 ? LSN_ERR_NOT_FOUND : LSN_ERR_PROTOCOL;
        }
        more = zmq_msg_more(&tmp);
        if (*n < max)
            f[(*n)++] = tmp;
        else
            zmq_msg_close(&tmp);
        if (!more)
            return 0;
    }
}

static void
zap_reply(void *zap, const zmq_msg_t *reqid, const char *status,
          const char *text, const char *user, const uint8_t *meta, size_t mlen)
{
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, zmq_msg_data((zmq_msg_t *)reqid), zmq_msg_size((zmq_msg_t *)reqid),
             ZMQ_SNDMORE);
    zmq_send(zap, status, strlen(status), ZMQ_SNDMORE);
    zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(zap, meta, mlen, 0);
}

/* ZMTP metadata with one property, X-Key: the hex of the client key. */
static size_t
zap_meta(uint8_t *m, const uint8_t key[32])
{
    static const char name[] = "X-Key";
    size_t nl = sizeof name - 1;

    m[0] = (uint8_t)nl;
    memcpy(m + 1, name, nl);
    m[1 + nl] = 0;
    m[2 + nl] = 0;
    m[3 + nl] = 0;
    m[4 + nl] = 64;
    lsn_hex((char *)m + 5 + nl, key, 32);
    return 5 + nl + 64;
}

/* Logs the refused unknown keys counted so far, at most once a second: a
 * flood of fresh keys must not flood the log. */
static void
refused_log(struct lsn_relay *r)
{
    int64_t now = lsn_relay_now_ms();

    if (r->refused_n == 0 || now - r->refused_log_ms < 1000)
        return;
    if (r->refused_n == 1)
        lsn_relay_log("refused key %.16s...: not in the allow-list", r->refused_hex);
    else
        lsn_relay_log("refused %llu handshakes from keys not in the allow-list "
                      "(latest %.16s...)", (unsigned long long)r->refused_n,
                      r->refused_hex);
    r->refused_n = 0;
    r->refused_log_ms = now;
}

/* Answers one ZAP request: 200 with the identity for an admitted key. */
static void
zap_handle(struct lsn_relay *r)
{
    zmq_msg_t f[8];
    int n = 0;
    const struct allow_entry *a;
    struct boot_addr *ba;
    uint8_t key[32], meta[128];
    char user[80], hex[65];

    if (zap_frames(r->zap, f, 8, &n) != 0) {
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
        if (n > 0) /* a REP must answer what it received */
            zmq_send(r->zap, "", 0, 0);
        return;
    }
    if (n < 6 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
        zap_reply(r->zap, &f[n > 1 ? 1 : 0], "500", "bad ZAP request", "", NULL, 0);
        goto out;
    }
    if (n != 7 || zmq_msg_size(&f[5]) != 5 ||
        memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0 || zmq_msg_size(&f[6]) != 32) {
        zap_reply(r->zap, &f[1], "400", "CURVE only", "", NULL, 0);
        goto out;
    }
    memcpy(key, zmq_msg_data(&f[6]), 32);
    lsn_hex(hex, key, 32);
    if ((a = allow_find(r, key)) != NULL) {
        zap_reply(r->zap, &f[1], "200", "OK", a->id, meta, zap_meta(meta, key));
        goto out;
    }
    /* The budget of its source address, and the global one: a key cycling
     * outsider spends its own address's budget, not a new member's. */
    ba = r->cfg.bootstrap_per_minute == 0 ? NULL
         : boot_addr(r, zmq_msg_data(&f[3]), zmq_msg_size(&f[3]));
    bucket_fill(&r->boot_tokens, &r->boot_last_ms,
                boot_total_rate(&r->cfg) / 60.0,
                boot_total_burst(&r->cfg));
    if (ba != NULL)
        bucket_fill(&ba->hs, &ba->hs_ms, (double)r->cfg.bootstrap_per_minute / 60.0,
                    BOOT_BURST);
    if (ba != NULL && ba->hs >= 1.0 && r->boot_tokens >= 1.0) {
        ba->hs -= 1.0;
        r->boot_tokens -= 1.0;
        snprintf(user, sizeof user, "~%s", hex);
        lsn_relay_log("unknown key %.16s... admitted for a first bundle only", hex);
        zap_reply(r->zap, &f[1], "200", "OK", user, meta, zap_meta(meta, key));
        goto out;
    }
    r->refused_n++;
    memcpy(r->refused_hex, hex, 16);
    refused_log(r);
    zap_reply(r->zap, &f[1], "400", "key not admitted", "", NULL, 0);
out:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* ---------------------------------------------------------- connections */

/* The connection with routing id rid, or NULL. */
static struct conn *
conn_find(struct lsn_relay *r, const uint8_t *rid, size_t len)
{
    struct conn *c, **pp;

    for (pp = &r->conns; (c = *pp) != NULL; pp = &c->next)
        if (c->rid_len == len && memcmp(c->rid, rid, len) == 0) {
            /* Move to front: active connections are found first. */
            *pp = c->next;
            c->next = r->conns;
            r->conns = c;
            return c;
        }
    return NULL;
}

/* The connection with routing id rid, added if new; NULL if the table is
 * full. */
static struct conn *
conn_get(struct lsn_relay *r, const uint8_t *rid, size_t len)
{
    struct conn *c, **pp;
    int64_t now = lsn_relay_now_ms();

    if ((c = conn_find(r, rid, len)) != NULL)
        return c;
    /* Forget idle connections without a subscription before adding; if
     * none is idle, the least recently active one without a subscription
     * (the list is most recent first).  ZeroMQ does not say when a peer
     * left, so entries only go this way; forgetting one only resets its
     * rate bucket.  Only subscriptions hold a place for good. */
    if (r->n_conns >= r->cfg.max_connections) {
        struct conn **lru = NULL;
        for (pp = &r->conns; (c = *pp) != NULL;) {
            if (c->dev[0] == '\0' && now - c->last_ms > CONN_IDLE_MS) {
                *pp = c->next;
                conn_log_tick(c, INT64_MAX);
                free(c);
                r->n_conns--;
            } else {
                if (c->dev[0] == '\0')
                    lru = pp;
                pp = &c->next;
            }
        }
        if (r->n_conns >= r->cfg.max_connections && lru != NULL) {
            c = *lru;
            *lru = c->next;
            conn_log_tick(c, INT64_MAX);
            free(c);
            r->n_conns--;
        }
    }
    if (r->n_conns >= r->cfg.max_connections || (c = calloc(1, sizeof *c)) == NULL)
        return NULL;
    memcpy(c->rid, rid, len);
    c->rid_len = len;
    c->tokens = (double)r->cfg.burst;
    c->last_ms = now;
    c->next = r->conns;
    r->conns = c;
    r->n_conns++;
    return c;
}

void
lsn_relay_wake(struct lsn_relay *r, const char *org)
{
    size_t ol = org != NULL ? strlen(org) : 0;

    for (struct conn *c = r->conns; c != NULL; c = c->next)
        if (c->dev[0] != '\0' &&
            (org == NULL || (strncmp(c->dev, org, ol) == 0 && c->dev[ol] == '/')))
            c->want = 1;
}

/* ---------------------------------------------------------- replies */

static int
out_add(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
        const Liaison__Response *resp, int needs_commit)
{
    struct outmsg *o;
    int rc;

    if (r->n_out == r->cap_out) {
        size_t cap = r->cap_out ? 2 * r->cap_out : 256;
        struct outmsg *n = realloc(r->out, cap * sizeof *n);
        if (n == NULL)
            return LSN_ERR_NOMEM;
        r->out = n;
        r->cap_out = cap;
    }
    o = &r->out[r->n_out];
    memcpy(o->rid, rid, rid_len);
    o->rid_len = rid_len;
    o->req_id = resp->id;
    o->needs_commit = needs_commit;
    if ((rc = lsn_pb_encode(&resp->base, &o->buf, &o->len)) != 0)
        return rc;
    r->n_out++;
    return 0;
}

int
lsn_relay_reply(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
                const Liaison__Response *resp)
{
    return out_add(r, rid, rid_len, resp, 0);
}

static void
error_fill(Liaison__Response *resp, Liaison__WireError *e, int code,
           const char *msg)
{
    liaison__wire_error__init(e);
    e->code = code;
    e->message = (char *)(msg != NULL && msg[0] != '\0' ? msg : lsn_strerror(code));
    resp->error = e;
    resp->body_case = LIAISON__RESPONSE__BODY__NOT_SET;
}

static int
out_error(struct lsn_relay *r, const uint8_t *rid, size_t rid_len, uint64_t id,
          int code, const char *msg)
{
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError e;

    resp.id = id;
    error_fill(&resp, &e, code, msg);
    return out_add(r, rid, rid_len, &resp, 0);
}

/* Sends one frame to the connection rid (or to the test sink); a
 * connection found gone stops being pushed to. */
static void
send_frame(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
           const uint8_t *buf, size_t len)
{
    struct conn *c;

    if (r->sink != NULL) {
        r->sink(r->sink_ctx, buf, len);
        return;
    }
    if ((zmq_send(r->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
         zmq_send(r->router, buf, len, ZMQ_DONTWAIT) < 0) &&
        errno == EHOSTUNREACH && (c = conn_get(r, rid, rid_len)) != NULL)
        c->dev[0] = '\0';
}

/* The connection lsn_wire_send_parts sends a frame to. */
struct to {
    struct lsn_relay *r;
    const uint8_t *rid;
    size_t rid_len;
};

static int
to_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct to *t = ctx;

    send_frame(t->r, t->rid, t->rid_len, buf, len);
    return 0;
}

/* Sends the n replies parts[0..n) to o's connection, batched. */
static void
send_replies(struct lsn_relay *r, const struct outmsg *o,
             const struct lsn_wire_part *parts, size_t n)
{
    struct to t = { r, o->rid, o->rid_len };

    (void)lsn_wire_send_parts(LSN_WIRE_RESPONSES, parts, n, to_send, &t);
}

/* Orders replies by connection, then as they were queued. */
static int
outmsg_cmp(const void *a, const void *b)
{
    const struct outmsg *x = *(const struct outmsg *const *)a;
    const struct outmsg *y = *(const struct outmsg *const *)b;
    int c;

    if (x->rid_len != y->rid_len)
        return x->rid_len < y->rid_len ? -1 : 1;
    if ((c = memcmp(x->rid, y->rid, x->rid_len)) != 0)
        return c;
    return x < y ? -1 : x > y;
}

static int
same_conn(const struct outmsg *x, const struct outmsg *y)
{
    return x->rid_len == y->rid_len && memcmp(x->rid, y->rid, x->rid_len) == 0;
}

/* Replaces the reply of a request whose commit failed. */
static void
out_commit_failed(struct outmsg *o)
{
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError e;

    free(o->buf);
    o->buf = NULL;
    o->len = 0;
    resp.id = o->req_id;
    error_fill(&resp, &e, LSN_ERR_UNAVAILABLE,
               "the relay could not store this durably: nothing was "
               "stored; retry later");
    (void)lsn_pb_encode(&resp.base, &o->buf, &o->len);
}

/* Sends every queued reply: each connection's in one frame (in the order
 * they were queued), so a group commit's answers cost one CURVE frame
 * per connection, not one per request (docs/wire.md). */
static void
out_flush(struct lsn_relay *r, int commit_failed)
{
    struct outmsg **ord = NULL, *head = NULL;
    struct lsn_wire_part *parts = NULL;
    size_t n = 0;

    if (r->n_out == 0)
        return;
    for (size_t i = 0; commit_failed && i < r->n_out; i++)
        if (r->out[i].needs_commit)
            out_commit_failed(&r->out[i]);
    if ((ord = malloc(r->n_out * sizeof *ord)) == NULL ||
        (parts = malloc(r->n_out * sizeof *parts)) == NULL) {
        for (size_t i = 0; i < r->n_out; i++)    /* unbatched, then */
            if (r->out[i].buf != NULL)
                send_frame(r, r->out[i].rid, r->out[i].rid_len, r->out[i].buf,
                           r->out[i].len);
        goto done;
    }
    for (size_t i = 0; i < r->n_out; i++)
        ord[i] = &r->out[i];
    qsort(ord, r->n_out, sizeof *ord, outmsg_cmp);
    for (size_t i = 0; i < r->n_out; i++) {
        struct outmsg *o = ord[i];
        if (o->buf == NULL)         /* its error could not be encoded */
            continue;
        if (n > 0 && !same_conn(head, o)) {
            send_replies(r, head, parts, n);
            n = 0;
        }
        if (n == 0)
            head = o;
        parts[n++] = (struct lsn_wire_part){ o->buf, o->len };
    }
    if (n > 0)
        send_replies(r, head, parts, n);
done:
    for (size_t i = 0; i < r->n_out; i++)
        free(r->out[i].buf);
    free(parts);
    free(ord);
    r->n_out = 0;
}

/* ---------------------------------------------------------- pushes */

static int
item_to_pb(const struct lsn_store_item *it, Liaison__QueueItem *q,
           Liaison__RelayNotice **notice)
{
    liaison__queue_item__init(q);
    *notice = NULL;
    q->seq = it->seq;
    q->org = (char *)it->org;
    q->msg_id = (ProtobufCBinaryData){ LSN_MSG_ID_LEN, (uint8_t *)it->msg_id };
    if (it->envelope != NULL) {
        q->envelope = (ProtobufCBinaryData){ it->envelope_len, it->envelope };
        return 0;
    }
    if (LSN_PB_DECODE(relay_notice, it->notice, it->notice_len,
                      LSN_PB_DEFAULT_HEAP_CAP, notice) != 0)
        return LSN_ERR_CORRUPT;
    q->notice = *notice;
    return 0;
}

/* Queues one push for a subscription, holding every item ready within its
 * credit (read from the batch, sent after its commit). */
static int
push_conn(struct lsn_relay *r, struct conn *c)
{
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__Push p = LIAISON__PUSH__INIT;
    Liaison__QueueItem *q = NULL, **qp = NULL;
    Liaison__RelayNotice **notices = NULL;
    struct lsn_store_item *items = NULL;
    size_t n = 0, k = 0;
    int rc;

    c->want = 0;
    if (c->inflight >= c->credit)
        return 0;
    if ((rc = lsn_store_fetch(r->store, c->dev, c->pushed_seq, c->credit - c->inflight,
                              LSN_WIRE_REPLY_MAX, &items, &n)) != 0)
        return rc;
    if (n == 0)
        goto out;
    if ((q = malloc(n * sizeof *q)) == NULL || (qp = malloc(n * sizeof *qp)) == NULL ||
        (notices = calloc(n, sizeof *notices)) == NULL) {
        rc = LSN_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (item_to_pb(&items[i], &q[k], &notices[k]) == 0) {
            qp[k] = &q[k];
            k++;
        }
    p.items = qp;
    p.n_items = k;
    resp.id = c->sub_id;
    resp.body_case = LIAISON__RESPONSE__BODY_PUSH;
    resp.push = &p;
    if (k > 0 && (rc = out_add(r, c->rid, c->rid_len, &resp, 1)) != 0)
        goto out;
    /* Items that could not be sent (a damaged notice) are passed over. */
    c->pushed_seq = items[n - 1].seq;
    c->inflight += (uint32_t)k;
out:
    for (size_t i = 0; notices != NULL && i < n; i++)
        lsn_pb_free(notices[i] ? &notices[i]->base : NULL);
    free(notices);
    free(qp);
    free(q);
    lsn_store_items_free(items, n);
    return rc;
}

static int
push_all(struct lsn_relay *r)
{
    int rc;

    for (struct conn *c = r->conns; c != NULL; c = c->next)
        if (c->dev[0] != '\0' && c->want && (rc = push_conn(r, c)) != 0)
            return rc;
    return 0;
}

/* ---------------------------------------------------------- requests */

/* Reads the identity a request arrived with: the ZAP User-Id and the hex
 * of the CURVE key (X-Key), either possibly NULL. */
static int
who_read(const char *user, const char *key, struct who *w)
{
    const char *slash;
    size_t ol;

    memset(w, 0, sizeof *w);
    if (user == NULL || key == NULL || strlen(key) != 64 ||
        sodium_hex2bin(w->key, 32, key, 64, NULL, NULL, NULL) != 0)
        return LSN_ERR_DENIED;
    if (user[0] == '~') {
        w->kind = WHO_UNKNOWN;
        return 0;
    }
    if (strncmp(user, "relay:", 6) == 0) {
        if (strlen(user + 6) == 0 || strlen(user + 6) > LSN_NAME_MAX)
            return LSN_ERR_DENIED;
        w->kind = WHO_RELAY;
        snprintf(w->id, sizeof w->id, "%s", user);
        snprintf(w->relay, sizeof w->relay, "%s", user + 6);
        return 0;
    }
    if ((slash = strchr(user, '/')) == NULL || (ol = (size_t)(slash - user)) == 0 ||
        ol > LSN_ENV_ORG_MAX || strlen(slash + 1) == 0 ||
        strlen(slash + 1) > LSN_ENV_DEVICE_MAX)
        return LSN_ERR_DENIED;
    w->kind = WHO_DEVICE;
    memcpy(w->org, user, ol);
    snprintf(w->device, sizeof w->device, "%s", slash + 1);
    snprintf(w->id, sizeof w->id, "%s", user);
    return 0;
}

/* 1 if connection c's previous request came with the same User-Id and key
 * strings (*w is then its identity): they are parsed once per connection. */
static int
conn_who_cached(const struct conn *c, const char *user, const char *key,
                struct who *w)
{
    if (c == NULL || user == NULL || key == NULL || c->who_user[0] == '\0' ||
        strcmp(user, c->who_user) != 0 || strcmp(key, c->who_key) != 0)
        return 0;
    *w = c->who;
    return 1;
}

static void
conn_who_keep(struct conn *c, const char *user, const char *key, const struct who *w)
{
    c->who_user[0] = '\0';
    if (strlen(user) < sizeof c->who_user && strlen(key) < sizeof c->who_key) {
        c->who = *w;
        memcpy(c->who_user, user, strlen(user) + 1);
        memcpy(c->who_key, key, strlen(key) + 1);
    }
}

/* The request id of a frame not decoded yet (a refusal before the decode
 * still names the request it refuses): field 1 comes first in the
 * canonical encoding; 0 if the frame does not start with it. */
static uint64_t
peek_id(const uint8_t *body, size_t len)
{
    uint64_t id = 0;

    if (len < 2 || body[0] != 0x08)
        return 0;
    for (size_t i = 1; i < len && i <= 10; i++) {
        id |= (uint64_t)(body[i] & 0x7f) << (7 * (i - 1));
        if ((body[i] & 0x80) == 0)
            return id;
    }
    return 0;
}

/* A submit, the hot request, viewed in place: its envelope is not copied
 * out of the frame.  The view accepts only the canonical encoding of a
 * Request holding a SubmitRequest, which the strict decode would accept
 * as the same (tests/fuzz/fuzz_pb.c); -1 sends anything else to it. */
static int
submit_view(const uint8_t *body, size_t len, Liaison__Request *req,
            Liaison__SubmitRequest *sub)
{
    static const struct lsn_pb_field request_fields[] = {
        { 1, LSN_PB_VARINT }, { 3, LSN_PB_MESSAGE },
    };
    static const struct lsn_pb_field submit_fields[] = { { 1, LSN_PB_BYTES } };
    struct lsn_pb_value rv[2], sv[1];

    if (lsn_pb_scan(body, len, request_fields, 2, rv) != 0 || !rv[1].present ||
        lsn_pb_scan(rv[1].data, rv[1].len, submit_fields, 1, sv) != 0)
        return -1;
    liaison__request__init(req);
    liaison__submit_request__init(sub);
    req->id = rv[0].u;
    req->body_case = LIAISON__REQUEST__BODY_SUBMIT;
    req->submit = sub;
    sub->envelope = (ProtobufCBinaryData){ sv[0].len, (uint8_t *)sv[0].data };
    return 0;
}

#define WANT_ONE_REQUEST "malformed request: want one frame holding a liaison.Request"
#define NOT_KNOWN "not allowed: this key is not known to the relay"

/* The sender of a frame (its routing id and ZAP identity) and, once
 * admitted, its connection: every request of a batch shares them. */
struct from {
    const uint8_t *rid;
    size_t rid_len;
    const char *user, *key_hex;
    zmq_msg_t *msg;             /* its frame, for the source address; NULL offline */
    const char *addr;           /* offline: the source address */
    struct conn *c;
    struct who w;
};

/* Finds (or takes) the frame's connection and reads its identity: 0, or an
 * error code with its sentence in *why (refused before the request is
 * decoded, and before it takes a connection slot when the identity is
 * bad). */
static int
admit(struct lsn_relay *r, struct from *f, const char **why)
{
    if (f->rid_len == 0 || f->rid_len > RID_MAX) {
        *why = NULL;            /* nowhere to answer */
        return LSN_ERR_INTERNAL;
    }
    f->c = conn_find(r, f->rid, f->rid_len);
    if (conn_who_cached(f->c, f->user, f->key_hex, &f->w))
        return 0;
    if (who_read(f->user, f->key_hex, &f->w) != 0) {
        *why = "not allowed";
        return LSN_ERR_DENIED;
    }
    if (f->c == NULL && (f->c = conn_get(r, f->rid, f->rid_len)) == NULL) {
        *why = "too many connections: retry later";
        return LSN_ERR_RATE;
    }
    conn_who_keep(f->c, f->user, f->key_hex, &f->w);
    return 0;
}

/* Takes one request's token: per connection, and globally for unknown
 * keys.  These cheap checks come before the decode (and any signature
 * check).  0, or an error code with its sentence in *why. */
static int
take_token(struct lsn_relay *r, struct from *f, size_t len, const char **why)
{
    struct conn *c = f->c;

    bucket_fill(&c->tokens, &c->last_ms, (double)r->cfg.rate, (double)r->cfg.burst);
    if (c->tokens < 1.0) {
        *why = "too many requests on this connection: slow down and retry";
        return LSN_ERR_RATE;
    }
    c->tokens -= 1.0;
    if (f->w.kind == WHO_UNKNOWN) {
        const char *addr = f->msg != NULL ? zmq_msg_gets(f->msg, "Peer-Address") : f->addr;
        struct boot_addr *ba = boot_addr(r, addr != NULL ? addr : "",
                                         addr != NULL ? strlen(addr) : 0);
        bucket_fill(&r->boot_req_tokens, &r->boot_req_last_ms, BOOT_REQ_ALL_PER_S,
                    BOOT_REQ_ALL_BURST);
        if (ba != NULL)
            bucket_fill(&ba->req, &ba->req_ms, BOOT_REQ_PER_S, BOOT_REQ_BURST);
        if (ba == NULL || ba->req < 1.0 || r->boot_req_tokens < 1.0 ||
            len > r->cfg.bootstrap_max_bytes) {
            *why = NOT_KNOWN;
            return LSN_ERR_DENIED;
        }
        ba->req -= 1.0;
        r->boot_req_tokens -= 1.0;
    }
    return 0;
}

/* Decodes and handles one admitted request (body, len); a non-NULL
 * malformed refuses it with that sentence instead (a message of several
 * frames, a broken batch).  Queues exactly one reply, except for a status
 * parked for peer figures (answered later). */
static void
serve(struct lsn_relay *r, struct from *f, const uint8_t *body, size_t len,
      const char *malformed)
{
    Liaison__Request *req = NULL, view;
    Liaison__SubmitRequest view_submit;
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError e;
    size_t cap = r->cfg.max_envelope + 64u * 1024u;
    int needs_commit = 0, rc;

    r->msg[0] = '\0';
    if (malformed == NULL && len <= cap &&
        submit_view(body, len, &view, &view_submit) == 0)
        req = &view;
    else if (malformed != NULL || LSN_PB_DECODE(request, body, len, cap, &req) != 0) {
        out_error(r, f->rid, f->rid_len, 0,
                  f->w.kind == WHO_UNKNOWN ? LSN_ERR_DENIED : LSN_ERR_MALFORMED,
                  f->w.kind == WHO_UNKNOWN ? NOT_KNOWN
                  : malformed != NULL ? malformed : WANT_ONE_REQUEST);
        return;
    }
    resp.id = req->id;
    r->park = 0;
    rc = lsn_relay_dispatch(r, f->c, &f->w, req, &resp, &needs_commit);
    if (rc == 0 && r->park) {       /* answered later (peer figures) */
        lsn_relay_response_free(r);
        if (req != &view)
            lsn_pb_free(&req->base);
        return;
    }
    if (rc != 0) {
        lsn_relay_response_free(r);
        resp.body_case = LIAISON__RESPONSE__BODY__NOT_SET;
        error_fill(&resp, &e, rc, r->msg);
        needs_commit = 0;
    }
    if (out_add(r, f->rid, f->rid_len, &resp, needs_commit) != 0)
        lsn_relay_log("cannot queue a reply: out of memory");
    if (rc == 0)
        lsn_relay_response_free(r);
    if (req != &view)
        lsn_pb_free(&req->base);
}

/* Handles one request that came as a frame of its own (docs/wire.md). */
static void
request_one(struct lsn_relay *r, struct from *f, const uint8_t *body, size_t len,
            const char *malformed)
{
    const char *why;
    int rc;

    if ((rc = admit(r, f, &why)) != 0) {
        /* An identity the relay cannot read gets nothing of its own back. */
        if (why != NULL)
            out_error(r, f->rid, f->rid_len, rc == LSN_ERR_RATE ? peek_id(body, len) : 0,
                      rc, why);
        return;
    }
    if ((rc = take_token(r, f, len, &why)) != 0) {
        out_error(r, f->rid, f->rid_len, peek_id(body, len), rc, why);
        return;
    }
    serve(r, f, body, len, malformed);
}

/* Refuses the requests parts[0..n) of a batch with one answer: code and
 * sentence, the first one's id, the others' ids in error.also. */
static void
refuse_parts(struct lsn_relay *r, const struct from *f, const struct lsn_wire_part *parts,
             size_t n, int code, const char *why)
{
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError e;

    if (n == 0 || why == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        r->batch_ids[i] = peek_id(parts[i].buf, parts[i].len);
    resp.id = r->batch_ids[0];
    error_fill(&resp, &e, code, why);
    e.also = r->batch_ids + 1;
    e.n_also = n - 1;
    if (out_add(r, f->rid, f->rid_len, &resp, 0) != 0)
        lsn_relay_log("cannot queue a reply: out of memory");
}

static int
part_keep(void *ctx, const uint8_t *buf, size_t len)
{
    struct lsn_relay *r = ctx;

    r->batch_parts[r->n_batch_parts++] = (struct lsn_wire_part){ buf, len };
    return 0;
}

/* Handles a batch frame's requests in order, each as if it had come alone
 * (docs/wire.md "Batched requests"), except that the frame's sender is
 * admitted once, and a refusal of the sender, or of the requests left
 * when the connection's tokens run out, is one answer for all of them
 * (error.also): one small frame never costs the relay thousands of
 * answers.  0 with the requests it held in *held (1 for a batch refused
 * whole), or LSN_ERR_NOT_FOUND if the frame is not a batch. */
static int
batch_handle(struct lsn_relay *r, struct from *f, const uint8_t *body, size_t len,
             uint64_t *held)
{
    const char *why;
    size_t i = 0;
    int rc;

    r->n_batch_parts = 0;
    if ((rc = lsn_wire_batch_each(LSN_WIRE_REQUESTS, body, len, part_keep, r)) != 0) {
        if (rc == LSN_ERR_NOT_FOUND)
            return rc;
        /* Refused whole, nothing of it read: no id is known. */
        *held = 1;
        request_one(r, f, body, len, rc == LSN_ERR_TOO_LARGE
                    ? "malformed request: a batch holds at most 4096 requests of 64 KiB"
                    : "malformed request: an empty or broken batch of requests");
        return 0;
    }
    *held = r->n_batch_parts;
    if ((rc = admit(r, f, &why)) != 0) {
        /* An identity the relay cannot read gets nothing of its own back. */
        if (rc == LSN_ERR_DENIED)
            out_error(r, f->rid, f->rid_len, 0, rc, why);
        else
            refuse_parts(r, f, r->batch_parts, r->n_batch_parts, rc, why);
        return 0;
    }
    if (f->w.kind == WHO_UNKNOWN) {     /* it may only put its bundle, alone */
        refuse_parts(r, f, r->batch_parts, r->n_batch_parts, LSN_ERR_DENIED, NOT_KNOWN);
        return 0;
    }
    for (; i < r->n_batch_parts; i++) {
        if ((rc = take_token(r, f, r->batch_parts[i].len, &why)) != 0)
            break;
        serve(r, f, r->batch_parts[i].buf, r->batch_parts[i].len, NULL);
    }
    if (i < r->n_batch_parts)
        refuse_parts(r, f, r->batch_parts + i, r->n_batch_parts - i, rc, why);
    return 0;
}

/* Handles a request frame (body, len): a batch, or one request; extra
 * says the message had more than one frame.  Returns the requests it
 * held. */
static uint64_t
frame_handle(struct lsn_relay *r, struct from *f, const uint8_t *body,
             size_t len, int extra)
{
    uint64_t held = 1;

    if (!extra && batch_handle(r, f, body, len, &held) == 0)
        return held;
    request_one(r, f, body, len, extra ? WANT_ONE_REQUEST : NULL);
    return 1;
}

/* Receives one ROUTER message: 0 (adding its request bytes to *bytes and
 * the requests it held to *n), or LSN_ERR_NOT_FOUND when none waits. */
static int
router_recv(struct lsn_relay *r, uint64_t *bytes, uint64_t *n)
{
    zmq_msg_t rid, body;
    int extra = 0;

    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, r->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        return LSN_ERR_NOT_FOUND;
    }
    zmq_msg_init(&body);
    if (!zmq_msg_more(&rid) || zmq_msg_recv(&body, r->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
        (*n)++;                     /* counts toward the batch all the same */
        return 0;
    }
    /* Further frames make the request malformed; drain them. */
    while (zmq_msg_more(&body)) {
        zmq_msg_t x;
        zmq_msg_init(&x);
        int more = zmq_msg_recv(&x, r->router, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&x);
        zmq_msg_close(&x);
        extra = 1;
        if (!more)
            break;
    }
    *bytes += zmq_msg_size(&body);
    struct from f = {
        .rid = zmq_msg_data(&rid), .rid_len = zmq_msg_size(&rid),
        .user = zmq_msg_gets(&body, "User-Id"), .key_hex = zmq_msg_gets(&body, "X-Key"),
        .msg = &body,
    };
    *n += frame_handle(r, &f, zmq_msg_data(&body), zmq_msg_size(&body), extra);
    zmq_msg_close(&rid);
    zmq_msg_close(&body);
    return 0;
}

/* ---------------------------------------------------------- the loop */

static size_t
devices_of(void *ctx, const char *org, const char **names, size_t max)
{
    struct lsn_relay *r = ctx;
    int i = lsn_relay_org_index(r, org);
    size_t n = 0;

    if (i < 0 || r->bundles[i] == NULL)
        return 0;
    for (size_t j = 0; j < r->bundles[i]->b->n_devices && n < max; j++)
        if (r->bundles[i]->b->devices[j]->may_receive)
            names[n++] = r->bundles[i]->b->devices[j]->name;
    return n;
}

static int
expire_tick(struct lsn_relay *r)
{
    size_t n = 0;
    int rc;

    if ((rc = lsn_store_expire(r->store, lsn_relay_time(r), 1000, r->name, devices_of, r, &n)) != 0)
        return rc;
    if (n > 0) {
        lsn_relay_log("expired %zu message(s); senders notified of undelivered ones", n);
        r->dirty = 1;
        lsn_relay_wake(r, NULL);
    }
    return 0;
}

/* One round: drain requests into a batch, commit, send. */
static int
round_run(struct lsn_relay *r, int do_expire)
{
    uint64_t n = 0, bytes = 0;
    int rc, failed = 0;

    if ((rc = lsn_store_batch_begin(r->store)) != 0)
        return rc;
    r->dirty = 0;
    /* The batch's writes stay in memory until its commit: bound it by
     * requests and by bytes (at least one request always fits). */
    while (n < r->cfg.batch_max && bytes < r->cfg.batch_max_bytes &&
           router_recv(r, &bytes, &n) == 0)
        ;
    lsn_peers_recv(r);
    lsn_peers_tick(r);
    if (do_expire && (rc = expire_tick(r)) != 0)
        lsn_relay_log("expiry failed: %s", lsn_strerror(rc));
    if ((rc = push_all(r)) != 0)
        lsn_relay_log("push failed: %s", lsn_strerror(rc));
    lsn_peers_fill(r);
    if (r->dirty) {
        if (lsn_store_batch_commit(r->store) != 0) {
            lsn_relay_log("store commit failed: %s; every request of this batch is "
                          "answered UNAVAILABLE and the relay stops (a failed write "
                          "or fsync is not retried): check the disk, then restart it",
                          lsn_store_why(r->store));
            failed = 1;
        }
    } else {
        lsn_store_batch_abort(r->store);
    }
    out_flush(r, failed);
    lsn_peers_flush(r, failed);
    return failed ? LSN_ERR_IO : 0;
}

/* Imports the bundle file at path in a batch of its own, committed
 * durably, then sent on to the peers.  0 or an error, its sentence in
 * lsn_detail(). */
static int
import_file(struct lsn_relay *r, const char *path)
{
    uint8_t *bin = NULL;
    size_t len = 0;
    int rc, failed = 0;

    if ((rc = lsn_signed_file_read(path, LSN_TYPE_BUNDLE, &bin, &len)) != 0) {
        lsn_set_detail("%s: %s", path, lsn_strerror(rc));
        return rc;
    }
    if ((rc = lsn_store_batch_begin(r->store)) != 0) {
        lsn_set_detail("%s: %s", path, lsn_store_why(r->store));
        free(bin);
        return rc;
    }
    r->dirty = 0;
    rc = lsn_relay_import_bundle(r, bin, len);
    free(bin);
    if (rc != 0) {
        lsn_set_detail("%s: %s", path, r->msg[0] ? r->msg : lsn_strerror(rc));
        lsn_store_batch_abort(r->store);
    } else if (r->dirty && (rc = lsn_store_batch_commit(r->store)) != 0) {
        lsn_set_detail("%s: not stored: %s", path, lsn_store_why(r->store));
        failed = 1;
    } else if (!r->dirty) {
        lsn_store_batch_abort(r->store);
    }
    lsn_peers_flush(r, failed);
    return rc;
}

/* SIGHUP: imports every DATA/import/NAME.signed, each renamed to
 * NAME.signed.imported or NAME.signed.refused, the outcome logged. */
static void
import_dropins(struct lsn_relay *r)
{
    char dir[PATH_MAX], from[PATH_MAX + 256], to[PATH_MAX + 272];
    struct stat st;
    struct dirent *e;
    DIR *d;

    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", r->cfg.data, LSN_RELAY_IMPORT_DIR) >=
        sizeof dir || (d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL && !lsn_store_failed(r->store)) {
        size_t n = strlen(e->d_name);
        int rc;
        if (n < 8 || strcmp(e->d_name + n - 7, ".signed") != 0 || e->d_name[0] == '.')
            continue;
        snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
        /* Only a regular file: opening a FIFO would block the relay. */
        if (stat(from, &st) != 0 || !S_ISREG(st.st_mode)) {
            lsn_set_detail("%s: not a regular file", from);
            rc = LSN_ERR_INVALID;
        } else {
            rc = import_file(r, from);
        }
        if (rc == 0)
            lsn_relay_log("SIGHUP: imported %s", from);
        else
            lsn_relay_log("SIGHUP: import refused: %s", lsn_detail());
        snprintf(to, sizeof to, "%s.%s", from, rc == 0 ? "imported" : "refused");
        if (rename(from, to) != 0)
            lsn_relay_log("SIGHUP: cannot rename %s: %s", from, strerror(errno));
    }
    closedir(d);
}

int
lsn_relay_import(const struct lsn_relay_config *cfg, const char *path, int *in_use)
{
    struct lsn_relay *r = NULL;
    int rc;

    *in_use = 0;
    if ((rc = relay_open(cfg, 0, 0, &r)) != 0) {
        *in_use = rc == LSN_ERR_IO && strstr(lsn_detail(), "in use by another") != NULL;
        return rc;
    }
    rc = import_file(r, path);
    lsn_relay_destroy(&r);
    return rc;
}

static void
reload_roster(struct lsn_relay *r)
{
    r->reload = 0;
    if (roster_load(r, 0) != 0)
        lsn_relay_log("SIGHUP: roster not reloaded: %s", lsn_detail());
    else
        lsn_relay_log("SIGHUP: roster v%llu loaded, %zu keys admitted",
                      (unsigned long long)r->roster->r->version, r->n_allow);
}

int
lsn_relay_run(struct lsn_relay *r)
{
    int64_t last_expire = 0;
    int rc = 0;

    zmq_pollitem_t *it = NULL;
    size_t cap = 0;

    while (!r->stop) {
        int64_t now;
        int n, peer_in = 0;
        size_t ni;
        if (it == NULL || cap < 3 + 2 * r->n_peers) {
            zmq_pollitem_t *x = realloc(it, (3 + 2 * r->n_peers) * sizeof *x);
            if (x == NULL) {
                rc = LSN_ERR_NOMEM;
                break;
            }
            it = x;
            cap = 3 + 2 * r->n_peers;
        }
        it[0] = (zmq_pollitem_t){ r->zap, 0, ZMQ_POLLIN, 0 };
        it[1] = (zmq_pollitem_t){ r->router, 0, ZMQ_POLLIN, 0 };
        it[2] = (zmq_pollitem_t){ r->mon, 0, ZMQ_POLLIN, 0 };
        ni = 3 + lsn_peers_poll_fill(r, it + 3);
        n = zmq_poll(it, (int)ni, TICK_MS);
        if (n < 0 && errno != EINTR) {
            lsn_relay_log("poll failed: %s", zmq_strerror(errno));
            rc = LSN_ERR_IO;
            break;
        }
        if (r->reload) {
            reload_roster(r);
            import_dropins(r);
        }
        if (n > 0 && (it[0].revents & ZMQ_POLLIN))
            for (int k = 0; k < 64; k++) {
                zmq_pollitem_t z = { r->zap, 0, ZMQ_POLLIN, 0 };
                if (zmq_poll(&z, 1, 0) <= 0)
                    break;
                zap_handle(r);
            }
        /* Connections counted before requests are served: the reserve
         * holds new ones back as soon as it is reached. */
        if (n > 0 && (it[2].revents & ZMQ_POLLIN))
            monitor_events(r);
        for (size_t k = 3; n > 0 && k < ni; k++)
            peer_in |= (it[k].revents & ZMQ_POLLIN) != 0;
        if (peer_in)
            lsn_peers_events(r);
        now = lsn_relay_now_ms();
        int do_expire = now - last_expire >= 1000;
        if (do_expire) {
            last_expire = now;
            refused_log(r);
            req_log_tick(r);
            if (r->paused || r->unbound)
                reserve_check(r);
        }
        if ((n > 0 && (it[1].revents & ZMQ_POLLIN)) || do_expire || peer_in ||
            lsn_peers_due(r, now)) {
            if ((rc = round_run(r, do_expire)) != 0)
                break;
        }
        /* Any failed commit (a round's, a roster reload's) is final. */
        if (lsn_store_failed(r->store)) {
            rc = LSN_ERR_IO;
            break;
        }
    }
    free(it);
    if (rc != 0)
        lsn_relay_log("relay %s stopping: %s", r->name,
                      lsn_store_failed(r->store) ? "the store failed a commit"
                                                 : lsn_strerror(rc));
    else
        lsn_relay_log("relay %s stopping: last commit finished", r->name);
    return rc;
}

/* ---------------------------------------------------------- offline */

int
lsn_relay_open_offline(const struct lsn_relay_config *cfg, int64_t now,
                       struct lsn_relay **out)
{
    return relay_open(cfg, 0, now, out);
}

int
lsn_relay_offline_round(struct lsn_relay *r, const char *user, const char *key_hex,
                        const uint8_t *const *frames, const size_t *lens, size_t n,
                        unsigned flags, lsn_relay_reply_fn fn, void *ctx)
{
    static const uint8_t rid[] = { 0, 'o', 'f', 'f' };
    int rc, failed = 0;

    if ((rc = lsn_store_batch_begin(r->store)) != 0)
        return rc;
    r->dirty = 0;
    for (size_t i = 0; i < n; i++) {
        struct from f = { .rid = rid, .rid_len = sizeof rid, .user = user,
                          .key_hex = key_hex, .addr = r->offline_addr };
        frame_handle(r, &f, frames[i], lens[i],
                     (flags & LSN_OFFLINE_EXTRA) != 0 && i + 1 == n);
    }
    if ((rc = push_all(r)) != 0)
        lsn_relay_log("push failed: %s", lsn_strerror(rc));
    rc = 0;
    if ((flags & LSN_OFFLINE_COMMIT) != 0 && r->dirty) {
        if ((rc = lsn_store_batch_commit(r->store)) != 0)
            failed = 1;
    } else {
        lsn_store_batch_abort(r->store);
    }
    r->sink = fn;
    r->sink_ctx = ctx;
    out_flush(r, failed);
    r->sink = NULL;
    r->sink_ctx = NULL;
    return rc;
}

void
lsn_relay_offline_set_addr(struct lsn_relay *r, const char *addr)
{
    snprintf(r->offline_addr, sizeof r->offline_addr, "%s", addr);
}

void
lsn_relay_offline_reset(struct lsn_relay *r)
{
    while (r->conns != NULL) {
        struct conn *c = r->conns;
        r->conns = c->next;
        free(c);
    }
    r->n_conns = 0;
    r->boot_tokens = boot_total_burst(&r->cfg);
    r->boot_req_tokens = BOOT_REQ_ALL_BURST;
    r->boot_last_ms = r->boot_req_last_ms = lsn_relay_now_ms();
    r->n_boot_addrs = 0;
}

uint64_t
lsn_relay_offline_dir_gen(const struct lsn_relay *r)
{
    return r->dir_gen;
}
