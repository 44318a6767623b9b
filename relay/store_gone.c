/* store_gone.c: the device keys that left their org's bundle (tables gone
 * and goneq, store_int.h).  The relay remembers them so that the holder
 * of such a key, refused as unknown, hears that its device was removed
 * and from which bundle, not that it was never published.  The tables
 * hold at most LSN_STORE_GONE_MAX keys: past that the oldest removal is
 * forgotten first (its key then hears the never-published sentence), so
 * an org that churns keys cannot grow the store without bound.  Adding
 * the two tables needs no new store format: a store opened by a relay
 * without them simply creates them, and an older relay ignores them. */
#include <string.h>

#include "proto/err.h"
#include "relay/record.h"
#include "relay/store_int.h"

/* Forgets the record of key (and its goneq entry) if there is one. */
static int
gone_forget(MDB_txn *t, struct lsn_store *s, const uint8_t key[32])
{
    struct lsn_rec_gone g;
    uint8_t q[8];
    MDB_val v;
    int r;

    if ((r = lsn_st_get(t, s->gone, key, 32, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if (lsn_rec_gone_decode(v.mv_data, v.mv_size, &g) == 0) {
        lsn_st_put_be64(q, g.seq);
        if ((r = lsn_st_del(s, t, s->goneq, q, 8)) != 0 && r != LSN_ERR_NOT_FOUND)
            return r;
    }
    r = lsn_st_del(s, t, s->gone, key, 32);
    return r == LSN_ERR_NOT_FOUND ? 0 : r;
}

/* The next seq (one past the last goneq key, 1 in an empty table) and
 * the number of records held. */
static int
gone_next(MDB_txn *t, struct lsn_store *s, uint64_t *next, size_t *n)
{
    MDB_cursor *c;
    MDB_val k, v;
    MDB_stat st;
    int rc;

    *next = 1;
    *n = 0;
    if (mdb_stat(t, s->goneq, &st) != 0 || mdb_cursor_open(t, s->goneq, &c) != 0)
        return LSN_ERR_IO;
    *n = st.ms_entries;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        *next = lsn_st_get_be64(k.mv_data) + 1;
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : LSN_ERR_IO;
}

/* Forgets the oldest record. */
static int
gone_drop_oldest(MDB_txn *t, struct lsn_store *s)
{
    MDB_cursor *c;
    MDB_val k, v;
    uint8_t q[8], key[32];
    int rc, r = 0;

    if (mdb_cursor_open(t, s->goneq, &c) != 0)
        return LSN_ERR_IO;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    if (rc == 0 && k.mv_size == 8 && v.mv_size == 32) {
        memcpy(q, k.mv_data, 8);
        memcpy(key, v.mv_data, 32);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0 || k.mv_size != 8)
        return LSN_ERR_IO;
    /* A goneq entry that does not lead to its record is dropped alone. */
    if (v.mv_size == 32)
        r = gone_forget(t, s, key);
    if (r == 0 && (r = lsn_st_del(s, t, s->goneq, q, 8)) == LSN_ERR_NOT_FOUND)
        r = 0;
    return r;
}

int
lsn_store_gone_put(struct lsn_store *s, const uint8_t key[32], const char *org,
                   uint64_t version, int64_t issued)
{
    struct lsn_rec_gone g;
    uint8_t val[LSN_REC_GONE_MAX], q[8];
    size_t n = 0, vl;
    MDB_txn *t;
    int r;

    memset(&g, 0, sizeof g);
    if (strlen(org) == 0 || strlen(org) > LSN_ENV_ORG_MAX)
        return LSN_ERR_INVALID;
    memcpy(g.org, org, strlen(org));
    g.version = version;
    g.issued = issued;
    if ((r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    if ((r = gone_forget(t, s, key)) != 0 || (r = gone_next(t, s, &g.seq, &n)) != 0)
        goto out;
    for (; n >= (s->gone_max ? s->gone_max : LSN_STORE_GONE_MAX) && r == 0; n--)
        r = gone_drop_oldest(t, s);
    if (r != 0)
        goto out;
    if ((vl = lsn_rec_gone_encode(val, &g)) == 0) {
        r = LSN_ERR_INVALID;
        goto out;
    }
    lsn_st_put_be64(q, g.seq);
    if ((r = lsn_st_put(s, t, s->gone, key, 32, val, vl)) == 0)
        r = lsn_st_put(s, t, s->goneq, q, 8, key, 32);
out:
    return lsn_st_op_end(s, t, r);
}

int
lsn_store_gone_del(struct lsn_store *s, const uint8_t key[32])
{
    MDB_txn *t;
    MDB_val v;
    int r;

    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    /* Most keys a bundle adds were never removed: a read decides. */
    if ((r = lsn_st_get(s->batch, s->gone, key, 32, &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    if ((r = lsn_st_op_begin(s, &t)) != 0)
        return r;
    return lsn_st_op_end(s, t, gone_forget(t, s, key));
}

int
lsn_store_gone_get(struct lsn_store *s, const uint8_t key[32], struct lsn_store_gone *out)
{
    struct lsn_rec_gone g;
    MDB_val v;
    int r;

    memset(out, 0, sizeof *out);
    if (s->batch == NULL)
        return LSN_ERR_INTERNAL;
    if ((r = lsn_st_get(s->batch, s->gone, key, 32, &v)) != 0)
        return r;
    if ((r = lsn_rec_gone_decode(v.mv_data, v.mv_size, &g)) != 0)
        return r;
    memcpy(out->org, g.org, sizeof out->org);
    out->version = g.version;
    out->issued = g.issued;
    return 0;
}

void
lsn_store_set_gone_max(struct lsn_store *s, size_t max)
{
    s->gone_max = max;
}
