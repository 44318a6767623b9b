/* store_int.h: the relay store's handle and the helpers its files share
 * (store.c, store_open.c, store_records.c, store_submit.c,
 * store_queue.c, store_expire.c, store_gone.c).  Not for use outside
 * them: the rest of the relay sees store.h only.
 *
 * The files call one way: store_queue.c (fetch quarantines) -> store_expire.c
 * -> store_records.c -> store.c; store_submit.c -> store_queue.c (trim);
 * store_open.c -> store_records.c; store_gone.c -> store.c.  store.c,
 * store_records.c and store_gone.c build and read values only through
 * relay/record.h.
 *
 * Tables (LMDB named databases), with dk = len8 "org/device" and
 * mk = len8 org || msg_id (org "" names a relay notice); keys are
 * big-endian so that LMDB's byte order is their numeric order, values
 * are the formats of relay/record.h:
 *   meta   num64be -> message record: state, times, size, pending
 *                references, the envelope's number, its mk and per
 *                recipient org the state of each device queue; found by
 *                mk through the in-memory index (relay/msgidx.h), rebuilt
 *                from these records when the store opens
 *   env    num64be -> checksum64 seeded with the mk || the envelope
 *                bytes, exactly as submitted (checked on every read: a
 *                mismatch, or the envelope of another message, moves the
 *                value to quar and drops the message, never serves it)
 *   queue  dk || seq64be -> queue item: kind || mk || (num64be | notice)
 *   qidx   dk || mk -> seq64be   (a notice's queue entry, to ack it by id;
 *                a message's entries are in its record)
 *   dev    dk -> device record: next seq, items queued, trimmed count, refs
 *   gap    dk || idx32be -> mk   (the first trimmed refs, for the gap report)
 *   quota  's'|'r' || org, 'p' || sender '/' recipient -> messages, bytes
 *   exp    expires64be || num64be -> mk
 *   dir    name -> a signed directory object
 *   quar   mk -> an env value that failed its check, as it was found
 *   gone   curve key (32 bytes) -> removed-key record: a device key that
 *          left its org's bundle, to tell its holder so (store_gone.c)
 *   goneq  seq64be -> curve key: the gone records in the order they were
 *          made, the oldest forgotten first past LSN_STORE_GONE_MAX
 *   info   "format" -> STORE_FORMAT; "quarantined" -> count;
 *          "env_next" -> count: the next envelope number
 * A message record outlives its envelope as a tombstone (state DONE) until
 * its expiry, so a repeated submit is answered, not stored again.
 *
 * Envelopes are numbered in arrival order and appended (MDB_APPEND): keyed
 * by the random msg_id, each one would land on a random leaf page, and a
 * batch would copy and rewrite a 4 KiB page per 1 KiB envelope and split
 * pages holding three envelopes each.  Numbers are never reused: a message's
 * record and its expiry key keep its number after its envelope is gone,
 * so every batch that takes numbers records the next one (info
 * "env_next") with its commit, and a restart continues from there. */
#ifndef LSN_RELAY_STORE_INT_H
#define LSN_RELAY_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "relay/msgidx.h"
#include "relay/record.h"
#include "relay/store.h"

#define STORE_FORMAT "6"        /* 2: env values carry their checksum;
                                   3: envelopes numbered and appended;
                                   4: records keyed by number, hold mk;
                                   5: a device entry may be refused;
                                   6: every value little-endian */

#define MK_MAX  LSN_REC_MK_MAX
#define DK_MAX  (1 + LSN_DEV_ID_MAX)
#define LSN_GAP_REFS 64

/* Hot records: the quota and device records that every submit and ack
 * reads and rewrites, held for the batch in a small table and written
 * once, at its commit.  Only the batch's own transaction uses the table:
 * it is written out and emptied before a nested operation begins (which
 * then reads LMDB), and emptied when the batch ends.  A full table writes
 * through. */
#define HOT_SLOTS   256             /* a power of two */
#define HOT_KEY_MAX (1 + LSN_DEV_ID_MAX)
#define HOT_VAL_MAX 32

struct hot {
    uint8_t used, dirty, found;     /* found: the record exists (val is it) */
    uint8_t kl, vl;
    MDB_dbi dbi;
    uint8_t key[HOT_KEY_MAX];
    uint8_t val[HOT_VAL_MAX];
};

