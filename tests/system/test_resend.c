/* test_resend.c: a stored send read back from the local store, through a
 * real liaison-relay and a real client: refused as sealed to a key its
 * recipient has replaced, the stored content is sealed again and goes
 * out under a new msg_id; and a sent record kept without a digest is
 * still told apart from another alert by its sealed content (an
 * idempotent retry, a repeated `send` after exit 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "client/client.h"
#include "keys/util.h"
#include "proto/err.h"
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

/* Two orgs with their bundles at the relay, and a client of o1's d1. */
static void
up(const char *tag, struct lsn_client **c)
{
    assert_int_equal(rf_up_client(&F, tag, "bootstrap_per_minute 600", c), 0);
}

/* o2 publishes a new encryption key: the relay refuses a wrap to the
 * old one as STALE_KEY.  The client's submit seals the stored content
 * again to the fresh bundle and sends that, dropping the stale record. */
static void
test_resend_stale_key_reseals(void **state)
{
    struct lsn_client *c = NULL;
    Liaison__StoredSent *rec = NULL;
    Liaison__Alert a;
    const char *to[1];
    uint8_t id[16], final[16], *env = NULL;
    size_t len = 0;

    (void)state;
    up("resend-stale", &c);
    to[0] = F.orgs[1].id;
    sf_alert_sample(&a);
    assert_int_equal(lsn_client_seal(c, &a, to, 1, lsn_now(), 3600, NULL, id,
                                     &env, &len), 0);
    free(env);
    assert_int_equal(rf_next_bundle(&F, 1, NULL, 1), 0);
    assert_int_equal(rf_publish(&F, 1), 0);

    assert_int_equal(lsn_client_submit(c, id, final), 0);
    assert_memory_not_equal(final, id, 16);
    assert_int_equal(lsn_local_get_sent(c->p->store, id, &rec), LSN_ERR_NOT_FOUND);
    assert_int_equal(lsn_local_get_sent(c->p->store, final, &rec), 0);
    assert_true(rec->submitted);
    assert_int_equal(rec->refused, 0);
    lsn_pb_free((ProtobufCMessage *)rec);
    lsn_client_close(&c);
}

/* Rewrites the sent record of id without its digest, as a record written
 * before digests were kept: only its sealed content can say what it is. */
static void
drop_digest(struct lsn_client *c, const uint8_t id[16])
{
    Liaison__StoredSent *rec = NULL;
    size_t dl;

    assert_int_equal(lsn_local_get_sent(c->p->store, id, &rec), 0);
    assert_int_equal(rec->digest.len, 32);
    assert_true(rec->sealed_content.len > LSN_LOCAL_SEAL_OVERHEAD);
    dl = rec->digest.len;
    rec->digest.len = 0;
    assert_int_equal(lsn_local_del_sent(c->p->store, id), 0);
    assert_int_equal(lsn_local_put_sent(c->p->store, id, rec), 0);
    rec->digest.len = dl;
    lsn_pb_free((ProtobufCMessage *)rec);
}

static void
test_resend_record_without_digest_compares_content(void **state)
{
    struct lsn_client *c = NULL;
    Liaison__Alert a;
    const char *to[1];
    uint8_t id[16], again[16], *env = NULL;
    size_t len = 0;

    (void)state;
    up("resend-nodigest", &c);
    to[0] = F.orgs[1].id;
    sf_alert_sample(&a);
    assert_int_equal(lsn_client_seal(c, &a, to, 1, lsn_now(), 3600, "retry-1", id,
                                     &env, &len), 0);
    free(env);
    drop_digest(c, id);

    /* The same alert: found unsent, and the key's retry is that record. */
    assert_int_equal(lsn_client_find_unsent(c, &a, to, 1, lsn_now(), again), 0);
    assert_memory_equal(again, id, 16);
    assert_int_equal(lsn_client_seal(c, &a, to, 1, lsn_now(), 3600, "retry-1",
                                     again, &env, &len), 0);
    free(env);
    assert_memory_equal(again, id, 16);

    /* Another alert: not that send, and the key is refused for it. */
    a.title = "another alert";
    assert_int_equal(lsn_client_find_unsent(c, &a, to, 1, lsn_now(), again),
                     LSN_ERR_NOT_FOUND);
    assert_int_equal(lsn_client_seal(c, &a, to, 1, lsn_now(), 3600, "retry-1",
                                     again, &env, &len), LSN_ERR_INVALID);
    assert_null(env);
    lsn_client_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_resend_stale_key_reseals, down),
        cmocka_unit_test_teardown(test_resend_record_without_digest_compares_content,
                                  down),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
