/* test_wire.c: batches (proto/wire.h): the relay sends every answer a
 * connection has ready after a commit in one frame, and a client takes
 * each of them out, strictly decoded, in order, or refuses the frame; a
 * client sends the requests it queues in batch frames, in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "proto/err.h"
#include "proto/pb.h"
#include "proto/wire.h"
#include "tests/lib/wirefix.h"

#define MAX_GOT 8

struct got {
    Liaison__Response *resp[MAX_GOT];
    size_t n;
};

static int
take(void *ctx, Liaison__Response *resp)
{
    struct got *g = ctx;

    assert_true(g->n < MAX_GOT);
    g->resp[g->n++] = resp;
    return 0;
}

static void
got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        lsn_pb_free(&g->resp[i]->base);
    g->n = 0;
}

/* The encoding of a ping answer with request id `id`. */
static void
ping_answer(uint64_t id, const char *data, uint8_t **buf, size_t *len)
{
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__PingReply p = LIAISON__PING_REPLY__INIT;

    p.data = (ProtobufCBinaryData){ strlen(data), (uint8_t *)data };
    p.server_time = 1700000000;
    resp.id = id;
    resp.body_case = LIAISON__RESPONSE__BODY_PING;
    resp.ping = &p;
    assert_int_equal(lsn_pb_encode(&resp.base, buf, len), 0);
}

static void
test_wire_batch_round_trip(void **state)
{
    /* The middle one is large: its length takes a two-byte varint. */
    static const char *const data[3] = { "a", NULL, "ccc" };
    char big[300];
    uint8_t *one[3], *frame;
    size_t one_len[3], frame_len;
    struct lsn_wire_part parts[3];
    struct got g = { .n = 0 };

    (void)state;
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t i = 0; i < 3; i++) {
        ping_answer(10 + i, data[i] != NULL ? data[i] : big, &one[i], &one_len[i]);
        parts[i] = (struct lsn_wire_part){ one[i], one_len[i] };
    }
    assert_int_equal(lsn_wire_batch(LSN_WIRE_RESPONSES, parts, 3, &frame, &frame_len), 0);
    assert_int_equal(lsn_wire_frame_each(frame, frame_len, LSN_WIRE_FRAME_MAX, take, &g), 0);
    assert_int_equal(g.n, 3);
    for (size_t i = 0; i < 3; i++) {
        uint8_t *again;
        size_t again_len;
        assert_int_equal(g.resp[i]->id, 10 + i);
        assert_int_equal(g.resp[i]->body_case, LIAISON__RESPONSE__BODY_PING);
        /* Each is exactly the Response that went in. */
        assert_int_equal(lsn_pb_encode(&g.resp[i]->base, &again, &again_len), 0);
        assert_int_equal(again_len, one_len[i]);
        assert_memory_equal(again, one[i], again_len);
        free(again);
    }
    got_free(&g);
    /* The batch is itself a canonical Response: the strict decoder takes it. */
    Liaison__Response *whole = NULL;
    assert_int_equal(LSN_PB_DECODE(response, frame, frame_len, LSN_WIRE_FRAME_MAX, &whole), 0);
    assert_int_equal(whole->body_case, LIAISON__RESPONSE__BODY_BATCH);
    assert_int_equal(whole->batch->n_responses, 3);
    lsn_pb_free(&whole->base);
    /* A frame that is one Response is handed over as it is. */
    assert_int_equal(lsn_wire_frame_each(one[1], one_len[1], LSN_WIRE_FRAME_MAX, take, &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.resp[0]->id, 11);
    got_free(&g);
    /* And above the cap, nothing is decoded. */
    assert_int_equal(lsn_wire_frame_each(frame, frame_len, frame_len - 1, take, &g),
                     LSN_ERR_TOO_LARGE);
    assert_int_equal(g.n, 0);
    free(frame);
    for (size_t i = 0; i < 3; i++)
        free(one[i]);
}

static int
count_and_free(void *ctx, Liaison__Response *resp)
{
    (*(size_t *)ctx)++;
    lsn_pb_free(&resp->base);
    return 0;
}

