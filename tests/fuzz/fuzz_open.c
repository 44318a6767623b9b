/* fuzz_open.c: lsn_open, the recipient's whole check-then-decrypt path,
 * with alpha's fixed credential opening what bravo's fixed bundle says.
 *
 * Input: one mode byte, then data.  Mode (low two bits):
 *   0  data is an envelope, opened as it is;
 *   1  data is an envelope whose header and ciphertext the target re-signs
 *      with bravo's device key, so the fuzzer gets past the signature to
 *      the time, replay, key, wrap and commitment checks;
 *   2  data is content: the target seals it to alpha exactly as
 *      docs/protocol.md says (sf_forge, sharing no code with seal.c), so
 *      the fuzzer reaches decryption, unpadding and the Alert decoder.
 * Bit 2 of the mode byte opens without a replay check; otherwise a message
 * id starting with 0xee counts as seen.
 * Invariants: a success implies the envelope parses, names alpha once, is
 * signed by bravo's device key (checked here independently), is within
 * its time window, and carries valid content; in mode 2, the open fails
 * exactly when the content would not decode, and gives back its bytes. */
#include <string.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/seal.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"
#include "tests/lib/sealfix.h"

static int
replay_check(void *ctx, const char *org, const uint8_t msg_id[16],
             int64_t keep_until)
{
    (void)ctx;
    FF_CHECK(strcmp(org, "bravo") == 0);
    FF_CHECK(keep_until > 0);
    return msg_id[0] == 0xee ? LSN_ERR_REPLAY : 0;
}

/* Re-signs a leniently decoded envelope with bravo's device key. */
static int
resign(const uint8_t *data, size_t size, uint8_t **out, size_t *out_len)
{
    const struct ff_world *w = ff_world();
    Liaison__Envelope *e = liaison__envelope__unpack(NULL, size, data);
    ProtobufCBinaryData old;
    uint8_t sig[64];
    int r;

    if (e == NULL)
        return -1;
    sf_sign(sig, e->header.data, e->header.len, e->ciphertext.data,
            e->ciphertext.len, w->bravo.cred->keys->sign_sk);
    old = e->sig;          /* unpack owns it: put it back before the free */
    e->sig = (ProtobufCBinaryData){ sizeof sig, sig };
    r = lsn_pb_encode(&e->base, out, out_len);
    e->sig = old;
    liaison__envelope__free_unpacked(e, NULL);
    return r;
}

/* Seals content to alpha from bravo/d1 with fixed randomness. */
static int
forge(const uint8_t *content, size_t len, uint8_t **out, size_t *out_len)
{
    static const char *const orgs[1] = { "alpha" };
    static const uint32_t key_ids[1] = { 1 };
    const struct ff_world *w = ff_world();
    uint8_t k[32], eph[32], nonce[24], msg_id[16];
    struct sf_forge f;

    ff_derive(k, "open K");
    ff_derive(eph, "open ephemeral");
    memset(nonce, 0x24, sizeof nonce);
    memset(msg_id, 0x16, sizeof msg_id);
    memset(&f, 0, sizeof f);
    f.suite = LSN_SUITE_1;
    f.msg_id = msg_id;
    f.sender_org = "bravo";
    f.sender_device = "d1";
    f.bundle_version = 1;
    f.created = FF_NOW - 60;
    f.expires = FF_NOW + FF_DAY;
    f.n = 1;
    f.orgs = orgs;
    f.key_ids = key_ids;
    f.pks = (const uint8_t (*)[32])w->alpha.enc1_pk;
    f.wrap_keys = (const uint8_t (*)[32])k;
    f.key = k;
    f.eph_sk = eph;
    f.nonce = nonce;
    f.content = content;
    f.content_len = len;
    f.sign_sk = w->bravo.cred->keys->sign_sk;
    return sf_forge(&f, out, out_len);
}

