/* fuzz_credential.c: lsn_credential_decode, the payload of the one file an
 * administrator hands to a client machine, and the pinned roster inside.
 *
 * Input: an encoded Credential.  Invariants: a decoded credential encodes
 * back to exactly the input (nothing dropped, nothing invented), its
 * names are valid, every secret matches its public half. */
#include <string.h>

#include <sodium.h>

#include "keys/credential.h"
#include "keys/roster.h"
#include "keys/util.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lsn_credential *c = NULL;
    struct lsn_roster *ro = NULL;
    uint8_t *enc = NULL, pk[32];
    size_t n = 0;

    if (lsn_credential_decode(data, size, &c) != 0) {
        FF_CHECK(c == NULL);
        return 0;
    }
    FF_CHECK(lsn_org_id_check(c->org) == 0 && lsn_name_check(c->device) == 0);
    FF_CHECK(c->n_enc <= LSN_MAX_ENC_KEYS);
    FF_CHECK(memcmp(c->keys->sign_pk, c->keys->sign_sk + 32, 32) == 0);
    crypto_scalarmult_base(pk, c->keys->delivery_sk);
    FF_CHECK(memcmp(pk, c->keys->delivery_pk, 32) == 0);
    for (size_t i = 0; i < c->n_enc; i++) {
        crypto_scalarmult_base(pk, c->enc[i].sk);
        FF_CHECK(memcmp(pk, c->enc[i].pk, 32) == 0 && c->enc[i].key_id != 0);
        FF_CHECK(lsn_credential_find_enc(c, c->enc[i].key_id) != NULL);
    }
    FF_CHECK(lsn_credential_encode(c, &enc, &n) == 0);
    FF_CHECK(n == size && memcmp(enc, data, n) == 0);
    sodium_free(enc);
    /* A client parses the pinned roster next. */
    if (c->roster_len > 0 && lsn_roster_parse(c->roster, c->roster_len, &ro) == 0)
        (void)lsn_roster_verify(ro, FF_NOW);
    lsn_roster_destroy(&ro);
    lsn_credential_destroy(&c);
    FF_CHECK(c == NULL);
    return 0;
}
