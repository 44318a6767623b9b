/* test_seal.c: lsn_seal / lsn_open, and every attack docs/protocol.md
 * names, each expected to fail with its own error and to release nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/seal.h"
#include "proto/err.h"
#include "tests/lib/sealfix.h"

#define NOW SF_T0
#define NORGS 4

static struct sf_org the_orgs[NORGS];   /* a (sender), b, c, d */
#define A (&the_orgs[0])
#define B (&the_orgs[1])
#define C (&the_orgs[2])
#define D (&the_orgs[3])

static int
setup(void **state)
{
    static const char *ids[NORGS] = { "org-a", "org-b", "org-c", "org-d" };
    (void)state;
    if (sodium_init() < 0)
        return -1;
    for (int i = 0; i < NORGS; i++)
        if (sf_org_new(&the_orgs[i], ids[i], NULL) != 0)
            return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NORGS; i++)
        sf_org_free(&the_orgs[i]);
    return 0;
}

static struct lsn_seal_params
params(void)
{
    struct lsn_seal_params p = {
        .created = NOW, .expires = NOW + 7 * 86400, .bundle_version = 1,
    };
    return p;
}

/* Seals the sample alert from `from` to the given orgs. */
static void
seal_to(const struct sf_org *from, uint8_t **env, size_t *len, size_t n, ...)
{
    const struct lsn_bundle *rb[NORGS];
    struct lsn_seal_params p = params();
    Liaison__Alert a;
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        rb[i] = va_arg(ap, const struct sf_org *)->bundle;
    va_end(ap);
    sf_alert_sample(&a);
    assert_int_equal(lsn_seal(&a, from->cred, rb, n, &p, env, len), 0);
}

/* Opens env as org `to` (sender bundle: the sender org's v1) and returns
 * the error; the opened message is freed, and NULL on failure. */
static int
open_as(const struct sf_org *to, const struct sf_org *from,
        const uint8_t *env, size_t len, int64_t now)
{
    struct lsn_opened *o = (void *)1;
    int r = lsn_open(env, len, to->cred, from->bundle, now, NULL, NULL, &o);

    if (r != 0)
        assert_null(o);
    else
        assert_non_null(o);
    lsn_opened_destroy(&o);
    return r;
}

/* ------------------------------------------------------------ honest use */

static void
test_seal_roundtrip_one_recipient(void **state)
{
    struct lsn_opened *o = NULL;
    uint8_t *env;
    size_t len;
    (void)state;

    seal_to(A, &env, &len, 1, B);
    assert_int_equal(lsn_open(env, len, B->cred, A->bundle, NOW + 60, NULL,
                              NULL, &o), 0);
    assert_string_equal(o->alert->title, "Known CSAM distribution domain");
    assert_int_equal(o->alert->tlp, LIAISON__TLP__TLP_AMBER_STRICT);
    assert_int_equal(o->alert->n_indicators, 2);
    assert_string_equal(o->alert->indicators[1]->value, "192.0.2.7");
    assert_string_equal(o->sender_org, "org-a");
    assert_string_equal(o->sender_device, "d1");
    assert_int_equal(o->created, NOW);
    assert_int_equal(o->expires, NOW + 7 * 86400);
    assert_int_equal(o->keep_until, NOW + 7 * 86400 + LSN_MAX_SKEW);
    assert_int_equal(o->n_recipients, 1);
    assert_string_equal(o->recipients[0].org, "org-b");
    assert_int_equal(o->key_id, 1);
    assert_false(sodium_is_zero(o->key, 32));
    lsn_opened_destroy(&o);
    assert_null(o);
    free(env);
}

static void
test_seal_roundtrip_many_recipients(void **state)
{
    const struct sf_org *to[3] = { B, C, D };
    uint8_t *env;
    size_t len;
    uint8_t key0[32];
    (void)state;

    seal_to(A, &env, &len, 3, B, C, D);
    for (int i = 0; i < 3; i++) {
        struct lsn_opened *o = NULL;
        assert_int_equal(lsn_open(env, len, to[i]->cred, A->bundle, NOW, NULL,
                                  NULL, &o), 0);
        assert_int_equal(o->n_recipients, 3);
        assert_string_equal(o->recipients[0].org, "org-b");
        assert_string_equal(o->recipients[1].org, "org-c");
        assert_string_equal(o->recipients[2].org, "org-d");
        /* Everyone recovers the same content key. */
        if (i == 0)
            memcpy(key0, o->key, 32);
        else
            assert_memory_equal(key0, o->key, 32);
        lsn_opened_destroy(&o);
    }
    /* The sender is not a recipient of its own message. */
    assert_int_equal(open_as(A, A, env, len, NOW), LSN_ERR_NOT_RECIPIENT);
    free(env);
}

