/* org.c: the organisation folder and every change an administrator makes
 * (see org.h).  A change is built in memory, signed, then written: the key
 * ring first (it only ever gains keys a bundle may name), then the bundle,
 * then key deliveries. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/delivery.h"
#include "keys/keyfile.h"
#include "keys/org.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"

static int
org_path(const struct lsn_org *o, const char *name, char *out, size_t n)
{
    if ((size_t)snprintf(out, n, "%s/%s", o->dir, name) >= n)
        return LSN_ERR_TOO_LARGE;
    return 0;
}

static struct lsn_org *
org_alloc(const char *dir, const char *pass)
{
    struct lsn_org *o = calloc(1, sizeof *o);

    if (o == NULL || strlen(dir) >= sizeof o->dir)
        goto fail;
    strcpy(o->dir, dir);
    o->root_sk = sodium_malloc(64);
    o->ring = sodium_malloc(sizeof *o->ring * LSN_MAX_ENC_KEYS);
    if (o->root_sk == NULL || o->ring == NULL)
        goto fail;
    if (pass != NULL) {
        size_t n = strlen(pass) + 1;
        if ((o->pass = sodium_malloc(n)) == NULL)
            goto fail;
        memcpy(o->pass, pass, n);
    }
    return o;
fail:
    lsn_org_destroy(&o);
    return NULL;
}

/* ------------------------------------------------------------ key ring */

static int
ring_save(const struct lsn_org *o, int flags)
{
    Liaison__EncKeyring m = LIAISON__ENC_KEYRING__INIT;
    Liaison__EncSecret es[LSN_MAX_ENC_KEYS], *esp[LSN_MAX_ENC_KEYS];
    uint8_t *buf = NULL;
    size_t n = 0;
    char path[PATH_MAX], note[96];
    int r;

    for (size_t i = 0; i < o->n_ring; i++) {
        lsn_enc_secret_to_pb(&o->ring[i], &es[i]);
        esp[i] = &es[i];
    }
    m.keys = esp;
    m.n_keys = o->n_ring;
    m.next_key_id = o->next_key_id;
    r = lsn_pb_encode_secret(&m.base, &buf, &n);
    sodium_memzero(es, sizeof es);
    if (r != 0)
        return r;
    snprintf(note, sizeof note, "encryption keys of org `%s`", o->id);
    if ((r = org_path(o, "enc.key", path, sizeof path)) == 0)
        r = lsn_secret_write(path, LSN_KEY_ENC_RING, note, buf, n, o->pass, flags);
    sodium_free(buf);
    return r;
}

static int
ring_load(struct lsn_org *o)
{
    Liaison__EncKeyring *m = NULL;
    uint8_t *buf = NULL;
    size_t n = 0;
    char path[PATH_MAX];
    int r;

    if ((r = org_path(o, "enc.key", path, sizeof path)) != 0 ||
        (r = lsn_secret_read(path, LSN_KEY_ENC_RING, o->pass, &buf, &n)) != 0)
        return r;
    r = LSN_PB_DECODE(enc_keyring, buf, n, LSN_SECRET_FILE_MAX, &m);
    lsn_secret_free(buf);
    if (r != 0)
        return r;
    r = LSN_ERR_MALFORMED;
    if (m->n_keys == 0 || m->n_keys > LSN_MAX_ENC_KEYS)
        goto out;
    for (size_t i = 0; i < m->n_keys; i++)
        if ((r = lsn_enc_secret_from_pb(m->keys[i], &o->ring[i])) != 0)
            goto out;
    o->n_ring = m->n_keys;
    o->next_key_id = m->next_key_id;
    r = 0;
out:
    lsn_pb_free((ProtobufCMessage *)m);
    return r;
}

/* Adds a fresh current key, retires the previous one after the grace
 * period and forgets keys whose grace has passed. */
