/* dir.c: the relay's directory state: the roster it holds, the bundle of
 * each roster org, and the allow-list of CURVE keys built from them (the
 * other relays of the roster, the devices of the orgs homed here).
 * Replacing the roster or a bundle keeps the three in step, drops the
 * queues of devices that may no longer receive, and has the forwarders
 * follow the roster's relays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"
#include "relay/dir.h"
#include "relay/log.h"
#include "relay/peer.h"

/* The allow-list: CURVE key -> identity. */
struct allow_entry {
    uint8_t key[32];
    char id[LSN_DEV_ID_MAX + 8];
};
int
lsn_relay_org_index(const struct lsn_relay *r, const char *org)
{
    for (size_t i = 0; i < r->roster->r->n_orgs; i++)
        if (strcmp(r->roster->r->orgs[i]->id, org) == 0)
            return (int)i;
    return -1;
}

const char *
lsn_relay_home(const struct lsn_relay *r, const char *org)
{
    int i = lsn_relay_org_index(r, org);

    return i < 0 || r->roster->r->orgs[i]->relay == NULL ? ""
           : r->roster->r->orgs[i]->relay;
}

const Liaison__Device *
lsn_relay_device(const struct lsn_relay *r, const char *org, const char *device)
{
    int i = lsn_relay_org_index(r, org);

    if (i < 0 || r->bundles[i] == NULL)
        return NULL;
    return lsn_bundle_find_device(r->bundles[i], device);
}

static int
allow_add(struct lsn_relay *r, const uint8_t key[32], const char *id)
{
    if (r->n_allow == r->cap_allow) {
        size_t cap = r->cap_allow ? 2 * r->cap_allow : 64;
        struct allow_entry *n = realloc(r->allow, cap * sizeof *n);
        if (n == NULL)
            return LSN_ERR_NOMEM;
        r->allow = n;
        r->cap_allow = cap;
    }
    memcpy(r->allow[r->n_allow].key, key, 32);
    snprintf(r->allow[r->n_allow].id, sizeof r->allow[r->n_allow].id, "%s", id);
    r->n_allow++;
    return 0;
}

static int
allow_cmp(const void *a, const void *b)
{
    return memcmp(((const struct allow_entry *)a)->key,
                  ((const struct allow_entry *)b)->key, 32);
}

int
lsn_relay_allow_rebuild(struct lsn_relay *r)
{
    const Liaison__Roster *ro = r->roster->r;
    char id[LSN_DEV_ID_MAX + 8];
    int rc;

    r->n_allow = 0;
    for (size_t i = 0; i < ro->n_relays; i++) {
        if (ro->relays[i]->curve_key.len != 32)
            continue;
        snprintf(id, sizeof id, "relay:%s", ro->relays[i]->name);
        if ((rc = allow_add(r, ro->relays[i]->curve_key.data, id)) != 0)
            return rc;
    }
    for (size_t i = 0; i < ro->n_orgs; i++) {
        const struct lsn_bundle *b = r->bundles[i];
        /* A device talks only to its org's home relay (docs/design.md
         * "Decisions"): bundles of orgs homed elsewhere are held for the
         * directory and for STALE_KEY, not to admit their devices. */
        if (b == NULL || strcmp(ro->orgs[i]->relay, r->name) != 0)
            continue;
        for (size_t j = 0; j < b->b->n_devices; j++) {
            const Liaison__Device *d = b->b->devices[j];
            if (d->curve_key.len != 32)
                continue;
            snprintf(id, sizeof id, "%s/%s", b->b->org, d->name);
            if ((rc = allow_add(r, d->curve_key.data, id)) != 0)
                return rc;
        }
    }
    qsort(r->allow, r->n_allow, sizeof *r->allow, allow_cmp);
    return 0;
}

const char *
lsn_relay_allow_find(const struct lsn_relay *r, const uint8_t key[32])
{
    const struct allow_entry *a;
    struct allow_entry k;

    memcpy(k.key, key, 32);
    a = r->n_allow == 0 ? NULL
        : bsearch(&k, r->allow, r->n_allow, sizeof k, allow_cmp);
    return a != NULL ? a->id : NULL;
}

/* Devices of b that may receive and are named name (or NULL). */
static const Liaison__Device *
receiving(const struct lsn_bundle *b, const char *name)
{
    const Liaison__Device *d;

    if (b == NULL || (d = lsn_bundle_find_device(b, name)) == NULL || !d->may_receive)
        return NULL;
    return d;
}

