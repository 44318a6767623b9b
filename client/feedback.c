/* feedback.c: dispositions (docs/protocol.md "Feedback"): what a recipient
 * org did with a message, sent as a sealed, signed FEEDBACK alert to the
 * message's sender org (and, when shared, to its other recipients), and
 * recorded by each org that takes one against the message it names, if
 * that org sent or received the message and the feedback's signer was
 * one of its recipients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/alert.h"
#include "client/client.h"
#include "client/client_int.h"
#include "client/names.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"

/* TLP from least to most restrictive: CLEAR, GREEN, AMBER, AMBER+STRICT,
 * RED (the enum's numbers are not in that order). */
static int
tlp_rank(int tlp)
{
    switch (tlp) {
    case LIAISON__TLP__TLP_CLEAR:        return 0;
    case LIAISON__TLP__TLP_GREEN:        return 1;
    case LIAISON__TLP__TLP_AMBER:        return 2;
    case LIAISON__TLP__TLP_AMBER_STRICT: return 3;
    default:                             return 4;
    }
}

int
lsn_client_tlp_stricter(int a, int b)
{
    return tlp_rank(a) >= tlp_rank(b) ? a : b;
}

/* Adds org to to[0..*n) unless it is there or is own. */
static void
add_org(const char **to, size_t *n, const char *org, const char *own)
{
    if (strcmp(org, own) == 0 || *n >= LSN_MAX_RECIPIENTS)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(to[i], org) == 0)
            return;
    to[(*n)++] = org;
}

int
lsn_client_feedback(struct lsn_client *c, const struct lsn_feedback_req *q,
                    int64_t now, uint8_t msg_id[16])
{
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    Liaison__Feedback fb = LIAISON__FEEDBACK__INIT;
    struct lsn_message *m = NULL;
    const char *to[LSN_MAX_RECIPIENTS];
    char org[LSN_ENV_ORG_MAX + 1], hex[33], title[LSN_ALERT_TITLE_MAX + 1];
    uint8_t id[16], *env = NULL;
    size_t n = 0, len = 0, have;
    int r, tlp;

    if ((r = lsn_local_find_received(c->p->store, q->prefix, org, id)) != 0)
        return r;
    if ((r = lsn_client_stored_message(c, org, id, now, &m)) != 0)
        return r;
    lsn_hex(hex, id, 16);
    if (m->o->alert->type == LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK ||
        m->o->alert->type == LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT) {
        lsn_set_detail("message %s is itself a %s", hex,
                       lsn_name_of(lsn_names_type, m->o->alert->type));
        r = LSN_ERR_USAGE;
        goto out;
    }
    /* Positions name the indicators as the recipient sees them: those of
     * the message, or of the original it forwards. */
    have = m->o->alert->n_indicators;
    if (have == 0 && m->original != NULL && m->original_err == 0)
        have = m->original->alert->n_indicators;
    for (size_t i = 0; i < q->n_indicators; i++) {
        if (q->indicators[i] < 1 || q->indicators[i] > have) {
            lsn_set_detail("message %s has %zu indicator(s); there is no "
                           "indicator %u", hex, have, q->indicators[i]);
            r = LSN_ERR_USAGE;
            goto out;
        }
    }
    fb.disposition = q->disposition;
    fb.n_indicators = q->n_indicators;
    fb.indicators = (uint32_t *)q->indicators;
    fb.reported_to = q->reported_to;
    fb.reported_other = (char *)(q->reported_other ? q->reported_other : "");
    fb.note = (char *)(q->note ? q->note : "");
    fb.at = now;
    ref.org = org;
    ref.msg_id = (ProtobufCBinaryData){ 16, id };
    snprintf(title, sizeof title, "feedback: %s on %.12s",
             lsn_name_of(lsn_names_disposition, q->disposition), hex);
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK;
    a.title = title;
    /* The message's marking, or the stricter of a forward's and its
     * original's: a feedback says something about what it names. */
    tlp = m->o->alert->tlp;
    if (m->original != NULL)
        tlp = lsn_client_tlp_stricter(tlp, m->original->alert->tlp);
    a.tlp = lsn_client_tlp_stricter(tlp, q->tlp);
    a.in_reply_to = &ref;
    a.feedback = &fb;
    add_org(to, &n, org, c->p->cred->org);
    if (q->share)
        for (size_t i = 0; i < m->o->n_recipients; i++)
            add_org(to, &n, m->o->recipients[i].org, c->p->cred->org);
    if (n == 0) {
        lsn_set_detail("message %s came from this org: feedback goes to others", hex);
        r = LSN_ERR_USAGE;
        goto out;
    }
    if ((r = lsn_client_seal(c, &a, to, n, now, LSN_DEFAULT_TTL, NULL, msg_id, &env,
                             &len)) != 0)
        goto out;
    lsn_local_audit(c->p->store, now, "feedback", "%s on msg %s of %s to %zu org(s)",
                    lsn_name_of(lsn_names_disposition, q->disposition), hex, org, n);
    r = lsn_client_submit(c, msg_id, msg_id);
out:
    free(env);
    lsn_message_free(&m);
    return r;
}

