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

static const char init_usage[] =
    "usage: liaison init --credential CRED [--home DIR] [--passphrase-file FILE]\n"
    "\n"
    "Sets up this device's profile (--home DIR, else $LIAISON_HOME, else\n"
    "~/.liaison) from the credential file an administrator made with\n"
    "`liaison-keys device add`: copies it (mode 0600), pins the roster it\n"
    "carries (every later roster must chain from it) and writes a commented\n"
    "config file.  The credential's passphrase, if it has one, is asked on the\n"
    "terminal or read from --passphrase-file.\n";

static const char orgs_usage[] =
    "usage: liaison orgs [--json]\n"
    "\n"
    "Lists the coalition's member organisations from the pinned roster: id,\n"
    "display name, root key fingerprint (compare it by phone), the bundle\n"
    "version held (- if none yet) and the home relay.\n";

static const char bundle_usage[] =
    "usage: liaison bundle import FILE\n"
    "\n"
    "Adds an org bundle (from `liaison-keys bundle export`) to this profile's\n"
    "directory, for sealing and opening without a relay.  It must be signed by\n"
    "the root key the pinned roster lists, unexpired, and not older than the\n"
    "one held.\n";

static const char audit_usage[] =
    "usage: liaison audit verify [--json]\n"
    "       liaison audit show [--json]\n"
    "\n"
    "The profile keeps a hash-chained log of sends, receipts, reads, forwards\n"
    "and key changes, each link keyed with the device's local store key.\n"
    "verify checks every link and exits 1 at the first broken one.\n";

static const char status_usage[] =
    "usage: liaison status MSGID [--json]\n"
    "\n"
    "What became of a message this device sent, per recipient organisation\n"
    "and device: queued at the relay, delivered (stored by the device),\n"
    "refused by the device with its reason, trimmed, dropped or expired; and\n"
    "the delivery, read and non-delivery receipts that came back, each signed\n"
    "by the device it names.\n";

static int
one_flag(int argc, char **argv, const char *usage, const char *flag, int *set,
         int want_arg, const char **arg)
{
    *set = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], flag) == 0) {
            *set = 1;
        } else if (want_arg && *arg == NULL && argv[i][0] != '-') {
            *arg = argv[i];
        } else {
            return cli_usage(usage, "unexpected argument `%s`", argv[i]);
        }
    }
    if (want_arg && *arg == NULL)
        return cli_usage(usage, "%s needs an argument", argv[0]);
    return 0;
}

struct init_try {
    const char *dir, *cred;
};

static int
try_init(const char *pass, void *arg)
{
    const struct init_try *t = arg;

    return lsn_profile_init(t->dir, t->cred, pass, lsn_now());
}

int
cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        { "credential", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    const char *cred = NULL;
    char dir[PATH_MAX], prompt[PATH_MAX + 40];
    int c, r, prot = 0;

    if (cli_help(argc, argv, init_usage))
        return 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'c')
            return cli_bad_option(init_usage, argv);
        cred = optarg;
    }
    if (cred == NULL || optind != argc)
        return cli_usage(init_usage, "init needs --credential CRED");
    if ((r = lsn_profile_dir(cli_home, dir, sizeof dir)) != 0)
        return cli_fail(r, 0, "no profile folder");
    if ((r = lsn_secret_is_protected(cred, &prot)) != 0)
        return cli_fail(r, 0, "cannot read credential %s", cred);
    /* Said before the passphrase is asked for, not after. */
    snprintf(prompt, sizeof prompt, "%s/credential", dir);
    if (access(prompt, F_OK) == 0)
        r = LSN_ERR_EXISTS;
    else if (prot) {
        struct init_try t = { dir, cred };
        int read_failed = 0;
        snprintf(prompt, sizeof prompt, "Passphrase for %.200s: ", cred);
        r = cli_pass_tries(prompt, try_init, &t, &read_failed);
        if (read_failed)
            return cli_fail(r, 0, "passphrase");
    } else {
        r = lsn_profile_init(dir, cred, NULL, lsn_now());
    }
    if (r == LSN_ERR_EXISTS) {
        fputs("liaison: profile already exists in ", stderr);
        cli_safe_text(stderr, dir, NULL);
        fputs("; `liaison --home DIR init` sets up another\n", stderr);
        return EXIT_USAGE;
    }
    if (r != 0)
        return cli_fail(r, 0, "cannot set up the profile in %s", dir);
    printf("profile ready in %s\n", dir);
    return 0;
}

