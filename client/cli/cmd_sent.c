/* cmd_sent.c: `liaison sent` (and `liaison status` without an id): the
 * messages this device sent, newest first, each with its state per
 * recipient org as the local store knows it (the relay's acceptance or
 * refusal, the receipts that came back), and with --refresh as the relay
 * tells it. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/cli.h"
#include "client/names.h"
#include "keys/json.h"
#include "keys/util.h"
#include "proto/err.h"

const char sent_usage[] =
    "usage: liaison sent [--json] [--limit N] [--since DATE] [--refresh]\n"
    "       liaison status [--json]            (the same, without MSGID)\n"
    "\n"
    "Lists the messages this device sent, newest first, under a row of column\n"
    "names: id, time, priority, TLP and title; then, for each recipient org,\n"
    "`to ORG:` and its state as this device knows it, without the network:\n"
    "\n"
    "  stored here    the home relay has not accepted it yet (it could not be\n"
    "                 reached): the next send, fetch or watch resends it\n"
    "  waiting        the relay refused it for a full quota: resent with\n"
    "                 back-off until it expires\n"
    "  refused        the home relay refused it for good (why): never resent\n"
    "  expired        it expired before the relay accepted it\n"
    "  sealed         written to a file by `liaison seal`, no relay involved\n"
    "  at the relay   the home relay stored it; no receipt from that org yet\n"
    "  delivered, read, refused by DEVICE\n"
    "                 the signed receipts that org's devices sent back (only\n"
    "                 when asked for with --ack; fetch and watch record them)\n"
    "\n"
    "Receipts this device sent are not listed.  Urgent messages are bold and\n"
    "TLP:RED ones red on a colour terminal (never with NO_COLOR set, output\n"
    "piped, or --json).\n"
    "\n"
    "  --refresh      also ask the home relay about each message it accepted\n"
    "                 (one request each; `liaison status MSGID` tells more)\n"
    "  --limit N      only the N newest\n"
    "  --since DATE   only those sent at or after DATE (YYYY-MM-DD or\n"
    "                 YYYY-MM-DDTHH:MM:SSZ, UTC)\n"
    "  --json         one JSON object per message (docs/json.md)\n"
    "\n"
    "Exit status: 0 success (a relay that does not answer --refresh is\n"
    "noted, not an error), 2 usage or input error.\n";

const struct option sent_opts[] = {
    { "json", no_argument, NULL, 'j' },
    { "limit", required_argument, NULL, 'n' },
    { "since", required_argument, NULL, 's' },
    { "refresh", no_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
};

#define LIMIT_MAX 1000000L

/* One listed message: found by the scan, printed in time order. */
struct item {
    uint8_t id[16];
    int64_t created;
    struct lsn_sent_summary sum;
    int err;                    /* why the summary did not open, or 0 */
};

struct listing {
    struct lsn_client *c;
    int64_t since;
    struct item *v;
    size_t n, cap;
};

/* One receipt recorded against the message being printed. */
struct rcpt {
    char org[LSN_ENV_ORG_MAX + 1];
    char device[LSN_ENV_DEVICE_MAX + 1];
    int kind, reads_off, reason;
    int64_t at;
};

struct rcpts {
    struct rcpt *v;
    size_t n, cap;
};

static int
collect(void *ctx, const uint8_t id[16], const Liaison__StoredSent *rec)
{
    struct listing *l = ctx;
    struct item *it, *v;

    if (rec->created < l->since)
        return 0;
    if ((v = lsn_grow(l->v, &l->cap, l->n, sizeof *v, 64)) == NULL)
        return LSN_ERR_NOMEM;
    l->v = v;
    it = &l->v[l->n];
    memcpy(it->id, id, 16);
    it->created = rec->created;
    /* A summary that does not open is shown as not kept, with why: one
     * damaged record does not hide the others. */
    it->err = lsn_client_sent_summary(l->c, id, rec, &it->sum);
    if (it->err == LSN_ERR_NOMEM)
        return it->err;
    lsn_set_detail("%s", "");
    /* Receipts are bookkeeping, as in the inbox. */
    if (it->sum.known && it->sum.type == LIAISON__ALERT_TYPE__ALERT_TYPE_RECEIPT)
        return 0;
    l->n++;
    return 0;
}

