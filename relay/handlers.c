/* handlers.c: the relay's request table (docs/wire.md).  One handler per
 * request kind, each a small function that checks who may ask, does the
 * work against the current store batch and fills the response (h_*.c for
 * all but the smallest); the dispatcher applies the checks every request
 * shares (the identity is still admitted) before the table entry runs. */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "proto/err.h"
#include "relay/arena.h"
#include "relay/conn.h"
#include "relay/dir.h"
#include "relay/handlers.h"
#include "relay/log.h"

/* ---------------------------------------------------------- unknown keys */

void
lsn_relay_unknown_look(struct lsn_relay *r, struct who *w)
{
    w->gone = w->kind == WHO_UNKNOWN &&
              lsn_store_gone_get(r->store, w->key, &w->gone_from) == 0;
}

/* Only the holder of the key completed the CURVE handshake with it, so
 * telling it which bundle removed its device tells no one else anything. */
int
lsn_relay_unknown_refusal(struct lsn_relay *r, const struct who *w)
{
    char day[16] = "";
    struct tm tm;
    time_t t;

    if (!w->gone) {
        lsn_relay_msg(r, "%s", lsn_strerror(LSN_ERR_UNPUBLISHED));
        return LSN_ERR_UNPUBLISHED;
    }
    t = (time_t)w->gone_from.issued;
    if (w->gone_from.issued > 0 && gmtime_r(&t, &tm) != NULL)
        strftime(day, sizeof day, " on %Y-%m-%d", &tm);
    lsn_relay_msg(r, "this device key was removed from %s's bundle v%llu%s: "
                  "ask your administrator", w->gone_from.org,
                  (unsigned long long)w->gone_from.version, day);
    return LSN_ERR_KEY_REMOVED;
}

/* ---------------------------------------------------------- hello, ping */

/* The first size - 1 bytes of a client's free text, for a log line:
 * control bytes (C0, DEL, C1 as UTF-8) become '?', so a client cannot
 * forge log lines or drive the operator's terminal. */
static void
log_text(char *out, size_t size, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    size_t n = 0;

    for (; *p != '\0' && n + 1 < size; p++) {
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            out[n++] = '?';
            p++;
        } else {
            out[n++] = *p < 0x20 || *p == 0x7f ? '?' : (char)*p;
        }
    }
    out[n] = '\0';
}

static int
h_hello(struct lsn_relay *r, struct conn *c, const struct who *w,
        const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    char client[41];
    Liaison__HelloReply *h = lsn_arena_alloc(r, sizeof *h);
    char *id = lsn_arena_alloc(r, sizeof w->id);

    (void)c;
    (void)commit;
    if (h == NULL || id == NULL)
        return LSN_ERR_NOMEM;
    liaison__hello_reply__init(h);
    memcpy(id, w->id, sizeof w->id);
    h->relay = r->name;
    h->roster_version = r->roster->r->version;
    h->server_time = lsn_relay_time(r);
    h->identity = id;
    h->max_envelope = (uint32_t)r->cfg.max_envelope;
    h->max_batch = (uint32_t)r->cfg.fetch_max;
    resp->body_case = LIAISON__RESPONSE__BODY_HELLO;
    resp->hello = h;
    log_text(client, sizeof client, req->hello->client);
    lsn_relay_log_req(r, "hello from %s (%s)", w->id, client);
    return 0;
}

static int
h_ping(struct lsn_relay *r, struct conn *c, const struct who *w,
       const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    Liaison__PingReply *p = lsn_arena_alloc(r, sizeof *p);

    (void)c;
    (void)w;
    (void)commit;
    if (p == NULL)
        return LSN_ERR_NOMEM;
    liaison__ping_reply__init(p);
    p->data = req->ping->data;   /* borrowed: req outlives the encode */
    p->server_time = lsn_relay_time(r);
    resp->body_case = LIAISON__RESPONSE__BODY_PING;
    resp->ping = p;
    return 0;
}

/* ---------------------------------------------------------- the table */

typedef int (*handler_fn)(struct lsn_relay *, struct conn *, const struct who *,
                          const Liaison__Request *, Liaison__Response *, int *);

