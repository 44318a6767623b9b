/* test_store_format.c: a store of format 5 taken over as format 6 in
 * place (relay/store_open.c): the relay opens it, its messages read back
 * byte for byte, its counters keep their values, and on a little-endian
 * machine its records keep their bytes; a format it does not know is
 * still refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "proto/err.h"
#include "relay/store.h"
#include "tests/lib/keyfix.h"

static const char *const devs2[] = { "d1", "d2" };

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

/* Every key and value of tables meta, dev and quota, in order, as one
 * byte string (malloc'd). */
static uint8_t *
tables_dump(const char *dir, size_t *len)
{
    const char *names[] = { "meta", "dev", "quota" };
    uint8_t *buf = NULL;
    size_t n = 0;
    MDB_env *e;
    MDB_txn *t;

    raw_begin(dir, &e, &t);
    for (size_t i = 0; i < 3; i++) {
        MDB_dbi d;
        MDB_cursor *c;
        MDB_val k, v;
        int rc;
        assert_int_equal(mdb_dbi_open(t, names[i], 0, &d), 0);
        assert_int_equal(mdb_cursor_open(t, d, &c), 0);
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            assert_non_null(buf = realloc(buf, n + 2 + k.mv_size + v.mv_size));
            buf[n++] = (uint8_t)k.mv_size;
            memcpy(buf + n, k.mv_data, k.mv_size);
            n += k.mv_size;
            buf[n++] = (uint8_t)v.mv_size;
            memcpy(buf + n, v.mv_data, v.mv_size);
            n += v.mv_size;
        }
        mdb_cursor_close(c);
    }
    raw_commit(e, t);
    *len = n;
    return buf;
}

/* info/name as an 8-byte number in the given byte order; -1: absent. */
static int64_t
info_count(const char *dir, const char *name, int big)
{
    MDB_env *e;
    MDB_txn *t;
    MDB_dbi info;
    MDB_val k = { strlen(name), (void *)name }, v;
    uint64_t n = 0;
    int rc;

    raw_begin(dir, &e, &t);
    assert_int_equal(mdb_dbi_open(t, "info", 0, &info), 0);
    rc = mdb_get(t, info, &k, &v);
    if (rc == 0) {
        assert_int_equal(v.mv_size, 8);
        for (size_t i = 0; i < 8; i++) {
            size_t at = big ? i : 7 - i;
            n = (n << 8) | ((const uint8_t *)v.mv_data)[at];
        }
    }
    raw_commit(e, t);
    return rc == 0 ? (int64_t)n : -1;
}

static void
info_put(const char *dir, const char *name, const void *val, size_t len)
{
    MDB_env *e;
    MDB_txn *t;
    MDB_dbi info;
    MDB_val k = { strlen(name), (void *)name }, v = { len, (void *)val };

    raw_begin(dir, &e, &t);
    assert_int_equal(mdb_dbi_open(t, "info", 0, &info), 0);
    assert_int_equal(mdb_put(t, info, &k, &v, 0), 0);
    raw_commit(e, t);
}

static void
info_put_be(const char *dir, const char *name, uint64_t n)
{
    uint8_t b[8];

    for (int i = 7; i >= 0; i--, n >>= 8)
        b[i] = (uint8_t)n;
    info_put(dir, name, b, sizeof b);
}

static int
host_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;

    memcpy(&first, &one, 1);
    return first == 1;
}

/* Makes the store in dir look as a format 5 relay on this machine left
 * it: format "5", the info counters big-endian (the records' numbers
 * were in this machine's byte order, which on a little-endian machine
 * is format 6's). */
static void
make_format5(const char *dir, uint64_t quarantined)
{
    int64_t next = info_count(dir, "env_next", 0);

    assert_true(next > 0);
    info_put(dir, "format", "5", 1);
    info_put_be(dir, "env_next", (uint64_t)next);
    info_put_be(dir, "quarantined", quarantined);
}

