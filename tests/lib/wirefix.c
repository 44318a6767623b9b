/* wirefix.c: see wirefix.h.  The frames come from the project's own batch
 * encoder (lsn_wire_batch), which keeps no limits: the receivers' limits
 * are what the tests exercise. */
#include <stdlib.h>

#include "proto/err.h"
#include "tests/lib/wirefix.h"

uint8_t *
wf_batch_of_empties(enum lsn_wire_kind kind, size_t items, size_t *len)
{
    static const uint8_t none[1];
    struct lsn_wire_part *parts = calloc(items, sizeof *parts);
    uint8_t *frame = NULL;

    if (parts == NULL)
        return NULL;
    for (size_t i = 0; i < items; i++)
        parts[i] = (struct lsn_wire_part){ none, 0 };
    if (lsn_wire_batch(kind, parts, items, &frame, len) != 0)
        frame = NULL;
    free(parts);
    return frame;
}

uint8_t *
wf_batch_nested(enum lsn_wire_kind kind, size_t depth, size_t *len)
{
    static const uint8_t none[1];
    struct lsn_wire_part inner = { none, 0 };
    uint8_t *frame = NULL, *next;

    *len = 0;
    for (size_t d = 0; d < depth; d++) {
        if (lsn_wire_batch(kind, &inner, 1, &next, len) != 0) {
            free(frame);
            return NULL;
        }
        free(frame);
        frame = next;
        inner = (struct lsn_wire_part){ frame, *len };
    }
    return frame;
}

int
wf_ping_queue(struct lsn_wire *w, uint64_t id, size_t data_len)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__PingRequest p = LIAISON__PING_REQUEST__INIT;
    uint8_t *data = calloc(1, data_len + 1);
    int r;

    if (data == NULL)
        return LSN_ERR_NOMEM;
    p.data = (ProtobufCBinaryData){ data_len, data };
    req.id = id;
    req.body_case = LIAISON__REQUEST__BODY_PING;
    req.ping = &p;
    r = lsn_wire_queue(w, &req);
    free(data);
    return r;
}
