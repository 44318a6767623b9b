/* deliveries.c: key deliveries fetched from the relay and applied to the
 * credential, and encryption secrets retired as the org's bundle says. */
#include <sodium.h>

#include "client/client.h"
#include "keys/delivery.h"
#include "proto/err.h"

/* Older keys retire as the org's own bundle says; a secret past its
 * retirement is wiped (epoch forward secrecy: messages already received
 * keep their own content keys in the store).  1 if the credential changed. */
static int
sync_retirement(struct lsn_client *c, int64_t now)
{
    struct lsn_credential *cred = c->p->cred;
    struct lsn_bundle *own = NULL;
    size_t keep = 0;
    int changed = 0;

    if (lsn_client_bundle(c, cred->org, now, 0, &own) == 0) {
        uint32_t newest = lsn_bundle_newest_key(own)->key_id;
        for (size_t i = 0; i < cred->n_enc; i++) {
            const Liaison__EncKey *k = lsn_bundle_find_key(own, cred->enc[i].key_id);
            if (k == NULL && cred->enc[i].key_id < newest) {
                /* Dropped from the bundle while this device was away. */
                cred->enc[i].retire_after = 1;
                changed = 1;
            } else if (k != NULL && cred->enc[i].retire_after != k->retire_after) {
                cred->enc[i].retire_after = k->retire_after;
                changed = 1;
            }
        }
        lsn_bundle_destroy(&own);
    }
    for (size_t i = 0; i < cred->n_enc; i++) {
        if (cred->enc[i].retire_after != 0 && cred->enc[i].retire_after < now) {
            changed = 1;
            continue;
        }
        if (keep != i)
            cred->enc[keep] = cred->enc[i];
        keep++;
    }
    for (size_t i = keep; i < cred->n_enc; i++)
        sodium_memzero(&cred->enc[i], sizeof cred->enc[i]);
    cred->n_enc = keep;
    return changed;
}

int
lsn_client_apply_deliveries(struct lsn_client *c, int64_t now, size_t *n)
{
    Liaison__DirGetReply *rep = NULL;
    struct lsn_roster *ro = NULL;
    int r;

    *n = 0;
    if (!c->p->cred->may_receive)
        return 0;
    if ((r = lsn_client_connect(c)) != 0)
        return r;
    r = lsn_relay_client_dir_get(c->rc, LIAISON__DIR_KIND__DIR_DELIVERY,
                                 c->p->cred->org, c->p->cred->device, &rep);
    if (r == LSN_ERR_NOT_FOUND)
        return 0;
    if (r != 0 || (r = lsn_profile_roster(c->p, now, &ro)) != 0)
        goto out;
    for (size_t i = 0; i < rep->n_objects; i++) {
        struct lsn_delivery *d = NULL;
        int e = lsn_delivery_parse(rep->objects[i].data, rep->objects[i].len, &d);
        /* An old delivery (ROLLBACK) is simply not news. */
        if (e == 0 && (e = lsn_delivery_apply(d, ro, c->p->cred)) == 0) {
            (*n)++;
            lsn_local_audit(c->p->store, now, "key", "encryption key %u of %s "
                            "delivered", d->d->key_id, d->d->org);
        }
        lsn_delivery_destroy(&d);
    }
    if (*n > 0) {
        /* The new key names the old one's retirement in the new bundle. */
        struct lsn_bundle *own = NULL;
        (void)lsn_client_bundle(c, c->p->cred->org, now, 1, &own);
        lsn_bundle_destroy(&own);
    }
    if (sync_retirement(c, now) || *n > 0)
        r = lsn_profile_save_credential(c->p);
out:
    lsn_roster_destroy(&ro);
    lsn_pb_free((ProtobufCMessage *)rep);
    return r;
}
