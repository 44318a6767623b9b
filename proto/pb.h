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

/* A zero-copy view of a message, for the hot paths (the relay's submit,
 * the envelope and its header): fields are varints, byte strings, text
 * or embedded messages, and only embedded messages may repeat.  The scan
 * accepts exactly the canonical encodings lsn_pb_decode accepts for such
 * a message: fields in ascending order, each at most once (a repeated one
 * in one run), minimal varints, no zero varint and no empty string
 * (proto3 leaves defaults out), an empty embedded message only where the
 * spec allows one (a oneof member, a repeated element), no NUL in text,
 * nothing unknown (tests/fuzz/fuzz_pb.c checks the two agree on every
 * message read this way).  Values point into buf. */
enum lsn_pb_kind {
    LSN_PB_VARINT,          /* uint64 or int64 (as uint64), non-zero */
    LSN_PB_VARINT32,        /* uint32, non-zero */
    LSN_PB_BYTES,           /* bytes, non-empty */
    LSN_PB_STRING,          /* string: non-empty, no NUL */
    LSN_PB_MESSAGE,         /* an embedded message, present even if empty */
    LSN_PB_REPEATED,        /* repeated embedded messages: see below */
};

struct lsn_pb_field {
    uint32_t number;        /* ascending within a spec */
    enum lsn_pb_kind kind;
};

/* A field's value.  For LSN_PB_REPEATED, count elements and data/len the
 * run holding them (tags included), read with lsn_pb_next. */
struct lsn_pb_value {
    int present;
    uint64_t u;             /* the varints */
    const uint8_t *data;    /* the others: into buf */
    size_t len;
    size_t count;
};

/* Scans buf[0..len) with spec[0..n) into out[0..n): 0, or
 * LSN_ERR_MALFORMED if it is not the canonical encoding of a message with
 * exactly these fields. */
int lsn_pb_scan(const uint8_t *buf, size_t len, const struct lsn_pb_field *spec,
                size_t n, struct lsn_pb_value *out);

/* The next element of a LSN_PB_REPEATED run (*p moves past it; start with
 * *p = data, stop when *p == data + len): its payload. */
void lsn_pb_next(const uint8_t **p, const uint8_t **elem, size_t *elem_len);

/* Typed shorthands, so callers need no casts. */
#define LSN_PB_DECODE(type_lower, buf, len, cap, outp) \
    lsn_pb_decode(&liaison__##type_lower##__descriptor, (buf), (len), (cap), \
                  (ProtobufCMessage **)(outp))

#endif
