/* fuzz_pb.c: the strict bounded protobuf decoder (proto/pb.c) over every
 * wire and file type that arrives from outside.
 *
 * Input: one selector byte, then the bytes to decode.  The selector's low
 * bits pick the message type; its top bit picks a tight heap cap (input
 * length + 256), so the allocator budget's refusal path is fuzzed too.
 * Invariants: a success re-encodes to exactly the input (the decoder's
 * one-meaning promise), a failure leaves *out NULL with one of the
 * documented errors. */
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
};
#define N_TYPES (sizeof types / sizeof types[0])

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ff_world();
    return 0;
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
