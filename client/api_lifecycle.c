/* api_lifecycle.c: the public C library's calls for what follows a
 * message (include/liaison.h): feedback and its status, retraction and
 * who applied it, legal holds.  Each is a thin wrapper over the one
 * function the CLI uses too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/alert.h"
#include "client/api_int.h"
#include "client/client.h"
#include "client/names.h"
#include "keys/util.h"
#include "liaison.h"
#include "proto/err.h"

/* ------------------------------------------------------------ feedback */

const char *
lsn_disposition_name(enum lsn_disposition d)
{
    return lsn_name_of(lsn_names_disposition, (int)d);
}

int
lsn_session_feedback(lsn_session *s, const char *msg_id, enum lsn_disposition d,
                     const unsigned *indicators, size_t n, const char *reported_to,
                     const char *note, int share, char feedback_id[33])
{
    struct lsn_feedback_req q = { 0 };
    uint32_t *ind = NULL;
    uint8_t id[16];
    int r;

    feedback_id[0] = '\0';
    if (msg_id == NULL || (n > 0 && indicators == NULL) || n > LSN_ALERT_MAX_INDICATORS ||
        d < LSN_DISPOSITION_SEEN || d >= LSN_DISPOSITION_RETRACTION_APPLIED)
        return LSN_ERR_USAGE;
    if ((reported_to != NULL) != (d == LSN_DISPOSITION_REPORTED))
        return LSN_ERR_USAGE;
    if (reported_to != NULL &&
        lsn_reported_parse(reported_to, &q.reported_to, &q.reported_other) != 0)
        return LSN_ERR_INVALID;
    if (n > 0 && (ind = calloc(n, sizeof *ind)) == NULL)
        return LSN_ERR_NOMEM;
    /* One encoding per set: increasing, each once. */
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && indicators[i] <= indicators[i - 1]) {
            free(ind);
            lsn_set_detail("indicator positions must increase");
            return LSN_ERR_USAGE;
        }
        ind[i] = indicators[i];
    }
    q.prefix = msg_id;
    q.disposition = (int)d;
    q.indicators = ind;
    q.n_indicators = n;
    q.note = note;
    q.tlp = LIAISON__TLP__TLP_CLEAR;
    q.share = share != 0;
    memset(id, 0, sizeof id);
    r = lsn_client_feedback(s->c, &q, lsn_now(), id);
    if (r == 0 || r == LSN_ERR_TIMEOUT || r == LSN_ERR_UNAVAILABLE)
        lsn_hex(feedback_id, id, 16);
    free(ind);
    return r;
}

int
lsn_received_feedback(const lsn_received *m, enum lsn_disposition *d,
                      const char **about_org, const char **about_id, const char **note)
{
    const Liaison__Alert *a = m->m->o->alert;

    if (a->feedback == NULL || a->in_reply_to == NULL)
        return LSN_ERR_INVALID;
    *d = (enum lsn_disposition)a->feedback->disposition;
    *about_org = a->in_reply_to->org;
    *about_id = m->about;
    *note = a->feedback->note;
    return 0;
}

size_t
lsn_received_feedback_indicator_count(const lsn_received *m)
{
    const Liaison__Feedback *fb = m->m->o->alert->feedback;

    return fb != NULL ? fb->n_indicators : 0;
}

unsigned
lsn_received_feedback_indicator(const lsn_received *m, size_t i)
{
    const Liaison__Feedback *fb = m->m->o->alert->feedback;

    return fb != NULL && i < fb->n_indicators ? fb->indicators[i] : 0;
}

int
lsn_session_feedback_status(lsn_session *s, const char *msg_id, lsn_feedback_fn fn,
                            void *ctx)
{
    struct lsn_feedback_latest *v = NULL;
    uint8_t id[16];
    size_t n = 0;
    int r;

    if ((r = lsn_local_find_sent(s->c->p->store, msg_id, id)) != 0 ||
        (r = lsn_client_feedback_latest(s->c, s->c->p->cred->org, id, &v, &n)) != 0)
        return r;
    for (size_t i = 0; i < n && r == 0; i++) {
        const char *to = v[i].reported_to == LIAISON__REPORTED_TO__REPORTED_OTHER
                             ? v[i].reported_other
                         : v[i].reported_to != 0
                             ? lsn_name_of(lsn_names_reported, v[i].reported_to) : "";
        r = fn(ctx, v[i].org, v[i].indicator, (enum lsn_disposition)v[i].disposition,
               to, v[i].created);
    }
    free(v);
    return r;
}

