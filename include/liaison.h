/* liaison.h: the C library for automated senders and receivers of liaison
 * alerts (fraud engines, hotline crawlers, SIEMs).
 *
 * A session works on a device profile set up with `liaison init` (the same
 * folder the `liaison` CLI uses): it seals alerts end to end, signs them
 * with the device's key, stores them before handing them to the home relay,
 * and takes in, verifies and stores what arrives before acknowledging it.
 * Plaintext never touches the disk.
 *
 * Every function returns 0 or a negative LSN_ERR_* code (liaison/err.h);
 * lsn_strerror() gives the sentence and lsn_session_detail() the value
 * behind the last error (an org id, a relay's refusal).  Strings returned
 * by accessors are borrowed from their object.  Nothing here is
 * thread-safe: use one session per thread.
 *
 * Link with `pkg-config --cflags --libs liaison`. */
#ifndef LIAISON_H
#define LIAISON_H

#include <stddef.h>
#include <stdint.h>

#include <liaison/err.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The sentence for an error code (never NULL). */
const char *lsn_strerror(int err);

/* ---------------------------------------------------------------- session */

typedef struct lsn_session lsn_session;

/* Opens the profile in home (NULL: $LIAISON_HOME, else ~/.liaison);
 * passphrase is the credential's, or NULL if it has none or if the
 * profile's unlock agent (`liaison unlock`) holds it. */
int lsn_session_open(const char *home, const char *passphrase,
                     lsn_session **out);

/* Closes the session and the relay connection; sets *s to NULL. */
void lsn_session_close(lsn_session **s);

/* The value behind the last error of this thread, or "" (borrowed). */
const char *lsn_session_detail(void);

/* The device's organisation and name (borrowed). */
const char *lsn_session_org(const lsn_session *s);
const char *lsn_session_device(const lsn_session *s);

/* ---------------------------------------------------------------- alerts */

typedef struct lsn_alert lsn_alert;

enum lsn_alert_type {
    LSN_TYPE_ALERT = 1, LSN_TYPE_NOTICE = 2, LSN_TYPE_REQUEST = 3,
    LSN_TYPE_RESPONSE = 4, LSN_TYPE_UPDATE = 5, LSN_TYPE_REVOKE = 6,
    LSN_TYPE_RECEIPT = 7, LSN_TYPE_FEEDBACK = 8,
};
enum lsn_tlp {          /* TLP 2.0 */
    LSN_TLP_AMBER = 0, LSN_TLP_CLEAR = 1, LSN_TLP_GREEN = 2,
    LSN_TLP_AMBER_STRICT = 3, LSN_TLP_RED = 4,
};
enum lsn_priority { LSN_PRIORITY_ROUTINE = 0, LSN_PRIORITY_PRIORITY = 1,
                    LSN_PRIORITY_URGENT = 2 };
enum lsn_ack { LSN_ACK_NONE = 0, LSN_ACK_DELIVERY = 1, LSN_ACK_READ = 2 };

/* A new alert: type alert, TLP:AMBER, routine, no receipts asked. */
int lsn_alert_new(lsn_alert **out);
void lsn_alert_destroy(lsn_alert **a);

/* Setters copy their strings.  The title is one line of 1 to 256 bytes;
 * indicator types are MISP attribute type names ("ip-dst", "domain",
 * "url", "email-src", "iban", "btc", "sha256", ...).  Everything is
 * validated again when the alert is sent. */
int lsn_alert_set_title(lsn_alert *a, const char *title);
int lsn_alert_set_body(lsn_alert *a, const char *body);
int lsn_alert_set_type(lsn_alert *a, enum lsn_alert_type type);
int lsn_alert_set_tlp(lsn_alert *a, enum lsn_tlp tlp);
int lsn_alert_set_priority(lsn_alert *a, enum lsn_priority p);
int lsn_alert_set_ack(lsn_alert *a, enum lsn_ack ack);
int lsn_alert_set_case(lsn_alert *a, const char *case_ref);
int lsn_alert_add_indicator(lsn_alert *a, const char *type, const char *value);
/* Attaches a file: name is a file name (1 to 255 bytes of UTF-8 on one
 * line, no '/', '\\', "." or "..", as the receiver may save it under it),
 * media_type "type/subtype" (NULL: from the name's extension, else
 * application/octet-stream), data copied and hashed (SHA-256) here.
 * LSN_ERR_INVALID (with lsn_session_detail) for a name or type that
 * sending would refuse.  At most 32 attachments; the whole alert is at
 * most 8 MiB, checked when it is sent (LSN_ERR_TOO_LARGE). */
