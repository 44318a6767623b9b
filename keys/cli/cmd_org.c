/* cmd_org.c: `org init`, `device add|revoke` and `rotate`: every change an
 * administrator makes to an org folder. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/cli/cli.h"
#include "keys/keyfile.h"
#include "keys/org.h"
#include "keys/util.h"
#include "proto/err.h"

static const char org_usage[] =
    "usage: liaison-keys org init ID --dir DIR [--force]\n"
    "                             [--passphrase-file FILE | --no-passphrase]\n"
    "\n"
    "Creates an organisation's identity in DIR (mode 0700):\n"
    "  root.key, root.pub   the org root key; give root.pub to the steering group\n"
    "                       for `roster add-org`, and keep root.key offline\n"
    "  enc.key              the org encryption keys (secret)\n"
    "  bundle.signed        bundle v1: the encryption key and the admin device\n"
    "  admin.cred           the publishing device's credential\n"
    "All secret files share one passphrase.  ID is 1 to 32 of a-z, 0-9 and -.\n";

static const char device_usage[] =
    "usage: liaison-keys device add NAME --org-dir DIR --role human|system\n"
    "                  [--send-only | --receive-only] --roster FILE --out CRED [--force]\n"
    "                  [--passphrase-file FILE] [--cred-passphrase-file FILE | --no-passphrase]\n"
    "       liaison-keys device revoke NAME --org-dir DIR [--passphrase-file FILE]\n"
    "\n"
    "add: a new device in the org's next bundle, and its credential CRED (0600):\n"
    "its keys, the org encryption keys (unless --send-only) and the pinned\n"
    "roster, which must be valid and list this org's root.  Hand CRED to the\n"
    "device's machine over a trusted channel.  --passphrase-file unlocks the\n"
    "org folder; the credential's own passphrase is asked on the terminal, or\n"
    "read from --cred-passphrase-file, or omitted with --no-passphrase (for\n"
    "automated systems).\n"
    "\n"
    "revoke: the next bundle drops the device AND carries a new encryption key,\n"
    "delivered (DIR/deliveries/) only to the remaining receiving devices.\n";

const char rotate_usage[] =
    "usage: liaison-keys rotate --org-dir DIR --enc\n"
    "       liaison-keys rotate --org-dir DIR --device NAME [--roster FILE] [--out CRED]\n"
    "       liaison-keys rotate --org-dir DIR --root [--adopt --roster FILE]\n"
    "       (each also takes --passphrase-file FILE; --device takes\n"
    "        --cred-passphrase-file FILE | --no-passphrase for the new credential)\n"
    "\n"
    "--enc     a new org encryption key; the previous one still opens messages\n"
    "          for 30 days; key deliveries for every receiving device are\n"
    "          written to DIR/deliveries/ for publishing.\n"
    "--device  new keys for one device and its new credential (CRED; for the\n"
    "          admin device the default is DIR/admin.cred).\n"
    "--root    step 1 writes DIR/root.next.key and root.next.pub: the steering\n"
    "          group puts root.next.pub in the roster with `roster set-root`.\n"
    "          Step 2, --adopt --roster FILE, once FILE is a valid roster\n"
    "          listing root.next.pub: switches to it and signs the next bundle.\n";

/* Each command's options; parse reads any of them into struct oopts. */
static const struct option org_init_opts[] = {
    { "dir", required_argument, NULL, 'd' },
    { "force", no_argument, NULL, 'f' },
    { "passphrase-file", required_argument, NULL, 'p' },
    { "no-passphrase", no_argument, NULL, 'n' },
    { NULL, 0, NULL, 0 },
};

static const struct option device_add_opts[] = {
    { "org-dir", required_argument, NULL, 'd' },
    { "role", required_argument, NULL, 'R' },
    { "send-only", no_argument, NULL, 'S' },
    { "receive-only", no_argument, NULL, 'V' },
    { "roster", required_argument, NULL, 'r' },
    { "out", required_argument, NULL, 'o' },
    { "force", no_argument, NULL, 'f' },
    { "passphrase-file", required_argument, NULL, 'p' },
    { "cred-passphrase-file", required_argument, NULL, 'c' },
    { "no-passphrase", no_argument, NULL, 'n' },
    { NULL, 0, NULL, 0 },
};

static const struct option device_revoke_opts[] = {
    { "org-dir", required_argument, NULL, 'd' },
    { "passphrase-file", required_argument, NULL, 'p' },
    { NULL, 0, NULL, 0 },
};

