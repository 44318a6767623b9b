/* out.c: the replies and pushes of a round, held until the store batch
 * is committed and then sent, each connection's in one frame (docs/wire.md
 * "Batched requests"); after a failed commit every reply that needed it
 * says UNAVAILABLE instead. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "proto/err.h"
#include "proto/wire.h"
#include "relay/out.h"

/* A reply waiting for the batch commit. */
struct outmsg {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    uint8_t *buf;
    size_t len;
    uint64_t req_id;
    int needs_commit;
};
int
lsn_out_add(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
        const Liaison__Response *resp, int needs_commit)
{
    struct outmsg *o;
    int rc;

    if (r->n_out == r->cap_out) {
        size_t cap = r->cap_out ? 2 * r->cap_out : 256;
        struct outmsg *n = realloc(r->out, cap * sizeof *n);
        if (n == NULL)
            return LSN_ERR_NOMEM;
        r->out = n;
        r->cap_out = cap;
    }
    o = &r->out[r->n_out];
    memcpy(o->rid, rid, rid_len);
    o->rid_len = rid_len;
    o->req_id = resp->id;
    o->needs_commit = needs_commit;
    if ((rc = lsn_pb_encode(&resp->base, &o->buf, &o->len)) != 0)
        return rc;
    r->n_out++;
    return 0;
}

int
lsn_relay_reply(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
                const Liaison__Response *resp)
{
    return lsn_out_add(r, rid, rid_len, resp, 0);
}

void
lsn_out_error_fill(Liaison__Response *resp, Liaison__WireError *e, int code,
           const char *msg)
{
    liaison__wire_error__init(e);
    e->code = code;
    e->message = (char *)(msg != NULL && msg[0] != '\0' ? msg : lsn_strerror(code));
    resp->error = e;
    resp->body_case = LIAISON__RESPONSE__BODY__NOT_SET;
}

int
lsn_out_error(struct lsn_relay *r, const uint8_t *rid, size_t rid_len, uint64_t id,
          int code, const char *msg)
{
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError e;

    resp.id = id;
    lsn_out_error_fill(&resp, &e, code, msg);
    return lsn_out_add(r, rid, rid_len, &resp, 0);
}

/* Sends one frame to the connection rid (or to the test sink); a
 * connection found gone is passed to gone. */
static void
send_frame(struct lsn_relay *r, const uint8_t *rid, size_t rid_len,
           const uint8_t *buf, size_t len, lsn_out_gone_fn gone)
{
    if (r->sink != NULL) {
        r->sink(r->sink_ctx, buf, len);
        return;
    }
    if ((zmq_send(r->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
         zmq_send(r->router, buf, len, ZMQ_DONTWAIT) < 0) &&
        errno == EHOSTUNREACH)
        gone(r, rid, rid_len);
}

/* The connection lsn_wire_send_parts sends a frame to. */
struct to {
    struct lsn_relay *r;
    const uint8_t *rid;
    size_t rid_len;
    lsn_out_gone_fn gone;
};

static int
to_send(void *ctx, const uint8_t *buf, size_t len)
{
    struct to *t = ctx;

    send_frame(t->r, t->rid, t->rid_len, buf, len, t->gone);
    return 0;
}

/* Sends the n replies parts[0..n) to o's connection, batched. */
static void
send_replies(struct lsn_relay *r, const struct outmsg *o,
             const struct lsn_wire_part *parts, size_t n, lsn_out_gone_fn gone)
{
    struct to t = { r, o->rid, o->rid_len, gone };

    (void)lsn_wire_send_parts(LSN_WIRE_RESPONSES, parts, n, to_send, &t);
}

/* Orders replies by connection, then as they were queued. */
static int
outmsg_cmp(const void *a, const void *b)
{
    const struct outmsg *x = *(const struct outmsg *const *)a;
    const struct outmsg *y = *(const struct outmsg *const *)b;
    int c;

    if (x->rid_len != y->rid_len)
        return x->rid_len < y->rid_len ? -1 : 1;
    if ((c = memcmp(x->rid, y->rid, x->rid_len)) != 0)
        return c;
    return x < y ? -1 : x > y;
}

static int
same_conn(const struct outmsg *x, const struct outmsg *y)
{
    return x->rid_len == y->rid_len && memcmp(x->rid, y->rid, x->rid_len) == 0;
}

/* Replaces the reply of a request whose commit failed. */
static void
out_commit_failed(struct outmsg *o)
{
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    Liaison__WireError e;

    free(o->buf);
    o->buf = NULL;
    o->len = 0;
    resp.id = o->req_id;
    lsn_out_error_fill(&resp, &e, LSN_ERR_UNAVAILABLE,
               "the relay could not store this durably: nothing was "
               "stored; retry later");
    (void)lsn_pb_encode(&resp.base, &o->buf, &o->len);
}

/* A group commit's answers cost one CURVE frame per connection, not one
 * per request (docs/wire.md). */
void
lsn_out_flush(struct lsn_relay *r, int commit_failed, lsn_out_gone_fn gone)
{
    struct outmsg **ord = NULL, *head = NULL;
    struct lsn_wire_part *parts = NULL;
    size_t n = 0;

    if (r->n_out == 0)
        return;
    for (size_t i = 0; commit_failed && i < r->n_out; i++)
        if (r->out[i].needs_commit)
            out_commit_failed(&r->out[i]);
    if ((ord = malloc(r->n_out * sizeof *ord)) == NULL ||
        (parts = malloc(r->n_out * sizeof *parts)) == NULL) {
        for (size_t i = 0; i < r->n_out; i++)    /* unbatched, then */
            if (r->out[i].buf != NULL)
                send_frame(r, r->out[i].rid, r->out[i].rid_len, r->out[i].buf,
                           r->out[i].len, gone);
        goto done;
    }
    for (size_t i = 0; i < r->n_out; i++)
        ord[i] = &r->out[i];
    qsort(ord, r->n_out, sizeof *ord, outmsg_cmp);
    for (size_t i = 0; i < r->n_out; i++) {
        struct outmsg *o = ord[i];
        if (o->buf == NULL)         /* its error could not be encoded */
            continue;
        if (n > 0 && !same_conn(head, o)) {
            send_replies(r, head, parts, n, gone);
            n = 0;
        }
        if (n == 0)
            head = o;
        parts[n++] = (struct lsn_wire_part){ o->buf, o->len };
    }
    if (n > 0)
        send_replies(r, head, parts, n, gone);
done:
    for (size_t i = 0; i < r->n_out; i++)
        free(r->out[i].buf);
    free(parts);
    free(ord);
    r->n_out = 0;
}

void
lsn_out_free(struct lsn_relay *r)
{
    for (size_t i = 0; i < r->n_out; i++)
        free(r->out[i].buf);
    free(r->out);
    r->out = NULL;
    r->n_out = r->cap_out = 0;
}
