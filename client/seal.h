/* seal.h: end-to-end sealed messages (docs/design.md "Message format", suite 1;
 * docs/protocol.md gives every byte).
 *
 * lsn_seal turns an Alert into envelope bytes that only the addressed
 * organisations can open and that carry the sender device's signature over
 * the header (sender, every recipient) and the ciphertext.  lsn_open checks
 * all of that in the protocol's order and releases the content only when
 * every check passed. */
#ifndef LSN_SEAL_H
#define LSN_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "keys/bundle.h"
#include "keys/credential.h"
#include "proto/envelope.h"
#include "proto/pb.h"

/* Longest idempotency key (bytes). */
#define LSN_IDEM_MAX 256u

struct lsn_seal_params {
    int64_t created;              /* unix seconds */
    int64_t expires;              /* created < expires <= created + LSN_MAX_TTL */
    uint64_t bundle_version;      /* the sender org's current bundle (a hint in H) */
    const uint8_t *idem_key;      /* NULL: random msg_id; else msg_id from it */
    size_t idem_len;              /* 1..LSN_IDEM_MAX when idem_key is set */
};

/* Seals content from the device in sender to the organisations of the
 * verified bundles recipients[0..n) (each org once, each at its newest
 * encryption key).  *out is a new malloc'd envelope of *out_len bytes.
 * Errors: LSN_ERR_INVALID/LIMIT (content, or duplicate or too many
 * recipients), LSN_ERR_TOO_LARGE (content over LSN_CONTENT_MAX),
 * LSN_ERR_TTL, LSN_ERR_REVOKED (device may not send), LSN_ERR_USAGE
 * (bad parameters), LSN_ERR_DECRYPT (a recipient key gives an all-zero
 * shared secret). */
int lsn_seal(const Liaison__Alert *content, const struct lsn_credential *sender,
             const struct lsn_bundle *const *recipients, size_t n,
             const struct lsn_seal_params *p, uint8_t **out, size_t *out_len);

/* The randomness of one sealing.  Never reuse one. */
struct lsn_seal_random {
    uint8_t key[32];              /* K */
    uint8_t eph_sk[32];           /* e.sk */
    uint8_t msg_id[16];           /* ignored when p->idem_key is set */
    uint8_t nonce[24];            /* content nonce */
};

/* lsn_seal with the randomness given: for known-answer vectors and tests
 * only.  Reusing rnd for two messages breaks the wraps' zero nonce. */
int lsn_seal_with_random(const Liaison__Alert *content,
                         const struct lsn_credential *sender,
                         const struct lsn_bundle *const *recipients, size_t n,
                         const struct lsn_seal_params *p,
                         const struct lsn_seal_random *rnd,
                         uint8_t **out, size_t *out_len);

/* The replay check: 0 if (sender_org, msg_id) was not seen, LSN_ERR_REPLAY
 * if it was, another negative LSN_ERR_* if the check itself failed.  It
 * only checks: the caller records the entry (to keep until keep_until =
 * expires + LSN_MAX_SKEW) after it stored the opened message durably. */
typedef int (*lsn_replay_fn)(void *ctx, const char *sender_org,
                             const uint8_t msg_id[16], int64_t keep_until);

/* An opened message: the content and the signed facts around it. */
struct lsn_opened {
    Liaison__Alert *alert;                    /* validated content */
    uint8_t msg_id[16];
    char sender_org[LSN_ENV_ORG_MAX + 1];
    char sender_device[LSN_ENV_DEVICE_MAX + 1];
    uint64_t bundle_version;                  /* the sender's hint */
    int64_t created;
    int64_t expires;
    int64_t keep_until;                       /* expires + LSN_MAX_SKEW */
    uint32_t key_id;                          /* own org key that opened it */
    /* Every org the sender addressed, in signed order: a recipient sees
     * whom the sender meant, so a forwarded message cannot pose as
     * addressed to it (surreptitious forwarding). */
    size_t n_recipients;
    struct lsn_envelope_recipient *recipients;
    uint8_t key[32];                          /* K: wiped by lsn_opened_destroy */
};

/* Opens envelope buf[0..len) for the org of self.  sender_bundle is the
 * newest verified bundle the caller holds for the sender's org (fetch a
 * newer one first if the header's bundle_version is higher: see
 * lsn_envelope_peek).  replay may be NULL only when re-reading a message
 * already accepted.  Checks, in this order, each with its own error:
 * LSN_ERR_TOO_LARGE/MALFORMED/LIMIT (header), LSN_ERR_SUITE,
 * LSN_ERR_NOT_RECIPIENT, LSN_ERR_USAGE (bundle of another org),
 * LSN_ERR_UNKNOWN_DEVICE, LSN_ERR_REVOKED (may not send),
 * LSN_ERR_BAD_SIGNATURE, LSN_ERR_FUTURE, LSN_ERR_TTL, LSN_ERR_EXPIRED,
 * LSN_ERR_REPLAY, LSN_ERR_UNKNOWN_KEY, LSN_ERR_KEY_RETIRED,
 * LSN_ERR_DECRYPT (wrap), LSN_ERR_COMMIT, LSN_ERR_DECRYPT (content),
 * LSN_ERR_MALFORMED/INVALID/LIMIT (content).  On failure *out is NULL and
 * nothing decrypted survives.  Free the result with lsn_opened_destroy. */
int lsn_open(const uint8_t *buf, size_t len, const struct lsn_credential *self,
             const struct lsn_bundle *sender_bundle, int64_t now,
             lsn_replay_fn replay, void *replay_ctx, struct lsn_opened **out);

/* Re-opens an envelope whose content key K is already known (a message
 * from the local store, or one forwarded with its key): strict parse, the
 * signature by sign_pk (the sender device's key, recorded when the message
 * was first opened or taken from the originator's bundle), the commitment
 * to K, decryption, content checks.  No recipient, time or replay checks:
 * those belonged to the first opening.  key_id in the result is 0. */
int lsn_open_with_key(const uint8_t *buf, size_t len, const uint8_t key[32],
                      const uint8_t sign_pk[32], struct lsn_opened **out);

/* Wipes and frees an opened message; sets *o to NULL. */
void lsn_opened_destroy(struct lsn_opened **o);

/* 0 if the envelope in buf[0..len) parses and its signature verifies under
 * sign_pk (the sender device's Ed25519 key), else the parse error or
 * LSN_ERR_BAD_SIGNATURE.  Nothing else is checked. */
int lsn_envelope_signature_check(const uint8_t *buf, size_t len,
                                 const uint8_t sign_pk[32]);

#endif
