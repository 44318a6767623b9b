/* store.c: the relay's LMDB store (store.h, docs/relay.md "Store").
 *
 * Tables (LMDB named databases), with dk = len8 "org/device" and
 * mk = len8 org || msg_id (org "" names a relay notice):
 *   meta   num64be -> message record: state, times, size, pending
 *                references, the envelope's number, its mk and per
 *                recipient org the state of each device queue; found by
 *                mk through the in-memory index (relay/msgidx.h), rebuilt
 *                from these records when the store opens
 *   env    num64be -> checksum64 seeded with the mk (env_sum) || the
 *                envelope bytes, exactly as submitted (checked on every
 *                read: a mismatch, or the envelope of another message,
 *                moves the value to quar and drops the message, never
 *                serves it)
 *   queue  dk || seq64be -> kind || mk || (num64be | notice bytes)
 *   qidx   dk || mk -> seq64be   (a notice's queue entry, to ack it by id;
 *                a message's entries are in its record)
 *   dev    dk -> device record: next seq, items queued, trimmed count, refs
 *   gap    dk || idx32be -> mk   (the first trimmed refs, for the gap report)
 *   quota  's'|'r' || org -> messages, bytes (stored by / waiting for org)
 *   exp    expires64be || num64be -> mk
 *   dir    name -> a signed directory object
 *   quar   mk -> an env value that failed its check, as it was found
 *   info   "format" -> STORE_FORMAT; "quarantined" -> u64 count;
 *          "env_next" -> u64 the next envelope number
 * A message record outlives its envelope as a tombstone (state DONE) until
 * its expiry, so a repeated submit is answered, not stored again.
 *
 * Envelopes are numbered in arrival order and appended (MDB_APPEND): keyed
 * by the random msg_id, each one would land on a random leaf page, and a
 * batch would copy and rewrite a 4 KiB page per 1 KiB envelope and split
 * pages holding three envelopes each.  Numbers are never reused: a message's
 * record and its expiry key keep its number after its envelope is gone,
 * so every batch that takes numbers records the next one (info
 * "env_next") with its commit, and a restart continues from there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "proto/err.h"
#include "proto/wire.h"
#include "relay/msgidx.h"
#include "relay/store.h"

#define META_VERSION 3
#define STORE_FORMAT "5"        /* 2: env values carry their checksum;
                                   3: envelopes numbered and appended;
                                   4: records keyed by number, hold mk;
                                   5: a device entry may be refused */
#define STORE_FORMAT_UP "4"     /* read as is: format 5 only adds states */
#define ENV_SUM      8          /* lsn_store_checksum, little-endian */
#define ST_LIVE      0
#define ST_DONE      1

#define DEV_PENDING  0
#define DEV_ACKED    1
#define DEV_TRIMMED  2
#define DEV_DROPPED  3
/* Refused by the device, with its reason: 0x80 | -LSN_ERR_* (1..127). */
#define DEV_REFUSED  0x80
#define DEV_IS_REFUSED(st) (((st) & DEV_REFUSED) != 0)

#define KIND_MSG     1
#define KIND_NOTICE  2

#define MK_MAX  (1 + LSN_ENV_ORG_MAX + LSN_MSG_ID_LEN)
#define DK_MAX  (1 + LSN_DEV_ID_MAX)
#define META_HDR 36
#define LSN_GAP_REFS 64

/* Hot records: the quota and device records that every submit and ack
 * reads and rewrites, held for the batch in a small table and written
 * once, at its commit.  Only the batch's own transaction uses the table:
 * it is written out and emptied before a nested operation begins (which
 * then reads LMDB), and emptied when the batch ends.  A full table writes
 * through. */
#define HOT_SLOTS   256             /* a power of two */
#define HOT_KEY_MAX (1 + LSN_DEV_ID_MAX)
#define HOT_VAL_MAX 32

struct hot {
    uint8_t used, dirty, found;     /* found: the record exists (val is it) */
    uint8_t kl, vl;
    MDB_dbi dbi;
    uint8_t key[HOT_KEY_MAX];
    uint8_t val[HOT_VAL_MAX];
};

struct lsn_store {
    MDB_env *env;
    int lock_fd;            /* DIR/relay.lock, held for the store's life */
    MDB_dbi meta, envs, queue, qidx, dev, gap, quota, exp, dir, quar, info;
    MDB_txn *batch;
    struct lsn_msgidx *idx; /* mk -> record number (msgidx.h) */
    size_t op_mark;         /* the index's log when the operation began */
    uint64_t env_next;      /* the next envelope's number */
    uint64_t env_saved;     /* env_next as the store last recorded it */
    struct hot hot[HOT_SLOTS];
    uint16_t hot_used[HOT_SLOTS];   /* the slots in use, to empty them */
    size_t n_hot;
    /* Direct writes (see direct_ok): the map's pages, the pages in use and
     * the deepest tree when the batch began, the batch's page account, and
     * whether a direct write failed halfway (the batch must not commit). */
    size_t map_pages, base_pages, depth, psize, charge;
    int poisoned;
    struct lsn_store_limits lim;
    unsigned share;         /* lsn_store_set_share */
    int failed;             /* a commit failed: LMDB's state is in doubt */
    lsn_store_log_fn log;   /* NULL: silent */
    char why[256];
};

struct devrec {
    uint64_t next_seq;
    uint64_t count;
    uint64_t trimmed;
    uint32_t n_refs;
    uint32_t gap_base;      /* index of the first gap ref still held */
};

struct quota {
    uint64_t msgs, bytes;
};

/* ---------------------------------------------------------- helpers */

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
get_be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static size_t
make_dk(uint8_t *k, const char *dev)
{
    size_t n = strlen(dev);

    if (n > LSN_DEV_ID_MAX)
        n = LSN_DEV_ID_MAX;
    k[0] = (uint8_t)n;
    memcpy(k + 1, dev, n);
    return 1 + n;
}

static size_t
make_mk(uint8_t *k, const char *org, const uint8_t id[LSN_MSG_ID_LEN])
{
    size_t n = strlen(org);

    if (n > LSN_ENV_ORG_MAX)
        n = LSN_ENV_ORG_MAX;
    k[0] = (uint8_t)n;
    memcpy(k + 1, org, n);
    memcpy(k + 1 + n, id, LSN_MSG_ID_LEN);
    return 1 + n + LSN_MSG_ID_LEN;
}

/* Splits a mk back into org and msg_id; 0 or LSN_ERR_CORRUPT. */
static int
split_mk(const uint8_t *k, size_t len, char org[LSN_ENV_ORG_MAX + 1],
         uint8_t id[LSN_MSG_ID_LEN])
{
    if (len < 1 + LSN_MSG_ID_LEN || k[0] > LSN_ENV_ORG_MAX ||
        len != 1u + k[0] + LSN_MSG_ID_LEN)
        return LSN_ERR_CORRUPT;
    memcpy(org, k + 1, k[0]);
    org[k[0]] = '\0';
    memcpy(id, k + 1 + k[0], LSN_MSG_ID_LEN);
    return 0;
}

/* dst = a || b, cut to size - 1 bytes as snprintf would (without its
 * cost: queue names are built several times per message). */
static size_t
join(char *dst, size_t size, const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);

    if (al > size - 1)
        al = size - 1;
    if (bl > size - 1 - al)
        bl = size - 1 - al;
    memcpy(dst, a, al);
    memcpy(dst + al, b, bl);
    dst[al + bl] = '\0';
    return al + bl;
}

/* dst = org/name, cut like join. */
static size_t
dev_join(char *dst, size_t size, const char *org, const char *name)
{
    size_t ol = join(dst, size, org, "/");

    return ol + join(dst + ol, size - ol, "", name);
}

static int
fail(struct lsn_store *s, int rc, const char *what)
{
    snprintf(s->why, sizeof s->why, "%s: %s", what, mdb_strerror(rc));
    return rc == MDB_MAP_FULL ? LSN_ERR_QUOTA : LSN_ERR_IO;
}

static int
get(MDB_txn *t, MDB_dbi d, const void *k, size_t kl, MDB_val *v)
{
    MDB_val key = { kl, (void *)k };
    int rc = mdb_get(t, d, &key, v);

    return rc == 0 ? 0 : rc == MDB_NOTFOUND ? LSN_ERR_NOT_FOUND : LSN_ERR_IO;
}

/* Counts a write of n bytes into the batch: an upper bound of the pages
 * it can dirty (its path copied on write, and as many pages split, plus
 * the value's own pages).  See direct_ok. */
static void
charge(struct lsn_store *s, size_t n)
{
    s->charge += 2 * s->depth + 2 + n / s->psize;
}

static int
put(struct lsn_store *s, MDB_txn *t, MDB_dbi d, const void *k, size_t kl,
    const void *v, size_t vl)
{
    MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };

    charge(s, kl + vl);
    return mdb_put(t, d, &key, &val, 0) == 0 ? 0 : LSN_ERR_IO;
}

static int
del(struct lsn_store *s, MDB_txn *t, MDB_dbi d, const void *k, size_t kl)
{
    MDB_val key = { kl, (void *)k };
    int rc;

    charge(s, kl);
    rc = mdb_del(t, d, &key, NULL);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : LSN_ERR_IO;
}

/* ---------------------------------------------------------- hot records */

_Static_assert(HOT_KEY_MAX <= 255 && sizeof(struct devrec) <= HOT_VAL_MAX &&
               sizeof(struct quota) <= HOT_VAL_MAX, "hot records fit their slots");

/* The slot of (dbi, key) in the table, or the free slot where it goes;
 * NULL when the table is full and it is not there. */
static struct hot *
hot_slot(struct lsn_store *s, MDB_dbi dbi, const uint8_t *k, size_t kl)
{
    uint32_t h = 2166136261u ^ (uint32_t)dbi;

    if (kl > HOT_KEY_MAX)
        return NULL;
    for (size_t i = 0; i < kl; i++)
        h = (h ^ k[i]) * 16777619u;
    for (size_t i = 0; i < HOT_SLOTS; i++) {
        struct hot *x = &s->hot[(h + i) & (HOT_SLOTS - 1)];
        if (!x->used || (x->dbi == dbi && x->kl == kl && memcmp(x->key, k, kl) == 0))
            return x;
    }
    return NULL;
}

/* get() for a hot record: from the table when t is the batch. */
static int
hot_get(MDB_txn *t, struct lsn_store *s, MDB_dbi dbi, const uint8_t *k,
        size_t kl, MDB_val *v)
{
    struct hot *x;
    int r;

    if (t != s->batch || (x = hot_slot(s, dbi, k, kl)) == NULL)
        return get(t, dbi, k, kl, v);
    if (!x->used) {
        if ((r = get(t, dbi, k, kl, v)) != 0 && r != LSN_ERR_NOT_FOUND)
            return r;
        if (r == 0 && v->mv_size > HOT_VAL_MAX)
            return 0;       /* not a record this table holds: served as is */
        x->used = 1;
        x->dirty = 0;
        x->found = r == 0;
        x->dbi = dbi;
        x->kl = (uint8_t)kl;
        memcpy(x->key, k, kl);
        x->vl = (uint8_t)(r == 0 ? v->mv_size : 0);
        if (r == 0)
            memcpy(x->val, v->mv_data, v->mv_size);
        s->hot_used[s->n_hot++] = (uint16_t)(x - s->hot);
    }
    if (!x->found)
        return LSN_ERR_NOT_FOUND;
    v->mv_size = x->vl;
    v->mv_data = x->val;
    return 0;
}

/* put() for a hot record: into the table when t is the batch (counted
 * in the page account as the write it will be). */
static int
hot_put(struct lsn_store *s, MDB_txn *t, MDB_dbi dbi, const uint8_t *k,
        size_t kl, const void *v, size_t vl)
{
    struct hot *x;

    if (t != s->batch || vl > HOT_VAL_MAX || (x = hot_slot(s, dbi, k, kl)) == NULL)
        return put(s, t, dbi, k, kl, v, vl);
    charge(s, kl + vl);
    if (!x->used) {
        x->used = 1;
        x->dbi = dbi;
        x->kl = (uint8_t)kl;
        memcpy(x->key, k, kl);
        s->hot_used[s->n_hot++] = (uint16_t)(x - s->hot);
    }
    x->dirty = 1;
    x->found = 1;
    x->vl = (uint8_t)vl;
    memcpy(x->val, v, vl);
    return 0;
}

/* del() for a hot record: forgotten by the table, deleted in LMDB. */
static int
hot_del(struct lsn_store *s, MDB_txn *t, MDB_dbi dbi, const uint8_t *k, size_t kl)
{
    struct hot *x;

    if (t == s->batch && (x = hot_slot(s, dbi, k, kl)) != NULL && x->used) {
        x->dirty = 0;
        x->found = 0;
    }
    return del(s, t, dbi, k, kl);
}

/* Writes the table's changed records into the batch and empties it. */
static int
hot_flush(struct lsn_store *s)
{
    int r = 0;

    for (size_t i = 0; i < s->n_hot; i++) {
        struct hot *x = &s->hot[s->hot_used[i]];
        MDB_val key = { x->kl, x->key }, val = { x->vl, x->val };
        if (r == 0 && x->dirty && mdb_put(s->batch, x->dbi, &key, &val, 0) != 0)
            r = LSN_ERR_IO;
        x->used = 0;
    }
    s->n_hot = 0;
    return r;
}

static void
hot_clear(struct lsn_store *s)
{
    for (size_t i = 0; i < s->n_hot; i++)
        s->hot[s->hot_used[i]].used = 0;
    s->n_hot = 0;
}

/* ---------------------------------------------------------- records */

static int
dev_load(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
         struct devrec *d)
{
    MDB_val v;
    int r;

    memset(d, 0, sizeof *d);
    if ((r = hot_get(t, s, s->dev, dk, dkl, &v)) == LSN_ERR_NOT_FOUND)
        return 0;
    if (r != 0)
        return r;
    if (v.mv_size != sizeof *d)
        return LSN_ERR_CORRUPT;
    memcpy(d, v.mv_data, sizeof *d);
    return 0;
}

static int
dev_save(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
         const struct devrec *d)
{
    return hot_put(s, t, s->dev, dk, dkl, d, sizeof *d);
}

