/* test_roster.c: the roster's threshold, succession, expiry and role rules,
 * each negative case one an attacker or a careless steering group would
 * produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/roster.h"
#include "keys/signed.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"

static struct kf_key A, B, C, D, ROOT, OUTSIDER;

static int
setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    kf_key(&A, 1); kf_key(&B, 2); kf_key(&C, 3); kf_key(&D, 4);
    kf_key(&ROOT, 10); kf_key(&OUTSIDER, 11);
    return 0;
}

static const struct kf_org ORGS[] = { { "police", &ROOT } };

/* A 2-of-3 roster v1 signed by the given keys. */
static struct lsn_roster *
v1_signed_by(const struct kf_key *const *s, size_t n)
{
    const struct kf_key abc[] = { A, B, C };
    return kf_roster(1, abc, 3, 2, ORGS, 1, s, n, 0);
}

static void
test_roster_threshold_met_verifies(void **state)
{
    const struct kf_key *s[] = { &A, &C };
    struct lsn_roster *r = v1_signed_by(s, 2);

    (void)state;
    assert_int_equal(lsn_roster_verify(r, KF_NOW), 0);
    assert_non_null(lsn_roster_find_org(r, "police"));
    assert_null(lsn_roster_find_org(r, "nobody"));
    lsn_roster_destroy(&r);
}

static void
test_roster_below_threshold_refused(void **state)
{
    const struct kf_key *s[] = { &A };
    struct lsn_roster *r = v1_signed_by(s, 1);

    (void)state;
    assert_int_equal(lsn_roster_verify(r, KF_NOW), LSN_ERR_THRESHOLD);
    lsn_roster_destroy(&r);
}

static void
test_roster_same_authority_twice_counts_once(void **state)
{
    struct lsn_roster *r = v1_signed_by(NULL, 0);
    Liaison__SignedObject *so = r->so;
    Liaison__Signature *two[2];
    Liaison__SignedObject copy;
    struct lsn_roster *again = NULL;
    uint8_t *enc = NULL;
    size_t n = 0;

    (void)state;
    /* Two entries carrying A's valid signature. */
    assert_int_equal(lsn_signed_sign(so, A.sk), 0);
    two[0] = so->signatures[0];
    two[1] = so->signatures[0];
    copy = *so;
    copy.signatures = two;
    copy.n_signatures = 2;
    assert_int_equal(lsn_pb_encode(&copy.base, &enc, &n), 0);
    assert_int_equal(lsn_roster_parse(enc, n, &again), 0);
    assert_int_equal(again->so->n_signatures, 2);
    assert_int_equal(lsn_roster_verify(again, KF_NOW), LSN_ERR_THRESHOLD);
    free(enc);
    lsn_roster_destroy(&again);
    lsn_roster_destroy(&r);
}

static void
test_roster_outsider_signature_not_counted(void **state)
{
    const struct kf_key *s[] = { &A, &OUTSIDER, &D };
    struct lsn_roster *r = v1_signed_by(s, 3);

    (void)state;
    assert_int_equal(lsn_roster_verify(r, KF_NOW), LSN_ERR_THRESHOLD);
    lsn_roster_destroy(&r);
}

static void
test_roster_org_root_signature_wrong_role(void **state)
{
    /* An org root may not sign a roster: its signature does not count... */
    const struct kf_key *s[] = { &A, &ROOT };
    struct lsn_roster *r = v1_signed_by(s, 2);
    const struct kf_key abr[] = { A, B, ROOT };
    const struct kf_org orgs[] = { { "police", &ROOT } };
    Liaison__Roster body;
    struct lsn_roster *bad = NULL;

    (void)state;
    assert_int_equal(lsn_roster_verify(r, KF_NOW), LSN_ERR_THRESHOLD);
    assert_int_equal(lsn_roster_sign(r, ROOT.sk), LSN_ERR_WRONG_SIGNER);
    /* ...and no roster may make one key both an authority and an org root. */
    struct lsn_roster *tmp = kf_roster(1, abr, 2, 2, orgs, 1, NULL, 0, 0);
    body = *tmp->r;
    ProtobufCBinaryData keys[3] = { { 32, (uint8_t *)A.pk }, { 32, (uint8_t *)B.pk },
                                    { 32, (uint8_t *)ROOT.pk } };
    body.authorities = keys;
    body.n_authorities = 3;
    assert_int_equal(lsn_roster_from_body(&body, &bad), LSN_ERR_WRONG_SIGNER);
    assert_null(bad);
    lsn_roster_destroy(&tmp);
    lsn_roster_destroy(&r);
}

