/* cmd_send.c: `send`, `reply`, `seal` and `forward`: building an alert
 * from options, sealing it into the store, and handing it to the relay. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "client/alert.h"
#include "client/cli/cli.h"
#include "client/names.h"
#include "keys/json.h"
#include "keys/progress.h"
#include "keys/signed.h"
#include "keys/util.h"
#include "proto/err.h"

#define MAX_INDICATORS 1024
#define MAX_ATTACH 32

const char send_usage[] =
    "usage: liaison send --to ORG|circle:NAME[,...] --title TEXT [options]\n"
    "       liaison reply MSGID [options]          (to the sender's org; type response;\n"
    "                                               title \"Re: \" and the original's)\n"
    "       liaison update MSGID --title TEXT [options]   (a new version of a sent\n"
    "                                              message, to its orgs; type update)\n"
    "       liaison seal --to ORG|circle:NAME[,...] --title TEXT --out FILE [options]\n"
    "       liaison forward MSGID --to ORG[,ORG...] [--json]\n"
    "\n"
    "Seals an alert so that only the named organisations can read it, signs it\n"
    "with this device's key, stores it, and submits it to the home relay (seal\n"
    "writes it to FILE instead, for carrying by other means).  The body comes\n"
    "from --body-file FILE (- for stdin), or from stdin when stdin is not a\n"
    "terminal.\n"
    "\n"
    "  --to ORG[,ORG...]        recipient organisations (see `liaison orgs`);\n"
    "                           circle:NAME stands for that circle's members\n"
    "  --title TEXT             one line, at most 256 bytes\n"
    "  --body-file FILE|-       the body text\n"
    "  --tlp clear|green|amber|amber+strict|red     TLP 2.0 marking (amber)\n"
    "  --priority routine|priority|urgent           (routine)\n"
    "  --type alert|notice|request|response         (alert)\n"
    "  --case REF               your case reference\n"
    "  --pap clear|green|amber|red                  permissible actions\n"
    "  --handling H0|H1|H2|H3:TEXT                  Europol handling code\n"
    "  --grade A1               source/information grading (Admiralty A-F/1-6;\n"
    "                           europol:B2 for the Europol 4x4 system)\n"
    "  --indicator TYPE=VALUE   an indicator with a MISP type, e.g. ip-dst=192.0.2.1\n"
    "                           (repeatable)\n"
    "  --attach FILE            attach a file (repeatable; all within 8 MiB)\n"
    "  --expires DURATION       7d (default), 12h, 30m ...; at most 30d\n"
    "  --ack none|delivery|read ask for receipts (none)\n"
    "  --reply-to MSGID         this answers a received message\n"
    "  --idempotency-key KEY    the message id derives from KEY: a retried\n"
    "                           automated push is delivered once (a retry\n"
    "                           after success says already-sent; the same\n"
    "                           KEY with another alert or --to is refused)\n"
    "  --json                   print the result as one JSON object\n"
    "\n"
    "The words of --tlp, --pap, --priority, --type and --ack may be written in\n"
    "any case, --tlp and --pap with their label: TLP:AMBER+STRICT, PAP:GREEN.\n"
    "\n"
    "A send is stored before it is submitted; when the relay cannot be reached\n"
    "(exit 3), run the same command again or `liaison fetch`: the stored bytes\n"
    "are resent, never sealed twice (a send of the same alert to the same orgs\n"
    "while an earlier one is stored unsent resends that one, under its\n"
    "msg_id).  A send refused for a full quota (exit 4) stays stored too and\n"
    "is resent with back-off until it expires.  TLP on forward: RED never leaves its\n"
    "named recipients; AMBER and AMBER+STRICT stay within your organisation;\n"
    "GREEN may go to any coalition member, or for an alert sent to circles to\n"
    "their members only; CLEAR may go to any coalition member.\n"
    "\n"
    "On a terminal, waits on the relay are shown on stderr (connecting to\n"
    "RELAY..., resending N stored messages...), never with --json.  Ctrl-C\n"
    "(or SIGTERM) stops at the next step and says either that nothing was\n"
    "sealed (nothing stored or sent) or that the alert is stored as MSGID\n"
    "and is resent by the next send, fetch or watch: nothing else to do.\n"
    "\n"
    "Exit status: 0 sent, 1 delivery failed, 2 usage or input error,\n"
    "3 relay unreachable (the message is stored: retry), 4 refused by a limit\n"
    "(quota, size, TLP rule), 130 interrupted by Ctrl-C (143 by SIGTERM).\n";

/* The alert's options, which send, reply and seal share (O_ALERT); parse
 * reads any of them into struct send_opts. */
