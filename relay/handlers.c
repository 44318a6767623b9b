/* handlers.c: the relay's request table (docs/wire.md).  One handler per
 * request kind, each a small function that checks who may ask, does the
 * work against the current store batch and fills the response; the
 * dispatcher applies the checks every request shares (the identity is
 * still admitted) before the table entry runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "keys/delivery.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"
#include "proto/limits.h"
#include "proto/wire.h"
#include "relay/relay_int.h"

#define UNKNOWN_KEY_MSG "not allowed: this key is not known to the relay"
#define DIR_LIST_MAX    64
#define DIR_PRUNE_MAX   256

/* ---------------------------------------------------------- arena */

static void *
alloc(struct lsn_relay *r, size_t n)
{
    void *p;

    if (r->n_arena == r->cap_arena) {
        size_t cap = r->cap_arena ? 2 * r->cap_arena : 64;
        void **a = realloc(r->arena, cap * sizeof *a);
        if (a == NULL)
            return NULL;
        r->arena = a;
        r->cap_arena = cap;
    }
    if ((p = calloc(1, n ? n : 1)) == NULL)
        return NULL;
    r->arena[r->n_arena++] = p;
    return p;
}

/* Keeps a decoded message until the response is encoded. */
static int
track_pb(struct lsn_relay *r, ProtobufCMessage *m)
{
    if (r->n_pbs == r->cap_pbs) {
        size_t cap = r->cap_pbs ? 2 * r->cap_pbs : 16;
        ProtobufCMessage **a = realloc(r->pbs, cap * sizeof *a);
        if (a == NULL) {
            lsn_pb_free(m);
            return LSN_ERR_NOMEM;
        }
        r->pbs = a;
        r->cap_pbs = cap;
    }
    r->pbs[r->n_pbs++] = m;
    return 0;
}

void
lsn_relay_response_free(struct lsn_relay *r)
{
    for (size_t i = 0; i < r->n_pbs; i++)
        lsn_pb_free(r->pbs[i]);
    r->n_pbs = 0;
    for (size_t i = 0; i < r->n_arena; i++)
        free(r->arena[i]);
    r->n_arena = 0;
    lsn_store_items_free(r->items, r->n_items);
    r->items = NULL;
    r->n_items = 0;
}

/* The info of a submit or forward (the first call) or its fan-out for n
 * recipients (later calls): memory kept across requests and never zeroed,
 * since every entry is written before it is read.  The worst case (256
 * orgs x 512 devices of names) is 1 MiB; zeroing even the 10 KiB info and
 * 8 KiB of names per submit was a tenth of the relay's work. */
static int
submit_scratch(struct lsn_relay *r, size_t n, struct lsn_fanout **fan,
               const char ***names)
{
    if (r->sub_info == NULL && (r->sub_info = malloc(sizeof *r->sub_info)) == NULL)
        return LSN_ERR_NOMEM;
    if (fan == NULL)
        return 0;
    if (n + 1 > r->sub_cap) {
        struct lsn_fanout *f = realloc(r->sub_fan, (n + 1) * sizeof *f);
        if (f == NULL)
            return LSN_ERR_NOMEM;
        r->sub_fan = f;
        const char **nm = realloc(r->sub_names, (n + 1) * LSN_BUNDLE_MAX_DEVICES *
                                                sizeof *nm);
        if (nm == NULL)
            return LSN_ERR_NOMEM;
        r->sub_names = nm;
        r->sub_cap = n + 1;
    }
    *fan = r->sub_fan;
    *names = r->sub_names;
    return 0;
}

/* ---------------------------------------------------------- shared checks */

/* The device's entry in its org's current bundle, or NULL. */
static const Liaison__Device *
current_device(struct lsn_relay *r, const struct who *w)
{
    const Liaison__Device *d = lsn_relay_device(r, w->org, w->device);

    if (d == NULL || d->curve_key.len != 32 ||
        sodium_memcmp(d->curve_key.data, w->key, 32) != 0)
        return NULL;
    return d;
}

/* The sender of an envelope, judged by the bundle of its org this relay
 * holds: the org has one, it has not expired, it lists the device and
 * lets it send.  Recipients judge the sender by the same bundle (they
 * fetch it from this relay), so an envelope that fails here could only
 * ever be refused by every recipient, or wait at the head of their queues
 * for a bundle that never comes: it is refused at once.  The codes
 * (LSN_ERR_UNKNOWN_DEVICE, LSN_ERR_EXPIRED, LSN_ERR_REVOKED) are final for
 * a forwarding relay (relay/peer.c final_refusal). */