struct via_ctx {
    const char *org;
    int found;
};

static int
via_one(void *ctx, const char *from, const uint8_t fb_id[16],
        const Liaison__StoredFeedback *rec)
{
    struct via_ctx *x = ctx;

    (void)from;
    (void)fb_id;
    for (size_t i = 0; rec->feedback != NULL && i < rec->feedback->n_passed_to; i++)
        x->found |= strcmp(rec->feedback->passed_to[i], x->org) == 0;
    return 0;
}

/* 1 if a retraction-applied recorded here about message id of org says
 * the retraction was passed on to `to` (an org it had been forwarded
 * to, which may then answer as a recipient would). */
static int
passed_to(struct lsn_client *c, const char *org, const uint8_t id[16], const char *to)
{
    struct via_ctx x = { to, 0 };

    (void)lsn_local_each_feedback(c->p->store, org, id, via_one, &x);
    return x.found;
}

/* lsn_client_check_feedback, and *held: whether the message it names is
 * held here (sent by this device, or received and not pruned), so that
 * its recipients could be checked. */
static int
check_feedback(struct lsn_client *c, const struct lsn_opened *o, int *held)
{
    const Liaison__MessageRef *ref = o->alert->in_reply_to;
    Liaison__StoredSent *sent = NULL;
    struct lsn_local_msg *st = NULL;
    struct lsn_envelope_info info;
    int r, addressed = 0;
    char hex[33];

    *held = 0;
    lsn_hex(hex, ref->msg_id.data, 16);
    if (strcmp(ref->org, c->p->cred->org) == 0) {
        /* Only the device that sent a message keeps its record: the
         * others of its org take the feedback as a message, unrecorded. */
        r = lsn_local_get_sent(c->p->store, ref->msg_id.data, &sent);
        if (r == LSN_ERR_NOT_FOUND)
            return 0;
        if (r != 0)
            return r;
        for (size_t i = 0; i < sent->n_recipients; i++)
            addressed |= strcmp(sent->recipients[i], o->sender_org) == 0;
        lsn_pb_free((ProtobufCMessage *)sent);
        /* An org reached by a forward answers a retraction too. */
        if (!addressed && o->alert->feedback->disposition ==
                              LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED)
            addressed = passed_to(c, ref->org, ref->msg_id.data, o->sender_org);
    } else {
        r = lsn_local_get_received(c->p->store, ref->org, ref->msg_id.data, &st);
        if (r == LSN_ERR_NOT_FOUND &&
            lsn_local_was_pruned(c->p->store, ref->org, ref->msg_id.data)) {
            lsn_set_detail("%s", "");
            return 0;
        }
        if (r == LSN_ERR_NOT_FOUND) {
            lsn_set_detail("feedback from %s on message %s of %s, which %s never "
                           "received", o->sender_org, hex, ref->org, c->p->cred->org);
            return LSN_ERR_INVALID;
        }
        if (r != 0)
            return r;
        r = lsn_envelope_peek(st->envelope, st->len, 0, &info);
        lsn_local_msg_free(&st);
        if (r != 0)
            return r;
        for (size_t i = 0; i < info.n_recipients; i++)
            addressed |= strcmp(info.recipients[i].org, o->sender_org) == 0;
    }
    if (!addressed) {
        lsn_set_detail("feedback from %s on message %s of %s, which was not sent "
                       "to %s", o->sender_org, hex, ref->org, o->sender_org);
        return LSN_ERR_NOT_RECIPIENT;
    }
    *held = 1;
    return 0;
}

