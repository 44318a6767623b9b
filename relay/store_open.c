/* store_open.c: opening and closing the relay store (store.h): the lock
 * that keeps it to one relay, its tables, the format check and the
 * takeover of an older format in place, and what is rebuilt in memory
 * when it opens (the message index, the next envelope number). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "proto/err.h"
#include "relay/msgidx.h"
#include "relay/record.h"
#include "relay/store.h"
#include "relay/store_int.h"

/* The formats taken over in place (format_check). */
#define STORE_FORMAT_5 "5"
#define STORE_FORMAT_4 "4"

/* ---------------------------------------------------------- rebuilt at open */

/* Moves s->env_next past the last key of table d (an 8-byte number):
 * 0, LSN_ERR_CORRUPT (a key of another size) or LSN_ERR_IO. */
static int
env_next_past(MDB_txn *t, struct lsn_store *s, MDB_dbi d)
{
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t last = 0;
    int rc;

    if (mdb_cursor_open(t, d, &c) != 0)
        return LSN_ERR_IO;
    if ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0 && k.mv_size == 8)
        last = lsn_st_get_be64(k.mv_data);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return LSN_ERR_IO;
    if (k.mv_size != 8)
        return LSN_ERR_CORRUPT;
    if (last >= s->env_next)
        s->env_next = last + 1;
    return 0;
}

/* The next envelope number: the one recorded, and in any case above the
 * highest number held (1 for none). */
static int
env_next_read(MDB_txn *t, struct lsn_store *s)
{
    MDB_val v;
    int r;

    s->env_next = 1;
    if (lsn_st_get(t, s->info, "env_next", 8, &v) == 0 &&
        lsn_rec_count_decode(v.mv_data, v.mv_size, &s->env_next) != 0)
        s->env_next = 1;
    /* Records outlive their envelopes: their numbers are taken too (a
     * damaged record key is met, and handled, where it is used). */
    if ((r = env_next_past(t, s, s->envs)) != 0 ||
        (r = env_next_past(t, s, s->meta)) == LSN_ERR_IO)
        return r;
    if (s->env_next == 0)
        return LSN_ERR_CORRUPT;
    s->env_saved = s->env_next;
    return 0;
}

/* Fills the index from the records (the store just opened). */
static int
index_build(MDB_txn *t, struct lsn_store *s)
{
    struct lsn_rec_msg h;
    MDB_cursor *c;
    MDB_val k, v;
    int rc, r = 0;

    if (mdb_cursor_open(t, s->meta, &c) != 0)
        return LSN_ERR_IO;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && r == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        /* A damaged record is left to expiry (meta_drop_damaged). */
        if (k.mv_size != 8 || lsn_rec_msg_head(v.mv_data, v.mv_size, &h) != 0)
            continue;
        r = lsn_msgidx_add(s->idx, lsn_msgidx_hash(s->idx, h.mk, h.mkl),
                           lsn_st_get_be64(k.mv_data));
    }
    mdb_cursor_close(c);
    lsn_msgidx_keep(s->idx);
    if (r != 0)
        return r;
    return rc == MDB_NOTFOUND ? 0 : LSN_ERR_IO;
}

/* ---------------------------------------------------------- older formats */

/* Counts what each sender org holds of each recipient org's quota from
 * the live records, as submit_write and release keep it: one message (of
 * its size) per recipient org with an entry still pending.  A format 4
 * store kept no such counts; started from zero, every release of a
 * message stored before would take from messages stored after. */
struct pair_ctx {
    MDB_txn *t;
    struct lsn_store *s;
    char sender[LSN_ENV_ORG_MAX + 1], cur[LSN_ENV_ORG_MAX + 1];
    int pending;
    uint32_t size;
};

static int
pair_org_end(struct pair_ctx *c)
{
    int r = 0;

    if (c->pending)
        r = lsn_st_pair_add(c->t, c->s, c->sender, c->cur, 1, (int64_t)c->size);
    c->pending = 0;
    return r;
}

static int
pair_cb(void *vctx, const char *org, const char *name, struct lsn_rec_entry *e)
{
    struct pair_ctx *c = vctx;
    int r;

    if (name == NULL) {
        if ((r = pair_org_end(c)) != 0)
            return r;
        lsn_st_join(c->cur, sizeof c->cur, "", org);
        return 0;
    }
    c->pending |= e->state == LSN_REC_PENDING;
    return 0;
}