static int
sender_check(struct lsn_relay *r, const char *org, const char *device)
{
    int oi = lsn_relay_org_index(r, org);
    const struct lsn_bundle *b = oi < 0 ? NULL : r->bundles[oi];
    const Liaison__Device *d;
    char when[32];
    struct tm tm;
    time_t t;

    if (b == NULL) {
        lsn_relay_msg(r, "sender org `%s` has no bundle at relay %s, so device %s/%s "
                      "is not known here: its administrator must run "
                      "`liaison-keys publish` before it sends", org, r->name, org,
                      device);
        return LSN_ERR_UNKNOWN_DEVICE;
    }
    if (b->b->expires <= lsn_relay_time(r)) {
        t = (time_t)b->b->expires;
        if (gmtime_r(&t, &tm) == NULL ||
            strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm) == 0)
            snprintf(when, sizeof when, "%lld", (long long)b->b->expires);
        lsn_relay_msg(r, "the bundle of `%s` (v%llu) expired on %s, so its devices may "
                      "not send: the organisation's administrator must sign a new "
                      "bundle (for example `liaison-keys rotate --enc`) and run "
                      "`liaison-keys publish`", org,
                      (unsigned long long)b->b->version, when);
        return LSN_ERR_EXPIRED;
    }
    if ((d = lsn_bundle_find_device(b, device)) == NULL) {
        lsn_relay_msg(r, "sender device %s/%s is not in bundle v%llu of `%s` held "
                      "at relay %s", org, device, (unsigned long long)b->b->version,
                      org, r->name);
        return LSN_ERR_UNKNOWN_DEVICE;
    }
    if (!d->may_send) {
        lsn_relay_msg(r, "sender device %s/%s may not send (bundle v%llu)", org, device,
                      (unsigned long long)b->b->version);
        return LSN_ERR_REVOKED;
    }
    return 0;
}

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
    if ((q = alloc(r, sizeof *q)) == NULL ||
        (refs = alloc(r, (g->n_refs + 1) * sizeof *refs)) == NULL ||
        (ref = alloc(r, (g->n_refs + 1) * sizeof *ref)) == NULL ||
        (ids = alloc(r, (g->n_refs + 1) * LSN_MSG_ID_LEN)) == NULL ||
        (orgs = alloc(r, (g->n_refs + 1) * (LSN_ENV_ORG_MAX + 1))) == NULL)
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
    Liaison__HelloReply *h = alloc(r, sizeof *h);
    char *id = alloc(r, sizeof w->id);

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
    Liaison__PingReply *p = alloc(r, sizeof *p);

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

/* ---------------------------------------------------------- submit */

/* What every stored envelope must meet, submitted or forwarded: TTL,
 * clock skew, not expired, recipient count. */
static int
envelope_limits(struct lsn_relay *r, const struct lsn_envelope_info *info)
{
    int64_t now = lsn_relay_time(r);

    if ((uint64_t)(info->expires - info->created) > r->cfg.max_ttl) {
        lsn_relay_msg(r, "lifetime %lld s exceeds this relay's max_ttl %llu s",
                      (long long)(info->expires - info->created),
                      (unsigned long long)r->cfg.max_ttl);
        return LSN_ERR_TTL;
    }
    if (info->created > now + LSN_MAX_SKEW) {
        lsn_relay_msg(r, "created %lld is in the future (relay time %lld)",
                      (long long)info->created, (long long)now);
        return LSN_ERR_FUTURE;
    }
    if (info->expires < now) {
        lsn_relay_msg(r, "already expired at %lld (relay time %lld)",
                      (long long)info->expires, (long long)now);
        return LSN_ERR_EXPIRED;
    }
    if (info->n_recipients > r->cfg.max_recipients) {
        lsn_relay_msg(r, "%zu recipients; this relay takes at most %llu",
                      info->n_recipients, (unsigned long long)r->cfg.max_recipients);
        return LSN_ERR_LIMIT;
    }
    return 0;
}

/* Fills f with org's may-receive devices from its bundle, their names
 * written at names[*used...]. */
static void
fanout_local(struct lsn_fanout *f, const char *org, const struct lsn_bundle *b,
             const char **names, size_t *used)
{
    f->org = org;
    f->devices = names + *used;
    f->n_devices = 0;
    f->relay = NULL;
    for (size_t j = 0; j < b->b->n_devices; j++)
        if (b->b->devices[j]->may_receive)
            names[*used + f->n_devices++] = b->b->devices[j]->name;
    *used += f->n_devices;
}

/* The checks of a submit (docs/relay.md "Admission"): sender is the
 * authenticated device, may send, its org's bundle has not expired; times
 * and TTL; every recipient org in the roster, known here, wrapped to its
 * newest key.  Fills the fan-out. */
static int
submit_check(struct lsn_relay *r, const struct who *w,
             const struct lsn_envelope_info *info, struct lsn_fanout *fan,
             const char **names)
{
    const Liaison__Device *d;
    size_t used = 0;
    int err;

    if (strcmp(info->sender_org, w->org) != 0 || strcmp(info->sender_device, w->device) != 0) {
        lsn_relay_msg(r, "envelope names sender %s/%s but this connection is %s",
                      info->sender_org, info->sender_device, w->id);
        return LSN_ERR_DENIED;
    }
    if ((d = current_device(r, w)) == NULL || !d->may_send) {
        lsn_relay_msg(r, "device %s may not send (its bundle says so)", w->id);
        return LSN_ERR_REVOKED;
    }
    if ((err = sender_check(r, w->org, w->device)) != 0)
        return err;
    if ((err = envelope_limits(r, info)) != 0)
        return err;
    for (size_t i = 0; i < info->n_recipients; i++) {
        const struct lsn_envelope_recipient *rc = &info->recipients[i];
        const Liaison__EncKey *k;
        const struct lsn_bundle *b;
        int oi = lsn_relay_org_index(r, rc->org);
        if (oi < 0) {
            lsn_relay_msg(r, "recipient `%s` is not in roster v%llu", rc->org,
                          (unsigned long long)r->roster->r->version);
            return LSN_ERR_UNKNOWN_ORG;
        }
        if ((b = r->bundles[oi]) == NULL) {
            lsn_relay_msg(r, "recipient `%s` has not published a bundle to this relay",
                          rc->org);
            return LSN_ERR_NOT_FOUND;
        }
        k = lsn_bundle_newest_key(b);
        if (k == NULL || k->key_id != rc->key_id) {
            lsn_relay_msg(r, "recipient `%s` is wrapped to key %u but its newest key "
                          "is %u (bundle v%llu): fetch its bundle and seal again",
                          rc->org, rc->key_id, k != NULL ? k->key_id : 0,
                          (unsigned long long)b->b->version);
            return LSN_ERR_STALE_KEY;
        }
        if (strcmp(lsn_relay_home(r, rc->org), r->name) != 0) {
            /* Homed on a peer relay: its outbound queue takes the copy. */
            fan[i].org = rc->org;
            fan[i].devices = names + used;
            fan[i].n_devices = 0;
            fan[i].relay = lsn_relay_home(r, rc->org);
            continue;
        }
        fanout_local(&fan[i], rc->org, b, names, &used);
    }
    return 0;
}

