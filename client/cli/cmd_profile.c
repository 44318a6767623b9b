/* cmd_profile.c: `init`, `orgs`, `bundle import`, `audit verify` and
 * `status`: the profile, the directory, the log, and what became of a
 * sent message. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cli/cli.h"
#include "client/cli/cmd_agent.h"
#include "client/names.h"
#include "keys/json.h"
#include "keys/keyfile.h"
#include "keys/pass.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"

const char init_usage[] =
    "usage: liaison init --credential CRED [--home DIR] [--passphrase-file FILE]\n"
    "\n"
    "Sets up this device's profile (--home DIR, else $LIAISON_HOME, else\n"
    "~/.liaison) from the credential file an administrator made with\n"
    "`liaison-keys device add`: copies it (mode 0600), pins the roster it\n"
    "carries (every later roster must chain from it) and writes a commented\n"
    "config file.  The credential's passphrase, if it has one, is asked on the\n"
    "terminal or read from --passphrase-file.  It says which org and device\n"
    "the profile is and its home relay: \"profile for ORG/DEVICE at DIR,\n"
    "relay NAME ENDPOINT (roster vN)\".\n";

const char orgs_usage[] =
    "usage: liaison orgs [--json]\n"
    "\n"
    "Lists the coalition's member organisations from the pinned roster, under\n"
    "a row of column names: id, display name, root key fingerprint (compare it\n"
    "by phone), the bundle version held (- if none yet) and the home relay;\n"
    "* marks this device's org, and a line after the table says so.  Then\n"
    "the roster's circles (send to one with --to circle:NAME) and their\n"
    "members.  With --json, one object per org, then one per circle.\n";

const char bundle_usage[] =
    "usage: liaison bundle import FILE\n"
    "\n"
    "Adds an org bundle (from `liaison-keys bundle export`) to this profile's\n"
    "directory, for sealing and opening without a relay.  It must be signed by\n"
    "the root key the pinned roster lists, unexpired, and not older than the\n"
    "one held.\n";

const char audit_usage[] =
    "usage: liaison audit verify [--json]\n"
    "       liaison audit show [--json]\n"
    "\n"
    "The profile keeps a hash-chained log of sends, receipts, reads, forwards\n"
    "and key changes, each link keyed with the device's local store key.\n"
    "verify checks every link and exits 1 at the first broken one.\n";

const char status_usage[] =
    "usage: liaison status MSGID [--json]\n"
    "       liaison status [--json]        (every sent message: `liaison sent`)\n"
    "\n"
    "What became of a message this device sent (a unique prefix of its id is\n"
    "enough), as its home relay tells it now, per recipient organisation\n"
    "and device: queued at the relay, delivered (stored by the device),\n"
    "refused by the device with its reason, trimmed, dropped or expired; and\n"
    "the delivery, read and non-delivery receipts that came back, each signed\n"
    "by the device it names; and the feedback recipient orgs sent about it\n"
    "(`liaison feedback`): the latest disposition of each org, for the\n"
    "message and per indicator (\"indicator 2: false positive by paypal,\n"
    "actioned by mastercard\").  Without MSGID it lists every message this\n"
    "device sent, as `liaison sent` does.\n";

const struct option init_opts[] = {
    { "credential", required_argument, NULL, 'c' }, { NULL, 0, NULL, 0 },
};
const struct option orgs_opts[] = {
    { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
};
const struct option status_opts[] = {
    { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
};

/* Reads --json, the one option of orgs, status and audit, and n
 * arguments (0 or 1, into *arg). */
static int
json_flag(int argc, char **argv, int *json, int n, const char **arg)
{
    int c;

    *json = 0;
    while ((c = lsn_cli_next(argc, argv)) != -1) {
        if (c != 'j')
            return lsn_cli_usage("unknown option");
        *json = 1;
    }
    return lsn_cli_args(argc, argv, n, n ? "an argument" : "nothing", arg);
}

struct init_try {
    const char *dir, *cred;
    struct lsn_profile_about *about;
};

static int
try_init(const char *pass, void *arg)
{
    const struct init_try *t = arg;

    return lsn_profile_init_about(t->dir, t->cred, pass, lsn_now(), t->about);
}

