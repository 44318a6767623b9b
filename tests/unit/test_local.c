/* test_local.c: the client's local store: received messages kept
 * encrypted with a sealed content key, the seen set, sent records that a
 * retry reuses, receipts, and the MAC-chained audit log (tampering and a
 * cut-off tail detected); and re-opening a stored envelope with its key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sodium.h>

#include "client/seal.h"
#include "client/local.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"
#include "tests/lib/sealfix.h"

#define NOW SF_T0

static struct sf_org A, B;

static int
setup(void **state)
{
    (void)state;
    if (sodium_init() < 0 || sf_org_new(&A, "org-a", NULL) != 0 ||
        sf_org_new(&B, "org-b", NULL) != 0)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    sf_org_free(&A);
    sf_org_free(&B);
    return 0;
}

/* A message from A to B, opened by B. */
static void
sealed_opened(uint8_t **env, size_t *len, struct lsn_opened **o)
{
    Liaison__Alert a;
    struct lsn_seal_params p = { .created = NOW, .expires = NOW + 3600,
                                 .bundle_version = 1 };
    const struct lsn_bundle *to[1] = { B.bundle };

    sf_alert_sample(&a);
    assert_int_equal(lsn_seal(&a, A.cred, to, 1, &p, env, len), 0);
    assert_int_equal(lsn_open(*env, *len, B.cred, A.bundle, NOW, NULL, NULL, o), 0);
}

static struct lsn_local *
open_store(const char *dir, uint8_t fill)
{
    uint8_t key[32];
    struct lsn_local *s = NULL;

    memset(key, fill, sizeof key);
    assert_int_equal(lsn_local_open(dir, key, &s), 0);
    return s;
}

static void
test_local_received_roundtrip_and_replay(void **state)
{
    const char *dir = kf_tmpdir("cstore");
    struct lsn_local *s = open_store(dir, 1);
    struct lsn_opened *o = NULL;
    struct lsn_local_msg *m = NULL;
    uint8_t *env = NULL, id[16];
    size_t len = 0;
    char org[33], hex[33];

    (void)state;
    sealed_opened(&env, &len, &o);
    assert_int_equal(lsn_local_replay_check(s, o->sender_org, o->msg_id, 0), 0);
    assert_int_equal(lsn_local_put_received(s, o, env, len, A.cred->keys->sign_pk,
                                            NOW), 0);
    /* Seen now: a replay is refused, by the check and by a second put. */
    assert_int_equal(lsn_local_replay_check(s, o->sender_org, o->msg_id, 0),
                     LSN_ERR_REPLAY);
    assert_int_equal(lsn_local_put_received(s, o, env, len, A.cred->keys->sign_pk,
                                            NOW), LSN_ERR_REPLAY);
    /* The same msg_id from another org is another message. */
    assert_int_equal(lsn_local_replay_check(s, "org-c", o->msg_id, 0), 0);

    assert_int_equal(lsn_local_get_received(s, "org-a", o->msg_id, &m), 0);
    assert_memory_equal(m->key, o->key, 32);
    assert_int_equal(m->len, len);
    assert_memory_equal(m->envelope, env, len);
    assert_false(m->read);
    lsn_local_msg_free(&m);

    lsn_hex(hex, o->msg_id, 16);
    hex[6] = '\0';
    assert_int_equal(lsn_local_find_received(s, hex, org, id), 0);
    assert_string_equal(org, "org-a");
    assert_memory_equal(id, o->msg_id, 16);
    assert_int_equal(lsn_local_find_received(s, "zz", org, id), LSN_ERR_USAGE);
    assert_int_equal(lsn_local_mark_read(s, "org-a", o->msg_id), 0);
    assert_int_equal(lsn_local_get_received(s, "org-a", o->msg_id, &m), 0);
    assert_true(m->read);
    lsn_local_msg_free(&m);
    lsn_local_close(&s);

    /* Another store key (another device's) cannot unseal the content key. */
    s = open_store(dir, 2);
    assert_int_equal(lsn_local_get_received(s, "org-a", o->msg_id, &m),
                     LSN_ERR_CORRUPT);
    assert_null(m);
    lsn_local_close(&s);
    lsn_opened_destroy(&o);
    free(env);
    kf_rmdir(dir);
}

static void
test_local_plaintext_not_on_disk(void **state)
{
    const char *dir = kf_tmpdir("cstore");
    struct lsn_local *s = open_store(dir, 1);
    struct lsn_opened *o = NULL;
    uint8_t *env = NULL, *file = NULL;
    size_t len = 0, n = 0;
    char path[600];

    (void)state;
    sealed_opened(&env, &len, &o);
    assert_int_equal(lsn_local_put_received(s, o, env, len, A.cred->keys->sign_pk,
                                            NOW), 0);
    lsn_local_close(&s);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    assert_int_equal(lsn_file_read(path, 1u << 30, &file, &n), 0);
    assert_null(memmem(file, n, o->alert->title, strlen(o->alert->title)));
    assert_null(memmem(file, n, o->key, 32));
    free(file);
    lsn_opened_destroy(&o);
    free(env);
    kf_rmdir(dir);
}

