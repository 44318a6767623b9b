/* client.h: what a liaison client does, shared by the `liaison` CLI and the
 * public library (include/liaison.h): seal and send through the home
 * relay, fetch and open, keep everything in the profile's store, receipts,
 * forwards under TLP rules, status.  docs/design.md "Client". */
#ifndef LSN_CLIENT_H
#define LSN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "client/alert.h"
#include "client/profile.h"
#include "client/relay_client.h"
#include "client/seal.h"
#include "client/local.h"

#define LSN_DEFAULT_TTL (7 * 86400)     /* --expires default */
#define LSN_FETCH_BATCH 64
/* Items that wait (a sender's bundle or a key delivery not known yet, a
 * local store error) are tried again by watch after 5 s, doubling up to
 * 5 min while something still waits (docs/relay.md "Delivery states"). */
#define LSN_RETRY_MIN_S 5
#define LSN_RETRY_MAX_S 300
/* The most negative LSN_ERR_* an ack may carry as a refusal's reason. */
#define LSN_ACK_REASON_MIN (-127)

struct lsn_client {
    struct lsn_profile *p;
    struct lsn_relay_client *rc;        /* connected on first need */
    int offline;                        /* seal/open/import: never connect */
    char (*fresh)[LSN_ENV_ORG_MAX + 1]; /* orgs whose bundle was refreshed */
    size_t n_fresh;                     /* from the relay this session */
    char (*absent)[LSN_ENV_ORG_MAX + 1]; /* orgs the relay had no bundle of, */
    size_t n_absent;                    /* since the last fetch began */
    int taking;                         /* handling a queue item (absent applies) */
    int trust_wait;                     /* the sender's bundle could not be had
                                         * as valid here: the item waits */
    size_t refused;                     /* envelopes refused by the last fetch */
    size_t waiting;                     /* items it left queued (not acked) */
    int waiting_err;                    /* why the last of those waits */
    int unreachable;                    /* the relay did not answer: fail fast */
    /* Told what a step that waits on the relay does ("connecting to
     * relay-eu"), and what NULL when it ended; NULL: nothing is told.
     * The CLI shows it on a terminal (keys/progress.h). */
    void (*progress)(void *ctx, const char *what);
    void *progress_ctx;
};

/* A message as the user sees it: the opened envelope, and for a forward
 * the original inside it with the outcome of checking it. */
struct lsn_message {
    struct lsn_opened *o;
    struct lsn_opened *original;        /* NULL unless forwarded and opened */
    int original_err;                   /* 0: original verified; else why not */
    int64_t received;
    int read;
    int fresh;                          /* accepted just now (not a repeat) */
    int retracted;                      /* by its sender (key kept: held) */
    int held;                           /* under a legal hold */
    int64_t retracted_at;
    char retract_reason[LSN_LOCAL_REASON_MAX + 1];
    char hold_case[LSN_LOCAL_REASON_MAX + 1];
    int superseded;                     /* by its sender's superseded_by */
    uint8_t superseded_by[16];
};

void lsn_message_free(struct lsn_message **m);

int lsn_client_open(const char *home, const char *pass, struct lsn_client **out);
void lsn_client_close(struct lsn_client **c);

/* Connects to the home relay if not yet connected, then follows the
 * relay's roster chain (so removals and new roots are seen).
 * LSN_ERR_TIMEOUT means the relay is unreachable (exit 3 for the CLI);
 * LSN_ERR_USAGE if the client is offline. */
int lsn_client_connect(struct lsn_client *c);

/* The name the roster gives this profile's home relay, in name (n bytes);
 * LSN_ERR_NOT_FOUND if the roster names none. */
int lsn_client_relay_name(struct lsn_client *c, char *name, size_t n);

/* The newest verified bundle of org: from the trust store, refreshed from
 * the relay once per session (a revocation is seen before the first seal
 * or open that needs that org), and again when `refresh` is set.  Offline,
 * or with the relay unreachable, the held bundle serves.  Caller destroys
 * *out. */
