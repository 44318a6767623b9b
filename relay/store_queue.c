/* store_queue.c: the device and peer queues (store.h): fetch (which
 * quarantines an envelope that fails its checksum), the gap (trim), ack
 * (with the device's outcome), a peer's forward done, and a revoked
 * device's queue dropped.  Appending one entry (lsn_st_enqueue) is
 * store_records.c's, since expiry queues notices and this file calls
 * expiry's quarantine: the calls stay one way. */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "proto/err.h"
#include "relay/record.h"
#include "relay/store.h"
#include "relay/store_int.h"


/* ---------------------------------------------------------- queues */

/* The gap table's key of dev's gap ref idx: dk || idx32be. */
static size_t
gap_key(uint8_t gk[DK_MAX + 4], const uint8_t *dk, size_t dkl, uint32_t idx)
{
    memcpy(gk, dk, dkl);
    gk[dkl] = (uint8_t)(idx >> 24);
    gk[dkl + 1] = (uint8_t)(idx >> 16);
    gk[dkl + 2] = (uint8_t)(idx >> 8);
    gk[dkl + 3] = (uint8_t)idx;
    return dkl + 4;
}

/* The oldest entry of queue dk: its seq and a malloc'd copy of its value
 * (*val NULL if the queue is empty). */
static int
queue_first(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
            uint64_t *seq, uint8_t **val, size_t *vlen)
{
    MDB_cursor *c = NULL;
    MDB_val k = { dkl, (void *)dk }, v;
    int rc;

    *val = NULL;
    *vlen = 0;
    if (mdb_cursor_open(t, s->queue, &c) != 0)
        return LSN_ERR_IO;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc != 0 || k.mv_size != dkl + 8 || memcmp(k.mv_data, dk, dkl) != 0) {
        mdb_cursor_close(c);
        return 0;
    }
    *seq = lsn_st_get_be64((const uint8_t *)k.mv_data + dkl);
    if ((*val = malloc(v.mv_size + 1)) != NULL) {
        memcpy(*val, v.mv_data, v.mv_size);
        *vlen = v.mv_size;
    }
    mdb_cursor_close(c);
    return *val == NULL ? LSN_ERR_NOMEM : 0;
}

int
lsn_st_unqueue(MDB_txn *t, struct lsn_store *s, const char *dev, const uint8_t *dk,
               size_t dkl, uint64_t seq, const uint8_t *val, size_t vlen,
               uint8_t newst, struct lsn_rec_dev *d)
{
    uint8_t qk[DK_MAX + 8], ik[DK_MAX + MK_MAX];
    char org[LSN_ENV_ORG_MAX + 1];
    struct lsn_rec_item it;
    const char *name;
    int r;

    /* An entry whose kind and mk read is removed even if what follows
     * them is damaged: only they say which reference ends. */
    if (lsn_rec_item_decode(val, vlen, &it) != 0 && it.mkl == 0)
        return LSN_ERR_CORRUPT;
    memcpy(qk, dk, dkl);
    lsn_st_put_be64(qk + dkl, seq);
    memcpy(ik, dk, dkl);
    memcpy(ik + dkl, it.mk, it.mkl);
    if ((r = lsn_st_del(s, t, s->queue, qk, dkl + 8)) != 0 ||
        (it.kind != LSN_REC_KIND_MSG && (r = lsn_st_del(s, t, s->qidx, ik, dkl + it.mkl)) != 0))
        return r;
    if (d->count > 0)
        d->count--;
    if (it.kind != LSN_REC_KIND_MSG)
        return 0;
    if (dev[0] == '@')      /* a peer relay's queue serves several orgs */
        return lsn_st_release(t, s, it.mk, it.mkl, NULL, dev, newst);
    if ((r = lsn_st_split_dev(dev, org, &name)) != 0)
        return r;
    return lsn_st_release(t, s, it.mk, it.mkl, org, name, newst);
}