int lsn_alert_add_attachment(lsn_alert *a, const char *name, const char *media_type,
                             const void *data, size_t len);

/* ---------------------------------------------------------------- sending */

/* Seals a to the organisations to[0..n), expiring ttl seconds from now
 * (0: 7 days), stores it, and submits it to the home relay.  With an
 * idempotency key (NULL: none) the message id derives from the key, so a
 * retried push is delivered once.  msg_id (33 bytes) gets the id in hex.
 * LSN_ERR_TIMEOUT / LSN_ERR_UNAVAILABLE: the relay is unreachable and the
 * message is stored: lsn_session_resend() (or the next send) hands it over.
 * LSN_ERR_QUOTA: the relay has no room for it now; it stays stored and is
 * resent with back-off by lsn_session_resend() (or the next send or
 * fetch) until it expires.  LSN_ERR_LIMIT: refused by a limit.
 * LSN_ERR_INVALID: the idempotency key was used for another alert or
 * other recipients (the detail names that message).
 * An entry "circle:NAME" stands for the members of roster circle NAME
 * (this org left out); the alert then carries the circle's name and
 * members, and recipients see it.  LSN_ERR_UNKNOWN_ORG for a circle the
 * roster does not have. */
int lsn_session_send(lsn_session *s, const lsn_alert *a, const char *const *to,
                     size_t n, int64_t ttl, const char *idempotency_key,
                     char msg_id[33]);

/* Sends a a new version of the message this device sent with id (or
 * unique prefix) msg_id, superseding it: the alert names that message,
 * its type alert becomes LSN_TYPE_UPDATE (notice, request and response
 * stay; LSN_ERR_USAGE for a revoke: see lsn_session_retract), and it goes
 * to the same orgs as that message unless to[0..n) (n > 0) names others.
 * ttl, idempotency_key, errors and the stored-and-resent rules are
 * lsn_session_send's; new_id (33 bytes) gets the new version's id.
 * LSN_ERR_NOT_FOUND: no such sent message on this device (only the device
 * that sent a message can update it).  Recipients list the newest
 * version; the earlier one shows lsn_received_superseded_by. */
int lsn_session_update(lsn_session *s, const char *msg_id, const lsn_alert *a,
                       const char *const *to, size_t n, int64_t ttl,
                       const char *idempotency_key, char new_id[33]);

/* Resends every stored message the relay has not acknowledged; *n counts. */
int lsn_session_resend(lsn_session *s, size_t *n);

/* ---------------------------------------------------------------- receiving */

typedef struct lsn_received lsn_received;

/* Called once for each new message, after it was verified and stored
 * durably and before it is acknowledged to the relay; return non-zero to
 * stop (the message is kept and acknowledged either way).  The message is
 * borrowed for the duration of the call.  Receipts are recorded for
 * lsn_session_status and not passed here. */
typedef int (*lsn_received_fn)(void *ctx, const lsn_received *m);

/* Takes everything waiting (key deliveries first); *n counts new messages.
 * Envelopes that fail verification are not passed to fn: see
 * lsn_session_refused. */
int lsn_session_fetch(lsn_session *s, lsn_received_fn fn, void *ctx, size_t *n);

/* How many envelopes the last fetch refused (forged, revoked sender, not
 * for us, ...): each is in the profile's audit log (`liaison audit show`). */
size_t lsn_session_refused(const lsn_session *s);

/* How many queued items the last fetch left waiting at the relay (not
 * acknowledged) because they cannot be handled here yet: the sender's
 * bundle or a key delivery not known yet, a local store error.  They are
 * tried again at the next fetch, and by watch after 5 s doubling to 5 min;
 * they never hold back the items behind them. */
size_t lsn_session_waiting(const lsn_session *s);

/* Fetches, then handles messages as they arrive until fn returns non-zero
 * or *stop becomes non-zero (checked every quarter second). */
int lsn_session_watch(lsn_session *s, lsn_received_fn fn, void *ctx,
                      volatile int *stop);

/* Passes the received message msg_id (its id or a unique prefix), as it
 * is stored now, to fn once (fn's return is ignored), without marking it
 * read.  LSN_ERR_NOT_FOUND if there is no such message or a retraction
 * wiped its key (one a legal hold kept is passed, lsn_received_retracted). */
