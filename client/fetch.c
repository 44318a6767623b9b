/* fetch.c: the receiving loop (lsn_client_fetch, lsn_client_watch): queue
 * items taken in order, each acknowledged with its outcome once stored or
 * refused for good, the others left queued and tried again with back-off;
 * gap reports, relay notices. */
#include <string.h>

#include "client/client.h"
#include "client/client_int.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"

/* Acks one item with its outcome (0 stored, else the refusal's code). */
static int
ack_one(struct lsn_client *c, const char *org, const uint8_t id[16], int outcome,
        uint64_t gap_seen)
{
    const char *orgs[1] = { org };
    uint8_t ids[1][16];
    int oc[1] = { outcome };

    memcpy(ids[0], id, 16);
    return lsn_relay_client_ack_outcome(c->rc, orgs, (const uint8_t (*)[16])ids, oc,
                                        1, gap_seen, 0, NULL);
}

/* An envelope that can never open on this device, whatever happens next:
 * it is refused for good (recorded in the audit log, then acknowledged
 * with the refusal as its outcome, which the sender's status shows) so
 * that it cannot block the queue.  Anything else waits: not acknowledged,
 * passed over, and tried again at the next fetch. */
static int
refusal_is_permanent(int err)
{
    switch (err) {
    case LSN_ERR_BAD_SIGNATURE: case LSN_ERR_REVOKED: case LSN_ERR_UNKNOWN_DEVICE:
    case LSN_ERR_NOT_RECIPIENT: case LSN_ERR_DECRYPT: case LSN_ERR_COMMIT:
    case LSN_ERR_MALFORMED: case LSN_ERR_TRUNCATED: case LSN_ERR_SUITE:
    case LSN_ERR_TTL: case LSN_ERR_EXPIRED: case LSN_ERR_KEY_RETIRED:
    case LSN_ERR_LIMIT: case LSN_ERR_INVALID: case LSN_ERR_TOO_LARGE:
    case LSN_ERR_REPLAY: case LSN_ERR_UNKNOWN_ORG: case LSN_ERR_USAGE:
    case LSN_ERR_CONFLICT:
        return 1;
    case LSN_ERR_STORE_FULL: case LSN_ERR_IO: case LSN_ERR_NOMEM:
        return 0;       /* this device's resources: try again later */
    default:
        return 0;
    }
}

/* Handles one queue item: 1 if it may be acked (stored or a relay notice:
 * *outcome 0; refused for good: *outcome the LSN_ERR_* code), 0 to leave
 * it queued (it waits; counted in c->waiting).  Sets *stop if fn asks. */
static int
take_item(struct lsn_client *c, const Liaison__QueueItem *it, lsn_client_msg_fn fn,
          lsn_client_err_fn on_error, void *ctx, int *stop, int *outcome)
{
    struct lsn_envelope_info info;
    struct lsn_message *m = NULL;
    char hex[33] = "";
    int r, peeked;

    *outcome = 0;
    if (it->notice != NULL) {
        /* The relay's own word: kept in the audit log, then acked. */
        if (it->notice->msg_id.len == 16)
            lsn_hex(hex, it->notice->msg_id.data, 16);
        lsn_local_audit(c->p->store, lsn_now(), "relay-notice", "%s: msg %s",
                        it->notice->kind, hex);
        if (on_error != NULL && it->notice->msg_id.len == 16)
            on_error(ctx, it->notice->org, it->notice->msg_id.data, LSN_ERR_EXPIRED);
        return 1;
    }
    /* The ack names what the relay said; it must be what the envelope is. */
    r = lsn_envelope_peek(it->envelope.data, it->envelope.len, 0, &info);
    peeked = r == 0;
    if (r == 0 && (it->msg_id.len != 16 || strcmp(it->org, info.sender_org) != 0 ||
                   memcmp(it->msg_id.data, info.msg_id, 16) != 0))
        r = LSN_ERR_PROTOCOL;
    c->trust_wait = 0;
    if (r == 0) {
        c->taking = 1;
        r = lsn_client_accept(c, it->envelope.data, it->envelope.len, lsn_now(), &m);
        c->taking = 0;
    }
    if (r == LSN_ERR_REPLAY) {
        /* (org, msg_id) is in the seen table: this device stored this
         * signed message once and pruned it since (or another process
         * stored it just now).  Another copy is acked as taken: a refusal
         * would tell the sender, in a signed receipt that outranks its
         * read receipt, that a message read here was never delivered. */
        lsn_hex(hex, it->msg_id.data, 16);
        lsn_local_audit(c->p->store, lsn_now(), "receive", "msg %s from %s again: "
                        "taken before", hex, it->org);
        lsn_set_detail("%s", "");
        return 1;
    }
    if (r != 0) {
        if (!refusal_is_permanent(r) || c->trust_wait || it->msg_id.len != 16) {
            c->waiting++;
            /* A full store is the reason the user must act on. */
            if (c->waiting_err != LSN_ERR_STORE_FULL)
                c->waiting_err = r;
            lsn_set_detail("%s", "");
            return 0;
        }
        c->refused++;
        if (on_error != NULL)
            on_error(ctx, it->org, it->msg_id.data, r);
        lsn_hex(hex, it->msg_id.data, 16);
        lsn_local_audit(c->p->store, lsn_now(), "refused", "msg %s from %s: %s",
                        hex, it->org, lsn_strerror(r));
        *outcome = r < LSN_ACK_REASON_MIN ? LSN_ERR_INVALID : r;
        /* The sender hears it end to end too, when it is known to have
         * signed this (the peek above checked the ref is the envelope's),
         * and it was sent here: one addressed to other orgs is a relay's
         * doing, which it could repeat to make this device sign receipts
         * without end. */
        if (peeked && c->rc != NULL && r != LSN_ERR_NOT_RECIPIENT &&
            lsn_client_signed_by_sender(c, it->envelope.data, it->envelope.len, &info) &&
            lsn_client_send_refusal(c, info.sender_org, info.msg_id, *outcome,
                                    lsn_now()) == 0)
            lsn_local_audit(c->p->store, lsn_now(), "receipt", "refused %s to %s",
                            hex, info.sender_org);
        return 1;
    }
    if (m->fresh && fn != NULL && fn(ctx, m) != 0)
        *stop = 1;
    lsn_message_free(&m);
    return 1;
}

