/* out.h: the replies and pushes of a round, sent after its commit
 * (out.c).  Private to relay/. */
#ifndef LSN_RELAY_OUT_H
#define LSN_RELAY_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "relay/relay_int.h"

/* Queues resp (encoded now) for connection rid; needs_commit: it says
 * UNAVAILABLE instead if the batch's commit fails.  0 or an error. */
int lsn_out_add(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
                const Liaison__Response *resp, int needs_commit);

/* Queues a reply outside request handling (a parked status). */
int lsn_relay_reply(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
                    const Liaison__Response *resp);

/* Makes resp an error of code with msg (or the code's sentence), in e. */
void lsn_out_error_fill(Liaison__Response *resp, Liaison__WireError *e, int code,
                        const char *msg);

/* Queues an error reply to request id. */
int lsn_out_error(struct lsn_relay *r, const uint8_t *rid, size_t rid_len, uint64_t id,
                  int code, const char *msg);

/* Told of a connection found gone while sending to it. */
typedef void (*lsn_out_gone_fn)(struct lsn_relay *r, const uint8_t *rid, size_t rid_len);

/* Sends every queued reply and push, each connection's in one frame (in
 * the order they were queued), after replacing those that needed the
 * commit if it failed; connections found gone go to gone. */
void lsn_out_flush(struct lsn_relay *r, int commit_failed, lsn_out_gone_fn gone);

/* Frees what is queued (shutdown). */
void lsn_out_free(struct lsn_relay *r);

#endif