int
cmd_init(int argc, char **argv)
{
    struct lsn_profile_about about;
    const char *cred = NULL;
    char dir[PATH_MAX], prompt[PATH_MAX + 40];
    int c, r, prot = 0;

    while ((c = lsn_cli_next(argc, argv)) != -1) {
        if (c != 'c')
            return lsn_cli_usage("unknown option");
        cred = optarg;
    }
    if (cred == NULL || optind != argc)
        return lsn_cli_usage("init needs --credential CRED");
    if ((r = lsn_profile_dir(cli_home, dir, sizeof dir)) != 0)
        return lsn_cli_fail(r, "no profile folder");
    if ((r = lsn_secret_is_protected(cred, &prot)) != 0)
        return lsn_cli_fail(r, "cannot read credential %s", cred);
    /* Said before the passphrase is asked for, not after. */
    snprintf(prompt, sizeof prompt, "%s/credential", dir);
    if (access(prompt, F_OK) == 0)
        r = LSN_ERR_EXISTS;
    else if (prot) {
        struct init_try t = { dir, cred, &about };
        int read_failed = 0;
        snprintf(prompt, sizeof prompt, "Passphrase for %.200s: ", cred);
        r = cli_pass_tries(prompt, try_init, &t, &read_failed);
        if (read_failed)
            return lsn_cli_fail(r, "passphrase");
    } else {
        r = lsn_profile_init_about(dir, cred, NULL, lsn_now(), &about);
    }
    if (r == LSN_ERR_EXISTS) {
        fputs("liaison: profile already exists in ", stderr);
        cli_safe_text(stderr, dir, NULL);
        fputs("; `liaison --home DIR init` sets up another\n", stderr);
        return LSN_EXIT_USAGE;
    }
    if (r != 0)
        return lsn_cli_fail(r, "cannot set up the profile in %s", dir);
    /* Which org, device and relay: a profile set up from the wrong
     * credential shows at once. */
    if (about.org[0] == '\0') {
        fputs("profile ready in ", stdout);
        cli_safe_text(stdout, dir, NULL);
        fputc('\n', stdout);
        return 0;
    }
    printf("profile for %s/%s at ", about.org, about.device);
    cli_safe_text(stdout, dir, NULL);
    if (about.relay[0] != '\0')
        printf(", relay %s %s", about.relay,
               about.endpoint[0] ? about.endpoint : "(no endpoint in the roster)");
    printf(" (roster v%llu)\n", (unsigned long long)about.roster_version);
    return 0;
}

/* orgs prints each kind of roster entry with its own header row, line
 * and legend, so another kind is one more such group. */
#define ORG_LINE "%c %-20s %-28s %-39s  %-6s %s\n"

static void
print_orgs_header(void)
{
    printf(ORG_LINE, ' ', "ORG", "NAME", "ROOT KEY FINGERPRINT", "BUNDLE", "RELAY");
}

static void
print_org(const struct lsn_client *c, const Liaison__RosterOrg *o, long long v,
          const char *fp, int json)
{
    int self = strcmp(o->id, c->p->cred->org) == 0;
    char vs[24], display[4 * 64 + 1];

    if (json) {
        lsn_json_print(stdout, json_pack("{s:o, s:o, s:s, s:I, s:o, s:b}",
            "org", lsn_json_text(o->id), "display", lsn_json_text(o->display),
            "fingerprint", fp, "bundle_version", (json_int_t)v,
            "relay", lsn_json_text(o->relay), "self", self));
        return;
    }
    snprintf(vs, sizeof vs, v ? "v%lld" : "-", v);
    printf(ORG_LINE, self ? '*' : ' ', o->id, cli_safe(o->display, display, sizeof display),
           fp, vs, o->relay);
}

static void
print_orgs_legend(void)
{
    puts("* your org; BUNDLE: the version of its signed keys held here (- none yet);\n"
         "compare a ROOT KEY FINGERPRINT with that org by phone before trusting it");
}

