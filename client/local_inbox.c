/* local_inbox.c: received messages in the local store (see local.h): each
 * kept as received with its content key sealed, the seen table that refuses
 * a replay, read marks, lookup by id prefix, listing, and pruning. */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <sodium.h>

#include "client/local.h"
#include "client/local_int.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/pb.h"

static int
seen_in(MDB_txn *t, const struct lsn_local *s, const char *org,
        const uint8_t msg_id[16])
{
    uint8_t k[MSG_KEY];
    MDB_val key = { sizeof k, k }, val;
    int rc;

    lsn_local_msg_key(k, org, msg_id);
    rc = mdb_get(t, s->seen, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc == 0 ? LSN_ERR_REPLAY : lsn_local_mdb_err(rc);
}

int
lsn_local_replay_check(void *ctx, const char *sender_org,
                       const uint8_t msg_id[16], int64_t keep_until)
{
    struct lsn_local *s = ctx;
    MDB_txn *t = NULL;
    int r;

    (void)keep_until;
    if ((r = lsn_local_begin(s, MDB_RDONLY, &t)) != 0)
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

    lsn_local_msg_key(k, o->sender_org, o->msg_id);
    /* The content key is bound to its message: it cannot be moved. */
    if ((r = lsn_local_seal(s, o->key, 32, k, sizeof k, &sealed, &sl)) != 0)
        return r;
    rec.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
    rec.sealed_key = (ProtobufCBinaryData){ sl, sealed };
    rec.sign_key = (ProtobufCBinaryData){ 32, (uint8_t *)sign_key };
    rec.received = now;
    lsn_local_put_be64(until, (uint64_t)o->keep_until);
    for (int grown = 0;; grown = 1) {
        if ((r = lsn_local_begin(s, 0, &t)) == 0) {
            if ((r = seen_in(t, s, o->sender_org, o->msg_id)) == 0 &&
                (r = lsn_local_put_pb(t, s->inbox, k, sizeof k, &rec.base, 0)) == 0)
                r = lsn_local_mdb_err(mdb_put(t, s->seen, &key, &val, 0));
            r = lsn_local_commit(t, r);
        }
        /* A full map grows once, then the whole transaction runs again. */
        if (r != LSN_ERR_STORE_FULL || grown || lsn_local_grow_map(s) != 0)
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

/* A record retracted by its sender whose content key is wiped: its
 * envelope stays (nothing opens it), so does its place in the inbox. */
static int
is_wiped(const Liaison__StoredReceived *rec)
{
    return rec->retracted && rec->sealed_key.len == 0 && rec->envelope.len > 0;
}

static void
copy_text(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        n = size - 1;
    /* Cut on a character boundary. */
    while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
        n--;
    memcpy(dst, src, n);
    dst[n] = '\0';
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
        (r = lsn_local_unseal(s, rec->sealed_key.data, rec->sealed_key.len, k, MSG_KEY,
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
    m->retracted = rec->retracted;
    m->retracted_at = rec->retracted_at;
    m->held = rec->held;
    copy_text(m->retract_reason, sizeof m->retract_reason, rec->retract_reason);
    copy_text(m->hold_case, sizeof m->hold_case, rec->hold_case);
    *out = m;
    return 0;
fail:
    lsn_local_msg_free(&m);
    return r;
}

/* The inbox record under k, read in t; *rec is the caller's. */
static int
inbox_get(MDB_txn *t, const struct lsn_local *s, const uint8_t k[MSG_KEY],
          Liaison__StoredReceived **rec)
{
    return lsn_local_get_pb(t, s->inbox, k, MSG_KEY,
                            &liaison__stored_received__descriptor,
                            (ProtobufCMessage **)rec);
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
    lsn_local_msg_key(k, org, msg_id);
    if ((r = lsn_local_begin(s, MDB_RDONLY, &t)) != 0)
        return r;
    r = inbox_get(t, s, k, &rec);
    if (r == 0 && is_pruned(rec)) {
        char hex[33];
        lsn_hex(hex, msg_id, 16);
        lsn_set_detail("message %s of %s was pruned from this store: its "
                       "content key is wiped", hex, org);
        r = LSN_ERR_NOT_FOUND;
    } else if (r == 0 && is_wiped(rec)) {
        char hex[33];
        lsn_hex(hex, msg_id, 16);
        lsn_set_detail("message %s of %s was retracted by %s (%.200s): its content "
                       "key is wiped", hex, org, org, rec->retract_reason);
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

    lsn_local_msg_key(k, org, msg_id);
    if (lsn_local_begin(s, MDB_RDONLY, &t) != 0)
        return 0;
    pruned = inbox_get(t, s, k, &rec) == 0 && is_pruned(rec);
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

    lsn_local_msg_key(k, org, msg_id);
    if ((r = lsn_local_begin(s, 0, &t)) != 0)
        return r;
    r = inbox_get(t, s, k, &rec);
    if (r == 0 && !rec->read) {
        rec->read = 1;
        r = lsn_local_put_pb(t, s->inbox, k, sizeof k, &rec->base, 0);
    }
    lsn_pb_free((ProtobufCMessage *)rec);
    return lsn_local_commit(t, r);
}

int
lsn_local_mark_read(struct lsn_local *s, const char *org,
                    const uint8_t msg_id[16])
{
    int r = mark_read_once(s, org, msg_id);

    if (r == LSN_ERR_STORE_FULL && lsn_local_grow_over(s) == 0) {
        r = mark_read_once(s, org, msg_id);
        lsn_local_map_back(s);
    }
    return r;
}

/* One read-modify-write of the inbox record of (org, msg_id) in a
 * transaction: edit changes *rec (0 to write it back, else the error);
 * its strings retract_reason, hold_case and hold_reason may be pointed
 * at the caller's buffers (the decoded ones are freed as decoded). */
typedef int (*edit_fn)(void *ctx, Liaison__StoredReceived *rec);

static int
edit_received(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
              edit_fn edit, void *ctx)
{
    for (int grown = 0;; grown = 1) {
        Liaison__StoredReceived *rec = NULL;
        uint8_t k[MSG_KEY];
        MDB_txn *t = NULL;
        int r;

        lsn_local_msg_key(k, org, msg_id);
        if ((r = lsn_local_begin(s, 0, &t)) != 0)
            return r;
        if ((r = inbox_get(t, s, k, &rec)) == 0) {
            char *reason = rec->retract_reason, *hcase = rec->hold_case,
                 *hreason = rec->hold_reason;
            if ((r = edit(ctx, rec)) == 0)
                r = lsn_local_put_pb(t, s->inbox, k, sizeof k, &rec->base, 0);
            rec->retract_reason = reason;
            rec->hold_case = hcase;
            rec->hold_reason = hreason;
        }
        lsn_pb_free((ProtobufCMessage *)rec);
        r = lsn_local_commit(t, r);
        /* Rewriting a record needs pages before the old ones are free. */
        if (r != LSN_ERR_STORE_FULL || grown || lsn_local_grow_over(s) != 0)
            return r;
    }
}

struct retract_edit {
    const char *reason;
    int64_t at;
    int kept;
    char reason_buf[LSN_LOCAL_REASON_MAX + 1];
};

static int
retract_one(void *ctx, Liaison__StoredReceived *rec)
{
    struct retract_edit *x = ctx;

    rec->retracted = 1;
    rec->retracted_at = x->at;
    copy_text(x->reason_buf, sizeof x->reason_buf, x->reason);
    rec->retract_reason = x->reason_buf;
    x->kept = rec->held;
    if (!rec->held && rec->sealed_key.len > 0) {
        sodium_memzero(rec->sealed_key.data, rec->sealed_key.len);
        rec->sealed_key.len = 0;
    }
    return 0;
}

int
lsn_local_retract(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
                  const char *reason, int64_t at, int *kept)
{
    struct retract_edit x = { reason, at, 0, "" };
    int r = edit_received(s, org, msg_id, retract_one, &x);

    lsn_local_map_back(s);
    *kept = x.kept;
    return r;
}

struct hold_edit {
    int on;
    char case_ref[LSN_LOCAL_REASON_MAX + 1], reason[LSN_LOCAL_REASON_MAX + 1];
};

static int
hold_one(void *ctx, Liaison__StoredReceived *rec)
{
    struct hold_edit *x = ctx;

    rec->held = x->on;
    rec->hold_case = x->on ? x->case_ref : "";
    rec->hold_reason = x->on ? x->reason : "";
    return 0;
}

int
lsn_local_hold(struct lsn_local *s, const char *org, const uint8_t msg_id[16], int on,
               const char *case_ref, const char *reason)
{
    struct hold_edit x;
    int r;

    x.on = on;
    copy_text(x.case_ref, sizeof x.case_ref, case_ref != NULL ? case_ref : "");
    copy_text(x.reason, sizeof x.reason, reason != NULL ? reason : "");
    r = edit_received(s, org, msg_id, hold_one, &x);
    lsn_local_map_back(s);
    return r;
}

struct each_retracted {
    lsn_local_retracted_fn fn;
    void *ctx;
};

static int
visit_retracted(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct each_retracted *x = ctx;
    Liaison__StoredReceived *rec = NULL;
    char org[ORG_LEN + 1];
    int r;

    if (k->mv_size != MSG_KEY)
        return 0;
    r = LSN_PB_DECODE(stored_received, v->mv_data, v->mv_size, RECORD_MAX * 2, &rec);
    if (r == 0 && is_wiped(rec)) {
        memcpy(org, k->mv_data, ORG_LEN);
        org[ORG_LEN] = '\0';
        r = x->fn(x->ctx, org, (const uint8_t *)k->mv_data + ORG_LEN, rec->received,
                  rec->retracted_at, rec->retract_reason);
    }
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

int
lsn_local_each_retracted(struct lsn_local *s, lsn_local_retracted_fn fn, void *ctx)
{
    struct each_retracted x = { fn, ctx };

    return lsn_local_scan(s, s->inbox, NULL, visit_retracted, &x);
}

int
lsn_local_find_received(struct lsn_local *s, const char *prefix,
                        char org[LSN_ENV_ORG_MAX + 1], uint8_t msg_id[16])
{
    uint8_t k[MSG_KEY];
    size_t kl = 0;
    int r;

    if ((r = lsn_local_find_by_prefix(s, s->inbox, ORG_LEN, prefix, k, &kl)) != 0)
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
    if (r == 0 && !is_pruned(rec) && !is_wiped(rec) &&
        (r = stored_from(x->s, k->mv_data, rec, &m)) == 0)
        r = x->fn(x->ctx, m);
    lsn_local_msg_free(&m);
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

int
lsn_local_each_received(struct lsn_local *s, lsn_local_each_fn fn, void *ctx)
{
    struct each_received x = { s, fn, ctx };

    return lsn_local_scan(s, s->inbox, NULL, visit_received, &x);
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

    if ((r = lsn_local_begin(s, 0, &t)) != 0)
        return r;
    if ((rc = mdb_cursor_open(t, s->seen, &c)) != 0)
        return lsn_local_commit(t, lsn_local_mdb_err(rc));
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size == 8 && (int64_t)lsn_local_get_be64(v.mv_data) < now &&
            (rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return lsn_local_commit(t, rc == MDB_NOTFOUND ? 0 : lsn_local_mdb_err(rc));
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
    struct pruned_item *v = lsn_grow(l->v, &l->cap, l->n, sizeof *v, 64);

    if (v == NULL)
        return LSN_ERR_NOMEM;
    l->v = v;
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
    if ((r = lsn_local_begin(s, dry_run ? MDB_RDONLY : 0, &t)) != 0)
        return r;
    if ((rc = mdb_cursor_open(t, s->inbox, &c)) != 0)
        return lsn_local_commit(t, lsn_local_mdb_err(rc));
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
        /* A legal hold keeps everything, the key included. */
        if (!rec->read || rec->received >= before || is_pruned(rec) || rec->held) {
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
                r = lsn_local_mdb_err(mdb_cursor_put(c, &k, &nv, MDB_CURRENT));
            }
            free(enc);
        }
        if (r == 0)
            r = pruned_add(l, org, id, rec->received, size);
        lsn_pb_free((ProtobufCMessage *)rec);
    }
    mdb_cursor_close(c);
    if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
        r = lsn_local_mdb_err(rc);
    if (dry_run) {
        mdb_txn_abort(t);
        return r;
    }
    return lsn_local_commit(t, r);
}

int
lsn_local_prune_read(struct lsn_local *s, int64_t before, int dry_run,
                     lsn_local_pruned_fn fn, void *ctx, size_t *n, uint64_t *bytes)
{
    struct pruned_list l = { NULL, 0, 0 };
    int r = prune_read_once(s, before, dry_run, &l);

    if (r == LSN_ERR_STORE_FULL && lsn_local_grow_over(s) == 0) {
        r = prune_read_once(s, before, dry_run, &l);
        lsn_local_map_back(s);
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
