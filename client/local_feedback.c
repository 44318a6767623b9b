/* local_feedback.c: feedback in the local store (see local.h): every
 * disposition a recipient org sent about a message this device's org
 * sent or received, kept under that message so that its dispositions are
 * read together, in one scan, oldest key first. */
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