#define O_ALERT \
    { "to", required_argument, NULL, 't' }, \
    { "title", required_argument, NULL, 'T' }, \
    { "body-file", required_argument, NULL, 'b' }, \
    { "tlp", required_argument, NULL, 'l' }, \
    { "priority", required_argument, NULL, 'p' }, \
    { "type", required_argument, NULL, 'y' }, \
    { "case", required_argument, NULL, 'c' }, \
    { "pap", required_argument, NULL, 'P' }, \
    { "handling", required_argument, NULL, 'H' }, \
    { "grade", required_argument, NULL, 'g' }, \
    { "indicator", required_argument, NULL, 'i' }, \
    { "attach", required_argument, NULL, 'a' }, \
    { "expires", required_argument, NULL, 'e' }, \
    { "ack", required_argument, NULL, 'k' }, \
    { "idempotency-key", required_argument, NULL, 'I' }, \
    { "json", no_argument, NULL, 'j' }
#define O_REPLY_TO { "reply-to", required_argument, NULL, 'r' }
#define O_END { NULL, 0, NULL, 0 }

const struct option send_opts[] = { O_ALERT, O_REPLY_TO, O_END };
const struct option reply_opts[] = { O_ALERT, O_END };      /* MSGID is the reply-to */
const struct option update_opts[] = { O_ALERT, O_END };     /* MSGID is superseded */
const struct option seal_opts[] = {
    O_ALERT, O_REPLY_TO, { "out", required_argument, NULL, 'o' }, O_END,
};
const struct option forward_opts[] = {
    { "to", required_argument, NULL, 't' }, { "json", no_argument, NULL, 'j' }, O_END,
};

struct send_opts {
    const char *to, *title, *body_file, *out, *reply_to, *idem, *case_ref;
    const char *handling, *grade;
    int tlp, priority, type, pap, ack, json, type_set;
    int64_t ttl;
    const char *indicators[MAX_INDICATORS];
    size_t n_indicators;
    const char *attach[MAX_ATTACH];
    size_t n_attach;
    const char *arg;           /* MSGID for reply / forward */
};

/* An Alert under construction and the memory behind it. */
struct built {
    Liaison__Alert a;
    Liaison__Grading grading;
    Liaison__MessageRef reply;
    Liaison__Indicator ind[MAX_INDICATORS], *indp[MAX_INDICATORS];
    Liaison__Attachment att[MAX_ATTACH], *attp[MAX_ATTACH];
    uint8_t sha[MAX_ATTACH][32];
    uint8_t *files[MAX_ATTACH];
    char *body;
    char handling_text[600];
    char grade_src[2], grade_info[2];
    char ind_type[MAX_INDICATORS][LSN_INDICATOR_TYPE_BUF];
};

static void
built_free(struct built *b)
{
    for (size_t i = 0; i < MAX_ATTACH; i++)
        free(b->files[i]);
    free(b->body);
    free(b);
}

/* v without a leading "TLP:" or "PAP:" (any case), as the labels are
 * written on documents: `--tlp TLP:AMBER+STRICT` is `--tlp amber+strict`. */
static const char *
label(const char *v, const char *prefix)
{
    return strncasecmp(v, prefix, strlen(prefix)) == 0 ? v + strlen(prefix) : v;
}

