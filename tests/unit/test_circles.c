/* test_circles.c: circles of member orgs.  In the roster: signed and
 * verified with the rest of it, a changed circle needing K signatures
 * again (alone and as the next version a client follows), bad names,
 * members and counts refused.  In an alert: the circle field validated
 * and carried through encode and decode.  On forward: TLP:GREEN sent to
 * circles stays within their members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "client/alert.h"
#include "client/client.h"
#include "keys/roster.h"
#include "keys/util.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"

static struct kf_key A, B, R1, R2, R3, R4;
static struct kf_org ORGS[4];

static int
setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    kf_key(&A, 1); kf_key(&B, 2);
    kf_key(&R1, 21); kf_key(&R2, 22); kf_key(&R3, 23); kf_key(&R4, 24);
    ORGS[0] = (struct kf_org){ "hq", &R1 };
    ORGS[1] = (struct kf_org){ "paypal", &R2 };
    ORGS[2] = (struct kf_org){ "mastercard", &R3 };
    ORGS[3] = (struct kf_org){ "police", &R4 };
    return 0;
}

/* Version v of the 2-of-2 roster of ORGS, unsigned. */
static struct lsn_roster *
base(uint64_t v)
{
    const struct kf_key ab[] = { A, B };
    return kf_roster(v, ab, 2, 2, ORGS, 4, NULL, 0, 0);
}

/* base(v)'s body with circles[0..n) added, as a new unsigned roster;
 * *rc gets lsn_roster_from_body's result (NULL roster on failure). */
static struct lsn_roster *
with_circles(uint64_t v, Liaison__RosterCircle **circles, size_t n, int *rc)
{
    struct lsn_roster *b = base(v), *out = NULL;
    Liaison__Roster body = *b->r;

    body.circles = circles;
    body.n_circles = n;
    *rc = lsn_roster_from_body(&body, &out);
    lsn_roster_destroy(&b);
    return out;
}

static void
circle_init(Liaison__RosterCircle *c, const char *name, char **orgs, size_t n)
{
    liaison__roster_circle__init(c);
    c->name = (char *)name;
    c->display = "";
    c->orgs = orgs;
    c->n_orgs = n;
}

static void
sign_both(struct lsn_roster *r)
{
    assert_int_equal(lsn_roster_sign(r, A.sk), 0);
    assert_int_equal(lsn_roster_sign(r, B.sk), 0);
}

