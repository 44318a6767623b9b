/* armor.c: text wrapping of liaison files (format in armor.h and
 * docs/formats.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/armor.h"
#include "proto/err.h"

#define COLS 64

int
lsn_armor_encode(const char *label, const char *comment, const uint8_t *bin,
                 size_t len, char **text, size_t *text_len)
{
    size_t b64_len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    size_t clen = comment ? strlen(comment) : 0;
    /* header + every comment char may start a "# " line + base64 + newlines */
    size_t cap = 32 + strlen(label) + clen * 3 + 3 + b64_len + b64_len / COLS + 16;
    char *b64 = NULL, *out = NULL;
    size_t o = 0;
    int r = LSN_ERR_NOMEM;

    *text = NULL;
    *text_len = 0;
    if ((b64 = malloc(b64_len)) == NULL || (out = malloc(cap)) == NULL)
        goto out;
    sodium_bin2base64(b64, b64_len, bin, len, sodium_base64_VARIANT_ORIGINAL);
    o += (size_t)snprintf(out + o, cap - o, "liaison-%s v1\n", label);
    for (const char *p = comment; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        o += (size_t)snprintf(out + o, cap - o, "# %.*s\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
    for (size_t i = 0, n = strlen(b64); i < n; i += COLS) {
        size_t k = n - i < COLS ? n - i : COLS;
        memcpy(out + o, b64 + i, k);
        o += k;
        out[o++] = '\n';
    }
    o += (size_t)snprintf(out + o, cap - o, "end\n");
    *text = out;
    *text_len = o;
    out = NULL;
    r = 0;
out:
    if (b64 != NULL) {
        sodium_memzero(b64, b64_len);
        free(b64);
    }
    free(out);
    return r;
}

/* The next line of text[*pos..len) without its newline; 0 at the end. */
static int
next_line(const uint8_t *text, size_t len, size_t *pos, const char **line,
          size_t *line_len)
{
    const uint8_t *nl;

    if (*pos >= len)
        return 0;
    *line = (const char *)text + *pos;
    nl = memchr(text + *pos, '\n', len - *pos);
    *line_len = nl ? (size_t)(nl - (text + *pos)) : len - *pos;
    *pos += *line_len + (nl ? 1 : 0);
    if (*line_len > 0 && (*line)[*line_len - 1] == '\r')
        (*line_len)--;
    return 1;
}

static int
check_header(const char *label, const char *line, size_t n)
{
    char want[96];
    size_t wn = (size_t)snprintf(want, sizeof want, "liaison-%s v", label);

    if (n < 9 || memcmp(line, "liaison-", 8) != 0)
        return LSN_ERR_MALFORMED;
    if (n < wn || memcmp(line, want, wn) != 0) {
        return LSN_ERR_WRONG_KIND;
    }
    if (n != wn + 1 || line[wn] != '1')
        return LSN_ERR_VERSION;
    return 0;
}

int
lsn_armor_decode(const char *label, const uint8_t *text, size_t text_len,
                 size_t max, uint8_t **bin, size_t *len)
{
    size_t pos = 0, b64_len = 0, n = 0, b64_cap, out_cap = 0;
    const char *line;
    char *b64 = NULL;
    uint8_t *out = NULL;
    int r = LSN_ERR_MALFORMED, ended = 0;

    *bin = NULL;
    *len = 0;
    if (max > (SIZE_MAX - 8) / 4 * 3)
        return LSN_ERR_INTERNAL;
    b64_cap = (max + 2) / 3 * 4;
    /* The base64 is copied out of the text, so it never needs more room
     * than the text: allocating (and wiping) for max would cost every
     * small input megabytes. */
    if (b64_cap > text_len)
        b64_cap = text_len;
    if (!next_line(text, text_len, &pos, &line, &n))
        return LSN_ERR_TRUNCATED;
    if ((r = check_header(label, line, n)) != 0)
        return r;
    if ((b64 = malloc(b64_cap + 1)) == NULL)
        return LSN_ERR_NOMEM;
    r = LSN_ERR_MALFORMED;
    while (next_line(text, text_len, &pos, &line, &n)) {
        if (n > 0 && line[0] == '#') {
            if (b64_len > 0 || n > LSN_ARMOR_COMMENT_MAX)
                goto out;   /* comments only before the data */
            continue;
        }
        if (n == 3 && memcmp(line, "end", 3) == 0) {
            ended = 1;
            break;
        }
        if (n > COLS || n == 0)
            goto out;
        if (b64_len + n > b64_cap) {
            r = LSN_ERR_TOO_LARGE;
            goto out;
        }
        memcpy(b64 + b64_len, line, n);
        b64_len += n;
    }
    if (!ended) {
        r = LSN_ERR_TRUNCATED;
        goto out;
    }
    for (; pos < text_len; pos++)   /* only blank space may follow "end" */
        if (text[pos] != '\n' && text[pos] != '\r' && text[pos] != ' ')
            goto out;
    out_cap = b64_len / 4 * 3 + 3;
    if (out_cap > max)
        out_cap = max;
    if ((out = malloc(out_cap ? out_cap : 1)) == NULL) {
        r = LSN_ERR_NOMEM;
        goto out;
    }
    if (sodium_base642bin(out, out_cap, b64, b64_len, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        r = b64_len % 4 != 0 ? LSN_ERR_TRUNCATED : LSN_ERR_MALFORMED;
        goto out;
    }
    *bin = out;
    *len = n;
    out = NULL;
    r = 0;
out:
    sodium_memzero(b64, b64_cap + 1);
    free(b64);
    if (out != NULL) {
        sodium_memzero(out, out_cap);
        free(out);
    }
    return r;
}
