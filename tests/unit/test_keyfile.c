/* test_keyfile.c: secret and public key files: modes, no overwrite,
 * passphrases (wrong one reported as such), and hostile files: truncated,
 * corrupt, oversized, of the wrong kind. */
#include <fcntl.h>
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

#include "keys/armor.h"
#include "keys/credential.h"
#include "keys/keyfile.h"
#include "keys/util.h"
#include "proto/err.h"
#include "tests/lib/keyfix.h"

static int
setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void
test_keyfile_secret_roundtrip_mode_and_no_overwrite(void **state)
{
    const char *dir = kf_tmpdir("kf");
    char path[PATH_MAX];
    uint8_t sk[64], *got = NULL;
    size_t n = 0;
    struct stat st;

    (void)state;
    randombytes_buf(sk, sizeof sk);
    snprintf(path, sizeof path, "%s/a.key", dir);
    assert_int_equal(lsn_secret_write(path, LSN_KEY_AUTHORITY, "a", sk, 64, NULL, 0), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lsn_secret_write(path, LSN_KEY_AUTHORITY, "a", sk, 64, NULL, 0),
                     LSN_ERR_EXISTS);
    assert_int_equal(lsn_secret_read(path, LSN_KEY_AUTHORITY, NULL, &got, &n), 0);
    assert_int_equal(n, 64);
    assert_memory_equal(got, sk, 64);
    lsn_secret_free(got);
    /* The wrong kind is named as such. */
    assert_int_equal(lsn_secret_read(path, LSN_KEY_RELAY, NULL, &got, &n),
                     LSN_ERR_WRONG_KIND);
    /* --force replaces, still 0600. */
    sk[0] ^= 1;
    assert_int_equal(lsn_secret_write(path, LSN_KEY_AUTHORITY, "a", sk, 64, NULL,
                                      LSN_WRITE_FORCE), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lsn_secret_read(path, LSN_KEY_AUTHORITY, NULL, &got, &n), 0);
    assert_memory_equal(got, sk, 64);
    lsn_secret_free(got);
    kf_rmdir(dir);
}

static void
test_keyfile_symlink_not_followed(void **state)
{
    const char *dir = kf_tmpdir("kf");
    char path[PATH_MAX], target[PATH_MAX];
    uint8_t sk[32] = { 1 };
    struct stat st;

    (void)state;
    snprintf(path, sizeof path, "%s/link.key", dir);
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    assert_int_equal(symlink(target, path), 0);
    assert_int_not_equal(lsn_secret_write(path, LSN_KEY_RELAY, NULL, sk, 32, NULL, 0), 0);
    assert_int_not_equal(stat(target, &st), 0);      /* nothing written through it */
    kf_rmdir(dir);
}

static void
test_keyfile_passphrase_wrong_and_missing(void **state)
{
    uint8_t sk[64], *got = NULL;
    char *text = NULL;
    size_t tl = 0, n = 0;

    (void)state;
    randombytes_buf(sk, sizeof sk);
    assert_int_equal(lsn_secret_encode(LSN_KEY_ORG_ROOT, NULL, sk, 64, "s3cret",
                                       &text, &tl), 0);
    assert_int_equal(lsn_secret_decode((uint8_t *)text, tl, LSN_KEY_ORG_ROOT, NULL,
                                       &got, &n), LSN_ERR_NEED_PASSPHRASE);
    assert_int_equal(lsn_secret_decode((uint8_t *)text, tl, LSN_KEY_ORG_ROOT,
                                       "s3cre7", &got, &n), LSN_ERR_PASSPHRASE);
    assert_null(got);
    assert_int_equal(lsn_secret_decode((uint8_t *)text, tl, LSN_KEY_ORG_ROOT,
                                       "s3cret", &got, &n), 0);
    assert_memory_equal(got, sk, 64);
    /* The secret is not in the file in the clear. */
    assert_null(memmem(text, tl, sk, 64));
    lsn_secret_free(got);
    free(text);
}