const struct option rotate_opts[] = {
    { "org-dir", required_argument, NULL, 'd' },
    { "enc", no_argument, NULL, 'e' },
    { "device", required_argument, NULL, 'D' },
    { "root", no_argument, NULL, 'T' },
    { "adopt", no_argument, NULL, 'A' },
    { "roster", required_argument, NULL, 'r' },
    { "out", required_argument, NULL, 'o' },
    { "passphrase-file", required_argument, NULL, 'p' },
    { "cred-passphrase-file", required_argument, NULL, 'c' },
    { "no-passphrase", no_argument, NULL, 'n' },
    { NULL, 0, NULL, 0 },
};

struct oopts {
    const char *dir, *pass_file, *cred_pass_file, *roster, *out, *role, *device;
    int force, no_pass, send_only, receive_only, enc, root, adopt;
    const char *arg;   /* the positional argument */
};

static int
parse(int argc, char **argv, struct oopts *o, int want_arg)
{
    int c;

    memset(o, 0, sizeof *o);
    while ((c = lsn_cli_next(argc, argv)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'p': o->pass_file = optarg; break;
        case 'c': o->cred_pass_file = optarg; break;
        case 'n': o->no_pass = 1; break;
        case 'f': o->force = 1; break;
        case 'r': o->roster = optarg; break;
        case 'o': o->out = optarg; break;
        case 'R': o->role = optarg; break;
        case 'S': o->send_only = 1; break;
        case 'V': o->receive_only = 1; break;
        case 'e': o->enc = 1; break;
        case 'D': o->device = optarg; break;
        case 'T': o->root = 1; break;
        case 'A': o->adopt = 1; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    if (want_arg && optind != argc - 1)
        return lsn_cli_usage("%s: expected one argument", argv[0]);
    if (!want_arg && optind != argc)
        return lsn_cli_usage("unexpected argument `%s`", argv[optind]);
    o->arg = want_arg ? argv[optind] : NULL;
    if (o->dir == NULL)
        return lsn_cli_usage("%s needs %s DIR", argv[0],
                             strcmp(argv[0], "init") == 0 ? "--dir" : "--org-dir");
    return 0;
}

static int
org_init(int argc, char **argv)
{
    struct oopts o;
    struct lsn_org *org = NULL;
    char *pass = NULL, what[PATH_MAX + 32], fp[LSN_FP_LEN];
    int rc, r;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if (lsn_org_id_check(o.arg) != 0)
        return lsn_cli_usage("invalid org id `%s`: use 1 to 32 of "
                             "a-z, 0-9 and -", o.arg);
    /* Every file it writes may be written, before any is. */
    if (access(o.dir, F_OK) == 0) {
        static const char *const files[] = {
            "root.key", "root.pub", "enc.key", "bundle.signed", "admin.cred", NULL,
        };
        for (int i = 0; files[i] != NULL; i++) {
            snprintf(what, sizeof what, "%s/%s", o.dir, files[i]);
            if ((rc = cli_out_check(what, o.force)) != 0)
                return rc;
        }
    } else if ((rc = cli_out_check(o.dir, 0)) != 0) {
        return rc;
    }
    snprintf(what, sizeof what, "the org keys in %s", o.dir);
    if ((rc = cli_pass_new(o.pass_file, o.no_pass, what, &pass)) != 0)
        return rc;
    r = lsn_org_init(o.dir, o.arg, pass, o.force, lsn_now(), &org);
    cli_pass_free(&pass);
    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot create org `%s` in %s", o.arg, o.dir);
    lsn_fingerprint(fp, org->root_sk + 32, 32);
    printf("org `%s` created in %s\n", o.arg, o.dir);
    printf("root key fingerprint: %s\n", fp);
    printf("next: give %s/root.pub to the steering group (`roster add-org`),\n"
           "      compare the fingerprint with them by phone, then add devices.\n",
           o.dir);
    lsn_org_destroy(&org);
    return 0;
}

/* Loads and verifies the roster a credential will pin: it must list this
 * org with the org's current root. */
static int
roster_for(const struct lsn_org *org, const char *path, struct lsn_roster **out)
{
    const Liaison__RosterOrg *ro;
    int rc;

    if ((rc = cli_roster_load(path, out)) != 0)
        return rc;
    ro = lsn_roster_find_org(*out, org->id);
    if (ro == NULL || sodium_memcmp(ro->root_key.data, org->root_sk + 32, 32) != 0) {
        fprintf(stderr, "liaison-keys: roster %s does not list org `%s` with this "
                "folder's root key: the steering group must add it first\n",
                path, org->id);
        lsn_roster_destroy(out);
        return LSN_EXIT_USAGE;
    }
    /* Later commands (publish) find the coalition here. */
    (void)lsn_org_keep_roster(org, *out);
    return 0;
}

/* The new credential's passphrase, asked before anything changes. */
static int
credential_pass(const char *path, const struct oopts *o, char **pass)
{
    char what[PATH_MAX + 32];

    snprintf(what, sizeof what, "credential %s", path);
    return cli_pass_new(o->cred_pass_file, o->no_pass, what, pass);
}

static int
save_credential(const struct lsn_credential *c, const char *path,
                const char *pass, int flags)
{
    char fp[LSN_FP_LEN];
    int r = lsn_credential_save(c, path, pass, flags);

    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot write credential %s", path);
    lsn_fingerprint(fp, c->keys->sign_pk, 32);
    printf("credential: %s (device `%s` of `%s`)\n", path, c->device, c->org);
    printf("device signing key fingerprint: %s\n", fp);
    return 0;
}

static int
device_add(int argc, char **argv)
{
    struct oopts o;
    struct lsn_org *org = NULL;
    struct lsn_roster *ro = NULL;
    struct lsn_credential *c = NULL;
    char *pass = NULL;
    int role, rc, r;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if (o.role == NULL || o.roster == NULL || o.out == NULL)
        return lsn_cli_usage("add needs --role, --roster and --out");
    if (strcmp(o.role, "human") == 0)
        role = LIAISON__DEVICE_ROLE__ROLE_HUMAN;
    else if (strcmp(o.role, "system") == 0)
        role = LIAISON__DEVICE_ROLE__ROLE_SYSTEM;
    else
        return lsn_cli_usage("--role must be human or system, not `%s`",
                             o.role);
    if (o.send_only && o.receive_only)
        return lsn_cli_usage("--send-only and --receive-only "
                             "exclude each other");
    if (lsn_name_check(o.arg) != 0)
        return lsn_cli_usage("invalid device name `%s`: use 1 to 64 "
                             "of a-z 0-9 . _ -", o.arg);
    /* Every input is checked before the bundle changes: a failure after
     * would leave the device in the bundle without its credential. */
    if ((rc = cli_out_check(o.out, o.force)) != 0)
        return rc;
    if ((rc = cli_org_load(o.dir, o.pass_file, &org)) != 0)
        return rc;
    if ((rc = roster_for(org, o.roster, &ro)) != 0)
        goto out;
    if (lsn_bundle_find_device(org->bundle, o.arg) != NULL) {
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_EXISTS, "device `%s` is already in the "
                             "bundle of `%s`: use `rotate --device %s --out CRED` for a new "
                             "credential", o.arg, org->id, o.arg);
        goto out;
    }
    if ((rc = credential_pass(o.out, &o, &pass)) != 0)
        goto out;
    r = lsn_org_device_add(org, o.arg, role, !o.receive_only, !o.send_only,
                           ro->bytes, ro->len, lsn_now(), &c);
    if (r != 0) {
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot add device `%s`", o.arg);
        goto out;
    }
    cli_org_report(org, "device added");
    rc = save_credential(c, o.out, pass, o.force ? LSN_WRITE_FORCE : 0);
    if (rc != 0)
        fprintf(stderr, "liaison-keys: the bundle already lists `%s`; rerun with "
                "`rotate --device %s --out CRED` to get a credential\n", o.arg, o.arg);
out:
    cli_pass_free(&pass);
    lsn_credential_destroy(&c);
    lsn_roster_destroy(&ro);
    lsn_org_destroy(&org);
    return rc;
}

static int
device_revoke(int argc, char **argv)
{
    struct oopts o;
    struct lsn_org *org = NULL;
    int rc, r;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if ((rc = cli_org_load(o.dir, o.pass_file, &org)) != 0)
        return rc;
    if ((r = lsn_org_device_revoke(org, o.arg, lsn_now())) != 0)
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot revoke device `%s`", o.arg);
    else
        cli_org_report(org, "device revoked, encryption key replaced");
    lsn_org_destroy(&org);
    return rc;
}

static int
rotate_device(struct lsn_org *org, const struct oopts *o)
{
    struct lsn_roster *ro = NULL;
    struct lsn_credential *c = NULL;
    char admin_path[PATH_MAX], *pass = NULL;
    const char *out = o->out;
    int rc = 0, r;

    if (out == NULL && strcmp(o->device, LSN_ADMIN_DEVICE) == 0) {
        snprintf(admin_path, sizeof admin_path, "%s/admin.cred", o->dir);
        out = admin_path;
    }
    if (out == NULL)
        return lsn_cli_usage("--device needs --out CRED");
    if (lsn_bundle_find_device(org->bundle, o->device) == NULL)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_UNKNOWN_DEVICE, "cannot rotate device "
                               "`%s` of `%s`", o->device, org->id);
    if ((rc = cli_out_check(out, 1)) != 0)
        return rc;
    if (o->roster != NULL && (rc = roster_for(org, o->roster, &ro)) != 0)
        return rc;
    if ((rc = credential_pass(out, o, &pass)) != 0)
        goto out;
    r = lsn_org_rotate_device(org, o->device, ro ? ro->bytes : NULL,
                              ro ? ro->len : 0, lsn_now(), &c);
    if (r != 0)
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot rotate device `%s`", o->device);
    else {
        cli_org_report(org, "device keys rotated");
        rc = save_credential(c, out, pass, LSN_WRITE_FORCE);
    }
out:
    cli_pass_free(&pass);
    lsn_credential_destroy(&c);
    lsn_roster_destroy(&ro);
    return rc;
}

