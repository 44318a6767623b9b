/* test_content_rules.c: the content rules of docs/protocol.md "Content"
 * as the code applies them at seal (lsn_alert_encode) and at open
 * (lsn_alert_decode): one-line fields refuse every control character,
 * C1 (U+0080..U+009F, as UTF-8 C2 80..C2 9F) included, while other
 * non-ASCII text passes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "client/alert.h"
#include "proto/err.h"
#include "proto/pb.h"
#include "tests/lib/sealfix.h"

static Liaison__Alert a;

static int
reset(void **state)
{
    (void)state;
    sf_alert_sample(&a);
    return 0;
}

/* Refused on both sides: encoding (seal) refuses it, and the same bytes
 * made without validation are refused by decoding (open). */
static void
refused_both_sides(const char *what)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    Liaison__Alert *d = NULL;

    if (lsn_alert_encode(&a, &buf, &len) != LSN_ERR_INVALID)
        fail_msg("seal accepted %s", what);
    free(buf);
    buf = NULL;
    assert_int_equal(lsn_pb_encode(&a.base, &buf, &len), 0);
    if (lsn_alert_decode(buf, len, &d) != LSN_ERR_INVALID)
        fail_msg("open accepted %s", what);
    lsn_pb_free((ProtobufCMessage *)d);
    free(buf);
}

static void
accepted_both_sides(void)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    Liaison__Alert *d = NULL;

    assert_int_equal(lsn_alert_encode(&a, &buf, &len), 0);
    assert_int_equal(lsn_alert_decode(buf, len, &d), 0);
    lsn_pb_free((ProtobufCMessage *)d);
    free(buf);
}

static void
test_content_rules_title_refuses_every_c1_control(void **state)
{
    char t[16], what[32];
    (void)state;

    for (unsigned c = 0x80; c <= 0x9f; c++) {
        snprintf(t, sizeof t, "a%c%cb", 0xc2, c);
        snprintf(what, sizeof what, "U+%04X in a title", c);
        a.title = t;
        refused_both_sides(what);
    }
    a.title = "CSI \xc2\x9b" "2J fake";          /* U+009B: ESC [ in one */
    refused_both_sides("U+009B CSI");
}

static void
test_content_rules_title_refuses_c0_del_and_line_breaks(void **state)
{
    static const char *const bad[] = {
        "a\nb", "a\rb", "a\tb", "\x1b[2Jx", "a\x7f", "a\xc2\x85" "b",
        "a\xe2\x80\xa8" "b", "a\xe2\x80\xa9" "b",
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "bad title %zu", i);
        a.title = (char *)bad[i];
        refused_both_sides(what);
    }
}

static void
test_content_rules_other_one_line_fields_refuse_c1(void **state)
{
    (void)state;

    a.case_ref = "EU\xc2\x9b" "42";
    refused_both_sides("C1 in case_ref");
    reset(NULL);
    {
        Liaison__ExternalRef x = LIAISON__EXTERNAL_REF__INIT, *xs[1] = { &x };
        x.system = "misp";
        x.id = "x\xc2\x90y";
        a.external_refs = xs;
        a.n_external_refs = 1;
        refused_both_sides("C1 in an external reference id");
        x.id = "event-17";
        accepted_both_sides();
        a.external_refs = NULL;
        a.n_external_refs = 0;
    }
}

static void
test_content_rules_non_ascii_text_passes(void **state)
{
    (void)state;

    /* No-break space (C2 A0, just past C1), accents, CJK, emoji. */
    a.title = "Caf\xc3\xa9\xc2\xa0" "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\xa8";
    accepted_both_sides();
    /* The body is multi-line: newlines and tabs are its business. */
    a.body = "line one\n\tline two\n";
    accepted_both_sides();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_content_rules_title_refuses_every_c1_control, reset),
        cmocka_unit_test_setup(test_content_rules_title_refuses_c0_del_and_line_breaks,
                               reset),
        cmocka_unit_test_setup(test_content_rules_other_one_line_fields_refuse_c1, reset),
        cmocka_unit_test_setup(test_content_rules_non_ascii_text_passes, reset),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