static void
test_keyfile_header_bound_to_passphrase_key(void **state)
{
    uint8_t sk[64], *bin = NULL, *got = NULL;
    char *text = NULL, *again = NULL;
    size_t tl = 0, n = 0, al = 0, gl = 0;

    (void)state;
    randombytes_buf(sk, sizeof sk);
    assert_int_equal(lsn_secret_encode(LSN_KEY_ORG_ROOT, NULL, sk, 64, "pw", &text,
                                       &tl), 0);
    /* Relabel an org root as an authority key and fix the checksum: the
     * header is part of the key, so it no longer opens. */
    assert_int_equal(lsn_armor_decode("secret-key", (uint8_t *)text, tl, 1 << 20,
                                      &bin, &n), 0);
    bin[5] = LSN_KEY_AUTHORITY;
    crypto_generichash(bin + n - 32, 32, bin, n - 32, NULL, 0);
    assert_int_equal(lsn_armor_encode("secret-key", NULL, bin, n, &again, &al), 0);
    assert_int_equal(lsn_secret_decode((uint8_t *)again, al, LSN_KEY_AUTHORITY, "pw",
                                       &got, &gl), LSN_ERR_PASSPHRASE);
    assert_null(got);
    free(bin);
    free(text);
    free(again);
}

static void
test_keyfile_truncated_and_corrupt_files_fail_cleanly(void **state)
{
    uint8_t sk[64], *got = NULL;
    char *text = NULL;
    size_t tl = 0, n = 0;

    (void)state;
    randombytes_buf(sk, sizeof sk);
    assert_int_equal(lsn_secret_encode(LSN_KEY_AUTHORITY, "x", sk, 64, NULL, &text,
                                       &tl), 0);
    for (size_t cut = 0; cut < tl - 1; cut++) {
        int r = lsn_secret_decode((uint8_t *)text, cut, LSN_KEY_AUTHORITY, NULL,
                                  &got, &n);
        assert_true(r < 0);
        assert_null(got);
    }
    /* Change one base64 character of the data: the checksum catches it. */
    {
        char *data = strstr(text, "\nTFNO");
        assert_non_null(data);
        for (size_t i = 1; i < 60; i++) {
            char keep = data[i];
            data[i] = data[i] == 'A' ? 'B' : 'A';
            int r = lsn_secret_decode((uint8_t *)text, tl, LSN_KEY_AUTHORITY, NULL,
                                      &got, &n);
            assert_true(r == LSN_ERR_CORRUPT || r == LSN_ERR_MALFORMED ||
                        r == LSN_ERR_TRUNCATED || r == LSN_ERR_WRONG_KIND ||
                        r == LSN_ERR_VERSION);
            assert_null(got);
            data[i] = keep;
        }
    }
    free(text);
}

static void
test_keyfile_oversized_and_garbage_refused(void **state)
{
    const char *dir = kf_tmpdir("kf");
    char path[PATH_MAX];
    uint8_t *got = NULL, key[32];
    size_t n = 0, big = LSN_SECRET_FILE_MAX * 2 + 10;
    char *junk = malloc(big);
    int fd;

    (void)state;
    memset(junk, 'A', big);
    memcpy(junk, "liaison-secret-key v1\n", 22);
    snprintf(path, sizeof path, "%s/big.key", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, junk, big), (ssize_t)big);
    close(fd);
    assert_int_equal(lsn_secret_read(path, LSN_KEY_AUTHORITY, NULL, &got, &n),
                     LSN_ERR_TOO_LARGE);
    assert_int_equal(lsn_public_read(path, LSN_KEY_AUTHORITY, key), LSN_ERR_TOO_LARGE);
    /* Not a liaison file at all, and a file of the future. */
    assert_int_equal(lsn_secret_decode((const uint8_t *)"hello\n", 6, LSN_KEY_AUTHORITY,
                                       NULL, &got, &n), LSN_ERR_MALFORMED);
    assert_int_equal(lsn_secret_decode((const uint8_t *)"liaison-secret-key v2\nend\n",
                                       26, LSN_KEY_AUTHORITY, NULL, &got, &n),
                     LSN_ERR_VERSION);
    assert_int_equal(lsn_public_read("/nonexistent/x.pub", LSN_KEY_AUTHORITY, key),
                     LSN_ERR_NOT_FOUND);
    free(junk);
    kf_rmdir(dir);
}

