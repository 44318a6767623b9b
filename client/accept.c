/* accept.c: taking one envelope in (see lsn_client_accept): opened against
 * the sender's bundle (refreshed when behind), stored with its sealed
 * content key before anyone acks it, a forward's original checked, the
 * receipts it asks for sent; and a stored message opened again. */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/client_int.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"

/* The envelope forwarded in f, opened into *out with the key carried
 * beside it and checked against its sender's newest bundle (present and
 * allowed to send, as for a direct message); outer_sender, who wrapped
 * it, must be one of its recipients (else LSN_ERR_NOT_RECIPIENT, with
 * *out opened all the same). */
static int
open_inner(struct lsn_client *c, const Liaison__Forwarded *f, const char *outer_sender,
           int64_t now, struct lsn_opened **out)
{
    struct lsn_envelope_info info;
    struct lsn_bundle *b = NULL;
    const Liaison__Device *d;
    int r, addressed = 0;

    *out = NULL;
    if ((r = lsn_envelope_peek(f->envelope.data, f->envelope.len, 0, &info)) != 0)
        goto out;
    if ((r = lsn_client_bundle(c, info.sender_org, now, 0, &b)) != 0)
        goto out;
    if ((d = lsn_bundle_find_device(b, info.sender_device)) == NULL) {
        r = LSN_ERR_UNKNOWN_DEVICE;
        goto out;
    }
    if (!d->may_send) {
        r = LSN_ERR_REVOKED;
        goto out;
    }
    if ((r = lsn_open_with_key(f->envelope.data, f->envelope.len, f->key.data,
                               d->sign_key.data, out)) != 0)
        goto out;
    /* Only a recipient of a message may forward it. */
    for (size_t i = 0; i < (*out)->n_recipients; i++)
        addressed |= strcmp((*out)->recipients[i].org, outer_sender) == 0;
    if (!addressed)
        r = LSN_ERR_NOT_RECIPIENT;     /* *out kept, to be shown as such */
out:
    lsn_bundle_destroy(&b);
    return r;
}

/* The originator's signature and key on a forwarded original. */
void
lsn_client_open_original(struct lsn_client *c, struct lsn_message *m, int64_t now)
{
    if (m->o->alert->forwarded == NULL)
        return;
    m->original_err = open_inner(c, m->o->alert->forwarded, m->o->sender_org, now,
                                 &m->original);
}

int
lsn_client_open_chain(struct lsn_client *c, const struct lsn_message *m, int64_t now,
                      struct lsn_chain *ch)
{
    const struct lsn_opened *outer;
    int r;

    memset(ch, 0, sizeof *ch);
    if (m->o->alert->forwarded == NULL)
        return 0;
    if (m->original == NULL || m->original_err != 0)
        return m->original_err != 0 ? m->original_err : LSN_ERR_INVALID;
    ch->layer[ch->n++] = m->original;
    while ((outer = ch->layer[ch->n - 1])->alert->forwarded != NULL) {
        if (ch->n == LSN_FORWARD_DEPTH_MAX) {
            lsn_set_detail("the forward from %s wraps more than %u forwards: "
                           "too deep to open", m->o->sender_org, LSN_FORWARD_DEPTH_MAX);
            lsn_client_chain_free(ch);
            return LSN_ERR_LIMIT;
        }
        r = open_inner(c, outer->alert->forwarded, outer->sender_org, now,
                       &ch->layer[ch->n]);
        ch->n++;
        if (r != 0) {
            lsn_client_chain_free(ch);
            return r;
        }
    }
    return 0;
}

void
lsn_client_chain_free(struct lsn_chain *ch)
{
    /* layer[0] is the message's own original. */
    for (size_t i = 1; i < ch->n; i++)
        lsn_opened_destroy(&ch->layer[i]);
    memset(ch, 0, sizeof *ch);
}

int
lsn_client_open_stored(const struct lsn_local_msg *st, struct lsn_message *m)
{
    int r;

    if ((r = lsn_open_with_key(st->envelope, st->len, st->key, st->sign_key,
                               &m->o)) != 0)
        return r;
    m->received = st->received;
    m->read = st->read;
    m->retracted = st->retracted;
    m->retracted_at = st->retracted_at;
    m->held = st->held;
    memcpy(m->retract_reason, st->retract_reason, sizeof m->retract_reason);
    memcpy(m->hold_case, st->hold_case, sizeof m->hold_case);
    return 0;
}

