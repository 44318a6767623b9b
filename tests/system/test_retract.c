/* test_retract.c: retraction through a real liaison-relay and real
 * clients.  o1 sends to o2 and o3; o2 forwards to o4; o3 puts its copy
 * under a legal hold; o1 retracts.  Each recipient applies it and says
 * so, o2 passes it on to o4, which applies it too, and o1 records all
 * three; the content keys are gone from the stores of o2 and o4 (read
 * from LMDB, not through the client) and kept in o3's.  Along a chain of
 * forwards (o2 to o3, o3 to o4) the retraction reaches every org, each
 * answering the originator.  A REVOKE from an org other than the
 * originator changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sodium.h>

#include "client/client.h"
#include "include/liaison.h"
#include "keys/util.h"
#include "proto/err.h"
#include "tests/lib/relayfix.h"
#include "tests/lib/sealfix.h"

#define N 4
static struct rf F;
static struct lsn_client *C[N];
static char HOME_[N][PATH_MAX + 32];

static int
down(void **state)
{
    (void)state;
    for (size_t i = 0; i < N; i++)
        lsn_client_close(&C[i]);
    rf_teardown(&F);
    return 0;
}

/* Four orgs: the relay admits three unknown keys at once from one
 * address, so the fourth bundle goes up through a known device. */
static void
publish_through(size_t i, size_t via)
{
    struct lsn_relay_client *rc = NULL;

    assert_int_equal(rf_connect(&F, F.orgs[via].dev[0], &rc), 0);
    assert_int_equal(lsn_relay_client_dir_put(rc, LIAISON__DIR_KIND__DIR_BUNDLE,
                                              F.orgs[i].bundle->bytes,
                                              F.orgs[i].bundle->len, NULL), 0);
    lsn_relay_client_close(&rc);
}

