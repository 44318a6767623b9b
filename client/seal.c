/* seal.c: sealing and opening envelopes, suite 1 (see seal.h for the
 * contract, docs/protocol.md for the bytes and why each binding exists).
 *
 * Every derivation below feeds its inputs as length-prefixed fields
 * (lsn_hash_field), so no two different field lists hash alike.  Every
 * short-lived secret (K, e.sk, ss, kek, k_enc, the padded plaintext) lives
 * on the stack or in heap memory wiped in `out:` on every path. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/seal.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/limits.h"

_Static_assert(LSN_ENV_ORG_MAX == LSN_ORG_ID_MAX, "org id length differs");
_Static_assert(LSN_ENV_DEVICE_MAX == LSN_NAME_MAX, "device name length differs");
_Static_assert(LSN_HEADER_MAX <= 0xffff, "H must fit a length prefix");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == LSN_TAG_LEN, "tag");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == LSN_NONCE_LEN,
               "nonce");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == LSN_KEY_LEN, "key");

#define LABEL_WRAP     "liaison v1 wrap"
#define LABEL_CONTENT  "liaison v1 content"
#define LABEL_COMMIT   "liaison v1 commit"
#define LABEL_HEADER   "liaison v1 header"
#define LABEL_IDEM     "liaison v1 idem"
#define LABEL_SIG      "liaison v1 envelope"

/* "liaison v1 envelope" || 0x00 || BLAKE2b-512(H) || BLAKE2b-512(C) */
#define SIG_MSG_LEN    (sizeof LABEL_SIG + 2 * crypto_generichash_BYTES_MAX)
/* u16 len || org || u16 len || key_id (4 bytes, big-endian) */
#define WRAP_AD_MAX    (2 + LSN_ORG_ID_MAX + 2 + 4)

typedef crypto_generichash_blake2b_state hash_state;

/* One length-prefixed field; every caller's field is short by construction
 * (labels, keys, names, H <= LSN_HEADER_MAX), so a failure is a bug. */
static int
field(hash_state *st, const void *data, size_t len)
{
    return lsn_hash_field(st, data, len) == 0 ? 0 : LSN_ERR_INTERNAL;
}

static int
label(hash_state *st, const char *s)
{
    return field(st, s, strlen(s));
}

static void
be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

/* kek = BLAKE2b-256(key = ss, "liaison v1 wrap" || suite || e.pk || pk_r ||
 *                   msg_id || org_r || key_id_r) */
static int
derive_kek(uint8_t kek[32], const uint8_t ss[32], const uint8_t epk[32],
           const uint8_t pk_r[32], const uint8_t msg_id[16], const char *org,
           uint32_t key_id)
{
    hash_state st;
    uint8_t suite = LSN_SUITE_1, kid[4];
    int r;

    be32(kid, key_id);
    crypto_generichash_blake2b_init(&st, ss, 32, 32);
    if ((r = label(&st, LABEL_WRAP)) != 0 || (r = field(&st, &suite, 1)) != 0 ||
        (r = field(&st, epk, 32)) != 0 || (r = field(&st, pk_r, 32)) != 0 ||
        (r = field(&st, msg_id, LSN_MSG_ID_LEN)) != 0 ||
        (r = label(&st, org)) != 0 || (r = field(&st, kid, 4)) != 0)
        goto out;
    crypto_generichash_blake2b_final(&st, kek, 32);
out:
    sodium_memzero(&st, sizeof st);
    return r;
}

/* ad = org_r || key_id_r, length-prefixed; returns its length. */
static size_t
wrap_ad(uint8_t ad[WRAP_AD_MAX], const char *org, uint32_t key_id)
{
    size_t n = strlen(org);   /* <= LSN_ORG_ID_MAX: checked by callers */

    ad[0] = (uint8_t)(n >> 8);
    ad[1] = (uint8_t)n;
    memcpy(ad + 2, org, n);
    ad[2 + n] = 0;
    ad[3 + n] = 4;
    be32(ad + 4 + n, key_id);
    return n + 8;
}

