/* cmd_publish.c: `publish` and `publish-roster`: upload the org's bundle,
 * its pending key deliveries, or a roster to the org's home relay through
 * the admin device's credential (proto/wire.h; docs/wire.md). */
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys/bundle.h"
#include "keys/cli/cli.h"
#include "keys/credential.h"
#include "keys/keyfile.h"
#include "keys/progress.h"
#include "keys/roster.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"
#include "proto/wire.h"

const char publish_usage[] =
    "usage: liaison-keys publish --org-dir DIR [--roster FILE] [--relay tcp://HOST:PORT]\n"
    "                            [--passphrase-file FILE]\n"
    "       liaison-keys publish-roster FILE --org-dir DIR [--roster FILE]\n"
    "                            [--relay tcp://HOST:PORT] [--passphrase-file FILE]\n"
    "\n"
    "publish: uploads DIR/bundle.signed and every key delivery in\n"
    "DIR/deliveries/ to the org's home relay (from the roster: the one pinned\n"
    "in DIR/admin.cred, or --roster), connecting as the admin device.  The\n"
    "relay verifies each object against the roster and refuses a lower\n"
    "version.  A relay that does not know the admin key yet accepts exactly\n"
    "one thing from it: a bundle that lists that key as an admin device.\n"
    "publish-roster: uploads the signed roster FILE (it must follow the\n"
    "relay's held version).  --relay overrides the endpoint.\n"
    "publish warns on stderr when the bundle expires within 30 days; a relay\n"
    "refuses the messages of an org whose bundle has expired.\n";

const struct option publish_opts[] = {
    { "org-dir", required_argument, NULL, 'd' },
    { "roster", required_argument, NULL, 'r' },
    { "relay", required_argument, NULL, 'e' },
    { "passphrase-file", required_argument, NULL, 'p' },
    { NULL, 0, NULL, 0 },
};

struct popts {
    const char *dir, *roster, *relay, *pass, *file;
};

static int
parse(int argc, char **argv, struct popts *o, int want_file)
{
    int c;

    memset(o, 0, sizeof *o);
    while ((c = lsn_cli_next(argc, argv)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'r': o->roster = optarg; break;
        case 'e': o->relay = optarg; break;
        case 'p': o->pass = optarg; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    if (want_file) {
        if (optind + 1 != argc)
            return lsn_cli_usage("want exactly one roster FILE");
        o->file = argv[optind];
    } else if (optind != argc) {
        return lsn_cli_usage("unexpected argument `%s`", argv[optind]);
    }
    if (o->dir == NULL)
        return lsn_cli_usage("--org-dir is required");
    return 0;
}

/* Connects to the org's home relay as admin.cred, loading it into *credp
 * (which the caller destroys) the first time, so its passphrase is asked
 * once however often a command connects. */
static int
connect_admin(const struct popts *o, struct lsn_credential **credp,
              struct lsn_wire **w, char *org, size_t org_len)
{
    struct lsn_credential *cred = *credp;
    struct lsn_roster *ro = NULL;
    const Liaison__RosterOrg *ent;
    const Liaison__RosterRelay *rel;
    uint8_t *rb = NULL;
    size_t rl = 0;
    char path[PATH_MAX], *pass = NULL;
    int prot = 0, r;

    snprintf(path, sizeof path, "%s/admin.cred", o->dir);
    if (cred == NULL && (r = lsn_secret_is_protected(path, &prot)) != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "%s", path);
    for (int tries = 1; cred == NULL; tries++) {
        if ((r = cli_pass_unlock(o->pass, prot, "org folder", &pass)) != 0)
            return r;
        r = lsn_credential_load(path, pass, credp);
        cli_pass_free(&pass);
        if (r == 0)
            break;
        if (!cli_pass_retry(r, o->pass, prot, tries))
            return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "%s", path);
    }
    cred = *credp;
    if (o->roster != NULL) {
        r = cli_roster_load(o->roster, &ro);
    } else if (cred->roster != NULL) {
        r = lsn_roster_parse(cred->roster, cred->roster_len, &ro);
    } else {
        /* The roster the folder was last given (device add, rotate). */
        snprintf(path, sizeof path, "%s/roster.signed", o->dir);
        if (access(path, F_OK) == 0) {
            r = cli_roster_load(path, &ro);
        } else {
            return lsn_cli_usage("%s/admin.cred pins no roster and the "
                                   "folder holds none yet: pass --roster FILE", o->dir);
        }
    }
    (void)rb;
    (void)rl;
    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "roster");
    if ((ent = lsn_roster_find_org(ro, cred->org)) == NULL ||
        (rel = lsn_roster_find_relay(ro, ent->relay)) == NULL || rel->curve_key.len != 32) {
        r = lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_UNKNOWN_ORG,
                            "org `%s` or its home relay in roster v%llu", cred->org,
                            (unsigned long long)ro->r->version);
        goto out;
    }
    lsn_progress("connecting to %s", rel->name);
    if ((r = lsn_wire_connect(o->relay != NULL ? o->relay : rel->endpoint, rel->curve_key.data,
                              cred->keys->curve_pk, cred->keys->curve_sk, w)) != 0 ||
        (r = lsn_wire_handshake(*w, 10000)) != 0) {
        lsn_progress_clear();
        lsn_wire_close(w);
        r = lsn_cli_fail_as(LSN_EXIT_FAILED, r, "relay %s at %s", rel->name,
                            o->relay != NULL ? o->relay : rel->endpoint);
        goto out;
    }
    lsn_progress_clear();
    snprintf(org, org_len, "%s", cred->org);
