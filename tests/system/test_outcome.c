/* test_outcome.c: the delivery states of docs/relay.md "Delivery states",
 * end to end through a real liaison-relay and real clients: an item a
 * device cannot handle yet waits (not acked) without hiding the items
 * behind it, and an envelope a device refuses is acked as refused, which
 * the sender's `liaison status` shows per device with the reason. */
#include <pthread.h>
#include <setjmp.h>
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
#include <lmdb.h>
#include <sodium.h>

#include "client/client.h"
#include "liaison.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"
#include "relay/store.h"
#include "tests/lib/relayfix.h"
#include "tests/lib/sealfix.h"

static struct rf F;

static int
down(void **state)
{
    (void)state;
    rf_teardown(&F);
    return 0;
}

/* Puts n envelopes from org `from` (which never published a bundle, so no
 * recipient can check them) at the head of org to's device queues, as a
 * hostile peer relay's forwards once did; the relay is not running. */
static void
seed_unverifiable(size_t from, size_t to, size_t n)
{
    char data[PATH_MAX + 8];
    const char *devs[RF_MAX_DEVS];
    struct lsn_fanout fan = { F.orgs[to].id, F.orgs[to].n_dev, devs, NULL };
    struct lsn_store *s = NULL;

    for (size_t j = 0; j < F.orgs[to].n_dev; j++)
        devs[j] = F.orgs[to].dev[j]->device;
    snprintf(data, sizeof data, "%s/data", F.dir);
    assert_int_equal(lsn_store_open(data, (size_t)1 << 30, &s), 0);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    for (size_t k = 0; k < n; k++) {
        struct lsn_envelope_info info;
        struct lsn_submit_result res;
        uint8_t *env = NULL;
        size_t len = 0;
        assert_int_equal(rf_seal(&F, from, 0, &to, 1, NULL, 3600, &env, &len), 0);
        assert_int_equal(lsn_envelope_peek(env, len, 0, &info), 0);
        assert_int_equal(lsn_store_submit(s, &info, env, len, &fan, 1, lsn_now(), &res), 0);
        free(env);
    }
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
}

/* Submits env as device d of org i; *id gets its msg_id. */
static void
submit(size_t i, size_t d, const uint8_t *env, size_t len, uint8_t id[16])
{
    struct lsn_relay_client *c = NULL;
    struct lsn_envelope_info info;
    const uint8_t *envs[1] = { env };
    size_t lens[1] = { len };
    int result = -1, dup = 0;

    assert_int_equal(lsn_envelope_peek(env, len, 0, &info), 0);
    memcpy(id, info.msg_id, 16);
    assert_int_equal(rf_connect(&F, F.orgs[i].dev[d], &c), 0);
    assert_int_equal(lsn_relay_client_submit(c, envs, lens, 1, &result, &dup), 0);
    assert_int_equal(result, 0);
    lsn_relay_client_close(&c);
}

/* What waits at the relay for device d of org i (without taking it). */
static uint64_t
queued(size_t i, size_t d)
{
    struct lsn_relay_client *c = NULL;
    Liaison__FetchReply *rep = NULL;
    uint64_t q;

    assert_int_equal(rf_connect(&F, F.orgs[i].dev[d], &c), 0);
    assert_int_equal(lsn_relay_client_fetch(c, 1, &rep), 0);
    q = rep->queued;
    lsn_pb_free((ProtobufCMessage *)rep);
    lsn_relay_client_close(&c);
    return q;
}

struct seen {
    size_t n;
    uint8_t id[16];
};

static int
on_msg(void *ctx, const struct lsn_message *m)
{
    struct seen *x = ctx;

    memcpy(x->id, m->o->msg_id, 16);
    x->n++;
    return 0;
}

/* Runs the liaison CLI in home with args; its stdout (and with err its
 * stderr too) into out; its exit status. */