static int
rotate_root(struct lsn_org *org, const struct oopts *o)
{
    struct lsn_roster *ro = NULL;
    char fp[LSN_FP_LEN];
    int rc, r;

    if (!o->adopt) {
        uint8_t pk[32];
        char path[PATH_MAX];
        if ((r = lsn_org_root_prepare(org)) != 0)
            return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot create the next root key");
        snprintf(path, sizeof path, "%s/root.next.pub", o->dir);
        if (lsn_public_read(path, LSN_KEY_ORG_ROOT, pk) == 0) {
            lsn_fingerprint(fp, pk, 32);
            printf("next root key: %s\nfingerprint: %s\n", path, fp);
        }
        printf("next: the steering group runs `roster set-root --org %s --root "
               "root.next.pub`\n      and signs; then run `rotate --root --adopt "
               "--roster NEW-ROSTER`.\n", org->id);
        return 0;
    }
    if (o->roster == NULL)
        return lsn_cli_usage("--adopt needs --roster FILE");
    if ((rc = cli_roster_load(o->roster, &ro)) != 0)
        return rc;
    if ((r = lsn_org_root_adopt(org, ro, lsn_now())) != 0) {
        rc = lsn_cli_fail_as(cli_verify_exit(r), r, "cannot adopt the next root");
    } else {
        (void)lsn_org_keep_roster(org, ro);
        cli_org_report(org, "root key replaced");
    }
    lsn_roster_destroy(&ro);
    return rc;
}

