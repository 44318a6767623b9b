/* test_unknown_key.c: the relay's record of device keys that left their
 * org's bundle (relay/store_gone.c, the removed-key record of
 * relay/record.h): a record survives a reopen, a key listed again is
 * forgotten, the table keeps at most LSN_STORE_GONE_MAX keys with the
 * oldest removal forgotten first, and the record's decoder refuses every
 * damaged value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/err.h"
#include "relay/record.h"
#include "relay/store.h"
#include "tests/lib/keyfix.h"

static struct lsn_store *
open_store(const char *dir)
{
    struct lsn_store *s = NULL;

    assert_int_equal(lsn_store_open(dir, 256u << 20, &s), 0);
    return s;
}

/* Key number n: its bytes are n, big-endian, then zeros. */
static void
key_of(uint8_t key[32], uint32_t n)
{
    memset(key, 0, 32);
    key[0] = (uint8_t)(n >> 24);
    key[1] = (uint8_t)(n >> 16);
    key[2] = (uint8_t)(n >> 8);
    key[3] = (uint8_t)n;
}

static int
gone_get(struct lsn_store *s, const uint8_t key[32], struct lsn_store_gone *g)
{
    int r;

    assert_int_equal(lsn_store_batch_begin(s), 0);
    r = lsn_store_gone_get(s, key, g);
    lsn_store_batch_abort(s);
    return r;
}