static void
ring_rotate(struct lsn_org *o, int64_t now)
{
    struct lsn_enc_secret fresh;
    size_t keep = 0;

    for (size_t i = 0; i < o->n_ring; i++) {
        if (o->ring[i].retire_after == 0)
            o->ring[i].retire_after = now + LSN_ENC_GRACE;
        if (o->ring[i].retire_after > now && keep < LSN_MAX_ENC_KEYS - 1)
            o->ring[keep++] = o->ring[i];
    }
    for (size_t i = keep; i < o->n_ring; i++)
        sodium_memzero(&o->ring[i], sizeof o->ring[i]);
    memmove(&o->ring[1], &o->ring[0], keep * sizeof o->ring[0]);
    memset(&fresh, 0, sizeof fresh);
    fresh.key_id = o->next_key_id++;
    fresh.created = now;
    crypto_box_keypair(fresh.pk, fresh.sk);
    o->ring[0] = fresh;
    o->n_ring = keep + 1;
    sodium_memzero(&fresh, sizeof fresh);
}

/* ------------------------------------------------------------ bundles */

/* The device list of the next bundle: the current one's devices minus
 * `drop`, with `replace` standing in for the device of the same name and
 * `add` appended.  Pointers are borrowed. */
struct device_edit {
    const char *drop;
    const Liaison__Device *replace;
    const Liaison__Device *add;
};

/* Signs the next bundle: ring's public keys, edited devices, version + 1
 * naming the current bundle's hash.  On success o->bundle is the new one
 * (not yet written). */
static int
bundle_next(struct lsn_org *o, const struct device_edit *e, int64_t now)
{
    Liaison__Bundle body = LIAISON__BUNDLE__INIT;
    Liaison__EncKey keys[LSN_MAX_ENC_KEYS], *keyp[LSN_MAX_ENC_KEYS];
    const Liaison__Bundle *cur = o->bundle ? o->bundle->b : NULL;
    size_t nd = (cur ? cur->n_devices : 0) + 1, k = 0;
    Liaison__Device **devs = calloc(nd, sizeof *devs);
    struct lsn_bundle *next = NULL;
    int r;

    if (devs == NULL)
        return LSN_ERR_NOMEM;
    for (size_t i = 0; cur != NULL && i < cur->n_devices; i++) {
        const Liaison__Device *d = cur->devices[i];
        if (e->drop != NULL && strcmp(d->name, e->drop) == 0)
            continue;
        if (e->replace != NULL && strcmp(d->name, e->replace->name) == 0)
            d = e->replace;
        devs[k++] = (Liaison__Device *)d;
    }
    if (e->add != NULL)
        devs[k++] = (Liaison__Device *)e->add;
    for (size_t i = 0; i < o->n_ring; i++) {
        liaison__enc_key__init(&keys[i]);
        keys[i].key_id = o->ring[i].key_id;
        keys[i].public_key = (ProtobufCBinaryData){ 32, o->ring[i].pk };
        keys[i].created = o->ring[i].created;
        keys[i].retire_after = o->ring[i].retire_after;
        keyp[i] = &keys[i];
    }
    body.org = o->id;
    body.version = cur ? cur->version + 1 : 1;
    body.issued = now;
    body.expires = now + LSN_BUNDLE_LIFETIME;
    body.enc_keys = keyp;
    body.n_enc_keys = o->n_ring;
    body.devices = devs;
    body.n_devices = k;
    if (cur != NULL)
        body.previous = (ProtobufCBinaryData){ 32, o->bundle->hash };
    r = lsn_bundle_sign(&body, o->root_sk, &next);
    free(devs);
    if (r == 0) {
        lsn_bundle_destroy(&o->bundle);
        o->bundle = next;
    }
    return r;
}

static int
bundle_save(const struct lsn_org *o)
{
    char path[PATH_MAX];
    int r;

    if ((r = org_path(o, "bundle.signed", path, sizeof path)) != 0)
        return r;
    return lsn_signed_file_write(path, LSN_TYPE_BUNDLE, o->bundle->bytes,
                                 o->bundle->len, LSN_WRITE_FORCE);
}

/* Removes the *.signed files of the deliveries folder. */
static void
clear_deliveries(const char *dir)
{
    char f[PATH_MAX + 300];
    struct dirent *e;
    DIR *d = opendir(dir);

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 7 && strcmp(e->d_name + n - 7, ".signed") == 0 &&
            (size_t)snprintf(f, sizeof f, "%s/%s", dir, e->d_name) < sizeof f)
            unlink(f);
    }
    closedir(d);
}