static void
test_seal_pads_to_buckets(void **state)
{
    struct lsn_seal_params p = params();
    const struct lsn_bundle *rb[1] = { B->bundle };
    struct lsn_envelope_info *info = malloc(sizeof *info);
    Liaison__Alert a;
    char body[3000];
    uint8_t *e1, *e2, *e3;
    size_t l1, l2, l3;
    size_t c1, c2, c3;
    (void)state;

    sf_alert_sample(&a);
    a.body = "x";
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e1, &l1), 0);
    memset(body, 'y', 100);
    body[100] = '\0';
    a.body = body;
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e2, &l2), 0);
    memset(body, 'z', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e3, &l3), 0);
    /* Ciphertext length is the only size a relay sees. */
    assert_int_equal(lsn_envelope_peek(e1, l1, 0, info), 0);
    c1 = info->size;
    assert_int_equal(lsn_envelope_peek(e2, l2, 0, info), 0);
    c2 = info->size;
    assert_int_equal(lsn_envelope_peek(e3, l3, 0, info), 0);
    c3 = info->size;
    assert_int_equal(c1, c2);            /* both in the 512 bucket */
    assert_int_equal(c3 - c1, 4096 - 512);  /* 3 KiB body: the 4096 bucket */
    assert_int_equal(open_as(B, A, e3, l3, NOW), 0);
    free(e1);
    free(e2);
    free(e3);
    free(info);
}

static void
test_seal_randomness_is_fresh(void **state)
{
    struct lsn_envelope_info *i1 = malloc(sizeof *i1), *i2 = malloc(sizeof *i2);
    uint8_t *e1, *e2;
    size_t l1, l2;
    (void)state;

    seal_to(A, &e1, &l1, 1, B);
    seal_to(A, &e2, &l2, 1, B);
    assert_int_equal(l1, l2);
    assert_memory_not_equal(e1, e2, l1);
    assert_int_equal(lsn_envelope_peek(e1, l1, 0, i1), 0);
    assert_int_equal(lsn_envelope_peek(e2, l2, 0, i2), 0);
    assert_memory_not_equal(i1->msg_id, i2->msg_id, 16);
    free(e1);
    free(e2);
    free(i1);
    free(i2);
}

static void
test_seal_idempotency_key_fixes_msg_id(void **state)
{
    const struct lsn_bundle *rb[1] = { B->bundle };
    struct lsn_envelope_info *info = malloc(sizeof *info);
    struct lsn_seal_params p = params();
    Liaison__Alert a;
    uint8_t id1[16], id2[16], id3[16], id4[16];
    uint8_t *e;
    size_t l;
    (void)state;

    sf_alert_sample(&a);
    p.idem_key = (const uint8_t *)"push-2027-0001";
    p.idem_len = 14;
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e, &l), 0);
    assert_int_equal(lsn_envelope_peek(e, l, 0, info), 0);
    memcpy(id1, info->msg_id, 16);
    assert_int_equal(open_as(B, A, e, l, NOW), 0);
    free(e);
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e, &l), 0);
    assert_int_equal(lsn_envelope_peek(e, l, 0, info), 0);
    memcpy(id2, info->msg_id, 16);
    free(e);
    p.idem_key = (const uint8_t *)"push-2027-0002";
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e, &l), 0);
    assert_int_equal(lsn_envelope_peek(e, l, 0, info), 0);
    memcpy(id3, info->msg_id, 16);
    free(e);
    /* Another org with the same idempotency key gets another id. */
    rb[0] = C->bundle;
    p.idem_key = (const uint8_t *)"push-2027-0001";
    assert_int_equal(lsn_seal(&a, B->cred, rb, 1, &p, &e, &l), 0);
    assert_int_equal(lsn_envelope_peek(e, l, 0, info), 0);
    memcpy(id4, info->msg_id, 16);
    free(e);
    assert_memory_equal(id1, id2, 16);
    assert_memory_not_equal(id1, id3, 16);
    assert_memory_not_equal(id1, id4, 16);
    p.idem_len = 0;
    assert_int_equal(lsn_seal(&a, B->cred, rb, 1, &p, &e, &l), LSN_ERR_USAGE);
    p.idem_len = LSN_IDEM_MAX + 1;
    assert_int_equal(lsn_seal(&a, B->cred, rb, 1, &p, &e, &l), LSN_ERR_USAGE);
    assert_null(e);
    free(info);
}

static void
test_seal_idempotency_on_send_only_device(void **state)
{
    const struct lsn_bundle *rb[1] = { B->bundle };
    struct lsn_envelope_info info;
    struct lsn_seal_params p = params();
    struct lsn_credential *feed = NULL, *other = NULL;
    Liaison__Alert a;
    uint8_t id1[16], id2[16];
    uint8_t *e;
    size_t l;
    (void)state;

    /* A send-only device holds no org secret: its own seed keys the id. */
    assert_int_equal(lsn_credential_new("org-a", "feed", LIAISON__DEVICE_ROLE__ROLE_SYSTEM,
                                        1, 0, &feed), 0);
    assert_int_equal(lsn_credential_new("org-a", "feed2", LIAISON__DEVICE_ROLE__ROLE_SYSTEM,
                                        1, 0, &other), 0);
    sf_alert_sample(&a);
    p.idem_key = (const uint8_t *)"push-1";
    p.idem_len = 6;
    assert_int_equal(lsn_seal(&a, feed, rb, 1, &p, &e, &l), 0);
    assert_int_equal(lsn_envelope_peek(e, l, 0, &info), 0);
    memcpy(id1, info.msg_id, 16);
    free(e);
    assert_int_equal(lsn_seal(&a, feed, rb, 1, &p, &e, &l), 0);
    assert_int_equal(lsn_envelope_peek(e, l, 0, &info), 0);
    memcpy(id2, info.msg_id, 16);
    free(e);
    assert_memory_equal(id1, id2, 16);          /* a retry agrees */
    assert_int_equal(lsn_seal(&a, other, rb, 1, &p, &e, &l), 0);
    assert_int_equal(lsn_envelope_peek(e, l, 0, &info), 0);
    assert_memory_not_equal(id1, info.msg_id, 16);   /* nobody else can predict it */
    free(e);
    lsn_credential_destroy(&feed);
    lsn_credential_destroy(&other);
}

