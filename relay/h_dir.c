/* h_dir.c: the directory handlers: a put of a roster, a bundle or a key
 * delivery (from a client, from a peer relay's sync, from the operator's
 * import), each verified against what is held, and a get. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/delivery.h"
#include "keys/signed.h"
#include "proto/err.h"
#include "proto/limits.h"
#include "relay/arena.h"
#include "relay/dir.h"
#include "relay/handlers.h"
#include "relay/log.h"
#include "relay/peer.h"

#define DIR_LIST_MAX    64
#define DIR_PRUNE_MAX   256

/* ---------------------------------------------------------- directory */

static int
put_reply(struct lsn_relay *r, Liaison__Response *resp, int unchanged,
          uint64_t version)
{
    Liaison__DirPutReply *p = lsn_arena_alloc(r, sizeof *p);

    if (p == NULL)
        return LSN_ERR_NOMEM;
    liaison__dir_put_reply__init(p);
    p->unchanged = unchanged;
    p->version = version;
    resp->body_case = LIAISON__RESPONSE__BODY_DIR_PUT;
    resp->dir_put = p;
    return 0;
}

/* A bundle from key w->key: for an unknown key only one that lists that key
 * as an admin device (checked before any signature). */
static int
put_bundle(struct lsn_relay *r, const struct who *w, const ProtobufCBinaryData *o,
           Liaison__Response *resp, int *commit)
{
    struct lsn_bundle *b = NULL, *held;
    char name[16 + LSN_ORG_ID_MAX];
    int oi, rc, unchanged = 0;
    uint64_t version;

    if ((rc = lsn_bundle_parse(o->data, o->len, &b)) != 0) {
        lsn_relay_msg(r, "bundle refused: %s", lsn_strerror(rc));
        return rc;
    }
    if ((oi = lsn_relay_org_index(r, b->b->org)) < 0) {
        lsn_relay_msg(r, "bundle of `%s`: not in roster v%llu", b->b->org,
                      (unsigned long long)r->roster->r->version);
        rc = LSN_ERR_UNKNOWN_ORG;
        goto out;
    }
    if (w->kind == WHO_UNKNOWN) {
        int self_admin = 0;
        for (size_t j = 0; j < b->b->n_devices; j++) {
            const Liaison__Device *d = b->b->devices[j];
            if (d->role == LIAISON__DEVICE_ROLE__ROLE_ADMIN && d->curve_key.len == 32 &&
                memcmp(d->curve_key.data, w->key, 32) == 0)
                self_admin = 1;
        }
        if (!self_admin) {
            rc = LSN_ERR_DENIED;
            goto out;
        }
    }
    if ((rc = lsn_bundle_verify(b, r->roster, lsn_relay_time(r))) != 0) {
        lsn_relay_msg(r, "bundle of `%s` v%llu: %s", b->b->org,
                      (unsigned long long)b->b->version, lsn_strerror(rc));
        goto out;
    }
    held = r->bundles[oi];
    version = b->b->version;
    if (held != NULL && held->len == b->len && memcmp(held->bytes, b->bytes, b->len) == 0) {
        unchanged = 1;
        goto reply;
    }
    if (held != NULL && b->b->version <= held->b->version) {
        rc = b->b->version == held->b->version ? LSN_ERR_CONFLICT : LSN_ERR_ROLLBACK;
        lsn_relay_msg(r, "bundle of `%s` v%llu: %s (held: v%llu)", b->b->org,
                      (unsigned long long)b->b->version, lsn_strerror(rc),
                      (unsigned long long)held->b->version);
        goto out;
    }
    if (held != NULL && (rc = lsn_bundle_verify_next(held, b)) != 0) {
        lsn_relay_msg(r, "bundle of `%s` v%llu does not chain from held v%llu: %s",
                      b->b->org, (unsigned long long)b->b->version,
                      (unsigned long long)held->b->version, lsn_strerror(rc));
        goto out;
    }
    snprintf(name, sizeof name, "bundle/%s", b->b->org);
    if ((rc = lsn_store_dir_put(r->store, name, b->bytes, b->len)) != 0)
        goto out;
    lsn_relay_log("bundle of %s v%llu stored (from %s)", b->b->org,
                  (unsigned long long)b->b->version,
                  w->kind == WHO_UNKNOWN ? "a new admin key" : w->id);
    lsn_peers_dir_push(r, LIAISON__DIR_KIND__DIR_BUNDLE, b->bytes, b->len);
    rc = lsn_relay_bundle_replace(r, oi, b);
    b = NULL;
    r->dirty = 1;
    if (rc != 0)
        goto out;
reply:
    *commit = 1;
    rc = put_reply(r, resp, unchanged, version);
out:
    lsn_bundle_destroy(&b);
    return rc;
}

