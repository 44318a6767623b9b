/* test_store.c: the relay store (relay/store.h) without a network: batch
 * semantics (nothing survives an aborted batch, a committed one survives a
 * reopen), dedupe by (sender org, msg_id), fan-out, ack-then-delete,
 * quotas that store nothing, and trimming with the exact gap; faults: a
 * failed commit is final, a corrupted or truncated envelope is
 * quarantined and never served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "proto/err.h"
#include "relay/store.h"
#include "tests/lib/keyfix.h"

static struct lsn_envelope_info
info_make(const char *org, uint8_t tag)
{
    struct lsn_envelope_info i;

    memset(&i, 0, sizeof i);
    snprintf(i.sender_org, sizeof i.sender_org, "%s", org);
    snprintf(i.sender_device, sizeof i.sender_device, "d1");
    memset(i.msg_id, tag, sizeof i.msg_id);
    i.created = 1000;
    i.expires = 5000;
    return i;
}

static const char *const devs1[] = { "d1" }, *const devs2[] = { "d1", "d2" };

static struct lsn_store *
open_store(const char *dir)
{
    struct lsn_store *s = NULL;

    assert_int_equal(lsn_store_open(dir, 64u << 20, &s), 0);
    return s;
}

static uint64_t
queued(struct lsn_store *s, const char *dev)
{
    uint64_t q = 0;

    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_queue_info(s, dev, &q, NULL), 0);
    lsn_store_batch_abort(s);
    return q;
}

static void
test_store_batch_commit_dedupe_fanout_ack(void **state)
{
    const char *dir = kf_tmpdir("store1");
    struct lsn_fanout fan = { "o2", 2, devs2, NULL };
    struct lsn_envelope_info i = info_make("o1", 1);
    struct lsn_submit_result res;
    struct lsn_store *s = open_store(dir);
    uint8_t env[100] = { 7 };
    int found;

    (void)state;
    /* An aborted batch leaves nothing. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res), 0);
    lsn_store_batch_abort(s);
    assert_int_equal(queued(s, "o2/d1"), 0);
    /* A committed one survives a reopen; a repeat is a duplicate. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res), 0);
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    s = open_store(dir);
    assert_int_equal(queued(s, "o2/d1"), 1);
    assert_int_equal(queued(s, "o2/d2"), 1);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1001, &res), 0);
    assert_int_equal(res.duplicate, 1);
    assert_int_equal(res.accepted, 1000);
    /* Another org's identical msg_id is another message. */
    i = info_make("o3", 1);
    assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1001, &res), 0);
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(lsn_store_ack(s, "o2/d1", "o1", i.msg_id, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(lsn_store_ack(s, "o2/d1", "o1", i.msg_id, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(lsn_store_ack(s, "o2/d2", "o1", i.msg_id, &found), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    {
        uint64_t m = 0, q = 0;
        assert_int_equal(lsn_store_counts(s, &m, &q), 0);
        assert_int_equal(m, 1);     /* o1's envelope deleted, o3's remains */
        assert_int_equal(q, 2);
    }
    lsn_store_close(&s);
}

static void
test_store_quota_stores_nothing_and_trim_gap(void **state)
{
    struct lsn_store_limits lim = { 3, 1u << 20, 100, 1u << 20, 2 };
    struct lsn_fanout fan = { "o2", 2, devs2, NULL };
    struct lsn_submit_result res;
    struct lsn_store *s = open_store(kf_tmpdir("store2"));
    struct lsn_store_gap *g = calloc(1, sizeof *g);
    uint8_t env[10] = { 1 };
    uint64_t q;
    int found;

    (void)state;
    assert_non_null(g);
    lsn_store_set_limits(s, &lim);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    for (uint8_t t = 1; t <= 2; t++) {
        struct lsn_envelope_info i = info_make("o1", t);
        assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res), 0);
    }
    {
        struct lsn_envelope_info i = info_make("o1", 3);
        assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res),
                         LSN_ERR_QUOTA);
    }
    assert_int_equal(lsn_store_queue_info(s, "o2/d1", &q, NULL), 0);
    assert_int_equal(q, 2);
    /* d1 keeps up, d2 does not: d2 is trimmed oldest first. */
    for (uint8_t t = 1; t <= 2; t++) {
        struct lsn_envelope_info i = info_make("o1", t);
        assert_int_equal(lsn_store_ack(s, "o2/d1", "o1", i.msg_id, &found), 0);
    }
    {
        struct lsn_envelope_info i = info_make("o1", 3);
        assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res), 0);
    }
    assert_int_equal(lsn_store_queue_info(s, "o2/d2", &q, g), 0);
    assert_int_equal(q, 2);
    assert_int_equal(g->trimmed, 1);
    assert_int_equal(g->n_refs, 1);
    assert_string_equal(g->orgs[0], "o1");
    assert_int_equal(g->ids[0][0], 1);
    lsn_store_batch_abort(s);
    lsn_store_close(&s);
    free(g);
}

