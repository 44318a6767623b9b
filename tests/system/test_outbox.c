/* test_outbox.c: the summary a sent record keeps for `liaison sent`,
 * through a real liaison-relay and a real client: it outlives the
 * content wiped when the relay takes the envelope, says when `liaison
 * seal` wrote it to a file, and opens only under its own record (a
 * summary moved to another msg_id, or altered, is refused as corrupt,
 * never shown). */
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

/* Seals a to o2 into the store (the client's offline flag as set). */
static void
seal_one(struct lsn_client *c, const Liaison__Alert *a, uint8_t id[16])
{
    const char *to[1] = { F.orgs[1].id };
    uint8_t *env = NULL;
    size_t len = 0;

    assert_int_equal(lsn_client_seal(c, a, to, 1, lsn_now(), 3600, NULL, id, &env,
                                     &len), 0);
    free(env);
}

/* The relay takes the send and the content is wiped; the summary stays
 * and gives the title, TLP, priority and type. */
static void
test_outbox_summary_outlives_content(void **state)
{
    struct lsn_client *c = NULL;
    Liaison__StoredSent *rec = NULL;
    struct lsn_sent_summary sum;
    Liaison__Alert a;
    uint8_t id[16];

    (void)state;
    up("outbox-kept", &c);
    sf_alert_sample(&a);
    a.title = "Summary outlives the content";
    a.tlp = LIAISON__TLP__TLP_RED;
    seal_one(c, &a, id);
    assert_int_equal(lsn_client_submit(c, id, id), 0);
    assert_int_equal(lsn_local_get_sent(c->p->store, id, &rec), 0);
    assert_true(rec->submitted);
    assert_int_equal(rec->sealed_content.len, 0);
    assert_true(rec->sealed_summary.len > LSN_LOCAL_SEAL_OVERHEAD);
    /* Sealed: the title is not in the record in the clear. */
    assert_null(memmem(rec->sealed_summary.data, rec->sealed_summary.len,
                       "outlives", 8));

    assert_int_equal(lsn_client_sent_summary(c, id, rec, &sum), 0);
    assert_true(sum.known);
    assert_string_equal(sum.title, "Summary outlives the content");
    assert_int_equal(sum.tlp, LIAISON__TLP__TLP_RED);
    assert_int_equal(sum.priority, LIAISON__PRIORITY__PRIORITY_URGENT);
    assert_int_equal(sum.type, LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT);
    assert_false(sum.sealed_only);
    assert_true(sum.sealed_us / 1000000 >= rec->created - 1);
    lsn_pb_free((ProtobufCMessage *)rec);
    lsn_client_close(&c);
}

/* `liaison seal` (offline) marks its summary: no relay was involved. */
static void
test_outbox_seal_marks_file(void **state)
{
    struct lsn_client *c = NULL;
    Liaison__StoredSent *rec = NULL;
    struct lsn_sent_summary sum;
    Liaison__Alert a;
    uint8_t id[16], warm[16];

    (void)state;
    up("outbox-sealed", &c);
    sf_alert_sample(&a);
    seal_one(c, &a, warm);          /* o2's bundle is held from here on */
    a.title = "Carried on a stick";
    c->offline = 1;
    seal_one(c, &a, id);
    assert_int_equal(lsn_local_get_sent(c->p->store, id, &rec), 0);
    assert_int_equal(lsn_client_sent_summary(c, id, rec, &sum), 0);
    assert_true(sum.known);
    assert_true(sum.sealed_only);
    assert_string_equal(sum.title, "Carried on a stick");
    lsn_pb_free((ProtobufCMessage *)rec);
    lsn_client_close(&c);
}

/* A summary opens only under the msg_id it was sealed for, and not once
 * altered: either is LSN_ERR_CORRUPT with nothing shown. */
static void
test_outbox_summary_bound_to_record(void **state)
{
    struct lsn_client *c = NULL;
    Liaison__StoredSent *rec = NULL;
    struct lsn_sent_summary sum;
    Liaison__Alert a;
    uint8_t id[16], other[16];

    (void)state;
    up("outbox-bound", &c);
    sf_alert_sample(&a);
    seal_one(c, &a, id);
    assert_int_equal(lsn_client_submit(c, id, id), 0);
    assert_int_equal(lsn_local_get_sent(c->p->store, id, &rec), 0);

    /* Moved to another record. */
    memcpy(other, id, 16);
    other[0] ^= 1;
    assert_int_equal(lsn_local_put_sent(c->p->store, other, rec), 0);
    lsn_pb_free((ProtobufCMessage *)rec);
    assert_int_equal(lsn_local_get_sent(c->p->store, other, &rec), 0);
    assert_int_equal(lsn_client_sent_summary(c, other, rec, &sum), LSN_ERR_CORRUPT);
    assert_false(sum.known);
    assert_string_equal(sum.title, "");
    lsn_pb_free((ProtobufCMessage *)rec);

    /* One bit changed in place. */
    assert_int_equal(lsn_local_get_sent(c->p->store, id, &rec), 0);
    rec->sealed_summary.data[rec->sealed_summary.len - 1] ^= 1;
    assert_int_equal(lsn_local_del_sent(c->p->store, id), 0);
    assert_int_equal(lsn_local_put_sent(c->p->store, id, rec), 0);
    lsn_pb_free((ProtobufCMessage *)rec);
    assert_int_equal(lsn_local_get_sent(c->p->store, id, &rec), 0);
    assert_int_equal(lsn_client_sent_summary(c, id, rec, &sum), LSN_ERR_CORRUPT);
    assert_false(sum.known);
    lsn_pb_free((ProtobufCMessage *)rec);
    lsn_client_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_outbox_summary_outlives_content, down),
        cmocka_unit_test_teardown(test_outbox_seal_marks_file, down),
        cmocka_unit_test_teardown(test_outbox_summary_bound_to_record, down),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