static int
h_submit(struct lsn_relay *r, struct conn *c, const struct who *w,
         const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const ProtobufCBinaryData *env = &req->submit->envelope;
    struct lsn_envelope_info *info = NULL;
    struct lsn_fanout *fan = NULL;
    const char **names = NULL;
    struct lsn_submit_result res;
    Liaison__SubmitReply *s;
    uint8_t *id;
    char hex[33];
    int rc;

    (void)c;
    if (env->len > r->cfg.max_envelope) {
        lsn_relay_msg(r, "envelope of %zu bytes; this relay takes at most %llu",
                      env->len, (unsigned long long)r->cfg.max_envelope);
        return LSN_ERR_TOO_LARGE;
    }
    if (submit_scratch(r, 0, NULL, NULL) != 0)
        return LSN_ERR_NOMEM;
    info = r->sub_info;
    if ((rc = lsn_envelope_peek(env->data, env->len, r->cfg.max_envelope, info)) != 0) {
        lsn_relay_msg(r, "envelope refused: %s", lsn_strerror(rc));
        return rc;
    }
    /* Sized by the envelope's recipients. */
    if (submit_scratch(r, info->n_recipients, &fan, &names) != 0)
        return LSN_ERR_NOMEM;
    if ((rc = submit_check(r, w, info, fan, names)) != 0) {
        lsn_hex(hex, info->msg_id, 16);
        lsn_relay_log_refusal(c, "submit %s from %s refused: %s", hex, w->id, r->msg);
        return rc;
    }
    if ((rc = lsn_store_submit(r->store, info, env->data, env->len, fan,
                               info->n_recipients, lsn_relay_time(r), &res)) != 0) {
        lsn_hex(hex, info->msg_id, 16);
        lsn_relay_msg(r, "message %s not stored: %s", hex,
                      lsn_store_why(r->store)[0] ? lsn_store_why(r->store)
                                                 : lsn_strerror(rc));
        lsn_relay_log_refusal(c, "submit %s from %s refused: %s", hex, w->id, r->msg);
        return rc;
    }
    if ((s = alloc(r, sizeof *s)) == NULL || (id = alloc(r, 16)) == NULL)
        return LSN_ERR_NOMEM;
    liaison__submit_reply__init(s);
    memcpy(id, info->msg_id, 16);
    s->msg_id = (ProtobufCBinaryData){ 16, id };
    s->duplicate = res.duplicate;
    s->accepted = res.accepted;
    resp->body_case = LIAISON__RESPONSE__BODY_SUBMIT;
    resp->submit = s;
    *commit = 1;
    if (!res.duplicate) {
        r->dirty = 1;
        for (size_t i = 0; i < info->n_recipients; i++) {
            lsn_relay_wake(r, info->recipients[i].org);
            if (fan[i].relay != NULL)
                lsn_peers_wake(r, fan[i].relay);
        }
    }
    return 0;
}

/* ---------------------------------------------------------- relay to relay */

/* The checks a forwarded envelope passes (docs/relay.md "Federation"): the
 * sender org is homed on the forwarding relay; its held bundle lists the
 * sender device (sender_check); times, TTL and recipient
 * count as for a submit.  The fan-out covers the recipient orgs homed
 * here; the key-id check was the home relay's (its bundle may be a step
 * ahead of or behind ours), so none here. */
static int
forward_check(struct lsn_relay *r, const struct who *w,
              const struct lsn_envelope_info *info, struct lsn_fanout *fan,
              size_t *n_fan, const char **names)
{
    size_t used = 0;
    int rc;

    *n_fan = 0;
    if (strcmp(lsn_relay_home(r, info->sender_org), w->relay) != 0) {
        lsn_relay_msg(r, "sender org `%s` is not homed on relay %s (roster v%llu): "
                      "a relay forwards only its own orgs' messages", info->sender_org,
                      w->relay, (unsigned long long)r->roster->r->version);
        return LSN_ERR_DENIED;
    }
    if ((rc = sender_check(r, info->sender_org, info->sender_device)) != 0)
        return rc;
    if ((rc = envelope_limits(r, info)) != 0)
        return rc;
    for (size_t i = 0; i < info->n_recipients; i++) {
        const char *org = info->recipients[i].org;
        int oi = lsn_relay_org_index(r, org);
        const struct lsn_bundle *b;
        if (oi < 0 || strcmp(lsn_relay_home(r, org), r->name) != 0)
            continue;       /* another relay's, or unknown here: not ours */
        if ((b = r->bundles[oi]) == NULL) {
            lsn_relay_msg(r, "recipient `%s` has not published a bundle to this relay",
                          org);
            return LSN_ERR_NOT_FOUND;
        }
        fanout_local(&fan[(*n_fan)++], org, b, names, &used);
    }
    return 0;
}

