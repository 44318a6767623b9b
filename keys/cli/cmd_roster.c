/* cmd_roster.c: `liaison-keys roster ...`: drafting, editing, signing,
 * verifying and showing the coalition roster.  Every edit builds a new body
 * and drops the signatures (they covered the old body) and says so. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/cli/cli.h"
#include "keys/cli/roster_edit.h"
#include "keys/json.h"
#include "keys/keyfile.h"
#include "keys/roster.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"

#define DEFAULT_DAYS 365
#define MAX_DAYS (5 * 366)

static const char usage[] =
    "usage: liaison-keys roster COMMAND ...\n"
    "\n"
    "  init --coalition NAME --threshold K --authority A.pub [--authority B.pub ...]\n"
    "       --out FILE [--days N]          a new roster, version 1, valid N days (365)\n"
    "  next FILE --out NEWFILE [--days N]  draft of version N+1 from a valid roster\n"
    "  add-org FILE --org ID --root ROOT.pub --relay RELAYNAME [--display TEXT]\n"
    "  remove-org FILE --org ID\n"
    "  add-relay FILE --relay NAME --endpoint tcp://HOST:PORT --key RELAY.pub\n"
    "  set-relay FILE --relay NAME [--endpoint tcp://HOST:PORT] [--key RELAY.pub]\n"
    "                                      a relay's new endpoint or key\n"
    "  remove-relay FILE --relay NAME      (refused while an org is homed on it)\n"
    "  set-org-relay FILE --org ID --relay NAME   move an org to another relay\n"
    "  set-root FILE --org ID --root ROOT.pub    an org's new root key\n"
    "  add-circle FILE --circle NAME --org ID[,ID...] [--display TEXT]\n"
    "                                      a named group of member orgs\n"
    "  remove-circle FILE --circle NAME\n"
    "  circle-add FILE --circle NAME --org ID[,ID...]     members join a circle\n"
    "  circle-remove FILE --circle NAME --org ID[,ID...]  members leave it\n"
    "  add-authority FILE --authority A.pub\n"
    "  remove-authority FILE --authority A.pub\n"
    "  set-threshold FILE --threshold K\n"
    "  sign FILE --key AUTHORITY.key [--passphrase-file F]\n"
    "  verify FILE [--previous FILE] [--json]   exit 0 only if valid and complete\n"
    "  show FILE [--json]\n"
    "\n"
    "Editing drops every signature: the steering group signs the final draft;\n"
    "version N+1 needs K signatures by version N's authorities and K by its own.\n"
    "Org ids and circle names are 1 to 32 of a-z, 0-9 and -; a circle has\n"
    "1 to 256 members, all orgs of the roster (remove-org is refused while\n"
    "the org is in a circle).  Exit status: 0 success,\n"
    "1 verification failed, 2 usage or input error.\n";

/* Each command's options (O_NAME is --name); parse reads any of them
 * into struct ropts. */
#define O_COALITION { "coalition", required_argument, NULL, 'c' }
#define O_THRESHOLD { "threshold", required_argument, NULL, 't' }
#define O_AUTHORITY { "authority", required_argument, NULL, 'a' }
#define O_OUT       { "out", required_argument, NULL, 'o' }
#define O_DAYS      { "days", required_argument, NULL, 'D' }
#define O_ORG       { "org", required_argument, NULL, 'g' }
#define O_ROOT      { "root", required_argument, NULL, 'r' }
#define O_RELAY     { "relay", required_argument, NULL, 'R' }
#define O_DISPLAY   { "display", required_argument, NULL, 'd' }
#define O_ENDPOINT  { "endpoint", required_argument, NULL, 'e' }
#define O_KEY       { "key", required_argument, NULL, 'k' }
#define O_PREVIOUS  { "previous", required_argument, NULL, 'P' }
#define O_PASS_FILE { "passphrase-file", required_argument, NULL, 'p' }
#define O_JSON      { "json", no_argument, NULL, 'j' }
#define O_CIRCLE    { "circle", required_argument, NULL, 'C' }
#define O_END       { NULL, 0, NULL, 0 }