static void
test_seal_refuses_bad_requests(void **state)
{
    const struct lsn_bundle *rb[LSN_MAX_RECIPIENTS + 1];
    struct lsn_seal_params p = params();
    Liaison__Alert a;
    uint8_t *e = (void *)1;
    size_t l;
    (void)state;

    sf_alert_sample(&a);
    for (size_t i = 0; i <= LSN_MAX_RECIPIENTS; i++)
        rb[i] = B->bundle;
    assert_int_equal(lsn_seal(&a, A->cred, rb, 0, &p, &e, &l), LSN_ERR_USAGE);
    assert_null(e);
    assert_int_equal(lsn_seal(&a, A->cred, rb, 2, &p, &e, &l), LSN_ERR_INVALID);
    assert_int_equal(lsn_seal(&a, A->cred, rb, LSN_MAX_RECIPIENTS + 1, &p, &e,
                              &l), LSN_ERR_LIMIT);
    p.expires = p.created + LSN_MAX_TTL + 1;
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e, &l), LSN_ERR_TTL);
    p.expires = p.created;
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e, &l), LSN_ERR_USAGE);
    p = params();
    a.title = "";
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e, &l), LSN_ERR_INVALID);
    sf_alert_sample(&a);
    A->cred->may_send = 0;
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e, &l), LSN_ERR_REVOKED);
    A->cred->may_send = 1;
    assert_null(e);
}

static void
test_seal_content_too_large(void **state)
{
    const struct lsn_bundle *rb[1] = { B->bundle };
    struct lsn_seal_params p = params();
    Liaison__Alert a;
    Liaison__Attachment at = LIAISON__ATTACHMENT__INIT, *atp = &at;
    uint8_t *data, sha[32], *e = NULL;
    size_t l, n = LSN_PAD_MAX;   /* encoded with its tags, over the cap */
    (void)state;

    data = calloc(1, n);
    assert_non_null(data);
    crypto_hash_sha256(sha, data, n);
    sf_alert_sample(&a);
    at.name = "big.bin";
    at.media_type = "application/octet-stream";
    at.sha256 = (ProtobufCBinaryData){ 32, sha };
    at.data = (ProtobufCBinaryData){ n, data };
    a.attachments = &atp;
    a.n_attachments = 1;
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e, &l), LSN_ERR_TOO_LARGE);
    assert_null(e);
    /* Half of it fits: the 8 MiB bucket. */
    at.data.len = n / 2;
    crypto_hash_sha256(sha, data, n / 2);
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &e, &l), 0);
    assert_true(l > LSN_PAD_MAX && l <= LSN_ENVELOPE_MAX);
    assert_int_equal(open_as(B, A, e, l, NOW), 0);
    free(e);
    free(data);
}

/* ------------------------------------------------------------ attacks */

