/* clikit.c: the command-line kit of `liaison` and `liaison-keys`
 * (clikit.h): dispatch through a table of commands, --help, --version,
 * each command's own options, and the one-line errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/clikit.h"
#include "keys/progress.h"
#include "keys/util.h"
#include "proto/err.h"

static const struct lsn_cli *prog;          /* the running program */
static const struct lsn_cli_cmd *current;   /* and command, once found */
static char path[160];                      /* "liaison-keys roster init" */
static int restart;                         /* lsn_cli_next's first call */

static const struct option no_opts[] = { { NULL, 0, NULL, 0 } };

const char *
lsn_cli_prog(void)
{
    return prog != NULL ? prog->prog : "liaison";
}

const char *
lsn_cli_command(void)
{
    return path[0] != '\0' ? path : lsn_cli_prog();
}

/* C0 controls but tab, DEL and C1 controls (UTF-8 c2 80..9f) escaped. */
static void
kit_safe_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            fprintf(f, "\\u{%04x}", (unsigned)p[1]);
            p++;
        } else if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            fprintf(f, "\\x%02x", *p);
        } else {
            fputc(*p, f);
        }
    }
}

static void
safe(FILE *f, const char *s)
{
    if (prog != NULL && prog->safe_text != NULL)
        prog->safe_text(f, s);
    else
        kit_safe_text(f, s);
}

