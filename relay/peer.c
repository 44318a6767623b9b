/* peer.c: federation, the relay's side as a client of its peer relays
 * (docs/design.md "Federation"; docs/relay.md "Federation").
 *
 * One forwarder per other relay of the roster: a CURVE DEALER with this
 * relay's key pair to the peer's roster endpoint and key, plus a socket
 * monitor, so each CURVE handshake starts a session and each disconnect
 * ends one.  A session sends the whole directory first (rosters oldest
 * first, bundles, key deliveries: the peer keeps only what verifies and is
 * newer) and then the outbound queue "@peer" from its start, at most
 * peer_window forwards in flight, each with Request.id = its queue seq.
 * An entry leaves the queue only when the peer answered it, which it does
 * after its own durable commit, and that removal is itself committed
 * before anything more is sent.  A refusal for now (quota, rate, a bundle
 * not there yet, ...) backs off exponentially and resends from the start;
 * the peer drops duplicates by (sender org, msg_id).  Every frame is
 * prepared inside the store batch and sent only after its commit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "keys/bundle.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/wire.h"
#include "relay/log.h"
#include "relay/peer.h"
#include "relay/status.h"

#define ID_DIR       (1ull << 62)   /* directory sync asks */
#define ID_STATUS    (1ull << 61)   /* peer status asks */
#define ID_TAGS      (ID_DIR | ID_STATUS)
#define SYNC_MAX     4096           /* directory objects of one kind per sync */
/* A peer answers forwards, syncs and status asks only: a StatusReply of 256
 * recipient orgs of 512 devices each, every device named in 64 bytes, is
 * about 10 MiB. */
#define PEER_REPLY_MAX (12 * 1024 * 1024)
/* Answers held unread per peer: ZeroMQ stops reading the connection past
 * it (no answer is lost), and it bounds what a hostile peer's largest
 * answers may take of this relay's memory.  An honest peer answers each
 * request frame with about one frame, and every round drains them. */
#define PEER_RCVHWM    32

_Static_assert((uint64_t)PEER_RCVHWM * PEER_REPLY_MAX <= 512ull * 1024 * 1024,
               "a peer's unread answers stay within 512 MiB");

/* A forward in flight: Request.id is the outbound queue seq. */
struct flight {
    uint64_t seq;
    char org[LSN_ENV_ORG_MAX + 1];
    uint8_t msg_id[LSN_MSG_ID_LEN];
    int64_t sent_ms;
};

/* The forwarder of one peer relay: a CURVE DEALER to the
 * peer's roster endpoint with this relay's key pair, and a monitor that
 * says when a session starts (handshake) or ends (disconnect). */
struct peer {
    char name[LSN_NAME_MAX + 1];
    char endpoint[256];
    uint8_t key[32];
    void *sock, *mon;
    int up;                         /* handshake done, not disconnected */
    int sync;                       /* full directory sync due */
    int want;                       /* the outbound queue may have news */
    int retry;                      /* a transient refusal: resend later */
    int deferred;                   /* this pass left an item for later (QUOTA) */
    uint64_t sent_seq;              /* highest seq sent this session */
    struct flight *fl;              /* peer_window entries, oldest first */
    size_t n_fl;
    int64_t next_ms;                /* back-off: no sends before */
    int64_t backoff_ms;
    struct lsn_wire_part *frames;   /* to send after the commit (owned) */
    int send_errno;                 /* why the last send failed */
    size_t n_frames, cap_frames;
};

/* ---------------------------------------------------------- set-up */

static int
sock_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v) == 0 ? 0 : LSN_ERR_IO;
}

static void
frames_clear(struct peer *p)
{
    for (size_t i = 0; i < p->n_frames; i++)
        free((void *)p->frames[i].buf);
    p->n_frames = 0;
}

