/* test_record.c: the relay store's value formats (relay/record.h) without
 * LMDB: the bounded cursor, a round trip of every kind of value, every
 * truncation refused, values written byte by byte in explicit
 * little-endian (as any machine, big-endian included, writes format 6)
 * decoding to the right numbers, a checksum mismatch refused, and the
 * byte-order repair of a format 5 value a big-endian machine wrote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/err.h"
#include "relay/record.h"
#include "relay/store.h"

/* ---------------------------------------------------------- helpers */

/* A byte string being built by hand. */
struct bytes {
    uint8_t b[512];
    size_t n;
};

static void
add_le(struct bytes *x, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++, v >>= 8)
        x->b[x->n++] = (uint8_t)v;
}

static void
add_be(struct bytes *x, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0;)
        x->b[x->n++] = (uint8_t)(v >> (8 * i));
}

static void
add_raw(struct bytes *x, const void *p, size_t n)
{
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void
add_name(struct bytes *x, const char *s)
{
    x->b[x->n++] = (uint8_t)strlen(s);
    add_raw(x, s, strlen(s));
}

/* The mk of org's message whose msg_id is 16 bytes of tag. */
static size_t
mk_of(uint8_t mk[LSN_REC_MK_MAX], const char *org, uint8_t tag)
{
    uint8_t id[LSN_MSG_ID_LEN];

    memset(id, tag, sizeof id);
    return lsn_rec_mk_make(mk, org, id);
}

/* What a walk saw, one line per org and entry: "org", "org/name=st:seq". */
struct seen {
    char text[1024];
    int set_seq;            /* nonzero: give entry k seq 100 + k */
    int k;
};

static int
seen_cb(void *ctx, const char *org, const char *name, struct lsn_rec_entry *e)
{
    struct seen *s = ctx;
    size_t n = strlen(s->text);

    if (name == NULL) {
        snprintf(s->text + n, sizeof s->text - n, "%s;", org);
        return 0;
    }
    if (s->set_seq)
        e->seq = 100 + (uint64_t)s->k;
    s->k++;
    snprintf(s->text + n, sizeof s->text - n, "%s/%s=%u:%llu;", org, name,
             (unsigned)e->state, (unsigned long long)e->seq);
    return 0;
}

static int
mark_cb(void *ctx, const char *org, const char *name, struct lsn_rec_entry *e)
{
    (void)ctx;
    (void)org;
    if (name != NULL)
        e->state = LSN_REC_ACKED;
    return 0;
}

/* A record of org "o1" msg 0x11 for o2 (devices d1, d2), o3 and o4 (homed
 * on relay r2) and o5 (no device), with its entries' seqs set. */
static const char *const devs[] = { "d1", "d2" };

static void
build_msg(uint8_t **m, size_t *ml, uint8_t mk[LSN_REC_MK_MAX])
{
    struct lsn_fanout fan[4] = {
        { "o2", 2, devs, NULL }, { "o3", 0, NULL, "r2" }, { "o4", 0, NULL, "r2" },
        { "o5", 0, NULL, NULL },
    };
    struct lsn_rec_msg h = { 0 };
    struct seen s = { "", 1, 0 };

    h.accepted = 1700000000;
    h.expires = -5;
    h.size = 1234;
    h.num = 0x0102030405060708ull;
    h.mkl = mk_of(mk, "o1", 0x11);
    h.mk = mk;
    assert_int_equal(lsn_rec_msg_build(&h, fan, 4, m, ml), 0);
    assert_int_equal(lsn_rec_msg_update(*m, *ml, seen_cb, &s), 0);
}

/* ---------------------------------------------------------- the cursor */

static void
test_record_cursor_refuses_past_the_end(void **state)
{
    uint8_t buf[5] = { 1, 2, 3, 4, 5 };
    struct lsn_rec_cur c;
    const uint8_t *p;
    uint64_t v64;
    uint32_t v32;
    uint16_t v16;
    uint8_t v8;

    (void)state;
    lsn_rec_reader(&c, buf, sizeof buf);
    assert_int_equal(lsn_rec_get_u64(&c, &v64), LSN_ERR_CORRUPT);
    assert_int_equal(c.off, 0);
    assert_int_equal(lsn_rec_get_u32(&c, &v32), 0);
    assert_int_equal(v32, 0x04030201u);
    assert_int_equal(lsn_rec_get_u16(&c, &v16), LSN_ERR_CORRUPT);
    assert_int_equal(lsn_rec_get_bytes(&c, 2, &p), LSN_ERR_CORRUPT);
    assert_int_equal(lsn_rec_get_be64(&c, &v64), LSN_ERR_CORRUPT);
    assert_int_equal(c.off, 4);
    assert_int_equal(lsn_rec_get_u8(&c, &v8), 0);
    assert_int_equal(v8, 5);
    assert_int_equal(lsn_rec_get_u8(&c, &v8), LSN_ERR_CORRUPT);
    assert_int_equal(lsn_rec_seek(&c, 6), LSN_ERR_CORRUPT);
    assert_int_equal(c.off, 5);
    /* A reader never writes; a writer stops at its end. */
    assert_int_equal(lsn_rec_seek(&c, 0), 0);
    assert_int_equal(lsn_rec_put_u8(&c, 9), LSN_ERR_CORRUPT);
    assert_int_equal(buf[0], 1);
    lsn_rec_writer(&c, buf, sizeof buf);
    assert_int_equal(lsn_rec_put_u32(&c, 0xa1a2a3a4u), 0);
    assert_int_equal(lsn_rec_put_u16(&c, 7), LSN_ERR_CORRUPT);
    assert_int_equal(lsn_rec_put_be64(&c, 7), LSN_ERR_CORRUPT);
    assert_int_equal(lsn_rec_put_bytes(&c, "ab", 2), LSN_ERR_CORRUPT);
    assert_int_equal(c.off, 4);
    assert_memory_equal(buf, "\xa4\xa3\xa2\xa1\x05", 5);
}

/* ---------------------------------------------------------- round trips */

static void
test_record_msg_round_trip(void **state)
{
    uint8_t mk[LSN_REC_MK_MAX], *m = NULL, *none = NULL;
    struct lsn_rec_msg h, h0 = { 0 };
    struct seen s = { "", 0, 0 };
    size_t ml, nl;

    (void)state;
    build_msg(&m, &ml, mk);
    assert_int_equal(lsn_rec_msg_head(m, ml, &h), 0);
    assert_int_equal(h.state, LSN_REC_LIVE);
    assert_int_equal(h.accepted, 1700000000);
    assert_int_equal(h.expires, -5);
    assert_int_equal(h.size, 1234);
    assert_int_equal(h.pending, 4);
    assert_int_equal(h.n_rcpt, 4);
    assert_int_equal(h.num, 0x0102030405060708ull);
    assert_int_equal(h.mkl, 1 + 2 + LSN_MSG_ID_LEN);
    assert_memory_equal(h.mk, mk, h.mkl);
    assert_int_equal(lsn_rec_msg_walk(m, ml, seen_cb, &s), 0);
    assert_string_equal(s.text, "o2;o2/d1=0:100;o2/d2=0:101;o3;o3/@r2=0:102;"
                                "o4;o4/@r2=0:103;o5;");
    /* States, pending and state change in place, and read back. */
    assert_int_equal(lsn_rec_msg_update(m, ml, mark_cb, NULL), 0);
    assert_int_equal(lsn_rec_msg_set_pending(m, ml, 0), 0);
    assert_int_equal(lsn_rec_msg_set_state(m, ml, LSN_REC_DONE), 0);
    assert_int_equal(lsn_rec_msg_head(m, ml, &h), 0);
    assert_int_equal(h.state, LSN_REC_DONE);
    assert_int_equal(h.pending, 0);
    s.text[0] = '\0';
    assert_int_equal(lsn_rec_msg_walk(m, ml, seen_cb, &s), 0);
    assert_string_equal(s.text, "o2;o2/d1=1:100;o2/d2=1:101;o3;o3/@r2=1:102;"
                                "o4;o4/@r2=1:103;o5;");
    /* A read-only walk refuses a change rather than drop it. */
    assert_int_equal(lsn_rec_msg_walk(m, ml, mark_cb, NULL), 0);
    s.set_seq = 1;
    s.k = 7;
    assert_int_equal(lsn_rec_msg_walk(m, ml, seen_cb, &s), LSN_ERR_INTERNAL);
    /* No queue at all: a tombstone from the start. */
    h0.mk = mk;
    h0.mkl = h.mkl;
    assert_int_equal(lsn_rec_msg_build(&h0, NULL, 0, &none, &nl), 0);
    assert_int_equal(nl, LSN_REC_MSG_MK + h.mkl);
    assert_int_equal(lsn_rec_msg_head(none, nl, &h), 0);
    assert_int_equal(h.state, LSN_REC_DONE);
    assert_int_equal(lsn_rec_msg_walk(none, nl, NULL, NULL), 0);
    free(none);
    free(m);
}

static void
test_record_item_dev_quota_count_mk_round_trip(void **state)
{
    uint8_t mk[LSN_REC_MK_MAX], buf[128], id[LSN_MSG_ID_LEN];
    uint8_t dv[LSN_REC_DEV_LEN], qv[LSN_REC_QUOTA_LEN], cv[LSN_REC_COUNT_LEN];
    struct lsn_rec_item it = { LSN_REC_KIND_MSG, mk, 0, 0xfedcba9876543210ull, NULL, 0 };
    struct lsn_rec_item back;
    struct lsn_rec_dev d = { 1ull << 40, 7, 3, 2, 0xfffffffeu }, d2;
    struct lsn_rec_quota q = { 5, 1ull << 33 }, q2;
    char org[LSN_ENV_ORG_MAX + 1], longorg[100];
    uint64_t n;
    size_t len;

    (void)state;
    it.mkl = mk_of(mk, "acme", 0x22);
    len = lsn_rec_item_len(&it);
    assert_int_equal(len, 1 + it.mkl + 8);
    assert_int_equal(lsn_rec_item_encode(buf, len, &it), 0);
    assert_int_equal(lsn_rec_item_decode(buf, len, &back), 0);
    assert_int_equal(back.kind, LSN_REC_KIND_MSG);
    assert_int_equal(back.mkl, it.mkl);
    assert_memory_equal(back.mk, mk, it.mkl);
    assert_int_equal(back.num, it.num);
    /* The number is the env table's key: big-endian. */
    assert_memory_equal(buf + 1 + it.mkl, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);
    it.kind = LSN_REC_KIND_NOTICE;
    it.notice = (const uint8_t *)"notice bytes";
    it.notice_len = 12;
    len = lsn_rec_item_len(&it);
    assert_int_equal(lsn_rec_item_encode(buf, len, &it), 0);
    assert_int_equal(lsn_rec_item_encode(buf, len - 1, &it), LSN_ERR_CORRUPT);
    assert_int_equal(lsn_rec_item_decode(buf, len, &back), 0);
    assert_int_equal(back.kind, LSN_REC_KIND_NOTICE);
    assert_int_equal(back.notice_len, 12);
    assert_memory_equal(back.notice, "notice bytes", 12);

    lsn_rec_dev_encode(dv, &d);
    assert_int_equal(lsn_rec_dev_decode(dv, sizeof dv, &d2), 0);
    assert_memory_equal(&d, &d2, sizeof d);
    lsn_rec_quota_encode(qv, &q);
    assert_int_equal(lsn_rec_quota_decode(qv, sizeof qv, &q2), 0);
    assert_memory_equal(&q, &q2, sizeof q);
    lsn_rec_count_encode(cv, 0x8000000000000001ull);
    assert_int_equal(lsn_rec_count_decode(cv, sizeof cv, &n), 0);
    assert_int_equal(n, 0x8000000000000001ull);

    assert_int_equal(lsn_rec_mk_split(mk, it.mkl, org, id), 0);
    assert_string_equal(org, "acme");
    assert_int_equal(id[15], 0x22);
    assert_int_equal(lsn_rec_mk_split(mk, it.mkl + 1, org, id), LSN_ERR_CORRUPT);
    /* An org too long for the format is cut, never written past. */
    memset(longorg, 'x', sizeof longorg - 1);
    longorg[sizeof longorg - 1] = '\0';
    assert_int_equal(mk_of(mk, longorg, 1), LSN_REC_MK_MAX);
    assert_int_equal(mk[0], LSN_ENV_ORG_MAX);
}

/* ---------------------------------------------------------- truncation */

static void
test_record_every_truncation_refused(void **state)
{
    uint8_t mk[LSN_REC_MK_MAX], buf[128], *m = NULL, val[64], env[40];
    struct lsn_rec_item it = { LSN_REC_KIND_MSG, mk, 0, 9, NULL, 0 }, back;
    struct lsn_rec_dev d;
    struct lsn_rec_quota q;
    struct lsn_rec_msg h;
    const uint8_t *e;
    char org[LSN_ENV_ORG_MAX + 1];
    uint8_t id[LSN_MSG_ID_LEN];
    uint64_t n;
    size_t ml, len, el, mkl;

    (void)state;
    build_msg(&m, &ml, mk);
    for (size_t cut = 0; cut < ml; cut++) {
        assert_int_equal(lsn_rec_msg_walk(m, cut, NULL, NULL), LSN_ERR_CORRUPT);
        if (cut < LSN_REC_MSG_MK + 1 + 2 + LSN_MSG_ID_LEN)
            assert_int_equal(lsn_rec_msg_head(m, cut, &h), LSN_ERR_CORRUPT);
    }
    /* A byte too many is damage too. */
    assert_non_null(m = realloc(m, ml + 1));
    m[ml] = 0;
    assert_int_equal(lsn_rec_msg_walk(m, ml + 1, NULL, NULL), LSN_ERR_CORRUPT);
    free(m);

    mkl = it.mkl = mk_of(mk, "o1", 3);
    len = lsn_rec_item_len(&it);
    assert_int_equal(lsn_rec_item_encode(buf, len, &it), 0);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(lsn_rec_item_decode(buf, cut, &back), LSN_ERR_CORRUPT);
        /* Cut inside the number, the kind and mk still read. */
        assert_int_equal(back.mkl, cut >= 1 + mkl ? mkl : 0);
    }
    /* A notice is the rest of the value: only its kind and mk can be cut. */
    buf[0] = LSN_REC_KIND_NOTICE;
    for (size_t cut = 0; cut < 1 + mkl; cut++)
        assert_int_equal(lsn_rec_item_decode(buf, cut, &back), LSN_ERR_CORRUPT);
    assert_int_equal(lsn_rec_item_decode(buf, 1 + mkl, &back), 0);
    assert_int_equal(back.notice_len, 0);

    memset(val, 0, sizeof val);
    for (size_t cut = 0; cut < sizeof val; cut++) {
        assert_int_equal(lsn_rec_dev_decode(val, cut, &d),
                         cut == LSN_REC_DEV_LEN ? 0 : LSN_ERR_CORRUPT);
        assert_int_equal(lsn_rec_quota_decode(val, cut, &q),
                         cut == LSN_REC_QUOTA_LEN ? 0 : LSN_ERR_CORRUPT);
        assert_int_equal(lsn_rec_count_decode(val, cut, &n),
                         cut == LSN_REC_COUNT_LEN ? 0 : LSN_ERR_CORRUPT);
    }
    for (size_t cut = 0; cut < mkl; cut++)
        assert_int_equal(lsn_rec_mk_split(mk, cut, org, id), LSN_ERR_CORRUPT);

    memset(env, 0x5a, sizeof env);
    lsn_rec_env_sum(val, mk, mkl, env + LSN_REC_ENV_SUM, sizeof env - LSN_REC_ENV_SUM);
    memcpy(env, val, LSN_REC_ENV_SUM);
    assert_int_equal(lsn_rec_env_check(env, sizeof env, mk, mkl, &e, &el), 0);
    for (size_t cut = 0; cut < sizeof env; cut++)
        assert_int_equal(lsn_rec_env_check(env, cut, mk, mkl, &e, &el), LSN_ERR_CORRUPT);
}