static int
h_forward(struct lsn_relay *r, struct conn *c, const struct who *w,
          const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const ProtobufCBinaryData *env = &req->forward->envelope;
    struct lsn_envelope_info *info = NULL;
    struct lsn_fanout *fan = NULL;
    const char **names = NULL;
    struct lsn_submit_result res;
    Liaison__ForwardReply *f;
    size_t n_fan = 0;
    uint8_t *id;
    char hex[33];
    int rc;

    (void)c;
    if (env->len > r->cfg.max_envelope) {
        lsn_relay_msg(r, "envelope of %zu bytes; this relay takes at most %llu",
                      env->len, (unsigned long long)r->cfg.max_envelope);
        return LSN_ERR_TOO_LARGE;
    }
    if (submit_scratch(r, 0, NULL, NULL) != 0)
        return LSN_ERR_NOMEM;
    info = r->sub_info;
    if ((rc = lsn_envelope_peek(env->data, env->len, r->cfg.max_envelope, info)) != 0) {
        lsn_relay_msg(r, "forwarded envelope refused: %s", lsn_strerror(rc));
        return rc;
    }
    /* Sized by the envelope's recipients, as for a submit. */
    if (submit_scratch(r, info->n_recipients, &fan, &names) != 0)
        return LSN_ERR_NOMEM;
    lsn_hex(hex, info->msg_id, 16);
    if ((rc = forward_check(r, w, info, fan, &n_fan, names)) != 0) {
        lsn_relay_log_refusal(c, "forward %s from %s refused: %s", hex, w->id, r->msg);
        return rc;
    }
    if ((rc = lsn_store_submit(r->store, info, env->data, env->len, fan, n_fan,
                               lsn_relay_time(r), &res)) != 0) {
        lsn_relay_msg(r, "message %s not stored: %s", hex,
                      lsn_store_why(r->store)[0] ? lsn_store_why(r->store)
                                                 : lsn_strerror(rc));
        lsn_relay_log_refusal(c, "forward %s from %s refused: %s", hex, w->id, r->msg);
        return rc;
    }
    if ((f = alloc(r, sizeof *f)) == NULL || (id = alloc(r, 16)) == NULL)
        return LSN_ERR_NOMEM;
    liaison__forward_reply__init(f);
    memcpy(id, info->msg_id, 16);
    f->msg_id = (ProtobufCBinaryData){ 16, id };
    f->duplicate = res.duplicate;
    resp->body_case = LIAISON__RESPONSE__BODY_FORWARD;
    resp->forward = f;
    *commit = 1;        /* the peer hears "stored" only after our fsync */
    if (!res.duplicate) {
        r->dirty = 1;
        for (size_t i = 0; i < n_fan; i++)
            lsn_relay_wake(r, fan[i].org);
    }
    return 0;
}

/* ---------------------------------------------------------- queues */

static int
h_subscribe(struct lsn_relay *r, struct conn *c, const struct who *w,
            const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    Liaison__SubscribeReply *s = alloc(r, sizeof *s);
    struct lsn_store_gap *g = alloc(r, sizeof *g);
    uint64_t queued = 0;
    int rc;

    if (s == NULL || g == NULL)
        return LSN_ERR_NOMEM;
    if ((rc = lsn_store_queue_info(r->store, w->id, &queued, g)) != 0)
        return rc;
    /* One subscription per device: the newest connection wins. */
    for (struct conn *o = r->conns; o != NULL; o = o->next)
        if (o != c && strcmp(o->dev, w->id) == 0)
            o->dev[0] = '\0';
    snprintf(c->dev, sizeof c->dev, "%s", w->id);
    c->sub_id = req->id;
    c->credit = req->subscribe->credit == 0 ? 1 : req->subscribe->credit;
    if (c->credit > r->cfg.max_pending)     /* the send queue holds a window */
        c->credit = (uint32_t)r->cfg.max_pending;
    c->inflight = 0;
    c->pushed_seq = 0;
    c->want = 1;
    liaison__subscribe_reply__init(s);
    s->queued = queued;
    s->gap = gap_pb(r, g);
    resp->body_case = LIAISON__RESPONSE__BODY_SUBSCRIBE;
    resp->subscribe = s;
    *commit = 1;    /* so that the first pushes follow this reply */
    lsn_relay_log_req(r, "%s subscribed (credit %u, %llu queued)", w->id, c->credit,
                      (unsigned long long)queued);
    return 0;
}

