/* record.c: the relay store's value formats and its checksum (record.h;
 * docs/relay.md "Store").  Pure functions over byte arrays: every value
 * the store keeps in LMDB is built and read here, through the bounded
 * cursor of record.h, and nowhere else. */
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "relay/record.h"
#include "relay/store.h"

/* ---------------------------------------------------------- checksum
 *
 * The store's checksum tells damaged bytes (a disk, a filesystem, a bad
 * copy, a record filed under the wrong number) from intact ones; it is no
 * defence against someone who can write the store, who could rewrite any
 * record and its sum alike.  So it needs mixing, not secrecy, and it runs
 * twice per message (stored, then read for delivery): each 8-byte word is
 * mixed into one of four lanes by a bijection (xor, multiply by an odd
 * constant, rotate, multiply), so a changed word leaves its lane changed
 * to the end; the lanes are then folded together with the length by
 * 64x64->128-bit multiplies (the xor of the product's halves).  A change
 * goes unnoticed about once in 2^64.  SipHash would cost about 5 000
 * instructions per 1 KiB envelope; this costs about a fifth. */

#define SUM_K0 0x9e3779b97f4a7c15ull    /* odd constants: the golden ratio, */
#define SUM_K1 0xc2b2ae3d27d4eb4full    /* and the mixing constants of */
#define SUM_K2 0x165667b19e3779f9ull    /* well-known 64-bit hashes */
#define SUM_K3 0xd6e8feb86659fd93ull

static uint64_t
fold(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 p = (unsigned __int128)a * b;

    return (uint64_t)(p >> 64) ^ (uint64_t)p;
#else
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);

    return (hh + (lh >> 32) + (hl >> 32) + (mid >> 32)) ^ ((mid << 32) | (ll & 0xffffffffu));
#endif
}

static uint64_t
mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * SUM_K1;
    return ((h << 31) | (h >> 33)) * SUM_K2;
}

/* Little-endian, so a store reads the same on every machine. */
static uint64_t
le64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint64_t
lsn_store_checksum(const uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t h[4] = { seed ^ SUM_K0, seed ^ SUM_K1, seed ^ SUM_K2, seed ^ SUM_K3 };
    uint8_t tail[32] = { 0 };
    size_t i = 0;

    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++)
            h[j] = mix(h[j], le64(p + i + 8 * j));
    if (i < n) {                    /* the tail, zero-padded: n tells it apart */
        memcpy(tail, p + i, n - i);
        for (int j = 0; j < 4; j++)
            h[j] = mix(h[j], le64(tail + 8 * j));
    }
    return fold(fold(h[0] ^ SUM_K1, h[1] ^ SUM_K2) ^ fold(h[2] ^ SUM_K3, h[3] ^ SUM_K0),
                (uint64_t)n ^ SUM_K1);
}

/* ---------------------------------------------------------- mk */

size_t
lsn_rec_mk_make(uint8_t k[LSN_REC_MK_MAX], const char *org,
                const uint8_t id[LSN_MSG_ID_LEN])
{
    size_t n = strnlen(org, LSN_ENV_ORG_MAX);

    k[0] = (uint8_t)n;
    memcpy(k + 1, org, n);
    memcpy(k + 1 + n, id, LSN_MSG_ID_LEN);
    return 1 + n + LSN_MSG_ID_LEN;
}

int
lsn_rec_get_mk(struct lsn_rec_cur *c, const uint8_t **mk, size_t *mkl)
{
    size_t start = c->off;
    uint8_t ol;
    const uint8_t *p;

    if (lsn_rec_get_u8(c, &ol) != 0 || ol > LSN_ENV_ORG_MAX ||
        lsn_rec_get_bytes(c, (size_t)ol + LSN_MSG_ID_LEN, &p) != 0) {
        c->off = start;
        return LSN_ERR_CORRUPT;
    }
    *mk = c->p + start;
    *mkl = 1 + (size_t)ol + LSN_MSG_ID_LEN;
    return 0;
}

