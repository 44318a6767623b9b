/* json.c: JSON string escaping for --json outputs. */
#include <string.h>

#include "keys/json.h"

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
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

void
lsn_json_str(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    fputc('"', f);
    while (*s != '\0') {
        size_t n;
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s++, f);
        } else if (*s == '\n') {
            fputs("\\n", f);
            s++;
        } else if (*s == '\t') {
            fputs("\\t", f);
            s++;
        } else if (*s < 0x20 || *s == 0x7f) {
            fprintf(f, "\\u%04x", *s++);
        } else if ((n = utf8_len(s)) == 0) {
            fputs("\\ufffd", f);
            s++;
        } else {
            fwrite(s, 1, n, f);
            s += n;
        }
    }
    fputc('"', f);
}

void
lsn_json_key(FILE *f, const char *key, int *first)
{
    if (!*first)
        fputc(',', f);
    *first = 0;
    lsn_json_str(f, key);
    fputc(':', f);
}
