/* cmd_agent.c: one passphrase per sitting: `liaison unlock` starts the
 * agent that holds the unlocked credential (client/agent.h), `lock` stops
 * it, `passwd` changes the credential's passphrase; and the prompting the
 * other commands share: three tries on a terminal, no prompt while an
 * agent answers. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "client/agent.h"
#include "client/cli/cli.h"
#include "client/cli/cmd_agent.h"
#include "client/names.h"
#include "keys/credential.h"
#include "keys/keyfile.h"
#include "keys/pass.h"
#include "keys/util.h"
#include "proto/err.h"

#define TRIES 3
#define DEFAULT_FOR "8h"

const char unlock_usage[] =
    "usage: liaison unlock [--for DURATION]\n"
    "\n"
    "Asks the credential's passphrase once and starts a small agent that\n"
    "holds the unlocked credential for DURATION (default " DEFAULT_FOR "; like 30m,\n"
    "8h, 2d; at most 7d).  Until then, `liaison` commands on this profile\n"
    "take the credential from the agent instead of asking.  The agent keeps\n"
    "the credential's key in locked memory, wiped when it exits, never on\n"
    "disk; it listens on agent.sock (mode 0600) in the profile folder and\n"
    "answers only processes of your own user.  It exits after DURATION, on\n"
    "`liaison lock`, on SIGHUP or SIGTERM, and when the login session it\n"
    "was started from ends (its session leader, your login shell, exits;\n"
    "a terminal multiplexer such as tmux or screen keeps that session, and\n"
    "so the agent, alive).  Anyone who can run programs as your user while\n"
    "it runs can use the credential.\n";

const char lock_usage[] =
    "usage: liaison lock\n"
    "\n"
    "Stops the profile's unlock agent (`liaison unlock`): it wipes the\n"
    "credential's key and exits; the next command asks for the passphrase.\n";

const char passwd_usage[] =
    "usage: liaison passwd [--new-passphrase-file FILE]\n"
    "\n"
    "Changes the passphrase of the profile's credential (or gives one to a\n"
    "credential that has none).  Asks the current one (three tries on a\n"
    "terminal, or --passphrase-file FILE), then the new one twice on the\n"
    "terminal (or the first line of --new-passphrase-file FILE, for\n"
    "scripts); one of fewer than 12 characters is taken with a warning.  The\n"
    "credential file is rewritten atomically (mode 0600) and the old file's\n"
    "bytes are overwritten.  The device keys stay the same, so every stored\n"
    "message stays readable.  A running unlock agent is stopped: `liaison\n"
    "unlock` again with the new passphrase.\n";

int
cli_pass_tries(const char *prompt, int (*try_fn)(const char *pass, void *arg),
               void *arg, int *read_failed)
{
    char *pass = NULL;
    int r = 0;

    *read_failed = 0;
    for (int i = 0; i < TRIES; i++) {
        r = cli_pass_file ? lsn_pass_read_file(cli_pass_file, &pass)
                          : lsn_pass_read_tty(prompt, &pass);
        if (r != 0) {
            *read_failed = 1;
            return r;
        }
        r = try_fn(pass, arg);
        lsn_pass_free(&pass);
        if (r != LSN_ERR_PASSPHRASE || cli_pass_file != NULL)
            return r;
        if (i + 1 < TRIES)
            fputs("liaison: wrong passphrase, try again\n", stderr);
    }
    lsn_set_detail("%d tries", TRIES);
    return r;
}

struct open_try {
    const char *dir;
    struct lsn_client **c;
};

static int
try_open(const char *pass, void *arg)
{
    struct open_try *t = arg;

    return lsn_client_open(t->dir, pass, t->c);
}

int
cli_open_unlocked(const char *dir, int prot, struct lsn_client **c)
{
    struct open_try t = { dir, c };
    char prompt[PATH_MAX + 40];
    int64_t expiry;
    long pid;
    int r, read_failed = 0;

    /* An explicit --passphrase-file wins over the agent. */
    if (!prot || (cli_pass_file == NULL && lsn_agent_info(dir, &expiry, &pid) == 0)) {
        r = lsn_client_open(dir, NULL, c);
    } else {
        snprintf(prompt, sizeof prompt, "Passphrase for the credential in %s: ", dir);
        r = cli_pass_tries(prompt, try_open, &t, &read_failed);
        /* Interrupted at the prompt: the command says what that means. */
        if (r == LSN_ERR_INTERRUPTED)
            return lsn_cli_exit_for(r, 0);
        if (read_failed)
            return lsn_cli_fail(r, "passphrase");
    }
    if (r != 0)
        return lsn_cli_fail(r, "cannot open the profile in %s", dir);
    return 0;
}

