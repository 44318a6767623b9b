/* send.c: the sending side of the client (see client.h): recipients' bundles
 * checked against the roster, the alert sealed and recorded in the local
 * store before it is submitted, the stored bytes submitted and resubmitted
 * (re-sealed once when a recipient's key is stale). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/client.h"
#include "client/client_int.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"

static void
free_bundles(struct lsn_bundle **b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lsn_bundle_destroy(&b[i]);
    free(b);
}

/* The first of to[0..n) the roster does not name, or NULL. */
static const char *
not_in_roster(const struct lsn_roster *ro, const char *const *to, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lsn_roster_find_org(ro, to[i]) == NULL)
            return to[i];
    return NULL;
}

/* Every destination in the roster, once; their bundles. */
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
        if ((r = lsn_client_connect(c)) == LSN_ERR_INTERRUPTED)
            goto out;
        asked = r == 0;
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

/* The encoded alert of the sent record held under msg_id, unsealed into
 * *out (malloc'd, *len bytes; the caller wipes and frees it).
 * LSN_ERR_NOT_FOUND once the relay took it and the content was wiped. */
static int
sent_content(struct lsn_client *c, const Liaison__StoredSent *rec,
             const uint8_t msg_id[16], uint8_t **out, size_t *len)
{
    size_t n;
    int r;

    *out = NULL;
    *len = 0;
    if (rec->sealed_content.len <= LSN_LOCAL_SEAL_OVERHEAD)
        return LSN_ERR_NOT_FOUND;
    n = rec->sealed_content.len - LSN_LOCAL_SEAL_OVERHEAD;
    if ((*out = malloc(n)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_local_unseal(c->p->store, rec->sealed_content.data,
                              rec->sealed_content.len, msg_id, 16, *out)) != 0) {
        sodium_memzero(*out, n);
        free(*out);
        *out = NULL;
        return r;
    }
    *len = n;
    return 0;
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
    } else if (same && sent_content(c, held, msg_id, &plain, &pl) == 0) {
        lsn_local_digest(c->p->store, plain, pl, d);
        same = sodium_memcmp(d, digest, 32) == 0;
        sodium_memzero(plain, pl);
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

/* The alert's SentSummary sealed under the local store key, bound to
 * msg_id || "summary" (*out malloc'd): what `liaison sent` shows once the
 * content is wiped. */
static int
seal_summary(struct lsn_client *c, const Liaison__Alert *a, const uint8_t msg_id[16],
             uint8_t **out, size_t *len)
{
    Liaison__SentSummary sum = LIAISON__SENT_SUMMARY__INIT;
    uint8_t ad[16 + LSN_SUMMARY_AD_LEN], *plain = NULL;
    struct timespec ts;
    size_t pl = 0;
    int r;

    sum.type = a->type;
    sum.title = a->title;
    sum.tlp = a->tlp;
    sum.priority = a->priority;
    sum.sealed_only = c->offline != 0;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        sum.sealed_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    memcpy(ad, msg_id, 16);
    memcpy(ad + 16, LSN_SUMMARY_AD, LSN_SUMMARY_AD_LEN);
    if ((r = lsn_pb_encode(&sum.base, &plain, &pl)) != 0)
        return r;
    r = lsn_local_seal(c->p->store, plain, pl, ad, sizeof ad, out, len);
    sodium_memzero(plain, pl);
    free(plain);
    return r;
}

/* The record of a sealed envelope, with its content sealed under the local
 * store key until the relay takes it (so a refusal as stale can re-seal),
 * and its summary for as long as the record stays. */
static int
record_sent(struct lsn_client *c, const Liaison__Alert *a, const char *const *to,
            size_t n, const struct lsn_seal_params *sp, const char *idem,
            const uint8_t msg_id[16], const uint8_t *env, size_t len)
{
    Liaison__StoredSent rec = LIAISON__STORED_SENT__INIT, *held = NULL;
    uint8_t *content = NULL, *sealed = NULL, *summary = NULL, digest[32];
    size_t cl = 0, sl = 0, suml = 0;
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
    if ((r = lsn_local_seal(c->p->store, content, cl, msg_id, 16, &sealed, &sl)) != 0 ||
        (r = seal_summary(c, a, msg_id, &summary, &suml)) != 0)
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
    rec.sealed_summary = (ProtobufCBinaryData){ suml, summary };
    r = lsn_local_put_sent(c->p->store, msg_id, &rec);
out:
    lsn_pb_free((ProtobufCMessage *)held);
    if (content != NULL) {
        sodium_memzero(content, cl);
        free(content);
    }
    free(sealed);
    free(summary);
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
    if ((r = sent_content(c, rec, msg_id, &content, &cl)) != 0)
        return r == LSN_ERR_NOT_FOUND ? LSN_ERR_STALE_KEY : r;
    if ((r = lsn_alert_decode(content, cl, &a)) != 0)
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
        return lsn_client_relay_fail(c, r);
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
    void *p;

    if (rec->expires <= lsn_now())
        return 0;           /* nothing to retry: it would only be refused */
    if (rec->waiting != 0 && rec->retry_at > lsn_now())
        return 0;           /* refused for a while: not yet */
    if ((p = lsn_grow(x->ids, &x->cap, x->n, sizeof *x->ids, 16)) == NULL)
        return LSN_ERR_NOMEM;
    x->ids = p;
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
    /* Connected first, so that what is said is in the order it is done. */
    if (r == 0 && x.n > 0 && lsn_client_connect(c) == 0)
        lsn_client_progress(c, "resending %zu stored message%s", x.n,
                            x.n == 1 ? "" : "s");
    /* Each record on its own: one refusal does not hold back the rest. */
    for (size_t i = 0; r == 0 && i < x.n && !unreachable; i++) {
        int e = lsn_client_submit(c, x.ids[i].id, NULL);
        if (e == 0)
            (*n)++;
        else if (!refusal_is_final(e) && !refusal_waits(e))
            unreachable = e;
    }
    lsn_client_progress(c, NULL);
    free(x.ids);
    return r != 0 ? r : unreachable;
}