int
lsn_relay_import_bundle(struct lsn_relay *r, const uint8_t *buf, size_t len)
{
    struct who w;
    Liaison__Response resp = LIAISON__RESPONSE__INIT;
    ProtobufCBinaryData o = { len, (uint8_t *)buf };
    int commit = 0, rc;

    memset(&w, 0, sizeof w);
    w.kind = WHO_NONE;
    snprintf(w.id, sizeof w.id, "the operator's import");
    r->msg[0] = '\0';
    rc = put_bundle(r, &w, &o, &resp, &commit);
    lsn_relay_response_free(r);
    return rc;
}

static int
put_roster(struct lsn_relay *r, const ProtobufCBinaryData *o,
           Liaison__Response *resp, int *commit)
{
    struct lsn_roster *ro = NULL;
    uint64_t version;
    int rc;

    if ((rc = lsn_roster_parse(o->data, o->len, &ro)) != 0) {
        lsn_relay_msg(r, "roster refused: %s", lsn_strerror(rc));
        return rc;
    }
    version = ro->r->version;
    if (ro->len == r->roster->len && memcmp(ro->bytes, r->roster->bytes, ro->len) == 0) {
        lsn_roster_destroy(&ro);
        *commit = 1;
        return put_reply(r, resp, 1, version);
    }
    if (version <= r->roster->r->version) {
        rc = version == r->roster->r->version ? LSN_ERR_CONFLICT : LSN_ERR_ROLLBACK;
        lsn_relay_msg(r, "roster v%llu: %s (held: v%llu)", (unsigned long long)version,
                      lsn_strerror(rc), (unsigned long long)r->roster->r->version);
        goto out;
    }
    if ((rc = lsn_roster_verify_next(r->roster, ro, lsn_relay_time(r), 1)) != 0) {
        lsn_relay_msg(r, "roster v%llu does not follow held v%llu: %s",
                      (unsigned long long)version,
                      (unsigned long long)r->roster->r->version, lsn_strerror(rc));
        goto out;
    }
    if ((rc = lsn_store_dir_put(r->store, "roster", ro->bytes, ro->len)) != 0 ||
        (rc = lsn_relay_roster_history(r, ro)) != 0)
        goto out;
    lsn_relay_log("roster v%llu stored", (unsigned long long)version);
    lsn_peers_dir_push(r, LIAISON__DIR_KIND__DIR_ROSTER, ro->bytes, ro->len);
    rc = lsn_relay_roster_replace(r, ro);
    ro = NULL;
    r->dirty = 1;
    if (rc == 0) {
        *commit = 1;
        rc = put_reply(r, resp, 0, version);
    }
out:
    lsn_roster_destroy(&ro);
    return rc;
}

/* Deletes the key deliveries of org/device that a newer one supersedes
 * and the org's held bundle no longer lists.  Those that it lists are
 * kept: a device that missed several rotations still opens mail sealed to
 * keys within their grace period.  Looks at the last DIR_PRUNE_MAX
 * deliveries (each put prunes, so that is all of them but in a store
 * written before); names end in the zero-padded key id, so they come in
 * key order and the last is the newest. */
static int
prune_deliveries(struct lsn_relay *r, const char *org, const char *device)
{
    int oi = lsn_relay_org_index(r, org);
    const struct lsn_bundle *b = oi < 0 ? NULL : r->bundles[oi];
    struct lsn_delivery *last = NULL;
    char prefix[128], name[160];
    uint8_t **bufs = NULL;
    size_t *lens = NULL, n = 0;
    int rc;

    if (b == NULL)
        return 0;
    snprintf(prefix, sizeof prefix, "delivery/%s/%s/", org, device);
    if ((rc = lsn_store_dir_list_last(r->store, prefix, &bufs, &lens, &n,
                                      DIR_PRUNE_MAX)) != 0)
        return rc;
    /* A newest that does not parse: leave them all. */
    if (n > 0 && lsn_delivery_parse(bufs[n - 1], lens[n - 1], &last) != 0)
        last = NULL;
    for (size_t i = 0; last != NULL && i + 1 < n && rc == 0; i++) {
        struct lsn_delivery *d = NULL;
        if (lsn_delivery_parse(bufs[i], lens[i], &d) == 0 &&
            d->d->key_id < last->d->key_id && lsn_bundle_find_key(b, d->d->key_id) == NULL) {
            snprintf(name, sizeof name, "%s%010u", prefix, d->d->key_id);
            if ((rc = lsn_store_dir_del(r->store, name)) == 0)
                lsn_relay_log("key delivery %s/%s key %u dropped: key %u supersedes "
                              "it and bundle v%llu no longer lists it", org, device,
                              d->d->key_id, last->d->key_id,
                              (unsigned long long)b->b->version);
        }
        lsn_delivery_destroy(&d);
    }
    lsn_delivery_destroy(&last);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    return rc;
}

