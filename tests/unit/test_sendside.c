/* test_sendside.c: the sending side's fairness and honesty without a
 * network: a relay store gives each sending org a bounded share of what
 * may wait for one recipient org (one member filling an org's quota
 * leaves room for every other), and the share is released exactly where
 * the recipient's own quota is (ack, expiry, a dropped device). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/err.h"
#include "relay/store.h"
#include "tests/lib/keyfix.h"

static struct lsn_envelope_info
info_make(const char *org, uint8_t tag, int64_t expires)
{
    struct lsn_envelope_info i;

    memset(&i, 0, sizeof i);
    snprintf(i.sender_org, sizeof i.sender_org, "%s", org);
    snprintf(i.sender_device, sizeof i.sender_device, "d1");
    memset(i.msg_id, tag, sizeof i.msg_id);
    i.created = 1000;
    i.expires = expires;
    return i;
}

static const char *const devs_b[] = { "d1" };

static int
submit(struct lsn_store *s, const char *from, uint8_t tag, int64_t expires)
{
    struct lsn_fanout fan = { "b", 1, devs_b, NULL };
    struct lsn_envelope_info i = info_make(from, tag, expires);
    struct lsn_submit_result res;
    uint8_t env[64] = { 9 };
    int r;

    memset(&res, 0, sizeof res);
    if ((r = lsn_store_batch_begin(s)) != 0)
        return r;
    r = lsn_store_submit(s, &i, env, sizeof env, &fan, 1, 1000, &res);
    if (r != 0) {
        lsn_store_batch_abort(s);
        return r;
    }
    return lsn_store_batch_commit(s);
}

/* Org b may have 8 messages waiting; one sender's share is 25%: x is
 * refused at 2 (the store says whose share it is), c and y still get
 * through, and an ack or an expiry gives x its room back. */
static void
test_sendside_sender_share_of_recipient_quota(void **state)
{
    struct lsn_store_limits lim = { 1000, 1u << 20, 8, 1u << 20, 8 };
    struct lsn_store *s = NULL;
    uint8_t id[LSN_MSG_ID_LEN];
    size_t expired = 0;
    int found = 0;

    (void)state;
    assert_int_equal(lsn_store_open(kf_tmpdir("share"), 64u << 20, &s), 0);
    lsn_store_set_limits(s, &lim);
    lsn_store_set_share(s, 25);
    assert_int_equal(submit(s, "x", 1, 5000), 0);
    assert_int_equal(submit(s, "x", 2, 9000), 0);
    for (uint8_t t = 3; t < 8; t++)
        assert_int_equal(submit(s, "x", t, 9000), LSN_ERR_QUOTA);
    assert_non_null(strstr(lsn_store_why(s), "share"));
    /* x holds its share; every other sender still has room. */
    assert_int_equal(submit(s, "c", 1, 9000), 0);
    assert_int_equal(submit(s, "y", 1, 9000), 0);
    assert_int_equal(submit(s, "y", 2, 9000), 0);
    assert_int_equal(submit(s, "y", 3, 9000), LSN_ERR_QUOTA);
    /* b's device takes x's second message: x has room for one more. */
    memset(id, 2, sizeof id);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_ack(s, "b/d1", "x", id, &found), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    assert_int_equal(found, 1);
    assert_int_equal(submit(s, "x", 8, 9000), 0);
    assert_int_equal(submit(s, "x", 9, 9000), LSN_ERR_QUOTA);
    /* x's first message expires unread: its share is released too. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_expire(s, 6000, 100, "r1", NULL, NULL, &expired), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    assert_int_equal(expired, 1);
    assert_int_equal(submit(s, "x", 10, 9000), 0);
    /* A dropped device releases what waited for it. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_drop_device(s, "b/d1"), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    assert_int_equal(submit(s, "x", 11, 9000), 0);
    assert_int_equal(submit(s, "x", 12, 9000), 0);
    lsn_store_close(&s);
}

/* A share of 100 (or none set) leaves only the recipient's own quota. */
static void
test_sendside_share_off_is_quota_only(void **state)
{
    struct lsn_store_limits lim = { 1000, 1u << 20, 4, 1u << 20, 4 };
    struct lsn_store *s = NULL;

    (void)state;
    assert_int_equal(lsn_store_open(kf_tmpdir("share100"), 64u << 20, &s), 0);
    lsn_store_set_limits(s, &lim);
    lsn_store_set_share(s, 100);
    for (uint8_t t = 1; t <= 4; t++)
        assert_int_equal(submit(s, "x", t, 9000), 0);
    assert_int_equal(submit(s, "c", 1, 9000), LSN_ERR_QUOTA);
    lsn_store_close(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sendside_sender_share_of_recipient_quota),
        cmocka_unit_test(test_sendside_share_off_is_quota_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