static int
pair_rebuild(MDB_txn *t, struct lsn_store *s)
{
    struct pair_ctx *c = calloc(1, sizeof *c);
    uint8_t id[LSN_MSG_ID_LEN];
    struct lsn_rec_msg h;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc, r = 0;

    if (c == NULL)
        return LSN_ERR_NOMEM;
    c->t = t;
    c->s = s;
    if (mdb_cursor_open(t, s->meta, &cur) != 0) {
        free(c);
        return LSN_ERR_IO;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && r == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        /* A damaged record is left to expiry, as index_build leaves it. */
        if (lsn_rec_msg_head(v.mv_data, v.mv_size, &h) != 0 || h.state != LSN_REC_LIVE ||
            lsn_rec_mk_split(h.mk, h.mkl, c->sender, id) != 0)
            continue;
        c->size = h.size;
        c->cur[0] = '\0';
        c->pending = 0;
        /* A record the walk cannot read is skipped like a damaged one. */
        if (lsn_rec_msg_walk(v.mv_data, v.mv_size, pair_cb, c) == 0)
            r = pair_org_end(c);
        else
            c->pending = 0;
    }
    mdb_cursor_close(cur);
    free(c);
    if (r != 0)
        return r;
    return rc == MDB_NOTFOUND ? 0 : LSN_ERR_IO;
}

/* 1 on a machine that stores numbers big-endian. */
static int
host_big_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;

    memcpy(&first, &one, 1);
    return first == 0;
}

/* Rewrites in place every value of table d that fix turns into its
 * format 6 bytes; a value fix cannot read is left as found (damage is
 * met, and handled, where the value is used). */
static int
fix_table(MDB_txn *t, MDB_dbi d, int (*fix)(uint8_t *v, size_t len))
{
    MDB_cursor *c = NULL;
    MDB_val k, v, nv;
    uint8_t *b;
    int rc, r = 0;

    if (mdb_cursor_open(t, d, &c) != 0)
        return LSN_ERR_IO;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && r == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if ((b = malloc(v.mv_size + 1)) == NULL) {
            r = LSN_ERR_NOMEM;
            break;
        }
        memcpy(b, v.mv_data, v.mv_size);
        nv = (MDB_val){ v.mv_size, b };
        if (fix(b, v.mv_size) == 0 && mdb_cursor_put(c, &k, &nv, MDB_CURRENT) != 0)
            r = LSN_ERR_IO;
        free(b);
    }
    mdb_cursor_close(c);
    if (r != 0)
        return r;
    return rc == MDB_NOTFOUND ? 0 : LSN_ERR_IO;
}

/* Rewrites info counter name, which formats 4 and 5 kept big-endian, in
 * its format 6 bytes; one of another size was ignored and still is. */
static int
count_from_be(MDB_txn *t, struct lsn_store *s, const char *name)
{
    uint8_t b[LSN_REC_COUNT_LEN];
    struct lsn_rec_cur c;
    uint64_t n;
    MDB_val v;
    int r;

    if ((r = lsn_st_get(t, s->info, name, strlen(name), &v)) != 0)
        return r == LSN_ERR_NOT_FOUND ? 0 : r;
    lsn_rec_reader(&c, v.mv_data, v.mv_size);
    if (v.mv_size != sizeof b || lsn_rec_get_be64(&c, &n) != 0)
        return 0;
    lsn_rec_count_encode(b, n);
    return lsn_st_put(s, t, s->info, name, strlen(name), b, sizeof b);
}

/* Takes a format 4 or 5 store over as format 6, in the open transaction.
 * Formats 4 and 5 wrote the numbers of message, device and quota records
 * in the host's byte order, and the info counters big-endian; format 6
 * writes every one little-endian (relay/record.h).  So on a little-endian
 * machine only the two counters change; on a big-endian one every such
 * record is rewritten too.  Format 4 records are format 5 records that
 * hold no refused entry, and format 4 kept no sender shares: they are
 * counted from the live records.  A relay that reads only format 4 or 5
 * refuses the store once it is marked 6, rather than misread it. */