struct lsn_store {
    MDB_env *env;
    int lock_fd;            /* DIR/relay.lock, held for the store's life */
    MDB_dbi meta, envs, queue, qidx, dev, gap, quota, exp, dir, quar, info;
    MDB_dbi gone, goneq;    /* store_gone.c */
    size_t gone_max;        /* store_gone.c: LSN_STORE_GONE_MAX unless set */
    MDB_txn *batch;
    struct lsn_msgidx *idx; /* mk -> record number (msgidx.h) */
    size_t op_mark;         /* the index's log when the operation began */
    uint64_t env_next;      /* the next envelope's number */
    uint64_t env_saved;     /* env_next as the store last recorded it */
    struct hot hot[HOT_SLOTS];
    uint16_t hot_used[HOT_SLOTS];   /* the slots in use, to empty them */
    size_t n_hot;
    /* Direct writes (see lsn_st_direct_ok): the map's pages, the pages in
     * use and the deepest tree when the batch began, the batch's page
     * account, and whether a direct write failed halfway (the batch must
     * not commit). */
    size_t map_pages, base_pages, depth, psize, charge;
    int poisoned;
    struct lsn_store_limits lim;
    unsigned share;         /* lsn_store_set_share */
    int failed;             /* a commit failed: LMDB's state is in doubt */
    lsn_store_log_fn log;   /* NULL: silent */
    char why[256];
};

/* A quota record's key: side || org, or for a (sender, recipient) pair
 * 'p' || sender || '/' || recipient (org ids never hold '/'). */
#define QUOTA_KEY_MAX (2 + 2 * LSN_ENV_ORG_MAX)

_Static_assert(HOT_KEY_MAX <= 255 && LSN_REC_DEV_LEN <= HOT_VAL_MAX &&
               LSN_REC_QUOTA_LEN <= HOT_VAL_MAX, "hot records fit their slots");
_Static_assert(QUOTA_KEY_MAX <= HOT_KEY_MAX, "pair keys fit the hot table");

/* ---------------------------------------------------------- store.c:
 * keys, LMDB calls, the hot table, nested and direct operations */

/* Big-endian numbers in keys (and in values that copy a key). */
void lsn_st_put_be64(uint8_t *p, uint64_t v);
uint64_t lsn_st_get_be64(const uint8_t *p);

/* dk of queue dev (cut at LSN_DEV_ID_MAX); its length. */
size_t lsn_st_dk(uint8_t *k, const char *dev);

/* dst = a || b, cut to size - 1 bytes as snprintf would; dev_join:
 * dst = org/name, cut alike.  The length written. */
size_t lsn_st_join(char *dst, size_t size, const char *a, const char *b);
size_t lsn_st_dev_join(char *dst, size_t size, const char *org, const char *name);

/* Splits "org/device": LSN_ERR_INVALID without a slash or a long org. */
int lsn_st_split_dev(const char *dev, char org[LSN_ENV_ORG_MAX + 1],
                     const char **name);

/* Records LMDB's reason rc in s->why: LSN_ERR_QUOTA for a full map,
 * else LSN_ERR_IO. */
int lsn_st_fail(struct lsn_store *s, int rc, const char *what);

/* mdb_get, mdb_put, mdb_del: 0, LSN_ERR_NOT_FOUND (get), LSN_ERR_IO;
 * put and del count in the page account (lsn_st_charge). */
int lsn_st_get(MDB_txn *t, MDB_dbi d, const void *k, size_t kl, MDB_val *v);
int lsn_st_put(struct lsn_store *s, MDB_txn *t, MDB_dbi d, const void *k, size_t kl,
               const void *v, size_t vl);
int lsn_st_del(struct lsn_store *s, MDB_txn *t, MDB_dbi d, const void *k, size_t kl);

/* Counts a write of n bytes into the batch's page account. */
void lsn_st_charge(struct lsn_store *s, size_t n);

/* get, put and del of a hot record (the table when t is the batch). */
int lsn_st_hot_get(MDB_txn *t, struct lsn_store *s, MDB_dbi dbi, const uint8_t *k,
                   size_t kl, MDB_val *v);
int lsn_st_hot_put(struct lsn_store *s, MDB_txn *t, MDB_dbi dbi, const uint8_t *k,
                   size_t kl, const void *v, size_t vl);
int lsn_st_hot_del(struct lsn_store *s, MDB_txn *t, MDB_dbi dbi, const uint8_t *k,
                   size_t kl);

/* 1 if an operation that may dirty `bound` more pages can write straight
 * into the batch; direct_end ends it (a failure after a write poisons the
 * batch).  See store.c "Direct writes". */
int lsn_st_direct_ok(const struct lsn_store *s, size_t bound);
int lsn_st_direct_end(struct lsn_store *s, size_t before, int r);

/* A nested transaction for one operation; op_end commits it (r == 0) or
 * aborts it, and returns r or the commit's failure. */
