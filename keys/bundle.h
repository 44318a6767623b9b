/* bundle.h: an organisation's signed bundle: encryption keys and devices
 * (docs/design.md "Keys and trust"; docs/formats.md "Bundle"). */
#ifndef LSN_BUNDLE_H
#define LSN_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "keys/roster.h"
#include "keys/signed.h"
#include "proto/pb.h"

#define LSN_BUNDLE_MAX_DEVICES  512
#define LSN_BUNDLE_MAX_ENC_KEYS 16

struct lsn_bundle {
    union {
        struct lsn_signed_view view;     /* owns everything below */
        struct {
            Liaison__SignedObject *so;
            Liaison__Bundle *b;          /* the decoded body */
            uint8_t *bytes;              /* the encoded signed object */
            size_t len;
            uint8_t hash[32];            /* BLAKE2b-256 of bytes: next bundle's `previous` */
        };
    };
};

/* Parses an encoded signed bundle: strict decode and structure (org id,
 * key sizes, unique device names and key ids, keys newest first, at least
 * one encryption key).  No signature check. */
int lsn_bundle_parse(const uint8_t *buf, size_t len, struct lsn_bundle **out);

/* Reads and parses a signed bundle file (no signature check). */
int lsn_bundle_load(const char *path, struct lsn_bundle **out);

/* Valid for this roster: the org is a member, the bundle is signed by the
 * root key the roster lists for it, and it has not expired. */
int lsn_bundle_verify(const struct lsn_bundle *b, const struct lsn_roster *r,
                      int64_t now);

/* next may replace prev: same org, higher version, and when it is the
 * very next version its `previous` is prev's hash.  (Signature: see
 * lsn_bundle_verify.) */
int lsn_bundle_verify_next(const struct lsn_bundle *prev,
                           const struct lsn_bundle *next);

/* Lookups (borrowed pointers into b, or NULL). */
const Liaison__Device *lsn_bundle_find_device(const struct lsn_bundle *b,
                                              const char *name);
const Liaison__EncKey *lsn_bundle_find_key(const struct lsn_bundle *b,
                                           uint32_t key_id);
const Liaison__EncKey *lsn_bundle_newest_key(const struct lsn_bundle *b);

/* Encodes a body the caller built (borrowed, not freed), wraps it,
 * signs it with the org root's 64-byte Ed25519 secret key and parses the
 * result, so it passes the same checks as a bundle read from outside. */
int lsn_bundle_sign(const Liaison__Bundle *body, const uint8_t root_sk[64],
                    struct lsn_bundle **out);

/* Days before its expiry from which a bundle is reported as expiring. */
#define LSN_BUNDLE_WARN_DAYS 30

/* 1 if b has expired at now or expires within LSN_BUNDLE_WARN_DAYS days
 * of it, else 0: the administrator must sign and publish the next bundle
 * before devices of the org may no longer send. */
int lsn_bundle_expires_soon(const struct lsn_bundle *b, int64_t now);

void lsn_bundle_destroy(struct lsn_bundle **b);

#endif