int
lsn_client_check_feedback(struct lsn_client *c, const struct lsn_opened *o)
{
    int held;

    if (o->alert->type != LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK)
        return 0;
    return check_feedback(c, o, &held);
}

int
lsn_client_record_feedback(struct lsn_client *c, const struct lsn_opened *o)
{
    const Liaison__Alert *a = o->alert;
    Liaison__StoredFeedback rec = LIAISON__STORED_FEEDBACK__INIT;
    int r, held = 0;

    if (a->type != LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK)
        return LSN_ERR_NOT_FOUND;
    if ((r = check_feedback(c, o, &held)) != 0)
        return r;
    if (!held)
        return LSN_ERR_NOT_FOUND;
    rec.device = (char *)o->sender_device;
    rec.feedback = a->feedback;
    rec.created = o->created;
    return lsn_local_put_feedback(c->p->store, a->in_reply_to->org,
                                  a->in_reply_to->msg_id.data, o->sender_org,
                                  o->msg_id, &rec);
}

/* ------------------------------------------------------------ reading */

struct latest_ctx {
    struct lsn_feedback_latest *v;
    size_t n, cap;
    int err;
};

/* Whether rec is later than what e holds: signed creation time, then
 * order of arrival. */
static int
later(const struct lsn_feedback_latest *e, const Liaison__StoredFeedback *rec)
{
    return rec->created > e->created ||
           (rec->created == e->created && rec->seq > e->seq);
}

static void
latest_put(struct latest_ctx *x, const char *org, const uint8_t fb_id[16],
           const Liaison__StoredFeedback *rec, uint32_t indicator)
{
    struct lsn_feedback_latest *e = NULL;

    for (size_t i = 0; i < x->n && e == NULL; i++)
        if (x->v[i].indicator == indicator && strcmp(x->v[i].org, org) == 0)
            e = &x->v[i];
    if (e != NULL && !later(e, rec))
        return;
    if (e == NULL) {
        if (x->n == x->cap) {
            size_t cap = x->cap ? x->cap * 2 : 16;
            struct lsn_feedback_latest *v = realloc(x->v, cap * sizeof *v);
            if (v == NULL) {
                x->err = LSN_ERR_NOMEM;
                return;
            }
            x->v = v;
            x->cap = cap;
        }
        e = &x->v[x->n++];
    }
    memset(e, 0, sizeof *e);
    snprintf(e->org, sizeof e->org, "%s", org);
    snprintf(e->device, sizeof e->device, "%s", rec->device);
    memcpy(e->fb_id, fb_id, 16);
    e->indicator = indicator;
    e->disposition = rec->feedback->disposition;
    e->reported_to = rec->feedback->reported_to;
    snprintf(e->reported_other, sizeof e->reported_other, "%s",
             rec->feedback->reported_other);
    e->created = rec->created;
    e->seq = rec->seq;
}

static int
latest_visit(void *ctx, const char *org, const uint8_t fb_id[16],
             const Liaison__StoredFeedback *rec)
{
    struct latest_ctx *x = ctx;

    /* A retraction's answers are the retraction's business (status
     * shows them with it), not a disposition about the content. */
    if (rec->feedback == NULL || rec->feedback->disposition ==
                                     LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED)
        return 0;
    if (rec->feedback->n_indicators == 0)
        latest_put(x, org, fb_id, rec, 0);
    for (size_t i = 0; i < rec->feedback->n_indicators; i++)
        latest_put(x, org, fb_id, rec, rec->feedback->indicators[i]);
    return x->err;
}

static int
latest_cmp(const void *pa, const void *pb)
{
    const struct lsn_feedback_latest *a = pa, *b = pb;

    if (a->indicator != b->indicator)
        return a->indicator < b->indicator ? -1 : 1;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int
lsn_client_feedback_latest(struct lsn_client *c, const char *org, const uint8_t id[16],
                           struct lsn_feedback_latest **out, size_t *n)
{
    struct latest_ctx x = { NULL, 0, 0, 0 };
    int r;

    *out = NULL;
    *n = 0;
    if ((r = lsn_local_each_feedback(c->p->store, org, id, latest_visit, &x)) != 0) {
        free(x.v);
        return r;
    }
    if (x.n > 1)
        qsort(x.v, x.n, sizeof *x.v, latest_cmp);
    *out = x.v;
    *n = x.n;
    return 0;
}
