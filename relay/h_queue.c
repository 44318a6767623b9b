/* h_queue.c: the handlers of a device's queue and of delivery status:
 * subscribe, fetch, ack, a client's status (parked while peer relays are
 * asked for their figures) and a peer relay's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "proto/wire.h"
#include "relay/arena.h"
#include "relay/conn.h"
#include "relay/dir.h"
#include "relay/handlers.h"
#include "relay/log.h"
#include "relay/peer.h"
#include "relay/status.h"

/* Fills a gap report from the store's. */
static Liaison__QueueGap *
gap_pb(struct lsn_relay *r, const struct lsn_store_gap *g)
{
    Liaison__QueueGap *q;
    Liaison__MessageRef **refs, *ref;
    uint8_t *ids;
    char *orgs;

    if (g->trimmed == 0)
        return NULL;
    if ((q = lsn_arena_alloc(r, sizeof *q)) == NULL ||
        (refs = lsn_arena_alloc(r, (g->n_refs + 1) * sizeof *refs)) == NULL ||
        (ref = lsn_arena_alloc(r, (g->n_refs + 1) * sizeof *ref)) == NULL ||
        (ids = lsn_arena_alloc(r, (g->n_refs + 1) * LSN_MSG_ID_LEN)) == NULL ||
        (orgs = lsn_arena_alloc(r, (g->n_refs + 1) * (LSN_ENV_ORG_MAX + 1))) == NULL)
        return NULL;
    liaison__queue_gap__init(q);
    q->trimmed = g->trimmed;
    for (size_t i = 0; i < g->n_refs; i++) {
        liaison__message_ref__init(&ref[i]);
        memcpy(orgs + i * (LSN_ENV_ORG_MAX + 1), g->orgs[i], LSN_ENV_ORG_MAX + 1);
        memcpy(ids + i * LSN_MSG_ID_LEN, g->ids[i], LSN_MSG_ID_LEN);
        ref[i].org = orgs + i * (LSN_ENV_ORG_MAX + 1);
        ref[i].msg_id = (ProtobufCBinaryData){ LSN_MSG_ID_LEN, ids + i * LSN_MSG_ID_LEN };
        refs[i] = &ref[i];
    }
    q->refs = refs;
    q->n_refs = g->n_refs;
    return q;
}

/* ---------------------------------------------------------- queues */

int
h_subscribe(struct lsn_relay *r, struct conn *c, const struct who *w,
            const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    Liaison__SubscribeReply *s = lsn_arena_alloc(r, sizeof *s);
    struct lsn_store_gap *g = lsn_arena_alloc(r, sizeof *g);
    uint64_t queued = 0;
    uint32_t credit;
    int rc;

    if (s == NULL || g == NULL)
        return LSN_ERR_NOMEM;
    if ((rc = lsn_store_queue_info(r->store, w->id, &queued, g)) != 0)
        return rc;
    credit = lsn_conn_subscribe(r, c, w->id, req->id, req->subscribe->credit);
    liaison__subscribe_reply__init(s);
    s->queued = queued;
    s->gap = gap_pb(r, g);
    resp->body_case = LIAISON__RESPONSE__BODY_SUBSCRIBE;
    resp->subscribe = s;
    *commit = 1;    /* so that the first pushes follow this reply */
    lsn_relay_log_req(r, "%s subscribed (credit %u, %llu queued)", w->id, credit,
                      (unsigned long long)queued);
    return 0;
}