static void
test_local_open_with_key(void **state)
{
    struct lsn_opened *o = NULL, *again = NULL;
    uint8_t *env = NULL, wrong[32];
    size_t len = 0;

    (void)state;
    sealed_opened(&env, &len, &o);
    assert_int_equal(lsn_open_with_key(env, len, o->key, A.cred->keys->sign_pk,
                                       &again), 0);
    assert_string_equal(again->alert->title, o->alert->title);
    lsn_opened_destroy(&again);
    /* Another key fails the commitment; another signer fails the signature. */
    memcpy(wrong, o->key, 32);
    wrong[0] ^= 1;
    assert_int_equal(lsn_open_with_key(env, len, wrong, A.cred->keys->sign_pk,
                                       &again), LSN_ERR_COMMIT);
    assert_int_equal(lsn_open_with_key(env, len, o->key, B.cred->keys->sign_pk,
                                       &again), LSN_ERR_BAD_SIGNATURE);
    env[len - 1] ^= 1;
    assert_int_not_equal(lsn_open_with_key(env, len, o->key, A.cred->keys->sign_pk,
                                           &again), 0);
    assert_null(again);
    lsn_opened_destroy(&o);
    free(env);
}

static int
count_unsubmitted(void *ctx, const uint8_t id[16], const Liaison__StoredSent *rec)
{
    (void)id;
    (void)rec;
    (*(int *)ctx)++;
    return 0;
}

struct rcpt {
    int n, kind;
};

static int
last_receipt(void *ctx, const char *org, const char *device, int kind, int64_t at,
             int reads_off)
{
    struct rcpt *x = ctx;

    (void)org;
    (void)device;
    (void)at;
    (void)reads_off;
    x->n++;
    x->kind = kind;
    return 0;
}

static void
test_local_sent_keeps_first_envelope(void **state)
{
    const char *dir = kf_tmpdir("cstore");
    struct lsn_local *s = open_store(dir, 1);
    Liaison__StoredSent rec = LIAISON__STORED_SENT__INIT, *got = NULL;
    uint8_t id[16], first[3] = { 1, 2, 3 }, second[3] = { 9, 9, 9 };
    char *to[1] = { "org-b" };
    struct rcpt rc = { 0, 0 };
    int n = 0;

    (void)state;
    memset(id, 7, sizeof id);
    rec.recipients = to;
    rec.n_recipients = 1;
    rec.envelope = (ProtobufCBinaryData){ 3, first };
    assert_int_equal(lsn_local_put_sent(s, id, &rec), 0);
    rec.envelope = (ProtobufCBinaryData){ 3, second };
    assert_int_equal(lsn_local_put_sent(s, id, &rec), 0);
    assert_int_equal(lsn_local_get_sent(s, id, &got), 0);
    assert_memory_equal(got->envelope.data, first, 3);   /* a retry resends these */
    lsn_pb_free((ProtobufCMessage *)got);
    assert_int_equal(lsn_local_each_unsubmitted(s, count_unsubmitted, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(lsn_local_mark_submitted(s, id), 0);
    n = 0;
    assert_int_equal(lsn_local_each_unsubmitted(s, count_unsubmitted, &n), 0);
    assert_int_equal(n, 0);

    /* A read receipt is not downgraded by a late delivery receipt. */
    assert_int_equal(lsn_local_put_receipt(s, id, "org-b", "d1",
                                           LIAISON__RECEIPT_KIND__RECEIPT_READ, NOW, 0), 0);
    assert_int_equal(lsn_local_put_receipt(s, id, "org-b", "d1",
                                           LIAISON__RECEIPT_KIND__RECEIPT_DELIVERED, NOW, 0), 0);
    assert_int_equal(lsn_local_each_receipt(s, id, last_receipt, &rc), 0);
    assert_int_equal(rc.n, 1);
    assert_int_equal(rc.kind, LIAISON__RECEIPT_KIND__RECEIPT_READ);
    assert_int_equal(lsn_local_del_sent(s, id), 0);
    assert_int_equal(lsn_local_get_sent(s, id, &got), LSN_ERR_NOT_FOUND);
    lsn_local_close(&s);
    kf_rmdir(dir);
}

/* Rewrites audit entry seq with one byte changed, behind the store's back. */
static void
tamper_audit(const char *dir, uint64_t seq, int how)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi db;
    MDB_val k, v;
    uint8_t key[8], *copy;

    for (int i = 7; i >= 0; i--, seq >>= 8)
        key[i] = (uint8_t)seq;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &t), 0);
    assert_int_equal(mdb_dbi_open(t, "audit", 0, &db), 0);
    k.mv_size = 8;
    k.mv_data = key;
    if (how == 3) {
        /* Cut the last entry and point the head at the one before, with
         * the link the cut entry showed in clear: what a forger without
         * the store key can do. */
        Liaison__AuditEntry *e = NULL;
        MDB_dbi meta;
        MDB_val hk = { 10, "audit-head" }, hv;
        uint8_t head[72] = { 0 };
        assert_int_equal(mdb_get(t, db, &k, &v), 0);
        assert_int_equal(LSN_PB_DECODE(audit_entry, v.mv_data, v.mv_size, 4096, &e), 0);
        memcpy(head, key, 8);
        head[7]--;
        memcpy(head + 8, e->prev.data, 32);
        lsn_pb_free((ProtobufCMessage *)e);
        assert_int_equal(mdb_del(t, db, &k, NULL), 0);
        assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
        hv.mv_size = sizeof head;
        hv.mv_data = head;
        assert_int_equal(mdb_put(t, meta, &hk, &hv, 0), 0);
    } else if (how == 2) {
        assert_int_equal(mdb_del(t, db, &k, NULL), 0);
    } else {
        assert_int_equal(mdb_get(t, db, &k, &v), 0);
        copy = malloc(v.mv_size);
        memcpy(copy, v.mv_data, v.mv_size);
        /* how 0: a byte of its link to the previous entry (the end);
         * how 1: a letter of its detail text ("number") */
        if (how == 0) {
            copy[v.mv_size - 1] ^= 1;
        } else {
            uint8_t *at = memmem(copy, v.mv_size, "number", 6);
            assert_non_null(at);
            at[0] = 'N';
        }
        v.mv_data = copy;
        assert_int_equal(mdb_put(t, db, &k, &v, 0), 0);
        free(copy);
    }
    assert_int_equal(mdb_txn_commit(t), 0);
    mdb_env_close(env);
}