/* 1. Surreptitious forwarding: B passes A's signed message on to C. */
static void
test_seal_surreptitious_forwarding(void **state)
{
    struct lsn_opened *ob = NULL, *oc = NULL;
    uint8_t *env, *fwd, *fwd2, msg_id[16], eph[32], nonce[24];
    const char *orgs_c[1] = { "org-c" };
    uint32_t kid[1] = { 1 };
    uint8_t pk[1][32], wk[1][32];
    uint8_t *content;
    size_t len, flen, f2len, clen;
    struct sf_forge f;
    (void)state;

    seal_to(A, &env, &len, 1, B);
    assert_int_equal(lsn_open(env, len, B->cred, A->bundle, NOW, NULL, NULL,
                              &ob), 0);
    /* (a) As is: C is not among the signed recipients. */
    assert_int_equal(open_as(C, A, env, len, NOW), LSN_ERR_NOT_RECIPIENT);

    /* (b) B knows K and re-addresses "A's" message to C, signing with its
     * own device key, or keeping A's signature: C refuses both. */
    assert_int_equal(lsn_alert_encode(ob->alert, &content, &clen), 0);
    memcpy(msg_id, ob->msg_id, 16);
    randombytes_buf(eph, 32);
    randombytes_buf(nonce, 24);
    memcpy(pk[0], C->cred->enc[0].pk, 32);
    memcpy(wk[0], ob->key, 32);
    f = (struct sf_forge){
        .suite = 1, .msg_id = msg_id, .sender_org = "org-a",
        .sender_device = "d1", .bundle_version = 1, .created = ob->created,
        .expires = ob->expires, .n = 1, .orgs = orgs_c, .key_ids = kid,
        .pks = (const uint8_t (*)[32])pk, .wrap_keys = (const uint8_t (*)[32])wk,
        .key = ob->key, .eph_sk = eph, .nonce = nonce, .content = content,
        .content_len = clen, .sign_sk = B->cred->keys->sign_sk,
    };
    assert_int_equal(sf_forge(&f, &fwd, &flen), 0);
    assert_int_equal(open_as(C, A, fwd, flen, NOW), LSN_ERR_BAD_SIGNATURE);
    {
        Liaison__Envelope *orig = liaison__envelope__unpack(NULL, len, env);
        Liaison__Envelope *fe = liaison__envelope__unpack(NULL, flen, fwd);
        assert_non_null(orig);
        assert_non_null(fe);
        memcpy(fe->sig.data, orig->sig.data, 64);
        f2len = liaison__envelope__get_packed_size(fe);
        fwd2 = malloc(f2len);
        liaison__envelope__pack(fe, fwd2);
        liaison__envelope__free_unpacked(orig, NULL);
        liaison__envelope__free_unpacked(fe, NULL);
    }
    assert_int_equal(open_as(C, A, fwd2, f2len, NOW), LSN_ERR_BAD_SIGNATURE);
    free(fwd);
    free(fwd2);

    /* (c) B re-seals the content honestly under its own name: C opens it,
     * but it is from B and addressed to C alone; nothing says A. */
    {
        const struct lsn_bundle *rb[1] = { C->bundle };
        struct lsn_seal_params p = params();
        assert_int_equal(lsn_seal(ob->alert, B->cred, rb, 1, &p, &fwd, &flen), 0);
        assert_int_equal(lsn_open(fwd, flen, C->cred, B->bundle, NOW, NULL,
                                  NULL, &oc), 0);
        assert_string_equal(oc->sender_org, "org-b");
        assert_int_equal(oc->n_recipients, 1);
        assert_string_equal(oc->recipients[0].org, "org-c");
        /* And it cannot pass as A's: A's bundle does not verify it. */
        assert_int_equal(open_as(C, A, fwd, flen, NOW), LSN_ERR_USAGE);
        lsn_opened_destroy(&oc);
        free(fwd);
    }
    sodium_memzero(content, clen);
    free(content);
    lsn_opened_destroy(&ob);
    free(env);
}

/* A recipient sees the whole signed list: whom A addressed. */
static void
test_seal_recipient_sees_signed_list(void **state)
{
    struct lsn_opened *o = NULL;
    uint8_t *env;
    size_t len;
    (void)state;

    seal_to(A, &env, &len, 2, B, C);
    assert_int_equal(lsn_open(env, len, C->cred, A->bundle, NOW, NULL, NULL,
                              &o), 0);
    assert_int_equal(o->n_recipients, 2);
    assert_string_equal(o->recipients[0].org, "org-b");
    assert_string_equal(o->recipients[1].org, "org-c");
    lsn_opened_destroy(&o);
    free(env);
}

/* 2. The relay edits the recipient list (it cannot sign). */
struct edit_ctx {
    int what;
    Liaison__EnvelopeRecipient *extra;
};

static void
edit_recipients(Liaison__EnvelopeHeader *h, void *vctx)
{
    struct edit_ctx *x = vctx;
    static Liaison__EnvelopeRecipient *list[8];
    Liaison__EnvelopeRecipient *t;
    ProtobufCBinaryData w;

    switch (x->what) {
    case 0:   /* remove the first */
        memcpy(list, h->recipients + 1, (h->n_recipients - 1) * sizeof *list);
        h->recipients = list;
        h->n_recipients--;
        break;
    case 1:   /* add one */
        memcpy(list, h->recipients, h->n_recipients * sizeof *list);
        list[h->n_recipients] = x->extra;
        h->recipients = list;
        h->n_recipients++;
        break;
    case 2:   /* reorder */
        memcpy(list, h->recipients, h->n_recipients * sizeof *list);
        t = list[0];
        list[0] = list[1];
        list[1] = t;
        h->recipients = list;
        break;
    case 3:   /* swap the wraps of two entries */
        w = h->recipients[0]->wrap;
        h->recipients[0]->wrap = h->recipients[1]->wrap;
        h->recipients[1]->wrap = w;
        break;
    case 4:   /* change a key id */
        h->recipients[1]->key_id ^= 1;
        break;
    }
}

static void
test_seal_relay_edits_recipients(void **state)
{
    static uint8_t wrap[48];
    Liaison__EnvelopeRecipient extra = LIAISON__ENVELOPE_RECIPIENT__INIT;
    const struct sf_org *to[3] = { B, C, D };
    uint8_t *env, *bad;
    size_t len, blen;
    (void)state;

    extra.org = "org-x";
    extra.key_id = 1;
    extra.wrap = (ProtobufCBinaryData){ 48, wrap };
    seal_to(A, &env, &len, 3, B, C, D);
    for (int what = 0; what <= 4; what++) {
        struct edit_ctx x = { what, &extra };
        assert_int_equal(sf_tamper(env, len, edit_recipients, &x, NULL, &bad,
                                   &blen), 0);
        for (int i = 0; i < 3; i++) {
            int r = open_as(to[i], A, bad, blen, NOW);
            if (what == 0 && i == 0)
                assert_int_equal(r, LSN_ERR_NOT_RECIPIENT);
            else
                assert_int_equal(r, LSN_ERR_BAD_SIGNATURE);
        }
        free(bad);
    }
    free(env);
}

