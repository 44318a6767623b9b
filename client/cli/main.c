/* main.c: `liaison`, the client for partner liaisons and automated
 * systems: the table of commands, each with the options it takes (one
 * file per group of commands), run by the kit (keys/clikit.h). */
#include <stdio.h>


#include "client/cli/cli.h"
#include "client/cli/cmd_agent.h"

static const struct lsn_cli_cmd commands[] = {
    { "init", cmd_init, init_opts, init_usage,
      "set up a profile from a device credential", NULL },
    { "orgs", cmd_orgs, orgs_opts, orgs_usage,
      "coalition members, fingerprints, bundle versions", NULL },
    { "send", cmd_send, send_opts, send_usage,
      "seal an alert and send it through the home relay", NULL },
    { "fetch", cmd_fetch, fetch_opts, fetch_usage,
      "take everything waiting: verify, store, acknowledge", NULL },
    { "inbox", cmd_inbox, inbox_opts, inbox_usage, "list received messages", NULL },
    { "read", cmd_read, read_opts, inbox_usage, "show one message and mark it read", NULL },
    { "watch", cmd_watch, watch_opts, fetch_usage, "handle messages as they arrive", NULL },
    { "reply", cmd_reply, reply_opts, send_usage, "answer a received message", NULL },
    { "forward", cmd_forward, forward_opts, send_usage,
      "forward a received message (TLP 2.0 enforced)", NULL },
    { "sent", cmd_sent, sent_opts, sent_usage,
      "list sent messages with their state per recipient org", NULL },
    { "status", cmd_status, status_opts, status_usage,
      "what became of a sent message, with receipts", NULL },
    { "feedback", cmd_feedback, feedback_opts, feedback_usage,
      "tell a message's sender what this org did with it", NULL },
    { "update", cmd_update, update_opts, send_usage,
      "send a new version of a sent message that supersedes it", NULL },
    { "retract", cmd_retract, retract_opts, retract_usage,
      "withdraw a sent message from every org it reached", NULL },
    { "hold", cmd_hold, hold_opts, hold_usage,
      "keep a received message through retraction and prune", NULL },
    { "release", cmd_release, release_opts, hold_usage, "lift a legal hold", NULL },
    { "seal", cmd_seal, seal_opts, send_usage,
      "seal an alert into a file, without a relay", NULL },
    { "open", cmd_open, read_opts, inbox_usage,
      "verify and open an envelope file, without a relay", NULL },
    { "bundle", NULL, NULL, bundle_usage, "import an org bundle for offline use",
      bundle_cmds },
    { "audit", NULL, NULL, audit_usage,
      "check or show the local hash-chained audit log", audit_cmds },
    { "prune", cmd_prune, prune_opts, prune_usage,
      "remove old read messages from the local store", NULL },
    { "unlock", cmd_unlock, unlock_opts, unlock_usage,
      "ask the passphrase once; an agent holds the credential", NULL },
    { "lock", cmd_lock, lock_opts, lock_usage,
      "stop the unlock agent: the next command asks again", NULL },
    { "passwd", cmd_passwd, passwd_opts, passwd_usage,
      "change the credential's passphrase", NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

static const struct lsn_cli_global globals[] = {
    { "--home", &cli_home },
    { "--passphrase-file", &cli_pass_file },
    { NULL, NULL },
};

static const char usage[] =
    "usage: liaison [--home DIR] [--passphrase-file FILE] COMMAND [ARGS]\n"
    "       (liaison COMMAND --help for each command; liaison --version)\n"
    "\n"
    "Sends and receives end-to-end encrypted, signed intelligence alerts\n"
    "between the organisations of a liaison coalition.  The profile folder is\n"
    "--home DIR, else $LIAISON_HOME, else ~/.liaison.  A passphrase-protected\n"
    "credential is opened with --passphrase-file FILE, else by the agent\n"
    "`liaison unlock` starts, else by asking on the terminal (three tries).\n"
    "Each command takes only the options its --help lists (and these two);\n"
    "any other is refused (exit 2).\n"
    "\n"
    "Exit status: 0 success; 1 verification or delivery failure; 2 usage or\n"
    "input error; 3 relay unreachable (temporary: retry later); 4 refused by a\n"
    "limit (quota, size, TLP rule); 130 interrupted by Ctrl-C (send, reply,\n"
    "forward; 143 by SIGTERM).\n"
    "\n"
    "Commands:\n";

static const struct lsn_cli program = {
    .prog = "liaison",
    .usage = usage,
    .cmds = commands,
    .globals = globals,
    .safe_text = cli_safe_line,
};

int
main(int argc, char **argv)
{
    return lsn_cli_main(&program, argc, argv);
}
