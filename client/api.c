/* api.c: the public C library (include/liaison.h) over client.h: opaque
 * handles and plain C types, so that no protobuf-c type crosses the API.
 * Sessions, alerts, sending, fetching, received messages and status;
 * api_lifecycle.c has what follows a message: feedback, retraction and
 * legal holds. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/api_int.h"
#include "client/client.h"
#include "client/names.h"
#include "keys/util.h"
#include "liaison.h"
#include "proto/err.h"

/* The public enumerations are the schema's numbers. */
_Static_assert((int)LSN_TLP_RED == (int)LIAISON__TLP__TLP_RED &&
               (int)LSN_TLP_CLEAR == (int)LIAISON__TLP__TLP_CLEAR &&
               (int)LSN_TLP_AMBER_STRICT == (int)LIAISON__TLP__TLP_AMBER_STRICT,
               "TLP values match the schema");
_Static_assert((int)LSN_TYPE_RECEIPT == (int)LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT &&
               (int)LSN_TYPE_ALERT == (int)LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT,
               "type values match the schema");
_Static_assert((int)LSN_PRIORITY_URGENT == (int)LIAISON__PRIORITY__PRIORITY_URGENT,
               "priority values match the schema");
_Static_assert((int)LSN_ACK_READ == (int)LIAISON__ACK_REQUEST__ACK_READ,
               "ack values match the schema");
_Static_assert((int)LSN_TYPE_FEEDBACK == (int)LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK &&
               (int)LSN_DISPOSITION_RETRACTION_APPLIED ==
                   (int)LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED &&
               (int)LSN_DISPOSITION_SEEN == (int)LIAISON__DISPOSITION__DISPOSITION_SEEN,
               "feedback values match the schema");

#define MAX_INDICATORS LSN_ALERT_MAX_INDICATORS

struct lsn_alert {
    Liaison__Alert a;
    char *title, *body, *case_ref;
    Liaison__Indicator **ind;        /* each with its own strings */
    size_t n_ind;
    Liaison__Attachment **att;       /* each with its own name, type, data */
    size_t n_att;
};


const char *
lsn_session_detail(void)
{
    return lsn_detail();
}

int
lsn_session_open(const char *home, const char *passphrase, lsn_session **out)
{
    lsn_session *s;
    int r;

    *out = NULL;
    if (sodium_init() < 0)
        return LSN_ERR_INTERNAL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_client_open(home, passphrase, &s->c)) != 0) {
        free(s);
        return r;
    }
    *out = s;
    return 0;
}

void
lsn_session_close(lsn_session **sp)
{
    if (*sp == NULL)
        return;
    lsn_client_close(&(*sp)->c);
    free(*sp);
    *sp = NULL;
}

const char *
lsn_session_org(const lsn_session *s)
{
    return s->c->p->cred->org;
}

const char *
lsn_session_device(const lsn_session *s)
{
    return s->c->p->cred->device;
}

/* ------------------------------------------------------------ alerts */

int
lsn_alert_new(lsn_alert **out)
{
    lsn_alert *a = calloc(1, sizeof *a);

    *out = NULL;
    if (a == NULL)
        return LSN_ERR_NOMEM;
    liaison__alert__init(&a->a);
    a->a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT;
    *out = a;
    return 0;
}

static void
attachment_free(Liaison__Attachment *at)
{
    if (at == NULL)
        return;
    free(at->name);
    free(at->media_type);
    free(at->data.data);
    free(at->sha256.data);
    free(at);
}

void
lsn_alert_destroy(lsn_alert **ap)
{
    lsn_alert *a = *ap;

    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n_ind; i++) {
        free(a->ind[i]->type);
        free(a->ind[i]->value);
        free(a->ind[i]);
    }
    free(a->ind);
    for (size_t i = 0; i < a->n_att; i++)
        attachment_free(a->att[i]);
    free(a->att);
    free(a->title);
    free(a->body);
    free(a->case_ref);
    free(a);
    *ap = NULL;
}

