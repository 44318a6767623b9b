/* main.c: `liaison`, the client for partner liaisons and automated
 * systems: a table of commands, one file per group. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "client/cli/cli.h"
#include "client/cli/cmd_agent.h"

static const struct cmd commands[] = {
    { "init",    cmd_init,    "set up a profile from a device credential" },
    { "orgs",    cmd_orgs,    "coalition members, fingerprints, bundle versions" },
    { "send",    cmd_send,    "seal an alert and send it through the home relay" },
    { "fetch",   cmd_fetch,   "take everything waiting: verify, store, acknowledge" },
    { "inbox",   cmd_inbox,   "list received messages" },
    { "read",    cmd_read,    "show one message and mark it read" },
    { "watch",   cmd_watch,   "handle messages as they arrive" },
    { "reply",   cmd_reply,   "answer a received message" },
    { "forward", cmd_forward, "forward a received message (TLP 2.0 enforced)" },
    { "status",  cmd_status,  "what became of a sent message, with receipts" },
    { "seal",    cmd_seal,    "seal an alert into a file, without a relay" },
    { "open",    cmd_open,    "verify and open an envelope file, without a relay" },
    { "bundle",  cmd_bundle,  "import an org bundle for offline use" },
    { "audit",   cmd_audit,   "check or show the local hash-chained audit log" },
    { "prune",   cmd_prune,   "remove old read messages from the local store" },
    { "unlock",  cmd_unlock,  "ask the passphrase once; an agent holds the credential" },
    { "lock",    cmd_lock,    "stop the unlock agent: the next command asks again" },
    { "passwd",  cmd_passwd,  "change the credential's passphrase" },
    { NULL, NULL, NULL },
};

static const char usage[] =
    "usage: liaison [--home DIR] [--passphrase-file FILE] COMMAND [ARGS]\n"
    "       (liaison COMMAND --help for each command)\n"
    "\n"
    "Sends and receives end-to-end encrypted, signed intelligence alerts\n"
    "between the organisations of a liaison coalition.  The profile folder is\n"
    "--home DIR, else $LIAISON_HOME, else ~/.liaison.  A passphrase-protected\n"
    "credential is opened with --passphrase-file FILE, else by the agent\n"
    "`liaison unlock` starts, else by asking on the terminal (three tries).\n"
    "\n"
    "Exit status: 0 success; 1 verification or delivery failure; 2 usage or\n"
    "input error; 3 relay unreachable (temporary: retry later); 4 refused by a\n"
    "limit (quota, size, TLP rule).\n"
    "\n"
    "Commands:\n";

/* Takes --home and --passphrase-file out of argv wherever they are. */
static int
global_options(int *argc, char **argv)
{
    int o = 1;

    for (int i = 1; i < *argc; i++) {
        const char **slot = strcmp(argv[i], "--home") == 0 ? &cli_home
                            : strcmp(argv[i], "--passphrase-file") == 0 ? &cli_pass_file
                            : NULL;
        if (slot == NULL) {
            argv[o++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            fprintf(stderr, "liaison: %s needs a value\n", argv[i]);
            return -1;
        }
        *slot = argv[++i];
    }
    *argc = o;
    argv[o] = NULL;
    return 0;
}

int
main(int argc, char **argv)
{
    FILE *f;

    if (sodium_init() < 0) {
        fputs("liaison: libsodium failed to initialise\n", stderr);
        return EXIT_USAGE;
    }
    if (global_options(&argc, argv) != 0)
        return EXIT_USAGE;
    if (argc >= 2)
        for (const struct cmd *c = commands; c->name != NULL; c++)
            if (strcmp(argv[1], c->name) == 0)
                return c->fn(argc - 1, argv + 1);
    f = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
            ? stdout : stderr;
    if (f == stderr && argc >= 2)
        return cli_usage(usage, "unknown command `%.64s`", argv[1]);
    fputs(usage, f);
    for (const struct cmd *c = commands; c->name != NULL; c++)
        fprintf(f, "  %-8s %s\n", c->name, c->summary);
    return f == stdout ? EXIT_OK : EXIT_USAGE;
}
