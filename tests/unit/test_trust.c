/* test_trust.c: the trust store refuses rollback and freeze, also after a
 * restart (a fresh open of the same folder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/trust.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"

static struct kf_key A, B, C, ROOT;

static int
setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    kf_key(&A, 1); kf_key(&B, 2); kf_key(&C, 3); kf_key(&ROOT, 10);
    return 0;
}

static const struct kf_org ORGS[] = { { "police", &ROOT } };

static struct lsn_roster *
roster(uint64_t v, int64_t expires)
{
    const struct kf_key ab[] = { A, B };
    const struct kf_key *s[] = { &A, &B };
    return kf_roster(v, ab, 2, 2, ORGS, 1, s, 2, expires);
}

static struct lsn_bundle *
bundle(uint64_t v, const uint8_t *prev)
{
    Liaison__Bundle body = LIAISON__BUNDLE__INIT;
    Liaison__EncKey key = LIAISON__ENC_KEY__INIT, *keys[1] = { &key };
    uint8_t pk[32];
    struct lsn_bundle *b = NULL;

    memset(pk, (int)v, sizeof pk);
    key.key_id = (uint32_t)v;
    key.public_key = (ProtobufCBinaryData){ 32, pk };
    body.org = "police";
    body.version = v;
    body.issued = KF_NOW;
    body.expires = KF_NOW + KF_YEAR;
    body.enc_keys = keys;
    body.n_enc_keys = 1;
    if (prev != NULL)
        body.previous = (ProtobufCBinaryData){ 32, (uint8_t *)prev };
    assert_int_equal(lsn_bundle_sign(&body, ROOT.sk, &b), 0);
    return b;
}

static void
test_trust_roster_rollback_refused_after_restart(void **state)
{
    const char *dir = kf_tmpdir("trust");
    struct lsn_trust *t = NULL;
    struct lsn_roster *v1 = roster(1, 0), *v2 = roster(2, 0), *held = NULL;
    const struct kf_key ab[] = { A, B };
    const struct kf_key *only_a[] = { &A };
    struct lsn_roster *weak = kf_roster(1, ab, 2, 2, ORGS, 1, only_a, 1, 0);

    (void)state;
    assert_int_equal(lsn_trust_open(dir, &t), 0);
    assert_int_equal(lsn_trust_roster(t, KF_NOW, &held), LSN_ERR_NOT_FOUND);
    /* The first roster must verify on its own. */
    assert_int_equal(lsn_trust_put_roster(t, weak->bytes, weak->len, KF_NOW),
                     LSN_ERR_THRESHOLD);
    assert_int_equal(lsn_trust_put_roster(t, v1->bytes, v1->len, KF_NOW), 0);
    assert_int_equal(lsn_trust_put_roster(t, v1->bytes, v1->len, KF_NOW), 0);
    assert_int_equal(lsn_trust_put_roster(t, v2->bytes, v2->len, KF_NOW), 0);
    lsn_trust_close(&t);

    assert_int_equal(lsn_trust_open(dir, &t), 0);
    assert_int_equal(lsn_trust_put_roster(t, v1->bytes, v1->len, KF_NOW),
                     LSN_ERR_ROLLBACK);
    assert_int_equal(lsn_trust_roster(t, KF_NOW, &held), 0);
    assert_int_equal(held->r->version, 2);
    lsn_roster_destroy(&held);
    lsn_trust_close(&t);
    lsn_roster_destroy(&weak);
    lsn_roster_destroy(&v1);
    lsn_roster_destroy(&v2);
    kf_rmdir(dir);
}

static void
test_trust_roster_freeze_refused(void **state)
{
    const char *dir = kf_tmpdir("trust");
    struct lsn_trust *t = NULL;
    struct lsn_roster *v1 = roster(1, KF_NOW + 100), *held = NULL;

    (void)state;
    assert_int_equal(lsn_trust_open(dir, &t), 0);
    assert_int_equal(lsn_trust_put_roster(t, v1->bytes, v1->len, KF_NOW), 0);
    /* An attacker who withholds newer rosters gets nothing past expiry. */
    assert_int_equal(lsn_trust_roster(t, KF_NOW + 100, &held), LSN_ERR_EXPIRED);
    assert_null(held);
    assert_int_equal(lsn_trust_put_roster(t, v1->bytes, v1->len, KF_NOW + 100),
                     LSN_ERR_EXPIRED);
    lsn_trust_close(&t);
    lsn_roster_destroy(&v1);
    kf_rmdir(dir);
}