static void
test_roster_circle_signs_and_verifies(void **state)
{
    char *m[] = { "paypal", "mastercard" };
    Liaison__RosterCircle c, *cp[] = { &c };
    struct lsn_roster *r, *again = NULL;
    const Liaison__RosterCircle *f;
    int rc;

    (void)state;
    circle_init(&c, "payments-eu", m, 2);
    c.display = "Payments EU";
    r = with_circles(1, cp, 1, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(lsn_roster_verify(r, KF_NOW), LSN_ERR_THRESHOLD);
    sign_both(r);
    assert_int_equal(lsn_roster_verify(r, KF_NOW), 0);
    /* The bytes carry the circle: parsed again, it is all there. */
    assert_int_equal(lsn_roster_parse(r->bytes, r->len, &again), 0);
    assert_int_equal(lsn_roster_verify(again, KF_NOW), 0);
    assert_non_null(f = lsn_roster_find_circle(again, "payments-eu"));
    assert_string_equal(f->display, "Payments EU");
    assert_int_equal(f->n_orgs, 2);
    assert_string_equal(f->orgs[1], "mastercard");
    assert_null(lsn_roster_find_circle(again, "payments"));
    lsn_roster_destroy(&again);
    lsn_roster_destroy(&r);
}

/* A circle changed in a signed roster's body while its signatures are
 * kept: they covered the old body, so it is below the threshold. */
static void
test_roster_circle_changed_under_signatures_refused(void **state)
{
    char *m[] = { "paypal" }, *m2[] = { "paypal", "police" };
    Liaison__RosterCircle c, *cp[] = { &c };
    Liaison__SignedObject so;
    struct lsn_roster *r, *forged = NULL;
    Liaison__Roster body;
    uint8_t *bbuf, *sbuf;
    size_t blen, slen;
    int rc;

    (void)state;
    circle_init(&c, "payments-eu", m, 1);
    r = with_circles(1, cp, 1, &rc);
    assert_int_equal(rc, 0);
    sign_both(r);
    assert_int_equal(lsn_roster_verify(r, KF_NOW), 0);
    body = *r->r;
    c.orgs = m2;
    c.n_orgs = 2;
    body.circles = cp;
    body.n_circles = 1;
    blen = liaison__roster__get_packed_size(&body);
    assert_non_null(bbuf = malloc(blen));
    liaison__roster__pack(&body, bbuf);
    so = *r->so;
    so.body = (ProtobufCBinaryData){ blen, bbuf };
    slen = liaison__signed_object__get_packed_size(&so);
    assert_non_null(sbuf = malloc(slen));
    liaison__signed_object__pack(&so, sbuf);
    assert_int_equal(lsn_roster_parse(sbuf, slen, &forged), 0);
    assert_int_equal(forged->r->circles[0]->n_orgs, 2);
    assert_int_equal(lsn_roster_verify(forged, KF_NOW), LSN_ERR_THRESHOLD);
    lsn_roster_destroy(&forged);
    free(sbuf);
    free(bbuf);
    lsn_roster_destroy(&r);
}

/* The next version with a circle, as a client pinning v1 follows it:
 * one signature of two is refused, two are taken. */
static void
test_roster_circle_edit_needs_threshold_to_follow(void **state)
{
    char *m[] = { "paypal", "mastercard" };
    Liaison__RosterCircle c, *cp[] = { &c };
    struct lsn_roster *v1 = base(1), *v2;
    int rc;

    (void)state;
    sign_both(v1);
    assert_int_equal(lsn_roster_verify(v1, KF_NOW), 0);
    circle_init(&c, "payments-eu", m, 2);
    v2 = with_circles(2, cp, 1, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(lsn_roster_verify_next(v1, v2, KF_NOW, 1), LSN_ERR_THRESHOLD);
    assert_int_equal(lsn_roster_sign(v2, A.sk), 0);
    assert_int_equal(lsn_roster_verify_next(v1, v2, KF_NOW, 1), LSN_ERR_THRESHOLD);
    assert_int_equal(lsn_roster_sign(v2, B.sk), 0);
    assert_int_equal(lsn_roster_verify_next(v1, v2, KF_NOW, 1), 0);
    lsn_roster_destroy(&v2);
    lsn_roster_destroy(&v1);
}

/* One circle: want is lsn_roster_from_body's result. */
static void
one_circle(const char *name, char **orgs, size_t n, int want)
{
    Liaison__RosterCircle c, *cp[] = { &c };
    struct lsn_roster *r;
    int rc;

    circle_init(&c, name, orgs, n);
    r = with_circles(1, cp, 1, &rc);
    assert_int_equal(rc, want);
    if (want != 0)
        assert_null(r);
    lsn_roster_destroy(&r);
}

static void
test_roster_circle_bad_names_refused(void **state)
{
    char *m[] = { "paypal" };

    (void)state;
    one_circle("payments-eu", m, 1, 0);
    one_circle("", m, 1, LSN_ERR_MALFORMED);
    one_circle("Payments", m, 1, LSN_ERR_MALFORMED);
    one_circle("pay.eu", m, 1, LSN_ERR_MALFORMED);
    one_circle("pay eu", m, 1, LSN_ERR_MALFORMED);
    one_circle("circle:pay", m, 1, LSN_ERR_MALFORMED);
    one_circle("abcdefghijklmnopqrstuvwxyz0123456", m, 1, LSN_ERR_MALFORMED);
    one_circle("abcdefghijklmnopqrstuvwxyz012345", m, 1, 0);
}

static void
test_roster_circle_bad_members_refused(void **state)
{
    char *unknown[] = { "paypal", "nobody" }, *twice[] = { "paypal", "paypal" };
    char *many[LSN_ROSTER_CIRCLE_MAX_ORGS + 1];

    (void)state;
    one_circle("c", unknown, 2, LSN_ERR_MALFORMED);
    assert_non_null(strstr(lsn_detail(), "nobody"));
    one_circle("c", twice, 2, LSN_ERR_MALFORMED);
    one_circle("c", NULL, 0, LSN_ERR_MALFORMED);
    for (size_t i = 0; i <= LSN_ROSTER_CIRCLE_MAX_ORGS; i++)
        many[i] = "paypal";
    one_circle("c", many, LSN_ROSTER_CIRCLE_MAX_ORGS + 1, LSN_ERR_LIMIT);
}

static void
test_roster_circle_counts_and_duplicates_refused(void **state)
{
    char *m[] = { "paypal" };
    char names[LSN_ROSTER_MAX_CIRCLES + 1][8];
    Liaison__RosterCircle c[LSN_ROSTER_MAX_CIRCLES + 1];
    Liaison__RosterCircle *cp[LSN_ROSTER_MAX_CIRCLES + 1];
    struct lsn_roster *r;
    int rc;

    (void)state;
    for (size_t i = 0; i <= LSN_ROSTER_MAX_CIRCLES; i++) {
        snprintf(names[i], sizeof names[i], "c%zu", i);
        circle_init(&c[i], names[i], m, 1);
        cp[i] = &c[i];
    }
    r = with_circles(1, cp, LSN_ROSTER_MAX_CIRCLES, &rc);
    assert_int_equal(rc, 0);
    lsn_roster_destroy(&r);
    r = with_circles(1, cp, LSN_ROSTER_MAX_CIRCLES + 1, &rc);
    assert_int_equal(rc, LSN_ERR_LIMIT);
    assert_null(r);
    c[1].name = "c0";
    r = with_circles(1, cp, 2, &rc);
    assert_int_equal(rc, LSN_ERR_MALFORMED);
    assert_null(r);
}

/* ---------------------------------------------------------------- alert */

static Liaison__Alert
alert_to(Liaison__AlertCircle **cp, size_t n, Liaison__Tlp tlp)
{
    Liaison__Alert a = LIAISON__ALERT__INIT;

    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT;
    a.title = "card fraud ring";
    a.tlp = tlp;
    a.circles = cp;
    a.n_circles = n;
    return a;
}

static void
alert_circle_init(Liaison__AlertCircle *c, const char *name, char **orgs, size_t n)
{
    liaison__alert_circle__init(c);
    c->name = (char *)name;
    c->orgs = orgs;
    c->n_orgs = n;
}

static void
test_alert_circle_round_trip(void **state)
{
    char *m[] = { "hq", "paypal", "mastercard" };
    Liaison__AlertCircle c, *cp[] = { &c };
    Liaison__Alert a, *d = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;

    (void)state;
    alert_circle_init(&c, "payments-eu", m, 3);
    a = alert_to(cp, 1, LIAISON__TLP__TLP_GREEN);
    assert_int_equal(lsn_alert_encode(&a, &buf, &len), 0);
    assert_int_equal(lsn_alert_decode(buf, len, &d), 0);
    assert_int_equal(d->n_circles, 1);
    assert_string_equal(d->circles[0]->name, "payments-eu");
    assert_int_equal(d->circles[0]->n_orgs, 3);
    assert_string_equal(d->circles[0]->orgs[2], "mastercard");
    lsn_pb_free(&d->base);
    free(buf);
}

/* The known-answer encoding docs/protocol.md "Circles" gives. */
static void
test_alert_circle_vector(void **state)
{
    static const char want[] =
        "0801" "120448697473" "2002"
        "a20112" "0a08686f746c696e6573" "1206706f6c696365";
    char *m[] = { "police" };
    Liaison__AlertCircle c, *cp[] = { &c };
    Liaison__Alert a;
    uint8_t *buf = NULL;
    size_t len = 0;
    char hex[128];

    (void)state;
    alert_circle_init(&c, "hotlines", m, 1);
    a = alert_to(cp, 1, LIAISON__TLP__TLP_GREEN);
    a.title = "Hits";
    assert_int_equal(lsn_alert_encode(&a, &buf, &len), 0);
    assert_true(len * 2 < sizeof hex);
    lsn_hex(hex, buf, len);
    assert_string_equal(hex, want);
    free(buf);
}

static void
test_alert_circle_bad_refused(void **state)
{
    char *m[] = { "paypal" }, *twice[] = { "paypal", "paypal" }, *bad[] = { "Pay" };
    char *many[LSN_ALERT_CIRCLE_MAX_ORGS + 1], names[LSN_ALERT_MAX_CIRCLES + 1][8];
    Liaison__AlertCircle c[LSN_ALERT_MAX_CIRCLES + 1], *cp[LSN_ALERT_MAX_CIRCLES + 1];
    Liaison__Alert a;

    (void)state;
    for (size_t i = 0; i <= LSN_ALERT_MAX_CIRCLES; i++) {
        snprintf(names[i], sizeof names[i], "c%zu", i);
        alert_circle_init(&c[i], names[i], m, 1);
        cp[i] = &c[i];
    }
    a = alert_to(cp, LSN_ALERT_MAX_CIRCLES, LIAISON__TLP__TLP_GREEN);
    assert_int_equal(lsn_alert_validate(&a), 0);
    a = alert_to(cp, LSN_ALERT_MAX_CIRCLES + 1, LIAISON__TLP__TLP_GREEN);
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_LIMIT);
    a = alert_to(cp, 1, LIAISON__TLP__TLP_GREEN);
    c[0].name = "Pay";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    c[0].name = "c0";
    c[1].name = "c0";
    a = alert_to(cp, 2, LIAISON__TLP__TLP_GREEN);
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a = alert_to(cp, 1, LIAISON__TLP__TLP_GREEN);
    alert_circle_init(&c[0], "c0", twice, 2);
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    alert_circle_init(&c[0], "c0", bad, 1);
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    alert_circle_init(&c[0], "c0", NULL, 0);
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    for (size_t i = 0; i <= LSN_ALERT_CIRCLE_MAX_ORGS; i++)
        many[i] = "paypal";
    alert_circle_init(&c[0], "c0", many, LSN_ALERT_CIRCLE_MAX_ORGS + 1);
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_LIMIT);
}