/* 3. Co-recipient B forges a message "from A" to C. */
static void
test_seal_corecipient_forges_sender(void **state)
{
    uint8_t *env, msg_id[16], eph[32], nonce[24], K[32], *content;
    const char *orgs_c[1] = { "org-c" };
    uint32_t kid[1] = { 1 };
    uint8_t pk[1][32], wk[1][32];
    size_t len, clen;
    Liaison__Alert a;
    struct sf_forge f;
    (void)state;

    sf_alert_sample(&a);
    a.title = "Fake alert from A";
    assert_int_equal(lsn_alert_encode(&a, &content, &clen), 0);
    randombytes_buf(msg_id, 16);
    randombytes_buf(eph, 32);
    randombytes_buf(nonce, 24);
    randombytes_buf(K, 32);
    memcpy(pk[0], C->cred->enc[0].pk, 32);
    memcpy(wk[0], K, 32);
    f = (struct sf_forge){
        .suite = 1, .msg_id = msg_id, .sender_org = "org-a",
        .sender_device = "d1", .bundle_version = 1, .created = NOW,
        .expires = NOW + 3600, .n = 1, .orgs = orgs_c, .key_ids = kid,
        .pks = (const uint8_t (*)[32])pk, .wrap_keys = (const uint8_t (*)[32])wk,
        .key = K, .eph_sk = eph, .nonce = nonce, .content = content,
        .content_len = clen, .sign_sk = B->cred->keys->sign_sk,
    };
    assert_int_equal(sf_forge(&f, &env, &len), 0);
    assert_int_equal(open_as(C, A, env, len, NOW), LSN_ERR_BAD_SIGNATURE);
    free(env);
    /* Naming a device A does not have. */
    f.sender_device = "ghost";
    assert_int_equal(sf_forge(&f, &env, &len), 0);
    assert_int_equal(open_as(C, A, env, len, NOW), LSN_ERR_UNKNOWN_DEVICE);
    free(env);
    /* Sanity: the same forgery signed by A's device would open, so the
     * rejections above are the signature's doing. */
    f.sender_device = "d1";
    f.sign_sk = A->cred->keys->sign_sk;
    assert_int_equal(sf_forge(&f, &env, &len), 0);
    assert_int_equal(open_as(C, A, env, len, NOW), 0);
    free(env);
    free(content);
}

/* 4. A sender wraps different content keys for B and C. */
static void
test_seal_commitment_binds_content_key(void **state)
{
    uint8_t *env, msg_id[16], eph[32], nonce[24], kx[32], *content;
    const char *orgs[2] = { "org-b", "org-c" };
    uint32_t kid[2] = { 1, 1 };
    uint8_t pk[2][32], wk[2][32];
    size_t len, clen;
    Liaison__Alert a;
    struct sf_forge f;
    (void)state;

    sf_alert_sample(&a);
    assert_int_equal(lsn_alert_encode(&a, &content, &clen), 0);
    randombytes_buf(msg_id, 16);
    randombytes_buf(eph, 32);
    randombytes_buf(nonce, 24);
    randombytes_buf(wk[0], 32);
    randombytes_buf(wk[1], 32);
    randombytes_buf(kx, 32);
    memcpy(pk[0], B->cred->enc[0].pk, 32);
    memcpy(pk[1], C->cred->enc[0].pk, 32);
    f = (struct sf_forge){
        .suite = 1, .msg_id = msg_id, .sender_org = "org-a",
        .sender_device = "d1", .bundle_version = 1, .created = NOW,
        .expires = NOW + 3600, .n = 2, .orgs = orgs, .key_ids = kid,
        .pks = (const uint8_t (*)[32])pk, .wrap_keys = (const uint8_t (*)[32])wk,
        .key = kx, .eph_sk = eph, .nonce = nonce, .content = content,
        .content_len = clen, .sign_sk = A->cred->keys->sign_sk,
    };
    /* Committed to a third key: neither K_B nor K_C matches. */
    assert_int_equal(sf_forge(&f, &env, &len), 0);
    assert_int_equal(open_as(B, A, env, len, NOW), LSN_ERR_COMMIT);
    assert_int_equal(open_as(C, A, env, len, NOW), LSN_ERR_COMMIT);
    free(env);
    /* Committed to K_B: only B can open, so no two recipients ever read
     * different plaintexts from one ciphertext. */
    f.key = wk[0];
    assert_int_equal(sf_forge(&f, &env, &len), 0);
    assert_int_equal(open_as(B, A, env, len, NOW), 0);
    assert_int_equal(open_as(C, A, env, len, NOW), LSN_ERR_COMMIT);
    free(env);
    /* The commitment is checked before decryption: committed to K_C but
     * encrypted under K_B, C fails at decryption, B at commitment. */
    f.key = wk[0];
    f.commit_key = wk[1];
    assert_int_equal(sf_forge(&f, &env, &len), 0);
    assert_int_equal(open_as(B, A, env, len, NOW), LSN_ERR_COMMIT);
    assert_int_equal(open_as(C, A, env, len, NOW), LSN_ERR_DECRYPT);
    free(env);
    free(content);
}

/* 5. Replay and expiry. */
struct seen {
    size_t n;
    char org[8][33];
    uint8_t id[8][16];
    int64_t keep_until;
    int fail;
};

