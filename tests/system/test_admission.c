/* test_admission.c: what a relay admits, judged at the relay (docs/relay.md
 * "Admission"): forwards and submits whose sender its held bundles do not
 * vouch for, an org whose bundle has expired, key deliveries past the
 * 64 a directory get returns, and the bootstrap budget for unknown keys
 * shared by source address.  Real liaison-relay processes on loopback
 * ports; a hostile peer relay played by tests/lib/peerfix.  Every wait is
 * a bounded poll; nothing asserts on speed. */
#include <setjmp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "client/relay_client.h"
#include "keys/bundle.h"
#include "keys/delivery.h"
#include "keys/keyfile.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"
#include "proto/wire.h"
#include "tests/lib/peerfix.h"
#include "tests/lib/relayfix.h"

#define JUNK 64

static struct rf F;

static int
down(void **state)
{
    (void)state;
    rf_teardown(&F);
    return 0;
}

static void
msg_id_of(const uint8_t *env, size_t len, uint8_t id[16])
{
    struct lsn_envelope_info info;

    assert_int_equal(lsn_envelope_peek(env, len, 0, &info), 0);
    memcpy(id, info.msg_id, 16);
}

/* Submits env as credential c over a raw connection to relay k: the
 * answer's code, the relay's sentence in msg. */
static int
submit_raw(size_t k, const struct lsn_credential *c, const uint8_t *env, size_t len,
           char *msg, size_t msg_size)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__SubmitRequest sub = LIAISON__SUBMIT_REQUEST__INIT;
    Liaison__Response *resp = NULL;
    struct lsn_wire *w = NULL;
    int rc;

    assert_int_equal(lsn_wire_connect(F.relays[k].endpoint, F.relays[k].pk,
                                      c->keys->curve_pk, c->keys->curve_sk, &w), 0);
    sub.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
    req.body_case = LIAISON__REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    if ((rc = lsn_wire_handshake(w, 10000)) == 0)
        rc = lsn_wire_call(w, &req, 10000, &resp);
    snprintf(msg, msg_size, "%s", lsn_wire_message(w));
    if (resp != NULL)
        lsn_pb_free(&resp->base);
    lsn_wire_close(&w);
    return rc;
}

