/* record.h: the byte format of the relay store's values (docs/relay.md
 * "Store"), as pure functions over byte arrays: no LMDB, no store handle,
 * so every decoder is tested and fuzzed on its own (tests/unit/
 * test_record.c, tests/fuzz/fuzz_relay_record.c).
 *
 * Every integer a value holds is little-endian, whatever the machine,
 * except a number that is a copy of a table key (a queue entry's envelope
 * number, a notice's seq in qidx): those keep the key's big-endian bytes,
 * the order LMDB sorts keys in.  Every value is read and written through
 * one cursor (struct lsn_rec_cur) that refuses to step past the end.
 *
 * Decoders return 0 or LSN_ERR_CORRUPT and never read past the length
 * they are given; pointers they fill point into the bytes decoded. */
#ifndef LSN_RELAY_RECORD_H
#define LSN_RELAY_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/envelope.h"
#include "proto/err.h"
#include "relay/store.h"

/* ---------------------------------------------------------- the cursor */

/* A position in one value: p is read, w (the same bytes, or NULL for a
 * read-only value) is written; off never passes len. */
struct lsn_rec_cur {
    const uint8_t *p;
    uint8_t *w;
    size_t len, off;
};

static inline void
lsn_rec_reader(struct lsn_rec_cur *c, const void *p, size_t len)
{
    c->p = p;
    c->w = NULL;
    c->len = len;
    c->off = 0;
}

static inline void
lsn_rec_writer(struct lsn_rec_cur *c, void *p, size_t len)
{
    c->p = p;
    c->w = p;
    c->len = len;
    c->off = 0;
}

/* 1 if n more bytes are there to read or write. */
static inline int
lsn_rec_has(const struct lsn_rec_cur *c, size_t n)
{
    return n <= c->len - c->off;
}

static inline size_t
lsn_rec_left(const struct lsn_rec_cur *c)
{
    return c->len - c->off;
}

/* Moves to offset off: LSN_ERR_CORRUPT past the end. */
static inline int
lsn_rec_seek(struct lsn_rec_cur *c, size_t off)
{
    if (off > c->len)
        return LSN_ERR_CORRUPT;
    c->off = off;
    return 0;
}

/* Little-endian reads of n bytes; LSN_ERR_CORRUPT (and the cursor where
 * it was) if fewer are left. */
static inline int
lsn_rec_get_le(struct lsn_rec_cur *c, size_t n, uint64_t *v)
{
    uint64_t x = 0;

    if (!lsn_rec_has(c, n))
        return LSN_ERR_CORRUPT;
    for (size_t i = n; i-- > 0;)
        x = (x << 8) | c->p[c->off + i];
    c->off += n;
    *v = x;
    return 0;
}

static inline int
lsn_rec_get_u8(struct lsn_rec_cur *c, uint8_t *v)
{
    uint64_t x = 0;
    int r = lsn_rec_get_le(c, 1, &x);

    *v = (uint8_t)x;
    return r;
}

static inline int
lsn_rec_get_u16(struct lsn_rec_cur *c, uint16_t *v)
{
    uint64_t x = 0;
    int r = lsn_rec_get_le(c, 2, &x);

    *v = (uint16_t)x;
    return r;
}

static inline int
lsn_rec_get_u32(struct lsn_rec_cur *c, uint32_t *v)
{
    uint64_t x = 0;
    int r = lsn_rec_get_le(c, 4, &x);

    *v = (uint32_t)x;
    return r;
}

static inline int
lsn_rec_get_u64(struct lsn_rec_cur *c, uint64_t *v)
{
    return lsn_rec_get_le(c, 8, v);
}

/* A copy of a table key: big-endian. */
static inline int
lsn_rec_get_be64(struct lsn_rec_cur *c, uint64_t *v)
{
    uint64_t x = 0;

    if (!lsn_rec_has(c, 8))
        return LSN_ERR_CORRUPT;
    for (size_t i = 0; i < 8; i++)
        x = (x << 8) | c->p[c->off + i];
    c->off += 8;
    *v = x;
    return 0;
}

