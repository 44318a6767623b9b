/* store_records.c: the store's records in LMDB, one at a time, that every
 * store operation shares (store_int.h): device records, quota counters,
 * envelopes behind their checksum, message records (found through the
 * index, filed, removed, and each queue reference ended by
 * lsn_st_release), and single queue entries (appended, found, deleted).
 * Their bytes are relay/record.c's. */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "proto/err.h"
#include "relay/msgidx.h"
#include "relay/record.h"
#include "relay/store.h"
#include "relay/store_int.h"

/* ---------------------------------------------------------- device records */

int
lsn_st_dev_load(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                struct lsn_rec_dev *d)
{
    MDB_val v;
    int r;

    memset(d, 0, sizeof *d);
    if ((r = lsn_st_hot_get(t, s, s->dev, dk, dkl, &v)) == LSN_ERR_NOT_FOUND)
        return 0;
    if (r != 0)
        return r;
    return lsn_rec_dev_decode(v.mv_data, v.mv_size, d);
}

int
lsn_st_dev_save(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                const struct lsn_rec_dev *d)
{
    uint8_t b[LSN_REC_DEV_LEN];

    lsn_rec_dev_encode(b, d);
    return lsn_st_hot_put(s, t, s->dev, dk, dkl, b, sizeof b);
}

/* ---------------------------------------------------------- quotas */

size_t
lsn_st_quota_key(uint8_t k[QUOTA_KEY_MAX], char side, const char *org, const char *to)
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
    struct lsn_rec_quota q = { 0, 0 };
    uint8_t b[LSN_REC_QUOTA_LEN];
    MDB_val v;
    int r;

    /* A counter of another size (damage) starts again from zero. */
    if ((r = lsn_st_hot_get(t, s, s->quota, k, kl, &v)) == 0)
        (void)lsn_rec_quota_decode(v.mv_data, v.mv_size, &q);
    else if (r != LSN_ERR_NOT_FOUND)
        return r;
    q.msgs = (int64_t)q.msgs + msgs < 0 ? 0 : (uint64_t)((int64_t)q.msgs + msgs);
    q.bytes = (int64_t)q.bytes + bytes < 0 ? 0 : (uint64_t)((int64_t)q.bytes + bytes);
    lsn_rec_quota_encode(b, &q);
    return lsn_st_hot_put(s, t, s->quota, k, kl, b, sizeof b);
}

int
lsn_st_quota_add(MDB_txn *t, struct lsn_store *s, char side, const char *org,
                 int64_t msgs, int64_t bytes)
{
    uint8_t k[QUOTA_KEY_MAX];

    return quota_add_key(t, s, k, lsn_st_quota_key(k, side, org, NULL), msgs, bytes);
}

/* What sender holds of recipient org to's quota moves with to's own
 * counter: every caller that adds to 'r' for to adds here too. */
int
lsn_st_pair_add(MDB_txn *t, struct lsn_store *s, const char *sender, const char *to,
                int64_t msgs, int64_t bytes)
{
    uint8_t k[QUOTA_KEY_MAX];

    return quota_add_key(t, s, k, lsn_st_quota_key(k, 'p', sender, to), msgs, bytes);
}

void
lsn_st_quota_get_key(MDB_txn *t, struct lsn_store *s, const uint8_t *k, size_t kl,
                     struct lsn_rec_quota *q)
{
    MDB_val v;

    memset(q, 0, sizeof *q);
    if (lsn_st_hot_get(t, s, s->quota, k, kl, &v) == 0)
        (void)lsn_rec_quota_decode(v.mv_data, v.mv_size, q);
}

void
lsn_st_quota_get(MDB_txn *t, struct lsn_store *s, char side, const char *org,
                 struct lsn_rec_quota *q)
{
    uint8_t k[QUOTA_KEY_MAX];

    lsn_st_quota_get_key(t, s, k, lsn_st_quota_key(k, side, org, NULL), q);
}

/* ---------------------------------------------------------- envelopes */

