/* roster.c: parsing, verification and succession of the coalition roster.
 * A roster is the only source of org root keys; a client pins the first one
 * it is given and then follows versions one step at a time (TUF's rule:
 * version N+1 needs threshold signatures by N's authorities and by its own). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/roster.h"
#include "keys/util.h"
#include "proto/err.h"

#define TEXT_MAX 128
#define ENDPOINT_MAX 256

/* 1..max bytes of printable UTF-8 without control characters. */
static int
text_ok(const char *s, size_t max, int may_be_empty)
{
    size_t n = strlen(s);

    if ((n == 0 && !may_be_empty) || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int
check_relays(const Liaison__Roster *r)
{
    if (r->n_relays > LSN_ROSTER_MAX_RELAYS) {
        lsn_set_detail("roster lists %zu relays, at most %u allowed",
                       r->n_relays, LSN_ROSTER_MAX_RELAYS);
        return LSN_ERR_LIMIT;
    }
    for (size_t i = 0; i < r->n_relays; i++) {
        const Liaison__RosterRelay *x = r->relays[i];
        if (lsn_name_check(x->name) != 0) {
            lsn_set_detail("relay `%.64s`: invalid name (1 to 64 of a-z 0-9 . _ -)",
                           x->name);
            return LSN_ERR_MALFORMED;
        }
        if (x->curve_key.len != 32 || !text_ok(x->endpoint, ENDPOINT_MAX, 0) ||
            strncmp(x->endpoint, "tcp://", 6) != 0) {
            lsn_set_detail("relay `%s`: needs a tcp:// endpoint and a 32-byte key",
                           x->name);
            return LSN_ERR_MALFORMED;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->relays[j]->name, x->name) == 0) {
                lsn_set_detail("relay `%s` is listed twice", x->name);
                return LSN_ERR_MALFORMED;
            }
    }
    return 0;
}

static int
is_authority(const Liaison__Roster *r, const uint8_t *key)
{
    for (size_t i = 0; i < r->n_authorities; i++)
        if (memcmp(r->authorities[i].data, key, 32) == 0)
            return 1;
    return 0;
}

static int
check_orgs(const Liaison__Roster *r)
{
    if (r->n_orgs > LSN_ROSTER_MAX_ORGS) {
        lsn_set_detail("roster lists %zu orgs, at most %u allowed", r->n_orgs,
                       LSN_ROSTER_MAX_ORGS);
        return LSN_ERR_LIMIT;
    }
    for (size_t i = 0; i < r->n_orgs; i++) {
        const Liaison__RosterOrg *o = r->orgs[i];
        const char *relay_name = o->relay;
        int relay_known = 0;

        if (lsn_org_id_check(o->id) != 0) {
            lsn_set_detail("org `%.40s`: invalid org id (1 to 32 of a-z, 0-9 and -)",
                           o->id);
            return LSN_ERR_BAD_ORG_ID;
        }
        if (o->root_key.len != 32 || !text_ok(o->display, TEXT_MAX, 1)) {
            lsn_set_detail("org `%s`: needs a 32-byte root key and a display "
                           "name of at most %d printable bytes", o->id, TEXT_MAX);
            return LSN_ERR_MALFORMED;
        }
        for (size_t j = 0; j < r->n_relays; j++)
            relay_known |= strcmp(r->relays[j]->name, relay_name) == 0;
        if (!relay_known) {
            lsn_set_detail("org `%s`: home relay `%.64s` is not in the roster "
                           "(add it with `roster add-relay` first)", o->id,
                           relay_name);
            return LSN_ERR_MALFORMED;
        }
        /* One key, one role: an org root is never also an authority. */
        if (is_authority(r, o->root_key.data)) {
            lsn_set_detail("org `%s`: its root key is also an authority key",
                           o->id);
            return LSN_ERR_WRONG_SIGNER;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->orgs[j]->id, o->id) == 0) {
                lsn_set_detail("org `%s` is listed twice", o->id);
                return LSN_ERR_MALFORMED;
            }
            /* A shared root would sign for both orgs. */
            if (memcmp(r->orgs[j]->root_key.data, o->root_key.data, 32) == 0) {
                lsn_set_detail("orgs `%s` and `%s` have the same root key",
                               r->orgs[j]->id, o->id);
                return LSN_ERR_WRONG_SIGNER;
            }
        }
    }
    return 0;
}

int
lsn_circle_name_check(const char *name)
{
    /* The same alphabet and length as an org id. */
    return lsn_org_id_check(name);
}

static int
has_org(const Liaison__Roster *r, const char *id)
{
    for (size_t i = 0; i < r->n_orgs; i++)
        if (strcmp(r->orgs[i]->id, id) == 0)
            return 1;
    return 0;
}

/* Circles: valid unique names, 1..LSN_ROSTER_CIRCLE_MAX_ORGS members, each
 * an org of this roster and listed once.  An org leaves its circles before
 * it leaves the roster: `roster remove-org` is refused until then. */
