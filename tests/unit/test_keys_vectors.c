/* test_keys_vectors.c: known-answer vectors for the keys/ encodings: the
 * signed-object bytes of a roster and a bundle, fingerprints, and the key
 * file texts, all from fixed seeds (Ed25519 signing is deterministic).
 * tests/vectors/keys.txt holds "name = value" lines; with
 * LSN_VECTORS_WRITE=1 this rewrites the file instead of checking it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/bundle.h"
#include "keys/keyfile.h"
#include "keys/roster.h"
#include "keys/util.h"
#include "tests/lib/keyfix.h"

struct vec {
    char name[64];
    char *value;
};

static struct vec computed[16];
static size_t n_computed;

static void
add(const char *name, const char *value)
{
    assert_true(n_computed < 16);
    snprintf(computed[n_computed].name, sizeof computed[0].name, "%s", name);
    computed[n_computed].value = strdup(value);
    n_computed++;
}

static void
add_hex(const char *name, const uint8_t *bin, size_t len)
{
    char *hex = malloc(len * 2 + 1);
    lsn_hex(hex, bin, len);
    add(name, hex);
    free(hex);
}

/* Key file texts hold newlines: stored with "\n" written as '|'. */
static void
add_text(const char *name, const char *text)
{
    char *t = strdup(text);
    for (char *p = t; *p; p++)
        if (*p == '\n')
            *p = '|';
    add(name, t);
    free(t);
}

static void
compute(void)
{
    struct kf_key a, b, root;
    const struct kf_org orgs[] = { { "police", &root } };
    struct lsn_roster *ro;
    struct lsn_bundle *bu = NULL;
    Liaison__Bundle body = LIAISON__BUNDLE__INIT;
    Liaison__EncKey key = LIAISON__ENC_KEY__INIT, *keys[1] = { &key };
    Liaison__Device dev = LIAISON__DEVICE__INIT, *devs[1] = { &dev };
    uint8_t enc_pk[32], sign_pk[32], curve_pk[32];
    char fp[LSN_FP_LEN], *text = NULL;
    size_t tl = 0;

    kf_key(&a, 1);
    kf_key(&b, 2);
    kf_key(&root, 10);
    {
        const struct kf_key ab[] = { a, b };
        const struct kf_key *s[] = { &a, &b };
        ro = kf_roster(1, ab, 2, 2, orgs, 1, s, 2, 0);
    }
    add_hex("authority_a_pk", a.pk, 32);
    lsn_fingerprint(fp, a.pk, 32);
    add("authority_a_fingerprint", fp);
    add_hex("roster_v1_signed", ro->bytes, ro->len);
    add_hex("roster_v1_hash", ro->hash, 32);
    {
        /* The same roster with one circle, signed by both authorities. */
        char *members[] = { "police" };
        Liaison__RosterCircle c = LIAISON__ROSTER_CIRCLE__INIT, *cp[] = { &c };
        Liaison__Roster cb = *ro->r;
        struct lsn_roster *rc = NULL;

        c.name = "hotlines";
        c.display = "Hotlines";
        c.orgs = members;
        c.n_orgs = 1;
        cb.circles = cp;
        cb.n_circles = 1;
        assert_int_equal(lsn_roster_from_body(&cb, &rc), 0);
        assert_int_equal(lsn_roster_sign(rc, a.sk), 0);
        assert_int_equal(lsn_roster_sign(rc, b.sk), 0);
        assert_int_equal(lsn_roster_verify(rc, KF_NOW), 0);
        add_hex("roster_v1_circle_body", rc->so->body.data, rc->so->body.len);
        add_hex("roster_v1_circle_signed", rc->bytes, rc->len);
        add_hex("roster_v1_circle_hash", rc->hash, 32);
        lsn_roster_destroy(&rc);
    }

    memset(enc_pk, 0x11, 32);
    memset(sign_pk, 0x22, 32);
    memset(curve_pk, 0x33, 32);
    key.key_id = 1;
    key.public_key = (ProtobufCBinaryData){ 32, enc_pk };
    key.created = KF_NOW;
    dev.name = "alice";
    dev.role = LIAISON__DEVICE_ROLE__ROLE_HUMAN;
    dev.sign_key = (ProtobufCBinaryData){ 32, sign_pk };
    dev.curve_key = (ProtobufCBinaryData){ 32, curve_pk };
    dev.delivery_key = (ProtobufCBinaryData){ 32, curve_pk };
    dev.may_send = dev.may_receive = 1;
    body.org = "police";
    body.version = 1;
    body.issued = KF_NOW;
    body.expires = KF_NOW + KF_YEAR;
    body.enc_keys = keys;
    body.n_enc_keys = 1;
    body.devices = devs;
    body.n_devices = 1;
    assert_int_equal(lsn_bundle_sign(&body, root.sk, &bu), 0);
    add_hex("bundle_v1_signed", bu->bytes, bu->len);
    add_hex("bundle_v1_hash", bu->hash, 32);

    assert_int_equal(lsn_public_encode(LSN_KEY_ORG_ROOT, "root key of org `police`",
                                       root.pk, &text, &tl), 0);
    add_text("root_public_key_file", text);
    free(text);
    assert_int_equal(lsn_secret_encode(LSN_KEY_AUTHORITY, "a", a.sk, 64, NULL,
                                       &text, &tl), 0);
    add_text("authority_secret_key_file_unprotected", text);
    free(text);
    lsn_bundle_destroy(&bu);
    lsn_roster_destroy(&ro);
}

static char *
lookup(const char *file_text, const char *name)
{
    char pat[96];
    const char *p, *e;

    snprintf(pat, sizeof pat, "\n%.80s = ", name);
    if ((p = strstr(file_text, pat)) == NULL)
        return NULL;
    p += strlen(pat);
    e = strchr(p, '\n');
    return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

static void
test_keys_vectors_match(void **state)
{
    const char *dir = getenv("LSN_VECTORS");
    char path[512];
    uint8_t *file = NULL;
    size_t n = 0;

    (void)state;
    compute();
    snprintf(path, sizeof path, "%s/keys.txt", dir ? dir : "tests/vectors");
    if (getenv("LSN_VECTORS_WRITE") != NULL) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "# keys/ known-answer vectors (tests/unit/test_keys_vectors.c)\n");
        for (size_t i = 0; i < n_computed; i++)
            fprintf(f, "%s = %s\n", computed[i].name, computed[i].value);
        fclose(f);
        return;
    }
    assert_int_equal(lsn_file_read(path, 1 << 20, &file, &n), 0);
    for (size_t i = 0; i < n_computed; i++) {
        char *want = lookup((char *)file, computed[i].name);
        if (want == NULL)
            fail_msg("vector %s missing from %s", computed[i].name, path);
        if (strcmp(want, computed[i].value) != 0)
            fail_msg("vector %s differs:\n want %s\n got  %s", computed[i].name,
                     want, computed[i].value);
        free(want);
        free(computed[i].value);
    }
    free(file);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_vectors_match),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
