/* status.c: a message's delivery status as the wire states it, from the
 * store's figures, for a client's status request and a peer relay's; and
 * the client status requests parked while peer relays that took copies
 * are asked for their figures (docs/relay.md "Delivery states",
 * "Federation"): each is answered once every peer asked has answered, or
 * when peer_status_wait_ms has passed, with what it has by then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "relay/arena.h"
#include "relay/log.h"
#include "relay/out.h"
#include "relay/status.h"

#define PARKED_MAX   1024
#define ASK_MAX      8              /* peer relays asked per status */

/* A status request waiting for peer relays' figures. */
struct parked {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    uint64_t req_id;
    int64_t deadline_ms;
    int known;
    int64_t accepted, expires;
    struct lsn_store_rstatus *st;   /* malloc'd, n entries */
    int *answered;                  /* per entry: a peer's figures */
    struct lsn_store_dstate **peer_dev; /* per entry: a peer's devices (malloc'd) */
    size_t n;
    uint64_t ask[ASK_MAX];                /* peer status request ids outstanding */
    char ask_peer[ASK_MAX][LSN_NAME_MAX + 1];
    size_t n_ask;
    struct parked *next;
};

static Liaison__DeviceState
dev_state_pb(uint8_t state, int expired)
{
    switch (state) {
    case LSN_STORE_DEV_DELIVERED: return LIAISON__DEVICE_STATE__DEVICE_DELIVERED;
    case LSN_STORE_DEV_REFUSED:   return LIAISON__DEVICE_STATE__DEVICE_REFUSED;
    case LSN_STORE_DEV_TRIMMED:   return LIAISON__DEVICE_STATE__DEVICE_TRIMMED;
    case LSN_STORE_DEV_DROPPED:   return LIAISON__DEVICE_STATE__DEVICE_DROPPED;
    default:
        return expired ? LIAISON__DEVICE_STATE__DEVICE_EXPIRED
                       : LIAISON__DEVICE_STATE__DEVICE_QUEUED;
    }
}

int
lsn_relay_status_fill(struct lsn_relay *r, Liaison__StatusReply *s, int known,
                      int64_t accepted, int64_t expires,
                      const struct lsn_store_rstatus *st, const int *answered,
                      size_t n)
{
    Liaison__RecipientStatus **rs, *x;
    int expired = expires < lsn_relay_time(r);

    liaison__status_reply__init(s);
    if ((rs = lsn_arena_alloc(r, (n + 1) * sizeof *rs)) == NULL ||
        (x = lsn_arena_alloc(r, (n + 1) * sizeof *x)) == NULL)
        return LSN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char *org = lsn_arena_alloc(r, sizeof st[i].org), *relay = lsn_arena_alloc(r, sizeof st[i].relay);
        Liaison__DeviceStatus **dp = lsn_arena_alloc(r, (st[i].n_dev + 1) * sizeof *dp);
        Liaison__DeviceStatus *d = lsn_arena_alloc(r, (st[i].n_dev + 1) * sizeof *d);
        if (org == NULL || relay == NULL || dp == NULL || d == NULL)
            return LSN_ERR_NOMEM;
        for (size_t j = 0; j < st[i].n_dev; j++) {
            const struct lsn_store_dstate *ds = &st[i].dev[j];
            char *name = lsn_arena_alloc(r, sizeof ds->name);
            if (name == NULL)
                return LSN_ERR_NOMEM;
            memcpy(name, ds->name, sizeof ds->name);
            liaison__device_status__init(&d[j]);
            d[j].device = name;
            d[j].state = dev_state_pb(ds->state, expired);
            d[j].reason = ds->state == LSN_STORE_DEV_REFUSED ? ds->reason : 0;
            dp[j] = &d[j];
        }
        memcpy(org, st[i].org, sizeof st[i].org);
        memcpy(relay, st[i].relay, sizeof st[i].relay);
        liaison__recipient_status__init(&x[i]);
        x[i].org = org;
        x[i].devices = st[i].devices;
        x[i].delivered = st[i].delivered;
        x[i].trimmed = st[i].trimmed;
        x[i].dropped = st[i].dropped;
        x[i].expired = expired;
        x[i].relay = relay;
        x[i].forwarded = st[i].forwarded;
        x[i].relay_answered = answered != NULL && answered[i];
        x[i].refused = st[i].refused;
        x[i].device_states = dp;
        x[i].n_device_states = st[i].n_dev;
        rs[i] = &x[i];
    }
    s->known = known;
    s->accepted = accepted;
    s->expires = expires;
    s->recipients = rs;
    s->n_recipients = n;
    return 0;
}

