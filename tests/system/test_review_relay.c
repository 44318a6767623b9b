/* test_review_relay.c: relay defects at the seams of the delivery
 * invariant's parts: a format 4 store taken over with its senders' shares
 * counted, and a forwarding relay that a sender's full share at the peer
 * must not stop, a drop-in import folder holding a FIFO, and the
 * unknown-key budget of an IPv6 source, which is its /64.  Real
 * liaison-relay processes on loopback ports where a
 * relay is involved; every wait is a bounded poll. */
#include <setjmp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sodium.h>

#include "client/relay_client.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"
#include "proto/pb.h"
#include "proto/wire.h"
#include "relay/config.h"
#include "relay/offline.h"
#include "relay/relay.h"
#include "relay/store.h"
#include "tests/lib/keyfix.h"
#include "tests/lib/relayfix.h"

static struct rf F;

static int
down(void **state)
{
    (void)state;
    rf_teardown(&F);
    return 0;
}

static const char *const devs_b[] = { "d1" };

static int
submit(struct lsn_store *s, const char *from, uint8_t tag)
{
    struct lsn_fanout fan = { "b", 1, devs_b, NULL };
    struct lsn_envelope_info i;
    struct lsn_submit_result res;
    uint8_t env[64] = { 9 };
    int r;

    memset(&i, 0, sizeof i);
    snprintf(i.sender_org, sizeof i.sender_org, "%s", from);
    snprintf(i.sender_device, sizeof i.sender_device, "d1");
    memset(i.msg_id, tag, sizeof i.msg_id);
    i.created = 1000;
    i.expires = 9000;
    memset(&res, 0, sizeof res);
    if ((r = lsn_store_batch_begin(s)) != 0)
        return r;
    if ((r = lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res)) != 0) {
        lsn_store_batch_abort(s);
        return r;
    }
    return lsn_store_batch_commit(s);
}

/* Makes the store in dir look as a format 4 relay left it: format "4" and
 * no per-sender counts ('p' keys) in the quota table. */
static void
make_format4(const char *dir)
{
    MDB_env *env = NULL;
    MDB_txn *t = NULL;
    MDB_dbi info, quota;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc;

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 64u << 20), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &t), 0);
    assert_int_equal(mdb_dbi_open(t, "info", 0, &info), 0);
    assert_int_equal(mdb_dbi_open(t, "quota", 0, &quota), 0);
    k = (MDB_val){ 6, "format" };
    v = (MDB_val){ 1, "4" };
    assert_int_equal(mdb_put(t, info, &k, &v, 0), 0);
    assert_int_equal(mdb_cursor_open(t, quota, &c), 0);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if (k.mv_size > 0 && ((const uint8_t *)k.mv_data)[0] == 'p')
            assert_int_equal(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
    assert_int_equal(mdb_txn_commit(t), 0);
    mdb_env_close(env);
}

/* Sender x holds two of the eight messages org b may have waiting (its
 * whole 25% share) in a format 4 store.  Taken over as format 5, the
 * store still knows x's share is used: a third is refused, and once b
 * takes the two, x has its full share again and no more. */
static void
test_review_format4_takeover_counts_shares(void **state)
{
    struct lsn_store_limits lim = { 1000, 1u << 20, 8, 1u << 20, 8 };
    const char *dir = kf_tmpdir("fmt4share");
    struct lsn_store *s = NULL;
    uint8_t id[LSN_MSG_ID_LEN];
    int found = 0;

    (void)state;
    assert_int_equal(lsn_store_open(dir, 64u << 20, &s), 0);
    lsn_store_set_limits(s, &lim);
    assert_int_equal(submit(s, "x", 1), 0);
    assert_int_equal(submit(s, "x", 2), 0);
    lsn_store_close(&s);
    make_format4(dir);

    assert_int_equal(lsn_store_open(dir, 64u << 20, &s), 0);
    lsn_store_set_limits(s, &lim);
    lsn_store_set_share(s, 25);
    assert_int_equal(submit(s, "x", 3), LSN_ERR_QUOTA);
    assert_int_equal(submit(s, "c", 1), 0);
    for (uint8_t t = 1; t <= 2; t++) {
        memset(id, t, sizeof id);
        assert_int_equal(lsn_store_batch_begin(s), 0);
        assert_int_equal(lsn_store_ack(s, "b/d1", "x", id, &found), 0);
        assert_int_equal(lsn_store_batch_commit(s), 0);
        assert_int_equal(found, 1);
    }
    assert_int_equal(submit(s, "x", 4), 0);
    assert_int_equal(submit(s, "x", 5), 0);
    assert_int_equal(submit(s, "x", 6), LSN_ERR_QUOTA);
    lsn_store_close(&s);
    kf_rmdir(dir);
}

/* Seals one alert from org `from`'s d1 to org `to` and submits it at
 * from's home relay: the submit's result code; the msg_id in id. */