static void
peer_close(struct peer *p)
{
    if (p->mon != NULL)
        zmq_close(p->mon);
    if (p->sock != NULL) {
        zmq_socket_monitor(p->sock, NULL, 0);
        zmq_close(p->sock);
    }
    frames_clear(p);
    free(p->frames);
    free(p->fl);
    memset(p, 0, sizeof *p);
}

/* Opens the DEALER and its monitor; connecting is asynchronous. */
static int
peer_open(struct lsn_relay *r, struct peer *p, const Liaison__RosterRelay *rel)
{
    int64_t maxmsg = PEER_REPLY_MAX;
    char mon[96];

    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", rel->name);
    snprintf(p->endpoint, sizeof p->endpoint, "%s", rel->endpoint);
    memcpy(p->key, rel->curve_key.data, 32);
    p->backoff_ms = (int64_t)r->cfg.peer_backoff_ms;
    if ((p->fl = calloc(r->cfg.peer_window, sizeof *p->fl)) == NULL)
        return LSN_ERR_NOMEM;
    if ((p->sock = zmq_socket(r->zctx, ZMQ_DEALER)) == NULL)
        return LSN_ERR_IO;
    if (zmq_setsockopt(p->sock, ZMQ_CURVE_SERVERKEY, p->key, 32) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_CURVE_PUBLICKEY, r->pk, 32) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_CURVE_SECRETKEY, r->sk, 32) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        sock_int(p->sock, ZMQ_LINGER, 0) != 0 ||
        /* Sends fail at once while no session is up: nothing piles up in
         * a pipe that a restart of the peer would lose unnoticed. */
        sock_int(p->sock, ZMQ_IMMEDIATE, 1) != 0 ||
        sock_int(p->sock, ZMQ_RECONNECT_IVL, (int)r->cfg.peer_backoff_ms) != 0 ||
        sock_int(p->sock, ZMQ_RECONNECT_IVL_MAX, (int)r->cfg.peer_backoff_max_ms) != 0 ||
        sock_int(p->sock, ZMQ_HEARTBEAT_IVL, (int)r->cfg.heartbeat_ms) != 0 ||
        sock_int(p->sock, ZMQ_HEARTBEAT_TIMEOUT, 3 * (int)r->cfg.heartbeat_ms) != 0 ||
        sock_int(p->sock, ZMQ_SNDHWM, 100000) != 0 ||
        /* Answers queued from the peer (ZeroMQ stops reading past it). */
        sock_int(p->sock, ZMQ_RCVHWM, PEER_RCVHWM) != 0)
        return LSN_ERR_IO;
    snprintf(mon, sizeof mon, "inproc://lsn-peer-%p", (void *)p->sock);
    if (zmq_socket_monitor(p->sock, mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                           ZMQ_EVENT_DISCONNECTED |
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0 ||
        (p->mon = zmq_socket(r->zctx, ZMQ_PAIR)) == NULL ||
        sock_int(p->mon, ZMQ_LINGER, 0) != 0 || zmq_connect(p->mon, mon) != 0)
        return LSN_ERR_IO;
    if (zmq_connect(p->sock, p->endpoint) != 0) {
        lsn_relay_log("peer relay %s: cannot connect to %s: %s", p->name, p->endpoint,
                      zmq_strerror(errno));
        return LSN_ERR_INVALID;
    }
    return 0;
}

