/* store_expire.c: a message's end and what the store says of it: expiry
 * (with the "expired undelivered" notice), quarantine of an envelope
 * that failed its checksum, and the delivery status of a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <sodium.h>

#include "proto/err.h"
#include "proto/pb.h"
#include "relay/record.h"
#include "relay/store.h"
#include "relay/store_int.h"


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
        if ((r = lsn_rec_mk_split(c->mk, c->mkl, sender, id)) != 0 ||
            (r = lsn_st_quota_add(c->t, c->s, 'r', c->cur_org, -1, -(int64_t)c->size)) != 0 ||
            (r = lsn_st_pair_add(c->t, c->s, sender, c->cur_org, -1, -(int64_t)c->size)) != 0)
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
expire_cb(void *vctx, const char *org, const char *name, struct lsn_rec_entry *e)
{
    struct expire_ctx *c = vctx;
    uint8_t dk[DK_MAX];
    char dev[LSN_DEV_ID_MAX + 1];
    size_t dkl;
    int r;

    if (name == NULL) {
        if ((r = expire_org_done(c)) != 0)
            return r;
        lsn_st_join(c->cur_org, sizeof c->cur_org, "", org);
        return 0;
    }
    if (e->state != LSN_REC_ACKED)
        c->cur_incomplete = 1;
    if (e->state != LSN_REC_PENDING)
        return 0;
    c->cur_pending++;
    if (c->mark != 0)
        e->state = c->mark;
    if (name[0] == '@')     /* a peer relay's queue: one entry for its orgs */
        lsn_st_join(dev, sizeof dev, "", name);
    else
        lsn_st_dev_join(dev, sizeof dev, org, name);
    /* The entry's seq is in the record; a peer queue's single entry, named
     * by several orgs, goes with the first.  An entry of another message
     * (damage) is left alone, so one damaged record cannot stop expiry. */
    dkl = lsn_st_dk(dk, dev);
    return lsn_st_entry_drop(c->t, c->s, dk, dkl, e->seq, c->mk, c->mkl);
}

/* A context that ends message mk's pending entries (size: its envelope's
 * bytes; mark: the state they get, or 0 to leave them).  NULL: no memory. */
