/* util.h: small pieces every layer above proto/ shares: names, time,
 * bounded file reading, careful file writing, fingerprints. */
#ifndef LSN_UTIL_H
#define LSN_UTIL_H

#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>

#define LSN_ORG_ID_MAX   32   /* [a-z0-9-]{1,32} */
#define LSN_NAME_MAX     64   /* device, relay, authority names */
#define LSN_FP_LEN       40   /* "abcd efgh ... " 8 groups of 4 + NUL */

/* 0 if id matches [a-z0-9-]{1,32}, else LSN_ERR_BAD_ORG_ID. */
int lsn_org_id_check(const char *id);

/* 0 if name matches [a-z0-9][a-z0-9._-]{0,63}, else LSN_ERR_INVALID. */
int lsn_name_check(const char *name);

/* A sentence naming the value behind the last error that a validator in
 * this thread reported (e.g. "org `Acme`: invalid org id"), or "".
 * Never holds secrets. */
const char *lsn_detail(void);
void lsn_set_detail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The command a usage text documents: the lowercase words after
 * "usage: " on its first line ("liaison send", "liaison-keys roster"),
 * into out (truncated to n), for "see `CMD --help`" hints. */
void lsn_usage_command(const char *usage, char *out, size_t n);

/* What getopt_long (with opterr 0) just refused, as a sentence into out:
 * "unknown option `--x`" or "`--x` needs a value". */
void lsn_bad_option(char **argv, char *out, size_t n);

/* Current unix time in seconds. */
int64_t lsn_now(void);

/* Reads a whole regular file of at most max bytes into a new malloc'd
 * buffer (NUL-terminated one past *len).  LSN_ERR_NOT_FOUND, LSN_ERR_IO,
 * LSN_ERR_TOO_LARGE. */
int lsn_file_read(const char *path, size_t max, uint8_t **out, size_t *len);

/* lsn_file_read for a file holding a secret: LSN_ERR_PERMISSIONS, with the
 * chmod that fixes it as the detail, if its group or others have any
 * permission on it. */
int lsn_secret_file_read(const char *path, size_t max, uint8_t **out,
                         size_t *len);

/* Flags for lsn_file_write. */
#define LSN_WRITE_SECRET 1  /* mode 0600 (else 0644) */
#define LSN_WRITE_FORCE  2  /* replace an existing file (atomically) */

/* Writes data durably: a new file is created O_EXCL|O_NOFOLLOW and
 * fsync'd; with LSN_WRITE_FORCE it goes through a temporary file and
 * rename(2), so a reader sees the old or the new content, never half. */
int lsn_file_write(const char *path, const void *data, size_t len, int flags);

/* Human-comparable fingerprint of a public key: BLAKE2b-256 over
 * "liaison v1 fingerprint" || key, first 20 bytes, base32, groups of 4. */
void lsn_fingerprint(char out[LSN_FP_LEN], const uint8_t *key, size_t key_len);

/* Lower-case hex of bin into out (2*len+1 bytes). */
void lsn_hex(char *out, const uint8_t *bin, size_t len);

/* Length-prefixed hashing: feeds u16 big-endian length then bytes, so
 * distinct field lists never hash alike (docs/protocol.md "Notation").
 * LSN_ERR_TOO_LARGE (and nothing hashed) if len > 65535. */
/* Room for one more element in a growing array v of n elements of size
 * bytes, *cap allocated: v itself while n < *cap, else v reallocated to
 * twice *cap (first, if *cap is 0), *cap updated.  NULL on failure or
 * overflow, with v and *cap unchanged. */
void *lsn_grow(void *v, size_t *cap, size_t n, size_t size, size_t first);

struct crypto_generichash_blake2b_state;
int lsn_hash_field(struct crypto_generichash_blake2b_state *st,
                    const void *data, size_t len);

#endif