/* What a successful open promises, checked without seal.c's code. */
static void
check_opened(const uint8_t *env, size_t len, const struct lsn_opened *o)
{
    static const char label[] = "liaison v1 envelope";
    const struct ff_world *w = ff_world();
    const Liaison__Device *dev;
    struct lsn_envelope *e = NULL;
    const Liaison__EnvelopeRecipient *rc;
    uint8_t m[sizeof label + 128];
    size_t self = 0;

    FF_CHECK(lsn_envelope_parse(env, len, 0, &e) == 0);
    for (size_t i = 0; i < e->h->n_recipients; i++)
        self += strcmp(e->h->recipients[i]->org, "alpha") == 0;
    FF_CHECK(self == 1);
    rc = lsn_envelope_find_recipient(e, "alpha");
    FF_CHECK(rc != NULL && rc->key_id == o->key_id);
    FF_CHECK(strcmp(o->sender_org, "bravo") == 0);
    dev = lsn_bundle_find_device(w->bravo.bundle, o->sender_device);
    FF_CHECK(dev != NULL && dev->may_send);
    memcpy(m, label, sizeof label);
    crypto_generichash_blake2b(m + sizeof label, 64, e->header_bytes,
                               e->header_len, NULL, 0);
    crypto_generichash_blake2b(m + sizeof label + 64, 64, e->ciphertext,
                               e->ciphertext_len, NULL, 0);
    FF_CHECK(crypto_sign_verify_detached(e->sig, m, sizeof m,
                                         dev->sign_key.data) == 0);
    FF_CHECK(o->created == e->h->created && o->expires == e->h->expires);
    FF_CHECK(o->created <= FF_NOW + LSN_MAX_SKEW);
    FF_CHECK(FF_NOW <= o->expires + LSN_MAX_SKEW);
    FF_CHECK(o->expires - o->created <= LSN_MAX_TTL);
    FF_CHECK(o->keep_until == o->expires + LSN_MAX_SKEW);
    FF_CHECK(memcmp(o->msg_id, e->h->msg_id.data, 16) == 0);
    FF_CHECK(o->n_recipients == e->h->n_recipients);
    FF_CHECK(o->alert != NULL && lsn_alert_validate(o->alert) == 0);
    lsn_envelope_destroy(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ff_world *w = ff_world();
    struct lsn_opened *o = NULL;
    Liaison__Alert *direct = NULL;
    uint8_t *env = NULL, *enc = NULL;
    size_t len = 0, n = 0;
    int mode, no_replay, r, rd = 0;

    if (size < 1)
        return 0;
    mode = data[0] & 3;
    no_replay = data[0] & 4;
    data++;
    size--;
    if (mode == 0) {
        if ((env = malloc(size ? size : 1)) == NULL)
            return 0;
        memcpy(env, data, size);
        len = size;
    } else if (mode == 1) {
        if (resign(data, size, &env, &len) != 0)
            return 0;
    } else {
        if (size >= LSN_CONTENT_MAX)
            return 0;
        FF_CHECK(forge(data, size, &env, &len) == 0);
        rd = lsn_alert_decode(data, size, &direct);
    }
    r = lsn_open(env, len, w->alpha.cred, w->bravo.bundle, FF_NOW,
                 no_replay ? NULL : replay_check, NULL, &o);
    if (r == 0) {
        FF_CHECK(o != NULL);
        check_opened(env, len, o);
    } else {
        FF_CHECK(o == NULL);
        FF_CHECK(r < 0);
    }
    if (mode == 2) {
        /* The sealing is honest, so only the content can fail. */
        FF_CHECK(r == rd);
        if (r == 0) {
            FF_CHECK(lsn_pb_encode(&o->alert->base, &enc, &n) == 0);
            FF_CHECK(n == size && memcmp(enc, data, n) == 0);
            free(enc);
        }
    }
    lsn_pb_free((ProtobufCMessage *)direct);
    lsn_opened_destroy(&o);
    free(env);
    return 0;
}
