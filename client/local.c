/* local.c: the client's local store in LMDB (see local.h).
 *
 * Databases and keys:
 *   inbox     org (32, zero-padded) || msg_id (16)  -> StoredReceived
 *   seen      org || msg_id                          -> keep_until (i64 BE)
 *   sent      msg_id                                 -> StoredSent
 *   receipts  msg_id || org || device (64)           -> StoredReceipt
 *   audit     seq (u64 BE)                           -> AuditEntry
 *   meta      "audit-head"                           -> seq (8) || mac (32) || tag (32)
 * Records are protobuf, read back through the strict decoder. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <sodium.h>

#include "client/local.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/pb.h"

#define ORG_LEN  LSN_ENV_ORG_MAX
#define DEV_LEN  LSN_ENV_DEVICE_MAX
#define MSG_KEY  (ORG_LEN + LSN_MSG_ID_LEN)
#define RCPT_KEY (LSN_MSG_ID_LEN + ORG_LEN + DEV_LEN)
/* The map is address space only (the file grows as used); it starts at
 * MAP_START, or at the ceiling when that is lower, and doubles on
 * MDB_MAP_FULL up to the ceiling (lsn_local_set_map_max). */
#define MAP_START (1ULL << 30)
#define GROW_MIN ((size_t)2 * LSN_ENVELOPE_MAX + (1u << 20))
#define MAP_MAX_DEFAULT (sizeof(size_t) >= 8 ? 64ULL << 30 : 1ULL << 30)
#define RECORD_MAX (LSN_ENVELOPE_MAX + 4096)

struct lsn_local {
    MDB_env *env;
    MDB_dbi inbox, seen, sent, receipts, audit, meta;
    size_t map_max;               /* the map never grows past this */
    uint8_t *key;                 /* sodium_malloc: seal key (32) || audit key (32) */
};

#define SEAL_KEY(s)  ((s)->key)
#define AUDIT_KEY(s) ((s)->key + 32)

/* One key per use, both derived from the store key. */
static void
subkey(uint8_t out[32], const uint8_t store_key[32], const char *label)
{
    crypto_generichash(out, 32, (const uint8_t *)label, strlen(label), store_key, 32);
}

static int
mdb_err(int rc)
{
    switch (rc) {
    case 0:               return 0;
    case MDB_NOTFOUND:    return LSN_ERR_NOT_FOUND;
    case MDB_KEYEXIST:    return LSN_ERR_EXISTS;
    /* Local resources: temporary, never a reason to refuse a message. */
    case MDB_MAP_FULL:    return LSN_ERR_STORE_FULL;
    case ENOSPC:          return LSN_ERR_STORE_FULL;
    case EDQUOT:          return LSN_ERR_STORE_FULL;
    case ENOMEM:          return LSN_ERR_NOMEM;
    default:              return LSN_ERR_IO;
    }
}

void
lsn_local_key_derive(uint8_t key[32], const uint8_t sign_sk[64])
{
    static const char label[] = "liaison v1 local store";

    crypto_generichash(key, 32, (const uint8_t *)label, sizeof label - 1,
                       sign_sk, 32);
}

int
lsn_local_open(const char *dir, const uint8_t store_key[32],
               struct lsn_local **out)
{
    struct lsn_local *s = NULL;
    MDB_txn *t = NULL;
    int rc, r = LSN_ERR_NOMEM;

    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return LSN_ERR_IO;
    if ((s = calloc(1, sizeof *s)) == NULL || (s->key = sodium_malloc(64)) == NULL)
        goto fail;
    subkey(SEAL_KEY(s), store_key, "liaison v1 local seal");
    subkey(AUDIT_KEY(s), store_key, "liaison v1 local audit");
    if ((rc = mdb_env_create(&s->env)) != 0 ||
        (rc = mdb_env_set_maxdbs(s->env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, (size_t)MAP_START)) != 0 ||
        (rc = mdb_env_open(s->env, dir, 0, 0600)) != 0 ||
        (rc = mdb_txn_begin(s->env, NULL, 0, &t)) != 0 ||
        (rc = mdb_dbi_open(t, "inbox", MDB_CREATE, &s->inbox)) != 0 ||
        (rc = mdb_dbi_open(t, "seen", MDB_CREATE, &s->seen)) != 0 ||
        (rc = mdb_dbi_open(t, "sent", MDB_CREATE, &s->sent)) != 0 ||
        (rc = mdb_dbi_open(t, "receipts", MDB_CREATE, &s->receipts)) != 0 ||
        (rc = mdb_dbi_open(t, "audit", MDB_CREATE, &s->audit)) != 0 ||
        (rc = mdb_dbi_open(t, "meta", MDB_CREATE, &s->meta)) != 0) {
        r = mdb_err(rc);
        if (t != NULL)
            mdb_txn_abort(t);
        goto fail;
    }
    if ((rc = mdb_txn_commit(t)) != 0) {
        r = mdb_err(rc);
        goto fail;
    }
    s->map_max = (size_t)MAP_MAX_DEFAULT;
    *out = s;
    return 0;
fail:
    lsn_local_close(&s);
    return r;
}

int
lsn_local_set_map_max(struct lsn_local *s, size_t max)
{
    MDB_envinfo info;

    if (max < LSN_LOCAL_MAP_MIN)
        return LSN_ERR_USAGE;
    s->map_max = max;
    if (mdb_env_info(s->env, &info) != 0)
        return LSN_ERR_IO;
    /* LMDB keeps the map at least as large as the data file. */
    if (info.me_mapsize > max)
        return mdb_err(mdb_env_set_mapsize(s->env, max));
    return 0;
}

