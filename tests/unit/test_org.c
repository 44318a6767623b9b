/* test_org.c: the org folder and the administrator's changes: device add,
 * revocation with a new key delivered only to those who remain, rotation,
 * root rotation, and key deliveries. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/delivery.h"
#include "keys/keyfile.h"
#include "keys/org.h"
#include "keys/signed.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"

static struct kf_key A, B;

static int
setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    kf_key(&A, 1);
    kf_key(&B, 2);
    return 0;
}

/* A roster listing org `police` with the root of o. */
static struct lsn_roster *
roster_for(const struct lsn_org *o, uint64_t v)
{
    struct kf_key root;
    const struct kf_key ab[] = { A, B };
    const struct kf_key *s[] = { &A, &B };
    const struct kf_org orgs[] = { { "police", &root } };

    memcpy(root.sk, o->root_sk, 64);
    memcpy(root.pk, o->root_sk + 32, 32);
    return kf_roster(v, ab, 2, 2, orgs, 1, s, 2, 0);
}

/* A roster version v listing org `police` with the root key prepared in
 * folder dir (root.next.key), which *next gets: what the steering group
 * signs to let the org adopt it. */
static struct lsn_roster *
roster_for_next(const char *dir, uint64_t v, struct kf_key *next)
{
    char path[PATH_MAX + 32];
    const struct kf_key ab[] = { A, B };
    const struct kf_key *s[] = { &A, &B };
    const struct kf_org orgs[] = { { "police", next } };
    uint8_t *sk = NULL;
    size_t n = 0;

    snprintf(path, sizeof path, "%s/root.next.key", dir);
    assert_int_equal(lsn_secret_read(path, LSN_KEY_ORG_ROOT, NULL, &sk, &n), 0);
    memcpy(next->sk, sk, 64);
    memcpy(next->pk, sk + 32, 32);
    lsn_secret_free(sk);
    return kf_roster(v, ab, 2, 2, orgs, 1, s, 2, 0);
}

static struct lsn_delivery *
read_delivery(const char *dir, const char *device, uint32_t key_id)
{
    char path[PATH_MAX];
    uint8_t *bin = NULL;
    size_t n = 0;
    struct lsn_delivery *d = NULL;

    snprintf(path, sizeof path, "%s/deliveries/%s-%u.signed", dir, device, key_id);
    if (lsn_signed_file_read(path, LSN_TYPE_KEY_DELIVERY, &bin, &n) != 0)
        return NULL;
    assert_int_equal(lsn_delivery_parse(bin, n, &d), 0);
    free(bin);
    return d;
}