static int
cli_run(const char *home, const char *args, int err, char *out, size_t size)
{
    const char *bin = getenv("LSN_BIN");
    char cmd[2 * PATH_MAX + 256];
    size_t len = 0, k;
    FILE *p;
    int st;

    snprintf(cmd, sizeof cmd, "'%s/liaison' --home '%s' %s %s",
             bin != NULL ? bin : "build/bin", home, args, err ? "2>&1" : "2>/dev/null");
    assert_non_null(p = popen(cmd, "r"));
    while (len + 1 < size && (k = fread(out + len, 1, size - 1 - len, p)) > 0)
        len += k;
    out[len] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
cli(const char *home, const char *args, char *out, size_t size)
{
    return cli_run(home, args, 0, out, size);
}

/* More waiting items at the head of a queue than one fetch batch holds,
 * then a real alert: fetch takes the alert, acks none of the others and
 * says how many wait. */
static void
test_outcome_waiting_items_do_not_hide_later_ones(void **state)
{
    const size_t junk = LSN_FETCH_BATCH + 6;
    struct lsn_client *c = NULL;
    struct seen x = { 0, { 0 } };
    char home[PATH_MAX + 32];
    uint8_t *env = NULL, id[16];
    size_t len = 0, n = 0, to = 1;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-wait", 3, 1, "bootstrap_per_minute 600"), 0);
    seed_unverifiable(0, 1, junk);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 1), 0);     /* o1 never publishes */
    assert_int_equal(rf_publish(&F, 2), 0);
    assert_int_equal(rf_seal(&F, 2, 0, &to, 1, NULL, 3600, &env, &len), 0);
    submit(2, 0, env, len, id);
    free(env);
    assert_int_equal(queued(1, 0), junk + 1);

    assert_int_equal(rf_profile(&F, 1, 0, home, sizeof home), 0);
    assert_int_equal(lsn_client_open(home, NULL, &c), 0);
    assert_int_equal(lsn_client_fetch(c, on_msg, NULL, &x, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(x.n, 1);
    assert_memory_equal(x.id, id, 16);
    assert_int_equal(c->waiting, junk);
    assert_int_equal(c->refused, 0);
    assert_int_equal(queued(1, 0), junk);       /* none of them acked */
    /* A second fetch walks past them again and finds nothing new. */
    x.n = 0;
    assert_int_equal(lsn_client_fetch(c, on_msg, NULL, &x, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(c->waiting, junk);
    assert_int_equal(queued(1, 0), junk);
    lsn_client_close(&c);
    /* The CLI says how many wait, and exits 1. */
    {
        char out[4096], want[64];
        assert_int_equal(cli_run(home, "fetch", 1, out, sizeof out), 1);
        snprintf(want, sizeof want, "%zu message(s) left waiting at the relay", junk);
        assert_non_null(strstr(out, want));
        assert_int_equal(queued(1, 0), junk);
    }
    /* The status of the alert names the device that stored it. */
    {
        struct lsn_relay_client *rc = NULL;
        Liaison__StatusReply *st = NULL;
        assert_int_equal(rf_connect(&F, F.orgs[2].dev[0], &rc), 0);
        assert_int_equal(lsn_relay_client_status(rc, id, &st), 0);
        assert_true(st->known);
        assert_int_equal(st->n_recipients, 1);
        assert_int_equal(st->recipients[0]->delivered, 1);
        assert_int_equal(st->recipients[0]->refused, 0);
        assert_int_equal(st->recipients[0]->n_device_states, 1);
        assert_string_equal(st->recipients[0]->device_states[0]->device, "d1");
        assert_int_equal(st->recipients[0]->device_states[0]->state,
                         LIAISON__DEVICE_STATE__DEVICE_DELIVERED);
        lsn_pb_free((ProtobufCMessage *)st);
        lsn_relay_client_close(&rc);
    }
}

struct dev_seen {
    int n;
    char device[80], state[16];
    int reason;
};

static int
dev_status(void *ctx, const char *org, const char *device, const char *state,
           int reason)
{
    struct dev_seen *d = ctx;

    d->n++;
    snprintf(d->device, sizeof d->device, "%s/%s", org, device);
    snprintf(d->state, sizeof d->state, "%s", state);
    d->reason = reason;
    return 0;
}

/* An envelope the relay takes but the recipient refuses (its signature
 * does not verify): acked as refused, and the sender's status says who
 * refused it and why, in text and JSON, and does not count it delivered. */
static void
test_outcome_refusal_shows_in_sender_status(void **state)
{
    Liaison__Alert a;
    struct lsn_client *snd = NULL, *rcv = NULL;
    struct seen x = { 0, { 0 } };
    char shome[PATH_MAX + 32], rhome[PATH_MAX + 32], hex[33], args[64];
    char out[16384];
    const char *to[1];
    uint8_t *env = NULL, id[16], sent_id[16];
    size_t len = 0, n = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-refused", 2, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_profile(&F, 0, 0, shome, sizeof shome), 0);
    assert_int_equal(rf_profile(&F, 1, 0, rhome, sizeof rhome), 0);

    /* Sealed and recorded by the sender's client; one signature byte
     * flipped on the way to the relay (which never checks signatures). */
    assert_int_equal(lsn_client_open(shome, NULL, &snd), 0);
    sf_alert_sample(&a);
    to[0] = "o2";
    assert_int_equal(lsn_client_seal(snd, &a, to, 1, lsn_now(), 3600, NULL, sent_id,
                                     &env, &len), 0);
    env[len - 1] ^= 1;
    submit(0, 0, env, len, id);
    assert_memory_equal(id, sent_id, 16);
    free(env);
    lsn_client_close(&snd);

    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    assert_int_equal(lsn_client_fetch(rcv, on_msg, NULL, &x, &n), 0);
    assert_int_equal(rcv->refused, 1);
    assert_int_equal(rcv->waiting, 0);
    lsn_client_close(&rcv);
    assert_int_equal(queued(1, 0), 0);

    lsn_hex(hex, id, 16);
    snprintf(args, sizeof args, "status %s", hex);
    assert_int_equal(cli(shome, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "delivered to 0 of 1 device(s), refused by 1"));
    assert_non_null(strstr(out, "refused by o2/d1: signature verification failed"));
    snprintf(args, sizeof args, "status %s --json", hex);
    assert_int_equal(cli(shome, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"state\":\"refused\",\"devices\":1,\"delivered\":0,"
                                "\"refused\":1"));
    assert_non_null(strstr(out, "\"device_states\":[{\"device\":\"d1\",\"state\":"
                                "\"refused\",\"code\":-14,\"reason\":\"signature "
                                "verification failed\"}]"));
    assert_int_equal(n, 0);         /* a refusal is no new message */
    /* Its signature did not verify: no receipt goes back to o1. */
    assert_int_equal(queued(0, 0), 0);
    /* The library says the same. */
    {
        lsn_session *ss = NULL;
        struct dev_seen d = { 0, "", "", 0 };
        assert_int_equal(lsn_session_open(shome, NULL, &ss), 0);
        assert_int_equal(lsn_session_device_status(ss, hex, dev_status, &d), 0);
        lsn_session_close(&ss);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.device, "o2/d1");
        assert_string_equal(d.state, "refused");
        assert_int_equal(d.reason, LSN_ERR_BAD_SIGNATURE);
    }
}

/* Seals a sample alert from o1/d1 to o2 with o2's key 1 replaced by a
 * key nobody holds: signed properly, but o2 cannot unwrap it. */
static void
seal_unopenable(uint8_t **env, size_t *len)
{
    Liaison__EncKey *k = F.orgs[1].bundle->b->enc_keys[0];
    const struct lsn_bundle *b[1] = { F.orgs[1].bundle };
    uint8_t keep[32], pk[32], sk[32];
    size_t to = 1;

    assert_int_equal(k->public_key.len, 32);
    memcpy(keep, k->public_key.data, 32);
    crypto_box_keypair(pk, sk);
    memcpy(k->public_key.data, pk, 32);
    assert_int_equal(rf_seal(&F, 0, 0, &to, 1, b, 3600, env, len), 0);
    memcpy(k->public_key.data, keep, 32);
    sodium_memzero(sk, sizeof sk);
}

/* A refusal after the signature verified (the content key cannot be
 * unwrapped): the relay records it, and the recipient also sends the
 * sender org a signed non-delivery receipt, which status shows. */
static void
test_outcome_verified_refusal_sends_signed_receipt(void **state)
{
    Liaison__StoredSent rec = LIAISON__STORED_SENT__INIT;
    struct lsn_client *snd = NULL, *rcv = NULL;
    struct seen x = { 0, { 0 } };
    char shome[PATH_MAX + 32], rhome[PATH_MAX + 32], hex[33], args[64];
    char out[16384], *rcpts[1] = { (char *)"o2" };
    uint8_t *env = NULL, id[16];
    size_t len = 0, n = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-receipt", 2, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_profile(&F, 0, 0, shome, sizeof shome), 0);
    assert_int_equal(rf_profile(&F, 1, 0, rhome, sizeof rhome), 0);
    seal_unopenable(&env, &len);
    submit(0, 0, env, len, id);
    /* The sender's record of it, as its client keeps one. */
    assert_int_equal(lsn_client_open(shome, NULL, &snd), 0);
    rec.envelope = (ProtobufCBinaryData){ len, env };
    rec.recipients = rcpts;
    rec.n_recipients = 1;
    rec.created = lsn_now();
    rec.expires = rec.created + 3600;
    rec.submitted = 1;
    assert_int_equal(lsn_local_put_sent(snd->p->store, id, &rec), 0);
    free(env);

    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    assert_int_equal(lsn_client_fetch(rcv, on_msg, NULL, &x, &n), 0);
    assert_int_equal(rcv->refused, 1);
    lsn_client_close(&rcv);
    assert_int_equal(queued(1, 0), 0);
    assert_int_equal(queued(0, 0), 1);      /* the receipt, for o1 */
    assert_int_equal(lsn_client_fetch(snd, on_msg, NULL, &x, &n), 0);
    assert_int_equal(snd->refused, 0);
    lsn_client_close(&snd);

    lsn_hex(hex, id, 16);
    snprintf(args, sizeof args, "status %s", hex);
    assert_int_equal(cli(shome, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "refused by o2/d1: decryption failed"));
    assert_non_null(strstr(out, "o2/d1 refused it: decryption failed (signed receipt"));
    snprintf(args, sizeof args, "status %s --json", hex);
    assert_int_equal(cli(shome, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"receipts\":[{\"org\":\"o2\",\"device\":\"d1\","
                                "\"kind\":\"refused\""));
    assert_non_null(strstr(out, "\"code\":-29,\"reason\":\"decryption failed\"}]"));
}

/* The same through federation: the recipient org is homed on another
 * relay, whose answer to the home relay's peer status carries the
 * device's refusal back to the sender. */
static void
test_outcome_refusal_flows_through_peer_status(void **state)
{
    size_t home[2] = { 0, 1 }, to = 1;
    struct lsn_client *rcv = NULL;
    struct lsn_relay_client *rc = NULL;
    struct seen x = { 0, { 0 } };
    char rhome[PATH_MAX + 32];
    uint8_t *env = NULL, id[16];
    size_t len = 0, n = 0;
    int done = 0;

    (void)state;
    assert_int_equal(rf_setup_fed(&F, "outcome-fed", 2, home, 2, 1,
                                  "peer_backoff_ms 50\npeer_backoff_max_ms 400\n"
                                  "peer_timeout_ms 3000\npeer_status_wait_ms 3000\n"
                                  "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start_relay(&F, 0), 0);
    assert_int_equal(rf_start_relay(&F, 1), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_profile(&F, 1, 0, rhome, sizeof rhome), 0);
    assert_int_equal(rf_seal(&F, 0, 0, &to, 1, NULL, 3600, &env, &len), 0);
    env[len - 1] ^= 1;
    submit(0, 0, env, len, id);
    free(env);

    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    /* Bounded poll: the forward reaches r2 in its own time. */
    for (int i = 0; i < 600 && rcv->refused == 0; i++) {
        assert_int_equal(lsn_client_fetch(rcv, on_msg, NULL, &x, &n), 0);
        if (rcv->refused == 0)
            usleep(50 * 1000);
    }
    assert_int_equal(rcv->refused, 1);
    lsn_client_close(&rcv);

    assert_int_equal(rf_connect(&F, F.orgs[0].dev[0], &rc), 0);
    for (int i = 0; i < 600 && !done; i++) {
        Liaison__StatusReply *st = NULL;
        assert_int_equal(lsn_relay_client_status(rc, id, &st), 0);
        assert_int_equal(st->n_recipients, 1);
        if (st->recipients[0]->relay_answered && st->recipients[0]->refused == 1) {
            const Liaison__RecipientStatus *p = st->recipients[0];
            assert_string_equal(p->relay, "r2");
            assert_int_equal(p->delivered, 0);
            assert_int_equal(p->n_device_states, 1);
            assert_string_equal(p->device_states[0]->device, "d1");
            assert_int_equal(p->device_states[0]->state,
                             LIAISON__DEVICE_STATE__DEVICE_REFUSED);
            assert_int_equal(p->device_states[0]->reason, LSN_ERR_BAD_SIGNATURE);
            done = 1;
        }
        lsn_pb_free((ProtobufCMessage *)st);
        if (!done)
            usleep(50 * 1000);
    }
    assert_true(done);
    lsn_relay_client_close(&rc);
}

/* Pushed items the device passes over give their credit back without
 * being acked, and are not pushed again on that subscription: the item
 * behind them comes next. */
static void
test_outcome_passed_items_return_push_credit(void **state)
{
    struct lsn_relay_client *c = NULL;
    Liaison__Response *p = NULL;
    uint8_t ids[3][16];
    size_t to = 1, got = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-push", 2, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    for (size_t k = 0; k < 3; k++) {
        uint8_t *env = NULL;
        size_t len = 0;
        assert_int_equal(rf_seal(&F, 0, 0, &to, 1, NULL, 3600, &env, &len), 0);
        submit(0, 0, env, len, ids[k]);
        free(env);
    }
    assert_int_equal(rf_connect(&F, F.orgs[1].dev[0], &c), 0);
    assert_int_equal(lsn_relay_client_subscribe(c, 2, NULL), 0);
    while (got < 2) {
        assert_int_equal(lsn_relay_client_next_push(c, 10000, &p), 0);
        assert_non_null(p->push);
        for (size_t i = 0; i < p->push->n_items; i++)
            assert_memory_equal(p->push->items[i]->msg_id.data, ids[got + i], 16);
        got += p->push->n_items;
        lsn_pb_free((ProtobufCMessage *)p);
    }
    assert_int_equal(got, 2);
    /* Nothing acked, the credit of both given back. */
    assert_int_equal(lsn_relay_client_ack_outcome(c, NULL, NULL, NULL, 0, 0, 2, NULL), 0);
    assert_int_equal(lsn_relay_client_next_push(c, 10000, &p), 0);
    assert_non_null(p->push);
    assert_int_equal(p->push->n_items, 1);
    assert_memory_equal(p->push->items[0]->msg_id.data, ids[2], 16);
    lsn_pb_free((ProtobufCMessage *)p);
    lsn_relay_client_close(&c);
    assert_int_equal(queued(1, 0), 3);
}

struct watch_ctx {
    struct seen seen;
    volatile int stop;
    uint8_t id[16];
    int err;                /* the sender thread failed */
};

static int
on_watch_msg(void *ctx, const struct lsn_message *m)
{
    struct watch_ctx *w = ctx;

    on_msg(&w->seen, m);
    return 1;               /* the one real alert: enough */
}

/* Submits a real alert from o3 to o2 once watch runs; stops the watch if
 * it has not seen it in a minute (a bound, not a measurement). */
static void *
watch_sender(void *arg)
{
    struct watch_ctx *w = arg;
    uint8_t *env = NULL;
    size_t len = 0, to = 1;

    struct lsn_relay_client *c = NULL;
    struct lsn_envelope_info info;
    int result = -1, dup = 0;

    /* No cmocka asserts off the main thread: failures are recorded. */
    usleep(300 * 1000);
    if (rf_seal(&F, 2, 0, &to, 1, NULL, 3600, &env, &len) != 0 ||
        lsn_envelope_peek(env, len, 0, &info) != 0 ||
        rf_connect(&F, F.orgs[2].dev[0], &c) != 0 ||
        lsn_relay_client_submit(c, (const uint8_t *const *)&env, &len, 1, &result,
                                &dup) != 0 || result != 0)
        w->err = 1;
    else
        memcpy(w->id, info.msg_id, 16);
    lsn_relay_client_close(&c);
    free(env);
    for (int i = 0; i < 1200 && w->seen.n == 0 && !w->err; i++)
        usleep(50 * 1000);
    w->stop = 1;
    return NULL;
}

/* watch: more waiting items than one fetch batch and the push credit,
 * then an alert pushed while it runs: it arrives, nothing else is acked. */
static void
test_outcome_watch_passes_waiting_items(void **state)
{
    const size_t junk = LSN_FETCH_BATCH + 6;
    struct watch_ctx w;
    struct lsn_client *c = NULL;
    char home[PATH_MAX + 32];
    pthread_t t;

    (void)state;
    memset(&w, 0, sizeof w);
    assert_int_equal(rf_setup(&F, "outcome-watch", 3, 1, "bootstrap_per_minute 600"), 0);
    seed_unverifiable(0, 1, junk);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_publish(&F, 2), 0);
    assert_int_equal(rf_profile(&F, 1, 0, home, sizeof home), 0);
    assert_int_equal(lsn_client_open(home, NULL, &c), 0);
    assert_int_equal(pthread_create(&t, NULL, watch_sender, &w), 0);
    assert_int_equal(lsn_client_watch(c, on_watch_msg, NULL, &w, &w.stop, 100), 0);
    w.stop = 1;
    pthread_join(t, NULL);
    lsn_client_close(&c);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.seen.n, 1);
    assert_memory_equal(w.seen.id, w.id, 16);
    assert_int_equal(queued(1, 0), junk);
}

/* Sets (or, with NULL, reads into got) the format record of the store
 * in dir, as a relay of another version would have left it. */
static void
store_format(const char *dir, const char *set, char got[8])
{
    MDB_env *env = NULL;
    MDB_txn *t = NULL;
    MDB_dbi info;
    MDB_val k = { 6, (void *)"format" }, v;

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &t), 0);
    assert_int_equal(mdb_dbi_open(t, "info", 0, &info), 0);
    if (set != NULL) {
        v = (MDB_val){ strlen(set), (void *)set };
        assert_int_equal(mdb_put(t, info, &k, &v, 0), 0);
    } else {
        assert_int_equal(mdb_get(t, info, &k, &v), 0);
        assert_true(v.mv_size < 8);
        memcpy(got, v.mv_data, v.mv_size);
        got[v.mv_size] = '\0';
    }
    assert_int_equal(mdb_txn_commit(t), 0);
    mdb_env_close(env);
}