/* A write transaction on a store folder with the LMDB API itself, as
 * damage would come: the store must be closed. */
static void
raw_begin(const char *dir, MDB_env **e, MDB_txn **t)
{
    assert_int_equal(mdb_env_create(e), 0);
    assert_int_equal(mdb_env_set_maxdbs(*e, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(*e, 64u << 20), 0);
    assert_int_equal(mdb_env_open(*e, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(*e, NULL, 0, t), 0);
}

static void
raw_commit(MDB_env *e, MDB_txn *t)
{
    assert_int_equal(mdb_txn_commit(t), 0);
    mdb_env_close(e);
}

/* The key of org's message tag in table "meta" (mk). */
static size_t
mk_of(uint8_t key[64], const char *org, uint8_t tag)
{
    size_t ol = strlen(org);

    key[0] = (uint8_t)ol;
    memcpy(key + 1, org, ol);
    memset(key + 1 + ol, tag, 16);
    return 1 + ol + 16;
}

/* The key of org's message tag in tables "env" and "meta": its number.
 * Records are keyed by it and hold their mk after a 36-byte header
 * (relay/record.h), so the test looks through them, as the store's index
 * does when it is rebuilt. */
static void
env_key_of(MDB_txn *t, const char *org, uint8_t tag, uint8_t num[8])
{
    uint8_t mk[64];
    size_t mkl = mk_of(mk, org, tag);
    MDB_dbi meta;
    MDB_cursor *c;
    MDB_val k, v;
    int rc, found = 0;

    assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
    assert_int_equal(mdb_cursor_open(t, meta, &c), 0);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !found;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if (v.mv_size >= 36 + mkl && memcmp((const uint8_t *)v.mv_data + 36, mk, mkl) == 0) {
            assert_int_equal(k.mv_size, 8);
            memcpy(num, k.mv_data, 8);
            found = 1;
        }
    mdb_cursor_close(c);
    assert_true(found);
}

/* Rewrites the stored envelope of org's message tag (store closed): cut
 * to keep bytes, or with byte at flipped, or (from != 0) replaced by the
 * intact stored value of org's message from. */
static void
env_tamper(const char *dir, const char *org, uint8_t tag, size_t keep, size_t at,
           uint8_t from)
{
    MDB_env *e;
    MDB_txn *t;
    MDB_dbi d;
    MDB_val k, v;
    uint8_t key[8], *copy;

    raw_begin(dir, &e, &t);
    assert_int_equal(mdb_dbi_open(t, "env", 0, &d), 0);
    env_key_of(t, org, from != 0 ? from : tag, key);
    k.mv_size = sizeof key;
    k.mv_data = key;
    assert_int_equal(mdb_get(t, d, &k, &v), 0);
    assert_non_null(copy = malloc(v.mv_size));
    memcpy(copy, v.mv_data, v.mv_size);
    if (from != 0)
        env_key_of(t, org, tag, key);
    else if (keep < v.mv_size)
        v.mv_size = keep;
    else
        copy[at] ^= 0x20;
    v.mv_data = copy;
    assert_int_equal(mdb_put(t, d, &k, &v, 0), 0);
    raw_commit(e, t);
    free(copy);
}

/* Bit rot and truncation on disk: the envelope whose bytes no longer match
 * the checksum stored with them is never served; it moves to quarantine,
 * every device queue waiting for it ends (status: dropped), quotas are
 * released, the count survives a reopen, and the intact messages beside
 * it are still delivered byte-identical.  So is an intact envelope found
 * under another message's number (the checksum is keyed with the message
 * it belongs to): it is never served as that message. */
static void
test_store_corrupted_envelope_quarantined(void **state)
{
    const char *dir = kf_tmpdir("store3");
    struct lsn_fanout fan = { "o2", 2, devs2, NULL };
    struct lsn_submit_result res;
    struct lsn_store_item *items = NULL;
    struct lsn_store_rstatus *st = NULL;
    struct lsn_store *s = open_store(dir);
    uint8_t env[300];
    uint64_t q = 0, nq = 0;
    int64_t acc, exp;
    size_t n = 0, n_st = 0;
    int known;

    (void)state;
    for (size_t i = 0; i < sizeof env; i++)
        env[i] = (uint8_t)i;
    assert_int_equal(lsn_store_batch_begin(s), 0);
    for (uint8_t t = 1; t <= 4; t++) {
        struct lsn_envelope_info i = info_make("o1", t);
        assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res), 0);
    }
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    env_tamper(dir, "o1", 2, SIZE_MAX, 8 + 150, 0);     /* one bit in the envelope */
    env_tamper(dir, "o1", 3, 5, 0, 0);                  /* cut inside the checksum */
    env_tamper(dir, "o1", 4, 0, 0, 1);                  /* message 1's, intact */

    s = open_store(dir);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_fetch(s, "o2/d1", 0, 10, 1u << 20, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].msg_id[0], 1);
    assert_int_equal(items[0].envelope_len, sizeof env);
    assert_memory_equal(items[0].envelope, env, sizeof env);
    lsn_store_items_free(items, n);
    assert_int_equal(lsn_store_quarantined(s, &nq), 0);
    assert_int_equal(nq, 3);
    /* The other device's queue lost them too: never served to anyone. */
    assert_int_equal(lsn_store_queue_info(s, "o2/d2", &q, NULL), 0);
    assert_int_equal(q, 1);
    assert_int_equal(lsn_store_fetch(s, "o2/d2", 0, 10, 1u << 20, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].msg_id[0], 1);
    lsn_store_items_free(items, n);
    {
        struct lsn_envelope_info i = info_make("o1", 2);
        assert_int_equal(lsn_store_status(s, "o1", i.msg_id, &known, &acc, &exp, &st,
                                          &n_st), 0);
        assert_int_equal(known, 1);
        assert_int_equal(n_st, 1);
        assert_int_equal(st[0].devices, 2);
        assert_int_equal(st[0].dropped, 2);
        assert_int_equal(st[0].delivered, 0);
        free(st);
        /* The tombstone answers a repeat: it is not stored again. */
        assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1001, &res), 0);
        assert_int_equal(res.duplicate, 1);
    }
    assert_int_equal(lsn_store_batch_commit(s), 0);
    {
        uint64_t m = 0, qq = 0;
        assert_int_equal(lsn_store_counts(s, &m, &qq), 0);
        assert_int_equal(m, 1);     /* only the intact envelope is held */
        assert_int_equal(qq, 2);    /* its two queue entries */
    }
    lsn_store_close(&s);
    s = open_store(dir);
    assert_int_equal(lsn_store_quarantined(s, &nq), 0);
    assert_int_equal(nq, 3);
    lsn_store_close(&s);
}

