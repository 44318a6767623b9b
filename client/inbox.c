/* inbox.c: what is done with messages already in the local store: listed,
 * read (marked, with the read receipt asked for), forwarded under the TLP
 * rules of every layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/alert.h"
#include "client/client.h"
#include "client/client_int.h"
#include "keys/util.h"
#include "proto/err.h"

/* ------------------------------------------------------------ reading */

struct each_ctx {
    struct lsn_client *c;
    int unread_only;
    lsn_client_msg_fn fn;
    void *ctx;
    struct superseded {
        char org[LSN_ENV_ORG_MAX + 1];
        uint8_t id[16];
    } *old;                             /* superseded messages: not listed */
    size_t n_old, cap_old;
};

/* Collected before the inbox scan (no read inside another). */
static int
note_superseded(void *ctx, const char *org, const uint8_t id[16], const char *link_org,
                const uint8_t link_id[16])
{
    struct each_ctx *x = ctx;

    (void)link_org;
    (void)link_id;
    if (x->n_old == x->cap_old) {
        size_t cap = x->cap_old ? 2 * x->cap_old : 16;
        struct superseded *v = realloc(x->old, cap * sizeof *v);
        if (v == NULL)
            return LSN_ERR_NOMEM;
        x->old = v;
        x->cap_old = cap;
    }
    snprintf(x->old[x->n_old].org, sizeof x->old[0].org, "%s", org);
    memcpy(x->old[x->n_old].id, id, 16);
    x->n_old++;
    return 0;
}

static int
is_superseded(const struct each_ctx *x, const char *org, const uint8_t id[16])
{
    for (size_t i = 0; i < x->n_old; i++)
        if (memcmp(x->old[i].id, id, 16) == 0 && strcmp(x->old[i].org, org) == 0)
            return 1;
    return 0;
}

static int
each_one(void *ctx, const struct lsn_local_msg *st)
{
    struct each_ctx *x = ctx;
    struct lsn_message m = { 0 };
    int r;

    if ((x->unread_only && st->read) || is_superseded(x, st->sender_org, st->msg_id))
        return 0;
    if ((r = lsn_client_open_stored(st, &m)) != 0)
        return r;
    if (m.o->alert->type != LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT) {
        lsn_client_open_original(x->c, &m, lsn_now());
        r = x->fn(x->ctx, &m);
    }
    lsn_opened_destroy(&m.o);
    lsn_opened_destroy(&m.original);
    return r;
}

int
lsn_client_each_received(struct lsn_client *c, int unread_only,
                         lsn_client_msg_fn fn, void *ctx)
{
    struct each_ctx x = { c, unread_only, fn, ctx, NULL, 0, 0 };
    int r;

    /* The inbox lists the newest version of each message. */
    if ((r = lsn_local_each_link_of_kind(c->p->store, LSN_LINK_SUPERSEDED,
                                         note_superseded, &x)) == 0)
        r = lsn_local_each_received(c->p->store, each_one, &x);
    free(x.old);
    return r;
}

int
lsn_client_read(struct lsn_client *c, const char *prefix, int mark_read,
                struct lsn_message **out)
{
    char org[LSN_ENV_ORG_MAX + 1], hex[33];
    uint8_t id[16];
    int r;

    *out = NULL;
    if ((r = lsn_local_find_received(c->p->store, prefix, org, id)) != 0)
        return r;
    if ((r = lsn_client_stored_message(c, org, id, lsn_now(), out)) != 0 || !mark_read ||
        (*out)->read)
        return r;
    if ((r = lsn_local_mark_read(c->p->store, org, id)) != 0)
        return r;
    lsn_hex(hex, id, 16);
    lsn_local_audit(c->p->store, lsn_now(), "read", "msg %s from %s", hex, org);
    if ((*out)->o->alert->ack == LIAISON__ACK_REQUEST__ACK_READ &&
        c->p->read_receipts && lsn_client_connect(c) == 0 &&
        lsn_client_send_receipt(c, (*out)->o, LIAISON__RECEIPT_KIND__RECEIPT_READ,
                                lsn_now()) == 0)
        lsn_local_audit(c->p->store, lsn_now(), "receipt", "read %s to %s", hex, org);
    return 0;
}

/* ------------------------------------------------------------ forwarding */

int
lsn_client_tlp_allows(int tlp, const char *own, const char *to)
{
    switch (tlp) {
    case LIAISON__TLP__TLP_CLEAR:
    case LIAISON__TLP__TLP_GREEN:
        return 0;           /* every coalition member is in the community */
    case LIAISON__TLP__TLP_AMBER:
    case LIAISON__TLP__TLP_AMBER_STRICT:
    case LIAISON__TLP__TLP_RED:
    default:
        if (strcmp(own, to) == 0 && tlp != LIAISON__TLP__TLP_RED)
            return 0;
        lsn_set_detail("TLP:%s may not leave %s: %s; ask the originator to "
                       "send it to `%s` themselves",
                       tlp == LIAISON__TLP__TLP_RED ? "RED" :
                       tlp == LIAISON__TLP__TLP_AMBER_STRICT ? "AMBER+STRICT" : "AMBER",
                       tlp == LIAISON__TLP__TLP_RED ? "its named recipients" : own,
                       tlp == LIAISON__TLP__TLP_RED
                           ? "TLP:RED is for the named recipients only"
                           : "TLP:AMBER and AMBER+STRICT stay within the recipient organisation",
                       to);
        return LSN_ERR_LIMIT;
    }
}

