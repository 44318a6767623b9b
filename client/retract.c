/* retract.c: retractions and updates (docs/protocol.md "Retraction",
 * "Update").  Retractions: the originator
 * seals a REVOKE naming its message to the message's recipients; each
 * recipient device marks its copy retracted and wipes its content key
 * (kept under a legal hold), wipes the forwards of it it holds, tells
 * the originator in a signed retraction-applied feedback, and passes the
 * originator's signed REVOKE on to every org it forwarded the message
 * to, which do the same. */
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

int
lsn_client_retract(struct lsn_client *c, const char *prefix, const char *reason,
                   int64_t now, uint8_t rid[16])
{
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    Liaison__StoredLink link = LIAISON__STORED_LINK__INIT;
    Liaison__StoredSent *sent = NULL;
    char title[LSN_ALERT_TITLE_MAX + 1], hex[33];
    uint8_t id[16], *env = NULL;
    size_t len = 0;
    int r;

    if (reason == NULL || reason[0] == '\0' || strlen(reason) > LSN_LOCAL_REASON_MAX) {
        lsn_set_detail("a retraction needs a reason of 1 to %u bytes",
                       LSN_LOCAL_REASON_MAX);
        return LSN_ERR_USAGE;
    }
    if ((r = lsn_local_find_sent(c->p->store, prefix, id)) != 0 ||
        (r = lsn_local_get_sent(c->p->store, id, &sent)) != 0) {
        if (r == LSN_ERR_NOT_FOUND)
            lsn_set_detail("only the device that sent a message retracts it: "
                           "no sent message %.32s here", prefix);
        return r;
    }
    lsn_hex(hex, id, 16);
    snprintf(title, sizeof title, "retraction: %.12s", hex);
    ref.org = c->p->cred->org;
    ref.msg_id = (ProtobufCBinaryData){ 16, id };
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE;
    a.title = title;
    a.body = (char *)reason;
    a.supersedes = &ref;
    a.priority = LIAISON__PRIORITY__PRIORITY_URGENT;
    if ((r = lsn_client_seal(c, &a, (const char *const *)sent->recipients,
                             sent->n_recipients, now, LSN_DEFAULT_TTL, NULL, rid, &env,
                             &len)) != 0)
        goto out;
    link.to = sent->recipients;
    link.n_to = sent->n_recipients;
    link.reason = (char *)reason;
    link.at = now;
    if ((r = lsn_local_put_link(c->p->store, c->p->cred->org, id, LSN_LINK_RETRACTED,
                                c->p->cred->org, rid, &link)) != 0)
        goto out;
    lsn_local_audit(c->p->store, now, "retract", "msg %s to %zu org(s)", hex,
                    sent->n_recipients);
    r = lsn_client_submit(c, rid, rid);
out:
    free(env);
    lsn_pb_free((ProtobufCMessage *)sent);
    return r;
}

/* ------------------------------------------------------------ applying */

/* The links of one kind under a message, copied out of the scan (which
 * holds a read transaction: nothing may be written during it). */
struct link_list {
    struct link_item {
        char org[LSN_ENV_ORG_MAX + 1];
        uint8_t id[16];
        char (*to)[LSN_ENV_ORG_MAX + 1];
        size_t n_to;
    } *v;
    size_t n, cap;
};

static int
link_collect(void *ctx, const char *link_org, const uint8_t link_id[16],
             const Liaison__StoredLink *rec)
{
    struct link_list *l = ctx;
    struct link_item *it;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct link_item *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return LSN_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    it = &l->v[l->n];
    memset(it, 0, sizeof *it);
    snprintf(it->org, sizeof it->org, "%s", link_org);
    memcpy(it->id, link_id, 16);
    if (rec->n_to > 0 && (it->to = calloc(rec->n_to, sizeof *it->to)) == NULL)
        return LSN_ERR_NOMEM;
    for (size_t i = 0; i < rec->n_to; i++)
        if (lsn_org_id_check(rec->to[i]) == 0)
            snprintf(it->to[it->n_to++], sizeof it->to[0], "%s", rec->to[i]);
    l->n++;
    return 0;
}

static void
link_list_free(struct link_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].to);
    free(l->v);
    memset(l, 0, sizeof *l);
}

struct apply_ctx {
    int applied, kept;
    const char *to[LSN_FEEDBACK_PASSED_MAX];    /* orgs forwarded to */
    size_t n_to;
};

