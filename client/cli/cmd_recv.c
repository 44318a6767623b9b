/* cmd_recv.c: `fetch`, `watch`, `inbox`, `read` and `open`: taking
 * messages in, and showing them. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/alert.h"
#include "client/cli/cli.h"
#include "keys/progress.h"
#include "keys/roster.h"
#include "keys/util.h"
#include "proto/envelope.h"
#include "proto/err.h"

const char fetch_usage[] =
    "usage: liaison fetch [--json]\n"
    "       liaison watch [--json] [--exec CMD]\n"
    "\n"
    "fetch takes everything waiting at the home relay: applies new encryption\n"
    "keys first, then verifies each message, stores it (still encrypted) and\n"
    "only then acknowledges it to the relay.  It prints each new message in\n"
    "one line (or one JSON object per line with --json) and resends any sent\n"
    "message the relay has not acknowledged yet.  A message refused for good\n"
    "(it fails verification) is acknowledged as refused, with the reason, so\n"
    "its sender's `liaison status` shows it; one that cannot be opened yet (its\n"
    "sender's bundle or a key delivery not here yet, a local store error) is\n"
    "left waiting at the relay, passed over, and tried again next time.\n"
    "\n"
    "watch does the same, then stays connected and handles messages as they\n"
    "arrive, until Ctrl-C or SIGTERM (exit 0; on a terminal it says so in a\n"
    "banner first); what waits is tried again after 5 s, then\n"
    "10 s, 20 s, ... up to every 5 min.  With --exec CMD each new message is\n"
    "given to CMD (run by /bin/sh) on its stdin as one JSON object; a message\n"
    "is acknowledged once it is stored, whatever CMD does.\n"
    "\n"
    "On a terminal both say on stderr what they wait on (connecting to\n"
    "RELAY..., fetching...); never with --json or when stderr is not one.\n"
    "\n"
    "A message that does not fit in the local store (store-max-mb in the\n"
    "profile's config, or the disk) is not acknowledged either: it waits.\n"
    "\n"
    "Exit status: 0 success, 1 a message failed verification or was left\n"
    "waiting at the relay, 2 usage error, 3 relay unreachable.\n";

const char inbox_usage[] =
    "usage: liaison inbox [--unread] [--json]\n"
    "       liaison read MSGID [--json] [--save-attachments DIR]\n"
    "       liaison open FILE [--json] [--save-attachments DIR]\n"
    "\n"
    "inbox lists received messages, oldest first, under a row of column\n"
    "names (* marks unread), then those their sender retracted (R: content\n"
    "key wiped).\n"
    "read shows one message (a unique prefix of its id is enough), marks it\n"
    "read and, if its sender asked for one, sends a read receipt (unless\n"
    "read-receipts = no in the profile's config).\n"
    "open verifies and opens an envelope file made by `liaison seal`, without\n"
    "a relay (import the sender's bundle first with `liaison bundle import`),\n"
    "and stores it like a fetched message.  A forward's original is shown\n"
    "under it, every line behind \"  | \".  On a colour terminal urgent\n"
    "messages are bold and TLP:RED ones red (never with NO_COLOR set, output\n"
    "piped, or --json).\n"
    "\n"
    "  --save-attachments DIR   also write each attachment (and those of a\n"
    "                           forwarded original that verified) into DIR\n"
    "                           (made, mode 0700, if missing), mode 0600, under\n"
    "                           the file name its sender gave it (never a path);\n"
    "                           a name that is hidden, starts with '-' or holds\n"
    "                           invisible or reordering characters is saved as\n"
    "                           attachment-N; a file is never replaced: a taken\n"
    "                           name becomes NAME-2, NAME-3, ...\n"
    "\n"
    "Exit status: 0 success, 1 verification failed, 2 usage or input error.\n";

struct show_ctx {
    int json;
    const char *exec;
    const char *save;               /* --save-attachments DIR */
    int failures;
    size_t shown, receipts;
};