/* The store keeps a device's refusal and its reason across a reopen; a
 * format 4 store is taken over (format 5 only adds the refused state)
 * and marked 5; an older format is still refused at open. */
static void
test_outcome_store_keeps_refusal_and_format(void **state)
{
    const char *devs[2] = { "d1", "d2" };
    struct lsn_fanout fan = { "o2", 2, devs, NULL };
    struct lsn_store *s = NULL;
    struct lsn_store_rstatus *st = NULL;
    struct lsn_envelope_info info;
    struct lsn_submit_result res;
    char data[PATH_MAX + 8], fmt[8];
    uint8_t *env = NULL;
    size_t len = 0, n = 0, to = 1;
    int64_t acc, exp;
    int found = 0, known = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-store", 2, 2, NULL), 0);
    snprintf(data, sizeof data, "%s/data", F.dir);
    assert_int_equal(lsn_store_open(data, (size_t)1 << 30, &s), 0);
    assert_int_equal(rf_seal(&F, 0, 0, &to, 1, NULL, 3600, &env, &len), 0);
    assert_int_equal(lsn_envelope_peek(env, len, 0, &info), 0);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_submit(s, &info, env, len, &fan, 1, lsn_now(), &res), 0);
    assert_int_equal(lsn_store_ack_outcome(s, "o2/d2", "o1", info.msg_id,
                                           LSN_ERR_REPLAY, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(lsn_store_ack_outcome(s, "o2/d1", "o1", info.msg_id, -128,
                                           &found), LSN_ERR_INVALID);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    free(env);

    store_format(data, "4", NULL);
    assert_int_equal(lsn_store_open(data, (size_t)1 << 30, &s), 0);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_status(s, "o1", info.msg_id, &known, &acc, &exp, &st, &n), 0);
    assert_true(known);
    assert_int_equal(n, 1);
    assert_int_equal(st[0].devices, 2);
    assert_int_equal(st[0].delivered, 0);
    assert_int_equal(st[0].refused, 1);
    assert_int_equal(st[0].n_dev, 2);
    assert_string_equal(st[0].dev[0].name, "d1");
    assert_int_equal(st[0].dev[0].state, LSN_STORE_DEV_QUEUED);
    assert_string_equal(st[0].dev[1].name, "d2");
    assert_int_equal(st[0].dev[1].state, LSN_STORE_DEV_REFUSED);
    assert_int_equal(st[0].dev[1].reason, LSN_ERR_REPLAY);
    free(st);
    /* The other device stores it: the message is done, the record says
     * who stored and who refused it. */
    assert_int_equal(lsn_store_ack_outcome(s, "o2/d1", "o1", info.msg_id, 0, &found), 0);
    assert_int_equal(lsn_store_status(s, "o1", info.msg_id, &known, &acc, &exp, &st, &n), 0);
    assert_int_equal(st[0].delivered, 1);
    assert_int_equal(st[0].refused, 1);
    assert_int_equal(st[0].dev[0].state, LSN_STORE_DEV_DELIVERED);
    free(st);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    store_format(data, NULL, fmt);
    assert_string_equal(fmt, "6");

    store_format(data, "3", NULL);
    assert_int_equal(lsn_store_open(data, (size_t)1 << 30, &s), LSN_ERR_IO);
    assert_non_null(strstr(lsn_store_why(NULL), "format 3"));
}

