/* test_federation.c: integration tests of federation (docs/relay.md
 * "Federation"): three real liaison-relay processes on free loopback ports, each
 * with its own key and store, orgs homed on different relays, driven
 * through the client library.  Every wait is a bounded poll for a
 * condition; nothing asserts on speed. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "client/relay_client.h"
#include "client/seal.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"
#include "proto/wire.h"
#include "tests/lib/relayfix.h"

#define WAIT_MS  30000      /* upper bound of every poll: never reached when well */
#define FED_CONF "peer_backoff_ms 50\npeer_backoff_max_ms 400\npeer_timeout_ms 3000\n" \
                 "peer_status_wait_ms 3000\nbootstrap_per_minute 600"

static struct rf F;

static int
down(void **state)
{
    (void)state;
    rf_teardown(&F);
    return 0;
}

static void
nap(void)
{
    usleep(50 * 1000);
}

/* o1@r1, o2@r2, o3@r3, o4@r1; all started and published. */
static void
up3(const char *tag, const char *extra)
{
    size_t home[4] = { 0, 1, 2, 0 };
    char conf[512];

    snprintf(conf, sizeof conf, "%s\n%s", FED_CONF, extra != NULL ? extra : "");
    assert_int_equal(rf_setup_fed(&F, tag, 3, home, 4, 2, conf), 0);
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(rf_start_relay(&F, k), 0);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(rf_publish(&F, i), 0);
}

static struct lsn_relay_client *
conn(size_t org, size_t dev)
{
    struct lsn_relay_client *c = NULL;

    assert_int_equal(rf_connect(&F, F.orgs[org].dev[dev], &c), 0);
    return c;
}

/* The version of org's bundle that relay k serves (0: none), asked as
 * device asker (homed on k). */
static uint64_t
bundle_version_at(struct lsn_relay_client *asker, size_t org)
{
    Liaison__DirGetReply *g = NULL;
    struct lsn_bundle *b = NULL;
    uint64_t v = 0;

    if (lsn_relay_client_dir_get(asker, LIAISON__DIR_KIND__DIR_BUNDLE, F.orgs[org].id,
                                 NULL, &g) != 0)
        return 0;
    if (g->n_objects == 1 && lsn_bundle_parse(g->objects[0].data, g->objects[0].len, &b) == 0)
        v = b->b->version;
    lsn_bundle_destroy(&b);
    lsn_pb_free(&g->base);
    return v;
}

/* Waits until every relay serves every org's bundle at version >= v. */
static void
wait_directory(uint64_t v)
{
    for (size_t k = 0; k < 3; k++) {
        size_t asker = k == 0 ? 0 : k;      /* o1@r1, o2@r2, o3@r3 */
        struct lsn_relay_client *c = conn(asker, 0);
        for (size_t i = 0; i < F.n_orgs; i++) {
            int waited = 0;
            while (bundle_version_at(c, i) < (i == 0 ? v : 1)) {
                assert_true(waited < WAIT_MS);
                nap();
                waited += 50;
            }
        }
        lsn_relay_client_close(&c);
    }
}

static int
submit1(struct lsn_relay_client *c, const uint8_t *env, size_t len)
{
    const uint8_t *e[1] = { env };
    int res = 0;

    if (lsn_relay_client_submit(c, e, &len, 1, &res, NULL) != 0)
        return LSN_ERR_TIMEOUT;
    return res;
}

static void
msg_id_of(const uint8_t *env, size_t len, uint8_t id[16])
{
    struct lsn_envelope_info info;

    assert_int_equal(lsn_envelope_peek(env, len, 0, &info), 0);
    memcpy(id, info.msg_id, 16);
}

/* What one device has received: distinct msg_ids, and how often. */
struct seen {
    uint8_t ids[256][16];
    size_t n, total;
};

static int
seen_has(const struct seen *s, const uint8_t id[16])
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->ids[i], id, 16) == 0)
            return 1;
    return 0;
}

