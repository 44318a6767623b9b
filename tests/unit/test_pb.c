/* test_pb.c: the strict, bounded protobuf decoder every outside byte goes
 * through: one byte string, one meaning, bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/err.h"
#include "proto/pb.h"

/* RosterRelay {name = "r1"}: 0a 02 72 31 */
static void
test_pb_canonical_accepted(void **state)
{
    const uint8_t ok[] = { 0x0a, 0x02, 'r', '1' };
    Liaison__RosterRelay *m = NULL;

    (void)state;
    assert_int_equal(LSN_PB_DECODE(roster_relay, ok, sizeof ok, 1024, &m), 0);
    assert_string_equal(m->name, "r1");
    lsn_pb_free(&m->base);
}

static void
test_pb_non_canonical_refused(void **state)
{
    /* The same field twice (last one wins in protobuf: two meanings). */
    const uint8_t twice[] = { 0x0a, 0x01, 'a', 0x0a, 0x01, 'b' };
    /* A length as a non-minimal varint. */
    const uint8_t long_len[] = { 0x0a, 0x82, 0x00, 'r', '1' };
    /* Fields out of order: endpoint (2) before name (1). */
    const uint8_t order[] = { 0x12, 0x01, 'e', 0x0a, 0x01, 'n' };
    /* An explicit empty (default) string. */
    const uint8_t dflt[] = { 0x0a, 0x00 };
    /* An unknown field 9 at the end. */
    const uint8_t unknown[] = { 0x0a, 0x01, 'a', 0x48, 0x01 };
    /* Truncated length. */
    const uint8_t cut[] = { 0x0a, 0x05, 'a' };
    Liaison__RosterRelay *m = NULL;

    (void)state;
    assert_int_equal(LSN_PB_DECODE(roster_relay, twice, sizeof twice, 1024, &m), LSN_ERR_MALFORMED);
    assert_int_equal(LSN_PB_DECODE(roster_relay, long_len, sizeof long_len, 1024, &m), LSN_ERR_MALFORMED);
    assert_int_equal(LSN_PB_DECODE(roster_relay, order, sizeof order, 1024, &m), LSN_ERR_MALFORMED);
    assert_int_equal(LSN_PB_DECODE(roster_relay, dflt, sizeof dflt, 1024, &m), LSN_ERR_MALFORMED);
    assert_int_equal(LSN_PB_DECODE(roster_relay, unknown, sizeof unknown, 1024, &m), LSN_ERR_MALFORMED);
    assert_int_equal(LSN_PB_DECODE(roster_relay, cut, sizeof cut, 1024, &m), LSN_ERR_MALFORMED);
    assert_null(m);
}

static void
test_pb_unknown_field_in_nested_message_refused(void **state)
{
    /* Roster {orgs: [RosterOrg {id = "a", field 9 = 1}]} */
    const uint8_t nested[] = { 0x3a, 0x05, 0x0a, 0x01, 'a', 0x48, 0x01 };
    Liaison__Roster *m = NULL;

    (void)state;
    assert_int_equal(LSN_PB_DECODE(roster, nested, sizeof nested, 1024, &m), LSN_ERR_MALFORMED);
    assert_null(m);
}

static void
test_pb_limits_enforced(void **state)
{
    /* Many repeated authorities: the heap cap stops them, not malloc. */
    size_t n = 2000, len = n * 2;
    uint8_t *buf = malloc(len);
    Liaison__Roster *m = NULL;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = 0x2a;       /* field 5, bytes */
        buf[2 * i + 1] = 0x00;   /* empty */
    }
    assert_int_equal(LSN_PB_DECODE(roster, buf, len, 1024, &m), LSN_ERR_TOO_LARGE);
    assert_int_equal(LSN_PB_DECODE(roster, buf, len, len - 1, &m), LSN_ERR_TOO_LARGE);
    assert_null(m);
    free(buf);
}

/* Empty repeated bytes and empty sub-messages are canonical, and the
 * re-encoding check must take protobuf-c's (0, NULL) appends for them
 * without passing NULL to memcmp (UBSan reports it under make asan). */
static void
test_pb_empty_elements_accepted(void **state)
{
    /* Roster { authorities: [""], orgs: [{}, {}] } */
    const uint8_t ok[] = { 0x2a, 0x00, 0x3a, 0x00, 0x3a, 0x00 };
    Liaison__Roster *m = NULL;

    (void)state;
    assert_int_equal(LSN_PB_DECODE(roster, ok, sizeof ok, 1024, &m), 0);
    assert_int_equal(m->n_authorities, 1);
    assert_int_equal(m->authorities[0].len, 0);
    assert_int_equal(m->n_orgs, 2);
    lsn_pb_free(&m->base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pb_canonical_accepted),
        cmocka_unit_test(test_pb_non_canonical_refused),
        cmocka_unit_test(test_pb_unknown_field_in_nested_message_refused),
        cmocka_unit_test(test_pb_limits_enforced),
        cmocka_unit_test(test_pb_empty_elements_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
