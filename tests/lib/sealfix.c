/* sealfix.c: fixtures for the seal/open tests (see sealfix.h).  The forge
 * half re-implements docs/protocol.md on its own, so a test that compares
 * lsn_seal with sf_forge checks the code against the text, not itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/err.h"
#include "tests/lib/sealfix.h"

/* ---------------------------------------------------------- orgs */

static void
derive(uint8_t *out, size_t n, const uint8_t seed[32], const char *what)
{
    crypto_generichash(out, n, (const uint8_t *)what, strlen(what), seed, 32);
}

void
sf_device_from_cred(Liaison__Device *d, const struct lsn_credential *c,
                    int may_send)
{
    liaison__device__init(d);
    d->name = (char *)c->device;
    d->role = LIAISON__DEVICE_ROLE__ROLE_HUMAN;
    d->sign_key = (ProtobufCBinaryData){ 32, c->keys->sign_pk };
    d->curve_key = (ProtobufCBinaryData){ 32, c->keys->curve_pk };
    d->delivery_key = (ProtobufCBinaryData){ 32, c->keys->delivery_pk };
    d->may_send = may_send;
    d->may_receive = 1;
}

int
sf_bundle_make(const struct sf_org *o, uint64_t version, Liaison__EncKey **keys,
               size_t nk, Liaison__Device **devs, size_t nd,
               const uint8_t *previous, struct lsn_bundle **out)
{
    Liaison__Bundle b = LIAISON__BUNDLE__INIT;

    b.org = (char *)o->id;
    b.version = version;
    b.issued = SF_T0 - 86400;
    b.expires = SF_T0 + 365 * 86400;
    b.enc_keys = keys;
    b.n_enc_keys = nk;
    b.devices = devs;
    b.n_devices = nd;
    if (previous != NULL)
        b.previous = (ProtobufCBinaryData){ 32, (uint8_t *)previous };
    return lsn_bundle_sign(&b, o->root_sk, out);
}

int
sf_org_new(struct sf_org *o, const char *id, const uint8_t *seed)
{
    struct lsn_enc_secret s;
    Liaison__EncKey k = LIAISON__ENC_KEY__INIT, *kp = &k;
    Liaison__Device d, *dp = &d;
    uint8_t sd[32];
    int r;

    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", id);
    if ((r = lsn_credential_new(id, "d1", LIAISON__DEVICE_ROLE__ROLE_HUMAN, 1,
                                1, &o->cred)) != 0)
        return r;
    memset(&s, 0, sizeof s);
    s.key_id = 1;
    s.created = SF_T0 - 86400;
    if (seed != NULL) {
        derive(sd, 32, seed, "root");
        crypto_sign_seed_keypair(o->root_pk, o->root_sk, sd);
        derive(sd, 32, seed, "device sign");
        crypto_sign_seed_keypair(o->cred->keys->sign_pk, o->cred->keys->sign_sk,
                                 sd);
        derive(s.sk, 32, seed, "enc 1");
    } else {
        crypto_sign_keypair(o->root_pk, o->root_sk);
        randombytes_buf(s.sk, 32);
    }
    crypto_scalarmult_base(s.pk, s.sk);
    if ((r = lsn_credential_put_enc(o->cred, &s)) != 0)
        goto out;
    k.key_id = 1;
    k.public_key = (ProtobufCBinaryData){ 32, s.pk };
    k.created = s.created;
    sf_device_from_cred(&d, o->cred, 1);
    r = sf_bundle_make(o, 1, &kp, 1, &dp, 1, NULL, &o->bundle);
out:
    sodium_memzero(&s, sizeof s);
    sodium_memzero(sd, sizeof sd);
    if (r != 0)
        sf_org_free(o);
    return r;
}

void
sf_org_free(struct sf_org *o)
{
    lsn_credential_destroy(&o->cred);
    lsn_bundle_destroy(&o->bundle);
    sodium_memzero(o->root_sk, sizeof o->root_sk);
}