static void report(int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
report(int err, const char *fmt, va_list ap)
{
    char what[1024];

    vsnprintf(what, sizeof what, fmt, ap);
    lsn_progress_clear();
    fprintf(stderr, "%s: ", lsn_cli_prog());
    safe(stderr, what);
    if (err != 0) {
        fprintf(stderr, ": %s", lsn_strerror(err));
        if (lsn_detail()[0] != '\0') {
            fputs(" (", stderr);
            safe(stderr, lsn_detail());
            fputc(')', stderr);
        }
    }
    fputc('\n', stderr);
    lsn_set_detail("%s", "");
}

int
lsn_cli_fail_as(int code, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(err, fmt, ap);
    va_end(ap);
    return code;
}

int
lsn_cli_fail(int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(err, fmt, ap);
    va_end(ap);
    return lsn_cli_exit_for(err, 0);
}

int
lsn_cli_usage(const char *fmt, ...)
{
    char what[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return lsn_cli_fail_as(LSN_EXIT_USAGE, 0, "%s; see `%s --help`", what,
                           lsn_cli_command());
}

int
lsn_cli_exit_for(int err, int verifying)
{
    switch (err) {
    case 0:
        return LSN_EXIT_OK;
    case LSN_ERR_TIMEOUT: case LSN_ERR_UNAVAILABLE:
        return LSN_EXIT_UNREACHABLE;
    case LSN_ERR_INTERRUPTED:
        return lsn_interrupted() ? 128 + lsn_interrupted() : LSN_EXIT_INTERRUPTED;
    case LSN_ERR_QUOTA: case LSN_ERR_LIMIT: case LSN_ERR_TOO_LARGE:
    case LSN_ERR_RATE: case LSN_ERR_TTL:
        return LSN_EXIT_LIMIT;
    case LSN_ERR_BAD_SIGNATURE: case LSN_ERR_NOT_RECIPIENT:
    case LSN_ERR_UNKNOWN_DEVICE: case LSN_ERR_REVOKED: case LSN_ERR_FUTURE:
    case LSN_ERR_EXPIRED: case LSN_ERR_REPLAY: case LSN_ERR_COMMIT:
    case LSN_ERR_DECRYPT: case LSN_ERR_UNKNOWN_KEY: case LSN_ERR_KEY_RETIRED:
    case LSN_ERR_SUITE: case LSN_ERR_STALE_KEY: case LSN_ERR_DENIED:
    case LSN_ERR_THRESHOLD: case LSN_ERR_ROLLBACK: case LSN_ERR_CHAIN:
    case LSN_ERR_WRONG_SIGNER: case LSN_ERR_CONFLICT: case LSN_ERR_PROTOCOL:
    case LSN_ERR_STORE_FULL: case LSN_ERR_UNPUBLISHED: case LSN_ERR_KEY_REMOVED:
        return LSN_EXIT_FAILED;
    case LSN_ERR_MALFORMED: case LSN_ERR_TRUNCATED: case LSN_ERR_CORRUPT:
        return verifying ? LSN_EXIT_FAILED : LSN_EXIT_USAGE;
    default:
        return LSN_EXIT_USAGE;
    }
}

static const struct option *
opts_of(const struct lsn_cli_cmd *c)
{
    return c != NULL && c->opts != NULL ? c->opts : no_opts;
}

int
lsn_cli_next(int argc, char **argv)
{
    /* The check left optind at the first argument; reading the options
     * again starts getopt afresh. */
    if (restart) {
        optind = 0;
        restart = 0;
    }
    return getopt_long(argc, argv, "", opts_of(current), NULL);
}

int
lsn_cli_args(int argc, char **argv, int n, const char *what, const char **arg)
{
    if (argc - optind > n)
        return lsn_cli_usage("unexpected argument `%.64s`", argv[optind + n]);
    if (argc - optind < n)
        return lsn_cli_usage("%s needs %s", argv[0], what);
    if (n == 1 && arg != NULL)
        *arg = argv[optind];
    return 0;
}

/* 1 if some command of t (or of its groups) takes the option name. */
static int
declared(const struct lsn_cli_cmd *t, const char *name, size_t len)
{
    for (; t != NULL && t->name != NULL; t++) {
        for (const struct option *o = opts_of(t); o->name != NULL; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                return 1;
        if (declared(t->sub, name, len))
            return 1;
    }
    return 0;
}

/* What getopt_long just refused in argv: an option another command takes
 * is named as not one of this command's. */
static int
refuse(char **argv)
{
    const char *a = optind > 0 ? argv[optind - 1] : NULL;
    char what[128];
    size_t len;

    lsn_bad_option(argv, what, sizeof what);
    if (a != NULL && strncmp(a, "--", 2) == 0 && strncmp(what, "unknown", 7) == 0) {
        len = strcspn(a + 2, "=");
        if (len > 0 && len <= 64 && declared(prog->cmds, a + 2, len))
            return lsn_cli_usage("`--%.*s` is not an option of `%s`", (int)len, a + 2,
                                 lsn_cli_command());
    }
    return lsn_cli_usage("%s", what);
}

/* 1 if a is `--NAME` (no `=VALUE`) for an option of c, abbreviations
 * included as getopt_long takes them (an exact name first), that requires
 * a value: getopt_long then takes the next argument as that value,
 * whatever it is. */
static int
takes_next(const struct lsn_cli_cmd *c, const char *a)
{
    size_t len;

    if (strncmp(a, "--", 2) != 0 || strchr(a, '=') != NULL)
        return 0;
    len = strlen(a + 2);
    for (const struct option *o = opts_of(c); o->name != NULL; o++)
        if (strcmp(o->name, a + 2) == 0)
            return o->has_arg == required_argument;
    for (const struct option *o = opts_of(c); o->name != NULL; o++)
        if (o->has_arg == required_argument && strncmp(o->name, a + 2, len) == 0)
            return 1;
    return 0;
}

/* 1 if --help or -h stands as an option in argv: not as an option's value
 * (`--title --help` is a title) nor after `--`. */
static int
wants_help(const struct lsn_cli_cmd *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (takes_next(c, argv[i]))
            i++;
    }
    return 0;
}

static int
run_command(const struct lsn_cli_cmd *c, int argc, char **argv)
{
    int o;

    current = c;
    if (wants_help(c, argc, argv)) {
        if (c->usage != NULL)
            fputs(c->usage, stdout);
        else
            printf("usage: %s\n\n%s.\n", lsn_cli_command(), c->summary);
        return LSN_EXIT_OK;
    }
    /* Every option is checked before the command sees any. */
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", opts_of(c), NULL)) != -1)
        if (o == '?' || o == ':')
            return refuse(argv);
    restart = 1;
    return c->run(argc, argv);
}

static void
list(FILE *f, const struct lsn_cli_cmd *t, const char *usage)
{
    int w = 0;

    if (usage != NULL)
        fputs(usage, f);
    else
        fprintf(f, "usage: %s COMMAND [OPTIONS]   (COMMAND --help for more)\n\n",
                lsn_cli_command());
    for (const struct lsn_cli_cmd *c = t; c->name != NULL; c++)
        if ((int)strlen(c->name) > w)
            w = (int)strlen(c->name);
    for (const struct lsn_cli_cmd *c = t; c->name != NULL; c++)
        fprintf(f, "  %-*s %s\n", w, c->name, c->summary);
}

/* argv[0] names the group (or the program), argv[1] the command. */
static int
run_group(const struct lsn_cli_cmd *t, const char *usage, int top, int argc,
          char **argv)
{
    const struct lsn_cli_cmd *c;
    size_t n = strlen(path);

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        list(stdout, t, usage);
        return LSN_EXIT_OK;
    }
    if (argc < 2 && !top) {
        char names[512] = "";
        for (c = t; c->name != NULL; c++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     c == t ? "" : ", ", c->name);
        return lsn_cli_usage("`%s` needs a command: %s", lsn_cli_command(), names);
    }
    if (argc < 2) {
        list(stderr, t, usage);
        return LSN_EXIT_USAGE;
    }
    for (c = t; c->name != NULL; c++)
        if (strcmp(argv[1], c->name) == 0)
            break;
    if (c->name == NULL)
        return lsn_cli_usage("unknown command `%.64s`", argv[1]);
    snprintf(path + n, sizeof path - n, " %s", c->name);
    if (c->sub != NULL)
        return run_group(c->sub, c->usage, 0, argc - 1, argv + 1);
    return run_command(c, argc - 1, argv + 1);
}

/* Takes the program's global options out of argv wherever they are. */
static int
take_globals(int *argc, char **argv)
{
    int o = 1;

    for (int i = 1; i < *argc; i++) {
        const struct lsn_cli_global *g = prog->globals;

        while (g != NULL && g->name != NULL && strcmp(argv[i], g->name) != 0)
            g++;
        if (g == NULL || g->name == NULL) {
            argv[o++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc)
            return lsn_cli_usage("`%s` needs a value", argv[i]);
        *g->slot = argv[++i];
    }
    *argc = o;
    argv[o] = NULL;
    return 0;
}

int
lsn_cli_main(const struct lsn_cli *p, int argc, char **argv)
{
    int rc;

    prog = p;
    current = NULL;
    snprintf(path, sizeof path, "%s", p->prog);
    if (sodium_init() < 0) {
        fprintf(stderr, "%s: libsodium failed to initialise\n", p->prog);
        return LSN_EXIT_USAGE;
    }
    if ((rc = take_globals(&argc, argv)) != 0)
        return rc;
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s %s\n", p->prog, LSN_VERSION);
        return LSN_EXIT_OK;
    }
    return run_group(p->cmds, p->usage, 1, argc, argv);
}