/* A commit that cannot write (the file may not grow: RLIMIT_FSIZE, as a
 * full disk) fails, and the handle refuses every later batch instead of
 * retrying; what that batch held is not in the store after a reopen.  Run
 * in a child process so the limit stays there. */
/* The devices a notice goes to (expiry): d1 of any org. */
static size_t
one_device(void *ctx, const char *org, const char **names, size_t max)
{
    (void)ctx;
    (void)org;
    if (max == 0)
        return 0;
    names[0] = "d1";
    return 1;
}

/* Deletes org's message tag and its envelope from the store (closed),
 * leaving its queue entries behind: damage a store should survive. */
static void
record_remove(const char *dir, const char *org, uint8_t tag)
{
    uint8_t num[8];
    MDB_env *e;
    MDB_txn *t;
    MDB_dbi meta, env;
    MDB_val k;

    raw_begin(dir, &e, &t);
    assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(t, "env", 0, &env), 0);
    env_key_of(t, org, tag, num);
    k.mv_size = sizeof num;
    k.mv_data = num;
    assert_int_equal(mdb_del(t, env, &k, NULL), 0);
    assert_int_equal(mdb_del(t, meta, &k, NULL), 0);
    raw_commit(e, t);
}

/* A queue entry whose message is gone (record and envelope) is removed
 * the first time a fetch meets it: the messages after it are served, the
 * device's count drops, and it is not counted as a quarantined envelope
 * (there was no message left to drop). */