int
lsn_peers_rebuild(struct lsn_relay *r)
{
    const Liaison__Roster *ro = r->roster->r;
    struct peer *np;
    size_t n = 0;
    int rc = 0;

    if ((np = calloc(ro->n_relays + 1, sizeof *np)) == NULL)
        return LSN_ERR_NOMEM;
    for (size_t i = 0; i < ro->n_relays; i++) {
        const Liaison__RosterRelay *rel = ro->relays[i];
        struct peer *old = NULL;
        if (strcmp(rel->name, r->name) == 0 || rel->curve_key.len != 32)
            continue;
        for (size_t j = 0; j < r->n_peers; j++)
            if (r->peers[j].sock != NULL && strcmp(r->peers[j].name, rel->name) == 0 &&
                strcmp(r->peers[j].endpoint, rel->endpoint) == 0 &&
                memcmp(r->peers[j].key, rel->curve_key.data, 32) == 0)
                old = &r->peers[j];
        if (old != NULL) {          /* unchanged: keep its session */
            np[n++] = *old;
            memset(old, 0, sizeof *old);
            continue;
        }
        if ((rc = peer_open(r, &np[n], rel)) != 0) {
            peer_close(&np[n]);
            lsn_relay_log("peer relay %s: forwarder not started: %s", rel->name,
                          lsn_strerror(rc));
            rc = 0;
            continue;
        }
        lsn_relay_log("peer relay %s at %s: forwarder started", rel->name, rel->endpoint);
        n++;
    }
    lsn_peers_destroy(r);
    r->peers = np;
    r->n_peers = n;
    return rc;
}

void
lsn_peers_destroy(struct lsn_relay *r)
{
    for (size_t i = 0; i < r->n_peers; i++)
        peer_close(&r->peers[i]);
    free(r->peers);
    r->peers = NULL;
    r->n_peers = 0;
}

static struct peer *
peer_find(struct lsn_relay *r, const char *name)
{
    for (size_t i = 0; i < r->n_peers; i++)
        if (strcmp(r->peers[i].name, name) == 0)
            return &r->peers[i];
    return NULL;
}

void
lsn_peers_wake(struct lsn_relay *r, const char *name)
{
    struct peer *p = peer_find(r, name);

    if (p != NULL)
        p->want = 1;
}

/* ---------------------------------------------------------- sessions */

/* Forgets what is in flight: the next send starts from the queue head. */
static void
session_reset(struct peer *p)
{
    p->n_fl = 0;
    p->sent_seq = 0;
    p->retry = 0;
    p->deferred = 0;
    p->want = 1;
}

/* Doubles the back-off (up to its cap) and waits it out. */
static void
back_off(struct lsn_relay *r, struct peer *p)
{
    int64_t now = lsn_relay_now_ms();

    p->next_ms = now + p->backoff_ms;
    p->backoff_ms *= 2;
    if (p->backoff_ms > (int64_t)r->cfg.peer_backoff_max_ms)
        p->backoff_ms = (int64_t)r->cfg.peer_backoff_max_ms;
}

size_t
lsn_peers_poll_fill(struct lsn_relay *r, zmq_pollitem_t *it)
{
    size_t n = 0;

    for (size_t i = 0; i < r->n_peers; i++) {
        it[n++] = (zmq_pollitem_t){ r->peers[i].sock, 0, ZMQ_POLLIN, 0 };
        it[n++] = (zmq_pollitem_t){ r->peers[i].mon, 0, ZMQ_POLLIN, 0 };
    }
    return n;
}

static void
peer_event(struct lsn_relay *r, struct peer *p, uint16_t ev)
{
    switch (ev) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        lsn_relay_log("peer relay %s: session up", p->name);
        p->up = 1;
        p->sync = 1;
        p->next_ms = 0;
        p->backoff_ms = (int64_t)r->cfg.peer_backoff_ms;
        session_reset(p);
        break;
    case ZMQ_EVENT_DISCONNECTED:
        if (p->up)
            lsn_relay_log("peer relay %s: session down (%zu forwards unanswered "
                          "will be sent again)", p->name, p->n_fl);
        p->up = 0;
        session_reset(p);
        break;
    default:
        lsn_relay_log("peer relay %s refused this relay's key at the handshake "
                      "(is this relay in its roster?)", p->name);
        p->up = 0;
        break;
    }
}

