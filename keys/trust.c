/* trust.c: the trust store (see trust.h).  Files, not a database: the
 * store is small, read at start-up, and written only when a version moves. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keys/signed.h"
#include "keys/trust.h"
#include "keys/util.h"
#include "proto/err.h"

struct lsn_trust {
    char dir[PATH_MAX - 64];
};

static int
make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return LSN_ERR_IO;
    return 0;
}

int
lsn_trust_open(const char *dir, struct lsn_trust **out)
{
    struct lsn_trust *t;
    char sub[PATH_MAX];
    int r;

    *out = NULL;
    if (strlen(dir) >= sizeof t->dir)
        return LSN_ERR_TOO_LARGE;
    if ((t = calloc(1, sizeof *t)) == NULL)
        return LSN_ERR_NOMEM;
    strcpy(t->dir, dir);
    snprintf(sub, sizeof sub, "%s/bundles", dir);
    if ((r = make_dir(dir)) != 0 || (r = make_dir(sub)) != 0) {
        free(t);
        return r;
    }
    *out = t;
    return 0;
}

static void
roster_path(const struct lsn_trust *t, char *p, size_t n)
{
    snprintf(p, n, "%s/roster.signed", t->dir);
}

static void
bundle_path(const struct lsn_trust *t, const char *org, char *p, size_t n)
{
    snprintf(p, n, "%s/bundles/%s.signed", t->dir, org);
}

/* Loads and parses the held roster without checking expiry. */
static int
load_roster(struct lsn_trust *t, struct lsn_roster **out)
{
    char path[PATH_MAX];

    roster_path(t, path, sizeof path);
    return lsn_roster_load(path, out);
}

int
lsn_trust_put_roster(struct lsn_trust *t, const uint8_t *buf, size_t len,
                     int64_t now)
{
    struct lsn_roster *held = NULL, *cand = NULL;
    char path[PATH_MAX];
    int r;

    if ((r = lsn_roster_parse(buf, len, &cand)) != 0)
        return r;
    r = load_roster(t, &held);
    if (r == LSN_ERR_NOT_FOUND)
        r = lsn_roster_verify(cand, now);
    else if (r == 0 && held->len == cand->len &&
             memcmp(held->bytes, cand->bytes, len) == 0)
        r = lsn_roster_verify(cand, now);   /* the same one again */
    else if (r == 0 && cand->r->version == held->r->version) {
        lsn_set_detail("roster v%llu differs from the v%llu already accepted",
                       (unsigned long long)cand->r->version,
                       (unsigned long long)held->r->version);
        r = LSN_ERR_CONFLICT;
    } else if (r == 0) {
        /* One step at a time; a step may have expired (the next one is on
         * its way): lsn_trust_roster refuses an expired one at use. */
        r = lsn_roster_verify_next(held, cand, now, 0);
    }
    if (r == 0) {
        roster_path(t, path, sizeof path);
        r = lsn_signed_file_write(path, LSN_TYPE_ROSTER, cand->bytes, cand->len,
                                  LSN_WRITE_FORCE);
    }
    lsn_roster_destroy(&held);
    lsn_roster_destroy(&cand);
    return r;
}

int
lsn_trust_roster(struct lsn_trust *t, int64_t now, struct lsn_roster **out)
{
    struct lsn_roster *ro = NULL;
    int r;

    *out = NULL;
    if ((r = load_roster(t, &ro)) != 0)
        return r;
    if (now >= ro->r->expires) {
        lsn_set_detail("the held roster v%llu expired: get a newer one from the "
                       "steering group", (unsigned long long)ro->r->version);
        lsn_roster_destroy(&ro);
        return LSN_ERR_EXPIRED;
    }
    *out = ro;
    return 0;
}

int
lsn_trust_roster_held(struct lsn_trust *t, struct lsn_roster **out)
{
    *out = NULL;
    return load_roster(t, out);
}

static int
load_bundle(struct lsn_trust *t, const char *org, struct lsn_bundle **out)
{
    char path[PATH_MAX];

    bundle_path(t, org, path, sizeof path);
    return lsn_bundle_load(path, out);
}

int
lsn_trust_put_bundle(struct lsn_trust *t, const uint8_t *buf, size_t len,
                     int64_t now)
{
    struct lsn_roster *ro = NULL;
    struct lsn_bundle *held = NULL, *cand = NULL;
    char path[PATH_MAX];
    int r;

    if ((r = lsn_bundle_parse(buf, len, &cand)) != 0)
        return r;
    if ((r = lsn_trust_roster(t, now, &ro)) != 0)
        goto out;
    if ((r = lsn_bundle_verify(cand, ro, now)) != 0)
        goto out;
    r = load_bundle(t, cand->b->org, &held);
    if (r == 0)
        r = lsn_bundle_verify_next(held, cand);
    else if (r == LSN_ERR_NOT_FOUND)
        r = 0;
    if (r == 0) {
        bundle_path(t, cand->b->org, path, sizeof path);
        r = lsn_signed_file_write(path, LSN_TYPE_BUNDLE, cand->bytes, cand->len,
                                  LSN_WRITE_FORCE);
    }
out:
    lsn_roster_destroy(&ro);
    lsn_bundle_destroy(&held);
    lsn_bundle_destroy(&cand);
    return r;
}

int
lsn_trust_bundle(struct lsn_trust *t, const char *org, int64_t now,
                 struct lsn_bundle **out)
{
    struct lsn_roster *ro = NULL;
    struct lsn_bundle *b = NULL;
    int r;

    *out = NULL;
    if ((r = lsn_org_id_check(org)) != 0)
        return r;
    if ((r = lsn_trust_roster(t, now, &ro)) != 0)
        return r;
    if ((r = load_bundle(t, org, &b)) == 0 && strcmp(b->b->org, org) != 0)
        r = LSN_ERR_CORRUPT;
    if (r == 0 && (r = lsn_bundle_verify(b, ro, now)) == 0) {
        *out = b;
        b = NULL;
    }
    lsn_bundle_destroy(&b);
    lsn_roster_destroy(&ro);
    return r;
}

void
lsn_trust_close(struct lsn_trust **t)
{
    free(*t);
    *t = NULL;
}