static void
fetch_one(struct lsn_store *s, const char *dev, uint8_t tag, const uint8_t *env,
          size_t len)
{
    struct lsn_store_item *it = NULL;
    size_t n = 0;

    assert_int_equal(lsn_store_fetch(s, dev, 0, 8, 1u << 20, &it, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(it[0].org, "o1");
    assert_int_equal(it[0].msg_id[0], tag);
    assert_int_equal(it[0].envelope_len, len);
    assert_memory_equal(it[0].envelope, env, len);
    lsn_store_items_free(it, n);
}

/* A format 5 store: message a waits for o2/d1 and o2/d2, b was delivered
 * (a tombstone), three envelopes were quarantined.  Taken over, it reads
 * the same: a is fetched byte for byte, b is a duplicate, the quarantine
 * count is 3, status answers, new messages take the next numbers; the
 * counters are rewritten little-endian and marked format 6. */
static void
test_store_format5_taken_over_in_place(void **state)
{
    const char *dir = kf_tmpdir("fmt5");
    struct lsn_fanout fan = { "o2", 2, devs2, NULL };
    struct lsn_envelope_info a = info_make("o1", 1), b = info_make("o1", 2),
                             c = info_make("o1", 3);
    struct lsn_store_rstatus *st = NULL;
    struct lsn_submit_result res;
    struct lsn_store *s = NULL;
    uint8_t env_a[300], env_b[50] = { 2 }, env_c[60] = { 3 }, *before, *after;
    size_t lb, la, n = 0;
    uint64_t q = 0;
    int64_t acc, exp;
    int found = 0, known = 0;

    (void)state;
    for (size_t i = 0; i < sizeof env_a; i++)
        env_a[i] = (uint8_t)(i * 13 + 1);
    assert_int_equal(lsn_store_open(dir, 64u << 20, &s), 0);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_submit(s, &a, env_a, sizeof env_a, &fan, 1, 1000, &res), 0);
    assert_int_equal(lsn_store_submit(s, &b, env_b, sizeof env_b, &fan, 1, 1000, &res), 0);
    assert_int_equal(lsn_store_ack(s, "o2/d1", "o1", b.msg_id, &found), 0);
    assert_int_equal(lsn_store_ack(s, "o2/d2", "o1", b.msg_id, &found), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    assert_int_equal(info_count(dir, "env_next", 0), 3);
    make_format5(dir, 3);
    before = tables_dump(dir, &lb);

    /* Opened: format 6, the counters little-endian, and on this machine
     * (little-endian) the records as they were. */
    assert_int_equal(lsn_store_open(dir, 64u << 20, &s), 0);
    lsn_store_close(&s);
    after = tables_dump(dir, &la);
    if (host_little_endian()) {
        assert_int_equal(la, lb);
        assert_memory_equal(after, before, lb);
    }
    free(before);
    free(after);
    assert_int_equal(info_count(dir, "env_next", 0), 3);
    assert_int_equal(info_count(dir, "quarantined", 0), 3);

    assert_int_equal(lsn_store_open(dir, 64u << 20, &s), 0);
    assert_int_equal(lsn_store_quarantined(s, &q), 0);
    assert_int_equal(q, 3);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    fetch_one(s, "o2/d1", 1, env_a, sizeof env_a);
    fetch_one(s, "o2/d2", 1, env_a, sizeof env_a);
    assert_int_equal(lsn_store_submit(s, &b, env_b, sizeof env_b, &fan, 1, 2000, &res), 0);
    assert_int_equal(res.duplicate, 1);
    assert_int_equal(res.accepted, 1000);
    assert_int_equal(lsn_store_status(s, "o1", a.msg_id, &known, &acc, &exp, &st, &n), 0);
    assert_true(known);
    assert_int_equal(acc, 1000);
    assert_int_equal(exp, 5000);
    assert_int_equal(n, 1);
    assert_int_equal(st[0].devices, 2);
    assert_int_equal(st[0].delivered, 0);
    free(st);
    assert_int_equal(lsn_store_ack(s, "o2/d1", "o1", a.msg_id, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(lsn_store_submit(s, &c, env_c, sizeof env_c, &fan, 1, 2000, &res), 0);
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);
    assert_int_equal(info_count(dir, "env_next", 0), 4);

    /* A format this relay does not know is refused, and says which. */
    info_put(dir, "format", "7", 1);
    assert_int_equal(lsn_store_open(dir, 64u << 20, &s), LSN_ERR_IO);
    assert_non_null(strstr(lsn_store_why(NULL), "format 7"));
    kf_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_format5_taken_over_in_place),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