/* One gap report: each trimmed ref to on_error, a line in the audit log. */
static void
note_gap(struct lsn_client *c, const Liaison__QueueGap *gap,
         lsn_client_err_fn on_error, void *ctx)
{
    if (gap == NULL || gap->trimmed == 0)
        return;
    if (on_error != NULL)
        for (size_t i = 0; i < gap->n_refs; i++)
            on_error(ctx, gap->refs[i]->org, gap->refs[i]->msg_id.data, LSN_ERR_QUOTA);
    lsn_local_audit(c->p->store, lsn_now(), "gap", "%llu message(s) "
                    "trimmed by the relay before this device fetched them",
                    (unsigned long long)gap->trimmed);
}

int
lsn_client_fetch(struct lsn_client *c, lsn_client_msg_fn fn,
                 lsn_client_err_fn on_error, void *ctx, size_t *n)
{
    uint64_t after = 0, gap_seen = 0;
    size_t keys = 0;
    int r, stop = 0, first = 1, gap_told = 0;

    *n = 0;
    c->refused = 0;
    c->waiting = 0;
    c->waiting_err = 0;
    c->n_absent = 0;        /* ask the relay again for what it lacked */
    if ((r = lsn_client_connect(c)) != 0)
        return r;
    /* Said until the first batch is in: handling it may print. */
    lsn_client_progress(c, "fetching");
    /* Keys first: the envelopes fetched next may need them. */
    if ((r = lsn_client_apply_deliveries(c, lsn_now(), &keys)) != 0) {
        lsn_client_progress(c, NULL);
        return lsn_client_relay_fail(c, r);
    }
    /* Once through the whole queue, a cursor past each batch: items that
     * wait (not acked) stay behind it and never hide the ones after. */
    while (!stop && r == 0) {
        Liaison__FetchReply *rep = NULL;
        r = lsn_relay_client_fetch_after(c->rc, LSN_FETCH_BATCH, after, &rep);
        if (first)
            lsn_client_progress(c, NULL);
        if (r != 0)
            return lsn_client_relay_fail(c, r);
        if (first) {
            note_gap(c, rep->gap, on_error, ctx);
            gap_seen = rep->gap ? rep->gap->trimmed : 0;
            first = 0;
        }
        if (rep->n_items == 0) {
            lsn_pb_free((ProtobufCMessage *)rep);
            break;
        }
        for (size_t i = 0; i < rep->n_items && r == 0 && !stop; i++) {
            const Liaison__QueueItem *it = rep->items[i];
            int outcome = 0;
            if (it->seq <= after) {
                /* A relay that ignores the cursor would loop us forever. */
                lsn_set_detail("the relay answered a fetch after item %llu with "
                               "item %llu", (unsigned long long)after,
                               (unsigned long long)it->seq);
                r = LSN_ERR_PROTOCOL;
                break;
            }
            after = it->seq;
            if (take_item(c, it, fn, on_error, ctx, &stop, &outcome) > 0) {
                r = ack_one(c, it->org, it->msg_id.data, outcome, gap_seen);
                gap_told = 1;
                if (outcome == 0 && it->envelope.len > 0 && it->notice == NULL)
                    (*n)++;
            }
        }
        lsn_pb_free((ProtobufCMessage *)rep);
    }
    /* The gap was shown: acknowledged even when every item waits, or the
     * next fetch would name the same trimmed messages again. */
    if (r == 0 && gap_seen > 0 && !gap_told)
        r = lsn_relay_client_ack_outcome(c->rc, NULL, NULL, NULL, 0, gap_seen, 0, NULL);
    if (c->waiting > 0)
        lsn_local_audit(c->p->store, lsn_now(), "waiting", "%zu message(s) left "
                        "queued at the relay: %s", c->waiting,
                        lsn_strerror(c->waiting_err));
    /* Seen entries past their time are of no more use. */
    (void)lsn_local_prune(c->p->store, lsn_now());
    return lsn_client_relay_fail(c, r);
}

