/* fuzz_relay_config.c: the relay configuration parser
 * (lsn_relay_config_parse, then lsn_relay_config_check).
 *
 * Input: the text of a config file.  Invariants: a refusal leaves a
 * sentence in lsn_detail(); an accepted config that passes the check
 * prints (lsn_relay_config_print, what check-config shows) to text that
 * parses back to the same settings. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "keys/util.h"
#include "relay/config.h"
#include "tests/fuzz/fuzzfix.h"

static void
same(const struct lsn_relay_config *a, const struct lsn_relay_config *b)
{
    FF_CHECK(strcmp(a->listen, b->listen) == 0);
    FF_CHECK(strcmp(a->data, b->data) == 0);
    FF_CHECK(strcmp(a->roster, b->roster) == 0);
    FF_CHECK(strcmp(a->key, b->key) == 0);
    FF_CHECK(a->use_syslog == b->use_syslog);
    /* Every limit: the uint64_t fields from max_envelope to the end. */
    FF_CHECK(memcmp(&a->max_envelope, &b->max_envelope,
                    sizeof *a - offsetof(struct lsn_relay_config, max_envelope)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lsn_relay_config c, again;
    char *text = NULL;
    size_t tlen = 0;
    FILE *f;

    lsn_relay_config_defaults(&c);
    if (lsn_relay_config_parse(&c, (const char *)data, size, "fuzz") != 0) {
        FF_CHECK(lsn_detail()[0] != '\0');
        return 0;
    }
    if (lsn_relay_config_check(&c) != 0) {
        FF_CHECK(lsn_detail()[0] != '\0');
        return 0;
    }
    FF_CHECK((f = open_memstream(&text, &tlen)) != NULL);
    lsn_relay_config_print(&c, f);
    FF_CHECK(fclose(f) == 0);
    lsn_relay_config_defaults(&again);
    FF_CHECK(lsn_relay_config_parse(&again, text, tlen, "printed") == 0);
    FF_CHECK(lsn_relay_config_check(&again) == 0);
    same(&c, &again);
    free(text);
    return 0;
}