/* ---------------------------------------------------------- little-endian */

/* Values built byte by byte, every number little-endian as format 6 holds
 * it on any machine (a big-endian one included): they decode to the
 * numbers, and the encoders write exactly these bytes. */
static void
test_record_explicit_little_endian_decodes(void **state)
{
    struct bytes x = { { 0 }, 0 };
    struct lsn_rec_msg h;
    struct lsn_rec_dev d, dw = { 0x1112131415161718ull, 0x2122232425262728ull,
                                 0x3132333435363738ull, 0x41424344u, 0x51525354u };
    struct lsn_rec_quota q, qw = { 0x0a0b0c0d0e0f1011ull, 0x1213141516171819ull };
    struct seen s = { "", 0, 0 };
    uint8_t mk[LSN_REC_MK_MAX], *m = NULL, out[LSN_REC_DEV_LEN];
    struct lsn_fanout fan[2] = { { "ab", 1, devs, NULL }, { "cd", 0, NULL, "r9" } };
    struct lsn_rec_msg hw = { 0 };
    uint64_t n;
    size_t ml;

    (void)state;
    add_le(&x, LSN_REC_MSG_VERSION, 1);
    add_le(&x, LSN_REC_LIVE, 1);
    add_le(&x, 0x0102030405060708ull, 8);           /* accepted */
    add_le(&x, (uint64_t)-2, 8);                    /* expires */
    add_le(&x, 0xa1a2a3a4u, 4);                     /* size */
    add_le(&x, 2, 4);                               /* pending */
    add_le(&x, 2, 2);                               /* n_rcpt */
    add_le(&x, 0xb1b2b3b4b5b6b7b8ull, 8);           /* num */
    assert_int_equal(x.n, LSN_REC_MSG_MK);
    add_raw(&x, mk, mk_of(mk, "zz", 0x33));
    add_name(&x, "ab");
    add_le(&x, 1, 2);
    add_name(&x, "d1");
    add_le(&x, LSN_REC_PENDING, 1);
    add_le(&x, 100, 8);
    add_name(&x, "cd");
    add_le(&x, 1, 2);
    add_name(&x, "@r9");
    add_le(&x, LSN_REC_PENDING, 1);
    add_le(&x, 0x0000010000000001ull, 8);
    assert_int_equal(lsn_rec_msg_head(x.b, x.n, &h), 0);
    assert_int_equal(h.accepted, 0x0102030405060708ll);
    assert_int_equal(h.expires, -2);
    assert_int_equal(h.size, 0xa1a2a3a4u);
    assert_int_equal(h.pending, 2);
    assert_int_equal(h.n_rcpt, 2);
    assert_int_equal(h.num, 0xb1b2b3b4b5b6b7b8ull);
    assert_int_equal(lsn_rec_msg_walk(x.b, x.n, seen_cb, &s), 0);
    assert_string_equal(s.text, "ab;ab/d1=0:100;cd;cd/@r9=0:1099511627777;");
    /* The encoder writes the same bytes. */
    hw.accepted = h.accepted;
    hw.expires = h.expires;
    hw.size = h.size;
    hw.num = h.num;
    hw.mk = h.mk;
    hw.mkl = h.mkl;
    assert_int_equal(lsn_rec_msg_build(&hw, fan, 2, &m, &ml), 0);
    assert_int_equal(ml, x.n);
    /* Seqs as in x, through the writer. */
    {
        struct lsn_rec_cur c;
        lsn_rec_writer(&c, m, ml);
        assert_int_equal(lsn_rec_seek(&c, ml - 8), 0);
        assert_int_equal(lsn_rec_put_u64(&c, 0x0000010000000001ull), 0);
        assert_int_equal(lsn_rec_seek(&c, LSN_REC_MSG_MK + h.mkl + 3 + 2 + 3 + 1), 0);
        assert_int_equal(lsn_rec_put_u64(&c, 100), 0);
    }
    assert_memory_equal(m, x.b, x.n);
    free(m);

    x.n = 0;
    add_le(&x, dw.next_seq, 8);
    add_le(&x, dw.count, 8);
    add_le(&x, dw.trimmed, 8);
    add_le(&x, dw.n_refs, 4);
    add_le(&x, dw.gap_base, 4);
    assert_int_equal(lsn_rec_dev_decode(x.b, x.n, &d), 0);
    assert_memory_equal(&d, &dw, sizeof d);
    lsn_rec_dev_encode(out, &dw);
    assert_memory_equal(out, x.b, LSN_REC_DEV_LEN);

    x.n = 0;
    add_le(&x, qw.msgs, 8);
    add_le(&x, qw.bytes, 8);
    assert_int_equal(lsn_rec_quota_decode(x.b, x.n, &q), 0);
    assert_memory_equal(&q, &qw, sizeof q);
    lsn_rec_quota_encode(out, &qw);
    assert_memory_equal(out, x.b, LSN_REC_QUOTA_LEN);

    x.n = 0;
    add_le(&x, 0x0102030405060708ull, 8);
    assert_int_equal(lsn_rec_count_decode(x.b, x.n, &n), 0);
    assert_int_equal(n, 0x0102030405060708ull);
    lsn_rec_count_encode(out, n);
    assert_memory_equal(out, x.b, LSN_REC_COUNT_LEN);
}