/* The device of b whose CURVE key is key (NULL if none). */
static const Liaison__Device *
by_key(const struct lsn_bundle *b, const uint8_t *key)
{
    for (size_t j = 0; b != NULL && j < b->b->n_devices; j++)
        if (b->b->devices[j]->curve_key.len == 32 &&
            memcmp(b->b->devices[j]->curve_key.data, key, 32) == 0)
            return b->b->devices[j];
    return NULL;
}

/* Remembers the device keys of old that b (the next bundle of org i, homed
 * here) leaves out, and forgets those it lists again, so that the holder
 * of a removed key hears so (store_gone.c).  Only a hint: a failure is
 * logged, and the bundle is taken all the same. */
static void
keys_gone(struct lsn_relay *r, int i, const struct lsn_bundle *old,
          const struct lsn_bundle *b)
{
    const Liaison__Roster *ro = r->roster->r;
    int rc = 0;

    if (strcmp(ro->orgs[i]->relay, r->name) != 0)
        return;
    for (size_t j = 0; old != NULL && j < old->b->n_devices && rc == 0; j++) {
        const Liaison__Device *d = old->b->devices[j];
        if (d->curve_key.len == 32 && by_key(b, d->curve_key.data) == NULL)
            rc = lsn_store_gone_put(r->store, d->curve_key.data, b->b->org,
                                    b->b->version, b->b->issued);
    }
    for (size_t j = 0; j < b->b->n_devices && rc == 0; j++) {
        const Liaison__Device *d = b->b->devices[j];
        if (d->curve_key.len == 32 && by_key(old, d->curve_key.data) == NULL)
            rc = lsn_store_gone_del(r->store, d->curve_key.data);
    }
    if (rc != 0)
        lsn_relay_log("bundle of %s v%llu: cannot record the device keys it "
                      "removes (%s): their holders hear that they are unknown",
                      b->b->org, (unsigned long long)b->b->version, lsn_strerror(rc));
}

int
lsn_relay_bundle_replace(struct lsn_relay *r, int i, struct lsn_bundle *b)
{
    struct lsn_bundle *old = r->bundles[i];
    char dev[LSN_DEV_ID_MAX + 1];
    int rc = 0;

    if (old != NULL)
        for (size_t j = 0; j < old->b->n_devices && rc == 0; j++) {
            const Liaison__Device *d = old->b->devices[j];
            const Liaison__Device *nd = lsn_bundle_find_device(b, d->name);
            if (!d->may_receive || receiving(b, d->name) != NULL)
                continue;
            snprintf(dev, sizeof dev, "%s/%s", old->b->org, d->name);
            rc = lsn_store_drop_device(r->store, dev);
            lsn_relay_log("device %s %s: its queue is dropped", dev,
                          nd == NULL ? "left its bundle" : "may no longer receive");
            r->dirty = 1;
        }
    if (rc != 0) {
        lsn_bundle_destroy(&b);
        return rc;
    }
    keys_gone(r, i, old, b);
    lsn_bundle_destroy(&r->bundles[i]);
    r->bundles[i] = b;
    r->dir_gen++;
    return lsn_relay_allow_rebuild(r);
}

/* Loads the stored bundle of every roster org that still verifies.  An
 * expired one is held all the same: its devices are admitted so that its
 * administrator can publish the next bundle along the bundle chain, and
 * they hear why they may not send (h_submit.c sender_check). */
static int
bundles_load(struct lsn_relay *r)
{
    const Liaison__Roster *ro = r->roster->r;
    char name[16 + LSN_ORG_ID_MAX];
    int own = !lsn_store_batch_open(r->store), rc;

    free(r->bundles);
    if ((r->bundles = calloc(ro->n_orgs + 1, sizeof *r->bundles)) == NULL)
        return LSN_ERR_NOMEM;
    /* Inside a round (a roster put) the batch is the round's: keep it. */
    if (own && (rc = lsn_store_batch_begin(r->store)) != 0)
        return rc;
    for (size_t i = 0; i < ro->n_orgs; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        struct lsn_bundle *b = NULL;
        snprintf(name, sizeof name, "bundle/%s", ro->orgs[i]->id);
        if (lsn_store_dir_get(r->store, name, &buf, &len) != 0)
            continue;
        if ((rc = lsn_bundle_parse(buf, len, &b)) == 0 &&
            (rc = lsn_bundle_verify(b, r->roster, lsn_relay_time(r))) == LSN_ERR_EXPIRED) {
            lsn_relay_log("held bundle of org %s (v%llu) has expired: its devices "
                          "may publish a new one but not send", ro->orgs[i]->id,
                          (unsigned long long)b->b->version);
            rc = 0;
        }
        if (rc != 0) {
            lsn_relay_log("held bundle of org %s no longer verifies (%s): its "
                          "devices are not admitted", ro->orgs[i]->id,
                          lsn_strerror(rc));
            lsn_bundle_destroy(&b);
        }
        r->bundles[i] = b;
        free(buf);
    }
    if (own)
        lsn_store_batch_abort(r->store);
    return lsn_relay_allow_rebuild(r);
}

