/* credential.h: the device credential, the one file an administrator hands
 * to a client machine (docs/formats.md "Credential and key ring").  In
 * memory its secrets live in sodium_malloc'd, wiped-on-free memory. */
#ifndef LSN_CREDENTIAL_H
#define LSN_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "keys/util.h"
#include "proto/pb.h"

struct lsn_device_keys {
    uint8_t sign_pk[32];
    uint8_t sign_sk[64];       /* Ed25519 */
    uint8_t curve_pk[32];
    uint8_t curve_sk[32];      /* X25519, CURVE transport */
    uint8_t delivery_pk[32];
    uint8_t delivery_sk[32];   /* X25519, key deliveries are sealed to it */
};

struct lsn_enc_secret {
    uint32_t key_id;
    uint8_t pk[32];
    uint8_t sk[32];
    int64_t created;
    int64_t retire_after;      /* 0 while current */
};

#define LSN_MAX_ENC_KEYS 16

struct lsn_credential {
    char org[LSN_ORG_ID_MAX + 1];
    char device[LSN_NAME_MAX + 1];
    int role;                          /* LIAISON__DEVICE_ROLE__ROLE_* */
    int may_send;
    int may_receive;
    struct lsn_device_keys *keys;      /* sodium_malloc */
    struct lsn_enc_secret *enc;        /* sodium_malloc, LSN_MAX_ENC_KEYS slots */
    size_t n_enc;                      /* newest first */
    uint8_t *roster;                   /* pinned roster (signed object bytes) or NULL */
    size_t roster_len;
};

/* A new credential with fresh device keys and no encryption keys. */
int lsn_credential_new(const char *org, const char *device, int role,
                       int may_send, int may_receive,
                       struct lsn_credential **out);

/* Loads a credential file; pass is NULL for an unprotected file
 * (LSN_ERR_NEED_PASSPHRASE if it is protected). */
int lsn_credential_load(const char *path, const char *pass,
                        struct lsn_credential **out);

/* Writes a credential file, mode 0600 (flags: LSN_WRITE_FORCE). */
int lsn_credential_save(const struct lsn_credential *c, const char *path,
                        const char *pass, int flags);

/* Encodes / decodes the credential payload (inside the key file). */
int lsn_credential_encode(const struct lsn_credential *c, uint8_t **out,
                          size_t *out_len);
int lsn_credential_decode(const uint8_t *buf, size_t len,
                          struct lsn_credential **out);

/* The encryption secret with this id, or NULL (borrowed). */
const struct lsn_enc_secret *
lsn_credential_find_enc(const struct lsn_credential *c, uint32_t key_id);

/* Adds or replaces an encryption secret, keeping newest (highest id)
 * first; drops the oldest when all slots are full. */
int lsn_credential_put_enc(struct lsn_credential *c,
                           const struct lsn_enc_secret *s);

/* Replaces the pinned roster bytes (copied). */
int lsn_credential_set_roster(struct lsn_credential *c, const uint8_t *buf,
                              size_t len);

void lsn_credential_destroy(struct lsn_credential **c);

/* Conversions between the in-memory secret and its protobuf form.  The
 * protobuf form borrows s's bytes.  from_pb checks sizes and that the
 * secret matches its public key (LSN_ERR_KEY_MISMATCH). */
void lsn_enc_secret_to_pb(const struct lsn_enc_secret *s, Liaison__EncSecret *m);
int lsn_enc_secret_from_pb(const Liaison__EncSecret *m, struct lsn_enc_secret *s);

#endif
