/* local_feedback.c: feedback and links in the local store (see local.h):
 * every disposition a recipient org sent about a message this device's
 * org sent or received, and what ties other messages to one (this
 * device forwarded it, holds a forwarded copy of it, retracted it), each
 * kept under that message so that they are read together, in one scan. */
#include <string.h>

#include <lmdb.h>

#include "client/local.h"
#include "client/local_int.h"
#include "proto/err.h"
#include "proto/pb.h"

#define FB_KEY (MSG_KEY + ORG_LEN + LSN_MSG_ID_LEN)

static void
feedback_key(uint8_t k[FB_KEY], const char *org, const uint8_t msg_id[16],
             const char *from_org, const uint8_t fb_id[16])
{
    lsn_local_msg_key(k, org, msg_id);
    memset(k + MSG_KEY, 0, ORG_LEN);
    memcpy(k + MSG_KEY, from_org, strnlen(from_org, ORG_LEN));
    memcpy(k + MSG_KEY + ORG_LEN, fb_id, LSN_MSG_ID_LEN);
}

int
lsn_local_put_feedback(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
                       const char *from_org, const uint8_t fb_id[16],
                       const Liaison__StoredFeedback *rec)
{
    Liaison__StoredFeedback numbered = *rec;
    uint8_t k[FB_KEY];
    MDB_txn *t = NULL;
    MDB_stat st;
    int r;

    feedback_key(k, org, msg_id, from_org, fb_id);
    for (int grown = 0;; grown = 1) {
        if ((r = lsn_local_begin(s, 0, &t)) != 0)
            return r;
        /* Records are never removed: their count numbers them in the
         * order they were taken. */
        if ((r = lsn_local_mdb_err(mdb_stat(t, s->feedback, &st))) == 0) {
            numbered.seq = (uint64_t)st.ms_entries + 1;
            r = lsn_local_put_pb(t, s->feedback, k, sizeof k, &numbered.base,
                                 MDB_NOOVERWRITE);
        }
        if (r == LSN_ERR_EXISTS)
            r = 0;      /* the same signed feedback, delivered again */
        r = lsn_local_commit(t, r);
        if (r != LSN_ERR_STORE_FULL || grown || lsn_local_grow_map(s) != 0)
            return r;
    }
}

struct each_feedback {
    uint8_t prefix[MSG_KEY];
    lsn_local_feedback_fn fn;
    void *ctx;
};

static int
visit_feedback(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct each_feedback *x = ctx;
    Liaison__StoredFeedback *rec = NULL;
    char from[ORG_LEN + 1];
    int r;

    if (k->mv_size != FB_KEY || memcmp(k->mv_data, x->prefix, MSG_KEY) != 0)
        return SCAN_END;    /* past this message's feedback */
    memcpy(from, (const uint8_t *)k->mv_data + MSG_KEY, ORG_LEN);
    from[ORG_LEN] = '\0';
    if ((r = LSN_PB_DECODE(stored_feedback, v->mv_data, v->mv_size, RECORD_MAX * 2,
                           &rec)) == 0)
        r = x->fn(x->ctx, from, (const uint8_t *)k->mv_data + MSG_KEY + ORG_LEN, rec);
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

int
lsn_local_each_feedback(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
                        lsn_local_feedback_fn fn, void *ctx)
{
    struct each_feedback x;
    MDB_val from = { MSG_KEY, x.prefix };

    lsn_local_msg_key(x.prefix, org, msg_id);
    x.fn = fn;
    x.ctx = ctx;
    return lsn_local_scan(s, s->feedback, &from, visit_feedback, &x);
}

/* ------------------------------------------------------------ links */

#define LINK_KEY (MSG_KEY + 1 + ORG_LEN + LSN_MSG_ID_LEN)

static void
link_key(uint8_t k[LINK_KEY], const char *org, const uint8_t msg_id[16], int kind,
         const char *link_org, const uint8_t link_id[16])
{
    lsn_local_msg_key(k, org, msg_id);
    k[MSG_KEY] = (uint8_t)kind;
    memset(k + MSG_KEY + 1, 0, ORG_LEN);
    memcpy(k + MSG_KEY + 1, link_org, strnlen(link_org, ORG_LEN));
    memcpy(k + MSG_KEY + 1 + ORG_LEN, link_id, LSN_MSG_ID_LEN);
}

int
lsn_local_put_link(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
                   int kind, const char *link_org, const uint8_t link_id[16],
                   const Liaison__StoredLink *rec)
{
    uint8_t k[LINK_KEY];
    MDB_txn *t = NULL;
    int r;

    link_key(k, org, msg_id, kind, link_org, link_id);
    for (int grown = 0;; grown = 1) {
        if ((r = lsn_local_begin(s, 0, &t)) != 0)
            return r;
        r = lsn_local_put_pb(t, s->links, k, sizeof k, &rec->base, 0);
        r = lsn_local_commit(t, r);
        if (r != LSN_ERR_STORE_FULL || grown || lsn_local_grow_map(s) != 0)
            return r;
    }
}

struct each_link {
    uint8_t prefix[MSG_KEY + 1];
    lsn_local_link_fn fn;
    void *ctx;
};

static int
visit_link(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct each_link *x = ctx;
    Liaison__StoredLink *rec = NULL;
    char org[ORG_LEN + 1];
    int r;

    if (k->mv_size != LINK_KEY || memcmp(k->mv_data, x->prefix, sizeof x->prefix) != 0)
        return SCAN_END;
    memcpy(org, (const uint8_t *)k->mv_data + MSG_KEY + 1, ORG_LEN);
    org[ORG_LEN] = '\0';
    if ((r = LSN_PB_DECODE(stored_link, v->mv_data, v->mv_size, RECORD_MAX * 2,
                           &rec)) == 0)
        r = x->fn(x->ctx, org, (const uint8_t *)k->mv_data + MSG_KEY + 1 + ORG_LEN, rec);
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

int
lsn_local_each_link(struct lsn_local *s, const char *org, const uint8_t msg_id[16],
                    int kind, lsn_local_link_fn fn, void *ctx)
{
    struct each_link x;
    MDB_val from = { sizeof x.prefix, x.prefix };

    lsn_local_msg_key(x.prefix, org, msg_id);
    x.prefix[MSG_KEY] = (uint8_t)kind;
    x.fn = fn;
    x.ctx = ctx;
    return lsn_local_scan(s, s->links, &from, visit_link, &x);
}

struct each_kind {
    int kind;
    lsn_local_kind_fn fn;
    void *ctx;
};

static int
visit_kind(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct each_kind *x = ctx;
    const uint8_t *p = k->mv_data;
    char org[ORG_LEN + 1], link_org[ORG_LEN + 1];

    (void)v;
    if (k->mv_size != LINK_KEY || p[MSG_KEY] != (uint8_t)x->kind)
        return 0;
    memcpy(org, p, ORG_LEN);
    org[ORG_LEN] = '\0';
    memcpy(link_org, p + MSG_KEY + 1, ORG_LEN);
    link_org[ORG_LEN] = '\0';
    return x->fn(x->ctx, org, p + ORG_LEN, link_org, p + MSG_KEY + 1 + ORG_LEN);
}

int
lsn_local_each_link_of_kind(struct lsn_local *s, int kind, lsn_local_kind_fn fn,
                            void *ctx)
{
    struct each_kind x = { kind, fn, ctx };

    return lsn_local_scan(s, s->links, NULL, visit_kind, &x);
}
