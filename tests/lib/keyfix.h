/* keyfix.h: test fixtures for the keys/ layer: authorities, orgs and
 * rosters built in memory from fixed seeds, and temporary folders. */
#ifndef LSN_TEST_KEYFIX_H
#define LSN_TEST_KEYFIX_H

#include <stddef.h>
#include <stdint.h>

#include "keys/roster.h"

#define KF_NOW 1800000000LL          /* a fixed "now" (2027-01-15) */
#define KF_YEAR (365LL * 86400)

struct kf_key {
    uint8_t pk[32];
    uint8_t sk[64];
};

/* An Ed25519 key pair from a one-byte seed tag (deterministic). */
void kf_key(struct kf_key *k, uint8_t tag);

/* An org entry for kf_roster. */
struct kf_org {
    const char *id;
    const struct kf_key *root;
};

/* A roster of version v: authorities auth[0..na) with threshold k, orgs
 * homed on relay "r1" (which it lists), valid [KF_NOW - 1 day, KF_NOW +
 * 1 year) unless expires != 0; signed by signers[0..ns).  Fails the test
 * on error. */
struct lsn_roster *kf_roster(uint64_t v, const struct kf_key *auth, size_t na,
                             uint32_t k, const struct kf_org *orgs, size_t no,
                             const struct kf_key *const *signers, size_t ns,
                             int64_t expires);

/* A fresh empty folder under $LSN_TMP (or /tmp); the path is static
 * storage overwritten by the next call. */
const char *kf_tmpdir(const char *tag);

/* Runs `rm -rf` on a folder made by kf_tmpdir. */
void kf_rmdir(const char *path);

#endif
