/* test_review_relay.c: relay defects at the seams of the delivery
 * invariant's parts: a format 4 store taken over with its senders' shares
 * counted, and the memory a peer relay's answers may hold. */
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

#include "proto/err.h"
#include "relay/store.h"
#include "tests/lib/keyfix.h"

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_review_format4_takeover_counts_shares),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