/* ---------------------------------------------------------- checksum */

static void
test_record_checksum_mismatch_refused(void **state)
{
    uint8_t mk[LSN_REC_MK_MAX], other[LSN_REC_MK_MAX], v[LSN_REC_ENV_SUM + 100];
    size_t mkl = mk_of(mk, "o1", 1), ol = mk_of(other, "o1", 2), el;
    const uint8_t *e;
    uint64_t sum;
    struct lsn_rec_cur c;

    (void)state;
    for (size_t i = 0; i < 100; i++)
        v[LSN_REC_ENV_SUM + i] = (uint8_t)(i * 7);
    lsn_rec_env_sum(v, mk, mkl, v + LSN_REC_ENV_SUM, 100);
    /* The sum is the documented checksum, stored little-endian. */
    lsn_rec_reader(&c, v, sizeof v);
    assert_int_equal(lsn_rec_get_u64(&c, &sum), 0);
    assert_int_equal(sum, lsn_store_checksum(v + LSN_REC_ENV_SUM, 100,
                                             lsn_store_checksum(mk, mkl, 0)));
    assert_int_equal(lsn_rec_env_check(v, sizeof v, mk, mkl, &e, &el), 0);
    assert_ptr_equal(e, v + LSN_REC_ENV_SUM);
    assert_int_equal(el, 100);
    /* Another message's envelope, any byte changed: refused. */
    assert_int_equal(lsn_rec_env_check(v, sizeof v, other, ol, &e, &el), LSN_ERR_CORRUPT);
    assert_null(e);
    for (size_t i = 0; i < sizeof v; i++) {
        v[i] ^= 0x01;
        assert_int_equal(lsn_rec_env_check(v, sizeof v, mk, mkl, &e, &el), LSN_ERR_CORRUPT);
        v[i] ^= 0x01;
    }
}