void
sf_alert_sample(Liaison__Alert *a)
{
    static Liaison__Grading g = LIAISON__GRADING__INIT;
    static Liaison__Indicator i1 = LIAISON__INDICATOR__INIT;
    static Liaison__Indicator i2 = LIAISON__INDICATOR__INIT;
    static Liaison__Indicator *ind[2];
    static Liaison__ExternalRef x = LIAISON__EXTERNAL_REF__INIT;
    static Liaison__ExternalRef *xs[1];

    liaison__alert__init(a);
    a->type = LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT;
    a->title = "Known CSAM distribution domain";
    a->body = "Hash list and hosting details below.\nPlease action.";
    a->tlp = LIAISON__TLP__TLP_AMBER_STRICT;
    a->pap = LIAISON__PAP__PAP_AMBER;
    a->handling = LIAISON__HANDLING_CODE__HANDLING_H1;
    g.system = LIAISON__GRADING_SYSTEM__GRADING_ADMIRALTY;
    g.source = "B";
    g.information = "2";
    a->grading = &g;
    a->priority = LIAISON__PRIORITY__PRIORITY_URGENT;
    a->case_ref = "CASE-2027-0042";
    i1.type = "domain";
    i1.value = "bad.example";
    i2.type = "ip-dst";
    i2.value = "192.0.2.7";
    ind[0] = &i1;
    ind[1] = &i2;
    a->indicators = ind;
    a->n_indicators = 2;
    x.system = "SIENA";
    x.id = "SIENA-123456";
    xs[0] = &x;
    a->external_refs = xs;
    a->n_external_refs = 1;
    a->ack = LIAISON__ACK_REQUEST__ACK_DELIVERY;
    a->respond_by = SF_T0 + 86400;
}

/* ---------------------------------------------------------- forging */

typedef crypto_generichash_blake2b_state hst;

/* u16 big-endian length, then the bytes. */
static void
lp(hst *st, const void *p, size_t n)
{
    uint8_t pre[2] = { (uint8_t)(n >> 8), (uint8_t)(n & 0xff) };
    crypto_generichash_blake2b_update(st, pre, 2);
    crypto_generichash_blake2b_update(st, p, n);
}

static void
lps(hst *st, const char *s)
{
    lp(st, s, strlen(s));
}

static void
u32be(uint8_t b[4], uint32_t v)
{
    b[0] = v >> 24; b[1] = (v >> 16) & 0xff; b[2] = (v >> 8) & 0xff; b[3] = v & 0xff;
}

void
sf_sign(uint8_t sig[64], const uint8_t *h, size_t hl, const uint8_t *c,
        size_t cl, const uint8_t *sign_sk)
{
    static const char label[] = "liaison v1 envelope";
    uint8_t m[sizeof label + 128];

    memcpy(m, label, sizeof label);           /* with its 0x00 */
    crypto_generichash_blake2b(m + sizeof label, 64, h, hl, NULL, 0);
    crypto_generichash_blake2b(m + sizeof label + 64, 64, c, cl, NULL, 0);
    crypto_sign_detached(sig, NULL, m, sizeof m, sign_sk);
}

static int
pack_envelope(const uint8_t *h, size_t hl, const uint8_t *c, size_t cl,
              const uint8_t sig[64], uint8_t **out, size_t *out_len)
{
    Liaison__Envelope e = LIAISON__ENVELOPE__INIT;

    e.header = (ProtobufCBinaryData){ hl, (uint8_t *)h };
    e.ciphertext = (ProtobufCBinaryData){ cl, (uint8_t *)c };
    e.sig = (ProtobufCBinaryData){ 64, (uint8_t *)sig };
    *out_len = liaison__envelope__get_packed_size(&e);
    if ((*out = malloc(*out_len)) == NULL)
        return LSN_ERR_NOMEM;
    liaison__envelope__pack(&e, *out);
    return 0;
}

void
sf_kek(uint8_t kek[32], const uint8_t ss[32], uint32_t suite,
       const uint8_t epk[32], const uint8_t pk_r[32], const uint8_t msg_id[16],
       const char *org, uint32_t key_id)
{
    uint8_t kid[4], sb = (uint8_t)suite;
    hst st;

    u32be(kid, key_id);
    crypto_generichash_blake2b_init(&st, ss, 32, 32);
    lps(&st, "liaison v1 wrap");
    lp(&st, &sb, 1);
    lp(&st, epk, 32);
    lp(&st, pk_r, 32);
    lp(&st, msg_id, 16);
    lps(&st, org);
    lp(&st, kid, 4);
    crypto_generichash_blake2b_final(&st, kek, 32);
}