/* A key delivery of the current key to every may-receive device. */
static int
deliveries_save(const struct lsn_org *o, int64_t now)
{
    const Liaison__Bundle *b = o->bundle->b;
    char path[PATH_MAX], name[LSN_NAME_MAX + 32];
    int r;

    if ((r = org_path(o, "deliveries", path, sizeof path)) != 0)
        return r;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return LSN_ERR_IO;
    /* Only the current key's deliveries are worth publishing; older ones
     * may name devices that are gone (and would be refused). */
    clear_deliveries(path);
    for (size_t i = 0; i < b->n_devices; i++) {
        const Liaison__Device *d = b->devices[i];
        struct lsn_delivery *kd = NULL;

        if (!d->may_receive)
            continue;
        r = lsn_delivery_make(o->id, d->name, d->delivery_key.data, &o->ring[0],
                              b->version, o->root_sk, now, &kd);
        if (r != 0)
            return r;
        snprintf(name, sizeof name, "deliveries/%s-%u.signed", d->name,
                 o->ring[0].key_id);
        if ((r = org_path(o, name, path, sizeof path)) == 0)
            r = lsn_signed_file_write(path, LSN_TYPE_KEY_DELIVERY, kd->bytes,
                                      kd->len, LSN_WRITE_FORCE);
        lsn_delivery_destroy(&kd);
        if (r != 0)
            return r;
    }
    return 0;
}

/* ------------------------------------------------------------ devices */

/* The bundle entry for a credential (borrows c's public keys). */
static void
device_entry(const struct lsn_credential *c, Liaison__Device *d)
{
    liaison__device__init(d);
    d->name = (char *)c->device;
    d->role = c->role;
    d->sign_key = (ProtobufCBinaryData){ 32, c->keys->sign_pk };
    d->curve_key = (ProtobufCBinaryData){ 32, c->keys->curve_pk };
    d->delivery_key = (ProtobufCBinaryData){ 32, c->keys->delivery_pk };
    d->may_send = c->may_send;
    d->may_receive = c->may_receive;
}

/* A credential for device `name` holding the ring's live keys if it may
 * receive. */
static int
make_credential(const struct lsn_org *o, const char *name, int role,
                int may_send, int may_receive, const uint8_t *roster,
                size_t roster_len, struct lsn_credential **out)
{
    struct lsn_credential *c = NULL;
    int r;

    if ((r = lsn_credential_new(o->id, name, role, may_send, may_receive, &c)) != 0)
        return r;
    for (size_t i = 0; may_receive && i < o->n_ring && r == 0; i++)
        r = lsn_credential_put_enc(c, &o->ring[i]);
    if (r == 0 && roster_len > 0)
        r = lsn_credential_set_roster(c, roster, roster_len);
    if (r != 0)
        lsn_credential_destroy(&c);
    *out = c;
    return r;
}

int
lsn_org_device_add(struct lsn_org *o, const char *name, int role, int may_send,
                   int may_receive, const uint8_t *roster, size_t roster_len,
                   int64_t now, struct lsn_credential **cred)
{
    struct lsn_credential *c = NULL;
    struct device_edit e = { 0 };
    Liaison__Device entry;
    int r;

    *cred = NULL;
    if ((r = lsn_name_check(name)) != 0) {
        lsn_set_detail("device name `%.64s`: use 1 to 64 of a-z 0-9 . _ - "
                       "starting with a letter or digit", name);
        return r;
    }
    if (lsn_bundle_find_device(o->bundle, name) != NULL) {
        lsn_set_detail("device `%s` is already in the bundle of `%s`", name, o->id);
        return LSN_ERR_EXISTS;
    }
    r = make_credential(o, name, role, may_send, may_receive, roster,
                        roster_len, &c);
    if (r != 0)
        return r;
    device_entry(c, &entry);
    e.add = &entry;
    if ((r = bundle_next(o, &e, now)) == 0 && (r = bundle_save(o)) == 0)
        *cred = c;
    else
        lsn_credential_destroy(&c);
    return r;
}

