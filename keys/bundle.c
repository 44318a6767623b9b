/* bundle.c: an organisation's signed bundle: its encryption keys (newest
 * first) and its devices.  Signed by the org root the current roster lists;
 * versions only go up and each one names its predecessor's hash. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/bundle.h"
#include "keys/util.h"
#include "proto/err.h"

static int
check_keys(const Liaison__Bundle *b)
{
    if (b->n_enc_keys == 0 || b->n_enc_keys > LSN_BUNDLE_MAX_ENC_KEYS) {
        lsn_set_detail("bundle of `%s` has %zu encryption keys: need 1 to %u",
                       b->org, b->n_enc_keys, LSN_BUNDLE_MAX_ENC_KEYS);
        return LSN_ERR_MALFORMED;
    }
    for (size_t i = 0; i < b->n_enc_keys; i++) {
        const Liaison__EncKey *k = b->enc_keys[i];
        /* Newest first: ids strictly fall; only the first is current. */
        if (k->public_key.len != 32 ||
            (i > 0 && k->key_id >= b->enc_keys[i - 1]->key_id) ||
            (i == 0) != (k->retire_after == 0)) {
            lsn_set_detail("bundle of `%s`: encryption key %u is malformed or "
                           "out of order", b->org, k->key_id);
            return LSN_ERR_MALFORMED;
        }
    }
    return 0;
}

static int
devices_clash(const Liaison__Device *a, const Liaison__Device *d)
{
    return strcmp(a->name, d->name) == 0 ||
           memcmp(a->sign_key.data, d->sign_key.data, 32) == 0 ||
           memcmp(a->curve_key.data, d->curve_key.data, 32) == 0;
}

static int
check_devices(const Liaison__Bundle *b)
{
    if (b->n_devices > LSN_BUNDLE_MAX_DEVICES) {
        lsn_set_detail("bundle of `%s` lists %zu devices, at most %u allowed",
                       b->org, b->n_devices, LSN_BUNDLE_MAX_DEVICES);
        return LSN_ERR_LIMIT;
    }
    for (size_t i = 0; i < b->n_devices; i++) {
        const Liaison__Device *d = b->devices[i];
        if (lsn_name_check(d->name) != 0 || d->sign_key.len != 32 ||
            d->curve_key.len != 32 || d->delivery_key.len != 32 ||
            d->role < LIAISON__DEVICE_ROLE__ROLE_HUMAN ||
            d->role > LIAISON__DEVICE_ROLE__ROLE_ADMIN) {
            lsn_set_detail("bundle of `%s`: device `%.64s` is malformed",
                           b->org, d->name);
            return LSN_ERR_MALFORMED;
        }
        for (size_t j = 0; j < i; j++)
            if (devices_clash(b->devices[j], d)) {
                lsn_set_detail("bundle of `%s`: device `%s` repeats a name or key",
                               b->org, d->name);
                return LSN_ERR_MALFORMED;
            }
    }
    return 0;
}

static int
check_bundle_body(const Liaison__Bundle *b)
{
    int r;

    if (lsn_org_id_check(b->org) != 0) {
        lsn_set_detail("bundle org `%.40s`: invalid org id", b->org);
        return LSN_ERR_BAD_ORG_ID;
    }
    if (b->version == 0 || b->expires <= b->issued ||
        b->previous.len != (b->version == 1 ? 0u : 32u)) {
        lsn_set_detail("bundle of `%s` v%llu: bad version, validity or "
                       "previous-bundle hash", b->org,
                       (unsigned long long)b->version);
        return LSN_ERR_MALFORMED;
    }
    if ((r = check_keys(b)) != 0)
        return r;
    return check_devices(b);
}

static int
finish(struct lsn_bundle *bu, struct lsn_bundle **out)
{
    int r = check_bundle_body(bu->b);

    if (r != 0) {
        lsn_bundle_destroy(&bu);
        return r;
    }
    *out = bu;
    return 0;
}

int
lsn_bundle_parse(const uint8_t *buf, size_t len, struct lsn_bundle **out)
{
    struct lsn_bundle *bu;
    int r;

    *out = NULL;
    lsn_set_detail("%s", "");
    if ((bu = calloc(1, sizeof *bu)) == NULL)
        return LSN_ERR_NOMEM;
    r = lsn_signed_view_parse(buf, len, LSN_TYPE_BUNDLE,
                              &liaison__bundle__descriptor, &bu->view);
    if (r != 0) {
        free(bu);
        return r;
    }
    return finish(bu, out);
}

