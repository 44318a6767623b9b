/* test_alert.c: the Alert content model's validation (client/alert.c):
 * each rule has a case that breaks it, next to a case that keeps it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "client/alert.h"
#include "proto/err.h"
#include "proto/limits.h"
#include "tests/lib/sealfix.h"

static Liaison__Alert a;

static int
reset(void **state)
{
    (void)state;
    sf_alert_sample(&a);
    return 0;
}

static void
test_alert_sample_is_valid(void **state)
{
    uint8_t *buf;
    size_t len;
    Liaison__Alert *d = NULL;
    (void)state;

    assert_int_equal(lsn_alert_validate(&a), 0);
    assert_int_equal(lsn_alert_encode(&a, &buf, &len), 0);
    assert_int_equal(lsn_alert_decode(buf, len, &d), 0);
    assert_string_equal(d->title, a.title);
    assert_int_equal(d->grading->system, LIAISON__GRADING_SYSTEM__GRADING_ADMIRALTY);
    lsn_pb_free(&d->base);
    free(buf);
}

static void
test_alert_tlp_defaults_to_amber(void **state)
{
    uint8_t *buf;
    size_t len;
    Liaison__Alert *d = NULL;
    Liaison__Alert bare = LIAISON__ALERT__INIT;
    (void)state;

    bare.type = LIAISON__ALERT_TYPE__ALERT_TYPE_NOTICE;
    bare.title = "t";
    assert_int_equal(lsn_alert_encode(&bare, &buf, &len), 0);
    assert_int_equal(lsn_alert_decode(buf, len, &d), 0);
    assert_int_equal(d->tlp, LIAISON__TLP__TLP_AMBER);
    assert_int_equal(d->priority, LIAISON__PRIORITY__PRIORITY_ROUTINE);
    lsn_pb_free(&d->base);
    free(buf);
    a.tlp = 5;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.tlp = -1;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.tlp = LIAISON__TLP__TLP_RED;
    assert_int_equal(lsn_alert_validate(&a), 0);
}

static void
test_alert_title_rules(void **state)
{
    char t[LSN_ALERT_TITLE_MAX + 2];
    (void)state;

    a.title = "";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    memset(t, 'x', sizeof t);
    t[LSN_ALERT_TITLE_MAX] = '\0';
    a.title = t;
    assert_int_equal(lsn_alert_validate(&a), 0);
    t[LSN_ALERT_TITLE_MAX] = 'x';
    t[LSN_ALERT_TITLE_MAX + 1] = '\0';
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_LIMIT);
    a.title = "two\nlines";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.title = "carriage\rreturn";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.title = "line\xe2\x80\xa8separator";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.title = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92";   /* é € 🔒 */
    assert_int_equal(lsn_alert_validate(&a), 0);
}

static void
test_alert_utf8_checked(void **state)
{
    static const char *bad[] = {
        "\xc0\xaf",             /* overlong '/' */
        "\xe0\x80\xaf",         /* overlong */
        "\xed\xa0\x80",         /* surrogate */
        "\xf4\x90\x80\x80",     /* above U+10FFFF */
        "\xc3",                 /* truncated */
        "\x80",                 /* lone continuation */
        "\xff",
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(lsn_utf8_check(bad[i], strlen(bad[i])),
                         LSN_ERR_INVALID);
        sf_alert_sample(&a);
        a.body = (char *)bad[i];
        assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    }
    assert_int_equal(lsn_utf8_check("a\0b", 3), LSN_ERR_INVALID);
    assert_int_equal(lsn_utf8_check("\xf4\x8f\xbf\xbf", 4), 0);   /* U+10FFFF */
}

static void
test_alert_enums_in_range(void **state)
{
    (void)state;
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_UNSET;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.type = 8;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    sf_alert_sample(&a);
    a.pap = 5;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    sf_alert_sample(&a);
    a.priority = 3;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    sf_alert_sample(&a);
    a.ack = 3;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    sf_alert_sample(&a);
    a.handling = 5;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
}

static void
test_alert_handling_h3_needs_text(void **state)
{
    (void)state;
    a.handling = LIAISON__HANDLING_CODE__HANDLING_H3;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.handling_text = "Not to be shared with platform partners.";
    assert_int_equal(lsn_alert_validate(&a), 0);
    a.handling = LIAISON__HANDLING_CODE__HANDLING_H2;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
}

static void
test_alert_grading_systems(void **state)
{
    Liaison__Grading g = LIAISON__GRADING__INIT;
    (void)state;

    a.grading = &g;
    g.system = LIAISON__GRADING_SYSTEM__GRADING_ADMIRALTY;
    g.source = "F";
    g.information = "6";
    assert_int_equal(lsn_alert_validate(&a), 0);
    g.source = "X";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    g.system = LIAISON__GRADING_SYSTEM__GRADING_EUROPOL_4X4;
    g.information = "4";
    assert_int_equal(lsn_alert_validate(&a), 0);
    g.information = "5";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    g.information = "";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    g.information = "44";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    g.system = LIAISON__GRADING_SYSTEM__GRADING_UNSET;
    g.information = "1";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
}

static void
test_alert_links_by_type(void **state)
{
    uint8_t id[16] = { 1 };
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    (void)state;

    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_RESPONSE;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    ref.org = "org-a";
    ref.msg_id = (ProtobufCBinaryData){ 16, id };
    a.in_reply_to = &ref;
    assert_int_equal(lsn_alert_validate(&a), 0);
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.supersedes = &ref;
    assert_int_equal(lsn_alert_validate(&a), 0);
    ref.msg_id.len = 15;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    ref.msg_id.len = 16;
    ref.org = "Org A";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
}