static int
check_circles(const Liaison__Roster *r)
{
    if (r->n_circles > LSN_ROSTER_MAX_CIRCLES) {
        lsn_set_detail("roster lists %zu circles, at most %u allowed",
                       r->n_circles, LSN_ROSTER_MAX_CIRCLES);
        return LSN_ERR_LIMIT;
    }
    for (size_t i = 0; i < r->n_circles; i++) {
        const Liaison__RosterCircle *x = r->circles[i];

        if (lsn_circle_name_check(x->name) != 0) {
            lsn_set_detail("circle `%.40s`: invalid name (1 to 32 of a-z, 0-9 "
                           "and -)", x->name);
            return LSN_ERR_MALFORMED;
        }
        if (!text_ok(x->display, TEXT_MAX, 1)) {
            lsn_set_detail("circle `%s`: display name of at most %d printable "
                           "bytes", x->name, TEXT_MAX);
            return LSN_ERR_MALFORMED;
        }
        if (x->n_orgs == 0 || x->n_orgs > LSN_ROSTER_CIRCLE_MAX_ORGS) {
            lsn_set_detail("circle `%s` has %zu members: 1 to %u allowed",
                           x->name, x->n_orgs, LSN_ROSTER_CIRCLE_MAX_ORGS);
            return x->n_orgs == 0 ? LSN_ERR_MALFORMED : LSN_ERR_LIMIT;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->circles[j]->name, x->name) == 0) {
                lsn_set_detail("circle `%s` is listed twice", x->name);
                return LSN_ERR_MALFORMED;
            }
        for (size_t k = 0; k < x->n_orgs; k++) {
            if (!has_org(r, x->orgs[k])) {
                lsn_set_detail("circle `%s`: member `%.40s` is not an org of "
                               "the roster (an org leaves its circles before "
                               "the roster: `roster circle-remove`)",
                               x->name, x->orgs[k]);
                return LSN_ERR_MALFORMED;
            }
            for (size_t j = 0; j < k; j++)
                if (strcmp(x->orgs[j], x->orgs[k]) == 0) {
                    lsn_set_detail("circle `%s`: member `%s` is listed twice",
                                   x->name, x->orgs[k]);
                    return LSN_ERR_MALFORMED;
                }
        }
    }
    return 0;
}

static int
check_roster_body(const Liaison__Roster *r)
{
    int rc;

    if (!text_ok(r->coalition, TEXT_MAX, 0) || r->version == 0 ||
        r->expires <= r->issued) {
        lsn_set_detail("roster needs a coalition name, a version >= 1 and "
                       "expires after issued");
        return LSN_ERR_MALFORMED;
    }
    if (r->n_authorities == 0 || r->n_authorities > LSN_ROSTER_MAX_AUTHORITIES ||
        r->threshold == 0 || r->threshold > r->n_authorities) {
        lsn_set_detail("roster has %zu authorities and threshold %u: need "
                       "1 <= threshold <= authorities <= %u", r->n_authorities,
                       r->threshold, LSN_ROSTER_MAX_AUTHORITIES);
        return LSN_ERR_MALFORMED;
    }
    for (size_t i = 0; i < r->n_authorities; i++) {
        if (r->authorities[i].len != 32) {
            lsn_set_detail("authority key %zu is not 32 bytes", i + 1);
            return LSN_ERR_MALFORMED;
        }
        for (size_t j = 0; j < i; j++)
            if (memcmp(r->authorities[j].data, r->authorities[i].data, 32) == 0) {
                lsn_set_detail("authority key %zu is listed twice", i + 1);
                return LSN_ERR_MALFORMED;
            }
    }
    if ((rc = check_relays(r)) != 0 || (rc = check_orgs(r)) != 0)
        return rc;
    return check_circles(r);
}

static int
finish(struct lsn_roster *ro, struct lsn_roster **out)
{
    int r = check_roster_body(ro->r);

    if (r != 0) {
        lsn_roster_destroy(&ro);
        return r;
    }
    *out = ro;
    return 0;
}

int
lsn_roster_parse(const uint8_t *buf, size_t len, struct lsn_roster **out)
{
    struct lsn_roster *ro;
    int r;

    *out = NULL;
    lsn_set_detail("%s", "");
    if ((ro = calloc(1, sizeof *ro)) == NULL)
        return LSN_ERR_NOMEM;
    r = lsn_signed_view_parse(buf, len, LSN_TYPE_ROSTER,
                              &liaison__roster__descriptor, &ro->view);
    if (r != 0) {
        free(ro);
        return r;
    }
    return finish(ro, out);
}

int
lsn_roster_load(const char *path, struct lsn_roster **out)
{
    uint8_t *bin = NULL;
    size_t n = 0;
    int r;

    *out = NULL;
    if ((r = lsn_signed_file_read(path, LSN_TYPE_ROSTER, &bin, &n)) == 0)
        r = lsn_roster_parse(bin, n, out);
    free(bin);
    return r;
}