static int
run_exec(const char *cmd, const struct lsn_message *m)
{
    int fds[2], status = 0;
    pid_t pid;
    FILE *f;

    if (pipe(fds) != 0)
        return -1;
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    if ((f = fdopen(fds[1], "w")) != NULL) {
        cli_print_message(f, m, 1);
        fclose(f);
    } else {
        close(fds[1]);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Receipts are bookkeeping: `status` shows them, listings do not. */
static int
is_receipt(const struct lsn_opened *o)
{
    return o->alert->type == LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT;
}

static int
on_message(void *ctx, const struct lsn_message *m)
{
    struct show_ctx *x = ctx;

    if (is_receipt(m->o)) {
        x->receipts++;
        return 0;
    }
    x->shown++;
    if (x->exec != NULL) {
        int st = run_exec(x->exec, m);
        if (st != 0)
            fprintf(stderr, "liaison: --exec command exited with %d\n", st);
    } else if (x->json) {
        cli_print_message(stdout, m, 1);
    } else {
        cli_print_summary(stdout, m);
    }
    fflush(stdout);
    return 0;
}

static void
on_error(void *ctx, const char *org, const uint8_t id[16], int err)
{
    struct show_ctx *x = ctx;
    char hex[33], safe[4 * LSN_ENV_ORG_MAX + 64], why[1024];

    /* org and the detail are the relay's word: escaped for the terminal. */
    cli_hex_id(hex, id);
    org = cli_safe(org, safe, sizeof safe);
    if (err == LSN_ERR_QUOTA) {
        fprintf(stderr, "liaison: message %s from %s was trimmed by the relay "
                "before this device fetched it (ask the sender to resend)\n", hex, org);
        return;
    }
    if (err == LSN_ERR_EXPIRED) {
        fprintf(stderr, "liaison: relay notice: message %s of %s expired before "
                "every recipient took it (advisory, not end-to-end)\n", hex, org);
        return;
    }
    x->failures++;
    fprintf(stderr, "liaison: message %s from %s refused: %s", hex, org,
            lsn_strerror(err));
    if (lsn_detail()[0] != '\0')
        fprintf(stderr, " (%s)", cli_safe(lsn_detail(), why, sizeof why));
    fputc('\n', stderr);
    lsn_set_detail("%s", "");
}

const struct option fetch_opts[] = {
    { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
};
const struct option watch_opts[] = {
    { "json", no_argument, NULL, 'j' }, { "exec", required_argument, NULL, 'x' },
    { NULL, 0, NULL, 0 },
};
const struct option inbox_opts[] = {
    { "unread", no_argument, NULL, 'u' }, { "json", no_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
};
/* read and open */
const struct option read_opts[] = {
    { "json", no_argument, NULL, 'j' }, { "save-attachments", required_argument, NULL, 's' },
    { NULL, 0, NULL, 0 },
};

/* Reads the options of fetch, watch, inbox, read and open (each takes
 * its own: fetch_opts ...) and want_arg arguments (0 or 1, into *arg). */
static int
parse_recv(int argc, char **argv, struct show_ctx *x, int *unread, int want_arg,
           const char **arg)
{
    int c;

    memset(x, 0, sizeof *x);
    while ((c = lsn_cli_next(argc, argv)) != -1) {
        switch (c) {
        case 'j': x->json = 1; break;
        case 'x': x->exec = optarg; break;
        case 's': x->save = optarg; break;
        case 'u': *unread = 1; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    return lsn_cli_args(argc, argv, want_arg, "one argument", arg);
}

int
cmd_fetch(int argc, char **argv)
{
    struct show_ctx x;
    struct lsn_client *c = NULL;
    size_t n = 0, resent = 0;
    int rc, r;

    if ((rc = parse_recv(argc, argv, &x, NULL, 0, NULL)) != 0)
        return rc;
    lsn_progress_init(x.json);
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if ((r = lsn_client_fetch(c, on_message, on_error, &x, &n)) != 0) {
        rc = lsn_cli_fail(r, "fetch");
        goto out;
    }
    if ((r = lsn_client_resubmit(c, &resent)) != 0)
        (void)lsn_cli_fail(r, "warning: stored messages not resent yet");
    (void)n;
    if (!x.json)
        fprintf(stderr, "%zu new message(s)%s%s\n", x.shown,
                x.receipts ? ", receipts recorded (see `liaison status`)" : "",
                resent ? ", stored messages resent" : "");
    if (c->waiting > 0) {
        fprintf(stderr, "liaison: %zu message(s) left waiting at the relay: %s.\n",
                c->waiting, lsn_strerror(c->waiting_err));
        if (c->waiting_err == LSN_ERR_STORE_FULL)
            fprintf(stderr, "liaison: make room, then run `liaison fetch` again: "
                    "free disk space, raise store-max-mb in the profile's config, "
                    "or remove old read messages with `liaison prune --older-than "
                    "90d`\n");
        else if (c->waiting_err == LSN_ERR_IO || c->waiting_err == LSN_ERR_NOMEM)
            fprintf(stderr, "liaison: check the disk of the profile folder, then "
                    "run `liaison fetch` again\n");
        else
            fprintf(stderr, "liaison: the next fetch tries them again\n");
    }
    if (rc == 0 && (x.failures > 0 || c->waiting > 0))
        rc = LSN_EXIT_FAILED;
out:
    lsn_client_close(&c);
    return rc;
}

int
cmd_watch(int argc, char **argv)
{
    struct show_ctx x;
    struct lsn_client *c = NULL;
    char relay[128];
    size_t resent = 0;
    int rc, r;

    if ((rc = parse_recv(argc, argv, &x, NULL, 0, NULL)) != 0)
        return rc;
    lsn_progress_init(x.json);
    /* Ctrl-C and SIGTERM are how watch stops, whatever it waits on. */
    lsn_interrupt_catch();
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if (lsn_client_relay_name(c, relay, sizeof relay) != 0)
        snprintf(relay, sizeof relay, "the home relay");
    lsn_progress_note("watching for messages for %s/%s on %s, Ctrl-C to stop",
                      c->p->cred->org, c->p->cred->device, relay);
    signal(SIGPIPE, SIG_IGN);
    (void)lsn_client_resubmit(c, &resent);
    r = lsn_client_watch(c, on_message, on_error, &x, lsn_interrupt_flag(), 250);
    if (r != 0 && !(r == LSN_ERR_INTERRUPTED && lsn_interrupted()))
        rc = lsn_cli_fail(r, "watch");
    lsn_client_close(&c);
    return rc;
}

struct list_ctx {
    int json, n;
};

static int
list_one(void *ctx, const struct lsn_message *m)
{
    struct list_ctx *x = ctx;

    if (x->json) {
        cli_print_message(stdout, m, 1);
    } else {
        if (x->n == 0)
            cli_print_summary_header(stdout);
        cli_print_summary(stdout, m);
    }
    x->n++;
    return 0;
}

/* Retracted messages whose key is wiped: listed apart, nothing to open. */
static int
list_retracted(void *ctx, const char *org, const uint8_t id[16], int64_t received,
               int64_t at, const char *reason)
{
    struct list_ctx *x = ctx;

    cli_print_retracted(stdout, org, id, received, at, reason, x->json);
    x->n++;
    return 0;
}

int
cmd_inbox(int argc, char **argv)
{
    struct show_ctx x;
    struct list_ctx l = { 0, 0 };
    struct lsn_client *c = NULL;
    int rc, r, unread = 0;

    if ((rc = parse_recv(argc, argv, &x, &unread, 0, NULL)) != 0)
        return rc;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    l.json = x.json;
    if ((r = lsn_client_each_received(c, unread, list_one, &l)) != 0 ||
        (!unread && (r = lsn_local_each_retracted(c->p->store, list_retracted, &l)) != 0))
        rc = lsn_cli_fail(r, "inbox");
    else if (!l.json && l.n == 0)
        fprintf(stderr, "no %smessages\n", unread ? "unread " : "");
    else if (!l.json)
        cli_print_summary_legend(stdout);
    lsn_client_close(&c);
    return rc;
}

/* Whether a sender's file name is one to save under as it is: not hidden
 * (a leading '.') or read as an option (a leading '-'), no leading or
 * trailing space, nothing a reader cannot see or that reorders it
 * (lsn_text_hidden_len).  lsn_open already refused paths, "." and "..",
 * control characters and invalid UTF-8. */
static int
name_safe(const char *name)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t n = strlen(name);

    if (n == 0 || name[0] == '.' || name[0] == '-' || name[0] == ' ' || name[n - 1] == ' ')
        return 0;
    for (; *p != '\0'; p++)
        if (lsn_text_hidden_len(p) > 0)
            return 0;
    return 1;
}

/* Writes one attachment into dir as name, or, if a file of that name
 * exists, as name-2, name-3, ... (before the extension): never over a
 * file.  0 with the path written in path. */
static int
save_one(const char *dir, const char *name, const Liaison__Attachment *at,
         char *path, size_t size)
{
    const char *dot = strrchr(name, '.');
    int stem = dot != NULL && dot != name ? (int)(dot - name) : (int)strlen(name);
    int r = LSN_ERR_EXISTS;

    for (int k = 1; k <= 100 && r == LSN_ERR_EXISTS; k++) {
        int n = k == 1 ? snprintf(path, size, "%s/%s", dir, name)
                       : snprintf(path, size, "%s/%.*s-%d%s", dir, stem, name, k,
                                  name + stem);
        if (n < 0 || (size_t)n >= size)
            return LSN_ERR_TOO_LARGE;
        r = lsn_file_write(path, at->data.data, at->data.len, LSN_WRITE_SECRET);
    }
    return r;
}

/* Saves the attachments of alert a into dir; *n counts them.  of, when
 * not NULL, says whose they are (a forwarded original's). */
static int
save_alert(const Liaison__Alert *a, const char *dir, const char *of, size_t *n)
{
    char path[PATH_MAX], fallback[32];
    int r;

    for (size_t i = 0; i < a->n_attachments; i++, (*n)++) {
        const Liaison__Attachment *at = a->attachments[i];
        const char *name = at->name;
        if (!name_safe(name)) {
            snprintf(fallback, sizeof fallback, "attachment-%zu", *n + 1);
            name = fallback;
        }
        if ((r = save_one(dir, name, at, path, sizeof path)) != 0) {
            if (r == LSN_ERR_TOO_LARGE || r == LSN_ERR_EXISTS) {
                (void)lsn_cli_fail(0, "attachment not saved in %s: %s", dir,
                                   r == LSN_ERR_EXISTS ? "100 files of its name exist"
                                                       : "path too long");
                return LSN_EXIT_USAGE;
            }
            return lsn_cli_fail(r, "attachment not saved in %s", dir);
        }
        fprintf(stderr, "saved %s (%zu bytes%s%s", path, at->data.len,
                of != NULL ? ", " : "", of != NULL ? of : "");
        if (name == fallback) {
            fputs("; sent as `", stderr);
            cli_safe_text(stderr, at->name, NULL);
            fputs("`, not a name to save under", stderr);
        }
        fputs(")\n", stderr);
    }
    return 0;
}

/* Writes each attachment of m, and of the original it forwards when that
 * verified, into dir (made 0700 if missing), mode 0600, durably, never
 * over a file: under the name its sender gave it when that is safe
 * (name_safe), else attachment-N; a taken name gets -2, -3, .... */
static int
save_attachments(const struct lsn_message *m, const char *dir)
{
    size_t n = 0;
    int rc;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return lsn_cli_fail(LSN_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    if ((rc = save_alert(m->o->alert, dir, NULL, &n)) != 0)
        return rc;
    if (m->original != NULL && m->original_err == 0 &&
        (rc = save_alert(m->original->alert, dir, "of the forwarded original", &n)) != 0)
        return rc;
    if (n == 0)
        fprintf(stderr, "no attachments to save\n");
    return 0;
}

int
cmd_read(int argc, char **argv)
{
    struct show_ctx x;
    struct lsn_client *c = NULL;
    struct lsn_message *m = NULL;
    const char *id;
    int rc, r;

    if ((rc = parse_recv(argc, argv, &x, NULL, 1, &id)) != 0)
        return rc;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if ((r = lsn_client_read(c, id, 1, &m)) != 0) {
        rc = lsn_cli_fail(r, "cannot read %s", id);
    } else {
        cli_print_message(stdout, m, x.json);
        if (x.save != NULL)
            rc = save_attachments(m, x.save);
    }
    lsn_message_free(&m);
    lsn_client_close(&c);
    return rc;
}

/* 1 if the org an envelope names as its sender is in the roster held
 * here (no bundle of it yet is then something to import, not a forgery). */
static int
sender_in_roster(struct lsn_client *c, const uint8_t *env, size_t len)
{
    struct lsn_envelope_info info;
    struct lsn_roster *ro = NULL;
    int in;

    if (lsn_envelope_peek(env, len, 0, &info) != 0 ||
        lsn_profile_roster(c->p, lsn_now(), &ro) != 0)
        return 0;
    in = lsn_roster_find_org(ro, info.sender_org) != NULL;
    lsn_roster_destroy(&ro);
    return in;
}

int
cmd_open(int argc, char **argv)
{
    struct show_ctx x;
    struct lsn_client *c = NULL;
    struct lsn_message *m = NULL;
    uint8_t *env = NULL;
    size_t len = 0;
    const char *file;
    int rc, r;

    if ((rc = parse_recv(argc, argv, &x, NULL, 1, &file)) != 0)
        return rc;
    if ((r = lsn_file_read(file, LSN_ENVELOPE_MAX, &env, &len)) != 0)
        return lsn_cli_fail(r, "cannot read %s", file);
    if ((rc = cli_open(&c)) != 0)
        goto out;
    c->offline = 1;     /* verified against the bundles held here */
    if ((r = lsn_client_accept(c, env, len, lsn_now(), &m)) != 0) {
        rc = lsn_cli_fail_as(lsn_cli_exit_for(r, 1), r, "%s does not verify", file);
        /* Whichever check refused it (a limit, a field, an unknown org),
         * the envelope did not verify; only a local fault, or no bundle of
         * the sender held here to check it with (import it), is not that. */
        if (r != LSN_ERR_NOMEM && r != LSN_ERR_IO && r != LSN_ERR_INTERNAL &&
            (r != LSN_ERR_NOT_FOUND || !sender_in_roster(c, env, len)))
            rc = LSN_EXIT_FAILED;
    } else {
        cli_print_message(stdout, m, x.json);
        if (x.save != NULL)
            rc = save_attachments(m, x.save);
    }
out:
    lsn_message_free(&m);
    free(env);
    lsn_client_close(&c);
    return rc;
}
