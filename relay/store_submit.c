/* store_submit.c: storing a message (lsn_store_submit): the checks that
 * can refuse it (a duplicate, the quotas, a sender's share, the device
 * backlogs), then its envelope, record, expiry key and queue entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "proto/err.h"
#include "relay/msgidx.h"
#include "relay/record.h"
#include "relay/store.h"
#include "relay/store_int.h"


/* ---------------------------------------------------------- submit */

/* Refuses with QUOTA unless org side has room for one more of len bytes. */
static int
quota_check(MDB_txn *t, struct lsn_store *s, char side, const char *org,
            size_t len)
{
    uint64_t max_m = side == 's' ? s->lim.sender_msgs : s->lim.recipient_msgs;
    uint64_t max_b = side == 's' ? s->lim.sender_bytes : s->lim.recipient_bytes;
    struct lsn_rec_quota q;

    lsn_st_quota_get(t, s, side, org, &q);
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
    struct lsn_rec_quota q;

    if (pct == 0 || pct >= 100)
        return 0;
    max_m = share_of(s->lim.recipient_msgs < s->lim.device_backlog
                         ? s->lim.recipient_msgs : s->lim.device_backlog, pct);
    max_b = share_of(s->lim.recipient_bytes, pct);
    lsn_st_quota_get_key(t, s, k, lsn_st_quota_key(k, 'p', sender, to), &q);
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
    struct lsn_rec_dev d;
    int any_below = 0, r;

    for (size_t j = 0; j < f->n_devices; j++) {
        lsn_st_dev_join(dev, sizeof dev, f->org, f->devices[j]);
        if ((r = lsn_st_dev_load(t, s, dk, lsn_st_dk(dk, dev), &d)) != 0)
            return r;
        if (d.count < s->lim.device_backlog)
            any_below = 1;
    }
    for (size_t j = 0; j < f->n_devices; j++) {
        lsn_st_dev_join(dev, sizeof dev, f->org, f->devices[j]);
        if ((r = lsn_st_dev_load(t, s, dk, lsn_st_dk(dk, dev), &d)) != 0)
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
            if ((r = lsn_st_trim_oldest(t, s, dev)) != 0 ||
                (r = lsn_st_dev_load(t, s, dk, lsn_st_dk(dk, dev), &d)) != 0)
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
    lsn_st_put_be64(k, (uint64_t)(expires < 0 ? 0 : expires));
    lsn_st_put_be64(k + 8, num);
}

/* Read-only: how many items backlog_check would trim from f's queues, or
 * QUOTA if every device of the org is at its cap. */
static int
backlog_need(MDB_txn *t, struct lsn_store *s, const struct lsn_fanout *f,
             size_t *trims)
{
    uint8_t dk[DK_MAX];
    char dev[LSN_DEV_ID_MAX + 1];
    struct lsn_rec_dev d;
    uint64_t over = 0, full_count = 0;
    int any_below = 0, r;

    for (size_t j = 0; j < f->n_devices; j++) {
        lsn_st_dev_join(dev, sizeof dev, f->org, f->devices[j]);
        if ((r = lsn_st_dev_load(t, s, dk, lsn_st_dk(dk, dev), &d)) != 0)
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
    size_t mkl = lsn_rec_mk_make(mk, info->sender_org, info->msg_id);
    char dev[LSN_DEV_ID_MAX + 1];
    struct lsn_rec_dev d;
    MDB_val v;
    int r;

    *trims = 0;
    *queues = 0;
    if ((r = lsn_st_meta_find(t, s, mk, mkl, key, &v)) == 0) {
        struct lsn_rec_msg h;
        /* meta_find found it by its head: it reads. */
        if ((r = lsn_rec_msg_head(v.mv_data, v.mv_size, &h)) != 0)
            return r;
        res->duplicate = 1;
        res->accepted = h.accepted;
        return 0;
    }
    if (r != LSN_ERR_NOT_FOUND)
        return r;
    if ((r = quota_check(t, s, 's', info->sender_org, len)) != 0)
        return r;
    for (size_t i = 0; i < n_fan; i++) {
        if (lsn_rec_fan_queues(&fan[i]) > 0 &&
            ((r = quota_check(t, s, 'r', fan[i].org, len)) != 0 ||
             (r = share_check(t, s, info->sender_org, fan[i].org, len)) != 0))
            return r;
        *queues += lsn_rec_fan_queues(&fan[i]);
        if (fan[i].relay != NULL) {
            /* A peer's outbound queue is never trimmed: only quotas hold it. */
            lsn_st_join(dev, sizeof dev, "@", fan[i].relay);
            if ((r = lsn_st_dev_load(t, s, dk, lsn_st_dk(dk, dev), &d)) != 0)
                return r;
        } else if (fan[i].n_devices > 0 &&
                   (r = backlog_need(t, s, &fan[i], trims)) != 0) {
            return r;
        }
    }
    return 0;
}

/* Gives the k-th device entry of a new record seqs[k]. */
struct seqs_ctx {
    const uint64_t *seqs;
    size_t k, n;
};

static int
seqs_cb(void *vctx, const char *org, const char *name, struct lsn_rec_entry *e)
{
    struct seqs_ctx *c = vctx;

    (void)org;
    if (name == NULL)
        return 0;
    if (c->k == c->n)
        return LSN_ERR_INTERNAL;
    e->seq = c->seqs[c->k++];
    return 0;
}

/* The writes of a checked submit (submit_check said 0, not a duplicate);
 * trim: some device queues are at their cap and lose their oldest. */
static int
submit_write(MDB_txn *t, struct lsn_store *s, const struct lsn_envelope_info *info,
             const uint8_t *env, size_t len, const struct lsn_fanout *fan,
             size_t n_fan, int64_t now, int trim, struct lsn_submit_result *res)
{
    uint8_t mk[MK_MAX], ek[16], *m = NULL;
    size_t mkl = lsn_rec_mk_make(mk, info->sender_org, info->msg_id), ml = 0, n_seq = 0;
    uint64_t num = s->env_next++, *seqs = NULL, *relay_seq = NULL;
    struct lsn_rec_msg h = { LSN_REC_LIVE, now, info->expires, (uint32_t)len, 0, 0,
                             num, mk, mkl };
    struct lsn_rec_item it = { LSN_REC_KIND_MSG, mk, mkl, num, NULL, 0 };
    struct seqs_ctx sc;
    char dev[LSN_DEV_ID_MAX + 1];
    int r;

    for (size_t i = 0; trim && i < n_fan; i++)
        if (fan[i].relay == NULL && fan[i].n_devices > 0 &&
            (r = backlog_check(t, s, &fan[i])) != 0)
            return r;
    if ((r = lsn_rec_msg_build(&h, fan, n_fan, &m, &ml)) != 0)
        return r;
    exp_key(ek, info->expires, num);
    res->accepted = now;
    for (size_t i = 0; i < n_fan; i++)
        n_seq += lsn_rec_fan_queues(&fan[i]);
    if (n_seq == 0)         /* nobody to deliver to: remembered, not kept */
        goto record;
    if ((seqs = malloc(n_seq * sizeof *seqs)) == NULL ||
        (relay_seq = malloc(n_fan * sizeof *relay_seq)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    n_seq = 0;
    if ((r = lsn_st_env_put(t, s, num, mk, mkl, env, len)) != 0 ||
        (r = lsn_st_quota_add(t, s, 's', info->sender_org, 1, (int64_t)len)) != 0)
        goto out;
    for (size_t i = 0; i < n_fan; i++) {
        if (lsn_rec_fan_queues(&fan[i]) > 0 &&
            ((r = lsn_st_quota_add(t, s, 'r', fan[i].org, 1, (int64_t)len)) != 0 ||
             (r = lsn_st_pair_add(t, s, info->sender_org, fan[i].org, 1, (int64_t)len)) != 0))
            goto out;
        if (fan[i].relay != NULL) {
            /* One entry per peer relay, whichever of its orgs comes first. */
            size_t k;
            for (k = 0; k < i; k++)
                if (fan[k].relay != NULL && strcmp(fan[k].relay, fan[i].relay) == 0)
                    break;
            lsn_st_join(dev, sizeof dev, "@", fan[i].relay);
            if (k < i)
                relay_seq[i] = relay_seq[k];
            else if ((r = lsn_st_enqueue(t, s, dev, &it, &relay_seq[i])) != 0)
                goto out;
            seqs[n_seq++] = relay_seq[i];
            continue;
        }
        for (size_t j = 0; j < fan[i].n_devices; j++) {
            lsn_st_dev_join(dev, sizeof dev, fan[i].org, fan[i].devices[j]);
            if ((r = lsn_st_enqueue(t, s, dev, &it, &seqs[n_seq++])) != 0)
                goto out;
        }
    }
    sc = (struct seqs_ctx){ seqs, 0, n_seq };
    if ((r = lsn_rec_msg_update(m, ml, seqs_cb, &sc)) != 0)
        goto out;
record:
    /* The index entry last (lsn_store_submit reserved room for it). */
    if ((r = lsn_st_put(s, t, s->exp, ek, sizeof ek, mk, mkl)) != 0 ||
        (r = lsn_st_meta_add(t, s, num, mk, mkl, m, ml)) != 0)
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
    if (trims == 0 && lsn_st_direct_ok(s, bound)) {
        before = s->charge;
        return lsn_st_direct_end(s, before, submit_write(s->batch, s, info, env, len, fan,
                                                         n_fan, now, 0, res));
    }
    /* Trimming (it reads and rewrites other messages' records) and a map
     * near its end take a nested transaction. */
    if ((r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    r = submit_write(t, s, info, env, len, fan, n_fan, now, trims > 0, res);
    return lsn_st_op_end(s, t, r);
}
