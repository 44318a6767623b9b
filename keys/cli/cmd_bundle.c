/* cmd_bundle.c: `bundle show|export|verify` and `fingerprint`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/bundle.h"
#include "keys/cli/cli.h"
#include "keys/json.h"
#include "keys/keyfile.h"
#include "keys/org.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"

static const char usage[] =
    "usage: liaison-keys bundle show --org-dir DIR [--json]\n"
    "       liaison-keys bundle export --org-dir DIR --out FILE [--force]\n"
    "       liaison-keys bundle verify FILE --roster FILE [--json]\n"
    "\n"
    "show:   the org's current bundle: version, validity, encryption keys and\n"
    "        devices with their fingerprints (no passphrase needed).  Warns on\n"
    "        stderr when it expires within 30 days.\n"
    "export: a copy of the current signed bundle, for `liaison bundle import`.\n"
    "verify: exit 0 only if FILE is signed by the root key that the (valid)\n"
    "        roster lists for its org and has not expired; 1 if not.\n";

const char fp_usage[] =
    "usage: liaison-keys fingerprint FILE\n"
    "\n"
    "Prints the fingerprint of a public key file (authority, org root or relay),\n"
    "or of a signed roster or bundle file (its hash), in groups people can read\n"
    "to each other over the phone.\n";

static const struct option show_opts[] = {
    { "org-dir", required_argument, NULL, 'd' },
    { "json", no_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
};

static const struct option export_opts[] = {
    { "org-dir", required_argument, NULL, 'd' },
    { "out", required_argument, NULL, 'o' },
    { "force", no_argument, NULL, 'f' },
    { NULL, 0, NULL, 0 },
};

static const struct option verify_opts[] = {
    { "roster", required_argument, NULL, 'r' },
    { "json", no_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
};

struct bopts {
    const char *dir, *out, *roster, *file;
    int json, force;
};

static int
parse(int argc, char **argv, struct bopts *o, int want_file)
{
    int c;

    memset(o, 0, sizeof *o);
    while ((c = lsn_cli_next(argc, argv)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'o': o->out = optarg; break;
        case 'r': o->roster = optarg; break;
        case 'j': o->json = 1; break;
        case 'f': o->force = 1; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    if (want_file && optind != argc - 1)
        return lsn_cli_usage("%s: expected one FILE", argv[0]);
    if (!want_file && optind != argc)
        return lsn_cli_usage("unexpected argument `%s`", argv[optind]);
    o->file = want_file ? argv[optind] : NULL;
    return 0;
}

static const char *
role_name(int role)
{
    switch (role) {
    case LIAISON__DEVICE_ROLE__ROLE_HUMAN:  return "human";
    case LIAISON__DEVICE_ROLE__ROLE_SYSTEM: return "system";
    case LIAISON__DEVICE_ROLE__ROLE_ADMIN:  return "admin";
    default:                                return "none";
    }
}

/* One object, one line (docs/json.md); names and relay-chosen text
 * through lsn_json_text. */
static void
print_json(const struct lsn_bundle *bu, int valid, int err)
{
    const Liaison__Bundle *b = bu->b;
    char fp[LSN_FP_LEN], hash[65];
    json_t *o, *keys = json_array(), *devs = json_array();

    lsn_hex(hash, bu->hash, 32);
    o = json_pack("{s:o, s:I, s:I, s:I, s:s}", "org", lsn_json_text(b->org),
                  "version", (json_int_t)b->version, "issued", (json_int_t)b->issued,
                  "expires", (json_int_t)b->expires, "hash", hash);
    if (o != NULL && valid >= 0) {
        json_object_set_new(o, "valid", json_boolean(valid));
        if (!valid)
            json_object_set_new(o, "error", json_string(lsn_strerror(err)));
    }
    for (size_t i = 0; i < b->n_enc_keys; i++) {
        lsn_fingerprint(fp, b->enc_keys[i]->public_key.data, 32);
        json_array_append_new(keys, json_pack("{s:i, s:s, s:I, s:I}",
            "key_id", (int)b->enc_keys[i]->key_id, "fingerprint", fp,
            "created", (json_int_t)b->enc_keys[i]->created,
            "retire_after", (json_int_t)b->enc_keys[i]->retire_after));
    }
    for (size_t i = 0; i < b->n_devices; i++) {
        const Liaison__Device *d = b->devices[i];
        lsn_fingerprint(fp, d->sign_key.data, 32);
        json_array_append_new(devs, json_pack("{s:o, s:s, s:s, s:b, s:b}",
            "name", lsn_json_text(d->name), "role", role_name(d->role),
            "fingerprint", fp, "may_send", d->may_send, "may_receive", d->may_receive));
    }
    if (o != NULL) {
        json_object_set_new(o, "enc_keys", keys);
        json_object_set_new(o, "devices", devs);
    } else {
        json_decref(keys);
        json_decref(devs);
    }
    lsn_json_print(stdout, o);
}

