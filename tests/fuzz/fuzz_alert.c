/* fuzz_alert.c: lsn_alert_decode, the content model a recipient decodes
 * after decryption (client/alert.c).
 *
 * Input: the encoded Alert.  Invariants: a decoded alert validates and
 * encodes back to exactly the input, its circles bounded and well named;
 * a refused one leaves *out NULL with
 * one of the documented errors. */
#include <string.h>

#include "client/alert.h"
#include "keys/util.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Liaison__Alert *a = NULL;
    uint8_t *enc = NULL;
    size_t n = 0;
    int r;

    r = lsn_alert_decode(data, size, &a);
    if (r != 0) {
        FF_CHECK(a == NULL);
        FF_CHECK(r == LSN_ERR_MALFORMED || r == LSN_ERR_INVALID ||
                 r == LSN_ERR_LIMIT || r == LSN_ERR_TOO_LARGE ||
                 r == LSN_ERR_NOMEM);
        return 0;
    }
    FF_CHECK(a != NULL && lsn_alert_validate(a) == 0);
    /* Circles, when present, are bounded and named as org ids are. */
    FF_CHECK(a->n_circles <= LSN_ALERT_MAX_CIRCLES);
    for (size_t i = 0; i < a->n_circles; i++)
        FF_CHECK(a->circles[i]->n_orgs >= 1 &&
                 a->circles[i]->n_orgs <= LSN_ALERT_CIRCLE_MAX_ORGS &&
                 lsn_org_id_check(a->circles[i]->name) == 0);
    FF_CHECK(lsn_alert_encode(a, &enc, &n) == 0);
    FF_CHECK(n == size && memcmp(enc, data, n) == 0);
    free(enc);
    lsn_pb_free(&a->base);
    return 0;
}