static int
seen_check(void *ctx, const char *org, const uint8_t msg_id[16],
           int64_t keep_until)
{
    struct seen *s = ctx;

    if (s->fail)
        return LSN_ERR_IO;
    s->keep_until = keep_until;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->org[i], org) == 0 && memcmp(s->id[i], msg_id, 16) == 0)
            return LSN_ERR_REPLAY;
    return 0;
}

static void
seen_record(struct seen *s, const struct lsn_opened *o)
{
    strcpy(s->org[s->n], o->sender_org);
    memcpy(s->id[s->n], o->msg_id, 16);
    s->n++;
}

static void
test_seal_replay_rejected(void **state)
{
    struct seen s = { 0 };
    struct lsn_opened *o = NULL;
    uint8_t *env;
    size_t len;
    (void)state;

    seal_to(A, &env, &len, 1, B);
    assert_int_equal(lsn_open(env, len, B->cred, A->bundle, NOW, seen_check,
                              &s, &o), 0);
    assert_int_equal(s.keep_until, NOW + 7 * 86400 + LSN_MAX_SKEW);
    seen_record(&s, o);
    lsn_opened_destroy(&o);
    assert_int_equal(lsn_open(env, len, B->cred, A->bundle, NOW + 10,
                              seen_check, &s, &o), LSN_ERR_REPLAY);
    assert_null(o);
    /* A failing store is reported as itself, not as success. */
    s.n = 0;
    s.fail = 1;
    assert_int_equal(lsn_open(env, len, B->cred, A->bundle, NOW, seen_check,
                              &s, &o), LSN_ERR_IO);
    assert_null(o);
    free(env);
}

static void
test_seal_expired_rejected(void **state)
{
    uint8_t *env;
    size_t len;
    int64_t exp = NOW + 7 * 86400;
    (void)state;

    seal_to(A, &env, &len, 1, B);
    assert_int_equal(open_as(B, A, env, len, exp + LSN_MAX_SKEW), 0);
    assert_int_equal(open_as(B, A, env, len, exp + LSN_MAX_SKEW + 1),
                     LSN_ERR_EXPIRED);
    free(env);
}

static void
test_seal_future_rejected(void **state)
{
    const struct lsn_bundle *rb[1] = { B->bundle };
    struct lsn_seal_params p = params();
    Liaison__Alert a;
    uint8_t *env;
    size_t len;
    (void)state;

    sf_alert_sample(&a);
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &env, &len), 0);
    assert_int_equal(open_as(B, A, env, len, NOW - LSN_MAX_SKEW), 0);
    assert_int_equal(open_as(B, A, env, len, NOW - LSN_MAX_SKEW - 1),
                     LSN_ERR_FUTURE);
    free(env);
}

static void
edit_ttl(Liaison__EnvelopeHeader *h, void *ctx)
{
    (void)ctx;
    h->expires = h->created + LSN_MAX_TTL + 1;
}

static void
test_seal_ttl_too_long_rejected(void **state)
{
    struct lsn_envelope_info *info = malloc(sizeof *info);
    uint8_t *env, *bad;
    size_t len, blen;
    (void)state;

    seal_to(A, &env, &len, 1, B);
    /* The sender itself signs a too-long lifetime: still refused. */
    assert_int_equal(sf_tamper(env, len, edit_ttl, NULL,
                               A->cred->keys->sign_sk, &bad, &blen), 0);
    assert_int_equal(open_as(B, A, bad, blen, NOW), LSN_ERR_TTL);
    assert_int_equal(lsn_envelope_peek(bad, blen, 0, info), LSN_ERR_TTL);
    free(bad);
    free(env);
    free(info);
}

/* 6. The suite number changed: refused, never downgraded. */
static void
edit_suite(Liaison__EnvelopeHeader *h, void *ctx)
{
    h->suite = *(uint32_t *)ctx;
}

static void
test_seal_suite_changed_rejected(void **state)
{
    static uint32_t suites[] = { 0, 2, 255, 0x80000001u };
    uint8_t *env, *bad;
    size_t len, blen;
    (void)state;

    seal_to(A, &env, &len, 1, B);
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        assert_int_equal(sf_tamper(env, len, edit_suite, &suites[i], NULL,
                                   &bad, &blen), 0);
        assert_int_equal(open_as(B, A, bad, blen, NOW), LSN_ERR_SUITE);
        free(bad);
        assert_int_equal(sf_tamper(env, len, edit_suite, &suites[i],
                                   A->cred->keys->sign_sk, &bad, &blen), 0);
        assert_int_equal(open_as(B, A, bad, blen, NOW), LSN_ERR_SUITE);
        free(bad);
    }
    free(env);
}

/* 7. Every single-bit change anywhere is caught. */
static void
test_seal_bitflip_every_position(void **state)
{
    uint8_t *env;
    size_t len, fails = 0;
    (void)state;

    seal_to(A, &env, &len, 2, B, C);
    assert_int_equal(open_as(B, A, env, len, NOW), 0);
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            env[i] ^= (uint8_t)(1u << bit);
            if (open_as(B, A, env, len, NOW) != 0)
                fails++;
            env[i] ^= (uint8_t)(1u << bit);
        }
    assert_int_equal(fails, len * 8);
    assert_int_equal(open_as(B, A, env, len, NOW), 0);
    free(env);
}