static int
enum_opt(const struct lsn_name *t, const char *what, const char *v, int *out)
{
    char list[128];

    if (lsn_name_parse(t, v, out) == 0)
        return 0;
    return lsn_cli_usage("%s must be %s, not `%s`", what,
                         lsn_name_list(t, list, sizeof list), v);
}

static int
parse(int argc, char **argv, struct send_opts *o, int want_arg)
{
    int c, rc;

    memset(o, 0, sizeof *o);
    o->tlp = LIAISON__TLP__TLP_AMBER;
    o->type = LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT;
    o->ttl = LSN_DEFAULT_TTL;
    while ((c = lsn_cli_next(argc, argv)) != -1) {
        rc = 0;
        switch (c) {
        case 't': o->to = optarg; break;
        case 'T': o->title = optarg; break;
        case 'b': o->body_file = optarg; break;
        case 'l': rc = enum_opt(lsn_names_tlp, "--tlp", label(optarg, "tlp:"), &o->tlp); break;
        case 'p': rc = enum_opt(lsn_names_priority, "--priority", optarg, &o->priority); break;
        case 'y':
            rc = enum_opt(lsn_names_type, "--type", optarg, &o->type);
            o->type_set = 1;
            break;
        case 'c': o->case_ref = optarg; break;
        case 'P': rc = enum_opt(lsn_names_pap, "--pap", label(optarg, "pap:"), &o->pap); break;
        case 'H': o->handling = optarg; break;
        case 'g': o->grade = optarg; break;
        case 'i':
            if (o->n_indicators == MAX_INDICATORS)
                return lsn_cli_usage("too many --indicator");
            o->indicators[o->n_indicators++] = optarg;
            break;
        case 'a':
            if (o->n_attach == MAX_ATTACH)
                return lsn_cli_usage("at most %d --attach", MAX_ATTACH);
            o->attach[o->n_attach++] = optarg;
            break;
        case 'e':
            if (lsn_duration_parse(optarg, &o->ttl) != 0 || o->ttl > LSN_MAX_TTL)
                return lsn_cli_usage("--expires must be a duration up to "
                                     "30d (like 7d, 12h, 30m), not `%s`", optarg);
            break;
        case 'k': rc = enum_opt(lsn_names_ack, "--ack", optarg, &o->ack); break;
        case 'r': o->reply_to = optarg; break;
        case 'I': o->idem = optarg; break;
        case 'o': o->out = optarg; break;
        case 'j': o->json = 1; break;
        default: return lsn_cli_usage("unknown option");
        }
        if (rc != 0)
            return rc;
    }
    if (want_arg) {
        if (optind != argc - 1)
            return lsn_cli_usage("%s needs one MSGID", argv[0]);
        o->arg = argv[optind];
    } else if (optind != argc) {
        return lsn_cli_usage("unexpected argument `%s`", argv[optind]);
    }
    return 0;
}