/* k_enc = BLAKE2b-256(key = K, "liaison v1 content");
 * commit = BLAKE2b-256(key = K, "liaison v1 commit" || msg_id) */
static int
derive_content_keys(uint8_t k_enc[32], uint8_t commit[32], const uint8_t K[32],
                    const uint8_t msg_id[16])
{
    hash_state st;
    int r;

    crypto_generichash_blake2b_init(&st, K, 32, 32);
    if ((r = label(&st, LABEL_CONTENT)) != 0)
        goto out;
    crypto_generichash_blake2b_final(&st, k_enc, 32);
    crypto_generichash_blake2b_init(&st, K, 32, 32);
    if ((r = label(&st, LABEL_COMMIT)) != 0 ||
        (r = field(&st, msg_id, LSN_MSG_ID_LEN)) != 0)
        goto out;
    crypto_generichash_blake2b_final(&st, commit, 32);
out:
    sodium_memzero(&st, sizeof st);
    return r;
}

/* ad of C = BLAKE2b-256("liaison v1 header" || H) */
static int
header_ad(uint8_t ad[32], const uint8_t *h, size_t h_len)
{
    hash_state st;
    int r;

    crypto_generichash_blake2b_init(&st, NULL, 0, 32);
    if ((r = label(&st, LABEL_HEADER)) != 0 || (r = field(&st, h, h_len)) != 0)
        return r;
    crypto_generichash_blake2b_final(&st, ad, 32);
    return 0;
}

/* The signed message: fixed-size parts after a 0x00-terminated label, as
 * for signed objects. */
static void
sig_message(uint8_t m[SIG_MSG_LEN], const uint8_t *h, size_t h_len,
            const uint8_t *c, size_t c_len)
{
    size_t at = sizeof LABEL_SIG;   /* includes the 0x00 */

    memcpy(m, LABEL_SIG, sizeof LABEL_SIG);
    crypto_generichash_blake2b(m + at, 64, h, h_len, NULL, 0);
    crypto_generichash_blake2b(m + at + 64, 64, c, c_len, NULL, 0);
}

/* msg_id = BLAKE2b-128(key = org secret, "liaison v1 idem" || idem key) */
static int
derive_idem_id(uint8_t msg_id[16], const uint8_t org_sk[32],
               const uint8_t *idem, size_t idem_len)
{
    hash_state st;
    int r;

    crypto_generichash_blake2b_init(&st, org_sk, 32, 16);
    if ((r = label(&st, LABEL_IDEM)) != 0 ||
        (r = field(&st, idem, idem_len)) != 0)
        goto out;
    crypto_generichash_blake2b_final(&st, msg_id, 16);
out:
    sodium_memzero(&st, sizeof st);
    return r;
}

/* The padded size: the smallest power of two >= LSN_PAD_MIN that leaves
 * at least one byte for sodium_pad's marker. */
static int
padded_size(size_t content_len, size_t *out)
{
    size_t p = LSN_PAD_MIN;

    while (p <= content_len) {
        if (p >= LSN_PAD_MAX)
            return LSN_ERR_TOO_LARGE;
        p *= 2;
    }
    *out = p;
    return 0;
}

/* X25519 refusing the all-zero result (a low-order public key). */
static int
x25519(uint8_t ss[32], const uint8_t sk[32], const uint8_t pk[32])
{
    if (crypto_scalarmult(ss, sk, pk) != 0 || sodium_is_zero(ss, 32))
        return LSN_ERR_DECRYPT;
    return 0;
}

static int
times_check(int64_t created, int64_t expires)
{
    if (created < 0 || expires <= created || expires > LSN_TIME_MAX)
        return LSN_ERR_USAGE;
    if (expires - created > LSN_MAX_TTL)
        return LSN_ERR_TTL;
    return 0;
}

