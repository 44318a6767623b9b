/* test_json.c: the --json writer (keys/json.c): sender-chosen text with
 * invalid UTF-8 becomes U+FFFD instead of being dropped or refused, and
 * an object is written compact, escaped, on one line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "keys/json.h"
#include "proto/err.h"

/* What lsn_json_print writes for v. */
static char *
printed(json_t *v)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);

    assert_non_null(f);
    assert_int_equal(lsn_json_print(f, v), 0);
    fclose(f);
    return buf;
}

static void
test_json_invalid_utf8_replaced(void **state)
{
    /* A lone continuation byte, a truncated sequence, an overlong '/',
     * a surrogate and a byte past U+10FFFF, between valid text. */
    json_t *v = lsn_json_text("a\x80" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf5" "f\xc3\xa9");
    const char *s;

    (void)state;
    assert_non_null(v);
    s = json_string_value(v);
    assert_string_equal(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
                           "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "e\xef\xbf\xbd" "f\xc3\xa9");
    json_decref(v);
    v = lsn_json_text(NULL);
    assert_string_equal(json_string_value(v), "");
    json_decref(v);
}

static void
test_json_one_escaped_line(void **state)
{
    char *out;

    (void)state;
    out = printed(json_pack("{s:o, s:I, s:b, s:[]}", "title",
                            lsn_json_text("q\"\\\n\x1b[2J\xff"), "n", (json_int_t)-14,
                            "read", 0, "to"));
    assert_string_equal(out, "{\"title\":\"q\\\"\\\\\\n\\u001B[2J\xef\xbf\xbd\","
                             "\"n\":-14,\"read\":false,\"to\":[]}\n");
    free(out);
}

static void
test_json_failed_pack_writes_nothing(void **state)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);

    (void)state;
    /* json_string refuses invalid UTF-8: the reason lsn_json_text exists. */
    assert_null(json_string("\xff"));
    assert_int_equal(lsn_json_print(f, json_pack("{s:s}", "k", "\xff")), LSN_ERR_NOMEM);
    fclose(f);
    assert_int_equal(n, 0);
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_invalid_utf8_replaced),
        cmocka_unit_test(test_json_one_escaped_line),
        cmocka_unit_test(test_json_failed_pack_writes_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
