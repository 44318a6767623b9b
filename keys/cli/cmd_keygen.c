/* cmd_keygen.c: `authority new` and `relay new`: one key pair, two files. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "keys/cli/cli.h"
#include "keys/keyfile.h"
#include "keys/util.h"
#include "proto/err.h"

static const char authority_usage[] =
    "usage: liaison-keys authority new NAME [--dir DIR] [--force]\n"
    "                                 [--passphrase-file FILE | --no-passphrase]\n"
    "\n"
    "Creates a steering-group authority key pair: DIR/NAME.key (secret, 0600,\n"
    "Ed25519, signs rosters) and DIR/NAME.pub (give it to whoever runs\n"
    "`roster init`).  DIR defaults to the current folder.  The passphrase is\n"
    "asked twice on the terminal unless --passphrase-file or --no-passphrase.\n"
    "An existing file is never overwritten without --force.\n";

static const char relay_usage[] =
    "usage: liaison-keys relay new NAME [--dir DIR] [--force]\n"
    "\n"
    "Creates a relay's CURVE key pair: DIR/NAME.key (secret, 0600, X25519,\n"
    "given to liaison-relay --key) and DIR/NAME.pub (for `roster add-relay`).\n"
    "The secret key is stored WITHOUT a passphrase, and no passphrase is\n"
    "asked: the relay starts unattended and refuses a protected key.  Keep\n"
    "NAME.key on the relay's machine only.  (--no-passphrase is accepted and\n"
    "changes nothing.)\n";

/* Both take the same options (relay new refuses --passphrase-file with
 * a sentence: a relay key has no passphrase). */
static const struct option keypair_opts[] = {
    { "dir", required_argument, NULL, 'd' },
    { "force", no_argument, NULL, 'f' },
    { "passphrase-file", required_argument, NULL, 'p' },
    { "no-passphrase", no_argument, NULL, 'n' },
    { NULL, 0, NULL, 0 },
};

/* Generates a key pair of kind and writes DIR/NAME.key and DIR/NAME.pub. */
static int
keypair_new(int kind, int argc, char **argv)
{
    const char *dir = ".", *pass_file = NULL, *name;
    char path[PATH_MAX], fp[LSN_FP_LEN], what[128], *pass = NULL;
    uint8_t *sk = NULL, pk[32];
    size_t sk_len = kind == LSN_KEY_RELAY ? 32 : 64;
    int force = 0, no_pass = 0, c, r, rc = LSN_EXIT_USAGE;

    while ((c = lsn_cli_next(argc, argv)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'f': force = 1; break;
        case 'p': pass_file = optarg; break;
        case 'n': no_pass = 1; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    if (optind != argc - 1)
        return lsn_cli_usage("expected one NAME");
    name = argv[optind];
    if (lsn_name_check(name) != 0)
        return lsn_cli_usage("invalid name `%s`: use 1 to 64 of a-z 0-9 . _ -",
                             name);
    /* Both files may be written before either is. */
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    if ((rc = cli_out_check(path, force)) != 0)
        return rc;
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    if ((rc = cli_out_check(path, force)) != 0)
        return rc;
    if (kind == LSN_KEY_RELAY) {
        /* liaison-relay reads its key at start, with nobody to ask. */
        if (pass_file != NULL)
            return lsn_cli_usage("a relay key is stored without a "
                                 "passphrase (the relay refuses a protected "
                                 "key): drop --passphrase-file");
        fprintf(stderr, "liaison-keys: %s/%s.key is stored without a passphrase, "
                "as liaison-relay needs it; keep it on the relay's machine only\n",
                dir, name);
    } else {
        snprintf(what, sizeof what, "%s key `%s`", lsn_key_kind_name(kind), name);
        if ((rc = cli_pass_new(pass_file, no_pass, what, &pass)) != 0)
            return rc;
    }
    rc = LSN_EXIT_USAGE;
    if ((sk = sodium_malloc(64)) == NULL)
        goto out;
    if (kind == LSN_KEY_RELAY)
        crypto_box_keypair(pk, sk);
    else
        crypto_sign_keypair(pk, sk);
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    r = lsn_secret_write(path, kind, name, sk, sk_len, pass,
                         force ? LSN_WRITE_FORCE : 0);
    if (r != 0) {
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot write %s", path);
        goto out;
    }
    printf("secret key: %s\n", path);
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    if ((r = lsn_public_write(path, kind, name, pk, force ? LSN_WRITE_FORCE : 0)) != 0) {
        rc = lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot write %s", path);
        goto out;
    }
    lsn_fingerprint(fp, pk, 32);
    printf("public key: %s\nfingerprint: %s\n", path, fp);
    rc = 0;
out:
    sodium_free(sk);
    cli_pass_free(&pass);
    return rc;
}

static int
authority_new(int argc, char **argv)
{
    return keypair_new(LSN_KEY_AUTHORITY, argc, argv);
}

static int
relay_new(int argc, char **argv)
{
    return keypair_new(LSN_KEY_RELAY, argc, argv);
}

const struct lsn_cli_cmd authority_cmds[] = {
    { "new", authority_new, keypair_opts, authority_usage, "create an authority key pair",
      NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

const struct lsn_cli_cmd relay_cmds[] = {
    { "new", relay_new, keypair_opts, relay_usage, "create a relay CURVE key pair", NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