int lsn_client_bundle(struct lsn_client *c, const char *org, int64_t now,
                      int refresh, struct lsn_bundle **out);

/* Seals a to the orgs to[0..n) (each must be in the roster) expiring at
 * now + ttl, stores the envelope as sent, and returns its msg_id.  With an
 * idempotency key the msg_id derives from it: sealing the same key again
 * returns the stored envelope instead of a new one. */
int lsn_client_seal(struct lsn_client *c, const Liaison__Alert *a,
                    const char *const *to, size_t n, int64_t now, int64_t ttl,
                    const char *idem, uint8_t msg_id[16], uint8_t **env,
                    size_t *len);

/* The msg_id of a stored envelope of this alert (the same keyed digest of
 * its encoding) to the same set of orgs that the relay has not taken yet
 * (neither submitted, refused nor expired at now): a `send` repeated after
 * the relay could not be reached resends that one rather than sealing a
 * second.  LSN_ERR_NOT_FOUND if there is none. */
int lsn_client_find_unsent(struct lsn_client *c, const Liaison__Alert *a,
                           const char *const *to, size_t n, int64_t now,
                           uint8_t msg_id[16]);

/* Submits the stored sent envelope msg_id (its exact bytes) and marks it
 * submitted on the relay's acknowledgement.  Refused as sealed to a stale
 * key, the content is sealed again to fresh bundles and submitted once
 * more: final_id (may be NULL) gets the msg_id that went out.  A refusal
 * no resend can change (quota, size, unknown org, ...) marks the record
 * refused: it is never resent.  Unreachable: the record waits. */
int lsn_client_submit(struct lsn_client *c, const uint8_t msg_id[16],
                      uint8_t final_id[16]);

/* Resubmits every stored envelope neither acknowledged nor refused, each
 * on its own; *n counts those the relay took.  Returns the transport error
 * if the relay is unreachable (the rest wait). */
int lsn_client_resubmit(struct lsn_client *c, size_t *n);

/* Verifies and stores one envelope (a fetched one, or an offline file):
 * the sender's bundle is refreshed once if it does not know the device or
 * is older than the envelope's hint.  A message seen before is returned
 * from the store with fresh = 0; one stored and pruned since (or only in
 * the seen table) is LSN_ERR_REPLAY, before any other check.  Sends a
 * delivery receipt if asked for (when connected). */
int lsn_client_accept(struct lsn_client *c, const uint8_t *env, size_t len,
                      int64_t now, struct lsn_message **out);

/* Called for each message fetch or watch accepted; a non-zero return
 * stops. Errors on single envelopes go to on_error (may be NULL). */
typedef int (*lsn_client_msg_fn)(void *ctx, const struct lsn_message *m);
typedef void (*lsn_client_err_fn)(void *ctx, const char *org,
                                  const uint8_t msg_id[16], int err);

/* Applies waiting key deliveries, then takes everything queued, once
 * through the whole queue: verify, store, ack (an envelope refused for
 * good is acked with the refusal as its outcome).  Items that cannot be
 * handled yet are left queued and passed over (c->waiting counts them,
 * c->waiting_err says why the last one waits).  *n counts messages
 * accepted. */
int lsn_client_fetch(struct lsn_client *c, lsn_client_msg_fn fn,
                     lsn_client_err_fn on_error, void *ctx, size_t *n);

/* Subscribes and calls fn for each message as it arrives until fn returns
 * non-zero or *stop becomes set (checked every poll_ms).  Items that wait
 * are fetched again after LSN_RETRY_MIN_S, doubling to LSN_RETRY_MAX_S. */
int lsn_client_watch(struct lsn_client *c, lsn_client_msg_fn fn,
                     lsn_client_err_fn on_error, void *ctx,
                     volatile int *stop, int poll_ms);

/* Key deliveries for this device from the relay: verified, applied, saved
 * in the profile's credential.  *n counts new keys. */
int lsn_client_apply_deliveries(struct lsn_client *c, int64_t now, size_t *n);

