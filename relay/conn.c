/* conn.c: the connections the ROUTER serves, by routing id: each one's
 * rate bucket, the identity its requests arrive with, its subscription and
 * the pushes that feed it, and the budgets of the log lines requests
 * cause (routine ones for all, refusals per connection). */
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "proto/wire.h"
#include "relay/conn.h"
#include "relay/log.h"
#include "relay/out.h"

#define CONN_IDLE_MS  (10 * 60 * 1000)

/* One connection (by routing id): rate limit and subscription. */
struct conn {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    double tokens;
    int64_t last_ms;
    char dev[LSN_DEV_ID_MAX + 1];   /* subscribed device, "" if none */
    uint64_t sub_id;                /* the subscribe request's id */
    uint32_t credit, inflight;
    uint64_t pushed_seq;            /* last seq pushed */
    int want;                       /* may have something to push */
    /* The identity its last request arrived with, and the ZAP User-Id and
     * X-Key it was read from (compared on every request: a match skips
     * parsing them again). */
    struct who who;
    char who_user[LSN_DEV_ID_MAX + 8];
    char who_key[65];
    struct log_budget log;          /* its refusals' log lines */
    struct conn *next;
};

/* Lines that requests cause are one per request, and one frame can hold
 * 4096 requests.  Routine ones (a hello, a subscription) share a budget
 * of REQ_LOG_PER_S a second; refusals, which an operator must see, have a
 * budget per connection, so one client can flood neither the log nor the
 * disk under it, nor hide another client's refusals.  What is not
 * written is counted and reported once a second. */
#define REQ_LOG_PER_S 100
#define REFUSALS_PER_S 20

/* Starts a new second of c's refusal lines, saying how many of the last
 * one's were not written. */
static void
conn_log_tick(struct conn *c, int64_t now)
{
    uint64_t dropped = lsn_budget_tick(&c->log, now);

    if (dropped > 0)
        lsn_relay_log("%llu more refusals of requests from %.80s not written (at most "
                      "%d a second per connection)", (unsigned long long)dropped,
                      c->who_user[0] != '\0' ? c->who_user : "an unidentified connection",
                      REFUSALS_PER_S);
}

void
lsn_conns_log_tick(struct lsn_relay *r)
{
    int64_t now = lsn_relay_now_ms();
    uint64_t dropped;

    if (now - r->req_log.ms < 1000)
        return;
    for (struct conn *c = r->conns; c != NULL; c = c->next)
        if (c->log.dropped > 0)
            conn_log_tick(c, now);
    if ((dropped = lsn_budget_tick(&r->req_log, now)) > 0)
        lsn_relay_log("%llu more routine log lines about requests (hellos, "
                      "subscriptions) not written (at most %d a second)",
                      (unsigned long long)dropped, REQ_LOG_PER_S);
}

void
lsn_relay_log_req(struct lsn_relay *r, const char *fmt, ...)
{
    va_list ap;

    lsn_conns_log_tick(r);
    va_start(ap, fmt);
    lsn_budget_log(&r->req_log, REQ_LOG_PER_S, fmt, ap);
    va_end(ap);
}

void
lsn_relay_log_refusal(struct conn *c, const char *fmt, ...)
{
    va_list ap;

    conn_log_tick(c, lsn_relay_now_ms());
    va_start(ap, fmt);
    lsn_budget_log(&c->log, REFUSALS_PER_S, fmt, ap);
    va_end(ap);
}

struct conn *
lsn_conn_find(struct lsn_relay *r, const uint8_t *rid, size_t len)
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

struct conn *
lsn_conn_get(struct lsn_relay *r, const uint8_t *rid, size_t len)
{
    struct conn *c, **pp;
    int64_t now = lsn_relay_now_ms();

    if ((c = lsn_conn_find(r, rid, len)) != NULL)
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

int
lsn_conn_who_cached(const struct conn *c, const char *user, const char *key,
                    struct who *w)
{
    if (c == NULL || user == NULL || key == NULL || c->who_user[0] == '\0' ||
        strcmp(user, c->who_user) != 0 || strcmp(key, c->who_key) != 0)
        return 0;
    *w = c->who;
    return 1;
}

void
lsn_conn_who_keep(struct conn *c, const char *user, const char *key, const struct who *w)
{
    c->who_user[0] = '\0';
    if (strlen(user) < sizeof c->who_user && strlen(key) < sizeof c->who_key) {
        c->who = *w;
        memcpy(c->who_user, user, strlen(user) + 1);
        memcpy(c->who_key, key, strlen(key) + 1);
    }
}

int
lsn_conn_take_token(struct lsn_relay *r, struct conn *c)
{
    lsn_bucket_fill(&c->tokens, &c->last_ms, (double)r->cfg.rate, (double)r->cfg.burst);
    if (c->tokens < 1.0)
        return LSN_ERR_RATE;
    c->tokens -= 1.0;
    return 0;
}

const uint8_t *
lsn_conn_rid(const struct conn *c, size_t *len)
{
    *len = c->rid_len;
    return c->rid;
}

uint32_t
lsn_conn_subscribe(struct lsn_relay *r, struct conn *c, const char *dev,
                   uint64_t sub_id, uint32_t credit)
{
    /* One subscription per device: the newest connection wins. */
    for (struct conn *o = r->conns; o != NULL; o = o->next)
        if (o != c && strcmp(o->dev, dev) == 0)
            o->dev[0] = '\0';
    snprintf(c->dev, sizeof c->dev, "%s", dev);
    c->sub_id = sub_id;
    c->credit = credit == 0 ? 1 : credit;
    if (c->credit > r->cfg.max_pending)     /* the send queue holds a window */
        c->credit = (uint32_t)r->cfg.max_pending;
    c->inflight = 0;
    c->pushed_seq = 0;
    c->want = 1;
    return c->credit;
}

void
lsn_conn_unsubscribe(struct conn *c, const char *dev)
{
    if (strcmp(c->dev, dev) == 0)
        c->dev[0] = '\0';
}

void
lsn_conn_credit_back(struct conn *c, const char *dev, uint32_t n)
{
    if (strcmp(c->dev, dev) == 0)
        c->inflight -= n < c->inflight ? n : c->inflight;
}

void
lsn_conn_want(struct conn *c)
{
    c->want = 1;
}

void
lsn_conn_gone(struct lsn_relay *r, const uint8_t *rid, size_t len)
{
    struct conn *c = lsn_conn_get(r, rid, len);

    if (c != NULL)
        c->dev[0] = '\0';
}

void
lsn_conns_free(struct lsn_relay *r)
{
    while (r->conns != NULL) {
        struct conn *c = r->conns;
        r->conns = c->next;
        free(c);
    }
    r->n_conns = 0;
}

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
    if (k > 0 && (rc = lsn_out_add(r, c->rid, c->rid_len, &resp, 1)) != 0)
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

int
lsn_conns_push(struct lsn_relay *r)
{
    int rc;

    for (struct conn *c = r->conns; c != NULL; c = c->next)
        if (c->dev[0] != '\0' && c->want && (rc = push_conn(r, c)) != 0)
            return rc;
    return 0;
}
