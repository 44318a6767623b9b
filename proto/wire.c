/* wire.c: a CURVE DEALER speaking the relay request protocol (wire.h).
 * Responses that arrive while lsn_wire_call waits for another id are kept
 * in a small FIFO, so pipelined callers lose nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "proto/err.h"
#include "proto/wire.h"

#define SEND_TIMEOUT_MS 5000
#define HEARTBEAT_MS    5000

static volatile sig_atomic_t *stop_flag;

void
lsn_wire_set_stop(volatile sig_atomic_t *flag)
{
    stop_flag = flag;
}

/* 1 once the process was asked to stop waiting (lsn_wire_set_stop). */
static int
stopped(void)
{
    return stop_flag != NULL && *stop_flag != 0;
}

/* A Response kept for a later take.  An error that answers several
 * requests at once (WireError.also) is kept once, as it came, and handed
 * out one id at a time: `pending` counts the ids still to hand out (its
 * own id while `own` is set, and the non-zero entries of also), so what a
 * relay's frame makes a client hold is never more than the frame. */
struct held {
    Liaison__Response *resp;
    struct held *next;
    size_t pending;
    int own;
};

struct lsn_wire {
    void *ctx;
    void *sock;
    void *mon;
    uint64_t next_id;
    struct held *head, *tail;
    struct lsn_wire_part *out;      /* queued requests (owned buffers) */
    size_t n_out, cap_out, out_bytes;
    char message[512];
};

static void out_clear(struct lsn_wire *w);

static int
set_opt(void *s, int opt, const void *v, size_t n)
{
    return zmq_setsockopt(s, opt, v, n) == 0 ? 0 : LSN_ERR_IO;
}

static int
set_int(void *s, int opt, int v)
{
    return set_opt(s, opt, &v, sizeof v);
}

int
lsn_wire_connect(const char *endpoint, const uint8_t server_pk[32],
                 const uint8_t client_pk[32], const uint8_t client_sk[32],
                 struct lsn_wire **out)
{
    struct lsn_wire *w = NULL;
    char mon[64];
    int64_t maxmsg = LSN_WIRE_FRAME_MAX;
    int r = LSN_ERR_IO;

    *out = NULL;
    if (endpoint == NULL || strncmp(endpoint, "tcp://", 6) != 0)
        return LSN_ERR_INVALID;
    if ((w = calloc(1, sizeof *w)) == NULL)
        return LSN_ERR_NOMEM;
    randombytes_buf(&w->next_id, sizeof w->next_id);
    w->next_id = (w->next_id >> 16) | 1;   /* room to count up, never 0 */
    if ((w->ctx = zmq_ctx_new()) == NULL)
        goto out;
    if ((w->sock = zmq_socket(w->ctx, ZMQ_DEALER)) == NULL)
        goto out;
    if ((r = set_opt(w->sock, ZMQ_CURVE_SERVERKEY, server_pk, 32)) != 0 ||
        (r = set_opt(w->sock, ZMQ_CURVE_PUBLICKEY, client_pk, 32)) != 0 ||
        (r = set_opt(w->sock, ZMQ_CURVE_SECRETKEY, client_sk, 32)) != 0 ||
        (r = set_int(w->sock, ZMQ_LINGER, 0)) != 0 ||
        (r = set_int(w->sock, ZMQ_SNDTIMEO, SEND_TIMEOUT_MS)) != 0 ||
        (r = set_int(w->sock, ZMQ_HEARTBEAT_IVL, HEARTBEAT_MS)) != 0 ||
        (r = set_int(w->sock, ZMQ_HEARTBEAT_TIMEOUT, 3 * HEARTBEAT_MS)) != 0 ||
        (r = set_int(w->sock, ZMQ_SNDHWM, 100000)) != 0 ||
        (r = set_int(w->sock, ZMQ_RCVHWM, 100000)) != 0 ||
        (r = set_opt(w->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg)) != 0)
        goto out;
    /* A monitor tells a refused key from a slow relay (lsn_wire_handshake). */
    snprintf(mon, sizeof mon, "inproc://lsn-wire-mon-%p", (void *)w);
    r = LSN_ERR_IO;
    if (zmq_socket_monitor(w->sock, mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
        goto out;
    if ((w->mon = zmq_socket(w->ctx, ZMQ_PAIR)) == NULL ||
        set_int(w->mon, ZMQ_LINGER, 0) != 0 || zmq_connect(w->mon, mon) != 0)
        goto out;
    if (zmq_connect(w->sock, endpoint) != 0) {
        r = LSN_ERR_INVALID;
        goto out;
    }
    *out = w;
    w = NULL;
    r = 0;
out:
    lsn_wire_close(&w);
    return r;
}

int
lsn_wire_handshake(struct lsn_wire *w, int timeout_ms)
{
    zmq_pollitem_t it = { w->mon, 0, ZMQ_POLLIN, 0 };
    zmq_msg_t m;
    uint16_t ev = 0;

    for (;;) {
        int n;
        if (stopped())
            return LSN_ERR_INTERRUPTED;
        n = zmq_poll(&it, 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return LSN_ERR_TIMEOUT;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, w->mon, 0) < 0) {
            zmq_msg_close(&m);
            return LSN_ERR_IO;
        }
        if (zmq_msg_size(&m) >= 2)
            memcpy(&ev, zmq_msg_data(&m), 2);
        zmq_msg_close(&m);
        /* The second frame (the endpoint) is not needed. */
        while (zmq_msg_init(&m) == 0 && zmq_msg_recv(&m, w->mon, ZMQ_DONTWAIT) >= 0) {
            int more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            if (!more)
                break;
        }
        if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            return 0;
        if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            return LSN_ERR_DENIED;
    }
}

void
lsn_wire_close(struct lsn_wire **wp)
{
    struct lsn_wire *w = *wp;

    if (w == NULL)
        return;
    while (w->head != NULL) {
        struct held *h = w->head;
        w->head = h->next;
        lsn_pb_free(&h->resp->base);
        free(h);
    }
    if (w->mon != NULL)
        zmq_close(w->mon);
    if (w->sock != NULL) {
        zmq_socket_monitor(w->sock, NULL, 0);
        zmq_close(w->sock);
    }
    out_clear(w);                   /* queued, never sent: dropped */
    free(w->out);
    if (w->ctx != NULL)
        zmq_ctx_term(w->ctx);
    sodium_memzero(w, sizeof *w);
    free(w);
    *wp = NULL;
}

uint64_t
lsn_wire_next_id(struct lsn_wire *w)
{
    return w->next_id++;
}

static int
frame_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct lsn_wire *w = ctx;