static int
take_over(MDB_txn *t, struct lsn_store *s, int from4)
{
    int r;

    if (host_big_endian() &&
        ((r = fix_table(t, s->meta, lsn_rec_msg_from_be)) != 0 ||
         (r = fix_table(t, s->dev, lsn_rec_dev_from_be)) != 0 ||
         (r = fix_table(t, s->quota, lsn_rec_quota_from_be)) != 0))
        return r;
    if ((r = count_from_be(t, s, "env_next")) != 0 ||
        (r = count_from_be(t, s, "quarantined")) != 0)
        return r;
    if (from4 && (r = pair_rebuild(t, s)) != 0)
        return r;
    return lsn_st_put(s, t, s->info, "format", 6, STORE_FORMAT, strlen(STORE_FORMAT));
}

/* 1 if format value v is fmt. */
static int
format_is(const MDB_val *v, const char *fmt)
{
    return v->mv_size == strlen(fmt) && memcmp(v->mv_data, fmt, v->mv_size) == 0;
}

/* A new store gets the current format; format 4 and 5 stores are taken
 * over in place (take_over); one written before envelope checksums (no
 * format record, envelopes held) is refused rather than every envelope
 * in it quarantined, and any other format is refused. */
static int
format_check(MDB_txn *t, struct lsn_store *s, const char *dir)
{
    MDB_stat st;
    MDB_val v;
    int r;

    if ((r = lsn_st_get(t, s->info, "format", 6, &v)) == 0) {
        if (format_is(&v, STORE_FORMAT))
            return 0;
        if (format_is(&v, STORE_FORMAT_5) || format_is(&v, STORE_FORMAT_4)) {
            int from4 = format_is(&v, STORE_FORMAT_4);
            if ((r = take_over(t, s, from4)) != 0) {
                snprintf(s->why, sizeof s->why, "store %s (format %s): cannot take "
                         "it over as format %s: %s", dir,
                         from4 ? STORE_FORMAT_4 : STORE_FORMAT_5, STORE_FORMAT,
                         lsn_strerror(r));
                return r;
            }
            return 0;
        }
        snprintf(s->why, sizeof s->why, "store %s has format %.*s; this relay reads "
                 "format %s: deliver its queues with the relay that wrote it, then "
                 "start from an empty folder", dir, (int)(v.mv_size < 16 ? v.mv_size : 16),
                 (const char *)v.mv_data, STORE_FORMAT);
        return LSN_ERR_CORRUPT;
    }
    if (r != LSN_ERR_NOT_FOUND || mdb_stat(t, s->envs, &st) != 0)
        return lsn_st_fail(s, MDB_CORRUPTED, "store format");
    if (st.ms_entries > 0) {
        snprintf(s->why, sizeof s->why, "store %s predates envelope checksums "
                 "(format 1): deliver its queues with the relay that wrote it, "
                 "then start from an empty folder", dir);
        return LSN_ERR_CORRUPT;
    }
    return lsn_st_put(s, t, s->info, "format", 6, STORE_FORMAT, strlen(STORE_FORMAT));
}

/* ---------------------------------------------------------- open and close */

/* Why the last lsn_store_open failed. */
static char open_why[sizeof ((struct lsn_store *)0)->why];

/* One relay per store: the message index lives in the relay's memory, so
 * a second process writing the same LMDB files would leave it stale (and
 * answer duplicates as new).  An flock on DIR/relay.lock, dropped by the
 * kernel when the process ends however it ends. */
