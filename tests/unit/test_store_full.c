/* test_store_full.c: the local store at its map ceiling: a write that
 * does not fit fails with LSN_ERR_STORE_FULL (temporary: a fetch leaves
 * the message at the relay), the map grows up to a raised ceiling, and
 * pruning old read messages keeps the audit chain whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "client/local.h"
#include "client/seal.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"
#include "tests/lib/sealfix.h"

#define NOW SF_T0
#define BIG (600u * 1024u)

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

/* A message from A to B with a BIG attachment, opened by B. */
static void
big_opened(uint8_t **env, size_t *len, struct lsn_opened **o)
{
    static uint8_t data[BIG], sum[32];
    Liaison__Alert a;
    Liaison__Attachment at = LIAISON__ATTACHMENT__INIT, *ats[1] = { &at };
    struct lsn_seal_params p = { .created = NOW, .expires = NOW + 3600,
                                 .bundle_version = 1 };
    const struct lsn_bundle *to[1] = { B.bundle };

    randombytes_buf(data, sizeof data);
    crypto_hash_sha256(sum, data, sizeof data);
    at.name = "big.bin";
    at.media_type = "application/octet-stream";
    at.sha256 = (ProtobufCBinaryData){ 32, sum };
    at.data = (ProtobufCBinaryData){ sizeof data, data };
    sf_alert_sample(&a);
    a.attachments = ats;
    a.n_attachments = 1;
    assert_int_equal(lsn_seal(&a, A.cred, to, 1, &p, env, len), 0);
    assert_int_equal(lsn_open(*env, *len, B.cred, A.bundle, NOW, NULL, NULL, o), 0);
}

static int
count_pruned(void *ctx, const char *org, const uint8_t msg_id[16], int64_t received,
             uint64_t bytes)
{
    size_t *n = ctx;

    (void)msg_id;
    (void)received;
    assert_string_equal(org, "org-a");
    assert_true(bytes > BIG);
    (*n)++;
    return 0;
}

static void
test_store_full_is_temporary_then_grows_then_prunes(void **state)
{
    const char *dir = kf_tmpdir("storefull");
    struct lsn_local *s = NULL;
    struct lsn_opened *o = NULL;
    struct lsn_local_msg *m = NULL;
    uint8_t key[32], *env = NULL;
    size_t len = 0, n = 0, seen = 0;
    uint64_t bytes = 0, entries = 0, bad = 0;

    (void)state;
    memset(key, 7, sizeof key);
    big_opened(&env, &len, &o);
    assert_int_equal(lsn_local_open(dir, key, &s), 0);
    assert_int_equal(lsn_local_set_map_max(s, 100), LSN_ERR_USAGE);
    assert_int_equal(lsn_local_set_map_max(s, LSN_LOCAL_MAP_MIN), 0);

    /* Does not fit: a temporary error, not a limit; nothing stored. */
    assert_int_equal(lsn_local_put_received(s, o, env, len, A.cred->keys->sign_pk,
                                            NOW), LSN_ERR_STORE_FULL);
    assert_int_equal(lsn_local_replay_check(s, o->sender_org, o->msg_id, 0), 0);
    assert_int_equal(lsn_local_get_received(s, "org-a", o->msg_id, &m),
                     LSN_ERR_NOT_FOUND);

    /* A higher ceiling: the map grows on the next write. */
    assert_int_equal(lsn_local_set_map_max(s, 64u << 20), 0);
    assert_int_equal(lsn_local_put_received(s, o, env, len, A.cred->keys->sign_pk,
                                            NOW), 0);
    assert_int_equal(lsn_local_audit(s, NOW, "receive", "msg from org-a"), 0);

    /* Unread messages are kept; read ones before the date go. */
    assert_int_equal(lsn_local_prune_read(s, NOW + 10, 0, count_pruned, &seen, &n,
                                          &bytes), 0);
    assert_int_equal(n, 0);
    assert_int_equal(lsn_local_mark_read(s, "org-a", o->msg_id), 0);
    assert_int_equal(lsn_local_prune_read(s, NOW, 0, count_pruned, &seen, &n,
                                          &bytes), 0);
    assert_int_equal(n, 0);                 /* received at NOW: not before it */
    assert_int_equal(lsn_local_prune_read(s, NOW + 10, 1, count_pruned, &seen, &n,
                                          &bytes), 0);
    assert_int_equal(n, 1);                 /* dry run: counted, kept */
    assert_int_equal(lsn_local_get_received(s, "org-a", o->msg_id, &m), 0);
    lsn_local_msg_free(&m);
    assert_int_equal(lsn_local_prune_read(s, NOW + 10, 0, count_pruned, &seen, &n,
                                          &bytes), 0);
    assert_int_equal(n, 1);
    assert_int_equal(seen, 2);
    assert_int_equal(lsn_local_get_received(s, "org-a", o->msg_id, &m),
                     LSN_ERR_NOT_FOUND);
    assert_null(m);
    /* Still seen: a redelivery is a replay, not a new message. */
    assert_int_equal(lsn_local_replay_check(s, o->sender_org, o->msg_id, 0),
                     LSN_ERR_REPLAY);
    assert_int_equal(lsn_local_prune_read(s, NOW + 10, 0, NULL, NULL, &n, &bytes), 0);
    assert_int_equal(n, 0);                 /* already pruned */
    assert_int_equal(lsn_local_audit(s, NOW, "prune", "1 removed"), 0);
    assert_int_equal(lsn_local_audit_verify(s, &entries, &bad), 0);
    assert_int_equal(entries, 2);

    lsn_local_close(&s);
    lsn_opened_destroy(&o);
    free(env);
    kf_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_full_is_temporary_then_grows_then_prunes),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