static int
h_fetch(struct lsn_relay *r, struct conn *c, const struct who *w,
        const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    Liaison__FetchReply *f = alloc(r, sizeof *f);
    struct lsn_store_gap *g = alloc(r, sizeof *g);
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
    if ((items = alloc(r, (n + 1) * sizeof *items)) == NULL ||
        (q = alloc(r, (n + 1) * sizeof *q)) == NULL)
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
            if ((rc = track_pb(r, &nt->base)) != 0)
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

static int
h_ack(struct lsn_relay *r, struct conn *c, const struct who *w,
      const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__AckMessagesRequest *a = req->ack;
    Liaison__AckReply *rep = alloc(r, sizeof *rep);
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
            if (strcmp(c->dev, w->id) == 0 && c->inflight > 0)
                c->inflight--;
        }
    }
    if (a->gap_seen > 0 && (rc = lsn_store_gap_ack(r->store, w->id, a->gap_seen)) != 0)
        return rc;
    /* Items the device passes over stay queued and are not pushed again
     * (pushed_seq is past them): only their credit comes back. */
    if (strcmp(c->dev, w->id) == 0)
        c->inflight -= a->passed < c->inflight ? a->passed : c->inflight;
    r->dirty = 1;
    c->want = 1;
    liaison__ack_reply__init(rep);
    rep->acked = acked;
    resp->body_case = LIAISON__RESPONSE__BODY_ACK;
    resp->ack = rep;
    *commit = 1;
    return 0;
}