/* 1 if a delivery of key key_id to org/device is one prune_deliveries
 * would drop at once: a newer one is held and the org's held bundle does
 * not list key_id.  Such a delivery is answered as held and neither
 * stored nor sent on: stored, it would be pruned and sent to every peer,
 * which prunes it and sends it back, round the federation for ever. */
static int
delivery_superseded(struct lsn_relay *r, const char *org, const char *device,
                    uint32_t key_id)
{
    int oi = lsn_relay_org_index(r, org);
    const struct lsn_bundle *b = oi < 0 ? NULL : r->bundles[oi];
    struct lsn_delivery *last = NULL;
    char prefix[128];
    uint8_t **bufs = NULL;
    size_t *lens = NULL, n = 0;
    int newer = 0;

    if (b == NULL || lsn_bundle_find_key(b, key_id) != NULL)
        return 0;
    snprintf(prefix, sizeof prefix, "delivery/%s/%s/", org, device);
    if (lsn_store_dir_list_last(r->store, prefix, &bufs, &lens, &n, 1) != 0)
        return 0;
    if (n == 1 && lsn_delivery_parse(bufs[0], lens[0], &last) == 0)
        newer = last->d->key_id > key_id;
    lsn_delivery_destroy(&last);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    return newer;
}

static int
put_delivery(struct lsn_relay *r, const ProtobufCBinaryData *o,
             Liaison__Response *resp, int *commit)
{
    struct lsn_delivery *d = NULL;
    const Liaison__RosterOrg *ro;
    uint8_t *held = NULL;
    size_t hl = 0;
    char name[128];
    int rc, unchanged = 0;

    if ((rc = lsn_delivery_parse(o->data, o->len, &d)) != 0) {
        lsn_relay_msg(r, "key delivery refused: %s", lsn_strerror(rc));
        return rc;
    }
    if ((ro = lsn_roster_find_org(r->roster, d->d->org)) == NULL) {
        lsn_relay_msg(r, "key delivery for `%s`: not in the roster", d->d->org);
        rc = LSN_ERR_UNKNOWN_ORG;
        goto out;
    }
    if (ro->root_key.len != 32 || (rc = lsn_signed_verify_by(d->so, ro->root_key.data)) != 0) {
        lsn_relay_msg(r, "key delivery for %s/%s: not signed by the org root",
                      d->d->org, d->d->device);
        rc = rc != 0 ? rc : LSN_ERR_BAD_SIGNATURE;
        goto out;
    }
    if (lsn_relay_device(r, d->d->org, d->d->device) == NULL) {
        lsn_relay_msg(r, "key delivery for %s/%s: no such device in the held bundle "
                      "(publish the bundle first)", d->d->org, d->d->device);
        rc = LSN_ERR_UNKNOWN_DEVICE;
        goto out;
    }
    snprintf(name, sizeof name, "delivery/%s/%s/%010u", d->d->org, d->d->device,
             d->d->key_id);
    if ((lsn_store_dir_get(r->store, name, &held, &hl) == 0 && hl == d->len &&
         memcmp(held, d->bytes, hl) == 0) ||
        delivery_superseded(r, d->d->org, d->d->device, d->d->key_id)) {
        unchanged = 1;
    } else if ((rc = lsn_store_dir_put(r->store, name, d->bytes, d->len)) != 0) {
        goto out;
    } else {
        /* Pruning is housekeeping: the delivery stands if it fails. */
        if (prune_deliveries(r, d->d->org, d->d->device) != 0)
            lsn_relay_log("key deliveries of %s/%s not pruned", d->d->org, d->d->device);
        r->dirty = 1;
        lsn_relay_log("key delivery %s/%s key %u stored", d->d->org, d->d->device,
                      d->d->key_id);
        lsn_peers_dir_push(r, LIAISON__DIR_KIND__DIR_DELIVERY, d->bytes, d->len);
    }
    *commit = 1;
    rc = put_reply(r, resp, unchanged, d->d->key_id);
out:
    free(held);
    lsn_delivery_destroy(&d);
    return rc;
}

