/* fuzz_pb.c: the strict bounded protobuf decoder (proto/pb.c) over every
 * wire and file type that arrives from outside.
 *
 * Input: one selector byte, then the bytes to decode.  The selector's low
 * bits pick the message type; its top bit picks a tight heap cap (input
 * length + 256), so the allocator budget's refusal path is fuzzed too.
 * Invariants: a success re-encodes to exactly the input (the decoder's
 * one-meaning promise), a failure leaves *out NULL with one of the
 * documented errors.  And on every input, the zero-copy view
 * (lsn_pb_scan) of the messages the hot paths read with it (the
 * envelope's outer layer and its header in proto/envelope.c, a Request
 * holding a SubmitRequest in relay/request.c) accepts exactly what the
 * strict decode accepts, with the same values. */
#include <string.h>

#include "proto/err.h"
#include "proto/pb.h"
#include "tests/fuzz/fuzzfix.h"

static const ProtobufCMessageDescriptor *const types[] = {
    &liaison__signed_object__descriptor,
    &liaison__roster__descriptor,
    &liaison__bundle__descriptor,
    &liaison__key_delivery__descriptor,
    &liaison__credential__descriptor,
    &liaison__enc_keyring__descriptor,
    &liaison__envelope__descriptor,
    &liaison__envelope_header__descriptor,
    &liaison__alert__descriptor,
    &liaison__request__descriptor,
    &liaison__response__descriptor,
    &liaison__stored_feedback__descriptor,   /* client local store records */
    &liaison__stored_link__descriptor,
    &liaison__stored_received__descriptor,
};
#define N_TYPES (sizeof types / sizeof types[0])

static int
same_bytes(const struct lsn_pb_value *v, const ProtobufCBinaryData *b)
{
    return v->len == b->len && (b->len == 0 || memcmp(v->data, b->data, b->len) == 0);
}

static void
check_scan_envelope(const uint8_t *p, size_t n)
{
    static const struct lsn_pb_field spec[] = {
        { 1, LSN_PB_BYTES }, { 2, LSN_PB_BYTES }, { 3, LSN_PB_BYTES },
    };
    struct lsn_pb_value v[3];
    Liaison__Envelope *m = NULL;
    int d = LSN_PB_DECODE(envelope, p, n, n + 4096, &m);
    int sc = lsn_pb_scan(p, n, spec, 3, v);

    FF_CHECK((d == 0) == (sc == 0));
    FF_CHECK(sc == 0 || sc == LSN_ERR_MALFORMED);
    if (d == 0)
        FF_CHECK(same_bytes(&v[0], &m->header) && same_bytes(&v[1], &m->ciphertext) &&
                 same_bytes(&v[2], &m->sig));
    lsn_pb_free(m ? &m->base : NULL);
}

static void
check_scan_submit(const uint8_t *p, size_t n)
{
    static const struct lsn_pb_field rspec[] = {
        { 1, LSN_PB_VARINT }, { 3, LSN_PB_MESSAGE },
    };
    static const struct lsn_pb_field sspec[] = { { 1, LSN_PB_BYTES } };
    struct lsn_pb_value rv[2], sv[1];
    Liaison__Request *m = NULL;
    int d = LSN_PB_DECODE(request, p, n, LSN_PB_DEFAULT_HEAP_CAP, &m);
    int sc = lsn_pb_scan(p, n, rspec, 2, rv) == 0 && rv[1].present &&
             lsn_pb_scan(rv[1].data, rv[1].len, sspec, 1, sv) == 0 ? 0 : -1;
    int is_submit = d == 0 && m->body_case == LIAISON__REQUEST__BODY_SUBMIT;

    FF_CHECK((sc == 0) == is_submit);
    if (is_submit)
        FF_CHECK(rv[0].u == m->id && same_bytes(&sv[0], &m->submit->envelope));
    lsn_pb_free(m ? &m->base : NULL);
}

static int
same_text(const struct lsn_pb_value *v, const char *t)
{
    return v->len == strlen(t) && (v->len == 0 || memcmp(v->data, t, v->len) == 0);
}

