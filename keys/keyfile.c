/* keyfile.c: secret and public key files (format in docs/formats.md).
 *
 * Secret binary, integers big-endian:
 *   "LSNS" | version 1 | kind | kdf (0 none, 1 argon2id13) | 0 |
 *   opslimit u64 | memlimit u64 | salt[16] | nonce[24] | n u32 |
 *   data (n bytes, or n+16 with the Poly1305 tag first) | BLAKE2b-256 of all before
 * Public binary: "LSNP" | version 1 | kind | 0 0 | key[32] | BLAKE2b-256 of all before */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/armor.h"
#include "keys/keyfile.h"
#include "keys/util.h"
#include "proto/err.h"

#define SECRET_HDR 68
#define SUM 32
#define KDF_NONE 0
#define KDF_ARGON2ID 1
/* argon2id: 3 passes over 64 MiB, about 0.2 s here; stored per file so it
 * can grow without a format change. */
#define OPSLIMIT 3ULL
#define MEMLIMIT (64ULL * 1024 * 1024)
#define MAX_OPSLIMIT 8ULL
#define MAX_MEMLIMIT (256ULL * 1024 * 1024)

const char *
lsn_key_kind_name(int kind)
{
    switch (kind) {
    case LSN_KEY_AUTHORITY:  return "authority";
    case LSN_KEY_ORG_ROOT:   return "org-root";
    case LSN_KEY_RELAY:      return "relay";
    case LSN_KEY_ENC_RING:   return "enc-ring";
    case LSN_KEY_CREDENTIAL: return "credential";
    default:                 return "unknown";
    }
}

static void
put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The file key: argon2id of the passphrase with the header's salt and
 * limits (what struct lsn_secret_kek keeps). */
static int
stretch(uint8_t k[32], const char *pass, const uint8_t hdr[SECRET_HDR])
{
    if (crypto_pwhash(k, 32, pass, strlen(pass), hdr + 24, get_u64(hdr + 8),
                      (size_t)get_u64(hdr + 16), crypto_pwhash_ALG_ARGON2ID13) != 0)
        return LSN_ERR_NOMEM;
    return 0;
}

/* The box key: the file key bound to the header (magic, kind, KDF and its
 * limits, salt, nonce, length), so a header edited to relabel the key's
 * kind or weaken its limits no longer opens. */
static int
derive_key(uint8_t key[32], const char *pass, const uint8_t hdr[SECRET_HDR])
{
    uint8_t k[32];

    if (stretch(k, pass, hdr) != 0)
        return LSN_ERR_NOMEM;
    crypto_generichash(key, 32, hdr, SECRET_HDR, k, sizeof k);
    sodium_memzero(k, sizeof k);
    return 0;
}

#define SECRET_LABEL "secret-key"

/* Encodes under pass, or under kek when it is not NULL (then with kek's
 * salt and KDF limits), or unprotected when both are NULL. */
