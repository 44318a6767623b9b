/* client.c: the client handle (see client.h): open and close, the
 * connection to the home relay, and the roster and bundles kept fresh
 * from it.  The work is in files of its own: send.c, accept.c, fetch.c,
 * receipts.c, deliveries.c, inbox.c (client_int.h is what they share). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/client.h"
#include "client/client_int.h"
#include "keys/delivery.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"

/* ------------------------------------------------------------ lifecycle */

int
lsn_client_open(const char *home, const char *pass, struct lsn_client **out)
{
    struct lsn_client *c;
    char dir[PATH_MAX];
    int r;

    *out = NULL;
    if ((r = lsn_profile_dir(home, dir, sizeof dir)) != 0)
        return r;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_profile_open(dir, pass, &c->p)) != 0) {
        free(c);
        return r;
    }
    *out = c;
    return 0;
}

void
lsn_client_close(struct lsn_client **cp)
{
    struct lsn_client *c = *cp;

    if (c == NULL)
        return;
    lsn_relay_client_close(&c->rc);
    lsn_profile_close(&c->p);
    free(c->fresh);
    free(c->absent);
    free(c);
    *cp = NULL;
}

static int refresh_roster(struct lsn_client *c, int64_t now);

void
lsn_client_progress(struct lsn_client *c, const char *fmt, ...)
{
    char what[200];
    va_list ap;

    if (c->progress == NULL)
        return;
    if (fmt == NULL) {
        c->progress(c->progress_ctx, NULL);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    c->progress(c->progress_ctx, what);
}

int
lsn_client_relay_name(struct lsn_client *c, char *name, size_t n)
{
    struct lsn_roster *ro = NULL;
    const Liaison__RosterOrg *o;
    int r;

    if ((r = lsn_trust_roster_held(c->p->trust, &ro)) != 0)
        return r;
    r = LSN_ERR_NOT_FOUND;
    if ((o = lsn_roster_find_org(ro, c->p->cred->org)) != NULL &&
        lsn_roster_find_relay(ro, o->relay) != NULL)
        r = (size_t)snprintf(name, n, "%s", o->relay) >= n ? LSN_ERR_TOO_LARGE : 0;
    lsn_roster_destroy(&ro);
    return r;
}

int
lsn_client_connect(struct lsn_client *c)
{
    char endpoint[512], name[128];
    uint8_t key[32];
    int r;

    if (c->rc != NULL)
        return 0;
    if (c->offline) {
        lsn_set_detail("offline command: no relay is contacted");
        return LSN_ERR_USAGE;
    }
    if ((r = lsn_profile_home_relay(c->p, lsn_now(), endpoint, sizeof endpoint,
                                    key)) != 0)
        return r;
    if (c->unreachable) {
        lsn_set_detail("is the relay running? (tried %s for %d s, earlier in "
                       "this run)", endpoint, (c->p->timeout_ms + 999) / 1000);
        return LSN_ERR_TIMEOUT;
    }
    if (lsn_client_relay_name(c, name, sizeof name) == 0)
        lsn_client_progress(c, "connecting to %s", name);
    else
        lsn_client_progress(c, "connecting to the relay at %s", endpoint);
    r = lsn_relay_client_connect(c->p->cred, endpoint, key, c->p->timeout_ms,
                                 &c->rc);
    if (r == LSN_ERR_TIMEOUT || r == LSN_ERR_IO)
        lsn_set_detail("is the relay running? (tried %s for %d s)", endpoint,
                       (c->p->timeout_ms + 999) / 1000);
    else if (r == LSN_ERR_DENIED)
        lsn_set_detail("the relay at %s does not admit device `%s/%s`: it was "
                       "revoked, or its org's bundle is not published there",
                       endpoint, c->p->cred->org, c->p->cred->device);
    else if (r != 0)
        lsn_set_detail("home relay at %s", endpoint);
    if (r == LSN_ERR_TIMEOUT || r == LSN_ERR_IO)
        c->unreachable = 1;
    if (r == 0 && refresh_roster(c, lsn_now()) == LSN_ERR_INTERRUPTED)
        r = LSN_ERR_INTERRUPTED;    /* connected, but asked to stop */
    lsn_client_progress(c, NULL);
    return r;
}

/* An error from a relay request, with the relay's sentence as the detail
 * (unless it only repeats the error's own sentence, as the relay's answer
 * to a device key it never knew does). */
int
lsn_client_relay_fail(struct lsn_client *c, int r)
{
    if (r != 0 && c->rc != NULL && lsn_detail()[0] == '\0' &&
        lsn_relay_client_message(c->rc)[0] != '\0' &&
        strcmp(lsn_relay_client_message(c->rc), lsn_strerror(r)) != 0)
        lsn_set_detail("%s", lsn_relay_client_message(c->rc));
    return r;
}

void
lsn_message_free(struct lsn_message **mp)
{
    struct lsn_message *m = *mp;

    if (m == NULL)
        return;
    lsn_opened_destroy(&m->o);
    lsn_opened_destroy(&m->original);
    free(m);
    *mp = NULL;
}

/* ------------------------------------------------------------ directory */

/* Puts every object of a directory reply into the trust store; objects
 * that are older or identical are not errors (another device got there
 * first), anything else that fails verification is. */
static int
put_objects(struct lsn_client *c, const Liaison__DirGetReply *rep, int bundle,
            int64_t now)
{
    int r = 0;

    for (size_t i = 0; i < rep->n_objects; i++) {
        const ProtobufCBinaryData *o = &rep->objects[i];
        int e = bundle ? lsn_trust_put_bundle(c->p->trust, o->data, o->len, now)
                       : lsn_trust_put_roster(c->p->trust, o->data, o->len, now);
        if (e != 0 && e != LSN_ERR_ROLLBACK && r == 0)
            r = e;
    }
    return r;
}

/* Follows the relay's roster chain as far as it verifies. */
static int
refresh_roster(struct lsn_client *c, int64_t now)
{
    Liaison__DirGetReply *rep = NULL;
    int r;

    if ((r = lsn_client_connect(c)) != 0)
        return r;
    r = lsn_relay_client_dir_get(c->rc, LIAISON__DIR_KIND__DIR_ROSTER, "", "", &rep);
    if (r == 0)
        r = put_objects(c, rep, 0, now);
    lsn_pb_free((ProtobufCMessage *)rep);
    return r;
}

static int
refresh_bundle(struct lsn_client *c, const char *org, int64_t now)
{
    Liaison__DirGetReply *rep = NULL;
    int r;

    if ((r = lsn_client_connect(c)) != 0)
        return r;
    r = lsn_relay_client_dir_get(c->rc, LIAISON__DIR_KIND__DIR_BUNDLE, org, "", &rep);
    if (r == LSN_ERR_NOT_FOUND || r == LSN_ERR_UNKNOWN_ORG) {
        /* Our roster may be behind the relay's: follow it, then retry. */
        lsn_pb_free((ProtobufCMessage *)rep);
        rep = NULL;
        if (refresh_roster(c, now) == 0)
            r = lsn_relay_client_dir_get(c->rc, LIAISON__DIR_KIND__DIR_BUNDLE, org,
                                         "", &rep);
    }
    if (r == 0)
        r = put_objects(c, rep, 1, now);
    lsn_pb_free((ProtobufCMessage *)rep);
    return r;
}

/* 1 once org's bundle was refreshed from the relay this session. */
static int
fresh_this_session(struct lsn_client *c, const char *org)
{
    for (size_t i = 0; i < c->n_fresh; i++)
        if (strcmp(c->fresh[i], org) == 0)
            return 1;
    return 0;
}

static void
mark_fresh(struct lsn_client *c, const char *org)
{
    void *p;

    if (fresh_this_session(c, org) ||
        (p = realloc(c->fresh, (c->n_fresh + 1) * sizeof *c->fresh)) == NULL)
        return;
    c->fresh = p;
    snprintf(c->fresh[c->n_fresh++], sizeof c->fresh[0], "%s", org);
}

/* 1 if, while handling queue items, the relay had no bundle of org since
 * the last fetch began: items from it wait without asking again (each ask
 * is up to three requests, and a hostile peer may queue thousands). */
static int
known_absent(struct lsn_client *c, const char *org)
{
    for (size_t i = 0; c->taking && i < c->n_absent; i++)
        if (strcmp(c->absent[i], org) == 0)
            return 1;
    return 0;
}

static void
mark_absent(struct lsn_client *c, const char *org)
{
    void *p;

    if (!c->taking || known_absent(c, org) || c->n_absent >= 1024 ||
        (p = realloc(c->absent, (c->n_absent + 1) * sizeof *c->absent)) == NULL)
        return;
    c->absent = p;
    snprintf(c->absent[c->n_absent++], sizeof c->absent[0], "%s", org);
}

int
lsn_client_bundle(struct lsn_client *c, const char *org, int64_t now,
                  int refresh, struct lsn_bundle **out)
{
    int r, held;

    *out = NULL;
    r = lsn_trust_bundle(c->p->trust, org, now, out);
    held = r == 0;
    if (held && (c->offline || (!refresh && fresh_this_session(c, org))))
        return 0;
    if (r != 0 && r != LSN_ERR_NOT_FOUND && r != LSN_ERR_EXPIRED &&
        r != LSN_ERR_WRONG_SIGNER && r != LSN_ERR_BAD_SIGNATURE &&
        r != LSN_ERR_UNKNOWN_ORG)
        return r;
    if (c->offline) {
        lsn_set_detail("no valid bundle of `%s` held: `liaison bundle import FILE`",
                       org);
        return r;
    }
    if (!held && known_absent(c, org)) {
        lsn_set_detail("no bundle of `%s` at the relay (asked in this fetch)", org);
        return LSN_ERR_NOT_FOUND;
    }
    r = refresh_bundle(c, org, now);
    if (r == LSN_ERR_INTERRUPTED) {
        lsn_bundle_destroy(out);    /* asked to stop: not the held one */
        return r;
    }
    if (r == 0 || r == LSN_ERR_NOT_FOUND)
        mark_fresh(c, org);
    if (r != 0 && held) {
        lsn_set_detail("%s", "");
        return 0;               /* unreachable: the held one is still valid */
    }
    lsn_bundle_destroy(out);
    if (r != 0 && r != LSN_ERR_NOT_FOUND) {
        /* A relay that does not admit this device's key says all there is. */
        if (r == LSN_ERR_UNPUBLISHED || r == LSN_ERR_KEY_REMOVED)
            return lsn_client_relay_fail(c, r);
        if (lsn_detail()[0] == '\0')
            lsn_set_detail("no valid bundle of `%s` held and the relay gave none",
                           org);
        return r;
    }
    r = lsn_trust_bundle(c->p->trust, org, now, out);
    if (r == LSN_ERR_NOT_FOUND) {
        mark_absent(c, org);
        lsn_set_detail("no bundle of `%s`: connect to the relay or `liaison "
                       "bundle import FILE`", org);
    }
    return r;
}
