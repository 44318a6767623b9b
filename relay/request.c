/* request.c: the way of a request frame from the ROUTER to its handler.
 * The frame's sender is admitted (its connection, the identity ZAP gave
 * it), each request takes a token before it is decoded, a batch frame's
 * requests are served in order with one answer for a refusal of several,
 * and every request gets exactly one reply queued for after the commit
 * (docs/wire.md). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "proto/err.h"
#include "proto/pb.h"
#include "proto/wire.h"
#include "relay/arena.h"
#include "relay/conn.h"
#include "relay/handlers.h"
#include "relay/log.h"
#include "relay/out.h"
#include "relay/request.h"
#include "relay/zap.h"

/* Reads the identity a request arrived with: the ZAP User-Id and the hex
 * of the CURVE key (X-Key), either possibly NULL. */
static int
who_read(const char *user, const char *key, struct who *w)
{
    const char *slash;
    size_t ol;

    memset(w, 0, sizeof *w);
    if (user == NULL || key == NULL || strlen(key) != 64 ||
        sodium_hex2bin(w->key, 32, key, 64, NULL, NULL, NULL) != 0)
        return LSN_ERR_DENIED;
    if (user[0] == '~') {
        w->kind = WHO_UNKNOWN;
        return 0;
    }
    if (strncmp(user, "relay:", 6) == 0) {
        if (strlen(user + 6) == 0 || strlen(user + 6) > LSN_NAME_MAX)
            return LSN_ERR_DENIED;
        w->kind = WHO_RELAY;
        snprintf(w->id, sizeof w->id, "%s", user);
        snprintf(w->relay, sizeof w->relay, "%s", user + 6);
        return 0;
    }
    if ((slash = strchr(user, '/')) == NULL || (ol = (size_t)(slash - user)) == 0 ||
        ol > LSN_ENV_ORG_MAX || strlen(slash + 1) == 0 ||
        strlen(slash + 1) > LSN_ENV_DEVICE_MAX)
        return LSN_ERR_DENIED;
    w->kind = WHO_DEVICE;
    memcpy(w->org, user, ol);
    snprintf(w->device, sizeof w->device, "%s", slash + 1);
    snprintf(w->id, sizeof w->id, "%s", user);
    return 0;
}

/* The request id of a frame not decoded yet (a refusal before the decode
 * still names the request it refuses): field 1 comes first in the
 * canonical encoding; 0 if the frame does not start with it. */
static uint64_t
peek_id(const uint8_t *body, size_t len)
{
    uint64_t id = 0;

    if (len < 2 || body[0] != 0x08)
        return 0;
    for (size_t i = 1; i < len && i <= 10; i++) {
        id |= (uint64_t)(body[i] & 0x7f) << (7 * (i - 1));
        if ((body[i] & 0x80) == 0)
            return id;
    }
    return 0;
}

/* A submit, the hot request, viewed in place: its envelope is not copied
 * out of the frame.  The view accepts only the canonical encoding of a
 * Request holding a SubmitRequest, which the strict decode would accept
 * as the same (tests/fuzz/fuzz_pb.c); -1 sends anything else to it. */
static int
submit_view(const uint8_t *body, size_t len, Liaison__Request *req,
            Liaison__SubmitRequest *sub)
{
    static const struct lsn_pb_field request_fields[] = {
        { 1, LSN_PB_VARINT }, { 3, LSN_PB_MESSAGE },
    };
    static const struct lsn_pb_field submit_fields[] = { { 1, LSN_PB_BYTES } };
    struct lsn_pb_value rv[2], sv[1];

    if (lsn_pb_scan(body, len, request_fields, 2, rv) != 0 || !rv[1].present ||
        lsn_pb_scan(rv[1].data, rv[1].len, submit_fields, 1, sv) != 0)
        return -1;
    liaison__request__init(req);
    liaison__submit_request__init(sub);
    req->id = rv[0].u;
    req->body_case = LIAISON__REQUEST__BODY_SUBMIT;
    req->submit = sub;
    sub->envelope = (ProtobufCBinaryData){ sv[0].len, (uint8_t *)sv[0].data };
    return 0;
}

#define WANT_ONE_REQUEST "malformed request: want one frame holding a liaison.Request"

/* The sender of a frame (its routing id and ZAP identity) and, once
 * admitted, its connection: every request of a batch shares them. */
struct from {
    const uint8_t *rid;
    size_t rid_len;
    const char *user, *key_hex;
    zmq_msg_t *msg;             /* its frame, for the source address; NULL offline */
    const char *addr;           /* offline: the source address */
    struct conn *c;
    struct who w;
};

/* Finds (or takes) the frame's connection and reads its identity: 0, or an
 * error code with its sentence in *why (refused before the request is
 * decoded, and before it takes a connection slot when the identity is
 * bad). */
