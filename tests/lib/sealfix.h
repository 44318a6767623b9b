/* sealfix.h: test fixtures for sealed messages: organisations with a
 * signed bundle and a device credential, a sample Alert, and an
 * independent implementation of the envelope format (from
 * docs/protocol.md, sharing no code with client/seal.c) that tests use to
 * forge envelopes an honest sealer would refuse to make. */
#ifndef LSN_TEST_SEALFIX_H
#define LSN_TEST_SEALFIX_H

#include <stddef.h>
#include <stdint.h>

#include "keys/bundle.h"
#include "keys/credential.h"
#include "proto/pb.h"

#define SF_T0 1800000000LL   /* a fixed "now" for tests (2027-01-15) */

struct sf_org {
    char id[33];
    uint8_t root_pk[32], root_sk[64];
    struct lsn_credential *cred;    /* device "d1": may send and receive */
    struct lsn_bundle *bundle;      /* v1: key 1, device d1 */
};

/* A test org; with seed (32 bytes) every key is derived from it, else
 * random.  0 or an LSN_ERR_*. */
int sf_org_new(struct sf_org *o, const char *id, const uint8_t *seed);
void sf_org_free(struct sf_org *o);

/* Fills d with the public keys of credential c (pointers into c). */
void sf_device_from_cred(Liaison__Device *d, const struct lsn_credential *c,
                         int may_send);

/* Signs a bundle of org o: version, keys[0..nk) newest first, devices
 * [0..nd); previous is the hash of the prior bundle (NULL for v1). */
int sf_bundle_make(const struct sf_org *o, uint64_t version,
                   Liaison__EncKey **keys, size_t nk, Liaison__Device **devs,
                   size_t nd, const uint8_t *previous,
                   struct lsn_bundle **out);

/* A valid sample Alert backed by static storage (one per process). */
void sf_alert_sample(Liaison__Alert *a);

/* ---------------------------------------------------------- forging */

struct sf_forge {
    uint32_t suite;
    const uint8_t *msg_id;                 /* 16 */
    const char *sender_org, *sender_device;
    uint64_t bundle_version;
    int64_t created, expires;
    size_t n;
    const char *const *orgs;
    const uint32_t *key_ids;
    const uint8_t (*pks)[32];
    const uint8_t (*wrap_keys)[32];        /* the K wrapped to each recipient */
    const uint8_t *key;                    /* K for k_enc and commit */
    const uint8_t *commit_key;             /* NULL: key */
    const uint8_t *eph_sk;                 /* 32 */
    const uint8_t *nonce;                  /* 24 */
    const uint8_t *content;                /* encoded Alert, unpadded */
    size_t content_len;
    const uint8_t *sign_sk;                /* 64 */
};

/* Builds an envelope exactly as docs/protocol.md says, trusting nothing
 * the caller gives.  out is malloc'd. */
int sf_forge(const struct sf_forge *f, uint8_t **out, size_t *out_len);

/* Decodes env (leniently), lets edit change the header, re-encodes; with
 * sign_sk the result is re-signed, else it keeps the old signature.  edit
 * may change h's own fields (they are restored before h is freed) and the
 * contents of its recipients, but must not free or alias what unpack
 * allocated inside a recipient. */
typedef void (*sf_edit_fn)(Liaison__EnvelopeHeader *h, void *ctx);
int sf_tamper(const uint8_t *env, size_t len, sf_edit_fn edit, void *ctx,
              const uint8_t *sign_sk, uint8_t **out, size_t *out_len);

/* Rebuilds an envelope from raw header bytes and the ciphertext of env,
 * signed with sign_sk (so only the header's parse can fail). */
int sf_rebuild(const uint8_t *env, size_t len, const uint8_t *hdr,
               size_t hdr_len, const uint8_t *sign_sk, uint8_t **out,
               size_t *out_len);

/* The signature over H and C as docs/protocol.md defines it. */
void sf_sign(uint8_t sig[64], const uint8_t *h, size_t hl, const uint8_t *c,
             size_t cl, const uint8_t *sign_sk);

/* The derivations, written from docs/protocol.md (for vector files). */
void sf_kek(uint8_t kek[32], const uint8_t ss[32], uint32_t suite,
            const uint8_t epk[32], const uint8_t pk_r[32],
            const uint8_t msg_id[16], const char *org, uint32_t key_id);
void sf_content_keys(uint8_t k_enc[32], uint8_t commit[32],
                     const uint8_t key[32], const uint8_t *commit_key,
                     const uint8_t msg_id[16]);
void sf_header_ad(uint8_t ad[32], const uint8_t *h, size_t hl);
void sf_idem_id(uint8_t msg_id[16], const uint8_t org_sk[32],
                const uint8_t *idem, size_t idem_len);

/* Hex helpers for vectors. */
char *sf_hex(const uint8_t *b, size_t n);               /* malloc'd */
int sf_unhex(const char *s, uint8_t **out, size_t *n);   /* malloc'd */

#endif
