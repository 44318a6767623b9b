/* test_grow.c: lsn_grow, the one way a list collected from a store walk
 * makes room: same block while there is room, doubling, and refusing an
 * overflowing size without losing what it holds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "keys/util.h"

static void
test_grow_first_then_doubles_keeping_elements(void **state)
{
    uint64_t *v = NULL, *p;
    size_t cap = 0;

    (void)state;
    for (size_t n = 0; n < 40; n++) {
        p = lsn_grow(v, &cap, n, sizeof *v, 4);
        assert_non_null(p);
        assert_true(cap > n);
        v = p;
        v[n] = n * 7;
    }
    assert_int_equal(cap, 64);      /* 4, 8, 16, 32, 64 */
    for (size_t n = 0; n < 40; n++)
        assert_int_equal(v[n], n * 7);
    free(v);
}

static void
test_grow_room_left_returns_same_block(void **state)
{
    size_t cap = 8;
    char *v = malloc(cap), *p;

    (void)state;
    assert_non_null(v);
    p = lsn_grow(v, &cap, 3, 1, 4);
    assert_ptr_equal(p, v);
    assert_int_equal(cap, 8);
    free(v);
}

static void
test_grow_overflow_refused_block_kept(void **state)
{
    size_t cap = (SIZE_MAX / 16) + 1;   /* doubling it times 8 overflows */
    uint64_t *v = malloc(16);

    (void)state;
    assert_non_null(v);
    v[0] = 42;
    assert_null(lsn_grow(v, &cap, cap, sizeof *v, 4));
    assert_int_equal(cap, (SIZE_MAX / 16) + 1);
    assert_int_equal(v[0], 42);     /* still ours, still whole */
    free(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_first_then_doubles_keeping_elements),
        cmocka_unit_test(test_grow_room_left_returns_same_block),
        cmocka_unit_test(test_grow_overflow_refused_block_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