/* The next n bytes, in place. */
static inline int
lsn_rec_get_bytes(struct lsn_rec_cur *c, size_t n, const uint8_t **p)
{
    if (!lsn_rec_has(c, n))
        return LSN_ERR_CORRUPT;
    *p = c->p + c->off;
    c->off += n;
    return 0;
}

/* Little-endian writes; LSN_ERR_CORRUPT past the end or on a reader. */
static inline int
lsn_rec_put_le(struct lsn_rec_cur *c, size_t n, uint64_t v)
{
    if (c->w == NULL || !lsn_rec_has(c, n))
        return LSN_ERR_CORRUPT;
    for (size_t i = 0; i < n; i++, v >>= 8)
        c->w[c->off + i] = (uint8_t)v;
    c->off += n;
    return 0;
}

static inline int
lsn_rec_put_u8(struct lsn_rec_cur *c, uint8_t v)
{
    return lsn_rec_put_le(c, 1, v);
}

static inline int
lsn_rec_put_u16(struct lsn_rec_cur *c, uint16_t v)
{
    return lsn_rec_put_le(c, 2, v);
}

static inline int
lsn_rec_put_u32(struct lsn_rec_cur *c, uint32_t v)
{
    return lsn_rec_put_le(c, 4, v);
}

static inline int
lsn_rec_put_u64(struct lsn_rec_cur *c, uint64_t v)
{
    return lsn_rec_put_le(c, 8, v);
}

static inline int
lsn_rec_put_be64(struct lsn_rec_cur *c, uint64_t v)
{
    if (c->w == NULL || !lsn_rec_has(c, 8))
        return LSN_ERR_CORRUPT;
    for (int i = 7; i >= 0; i--, v >>= 8)
        c->w[c->off + (size_t)i] = (uint8_t)v;
    c->off += 8;
    return 0;
}

static inline int
lsn_rec_put_bytes(struct lsn_rec_cur *c, const void *p, size_t n)
{
    if (c->w == NULL || !lsn_rec_has(c, n))
        return LSN_ERR_CORRUPT;
    if (n > 0)
        memcpy(c->w + c->off, p, n);
    c->off += n;
    return 0;
}

/* ---------------------------------------------------------- mk */

/* A message's mk: len8 org || msg_id (org "" names a relay notice). */
#define LSN_REC_MK_MAX (1 + LSN_ENV_ORG_MAX + LSN_MSG_ID_LEN)

/* Writes org's mk for id into k (org cut at LSN_ENV_ORG_MAX); its length. */
size_t lsn_rec_mk_make(uint8_t k[LSN_REC_MK_MAX], const char *org,
                       const uint8_t id[LSN_MSG_ID_LEN]);

/* Reads a mk at the cursor: *mk points at it, *mkl is its length. */
int lsn_rec_get_mk(struct lsn_rec_cur *c, const uint8_t **mk, size_t *mkl);

/* Splits a value that is exactly one mk into org and msg_id. */
int lsn_rec_mk_split(const uint8_t *k, size_t len, char org[LSN_ENV_ORG_MAX + 1],
                     uint8_t id[LSN_MSG_ID_LEN]);

/* ---------------------------------------------------------- message record
 *
 * ver8 state8 accepted64 expires64 size32 pending32 n_rcpt16 num64, then
 * the message's mk, then per recipient org: len8 org, n_dev16, and per
 * device queue: len8 name, state8, seq64 (its queue entry's seq).
 * Devices are named without their org; a peer relay's outbound queue is
 * "@relay".  Only states, pending and seqs change in place. */

#define LSN_REC_MSG_VERSION  3
#define LSN_REC_MSG_VER      0      /* the named offsets of the head */
#define LSN_REC_MSG_STATE    1
#define LSN_REC_MSG_ACCEPTED 2
#define LSN_REC_MSG_EXPIRES  10
#define LSN_REC_MSG_SIZE     18
#define LSN_REC_MSG_PENDING  22
#define LSN_REC_MSG_NRCPT    26
#define LSN_REC_MSG_NUM      28
#define LSN_REC_MSG_MK       36     /* the head's length */