/* The header as proto/envelope.c views it: every field, the recipients
 * one by one. */
static void
check_scan_header(const uint8_t *p, size_t n)
{
    static const struct lsn_pb_field spec[] = {
        { 1, LSN_PB_VARINT32 }, { 2, LSN_PB_BYTES }, { 3, LSN_PB_STRING },
        { 4, LSN_PB_STRING }, { 5, LSN_PB_VARINT }, { 6, LSN_PB_VARINT },
        { 7, LSN_PB_VARINT }, { 8, LSN_PB_REPEATED }, { 9, LSN_PB_BYTES },
        { 10, LSN_PB_BYTES }, { 11, LSN_PB_BYTES },
    };
    static const struct lsn_pb_field rspec[] = {
        { 1, LSN_PB_STRING }, { 2, LSN_PB_VARINT32 }, { 3, LSN_PB_BYTES },
    };
    struct lsn_pb_value v[11], rv[3];
    Liaison__EnvelopeHeader *m = NULL;
    const uint8_t *it, *elem;
    size_t elen;
    int d = LSN_PB_DECODE(envelope_header, p, n, LSN_PB_DEFAULT_HEAP_CAP, &m);
    int sc = lsn_pb_scan(p, n, spec, 11, v);

    it = v[7].data;
    for (size_t i = 0; sc == 0 && i < v[7].count; i++) {
        lsn_pb_next(&it, &elem, &elen);
        sc = lsn_pb_scan(elem, elen, rspec, 3, rv);
        if (sc == 0 && d == 0) {
            FF_CHECK(i < m->n_recipients);
            FF_CHECK(same_text(&rv[0], m->recipients[i]->org));
            FF_CHECK(rv[1].u == m->recipients[i]->key_id);
            FF_CHECK(same_bytes(&rv[2], &m->recipients[i]->wrap));
        }
    }
    FF_CHECK(sc != 0 || v[7].count == 0 || it == v[7].data + v[7].len);
    FF_CHECK((d == 0) == (sc == 0));
    if (d == 0) {
        FF_CHECK(v[0].u == m->suite && same_bytes(&v[1], &m->msg_id));
        FF_CHECK(same_text(&v[2], m->sender_org) && same_text(&v[3], m->sender_device));
        FF_CHECK(v[4].u == m->sender_bundle_version);
        FF_CHECK((int64_t)v[5].u == m->created && (int64_t)v[6].u == m->expires);
        FF_CHECK(v[7].count == m->n_recipients);
        FF_CHECK(same_bytes(&v[8], &m->ephemeral_key) && same_bytes(&v[9], &m->nonce) &&
                 same_bytes(&v[10], &m->commit));
    }
    lsn_pb_free(m ? &m->base : NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage *msg = NULL;
    uint8_t *again = NULL;
    size_t cap, n = 0;
    int r;

    if (size < 1)
        return 0;
    check_scan_envelope(data + 1, size - 1);
    check_scan_submit(data + 1, size - 1);
    check_scan_header(data + 1, size - 1);
    desc = types[(data[0] & 0x7f) % N_TYPES];
    cap = (data[0] & 0x80) ? size - 1 + 256 : LSN_PB_DEFAULT_HEAP_CAP;
    r = lsn_pb_decode(desc, data + 1, size - 1, cap, &msg);
    if (r != 0) {
        FF_CHECK(msg == NULL);
        FF_CHECK(r == LSN_ERR_MALFORMED || r == LSN_ERR_TOO_LARGE ||
                 r == LSN_ERR_NOMEM);
        return 0;
    }
    FF_CHECK(msg != NULL && msg->descriptor == desc);
    FF_CHECK(lsn_pb_encode(msg, &again, &n) == 0);
    FF_CHECK(n == size - 1);
    FF_CHECK(n == 0 || memcmp(again, data + 1, n) == 0);
    free(again);
    lsn_pb_free(msg);
    return 0;
}