static int
file_has(const char *path, const char *text)
{
    char buf[4096];
    size_t n;
    FILE *fp = fopen(path, "r");

    if (fp == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

/* ---------------------------------------------------------- case 1 */

/* A peer relay in the roster forwards 64 envelopes "from" o2, homed on it,
 * which never published a bundle, to o1; and one from o4/d2, a device
 * that o4's bundle does not list.  The receiving relay refuses each for
 * good, so nothing of it waits in o1's queue: an alert o3 sends next is
 * the first thing o1/d1 fetches. */
static void
test_admission_junk_forward_refused(void **state)
{
    size_t home[4] = { 0, 1, 0, 1 }, to[1] = { 0 };
    struct lsn_relay_client *c = NULL;
    struct lsn_wire *w = NULL;
    Liaison__FetchReply *fr = NULL;
    uint8_t *e = NULL, real_id[16], fwd_id[16];
    size_t l;
    int found_real = 0, found_fwd = 0, res = 0;

    (void)state;
    /* o1, o3 on r1 (running); o2, o4 on r2 (never started: the test is r2). */
    assert_int_equal(rf_setup_fed(&F, "adm-junk", 2, home, 4, 2, NULL), 0);
    assert_int_equal(rf_start_relay(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 2), 0);
    assert_int_equal(pf_connect(&F, 1, 0, &w), 0);
    for (int i = 0; i < JUNK; i++) {
        assert_int_equal(rf_seal(&F, 1, 0, to, 1, NULL, 3600, &e, &l), 0);
        assert_int_equal(pf_forward(w, e, l), LSN_ERR_UNKNOWN_DEVICE);
        free(e);
        e = NULL;
    }
    assert_non_null(strstr(lsn_wire_message(w), "no bundle"));
    /* o4's bundle without d2, synced as its home relay would. */
    assert_int_equal(rf_next_bundle(&F, 3, "d2", 0), 0);
    assert_int_equal(pf_dir_sync(w, LIAISON__DIR_KIND__DIR_BUNDLE, F.orgs[3].bundle->bytes,
                                 F.orgs[3].bundle->len), 0);
    assert_int_equal(rf_seal(&F, 3, 1, to, 1, NULL, 3600, &e, &l), 0);
    assert_int_equal(pf_forward(w, e, l), LSN_ERR_UNKNOWN_DEVICE);
    assert_non_null(strstr(lsn_wire_message(w), "o4/d2"));
    free(e);
    /* ... while o4/d1, which it lists, is forwarded as ever. */
    assert_int_equal(rf_seal(&F, 3, 0, to, 1, NULL, 3600, &e, &l), 0);
    msg_id_of(e, l, fwd_id);
    assert_int_equal(pf_forward(w, e, l), 0);
    free(e);
    lsn_wire_close(&w);
    /* o3's real alert. */
    assert_int_equal(rf_connect(&F, F.orgs[2].dev[0], &c), 0);
    assert_int_equal(rf_seal(&F, 2, 0, to, 1, NULL, 3600, &e, &l), 0);
    msg_id_of(e, l, real_id);
    assert_int_equal(lsn_relay_client_submit(c, (const uint8_t *const *)&e, &l, 1, &res,
                                             NULL), 0);
    assert_int_equal(res, 0);
    free(e);
    lsn_relay_client_close(&c);
    /* One fetch of at most 2 items holds both: nothing waits before them. */
    assert_int_equal(rf_connect(&F, F.orgs[0].dev[0], &c), 0);
    assert_int_equal(lsn_relay_client_fetch(c, 2, &fr), 0);
    assert_int_equal(fr->queued, 2);
    for (size_t i = 0; i < fr->n_items; i++) {
        found_real |= fr->items[i]->msg_id.len == 16 &&
                      memcmp(fr->items[i]->msg_id.data, real_id, 16) == 0;
        found_fwd |= fr->items[i]->msg_id.len == 16 &&
                     memcmp(fr->items[i]->msg_id.data, fwd_id, 16) == 0;
    }
    assert_true(found_real);
    assert_true(found_fwd);
    lsn_pb_free(&fr->base);
    lsn_relay_client_close(&c);
}

/* The honest side: o1/d1's message to o2 waits at r1 while r2 is down;
 * meanwhile o1's bundle drops d1.  When r2 returns, r1 syncs the
 * directory and forwards; r2 refuses the sender device for good, and r1
 * marks the copy dropped (the sender's status says so) instead of
 * resending it for ever. */
static void
test_admission_forward_refusal_is_final(void **state)
{
    size_t home[2] = { 0, 1 }, to[1] = { 1 };
    struct lsn_relay_client *c = NULL;
    Liaison__StatusReply *st = NULL;
    uint8_t *e = NULL, id[16];
    size_t l;
    int res = 0, dropped = 0;

    (void)state;
    assert_int_equal(rf_setup_fed(&F, "adm-final", 2, home, 2, 2,
                                  "peer_backoff_ms 50\npeer_backoff_max_ms 400\n"
                                  "peer_timeout_ms 3000\npeer_status_wait_ms 1000"), 0);
    assert_int_equal(rf_start_relay(&F, 0), 0);
    assert_int_equal(rf_start_relay(&F, 1), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_connect(&F, F.orgs[0].dev[0], &c), 0);
    for (int waited = 0;; waited += 100) {      /* r1 holds o2's bundle */
        Liaison__DirGetReply *g = NULL;
        if (lsn_relay_client_dir_get(c, LIAISON__DIR_KIND__DIR_BUNDLE, F.orgs[1].id, NULL,
                                     &g) == 0) {
            lsn_pb_free(&g->base);
            break;
        }
        assert_true(waited < 30000);
        usleep(100 * 1000);
    }
    rf_stop_relay(&F, 1, SIGTERM);
    assert_int_equal(rf_seal(&F, 0, 0, to, 1, NULL, 3600, &e, &l), 0);
    msg_id_of(e, l, id);
    assert_int_equal(lsn_relay_client_submit(c, (const uint8_t *const *)&e, &l, 1, &res,
                                             NULL), 0);
    assert_int_equal(res, 0);
    free(e);
    lsn_relay_client_close(&c);
    assert_int_equal(rf_next_bundle(&F, 0, "d1", 0), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_start_relay(&F, 1), 0);
    assert_int_equal(rf_connect(&F, F.orgs[0].dev[1], &c), 0);
    for (int waited = 0; !dropped; waited += 100) {
        assert_int_equal(lsn_relay_client_status(c, id, &st), 0);
        for (size_t i = 0; i < st->n_recipients; i++)
            if (strcmp(st->recipients[i]->org, F.orgs[1].id) == 0) {
                assert_false(st->recipients[i]->forwarded);
                dropped = st->recipients[i]->dropped > 0;
            }
        lsn_pb_free(&st->base);
        if (!dropped) {
            assert_true(waited < 30000);
            usleep(100 * 1000);
        }
    }
    lsn_relay_client_close(&c);
}

/* ---------------------------------------------------------- case 4 */

/* o1's bundle expires: the relay refuses its devices' submits with a
 * sentence naming the expiry and the fix, also after a restart, while its
 * admin may still publish the next bundle, after which o1 sends again. */
static void
test_admission_expired_bundle_refused(void **state)
{
    size_t to[1] = { 1 };
    uint8_t *e = NULL;
    size_t l;
    char msg[512];
    int64_t until = lsn_now() + 2;

    (void)state;
    assert_int_equal(rf_setup(&F, "adm-expired", 2, 1, NULL), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_next_bundle_until(&F, 0, until), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_seal(&F, 0, 0, to, 1, NULL, 3600, &e, &l), 0);
    assert_int_equal(submit_raw(0, F.orgs[0].dev[0], e, l, msg, sizeof msg), 0);
    free(e);
    while (lsn_now() <= until)
        usleep(100 * 1000);
    assert_int_equal(rf_seal(&F, 0, 0, to, 1, NULL, 3600, &e, &l), 0);
    assert_int_equal(submit_raw(0, F.orgs[0].dev[0], e, l, msg, sizeof msg),
                     LSN_ERR_EXPIRED);
    assert_non_null(strstr(msg, "expired on"));
    assert_non_null(strstr(msg, "liaison-keys publish"));
    /* The relay restarted still knows the devices, and why they may not send. */
    rf_stop(&F, SIGTERM);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(submit_raw(0, F.orgs[0].dev[0], e, l, msg, sizeof msg),
                     LSN_ERR_EXPIRED);
    assert_non_null(strstr(msg, "expired on"));
    free(e);
    /* The admin publishes the next bundle along the chain; o1 sends. */
    assert_int_equal(rf_next_bundle(&F, 0, NULL, 0), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_seal(&F, 0, 0, to, 1, NULL, 3600, &e, &l), 0);
    assert_int_equal(submit_raw(0, F.orgs[0].dev[0], e, l, msg, sizeof msg), 0);
    free(e);
}

/* Runs liaison-keys bundle show --org-dir DIR/org with bundle b as the
 * folder's bundle.signed: its exit status, its stderr in DIR/show.err. */
static int
keys_show(const struct lsn_bundle *b)
{
    char dir[PATH_MAX + 16], path[PATH_MAX + 64], cmd[3 * PATH_MAX + 128];
    const char *bin = getenv("LSN_BIN");
    int st;

    snprintf(dir, sizeof dir, "%s/org", F.dir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/bundle.signed", dir);
    assert_int_equal(lsn_signed_file_write(path, LSN_TYPE_BUNDLE, b->bytes, b->len,
                                           LSN_WRITE_FORCE), 0);
    snprintf(cmd, sizeof cmd, "'%s/liaison-keys' bundle show --org-dir '%s' >/dev/null "
             "2>'%s/show.err'", bin != NULL ? bin : "build/bin", dir, F.dir);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* liaison-keys warns from 30 days before a bundle's expiry, on stderr
 * (bundle show here; publish and every command that signs share it). */
static void
test_admission_bundle_expiry_warning(void **state)
{
    int64_t now = lsn_now();
    char err[PATH_MAX + 16];

    (void)state;
    assert_int_equal(rf_setup(&F, "adm-warn", 1, 1, NULL), 0);
    snprintf(err, sizeof err, "%s/show.err", F.dir);
    assert_int_equal(lsn_bundle_expires_soon(F.orgs[0].bundle, now), 0);
    assert_int_equal(keys_show(F.orgs[0].bundle), 0);
    assert_false(file_has(err, "warning"));
    assert_int_equal(rf_next_bundle_until(&F, 0, now + 30 * 86400 + 600), 0);
    assert_int_equal(lsn_bundle_expires_soon(F.orgs[0].bundle, now), 0);
    assert_int_equal(rf_next_bundle_until(&F, 0, now + 30 * 86400), 0);
    assert_int_equal(lsn_bundle_expires_soon(F.orgs[0].bundle, now), 1);
    assert_int_equal(rf_next_bundle_until(&F, 0, now + 12 * 86400), 0);
    assert_int_equal(keys_show(F.orgs[0].bundle), 0);
    assert_true(file_has(err, "warning: bundle v4 of `o1` expires on"));
    assert_true(file_has(err, "liaison-keys publish"));
    assert_int_equal(rf_next_bundle_until(&F, 0, now - 1), 0);
    assert_int_equal(lsn_bundle_expires_soon(F.orgs[0].bundle, now), 1);
    assert_int_equal(keys_show(F.orgs[0].bundle), 0);
    assert_true(file_has(err, "expired on"));
}

/* ---------------------------------------------------------- case 5 */

/* 70 key deliveries for o1/d1 (keys 1..70; the bundle lists key 1): a
 * directory get returns the newest, oldest first, and the relay has
 * dropped those superseded that the bundle no longer lists. */
static void
test_admission_newest_key_deliveries(void **state)
{
    struct lsn_relay_client *admin = NULL, *dev = NULL;
    Liaison__DirGetReply *g = NULL;
    const struct lsn_credential *d1;
    uint32_t last = 0;
    int has1 = 0, has69 = 0, has70 = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "adm-deliv", 1, 1, NULL), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    d1 = F.orgs[0].dev[0];
    assert_int_equal(rf_connect(&F, F.orgs[0].admin, &admin), 0);
    for (uint32_t k = 1; k <= 70; k++) {
        struct lsn_enc_secret s;
        struct lsn_delivery *dl = NULL;
        memset(&s, 0, sizeof s);
        s.key_id = k;
        s.created = lsn_now();
        crypto_box_keypair(s.pk, s.sk);
        assert_int_equal(lsn_delivery_make(F.orgs[0].id, d1->device, d1->keys->delivery_pk,
                                           &s, 1, F.orgs[0].root_sk, lsn_now(), &dl), 0);
        assert_int_equal(lsn_relay_client_dir_put(admin, LIAISON__DIR_KIND__DIR_DELIVERY,
                                                  dl->bytes, dl->len, NULL), 0);
        lsn_delivery_destroy(&dl);
        sodium_memzero(&s, sizeof s);
    }
    lsn_relay_client_close(&admin);
    assert_int_equal(rf_connect(&F, d1, &dev), 0);
    assert_int_equal(lsn_relay_client_dir_get(dev, LIAISON__DIR_KIND__DIR_DELIVERY,
                                              F.orgs[0].id, d1->device, &g), 0);
    assert_true(g->n_objects >= 1 && g->n_objects <= 64);
    for (size_t i = 0; i < g->n_objects; i++) {
        struct lsn_delivery *dl = NULL;
        assert_int_equal(lsn_delivery_parse(g->objects[i].data, g->objects[i].len, &dl), 0);
        assert_true(dl->d->key_id > last);     /* oldest first */
        last = dl->d->key_id;
        has1 |= last == 1;
        has69 |= last == 69;
        has70 |= last == 70;
        lsn_delivery_destroy(&dl);
    }
    assert_true(has70);
    assert_true(has1);      /* listed in the bundle: kept */
    assert_false(has69);    /* superseded and not listed: dropped */
    assert_int_equal(g->n_objects, 2);
    lsn_pb_free(&g->base);
    lsn_relay_client_close(&dev);
}

/* Makes a key delivery of key k to org 0's device d1 (lsn_delivery_destroy
 * it). */
static struct lsn_delivery *
delivery_of(uint32_t k)
{
    const struct lsn_credential *d1 = F.orgs[0].dev[0];
    struct lsn_enc_secret s;
    struct lsn_delivery *dl = NULL;

    memset(&s, 0, sizeof s);
    s.key_id = k;
    s.created = lsn_now();
    crypto_box_keypair(s.pk, s.sk);
    assert_int_equal(lsn_delivery_make(F.orgs[0].id, d1->device, d1->keys->delivery_pk,
                                       &s, 1, F.orgs[0].root_sk, lsn_now(), &dl), 0);
    sodium_memzero(&s, sizeof s);
    return dl;
}

/* A key delivery that a newer one supersedes and the bundle does not
 * list (key 2 after key 3; the bundle lists key 1) is answered as held
 * and not stored again: stored, it would be pruned and sent on to every
 * peer relay, which would prune it and send it back, without end. */
static void
test_admission_superseded_delivery_not_stored(void **state)
{
    struct lsn_relay_client *admin = NULL, *dev = NULL;
    Liaison__DirGetReply *g = NULL;
    struct lsn_delivery *dl;
    int unchanged = -1;

    (void)state;
    assert_int_equal(rf_setup(&F, "adm-supersede", 1, 1, NULL), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_connect(&F, F.orgs[0].admin, &admin), 0);
    for (uint32_t k = 2; k <= 3; k++) {
        dl = delivery_of(k);
        assert_int_equal(lsn_relay_client_dir_put(admin, LIAISON__DIR_KIND__DIR_DELIVERY,
                                                  dl->bytes, dl->len, &unchanged), 0);
        assert_int_equal(unchanged, 0);
        lsn_delivery_destroy(&dl);
    }
    /* Key 2 again (as a peer's directory sync would send it). */
    dl = delivery_of(2);
    assert_int_equal(lsn_relay_client_dir_put(admin, LIAISON__DIR_KIND__DIR_DELIVERY,
                                              dl->bytes, dl->len, &unchanged), 0);
    assert_int_equal(unchanged, 1);
    lsn_delivery_destroy(&dl);
    lsn_relay_client_close(&admin);
    assert_int_equal(rf_connect(&F, F.orgs[0].dev[0], &dev), 0);
    assert_int_equal(lsn_relay_client_dir_get(dev, LIAISON__DIR_KIND__DIR_DELIVERY,
                                              F.orgs[0].id, F.orgs[0].dev[0]->device,
                                              &g), 0);
    assert_int_equal(g->n_objects, 1);      /* key 3 only */
    lsn_pb_free(&g->base);
    lsn_relay_client_close(&dev);
}

/* ---------------------------------------------------------- case 9 */

/* An outsider at 127.0.0.1 cycles fresh keys until the relay refuses
 * them; a new member's admin at 127.0.0.2 still publishes its first
 * bundle (Linux routes all of 127/8 to lo; the connect names the
 * source). */
static void
test_admission_bootstrap_per_address(void **state)
{
    char other[64];
    struct lsn_relay_client *c = NULL;
    int refused = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "adm-boot", 1, 1, "bootstrap_per_minute 10"), 0);
    assert_int_equal(rf_start(&F), 0);
    for (int i = 0; i < 50 && !refused; i++) {
        struct lsn_wire *w = NULL;
        uint8_t pk[32], sk[32];
        int rc;
        crypto_box_keypair(pk, sk);
        assert_int_equal(lsn_wire_connect(F.endpoint, F.relay_pk, pk, sk, &w), 0);
        rc = lsn_wire_handshake(w, 10000);
        assert_true(rc == 0 || rc == LSN_ERR_DENIED);
        refused = rc == LSN_ERR_DENIED;
        lsn_wire_close(&w);
        sodium_memzero(sk, sizeof sk);
    }
    assert_true(refused);
    snprintf(other, sizeof other, "tcp://127.0.0.2:0;127.0.0.1:%d",
             atoi(strrchr(F.endpoint, ':') + 1));
    assert_int_equal(lsn_relay_client_connect(F.orgs[0].admin, other, F.relay_pk, 10000,
                                              &c), 0);
    assert_int_equal(lsn_relay_client_dir_put(c, LIAISON__DIR_KIND__DIR_BUNDLE,
                                              F.orgs[0].bundle->bytes,
                                              F.orgs[0].bundle->len, NULL), 0);
    lsn_relay_client_close(&c);
}

/* Runs liaison-relay import --config (relay 0's) path: its exit status,
 * its stderr in DIR/import.err. */
static int
relay_import(const char *path)
{
    char cmd[3 * PATH_MAX + 128];
    int st;

    snprintf(cmd, sizeof cmd, "'%s' import --config '%s/relay.conf' '%s' >/dev/null "
             "2>'%s/import.err'", F.bin, F.dir, path, F.dir);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* With no bootstrap budget at all (bootstrap_per_minute 0), the operator
 * imports o1's first bundle into the stopped relay, and o2's through the
 * drop-in folder of the running one (SIGHUP); a file that is no bundle is
 * refused and set aside. */
static void
test_admission_operator_import(void **state)
{
    char path[PATH_MAX + 64], drop[PATH_MAX + 64], err[PATH_MAX + 64];
    struct lsn_relay_client *c = NULL;
    FILE *fp;
    int ok = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "adm-import", 2, 1, "bootstrap_per_minute 0"), 0);
    snprintf(path, sizeof path, "%s/o1.signed", F.dir);
    assert_int_equal(lsn_signed_file_write(path, LSN_TYPE_BUNDLE, F.orgs[0].bundle->bytes,
                                           F.orgs[0].bundle->len, LSN_WRITE_FORCE), 0);
    assert_int_equal(relay_import(path), 0);
    assert_int_equal(relay_import(path), 0);       /* already held */
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 1), LSN_ERR_DENIED);   /* no budget */
    assert_int_equal(rf_connect(&F, F.orgs[0].dev[0], &c), 0);
    {
        Liaison__DirGetReply *g = NULL;
        assert_int_equal(lsn_relay_client_dir_get(c, LIAISON__DIR_KIND__DIR_BUNDLE,
                                                  F.orgs[0].id, NULL, &g), 0);
        assert_int_equal(g->n_objects, 1);
        lsn_pb_free(&g->base);
    }
    lsn_relay_client_close(&c);
    /* Running: import refuses and names the drop-in folder. */
    snprintf(path, sizeof path, "%s/o2.signed", F.dir);
    assert_int_equal(lsn_signed_file_write(path, LSN_TYPE_BUNDLE, F.orgs[1].bundle->bytes,
                                           F.orgs[1].bundle->len, LSN_WRITE_FORCE), 0);
    assert_int_equal(relay_import(path), 2);
    snprintf(err, sizeof err, "%s/import.err", F.dir);
    assert_true(file_has(err, "/import/"));
    assert_true(file_has(err, "SIGHUP"));
    snprintf(drop, sizeof drop, "%s/data/import", F.dir);
    assert_int_equal(mkdir(drop, 0700), 0);
    snprintf(drop, sizeof drop, "%s/data/import/o2.signed", F.dir);
    assert_int_equal(rename(path, drop), 0);
    snprintf(drop, sizeof drop, "%s/data/import/junk.signed", F.dir);
    assert_non_null(fp = fopen(drop, "w"));
    fputs("not a bundle\n", fp);
    fclose(fp);
    assert_int_equal(kill(F.pid, SIGHUP), 0);
    for (int waited = 0; !ok; waited += 100) {
        snprintf(drop, sizeof drop, "%s/data/import/o2.signed.imported", F.dir);
        ok = access(drop, F_OK) == 0;
        snprintf(drop, sizeof drop, "%s/data/import/junk.signed.refused", F.dir);
        ok &= access(drop, F_OK) == 0;
        assert_true(waited < 30000);
        if (!ok)
            usleep(100 * 1000);
    }
    assert_int_equal(rf_connect(&F, F.orgs[1].dev[0], &c), 0);
    {
        Liaison__DirGetReply *g = NULL;
        assert_int_equal(lsn_relay_client_dir_get(c, LIAISON__DIR_KIND__DIR_BUNDLE,
                                                  F.orgs[1].id, NULL, &g), 0);
        lsn_pb_free(&g->base);
    }
    lsn_relay_client_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_admission_junk_forward_refused, down),
        cmocka_unit_test_teardown(test_admission_forward_refusal_is_final, down),
        cmocka_unit_test_teardown(test_admission_expired_bundle_refused, down),
        cmocka_unit_test_teardown(test_admission_bundle_expiry_warning, down),
        cmocka_unit_test_teardown(test_admission_newest_key_deliveries, down),
        cmocka_unit_test_teardown(test_admission_superseded_delivery_not_stored, down),
        cmocka_unit_test_teardown(test_admission_bootstrap_per_address, down),
        cmocka_unit_test_teardown(test_admission_operator_import, down),
    };

    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
