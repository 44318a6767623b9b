/* trust.h: the trust store: the roster and org bundles a client or relay
 * has accepted, kept in a folder so that rollback (a lower version) and
 * freeze (an expired newest version) are refused also after a restart.
 *
 *   DIR/roster.signed          the newest accepted roster
 *   DIR/bundles/ORG.signed     the newest accepted bundle of each org
 *
 * Every file is replaced atomically; a version only goes up. */
#ifndef LSN_TRUST_H
#define LSN_TRUST_H

#include <stddef.h>
#include <stdint.h>

#include "keys/bundle.h"
#include "keys/roster.h"

struct lsn_trust;

/* Opens (creating, mode 0700) the trust store folder. */
int lsn_trust_open(const char *dir, struct lsn_trust **out);

/* Takes a roster: with none held yet it is pinned if it verifies on its
 * own (and has not expired); otherwise it must be the held one again
 * (byte-identical) or its direct successor (lsn_roster_verify_next), which
 * may itself have expired if a later one follows: lsn_trust_roster refuses
 * an expired roster at use (freeze).  LSN_ERR_ROLLBACK for a lower version,
 * LSN_ERR_CHAIN for a gap. */
int lsn_trust_put_roster(struct lsn_trust *t, const uint8_t *buf, size_t len,
                         int64_t now);

/* The held roster, re-verified for expiry (caller destroys).
 * LSN_ERR_NOT_FOUND if none is pinned; LSN_ERR_EXPIRED if it has expired. */
int lsn_trust_roster(struct lsn_trust *t, int64_t now, struct lsn_roster **out);

/* The held roster even if it has expired: only to find the relay from
 * which to fetch its successors (a client must not lock itself out). */
int lsn_trust_roster_held(struct lsn_trust *t, struct lsn_roster **out);

/* Takes a bundle: it must verify against the held roster and replace the
 * held bundle of its org (lsn_bundle_verify_next). */
int lsn_trust_put_bundle(struct lsn_trust *t, const uint8_t *buf, size_t len,
                         int64_t now);

/* The held bundle of org, re-verified against the held roster.
 * LSN_ERR_NOT_FOUND if none is held. */
int lsn_trust_bundle(struct lsn_trust *t, const char *org, int64_t now,
                     struct lsn_bundle **out);

void lsn_trust_close(struct lsn_trust **t);

#endif