static void
test_store_orphan_queue_entry_removed(void **state)
{
    struct lsn_fanout fan = { "o2", 1, devs1, NULL };
    struct lsn_submit_result res;
    struct lsn_store_item *items = NULL;
    char dir[600];
    struct lsn_store *s;
    uint8_t env[50] = { 9 };
    uint64_t q = 0, nq = 0;
    size_t n = 0;

    (void)state;
    snprintf(dir, sizeof dir, "%s", kf_tmpdir("store7"));
    s = open_store(dir);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    for (uint8_t t = 1; t <= 2; t++) {
        struct lsn_envelope_info i = info_make("o1", t);
        assert_int_equal(lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res), 0);
    }
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    record_remove(dir, "o1", 1);

    s = open_store(dir);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_fetch(s, "o2/d1", 0, 10, 1u << 20, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].msg_id[0], 2);
    lsn_store_items_free(items, n);
    assert_int_equal(lsn_store_queue_info(s, "o2/d1", &q, NULL), 0);
    assert_int_equal(q, 1);
    assert_int_equal(lsn_store_quarantined(s, &nq), 0);
    assert_int_equal(nq, 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    /* Gone for good: the next fetch from the start does not meet it. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_fetch(s, "o2/d1", 0, 10, 1u << 20, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].msg_id[0], 2);
    lsn_store_items_free(items, n);
    lsn_store_batch_abort(s);
    lsn_store_close(&s);
}

/* Stores a and b (one device each) in a new store in dir and delivers b:
 * b's record then outlives its envelope. */
static void
store_a_and_delivered_b(const char *dir, const struct lsn_envelope_info *a,
                        const struct lsn_envelope_info *b)
{
    struct lsn_fanout fan = { "o2", 1, devs1, NULL };
    struct lsn_submit_result res;
    struct lsn_store *s = open_store(dir);
    uint8_t env[40] = { 3 };
    int found = 0;

    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_submit(s, a, env, sizeof env, &fan, 1, 1000, &res), 0);
    assert_int_equal(lsn_store_submit(s, b, env, sizeof env, &fan, 1, 1000, &res), 0);
    assert_int_equal(lsn_store_ack(s, "o2/d1", b->sender_org, b->msg_id, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
}

/* Envelope numbers are never reused, even when the newest messages were
 * delivered before a restart (their records and expiry keys keep their
 * numbers): a message stored after the restart has its own expiry entry,
 * and every record expires. */
static void
test_store_numbers_never_reused(void **state)
{
    struct lsn_fanout fan = { "o2", 1, devs1, NULL };
    struct lsn_submit_result res;
    struct lsn_store_rstatus *st = NULL;
    struct lsn_envelope_info a = info_make("o1", 1), b = info_make("o1", 2),
                             c = info_make("o1", 3);
    char dir[600];
    struct lsn_store *s;
    uint8_t env[40] = { 3 };
    int64_t acc, exp;
    size_t n = 0, n_st = 0;
    int known;

    (void)state;
    snprintf(dir, sizeof dir, "%s", kf_tmpdir("store6"));
    store_a_and_delivered_b(dir, &a, &b);
    s = open_store(dir);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_submit(s, &c, env, sizeof env, &fan, 1, 1000, &res), 0);
    assert_int_equal(lsn_store_expire(s, 6000, 100, "r1", one_device, NULL, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(lsn_store_status(s, "o1", b.msg_id, &known, &acc, &exp, &st, &n_st), 0);
    assert_int_equal(known, 0);
    free(st);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
}

/* Message records are found by msg_id through an index held in memory
 * (relay/msgidx.h): it must follow the store exactly, through commits,
 * aborted batches, expiry and a restart that rebuilds it. */
static int
is_dup(struct lsn_store *s, const struct lsn_envelope_info *i)
{
    struct lsn_fanout fan = { "o2", 1, devs1, NULL };
    struct lsn_submit_result res;
    uint8_t env[40] = { 4 };

    assert_int_equal(lsn_store_submit(s, i, env, sizeof env, &fan, 1, 1000, &res), 0);
    return res.duplicate;
}

static int
known(struct lsn_store *s, const struct lsn_envelope_info *i)
{
    struct lsn_store_rstatus *st = NULL;
    int64_t acc, exp;
    size_t n = 0;
    int k = -1;

    assert_int_equal(lsn_store_status(s, i->sender_org, i->msg_id, &k, &acc, &exp,
                                      &st, &n), 0);
    free(st);
    return k;
}

static void
test_store_index_follows_the_store(void **state)
{
    struct lsn_envelope_info a = info_make("o1", 1), b = info_make("o1", 2),
                             c = info_make("o1", 3), a3 = info_make("o3", 1);
    char dir[600];
    struct lsn_store *s;
    size_t n = 0;

    (void)state;
    snprintf(dir, sizeof dir, "%s", kf_tmpdir("store8"));
    s = open_store(dir);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_false(is_dup(s, &a));
    assert_false(is_dup(s, &b));
    assert_true(is_dup(s, &a));
    assert_false(is_dup(s, &a3));           /* same msg_id, another org */
    assert_int_equal(lsn_store_batch_commit(s), 0);
    /* An aborted batch takes its messages out of the index too. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_false(is_dup(s, &c));
    assert_int_equal(known(s, &c), 1);
    lsn_store_batch_abort(s);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(known(s, &c), 0);
    assert_false(is_dup(s, &c));
    assert_true(is_dup(s, &b));
    assert_int_equal(lsn_store_batch_commit(s), 0);
    /* A restart rebuilds it from the records. */
    lsn_store_close(&s);
    s = open_store(dir);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_true(is_dup(s, &a));
    assert_true(is_dup(s, &b));
    assert_true(is_dup(s, &c));
    assert_true(is_dup(s, &a3));
    /* Expiry forgets the records; aborted, it forgets nothing. */
    assert_int_equal(lsn_store_expire(s, 6000, 100, "r1", one_device, NULL, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(known(s, &a), 0);
    lsn_store_batch_abort(s);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(known(s, &a), 1);
    assert_int_equal(lsn_store_expire(s, 6000, 100, "r1", one_device, NULL, &n), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    s = open_store(dir);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(known(s, &a), 0);
    assert_int_equal(known(s, &c), 0);
    assert_false(is_dup(s, &a));            /* a new message now */
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
}

/* Damage the index cannot work around: the record of the next number
 * to use survives the loss of the recorded next number (a delivered
 * message's record outlives its envelope), and a record damaged past
 * reading is removed when its message expires. */
static void
test_store_damaged_records(void **state)
{
    struct lsn_fanout fan = { "o2", 1, devs1, NULL };
    struct lsn_submit_result res;
    struct lsn_envelope_info a = info_make("o1", 1), b = info_make("o1", 2),
                             c = info_make("o1", 3);
    char dir[600];
    struct lsn_store *s;
    uint8_t env[40] = { 5 }, num[8];
    MDB_env *e;
    MDB_txn *t;
    MDB_dbi info, meta;
    MDB_val k = { 8, (void *)"env_next" }, v;
    MDB_stat st;
    size_t n = 0;

    (void)state;
    snprintf(dir, sizeof dir, "%s", kf_tmpdir("store9"));
    store_a_and_delivered_b(dir, &a, &b);
    raw_begin(dir, &e, &t);
    assert_int_equal(mdb_dbi_open(t, "info", 0, &info), 0);
    assert_int_equal(mdb_del(t, info, &k, NULL), 0);
    raw_commit(e, t);
    s = open_store(dir);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_submit(s, &c, env, sizeof env, &fan, 1, 1000, &res), 0);
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(known(s, &b), 1);      /* not overwritten by c's */
    assert_true(is_dup(s, &b));
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);

    /* a's record cut short: unreadable, so not indexed; expiry drops it. */
    raw_begin(dir, &e, &t);
    assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
    env_key_of(t, "o1", 1, num);
    k = (MDB_val){ 8, num };
    v = (MDB_val){ 10, (void *)"0123456789" };
    assert_int_equal(mdb_put(t, meta, &k, &v, 0), 0);
    raw_commit(e, t);
    s = open_store(dir);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(known(s, &a), 0);
    assert_int_equal(lsn_store_expire(s, 6000, 100, "r1", one_device, NULL, &n), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    raw_begin(dir, &e, &t);
    assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
    assert_int_equal(mdb_stat(t, meta, &st), 0);
    assert_int_equal(st.ms_entries, 0);
    raw_commit(e, t);
}

/* ---------------------------------------------------------- checksum */

/* The checksum written again with 32-bit multiplies only, as a machine
 * without 128-bit integers computes it (relay/record.c). */
static uint64_t
ref_fold(uint64_t a, uint64_t b)
{
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);

    return (hh + (lh >> 32) + (hl >> 32) + (mid >> 32)) ^ ((mid << 32) | (ll & 0xffffffffu));
}

static uint64_t
ref_checksum(const uint8_t *p, size_t n, uint64_t seed)
{
    static const uint64_t k[4] = { 0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full,
                                   0x165667b19e3779f9ull, 0xd6e8feb86659fd93ull };
    uint64_t h[4] = { seed ^ k[0], seed ^ k[1], seed ^ k[2], seed ^ k[3] };

    for (size_t i = 0; i < n; i += 32)
        for (int j = 0; j < 4; j++) {
            uint64_t w = 0, x;
            for (int b = 7; b >= 0; b--)
                w = (w << 8) | (i + 8 * (size_t)j + (size_t)b < n ? p[i + 8 * j + b] : 0);
            x = (h[j] ^ w) * k[1];
            h[j] = ((x << 31) | (x >> 33)) * k[2];
        }
    return ref_fold(ref_fold(h[0] ^ k[1], h[1] ^ k[2]) ^ ref_fold(h[2] ^ k[3], h[3] ^ k[0]),
                    (uint64_t)n ^ k[1]);
}

/* The envelope checksum: the same on every machine (the portable
 * multiply, pinned values: a change would make every stored envelope
 * look damaged), and it notices every single bit flipped in a 1 KiB
 * envelope, every truncation, a zeroed tail and another seed. */
static void
test_store_checksum(void **state)
{
    uint8_t buf[1306];
    uint64_t sum, x = 1;

    (void)state;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(x >> 56);
    }
    assert_int_equal(lsn_store_checksum((const uint8_t *)"liaison", 7, 0),
                     0xd983bfdbcbdd22e3ull);
    assert_int_equal(lsn_store_checksum(buf, sizeof buf, 42), 0x3c841fb48318b045ull);
    for (size_t n = 0; n <= 200; n++)
        for (uint64_t seed = 0; seed < 3; seed++)
            assert_int_equal(lsn_store_checksum(buf, n, seed), ref_checksum(buf, n, seed));
    assert_int_equal(lsn_store_checksum(buf, sizeof buf, 7), ref_checksum(buf, sizeof buf, 7));
    sum = lsn_store_checksum(buf, sizeof buf, 7);
    for (size_t i = 0; i < sizeof buf; i++)
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1u << b);
            assert_true(lsn_store_checksum(buf, sizeof buf, 7) != sum);
            buf[i] ^= (uint8_t)(1u << b);
        }
    for (size_t n = 0; n < sizeof buf; n++)
        assert_true(lsn_store_checksum(buf, n, 7) != sum);
    assert_true(lsn_store_checksum(buf, sizeof buf, 8) != sum);
    memset(buf + 1000, 0, sizeof buf - 1000);
    assert_true(lsn_store_checksum(buf, sizeof buf, 7) != sum);
}

/* ---------------------------------------------------------- one batch */

static const char *const batch_devs[] = { "o2/d1", "o2/d2", "o4/d1", "o1/d1", "o3/d1" };
#define N_BATCH_DEVS (sizeof batch_devs / sizeof batch_devs[0])


/* Operation k of a fixed pseudo-random script, applied to s; returns its
 * outcome (the result code and what it reported) as one number. */
static int64_t
script_op(struct lsn_store *s, uint32_t *rng, int64_t *now)
{
    static const char *const o2devs[] = { "d1", "d2" }, *const o4devs[] = { "d1" };
    struct lsn_fanout fan[2] = { { "o2", 2, o2devs, NULL }, { "o4", 1, o4devs, NULL } };
    struct lsn_submit_result res;
    uint32_t x, op;
    uint8_t env[64];
    int found = 0, r;
    size_t n = 0;

    *rng = *rng * 1103515245u + 12345u;
    x = *rng >> 8;
    op = x % 16;
    if (op < 8) {           /* submit, sometimes a repeat */
        struct lsn_envelope_info i = info_make(x & 0x100 ? "o3" : "o1", (uint8_t)(1 + x % 12));
        i.expires = 1000 + 50 * (int64_t)(1 + (x >> 4) % 8);
        memset(env, (int)(x & 0xff), sizeof env);
        r = lsn_store_submit(s, &i, env, sizeof env - (x % 7), fan, 1 + (x >> 3) % 2,
                             *now, &res);
        return r * 1000 + res.duplicate * 10 + (res.accepted != 0);
    }
    if (op < 14) {          /* an ack by o2/d1 or o4/d1: o2/d2 lags */
        struct lsn_envelope_info i = info_make(x & 0x100 ? "o3" : "o1", (uint8_t)(1 + x % 12));
        r = lsn_store_ack(s, batch_devs[(x >> 9) % 2 ? 2 : 0], i.sender_org, i.msg_id,
                          &found);
        return r * 1000 + found;
    }
    if (op == 14) {         /* a device sees its gap */
        r = lsn_store_gap_ack(s, batch_devs[(x >> 9) % 3], 1 + (x >> 11) % 3);
        return r * 1000;
    }
    *now += 40;             /* time passes: expiry and its notices */
    r = lsn_store_expire(s, *now, 1000, "r1", one_device, NULL, &n);
    return r * 1000 + (int64_t)n;
}

/* What a store holds, for comparing two: every queue (items and gap) and
 * the status of every message of the script. */
static void
store_same(struct lsn_store *a, struct lsn_store *b)
{
    struct lsn_store_gap *ga = calloc(1, sizeof *ga), *gb = calloc(1, sizeof *gb);

    assert_non_null(ga);
    assert_non_null(gb);
    assert_int_equal(lsn_store_batch_begin(a), 0);
    assert_int_equal(lsn_store_batch_begin(b), 0);
    for (size_t d = 0; d < N_BATCH_DEVS; d++) {
        uint64_t qa = 0, qb = 0;
        assert_int_equal(lsn_store_queue_info(a, batch_devs[d], &qa, ga), 0);
        assert_int_equal(lsn_store_queue_info(b, batch_devs[d], &qb, gb), 0);
        assert_int_equal(qa, qb);
        assert_int_equal(ga->trimmed, gb->trimmed);
        assert_int_equal(ga->n_refs, gb->n_refs);
    }
    for (int o = 0; o < 2; o++)
        for (uint8_t t = 1; t <= 12; t++) {
            struct lsn_envelope_info i = info_make(o ? "o3" : "o1", t);
            struct lsn_store_rstatus *ra = NULL, *rb = NULL;
            size_t na = 0, nb = 0;
            int64_t acc_a, acc_b, exp_a, exp_b;
            int ka, kb;
            assert_int_equal(lsn_store_status(a, i.sender_org, i.msg_id, &ka, &acc_a, &exp_a,
                                              &ra, &na), 0);
            assert_int_equal(lsn_store_status(b, i.sender_org, i.msg_id, &kb, &acc_b, &exp_b,
                                              &rb, &nb), 0);
            assert_int_equal(ka, kb);
            assert_int_equal(na, nb);
            for (size_t j = 0; j < na; j++) {
                assert_int_equal(ra[j].delivered, rb[j].delivered);
                assert_int_equal(ra[j].trimmed, rb[j].trimmed);
                assert_int_equal(ra[j].dropped, rb[j].dropped);
            }
            free(ra);
            free(rb);
        }
    lsn_store_batch_abort(a);
    lsn_store_batch_abort(b);
    free(ga);
    free(gb);
}

/* A batch is only a way of committing: the same operations (submits
 * under tight quotas and a device backlog that trims, repeats, acks, gap
 * acks, expiry with notices) give the same answers and the same store
 * whether all of them share one batch, as the relay's group commit does,
 * or each one commits alone.  Within a batch the store keeps the quota
 * and device records in memory and may take a nested transaction for an
 * operation: neither may change what any operation sees. */
static void
test_store_one_batch_same_as_one_by_one(void **state)
{
    struct lsn_store_limits lim = { 6, 1u << 20, 9, 1u << 20, 3 };
    char dir_a[600];
    struct lsn_store *a, *b;
    uint32_t ra = 7, rb = 7;
    int64_t now_a = 1000, now_b = 1000;
    int refused = 0, trimmed_any = 0;

    (void)state;
    snprintf(dir_a, sizeof dir_a, "%s", kf_tmpdir("store5a"));
    a = open_store(dir_a);
    b = open_store(kf_tmpdir("store5b"));
    lsn_store_set_limits(a, &lim);
    lsn_store_set_limits(b, &lim);
    assert_int_equal(lsn_store_batch_begin(a), 0);
    for (int k = 0; k < 600; k++) {
        int64_t oa = script_op(a, &ra, &now_a), ob;
        assert_int_equal(lsn_store_batch_begin(b), 0);
        ob = script_op(b, &rb, &now_b);
        assert_int_equal(lsn_store_batch_commit(b), 0);
        assert_int_equal(oa, ob);
        refused += oa / 1000 == LSN_ERR_QUOTA;
    }
    assert_int_equal(lsn_store_batch_commit(a), 0);
    /* The script did reach the limits it is about. */
    assert_true(refused > 0);
    assert_int_equal(lsn_store_batch_begin(a), 0);
    for (size_t d = 0; d < 3; d++) {
        struct lsn_store_gap *g = calloc(1, sizeof *g);
        uint64_t q;
        assert_non_null(g);
        assert_int_equal(lsn_store_queue_info(a, batch_devs[d], &q, g), 0);
        trimmed_any |= g->trimmed > 0 || g->n_refs > 0;
        free(g);
    }
    lsn_store_batch_abort(a);
    assert_true(trimmed_any);
    store_same(a, b);
    lsn_store_close(&a);
    a = open_store(dir_a);
    store_same(a, b);
    lsn_store_close(&a);
    lsn_store_close(&b);
}

/* One relay per data folder: a second open of a store in use is refused
 * with a reason that says so (the message index lives in the first
 * one's memory), and the store opens again once the first is closed.  A
 * store that cannot open says why through lsn_store_why(NULL). */
static void
test_store_in_use_refused(void **state)
{
    char dir[4096], file[4200];
    struct lsn_store *a, *b = NULL;
    FILE *fp;

    (void)state;
    snprintf(dir, sizeof dir, "%s", kf_tmpdir("store10"));
    a = open_store(dir);
    assert_int_equal(lsn_store_open(dir, 64u << 20, &b), LSN_ERR_IO);
    assert_null(b);
    assert_non_null(strstr(lsn_store_why(NULL), "in use by another relay"));
    lsn_store_close(&a);
    b = open_store(dir);
    lsn_store_close(&b);
    /* A data folder that is a file. */
    snprintf(file, sizeof file, "%s/not-a-folder", dir);
    assert_non_null(fp = fopen(file, "w"));
    fclose(fp);
    assert_int_equal(lsn_store_open(file, 64u << 20, &b), LSN_ERR_IO);
    assert_non_null(strstr(lsn_store_why(NULL), "not-a-folder"));
}

static void
test_store_failed_commit_is_final(void **state)
{
    const char *dir = kf_tmpdir("store4");
    char path[4200];
    struct stat st;
    pid_t pid;
    int status = -1;

    (void)state;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    assert_true((pid = fork()) >= 0);
    if (pid == 0) {
        struct lsn_fanout fan = { "o2", 2, devs2, NULL };
        struct lsn_envelope_info i = info_make("o1", 1);
        struct lsn_submit_result res;
        struct lsn_store *s = NULL;
        size_t big = 2u << 20;
        uint8_t *env = calloc(1, big);
        struct rlimit rl;
        int step = 1;

        signal(SIGXFSZ, SIG_IGN);
        if (env == NULL || lsn_store_open(dir, 64u << 20, &s) != 0)
            _exit(step);
        step++;
        if (lsn_store_batch_begin(s) != 0 ||
            lsn_store_submit(s, &i, env, 100, &fan, 1, 1000, &res) != 0 ||
            lsn_store_batch_commit(s) != 0 || stat(path, &st) != 0)
            _exit(step);
        step++;
        rl.rlim_cur = rl.rlim_max = (rlim_t)st.st_size;
        i = info_make("o1", 2);
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0 || lsn_store_batch_begin(s) != 0 ||
            lsn_store_submit(s, &i, env, big, &fan, 1, 1000, &res) != 0)
            _exit(step);
        step++;
        if (lsn_store_batch_commit(s) != LSN_ERR_IO || !lsn_store_failed(s) ||
            strstr(lsn_store_why(s), "commit") == NULL)
            _exit(step);
        step++;
        /* No second attempt through this handle. */
        if (lsn_store_batch_begin(s) != LSN_ERR_IO || lsn_store_batch_open(s))
            _exit(step);
        lsn_store_close(&s);
        free(env);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    {
        struct lsn_store *s = open_store(dir);
        struct lsn_envelope_info i = info_make("o1", 2);
        struct lsn_store_rstatus *rs = NULL;
        int64_t acc, exp;
        size_t n = 0;
        int known = 1;
        assert_int_equal(queued(s, "o2/d1"), 1);
        assert_int_equal(lsn_store_batch_begin(s), 0);
        assert_int_equal(lsn_store_status(s, "o1", i.msg_id, &known, &acc, &exp, &rs, &n), 0);
        assert_int_equal(known, 0);
        lsn_store_batch_abort(s);
        lsn_store_close(&s);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_batch_commit_dedupe_fanout_ack),
        cmocka_unit_test(test_store_in_use_refused),
        cmocka_unit_test(test_store_quota_stores_nothing_and_trim_gap),
        cmocka_unit_test(test_store_corrupted_envelope_quarantined),
        cmocka_unit_test(test_store_one_batch_same_as_one_by_one),
        cmocka_unit_test(test_store_checksum),
        cmocka_unit_test(test_store_numbers_never_reused),
        cmocka_unit_test(test_store_index_follows_the_store),
        cmocka_unit_test(test_store_damaged_records),
        cmocka_unit_test(test_store_orphan_queue_entry_removed),
        cmocka_unit_test(test_store_failed_commit_is_final),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
