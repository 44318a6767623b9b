/* wire.h: the low-level client side of the relay request protocol
 * (docs/wire.md): a CURVE DEALER connection to one relay, Request frames
 * out with request ids, Response frames in through the strict decoder, and
 * a blocking call with a timeout.  It lives in proto/ so that liaison-keys,
 * the client library and the tests can all share it; it knows nothing of
 * credentials or rosters: the caller passes raw keys and an endpoint. */
#ifndef LSN_WIRE_H
#define LSN_WIRE_H

#include <stddef.h>
#include <signal.h>
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

/* A flag a signal handler sets (NULL: none): while it is non-zero every
 * wait of this process for the relay (handshake, answers) ends at once
 * with LSN_ERR_INTERRUPTED instead of resuming.  Signals are the
 * process's, so the flag is too. */
void lsn_wire_set_stop(volatile sig_atomic_t *flag);

/* Closes the connection, wipes the keys and sets *w to NULL.  Requests
 * still queued (lsn_wire_queue) are dropped, as are frames ZeroMQ has not
 * sent yet (no linger): wait for the answers that matter first. */
void lsn_wire_close(struct lsn_wire **w);

/* A fresh request id (never 0). */
uint64_t lsn_wire_next_id(struct lsn_wire *w);

/* Sends req now (req->id must be set), after any queued requests
 * (lsn_wire_queue) and in one frame with them: LSN_ERR_TIMEOUT if the
 * socket cannot take a frame within the send timeout (5 s each). */
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

/* Batches (docs/wire.md "Batched requests", "Batched responses"): a
 * client sends the requests it pipelines together, and a relay sends every
 * answer it has ready for one connection after a group commit together,
 * each as one frame: a Request (or Response) whose only field is its
 * batch, holding the encoded messages in order.  A lone message travels
 * as itself.  Each CURVE frame costs both ends a box, a ZeroMQ message and
 * a wake-up, so one frame per batch instead of one per message is most of
 * the transport's cost for small messages. */

/* A batch holds at most LSN_WIRE_BATCH_ITEMS messages of at most
 * LSN_WIRE_BATCH_MAX bytes together (a larger one travels alone), so
 * what one frame makes a receiver allocate or answer stays bounded. */
#define LSN_WIRE_BATCH_MAX   (64u * 1024u)
#define LSN_WIRE_BATCH_ITEMS 4096u
/* The largest batch frame: the messages, at most 4 bytes of framing each
 * (tag and length), and the batch's own tag and length. */
#define LSN_WIRE_BATCH_FRAME_MAX (LSN_WIRE_BATCH_MAX + 4u * LSN_WIRE_BATCH_ITEMS + 8u)

/* Which message a batch wraps: Request field 14, Response field 16. */
enum lsn_wire_kind { LSN_WIRE_REQUESTS, LSN_WIRE_RESPONSES };

/* One encoded Request or Response. */
struct lsn_wire_part {
    const uint8_t *buf;
    size_t len;
};

/* Encodes the n >= 1 encoded messages parts[0..n) as one batch frame of
 * kind, in a new malloc'd buffer *out of *out_len bytes.  LSN_ERR_NOMEM. */
int lsn_wire_batch(enum lsn_wire_kind kind, const struct lsn_wire_part *parts,
                   size_t n, uint8_t **out, size_t *out_len);

/* Sends one frame; a non-zero return stops lsn_wire_send_parts. */
typedef int (*lsn_wire_frame_fn)(void *ctx, const uint8_t *buf, size_t len);

/* Sends the n encoded messages parts[0..n), in order, in as few frames as
 * the limits allow: a batch of kind while they fit, a message alone when
 * it is the only one or larger than a batch may be.  Returns 0 or send's
 * error.  Without memory for a batch it sends them one by one. */
int lsn_wire_send_parts(enum lsn_wire_kind kind, const struct lsn_wire_part *parts,
                        size_t n, lsn_wire_frame_fn send, void *ctx);

/* Takes one encoded message of a batch (borrowed from the frame); a
 * non-zero return stops lsn_wire_batch_each. */
typedef int (*lsn_wire_part_fn)(void *ctx, const uint8_t *buf, size_t len);

/* If the frame (buf, len) is a canonical batch of kind, hands fn each
 * message it holds, in order, and returns 0 or fn's error.
 * LSN_ERR_NOT_FOUND: the frame is not a batch (decode it as one message;
 * a batch that is not canonical then fails as a nested one would);
 * LSN_ERR_MALFORMED: an empty batch or one that does not parse;
 * LSN_ERR_TOO_LARGE: above the limits, refused before fn sees any. */
int lsn_wire_batch_each(enum lsn_wire_kind kind, const uint8_t *buf,
                        size_t len, lsn_wire_part_fn fn, void *ctx);

/* Queues req (req->id set) to go out with the requests queued after it in
 * one batch frame: sent when the batch is full, by lsn_wire_flush, or
 * before any wait for an answer on the socket (lsn_wire_recv, lsn_wire_call).
 * A request above LSN_WIRE_BATCH_MAX goes alone, after the queued ones.
 * Errors as lsn_wire_send (from a send this call made; the requests of a
 * batch that could not be sent are lost, as an unsent frame is). */
int lsn_wire_queue(struct lsn_wire *w, const Liaison__Request *req);

/* Sends the queued requests now.  A caller that zmq_polls
 * lsn_wire_socket itself flushes first. */
int lsn_wire_flush(struct lsn_wire *w);

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

/* The ZeroMQ socket, for zmq_poll by a caller that multiplexes; such a
 * caller calls lsn_wire_flush before it waits, or what it queued waits
 * with it. */
void *lsn_wire_socket(struct lsn_wire *w);

#endif
