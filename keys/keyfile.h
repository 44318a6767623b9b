/* keyfile.h: secret and public key files (docs/formats.md "Key files").
 *
 * A secret file holds one payload (a raw key, or an encoded key ring or
 * credential), optionally sealed under a passphrase with argon2id +
 * XSalsa20-Poly1305.  A checksum over the whole binary tells a corrupt file
 * from a wrong passphrase.  Files are armored text (armor.h). */
#ifndef LSN_KEYFILE_H
#define LSN_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

enum lsn_key_kind {
    LSN_KEY_AUTHORITY  = 1,   /* Ed25519: signs rosters */
    LSN_KEY_ORG_ROOT   = 2,   /* Ed25519: signs bundles and key deliveries */
    LSN_KEY_RELAY      = 3,   /* X25519: a relay's CURVE key pair */
    LSN_KEY_ENC_RING   = 4,   /* secret only: an org's encryption key ring */
    LSN_KEY_CREDENTIAL = 5,   /* secret only: a device credential */
};

#define LSN_SECRET_FILE_MAX (2u * 1024u * 1024u)
#define LSN_PUBLIC_FILE_MAX 4096u

/* "authority", "org-root", ... (never NULL). */
const char *lsn_key_kind_name(int kind);

/* Encodes payload as a secret key file text (*text malloc'd; wipe it).
 * pass NULL: unprotected.  comment: extra armor comment lines or NULL. */
int lsn_secret_encode(int kind, const char *comment, const uint8_t *payload,
                      size_t len, const char *pass, char **text,
                      size_t *text_len);

/* Decodes a secret key file text of the given kind.  *payload is
 * sodium_malloc'd (release with lsn_secret_free).  LSN_ERR_NEED_PASSPHRASE,
 * LSN_ERR_PASSPHRASE (wrong), LSN_ERR_CORRUPT, LSN_ERR_TRUNCATED,
 * LSN_ERR_WRONG_KIND, LSN_ERR_VERSION, LSN_ERR_MALFORMED. */
int lsn_secret_decode(const uint8_t *text, size_t text_len, int kind,
                      const char *pass, uint8_t **payload, size_t *len);

/* A protected secret file's own key: argon2id of the passphrase with the
 * file's salt, and the header prefix (kind, KDF limits, salt) it goes
 * with.  It opens that file, and reseals new payloads under the same
 * passphrase, without the passphrase (the unlock agent holds one:
 * client/agent.h).  Keep it in sodium_malloc'd memory. */
struct lsn_secret_kek {
    uint8_t prefix[40];
    uint8_t k[32];
};

/* Checks pass against the protected secret file text and fills *kek.
 * LSN_ERR_PASSPHRASE (wrong), LSN_ERR_INVALID (not protected), decode's
 * errors. */
int lsn_secret_kek_derive(const uint8_t *text, size_t text_len, int kind,
                          const char *pass, struct lsn_secret_kek *kek);

/* lsn_secret_decode with a file key: LSN_ERR_PASSPHRASE when the file was
 * sealed under another passphrase (or salt). */
int lsn_secret_decode_kek(const uint8_t *text, size_t text_len, int kind,
                          const struct lsn_secret_kek *kek, uint8_t **payload,
                          size_t *len);

/* lsn_secret_encode under a file key (a fresh nonce, kek's salt). */
int lsn_secret_encode_kek(int kind, const char *comment, const uint8_t *payload,
                          size_t len, const struct lsn_secret_kek *kek,
                          char **text, size_t *text_len);

/* The same for files; writes are 0600, O_EXCL|O_NOFOLLOW unless
 * LSN_WRITE_FORCE. */
int lsn_secret_write(const char *path, int kind, const char *comment,
                     const uint8_t *payload, size_t len, const char *pass,
                     int flags);
int lsn_secret_read(const char *path, int kind, const char *pass,
                    uint8_t **payload, size_t *len);

/* *is_protected = 1 if the file at path needs a passphrase. */
int lsn_secret_is_protected(const char *path, int *is_protected);

void lsn_secret_free(uint8_t *payload);

/* Public key files: one 32-byte key of a kind. */
int lsn_public_encode(int kind, const char *comment, const uint8_t key[32],
                      char **text, size_t *text_len);
int lsn_public_decode(const uint8_t *text, size_t text_len, int kind,
                      uint8_t key[32]);
int lsn_public_write(const char *path, int kind, const char *comment,
                     const uint8_t key[32], int flags);
int lsn_public_read(const char *path, int kind, uint8_t key[32]);

#endif