/* Newest first: by the signed creation second, then by when it was
 * sealed within it; then in id order, so the listing is stable. */
static int
newest_first(const void *a, const void *b)
{
    const struct item *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? 1 : -1;
    if (x->sum.sealed_us != y->sum.sealed_us)
        return x->sum.sealed_us < y->sum.sealed_us ? 1 : -1;
    return memcmp(x->id, y->id, 16);
}

static int
collect_receipt(void *ctx, const char *org, const char *device, int kind, int64_t at,
                int reads_off, int reason)
{
    struct rcpts *x = ctx;
    struct rcpt *p, *v;

    if ((v = lsn_grow(x->v, &x->cap, x->n, sizeof *v, 8)) == NULL)
        return LSN_ERR_NOMEM;
    x->v = v;
    p = &x->v[x->n++];
    snprintf(p->org, sizeof p->org, "%s", org);
    snprintf(p->device, sizeof p->device, "%s", device);
    p->kind = kind;
    p->at = at;
    p->reads_off = reads_off;
    /* A refusal always has a reason; nothing else has one. */
    p->reason = kind != LIAISON__RECEIPT_KIND__RECEIPT_REFUSED ? 0
                : reason < 0 ? reason : LSN_ERR_INVALID;
    return 0;
}

/* The message's own state: what the home relay did with it, as recorded
 * here.  JSON words; text says more. */
static const char *
message_state(const Liaison__StoredSent *rec, const struct lsn_sent_summary *sum,
              int64_t now)
{
    if (sum->sealed_only)
        return "sealed";
    if (rec->submitted)
        return "accepted";
    if (rec->refused != 0)
        return "refused";
    if (rec->expires <= now)
        return "expired";
    return rec->waiting != 0 ? "waiting" : "stored";
}

/* A recipient org's state: the message's until the relay accepted it,
 * then the strongest receipt from the org (read, delivered, refused). */
static const char *
org_state(const char *msg_state, const struct rcpts *rx, const char *org)
{
    int best = 0;

    if (strcmp(msg_state, "accepted") != 0)
        return msg_state;
    for (size_t i = 0; i < rx->n; i++) {
        const struct rcpt *p = &rx->v[i];
        int rank = p->kind == LIAISON__RECEIPT_KIND__RECEIPT_READ ? 3
                   : p->kind == LIAISON__RECEIPT_KIND__RECEIPT_DELIVERED ? 2 : 1;
        if (strcmp(p->org, org) == 0 && rank > best)
            best = rank;
    }
    return best == 3 ? "read" : best == 2 ? "delivered" : best == 1 ? "refused"
                                                                     : "accepted";
}

/* The relay's status entry for org, or NULL. */
static const Liaison__RecipientStatus *
relay_entry(const Liaison__StatusReply *st, const char *org)
{
    for (size_t i = 0; st != NULL && i < st->n_recipients; i++)
        if (strcmp(st->recipients[i]->org, org) == 0)
            return st->recipients[i];
    return NULL;
}

/* ------------------------------------------------------------ text */

#define SENT_LINE "%-12s  %-20s  %-8s %-16s "

static void
print_header(void)
{
    printf(SENT_LINE "%s\n", "ID", "SENT", "PRIORITY", "TLP", "TITLE");
}

static void
print_legend(int refreshed)
{
    printf("(under each message, its recipient orgs as known here from the relay's "
           "answers and receipts%s; `liaison status ID` tells more)\n",
           refreshed ? "; after `relay:`, what the relay says now" : "");
}

/* What the org's devices said, from their receipts: "read by analyst at
 * T; refused by engine: REASON at T". */
