/* fuzz_options.c: the option values people type, parsed by client/names.c
 * for the CLI and the library: durations (--expires), handling codes,
 * gradings, indicators (TYPE=VALUE) and the enumeration words.
 *
 * Input: the bytes as one NUL-terminated string (cut at the first NUL).
 * Invariants: a parse that succeeds gives a value in range (an enumeration
 * word is its table's word but for the case of ASCII letters), pointers into
 * the input, and (for gradings and handling codes) something the Alert
 * validation judges without crashing; a refusal leaves nothing behind. */
#include <stdlib.h>
#include <string.h>

#include "client/alert.h"
#include "client/names.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

/* a and b are the same but for the case of ASCII letters. */
static int
same_but_case(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static void
check_enums(const char *s)
{
    const struct lsn_name *tables[] = {
        lsn_names_type, lsn_names_tlp, lsn_names_pap, lsn_names_handling,
        lsn_names_priority, lsn_names_ack, lsn_names_receipt,
    };

    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        int v = -1;
        if (lsn_name_parse(tables[i], s, &v) == 0)
            FF_CHECK(same_but_case(lsn_name_of(tables[i], v), s));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), type[LSN_INDICATOR_TYPE_BUF], src[2], info[2];
    const char *text = NULL, *value = NULL;
    int64_t d = 0;
    int code = -1, system = -1;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    if (lsn_duration_parse(s, &d) == 0)
        FF_CHECK(d >= 1 && d <= 100LL * 365 * 86400);

    if (lsn_handling_parse(s, &code, &text) == 0) {
        FF_CHECK(code >= LIAISON__HANDLING_CODE__HANDLING_H0 &&
                 code <= LIAISON__HANDLING_CODE__HANDLING_H3);
        FF_CHECK(text != NULL);
        if (code == LIAISON__HANDLING_CODE__HANDLING_H3)
            FF_CHECK(text == s + 3 && text[0] != '\0');
        else
            FF_CHECK(text[0] == '\0' && strlen(s) == 2);
    }

    if (lsn_grade_parse(s, &system, src, info) == 0) {
        Liaison__Alert a = LIAISON__ALERT__INIT;
        Liaison__Grading g = LIAISON__GRADING__INIT;
        FF_CHECK(src[1] == '\0' && info[1] == '\0');
        g.system = system;
        g.source = src;
        g.information = info;
        a.type = LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT;
        a.title = "t";
        a.grading = &g;
        (void)lsn_alert_validate(&a);
    }

    if (lsn_indicator_parse(s, type, &value) == 0) {
        FF_CHECK(lsn_alert_misp_type_known(type));
        FF_CHECK(value > s && value[0] != '\0' && value[-1] == '=');
        FF_CHECK(strlen(type) < LSN_INDICATOR_TYPE_BUF);
    }

    check_enums(s);
    free(s);
    return 0;
}