/* A quota record's key: side || org, or for a (sender, recipient) pair
 * 'p' || sender || '/' || recipient (org ids never hold '/'). */
#define QUOTA_KEY_MAX (2 + 2 * LSN_ENV_ORG_MAX)

_Static_assert(QUOTA_KEY_MAX <= HOT_KEY_MAX, "pair keys fit the hot table");

static size_t
quota_key(uint8_t k[QUOTA_KEY_MAX], char side, const char *org, const char *to)
{
    size_t n = strnlen(org, LSN_ENV_ORG_MAX), m;

    k[0] = (uint8_t)side;
    memcpy(k + 1, org, n);
    if (to == NULL)
        return 1 + n;
    m = strnlen(to, LSN_ENV_ORG_MAX);
    k[1 + n] = '/';
    memcpy(k + 2 + n, to, m);
    return 2 + n + m;
}

static int
quota_add_key(MDB_txn *t, struct lsn_store *s, const uint8_t *k, size_t kl,
              int64_t msgs, int64_t bytes)
{
    struct quota q = { 0, 0 };
    MDB_val v;
    int r;

    if ((r = hot_get(t, s, s->quota, k, kl, &v)) == 0 && v.mv_size == sizeof q)
        memcpy(&q, v.mv_data, sizeof q);
    else if (r != 0 && r != LSN_ERR_NOT_FOUND)
        return r;
    q.msgs = (int64_t)q.msgs + msgs < 0 ? 0 : (uint64_t)((int64_t)q.msgs + msgs);
    q.bytes = (int64_t)q.bytes + bytes < 0 ? 0 : (uint64_t)((int64_t)q.bytes + bytes);
    return hot_put(s, t, s->quota, k, kl, &q, sizeof q);
}

static int
quota_add(MDB_txn *t, struct lsn_store *s, char side, const char *org,
          int64_t msgs, int64_t bytes)
{
    uint8_t k[QUOTA_KEY_MAX];

    return quota_add_key(t, s, k, quota_key(k, side, org, NULL), msgs, bytes);
}

/* What sender holds of recipient org to's quota moves with to's own
 * counter: every caller that adds to 'r' for to adds here too. */
static int
pair_add(MDB_txn *t, struct lsn_store *s, const char *sender, const char *to,
         int64_t msgs, int64_t bytes)
{
    uint8_t k[QUOTA_KEY_MAX];

    return quota_add_key(t, s, k, quota_key(k, 'p', sender, to), msgs, bytes);
}

static void
quota_get_key(MDB_txn *t, struct lsn_store *s, const uint8_t *k, size_t kl,
              struct quota *q)
{
    MDB_val v;

    memset(q, 0, sizeof *q);
    if (hot_get(t, s, s->quota, k, kl, &v) == 0 && v.mv_size == sizeof *q)
        memcpy(q, v.mv_data, sizeof *q);
}

static void
quota_get(MDB_txn *t, struct lsn_store *s, char side, const char *org,
          struct quota *q)
{
    uint8_t k[QUOTA_KEY_MAX];

    quota_get_key(t, s, k, quota_key(k, side, org, NULL), q);
}

/* ---------------------------------------------------------- envelopes */

/* ---------------------------------------------------------- checksum
 *
 * The store's checksum tells damaged bytes (a disk, a filesystem, a bad
 * copy, a record filed under the wrong number) from intact ones; it is no
 * defence against someone who can write the store, who could rewrite any
 * record and its sum alike.  So it needs mixing, not secrecy, and it runs
 * twice per message (stored, then read for delivery): each 8-byte word is
 * mixed into one of four lanes by a bijection (xor, multiply by an odd
 * constant, rotate, multiply), so a changed word leaves its lane changed
 * to the end; the lanes are then folded together with the length by
 * 64x64->128-bit multiplies (the xor of the product's halves).  A change
 * goes unnoticed about once in 2^64.  SipHash would cost about 5 000
 * instructions per 1 KiB envelope; this costs about a fifth. */

#define SUM_K0 0x9e3779b97f4a7c15ull    /* odd constants: the golden ratio, */
#define SUM_K1 0xc2b2ae3d27d4eb4full    /* and the mixing constants of */
#define SUM_K2 0x165667b19e3779f9ull    /* well-known 64-bit hashes */
#define SUM_K3 0xd6e8feb86659fd93ull

static uint64_t
fold(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 p = (unsigned __int128)a * b;

    return (uint64_t)(p >> 64) ^ (uint64_t)p;
#else
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);

    return (hh + (lh >> 32) + (hl >> 32) + (mid >> 32)) ^ ((mid << 32) | (ll & 0xffffffffu));
#endif
}

static uint64_t
mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * SUM_K1;
    return ((h << 31) | (h >> 33)) * SUM_K2;
}

/* Little-endian, so a store reads the same on every machine. */
static uint64_t
le64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint64_t
lsn_store_checksum(const uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t h[4] = { seed ^ SUM_K0, seed ^ SUM_K1, seed ^ SUM_K2, seed ^ SUM_K3 };
    uint8_t tail[32] = { 0 };
    size_t i = 0;

    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++)
            h[j] = mix(h[j], le64(p + i + 8 * j));
    if (i < n) {                    /* the tail, zero-padded: n tells it apart */
        memcpy(tail, p + i, n - i);
        for (int j = 0; j < 4; j++)
            h[j] = mix(h[j], le64(tail + 8 * j));
    }
    return fold(fold(h[0] ^ SUM_K1, h[1] ^ SUM_K2) ^ fold(h[2] ^ SUM_K3, h[3] ^ SUM_K0),
                (uint64_t)n ^ SUM_K1);
}

/* An envelope's checksum, seeded with the checksum of its message's mk:
 * an envelope filed under another message's number fails it like bit
 * rot.  Stored little-endian. */
static void
env_sum(uint8_t sum[ENV_SUM], const uint8_t *mk, size_t mkl,
        const uint8_t *env, size_t len)
{
    uint64_t v = lsn_store_checksum(env, len, lsn_store_checksum(mk, mkl, 0));

    for (int i = 0; i < 8; i++, v >>= 8)
        sum[i] = (uint8_t)v;
}

/* Appends the envelope of message mk as number num (above every number
 * held), behind its checksum, written in place. */
static int
env_put(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
        size_t mkl, const uint8_t *env, size_t len)
{
    uint8_t k[8];
    MDB_val key = { sizeof k, k }, val = { ENV_SUM + len, NULL };
    int rc;

    put_be64(k, num);
    charge(s, sizeof k + ENV_SUM + len);
    if ((rc = mdb_put(t, s->envs, &key, &val, MDB_RESERVE | MDB_APPEND)) != 0)
        return fail(s, rc, "store envelope");
    env_sum(val.mv_data, mk, mkl, env, len);
    memcpy((uint8_t *)val.mv_data + ENV_SUM, env, len);
    return 0;
}

/* Reads envelope num of message mk: its raw value (checksum first) in *v;
 * LSN_ERR_CORRUPT if the checksum does not match. */
static int
env_get(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
        size_t mkl, MDB_val *v)
{
    uint8_t k[8], sum[ENV_SUM];
    int r;

    put_be64(k, num);
    if ((r = get(t, s->envs, k, sizeof k, v)) != 0)
        return r;
    if (v->mv_size < ENV_SUM)
        return LSN_ERR_CORRUPT;
    env_sum(sum, mk, mkl, (const uint8_t *)v->mv_data + ENV_SUM, v->mv_size - ENV_SUM);
    return sodium_memcmp(sum, v->mv_data, ENV_SUM) == 0 ? 0 : LSN_ERR_CORRUPT;
}

static int
env_del(MDB_txn *t, struct lsn_store *s, uint64_t num)
{
    uint8_t k[8];

    put_be64(k, num);
    return del(s, t, s->envs, k, sizeof k);
}

/* Moves s->env_next past the last key of table d (an 8-byte number):
 * 0, LSN_ERR_CORRUPT (a key of another size) or LSN_ERR_IO. */
static int
env_next_past(MDB_txn *t, struct lsn_store *s, MDB_dbi d)
{
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t last = 0;
    int rc;

    if (mdb_cursor_open(t, d, &c) != 0)
        return LSN_ERR_IO;
    if ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0 && k.mv_size == 8)
        last = get_be64(k.mv_data);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return LSN_ERR_IO;
    if (k.mv_size != 8)
        return LSN_ERR_CORRUPT;
    if (last >= s->env_next)
        s->env_next = last + 1;
    return 0;
}

/* The next envelope number: the one recorded, and in any case above the
 * highest number held (1 for none). */
static int
env_next_read(MDB_txn *t, struct lsn_store *s)
{
    MDB_val v;
    int r;

    s->env_next = 1;
    if (get(t, s->info, "env_next", 8, &v) == 0 && v.mv_size == 8)
        s->env_next = get_be64(v.mv_data);
    /* Records outlive their envelopes: their numbers are taken too (a
     * damaged record key is met, and handled, where it is used). */
    if ((r = env_next_past(t, s, s->envs)) != 0 ||
        (r = env_next_past(t, s, s->meta)) == LSN_ERR_IO)
        return r;
    if (s->env_next == 0)
        return LSN_ERR_CORRUPT;
    s->env_saved = s->env_next;
    return 0;
}

/* Records env_next in the batch if it took numbers. */
static int
env_next_save(struct lsn_store *s)
{
    uint8_t b[8];
    MDB_val key = { 8, "env_next" }, val = { 8, b };

    if (s->env_next == s->env_saved)
        return 0;
    put_be64(b, s->env_next);
    return mdb_put(s->batch, s->info, &key, &val, 0) == 0 ? 0 : LSN_ERR_IO;
}

/* Deletes envelope num if it is message mk's: one that fails the check is
 * left where it is (a damaged record may name another message's number;
 * deleting that would lose the other message). */
static int
env_drop(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
         size_t mkl)
{
    MDB_val v;
    int r = env_get(t, s, num, mk, mkl, &v);

    if (r == LSN_ERR_NOT_FOUND)
        return 0;
    if (r == LSN_ERR_CORRUPT) {
        if (s->log != NULL)
            s->log("store: envelope %llu does not match the message that names it: "
                   "left in place", (unsigned long long)num);
        return 0;
    }
    return r != 0 ? r : env_del(t, s, num);
}

/* ---------------------------------------------------------- message record
 *
 * ver8 state8 accepted64 expires64 size32 pending32 n_rcpt16 num64, then
 * the message's mk (len8 org || msg_id: the index is rebuilt from it), then
 * per recipient: len8 org, n_dev16, per device: len8 name, state8, seq64 (its
 * queue entry's seq: the record is how an ack finds it, so no index keyed
 * by the random msg_id is written per device).  Devices are named without
 * their org.  Only state bytes ever change in place. */

struct meta_cb {
    /* Called per recipient (name NULL) and per device (st points into the
     * record, so the callback may change it). */
    int (*fn)(void *ctx, const char *org, const char *name, uint8_t *st);
    void *ctx;
};

/* The length of the mk in a record of this version (at META_HDR), or 0
 * if the record is damaged past reading: another version, or too short. */
static size_t
meta_mk_len(const uint8_t *m, size_t len)
{
    size_t mkl;

    if (len < META_HDR + 1 || m[0] != META_VERSION || m[META_HDR] > LSN_ENV_ORG_MAX)
        return 0;
    mkl = 1 + (size_t)m[META_HDR] + LSN_MSG_ID_LEN;
    return len >= META_HDR + mkl ? mkl : 0;
}

/* 1 if the record is message mk's. */
static int
meta_is(const uint8_t *m, size_t len, const uint8_t *mk, size_t mkl)
{
    return meta_mk_len(m, len) == mkl && memcmp(m + META_HDR, mk, mkl) == 0;
}

static int
meta_walk(uint8_t *m, size_t len, const struct meta_cb *cb)
{
    size_t off = meta_mk_len(m, len), n_rcpt;
    char org[LSN_ENV_ORG_MAX + 1], name[LSN_PEER_QUEUE_MAX + 1];
    int r;

    if (off == 0)
        return LSN_ERR_CORRUPT;
    off += META_HDR;
    n_rcpt = (size_t)m[26] | (size_t)m[27] << 8;
    for (size_t i = 0; i < n_rcpt; i++) {
        size_t ol, nd;
        if (off + 1 > len || (ol = m[off]) > LSN_ENV_ORG_MAX || off + 1 + ol + 2 > len)
            return LSN_ERR_CORRUPT;
        memcpy(org, m + off + 1, ol);
        org[ol] = '\0';
        off += 1 + ol;
        nd = (size_t)m[off] | (size_t)m[off + 1] << 8;
        off += 2;
        if (cb != NULL && (r = cb->fn(cb->ctx, org, NULL, NULL)) != 0)
            return r;
        for (size_t j = 0; j < nd; j++) {
            size_t nl;
            if (off + 1 > len || (nl = m[off]) > LSN_PEER_QUEUE_MAX ||
                off + 2 + nl + 8 > len)
                return LSN_ERR_CORRUPT;
            memcpy(name, m + off + 1, nl);
            name[nl] = '\0';
            if (cb != NULL && (r = cb->fn(cb->ctx, org, name, m + off + 1 + nl)) != 0)
                return r;
            off += 2 + nl + 8;
        }
    }
    return off == len ? 0 : LSN_ERR_CORRUPT;
}

static uint32_t
meta_u32(const uint8_t *m, size_t off)
{
    uint32_t v;

    memcpy(&v, m + off, 4);
    return v;
}

static void
meta_set_u32(uint8_t *m, size_t off, uint32_t v)
{
    memcpy(m + off, &v, 4);
}

static int64_t
meta_i64(const uint8_t *m, size_t off)
{
    int64_t v;

    memcpy(&v, m + off, 8);
    return v;
}

/* The number of a record's envelope. */
static uint64_t
meta_num(const uint8_t *m)
{
    return (uint64_t)meta_i64(m, 28);
}

/* The queue names of one recipient org: its devices, or "@relay". */
static size_t
fan_names(const struct lsn_fanout *f, size_t j, char *buf, size_t size)
{
    if (f->relay != NULL)
        return join(buf, size, "@", f->relay);
    return join(buf, size, "", f->devices[j]);
}

static size_t
fan_count(const struct lsn_fanout *f)
{
    return f->relay != NULL ? 1 : f->n_devices;
}