static void
test_wire_bad_batches_refused(void **state)
{
    uint8_t *a, *b, *inner, *outer;
    size_t al, bl, innerl, outerl;
    struct lsn_wire_part parts[2];
    struct got g = { .n = 0 };
    /* Response{batch: ResponseBatch{}}: a batch with nothing in it. */
    static const uint8_t empty[] = { 0x82, 0x01, 0x00 };
    /* Response{batch{responses: [Response{id: 5}, <one byte that is not a
     * Response>]}}: the first is handed over, then the frame is refused. */
    static const uint8_t bad_second[] = { 0x82, 0x01, 0x07, 0x0a, 0x02, 0x08, 0x05,
                                          0x0a, 0x01, 0xff };

    (void)state;
    assert_int_equal(lsn_wire_frame_each(empty, sizeof empty, LSN_WIRE_FRAME_MAX, take, &g),
                     LSN_ERR_MALFORMED);
    assert_int_equal(g.n, 0);
    assert_int_equal(lsn_wire_frame_each(bad_second, sizeof bad_second, LSN_WIRE_FRAME_MAX,
                                         take, &g), LSN_ERR_MALFORMED);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.resp[0]->id, 5);
    got_free(&g);

    /* A batch inside a batch. */
    ping_answer(1, "x", &a, &al);
    ping_answer(2, "y", &b, &bl);
    parts[0] = (struct lsn_wire_part){ a, al };
    parts[1] = (struct lsn_wire_part){ b, bl };
    assert_int_equal(lsn_wire_batch(LSN_WIRE_RESPONSES, parts, 2, &inner, &innerl), 0);
    parts[1] = (struct lsn_wire_part){ inner, innerl };
    assert_int_equal(lsn_wire_batch(LSN_WIRE_RESPONSES, parts, 2, &outer, &outerl), 0);
    assert_int_equal(lsn_wire_frame_each(outer, outerl, LSN_WIRE_FRAME_MAX, take, &g),
                     LSN_ERR_MALFORMED);
    assert_int_equal(g.n, 1);
    got_free(&g);

    /* More Responses than a batch may hold: refused before any is
     * decoded. */
    {
        size_t fl, got = 0;
        uint8_t *f = wf_batch_of_empties(LSN_WIRE_RESPONSES, LSN_WIRE_BATCH_ITEMS + 1, &fl);
        assert_non_null(f);
        assert_int_equal(lsn_wire_frame_each(f, fl, LSN_WIRE_FRAME_MAX, take, &g),
                         LSN_ERR_TOO_LARGE);
        assert_int_equal(g.n, 0);
        free(f);
        /* One fewer is a batch like any other. */
        assert_non_null(f = wf_batch_of_empties(LSN_WIRE_RESPONSES, LSN_WIRE_BATCH_ITEMS, &fl));
        assert_int_equal(lsn_wire_frame_each(f, fl, LSN_WIRE_FRAME_MAX, count_and_free, &got),
                         0);
        assert_int_equal(got, LSN_WIRE_BATCH_ITEMS);
        free(f);
    }

    /* Every truncation of a good batch is refused, never read past. */
    for (size_t cut = 1; cut < innerl; cut++) {
        uint8_t *t = malloc(cut);
        assert_non_null(t);
        memcpy(t, inner, cut);
        assert_int_not_equal(lsn_wire_frame_each(t, cut, LSN_WIRE_FRAME_MAX, take, &g), 0);
        got_free(&g);
        free(t);
    }
    free(outer);
    free(inner);
    free(a);
    free(b);
}

/* A stop asked for by the callback ends the walk with its code. */
static int
stop_after_one(void *ctx, Liaison__Response *resp)
{
    size_t *n = ctx;

    lsn_pb_free(&resp->base);
    return ++*n == 1 ? LSN_ERR_NOMEM : 0;
}

static void
test_wire_callback_stops_the_walk(void **state)
{
    uint8_t *a, *b, *frame;
    size_t al, bl, frame_len, n = 0;
    struct lsn_wire_part parts[2];

    (void)state;
    ping_answer(1, "x", &a, &al);
    ping_answer(2, "y", &b, &bl);
    parts[0] = (struct lsn_wire_part){ a, al };
    parts[1] = (struct lsn_wire_part){ b, bl };
    assert_int_equal(lsn_wire_batch(LSN_WIRE_RESPONSES, parts, 2, &frame, &frame_len), 0);
    assert_int_equal(lsn_wire_frame_each(frame, frame_len, LSN_WIRE_FRAME_MAX,
                                         stop_after_one, &n), LSN_ERR_NOMEM);
    assert_int_equal(n, 1);
    free(frame);
    free(a);
    free(b);
}

/* A CURVE ROUTER on 127.0.0.1 standing in for a relay: what a client's
 * queued requests look like on the wire. */
struct fake_relay {
    void *ctx, *sock;
    uint8_t pk[32];
    char endpoint[64];
};