    if (zmq_send(w->sock, buf, len, 0) < 0)
        return errno == EAGAIN ? LSN_ERR_TIMEOUT : LSN_ERR_IO;
    return 0;
}

static void
out_clear(struct lsn_wire *w)
{
    for (size_t i = 0; i < w->n_out; i++)
        free((void *)w->out[i].buf);
    w->n_out = 0;
    w->out_bytes = 0;
}

int
lsn_wire_flush(struct lsn_wire *w)
{
    int r = lsn_wire_send_parts(LSN_WIRE_REQUESTS, w->out, w->n_out, frame_send, w);

    out_clear(w);
    return r;
}

/* Appends an encoded request (taking buf) to the queue, which has room. */
static int
out_push(struct lsn_wire *w, uint8_t *buf, size_t len)
{
    if (w->n_out == w->cap_out) {
        size_t cap = w->cap_out ? 2 * w->cap_out : 64;
        struct lsn_wire_part *n = realloc(w->out, cap * sizeof *n);
        if (n == NULL) {
            free(buf);
            return LSN_ERR_NOMEM;
        }
        w->out = n;
        w->cap_out = cap;
    }
    w->out[w->n_out++] = (struct lsn_wire_part){ buf, len };
    w->out_bytes += len;
    return 0;
}

int
lsn_wire_queue(struct lsn_wire *w, const Liaison__Request *req)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r;

    if ((r = lsn_pb_encode(&req->base, &buf, &len)) != 0)
        return r;
    if (w->n_out == LSN_WIRE_BATCH_ITEMS || w->out_bytes + len > LSN_WIRE_BATCH_MAX) {
        if ((r = lsn_wire_flush(w)) != 0) {
            free(buf);
            return r;
        }
    }
    if (len > LSN_WIRE_BATCH_MAX) {
        r = frame_send(w, buf, len);
        free(buf);
        return r;
    }
    return out_push(w, buf, len);
}

int
lsn_wire_send(struct lsn_wire *w, const Liaison__Request *req)
{
    int r = lsn_wire_queue(w, req);

    return r != 0 ? r : lsn_wire_flush(w);
}

/* Writes v as a varint at p; returns the bytes written. */
static size_t
varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t
varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The batch field of each kind, length-delimited: Request field 14,
 * Response field 16; inside, the repeated field 1. */