static void
test_alert_receipt_never_to_a_circle(void **state)
{
    char *m[] = { "paypal" };
    Liaison__AlertCircle c, *cp[] = { &c };
    Liaison__Receipt rc = LIAISON__RECEIPT__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    uint8_t id[16] = { 1 };
    Liaison__Alert a;

    (void)state;
    alert_circle_init(&c, "payments-eu", m, 1);
    a = alert_to(NULL, 0, LIAISON__TLP__TLP_AMBER);
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT;
    ref.org = "hq";
    ref.msg_id = (ProtobufCBinaryData){ 16, id };
    a.in_reply_to = &ref;
    rc.kind = LIAISON__RECEIPT_KIND__RECEIPT_DELIVERED;
    rc.device = "analyst";
    a.receipt = &rc;
    assert_int_equal(lsn_alert_validate(&a), 0);
    a.circles = cp;
    a.n_circles = 1;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
}

/* -------------------------------------------------------------- forward */

static void
test_forward_green_stays_in_circle(void **state)
{
    char *m[] = { "hq", "paypal", "mastercard" }, *m2[] = { "police" };
    Liaison__AlertCircle c[2], *cp[] = { &c[0], &c[1] };
    Liaison__Alert a;

    (void)state;
    alert_circle_init(&c[0], "payments-eu", m, 3);
    alert_circle_init(&c[1], "police-eu", m2, 1);
    a = alert_to(cp, 1, LIAISON__TLP__TLP_GREEN);
    assert_int_equal(lsn_client_circle_allows(&a, "paypal", "mastercard"), 0);
    assert_int_equal(lsn_client_circle_allows(&a, "paypal", "hq"), 0);
    assert_int_equal(lsn_client_circle_allows(&a, "paypal", "paypal"), 0);
    assert_int_equal(lsn_client_circle_allows(&a, "paypal", "police"), LSN_ERR_LIMIT);
    assert_non_null(strstr(lsn_detail(), "circle `payments-eu`"));
    assert_non_null(strstr(lsn_detail(), "`police` is not a member"));
    /* Two circles: their members together are the community. */
    a = alert_to(cp, 2, LIAISON__TLP__TLP_GREEN);
    assert_int_equal(lsn_client_circle_allows(&a, "paypal", "police"), 0);
    assert_int_equal(lsn_client_circle_allows(&a, "paypal", "interpol"), LSN_ERR_LIMIT);
    /* GREEN without a circle: the coalition, as the TLP rule says. */
    a = alert_to(NULL, 0, LIAISON__TLP__TLP_GREEN);
    assert_int_equal(lsn_client_circle_allows(&a, "paypal", "police"), 0);
    /* CLEAR is unrestricted; AMBER and RED are the TLP rule's. */
    a = alert_to(cp, 1, LIAISON__TLP__TLP_CLEAR);
    assert_int_equal(lsn_client_circle_allows(&a, "paypal", "police"), 0);
    a = alert_to(cp, 1, LIAISON__TLP__TLP_AMBER);
    assert_int_equal(lsn_client_circle_allows(&a, "paypal", "police"), 0);
    assert_int_equal(lsn_client_tlp_allows(a.tlp, "paypal", "police"), LSN_ERR_LIMIT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roster_circle_signs_and_verifies),
        cmocka_unit_test(test_roster_circle_changed_under_signatures_refused),
        cmocka_unit_test(test_roster_circle_edit_needs_threshold_to_follow),
        cmocka_unit_test(test_roster_circle_bad_names_refused),
        cmocka_unit_test(test_roster_circle_bad_members_refused),
        cmocka_unit_test(test_roster_circle_counts_and_duplicates_refused),
        cmocka_unit_test(test_alert_circle_round_trip),
        cmocka_unit_test(test_alert_circle_vector),
        cmocka_unit_test(test_alert_circle_bad_refused),
        cmocka_unit_test(test_alert_receipt_never_to_a_circle),
        cmocka_unit_test(test_forward_green_stays_in_circle),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