static void
test_roster_tampered_body_refused(void **state)
{
    const struct kf_key *s[] = { &A, &B };
    struct lsn_roster *r = v1_signed_by(s, 2), *t = NULL;
    Liaison__Roster body = *r->r;
    Liaison__SignedObject copy = *r->so;
    uint8_t *b = NULL, *enc = NULL;
    size_t bl = 0, n = 0;

    (void)state;
    /* Same signatures over a body with a later expiry. */
    body.expires += 10 * KF_YEAR;
    assert_int_equal(lsn_pb_encode(&body.base, &b, &bl), 0);
    copy.body = (ProtobufCBinaryData){ bl, b };
    assert_int_equal(lsn_pb_encode(&copy.base, &enc, &n), 0);
    assert_int_equal(lsn_roster_parse(enc, n, &t), 0);
    assert_int_equal(lsn_roster_verify(t, KF_NOW), LSN_ERR_THRESHOLD);
    free(b);
    free(enc);
    lsn_roster_destroy(&t);
    lsn_roster_destroy(&r);
}

static void
test_roster_expired_refused(void **state)
{
    const struct kf_key abc[] = { A, B, C };
    const struct kf_key *s[] = { &A, &B };
    struct lsn_roster *r = kf_roster(1, abc, 3, 2, ORGS, 1, s, 2, KF_NOW + 60);

    (void)state;
    assert_int_equal(lsn_roster_verify(r, KF_NOW), 0);
    assert_int_equal(lsn_roster_verify(r, KF_NOW + 60), LSN_ERR_EXPIRED);
    lsn_roster_destroy(&r);
}

static void
test_roster_succession_needs_both_sets(void **state)
{
    /* v1: {A,B,C} 2-of-3.  v2 replaces C with D: {A,B,D}... make it {C,D}
     * 2-of-2 so the two sets overlap only in C. */
    const struct kf_key abc[] = { A, B, C }, cd[] = { C, D };
    const struct kf_key *s1[] = { &A, &B };
    const struct kf_key *old_only[] = { &A, &B, &C };
    const struct kf_key *new_only[] = { &C, &D };
    const struct kf_key *both[] = { &A, &B, &C, &D };
    struct lsn_roster *v1 = kf_roster(1, abc, 3, 2, ORGS, 1, s1, 2, 0);
    struct lsn_roster *a = kf_roster(2, cd, 2, 2, ORGS, 1, old_only, 3, 0);
    struct lsn_roster *b = kf_roster(2, cd, 2, 2, ORGS, 1, new_only, 2, 0);
    struct lsn_roster *c = kf_roster(2, cd, 2, 2, ORGS, 1, both, 4, 0);

    (void)state;
    assert_int_equal(lsn_roster_verify_next(v1, a, KF_NOW, 1), LSN_ERR_THRESHOLD);
    assert_int_equal(lsn_roster_verify_next(v1, b, KF_NOW, 1), LSN_ERR_THRESHOLD);
    assert_int_equal(lsn_roster_verify_next(v1, c, KF_NOW, 1), 0);
    lsn_roster_destroy(&v1);
    lsn_roster_destroy(&a);
    lsn_roster_destroy(&b);
    lsn_roster_destroy(&c);
}

static void
test_roster_rollback_and_gap_refused(void **state)
{
    const struct kf_key ab[] = { A, B };
    const struct kf_key *s[] = { &A, &B };
    struct lsn_roster *v1 = kf_roster(1, ab, 2, 2, ORGS, 1, s, 2, 0);
    struct lsn_roster *v2 = kf_roster(2, ab, 2, 2, ORGS, 1, s, 2, 0);
    struct lsn_roster *v4 = kf_roster(4, ab, 2, 2, ORGS, 1, s, 2, 0);

    (void)state;
    assert_int_equal(lsn_roster_verify_next(v1, v2, KF_NOW, 1), 0);
    assert_int_equal(lsn_roster_verify_next(v2, v1, KF_NOW, 1), LSN_ERR_ROLLBACK);
    assert_int_equal(lsn_roster_verify_next(v2, v2, KF_NOW, 1), LSN_ERR_ROLLBACK);
    assert_int_equal(lsn_roster_verify_next(v2, v4, KF_NOW, 1), LSN_ERR_CHAIN);
    /* An intermediate step may have expired; the newest may not. */
    assert_int_equal(lsn_roster_verify_next(v1, v2, KF_NOW + 2 * KF_YEAR, 0), 0);
    assert_int_equal(lsn_roster_verify_next(v1, v2, KF_NOW + 2 * KF_YEAR, 1),
                     LSN_ERR_EXPIRED);
    lsn_roster_destroy(&v1);
    lsn_roster_destroy(&v2);
    lsn_roster_destroy(&v4);
}

