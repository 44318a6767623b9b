/* delivery.c: key deliveries (see delivery.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/delivery.h"
#include "keys/util.h"
#include "proto/err.h"

#define SEALED_LEN (32 + crypto_box_SEALBYTES)

static int
check_delivery_body(const Liaison__KeyDelivery *d)
{
    if (lsn_org_id_check(d->org) != 0 || lsn_name_check(d->device) != 0 ||
        d->public_key.len != 32 || d->sealed_secret.len != SEALED_LEN) {
        lsn_set_detail("key delivery is malformed");
        return LSN_ERR_MALFORMED;
    }
    return 0;
}

int
lsn_delivery_make(const char *org, const char *device,
                  const uint8_t device_pk[32], const struct lsn_enc_secret *s,
                  uint64_t bundle_version, const uint8_t root_sk[64],
                  int64_t now, struct lsn_delivery **out)
{
    Liaison__KeyDelivery body = LIAISON__KEY_DELIVERY__INIT;
    struct lsn_delivery *d = NULL;
    uint8_t sealed[SEALED_LEN], pk[32];
    int r;

    *out = NULL;
    memcpy(pk, s->pk, 32);
    if (crypto_box_seal(sealed, s->sk, 32, device_pk) != 0)
        return LSN_ERR_INTERNAL;
    body.org = (char *)org;
    body.device = (char *)device;
    body.key_id = s->key_id;
    body.public_key = (ProtobufCBinaryData){ 32, pk };
    body.sealed_secret = (ProtobufCBinaryData){ sizeof sealed, sealed };
    body.issued = now;
    body.bundle_version = bundle_version;
    if ((d = calloc(1, sizeof *d)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_signed_view_build(&body.base, LSN_TYPE_KEY_DELIVERY, &d->view)) != 0 ||
        (r = check_delivery_body(d->d)) != 0 ||
        (r = lsn_signed_view_sign(&d->view, root_sk)) != 0) {
        lsn_delivery_destroy(&d);
        return r;
    }
    *out = d;
    return 0;
}

int
lsn_delivery_parse(const uint8_t *buf, size_t len, struct lsn_delivery **out)
{
    struct lsn_delivery *d = NULL;
    int r;

    *out = NULL;
    if ((d = calloc(1, sizeof *d)) == NULL)
        return LSN_ERR_NOMEM;
    r = lsn_signed_view_parse(buf, len, LSN_TYPE_KEY_DELIVERY,
                              &liaison__key_delivery__descriptor, &d->view);
    if (r != 0) {
        free(d);
        return r;
    }
    if ((r = check_delivery_body(d->d)) != 0) {
        lsn_delivery_destroy(&d);
        return r;
    }
    *out = d;
    return 0;
}

int
lsn_delivery_apply(const struct lsn_delivery *d, const struct lsn_roster *ro,
                   struct lsn_credential *c)
{
    const Liaison__RosterOrg *o = lsn_roster_find_org(ro, d->d->org);
    struct lsn_enc_secret s;
    uint8_t pk[32];
    int r;

    if (strcmp(d->d->org, c->org) != 0 || strcmp(d->d->device, c->device) != 0) {
        lsn_set_detail("key delivery is for `%s/%s`, not this device",
                       d->d->org, d->d->device);
        return LSN_ERR_UNKNOWN_DEVICE;
    }
    if (o == NULL)
        return LSN_ERR_UNKNOWN_ORG;
    /* Only newer than every key held: an older one was retired (and maybe
     * wiped) on purpose and must not come back. */
    if (c->n_enc > 0 && d->d->key_id <= c->enc[0].key_id) {
        lsn_set_detail("key delivery %u is not newer than key %u held",
                       d->d->key_id, c->enc[0].key_id);
        return LSN_ERR_ROLLBACK;
    }
    if ((r = lsn_signed_verify_by(d->so, o->root_key.data)) != 0) {
        lsn_set_detail("key delivery %u is not signed by the root of `%s`",
                       d->d->key_id, d->d->org);
        return r;
    }
    memset(&s, 0, sizeof s);
    r = LSN_ERR_DECRYPT;
    if (crypto_box_seal_open(s.sk, d->d->sealed_secret.data,
                             d->d->sealed_secret.len, c->keys->delivery_pk,
                             c->keys->delivery_sk) != 0)
        goto out;
    crypto_scalarmult_base(pk, s.sk);
    r = LSN_ERR_KEY_MISMATCH;
    if (sodium_memcmp(pk, d->d->public_key.data, 32) != 0)
        goto out;
    s.key_id = d->d->key_id;
    memcpy(s.pk, pk, 32);
    s.created = d->d->issued;
    r = lsn_credential_put_enc(c, &s);
out:
    sodium_memzero(&s, sizeof s);
    return r;
}

void
lsn_delivery_destroy(struct lsn_delivery **d)
{
    if (*d == NULL)
        return;
    lsn_signed_view_clear(&(*d)->view);
    free(*d);
    *d = NULL;
}
