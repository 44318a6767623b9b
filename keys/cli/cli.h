/* cli.h: what the liaison-keys commands share beyond the kit
 * (keys/clikit.h): passphrases, org folders, rosters, output files. */
#ifndef LSN_KEYS_CLI_H
#define LSN_KEYS_CLI_H

#include <stdint.h>

#include "keys/clikit.h"

/* Exit code for an error from a verification: 1 for a failed check,
 * 2 for unreadable input. */
int cli_verify_exit(int err);

/* Passphrase for a NEW secret: from file (first line), none if no_pass (a
 * warning is printed), else asked twice on the terminal without echo.
 * *out is sodium_malloc'd or NULL for none; free with cli_pass_free. */
int cli_pass_new(const char *file, int no_pass, const char *what, char **out);

/* Passphrase to UNLOCK an existing secret: asked only if is_protected. */
int cli_pass_unlock(const char *file, int is_protected, const char *what,
                    char **out);

/* After a passphrase from the terminal failed with r: 1 to ask again
 * (saying so), 0 once it was right, came from a file, or was wrong
 * CLI_PASS_TRIES times (tries counts them from 1). */
#define CLI_PASS_TRIES 3
int cli_pass_retry(int r, const char *file, int is_protected, int tries);

void cli_pass_free(char **p);

/* Unix time as "2026-11-29T00:52:47Z" into buf (>= 21 bytes). */
const char *cli_time(int64_t t, char *buf);

/* The command groups (their own options and --help with each command)
 * and the commands that stand alone. */
extern const struct lsn_cli_cmd authority_cmds[], relay_cmds[], roster_cmds[];
extern const struct lsn_cli_cmd org_cmds[], device_cmds[], bundle_cmds[];
extern const struct option rotate_opts[], publish_opts[];
extern const char rotate_usage[], fp_usage[], publish_usage[];
int cmd_rotate(int argc, char **argv);
int cmd_fingerprint(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_publish_roster(int argc, char **argv);

#include "keys/org.h"

/* Loads the org folder, asking for its passphrase only if it has one. */
int cli_org_load(const char *dir, const char *pass_file, struct lsn_org **out);

/* Loads and verifies a roster file (signatures, expiry). */
int cli_roster_load(const char *path, struct lsn_roster **out);

/* Prints what changed in the org after an edit. */
void cli_org_report(const struct lsn_org *o, const char *what);

/* Warns on stderr when bundle b has expired or expires within
 * LSN_BUNDLE_WARN_DAYS days, with what the administrator must do. */
void cli_bundle_expiry_warn(const struct lsn_bundle *b);

/* Before anything changes: path may be written (absent, or a regular
 * file with force, in an existing writable folder); else says why and
 * returns LSN_EXIT_USAGE. */
int cli_out_check(const char *path, int force);

#endif