/* A message this device stored, read and pruned comes again (its ack was
 * lost, or the relay replays it): the seen table says it was taken here
 * once, so it is acked as taken, and the sender gets no signed receipt
 * saying it was refused (which would outrank its read receipt). */
static void
test_outcome_pruned_message_again_is_not_refused(void **state)
{
    struct lsn_client *rcv = NULL;
    struct lsn_message *m = NULL;
    struct lsn_relay_client *rc = NULL;
    Liaison__StatusReply *st = NULL;
    struct seen x = { 0, { 0 } };
    char rhome[PATH_MAX + 32];
    uint8_t *env = NULL, id[16];
    size_t len = 0, n = 0, to = 1;
    uint64_t bytes = 0, receipts;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-pruned", 2, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_profile(&F, 1, 0, rhome, sizeof rhome), 0);
    assert_int_equal(rf_seal(&F, 0, 0, &to, 1, NULL, 3600, &env, &len), 0);
    submit(0, 0, env, len, id);

    /* Stored here, but the ack never reached the relay. */
    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    assert_int_equal(lsn_client_connect(rcv), 0);
    assert_int_equal(lsn_client_accept(rcv, env, len, lsn_now(), &m), 0);
    lsn_message_free(&m);
    free(env);
    assert_int_equal(lsn_local_mark_read(rcv->p->store, F.orgs[0].id, id), 0);
    assert_int_equal(lsn_local_prune_read(rcv->p->store, lsn_now() + 60, 0, NULL,
                                          NULL, &n, &bytes), 0);
    assert_int_equal(n, 1);
    lsn_client_close(&rcv);
    assert_int_equal(queued(1, 0), 1);
    receipts = queued(0, 0);                /* its delivery receipt */

    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    assert_int_equal(lsn_client_fetch(rcv, on_msg, NULL, &x, &n), 0);
    assert_int_equal(rcv->refused, 0);
    assert_int_equal(rcv->waiting, 0);
    assert_int_equal(x.n, 0);               /* nothing new to show */
    lsn_client_close(&rcv);
    assert_int_equal(queued(1, 0), 0);      /* acked */
    assert_int_equal(queued(0, 0), receipts);   /* no non-delivery receipt */
    /* The relay's record, if it still has one, is no refusal either. */
    assert_int_equal(rf_connect(&F, F.orgs[0].dev[0], &rc), 0);
    if (lsn_relay_client_status(rc, id, &st) == 0 && st->known) {
        assert_int_equal(st->n_recipients, 1);
        assert_int_equal(st->recipients[0]->refused, 0);
    }
    lsn_pb_free((ProtobufCMessage *)st);
    lsn_relay_client_close(&rc);
}

