/* fuzz_relay_record.c: the relay store's value decoders (relay/record.h),
 * the bytes a damaged store could hold.
 *
 * Input: a selector byte (low 3 bits: 0 message record, 1 queue item,
 * 2 device record, 3 quota record, 4 counter, 5 mk, 6 envelope value,
 * 7 a format 5 message record repaired from big-endian), then the value.
 * Invariants: nothing is read past the value (ASan); a value that decodes
 * encodes back to the same bytes; no strict prefix of a message record
 * decodes; a walk that changes nothing writes nothing; what is changed in
 * place reads back; repairing a record twice gives it back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "relay/record.h"
#include "relay/store.h"
#include "tests/fuzz/fuzzfix.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* Counts entries; with change set, acks each one and moves its seq on. */
struct count {
    int change;
    size_t orgs, entries;
};

static int
count_cb(void *ctx, const char *org, const char *name, struct lsn_rec_entry *e)
{
    struct count *c = ctx;

    FF_CHECK(strlen(org) <= LSN_ENV_ORG_MAX);
    if (name == NULL) {
        FF_CHECK(e == NULL);
        c->orgs++;
        return 0;
    }
    FF_CHECK(strlen(name) <= LSN_PEER_QUEUE_MAX);
    c->entries++;
    if (c->change) {
        e->state = LSN_REC_ACKED;
        e->seq++;
    }
    return 0;
}

static int
acked_cb(void *ctx, const char *org, const char *name, struct lsn_rec_entry *e)
{
    (void)ctx;
    (void)org;
    if (name != NULL)
        FF_CHECK(e->state == LSN_REC_ACKED);
    return 0;
}

static void
message(const uint8_t *data, size_t size)
{
    struct count c = { 0, 0, 0 }, c2 = { 1, 0, 0 };
    struct lsn_rec_msg h, h2;
    uint8_t *m;
    int r;

    if (lsn_rec_msg_head(data, size, &h) == 0) {
        FF_CHECK(h.mkl >= 1 + LSN_MSG_ID_LEN && h.mkl <= LSN_REC_MK_MAX);
        FF_CHECK(h.mk == data + LSN_REC_MSG_MK);
        FF_CHECK(size >= LSN_REC_MSG_MK + h.mkl);
    }
    r = lsn_rec_msg_walk(data, size, count_cb, &c);
    if (r != 0) {
        FF_CHECK(r == LSN_ERR_CORRUPT);
        return;
    }
    FF_CHECK(lsn_rec_msg_head(data, size, &h) == 0);
    FF_CHECK(c.orgs == h.n_rcpt);
    FF_CHECK(size >= LSN_REC_MSG_MK + h.mkl + 3 * c.orgs + 10 * c.entries);
    FF_CHECK(lsn_rec_msg_walk(data, size - 1, NULL, NULL) == LSN_ERR_CORRUPT);
    FF_CHECK(lsn_rec_msg_walk(data, size / 2, NULL, NULL) == LSN_ERR_CORRUPT);
    FF_CHECK((m = malloc(size)) != NULL);
    memcpy(m, data, size);
    c.orgs = c.entries = 0;
    FF_CHECK(lsn_rec_msg_update(m, size, count_cb, &c) == 0);
    FF_CHECK(memcmp(m, data, size) == 0);
    FF_CHECK(lsn_rec_msg_update(m, size, count_cb, &c2) == 0);
    FF_CHECK(c2.entries == c.entries);
    FF_CHECK(lsn_rec_msg_walk(m, size, acked_cb, NULL) == 0);
    FF_CHECK(lsn_rec_msg_set_state(m, size, LSN_REC_DONE) == 0);
    FF_CHECK(lsn_rec_msg_set_pending(m, size, 0xfeedu) == 0);
    FF_CHECK(lsn_rec_msg_head(m, size, &h2) == 0);
    FF_CHECK(h2.state == LSN_REC_DONE && h2.pending == 0xfeedu);
    FF_CHECK(h2.accepted == h.accepted && h2.expires == h.expires &&
             h2.size == h.size && h2.num == h.num && h2.mkl == h.mkl);
    free(m);
}

