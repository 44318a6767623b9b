/* local_audit.c: the local store's audit log (see local.h): entries
 * chained by a MAC under the store's audit key, a head tagged so that a
 * log cut short cannot pass as whole, and the check of the chain. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <sodium.h>

#include "client/local.h"
#include "client/local_int.h"
#include "proto/err.h"
#include "proto/pb.h"

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

    if ((r = lsn_local_begin(s, 0, &t)) != 0)
        return r;
    rc = mdb_get(t, s->meta, &hk, &hv);
    if (rc == 0 && hv.mv_size == sizeof head) {
        seq = lsn_local_get_be64(hv.mv_data) + 1;
        memcpy(prev, (uint8_t *)hv.mv_data + 8, 32);
    } else if (rc != MDB_NOTFOUND) {
        return lsn_local_commit(t, LSN_ERR_CORRUPT);
    }
    e.seq = seq;
    e.at = now;
    e.event = (char *)event;
    e.detail = detail;
    e.prev = (ProtobufCBinaryData){ 32, prev };
    if ((r = lsn_pb_encode(&e.base, &enc, &n)) != 0)
        return lsn_local_commit(t, r);
    audit_mac(s, mac, prev, enc, n);
    lsn_local_put_be64(seqk, seq);
    {
        MDB_val k = { 8, seqk }, v = { n, enc };
        r = lsn_local_mdb_err(mdb_put(t, s->audit, &k, &v, MDB_NOOVERWRITE));
    }
    lsn_local_put_be64(head, seq);
    memcpy(head + 8, mac, 32);
    head_tag(s, head + 40, head);
    hv.mv_size = sizeof head;
    hv.mv_data = head;
    if (r == 0)
        r = lsn_local_mdb_err(mdb_put(t, s->meta, &hk, &hv, 0));
    free(enc);
    return lsn_local_commit(t, r);
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
        if (r != LSN_ERR_STORE_FULL || grown || lsn_local_grow_map(s) != 0)
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

    return lsn_local_scan(s, s->audit, NULL, visit_audit, &x);
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
    int ok = k->mv_size == 8 && lsn_local_get_be64(k->mv_data) == want &&
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
    if ((r = lsn_local_begin(s, MDB_RDONLY, &t)) != 0)
        return r;
    r = lsn_local_scan_in(t, s->audit, NULL, visit_link, &ch);
    *n = ch.n;
    *bad = ch.bad;
    if (r == 0) {
        rc = mdb_get(t, s->meta, &hk, &hv);
        if (rc == MDB_NOTFOUND && ch.n == 0) {
            r = 0;
        } else if (rc != 0 || hv.mv_size != HEAD_LEN ||
                   lsn_local_get_be64(hv.mv_data) != ch.n ||
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