/* A pruned message is known as taken whatever a check would say of it
 * later: accepted again long after it expired, it is REPLAY (acked as
 * taken) and not EXPIRED (acked as refused, with a signed receipt that
 * outranks the sender's read receipt). */
static void
test_outcome_pruned_message_stays_taken_after_expiry(void **state)
{
    struct lsn_client *rcv = NULL;
    struct lsn_message *m = NULL;
    char rhome[PATH_MAX + 32];
    uint8_t *env = NULL, id[16];
    size_t len = 0, n = 0, to = 1;
    uint64_t bytes = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-pruned-old", 2, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_profile(&F, 1, 0, rhome, sizeof rhome), 0);
    assert_int_equal(rf_seal(&F, 0, 0, &to, 1, NULL, 3600, &env, &len), 0);
    submit(0, 0, env, len, id);
    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    assert_int_equal(lsn_client_accept(rcv, env, len, lsn_now(), &m), 0);
    lsn_message_free(&m);
    assert_int_equal(lsn_local_mark_read(rcv->p->store, F.orgs[0].id, id), 0);
    assert_int_equal(lsn_local_prune_read(rcv->p->store, lsn_now() + 60, 0, NULL,
                                          NULL, &n, &bytes), 0);
    assert_int_equal(n, 1);
    assert_int_equal(lsn_client_accept(rcv, env, len, lsn_now() + 40 * 86400, &m),
                     LSN_ERR_REPLAY);
    assert_null(m);
    lsn_client_close(&rcv);
    free(env);
}