int lsn_session_received(lsn_session *s, const char *msg_id, lsn_received_fn fn,
                         void *ctx);

/* Accessors (borrowed strings).  Times are unix seconds. */
const char *lsn_received_id(const lsn_received *m);          /* 32 hex digits */
const char *lsn_received_sender_org(const lsn_received *m);
const char *lsn_received_sender_device(const lsn_received *m);
const char *lsn_received_title(const lsn_received *m);
const char *lsn_received_body(const lsn_received *m);
enum lsn_alert_type lsn_received_type(const lsn_received *m);
enum lsn_tlp lsn_received_tlp(const lsn_received *m);
enum lsn_priority lsn_received_priority(const lsn_received *m);
int64_t lsn_received_created(const lsn_received *m);
size_t lsn_received_indicator_count(const lsn_received *m);
/* 0 and *type, *value for i < count, else LSN_ERR_NOT_FOUND. */
int lsn_received_indicator(const lsn_received *m, size_t i, const char **type,
                          const char **value);
size_t lsn_received_attachment_count(const lsn_received *m);
/* 0 and *name (a file name, checked: no path, "." or ".."; it may still
 * start with '.' or '-' or hold characters a reader cannot see: take care
 * before saving under it), *media_type, *data and *len for i < count (its
 * SHA-256 was checked when the message was opened; *data may be NULL when
 * *len is 0), else LSN_ERR_NOT_FOUND.  Borrowed, like every accessor. */
int lsn_received_attachment(const lsn_received *m, size_t i, const char **name,
                            const char **media_type, const uint8_t **data, size_t *len);
/* The roster circles the sender addressed it to ("circle:NAME" in its
 * recipient list): 0 and circle i's *name and its number of member orgs
 * *n_orgs (as the sender's roster had them) for i < count, else
 * LSN_ERR_NOT_FOUND.  For TLP:GREEN they bound where it may be
 * forwarded. */
size_t lsn_received_circle_count(const lsn_received *m);
int lsn_received_circle(const lsn_received *m, size_t i, const char **name,
                        size_t *n_orgs);

/* For an update: the id (32 hex digits) of its sender org's earlier
 * message it supersedes; else NULL. */
const char *lsn_received_supersedes(const lsn_received *m);
/* The id of the newest version its sender sent to supersede it, if this
 * device has received one (listings show only that one); else NULL. */
const char *lsn_received_superseded_by(const lsn_received *m);

/* ---------------------------------------------------------------- status */

/* Per recipient org of a message this device sent (by id or unique
 * prefix): devices the relay queued it for, how many stored it (a device
 * that refused it is not counted: see lsn_session_device_status), and the
 * read receipts that came back.  fn is called once per recipient org. */
typedef int (*lsn_status_fn)(void *ctx, const char *org, unsigned devices,
                             unsigned delivered, unsigned read_receipts,
                             int expired);
int lsn_session_status(lsn_session *s, const char *msg_id, lsn_status_fn fn,
                       void *ctx);

/* Per device queue of each recipient org of a message this device sent:
 * state is "queued", "delivered" (stored by the device), "refused" (reason
 * is then the negative error code the device refused it for, a value of
 * <liaison/err.h>), "trimmed", "dropped" or "expired".  Strings are
 * borrowed for the call. */
typedef int (*lsn_device_status_fn)(void *ctx, const char *org, const char *device,
                                     const char *state, int reason);
int lsn_session_device_status(lsn_session *s, const char *msg_id,
                              lsn_device_status_fn fn, void *ctx);

/* ---------------------------------------------------------------- feedback */

/* What a recipient org did with a message (docs/protocol.md "Feedback"). */
enum lsn_disposition {
    LSN_DISPOSITION_SEEN = 1, LSN_DISPOSITION_TRUE_POSITIVE = 2,
    LSN_DISPOSITION_FALSE_POSITIVE = 3, LSN_DISPOSITION_ACTIONED = 4,
    LSN_DISPOSITION_REPORTED = 5, LSN_DISPOSITION_NOT_ACTIONABLE = 6,
    LSN_DISPOSITION_NEED_INFO = 7,
    LSN_DISPOSITION_RETRACTION_APPLIED = 8,     /* sent by the library only */
};

/* The word for a disposition ("false-positive"), as the CLI and --json
 * write it; "unknown" for another value. */
const char *lsn_disposition_name(enum lsn_disposition d);