/* Builds the record of a new message. */
static int
meta_build(const struct lsn_fanout *fan, size_t n_fan, int64_t accepted,
           int64_t expires, uint32_t size, uint64_t num, const uint8_t *mk,
           size_t mkl, uint8_t **out, size_t *out_len)
{
    size_t len = META_HDR + mkl, off = META_HDR + mkl;
    char nm[LSN_PEER_QUEUE_MAX + 1];
    uint32_t pending = 0;
    uint8_t *m;

    for (size_t i = 0; i < n_fan; i++) {
        len += 1 + strlen(fan[i].org) + 2;
        for (size_t j = 0; j < fan_count(&fan[i]); j++)
            len += 2 + fan_names(&fan[i], j, nm, sizeof nm) + 8;
    }
    if ((m = calloc(1, len)) == NULL)
        return LSN_ERR_NOMEM;
    m[0] = META_VERSION;
    m[1] = ST_LIVE;
    memcpy(m + 2, &accepted, 8);
    memcpy(m + 10, &expires, 8);
    memcpy(m + 18, &size, 4);
    m[26] = (uint8_t)n_fan;
    m[27] = (uint8_t)(n_fan >> 8);
    memcpy(m + 28, &num, 8);
    memcpy(m + META_HDR, mk, mkl);
    for (size_t i = 0; i < n_fan; i++) {
        size_t ol = strlen(fan[i].org);
        m[off] = (uint8_t)ol;
        memcpy(m + off + 1, fan[i].org, ol);
        off += 1 + ol;
        m[off] = (uint8_t)fan_count(&fan[i]);
        m[off + 1] = (uint8_t)(fan_count(&fan[i]) >> 8);
        off += 2;
        for (size_t j = 0; j < fan_count(&fan[i]); j++) {
            size_t nl = fan_names(&fan[i], j, nm, sizeof nm);
            m[off] = (uint8_t)nl;
            memcpy(m + off + 1, nm, nl);
            m[off + 1 + nl] = DEV_PENDING;     /* seq: set by meta_set_seqs */
            off += 2 + nl + 8;
            pending++;
        }
    }
    meta_set_u32(m, 22, pending);
    if (pending == 0)
        m[1] = ST_DONE;
    *out = m;
    *out_len = len;
    return 0;
}

/* The record of message mk, found through the index: *v gets it and key
 * its table key (the envelope number).  LSN_ERR_NOT_FOUND. */
static int
meta_find(MDB_txn *t, struct lsn_store *s, const uint8_t *mk, size_t mkl,
          uint8_t key[8], MDB_val *v)
{
    uint64_t h = lsn_msgidx_hash(s->idx, mk, mkl), num;
    size_t pos = 0;
    int r;

    while (lsn_msgidx_next(s->idx, h, &pos, &num)) {
        put_be64(key, num);
        if ((r = get(t, s->meta, key, 8, v)) == LSN_ERR_NOT_FOUND)
            continue;       /* a record lost to damage: not this message */
        if (r != 0)
            return r;
        if (meta_is(v->mv_data, v->mv_size, mk, mkl))
            return 0;
    }
    return LSN_ERR_NOT_FOUND;
}

/* Files a new record (key: its number) for message mk; a number already
 * taken (a damaged store) is refused rather than another record lost. */
static int
meta_add(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
         size_t mkl, const uint8_t *m, size_t ml)
{
    uint8_t key[8];
    MDB_val k = { 8, key }, v = { ml, (void *)m };
    int rc;

    put_be64(key, num);
    charge(s, 8 + ml);
    if ((rc = mdb_put(t, s->meta, &k, &v, MDB_NOOVERWRITE)) != 0)
        return rc == MDB_KEYEXIST ? LSN_ERR_CORRUPT : LSN_ERR_IO;
    return lsn_msgidx_add(s->idx, lsn_msgidx_hash(s->idx, mk, mkl), num);
}

/* Removes message mk's record (key: its number). */
static int
meta_remove(MDB_txn *t, struct lsn_store *s, const uint8_t key[8],
            const uint8_t *mk, size_t mkl)
{
    int r;

    if ((r = lsn_msgidx_del(s->idx, lsn_msgidx_hash(s->idx, mk, mkl),
                            get_be64(key))) != 0)
        return r;
    return del(s, t, s->meta, key, 8);
}

/* Fills the index from the records (the store just opened). */
static int
index_build(MDB_txn *t, struct lsn_store *s)
{
    MDB_cursor *c;
    MDB_val k, v;
    size_t mkl;
    int rc, r = 0;

    if (mdb_cursor_open(t, s->meta, &c) != 0)
        return LSN_ERR_IO;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && r == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        /* A damaged record is left to expiry (meta_drop_damaged). */
        if (k.mv_size != 8 || (mkl = meta_mk_len(v.mv_data, v.mv_size)) == 0)
            continue;
        r = lsn_msgidx_add(s->idx, lsn_msgidx_hash(s->idx, (const uint8_t *)v.mv_data +
                                                   META_HDR, mkl),
                           get_be64(k.mv_data));
    }
    mdb_cursor_close(c);
    lsn_msgidx_keep(s->idx);
    if (r != 0)
        return r;
    return rc == MDB_NOTFOUND ? 0 : LSN_ERR_IO;
}

/* The queue seq after an entry's state byte. */
static uint64_t
entry_seq(const uint8_t *st)
{
    uint64_t v;

    memcpy(&v, st + 1, 8);
    return v;
}

/* Writes seqs[k] into the k-th device entry of record m (ml bytes) from
 * meta_build. */
static void
meta_set_seqs(uint8_t *m, size_t ml, const uint64_t *seqs)
{
    size_t off = META_HDR + meta_mk_len(m, ml), k = 0;
    size_t n_rcpt = (size_t)m[26] | (size_t)m[27] << 8;

    for (size_t i = 0; i < n_rcpt; i++) {
        size_t nd;
        off += 1 + m[off];
        nd = (size_t)m[off] | (size_t)m[off + 1] << 8;
        off += 2;
        for (size_t j = 0; j < nd; j++) {
            memcpy(m + off + 2 + m[off], &seqs[k++], 8);
            off += 2 + m[off] + 8;
        }
    }
}

/* Finds org/name in a record (org NULL: name in every org, a peer relay's
 * "@relay" entry) and sets its state; collects the orgs that have no
 * pending queue left because of the change. */
struct release_ctx {
    const char *org, *name;
    uint8_t newst;
    int found;              /* entries changed */
    char cur[LSN_ENV_ORG_MAX + 1];
    int cur_changed, cur_pending;
    size_t n_done;          /* orgs whose last pending entry ended */
    char done[LSN_MAX_RECIPIENTS][LSN_ENV_ORG_MAX + 1];
};

static void
release_org_end(struct release_ctx *c)
{
    if (c->cur_changed && c->cur_pending == 0 && c->n_done < LSN_MAX_RECIPIENTS)
        join(c->done[c->n_done++], sizeof c->done[0], "", c->cur);
    c->cur_changed = c->cur_pending = 0;
}

static int
release_cb(void *vctx, const char *org, const char *name, uint8_t *st)
{
    struct release_ctx *c = vctx;

    if (name == NULL) {
        release_org_end(c);
        join(c->cur, sizeof c->cur, "", org);
        return 0;
    }
    if (c->org != NULL && strcmp(org, c->org) != 0)
        return 0;
    if ((c->org == NULL || !c->found) && strcmp(name, c->name) == 0 &&
        *st == DEV_PENDING) {
        *st = c->newst;
        c->found++;
        c->cur_changed = 1;
    }
    if (*st == DEV_PENDING)
        c->cur_pending++;
    return 0;
}

/* One queue reference to message mk (held by org/name, or by the peer
 * queue name for every org when org is NULL) ends with newst: counters and
 * quotas follow, the envelope goes once nothing waits. */
static int
release(MDB_txn *t, struct lsn_store *s, const uint8_t *mk, size_t mkl,
        const char *org, const char *name, uint8_t newst)
{
    /* Not calloc: done[] (8 KiB) is written before it is read. */
    struct release_ctx *cp = malloc(sizeof *cp);
    struct meta_cb cb = { release_cb, cp };
    char sender[LSN_ENV_ORG_MAX + 1];
    uint8_t id[LSN_MSG_ID_LEN], key[8];
    uint8_t *m = NULL;
    uint32_t pending, size;
    MDB_val v;
    int r;

    if (cp == NULL)
        return LSN_ERR_NOMEM;
    cp->org = org;
    cp->name = name;
    cp->newst = newst;
    cp->found = cp->cur_changed = cp->cur_pending = 0;
    cp->cur[0] = '\0';
    cp->n_done = 0;
    if ((r = meta_find(t, s, mk, mkl, key, &v)) != 0) {
        r = r == LSN_ERR_NOT_FOUND ? 0 : r;
        goto out;
    }
    if ((m = malloc(v.mv_size)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    memcpy(m, v.mv_data, v.mv_size);
    if ((r = meta_walk(m, v.mv_size, &cb)) != 0)
        goto out;
    release_org_end(cp);
    if (cp->found == 0 || m[1] != ST_LIVE)
        goto out;
    size = meta_u32(m, 18);
    pending = meta_u32(m, 22);
    pending = pending > (uint32_t)cp->found ? pending - (uint32_t)cp->found : 0;
    meta_set_u32(m, 22, pending);
    if ((r = split_mk(mk, mkl, sender, id)) != 0)
        goto out;
    for (size_t i = 0; i < cp->n_done; i++)
        if ((r = quota_add(t, s, 'r', cp->done[i], -1, -(int64_t)size)) != 0 ||
            (r = pair_add(t, s, sender, cp->done[i], -1, -(int64_t)size)) != 0)
            goto out;
    if (pending == 0) {
        m[1] = ST_DONE;
        if ((r = env_drop(t, s, meta_num(m), mk, mkl)) != 0 ||
            (r = quota_add(t, s, 's', sender, -1, -(int64_t)size)) != 0)
            goto out;
    }
    r = put(s, t, s->meta, key, 8, m, v.mv_size);
out:
    free(m);
    free(cp);
    return r;
}

/* ---------------------------------------------------------- lifecycle */

/* Counts what each sender org holds of each recipient org's quota from
 * the live records, as submit_write and release keep it: one message (of
 * its size) per recipient org with an entry still pending.  A format 4
 * store kept no such counts; started from zero, every release of a
 * message stored before would take from messages stored after. */
struct pair_ctx {
    MDB_txn *t;
    struct lsn_store *s;
    char sender[LSN_ENV_ORG_MAX + 1], cur[LSN_ENV_ORG_MAX + 1];
    int pending;
    uint32_t size;
};

static int
pair_org_end(struct pair_ctx *c)
{
    int r = 0;

    if (c->pending)
        r = pair_add(c->t, c->s, c->sender, c->cur, 1, (int64_t)c->size);
    c->pending = 0;
    return r;
}

static int
pair_cb(void *vctx, const char *org, const char *name, uint8_t *st)
{
    struct pair_ctx *c = vctx;
    int r;

    if (name == NULL) {
        if ((r = pair_org_end(c)) != 0)
            return r;
        join(c->cur, sizeof c->cur, "", org);
        return 0;
    }
    c->pending |= *st == DEV_PENDING;
    return 0;
}

static int
pair_rebuild(MDB_txn *t, struct lsn_store *s)
{
    struct pair_ctx *c = calloc(1, sizeof *c);
    struct meta_cb cb = { pair_cb, c };
    uint8_t id[LSN_MSG_ID_LEN];
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t mkl;
    int rc, r = 0;

    if (c == NULL)
        return LSN_ERR_NOMEM;
    c->t = t;
    c->s = s;
    if (mdb_cursor_open(t, s->meta, &cur) != 0) {
        free(c);
        return LSN_ERR_IO;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && r == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *m = v.mv_data;
        /* A damaged record is left to expiry, as index_build leaves it. */
        if ((mkl = meta_mk_len(m, v.mv_size)) == 0 || m[1] != ST_LIVE ||
            split_mk(m + META_HDR, mkl, c->sender, id) != 0)
            continue;
        c->size = meta_u32(m, 18);
        c->cur[0] = '\0';
        c->pending = 0;
        /* meta_walk changes nothing through this callback; a record it
         * cannot walk is skipped like a damaged one. */
        if (meta_walk(v.mv_data, v.mv_size, &cb) == 0)
            r = pair_org_end(c);
        else
            c->pending = 0;
    }
    mdb_cursor_close(cur);
    free(c);
    if (r != 0)
        return r;
    return rc == MDB_NOTFOUND ? 0 : LSN_ERR_IO;
}

/* A new store gets the current format; one written before envelope
 * checksums (no format record, envelopes held) is refused rather than
 * every envelope in it quarantined. */
static int
format_check(MDB_txn *t, struct lsn_store *s, const char *dir)
{
    MDB_stat st;
    MDB_val v;
    int r;

    if ((r = get(t, s->info, "format", 6, &v)) == 0) {
        if (v.mv_size == strlen(STORE_FORMAT) &&
            memcmp(v.mv_data, STORE_FORMAT, v.mv_size) == 0)
            return 0;
        /* Format 4 records are format 5 records that hold no refused
         * entry: take the store over, count what each sender holds of
         * each recipient's quota (format 4 kept no such counts), and mark
         * it so that a relay that reads only format 4 refuses it rather
         * than misread a refusal. */
        if (v.mv_size == strlen(STORE_FORMAT_UP) &&
            memcmp(v.mv_data, STORE_FORMAT_UP, v.mv_size) == 0) {
            if ((r = pair_rebuild(t, s)) != 0) {
                snprintf(s->why, sizeof s->why, "store %s (format %s): cannot count "
                         "its senders' shares: %s", dir, STORE_FORMAT_UP, lsn_strerror(r));
                return r;
            }
            return put(s, t, s->info, "format", 6, STORE_FORMAT, strlen(STORE_FORMAT));
        }
        snprintf(s->why, sizeof s->why, "store %s has format %.*s; this relay reads "
                 "format %s: deliver its queues with the relay that wrote it, then "
                 "start from an empty folder", dir, (int)(v.mv_size < 16 ? v.mv_size : 16),
                 (const char *)v.mv_data, STORE_FORMAT);
        return LSN_ERR_CORRUPT;
    }
    if (r != LSN_ERR_NOT_FOUND || mdb_stat(t, s->envs, &st) != 0)
        return fail(s, MDB_CORRUPTED, "store format");
    if (st.ms_entries > 0) {
        snprintf(s->why, sizeof s->why, "store %s predates envelope checksums "
                 "(format 1): deliver its queues with the relay that wrote it, "
                 "then start from an empty folder", dir);
        return LSN_ERR_CORRUPT;
    }
    return put(s, t, s->info, "format", 6, STORE_FORMAT, strlen(STORE_FORMAT));
}

/* Why the last lsn_store_open failed. */
static char open_why[sizeof ((struct lsn_store *)0)->why];

/* One relay per store: the message index lives in the relay's memory, so
 * a second process writing the same LMDB files would leave it stale (and
 * answer duplicates as new).  An flock on DIR/relay.lock, dropped by the
 * kernel when the process ends however it ends. */
static int
store_lock(struct lsn_store *s, const char *dir)
{
    char path[4096];

    if ((size_t)snprintf(path, sizeof path, "%s/relay.lock", dir) >= sizeof path) {
        snprintf(s->why, sizeof s->why, "data folder path too long");
        return LSN_ERR_INVALID;
    }
    if ((s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        snprintf(s->why, sizeof s->why, "cannot open %.160s: %s", path, strerror(errno));
        return LSN_ERR_IO;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            snprintf(s->why, sizeof s->why, "%s is in use by another relay "
                     "(one relay per data folder)", dir);
        else
            snprintf(s->why, sizeof s->why, "cannot lock %.160s: %s", path, strerror(errno));
        return LSN_ERR_IO;
    }
    return 0;
}

int
lsn_store_open(const char *dir, size_t map_size, struct lsn_store **out)
{
    struct lsn_store *s;
    MDB_txn *t = NULL;
    int rc, r = LSN_ERR_IO;

    *out = NULL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return LSN_ERR_NOMEM;
    s->lim = (struct lsn_store_limits){ UINT64_MAX, UINT64_MAX, UINT64_MAX,
                                        UINT64_MAX, UINT64_MAX };
    s->psize = 4096;        /* until a batch reads the real ones */
    s->depth = 8;
    s->lock_fd = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(s->why, sizeof s->why, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    if (store_lock(s, dir) != 0)
        goto out;
    if ((rc = mdb_env_create(&s->env)) != 0 ||
        (rc = mdb_env_set_maxdbs(s->env, 16)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, map_size)) != 0 ||
        (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) != 0 ||
        (rc = mdb_txn_begin(s->env, NULL, 0, &t)) != 0 ||
        (rc = mdb_dbi_open(t, "meta", MDB_CREATE, &s->meta)) != 0 ||
        (rc = mdb_dbi_open(t, "env", MDB_CREATE, &s->envs)) != 0 ||
        (rc = mdb_dbi_open(t, "queue", MDB_CREATE, &s->queue)) != 0 ||
        (rc = mdb_dbi_open(t, "qidx", MDB_CREATE, &s->qidx)) != 0 ||
        (rc = mdb_dbi_open(t, "dev", MDB_CREATE, &s->dev)) != 0 ||
        (rc = mdb_dbi_open(t, "gap", MDB_CREATE, &s->gap)) != 0 ||
        (rc = mdb_dbi_open(t, "quota", MDB_CREATE, &s->quota)) != 0 ||
        (rc = mdb_dbi_open(t, "exp", MDB_CREATE, &s->exp)) != 0 ||
        (rc = mdb_dbi_open(t, "dir", MDB_CREATE, &s->dir)) != 0 ||
        (rc = mdb_dbi_open(t, "quar", MDB_CREATE, &s->quar)) != 0 ||
        (rc = mdb_dbi_open(t, "info", MDB_CREATE, &s->info)) != 0) {
        snprintf(s->why, sizeof s->why, "LMDB store %s: %s", dir, mdb_strerror(rc));
        goto out;
    }
    if (format_check(t, s, dir) != 0)
        goto out;
    if (lsn_msgidx_new(&s->idx) != 0 || index_build(t, s) != 0) {
        snprintf(s->why, sizeof s->why, "LMDB store %s: cannot index its messages "
                 "(out of memory, or the message table is damaged)", dir);
        goto out;
    }
    if (env_next_read(t, s) != 0) {
        snprintf(s->why, sizeof s->why, "LMDB store %s: envelope table damaged", dir);
        goto out;
    }
    rc = mdb_txn_commit(t);
    t = NULL;
    if (rc != 0) {
        snprintf(s->why, sizeof s->why, "LMDB store %s: %s", dir, mdb_strerror(rc));
        goto out;
    }
    *out = s;
    s = NULL;
    r = 0;
out:
    if (t != NULL)
        mdb_txn_abort(t);
    if (s != NULL) {
        /* The caller still wants the reason (lsn_store_why(NULL)). */
        snprintf(open_why, sizeof open_why, "%s", s->why);
        lsn_store_close(&s);
    }
    return r;
}

void
lsn_store_close(struct lsn_store **sp)
{
    struct lsn_store *s = *sp;

    if (s == NULL)
        return;
    lsn_store_batch_abort(s);
    lsn_msgidx_free(&s->idx);
    if (s->env != NULL)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd);          /* after LMDB: the lock guards its files */
    free(s);
    *sp = NULL;
}

const char *
lsn_store_why(const struct lsn_store *s)
{
    return s != NULL ? s->why : open_why;
}

void
lsn_store_set_limits(struct lsn_store *s, const struct lsn_store_limits *l)
{
    s->lim = *l;
}

void
lsn_store_set_share(struct lsn_store *s, unsigned pct)
{
    s->share = pct;
}

void
lsn_store_set_log(struct lsn_store *s, lsn_store_log_fn log)
{
    s->log = log;
}

int
lsn_store_quarantined(struct lsn_store *s, uint64_t *n)
{
    MDB_txn *t = s->batch;
    MDB_val v;
    int own = 0, r;

    *n = 0;
    if (t == NULL) {
        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t) != 0)
            return LSN_ERR_IO;
        own = 1;
    }
    if ((r = get(t, s->info, "quarantined", 11, &v)) == 0 && v.mv_size == 8)
        *n = get_be64(v.mv_data);
    if (own)
        mdb_txn_abort(t);
    return r == LSN_ERR_NOT_FOUND ? 0 : r;
}

