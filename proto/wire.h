/* wire.h: the low-level client side of the relay request protocol
 * (docs/wire.md): a CURVE DEALER connection to one relay, Request frames
 * out with request ids, Response frames in through the strict decoder, and
 * a blocking call with a timeout.  It lives in proto/ so that liaison-keys,
 * the client library and the tests can all share it; it knows nothing of
 * credentials or rosters: the caller passes raw keys and an endpoint. */
#ifndef LSN_WIRE_H
#define LSN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pb.h"

/* Largest frame either side accepts: a full envelope plus framing, or a
 * fetch reply (the relay caps a reply's bytes below this). */
#define LSN_WIRE_FRAME_MAX   (LSN_WIRE_REPLY_MAX + 64u * 1024u)
#define LSN_WIRE_REPLY_MAX   (32u * 1024u * 1024u)
/* Most message refs one gap report carries. */
#define LSN_GAP_REFS_MAX     64u
/* Default timeout of lsn_wire_call (milliseconds). */
#define LSN_WIRE_TIMEOUT_MS  10000

struct lsn_wire;

/* Opens a DEALER to endpoint ("tcp://HOST:PORT") as a CURVE client with the
 * relay's public key and the caller's key pair (copied; the secret is wiped
 * when the connection closes).  Connecting is asynchronous: the first
 * request waits for the handshake.  LSN_ERR_INVALID (endpoint), LSN_ERR_IO. */
int lsn_wire_connect(const char *endpoint, const uint8_t server_pk[32],
                     const uint8_t client_pk[32], const uint8_t client_sk[32],
                     struct lsn_wire **out);

/* Waits up to timeout_ms for the CURVE handshake: 0 once it succeeded,
 * LSN_ERR_DENIED if the relay refused the key, LSN_ERR_TIMEOUT. */
int lsn_wire_handshake(struct lsn_wire *w, int timeout_ms);

/* Closes the connection, wipes the keys and sets *w to NULL. */
void lsn_wire_close(struct lsn_wire **w);

/* A fresh request id (never 0). */
uint64_t lsn_wire_next_id(struct lsn_wire *w);

/* Sends req as one frame (req->id must be set); never blocks for long:
 * LSN_ERR_TIMEOUT if the socket cannot take it within the send timeout. */
int lsn_wire_send(struct lsn_wire *w, const Liaison__Request *req);

/* Receives the next Response (one that lsn_wire_call set aside, or one
 * that came in the same batch as an earlier one, first), strictly decoded; caller frees with lsn_pb_free.  timeout_ms < 0 waits
 * forever.  LSN_ERR_TIMEOUT, LSN_ERR_PROTOCOL (undecodable frame). */
int lsn_wire_recv(struct lsn_wire *w, int timeout_ms, Liaison__Response **out);

/* Sets a fresh id on req, sends it and waits up to timeout_ms for the
 * Response with that id; other responses that arrive meanwhile are kept for
 * lsn_wire_recv.  On an error response returns its code (negative
 * LSN_ERR_*; the relay's sentence in lsn_wire_message) and *out is NULL. */
int lsn_wire_call(struct lsn_wire *w, Liaison__Request *req, int timeout_ms,
                  Liaison__Response **out);

/* The sentence of the last error response (or ""): borrowed until the
 * next call. */
const char *lsn_wire_message(const struct lsn_wire *w);

/* Records resp's error (if any) as the last message and returns its code,
 * or 0 when resp carries no error. */
int lsn_wire_check(struct lsn_wire *w, const Liaison__Response *resp);

/* A relay answers in batches: every Response it has ready for one
 * connection after a group commit travels in one frame, a Response whose
 * body is a ResponseBatch (docs/wire.md "Batched responses"). */

/* A batch holds at most LSN_WIRE_BATCH_ITEMS Responses of at most
 * LSN_WIRE_BATCH_MAX bytes together (a larger answer travels alone), so
 * what one frame makes a client allocate stays bounded. */
#define LSN_WIRE_BATCH_MAX   (64u * 1024u)
#define LSN_WIRE_BATCH_ITEMS 4096u

/* One encoded Response. */
struct lsn_wire_part {
    const uint8_t *buf;
    size_t len;
};

/* Encodes the n >= 1 encoded Responses parts[0..n) as one batch frame, in a
 * new malloc'd buffer *out of *out_len bytes.  LSN_ERR_NOMEM. */
int lsn_wire_batch(const struct lsn_wire_part *parts, size_t n, uint8_t **out,
                   size_t *out_len);

/* Takes one Response (the caller's from then on: free with lsn_pb_free);
 * a non-zero return stops lsn_wire_frame_each. */
typedef int (*lsn_wire_response_fn)(void *ctx, Liaison__Response *resp);

/* Strictly decodes one frame from a relay (at most cap bytes) and hands
 * fn each Response it holds, in order: the frame's own, or each of its
 * batch.  LSN_ERR_MALFORMED if the frame, or any Response of a batch,
 * does not decode, or the batch is empty or nested (Responses before the
 * bad one were handed over); LSN_ERR_TOO_LARGE (also a batch above the
 * limits above, refused before any is decoded); or fn's error. */
int lsn_wire_frame_each(const uint8_t *buf, size_t len, size_t cap,
                        lsn_wire_response_fn fn, void *ctx);

/* The ZeroMQ socket, for zmq_poll by a caller that multiplexes. */
void *lsn_wire_socket(struct lsn_wire *w);

#endif
