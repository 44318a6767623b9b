/* relay_client.c: request helpers over proto/wire (relay_client.h).  Each
 * call builds one Request, waits for its Response and hands the typed
 * reply to the caller, who frees the whole Response through the reply
 * pointer's enclosing message (kept alive by detaching it). */
#include <stdlib.h>
#include <string.h>

#include "client/relay_client.h"
#include "proto/err.h"

struct lsn_relay_client {
    struct lsn_wire *w;
    int timeout_ms;              /* every request's wait (the profile's setting) */
};


int
lsn_relay_client_connect(const struct lsn_credential *cred, const char *endpoint,
                         const uint8_t server_pk[32], int timeout_ms,
                         struct lsn_relay_client **out)
{
    struct lsn_relay_client *c;
    int r;

    *out = NULL;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return LSN_ERR_NOMEM;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : LSN_WIRE_TIMEOUT_MS;
    if ((r = lsn_wire_connect(endpoint, server_pk, cred->keys->curve_pk,
                              cred->keys->curve_sk, &c->w)) != 0 ||
        (r = lsn_wire_handshake(c->w, timeout_ms)) != 0) {
        lsn_relay_client_close(&c);
        return r;
    }
    *out = c;
    return 0;
}

void
lsn_relay_client_close(struct lsn_relay_client **cp)
{
    if (*cp == NULL)
        return;
    lsn_wire_close(&(*cp)->w);
    free(*cp);
    *cp = NULL;
}

const char *
lsn_relay_client_message(const struct lsn_relay_client *c)
{
    return lsn_wire_message(c->w);
}

struct lsn_wire *
lsn_relay_client_wire(struct lsn_relay_client *c)
{
    return c->w;
}

/* Calls and detaches the body of the given case from the Response, so the
 * caller owns a standalone reply message. */
static int
call(struct lsn_relay_client *c, Liaison__Request *req,
     Liaison__Response__BodyCase want, ProtobufCMessage **out)
{
    Liaison__Response *resp = NULL;
    ProtobufCMessage *m = NULL;
    int r;

    if (out != NULL)
        *out = NULL;
    if ((r = lsn_wire_call(c->w, req, c->timeout_ms, &resp)) != 0)
        return r;
    if (resp->body_case != want) {
        lsn_pb_free(&resp->base);
        return LSN_ERR_PROTOCOL;
    }
    switch (want) {
    case LIAISON__RESPONSE__BODY_HELLO: m = &resp->hello->base; resp->hello = NULL; break;
    case LIAISON__RESPONSE__BODY_SUBSCRIBE: m = &resp->subscribe->base; resp->subscribe = NULL; break;
    case LIAISON__RESPONSE__BODY_FETCH: m = &resp->fetch->base; resp->fetch = NULL; break;
    case LIAISON__RESPONSE__BODY_ACK: m = &resp->ack->base; resp->ack = NULL; break;
    case LIAISON__RESPONSE__BODY_DIR_GET: m = &resp->dir_get->base; resp->dir_get = NULL; break;
    case LIAISON__RESPONSE__BODY_DIR_PUT: m = &resp->dir_put->base; resp->dir_put = NULL; break;
    case LIAISON__RESPONSE__BODY_STATUS: m = &resp->status->base; resp->status = NULL; break;
    default: break;
    }
    resp->body_case = LIAISON__RESPONSE__BODY__NOT_SET;
    lsn_pb_free(&resp->base);
    if (out != NULL)
        *out = m;
    else if (m != NULL)
        lsn_pb_free(m);
    return 0;
}

int
lsn_relay_client_hello(struct lsn_relay_client *c, Liaison__HelloReply **out)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__HelloRequest h = LIAISON__HELLO_REQUEST__INIT;

    h.client = (char *)"liaison/0";
    req.body_case = LIAISON__REQUEST__BODY_HELLO;
    req.hello = &h;
    return call(c, &req, LIAISON__RESPONSE__BODY_HELLO, (ProtobufCMessage **)out);
}

