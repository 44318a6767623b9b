/* err.h: the one list of liaison error codes and their sentences.
 *
 * Every function outside main() returns 0 or a negative LSN_ERR_*; the
 * caller prints lsn_strerror(r) with whatever value it knows (file name,
 * org id).  The list is shared by every layer, so it lives at the bottom. */
#ifndef LSN_ERR_H
#define LSN_ERR_H

#define LSN_OK 0

#define LSN_ERRORS(X) \
    X(LSN_ERR_INTERNAL,        -1,  "internal error") \
    X(LSN_ERR_NOMEM,           -2,  "out of memory") \
    X(LSN_ERR_IO,              -3,  "input/output error") \
    X(LSN_ERR_EXISTS,          -4,  "file exists") \
    X(LSN_ERR_NOT_FOUND,       -5,  "not found") \
    X(LSN_ERR_TOO_LARGE,       -6,  "input exceeds its size limit") \
    X(LSN_ERR_MALFORMED,       -7,  "malformed input") \
    X(LSN_ERR_TRUNCATED,       -8,  "input is truncated") \
    X(LSN_ERR_CORRUPT,         -9,  "checksum mismatch: the file is corrupt") \
    X(LSN_ERR_VERSION,         -10, "unsupported format version") \
    X(LSN_ERR_WRONG_KIND,      -11, "this file holds a different kind of key or object") \
    X(LSN_ERR_PASSPHRASE,      -12, "wrong passphrase") \
    X(LSN_ERR_NEED_PASSPHRASE, -13, "this key is passphrase-protected and no passphrase was given") \
    X(LSN_ERR_BAD_SIGNATURE,   -14, "signature verification failed") \
    X(LSN_ERR_THRESHOLD,       -15, "not enough distinct authority signatures (below threshold)") \
    X(LSN_ERR_ROLLBACK,        -16, "version is not newer than one already accepted (rollback refused)") \
    X(LSN_ERR_EXPIRED,         -17, "expired") \
    X(LSN_ERR_WRONG_SIGNER,    -18, "signed by a key that may not sign this kind of object") \
    X(LSN_ERR_UNKNOWN_ORG,     -19, "organisation is not in the roster") \
    X(LSN_ERR_BAD_ORG_ID,      -20, "invalid org id: use 1 to 32 of a-z, 0-9 and -") \
    X(LSN_ERR_CHAIN,           -21, "does not chain from the version already accepted") \
    X(LSN_ERR_CONFLICT,        -22, "same version as the one accepted, but different bytes") \
    X(LSN_ERR_UNKNOWN_DEVICE,  -23, "device is not in the organisation's current bundle") \
    X(LSN_ERR_REVOKED,         -24, "device is revoked or not allowed to do this") \
    X(LSN_ERR_NOT_RECIPIENT,   -25, "this organisation is not among the recipients") \
    X(LSN_ERR_FUTURE,          -26, "created in the future beyond the allowed clock skew") \
    X(LSN_ERR_UNKNOWN_KEY,     -27, "unknown or retired encryption key id") \
    X(LSN_ERR_COMMIT,          -28, "key commitment mismatch") \
    X(LSN_ERR_DECRYPT,         -29, "decryption failed") \
    X(LSN_ERR_REPLAY,          -30, "message already seen (replay)") \
    X(LSN_ERR_SUITE,           -31, "unsupported cipher suite") \
    X(LSN_ERR_USAGE,           -32, "invalid argument") \
    X(LSN_ERR_INVALID,         -33, "invalid value") \
    X(LSN_ERR_LIMIT,           -34, "refused by a limit") \
    X(LSN_ERR_TTL,             -35, "lifetime exceeds the maximum TTL") \
    X(LSN_ERR_KEY_MISMATCH,    -36, "secret key does not match its public key") \
    X(LSN_ERR_KEY_RETIRED,     -37, "the message was sealed to an encryption key retired after its grace period") \
    X(LSN_ERR_QUOTA,           -38, "quota reached: the relay stores no more for this organisation until messages are acknowledged or expire") \
    X(LSN_ERR_STALE_KEY,       -39, "a recipient was wrapped to an encryption key that is no longer its newest: refresh its bundle and seal again") \
    X(LSN_ERR_DENIED,          -40, "not allowed") \
    X(LSN_ERR_RATE,            -41, "too many requests: slow down and retry") \
    X(LSN_ERR_TIMEOUT,         -42, "no answer from the relay in time") \
    X(LSN_ERR_UNAVAILABLE,     -43, "the relay is shutting down or unavailable: retry later") \
    X(LSN_ERR_PROTOCOL,        -44, "the peer broke the request protocol") \
    X(LSN_ERR_PERMISSIONS,     -45, "permissions too open: other users could read or change it") \
    X(LSN_ERR_UNPUBLISHED,     -46, "this device key is not known to the relay: ask your administrator to run `liaison-keys publish`") \
    X(LSN_ERR_KEY_REMOVED,     -47, "device key removed from its organisation's bundle") \
    X(LSN_ERR_AMBIGUOUS,       -60, "more than one message matches that id prefix: give more digits") \
    X(LSN_ERR_STORE_FULL,      -61, "the local store is full (its map size ceiling or the disk): nothing was acknowledged") \
    X(LSN_ERR_INTERRUPTED,     -69, "interrupted (Ctrl-C or a termination signal)")

enum lsn_err {
#define LSN_ERR_ENUM(name, value, text) name = value,
    LSN_ERRORS(LSN_ERR_ENUM)
#undef LSN_ERR_ENUM
};

/* The sentence for an error code; never NULL. */
const char *lsn_strerror(int err);

#endif