static int
send_one(size_t from, size_t to, uint8_t id[16])
{
    struct lsn_relay_client *c = NULL;
    struct lsn_envelope_info info;
    uint8_t *e = NULL;
    size_t l, dst[1] = { to };
    int res = 1;

    assert_int_equal(rf_seal(&F, from, 0, dst, 1, NULL, 3600, &e, &l), 0);
    assert_int_equal(lsn_envelope_peek(e, l, 0, &info), 0);
    memcpy(id, info.msg_id, 16);
    assert_int_equal(rf_connect(&F, F.orgs[from].dev[0], &c), 0);
    assert_int_equal(lsn_relay_client_submit(c, (const uint8_t *const *)&e, &l, 1, &res,
                                             NULL), 0);
    lsn_relay_client_close(&c);
    free(e);
    return res;
}

/* 1 once org `to`'s home relay has taken the message id from org `from`
 * (the sender's status says its copy was forwarded), polling at most
 * max_ms (0: asking once). */
static int
forwarded(size_t from, size_t to, const uint8_t id[16], int max_ms)
{
    struct lsn_relay_client *c = NULL;
    int done = 0;

    assert_int_equal(rf_connect(&F, F.orgs[from].dev[0], &c), 0);
    for (int waited = 0; !done; waited += 100) {
        Liaison__StatusReply *st = NULL;
        assert_int_equal(lsn_relay_client_status(c, id, &st), 0);
        for (size_t i = 0; i < st->n_recipients; i++)
            if (strcmp(st->recipients[i]->org, F.orgs[to].id) == 0)
                done = st->recipients[i]->forwarded;
        lsn_pb_free(&st->base);
        if (done || waited >= max_ms)
            break;
        usleep(100 * 1000);
    }
    lsn_relay_client_close(&c);
    return done;
}

/* o1 and o2 on r1 send to o3 on r2, whose devices fetch nothing.  o3 may
 * have 8 messages waiting at r2, one sender 2 of them.  o1 sends two (r2
 * takes them), then two more, which r2 refuses (o1's share is full); o2's
 * one alert, queued at r1 behind them, still reaches r2 (the forwarding
 * window is one message, so nothing passes o1's refused ones unless the
 * relay moves on past them). */
static void
test_review_peer_share_refusal_does_not_block_link(void **state)
{
    size_t home[3] = { 0, 0, 1 };
    uint8_t id[16], honest[16];

    (void)state;
    assert_int_equal(rf_setup_fed(&F, "rev-share-link", 2, home, 3, 1,
                                  "recipient_quota_messages 8\ndevice_backlog 8\n"
                                  "recipient_share_percent 25\n"
                                  "peer_window 1\npeer_backoff_ms 50\n"
                                  "peer_backoff_max_ms 400\npeer_timeout_ms 3000\n"
                                  "peer_status_wait_ms 1000"), 0);
    assert_int_equal(rf_start_relay(&F, 0), 0);
    assert_int_equal(rf_start_relay(&F, 1), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(rf_publish(&F, i), 0);
    /* r2 holds o1's and o2's bundles (forwards need them) and r1 o3's. */
    for (size_t i = 0; i < 3; i++) {
        struct lsn_relay_client *c = NULL;
        size_t other = i == 2 ? 0 : 2;
        assert_int_equal(rf_connect(&F, F.orgs[other].dev[0], &c), 0);
        for (int waited = 0;; waited += 100) {
            Liaison__DirGetReply *g = NULL;
            if (lsn_relay_client_dir_get(c, LIAISON__DIR_KIND__DIR_BUNDLE, F.orgs[i].id,
                                         NULL, &g) == 0) {
                lsn_pb_free(&g->base);
                break;
            }
            assert_true(waited < 30000);
            usleep(100 * 1000);
        }
        lsn_relay_client_close(&c);
    }
    for (int k = 0; k < 2; k++) {
        assert_int_equal(send_one(0, 2, id), 0);
        assert_true(forwarded(0, 2, id, 30000));
    }
    /* r1 released o1's share as r2 took them: two more fit at r1. */
    assert_int_equal(send_one(0, 2, id), 0);
    assert_int_equal(send_one(0, 2, id), 0);
    assert_int_equal(send_one(1, 2, honest), 0);
    assert_true(forwarded(1, 2, honest, 30000));
    assert_false(forwarded(0, 2, id, 0));   /* still waiting at r1, not lost */
}

static char fifo_path[PATH_MAX + 64];

/* Lets a relay blocked opening the FIFO go on (a writer that closes at
 * once), then tears the fixture down. */
static int
down_fifo(void **state)
{
    int fd = open(fifo_path, O_WRONLY | O_NONBLOCK);

    if (fd >= 0)
        close(fd);
    return down(state);
}

/* A FIFO named like a bundle in the drop-in folder is refused, not
 * opened (an open would wait for a writer and stop the relay); the real
 * bundle beside it is imported, and the relay answers. */
static void
test_review_import_dropin_fifo(void **state)
{
    char path[PATH_MAX + 64];
    struct lsn_relay_client *c = NULL;
    Liaison__DirGetReply *g = NULL;
    int ok = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "rev-fifo", 2, 1, "bootstrap_per_minute 0"), 0);
    snprintf(fifo_path, sizeof fifo_path, "%s/data/import/a.signed", F.dir);
    assert_int_equal(rf_start(&F), 0);
    snprintf(path, sizeof path, "%s/data/import", F.dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(mkfifo(fifo_path, 0600), 0);
    snprintf(path, sizeof path, "%s/data/import/o1.signed", F.dir);
    assert_int_equal(lsn_signed_file_write(path, LSN_TYPE_BUNDLE, F.orgs[0].bundle->bytes,
                                           F.orgs[0].bundle->len, LSN_WRITE_FORCE), 0);
    assert_int_equal(kill(F.pid, SIGHUP), 0);
    for (int waited = 0; !ok; waited += 100) {
        snprintf(path, sizeof path, "%s/data/import/o1.signed.imported", F.dir);
        ok = access(path, F_OK) == 0;
        snprintf(path, sizeof path, "%s/data/import/a.signed.refused", F.dir);
        ok &= access(path, F_OK) == 0;
        assert_true(waited < 15000);
        if (!ok)
            usleep(100 * 1000);
    }
    assert_int_equal(rf_connect(&F, F.orgs[0].dev[0], &c), 0);
    assert_int_equal(lsn_relay_client_dir_get(c, LIAISON__DIR_KIND__DIR_BUNDLE,
                                              F.orgs[0].id, NULL, &g), 0);
    lsn_pb_free(&g->base);
    lsn_relay_client_close(&c);
}