/* Replaces *slot with a copy of s. */
static int
set_string(char **slot, const char *s)
{
    char *copy = strdup(s != NULL ? s : "");

    if (copy == NULL)
        return LSN_ERR_NOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

int
lsn_alert_set_title(lsn_alert *a, const char *title)
{
    int r = set_string(&a->title, title);
    a->a.title = a->title ? a->title : (char *)"";
    return r;
}

int
lsn_alert_set_body(lsn_alert *a, const char *body)
{
    int r = set_string(&a->body, body);
    a->a.body = a->body ? a->body : (char *)"";
    return r;
}

int
lsn_alert_set_case(lsn_alert *a, const char *case_ref)
{
    int r = set_string(&a->case_ref, case_ref);
    a->a.case_ref = a->case_ref ? a->case_ref : (char *)"";
    return r;
}

int
lsn_alert_set_type(lsn_alert *a, enum lsn_alert_type type)
{
    if (type < LSN_TYPE_ALERT || type > LSN_TYPE_REVOKE)
        return LSN_ERR_INVALID;   /* receipts are the library's business */
    a->a.type = (Liaison__AlertType)type;
    return 0;
}

int
lsn_alert_set_tlp(lsn_alert *a, enum lsn_tlp tlp)
{
    if ((int)tlp < LSN_TLP_AMBER || tlp > LSN_TLP_RED)
        return LSN_ERR_INVALID;
    a->a.tlp = (Liaison__Tlp)tlp;
    return 0;
}

int
lsn_alert_set_priority(lsn_alert *a, enum lsn_priority p)
{
    if ((int)p < LSN_PRIORITY_ROUTINE || p > LSN_PRIORITY_URGENT)
        return LSN_ERR_INVALID;
    a->a.priority = (Liaison__Priority)p;
    return 0;
}

int
lsn_alert_set_ack(lsn_alert *a, enum lsn_ack ack)
{
    if ((int)ack < LSN_ACK_NONE || ack > LSN_ACK_READ)
        return LSN_ERR_INVALID;
    a->a.ack = (Liaison__AckRequest)ack;
    return 0;
}

int
lsn_alert_add_indicator(lsn_alert *a, const char *type, const char *value)
{
    Liaison__Indicator *in, **grown;

    if (type == NULL || value == NULL || !lsn_alert_misp_type_known(type)) {
        lsn_set_detail("`%.64s` is not a MISP attribute type liaison knows",
                       type ? type : "(null)");
        return LSN_ERR_INVALID;
    }
    if (a->n_ind == MAX_INDICATORS)
        return LSN_ERR_LIMIT;
    if ((grown = realloc(a->ind, (a->n_ind + 1) * sizeof *grown)) == NULL)
        return LSN_ERR_NOMEM;
    a->ind = a->a.indicators = grown;      /* the alert never points at freed memory */
    if ((in = calloc(1, sizeof *in)) == NULL)
        return LSN_ERR_NOMEM;
    liaison__indicator__init(in);
    in->type = strdup(type);
    in->value = strdup(value);
    if (in->type == NULL || in->value == NULL) {
        free(in->type);
        free(in->value);
        free(in);
        return LSN_ERR_NOMEM;
    }
    a->ind[a->n_ind++] = in;
    a->a.indicators = a->ind;
    a->a.n_indicators = a->n_ind;
    return 0;
}

int
lsn_alert_add_attachment(lsn_alert *a, const char *name, const char *media_type,
                         const void *data, size_t len)
{
    Liaison__Attachment *at, **grown;
    int r;

    if (name != NULL && media_type == NULL)
        media_type = lsn_alert_media_type_of(name);
    if ((data == NULL && len > 0) ||
        (r = lsn_alert_attachment_meta_check(name, media_type)) != 0) {
        lsn_set_detail("attachment `%.64s` (%.64s): want a file name of 1 to 255 bytes "
                       "on one line, no '/', '\\', \".\" or \"..\", and a type/subtype",
                       name != NULL ? name : "(null)", media_type != NULL ? media_type : "");
        return LSN_ERR_INVALID;
    }
    if (len > LSN_CONTENT_MAX)
        return LSN_ERR_TOO_LARGE;
    if (a->n_att == LSN_ALERT_MAX_ATTACHMENTS)
        return LSN_ERR_LIMIT;
    if ((grown = realloc(a->att, (a->n_att + 1) * sizeof *grown)) == NULL)
        return LSN_ERR_NOMEM;
    a->att = a->a.attachments = grown;     /* the alert never points at freed memory */
    if ((at = calloc(1, sizeof *at)) == NULL)
        return LSN_ERR_NOMEM;
    liaison__attachment__init(at);
    at->name = strdup(name);
    at->media_type = strdup(media_type);
    at->data = (ProtobufCBinaryData){ len, malloc(len > 0 ? len : 1) };
    at->sha256 = (ProtobufCBinaryData){ crypto_hash_sha256_BYTES,
                                        malloc(crypto_hash_sha256_BYTES) };
    if (at->name == NULL || at->media_type == NULL || at->data.data == NULL ||
        at->sha256.data == NULL) {
        attachment_free(at);
        return LSN_ERR_NOMEM;
    }
    if (len > 0)
        memcpy(at->data.data, data, len);
    crypto_hash_sha256(at->sha256.data, at->data.data, len);
    a->att[a->n_att++] = at;
    a->a.attachments = a->att;
    a->a.n_attachments = a->n_att;
    return 0;
}

/* ------------------------------------------------------------ sending */

/* Seals the alert a (the caller's copy, given the circles here) to to[0..n),
 * stores it and submits it; msg_id gets its id. */
static int
send_alert(lsn_session *s, Liaison__Alert *a, const char *const *to, size_t n,
           int64_t ttl, const char *idempotency_key, char msg_id[33])
{
    struct lsn_addressed *x = NULL;
    uint8_t id[16], *env = NULL;
    size_t len = 0;
    int r;

    if (ttl <= 0)
        ttl = LSN_DEFAULT_TTL;
    /* "circle:NAME" entries become the circle's members, and the alert
     * carries the circles. */
    if ((r = lsn_client_address(s->c, to, n, lsn_now(), &x)) != 0)
        return r;
    a->circles = x->circlep;
    a->n_circles = x->n_circles;
    r = lsn_client_seal(s->c, a, x->to, x->n, lsn_now(), ttl, idempotency_key, id,
                        &env, &len);
    lsn_addressed_free(&x);
    free(env);
    if (r != 0)
        return r;
    r = lsn_client_submit(s->c, id, id);
    lsn_hex(msg_id, id, 16);
    return r;
}

int
lsn_session_send(lsn_session *s, const lsn_alert *a, const char *const *to,
                 size_t n, int64_t ttl, const char *idempotency_key,
                 char msg_id[33])
{
    Liaison__Alert sent = a->a;     /* a is the caller's, unchanged */

    msg_id[0] = '\0';
    return send_alert(s, &sent, to, n, ttl, idempotency_key, msg_id);
}

int
lsn_session_update(lsn_session *s, const char *msg_id, const lsn_alert *a,
                   const char *const *to, size_t n, int64_t ttl,
                   const char *idempotency_key, char new_id[33])
{
    Liaison__Alert sent = a->a;     /* a is the caller's, unchanged */
    struct lsn_update u;
    const char *dest[LSN_MAX_RECIPIENTS];
    int r;

    new_id[0] = '\0';
    if (msg_id == NULL || (n > 0 && to == NULL))
        return LSN_ERR_USAGE;
    if (n > LSN_MAX_RECIPIENTS)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < n; i++)
        dest[i] = to[i];
    if ((r = lsn_client_update_prepare(s->c, msg_id, &sent, dest, &n, &u)) != 0)
        return r;
    r = send_alert(s, &sent, dest, n, ttl, idempotency_key, new_id);
    lsn_update_free(&u);
    return r;
}