static int
read_body(const char *file, char **out)
{
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int r;

    *out = NULL;
    if (file != NULL && strcmp(file, "-") != 0) {
        if ((r = lsn_file_read(file, LSN_ALERT_BODY_MAX, &buf, &n)) != 0)
            return r;
        *out = (char *)buf;
        return 0;
    }
    for (;;) {
        if (n == cap) {
            void *p;
            if (cap >= LSN_ALERT_BODY_MAX + 1)
                break;
            cap = cap ? cap * 2 : 4096;
            if ((p = realloc(buf, cap + 1)) == NULL) {
                free(buf);
                return LSN_ERR_NOMEM;
            }
            buf = p;
        }
        ssize_t k = read(0, buf + n, cap - n);
        if (k < 0 && errno == EINTR && !lsn_interrupted())
            continue;
        if (k < 0) {
            free(buf);
            return lsn_interrupted() ? LSN_ERR_INTERRUPTED : LSN_ERR_IO;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    if (n > LSN_ALERT_BODY_MAX) {
        free(buf);
        lsn_set_detail("the body is over %u bytes", LSN_ALERT_BODY_MAX);
        return LSN_ERR_TOO_LARGE;
    }
    if (buf == NULL && (buf = malloc(1)) == NULL)
        return LSN_ERR_NOMEM;
    buf[n] = '\0';
    *out = (char *)buf;
    return 0;
}

static int
build_handling(struct built *b, const char *h)
{
    const char *text;
    int v;

    if (lsn_handling_parse(h, &v, &text) != 0)
        return lsn_cli_usage("--handling must be H0, H1, H2 or H3:TEXT, not `%s`", h);
    b->a.handling = v;
    snprintf(b->handling_text, sizeof b->handling_text, "%s", text);
    b->a.handling_text = b->handling_text;
    return 0;
}

static int
build_grade(struct built *b, const char *g)
{
    int system;

    if (lsn_grade_parse(g, &system, b->grade_src, b->grade_info) != 0)
        return lsn_cli_usage("--grade must be like A1 or europol:B2, not `%s`", g);
    b->grading.system = system;
    b->grading.source = b->grade_src;
    b->grading.information = b->grade_info;
    b->a.grading = &b->grading;
    return 0;
}

static int
build_attachments(struct built *b, const struct send_opts *o)
{
    for (size_t i = 0; i < o->n_attach; i++) {
        Liaison__Attachment *at = &b->att[i];
        const char *base = strrchr(o->attach[i], '/');
        size_t n = 0;
        int r = lsn_file_read(o->attach[i], LSN_CONTENT_MAX, &b->files[i], &n);

        if (r != 0)
            return lsn_cli_fail(r, "cannot attach %s", o->attach[i]);
        liaison__attachment__init(at);
        at->name = (char *)(base ? base + 1 : o->attach[i]);
        at->media_type = (char *)lsn_alert_media_type_of(at->name);
        crypto_hash_sha256(b->sha[i], b->files[i], n);
        at->sha256 = (ProtobufCBinaryData){ 32, b->sha[i] };
        at->data = (ProtobufCBinaryData){ n, b->files[i] };
        b->attp[i] = at;
    }
    b->a.attachments = b->attp;
    b->a.n_attachments = o->n_attach;
    return 0;
}

static int
build_indicators(struct built *b, const struct send_opts *o)
{
    for (size_t i = 0; i < o->n_indicators; i++) {
        const char *value;
        if (lsn_indicator_parse(o->indicators[i], b->ind_type[i], &value) != 0)
            return lsn_cli_usage("--indicator must be TYPE=VALUE with a MISP "
                                 "attribute type liaison knows (e.g. ip-dst, domain, url, "
                                 "email-src, btc, iban, md5, sha256), not `%s`",
                                 o->indicators[i]);
        liaison__indicator__init(&b->ind[i]);
        b->ind[i].type = b->ind_type[i];
        b->ind[i].value = (char *)value;
        b->indp[i] = &b->ind[i];
    }
    b->a.indicators = b->indp;
    b->a.n_indicators = o->n_indicators;
    return 0;
}

/* Builds the Alert from options, before the profile is opened, so that
 * every usage and input error comes before a passphrase prompt. */
static int
build(const struct send_opts *o, struct built **out)
{
    struct built *b = calloc(1, sizeof *b);
    int rc, r;

    *out = NULL;
    if (b == NULL)
        return lsn_cli_fail(LSN_ERR_NOMEM, "alert");
    liaison__alert__init(&b->a);
    liaison__grading__init(&b->grading);
    liaison__message_ref__init(&b->reply);
    b->a.type = o->type;
    b->a.title = (char *)o->title;
    b->a.tlp = o->tlp;
    b->a.pap = o->pap;
    b->a.priority = o->priority;
    b->a.ack = o->ack;
    b->a.case_ref = (char *)(o->case_ref ? o->case_ref : "");
    if (o->body_file != NULL || !isatty(0)) {
        if ((r = read_body(o->body_file, &b->body)) != 0) {
            rc = lsn_cli_fail(r, "cannot read the body");
            goto fail;
        }
        b->a.body = b->body;
    }
    if ((o->handling && (rc = build_handling(b, o->handling)) != 0) ||
        (o->grade && (rc = build_grade(b, o->grade)) != 0) ||
        (rc = build_indicators(b, o)) != 0 || (rc = build_attachments(b, o)) != 0)
        goto fail;
    if (o->reply_to != NULL) {
        /* A stand-in for the replied-to message, looked up once the
         * profile is open (build_reply), so the rest is checked now. */
        static uint8_t none[16];
        b->reply.org = (char *)"stand-in";
        b->reply.msg_id = (ProtobufCBinaryData){ 16, none };
        b->a.in_reply_to = &b->reply;
    }
    if ((r = lsn_alert_validate(&b->a)) != 0) {
        rc = lsn_cli_fail(r, "the alert is not valid (title 1 to 256 bytes on one "
                          "line, UTF-8 text, H3 needs its text, grading A-F/1-6)");
        goto fail;
    }
    *out = b;
    return 0;
fail:
    built_free(b);
    return rc;
}

/* Points the Alert at the received message it answers (o->reply_to);
 * reply_org gets that message's org. */
static int
build_reply(struct lsn_client *c, const struct send_opts *o, struct built *b,
            char reply_org[LSN_ENV_ORG_MAX + 1])
{
    static uint8_t id[16];
    int r;

    if ((r = lsn_local_find_received(c->p->store, o->reply_to, reply_org, id)) != 0)
        return lsn_cli_fail(r, "no received message %s to reply to", o->reply_to);
    b->reply.org = reply_org;
    b->reply.msg_id = (ProtobufCBinaryData){ 16, id };
    b->a.in_reply_to = &b->reply;
    return 0;
}

static void
print_sent(const struct send_opts *o, const uint8_t id[16], const char *const *to,
           size_t n, const char *state)
{
    char hex[33];

    cli_hex_id(hex, id);
    if (o->json) {
        json_t *orgs = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(orgs, lsn_json_text(to[i]));
        lsn_json_print(stdout, json_pack("{s:s, s:o, s:s}", "msg_id", hex, "to", orgs,
                                         "state", state));
    } else {
        printf("%s %s to", state, hex);
        for (size_t i = 0; i < n; i++)
            printf(" %s", to[i]);
        printf("\n");
    }
}

/* 1 if the sent record of id was handed over before this run sealed it
 * (an idempotency key repeated with the same alert and recipients). */
static int
already_done(struct lsn_client *c, const uint8_t id[16])
{
    Liaison__StoredSent *rec = NULL;
    int done = lsn_local_get_sent(c->p->store, id, &rec) == 0 && rec->submitted;

    lsn_pb_free((ProtobufCMessage *)rec);
    return done;
}

/* Ctrl-C or SIGTERM before this alert was sealed: nothing of it exists. */
static int
stopped_before_seal(void)
{
    return lsn_interrupt_exit("interrupted before sealing: nothing was stored or sent");
}

/* Ctrl-C or SIGTERM once the alert is in the store: the next send, fetch
 * or watch resends its stored bytes (lsn_client_resubmit). */
static int
stopped_after_seal(const uint8_t id[16])
{
    char hex[33];

    cli_hex_id(hex, id);
    return lsn_interrupt_exit("interrupted: the alert is stored as %s and will be "
                              "resent by the next `liaison send`, `fetch` or "
                              "`watch`; nothing else to do", hex);
}

/* Seals (into the store), then submits the stored bytes.  held: the
 * msg_id of this alert to these orgs stored by an earlier run the relay
 * did not take (NULL if none), submitted instead of a new seal. */
static int
seal_and_submit(struct lsn_client *c, const struct send_opts *o,
                const Liaison__Alert *a, const char *const *to, size_t n,
                const uint8_t *held)
{
    uint8_t id[16], *env = NULL;
    size_t len = 0;
    char hex[33];
    int r;

    if (held != NULL) {
        memcpy(id, held, 16);
    } else {
        r = lsn_client_seal(c, a, to, n, lsn_now(), o->ttl, o->idem, id, &env, &len);
        free(env);
        if (r == LSN_ERR_INTERRUPTED)
            return stopped_before_seal();
        if (r != 0)
            return lsn_cli_fail(r, "cannot seal the alert");
        if (already_done(c, id)) {
            print_sent(o, id, to, n, "already-sent");
            return 0;
        }
    }
    /* Between two durable steps: stored, not yet handed over. */
    if (lsn_interrupted())
        return stopped_after_seal(id);
    r = lsn_client_submit(c, id, id);
    if (r == LSN_ERR_INTERRUPTED)
        return stopped_after_seal(id);
    cli_hex_id(hex, id);
    if (r == LSN_ERR_QUOTA) {
        fprintf(stderr, "liaison: message %s is stored and waiting for room at "
                "the relay; it is resent by the next send, fetch or watch "
                "until it expires (`liaison status %s`)\n", hex, hex);
        if (o->json)
            print_sent(o, id, to, n, "waiting");
        return lsn_cli_fail(r, "the relay did not accept message %s yet", hex);
    }
    if (r != 0) {
        if (lsn_cli_exit_for(r, 0) == LSN_EXIT_UNREACHABLE)
            fprintf(stderr, "liaison: message %s is stored; it is resent by the "
                    "next send, fetch or watch\n", hex);
        else
            fprintf(stderr, "liaison: message %s was refused and will not be "
                    "resent\n", hex);
        return lsn_cli_fail(r, "the relay did not accept message %s", hex);
    }
    print_sent(o, id, to, n, "sent");
    return 0;
}

/* A reply's title without --title: "Re: " and the title of the message
 * replied to (by id prefix), unless that already starts with "Re:"; cut
 * to LSN_ALERT_TITLE_MAX bytes on a UTF-8 boundary. */
static int
reply_title(struct lsn_client *c, const char *prefix,
            char title[LSN_ALERT_TITLE_MAX + 1])
{
    struct lsn_message *m = NULL;
    const char *t;
    int r;

    if ((r = lsn_client_read(c, prefix, 0, &m)) != 0)
        return r;
    t = m->o->alert->title;
    snprintf(title, LSN_ALERT_TITLE_MAX + 1, "%s%s",
             strncasecmp(t, "re:", 3) == 0 ? "" : "Re: ", t);
    for (size_t k = strlen(title); k > 0 && lsn_utf8_check(title, k) != 0; k--)
        title[k - 1] = '\0';
    lsn_message_free(&m);
    return 0;
}

/* Each circle:NAME of to[0..*n) replaced by its members; the alert gets
 * the circles it is sent to.  *x owns the list (x->to, *n orgs). */
static int
address(struct lsn_client *c, Liaison__Alert *a, const char *const *to, size_t *n,
        struct lsn_addressed **x)
{
    int r;

    if ((r = lsn_client_address(c, to, *n, lsn_now(), x)) != 0)
        return lsn_cli_fail(r, "--to");
    a->circles = (*x)->circlep;
    a->n_circles = (*x)->n_circles;
    *n = (*x)->n;
    return 0;
}

/* `update`: the new version supersedes the sent message prefix (its
 * recipients unless --to names others); u holds what the alert and to[]
 * point into (the caller frees it). */
static int
build_update(struct lsn_client *c, const char *prefix, struct built *b,
             const char **to, size_t *n, struct lsn_update *u)
{
    int r;

    if ((r = lsn_client_update_prepare(c, prefix, &b->a, to, n, u)) != 0)
        return lsn_cli_fail(r, "cannot update %s", prefix);
    return 0;
}

static int
run_send(int argc, char **argv, int reply)
{
    struct lsn_update upd = { .sent = NULL };
    struct send_opts o;
    struct lsn_client *c = NULL;
    struct built *b = NULL;
    struct lsn_addressed *x = NULL;
    const char *to[LSN_MAX_RECIPIENTS], *const *dest = to;
    char *orgs = NULL, reply_org[LSN_ENV_ORG_MAX + 1] = "";
    char title[LSN_ALERT_TITLE_MAX + 1];
    uint8_t held[16];
    size_t n = 0, pending = 0;
    int rc, r, default_title;

    if ((rc = parse(argc, argv, &o, reply)) != 0)
        return rc;
    if (reply == 2) {
        /* Built as an alert, then made the update of o.arg (build checks
         * the alert before it names what it supersedes). */
        if (!o.type_set || o.type == LIAISON__ALERT_TYPE__ALERT_TYPE_UPDATE) {
            o.type = LIAISON__ALERT_TYPE__ALERT_TYPE_ALERT;
            o.type_set = 0;
        }
        if (o.title == NULL)
            return lsn_cli_usage("update needs --title");
    } else if (reply) {
        o.reply_to = o.arg;
        if (!o.type_set)
            o.type = LIAISON__ALERT_TYPE__ALERT_TYPE_RESPONSE;
    } else if (o.to == NULL || o.title == NULL) {
        return lsn_cli_usage("send needs --to and --title");
    }
    if (o.to != NULL && (r = cli_split_orgs(o.to, &orgs, to, LSN_MAX_RECIPIENTS, &n)) != 0) {
        free(orgs);
        return lsn_cli_fail(r, "--to");
    }
    /* A reply without --title is checked with a stand-in title and given
     * "Re: " and the original's once the profile is open. */
    default_title = reply == 1 && o.title == NULL;
    if (default_title)
        o.title = "Re:";
    if ((rc = build(&o, &b)) != 0)
        goto out;
    /* From here Ctrl-C stops at the next step and says what became of
     * the alert (the passphrase prompt included). */
    lsn_progress_init(o.json);
    lsn_interrupt_catch();
    if ((rc = cli_open(&c)) != 0 ||
        (o.reply_to != NULL && (rc = build_reply(c, &o, b, reply_org)) != 0)) {
        if (lsn_interrupted())
            rc = stopped_before_seal();
        goto out;
    }
    if (default_title) {
        if ((r = reply_title(c, o.arg, title)) != 0) {
            rc = lsn_cli_fail(r, "no received message %s to reply to", o.arg);
            goto out;
        }
        o.title = title;
        b->a.title = title;
    }
    if (reply == 2 && (rc = build_update(c, o.arg, b, to, &n, &upd)) != 0)
        goto out;
    if (reply == 1 && n == 0) {
        to[0] = reply_org;
        n = 1;
    }
    if ((rc = address(c, &b->a, to, &n, &x)) != 0) {
        if (lsn_interrupted())
            rc = stopped_before_seal();
        goto out;
    }
    dest = x->to;
    /* The same alert to the same orgs, stored by a run the relay did not
     * answer (exit 3): this run submits that one, as the first run would
     * have, seals none, and then resends whatever else waits. */
    if (o.idem == NULL && lsn_client_find_unsent(c, &b->a, dest, n, lsn_now(), held) == 0) {
        rc = seal_and_submit(c, &o, &b->a, dest, n, held);
        if (rc == LSN_EXIT_OK && lsn_client_resubmit(c, &pending) == 0 && pending > 0 &&
            !o.json)
            printf("resent %zu other stored message(s)\n", pending);
        goto out;
    }
    /* Anything an earlier run stored but could not hand over goes first. */
    if (lsn_client_resubmit(c, &pending) == 0 && pending > 0 && !o.json)
        printf("resent %zu stored message(s)\n", pending);
    if (lsn_interrupted()) {
        rc = stopped_before_seal();
        goto out;
    }
    rc = seal_and_submit(c, &o, &b->a, dest, n, NULL);
out:
    lsn_addressed_free(&x);
    if (b != NULL)
        built_free(b);
    lsn_update_free(&upd);
    free(orgs);
    lsn_client_close(&c);
    return rc;
}

int
cmd_send(int argc, char **argv)
{
    return run_send(argc, argv, 0);
}

int
cmd_update(int argc, char **argv)
{
    return run_send(argc, argv, 2);
}

int
cmd_reply(int argc, char **argv)
{
    return run_send(argc, argv, 1);
}

int
cmd_seal(int argc, char **argv)
{
    struct send_opts o;
    struct lsn_client *c = NULL;
    struct built *b = NULL;
    struct lsn_addressed *x = NULL;
    const char *to[LSN_MAX_RECIPIENTS];
    char *orgs = NULL, reply_org[LSN_ENV_ORG_MAX + 1];
    uint8_t id[16], *env = NULL;
    size_t n = 0, len = 0;
    int rc, r, again;

    if ((rc = parse(argc, argv, &o, 0)) != 0)
        return rc;
    if (o.to == NULL || o.title == NULL || o.out == NULL)
        return lsn_cli_usage("seal needs --to, --title and --out");
    if ((r = cli_split_orgs(o.to, &orgs, to, LSN_MAX_RECIPIENTS, &n)) != 0) {
        free(orgs);
        return lsn_cli_fail(r, "--to");
    }
    if ((rc = build(&o, &b)) != 0 || (rc = cli_open(&c)) != 0 ||
        (o.reply_to != NULL && (rc = build_reply(c, &o, b, reply_org)) != 0))
        goto out;
    c->offline = 1;     /* carried by other means: bundles as held here */
    if ((rc = address(c, &b->a, to, &n, &x)) != 0)
        goto out;
    if ((r = lsn_client_seal(c, &b->a, x->to, n, lsn_now(), o.ttl, o.idem, id, &env,
                             &len)) != 0) {
        rc = lsn_cli_fail(r, "cannot seal the alert");
        goto out;
    }
    again = already_done(c, id);
    /* Carried by other means: the relay never sees it, so no resend. */
    lsn_local_mark_submitted(c->p->store, id);
    if ((r = lsn_file_write(o.out, env, len, 0)) != 0) {
        rc = lsn_cli_fail(r, "cannot write %s", o.out);
        goto out;
    }
    print_sent(&o, id, x->to, n, again ? "already-sealed" : "sealed");
out:
    lsn_addressed_free(&x);
    free(env);
    if (b != NULL)
        built_free(b);
    free(orgs);
    lsn_client_close(&c);
    return rc;
}

int
cmd_forward(int argc, char **argv)
{
    struct send_opts o;
    struct lsn_client *c = NULL;
    const char *to[LSN_MAX_RECIPIENTS];
    char *orgs = NULL;
    uint8_t id[16];
    size_t n = 0;
    int rc, r;

    if ((rc = parse(argc, argv, &o, 1)) != 0)
        return rc;
    if (o.to == NULL)
        return lsn_cli_usage("forward needs --to");
    if ((r = cli_split_orgs(o.to, &orgs, to, LSN_MAX_RECIPIENTS, &n)) != 0) {
        free(orgs);
        return lsn_cli_fail(r, "--to");
    }
    lsn_progress_init(o.json);
    lsn_interrupt_catch();
    if ((rc = cli_open(&c)) != 0) {
        if (lsn_interrupted())
            rc = stopped_before_seal();
        goto out;
    }
    memset(id, 0, sizeof id);
    r = lsn_client_forward(c, o.arg, to, n, lsn_now(), id);
    if (r == LSN_ERR_INTERRUPTED) {
        Liaison__StoredSent *rec = NULL;
        int stored = lsn_local_get_sent(c->p->store, id, &rec) == 0;
        lsn_pb_free((ProtobufCMessage *)rec);
        rc = stored ? stopped_after_seal(id) : stopped_before_seal();
        goto out;
    }
    if (r != 0) {
        rc = lsn_cli_fail(r, "cannot forward %s", o.arg);
        goto out;
    }
    print_sent(&o, id, to, n, "forwarded");
out:
    free(orgs);
    lsn_client_close(&c);
    return rc;
}
