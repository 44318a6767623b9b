/* fuzzfix.h: the fixed world the fuzz targets and their corpus generator
 * share: two authorities, a roster v1 (and its successor v2), and two
 * organisations ("alpha", the receiving side, and "bravo", the sending
 * side) with a signed bundle and a device credential each.  Every key is
 * derived from a fixed label, so a seed file the generator wrote (a key
 * delivery sealed to alpha's device, an envelope signed by bravo's) still
 * means the same thing to the target that reads it later. */
#ifndef LSN_TEST_FUZZFIX_H
#define LSN_TEST_FUZZFIX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "keys/bundle.h"
#include "keys/credential.h"
#include "keys/roster.h"

#define FF_NOW 1800000000LL          /* the fixed "now" (2027-01-15) */
#define FF_DAY 86400LL

struct ff_org {
    const char *id;
    uint8_t root_pk[32], root_sk[64];
    uint8_t enc1_sk[32], enc1_pk[32];  /* encryption key 1 (in the bundle) */
    uint8_t enc2_sk[32], enc2_pk[32];  /* key 2: delivered, not in bundle v1 */
    struct lsn_credential *cred;       /* device "d1": may send and receive */
    struct lsn_bundle *bundle;         /* v1: key 1, device d1 */
};

struct ff_world {
    uint8_t auth_pk[2][32], auth_sk[2][64];
    struct lsn_roster *roster;         /* v1: both authorities, threshold 2 */
    struct lsn_roster *roster2;        /* v2, signed by both: chains from v1 */
    struct ff_org alpha, bravo;
};

/* libFuzzer's entry points (declared here for -Wmissing-prototypes).
 * Each target defines LLVMFuzzerTestOneInput.  fuzzfix.c defines
 * LLVMFuzzerInitialize as a weak symbol that builds the world before the
 * first input, so its cost is not counted against one; a target that
 * needs more set-up defines its own, which takes precedence. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a violation is a finding, so it
 * crashes the way libFuzzer records (abort, input saved as an artifact). */
#define FF_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                    __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

/* Builds the world once (sodium_init included) and returns it; aborts the
 * process if anything fails, since no target can run without it.  Never
 * freed: it lives as long as the fuzzing process. */
const struct ff_world *ff_world(void);

/* 32 bytes derived from a label: the one source of every fixed key. */
void ff_derive(uint8_t out[32], const char *label);

/* A roster like w->roster (both orgs, relay r1, threshold 2) of the given
 * version and expiry, signed by the authorities whose bits are set in
 * signers (bit 0: authority 1, bit 1: authority 2).  Aborts on error. */
struct lsn_roster *ff_roster(const struct ff_world *w, uint64_t version,
                             int64_t expires, unsigned signers);

/* Whether so carries a valid signature by key over its body, checked
 * here without keys/signed.c: Ed25519 over "liaison v1 " type, a 0x00,
 * then the body (docs/formats.md, 6 "Signed objects"); type is "roster",
 * "bundle" or "key-delivery". */
int ff_signed_by(const Liaison__SignedObject *so, const char *type,
                 const uint8_t key[32]);

/* A fresh copy of org's credential (the caller destroys it), so a target
 * that changes a credential starts from the same one every run. */
struct lsn_credential *ff_cred_copy(const struct ff_org *o);

#endif
