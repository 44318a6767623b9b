/* cmd_feedback.c: `feedback`: what this org did with a received message,
 * told to its sender (and with --share to its other recipients) in a
 * signed, sealed disposition; and the dispositions a sender sees in
 * `status` (cli_print_feedback). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------------------ status */

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
