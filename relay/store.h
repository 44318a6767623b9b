/* store.h: the relay's durable store in LMDB (docs/design.md "Relay";
 * docs/relay.md "Store").
 *
 * Envelopes are stored once, numbered in arrival order, and referenced
 * from one queue per receiving device; a message's record is keyed by its
 * envelope's number and found by (sender org, msg_id) through an index in
 * memory (relay/msgidx.h).  Every change happens inside the
 * current batch (lsn_store_batch_begin .. lsn_store_batch_commit): one LMDB
 * write transaction that the relay commits, durably, once per round of
 * requests (group commit); a refused operation leaves the batch untouched
 * (it ran in a nested transaction, or checked everything before writing
 * directly: store.c "Direct writes").  Nothing is visible to a client
 * before the batch commit returned. */
#ifndef LSN_RELAY_STORE_H
#define LSN_RELAY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/envelope.h"
#include "proto/pb.h"

/* "org/device": the name of a device queue. */
#define LSN_DEV_ID_MAX (LSN_ENV_ORG_MAX + 1 + LSN_ENV_DEVICE_MAX)

struct lsn_store_limits {
    uint64_t sender_msgs, sender_bytes;     /* stored per sending org */
    uint64_t recipient_msgs, recipient_bytes; /* waiting per recipient org */
    uint64_t device_backlog;                /* a device queue's own cap */
};

/* Where one recipient org's copy goes: its may-receive devices, or, for an
 * org homed on a peer relay (relay set, no devices), that relay's outbound
 * queue "@relay", which holds one entry per message however many of its
 * recipient orgs that relay serves. */
struct lsn_fanout {
    const char *org;
    size_t n_devices;
    const char *const *devices;
    const char *relay;      /* NULL: homed here */
};

/* The outbound queue of peer relay NAME is the queue "@NAME". */
#define LSN_PEER_QUEUE_MAX (1 + 64)

struct lsn_store;

/* Opens (creating, mode 0700) the store in dir with a map of map_size
 * bytes, and holds it against every other process (DIR/relay.lock) until
 * it is closed.  LSN_ERR_IO with the reason in lsn_store_why(NULL): the
 * LMDB sentence, an older format, or "in use by another relay". */
int lsn_store_open(const char *dir, size_t map_size, struct lsn_store **out);

/* Closes the store (aborting an open batch) and sets *s to NULL. */
void lsn_store_close(struct lsn_store **s);

/* The LMDB sentence behind the last LSN_ERR_IO (never secrets); for a NULL
 * store, why the last lsn_store_open failed. */
const char *lsn_store_why(const struct lsn_store *s);

void lsn_store_set_limits(struct lsn_store *s, const struct lsn_store_limits *l);

/* The most one sending org may hold of what waits for one recipient org:
 * pct percent of recipient_msgs (and of device_backlog) and of
 * recipient_bytes, at least one message and one byte; 0 or 100 (the
 * default of a store just opened) set no share limit. */
void lsn_store_set_share(struct lsn_store *s, unsigned pct);

/* Where the store reports what an operator must hear (a quarantined
 * envelope); NULL: nowhere. */
