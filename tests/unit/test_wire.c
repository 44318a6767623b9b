/* test_wire.c: batched responses (proto/wire.h): the relay sends every
 * answer a connection has ready after a commit in one frame, and a client
 * takes each of them out, strictly decoded, in order, or refuses the
 * frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/err.h"
#include "proto/pb.h"
#include "proto/wire.h"

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
    assert_int_equal(lsn_wire_batch(parts, 3, &frame, &frame_len), 0);
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
    assert_int_equal(lsn_wire_batch(parts, 2, &inner, &innerl), 0);
    parts[1] = (struct lsn_wire_part){ inner, innerl };
    assert_int_equal(lsn_wire_batch(parts, 2, &outer, &outerl), 0);
    assert_int_equal(lsn_wire_frame_each(outer, outerl, LSN_WIRE_FRAME_MAX, take, &g),
                     LSN_ERR_MALFORMED);
    assert_int_equal(g.n, 1);
    got_free(&g);

    /* More Responses than a batch may hold: refused before any is
     * decoded (each "0a 00" is one empty Response). */
    {
        size_t items = LSN_WIRE_BATCH_ITEMS + 1, inner_len = 2 * items;
        uint8_t *f = malloc(4 + inner_len);
        assert_non_null(f);
        f[0] = 0x82;
        f[1] = 0x01;
        f[2] = (uint8_t)(0x80 | (inner_len & 0x7f));
        f[3] = (uint8_t)(inner_len >> 7);
        for (size_t i = 0; i < items; i++) {
            f[4 + 2 * i] = 0x0a;
            f[5 + 2 * i] = 0x00;
        }
        assert_int_equal(lsn_wire_frame_each(f, 4 + inner_len, LSN_WIRE_FRAME_MAX,
                                             take, &g), LSN_ERR_TOO_LARGE);
        assert_int_equal(g.n, 0);
        /* One fewer is a batch like any other. */
        f[2] = (uint8_t)(0x80 | ((inner_len - 2) & 0x7f));
        f[3] = (uint8_t)((inner_len - 2) >> 7);
        {
            size_t got = 0;
            assert_int_equal(lsn_wire_frame_each(f, 4 + inner_len - 2, LSN_WIRE_FRAME_MAX,
                                                 count_and_free, &got), 0);
            assert_int_equal(got, LSN_WIRE_BATCH_ITEMS);
        }
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
    assert_int_equal(lsn_wire_batch(parts, 2, &frame, &frame_len), 0);
    assert_int_equal(lsn_wire_frame_each(frame, frame_len, LSN_WIRE_FRAME_MAX,
                                         stop_after_one, &n), LSN_ERR_NOMEM);
    assert_int_equal(n, 1);
    free(frame);
    free(a);
    free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_batch_round_trip),
        cmocka_unit_test(test_wire_bad_batches_refused),
        cmocka_unit_test(test_wire_callback_stops_the_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