int lsn_st_op_begin(struct lsn_store *s, MDB_txn **t);
int lsn_st_op_end(struct lsn_store *s, MDB_txn *t, int r);

/* ---------------------------------------------------------- store_records.c:
 * one record at a time: device and quota records, envelopes, message
 * records, queue entries */

/* dev's device record (zero if it has none); LSN_ERR_CORRUPT. */
int lsn_st_dev_load(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                    struct lsn_rec_dev *d);
int lsn_st_dev_save(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                    const struct lsn_rec_dev *d);

/* Quota counters: side 's' (stored by org), 'r' (waiting for org), 'p'
 * (what sender holds of recipient to's: pair_add moves with 'r'). */
size_t lsn_st_quota_key(uint8_t k[QUOTA_KEY_MAX], char side, const char *org,
                        const char *to);
int lsn_st_quota_add(MDB_txn *t, struct lsn_store *s, char side, const char *org,
                     int64_t msgs, int64_t bytes);
int lsn_st_pair_add(MDB_txn *t, struct lsn_store *s, const char *sender,
                    const char *to, int64_t msgs, int64_t bytes);
void lsn_st_quota_get_key(MDB_txn *t, struct lsn_store *s, const uint8_t *k,
                          size_t kl, struct lsn_rec_quota *q);
void lsn_st_quota_get(MDB_txn *t, struct lsn_store *s, char side, const char *org,
                      struct lsn_rec_quota *q);

/* Envelope num of message mk: append (above every number held), read
 * (*env, *len point into the value; LSN_ERR_CORRUPT on a checksum
 * mismatch), delete, and delete only if it is mk's (drop). */
int lsn_st_env_put(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
                   size_t mkl, const uint8_t *env, size_t len);
int lsn_st_env_get(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
                   size_t mkl, MDB_val *v, const uint8_t **env, size_t *len);
int lsn_st_env_del(MDB_txn *t, struct lsn_store *s, uint64_t num);
int lsn_st_env_drop(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
                    size_t mkl);

/* Message mk's record, through the index: *v and its key (num64be);
 * LSN_ERR_NOT_FOUND.  add files a new one, remove deletes it. */
int lsn_st_meta_find(MDB_txn *t, struct lsn_store *s, const uint8_t *mk, size_t mkl,
                     uint8_t key[8], MDB_val *v);
int lsn_st_meta_add(MDB_txn *t, struct lsn_store *s, uint64_t num, const uint8_t *mk,
                    size_t mkl, const uint8_t *m, size_t ml);
int lsn_st_meta_remove(MDB_txn *t, struct lsn_store *s, const uint8_t key[8],
                       const uint8_t *mk, size_t mkl);

/* One queue reference to message mk (held by org/name, or by the peer
 * queue name for every org when org is NULL) ends with state newst. */
int lsn_st_release(MDB_txn *t, struct lsn_store *s, const uint8_t *mk, size_t mkl,
                   const char *org, const char *name, uint8_t newst);

/* Appends an item to dev's queue: *seq its seq. */
int lsn_st_enqueue(MDB_txn *t, struct lsn_store *s, const char *dev,
                   const struct lsn_rec_item *it, uint64_t *seq);

/* dev's queue entry seq if it holds message mk: *v (valid until the next
 * write).  LSN_ERR_NOT_FOUND if there is none, or if it holds another
 * message (damage: that entry is not this message's to touch). */
int lsn_st_entry_get(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                     uint64_t seq, const uint8_t *mk, size_t mkl, MDB_val *v);

/* Deletes dev's queue entry seq if it holds message mk, and counts it out
 * of the device's record; nothing if it does not. */
int lsn_st_entry_drop(MDB_txn *t, struct lsn_store *s, const uint8_t *dk, size_t dkl,
                      uint64_t seq, const uint8_t *mk, size_t mkl);

/* ---------------------------------------------------------- store_queue.c */

/* Removes queue entry seq (value val) of dev and ends its reference. */
int lsn_st_unqueue(MDB_txn *t, struct lsn_store *s, const char *dev, const uint8_t *dk,
                   size_t dkl, uint64_t seq, const uint8_t *val, size_t vlen,
                   uint8_t newst, struct lsn_rec_dev *d);

/* Drops the oldest item of dev's queue and records it in the gap. */
int lsn_st_trim_oldest(MDB_txn *t, struct lsn_store *s, const char *dev);

/* ---------------------------------------------------------- store_expire.c */

/* Quarantines the envelope of message mk that dev's entry seq led to. */
int lsn_st_quarantine(struct lsn_store *s, const uint8_t *mk, size_t mkl,
                      const char *dev, uint64_t seq);

#endif
