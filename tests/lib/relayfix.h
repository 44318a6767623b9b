/* relayfix.h: fixtures for relay tests: a coalition (authority, relay key,
 * orgs with an admin device and receiving devices) written to a folder, a
 * real liaison-relay process started on a free loopback port, and helpers
 * to publish bundles and seal envelopes. */
#ifndef LSN_TEST_RELAYFIX_H
#define LSN_TEST_RELAYFIX_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/relay_client.h"
#include "keys/bundle.h"
#include "keys/credential.h"
#include "keys/roster.h"

#define RF_MAX_ORGS 4
#define RF_MAX_DEVS 4
#define RF_MAX_RELAYS 4

/* One relay of a federated fixture (rf_setup_fed): r1, r2, ... */
struct rf_relay {
    char name[24];
    char dir[PATH_MAX];            /* its conf, key, data and log */
    char endpoint[64];
    uint8_t pk[32], sk[32];
    pid_t pid;                     /* relay 0's is rf.pid */
};

struct rf_org {
    char id[33];
    uint8_t root_pk[32], root_sk[64];
    struct lsn_credential *admin;
    struct lsn_credential *dev[RF_MAX_DEVS];   /* d1.. */
    size_t n_dev;
    struct lsn_enc_secret enc[2];              /* key 1, and 2 after rotation */
    size_t n_enc;
    struct lsn_bundle *bundle;                 /* the newest made */
    struct lsn_bundle *first;                  /* v1 */
};

struct rf {
    char dir[PATH_MAX];
    char endpoint[64];
    char bin[PATH_MAX];
    uint8_t relay_pk[32], relay_sk[32];
    uint8_t auth_pk[32], auth_sk[64];
    struct rf_org orgs[RF_MAX_ORGS];
    size_t n_orgs;
    struct lsn_roster *roster;
    pid_t pid;
    /* Federation: relays[0] is the relay above (endpoint, relay_pk). */
    size_t n_relays;
    struct rf_relay relays[RF_MAX_RELAYS];
    size_t home[RF_MAX_ORGS];      /* org i is homed on relays[home[i]] */
    /* If nofile_hard > 0, relays start with RLIMIT_NOFILE soft nofile_soft
     * (or the hard limit if 0) and hard nofile_hard (set after rf_setup). */
    unsigned nofile_soft, nofile_hard;
};

/* Builds the coalition in a fresh folder named tag: n_orgs orgs "o1".., each
 * with n_dev receiving devices; extra_config lines go into relay.conf. */
int rf_setup(struct rf *f, const char *tag, size_t n_orgs, size_t n_dev,
             const char *extra_config);

/* A federated coalition: n_relays relays r1.. (each in DIR/rK/ with its
 * own key, store and config, all sharing one roster), org i homed on
 * relays[home[i]].  Nothing starts yet: rf_start_relay each. */
int rf_setup_fed(struct rf *f, const char *tag, size_t n_relays, const size_t *home,
                 size_t n_orgs, size_t n_dev, const char *extra_config);

/* Starts / stops relay k of a federated fixture (rf_start is relay 0). */
int rf_start_relay(struct rf *f, size_t k);
void rf_stop_relay(struct rf *f, size_t k, int sig);

/* Connects as credential c to relay k (whatever c's home is). */
int rf_connect_to(struct rf *f, size_t k, const struct lsn_credential *c,
                  struct lsn_relay_client **out);

/* Starts liaison-relay --config DIR/relay.conf and waits until it answers
 * (stderr goes to DIR/relay.log). */
int rf_start(struct rf *f);

/* Sends sig and reaps the relay. */
void rf_stop(struct rf *f, int sig);

/* Connects as credential c (to its org's home relay). */
int rf_connect(struct rf *f, const struct lsn_credential *c,
               struct lsn_relay_client **out);

/* Puts org i's newest bundle through its admin device (the relay does not
 * know the admin key before that: the bootstrap path). */
int rf_publish(struct rf *f, size_t i);

/* Signs org i's next bundle: version+1, chaining, devices d1..dn minus the
 * one named drop (NULL: none); with new_key a new encryption key 2. */
int rf_next_bundle(struct rf *f, size_t i, const char *drop, int new_key);

/* Signs org i's next bundle, the same devices and keys, valid until
 * expires (Unix seconds). */
int rf_next_bundle_until(struct rf *f, size_t i, int64_t expires);

/* A client profile for device d of org i in f->dir/home-oI-dD (its
 * credential, pinned to the fixture's roster, in f->dir/oI-dD.cred); the
 * folder's path into home. */
int rf_profile(struct rf *f, size_t i, size_t d, char *home, size_t size);

struct lsn_client;
/* Two orgs of one device each with their bundles at a started relay
 * (extra: relay.conf lines), and *c a client of o1's d1: 0 or the first
 * step's error. */
int rf_up_client(struct rf *f, const char *tag, const char *extra,
                 struct lsn_client **c);

/* Seals a sample alert from org `from`'s device d to orgs to[0..n) using the
 * bundles given (NULL: the orgs' newest), lifetime ttl seconds. */
int rf_seal(struct rf *f, size_t from, size_t d, const size_t *to, size_t n,
            const struct lsn_bundle *const *bundles, int64_t ttl,
            uint8_t **env, size_t *len);

void rf_teardown(struct rf *f);

#endif
