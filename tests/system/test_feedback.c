/* test_feedback.c: dispositions through a real liaison-relay and real
 * clients, against what a relay or another member could do with them: a
 * feedback altered on its way (any byte) does not open and is not
 * recorded; one signed by an org the message was not sent to, or naming
 * a message the originator never sent, is refused and not recorded; the
 * genuine one is recorded, and the latest per org and indicator wins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "client/client.h"
#include "keys/util.h"
#include "proto/err.h"
#include "tests/lib/relayfix.h"
#include "tests/lib/sealfix.h"

static struct rf F;
static struct lsn_client *C[3];

static int
down(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++)
        lsn_client_close(&C[i]);
    rf_teardown(&F);
    return 0;
}

/* Three orgs with their bundles at the relay, a client of each one's d1. */
static void
up(const char *tag)
{
    char home[PATH_MAX + 32];

    assert_int_equal(rf_setup(&F, tag, 3, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(rf_publish(&F, i), 0);
        assert_int_equal(rf_profile(&F, i, 0, home, sizeof home), 0);
        assert_int_equal(lsn_client_open(home, NULL, &C[i]), 0);
    }
}

/* o1 sends a sample alert (two indicators) to o2, which takes it. */
static void
send_original(uint8_t id[16])
{
    Liaison__Alert a;
    const char *to[1] = { F.orgs[1].id };
    uint8_t *env = NULL;
    size_t len = 0, n = 0;

    sf_alert_sample(&a);
    a.ack = LIAISON__ACK_REQUEST__ACK_NONE;
    assert_int_equal(lsn_client_seal(C[0], &a, to, 1, lsn_now(), 3600, NULL, id,
                                     &env, &len), 0);
    free(env);
    assert_int_equal(lsn_client_submit(C[0], id, NULL), 0);
    assert_int_equal(lsn_client_fetch(C[1], NULL, NULL, NULL, &n), 0);
    assert_int_equal(n, 1);
}

/* A FEEDBACK about (org, id) sealed by client c to org `to`, around the
 * checks lsn_client_feedback makes, and submitted; its envelope in *env. */
static void
seal_feedback(struct lsn_client *c, const char *org, const uint8_t id[16],
              const char *to_org, int disposition, uint8_t fb_id[16], uint8_t **env,
              size_t *len)
{
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    Liaison__Feedback fb = LIAISON__FEEDBACK__INIT;
    const char *to[1] = { to_org };

    ref.org = (char *)org;
    ref.msg_id = (ProtobufCBinaryData){ 16, (uint8_t *)id };
    fb.disposition = disposition;
    fb.at = lsn_now();
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK;
    a.title = "feedback";
    a.in_reply_to = &ref;
    a.feedback = &fb;
    assert_int_equal(lsn_client_seal(c, &a, to, 1, lsn_now(), 3600, NULL, fb_id, env,
                                     len), 0);
    assert_int_equal(lsn_client_submit(c, fb_id, NULL), 0);
}

static size_t
recorded(struct lsn_client *c, const uint8_t id[16])
{
    struct lsn_feedback_latest *v = NULL;
    size_t n = 0;

    assert_int_equal(lsn_client_feedback_latest(c, c->p->cred->org, id, &v, &n), 0);
    free(v);
    return n;
}

/* A relay may hand the originator any bytes: a feedback with one byte
 * changed, wherever, does not open, and nothing is recorded; the genuine
 * one, fetched, is. */
static void
test_feedback_altered_refused(void **state)
{
    struct lsn_feedback_req q = { 0 };
    struct lsn_message *m = NULL;
    Liaison__StoredSent *rec = NULL;
    uint8_t id[16], fb_id[16], *bad;
    char hex[33];
    size_t n = 0;

    (void)state;
    up("feedback-alter");
    send_original(id);
    lsn_hex(hex, id, 16);
    q.prefix = hex;
    q.disposition = LIAISON__DISPOSITION__DISPOSITION_FALSE_POSITIVE;
    q.tlp = LIAISON__TLP__TLP_CLEAR;
    assert_int_equal(lsn_client_feedback(C[1], &q, lsn_now(), fb_id), 0);
    assert_int_equal(lsn_local_get_sent(C[1]->p->store, fb_id, &rec), 0);

    bad = malloc(rec->envelope.len);
    assert_non_null(bad);
    for (size_t at = 0; at < rec->envelope.len; at += 7) {
        memcpy(bad, rec->envelope.data, rec->envelope.len);
        bad[at] ^= 0x01;
        assert_int_not_equal(lsn_client_accept(C[0], bad, rec->envelope.len, lsn_now(),
                                               &m), 0);
        assert_null(m);
        assert_int_equal(recorded(C[0], id), 0);
    }
    free(bad);
    lsn_pb_free((ProtobufCMessage *)rec);

    assert_int_equal(lsn_client_fetch(C[0], NULL, NULL, NULL, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(C[0]->refused, 0);
    assert_int_equal(recorded(C[0], id), 1);
}

/* o3 never received the message: its feedback, signed by o3 and carried
 * by the relay, is refused by the originator; o3 refuses o2's feedback
 * on a message it never received.  A feedback on a message of o1 that
 * this device of o1 did not send (another may have) is taken as a
 * message but recorded against nothing.  Nothing forged is recorded. */
static void
test_feedback_forged_refused(void **state)
{
    struct lsn_message *m = NULL;
    uint8_t id[16], other[16], fb_id[16], *env = NULL;
    size_t len = 0, n = 0;

    (void)state;
    up("feedback-forged");
    send_original(id);

    seal_feedback(C[2], F.orgs[0].id, id, F.orgs[0].id,
                  LIAISON__DISPOSITION__DISPOSITION_FALSE_POSITIVE, fb_id, &env, &len);
    assert_int_equal(lsn_client_accept(C[0], env, len, lsn_now(), &m),
                     LSN_ERR_NOT_RECIPIENT);
    free(env);

    seal_feedback(C[1], F.orgs[0].id, id, F.orgs[2].id,
                  LIAISON__DISPOSITION__DISPOSITION_ACTIONED, fb_id, &env, &len);
    assert_int_equal(lsn_client_accept(C[2], env, len, lsn_now(), &m), LSN_ERR_INVALID);
    free(env);

    randombytes_buf(other, sizeof other);
    seal_feedback(C[1], F.orgs[0].id, other, F.orgs[0].id,
                  LIAISON__DISPOSITION__DISPOSITION_ACTIONED, fb_id, &env, &len);
    free(env);

    /* Through the relay: the forgeries refused for good, nothing recorded. */
    assert_int_equal(lsn_client_fetch(C[0], NULL, NULL, NULL, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(C[0]->refused, 1);
    assert_int_equal(recorded(C[0], id), 0);
    assert_int_equal(recorded(C[0], other), 0);
    assert_int_equal(lsn_client_fetch(C[2], NULL, NULL, NULL, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(C[2]->refused, 1);
}

/* Several dispositions from one org: the latest per indicator counts,
 * and the message as a whole is apart from its indicators. */
static void
test_feedback_latest_per_indicator(void **state)
{
    struct lsn_feedback_req q = { 0 };
    struct lsn_feedback_latest *v = NULL;
    uint32_t one[1] = { 1 }, both[2] = { 1, 2 };
    uint8_t id[16], fb_id[16];
    char hex[33];
    size_t n = 0;

    (void)state;
    up("feedback-latest");
    send_original(id);
    lsn_hex(hex, id, 16);
    q.prefix = hex;
    q.tlp = LIAISON__TLP__TLP_CLEAR;
    q.disposition = LIAISON__DISPOSITION__DISPOSITION_SEEN;
    q.indicators = both;
    q.n_indicators = 2;
    assert_int_equal(lsn_client_feedback(C[1], &q, lsn_now(), fb_id), 0);
    q.disposition = LIAISON__DISPOSITION__DISPOSITION_ACTIONED;
    q.indicators = one;
    q.n_indicators = 1;
    assert_int_equal(lsn_client_feedback(C[1], &q, lsn_now(), fb_id), 0);
    q.disposition = LIAISON__DISPOSITION__DISPOSITION_TRUE_POSITIVE;
    q.n_indicators = 0;
    assert_int_equal(lsn_client_feedback(C[1], &q, lsn_now(), fb_id), 0);
    /* No third indicator: refused before sealing. */
    one[0] = 3;
    q.indicators = one;
    q.n_indicators = 1;
    assert_int_equal(lsn_client_feedback(C[1], &q, lsn_now(), fb_id), LSN_ERR_USAGE);

    assert_int_equal(lsn_client_fetch(C[0], NULL, NULL, NULL, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(lsn_client_feedback_latest(C[0], F.orgs[0].id, id, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].indicator, 0);
    assert_int_equal(v[0].disposition, LIAISON__DISPOSITION__DISPOSITION_TRUE_POSITIVE);
    assert_int_equal(v[1].indicator, 1);
    assert_int_equal(v[1].disposition, LIAISON__DISPOSITION__DISPOSITION_ACTIONED);
    assert_int_equal(v[2].indicator, 2);
    assert_int_equal(v[2].disposition, LIAISON__DISPOSITION__DISPOSITION_SEEN);
    assert_string_equal(v[2].org, F.orgs[1].id);
    free(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_feedback_altered_refused, down),
        cmocka_unit_test_teardown(test_feedback_forged_refused, down),
        cmocka_unit_test_teardown(test_feedback_latest_per_indicator, down),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