static const struct handler {
    Liaison__Request__BodyCase body;
    const char *name;
    handler_fn fn;
} handlers[] = {
    { LIAISON__REQUEST__BODY_HELLO,     "hello",     h_hello },
    { LIAISON__REQUEST__BODY_SUBMIT,    "submit",    h_submit },
    { LIAISON__REQUEST__BODY_SUBSCRIBE, "subscribe", h_subscribe },
    { LIAISON__REQUEST__BODY_FETCH,     "fetch",     h_fetch },
    { LIAISON__REQUEST__BODY_ACK,       "ack",       h_ack },
    { LIAISON__REQUEST__BODY_DIR_GET,   "dir-get",   h_dir_get },
    { LIAISON__REQUEST__BODY_DIR_PUT,   "dir-put",   h_dir_put },
    { LIAISON__REQUEST__BODY_STATUS,    "status",    h_status },
    { LIAISON__REQUEST__BODY_PING,      "ping",      h_ping },
};

/* What a peer relay may ask, and nothing else. */
static const struct handler relay_handlers[] = {
    { LIAISON__REQUEST__BODY_FORWARD,     "forward",     h_forward },
    { LIAISON__REQUEST__BODY_DIR_SYNC,    "dir-sync",    h_dir_sync },
    { LIAISON__REQUEST__BODY_PEER_STATUS, "peer-status", h_peer_status },
};

/* A peer relay's request: the relay must still be in the roster with the
 * key it connected with. */
static int
dispatch_relay(struct lsn_relay *r, struct conn *c, const struct who *w,
               const Liaison__Request *req, Liaison__Response *resp,
               int *needs_commit)
{
    const Liaison__RosterRelay *rel = lsn_roster_find_relay(r->roster, w->relay);

    if (rel == NULL || rel->curve_key.len != 32 ||
        sodium_memcmp(rel->curve_key.data, w->key, 32) != 0 ||
        strcmp(w->relay, r->name) == 0) {
        lsn_relay_msg(r, "relay %s is not a peer in roster v%llu", w->relay,
                      (unsigned long long)r->roster->r->version);
        return LSN_ERR_DENIED;
    }
    for (size_t i = 0; i < sizeof relay_handlers / sizeof relay_handlers[0]; i++)
        if (relay_handlers[i].body == req->body_case)
            return relay_handlers[i].fn(r, c, w, req, resp, needs_commit);
    lsn_relay_msg(r, "a peer relay may only forward, sync the directory or ask "
                  "the status of what it forwarded");
    lsn_relay_log_refusal(c, "refused a request of kind %d from %s", (int)req->body_case,
                          w->id);
    return LSN_ERR_DENIED;
}

int
lsn_relay_dispatch(struct lsn_relay *r, struct conn *c, const struct who *w,
                   const Liaison__Request *req, Liaison__Response *resp,
                   int *needs_commit)
{
    *needs_commit = 0;
    if (w->kind == WHO_UNKNOWN) {
        /* One thing only, and one answer for every refusal. */
        int rc = LSN_ERR_DENIED;
        if (req->body_case == LIAISON__REQUEST__BODY_DIR_PUT &&
            req->dir_put->kind == LIAISON__DIR_KIND__DIR_BUNDLE)
            rc = h_dir_put(r, c, w, req, resp, needs_commit);
        return rc != 0 ? lsn_relay_unknown_refusal(r, w) : 0;
    }
    if (w->kind == WHO_RELAY)
        return dispatch_relay(r, c, w, req, resp, needs_commit);
    if (w->kind != WHO_DEVICE) {
        lsn_relay_msg(r, "not allowed");
        return LSN_ERR_DENIED;
    }
    if (lsn_relay_current_device(r, w) == NULL) {
        lsn_conn_unsubscribe(c, w->id);
        lsn_relay_msg(r, "device %s is no longer in its organisation's current "
                      "bundle (revoked or re-keyed)", w->id);
        lsn_relay_log_refusal(c, "refused %s: not in its org's current bundle", w->id);
        return LSN_ERR_REVOKED;
    }
    for (size_t i = 0; i < sizeof relay_handlers / sizeof relay_handlers[0]; i++)
        if (relay_handlers[i].body == req->body_case) {
            lsn_relay_msg(r, "only a peer relay may %s; %s is a device",
                          relay_handlers[i].name, w->id);
            lsn_relay_log_refusal(c, "refused %s from device %s: a relay-only request",
                                  relay_handlers[i].name, w->id);
            return LSN_ERR_DENIED;
        }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (handlers[i].body == req->body_case)
            return handlers[i].fn(r, c, w, req, resp, needs_commit);
    lsn_relay_msg(r, "request %llu carries no known request kind",
                  (unsigned long long)req->id);
    return LSN_ERR_MALFORMED;
}