/* Starts the batch's page account: direct writes are allowed only while
 * the account proves that the batch cannot run out of map or of dirty
 * pages (direct_ok).  Any failure here just disables them. */
static void
batch_account(struct lsn_store *s)
{
    MDB_dbi dbs[] = { s->meta, s->envs, s->queue, s->qidx, s->dev, s->gap,
                      s->quota, s->exp, s->dir, s->quar, s->info };
    MDB_envinfo ei;
    MDB_stat st;

    s->charge = 0;
    s->poisoned = 0;
    s->map_pages = 0;
    s->depth = 0;
    s->psize = 4096;
    if (mdb_env_info(s->env, &ei) != 0 || mdb_env_stat(s->env, &st) != 0 ||
        st.ms_psize == 0)
        return;
    s->psize = st.ms_psize;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        if (mdb_stat(s->batch, dbs[i], &st) != 0)
            return;
        if (st.ms_depth > s->depth)
            s->depth = st.ms_depth;
    }
    /* The tree may grow a level or two within one batch. */
    s->depth += 2;
    s->base_pages = ei.me_last_pgno + 1;
    s->map_pages = ei.me_mapsize / s->psize;
}

int
lsn_store_batch_begin(struct lsn_store *s)
{
    int rc;

    if (s->batch != NULL)
        return 0;
    if (s->failed) {
        /* Keep the reason of the failed commit in why. */
        return LSN_ERR_IO;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &s->batch)) != 0) {
        s->batch = NULL;
        return fail(s, rc, "begin batch");
    }
    batch_account(s);
    return 0;
}

int
lsn_store_batch_commit(struct lsn_store *s)
{
    int rc;

    if (s->batch == NULL)
        return 0;
    if ((hot_flush(s) != 0 || env_next_save(s) != 0) && !s->poisoned) {
        s->poisoned = 1;
        snprintf(s->why, sizeof s->why, "writing the batch's quota and device "
                 "records failed: the batch was dropped");
    }
    if (s->poisoned) {
        /* A direct write failed halfway: the batch holds part of an
         * operation and must not reach the disk.  Like a failed commit,
         * this is final (store.h). */
        mdb_txn_abort(s->batch);
        lsn_msgidx_undo(s->idx, 0);
        s->batch = NULL;
        s->failed = 1;
        return LSN_ERR_IO;
    }
    rc = mdb_txn_commit(s->batch);   /* fsyncs: the env is not MDB_NOSYNC */
    s->batch = NULL;
    if (rc == 0) {
        s->env_saved = s->env_next;
        lsn_msgidx_keep(s->idx);
        return 0;
    }
    lsn_msgidx_undo(s->idx, 0);
    /* A failed write or fsync may have left pages the kernel reports as
     * written but that never reached the disk, and a second fsync can
     * succeed without writing them: never commit through this handle
     * again (store.h). */
    s->failed = 1;
    fail(s, rc, "commit batch");
    return LSN_ERR_IO;
}

int
lsn_store_failed(const struct lsn_store *s)
{
    return s->failed;
}

int
lsn_store_batch_open(const struct lsn_store *s)
{
    return s->batch != NULL;
}

void
lsn_store_batch_abort(struct lsn_store *s)
{
    hot_clear(s);
    if (s->batch != NULL)
        mdb_txn_abort(s->batch);
    s->batch = NULL;
    /* What the batch filed in the index goes with it. */
    if (s->idx != NULL)
        lsn_msgidx_undo(s->idx, 0);
}

/* Direct writes.  A nested transaction per operation (op_begin) keeps a
 * failed one from touching the batch, but LMDB makes it costly: it copies
 * every batch page the operation touches and merges its dirty list back.
 * The hot operations (submit, ack) therefore check everything that can
 * refuse them first, read-only, and then write straight into the batch.
 * What can still fail after the first write is LMDB itself running out of
 * room, which direct_ok rules out with a page account (every put or del
 * counts the pages it can dirty; the map's growth in one transaction is at
 * most its dirty pages), or a fault (no memory, a damaged tree): then the
 * batch is poisoned and fails like a failed commit, so a half-done
 * operation never reaches the disk.  Past the account's limit, or near a
 * full map, operations take the nested path and its answers (QUOTA for a
 * full map). */

#define DIRTY_MAX   131071u         /* LMDB's dirty-page limit (MDB_IDL_UM_MAX) */
#define PAGE_SLACK  4096u           /* freelist and meta pages of the commit */

/* 1 if an operation that may dirty `bound` more pages can write directly. */
static int
direct_ok(const struct lsn_store *s, size_t bound)
{
    size_t need = s->charge + bound;

    if (s->batch == NULL || s->poisoned || s->map_pages == 0)
        return 0;
    need += PAGE_SLACK + need / 8;
    return need < DIRTY_MAX && s->base_pages < s->map_pages &&
           need <= s->map_pages - s->base_pages;
}

/* Ends a direct operation that started with the account at `before`: a
 * failure after a write poisons the batch. */
static int
direct_end(struct lsn_store *s, size_t before, int r)
{
    if (r != 0 && s->charge != before) {
        s->poisoned = 1;
        snprintf(s->why, sizeof s->why, "a write failed halfway through an "
                 "operation (%s): the batch was dropped", lsn_strerror(r));
        if (s->log != NULL)
            s->log("store: a direct write failed halfway (%s): the batch is "
                   "dropped and the store stops", lsn_strerror(r));
    }
    return r;
}

/* A nested transaction for one operation, so that a failed one leaves the
 * batch as it was. */
static int
op_begin(struct lsn_store *s, MDB_txn **t)
{
    int rc;

    *t = NULL;
    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    /* The operation reads and writes its records in LMDB. */
    if (hot_flush(s) != 0) {
        s->poisoned = 1;
        snprintf(s->why, sizeof s->why, "writing the batch's quota and device "
                 "records failed: the batch was dropped");
        return LSN_ERR_IO;
    }
    if ((rc = mdb_txn_begin(s->env, s->batch, 0, t)) != 0)
        return fail(s, rc, "begin operation");
    s->op_mark = lsn_msgidx_mark(s->idx);
    return 0;
}

static int
op_end(struct lsn_store *s, MDB_txn *t, int r)
{
    int rc;

    if (r != 0) {
        mdb_txn_abort(t);
        lsn_msgidx_undo(s->idx, s->op_mark);
        return r;
    }
    if ((rc = mdb_txn_commit(t)) != 0) {
        lsn_msgidx_undo(s->idx, s->op_mark);
        return fail(s, rc, "operation");
    }
    return 0;
}

/* ---------------------------------------------------------- queues */

/* Appends an item to dev's queue. */
static int
enqueue(MDB_txn *t, struct lsn_store *s, const char *dev, uint8_t kind,
        const uint8_t *mk, size_t mkl, const uint8_t *extra, size_t extra_len,
        uint64_t *seq)
{
    uint8_t dk[DK_MAX], qk[DK_MAX + 8], ik[DK_MAX + MK_MAX], seqb[8];
    uint8_t *val = NULL;
    size_t dkl = make_dk(dk, dev);
    struct devrec d;
    int r;

    if ((r = dev_load(t, s, dk, dkl, &d)) != 0)
        return r;
    d.next_seq++;
    memcpy(qk, dk, dkl);
    put_be64(qk + dkl, d.next_seq);
    memcpy(ik, dk, dkl);
    memcpy(ik + dkl, mk, mkl);
    put_be64(seqb, d.next_seq);
    if ((val = malloc(1 + mkl + extra_len)) == NULL)
        return LSN_ERR_NOMEM;
    val[0] = kind;
    memcpy(val + 1, mk, mkl);
    if (extra_len > 0)
        memcpy(val + 1 + mkl, extra, extra_len);
    d.count++;
    *seq = d.next_seq;
    /* A message's record holds its entries' seqs; a notice has no record. */
    if ((r = put(s, t, s->queue, qk, dkl + 8, val, 1 + mkl + extra_len)) == 0 &&
        (kind == KIND_MSG || (r = put(s, t, s->qidx, ik, dkl + mkl, seqb, 8)) == 0))
        r = dev_save(t, s, dk, dkl, &d);
    free(val);
    return r;
}