/* ---------------------------------------------------------- parked */

static void
parked_free(struct parked *k)
{
    for (size_t i = 0; k->peer_dev != NULL && i < k->n; i++)
        free(k->peer_dev[i]);
    free(k->peer_dev);
    free(k->st);
    free(k->answered);
    free(k);
}

/* Answers a parked status with what it has and forgets it. */
static void
parked_finish(struct lsn_relay *r, struct parked **pp)
{
    struct parked *k = *pp;
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__StatusReply s = LIAISON__STATUS_REPLY__INIT;

    *pp = k->next;
    r->n_parked--;
    resp.id = k->req_id;
    if (lsn_relay_status_fill(r, &s, k->known, k->accepted, k->expires, k->st,
                              k->answered, k->n) == 0) {
        resp.body_case = LIAISON__RESPONSE__BODY_STATUS;
        resp.status = &s;
        if (lsn_relay_reply(r, k->rid, k->rid_len, &resp) != 0)
            lsn_relay_log("cannot queue a status reply: out of memory");
    }
    lsn_relay_response_free(r);
    parked_free(k);
}

void
lsn_parked_sweep(struct lsn_relay *r)
{
    int64_t now = lsn_relay_now_ms();
    struct parked **pp = &r->parked;

    while (*pp != NULL)
        if ((*pp)->n_ask == 0 || now >= (*pp)->deadline_ms)
            parked_finish(r, pp);
        else
            pp = &(*pp)->next;
}

/* The peer's per-device states for entry i of a parked status: at most a
 * bundle's devices, each named as a bundle names a device; anything else
 * is left out (the counts above are the peer's either way). */
static void
peer_devices(struct parked *k, size_t i, const Liaison__RecipientStatus *x)
{
    struct lsn_store_dstate *d;
    size_t n = 0;

    k->st[i].dev = NULL;
    k->st[i].n_dev = 0;
    free(k->peer_dev[i]);
    k->peer_dev[i] = NULL;
    if (x->n_device_states == 0 || x->n_device_states > LSN_BUNDLE_MAX_DEVICES ||
        (d = calloc(x->n_device_states, sizeof *d)) == NULL)
        return;
    for (size_t j = 0; j < x->n_device_states; j++) {
        const Liaison__DeviceStatus *y = x->device_states[j];
        uint8_t state;
        if (lsn_name_check(y->device) != 0)
            continue;
        switch (y->state) {
        case LIAISON__DEVICE_STATE__DEVICE_DELIVERED: state = LSN_STORE_DEV_DELIVERED; break;
        case LIAISON__DEVICE_STATE__DEVICE_REFUSED:   state = LSN_STORE_DEV_REFUSED; break;
        case LIAISON__DEVICE_STATE__DEVICE_TRIMMED:   state = LSN_STORE_DEV_TRIMMED; break;
        case LIAISON__DEVICE_STATE__DEVICE_DROPPED:   state = LSN_STORE_DEV_DROPPED; break;
        default:                                      state = LSN_STORE_DEV_QUEUED; break;
        }
        snprintf(d[n].name, sizeof d[n].name, "%s", y->device);
        d[n].state = state;
        d[n].reason = state == LSN_STORE_DEV_REFUSED && y->reason < 0 &&
                      y->reason >= LSN_STORE_REASON_MIN ? y->reason : 0;
        n++;
    }
    k->peer_dev[i] = d;
    k->st[i].dev = d;
    k->st[i].n_dev = n;
}

