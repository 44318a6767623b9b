/* out.h: the replies and pushes of a round, sent after its commit
 * (out.c).  Private to relay/. */
#ifndef LSN_RELAY_OUT_H
#define LSN_RELAY_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "relay/relay_int.h"

/* Queues resp for connection rid; needs_commit: replaced by UNAVAILABLE
 * if the batch's commit fails. */
int out_add(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
            const Liaison__Response *resp, int needs_commit);

/* Queues a reply outside request handling (a parked status). */
int lsn_relay_reply(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
                    const Liaison__Response *resp);

/* Makes resp an error of code with msg (or the code's sentence), in e. */
void error_fill(Liaison__Response *resp, Liaison__WireError *e, int code,
                const char *msg);

/* Queues an error reply to request id. */
int out_error(struct lsn_relay *r, const uint8_t *rid, size_t rid_len, uint64_t id,
              int code, const char *msg);

/* Sends every queued reply, each connection's in one frame. */
void out_flush(struct lsn_relay *r, int commit_failed);

#endif
