/* cli.c: plumbing shared by the `liaison` commands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli/cli.h"
#include "client/cli/cmd_agent.h"
#include "keys/pass.h"
#include "keys/util.h"
#include "proto/err.h"

const char *cli_home;
const char *cli_pass_file;

int
cli_exit_for(int err, int verifying)
{
    switch (err) {
    case 0:
        return EXIT_OK;
    case LSN_ERR_TIMEOUT: case LSN_ERR_UNAVAILABLE:
        return EXIT_UNREACHABLE;
    case LSN_ERR_QUOTA: case LSN_ERR_LIMIT: case LSN_ERR_TOO_LARGE:
    case LSN_ERR_RATE: case LSN_ERR_TTL:
        return EXIT_LIMIT;
    case LSN_ERR_BAD_SIGNATURE: case LSN_ERR_NOT_RECIPIENT:
    case LSN_ERR_UNKNOWN_DEVICE: case LSN_ERR_REVOKED: case LSN_ERR_FUTURE:
    case LSN_ERR_EXPIRED: case LSN_ERR_REPLAY: case LSN_ERR_COMMIT:
    case LSN_ERR_DECRYPT: case LSN_ERR_UNKNOWN_KEY: case LSN_ERR_KEY_RETIRED:
    case LSN_ERR_SUITE: case LSN_ERR_STALE_KEY: case LSN_ERR_DENIED:
    case LSN_ERR_THRESHOLD: case LSN_ERR_ROLLBACK: case LSN_ERR_CHAIN:
    case LSN_ERR_WRONG_SIGNER: case LSN_ERR_CONFLICT: case LSN_ERR_PROTOCOL:
    case LSN_ERR_STORE_FULL:
        return EXIT_FAILED;
    case LSN_ERR_MALFORMED: case LSN_ERR_TRUNCATED: case LSN_ERR_CORRUPT:
        return verifying ? EXIT_FAILED : EXIT_USAGE;
    default:
        return EXIT_USAGE;
    }
}

/* "liaison: <what>: <sentence> (detail)" on stderr, with what and the
 * detail through cli_safe_text: both may hold what a relay said (its
 * error sentences become details) or names from files and peers, and a
 * terminal must get no control sequence from them. */
static void report(int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
report(int err, const char *fmt, va_list ap)
{
    char what[1024];

    vsnprintf(what, sizeof what, fmt, ap);
    fputs("liaison: ", stderr);
    cli_safe_text(stderr, what, NULL);
    if (err != 0) {
        fprintf(stderr, ": %s", lsn_strerror(err));
        if (lsn_detail()[0] != '\0') {
            fputs(" (", stderr);
            cli_safe_text(stderr, lsn_detail(), NULL);
            fputc(')', stderr);
        }
    }
    fputc('\n', stderr);
    lsn_set_detail("%s", "");
}

int
cli_fail(int err, int verifying, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(err, fmt, ap);
    va_end(ap);
    return cli_exit_for(err, verifying);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(0, fmt, ap);
    va_end(ap);
}

int
cli_usage(const char *usage, const char *fmt, ...)
{
    char what[768], cmd[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    lsn_usage_command(usage, cmd, sizeof cmd);
    say("%s; see `%s --help`", what, cmd);
    return EXIT_USAGE;
}

int
cli_bad_option(const char *usage, char **argv)
{
    char what[128];

    lsn_bad_option(argv, what, sizeof what);
    return cli_usage(usage, "%s", what);
}

int
cli_help(int argc, char **argv, const char *usage)
{
    return lsn_wants_help(argc, argv, usage);
}

int
cli_open(struct lsn_client **c)
{
    char dir[PATH_MAX];
    int prot = 0, r;

    *c = NULL;
    if ((r = lsn_profile_dir(cli_home, dir, sizeof dir)) != 0)
        return cli_fail(r, 0, "no profile");
    if ((r = lsn_profile_is_protected(dir, &prot)) != 0) {
        if (r == LSN_ERR_NOT_FOUND)
            lsn_set_detail("set one up with `liaison init --credential FILE`");
        if (r == LSN_ERR_PERMISSIONS)
            return cli_fail(r, 0, "refusing the profile in %s", dir);
        return cli_fail(r, 0, "no profile in %s", dir);
    }
    /* The unlock agent's credential, else the passphrase (three tries). */
    return cli_open_unlocked(dir, prot, c);
}

int
cli_split_orgs(const char *list, char **buf, const char **out, size_t max,
               size_t *n)
{
    char *save = NULL, *tok;

    *n = 0;
    if ((*buf = strdup(list)) == NULL)
        return LSN_ERR_NOMEM;
    for (tok = strtok_r(*buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (*n == max) {
            lsn_set_detail("at most %zu recipient orgs", max);
            return LSN_ERR_LIMIT;
        }
        out[(*n)++] = tok;
    }
    if (*n == 0) {
        lsn_set_detail("no org named");
        return LSN_ERR_USAGE;
    }
    return 0;
}

void
cli_hex_id(char out[33], const uint8_t id[16])
{
    lsn_hex(out, id, 16);
}

const char *
cli_time(int64_t t, char buf[21])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 21, "%lld", (long long)t);
    return buf;
}