/* An envelope of o1 for o3 that a relay queued for o2 (a relay may put
 * anything in a queue): o2 refuses it as not addressed to it, and sends
 * o1 no receipt (the refusal comes before the signature check; a relay
 * replaying it could otherwise make o2 sign receipts without end). */
static void
test_outcome_not_recipient_sends_no_receipt(void **state)
{
    const char *devs[1];
    struct lsn_fanout fan = { NULL, 1, devs, NULL };
    struct lsn_client *c = NULL;
    struct lsn_store *s = NULL;
    struct lsn_envelope_info info;
    struct lsn_submit_result res;
    struct seen x = { 0, { 0 } };
    char home[PATH_MAX + 32], data[PATH_MAX + 8];
    uint8_t *env = NULL;
    size_t len = 0, n = 0, to = 2;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-notrcpt", 3, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(rf_publish(&F, i), 0);
    rf_stop(&F, SIGTERM);
    assert_int_equal(rf_seal(&F, 0, 0, &to, 1, NULL, 3600, &env, &len), 0);
    assert_int_equal(lsn_envelope_peek(env, len, 0, &info), 0);
    fan.org = F.orgs[1].id;
    devs[0] = F.orgs[1].dev[0]->device;
    snprintf(data, sizeof data, "%s/data", F.dir);
    assert_int_equal(lsn_store_open(data, (size_t)1 << 30, &s), 0);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_submit(s, &info, env, len, &fan, 1, lsn_now(), &res), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    free(env);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(queued(1, 0), 1);
    assert_int_equal(queued(0, 0), 0);

    assert_int_equal(rf_profile(&F, 1, 0, home, sizeof home), 0);
    assert_int_equal(lsn_client_open(home, NULL, &c), 0);
    assert_int_equal(lsn_client_fetch(c, on_msg, NULL, &x, &n), 0);
    assert_int_equal(c->refused, 1);
    lsn_client_close(&c);
    assert_int_equal(queued(1, 0), 0);      /* acked as refused */
    assert_int_equal(queued(0, 0), 0);      /* and no receipt for o1 */
}

