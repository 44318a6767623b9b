/* local_int.h: what the files of the local store share (local.c,
 * local_inbox.c, local_sent.c, local_audit.c, local_feedback.c) and
 * nothing else may use: the store's state, its key layout, and the helpers for records,
 * transactions and scans, all in local.c.  The seal key is used through
 * lsn_local_seal and lsn_local_unseal (local.h).  local_inbox.c,
 * local_sent.c, local_audit.c and local_feedback.c call local.c, never
 * each other. */
#ifndef LSN_LOCAL_INT_H
#define LSN_LOCAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "client/local.h"
#include "proto/pb.h"

#define ORG_LEN  LSN_ENV_ORG_MAX
#define DEV_LEN  LSN_ENV_DEVICE_MAX
#define MSG_KEY  (ORG_LEN + LSN_MSG_ID_LEN)
#define RCPT_KEY (LSN_MSG_ID_LEN + ORG_LEN + DEV_LEN)
#define RECORD_MAX (LSN_ENVELOPE_MAX + 4096)

struct lsn_local {
    MDB_env *env;
    MDB_dbi inbox, seen, sent, receipts, audit, meta;
    MDB_dbi feedback, links;      /* local_feedback.c */
    size_t map_max;               /* the map never grows past this */
    uint8_t *key;                 /* sodium_malloc: seal key (32) || audit key (32) */
};

#define SEAL_KEY(s)  ((s)->key)
#define AUDIT_KEY(s) ((s)->key + 32)

/* An LMDB return code as an LSN_ERR_* (a full map or disk: STORE_FULL). */
int lsn_local_mdb_err(int rc);

/* After a write failed with LSN_ERR_STORE_FULL (no transaction open):
 * 0 if the map grew, up to the ceiling, so the write may be tried once
 * more.  lsn_local_grow_over may pass the ceiling by one envelope's
 * room, for writes that make room; lsn_local_map_back then sets the
 * ceiling again. */
int lsn_local_grow_map(struct lsn_local *s);
int lsn_local_grow_over(struct lsn_local *s);
void lsn_local_map_back(struct lsn_local *s);

/* The inbox and seen key of (org, msg_id): org zero-padded to ORG_LEN. */
void lsn_local_msg_key(uint8_t k[MSG_KEY], const char *org,
                       const uint8_t msg_id[16]);

/* A protobuf record written under key k, or read back through the strict
 * decoder (*out the caller's, lsn_pb_free). */
int lsn_local_put_pb(MDB_txn *t, MDB_dbi db, const void *k, size_t kl,
                     const ProtobufCMessage *m, unsigned flags);
int lsn_local_get_pb(MDB_txn *t, MDB_dbi db, const void *k, size_t kl,
                     const ProtobufCMessageDescriptor *d, ProtobufCMessage **out);

/* Commits t if r is 0, else aborts it and returns r. */
int lsn_local_commit(MDB_txn *t, int r);

/* Begins a transaction, taking the map size another process grew to. */
int lsn_local_begin(struct lsn_local *s, unsigned flags, MDB_txn **t);

/* Big-endian u64, as keys and the seen table hold them. */
void lsn_local_put_be64(uint8_t p[8], uint64_t v);
uint64_t lsn_local_get_be64(const uint8_t p[8]);

/* Visits the records of db in key order, from `from` (NULL: the first) on,
 * inside transaction t.  visit returns 0 to go on, SCAN_END to stop
 * quietly, or anything else to stop and have the scan return it. */
typedef int (*visit_fn)(void *ctx, const MDB_val *k, const MDB_val *v);
#define SCAN_END 0x7fffffff

int lsn_local_scan_in(MDB_txn *t, MDB_dbi db, const MDB_val *from,
                      visit_fn visit, void *ctx);

/* lsn_local_scan_in in a read-only transaction of its own. */
int lsn_local_scan(struct lsn_local *s, MDB_dbi db, const MDB_val *from,
                   visit_fn visit, void *ctx);

/* The key in db whose msg_id (at offset id_off) starts with the hex prefix
 * (4 to 32 digits): LSN_ERR_NOT_FOUND, LSN_ERR_AMBIGUOUS, LSN_ERR_USAGE. */
int lsn_local_find_by_prefix(struct lsn_local *s, MDB_dbi db, size_t id_off,
                             const char *prefix, uint8_t found_key[MSG_KEY],
                             size_t *klen);

#endif
