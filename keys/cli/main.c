/* main.c: liaison-keys, the administrators' tool: the table of commands
 * (groups keep theirs beside their code, each command with the options
 * it takes), run by the kit (keys/clikit.h). */
#include <stdio.h>


#include "keys/cli/cli.h"

static const struct lsn_cli_cmd commands[] = {
    { "authority", NULL, NULL, NULL, "steering-group signing keys (new)", authority_cmds },
    { "relay", NULL, NULL, NULL, "relay CURVE key pairs (new)", relay_cmds },
    { "roster", NULL, NULL, NULL,
      "the coalition roster (init, next, add-org, sign, verify, show, ...)", roster_cmds },
    { "org", NULL, NULL, NULL, "an organisation's identity (init)", org_cmds },
    { "device", NULL, NULL, NULL, "devices of an organisation (add, revoke)", device_cmds },
    { "rotate", cmd_rotate, rotate_opts, rotate_usage,
      "rotate the encryption key, a device's keys or the org root", NULL },
    { "bundle", NULL, NULL, NULL, "the org bundle (show, export, verify)", bundle_cmds },
    { "fingerprint", cmd_fingerprint, NULL, fp_usage,
      "fingerprint of a public key or signed file", NULL },
    { "publish", cmd_publish, publish_opts, publish_usage,
      "upload the org's bundle and key deliveries to its relay", NULL },
    { "publish-roster", cmd_publish_roster, publish_opts, publish_usage,
      "upload a signed roster to the org's relay", NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

static const char usage[] =
    "usage: liaison-keys COMMAND [ARGS]   (liaison-keys COMMAND --help for more)\n"
    "       liaison-keys --version\n"
    "\n"
    "Creates and manages the keys of a liaison coalition: the roster signed by\n"
    "the steering group, each organisation's root key, bundle and devices.\n"
    "Secret keys are never taken on the command line: passphrases come from the\n"
    "terminal (no echo) or --passphrase-file FILE; --no-passphrase stores a new\n"
    "key unprotected (for demos and automated set-ups).  Each command takes\n"
    "only the options its --help lists; any other is refused (exit 2).\n"
    "\n"
    "Exit status: 0 success, 1 verification failed, 2 usage or input error.\n"
    "\n"
    "Commands:\n";

static const struct lsn_cli program = {
    .prog = "liaison-keys",
    .usage = usage,
    .cmds = commands,
};

int
main(int argc, char **argv)
{
    return lsn_cli_main(&program, argc, argv);
}