static void
test_roster_structure_checked(void **state)
{
    const struct kf_key ab[] = { A, B };
    const struct kf_org dup[] = { { "police", &ROOT }, { "police", &C } };
    struct lsn_roster *r = kf_roster(1, ab, 2, 2, ORGS, 1, NULL, 0, 0), *bad = NULL;
    Liaison__Roster body = *r->r;
    Liaison__RosterOrg o = *r->r->orgs[0], *op[2] = { &o, &o };

    (void)state;
    (void)dup;
    body.threshold = 3;                       /* more than authorities */
    assert_int_equal(lsn_roster_from_body(&body, &bad), LSN_ERR_MALFORMED);
    body = *r->r;
    body.orgs = op;
    body.n_orgs = 2;                          /* an org listed twice */
    assert_int_equal(lsn_roster_from_body(&body, &bad), LSN_ERR_MALFORMED);
    body.n_orgs = 1;
    o.id = "Police!";                         /* not [a-z0-9-]{1,32} */
    assert_int_equal(lsn_roster_from_body(&body, &bad), LSN_ERR_BAD_ORG_ID);
    o.id = "a-very-long-org-id-of-thirty-three";
    assert_int_equal(lsn_roster_from_body(&body, &bad), LSN_ERR_BAD_ORG_ID);
    o.id = "police";
    o.relay = "elsewhere";                    /* home relay not listed */
    assert_int_equal(lsn_roster_from_body(&body, &bad), LSN_ERR_MALFORMED);
    {
        Liaison__RosterOrg o2 = *r->r->orgs[0], *two[2] = { r->r->orgs[0], &o2 };
        o2.id = "bank";                       /* another org, the same root */
        body = *r->r;
        body.orgs = two;
        body.n_orgs = 2;
        assert_int_equal(lsn_roster_from_body(&body, &bad), LSN_ERR_WRONG_SIGNER);
        body.n_orgs = 1;
    }
    assert_null(bad);
    lsn_roster_destroy(&r);
}

static void
test_roster_parse_is_strict(void **state)
{
    const struct kf_key ab[] = { A, B };
    const struct kf_key *s[] = { &A, &B };
    struct lsn_roster *r = kf_roster(1, ab, 2, 2, ORGS, 1, s, 2, 0), *t = NULL;
    uint8_t *buf = malloc(r->len + 3);

    (void)state;
    memcpy(buf, r->bytes, r->len);
    /* An unknown field (number 15, varint 1) after the known ones. */
    buf[r->len] = 15 << 3;
    buf[r->len + 1] = 1;
    assert_int_equal(lsn_roster_parse(buf, r->len + 2, &t), LSN_ERR_MALFORMED);
    /* Every truncation fails cleanly: a cut at a field boundary may still
     * parse (fewer signatures), but never verifies. */
    for (size_t n = 0; n < r->len; n++) {
        int rc = lsn_roster_parse(buf, n, &t);
        if (rc == 0) {
            assert_int_not_equal(lsn_roster_verify(t, KF_NOW), 0);
            lsn_roster_destroy(&t);
        }
        assert_null(t);
    }
    free(buf);
    lsn_roster_destroy(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roster_threshold_met_verifies),
        cmocka_unit_test(test_roster_below_threshold_refused),
        cmocka_unit_test(test_roster_same_authority_twice_counts_once),
        cmocka_unit_test(test_roster_outsider_signature_not_counted),
        cmocka_unit_test(test_roster_org_root_signature_wrong_role),
        cmocka_unit_test(test_roster_tampered_body_refused),
        cmocka_unit_test(test_roster_expired_refused),
        cmocka_unit_test(test_roster_succession_needs_both_sets),
        cmocka_unit_test(test_roster_rollback_and_gap_refused),
        cmocka_unit_test(test_roster_structure_checked),
        cmocka_unit_test(test_roster_parse_is_strict),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