static const struct {
    uint8_t tag[2];
    size_t tag_len;
    uint32_t field;
} batch_kinds[2] = {
    [LSN_WIRE_REQUESTS] = { { 0x72 }, 1, 14 },
    [LSN_WIRE_RESPONSES] = { { 0x82, 0x01 }, 2, 16 },
};
#define ITEMS_TAG 0x0a

int
lsn_wire_batch(enum lsn_wire_kind kind, const struct lsn_wire_part *parts,
               size_t n, uint8_t **out, size_t *out_len)
{
    size_t inner = 0, at, tl = batch_kinds[kind].tag_len;
    uint8_t *buf;

    *out = NULL;
    *out_len = 0;
    for (size_t i = 0; i < n; i++)
        inner += 1 + varint_len(parts[i].len) + parts[i].len;
    if ((buf = malloc(tl + varint_len(inner) + inner)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(buf, batch_kinds[kind].tag, tl);
    at = tl + varint_put(buf + tl, inner);
    for (size_t i = 0; i < n; i++) {
        buf[at++] = ITEMS_TAG;
        at += varint_put(buf + at, parts[i].len);
        memcpy(buf + at, parts[i].buf, parts[i].len);
        at += parts[i].len;
    }
    *out = buf;
    *out_len = at;
    return 0;
}

/* Sends parts[0..n) as one frame: alone, or as a batch of kind. */
static int
frame_of(enum lsn_wire_kind kind, const struct lsn_wire_part *parts, size_t n,
         lsn_wire_frame_fn send, void *ctx)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = 0;

    if (n == 1)
        return send(ctx, parts[0].buf, parts[0].len);
    if (lsn_wire_batch(kind, parts, n, &buf, &len) != 0) {
        for (size_t i = 0; i < n && r == 0; i++)
            r = send(ctx, parts[i].buf, parts[i].len);
        return r;
    }
    r = send(ctx, buf, len);
    free(buf);
    return r;
}

int
lsn_wire_send_parts(enum lsn_wire_kind kind, const struct lsn_wire_part *parts,
                    size_t n, lsn_wire_frame_fn send, void *ctx)
{
    size_t first = 0, bytes = 0;
    int r;

    for (size_t i = 0; i < n; i++) {
        /* Within the limits every receiver holds a batch to; a larger
         * message goes alone (its frame's cost is amortised already). */
        if (i > first && (i - first == LSN_WIRE_BATCH_ITEMS ||
                          bytes + parts[i].len > LSN_WIRE_BATCH_MAX)) {
            if ((r = frame_of(kind, parts + first, i - first, send, ctx)) != 0)
                return r;
            first = i;
            bytes = 0;
        }
        bytes += parts[i].len;
    }
    return n > first ? frame_of(kind, parts + first, n - first, send, ctx) : 0;
}

int
lsn_wire_batch_each(enum lsn_wire_kind kind, const uint8_t *buf, size_t len,
                    lsn_wire_part_fn fn, void *ctx)
{
    const struct lsn_pb_field frame_fields[] = {
        { batch_kinds[kind].field, LSN_PB_MESSAGE },
    };
    static const struct lsn_pb_field batch_fields[] = { { 1, LSN_PB_REPEATED } };
    size_t tl = batch_kinds[kind].tag_len;
    struct lsn_pb_value fv[1], bv[1];
    const uint8_t *p, *elem;
    size_t elen;
    int r;

    /* Anything but a canonical batch is one message. */
    if (len < tl || memcmp(buf, batch_kinds[kind].tag, tl) != 0 ||
        lsn_pb_scan(buf, len, frame_fields, 1, fv) != 0)
        return LSN_ERR_NOT_FOUND;
    if (lsn_pb_scan(fv[0].data, fv[0].len, batch_fields, 1, bv) != 0 ||
        bv[0].count == 0)
        return LSN_ERR_MALFORMED;
    /* Each message of a batch takes at most 4 bytes of framing. */
    if (bv[0].count > LSN_WIRE_BATCH_ITEMS ||
        bv[0].len > LSN_WIRE_BATCH_MAX + 4 * bv[0].count)
        return LSN_ERR_TOO_LARGE;
    for (p = bv[0].data; p < bv[0].data + bv[0].len;) {
        lsn_pb_next(&p, &elem, &elen);
        if ((r = fn(ctx, elem, elen)) != 0)
            return r;
    }
    return 0;
}

/* Decodes one Response that must not be a batch. */
static int
response_decode(const uint8_t *buf, size_t len, size_t cap, Liaison__Response **out)
{
    int r = LSN_PB_DECODE(response, buf, len, cap, out);

    if (r == 0 && (*out)->body_case == LIAISON__RESPONSE__BODY_BATCH) {
        lsn_pb_free(&(*out)->base);
        *out = NULL;
        return LSN_ERR_MALFORMED;
    }
    return r;
}

struct each {
    size_t cap;
    lsn_wire_response_fn fn;
    void *ctx;
};

static int
each_response(void *ctx, const uint8_t *buf, size_t len)
{
    struct each *e = ctx;
    Liaison__Response *resp = NULL;
    int r;

    if ((r = response_decode(buf, len, e->cap, &resp)) != 0)
        return r;
    return e->fn(e->ctx, resp);
}

int
lsn_wire_frame_each(const uint8_t *buf, size_t len, size_t cap,
                    lsn_wire_response_fn fn, void *ctx)
{
    struct each e = { cap, fn, ctx };
    int r;

    if (len > cap)
        return LSN_ERR_TOO_LARGE;
    r = lsn_wire_batch_each(LSN_WIRE_RESPONSES, buf, len, each_response, &e);
    return r == LSN_ERR_NOT_FOUND ? each_response(&e, buf, len) : r;
}

/* The answer to request id that an error answering several requests at
 * once stands for: the same code and sentence (cut as w->message would
 * cut it). */
static int
error_for(const Liaison__WireError *e, uint64_t id, Liaison__Response **out)
{
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError one = LIAISON__WIRE_ERROR__INIT;
    char msg[sizeof ((struct lsn_wire *)0)->message];
    uint8_t *buf = NULL;
    size_t len = 0;
    int r;

    snprintf(msg, sizeof msg, "%s", e->message != NULL ? e->message : "");
    one.code = e->code;
    one.message = msg;
    resp.id = id;
    resp.error = &one;
    if ((r = lsn_pb_encode(&resp.base, &buf, &len)) == 0)
        r = LSN_PB_DECODE(response, buf, len, LSN_PB_DEFAULT_HEAP_CAP, out);
    free(buf);
    return r;
}

/* Whether resp is an error answering several requests at once. */
static int
is_several(const Liaison__Response *resp)
{
    return resp->error != NULL && resp->error->n_also > 0;
}

/* Keeps a Response for lsn_wire_recv / lsn_wire_call.  Only ids this
 * connection issued count: one answering a request id never sent is
 * dropped, and so are such ids in also (a relay cannot fill the FIFO
 * with answers nobody asked for). */
static int
hold(void *ctx, Liaison__Response *resp)
{
    struct lsn_wire *w = ctx;
    Liaison__WireError *e = resp->error;
    struct held *h;
    size_t pending = resp->id < w->next_id;

    if (e != NULL && e->n_also > LSN_WIRE_BATCH_ITEMS - 1)
        e->n_also = LSN_WIRE_BATCH_ITEMS - 1;       /* what a relay may send */
    for (size_t i = 0; e != NULL && i < e->n_also; i++) {
        if (e->also[i] >= w->next_id)
            e->also[i] = 0;
        pending += e->also[i] != 0;
    }
    if (pending == 0) {
        lsn_pb_free(&resp->base);
        return 0;
    }
    if ((h = malloc(sizeof *h)) == NULL) {
        lsn_pb_free(&resp->base);
        return LSN_ERR_NOMEM;
    }
    h->resp = resp;
    h->next = NULL;
    h->pending = pending;
    h->own = resp->id < w->next_id;
    if (w->tail != NULL)
        w->tail->next = h;
    else
        w->head = h;
    w->tail = h;
    return 0;
}

/* Hands out id (the first pending one if id is 0) from a held error that
 * answers several requests: 1 with *got set, or 0 if it holds no such id. */
static int
held_take_id(struct held *h, uint64_t id, uint64_t *got)
{
    Liaison__WireError *e = h->resp->error;

    if (h->own && (id == 0 || h->resp->id == id)) {
        h->own = 0;
        *got = h->resp->id;
        h->pending--;
        return 1;
    }
    for (size_t i = 0; i < e->n_also; i++)
        if (e->also[i] != 0 && (id == 0 || e->also[i] == id)) {
            *got = e->also[i];
            e->also[i] = 0;
            h->pending--;
            return 1;
        }
    return 0;
}

/* Takes the held Response with request id `id` (any, if id is 0) out of
 * the FIFO: NULL if none is held (or no memory for the answer an error
 * of several stands for). */
static Liaison__Response *
take(struct lsn_wire *w, uint64_t id)
{
    struct held **pp = &w->head, *h, *prev = NULL;
    Liaison__Response *resp = NULL;
    uint64_t got = 0;

    for (; (h = *pp) != NULL; prev = h, pp = &h->next)
        if (is_several(h->resp) ? held_take_id(h, id, &got)
                                : id == 0 || h->resp->id == id)
            break;
    if (h == NULL)
        return NULL;
    if (is_several(h->resp)) {
        if (error_for(h->resp->error, got, &resp) != 0)
            resp = NULL;
        if (h->pending > 0)
            return resp;
        lsn_pb_free(&h->resp->base);
    } else {
        resp = h->resp;
    }
    *pp = h->next;
    if (w->tail == h)
        w->tail = prev;
    free(h);
    return resp;
}

/* Receives one frame from the socket and holds every Response it carries. */
static int
recv_frame(struct lsn_wire *w, int timeout_ms)
{
    zmq_pollitem_t it = { w->sock, 0, ZMQ_POLLIN, 0 };
    zmq_msg_t m;
    int n, r;

    /* Nothing queued may wait for an answer it will never get. */
    if ((r = lsn_wire_flush(w)) != 0)
        return r;
    do {
        if (stopped())
            return LSN_ERR_INTERRUPTED;
        n = zmq_poll(&it, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return LSN_ERR_IO;
    if (n == 0)
        return LSN_ERR_TIMEOUT;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, w->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return errno == EAGAIN ? LSN_ERR_TIMEOUT : LSN_ERR_IO;
    }
    r = zmq_msg_more(&m) ? LSN_ERR_PROTOCOL
        : lsn_wire_frame_each(zmq_msg_data(&m), zmq_msg_size(&m),
                              LSN_WIRE_FRAME_MAX, hold, w);
    if (zmq_msg_more(&m)) {  /* drain a multi-frame message: not ours */
        zmq_msg_t x;
        zmq_msg_init(&x);
        while (zmq_msg_recv(&x, w->sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&x))
            ;
        zmq_msg_close(&x);
    }
    zmq_msg_close(&m);
    if (r == LSN_ERR_NOMEM)
        return r;
    return r == 0 ? 0 : LSN_ERR_PROTOCOL;
}

int
lsn_wire_recv(struct lsn_wire *w, int timeout_ms, Liaison__Response **out)
{
    int r;

    if ((*out = take(w, 0)) != NULL)
        return 0;
    /* A batch that breaks part way fails this call (PROTOCOL); the
     * Responses before the break are held for the next calls. */
    if ((r = recv_frame(w, timeout_ms)) != 0)
        return r;
    *out = take(w, 0);
    return 0;
}

int
lsn_wire_check(struct lsn_wire *w, const Liaison__Response *resp)
{
    int code;

    w->message[0] = '\0';
    if (resp->error == NULL)
        return 0;
    code = resp->error->code;
    /* A peer's code is only trusted if it is one of ours, and one a
     * peer can mean (an interruption is this process's own). */
    if (code >= 0 || code < -1000 || code == LSN_ERR_INTERRUPTED ||
        strcmp(lsn_strerror(code), "unknown error") == 0)
        code = LSN_ERR_PROTOCOL;
    snprintf(w->message, sizeof w->message, "%s",
             resp->error->message != NULL ? resp->error->message : "");
    return code;
}

int
lsn_wire_call(struct lsn_wire *w, Liaison__Request *req, int timeout_ms,
              Liaison__Response **out)
{
    Liaison__Response *resp = NULL;
    int r;

    *out = NULL;
    req->id = lsn_wire_next_id(w);
    if ((r = lsn_wire_send(w, req)) != 0)
        return r;
    while ((resp = take(w, req->id)) == NULL) {
        /* A frame that broke after holding the answer still gave it. */
        if (r != 0)
            return r;
        /* Waits in slices so the overall timeout holds even while other
         * responses keep arriving. */
        void *watch = zmq_stopwatch_start();
        r = recv_frame(w, timeout_ms);
        unsigned long spent = zmq_stopwatch_stop(watch) / 1000;
        if (r == 0 && timeout_ms >= 0) {
            if ((unsigned long)timeout_ms <= spent)
                return LSN_ERR_TIMEOUT;
            timeout_ms -= (int)spent;
        }
    }
    if ((r = lsn_wire_check(w, resp)) != 0) {
        lsn_pb_free(&resp->base);
        return r;
    }
    *out = resp;
    return 0;
}

const char *
lsn_wire_message(const struct lsn_wire *w)
{
    return w->message;
}

void *
lsn_wire_socket(struct lsn_wire *w)
{
    return w->sock;
}