static void
test_local_audit_chain_detects_tampering(void **state)
{
    const char *dir = kf_tmpdir("cstore");
    struct lsn_local *s = open_store(dir, 1);
    uint64_t n = 0, bad = 0;

    (void)state;
    assert_int_equal(lsn_local_audit_verify(s, &n, &bad), 0);
    assert_int_equal(n, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(lsn_local_audit(s, NOW + i, "send", "msg %d", i), 0);
    assert_int_equal(lsn_local_audit_verify(s, &n, &bad), 0);
    assert_int_equal(n, 4);
    lsn_local_close(&s);

    tamper_audit(dir, 2, 0);
    s = open_store(dir, 1);
    assert_int_equal(lsn_local_audit_verify(s, &n, &bad), LSN_ERR_CORRUPT);
    assert_int_equal(bad, 2);          /* entry 2 no longer names entry 1's mac */
    lsn_local_close(&s);
    kf_rmdir(dir);

    /* Changed text keeps its own link but breaks the next entry's. */
    dir = kf_tmpdir("cstore");
    s = open_store(dir, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(lsn_local_audit(s, NOW + i, "send", "message number %d", i), 0);
    lsn_local_close(&s);
    tamper_audit(dir, 2, 1);
    s = open_store(dir, 1);
    assert_int_equal(lsn_local_audit_verify(s, &n, &bad), LSN_ERR_CORRUPT);
    assert_int_equal(bad, 3);
    lsn_local_close(&s);
    kf_rmdir(dir);

    /* A cut-off tail is caught by the head. */
    dir = kf_tmpdir("cstore");
    s = open_store(dir, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lsn_local_audit(s, NOW + i, "read", "msg %d", i), 0);
    lsn_local_close(&s);
    tamper_audit(dir, 3, 2);
    s = open_store(dir, 1);
    assert_int_equal(lsn_local_audit_verify(s, &n, &bad), LSN_ERR_CORRUPT);
    lsn_local_close(&s);
    kf_rmdir(dir);

    /* Cut the tail and re-point the head without the key: still caught. */
    dir = kf_tmpdir("cstore");
    s = open_store(dir, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lsn_local_audit(s, NOW + i, "read", "msg %d", i), 0);
    lsn_local_close(&s);
    s = open_store(dir, 1);
    assert_int_equal(lsn_local_audit_verify(s, &n, &bad), 0);   /* intact so far */
    lsn_local_close(&s);
    /* A log keyed by another device's store key does not verify. */
    s = open_store(dir, 9);
    assert_int_equal(lsn_local_audit_verify(s, &n, &bad), LSN_ERR_CORRUPT);
    lsn_local_close(&s);
    tamper_audit(dir, 3, 3);
    s = open_store(dir, 1);
    assert_int_equal(lsn_local_audit_verify(s, &n, &bad), LSN_ERR_CORRUPT);
    lsn_local_close(&s);
    kf_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_received_roundtrip_and_replay),
        cmocka_unit_test(test_local_plaintext_not_on_disk),
        cmocka_unit_test(test_local_open_with_key),
        cmocka_unit_test(test_local_sent_keeps_first_envelope),
        cmocka_unit_test(test_local_audit_chain_detects_tampering),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
