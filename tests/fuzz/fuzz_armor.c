/* fuzz_armor.c: the text armor decoder every key, credential and signed
 * object file goes through (keys/armor.c).
 *
 * Input: one selector byte (label and size cap), then the text.
 * Invariants: a decoded binary is within the cap, the text began with the
 * label's header line, re-armoring and decoding gives the same bytes, and
 * the same text under another label is refused as the wrong kind. */
#include <string.h>

#include "keys/armor.h"
#include "keys/signed.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

static const char *const labels[] = {
    "secret-key", "public-key", "signed-roster", "signed-bundle",
    "signed-key-delivery",
};
static const size_t caps[] = { 0, 3, 72, 256, 4096, LSN_SIGNED_MAX };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *label;
    char head[64], *text = NULL;
    uint8_t *bin = NULL, *again = NULL;
    size_t cap, n = 0, tn = 0, n2 = 0, hn;
    int r;

    if (size < 1)
        return 0;
    label = labels[(data[0] & 0x0f) % (sizeof labels / sizeof labels[0])];
    cap = caps[(data[0] >> 4) % (sizeof caps / sizeof caps[0])];
    data++;
    size--;
    r = lsn_armor_decode(label, data, size, cap, &bin, &n);
    if (r != 0) {
        FF_CHECK(bin == NULL && n == 0);
        return 0;
    }
    FF_CHECK(n <= cap);
    hn = (size_t)snprintf(head, sizeof head, "liaison-%s v1", label);
    FF_CHECK(size >= hn && memcmp(data, head, hn) == 0);
    FF_CHECK(lsn_armor_encode(label, "a comment", bin, n, &text, &tn) == 0);
    FF_CHECK(lsn_armor_decode(label, (const uint8_t *)text, tn, cap, &again,
                              &n2) == 0);
    FF_CHECK(n2 == n && (n == 0 || memcmp(again, bin, n) == 0));
    free(again);
    again = NULL;
    FF_CHECK(lsn_armor_decode("other", data, size, cap, &again, &n2) ==
             LSN_ERR_WRONG_KIND && again == NULL);
    free(text);
    free(bin);
    return 0;
}
