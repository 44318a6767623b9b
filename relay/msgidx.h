/* msgidx.h: the store's index of message records by (sender org, msg_id),
 * held in memory (docs/relay.md "Store").
 *
 * msg_ids are random, so a table keyed by them takes every new message on
 * its own random leaf page: each 1 KiB envelope would make LMDB write a
 * 4 KiB page more.  Message records are therefore keyed by their envelope's
 * number, which grows with arrival (appends), and this index, rebuilt
 * from the records when the store opens, finds a record by its msg_id.
 *
 * It maps a keyed hash (SipHash, a random key per process, so a sender
 * cannot aim msg_ids at one slot) to the numbers of the records that
 * have it; the caller reads each candidate record and compares its
 * (org, msg_id).  Every change is logged until lsn_msgidx_keep, so the
 * store can take back what an aborted operation or batch added or
 * removed (lsn_msgidx_undo); taking back never needs memory. */
#ifndef LSN_RELAY_MSGIDX_H
#define LSN_RELAY_MSGIDX_H

#include <stddef.h>
#include <stdint.h>

struct lsn_msgidx;

/* An empty index; LSN_ERR_NOMEM. */
int lsn_msgidx_new(struct lsn_msgidx **out);

/* Frees the index and sets *x to NULL (NULL is fine). */
void lsn_msgidx_free(struct lsn_msgidx **x);

/* The index's hash of a record key (never 0). */
uint64_t lsn_msgidx_hash(const struct lsn_msgidx *x, const uint8_t *key, size_t len);

/* Makes sure the next add or removal needs no memory: 0 or
 * LSN_ERR_NOMEM (call it before the writes that the change goes with). */
int lsn_msgidx_reserve(struct lsn_msgidx *x);

/* Adds (h, num), logged: 0 or LSN_ERR_NOMEM (nothing changed). */
int lsn_msgidx_add(struct lsn_msgidx *x, uint64_t h, uint64_t num);

/* Removes (h, num), logged: 0 (also when it is not there) or
 * LSN_ERR_NOMEM (nothing changed). */
int lsn_msgidx_del(struct lsn_msgidx *x, uint64_t h, uint64_t num);

/* The numbers filed under h, one per call: start with *pos = 0; 1 and
 * *num while there is one more, then 0.  Valid until the next change. */
int lsn_msgidx_next(const struct lsn_msgidx *x, uint64_t h, size_t *pos,
                    uint64_t *num);

/* The log's position now, to take back what follows it. */
size_t lsn_msgidx_mark(const struct lsn_msgidx *x);

/* Takes back every change logged after mark, newest first. */
void lsn_msgidx_undo(struct lsn_msgidx *x, size_t mark);

/* Forgets the log: the changes stay (the batch committed). */
void lsn_msgidx_keep(struct lsn_msgidx *x);

/* Entries held. */
size_t lsn_msgidx_count(const struct lsn_msgidx *x);

#endif
