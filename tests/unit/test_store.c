/* test_store.c: the relay store (relay/store.h) without a network: batch
 * semantics (nothing survives an aborted batch, a committed one survives a
 * reopen), dedupe by (sender org, msg_id), fan-out, ack-then-delete,
 * quotas that store nothing, and trimming with the exact gap. */
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

static const char *const devs2[] = { "d1", "d2" };

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_batch_commit_dedupe_fanout_ack),
        cmocka_unit_test(test_store_quota_stores_nothing_and_trim_gap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