static int
require_device(const struct lsn_org *o, const char *name)
{
    if (lsn_bundle_find_device(o->bundle, name) == NULL) {
        lsn_set_detail("device `%.64s` is not in the bundle of `%s`", name, o->id);
        return LSN_ERR_UNKNOWN_DEVICE;
    }
    return 0;
}

/* New encryption key + next bundle with edit e + deliveries, saved. */
static int
rekey(struct lsn_org *o, const struct device_edit *e, int64_t now)
{
    int r;

    ring_rotate(o, now);
    if ((r = bundle_next(o, e, now)) != 0 || (r = ring_save(o, LSN_WRITE_FORCE)) != 0 ||
        (r = bundle_save(o)) != 0)
        return r;
    return deliveries_save(o, now);
}

int
lsn_org_device_revoke(struct lsn_org *o, const char *name, int64_t now)
{
    struct device_edit e = { .drop = name };
    int r;

    if ((r = require_device(o, name)) != 0)
        return r;
    if (strcmp(name, LSN_ADMIN_DEVICE) == 0 &&
        lsn_bundle_find_device(o->bundle, name)->role == LIAISON__DEVICE_ROLE__ROLE_ADMIN) {
        size_t admins = 0;
        for (size_t i = 0; i < o->bundle->b->n_devices; i++)
            admins += o->bundle->b->devices[i]->role == LIAISON__DEVICE_ROLE__ROLE_ADMIN;
        if (admins < 2) {
            lsn_set_detail("`%s` is the org's only admin device: rotate it "
                           "instead (`rotate --device %s`)", name, name);
            return LSN_ERR_USAGE;
        }
    }
    return rekey(o, &e, now);
}

int
lsn_org_rotate_enc(struct lsn_org *o, int64_t now)
{
    struct device_edit e = { 0 };

    return rekey(o, &e, now);
}

int
lsn_org_rotate_device(struct lsn_org *o, const char *name,
                      const uint8_t *roster, size_t roster_len, int64_t now,
                      struct lsn_credential **cred)
{
    const Liaison__Device *old;
    struct lsn_credential *c = NULL;
    struct device_edit e = { 0 };
    Liaison__Device entry;
    int r;

    *cred = NULL;
    if ((r = require_device(o, name)) != 0)
        return r;
    old = lsn_bundle_find_device(o->bundle, name);
    r = make_credential(o, name, old->role, old->may_send, old->may_receive,
                        roster, roster_len, &c);
    if (r != 0)
        return r;
    device_entry(c, &entry);
    e.replace = &entry;
    /* The old credential holds the current org secret: a new key, sent to
     * every receiving device including this one's new keys, leaves it out. */
    if ((r = rekey(o, &e, now)) != 0) {
        lsn_credential_destroy(&c);
        return r;
    }
    if (c->may_receive)
        r = lsn_credential_put_enc(c, &o->ring[0]);
    if (r == 0)
        *cred = c;
    else
        lsn_credential_destroy(&c);
    return r;
}

/* ------------------------------------------------------------ root */

static int
root_save(const struct lsn_org *o, const char *stem, const uint8_t sk[64],
          int flags)
{
    char path[PATH_MAX], name[32], note[96];
    int r;

    snprintf(note, sizeof note, "root key of org `%s`", o->id);
    snprintf(name, sizeof name, "%s.key", stem);
    if ((r = org_path(o, name, path, sizeof path)) != 0 ||
        (r = lsn_secret_write(path, LSN_KEY_ORG_ROOT, note, sk, 64, o->pass,
                              flags)) != 0)
        return r;
    snprintf(name, sizeof name, "%s.pub", stem);
    if ((r = org_path(o, name, path, sizeof path)) != 0)
        return r;
    return lsn_public_write(path, LSN_KEY_ORG_ROOT, note, sk + 32, flags);
}