static const struct option init_opts[] = {
    O_COALITION, O_THRESHOLD, O_AUTHORITY, O_OUT, O_DAYS, O_END,
};
static const struct option next_opts[] = { O_OUT, O_DAYS, O_END };
static const struct option add_org_opts[] = { O_ORG, O_ROOT, O_RELAY, O_DISPLAY, O_END };
static const struct option org_opts[] = { O_ORG, O_END };
static const struct option relay_opts[] = { O_RELAY, O_ENDPOINT, O_KEY, O_END };
static const struct option relay_name_opts[] = { O_RELAY, O_END };
static const struct option org_relay_opts[] = { O_ORG, O_RELAY, O_END };
static const struct option org_root_opts[] = { O_ORG, O_ROOT, O_END };
static const struct option authority_opts[] = { O_AUTHORITY, O_END };
static const struct option threshold_opts[] = { O_THRESHOLD, O_END };
static const struct option sign_opts[] = { O_KEY, O_PASS_FILE, O_END };
static const struct option verify_opts[] = { O_PREVIOUS, O_JSON, O_END };
static const struct option show_opts[] = { O_JSON, O_END };
static const struct option add_circle_opts[] = { O_CIRCLE, O_ORG, O_DISPLAY, O_END };
static const struct option circle_opts[] = { O_CIRCLE, O_END };
static const struct option circle_org_opts[] = { O_CIRCLE, O_ORG, O_END };


static int
parse(int argc, char **argv, struct ropts *o, int want_file)
{
    char *end;
    int c;

    memset(o, 0, sizeof *o);
    o->days = DEFAULT_DAYS;
    while ((c = lsn_cli_next(argc, argv)) != -1) {
        switch (c) {
        case 'c': o->coalition = optarg; break;
        case 't':
            o->threshold = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || o->threshold < 1 || o->threshold > 64)
                return lsn_cli_usage("--threshold must be 1 to 64, not `%s`",
                                     optarg);
            break;
        case 'a':
            if (o->n_auth == 64)
                return lsn_cli_usage("at most 64 --authority");
            o->authorities[o->n_auth++] = optarg;
            break;
        case 'o': o->out = optarg; break;
        case 'D':
            o->days = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || o->days < 1 || o->days > MAX_DAYS)
                return lsn_cli_usage("--days must be 1 to %d, not `%s`",
                                     MAX_DAYS, optarg);
            break;
        case 'g': o->org = optarg; break;
        case 'r': o->root = optarg; break;
        case 'R': o->relay = optarg; break;
        case 'd': o->display = optarg; break;
        case 'e': o->endpoint = optarg; break;
        case 'k': o->key = optarg; break;
        case 'P': o->previous = optarg; break;
        case 'p': o->pass_file = optarg; break;
        case 'j': o->json = 1; break;
        case 'C': o->circle = optarg; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    if (want_file) {
        if (optind != argc - 1)
            return lsn_cli_usage("%s: expected one roster FILE", argv[0]);
        o->file = argv[optind];
    } else if (optind != argc) {
        return lsn_cli_usage("%s: unexpected argument `%s`", argv[0],
                             argv[optind]);
    }
    return 0;
}

static int
load(const char *path, struct lsn_roster **out)
{
    int r = lsn_roster_load(path, out);

    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot read roster %s", path);
    return 0;
}

static int
save(const char *path, const struct lsn_roster *ro, int flags)
{
    int r = lsn_signed_file_write(path, LSN_TYPE_ROSTER, ro->bytes, ro->len, flags);

    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot write %s", path);
    return 0;
}

int
roster_read_pub(const char *path, int kind, uint8_t key[32])
{
    int r = lsn_public_read(path, kind, key);

    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot read %s public key %s",
                               lsn_key_kind_name(kind), path);
    return 0;
}

/* Builds body into a roster and writes it to path, reporting what
 * happened to the old signatures. */