int
lsn_st_trim_oldest(MDB_txn *t, struct lsn_store *s, const char *dev)
{
    uint8_t dk[DK_MAX], gk[DK_MAX + 4], *val = NULL;
    size_t dkl = lsn_st_dk(dk, dev), vlen;
    struct lsn_rec_item it;
    struct lsn_rec_dev d;
    uint64_t seq = 0;
    int r;

    if ((r = lsn_st_dev_load(t, s, dk, dkl, &d)) != 0 ||
        (r = queue_first(t, s, dk, dkl, &seq, &val, &vlen)) != 0 || val == NULL)
        return r;
    if ((r = lsn_st_unqueue(t, s, dev, dk, dkl, seq, val, vlen, LSN_REC_TRIMMED, &d)) != 0)
        goto out;
    /* unqueue read the entry's kind and mk. */
    (void)lsn_rec_item_decode(val, vlen, &it);
    d.trimmed++;
    if (d.n_refs < LSN_GAP_REFS) {
        if ((r = lsn_st_put(s, t, s->gap, gk, gap_key(gk, dk, dkl, d.gap_base + d.n_refs),
                            it.mk, it.mkl)) != 0)
            goto out;
        d.n_refs++;
    }
    r = lsn_st_dev_save(t, s, dk, dkl, &d);
out:
    free(val);
    return r;
}

