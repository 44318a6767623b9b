/* test_armor.c: the text armor of every liaison file: round trips, the
 * size cap, hostile text (wrong label or version, no end line, junk after
 * it, comments inside the data), and the cost of a decode following its
 * input rather than its cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/armor.h"
#include "proto/err.h"

static int
setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static int
decode(const char *label, const char *text, size_t max, uint8_t **bin,
       size_t *n)
{
    return lsn_armor_decode(label, (const uint8_t *)text, strlen(text), max,
                            bin, n);
}

static void
test_armor_roundtrip_with_comments_and_crlf(void **state)
{
    uint8_t data[200], *bin = NULL;
    char *text = NULL;
    size_t tn = 0, n = 0;

    (void)state;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    assert_int_equal(lsn_armor_encode("public-key", "one\ntwo", data,
                                      sizeof data, &text, &tn), 0);
    assert_int_equal(decode("public-key", text, sizeof data, &bin, &n), 0);
    assert_int_equal(n, sizeof data);
    assert_memory_equal(bin, data, n);
    free(bin);
    free(text);
    assert_int_equal(decode("x", "liaison-x v1\r\n# c\r\nQUJD\r\nend\r\n", 16,
                            &bin, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(bin, "ABC", 3);
    free(bin);
}

/* A decode allocates (and wipes) room for the text it is given, not for
 * `max` bytes of base64 (megabytes per small key file), so a small text
 * under a cap far beyond memory decodes instead of failing the
 * allocation. */
static void
test_armor_small_text_under_huge_cap(void **state)
{
    uint8_t *bin = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(decode("x", "liaison-x v1\nQUJD\nend\n", (size_t)1 << 40,
                            &bin, &n), 0);
    assert_int_equal(n, 3);
    free(bin);
}

static void
test_armor_cap_enforced(void **state)
{
    uint8_t *bin = NULL;
    size_t n = 0;

    (void)state;
    /* 48 bytes of base64 are 36 bytes of data: over a 16-byte cap. */
    assert_int_equal(decode("x", "liaison-x v1\n"
                            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlq\n"
                            "end\n", 16, &bin, &n), LSN_ERR_TOO_LARGE);
    assert_null(bin);
    assert_int_equal(n, 0);
}

static void
test_armor_hostile_text_refused(void **state)
{
    uint8_t *bin = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(decode("x", "liaison-y v1\nQUJD\nend\n", 16, &bin, &n),
                     LSN_ERR_WRONG_KIND);
    assert_int_equal(decode("x", "liaison-x v2\nQUJD\nend\n", 16, &bin, &n),
                     LSN_ERR_VERSION);
    assert_int_equal(decode("x", "liaison-x v1\nQUJD\n", 16, &bin, &n),
                     LSN_ERR_TRUNCATED);
    assert_int_equal(decode("x", "liaison-x v1\nQUJD\nend\njunk\n", 16, &bin,
                            &n), LSN_ERR_MALFORMED);
    assert_int_equal(decode("x", "liaison-x v1\nQUJD\n# late\nend\n", 16, &bin,
                            &n), LSN_ERR_MALFORMED);
    assert_int_equal(decode("x", "liaison-x v1\nQU*D\nend\n", 16, &bin, &n),
                     LSN_ERR_MALFORMED);
    assert_int_equal(decode("x", "", 16, &bin, &n), LSN_ERR_TRUNCATED);
    assert_null(bin);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_armor_roundtrip_with_comments_and_crlf),
        cmocka_unit_test(test_armor_small_text_under_huge_cap),
        cmocka_unit_test(test_armor_cap_enforced),
        cmocka_unit_test(test_armor_hostile_text_refused),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