/* The profile folder, checked, and whether its credential is protected. */
static int
profile(char *dir, size_t n, int *prot)
{
    int r;

    if ((r = lsn_profile_dir(cli_home, dir, n)) != 0)
        return lsn_cli_fail(r, "no profile");
    if ((r = lsn_profile_is_protected(dir, prot)) != 0) {
        if (r == LSN_ERR_NOT_FOUND)
            lsn_set_detail("set one up with `liaison init --credential FILE`");
        return lsn_cli_fail(r, "no usable profile in %s", dir);
    }
    return 0;
}

struct key_try {
    const char *dir;
    struct lsn_secret_kek *kek;
};

static int
try_key(const char *pass, void *arg)
{
    struct key_try *t = arg;

    return lsn_agent_key(t->dir, pass, &t->kek);
}

const struct option unlock_opts[] = {
    { "for", required_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
};

const struct option lock_opts[] = { { NULL, 0, NULL, 0 } };

const struct option passwd_opts[] = {
    { "new-passphrase-file", required_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
};

/* Reads the command's one valued option (if it has one) into *value and
 * checks no argument follows.  The kit refused every other option. */
static int
one_value(int argc, char **argv, const char **value)
{
    int c;

    while ((c = lsn_cli_next(argc, argv)) != -1)
        if (c == 'v')
            *value = optarg;
    return lsn_cli_args(argc, argv, 0, NULL, NULL);
}

int
cmd_unlock(int argc, char **argv)
{
    const char *dur = DEFAULT_FOR;
    char dir[PATH_MAX], prompt[PATH_MAX + 40], when[21];
    struct key_try t = { NULL, NULL };
    int64_t expiry, seconds = 0;
    long pid;
    pid_t started;
    int rc, r, prot = 0, read_failed = 0;

    if ((rc = one_value(argc, argv, &dur)) != 0)
        return rc;
    if (lsn_duration_parse(dur, &seconds) != 0 || seconds > LSN_AGENT_MAX_SECONDS)
        return lsn_cli_usage("--for must be a duration up to 7d (like "
                         "30m, 8h), not `%s`", dur);
    if ((rc = profile(dir, sizeof dir, &prot)) != 0)
        return rc;
    if (!prot) {
        fprintf(stderr, "liaison: the credential in %s has no passphrase: "
                "there is nothing to unlock\n", dir);
        return LSN_EXIT_USAGE;
    }
    if (lsn_agent_info(dir, &expiry, &pid) == 0) {
        printf("already unlocked until %s (agent pid %ld); `liaison lock` ends it\n",
               cli_time(expiry, when), pid);
        return 0;
    }
    t.dir = dir;
    snprintf(prompt, sizeof prompt, "Passphrase for the credential in %s: ", dir);
    r = cli_pass_tries(prompt, try_key, &t, &read_failed);
    if (r != 0)
        return lsn_cli_fail(r, read_failed ? "passphrase" : "cannot unlock %s", dir);
    /* The passphrase is wiped and unmapped: the agent forked from here
     * cannot inherit it. */
    if ((r = lsn_agent_start(dir, &t.kek, seconds, &started)) != 0)
        return lsn_cli_fail(r, "cannot start the agent for %s", dir);
    if ((r = lsn_agent_info(dir, &expiry, &pid)) != 0)
        return lsn_cli_fail(r, "the agent for %s does not answer", dir);
    printf("unlocked until %s: commands on %s use the agent (pid %ld) instead "
           "of asking; `liaison lock` ends it\n", cli_time(expiry, when), dir, pid);
    return 0;
}

int
cmd_lock(int argc, char **argv)
{
    const char *none = NULL;
    char dir[PATH_MAX];
    int64_t expiry;
    long pid = 0;
    int rc, r;

    if ((rc = one_value(argc, argv, &none)) != 0)
        return rc;
    if ((r = lsn_profile_dir(cli_home, dir, sizeof dir)) != 0)
        return lsn_cli_fail(r, "no profile");
    (void)lsn_agent_info(dir, &expiry, &pid);
    r = lsn_agent_stop(dir);
    if (r == LSN_ERR_NOT_FOUND) {
        printf("not unlocked: no agent runs for %s\n", dir);
        return 0;
    }
    if (r != 0)
        return lsn_cli_fail(r, "cannot stop the agent for %s", dir);
    printf("locked: the agent (pid %ld) wiped the credential's key and "
           "stopped\n", pid);
    return 0;
}

struct load_try {
    const char *path;
    struct lsn_credential *c;
};

static int
try_load(const char *pass, void *arg)
{
    struct load_try *t = arg;

    return lsn_credential_load(t->path, pass, &t->c);
}

/* The new passphrase: the first line of file, else asked twice. */
static int
new_passphrase(const char *file, const char *dir, char **out)
{
    char prompt[PATH_MAX + 48], *again = NULL;
    int r;

    *out = NULL;
    if (file != NULL) {
        if ((r = lsn_pass_read_file(file, out)) != 0)
            return lsn_cli_fail(r, "cannot read the new passphrase from %s", file);
        return 0;
    }
    snprintf(prompt, sizeof prompt, "New passphrase for the credential in %s: ", dir);
    if ((r = lsn_pass_read_tty(prompt, out)) != 0)
        return lsn_cli_fail(r, "new passphrase");
    if ((r = lsn_pass_read_tty("Repeat the new passphrase: ", &again)) != 0 ||
        strcmp(*out, again) != 0) {
        lsn_pass_free(out);
        lsn_pass_free(&again);
        if (r != 0)
            return lsn_cli_fail(r, "new passphrase");
        fputs("liaison: the new passphrases differ; nothing was changed\n", stderr);
        return LSN_EXIT_USAGE;
    }
    lsn_pass_free(&again);
    return 0;
}

int
cmd_passwd(int argc, char **argv)
{
    const char *new_file = NULL;
    char dir[PATH_MAX], path[PATH_MAX + 16], prompt[PATH_MAX + 64], *pass = NULL;
    struct load_try t = { NULL, NULL };
    struct stat st;
    int rc, r, prot = 0, read_failed = 0, old = -1;

    if ((rc = one_value(argc, argv, &new_file)) != 0)
        return rc;
    if ((rc = profile(dir, sizeof dir, &prot)) != 0)
        return rc;
    snprintf(path, sizeof path, "%s/credential", dir);
    t.path = path;
    if (prot) {
        snprintf(prompt, sizeof prompt, "Current passphrase for the credential "
                 "in %s: ", dir);
        r = cli_pass_tries(prompt, try_load, &t, &read_failed);
    } else {
        r = lsn_credential_load(path, NULL, &t.c);
    }
    if (r != 0)
        return lsn_cli_fail(r, read_failed ? "passphrase" : "cannot open %s", path);
    if ((rc = new_passphrase(new_file, dir, &pass)) != 0)
        goto out;
    lsn_pass_warn_short("liaison", pass);
    /* Held open across the replacement, to overwrite the old bytes once
     * the new file is in place (a crash in between loses neither). */
    old = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if ((r = lsn_credential_save(t.c, path, pass, LSN_WRITE_FORCE)) != 0) {
        rc = lsn_cli_fail(r, "cannot write %s (the old passphrase still opens it)",
                      path);
        goto out;
    }
    if (old >= 0 && fstat(old, &st) == 0 && st.st_size > 0) {
        static const uint8_t zero[4096];
        for (off_t o = 0; o < st.st_size; o += (off_t)sizeof zero) {
            size_t k = (size_t)(st.st_size - o) < sizeof zero ?
                       (size_t)(st.st_size - o) : sizeof zero;
            if (pwrite(old, zero, k, o) != (ssize_t)k)
                break;
        }
        (void)fdatasync(old);
    }
    printf("passphrase changed for the credential in %s\n", dir);
    if (lsn_agent_stop(dir) == 0)
        printf("the unlock agent (which held the old passphrase's key) was "
               "stopped: `liaison unlock` to start it again\n");
    rc = 0;
out:
    if (old >= 0)
        close(old);
    lsn_pass_free(&pass);
    lsn_credential_destroy(&t.c);
    return rc;
}
