/* local.h: a client's local store (docs/formats.md "Folders"): LMDB in the
 * profile folder holding received envelopes (still encrypted) with their
 * content keys sealed under the local store key, the seen (sender org,
 * msg_id) entries, sent envelopes with their state and receipts, the
 * feedback recipients sent about messages, and a MAC-chained audit log.  Plaintext is never written.
 *
 * Every write is one durable transaction: when a put returns 0, it
 * survives a crash. */
#ifndef LSN_LOCAL_H
#define LSN_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "client/seal.h"
#include "proto/limits.h"

struct lsn_local;

/* A message a device received: its envelope, K unsealed, and the key that
 * signed it (borrowed fields freed by lsn_local_msg_free); whether it was
 * retracted (its key then kept only under a legal hold) and held. */
#define LSN_LOCAL_REASON_MAX 512
struct lsn_local_msg {
    char sender_org[LSN_ENV_ORG_MAX + 1];
    uint8_t msg_id[LSN_MSG_ID_LEN];
    uint8_t *envelope;
    size_t len;
    uint8_t key[32];
    uint8_t sign_key[32];
    int64_t received;
    int read;
    int retracted;                      /* by its sender org: retract_reason */
    int held;                           /* under a legal hold: hold_case */
    int64_t retracted_at;
    char retract_reason[LSN_LOCAL_REASON_MAX + 1];
    char hold_case[LSN_LOCAL_REASON_MAX + 1];
};

/* Opens (creating, 0700) the store in dir with the 32-byte store key. */
int lsn_local_open(const char *dir, const uint8_t store_key[32],
                   struct lsn_local **out);
void lsn_local_close(struct lsn_local **s);

/* The ceiling of the store's map (bytes, at least LSN_LOCAL_MAP_MIN): a
 * write that finds the map full doubles it up to this and runs once more;
 * at the ceiling, or when the disk is full, it fails with
 * LSN_ERR_STORE_FULL, a temporary error (nothing is acknowledged). */
#define LSN_LOCAL_MAP_MIN (256u * 1024u)
int lsn_local_set_map_max(struct lsn_local *s, size_t max);

/* The local store key of a credential: BLAKE2b-256 keyed by the device's
 * signing seed over "liaison v1 local store". */
void lsn_local_key_derive(uint8_t key[32], const uint8_t sign_sk[64]);

/* --- received ------------------------------------------------------- */

/* lsn_replay_fn over the seen entries (ctx is the store). */
int lsn_local_replay_check(void *ctx, const char *sender_org,
                           const uint8_t msg_id[16], int64_t keep_until);

/* Commits an opened message in one durable transaction: the envelope, K
 * sealed under the store key, the sender's signing key, and the seen entry
 * (kept until o->keep_until).  LSN_ERR_REPLAY if it was seen already. */
int lsn_local_put_received(struct lsn_local *s, const struct lsn_opened *o,
                           const uint8_t *env, size_t len,
                           const uint8_t sign_key[32], int64_t now);

/* A received message by (sender org, msg_id) (free with lsn_local_msg_free). */
int lsn_local_get_received(struct lsn_local *s, const char *org,
                           const uint8_t msg_id[16], struct lsn_local_msg **out);

/* 1 if (org, msg_id) was stored here and `liaison prune` emptied it since
 * (its record and seen entry stay), else 0. */
int lsn_local_was_pruned(struct lsn_local *s, const char *org,
                         const uint8_t msg_id[16]);

/* The one received message whose hex msg_id starts with prefix (at least 4
 * hex digits).  LSN_ERR_NOT_FOUND, or LSN_ERR_AMBIGUOUS. */
int lsn_local_find_received(struct lsn_local *s, const char *prefix,
                            char org[LSN_ENV_ORG_MAX + 1], uint8_t msg_id[16]);

int lsn_local_mark_read(struct lsn_local *s, const char *org,
                        const uint8_t msg_id[16]);

/* Marks received message (org, msg_id) retracted at `at` for reason (cut
 * to LSN_LOCAL_REASON_MAX bytes) and wipes its sealed content key, unless
 * it is under a legal hold: then the key stays and *kept is 1.  Once
 * wiped, reading it answers LSN_ERR_NOT_FOUND naming the retraction.
 * LSN_ERR_NOT_FOUND if (org, msg_id) was never stored here. */
int lsn_local_retract(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
                      const char *reason, int64_t at, int *kept);

/* Sets (on) or lifts a legal hold on received message (org, msg_id), with
 * a case reference and reason (each cut to LSN_LOCAL_REASON_MAX bytes). */