int
cmd_orgs(int argc, char **argv)
{
    struct lsn_client *c = NULL;
    struct lsn_roster *ro = NULL;
    char fp[LSN_FP_LEN];
    int json, rc, r;
    const char *none = NULL;

    if (cli_help(argc, argv, orgs_usage))
        return 0;
    if ((rc = one_flag(argc, argv, orgs_usage, "--json", &json, 0, &none)) != 0)
        return rc;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if ((r = lsn_profile_roster(c->p, lsn_now(), &ro)) != 0) {
        rc = cli_fail(r, 0, "no valid roster");
        goto out;
    }
    if (!json)
        printf("coalition `%s`, roster v%llu\n", ro->r->coalition,
               (unsigned long long)ro->r->version);
    for (size_t i = 0; i < ro->r->n_orgs; i++) {
        const Liaison__RosterOrg *o = ro->r->orgs[i];
        struct lsn_bundle *b = NULL;
        long long v = lsn_trust_bundle(c->p->trust, o->id, lsn_now(), &b) == 0
                          ? (long long)b->b->version : 0;
        lsn_bundle_destroy(&b);
        lsn_fingerprint(fp, o->root_key.data, 32);
        if (json) {
            printf("{\"org\":");
            lsn_json_str(stdout, o->id);
            printf(",\"display\":");
            lsn_json_str(stdout, o->display);
            printf(",\"fingerprint\":\"%s\",\"bundle_version\":%lld,\"relay\":", fp, v);
            lsn_json_str(stdout, o->relay);
            printf(",\"self\":%s}\n", strcmp(o->id, c->p->cred->org) == 0 ? "true" : "false");
        } else {
            char vs[24];
            snprintf(vs, sizeof vs, v ? "v%lld" : "-", v);
            printf("%c %-20s %-28s %s  %-5s %s\n",
                   strcmp(o->id, c->p->cred->org) == 0 ? '*' : ' ', o->id,
                   o->display, fp, vs, o->relay);
        }
    }
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
    int rc, r, dummy;

    if (cli_help(argc, argv, bundle_usage))
        return 0;
    if ((rc = one_flag(argc, argv, bundle_usage, "--unused", &dummy, 1, &file)) != 0)
        return rc;
    if ((r = lsn_signed_file_read(file, LSN_TYPE_BUNDLE, &bin, &n)) != 0)
        return cli_fail(r, 0, "cannot read bundle %s", file);
    if ((rc = cli_open(&c)) != 0)
        goto out;
    if ((r = lsn_trust_put_bundle(c->p->trust, bin, n, lsn_now())) != 0) {
        rc = cli_fail(r, 1, "bundle %s refused", file);
        goto out;
    }
    lsn_local_audit(c->p->store, lsn_now(), "key", "bundle imported from a file");
    printf("%s: imported\n", file);
out:
    free(bin);
    lsn_client_close(&c);
    return rc;
}

int
cmd_bundle(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "import") == 0)
        return bundle_import(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(bundle_usage, stdout);
        return 0;
    }
    return cli_usage(bundle_usage, "unknown bundle command");
}

static int
print_audit(void *ctx, const Liaison__AuditEntry *e)
{
    int json = *(int *)ctx;
    char t[21];

    if (json) {
        printf("{\"seq\":%llu,\"at\":%lld,\"event\":", (unsigned long long)e->seq,
               (long long)e->at);
        lsn_json_str(stdout, e->event);
        printf(",\"detail\":");
        lsn_json_str(stdout, e->detail);
        printf("}\n");
    } else {
        char safe[2048];    /* details name orgs a relay supplied */
        printf("%6llu  %s  %-12s %s\n", (unsigned long long)e->seq,
               cli_time(e->at, t), e->event, cli_safe(e->detail, safe, sizeof safe));
    }
    return 0;
}

int
cmd_audit(int argc, char **argv)
{
    struct lsn_client *c = NULL;
    uint64_t n = 0, bad = 0;
    const char *none = NULL;
    int json, rc, r, show;

    if (argc < 2 || (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "show") != 0)) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(audit_usage, stdout);
            return 0;
        }
        return cli_usage(audit_usage, "audit needs verify or show");
    }
    show = strcmp(argv[1], "show") == 0;
    if (cli_help(argc - 1, argv + 1, audit_usage))
        return 0;
    if ((rc = one_flag(argc - 1, argv + 1, audit_usage, "--json", &json, 0, &none)) != 0)
        return rc;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if (show) {
        if ((r = lsn_local_each_audit(c->p->store, print_audit, &json)) != 0)
            rc = cli_fail(r, 0, "audit log");
    } else if ((r = lsn_local_audit_verify(c->p->store, &n, &bad)) != 0) {
        if (json)
            printf("{\"valid\":false,\"entries\":%llu,\"first_bad\":%llu}\n",
                   (unsigned long long)n, (unsigned long long)bad);
        rc = cli_fail(r, 1, "audit log broken at entry %llu", (unsigned long long)bad);
    } else if (json) {
        printf("{\"valid\":true,\"entries\":%llu}\n", (unsigned long long)n);
    } else {
        printf("audit log intact: %llu entries\n", (unsigned long long)n);
    }
    lsn_client_close(&c);
    return rc;
}