int
h_fetch(struct lsn_relay *r, struct conn *c, const struct who *w,
        const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    Liaison__FetchReply *f = lsn_arena_alloc(r, sizeof *f);
    struct lsn_store_gap *g = lsn_arena_alloc(r, sizeof *g);
    Liaison__QueueItem **items, *q;
    size_t max = req->fetch->max, n = 0;
    uint64_t queued = 0;
    int rc;

    (void)c;
    if (f == NULL || g == NULL)
        return LSN_ERR_NOMEM;
    if (max == 0 || max > r->cfg.fetch_max)
        max = r->cfg.fetch_max;
    if ((rc = lsn_store_queue_info(r->store, w->id, &queued, g)) != 0 ||
        (rc = lsn_store_fetch(r->store, w->id, req->fetch->after, max, LSN_WIRE_REPLY_MAX,
                              &r->items, &n)) != 0)
        return rc;
    r->n_items = n;
    if ((items = lsn_arena_alloc(r, (n + 1) * sizeof *items)) == NULL ||
        (q = lsn_arena_alloc(r, (n + 1) * sizeof *q)) == NULL)
        return LSN_ERR_NOMEM;
    liaison__fetch_reply__init(f);
    for (size_t i = 0; i < n; i++) {
        liaison__queue_item__init(&q[i]);
        q[i].seq = r->items[i].seq;
        q[i].org = r->items[i].org;
        q[i].msg_id = (ProtobufCBinaryData){ LSN_MSG_ID_LEN, r->items[i].msg_id };
        if (r->items[i].envelope != NULL) {
            q[i].envelope = (ProtobufCBinaryData){ r->items[i].envelope_len,
                                                   r->items[i].envelope };
        } else {
            Liaison__RelayNotice *nt = NULL;
            if (LSN_PB_DECODE(relay_notice, r->items[i].notice, r->items[i].notice_len,
                              LSN_PB_DEFAULT_HEAP_CAP, &nt) != 0)
                return LSN_ERR_CORRUPT;
            if ((rc = lsn_arena_keep(r, &nt->base)) != 0)
                return rc;
            q[i].notice = nt;
        }
        items[i] = &q[i];
    }
    f->items = items;
    f->n_items = n;
    f->queued = queued;
    f->gap = gap_pb(r, g);
    resp->body_case = LIAISON__RESPONSE__BODY_FETCH;
    resp->fetch = f;
    *commit = 1;    /* never show uncommitted items */
    return 0;
}

int
h_ack(struct lsn_relay *r, struct conn *c, const struct who *w,
      const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__AckMessagesRequest *a = req->ack;
    Liaison__AckReply *rep = lsn_arena_alloc(r, sizeof *rep);
    uint32_t acked = 0;
    int found, rc;

    if (rep == NULL)
        return LSN_ERR_NOMEM;
    if (a->n_refs > 65536) {
        lsn_relay_msg(r, "%zu refs in one ack; send at most 65536", a->n_refs);
        return LSN_ERR_LIMIT;
    }
    if (a->n_outcomes > a->n_refs) {
        lsn_relay_msg(r, "%zu outcomes for %zu refs", a->n_outcomes, a->n_refs);
        return LSN_ERR_MALFORMED;
    }
    for (size_t i = 0; i < a->n_refs; i++) {
        const Liaison__MessageRef *m = a->refs[i];
        if (m->msg_id.len != LSN_MSG_ID_LEN || strlen(m->org) > LSN_ENV_ORG_MAX) {
            lsn_relay_msg(r, "ack ref %zu: want an org id and a 16-byte msg_id", i);
            return LSN_ERR_MALFORMED;
        }
        if (i < a->n_outcomes &&
            (a->outcomes[i] > 0 || a->outcomes[i] < LSN_STORE_REASON_MIN)) {
            lsn_relay_msg(r, "ack ref %zu: outcome %d is neither 0 (stored) nor an "
                          "error code from -1 to %d", i, (int)a->outcomes[i],
                          LSN_STORE_REASON_MIN);
            return LSN_ERR_MALFORMED;
        }
    }
    for (size_t i = 0; i < a->n_refs; i++) {
        if ((rc = lsn_store_ack_outcome(r->store, w->id, a->refs[i]->org,
                                        a->refs[i]->msg_id.data,
                                        i < a->n_outcomes ? a->outcomes[i] : 0,
                                        &found)) != 0)
            return rc;
        if (found) {
            acked++;
            lsn_conn_credit_back(c, w->id, 1);
        }
    }
    if (a->gap_seen > 0 && (rc = lsn_store_gap_ack(r->store, w->id, a->gap_seen)) != 0)
        return rc;
    /* Items the device passes over stay queued and are not pushed again
     * (pushed_seq is past them): only their credit comes back. */
    lsn_conn_credit_back(c, w->id, a->passed);
    r->dirty = 1;
    lsn_conn_want(c);
    liaison__ack_reply__init(rep);
    rep->acked = acked;
    resp->body_case = LIAISON__RESPONSE__BODY_ACK;
    resp->ack = rep;
    *commit = 1;
    return 0;
}

