/* cli.h: what the `liaison` commands share beyond the kit
 * (keys/clikit.h): profile opening, message output, and each command's
 * entry point, options and --help text for the table in main.c. */
#ifndef LSN_CLIENT_CLI_H
#define LSN_CLIENT_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "client/client.h"

#include "keys/clikit.h"

/* Set by the kit from --home and --passphrase-file wherever they appear. */
extern const char *cli_home;
extern const char *cli_pass_file;

/* Opens the profile (asking for the credential's passphrase if it has
 * one); on failure prints why and returns the exit code. */
int cli_open(struct lsn_client **c);

/* Splits "a,b,c" into at most max pointers into a copy (*buf, free it). */
int cli_split_orgs(const char *list, char **buf, const char **out, size_t max,
                   size_t *n);

/* Message output. */
void cli_print_message(FILE *f, const struct lsn_message *m, int json);

/* 1 if text on stdout may be coloured: stdout is a terminal, NO_COLOR is
 * not set (to any value) and TERM is not "dumb"; decided at the first
 * call.  JSON output is never coloured. */
int cli_colour(void);

/* The SGR sequence that makes a line of this priority and TLP stand out
 * on stdout ("" if none: routine or not a colour terminal): bold when
 * urgent, red when TLP:RED; CLI_SGR_OFF ends it. */
const char *cli_mark(int priority, int tlp);
#define CLI_SGR_OFF "\033[0m"

/* Writes sender-controlled text (valid UTF-8) for a terminal: control
 * characters (escape sequences included) as \xNN, and characters a
 * reader cannot see or that reorder text (C1 controls, bidi overrides,
 * zero-width characters: lsn_text_hidden_len) as \u{XXXX}, so a message
 * cannot redraw the screen, fake lines of ours or disguise a name; with
 * indent, every line of it is prefixed so body text cannot pose as a
 * header. */
void cli_safe_text(FILE *f, const char *s, const char *indent);

/* cli_safe_text without indent: the kit's escaper for error lines. */
void cli_safe_line(FILE *f, const char *s);
void cli_print_summary(FILE *f, const struct lsn_message *m);

/* The column names of cli_print_summary's lines, and the line after them
 * that explains the unread mark. */
void cli_print_summary_header(FILE *f);
void cli_print_summary_legend(FILE *f);
/* A received message its sender retracted, its key wiped: one line (or
 * one JSON object) for the inbox. */
void cli_print_retracted(FILE *f, const char *org, const uint8_t id[16],
                         int64_t received, int64_t at, const char *reason, int json);

/* s as cli_safe_text shows it, in buf (cut to n - 1 bytes); returns buf.
 * For every string a relay or peer supplies in a printf. */
const char *cli_safe(const char *s, char *buf, size_t n);
void cli_hex_id(char out[33], const uint8_t id[16]);
const char *cli_time(int64_t t, char buf[21]);

/* status's words, which `sent` shares: a recipient org's state in the
 * relay's status reply, and what a stored send waits for. */
const char *cli_recipient_state(const Liaison__RecipientStatus *p);
const char *cli_waiting_what(const Liaison__StoredSent *sent);

/* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC) as unix seconds: 0, or
 * LSN_ERR_INVALID. */
int cli_parse_date(const char *s, int64_t *out);

/* Commands, with the options each takes and its --help; bundle and
 * audit are groups (bundle import, audit verify|show). */
extern const struct option init_opts[], orgs_opts[], send_opts[], reply_opts[];
extern const struct option seal_opts[], forward_opts[], fetch_opts[], watch_opts[];
extern const struct option inbox_opts[], read_opts[], status_opts[], prune_opts[];
extern const struct option sent_opts[];
extern const char init_usage[], orgs_usage[], send_usage[], fetch_usage[];
extern const char inbox_usage[], status_usage[], prune_usage[], sent_usage[];
extern const struct lsn_cli_cmd bundle_cmds[], audit_cmds[];
extern const char bundle_usage[], audit_usage[];

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
int cmd_sent(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_prune(int argc, char **argv);

/* After sending (cmd_feedback.c): `feedback`, `retract`, `hold`,
 * `release`, and what status shows of them. */
extern const struct option feedback_opts[], retract_opts[], hold_opts[], release_opts[];
extern const struct option update_opts[];
extern const char feedback_usage[], retract_usage[], hold_usage[];
int cmd_feedback(int argc, char **argv);
int cmd_retract(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_update(int argc, char **argv);      /* cmd_send.c */

/* The retraction and feedback recorded about message id of org: with
 * json (a status object) its "retraction", "dispositions" and "feedback"
 * members, else text lines. */
struct json_t;
void cli_print_feedback(struct lsn_client *c, const char *org, const uint8_t id[16],
                        struct json_t *json);

#endif
