/* pb.h: the only way liaison decodes protobuf bytes from outside.
 *
 * Decoding is bounded (input length and heap bytes both capped) and strict:
 * no unknown fields anywhere in the tree, and re-encoding what was decoded
 * must give back exactly the input bytes.  So a signed or hashed byte string
 * has one meaning for every reader: no repeated scalar, no non-minimal
 * varint, no explicit default, no field out of order. */
#ifndef LSN_PB_H
#define LSN_PB_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "proto/liaison.pb-c.h"

/* Default heap cap for one decoded object: generous for a roster of a few
 * hundred orgs, far below what would hurt a relay. */
#define LSN_PB_DEFAULT_HEAP_CAP (4u * 1024u * 1024u)

/* Decodes buf[0..len) as `desc` into *out (caller frees with lsn_pb_free).
 * Fails with LSN_ERR_TOO_LARGE if len > cap or decoding needs more than cap
 * heap bytes, LSN_ERR_MALFORMED if the bytes are not the canonical encoding
 * of a message of that type.  *out is NULL on failure. */
int lsn_pb_decode(const ProtobufCMessageDescriptor *desc,
                  const uint8_t *buf, size_t len, size_t cap,
                  ProtobufCMessage **out);

/* Frees a message from lsn_pb_decode (NULL is fine). */
void lsn_pb_free(ProtobufCMessage *msg);

/* Encodes msg into a new malloc'd buffer *out of *out_len bytes. */
int lsn_pb_encode(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len);

/* The same into sodium_malloc'd memory (release with sodium_free): for
 * messages that carry secrets. */
int lsn_pb_encode_secret(const ProtobufCMessage *msg, uint8_t **out,
                         size_t *out_len);

/* Typed shorthands, so callers need no casts. */
#define LSN_PB_DECODE(type_lower, buf, len, cap, outp) \
    lsn_pb_decode(&liaison__##type_lower##__descriptor, (buf), (len), (cap), \
                  (ProtobufCMessage **)(outp))

#endif
