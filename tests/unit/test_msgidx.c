/* test_msgidx.c: the store's in-memory index of message records
 * (relay/msgidx.h) against a plain list doing the same: adds, removals,
 * shared hashes (long probe runs that wrap around the table), growth, and
 * taking back logged changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/err.h"
#include "relay/msgidx.h"

#define MODEL_MAX 6000

struct model {
    uint64_t h[MODEL_MAX], num[MODEL_MAX];
    size_t n;
};

static void
model_add(struct model *m, uint64_t h, uint64_t num)
{
    assert_true(m->n < MODEL_MAX);
    m->h[m->n] = h;
    m->num[m->n++] = num;
}

static void
model_del(struct model *m, uint64_t h, uint64_t num)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->h[i] == h && m->num[i] == num) {
            m->h[i] = m->h[m->n - 1];
            m->num[i] = m->num[m->n - 1];
            m->n--;
            return;
        }
}

/* Every hash the model holds lists exactly the model's numbers. */
static void
same(const struct lsn_msgidx *x, const struct model *m)
{
    assert_int_equal(lsn_msgidx_count(x), m->n);
    for (size_t i = 0; i < m->n; i++) {
        size_t pos = 0, got = 0, want = 0;
        uint64_t num;
        for (size_t j = 0; j < m->n; j++)
            want += m->h[j] == m->h[i];
        while (lsn_msgidx_next(x, m->h[i], &pos, &num)) {
            int listed = 0;
            for (size_t j = 0; j < m->n; j++)
                listed |= m->h[j] == m->h[i] && m->num[j] == num;
            assert_true(listed);
            got++;
        }
        assert_int_equal(got, want);
    }
}

/* Hashes from a small set, so many entries share one and runs collide;
 * some land near the table's end, so runs wrap around. */
static uint64_t
some_hash(uint32_t r)
{
    static const uint64_t pool[] = { 1, 2, 1023, 1022, 0x400, 0x7ff, 0xfffffffffffffbffull,
                                     0x123456789abcdef1ull, 0x8000000000000000ull };
    return r % 3 == 0 ? pool[r % (sizeof pool / sizeof pool[0])]
                      : ((uint64_t)r * 0x9e3779b97f4a7c15ull) | 1;
}

static void
test_msgidx_matches_a_list(void **state)
{
    static struct model m, kept;
    struct lsn_msgidx *x = NULL;
    uint64_t next_num = 1;

    (void)state;
    m.n = kept.n = 0;
    assert_int_equal(lsn_msgidx_new(&x), 0);
    for (int round = 0; round < 40; round++) {
        size_t mark = lsn_msgidx_mark(x);
        int take_back = round % 4 == 3;
        /* One "batch" of changes: mostly adds, some removals. */
        for (int k = 0; k < 150; k++) {
            uint32_t r = randombytes_random();
            if (m.n > 0 && r % 4 == 0) {
                size_t i = r % m.n;
                uint64_t h = m.h[i], num = m.num[i];
                assert_int_equal(lsn_msgidx_del(x, h, num), 0);
                model_del(&m, h, num);
            } else {
                uint64_t h = some_hash(r);
                assert_int_equal(lsn_msgidx_add(x, h, next_num), 0);
                model_add(&m, h, next_num++);
            }
        }
        /* Removing what is not there changes nothing. */
        assert_int_equal(lsn_msgidx_del(x, 77, 0), 0);
        if (take_back) {
            lsn_msgidx_undo(x, mark);
            m = kept;
        } else {
            lsn_msgidx_keep(x);
            kept = m;
        }
        if (round % 8 >= 6)         /* a kept batch and a taken-back one */
            same(x, &m);
    }
    assert_true(lsn_msgidx_count(x) > 1024);     /* it grew */
    /* Taking everything back to an earlier mark within a batch. */
    {
        size_t mark = lsn_msgidx_mark(x);
        for (size_t i = m.n; i-- > 0;)
            assert_int_equal(lsn_msgidx_del(x, m.h[i], m.num[i]), 0);
        assert_int_equal(lsn_msgidx_count(x), 0);
        lsn_msgidx_undo(x, mark);
        same(x, &m);
    }
    lsn_msgidx_free(&x);
    assert_null(x);
}

static void
test_msgidx_hash_is_keyed_and_never_zero(void **state)
{
    struct lsn_msgidx *x = NULL, *y = NULL;
    const uint8_t key[] = { 2, 'o', '1', 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9 };

    (void)state;
    assert_int_equal(lsn_msgidx_new(&x), 0);
    assert_int_equal(lsn_msgidx_new(&y), 0);
    assert_int_equal(lsn_msgidx_hash(x, key, sizeof key), lsn_msgidx_hash(x, key, sizeof key));
    /* Another process (another key) files the same msg_id elsewhere. */
    assert_int_not_equal(lsn_msgidx_hash(x, key, sizeof key), lsn_msgidx_hash(y, key, sizeof key));
    assert_int_not_equal(lsn_msgidx_hash(x, key, sizeof key), 0);
    lsn_msgidx_free(&x);
    lsn_msgidx_free(&y);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msgidx_matches_a_list),
        cmocka_unit_test(test_msgidx_hash_is_keyed_and_never_zero),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