static int
recipients_check(const struct lsn_bundle *const *rb, size_t n)
{
    if (n == 0)
        return LSN_ERR_USAGE;
    if (n > LSN_MAX_RECIPIENTS)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < n; i++) {
        const Liaison__EncKey *k;

        if (rb[i] == NULL || lsn_org_id_check(rb[i]->b->org) != 0)
            return LSN_ERR_USAGE;
        k = lsn_bundle_newest_key(rb[i]);
        if (k == NULL || k->public_key.len != 32)
            return LSN_ERR_UNKNOWN_KEY;
        for (size_t j = 0; j < i; j++)
            if (strcmp(rb[j]->b->org, rb[i]->b->org) == 0) {
                lsn_set_detail("recipient `%s` is named twice", rb[i]->b->org);
                return LSN_ERR_INVALID;
            }
    }
    return 0;
}

/* Short-lived plaintext lives in plain heap memory (sodium_malloc costs
 * several system calls per message) and is wiped before it is freed. */
static void
wipe_free(uint8_t *p, size_t len)
{
    if (p != NULL) {
        sodium_memzero(p, len);
        free(p);
    }
}

/* Content bytes -> a new padded buffer of *plen bytes (wipe_free it). */
static int
pad_content(const Liaison__Alert *content, uint8_t **padded, size_t *plen)
{
    uint8_t *enc = NULL, *p = NULL;
    size_t len = 0, size = 0, got = 0;
    int r;

    *padded = NULL;
    if ((r = lsn_alert_encode(content, &enc, &len)) != 0)
        goto out;
    if ((r = padded_size(len, &size)) != 0)
        goto out;
    if ((p = calloc(1, size)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    memcpy(p, enc, len);
    if (sodium_pad(&got, p, len, size, size) != 0 || got != size) {
        r = LSN_ERR_INTERNAL;
        goto out;
    }
    *padded = p;
    *plen = size;
    p = NULL;
    r = 0;
out:
    wipe_free(enc, len);
    wipe_free(p, size);
    return r;
}

/* Builds and encodes H: one wrap of K per recipient. */
static int
build_header(Liaison__EnvelopeHeader *h, const struct lsn_bundle *const *rb,
             size_t n, const uint8_t K[32], const uint8_t eph_sk[32],
             uint8_t **out, size_t *out_len)
{
    Liaison__EnvelopeRecipient *rc = NULL, **rcp = NULL;
    uint8_t *wraps = NULL;
    uint8_t ss[32], kek[32], ad[WRAP_AD_MAX];
    int r = LSN_ERR_NOMEM;

    if ((rc = calloc(n, sizeof *rc)) == NULL ||
        (rcp = calloc(n, sizeof *rcp)) == NULL ||
        (wraps = malloc(n * LSN_WRAP_LEN)) == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const Liaison__EncKey *k = lsn_bundle_newest_key(rb[i]);
        uint8_t *w = wraps + i * LSN_WRAP_LEN;
        size_t ad_len;

        liaison__envelope_recipient__init(&rc[i]);
        rc[i].org = rb[i]->b->org;
        rc[i].key_id = k->key_id;
        if ((r = x25519(ss, eph_sk, k->public_key.data)) != 0)
            goto out;
        if ((r = derive_kek(kek, ss, h->ephemeral_key.data, k->public_key.data,
                            h->msg_id.data, rc[i].org, k->key_id)) != 0)
            goto out;
        ad_len = wrap_ad(ad, rc[i].org, k->key_id);
        /* Zero nonce: kek is unique, since e is fresh for every sealing. */
        {
            static const uint8_t zero_nonce[LSN_NONCE_LEN];
            crypto_aead_xchacha20poly1305_ietf_encrypt(
                w, NULL, K, 32, ad, ad_len, NULL, zero_nonce, kek);
        }
        rc[i].wrap.data = w;
        rc[i].wrap.len = LSN_WRAP_LEN;
        rcp[i] = &rc[i];
    }
    h->recipients = rcp;
    h->n_recipients = n;
    r = lsn_pb_encode(&h->base, out, out_len);
    h->recipients = NULL;
    h->n_recipients = 0;
out:
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(kek, sizeof kek);
    free(wraps);
    free(rcp);
    free(rc);
    return r;
}

static int
envelope_encode(const uint8_t *h, size_t h_len, const uint8_t *c, size_t c_len,
                const uint8_t sig[LSN_SIG_LEN], uint8_t **out, size_t *out_len)
{
    Liaison__Envelope env = LIAISON__ENVELOPE__INIT;
    int r;

    env.header = (ProtobufCBinaryData){ h_len, (uint8_t *)h };
    env.ciphertext = (ProtobufCBinaryData){ c_len, (uint8_t *)c };
    env.sig = (ProtobufCBinaryData){ LSN_SIG_LEN, (uint8_t *)sig };
    if (protobuf_c_message_get_packed_size(&env.base) > LSN_ENVELOPE_MAX)
        return LSN_ERR_TOO_LARGE;
    r = lsn_pb_encode(&env.base, out, out_len);
    return r;
}

int
lsn_seal_with_random(const Liaison__Alert *content,
                     const struct lsn_credential *sender,
                     const struct lsn_bundle *const *recipients, size_t n,
                     const struct lsn_seal_params *p,
                     const struct lsn_seal_random *rnd,
                     uint8_t **out, size_t *out_len)
{
    Liaison__EnvelopeHeader h = LIAISON__ENVELOPE_HEADER__INIT;
    uint8_t msg_id[16], epk[32], k_enc[32], commit[32], ad[32];
    uint8_t sig[LSN_SIG_LEN], sm[SIG_MSG_LEN];
    uint8_t *padded = NULL, *hbytes = NULL, *c = NULL;
    size_t plen = 0, hlen = 0, clen = 0;
    int r = LSN_ERR_USAGE;

    *out = NULL;
    *out_len = 0;
    if (content == NULL || sender == NULL || p == NULL || rnd == NULL ||
        (recipients == NULL && n > 0))
        goto out;
    if (!sender->may_send) {
        r = LSN_ERR_REVOKED;
        goto out;
    }
    if ((r = times_check(p->created, p->expires)) != 0 ||
        (r = recipients_check(recipients, n)) != 0)
        goto out;
    if (p->idem_key != NULL) {
        /* Keyed with the org's newest encryption secret, so only the org
         * can predict its msg_ids; a send-only device holds none and keys
         * with its own signing seed instead (its retries still agree). */
        r = LSN_ERR_USAGE;
        if (p->idem_len == 0 || p->idem_len > LSN_IDEM_MAX)
            goto out;
        if ((r = derive_idem_id(msg_id, sender->n_enc > 0 ? sender->enc[0].sk
                                                          : sender->keys->sign_sk,
                                p->idem_key, p->idem_len)) != 0)
            goto out;
    } else {
        memcpy(msg_id, rnd->msg_id, sizeof msg_id);
    }
    if ((r = pad_content(content, &padded, &plen)) != 0)
        goto out;
    crypto_scalarmult_base(epk, rnd->eph_sk);
    if ((r = derive_content_keys(k_enc, commit, rnd->key, msg_id)) != 0)
        goto out;

    h.suite = LSN_SUITE_1;
    h.msg_id = (ProtobufCBinaryData){ sizeof msg_id, msg_id };
    h.sender_org = (char *)sender->org;
    h.sender_device = (char *)sender->device;
    h.sender_bundle_version = p->bundle_version;
    h.created = p->created;
    h.expires = p->expires;
    h.ephemeral_key = (ProtobufCBinaryData){ sizeof epk, epk };
    h.nonce = (ProtobufCBinaryData){ LSN_NONCE_LEN, (uint8_t *)rnd->nonce };
    h.commit = (ProtobufCBinaryData){ sizeof commit, commit };
    if ((r = build_header(&h, recipients, n, rnd->key, rnd->eph_sk, &hbytes,
                          &hlen)) != 0)
        goto out;
    if (hlen > LSN_HEADER_MAX) {
        r = LSN_ERR_LIMIT;
        goto out;
    }

    if ((r = header_ad(ad, hbytes, hlen)) != 0)
        goto out;
    clen = plen + LSN_TAG_LEN;
    if ((c = malloc(clen)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, padded, plen, ad,
                                               sizeof ad, NULL, rnd->nonce,
                                               k_enc);
    sig_message(sm, hbytes, hlen, c, clen);
    crypto_sign_detached(sig, NULL, sm, sizeof sm, sender->keys->sign_sk);
    r = envelope_encode(hbytes, hlen, c, clen, sig, out, out_len);
out:
    sodium_memzero(k_enc, sizeof k_enc);
    wipe_free(padded, plen);
    free(hbytes);
    free(c);
    return r;
}

int
lsn_seal(const Liaison__Alert *content, const struct lsn_credential *sender,
         const struct lsn_bundle *const *recipients, size_t n,
         const struct lsn_seal_params *p, uint8_t **out, size_t *out_len)
{
    struct lsn_seal_random rnd;
    int r;

    randombytes_buf(&rnd, sizeof rnd);
    r = lsn_seal_with_random(content, sender, recipients, n, p, &rnd, out,
                             out_len);
    sodium_memzero(&rnd, sizeof rnd);   /* the sender keeps neither K nor e */
    return r;
}

/* ------------------------------------------------------------------ open */

/* The sender device, judged by the recipient's newest bundle. */
static int
sender_check(const Liaison__EnvelopeHeader *h, const struct lsn_bundle *sb,
             const Liaison__Device **dev)
{
    const Liaison__Device *d;

    if (sb == NULL || strcmp(sb->b->org, h->sender_org) != 0)
        return LSN_ERR_USAGE;
    if ((d = lsn_bundle_find_device(sb, h->sender_device)) == NULL) {
        lsn_set_detail("sender device `%s/%s` is not in bundle v%llu "
                       "(the envelope names v%llu)", h->sender_org,
                       h->sender_device, (unsigned long long)sb->b->version,
                       (unsigned long long)h->sender_bundle_version);
        return LSN_ERR_UNKNOWN_DEVICE;
    }
    if (!d->may_send || d->sign_key.len != 32) {
        lsn_set_detail("sender device `%s/%s` may not send (bundle v%llu)",
                       h->sender_org, h->sender_device,
                       (unsigned long long)sb->b->version);
        return LSN_ERR_REVOKED;
    }
    *dev = d;
    return 0;
}

static int
times_open_check(const Liaison__EnvelopeHeader *h, int64_t now)
{
    int r;

    if (now < 0 || now > LSN_TIME_MAX)
        return LSN_ERR_USAGE;
    if (h->created > now + LSN_MAX_SKEW)
        return LSN_ERR_FUTURE;
    if ((r = lsn_envelope_check_ttl(h)) != 0)
        return r;
    if (now > h->expires + LSN_MAX_SKEW)
        return LSN_ERR_EXPIRED;
    return 0;
}

/* Our org's secret for the entry's key id, inside its grace period. */
static int
own_key(const struct lsn_credential *self, const Liaison__EnvelopeRecipient *rc,
        int64_t now, const struct lsn_enc_secret **out)
{
    const struct lsn_enc_secret *s = lsn_credential_find_enc(self, rc->key_id);

    if (s == NULL) {
        lsn_set_detail("no encryption key %u of `%s` on this device",
                       rc->key_id, self->org);
        return LSN_ERR_UNKNOWN_KEY;
    }
    if (s->retire_after != 0 && now > s->retire_after) {
        lsn_set_detail("encryption key %u of `%s` retired at %lld",
                       rc->key_id, self->org, (long long)s->retire_after);
        return LSN_ERR_KEY_RETIRED;
    }
    *out = s;
    return 0;
}

/* K from our wrap, into key (32 bytes of secure memory). */
static int
unwrap(uint8_t *key, const Liaison__EnvelopeHeader *h,
       const Liaison__EnvelopeRecipient *rc, const struct lsn_enc_secret *s)
{
    static const uint8_t zero_nonce[LSN_NONCE_LEN];
    uint8_t ss[32], kek[32], ad[WRAP_AD_MAX];
    size_t ad_len = wrap_ad(ad, rc->org, rc->key_id);
    int r;

    if ((r = x25519(ss, s->sk, h->ephemeral_key.data)) != 0)
        goto out;
    if ((r = derive_kek(kek, ss, h->ephemeral_key.data, s->pk, h->msg_id.data,
                        rc->org, rc->key_id)) != 0)
        goto out;
    r = LSN_ERR_DECRYPT;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            key, NULL, NULL, rc->wrap.data, rc->wrap.len, ad, ad_len,
            zero_nonce, kek) != 0)
        goto out;
    r = 0;
out:
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(kek, sizeof kek);
    return r;
}

/* Commitment, decryption, unpadding and parsing of the content. */
static int
open_content(const struct lsn_envelope *e, const uint8_t key[32],
             Liaison__Alert **alert)
{
    const Liaison__EnvelopeHeader *h = e->h;
    uint8_t k_enc[32], commit[32], ad[32];
    uint8_t *padded = NULL;
    size_t plen = e->ciphertext_len - LSN_TAG_LEN, len = 0, want = 0;
    int r;

    if ((r = derive_content_keys(k_enc, commit, key, h->msg_id.data)) != 0)
        goto out;
    if (sodium_memcmp(commit, h->commit.data, sizeof commit) != 0) {
        r = LSN_ERR_COMMIT;
        goto out;
    }
    if ((r = header_ad(ad, e->header_bytes, e->header_len)) != 0)
        goto out;
    if ((padded = malloc(plen)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    r = LSN_ERR_DECRYPT;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            padded, NULL, NULL, e->ciphertext, e->ciphertext_len, ad,
            sizeof ad, h->nonce.data, k_enc) != 0)
        goto out;
    /* Only the smallest bucket is canonical: one content, one C length. */
    r = LSN_ERR_MALFORMED;
    if (sodium_unpad(&len, padded, plen, plen) != 0 ||
        padded_size(len, &want) != 0 || want != plen)
        goto out;
    r = lsn_alert_decode(padded, len, alert);
out:
    sodium_memzero(k_enc, sizeof k_enc);
    wipe_free(padded, plen);
    return r;
}

static int
opened_fill(struct lsn_opened *o, const Liaison__EnvelopeHeader *h,
            uint32_t key_id)
{
    memcpy(o->msg_id, h->msg_id.data, sizeof o->msg_id);
    memcpy(o->sender_org, h->sender_org, strlen(h->sender_org) + 1);
    memcpy(o->sender_device, h->sender_device, strlen(h->sender_device) + 1);
    o->bundle_version = h->sender_bundle_version;
    o->created = h->created;
    o->expires = h->expires;
    o->keep_until = h->expires + LSN_MAX_SKEW;
    o->key_id = key_id;
    if ((o->recipients = calloc(h->n_recipients, sizeof *o->recipients)) == NULL)
        return LSN_ERR_NOMEM;
    o->n_recipients = h->n_recipients;
    for (size_t i = 0; i < h->n_recipients; i++) {
        const char *org = h->recipients[i]->org;
        memcpy(o->recipients[i].org, org, strlen(org) + 1);
        o->recipients[i].key_id = h->recipients[i]->key_id;
    }
    return 0;
}

int
lsn_open(const uint8_t *buf, size_t len, const struct lsn_credential *self,
         const struct lsn_bundle *sender_bundle, int64_t now,
         lsn_replay_fn replay, void *replay_ctx, struct lsn_opened **out)
{
    struct lsn_envelope *e = NULL;
    struct lsn_opened *o = NULL;
    const Liaison__EnvelopeRecipient *rc;
    const Liaison__Device *dev = NULL;
    const struct lsn_enc_secret *s = NULL;
    uint8_t sm[SIG_MSG_LEN];
    int r;

    *out = NULL;
    if (buf == NULL || self == NULL)
        return LSN_ERR_USAGE;
    lsn_set_detail("%s", "");
    if ((r = lsn_envelope_parse(buf, len, 0, &e)) != 0)
        goto out;
    if ((rc = lsn_envelope_find_recipient(e, self->org)) == NULL) {
        r = LSN_ERR_NOT_RECIPIENT;
        goto out;
    }
    if ((r = sender_check(e->h, sender_bundle, &dev)) != 0)
        goto out;
    sig_message(sm, e->header_bytes, e->header_len, e->ciphertext,
                e->ciphertext_len);
    if (crypto_sign_verify_detached(e->sig, sm, sizeof sm,
                                    dev->sign_key.data) != 0) {
        r = LSN_ERR_BAD_SIGNATURE;
        goto out;
    }
    if ((r = times_open_check(e->h, now)) != 0)
        goto out;
    if (replay != NULL) {
        r = replay(replay_ctx, e->h->sender_org, e->h->msg_id.data,
                   e->h->expires + LSN_MAX_SKEW);
        if (r != 0) {
            r = r < 0 ? r : LSN_ERR_REPLAY;
            goto out;
        }
    }
    if ((r = own_key(self, rc, now, &s)) != 0)
        goto out;
    if ((o = calloc(1, sizeof *o)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    if ((r = unwrap(o->key, e->h, rc, s)) != 0 ||
        (r = open_content(e, o->key, &o->alert)) != 0 ||
        (r = opened_fill(o, e->h, rc->key_id)) != 0)
        goto out;
    *out = o;
    o = NULL;
    r = 0;
out:
    lsn_opened_destroy(&o);
    lsn_envelope_destroy(&e);
    return r;
}

int
lsn_open_with_key(const uint8_t *buf, size_t len, const uint8_t key[32],
                  const uint8_t sign_pk[32], struct lsn_opened **out)
{
    struct lsn_envelope *e = NULL;
    struct lsn_opened *o = NULL;
    uint8_t sm[SIG_MSG_LEN];
    int r;

    *out = NULL;
    if (buf == NULL || key == NULL || sign_pk == NULL)
        return LSN_ERR_USAGE;
    lsn_set_detail("%s", "");
    if ((r = lsn_envelope_parse(buf, len, 0, &e)) != 0)
        goto out;
    sig_message(sm, e->header_bytes, e->header_len, e->ciphertext,
                e->ciphertext_len);
    if (crypto_sign_verify_detached(e->sig, sm, sizeof sm, sign_pk) != 0) {
        r = LSN_ERR_BAD_SIGNATURE;
        goto out;
    }
    if ((o = calloc(1, sizeof *o)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    memcpy(o->key, key, sizeof o->key);
    if ((r = open_content(e, o->key, &o->alert)) != 0 ||
        (r = opened_fill(o, e->h, 0)) != 0)
        goto out;
    *out = o;
    o = NULL;
    r = 0;
out:
    lsn_opened_destroy(&o);
    lsn_envelope_destroy(&e);
    return r;
}

int
lsn_envelope_signature_check(const uint8_t *buf, size_t len, const uint8_t sign_pk[32])
{
    struct lsn_envelope *e = NULL;
    uint8_t sm[SIG_MSG_LEN];
    int r;

    if ((r = lsn_envelope_parse(buf, len, 0, &e)) != 0)
        return r;
    sig_message(sm, e->header_bytes, e->header_len, e->ciphertext,
                e->ciphertext_len);
    r = crypto_sign_verify_detached(e->sig, sm, sizeof sm, sign_pk) == 0
            ? 0 : LSN_ERR_BAD_SIGNATURE;
    lsn_envelope_destroy(&e);
    return r;
}

void
lsn_opened_destroy(struct lsn_opened **op)
{
    struct lsn_opened *o = *op;

    if (o == NULL)
        return;
    lsn_pb_free((ProtobufCMessage *)o->alert);   /* wiped by pb.c */
    free(o->recipients);
    sodium_memzero(o, sizeof *o);
    free(o);
    *op = NULL;
}