static int
admit(struct lsn_relay *r, struct from *f, const char **why)
{
    if (f->rid_len == 0 || f->rid_len > RID_MAX) {
        *why = NULL;            /* nowhere to answer */
        return LSN_ERR_INTERNAL;
    }
    f->c = lsn_conn_find(r, f->rid, f->rid_len);
    if (lsn_conn_who_cached(f->c, f->user, f->key_hex, &f->w))
        return 0;
    if (who_read(f->user, f->key_hex, &f->w) != 0) {
        *why = "not allowed";
        return LSN_ERR_DENIED;
    }
    if (f->c == NULL && (f->c = lsn_conn_get(r, f->rid, f->rid_len)) == NULL) {
        *why = "too many connections: retry later";
        return LSN_ERR_RATE;
    }
    lsn_relay_unknown_look(r, &f->w);
    lsn_conn_who_keep(f->c, f->user, f->key_hex, &f->w);
    return 0;
}

/* Takes one request's token: per connection, and globally for unknown
 * keys.  These cheap checks come before the decode (and any signature
 * check).  0, or an error code with its sentence in *why. */
static int
take_token(struct lsn_relay *r, struct from *f, size_t len, const char **why)
{
    const char *addr;

    if (lsn_conn_take_token(r, f->c) != 0) {
        *why = "too many requests on this connection: slow down and retry";
        return LSN_ERR_RATE;
    }
    if (f->w.kind == WHO_UNKNOWN) {
        addr = f->msg != NULL ? zmq_msg_gets(f->msg, "Peer-Address") : f->addr;
        if (lsn_zap_request_token(r, addr, len) != 0) {
            int rc = lsn_relay_unknown_refusal(r, &f->w);
            *why = r->msg;
            return rc;
        }
    }
    return 0;
}

/* Decodes and handles one admitted request (body, len); a non-NULL
 * malformed refuses it with that sentence instead (a message of several
 * frames, a broken batch).  Queues exactly one reply, except for a status
 * parked for peer figures (answered later). */
static void
serve(struct lsn_relay *r, struct from *f, const uint8_t *body, size_t len,
      const char *malformed)
{
    Liaison__Request *req = NULL, view;
    Liaison__SubmitRequest view_submit;
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError e;
    size_t cap = r->cfg.max_envelope + 64u * 1024u;
    int needs_commit = 0, rc;

    r->msg[0] = '\0';
    if (malformed == NULL && len <= cap &&
        submit_view(body, len, &view, &view_submit) == 0)
        req = &view;
    else if (malformed != NULL || LSN_PB_DECODE(request, body, len, cap, &req) != 0) {
        if (f->w.kind == WHO_UNKNOWN)
            rc = lsn_relay_unknown_refusal(r, &f->w);
        else
            rc = LSN_ERR_MALFORMED;
        lsn_out_error(r, f->rid, f->rid_len, 0, rc, f->w.kind == WHO_UNKNOWN ? r->msg
                      : malformed != NULL ? malformed : WANT_ONE_REQUEST);
        return;
    }
    resp.id = req->id;
    r->park = 0;
    rc = lsn_relay_dispatch(r, f->c, &f->w, req, &resp, &needs_commit);
    if (rc == 0 && r->park) {       /* answered later (peer figures) */
        lsn_relay_response_free(r);
        if (req != &view)
            lsn_pb_free(&req->base);
        return;
    }
    if (rc != 0) {
        lsn_relay_response_free(r);
        resp.body_case = LIAISON__RESPONSE__BODY__NOT_SET;
        lsn_out_error_fill(&resp, &e, rc, r->msg);
        needs_commit = 0;
    }
    if (lsn_out_add(r, f->rid, f->rid_len, &resp, needs_commit) != 0)
        lsn_relay_log("cannot queue a reply: out of memory");
    if (rc == 0)
        lsn_relay_response_free(r);
    if (req != &view)
        lsn_pb_free(&req->base);
}

/* Handles one request that came as a frame of its own (docs/wire.md). */
static void
request_one(struct lsn_relay *r, struct from *f, const uint8_t *body, size_t len,
            const char *malformed)
{
    const char *why;
    int rc;

    if ((rc = admit(r, f, &why)) != 0) {
        /* An identity the relay cannot read gets nothing of its own back. */
        if (why != NULL)
            lsn_out_error(r, f->rid, f->rid_len, rc == LSN_ERR_RATE ? peek_id(body, len) : 0,
                      rc, why);
        return;
    }
    if ((rc = take_token(r, f, len, &why)) != 0) {
        lsn_out_error(r, f->rid, f->rid_len, peek_id(body, len), rc, why);
        return;
    }
    serve(r, f, body, len, malformed);
}

/* Refuses the requests parts[0..n) of a batch with one answer: code and
 * sentence, the first one's id, the others' ids in error.also. */