static void
fake_relay_up(struct fake_relay *f)
{
    uint8_t sk[32];
    size_t n = sizeof f->endpoint;
    int one = 1;

    crypto_box_keypair(f->pk, sk);
    assert_non_null(f->ctx = zmq_ctx_new());
    assert_non_null(f->sock = zmq_socket(f->ctx, ZMQ_ROUTER));
    assert_int_equal(zmq_setsockopt(f->sock, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(f->sock, ZMQ_CURVE_SECRETKEY, sk, 32), 0);
    sodium_memzero(sk, sizeof sk);
    assert_int_equal(zmq_bind(f->sock, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, f->endpoint, &n), 0);
}

static void
fake_relay_down(struct fake_relay *f)
{
    int zero = 0;

    zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(f->sock);
    zmq_ctx_term(f->ctx);
}

/* What arrived: request ids in order, frames, and the size of the
 * largest request that came alone. */
struct arrived {
    uint64_t ids[512];
    size_t n, frames, alone_max;
};

static int
arrived_take(void *ctx, const uint8_t *buf, size_t len)
{
    struct arrived *a = ctx;
    Liaison__Request *req = NULL;

    assert_int_equal(LSN_PB_DECODE(request, buf, len, LSN_WIRE_FRAME_MAX, &req), 0);
    assert_int_not_equal(req->body_case, LIAISON__REQUEST__BODY_BATCH);
    assert_true(a->n < 512);
    a->ids[a->n++] = req->id;
    lsn_pb_free(&req->base);
    return 0;
}

/* Receives one [routing id, body] message within 5 s. */
static void
arrived_frame(struct fake_relay *f, struct arrived *a)
{
    zmq_pollitem_t it = { f->sock, 0, ZMQ_POLLIN, 0 };
    zmq_msg_t rid, body;
    int r;

    assert_int_equal(zmq_poll(&it, 1, 5000), 1);
    zmq_msg_init(&rid);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&rid, f->sock, 0) >= 0);
    assert_true(zmq_msg_recv(&body, f->sock, 0) >= 0);
    size_t before = a->n;
    r = lsn_wire_batch_each(LSN_WIRE_REQUESTS, zmq_msg_data(&body), zmq_msg_size(&body),
                            arrived_take, a);
    if (r == LSN_ERR_NOT_FOUND) {
        arrived_take(a, zmq_msg_data(&body), zmq_msg_size(&body));
        if (zmq_msg_size(&body) > a->alone_max)
            a->alone_max = zmq_msg_size(&body);
    } else {
        assert_int_equal(r, 0);
        /* Within the limits every relay holds a batch to. */
        assert_true(zmq_msg_size(&body) <= LSN_WIRE_BATCH_MAX + 4 * (a->n - before) + 4);
    }
    a->frames++;
    zmq_msg_close(&rid);
    zmq_msg_close(&body);
}

/* Queued requests leave in batch frames of at most 64 KiB, in the order
 * queued; one too large for a batch goes alone in its place; a wait for
 * an answer sends what is queued. */
static void
test_wire_queued_requests_travel_in_batches(void **state)
{
    struct fake_relay f;
    struct lsn_wire *w = NULL;
    struct arrived a = { .n = 0 };
    Liaison__Response *resp = NULL;
    uint8_t cpk[32], csk[32];
    uint64_t id = 1;

    (void)state;
    fake_relay_up(&f);
    crypto_box_keypair(cpk, csk);
    assert_int_equal(lsn_wire_connect(f.endpoint, f.pk, cpk, csk, &w), 0);
    /* 300 requests of about 310 bytes: more than one batch holds. */
    for (; id <= 300; id++)
        assert_int_equal(wf_ping_queue(w, id, 300), 0);
    assert_int_equal(wf_ping_queue(w, id++, LSN_WIRE_BATCH_MAX), 0);       /* alone */
    for (int i = 0; i < 5; i++)
        assert_int_equal(wf_ping_queue(w, id++, 10), 0);
    /* Nothing of the last five left yet: the wait sends them. */
    assert_int_equal(lsn_wire_recv(w, 0, &resp), LSN_ERR_TIMEOUT);
    while (a.n < id - 1)
        arrived_frame(&f, &a);
    for (size_t i = 0; i < a.n; i++)
        assert_int_equal(a.ids[i], i + 1);
    /* Two batches for the 300, the large one, one batch for the five. */
    assert_int_equal(a.frames, 4);
    assert_true(a.alone_max > LSN_WIRE_BATCH_MAX);

    /* A lone queued request travels as itself, sent by lsn_wire_flush. */
    a.alone_max = 0;
    assert_int_equal(wf_ping_queue(w, id, 1), 0);
    assert_int_equal(lsn_wire_flush(w), 0);
    arrived_frame(&f, &a);
    assert_int_equal(a.ids[a.n - 1], id);
    assert_true(a.alone_max > 0);
    lsn_wire_close(&w);
    fake_relay_down(&f);
    sodium_memzero(csk, sizeof csk);
}

