/* relay_client.h: the client side of the relay protocol for liaison's CLI
 * and library (docs/wire.md): connect with a device credential, submit
 * (pipelined), fetch or subscribe, ack, directory get/put, status.  Built on
 * proto/wire.h; every call returns 0 or a negative LSN_ERR_* and leaves the
 * relay's sentence in lsn_relay_client_message(). */
#ifndef LSN_RELAY_CLIENT_H
#define LSN_RELAY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "keys/credential.h"
#include "proto/pb.h"
#include "proto/wire.h"

struct lsn_relay_client;

/* Connects to endpoint as the credential's device, trusting server_pk (the
 * relay's CURVE key from the roster).  Waits for the handshake, and later
 * for each answer, up to timeout_ms: LSN_ERR_DENIED if the relay refused
 * the key. */
int lsn_relay_client_connect(const struct lsn_credential *cred, const char *endpoint,
                             const uint8_t server_pk[32], int timeout_ms,
                             struct lsn_relay_client **out);

void lsn_relay_client_close(struct lsn_relay_client **c);

/* The relay's sentence for the last error (or ""). */
const char *lsn_relay_client_message(const struct lsn_relay_client *c);

/* The wire connection (for lsn_wire_recv of pushes). */
struct lsn_wire *lsn_relay_client_wire(struct lsn_relay_client *c);

/* Hello: *out is the reply (free with lsn_pb_free). */
int lsn_relay_client_hello(struct lsn_relay_client *c, Liaison__HelloReply **out);

/* Submits n envelopes pipelined (all sent, then all answers collected);
 * results[i] gets 0 or the error of envelope i, dup[i] (may be NULL) 1 if
 * the relay already held it.  Returns 0 if every answer arrived (even
 * refusals), LSN_ERR_TIMEOUT/IO otherwise (then unanswered results are
 * LSN_ERR_TIMEOUT: their fate is unknown, so resend the same bytes). */
int lsn_relay_client_submit(struct lsn_relay_client *c, const uint8_t *const *envs,
                            const size_t *lens, size_t n, int *results, int *dup);

/* Fetches up to max queued items: *out is the reply (lsn_pb_free). */
int lsn_relay_client_fetch(struct lsn_relay_client *c, uint32_t max,
                           Liaison__FetchReply **out);

/* Fetches up to max queued items with a seq greater than after (a cursor
 * through the queue: pass the last item's seq). */
int lsn_relay_client_fetch_after(struct lsn_relay_client *c, uint32_t max,
                                 uint64_t after, Liaison__FetchReply **out);

/* Acks items by (org, msg_id) with their outcomes (NULL: all stored; else
 * outcomes[i] is 0 for stored or the LSN_ERR_* code, -127..-1, the device
 * refused item i for); passed returns the push credit of that many pushed
 * items the device keeps for later.  *acked as lsn_relay_client_ack. */
int lsn_relay_client_ack_outcome(struct lsn_relay_client *c, const char *const *orgs,
                                 const uint8_t (*ids)[16], const int *outcomes,
                                 size_t n, uint64_t gap_seen, uint32_t passed,
                                 uint32_t *acked);

/* Acks items by (org, msg_id); gap_seen acknowledges trimmed messages
 * reported in a gap.  *acked (may be NULL) counts refs that were queued. */
int lsn_relay_client_ack(struct lsn_relay_client *c, const char *const *orgs,
                         const uint8_t (*ids)[16], size_t n, uint64_t gap_seen,
                         uint32_t *acked);

/* Subscribes with credit; pushes then arrive through
 * lsn_relay_client_next_push.  *out (may be NULL) is the reply. */
int lsn_relay_client_subscribe(struct lsn_relay_client *c, uint32_t credit,
                               Liaison__SubscribeReply **out);

/* Waits up to timeout_ms for the next push: *out is the Response holding
 * its items (resp->push->items, one or more; free with lsn_pb_free).
 * LSN_ERR_TIMEOUT. */
int lsn_relay_client_next_push(struct lsn_relay_client *c, int timeout_ms,
                               Liaison__Response **out);

/* Directory: get returns the reply (lsn_pb_free); put answers unchanged. */
int lsn_relay_client_dir_get(struct lsn_relay_client *c, Liaison__DirKind kind,
                             const char *org, const char *device,
                             Liaison__DirGetReply **out);
int lsn_relay_client_dir_put(struct lsn_relay_client *c, Liaison__DirKind kind,
                             const uint8_t *obj, size_t len, int *unchanged);

/* Status of a message this device's org sent (lsn_pb_free the reply). */
int lsn_relay_client_status(struct lsn_relay_client *c, const uint8_t msg_id[16],
                            Liaison__StatusReply **out);

#endif
