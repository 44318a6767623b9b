/* signed.c: signed objects {type, body, signatures}.  Each signature is
 * Ed25519 over "liaison v1 " || type || 0x00 || body, the body verified as
 * carried, never re-serialised.  The type inside the signed message keeps a
 * signature made for one kind of object from counting for another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"

#define PREFIX "liaison v1 "
#define TYPE_MAX 32

/* The signed message: PREFIX || type || 0x00 || body, in a new buffer. */
static int
signed_message(const Liaison__SignedObject *so, uint8_t **msg, size_t *len)
{
    size_t tl = strlen(so->type), pl = sizeof PREFIX - 1;
    size_t n = pl + tl + 1 + so->body.len;
    uint8_t *m = malloc(n);

    if (m == NULL)
        return LSN_ERR_NOMEM;
    memcpy(m, PREFIX, pl);
    memcpy(m + pl, so->type, tl);
    m[pl + tl] = 0;
    if (so->body.len > 0)
        memcpy(m + pl + tl + 1, so->body.data, so->body.len);
    *msg = m;
    *len = n;
    return 0;
}

int
lsn_signed_decode(const uint8_t *buf, size_t len, const char *type,
                  Liaison__SignedObject **out)
{
    Liaison__SignedObject *so = NULL;
    int r;

    *out = NULL;
    r = LSN_PB_DECODE(signed_object, buf, len, LSN_SIGNED_MAX, &so);
    if (r != 0)
        return r;
    r = LSN_ERR_WRONG_KIND;
    if (strcmp(so->type, type) != 0)
        goto out;
    r = LSN_ERR_MALFORMED;
    if (so->n_signatures > LSN_MAX_SIGNATURES)
        goto out;
    for (size_t i = 0; i < so->n_signatures; i++)
        if (so->signatures[i]->public_key.len != 32 ||
            so->signatures[i]->sig.len != 64)
            goto out;
    *out = so;
    so = NULL;
    r = 0;
out:
    lsn_pb_free((ProtobufCMessage *)so);
    return r;
}

static int
sig_valid(const Liaison__Signature *s, const uint8_t *msg, size_t len)
{
    return s->public_key.len == 32 && s->sig.len == 64 &&
           crypto_sign_verify_detached(s->sig.data, msg, len,
                                       s->public_key.data) == 0;
}

size_t
lsn_signed_count(const Liaison__SignedObject *so, const uint8_t (*allowed)[32],
                 size_t n)
{
    uint8_t *msg = NULL;
    size_t len = 0, count = 0;

    if (signed_message(so, &msg, &len) != 0)
        return 0;
    /* Count allowed keys, not entries: a key signing twice counts once. */
    for (size_t k = 0; k < n; k++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            dup |= memcmp(allowed[j], allowed[k], 32) == 0;
        if (dup)
            continue;
        for (size_t i = 0; i < so->n_signatures; i++) {
            const Liaison__Signature *s = so->signatures[i];
            if (s->public_key.len == 32 &&
                memcmp(s->public_key.data, allowed[k], 32) == 0 &&
                sig_valid(s, msg, len)) {
                count++;
                break;
            }
        }
    }
    free(msg);
    return count;
}

int
lsn_signed_verify_by(const Liaison__SignedObject *so, const uint8_t key[32])
{
    uint8_t *msg = NULL;
    size_t len = 0;
    int r;

    if ((r = signed_message(so, &msg, &len)) != 0)
        return r;
    r = so->n_signatures > 0 ? LSN_ERR_WRONG_SIGNER : LSN_ERR_BAD_SIGNATURE;
    for (size_t i = 0; i < so->n_signatures; i++) {
        const Liaison__Signature *s = so->signatures[i];
        if (s->public_key.len != 32 || memcmp(s->public_key.data, key, 32) != 0)
            continue;
        if (sig_valid(s, msg, len)) {
            r = 0;
            break;
        }
        r = LSN_ERR_BAD_SIGNATURE;
    }
    free(msg);
    return r;
}

int
lsn_signed_wrap(const char *type, const uint8_t *body, size_t len,
                Liaison__SignedObject **out)
{
    Liaison__SignedObject *so;
    uint8_t *enc = NULL;
    size_t n = 0;
    int r;

    *out = NULL;
    if (strlen(type) > TYPE_MAX)
        return LSN_ERR_INVALID;
    /* Build it as a decoder would, so one free path serves every object. */
    Liaison__SignedObject tmp = LIAISON__SIGNED_OBJECT__INIT;
    tmp.type = (char *)type;
    tmp.body.data = (uint8_t *)body;
    tmp.body.len = len;
    if ((r = lsn_pb_encode(&tmp.base, &enc, &n)) != 0)
        return r;
    r = LSN_PB_DECODE(signed_object, enc, n, LSN_SIGNED_MAX + 1024, &so);
    free(enc);
    if (r != 0)
        return r;
    *out = so;
    return 0;
}