/* Fetches and acks everything queued for c (reconnecting if needed). */
static void
drain_into(struct rf *f, size_t org, size_t dev, struct seen *s)
{
    struct lsn_relay_client *c = NULL;
    Liaison__FetchReply *fr = NULL;

    if (rf_connect(f, f->orgs[org].dev[dev], &c) != 0)
        return;
    while (lsn_relay_client_fetch(c, 0, &fr) == 0) {
        size_t n = fr->n_items;
        for (size_t i = 0; i < n; i++) {
            const Liaison__QueueItem *it = fr->items[i];
            const char *o = it->org;
            uint8_t id[1][16];
            if (it->envelope.len == 0 || it->msg_id.len != 16)
                continue;
            memcpy(id[0], it->msg_id.data, 16);
            s->total++;
            if (!seen_has(s, id[0]) && s->n < 256)
                memcpy(s->ids[s->n++], id[0], 16);
            if (lsn_relay_client_ack(c, &o, (const uint8_t (*)[16])id, 1, 0, NULL) != 0)
                n = 0;
        }
        lsn_pb_free(&fr->base);
        fr = NULL;
        if (n == 0)
            break;
    }
    lsn_relay_client_close(&c);
}

/* Polls until device (org, dev) has seen every id in want. */
static void
wait_all(size_t org, size_t dev, struct seen *s, uint8_t (*want)[16], size_t n_want)
{
    for (int waited = 0;; waited += 100) {
        size_t have = 0;
        drain_into(&F, org, dev, s);
        for (size_t i = 0; i < n_want; i++)
            have += seen_has(s, want[i]);
        if (have == n_want)
            return;
        if (waited >= WAIT_MS)
            fail_msg("o%zu/d%zu has %zu of %zu messages after %d ms", org + 1, dev + 1,
                     have, n_want, waited);
        usleep(100 * 1000);
    }
}

/* Nothing in s that is not in want. */
static void
only_these(const struct seen *s, uint8_t (*want)[16], size_t n_want)
{
    for (size_t i = 0; i < s->n; i++) {
        int ok = 0;
        for (size_t j = 0; j < n_want; j++)
            ok |= memcmp(s->ids[i], want[j], 16) == 0;
        assert_true(ok);
    }
}

/* ---------------------------------------------------------- tests */

static void
test_federation_messages_cross_relays_both_ways(void **state)
{
    struct lsn_relay_client *s1, *s2;
    Liaison__StatusReply *st = NULL;
    size_t to_many[3] = { 1, 2, 3 }, to_o1[1] = { 0 };
    uint8_t *e1 = NULL, *e2 = NULL, ids[2][16];
    size_t l1, l2;
    struct seen seen[4][2];

    (void)state;
    memset(seen, 0, sizeof seen);
    up3("fed-cross", NULL);
    wait_directory(1);
    s1 = conn(0, 0);
    s2 = conn(1, 0);
    /* o1@r1 to o2@r2, o3@r3 and o4@r1 at once; o2@r2 back to o1@r1. */
    assert_int_equal(rf_seal(&F, 0, 0, to_many, 3, NULL, 3600, &e1, &l1), 0);
    assert_int_equal(rf_seal(&F, 1, 0, to_o1, 1, NULL, 3600, &e2, &l2), 0);
    msg_id_of(e1, l1, ids[0]);
    msg_id_of(e2, l2, ids[1]);
    assert_int_equal(submit1(s1, e1, l1), 0);
    assert_int_equal(submit1(s2, e2, l2), 0);
    for (size_t d = 0; d < 2; d++) {
        wait_all(1, d, &seen[1][d], ids, 1);
        wait_all(2, d, &seen[2][d], ids, 1);
        wait_all(3, d, &seen[3][d], ids, 1);
        wait_all(0, d, &seen[0][d], ids + 1, 1);
    }
    /* Status at the home relay spans relays: o2 is homed on r2, which
     * acknowledged its copy, and both its devices acked there. */
    for (int waited = 0;; waited += 100) {
        int done = 0;
        assert_int_equal(lsn_relay_client_status(s1, ids[0], &st), 0);
        assert_true(st->known);
        assert_int_equal(st->n_recipients, 3);
        for (size_t i = 0; i < st->n_recipients; i++) {
            const Liaison__RecipientStatus *x = st->recipients[i];
            if (strcmp(x->org, "o4") == 0) {
                assert_string_equal(x->relay, "");
                done += x->delivered == 2;
            } else {
                assert_string_equal(x->relay, strcmp(x->org, "o2") == 0 ? "r2" : "r3");
                done += x->forwarded && x->relay_answered && x->delivered == 2 &&
                        x->devices == 2;
            }
        }
        lsn_pb_free(&st->base);
        if (done == 3)
            break;
        assert_true(waited < WAIT_MS);
        usleep(100 * 1000);
    }
    /* Nothing else arrived anywhere, and the sender's own org got nothing. */
    for (size_t d = 0; d < 2; d++) {
        only_these(&seen[1][d], ids, 1);
        only_these(&seen[0][d], ids + 1, 1);
    }
    lsn_relay_client_close(&s1);
    lsn_relay_client_close(&s2);
    free(e1);
    free(e2);
}

