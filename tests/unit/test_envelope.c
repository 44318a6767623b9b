/* test_envelope.c: the strict envelope parse and the relay's peek
 * (proto/envelope.c): every header a sender could encode two ways, or
 * that breaks a size or a limit, is refused by peek and by open alike. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "client/seal.h"
#include "proto/envelope.h"
#include "proto/err.h"
#include "tests/lib/sealfix.h"

#define NOW SF_T0

static struct sf_org org_a, org_b, org_c;
static uint8_t *good;       /* A -> B, C */
static size_t good_len;
static struct lsn_envelope_info *info;

static int
setup(void **state)
{
    const struct lsn_bundle *rb[2];
    struct lsn_seal_params p = {
        .created = NOW, .expires = NOW + 86400, .bundle_version = 5,
    };
    Liaison__Alert a;
    (void)state;

    if (sodium_init() < 0 || sf_org_new(&org_a, "org-a", NULL) != 0 ||
        sf_org_new(&org_b, "org-b", NULL) != 0 ||
        sf_org_new(&org_c, "org-c", NULL) != 0)
        return -1;
    rb[0] = org_b.bundle;
    rb[1] = org_c.bundle;
    sf_alert_sample(&a);
    if (lsn_seal(&a, org_a.cred, rb, 2, &p, &good, &good_len) != 0)
        return -1;
    return (info = malloc(sizeof *info)) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    free(good);
    free(info);
    sf_org_free(&org_a);
    sf_org_free(&org_b);
    sf_org_free(&org_c);
    return 0;
}

/* The error both the relay (peek) and a recipient (open) give; asserts
 * they agree. */
static int
both(const uint8_t *env, size_t len)
{
    struct lsn_opened *o = (void *)1;
    int rp = lsn_envelope_peek(env, len, 0, info);
    int ro = lsn_open(env, len, org_b.cred, org_a.bundle, NOW, NULL, NULL, &o);

    assert_null(o);
    assert_int_equal(rp, ro);
    if (rp != 0)
        assert_int_equal(info->n_recipients, 0);   /* zeroed on failure */
    return rp;
}

static void
header_of(const uint8_t *env, size_t len, uint8_t **h, size_t *hl)
{
    Liaison__Envelope *e = liaison__envelope__unpack(NULL, len, env);

    assert_non_null(e);
    *hl = e->header.len;
    *h = malloc(*hl + 64);
    memcpy(*h, e->header.data, *hl);
    liaison__envelope__free_unpacked(e, NULL);
}

static void
test_envelope_peek_reports_facts(void **state)
{
    struct lsn_opened *o = NULL;
    (void)state;

    assert_int_equal(lsn_envelope_peek(good, good_len, 0, info), 0);
    assert_int_equal(info->suite, LSN_SUITE_1);
    assert_string_equal(info->sender_org, "org-a");
    assert_string_equal(info->sender_device, "d1");
    assert_int_equal(info->bundle_version, 5);
    assert_int_equal(info->created, NOW);
    assert_int_equal(info->expires, NOW + 86400);
    assert_int_equal(info->n_recipients, 2);
    assert_string_equal(info->recipients[0].org, "org-b");
    assert_string_equal(info->recipients[1].org, "org-c");
    assert_int_equal(info->recipients[1].key_id, 1);
    assert_int_equal(info->size, good_len);
    assert_int_equal(lsn_open(good, good_len, org_b.cred, org_a.bundle, NOW,
                              NULL, NULL, &o), 0);
    assert_memory_equal(info->msg_id, o->msg_id, 16);
    lsn_opened_destroy(&o);
}

static void
test_envelope_rejects_truncation(void **state)
{
    (void)state;
    for (size_t n = 0; n < good_len; n++)
        assert_int_not_equal(lsn_envelope_peek(good, n, 0, info), 0);
    /* A trailing byte is no better. */
    {
        uint8_t *longer = malloc(good_len + 1);
        memcpy(longer, good, good_len);
        longer[good_len] = 0;
        assert_int_equal(both(longer, good_len + 1), LSN_ERR_MALFORMED);
        free(longer);
    }
}

static void
test_envelope_rejects_oversize(void **state)
{
    uint8_t *big = calloc(1, LSN_ENVELOPE_MAX + 1);
    (void)state;

    assert_non_null(big);
    memcpy(big, good, good_len);
    assert_int_equal(both(big, LSN_ENVELOPE_MAX + 1), LSN_ERR_TOO_LARGE);
    free(big);
    /* A relay's own, lower cap. */
    assert_int_equal(lsn_envelope_peek(good, good_len, good_len - 1, info),
                     LSN_ERR_TOO_LARGE);
    assert_int_equal(lsn_envelope_peek(good, good_len, good_len, info), 0);
}