static int
commit_edit(const char *path, const Liaison__Roster *body, size_t dropped,
            int flags)
{
    struct lsn_roster *ro = NULL;
    int r, rc;

    if ((r = lsn_roster_from_body(body, &ro)) != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "roster edit refused");
    if ((rc = save(path, ro, flags)) == 0) {
        printf("%s: roster v%llu, %zu orgs, %zu relays", path,
               (unsigned long long)ro->r->version, ro->r->n_orgs, ro->r->n_relays);
        if (ro->r->n_circles > 0)
            printf(", %zu circles", ro->r->n_circles);
        printf("\n");
        if (dropped > 0)
            printf("%zu signature(s) dropped: the edited roster must be signed again\n",
                   dropped);
    }
    lsn_roster_destroy(&ro);
    return rc;
}

static int
roster_init(int argc, char **argv)
{
    struct ropts o;
    Liaison__Roster body = LIAISON__ROSTER__INIT;
    ProtobufCBinaryData keys[64];
    uint8_t pk[64][32];
    int rc;

    if ((rc = parse(argc, argv, &o, 0)) != 0)
        return rc;
    if (!o.coalition || !o.threshold || !o.n_auth || !o.out)
        return lsn_cli_usage("init needs --coalition, --threshold, "
                             "--authority and --out");
    if (o.threshold > o.n_auth)
        return lsn_cli_usage("--threshold %d is more than the %d "
                             "authorities given", o.threshold, o.n_auth);
    for (int i = 0; i < o.n_auth; i++) {
        if ((rc = roster_read_pub(o.authorities[i], LSN_KEY_AUTHORITY, pk[i])) != 0)
            return rc;
        keys[i] = (ProtobufCBinaryData){ 32, pk[i] };
    }
    body.coalition = (char *)o.coalition;
    body.version = 1;
    body.issued = lsn_now();
    body.expires = body.issued + (int64_t)o.days * 86400;
    body.authorities = keys;
    body.n_authorities = (size_t)o.n_auth;
    body.threshold = (uint32_t)o.threshold;
    return commit_edit(o.out, &body, 0, 0);
}

static int
roster_next(int argc, char **argv)
{
    struct ropts o;
    struct lsn_roster *ro = NULL;
    Liaison__Roster body;
    int rc, r;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if (!o.out)
        return lsn_cli_usage("next needs --out NEWFILE");
    if ((rc = load(o.file, &ro)) != 0)
        return rc;
    if ((r = lsn_roster_verify(ro, lsn_now())) != 0) {
        rc = lsn_cli_fail_as(cli_verify_exit(r), r, "%s is not a valid roster to follow",
                             o.file);
        goto out;
    }
    body = *ro->r;
    body.version++;
    body.issued = lsn_now();
    body.expires = body.issued + (int64_t)o.days * 86400;
    rc = commit_edit(o.out, &body, 0, 0);
out:
    lsn_roster_destroy(&ro);
    return rc;
}


/* The shape of every in-place edit: load, change a copy of the body with
 * `edit`, write back. */
typedef int (*edit_fn)(const struct ropts *o, Liaison__Roster *body,
                       struct scratch_view *s);

static int
edit_in_place(int argc, char **argv, edit_fn edit)
{
    struct ropts o;
    struct lsn_roster *ro = NULL;
    Liaison__Roster body;
    struct scratch_view *s = NULL;
    int rc;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if ((rc = load(o.file, &ro)) != 0)
        return rc;
    if ((s = calloc(1, sizeof *s)) == NULL) {
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_NOMEM, "edit");
        goto out;
    }
    body = *ro->r;
    /* memcpy from a NULL array is undefined even for zero bytes. */
    if (body.n_orgs > 0)
        memcpy(s->orgs, body.orgs, body.n_orgs * sizeof *body.orgs);
    if (body.n_relays > 0)
        memcpy(s->relays, body.relays, body.n_relays * sizeof *body.relays);
    memcpy(s->auth, body.authorities, body.n_authorities * sizeof *body.authorities);
    if (body.n_circles > 0)
        memcpy(s->circles, body.circles, body.n_circles * sizeof *body.circles);
    body.orgs = s->orgs;
    body.relays = s->relays;
    body.authorities = s->auth;
    body.circles = s->circles;
    if ((rc = edit(&o, &body, s)) == 0)
        rc = commit_edit(o.file, &body, ro->so->n_signatures, LSN_WRITE_FORCE);