/* The roster's circles after its orgs: one object per circle with --json. */
static void
print_circles(const struct lsn_roster *ro, int json)
{
    if (!json && ro->r->n_circles > 0)
        printf("circles:\n");
    for (size_t i = 0; i < ro->r->n_circles; i++) {
        const Liaison__RosterCircle *x = ro->r->circles[i];
        json_t *m;

        if (!json) {
            printf("  circle:%-20s %-28s", x->name, x->display);
            for (size_t k = 0; k < x->n_orgs; k++)
                printf("%s%s", k ? "," : " ", x->orgs[k]);
            printf("\n");
            continue;
        }
        m = json_array();
        for (size_t k = 0; k < x->n_orgs; k++)
            json_array_append_new(m, lsn_json_text(x->orgs[k]));
        lsn_json_print(stdout, json_pack("{s:o, s:o, s:o}", "circle",
                       lsn_json_text(x->name), "display", lsn_json_text(x->display),
                       "orgs", m));
    }
}

int
cmd_orgs(int argc, char **argv)
{
    struct lsn_client *c = NULL;
    struct lsn_roster *ro = NULL;
    char fp[LSN_FP_LEN];
    int json, rc, r;

    if ((rc = json_flag(argc, argv, &json, 0, NULL)) != 0)
        return rc;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if ((r = lsn_profile_roster(c->p, lsn_now(), &ro)) != 0) {
        rc = lsn_cli_fail(r, "no valid roster");
        goto out;
    }
    if (!json) {
        printf("coalition `%s`, roster v%llu\n", ro->r->coalition,
               (unsigned long long)ro->r->version);
        print_orgs_header();
    }
    for (size_t i = 0; i < ro->r->n_orgs; i++) {
        const Liaison__RosterOrg *o = ro->r->orgs[i];
        struct lsn_bundle *b = NULL;
        long long v = lsn_trust_bundle(c->p->trust, o->id, lsn_now(), &b) == 0
                          ? (long long)b->b->version : 0;
        lsn_bundle_destroy(&b);
        lsn_fingerprint(fp, o->root_key.data, 32);
        print_org(c, o, v, fp, json);
    }
    if (!json)
        print_orgs_legend();
    print_circles(ro, json);
out:
    lsn_roster_destroy(&ro);
    lsn_client_close(&c);
    return rc;
}

static int
bundle_import(int argc, char **argv)
{
    struct lsn_client *c = NULL;
    uint8_t *bin = NULL;
    size_t n = 0;
    const char *file = NULL;
    int rc, r;

    if ((rc = lsn_cli_args(argc, argv, 1, "a bundle FILE", &file)) != 0)
        return rc;
    if ((r = lsn_signed_file_read(file, LSN_TYPE_BUNDLE, &bin, &n)) != 0)
        return lsn_cli_fail(r, "cannot read bundle %s", file);
    if ((rc = cli_open(&c)) != 0)
        goto out;
    if ((r = lsn_trust_put_bundle(c->p->trust, bin, n, lsn_now())) != 0) {
        rc = lsn_cli_fail_as(lsn_cli_exit_for(r, 1), r, "bundle %s refused", file);
        goto out;
    }
    lsn_local_audit(c->p->store, lsn_now(), "key", "bundle imported from a file");
    printf("%s: imported\n", file);
out:
    free(bin);
    lsn_client_close(&c);
    return rc;
}