static void
test_unknown_key_gone_survives_reopen(void **state)
{
    const char *dir = kf_tmpdir("gone1");
    struct lsn_store *s = open_store(dir);
    struct lsn_store_gone g;
    uint8_t k1[32], k2[32];

    (void)state;
    key_of(k1, 1);
    key_of(k2, 2);
    assert_int_equal(gone_get(s, k1, &g), LSN_ERR_NOT_FOUND);
    /* An aborted batch remembers nothing. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_gone_put(s, k1, "police", 4, 1796000000), 0);
    lsn_store_batch_abort(s);
    assert_int_equal(gone_get(s, k1, &g), LSN_ERR_NOT_FOUND);
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_gone_put(s, k1, "police", 4, 1796000000), 0);
    assert_int_equal(lsn_store_gone_put(s, k2, "bank", 7, 1796000001), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);

    s = open_store(dir);
    assert_int_equal(gone_get(s, k1, &g), 0);
    assert_string_equal(g.org, "police");
    assert_int_equal(g.version, 4);
    assert_int_equal(g.issued, 1796000000);
    /* Removed again by a later bundle: the later one is named. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    assert_int_equal(lsn_store_gone_put(s, k1, "police", 9, 1796000100), 0);
    /* Listed again: forgotten (and forgetting what is not there is no
     * error). */
    assert_int_equal(lsn_store_gone_del(s, k2), 0);
    assert_int_equal(lsn_store_gone_del(s, k2), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    assert_int_equal(gone_get(s, k1, &g), 0);
    assert_int_equal(g.version, 9);
    assert_int_equal(gone_get(s, k2, &g), LSN_ERR_NOT_FOUND);
    /* Without a batch: refused, not a crash. */
    assert_int_equal(lsn_store_gone_get(s, k1, &g), LSN_ERR_INTERNAL);
    lsn_store_close(&s);
    kf_rmdir(dir);
}

#define GONE_MAX_TEST 64u

static void
test_unknown_key_gone_bounded_oldest_first(void **state)
{
    const char *dir = kf_tmpdir("gone2");
    struct lsn_store *s = open_store(dir);
    struct lsn_store_gone g;
    uint8_t key[32];
    uint32_t n = 0;

    (void)state;
    /* Fill the table exactly, a batch at a time, under a small bound
     * (the same code as the real one, 65 536, without its writes). */
    lsn_store_set_gone_max(s, GONE_MAX_TEST);
    while (n < GONE_MAX_TEST) {
        assert_int_equal(lsn_store_batch_begin(s), 0);
        for (uint32_t i = 0; i < 16 && n < GONE_MAX_TEST; i++, n++) {
            key_of(key, n);
            assert_int_equal(lsn_store_gone_put(s, key, "churn", n, 1796000000), 0);
        }
        assert_int_equal(lsn_store_batch_commit(s), 0);
    }
    key_of(key, 0);
    assert_int_equal(gone_get(s, key, &g), 0);
    /* Key 1 is removed again: it becomes the newest record. */
    assert_int_equal(lsn_store_batch_begin(s), 0);
    key_of(key, 1);
    assert_int_equal(lsn_store_gone_put(s, key, "churn", 99, 1796000000), 0);
    /* Two more keys past the bound: keys 0 and 2, the oldest, go. */
    key_of(key, n);
    assert_int_equal(lsn_store_gone_put(s, key, "churn", n, 1796000000), 0);
    key_of(key, n + 1);
    assert_int_equal(lsn_store_gone_put(s, key, "churn", n + 1, 1796000000), 0);
    assert_int_equal(lsn_store_batch_commit(s), 0);
    lsn_store_close(&s);

    s = open_store(dir);
    lsn_store_set_gone_max(s, GONE_MAX_TEST);
    key_of(key, 0);
    assert_int_equal(gone_get(s, key, &g), LSN_ERR_NOT_FOUND);
    key_of(key, 2);
    assert_int_equal(gone_get(s, key, &g), LSN_ERR_NOT_FOUND);
    key_of(key, 1);
    assert_int_equal(gone_get(s, key, &g), 0);
    assert_int_equal(g.version, 99);
    key_of(key, 3);
    assert_int_equal(gone_get(s, key, &g), 0);
    key_of(key, n + 1);
    assert_int_equal(gone_get(s, key, &g), 0);
    assert_int_equal(g.version, n + 1);
    lsn_store_close(&s);
    kf_rmdir(dir);
}

static void
test_unknown_key_gone_record_refuses_damage(void **state)
{
    struct lsn_rec_gone g, back;
    uint8_t v[LSN_REC_GONE_MAX + 1];
    size_t len;

    (void)state;
    memset(&g, 0, sizeof g);
    g.seq = 5;
    g.version = 12;
    g.issued = -3;
    snprintf(g.org, sizeof g.org, "police");
    assert_int_equal(len = lsn_rec_gone_encode(v, &g), LSN_REC_GONE_MIN + 6);
    assert_int_equal(lsn_rec_gone_decode(v, len, &back), 0);
    assert_int_equal(back.seq, 5);
    assert_int_equal(back.version, 12);
    assert_int_equal(back.issued, -3);
    assert_string_equal(back.org, "police");
    /* Every shorter value, and a longer one, is refused. */
    for (size_t l = 0; l < len; l++)
        assert_int_equal(lsn_rec_gone_decode(v, l, &back), LSN_ERR_CORRUPT);
    v[len] = 'x';
    assert_int_equal(lsn_rec_gone_decode(v, len + 1, &back), LSN_ERR_CORRUPT);
    /* An org length of 0 or past the most an org id holds. */
    v[LSN_REC_GONE_MIN - 1] = 0;
    assert_int_equal(lsn_rec_gone_decode(v, LSN_REC_GONE_MIN, &back), LSN_ERR_CORRUPT);
    v[LSN_REC_GONE_MIN - 1] = LSN_ENV_ORG_MAX + 1;
    assert_int_equal(lsn_rec_gone_decode(v, len, &back), LSN_ERR_CORRUPT);
    /* A NUL inside the org. */
    assert_int_equal(lsn_rec_gone_encode(v, &g), len);
    v[LSN_REC_GONE_MIN + 2] = '\0';
    assert_int_equal(lsn_rec_gone_decode(v, len, &back), LSN_ERR_CORRUPT);
    assert_string_equal(back.org, "");
    /* Nothing to encode without an org. */
    g.org[0] = '\0';
    assert_int_equal(lsn_rec_gone_encode(v, &g), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_key_gone_survives_reopen),
        cmocka_unit_test(test_unknown_key_gone_bounded_oldest_first),
        cmocka_unit_test(test_unknown_key_gone_record_refuses_damage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
