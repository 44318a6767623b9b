/* relay.c: liaison-relay's set-up and loop (relay.h, docs/relay.md).
 *
 * One thread, one ZeroMQ context.  The ZAP handler (bound on
 * inproc://zeromq.zap.01 before the ROUTER exists) admits a CURVE key only
 * if the allow-list built from the roster and the held bundles names it;
 * an unknown key is admitted, under a global rate limit, as "unknown" and
 * may then only put its own org's first bundle.  The loop is a group
 * commit: it drains every request that arrived (up to batch_max) into one
 * store batch, commits it durably, and only then sends the replies and
 * pushes, so everything that arrived while a commit ran goes into the next
 * one and no client hears "stored" before the fsync.  The work of each
 * step lives in the file named for it: zap.c, listen.c, request.c (and
 * the handlers), conn.c, out.c, peer.c, dir.c. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <zmq.h>

#include "keys/keyfile.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"
#include "relay/arena.h"
#include "relay/conn.h"
#include "relay/dir.h"
#include "relay/handlers.h"
#include "relay/listen.h"
#include "relay/log.h"
#include "relay/offline.h"
#include "relay/out.h"
#include "relay/peer.h"
#include "relay/request.h"
#include "relay/status.h"
#include "relay/zap.h"

#define TICK_MS       200

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
    lsn_zap_budgets_reset(r);
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
    if ((rc = lsn_relay_roster_load(r, 1)) != 0 || (rc = name_find(r)) != 0)
        goto out;
    if (!online) {
        if ((rc = lsn_relay_allow_rebuild(r)) != 0)
            goto out;
        *out = r;
        return 0;
    }
    lsn_listen_nofile(r);
    if ((rc = lsn_listen_open(r)) != 0 || (rc = lsn_relay_allow_rebuild(r)) != 0 ||
        (rc = lsn_peers_rebuild(r)) != 0)
        goto out;
    lsn_relay_log("relay %s listening on %s (roster v%llu, %zu keys admitted, "
                  "%zu peer relays)", r->name, r->endpoint,
                  (unsigned long long)r->roster->r->version, r->n_allow, r->n_peers);
    lsn_relay_log("descriptors: limit %llu, new connections held back from %zu open "
                  "connections on%s", (unsigned long long)r->nofile, lsn_listen_tcp_max(r),
                  r->listen_fd < 0 ? " (cannot be held back: listening socket "
                  "unknown)" : "");
    if (lsn_listen_tcp_max(r) < 64)
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
    lsn_parked_free_all(r);
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
    lsn_conns_free(r);
    lsn_out_free(r);
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
           lsn_request_recv(r, &bytes, &n) == 0)
        ;
    lsn_peers_recv(r);
    lsn_parked_sweep(r);
    if (do_expire && (rc = expire_tick(r)) != 0)
        lsn_relay_log("expiry failed: %s", lsn_strerror(rc));
    if ((rc = lsn_conns_push(r)) != 0)
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
    lsn_out_flush(r, failed, lsn_conn_gone);
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
    if (lsn_relay_roster_load(r, 0) != 0)
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
                lsn_zap_handle(r);
            }
        /* Connections counted before requests are served: the reserve
         * holds new ones back as soon as it is reached. */
        if (n > 0 && (it[2].revents & ZMQ_POLLIN))
            lsn_listen_events(r);
        for (size_t k = 3; n > 0 && k < ni; k++)
            peer_in |= (it[k].revents & ZMQ_POLLIN) != 0;
        if (peer_in)
            lsn_peers_events(r);
        now = lsn_relay_now_ms();
        int do_expire = now - last_expire >= 1000;
        if (do_expire) {
            last_expire = now;
            lsn_zap_refused_log(r);
            lsn_conns_log_tick(r);
            if (r->paused || r->unbound)
                lsn_listen_check(r);
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
    int rc, failed = 0;

    if ((rc = lsn_store_batch_begin(r->store)) != 0)
        return rc;
    r->dirty = 0;
    for (size_t i = 0; i < n; i++)
        lsn_request_offline(r, user, key_hex, frames[i], lens[i],
                            (flags & LSN_OFFLINE_EXTRA) != 0 && i + 1 == n);
    if ((rc = lsn_conns_push(r)) != 0)
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
    lsn_out_flush(r, failed, lsn_conn_gone);
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
    lsn_conns_free(r);
    lsn_zap_budgets_reset(r);
}

uint64_t
lsn_relay_offline_dir_gen(const struct lsn_relay *r)
{
    return r->dir_gen;
}
