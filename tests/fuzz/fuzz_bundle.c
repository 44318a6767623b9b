/* fuzz_bundle.c: lsn_bundle_parse, then lsn_bundle_verify against the
 * fixed roster and lsn_bundle_verify_next against the org's fixed v1.
 *
 * Input: an encoded signed bundle.  Invariants: a parsed bundle keeps the
 * input bytes and hash and finds each of its devices and keys; one that
 * verifies names a roster org and carries a valid signature by the root
 * key the roster lists (checked here without keys/signed.c) and has not
 * expired; an accepted successor of v1 is v1 again byte for byte, or a
 * higher version that names v1's hash when it is v2. */
#include <string.h>

#include <sodium.h>

#include "keys/bundle.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ff_world *w = ff_world();
    struct lsn_bundle *bu = NULL;
    const struct lsn_bundle *v1 = NULL;
    const Liaison__Bundle *b;
    const Liaison__RosterOrg *o;
    uint8_t hash[32];
    int rc;

    rc = lsn_bundle_parse(data, size, &bu);
    if (rc != 0) {
        FF_CHECK(bu == NULL);
        return 0;
    }
    b = bu->b;
    FF_CHECK(bu->len == size && memcmp(bu->bytes, data, size) == 0);
    crypto_generichash(hash, sizeof hash, data, size, NULL, 0);
    FF_CHECK(memcmp(hash, bu->hash, sizeof hash) == 0);
    FF_CHECK(b->n_enc_keys >= 1 && b->n_enc_keys <= LSN_BUNDLE_MAX_ENC_KEYS);
    FF_CHECK(b->n_devices <= LSN_BUNDLE_MAX_DEVICES);
    FF_CHECK(lsn_bundle_newest_key(bu) == b->enc_keys[0]);
    for (size_t i = 0; i < b->n_enc_keys; i++)
        FF_CHECK(lsn_bundle_find_key(bu, b->enc_keys[i]->key_id) ==
                 b->enc_keys[i]);
    for (size_t i = 0; i < b->n_devices; i++)
        FF_CHECK(lsn_bundle_find_device(bu, b->devices[i]->name) ==
                 b->devices[i]);

    rc = lsn_bundle_verify(bu, w->roster, FF_NOW);
    o = lsn_roster_find_org(w->roster, b->org);
    if (rc == 0) {
        FF_CHECK(o != NULL);
        FF_CHECK(ff_signed_by(bu->so, "bundle", o->root_key.data));
        FF_CHECK(FF_NOW < b->expires);
    } else if (o == NULL) {
        FF_CHECK(rc == LSN_ERR_UNKNOWN_ORG);
    }
    if (strcmp(b->org, "alpha") == 0)
        v1 = w->alpha.bundle;
    else if (strcmp(b->org, "bravo") == 0)
        v1 = w->bravo.bundle;
    if (v1 != NULL && lsn_bundle_verify_next(v1, bu) == 0) {
        FF_CHECK(b->version >= 1);
        if (b->version == 1)
            FF_CHECK(size == v1->len && memcmp(data, v1->bytes, size) == 0);
        if (b->version == 2)
            FF_CHECK(b->previous.len == 32 &&
                     memcmp(b->previous.data, v1->hash, 32) == 0);
    }
    lsn_bundle_destroy(&bu);
    FF_CHECK(bu == NULL);
    return 0;
}