/* Appends the envelope of message mk as number num (above every number
 * held), behind its checksum, written in place. */
int
lsn_st_env_put(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
               size_t mkl, const uint8_t *env, size_t len)
{
    uint8_t k[8];
    MDB_val key = { sizeof k, k }, val = { LSN_REC_ENV_SUM + len, NULL };
    int rc;

    lsn_st_put_be64(k, num);
    lsn_st_charge(s, sizeof k + LSN_REC_ENV_SUM + len);
    if ((rc = mdb_put(t, s->envs, &key, &val, MDB_RESERVE | MDB_APPEND)) != 0)
        return lsn_st_fail(s, rc, "store envelope");
    lsn_rec_env_sum(val.mv_data, mk, mkl, env, len);
    memcpy((uint8_t *)val.mv_data + LSN_REC_ENV_SUM, env, len);
    return 0;
}

/* Reads envelope num of message mk: its raw value (checksum first) in *v,
 * the envelope in *env, *len; LSN_ERR_CORRUPT if the checksum does not
 * match. */
int
lsn_st_env_get(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
               size_t mkl, MDB_val *v, const uint8_t **env, size_t *len)
{
    uint8_t k[8];
    int r;

    *env = NULL;
    *len = 0;
    lsn_st_put_be64(k, num);
    if ((r = lsn_st_get(t, s->envs, k, sizeof k, v)) != 0)
        return r;
    return lsn_rec_env_check(v->mv_data, v->mv_size, mk, mkl, env, len);
}

int
lsn_st_env_del(MDB_txn *t, struct lsn_store *s, uint64_t num)
{
    uint8_t k[8];

    lsn_st_put_be64(k, num);
    return lsn_st_del(s, t, s->envs, k, sizeof k);
}

/* Deletes envelope num if it is message mk's: one that fails the check is
 * left where it is (a damaged record may name another message's number;
 * deleting that would lose the other message). */
int
lsn_st_env_drop(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
                size_t mkl)
{
    const uint8_t *env;
    size_t len;
    MDB_val v;
    int r = lsn_st_env_get(t, s, num, mk, mkl, &v, &env, &len);

    if (r == LSN_ERR_NOT_FOUND)
        return 0;
    if (r == LSN_ERR_CORRUPT) {
        if (s->log != NULL)
            s->log("store: envelope %llu does not match the message that names it: "
                   "left in place", (unsigned long long)num);
        return 0;
    }
    return r != 0 ? r : lsn_st_env_del(t, s, num);
}

/* ---------------------------------------------------------- message records */

/* 1 if the record is message mk's. */
static int
meta_is(const uint8_t *m, size_t len, const uint8_t *mk, size_t mkl)
{
    struct lsn_rec_msg h;

    return lsn_rec_msg_head(m, len, &h) == 0 && h.mkl == mkl &&
           memcmp(h.mk, mk, mkl) == 0;
}

/* The record of message mk, found through the index: *v gets it and key
 * its table key (the envelope number).  LSN_ERR_NOT_FOUND. */
