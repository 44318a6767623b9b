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

/* The header (liaison.EnvelopeHeader) and its recipients, viewed in
 * place by the same scan. */
enum {
    H_SUITE, H_MSG_ID, H_ORG, H_DEVICE, H_BUNDLE, H_CREATED, H_EXPIRES,
    H_RECIPIENTS, H_EPK, H_NONCE, H_COMMIT, N_HEADER_FIELDS
};
static const struct lsn_pb_field header_fields[N_HEADER_FIELDS] = {
    { 1, LSN_PB_VARINT32 }, { 2, LSN_PB_BYTES }, { 3, LSN_PB_STRING },
    { 4, LSN_PB_STRING }, { 5, LSN_PB_VARINT }, { 6, LSN_PB_VARINT },
    { 7, LSN_PB_VARINT }, { 8, LSN_PB_REPEATED }, { 9, LSN_PB_BYTES },
    { 10, LSN_PB_BYTES }, { 11, LSN_PB_BYTES },
};
enum { R_ORG, R_KEY_ID, R_WRAP, N_RECIPIENT_FIELDS };
static const struct lsn_pb_field recipient_fields[N_RECIPIENT_FIELDS] = {
    { 1, LSN_PB_STRING }, { 2, LSN_PB_VARINT32 }, { 3, LSN_PB_BYTES },
};

/* Copies a viewed string of at most max bytes into dst (max + 1). */
static int
text_copy(char *dst, size_t max, const struct lsn_pb_value *v)
{
    if (v->len > max)
        return -1;
    if (v->len > 0)
        memcpy(dst, v->data, v->len);
    dst[v->len] = '\0';
    return 0;
}

/* Reads a header: its encoding (every layer canonical), then its suite,
 * then the sizes, names, times and recipients of suite 1, into *info.
 * The one place the header's rules live: the relay's peek and the
 * recipient's parse both come here. */
