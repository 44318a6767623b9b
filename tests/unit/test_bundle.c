/* test_bundle.c: org bundles: who may sign them, expiry, and the version
 * chain (rollback, conflict, a missing predecessor). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/bundle.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"

static struct kf_key A, B, ROOT, NEW_ROOT, DEV;

static int
setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    kf_key(&A, 1); kf_key(&B, 2); kf_key(&ROOT, 10); kf_key(&NEW_ROOT, 12);
    kf_key(&DEV, 20);
    return 0;
}

static struct lsn_roster *
roster_with_root(uint64_t v, const struct kf_key *root)
{
    const struct kf_key ab[] = { A, B };
    const struct kf_key *s[] = { &A, &B };
    const struct kf_org orgs[] = { { "police", root } };
    return kf_roster(v, ab, 2, 2, orgs, 1, s, 2, 0);
}

/* A bundle of `police` version v signed by signer; prev names the
 * predecessor's hash (NULL for v1). */
static struct lsn_bundle *
bundle(uint64_t v, const struct kf_key *signer, const uint8_t *prev,
       int64_t expires)
{
    Liaison__Bundle body = LIAISON__BUNDLE__INIT;
    Liaison__EncKey key = LIAISON__ENC_KEY__INIT, *keys[1] = { &key };
    Liaison__Device dev = LIAISON__DEVICE__INIT, *devs[1] = { &dev };
    uint8_t enc_pk[32], x[32];
    struct lsn_bundle *b = NULL;

    memset(enc_pk, 7, sizeof enc_pk);
    memset(x, 9, sizeof x);
    key.key_id = 1;
    key.public_key = (ProtobufCBinaryData){ 32, enc_pk };
    dev.name = "d1";
    dev.role = LIAISON__DEVICE_ROLE__ROLE_HUMAN;
    dev.sign_key = (ProtobufCBinaryData){ 32, DEV.pk };
    dev.curve_key = (ProtobufCBinaryData){ 32, x };
    dev.delivery_key = (ProtobufCBinaryData){ 32, x };
    dev.may_send = dev.may_receive = 1;
    body.org = "police";
    body.version = v;
    body.issued = KF_NOW - 10;
    body.expires = expires ? expires : KF_NOW + KF_YEAR;
    body.enc_keys = keys;
    body.n_enc_keys = 1;
    body.devices = devs;
    body.n_devices = 1;
    if (prev != NULL)
        body.previous = (ProtobufCBinaryData){ 32, (uint8_t *)prev };
    assert_int_equal(lsn_bundle_sign(&body, signer->sk, &b), 0);
    return b;
}

static void
test_bundle_signed_by_listed_root_verifies(void **state)
{
    struct lsn_roster *ro = roster_with_root(1, &ROOT);
    struct lsn_bundle *b = bundle(1, &ROOT, NULL, 0);

    (void)state;
    assert_int_equal(lsn_bundle_verify(b, ro, KF_NOW), 0);
    assert_non_null(lsn_bundle_find_device(b, "d1"));
    assert_null(lsn_bundle_find_device(b, "d2"));
    assert_int_equal(lsn_bundle_newest_key(b)->key_id, 1);
    lsn_bundle_destroy(&b);
    lsn_roster_destroy(&ro);
}

static void
test_bundle_wrong_signer_refused(void **state)
{
    struct lsn_roster *ro = roster_with_root(1, &ROOT);
    struct lsn_bundle *by_device = bundle(1, &DEV, NULL, 0);
    struct lsn_bundle *by_authority = bundle(1, &A, NULL, 0);

    (void)state;
    /* A device key or an authority key is not the org root: refused. */
    assert_int_equal(lsn_bundle_verify(by_device, ro, KF_NOW), LSN_ERR_WRONG_SIGNER);
    assert_int_equal(lsn_bundle_verify(by_authority, ro, KF_NOW), LSN_ERR_WRONG_SIGNER);
    lsn_bundle_destroy(&by_device);
    lsn_bundle_destroy(&by_authority);
    lsn_roster_destroy(&ro);
}

static void
test_bundle_previous_root_refused_after_set_root(void **state)
{
    struct lsn_roster *v2 = roster_with_root(2, &NEW_ROOT);
    struct lsn_bundle *old = bundle(1, &ROOT, NULL, 0);
    struct lsn_bundle *fresh = bundle(1, &NEW_ROOT, NULL, 0);

    (void)state;
    assert_int_not_equal(lsn_bundle_verify(old, v2, KF_NOW), 0);
    assert_int_equal(lsn_bundle_verify(fresh, v2, KF_NOW), 0);
    lsn_bundle_destroy(&old);
    lsn_bundle_destroy(&fresh);
    lsn_roster_destroy(&v2);
}