int
lsn_session_resend(lsn_session *s, size_t *n)
{
    return lsn_client_resubmit(s->c, n);
}

/* ------------------------------------------------------------ receiving */

struct relay_ctx {
    lsn_received_fn fn;
    void *ctx;
};

/* rx as the library shows m. */
static void
received_of(lsn_received *rx, const struct lsn_message *m)
{
    const Liaison__Alert *a = m->o->alert;

    memset(rx, 0, sizeof *rx);
    rx->m = m;
    lsn_hex(rx->id, m->o->msg_id, 16);
    if (a->in_reply_to != NULL)
        lsn_hex(rx->about, a->in_reply_to->msg_id.data, 16);
    /* As lsn_client_note_update counts it: a version of the sender's own
     * message, not a retraction. */
    if (a->supersedes != NULL && a->type != LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE &&
        strcmp(a->supersedes->org, m->o->sender_org) == 0)
        lsn_hex(rx->supersedes, a->supersedes->msg_id.data, 16);
    if (m->superseded)
        lsn_hex(rx->superseded_by, m->superseded_by, 16);
}

static int
pass_on(void *ctx, const struct lsn_message *m)
{
    struct relay_ctx *x = ctx;
    lsn_received rx;

    if (m->o->alert->type == LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT)
        return 0;
    received_of(&rx, m);
    return x->fn(x->ctx, &rx);
}