static void
up(const char *tag)
{
    assert_int_equal(rf_setup(&F, tag, N, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    for (size_t i = 0; i < N; i++) {
        if (i < 3)
            assert_int_equal(rf_publish(&F, i), 0);
        else
            publish_through(i, 0);
        assert_int_equal(rf_profile(&F, i, 0, HOME_[i], sizeof HOME_[i]), 0);
        assert_int_equal(lsn_client_open(HOME_[i], NULL, &C[i]), 0);
    }
}

static size_t
fetch(size_t i)
{
    size_t n = 0;

    assert_int_equal(lsn_client_fetch(C[i], NULL, NULL, NULL, &n), 0);
    assert_int_equal(C[i]->refused, 0);
    return n;
}

/* The inbox record of (org, id) in the store of client i, read with LMDB
 * after the client is closed: *key_len its sealed key's length. */
static void
raw_record(size_t i, const char *org, const uint8_t id[16], size_t *key_len,
           int *retracted)
{
    char dir[PATH_MAX + 64];
    MDB_env *env = NULL;
    MDB_txn *t = NULL;
    MDB_dbi db;
    uint8_t k[48];
    MDB_val key = { sizeof k, k }, val;
    Liaison__StoredReceived *rec;

    lsn_client_close(&C[i]);
    snprintf(dir, sizeof dir, "%s/store", HOME_[i]);
    memset(k, 0, sizeof k);
    memcpy(k, org, strlen(org));
    memcpy(k + 32, id, 16);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(mdb_dbi_open(t, "inbox", 0, &db), 0);
    assert_int_equal(mdb_get(t, db, &key, &val), 0);
    rec = liaison__stored_received__unpack(NULL, val.mv_size, val.mv_data);
    assert_non_null(rec);
    *key_len = rec->sealed_key.len;
    *retracted = rec->retracted;
    assert_true(rec->envelope.len > 0);
    liaison__stored_received__free_unpacked(rec, NULL);
    mdb_txn_abort(t);
    mdb_env_close(env);
    assert_int_equal(lsn_client_open(HOME_[i], NULL, &C[i]), 0);
}

struct applied {
    int n, kept[N];
    char org[N][33];
};

static int
applied_one(void *ctx, const char *org, const uint8_t fb_id[16],
            const Liaison__StoredFeedback *rec)
{
    struct applied *x = ctx;

    (void)fb_id;
    if (rec->feedback->disposition == LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED &&
        x->n < N) {
        snprintf(x->org[x->n], sizeof x->org[x->n], "%s", org);
        x->kept[x->n] = rec->feedback->kept;
        x->n++;
    }
    return 0;
}

static void
test_retract_reaches_recipients_and_forwards(void **state)
{
    Liaison__Alert a;
    const char *to[2] = { F.orgs[1].id, F.orgs[2].id };
    const char *fwd_to[1];
    struct lsn_message *m = NULL;
    struct applied ap = { 0 };
    uint8_t id[16], fwd[16], rid[16], *env = NULL;
    char hex[33];
    size_t len = 0, held = 0, key_len = 0;
    int retracted = 0;

    (void)state;
    up("retract");
    to[0] = F.orgs[1].id;
    to[1] = F.orgs[2].id;
    fwd_to[0] = F.orgs[3].id;
    sf_alert_sample(&a);
    a.ack = LIAISON__ACK_REQUEST__ACK_NONE;
    a.tlp = LIAISON__TLP__TLP_GREEN;        /* o2 may forward it */
    assert_int_equal(lsn_client_seal(C[0], &a, to, 2, lsn_now(), 3600, NULL, id,
                                     &env, &len), 0);
    free(env);
    assert_int_equal(lsn_client_submit(C[0], id, NULL), 0);
    lsn_hex(hex, id, 16);
    assert_int_equal(fetch(1), 1);
    assert_int_equal(fetch(2), 1);
    assert_int_equal(lsn_client_forward(C[1], hex, fwd_to, 1, lsn_now(), fwd), 0);
    assert_int_equal(fetch(3), 1);
    assert_int_equal(lsn_client_hold(C[2], hex, "CASE-7", "court order", 1, &held), 0);
    assert_int_equal(held, 1);

    /* Only the sending device retracts. */
    assert_int_equal(lsn_client_retract(C[1], hex, "wrong", lsn_now(), rid),
                     LSN_ERR_NOT_FOUND);
    assert_int_equal(lsn_client_retract(C[0], hex, "sent in error", lsn_now(), rid), 0);

    assert_int_equal(fetch(1), 1);      /* applies, passes on to o4 */
    assert_int_equal(fetch(2), 1);      /* applies, keeps the key */
    assert_int_equal(fetch(3), 1);      /* the passed-on retraction */
    assert_int_equal(fetch(0), 3);      /* three retraction-applied */

    lsn_local_each_feedback(C[0]->p->store, F.orgs[0].id, id, applied_one, &ap);
    assert_int_equal(ap.n, 3);
    for (int i = 0; i < ap.n; i++) {
        if (strcmp(ap.org[i], F.orgs[2].id) == 0)
            assert_true(ap.kept[i]);
        else
            assert_false(ap.kept[i]);
        assert_true(strcmp(ap.org[i], F.orgs[1].id) == 0 ||
                    strcmp(ap.org[i], F.orgs[2].id) == 0 ||
                    strcmp(ap.org[i], F.orgs[3].id) == 0);
    }

    /* In the stores themselves: o2's and o4's keys wiped, o3's kept. */
    raw_record(1, F.orgs[0].id, id, &key_len, &retracted);
    assert_int_equal(key_len, 0);
    assert_true(retracted);
    raw_record(3, F.orgs[1].id, fwd, &key_len, &retracted);
    assert_int_equal(key_len, 0);
    assert_true(retracted);
    raw_record(2, F.orgs[0].id, id, &key_len, &retracted);
    assert_true(key_len > 0);
    assert_true(retracted);

    /* Reading says so: gone at o2, shown retracted and held at o3. */
    assert_int_equal(lsn_client_read(C[1], hex, 0, &m), LSN_ERR_NOT_FOUND);
    assert_non_null(strstr(lsn_detail(), "retracted"));
    assert_int_equal(lsn_client_read(C[2], hex, 0, &m), 0);
    assert_true(m->retracted);
    assert_true(m->held);
    lsn_message_free(&m);
}

struct via {
    char org[N][33], via[N][33];
    int applied[N], n;
};

static int
via_one(void *ctx, const char *org, const char *via, int applied, int kept)
{
    struct via *x = ctx;

    (void)kept;
    if (x->n < N) {
        snprintf(x->org[x->n], sizeof x->org[0], "%s", org);
        snprintf(x->via[x->n], sizeof x->via[0], "%s", via);
        x->applied[x->n++] = applied;
    }
    return 0;
}

/* o1 sends to o2, o2 forwards to o3, o3 forwards that forward to o4; o1
 * retracts.  o2 passes it on to o3, o3 (opening o2's REVOKE to o1's
 * inside) applies it and passes it on to o4, which opens two wrappers
 * and applies it: the keys of both forwards are gone from the stores,
 * and o1 records o4's answer, reached through o3. */
static void
test_retract_reaches_forward_of_forward(void **state)
{
    Liaison__Alert a;
    const char *to[1];
    struct applied ap = { 0 };
    struct via st = { 0 };
    lsn_session *s = NULL;
    uint8_t id[16], fwd1[16], fwd2[16], rid[16], *env = NULL;
    char hex[33], fhex[33];
    size_t len = 0, key_len = 0;
    int retracted = 0, d = -1;

    (void)state;
    up("retract-deep");
    to[0] = F.orgs[1].id;
    sf_alert_sample(&a);
    a.ack = LIAISON__ACK_REQUEST__ACK_NONE;
    a.tlp = LIAISON__TLP__TLP_GREEN;
    assert_int_equal(lsn_client_seal(C[0], &a, to, 1, lsn_now(), 3600, NULL, id,
                                     &env, &len), 0);
    free(env);
    assert_int_equal(lsn_client_submit(C[0], id, NULL), 0);
    lsn_hex(hex, id, 16);
    assert_int_equal(fetch(1), 1);
    to[0] = F.orgs[2].id;
    assert_int_equal(lsn_client_forward(C[1], hex, to, 1, lsn_now(), fwd1), 0);
    assert_int_equal(fetch(2), 1);
    lsn_hex(fhex, fwd1, 16);
    to[0] = F.orgs[3].id;
    assert_int_equal(lsn_client_forward(C[2], fhex, to, 1, lsn_now(), fwd2), 0);
    assert_int_equal(fetch(3), 1);

    assert_int_equal(lsn_client_retract(C[0], hex, "sent in error", lsn_now(), rid), 0);
    assert_int_equal(fetch(1), 1);      /* applies, passes on to o3 */
    assert_int_equal(fetch(2), 1);      /* applies, passes on to o4 */
    assert_int_equal(fetch(3), 1);      /* applies */
    assert_int_equal(fetch(0), 3);      /* three retraction-applied */

    lsn_local_each_feedback(C[0]->p->store, F.orgs[0].id, id, applied_one, &ap);
    assert_int_equal(ap.n, 3);
    for (int i = 0; i < ap.n; i++) {
        assert_false(ap.kept[i]);
        assert_true(strcmp(ap.org[i], F.orgs[1].id) == 0 ||
                    strcmp(ap.org[i], F.orgs[2].id) == 0 ||
                    strcmp(ap.org[i], F.orgs[3].id) == 0);
    }

    /* In the stores: the keys of both forwards wiped. */
    raw_record(2, F.orgs[1].id, fwd1, &key_len, &retracted);
    assert_int_equal(key_len, 0);
    assert_true(retracted);
    raw_record(3, F.orgs[2].id, fwd2, &key_len, &retracted);
    assert_int_equal(key_len, 0);
    assert_true(retracted);

    /* The originator's status: o4 applied it, reached through o3. */
    lsn_client_close(&C[0]);
    assert_int_equal(lsn_session_open(HOME_[0], NULL, &s), 0);
    assert_int_equal(lsn_session_retraction_status(s, hex, via_one, &st), 0);
    lsn_session_close(&s);
    assert_int_equal(st.n, 3);
    d = -1;
    for (int i = 0; i < st.n; i++) {
        assert_true(st.applied[i]);
        if (strcmp(st.org[i], F.orgs[3].id) == 0)
            d = i;
    }
    assert_true(d >= 0);
    assert_string_equal(st.via[d], F.orgs[2].id);
}

/* o1 sends to o2, o2 forwards to o3, o3 forwards that to o4; o1
 * retracts.  o3, which never received o1's REVOKE, wraps it (taken from
 * o2's store) in a REVOKE of its own to o4: o4 applies nothing, as o3 is
 * not a recipient of what it wraps.  The retraction passed on along the
 * forwards then reaches o4 all the same. */
static void
test_retract_wrapper_from_non_recipient_refused(void **state)
{
    Liaison__Alert a, w = LIAISON__ALERT__INIT;
    Liaison__Forwarded f = LIAISON__FORWARDED__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    struct lsn_local_msg *r1 = NULL;
    const char *to[1];
    uint8_t id[16], fwd1[16], fwd2[16], rid[16], wid[16], *env = NULL;
    char hex[33], fhex[33];
    size_t len = 0, key_len = 0;
    int retracted = 0;

    (void)state;
    up("retract-forged");
    to[0] = F.orgs[1].id;
    sf_alert_sample(&a);
    a.ack = LIAISON__ACK_REQUEST__ACK_NONE;
    a.tlp = LIAISON__TLP__TLP_GREEN;
    assert_int_equal(lsn_client_seal(C[0], &a, to, 1, lsn_now(), 3600, NULL, id,
                                     &env, &len), 0);
    free(env);
    assert_int_equal(lsn_client_submit(C[0], id, NULL), 0);
    lsn_hex(hex, id, 16);
    assert_int_equal(fetch(1), 1);
    to[0] = F.orgs[2].id;
    assert_int_equal(lsn_client_forward(C[1], hex, to, 1, lsn_now(), fwd1), 0);
    assert_int_equal(fetch(2), 1);
    lsn_hex(fhex, fwd1, 16);
    to[0] = F.orgs[3].id;
    assert_int_equal(lsn_client_forward(C[2], fhex, to, 1, lsn_now(), fwd2), 0);
    assert_int_equal(fetch(3), 1);
    assert_int_equal(lsn_client_retract(C[0], hex, "sent in error", lsn_now(), rid), 0);
    assert_int_equal(fetch(1), 1);      /* applies, passes on to o3 */

    assert_int_equal(lsn_local_get_received(C[1]->p->store, F.orgs[0].id, rid, &r1), 0);
    ref.org = F.orgs[0].id;
    ref.msg_id = (ProtobufCBinaryData){ 16, id };
    w.type = LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE;
    w.title = "retraction";
    w.body = "sent in error";
    w.supersedes = &ref;
    f.envelope = (ProtobufCBinaryData){ r1->len, r1->envelope };
    f.key = (ProtobufCBinaryData){ 32, r1->key };
    w.forwarded = &f;
    to[0] = F.orgs[3].id;
    assert_int_equal(lsn_client_seal(C[2], &w, to, 1, lsn_now(), 3600, NULL, wid, &env,
                                     &len), 0);
    free(env);
    lsn_local_msg_free(&r1);
    assert_int_equal(lsn_client_submit(C[2], wid, NULL), 0);
    assert_int_equal(fetch(3), 1);
    raw_record(3, F.orgs[2].id, fwd2, &key_len, &retracted);
    assert_true(key_len > 0);
    assert_false(retracted);

    assert_int_equal(fetch(2), 1);      /* o2's REVOKE: applies, passes on */
    assert_int_equal(fetch(3), 1);
    raw_record(3, F.orgs[2].id, fwd2, &key_len, &retracted);
    assert_int_equal(key_len, 0);
    assert_true(retracted);
}

/* A REVOKE naming o1's message, sent by o2 (not the originator, and with
 * no originator's REVOKE inside), is taken as a message and applied to
 * nothing. */
static void
test_retract_only_by_originator(void **state)
{
    Liaison__Alert a = LIAISON__ALERT__INIT, s;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    const char *to[2] = { NULL, NULL };
    uint8_t id[16], rid[16], *env = NULL;
    size_t len = 0, key_len = 0;
    int retracted = 0;

    (void)state;
    up("retract-other");
    to[0] = F.orgs[1].id;
    to[1] = F.orgs[2].id;
    sf_alert_sample(&s);
    s.ack = LIAISON__ACK_REQUEST__ACK_NONE;
    assert_int_equal(lsn_client_seal(C[0], &s, to, 2, lsn_now(), 3600, NULL, id,
                                     &env, &len), 0);
    free(env);
    assert_int_equal(lsn_client_submit(C[0], id, NULL), 0);
    assert_int_equal(fetch(2), 1);

    ref.org = F.orgs[0].id;
    ref.msg_id = (ProtobufCBinaryData){ 16, id };
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE;
    a.title = "retraction";
    a.body = "forged";
    a.supersedes = &ref;
    to[0] = F.orgs[2].id;
    assert_int_equal(lsn_client_seal(C[1], &a, to, 1, lsn_now(), 3600, NULL, rid,
                                     &env, &len), 0);
    free(env);
    assert_int_equal(lsn_client_submit(C[1], rid, NULL), 0);
    assert_int_equal(fetch(2), 1);
    raw_record(2, F.orgs[0].id, id, &key_len, &retracted);
    assert_true(key_len > 0);
    assert_false(retracted);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_retract_reaches_recipients_and_forwards, down),
        cmocka_unit_test_teardown(test_retract_only_by_originator, down),
        cmocka_unit_test_teardown(test_retract_reaches_forward_of_forward, down),
        cmocka_unit_test_teardown(test_retract_wrapper_from_non_recipient_refused, down),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
