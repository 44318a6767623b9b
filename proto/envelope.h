/* envelope.h: the strict parse of an envelope and its header, and the
 * relay's view of it (docs/protocol.md "Wire format", "The relay's view").
 *
 * Everything here works without keys: it is what a relay may know.  The
 * parse accepts an envelope only if every layer is the canonical encoding
 * (lsn_pb_decode), the suite is known, every field has its exact size,
 * names are well formed, and no recipient org appears twice, so a relay and
 * a recipient can never read one header two ways. */
#ifndef LSN_ENVELOPE_H
#define LSN_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"
#include "proto/pb.h"

struct lsn_envelope_recipient {
    char org[LSN_ENV_ORG_MAX + 1];
    uint32_t key_id;
};

/* What a relay may read without keys. */
struct lsn_envelope_info {
    uint32_t suite;
    uint8_t msg_id[LSN_MSG_ID_LEN];
    char sender_org[LSN_ENV_ORG_MAX + 1];
    char sender_device[LSN_ENV_DEVICE_MAX + 1];
    uint64_t bundle_version;         /* the sender's claim: a hint only */
    int64_t created;
    int64_t expires;
    size_t n_recipients;
    struct lsn_envelope_recipient recipients[LSN_MAX_RECIPIENTS];
    size_t size;                     /* bytes of the whole envelope */
};

/* A parsed envelope.  header_bytes/ciphertext/sig point into the buffer
 * it was parsed from, which must stay unchanged while it is in use. */
struct lsn_envelope {
    Liaison__EnvelopeHeader *h;
    const uint8_t *header_bytes;     /* H exactly as carried and signed */
    size_t header_len;
    const uint8_t *ciphertext;       /* C */
    size_t ciphertext_len;
    const uint8_t *sig;              /* LSN_SIG_LEN bytes */
    size_t size;                     /* the whole encoded envelope */
    struct lsn_envelope_info info;   /* what the header says, as the relay reads it */
};

/* Strictly parses buf[0..len) into a new *out (free: lsn_envelope_destroy).
 * max_len caps the input (0: LSN_ENVELOPE_MAX).  Errors: LSN_ERR_TOO_LARGE
 * (over the cap), LSN_ERR_MALFORMED (not canonical, wrong sizes, bad names,
 * duplicate org, created/expires out of order), LSN_ERR_SUITE, LSN_ERR_LIMIT
 * (too many recipients).  Does not check times against a clock, the TTL,
 * or any signature.  *out is NULL on failure. */
int lsn_envelope_parse(const uint8_t *buf, size_t len, size_t max_len,
                       struct lsn_envelope **out);

void lsn_envelope_destroy(struct lsn_envelope **e);

/* The recipient entry for org in a parsed envelope, or NULL (borrowed). */
const Liaison__EnvelopeRecipient *
lsn_envelope_find_recipient(const struct lsn_envelope *e, const char *org);

/* 0 if expires - created <= LSN_MAX_TTL, else LSN_ERR_TTL. */
int lsn_envelope_check_ttl(const Liaison__EnvelopeHeader *h);

/* The relay's peek: the reading lsn_envelope_parse does (the same rules,
 * in place, without decoding the header into a struct) plus the TTL rule,
 * the facts copied into *info (caller-owned, so nothing to free).  Same
 * errors as lsn_envelope_parse, and LSN_ERR_TTL.  On failure *info says
 * nothing (fixed fields zeroed, n_recipients 0); entries past
 * n_recipients are never cleared. */
int lsn_envelope_peek(const uint8_t *buf, size_t len, size_t max_len,
                      struct lsn_envelope_info *info);

#endif
