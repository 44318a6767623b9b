/* test_api.c: the C library's alert builder (include/liaison.h) refuses
 * at once what sending would refuse, with a sentence saying why, and
 * keeps its limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "liaison.h"

static void
test_api_attachment_names_checked_when_added(void **state)
{
    static const char *const bad_names[] = { "../x", "a/b", "a\\b", ".", "..", "", "a\nb" };
    lsn_alert *a = NULL;
    char name[32];

    (void)state;
    assert_int_equal(lsn_alert_new(&a), 0);
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        assert_int_equal(lsn_alert_add_attachment(a, bad_names[i], NULL, "x", 1),
                         LSN_ERR_INVALID);
        assert_non_null(strstr(lsn_session_detail(), "want a file name"));
    }
    assert_int_equal(lsn_alert_add_attachment(a, NULL, NULL, "x", 1), LSN_ERR_INVALID);
    assert_int_equal(lsn_alert_add_attachment(a, "ok.txt", "text plain", "x", 1),
                     LSN_ERR_INVALID);
    assert_int_equal(lsn_alert_add_attachment(a, "ok.txt", "", "x", 1), LSN_ERR_INVALID);
    assert_int_equal(lsn_alert_add_attachment(a, "ok.txt", NULL, NULL, 1), LSN_ERR_INVALID);
    /* A zero-length file and a type from the extension are fine. */
    assert_int_equal(lsn_alert_add_attachment(a, "empty.csv", NULL, NULL, 0), 0);
    assert_int_equal(lsn_alert_add_attachment(a, "x.bin", "application/x-thing", "x", 1), 0);
    /* At most 32. */
    for (int i = 2; i < 32; i++) {
        snprintf(name, sizeof name, "f%d.txt", i);
        assert_int_equal(lsn_alert_add_attachment(a, name, NULL, "abc", 3), 0);
    }
    assert_int_equal(lsn_alert_add_attachment(a, "one-more.txt", NULL, "abc", 3),
                     LSN_ERR_LIMIT);
    lsn_alert_destroy(&a);
    assert_null(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_attachment_names_checked_when_added),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