static void
refuse_parts(struct lsn_relay *r, const struct from *f, const struct lsn_wire_part *parts,
             size_t n, int code, const char *why)
{
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError e;

    if (n == 0 || why == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        r->batch_ids[i] = peek_id(parts[i].buf, parts[i].len);
    resp.id = r->batch_ids[0];
    lsn_out_error_fill(&resp, &e, code, why);
    e.also = r->batch_ids + 1;
    e.n_also = n - 1;
    if (lsn_out_add(r, f->rid, f->rid_len, &resp, 0) != 0)
        lsn_relay_log("cannot queue a reply: out of memory");
}

static int
part_keep(void *ctx, const uint8_t *buf, size_t len)
{
    struct lsn_relay *r = ctx;

    r->batch_parts[r->n_batch_parts++] = (struct lsn_wire_part){ buf, len };
    return 0;
}

/* Handles a batch frame's requests in order, each as if it had come alone
 * (docs/wire.md "Batched requests"), except that the frame's sender is
 * admitted once, and a refusal of the sender, or of the requests left
 * when the connection's tokens run out, is one answer for all of them
 * (error.also): one small frame never costs the relay thousands of
 * answers.  0 with the requests it held in *held (1 for a batch refused
 * whole), or LSN_ERR_NOT_FOUND if the frame is not a batch. */
static int
batch_handle(struct lsn_relay *r, struct from *f, const uint8_t *body, size_t len,
             uint64_t *held)
{
    const char *why;
    size_t i = 0;
    int rc;

    r->n_batch_parts = 0;
    if ((rc = lsn_wire_batch_each(LSN_WIRE_REQUESTS, body, len, part_keep, r)) != 0) {
        if (rc == LSN_ERR_NOT_FOUND)
            return rc;
        /* Refused whole, nothing of it read: no id is known. */
        *held = 1;
        request_one(r, f, body, len, rc == LSN_ERR_TOO_LARGE
                    ? "malformed request: a batch holds at most 4096 requests of 64 KiB"
                    : "malformed request: an empty or broken batch of requests");
        return 0;
    }
    *held = r->n_batch_parts;
    if ((rc = admit(r, f, &why)) != 0) {
        /* An identity the relay cannot read gets nothing of its own back. */
        if (rc == LSN_ERR_DENIED)
            lsn_out_error(r, f->rid, f->rid_len, 0, rc, why);
        else
            refuse_parts(r, f, r->batch_parts, r->n_batch_parts, rc, why);
        return 0;
    }
    if (f->w.kind == WHO_UNKNOWN) {     /* it may only put its bundle, alone */
        rc = lsn_relay_unknown_refusal(r, &f->w);
        refuse_parts(r, f, r->batch_parts, r->n_batch_parts, rc, r->msg);
        return 0;
    }
    for (; i < r->n_batch_parts; i++) {
        if ((rc = take_token(r, f, r->batch_parts[i].len, &why)) != 0)
            break;
        serve(r, f, r->batch_parts[i].buf, r->batch_parts[i].len, NULL);
    }
    if (i < r->n_batch_parts)
        refuse_parts(r, f, r->batch_parts + i, r->n_batch_parts - i, rc, why);
    return 0;
}

/* Handles a request frame (body, len): a batch, or one request; extra
 * says the message had more than one frame.  Returns the requests it
 * held. */
static uint64_t
frame_handle(struct lsn_relay *r, struct from *f, const uint8_t *body,
             size_t len, int extra)
{
    uint64_t held = 1;

    if (!extra && batch_handle(r, f, body, len, &held) == 0)
        return held;
    request_one(r, f, body, len, extra ? WANT_ONE_REQUEST : NULL);
    return 1;
}

int
lsn_request_recv(struct lsn_relay *r, uint64_t *bytes, uint64_t *n)
{
    zmq_msg_t rid, body;
    int extra = 0;

    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, r->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        return LSN_ERR_NOT_FOUND;
    }
    zmq_msg_init(&body);
    if (!zmq_msg_more(&rid) || zmq_msg_recv(&body, r->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
        (*n)++;                     /* counts toward the batch all the same */
        return 0;
    }
    /* Further frames make the request malformed; drain them. */
    while (zmq_msg_more(&body)) {
        zmq_msg_t x;
        zmq_msg_init(&x);
        int more = zmq_msg_recv(&x, r->router, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&x);
        zmq_msg_close(&x);
        extra = 1;
        if (!more)
            break;
    }
    *bytes += zmq_msg_size(&body);
    struct from f = {
        .rid = zmq_msg_data(&rid), .rid_len = zmq_msg_size(&rid),
        .user = zmq_msg_gets(&body, "User-Id"), .key_hex = zmq_msg_gets(&body, "X-Key"),
        .msg = &body,
    };
    *n += frame_handle(r, &f, zmq_msg_data(&body), zmq_msg_size(&body), extra);
    zmq_msg_close(&rid);
    zmq_msg_close(&body);
    return 0;
}

void
lsn_request_offline(struct lsn_relay *r, const char *user, const char *key_hex,
                    const uint8_t *frame, size_t len, int extra)
{
    static const uint8_t rid[] = { 0, 'o', 'f', 'f' };
    struct from f = { .rid = rid, .rid_len = sizeof rid, .user = user,
                      .key_hex = key_hex, .addr = r->offline_addr };

    frame_handle(r, &f, frame, len, extra);
}