/* ---------------------------------------------------------- damage */

static void
test_record_damaged_message_refused(void **state)
{
    uint8_t mk[LSN_REC_MK_MAX], *m = NULL, *d;
    struct lsn_rec_msg h;
    size_t ml, org_at;

    (void)state;
    build_msg(&m, &ml, mk);
    assert_non_null(d = malloc(ml));
    org_at = LSN_REC_MSG_MK + 1 + 2 + LSN_MSG_ID_LEN;
    /* Another version; an mk org, a recipient org or a device name longer
     * than the format allows; more recipients than the record holds. */
    memcpy(d, m, ml);
    d[LSN_REC_MSG_VER] = LSN_REC_MSG_VERSION + 1;
    assert_int_equal(lsn_rec_msg_head(d, ml, &h), LSN_ERR_CORRUPT);
    memcpy(d, m, ml);
    d[LSN_REC_MSG_MK] = LSN_ENV_ORG_MAX + 1;
    assert_int_equal(lsn_rec_msg_head(d, ml, &h), LSN_ERR_CORRUPT);
    memcpy(d, m, ml);
    d[org_at] = LSN_ENV_ORG_MAX + 1;
    assert_int_equal(lsn_rec_msg_walk(d, ml, NULL, NULL), LSN_ERR_CORRUPT);
    memcpy(d, m, ml);
    d[org_at + 1 + 2 + 2] = LSN_PEER_QUEUE_MAX + 1;
    assert_int_equal(lsn_rec_msg_walk(d, ml, NULL, NULL), LSN_ERR_CORRUPT);
    memcpy(d, m, ml);
    d[LSN_REC_MSG_NRCPT] = 5;
    assert_int_equal(lsn_rec_msg_walk(d, ml, NULL, NULL), LSN_ERR_CORRUPT);
    d[LSN_REC_MSG_NRCPT] = 3;
    assert_int_equal(lsn_rec_msg_walk(d, ml, NULL, NULL), LSN_ERR_CORRUPT);
    free(d);
    free(m);
}