typedef void (*lsn_store_log_fn)(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void lsn_store_set_log(struct lsn_store *s, lsn_store_log_fn log);

/* How many stored envelopes failed their checksum so far (lsn_store_fetch
 * moves each to quarantine and never serves it). */
int lsn_store_quarantined(struct lsn_store *s, uint64_t *n);

/* Opens the batch: every operation below needs one. */
int lsn_store_batch_begin(struct lsn_store *s);

/* Commits the batch durably (fsync) and returns only then; LSN_ERR_IO if
 * the commit failed, in which case nothing of the batch may be counted as
 * stored.  A failed commit is final for this handle: after it every
 * lsn_store_batch_begin fails (LSN_ERR_IO) and lsn_store_failed says 1,
 * since a failed write or fsync leaves LMDB's state in doubt and a second
 * fsync may "succeed" without writing what the first lost.  The owner
 * stops (the relay exits; docs/relay.md "Store"). */
int lsn_store_batch_commit(struct lsn_store *s);

/* 1 once a batch commit failed. */
int lsn_store_failed(const struct lsn_store *s);

/* 1 while a batch is open. */
int lsn_store_batch_open(const struct lsn_store *s);

/* Drops the batch. */
void lsn_store_batch_abort(struct lsn_store *s);

struct lsn_submit_result {
    int duplicate;          /* already stored: nothing changed */
    int64_t accepted;       /* when it was first stored */
};

/* Stores env (the envelope info describes) for the given fan-out, once per
 * (sender org, msg_id): a repeat only fills *res.  Quotas: LSN_ERR_QUOTA
 * (and nothing stored) when the sending org or a recipient org is full, or
 * when every device of a recipient org is at its backlog cap; a device at
 * its cap while another of its org is not loses its oldest item instead
 * (the gap).  The reason goes to lsn_store_why. */
int lsn_store_submit(struct lsn_store *s, const struct lsn_envelope_info *info,
                     const uint8_t *env, size_t len,
                     const struct lsn_fanout *fan, size_t n_fan, int64_t now,
                     struct lsn_submit_result *res);

/* One queue entry as read: msg/notice bytes are malloc'd (free with
 * lsn_store_items_free). */
struct lsn_store_item {
    uint64_t seq;
    char org[LSN_ENV_ORG_MAX + 1];     /* "" for a notice */
    uint8_t msg_id[LSN_MSG_ID_LEN];
    uint8_t *envelope;                 /* a message, or NULL */
    size_t envelope_len;
    uint8_t *notice;                   /* an encoded RelayNotice, or NULL */
    size_t notice_len;
};

/* Up to max items of device dev with seq > after, oldest first, at most
 * max_bytes of payload (at least one item if any).  *n items in *items.
 * Every envelope read is checked against the checksum stored with it; one
 * that fails (corrupted or truncated on disk) is quarantined inside the
 * batch (never returned; every queue still waiting for it ends as
 * dropped; logged; counted by lsn_store_quarantined) and the read goes on
 * past it. */
int lsn_store_fetch(struct lsn_store *s, const char *dev, uint64_t after,
                    size_t max, size_t max_bytes, struct lsn_store_item **items,
                    size_t *n);
void lsn_store_items_free(struct lsn_store_item *items, size_t n);

/* What a device queue holds: items, and the gap (trimmed count, and the
 * first refs as "org" + msg_id pairs; refs may be NULL). */
struct lsn_store_gap {
    uint64_t trimmed;
    size_t n_refs;
    char orgs[64][LSN_ENV_ORG_MAX + 1];
    uint8_t ids[64][LSN_MSG_ID_LEN];
};
int lsn_store_queue_info(struct lsn_store *s, const char *dev,
                         uint64_t *queued, struct lsn_store_gap *gap);

/* Acknowledges one item of dev's queue; *found = 0 if it was not queued
 * (already acked, trimmed or never there: not an error). */
int lsn_store_ack(struct lsn_store *s, const char *dev, const char *org,
                  const uint8_t msg_id[LSN_MSG_ID_LEN], int *found);

/* lsn_store_ack with the device's outcome: 0 stored (as lsn_store_ack),
 * or the negative LSN_ERR_* code (LSN_STORE_REASON_MIN..-1) it refused the
 * envelope for, which status then reports for that device.  Either way
 * the item leaves the queue.  LSN_ERR_INVALID for an outcome out of range. */
#define LSN_STORE_REASON_MIN (-127)
int lsn_store_ack_outcome(struct lsn_store *s, const char *dev, const char *org,
                          const uint8_t msg_id[LSN_MSG_ID_LEN], int outcome,
                          int *found);

/* The peer relay whose outbound queue is "@peer" acknowledged (refused = 0)
 * or finally refused (refused = 1) the message (org, msg_id): its entry
 * goes and every recipient org homed there is marked forwarded (or
 * dropped).  *found = 0 if it was not queued. */
int lsn_store_forward_done(struct lsn_store *s, const char *peer, const char *org,
                           const uint8_t msg_id[LSN_MSG_ID_LEN], int refused,
                           int *found);

/* The device has seen n trimmed messages of its gap: forget them. */
int lsn_store_gap_ack(struct lsn_store *s, const char *dev, uint64_t n);

/* Drops dev's whole queue (a revoked device): every message it held is
 * marked dropped for it, and deleted if nothing else waits for it. */
int lsn_store_drop_device(struct lsn_store *s, const char *dev);

/* The may-receive devices of an org, to queue notices to (ctx: relay). */
typedef size_t (*lsn_store_devices_fn)(void *ctx, const char *org,
                                       const char **names, size_t max);

/* Deletes up to max messages whose expiry passed (expires < now), queueing
 * an "expired undelivered" notice to the sender org's devices for each one
 * some recipient had not fully acked.  *n_expired counts them. */
int lsn_store_expire(struct lsn_store *s, int64_t now, size_t max,
                     const char *relay_name, lsn_store_devices_fn devices,
                     void *ctx, size_t *n_expired);

/* Delivery state of (org, msg_id) as StatusReply fields; *known = 0 if the
 * relay holds nothing of it.  The caller frees rcpt with free(): each
 * org's dev points into the same allocation. */
enum lsn_store_dev_state {
    LSN_STORE_DEV_QUEUED = 0,
    LSN_STORE_DEV_DELIVERED,
    LSN_STORE_DEV_REFUSED,
    LSN_STORE_DEV_TRIMMED,
    LSN_STORE_DEV_DROPPED,
};
struct lsn_store_dstate {
    char name[LSN_ENV_DEVICE_MAX + 1];
    uint8_t state;                     /* enum lsn_store_dev_state */
    int reason;                        /* refused: the LSN_ERR_* code */
};
struct lsn_store_rstatus {
    char org[LSN_ENV_ORG_MAX + 1];
    uint32_t devices, delivered, trimmed, dropped, refused;
    char relay[LSN_PEER_QUEUE_MAX];    /* homed on this peer relay, or "" */
    int forwarded;                     /* the peer acknowledged its copy */
    struct lsn_store_dstate *dev;      /* the org's device queues (not "@relay") */
    size_t n_dev;
};
int lsn_store_status(struct lsn_store *s, const char *org,
                     const uint8_t msg_id[LSN_MSG_ID_LEN], int *known,
                     int64_t *accepted, int64_t *expires,
                     struct lsn_store_rstatus **rcpt, size_t *n_rcpt);

/* Directory objects by name ("roster", "bundle/ORG", "delivery/ORG/DEV/ID").
 * get: a malloc'd copy, LSN_ERR_NOT_FOUND.  list: every object whose name
 * starts with prefix, each malloc'd (free each and the array). */
int lsn_store_dir_get(struct lsn_store *s, const char *name, uint8_t **buf,
                      size_t *len);
int lsn_store_dir_put(struct lsn_store *s, const char *name, const uint8_t *buf,
                      size_t len);
int lsn_store_dir_list(struct lsn_store *s, const char *prefix, uint8_t ***bufs,
                       size_t **lens, size_t *n, size_t max);
/* The last max objects (by name) whose name starts with prefix, in name
 * order, each malloc'd like lsn_store_dir_list's. */
int lsn_store_dir_list_last(struct lsn_store *s, const char *prefix, uint8_t ***bufs,
                            size_t **lens, size_t *n, size_t max);
/* Deletes a directory object (not there: not an error). */
int lsn_store_dir_del(struct lsn_store *s, const char *name);

/* Device keys that left their org's bundle (relay/store_gone.c): at most
 * LSN_STORE_GONE_MAX, the oldest removal forgotten first.  put records
 * key as left out of org's bundle version (issued at issued), replacing
 * any earlier record of it; del forgets it (not there: not an error);
 * get reads it (one LMDB get): 0, LSN_ERR_NOT_FOUND, LSN_ERR_CORRUPT.
 * Each needs the batch. */
#define LSN_STORE_GONE_MAX 65536u

/* A bound other than LSN_STORE_GONE_MAX for this handle (0: that one),
 * so a test can reach the bound without 65 536 writes. */
void lsn_store_set_gone_max(struct lsn_store *s, size_t max);

struct lsn_store_gone {
    char org[LSN_ENV_ORG_MAX + 1];
    uint64_t version;
    int64_t issued;
};

int lsn_store_gone_put(struct lsn_store *s, const uint8_t key[32], const char *org,
                       uint64_t version, int64_t issued);
int lsn_store_gone_del(struct lsn_store *s, const uint8_t key[32]);
int lsn_store_gone_get(struct lsn_store *s, const uint8_t key[32],
                       struct lsn_store_gone *g);

/* The store's 64-bit checksum of p[0..n) (relay/record.c says what it is
 * for and how it mixes); exposed for its test. */
uint64_t lsn_store_checksum(const uint8_t *p, size_t n, uint64_t seed);

/* Counters for logs and the bench: live messages, queue entries. */
int lsn_store_counts(struct lsn_store *s, uint64_t *messages, uint64_t *queued);

#endif