static int
root_load(struct lsn_org *o, const char *stem, uint8_t sk[64])
{
    char path[PATH_MAX], name[32];
    uint8_t *buf = NULL;
    size_t n = 0;
    int r;

    snprintf(name, sizeof name, "%s.key", stem);
    if ((r = org_path(o, name, path, sizeof path)) != 0 ||
        (r = lsn_secret_read(path, LSN_KEY_ORG_ROOT, o->pass, &buf, &n)) != 0)
        return r;
    if (n != 64)
        r = LSN_ERR_MALFORMED;
    else
        memcpy(sk, buf, 64);
    lsn_secret_free(buf);
    return r;
}

int
lsn_org_root_prepare(struct lsn_org *o)
{
    uint8_t *sk = sodium_malloc(64), pk[32];
    int r;

    if (sk == NULL)
        return LSN_ERR_NOMEM;
    crypto_sign_keypair(pk, sk);
    r = root_save(o, "root.next", sk, LSN_WRITE_FORCE);
    sodium_free(sk);
    return r;
}

/* root.next.* become root.* (each rename atomic; the old root is gone). */
static int
root_promote(const struct lsn_org *o)
{
    static const char *const ext[] = { "key", "pub" };
    char from[PATH_MAX], to[PATH_MAX], a[32], b[32];
    int r;

    for (size_t i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "root.next.%s", ext[i]);
        snprintf(b, sizeof b, "root.%s", ext[i]);
        if ((r = org_path(o, a, from, sizeof from)) != 0 ||
            (r = org_path(o, b, to, sizeof to)) != 0)
            return r;
        if (rename(from, to) != 0)
            return LSN_ERR_IO;
    }
    return 0;
}

int
lsn_org_root_adopt(struct lsn_org *o, const struct lsn_roster *roster,
                   int64_t now)
{
    const Liaison__RosterOrg *ro = lsn_roster_find_org(roster, o->id);
    uint8_t *sk = sodium_malloc(64);
    struct device_edit e = { 0 };
    int r;

    if (sk == NULL)
        return LSN_ERR_NOMEM;
    if ((r = root_load(o, "root.next", sk)) != 0) {
        if (r == LSN_ERR_NOT_FOUND)
            lsn_set_detail("no root.next.key in %s: run `rotate --root` first",
                           o->dir);
        goto out;
    }
    r = LSN_ERR_UNKNOWN_ORG;
    if (ro == NULL)
        goto out;
    r = LSN_ERR_CHAIN;
    if (sodium_memcmp(ro->root_key.data, sk + 32, 32) != 0) {
        lsn_set_detail("roster v%llu does not list root.next.pub for `%s` yet",
                       (unsigned long long)roster->r->version, o->id);
        goto out;
    }
    memcpy(o->root_sk, sk, 64);
    if ((r = bundle_next(o, &e, now)) != 0 || (r = bundle_save(o)) != 0)
        goto out;
    /* The bundle is out, signed by root.next: promote it.  A crash in
     * between leaves a folder lsn_org_load finishes (root_promote). */
    r = root_promote(o);
out:
    sodium_free(sk);
    return r;
}

/* ------------------------------------------------------------ folder */

static int
load_bundle_file(const char *dir, struct lsn_bundle **out)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof path, "%s/bundle.signed", dir) >= sizeof path)
        return LSN_ERR_TOO_LARGE;
    return lsn_bundle_load(path, out);
}

int
lsn_org_load_bundle(const char *dir, struct lsn_bundle **out)
{
    return load_bundle_file(dir, out);
}

int
lsn_org_is_protected(const char *dir, int *is_protected)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof path, "%s/root.key", dir) >= sizeof path)
        return LSN_ERR_TOO_LARGE;
    return lsn_secret_is_protected(path, is_protected);
}