int
lsn_session_fetch(lsn_session *s, lsn_received_fn fn, void *ctx, size_t *n)
{
    struct relay_ctx x = { fn, ctx };
    size_t resent = 0;
    int r = lsn_client_fetch(s->c, pass_on, NULL, &x, n);

    if (r == 0)
        r = lsn_client_resubmit(s->c, &resent);
    return r;
}

size_t
lsn_session_refused(const lsn_session *s)
{
    return s->c->refused;
}

size_t
lsn_session_waiting(const lsn_session *s)
{
    return s->c->waiting;
}

int
lsn_session_watch(lsn_session *s, lsn_received_fn fn, void *ctx,
                  volatile int *stop)
{
    struct relay_ctx x = { fn, ctx };

    return lsn_client_watch(s->c, pass_on, NULL, &x, stop, 250);
}

int
lsn_session_received(lsn_session *s, const char *msg_id, lsn_received_fn fn, void *ctx)
{
    struct lsn_message *m = NULL;
    lsn_received rx;
    int r;

    if (msg_id == NULL)
        return LSN_ERR_USAGE;
    if ((r = lsn_client_read(s->c, msg_id, 0, &m)) != 0)
        return r;
    received_of(&rx, m);
    (void)fn(ctx, &rx);
    lsn_message_free(&m);
    return 0;
}

const char *
lsn_received_supersedes(const lsn_received *m)
{
    return m->supersedes[0] != '\0' ? m->supersedes : NULL;
}

const char *
lsn_received_superseded_by(const lsn_received *m)
{
    return m->superseded_by[0] != '\0' ? m->superseded_by : NULL;
}

const char *
lsn_received_id(const lsn_received *m)
{
    return m->id;
}

const char *
lsn_received_sender_org(const lsn_received *m)
{
    return m->m->o->sender_org;
}

const char *
lsn_received_sender_device(const lsn_received *m)
{
    return m->m->o->sender_device;
}

const char *
lsn_received_title(const lsn_received *m)
{
    return m->m->o->alert->title;
}

const char *
lsn_received_body(const lsn_received *m)
{
    return m->m->o->alert->body;
}

enum lsn_alert_type
lsn_received_type(const lsn_received *m)
{
    return (enum lsn_alert_type)m->m->o->alert->type;
}

enum lsn_tlp
lsn_received_tlp(const lsn_received *m)
{
    return (enum lsn_tlp)m->m->o->alert->tlp;
}

enum lsn_priority
lsn_received_priority(const lsn_received *m)
{
    return (enum lsn_priority)m->m->o->alert->priority;
}

int64_t
lsn_received_created(const lsn_received *m)
{
    return m->m->o->created;
}

size_t
lsn_received_indicator_count(const lsn_received *m)
{
    return m->m->o->alert->n_indicators;
}

size_t
lsn_received_attachment_count(const lsn_received *m)
{
    return m->m->o->alert->n_attachments;
}

