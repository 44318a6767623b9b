/* local_sent.c: sent messages in the local store (see local.h): the record
 * of each envelope until and after the relay takes it, its outcome
 * (submitted, refused, waiting with back-off), and the receipts recorded
 * against it. */
#include <stdio.h>
#include <string.h>

#include <lmdb.h>
#include <sodium.h>

#include "client/local.h"
#include "client/local_int.h"
#include "proto/err.h"
#include "proto/pb.h"

/* ------------------------------------------------------------ sent */

int
lsn_local_put_sent(struct lsn_local *s, const uint8_t msg_id[16],
                   const Liaison__StoredSent *rec)
{
    MDB_txn *t = NULL;
    int r;

    for (int grown = 0;; grown = 1) {
        if ((r = lsn_local_begin(s, 0, &t)) != 0)
            return r;
        r = lsn_local_put_pb(t, s->sent, msg_id, 16, &rec->base, MDB_NOOVERWRITE);
        if (r == LSN_ERR_EXISTS)
            r = 0;      /* the first record of this msg_id stands */
        r = lsn_local_commit(t, r);
        if (r != LSN_ERR_STORE_FULL || grown || lsn_local_grow_map(s) != 0)
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
    if ((r = lsn_local_begin(s, MDB_RDONLY, &t)) != 0)
        return r;
    r = lsn_local_get_pb(t, s->sent, msg_id, 16, &liaison__stored_sent__descriptor,
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

    if ((r = lsn_local_begin(s, 0, &t)) != 0)
        return r;
    rc = mdb_del(t, s->sent, &key, NULL);
    return lsn_local_commit(t, rc == MDB_NOTFOUND ? 0 : lsn_local_mdb_err(rc));
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

    if ((r = lsn_local_begin(s, 0, &t)) != 0)
        return r;
    r = lsn_local_get_pb(t, s->sent, msg_id, 16, &liaison__stored_sent__descriptor,
                         (ProtobufCMessage **)&rec);
    if (r == 0) {
        rec->submitted = submitted;
        rec->refused = refused;
        rec->waiting = 0;
        rec->retry_at = 0;
        if (rec->sealed_content.len > 0)
            sodium_memzero(rec->sealed_content.data, rec->sealed_content.len);
        rec->sealed_content.len = 0;
        r = lsn_local_put_pb(t, s->sent, msg_id, 16, &rec->base, 0);
    }
    lsn_pb_free((ProtobufCMessage *)rec);
    return lsn_local_commit(t, r);
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

    if ((r = lsn_local_begin(s, 0, &t)) != 0)
        return r;
    r = lsn_local_get_pb(t, s->sent, msg_id, 16, &liaison__stored_sent__descriptor,
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
        r = lsn_local_put_pb(t, s->sent, msg_id, 16, &rec->base, 0);
        rec->waiting_why = held;
    }
    lsn_pb_free((ProtobufCMessage *)rec);
    return lsn_local_commit(t, r);
}


int
lsn_local_find_sent(struct lsn_local *s, const char *prefix, uint8_t msg_id[16])
{
    uint8_t k[MSG_KEY];
    size_t kl = 0;
    int r;

    if ((r = lsn_local_find_by_prefix(s, s->sent, 0, prefix, k, &kl)) != 0)
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

    return lsn_local_scan(s, s->sent, NULL, visit_unsubmitted, &x);
}

static int
visit_sent(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct each_sent *x = ctx;
    Liaison__StoredSent *rec = NULL;
    int r;

    if (k->mv_size != 16)
        return 0;
    if ((r = LSN_PB_DECODE(stored_sent, v->mv_data, v->mv_size, RECORD_MAX * 2, &rec)) == 0)
        r = x->fn(x->ctx, k->mv_data, rec);
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

int
lsn_local_each_sent(struct lsn_local *s, lsn_local_sent_fn fn, void *ctx)
{
    struct each_sent x = { fn, ctx };

    return lsn_local_scan(s, s->sent, NULL, visit_sent, &x);
}

/* ------------------------------------------------------------ receipts */

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
    if ((r = lsn_local_begin(s, 0, &t)) != 0)
        return r;
    /* A read receipt outranks a delivery receipt, a refusal both; never
     * the reverse. */
    r = lsn_local_get_pb(t, s->receipts, k, sizeof k,
                         &liaison__stored_receipt__descriptor, (ProtobufCMessage **)&old);
    if (r == 0 && old->kind >= rec.kind)
        r = 0;
    else if (r == 0 || r == LSN_ERR_NOT_FOUND)
        r = lsn_local_put_pb(t, s->receipts, k, sizeof k, &rec.base, 0);
    lsn_pb_free((ProtobufCMessage *)old);
    return lsn_local_commit(t, r);
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

/* The receipts of x->msg_id, in key order: they are the keys that begin
 * with it. */
static int
each_receipt_of(struct lsn_local *s, struct each_receipt *x)
{
    uint8_t start[RCPT_KEY];
    MDB_val from = { sizeof start, start };

    memset(start, 0, sizeof start);
    memcpy(start, x->msg_id, 16);
    return lsn_local_scan(s, s->receipts, &from, visit_receipt, x);
}

int
lsn_local_each_receipt(struct lsn_local *s, const uint8_t msg_id[16],
                       lsn_local_receipt_fn fn, void *ctx)
{
    struct each_receipt x = { msg_id, fn, NULL, ctx };

    return each_receipt_of(s, &x);
}

int
lsn_local_each_receipt_reason(struct lsn_local *s, const uint8_t msg_id[16],
                              lsn_local_receipt_reason_fn fn, void *ctx)
{
    struct each_receipt x = { msg_id, NULL, fn, ctx };

    return each_receipt_of(s, &x);
}