static void
test_federation_key_rotation_reaches_other_relays(void **state)
{
    struct lsn_relay_client *s2;
    size_t to_o1[1] = { 0 };
    const struct lsn_bundle *old[1];
    uint8_t *e = NULL, *stale = NULL, id[1][16];
    size_t l, ls;
    struct seen seen;
    struct lsn_opened *op = NULL;
    struct lsn_relay_client *r1 = NULL;
    Liaison__FetchReply *fr = NULL;

    (void)state;
    memset(&seen, 0, sizeof seen);
    up3("fed-rotate", NULL);
    wait_directory(1);
    /* o1 (homed on r1) rotates its encryption key and publishes at r1. */
    old[0] = F.orgs[0].first;
    assert_int_equal(rf_next_bundle(&F, 0, NULL, 1), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    wait_directory(2);      /* r2 and r3 now serve o1's v2 */
    s2 = conn(1, 0);
    /* A sender on r2 still sealing to the old key is told to refresh. */
    assert_int_equal(rf_seal(&F, 1, 0, to_o1, 1, old, 3600, &stale, &ls), 0);
    assert_int_equal(submit1(s2, stale, ls), LSN_ERR_STALE_KEY);
    /* Sealed to the new key (from r2's copy of the bundle), it crosses to
     * r1 and opens there with the key rotation gave o1's devices. */
    assert_int_equal(rf_seal(&F, 1, 0, to_o1, 1, NULL, 3600, &e, &l), 0);
    msg_id_of(e, l, id[0]);
    assert_int_equal(submit1(s2, e, l), 0);
    for (int waited = 0;; waited += 100) {
        assert_int_equal(rf_connect(&F, F.orgs[0].dev[0], &r1), 0);
        assert_int_equal(lsn_relay_client_fetch(r1, 0, &fr), 0);
        if (fr->n_items > 0)
            break;
        lsn_pb_free(&fr->base);
        lsn_relay_client_close(&r1);
        assert_true(waited < WAIT_MS);
        usleep(100 * 1000);
    }
    assert_int_equal(fr->n_items, 1);
    assert_memory_equal(fr->items[0]->msg_id.data, id[0], 16);
    assert_int_equal(lsn_open(fr->items[0]->envelope.data, fr->items[0]->envelope.len,
                              F.orgs[0].dev[0], F.orgs[1].bundle, lsn_now(), NULL, NULL,
                              &op), 0);
    lsn_opened_destroy(&op);
    lsn_pb_free(&fr->base);
    lsn_relay_client_close(&r1);
    lsn_relay_client_close(&s2);
    free(e);
    free(stale);
}

/* r2 is killed (-9) while r1 and r3 keep taking messages for its orgs;
 * after its restart every acknowledged message reaches every addressed
 * device exactly once after de-duplication, and nothing else does. */
static void
test_federation_partition_kill9_delays_only(void **state)
{
    enum { N = 12 };
    struct lsn_relay_client *s1, *s3;
    size_t to_a[2] = { 1, 2 }, to_b[2] = { 1, 0 };
    uint8_t ids_a[N][16], ids_b[N][16], all_o2[2 * N][16];
    struct seen seen;
    size_t n_a = 0, n_b = 0;

    (void)state;
    up3("fed-partition", NULL);
    wait_directory(1);
    s1 = conn(0, 0);
    s3 = conn(2, 0);
    rf_stop_relay(&F, 1, SIGKILL);
    for (int i = 0; i < N; i++) {
        uint8_t *e = NULL;
        size_t l;
        /* o1@r1 to o2@r2 (down) and o3@r3; o3@r3 to o2@r2 and o1@r1. */
        assert_int_equal(rf_seal(&F, 0, 0, to_a, 2, NULL, 3600, &e, &l), 0);
        if (submit1(s1, e, l) == 0)
            msg_id_of(e, l, ids_a[n_a++]);
        free(e);
        assert_int_equal(rf_seal(&F, 2, 0, to_b, 2, NULL, 3600, &e, &l), 0);
        if (submit1(s3, e, l) == 0)
            msg_id_of(e, l, ids_b[n_b++]);
        free(e);
        if (i == N / 2) {       /* r1 also crashes once, mid-stream */
            rf_stop_relay(&F, 0, SIGKILL);
            assert_int_equal(rf_start_relay(&F, 0), 0);
            lsn_relay_client_close(&s1);
            s1 = conn(0, 0);
        }
    }
    assert_int_equal(n_a, N);       /* the home relays took every one */
    assert_int_equal(n_b, N);
    memcpy(all_o2, ids_a, sizeof ids_a);
    memcpy(all_o2 + N, ids_b, sizeof ids_b);
    /* r3's devices already have o1's messages while r2 is down. */
    for (size_t d = 0; d < 2; d++) {
        memset(&seen, 0, sizeof seen);
        wait_all(2, d, &seen, ids_a, N);
        only_these(&seen, ids_a, N);
    }
    assert_int_equal(rf_start_relay(&F, 1), 0);
    for (size_t d = 0; d < 2; d++) {
        memset(&seen, 0, sizeof seen);
        wait_all(1, d, &seen, all_o2, 2 * N);
        only_these(&seen, all_o2, 2 * N);
        assert_int_equal(seen.n, 2 * N);
        memset(&seen, 0, sizeof seen);
        wait_all(0, d, &seen, ids_b, N);
        only_these(&seen, ids_b, N);
    }
    lsn_relay_client_close(&s1);
    lsn_relay_client_close(&s3);
}

/* A relay refuses a peer's forwards past the peer connection's tokens
 * with one answer for all of them (WireError.also, docs/wire.md): the
 * forwarding relay takes it as a refusal of each and sends them again at
 * once, not after peer_timeout_ms (a minute here) when only the first was
 * taken. */
static void
test_federation_rate_limited_forwards_sent_again(void **state)
{
    enum { N = 40 };
    struct lsn_relay_client *s1;
    size_t to[1] = { 1 };
    uint8_t ids[N][16];
    struct seen seen;

    (void)state;
    memset(&seen, 0, sizeof seen);
    up3("fed-rate", "rate 100\nburst 10\npeer_timeout_ms 60000");
    wait_directory(1);
    rf_stop_relay(&F, 1, SIGTERM);
    s1 = conn(0, 0);
    for (int i = 0; i < N; i++) {
        uint8_t *e = NULL;
        size_t l;
        int rc;
        assert_int_equal(rf_seal(&F, 0, 0, to, 1, NULL, 3600, &e, &l), 0);
        while ((rc = submit1(s1, e, l)) == LSN_ERR_RATE)
            usleep(20 * 1000);
        assert_int_equal(rc, 0);
        msg_id_of(e, l, ids[i]);
        free(e);
    }
    /* r2 comes back to forty forwards in one go, past its ten tokens. */
    assert_int_equal(rf_start_relay(&F, 1), 0);
    wait_all(1, 0, &seen, ids, N);
    only_these(&seen, ids, N);
    lsn_relay_client_close(&s1);
}

/* Sends one relay-to-relay request over a raw connection with key pair
 * (pk, sk) to relay k; returns the answer's code (0: served). */
static int
raw_relay_request(size_t k, const uint8_t pk[32], const uint8_t sk[32],
                  Liaison__Request *req)
{
    struct lsn_wire *w = NULL;
    Liaison__Response *resp = NULL;
    int rc;

    assert_int_equal(lsn_wire_connect(F.relays[k].endpoint, F.relays[k].pk, pk, sk, &w), 0);
    if ((rc = lsn_wire_handshake(w, 5000)) == 0 &&
        (rc = lsn_wire_call(w, req, 5000, &resp)) == 0)
        lsn_pb_free(&resp->base);
    lsn_wire_close(&w);
    return rc;
}

/* 1 if rc refuses an unknown key: at the handshake once the relay's
 * unknown-key budget is spent (DENIED), else at its request. */
static int
unknown_refused(int rc)
{
    return rc == LSN_ERR_DENIED || rc == LSN_ERR_UNPUBLISHED;
}

static void
test_federation_impostors_refused(void **state)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__ForwardRequest fw = LIAISON__FORWARD_REQUEST__INIT;
    Liaison__DirPutRequest ds = LIAISON__DIR_PUT_REQUEST__INIT;
    Liaison__SubmitRequest sub = LIAISON__SUBMIT_REQUEST__INIT;
    size_t to[1] = { 3 };
    uint8_t *e = NULL, xpk[32], xsk[32];
    size_t l;
    const struct lsn_credential *dev;
    struct seen seen;

    (void)state;
    memset(&seen, 0, sizeof seen);
    up3("fed-impostor", NULL);
    wait_directory(1);
    /* An envelope from o1 (homed on r1) to o4 (homed on r1 too). */
    assert_int_equal(rf_seal(&F, 0, 0, to, 1, NULL, 3600, &e, &l), 0);
    fw.envelope = (ProtobufCBinaryData){ l, e };
    req.body_case = LIAISON__REQUEST__BODY_FORWARD;
    req.forward = &fw;
    /* A relay key that the roster does not list. */
    crypto_box_keypair(xpk, xsk);
    assert_true(unknown_refused(raw_relay_request(0, xpk, xsk, &req)));
    /* A client pretending to be a relay: o1's own device key. */
    dev = F.orgs[0].dev[0];
    assert_int_equal(raw_relay_request(0, dev->keys->curve_pk, dev->keys->curve_sk, &req),
                     LSN_ERR_DENIED);
    req.body_case = LIAISON__REQUEST__BODY_DIR_SYNC;
    req.dir_sync = &ds;
    ds.kind = LIAISON__DIR_KIND__DIR_BUNDLE;
    ds.object = (ProtobufCBinaryData){ F.orgs[0].bundle->len, F.orgs[0].bundle->bytes };
    assert_int_equal(raw_relay_request(0, dev->keys->curve_pk, dev->keys->curve_sk, &req),
                     LSN_ERR_DENIED);
    /* A real peer (r2) forwarding a message of an org it is not home to. */
    req.body_case = LIAISON__REQUEST__BODY_FORWARD;
    req.forward = &fw;
    assert_int_equal(raw_relay_request(0, F.relays[1].pk, F.relays[1].sk, &req),
                     LSN_ERR_DENIED);
    /* ... or asking for what only devices may ask. */
    sub.envelope = fw.envelope;
    req.body_case = LIAISON__REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    assert_int_equal(raw_relay_request(0, F.relays[1].pk, F.relays[1].sk, &req),
                     LSN_ERR_DENIED);
    /* A device is served only by its home relay: o2/d1 (r2) at r1. */
    dev = F.orgs[1].dev[0];
    req.body_case = LIAISON__REQUEST__BODY_FETCH;
    {
        Liaison__FetchRequest fr = LIAISON__FETCH_REQUEST__INIT;
        req.fetch = &fr;
        assert_true(unknown_refused(raw_relay_request(0, dev->keys->curve_pk,
                                                      dev->keys->curve_sk, &req)));
    }
    /* None of it was stored: o4 has nothing. */
    drain_into(&F, 3, 0, &seen);
    assert_int_equal(seen.total, 0);
    free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_federation_messages_cross_relays_both_ways, down),
        cmocka_unit_test_teardown(test_federation_key_rotation_reaches_other_relays, down),
        cmocka_unit_test_teardown(test_federation_partition_kill9_delays_only, down),
        cmocka_unit_test_teardown(test_federation_rate_limited_forwards_sent_again, down),
        cmocka_unit_test_teardown(test_federation_impostors_refused, down),
    };

    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