out:
    free(s);
    lsn_roster_destroy(&ro);
    return rc;
}

static int
roster_add_circle(int argc, char **argv) { return edit_in_place(argc, argv, edit_add_circle); }
static int
roster_remove_circle(int argc, char **argv) { return edit_in_place(argc, argv, edit_remove_circle); }
static int
roster_circle_add(int argc, char **argv) { return edit_in_place(argc, argv, edit_circle_add); }
static int
roster_circle_remove(int argc, char **argv) { return edit_in_place(argc, argv, edit_circle_remove); }
static int
roster_add_org(int argc, char **argv) { return edit_in_place(argc, argv, edit_add_org); }
static int
roster_remove_org(int argc, char **argv) { return edit_in_place(argc, argv, edit_remove_org); }
static int
roster_set_root(int argc, char **argv) { return edit_in_place(argc, argv, edit_set_root); }
static int
roster_add_relay(int argc, char **argv) { return edit_in_place(argc, argv, edit_add_relay); }
static int
roster_set_relay(int argc, char **argv) { return edit_in_place(argc, argv, edit_set_relay); }
static int
roster_remove_relay(int argc, char **argv) { return edit_in_place(argc, argv, edit_remove_relay); }
static int
roster_set_org_relay(int argc, char **argv) { return edit_in_place(argc, argv, edit_set_org_relay); }
static int
roster_add_authority(int argc, char **argv) { return edit_in_place(argc, argv, edit_add_authority); }
static int
roster_remove_authority(int argc, char **argv) { return edit_in_place(argc, argv, edit_remove_authority); }
static int
roster_set_threshold(int argc, char **argv) { return edit_in_place(argc, argv, edit_set_threshold); }

static int
roster_sign(int argc, char **argv)
{
    struct ropts o;
    struct lsn_roster *ro = NULL;
    uint8_t *sk = NULL;
    size_t n = 0;
    char *pass = NULL;
    int rc, r, prot = 0;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if (!o.key)
        return lsn_cli_usage("sign needs --key AUTHORITY.key");
    if ((rc = load(o.file, &ro)) != 0)
        return rc;
    if ((r = lsn_secret_is_protected(o.key, &prot)) != 0) {
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot read %s", o.key);
        goto out;
    }
    for (int tries = 1;; tries++) {
        if ((rc = cli_pass_unlock(o.pass_file, prot, o.key, &pass)) != 0)
            goto out;
        r = lsn_secret_read(o.key, LSN_KEY_AUTHORITY, pass, &sk, &n);
        cli_pass_free(&pass);
        if (!cli_pass_retry(r, o.pass_file, prot, tries))
            break;
    }
    if (r != 0 || (n != 64 && (r = LSN_ERR_MALFORMED))) {
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot use authority key %s", o.key);
        goto out;
    }
    if ((r = lsn_roster_sign(ro, sk)) != 0) {
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot sign %s", o.file);
        goto out;
    }
    if ((rc = save(o.file, ro, LSN_WRITE_FORCE)) == 0) {
        uint8_t (*keys)[32] = calloc(ro->r->n_authorities + 1, 32);
        size_t have = 0;
        if (keys != NULL) {
            for (size_t i = 0; i < ro->r->n_authorities; i++)
                memcpy(keys[i], ro->r->authorities[i].data, 32);
            have = lsn_signed_count(ro->so, (const uint8_t (*)[32])keys,
                                    ro->r->n_authorities);
            free(keys);
        }
        printf("%s: signed; %zu of %u required signatures by this version's "
               "authorities\n", o.file, have, ro->r->threshold);
    }
out:
    lsn_secret_free(sk);
    cli_pass_free(&pass);
    lsn_roster_destroy(&ro);
    return rc;
}

