/* dir.h: the relay's directory state: roster, bundles, allow-list (dir.c).
 * Private to relay/. */
#ifndef LSN_RELAY_DIR_H
#define LSN_RELAY_DIR_H

#include "relay/relay_int.h"

/* Index of org in the roster, or -1. */
int lsn_relay_org_index(const struct lsn_relay *r, const char *org);

/* The org's home relay name in the held roster ("" if unknown). */
const char *lsn_relay_home(const struct lsn_relay *r, const char *org);

/* The device of org that a current bundle lists (NULL if none). */
const Liaison__Device *lsn_relay_device(const struct lsn_relay *r,
                                        const char *org, const char *device);

/* The device's entry in its org's current bundle, if it lists w's key
 * for it; NULL otherwise. */
const Liaison__Device *lsn_relay_current_device(struct lsn_relay *r, const struct who *w);

/* Rebuilds the allow-list from the roster and the held bundles. */
int lsn_relay_allow_rebuild(struct lsn_relay *r);

/* The identity the allow-list gives a CURVE key ("org/device",
 * "relay:NAME"; borrowed), or NULL. */
const char *lsn_relay_allow_find(const struct lsn_relay *r, const uint8_t key[32]);

/* Takes a new verified bundle for roster org i (ownership passes): drops
 * the queues of devices it no longer lists as receiving. */
int lsn_relay_bundle_replace(struct lsn_relay *r, int i, struct lsn_bundle *b);

/* Takes a new roster (ownership passes) and reloads the bundles for it. */
int lsn_relay_roster_replace(struct lsn_relay *r, struct lsn_roster *ro);

/* Stores ro under its version for peers that must step through it. */
int lsn_relay_roster_history(struct lsn_relay *r, const struct lsn_roster *ro);

/* Reads the roster file and holds it, or at startup the stored one if
 * that is a higher version that verifies (a reload refuses an older
 * file); errors with the reason in lsn_detail(). */
int lsn_relay_roster_load(struct lsn_relay *r, int startup);

#endif