/* Every org of the forwards, once, at most LSN_FEEDBACK_PASSED_MAX. */
static void
collect_forwarded(struct apply_ctx *x, const struct link_list *fw)
{
    for (size_t i = 0; i < fw->n; i++)
        for (size_t j = 0; j < fw->v[i].n_to; j++) {
            const char *org = fw->v[i].to[j];
            size_t k = 0;
            while (k < x->n_to && strcmp(x->to[k], org) != 0)
                k++;
            if (k == x->n_to && x->n_to < LSN_FEEDBACK_PASSED_MAX)
                x->to[x->n_to++] = org;
        }
}

/* The REVOKE taken here (env, len, key: the originator's own, or one
 * passed on with it inside), passed on inside a REVOKE of ours to the
 * orgs of one forward. */
static void
pass_on(struct lsn_client *c, const Liaison__Alert *revoke, const uint8_t *env_in,
        size_t len_in, const uint8_t *key, const struct link_item *fw, int64_t now)
{
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__Forwarded f = LIAISON__FORWARDED__INIT;
    const char *to[LSN_MAX_RECIPIENTS];
    uint8_t id[16], *env = NULL;
    size_t len = 0, n = 0;
    char hex[33];

    for (size_t i = 0; i < fw->n_to && n < LSN_MAX_RECIPIENTS; i++)
        to[n++] = fw->to[i];
    if (n == 0)
        return;
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE;
    a.title = revoke->title;
    a.body = revoke->body;
    a.supersedes = revoke->supersedes;
    a.priority = LIAISON__PRIORITY__PRIORITY_URGENT;
    f.envelope = (ProtobufCBinaryData){ len_in, (uint8_t *)env_in };
    f.key = (ProtobufCBinaryData){ 32, (uint8_t *)key };
    a.forwarded = &f;
    if (lsn_client_seal(c, &a, to, n, now, LSN_DEFAULT_TTL, NULL, id, &env, &len) == 0) {
        lsn_hex(hex, fw->id, 16);
        lsn_local_audit(c->p->store, now, "retract", "passed on to the %zu org(s) of "
                        "forward %s", n, hex);
        (void)lsn_client_submit(c, id, NULL);
    }
    free(env);
}

/* The retraction-applied feedback to the originator. */
static int
send_applied(struct lsn_client *c, const Liaison__MessageRef *ref,
             const struct apply_ctx *x, int64_t now)
{
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__Feedback fb = LIAISON__FEEDBACK__INIT;
    const char *to[1] = { ref->org };
    char title[LSN_ALERT_TITLE_MAX + 1], hex[33];
    uint8_t id[16], *env = NULL;
    size_t len = 0;
    int r;

    lsn_hex(hex, ref->msg_id.data, 16);
    snprintf(title, sizeof title, "retraction applied: %.12s", hex);
    fb.disposition = LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED;
    fb.passed_to = (char **)x->to;
    fb.n_passed_to = x->n_to;
    fb.kept = x->kept;
    fb.at = now;
    a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_FEEDBACK;
    a.title = title;
    a.in_reply_to = (Liaison__MessageRef *)ref;
    a.feedback = &fb;
    if ((r = lsn_client_seal(c, &a, to, 1, now, LSN_DEFAULT_TTL, NULL, id, &env,
                             &len)) == 0)
        r = lsn_client_submit(c, id, NULL);
    free(env);
    if (r == 0)
        lsn_local_audit(c->p->store, now, "retract", "applied %s of %s%s", hex, ref->org,
                        x->kept ? " (key kept under a legal hold)" : "");
    return r;
}

/* 0 if every layer inside a passed-on REVOKE is a REVOKE naming ref and
 * the innermost is ref's originator's: only that is ever applied. */
static int
revoke_chain_check(const struct lsn_chain *ch, const Liaison__MessageRef *ref)
{
    const struct lsn_opened *first = ch->layer[ch->n - 1];

    for (size_t i = 0; i < ch->n; i++) {
        const Liaison__MessageRef *s = ch->layer[i]->alert->supersedes;
        if (ch->layer[i]->alert->type != LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE ||
            s == NULL || strcmp(s->org, ref->org) != 0 || s->msg_id.len != 16 ||
            ref->msg_id.len != 16 || memcmp(s->msg_id.data, ref->msg_id.data, 16) != 0)
            return LSN_ERR_INVALID;
    }
    return strcmp(first->sender_org, ref->org) == 0 ? 0 : LSN_ERR_INVALID;
}