int
lsn_client_forward(struct lsn_client *c, const char *prefix,
                   const char *const *to, size_t n, int64_t now,
                   uint8_t msg_id[16])
{
    struct lsn_message *m = NULL;
    struct lsn_local_msg *st = NULL;
    struct lsn_chain ch = { { NULL }, 0 };
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__Forwarded f = LIAISON__FORWARDED__INIT;
    char title[LSN_ALERT_TITLE_MAX + 1], hex[33];
    uint8_t *env = NULL;
    size_t len = 0;
    int r;

    if ((r = lsn_client_read(c, prefix, 0, &m)) != 0)
        return r;
    /* Withdrawn by its sender: kept here only under a legal hold. */
    if (m->retracted) {
        lsn_set_detail("its sender retracted it (it is kept here only under a "
                       "legal hold)");
        r = LSN_ERR_USAGE;
        goto out;
    }
    /* A forward of a forward carries the forward (which carries the
     * original): every layer's TLP binds, and an original that did not
     * verify is not passed on. */
    if (m->o->alert->forwarded != NULL && m->original_err != 0) {
        r = m->original_err;
        lsn_set_detail("the original inside this forward did not verify");
        goto out;
    }
    /* Every layer, to the first message: a retraction of it reaches
     * the orgs of this forward only through them, and only so deep. */
    if ((r = lsn_client_open_chain(c, m, now, &ch)) != 0)
        goto out;
    if (ch.n + 1 > LSN_FORWARD_DEPTH_MAX) {
        lsn_set_detail("this message already wraps %zu forwards; forward one "
                       "nearer the original instead", ch.n);
        r = LSN_ERR_LIMIT;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((r = lsn_client_tlp_allows(m->o->alert->tlp, c->p->cred->org, to[i])) != 0 ||
            (m->original != NULL &&
             (r = lsn_client_tlp_allows(m->original->alert->tlp, c->p->cred->org,
                                        to[i])) != 0) ||
            (r = lsn_client_circle_allows(m->o->alert, c->p->cred->org, to[i])) != 0 ||
            (m->original != NULL &&
             (r = lsn_client_circle_allows(m->original->alert, c->p->cred->org,
                                           to[i])) != 0))
            goto out;
    }
    if ((r = lsn_local_get_received(c->p->store, m->o->sender_org, m->o->msg_id,
                                    &st)) != 0)
        goto out;
    a.type = m->o->alert->type == LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT
                 ? LIAISON__ALERT_TYPE__ALERT_TYPE_NOTICE : m->o->alert->type;
    if (a.type == LIAISON__ALERT_TYPE__ALERT_TYPE_RESPONSE ||
        a.type == LIAISON__ALERT_TYPE__ALERT_TYPE_UPDATE ||
        a.type == LIAISON__ALERT_TYPE__ALERT_TYPE_REVOKE)
        a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_NOTICE;
    snprintf(title, sizeof title, "Fwd: %s", m->o->alert->title);
    /* Cut on a UTF-8 boundary. */
    for (size_t k = strlen(title); k > 0 && lsn_utf8_check(title, k) != 0; k--)
        title[k - 1] = '\0';
    a.title = title;
    a.tlp = m->o->alert->tlp;
    a.priority = m->o->alert->priority;
    /* The forward carries the circles that bind what it forwards: only
     * two layers are opened on the next forward, so a third must not
     * lose the circle of the first. */
    if (m->o->alert->n_circles > 0) {
        a.circles = m->o->alert->circles;
        a.n_circles = m->o->alert->n_circles;
    } else if (m->original != NULL) {
        a.circles = m->original->alert->circles;
        a.n_circles = m->original->alert->n_circles;
    }
    f.envelope = (ProtobufCBinaryData){ st->len, st->envelope };
    f.key = (ProtobufCBinaryData){ 32, st->key };
    a.forwarded = &f;
    if ((r = lsn_client_seal(c, &a, to, n, now, LSN_DEFAULT_TTL, NULL, msg_id,
                             &env, &len)) != 0)
        goto out;
    lsn_hex(hex, m->o->msg_id, 16);
    lsn_local_audit(c->p->store, now, "forward", "msg %s of %s to %zu org(s)", hex,
                    m->o->sender_org, n);
    /* Kept under the message first sent (however many forwards inside),
     * so that its retraction is passed on to these orgs. */
    {
        const struct lsn_opened *first = m->original != NULL ? m->original : m->o;
        Liaison__StoredLink link = LIAISON__STORED_LINK__INIT;
        if (ch.n > 0)
            first = ch.layer[ch.n - 1];
        link.to = (char **)to;
        link.n_to = n;
        link.at = now;
        (void)lsn_local_put_link(c->p->store, first->sender_org, first->msg_id,
                                 LSN_LINK_FORWARDED, c->p->cred->org, msg_id, &link);
    }
    r = lsn_client_submit(c, msg_id, msg_id);
out:
    free(env);
    lsn_local_msg_free(&st);
    lsn_client_chain_free(&ch);
    lsn_message_free(&m);
    return r;
}
