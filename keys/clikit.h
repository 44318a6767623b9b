/* clikit.h: the command-line kit `liaison` and `liaison-keys` share: a
 * table of commands (nested for groups like `roster init`), each with
 * the options it takes and its --help text; dispatch, --help and
 * --version; exit codes; one-line usage errors and failures with a
 * sentence.  An option a command does not declare is refused (exit 2)
 * before the command runs, so no command silently ignores one.
 *
 * A command declares its options as getopt_long's table:
 *
 *     static const struct option fetch_opts[] = {
 *         { "json", no_argument, NULL, 'j' },
 *         { NULL, 0, NULL, 0 },
 *     };
 *     { "fetch", cmd_fetch, fetch_opts, fetch_usage, "take what waits", NULL },
 *
 * (the last line is its entry in the program's table or a group's), reads
 * them with `while ((c = lsn_cli_next(argc, argv)) != -1) switch (c) ...`
 * and its arguments with lsn_cli_args.  --help prints the usage text;
 * the command never sees it.
 * The kit is single-threaded: it keeps the running command in statics. */
#ifndef LSN_CLIKIT_H
#define LSN_CLIKIT_H

#include <getopt.h>
#include <stdio.h>

/* LSN_VERSION (what --version prints) comes from the Makefile's VERSION,
 * the one place the version is written. */

/* Exit codes, the same in both programs (README, --help). */
#define LSN_EXIT_OK          0
#define LSN_EXIT_FAILED      1   /* verification or delivery failure */
#define LSN_EXIT_USAGE       2   /* usage or input error */
#define LSN_EXIT_UNREACHABLE 3   /* relay unreachable: retry later */
#define LSN_EXIT_LIMIT       4   /* refused by a limit (quota, size, TLP rule) */
#define LSN_EXIT_INTERRUPTED 130 /* Ctrl-C (SIGINT); 143 for SIGTERM
                                  * (128 + the signal, the shell's way) */

/* One command, or a group of commands (run NULL, sub its table).  run
 * gets argv[0] = the command's name; usage is its --help text (for a
 * group, NULL lists the group's commands instead). */
struct lsn_cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const struct option *opts;      /* the options it takes; NULL: none */
    const char *usage;
    const char *summary;
    const struct lsn_cli_cmd *sub;
};

/* An option taken anywhere on the command line (`liaison --home DIR`):
 * its value is stored in *slot and it is taken out of argv. */
struct lsn_cli_global {
    const char *name;               /* "--home" */
    const char **slot;
};

struct lsn_cli {
    const char *prog;               /* "liaison" */
    const char *usage;              /* --help, before the command list */
    const struct lsn_cli_cmd *cmds;
    const struct lsn_cli_global *globals;   /* NULL-terminated, or NULL */
    /* Writes text a peer or file may have chosen so that a terminal gets
     * no control sequence from it; NULL: the kit's (C0, DEL, C1 as
     * \xNN or \u{NNNN}). */
    void (*safe_text)(FILE *f, const char *s);
};

/* Runs the command argv names, with --help and --version; returns the
 * exit code.  Initialises libsodium first. */
int lsn_cli_main(const struct lsn_cli *p, int argc, char **argv);

/* The running command's next option (getopt_long over its own table,
 * optarg its value), or -1 when none is left.  Options were checked
 * before the command ran, and argv ordered options first: optind is the
 * first argument when the command starts and after the last option. */
int lsn_cli_next(int argc, char **argv);

/* 0 if exactly n arguments follow the options; else a usage error
 * ("CMD needs WHAT" or "unexpected argument `X`") and LSN_EXIT_USAGE.
 * With n 1, *arg is the argument. */
int lsn_cli_args(int argc, char **argv, int n, const char *what,
                 const char **arg);

/* Usage error: one line on stderr, "PROG: <what>; see `CMD --help`"
 * with CMD the running command; returns LSN_EXIT_USAGE. */
int lsn_cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "PROG: <what>: <lsn_strerror(err)> (<detail>)" on stderr (err 0: the
 * line without sentence or detail), what and detail written safely for
 * a terminal; clears the detail and returns code. */
int lsn_cli_fail_as(int code, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* lsn_cli_fail_as with the exit code lsn_cli_exit_for(err, 0). */
int lsn_cli_fail(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The exit code for an error; verifying = 1 when the input under test is
 * a signed object (then a malformed one is a verification failure). */
int lsn_cli_exit_for(int err, int verifying);

/* The running program's name and command ("liaison send"). */
const char *lsn_cli_prog(void);
const char *lsn_cli_command(void);

#endif