static int
store_lock(struct lsn_store *s, const char *dir)
{
    char path[4096];

    if ((size_t)snprintf(path, sizeof path, "%s/relay.lock", dir) >= sizeof path) {
        snprintf(s->why, sizeof s->why, "data folder path too long");
        return LSN_ERR_INVALID;
    }
    if ((s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        snprintf(s->why, sizeof s->why, "cannot open %.160s: %s", path, strerror(errno));
        return LSN_ERR_IO;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            snprintf(s->why, sizeof s->why, "%s is in use by another relay "
                     "(one relay per data folder)", dir);
        else
            snprintf(s->why, sizeof s->why, "cannot lock %.160s: %s", path, strerror(errno));
        return LSN_ERR_IO;
    }
    return 0;
}

int
lsn_store_open(const char *dir, size_t map_size, struct lsn_store **out)
{
    struct lsn_store *s;
    MDB_txn *t = NULL;
    int rc, r = LSN_ERR_IO;

    *out = NULL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return LSN_ERR_NOMEM;
    s->lim = (struct lsn_store_limits){ UINT64_MAX, UINT64_MAX, UINT64_MAX,
                                        UINT64_MAX, UINT64_MAX };
    s->psize = 4096;        /* until a batch reads the real ones */
    s->depth = 8;
    s->lock_fd = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(s->why, sizeof s->why, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    if (store_lock(s, dir) != 0)
        goto out;
    if ((rc = mdb_env_create(&s->env)) != 0 ||
        (rc = mdb_env_set_maxdbs(s->env, 16)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, map_size)) != 0 ||
        (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) != 0 ||
        (rc = mdb_txn_begin(s->env, NULL, 0, &t)) != 0 ||
        (rc = mdb_dbi_open(t, "meta", MDB_CREATE, &s->meta)) != 0 ||
        (rc = mdb_dbi_open(t, "env", MDB_CREATE, &s->envs)) != 0 ||
        (rc = mdb_dbi_open(t, "queue", MDB_CREATE, &s->queue)) != 0 ||
        (rc = mdb_dbi_open(t, "qidx", MDB_CREATE, &s->qidx)) != 0 ||
        (rc = mdb_dbi_open(t, "dev", MDB_CREATE, &s->dev)) != 0 ||
        (rc = mdb_dbi_open(t, "gap", MDB_CREATE, &s->gap)) != 0 ||
        (rc = mdb_dbi_open(t, "quota", MDB_CREATE, &s->quota)) != 0 ||
        (rc = mdb_dbi_open(t, "exp", MDB_CREATE, &s->exp)) != 0 ||
        (rc = mdb_dbi_open(t, "dir", MDB_CREATE, &s->dir)) != 0 ||
        (rc = mdb_dbi_open(t, "quar", MDB_CREATE, &s->quar)) != 0 ||
        (rc = mdb_dbi_open(t, "info", MDB_CREATE, &s->info)) != 0 ||
        (rc = mdb_dbi_open(t, "gone", MDB_CREATE, &s->gone)) != 0 ||
        (rc = mdb_dbi_open(t, "goneq", MDB_CREATE, &s->goneq)) != 0) {
        snprintf(s->why, sizeof s->why, "LMDB store %s: %s", dir, mdb_strerror(rc));
        goto out;
    }
    if (format_check(t, s, dir) != 0)
        goto out;
    if (lsn_msgidx_new(&s->idx) != 0 || index_build(t, s) != 0) {
        snprintf(s->why, sizeof s->why, "LMDB store %s: cannot index its messages "
                 "(out of memory, or the message table is damaged)", dir);
        goto out;
    }
    if (env_next_read(t, s) != 0) {
        snprintf(s->why, sizeof s->why, "LMDB store %s: envelope table damaged", dir);
        goto out;
    }
    rc = mdb_txn_commit(t);
    t = NULL;
    if (rc != 0) {
        snprintf(s->why, sizeof s->why, "LMDB store %s: %s", dir, mdb_strerror(rc));
        goto out;
    }
    *out = s;
    s = NULL;
    r = 0;
out:
    if (t != NULL)
        mdb_txn_abort(t);
    if (s != NULL) {
        /* The caller still wants the reason (lsn_store_why(NULL)). */
        snprintf(open_why, sizeof open_why, "%s", s->why);
        lsn_store_close(&s);
    }
    return r;
}

void
lsn_store_close(struct lsn_store **sp)
{
    struct lsn_store *s = *sp;

    if (s == NULL)
        return;
    lsn_store_batch_abort(s);
    lsn_msgidx_free(&s->idx);
    if (s->env != NULL)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd);          /* after LMDB: the lock guards its files */
    free(s);
    *sp = NULL;
}

const char *
lsn_store_why(const struct lsn_store *s)
{
    return s != NULL ? s->why : open_why;
}

void
lsn_store_set_limits(struct lsn_store *s, const struct lsn_store_limits *l)
{
    s->lim = *l;
}

void
lsn_store_set_share(struct lsn_store *s, unsigned pct)
{
    s->share = pct;
}

void
lsn_store_set_log(struct lsn_store *s, lsn_store_log_fn log)
{
    s->log = log;
}