/* How often watch looks for stored sends whose retry time has come. */
#define WATCH_RESEND_S 5

int
lsn_client_watch(struct lsn_client *c, lsn_client_msg_fn fn,
                 lsn_client_err_fn on_error, void *ctx, volatile int *stop,
                 int poll_ms)
{
    int64_t backoff = LSN_RETRY_MIN_S, retry_at = 0;
    size_t n = 0;
    int r, quit = 0;
    int64_t next_resend = lsn_now() + WATCH_RESEND_S;

    /* What waits already, then what arrives. */
    if ((r = lsn_client_fetch(c, fn, on_error, ctx, &n)) != 0)
        return r;
    if (c->waiting > 0)
        retry_at = lsn_now() + backoff;
    if ((r = lsn_relay_client_subscribe(c->rc, 16, NULL)) != 0)
        return lsn_client_relay_fail(c, r);
    while (!quit && (stop == NULL || !*stop)) {
        Liaison__Response *resp = NULL;
        uint32_t passed = 0;
        uint64_t gap = 0;
        /* Items that wait are tried again by a whole fetch, with back-off:
         * the relay does not push them twice. */
        if (retry_at != 0 && lsn_now() >= retry_at) {
            if ((r = lsn_client_fetch(c, fn, on_error, ctx, &n)) != 0)
                break;
            if (c->waiting == 0) {
                backoff = LSN_RETRY_MIN_S;
                retry_at = 0;
            } else {
                backoff = backoff * 2 > LSN_RETRY_MAX_S ? LSN_RETRY_MAX_S : backoff * 2;
                retry_at = lsn_now() + backoff;
            }
        }
        r = lsn_relay_client_next_push(c->rc, poll_ms, &resp);
        if (r == LSN_ERR_TIMEOUT) {
            r = 0;
            /* Sends waiting out a quota go again once their time comes. */
            if (lsn_now() >= next_resend) {
                size_t resent = 0;
                (void)lsn_client_resubmit(c, &resent);
                next_resend = lsn_now() + WATCH_RESEND_S;
            }
            continue;
        }
        if (r != 0)
            break;
        if (resp->push != NULL) {
            note_gap(c, resp->push->gap, on_error, ctx);
            gap = resp->push->gap != NULL ? resp->push->gap->trimmed : 0;
        }
        for (size_t i = 0; resp->push != NULL && i < resp->push->n_items && r == 0 && !quit;
             i++) {
            const Liaison__QueueItem *it = resp->push->items[i];
            int outcome = 0;
            /* A push's gap is acknowledged once, with the first ack. */
            if (take_item(c, it, fn, on_error, ctx, &quit, &outcome) > 0) {
                r = ack_one(c, it->org, it->msg_id.data, outcome, gap);
                gap = 0;
            } else {
                passed++;
            }
        }
        /* The push credit of what waits comes back; the items stay queued
         * for the next retry. */
        if (r == 0 && (passed > 0 || gap > 0))
            r = lsn_relay_client_ack_outcome(c->rc, NULL, NULL, NULL, 0, gap, passed,
                                             NULL);
        if (passed > 0 && retry_at == 0)
            retry_at = lsn_now() + backoff;
        lsn_pb_free((ProtobufCMessage *)resp);
        if (r != 0)
            break;
    }
    return lsn_client_relay_fail(c, r);
}