static void
test_trust_roster_conflict_and_gap(void **state)
{
    const char *dir = kf_tmpdir("trust");
    struct lsn_trust *t = NULL;
    struct lsn_roster *v1 = roster(1, 0), *v1b = roster(1, KF_NOW + 5000),
                      *v3 = roster(3, 0);

    (void)state;
    assert_int_equal(lsn_trust_open(dir, &t), 0);
    assert_int_equal(lsn_trust_put_roster(t, v1->bytes, v1->len, KF_NOW), 0);
    assert_int_equal(lsn_trust_put_roster(t, v1b->bytes, v1b->len, KF_NOW),
                     LSN_ERR_CONFLICT);
    assert_int_equal(lsn_trust_put_roster(t, v3->bytes, v3->len, KF_NOW), LSN_ERR_CHAIN);
    lsn_trust_close(&t);
    lsn_roster_destroy(&v1);
    lsn_roster_destroy(&v1b);
    lsn_roster_destroy(&v3);
    kf_rmdir(dir);
}

static void
test_trust_bundle_rollback_refused_after_restart(void **state)
{
    const char *dir = kf_tmpdir("trust");
    struct lsn_trust *t = NULL;
    struct lsn_roster *v1 = roster(1, 0);
    struct lsn_bundle *b1 = bundle(1, NULL), *b2 = bundle(2, b1->hash), *held = NULL;
    struct kf_key imposter;
    struct lsn_bundle *forged = NULL;

    (void)state;
    assert_int_equal(lsn_trust_open(dir, &t), 0);
    /* No roster yet: nothing to check a bundle against. */
    assert_int_equal(lsn_trust_put_bundle(t, b1->bytes, b1->len, KF_NOW),
                     LSN_ERR_NOT_FOUND);
    assert_int_equal(lsn_trust_put_roster(t, v1->bytes, v1->len, KF_NOW), 0);
    assert_int_equal(lsn_trust_put_bundle(t, b1->bytes, b1->len, KF_NOW), 0);
    assert_int_equal(lsn_trust_put_bundle(t, b2->bytes, b2->len, KF_NOW), 0);
    lsn_trust_close(&t);

    assert_int_equal(lsn_trust_open(dir, &t), 0);
    assert_int_equal(lsn_trust_put_bundle(t, b1->bytes, b1->len, KF_NOW),
                     LSN_ERR_ROLLBACK);
    assert_int_equal(lsn_trust_bundle(t, "police", KF_NOW, &held), 0);
    assert_int_equal(held->b->version, 2);
    lsn_bundle_destroy(&held);
    /* A bundle signed by anyone but the listed root is refused. */
    kf_key(&imposter, 66);
    {
        Liaison__Bundle body = *b2->b;
        body.version = 3;
        body.previous = (ProtobufCBinaryData){ 32, b2->hash };
        assert_int_equal(lsn_bundle_sign(&body, imposter.sk, &forged), 0);
    }
    assert_int_not_equal(lsn_trust_put_bundle(t, forged->bytes, forged->len, KF_NOW), 0);
    assert_int_equal(lsn_trust_bundle(t, "nobody", KF_NOW, &held), LSN_ERR_NOT_FOUND);
    lsn_trust_close(&t);
    lsn_bundle_destroy(&forged);
    lsn_bundle_destroy(&b1);
    lsn_bundle_destroy(&b2);
    lsn_roster_destroy(&v1);
    kf_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trust_roster_rollback_refused_after_restart),
        cmocka_unit_test(test_trust_roster_freeze_refused),
        cmocka_unit_test(test_trust_roster_conflict_and_gap),
        cmocka_unit_test(test_trust_bundle_rollback_refused_after_restart),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