int lsn_local_hold(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
                   int on, const char *case_ref, const char *reason);

/* Calls fn for each received message retracted and wiped (so not listed
 * by lsn_local_each_received), oldest key first. */
typedef int (*lsn_local_retracted_fn)(void *ctx, const char *org,
                                      const uint8_t msg_id[16], int64_t received,
                                      int64_t at, const char *reason);
int lsn_local_each_retracted(struct lsn_local *s, lsn_local_retracted_fn fn, void *ctx);

/* Calls fn for every received message, oldest first; stops at fn's first
 * non-zero return and returns it. */
typedef int (*lsn_local_each_fn)(void *ctx, const struct lsn_local_msg *m);
int lsn_local_each_received(struct lsn_local *s, lsn_local_each_fn fn,
                            void *ctx);

void lsn_local_msg_free(struct lsn_local_msg **m);

/* `liaison prune`: empties every message read and received before
 * `before` (unix seconds): its envelope and sealed content key are
 * removed, its sender, msg_id, times and seen entry stay, and reading it
 * answers LSN_ERR_NOT_FOUND naming it pruned.  One transaction; with
 * dry_run nothing changes.  Once it is committed, fn (may be NULL) is
 * called for each such message; *n and *bytes (of envelopes) count them. */
typedef int (*lsn_local_pruned_fn)(void *ctx, const char *org,
                                   const uint8_t msg_id[16], int64_t received,
                                   uint64_t bytes);
int lsn_local_prune_read(struct lsn_local *s, int64_t before, int dry_run,
                         lsn_local_pruned_fn fn, void *ctx, size_t *n,
                         uint64_t *bytes);

/* Forgets seen entries whose time has passed. */
int lsn_local_prune(struct lsn_local *s, int64_t now);

/* --- sent ------------------------------------------------------------ */

/* Records a sealed envelope before it is submitted; a record with this
 * msg_id already there is kept (a retry resends its bytes). */
int lsn_local_put_sent(struct lsn_local *s, const uint8_t msg_id[16],
                       const Liaison__StoredSent *rec);

/* The sent record (free with lsn_pb_free), LSN_ERR_NOT_FOUND. */
int lsn_local_get_sent(struct lsn_local *s, const uint8_t msg_id[16],
                       Liaison__StoredSent **out);

/* Forgets a sent record (one the relay refused for good, e.g. sealed to a
 * stale key, before the content is sealed again). */
int lsn_local_del_sent(struct lsn_local *s, const uint8_t msg_id[16]);

/* Records a permanent refusal (err) so the envelope is never resent. */
int lsn_local_mark_refused(struct lsn_local *s, const uint8_t msg_id[16], int err);

/* Seals msg under the store's seal key, bound to ad; *out is malloc'd
 * (len + LSN_LOCAL_SEAL_OVERHEAD).  unseal writes len - overhead bytes. */
#define LSN_LOCAL_SEAL_OVERHEAD 40
int lsn_local_seal(const struct lsn_local *s, const uint8_t *msg, size_t len,
                   const uint8_t *ad, size_t ad_len, uint8_t **out,
                   size_t *out_len);
int lsn_local_unseal(const struct lsn_local *s, const uint8_t *blob, size_t len,
                     const uint8_t *ad, size_t ad_len, uint8_t *out);

/* Marks a sent record acknowledged by the relay and wipes its sealed
 * content. */
int lsn_local_mark_submitted(struct lsn_local *s, const uint8_t msg_id[16]);

/* Records a temporary refusal (err, with the relay's sentence why, cut to
 * LSN_LOCAL_WHY_MAX bytes): the record stays and is resent from base
 * seconds after now, twice as long after each further refusal, at most
 * LSN_LOCAL_RETRY_MAX.  A submitted or refused record is left alone. */
#define LSN_LOCAL_WHY_MAX 255
#define LSN_LOCAL_RETRY_MAX (15 * 60)
int lsn_local_mark_waiting(struct lsn_local *s, const uint8_t msg_id[16], int err,
                           const char *why, int64_t now, int64_t base);

/* BLAKE2b-256 of msg keyed by a key derived from the store key: telling
 * contents apart without keeping them. */
int lsn_local_digest(const struct lsn_local *s, const uint8_t *msg, size_t len,
                     uint8_t out[32]);

/* The one sent msg_id starting with prefix (hex). */
int lsn_local_find_sent(struct lsn_local *s, const char *prefix,
                        uint8_t msg_id[16]);

/* Calls fn for each sent record neither submitted nor refused. */
typedef int (*lsn_local_sent_fn)(void *ctx, const uint8_t msg_id[16],
                                 const Liaison__StoredSent *rec);