int
lsn_received_attachment(const lsn_received *m, size_t i, const char **name,
                        const char **media_type, const uint8_t **data, size_t *len)
{
    const Liaison__Attachment *at;

    if (i >= m->m->o->alert->n_attachments)
        return LSN_ERR_NOT_FOUND;
    at = m->m->o->alert->attachments[i];
    *name = at->name;
    *media_type = at->media_type;
    *data = at->data.data;
    *len = at->data.len;
    return 0;
}

int
lsn_received_indicator(const lsn_received *m, size_t i, const char **type,
                       const char **value)
{
    if (i >= m->m->o->alert->n_indicators)
        return LSN_ERR_NOT_FOUND;
    *type = m->m->o->alert->indicators[i]->type;
    *value = m->m->o->alert->indicators[i]->value;
    return 0;
}

size_t
lsn_received_circle_count(const lsn_received *m)
{
    return m->m->o->alert->n_circles;
}

int
lsn_received_circle(const lsn_received *m, size_t i, const char **name,
                    size_t *n_orgs)
{
    if (i >= m->m->o->alert->n_circles)
        return LSN_ERR_NOT_FOUND;
    *name = m->m->o->alert->circles[i]->name;
    *n_orgs = m->m->o->alert->circles[i]->n_orgs;
    return 0;
}

/* ------------------------------------------------------------ status */

struct read_count {
    const char *org;
    unsigned n;
};

static int
count_reads(void *ctx, const char *org, const char *device, int kind, int64_t at,
            int reads_off)
{
    struct read_count *x = ctx;

    (void)device;
    (void)at;
    (void)reads_off;
    if (strcmp(org, x->org) == 0 && kind == LIAISON__RECEIPT_KIND__RECEIPT_READ)
        x->n++;
    return 0;
}

/* The home relay's status of the sent message msg_id (a unique prefix):
 * *st to free with lsn_pb_free, id its whole msg_id. */
static int
relay_status(lsn_session *s, const char *msg_id, uint8_t id[16],
             Liaison__StatusReply **st)
{
    int r;

    if ((r = lsn_local_find_sent(s->c->p->store, msg_id, id)) != 0 ||
        (r = lsn_client_connect(s->c)) != 0)
        return r;
    return lsn_relay_client_status(s->c->rc, id, st);
}

int
lsn_session_status(lsn_session *s, const char *msg_id, lsn_status_fn fn, void *ctx)
{
    Liaison__StatusReply *st = NULL;
    uint8_t id[16];
    int r;

    if ((r = relay_status(s, msg_id, id, &st)) != 0)
        return r;
    for (size_t i = 0; i < st->n_recipients && r == 0; i++) {
        const Liaison__RecipientStatus *p = st->recipients[i];
        struct read_count rc = { p->org, 0 };
        lsn_local_each_receipt(s->c->p->store, id, count_reads, &rc);
        r = fn(ctx, p->org, p->devices, p->delivered, rc.n, p->expired);
    }
    lsn_pb_free((ProtobufCMessage *)st);
    return r;
}

int
lsn_session_device_status(lsn_session *s, const char *msg_id,
                          lsn_device_status_fn fn, void *ctx)
{
    Liaison__StatusReply *st = NULL;
    uint8_t id[16];
    int r;

    if ((r = relay_status(s, msg_id, id, &st)) != 0)
        return r;
    for (size_t i = 0; i < st->n_recipients && r == 0; i++) {
        const Liaison__RecipientStatus *p = st->recipients[i];
        for (size_t j = 0; j < p->n_device_states && r == 0; j++) {
            const Liaison__DeviceStatus *d = p->device_states[j];
            /* The relay's strings: only names a bundle could hold. */
            if (lsn_name_check(d->device) != 0)
                continue;
            r = fn(ctx, p->org, d->device,
                   lsn_name_of(lsn_names_device_state, d->state),
                   d->state == LIAISON__DEVICE_STATE__DEVICE_REFUSED && d->reason < 0
                       ? d->reason : 0);
        }
    }
    lsn_pb_free((ProtobufCMessage *)st);
    return r;
}