static void
test_bundle_unknown_org_and_expiry(void **state)
{
    const struct kf_key ab[] = { A, B };
    const struct kf_key *s[] = { &A, &B };
    struct lsn_roster *empty = kf_roster(1, ab, 2, 2, NULL, 0, s, 2, 0);
    struct lsn_roster *ro = roster_with_root(1, &ROOT);
    struct lsn_bundle *b = bundle(1, &ROOT, NULL, KF_NOW + 5);

    (void)state;
    assert_int_equal(lsn_bundle_verify(b, empty, KF_NOW), LSN_ERR_UNKNOWN_ORG);
    assert_int_equal(lsn_bundle_verify(b, ro, KF_NOW + 4), 0);
    assert_int_equal(lsn_bundle_verify(b, ro, KF_NOW + 5), LSN_ERR_EXPIRED);
    lsn_bundle_destroy(&b);
    lsn_roster_destroy(&ro);
    lsn_roster_destroy(&empty);
}

static void
test_bundle_chain_rules(void **state)
{
    struct lsn_bundle *v1 = bundle(1, &ROOT, NULL, 0);
    struct lsn_bundle *v1b = bundle(1, &ROOT, NULL, KF_NOW + 99);
    struct lsn_bundle *v2 = bundle(2, &ROOT, v1->hash, 0);
    struct lsn_bundle *v2_fork = bundle(2, &ROOT, v1b->hash, 0);
    struct lsn_bundle *v5 = bundle(5, &ROOT, v1->hash, 0);

    (void)state;
    assert_int_equal(lsn_bundle_verify_next(v1, v2), 0);
    assert_int_equal(lsn_bundle_verify_next(v2, v1), LSN_ERR_ROLLBACK);
    assert_int_equal(lsn_bundle_verify_next(v1, v1), 0);           /* identical */
    assert_int_equal(lsn_bundle_verify_next(v1, v1b), LSN_ERR_CONFLICT);
    assert_int_equal(lsn_bundle_verify_next(v1, v2_fork), LSN_ERR_CHAIN);
    /* A later version after a gap is accepted on its signature alone. */
    assert_int_equal(lsn_bundle_verify_next(v2, v5), 0);
    lsn_bundle_destroy(&v1);
    lsn_bundle_destroy(&v1b);
    lsn_bundle_destroy(&v2);
    lsn_bundle_destroy(&v2_fork);
    lsn_bundle_destroy(&v5);
}

static void
test_bundle_structure_checked(void **state)
{
    struct lsn_bundle *b = bundle(1, &ROOT, NULL, 0), *bad = NULL;
    Liaison__Bundle body = *b->b;
    Liaison__Device d2 = *b->b->devices[0], *two[2] = { b->b->devices[0], &d2 };
    Liaison__EncKey k2 = *b->b->enc_keys[0], *keys[2] = { b->b->enc_keys[0], &k2 };

    (void)state;
    body.devices = two;
    body.n_devices = 2;                 /* same name and keys twice */
    assert_int_equal(lsn_bundle_sign(&body, ROOT.sk, &bad), LSN_ERR_MALFORMED);
    body.n_devices = 1;
    body.enc_keys = keys;
    body.n_enc_keys = 2;                /* key ids not falling */
    k2.retire_after = KF_NOW + 1;
    assert_int_equal(lsn_bundle_sign(&body, ROOT.sk, &bad), LSN_ERR_MALFORMED);
    body.n_enc_keys = 0;                /* no key at all */
    assert_int_equal(lsn_bundle_sign(&body, ROOT.sk, &bad), LSN_ERR_MALFORMED);
    body = *b->b;
    body.version = 2;                   /* v2 must name a predecessor */
    assert_int_equal(lsn_bundle_sign(&body, ROOT.sk, &bad), LSN_ERR_MALFORMED);
    assert_null(bad);
    lsn_bundle_destroy(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_signed_by_listed_root_verifies),
        cmocka_unit_test(test_bundle_wrong_signer_refused),
        cmocka_unit_test(test_bundle_previous_root_refused_after_set_root),
        cmocka_unit_test(test_bundle_unknown_org_and_expiry),
        cmocka_unit_test(test_bundle_chain_rules),
        cmocka_unit_test(test_bundle_structure_checked),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
