/* peerfix.c: a hostile peer relay (peerfix.h). */
#include "tests/lib/peerfix.h"

#include "proto/err.h"

int
pf_connect(struct rf *f, size_t as, size_t to, struct lsn_wire **out)
{
    int r;

    *out = NULL;
    if (as >= f->n_relays || to >= f->n_relays)
        return LSN_ERR_INVALID;
    if ((r = lsn_wire_connect(f->relays[to].endpoint, f->relays[to].pk,
                              f->relays[as].pk, f->relays[as].sk, out)) != 0)
        return r;
    if ((r = lsn_wire_handshake(*out, 10000)) != 0)
        lsn_wire_close(out);
    return r;
}

/* One request, its answer freed: the answer's code. */
static int
call(struct lsn_wire *w, Liaison__Request *req)
{
    Liaison__Response *resp = NULL;
    int r = lsn_wire_call(w, req, 10000, &resp);

    if (resp != NULL)
        lsn_pb_free(&resp->base);
    return r;
}

int
pf_forward(struct lsn_wire *w, const uint8_t *env, size_t len)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__ForwardRequest fw = LIAISON__FORWARD_REQUEST__INIT;

    fw.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
    req.body_case = LIAISON__REQUEST__BODY_FORWARD;
    req.forward = &fw;
    return call(w, &req);
}

int
pf_dir_sync(struct lsn_wire *w, Liaison__DirKind kind, const uint8_t *obj, size_t len)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__DirPutRequest ds = LIAISON__DIR_PUT_REQUEST__INIT;

    ds.kind = kind;
    ds.object = (ProtobufCBinaryData){ len, (uint8_t *)obj };
    req.body_case = LIAISON__REQUEST__BODY_DIR_SYNC;
    req.dir_sync = &ds;
    return call(w, &req);
}