static int
count_refusal_receipts(void *ctx, const Liaison__AuditEntry *e)
{
    size_t *n = ctx;

    if (strcmp(e->event, "receipt") == 0 && strncmp(e->detail, "refused ", 8) == 0)
        (*n)++;
    return 0;
}

/* A relay that delivers a refused envelope again (here: the relay's data
 * put back from a copy taken before the fetch, as a relay replaying its
 * queue would): the device refuses it again, but sends the sender org no
 * second non-delivery receipt, so a relay cannot make it sign receipts
 * without end. */
static void
test_outcome_refusal_receipt_sent_once(void **state)
{
    struct lsn_client *rcv = NULL;
    struct seen x = { 0, { 0 } };
    char rhome[PATH_MAX + 32], cmd[3 * PATH_MAX + 64];
    uint8_t *env = NULL, id[16];
    size_t len = 0, n = 0, receipts = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-once", 2, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_profile(&F, 1, 0, rhome, sizeof rhome), 0);
    seal_unopenable(&env, &len);
    submit(0, 0, env, len, id);
    free(env);
    rf_stop(&F, SIGTERM);
    snprintf(cmd, sizeof cmd, "cp -a '%s/data' '%s/data.copy'", F.dir, F.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rf_start(&F), 0);

    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    assert_int_equal(lsn_client_fetch(rcv, on_msg, NULL, &x, &n), 0);
    assert_int_equal(rcv->refused, 1);
    lsn_client_close(&rcv);
    assert_int_equal(queued(0, 0), 1);      /* the receipt, for o1 */

    rf_stop(&F, SIGTERM);
    snprintf(cmd, sizeof cmd, "rm -rf '%s/data' && mv '%s/data.copy' '%s/data'",
             F.dir, F.dir, F.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(queued(1, 0), 1);      /* the refused envelope, again */

    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    assert_int_equal(lsn_client_fetch(rcv, on_msg, NULL, &x, &n), 0);
    assert_int_equal(rcv->refused, 1);
    assert_int_equal(lsn_local_each_audit(rcv->p->store, count_refusal_receipts,
                                          &receipts), 0);
    lsn_client_close(&rcv);
    assert_int_equal(queued(1, 0), 0);      /* acked as refused */
    assert_int_equal(receipts, 1);
}

/* A message sealed while its sender's bundle was valid, fetched after the
 * bundle expired and before the org's administrator published the next:
 * the bundle held here cannot vouch for it now, which the next bundle
 * mends, so it waits (not acked as refused "expired" and lost), and is
 * stored once the next bundle is published. */
static void
test_outcome_expired_sender_bundle_waits(void **state)
{
    struct lsn_client *rcv = NULL;
    struct seen x = { 0, { 0 } };
    char rhome[PATH_MAX + 32];
    uint8_t *env = NULL, id[16];
    size_t len = 0, n = 0, to = 1;
    int64_t until = lsn_now() + 2;

    (void)state;
    assert_int_equal(rf_setup(&F, "outcome-expbundle", 2, 1, "bootstrap_per_minute 600"), 0);
    assert_int_equal(rf_start(&F), 0);
    assert_int_equal(rf_publish(&F, 1), 0);
    assert_int_equal(rf_next_bundle_until(&F, 0, until), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(rf_profile(&F, 1, 0, rhome, sizeof rhome), 0);
    assert_int_equal(rf_seal(&F, 0, 0, &to, 1, NULL, 3600, &env, &len), 0);
    submit(0, 0, env, len, id);
    free(env);
    while (lsn_now() <= until)
        usleep(100 * 1000);

    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    assert_int_equal(lsn_client_fetch(rcv, on_msg, NULL, &x, &n), 0);
    assert_int_equal(rcv->refused, 0);
    assert_int_equal(rcv->waiting, 1);
    lsn_client_close(&rcv);
    assert_int_equal(queued(1, 0), 1);      /* not acked */

    assert_int_equal(rf_next_bundle(&F, 0, NULL, 0), 0);
    assert_int_equal(rf_publish(&F, 0), 0);
    assert_int_equal(lsn_client_open(rhome, NULL, &rcv), 0);
    assert_int_equal(lsn_client_fetch(rcv, on_msg, NULL, &x, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(x.id, id, 16);
    assert_int_equal(rcv->waiting, 0);
    lsn_client_close(&rcv);
    assert_int_equal(queued(1, 0), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_outcome_waiting_items_do_not_hide_later_ones, down),
        cmocka_unit_test_teardown(test_outcome_refusal_shows_in_sender_status, down),
        cmocka_unit_test_teardown(test_outcome_refusal_flows_through_peer_status, down),
        cmocka_unit_test_teardown(test_outcome_verified_refusal_sends_signed_receipt, down),
        cmocka_unit_test_teardown(test_outcome_passed_items_return_push_credit, down),
        cmocka_unit_test_teardown(test_outcome_watch_passes_waiting_items, down),
        cmocka_unit_test_teardown(test_outcome_store_keeps_refusal_and_format, down),
        cmocka_unit_test_teardown(test_outcome_pruned_message_again_is_not_refused, down),
        cmocka_unit_test_teardown(test_outcome_pruned_message_stays_taken_after_expiry, down),
        cmocka_unit_test_teardown(test_outcome_not_recipient_sends_no_receipt, down),
        cmocka_unit_test_teardown(test_outcome_refusal_receipt_sent_once, down),
        cmocka_unit_test_teardown(test_outcome_expired_sender_bundle_waits, down),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
