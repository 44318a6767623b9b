/* cmd_agent.h: `liaison unlock`, `lock` and `passwd`, and the passphrase
 * prompting the other commands share (three tries on a terminal, the
 * unlock agent instead of a prompt while one runs). */
#ifndef LSN_CLIENT_CMD_AGENT_H
#define LSN_CLIENT_CMD_AGENT_H

#include "client/client.h"

/* Asks for a passphrase (--passphrase-file, else the terminal with
 * prompt) and calls try_fn with it.  On a terminal a wrong one
 * (try_fn returns LSN_ERR_PASSPHRASE) is asked again, three tries in all.
 * Returns try_fn's result; *read_failed = 1 when no passphrase could be
 * read (no terminal, empty answer, unreadable file). */
int cli_pass_tries(const char *prompt, int (*try_fn)(const char *pass, void *arg),
                   void *arg, int *read_failed);

/* Opens the client of the profile in dir (prot: its credential has a
 * passphrase): through the unlock agent when one answers and no
 * --passphrase-file was given, else asking.  Prints why on failure and
 * returns the exit code. */
int cli_open_unlocked(const char *dir, int prot, struct lsn_client **c);

#include <getopt.h>

extern const char unlock_usage[], lock_usage[], passwd_usage[];
extern const struct option unlock_opts[], lock_opts[], passwd_opts[];

int cmd_unlock(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_passwd(int argc, char **argv);

#endif
