/* fuzz_envelope.c: the strict envelope parse and the relay's keyless peek
 * (proto/envelope.c): the first code a relay runs on a partner's bytes.
 *
 * Input: the envelope bytes.  Invariants: peek fails exactly when the parse
 * fails or the TTL rule does, with the same error; when both succeed they
 * report the same facts; a parsed envelope re-encodes to the input; the
 * max_len cap is honoured at the boundary. */
#include <stddef.h>
#include <string.h>

#include "proto/envelope.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

/* What a failed peek leaves: every fixed field zero, no recipient
 * (entries past n_recipients are never cleared, by contract). */
static int
says_nothing(const struct lsn_envelope_info *info)
{
    const uint8_t *b = (const uint8_t *)info;

    for (size_t i = 0; i < offsetof(struct lsn_envelope_info, recipients); i++)
        if (b[i] != 0)
            return 0;
    return info->n_recipients == 0 && info->size == 0;
}

/* The parsed envelope's layers, re-encoded, are the input. */
static void
check_reencode(const struct lsn_envelope *e, const uint8_t *data, size_t size)
{
    Liaison__Envelope outer = LIAISON__ENVELOPE__INIT;
    uint8_t *enc = NULL;
    size_t n = 0;

    FF_CHECK(e->size == size);
    FF_CHECK(e->header_len <= LSN_HEADER_MAX);
    FF_CHECK(e->ciphertext_len >= LSN_PAD_MIN + LSN_TAG_LEN);
    outer.header = (ProtobufCBinaryData){ e->header_len, (uint8_t *)e->header_bytes };
    outer.ciphertext = (ProtobufCBinaryData){ e->ciphertext_len, (uint8_t *)e->ciphertext };
    outer.sig = (ProtobufCBinaryData){ LSN_SIG_LEN, (uint8_t *)e->sig };
    FF_CHECK(lsn_pb_encode(&outer.base, &enc, &n) == 0);
    FF_CHECK(n == size && memcmp(enc, data, n) == 0);
    free(enc);
    FF_CHECK(lsn_pb_encode(&e->h->base, &enc, &n) == 0);
    FF_CHECK(n == e->header_len && memcmp(enc, e->header_bytes, n) == 0);
    free(enc);
}

static void
check_same_facts(const struct lsn_envelope *e,
                 const struct lsn_envelope_info *info, size_t size)
{
    const Liaison__EnvelopeHeader *h = e->h;

    FF_CHECK(info->suite == h->suite && info->suite == LSN_SUITE_1);
    FF_CHECK(memcmp(info->msg_id, h->msg_id.data, LSN_MSG_ID_LEN) == 0);
    FF_CHECK(strcmp(info->sender_org, h->sender_org) == 0);
    FF_CHECK(strcmp(info->sender_device, h->sender_device) == 0);
    FF_CHECK(info->bundle_version == h->sender_bundle_version);
    FF_CHECK(info->created == h->created && info->expires == h->expires);
    FF_CHECK(info->created >= 0 && info->created < info->expires &&
             info->expires <= LSN_TIME_MAX &&
             info->expires - info->created <= LSN_MAX_TTL);
    FF_CHECK(info->n_recipients == h->n_recipients);
    FF_CHECK(info->n_recipients >= 1 &&
             info->n_recipients <= LSN_MAX_RECIPIENTS);
    FF_CHECK(info->size == size);
    for (size_t i = 0; i < info->n_recipients; i++) {
        const Liaison__EnvelopeRecipient *rc = h->recipients[i];
        FF_CHECK(strcmp(info->recipients[i].org, rc->org) == 0);
        FF_CHECK(info->recipients[i].key_id == rc->key_id);
        FF_CHECK(lsn_envelope_find_recipient(e, rc->org) == rc);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lsn_envelope *e = NULL, *e2 = NULL;
    struct lsn_envelope_info *info = malloc(sizeof *info);
    int r, rp;

    FF_CHECK(info != NULL);
    r = lsn_envelope_parse(data, size, 0, &e);
    rp = lsn_envelope_peek(data, size, 0, info);
    if (r != 0) {
        FF_CHECK(e == NULL);
        FF_CHECK(r == LSN_ERR_MALFORMED || r == LSN_ERR_TOO_LARGE ||
                 r == LSN_ERR_SUITE || r == LSN_ERR_LIMIT ||
                 r == LSN_ERR_NOMEM);
        FF_CHECK(rp == r);
        FF_CHECK(says_nothing(info));
        goto out;
    }
    FF_CHECK(e != NULL);
    check_reencode(e, data, size);
    FF_CHECK(lsn_envelope_find_recipient(e, "") == NULL);
    FF_CHECK(rp == lsn_envelope_check_ttl(e->h));
    if (rp == 0)
        check_same_facts(e, info, size);
    else
        FF_CHECK(rp == LSN_ERR_TTL && says_nothing(info));
    /* The cap: exactly the length passes, one byte less refuses. */
    FF_CHECK(lsn_envelope_parse(data, size, size, &e2) == 0);
    lsn_envelope_destroy(&e2);
    FF_CHECK(e2 == NULL);
    if (size > 1)
        FF_CHECK(lsn_envelope_parse(data, size, size - 1, &e2) ==
                 LSN_ERR_TOO_LARGE && e2 == NULL);
out:
    lsn_envelope_destroy(&e);
    FF_CHECK(e == NULL);
    free(info);
    return 0;
}
