/* h_submit.c: the handlers that take an envelope: a device's submit and
 * a peer relay's forward.  Both check the sender against the bundle held
 * here, the envelope's times and size, and fan it out to the queues of
 * the recipient devices homed here (and, for a submit, to the outbound
 * queue of each peer relay that is home to a recipient org). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"
#include "proto/limits.h"
#include "relay/arena.h"
#include "relay/conn.h"
#include "relay/dir.h"
#include "relay/handlers.h"
#include "relay/log.h"
#include "relay/peer.h"

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

/* ---------------------------------------------------------- checks */

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
 * newest key.  Fills the fan-out: one entry per recipient, a peer relay's
 * outbound queue for an org homed there. */
static int
submit_check(struct lsn_relay *r, const struct who *w,
             const struct lsn_envelope_info *info, struct lsn_fanout *fan,
             size_t *n_fan, const char **names)
{
    const Liaison__Device *d;
    size_t used = 0;
    int err;

    if (strcmp(info->sender_org, w->org) != 0 || strcmp(info->sender_device, w->device) != 0) {
        lsn_relay_msg(r, "envelope names sender %s/%s but this connection is %s",
                      info->sender_org, info->sender_device, w->id);
        return LSN_ERR_DENIED;
    }
    if ((d = lsn_relay_current_device(r, w)) == NULL || !d->may_send) {
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
    *n_fan = info->n_recipients;
    return 0;
}

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

/* ---------------------------------------------------------- taking one */

/* What tells a device's submit from a peer relay's forward. */
struct kind {
    const char *name;               /* in log lines */
    const char *what;               /* in the refusal of an unreadable one */
    int (*check)(struct lsn_relay *r, const struct who *w,
                 const struct lsn_envelope_info *info, struct lsn_fanout *fan,
                 size_t *n_fan, const char **names);
    int forward;                    /* answered with a ForwardReply */
};

static const struct kind submit_kind = { "submit", "envelope", submit_check, 0 };
static const struct kind forward_kind = { "forward", "forwarded envelope", forward_check, 1 };

/* The reply to an envelope taken (arena memory): a submit's says when it
 * was first stored, a forward's only whether it was already. */
static int
reply_fill(struct lsn_relay *r, const struct kind *k, const uint8_t msg_id[16],
           const struct lsn_submit_result *res, Liaison__Response *resp)
{
    Liaison__SubmitReply *s;
    Liaison__ForwardReply *f;
    uint8_t *id;

    if (k->forward) {
        if ((f = lsn_arena_alloc(r, sizeof *f)) == NULL ||
            (id = lsn_arena_alloc(r, 16)) == NULL)
            return LSN_ERR_NOMEM;
        liaison__forward_reply__init(f);
        memcpy(id, msg_id, 16);
        f->msg_id = (ProtobufCBinaryData){ 16, id };
        f->duplicate = res->duplicate;
        resp->body_case = LIAISON__RESPONSE__BODY_FORWARD;
        resp->forward = f;
        return 0;
    }
    if ((s = lsn_arena_alloc(r, sizeof *s)) == NULL || (id = lsn_arena_alloc(r, 16)) == NULL)
        return LSN_ERR_NOMEM;
    liaison__submit_reply__init(s);
    memcpy(id, msg_id, 16);
    s->msg_id = (ProtobufCBinaryData){ 16, id };
    s->duplicate = res->duplicate;
    s->accepted = res->accepted;
    resp->body_case = LIAISON__RESPONSE__BODY_SUBMIT;
    resp->submit = s;
    return 0;
}

/* Takes one envelope, submitted or forwarded: its size and header, the
 * checks of its kind (which fill the fan-out), the store; then builds the
 * reply, which waits for the commit, and gives news to the recipients'
 * subscriptions and to the outbound queue of each peer relay a copy went
 * to.  A refusal is logged against connection c. */
static int
envelope_take(struct lsn_relay *r, struct conn *c, const struct who *w,
              const ProtobufCBinaryData *env, const struct kind *k,
              Liaison__Response *resp, int *commit)
{
    struct lsn_envelope_info *info = NULL;
    struct lsn_fanout *fan = NULL;
    const char **names = NULL;
    struct lsn_submit_result res;
    size_t n_fan = 0;
    char hex[33];
    int rc;

    if (env->len > r->cfg.max_envelope) {
        lsn_relay_msg(r, "envelope of %zu bytes; this relay takes at most %llu",
                      env->len, (unsigned long long)r->cfg.max_envelope);
        return LSN_ERR_TOO_LARGE;
    }
    if (submit_scratch(r, 0, NULL, NULL) != 0)
        return LSN_ERR_NOMEM;
    info = r->sub_info;
    if ((rc = lsn_envelope_peek(env->data, env->len, r->cfg.max_envelope, info)) != 0) {
        lsn_relay_msg(r, "%s refused: %s", k->what, lsn_strerror(rc));
        return rc;
    }
    /* Sized by the envelope's recipients. */
    if (submit_scratch(r, info->n_recipients, &fan, &names) != 0)
        return LSN_ERR_NOMEM;
    if ((rc = k->check(r, w, info, fan, &n_fan, names)) != 0) {
        lsn_hex(hex, info->msg_id, 16);
        lsn_relay_log_refusal(c, "%s %s from %s refused: %s", k->name, hex, w->id, r->msg);
        return rc;
    }
    if ((rc = lsn_store_submit(r->store, info, env->data, env->len, fan, n_fan,
                               lsn_relay_time(r), &res)) != 0) {
        lsn_hex(hex, info->msg_id, 16);
        lsn_relay_msg(r, "message %s not stored: %s", hex,
                      lsn_store_why(r->store)[0] ? lsn_store_why(r->store)
                                                 : lsn_strerror(rc));
        lsn_relay_log_refusal(c, "%s %s from %s refused: %s", k->name, hex, w->id, r->msg);
        return rc;
    }
    if ((rc = reply_fill(r, k, info->msg_id, &res, resp)) != 0)
        return rc;
    *commit = 1;        /* "stored" is heard only after the fsync */
    if (!res.duplicate) {
        r->dirty = 1;
        for (size_t i = 0; i < n_fan; i++) {
            lsn_relay_wake(r, fan[i].org);
            if (fan[i].relay != NULL)
                lsn_peers_wake(r, fan[i].relay);
        }
    }
    return 0;
}

int
h_submit(struct lsn_relay *r, struct conn *c, const struct who *w,
         const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    return envelope_take(r, c, w, &req->submit->envelope, &submit_kind, resp, commit);
}

int
h_forward(struct lsn_relay *r, struct conn *c, const struct who *w,
          const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    return envelope_take(r, c, w, &req->forward->envelope, &forward_kind, resp, commit);
}