void
lsn_peers_events(struct lsn_relay *r)
{
    for (size_t i = 0; i < r->n_peers; i++) {
        struct peer *p = &r->peers[i];
        for (int k = 0; k < 64; k++) {
            zmq_msg_t m;
            uint16_t ev = 0;
            int more;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, p->mon, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            if (zmq_msg_size(&m) >= 2)
                memcpy(&ev, zmq_msg_data(&m), 2);
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            while (more) {          /* the endpoint frame */
                zmq_msg_init(&m);
                more = zmq_msg_recv(&m, p->mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&m);
                zmq_msg_close(&m);
            }
            peer_event(r, p, ev);
        }
    }
}

int
lsn_peers_due(struct lsn_relay *r, int64_t now)
{
    if (lsn_parked_due(r, now))
        return 1;
    for (size_t i = 0; i < r->n_peers; i++) {
        struct peer *p = &r->peers[i];
        if (!p->up)
            continue;
        if (p->n_fl > 0 && now - p->fl[0].sent_ms > (int64_t)r->cfg.peer_timeout_ms)
            return 1;
        if (now < p->next_ms)
            continue;
        if (p->sync || (p->retry && p->n_fl == 0) ||
            (p->want && !p->retry && p->n_fl < r->cfg.peer_window))
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------- frames */

/* Frames go to a peer in request batches (docs/wire.md), as a client's
 * pipelined requests do. */
static int
peer_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct peer *p = ctx;

    if (zmq_send(p->sock, buf, len, ZMQ_DONTWAIT) < 0) {
        p->send_errno = errno;
        return LSN_ERR_IO;
    }
    return 0;
}

static int
frame_add(struct peer *p, const Liaison__Request *req)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (p->n_frames == p->cap_frames) {
        size_t cap = p->cap_frames ? 2 * p->cap_frames : 64;
        struct lsn_wire_part *n = realloc(p->frames, cap * sizeof *n);
        if (n == NULL)
            return LSN_ERR_NOMEM;
        p->frames = n;
        p->cap_frames = cap;
    }
    if ((rc = lsn_pb_encode(&req->base, &buf, &len)) != 0)
        return rc;
    p->frames[p->n_frames++] = (struct lsn_wire_part){ buf, len };
    return 0;
}

static int
dir_frame(struct lsn_relay *r, struct peer *p, Liaison__DirKind kind,
          const uint8_t *obj, size_t len)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__DirPutRequest d = LIAISON__DIR_PUT_REQUEST__INIT;

    req.id = ID_DIR | (++r->peer_ids & 0xffffffffffffull);
    req.body_case = LIAISON__REQUEST__BODY_DIR_SYNC;
    req.dir_sync = &d;
    d.kind = kind;
    d.object = (ProtobufCBinaryData){ len, (uint8_t *)obj };
    return frame_add(p, &req);
}

void
lsn_peers_dir_push(struct lsn_relay *r, Liaison__DirKind kind, const uint8_t *obj,
                   size_t len)
{
    for (size_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].up && !r->peers[i].sync &&
            dir_frame(r, &r->peers[i], kind, obj, len) != 0)
            r->peers[i].sync = 1;   /* could not queue it: sync everything */
}