static void
print_receipts(const struct rcpts *rx, const char *org)
{
    char t[21], dev[4 * LSN_ENV_DEVICE_MAX + 1];
    int first = 1;

    for (size_t i = 0; i < rx->n; i++) {
        const struct rcpt *p = &rx->v[i];
        if (strcmp(p->org, org) != 0)
            continue;
        cli_safe(p->device, dev, sizeof dev);
        fputs(first ? "" : "; ", stdout);
        first = 0;
        if (p->kind == LIAISON__RECEIPT_KIND__RECEIPT_REFUSED)
            printf("refused by %s: %s at %s", dev, lsn_strerror(p->reason),
                   cli_time(p->at, t));
        else if (p->kind == LIAISON__RECEIPT_KIND__RECEIPT_READ)
            printf("read by %s at %s", dev, cli_time(p->at, t));
        else
            printf("delivered to %s at %s%s", dev, cli_time(p->at, t),
                   p->reads_off ? " (it sends no read receipts)" : "");
    }
}

/* One recipient org's line.  st: the relay's status (NULL if not asked
 * or it failed with err). */
static void
print_org_text(const Liaison__StoredSent *rec, const char *msg_state,
               const struct rcpts *rx, const char *org, const Liaison__StatusReply *st,
               int err)
{
    const char *state = org_state(msg_state, rx, org);
    const Liaison__RecipientStatus *p;
    char t[21], safe[4 * LSN_ENV_ORG_MAX + 1];

    printf("    to %s: ", cli_safe(org, safe, sizeof safe));
    if (strcmp(state, "stored") == 0)
        fputs("stored here, not yet accepted by the home relay; the next send, "
              "fetch or watch resends it", stdout);
    else if (strcmp(state, "waiting") == 0)
        printf("stored here, waiting for room at the home relay (%s); resent "
               "from %s on until it expires", cli_waiting_what(rec),
               cli_time(rec->retry_at, t));
    else if (strcmp(msg_state, "refused") == 0)
        printf("refused by the home relay: %s; never resent", lsn_strerror(rec->refused));
    else if (strcmp(state, "expired") == 0)
        fputs("expired before the home relay accepted it", stdout);
    else if (strcmp(state, "sealed") == 0)
        fputs("sealed into a file by `liaison seal`, no relay involved", stdout);
    else if (strcmp(state, "accepted") == 0)
        printf("at the home relay, no receipt yet%s",
               rec->ack == LIAISON__ACK_REQUEST__ACK_NONE ? " (none asked for)" : "");
    else
        print_receipts(rx, org);
    if (err != 0)
        printf("; relay: no answer (%s)", lsn_strerror(err));
    else if (st != NULL && !st->known)
        fputs("; relay: no longer holds it (every device took it, or it expired)", stdout);
    else if ((p = relay_entry(st, org)) != NULL)
        printf("; relay: %s, delivered to %u of %u device(s)%s",
               cli_recipient_state(p), p->delivered, p->devices,
               p->refused ? ", some refused it" : "");
    fputc('\n', stdout);
}

static void
print_text(const uint8_t id[16], const Liaison__StoredSent *rec,
           const struct lsn_sent_summary *sum, int sum_err, const struct rcpts *rx,
           const Liaison__StatusReply *st, int err, int64_t now)
{
    const char *state = message_state(rec, sum, now);
    const char *mark = sum->known ? cli_mark(sum->priority, sum->tlp) : "";
    char hex[33], t[21], tlp[24];

    cli_hex_id(hex, id);
    hex[12] = '\0';
    snprintf(tlp, sizeof tlp, "TLP:%s", lsn_name_of(lsn_names_tlp, sum->tlp));
    printf("%s" SENT_LINE, mark, hex, cli_time(rec->created, t),
           sum->known ? lsn_name_of(lsn_names_priority, sum->priority) : "-",
           sum->known ? tlp : "-");
    if (sum->known)
        cli_safe_text(stdout, sum->title, NULL);
    else if (sum_err != 0)
        printf("(title not shown: %s)", lsn_strerror(sum_err));
    else
        fputs("(title not kept for this message)", stdout);
    printf("%s\n", mark[0] ? CLI_SGR_OFF : "");
    for (size_t i = 0; i < rec->n_recipients; i++)
        print_org_text(rec, state, rx, rec->recipients[i], st, err);
}