/* An error that answers several requests at once (WireError.also) is
 * handed out once per id the client issued, in order, with its sentence
 * cut to what a client keeps; ids never issued and 0 are dropped; and the
 * client holds the one answer, not a copy per id (a 94 KB frame listing
 * one id 4 095 times with a 64 KiB sentence once cost 270 MB). */
static void
test_wire_one_error_for_several_requests(void **state)
{
    struct fake_relay f;
    struct lsn_wire *w = NULL;
    Liaison__Response resp = LIAISON__RESPONSE__INIT, *got = NULL;
    Liaison__WireError e = LIAISON__WIRE_ERROR__INIT;
    uint8_t cpk[32], csk[32], *buf = NULL;
    uint64_t ids[3], also[LSN_WIRE_BATCH_ITEMS + 10];
    size_t len = 0, n_also = 0;
    char *msg = malloc(65537);
    zmq_msg_t rid, body;

    (void)state;
    assert_non_null(msg);
    memset(msg, 'x', 65536);
    msg[65536] = '\0';
    fake_relay_up(&f);
    crypto_box_keypair(cpk, csk);
    assert_int_equal(lsn_wire_connect(f.endpoint, f.pk, cpk, csk, &w), 0);
    for (int i = 0; i < 3; i++) {
        ids[i] = lsn_wire_next_id(w);
        assert_int_equal(wf_ping_queue(w, ids[i], 1), 0);
    }
    assert_int_equal(lsn_wire_flush(w), 0);
    zmq_msg_init(&rid);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&rid, f.sock, 0) >= 0);
    assert_true(zmq_msg_recv(&body, f.sock, 0) >= 0);
    /* ids[1] twice, 0, one never issued, then ids[2] past the cap. */
    also[n_also++] = ids[1];
    also[n_also++] = ids[1];
    also[n_also++] = 0;
    also[n_also++] = ids[2] + 1000;
    for (; n_also < LSN_WIRE_BATCH_ITEMS + 5; n_also++)
        also[n_also] = n_also == LSN_WIRE_BATCH_ITEMS + 2 ? ids[2] : ids[0];
    e.code = LSN_ERR_RATE;
    e.message = msg;
    e.also = also;
    e.n_also = n_also;
    resp.id = ids[0];
    resp.error = &e;
    assert_int_equal(lsn_pb_encode(&resp.base, &buf, &len), 0);
    assert_true(zmq_send(f.sock, zmq_msg_data(&rid), zmq_msg_size(&rid), ZMQ_SNDMORE) >= 0);
    assert_int_equal(zmq_send(f.sock, buf, len, 0), (int)len);
    free(buf);
    zmq_msg_close(&rid);
    zmq_msg_close(&body);
    /* Taken by id, out of order, then the rest in order. */
    assert_int_equal(lsn_wire_recv(w, 5000, &got), 0);     /* reads the frame */
    assert_int_equal(got->id, ids[0]);
    assert_int_equal(lsn_wire_check(w, got), LSN_ERR_RATE);
    assert_true(strlen(got->error->message) < 512);
    lsn_pb_free(&got->base);
    assert_int_equal(lsn_wire_recv(w, 0, &got), 0);
    assert_int_equal(got->id, ids[1]);
    lsn_pb_free(&got->base);
    assert_int_equal(lsn_wire_recv(w, 0, &got), 0);
    assert_int_equal(got->id, ids[1]);                      /* listed twice */
    lsn_pb_free(&got->base);
    /* The cap: the 4 095 ids after the first; ids[2] came after it. */
    for (size_t i = 4; i < LSN_WIRE_BATCH_ITEMS - 1; i++) {
        assert_int_equal(lsn_wire_recv(w, 0, &got), 0);
        assert_int_equal(got->id, ids[0]);
        lsn_pb_free(&got->base);
    }
    assert_int_equal(lsn_wire_recv(w, 0, &got), LSN_ERR_TIMEOUT);
    lsn_wire_close(&w);
    fake_relay_down(&f);
    sodium_memzero(csk, sizeof csk);
    free(msg);
}