void
lsn_client_apply_retraction(struct lsn_client *c, const struct lsn_message *m,
                            int64_t now)
{
    const Liaison__Alert *a = m->o->alert, *revoke = a;
    const Liaison__MessageRef *ref = a->supersedes;
    struct link_list copies = { 0 }, fw = { 0 };
    struct lsn_local_msg *own = NULL;
    struct lsn_chain ch = { { NULL }, 0 };
    struct apply_ctx x;
    char hex[33];
    int kept = 0, r;

    if (a->type != LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE || ref == NULL)
        return;
    lsn_hex(hex, m->o->msg_id, 16);
    if (strcmp(m->o->sender_org, ref->org) != 0) {
        /* Passed on by an org that forwarded the message here, inside
         * however many REVOKEs of the orgs between: each wrapper's sender
         * a recipient of what it wraps, and the originator's own REVOKE,
         * verified, innermost.  That REVOKE is what counts. */
        if (a->forwarded == NULL)
            return;     /* no one else may retract a message */
        if ((r = lsn_client_open_chain(c, m, now, &ch)) != 0) {
            lsn_local_audit(c->p->store, now, "retract", "passed-on REVOKE %s of %s "
                            "not applied: %s%s%s", hex, m->o->sender_org,
                            lsn_strerror(r), r == LSN_ERR_LIMIT ? ": " : "",
                            r == LSN_ERR_LIMIT ? lsn_detail() : "");
            return;
        }
        if (revoke_chain_check(&ch, ref) != 0) {
            lsn_local_audit(c->p->store, now, "retract", "passed-on REVOKE %s of %s "
                            "not applied: no REVOKE of %s inside", hex,
                            m->o->sender_org, ref->org);
            goto out;
        }
        revoke = ch.layer[ch.n - 1]->alert;
    }
    /* What is passed on wraps this very envelope, so that each org on
     * the way can check whom it came through. */
    if (lsn_local_get_received(c->p->store, m->o->sender_org, m->o->msg_id, &own) != 0)
        goto out;
    memset(&x, 0, sizeof x);
    if (lsn_local_retract(c->p->store, ref->org, ref->msg_id.data, revoke->body, now,
                          &kept) == 0) {
        x.applied = 1;
        x.kept = kept;
    }
    /* Every forward of it held here: wiped like the message itself. */
    if (lsn_local_each_link(c->p->store, ref->org, ref->msg_id.data, LSN_LINK_RECEIVED,
                            link_collect, &copies) == 0)
        for (size_t i = 0; i < copies.n; i++)
            if (lsn_local_retract(c->p->store, copies.v[i].org, copies.v[i].id,
                                  revoke->body, now, &kept) == 0) {
                x.applied = 1;
                x.kept |= kept;
            }
    if (lsn_local_each_link(c->p->store, ref->org, ref->msg_id.data, LSN_LINK_FORWARDED,
                            link_collect, &fw) == 0)
        collect_forwarded(&x, &fw);
    /* One wrapper more would be deeper than any org opens. */
    if (ch.n + 1 > LSN_FORWARD_DEPTH_MAX && fw.n > 0) {
        lsn_local_audit(c->p->store, now, "retract", "REVOKE %s not passed on: it "
                        "would wrap more than %u forwards", hex, LSN_FORWARD_DEPTH_MAX);
        x.n_to = 0;
        link_list_free(&fw);
    }
    if (x.applied && c->rc != NULL) {
        /* Told first, so the originator knows whom it was passed on to
         * before they answer. */
        (void)send_applied(c, ref, &x, now);
        for (size_t i = 0; i < fw.n; i++)
            pass_on(c, revoke, own->envelope, own->len, own->key, &fw.v[i], now);
    }
out:
    link_list_free(&copies);
    link_list_free(&fw);
    lsn_local_msg_free(&own);
    lsn_client_chain_free(&ch);
}

void
lsn_client_note_forward(struct lsn_client *c, const struct lsn_message *m, int64_t now)
{
    Liaison__StoredLink link = LIAISON__STORED_LINK__INIT;
    struct lsn_chain ch;
    const struct lsn_opened *first;

    if (m->o->alert->forwarded == NULL || m->original == NULL || m->original_err != 0)
        return;
    (void)lsn_local_put_link(c->p->store, m->original->sender_org, m->original->msg_id,
                             LSN_LINK_RECEIVED, m->o->sender_org, m->o->msg_id, &link);
    /* A forward of a forward: a copy of the first message too, which its
     * originator's retraction reaches. */
    if (lsn_client_open_chain(c, m, now, &ch) != 0)
        return;
    first = ch.layer[ch.n - 1];
    if (first != m->original)
        (void)lsn_local_put_link(c->p->store, first->sender_org, first->msg_id,
                                 LSN_LINK_RECEIVED, m->o->sender_org, m->o->msg_id,
                                 &link);
    lsn_client_chain_free(&ch);
}

