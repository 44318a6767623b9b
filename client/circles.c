/* circles.c: circles of member orgs on the sending side and on forward.
 * "circle:NAME" in a recipient list stands for the members of circle NAME
 * in the roster this client holds, read at send time; the alert then
 * carries each circle's name and members (signed with the rest of the
 * content), and a TLP:GREEN alert sent to circles may be forwarded only
 * within their members (docs/protocol.md "Circles"). */
#include <stdlib.h>
#include <string.h>

#include "client/alert.h"
#include "client/client.h"
#include "keys/util.h"
#include "proto/err.h"

#define CIRCLE_PREFIX "circle:"

static int
is_circle(const char *to)
{
    return strncmp(to, CIRCLE_PREFIX, strlen(CIRCLE_PREFIX)) == 0;
}

/* Adds org to x->to unless it is there already. */
static int
add_org(struct lsn_addressed *x, const char *org)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->to[i], org) == 0)
            return 0;
    if (x->n == LSN_MAX_RECIPIENTS) {
        lsn_set_detail("the circles and orgs named come to more than %u "
                       "recipient orgs", LSN_MAX_RECIPIENTS);
        return LSN_ERR_LIMIT;
    }
    x->to[x->n++] = org;
    return 0;
}

static int
has_circle(const char *const *to, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_circle(to[i]))
            return 1;
    return 0;
}

int
lsn_client_address(struct lsn_client *c, const char *const *to, size_t n,
                   int64_t now, struct lsn_addressed **out)
{
    struct lsn_addressed *x;
    int r = 0;

    *out = NULL;
    if ((x = calloc(1, sizeof *x)) == NULL)
        return LSN_ERR_NOMEM;
    if (has_circle(to, n)) {
        /* Membership is the roster's: follow the relay's chain first so a
         * change the authorities signed since is what this send uses. */
        if (c->rc == NULL && !c->offline && !c->unreachable)
            (void)lsn_client_connect(c);
        if ((r = lsn_profile_roster(c->p, now, &x->ro)) != 0)
            goto fail;
    }
    /* Orgs named outright first, in their order (so a list without any
     * circle passes through unchanged, duplicates and all, for the
     * sealing side's checks). */
    for (size_t i = 0; i < n; i++) {
        if (is_circle(to[i]))
            continue;
        if (x->n == LSN_MAX_RECIPIENTS) {
            lsn_set_detail("give 1 to %u recipient orgs", LSN_MAX_RECIPIENTS);
            r = LSN_ERR_USAGE;      /* as sealing says it */
            goto fail;
        }
        x->to[x->n++] = to[i];
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = to[i] + strlen(CIRCLE_PREFIX);
        const Liaison__RosterCircle *rc;

        if (!is_circle(to[i]))
            continue;
        if ((rc = lsn_roster_find_circle(x->ro, name)) == NULL) {
            lsn_set_detail("no circle `%.40s` in roster v%llu (see `liaison "
                           "orgs`)", name, (unsigned long long)x->ro->r->version);
            r = LSN_ERR_UNKNOWN_ORG;
            goto fail;
        }
        for (size_t j = 0; j < x->n_circles; j++)
            if (x->circle[j].name == rc->name) {
                lsn_set_detail("circle `%s` is named twice", name);
                r = LSN_ERR_USAGE;
                goto fail;
            }
        if (x->n_circles == LSN_ALERT_MAX_CIRCLES) {
            lsn_set_detail("at most %u circles", LSN_ALERT_MAX_CIRCLES);
            r = LSN_ERR_LIMIT;
            goto fail;
        }
        liaison__alert_circle__init(&x->circle[x->n_circles]);
        x->circle[x->n_circles].name = rc->name;
        x->circle[x->n_circles].orgs = rc->orgs;
        x->circle[x->n_circles].n_orgs = rc->n_orgs;
        x->circlep[x->n_circles] = &x->circle[x->n_circles];
        x->n_circles++;
        /* The sender's own org is a member, not a recipient. */
        for (size_t k = 0; k < rc->n_orgs; k++)
            if (strcmp(rc->orgs[k], c->p->cred->org) != 0 &&
                (r = add_org(x, rc->orgs[k])) != 0)
                goto fail;
    }
    if (x->n_circles > 0 && x->n == 0) {
        lsn_set_detail("the circle has no member but this org");
        r = LSN_ERR_USAGE;
        goto fail;
    }
    *out = x;
    return 0;
fail:
    lsn_addressed_free(&x);
    return r;
}

void
lsn_addressed_free(struct lsn_addressed **x)
{
    if (*x == NULL)
        return;
    lsn_roster_destroy(&(*x)->ro);
    free(*x);
    *x = NULL;
}

int
lsn_client_circle_allows(const Liaison__Alert *a, const char *own, const char *to)
{
    if (a->tlp != LIAISON__TLP__TLP_GREEN || a->n_circles == 0 ||
        strcmp(own, to) == 0)
        return 0;
    for (size_t i = 0; i < a->n_circles; i++)
        for (size_t k = 0; k < a->circles[i]->n_orgs; k++)
            if (strcmp(a->circles[i]->orgs[k], to) == 0)
                return 0;
    lsn_set_detail("TLP:GREEN stays within its community, and this alert's "
                   "community is circle `%s`%s: `%s` is not a member; ask the "
                   "originator to send it to `%s` themselves",
                   a->circles[0]->name, a->n_circles > 1 ? " and the others it was sent to" : "",
                   to, to);
    return LSN_ERR_LIMIT;
}