void
lsn_parked_answer(struct lsn_relay *r, const char *peer, const Liaison__Response *resp)
{
    const Liaison__StatusReply *s = resp->peer_status;

    for (struct parked *k = r->parked; k != NULL; k = k->next)
        for (size_t a = 0; a < k->n_ask; a++) {
            if (k->ask[a] != resp->id || strcmp(k->ask_peer[a], peer) != 0)
                continue;
            k->ask[a] = k->ask[--k->n_ask];
            memcpy(k->ask_peer[a], k->ask_peer[k->n_ask], sizeof k->ask_peer[a]);
            if (resp->error != NULL || resp->body_case != LIAISON__RESPONSE__BODY_PEER_STATUS ||
                !s->known)
                goto done;
            for (size_t i = 0; i < k->n; i++) {
                if (strcmp(k->st[i].relay, peer) != 0)
                    continue;
                for (size_t j = 0; j < s->n_recipients; j++) {
                    const Liaison__RecipientStatus *x = s->recipients[j];
                    if (strcmp(x->org, k->st[i].org) != 0)
                        continue;
                    k->st[i].devices = x->devices;
                    k->st[i].delivered = x->delivered;
                    k->st[i].trimmed = x->trimmed;
                    k->st[i].dropped = x->dropped;
                    k->st[i].refused = x->refused;
                    peer_devices(k, i, x);
                    k->answered[i] = 1;
                }
            }
            goto done;
        }
done:
    lsn_parked_sweep(r);
}

struct parked *
lsn_parked_new(struct lsn_relay *r, size_t n)
{
    struct parked *k;

    if (r->cfg.peer_status_wait_ms == 0 || r->n_parked >= PARKED_MAX ||
        (k = calloc(1, sizeof *k)) == NULL)
        return NULL;
    if ((k->answered = calloc(n + 1, sizeof *k->answered)) == NULL ||
        (k->peer_dev = calloc(n + 1, sizeof *k->peer_dev)) == NULL) {
        free(k->answered);
        free(k);
        return NULL;
    }
    return k;
}

int
lsn_parked_may_ask(const struct parked *k, const char *peer)
{
    if (k->n_ask >= ASK_MAX)
        return 0;
    for (size_t a = 0; a < k->n_ask; a++)
        if (strcmp(k->ask_peer[a], peer) == 0)
            return 0;
    return 1;
}

void
lsn_parked_ask(struct parked *k, uint64_t id, const char *peer)
{
    k->ask[k->n_ask] = id;
    snprintf(k->ask_peer[k->n_ask], sizeof k->ask_peer[0], "%s", peer);
    k->n_ask++;
}

int
lsn_parked_park(struct lsn_relay *r, struct parked *k, const uint8_t *rid,
                size_t rid_len, uint64_t req_id, int known, int64_t accepted,
                int64_t expires, struct lsn_store_rstatus *st, size_t n)
{
    if (k->n_ask == 0) {
        parked_free(k);
        return 0;
    }
    memcpy(k->rid, rid, rid_len);
    k->rid_len = rid_len;
    k->req_id = req_id;
    k->deadline_ms = lsn_relay_now_ms() + (int64_t)r->cfg.peer_status_wait_ms;
    k->known = known;
    k->accepted = accepted;
    k->expires = expires;
    k->st = st;                     /* ownership passes */
    k->n = n;
    k->next = r->parked;
    r->parked = k;
    r->n_parked++;
    return 1;
}

int
lsn_parked_due(const struct lsn_relay *r, int64_t now_ms)
{
    for (const struct parked *k = r->parked; k != NULL; k = k->next)
        if (now_ms >= k->deadline_ms)
            return 1;
    return 0;
}

void
lsn_parked_free_all(struct lsn_relay *r)
{
    while (r->parked != NULL) {
        struct parked *k = r->parked;
        r->parked = k->next;
        parked_free(k);
    }
    r->n_parked = 0;
}