/* One object, one line (docs/json.md). */
static void
print_json(const struct lsn_roster *ro, int valid, int err)
{
    const Liaison__Roster *b = ro->r;
    char fp[LSN_FP_LEN], hash[65];
    json_t *o, *auth = json_array(), *orgs = json_array(), *relays = json_array();
    json_t *circles = json_array();

    lsn_hex(hash, ro->hash, 32);
    o = json_pack("{s:o, s:I, s:I, s:I, s:I, s:s, s:b}",
                  "coalition", lsn_json_text(b->coalition),
                  "version", (json_int_t)b->version, "issued", (json_int_t)b->issued,
                  "expires", (json_int_t)b->expires, "threshold", (json_int_t)b->threshold,
                  "hash", hash, "valid", valid);
    if (o != NULL && !valid)
        json_object_set_new(o, "error", json_string(lsn_strerror(err)));
    for (size_t i = 0; i < b->n_authorities; i++) {
        lsn_fingerprint(fp, b->authorities[i].data, 32);
        json_array_append_new(auth, json_pack("{s:s, s:b}", "fingerprint", fp, "signed",
            lsn_signed_verify_by(ro->so, b->authorities[i].data) == 0));
    }
    for (size_t i = 0; i < b->n_orgs; i++) {
        lsn_fingerprint(fp, b->orgs[i]->root_key.data, 32);
        json_array_append_new(orgs, json_pack("{s:o, s:o, s:s, s:o}",
            "id", lsn_json_text(b->orgs[i]->id), "display", lsn_json_text(b->orgs[i]->display),
            "root_fingerprint", fp, "relay", lsn_json_text(b->orgs[i]->relay)));
    }
    for (size_t i = 0; i < b->n_relays; i++) {
        lsn_fingerprint(fp, b->relays[i]->curve_key.data, 32);
        json_array_append_new(relays, json_pack("{s:o, s:o, s:s}",
            "name", lsn_json_text(b->relays[i]->name),
            "endpoint", lsn_json_text(b->relays[i]->endpoint), "fingerprint", fp));
    }
    for (size_t i = 0; i < b->n_circles; i++) {
        json_t *m = json_array();
        for (size_t k = 0; k < b->circles[i]->n_orgs; k++)
            json_array_append_new(m, lsn_json_text(b->circles[i]->orgs[k]));
        json_array_append_new(circles, json_pack("{s:o, s:o, s:o}",
            "name", lsn_json_text(b->circles[i]->name),
            "display", lsn_json_text(b->circles[i]->display), "orgs", m));
    }
    if (o != NULL) {
        json_object_set_new(o, "authorities", auth);
        json_object_set_new(o, "orgs", orgs);
        json_object_set_new(o, "relays", relays);
        json_object_set_new(o, "circles", circles);
    } else {
        json_decref(auth);
        json_decref(orgs);
        json_decref(relays);
        json_decref(circles);
    }
    lsn_json_print(stdout, o);
}

static void
print_text(const struct lsn_roster *ro, int valid, int err)
{
    const Liaison__Roster *b = ro->r;
    char fp[LSN_FP_LEN], t1[21], t2[21];

    printf("roster of coalition `%s`, version %llu\n", b->coalition,
           (unsigned long long)b->version);
    printf("  issued %s, expires %s\n", cli_time(b->issued, t1), cli_time(b->expires, t2));
    printf("  status: %s%s\n", valid ? "valid" : "NOT VALID: ",
           valid ? "" : lsn_strerror(err));
    printf("  authorities (threshold %u of %zu):\n", b->threshold, b->n_authorities);
    for (size_t i = 0; i < b->n_authorities; i++) {
        lsn_fingerprint(fp, b->authorities[i].data, 32);
        printf("    %s  %s\n", fp,
               lsn_signed_verify_by(ro->so, b->authorities[i].data) == 0 ? "signed" : "-");
    }
    printf("  organisations (%zu):\n", b->n_orgs);
    for (size_t i = 0; i < b->n_orgs; i++) {
        lsn_fingerprint(fp, b->orgs[i]->root_key.data, 32);
        printf("    %-20s root %s  relay %s  %s\n", b->orgs[i]->id, fp,
               b->orgs[i]->relay, b->orgs[i]->display);
    }
    printf("  relays (%zu):\n", b->n_relays);
    for (size_t i = 0; i < b->n_relays; i++) {
        lsn_fingerprint(fp, b->relays[i]->curve_key.data, 32);
        printf("    %-20s %s  key %s\n", b->relays[i]->name,
               b->relays[i]->endpoint, fp);
    }
    if (b->n_circles > 0)
        printf("  circles (%zu):\n", b->n_circles);
    for (size_t i = 0; i < b->n_circles; i++) {
        printf("    %-20s ", b->circles[i]->name);
        for (size_t k = 0; k < b->circles[i]->n_orgs; k++)
            printf("%s%s", k ? "," : "", b->circles[i]->orgs[k]);
        printf("  %s\n", b->circles[i]->display);
    }
}