int
lsn_client_stored_message(struct lsn_client *c, const char *org, const uint8_t id[16],
                          int64_t now, struct lsn_message **out)
{
    struct lsn_local_msg *st = NULL;
    struct lsn_message *m = NULL;
    int r;

    *out = NULL;
    if ((r = lsn_local_get_received(c->p->store, org, id, &st)) != 0)
        return r;
    if ((m = calloc(1, sizeof *m)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    if ((r = lsn_client_open_stored(st, m)) != 0)
        goto out;
    lsn_client_open_original(c, m, now);
    m->superseded = lsn_client_superseded_by(c, org, id, m->superseded_by) == 0;
    *out = m;
    m = NULL;
out:
    lsn_message_free(&m);
    lsn_local_msg_free(&st);
    return r;
}

/* The sender's bundle into *b (a held one is replaced), from the relay
 * if refresh.  When it cannot be had as valid here, only an org the
 * roster does not list is final; an expired or unverifiable bundle or
 * roster is this device's view, which the org's next bundle or the
 * coalition's next roster mends, so a queue item waits for it
 * (c->trust_wait) rather than being refused for, say, EXPIRED as if the
 * envelope were. */
static int
sender_bundle(struct lsn_client *c, const char *org, int64_t now, int refresh,
              struct lsn_bundle **b)
{
    int r;

    lsn_bundle_destroy(b);
    r = lsn_client_bundle(c, org, now, refresh, b);
    if (r != 0 && r != LSN_ERR_UNKNOWN_ORG)
        c->trust_wait = 1;
    return r;
}

/* lsn_open against the sender's bundle, refreshing it once when it is
 * older than the envelope says or does not know the device. */
static int
open_fresh(struct lsn_client *c, const uint8_t *env, size_t len, int64_t now,
           const struct lsn_envelope_info *info, struct lsn_opened **o,
           uint8_t sign_key[32])
{
    struct lsn_bundle *b = NULL;
    const Liaison__Device *d;
    int r, refreshed = 0;

    if ((r = sender_bundle(c, info->sender_org, now, 0, &b)) != 0)
        return r;
    if (b->b->version < info->bundle_version) {
        if ((r = sender_bundle(c, info->sender_org, now, 1, &b)) != 0)
            return r;
        refreshed = 1;
    }
    for (int keys_tried = 0;;) {
        r = lsn_open(env, len, c->p->cred, b, now, lsn_local_replay_check,
                     c->p->store, o);
        if (r == LSN_ERR_UNKNOWN_KEY && !keys_tried++ && c->rc != NULL) {
            /* Sealed to a key whose delivery has not been applied yet. */
            size_t n = 0;
            if (lsn_client_apply_deliveries(c, now, &n) == 0 && n > 0)
                continue;
        }
        if ((r != LSN_ERR_UNKNOWN_DEVICE && r != LSN_ERR_REVOKED) || refreshed)
            break;
        if ((r = sender_bundle(c, info->sender_org, now, 1, &b)) != 0)
            return r;
        refreshed = 1;
    }
    if (r == 0) {
        d = lsn_bundle_find_device(b, (*o)->sender_device);
        memcpy(sign_key, d->sign_key.data, 32);
    }
    lsn_bundle_destroy(&b);
    return r;
}

int
lsn_client_accept(struct lsn_client *c, const uint8_t *env, size_t len,
                  int64_t now, struct lsn_message **out)
{
    struct lsn_envelope_info info;
    struct lsn_message *m = NULL;
    uint8_t sign_key[32];
    char hex[33];
    int r;

    *out = NULL;
    if ((r = lsn_envelope_peek(env, len, 0, &info)) != 0)
        return r;
    lsn_hex(hex, info.msg_id, 16);
    /* Redelivery is normal: the stored copy answers it, if it is the same
     * bytes; other bytes under a known id are not that message. */
    {
        struct lsn_local_msg *st = NULL;
        r = lsn_local_get_received(c->p->store, info.sender_org, info.msg_id, &st);
        if (r == 0 && (st->len != len || memcmp(st->envelope, env, len) != 0)) {
            lsn_set_detail("message %s of %s is already held here with other "
                           "content", hex, info.sender_org);
            r = LSN_ERR_CONFLICT;
        }
        lsn_local_msg_free(&st);
        if (r == 0)
            return lsn_client_stored_message(c, info.sender_org, info.msg_id, now, out);
        if (r != LSN_ERR_NOT_FOUND)
            return r;
        /* Taken here once and pruned: whatever a check would say of it
         * now (expired, say), it is not news and not refused. */
        if (lsn_local_was_pruned(c->p->store, info.sender_org, info.msg_id)) {
            lsn_set_detail("message %s of %s was stored here and pruned since",
                           hex, info.sender_org);
            return LSN_ERR_REPLAY;
        }
    }
    if ((m = calloc(1, sizeof *m)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = open_fresh(c, env, len, now, &info, &m->o, sign_key)) != 0)
        goto out;
    /* A feedback about a message this org never had, or from an org it
     * was not sent to, is refused like a forgery. */
    if ((r = lsn_client_check_feedback(c, m->o)) != 0)
        goto out;
    /* Durable before anyone acks it. */
    if ((r = lsn_local_put_received(c->p->store, m->o, env, len, sign_key, now)) != 0)
        goto out;
    lsn_local_audit(c->p->store, now, "receive", "msg %s from %s/%s", hex,
                    info.sender_org, info.sender_device);
    m->received = now;
    m->fresh = 1;
    lsn_client_open_original(c, m, now);
    lsn_client_note_forward(c, m, now);
    lsn_client_note_update(c, m);
    /* Its newer version may have come first (this one waited). */
    m->superseded = lsn_client_superseded_by(c, info.sender_org, info.msg_id,
                                             m->superseded_by) == 0;
    lsn_client_record_receipt(c, m->o);
    if (lsn_client_record_feedback(c, m->o) == 0 &&
        m->o->alert->type == LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK)
        lsn_local_audit(c->p->store, now, "feedback", "msg %s from %s recorded", hex,
                        info.sender_org);
    lsn_client_apply_retraction(c, m, now);
    if (m->o->alert->type != LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT &&
        m->o->alert->ack != LIAISON__ACK_REQUEST__ACK_NONE && c->rc != NULL &&
        lsn_client_send_receipt(c, m->o, LIAISON__RECEIPT_KIND__RECEIPT_DELIVERED,
                                now) == 0)
        lsn_local_audit(c->p->store, now, "receipt", "delivered %s to %s", hex,
                        info.sender_org);
    *out = m;
    m = NULL;
out:
    lsn_message_free(&m);
    return r;
}