int
lsn_signed_sign(Liaison__SignedObject *so, const uint8_t sk[64])
{
    Liaison__SignedObject tmp;
    Liaison__Signature *sigs[LSN_MAX_SIGNATURES], fresh = LIAISON__SIGNATURE__INIT;
    uint8_t *msg = NULL, *enc = NULL, sig[64], pk[32];
    size_t len = 0, n = 0, k = 0;
    Liaison__SignedObject *again = NULL;
    int r;

    memcpy(pk, sk + 32, 32);
    if ((r = signed_message(so, &msg, &len)) != 0)
        return r;
    crypto_sign_detached(sig, NULL, msg, len, sk);
    free(msg);
    for (size_t i = 0; i < so->n_signatures; i++)
        if (so->signatures[i]->public_key.len != 32 ||
            memcmp(so->signatures[i]->public_key.data, pk, 32) != 0)
            sigs[k++] = so->signatures[i];
    if (k >= LSN_MAX_SIGNATURES)
        return LSN_ERR_LIMIT;
    fresh.public_key.data = pk;
    fresh.public_key.len = 32;
    fresh.sig.data = sig;
    fresh.sig.len = 64;
    sigs[k++] = &fresh;
    /* Re-encode with the new list and decode back into so's own memory. */
    tmp = *so;
    tmp.signatures = sigs;
    tmp.n_signatures = k;
    if ((r = lsn_pb_encode(&tmp.base, &enc, &n)) != 0)
        return r;
    r = LSN_PB_DECODE(signed_object, enc, n, LSN_SIGNED_MAX + 1024, &again);
    free(enc);
    if (r != 0)
        return r;
    /* Swap contents: so keeps its address, the old tree is freed. */
    tmp = *so;
    *so = *again;
    *again = tmp;
    lsn_pb_free(&again->base);
    return 0;
}

void
lsn_signed_free(Liaison__SignedObject *so)
{
    if (so != NULL)
        lsn_pb_free((ProtobufCMessage *)so);
}

int
lsn_signed_file_read(const char *path, const char *type, uint8_t **bin,
                     size_t *len)
{
    char label[64];
    uint8_t *text = NULL;
    size_t n = 0;
    int r;

    snprintf(label, sizeof label, "signed-%s", type);
    if ((r = lsn_file_read(path, LSN_SIGNED_MAX * 2, &text, &n)) != 0)
        return r;
    r = lsn_armor_decode(label, text, n, LSN_SIGNED_MAX, bin, len);
    free(text);
    return r;
}

int
lsn_signed_file_write(const char *path, const char *type, const uint8_t *bin,
                      size_t len, int flags)
{
    char label[64], *text = NULL;
    size_t n = 0;
    int r;

    snprintf(label, sizeof label, "signed-%s", type);
    if ((r = lsn_armor_encode(label, NULL, bin, len, &text, &n)) != 0)
        return r;
    r = lsn_file_write(path, text, n, flags);
    free(text);
    return r;
}

void
lsn_signed_view_clear(struct lsn_signed_view *v)
{
    lsn_signed_free(v->so);
    lsn_pb_free(v->body);
    free(v->bytes);
    memset(v, 0, sizeof *v);
}

/* Sets v->bytes (taking buf) and v->hash. */
static void
view_set_bytes(struct lsn_signed_view *v, uint8_t *buf, size_t len)
{
    free(v->bytes);
    v->bytes = buf;
    v->len = len;
    crypto_generichash(v->hash, sizeof v->hash, buf, len, NULL, 0);
}

int
lsn_signed_view_parse(const uint8_t *buf, size_t len, const char *type,
                      const ProtobufCMessageDescriptor *desc,
                      struct lsn_signed_view *v)
{
    uint8_t *copy = NULL;
    int r;

    memset(v, 0, sizeof *v);
    if ((r = lsn_signed_decode(buf, len, type, &v->so)) != 0)
        goto out;
    r = lsn_pb_decode(desc, v->so->body.data, v->so->body.len, LSN_SIGNED_MAX,
                      &v->body);
    if (r != 0)
        goto out;
    if ((copy = malloc(len ? len : 1)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    memcpy(copy, buf, len);
    view_set_bytes(v, copy, len);
    return 0;
out:
    lsn_signed_view_clear(v);
    return r;
}

int
lsn_signed_view_build(const ProtobufCMessage *body, const char *type,
                      struct lsn_signed_view *v)
{
    Liaison__SignedObject *so = NULL;
    uint8_t *b = NULL, *enc = NULL;
    size_t bl = 0, n = 0;
    int r;

    memset(v, 0, sizeof *v);
    if ((r = lsn_pb_encode(body, &b, &bl)) != 0)
        return r;
    if ((r = lsn_signed_wrap(type, b, bl, &so)) == 0 &&
        (r = lsn_pb_encode(&so->base, &enc, &n)) == 0)
        r = lsn_signed_view_parse(enc, n, type, body->descriptor, v);
    free(b);
    free(enc);
    lsn_signed_free(so);
    return r;
}

int
lsn_signed_view_sign(struct lsn_signed_view *v, const uint8_t sk[64])
{
    uint8_t *enc = NULL;
    size_t n = 0;
    int r;

    if ((r = lsn_signed_sign(v->so, sk)) != 0)
        return r;
    if ((r = lsn_pb_encode(&v->so->base, &enc, &n)) != 0)
        return r;
    if (n > LSN_SIGNED_MAX) {
        free(enc);
        return LSN_ERR_TOO_LARGE;
    }
    view_set_bytes(v, enc, n);
    return 0;
}
