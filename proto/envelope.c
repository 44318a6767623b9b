/* envelope.c: strict, bounded parsing of envelopes and their headers, and
 * the keyless peek a relay uses (see envelope.h for the contract).
 *
 * Layering: this file is below keys/, so it carries its own small name
 * checks; they agree with keys/util.h (the client asserts the lengths). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proto/envelope.h"
#include "proto/err.h"

/* Heap a decoded header may take: far above what LSN_HEADER_MAX bytes of
 * input can need, so an oversized recipient list reports LSN_ERR_LIMIT. */
#define HEADER_HEAP_CAP LSN_PB_DEFAULT_HEAP_CAP
/* The outer layer (liaison.Envelope): three bytes fields, viewed in place. */
enum { F_HEADER, F_CIPHERTEXT, F_SIG, N_ENVELOPE_FIELDS };
static const struct lsn_pb_field envelope_fields[N_ENVELOPE_FIELDS] = {
    { 1, LSN_PB_BYTES }, { 2, LSN_PB_BYTES }, { 3, LSN_PB_BYTES },
};

/* [a-z0-9-]{1,32} */
static int
org_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > LSN_ENV_ORG_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

/* [a-z0-9][a-z0-9._-]{0,63} */
static int
device_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > LSN_ENV_DEVICE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

static int
is_pow2(size_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* Sizes, names and order of a decoded header of suite 1. */
static int
header_check(const Liaison__EnvelopeHeader *h)
{
    if (h->msg_id.len != LSN_MSG_ID_LEN ||
        h->ephemeral_key.len != LSN_KEY_LEN ||
        h->nonce.len != LSN_NONCE_LEN || h->commit.len != LSN_KEY_LEN)
        return LSN_ERR_MALFORMED;
    if (!org_ok(h->sender_org) || !device_ok(h->sender_device))
        return LSN_ERR_MALFORMED;
    if (h->created < 0 || h->expires <= h->created ||
        h->expires > LSN_TIME_MAX)
        return LSN_ERR_MALFORMED;
    if (h->n_recipients == 0)
        return LSN_ERR_MALFORMED;
    if (h->n_recipients > LSN_MAX_RECIPIENTS)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < h->n_recipients; i++) {
        const Liaison__EnvelopeRecipient *rc = h->recipients[i];

        if (!org_ok(rc->org) || rc->wrap.len != LSN_WRAP_LEN)
            return LSN_ERR_MALFORMED;
        /* Quadratic, but n <= LSN_MAX_RECIPIENTS and the names are short. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(h->recipients[j]->org, rc->org) == 0)
                return LSN_ERR_MALFORMED;
    }
    return 0;
}

int
lsn_envelope_parse(const uint8_t *buf, size_t len, size_t max_len,
                   struct lsn_envelope **out)
{
    struct lsn_pb_value f[N_ENVELOPE_FIELDS];
    struct lsn_envelope *e = NULL;
    size_t clen;
    int r = LSN_ERR_MALFORMED;

    *out = NULL;
    if (max_len == 0 || max_len > LSN_ENVELOPE_MAX)
        max_len = LSN_ENVELOPE_MAX;
    if (len > max_len)
        return LSN_ERR_TOO_LARGE;
    /* The outer layer is only three byte strings: viewed in place, not
     * copied (its canonical form is checked all the same). */
    if (lsn_pb_scan(buf, len, envelope_fields, N_ENVELOPE_FIELDS, f) != 0 ||
        f[F_SIG].len != LSN_SIG_LEN)
        return LSN_ERR_MALFORMED;
    /* C is a padded bucket plus the tag: nothing else can be honest. */
    clen = f[F_CIPHERTEXT].len;
    if (clen < LSN_PAD_MIN + LSN_TAG_LEN ||
        clen > LSN_PAD_MAX + LSN_TAG_LEN || !is_pow2(clen - LSN_TAG_LEN))
        return LSN_ERR_MALFORMED;
    if (f[F_HEADER].len > LSN_HEADER_MAX)
        return LSN_ERR_TOO_LARGE;
    if ((e = calloc(1, sizeof *e)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = LSN_PB_DECODE(envelope_header, f[F_HEADER].data, f[F_HEADER].len,
                           HEADER_HEAP_CAP, &e->h)) != 0)
        goto out;
    /* Known suite before anything suite-specific: no fallback. */
    if (e->h->suite != LSN_SUITE_1) {
        r = LSN_ERR_SUITE;
        goto out;
    }
    if ((r = header_check(e->h)) != 0)
        goto out;
    e->header_bytes = f[F_HEADER].data;
    e->header_len = f[F_HEADER].len;
    e->ciphertext = f[F_CIPHERTEXT].data;
    e->ciphertext_len = clen;
    e->sig = f[F_SIG].data;
    e->size = len;
    *out = e;
    e = NULL;
    r = 0;
out:
    lsn_envelope_destroy(&e);
    return r;
}

void
lsn_envelope_destroy(struct lsn_envelope **ep)
{
    struct lsn_envelope *e = *ep;

    if (e == NULL)
        return;
    lsn_pb_free((ProtobufCMessage *)e->h);
    free(e);
    *ep = NULL;
}

const Liaison__EnvelopeRecipient *
lsn_envelope_find_recipient(const struct lsn_envelope *e, const char *org)
{
    for (size_t i = 0; i < e->h->n_recipients; i++)
        if (strcmp(e->h->recipients[i]->org, org) == 0)
            return e->h->recipients[i];
    return NULL;
}

int
lsn_envelope_check_ttl(const Liaison__EnvelopeHeader *h)
{
    /* The parse guarantees 0 <= created < expires <= LSN_TIME_MAX. */
    if (h->expires - h->created > LSN_MAX_TTL)
        return LSN_ERR_TTL;
    return 0;
}

/* Zeroes everything but the recipient entries (10 KiB, on every submit):
 * n_recipients 0 says none of them holds anything. */
static void
info_clear(struct lsn_envelope_info *info)
{
    memset(info, 0, offsetof(struct lsn_envelope_info, recipients));
    info->size = 0;
}

int
lsn_envelope_peek(const uint8_t *buf, size_t len, size_t max_len,
                  struct lsn_envelope_info *info)
{
    struct lsn_envelope *e = NULL;
    const Liaison__EnvelopeHeader *h;
    int r;

    info_clear(info);
    if ((r = lsn_envelope_parse(buf, len, max_len, &e)) != 0)
        goto out;
    h = e->h;
    if ((r = lsn_envelope_check_ttl(h)) != 0)
        goto out;
    /* Lengths were checked by the parse, so these copies fit. */
    info->suite = h->suite;
    memcpy(info->msg_id, h->msg_id.data, LSN_MSG_ID_LEN);
    memcpy(info->sender_org, h->sender_org, strlen(h->sender_org) + 1);
    memcpy(info->sender_device, h->sender_device,
           strlen(h->sender_device) + 1);
    info->bundle_version = h->sender_bundle_version;
    info->created = h->created;
    info->expires = h->expires;
    info->n_recipients = h->n_recipients;
    for (size_t i = 0; i < h->n_recipients; i++) {
        const char *org = h->recipients[i]->org;
        memcpy(info->recipients[i].org, org, strlen(org) + 1);
        info->recipients[i].key_id = h->recipients[i]->key_id;
    }
    info->size = len;
    r = 0;
out:
    if (r != 0)
        info_clear(info);
    lsn_envelope_destroy(&e);
    return r;
}