static void
test_org_init_writes_private_files(void **state)
{
    const char *tmp = kf_tmpdir("org");
    char dir[PATH_MAX], path[PATH_MAX + 32];
    const char *secret[] = { "root.key", "enc.key", "admin.cred" };
    struct lsn_org *o = NULL, *again = NULL;
    struct stat st;

    (void)state;
    snprintf(dir, sizeof dir, "%s/police", tmp);
    assert_int_equal(lsn_org_init(dir, "police", NULL, 0, KF_NOW, &o), 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, secret[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    assert_int_equal(o->bundle->b->version, 1);
    assert_non_null(lsn_bundle_find_device(o->bundle, "admin"));
    /* A second init refuses to overwrite; a bad id is refused by name. */
    assert_int_equal(lsn_org_init(dir, "police", NULL, 0, KF_NOW, &again),
                     LSN_ERR_EXISTS);
    assert_int_equal(lsn_org_init(dir, "Police", NULL, 0, KF_NOW, &again),
                     LSN_ERR_BAD_ORG_ID);
    assert_int_equal(lsn_org_load(dir, NULL, &again), 0);
    assert_memory_equal(again->bundle->hash, o->bundle->hash, 32);
    lsn_org_destroy(&again);
    lsn_org_destroy(&o);
    kf_rmdir(tmp);
}

static void
test_org_revoke_leaves_revoked_device_without_new_key(void **state)
{
    const char *tmp = kf_tmpdir("org");
    char dir[PATH_MAX - 64];
    struct lsn_org *o = NULL;
    struct lsn_roster *ro = NULL;
    struct lsn_credential *alice = NULL, *bob = NULL, *feed = NULL, *twice = NULL;
    struct lsn_delivery *d = NULL;
    uint32_t new_id;

    (void)state;
    snprintf(dir, sizeof dir, "%s/police", tmp);
    assert_int_equal(lsn_org_init(dir, "police", NULL, 0, KF_NOW, &o), 0);
    ro = roster_for(o, 1);
    assert_int_equal(lsn_org_device_add(o, "alice", LIAISON__DEVICE_ROLE__ROLE_HUMAN,
                                        1, 1, ro->bytes, ro->len, KF_NOW, &alice), 0);
    assert_int_equal(lsn_org_device_add(o, "bob", LIAISON__DEVICE_ROLE__ROLE_HUMAN,
                                        1, 1, ro->bytes, ro->len, KF_NOW, &bob), 0);
    assert_int_equal(lsn_org_device_add(o, "feed", LIAISON__DEVICE_ROLE__ROLE_SYSTEM,
                                        1, 0, ro->bytes, ro->len, KF_NOW, &feed), 0);
    assert_int_equal(alice->n_enc, 1);
    assert_int_equal(feed->n_enc, 0);             /* send-only: no org secret */
    assert_int_equal(lsn_org_device_add(o, "bob", LIAISON__DEVICE_ROLE__ROLE_HUMAN,
                                        1, 1, NULL, 0, KF_NOW, &twice), LSN_ERR_EXISTS);
    assert_null(twice);

    assert_int_equal(lsn_org_device_revoke(o, "alice", KF_NOW + 10), 0);
    new_id = o->bundle->b->enc_keys[0]->key_id;
    assert_int_not_equal(new_id, 1);
    assert_null(lsn_bundle_find_device(o->bundle, "alice"));
    assert_int_equal(o->bundle->b->version, 5);
    assert_int_equal(lsn_bundle_verify(o->bundle, ro, KF_NOW + 10), 0);

    /* Only bob (may receive, remaining) gets the new key. */
    assert_null(read_delivery(dir, "alice", new_id));
    assert_null(read_delivery(dir, "feed", new_id));
    d = read_delivery(dir, "bob", new_id);
    assert_non_null(d);
    /* alice cannot use bob's delivery: addressed elsewhere, sealed to bob. */
    assert_int_equal(lsn_delivery_apply(d, ro, alice), LSN_ERR_UNKNOWN_DEVICE);
    assert_null(lsn_credential_find_enc(alice, new_id));
    assert_int_equal(lsn_delivery_apply(d, ro, bob), 0);
    assert_non_null(lsn_credential_find_enc(bob, new_id));
    assert_memory_equal(lsn_credential_find_enc(bob, new_id)->pk,
                        o->bundle->b->enc_keys[0]->public_key.data, 32);
    /* The old key stays for its grace period. */
    assert_non_null(lsn_bundle_find_key(o->bundle, 1));
    assert_true(lsn_bundle_find_key(o->bundle, 1)->retire_after > KF_NOW);

    lsn_delivery_destroy(&d);
    lsn_credential_destroy(&alice);
    lsn_credential_destroy(&bob);
    lsn_credential_destroy(&feed);
    lsn_roster_destroy(&ro);
    lsn_org_destroy(&o);
    kf_rmdir(tmp);
}

static void
test_org_delivery_forgery_refused(void **state)
{
    const char *tmp = kf_tmpdir("org");
    char dir[PATH_MAX - 64];
    struct lsn_org *o = NULL;
    struct lsn_roster *ro = NULL;
    struct lsn_credential *bob = NULL;
    struct lsn_delivery *forged = NULL, *wrong = NULL;
    struct lsn_enc_secret s;
    struct kf_key outsider;

    (void)state;
    snprintf(dir, sizeof dir, "%s/police", tmp);
    assert_int_equal(lsn_org_init(dir, "police", NULL, 0, KF_NOW, &o), 0);
    ro = roster_for(o, 1);
    assert_int_equal(lsn_org_device_add(o, "bob", LIAISON__DEVICE_ROLE__ROLE_HUMAN,
                                        1, 1, NULL, 0, KF_NOW, &bob), 0);
    kf_key(&outsider, 77);
    memset(&s, 0, sizeof s);
    s.key_id = 99;
    crypto_box_keypair(s.pk, s.sk);
    /* Signed by someone other than the org root. */
    assert_int_equal(lsn_delivery_make("police", "bob", bob->keys->delivery_pk, &s,
                                       9, outsider.sk, KF_NOW, &forged), 0);
    assert_int_not_equal(lsn_delivery_apply(forged, ro, bob), 0);
    assert_null(lsn_credential_find_enc(bob, 99));
    /* Properly signed but the public key does not match the secret. */
    s.pk[0] ^= 1;
    assert_int_equal(lsn_delivery_make("police", "bob", bob->keys->delivery_pk, &s,
                                       9, o->root_sk, KF_NOW, &wrong), 0);
    assert_int_equal(lsn_delivery_apply(wrong, ro, bob), LSN_ERR_KEY_MISMATCH);
    assert_null(lsn_credential_find_enc(bob, 99));
    sodium_memzero(&s, sizeof s);
    lsn_delivery_destroy(&forged);
    lsn_delivery_destroy(&wrong);
    lsn_credential_destroy(&bob);
    lsn_roster_destroy(&ro);
    lsn_org_destroy(&o);
    kf_rmdir(tmp);
}

static void
test_org_root_rotation(void **state)
{
    const char *tmp = kf_tmpdir("org");
    char dir[PATH_MAX - 64];
    struct lsn_org *o = NULL;
    struct lsn_roster *v1 = NULL, *v2 = NULL;
    uint8_t old_pk[32];
    struct kf_key next;

    (void)state;
    snprintf(dir, sizeof dir, "%s/police", tmp);
    assert_int_equal(lsn_org_init(dir, "police", NULL, 0, KF_NOW, &o), 0);
    v1 = roster_for(o, 1);
    memcpy(old_pk, o->root_sk + 32, 32);
    /* Adopting without a prepared key, or before the roster lists it, fails. */
    assert_int_equal(lsn_org_root_adopt(o, v1, KF_NOW), LSN_ERR_NOT_FOUND);
    assert_int_equal(lsn_org_root_prepare(o), 0);
    assert_int_equal(lsn_org_root_adopt(o, v1, KF_NOW), LSN_ERR_CHAIN);
    lsn_org_destroy(&o);
    /* The steering group lists root.next.pub in v2. */
    v2 = roster_for_next(dir, 2, &next);
    assert_int_equal(lsn_org_load(dir, NULL, &o), 0);
    assert_int_equal(lsn_org_root_adopt(o, v2, KF_NOW), 0);
    assert_memory_not_equal(o->root_sk + 32, old_pk, 32);
    assert_int_equal(lsn_bundle_verify(o->bundle, v2, KF_NOW), 0);
    assert_int_not_equal(lsn_bundle_verify(o->bundle, v1, KF_NOW), 0);
    lsn_org_destroy(&o);
    /* The folder reloads as one piece under the new root. */
    assert_int_equal(lsn_org_load(dir, NULL, &o), 0);
    assert_int_equal(o->bundle->b->version, 2);
    lsn_org_destroy(&o);
    lsn_roster_destroy(&v1);
    lsn_roster_destroy(&v2);
    kf_rmdir(tmp);
}

static void
test_org_passphrase_protects_folder(void **state)
{
    const char *tmp = kf_tmpdir("org");
    char dir[PATH_MAX - 64];
    struct lsn_org *o = NULL;
    int prot = 0;

    (void)state;
    snprintf(dir, sizeof dir, "%s/police", tmp);
    assert_int_equal(lsn_org_init(dir, "police", "correct horse", 0, KF_NOW, &o), 0);
    lsn_org_destroy(&o);
    assert_int_equal(lsn_org_is_protected(dir, &prot), 0);
    assert_true(prot);
    assert_int_equal(lsn_org_load(dir, NULL, &o), LSN_ERR_NEED_PASSPHRASE);
    assert_int_equal(lsn_org_load(dir, "wrong horse", &o), LSN_ERR_PASSPHRASE);
    assert_null(o);
    assert_int_equal(lsn_org_load(dir, "correct horse", &o), 0);
    assert_int_equal(lsn_org_rotate_enc(o, KF_NOW), 0);
    lsn_org_destroy(&o);
    assert_int_equal(lsn_org_load(dir, "correct horse", &o), 0);
    assert_int_equal(o->bundle->b->enc_keys[0]->key_id, 2);
    lsn_org_destroy(&o);
    kf_rmdir(tmp);
}

static void
test_org_rotate_device_replaces_the_key_it_held(void **state)
{
    const char *tmp = kf_tmpdir("org");
    char dir[PATH_MAX - 64];
    struct lsn_org *o = NULL;
    struct lsn_roster *ro = NULL;
    struct lsn_credential *old = NULL, *fresh = NULL, *bob = NULL;
    struct lsn_delivery *d = NULL;
    uint32_t first, next;

    (void)state;
    snprintf(dir, sizeof dir, "%s/police", tmp);
    assert_int_equal(lsn_org_init(dir, "police", NULL, 0, KF_NOW, &o), 0);
    ro = roster_for(o, 1);
    assert_int_equal(lsn_org_device_add(o, "alice", LIAISON__DEVICE_ROLE__ROLE_HUMAN,
                                        1, 1, NULL, 0, KF_NOW, &old), 0);
    assert_int_equal(lsn_org_device_add(o, "bob", LIAISON__DEVICE_ROLE__ROLE_HUMAN,
                                        1, 1, NULL, 0, KF_NOW, &bob), 0);
    first = o->bundle->b->enc_keys[0]->key_id;
    /* A suspected-stolen credential replaced: its org secret goes too. */
    assert_int_equal(lsn_org_rotate_device(o, "alice", NULL, 0, KF_NOW, &fresh), 0);
    next = o->bundle->b->enc_keys[0]->key_id;
    assert_int_not_equal(next, first);
    assert_non_null(lsn_credential_find_enc(fresh, next));
    assert_null(lsn_credential_find_enc(old, next));
    assert_memory_not_equal(fresh->keys->sign_pk, old->keys->sign_pk, 32);
    /* The other devices get it by delivery; the old keys cannot open it. */
    d = read_delivery(dir, "bob", next);
    assert_non_null(d);
    assert_int_equal(lsn_delivery_apply(d, ro, bob), 0);
    assert_int_not_equal(lsn_delivery_apply(d, ro, bob), 0);    /* not news twice */
    lsn_delivery_destroy(&d);

    /* Revoke after a rotation: only the current key's deliveries remain. */
    assert_int_equal(lsn_org_device_revoke(o, "alice", KF_NOW + 1), 0);
    assert_null(read_delivery(dir, "alice", o->bundle->b->enc_keys[0]->key_id));
    assert_null(read_delivery(dir, "alice", next));   /* stale ones cleared */
    assert_null(read_delivery(dir, "bob", next));
    assert_non_null(d = read_delivery(dir, "bob", o->bundle->b->enc_keys[0]->key_id));
    lsn_delivery_destroy(&d);
    lsn_credential_destroy(&old);
    lsn_credential_destroy(&fresh);
    lsn_credential_destroy(&bob);
    lsn_roster_destroy(&ro);
    lsn_org_destroy(&o);
    kf_rmdir(tmp);
}

/* An adoption that stops after the new bundle is written (here: root.key
 * cannot be replaced) is finished by the next load of the folder. */
static void
test_org_root_adoption_recovers_after_a_crash(void **state)
{
    const char *tmp = kf_tmpdir("org");
    char dir[PATH_MAX - 64], path[PATH_MAX], saved[PATH_MAX], inner[PATH_MAX + 16];
    struct lsn_org *o = NULL;
    struct lsn_roster *v2 = NULL;
    struct kf_key next;

    (void)state;
    snprintf(dir, sizeof dir, "%s/police", tmp);
    assert_int_equal(lsn_org_init(dir, "police", NULL, 0, KF_NOW, &o), 0);
    assert_int_equal(lsn_org_root_prepare(o), 0);
    v2 = roster_for_next(dir, 2, &next);
    /* root.key becomes a non-empty folder: the promotion's rename fails. */
    snprintf(path, sizeof path, "%s/root.key", dir);
    snprintf(saved, sizeof saved, "%s/root.key.saved", dir);
    assert_int_equal(rename(path, saved), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(inner, sizeof inner, "%s/x", path);
    assert_int_equal(mkdir(inner, 0700), 0);
    assert_int_not_equal(lsn_org_root_adopt(o, v2, KF_NOW), 0);
    lsn_org_destroy(&o);
    assert_int_equal(rmdir(inner), 0);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(rename(saved, path), 0);
    /* The old root.key no longer signs bundle.signed: the load finishes. */
    assert_int_equal(lsn_org_load(dir, NULL, &o), 0);
    assert_memory_equal(o->root_sk + 32, next.pk, 32);
    assert_int_equal(lsn_bundle_verify(o->bundle, v2, KF_NOW), 0);
    lsn_org_destroy(&o);
    assert_int_equal(lsn_org_load(dir, NULL, &o), 0);        /* and stays whole */
    lsn_org_destroy(&o);
    lsn_roster_destroy(&v2);
    kf_rmdir(tmp);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_org_init_writes_private_files),
        cmocka_unit_test(test_org_revoke_leaves_revoked_device_without_new_key),
        cmocka_unit_test(test_org_delivery_forgery_refused),
        cmocka_unit_test(test_org_root_rotation),
        cmocka_unit_test(test_org_passphrase_protects_folder),
        cmocka_unit_test(test_org_rotate_device_replaces_the_key_it_held),
        cmocka_unit_test(test_org_root_adoption_recovers_after_a_crash),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