/* ------------------------------------------------------------ JSON */

static json_t *
json_receipts(const struct rcpts *rx, const char *org)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < rx->n; i++) {
        const struct rcpt *p = &rx->v[i];
        json_t *o;
        if (strcmp(p->org, org) != 0)
            continue;
        o = json_pack("{s:o, s:s, s:I, s:b}", "device", lsn_json_text(p->device),
                      "kind", lsn_name_of(lsn_names_receipt, p->kind),
                      "at", (json_int_t)p->at, "reads_off", p->reads_off);
        if (o != NULL && p->reason != 0) {
            json_object_set_new(o, "code", json_integer(p->reason));
            json_object_set_new(o, "reason", json_string(lsn_strerror(p->reason)));
        }
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *
json_summary_text(const struct lsn_sent_summary *sum, const struct lsn_name *t, int v)
{
    return sum->known ? json_string(lsn_name_of(t, v)) : json_null();
}

static void
print_json(const uint8_t id[16], const Liaison__StoredSent *rec,
           const struct lsn_sent_summary *sum, int sum_err, const struct rcpts *rx,
           const Liaison__StatusReply *st, int err, int64_t now)
{
    const char *state = message_state(rec, sum, now);
    json_t *o, *to = json_array();
    char hex[33];

    cli_hex_id(hex, id);
    o = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:s, s:s}", "msg_id", hex,
                  "created", (json_int_t)rec->created, "expires", (json_int_t)rec->expires,
                  "type", json_summary_text(sum, lsn_names_type, sum->type),
                  "title", sum->known ? lsn_json_text(sum->title) : json_null(),
                  "tlp", json_summary_text(sum, lsn_names_tlp, sum->tlp),
                  "priority", json_summary_text(sum, lsn_names_priority, sum->priority),
                  "ack", lsn_name_of(lsn_names_ack, rec->ack), "state", state);
    if (o == NULL || to == NULL) {
        json_decref(o);
        json_decref(to);
        lsn_json_print(stdout, NULL);
        return;
    }
    if (sum_err != 0)
        json_object_set_new(o, "summary_error", json_string(lsn_strerror(sum_err)));
    if (strcmp(state, "waiting") == 0) {
        json_object_set_new(o, "waiting", json_string(cli_waiting_what(rec)));
        json_object_set_new(o, "retry_at", json_integer(rec->retry_at));
    } else if (strcmp(state, "refused") == 0) {
        json_object_set_new(o, "code", json_integer(rec->refused));
        json_object_set_new(o, "reason", json_string(lsn_strerror(rec->refused)));
    }
    for (size_t i = 0; i < rec->n_recipients; i++) {
        const char *org = rec->recipients[i];
        const Liaison__RecipientStatus *p = relay_entry(st, org);
        json_t *e = json_pack("{s:o, s:s, s:o}", "org", lsn_json_text(org),
                              "state", org_state(state, rx, org),
                              "receipts", json_receipts(rx, org));
        if (e != NULL && p != NULL)
            json_object_set_new(e, "relay", json_pack("{s:s, s:I, s:I, s:I}",
                "state", cli_recipient_state(p), "devices", (json_int_t)p->devices,
                "delivered", (json_int_t)p->delivered, "refused", (json_int_t)p->refused));
        json_array_append_new(to, e);
    }
    json_object_set_new(o, "to", to);
    if (err != 0)
        json_object_set_new(o, "relay", json_pack("{s:b, s:s}", "reachable",
            lsn_cli_exit_for(err, 0) != LSN_EXIT_UNREACHABLE, "error", lsn_strerror(err)));
    else if (st != NULL)
        json_object_set_new(o, "relay", json_pack("{s:b, s:b}", "reachable", 1,
                                                  "known", st->known));
    lsn_json_print(stdout, o);
}