/* ---------------------------------------------------------- fetch */

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
    struct lsn_rec_item q;
    const uint8_t *env;
    size_t len;
    MDB_val e;
    int r;

    memset(it, 0, sizeof *it);
    if ((r = lsn_rec_item_decode(v->mv_data, v->mv_size, &q)) != 0)
        return r;
    it->seq = seq;
    if ((r = lsn_rec_mk_split(q.mk, q.mkl, it->org, it->msg_id)) != 0)
        return r;
    if (q.kind == LSN_REC_KIND_MSG) {
        /* Nothing deletes an envelope while a queue refers to it: one
         * missing is damage, handled as a failed checksum. */
        if ((r = lsn_st_env_get(t, s, q.num, q.mk, q.mkl, &e, &env, &len)) != 0)
            return r == LSN_ERR_NOT_FOUND ? LSN_ERR_CORRUPT : r;
        it->envelope_len = len;
        if ((it->envelope = malloc(len + 1)) == NULL)
            return LSN_ERR_NOMEM;
        memcpy(it->envelope, env, len);
        *bytes += len;
        return 0;
    }
    it->notice_len = q.notice_len;
    if ((it->notice = malloc(q.notice_len + 1)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(it->notice, q.notice, q.notice_len);
    *bytes += q.notice_len;
    return 0;
}

int
lsn_store_fetch(struct lsn_store *s, const char *dev, uint64_t after,
                size_t max, size_t max_bytes, struct lsn_store_item **items,
                size_t *n)
{
    uint8_t qk[DK_MAX + 8], bad[MK_MAX];
    size_t dkl = lsn_st_dk(qk, dev), bytes = 0, cnt = 0, badl = 0;
    struct lsn_store_item *arr = NULL;
    MDB_cursor *c = NULL;
    struct lsn_rec_item q;
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
        lsn_st_put_be64(qk + dkl, after + 1);
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
            after = lsn_st_get_be64((const uint8_t *)k.mv_data + dkl);
            r = item_fill(s->batch, s, &v, after, &arr[cnt], &bytes);
            /* A message entry that names its message: quarantine that. */
            if (r == LSN_ERR_CORRUPT &&
                (lsn_rec_item_decode(v.mv_data, v.mv_size, &q) == 0 || q.mkl != 0) &&
                q.kind == LSN_REC_KIND_MSG) {
                badl = q.mkl;
                memcpy(bad, q.mk, badl);
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
        if ((r = lsn_st_quarantine(s, bad, badl, dev, after)) != 0)
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
    size_t dkl = lsn_st_dk(dk, dev);
    struct lsn_rec_dev d;
    MDB_val v;
    int r;

    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if ((r = lsn_st_dev_load(s->batch, s, dk, dkl, &d)) != 0)
        return r;
    *queued = d.count;
    if (gap == NULL)
        return 0;
    memset(gap, 0, sizeof *gap);
    gap->trimmed = d.trimmed;
    for (uint32_t i = 0; i < d.n_refs && gap->n_refs < 64; i++) {
        if (lsn_st_get(s->batch, s->gap, gk, gap_key(gk, dk, dkl, d.gap_base + i), &v) != 0)
            continue;
        if (lsn_rec_mk_split(v.mv_data, v.mv_size, gap->orgs[gap->n_refs],
                             gap->ids[gap->n_refs]) == 0)
            gap->n_refs++;
    }
    return 0;
}

/* Finds a pending entry of a record: the device org/name, or (org NULL)
 * the peer queue name in any org. */
struct seq_find {
    const char *org, *name;
    uint64_t seq;
    int found;
};

static int
seq_find_cb(void *vctx, const char *org, const char *name, struct lsn_rec_entry *e)
{
    struct seq_find *f = vctx;

    if (name != NULL && !f->found && e->state == LSN_REC_PENDING &&
        (f->org == NULL || strcmp(org, f->org) == 0) && strcmp(name, f->name) == 0) {
        f->seq = e->seq;
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
    struct lsn_rec_cur c;
    uint8_t key[8];
    MDB_val v;
    int r;

    if (mk[0] == 0) {       /* org "": a notice */
        memcpy(ik, dk, dkl);
        memcpy(ik + dkl, mk, mkl);
        if ((r = lsn_st_get(t, s->qidx, ik, dkl + mkl, &v)) != 0)
            return r;
        lsn_rec_reader(&c, v.mv_data, v.mv_size);
        if (lsn_rec_get_be64(&c, seq) != 0 || lsn_rec_left(&c) != 0)
            return LSN_ERR_CORRUPT;
        return 0;
    }
    if (dev[0] != '@') {
        if ((r = lsn_st_split_dev(dev, org, &f.name)) != 0)
            return r;
        f.org = org;
    }
    if ((r = lsn_st_meta_find(t, s, mk, mkl, key, &v)) != 0)
        return r;
    if ((r = lsn_rec_msg_walk(v.mv_data, v.mv_size, seq_find_cb, &f)) != 0)
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
    size_t dkl = lsn_st_dk(dk, dev), mkl = lsn_rec_mk_make(mk, org, id);
    struct lsn_rec_dev d;
    uint64_t seq;
    MDB_val v;
    int r;

    if (known != NULL)
        seq = *known;
    else if ((r = queue_seq(t, s, dev, dk, dkl, mk, mkl, &seq, NULL)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if ((r = lsn_st_entry_get(t, s, dk, dkl, seq, mk, mkl, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if ((val = malloc(v.mv_size)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(val, v.mv_data, v.mv_size);
    if ((r = lsn_st_dev_load(t, s, dk, dkl, &d)) == 0 &&
        (r = lsn_st_unqueue(t, s, dev, dk, dkl, seq, val, v.mv_size, newst, &d)) == 0 &&
        (r = lsn_st_dev_save(t, s, dk, dkl, &d)) == 0)
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
    size_t dkl = lsn_st_dk(dk, dev), mkl = lsn_rec_mk_make(mk0, org, id);
    char o[LSN_ENV_ORG_MAX + 1];
    struct lsn_rec_item it;
    struct lsn_rec_msg h;
    const char *name;
    struct lsn_rec_dev d;
    MDB_val v, rec = { 0, NULL };
    int r;

    *bound = 8 * (2 * s->depth + 2);
    *queued = 0;
    if ((r = queue_seq(t, s, dev, dk, dkl, mk0, mkl, seq, &rec)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if ((r = lsn_st_entry_get(t, s, dk, dkl, *seq, mk0, mkl, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    /* What lsn_st_unqueue reads of the entry. */
    if (lsn_rec_item_decode(v.mv_data, v.mv_size, &it) != 0 && it.mkl == 0)
        return LSN_ERR_CORRUPT;
    if ((r = lsn_st_dev_load(t, s, dk, dkl, &d)) != 0)
        return r;
    *queued = 1;
    if (it.kind != LSN_REC_KIND_MSG)
        return 0;
    if (dev[0] != '@' && (r = lsn_st_split_dev(dev, o, &name)) != 0)
        return r;
    /* The message's record, as queue_seq read (and walked) it. */
    if (rec.mv_data == NULL || lsn_rec_msg_head(rec.mv_data, rec.mv_size, &h) != 0)
        return LSN_ERR_CORRUPT;
    *bound += (size_t)h.n_rcpt * (2 * s->depth + 2) + rec.mv_size / s->psize + 2;
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
    uint8_t newst = LSN_REC_ACKED;
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
        newst = (uint8_t)(LSN_REC_REFUSED | (uint8_t)-outcome);
    /* Direct (see direct_ok) once the reads found nothing to refuse; an
     * item not queued (a repeated ack) needs no write at all. */
    if ((r = ack_check(s->batch, s, dev, org, msg_id, &bound, &seq, &queued)) == 0 &&
        !queued)
        return 0;
    if (r == 0 && lsn_st_direct_ok(s, bound)) {
        before = s->charge;
        return lsn_st_direct_end(s, before, ack_tx(s->batch, s, dev, org, msg_id, &seq,
                                                   newst, found));
    }
    if ((r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    r = ack_tx(t, s, dev, org, msg_id, NULL, newst, found);
    return lsn_st_op_end(s, t, r);
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
    lsn_st_join(dev, sizeof dev, "@", peer);
    if ((r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    r = ack_tx(t, s, dev, org, msg_id, NULL, refused ? LSN_REC_DROPPED : LSN_REC_ACKED, found);
    return lsn_st_op_end(s, t, r);
}

int
lsn_store_gap_ack(struct lsn_store *s, const char *dev, uint64_t n)
{
    uint8_t dk[DK_MAX], gk[DK_MAX + 4];
    size_t dkl = lsn_st_dk(dk, dev);
    struct lsn_rec_dev d;
    MDB_txn *t;
    int r;

    if ((r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    if ((r = lsn_st_dev_load(t, s, dk, dkl, &d)) != 0 || d.trimmed == 0)
        return lsn_st_op_end(s, t, r);
    if (n > d.trimmed)
        n = d.trimmed;
    d.trimmed -= n;
    /* Refs are reported oldest first; the first n seen go. */
    while (n > 0 && d.n_refs > 0) {
        if ((r = lsn_st_del(s, t, s->gap, gk, gap_key(gk, dk, dkl, d.gap_base))) != 0)
            return lsn_st_op_end(s, t, r);
        d.gap_base++;
        d.n_refs--;
        n--;
    }
    if (d.trimmed == 0) {
        d.n_refs = 0;
        d.gap_base = 0;
    }
    r = lsn_st_dev_save(t, s, dk, dkl, &d);
    return lsn_st_op_end(s, t, r);
}

static int
drop_tx(MDB_txn *t, struct lsn_store *s, const char *dev)
{
    uint8_t dk[DK_MAX], *val = NULL;
    size_t dkl = lsn_st_dk(dk, dev), vlen;
    struct lsn_rec_dev d;
    uint64_t seq = 0;
    int r;

    if ((r = lsn_st_dev_load(t, s, dk, dkl, &d)) != 0)
        return r;
    for (;;) {
        if ((r = queue_first(t, s, dk, dkl, &seq, &val, &vlen)) != 0)
            return r;
        if (val == NULL)
            break;
        r = lsn_st_unqueue(t, s, dev, dk, dkl, seq, val, vlen, LSN_REC_DROPPED, &d);
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
        lsn_st_charge(s, k.mv_size);
        r = mdb_cursor_del(c, 0);
        mdb_cursor_close(c);
        if (r != 0)
            return LSN_ERR_IO;
    }
    return lsn_st_hot_del(s, t, s->dev, dk, dkl);
}

int
lsn_store_drop_device(struct lsn_store *s, const char *dev)
{
    MDB_txn *t;
    int r;

    if ((r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    r = drop_tx(t, s, dev);
    return lsn_st_op_end(s, t, r);
}