static void
test_keyfile_public_roundtrip_and_fingerprint(void **state)
{
    uint8_t pk[32], got[32];
    char *text = NULL, fp[LSN_FP_LEN];
    size_t tl = 0;

    (void)state;
    memset(pk, 0x5a, sizeof pk);
    assert_int_equal(lsn_public_encode(LSN_KEY_RELAY, "r", pk, &text, &tl), 0);
    assert_int_equal(lsn_public_decode((uint8_t *)text, tl, LSN_KEY_RELAY, got), 0);
    assert_memory_equal(got, pk, 32);
    assert_int_equal(lsn_public_decode((uint8_t *)text, tl, LSN_KEY_ORG_ROOT, got),
                     LSN_ERR_WRONG_KIND);
    lsn_fingerprint(fp, pk, 32);
    assert_int_equal(strlen(fp), 39);
    assert_non_null(strstr(text, fp));          /* shown in the file's comment */
    for (size_t i = 0; i < 39; i++)
        assert_true(i % 5 == 4 ? fp[i] == ' '
                               : (fp[i] >= 'a' && fp[i] <= 'z') || (fp[i] >= '2' && fp[i] <= '7'));
    free(text);
}

static void
test_keyfile_credential_roundtrip_and_mismatch(void **state)
{
    struct lsn_credential *c = NULL, *back = NULL;
    struct lsn_enc_secret s;
    uint8_t *enc = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(lsn_credential_new("police", "alice", LIAISON__DEVICE_ROLE__ROLE_HUMAN,
                                        1, 1, &c), 0);
    memset(&s, 0, sizeof s);
    s.key_id = 3;
    crypto_box_keypair(s.pk, s.sk);
    assert_int_equal(lsn_credential_put_enc(c, &s), 0);
    assert_int_equal(lsn_credential_encode(c, &enc, &n), 0);
    assert_int_equal(lsn_credential_decode(enc, n, &back), 0);
    assert_string_equal(back->org, "police");
    assert_memory_equal(back->keys->sign_pk, c->keys->sign_pk, 32);
    assert_memory_equal(lsn_credential_find_enc(back, 3)->sk, s.sk, 32);
    lsn_credential_destroy(&back);
    sodium_free(enc);
    /* A secret that does not match its public key is refused. */
    c->enc[0].pk[0] ^= 1;
    assert_int_equal(lsn_credential_encode(c, &enc, &n), 0);
    assert_int_equal(lsn_credential_decode(enc, n, &back), LSN_ERR_KEY_MISMATCH);
    assert_null(back);
    sodium_free(enc);
    sodium_memzero(&s, sizeof s);
    lsn_credential_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyfile_secret_roundtrip_mode_and_no_overwrite),
        cmocka_unit_test(test_keyfile_symlink_not_followed),
        cmocka_unit_test(test_keyfile_passphrase_wrong_and_missing),
        cmocka_unit_test(test_keyfile_header_bound_to_passphrase_key),
        cmocka_unit_test(test_keyfile_truncated_and_corrupt_files_fail_cleanly),
        cmocka_unit_test(test_keyfile_oversized_and_garbage_refused),
        cmocka_unit_test(test_keyfile_public_roundtrip_and_fingerprint),
        cmocka_unit_test(test_keyfile_credential_roundtrip_and_mismatch),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