/* 9. Unknown field, repeated field, duplicate org: one meaning or none. */
static void
test_envelope_rejects_unknown_field(void **state)
{
    uint8_t *h, *env;
    size_t hl, len;
    (void)state;

    header_of(good, good_len, &h, &hl);
    h[hl++] = 0xa0;    /* field 20, varint */
    h[hl++] = 0x01;
    h[hl++] = 0x01;
    assert_int_equal(sf_rebuild(good, good_len, h, hl,
                                org_a.cred->keys->sign_sk, &env, &len), 0);
    assert_int_equal(both(env, len), LSN_ERR_MALFORMED);
    free(env);
    free(h);
}

static void
test_envelope_rejects_repeated_field(void **state)
{
    uint8_t *h, *env;
    size_t hl, len;
    (void)state;

    /* suite = 1 twice: protobuf keeps the last, we keep neither. */
    header_of(good, good_len, &h, &hl);
    h[hl++] = 0x08;
    h[hl++] = 0x01;
    assert_int_equal(sf_rebuild(good, good_len, h, hl,
                                org_a.cred->keys->sign_sk, &env, &len), 0);
    assert_int_equal(both(env, len), LSN_ERR_MALFORMED);
    free(env);
    free(h);
    /* sender_org twice, the second naming another org. */
    header_of(good, good_len, &h, &hl);
    memcpy(h + hl, "\x1a\x05org-c", 7);
    hl += 7;
    assert_int_equal(sf_rebuild(good, good_len, h, hl,
                                org_a.cred->keys->sign_sk, &env, &len), 0);
    assert_int_equal(both(env, len), LSN_ERR_MALFORMED);
    free(env);
    free(h);
}

static void
edit_dup_org(Liaison__EnvelopeHeader *h, void *ctx)
{
    static Liaison__EnvelopeRecipient *list[2];
    (void)ctx;
    list[0] = h->recipients[0];
    list[1] = h->recipients[0];
    h->recipients = list;
}

static void
test_envelope_rejects_duplicate_org(void **state)
{
    uint8_t *env;
    size_t len;
    (void)state;

    assert_int_equal(sf_tamper(good, good_len, edit_dup_org, NULL,
                               org_a.cred->keys->sign_sk, &env, &len), 0);
    assert_int_equal(both(env, len), LSN_ERR_MALFORMED);
    free(env);
}

static void
edit_many(Liaison__EnvelopeHeader *h, void *ctx)
{
    static Liaison__EnvelopeRecipient *list[1000];
    size_t n = *(size_t *)ctx;

    for (size_t i = 0; i < n; i++)
        list[i] = h->recipients[0];
    h->recipients = list;
    h->n_recipients = n;
}

static void
test_envelope_recipient_limits(void **state)
{
    size_t n;
    uint8_t *env;
    size_t len;
    (void)state;

    n = LSN_MAX_RECIPIENTS + 1;
    assert_int_equal(sf_tamper(good, good_len, edit_many, &n,
                               org_a.cred->keys->sign_sk, &env, &len), 0);
    assert_int_equal(both(env, len), LSN_ERR_LIMIT);
    free(env);
    n = 1000;          /* about 55 KiB of header */
    assert_int_equal(sf_tamper(good, good_len, edit_many, &n,
                               org_a.cred->keys->sign_sk, &env, &len), 0);
    assert_int_equal(both(env, len), LSN_ERR_TOO_LARGE);
    free(env);
    n = 0;
    assert_int_equal(sf_tamper(good, good_len, edit_many, &n,
                               org_a.cred->keys->sign_sk, &env, &len), 0);
    assert_int_equal(both(env, len), LSN_ERR_MALFORMED);
    free(env);
}