out:
    lsn_roster_destroy(&ro);
    return r;
}

/* Puts one signed object file of type kind; prints the outcome. */
static int
put_file(struct lsn_wire *w, const char *path, const char *type, Liaison__DirKind kind)
{
    Liaison__Request req = LIAISON__REQUEST__INIT;
    Liaison__DirPutRequest p = LIAISON__DIR_PUT_REQUEST__INIT;
    Liaison__Response *resp = NULL;
    uint8_t *bin = NULL;
    size_t len = 0;
    int r;

    if ((r = lsn_signed_file_read(path, type, &bin, &len)) != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "%s", path);
    if (kind == LIAISON__DIR_KIND__DIR_BUNDLE) {
        struct lsn_bundle *bu = NULL;
        if (lsn_bundle_parse(bin, len, &bu) == 0)
            cli_bundle_expiry_warn(bu);
        lsn_bundle_destroy(&bu);
    }
    p.kind = kind;
    p.object = (ProtobufCBinaryData){ len, bin };
    req.body_case = LIAISON__REQUEST__BODY_DIR_PUT;
    req.dir_put = &p;
    lsn_progress("publishing %s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    r = lsn_wire_call(w, &req, LSN_WIRE_TIMEOUT_MS, &resp);
    lsn_progress_clear();
    free(bin);
    if (r != 0) {
        fprintf(stderr, "liaison-keys: relay refused %s: %s\n", path,
                lsn_wire_message(w)[0] ? lsn_wire_message(w) : lsn_strerror(r));
        return LSN_EXIT_FAILED;
    }
    printf("%s: %s (version %llu)\n", path,
           resp->dir_put->unchanged ? "already held" : "published",
           (unsigned long long)resp->dir_put->version);
    lsn_pb_free(&resp->base);
    return 0;
}

int
cmd_publish(int argc, char **argv)
{
    struct popts o;
    struct lsn_credential *cred = NULL;
    struct lsn_wire *w = NULL;
    char org[LSN_ORG_ID_MAX + 1], path[PATH_MAX];
    DIR *d;
    struct dirent *e;
    int r, rc = 0;

    if ((r = parse(argc, argv, &o, 0)) != 0)
        return r;
    lsn_progress_init(0);
    if ((r = connect_admin(&o, &cred, &w, org, sizeof org)) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/bundle.signed", o.dir);
    if ((rc = put_file(w, path, LSN_TYPE_BUNDLE, LIAISON__DIR_KIND__DIR_BUNDLE)) != 0)
        goto out;
    /* The bundle may have added this admin key: reconnect to be known. */
    lsn_wire_close(&w);
    if ((rc = connect_admin(&o, &cred, &w, org, sizeof org)) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/deliveries", o.dir);
    if ((d = opendir(path)) != NULL) {
        /* Each delivery on its own: one refused does not hold back the
         * others (the exit status still reports it). */
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            char f[PATH_MAX + 300];
            int one;
            if (n < 8 || strcmp(e->d_name + n - 7, ".signed") != 0)
                continue;
            snprintf(f, sizeof f, "%s/%s", path, e->d_name);
            one = put_file(w, f, LSN_TYPE_KEY_DELIVERY, LIAISON__DIR_KIND__DIR_DELIVERY);
            if (rc == 0)
                rc = one;
        }
        closedir(d);
    }
out:
    lsn_wire_close(&w);
    lsn_credential_destroy(&cred);
    return r != 0 ? r : rc;
}

int
cmd_publish_roster(int argc, char **argv)
{
    struct popts o;
    struct lsn_credential *cred = NULL;
    struct lsn_wire *w = NULL;
    char org[LSN_ORG_ID_MAX + 1];
    int r;

    if ((r = parse(argc, argv, &o, 1)) != 0)
        return r;
    lsn_progress_init(0);
    if ((r = connect_admin(&o, &cred, &w, org, sizeof org)) == 0)
        r = put_file(w, o.file, LSN_TYPE_ROSTER, LIAISON__DIR_KIND__DIR_ROSTER);
    lsn_wire_close(&w);
    lsn_credential_destroy(&cred);
    return r;
}