int lsn_local_each_unsubmitted(struct lsn_local *s, lsn_local_sent_fn fn,
                               void *ctx);

/* Calls fn for every sent record, in msg_id order; stops at fn's first
 * non-zero return and returns it. */
int lsn_local_each_sent(struct lsn_local *s, lsn_local_sent_fn fn, void *ctx);

/* Records a receipt for a sent message from org/device. */
int lsn_local_put_receipt(struct lsn_local *s, const uint8_t msg_id[16],
                          const char *org, const char *device, int kind,
                          int64_t at, int reads_off);

/* The same with a non-delivery receipt's reason (the LSN_ERR_* code). */
int lsn_local_put_receipt_reason(struct lsn_local *s, const uint8_t msg_id[16],
                                 const char *org, const char *device, int kind,
                                 int64_t at, int reads_off, int reason);

typedef int (*lsn_local_receipt_fn)(void *ctx, const char *org,
                                    const char *device, int kind, int64_t at,
                                    int reads_off);
int lsn_local_each_receipt(struct lsn_local *s, const uint8_t msg_id[16],
                           lsn_local_receipt_fn fn, void *ctx);

/* The same, with each receipt's reason (0 unless a non-delivery receipt). */
typedef int (*lsn_local_receipt_reason_fn)(void *ctx, const char *org,
                                           const char *device, int kind,
                                           int64_t at, int reads_off, int reason);
int lsn_local_each_receipt_reason(struct lsn_local *s, const uint8_t msg_id[16],
                                  lsn_local_receipt_reason_fn fn, void *ctx);

/* --- feedback -------------------------------------------------------- */

/* Records a feedback (message fb_id of from_org) about message msg_id of
 * org, which this store sent (org is its own) or received.  The same
 * feedback again is kept once. */
int lsn_local_put_feedback(struct lsn_local *s, const char *org,
                           const uint8_t msg_id[16], const char *from_org,
                           const uint8_t fb_id[16],
                           const Liaison__StoredFeedback *rec);

/* Calls fn for each feedback recorded about message msg_id of org, in
 * order of sending org, then feedback msg_id (not of time: see created). */
typedef int (*lsn_local_feedback_fn)(void *ctx, const char *from_org,
                                     const uint8_t fb_id[16],
                                     const Liaison__StoredFeedback *rec);
int lsn_local_each_feedback(struct lsn_local *s, const char *org,
                            const uint8_t msg_id[16], lsn_local_feedback_fn fn,
                            void *ctx);

/* Links between messages, under the message they are about (org, msg_id):
 * this device forwarded it as its own message link_id (link_org is its
 * org; the StoredLink lists to whom), holds a forwarded copy of it inside
 * message link_id of link_org, retracted it with its own message
 * link_id (to whom, why, when), or its sender superseded it with its
 * message link_id. */
#define LSN_LINK_FORWARDED 'F'
#define LSN_LINK_RECEIVED  'R'
#define LSN_LINK_RETRACTED 'X'
#define LSN_LINK_SUPERSEDED 'S'     /* superseded by its sender's link_id */
int lsn_local_put_link(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
                       int kind, const char *link_org, const uint8_t link_id[16],
                       const Liaison__StoredLink *rec);
typedef int (*lsn_local_link_fn)(void *ctx, const char *link_org,
                                 const uint8_t link_id[16],
                                 const Liaison__StoredLink *rec);
int lsn_local_each_link(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
                        int kind, lsn_local_link_fn fn, void *ctx);

/* Every link of one kind, whatever message it is under: fn gets that
 * message (org, msg_id) and the link's. */
typedef int (*lsn_local_kind_fn)(void *ctx, const char *org, const uint8_t msg_id[16],
                                 const char *link_org, const uint8_t link_id[16]);
int lsn_local_each_link_of_kind(struct lsn_local *s, int kind, lsn_local_kind_fn fn,
                                void *ctx);

/* --- audit ----------------------------------------------------------- */

/* Appends an event (ids and names only, never content). */
int lsn_local_audit(struct lsn_local *s, int64_t now, const char *event,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Walks the chain: *n entries checked; on a broken link returns
 * LSN_ERR_CORRUPT with *bad the first bad sequence number. */
int lsn_local_audit_verify(struct lsn_local *s, uint64_t *n, uint64_t *bad);

typedef int (*lsn_local_audit_fn)(void *ctx, const Liaison__AuditEntry *e);
int lsn_local_each_audit(struct lsn_local *s, lsn_local_audit_fn fn, void *ctx);

#endif