static const struct option audit_opts[] = {
    { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
};

const struct lsn_cli_cmd bundle_cmds[] = {
    { "import", bundle_import, NULL, bundle_usage, "import an org bundle file", NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

static int
print_audit(void *ctx, const Liaison__AuditEntry *e)
{
    int json = *(int *)ctx;
    char t[21];

    if (json) {
        lsn_json_print(stdout, json_pack("{s:I, s:I, s:o, s:o}",
                                         "seq", (json_int_t)e->seq, "at", (json_int_t)e->at,
                                         "event", lsn_json_text(e->event),
                                         "detail", lsn_json_text(e->detail)));
    } else {
        char safe[2048];    /* details name orgs a relay supplied */
        printf("%6llu  %s  %-12s %s\n", (unsigned long long)e->seq,
               cli_time(e->at, t), e->event, cli_safe(e->detail, safe, sizeof safe));
    }
    return 0;
}

/* audit verify and audit show */
static int
audit(int argc, char **argv, int show)
{
    struct lsn_client *c = NULL;
    uint64_t n = 0, bad = 0;
    int json, rc, r;

    if ((rc = json_flag(argc, argv, &json, 0, NULL)) != 0)
        return rc;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if (show) {
        if ((r = lsn_local_each_audit(c->p->store, print_audit, &json)) != 0)
            rc = lsn_cli_fail(r, "audit log");
    } else if ((r = lsn_local_audit_verify(c->p->store, &n, &bad)) != 0) {
        if (json)
            lsn_json_print(stdout, json_pack("{s:b, s:I, s:I}", "valid", 0,
                                             "entries", (json_int_t)n,
                                             "first_bad", (json_int_t)bad));
        rc = lsn_cli_fail_as(lsn_cli_exit_for(r, 1), r, "audit log broken at entry %llu",
                             (unsigned long long)bad);
    } else if (json) {
        lsn_json_print(stdout, json_pack("{s:b, s:I}", "valid", 1, "entries", (json_int_t)n));
    } else {
        printf("audit log intact: %llu entries\n", (unsigned long long)n);
    }
    lsn_client_close(&c);
    return rc;
}

static int
audit_verify(int argc, char **argv)
{
    return audit(argc, argv, 0);
}

static int
audit_show(int argc, char **argv)
{
    return audit(argc, argv, 1);
}

const struct lsn_cli_cmd audit_cmds[] = {
    { "verify", audit_verify, audit_opts, audit_usage, "check every link of the log", NULL },
    { "show", audit_show, audit_opts, audit_usage, "list the log", NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

struct receipt_ctx {
    int n;
    json_t *json;       /* the receipts array with --json, else NULL */
};

static int
print_receipt(void *ctx, const char *org, const char *device, int kind, int64_t at,
              int reads_off, int reason)
{
    struct receipt_ctx *x = ctx;
    char t[21];

    if (kind != LIAISON__RECEIPT_KIND__RECEIPT_REFUSED)
        reason = 0;
    else if (reason >= 0)
        reason = LSN_ERR_INVALID;   /* a refusal always has one */

    if (x->json != NULL) {
        json_t *o = json_pack("{s:o, s:o, s:s, s:I, s:b}", "org", lsn_json_text(org),
                              "device", lsn_json_text(device),
                              "kind", lsn_name_of(lsn_names_receipt, kind),
                              "at", (json_int_t)at, "reads_off", reads_off);
        if (o != NULL && reason != 0) {
            json_object_set_new(o, "code", json_integer(reason));
            json_object_set_new(o, "reason", json_string(lsn_strerror(reason)));
        }
        json_array_append_new(x->json, o);
    } else if (reason != 0) {
        printf("  receipt: %s/%s refused it: %s (signed receipt, %s)\n", org, device,
               lsn_strerror(reason), cli_time(at, t));
    } else {
        printf("  receipt: %-9s by %s/%s at %s%s\n", lsn_name_of(lsn_names_receipt, kind),
               org, device, cli_time(at, t),
               reads_off ? " (read receipts are turned off there)" : "");
    }
    x->n++;
    return 0;
}

/* A device state's name in text and JSON. */
/* A relay's device name, shown only if it is one a bundle could hold. */
static const char *
device_name(const Liaison__DeviceStatus *d)
{
    return lsn_name_check(d->device) == 0 ? d->device : "(invalid name)";
}

/* The org's overall word: every device has an end state, or not yet. */
static const char *
recipient_state(const Liaison__RecipientStatus *p)
{
    uint64_t ended = (uint64_t)p->delivered + p->refused + p->trimmed + p->dropped;

    if (p->devices > 0 && p->delivered == p->devices)
        return "delivered";
    if (p->expired)
        return "expired";
    if (p->devices > 0 && ended >= p->devices)
        return p->delivered > 0 ? "partly delivered"
               : p->refused > 0 ? "refused" : "not delivered";
    return "queued";
}

const char *
cli_recipient_state(const Liaison__RecipientStatus *p)
{
    return recipient_state(p);
}

/* One line per device that did not simply take it: who refused it and
 * why, and what still waits. */
static void
print_devices(const Liaison__RecipientStatus *p)
{
    char org_buf[4 * 64 + 1];
    const char *org = cli_safe(p->org, org_buf, sizeof org_buf);

    for (size_t j = 0; j < p->n_device_states; j++) {
        const Liaison__DeviceStatus *d = p->device_states[j];
        switch (d->state) {
        case LIAISON__DEVICE_STATE__DEVICE_REFUSED:
            printf("    refused by %s/%s: %s\n", org, device_name(d),
                   d->reason < 0 ? lsn_strerror(d->reason) : "no reason given");
            break;
        case LIAISON__DEVICE_STATE__DEVICE_DELIVERED:
            printf("    delivered to %s/%s\n", org, device_name(d));
            break;
        default:
            printf("    %s for %s/%s\n",
                   lsn_name_of(lsn_names_device_state, d->state), org, device_name(d));
            break;
        }
    }
}

/* One recipient org's line: where the message is, and how far it got. */
static void
print_recipient(const Liaison__RecipientStatus *p)
{
    const char *state = recipient_state(p);
    char refused[48] = "";
    char org_buf[4 * 64 + 1], relay_buf[4 * 64 + 1];
    /* The relay's answer: its names are escaped for the terminal. */
    const char *org = cli_safe(p->org, org_buf, sizeof org_buf);
    const char *relay = cli_safe(p->relay, relay_buf, sizeof relay_buf);

    if (p->relay[0] != '\0' && !p->forwarded) {
        printf("  %-20s queued at the home relay for relay %s\n", org, relay);
        return;
    }
    if (p->relay[0] != '\0' && !p->relay_answered) {
        printf("  %-20s forwarded to relay %s (its figures not available now)\n",
               org, relay);
        return;
    }
    if (p->refused > 0)
        snprintf(refused, sizeof refused, ", refused by %u", p->refused);
    printf("  %-20s %s: delivered to %u of %u device(s)%s%s%s%s%s\n", org, state,
           p->delivered, p->devices, refused, p->relay[0] ? " via relay " : "",
           relay, p->trimmed ? ", some trimmed" : "",
           p->dropped ? ", some dropped with revoked devices" : "");
    print_devices(p);
}

static const char *waiting_what(const Liaison__StoredSent *sent);

static json_t *
json_devices(const Liaison__RecipientStatus *p)
{
    json_t *a = json_array();

    for (size_t j = 0; j < p->n_device_states; j++) {
        const Liaison__DeviceStatus *d = p->device_states[j];
        json_t *o = json_pack("{s:o, s:s}", "device", lsn_json_text(device_name(d)),
                              "state", lsn_name_of(lsn_names_device_state, d->state));
        if (o != NULL && d->state == LIAISON__DEVICE_STATE__DEVICE_REFUSED) {
            json_object_set_new(o, "code", json_integer(d->reason));
            json_object_set_new(o, "reason", json_string(d->reason < 0
                                ? lsn_strerror(d->reason) : "no reason given"));
        }
        json_array_append_new(a, o);
    }
    return a;
}

/* status --json: one object (docs/json.md); relay-chosen names through
 * lsn_json_text. */
static void
print_status_json(struct lsn_client *c, const uint8_t id[16], const char *hex,
                  const Liaison__StoredSent *sent, const Liaison__StatusReply *st,
                  int relay_err)
{
    struct receipt_ctx rx = { 0, json_array() };
    json_t *o, *relay;

    o = json_pack("{s:s, s:b, s:s}", "msg_id", hex, "submitted", sent->submitted,
                  "ack", lsn_name_of(lsn_names_ack, sent->ack));
    if (o != NULL && !sent->submitted && sent->refused == 0 && sent->waiting != 0) {
        json_object_set_new(o, "waiting", json_string(waiting_what(sent)));
        json_object_set_new(o, "retry_at", json_integer(sent->retry_at));
    }
    if (st == NULL) {
        relay = json_pack("{s:b, s:s}", "reachable", 0, "error", lsn_strerror(relay_err));
    } else {
        json_t *recips = json_array();
        for (size_t i = 0; i < st->n_recipients; i++) {
            const Liaison__RecipientStatus *p = st->recipients[i];
            json_array_append_new(recips, json_pack(
                "{s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:o, s:b, s:b, s:o}",
                "org", lsn_json_text(p->org), "state", recipient_state(p),
                "devices", (json_int_t)p->devices, "delivered", (json_int_t)p->delivered,
                "refused", (json_int_t)p->refused, "trimmed", (json_int_t)p->trimmed,
                "dropped", (json_int_t)p->dropped, "expired", p->expired,
                "relay", lsn_json_text(p->relay), "forwarded", p->forwarded,
                "relay_answered", p->relay_answered, "device_states", json_devices(p)));
        }
        relay = json_pack("{s:b, s:b, s:o}", "reachable", 1, "known", st->known,
                          "recipients", recips);
    }
    lsn_local_each_receipt_reason(c->p->store, id, print_receipt, &rx);
    if (o != NULL)
        cli_print_feedback(c, c->p->cred->org, id, o);
    if (o != NULL) {
        json_object_set_new(o, "relay", relay);
        json_object_set_new(o, "receipts", rx.json);
    } else {
        json_decref(relay);
        json_decref(rx.json);
    }
    lsn_json_print(stdout, o);
}

/* What a stored send waits for, from the relay's refusal. */
static const char *
waiting_what(const Liaison__StoredSent *sent)
{
    if (sent->waiting != LSN_ERR_QUOTA)
        return lsn_strerror(sent->waiting);
    return strstr(sent->waiting_why, "sending org") != NULL &&
           strstr(sent->waiting_why, "recipient org") == NULL ? "sender quota"
                                                              : "recipient quota";
}

const char *
cli_waiting_what(const Liaison__StoredSent *sent)
{
    return waiting_what(sent);
}

int
cmd_status(int argc, char **argv)
{
    struct lsn_client *c = NULL;
    Liaison__StatusReply *st = NULL;
    Liaison__StoredSent *sent = NULL;
    struct receipt_ctx rx = { 0 };
    const char *prefix = NULL;
    uint8_t id[16];
    char hex[33];
    int json, rc, r, relay_err = 0;

    /* The kit put options first: optind is at the MSGID, if any. */
    if (optind == argc)
        return cmd_sent(argc, argv);
    if ((rc = json_flag(argc, argv, &json, 1, &prefix)) != 0)
        return rc;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if ((r = lsn_local_find_sent(c->p->store, prefix, id)) != 0 ||
        (r = lsn_local_get_sent(c->p->store, id, &sent)) != 0) {
        rc = lsn_cli_fail(r, "no sent message %s", prefix);
        goto out;
    }
    cli_hex_id(hex, id);
    if ((r = lsn_client_connect(c)) == 0)
        r = lsn_relay_client_status(c->rc, id, &st);
    relay_err = r;
    if (json) {
        print_status_json(c, id, hex, sent, st, relay_err);
        goto out;
    }
    printf("message %s: %s\n", hex, sent->submitted ? "accepted by the home relay"
                                                    : "stored here, not yet accepted by the relay");
    if (!sent->submitted && sent->refused == 0 && sent->waiting != 0) {
        char t[21];
        if (sent->expires <= lsn_now())
            printf("  expired: the relay never had room for it (%s)\n",
                   waiting_what(sent));
        else
            printf("  waiting: %s; resent from %s on by send, fetch or watch until "
                   "it expires\n", waiting_what(sent), cli_time(sent->retry_at, t));
        if (sent->waiting_why[0] != '\0') {
            fputs("  the relay said: ", stdout);
            cli_safe_text(stdout, sent->waiting_why, NULL);
            fputc('\n', stdout);
        }
    }
    if (st == NULL)
        printf("  relay: unreachable (%s)\n", lsn_strerror(relay_err));
    else if (!st->known)
        printf("  relay: no longer holds it (every device took it, or it expired)\n");
    for (size_t i = 0; st != NULL && i < st->n_recipients; i++)
        print_recipient(st->recipients[i]);
    lsn_local_each_receipt_reason(c->p->store, id, print_receipt, &rx);
    if (sent->ack != LIAISON__ACK_REQUEST__ACK_NONE && rx.n == 0)
        printf("  no receipts yet (asked for %s receipts)\n",
               lsn_name_of(lsn_names_ack, sent->ack));
    cli_print_feedback(c, c->p->cred->org, id, NULL);
out:
    lsn_pb_free((ProtobufCMessage *)st);
    lsn_pb_free((ProtobufCMessage *)sent);
    lsn_client_close(&c);
    return rc;
}