/* ------------------------------------------------------------ command */

struct opts {
    int json, refresh;
    long limit;
    int64_t since;
};

static int
parse(int argc, char **argv, struct opts *o)
{
    char *end;
    int c;

    memset(o, 0, sizeof *o);
    while ((c = lsn_cli_next(argc, argv)) != -1) {
        switch (c) {
        case 'j': o->json = 1; break;
        case 'r': o->refresh = 1; break;
        case 'n':
            o->limit = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || o->limit < 1 || o->limit > LIMIT_MAX)
                return lsn_cli_usage("--limit must be a number from 1 to %ld, not `%.64s`",
                                     LIMIT_MAX, optarg);
            break;
        case 's':
            if (cli_parse_date(optarg, &o->since) != 0)
                return lsn_cli_usage("--since must be a date like 2026-12-06 or "
                                     "2026-12-06T08:00:00Z (UTC), not `%.64s`", optarg);
            break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    return lsn_cli_args(argc, argv, 0, "nothing", NULL);
}

/* Prints one listed message: its record and receipts from the store,
 * and with --refresh the relay's status of it.  *down: the error of a
 * relay that did not answer (then it is not asked again). */
static int
show(struct lsn_client *c, const struct opts *o, const struct item *it, int *down,
     int64_t now)
{
    Liaison__StoredSent *rec = NULL;
    Liaison__StatusReply *st = NULL;
    struct rcpts rx = { NULL, 0, 0 };
    int r, err = 0;

    if ((r = lsn_local_get_sent(c->p->store, it->id, &rec)) != 0 ||
        (r = lsn_local_each_receipt_reason(c->p->store, it->id, collect_receipt, &rx)) != 0)
        goto out;
    /* Only what the relay accepted is there to ask about. */
    if (o->refresh && rec->submitted && !it->sum.sealed_only) {
        if ((err = *down) == 0 && (err = lsn_client_connect(c)) == 0)
            err = lsn_relay_client_status(c->rc, it->id, &st);
        if (err != 0 && lsn_cli_exit_for(err, 0) == LSN_EXIT_UNREACHABLE)
            *down = err;            /* its detail stays for the closing line */
        else
            lsn_set_detail("%s", "");
    }
    if (o->json)
        print_json(it->id, rec, &it->sum, it->err, &rx, st, err, now);
    else
        print_text(it->id, rec, &it->sum, it->err, &rx, st, err, now);
out:
    free(rx.v);
    lsn_pb_free((ProtobufCMessage *)st);
    lsn_pb_free((ProtobufCMessage *)rec);
    return r;
}

int
cmd_sent(int argc, char **argv)
{
    struct listing l = { NULL, 0, NULL, 0, 0 };
    struct lsn_client *c = NULL;
    struct opts o;
    int64_t now = lsn_now();
    size_t n;
    int rc, r, down = 0;

    if ((rc = parse(argc, argv, &o)) != 0)
        return rc;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    l.c = c;
    l.since = o.since;
    if ((r = lsn_local_each_sent(c->p->store, collect, &l)) != 0) {
        rc = lsn_cli_fail(r, "cannot list the sent messages");
        goto out;
    }
    if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, newest_first);
    n = o.limit > 0 && (size_t)o.limit < l.n ? (size_t)o.limit : l.n;
    if (n == 0 && !o.json)
        fprintf(stderr, "no sent messages%s\n", o.since ? " since then" : "");
    if (n > 0 && !o.json)
        print_header();
    for (size_t i = 0; i < n; i++)
        if ((r = show(c, &o, &l.v[i], &down, now)) != 0) {
            rc = lsn_cli_fail(r, "cannot show a sent message");
            goto out;
        }
    if (n > 0 && !o.json)
        print_legend(o.refresh);
    if (down != 0)
        (void)lsn_cli_fail_as(0, down, "the relay did not answer; the states "
                              "above are as known here");
out:
    free(l.v);
    lsn_client_close(&c);
    return rc;
}