int
lsn_relay_client_submit(struct lsn_relay_client *c, const uint8_t *const *envs,
                        const size_t *lens, size_t n, int *results, int *dup)
{
    uint64_t first = 0;
    size_t answered = 0;
    int r = 0;

    for (size_t i = 0; i < n; i++) {
        Liaison__Request req = LIAISON__REQUEST__INIT;
        Liaison__SubmitRequest s = LIAISON__SUBMIT_REQUEST__INIT;
        results[i] = LSN_ERR_TIMEOUT;
        if (dup != NULL)
            dup[i] = 0;
        s.envelope = (ProtobufCBinaryData){ lens[i], (uint8_t *)envs[i] };
        req.body_case = LIAISON__REQUEST__BODY_SUBMIT;
        req.submit = &s;
        req.id = lsn_wire_next_id(c->w);
        if (i == 0)
            first = req.id;
        if ((r = lsn_wire_queue(c->w, &req)) != 0)
            return r;
    }
    while (answered < n) {
        Liaison__Response *resp = NULL;
        size_t i;
        if ((r = lsn_wire_recv(c->w, c->timeout_ms, &resp)) != 0)
            return r;
        i = (size_t)(resp->id - first);
        if (resp->id >= first && i < n && results[i] == LSN_ERR_TIMEOUT) {
            results[i] = lsn_wire_check(c->w, resp);
            if (results[i] == 0 && resp->body_case != LIAISON__RESPONSE__BODY_SUBMIT)
                results[i] = LSN_ERR_PROTOCOL;
            if (results[i] == 0 && dup != NULL)
                dup[i] = resp->submit->duplicate;
            answered++;
        }
        lsn_pb_free(&resp->base);
    }
    return 0;
}

int
lsn_relay_client_fetch(struct lsn_relay_client *c, uint32_t max,
                       Liaison__FetchReply **out)
{
    return lsn_relay_client_fetch_after(c, max, 0, out);
}

int
lsn_relay_client_fetch_after(struct lsn_relay_client *c, uint32_t max,
                             uint64_t after, Liaison__FetchReply **out)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__FetchRequest f = LIAISON__FETCH_REQUEST__INIT;

    f.max = max;
    f.after = after;
    req.body_case = LIAISON__REQUEST__BODY_FETCH;
    req.fetch = &f;
    return call(c, &req, LIAISON__RESPONSE__BODY_FETCH, (ProtobufCMessage **)out);
}

int
lsn_relay_client_ack(struct lsn_relay_client *c, const char *const *orgs,
                     const uint8_t (*ids)[16], size_t n, uint64_t gap_seen,
                     uint32_t *acked)
{
    return lsn_relay_client_ack_outcome(c, orgs, ids, NULL, n, gap_seen, 0, acked);
}

int
lsn_relay_client_ack_outcome(struct lsn_relay_client *c, const char *const *orgs,
                             const uint8_t (*ids)[16], const int *outcomes,
                             size_t n, uint64_t gap_seen, uint32_t passed,
                             uint32_t *acked)
{
    int32_t *oc = NULL;
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__AckMessagesRequest a = LIAISON__ACK_MESSAGES_REQUEST__INIT;
    Liaison__MessageRef *refs = NULL, **pp = NULL;
    Liaison__AckReply *rep = NULL;
    int r;

    if (n > 0 && ((refs = calloc(n, sizeof *refs)) == NULL ||
                  (pp = calloc(n, sizeof *pp)) == NULL)) {
        free(refs);
        return LSN_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        liaison__message_ref__init(&refs[i]);
        refs[i].org = (char *)orgs[i];
        refs[i].msg_id = (ProtobufCBinaryData){ 16, (uint8_t *)ids[i] };
        pp[i] = &refs[i];
    }
    a.refs = pp;
    a.n_refs = n;
    a.gap_seen = gap_seen;
    a.passed = passed;
    /* Outcomes only when one is a refusal: an ack without them is "stored"
     * (and reads the same to a relay that knows no outcomes). */
    for (size_t i = 0; outcomes != NULL && i < n && oc == NULL; i++)
        if (outcomes[i] != 0 && (oc = calloc(n, sizeof *oc)) == NULL) {
            free(refs);
            free(pp);
            return LSN_ERR_NOMEM;
        }
    for (size_t i = 0; oc != NULL && i < n; i++)
        oc[i] = outcomes[i];
    a.outcomes = oc;
    a.n_outcomes = oc != NULL ? n : 0;
    req.body_case = LIAISON__REQUEST__BODY_ACK;
    req.ack = &a;
    r = call(c, &req, LIAISON__RESPONSE__BODY_ACK, (ProtobufCMessage **)&rep);
    if (r == 0 && acked != NULL)
        *acked = rep->acked;
    if (rep != NULL)
        lsn_pb_free(&rep->base);
    free(oc);
    free(refs);
    free(pp);
    return r;
}