static void
item(const uint8_t *data, size_t size)
{
    struct lsn_rec_item it;
    uint8_t *buf;
    int r = lsn_rec_item_decode(data, size, &it);

    if (r != 0) {
        FF_CHECK(r == LSN_ERR_CORRUPT);
        if (it.mkl != 0)
            FF_CHECK(it.mk == data + 1 && 1 + it.mkl <= size);
        return;
    }
    FF_CHECK(lsn_rec_item_len(&it) == size);
    FF_CHECK((buf = malloc(size)) != NULL);
    FF_CHECK(lsn_rec_item_encode(buf, size, &it) == 0);
    FF_CHECK(memcmp(buf, data, size) == 0);
    free(buf);
}

static void
fixed(int sel, const uint8_t *data, size_t size)
{
    uint8_t out[LSN_REC_DEV_LEN];
    struct lsn_rec_dev d;
    struct lsn_rec_quota q;
    uint64_t n;

    if (sel == 2) {
        if (lsn_rec_dev_decode(data, size, &d) != 0) {
            FF_CHECK(size != LSN_REC_DEV_LEN);
            return;
        }
        lsn_rec_dev_encode(out, &d);
        FF_CHECK(size == LSN_REC_DEV_LEN && memcmp(out, data, size) == 0);
    } else if (sel == 3) {
        if (lsn_rec_quota_decode(data, size, &q) != 0) {
            FF_CHECK(size != LSN_REC_QUOTA_LEN);
            return;
        }
        lsn_rec_quota_encode(out, &q);
        FF_CHECK(size == LSN_REC_QUOTA_LEN && memcmp(out, data, size) == 0);
    } else {
        if (lsn_rec_count_decode(data, size, &n) != 0) {
            FF_CHECK(size != LSN_REC_COUNT_LEN);
            return;
        }
        lsn_rec_count_encode(out, n);
        FF_CHECK(size == LSN_REC_COUNT_LEN && memcmp(out, data, size) == 0);
    }
}

static void
mk(const uint8_t *data, size_t size)
{
    char org[LSN_ENV_ORG_MAX + 1];
    uint8_t id[LSN_MSG_ID_LEN], again[LSN_REC_MK_MAX];

    if (lsn_rec_mk_split(data, size, org, id) != 0)
        return;
    /* An org with a NUL in it is cut there by the writer. */
    if (strlen(org) == data[0]) {
        FF_CHECK(lsn_rec_mk_make(again, org, id) == size);
        FF_CHECK(memcmp(again, data, size) == 0);
    }
}

static void
envelope(const uint8_t *data, size_t size)
{
    static const uint8_t key[] = "\x05" "alpha" "0123456789abcdef";
    uint8_t sum[LSN_REC_ENV_SUM], *v;
    const uint8_t *env;
    size_t len;

    if (lsn_rec_env_check(data, size, key, sizeof key - 1, &env, &len) == 0) {
        FF_CHECK(env == data + LSN_REC_ENV_SUM && len == size - LSN_REC_ENV_SUM);
        lsn_rec_env_sum(sum, key, sizeof key - 1, env, len);
        FF_CHECK(memcmp(sum, data, LSN_REC_ENV_SUM) == 0);
    }
    /* The same bytes behind their own sum always pass. */
    FF_CHECK((v = malloc(size + LSN_REC_ENV_SUM)) != NULL);
    lsn_rec_env_sum(v, key, sizeof key - 1, data, size);
    if (size > 0)
        memcpy(v + LSN_REC_ENV_SUM, data, size);
    FF_CHECK(lsn_rec_env_check(v, size + LSN_REC_ENV_SUM, key, sizeof key - 1,
                               &env, &len) == 0);
    FF_CHECK(len == size);
    free(v);
}

static void
repair(const uint8_t *data, size_t size)
{
    uint8_t *m;

    FF_CHECK((m = malloc(size + 1)) != NULL);
    memcpy(m, data, size);
    if (lsn_rec_msg_from_be(m, size) != 0) {
        FF_CHECK(memcmp(m, data, size) == 0);
    } else {
        FF_CHECK(lsn_rec_msg_walk(m, size, NULL, NULL) == 0);
        FF_CHECK(lsn_rec_msg_from_be(m, size) == 0);
        FF_CHECK(memcmp(m, data, size) == 0);
    }
    free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sel;

    if (size < 1)
        return 0;
    sel = data[0] & 7;
    data++;
    size--;
    switch (sel) {
    case 0: message(data, size); break;
    case 1: item(data, size); break;
    case 2: case 3: case 4: fixed(sel, data, size); break;
    case 5: mk(data, size); break;
    case 6: envelope(data, size); break;
    default: repair(data, size); break;
    }
    return 0;
}