static void
test_seal_truncation_every_length(void **state)
{
    uint8_t *env;
    size_t len;
    (void)state;

    seal_to(A, &env, &len, 1, B);
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(open_as(B, A, env, n, NOW), 0);
    free(env);
}

/* 8. A stolen device key, revoked in v3, signs an envelope naming v2. */
static void
test_seal_revoked_device_newest_bundle_decides(void **state)
{
    struct lsn_credential *d2 = NULL;
    struct lsn_bundle *v2 = NULL, *v3 = NULL, *v3b = NULL;
    Liaison__EncKey k1 = LIAISON__ENC_KEY__INIT, k2 = LIAISON__ENC_KEY__INIT;
    Liaison__EncKey *keys2[1] = { &k1 }, *keys3[2] = { &k2, &k1 };
    Liaison__Device dd1, dd2, *devs2[2] = { &dd1, &dd2 }, *devs3[1] = { &dd1 };
    const struct lsn_bundle *rb[1] = { B->bundle };
    struct lsn_seal_params p = params();
    uint8_t pk2[32];
    Liaison__Alert a;
    uint8_t *env;
    size_t len;
    (void)state;

    assert_int_equal(lsn_credential_new("org-a", "d2",
                                        LIAISON__DEVICE_ROLE__ROLE_HUMAN, 1, 1,
                                        &d2), 0);
    k1.key_id = 1;
    k1.public_key = (ProtobufCBinaryData){ 32, A->cred->enc[0].pk };
    k1.created = NOW - 86400;
    randombytes_buf(pk2, 32);
    k2.key_id = 2;
    k2.public_key = (ProtobufCBinaryData){ 32, pk2 };
    k2.created = NOW - 3600;
    k1.retire_after = 0;
    sf_device_from_cred(&dd1, A->cred, 1);
    sf_device_from_cred(&dd2, d2, 1);
    assert_int_equal(sf_bundle_make(A, 2, keys2, 1, devs2, 2, A->bundle->hash,
                                    &v2), 0);
    k1.retire_after = NOW + 86400;
    assert_int_equal(sf_bundle_make(A, 3, keys3, 2, devs3, 1, v2->hash, &v3), 0);

    sf_alert_sample(&a);
    p.bundle_version = 2;
    assert_int_equal(lsn_seal(&a, d2, rb, 1, &p, &env, &len), 0);
    /* Holding v2 the device is still valid... */
    {
        struct lsn_opened *o = NULL;
        assert_int_equal(lsn_open(env, len, B->cred, v2, NOW, NULL, NULL, &o),
                         0);
        lsn_opened_destroy(&o);
    }
    /* ...holding v3 it is gone, whatever version the header names. */
    {
        struct lsn_opened *o = (void *)1;
        assert_int_equal(lsn_open(env, len, B->cred, v3, NOW, NULL, NULL, &o),
                         LSN_ERR_UNKNOWN_DEVICE);
        assert_null(o);
    }
    /* A device kept in the bundle but no longer allowed to send. */
    dd2.may_send = 0;
    devs3[0] = &dd2;
    {
        Liaison__Device *devs3b[2] = { &dd1, &dd2 };
        struct lsn_opened *o = (void *)1;
        assert_int_equal(sf_bundle_make(A, 3, keys3, 2, devs3b, 2, v2->hash,
                                        &v3b), 0);
        assert_int_equal(lsn_open(env, len, B->cred, v3b, NOW, NULL, NULL, &o),
                         LSN_ERR_REVOKED);
        assert_null(o);
    }
    free(env);
    lsn_bundle_destroy(&v2);
    lsn_bundle_destroy(&v3);
    lsn_bundle_destroy(&v3b);
    lsn_credential_destroy(&d2);
}

/* 8b. B rotated its key: the old id opens in its grace period, then not. */
static void
test_seal_old_key_grace_period(void **state)
{
    struct sf_org r;
    struct lsn_enc_secret s2;
    const struct lsn_bundle *rb[1];
    struct lsn_seal_params p = params();
    Liaison__Alert a;
    uint8_t *env;
    size_t len;
    int64_t retire = NOW + 86400;
    (void)state;

    assert_int_equal(sf_org_new(&r, "org-r", NULL), 0);
    rb[0] = r.bundle;                    /* the sender still holds v1: key 1 */
    sf_alert_sample(&a);
    assert_int_equal(lsn_seal(&a, A->cred, rb, 1, &p, &env, &len), 0);
    /* The delivery of key 2 arrives; key 1 retires after a day. */
    memset(&s2, 0, sizeof s2);
    s2.key_id = 2;
    randombytes_buf(s2.sk, 32);
    crypto_scalarmult_base(s2.pk, s2.sk);
    assert_int_equal(lsn_credential_put_enc(r.cred, &s2), 0);
    {
        struct lsn_enc_secret old = *lsn_credential_find_enc(r.cred, 1);
        old.retire_after = retire;
        assert_int_equal(lsn_credential_put_enc(r.cred, &old), 0);
    }
    assert_int_equal(open_as(&r, A, env, len, NOW + 3600), 0);
    assert_int_equal(open_as(&r, A, env, len, retire), 0);
    assert_int_equal(open_as(&r, A, env, len, retire + 1), LSN_ERR_KEY_RETIRED);
    free(env);
    sf_org_free(&r);
}