/* ---------------------------------------------------------- format 5 */

/* A format 5 record as a big-endian machine wrote it: the head numbers and
 * the seqs in its byte order, the counts (n_rcpt, n_dev) little-endian. */
static void
test_record_format5_big_endian_values_repaired(void **state)
{
    struct bytes x = { { 0 }, 0 };
    uint8_t mk[LSN_REC_MK_MAX];
    struct lsn_rec_msg h;
    struct lsn_rec_dev d;
    struct lsn_rec_quota q;
    struct seen s = { "", 0, 0 };

    (void)state;
    add_le(&x, LSN_REC_MSG_VERSION, 1);
    add_le(&x, LSN_REC_LIVE, 1);
    add_be(&x, 1700000001, 8);
    add_be(&x, 1700003601, 8);
    add_be(&x, 777, 4);
    add_be(&x, 1, 4);
    add_le(&x, 1, 2);
    add_be(&x, 42, 8);
    add_raw(&x, mk, mk_of(mk, "o1", 0x44));
    add_name(&x, "o2");
    add_le(&x, 1, 2);
    add_name(&x, "d1");
    add_le(&x, LSN_REC_PENDING, 1);
    add_be(&x, 9, 8);
    assert_int_equal(lsn_rec_msg_from_be(x.b, x.n), 0);
    assert_int_equal(lsn_rec_msg_head(x.b, x.n, &h), 0);
    assert_int_equal(h.accepted, 1700000001);
    assert_int_equal(h.expires, 1700003601);
    assert_int_equal(h.size, 777);
    assert_int_equal(h.pending, 1);
    assert_int_equal(h.num, 42);
    assert_int_equal(lsn_rec_msg_walk(x.b, x.n, seen_cb, &s), 0);
    assert_string_equal(s.text, "o2;o2/d1=0:9;");
    /* A record damaged past reading is left as found. */
    x.b[LSN_REC_MSG_VER] = 9;
    assert_int_equal(lsn_rec_msg_from_be(x.b, x.n), LSN_ERR_CORRUPT);
    assert_int_equal(x.b[LSN_REC_MSG_ACCEPTED], 0x01);     /* still as found */

    x.n = 0;
    add_be(&x, 5, 8);
    add_be(&x, 4, 8);
    add_be(&x, 3, 8);
    add_be(&x, 2, 4);
    add_be(&x, 1, 4);
    assert_int_equal(lsn_rec_dev_from_be(x.b, x.n), 0);
    assert_int_equal(lsn_rec_dev_decode(x.b, x.n, &d), 0);
    assert_int_equal(d.next_seq, 5);
    assert_int_equal(d.count, 4);
    assert_int_equal(d.trimmed, 3);
    assert_int_equal(d.n_refs, 2);
    assert_int_equal(d.gap_base, 1);
    assert_int_equal(lsn_rec_dev_from_be(x.b, x.n - 1), LSN_ERR_CORRUPT);

    x.n = 0;
    add_be(&x, 6, 8);
    add_be(&x, 6000, 8);
    assert_int_equal(lsn_rec_quota_from_be(x.b, x.n), 0);
    assert_int_equal(lsn_rec_quota_decode(x.b, x.n, &q), 0);
    assert_int_equal(q.msgs, 6);
    assert_int_equal(q.bytes, 6000);
    assert_int_equal(lsn_rec_quota_from_be(x.b, x.n + 1), LSN_ERR_CORRUPT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_cursor_refuses_past_the_end),
        cmocka_unit_test(test_record_msg_round_trip),
        cmocka_unit_test(test_record_item_dev_quota_count_mk_round_trip),
        cmocka_unit_test(test_record_every_truncation_refused),
        cmocka_unit_test(test_record_explicit_little_endian_decodes),
        cmocka_unit_test(test_record_checksum_mismatch_refused),
        cmocka_unit_test(test_record_damaged_message_refused),
        cmocka_unit_test(test_record_format5_big_endian_values_repaired),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