int
lsn_relay_roster_replace(struct lsn_relay *r, struct lsn_roster *ro)
{
    int rc;

    if (r->bundles != NULL && r->roster != NULL)
        for (size_t i = 0; i < r->roster->r->n_orgs; i++)
            lsn_bundle_destroy(&r->bundles[i]);
    lsn_roster_destroy(&r->roster);
    r->roster = ro;
    r->dir_gen++;
    if ((rc = bundles_load(r)) != 0)
        return rc;
    /* The relays may have changed: forwarders follow (once running). */
    return r->zctx != NULL && r->name[0] != '\0' ? lsn_peers_rebuild(r) : 0;
}

int
lsn_relay_roster_history(struct lsn_relay *r, const struct lsn_roster *ro)
{
    char name[32];

    snprintf(name, sizeof name, "rhist/%020llu", (unsigned long long)ro->r->version);
    return lsn_store_dir_put(r->store, name, ro->bytes, ro->len);
}

/* The operator's file is trusted to jump versions. */
int
lsn_relay_roster_load(struct lsn_relay *r, int startup)
{
    struct lsn_roster *file = NULL, *held = NULL;
    uint8_t *bin = NULL, *hb = NULL;
    size_t len = 0, hl = 0;
    int64_t now = lsn_relay_time(r);
    int rc;

    if ((rc = lsn_signed_file_read(r->cfg.roster, LSN_TYPE_ROSTER, &bin, &len)) != 0 ||
        (rc = lsn_roster_parse(bin, len, &file)) != 0 ||
        (rc = lsn_roster_verify(file, now)) != 0) {
        lsn_set_detail("roster %s: %s", r->cfg.roster, lsn_strerror(rc));
        goto out;
    }
    if (startup) {
        if ((rc = lsn_store_batch_begin(r->store)) != 0)
            goto out;
        if (lsn_store_dir_get(r->store, "roster", &hb, &hl) == 0 &&
            lsn_roster_parse(hb, hl, &held) == 0 &&
            lsn_roster_verify(held, now) == 0 &&
            held->r->version > file->r->version) {
            lsn_relay_log("roster: held v%llu is newer than %s (v%llu); using it",
                          (unsigned long long)held->r->version, r->cfg.roster,
                          (unsigned long long)file->r->version);
            lsn_roster_destroy(&file);
            file = held;
            held = NULL;
        } else if ((rc = lsn_store_dir_put(r->store, "roster", file->bytes, file->len)) != 0 ||
                   (rc = lsn_relay_roster_history(r, file)) != 0 ||
                   (rc = lsn_store_batch_commit(r->store)) != 0) {
            goto out;
        }
        lsn_store_batch_abort(r->store);
    } else if (file->r->version < r->roster->r->version) {
        lsn_set_detail("roster %s: v%llu is older than the held v%llu",
                       r->cfg.roster, (unsigned long long)file->r->version,
                       (unsigned long long)r->roster->r->version);
        rc = LSN_ERR_ROLLBACK;
        goto out;
    } else {
        if ((rc = lsn_store_batch_begin(r->store)) != 0 ||
            (rc = lsn_store_dir_put(r->store, "roster", file->bytes, file->len)) != 0 ||
            (rc = lsn_relay_roster_history(r, file)) != 0 ||
            (rc = lsn_store_batch_commit(r->store)) != 0)
            goto out;
    }
    rc = lsn_relay_roster_replace(r, file);
    file = NULL;
out:
    lsn_store_batch_abort(r->store);
    lsn_roster_destroy(&file);
    lsn_roster_destroy(&held);
    free(bin);
    free(hb);
    return rc;
}

const Liaison__Device *
lsn_relay_current_device(struct lsn_relay *r, const struct who *w)
{
    const Liaison__Device *d = lsn_relay_device(r, w->org, w->device);

    if (d == NULL || d->curve_key.len != 32 ||
        sodium_memcmp(d->curve_key.data, w->key, 32) != 0)
        return NULL;
    return d;
}
