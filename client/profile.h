/* profile.h: a client's profile folder (docs/formats.md "Folders"):
 *
 *   DIR/credential     the device credential (0600, as the admin made it)
 *   DIR/config         settings, with comments (read receipts, relay timeout)
 *   DIR/trust/         the pinned roster and the bundles seen (trust.h)
 *   DIR/store/         the local store (store.h)
 *   DIR/agent.sock     the unlock agent's socket while one runs (agent.h)
 *
 * The folder is found from --home DIR, else $LIAISON_HOME, else
 * ~/.liaison. */
#ifndef LSN_PROFILE_H
#define LSN_PROFILE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "client/local.h"
#include "keys/credential.h"
#include "keys/trust.h"

struct lsn_profile {
    char dir[PATH_MAX - 64];
    struct lsn_credential *cred;
    struct lsn_trust *trust;
    struct lsn_local *store;
    int read_receipts;               /* config: send read receipts */
    int timeout_ms;                  /* config: relay request timeout */
    long store_max_mb;               /* config: store map ceiling, 0 default */
    int resend_s;                    /* config: first wait after a quota */
    char *pass;                      /* sodium_malloc copy, or NULL: to save
                                        the credential after key deliveries */
    int via_agent;                   /* the credential came from the unlock
                                        agent (agent.h), which seals it */
};

/* The profile folder: home if given, else $LIAISON_HOME, else ~/.liaison. */
int lsn_profile_dir(const char *home, char *out, size_t n);

/* Sets up a profile in dir from a credential file: copies it (0600), pins
 * the roster it carries (which must verify), writes the default config.
 * LSN_ERR_EXISTS if dir already holds a credential. */
int lsn_profile_init(const char *dir, const char *cred_path, const char *pass,
                     int64_t now);

/* Which device a profile is: its org and name, and its org's home relay
 * in the pinned roster (name and endpoint, "" if the roster names none). */
struct lsn_profile_about {
    char org[LSN_ORG_ID_MAX + 1];
    char device[LSN_NAME_MAX + 1];
    char relay[LSN_NAME_MAX + 1];
    char endpoint[256];
    uint64_t roster_version;
};

/* lsn_profile_init, filling *about (may be NULL) when it returns 0 (left
 * zeroed if the pinned roster cannot be read back). */
int lsn_profile_init_about(const char *dir, const char *cred_path,
                           const char *pass, int64_t now,
                           struct lsn_profile_about *about);

/* *is_protected = 1 if the profile's credential needs a passphrase. */
int lsn_profile_is_protected(const char *dir, int *is_protected);

/* Opens a profile (LSN_ERR_NOT_FOUND if dir has none).  A protected
 * credential with pass NULL comes from the profile's unlock agent when one
 * runs (LSN_ERR_NEED_PASSPHRASE when none does). */
int lsn_profile_open(const char *dir, const char *pass,
                     struct lsn_profile **out);

void lsn_profile_close(struct lsn_profile **p);

/* Writes the profile's credential back (after key deliveries), with the
 * passphrase it was opened with. */
int lsn_profile_save_credential(struct lsn_profile *p);

/* The held roster (caller destroys). */
int lsn_profile_roster(struct lsn_profile *p, int64_t now,
                       struct lsn_roster **out);

/* The relay this device's org is homed on: endpoint and CURVE key. */
int lsn_profile_home_relay(struct lsn_profile *p, int64_t now, char *endpoint,
                           size_t n, uint8_t key[32]);

#endif
