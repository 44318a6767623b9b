/* client.c: the client's work (see client.h): bundles kept fresh from the
 * relay, sealing into the store before submitting, accepting envelopes
 * into the store before acking, receipts, forwards and key deliveries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/client.h"
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

int
lsn_client_connect(struct lsn_client *c)
{
    char endpoint[512];
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
    if (r == 0)
        (void)refresh_roster(c, lsn_now());
    return r;
}

/* An error from a relay request, with the relay's sentence as the detail. */
static int
relay_fail(struct lsn_client *c, int r)
{
    if (r != 0 && c->rc != NULL && lsn_detail()[0] == '\0' &&
        lsn_relay_client_message(c->rc)[0] != '\0')
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
    if (r == 0 || r == LSN_ERR_NOT_FOUND)
        mark_fresh(c, org);
    if (r != 0 && held) {
        lsn_set_detail("%s", "");
        return 0;               /* unreachable: the held one is still valid */
    }
    lsn_bundle_destroy(out);
    if (r != 0 && r != LSN_ERR_NOT_FOUND) {
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

/* ------------------------------------------------------------ sealing */

static void
free_bundles(struct lsn_bundle **b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lsn_bundle_destroy(&b[i]);
    free(b);
}

/* Every destination in the roster, once; their bundles. */
/* The first of to[0..n) the roster does not name, or NULL. */
static const char *
not_in_roster(const struct lsn_roster *ro, const char *const *to, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lsn_roster_find_org(ro, to[i]) == NULL)
            return to[i];
    return NULL;
}

static int
recipient_bundles(struct lsn_client *c, const char *const *to, size_t n,
                  int64_t now, struct lsn_bundle ***out)
{
    struct lsn_roster *ro = NULL;
    struct lsn_bundle **b = NULL;
    const char *gone;
    int r, asked = 0;

    *out = NULL;
    if (n == 0 || n > LSN_MAX_RECIPIENTS) {
        lsn_set_detail("give 1 to %u recipient orgs", LSN_MAX_RECIPIENTS);
        return LSN_ERR_USAGE;
    }
    if ((r = lsn_profile_roster(c->p, now, &ro)) != 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        if (lsn_org_id_check(to[i]) != 0) {
            lsn_set_detail("`%.40s` is not an org id (1 to 32 of a-z, 0-9 and -)",
                           to[i]);
            r = LSN_ERR_BAD_ORG_ID;
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(to[i], to[j]) == 0) {
                lsn_set_detail("org `%s` is named twice", to[i]);
                r = LSN_ERR_USAGE;
                goto out;
            }
    }
    /* An org admitted after the roster this profile holds: connecting
     * follows the relay's roster chain, so ask before refusing. */
    if ((gone = not_in_roster(ro, to, n)) != NULL && c->rc == NULL &&
        !c->offline && !c->unreachable) {
        asked = lsn_client_connect(c) == 0;
        lsn_roster_destroy(&ro);
        if ((r = lsn_profile_roster(c->p, now, &ro)) != 0)
            goto out;
        gone = not_in_roster(ro, to, n);
    }
    if (gone != NULL) {
        if (asked || c->rc != NULL)
            lsn_set_detail("recipient `%s` is not in roster v%llu, the newest the "
                           "relay has (see `liaison orgs`)", gone,
                           (unsigned long long)ro->r->version);
        else
            lsn_set_detail("recipient `%s` is not in roster v%llu and the relay "
                           "could not be asked for a newer one; if it was "
                           "admitted since, run `liaison fetch`", gone,
                           (unsigned long long)ro->r->version);
        r = LSN_ERR_UNKNOWN_ORG;
        goto out;
    }
    if ((b = calloc(n, sizeof *b)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((r = lsn_client_bundle(c, to[i], now, 0, &b[i])) != 0)
            goto out;
    *out = b;
    b = NULL;
out:
    if (b != NULL)
        free_bundles(b, n);
    lsn_roster_destroy(&ro);
    return r;
}

/* 1 if the sent record held under msg_id is this alert (its digest, or
 * its sealed content for a record written without one) to the same set
 * of orgs. */
static int
is_same_send(struct lsn_client *c, const Liaison__StoredSent *held,
             const uint8_t msg_id[16], const uint8_t digest[32],
             const char *const *to, size_t n)
{
    uint8_t *plain = NULL, d[32];
    size_t pl;
    int same = held->n_recipients == n;

    for (size_t i = 0; same && i < n; i++) {
        int found = 0;
        for (size_t j = 0; j < held->n_recipients; j++)
            found |= strcmp(to[i], held->recipients[j]) == 0;
        same = found;
    }
    if (same && held->digest.len == 32) {
        same = sodium_memcmp(held->digest.data, digest, 32) == 0;
    } else if (same && held->sealed_content.len > LSN_LOCAL_SEAL_OVERHEAD) {
        pl = held->sealed_content.len - LSN_LOCAL_SEAL_OVERHEAD;
        same = (plain = malloc(pl)) != NULL &&
               lsn_local_unseal(c->p->store, held->sealed_content.data,
                                held->sealed_content.len, msg_id, 16, plain) == 0;
        if (same) {
            lsn_local_digest(c->p->store, plain, pl, d);
            same = sodium_memcmp(d, digest, 32) == 0;
            sodium_memzero(plain, pl);
        }
        free(plain);
    } else {
        same = 0;       /* nothing left to compare with: not provably the same */
    }
    return same;
}

/* 0 if the sent record held under msg_id is this alert to the same set of
 * orgs; LSN_ERR_INVALID, naming the earlier message, if not. */
static int
same_send(struct lsn_client *c, const Liaison__StoredSent *held,
          const uint8_t msg_id[16], const uint8_t digest[32],
          const char *const *to, size_t n)
{
    char hex[33];

    if (is_same_send(c, held, msg_id, digest, to, n))
        return 0;
    lsn_hex(hex, msg_id, 16);
    lsn_set_detail("this idempotency key was used for message %s with other "
                   "content or recipients; a retry must repeat them exactly, "
                   "a new alert needs a new key", hex);
    return LSN_ERR_INVALID;
}

/* The record of a sealed envelope, with its content sealed under the local
 * store key until the relay takes it (so a refusal as stale can re-seal). */
static int
record_sent(struct lsn_client *c, const Liaison__Alert *a, const char *const *to,
            size_t n, const struct lsn_seal_params *sp, const char *idem,
            const uint8_t msg_id[16], const uint8_t *env, size_t len)
{
    Liaison__StoredSent rec = LIAISON__STORED_SENT__INIT, *held = NULL;
    uint8_t *content = NULL, *sealed = NULL, digest[32];
    size_t cl = 0, sl = 0;
    int r;

    if ((r = lsn_alert_encode(a, &content, &cl)) != 0)
        goto out;
    lsn_local_digest(c->p->store, content, cl, digest);
    /* A permanent refusal of this msg_id before is replaced by this new
     * attempt; any other record stands (a retry resends it) if it is this
     * alert to these orgs: the msg_id derives from the idempotency key, so
     * another alert under a used key would be dropped for the first one. */
    if (lsn_local_get_sent(c->p->store, msg_id, &held) == 0) {
        if (held->refused != 0)
            (void)lsn_local_del_sent(c->p->store, msg_id);
        else if ((r = same_send(c, held, msg_id, digest, to, n)) != 0)
            goto out;
    }
    if ((r = lsn_local_seal(c->p->store, content, cl, msg_id, 16, &sealed, &sl)) != 0)
        goto out;
    rec.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
    rec.recipients = (char **)to;
    rec.n_recipients = n;
    rec.created = sp->created;
    rec.expires = sp->expires;
    rec.ack = a->ack;
    rec.sealed_content = (ProtobufCBinaryData){ sl, sealed };
    rec.idem = (char *)(idem ? idem : "");
    rec.digest = (ProtobufCBinaryData){ sizeof digest, digest };
    r = lsn_local_put_sent(c->p->store, msg_id, &rec);
out:
    lsn_pb_free((ProtobufCMessage *)held);
    if (content != NULL) {
        sodium_memzero(content, cl);
        free(content);
    }
    free(sealed);
    return r;
}

struct unsent_hunt {
    struct lsn_client *c;
    const uint8_t *digest;
    const char *const *to;
    size_t n;
    int64_t now;
    uint8_t *msg_id;
};

static int
visit_unsent(void *ctx, const uint8_t msg_id[16], const Liaison__StoredSent *rec)
{
    struct unsent_hunt *h = ctx;

    if (rec->expires <= h->now ||
        !is_same_send(h->c, rec, msg_id, h->digest, h->to, h->n))
        return 0;
    memcpy(h->msg_id, msg_id, 16);
    return 1;
}

int
lsn_client_find_unsent(struct lsn_client *c, const Liaison__Alert *a,
                       const char *const *to, size_t n, int64_t now,
                       uint8_t msg_id[16])
{
    struct unsent_hunt h = { c, NULL, to, n, now, msg_id };
    uint8_t *content = NULL, digest[32];
    size_t cl = 0;
    int r;

    if ((r = lsn_alert_encode(a, &content, &cl)) != 0)
        return r;
    lsn_local_digest(c->p->store, content, cl, digest);
    sodium_memzero(content, cl);
    free(content);
    h.digest = digest;
    r = lsn_local_each_unsubmitted(c->p->store, visit_unsent, &h);
    sodium_memzero(digest, sizeof digest);
    if (r == 1)
        return 0;
    return r != 0 ? r : LSN_ERR_NOT_FOUND;
}

int
lsn_client_seal(struct lsn_client *c, const Liaison__Alert *a,
                const char *const *to, size_t n, int64_t now, int64_t ttl,
                const char *idem, uint8_t msg_id[16], uint8_t **env, size_t *len)
{
    Liaison__StoredSent *held = NULL;
    struct lsn_bundle **b = NULL, *own = NULL;
    struct lsn_seal_params sp = { 0 };
    struct lsn_envelope_info info;
    uint8_t *e = NULL;
    size_t el = 0;
    int r;

    *env = NULL;
    *len = 0;
    if ((r = recipient_bundles(c, to, n, now, &b)) != 0)
        return r;
    sp.created = now;
    sp.expires = now + ttl;
    if (lsn_client_bundle(c, c->p->cred->org, now, 0, &own) == 0)
        sp.bundle_version = own->b->version;
    if (idem != NULL && idem[0] != '\0') {
        sp.idem_key = (const uint8_t *)idem;
        sp.idem_len = strlen(idem);
    }
    r = lsn_seal(a, c->p->cred, (const struct lsn_bundle *const *)b, n, &sp, &e, &el);
    if (r != 0)
        goto out;
    if ((r = lsn_envelope_peek(e, el, 0, &info)) != 0)
        goto out;
    memcpy(msg_id, info.msg_id, 16);
    if ((r = record_sent(c, a, to, n, &sp, idem, msg_id, e, el)) != 0)
        goto out;
    /* With an idempotency key a retry finds the first envelope: send that. */
    if ((r = lsn_local_get_sent(c->p->store, msg_id, &held)) != 0)
        goto out;
    if ((*env = malloc(held->envelope.len)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    memcpy(*env, held->envelope.data, held->envelope.len);
    *len = held->envelope.len;
    {
        char hex[33];
        lsn_hex(hex, msg_id, 16);
        lsn_local_audit(c->p->store, now, "seal", "msg %s to %zu org(s)", hex, n);
    }
out:
    lsn_pb_free((ProtobufCMessage *)held);
    free(e);
    lsn_bundle_destroy(&own);
    free_bundles(b, n);
    return r;
}

/* A relay refusal that resending the same bytes can never change: the
 * record is marked refused and not resent (the user or script decides). */
static int
refusal_is_final(int err)
{
    switch (err) {
    case LSN_ERR_TIMEOUT: case LSN_ERR_UNAVAILABLE: case LSN_ERR_RATE:
    case LSN_ERR_IO: case LSN_ERR_PROTOCOL: case LSN_ERR_NOMEM:
    case LSN_ERR_INTERNAL: case LSN_ERR_STALE_KEY: case LSN_ERR_QUOTA:
        return 0;
    default:
        return 1;
    }
}

/* A refusal that time undoes for this message alone (a quota frees as the
 * recipients fetch): the record waits with back-off, and the others are
 * still sent. */
static int
refusal_waits(int err)
{
    return err == LSN_ERR_QUOTA;
}

/* The envelope of msg_id was sealed to a key its recipient has replaced:
 * fresh bundles, the stored content sealed again (a new msg_id, or the
 * same one under an idempotency key), the stale record dropped. */
static int
reseal(struct lsn_client *c, const Liaison__StoredSent *rec,
       const uint8_t msg_id[16], uint8_t new_id[16])
{
    Liaison__Alert *a = NULL;
    uint8_t *content = NULL, *env = NULL;
    size_t cl, len = 0;
    int r;

    for (size_t i = 0; i < rec->n_recipients; i++) {
        struct lsn_bundle *b = NULL;
        (void)lsn_client_bundle(c, rec->recipients[i], lsn_now(), 1, &b);
        lsn_bundle_destroy(&b);
    }
    if (rec->sealed_content.len <= LSN_LOCAL_SEAL_OVERHEAD)
        return LSN_ERR_STALE_KEY;
    cl = rec->sealed_content.len - LSN_LOCAL_SEAL_OVERHEAD;
    if ((content = malloc(cl)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_local_unseal(c->p->store, rec->sealed_content.data,
                              rec->sealed_content.len, msg_id, 16, content)) != 0 ||
        (r = lsn_alert_decode(content, cl, &a)) != 0)
        goto out;
    if ((r = lsn_local_del_sent(c->p->store, msg_id)) != 0)
        goto out;
    r = lsn_client_seal(c, a, (const char *const *)rec->recipients, rec->n_recipients,
                        lsn_now(), rec->expires - rec->created,
                        rec->idem[0] ? rec->idem : NULL, new_id, &env, &len);
out:
    free(env);
    lsn_pb_free((ProtobufCMessage *)a);
    sodium_memzero(content, cl);
    free(content);
    return r;
}

/* One submit of the stored bytes of msg_id. */
static int
submit_once(struct lsn_client *c, const Liaison__StoredSent *rec,
            const uint8_t msg_id[16], int *dup)
{
    const uint8_t *envs[1] = { rec->envelope.data };
    size_t lens[1] = { rec->envelope.len };
    int result = 0, r;

    if ((r = lsn_client_connect(c)) != 0)
        return r;
    if ((r = lsn_relay_client_submit(c->rc, envs, lens, 1, &result, dup)) != 0)
        return relay_fail(c, r);
    if (result != 0) {
        lsn_set_detail("%s", lsn_relay_client_message(c->rc));
        if (refusal_is_final(result))
            (void)lsn_local_mark_refused(c->p->store, msg_id, result);
    }
    return result;
}

int
lsn_client_submit(struct lsn_client *c, const uint8_t msg_id[16],
                  uint8_t final_id[16])
{
    Liaison__StoredSent *rec = NULL;
    uint8_t id[16];
    int dup = 0, r, tries = 0;
    char hex[33];

    memcpy(id, msg_id, 16);
    for (;;) {
        if ((r = lsn_local_get_sent(c->p->store, id, &rec)) != 0)
            break;
        r = submit_once(c, rec, id, &dup);
        if (r != LSN_ERR_STALE_KEY || tries++ > 0)
            break;
        r = reseal(c, rec, id, id);
        lsn_pb_free((ProtobufCMessage *)rec);
        rec = NULL;
        if (r != 0)
            break;
    }
    lsn_hex(hex, id, 16);
    if (r == 0 && (r = lsn_local_mark_submitted(c->p->store, id)) == 0)
        lsn_local_audit(c->p->store, lsn_now(), "send", "msg %s accepted by the "
                        "relay%s", hex, dup ? " (already held)" : "");
    else if (r != 0 && refusal_is_final(r) && rec != NULL)
        lsn_local_audit(c->p->store, lsn_now(), "refused", "msg %s: %s", hex,
                        lsn_strerror(r));
    else if (refusal_waits(r) && rec != NULL &&
             lsn_local_mark_waiting(c->p->store, id, r, lsn_detail(), lsn_now(),
                                    c->p->resend_s) == 0)
        lsn_local_audit(c->p->store, lsn_now(), "waiting", "msg %s: %s; resent "
                        "later", hex, lsn_strerror(r));
    if (final_id != NULL)
        memcpy(final_id, id, 16);
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

struct resubmit_one {
    int64_t created;
    uint8_t id[16];
};

struct resubmit_ctx {
    struct resubmit_one *ids;
    size_t n, cap;
};

/* Oldest first: what waited longest goes first when room frees. */
static int
older_first(const void *a, const void *b)
{
    const struct resubmit_one *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return memcmp(x->id, y->id, 16);
}

static int
collect_unsubmitted(void *ctx, const uint8_t msg_id[16],
                    const Liaison__StoredSent *rec)
{
    struct resubmit_ctx *x = ctx;

    if (rec->expires <= lsn_now())
        return 0;           /* nothing to retry: it would only be refused */
    if (rec->waiting != 0 && rec->retry_at > lsn_now())
        return 0;           /* refused for a while: not yet */
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        void *p = realloc(x->ids, cap * sizeof *x->ids);
        if (p == NULL)
            return LSN_ERR_NOMEM;
        x->ids = p;
        x->cap = cap;
    }
    x->ids[x->n].created = rec->created;
    memcpy(x->ids[x->n++].id, msg_id, 16);
    return 0;
}

int
lsn_client_resubmit(struct lsn_client *c, size_t *n)
{
    struct resubmit_ctx x = { 0 };
    int r, unreachable = 0;

    *n = 0;
    r = lsn_local_each_unsubmitted(c->p->store, collect_unsubmitted, &x);
    if (x.n > 1)
        qsort(x.ids, x.n, sizeof *x.ids, older_first);
    /* Each record on its own: one refusal does not hold back the rest. */
    for (size_t i = 0; r == 0 && i < x.n && !unreachable; i++) {
        int e = lsn_client_submit(c, x.ids[i].id, NULL);
        if (e == 0)
            (*n)++;
        else if (!refusal_is_final(e) && !refusal_waits(e))
            unreachable = e;
    }
    free(x.ids);
    return r != 0 ? r : unreachable;
}

/* ------------------------------------------------------------ receipts */

/* Fills a receipt of this device about message msg_id of org: the
 * Alert a (pointing at ref and rc, which the caller owns) to seal to org. */
static void
receipt_fill(struct lsn_client *c, Liaison__Alert *a, Liaison__MessageRef *ref,
             Liaison__Receipt *rc, const char *org, const uint8_t msg_id[16],
             int kind, int64_t now)
{
    ref->org = (char *)org;
    ref->msg_id = (ProtobufCBinaryData){ 16, (uint8_t *)msg_id };
    rc->kind = kind;
    rc->device = c->p->cred->device;
    rc->at = now;
    a->type = LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT;
    a->title = kind == LIAISON__RECEIPT_KIND__RECEIPT_READ ? "read receipt"
               : kind == LIAISON__RECEIPT_KIND__RECEIPT_REFUSED ? "non-delivery receipt"
               : "delivery receipt";
    a->in_reply_to = ref;
    a->receipt = rc;
}

static int
send_receipt(struct lsn_client *c, const struct lsn_opened *o, int kind,
             int64_t now)
{
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    Liaison__Receipt rc = LIAISON__RECEIPT__INIT;
    const char *to[1] = { o->sender_org };
    uint8_t id[16], *env = NULL;
    size_t len = 0;
    int r;

    receipt_fill(c, &a, &ref, &rc, o->sender_org, o->msg_id, kind, now);
    rc.reads_off = o->alert->ack == LIAISON__ACK_REQUEST__ACK_READ &&
                   !c->p->read_receipts;
    r = lsn_client_seal(c, &a, to, 1, now, LSN_DEFAULT_TTL, NULL, id, &env, &len);
    free(env);
    if (r == 0)
        r = lsn_client_submit(c, id, NULL);
    return r;
}

/* A non-delivery receipt: this device refused message msg_id of org for
 * reason, and says so to that org, signed and sealed like every receipt. */
static int
send_refusal(struct lsn_client *c, const char *org, const uint8_t msg_id[16],
             int reason, int64_t now)
{
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__MessageRef ref = LIAISON__MESSAGE_REF__INIT;
    Liaison__Receipt rc = LIAISON__RECEIPT__INIT;
    const char *to[1] = { org };
    char idem[LSN_ENV_DEVICE_MAX + LSN_ENV_ORG_MAX + 64], hex[33];
    Liaison__StoredSent *held = NULL;
    uint8_t id[16], *env = NULL;
    size_t len = 0;
    int r;

    /* One receipt per refused message and device: its msg_id derives from
     * this key, so a relay that delivers the message again gets none more
     * (this store holds the key's record already: the seal is refused, or
     * the same bytes go to a relay that holds them). */
    lsn_hex(hex, msg_id, 16);
    snprintf(idem, sizeof idem, "non-delivery %s %s %s", c->p->cred->device, org, hex);
    receipt_fill(c, &a, &ref, &rc, org, msg_id,
                 LIAISON__RECEIPT_KIND__RECEIPT_REFUSED, now);
    rc.reason = reason;
    r = lsn_client_seal(c, &a, to, 1, now, LSN_DEFAULT_TTL, idem, id, &env, &len);
    free(env);
    if (r != 0) {
        lsn_set_detail("%s", "");   /* not the refused message's detail */
        return r;
    }
    if (lsn_local_get_sent(c->p->store, id, &held) == 0 && held->submitted)
        r = LSN_ERR_EXISTS;         /* the relay took it before */
    lsn_pb_free((ProtobufCMessage *)held);
    return r != 0 ? r : lsn_client_submit(c, id, NULL);
}

/* 1 if the envelope was signed by its sender device as the newest bundle
 * of the sender org held here has it, and that device may send: only then
 * does a refusal earn a non-delivery receipt (else the sender is not
 * known, and the relay's record of the refusal is all there is). */
static int
signed_by_sender(struct lsn_client *c, const uint8_t *env, size_t len,
                 const struct lsn_envelope_info *info)
{
    struct lsn_bundle *b = NULL;
    const Liaison__Device *d;
    int ok = 0;

    if (lsn_client_bundle(c, info->sender_org, lsn_now(), 0, &b) != 0)
        return 0;
    if ((d = lsn_bundle_find_device(b, info->sender_device)) != NULL && d->may_send &&
        d->sign_key.len == 32 &&
        lsn_envelope_signature_check(env, len, d->sign_key.data) == 0)
        ok = 1;
    lsn_bundle_destroy(&b);
    lsn_set_detail("%s", "");
    return ok;
}

/* A receipt for one of our messages: recorded against it. */
static void
record_receipt(struct lsn_client *c, const struct lsn_opened *o)
{
    const Liaison__Alert *a = o->alert;
    Liaison__StoredSent *sent = NULL;
    int addressed = 0;

    if (a->receipt == NULL || a->in_reply_to == NULL ||
        strcmp(a->in_reply_to->org, c->p->cred->org) != 0 ||
        lsn_local_get_sent(c->p->store, a->in_reply_to->msg_id.data, &sent) != 0)
        return;
    /* Only an org we sent it to can acknowledge it, and the device named is
     * the one that signed the receipt, not what its content claims. */
    for (size_t i = 0; i < sent->n_recipients; i++)
        addressed |= strcmp(sent->recipients[i], o->sender_org) == 0;
    if (addressed)
        (void)lsn_local_put_receipt_reason(c->p->store, a->in_reply_to->msg_id.data,
                                           o->sender_org, o->sender_device,
                                           a->receipt->kind, a->receipt->at,
                                           a->receipt->reads_off, a->receipt->reason);
    lsn_pb_free((ProtobufCMessage *)sent);
}

/* ------------------------------------------------------------ opening */

/* The originator's signature and key on a forwarded original. */
static void
open_original(struct lsn_client *c, struct lsn_message *m, int64_t now)
{
    const Liaison__Forwarded *f = m->o->alert->forwarded;
    struct lsn_envelope_info info;
    struct lsn_bundle *b = NULL;
    const Liaison__Device *d;
    int r, addressed = 0;

    if (f == NULL)
        return;
    if ((r = lsn_envelope_peek(f->envelope.data, f->envelope.len, 0, &info)) != 0)
        goto out;
    if ((r = lsn_client_bundle(c, info.sender_org, now, 0, &b)) != 0)
        goto out;
    /* The originator judged by its org's newest bundle, as for a direct
     * message: present and allowed to send. */
    if ((d = lsn_bundle_find_device(b, info.sender_device)) == NULL) {
        r = LSN_ERR_UNKNOWN_DEVICE;
        goto out;
    }
    if (!d->may_send) {
        r = LSN_ERR_REVOKED;
        goto out;
    }
    r = lsn_open_with_key(f->envelope.data, f->envelope.len, f->key.data,
                          d->sign_key.data, &m->original);
    if (r != 0)
        goto out;
    /* Only a recipient of the original may forward it. */
    for (size_t i = 0; i < m->original->n_recipients; i++)
        addressed |= strcmp(m->original->recipients[i].org, m->o->sender_org) == 0;
    if (!addressed)
        r = LSN_ERR_NOT_RECIPIENT;
out:
    m->original_err = r;
    lsn_bundle_destroy(&b);
}

static int
message_from_store(struct lsn_client *c, const char *org, const uint8_t id[16],
                   int64_t now, struct lsn_message **out)
{
    struct lsn_local_msg *st = NULL;
    struct lsn_message *m = NULL;
    int r;

    *out = NULL;
    if ((r = lsn_local_get_received(c->p->store, org, id, &st)) != 0)
        return r;
    if ((m = calloc(1, sizeof *m)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    if ((r = lsn_open_with_key(st->envelope, st->len, st->key, st->sign_key,
                               &m->o)) != 0)
        goto out;
    m->received = st->received;
    m->read = st->read;
    open_original(c, m, now);
    *out = m;
    m = NULL;
out:
    lsn_message_free(&m);
    lsn_local_msg_free(&st);
    return r;
}

/* The sender's bundle could not be had as valid here (r from
 * lsn_client_bundle).  Only an org the roster does not list is final;
 * an expired or unverifiable bundle or roster is this device's view,
 * which the org's next bundle or the coalition's next roster mends, so
 * a queue item waits for it (c->trust_wait) rather than being refused
 * for, say, EXPIRED as if the envelope were. */
static int
bundle_unusable(struct lsn_client *c, int r)
{
    if (r != LSN_ERR_UNKNOWN_ORG)
        c->trust_wait = 1;
    return r;
}

/* lsn_open against the sender's bundle, refreshing it once when it is
 * older than the envelope says or does not know the device. */
static int
open_fresh(struct lsn_client *c, const uint8_t *env, size_t len, int64_t now,
           const struct lsn_envelope_info *info, struct lsn_opened **o,
           uint8_t sign_key[32])
{
    struct lsn_bundle *b = NULL;
    const Liaison__Device *d;
    int r, refreshed = 0;

    if ((r = lsn_client_bundle(c, info->sender_org, now, 0, &b)) != 0)
        return bundle_unusable(c, r);
    if (b->b->version < info->bundle_version) {
        lsn_bundle_destroy(&b);
        if ((r = lsn_client_bundle(c, info->sender_org, now, 1, &b)) != 0)
            return bundle_unusable(c, r);
        refreshed = 1;
    }
    for (int keys_tried = 0;;) {
        r = lsn_open(env, len, c->p->cred, b, now, lsn_local_replay_check,
                     c->p->store, o);
        if (r == LSN_ERR_UNKNOWN_KEY && !keys_tried++ && c->rc != NULL) {
            /* Sealed to a key whose delivery has not been applied yet. */
            size_t n = 0;
            if (lsn_client_apply_deliveries(c, now, &n) == 0 && n > 0)
                continue;
        }
        if ((r != LSN_ERR_UNKNOWN_DEVICE && r != LSN_ERR_REVOKED) || refreshed)
            break;
        lsn_bundle_destroy(&b);
        if ((r = lsn_client_bundle(c, info->sender_org, now, 1, &b)) != 0)
            return bundle_unusable(c, r);
        refreshed = 1;
    }
    if (r == 0) {
        d = lsn_bundle_find_device(b, (*o)->sender_device);
        memcpy(sign_key, d->sign_key.data, 32);
    }
    lsn_bundle_destroy(&b);
    return r;
}

int
lsn_client_accept(struct lsn_client *c, const uint8_t *env, size_t len,
                  int64_t now, struct lsn_message **out)
{
    struct lsn_envelope_info info;
    struct lsn_message *m = NULL;
    uint8_t sign_key[32];
    char hex[33];
    int r;

    *out = NULL;
    if ((r = lsn_envelope_peek(env, len, 0, &info)) != 0)
        return r;
    lsn_hex(hex, info.msg_id, 16);
    /* Redelivery is normal: the stored copy answers it, if it is the same
     * bytes; other bytes under a known id are not that message. */
    {
        struct lsn_local_msg *st = NULL;
        r = lsn_local_get_received(c->p->store, info.sender_org, info.msg_id, &st);
        if (r == 0 && (st->len != len || memcmp(st->envelope, env, len) != 0)) {
            lsn_set_detail("message %s of %s is already held here with other "
                           "content", hex, info.sender_org);
            r = LSN_ERR_CONFLICT;
        }
        lsn_local_msg_free(&st);
        if (r == 0)
            return message_from_store(c, info.sender_org, info.msg_id, now, out);
        if (r != LSN_ERR_NOT_FOUND)
            return r;
        /* Taken here once and pruned: whatever a check would say of it
         * now (expired, say), it is not news and not refused. */
        if (lsn_local_was_pruned(c->p->store, info.sender_org, info.msg_id)) {
            lsn_set_detail("message %s of %s was stored here and pruned since",
                           hex, info.sender_org);
            return LSN_ERR_REPLAY;
        }
    }
    if ((m = calloc(1, sizeof *m)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = open_fresh(c, env, len, now, &info, &m->o, sign_key)) != 0)
        goto out;
    /* Durable before anyone acks it. */
    if ((r = lsn_local_put_received(c->p->store, m->o, env, len, sign_key, now)) != 0)
        goto out;
    lsn_local_audit(c->p->store, now, "receive", "msg %s from %s/%s", hex,
                    info.sender_org, info.sender_device);
    m->received = now;
    m->fresh = 1;
    open_original(c, m, now);
    record_receipt(c, m->o);
    if (m->o->alert->type != LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT &&
        m->o->alert->ack != LIAISON__ACK_REQUEST__ACK_NONE && c->rc != NULL &&
        send_receipt(c, m->o, LIAISON__RECEIPT_KIND__RECEIPT_DELIVERED, now) == 0)
        lsn_local_audit(c->p->store, now, "receipt", "delivered %s to %s", hex,
                        info.sender_org);
    *out = m;
    m = NULL;
out:
    lsn_message_free(&m);
    return r;
}

/* ------------------------------------------------------------ deliveries */

/* Older keys retire as the org's own bundle says. */
/* Older keys retire as the org's own bundle says; a secret past its
 * retirement is wiped (epoch forward secrecy: messages already received
 * keep their own content keys in the store).  1 if the credential changed. */
static int
sync_retirement(struct lsn_client *c, int64_t now)
{
    struct lsn_credential *cred = c->p->cred;
    struct lsn_bundle *own = NULL;
    size_t keep = 0;
    int changed = 0;

    if (lsn_client_bundle(c, cred->org, now, 0, &own) == 0) {
        uint32_t newest = lsn_bundle_newest_key(own)->key_id;
        for (size_t i = 0; i < cred->n_enc; i++) {
            const Liaison__EncKey *k = lsn_bundle_find_key(own, cred->enc[i].key_id);
            if (k == NULL && cred->enc[i].key_id < newest) {
                /* Dropped from the bundle while this device was away. */
                cred->enc[i].retire_after = 1;
                changed = 1;
            } else if (k != NULL && cred->enc[i].retire_after != k->retire_after) {
                cred->enc[i].retire_after = k->retire_after;
                changed = 1;
            }
        }
        lsn_bundle_destroy(&own);
    }
    for (size_t i = 0; i < cred->n_enc; i++) {
        if (cred->enc[i].retire_after != 0 && cred->enc[i].retire_after < now) {
            changed = 1;
            continue;
        }
        if (keep != i)
            cred->enc[keep] = cred->enc[i];
        keep++;
    }
    for (size_t i = keep; i < cred->n_enc; i++)
        sodium_memzero(&cred->enc[i], sizeof cred->enc[i]);
    cred->n_enc = keep;
    return changed;
}

int
lsn_client_apply_deliveries(struct lsn_client *c, int64_t now, size_t *n)
{
    Liaison__DirGetReply *rep = NULL;
    struct lsn_roster *ro = NULL;
    int r;

    *n = 0;
    if (!c->p->cred->may_receive)
        return 0;
    if ((r = lsn_client_connect(c)) != 0)
        return r;
    r = lsn_relay_client_dir_get(c->rc, LIAISON__DIR_KIND__DIR_DELIVERY,
                                 c->p->cred->org, c->p->cred->device, &rep);
    if (r == LSN_ERR_NOT_FOUND)
        return 0;
    if (r != 0 || (r = lsn_profile_roster(c->p, now, &ro)) != 0)
        goto out;
    for (size_t i = 0; i < rep->n_objects; i++) {
        struct lsn_delivery *d = NULL;
        int e = lsn_delivery_parse(rep->objects[i].data, rep->objects[i].len, &d);
        /* An old delivery (ROLLBACK) is simply not news. */
        if (e == 0 && (e = lsn_delivery_apply(d, ro, c->p->cred)) == 0) {
            (*n)++;
            lsn_local_audit(c->p->store, now, "key", "encryption key %u of %s "
                            "delivered", d->d->key_id, d->d->org);
        }
        lsn_delivery_destroy(&d);
    }
    if (*n > 0) {
        /* The new key names the old one's retirement in the new bundle. */
        struct lsn_bundle *own = NULL;
        (void)lsn_client_bundle(c, c->p->cred->org, now, 1, &own);
        lsn_bundle_destroy(&own);
    }
    if (sync_retirement(c, now) || *n > 0)
        r = lsn_profile_save_credential(c->p);
out:
    lsn_roster_destroy(&ro);
    lsn_pb_free((ProtobufCMessage *)rep);
    return r;
}

/* ------------------------------------------------------------ fetch, watch */

/* Acks one item with its outcome (0 stored, else the refusal's code). */
static int
ack_one(struct lsn_client *c, const char *org, const uint8_t id[16], int outcome,
        uint64_t gap_seen)
{
    const char *orgs[1] = { org };
    uint8_t ids[1][16];
    int oc[1] = { outcome };

    memcpy(ids[0], id, 16);
    return lsn_relay_client_ack_outcome(c->rc, orgs, (const uint8_t (*)[16])ids, oc,
                                        1, gap_seen, 0, NULL);
}

/* An envelope that can never open on this device, whatever happens next:
 * it is refused for good (recorded in the audit log, then acknowledged
 * with the refusal as its outcome, which the sender's status shows) so
 * that it cannot block the queue.  Anything else waits: not acknowledged,
 * passed over, and tried again at the next fetch. */
static int
refusal_is_permanent(int err)
{
    switch (err) {
    case LSN_ERR_BAD_SIGNATURE: case LSN_ERR_REVOKED: case LSN_ERR_UNKNOWN_DEVICE:
    case LSN_ERR_NOT_RECIPIENT: case LSN_ERR_DECRYPT: case LSN_ERR_COMMIT:
    case LSN_ERR_MALFORMED: case LSN_ERR_TRUNCATED: case LSN_ERR_SUITE:
    case LSN_ERR_TTL: case LSN_ERR_EXPIRED: case LSN_ERR_KEY_RETIRED:
    case LSN_ERR_LIMIT: case LSN_ERR_INVALID: case LSN_ERR_TOO_LARGE:
    case LSN_ERR_REPLAY: case LSN_ERR_UNKNOWN_ORG: case LSN_ERR_USAGE:
    case LSN_ERR_CONFLICT:
        return 1;
    case LSN_ERR_STORE_FULL: case LSN_ERR_IO: case LSN_ERR_NOMEM:
        return 0;       /* this device's resources: try again later */
    default:
        return 0;
    }
}

/* Handles one queue item: 1 if it may be acked (stored or a relay notice:
 * *outcome 0; refused for good: *outcome the LSN_ERR_* code), 0 to leave
 * it queued (it waits; counted in c->waiting).  Sets *stop if fn asks. */
static int
take_item(struct lsn_client *c, const Liaison__QueueItem *it, lsn_client_msg_fn fn,
          lsn_client_err_fn on_error, void *ctx, int *stop, int *outcome)
{
    struct lsn_envelope_info info;
    struct lsn_message *m = NULL;
    char hex[33] = "";
    int r, peeked;

    *outcome = 0;
    if (it->notice != NULL) {
        /* The relay's own word: kept in the audit log, then acked. */
        if (it->notice->msg_id.len == 16)
            lsn_hex(hex, it->notice->msg_id.data, 16);
        lsn_local_audit(c->p->store, lsn_now(), "relay-notice", "%s: msg %s",
                        it->notice->kind, hex);
        if (on_error != NULL && it->notice->msg_id.len == 16)
            on_error(ctx, it->notice->org, it->notice->msg_id.data, LSN_ERR_EXPIRED);
        return 1;
    }
    /* The ack names what the relay said; it must be what the envelope is. */
    r = lsn_envelope_peek(it->envelope.data, it->envelope.len, 0, &info);
    peeked = r == 0;
    if (r == 0 && (it->msg_id.len != 16 || strcmp(it->org, info.sender_org) != 0 ||
                   memcmp(it->msg_id.data, info.msg_id, 16) != 0))
        r = LSN_ERR_PROTOCOL;
    c->trust_wait = 0;
    if (r == 0) {
        c->taking = 1;
        r = lsn_client_accept(c, it->envelope.data, it->envelope.len, lsn_now(), &m);
        c->taking = 0;
    }
    if (r == LSN_ERR_REPLAY) {
        /* (org, msg_id) is in the seen table: this device stored this
         * signed message once and pruned it since (or another process
         * stored it just now).  Another copy is acked as taken: a refusal
         * would tell the sender, in a signed receipt that outranks its
         * read receipt, that a message read here was never delivered. */
        lsn_hex(hex, it->msg_id.data, 16);
        lsn_local_audit(c->p->store, lsn_now(), "receive", "msg %s from %s again: "
                        "taken before", hex, it->org);
        lsn_set_detail("%s", "");
        return 1;
    }
    if (r != 0) {
        if (!refusal_is_permanent(r) || c->trust_wait || it->msg_id.len != 16) {
            c->waiting++;
            /* A full store is the reason the user must act on. */
            if (c->waiting_err != LSN_ERR_STORE_FULL)
                c->waiting_err = r;
            lsn_set_detail("%s", "");
            return 0;
        }
        c->refused++;
        if (on_error != NULL)
            on_error(ctx, it->org, it->msg_id.data, r);
        lsn_hex(hex, it->msg_id.data, 16);
        lsn_local_audit(c->p->store, lsn_now(), "refused", "msg %s from %s: %s",
                        hex, it->org, lsn_strerror(r));
        *outcome = r < LSN_ACK_REASON_MIN ? LSN_ERR_INVALID : r;
        /* The sender hears it end to end too, when it is known to have
         * signed this (the peek above checked the ref is the envelope's),
         * and it was sent here: one addressed to other orgs is a relay's
         * doing, which it could repeat to make this device sign receipts
         * without end. */
        if (peeked && c->rc != NULL && r != LSN_ERR_NOT_RECIPIENT &&
            signed_by_sender(c, it->envelope.data, it->envelope.len, &info) &&
            send_refusal(c, info.sender_org, info.msg_id, *outcome, lsn_now()) == 0)
            lsn_local_audit(c->p->store, lsn_now(), "receipt", "refused %s to %s",
                            hex, info.sender_org);
        return 1;
    }
    if (m->fresh && fn != NULL && fn(ctx, m) != 0)
        *stop = 1;
    lsn_message_free(&m);
    return 1;
}

/* One gap report: each trimmed ref to on_error, a line in the audit log. */
static void
note_gap(struct lsn_client *c, const Liaison__QueueGap *gap,
         lsn_client_err_fn on_error, void *ctx)
{
    if (gap == NULL || gap->trimmed == 0)
        return;
    if (on_error != NULL)
        for (size_t i = 0; i < gap->n_refs; i++)
            on_error(ctx, gap->refs[i]->org, gap->refs[i]->msg_id.data, LSN_ERR_QUOTA);
    lsn_local_audit(c->p->store, lsn_now(), "gap", "%llu message(s) "
                    "trimmed by the relay before this device fetched them",
                    (unsigned long long)gap->trimmed);
}

int
lsn_client_fetch(struct lsn_client *c, lsn_client_msg_fn fn,
                 lsn_client_err_fn on_error, void *ctx, size_t *n)
{
    uint64_t after = 0, gap_seen = 0;
    size_t keys = 0;
    int r, stop = 0, first = 1, gap_told = 0;

    *n = 0;
    c->refused = 0;
    c->waiting = 0;
    c->waiting_err = 0;
    c->n_absent = 0;        /* ask the relay again for what it lacked */
    if ((r = lsn_client_connect(c)) != 0)
        return r;
    /* Keys first: the envelopes fetched next may need them. */
    if ((r = lsn_client_apply_deliveries(c, lsn_now(), &keys)) != 0)
        return relay_fail(c, r);
    /* Once through the whole queue, a cursor past each batch: items that
     * wait (not acked) stay behind it and never hide the ones after. */
    while (!stop && r == 0) {
        Liaison__FetchReply *rep = NULL;
        if ((r = lsn_relay_client_fetch_after(c->rc, LSN_FETCH_BATCH, after, &rep)) != 0)
            return relay_fail(c, r);
        if (first) {
            note_gap(c, rep->gap, on_error, ctx);
            gap_seen = rep->gap ? rep->gap->trimmed : 0;
            first = 0;
        }
        if (rep->n_items == 0) {
            lsn_pb_free((ProtobufCMessage *)rep);
            break;
        }
        for (size_t i = 0; i < rep->n_items && r == 0 && !stop; i++) {
            const Liaison__QueueItem *it = rep->items[i];
            int outcome = 0;
            if (it->seq <= after) {
                /* A relay that ignores the cursor would loop us forever. */
                lsn_set_detail("the relay answered a fetch after item %llu with "
                               "item %llu", (unsigned long long)after,
                               (unsigned long long)it->seq);
                r = LSN_ERR_PROTOCOL;
                break;
            }
            after = it->seq;
            if (take_item(c, it, fn, on_error, ctx, &stop, &outcome) > 0) {
                r = ack_one(c, it->org, it->msg_id.data, outcome, gap_seen);
                gap_told = 1;
                if (outcome == 0 && it->envelope.len > 0 && it->notice == NULL)
                    (*n)++;
            }
        }
        lsn_pb_free((ProtobufCMessage *)rep);
    }
    /* The gap was shown: acknowledged even when every item waits, or the
     * next fetch would name the same trimmed messages again. */
    if (r == 0 && gap_seen > 0 && !gap_told)
        r = lsn_relay_client_ack_outcome(c->rc, NULL, NULL, NULL, 0, gap_seen, 0, NULL);
    if (c->waiting > 0)
        lsn_local_audit(c->p->store, lsn_now(), "waiting", "%zu message(s) left "
                        "queued at the relay: %s", c->waiting,
                        lsn_strerror(c->waiting_err));
    /* Seen entries past their time are of no more use. */
    (void)lsn_local_prune(c->p->store, lsn_now());
    return relay_fail(c, r);
}

/* How often watch looks for stored sends whose retry time has come. */
#define WATCH_RESEND_S 5

int
lsn_client_watch(struct lsn_client *c, lsn_client_msg_fn fn,
                 lsn_client_err_fn on_error, void *ctx, volatile int *stop,
                 int poll_ms)
{
    int64_t backoff = LSN_RETRY_MIN_S, retry_at = 0;
    size_t n = 0;
    int r, quit = 0;
    int64_t next_resend = lsn_now() + WATCH_RESEND_S;

    /* What waits already, then what arrives. */
    if ((r = lsn_client_fetch(c, fn, on_error, ctx, &n)) != 0)
        return r;
    if (c->waiting > 0)
        retry_at = lsn_now() + backoff;
    if ((r = lsn_relay_client_subscribe(c->rc, 16, NULL)) != 0)
        return relay_fail(c, r);
    while (!quit && (stop == NULL || !*stop)) {
        Liaison__Response *resp = NULL;
        uint32_t passed = 0;
        uint64_t gap = 0;
        /* Items that wait are tried again by a whole fetch, with back-off:
         * the relay does not push them twice. */
        if (retry_at != 0 && lsn_now() >= retry_at) {
            if ((r = lsn_client_fetch(c, fn, on_error, ctx, &n)) != 0)
                break;
            if (c->waiting == 0) {
                backoff = LSN_RETRY_MIN_S;
                retry_at = 0;
            } else {
                backoff = backoff * 2 > LSN_RETRY_MAX_S ? LSN_RETRY_MAX_S : backoff * 2;
                retry_at = lsn_now() + backoff;
            }
        }
        r = lsn_relay_client_next_push(c->rc, poll_ms, &resp);
        if (r == LSN_ERR_TIMEOUT) {
            r = 0;
            /* Sends waiting out a quota go again once their time comes. */
            if (lsn_now() >= next_resend) {
                size_t resent = 0;
                (void)lsn_client_resubmit(c, &resent);
                next_resend = lsn_now() + WATCH_RESEND_S;
            }
            continue;
        }
        if (r != 0)
            break;
        if (resp->push != NULL) {
            note_gap(c, resp->push->gap, on_error, ctx);
            gap = resp->push->gap != NULL ? resp->push->gap->trimmed : 0;
        }
        for (size_t i = 0; resp->push != NULL && i < resp->push->n_items && r == 0 && !quit;
             i++) {
            const Liaison__QueueItem *it = resp->push->items[i];
            int outcome = 0;
            /* A push's gap is acknowledged once, with the first ack. */
            if (take_item(c, it, fn, on_error, ctx, &quit, &outcome) > 0) {
                r = ack_one(c, it->org, it->msg_id.data, outcome, gap);
                gap = 0;
            } else {
                passed++;
            }
        }
        /* The push credit of what waits comes back; the items stay queued
         * for the next retry. */
        if (r == 0 && (passed > 0 || gap > 0))
            r = lsn_relay_client_ack_outcome(c->rc, NULL, NULL, NULL, 0, gap, passed,
                                             NULL);
        if (passed > 0 && retry_at == 0)
            retry_at = lsn_now() + backoff;
        lsn_pb_free((ProtobufCMessage *)resp);
        if (r != 0)
            break;
    }
    return relay_fail(c, r);
}

/* ------------------------------------------------------------ reading */

struct each_ctx {
    struct lsn_client *c;
    int unread_only;
    lsn_client_msg_fn fn;
    void *ctx;
};

static int
each_one(void *ctx, const struct lsn_local_msg *st)
{
    struct each_ctx *x = ctx;
    struct lsn_message m = { 0 };
    int r;

    if (x->unread_only && st->read)
        return 0;
    if ((r = lsn_open_with_key(st->envelope, st->len, st->key, st->sign_key,
                               &m.o)) != 0)
        return r;
    m.received = st->received;
    m.read = st->read;
    if (m.o->alert->type != LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT) {
        open_original(x->c, &m, lsn_now());
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
    struct each_ctx x = { c, unread_only, fn, ctx };

    return lsn_local_each_received(c->p->store, each_one, &x);
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
    if ((r = message_from_store(c, org, id, lsn_now(), out)) != 0 || !mark_read ||
        (*out)->read)
        return r;
    if ((r = lsn_local_mark_read(c->p->store, org, id)) != 0)
        return r;
    lsn_hex(hex, id, 16);
    lsn_local_audit(c->p->store, lsn_now(), "read", "msg %s from %s", hex, org);
    if ((*out)->o->alert->ack == LIAISON__ACK_REQUEST__ACK_READ &&
        c->p->read_receipts && lsn_client_connect(c) == 0 &&
        send_receipt(c, (*out)->o, LIAISON__RECEIPT_KIND__RECEIPT_READ, lsn_now()) == 0)
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
    Liaison__Alert a = LIAISON__ALERT__INIT;
    Liaison__Forwarded f = LIAISON__FORWARDED__INIT;
    char title[LSN_ALERT_TITLE_MAX + 1], hex[33];
    uint8_t *env = NULL;
    size_t len = 0;
    int r;

    if ((r = lsn_client_read(c, prefix, 0, &m)) != 0)
        return r;
    /* A forward of a forward carries the forward (which carries the
     * original): every layer's TLP binds, and an original that did not
     * verify is not passed on. */
    if (m->o->alert->forwarded != NULL && m->original_err != 0) {
        r = m->original_err;
        lsn_set_detail("the original inside this forward did not verify");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((r = lsn_client_tlp_allows(m->o->alert->tlp, c->p->cred->org, to[i])) != 0 ||
            (m->original != NULL &&
             (r = lsn_client_tlp_allows(m->original->alert->tlp, c->p->cred->org,
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
    f.envelope = (ProtobufCBinaryData){ st->len, st->envelope };
    f.key = (ProtobufCBinaryData){ 32, st->key };
    a.forwarded = &f;
    if ((r = lsn_client_seal(c, &a, to, n, now, LSN_DEFAULT_TTL, NULL, msg_id,
                             &env, &len)) != 0)
        goto out;
    lsn_hex(hex, m->o->msg_id, 16);
    lsn_local_audit(c->p->store, now, "forward", "msg %s of %s to %zu org(s)", hex,
                    m->o->sender_org, n);
    r = lsn_client_submit(c, msg_id, msg_id);
out:
    free(env);
    lsn_local_msg_free(&st);
    lsn_message_free(&m);
    return r;
}
