/* local.c: the client's local store in LMDB (see local.h): open and close,
 * the map and its growth, and what the files of the store share (keys,
 * records, transactions, scans, the seal key).  Received messages are in
 * local_inbox.c, sent ones and their receipts in local_sent.c, the audit
 * log in local_audit.c, feedback in local_feedback.c; local_int.h is what
 * they share.
 *
 * Databases and keys:
 *   inbox     org (32, zero-padded) || msg_id (16)  -> StoredReceived
 *   seen      org || msg_id                          -> keep_until (i64 BE)
 *   sent      msg_id                                 -> StoredSent
 *   receipts  msg_id || org || device (64)           -> StoredReceipt
 *   audit     seq (u64 BE)                           -> AuditEntry
 *   meta      "audit-head"                           -> seq (8) || mac (32) || tag (32)
 *   feedback  org || msg_id || from org (32) || feedback msg_id (16)
 *                                                    -> StoredFeedback
 *   links     org || msg_id || kind (1) || org (32) || msg_id (16)
 *                                                    -> StoredLink
 * Records are protobuf, read back through the strict decoder. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <sodium.h>

#include "client/local.h"
#include "client/local_int.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/pb.h"

/* The map is address space only (the file grows as used); it starts at
 * MAP_START, or at the ceiling when that is lower, and doubles on
 * MDB_MAP_FULL up to the ceiling (lsn_local_set_map_max). */
#define MAP_START (1ULL << 30)
#define GROW_MIN ((size_t)2 * LSN_ENVELOPE_MAX + (1u << 20))
#define MAP_MAX_DEFAULT (sizeof(size_t) >= 8 ? 64ULL << 30 : 1ULL << 30)

/* One key per use, both derived from the store key. */
static void
subkey(uint8_t out[32], const uint8_t store_key[32], const char *label)
{
    crypto_generichash(out, 32, (const uint8_t *)label, strlen(label), store_key, 32);
}

int
lsn_local_mdb_err(int rc)
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
        (rc = mdb_env_set_maxdbs(s->env, 16)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, (size_t)MAP_START)) != 0 ||
        (rc = mdb_env_open(s->env, dir, 0, 0600)) != 0 ||
        (rc = mdb_txn_begin(s->env, NULL, 0, &t)) != 0 ||
        (rc = mdb_dbi_open(t, "inbox", MDB_CREATE, &s->inbox)) != 0 ||
        (rc = mdb_dbi_open(t, "seen", MDB_CREATE, &s->seen)) != 0 ||
        (rc = mdb_dbi_open(t, "sent", MDB_CREATE, &s->sent)) != 0 ||
        (rc = mdb_dbi_open(t, "receipts", MDB_CREATE, &s->receipts)) != 0 ||
        (rc = mdb_dbi_open(t, "audit", MDB_CREATE, &s->audit)) != 0 ||
        (rc = mdb_dbi_open(t, "meta", MDB_CREATE, &s->meta)) != 0 ||
        (rc = mdb_dbi_open(t, "feedback", MDB_CREATE, &s->feedback)) != 0 ||
        (rc = mdb_dbi_open(t, "links", MDB_CREATE, &s->links)) != 0) {
        r = lsn_local_mdb_err(rc);
        if (t != NULL)
            mdb_txn_abort(t);
        goto fail;
    }
    if ((rc = mdb_txn_commit(t)) != 0) {
        r = lsn_local_mdb_err(rc);
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
        return lsn_local_mdb_err(mdb_env_set_mapsize(s->env, max));
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

int
lsn_local_grow_map(struct lsn_local *s)
{
    return grow_map_to(s, s->map_max);
}

/* Writes that make room (marking read, pruning) rewrite a record, which
 * needs fresh pages before the old ones are free: they may grow the map
 * past the ceiling by one envelope's room, after which the map is set
 * back to the ceiling (LMDB keeps it at least the data file's size), so
 * new messages still find the store full until room is made. */
int
lsn_local_grow_over(struct lsn_local *s)
{
    size_t over = s->map_max + GROW_MIN;

    return grow_map_to(s, over < s->map_max ? SIZE_MAX : over);
}

void
lsn_local_map_back(struct lsn_local *s)
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

void
lsn_local_msg_key(uint8_t k[MSG_KEY], const char *org, const uint8_t msg_id[16])
{
    memset(k, 0, MSG_KEY);
    memcpy(k, org, strnlen(org, ORG_LEN));
    memcpy(k + ORG_LEN, msg_id, LSN_MSG_ID_LEN);
}

int
lsn_local_put_pb(MDB_txn *t, MDB_dbi db, const void *k, size_t kl,
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
    r = lsn_local_mdb_err(mdb_put(t, db, &key, &val, flags));
    free(buf);
    return r;
}

int
lsn_local_get_pb(MDB_txn *t, MDB_dbi db, const void *k, size_t kl,
                 const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
    MDB_val key = { kl, (void *)k }, val;
    int rc;

    *out = NULL;
    if ((rc = mdb_get(t, db, &key, &val)) != 0)
        return lsn_local_mdb_err(rc);
    return lsn_pb_decode(d, val.mv_data, val.mv_size, RECORD_MAX * 2, out);
}

int
lsn_local_commit(MDB_txn *t, int r)
{
    if (r != 0) {
        mdb_txn_abort(t);
        return r;
    }
    return lsn_local_mdb_err(mdb_txn_commit(t));
}

int
lsn_local_begin(struct lsn_local *s, unsigned flags, MDB_txn **t)
{
    int rc = mdb_txn_begin(s->env, NULL, flags, t);

    /* Another process grew the map: take its size and go on. */
    if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(s->env, 0) == 0)
        rc = mdb_txn_begin(s->env, NULL, flags, t);
    return lsn_local_mdb_err(rc);
}

