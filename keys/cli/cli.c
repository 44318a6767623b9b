/* cli.c: what the liaison-keys commands share: passphrases, org folders,
 * rosters, bundle expiry warnings, output files. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/cli/cli.h"
#include "keys/pass.h"
#include "keys/signed.h"
#include <limits.h>
#include "keys/util.h"
#include "proto/err.h"

int
cli_verify_exit(int err)
{
    switch (err) {
    case LSN_ERR_BAD_SIGNATURE: case LSN_ERR_THRESHOLD: case LSN_ERR_ROLLBACK:
    case LSN_ERR_EXPIRED: case LSN_ERR_WRONG_SIGNER: case LSN_ERR_UNKNOWN_ORG:
    case LSN_ERR_CHAIN: case LSN_ERR_CONFLICT: case LSN_ERR_UNKNOWN_DEVICE:
    case LSN_ERR_KEY_MISMATCH:
        return LSN_EXIT_FAILED;
    default:
        return LSN_EXIT_USAGE;
    }
}

/* A passphrase from a file, with the error told to the user. */
static int
pass_from_file(const char *file, char **out)
{
    int r = lsn_pass_read_file(file, out);

    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot read passphrase file %s", file);
    return 0;
}

static int
pass_from_tty(const char *prompt, char **out)
{
    int r = lsn_pass_read_tty(prompt, out);

    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "no passphrase");
    return 0;
}

int
cli_pass_new(const char *file, int no_pass, const char *what, char **out)
{
    char prompt[160], *again = NULL;
    int r;

    *out = NULL;
    if (file != NULL && no_pass) {
        fprintf(stderr, "liaison-keys: --passphrase-file and --no-passphrase "
                "exclude each other\n");
        return LSN_EXIT_USAGE;
    }
    if (no_pass) {
        fprintf(stderr, "liaison-keys: warning: %s will be stored WITHOUT a "
                "passphrase; anyone who can read the file holds the key\n", what);
        return 0;
    }
    if (file != NULL) {
        if ((r = pass_from_file(file, out)) == 0)
            lsn_pass_warn_short("liaison-keys", *out);
        return r;
    }
    snprintf(prompt, sizeof prompt, "New passphrase for %.120s: ", what);
    if ((r = pass_from_tty(prompt, out)) != 0)
        return r;
    snprintf(prompt, sizeof prompt, "Repeat the passphrase: ");
    if ((r = pass_from_tty(prompt, &again)) != 0 || strcmp(*out, again) != 0) {
        if (r == 0)
            fprintf(stderr, "liaison-keys: the passphrases differ\n");
        cli_pass_free(out);
        cli_pass_free(&again);
        return LSN_EXIT_USAGE;
    }
    cli_pass_free(&again);
    lsn_pass_warn_short("liaison-keys", *out);
    return 0;
}

int
cli_pass_unlock(const char *file, int is_protected, const char *what, char **out)
{
    char prompt[160];

    *out = NULL;
    if (!is_protected)
        return 0;
    if (file != NULL)
        return pass_from_file(file, out);
    snprintf(prompt, sizeof prompt, "Passphrase for %.120s: ", what);
    return pass_from_tty(prompt, out);
}

int
cli_pass_retry(int r, const char *file, int is_protected, int tries)
{
    if (r != LSN_ERR_PASSPHRASE || file != NULL || !is_protected)
        return 0;
    if (tries >= CLI_PASS_TRIES) {
        lsn_set_detail("%d tries", CLI_PASS_TRIES);
        return 0;
    }
    fputs("liaison-keys: wrong passphrase, try again\n", stderr);
    return 1;
}

void
cli_pass_free(char **p)
{
    lsn_pass_free(p);
}

const char *
cli_time(int64_t t, char *buf)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 21, "%lld", (long long)t);
    return buf;
}

int
cli_org_load(const char *dir, const char *pass_file, struct lsn_org **out)
{
    char *pass = NULL, what[PATH_MAX];
    int prot = 0, r, rc;

    *out = NULL;
    if ((r = lsn_org_is_protected(dir, &prot)) == LSN_ERR_PERMISSIONS)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "refusing the org keys in %s", dir);
    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "%s is not an org folder (no readable "
                               "root.key)", dir);
    snprintf(what, sizeof what, "the org keys in %s", dir);
    for (int tries = 1;; tries++) {
        if ((rc = cli_pass_unlock(pass_file, prot, what, &pass)) != 0)
            return rc;
        r = lsn_org_load(dir, pass, out);
        cli_pass_free(&pass);
        if (!cli_pass_retry(r, pass_file, prot, tries))
            break;
    }
    if (r != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot open org folder %s", dir);
    return 0;
}

int
cli_roster_load(const char *path, struct lsn_roster **out)
{
    int r;

    if ((r = lsn_roster_load(path, out)) != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, r, "cannot read roster %s", path);
    if ((r = lsn_roster_verify(*out, lsn_now())) != 0) {
        lsn_roster_destroy(out);
        return lsn_cli_fail_as(cli_verify_exit(r), r, "roster %s is not valid", path);
    }
    return 0;
}

void
cli_org_report(const struct lsn_org *o, const char *what)
{
    const Liaison__Bundle *b = o->bundle->b;

    printf("%s: bundle v%llu of `%s` signed (%zu devices, encryption key %u)\n",
           what, (unsigned long long)b->version, b->org, b->n_devices,
           b->enc_keys[0]->key_id);
    cli_bundle_expiry_warn(o->bundle);
}

void
cli_bundle_expiry_warn(const struct lsn_bundle *b)
{
    int64_t now = lsn_now(), left = b->b->expires - now;
    char t[21];

    if (!lsn_bundle_expires_soon(b, now))
        return;
    if (left <= 0)
        fprintf(stderr, "liaison-keys: warning: bundle v%llu of `%s` expired on %s: "
                "relays refuse its devices' messages until the administrator signs "
                "a new bundle (for example `liaison-keys rotate --enc`) and runs "
                "`liaison-keys publish`\n", (unsigned long long)b->b->version,
                b->b->org, cli_time(b->b->expires, t));
    else
        fprintf(stderr, "liaison-keys: warning: bundle v%llu of `%s` expires on %s "
                "(in %lld day(s)): sign a new bundle (for example `liaison-keys "
                "rotate --enc`) and run `liaison-keys publish` before then\n",
                (unsigned long long)b->b->version, b->b->org,
                cli_time(b->b->expires, t), (long long)((left + 86399) / 86400));
}

int
cli_out_check(const char *path, int force)
{
    char copy[PATH_MAX], *dir;
    struct stat st;

    if (strlen(path) >= sizeof copy)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_TOO_LARGE, "cannot write %s", path);
    if (lstat(path, &st) == 0) {
        if (!force) {
            lsn_set_detail("use --force to overwrite");
            return lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_EXISTS, "cannot write %s", path);
        }
        if (!S_ISREG(st.st_mode)) {
            lsn_set_detail("%s is not a regular file", path);
            return lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_INVALID, "cannot write %s", path);
        }
    } else if (errno != ENOENT) {
        return lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_IO, "cannot write %s: %s", path,
                               strerror(errno));
    }
    /* Files are written to a temporary name in the folder, then renamed. */
    strcpy(copy, path);
    dir = dirname(copy);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_NOT_FOUND, "cannot write %s: folder %s "
                               "is missing", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return lsn_cli_fail_as(LSN_EXIT_USAGE, LSN_ERR_DENIED, "cannot write %s: folder %s "
                               "is not writable", path, dir);
    return 0;
}
