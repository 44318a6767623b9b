/* client_int.h: what the files of the client library share and nothing
 * outside client/ may use.  Calls point one way, down this list (a file
 * calls only files below it, then local*.c, seal.c, profile.c and
 * relay_client.c):
 *   fetch.c, inbox.c   take queue items; list, read and forward stored ones
 *   outbox.c           sent records summarised for listing
 *   accept.c           one envelope opened and stored
 *   retract.c          retractions sent, applied and passed on; updates
 *   update.c           a sent message's new version prepared for sealing
 *   receipts.c         receipts sent, and recorded against sent messages
 *   feedback.c         dispositions sent, checked and recorded
 *   deliveries.c       key deliveries applied to the credential
 *   send.c             seal into the store, submit, resubmit
 *   client.c           the handle, the connection, roster and bundles */
#ifndef LSN_CLIENT_INT_H
#define LSN_CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "proto/envelope.h"

/* client.c */

/* r, with the relay's sentence as the detail when r is an error of a relay
 * request and no detail is set. */
int lsn_client_relay_fail(struct lsn_client *c, int r);

/* Tells c->progress what the step about to wait on the relay does
 * (printf-style), or with fmt NULL that it ended. */
void lsn_client_progress(struct lsn_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* receipts.c */

/* Seals and submits a receipt of kind (delivered or read) about o to its
 * sender org. */
int lsn_client_send_receipt(struct lsn_client *c, const struct lsn_opened *o, int kind,
                            int64_t now);

/* Seals and submits a non-delivery receipt about message msg_id of org,
 * refused here for reason; once per message and device (LSN_ERR_EXISTS when
 * the relay took it before). */
int lsn_client_send_refusal(struct lsn_client *c, const char *org,
                            const uint8_t msg_id[16], int reason, int64_t now);

/* 1 if env was signed by its sender device as the newest bundle held here
 * lists it, allowed to send; 0 otherwise. */
int lsn_client_signed_by_sender(struct lsn_client *c, const uint8_t *env, size_t len,
                                const struct lsn_envelope_info *info);

/* Records o, if it is a receipt for one of our sent messages from an org it
 * was sent to, against that message. */
void lsn_client_record_receipt(struct lsn_client *c, const struct lsn_opened *o);

/* retract.c */

/* If m (accepted just now) is a REVOKE of its sender org's own message,
 * or one passed on with the originator's REVOKE inside, verified: marks
 * the message and every forward of it held here retracted (content keys
 * wiped unless held), tells the originator, and passes the REVOKE on to
 * the orgs this device forwarded the message to. */
void lsn_client_apply_retraction(struct lsn_client *c, const struct lsn_message *m,
                                 int64_t now);

/* Notes that m supersedes an earlier message of its sender (an update). */
void lsn_client_note_update(struct lsn_client *c, const struct lsn_message *m);

/* Notes that m, a forward whose original verified, holds a copy of it
 * and of the first message inside it (a forward of a forward ...). */
void lsn_client_note_forward(struct lsn_client *c, const struct lsn_message *m,
                             int64_t now);

/* feedback.c */

/* 0 unless o is a feedback that this device must refuse: one about a
 * message of another org that it never received (LSN_ERR_INVALID), or
 * from an org the message was not sent to (LSN_ERR_NOT_RECIPIENT); the
 * detail says which.  A feedback about a message of this org that
 * another of its devices sent, or one this device pruned, is taken (not
 * recorded: its recipients cannot be checked here). */
int lsn_client_check_feedback(struct lsn_client *c, const struct lsn_opened *o);

/* Records o, if it is a feedback about a message held here, against that
 * message: 0, or LSN_ERR_NOT_FOUND when it is not recorded. */
int lsn_client_record_feedback(struct lsn_client *c, const struct lsn_opened *o);

/* accept.c */

/* Opens the original inside the forward m (if it is one) into m->original,
 * with the outcome of its checks in m->original_err. */
void lsn_client_open_original(struct lsn_client *c, struct lsn_message *m, int64_t now);

/* Forwards wrapped around one first message at most: a forward of a
 * forward of ... this deep, and a retraction passed on along them. */
#define LSN_FORWARD_DEPTH_MAX 8u

/* The layers inside a forward: layer[0] is m->original (borrowed),
 * layer[i + 1] the envelope forwarded in layer[i], and layer[n - 1] the
 * first message, which forwards nothing. */
struct lsn_chain {
    struct lsn_opened *layer[LSN_FORWARD_DEPTH_MAX];
    size_t n;
};

/* Opens every layer inside m, each checked as m->original is (signed by
 * a device of its sender that may send, and addressed to the org that
 * wrapped it); n = 0 when m forwards nothing.  Errors: m->original_err,
 * a layer's own, LSN_ERR_LIMIT beyond LSN_FORWARD_DEPTH_MAX wrappers
 * (the detail says so); *ch is then empty.  Free: lsn_client_chain_free. */
int lsn_client_open_chain(struct lsn_client *c, const struct lsn_message *m, int64_t now,
                          struct lsn_chain *ch);
void lsn_client_chain_free(struct lsn_chain *ch);

/* Opens the stored st into m->o (signature checked against the key held
 * with it) and copies its received time and read mark. */
int lsn_client_open_stored(const struct lsn_local_msg *st, struct lsn_message *m);

/* The stored message msg_id of org, opened; *out is the caller's
 * (lsn_message_free). */
int lsn_client_stored_message(struct lsn_client *c, const char *org, const uint8_t id[16],
                              int64_t now, struct lsn_message **out);

#endif