static void
edit_field(Liaison__EnvelopeHeader *h, void *ctx)
{
    switch (*(int *)ctx) {
    case 0: h->msg_id.len = 15; break;
    case 1: h->ephemeral_key.len = 31; break;
    case 2: h->nonce.len = 12; break;
    case 3: h->commit.len = 0; break;
    case 4: h->recipients[1]->wrap.len = 47; break;
    case 5: h->sender_org = "Org-A"; break;
    case 6: h->sender_device = ""; break;
    case 7: h->sender_device = "-d1"; break;
    case 8: {
        /* A replacement entry, not an edit of the decoded one (which
         * sf_tamper frees as it was). */
        static Liaison__EnvelopeRecipient bad = LIAISON__ENVELOPE_RECIPIENT__INIT;
        static Liaison__EnvelopeRecipient *list[2];
        bad.org = "";
        bad.wrap = h->recipients[0]->wrap;
        list[0] = &bad;
        list[1] = h->recipients[1];
        h->recipients = list;
        break;
    }
    case 9: h->sender_org = "org-a-name-that-is-longer-than-32"; break;
    case 10: h->expires = h->created; break;
    case 11: h->created = -1; break;
    case 12: h->expires = LSN_TIME_MAX + 1; break;
    }
}

static void
test_envelope_rejects_bad_fields(void **state)
{
    uint8_t *env;
    size_t len;
    (void)state;

    for (int what = 0; what <= 12; what++) {
        assert_int_equal(sf_tamper(good, good_len, edit_field, &what,
                                   org_a.cred->keys->sign_sk, &env, &len), 0);
        assert_int_equal(both(env, len), LSN_ERR_MALFORMED);
        free(env);
    }
}

/* Resizes the ciphertext or signature of good and re-encodes. */
static void
outer_edit(size_t clen, size_t slen, uint8_t **env, size_t *len)
{
    Liaison__Envelope *e = liaison__envelope__unpack(NULL, good_len, good);
    uint8_t *c = calloc(1, clen), *s = calloc(1, slen ? slen : 1);
    ProtobufCBinaryData oc, os;

    assert_non_null(e);
    oc = e->ciphertext;
    os = e->sig;
    memcpy(c, oc.data, oc.len < clen ? oc.len : clen);
    memcpy(s, os.data, os.len < slen ? os.len : slen);
    e->ciphertext = (ProtobufCBinaryData){ clen, c };
    e->sig = (ProtobufCBinaryData){ slen, s };
    *len = liaison__envelope__get_packed_size(e);
    *env = malloc(*len);
    liaison__envelope__pack(e, *env);
    e->ciphertext = oc;
    e->sig = os;
    liaison__envelope__free_unpacked(e, NULL);
    free(c);
    free(s);
}

static void
test_envelope_rejects_bad_outer_sizes(void **state)
{
    uint8_t *env;
    size_t len;
    (void)state;

    outer_edit(512 + 16, 63, &env, &len);
    assert_int_equal(both(env, len), LSN_ERR_MALFORMED);
    free(env);
    outer_edit(600 + 16, 64, &env, &len);    /* not a bucket */
    assert_int_equal(both(env, len), LSN_ERR_MALFORMED);
    free(env);
    outer_edit(256 + 16, 64, &env, &len);    /* below the smallest */
    assert_int_equal(both(env, len), LSN_ERR_MALFORMED);
    free(env);
    /* The right sizes pass the parse (and fail only the signature). */
    outer_edit(1024 + 16, 64, &env, &len);
    assert_int_equal(lsn_envelope_peek(env, len, 0, info), 0);
    {
        struct lsn_opened *o = (void *)1;
        assert_int_equal(lsn_open(env, len, org_b.cred, org_a.bundle, NOW,
                                  NULL, NULL, &o), LSN_ERR_BAD_SIGNATURE);
        assert_null(o);
    }
    free(env);
}

static void
test_envelope_rejects_unknown_suite(void **state)
{
    uint8_t *h, *env;
    size_t hl, len;
    (void)state;

    header_of(good, good_len, &h, &hl);
    assert_int_equal(h[0], 0x08);      /* field 1, suite, comes first */
    assert_int_equal(h[1], 0x01);
    h[1] = 0x02;
    assert_int_equal(sf_rebuild(good, good_len, h, hl,
                                org_a.cred->keys->sign_sk, &env, &len), 0);
    assert_int_equal(both(env, len), LSN_ERR_SUITE);
    free(env);
    free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_peek_reports_facts),
        cmocka_unit_test(test_envelope_rejects_truncation),
        cmocka_unit_test(test_envelope_rejects_oversize),
        cmocka_unit_test(test_envelope_rejects_unknown_field),
        cmocka_unit_test(test_envelope_rejects_repeated_field),
        cmocka_unit_test(test_envelope_rejects_duplicate_org),
        cmocka_unit_test(test_envelope_recipient_limits),
        cmocka_unit_test(test_envelope_rejects_bad_fields),
        cmocka_unit_test(test_envelope_rejects_bad_outer_sizes),
        cmocka_unit_test(test_envelope_rejects_unknown_suite),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
