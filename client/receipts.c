/* receipts.c: receipts the client sends (delivered, read, refused: each a
 * sealed, signed alert to the sender org) and the ones it records against
 * its own sent messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/client_int.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"

/* Fills a receipt of this device about message msg_id of org: the
 * Alert a (pointing at ref and rc, which the caller owns) to seal to org. */
static void
receipt_fill(struct lsn_client *c, Liaison__Alert *a, Liaison__MessageRef *ref,
             Liaison__Receipt *rc, const char *org, const uint8_t msg_id[16],
             int kind, int64_t now)
{
    ref->org = (char *)org;
    ref->msg_id = (ProtobufCBinaryData){ 16, (uint8_t *)msg_id };
    rc->kind = kind;
    rc->device = c->p->cred->device;
    rc->at = now;
    a->type = LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT;
    a->title = kind == LIAISON__RECEIPT_KIND__RECEIPT_READ ? "read receipt"
               : kind == LIAISON__RECEIPT_KIND__RECEIPT_REFUSED ? "non-delivery receipt"
               : "delivery receipt";
    a->in_reply_to = ref;
    a->receipt = rc;
}

int
lsn_client_send_receipt(struct lsn_client *c, const struct lsn_opened *o, int kind,
                        int64_t now)
{
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    Liaison__Receipt rc = LIAISON__RECEIPT__INIT;
    const char *to[1] = { o->sender_org };
    uint8_t id[16], *env = NULL;
    size_t len = 0;
    int r;

    receipt_fill(c, &a, &ref, &rc, o->sender_org, o->msg_id, kind, now);
    rc.reads_off = o->alert->ack == LIAISON__ACK_REQUEST__ACK_READ &&
                   !c->p->read_receipts;
    r = lsn_client_seal(c, &a, to, 1, now, LSN_DEFAULT_TTL, NULL, id, &env, &len);
    free(env);
    if (r == 0)
        r = lsn_client_submit(c, id, NULL);
    return r;
}

/* A non-delivery receipt: this device refused message msg_id of org for
 * reason, and says so to that org, signed and sealed like every receipt. */
int
lsn_client_send_refusal(struct lsn_client *c, const char *org, const uint8_t msg_id[16],
                        int reason, int64_t now)
{
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    Liaison__Receipt rc = LIAISON__RECEIPT__INIT;
    const char *to[1] = { org };
    char idem[LSN_ENV_DEVICE_MAX + LSN_ENV_ORG_MAX + 64], hex[33];
    Liaison__StoredSent *held = NULL;
    uint8_t id[16], *env = NULL;
    size_t len = 0;
    int r;

    /* One receipt per refused message and device: its msg_id derives from
     * this key, so a relay that delivers the message again gets none more
     * (this store holds the key's record already: the seal is refused, or
     * the same bytes go to a relay that holds them). */
    lsn_hex(hex, msg_id, 16);
    snprintf(idem, sizeof idem, "non-delivery %s %s %s", c->p->cred->device, org, hex);
    receipt_fill(c, &a, &ref, &rc, org, msg_id,
                 LIAISON__RECEIPT_KIND__RECEIPT_REFUSED, now);
    rc.reason = reason;
    r = lsn_client_seal(c, &a, to, 1, now, LSN_DEFAULT_TTL, idem, id, &env, &len);
    free(env);
    if (r != 0) {
        lsn_set_detail("%s", "");   /* not the refused message's detail */
        return r;
    }
    if (lsn_local_get_sent(c->p->store, id, &held) == 0 && held->submitted)
        r = LSN_ERR_EXISTS;         /* the relay took it before */
    lsn_pb_free((ProtobufCMessage *)held);
    return r != 0 ? r : lsn_client_submit(c, id, NULL);
}

/* 1 if the envelope was signed by its sender device as the newest bundle
 * of the sender org held here has it, and that device may send: only then
 * does a refusal earn a non-delivery receipt (else the sender is not
 * known, and the relay's record of the refusal is all there is). */
int
lsn_client_signed_by_sender(struct lsn_client *c, const uint8_t *env, size_t len,
                            const struct lsn_envelope_info *info)
{
    struct lsn_bundle *b = NULL;
    const Liaison__Device *d;
    int ok = 0;

    if (lsn_client_bundle(c, info->sender_org, lsn_now(), 0, &b) != 0)
        return 0;
    if ((d = lsn_bundle_find_device(b, info->sender_device)) != NULL && d->may_send &&
        d->sign_key.len == 32 &&
        lsn_envelope_signature_check(env, len, d->sign_key.data) == 0)
        ok = 1;
    lsn_bundle_destroy(&b);
    lsn_set_detail("%s", "");
    return ok;
}

/* A receipt for one of our messages: recorded against it. */
void
lsn_client_record_receipt(struct lsn_client *c, const struct lsn_opened *o)
{
    const Liaison__Alert *a = o->alert;
    Liaison__StoredSent *sent = NULL;
    int addressed = 0;

    if (a->receipt == NULL || a->in_reply_to == NULL ||
        strcmp(a->in_reply_to->org, c->p->cred->org) != 0 ||
        lsn_local_get_sent(c->p->store, a->in_reply_to->msg_id.data, &sent) != 0)
        return;
    /* Only an org we sent it to can acknowledge it, and the device named is
     * the one that signed the receipt, not what its content claims. */
    for (size_t i = 0; i < sent->n_recipients; i++)
        addressed |= strcmp(sent->recipients[i], o->sender_org) == 0;
    if (addressed)
        (void)lsn_local_put_receipt_reason(c->p->store, a->in_reply_to->msg_id.data,
                                           o->sender_org, o->sender_device,
                                           a->receipt->kind, a->receipt->at,
                                           a->receipt->reads_off, a->receipt->reason);
    lsn_pb_free((ProtobufCMessage *)sent);
}