static void
test_alert_indicators_use_misp_types(void **state)
{
    Liaison__Indicator in = LIAISON__INDICATOR__INIT, *inp = &in;
    (void)state;

    a.indicators = &inp;
    a.n_indicators = 1;
    in.type = "sha256";
    in.value = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_int_equal(lsn_alert_validate(&a), 0);
    in.type = "filename|md5";
    assert_int_equal(lsn_alert_validate(&a), 0);
    in.type = "SHA256";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    in.type = "made-up-type";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    in.type = "url";
    in.value = "";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.n_indicators = LSN_ALERT_MAX_INDICATORS + 1;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_LIMIT);
}

static void
test_alert_attachment_hash_must_match(void **state)
{
    Liaison__Attachment at = LIAISON__ATTACHMENT__INIT, *atp = &at;
    static const uint8_t data[] = "%PDF-1.7 sample";
    uint8_t sha[32];
    (void)state;

    crypto_hash_sha256(sha, data, sizeof data);
    at.name = "report.pdf";
    at.media_type = "application/pdf";
    at.sha256 = (ProtobufCBinaryData){ 32, sha };
    at.data = (ProtobufCBinaryData){ sizeof data, (uint8_t *)data };
    a.attachments = &atp;
    a.n_attachments = 1;
    assert_int_equal(lsn_alert_validate(&a), 0);
    sha[31] ^= 1;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    sha[31] ^= 1;
    at.sha256.len = 31;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    at.sha256.len = 32;
    at.name = "../etc/passwd";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    at.name = "..";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    at.name = "report.pdf";
    at.media_type = "pdf";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    at.media_type = "application/pdf/x";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    at.media_type = "application/vnd.ms-excel";
    assert_int_equal(lsn_alert_validate(&a), 0);
    a.n_attachments = LSN_ALERT_MAX_ATTACHMENTS + 1;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_LIMIT);
}

static void
test_alert_external_refs_and_dates(void **state)
{
    Liaison__ExternalRef x = LIAISON__EXTERNAL_REF__INIT, *xp = &x;
    (void)state;

    a.external_refs = &xp;
    a.n_external_refs = 1;
    x.system = "MISP";
    x.id = "";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    x.id = "5f0c7f3a-0000-4000-8000-000000000000";
    assert_int_equal(lsn_alert_validate(&a), 0);
    a.respond_by = -5;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.respond_by = 0;
    assert_int_equal(lsn_alert_validate(&a), 0);
}

static void
test_alert_decode_rejects_noncanonical(void **state)
{
    Liaison__Alert *d = (void *)1;
    /* type = 1 then title "t", then type = 1 again (repeated field). */
    static const uint8_t rep[] = { 0x08, 0x01, 0x12, 0x01, 't', 0x08, 0x01 };
    /* tlp = 0 written out explicitly (a default on the wire). */
    static const uint8_t dflt[] = { 0x08, 0x01, 0x12, 0x01, 't', 0x20, 0x00 };
    static const uint8_t ok[] = { 0x08, 0x01, 0x12, 0x01, 't' };
    (void)state;

    assert_int_equal(lsn_alert_decode(rep, sizeof rep, &d), LSN_ERR_MALFORMED);
    assert_null(d);
    assert_int_equal(lsn_alert_decode(dflt, sizeof dflt, &d), LSN_ERR_MALFORMED);
    assert_int_equal(lsn_alert_decode(ok, sizeof ok, &d), 0);
    lsn_pb_free(&d->base);
}

static void
test_alert_receipt_rules(void **state)
{
    uint8_t id[16] = { 2 };
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    Liaison__Receipt rc = LIAISON__RECEIPT__INIT;
    (void)state;

    ref.org = "org-a";
    ref.msg_id = (ProtobufCBinaryData){ 16, id };
    rc.kind = LIAISON__RECEIPT_KIND__RECEIPT_READ;
    rc.device = "d1";
    rc.at = 1800000000;
    a.ack = LIAISON__ACK_REQUEST__ACK_NONE;
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT;
    a.in_reply_to = &ref;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);   /* no receipt */
    a.receipt = &rc;
    assert_int_equal(lsn_alert_validate(&a), 0);
    a.ack = LIAISON__ACK_REQUEST__ACK_READ;                       /* receipts ask for none */
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    a.ack = LIAISON__ACK_REQUEST__ACK_NONE;
    rc.kind = LIAISON__RECEIPT_KIND__RECEIPT_UNSET;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    rc.kind = LIAISON__RECEIPT_KIND__RECEIPT_DELIVERED;
    rc.device = "Not A Name";
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
    rc.device = "d1";
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT;               /* receipt outside a RECEIPT */
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);
}

static void
test_alert_forwarded_rules(void **state)
{
    uint8_t key[32] = { 3 }, env[8] = { 4 };
    Liaison__Forwarded f = LIAISON__FORWARDED__INIT;
    (void)state;

    a.forwarded = &f;
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);   /* empty */
    f.envelope = (ProtobufCBinaryData){ sizeof env, env };
    f.key = (ProtobufCBinaryData){ 31, key };
    assert_int_equal(lsn_alert_validate(&a), LSN_ERR_INVALID);   /* short key */
    f.key.len = 32;
    assert_int_equal(lsn_alert_validate(&a), 0);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_alert_sample_is_valid),
        T(test_alert_tlp_defaults_to_amber),
        T(test_alert_title_rules),
        T(test_alert_utf8_checked),
        T(test_alert_enums_in_range),
        T(test_alert_handling_h3_needs_text),
        T(test_alert_grading_systems),
        T(test_alert_links_by_type),
        T(test_alert_indicators_use_misp_types),
        T(test_alert_attachment_hash_must_match),
        T(test_alert_external_refs_and_dates),
        T(test_alert_decode_rejects_noncanonical),
        T(test_alert_receipt_rules),
        T(test_alert_forwarded_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