void
sf_content_keys(uint8_t k_enc[32], uint8_t commit[32], const uint8_t key[32],
                const uint8_t *commit_key, const uint8_t msg_id[16])
{
    hst st;

    crypto_generichash_blake2b_init(&st, key, 32, 32);
    lps(&st, "liaison v1 content");
    crypto_generichash_blake2b_final(&st, k_enc, 32);
    crypto_generichash_blake2b_init(&st, commit_key ? commit_key : key, 32, 32);
    lps(&st, "liaison v1 commit");
    lp(&st, msg_id, 16);
    crypto_generichash_blake2b_final(&st, commit, 32);
}

void
sf_header_ad(uint8_t ad[32], const uint8_t *h, size_t hl)
{
    hst st;

    crypto_generichash_blake2b_init(&st, NULL, 0, 32);
    lps(&st, "liaison v1 header");
    lp(&st, h, hl);
    crypto_generichash_blake2b_final(&st, ad, 32);
}

void
sf_idem_id(uint8_t msg_id[16], const uint8_t org_sk[32], const uint8_t *idem,
           size_t idem_len)
{
    hst st;

    crypto_generichash_blake2b_init(&st, org_sk, 32, 16);
    lps(&st, "liaison v1 idem");
    lp(&st, idem, idem_len);
    crypto_generichash_blake2b_final(&st, msg_id, 16);
}

int
sf_forge(const struct sf_forge *f, uint8_t **out, size_t *out_len)
{
    Liaison__EnvelopeHeader h = LIAISON__ENVELOPE_HEADER__INIT;
    Liaison__EnvelopeRecipient rc[16], *rcp[16];
    uint8_t wraps[16][48], epk[32], k_enc[32], commit[32], ad[32], sig[64];
    uint8_t *hb = NULL, *padded = NULL, *c = NULL;
    size_t hl, plen = 512, got;
    static const uint8_t zero[24];
    int r = LSN_ERR_USAGE;

    if (f->n > 16)
        return r;
    crypto_scalarmult_base(epk, f->eph_sk);
    for (size_t i = 0; i < f->n; i++) {
        uint8_t ss[32], kek[32], kid[4], suite = (uint8_t)f->suite;
        uint8_t wad[64];
        size_t ol = strlen(f->orgs[i]);

        if (crypto_scalarmult(ss, f->eph_sk, f->pks[i]) != 0)
            return LSN_ERR_DECRYPT;
        u32be(kid, f->key_ids[i]);
        sf_kek(kek, ss, suite, epk, f->pks[i], f->msg_id, f->orgs[i],
               f->key_ids[i]);
        wad[0] = 0;
        wad[1] = (uint8_t)ol;
        memcpy(wad + 2, f->orgs[i], ol);
        wad[2 + ol] = 0;
        wad[3 + ol] = 4;
        memcpy(wad + 4 + ol, kid, 4);
        crypto_aead_xchacha20poly1305_ietf_encrypt(wraps[i], NULL,
                                                   f->wrap_keys[i], 32, wad,
                                                   ol + 8, NULL, zero, kek);
        liaison__envelope_recipient__init(&rc[i]);
        rc[i].org = (char *)f->orgs[i];
        rc[i].key_id = f->key_ids[i];
        rc[i].wrap = (ProtobufCBinaryData){ 48, wraps[i] };
        rcp[i] = &rc[i];
    }
    sf_content_keys(k_enc, commit, f->key, f->commit_key, f->msg_id);

    h.suite = f->suite;
    h.msg_id = (ProtobufCBinaryData){ 16, (uint8_t *)f->msg_id };
    h.sender_org = (char *)f->sender_org;
    h.sender_device = (char *)f->sender_device;
    h.sender_bundle_version = f->bundle_version;
    h.created = f->created;
    h.expires = f->expires;
    h.recipients = rcp;
    h.n_recipients = f->n;
    h.ephemeral_key = (ProtobufCBinaryData){ 32, epk };
    h.nonce = (ProtobufCBinaryData){ 24, (uint8_t *)f->nonce };
    h.commit = (ProtobufCBinaryData){ 32, commit };
    hl = liaison__envelope_header__get_packed_size(&h);
    if ((hb = malloc(hl)) == NULL)
        return LSN_ERR_NOMEM;
    liaison__envelope_header__pack(&h, hb);

    sf_header_ad(ad, hb, hl);
    while (plen <= f->content_len)
        plen *= 2;
    r = LSN_ERR_NOMEM;
    if ((padded = calloc(1, plen)) == NULL || (c = malloc(plen + 16)) == NULL)
        goto out;
    memcpy(padded, f->content, f->content_len);
    sodium_pad(&got, padded, f->content_len, plen, plen);
    crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, padded, plen, ad, 32,
                                               NULL, f->nonce, k_enc);
    sf_sign(sig, hb, hl, c, plen + 16, f->sign_sk);
    r = pack_envelope(hb, hl, c, plen + 16, sig, out, out_len);