static int
h_status(struct lsn_relay *r, struct conn *c, const struct who *w,
         const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    Liaison__StatusReply *s = alloc(r, sizeof *s);
    struct lsn_store_rstatus *st = NULL;
    size_t n = 0;
    int64_t accepted = 0, expires = 0;
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
    if (lsn_peers_status_ask(r, c, req->id, req->status->msg_id.data, w->org, known,
                             accepted, expires, st, n)) {
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
    if ((rs = alloc(r, (n + 1) * sizeof *rs)) == NULL ||
        (x = alloc(r, (n + 1) * sizeof *x)) == NULL)
        return LSN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char *org = alloc(r, sizeof st[i].org), *relay = alloc(r, sizeof st[i].relay);
        Liaison__DeviceStatus **dp = alloc(r, (st[i].n_dev + 1) * sizeof *dp);
        Liaison__DeviceStatus *d = alloc(r, (st[i].n_dev + 1) * sizeof *d);
        if (org == NULL || relay == NULL || dp == NULL || d == NULL)
            return LSN_ERR_NOMEM;
        for (size_t j = 0; j < st[i].n_dev; j++) {
            const struct lsn_store_dstate *ds = &st[i].dev[j];
            char *name = alloc(r, sizeof ds->name);
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

/* A peer relay asks how a message it forwarded fares here: the figures of
 * the recipient orgs homed here, for the sender org's home relay only. */
static int
h_peer_status(struct lsn_relay *r, struct conn *c, const struct who *w,
              const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__PeerStatusRequest *q = req->peer_status;
    Liaison__StatusReply *s = alloc(r, sizeof *s);
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

/* ---------------------------------------------------------- directory */

static int
put_reply(struct lsn_relay *r, Liaison__Response *resp, int unchanged,
          uint64_t version)
{
    Liaison__DirPutReply *p = alloc(r, sizeof *p);

    if (p == NULL)
        return LSN_ERR_NOMEM;
    liaison__dir_put_reply__init(p);
    p->unchanged = unchanged;
    p->version = version;
    resp->body_case = LIAISON__RESPONSE__BODY_DIR_PUT;
    resp->dir_put = p;
    return 0;
}

/* A bundle from key w->key: for an unknown key only one that lists that key
 * as an admin device (checked before any signature). */
static int
put_bundle(struct lsn_relay *r, const struct who *w, const ProtobufCBinaryData *o,
           Liaison__Response *resp, int *commit)
{
    struct lsn_bundle *b = NULL, *held;
    char name[16 + LSN_ORG_ID_MAX];
    int oi, rc, unchanged = 0;
    uint64_t version;

    if ((rc = lsn_bundle_parse(o->data, o->len, &b)) != 0) {
        lsn_relay_msg(r, "bundle refused: %s", lsn_strerror(rc));
        return rc;
    }
    if ((oi = lsn_relay_org_index(r, b->b->org)) < 0) {
        lsn_relay_msg(r, "bundle of `%s`: not in roster v%llu", b->b->org,
                      (unsigned long long)r->roster->r->version);
        rc = LSN_ERR_UNKNOWN_ORG;
        goto out;
    }
    if (w->kind == WHO_UNKNOWN) {
        int self_admin = 0;
        for (size_t j = 0; j < b->b->n_devices; j++) {
            const Liaison__Device *d = b->b->devices[j];
            if (d->role == LIAISON__DEVICE_ROLE__ROLE_ADMIN && d->curve_key.len == 32 &&
                memcmp(d->curve_key.data, w->key, 32) == 0)
                self_admin = 1;
        }
        if (!self_admin) {
            rc = LSN_ERR_DENIED;
            goto out;
        }
    }
    if ((rc = lsn_bundle_verify(b, r->roster, lsn_relay_time(r))) != 0) {
        lsn_relay_msg(r, "bundle of `%s` v%llu: %s", b->b->org,
                      (unsigned long long)b->b->version, lsn_strerror(rc));
        goto out;
    }
    held = r->bundles[oi];
    version = b->b->version;
    if (held != NULL && held->len == b->len && memcmp(held->bytes, b->bytes, b->len) == 0) {
        unchanged = 1;
        goto reply;
    }
    if (held != NULL && b->b->version <= held->b->version) {
        rc = b->b->version == held->b->version ? LSN_ERR_CONFLICT : LSN_ERR_ROLLBACK;
        lsn_relay_msg(r, "bundle of `%s` v%llu: %s (held: v%llu)", b->b->org,
                      (unsigned long long)b->b->version, lsn_strerror(rc),
                      (unsigned long long)held->b->version);
        goto out;
    }
    if (held != NULL && (rc = lsn_bundle_verify_next(held, b)) != 0) {
        lsn_relay_msg(r, "bundle of `%s` v%llu does not chain from held v%llu: %s",
                      b->b->org, (unsigned long long)b->b->version,
                      (unsigned long long)held->b->version, lsn_strerror(rc));
        goto out;
    }
    snprintf(name, sizeof name, "bundle/%s", b->b->org);
    if ((rc = lsn_store_dir_put(r->store, name, b->bytes, b->len)) != 0)
        goto out;
    lsn_relay_log("bundle of %s v%llu stored (from %s)", b->b->org,
                  (unsigned long long)b->b->version,
                  w->kind == WHO_UNKNOWN ? "a new admin key" : w->id);
    lsn_peers_dir_push(r, LIAISON__DIR_KIND__DIR_BUNDLE, b->bytes, b->len);
    rc = lsn_relay_bundle_replace(r, oi, b);
    b = NULL;
    r->dirty = 1;
    if (rc != 0)
        goto out;
reply:
    *commit = 1;
    rc = put_reply(r, resp, unchanged, version);
out:
    lsn_bundle_destroy(&b);
    return rc;
}

int
lsn_relay_import_bundle(struct lsn_relay *r, const uint8_t *buf, size_t len)
{
    struct who w;
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    ProtobufCBinaryData o = { len, (uint8_t *)buf };
    int commit = 0, rc;

    memset(&w, 0, sizeof w);
    w.kind = WHO_NONE;
    snprintf(w.id, sizeof w.id, "the operator's import");
    r->msg[0] = '\0';
    rc = put_bundle(r, &w, &o, &resp, &commit);
    lsn_relay_response_free(r);
    return rc;
}

static int
put_roster(struct lsn_relay *r, const ProtobufCBinaryData *o,
           Liaison__Response *resp, int *commit)
{
    struct lsn_roster *ro = NULL;
    uint64_t version;
    int rc;

    if ((rc = lsn_roster_parse(o->data, o->len, &ro)) != 0) {
        lsn_relay_msg(r, "roster refused: %s", lsn_strerror(rc));
        return rc;
    }
    version = ro->r->version;
    if (ro->len == r->roster->len && memcmp(ro->bytes, r->roster->bytes, ro->len) == 0) {
        lsn_roster_destroy(&ro);
        *commit = 1;
        return put_reply(r, resp, 1, version);
    }
    if (version <= r->roster->r->version) {
        rc = version == r->roster->r->version ? LSN_ERR_CONFLICT : LSN_ERR_ROLLBACK;
        lsn_relay_msg(r, "roster v%llu: %s (held: v%llu)", (unsigned long long)version,
                      lsn_strerror(rc), (unsigned long long)r->roster->r->version);
        goto out;
    }
    if ((rc = lsn_roster_verify_next(r->roster, ro, lsn_relay_time(r), 1)) != 0) {
        lsn_relay_msg(r, "roster v%llu does not follow held v%llu: %s",
                      (unsigned long long)version,
                      (unsigned long long)r->roster->r->version, lsn_strerror(rc));
        goto out;
    }
    if ((rc = lsn_store_dir_put(r->store, "roster", ro->bytes, ro->len)) != 0 ||
        (rc = lsn_relay_roster_history(r, ro)) != 0)
        goto out;
    lsn_relay_log("roster v%llu stored", (unsigned long long)version);
    lsn_peers_dir_push(r, LIAISON__DIR_KIND__DIR_ROSTER, ro->bytes, ro->len);
    rc = lsn_relay_roster_replace(r, ro);
    ro = NULL;
    r->dirty = 1;
    if (rc == 0) {
        *commit = 1;
        rc = put_reply(r, resp, 0, version);
    }
out:
    lsn_roster_destroy(&ro);
    return rc;
}

/* Deletes the key deliveries of org/device that a newer one supersedes
 * and the org's held bundle no longer lists.  Those that it lists are
 * kept: a device that missed several rotations still opens mail sealed to
 * keys within their grace period.  Looks at the last DIR_PRUNE_MAX
 * deliveries (each put prunes, so that is all of them but in a store
 * written before); names end in the zero-padded key id, so they come in
 * key order and the last is the newest. */
static int
prune_deliveries(struct lsn_relay *r, const char *org, const char *device)
{
    int oi = lsn_relay_org_index(r, org);
    const struct lsn_bundle *b = oi < 0 ? NULL : r->bundles[oi];
    struct lsn_delivery *last = NULL;
    char prefix[128], name[160];
    uint8_t **bufs = NULL;
    size_t *lens = NULL, n = 0;
    int rc;

    if (b == NULL)
        return 0;
    snprintf(prefix, sizeof prefix, "delivery/%s/%s/", org, device);
    if ((rc = lsn_store_dir_list_last(r->store, prefix, &bufs, &lens, &n,
                                      DIR_PRUNE_MAX)) != 0)
        return rc;
    /* A newest that does not parse: leave them all. */
    if (n > 0 && lsn_delivery_parse(bufs[n - 1], lens[n - 1], &last) != 0)
        last = NULL;
    for (size_t i = 0; last != NULL && i + 1 < n && rc == 0; i++) {
        struct lsn_delivery *d = NULL;
        if (lsn_delivery_parse(bufs[i], lens[i], &d) == 0 &&
            d->d->key_id < last->d->key_id && lsn_bundle_find_key(b, d->d->key_id) == NULL) {
            snprintf(name, sizeof name, "%s%010u", prefix, d->d->key_id);
            if ((rc = lsn_store_dir_del(r->store, name)) == 0)
                lsn_relay_log("key delivery %s/%s key %u dropped: key %u supersedes "
                              "it and bundle v%llu no longer lists it", org, device,
                              d->d->key_id, last->d->key_id,
                              (unsigned long long)b->b->version);
        }
        lsn_delivery_destroy(&d);
    }
    lsn_delivery_destroy(&last);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    return rc;
}

/* 1 if a delivery of key key_id to org/device is one prune_deliveries
 * would drop at once: a newer one is held and the org's held bundle does
 * not list key_id.  Such a delivery is answered as held and neither
 * stored nor sent on: stored, it would be pruned and sent to every peer,
 * which prunes it and sends it back, round the federation for ever. */
static int
delivery_superseded(struct lsn_relay *r, const char *org, const char *device,
                    uint32_t key_id)
{
    int oi = lsn_relay_org_index(r, org);
    const struct lsn_bundle *b = oi < 0 ? NULL : r->bundles[oi];
    struct lsn_delivery *last = NULL;
    char prefix[128];
    uint8_t **bufs = NULL;
    size_t *lens = NULL, n = 0;
    int newer = 0;

    if (b == NULL || lsn_bundle_find_key(b, key_id) != NULL)
        return 0;
    snprintf(prefix, sizeof prefix, "delivery/%s/%s/", org, device);
    if (lsn_store_dir_list_last(r->store, prefix, &bufs, &lens, &n, 1) != 0)
        return 0;
    if (n == 1 && lsn_delivery_parse(bufs[0], lens[0], &last) == 0)
        newer = last->d->key_id > key_id;
    lsn_delivery_destroy(&last);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    return newer;
}

static int
put_delivery(struct lsn_relay *r, const ProtobufCBinaryData *o,
             Liaison__Response *resp, int *commit)
{
    struct lsn_delivery *d = NULL;
    const Liaison__RosterOrg *ro;
    uint8_t *held = NULL;
    size_t hl = 0;
    char name[128];
    int rc, unchanged = 0;

    if ((rc = lsn_delivery_parse(o->data, o->len, &d)) != 0) {
        lsn_relay_msg(r, "key delivery refused: %s", lsn_strerror(rc));
        return rc;
    }
    if ((ro = lsn_roster_find_org(r->roster, d->d->org)) == NULL) {
        lsn_relay_msg(r, "key delivery for `%s`: not in the roster", d->d->org);
        rc = LSN_ERR_UNKNOWN_ORG;
        goto out;
    }
    if (ro->root_key.len != 32 || (rc = lsn_signed_verify_by(d->so, ro->root_key.data)) != 0) {
        lsn_relay_msg(r, "key delivery for %s/%s: not signed by the org root",
                      d->d->org, d->d->device);
        rc = rc != 0 ? rc : LSN_ERR_BAD_SIGNATURE;
        goto out;
    }
    if (lsn_relay_device(r, d->d->org, d->d->device) == NULL) {
        lsn_relay_msg(r, "key delivery for %s/%s: no such device in the held bundle "
                      "(publish the bundle first)", d->d->org, d->d->device);
        rc = LSN_ERR_UNKNOWN_DEVICE;
        goto out;
    }
    snprintf(name, sizeof name, "delivery/%s/%s/%010u", d->d->org, d->d->device,
             d->d->key_id);
    if ((lsn_store_dir_get(r->store, name, &held, &hl) == 0 && hl == d->len &&
         memcmp(held, d->bytes, hl) == 0) ||
        delivery_superseded(r, d->d->org, d->d->device, d->d->key_id)) {
        unchanged = 1;
    } else if ((rc = lsn_store_dir_put(r->store, name, d->bytes, d->len)) != 0) {
        goto out;
    } else {
        /* Pruning is housekeeping: the delivery stands if it fails. */
        if (prune_deliveries(r, d->d->org, d->d->device) != 0)
            lsn_relay_log("key deliveries of %s/%s not pruned", d->d->org, d->d->device);
        r->dirty = 1;
        lsn_relay_log("key delivery %s/%s key %u stored", d->d->org, d->d->device,
                      d->d->key_id);
        lsn_peers_dir_push(r, LIAISON__DIR_KIND__DIR_DELIVERY, d->bytes, d->len);
    }
    *commit = 1;
    rc = put_reply(r, resp, unchanged, d->d->key_id);
out:
    free(held);
    lsn_delivery_destroy(&d);
    return rc;
}

static int
h_dir_put(struct lsn_relay *r, struct conn *c, const struct who *w,
          const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__DirPutRequest *p = req->dir_put;

    (void)c;
    switch (p->kind) {
    case LIAISON__DIR_KIND__DIR_ROSTER:
        return put_roster(r, &p->object, resp, commit);
    case LIAISON__DIR_KIND__DIR_BUNDLE:
        return put_bundle(r, w, &p->object, resp, commit);
    case LIAISON__DIR_KIND__DIR_DELIVERY:
        return put_delivery(r, &p->object, resp, commit);
    default:
        lsn_relay_msg(r, "directory put: unknown kind %d", (int)p->kind);
        return LSN_ERR_INVALID;
    }
}

/* A peer relay's directory object: the same checks as a client's put. */
static int
h_dir_sync(struct lsn_relay *r, struct conn *c, const struct who *w,
           const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__DirPutRequest *p = req->dir_sync;
    int rc;

    (void)c;
    switch (p->kind) {
    case LIAISON__DIR_KIND__DIR_ROSTER:
        rc = put_roster(r, &p->object, resp, commit);
        break;
    case LIAISON__DIR_KIND__DIR_BUNDLE:
        rc = put_bundle(r, w, &p->object, resp, commit);
        break;
    case LIAISON__DIR_KIND__DIR_DELIVERY:
        rc = put_delivery(r, &p->object, resp, commit);
        break;
    default:
        lsn_relay_msg(r, "directory sync: unknown kind %d", (int)p->kind);
        return LSN_ERR_INVALID;
    }
    if (rc == 0) {      /* the same answer under the relay-to-relay field */
        resp->body_case = LIAISON__RESPONSE__BODY_DIR_SYNC;
        resp->dir_sync = resp->dir_put;
    }
    return rc;
}

static int
h_dir_get(struct lsn_relay *r, struct conn *c, const struct who *w,
          const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__DirGetRequest *g = req->dir_get;
    Liaison__DirGetReply *rep = alloc(r, sizeof *rep);
    ProtobufCBinaryData *objs = alloc(r, DIR_LIST_MAX * sizeof *objs);
    char prefix[128];
    uint8_t **bufs = NULL;
    size_t *lens = NULL, n = 0;
    int oi, rc;

    (void)c;
    if (rep == NULL || objs == NULL)
        return LSN_ERR_NOMEM;
    liaison__dir_get_reply__init(rep);
    resp->body_case = LIAISON__RESPONSE__BODY_DIR_GET;
    resp->dir_get = rep;
    rep->objects = objs;
    switch (g->kind) {
    case LIAISON__DIR_KIND__DIR_ROSTER:
        objs[0] = (ProtobufCBinaryData){ r->roster->len, r->roster->bytes };
        rep->n_objects = 1;
        return 0;
    case LIAISON__DIR_KIND__DIR_BUNDLE:
        if ((oi = lsn_relay_org_index(r, g->org)) < 0 || r->bundles[oi] == NULL) {
            lsn_relay_msg(r, "no bundle of `%s` at this relay", g->org);
            return LSN_ERR_NOT_FOUND;
        }
        objs[0] = (ProtobufCBinaryData){ r->bundles[oi]->len, r->bundles[oi]->bytes };
        rep->n_objects = 1;
        return 0;
    case LIAISON__DIR_KIND__DIR_DELIVERY:
        if (g->org[0] != '\0' && strcmp(g->org, w->org) != 0) {
            lsn_relay_msg(r, "key deliveries of `%s` are for its own devices only", g->org);
            return LSN_ERR_DENIED;
        }
        if (strlen(g->device) > LSN_ENV_DEVICE_MAX)
            return LSN_ERR_MALFORMED;
        snprintf(prefix, sizeof prefix, "delivery/%s/%s/", w->org,
                 g->device[0] != '\0' ? g->device : w->device);
        /* The newest (by key id), oldest first: a device takes a key only
         * if it is newer than every key it holds. */
        if ((rc = lsn_store_dir_list_last(r->store, prefix, &bufs, &lens, &n,
                                          DIR_LIST_MAX)) != 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            uint8_t *copy = alloc(r, lens[i]);
            if (copy != NULL) {
                memcpy(copy, bufs[i], lens[i]);
                objs[rep->n_objects++] = (ProtobufCBinaryData){ lens[i], copy };
            }
            free(bufs[i]);
        }
        free(bufs);
        free(lens);
        *commit = 1;
        return 0;
    default:
        lsn_relay_msg(r, "directory get: unknown kind %d", (int)g->kind);
        return LSN_ERR_INVALID;
    }
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
            rc = put_bundle(r, w, &req->dir_put->object, resp, needs_commit);
        if (rc != 0) {
            lsn_relay_msg(r, UNKNOWN_KEY_MSG);
            return LSN_ERR_DENIED;
        }
        return 0;
    }
    if (w->kind == WHO_RELAY)
        return dispatch_relay(r, c, w, req, resp, needs_commit);
    if (w->kind != WHO_DEVICE) {
        lsn_relay_msg(r, "not allowed");
        return LSN_ERR_DENIED;
    }
    if (current_device(r, w) == NULL) {
        if (strcmp(c->dev, w->id) == 0)
            c->dev[0] = '\0';
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
