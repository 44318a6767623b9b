/* fuzz_roster.c: lsn_roster_parse, lsn_roster_verify and
 * lsn_roster_verify_next against the fixed pinned roster v1.
 *
 * Input: an encoded signed roster.  Invariants: a parsed roster keeps the
 * input bytes and their hash, finds each of its orgs, relays and circles,
 * and every circle member is one of its orgs, listed once; a roster
 * that verifies really carries threshold valid signatures by distinct
 * authorities of its own (recounted here); a successor that verifies is
 * version 2 of the same coalition and carries both signatures of v1's
 * authorities; no roster succeeds itself. */
#include <string.h>

#include <sodium.h>

#include "keys/roster.h"
#include "proto/err.h"
#include "tests/fuzz/fuzzfix.h"

/* Distinct keys of keys[0..n) with a valid signature on so, counted
 * without keys/signed.c. */
static size_t
recount(const Liaison__SignedObject *so, const ProtobufCBinaryData *keys,
        size_t n)
{
    size_t count = 0;

    for (size_t k = 0; k < n; k++) {
        int seen = 0;
        for (size_t j = 0; j < k; j++)
            seen |= memcmp(keys[j].data, keys[k].data, 32) == 0;
        count += !seen && ff_signed_by(so, "roster", keys[k].data);
    }
    return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ff_world *w = ff_world();
    struct lsn_roster *r = NULL;
    const Liaison__Roster *b;
    uint8_t hash[32];
    int rc;

    rc = lsn_roster_parse(data, size, &r);
    if (rc != 0) {
        FF_CHECK(r == NULL);
        return 0;
    }
    b = r->r;
    FF_CHECK(r->len == size && memcmp(r->bytes, data, size) == 0);
    crypto_generichash(hash, sizeof hash, data, size, NULL, 0);
    FF_CHECK(memcmp(hash, r->hash, sizeof hash) == 0);
    FF_CHECK(strcmp(r->so->type, LSN_TYPE_ROSTER) == 0);
    FF_CHECK(b->threshold >= 1 && b->threshold <= b->n_authorities &&
             b->n_authorities <= LSN_ROSTER_MAX_AUTHORITIES);
    FF_CHECK(b->n_orgs <= LSN_ROSTER_MAX_ORGS &&
             b->n_relays <= LSN_ROSTER_MAX_RELAYS);
    for (size_t i = 0; i < b->n_orgs; i++) {
        FF_CHECK(lsn_roster_find_org(r, b->orgs[i]->id) == b->orgs[i]);
        FF_CHECK(lsn_roster_find_relay(r, b->orgs[i]->relay) != NULL);
    }
    for (size_t i = 0; i < b->n_relays; i++)
        FF_CHECK(lsn_roster_find_relay(r, b->relays[i]->name) == b->relays[i]);
    FF_CHECK(b->n_circles <= LSN_ROSTER_MAX_CIRCLES);
    for (size_t i = 0; i < b->n_circles; i++) {
        const Liaison__RosterCircle *c = b->circles[i];
        FF_CHECK(lsn_roster_find_circle(r, c->name) == c);
        FF_CHECK(lsn_circle_name_check(c->name) == 0);
        FF_CHECK(c->n_orgs >= 1 && c->n_orgs <= LSN_ROSTER_CIRCLE_MAX_ORGS);
        for (size_t k = 0; k < c->n_orgs; k++) {
            FF_CHECK(lsn_roster_find_org(r, c->orgs[k]) != NULL);
            for (size_t j = 0; j < k; j++)
                FF_CHECK(strcmp(c->orgs[j], c->orgs[k]) != 0);
        }
    }

    rc = lsn_roster_verify(r, FF_NOW);
    if (rc == 0) {
        FF_CHECK(recount(r->so, b->authorities, b->n_authorities) >=
                 b->threshold);
        FF_CHECK(FF_NOW < b->expires);
    } else {
        FF_CHECK(rc == LSN_ERR_THRESHOLD || rc == LSN_ERR_EXPIRED);
    }
    rc = lsn_roster_verify_next(w->roster, r, FF_NOW, 1);
    if (rc == 0) {
        FF_CHECK(b->version == 2 && strcmp(b->coalition, "fuzz") == 0);
        FF_CHECK(recount(r->so, w->roster->r->authorities, 2) == 2);
        FF_CHECK(recount(r->so, b->authorities, b->n_authorities) >=
                 b->threshold);
    }
    FF_CHECK(lsn_roster_verify_next(r, r, FF_NOW, 0) == LSN_ERR_ROLLBACK);
    lsn_roster_destroy(&r);
    FF_CHECK(r == NULL);
    return 0;
}