/* The error code of the one reply of an offline round (0: a body). */
static int
reply_code;

static int
reply_one(void *ctx, Liaison__Response *resp)
{
    (void)ctx;
    reply_code = resp->error != NULL ? resp->error->code : 0;
    lsn_pb_free(&resp->base);
    return 0;
}

static void
reply_sink(void *ctx, const uint8_t *buf, size_t len)
{
    assert_int_equal(lsn_wire_frame_each(buf, len, LSN_WIRE_FRAME_MAX, reply_one, ctx), 0);
}

/* o1's admin, not yet known to the relay, puts o1's bundle from addr:
 * the answer's code. */
static int
bootstrap_put(struct lsn_relay *r, const char *addr, const uint8_t *req, size_t len)
{
    const struct lsn_credential *a = F.orgs[0].admin;
    char user[80], hex[65];
    const uint8_t *frames[1] = { req };
    size_t lens[1] = { len };

    sodium_bin2hex(hex, sizeof hex, a->keys->curve_pk, 32);
    snprintf(user, sizeof user, "~%s", hex);
    lsn_relay_offline_set_addr(r, addr);
    reply_code = 1;
    assert_int_equal(lsn_relay_offline_round(r, user, hex, frames, lens, 1,
                                             LSN_OFFLINE_COMMIT, reply_sink, NULL), 0);
    return reply_code;
}

/* Unknown-key requests from twenty addresses of one IPv6 /64 share that
 * /64's budget (a burst of 12), as requests from one IPv4 address do; an
 * address of another /64 has its own. */
static void
test_review_bootstrap_budget_ipv6_per_64(void **state)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__DirPutRequest put = LIAISON__DIR_PUT_REQUEST__INIT;
    struct lsn_relay_config cfg;
    struct lsn_relay *r = NULL;
    char path[PATH_MAX + 64], addr[64];
    uint8_t *buf = NULL;
    size_t len = 0;
    int ok = 0;

    (void)state;
    assert_int_equal(rf_setup(&F, "rev-v6", 1, 1, "rate 1000\nburst 1000"), 0);
    lsn_relay_config_defaults(&cfg);
    snprintf(path, sizeof path, "%s/relay.conf", F.dir);
    assert_int_equal(lsn_relay_config_load(&cfg, path), 0);
    lsn_relay_log_quiet(1);
    assert_int_equal(lsn_relay_open_offline(&cfg, 0, &r), 0);
    put.kind = LIAISON__DIR_KIND__DIR_BUNDLE;
    put.object = (ProtobufCBinaryData){ F.orgs[0].bundle->len, F.orgs[0].bundle->bytes };
    req.id = 1;
    req.body_case = LIAISON__REQUEST__BODY_DIR_PUT;
    req.dir_put = &put;
    assert_int_equal(lsn_pb_encode(&req.base, &buf, &len), 0);
    for (int i = 1; i <= 20; i++) {
        snprintf(addr, sizeof addr, "2001:db8:0:1::%x", i);
        ok += bootstrap_put(r, addr, buf, len) == 0;
    }
    assert_int_equal(ok, 12);
    assert_int_equal(bootstrap_put(r, "2001:db8:0:2::1", buf, len), 0);
    free(buf);
    lsn_relay_destroy(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_review_format4_takeover_counts_shares),
        cmocka_unit_test_teardown(test_review_peer_share_refusal_does_not_block_link, down),
        cmocka_unit_test_teardown(test_review_import_dropin_fifo, down_fifo),
        cmocka_unit_test_teardown(test_review_bootstrap_budget_ipv6_per_64, down),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