static void
test_seal_unknown_key_id_rejected(void **state)
{
    struct sf_org r;
    uint8_t *env;
    size_t len;
    (void)state;

    assert_int_equal(sf_org_new(&r, "org-r", NULL), 0);
    seal_to(A, &env, &len, 1, &r);
    /* The device lost key 1 (a key delivery replaced its ring). */
    r.cred->enc[0].key_id = 7;
    assert_int_equal(open_as(&r, A, env, len, NOW), LSN_ERR_UNKNOWN_KEY);
    /* The right id with the wrong secret: the wrap does not open. */
    r.cred->enc[0].key_id = 1;
    randombytes_buf(r.cred->enc[0].sk, 32);
    assert_int_equal(open_as(&r, A, env, len, NOW), LSN_ERR_DECRYPT);
    free(env);
    sf_org_free(&r);
}

static void
test_seal_content_malformed_rejected(void **state)
{
    uint8_t msg_id[16], eph[32], nonce[24], K[32];
    const char *orgs[1] = { "org-b" };
    uint32_t kid[1] = { 1 };
    uint8_t pk[1][32], wk[1][32], *env;
    static const uint8_t junk[] = { 0x0a, 0x05, 'h', 'e' };
    static const uint8_t unknown[] = { 0x08, 0x01, 0x12, 0x01, 't', 0xf8, 0x01, 0x01 };
    static const uint8_t no_title[] = { 0x08, 0x01 };
    size_t len;
    struct sf_forge f;
    (void)state;

    randombytes_buf(msg_id, 16);
    randombytes_buf(eph, 32);
    randombytes_buf(nonce, 24);
    randombytes_buf(K, 32);
    memcpy(pk[0], B->cred->enc[0].pk, 32);
    memcpy(wk[0], K, 32);
    f = (struct sf_forge){
        .suite = 1, .msg_id = msg_id, .sender_org = "org-a",
        .sender_device = "d1", .bundle_version = 1, .created = NOW,
        .expires = NOW + 3600, .n = 1, .orgs = orgs, .key_ids = kid,
        .pks = (const uint8_t (*)[32])pk, .wrap_keys = (const uint8_t (*)[32])wk,
        .key = K, .eph_sk = eph, .nonce = nonce, .content = junk,
        .content_len = sizeof junk, .sign_sk = A->cred->keys->sign_sk,
    };
    assert_int_equal(sf_forge(&f, &env, &len), 0);
    assert_int_equal(open_as(B, A, env, len, NOW), LSN_ERR_MALFORMED);
    free(env);
    f.content = unknown;
    f.content_len = sizeof unknown;
    assert_int_equal(sf_forge(&f, &env, &len), 0);
    assert_int_equal(open_as(B, A, env, len, NOW), LSN_ERR_MALFORMED);
    free(env);
    f.content = no_title;
    f.content_len = sizeof no_title;
    assert_int_equal(sf_forge(&f, &env, &len), 0);
    assert_int_equal(open_as(B, A, env, len, NOW), LSN_ERR_INVALID);
    free(env);
}

static void
test_seal_sender_bundle_must_match(void **state)
{
    uint8_t *env;
    size_t len;
    (void)state;

    seal_to(A, &env, &len, 1, B);
    assert_int_equal(open_as(B, C, env, len, NOW), LSN_ERR_USAGE);
    free(env);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_roundtrip_one_recipient),
        cmocka_unit_test(test_seal_roundtrip_many_recipients),
        cmocka_unit_test(test_seal_pads_to_buckets),
        cmocka_unit_test(test_seal_randomness_is_fresh),
        cmocka_unit_test(test_seal_idempotency_key_fixes_msg_id),
        cmocka_unit_test(test_seal_idempotency_on_send_only_device),
        cmocka_unit_test(test_seal_refuses_bad_requests),
        cmocka_unit_test(test_seal_content_too_large),
        cmocka_unit_test(test_seal_surreptitious_forwarding),
        cmocka_unit_test(test_seal_recipient_sees_signed_list),
        cmocka_unit_test(test_seal_relay_edits_recipients),
        cmocka_unit_test(test_seal_corecipient_forges_sender),
        cmocka_unit_test(test_seal_commitment_binds_content_key),
        cmocka_unit_test(test_seal_replay_rejected),
        cmocka_unit_test(test_seal_expired_rejected),
        cmocka_unit_test(test_seal_future_rejected),
        cmocka_unit_test(test_seal_ttl_too_long_rejected),
        cmocka_unit_test(test_seal_suite_changed_rejected),
        cmocka_unit_test(test_seal_bitflip_every_position),
        cmocka_unit_test(test_seal_truncation_every_length),
        cmocka_unit_test(test_seal_revoked_device_newest_bundle_decides),
        cmocka_unit_test(test_seal_old_key_grace_period),
        cmocka_unit_test(test_seal_unknown_key_id_rejected),
        cmocka_unit_test(test_seal_content_malformed_rejected),
        cmocka_unit_test(test_seal_sender_bundle_must_match),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