/* Tells the sender org of the received message msg_id (its id or a unique
 * prefix) what this org did with it, in a sealed, signed feedback (with
 * share, also to the message's other recipient orgs), marked with the
 * message's TLP.  indicators[0..n) are 1-based positions in the message's
 * indicators (n = 0: the whole message); reported_to is NULL, or with
 * LSN_DISPOSITION_REPORTED "ncmec", "police", "inhope" or "other:TEXT";
 * note may be NULL.  feedback_id (33 bytes) gets the feedback's id.
 * LSN_ERR_USAGE (with the detail) for a position the message does not
 * have; LSN_ERR_TIMEOUT: stored, resent like any send. */
int lsn_session_feedback(lsn_session *s, const char *msg_id, enum lsn_disposition d,
                         const unsigned *indicators, size_t n,
                         const char *reported_to, const char *note, int share,
                         char feedback_id[33]);

/* For a received message of type LSN_TYPE_FEEDBACK: its disposition, the
 * org and id (32 hex digits) of the message it is about, and its note
 * ("" if none); all borrowed.  LSN_ERR_INVALID for another type. */
int lsn_received_feedback(const lsn_received *m, enum lsn_disposition *d,
                          const char **about_org, const char **about_id,
                          const char **note);
/* Its indicator positions (none: the whole message). */
size_t lsn_received_feedback_indicator_count(const lsn_received *m);
unsigned lsn_received_feedback_indicator(const lsn_received *m, size_t i);

/* The latest disposition of each org about a message this device sent (by
 * id or unique prefix), for the message as a whole (indicator 0) and for
 * each indicator (1-based), by indicator, then in the order given: fn
 * once each.  reported_to is "" unless the disposition is reported.
 * Strings are borrowed for the call. */
typedef int (*lsn_feedback_fn)(void *ctx, const char *org, unsigned indicator,
                               enum lsn_disposition d, const char *reported_to,
                               int64_t at);
int lsn_session_feedback_status(lsn_session *s, const char *msg_id,
                                lsn_feedback_fn fn, void *ctx);

/* ---------------------------------------------------------------- retraction */

/* Withdraws a message this device sent (by id or unique prefix): a signed
 * retraction to its recipient orgs, which wipe their copies' keys (unless
 * under a legal hold), answer, and pass it on to the orgs they forwarded
 * it to.  reason: 1 to 512 bytes.  retraction_id (33 bytes) gets its id.
 * LSN_ERR_NOT_FOUND: no such sent message on this device. */
int lsn_session_retract(lsn_session *s, const char *msg_id, const char *reason,
                        char retraction_id[33]);

/* Per org a retracted message reached, directly (via "") or through a
 * forward by the org via: whether it applied the retraction, and whether
 * a legal hold there kept the content key.  fn once per org; strings
 * borrowed for the call.  LSN_ERR_NOT_FOUND if it was not retracted. */
typedef int (*lsn_retraction_fn)(void *ctx, const char *org, const char *via,
                                 int applied, int kept);
int lsn_session_retraction_status(lsn_session *s, const char *msg_id,
                                  lsn_retraction_fn fn, void *ctx);

/* 1 if the received message was retracted by its sender (its key kept
 * under a legal hold, or it could not be passed here), else 0. */
int lsn_received_retracted(const lsn_received *m);

/* ---------------------------------------------------------------- legal hold */

/* Sets a legal hold on the received message msg_id (its id or a unique
 * prefix), or, with msg_id NULL, on every received message of the case
 * case_ref (none is not an error): a held message keeps its content key
 * when its sender retracts it, and `liaison prune` keeps it.  case_ref
 * (may be NULL with a msg_id) and reason (may be NULL) are recorded with
 * the hold, each cut to 512 bytes; each hold is written to the profile's
 * audit log.  LSN_ERR_NOT_FOUND: no such received message; LSN_ERR_USAGE:
 * neither a msg_id nor a non-empty case_ref.  `liaison hold` makes the
 * same call. */
int lsn_session_hold(lsn_session *s, const char *msg_id, const char *case_ref,
                     const char *reason);

/* Lifts the legal hold of the received message msg_id, or, with msg_id
 * NULL, of every received message of the case case_ref.  Errors as
 * lsn_session_hold's; `liaison release` makes the same call. */
int lsn_session_release(lsn_session *s, const char *msg_id, const char *case_ref);

/* The case reference of the legal hold on the received message ("" for a
 * hold without one), or NULL when it is not held. */
const char *lsn_received_held(const lsn_received *m);

#ifdef __cplusplus
}
#endif

#endif