int
cmd_rotate(int argc, char **argv)
{
    struct oopts o;
    struct lsn_org *org = NULL;
    int rc, r;

    if ((rc = parse(argc, argv, &o, 0)) != 0)
        return rc;
    if (o.enc + (o.device != NULL) + o.root != 1)
        return lsn_cli_usage("give exactly one of --enc, --device "
                             "NAME, --root");
    if ((rc = cli_org_load(o.dir, o.pass_file, &org)) != 0)
        return rc;
    if (o.enc) {
        if ((r = lsn_org_rotate_enc(org, lsn_now())) != 0)
            rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot rotate the encryption key");
        else
            cli_org_report(org, "encryption key rotated");
    } else if (o.device != NULL) {
        rc = rotate_device(org, &o);
    } else {
        rc = rotate_root(org, &o);
    }
    lsn_org_destroy(&org);
    return rc;
}

const struct lsn_cli_cmd org_cmds[] = {
    { "init", org_init, org_init_opts, org_usage, "create an organisation's identity",
      NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

const struct lsn_cli_cmd device_cmds[] = {
    { "add", device_add, device_add_opts, device_usage,
      "add a device and write its credential", NULL },
    { "revoke", device_revoke, device_revoke_opts, device_usage,
      "remove a device and replace the encryption key", NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
