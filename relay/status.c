/* status.c: a message's delivery status as the wire states it, from the
 * store's figures, for a client's status request, a peer relay's, and a
 * status parked for the figures of peer relays (docs/relay.md "Delivery
 * states"). */
#include <string.h>

#include "proto/err.h"
#include "relay/arena.h"
#include "relay/log.h"
#include "relay/status.h"

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