int
lsn_relay_client_subscribe(struct lsn_relay_client *c, uint32_t credit,
                           Liaison__SubscribeReply **out)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__SubscribeRequest s = LIAISON__SUBSCRIBE_REQUEST__INIT;

    s.credit = credit;
    req.body_case = LIAISON__REQUEST__BODY_SUBSCRIBE;
    req.subscribe = &s;
    return call(c, &req, LIAISON__RESPONSE__BODY_SUBSCRIBE, (ProtobufCMessage **)out);
}

int
lsn_relay_client_next_push(struct lsn_relay_client *c, int timeout_ms,
                           Liaison__Response **out)
{
    Liaison__Response *resp = NULL;
    int r;

    *out = NULL;
    for (;;) {
        if ((r = lsn_wire_recv(c->w, timeout_ms, &resp)) != 0)
            return r;
        if (resp->body_case == LIAISON__RESPONSE__BODY_PUSH && resp->push->n_items > 0) {
            *out = resp;
            return 0;
        }
        lsn_pb_free(&resp->base);   /* a late answer nobody waits for */
    }
}

int
lsn_relay_client_dir_get(struct lsn_relay_client *c, Liaison__DirKind kind,
                         const char *org, const char *device,
                         Liaison__DirGetReply **out)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__DirGetRequest g = LIAISON__DIR_GET_REQUEST__INIT;

    g.kind = kind;
    g.org = (char *)(org != NULL ? org : "");
    g.device = (char *)(device != NULL ? device : "");
    req.body_case = LIAISON__REQUEST__BODY_DIR_GET;
    req.dir_get = &g;
    return call(c, &req, LIAISON__RESPONSE__BODY_DIR_GET, (ProtobufCMessage **)out);
}

int
lsn_relay_client_dir_put(struct lsn_relay_client *c, Liaison__DirKind kind,
                         const uint8_t *obj, size_t len, int *unchanged)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__DirPutRequest p = LIAISON__DIR_PUT_REQUEST__INIT;
    Liaison__DirPutReply *rep = NULL;
    int r;

    p.kind = kind;
    p.object = (ProtobufCBinaryData){ len, (uint8_t *)obj };
    req.body_case = LIAISON__REQUEST__BODY_DIR_PUT;
    req.dir_put = &p;
    r = call(c, &req, LIAISON__RESPONSE__BODY_DIR_PUT, (ProtobufCMessage **)&rep);
    if (r == 0 && unchanged != NULL)
        *unchanged = rep->unchanged;
    if (rep != NULL)
        lsn_pb_free(&rep->base);
    return r;
}

int
lsn_relay_client_status(struct lsn_relay_client *c, const uint8_t msg_id[16],
                        Liaison__StatusReply **out)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__StatusRequest s = LIAISON__STATUS_REQUEST__INIT;

    s.msg_id = (ProtobufCBinaryData){ 16, (uint8_t *)msg_id };
    req.body_case = LIAISON__REQUEST__BODY_STATUS;
    req.status = &s;
    return call(c, &req, LIAISON__RESPONSE__BODY_STATUS, (ProtobufCMessage **)out);
}
