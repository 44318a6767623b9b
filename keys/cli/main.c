/* main.c: liaison-keys, the administrators' tool: a table of commands,
 * one file per command group. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "keys/cli/cli.h"

static const struct cli_cmd commands[] = {
    { "authority",   cmd_authority,   "steering-group signing keys (new)" },
    { "relay",       cmd_relay,       "relay CURVE key pairs (new)" },
    { "roster",      cmd_roster,      "the coalition roster (init, next, add-org, sign, verify, show, ...)" },
    { "org",         cmd_org,         "an organisation's identity (init)" },
    { "device",      cmd_device,      "devices of an organisation (add, revoke)" },
    { "rotate",      cmd_rotate,      "rotate the encryption key, a device's keys or the org root" },
    { "bundle",      cmd_bundle,      "the org bundle (show, export, verify)" },
    { "fingerprint", cmd_fingerprint, "fingerprint of a public key or signed file" },
    { "publish",     cmd_publish,     "upload the org's bundle and key deliveries to its relay" },
    { "publish-roster", cmd_publish_roster, "upload a signed roster to the org's relay" },
    { NULL, NULL, NULL },
};

static const char usage[] =
    "usage: liaison-keys COMMAND [ARGS]   (liaison-keys COMMAND --help for more)\n"
    "\n"
    "Creates and manages the keys of a liaison coalition: the roster signed by\n"
    "the steering group, each organisation's root key, bundle and devices.\n"
    "Secret keys are never taken on the command line: passphrases come from the\n"
    "terminal (no echo) or --passphrase-file FILE; --no-passphrase stores a new\n"
    "key unprotected (for demos and automated set-ups).\n"
    "\n"
    "Exit status: 0 success, 1 verification failed, 2 usage or input error.\n"
    "\n"
    "Commands:\n";

int
main(int argc, char **argv)
{
    FILE *f;

    if (sodium_init() < 0) {
        fputs("liaison-keys: libsodium failed to initialise\n", stderr);
        return 2;
    }
    if (argc >= 2)
        for (const struct cli_cmd *c = commands; c->name != NULL; c++)
            if (strcmp(argv[1], c->name) == 0)
                return c->fn(argc - 1, argv + 1);
    f = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
            ? stdout : stderr;
    if (f == stderr && argc >= 2) {
        fprintf(stderr, "liaison-keys: unknown command `%.64s`; see "
                "`liaison-keys --help`\n", argv[1]);
        return EXIT_USAGE;
    }
    fputs(usage, f);
    for (const struct cli_cmd *c = commands; c->name != NULL; c++)
        fprintf(f, "  %-12s %s\n", c->name, c->summary);
    return f == stdout ? 0 : 2;
}