/* Splits "org/device". */
static int
split_dev(const char *dev, char org[LSN_ENV_ORG_MAX + 1],
          const char **name)
{
    const char *slash = strchr(dev, '/');

    if (slash == NULL || (size_t)(slash - dev) > LSN_ENV_ORG_MAX)
        return LSN_ERR_INVALID;
    memcpy(org, dev, (size_t)(slash - dev));
    org[slash - dev] = '\0';
    *name = slash + 1;
    return 0;
}

/* Removes queue entry qk (value val) of dev and ends its reference. */
static int
unqueue(MDB_txn *t, struct lsn_store *s, const char *dev, const uint8_t *dk,
        size_t dkl, uint64_t seq, const uint8_t *val, size_t vlen,
        uint8_t newst, struct devrec *d)
{
    uint8_t qk[DK_MAX + 8], ik[DK_MAX + MK_MAX], mk[MK_MAX];
    char org[LSN_ENV_ORG_MAX + 1];
    const char *name;
    size_t mkl;
    int r;

    if (vlen < 2 || 1u + 1u + val[1] + LSN_MSG_ID_LEN > vlen)
        return LSN_ERR_CORRUPT;
    mkl = 1u + val[1] + LSN_MSG_ID_LEN;
    memcpy(mk, val + 1, mkl);
    memcpy(qk, dk, dkl);
    put_be64(qk + dkl, seq);
    memcpy(ik, dk, dkl);
    memcpy(ik + dkl, mk, mkl);
    if ((r = del(s, t, s->queue, qk, dkl + 8)) != 0 ||
        (val[0] != KIND_MSG && (r = del(s, t, s->qidx, ik, dkl + mkl)) != 0))
        return r;
    if (d->count > 0)
        d->count--;
    if (val[0] != KIND_MSG)
        return 0;
    if (dev[0] == '@')      /* a peer relay's queue serves several orgs */
        return release(t, s, mk, mkl, NULL, dev, newst);
    if ((r = split_dev(dev, org, &name)) != 0)
        return r;
    return release(t, s, mk, mkl, org, name, newst);
}

/* Drops the oldest item of dev's queue and records it in the gap. */
static int
trim_oldest(MDB_txn *t, struct lsn_store *s, const char *dev)
{
    uint8_t dk[DK_MAX], gk[DK_MAX + 4], *val = NULL;
    size_t dkl = make_dk(dk, dev), vlen;
    MDB_cursor *c = NULL;
    MDB_val k = { dkl, dk }, v;
    struct devrec d;
    uint64_t seq;
    int r;

    if ((r = dev_load(t, s, dk, dkl, &d)) != 0)
        return r;
    if (mdb_cursor_open(t, s->queue, &c) != 0)
        return LSN_ERR_IO;
    r = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (r != 0 || k.mv_size != dkl + 8 || memcmp(k.mv_data, dk, dkl) != 0) {
        mdb_cursor_close(c);
        return 0;
    }
    seq = get_be64((const uint8_t *)k.mv_data + dkl);
    vlen = v.mv_size;
    val = malloc(vlen);
    if (val != NULL)
        memcpy(val, v.mv_data, vlen);
    mdb_cursor_close(c);
    if (val == NULL)
        return LSN_ERR_NOMEM;
    if ((r = unqueue(t, s, dev, dk, dkl, seq, val, vlen, DEV_TRIMMED, &d)) != 0)
        goto out;
    d.trimmed++;
    if (d.n_refs < LSN_GAP_REFS) {
        uint32_t idx = d.gap_base + d.n_refs;
        memcpy(gk, dk, dkl);
        gk[dkl] = (uint8_t)(idx >> 24);
        gk[dkl + 1] = (uint8_t)(idx >> 16);
        gk[dkl + 2] = (uint8_t)(idx >> 8);
        gk[dkl + 3] = (uint8_t)idx;
        if ((r = put(s, t, s->gap, gk, dkl + 4, val + 1,
                     1u + val[1] + LSN_MSG_ID_LEN)) != 0)
            goto out;
        d.n_refs++;
    }
    r = dev_save(t, s, dk, dkl, &d);
out:
    free(val);
    return r;
}

/* ---------------------------------------------------------- submit */

/* Refuses with QUOTA unless org side has room for one more of len bytes. */
static int
quota_check(MDB_txn *t, struct lsn_store *s, char side, const char *org,
            size_t len)
{
    uint64_t max_m = side == 's' ? s->lim.sender_msgs : s->lim.recipient_msgs;
    uint64_t max_b = side == 's' ? s->lim.sender_bytes : s->lim.recipient_bytes;
    struct quota q;

    quota_get(t, s, side, org, &q);
    if (q.msgs + 1 > max_m || q.bytes + len > max_b) {
        snprintf(s->why, sizeof s->why,
                 "%s org `%s` has %llu messages (%llu bytes) %s; the limit is "
                 "%llu messages, %llu bytes", side == 's' ? "sending" : "recipient",
                 org, (unsigned long long)q.msgs, (unsigned long long)q.bytes,
                 side == 's' ? "stored" : "waiting", (unsigned long long)max_m,
                 (unsigned long long)max_b);
        return LSN_ERR_QUOTA;
    }
    return 0;
}

/* max's share in percent, at least 1 (max itself is at least 1). */
static uint64_t
share_of(uint64_t max, uint64_t pct)
{
    uint64_t v = max / 100 * pct + max % 100 * pct / 100;

    return v > 0 ? v : 1;
}

/* Refuses with QUOTA unless sender may hold one more of len bytes of what
 * waits for recipient org to: no sender org takes more than the share
 * (recipient_share percent) of to's quota, nor of one device's backlog,
 * so one member filling an org's quota leaves room for every other. */
static int
share_check(MDB_txn *t, struct lsn_store *s, const char *sender, const char *to,
            size_t len)
{
    uint8_t k[QUOTA_KEY_MAX];
    uint64_t pct = s->share, max_m, max_b;
    struct quota q;

    if (pct == 0 || pct >= 100)
        return 0;
    max_m = share_of(s->lim.recipient_msgs < s->lim.device_backlog
                         ? s->lim.recipient_msgs : s->lim.device_backlog, pct);
    max_b = share_of(s->lim.recipient_bytes, pct);
    quota_get_key(t, s, k, quota_key(k, 'p', sender, to), &q);
    if (q.msgs + 1 > max_m || q.bytes + len > max_b) {
        snprintf(s->why, sizeof s->why,
                 "sending org `%s` has %llu messages (%llu bytes) waiting for "
                 "recipient org `%s`; one sender's share is %llu messages, %llu "
                 "bytes (%llu%% of the recipient's quota)", sender,
                 (unsigned long long)q.msgs, (unsigned long long)q.bytes, to,
                 (unsigned long long)max_m, (unsigned long long)max_b,
                 (unsigned long long)pct);
        return LSN_ERR_QUOTA;
    }
    return 0;
}

/* Makes room in every device queue of one recipient org: a device at its
 * cap is trimmed if another device of the org is below it; if none is,
 * the org is full. */
static int
backlog_check(MDB_txn *t, struct lsn_store *s, const struct lsn_fanout *f)
{
    uint8_t dk[DK_MAX];
    char dev[LSN_DEV_ID_MAX + 1];
    struct devrec d;
    int any_below = 0, r;

    for (size_t j = 0; j < f->n_devices; j++) {
        dev_join(dev, sizeof dev, f->org, f->devices[j]);
        if ((r = dev_load(t, s, dk, make_dk(dk, dev), &d)) != 0)
            return r;
        if (d.count < s->lim.device_backlog)
            any_below = 1;
    }
    for (size_t j = 0; j < f->n_devices; j++) {
        dev_join(dev, sizeof dev, f->org, f->devices[j]);
        if ((r = dev_load(t, s, dk, make_dk(dk, dev), &d)) != 0)
            return r;
        if (d.count < s->lim.device_backlog)
            continue;
        if (!any_below) {
            snprintf(s->why, sizeof s->why,
                     "every device of recipient org `%s` has %llu messages "
                     "waiting (the per-device limit)", f->org,
                     (unsigned long long)d.count);
            return LSN_ERR_QUOTA;
        }
        while (d.count >= s->lim.device_backlog) {
            uint64_t before = d.count;
            if ((r = trim_oldest(t, s, dev)) != 0 ||
                (r = dev_load(t, s, dk, make_dk(dk, dev), &d)) != 0)
                return r;
            if (d.count >= before)
                return LSN_ERR_CORRUPT;
        }
    }
    return 0;
}

/* An expiry key: the time, then the message's envelope number, so that
 * keys arrive in order (TTLs are alike, numbers grow) and a burst of
 * messages expiring in the same second appends rather than landing on
 * random pages, as keys ordered by msg_id did. */
static void
exp_key(uint8_t k[16], int64_t expires, uint64_t num)
{
    put_be64(k, (uint64_t)(expires < 0 ? 0 : expires));
    put_be64(k + 8, num);
}

/* Read-only: how many items backlog_check would trim from f's queues, or
 * QUOTA if every device of the org is at its cap. */
static int
backlog_need(MDB_txn *t, struct lsn_store *s, const struct lsn_fanout *f,
             size_t *trims)
{
    uint8_t dk[DK_MAX];
    char dev[LSN_DEV_ID_MAX + 1];
    struct devrec d;
    uint64_t over = 0, full_count = 0;
    int any_below = 0, r;

    for (size_t j = 0; j < f->n_devices; j++) {
        dev_join(dev, sizeof dev, f->org, f->devices[j]);
        if ((r = dev_load(t, s, dk, make_dk(dk, dev), &d)) != 0)
            return r;
        if (d.count < s->lim.device_backlog) {
            any_below = 1;
        } else {
            over += d.count - s->lim.device_backlog + 1;
            full_count = d.count;
        }
    }
    if (over > 0 && !any_below) {
        snprintf(s->why, sizeof s->why,
                 "every device of recipient org `%s` has %llu messages "
                 "waiting (the per-device limit)", f->org,
                 (unsigned long long)full_count);
        return LSN_ERR_QUOTA;
    }
    *trims += over;
    return 0;
}

/* The checks of a submit, read-only: a duplicate (res->duplicate), the
 * quotas, the device backlogs (*trims: items to trim first) and the queue
 * records the writes will update.  Everything that can refuse a submit
 * for what the store holds is here, before any write. */
static int
submit_check(MDB_txn *t, struct lsn_store *s, const struct lsn_envelope_info *info,
             size_t len, const struct lsn_fanout *fan, size_t n_fan,
             struct lsn_submit_result *res, size_t *trims, size_t *queues)
{
    uint8_t mk[MK_MAX], dk[DK_MAX], key[8];
    size_t mkl = make_mk(mk, info->sender_org, info->msg_id);
    char dev[LSN_DEV_ID_MAX + 1];
    struct devrec d;
    MDB_val v;
    int r;

    *trims = 0;
    *queues = 0;
    if ((r = meta_find(t, s, mk, mkl, key, &v)) == 0) {
        res->duplicate = 1;
        res->accepted = meta_i64(v.mv_data, 2);
        return 0;
    }
    if (r != LSN_ERR_NOT_FOUND)
        return r;
    if ((r = quota_check(t, s, 's', info->sender_org, len)) != 0)
        return r;
    for (size_t i = 0; i < n_fan; i++) {
        if (fan_count(&fan[i]) > 0 &&
            ((r = quota_check(t, s, 'r', fan[i].org, len)) != 0 ||
             (r = share_check(t, s, info->sender_org, fan[i].org, len)) != 0))
            return r;
        *queues += fan_count(&fan[i]);
        if (fan[i].relay != NULL) {
            /* A peer's outbound queue is never trimmed: only quotas hold it. */
            join(dev, sizeof dev, "@", fan[i].relay);
            if ((r = dev_load(t, s, dk, make_dk(dk, dev), &d)) != 0)
                return r;
        } else if (fan[i].n_devices > 0 &&
                   (r = backlog_need(t, s, &fan[i], trims)) != 0) {
            return r;
        }
    }
    return 0;
}

/* The writes of a checked submit (submit_check said 0, not a duplicate);
 * trim: some device queues are at their cap and lose their oldest. */
