/* delivery.h: key deliveries: an org encryption secret sealed to one
 * device's key-delivery key and signed by the org root, so a rotation
 * reaches every receiving device without anyone touching it
 * (docs/design.md "Keys and trust"; docs/formats.md "Key delivery"). */
#ifndef LSN_DELIVERY_H
#define LSN_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "keys/credential.h"
#include "keys/roster.h"
#include "keys/signed.h"

struct lsn_delivery {
    union {
        struct lsn_signed_view view;
        struct {
            Liaison__SignedObject *so;
            Liaison__KeyDelivery *d;
            uint8_t *bytes;
            size_t len;
            uint8_t hash[32];
        };
    };
};

/* Seals secret s to device_pk (the device's delivery key) and signs the
 * delivery with the org root's 64-byte secret key. */
int lsn_delivery_make(const char *org, const char *device,
                      const uint8_t device_pk[32],
                      const struct lsn_enc_secret *s, uint64_t bundle_version,
                      const uint8_t root_sk[64], int64_t now,
                      struct lsn_delivery **out);

/* Strict parse of an encoded delivery; no signature check. */
int lsn_delivery_parse(const uint8_t *buf, size_t len, struct lsn_delivery **out);

/* Verifies the delivery against the roster (signed by the org's root),
 * checks it is addressed to this credential and newer than every key it
 * holds, opens the secret, checks it matches the delivered public key and
 * adds it to the credential.  LSN_ERR_UNKNOWN_DEVICE if addressed to
 * another device, LSN_ERR_ROLLBACK if not newer. */
int lsn_delivery_apply(const struct lsn_delivery *d, const struct lsn_roster *r,
                       struct lsn_credential *c);

void lsn_delivery_destroy(struct lsn_delivery **d);

#endif