/* Seals msg under the seal key, bound to ad: nonce (24) || ciphertext.
 * *out is malloc'd (len + 40 bytes). */
int
lsn_local_seal(const struct lsn_local *s, const uint8_t *msg, size_t len,
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

/* Opens a blob from lsn_local_seal into out (room for len - 40 bytes). */
int
lsn_local_unseal(const struct lsn_local *s, const uint8_t *b, size_t len,
                 const uint8_t *ad, size_t ad_len, uint8_t *out)
{
    if (len < 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, b + 24, len - 24,
                                                   ad, ad_len, b, SEAL_KEY(s)) != 0)
        return LSN_ERR_CORRUPT;
    return 0;
}

void
lsn_local_put_be64(uint8_t p[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t
lsn_local_get_be64(const uint8_t p[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
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

int
lsn_local_scan_in(MDB_txn *t, MDB_dbi db, const MDB_val *from, visit_fn visit, void *ctx)
{
    MDB_cursor *c = NULL;
    MDB_val k = { 0, NULL }, v;
    int rc, r = 0;

    if ((rc = mdb_cursor_open(t, db, &c)) != 0)
        return lsn_local_mdb_err(rc);
    if (from != NULL)
        k = *from;
    for (rc = mdb_cursor_get(c, &k, &v, from ? MDB_SET_RANGE : MDB_FIRST);
         rc == 0 && r == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        r = visit(ctx, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND && r == 0)
        r = lsn_local_mdb_err(rc);
    mdb_cursor_close(c);
    return r == SCAN_END ? 0 : r;
}

/* lsn_local_scan_in in a read-only transaction of its own. */
int
lsn_local_scan(struct lsn_local *s, MDB_dbi db, const MDB_val *from, visit_fn visit,
               void *ctx)
{
    MDB_txn *t = NULL;
    int r;

    if ((r = lsn_local_begin(s, MDB_RDONLY, &t)) != 0)
        return r;
    r = lsn_local_scan_in(t, db, from, visit, ctx);
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
int
lsn_local_find_by_prefix(struct lsn_local *s, MDB_dbi db, size_t id_off,
                         const char *prefix, uint8_t found_key[MSG_KEY], size_t *klen)
{
    struct prefix_hunt h = { prefix, id_off, found_key, klen, 0 };
    int r;

    if (!prefix_ok(prefix)) {
        lsn_set_detail("`%.40s` is not a message id prefix (4 to 32 hex digits)",
                       prefix);
        return LSN_ERR_USAGE;
    }
    if ((r = lsn_local_scan(s, db, NULL, visit_prefix, &h)) != 0)
        return r;
    if (h.hits == 0)
        return LSN_ERR_NOT_FOUND;
    return h.hits > 1 ? LSN_ERR_AMBIGUOUS : 0;
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