int
lsn_roster_from_body(const Liaison__Roster *body, struct lsn_roster **out)
{
    struct lsn_roster *ro;
    int r;

    *out = NULL;
    lsn_set_detail("%s", "");
    if ((ro = calloc(1, sizeof *ro)) == NULL)
        return LSN_ERR_NOMEM;
    if ((r = lsn_signed_view_build(&body->base, LSN_TYPE_ROSTER, &ro->view)) != 0) {
        free(ro);
        return r;
    }
    return finish(ro, out);
}

int
lsn_roster_sign(struct lsn_roster *r, const uint8_t sk[64])
{
    if (!is_authority(r->r, sk + 32)) {
        lsn_set_detail("the signing key is not one of this roster's authorities");
        return LSN_ERR_WRONG_SIGNER;
    }
    return lsn_signed_view_sign(&r->view, sk);
}

/* Valid signatures by distinct authorities of `by` on `r`. */
static size_t
count_by(const struct lsn_roster *r, const Liaison__Roster *by)
{
    uint8_t (*keys)[32] = calloc(by->n_authorities ? by->n_authorities : 1, 32);
    size_t n;

    if (keys == NULL)
        return 0;
    for (size_t i = 0; i < by->n_authorities; i++)
        memcpy(keys[i], by->authorities[i].data, 32);
    n = lsn_signed_count(r->so, (const uint8_t (*)[32])keys, by->n_authorities);
    free(keys);
    return n;
}

int
lsn_roster_verify(const struct lsn_roster *r, int64_t now)
{
    size_t n = count_by(r, r->r);

    if (n < r->r->threshold) {
        lsn_set_detail("roster v%llu has %zu valid authority signatures, needs %u",
                       (unsigned long long)r->r->version, n, r->r->threshold);
        return LSN_ERR_THRESHOLD;
    }
    if (now >= r->r->expires) {
        lsn_set_detail("roster v%llu expired", (unsigned long long)r->r->version);
        return LSN_ERR_EXPIRED;
    }
    return 0;
}

int
lsn_roster_verify_next(const struct lsn_roster *prev,
                       const struct lsn_roster *next, int64_t now,
                       int check_expiry)
{
    size_t old_n, new_n;

    if (strcmp(prev->r->coalition, next->r->coalition) != 0) {
        lsn_set_detail("roster is for coalition `%s`, not `%s`",
                       next->r->coalition, prev->r->coalition);
        return LSN_ERR_CHAIN;
    }
    if (next->r->version == prev->r->version) {
        lsn_set_detail("roster v%llu is the version already accepted; a change "
                       "goes into the next one: `liaison-keys roster next`",
                       (unsigned long long)next->r->version);
        return LSN_ERR_ROLLBACK;
    }
    if (next->r->version < prev->r->version) {
        lsn_set_detail("roster v%llu is older than v%llu already accepted; a "
                       "change goes into v%llu: `liaison-keys roster next`",
                       (unsigned long long)next->r->version,
                       (unsigned long long)prev->r->version,
                       (unsigned long long)prev->r->version + 1);
        return LSN_ERR_ROLLBACK;
    }
    if (next->r->version != prev->r->version + 1) {
        lsn_set_detail("roster v%llu does not follow v%llu: every version in "
                       "between is needed", (unsigned long long)next->r->version,
                       (unsigned long long)prev->r->version);
        return LSN_ERR_CHAIN;
    }
    old_n = count_by(next, prev->r);
    new_n = count_by(next, next->r);
    if (old_n < prev->r->threshold || new_n < next->r->threshold) {
        lsn_set_detail("roster v%llu: %zu of v%llu's authorities signed (need "
                       "%u), %zu of its own (need %u)",
                       (unsigned long long)next->r->version, old_n,
                       (unsigned long long)prev->r->version, prev->r->threshold,
                       new_n, next->r->threshold);
        return LSN_ERR_THRESHOLD;
    }
    if (check_expiry && now >= next->r->expires) {
        lsn_set_detail("roster v%llu expired", (unsigned long long)next->r->version);
        return LSN_ERR_EXPIRED;
    }
    return 0;
}

const Liaison__RosterOrg *
lsn_roster_find_org(const struct lsn_roster *r, const char *org)
{
    for (size_t i = 0; i < r->r->n_orgs; i++)
        if (strcmp(r->r->orgs[i]->id, org) == 0)
            return r->r->orgs[i];
    return NULL;
}

const Liaison__RosterRelay *
lsn_roster_find_relay(const struct lsn_roster *r, const char *name)
{
    for (size_t i = 0; i < r->r->n_relays; i++)
        if (strcmp(r->r->relays[i]->name, name) == 0)
            return r->r->relays[i];
    return NULL;
}

const Liaison__RosterCircle *
lsn_roster_find_circle(const struct lsn_roster *r, const char *name)
{
    for (size_t i = 0; i < r->r->n_circles; i++)
        if (strcmp(r->r->circles[i]->name, name) == 0)
            return r->r->circles[i];
    return NULL;
}

void
lsn_roster_destroy(struct lsn_roster **r)
{
    if (*r == NULL)
        return;
    lsn_signed_view_clear(&(*r)->view);
    free(*r);
    *r = NULL;
}