/* A request batch is read back as it was built; a single Request is not
 * a batch; an empty batch and one above the limits are refused. */
static int
count_request(void *ctx, const uint8_t *buf, size_t len)
{
    size_t *n = ctx;

    (void)buf;
    (void)len;
    ++*n;
    return 0;
}

static void
test_wire_request_batches_read_strictly(void **state)
{
    static const uint8_t one[] = { 0x08, 0x07 };              /* Request{id: 7} */
    static const uint8_t empty[] = { 0x72, 0x00 };            /* Request{batch{}} */
    struct lsn_wire_part parts[3] = {
        { one, sizeof one }, { one, sizeof one }, { one, sizeof one },
    };
    uint8_t *frame = NULL;
    size_t len = 0, n = 0;

    (void)state;
    assert_int_equal(lsn_wire_batch(LSN_WIRE_REQUESTS, parts, 3, &frame, &len), 0);
    assert_int_equal(frame[0], 0x72);
    assert_int_equal(lsn_wire_batch_each(LSN_WIRE_REQUESTS, frame, len, count_request, &n), 0);
    assert_int_equal(n, 3);
    /* The same bytes are not a batch of Responses. */
    assert_int_equal(lsn_wire_batch_each(LSN_WIRE_RESPONSES, frame, len, count_request, &n),
                     LSN_ERR_NOT_FOUND);
    free(frame);
    assert_int_equal(lsn_wire_batch_each(LSN_WIRE_REQUESTS, one, sizeof one, count_request,
                                         &n), LSN_ERR_NOT_FOUND);
    assert_int_equal(lsn_wire_batch_each(LSN_WIRE_REQUESTS, empty, sizeof empty,
                                         count_request, &n), LSN_ERR_MALFORMED);
    {
        size_t fl;
        uint8_t *f = wf_batch_of_empties(LSN_WIRE_REQUESTS, LSN_WIRE_BATCH_ITEMS + 1, &fl);
        assert_non_null(f);
        n = 0;
        assert_int_equal(lsn_wire_batch_each(LSN_WIRE_REQUESTS, f, fl, count_request, &n),
                         LSN_ERR_TOO_LARGE);
        assert_int_equal(n, 0);
        free(f);
    }
}

/* A batch nested 20 000 deep decodes one level and no more: its items are
 * bytes, so no decoder recurses into them (with "repeated Request" a
 * 34 KB frame overflowed protobuf-c's stack). */
static void
test_wire_deep_batches_do_not_recurse(void **state)
{
    Liaison__Request *req = NULL;
    Liaison__Response *resp = NULL;
    struct got g = { .n = 0 };
    uint8_t *f;
    size_t len;

    (void)state;
    assert_non_null(f = wf_batch_nested(LSN_WIRE_REQUESTS, 20000, &len));
    assert_int_equal(LSN_PB_DECODE(request, f, len, LSN_WIRE_FRAME_MAX, &req), 0);
    assert_int_equal(req->body_case, LIAISON__REQUEST__BODY_BATCH);
    assert_int_equal(req->batch->n_requests, 1);
    lsn_pb_free(&req->base);
    free(f);
    assert_non_null(f = wf_batch_nested(LSN_WIRE_RESPONSES, 20000, &len));
    assert_int_equal(LSN_PB_DECODE(response, f, len, LSN_WIRE_FRAME_MAX, &resp), 0);
    assert_int_equal(resp->batch->n_responses, 1);
    lsn_pb_free(&resp->base);
    /* A client refuses it: above a batch's bytes, or, smaller, a batch
     * in a batch. */
    assert_int_equal(lsn_wire_frame_each(f, len, LSN_WIRE_FRAME_MAX, take, &g),
                     LSN_ERR_TOO_LARGE);
    free(f);
    assert_non_null(f = wf_batch_nested(LSN_WIRE_RESPONSES, 1000, &len));
    assert_int_equal(lsn_wire_frame_each(f, len, LSN_WIRE_FRAME_MAX, take, &g),
                     LSN_ERR_MALFORMED);
    assert_int_equal(g.n, 0);
    free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_batch_round_trip),
        cmocka_unit_test(test_wire_bad_batches_refused),
        cmocka_unit_test(test_wire_callback_stops_the_walk),
        cmocka_unit_test(test_wire_queued_requests_travel_in_batches),
        cmocka_unit_test(test_wire_request_batches_read_strictly),
        cmocka_unit_test(test_wire_deep_batches_do_not_recurse),
        cmocka_unit_test(test_wire_one_error_for_several_requests),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