static int
submit_write(MDB_txn *t, struct lsn_store *s, const struct lsn_envelope_info *info,
             const uint8_t *env, size_t len, const struct lsn_fanout *fan,
             size_t n_fan, int64_t now, int trim, struct lsn_submit_result *res)
{
    uint8_t mk[MK_MAX], ek[16], numb[8], *m = NULL;
    size_t mkl = make_mk(mk, info->sender_org, info->msg_id), ml = 0, n_seq = 0;
    uint64_t num = s->env_next++, *seqs = NULL, *relay_seq = NULL;
    char dev[LSN_DEV_ID_MAX + 1];
    int r;

    for (size_t i = 0; trim && i < n_fan; i++)
        if (fan[i].relay == NULL && fan[i].n_devices > 0 &&
            (r = backlog_check(t, s, &fan[i])) != 0)
            return r;
    put_be64(numb, num);
    if ((r = meta_build(fan, n_fan, now, info->expires, (uint32_t)len, num, mk, mkl,
                        &m, &ml)) != 0)
        return r;
    exp_key(ek, info->expires, num);
    res->accepted = now;
    if (m[1] == ST_DONE)      /* nobody to deliver to: remembered, not kept */
        goto record;
    for (size_t i = 0; i < n_fan; i++)
        n_seq += fan_count(&fan[i]);
    if ((seqs = malloc(n_seq * sizeof *seqs)) == NULL ||
        (relay_seq = malloc(n_fan * sizeof *relay_seq)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    n_seq = 0;
    if ((r = env_put(t, s, num, mk, mkl, env, len)) != 0 ||
        (r = quota_add(t, s, 's', info->sender_org, 1, (int64_t)len)) != 0)
        goto out;
    for (size_t i = 0; i < n_fan; i++) {
        if (fan_count(&fan[i]) > 0 &&
            ((r = quota_add(t, s, 'r', fan[i].org, 1, (int64_t)len)) != 0 ||
             (r = pair_add(t, s, info->sender_org, fan[i].org, 1, (int64_t)len)) != 0))
            goto out;
        if (fan[i].relay != NULL) {
            /* One entry per peer relay, whichever of its orgs comes first. */
            size_t k;
            for (k = 0; k < i; k++)
                if (fan[k].relay != NULL && strcmp(fan[k].relay, fan[i].relay) == 0)
                    break;
            join(dev, sizeof dev, "@", fan[i].relay);
            if (k < i)
                relay_seq[i] = relay_seq[k];
            else if ((r = enqueue(t, s, dev, KIND_MSG, mk, mkl, numb, 8,
                                  &relay_seq[i])) != 0)
                goto out;
            seqs[n_seq++] = relay_seq[i];
            continue;
        }
        for (size_t j = 0; j < fan[i].n_devices; j++) {
            dev_join(dev, sizeof dev, fan[i].org, fan[i].devices[j]);
            if ((r = enqueue(t, s, dev, KIND_MSG, mk, mkl, numb, 8, &seqs[n_seq++])) != 0)
                goto out;
        }
    }
    meta_set_seqs(m, ml, seqs);
record:
    /* The index entry last (lsn_store_submit reserved room for it). */
    if ((r = put(s, t, s->exp, ek, sizeof ek, mk, mkl)) != 0 ||
        (r = meta_add(t, s, num, mk, mkl, m, ml)) != 0)
        goto out;
out:
    free(relay_seq);
    free(seqs);
    free(m);
    return r;
}

int
lsn_store_submit(struct lsn_store *s, const struct lsn_envelope_info *info,
                 const uint8_t *env, size_t len, const struct lsn_fanout *fan,
                 size_t n_fan, int64_t now, struct lsn_submit_result *res)
{
    size_t trims = 0, queues = 0, bound, before;
    MDB_txn *t;
    int r;

    memset(res, 0, sizeof *res);
    s->why[0] = '\0';
    if (n_fan > 0xffff)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < n_fan; i++)
        if (fan[i].n_devices > 0xffff)
            return LSN_ERR_LIMIT;
    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if ((r = submit_check(s->batch, s, info, len, fan, n_fan, res, &trims,
                          &queues)) != 0 || res->duplicate)
        return r;
    /* The index entry must not fail after the writes. */
    if (lsn_msgidx_reserve(s->idx) != 0)
        return LSN_ERR_NOMEM;
    /* Pages the writes may dirty: meta, exp, the envelope, the sender's
     * quota, two quotas per recipient org (its own and the sender's share
     * of it) and three records per queue. */
    bound = (4 + 2 * n_fan + 3 * queues) * (2 * s->depth + 2) +
            (len + 2 * MK_MAX + 64 * (n_fan + queues)) / s->psize + 2;
    if (trims == 0 && direct_ok(s, bound)) {
        before = s->charge;
        return direct_end(s, before, submit_write(s->batch, s, info, env, len, fan,
                                                  n_fan, now, 0, res));
    }
    /* Trimming (it reads and rewrites other messages' records) and a map
     * near its end take a nested transaction. */
    if ((r = op_begin(s, &t)) != 0)
        return r;
    r = submit_write(t, s, info, env, len, fan, n_fan, now, trims > 0, res);
    return op_end(s, t, r);
}

/* ---------------------------------------------------------- reading queues */

static int quarantine(struct lsn_store *s, const uint8_t *mk, size_t mkl,
                      const char *dev, uint64_t seq);

void
lsn_store_items_free(struct lsn_store_item *items, size_t n)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(items[i].envelope);
        free(items[i].notice);
    }
    free(items);
}

static int
item_fill(MDB_txn *t, struct lsn_store *s, const MDB_val *v, uint64_t seq,
          struct lsn_store_item *it, size_t *bytes)
{
    const uint8_t *val = v->mv_data;
    size_t mkl;
    MDB_val e;
    int r;