/* After a write failed with LSN_ERR_STORE_FULL (no transaction open):
 * doubles the map, up to the ceiling.  0 if it grew, so the write may be
 * tried once more; LSN_ERR_STORE_FULL at the ceiling. */
static int
grow_map_to(struct lsn_local *s, size_t max)
{
    MDB_envinfo info;
    size_t want;

    if (mdb_env_info(s->env, &info) != 0 || info.me_mapsize >= max)
        return LSN_ERR_STORE_FULL;
    /* Room for at least one more envelope of the largest size. */
    want = info.me_mapsize + (info.me_mapsize > GROW_MIN ? info.me_mapsize : GROW_MIN);
    if (want > max || want < info.me_mapsize)
        want = max;
    if (mdb_env_set_mapsize(s->env, want) != 0)
        return LSN_ERR_STORE_FULL;
    return 0;
}

static int
grow_map(struct lsn_local *s)
{
    return grow_map_to(s, s->map_max);
}

/* Writes that make room (marking read, pruning) rewrite a record, which
 * needs fresh pages before the old ones are free: they may grow the map
 * past the ceiling by one envelope's room, after which the map is set
 * back to the ceiling (LMDB keeps it at least the data file's size), so
 * new messages still find the store full until room is made. */
static int
grow_map_over(struct lsn_local *s)
{
    size_t over = s->map_max + GROW_MIN;

    return grow_map_to(s, over < s->map_max ? SIZE_MAX : over);
}

static void
map_back(struct lsn_local *s)
{
    MDB_envinfo info;

    if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > s->map_max)
        (void)mdb_env_set_mapsize(s->env, s->map_max);
}

void
lsn_local_close(struct lsn_local **sp)
{
    struct lsn_local *s = *sp;

    if (s == NULL)
        return;
    if (s->env != NULL)
        mdb_env_close(s->env);
    sodium_free(s->key);
    free(s);
    *sp = NULL;
}

/* ------------------------------------------------------------ helpers */

static void
msg_key(uint8_t k[MSG_KEY], const char *org, const uint8_t msg_id[16])
{
    memset(k, 0, MSG_KEY);
    memcpy(k, org, strnlen(org, ORG_LEN));
    memcpy(k + ORG_LEN, msg_id, LSN_MSG_ID_LEN);
}

static int
put_pb(MDB_txn *t, MDB_dbi db, const void *k, size_t kl,
       const ProtobufCMessage *m, unsigned flags)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    MDB_val key = { kl, (void *)k }, val;
    int r;

    if ((r = lsn_pb_encode(m, &buf, &n)) != 0)
        return r;
    val.mv_size = n;
    val.mv_data = buf;
    r = mdb_err(mdb_put(t, db, &key, &val, flags));
    free(buf);
    return r;
}

static int
get_pb(MDB_txn *t, MDB_dbi db, const void *k, size_t kl,
       const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
    MDB_val key = { kl, (void *)k }, val;
    int rc;

    *out = NULL;
    if ((rc = mdb_get(t, db, &key, &val)) != 0)
        return mdb_err(rc);
    return lsn_pb_decode(d, val.mv_data, val.mv_size, RECORD_MAX * 2, out);
}

static int
commit(MDB_txn *t, int r)
{
    if (r != 0) {
        mdb_txn_abort(t);
        return r;
    }
    return mdb_err(mdb_txn_commit(t));
}

static int
begin(struct lsn_local *s, unsigned flags, MDB_txn **t)
{
    int rc = mdb_txn_begin(s->env, NULL, flags, t);

    /* Another process grew the map: take its size and go on. */
    if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(s->env, 0) == 0)
        rc = mdb_txn_begin(s->env, NULL, flags, t);
    return mdb_err(rc);
}

/* Seals msg under the seal key, bound to ad: nonce (24) || ciphertext.
 * *out is malloc'd (len + 40 bytes). */
static int
seal_blob(const struct lsn_local *s, const uint8_t *msg, size_t len,
          const uint8_t *ad, size_t ad_len, uint8_t **out, size_t *out_len)
{
    uint8_t *b = malloc(len + 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES);

    if (b == NULL)
        return LSN_ERR_NOMEM;
    randombytes_buf(b, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(b + 24, NULL, msg, len, ad, ad_len,
                                               NULL, b, SEAL_KEY(s));
    *out = b;
    *out_len = len + 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES;
    return 0;
}

/* Opens a blob from seal_blob into out (room for len - 40 bytes). */
static int
unseal_blob(const struct lsn_local *s, const uint8_t *b, size_t len,
            const uint8_t *ad, size_t ad_len, uint8_t *out)
{
    if (len < 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, b + 24, len - 24,
                                                   ad, ad_len, b, SEAL_KEY(s)) != 0)
        return LSN_ERR_CORRUPT;
    return 0;
}