int
h_dir_put(struct lsn_relay *r, struct conn *c, const struct who *w,
          const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__DirPutRequest *p = req->dir_put;

    (void)c;
    switch (p->kind) {
    case LIAISON__DIR_KIND__DIR_ROSTER:
        return put_roster(r, &p->object, resp, commit);
    case LIAISON__DIR_KIND__DIR_BUNDLE:
        return put_bundle(r, w, &p->object, resp, commit);
    case LIAISON__DIR_KIND__DIR_DELIVERY:
        return put_delivery(r, &p->object, resp, commit);
    default:
        lsn_relay_msg(r, "directory put: unknown kind %d", (int)p->kind);
        return LSN_ERR_INVALID;
    }
}

/* A peer relay's directory object: the same checks as a client's put. */
int
h_dir_sync(struct lsn_relay *r, struct conn *c, const struct who *w,
           const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__DirPutRequest *p = req->dir_sync;
    int rc;

    (void)c;
    switch (p->kind) {
    case LIAISON__DIR_KIND__DIR_ROSTER:
        rc = put_roster(r, &p->object, resp, commit);
        break;
    case LIAISON__DIR_KIND__DIR_BUNDLE:
        rc = put_bundle(r, w, &p->object, resp, commit);
        break;
    case LIAISON__DIR_KIND__DIR_DELIVERY:
        rc = put_delivery(r, &p->object, resp, commit);
        break;
    default:
        lsn_relay_msg(r, "directory sync: unknown kind %d", (int)p->kind);
        return LSN_ERR_INVALID;
    }
    if (rc == 0) {      /* the same answer under the relay-to-relay field */
        resp->body_case = LIAISON__RESPONSE__BODY_DIR_SYNC;
        resp->dir_sync = resp->dir_put;
    }
    return rc;
}

int
h_dir_get(struct lsn_relay *r, struct conn *c, const struct who *w,
          const Liaison__Request *req, Liaison__Response *resp, int *commit)
{
    const Liaison__DirGetRequest *g = req->dir_get;
    Liaison__DirGetReply *rep = lsn_arena_alloc(r, sizeof *rep);
    ProtobufCBinaryData *objs = lsn_arena_alloc(r, DIR_LIST_MAX * sizeof *objs);
    char prefix[128];
    uint8_t **bufs = NULL;
    size_t *lens = NULL, n = 0;
    int oi, rc;

    (void)c;
    if (rep == NULL || objs == NULL)
        return LSN_ERR_NOMEM;
    liaison__dir_get_reply__init(rep);
    resp->body_case = LIAISON__RESPONSE__BODY_DIR_GET;
    resp->dir_get = rep;
    rep->objects = objs;
    switch (g->kind) {
    case LIAISON__DIR_KIND__DIR_ROSTER:
        objs[0] = (ProtobufCBinaryData){ r->roster->len, r->roster->bytes };
        rep->n_objects = 1;
        return 0;
    case LIAISON__DIR_KIND__DIR_BUNDLE:
        if ((oi = lsn_relay_org_index(r, g->org)) < 0 || r->bundles[oi] == NULL) {
            lsn_relay_msg(r, "no bundle of `%s` at this relay", g->org);
            return LSN_ERR_NOT_FOUND;
        }
        objs[0] = (ProtobufCBinaryData){ r->bundles[oi]->len, r->bundles[oi]->bytes };
        rep->n_objects = 1;
        return 0;
    case LIAISON__DIR_KIND__DIR_DELIVERY:
        if (g->org[0] != '\0' && strcmp(g->org, w->org) != 0) {
            lsn_relay_msg(r, "key deliveries of `%s` are for its own devices only", g->org);
            return LSN_ERR_DENIED;
        }
        if (strlen(g->device) > LSN_ENV_DEVICE_MAX)
            return LSN_ERR_MALFORMED;
        snprintf(prefix, sizeof prefix, "delivery/%s/%s/", w->org,
                 g->device[0] != '\0' ? g->device : w->device);
        /* The newest (by key id), oldest first: a device takes a key only
         * if it is newer than every key it holds. */
        if ((rc = lsn_store_dir_list_last(r->store, prefix, &bufs, &lens, &n,
                                          DIR_LIST_MAX)) != 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            uint8_t *copy = lsn_arena_alloc(r, lens[i]);
            if (copy != NULL) {
                memcpy(copy, bufs[i], lens[i]);
                objs[rep->n_objects++] = (ProtobufCBinaryData){ lens[i], copy };
            }
            free(bufs[i]);
        }
        free(bufs);
        free(lens);
        *commit = 1;
        return 0;
    default:
        lsn_relay_msg(r, "directory get: unknown kind %d", (int)g->kind);
        return LSN_ERR_INVALID;
    }
}
