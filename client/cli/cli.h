/* cli.h: what every `liaison` command shares: the table type, exit codes,
 * option parsing helpers, profile opening and message output. */
#ifndef LSN_CLIENT_CLI_H
#define LSN_CLIENT_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "client/client.h"

/* Exit codes (README, --help). */
#define EXIT_OK          0
#define EXIT_FAILED      1   /* verification or delivery failure */
#define EXIT_USAGE       2   /* usage or input error */
#define EXIT_UNREACHABLE 3   /* relay unreachable: retry later */
#define EXIT_LIMIT       4   /* refused by a limit (quota, size, TLP rule) */

struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

/* Set by main from --home and --passphrase-file wherever they appear. */
extern const char *cli_home;
extern const char *cli_pass_file;

/* The exit code for an error; verifying = 1 when the input under test is
 * an envelope (then a malformed one is a verification failure). */
int cli_exit_for(int err, int verifying);

/* Prints "liaison: <what>: <sentence> (detail)" and returns the exit code. */
int cli_fail(int err, int verifying, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Usage error: one line, the message and "see `CMD --help`" with CMD
 * taken from the usage text's first line; returns EXIT_USAGE. */
int cli_usage(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_usage for what getopt_long (opterr 0) just refused in argv. */
int cli_bad_option(const char *usage, char **argv);

/* Prints usage to stdout if argv has --help/-h. */
int cli_help(int argc, char **argv, const char *usage);

/* Opens the profile (asking for the credential's passphrase if it has
 * one); on failure prints why and returns the exit code. */
int cli_open(struct lsn_client **c);

/* Splits "a,b,c" into at most max pointers into a copy (*buf, free it). */
int cli_split_orgs(const char *list, char **buf, const char **out, size_t max,
                   size_t *n);

/* Message output. */
void cli_print_message(FILE *f, const struct lsn_message *m, int json);

/* Writes sender-controlled text (valid UTF-8) for a terminal: control
 * characters (escape sequences included) as \xNN, and characters a
 * reader cannot see or that reorder text (C1 controls, bidi overrides,
 * zero-width characters: lsn_text_hidden_len) as \u{XXXX}, so a message
 * cannot redraw the screen, fake lines of ours or disguise a name; with
 * indent, every line of it is prefixed so body text cannot pose as a
 * header. */
void cli_safe_text(FILE *f, const char *s, const char *indent);
void cli_print_summary(FILE *f, const struct lsn_message *m);

/* s as cli_safe_text shows it, in buf (cut to n - 1 bytes); returns buf.
 * For every string a relay or peer supplies in a printf. */
const char *cli_safe(const char *s, char *buf, size_t n);
void cli_hex_id(char out[33], const uint8_t id[16]);
const char *cli_time(int64_t t, char buf[21]);

/* Commands. */
int cmd_init(int argc, char **argv);
int cmd_orgs(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_reply(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_bundle(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_prune(int argc, char **argv);

#endif
