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

/* A zero-copy view of a flat message, for the hot paths (the relay's
 * submit, the envelope's outer layer): fields are varints (uint64) or
 * length-delimited (bytes, or an embedded message), none repeated.  The
 * scan accepts exactly the canonical encodings lsn_pb_decode accepts for
 * such a message: fields in ascending order, each at most once, minimal
 * varints, no zero varint and no empty bytes (proto3 leaves defaults
 * out), an empty embedded message only where the spec allows one (a
 * oneof member), nothing unknown (tests/fuzz/fuzz_pb.c checks the two
 * agree).  Values point into buf. */
enum lsn_pb_kind {
    LSN_PB_VARINT,          /* uint64, non-zero when present */
    LSN_PB_BYTES,           /* bytes or string, non-empty when present */
    LSN_PB_MESSAGE,         /* an embedded message, present even if empty */
};

struct lsn_pb_field {
    uint32_t number;        /* ascending within a spec */
    enum lsn_pb_kind kind;
};

struct lsn_pb_value {
    int present;
    uint64_t u;             /* LSN_PB_VARINT */
    const uint8_t *data;    /* the others: into buf */
    size_t len;
};

/* Scans buf[0..len) with spec[0..n) into out[0..n): 0, or
 * LSN_ERR_MALFORMED if it is not the canonical encoding of a message with
 * exactly these fields. */
int lsn_pb_scan(const uint8_t *buf, size_t len, const struct lsn_pb_field *spec,
                size_t n, struct lsn_pb_value *out);

/* Typed shorthands, so callers need no casts. */
#define LSN_PB_DECODE(type_lower, buf, len, cap, outp) \
    lsn_pb_decode(&liaison__##type_lower##__descriptor, (buf), (len), (cap), \
                  (ProtobufCMessage **)(outp))

#endif
