/* fuzz_delivery.c: lsn_delivery_parse, then lsn_delivery_apply to a fresh
 * copy of alpha's fixed credential, against the fixed roster.
 *
 * Input: an encoded signed key delivery.  Invariants: a parsed delivery
 * keeps the input bytes; an applied one was addressed to alpha/d1, carries
 * a valid signature by alpha's root (checked here without keys/signed.c)
 * and leaves the credential holding a secret that matches the delivered
 * public key, keys still newest first; a refused one leaves the
 * credential exactly as it was. */
#include <string.h>

#include <sodium.h>

#include "keys/delivery.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

/* Whether c encodes as alpha's fixed credential does. */
static int
same_as_start(const struct lsn_credential *c)
{
    static uint8_t *alpha_enc;
    static size_t alpha_enc_len;
    uint8_t *enc = NULL;
    size_t n = 0;
    int same;

    if (alpha_enc == NULL)
        FF_CHECK(lsn_credential_encode(ff_world()->alpha.cred, &alpha_enc,
                                       &alpha_enc_len) == 0);
    FF_CHECK(lsn_credential_encode(c, &enc, &n) == 0);
    same = n == alpha_enc_len && memcmp(enc, alpha_enc, n) == 0;
    sodium_free(enc);
    return same;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ff_world *w = ff_world();
    struct lsn_delivery *d = NULL;
    struct lsn_credential *c;
    const struct lsn_enc_secret *s;
    uint8_t pk[32];
    int rc;

    rc = lsn_delivery_parse(data, size, &d);
    if (rc != 0) {
        FF_CHECK(d == NULL);
        return 0;
    }
    FF_CHECK(d->len == size && memcmp(d->bytes, data, size) == 0);
    FF_CHECK(d->d->public_key.len == 32);
    c = ff_cred_copy(&w->alpha);
    rc = lsn_delivery_apply(d, w->roster, c);
    if (rc == 0) {
        FF_CHECK(strcmp(d->d->org, "alpha") == 0 &&
                 strcmp(d->d->device, "d1") == 0);
        FF_CHECK(ff_signed_by(d->so, "key-delivery", w->alpha.root_pk));
        s = lsn_credential_find_enc(c, d->d->key_id);
        FF_CHECK(s != NULL || c->n_enc == LSN_MAX_ENC_KEYS);
        if (s != NULL) {
            FF_CHECK(memcmp(s->pk, d->d->public_key.data, 32) == 0);
            crypto_scalarmult_base(pk, s->sk);
            FF_CHECK(memcmp(pk, s->pk, 32) == 0);
        }
        FF_CHECK(c->n_enc >= 1 && c->n_enc <= LSN_MAX_ENC_KEYS);
        for (size_t i = 1; i < c->n_enc; i++)
            FF_CHECK(c->enc[i - 1].key_id > c->enc[i].key_id);
    } else {
        FF_CHECK(same_as_start(c));
    }
    lsn_credential_destroy(&c);
    lsn_delivery_destroy(&d);
    FF_CHECK(d == NULL);
    return 0;
}
