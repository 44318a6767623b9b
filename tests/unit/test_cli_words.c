/* test_cli_words.c: the words a new user types and reads at the command
 * line: enumeration words in any case (client/names.c), the command a
 * usage text documents and what getopt refused (keys/util.c), for the
 * one-line usage errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <cmocka.h>

#include "client/alert.h"
#include "client/names.h"
#include "keys/util.h"
#include "proto/err.h"

static void
test_cli_words_tlp_any_case(void **state)
{
    int v = -1;

    (void)state;
    assert_int_equal(lsn_name_parse(lsn_names_tlp, "AMBER+STRICT", &v), 0);
    assert_int_equal(v, LIAISON__TLP__TLP_AMBER_STRICT);
    assert_int_equal(lsn_name_parse(lsn_names_tlp, "Red", &v), 0);
    assert_int_equal(v, LIAISON__TLP__TLP_RED);
    assert_int_equal(lsn_name_parse(lsn_names_priority, "URGENT", &v), 0);
    assert_int_equal(v, LIAISON__PRIORITY__PRIORITY_URGENT);
    assert_int_equal(lsn_name_parse(lsn_names_pap, "gReEn", &v), 0);
    assert_int_equal(v, LIAISON__PAP__PAP_GREEN);
}

static void
test_cli_words_near_misses_refused(void **state)
{
    int v = -1;

    (void)state;
    assert_int_equal(lsn_name_parse(lsn_names_tlp, "AMBER+", &v), LSN_ERR_INVALID);
    assert_int_equal(lsn_name_parse(lsn_names_tlp, "ambe", &v), LSN_ERR_INVALID);
    assert_int_equal(lsn_name_parse(lsn_names_tlp, "amberx", &v), LSN_ERR_INVALID);
    assert_int_equal(lsn_name_parse(lsn_names_tlp, "", &v), LSN_ERR_INVALID);
    /* Only ASCII letters fold: a byte above 0x7f is never a letter here. */
    assert_int_equal(lsn_name_parse(lsn_names_tlp, "r\xc3\xa9" "d", &v), LSN_ERR_INVALID);
    assert_int_equal(v, -1);
}

static void
test_cli_words_usage_command(void **state)
{
    char cmd[64];

    (void)state;
    lsn_usage_command("usage: liaison send --to ORG [options]\n\nmore\n", cmd, sizeof cmd);
    assert_string_equal(cmd, "liaison send");
    lsn_usage_command("usage: liaison-keys org init ID --dir DIR\n", cmd, sizeof cmd);
    assert_string_equal(cmd, "liaison-keys org init");
    lsn_usage_command("usage: liaison-keys roster COMMAND ...\n", cmd, sizeof cmd);
    assert_string_equal(cmd, "liaison-keys roster");
    lsn_usage_command("usage: liaison [--home DIR] COMMAND\n", cmd, sizeof cmd);
    assert_string_equal(cmd, "liaison");
    lsn_usage_command("usage: liaison fetch\n", cmd, sizeof cmd);
    assert_string_equal(cmd, "liaison fetch");
    lsn_usage_command("usage: liaison-relay", cmd, sizeof cmd);
    assert_string_equal(cmd, "liaison-relay");
    /* Cut to the buffer, never past it. */
    lsn_usage_command("usage: liaison send --to\n", cmd, 8);
    assert_string_equal(cmd, "liaison");
}

static void
test_cli_words_bad_option(void **state)
{
    static const struct option opts[] = {
        { "to", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    char *unknown[] = { "send", "--bogus=1", NULL };
    char *missing[] = { "send", "--json", "--to", NULL };
    char *shortopt[] = { "send", "-x", NULL };
    char what[128];

    (void)state;
    optind = 1;
    opterr = 0;
    assert_int_equal(getopt_long(2, unknown, "", opts, NULL), '?');
    lsn_bad_option(unknown, what, sizeof what);
    assert_string_equal(what, "unknown option `--bogus`");

    optind = 1;
    assert_int_equal(getopt_long(3, missing, "", opts, NULL), 'j');
    assert_int_equal(getopt_long(3, missing, "", opts, NULL), '?');
    lsn_bad_option(missing, what, sizeof what);
    assert_string_equal(what, "`--to` needs a value");

    optind = 1;
    assert_int_equal(getopt_long(2, shortopt, "", opts, NULL), '?');
    lsn_bad_option(shortopt, what, sizeof what);
    assert_string_equal(what, "unknown option `-x`");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_words_tlp_any_case),
        cmocka_unit_test(test_cli_words_near_misses_refused),
        cmocka_unit_test(test_cli_words_usage_command),
        cmocka_unit_test(test_cli_words_bad_option),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