/* ------------------------------------------------------------ holds */

struct case_ctx {
    const char *case_ref;
    char (*org)[LSN_ENV_ORG_MAX + 1];
    uint8_t (*id)[16];
    size_t n, cap;
    int err;
};

static int
case_one(void *ctx, const struct lsn_message *m)
{
    struct case_ctx *x = ctx;
    const char *cr = m->o->alert->case_ref;

    if (strcmp(cr, x->case_ref) != 0 &&
        (m->original == NULL || strcmp(m->original->alert->case_ref, x->case_ref) != 0))
        return 0;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 16;
        void *o = realloc(x->org, cap * sizeof *x->org), *i;
        if (o == NULL)
            return LSN_ERR_NOMEM;
        x->org = o;
        if ((i = realloc(x->id, cap * sizeof *x->id)) == NULL)
            return LSN_ERR_NOMEM;
        x->id = i;
        x->cap = cap;
    }
    snprintf(x->org[x->n], sizeof x->org[x->n], "%s", m->o->sender_org);
    memcpy(x->id[x->n], m->o->msg_id, 16);
    x->n++;
    return 0;
}

int
lsn_client_hold(struct lsn_client *c, const char *prefix, const char *case_ref,
                const char *reason, int on, size_t *n)
{
    struct case_ctx x = { case_ref, NULL, NULL, 0, 0, 0 };
    char org[LSN_ENV_ORG_MAX + 1], hex[33];
    uint8_t id[16];
    int r;

    *n = 0;
    if (prefix != NULL) {
        if ((r = lsn_local_find_received(c->p->store, prefix, org, id)) != 0 ||
            (r = lsn_local_hold(c->p->store, org, id, on, case_ref, reason)) != 0)
            return r;
        lsn_hex(hex, id, 16);
        lsn_local_audit(c->p->store, lsn_now(), "hold", "%s msg %s of %s",
                        on ? "set on" : "released", hex, org);
        *n = 1;
        return 0;
    }
    if (case_ref == NULL || case_ref[0] == '\0')
        return LSN_ERR_USAGE;
    r = lsn_client_each_received(c, 0, case_one, &x);
    for (size_t i = 0; r == 0 && i < x.n; i++) {
        if ((r = lsn_local_hold(c->p->store, x.org[i], x.id[i], on, case_ref,
                                reason)) == 0) {
            lsn_hex(hex, x.id[i], 16);
            lsn_local_audit(c->p->store, lsn_now(), "hold", "%s msg %s of %s",
                            on ? "set on" : "released", hex, x.org[i]);
            (*n)++;
        }
    }
    free(x.org);
    free(x.id);
    return r;
}

/* ------------------------------------------------------------ updates */

void
lsn_client_note_update(struct lsn_client *c, const struct lsn_message *m)
{
    const Liaison__MessageRef *old = m->o->alert->supersedes;
    Liaison__StoredLink link = LIAISON__STORED_LINK__INIT;
    char hex[33];

    /* Only a sender's own message is superseded, and by a new version,
     * not a retraction. */
    if (old == NULL || m->o->alert->type == LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE ||
        strcmp(old->org, m->o->sender_org) != 0)
        return;
    link.at = m->o->created;
    if (lsn_local_put_link(c->p->store, old->org, old->msg_id.data, LSN_LINK_SUPERSEDED,
                           m->o->sender_org, m->o->msg_id, &link) == 0) {
        lsn_hex(hex, old->msg_id.data, 16);
        lsn_local_audit(c->p->store, lsn_now(), "update", "msg %s of %s superseded", hex,
                        old->org);
    }
}

struct newest_ctx {
    uint8_t id[16];
    int64_t at;
    int found;
};

static int
newest_one(void *ctx, const char *link_org, const uint8_t link_id[16],
           const Liaison__StoredLink *rec)
{
    struct newest_ctx *x = ctx;

    (void)link_org;
    if (!x->found || rec->at > x->at) {
        memcpy(x->id, link_id, 16);
        x->at = rec->at;
        x->found = 1;
    }
    return 0;
}

int
lsn_client_superseded_by(struct lsn_client *c, const char *org, const uint8_t id[16],
                         uint8_t by[16])
{
    struct newest_ctx x = { { 0 }, 0, 0 };
    int r;

    if ((r = lsn_local_each_link(c->p->store, org, id, LSN_LINK_SUPERSEDED, newest_one,
                                 &x)) != 0)
        return r;
    if (!x.found)
        return LSN_ERR_NOT_FOUND;
    memcpy(by, x.id, 16);
    return 0;
}