int
lsn_bundle_load(const char *path, struct lsn_bundle **out)
{
    uint8_t *bin = NULL;
    size_t n = 0;
    int r;

    *out = NULL;
    if ((r = lsn_signed_file_read(path, LSN_TYPE_BUNDLE, &bin, &n)) == 0)
        r = lsn_bundle_parse(bin, n, out);
    free(bin);
    return r;
}

int
lsn_bundle_sign(const Liaison__Bundle *body, const uint8_t root_sk[64],
                struct lsn_bundle **out)
{
    struct lsn_bundle *bu = NULL;
    int r;

    *out = NULL;
    lsn_set_detail("%s", "");
    if ((bu = calloc(1, sizeof *bu)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_signed_view_build(&body->base, LSN_TYPE_BUNDLE, &bu->view)) != 0) {
        free(bu);
        return r;
    }
    if ((r = lsn_signed_view_sign(&bu->view, root_sk)) != 0) {
        lsn_bundle_destroy(&bu);
        return r;
    }
    return finish(bu, out);
}

int
lsn_bundle_verify(const struct lsn_bundle *b, const struct lsn_roster *ro,
                  int64_t now)
{
    const Liaison__RosterOrg *o = lsn_roster_find_org(ro, b->b->org);
    int r;

    if (o == NULL) {
        lsn_set_detail("org `%s` is not in roster v%llu", b->b->org,
                       (unsigned long long)ro->r->version);
        return LSN_ERR_UNKNOWN_ORG;
    }
    if ((r = lsn_signed_verify_by(b->so, o->root_key.data)) != 0) {
        lsn_set_detail("bundle of `%s` v%llu is not signed by the root key "
                       "roster v%llu lists for it", b->b->org,
                       (unsigned long long)b->b->version,
                       (unsigned long long)ro->r->version);
        return r;
    }
    if (now >= b->b->expires) {
        lsn_set_detail("bundle of `%s` v%llu expired", b->b->org,
                       (unsigned long long)b->b->version);
        return LSN_ERR_EXPIRED;
    }
    return 0;
}

int
lsn_bundle_expires_soon(const struct lsn_bundle *b, int64_t now)
{
    return b->b->expires - now <= LSN_BUNDLE_WARN_DAYS * 86400LL;
}

int
lsn_bundle_verify_next(const struct lsn_bundle *prev,
                       const struct lsn_bundle *next)
{
    unsigned long long pv = prev->b->version, nv = next->b->version;

    if (strcmp(prev->b->org, next->b->org) != 0) {
        lsn_set_detail("bundle is for `%s`, not `%s`", next->b->org, prev->b->org);
        return LSN_ERR_CHAIN;
    }
    if (nv == pv) {
        if (next->len == prev->len && memcmp(next->bytes, prev->bytes, prev->len) == 0)
            return 0;
        lsn_set_detail("bundle of `%s` v%llu differs from the v%llu already "
                       "accepted", next->b->org, nv, pv);
        return LSN_ERR_CONFLICT;
    }
    if (nv < pv) {
        lsn_set_detail("bundle of `%s` v%llu is older than v%llu already "
                       "accepted", next->b->org, nv, pv);
        return LSN_ERR_ROLLBACK;
    }
    if (nv == pv + 1 &&
        (next->b->previous.len != 32 ||
         sodium_memcmp(next->b->previous.data, prev->hash, 32) != 0)) {
        lsn_set_detail("bundle of `%s` v%llu does not name v%llu as its "
                       "predecessor", next->b->org, nv, pv);
        return LSN_ERR_CHAIN;
    }
    return 0;
}

const Liaison__Device *
lsn_bundle_find_device(const struct lsn_bundle *b, const char *name)
{
    for (size_t i = 0; i < b->b->n_devices; i++)
        if (strcmp(b->b->devices[i]->name, name) == 0)
            return b->b->devices[i];
    return NULL;
}

const Liaison__EncKey *
lsn_bundle_find_key(const struct lsn_bundle *b, uint32_t key_id)
{
    for (size_t i = 0; i < b->b->n_enc_keys; i++)
        if (b->b->enc_keys[i]->key_id == key_id)
            return b->b->enc_keys[i];
    return NULL;
}

const Liaison__EncKey *
lsn_bundle_newest_key(const struct lsn_bundle *b)
{
    return b->b->n_enc_keys > 0 ? b->b->enc_keys[0] : NULL;
}

void
lsn_bundle_destroy(struct lsn_bundle **b)
{
    if (*b == NULL)
        return;
    lsn_signed_view_clear(&(*b)->view);
    free(*b);
    *b = NULL;
}
