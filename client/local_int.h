/* local_int.h: what the files of the local store share (local.c,
 * local_inbox.c, local_sent.c, local_audit.c) and nothing else may use:
 * the store's state, its key layout, and the helpers for records,
 * transactions and scans, all in local.c. */
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
    size_t map_max;               /* the map never grows past this */
    uint8_t *key;                 /* sodium_malloc: seal key (32) || audit key (32) */
};

#define SEAL_KEY(s)  ((s)->key)
#define AUDIT_KEY(s) ((s)->key + 32)

/* An LMDB return code as an LSN_ERR_* (a full map or disk: STORE_FULL). */
int mdb_err(int rc);

/* After a write failed with LSN_ERR_STORE_FULL (no transaction open):
 * 0 if the map grew, up to the ceiling, so the write may be tried once
 * more.  grow_map_over may pass the ceiling by one envelope's room, for
 * writes that make room; map_back then sets the ceiling again. */
int grow_map(struct lsn_local *s);
int grow_map_over(struct lsn_local *s);
void map_back(struct lsn_local *s);

/* The inbox and seen key of (org, msg_id): org zero-padded to ORG_LEN. */
void msg_key(uint8_t k[MSG_KEY], const char *org, const uint8_t msg_id[16]);

/* A protobuf record written under key k, or read back through the strict
 * decoder (*out the caller's, lsn_pb_free). */
int put_pb(MDB_txn *t, MDB_dbi db, const void *k, size_t kl,
           const ProtobufCMessage *m, unsigned flags);
int get_pb(MDB_txn *t, MDB_dbi db, const void *k, size_t kl,
           const ProtobufCMessageDescriptor *d, ProtobufCMessage **out);

/* Commits t if r is 0, else aborts it and returns r. */
int commit(MDB_txn *t, int r);

/* Begins a transaction, taking the map size another process grew to. */
int begin(struct lsn_local *s, unsigned flags, MDB_txn **t);

/* msg sealed under the seal key, bound to ad: nonce (24) || ciphertext,
 * *out malloc'd; and opened again into out (room for len - 40 bytes). */
int seal_blob(const struct lsn_local *s, const uint8_t *msg, size_t len,
              const uint8_t *ad, size_t ad_len, uint8_t **out, size_t *out_len);
int unseal_blob(const struct lsn_local *s, const uint8_t *b, size_t len,
                const uint8_t *ad, size_t ad_len, uint8_t *out);

/* Big-endian u64, as keys and the seen table hold them. */
void put_be64(uint8_t p[8], uint64_t v);
uint64_t get_be64(const uint8_t p[8]);

/* Visits the records of db in key order, from `from` (NULL: the first) on,
 * inside transaction t.  visit returns 0 to go on, SCAN_END to stop
 * quietly, or anything else to stop and have scan return it. */
typedef int (*visit_fn)(void *ctx, const MDB_val *k, const MDB_val *v);
#define SCAN_END 0x7fffffff

int scan_in(MDB_txn *t, MDB_dbi db, const MDB_val *from, visit_fn visit, void *ctx);

/* scan_in in a read-only transaction of its own. */
int scan(struct lsn_local *s, MDB_dbi db, const MDB_val *from, visit_fn visit,
         void *ctx);

/* The key in db whose msg_id (at offset id_off) starts with the hex prefix
 * (4 to 32 digits): LSN_ERR_NOT_FOUND, LSN_ERR_AMBIGUOUS, LSN_ERR_USAGE. */
int find_by_prefix(struct lsn_local *s, MDB_dbi db, size_t id_off,
                   const char *prefix, uint8_t found_key[MSG_KEY], size_t *klen);

#endif