int
h_status(struct lsn_relay *r, struct conn *c, const struct who *w,
         const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    Liaison__StatusReply *s = lsn_arena_alloc(r, sizeof *s);
    struct lsn_store_rstatus *st = NULL;
    size_t n = 0;
    int64_t accepted = 0, expires = 0;
    const uint8_t *rid;
    size_t rid_len;
    int known = 0, rc;

    if (s == NULL)
        return LSN_ERR_NOMEM;
    if (req->status->msg_id.len != LSN_MSG_ID_LEN) {
        lsn_relay_msg(r, "status: want a 16-byte msg_id");
        return LSN_ERR_MALFORMED;
    }
    /* Only the sender org's own messages: the key is (w->org, msg_id). */
    if ((rc = lsn_store_status(r->store, w->org, req->status->msg_id.data, &known,
                               &accepted, &expires, &st, &n)) != 0)
        return rc;
    /* Orgs homed on peers: their relays' figures, answered later. */
    rid = lsn_conn_rid(c, &rid_len);
    if (lsn_peers_status_ask(r, rid, rid_len, req->id, req->status->msg_id.data, w->org,
                             known, accepted, expires, st, n)) {
        r->park = 1;
        return 0;
    }
    rc = lsn_relay_status_fill(r, s, known, accepted, expires, st, NULL, n);
    free(st);
    if (rc != 0)
        return rc;
    resp->body_case = LIAISON__RESPONSE__BODY_STATUS;
    resp->status = s;
    *commit = 1;
    return 0;
}

/* A peer relay asks how a message it forwarded fares here: the figures of
 * the recipient orgs homed here, for the sender org's home relay only. */
int
h_peer_status(struct lsn_relay *r, struct conn *c, const struct who *w,
              const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__PeerStatusRequest *q = req->peer_status;
    Liaison__StatusReply *s = lsn_arena_alloc(r, sizeof *s);
    struct lsn_store_rstatus *st = NULL;
    int64_t accepted = 0, expires = 0;
    size_t n = 0, k = 0;
    int known = 0, rc;

    (void)c;
    if (s == NULL)
        return LSN_ERR_NOMEM;
    if (q->msg_id.len != LSN_MSG_ID_LEN || strlen(q->org) > LSN_ENV_ORG_MAX) {
        lsn_relay_msg(r, "peer status: want an org id and a 16-byte msg_id");
        return LSN_ERR_MALFORMED;
    }
    if (strcmp(lsn_relay_home(r, q->org), w->relay) != 0) {
        lsn_relay_msg(r, "org `%s` is not homed on relay %s", q->org, w->relay);
        return LSN_ERR_DENIED;
    }
    if ((rc = lsn_store_status(r->store, q->org, q->msg_id.data, &known, &accepted,
                               &expires, &st, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)      /* only what this relay delivers */
        if (st[i].relay[0] == '\0')
            st[k++] = st[i];
    rc = lsn_relay_status_fill(r, s, known, accepted, expires, st, NULL, k);
    free(st);
    if (rc != 0)
        return rc;
    resp->body_case = LIAISON__RESPONSE__BODY_PEER_STATUS;
    resp->peer_status = s;
    *commit = 1;
    return 0;
}