    memset(it, 0, sizeof *it);
    if (v->mv_size < 2 || val[1] > LSN_ENV_ORG_MAX ||
        (mkl = 1u + val[1] + LSN_MSG_ID_LEN) + 1 > v->mv_size)
        return LSN_ERR_CORRUPT;
    it->seq = seq;
    if ((r = split_mk(val + 1, mkl, it->org, it->msg_id)) != 0)
        return r;
    if (val[0] == KIND_MSG) {
        if (v->mv_size != 1 + mkl + 8)
            return LSN_ERR_CORRUPT;
        /* Nothing deletes an envelope while a queue refers to it: one
         * missing is damage, handled as a failed checksum. */
        if ((r = env_get(t, s, get_be64(val + 1 + mkl), val + 1, mkl, &e)) != 0)
            return r == LSN_ERR_NOT_FOUND ? LSN_ERR_CORRUPT : r;
        it->envelope_len = e.mv_size - ENV_SUM;
        if ((it->envelope = malloc(it->envelope_len + 1)) == NULL)
            return LSN_ERR_NOMEM;
        memcpy(it->envelope, (const uint8_t *)e.mv_data + ENV_SUM, it->envelope_len);
        *bytes += it->envelope_len;
        return 0;
    }
    it->notice_len = v->mv_size - 1 - mkl;
    if ((it->notice = malloc(it->notice_len + 1)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(it->notice, val + 1 + mkl, it->notice_len);
    *bytes += it->notice_len;
    return 0;
}

int
lsn_store_fetch(struct lsn_store *s, const char *dev, uint64_t after,
                size_t max, size_t max_bytes, struct lsn_store_item **items,
                size_t *n)
{
    uint8_t qk[DK_MAX + 8], bad[MK_MAX];
    size_t dkl = make_dk(qk, dev), bytes = 0, cnt = 0, badl = 0;
    struct lsn_store_item *arr = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc, r = 0;

    *items = NULL;
    *n = 0;
    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if (max == 0)
        return 0;
    /* Not calloc: item_fill clears each item it fills, and only filled
     * items are ever freed. */
    if (max > SIZE_MAX / sizeof *arr || (arr = malloc(max * sizeof *arr)) == NULL)
        return LSN_ERR_NOMEM;
    /* A corrupted envelope stops the scan: it is quarantined (no cursor may
     * stay open across that write) and the scan resumes after it. */
    for (;;) {
        badl = 0;
        put_be64(qk + dkl, after + 1);
        if (mdb_cursor_open(s->batch, s->queue, &c) != 0) {
            r = LSN_ERR_IO;
            break;
        }
        k.mv_size = dkl + 8;
        k.mv_data = qk;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && cnt < max;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (k.mv_size != dkl + 8 || memcmp(k.mv_data, qk, dkl) != 0)
                break;
            if (cnt > 0 && bytes >= max_bytes)
                break;
            after = get_be64((const uint8_t *)k.mv_data + dkl);
            r = item_fill(s->batch, s, &v, after, &arr[cnt], &bytes);
            if (r == LSN_ERR_CORRUPT && v.mv_size >= 2 && ((const uint8_t *)v.mv_data)[0] == KIND_MSG &&
                (badl = 1u + ((const uint8_t *)v.mv_data)[1] + LSN_MSG_ID_LEN) + 1 <= v.mv_size &&
                badl <= sizeof bad) {
                memcpy(bad, (const uint8_t *)v.mv_data + 1, badl);
                free(arr[cnt].envelope);
                memset(&arr[cnt], 0, sizeof arr[cnt]);
                r = 0;
                break;
            }
            badl = 0;
            if (r != 0)
                break;
            cnt++;
        }
        mdb_cursor_close(c);
        if (r != 0 || badl == 0)
            break;
        if ((r = quarantine(s, bad, badl, dev, after)) != 0)
            break;
    }
    if (r != 0) {
        /* A failed item_fill allocated nothing. */
        lsn_store_items_free(arr, cnt);
        return r;
    }
    *items = arr;
    *n = cnt;
    return 0;
}

int
lsn_store_queue_info(struct lsn_store *s, const char *dev, uint64_t *queued,
                     struct lsn_store_gap *gap)
{
    uint8_t dk[DK_MAX], gk[DK_MAX + 4];
    size_t dkl = make_dk(dk, dev);
    struct devrec d;
    MDB_val v;
    int r;

    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if ((r = dev_load(s->batch, s, dk, dkl, &d)) != 0)
        return r;
    *queued = d.count;
    if (gap == NULL)
        return 0;
    memset(gap, 0, sizeof *gap);
    gap->trimmed = d.trimmed;
    memcpy(gk, dk, dkl);
    for (uint32_t i = 0; i < d.n_refs && gap->n_refs < 64; i++) {
        uint32_t idx = d.gap_base + i;
        gk[dkl] = (uint8_t)(idx >> 24);
        gk[dkl + 1] = (uint8_t)(idx >> 16);
        gk[dkl + 2] = (uint8_t)(idx >> 8);
        gk[dkl + 3] = (uint8_t)idx;
        if (get(s->batch, s->gap, gk, dkl + 4, &v) != 0)
            continue;
        if (split_mk(v.mv_data, v.mv_size, gap->orgs[gap->n_refs],
                     gap->ids[gap->n_refs]) == 0)
            gap->n_refs++;
    }
    return 0;
}

/* 1 if queue value val (vlen bytes) is an entry for message mk. */
static int
entry_is(const uint8_t *val, size_t vlen, const uint8_t *mk, size_t mkl)
{
    return vlen >= 1 + mkl && memcmp(val + 1, mk, mkl) == 0;
}

/* dev's queue entry seq if it holds message mk: *v (valid until the next
 * write).  LSN_ERR_NOT_FOUND if there is none, or if it holds another
 * message (damage: that entry is not this message's to touch). */
static int
queue_entry_get(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                uint64_t seq, const uint8_t *mk, size_t mkl, MDB_val *v)
{
    uint8_t qk[DK_MAX + 8];
    int r;

    memcpy(qk, dk, dkl);
    put_be64(qk + dkl, seq);
    if ((r = get(t, s->queue, qk, dkl + 8, v)) != 0)
        return r;
    return entry_is(v->mv_data, v->mv_size, mk, mkl) ? 0 : LSN_ERR_NOT_FOUND;
}

/* Deletes dev's queue entry seq if it holds message mk, and counts it out
 * of the device's record; nothing if it does not (see queue_entry_get). */
static int
queue_entry_drop(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                 uint64_t seq, const uint8_t *mk, size_t mkl)
{
    uint8_t qk[DK_MAX + 8];
    struct devrec d;
    MDB_val v;
    int r;

    if ((r = queue_entry_get(t, s, dk, dkl, seq, mk, mkl, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    memcpy(qk, dk, dkl);
    put_be64(qk + dkl, seq);
    if ((r = del(s, t, s->queue, qk, dkl + 8)) != 0 ||
        (r = dev_load(t, s, dk, dkl, &d)) != 0)
        return r;
    if (d.count > 0)
        d.count--;
    return dev_save(t, s, dk, dkl, &d);
}

/* Finds a pending entry of a record: the device org/name, or (org NULL)
 * the peer queue name in any org. */
struct seq_find {
    const char *org, *name;
    uint64_t seq;
    int found;
};

static int
seq_find_cb(void *vctx, const char *org, const char *name, uint8_t *st)
{
    struct seq_find *f = vctx;

    if (name != NULL && !f->found && *st == DEV_PENDING &&
        (f->org == NULL || strcmp(org, f->org) == 0) && strcmp(name, f->name) == 0) {
        f->seq = entry_seq(st);
        f->found = 1;
    }
    return 0;
}

/* The seq of message mk's entry in dev's queue: a message's record holds
 * it for each device (or peer queue) still waiting; a notice has qidx.
 * LSN_ERR_NOT_FOUND if dev does not wait for it.  *rec (may be NULL) gets
 * the message's record (valid until the next write). */
static int
queue_seq(MDB_txn *t, struct lsn_store *s, const char *dev, const uint8_t *dk,
          size_t dkl, const uint8_t *mk, size_t mkl, uint64_t *seq, MDB_val *rec)
{
    uint8_t ik[DK_MAX + MK_MAX];
    char org[LSN_ENV_ORG_MAX + 1];
    struct seq_find f = { NULL, dev, 0, 0 };
    struct meta_cb cb = { seq_find_cb, &f };
    uint8_t key[8];
    MDB_val v;
    int r;

    if (mk[0] == 0) {       /* org "": a notice */
        memcpy(ik, dk, dkl);
        memcpy(ik + dkl, mk, mkl);
        if ((r = get(t, s->qidx, ik, dkl + mkl, &v)) != 0)
            return r;
        if (v.mv_size != 8)
            return LSN_ERR_CORRUPT;
        *seq = get_be64(v.mv_data);
        return 0;
    }
    if (dev[0] != '@') {
        if ((r = split_dev(dev, org, &f.name)) != 0)
            return r;
        f.org = org;
    }
    if ((r = meta_find(t, s, mk, mkl, key, &v)) != 0)
        return r;
    /* meta_walk changes nothing through this callback. */
    if ((r = meta_walk(v.mv_data, v.mv_size, &cb)) != 0)
        return r;
    if (!f.found)
        return LSN_ERR_NOT_FOUND;
    *seq = f.seq;
    if (rec != NULL)
        *rec = v;
    return 0;
}

/* ---------------------------------------------------------- ack and drop */

static int
ack_tx(MDB_txn *t, struct lsn_store *s, const char *dev, const char *org,
       const uint8_t id[LSN_MSG_ID_LEN], const uint64_t *known, uint8_t newst,
       int *found)
{
    uint8_t dk[DK_MAX], mk[MK_MAX], *val = NULL;
    size_t dkl = make_dk(dk, dev), mkl = make_mk(mk, org, id);
    struct devrec d;
    uint64_t seq;
    MDB_val v;
    int r;

    if (known != NULL)
        seq = *known;
    else if ((r = queue_seq(t, s, dev, dk, dkl, mk, mkl, &seq, NULL)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if ((r = queue_entry_get(t, s, dk, dkl, seq, mk, mkl, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if ((val = malloc(v.mv_size)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(val, v.mv_data, v.mv_size);
    if ((r = dev_load(t, s, dk, dkl, &d)) == 0 &&
        (r = unqueue(t, s, dev, dk, dkl, seq, val, v.mv_size, newst, &d)) == 0 &&
        (r = dev_save(t, s, dk, dkl, &d)) == 0)
        *found = 1;
    free(val);
    return r;
}

/* The reads of ack_tx, without its writes: 0 if every record it will
 * change is well formed; *bound: the pages its writes may dirty (two
 * deletes, the device record, a quota per recipient org, the sender's
 * quota, the envelope and the message record). */
static int
ack_check(MDB_txn *t, struct lsn_store *s, const char *dev, const char *org,
          const uint8_t id[LSN_MSG_ID_LEN], size_t *bound, uint64_t *seq, int *queued)
{
    uint8_t dk[DK_MAX], mk0[MK_MAX];
    size_t dkl = make_dk(dk, dev), mkl = make_mk(mk0, org, id);
    char o[LSN_ENV_ORG_MAX + 1];
    const uint8_t *val;
    const char *name;
    struct devrec d;
    MDB_val v, rec = { 0, NULL };
    int r;

    *bound = 8 * (2 * s->depth + 2);
    *queued = 0;
    if ((r = queue_seq(t, s, dev, dk, dkl, mk0, mkl, seq, &rec)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if ((r = queue_entry_get(t, s, dk, dkl, *seq, mk0, mkl, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    val = v.mv_data;
    if (v.mv_size < 2 || 1u + 1u + val[1] + LSN_MSG_ID_LEN > v.mv_size)
        return LSN_ERR_CORRUPT;
    if ((r = dev_load(t, s, dk, dkl, &d)) != 0)
        return r;
    *queued = 1;
    if (val[0] != KIND_MSG)
        return 0;
    if (dev[0] != '@' && (r = split_dev(dev, o, &name)) != 0)
        return r;
    /* The message's record, as queue_seq read (and walked) it. */
    if (rec.mv_data == NULL)
        return LSN_ERR_CORRUPT;
    *bound += (((size_t)((const uint8_t *)rec.mv_data)[26] |
                (size_t)((const uint8_t *)rec.mv_data)[27] << 8)) * (2 * s->depth + 2) +
              rec.mv_size / s->psize + 2;
    return 0;
}

int
lsn_store_ack(struct lsn_store *s, const char *dev, const char *org,
              const uint8_t msg_id[LSN_MSG_ID_LEN], int *found)
{
    return lsn_store_ack_outcome(s, dev, org, msg_id, 0, found);
}

int
lsn_store_ack_outcome(struct lsn_store *s, const char *dev, const char *org,
                      const uint8_t msg_id[LSN_MSG_ID_LEN], int outcome, int *found)
{
    size_t bound = 0, before;
    uint64_t seq = 0;
    uint8_t newst = DEV_ACKED;
    int queued = 0;
    MDB_txn *t;
    int r;

    *found = 0;
    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if (outcome < LSN_STORE_REASON_MIN || outcome > 0)
        return LSN_ERR_INVALID;
    /* A notice, or a peer relay's queue, has no recipient to refuse it. */
    if (outcome < 0 && org[0] != '\0' && dev[0] != '@')
        newst = (uint8_t)(DEV_REFUSED | (uint8_t)-outcome);
    /* Direct (see direct_ok) once the reads found nothing to refuse; an
     * item not queued (a repeated ack) needs no write at all. */
    if ((r = ack_check(s->batch, s, dev, org, msg_id, &bound, &seq, &queued)) == 0 &&
        !queued)
        return 0;
    if (r == 0 && direct_ok(s, bound)) {
        before = s->charge;
        return direct_end(s, before, ack_tx(s->batch, s, dev, org, msg_id, &seq,
                                            newst, found));
    }
    if ((r = op_begin(s, &t)) != 0)
        return r;
    r = ack_tx(t, s, dev, org, msg_id, NULL, newst, found);
    return op_end(s, t, r);
}

int
lsn_store_forward_done(struct lsn_store *s, const char *peer, const char *org,
                       const uint8_t msg_id[LSN_MSG_ID_LEN], int refused,
                       int *found)
{
    char dev[LSN_PEER_QUEUE_MAX + 1];
    MDB_txn *t;
    int r;

    *found = 0;
    if (strlen(peer) + 1 > LSN_PEER_QUEUE_MAX)
        return LSN_ERR_INVALID;
    join(dev, sizeof dev, "@", peer);
    if ((r = op_begin(s, &t)) != 0)
        return r;
    r = ack_tx(t, s, dev, org, msg_id, NULL, refused ? DEV_DROPPED : DEV_ACKED, found);
    return op_end(s, t, r);
}

int
lsn_store_gap_ack(struct lsn_store *s, const char *dev, uint64_t n)
{
    uint8_t dk[DK_MAX], gk[DK_MAX + 4];
    size_t dkl = make_dk(dk, dev);
    struct devrec d;
    MDB_txn *t;
    int r;

    if ((r = op_begin(s, &t)) != 0)
        return r;
    if ((r = dev_load(t, s, dk, dkl, &d)) != 0 || d.trimmed == 0)
        return op_end(s, t, r);
    if (n > d.trimmed)
        n = d.trimmed;
    d.trimmed -= n;
    memcpy(gk, dk, dkl);
    /* Refs are reported oldest first; the first n seen go. */
    while (n > 0 && d.n_refs > 0) {
        uint32_t idx = d.gap_base;
        gk[dkl] = (uint8_t)(idx >> 24);
        gk[dkl + 1] = (uint8_t)(idx >> 16);
        gk[dkl + 2] = (uint8_t)(idx >> 8);
        gk[dkl + 3] = (uint8_t)idx;
        if ((r = del(s, t, s->gap, gk, dkl + 4)) != 0)
            return op_end(s, t, r);
        d.gap_base++;
        d.n_refs--;
        n--;
    }
    if (d.trimmed == 0) {
        d.n_refs = 0;
        d.gap_base = 0;
    }
    r = dev_save(t, s, dk, dkl, &d);
    return op_end(s, t, r);
}

static int
drop_tx(MDB_txn *t, struct lsn_store *s, const char *dev)
{
    uint8_t dk[DK_MAX], *val = NULL;
    size_t dkl = make_dk(dk, dev), vlen;
    struct devrec d;
    int r;

    if ((r = dev_load(t, s, dk, dkl, &d)) != 0)
        return r;
    for (;;) {
        MDB_cursor *c = NULL;
        MDB_val k = { dkl, dk }, v;
        uint64_t seq;
        if (mdb_cursor_open(t, s->queue, &c) != 0)
            return LSN_ERR_IO;
        r = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (r != 0 || k.mv_size != dkl + 8 || memcmp(k.mv_data, dk, dkl) != 0) {
            mdb_cursor_close(c);
            break;
        }
        seq = get_be64((const uint8_t *)k.mv_data + dkl);
        vlen = v.mv_size;
        val = malloc(vlen);
        if (val != NULL)
            memcpy(val, v.mv_data, vlen);
        mdb_cursor_close(c);
        if (val == NULL)
            return LSN_ERR_NOMEM;
        r = unqueue(t, s, dev, dk, dkl, seq, val, vlen, DEV_DROPPED, &d);
        free(val);
        if (r != 0)
            return r;
    }
    /* Gap refs go with the device. */
    for (;;) {
        MDB_cursor *c = NULL;
        MDB_val k = { dkl, dk }, v;
        if (mdb_cursor_open(t, s->gap, &c) != 0)
            return LSN_ERR_IO;
        r = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (r != 0 || k.mv_size != dkl + 4 || memcmp(k.mv_data, dk, dkl) != 0) {
            mdb_cursor_close(c);
            break;
        }
        charge(s, k.mv_size);
        r = mdb_cursor_del(c, 0);
        mdb_cursor_close(c);
        if (r != 0)
            return LSN_ERR_IO;
    }
    return hot_del(s, t, s->dev, dk, dkl);
}

int
lsn_store_drop_device(struct lsn_store *s, const char *dev)
{
    MDB_txn *t;
    int r;

    if ((r = op_begin(s, &t)) != 0)
        return r;
    r = drop_tx(t, s, dev);
    return op_end(s, t, r);
}

/* ---------------------------------------------------------- expiry */

struct expire_ctx {
    MDB_txn *t;
    struct lsn_store *s;
    const uint8_t *mk;
    size_t mkl;
    uint32_t size;
    char cur_org[LSN_ENV_ORG_MAX + 1];   /* "" before the first recipient */
    int cur_pending, cur_incomplete;
    char undelivered[LSN_MAX_RECIPIENTS][LSN_ENV_ORG_MAX + 1];
    size_t n_undelivered;
    uint8_t mark;           /* nonzero: pending entries get this state */
    int r;
};

/* Ends one recipient org's part of an expiring message. */
static int
expire_org_done(struct expire_ctx *c)
{
    int r = 0;

    if (c->cur_org[0] == '\0')
        return 0;
    if (c->cur_pending > 0) {
        char sender[LSN_ENV_ORG_MAX + 1];
        uint8_t id[LSN_MSG_ID_LEN];
        if ((r = split_mk(c->mk, c->mkl, sender, id)) != 0 ||
            (r = quota_add(c->t, c->s, 'r', c->cur_org, -1, -(int64_t)c->size)) != 0 ||
            (r = pair_add(c->t, c->s, sender, c->cur_org, -1, -(int64_t)c->size)) != 0)
            return r;
    }
    if (c->cur_incomplete && c->n_undelivered < LSN_MAX_RECIPIENTS)
        snprintf(c->undelivered[c->n_undelivered++], LSN_ENV_ORG_MAX + 1, "%s",
                 c->cur_org);
    c->cur_org[0] = '\0';
    c->cur_pending = c->cur_incomplete = 0;
    return r;
}

static int
expire_cb(void *vctx, const char *org, const char *name, uint8_t *st)
{
    struct expire_ctx *c = vctx;
    uint8_t dk[DK_MAX];
    char dev[LSN_DEV_ID_MAX + 1];
    size_t dkl;
    int r;

    if (name == NULL) {
        if ((r = expire_org_done(c)) != 0)
            return r;
        join(c->cur_org, sizeof c->cur_org, "", org);
        return 0;
    }
    if (*st != DEV_ACKED)
        c->cur_incomplete = 1;
    if (*st != DEV_PENDING)
        return 0;
    c->cur_pending++;
    if (c->mark != 0)
        *st = c->mark;
    if (name[0] == '@')     /* a peer relay's queue: one entry for its orgs */
        join(dev, sizeof dev, "", name);
    else
        dev_join(dev, sizeof dev, org, name);
    /* The entry's seq is in the record; a peer queue's single entry, named
     * by several orgs, goes with the first.  An entry of another message
     * (damage) is left alone, so one damaged record cannot stop expiry. */
    dkl = make_dk(dk, dev);
    return queue_entry_drop(c->t, c->s, dk, dkl, entry_seq(st), c->mk, c->mkl);
}

static int
notice_queue(MDB_txn *t, struct lsn_store *s, const char *sender,
             const uint8_t id[LSN_MSG_ID_LEN], struct expire_ctx *c,
             int64_t now, const char *relay_name, lsn_store_devices_fn devices,
             void *ctx)
{
    Liaison__RelayNotice n = LIAISON__RELAY_NOTICE__INIT;
    char *orgs[LSN_MAX_RECIPIENTS];
    const char *names[512];
    uint8_t nid[LSN_MSG_ID_LEN], mk[MK_MAX], *buf = NULL;
    size_t nn, mkl, len = 0;
    char dev[LSN_DEV_ID_MAX + 1];
    int r;

    n.kind = (char *)"expired-undelivered";
    n.org = (char *)sender;
    n.msg_id = (ProtobufCBinaryData){ LSN_MSG_ID_LEN, (uint8_t *)id };
    for (size_t i = 0; i < c->n_undelivered; i++)
        orgs[i] = c->undelivered[i];
    n.undelivered = orgs;
    n.n_undelivered = c->n_undelivered;
    n.at = now;
    n.relay = (char *)relay_name;
    if ((r = lsn_pb_encode(&n.base, &buf, &len)) != 0)
        return r;
    randombytes_buf(nid, sizeof nid);
    mkl = make_mk(mk, "", nid);
    nn = devices != NULL ? devices(ctx, sender, names, 512) : 0;
    for (size_t i = 0; i < nn && r == 0; i++) {
        dev_join(dev, sizeof dev, sender, names[i]);
        uint64_t seq;
        r = enqueue(t, s, dev, KIND_NOTICE, mk, mkl, buf, len, &seq);
    }
    free(buf);
    return r;
}

/* Deletes the record filed under number `key` if it is damaged past
 * reading (the index cannot hold it, so nothing else would ever remove
 * it); an intact record, another message's, is left alone. */
static int
meta_drop_damaged(MDB_txn *t, struct lsn_store *s, const uint8_t key[8])
{
    MDB_val v;
    int r;

    if ((r = get(t, s->meta, key, 8, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if (meta_mk_len(v.mv_data, v.mv_size) != 0)
        return 0;
    return del(s, t, s->meta, key, 8);
}

/* Expires message mk, whose expiry key names record number num. */
static int
expire_one(MDB_txn *t, struct lsn_store *s, const uint8_t *mk, size_t mkl,
           const uint8_t num[8], int64_t now, const char *relay_name,
           lsn_store_devices_fn devices, void *ctx)
{
    struct expire_ctx *c = NULL;
    struct meta_cb cb;
    char sender[LSN_ENV_ORG_MAX + 1];
    uint8_t id[LSN_MSG_ID_LEN], key[8], *m = NULL;
    MDB_val v;
    size_t ml;
    int r;

    if ((r = split_mk(mk, mkl, sender, id)) != 0)
        return r;
    if ((r = meta_find(t, s, mk, mkl, key, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? meta_drop_damaged(t, s, num) : r;
    ml = v.mv_size;
    if ((m = malloc(ml)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(m, v.mv_data, ml);
    if (m[1] != ST_LIVE)
        goto drop;
    if ((c = calloc(1, sizeof *c)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    c->t = t;
    c->s = s;
    c->mk = mk;
    c->mkl = mkl;
    c->size = meta_u32(m, 18);
    cb.fn = expire_cb;
    cb.ctx = c;
    if ((r = meta_walk(m, ml, &cb)) != 0 || (r = expire_org_done(c)) != 0)
        goto out;
    if ((r = env_drop(t, s, meta_num(m), mk, mkl)) != 0 ||
        (r = quota_add(t, s, 's', sender, -1, -(int64_t)c->size)) != 0)
        goto out;
    if (c->n_undelivered > 0 &&
        (r = notice_queue(t, s, sender, id, c, now, relay_name, devices, ctx)) != 0)
        goto out;
drop:
    r = meta_remove(t, s, key, mk, mkl);
out:
    free(c);
    free(m);
    return r;
}

int
lsn_store_expire(struct lsn_store *s, int64_t now, size_t max,
                 const char *relay_name, lsn_store_devices_fn devices,
                 void *ctx, size_t *n_expired)
{
    uint8_t ek[16], mk[MK_MAX];
    size_t mkl;
    MDB_txn *t;
    int r = 0;

    *n_expired = 0;
    if ((r = op_begin(s, &t)) != 0)
        return r;
    while (*n_expired < max) {
        MDB_cursor *c = NULL;
        MDB_val k, v;
        int rc;
        if (mdb_cursor_open(t, s->exp, &c) != 0) {
            r = LSN_ERR_IO;
            break;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (rc != 0 || k.mv_size != sizeof ek || (int64_t)get_be64(k.mv_data) >= now) {
            mdb_cursor_close(c);
            break;
        }
        memcpy(ek, k.mv_data, sizeof ek);
        mkl = v.mv_size;
        if (mkl < 1 + LSN_MSG_ID_LEN || mkl > sizeof mk) {
            mdb_cursor_close(c);
            r = LSN_ERR_CORRUPT;
            break;
        }
        memcpy(mk, v.mv_data, mkl);
        mdb_cursor_close(c);
        if ((r = expire_one(t, s, mk, mkl, ek + 8, now, relay_name, devices, ctx)) != 0 ||
            (r = del(s, t, s->exp, ek, sizeof ek)) != 0)
            break;
        (*n_expired)++;
    }
    return op_end(s, t, r);
}

/* ---------------------------------------------------------- quarantine */

/* Moves the envelope of message mk, which failed its checksum (or is
 * missing), into the quarantine table and ends every queue reference still
 * waiting for it as dropped, in one nested transaction: it is never
 * served, its quotas are released, the sender's status shows the drop, and
 * the record stays as a tombstone until expiry (a repeated submit is still
 * a duplicate).  The entry of dev's queue (seq) that led here goes too,
 * even when the message was no longer live (an orphan entry would be
 * found again by every fetch). */
static int
quarantine(struct lsn_store *s, const uint8_t *mk, size_t mkl, const char *dev,
           uint64_t seq)
{
    struct expire_ctx *c = NULL;
    struct meta_cb cb;
    char sender[LSN_ENV_ORG_MAX + 1], hex[2 * LSN_MSG_ID_LEN + 1];
    uint8_t id[LSN_MSG_ID_LEN], cnt[8], dk[DK_MAX], key[8], *m = NULL;
    size_t dkl = make_dk(dk, dev);
    uint64_t count = 0;
    int live = 0;
    MDB_txn *t;
    MDB_val v;
    size_t ml;
    int r;

    if ((r = split_mk(mk, mkl, sender, id)) != 0 || (r = op_begin(s, &t)) != 0)
        return r;
    if ((r = meta_find(t, s, mk, mkl, key, &v)) == 0) {
        MDB_val e;
        ml = v.mv_size;
        if ((m = malloc(ml)) == NULL) {
            r = LSN_ERR_NOMEM;
            goto out;
        }
        memcpy(m, v.mv_data, ml);
        if (m[1] == ST_LIVE &&
            (r = env_get(t, s, meta_num(m), mk, mkl, &e)) != LSN_ERR_NOT_FOUND &&
            (r == LSN_ERR_IO ||
             (r = put(s, t, s->quar, mk, mkl, e.mv_data, e.mv_size)) != 0 ||
             (r = env_del(t, s, meta_num(m))) != 0))
            goto out;
        if (m[1] == ST_LIVE) {
            live = 1;
            if ((c = calloc(1, sizeof *c)) == NULL) {
                r = LSN_ERR_NOMEM;
                goto out;
            }
            c->t = t;
            c->s = s;
            c->mk = mk;
            c->mkl = mkl;
            c->size = meta_u32(m, 18);
            c->mark = DEV_DROPPED;
            cb.fn = expire_cb;
            cb.ctx = c;
            if ((r = meta_walk(m, ml, &cb)) != 0 || (r = expire_org_done(c)) != 0 ||
                (r = quota_add(t, s, 's', sender, -1, -(int64_t)c->size)) != 0)
                goto out;
            m[1] = ST_DONE;
            meta_set_u32(m, 22, 0);
            if ((r = put(s, t, s->meta, key, 8, m, ml)) != 0)
                goto out;
        }
    } else if (r != LSN_ERR_NOT_FOUND) {
        goto out;
    }
    /* The entry that led here, if the drop above did not end it. */
    if ((r = queue_entry_drop(t, s, dk, dkl, seq, mk, mkl)) != 0)
        goto out;
    if (live) {
        if (get(t, s->info, "quarantined", 11, &v) == 0 && v.mv_size == 8)
            count = get_be64(v.mv_data);
        put_be64(cnt, ++count);
        r = put(s, t, s->info, "quarantined", 11, cnt, 8);
    }
out:
    free(c);
    free(m);
    if ((r = op_end(s, t, r)) == 0 && s->log != NULL) {
        sodium_bin2hex(hex, sizeof hex, id, sizeof id);
        if (live)
            s->log("envelope %s of org %s failed its checksum: moved to quarantine, "
                   "never served; the devices still waiting for it count it as dropped "
                   "(%llu quarantined in all)", hex, sender, (unsigned long long)count);
        else
            s->log("queue %s held message %s of org %s, which is no longer stored: "
                   "entry removed", dev, hex, sender);
    }
    return r;
}

/* ---------------------------------------------------------- status */

struct status_ctx {
    struct lsn_store_rstatus *r;
    size_t n, cap;
    struct lsn_store_dstate *d;     /* every org's devices, in record order */
    size_t n_d, cap_d;
};

static int
status_cb(void *vctx, const char *org, const char *name, uint8_t *st)
{
    struct status_ctx *c = vctx;
    struct lsn_store_rstatus *x;
    struct lsn_store_dstate *ds;

    if (name == NULL) {
        if (c->n == c->cap)
            return LSN_ERR_CORRUPT;
        x = &c->r[c->n++];
        memset(x, 0, sizeof *x);
        snprintf(x->org, sizeof x->org, "%s", org);
        return 0;
    }
    if (c->n == 0)
        return LSN_ERR_CORRUPT;
    x = &c->r[c->n - 1];
    x->devices++;
    if (name[0] == '@') {   /* homed on a peer relay */
        snprintf(x->relay, sizeof x->relay, "%s", name + 1);
        x->forwarded = *st == DEV_ACKED;
        if (*st == DEV_DROPPED)
            x->dropped++;
        return 0;
    }
    if (c->n_d == c->cap_d || strlen(name) > LSN_ENV_DEVICE_MAX)
        return LSN_ERR_CORRUPT;
    if (x->n_dev++ == 0)
        x->dev = &c->d[c->n_d];
    ds = &c->d[c->n_d++];
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "%s", name);
    if (DEV_IS_REFUSED(*st)) {
        x->refused++;
        ds->state = LSN_STORE_DEV_REFUSED;
        ds->reason = -(int)(*st & 0x7f);
    } else if (*st == DEV_ACKED) {
        x->delivered++;
        ds->state = LSN_STORE_DEV_DELIVERED;
    } else if (*st == DEV_TRIMMED) {
        x->trimmed++;
        ds->state = LSN_STORE_DEV_TRIMMED;
    } else if (*st == DEV_DROPPED) {
        x->dropped++;
        ds->state = LSN_STORE_DEV_DROPPED;
    }
    return 0;
}

int
lsn_store_status(struct lsn_store *s, const char *org,
                 const uint8_t msg_id[LSN_MSG_ID_LEN], int *known,
                 int64_t *accepted, int64_t *expires,
                 struct lsn_store_rstatus **rcpt, size_t *n_rcpt)
{
    uint8_t mk[MK_MAX], key[8], *m = NULL;
    size_t mkl = make_mk(mk, org, msg_id);
    struct status_ctx c = { NULL, 0, 0, NULL, 0, 0 };
    size_t head;
    struct meta_cb cb = { status_cb, &c };
    MDB_val v;
    int r;

    *known = 0;
    *rcpt = NULL;
    *n_rcpt = 0;
    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if ((r = meta_find(s->batch, s, mk, mkl, key, &v)) == LSN_ERR_NOT_FOUND)
        return 0;
    if (r != 0)
        return r;
    if ((m = malloc(v.mv_size)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(m, v.mv_data, v.mv_size);
    c.cap = (size_t)m[26] | (size_t)m[27] << 8;
    /* One allocation: the orgs, then their devices (a device entry takes
     * at least 11 bytes of the record). */
    c.cap_d = v.mv_size / 11 + 1;
    head = (c.cap + 1) * sizeof *c.r;
    head = (head + _Alignof(struct lsn_store_dstate) - 1) /
           _Alignof(struct lsn_store_dstate) * _Alignof(struct lsn_store_dstate);
    if ((c.r = calloc(1, head + c.cap_d * sizeof *c.d)) == NULL) {
        free(m);
        return LSN_ERR_NOMEM;
    }
    c.d = (struct lsn_store_dstate *)((uint8_t *)c.r + head);
    if ((r = meta_walk(m, v.mv_size, &cb)) != 0) {
        free(c.r);
        free(m);
        return r;
    }
    *known = 1;
    *accepted = meta_i64(m, 2);
    *expires = meta_i64(m, 10);
    *rcpt = c.r;
    *n_rcpt = c.n;
    free(m);
    return 0;
}

/* ---------------------------------------------------------- directory */

int
lsn_store_dir_get(struct lsn_store *s, const char *name, uint8_t **buf,
                  size_t *len)
{
    MDB_val v;
    int r;

    *buf = NULL;
    *len = 0;
    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if ((r = get(s->batch, s->dir, name, strlen(name), &v)) != 0)
        return r;
    if ((*buf = malloc(v.mv_size + 1)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(*buf, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

int
lsn_store_dir_put(struct lsn_store *s, const char *name, const uint8_t *buf,
                  size_t len)
{
    MDB_txn *t;
    int r;

    if ((r = op_begin(s, &t)) != 0)
        return r;
    r = put(s, t, s->dir, name, strlen(name), buf, len);
    return op_end(s, t, r);
}

/* Copies the values of up to max dir names that start with prefix into
 * new arrays, in name order: the first max such names, or with last the
 * last max (found by walking back from the first name past the prefix). */
static int
dir_collect(struct lsn_store *s, const char *prefix, int last, uint8_t ***bufs,
            size_t **lens, size_t *n, size_t max)
{
    size_t pl = strlen(prefix), cnt = 0;
    uint8_t **b = NULL;
    size_t *l = NULL;
    MDB_cursor *c = NULL;
    char end[256];
    MDB_val k = { pl, (void *)prefix }, v;
    MDB_cursor_op step = last ? MDB_PREV : MDB_NEXT;
    int rc, r = 0;

    *bufs = NULL;
    *lens = NULL;
    *n = 0;
    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if (last) {
        if (pl == 0 || pl >= sizeof end || (unsigned char)prefix[pl - 1] == 0xff)
            return LSN_ERR_INVALID;
        /* The first name past every name with the prefix: its last byte + 1. */
        memcpy(end, prefix, pl);
        end[pl - 1] = (char)((unsigned char)prefix[pl - 1] + 1);
        k = (MDB_val){ pl, end };
    }
    if ((b = calloc(max + 1, sizeof *b)) == NULL || (l = calloc(max + 1, sizeof *l)) == NULL) {
        free(b);
        return LSN_ERR_NOMEM;
    }
    if (mdb_cursor_open(s->batch, s->dir, &c) != 0) {
        free(b);
        free(l);
        return LSN_ERR_IO;
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (last)
        rc = mdb_cursor_get(c, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
    /* Walking back fills the arrays from their end: name order either way. */
    for (; rc == 0 && cnt < max; rc = mdb_cursor_get(c, &k, &v, step)) {
        size_t at = last ? max - 1 - cnt : cnt;
        if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
            break;
        if ((b[at] = malloc(v.mv_size + 1)) == NULL) {
            r = LSN_ERR_NOMEM;
            break;
        }
        memcpy(b[at], v.mv_data, v.mv_size);
        l[at] = v.mv_size;
        cnt++;
    }
    mdb_cursor_close(c);
    if (r != 0) {
        for (size_t i = 0; i < max; i++)
            free(b[i]);
        free(b);
        free(l);
        return r;
    }
    if (last) {
        memmove(b, b + (max - cnt), cnt * sizeof *b);
        memmove(l, l + (max - cnt), cnt * sizeof *l);
    }
    *bufs = b;
    *lens = l;
    *n = cnt;
    return 0;
}

int
lsn_store_dir_list(struct lsn_store *s, const char *prefix, uint8_t ***bufs,
                   size_t **lens, size_t *n, size_t max)
{
    return dir_collect(s, prefix, 0, bufs, lens, n, max);
}

int
lsn_store_dir_list_last(struct lsn_store *s, const char *prefix, uint8_t ***bufs,
                        size_t **lens, size_t *n, size_t max)
{
    return dir_collect(s, prefix, 1, bufs, lens, n, max);
}

int
lsn_store_dir_del(struct lsn_store *s, const char *name)
{
    MDB_txn *t;
    int r;

    if ((r = op_begin(s, &t)) != 0)
        return r;
    r = del(s, t, s->dir, name, strlen(name));
    return op_end(s, t, r);
}

int
lsn_store_counts(struct lsn_store *s, uint64_t *messages, uint64_t *queued)
{
    MDB_stat st;
    MDB_txn *t = s->batch;
    int own = 0;

    if (t == NULL) {
        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t) != 0)
            return LSN_ERR_IO;
        own = 1;
    }
    *messages = mdb_stat(t, s->envs, &st) == 0 ? st.ms_entries : 0;
    *queued = mdb_stat(t, s->queue, &st) == 0 ? st.ms_entries : 0;
    if (own)
        mdb_txn_abort(t);
    return 0;
}
