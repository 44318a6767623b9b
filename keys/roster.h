/* roster.h: the coalition roster, the only source of org root keys
 * (docs/design.md "Keys and trust"; docs/formats.md "Roster"). */
#ifndef LSN_ROSTER_H
#define LSN_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "keys/signed.h"
#include "proto/pb.h"

#define LSN_ROSTER_MAX_ORGS        1024
#define LSN_ROSTER_MAX_RELAYS      256
#define LSN_ROSTER_MAX_AUTHORITIES 64
#define LSN_ROSTER_MAX_CIRCLES     64
/* A circle is addressed in one envelope: at most its recipient count. */
#define LSN_ROSTER_CIRCLE_MAX_ORGS 256

struct lsn_roster {
    union {
        struct lsn_signed_view view;     /* owns everything below */
        struct {
            Liaison__SignedObject *so;
            Liaison__Roster *r;          /* the decoded body */
            uint8_t *bytes;              /* the encoded signed object */
            size_t len;
            uint8_t hash[32];            /* BLAKE2b-256 of bytes */
        };
    };
};

/* Parses an encoded signed roster: strict decode and structure (valid,
 * unique org ids, relay and circle names, key sizes, 1 <= threshold <=
 * authorities, no authority key doubling as an org root, every circle
 * member an org of the roster).  No signature check. */
int lsn_roster_parse(const uint8_t *buf, size_t len, struct lsn_roster **out);

/* Reads and parses a signed roster file (no signature check). */
int lsn_roster_load(const char *path, struct lsn_roster **out);

/* A roster standing alone (the one a client pins): at least threshold of
 * its own authorities signed it, and it has not expired. */
int lsn_roster_verify(const struct lsn_roster *r, int64_t now);

/* next succeeds prev: version prev+1, same coalition, threshold of prev's
 * authorities AND threshold of next's own; expiry checked if check_expiry
 * (an intermediate step may have expired, the newest may not). */
int lsn_roster_verify_next(const struct lsn_roster *prev,
                           const struct lsn_roster *next, int64_t now,
                           int check_expiry);

const Liaison__RosterOrg *lsn_roster_find_org(const struct lsn_roster *r,
                                              const char *org);
const Liaison__RosterRelay *lsn_roster_find_relay(const struct lsn_roster *r,
                                                  const char *name);
const Liaison__RosterCircle *lsn_roster_find_circle(const struct lsn_roster *r,
                                                    const char *name);

/* 0 if name is a valid circle name: 1 to 32 of a-z, 0-9 and -. */
int lsn_circle_name_check(const char *name);

/* A new unsigned roster from a body the caller built (borrowed): encoded,
 * wrapped and parsed, so it passes the same checks as one read from a file.
 * Editing tools build a changed body and call this: signatures drop. */
int lsn_roster_from_body(const Liaison__Roster *body, struct lsn_roster **out);

/* Adds an authority's signature (64-byte Ed25519 secret key) and
 * re-encodes r's bytes and hash. */
int lsn_roster_sign(struct lsn_roster *r, const uint8_t sk[64]);

void lsn_roster_destroy(struct lsn_roster **r);

#endif