int
lsn_st_meta_find(MDB_txn *t, struct lsn_store *s, const uint8_t *mk, size_t mkl,
                 uint8_t key[8], MDB_val *v)
{
    uint64_t h = lsn_msgidx_hash(s->idx, mk, mkl), num;
    size_t pos = 0;
    int r;

    while (lsn_msgidx_next(s->idx, h, &pos, &num)) {
        lsn_st_put_be64(key, num);
        if ((r = lsn_st_get(t, s->meta, key, 8, v)) == LSN_ERR_NOT_FOUND)
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
int
lsn_st_meta_add(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
                size_t mkl, const uint8_t *m, size_t ml)
{
    uint8_t key[8];
    MDB_val k = { 8, key }, v = { ml, (void *)m };
    int rc;

    lsn_st_put_be64(key, num);
    lsn_st_charge(s, 8 + ml);
    if ((rc = mdb_put(t, s->meta, &k, &v, MDB_NOOVERWRITE)) != 0)
        return rc == MDB_KEYEXIST ? LSN_ERR_CORRUPT : LSN_ERR_IO;
    return lsn_msgidx_add(s->idx, lsn_msgidx_hash(s->idx, mk, mkl), num);
}

/* Removes message mk's record (key: its number). */
int
lsn_st_meta_remove(MDB_txn *t, struct lsn_store *s, const uint8_t key[8],
                   const uint8_t *mk, size_t mkl)
{
    int r;

    if ((r = lsn_msgidx_del(s->idx, lsn_msgidx_hash(s->idx, mk, mkl),
                            lsn_st_get_be64(key))) != 0)
        return r;
    return lsn_st_del(s, t, s->meta, key, 8);
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
        lsn_st_join(c->done[c->n_done++], sizeof c->done[0], "", c->cur);
    c->cur_changed = c->cur_pending = 0;
}

static int
release_cb(void *vctx, const char *org, const char *name, struct lsn_rec_entry *e)
{
    struct release_ctx *c = vctx;

    if (name == NULL) {
        release_org_end(c);
        lsn_st_join(c->cur, sizeof c->cur, "", org);
        return 0;
    }
    if (c->org != NULL && strcmp(org, c->org) != 0)
        return 0;
    if ((c->org == NULL || !c->found) && strcmp(name, c->name) == 0 &&
        e->state == LSN_REC_PENDING) {
        e->state = c->newst;
        c->found++;
        c->cur_changed = 1;
    }
    if (e->state == LSN_REC_PENDING)
        c->cur_pending++;
    return 0;
}

/* One queue reference to message mk (held by org/name, or by the peer
 * queue name for every org when org is NULL) ends with newst: counters and
 * quotas follow, the envelope goes once nothing waits. */
int
lsn_st_release(MDB_txn *t, struct lsn_store *s, const uint8_t *mk, size_t mkl,
               const char *org, const char *name, uint8_t newst)
{
    /* Not calloc: done[] (8 KiB) is written before it is read. */
    struct release_ctx *cp = malloc(sizeof *cp);
    struct lsn_rec_msg h;
    char sender[LSN_ENV_ORG_MAX + 1];
    uint8_t id[LSN_MSG_ID_LEN], key[8];
    uint8_t *m = NULL;
    uint32_t pending;
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
    if ((r = lsn_st_meta_find(t, s, mk, mkl, key, &v)) != 0) {
        r = r == LSN_ERR_NOT_FOUND ? 0 : r;
        goto out;
    }
    if ((m = malloc(v.mv_size)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    memcpy(m, v.mv_data, v.mv_size);
    if ((r = lsn_rec_msg_update(m, v.mv_size, release_cb, cp)) != 0 ||
        (r = lsn_rec_msg_head(m, v.mv_size, &h)) != 0)
        goto out;
    release_org_end(cp);
    if (cp->found == 0 || h.state != LSN_REC_LIVE)
        goto out;
    pending = h.pending > (uint32_t)cp->found ? h.pending - (uint32_t)cp->found : 0;
    if ((r = lsn_rec_msg_set_pending(m, v.mv_size, pending)) != 0 ||
        (r = lsn_rec_mk_split(mk, mkl, sender, id)) != 0)
        goto out;
    for (size_t i = 0; i < cp->n_done; i++)
        if ((r = lsn_st_quota_add(t, s, 'r', cp->done[i], -1, -(int64_t)h.size)) != 0 ||
            (r = lsn_st_pair_add(t, s, sender, cp->done[i], -1, -(int64_t)h.size)) != 0)
            goto out;
    if (pending == 0) {
        if ((r = lsn_rec_msg_set_state(m, v.mv_size, LSN_REC_DONE)) != 0 ||
            (r = lsn_st_env_drop(t, s, h.num, mk, mkl)) != 0 ||
            (r = lsn_st_quota_add(t, s, 's', sender, -1, -(int64_t)h.size)) != 0)
            goto out;
    }
    r = lsn_st_put(s, t, s->meta, key, 8, m, v.mv_size);
out:
    free(m);
    free(cp);
    return r;
}

/* ---------------------------------------------------------- queue entries */

int
lsn_st_enqueue(MDB_txn *t, struct lsn_store *s, const char *dev,
               const struct lsn_rec_item *it, uint64_t *seq)
{
    uint8_t dk[DK_MAX], qk[DK_MAX + 8], ik[DK_MAX + MK_MAX], seqb[8];
    uint8_t *val = NULL;
    size_t dkl = lsn_st_dk(dk, dev), vl = lsn_rec_item_len(it);
    struct lsn_rec_dev d;
    int r;

    if (it->mkl > MK_MAX)
        return LSN_ERR_INTERNAL;
    if ((r = lsn_st_dev_load(t, s, dk, dkl, &d)) != 0)
        return r;
    d.next_seq++;
    memcpy(qk, dk, dkl);
    lsn_st_put_be64(qk + dkl, d.next_seq);
    memcpy(ik, dk, dkl);
    memcpy(ik + dkl, it->mk, it->mkl);
    lsn_st_put_be64(seqb, d.next_seq);
    if ((val = malloc(vl)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_rec_item_encode(val, vl, it)) != 0) {
        free(val);
        return LSN_ERR_INTERNAL;
    }
    d.count++;
    *seq = d.next_seq;
    /* A message's record holds its entries' seqs; a notice has no record. */
    if ((r = lsn_st_put(s, t, s->queue, qk, dkl + 8, val, vl)) == 0 &&
        (it->kind == LSN_REC_KIND_MSG ||
         (r = lsn_st_put(s, t, s->qidx, ik, dkl + it->mkl, seqb, 8)) == 0))
        r = lsn_st_dev_save(t, s, dk, dkl, &d);
    free(val);
    return r;
}

/* 1 if queue value val (vlen bytes) is an entry for message mk. */
static int
entry_is(const uint8_t *val, size_t vlen, const uint8_t *mk, size_t mkl)
{
    struct lsn_rec_item it;

    return (lsn_rec_item_decode(val, vlen, &it) == 0 || it.mkl != 0) &&
           it.mkl == mkl && memcmp(it.mk, mk, mkl) == 0;
}

/* dev's queue entry seq if it holds message mk: *v (valid until the next
 * write).  LSN_ERR_NOT_FOUND if there is none, or if it holds another
 * message (damage: that entry is not this message's to touch). */
int
lsn_st_entry_get(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                 uint64_t seq, const uint8_t *mk, size_t mkl, MDB_val *v)
{
    uint8_t qk[DK_MAX + 8];
    int r;

    memcpy(qk, dk, dkl);
    lsn_st_put_be64(qk + dkl, seq);
    if ((r = lsn_st_get(t, s->queue, qk, dkl + 8, v)) != 0)
        return r;
    return entry_is(v->mv_data, v->mv_size, mk, mkl) ? 0 : LSN_ERR_NOT_FOUND;
}

/* Deletes dev's queue entry seq if it holds message mk, and counts it out
 * of the device's record; nothing if it does not (see queue_entry_get). */
int
lsn_st_entry_drop(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                  uint64_t seq, const uint8_t *mk, size_t mkl)
{
    uint8_t qk[DK_MAX + 8];
    struct lsn_rec_dev d;
    MDB_val v;
    int r;

    if ((r = lsn_st_entry_get(t, s, dk, dkl, seq, mk, mkl, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    memcpy(qk, dk, dkl);
    lsn_st_put_be64(qk + dkl, seq);
    if ((r = lsn_st_del(s, t, s->queue, qk, dkl + 8)) != 0 ||
        (r = lsn_st_dev_load(t, s, dk, dkl, &d)) != 0)
        return r;
    if (d.count > 0)
        d.count--;
    return lsn_st_dev_save(t, s, dk, dkl, &d);
}