out:
    free(hb);
    free(padded);
    free(c);
    return r;
}

int
sf_rebuild(const uint8_t *env, size_t len, const uint8_t *hdr, size_t hdr_len,
           const uint8_t *sign_sk, uint8_t **out, size_t *out_len)
{
    Liaison__Envelope *e = liaison__envelope__unpack(NULL, len, env);
    uint8_t sig[64];
    int r;

    if (e == NULL)
        return LSN_ERR_MALFORMED;
    sf_sign(sig, hdr, hdr_len, e->ciphertext.data, e->ciphertext.len, sign_sk);
    r = pack_envelope(hdr, hdr_len, e->ciphertext.data, e->ciphertext.len, sig,
                      out, out_len);
    liaison__envelope__free_unpacked(e, NULL);
    return r;
}

int
sf_tamper(const uint8_t *env, size_t len, sf_edit_fn edit, void *ctx,
          const uint8_t *sign_sk, uint8_t **out, size_t *out_len)
{
    Liaison__Envelope *e = liaison__envelope__unpack(NULL, len, env);
    Liaison__EnvelopeHeader *h = NULL;
    uint8_t *hb = NULL, sig[64];
    size_t hl;
    int r = LSN_ERR_MALFORMED;

    if (e == NULL)
        return r;
    h = liaison__envelope_header__unpack(NULL, e->header.len, e->header.data);
    if (h == NULL)
        goto out;
    /* edit may replace pointers inside h; restore nothing: the caller's
     * replacements must outlive this call, and free_unpacked frees only
     * what unpack allocated as long as edit keeps the originals alive. */
    {
        Liaison__EnvelopeHeader saved = *h;
        edit(h, ctx);
        hl = liaison__envelope_header__get_packed_size(h);
        r = LSN_ERR_NOMEM;
        if ((hb = malloc(hl)) == NULL) {
            *h = saved;
            goto out;
        }
        liaison__envelope_header__pack(h, hb);
        *h = saved;
    }
    if (sign_sk != NULL)
        sf_sign(sig, hb, hl, e->ciphertext.data, e->ciphertext.len, sign_sk);
    else
        memcpy(sig, e->sig.data, e->sig.len < 64 ? e->sig.len : 64);
    r = pack_envelope(hb, hl, e->ciphertext.data, e->ciphertext.len, sig, out,
                      out_len);
out:
    free(hb);
    if (h != NULL)
        liaison__envelope_header__free_unpacked(h, NULL);
    liaison__envelope__free_unpacked(e, NULL);
    return r;
}

/* ---------------------------------------------------------- hex */

char *
sf_hex(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 1);

    if (s != NULL)
        sodium_bin2hex(s, 2 * n + 1, b, n);
    return s;
}

int
sf_unhex(const char *s, uint8_t **out, size_t *n)
{
    size_t sl = strlen(s);

    *out = malloc(sl / 2 + 1);
    if (*out == NULL)
        return LSN_ERR_NOMEM;
    if (sodium_hex2bin(*out, sl / 2 + 1, s, sl, NULL, n, NULL) != 0 ||
        *n * 2 != sl) {
        free(*out);
        *out = NULL;
        return LSN_ERR_MALFORMED;
    }
    return 0;
}