struct receipt_ctx {
    int json, n;
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

    if (x->json) {
        printf("%s{\"org\":", x->n ? "," : "");
        lsn_json_str(stdout, org);
        printf(",\"device\":");
        lsn_json_str(stdout, device);
        printf(",\"kind\":\"%s\",\"at\":%lld,\"reads_off\":%s",
               lsn_name_of(lsn_names_receipt, kind), (long long)at,
               reads_off ? "true" : "false");
        if (reason != 0) {
            printf(",\"code\":%d,\"reason\":", reason);
            lsn_json_str(stdout, lsn_strerror(reason));
        }
        printf("}");
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

static void
json_devices(const Liaison__RecipientStatus *p)
{
    printf(",\"device_states\":[");
    for (size_t j = 0; j < p->n_device_states; j++) {
        const Liaison__DeviceStatus *d = p->device_states[j];
        printf("%s{\"device\":", j ? "," : "");
        lsn_json_str(stdout, device_name(d));
        printf(",\"state\":\"%s\"", lsn_name_of(lsn_names_device_state, d->state));
        if (d->state == LIAISON__DEVICE_STATE__DEVICE_REFUSED) {
            printf(",\"code\":%d,\"reason\":", (int)d->reason);
            lsn_json_str(stdout, d->reason < 0 ? lsn_strerror(d->reason)
                                               : "no reason given");
        }
        printf("}");
    }
    printf("]");
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

    if (cli_help(argc, argv, status_usage))
        return 0;
    if ((rc = one_flag(argc, argv, status_usage, "--json", &json, 1, &prefix)) != 0)
        return rc;
    rx.json = json;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if ((r = lsn_local_find_sent(c->p->store, prefix, id)) != 0 ||
        (r = lsn_local_get_sent(c->p->store, id, &sent)) != 0) {
        rc = cli_fail(r, 0, "no sent message %s", prefix);
        goto out;
    }
    cli_hex_id(hex, id);
    if ((r = lsn_client_connect(c)) == 0)
        r = lsn_relay_client_status(c->rc, id, &st);
    relay_err = r;
    if (json) {
        printf("{\"msg_id\":\"%s\",\"submitted\":%s,\"ack\":\"%s\",",
               hex, sent->submitted ? "true" : "false",
               lsn_name_of(lsn_names_ack, sent->ack));
        if (!sent->submitted && sent->refused == 0 && sent->waiting != 0)
            printf("\"waiting\":\"%s\",\"retry_at\":%lld,", waiting_what(sent),
                   (long long)sent->retry_at);
        printf("\"relay\":");
        if (st == NULL) {
            printf("{\"reachable\":false,\"error\":");
            lsn_json_str(stdout, lsn_strerror(relay_err));
            printf("}");
        } else {
            printf("{\"reachable\":true,\"known\":%s,\"recipients\":[",
                   st->known ? "true" : "false");
            for (size_t i = 0; i < st->n_recipients; i++) {
                const Liaison__RecipientStatus *p = st->recipients[i];
                printf("%s{\"org\":", i ? "," : "");
                lsn_json_str(stdout, p->org);
                printf(",\"state\":\"%s\",\"devices\":%u,\"delivered\":%u,"
                       "\"refused\":%u,\"trimmed\":%u,\"dropped\":%u,\"expired\":%s,"
                       "\"relay\":", recipient_state(p), p->devices, p->delivered,
                       p->refused, p->trimmed, p->dropped,
                       p->expired ? "true" : "false");
                lsn_json_str(stdout, p->relay);
                printf(",\"forwarded\":%s,\"relay_answered\":%s",
                       p->forwarded ? "true" : "false",
                       p->relay_answered ? "true" : "false");
                json_devices(p);
                printf("}");
            }
            printf("]}");
        }
        printf(",\"receipts\":[");
        lsn_local_each_receipt_reason(c->p->store, id, print_receipt, &rx);
        printf("]}\n");
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
out:
    lsn_pb_free((ProtobufCMessage *)st);
    lsn_pb_free((ProtobufCMessage *)sent);
    lsn_client_close(&c);
    return rc;
}
