/* signed.h: signed objects {type, body, signatures} (docs/formats.md
 * "Signed objects"): signing, counting valid distinct signers, and the
 * text armor used for files. */
#ifndef LSN_SIGNED_H
#define LSN_SIGNED_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pb.h"
#include "keys/armor.h"

#define LSN_TYPE_ROSTER       "roster"
#define LSN_TYPE_BUNDLE       "bundle"
#define LSN_TYPE_KEY_DELIVERY "key-delivery"

#define LSN_SIGNED_MAX      (4u * 1024u * 1024u)  /* encoded object */
#define LSN_MAX_SIGNATURES  64

/* Strictly decodes an encoded SignedObject of the given type.  Checks
 * shape only (type, key and signature sizes, count), not signatures. */
int lsn_signed_decode(const uint8_t *buf, size_t len, const char *type,
                      Liaison__SignedObject **out);

/* Adds sk's signature over so's body (replacing an earlier one by the same
 * key).  sk is a 64-byte Ed25519 secret key. */
int lsn_signed_sign(Liaison__SignedObject *so, const uint8_t sk[64]);

/* Counts the keys of allowed[0..n) that carry a valid signature on so;
 * each key counts once however many entries carry it. */
size_t lsn_signed_count(const Liaison__SignedObject *so,
                        const uint8_t (*allowed)[32], size_t n);

/* 0 if key carries a valid signature on so, else LSN_ERR_BAD_SIGNATURE, or
 * LSN_ERR_WRONG_SIGNER if no signature by key is present but others are. */
int lsn_signed_verify_by(const Liaison__SignedObject *so,
                         const uint8_t key[32]);

/* A new signed object of `type` around a copy of body (no signatures). */
int lsn_signed_wrap(const char *type, const uint8_t *body, size_t len,
                    Liaison__SignedObject **out);

void lsn_signed_free(Liaison__SignedObject *so);

/* A signed object with its decoded body, its exact bytes and their hash:
 * what roster, bundle and key delivery all hold. */
struct lsn_signed_view {
    Liaison__SignedObject *so;
    ProtobufCMessage *body;
    uint8_t *bytes;
    size_t len;
    uint8_t hash[32];     /* BLAKE2b-256 of bytes */
};

/* Decodes buf as a signed object of `type` whose body is a strict `desc`
 * message; copies buf.  No signature check. */
int lsn_signed_view_parse(const uint8_t *buf, size_t len, const char *type,
                          const ProtobufCMessageDescriptor *desc,
                          struct lsn_signed_view *v);

/* Encodes body, wraps it as an unsigned object of `type` and parses it. */
int lsn_signed_view_build(const ProtobufCMessage *body, const char *type,
                          struct lsn_signed_view *v);

/* Adds a signature and refreshes bytes and hash. */
int lsn_signed_view_sign(struct lsn_signed_view *v, const uint8_t sk[64]);

/* Releases what the view holds and zeroes it. */
void lsn_signed_view_clear(struct lsn_signed_view *v);

/* Reads / writes a signed object file (armor label "signed <type>"). */
int lsn_signed_file_read(const char *path, const char *type, uint8_t **bin,
                         size_t *len);
int lsn_signed_file_write(const char *path, const char *type,
                          const uint8_t *bin, size_t len, int flags);

#endif
