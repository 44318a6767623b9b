/* org.h: an organisation's administration folder and every change an
 * administrator makes to it (docs/design.md "Keys and trust").
 *
 *   DIR/root.key, root.pub        the org root (Ed25519), offline
 *   DIR/root.next.key, .pub       a successor root, while a root rotation runs
 *   DIR/enc.key                   the encryption key ring (secret)
 *   DIR/bundle.signed             the current signed bundle
 *   DIR/admin.cred                the publishing device's credential
 *   DIR/deliveries/DEV-ID.signed  key deliveries waiting to be published
 *   DIR/roster.signed             the newest roster the folder was given
 *
 * Every change signs a new bundle (version + 1, naming its predecessor's
 * hash); a change that adds an encryption key also writes a key delivery for
 * every remaining may-receive device. */
#ifndef LSN_ORG_H
#define LSN_ORG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/bundle.h"
#include "keys/credential.h"
#include "keys/roster.h"

#define LSN_BUNDLE_LIFETIME (180 * 86400)   /* a bundle is valid 180 days */
#define LSN_ENC_GRACE       (30 * 86400)    /* old encryption keys open mail 30 days */
#define LSN_ADMIN_DEVICE    "admin"

struct lsn_org {
    char dir[PATH_MAX - 64];
    char id[LSN_ORG_ID_MAX + 1];
    uint8_t *root_sk;                  /* sodium_malloc, 64 bytes */
    struct lsn_enc_secret *ring;       /* sodium_malloc, LSN_MAX_ENC_KEYS slots */
    size_t n_ring;                     /* newest first */
    uint32_t next_key_id;
    struct lsn_bundle *bundle;         /* current */
    char *pass;                        /* sodium_malloc copy, or NULL */
};

/* Creates DIR (0700) with a root key, a first encryption key, bundle v1
 * and admin.cred; every secret file under pass (NULL: none).
 * LSN_ERR_EXISTS if DIR already holds an org (unless force). */
int lsn_org_init(const char *dir, const char *id, const char *pass, int force,
                 int64_t now, struct lsn_org **out);

/* Loads the folder, unlocking its secrets with pass. */
int lsn_org_load(const char *dir, const char *pass, struct lsn_org **out);

/* The current bundle only (no secrets, no passphrase). */
int lsn_org_load_bundle(const char *dir, struct lsn_bundle **out);

/* *is_protected = 1 if the folder's secrets need a passphrase. */
int lsn_org_is_protected(const char *dir, int *is_protected);

/* Adds a device and returns its credential (pinning roster, if given);
 * a may-receive device gets the ring's live encryption secrets. */
int lsn_org_device_add(struct lsn_org *o, const char *name, int role,
                       int may_send, int may_receive, const uint8_t *roster,
                       size_t roster_len, int64_t now,
                       struct lsn_credential **cred);

/* Removes a device and, in the same new bundle, adds a new encryption key
 * delivered only to the remaining may-receive devices. */
int lsn_org_device_revoke(struct lsn_org *o, const char *name, int64_t now);

/* A new encryption key (the old one kept for LSN_ENC_GRACE). */
int lsn_org_rotate_enc(struct lsn_org *o, int64_t now);

/* New keys for one device; returns its new credential. */
int lsn_org_rotate_device(struct lsn_org *o, const char *name,
                          const uint8_t *roster, size_t roster_len, int64_t now,
                          struct lsn_credential **cred);

/* Root rotation, step 1: writes root.next.key / root.next.pub. */
int lsn_org_root_prepare(struct lsn_org *o);

/* Root rotation, step 2: once roster (verified by the caller) lists
 * root.next.pub for this org, makes it the root and signs the next bundle. */
int lsn_org_root_adopt(struct lsn_org *o, const struct lsn_roster *roster,
                       int64_t now);

/* Keeps roster as DIR/roster.signed if the folder holds none yet or it is
 * the held one's direct successor (lsn_roster_verify_next), so that later
 * commands (publish) know the coalition without --roster. */
int lsn_org_keep_roster(const struct lsn_org *o, const struct lsn_roster *roster);

void lsn_org_destroy(struct lsn_org **o);

#endif