static void
print_text(const struct lsn_bundle *bu, int valid, int err)
{
    const Liaison__Bundle *b = bu->b;
    char fp[LSN_FP_LEN], t1[21], t2[21];

    printf("bundle of org `%s`, version %llu\n", b->org, (unsigned long long)b->version);
    printf("  issued %s, expires %s\n", cli_time(b->issued, t1), cli_time(b->expires, t2));
    if (valid >= 0)
        printf("  status: %s%s\n", valid ? "valid" : "NOT VALID: ",
               valid ? "" : lsn_strerror(err));
    printf("  encryption keys (newest first):\n");
    for (size_t i = 0; i < b->n_enc_keys; i++) {
        lsn_fingerprint(fp, b->enc_keys[i]->public_key.data, 32);
        if (b->enc_keys[i]->retire_after == 0)
            printf("    %4u  %s  current\n", b->enc_keys[i]->key_id, fp);
        else
            printf("    %4u  %s  retires %s\n", b->enc_keys[i]->key_id, fp,
                   cli_time(b->enc_keys[i]->retire_after, t1));
    }
    printf("  devices (%zu):\n", b->n_devices);
    for (size_t i = 0; i < b->n_devices; i++) {
        const Liaison__Device *d = b->devices[i];
        lsn_fingerprint(fp, d->sign_key.data, 32);
        printf("    %-20s %-6s %s  %s%s\n", d->name, role_name(d->role), fp,
               d->may_send ? "send " : "", d->may_receive ? "receive" : "");
    }
}

static int
bundle_show(int argc, char **argv)
{
    struct bopts o;
    struct lsn_bundle *bu = NULL;
    int rc, r;

    if ((rc = parse(argc, argv, &o, 0)) != 0)
        return rc;
    if (o.dir == NULL)
        return lsn_cli_usage("show needs --org-dir DIR");
    if ((r = lsn_org_load_bundle(o.dir, &bu)) != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot read the bundle in %s", o.dir);
    if (o.json)
        print_json(bu, -1, 0);
    else
        print_text(bu, -1, 0);
    cli_bundle_expiry_warn(bu);
    lsn_bundle_destroy(&bu);
    return 0;
}

static int
bundle_export(int argc, char **argv)
{
    struct bopts o;
    struct lsn_bundle *bu = NULL;
    int rc, r;

    if ((rc = parse(argc, argv, &o, 0)) != 0)
        return rc;
    if (o.dir == NULL || o.out == NULL)
        return lsn_cli_usage("export needs --org-dir DIR and --out FILE");
    if ((r = lsn_org_load_bundle(o.dir, &bu)) != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot read the bundle in %s", o.dir);
    r = lsn_signed_file_write(o.out, LSN_TYPE_BUNDLE, bu->bytes, bu->len,
                              o.force ? LSN_WRITE_FORCE : 0);
    if (r == LSN_ERR_EXISTS)
        lsn_set_detail("use --force to overwrite");
    if (r != 0)
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot write %s", o.out);
    else
        printf("%s: bundle v%llu of `%s`\n", o.out,
               (unsigned long long)bu->b->version, bu->b->org);
    lsn_bundle_destroy(&bu);
    return rc;
}

static int
load_bundle(const char *path, struct lsn_bundle **out)
{
    int r = lsn_bundle_load(path, out);

    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot read bundle %s", path);
    return 0;
}

static int
bundle_verify(int argc, char **argv)
{
    struct bopts o;
    struct lsn_bundle *bu = NULL;
    struct lsn_roster *ro = NULL;
    int rc, r;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if (o.roster == NULL)
        return lsn_cli_usage("verify needs --roster FILE");
    if ((rc = cli_roster_load(o.roster, &ro)) != 0)
        return rc;
    if ((rc = load_bundle(o.file, &bu)) != 0)
        goto out;
    r = lsn_bundle_verify(bu, ro, lsn_now());
    if (o.json) {
        print_json(bu, r == 0, r);
        rc = r == 0 ? 0 : cli_verify_exit(r);
    } else if (r != 0) {
        rc = lsn_cli_fail_as(cli_verify_exit(r), r, "%s", o.file);
    } else {
        printf("%s: valid bundle v%llu of `%s` (roster v%llu)\n", o.file,
               (unsigned long long)bu->b->version, bu->b->org,
               (unsigned long long)ro->r->version);
    }
out:
    lsn_bundle_destroy(&bu);
    lsn_roster_destroy(&ro);
    return rc;
}

const struct lsn_cli_cmd bundle_cmds[] = {
    { "show", bundle_show, show_opts, usage, "print the org's current bundle", NULL },
    { "export", bundle_export, export_opts, usage, "copy the current signed bundle to a file",
      NULL },
    { "verify", bundle_verify, verify_opts, usage, "verify a bundle file against a roster",
      NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

int
cmd_fingerprint(int argc, char **argv)
{
    static const int kinds[] = { LSN_KEY_AUTHORITY, LSN_KEY_ORG_ROOT, LSN_KEY_RELAY };
    static const char *types[] = { LSN_TYPE_ROSTER, LSN_TYPE_BUNDLE };
    char fp[LSN_FP_LEN];
    uint8_t key[32], *bin = NULL;
    size_t n = 0;
    int r = LSN_ERR_MALFORMED;

    if (argc != 2)
        return lsn_cli_usage("expected one FILE");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        r = lsn_public_read(argv[1], kinds[i], key);
        if (r == 0) {
            lsn_fingerprint(fp, key, 32);
            printf("%s  %s public key\n", fp, lsn_key_kind_name(kinds[i]));
            return 0;
        }
        if (r != LSN_ERR_WRONG_KIND)
            break;
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (lsn_signed_file_read(argv[1], types[i], &bin, &n) == 0) {
            lsn_fingerprint(fp, bin, n);
            printf("%s  signed %s\n", fp, types[i]);
            free(bin);
            return 0;
        }
    }
    return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "%s is not a public key or signed file",
                           argv[1]);
}
