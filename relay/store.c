/* store.c: the relay store's batch (store.h, docs/relay.md "Store"): the
 * LMDB calls every store file makes, keys, the hot-record table, the
 * batch's begin, commit and abort, nested and direct operations, and the
 * directory objects.  The store's tables are listed in store_int.h; its
 * values' byte formats are relay/record.c's.  Opening and format changes
 * are store_open.c's, single records store_records.c's, submits
 * store_submit.c's, queues store_queue.c's, expiry, quarantine and status
 * store_expire.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "proto/err.h"
#include "relay/msgidx.h"
#include "relay/record.h"
#include "relay/store.h"
#include "relay/store_int.h"

/* ---------------------------------------------------------- helpers */

void
lsn_st_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t
lsn_st_get_be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

size_t
lsn_st_dk(uint8_t *k, const char *dev)
{
    size_t n = strlen(dev);

    if (n > LSN_DEV_ID_MAX)
        n = LSN_DEV_ID_MAX;
    k[0] = (uint8_t)n;
    memcpy(k + 1, dev, n);
    return 1 + n;
}

/* dst = a || b, cut to size - 1 bytes as snprintf would (without its
 * cost: queue names are built several times per message). */
size_t
lsn_st_join(char *dst, size_t size, const char *a, const char *b)
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
size_t
lsn_st_dev_join(char *dst, size_t size, const char *org, const char *name)
{
    size_t ol = lsn_st_join(dst, size, org, "/");

    return ol + lsn_st_join(dst + ol, size - ol, "", name);
}

/* Splits "org/device". */
int
lsn_st_split_dev(const char *dev, char org[LSN_ENV_ORG_MAX + 1],
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

int
lsn_st_fail(struct lsn_store *s, int rc, const char *what)
{
    snprintf(s->why, sizeof s->why, "%s: %s", what, mdb_strerror(rc));
    return rc == MDB_MAP_FULL ? LSN_ERR_QUOTA : LSN_ERR_IO;
}

int
lsn_st_get(MDB_txn *t, MDB_dbi d, const void *k, size_t kl, MDB_val *v)
{
    MDB_val key = { kl, (void *)k };
    int rc = mdb_get(t, d, &key, v);

    return rc == 0 ? 0 : rc == MDB_NOTFOUND ? LSN_ERR_NOT_FOUND : LSN_ERR_IO;
}

/* Counts a write of n bytes into the batch: an upper bound of the pages
 * it can dirty (its path copied on write, and as many pages split, plus
 * the value's own pages).  See lsn_st_direct_ok. */
void
lsn_st_charge(struct lsn_store *s, size_t n)
{
    s->charge += 2 * s->depth + 2 + n / s->psize;
}

int
lsn_st_put(struct lsn_store *s, MDB_txn *t, MDB_dbi d, const void *k, size_t kl,
           const void *v, size_t vl)
{
    MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };

    lsn_st_charge(s, kl + vl);
    return mdb_put(t, d, &key, &val, 0) == 0 ? 0 : LSN_ERR_IO;
}

int
lsn_st_del(struct lsn_store *s, MDB_txn *t, MDB_dbi d, const void *k, size_t kl)
{
    MDB_val key = { kl, (void *)k };
    int rc;

    lsn_st_charge(s, kl);
    rc = mdb_del(t, d, &key, NULL);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : LSN_ERR_IO;
}

/* ---------------------------------------------------------- hot records */


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

/* lsn_st_get() for a hot record: from the table when t is the batch. */
int
lsn_st_hot_get(MDB_txn *t, struct lsn_store *s, MDB_dbi dbi, const uint8_t *k,
               size_t kl, MDB_val *v)
{
    struct hot *x;
    int r;

    if (t != s->batch || (x = hot_slot(s, dbi, k, kl)) == NULL)
        return lsn_st_get(t, dbi, k, kl, v);
    if (!x->used) {
        if ((r = lsn_st_get(t, dbi, k, kl, v)) != 0 && r != LSN_ERR_NOT_FOUND)
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

/* lsn_st_put() for a hot record: into the table when t is the batch (counted
 * in the page account as the write it will be). */
int
lsn_st_hot_put(struct lsn_store *s, MDB_txn *t, MDB_dbi dbi, const uint8_t *k,
               size_t kl, const void *v, size_t vl)
{
    struct hot *x;

    if (t != s->batch || vl > HOT_VAL_MAX || (x = hot_slot(s, dbi, k, kl)) == NULL)
        return lsn_st_put(s, t, dbi, k, kl, v, vl);
    lsn_st_charge(s, kl + vl);
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

/* lsn_st_del() for a hot record: forgotten by the table, deleted in LMDB. */
int
lsn_st_hot_del(struct lsn_store *s, MDB_txn *t, MDB_dbi dbi, const uint8_t *k, size_t kl)
{
    struct hot *x;

    if (t == s->batch && (x = hot_slot(s, dbi, k, kl)) != NULL && x->used) {
        x->dirty = 0;
        x->found = 0;
    }
    return lsn_st_del(s, t, dbi, k, kl);
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

/* ---------------------------------------------------------- the batch */

/* Records env_next in the batch if it took numbers. */
static int
env_next_save(struct lsn_store *s)
{
    uint8_t b[LSN_REC_COUNT_LEN];
    MDB_val key = { 8, "env_next" }, val = { sizeof b, b };

    if (s->env_next == s->env_saved)
        return 0;
    lsn_rec_count_encode(b, s->env_next);
    return mdb_put(s->batch, s->info, &key, &val, 0) == 0 ? 0 : LSN_ERR_IO;
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
        return lsn_st_fail(s, rc, "begin batch");
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
    lsn_st_fail(s, rc, "commit batch");
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
int
lsn_st_direct_ok(const struct lsn_store *s, size_t bound)
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
int
lsn_st_direct_end(struct lsn_store *s, size_t before, int r)
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
int
lsn_st_op_begin(struct lsn_store *s, MDB_txn **t)
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
        return lsn_st_fail(s, rc, "begin operation");
    s->op_mark = lsn_msgidx_mark(s->idx);
    return 0;
}

int
lsn_st_op_end(struct lsn_store *s, MDB_txn *t, int r)
{
    int rc;

    if (r != 0) {
        mdb_txn_abort(t);
        lsn_msgidx_undo(s->idx, s->op_mark);
        return r;
    }
    if ((rc = mdb_txn_commit(t)) != 0) {
        lsn_msgidx_undo(s->idx, s->op_mark);
        return lsn_st_fail(s, rc, "operation");
    }
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
    if ((r = lsn_st_get(s->batch, s->dir, name, strlen(name), &v)) != 0)
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

    if ((r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    r = lsn_st_put(s, t, s->dir, name, strlen(name), buf, len);
    return lsn_st_op_end(s, t, r);
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

    if ((r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    r = lsn_st_del(s, t, s->dir, name, strlen(name));
    return lsn_st_op_end(s, t, r);
}

/* ---------------------------------------------------------- counters */

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
    if ((r = lsn_st_get(t, s->info, "quarantined", 11, &v)) == 0)
        (void)lsn_rec_count_decode(v.mv_data, v.mv_size, n);
    if (own)
        mdb_txn_abort(t);
    return r == LSN_ERR_NOT_FOUND ? 0 : r;
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