static int
encode(int kind, const char *comment, const uint8_t *payload, size_t len,
       const char *pass, const struct lsn_secret_kek *kek, char **text,
       size_t *text_len)
{
    size_t data_len = len + (pass || kek ? crypto_secretbox_MACBYTES : 0);
    size_t total = SECRET_HDR + data_len + SUM;
    uint8_t *bin = NULL, key[32];
    char note[160];
    int r = LSN_ERR_NOMEM;

    *text = NULL;
    *text_len = 0;
    if (len > LSN_SECRET_FILE_MAX / 2)
        return LSN_ERR_TOO_LARGE;
    if ((bin = calloc(1, total)) == NULL)
        goto out;
    memcpy(bin, "LSNS", 4);
    bin[4] = 1;
    bin[5] = (uint8_t)kind;
    bin[6] = pass || kek ? KDF_ARGON2ID : KDF_NONE;
    put_u32(bin + 64, (uint32_t)len);
    if (kek) {
        if (kek->prefix[5] != kind) {
            r = LSN_ERR_WRONG_KIND;
            goto out;
        }
        memcpy(bin, kek->prefix, sizeof kek->prefix);
        randombytes_buf(bin + 40, 24);
        crypto_generichash(key, 32, bin, SECRET_HDR, kek->k, sizeof kek->k);
        crypto_secretbox_easy(bin + SECRET_HDR, payload, len, bin + 40, key);
    } else if (pass) {
        put_u64(bin + 8, OPSLIMIT);
        put_u64(bin + 16, MEMLIMIT);
        randombytes_buf(bin + 24, 16);
        randombytes_buf(bin + 40, 24);
        if ((r = derive_key(key, pass, bin)) != 0)
            goto out;
        crypto_secretbox_easy(bin + SECRET_HDR, payload, len, bin + 40, key);
    } else {
        memcpy(bin + SECRET_HDR, payload, len);
    }
    crypto_generichash(bin + total - SUM, SUM, bin, total - SUM, NULL, 0);
    snprintf(note, sizeof note, "%s secret key%s%s%s",
             lsn_key_kind_name(kind), bin[6] ? ", passphrase-protected" : "",
             comment ? "\n" : "", comment ? comment : "");
    r = lsn_armor_encode(SECRET_LABEL, note, bin, total, text, text_len);
out:
    sodium_memzero(key, sizeof key);
    if (bin != NULL) {
        sodium_memzero(bin, total);
        free(bin);
    }
    return r;
}

int
lsn_secret_encode(int kind, const char *comment, const uint8_t *payload,
                  size_t len, const char *pass, char **text, size_t *text_len)
{
    return encode(kind, comment, payload, len, pass, NULL, text, text_len);
}

int
lsn_secret_encode_kek(int kind, const char *comment, const uint8_t *payload,
                      size_t len, const struct lsn_secret_kek *kek, char **text,
                      size_t *text_len)
{
    return encode(kind, comment, payload, len, NULL, kek, text, text_len);
}

/* Checks the fixed part of a decoded secret binary. */
static int
check_secret_bin(const uint8_t *bin, size_t n, int kind, uint32_t *len)
{
    uint8_t sum[SUM];
    size_t want;

    if (n < SECRET_HDR + SUM)
        return LSN_ERR_TRUNCATED;
    if (memcmp(bin, "LSNS", 4) != 0)
        return LSN_ERR_MALFORMED;
    crypto_generichash(sum, SUM, bin, n - SUM, NULL, 0);
    if (sodium_memcmp(sum, bin + n - SUM, SUM) != 0)
        return LSN_ERR_CORRUPT;
    if (bin[4] != 1)
        return LSN_ERR_VERSION;
    if (bin[5] != kind)
        return LSN_ERR_WRONG_KIND;
    if (bin[6] > KDF_ARGON2ID || bin[7] != 0)
        return LSN_ERR_MALFORMED;
    *len = get_u32(bin + 64);
    want = SECRET_HDR + (size_t)*len + SUM +
           (bin[6] == KDF_ARGON2ID ? crypto_secretbox_MACBYTES : 0);
    if (*len > LSN_SECRET_FILE_MAX || want != n)
        return LSN_ERR_MALFORMED;
    if (bin[6] == KDF_ARGON2ID &&
        (get_u64(bin + 8) < crypto_pwhash_OPSLIMIT_MIN ||
         get_u64(bin + 8) > MAX_OPSLIMIT ||
         get_u64(bin + 16) < crypto_pwhash_MEMLIMIT_MIN ||
         get_u64(bin + 16) > MAX_MEMLIMIT))
        return LSN_ERR_MALFORMED;   /* a file must not make us burn a GiB */
    return 0;
}

/* Decodes with pass, or with kek when it is not NULL.  With kek_out, the
 * file key found from pass is kept there (the file must be protected). */