static int
roster_show(int argc, char **argv)
{
    struct ropts o;
    struct lsn_roster *ro = NULL;
    int rc, err;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if ((rc = load(o.file, &ro)) != 0)
        return rc;
    err = lsn_roster_verify(ro, lsn_now());
    lsn_set_detail("%s", "");
    if (o.json)
        print_json(ro, err == 0, err);
    else
        print_text(ro, err == 0, err);
    lsn_roster_destroy(&ro);
    return 0;
}

static int
roster_verify(int argc, char **argv)
{
    struct ropts o;
    struct lsn_roster *ro = NULL, *prev = NULL;
    int rc, r;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if ((rc = load(o.file, &ro)) != 0)
        return rc;
    if (o.previous != NULL && (rc = load(o.previous, &prev)) != 0)
        goto out;
    r = lsn_roster_verify(ro, lsn_now());
    if (r == 0 && prev != NULL)
        r = lsn_roster_verify_next(prev, ro, lsn_now(), 1);
    if (o.json) {
        print_json(ro, r == 0, r);
        rc = r == 0 ? 0 : cli_verify_exit(r);
    } else if (r != 0) {
        rc = lsn_cli_fail_as(cli_verify_exit(r), r, "%s", o.file);
    } else {
        printf("%s: valid roster v%llu of `%s`%s\n", o.file,
               (unsigned long long)ro->r->version, ro->r->coalition,
               prev ? ", a valid successor of the previous version" : "");
    }
out:
    lsn_roster_destroy(&prev);
    lsn_roster_destroy(&ro);
    return rc;
}

const struct lsn_cli_cmd roster_cmds[] = {
    { "init", roster_init, init_opts, usage, "a new roster (version 1)", NULL },
    { "next", roster_next, next_opts, usage, "draft version N+1 from a valid roster", NULL },
    { "add-org", roster_add_org, add_org_opts, usage, "admit an organisation", NULL },
    { "remove-org", roster_remove_org, org_opts, usage, "remove an organisation", NULL },
    { "add-relay", roster_add_relay, relay_opts, usage, "add a relay", NULL },
    { "set-relay", roster_set_relay, relay_opts, usage, "change a relay's endpoint or key",
      NULL },
    { "remove-relay", roster_remove_relay, relay_name_opts, usage,
      "remove a relay no org is homed on", NULL },
    { "set-org-relay", roster_set_org_relay, org_relay_opts, usage,
      "move an organisation to another relay", NULL },
    { "set-root", roster_set_root, org_root_opts, usage, "change an organisation's root key",
      NULL },
    { "add-authority", roster_add_authority, authority_opts, usage,
      "add a steering-group key", NULL },
    { "remove-authority", roster_remove_authority, authority_opts, usage,
      "remove a steering-group key", NULL },
    { "set-threshold", roster_set_threshold, threshold_opts, usage,
      "change the signature threshold", NULL },
    { "add-circle", roster_add_circle, add_circle_opts, usage,
      "a named group of member organisations", NULL },
    { "remove-circle", roster_remove_circle, circle_opts, usage, "remove a circle", NULL },
    { "circle-add", roster_circle_add, circle_org_opts, usage,
      "add organisations to a circle", NULL },
    { "circle-remove", roster_circle_remove, circle_org_opts, usage,
      "take organisations out of a circle", NULL },
    { "sign", roster_sign, sign_opts, usage, "sign with an authority key", NULL },
    { "verify", roster_verify, verify_opts, usage, "check signatures, expiry and succession",
      NULL },
    { "show", roster_show, show_opts, usage, "print the roster", NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