/* Calls fn for each received message in the store (only unread ones if
 * asked), oldest first, each re-opened with its stored key and, for a
 * forward, its original verified; receipts are skipped. */
int lsn_client_each_received(struct lsn_client *c, int unread_only,
                             lsn_client_msg_fn fn, void *ctx);

/* A received message by id prefix; mark_read marks it read and sends a
 * read receipt if asked for and allowed by the profile. */
int lsn_client_read(struct lsn_client *c, const char *prefix, int mark_read,
                    struct lsn_message **out);

/* TLP 2.0 on forward: 0 if an alert marked tlp may go to org `to` from a
 * member of org `own`; else LSN_ERR_LIMIT with the rule in lsn_detail(). */
int lsn_client_tlp_allows(int tlp, const char *own, const char *to);

/* circles.c */

/* A recipient list with each "circle:NAME" replaced by that circle's
 * member orgs (the roster's, read after following the relay's chain when
 * connected): to[0..n) the orgs to seal to (orgs named outright first, as
 * given; then members not yet listed, the sender's own org left out), and
 * circlep[0..n_circles) what the alert carries as its circles.  Names
 * are borrowed from the list given and from ro. */
struct lsn_addressed {
    const char *to[LSN_MAX_RECIPIENTS];
    size_t n;
    Liaison__AlertCircle circle[LSN_ALERT_MAX_CIRCLES];
    Liaison__AlertCircle *circlep[LSN_ALERT_MAX_CIRCLES];
    size_t n_circles;
    struct lsn_roster *ro;
};

/* LSN_ERR_UNKNOWN_ORG for a circle the roster does not have, LSN_ERR_LIMIT
 * past LSN_MAX_RECIPIENTS orgs or LSN_ALERT_MAX_CIRCLES circles.  Free with
 * lsn_addressed_free. */
int lsn_client_address(struct lsn_client *c, const char *const *to, size_t n,
                       int64_t now, struct lsn_addressed **out);
void lsn_addressed_free(struct lsn_addressed **x);

/* TLP 2.0 GREEN on forward: "within the community", and for an alert sent
 * to circles the community is their members (the sending org's own
 * devices too).  0 if a may go to org `to` from org `own` by that rule
 * (any alert not GREEN, or GREEN without circles, passes here: see
 * lsn_client_tlp_allows); else LSN_ERR_LIMIT with a sentence. */
int lsn_client_circle_allows(const Liaison__Alert *a, const char *own, const char *to);

/* Forwards a received message (by id prefix) to orgs: a new alert from
 * this device that carries the original envelope and its key. */
int lsn_client_forward(struct lsn_client *c, const char *prefix,
                       const char *const *to, size_t n, int64_t now,
                       uint8_t msg_id[16]);

/* What `liaison sent` shows of a sent alert without the network. */
struct lsn_sent_summary {
    int known;                          /* 0: the record keeps no summary */
    int type, tlp, priority;            /* LIAISON__ALERT_TYPE__ ... */
    int sealed_only;                    /* made by `liaison seal` (a file) */
    int64_t sealed_us;                  /* when sealed, unix us; 0 unknown */
    char title[LSN_ALERT_TITLE_MAX + 1];
};

/* A sent record's summary is sealed under the local store key with
 * msg_id || LSN_SUMMARY_AD as associated data (StoredSent.sealed_summary). */
#define LSN_SUMMARY_AD "summary"
#define LSN_SUMMARY_AD_LEN 7

/* The summary of sent record rec (held under msg_id): from its sealed
 * summary, else from its content while that is still sealed there; known
 * 0 when it keeps neither.  LSN_ERR_CORRUPT if what it keeps does not
 * open under this store's key. */
int lsn_client_sent_summary(struct lsn_client *c, const uint8_t msg_id[16],
                            const Liaison__StoredSent *rec,
                            struct lsn_sent_summary *out);
