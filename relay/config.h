/* config.h: liaison-relay's configuration: every limit with its default
 * (relay/relay.conf.example lists them all), read from a "key value" file
 * and overridden by command-line flags. */
#ifndef LSN_RELAY_CONFIG_H
#define LSN_RELAY_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct lsn_relay_config {
    char listen[256];           /* tcp://HOST:PORT (port 0 or *: any free) */
    char data[PATH_MAX];        /* LMDB store folder */
    char roster[PATH_MAX];      /* signed roster file */
    char key[PATH_MAX];         /* relay CURVE secret key file */
    int use_syslog;
    uint64_t max_envelope;      /* bytes of one envelope */
    uint64_t max_recipients;
    uint64_t max_ttl;           /* seconds */
    uint64_t rate;              /* requests per second per connection */
    uint64_t burst;             /* requests a connection may send at once */
    uint64_t sender_msgs, sender_bytes;
    uint64_t recipient_msgs, recipient_bytes;
    uint64_t device_backlog;
    uint64_t recipient_share;
    uint64_t bootstrap_per_minute;  /* unknown-key connections per source address; 0: none */
    uint64_t bootstrap_total_per_minute; /* ... from all addresses together */
    uint64_t bootstrap_max_bytes;
    uint64_t map_size;          /* LMDB map, bytes */
    uint64_t heartbeat_ms;
    uint64_t handshake_ms;
    uint64_t fetch_max;         /* items per fetch reply */
    uint64_t batch_max;         /* requests per group commit */
    uint64_t max_connections;   /* connections tracked (rate buckets, subscriptions) */
    uint64_t max_pending;       /* frames queued per connection, each way */
    uint64_t batch_max_bytes;   /* request bytes per group commit */
    /* Federation (docs/relay.md "Federation"). */
    uint64_t peer_window;       /* forwards in flight per peer relay */
    uint64_t peer_timeout_ms;   /* no answer within: resend from the queue */
    uint64_t peer_backoff_ms;   /* first retry delay; doubles per failure */
    uint64_t peer_backoff_max_ms;
    uint64_t peer_status_wait_ms; /* a status waits this long for peers */
};

/* Fills c with every default (and empty paths). */
void lsn_relay_config_defaults(struct lsn_relay_config *c);

/* Largest config file read. */
#define LSN_RELAY_CONFIG_MAX (1024u * 1024u)

/* Reads "key value" lines (# comments) from path into c.  Errors name the
 * file, line and key in lsn_detail(): LSN_ERR_INVALID, LSN_ERR_NOT_FOUND. */
int lsn_relay_config_load(struct lsn_relay_config *c, const char *path);

/* The same from text[0..len) (no NUL byte allowed); name is for errors. */
int lsn_relay_config_parse(struct lsn_relay_config *c, const char *text, size_t len,
                           const char *name);

/* Sets one key from text; LSN_ERR_INVALID (unknown key or bad value). */
int lsn_relay_config_set(struct lsn_relay_config *c, const char *key,
                         const char *value);

/* 0 if c can run a relay (the four paths set, limits consistent), else
 * LSN_ERR_INVALID with the reason in lsn_detail(). */
int lsn_relay_config_check(const struct lsn_relay_config *c);

/* Writes every setting, one "key value" line each, to f. */
void lsn_relay_config_print(const struct lsn_relay_config *c, FILE *f);

#endif