static void
put_be64(uint8_t p[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t
get_be64(const uint8_t p[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* ------------------------------------------------------------ received */

static int
seen_in(MDB_txn *t, const struct lsn_local *s, const char *org,
        const uint8_t msg_id[16])
{
    uint8_t k[MSG_KEY];
    MDB_val key = { sizeof k, k }, val;
    int rc;

    msg_key(k, org, msg_id);
    rc = mdb_get(t, s->seen, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc == 0 ? LSN_ERR_REPLAY : mdb_err(rc);
}

int
lsn_local_replay_check(void *ctx, const char *sender_org,
                       const uint8_t msg_id[16], int64_t keep_until)
{
    struct lsn_local *s = ctx;
    MDB_txn *t = NULL;
    int r;

    (void)keep_until;
    if ((r = begin(s, MDB_RDONLY, &t)) != 0)
        return r;
    r = seen_in(t, s, sender_org, msg_id);
    mdb_txn_abort(t);
    return r;
}

int
lsn_local_put_received(struct lsn_local *s, const struct lsn_opened *o,
                       const uint8_t *env, size_t len,
                       const uint8_t sign_key[32], int64_t now)
{
    Liaison__StoredReceived rec = LIAISON__STORED_RECEIVED__INIT;
    uint8_t k[MSG_KEY], *sealed = NULL, until[8];
    size_t sl = 0;
    MDB_val key = { sizeof k, k }, val = { sizeof until, until };
    MDB_txn *t = NULL;
    int r;

    msg_key(k, o->sender_org, o->msg_id);
    /* The content key is bound to its message: it cannot be moved. */
    if ((r = seal_blob(s, o->key, 32, k, sizeof k, &sealed, &sl)) != 0)
        return r;
    rec.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
    rec.sealed_key = (ProtobufCBinaryData){ sl, sealed };
    rec.sign_key = (ProtobufCBinaryData){ 32, (uint8_t *)sign_key };
    rec.received = now;
    put_be64(until, (uint64_t)o->keep_until);
    for (int grown = 0;; grown = 1) {
        if ((r = begin(s, 0, &t)) == 0) {
            if ((r = seen_in(t, s, o->sender_org, o->msg_id)) == 0 &&
                (r = put_pb(t, s->inbox, k, sizeof k, &rec.base, 0)) == 0)
                r = mdb_err(mdb_put(t, s->seen, &key, &val, 0));
            r = commit(t, r);
        }
        /* A full map grows once, then the whole transaction runs again. */
        if (r != LSN_ERR_STORE_FULL || grown || grow_map(s) != 0)
            break;
    }
    free(sealed);
    return r;
}

/* A record `liaison prune` emptied: envelope and sealed key gone, the
 * sender, msg_id, times and the seen entry kept. */
static int
is_pruned(const Liaison__StoredReceived *rec)
{
    return rec->envelope.len == 0 && rec->sealed_key.len == 0;
}

static int
stored_from(const struct lsn_local *s, const uint8_t k[MSG_KEY],
            const Liaison__StoredReceived *rec, struct lsn_local_msg **out)
{
    struct lsn_local_msg *m = calloc(1, sizeof *m);
    int r;

    *out = NULL;
    if (m == NULL)
        return LSN_ERR_NOMEM;
    memcpy(m->sender_org, k, ORG_LEN);
    m->sender_org[ORG_LEN] = '\0';
    memcpy(m->msg_id, k + ORG_LEN, LSN_MSG_ID_LEN);
    if (rec->sign_key.len != 32 || rec->envelope.len == 0) {
        r = LSN_ERR_CORRUPT;
        goto fail;
    }
    if (rec->sealed_key.len != 32 + 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
        (r = unseal_blob(s, rec->sealed_key.data, rec->sealed_key.len, k, MSG_KEY,
                         m->key)) != 0) {
        r = LSN_ERR_CORRUPT;
        goto fail;
    }
    memcpy(m->sign_key, rec->sign_key.data, 32);
    if ((m->envelope = malloc(rec->envelope.len)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto fail;
    }
    memcpy(m->envelope, rec->envelope.data, rec->envelope.len);
    m->len = rec->envelope.len;
    m->received = rec->received;
    m->read = rec->read;
    *out = m;
    return 0;
fail:
    lsn_local_msg_free(&m);
    return r;
}

int
lsn_local_get_received(struct lsn_local *s, const char *org,
                       const uint8_t msg_id[16], struct lsn_local_msg **out)
{
    Liaison__StoredReceived *rec = NULL;
    uint8_t k[MSG_KEY];
    MDB_txn *t = NULL;
    int r;

    *out = NULL;
    msg_key(k, org, msg_id);
    if ((r = begin(s, MDB_RDONLY, &t)) != 0)
        return r;
    r = get_pb(t, s->inbox, k, sizeof k, &liaison__stored_received__descriptor,
               (ProtobufCMessage **)&rec);
    if (r == 0 && is_pruned(rec)) {
        char hex[33];
        lsn_hex(hex, msg_id, 16);
        lsn_set_detail("message %s of %s was pruned from this store: its "
                       "content key is wiped", hex, org);
        r = LSN_ERR_NOT_FOUND;
    } else if (r == 0) {
        r = stored_from(s, k, rec, out);
    }
    lsn_pb_free((ProtobufCMessage *)rec);
    mdb_txn_abort(t);
    return r;
}

int
lsn_local_was_pruned(struct lsn_local *s, const char *org, const uint8_t msg_id[16])
{
    Liaison__StoredReceived *rec = NULL;
    uint8_t k[MSG_KEY];
    MDB_txn *t = NULL;
    int pruned;

    msg_key(k, org, msg_id);
    if (begin(s, MDB_RDONLY, &t) != 0)
        return 0;
    pruned = get_pb(t, s->inbox, k, sizeof k, &liaison__stored_received__descriptor,
                    (ProtobufCMessage **)&rec) == 0 && is_pruned(rec);
    lsn_pb_free((ProtobufCMessage *)rec);
    mdb_txn_abort(t);
    return pruned;
}

static int
mark_read_once(struct lsn_local *s, const char *org, const uint8_t msg_id[16])
{
    Liaison__StoredReceived *rec = NULL;
    uint8_t k[MSG_KEY];
    MDB_txn *t = NULL;
    int r;

    msg_key(k, org, msg_id);
    if ((r = begin(s, 0, &t)) != 0)
        return r;
    r = get_pb(t, s->inbox, k, sizeof k, &liaison__stored_received__descriptor,
               (ProtobufCMessage **)&rec);
    if (r == 0 && !rec->read) {
        rec->read = 1;
        r = put_pb(t, s->inbox, k, sizeof k, &rec->base, 0);
    }
    lsn_pb_free((ProtobufCMessage *)rec);
    return commit(t, r);
}

int
lsn_local_mark_read(struct lsn_local *s, const char *org,
                    const uint8_t msg_id[16])
{
    int r = mark_read_once(s, org, msg_id);

    if (r == LSN_ERR_STORE_FULL && grow_map_over(s) == 0) {
        r = mark_read_once(s, org, msg_id);
        map_back(s);
    }
    return r;
}

/* 1 if the lower-case hex of id starts with prefix. */
static int
hex_prefix(const uint8_t id[16], const char *prefix)
{
    char hex[33];

    lsn_hex(hex, id, 16);
    return strncmp(hex, prefix, strlen(prefix)) == 0;
}

static int
prefix_ok(const char *prefix)
{
    size_t n = strlen(prefix);

    if (n < 4 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((prefix[i] >= '0' && prefix[i] <= '9') ||
              (prefix[i] >= 'a' && prefix[i] <= 'f')))
            return 0;
    return 1;
}

/* Visits the records of db in key order, from `from` (NULL: the first) on,
 * inside transaction t.  visit returns 0 to go on, SCAN_END to stop
 * quietly, or anything else to stop and have scan return it. */
typedef int (*visit_fn)(void *ctx, const MDB_val *k, const MDB_val *v);
#define SCAN_END 0x7fffffff

static int
scan_in(MDB_txn *t, MDB_dbi db, const MDB_val *from, visit_fn visit, void *ctx)
{
    MDB_cursor *c = NULL;
    MDB_val k = { 0, NULL }, v;
    int rc, r = 0;

    if ((rc = mdb_cursor_open(t, db, &c)) != 0)
        return mdb_err(rc);
    if (from != NULL)
        k = *from;
    for (rc = mdb_cursor_get(c, &k, &v, from ? MDB_SET_RANGE : MDB_FIRST);
         rc == 0 && r == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        r = visit(ctx, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND && r == 0)
        r = mdb_err(rc);
    mdb_cursor_close(c);
    return r == SCAN_END ? 0 : r;
}

/* scan_in in a read-only transaction of its own. */
static int
scan(struct lsn_local *s, MDB_dbi db, const MDB_val *from, visit_fn visit,
     void *ctx)
{
    MDB_txn *t = NULL;
    int r;

    if ((r = begin(s, MDB_RDONLY, &t)) != 0)
        return r;
    r = scan_in(t, db, from, visit, ctx);
    mdb_txn_abort(t);
    return r;
}

struct prefix_hunt {
    const char *prefix;
    size_t id_off;
    uint8_t *found;
    size_t *klen;
    int hits;
};

static int
visit_prefix(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct prefix_hunt *h = ctx;

    (void)v;
    if (k->mv_size < h->id_off + 16 || k->mv_size > MSG_KEY ||
        !hex_prefix((const uint8_t *)k->mv_data + h->id_off, h->prefix))
        return 0;
    if (h->hits++ == 0) {
        memcpy(h->found, k->mv_data, k->mv_size);
        *h->klen = k->mv_size;
    }
    return 0;
}

/* Scans db for keys whose msg_id (at offset id_off) matches prefix. */
static int
find_by_prefix(struct lsn_local *s, MDB_dbi db, size_t id_off,
               const char *prefix, uint8_t found_key[MSG_KEY], size_t *klen)
{
    struct prefix_hunt h = { prefix, id_off, found_key, klen, 0 };
    int r;

    if (!prefix_ok(prefix)) {
        lsn_set_detail("`%.40s` is not a message id prefix (4 to 32 hex digits)",
                       prefix);
        return LSN_ERR_USAGE;
    }
    if ((r = scan(s, db, NULL, visit_prefix, &h)) != 0)
        return r;
    if (h.hits == 0)
        return LSN_ERR_NOT_FOUND;
    return h.hits > 1 ? LSN_ERR_AMBIGUOUS : 0;
}

int
lsn_local_find_received(struct lsn_local *s, const char *prefix,
                        char org[LSN_ENV_ORG_MAX + 1], uint8_t msg_id[16])
{
    uint8_t k[MSG_KEY];
    size_t kl = 0;
    int r;

    if ((r = find_by_prefix(s, s->inbox, ORG_LEN, prefix, k, &kl)) != 0)
        return r;
    memcpy(org, k, ORG_LEN);
    org[ORG_LEN] = '\0';
    memcpy(msg_id, k + ORG_LEN, 16);
    return 0;
}

struct each_received {
    struct lsn_local *s;
    lsn_local_each_fn fn;
    void *ctx;
};

static int
visit_received(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct each_received *x = ctx;
    Liaison__StoredReceived *rec = NULL;
    struct lsn_local_msg *m = NULL;
    int r;

    if (k->mv_size != MSG_KEY)
        return 0;
    r = LSN_PB_DECODE(stored_received, v->mv_data, v->mv_size, RECORD_MAX * 2, &rec);
    if (r == 0 && !is_pruned(rec) && (r = stored_from(x->s, k->mv_data, rec, &m)) == 0)
        r = x->fn(x->ctx, m);
    lsn_local_msg_free(&m);
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

int
lsn_local_each_received(struct lsn_local *s, lsn_local_each_fn fn, void *ctx)
{
    struct each_received x = { s, fn, ctx };

    return scan(s, s->inbox, NULL, visit_received, &x);
}

void
lsn_local_msg_free(struct lsn_local_msg **mp)
{
    struct lsn_local_msg *m = *mp;

    if (m == NULL)
        return;
    free(m->envelope);
    sodium_memzero(m, sizeof *m);
    free(m);
    *mp = NULL;
}

int
lsn_local_prune(struct lsn_local *s, int64_t now)
{
    MDB_txn *t = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc, r;

    if ((r = begin(s, 0, &t)) != 0)
        return r;
    if ((rc = mdb_cursor_open(t, s->seen, &c)) != 0)
        return commit(t, mdb_err(rc));
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size == 8 && (int64_t)get_be64(v.mv_data) < now &&
            (rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return commit(t, rc == MDB_NOTFOUND ? 0 : mdb_err(rc));
}

struct pruned_item {
    char org[ORG_LEN + 1];
    uint8_t id[LSN_MSG_ID_LEN];
    int64_t received;
    uint64_t bytes;
};

struct pruned_list {
    struct pruned_item *v;
    size_t n, cap;
};

static int
pruned_add(struct pruned_list *l, const char *org, const uint8_t id[16],
           int64_t received, uint64_t bytes)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct pruned_item *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return LSN_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    memcpy(l->v[l->n].org, org, sizeof l->v[l->n].org);
    memcpy(l->v[l->n].id, id, LSN_MSG_ID_LEN);
    l->v[l->n].received = received;
    l->v[l->n].bytes = bytes;
    l->n++;
    return 0;
}

/* One transaction: empties (unless dry_run) and lists into l. */
static int
prune_read_once(struct lsn_local *s, int64_t before, int dry_run,
                struct pruned_list *l)
{
    MDB_txn *t = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc, r;

    l->n = 0;
    if ((r = begin(s, dry_run ? MDB_RDONLY : 0, &t)) != 0)
        return r;
    if ((rc = mdb_cursor_open(t, s->inbox, &c)) != 0)
        return commit(t, mdb_err(rc));
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && r == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        Liaison__StoredReceived *rec = NULL;
        char org[ORG_LEN + 1];
        uint8_t id[LSN_MSG_ID_LEN];
        uint64_t size;

        if (k.mv_size != MSG_KEY)
            continue;
        if ((r = LSN_PB_DECODE(stored_received, v.mv_data, v.mv_size,
                               RECORD_MAX * 2, &rec)) != 0)
            break;
        if (!rec->read || rec->received >= before || is_pruned(rec)) {
            lsn_pb_free((ProtobufCMessage *)rec);
            continue;
        }
        memcpy(org, k.mv_data, ORG_LEN);
        org[ORG_LEN] = '\0';
        memcpy(id, (const uint8_t *)k.mv_data + ORG_LEN, sizeof id);
        size = rec->envelope.len;
        if (!dry_run) {
            uint8_t *enc = NULL;
            size_t len = 0;
            sodium_memzero(rec->sealed_key.data, rec->sealed_key.len);
            rec->envelope.len = 0;
            rec->sealed_key.len = 0;
            if ((r = lsn_pb_encode(&rec->base, &enc, &len)) == 0) {
                MDB_val nv = { len, enc };
                r = mdb_err(mdb_cursor_put(c, &k, &nv, MDB_CURRENT));
            }
            free(enc);
        }
        if (r == 0)
            r = pruned_add(l, org, id, rec->received, size);
        lsn_pb_free((ProtobufCMessage *)rec);
    }
    mdb_cursor_close(c);
    if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
        r = mdb_err(rc);
    if (dry_run) {
        mdb_txn_abort(t);
        return r;
    }
    return commit(t, r);
}

int
lsn_local_prune_read(struct lsn_local *s, int64_t before, int dry_run,
                     lsn_local_pruned_fn fn, void *ctx, size_t *n, uint64_t *bytes)
{
    struct pruned_list l = { NULL, 0, 0 };
    int r = prune_read_once(s, before, dry_run, &l);

    if (r == LSN_ERR_STORE_FULL && grow_map_over(s) == 0) {
        r = prune_read_once(s, before, dry_run, &l);
        map_back(s);
    }
    *n = 0;
    *bytes = 0;
    /* Told only once it is committed. */
    for (size_t i = 0; r == 0 && i < l.n; i++) {
        (*n)++;
        *bytes += l.v[i].bytes;
        if (fn != NULL)
            r = fn(ctx, l.v[i].org, l.v[i].id, l.v[i].received, l.v[i].bytes);
    }
    free(l.v);
    return r;
}

/* ------------------------------------------------------------ sent */

int
lsn_local_put_sent(struct lsn_local *s, const uint8_t msg_id[16],
                   const Liaison__StoredSent *rec)
{
    MDB_txn *t = NULL;
    int r;

    for (int grown = 0;; grown = 1) {
        if ((r = begin(s, 0, &t)) != 0)
            return r;
        r = put_pb(t, s->sent, msg_id, 16, &rec->base, MDB_NOOVERWRITE);
        if (r == LSN_ERR_EXISTS)
            r = 0;      /* the first record of this msg_id stands */
        r = commit(t, r);
        if (r != LSN_ERR_STORE_FULL || grown || grow_map(s) != 0)
            return r;
    }
}

int
lsn_local_get_sent(struct lsn_local *s, const uint8_t msg_id[16],
                   Liaison__StoredSent **out)
{
    MDB_txn *t = NULL;
    int r;

    *out = NULL;
    if ((r = begin(s, MDB_RDONLY, &t)) != 0)
        return r;
    r = get_pb(t, s->sent, msg_id, 16, &liaison__stored_sent__descriptor,
               (ProtobufCMessage **)out);
    mdb_txn_abort(t);
    return r;
}

int
lsn_local_del_sent(struct lsn_local *s, const uint8_t msg_id[16])
{
    MDB_val key = { 16, (void *)msg_id };
    MDB_txn *t = NULL;
    int r, rc;

    if ((r = begin(s, 0, &t)) != 0)
        return r;
    rc = mdb_del(t, s->sent, &key, NULL);
    return commit(t, rc == MDB_NOTFOUND ? 0 : mdb_err(rc));
}

int
lsn_local_seal(const struct lsn_local *s, const uint8_t *msg, size_t len,
               const uint8_t *ad, size_t ad_len, uint8_t **out, size_t *out_len)
{
    return seal_blob(s, msg, len, ad, ad_len, out, out_len);
}

int
lsn_local_unseal(const struct lsn_local *s, const uint8_t *blob, size_t len,
                 const uint8_t *ad, size_t ad_len, uint8_t *out)
{
    return unseal_blob(s, blob, len, ad, ad_len, out);
}

/* Sets a sent record's outcome: submitted (and its content wiped), or a
 * permanent refusal. */
static int
sent_outcome(struct lsn_local *s, const uint8_t msg_id[16], int submitted,
             int refused)
{
    Liaison__StoredSent *rec = NULL;
    MDB_txn *t = NULL;
    int r;

    if ((r = begin(s, 0, &t)) != 0)
        return r;
    r = get_pb(t, s->sent, msg_id, 16, &liaison__stored_sent__descriptor,
               (ProtobufCMessage **)&rec);
    if (r == 0) {
        rec->submitted = submitted;
        rec->refused = refused;
        rec->waiting = 0;
        rec->retry_at = 0;
        if (rec->sealed_content.len > 0)
            sodium_memzero(rec->sealed_content.data, rec->sealed_content.len);
        rec->sealed_content.len = 0;
        r = put_pb(t, s->sent, msg_id, 16, &rec->base, 0);
    }
    lsn_pb_free((ProtobufCMessage *)rec);
    return commit(t, r);
}

int
lsn_local_mark_submitted(struct lsn_local *s, const uint8_t msg_id[16])
{
    return sent_outcome(s, msg_id, 1, 0);
}

int
lsn_local_mark_refused(struct lsn_local *s, const uint8_t msg_id[16], int err)
{
    return sent_outcome(s, msg_id, 0, err);
}

int
lsn_local_mark_waiting(struct lsn_local *s, const uint8_t msg_id[16], int err,
                       const char *why, int64_t now, int64_t base)
{
    Liaison__StoredSent *rec = NULL;
    char text[LSN_LOCAL_WHY_MAX + 1], *held;
    MDB_txn *t = NULL;
    int64_t wait;
    int r;

    if ((r = begin(s, 0, &t)) != 0)
        return r;
    r = get_pb(t, s->sent, msg_id, 16, &liaison__stored_sent__descriptor,
               (ProtobufCMessage **)&rec);
    if (r == 0 && !rec->submitted && rec->refused == 0) {
        /* base, 2 base, 4 base ... at most LSN_LOCAL_RETRY_MAX apart. */
        wait = base;
        for (uint32_t i = 0; i < rec->tries && wait < LSN_LOCAL_RETRY_MAX; i++)
            wait *= 2;
        if (wait > LSN_LOCAL_RETRY_MAX)
            wait = LSN_LOCAL_RETRY_MAX;
        snprintf(text, sizeof text, "%s", why != NULL ? why : "");
        rec->waiting = err;
        rec->retry_at = now + wait;
        rec->tries = rec->tries < UINT32_MAX ? rec->tries + 1 : rec->tries;
        held = rec->waiting_why;
        rec->waiting_why = text;
        r = put_pb(t, s->sent, msg_id, 16, &rec->base, 0);
        rec->waiting_why = held;
    }
    lsn_pb_free((ProtobufCMessage *)rec);
    return commit(t, r);
}

int
lsn_local_digest(const struct lsn_local *s, const uint8_t *msg, size_t len,
                 uint8_t out[32])
{
    uint8_t k[32];

    subkey(k, SEAL_KEY(s), "liaison v1 local digest");
    crypto_generichash(out, 32, msg, len, k, 32);
    sodium_memzero(k, sizeof k);
    return 0;
}

int
lsn_local_find_sent(struct lsn_local *s, const char *prefix, uint8_t msg_id[16])
{
    uint8_t k[MSG_KEY];
    size_t kl = 0;
    int r;

    if ((r = find_by_prefix(s, s->sent, 0, prefix, k, &kl)) != 0)
        return r;
    memcpy(msg_id, k, 16);
    return 0;
}

struct each_sent {
    lsn_local_sent_fn fn;
    void *ctx;
};

static int
visit_unsubmitted(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct each_sent *x = ctx;
    Liaison__StoredSent *rec = NULL;
    int r;

    if (k->mv_size != 16)
        return 0;
    r = LSN_PB_DECODE(stored_sent, v->mv_data, v->mv_size, RECORD_MAX * 2, &rec);
    if (r == 0 && !rec->submitted && rec->refused == 0)
        r = x->fn(x->ctx, k->mv_data, rec);
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

int
lsn_local_each_unsubmitted(struct lsn_local *s, lsn_local_sent_fn fn, void *ctx)
{
    struct each_sent x = { fn, ctx };

    return scan(s, s->sent, NULL, visit_unsubmitted, &x);
}

static void
receipt_key(uint8_t k[RCPT_KEY], const uint8_t msg_id[16], const char *org,
            const char *device)
{
    memset(k, 0, RCPT_KEY);
    memcpy(k, msg_id, 16);
    memcpy(k + 16, org, strnlen(org, ORG_LEN));
    memcpy(k + 16 + ORG_LEN, device, strnlen(device, DEV_LEN));
}

int
lsn_local_put_receipt(struct lsn_local *s, const uint8_t msg_id[16],
                      const char *org, const char *device, int kind, int64_t at,
                      int reads_off)
{
    return lsn_local_put_receipt_reason(s, msg_id, org, device, kind, at,
                                        reads_off, 0);
}

int
lsn_local_put_receipt_reason(struct lsn_local *s, const uint8_t msg_id[16],
                             const char *org, const char *device, int kind,
                             int64_t at, int reads_off, int reason)
{
    Liaison__StoredReceipt rec = LIAISON__STORED_RECEIPT__INIT;
    Liaison__StoredReceipt *old = NULL;
    uint8_t k[RCPT_KEY];
    MDB_txn *t = NULL;
    int r;

    receipt_key(k, msg_id, org, device);
    rec.kind = kind;
    rec.at = at;
    rec.reads_off = reads_off != 0;
    rec.reason = reason;
    if ((r = begin(s, 0, &t)) != 0)
        return r;
    /* A read receipt outranks a delivery receipt, a refusal both; never
     * the reverse. */
    r = get_pb(t, s->receipts, k, sizeof k, &liaison__stored_receipt__descriptor,
               (ProtobufCMessage **)&old);
    if (r == 0 && old->kind >= rec.kind)
        r = 0;
    else if (r == 0 || r == LSN_ERR_NOT_FOUND)
        r = put_pb(t, s->receipts, k, sizeof k, &rec.base, 0);
    lsn_pb_free((ProtobufCMessage *)old);
    return commit(t, r);
}

struct each_receipt {
    const uint8_t *msg_id;
    lsn_local_receipt_fn fn;
    lsn_local_receipt_reason_fn fn_reason;  /* instead of fn, if set */
    void *ctx;
};

static int
visit_receipt(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct each_receipt *x = ctx;
    Liaison__StoredReceipt *rec = NULL;
    char org[ORG_LEN + 1], dev[DEV_LEN + 1];
    int r;

    if (k->mv_size != RCPT_KEY || memcmp(k->mv_data, x->msg_id, 16) != 0)
        return SCAN_END;    /* past this message's receipts */
    memcpy(org, (uint8_t *)k->mv_data + 16, ORG_LEN);
    org[ORG_LEN] = '\0';
    memcpy(dev, (uint8_t *)k->mv_data + 16 + ORG_LEN, DEV_LEN);
    dev[DEV_LEN] = '\0';
    r = LSN_PB_DECODE(stored_receipt, v->mv_data, v->mv_size, 1024, &rec);
    if (r == 0 && x->fn_reason != NULL)
        r = x->fn_reason(x->ctx, org, dev, rec->kind, rec->at, rec->reads_off,
                         rec->reason);
    else if (r == 0)
        r = x->fn(x->ctx, org, dev, rec->kind, rec->at, rec->reads_off);
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

int
lsn_local_each_receipt(struct lsn_local *s, const uint8_t msg_id[16],
                       lsn_local_receipt_fn fn, void *ctx)
{
    struct each_receipt x = { msg_id, fn, NULL, ctx };
    uint8_t start[RCPT_KEY];
    MDB_val from = { sizeof start, start };

    memset(start, 0, sizeof start);
    memcpy(start, msg_id, 16);
    return scan(s, s->receipts, &from, visit_receipt, &x);
}

int
lsn_local_each_receipt_reason(struct lsn_local *s, const uint8_t msg_id[16],
                              lsn_local_receipt_reason_fn fn, void *ctx)
{
    struct each_receipt x = { msg_id, NULL, fn, ctx };
    uint8_t start[RCPT_KEY];
    MDB_val from = { sizeof start, start };

    memset(start, 0, sizeof start);
    memcpy(start, msg_id, 16);
    return scan(s, s->receipts, &from, visit_receipt, &x);
}

/* ------------------------------------------------------------ audit */

static void
audit_mac(const struct lsn_local *s, uint8_t mac[32], const uint8_t prev[32],
          const uint8_t *entry, size_t len)
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, AUDIT_KEY(s), 32, 32);
    crypto_generichash_update(&st, prev, 32);
    crypto_generichash_update(&st, entry, len);
    crypto_generichash_final(&st, mac, 32);
}

/* The head names the last entry (seq, its mac) under a tag only the store
 * key can make, so a log cut short cannot be made to look whole. */
#define HEAD_LEN (8 + 32 + 32)

static void
head_tag(const struct lsn_local *s, uint8_t tag[32], const uint8_t head[40])
{
    static const char label[] = "liaison v1 audit head";
    crypto_generichash_state st;

    crypto_generichash_init(&st, AUDIT_KEY(s), 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_generichash_update(&st, head, 40);
    crypto_generichash_final(&st, tag, 32);
}

static int
audit_append(struct lsn_local *s, int64_t now, const char *event, char *detail)
{
    static const char head_key[] = "audit-head";
    Liaison__AuditEntry e = LIAISON__AUDIT_ENTRY__INIT;
    uint8_t prev[32] = { 0 }, mac[32], seqk[8], head[HEAD_LEN], *enc = NULL;
    size_t n = 0;
    uint64_t seq = 1;
    MDB_val hk = { sizeof head_key - 1, (void *)head_key }, hv;
    MDB_txn *t = NULL;
    int rc, r;

    if ((r = begin(s, 0, &t)) != 0)
        return r;
    rc = mdb_get(t, s->meta, &hk, &hv);
    if (rc == 0 && hv.mv_size == sizeof head) {
        seq = get_be64(hv.mv_data) + 1;
        memcpy(prev, (uint8_t *)hv.mv_data + 8, 32);
    } else if (rc != MDB_NOTFOUND) {
        return commit(t, LSN_ERR_CORRUPT);
    }
    e.seq = seq;
    e.at = now;
    e.event = (char *)event;
    e.detail = detail;
    e.prev = (ProtobufCBinaryData){ 32, prev };
    if ((r = lsn_pb_encode(&e.base, &enc, &n)) != 0)
        return commit(t, r);
    audit_mac(s, mac, prev, enc, n);
    put_be64(seqk, seq);
    {
        MDB_val k = { 8, seqk }, v = { n, enc };
        r = mdb_err(mdb_put(t, s->audit, &k, &v, MDB_NOOVERWRITE));
    }
    put_be64(head, seq);
    memcpy(head + 8, mac, 32);
    head_tag(s, head + 40, head);
    hv.mv_size = sizeof head;
    hv.mv_data = head;
    if (r == 0)
        r = mdb_err(mdb_put(t, s->meta, &hk, &hv, 0));
    free(enc);
    return commit(t, r);
}

int
lsn_local_audit(struct lsn_local *s, int64_t now, const char *event,
                const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    int r;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    for (int grown = 0;; grown = 1) {
        r = audit_append(s, now, event, detail);
        if (r != LSN_ERR_STORE_FULL || grown || grow_map(s) != 0)
            return r;
    }
}

struct each_audit {
    lsn_local_audit_fn fn;
    void *ctx;
};

static int
visit_audit(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct each_audit *x = ctx;
    Liaison__AuditEntry *e = NULL;
    int r;

    (void)k;
    if ((r = LSN_PB_DECODE(audit_entry, v->mv_data, v->mv_size, 4096, &e)) == 0)
        r = x->fn(x->ctx, e);
    lsn_pb_free((ProtobufCMessage *)e);
    return r;
}

int
lsn_local_each_audit(struct lsn_local *s, lsn_local_audit_fn fn, void *ctx)
{
    struct each_audit x = { fn, ctx };

    return scan(s, s->audit, NULL, visit_audit, &x);
}

struct chain {
    const struct lsn_local *s;
    uint8_t prev[32];
    uint64_t n, bad;
};

/* One link: in sequence, naming the previous entry's mac. */
static int
visit_link(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct chain *ch = ctx;
    Liaison__AuditEntry *e = NULL;
    uint64_t want = ch->n + 1;
    int ok = k->mv_size == 8 && get_be64(k->mv_data) == want &&
             LSN_PB_DECODE(audit_entry, v->mv_data, v->mv_size, 4096, &e) == 0 &&
             e->seq == want && e->prev.len == 32 &&
             sodium_memcmp(e->prev.data, ch->prev, 32) == 0;

    lsn_pb_free((ProtobufCMessage *)e);
    if (!ok) {
        ch->bad = want;
        return LSN_ERR_CORRUPT;
    }
    audit_mac(ch->s, ch->prev, ch->prev, v->mv_data, v->mv_size);
    ch->n = want;
    return 0;
}

int
lsn_local_audit_verify(struct lsn_local *s, uint64_t *n, uint64_t *bad)
{
    static const char head_key[] = "audit-head";
    struct chain ch = { .s = s };
    MDB_val hk = { sizeof head_key - 1, (void *)head_key }, hv;
    uint8_t tag[32];
    MDB_txn *t = NULL;
    int rc, r;

    /* One transaction: an entry appended meanwhile is not half seen. */
    if ((r = begin(s, MDB_RDONLY, &t)) != 0)
        return r;
    r = scan_in(t, s->audit, NULL, visit_link, &ch);
    *n = ch.n;
    *bad = ch.bad;
    if (r == 0) {
        rc = mdb_get(t, s->meta, &hk, &hv);
        if (rc == MDB_NOTFOUND && ch.n == 0) {
            r = 0;
        } else if (rc != 0 || hv.mv_size != HEAD_LEN || get_be64(hv.mv_data) != ch.n ||
                   sodium_memcmp((uint8_t *)hv.mv_data + 8, ch.prev, 32) != 0 ||
                   (head_tag(s, tag, hv.mv_data),
                    sodium_memcmp(tag, (uint8_t *)hv.mv_data + 40, 32) != 0)) {
            *bad = ch.n + (ch.n == 0);
            r = LSN_ERR_CORRUPT;
        }
    }
    mdb_txn_abort(t);
    return r;
}