int
lsn_org_load(const char *dir, const char *pass, struct lsn_org **out)
{
    struct lsn_org *o = org_alloc(dir, pass);
    int r;

    *out = NULL;
    if (o == NULL)
        return LSN_ERR_NOMEM;
    if ((r = load_bundle_file(dir, &o->bundle)) != 0)
        goto fail;
    strcpy(o->id, o->bundle->b->org);
    if ((r = root_load(o, "root", o->root_sk)) != 0 || (r = ring_load(o)) != 0)
        goto fail;
    /* The folder must be one piece: its bundle signed by its root.  If
     * root.next signed it, an adoption stopped before promoting: finish. */
    if ((r = lsn_signed_verify_by(o->bundle->so, o->root_sk + 32)) != 0 &&
        root_load(o, "root.next", o->root_sk) == 0 &&
        lsn_signed_verify_by(o->bundle->so, o->root_sk + 32) == 0)
        r = root_promote(o);
    if (r != 0) {
        lsn_set_detail("%s/bundle.signed is not signed by %s/root.key", dir, dir);
        goto fail;
    }
    *out = o;
    return 0;
fail:
    lsn_org_destroy(&o);
    return r;
}

int
lsn_org_init(const char *dir, const char *id, const char *pass, int force,
             int64_t now, struct lsn_org **out)
{
    struct lsn_org *o = NULL;
    struct lsn_credential *admin = NULL;
    char path[PATH_MAX];
    int flags = force ? LSN_WRITE_FORCE : 0, r;

    *out = NULL;
    if ((r = lsn_org_id_check(id)) != 0) {
        lsn_set_detail("org id `%.40s`: use 1 to 32 of a-z, 0-9 and -", id);
        return r;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return LSN_ERR_IO;
    if ((o = org_alloc(dir, pass)) == NULL)
        return LSN_ERR_NOMEM;
    strcpy(o->id, id);
    if ((r = org_path(o, "root.key", path, sizeof path)) != 0)
        goto out;
    if (!force && access(path, F_OK) == 0) {
        lsn_set_detail("%s already holds an org (use --force to replace it)", dir);
        r = LSN_ERR_EXISTS;
        goto out;
    }
    { /* root key */
        uint8_t pk[32];
        crypto_sign_keypair(pk, o->root_sk);
    }
    o->next_key_id = 1;
    ring_rotate(o, now);
    r = make_credential(o, LSN_ADMIN_DEVICE, LIAISON__DEVICE_ROLE__ROLE_ADMIN,
                        0, 0, NULL, 0, &admin);
    if (r != 0)
        goto out;
    {
        struct device_edit e = { 0 };
        Liaison__Device entry;
        device_entry(admin, &entry);
        e.add = &entry;
        if ((r = bundle_next(o, &e, now)) != 0)
            goto out;
    }
    if ((r = root_save(o, "root", o->root_sk, flags)) != 0 ||
        (r = ring_save(o, flags)) != 0 || (r = bundle_save(o)) != 0 ||
        (r = org_path(o, "admin.cred", path, sizeof path)) != 0 ||
        (r = lsn_credential_save(admin, path, pass, flags)) != 0)
        goto out;
    *out = o;
    o = NULL;
out:
    lsn_credential_destroy(&admin);
    lsn_org_destroy(&o);
    return r;
}

int
lsn_org_keep_roster(const struct lsn_org *o, const struct lsn_roster *roster)
{
    struct lsn_roster *held = NULL;
    char path[PATH_MAX];
    int r;

    if ((r = org_path(o, "roster.signed", path, sizeof path)) != 0)
        return r;
    /* Kept only if it is the one held or follows it: a roster signed by
     * some other set of authorities never replaces the folder's. */
    if (lsn_roster_load(path, &held) == 0 &&
        (held->r->version >= roster->r->version ||
         lsn_roster_verify_next(held, roster, lsn_now(), 0) != 0)) {
        lsn_roster_destroy(&held);
        return 0;
    }
    lsn_roster_destroy(&held);
    return lsn_signed_file_write(path, LSN_TYPE_ROSTER, roster->bytes, roster->len,
                                 LSN_WRITE_FORCE);
}

void
lsn_org_destroy(struct lsn_org **o)
{
    if (*o == NULL)
        return;
    sodium_free((*o)->root_sk);
    sodium_free((*o)->ring);
    sodium_free((*o)->pass);
    lsn_bundle_destroy(&(*o)->bundle);
    free(*o);
    *o = NULL;
}