#define LSN_REC_LIVE 0              /* some device entry is pending */
#define LSN_REC_DONE 1              /* a tombstone: its envelope is gone */

#define LSN_REC_PENDING 0           /* a device entry's state */
#define LSN_REC_ACKED   1
#define LSN_REC_TRIMMED 2
#define LSN_REC_DROPPED 3
/* Refused by the device, with its reason: 0x80 | -LSN_ERR_* (1..127). */
#define LSN_REC_REFUSED 0x80
#define LSN_REC_IS_REFUSED(st) (((st) & LSN_REC_REFUSED) != 0)

struct lsn_rec_msg {
    uint8_t state;                  /* LSN_REC_LIVE or LSN_REC_DONE */
    int64_t accepted, expires;
    uint32_t size;                  /* the envelope's bytes */
    uint32_t pending;               /* device entries still pending */
    uint16_t n_rcpt;
    uint64_t num;                   /* the envelope's number */
    const uint8_t *mk;              /* decode: into the record */
    size_t mkl;
};

/* Decodes the head and mk of record m: LSN_ERR_CORRUPT if it is too short
 * for them or of another version (the rest is not looked at). */
int lsn_rec_msg_head(const uint8_t *m, size_t len, struct lsn_rec_msg *h);

/* One device entry as a walk meets it; the callback may change state and
 * seq (lsn_rec_msg_update writes them back). */
struct lsn_rec_entry {
    uint8_t state;
    uint64_t seq;
};

/* Called once per recipient org (name NULL, e NULL), then once per device
 * entry of it; a nonzero return stops the walk with that value. */
typedef int (*lsn_rec_walk_fn)(void *ctx, const char *org, const char *name,
                               struct lsn_rec_entry *e);

/* Walks record m: LSN_ERR_CORRUPT if any part is damaged (the callback may
 * have been called for the entries before it), or LSN_ERR_INTERNAL if
 * the callback changed an entry (read-only: use lsn_rec_msg_update). */
int lsn_rec_msg_walk(const uint8_t *m, size_t len, lsn_rec_walk_fn fn, void *ctx);

/* lsn_rec_msg_walk that writes each entry's changed state and seq back. */
int lsn_rec_msg_update(uint8_t *m, size_t len, lsn_rec_walk_fn fn, void *ctx);

/* How many queues the record gives recipient f: its devices, or one. */
size_t lsn_rec_fan_queues(const struct lsn_fanout *f);

/* Builds the record of a new message (malloc'd, *out): the head from h
 * (state and pending are computed: DONE with no queue at all), every entry
 * pending with seq 0.  LSN_ERR_NOMEM, LSN_ERR_LIMIT (a count or name too
 * long for the format). */
int lsn_rec_msg_build(const struct lsn_rec_msg *h, const struct lsn_fanout *fan,
                      size_t n_fan, uint8_t **out, size_t *out_len);

/* Rewrite the state or pending count of record m in place. */
int lsn_rec_msg_set_state(uint8_t *m, size_t len, uint8_t state);
int lsn_rec_msg_set_pending(uint8_t *m, size_t len, uint32_t pending);

/* ---------------------------------------------------------- queue item
 *
 * kind8 || mk || (for a message: its envelope's number, 8 bytes
 * big-endian, the env key) or (for a notice: an encoded RelayNotice).
 * Any kind but a message is read as a notice. */

#define LSN_REC_KIND_MSG    1
#define LSN_REC_KIND_NOTICE 2

struct lsn_rec_item {
    uint8_t kind;
    const uint8_t *mk;
    size_t mkl;
    uint64_t num;                   /* a message */
    const uint8_t *notice;          /* a notice (may be empty) */
    size_t notice_len;
};

/* Decodes a queue value.  On LSN_ERR_CORRUPT, it->mkl is nonzero if the
 * kind and mk were readable (only what follows them is damaged). */
int lsn_rec_item_decode(const uint8_t *v, size_t len, struct lsn_rec_item *it);

/* The length of it encoded, and its encoding into buf (that many bytes). */
size_t lsn_rec_item_len(const struct lsn_rec_item *it);
int lsn_rec_item_encode(uint8_t *buf, size_t len, const struct lsn_rec_item *it);