static int
decode(const uint8_t *text, size_t text_len, int kind, const char *pass,
       const struct lsn_secret_kek *kek, struct lsn_secret_kek *kek_out,
       uint8_t **payload, size_t *len)
{
    uint8_t *bin = NULL, *out = NULL, key[32], k[32];
    size_t n = 0;
    uint32_t plen = 0;
    int r;

    *payload = NULL;
    *len = 0;
    r = lsn_armor_decode(SECRET_LABEL, text, text_len,
                         LSN_SECRET_FILE_MAX, &bin, &n);
    if (r != 0)
        return r;
    if ((r = check_secret_bin(bin, n, kind, &plen)) != 0)
        goto out;
    if ((out = sodium_malloc(plen ? plen : 1)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    if (bin[6] == KDF_NONE && (kek != NULL || kek_out != NULL)) {
        lsn_set_detail("the file is not protected by a passphrase");
        r = LSN_ERR_INVALID;
        goto out;
    }
    if (bin[6] == KDF_NONE) {
        memcpy(out, bin + SECRET_HDR, plen);
    } else {
        if (kek != NULL) {
            /* Another salt or KDF: sealed under another passphrase. */
            if (sodium_memcmp(bin, kek->prefix, sizeof kek->prefix) != 0) {
                r = LSN_ERR_PASSPHRASE;
                goto out;
            }
            memcpy(k, kek->k, sizeof k);
        } else if (pass == NULL) {
            r = LSN_ERR_NEED_PASSPHRASE;
            goto out;
        } else if ((r = stretch(k, pass, bin)) != 0) {
            goto out;
        }
        crypto_generichash(key, 32, bin, SECRET_HDR, k, sizeof k);
        /* The checksum passed, so a failing tag means the passphrase. */
        if (crypto_secretbox_open_easy(out, bin + SECRET_HDR,
                                       plen + crypto_secretbox_MACBYTES,
                                       bin + 40, key) != 0) {
            r = LSN_ERR_PASSPHRASE;
            goto out;
        }
        if (kek_out != NULL) {
            memcpy(kek_out->prefix, bin, sizeof kek_out->prefix);
            memcpy(kek_out->k, k, sizeof k);
        }
    }
    *payload = out;
    *len = plen;
    out = NULL;
    r = 0;
out:
    sodium_memzero(key, sizeof key);
    sodium_memzero(k, sizeof k);
    sodium_memzero(bin, n);
    free(bin);
    sodium_free(out);
    return r;
}

int
lsn_secret_decode(const uint8_t *text, size_t text_len, int kind,
                  const char *pass, uint8_t **payload, size_t *len)
{
    return decode(text, text_len, kind, pass, NULL, NULL, payload, len);
}

int
lsn_secret_kek_derive(const uint8_t *text, size_t text_len, int kind,
                      const char *pass, struct lsn_secret_kek *kek)
{
    uint8_t *payload = NULL;
    size_t n = 0;
    int r = decode(text, text_len, kind, pass, NULL, kek, &payload, &n);

    sodium_free(payload);
    if (r != 0)
        sodium_memzero(kek, sizeof *kek);
    return r;
}

int
lsn_secret_decode_kek(const uint8_t *text, size_t text_len, int kind,
                      const struct lsn_secret_kek *kek, uint8_t **payload,
                      size_t *len)
{
    return decode(text, text_len, kind, NULL, kek, NULL, payload, len);
}

int
lsn_secret_write(const char *path, int kind, const char *comment,
                 const uint8_t *payload, size_t len, const char *pass, int flags)
{
    char *text = NULL;
    size_t n = 0;
    int r;

    if ((r = lsn_secret_encode(kind, comment, payload, len, pass, &text, &n)) != 0)
        return r;
    r = lsn_file_write(path, text, n, flags | LSN_WRITE_SECRET);
    sodium_memzero(text, n);
    free(text);
    return r;
}

int
lsn_secret_read(const char *path, int kind, const char *pass,
                uint8_t **payload, size_t *len)
{
    uint8_t *text = NULL;
    size_t n = 0;
    int r;

    *payload = NULL;
    *len = 0;
    if ((r = lsn_secret_file_read(path, LSN_SECRET_FILE_MAX * 2, &text, &n)) != 0)
        return r;
    r = lsn_secret_decode(text, n, kind, pass, payload, len);
    sodium_memzero(text, n);
    free(text);
    return r;
}

int
lsn_secret_is_protected(const char *path, int *is_protected)
{
    uint8_t *text = NULL, *bin = NULL;
    size_t n = 0, bn = 0;
    int r;

    *is_protected = 0;
    if ((r = lsn_secret_file_read(path, LSN_SECRET_FILE_MAX * 2, &text, &n)) != 0)
        return r;
    r = lsn_armor_decode(SECRET_LABEL, text, n, LSN_SECRET_FILE_MAX, &bin, &bn);
    if (r == 0 && bn < SECRET_HDR + SUM)
        r = LSN_ERR_TRUNCATED;
    if (r == 0)
        *is_protected = bin[6] != KDF_NONE;
    sodium_memzero(text, n);
    free(text);
    if (bin != NULL) {
        sodium_memzero(bin, bn);
        free(bin);
    }
    return r;
}

void
lsn_secret_free(uint8_t *payload)
{
    sodium_free(payload);
}

#define PUBLIC_BIN (8 + 32 + SUM)

int
lsn_public_encode(int kind, const char *comment, const uint8_t key[32],
                  char **text, size_t *text_len)
{
    uint8_t bin[PUBLIC_BIN] = { 'L', 'S', 'N', 'P', 1, (uint8_t)kind, 0, 0 };
    char fp[LSN_FP_LEN], note[256];

    memcpy(bin + 8, key, 32);
    crypto_generichash(bin + 40, SUM, bin, 40, NULL, 0);
    lsn_fingerprint(fp, key, 32);
    snprintf(note, sizeof note, "%s public key, fingerprint %s%s%s",
             lsn_key_kind_name(kind), fp, comment ? "\n" : "",
             comment ? comment : "");
    return lsn_armor_encode("public-key", note, bin, sizeof bin, text, text_len);
}

int
lsn_public_decode(const uint8_t *text, size_t text_len, int kind,
                  uint8_t key[32])
{
    uint8_t *bin = NULL, sum[SUM];
    size_t n = 0;
    int r;

    if ((r = lsn_armor_decode("public-key", text, text_len, 256, &bin, &n)) != 0)
        return r;
    r = LSN_ERR_TRUNCATED;
    if (n < PUBLIC_BIN)
        goto out;
    r = LSN_ERR_MALFORMED;
    if (n != PUBLIC_BIN || memcmp(bin, "LSNP", 4) != 0)
        goto out;
    crypto_generichash(sum, SUM, bin, 40, NULL, 0);
    r = LSN_ERR_CORRUPT;
    if (sodium_memcmp(sum, bin + 40, SUM) != 0)
        goto out;
    r = bin[4] != 1 ? LSN_ERR_VERSION : bin[5] != kind ? LSN_ERR_WRONG_KIND : 0;
    if (r == 0)
        memcpy(key, bin + 8, 32);
out:
    free(bin);
    return r;
}

int
lsn_public_write(const char *path, int kind, const char *comment,
                 const uint8_t key[32], int flags)
{
    char *text = NULL;
    size_t n = 0;
    int r;

    if ((r = lsn_public_encode(kind, comment, key, &text, &n)) != 0)
        return r;
    r = lsn_file_write(path, text, n, flags & ~LSN_WRITE_SECRET);
    free(text);
    return r;
}

int
lsn_public_read(const char *path, int kind, uint8_t key[32])
{
    uint8_t *text = NULL;
    size_t n = 0;
    int r;

    if ((r = lsn_file_read(path, LSN_PUBLIC_FILE_MAX, &text, &n)) != 0)
        return r;
    r = lsn_public_decode(text, n, kind, key);
    free(text);
    return r;
}