int
lsn_rec_mk_split(const uint8_t *k, size_t len, char org[LSN_ENV_ORG_MAX + 1],
                 uint8_t id[LSN_MSG_ID_LEN])
{
    struct lsn_rec_cur c;
    const uint8_t *mk;
    size_t mkl;

    lsn_rec_reader(&c, k, len);
    if (lsn_rec_get_mk(&c, &mk, &mkl) != 0 || lsn_rec_left(&c) != 0)
        return LSN_ERR_CORRUPT;
    memcpy(org, mk + 1, mk[0]);
    org[mk[0]] = '\0';
    memcpy(id, mk + 1 + mk[0], LSN_MSG_ID_LEN);
    return 0;
}

/* A short name (len8 || bytes, at most max) into buf, NUL-terminated. */
static int
get_name(struct lsn_rec_cur *c, char *buf, size_t max)
{
    size_t start = c->off;
    const uint8_t *p;
    uint8_t n;

    if (lsn_rec_get_u8(c, &n) != 0 || n > max || lsn_rec_get_bytes(c, n, &p) != 0) {
        c->off = start;
        return LSN_ERR_CORRUPT;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

/* ---------------------------------------------------------- message record */

int
lsn_rec_msg_head(const uint8_t *m, size_t len, struct lsn_rec_msg *h)
{
    struct lsn_rec_cur c;
    uint8_t ver;
    uint64_t acc, exp;

    lsn_rec_reader(&c, m, len);
    if (lsn_rec_get_u8(&c, &ver) != 0 || ver != LSN_REC_MSG_VERSION ||
        lsn_rec_get_u8(&c, &h->state) != 0 ||
        lsn_rec_get_u64(&c, &acc) != 0 ||
        lsn_rec_get_u64(&c, &exp) != 0 ||
        lsn_rec_get_u32(&c, &h->size) != 0 ||
        lsn_rec_get_u32(&c, &h->pending) != 0 ||
        lsn_rec_get_u16(&c, &h->n_rcpt) != 0 ||
        lsn_rec_get_u64(&c, &h->num) != 0 ||
        lsn_rec_get_mk(&c, &h->mk, &h->mkl) != 0)
        return LSN_ERR_CORRUPT;
    h->accepted = (int64_t)acc;
    h->expires = (int64_t)exp;
    return 0;
}

static int
walk(struct lsn_rec_cur *c, lsn_rec_walk_fn fn, void *ctx)
{
    struct lsn_rec_msg h;
    char org[LSN_ENV_ORG_MAX + 1], name[LSN_PEER_QUEUE_MAX + 1];
    int r;

    if (lsn_rec_msg_head(c->p, c->len, &h) != 0 ||
        lsn_rec_seek(c, LSN_REC_MSG_MK + h.mkl) != 0)
        return LSN_ERR_CORRUPT;
    for (size_t i = 0; i < h.n_rcpt; i++) {
        uint16_t nd;
        if (get_name(c, org, LSN_ENV_ORG_MAX) != 0 || lsn_rec_get_u16(c, &nd) != 0)
            return LSN_ERR_CORRUPT;
        if (fn != NULL && (r = fn(ctx, org, NULL, NULL)) != 0)
            return r;
        for (size_t j = 0; j < nd; j++) {
            struct lsn_rec_entry e, was;
            size_t at;
            if (get_name(c, name, LSN_PEER_QUEUE_MAX) != 0)
                return LSN_ERR_CORRUPT;
            at = c->off;
            if (lsn_rec_get_u8(c, &e.state) != 0 || lsn_rec_get_u64(c, &e.seq) != 0)
                return LSN_ERR_CORRUPT;
            was = e;
            if (fn != NULL && (r = fn(ctx, org, name, &e)) != 0)
                return r;
            if (e.state == was.state && e.seq == was.seq)
                continue;
            if (c->w == NULL)
                return LSN_ERR_INTERNAL;
            /* Back over the entry just read: the same bytes, rewritten. */
            c->off = at;
            if (lsn_rec_put_u8(c, e.state) != 0 || lsn_rec_put_u64(c, e.seq) != 0)
                return LSN_ERR_CORRUPT;
        }
    }
    return lsn_rec_left(c) == 0 ? 0 : LSN_ERR_CORRUPT;
}

int
lsn_rec_msg_walk(const uint8_t *m, size_t len, lsn_rec_walk_fn fn, void *ctx)
{
    struct lsn_rec_cur c;

    lsn_rec_reader(&c, m, len);
    return walk(&c, fn, ctx);
}

int
lsn_rec_msg_update(uint8_t *m, size_t len, lsn_rec_walk_fn fn, void *ctx)
{
    struct lsn_rec_cur c;

    lsn_rec_writer(&c, m, len);
    return walk(&c, fn, ctx);
}

size_t
lsn_rec_fan_queues(const struct lsn_fanout *f)
{
    return f->relay != NULL ? 1 : f->n_devices;
}

/* The name of f's queue j in a record: a device, or "@relay". */
static size_t
fan_name(const struct lsn_fanout *f, size_t j, const char **pre, const char **name)
{
    *pre = f->relay != NULL ? "@" : "";
    *name = f->relay != NULL ? f->relay : f->devices[j];
    return strlen(*pre) + strlen(*name);
}

int
lsn_rec_msg_build(const struct lsn_rec_msg *h, const struct lsn_fanout *fan,
                  size_t n_fan, uint8_t **out, size_t *out_len)
{
    size_t len = LSN_REC_MSG_MK + h->mkl;
    uint32_t pending = 0;
    struct lsn_rec_cur c;
    const char *pre, *nm;
    uint8_t *m;
    int bad = 0;

    *out = NULL;
    *out_len = 0;
    if (n_fan > 0xffff || h->mkl > LSN_REC_MK_MAX)
        return LSN_ERR_LIMIT;
    for (size_t i = 0; i < n_fan; i++) {
        size_t nq = lsn_rec_fan_queues(&fan[i]);
        if (strlen(fan[i].org) > LSN_ENV_ORG_MAX || nq > 0xffff)
            return LSN_ERR_LIMIT;
        len += 1 + strlen(fan[i].org) + 2;
        for (size_t j = 0; j < nq; j++) {
            size_t nl = fan_name(&fan[i], j, &pre, &nm);
            if (nl > LSN_PEER_QUEUE_MAX)
                return LSN_ERR_LIMIT;
            len += 1 + nl + 1 + 8;
            pending++;
        }
    }
    if ((m = malloc(len)) == NULL)
        return LSN_ERR_NOMEM;
    lsn_rec_writer(&c, m, len);
    bad |= lsn_rec_put_u8(&c, LSN_REC_MSG_VERSION) != 0;
    bad |= lsn_rec_put_u8(&c, pending > 0 ? LSN_REC_LIVE : LSN_REC_DONE) != 0;
    bad |= lsn_rec_put_u64(&c, (uint64_t)h->accepted) != 0;
    bad |= lsn_rec_put_u64(&c, (uint64_t)h->expires) != 0;
    bad |= lsn_rec_put_u32(&c, h->size) != 0;
    bad |= lsn_rec_put_u32(&c, pending) != 0;
    bad |= lsn_rec_put_u16(&c, (uint16_t)n_fan) != 0;
    bad |= lsn_rec_put_u64(&c, h->num) != 0;
    bad |= lsn_rec_put_bytes(&c, h->mk, h->mkl) != 0;
    for (size_t i = 0; i < n_fan; i++) {
        size_t ol = strlen(fan[i].org), nq = lsn_rec_fan_queues(&fan[i]);
        bad |= lsn_rec_put_u8(&c, (uint8_t)ol) != 0;
        bad |= lsn_rec_put_bytes(&c, fan[i].org, ol) != 0;
        bad |= lsn_rec_put_u16(&c, (uint16_t)nq) != 0;
        for (size_t j = 0; j < nq; j++) {
            size_t nl = fan_name(&fan[i], j, &pre, &nm);
            bad |= lsn_rec_put_u8(&c, (uint8_t)nl) != 0;
            bad |= lsn_rec_put_bytes(&c, pre, strlen(pre)) != 0;
            bad |= lsn_rec_put_bytes(&c, nm, strlen(nm)) != 0;
            bad |= lsn_rec_put_u8(&c, LSN_REC_PENDING) != 0;
            bad |= lsn_rec_put_u64(&c, 0) != 0;   /* the seq: set once queued */
        }
    }
    if (bad || lsn_rec_left(&c) != 0) {
        free(m);
        return LSN_ERR_INTERNAL;
    }
    *out = m;
    *out_len = len;
    return 0;
}

int
lsn_rec_msg_set_state(uint8_t *m, size_t len, uint8_t state)
{
    struct lsn_rec_cur c;

    lsn_rec_writer(&c, m, len);
    if (lsn_rec_seek(&c, LSN_REC_MSG_STATE) != 0)
        return LSN_ERR_CORRUPT;
    return lsn_rec_put_u8(&c, state);
}

int
lsn_rec_msg_set_pending(uint8_t *m, size_t len, uint32_t pending)
{
    struct lsn_rec_cur c;

    lsn_rec_writer(&c, m, len);
    if (lsn_rec_seek(&c, LSN_REC_MSG_PENDING) != 0)
        return LSN_ERR_CORRUPT;
    return lsn_rec_put_u32(&c, pending);
}

/* ---------------------------------------------------------- queue item */

int
lsn_rec_item_decode(const uint8_t *v, size_t len, struct lsn_rec_item *it)
{
    struct lsn_rec_cur c;

    memset(it, 0, sizeof *it);
    lsn_rec_reader(&c, v, len);
    if (lsn_rec_get_u8(&c, &it->kind) != 0 || lsn_rec_get_mk(&c, &it->mk, &it->mkl) != 0) {
        it->mkl = 0;
        return LSN_ERR_CORRUPT;
    }
    if (it->kind == LSN_REC_KIND_MSG)
        return lsn_rec_get_be64(&c, &it->num) == 0 && lsn_rec_left(&c) == 0
                   ? 0 : LSN_ERR_CORRUPT;
    it->notice_len = lsn_rec_left(&c);
    return lsn_rec_get_bytes(&c, it->notice_len, &it->notice);
}

size_t
lsn_rec_item_len(const struct lsn_rec_item *it)
{
    return 1 + it->mkl + (it->kind == LSN_REC_KIND_MSG ? 8 : it->notice_len);
}

int
lsn_rec_item_encode(uint8_t *buf, size_t len, const struct lsn_rec_item *it)
{
    struct lsn_rec_cur c;
    int r;

    lsn_rec_writer(&c, buf, len);
    if ((r = lsn_rec_put_u8(&c, it->kind)) != 0 ||
        (r = lsn_rec_put_bytes(&c, it->mk, it->mkl)) != 0)
        return r;
    if (it->kind == LSN_REC_KIND_MSG)
        r = lsn_rec_put_be64(&c, it->num);
    else
        r = lsn_rec_put_bytes(&c, it->notice, it->notice_len);
    return r != 0 ? r : lsn_rec_left(&c) == 0 ? 0 : LSN_ERR_CORRUPT;
}

/* ---------------------------------------------------------- device record */

void
lsn_rec_dev_encode(uint8_t out[LSN_REC_DEV_LEN], const struct lsn_rec_dev *d)
{
    struct lsn_rec_cur c;

    lsn_rec_writer(&c, out, LSN_REC_DEV_LEN);
    (void)lsn_rec_put_u64(&c, d->next_seq);
    (void)lsn_rec_put_u64(&c, d->count);
    (void)lsn_rec_put_u64(&c, d->trimmed);
    (void)lsn_rec_put_u32(&c, d->n_refs);
    (void)lsn_rec_put_u32(&c, d->gap_base);
}

int
lsn_rec_dev_decode(const uint8_t *v, size_t len, struct lsn_rec_dev *d)
{
    struct lsn_rec_cur c;

    memset(d, 0, sizeof *d);
    if (len != LSN_REC_DEV_LEN)
        return LSN_ERR_CORRUPT;
    lsn_rec_reader(&c, v, len);
    if (lsn_rec_get_u64(&c, &d->next_seq) != 0 || lsn_rec_get_u64(&c, &d->count) != 0 ||
        lsn_rec_get_u64(&c, &d->trimmed) != 0 || lsn_rec_get_u32(&c, &d->n_refs) != 0 ||
        lsn_rec_get_u32(&c, &d->gap_base) != 0) {
        memset(d, 0, sizeof *d);
        return LSN_ERR_CORRUPT;
    }
    return 0;
}

/* ---------------------------------------------------------- quota record */

void
lsn_rec_quota_encode(uint8_t out[LSN_REC_QUOTA_LEN], const struct lsn_rec_quota *q)
{
    struct lsn_rec_cur c;

    lsn_rec_writer(&c, out, LSN_REC_QUOTA_LEN);
    (void)lsn_rec_put_u64(&c, q->msgs);
    (void)lsn_rec_put_u64(&c, q->bytes);
}

int
lsn_rec_quota_decode(const uint8_t *v, size_t len, struct lsn_rec_quota *q)
{
    struct lsn_rec_cur c;

    memset(q, 0, sizeof *q);
    if (len != LSN_REC_QUOTA_LEN)
        return LSN_ERR_CORRUPT;
    lsn_rec_reader(&c, v, len);
    if (lsn_rec_get_u64(&c, &q->msgs) != 0 || lsn_rec_get_u64(&c, &q->bytes) != 0) {
        memset(q, 0, sizeof *q);
        return LSN_ERR_CORRUPT;
    }
    return 0;
}

/* ---------------------------------------------------------- removed key */

size_t
lsn_rec_gone_encode(uint8_t out[LSN_REC_GONE_MAX], const struct lsn_rec_gone *g)
{
    struct lsn_rec_cur c;
    size_t ol = strnlen(g->org, sizeof g->org);

    if (ol == 0 || ol > LSN_ENV_ORG_MAX)
        return 0;
    lsn_rec_writer(&c, out, LSN_REC_GONE_MIN + ol);
    if (lsn_rec_put_u64(&c, g->seq) != 0 || lsn_rec_put_u64(&c, g->version) != 0 ||
        lsn_rec_put_u64(&c, (uint64_t)g->issued) != 0 ||
        lsn_rec_put_u8(&c, (uint8_t)ol) != 0)
        return 0;
    memcpy(out + LSN_REC_GONE_MIN, g->org, ol);
    return LSN_REC_GONE_MIN + ol;
}

int
lsn_rec_gone_decode(const uint8_t *v, size_t len, struct lsn_rec_gone *g)
{
    struct lsn_rec_cur c;
    uint64_t issued = 0;
    uint8_t ol = 0;
    const uint8_t *org = NULL;

    memset(g, 0, sizeof *g);
    lsn_rec_reader(&c, v, len);
    if (lsn_rec_get_u64(&c, &g->seq) != 0 || lsn_rec_get_u64(&c, &g->version) != 0 ||
        lsn_rec_get_u64(&c, &issued) != 0 || lsn_rec_get_u8(&c, &ol) != 0 ||
        ol == 0 || ol > LSN_ENV_ORG_MAX || lsn_rec_left(&c) != ol ||
        lsn_rec_get_bytes(&c, ol, &org) != 0 || memchr(org, '\0', ol) != NULL) {
        memset(g, 0, sizeof *g);
        return LSN_ERR_CORRUPT;
    }
    g->issued = (int64_t)issued;
    memcpy(g->org, org, ol);
    return 0;
}

/* ---------------------------------------------------------- counters */

void
lsn_rec_count_encode(uint8_t out[LSN_REC_COUNT_LEN], uint64_t v)
{
    struct lsn_rec_cur c;

    lsn_rec_writer(&c, out, LSN_REC_COUNT_LEN);
    (void)lsn_rec_put_u64(&c, v);
}

int
lsn_rec_count_decode(const uint8_t *v, size_t len, uint64_t *n)
{
    struct lsn_rec_cur c;

    *n = 0;
    if (len != LSN_REC_COUNT_LEN)
        return LSN_ERR_CORRUPT;
    lsn_rec_reader(&c, v, len);
    return lsn_rec_get_u64(&c, n);
}

/* ---------------------------------------------------------- envelope value */

void
lsn_rec_env_sum(uint8_t sum[LSN_REC_ENV_SUM], const uint8_t *mk, size_t mkl,
                const uint8_t *env, size_t len)
{
    struct lsn_rec_cur c;

    lsn_rec_writer(&c, sum, LSN_REC_ENV_SUM);
    (void)lsn_rec_put_u64(&c, lsn_store_checksum(env, len,
                                                 lsn_store_checksum(mk, mkl, 0)));
}

int
lsn_rec_env_check(const uint8_t *v, size_t len, const uint8_t *mk, size_t mkl,
                  const uint8_t **env, size_t *env_len)
{
    struct lsn_rec_cur c;
    uint64_t sum;

    *env = NULL;
    *env_len = 0;
    lsn_rec_reader(&c, v, len);
    if (lsn_rec_get_u64(&c, &sum) != 0 ||
        sum != lsn_store_checksum(c.p + c.off, lsn_rec_left(&c),
                                  lsn_store_checksum(mk, mkl, 0)))
        return LSN_ERR_CORRUPT;
    *env_len = lsn_rec_left(&c);
    return lsn_rec_get_bytes(&c, *env_len, env);
}

/* ---------------------------------------------------------- store format 5 */

/* Reverses the n bytes at the cursor (a big-endian number made
 * little-endian) and steps past them. */
static int
swap_n(struct lsn_rec_cur *c, size_t n)
{
    uint8_t b[8];

    if (n > sizeof b || c->w == NULL || !lsn_rec_has(c, n))
        return LSN_ERR_CORRUPT;
    for (size_t i = 0; i < n; i++)
        b[i] = c->p[c->off + n - 1 - i];
    return lsn_rec_put_bytes(c, b, n);
}

int
lsn_rec_msg_from_be(uint8_t *m, size_t len)
{
    struct lsn_rec_cur c;
    uint8_t ver, st;
    uint16_t n_rcpt, nd;
    const uint8_t *p;
    size_t mkl;

    /* Check first, then swap: a record damaged past reading stays as it
     * was.  The counts (n_rcpt, n_dev) were little-endian already. */
    if (lsn_rec_msg_walk(m, len, NULL, NULL) != 0)
        return LSN_ERR_CORRUPT;
    lsn_rec_writer(&c, m, len);
    if (lsn_rec_get_u8(&c, &ver) != 0 || lsn_rec_get_u8(&c, &st) != 0 ||
        swap_n(&c, 8) != 0 || swap_n(&c, 8) != 0 ||         /* accepted, expires */
        swap_n(&c, 4) != 0 || swap_n(&c, 4) != 0 ||         /* size, pending */
        lsn_rec_get_u16(&c, &n_rcpt) != 0 || swap_n(&c, 8) != 0 ||   /* num */
        lsn_rec_get_mk(&c, &p, &mkl) != 0)
        return LSN_ERR_CORRUPT;
    for (size_t i = 0; i < n_rcpt; i++) {
        uint8_t ol, nl;
        if (lsn_rec_get_u8(&c, &ol) != 0 || lsn_rec_get_bytes(&c, ol, &p) != 0 ||
            lsn_rec_get_u16(&c, &nd) != 0)
            return LSN_ERR_CORRUPT;
        for (size_t j = 0; j < nd; j++)
            if (lsn_rec_get_u8(&c, &nl) != 0 || lsn_rec_get_bytes(&c, nl, &p) != 0 ||
                lsn_rec_get_u8(&c, &st) != 0 || swap_n(&c, 8) != 0)   /* seq */
                return LSN_ERR_CORRUPT;
    }
    return 0;
}

int
lsn_rec_dev_from_be(uint8_t *v, size_t len)
{
    struct lsn_rec_cur c;

    if (len != LSN_REC_DEV_LEN)
        return LSN_ERR_CORRUPT;
    lsn_rec_writer(&c, v, len);
    return swap_n(&c, 8) == 0 && swap_n(&c, 8) == 0 && swap_n(&c, 8) == 0 &&
           swap_n(&c, 4) == 0 && swap_n(&c, 4) == 0 ? 0 : LSN_ERR_CORRUPT;
}

int
lsn_rec_quota_from_be(uint8_t *v, size_t len)
{
    struct lsn_rec_cur c;

    if (len != LSN_REC_QUOTA_LEN)
        return LSN_ERR_CORRUPT;
    lsn_rec_writer(&c, v, len);
    return swap_n(&c, 8) == 0 && swap_n(&c, 8) == 0 ? 0 : LSN_ERR_CORRUPT;
}
