/* fuzz_keyfile.c: secret and public key files (keys/keyfile.c):
 * lsn_secret_decode and lsn_public_decode.
 *
 * Input: one selector byte, then the file text.  Selector bits: 0-2 the
 * key kind (1..5; 0 and 6-7 are invalid kinds on purpose), 3 a public key
 * file instead of a secret one, 4 "repair the checksum" (the target
 * decodes the armor, rewrites the trailing BLAKE2b-256 and re-armors, so
 * the fuzzer reaches everything past the checksum), 5 offer a passphrase.
 *
 * argon2id stays cheap: the passphrase is offered only when the file asks
 * for at most CHEAP_OPS passes over CHEAP_MEM bytes.  keyfile.c itself
 * accepts up to 16 passes over 1 GiB (MAX_OPSLIMIT, MAX_MEMLIMIT), which
 * one hostile file can make a reader spend; see docs/threat-model.md.
 * Invariants: a decoded payload fits the format's cap and survives an
 * unprotected re-encode; a public key survives a re-encode. */
#include <string.h>

#include <sodium.h>

#include "keys/armor.h"
#include "keys/keyfile.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

#define CHEAP_OPS 2u
#define CHEAP_MEM (1024u * 1024u)
#define SECRET_HDR 68u          /* docs/formats.md "Key files" */
#define SUM 32u

static uint64_t
be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void
fuzz_public(int kind, const uint8_t *text, size_t size)
{
    uint8_t key[32], again[32];
    char *t = NULL;
    size_t tn = 0;

    if (lsn_public_decode(text, size, kind, key) != 0)
        return;
    FF_CHECK(lsn_public_encode(kind, NULL, key, &t, &tn) == 0);
    FF_CHECK(lsn_public_decode((const uint8_t *)t, tn, kind, again) == 0);
    FF_CHECK(memcmp(key, again, 32) == 0);
    free(t);
}

static void
fuzz_secret(int kind, const uint8_t *text, size_t size, int repair,
            int offer_pass)
{
    uint8_t *bin = NULL, *payload = NULL, *p2 = NULL;
    char *fixed = NULL, *t = NULL;
    size_t n = 0, fn = 0, len = 0, tn = 0, l2 = 0;
    const char *pass = NULL;
    int r;

    /* Look at the binary first: the KDF cost and, if asked, the checksum. */
    if (lsn_armor_decode("secret-key", text, size, LSN_SECRET_FILE_MAX, &bin,
                         &n) != 0)
        bin = NULL;
    if (bin != NULL && n >= SECRET_HDR + SUM) {
        if (repair) {
            crypto_generichash(bin + n - SUM, SUM, bin, n - SUM, NULL, 0);
            FF_CHECK(lsn_armor_encode("secret-key", NULL, bin, n, &fixed,
                                      &fn) == 0);
            text = (const uint8_t *)fixed;
            size = fn;
        }
        if (offer_pass && (bin[6] == 0 ||
                           (be64(bin + 8) <= CHEAP_OPS &&
                            be64(bin + 16) <= CHEAP_MEM)))
            pass = "fuzz passphrase";
    }
    r = lsn_secret_decode(text, size, kind, pass, &payload, &len);
    if (r == 0) {
        FF_CHECK(payload != NULL && len <= LSN_SECRET_FILE_MAX);
        FF_CHECK(lsn_secret_encode(kind, NULL, payload, len, NULL, &t,
                                   &tn) == 0);
        FF_CHECK(lsn_secret_decode((const uint8_t *)t, tn, kind, NULL, &p2,
                                   &l2) == 0);
        FF_CHECK(l2 == len && (len == 0 || memcmp(p2, payload, len) == 0));
    } else {
        FF_CHECK(payload == NULL && len == 0);
    }
    lsn_secret_free(p2);
    lsn_secret_free(payload);
    free(t);
    free(fixed);
    if (bin != NULL) {
        sodium_memzero(bin, n);
        free(bin);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int kind;

    if (size < 1)
        return 0;
    kind = data[0] & 7;
    if (data[0] & 8)
        fuzz_public(kind, data + 1, size - 1);
    else
        fuzz_secret(kind, data + 1, size - 1, data[0] & 16, data[0] & 32);
    return 0;
}