/* ------------------------------------------------------------ retraction */

int
lsn_session_retract(lsn_session *s, const char *msg_id, const char *reason,
                    char retraction_id[33])
{
    uint8_t id[16];
    int r;

    retraction_id[0] = '\0';
    if (msg_id == NULL)
        return LSN_ERR_USAGE;
    memset(id, 0, sizeof id);
    r = lsn_client_retract(s->c, msg_id, reason, lsn_now(), id);
    if (r == 0 || r == LSN_ERR_TIMEOUT || r == LSN_ERR_UNAVAILABLE)
        lsn_hex(retraction_id, id, 16);
    return r;
}

struct retraction_org {
    char org[LSN_ENV_ORG_MAX + 1], via[LSN_ENV_ORG_MAX + 1];
    int applied, kept;
};

struct retraction_ctx {
    struct retraction_org v[LSN_MAX_RECIPIENTS + 4 * LSN_FEEDBACK_PASSED_MAX];
    size_t n;
    int retracted;
};

static struct retraction_org *
retraction_org(struct retraction_ctx *x, const char *org)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->v[i].org, org) == 0)
            return &x->v[i];
    if (x->n == sizeof x->v / sizeof x->v[0])
        return NULL;
    memset(&x->v[x->n], 0, sizeof x->v[0]);
    snprintf(x->v[x->n].org, sizeof x->v[0].org, "%s", org);
    return &x->v[x->n++];
}

static int
retraction_sent(void *ctx, const char *org, const uint8_t id[16],
                const Liaison__StoredLink *rec)
{
    struct retraction_ctx *x = ctx;

    (void)org;
    (void)id;
    x->retracted = 1;
    for (size_t i = 0; i < rec->n_to; i++)
        (void)retraction_org(x, rec->to[i]);
    return 0;
}

static int
retraction_answer(void *ctx, const char *org, const uint8_t fb_id[16],
                  const Liaison__StoredFeedback *rec)
{
    struct retraction_ctx *x = ctx;
    struct retraction_org *o;

    (void)fb_id;
    if (rec->feedback == NULL || rec->feedback->disposition !=
                                     LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED)
        return 0;
    if ((o = retraction_org(x, org)) != NULL) {
        o->applied = 1;
        o->kept |= rec->feedback->kept;
    }
    for (size_t i = 0; i < rec->feedback->n_passed_to; i++)
        if ((o = retraction_org(x, rec->feedback->passed_to[i])) != NULL &&
            o->via[0] == '\0')
            snprintf(o->via, sizeof o->via, "%s", org);
    return 0;
}

int
lsn_session_retraction_status(lsn_session *s, const char *msg_id, lsn_retraction_fn fn,
                              void *ctx)
{
    struct retraction_ctx *x;
    const char *own = s->c->p->cred->org;
    uint8_t id[16];
    int r;

    if ((r = lsn_local_find_sent(s->c->p->store, msg_id, id)) != 0)
        return r;
    if ((x = calloc(1, sizeof *x)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_local_each_link(s->c->p->store, own, id, LSN_LINK_RETRACTED,
                                 retraction_sent, x)) == 0 && !x->retracted)
        r = LSN_ERR_NOT_FOUND;
    if (r == 0)
        r = lsn_local_each_feedback(s->c->p->store, own, id, retraction_answer, x);
    for (size_t i = 0; r == 0 && i < x->n; i++)
        r = fn(ctx, x->v[i].org, x->v[i].via, x->v[i].applied, x->v[i].kept);
    free(x);
    return r;
}

int
lsn_received_retracted(const lsn_received *m)
{
    return m->m->retracted;
}

/* ------------------------------------------------------------ legal hold */

int
lsn_session_hold(lsn_session *s, const char *msg_id, const char *case_ref,
                 const char *reason)
{
    size_t n = 0;

    return lsn_client_hold(s->c, msg_id, case_ref, reason, 1, &n);
}

int
lsn_session_release(lsn_session *s, const char *msg_id, const char *case_ref)
{
    size_t n = 0;

    return lsn_client_hold(s->c, msg_id, case_ref, NULL, 0, &n);
}

const char *
lsn_received_held(const lsn_received *m)
{
    return m->m->held ? m->m->hold_case : NULL;
}