/* A disposition about a received message (client/feedback.c). */
struct lsn_feedback_req {
    const char *prefix;             /* the received message: its id or a prefix */
    int disposition;                /* LIAISON__DISPOSITION__* */
    const uint32_t *indicators;     /* 1-based positions, increasing; may be NULL */
    size_t n_indicators;            /* 0: the whole message */
    int reported_to;                /* LIAISON__REPORTED_TO__*: REPORTED only */
    const char *reported_other;     /* REPORTED_OTHER: whom; else NULL */
    const char *note;               /* NULL: none */
    int tlp;                        /* at least the message's TLP is used */
    int share;                      /* to the message's other recipients too */
};

/* Seals the feedback q as a FEEDBACK alert to the sender org of the
 * received message (and with q->share to its other recipient orgs),
 * marked with the message's TLP or q->tlp if stricter, and submits it.
 * LSN_ERR_USAGE (with the detail) for an indicator the message does not
 * have, or a message that is a receipt or feedback itself. */
int lsn_client_feedback(struct lsn_client *c, const struct lsn_feedback_req *q,
                        int64_t now, uint8_t msg_id[16]);

/* The latest disposition of one org about one indicator of a message (0:
 * the message as a whole), by the signed creation time of the feedback,
 * then by the order it arrived in. */
struct lsn_feedback_latest {
    uint32_t indicator;
    char org[LSN_ENV_ORG_MAX + 1];
    char device[LSN_ENV_DEVICE_MAX + 1];
    uint8_t fb_id[16];
    int disposition;
    int reported_to;
    char reported_other[65];
    int64_t created;
    uint64_t seq;                   /* order of arrival here */
};

/* The latest disposition per (org, indicator) recorded about message id
 * of org, sorted by indicator, then in the order they were given
 * (retraction-applied answers are not dispositions: not listed); *out is
 * the caller's (free). */
int lsn_client_feedback_latest(struct lsn_client *c, const char *org,
                               const uint8_t id[16],
                               struct lsn_feedback_latest **out, size_t *n);

/* Retracts the message this device sent (by id prefix): a REVOKE with
 * the reason (1 to LSN_LOCAL_REASON_MAX bytes) to its recipient orgs,
 * recorded as a link of the message; rid gets the REVOKE's id.  Only the
 * sending device holds the record: elsewhere LSN_ERR_NOT_FOUND. */
int lsn_client_retract(struct lsn_client *c, const char *prefix, const char *reason,
                       int64_t now, uint8_t rid[16]);

/* Sets (on) or lifts a legal hold on the received message prefix, or with
 * case_ref and a NULL prefix on every received message of that case
 * (*n counts them). */
int lsn_client_hold(struct lsn_client *c, const char *prefix, const char *case_ref,
                    const char *reason, int on, size_t *n);

/* The newest message of org that superseded message id (an update):
 * 0 and by, or LSN_ERR_NOT_FOUND. */
int lsn_client_superseded_by(struct lsn_client *c, const char *org, const uint8_t id[16],
                             uint8_t by[16]);

/* update.c */

/* What an update points into: the superseded message's id and sent
 * record (its recipients' names). */
struct lsn_update {
    Liaison__MessageRef ref;
    uint8_t id[16];
    Liaison__StoredSent *sent;
};

/* Makes a the new version of the message this device sent with id prefix
 * prefix: a->supersedes names it (in u), type alert becomes update (a
 * revoke, receipt or feedback is LSN_ERR_USAGE), and with *n == 0 to[]
 * (room for LSN_MAX_RECIPIENTS) gets its recipient orgs.  The caller
 * seals a while u lives, then calls lsn_update_free.  LSN_ERR_NOT_FOUND:
 * no such sent message on this device. */
int lsn_client_update_prepare(struct lsn_client *c, const char *prefix, Liaison__Alert *a,
                              const char **to, size_t *n, struct lsn_update *u);
void lsn_update_free(struct lsn_update *u);

/* Of two TLP markings, the more restrictive. */
int lsn_client_tlp_stricter(int a, int b);

#endif