/* ---------------------------------------------------------- device record
 *
 * next_seq64 count64 trimmed64 n_refs32 gap_base32. */

#define LSN_REC_DEV_LEN 32

struct lsn_rec_dev {
    uint64_t next_seq;
    uint64_t count;                 /* items queued */
    uint64_t trimmed;               /* the gap: items trimmed, unseen */
    uint32_t n_refs;                /* gap refs held */
    uint32_t gap_base;              /* index of the first gap ref still held */
};

void lsn_rec_dev_encode(uint8_t out[LSN_REC_DEV_LEN], const struct lsn_rec_dev *d);
int lsn_rec_dev_decode(const uint8_t *v, size_t len, struct lsn_rec_dev *d);

/* ---------------------------------------------------------- quota record
 *
 * msgs64 bytes64. */

#define LSN_REC_QUOTA_LEN 16

struct lsn_rec_quota {
    uint64_t msgs, bytes;
};

void lsn_rec_quota_encode(uint8_t out[LSN_REC_QUOTA_LEN], const struct lsn_rec_quota *q);
int lsn_rec_quota_decode(const uint8_t *v, size_t len, struct lsn_rec_quota *q);

/* ---------------------------------------------------------- removed key
 *
 * A device CURVE key that left its org's bundle (table gone, keyed by the
 * key): seq64 (its place in table goneq, by which the oldest is
 * forgotten first) version64 (the bundle that left it out) issued64
 * (that bundle's issue time, unix seconds) orglen8 org.  An org id is 1
 * to LSN_ENV_ORG_MAX bytes. */

#define LSN_REC_GONE_MIN 25
#define LSN_REC_GONE_MAX (LSN_REC_GONE_MIN + LSN_ENV_ORG_MAX)

struct lsn_rec_gone {
    uint64_t seq;
    uint64_t version;
    int64_t issued;
    char org[LSN_ENV_ORG_MAX + 1];
};

/* Writes g into out; its length, or 0 if g's org is empty or too long. */
size_t lsn_rec_gone_encode(uint8_t out[LSN_REC_GONE_MAX], const struct lsn_rec_gone *g);
int lsn_rec_gone_decode(const uint8_t *v, size_t len, struct lsn_rec_gone *g);

/* ---------------------------------------------------------- counters
 *
 * A counter of the info table ("quarantined", "env_next"): u64. */

#define LSN_REC_COUNT_LEN 8

void lsn_rec_count_encode(uint8_t out[LSN_REC_COUNT_LEN], uint64_t v);
int lsn_rec_count_decode(const uint8_t *v, size_t len, uint64_t *n);

/* ---------------------------------------------------------- envelope value
 *
 * sum64 || the envelope bytes: sum is lsn_store_checksum of the envelope
 * seeded with lsn_store_checksum of its message's mk, so an envelope
 * filed under another message's number fails like bit rot. */

#define LSN_REC_ENV_SUM 8

/* Writes the checksum of env (message mk) into sum. */
void lsn_rec_env_sum(uint8_t sum[LSN_REC_ENV_SUM], const uint8_t *mk, size_t mkl,
                     const uint8_t *env, size_t len);

/* Checks env value v as message mk's: *env, *env_len the envelope in it.
 * LSN_ERR_CORRUPT if it is too short or its checksum does not match. */
int lsn_rec_env_check(const uint8_t *v, size_t len, const uint8_t *mk, size_t mkl,
                      const uint8_t **env, size_t *env_len);

/* ---------------------------------------------------------- store format 5
 *
 * Format 5 wrote the head numbers and seqs of message records, and device
 * and quota records whole, in the host's byte order (and the info
 * counters big-endian).  These turn one such value, written on a
 * big-endian machine, into its format 6 bytes in place. */

int lsn_rec_msg_from_be(uint8_t *m, size_t len);
int lsn_rec_dev_from_be(uint8_t *v, size_t len);
int lsn_rec_quota_from_be(uint8_t *v, size_t len);

#endif