static struct expire_ctx *
expire_ctx_new(MDB_txn *t, struct lsn_store *s, const uint8_t *mk, size_t mkl,
               uint32_t size, uint8_t mark)
{
    struct expire_ctx *c = calloc(1, sizeof *c);

    if (c != NULL) {
        c->t = t;
        c->s = s;
        c->mk = mk;
        c->mkl = mkl;
        c->size = size;
        c->mark = mark;
    }
    return c;
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
    struct lsn_rec_item it = { LSN_REC_KIND_NOTICE, mk, 0, 0, NULL, 0 };
    size_t nn, len = 0;
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
    it.mkl = lsn_rec_mk_make(mk, "", nid);
    it.notice = buf;
    it.notice_len = len;
    nn = devices != NULL ? devices(ctx, sender, names, 512) : 0;
    for (size_t i = 0; i < nn && r == 0; i++) {
        lsn_st_dev_join(dev, sizeof dev, sender, names[i]);
        uint64_t seq;
        r = lsn_st_enqueue(t, s, dev, &it, &seq);
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
    struct lsn_rec_msg h;
    MDB_val v;
    int r;

    if ((r = lsn_st_get(t, s->meta, key, 8, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if (lsn_rec_msg_head(v.mv_data, v.mv_size, &h) == 0)
        return 0;
    return lsn_st_del(s, t, s->meta, key, 8);
}

/* Expires message mk, whose expiry key names record number num. */
static int
expire_one(MDB_txn *t, struct lsn_store *s, const uint8_t *mk, size_t mkl,
           const uint8_t num[8], int64_t now, const char *relay_name,
           lsn_store_devices_fn devices, void *ctx)
{
    struct expire_ctx *c = NULL;
    struct lsn_rec_msg h;
    char sender[LSN_ENV_ORG_MAX + 1];
    uint8_t id[LSN_MSG_ID_LEN], key[8], *m = NULL;
    MDB_val v;
    size_t ml;
    int r;

    if ((r = lsn_rec_mk_split(mk, mkl, sender, id)) != 0)
        return r;
    if ((r = lsn_st_meta_find(t, s, mk, mkl, key, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? meta_drop_damaged(t, s, num) : r;
    ml = v.mv_size;
    if ((m = malloc(ml)) == NULL)
        return LSN_ERR_NOMEM;
    memcpy(m, v.mv_data, ml);
    if ((r = lsn_rec_msg_head(m, ml, &h)) != 0)
        goto out;
    if (h.state != LSN_REC_LIVE)
        goto drop;
    if ((c = expire_ctx_new(t, s, mk, mkl, h.size, 0)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    if ((r = lsn_rec_msg_update(m, ml, expire_cb, c)) != 0 ||
        (r = expire_org_done(c)) != 0)
        goto out;
    if ((r = lsn_st_env_drop(t, s, h.num, mk, mkl)) != 0 ||
        (r = lsn_st_quota_add(t, s, 's', sender, -1, -(int64_t)c->size)) != 0)
        goto out;
    if (c->n_undelivered > 0 &&
        (r = notice_queue(t, s, sender, id, c, now, relay_name, devices, ctx)) != 0)
        goto out;
drop:
    r = lsn_st_meta_remove(t, s, key, mk, mkl);
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
    uint8_t ek[16], mk[MK_MAX], id[LSN_MSG_ID_LEN];
    char org[LSN_ENV_ORG_MAX + 1];
    size_t mkl;
    MDB_txn *t;
    int r = 0;

    *n_expired = 0;
    if ((r = lsn_st_op_begin(s, &t)) != 0)
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
        if (rc != 0 || k.mv_size != sizeof ek || (int64_t)lsn_st_get_be64(k.mv_data) >= now) {
            mdb_cursor_close(c);
            break;
        }
        memcpy(ek, k.mv_data, sizeof ek);
        mkl = v.mv_size;
        if (mkl > sizeof mk || lsn_rec_mk_split(v.mv_data, mkl, org, id) != 0) {
            mdb_cursor_close(c);
            r = LSN_ERR_CORRUPT;
            break;
        }
        memcpy(mk, v.mv_data, mkl);
        mdb_cursor_close(c);
        if ((r = expire_one(t, s, mk, mkl, ek + 8, now, relay_name, devices, ctx)) != 0 ||
            (r = lsn_st_del(s, t, s->exp, ek, sizeof ek)) != 0)
            break;
        (*n_expired)++;
    }
    return lsn_st_op_end(s, t, r);
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
int
lsn_st_quarantine(struct lsn_store *s, const uint8_t *mk, size_t mkl, const char *dev,
                  uint64_t seq)
{
    struct expire_ctx *c = NULL;
    struct lsn_rec_msg h;
    char sender[LSN_ENV_ORG_MAX + 1], hex[2 * LSN_MSG_ID_LEN + 1];
    uint8_t id[LSN_MSG_ID_LEN], cnt[LSN_REC_COUNT_LEN], dk[DK_MAX], key[8], *m = NULL;
    size_t dkl = lsn_st_dk(dk, dev);
    uint64_t count = 0;
    int live = 0;
    MDB_txn *t;
    MDB_val v;
    size_t ml;
    int r;

    if ((r = lsn_rec_mk_split(mk, mkl, sender, id)) != 0 || (r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    if ((r = lsn_st_meta_find(t, s, mk, mkl, key, &v)) == 0) {
        const uint8_t *env;
        size_t len;
        MDB_val e;
        ml = v.mv_size;
        if ((m = malloc(ml)) == NULL) {
            r = LSN_ERR_NOMEM;
            goto out;
        }
        memcpy(m, v.mv_data, ml);
        /* The raw value, as found, whether its checksum fails or not. */
        if ((r = lsn_rec_msg_head(m, ml, &h)) != 0 ||
            (h.state == LSN_REC_LIVE &&
             (r = lsn_st_env_get(t, s, h.num, mk, mkl, &e, &env, &len)) != LSN_ERR_NOT_FOUND &&
             (r == LSN_ERR_IO ||
              (r = lsn_st_put(s, t, s->quar, mk, mkl, e.mv_data, e.mv_size)) != 0 ||
              (r = lsn_st_env_del(t, s, h.num)) != 0)))
            goto out;
        if (h.state == LSN_REC_LIVE) {
            live = 1;
            if ((c = expire_ctx_new(t, s, mk, mkl, h.size, LSN_REC_DROPPED)) == NULL) {
                r = LSN_ERR_NOMEM;
                goto out;
            }
            if ((r = lsn_rec_msg_update(m, ml, expire_cb, c)) != 0 ||
                (r = expire_org_done(c)) != 0 ||
                (r = lsn_st_quota_add(t, s, 's', sender, -1, -(int64_t)c->size)) != 0 ||
                (r = lsn_rec_msg_set_state(m, ml, LSN_REC_DONE)) != 0 ||
                (r = lsn_rec_msg_set_pending(m, ml, 0)) != 0 ||
                (r = lsn_st_put(s, t, s->meta, key, 8, m, ml)) != 0)
                goto out;
        }
    } else if (r != LSN_ERR_NOT_FOUND) {
        goto out;
    }
    /* The entry that led here, if the drop above did not end it. */
    if ((r = lsn_st_entry_drop(t, s, dk, dkl, seq, mk, mkl)) != 0)
        goto out;
    if (live) {
        if (lsn_st_get(t, s->info, "quarantined", 11, &v) == 0 &&
            lsn_rec_count_decode(v.mv_data, v.mv_size, &count) != 0)
            count = 0;
        lsn_rec_count_encode(cnt, ++count);
        r = lsn_st_put(s, t, s->info, "quarantined", 11, cnt, sizeof cnt);
    }
out:
    free(c);
    free(m);
    if ((r = lsn_st_op_end(s, t, r)) == 0 && s->log != NULL) {
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
status_cb(void *vctx, const char *org, const char *name, struct lsn_rec_entry *e)
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
        x->forwarded = e->state == LSN_REC_ACKED;
        if (e->state == LSN_REC_DROPPED)
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
    if (LSN_REC_IS_REFUSED(e->state)) {
        x->refused++;
        ds->state = LSN_STORE_DEV_REFUSED;
        ds->reason = -(int)(e->state & 0x7f);
    } else if (e->state == LSN_REC_ACKED) {
        x->delivered++;
        ds->state = LSN_STORE_DEV_DELIVERED;
    } else if (e->state == LSN_REC_TRIMMED) {
        x->trimmed++;
        ds->state = LSN_STORE_DEV_TRIMMED;
    } else if (e->state == LSN_REC_DROPPED) {
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
    uint8_t mk[MK_MAX], key[8];
    size_t mkl = lsn_rec_mk_make(mk, org, msg_id);
    struct status_ctx c = { NULL, 0, 0, NULL, 0, 0 };
    struct lsn_rec_msg h;
    size_t head;
    MDB_val v;
    int r;

    *known = 0;
    *rcpt = NULL;
    *n_rcpt = 0;
    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if ((r = lsn_st_meta_find(s->batch, s, mk, mkl, key, &v)) == LSN_ERR_NOT_FOUND)
        return 0;
    if (r != 0 || (r = lsn_rec_msg_head(v.mv_data, v.mv_size, &h)) != 0)
        return r;
    c.cap = h.n_rcpt;
    /* One allocation: the orgs, then their devices (a device entry takes
     * at least 11 bytes of the record). */
    c.cap_d = v.mv_size / 11 + 1;
    head = (c.cap + 1) * sizeof *c.r;
    head = (head + _Alignof(struct lsn_store_dstate) - 1) /
           _Alignof(struct lsn_store_dstate) * _Alignof(struct lsn_store_dstate);
    if ((c.r = calloc(1, head + c.cap_d * sizeof *c.d)) == NULL)
        return LSN_ERR_NOMEM;
    c.d = (struct lsn_store_dstate *)((uint8_t *)c.r + head);
    if ((r = lsn_rec_msg_walk(v.mv_data, v.mv_size, status_cb, &c)) != 0) {
        free(c.r);
        return r;
    }
    *known = 1;
    *accepted = h.accepted;
    *expires = h.expires;
    *rcpt = c.r;
    *n_rcpt = c.n;
    return 0;
}