/* Every stored object under prefix, oldest name first, as dir syncs. */
static int
sync_prefix(struct lsn_relay *r, struct peer *p, const char *prefix,
            Liaison__DirKind kind)
{
    uint8_t **bufs = NULL;
    size_t *lens = NULL, n = 0;
    int rc;

    if ((rc = lsn_store_dir_list(r->store, prefix, &bufs, &lens, &n, SYNC_MAX)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = dir_frame(r, p, kind, bufs[i], lens[i]);
        free(bufs[i]);
    }
    free(bufs);
    free(lens);
    return rc;
}

/* The whole directory: every roster version held (the peer can only step
 * one version at a time), every bundle, every key delivery. */
static int
sync_all(struct lsn_relay *r, struct peer *p)
{
    int rc;

    if ((rc = sync_prefix(r, p, "rhist/", LIAISON__DIR_KIND__DIR_ROSTER)) != 0 ||
        (rc = dir_frame(r, p, LIAISON__DIR_KIND__DIR_ROSTER, r->roster->bytes,
                        r->roster->len)) != 0)
        return rc;
    for (size_t i = 0; i < r->roster->r->n_orgs; i++)
        if (r->bundles[i] != NULL &&
            (rc = dir_frame(r, p, LIAISON__DIR_KIND__DIR_BUNDLE, r->bundles[i]->bytes,
                            r->bundles[i]->len)) != 0)
            return rc;
    return sync_prefix(r, p, "delivery/", LIAISON__DIR_KIND__DIR_DELIVERY);
}

/* Forwards from the outbound queue beyond sent_seq, within the window. */
static int
fill_forwards(struct lsn_relay *r, struct peer *p)
{
    struct lsn_store_item *items = NULL;
    char q[LSN_PEER_QUEUE_MAX + 1];
    size_t n = 0, room = r->cfg.peer_window - p->n_fl;
    int rc;

    p->want = 0;
    snprintf(q, sizeof q, "@%s", p->name);
    if ((rc = lsn_store_fetch(r->store, q, p->sent_seq, room, LSN_WIRE_REPLY_MAX,
                              &items, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        Liaison__Request req = LIAISON__REQUEST__INIT;
        Liaison__ForwardRequest f = LIAISON__FORWARD_REQUEST__INIT;
        struct flight *fl;
        if (items[i].envelope == NULL)  /* only messages go to peers */
            continue;
        req.id = items[i].seq;
        req.body_case = LIAISON__REQUEST__BODY_FORWARD;
        req.forward = &f;
        f.envelope = (ProtobufCBinaryData){ items[i].envelope_len, items[i].envelope };
        if ((rc = frame_add(p, &req)) != 0)
            break;
        fl = &p->fl[p->n_fl++];
        fl->seq = items[i].seq;
        snprintf(fl->org, sizeof fl->org, "%s", items[i].org);
        memcpy(fl->msg_id, items[i].msg_id, LSN_MSG_ID_LEN);
        fl->sent_ms = lsn_relay_now_ms();
        p->sent_seq = items[i].seq;
    }
    if (n > 0 && n == room)
        p->want = 1;                /* a full window: there may be more */
    /* The pass reached the end of the queue with items left for later:
     * start the next pass from the head once the back-off is over. */
    if (n == 0 && p->n_fl == 0 && p->deferred) {
        session_reset(p);
        back_off(r, p);
    }
    lsn_store_items_free(items, n);
    return rc;
}

void
lsn_peers_fill(struct lsn_relay *r)
{
    int64_t now = lsn_relay_now_ms();
    int rc;

    for (size_t i = 0; i < r->n_peers; i++) {
        struct peer *p = &r->peers[i];
        if (!p->up)
            continue;
        if (p->n_fl > 0 && now - p->fl[0].sent_ms > (int64_t)r->cfg.peer_timeout_ms) {
            lsn_relay_log("peer relay %s: %zu forwards unanswered for %llu ms: "
                          "sending the queue again", p->name, p->n_fl,
                          (unsigned long long)r->cfg.peer_timeout_ms);
            session_reset(p);
            back_off(r, p);
        }
        if (now < p->next_ms)
            continue;
        if (p->sync) {
            p->sync = 0;
            if ((rc = sync_all(r, p)) != 0)
                lsn_relay_log("peer relay %s: directory sync not sent: %s", p->name,
                              lsn_strerror(rc));
        }
        if (p->retry && p->n_fl == 0)
            session_reset(p);
        if (!p->retry && p->want && p->n_fl < r->cfg.peer_window &&
            (rc = fill_forwards(r, p)) != 0)
            lsn_relay_log("peer relay %s: outbound queue not read: %s", p->name,
                          lsn_strerror(rc));
    }
}

void
lsn_peers_flush(struct lsn_relay *r, int commit_failed)
{
    for (size_t i = 0; i < r->n_peers; i++) {
        struct peer *p = &r->peers[i];
        if (commit_failed)
            session_reset(p);
        else if (lsn_wire_send_parts(LSN_WIRE_REQUESTS, p->frames, p->n_frames,
                                     peer_send, p) != 0) {
            /* No session (IMMEDIATE) or a full pipe: try again later. */
            lsn_relay_log("peer relay %s unreachable: %s; retrying", p->name,
                          zmq_strerror(p->send_errno));
            session_reset(p);
            p->sync = 1;
            back_off(r, p);
        }
        frames_clear(p);
    }
}

/* ---------------------------------------------------------- answers */

/* Refusals that no retry can change: the entry goes (its orgs marked
 * dropped); every other refusal waits and is tried again.  A sender
 * device that the peer's held bundle does not list, or lists as not
 * sending, is final: a session syncs the directory before any forward,
 * and the peer's recipients judge the sender by the bundle the peer
 * holds, so they could only refuse it too. */
static int
final_refusal(int code)
{
    return code == LSN_ERR_MALFORMED || code == LSN_ERR_TOO_LARGE ||
           code == LSN_ERR_LIMIT || code == LSN_ERR_TTL || code == LSN_ERR_EXPIRED ||
           code == LSN_ERR_SUITE || code == LSN_ERR_UNKNOWN_DEVICE ||
           code == LSN_ERR_REVOKED;
}

static void
forward_answer(struct lsn_relay *r, struct peer *p, const Liaison__Response *resp)
{
    struct flight *fl = NULL;
    size_t k;
    int found = 0, rc, code = 0;
    char hex[33];

    for (k = 0; k < p->n_fl; k++)
        if (p->fl[k].seq == resp->id) {
            fl = &p->fl[k];
            break;
        }
    if (fl == NULL)     /* from an earlier session: resent since */
        return;
    if (resp->error != NULL)
        code = resp->error->code < 0 ? resp->error->code : LSN_ERR_PROTOCOL;
    else if (resp->body_case != LIAISON__RESPONSE__BODY_FORWARD)
        code = LSN_ERR_PROTOCOL;
    lsn_hex(hex, fl->msg_id, LSN_MSG_ID_LEN);
    if (code == 0 || final_refusal(code)) {
        if ((rc = lsn_store_forward_done(r->store, p->name, fl->org, fl->msg_id,
                                         code != 0, &found)) != 0)
            lsn_relay_log("peer relay %s: forward of %s not recorded: %s", p->name,
                          hex, lsn_strerror(rc));
        else
            r->dirty = 1;
        if (code != 0)
            lsn_relay_log("peer relay %s refused message %s from %s for good: %.200s",
                          p->name, hex, fl->org, resp->error->message);
    } else if (code == LSN_ERR_QUOTA) {
        /* One sender's share, or one recipient's quota, is full at the
         * peer: that message waits, and the pass goes on past it, so one
         * member's backlog never holds back what other orgs send over
         * this link.  The next pass (fill_forwards) offers it again. */
        if (!p->deferred)
            lsn_relay_log("peer relay %s: message %s from %s refused for now "
                          "(%.200s); sending what follows, retrying it later",
                          p->name, hex, fl->org, resp->error->message);
        p->deferred = 1;
    } else {
        if (!p->retry)
            lsn_relay_log("peer relay %s: message %s from %s refused for now "
                          "(%.200s); retrying", p->name, hex, fl->org,
                          resp->error != NULL ? resp->error->message : "");
        p->retry = 1;
        back_off(r, p);
    }
    /* A pass that left items for later keeps its back-off growing, so
     * that they are offered again at most every peer_backoff_max_ms. */
    if (code == 0 && !p->deferred)
        p->backoff_ms = (int64_t)r->cfg.peer_backoff_ms;
    memmove(&p->fl[k], &p->fl[k + 1], (p->n_fl - k - 1) * sizeof *p->fl);
    p->n_fl--;
    p->want = 1;
}

struct answer_ctx {
    struct lsn_relay *r;
    struct peer *p;
    size_t n;               /* answers taken this round */
};

/* Acts on one answer of peer relay p (lsn_wire_response_fn). */
static void
peer_answer_one(struct answer_ctx *a, Liaison__Response *resp)
{
    if ((resp->id & ID_TAGS) == 0)
        forward_answer(a->r, a->p, resp);
    else if (resp->id & ID_STATUS)
        lsn_parked_answer(a->r, a->p->name, resp);
    else if (resp->error != NULL && resp->error->code != LSN_ERR_ROLLBACK)
        lsn_relay_log("peer relay %s did not take a directory object: %.200s",
                      a->p->name, resp->error->message);
}

static int
peer_answer(void *ctx, Liaison__Response *resp)
{
    struct answer_ctx *a = ctx;
    size_t n_also = resp->error != NULL ? resp->error->n_also : 0;

    a->n++;
    peer_answer_one(a, resp);
    /* An error answering several requests at once (docs/wire.md "Batched
     * requests"): the same answer to each forward or status ask it lists
     * (a directory object's refusal is logged once). */
    if (n_also > LSN_WIRE_BATCH_ITEMS - 1)
        n_also = LSN_WIRE_BATCH_ITEMS - 1;
    for (size_t i = 0; i < n_also; i++) {
        resp->id = resp->error->also[i];
        a->n++;
        if ((resp->id & ID_TAGS) == 0 || (resp->id & ID_STATUS))
            peer_answer_one(a, resp);
    }
    lsn_pb_free(&resp->base);
    return 0;
}

void
lsn_peers_recv(struct lsn_relay *r)
{
    for (size_t i = 0; i < r->n_peers; i++) {
        struct answer_ctx a = { r, &r->peers[i], 0 };
        /* A round takes a bounded number of answers from each peer. */
        while (a.n < 100000) {
            zmq_msg_t m;
            int more, rc = LSN_ERR_MALFORMED;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, a.p->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (!more)
                rc = lsn_wire_frame_each(zmq_msg_data(&m), zmq_msg_size(&m),
                                         PEER_REPLY_MAX, peer_answer, &a);
            zmq_msg_close(&m);
            while (more) {      /* a peer sends one frame; drop the rest */
                zmq_msg_init(&m);
                more = zmq_msg_recv(&m, a.p->sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&m);
                zmq_msg_close(&m);
            }
            if (rc != 0)
                lsn_relay_log("peer relay %s sent an undecodable answer", a.p->name);
        }
    }
}

/* ---------------------------------------------------------- status */

int
lsn_peers_status_ask(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
                     uint64_t req_id,
                     const uint8_t msg_id[LSN_MSG_ID_LEN], const char *org,
                     int known, int64_t accepted, int64_t expires,
                     struct lsn_store_rstatus *st, size_t n)
{
    struct parked *k;

    if ((k = lsn_parked_new(r, n)) == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct peer *p = st[i].relay[0] != '\0' && st[i].forwarded
                         ? peer_find(r, st[i].relay) : NULL;
        Liaison__Request req = LIAISON__REQUEST__INIT;
        Liaison__PeerStatusRequest q = LIAISON__PEER_STATUS_REQUEST__INIT;
        if (p == NULL || !p->up || !lsn_parked_may_ask(k, p->name))
            continue;
        req.id = ID_STATUS | (++r->peer_ids & 0xffffffffffffull);
        req.body_case = LIAISON__REQUEST__BODY_PEER_STATUS;
        req.peer_status = &q;
        q.org = (char *)org;
        q.msg_id = (ProtobufCBinaryData){ LSN_MSG_ID_LEN, (uint8_t *)msg_id };
        if (frame_add(p, &req) != 0)
            continue;
        lsn_parked_ask(k, req.id, p->name);
    }
    return lsn_parked_park(r, k, rid, rid_len, req_id, known, accepted, expires, st, n);
}
