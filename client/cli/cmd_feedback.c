/* cmd_feedback.c: what happens to a message after it is sent: `feedback`
 * (what this org did with a received message, told to its sender, and
 * with --share to its other recipients, in a signed, sealed disposition),
 * `retract` (the sender withdraws it from everyone it reached), `hold`
 * and `release` (a legal hold keeps a received message's key through a
 * retraction and `prune`); and what a sender sees of them in `status`
 * (cli_print_feedback). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "client/alert.h"
#include "client/cli/cli.h"
#include "client/names.h"
#include "keys/json.h"
#include "keys/util.h"
#include "proto/err.h"

const char feedback_usage[] =
    "usage: liaison feedback MSGID --disposition WORD [--indicator N[,N...]]\n"
    "                        [--reported-to ncmec|police|inhope|other:TEXT]\n"
    "                        [--note TEXT] [--tlp TLP] [--share] [--json]\n"
    "\n"
    "Tells the sender of a received message what this organisation did with\n"
    "it, in a message sealed and signed like any other (its TLP is the\n"
    "message's, or --tlp if stricter).  The sender's `liaison status MSGID`\n"
    "shows the latest disposition of each organisation, for the message and\n"
    "for each indicator; several may be sent as the case moves on.\n"
    "\n"
    "  --disposition WORD  seen, true-positive, false-positive, actioned,\n"
    "                      reported, not-actionable or need-info\n"
    "  --indicator N,...   about these indicators only (1 is the first the\n"
    "                      message lists, as `liaison read` shows them);\n"
    "                      repeatable; none: the whole message\n"
    "  --reported-to WHOM  with reported: ncmec, police, inhope or other:TEXT\n"
    "  --note TEXT         a note for the recipients (at most 4096 bytes)\n"
    "  --share             also to the message's other recipient orgs\n"
    "\n"
    "Exit status: 0 sent, 2 usage or input error, 3 relay unreachable (the\n"
    "feedback is stored and `liaison fetch` or the next send resends it).\n";

const struct option feedback_opts[] = {
    { "disposition", required_argument, NULL, 'd' },
    { "indicator", required_argument, NULL, 'i' },
    { "reported-to", required_argument, NULL, 'r' },
    { "note", required_argument, NULL, 'n' },
    { "tlp", required_argument, NULL, 't' },
    { "share", no_argument, NULL, 's' },
    { "json", no_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
};

static int
u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Adds the positions of "N[,N...]" to v[0..*n), at most max. */
static int
parse_indicators(const char *s, uint32_t *v, size_t *n, size_t max)
{
    const char *p = s;

    for (;;) {
        char *end;
        unsigned long x;
        if (*p < '0' || *p > '9')
            return lsn_cli_usage("--indicator wants positions 1, 2, ... (got `%.40s`)", s);
        x = strtoul(p, &end, 10);
        if (x < 1 || x > max || (*end != ',' && *end != '\0'))
            return lsn_cli_usage("--indicator wants positions 1 to %zu (got `%.40s`)",
                                 max, s);
        if (*n >= max)
            return lsn_cli_usage("too many --indicator positions");
        v[(*n)++] = (uint32_t)x;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

/* Sorted, each once: the one encoding of a set. */
static void
sort_unique(uint32_t *v, size_t *n)
{
    size_t k = 0;

    qsort(v, *n, sizeof *v, u32_cmp);
    for (size_t i = 0; i < *n; i++)
        if (k == 0 || v[k - 1] != v[i])
            v[k++] = v[i];
    *n = k;
}

int
cmd_feedback(int argc, char **argv)
{
    static uint32_t ind[1024];
    struct lsn_feedback_req q = { 0 };
    struct lsn_client *c = NULL;
    const char *disp = NULL, *reported = NULL;
    char hex[33];
    uint8_t id[16];
    size_t n = 0;
    int ch, rc, r, json = 0;

    q.tlp = LIAISON__TLP__TLP_CLEAR;
    while ((ch = lsn_cli_next(argc, argv)) != -1) {
        switch (ch) {
        case 'd': disp = optarg; break;
        case 'i':
            if ((rc = parse_indicators(optarg, ind, &n, sizeof ind / sizeof ind[0])) != 0)
                return rc;
            break;
        case 'r': reported = optarg; break;
        case 'n': q.note = optarg; break;
        case 't':
            if (lsn_name_parse(lsn_names_tlp, optarg, &q.tlp) != 0)
                return lsn_cli_usage("--tlp wants clear, green, amber, amber+strict or red");
            break;
        case 's': q.share = 1; break;
        case 'j': json = 1; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    if ((rc = lsn_cli_args(argc, argv, 1, "a MSGID", &q.prefix)) != 0)
        return rc;
    if (disp == NULL || lsn_name_parse(lsn_names_disposition, disp, &q.disposition) != 0 ||
        q.disposition == LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED)
        return lsn_cli_usage("--disposition wants seen, true-positive, false-positive, "
                             "actioned, reported, not-actionable or need-info");
    if (reported != NULL) {
        if (q.disposition != LIAISON__DISPOSITION__DISPOSITION_REPORTED)
            return lsn_cli_usage("--reported-to goes with --disposition reported");
        if (lsn_reported_parse(reported, &q.reported_to, &q.reported_other) != 0)
            return lsn_cli_usage("--reported-to wants ncmec, police, inhope or other:TEXT");
    } else if (q.disposition == LIAISON__DISPOSITION__DISPOSITION_REPORTED) {
        return lsn_cli_usage("--disposition reported needs --reported-to");
    }
    sort_unique(ind, &n);
    q.indicators = ind;
    q.n_indicators = n;
    if ((rc = cli_open(&c)) != 0)
        return rc;
    memset(id, 0, sizeof id);
    r = lsn_client_feedback(c, &q, lsn_now(), id);
    cli_hex_id(hex, id);
    if (r == LSN_ERR_TIMEOUT || r == LSN_ERR_UNAVAILABLE) {
        rc = lsn_cli_fail(r, "feedback %s stored here; the relay did not answer "
                          "(`liaison fetch` resends it)", hex);
    } else if (r != 0) {
        rc = lsn_cli_fail(r, r == LSN_ERR_INVALID || r == LSN_ERR_LIMIT
                                 ? "feedback refused (check --note and --reported-to)"
                                 : "no feedback sent on %s", q.prefix);
    } else if (json) {
        lsn_json_print(stdout, json_pack("{s:s, s:s, s:s}", "msg_id", hex,
                                         "disposition", disp, "state", "sent"));
    } else {
        printf("feedback %s sent: %s\n", hex,
               lsn_name_of(lsn_names_disposition, q.disposition));
    }
    lsn_client_close(&c);
    return rc;
}

/* ------------------------------------------------------------ retract */

const char retract_usage[] =
    "usage: liaison retract MSGID --reason TEXT [--json]\n"
    "\n"
    "Withdraws a message this device sent: a signed, sealed retraction goes\n"
    "to its recipient orgs.  Each of their devices marks its copy retracted\n"
    "(`inbox` and `read` show it) and wipes its content key, unless the\n"
    "copy is under a legal hold (`liaison hold`: the key is kept and the\n"
    "answer says so), answers with a signed \"retraction applied\", and\n"
    "passes the retraction on to every org it had forwarded the message\n"
    "to, which do the same.  `liaison status MSGID` shows, per org reached\n"
    "directly or by a forward, whether it applied the retraction.\n"
    "\n"
    "Exit status: 0 sent, 2 usage or input error (no such sent message\n"
    "here: only the device that sent a message retracts it), 3 relay\n"
    "unreachable (stored, resent by `liaison fetch`).\n";

const struct option retract_opts[] = {
    { "reason", required_argument, NULL, 'r' },
    { "json", no_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
};

int
cmd_retract(int argc, char **argv)
{
    struct lsn_client *c = NULL;
    const char *prefix = NULL, *reason = NULL;
    uint8_t rid[16];
    char hex[33];
    int ch, rc, r, json = 0;

    while ((ch = lsn_cli_next(argc, argv)) != -1) {
        switch (ch) {
        case 'r': reason = optarg; break;
        case 'j': json = 1; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    if ((rc = lsn_cli_args(argc, argv, 1, "a MSGID", &prefix)) != 0)
        return rc;
    if (reason == NULL || reason[0] == '\0')
        return lsn_cli_usage("retract needs --reason TEXT");
    if ((rc = cli_open(&c)) != 0)
        return rc;
    memset(rid, 0, sizeof rid);
    r = lsn_client_retract(c, prefix, reason, lsn_now(), rid);
    cli_hex_id(hex, rid);
    if (r == LSN_ERR_TIMEOUT || r == LSN_ERR_UNAVAILABLE)
        rc = lsn_cli_fail(r, "retraction %s stored here; the relay did not answer "
                          "(`liaison fetch` resends it)", hex);
    else if (r != 0)
        rc = lsn_cli_fail(r, "cannot retract %s", prefix);
    else if (json)
        lsn_json_print(stdout, json_pack("{s:s, s:s}", "msg_id", hex, "state", "sent"));
    else
        printf("retraction %s sent; `liaison status %s` shows who applied it\n", hex,
               prefix);
    lsn_client_close(&c);
    return rc;
}

/* ------------------------------------------------------------ hold */

const char hold_usage[] =
    "usage: liaison hold MSGID [--case REF] [--reason TEXT]\n"
    "       liaison hold --case REF [--reason TEXT]\n"
    "       liaison release MSGID | --case REF\n"
    "\n"
    "A legal hold on a received message (or on every received message of the\n"
    "case REF) keeps its content key when its sender retracts it (the\n"
    "\"retraction applied\" answer says the key was kept) and keeps it from\n"
    "`liaison prune`.  `inbox` and `read` show it.  release lifts it.\n";

const struct option hold_opts[] = {
    { "case", required_argument, NULL, 'c' },
    { "reason", required_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
};
const struct option release_opts[] = {
    { "case", required_argument, NULL, 'c' },
    { NULL, 0, NULL, 0 },
};

static int
hold_or_release(int argc, char **argv, int on)
{
    struct lsn_client *c = NULL;
    const char *case_ref = NULL, *reason = NULL, *prefix = NULL;
    size_t n = 0;
    int ch, rc, r;

    while ((ch = lsn_cli_next(argc, argv)) != -1) {
        switch (ch) {
        case 'c': case_ref = optarg; break;
        case 'r': reason = optarg; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    if (optind < argc && (rc = lsn_cli_args(argc, argv, 1, "a MSGID", &prefix)) != 0)
        return rc;
    if (prefix == NULL && (case_ref == NULL || case_ref[0] == '\0'))
        return lsn_cli_usage("%s needs a MSGID or --case REF", on ? "hold" : "release");
    if ((rc = cli_open(&c)) != 0)
        return rc;
    if ((r = lsn_client_hold(c, prefix, case_ref, reason, on, &n)) != 0)
        rc = lsn_cli_fail(r, "cannot %s %s", on ? "hold" : "release",
                          prefix != NULL ? prefix : "the case");
    else if (prefix != NULL)
        printf("%s %s\n", on ? "legal hold set on" : "legal hold lifted from", prefix);
    else
        printf("%s %zu message(s) of the case\n",
               on ? "legal hold set on" : "legal hold lifted from", n);
    lsn_client_close(&c);
    return rc;
}

int
cmd_hold(int argc, char **argv)
{
    return hold_or_release(argc, argv, 1);
}

int
cmd_release(int argc, char **argv)
{
    return hold_or_release(argc, argv, 0);
}

/* ------------------------------------------------------------ status */

struct retraction_ctx {
    Liaison__StoredLink *link;          /* the first retraction: a copy */
};

static int
first_retraction(void *ctx, const char *org, const uint8_t id[16],
                 const Liaison__StoredLink *rec)
{
    struct retraction_ctx *x = ctx;
    uint8_t *buf = NULL;
    size_t len = 0;

    (void)org;
    (void)id;
    /* The scan frees rec: keep a copy of the first. */
    if (x->link == NULL && lsn_pb_encode(&rec->base, &buf, &len) == 0)
        (void)LSN_PB_DECODE(stored_link, buf, len, 4 * len + 4096, &x->link);
    free(buf);
    return 0;
}

/* Who applied it: org -> kept, and whom each passed it on to. */
struct applied {
    char org[LSN_ENV_ORG_MAX + 1];
    char via[LSN_ENV_ORG_MAX + 1];      /* "" if reached directly */
    int applied, kept;
};

struct applied_ctx {
    struct applied v[LSN_MAX_RECIPIENTS + 4 * LSN_FEEDBACK_PASSED_MAX];
    size_t n;
};

static struct applied *
applied_find(struct applied_ctx *x, const char *org)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->v[i].org, org) == 0)
            return &x->v[i];
    if (x->n == sizeof x->v / sizeof x->v[0])
        return NULL;
    memset(&x->v[x->n], 0, sizeof x->v[x->n]);
    snprintf(x->v[x->n].org, sizeof x->v[x->n].org, "%s", org);
    return &x->v[x->n++];
}

static int
applied_one(void *ctx, const char *org, const uint8_t fb_id[16],
            const Liaison__StoredFeedback *rec)
{
    struct applied_ctx *x = ctx;
    struct applied *a;

    (void)fb_id;
    if (rec->feedback == NULL || rec->feedback->disposition !=
                                     LIAISON__DISPOSITION__DISPOSITION_RETRACTION_APPLIED)
        return 0;
    if ((a = applied_find(x, org)) != NULL) {
        a->applied = 1;
        a->kept |= rec->feedback->kept;
    }
    for (size_t i = 0; i < rec->feedback->n_passed_to; i++)
        if ((a = applied_find(x, rec->feedback->passed_to[i])) != NULL && a->via[0] == '\0')
            snprintf(a->via, sizeof a->via, "%s", org);
    return 0;
}

/* The retraction of a sent message: per org reached directly or by a
 * forward, whether it was applied. */
static void
print_retraction(struct lsn_client *c, const char *org, const uint8_t id[16],
                 json_t *json)
{
    struct retraction_ctx r = { NULL };
    struct applied_ctx *x = calloc(1, sizeof *x);
    char t[21], buf[4 * LSN_LOCAL_REASON_MAX + 1];
    json_t *orgs;

    lsn_local_each_link(c->p->store, org, id, LSN_LINK_RETRACTED, first_retraction, &r);
    if (x == NULL || r.link == NULL) {
        free(x);
        lsn_pb_free((ProtobufCMessage *)r.link);
        return;
    }
    for (size_t i = 0; i < r.link->n_to; i++)
        (void)applied_find(x, r.link->to[i]);
    lsn_local_each_feedback(c->p->store, org, id, applied_one, x);
    orgs = json != NULL ? json_array() : NULL;
    if (json == NULL) {
        printf("  retracted %s: %s\n", cli_time(r.link->at, t),
               cli_safe(r.link->reason, buf, sizeof buf));
    }
    for (size_t i = 0; i < x->n; i++) {
        const struct applied *a = &x->v[i];
        if (json != NULL) {
            json_t *o = json_pack("{s:o, s:b, s:b}", "org", lsn_json_text(a->org),
                                  "applied", a->applied, "kept", a->kept);
            if (o != NULL)
                json_object_set_new(o, "via", a->via[0] ? lsn_json_text(a->via)
                                                        : json_null());
            json_array_append_new(orgs, o);
            continue;
        }
        printf("    %-20s %s%s", a->org,
               !a->applied ? "not applied yet"
               : a->kept ? "applied, content key kept under a legal hold"
                         : "retraction applied",
               a->via[0] ? " (reached by a forward from " : "");
        if (a->via[0])
            printf("%s)", a->via);
        putchar('\n');
    }
    if (json != NULL)
        json_object_set_new(json, "retraction", json_pack("{s:o, s:I, s:o}",
            "reason", lsn_json_text(r.link->reason), "at", (json_int_t)r.link->at,
            "orgs", orgs));
    lsn_pb_free((ProtobufCMessage *)r.link);
    free(x);
}


/* "false positive" for false-positive: status reads as a sentence. */
static const char *
words(int disposition, char *buf, size_t n)
{
    snprintf(buf, n, "%s", lsn_name_of(lsn_names_disposition, disposition));
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '-')
            *p = ' ';
    return buf;
}

static json_t *
json_latest(const struct lsn_feedback_latest *e)
{
    char hex[33];
    json_t *o;

    cli_hex_id(hex, e->fb_id);
    o = json_pack("{s:o, s:o, s:s, s:I, s:s}", "org", lsn_json_text(e->org),
                  "device", lsn_json_text(e->device),
                  "disposition", lsn_name_of(lsn_names_disposition, e->disposition),
                  "at", (json_int_t)e->created, "feedback_id", hex);
    if (o != NULL && e->reported_to != 0)
        json_object_set_new(o, "reported_to",
            e->reported_to == LIAISON__REPORTED_TO__REPORTED_OTHER
                ? lsn_json_text(e->reported_other)
                : json_string(lsn_name_of(lsn_names_reported, e->reported_to)));
    return o;
}

struct history_ctx {
    json_t *a;
};

/* Every feedback as it came, for --json (the latest per org and
 * indicator is in "dispositions"). */
static int
history_one(void *ctx, const char *org, const uint8_t fb_id[16],
            const Liaison__StoredFeedback *rec)
{
    struct history_ctx *x = ctx;
    const Liaison__Feedback *fb = rec->feedback;
    json_t *ind = json_array(), *o;
    char hex[33];

    if (fb == NULL)
        return 0;
    cli_hex_id(hex, fb_id);
    for (size_t i = 0; i < fb->n_indicators; i++)
        json_array_append_new(ind, json_integer(fb->indicators[i]));
    o = json_pack("{s:s, s:o, s:o, s:s, s:o, s:o, s:I}", "feedback_id", hex,
                  "org", lsn_json_text(org), "device", lsn_json_text(rec->device),
                  "disposition", lsn_name_of(lsn_names_disposition, fb->disposition),
                  "indicators", ind, "note", lsn_json_text(fb->note),
                  "at", (json_int_t)rec->created);
    if (o != NULL && fb->reported_to != 0)
        json_object_set_new(o, "reported_to",
            fb->reported_to == LIAISON__REPORTED_TO__REPORTED_OTHER
                ? lsn_json_text(fb->reported_other)
                : json_string(lsn_name_of(lsn_names_reported, fb->reported_to)));
    json_array_append_new(x->a, o);
    return 0;
}

static int
note_one(void *ctx, const char *org, const uint8_t fb_id[16],
         const Liaison__StoredFeedback *rec)
{
    char buf[4 * 4096 + 1], t[21];

    (void)ctx;
    (void)fb_id;
    if (rec->feedback == NULL || rec->feedback->note[0] == '\0')
        return 0;
    printf("    note from %s/%s (%s): %s\n", org, rec->device, cli_time(rec->created, t),
           cli_safe(rec->feedback->note, buf, sizeof buf));
    return 0;
}

void
cli_print_feedback(struct lsn_client *c, const char *org, const uint8_t id[16],
                   json_t *json)
{
    struct lsn_feedback_latest *v = NULL;
    char w[40], other[4 * 64 + 1];
    size_t n = 0;

    print_retraction(c, org, id, json);
    if (lsn_client_feedback_latest(c, org, id, &v, &n) != 0)
        return;
    if (json != NULL) {
        struct history_ctx h = { json_array() };
        json_t *by = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_latest(&v[i]);
            if (e != NULL)
                json_object_set_new(e, "indicator", json_integer(v[i].indicator));
            json_array_append_new(by, e);
        }
        lsn_local_each_feedback(c->p->store, org, id, history_one, &h);
        json_object_set_new(json, "dispositions", by);
        json_object_set_new(json, "feedback", h.a);
        free(v);
        return;
    }
    if (n > 0)
        printf("  feedback (the latest of each org):\n");
    /* Per org: everything it said, the message first, then indicators. */
    for (size_t i = 0; i < n; i++) {
        size_t first = i;
        for (size_t k = 0; k < i; k++)
            if (strcmp(v[k].org, v[i].org) == 0)
                first = k;
        if (first != i)
            continue;
        printf("    %-20s", v[i].org);
        for (size_t k = i, sep = 0; k < n; k++) {
            if (strcmp(v[k].org, v[i].org) != 0)
                continue;
            printf("%s%s", sep++ ? "; " : " ", words(v[k].disposition, w, sizeof w));
            if (v[k].indicator != 0)
                printf(" (indicator %u)", v[k].indicator);
            if (v[k].reported_to != 0)
                printf(" to %s", v[k].reported_to == LIAISON__REPORTED_TO__REPORTED_OTHER
                                     ? cli_safe(v[k].reported_other, other, sizeof other)
                                     : lsn_name_of(lsn_names_reported, v[k].reported_to));
        }
        putchar('\n');
    }
    /* Per indicator: "indicator 2: false positive by paypal, actioned by
     * mastercard". */
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && v[i - 1].indicator == v[i].indicator)
            continue;
        if (v[i].indicator == 0)
            printf("  message:");
        else
            printf("  indicator %u:", v[i].indicator);
        for (size_t k = i; k < n && v[k].indicator == v[i].indicator; k++)
            printf("%s %s by %s", k > i ? "," : "", words(v[k].disposition, w, sizeof w),
                   v[k].org);
        putchar('\n');
    }
    lsn_local_each_feedback(c->p->store, org, id, note_one, NULL);
    free(v);
}
