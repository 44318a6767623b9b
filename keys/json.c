/* json.c: --json output through jansson (json.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/json.h"
#include "proto/err.h"

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are not). */
static size_t
utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f))
            return 0;
        return 3;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
            (s[3] & 0xc0) != 0x80)
            return 0;
        if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

json_t *
lsn_json_text(const char *str)
{
    const unsigned char *s = (const unsigned char *)(str != NULL ? str : "");
    size_t len = strlen((const char *)s), o = 0, n;
    unsigned char *buf;
    json_t *v;

    /* Each invalid byte (1 byte) becomes U+FFFD (3 bytes). */
    if (len > (SIZE_MAX - 1) / 3 || (buf = malloc(3 * len + 1)) == NULL)
        return NULL;
    while (*s != '\0') {
        if ((n = utf8_len(s)) == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            s++;
        } else {
            memcpy(buf + o, s, n);
            o += n;
            s += n;
        }
    }
    v = json_stringn((const char *)buf, o);
    free(buf);
    return v;
}

int
lsn_json_print(FILE *f, json_t *v)
{
    int r = 0;

    if (v == NULL)
        return LSN_ERR_NOMEM;
    if (json_dumpf(v, f, JSON_COMPACT) != 0 || fputc('\n', f) == EOF || fflush(f) != 0)
        r = LSN_ERR_IO;
    json_decref(v);
    return r;
}