static int
header_read(const uint8_t *buf, size_t len, struct lsn_envelope_info *info)
{
    struct lsn_pb_value h[N_HEADER_FIELDS], rv[N_RECIPIENT_FIELDS];
    uint8_t ok[LSN_MAX_RECIPIENTS];     /* recipient i's name and wrap fit */
    const uint8_t *p, *elem;
    size_t n, elen;

    if (lsn_pb_scan(buf, len, header_fields, N_HEADER_FIELDS, h) != 0)
        return LSN_ERR_MALFORMED;
    /* Every layer's encoding first; the recipients are read once, their
     * rules applied below, after the suite. */
    p = h[H_RECIPIENTS].data;
    for (size_t i = 0; i < h[H_RECIPIENTS].count; i++) {
        lsn_pb_next(&p, &elem, &elen);
        if (lsn_pb_scan(elem, elen, recipient_fields, N_RECIPIENT_FIELDS, rv) != 0)
            return LSN_ERR_MALFORMED;
        if (i < LSN_MAX_RECIPIENTS) {
            struct lsn_envelope_recipient *rc = &info->recipients[i];
            ok[i] = text_copy(rc->org, LSN_ENV_ORG_MAX, &rv[R_ORG]) == 0 &&
                    rv[R_WRAP].len == LSN_WRAP_LEN;
            rc->key_id = (uint32_t)rv[R_KEY_ID].u;
        }
    }
    /* Known suite before anything suite-specific: no fallback. */
    if (h[H_SUITE].u != LSN_SUITE_1)
        return LSN_ERR_SUITE;
    info->suite = (uint32_t)h[H_SUITE].u;
    if (h[H_MSG_ID].len != LSN_MSG_ID_LEN || h[H_EPK].len != LSN_KEY_LEN ||
        h[H_NONCE].len != LSN_NONCE_LEN || h[H_COMMIT].len != LSN_KEY_LEN)
        return LSN_ERR_MALFORMED;
    memcpy(info->msg_id, h[H_MSG_ID].data, LSN_MSG_ID_LEN);
    if (text_copy(info->sender_org, LSN_ENV_ORG_MAX, &h[H_ORG]) != 0 ||
        text_copy(info->sender_device, LSN_ENV_DEVICE_MAX, &h[H_DEVICE]) != 0 ||
        !org_ok(info->sender_org) || !device_ok(info->sender_device))
        return LSN_ERR_MALFORMED;
    info->bundle_version = h[H_BUNDLE].u;
    info->created = (int64_t)h[H_CREATED].u;
    info->expires = (int64_t)h[H_EXPIRES].u;
    if (info->created < 0 || info->expires <= info->created ||
        info->expires > LSN_TIME_MAX)
        return LSN_ERR_MALFORMED;
    if ((n = h[H_RECIPIENTS].count) == 0)
        return LSN_ERR_MALFORMED;
    if (n > LSN_MAX_RECIPIENTS)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < n; i++) {
        const struct lsn_envelope_recipient *rc = &info->recipients[i];
        if (!ok[i] || !org_ok(rc->org))
            return LSN_ERR_MALFORMED;
        /* Quadratic, but n <= LSN_MAX_RECIPIENTS and the names are short. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(info->recipients[j].org, rc->org) == 0)
                return LSN_ERR_MALFORMED;
    }
    info->n_recipients = n;
    return 0;
}

/* The outer layer and the header, read without copying either: the
 * parse's and the peek's common part.  *view gets the three byte strings
 * (pointing into buf), *info the header's facts. */
static int
envelope_read(const uint8_t *buf, size_t len, size_t max_len,
              struct lsn_pb_value view[N_ENVELOPE_FIELDS],
              struct lsn_envelope_info *info)
{
    size_t clen;
    int r;

    if (max_len == 0 || max_len > LSN_ENVELOPE_MAX)
        max_len = LSN_ENVELOPE_MAX;
    if (len > max_len)
        return LSN_ERR_TOO_LARGE;
    if (lsn_pb_scan(buf, len, envelope_fields, N_ENVELOPE_FIELDS, view) != 0 ||
        view[F_SIG].len != LSN_SIG_LEN)
        return LSN_ERR_MALFORMED;
    /* C is a padded bucket plus the tag: nothing else can be honest. */
    clen = view[F_CIPHERTEXT].len;
    if (clen < LSN_PAD_MIN + LSN_TAG_LEN ||
        clen > LSN_PAD_MAX + LSN_TAG_LEN || !is_pow2(clen - LSN_TAG_LEN))
        return LSN_ERR_MALFORMED;
    if (view[F_HEADER].len > LSN_HEADER_MAX)
        return LSN_ERR_TOO_LARGE;
    if ((r = header_read(view[F_HEADER].data, view[F_HEADER].len, info)) != 0)
        return r;
    info->size = len;
    return 0;
}

int
lsn_envelope_parse(const uint8_t *buf, size_t len, size_t max_len,
                   struct lsn_envelope **out)
{
    struct lsn_pb_value view[N_ENVELOPE_FIELDS];
    struct lsn_envelope *e = NULL;
    int r;

    *out = NULL;
    if ((e = calloc(1, sizeof *e)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = envelope_read(buf, len, max_len, view, &e->info)) != 0)
        goto out;
    /* The decoded header for the recipient's checks.  The read above
     * accepted the same bytes, so this cannot refuse them; if it did, the
     * two readers would disagree, and the envelope is refused. */
    if (LSN_PB_DECODE(envelope_header, view[F_HEADER].data, view[F_HEADER].len,
                      HEADER_HEAP_CAP, &e->h) != 0) {
        r = LSN_ERR_MALFORMED;
        goto out;
    }
    e->header_bytes = view[F_HEADER].data;
    e->header_len = view[F_HEADER].len;
    e->ciphertext = view[F_CIPHERTEXT].data;
    e->ciphertext_len = view[F_CIPHERTEXT].len;
    e->sig = view[F_SIG].data;
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

/* The TTL rule, for the relay's peek and the recipient alike.  The read
 * guarantees 0 <= created < expires <= LSN_TIME_MAX. */
static int
ttl_check(int64_t created, int64_t expires)
{
    return expires - created > LSN_MAX_TTL ? LSN_ERR_TTL : 0;
}

int
lsn_envelope_check_ttl(const Liaison__EnvelopeHeader *h)
{
    return ttl_check(h->created, h->expires);
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
    struct lsn_pb_value view[N_ENVELOPE_FIELDS];
    int r;

    info_clear(info);
    if ((r = envelope_read(buf, len, max_len, view, info)) == 0)
        r = ttl_check(info->created, info->expires);
    if (r != 0)
        info_clear(info);
    return r;
}
