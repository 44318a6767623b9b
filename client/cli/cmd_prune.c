/* cmd_prune.c: `liaison prune`: removes old read messages from the local
 * store so that it does not fill by itself, and says what it removed. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli/cli.h"
#include "client/names.h"
#include "keys/json.h"
#include "keys/util.h"
#include "proto/err.h"

const char prune_usage[] =
    "usage: liaison prune (--before DATE | --older-than AGE) [--dry-run] [--json]\n"
    "\n"
    "Removes from the local store every message that was read and was\n"
    "received before DATE (YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SSZ, UTC) or more\n"
    "than AGE ago (e.g. 90d, 12h): its envelope and its content key are wiped,\n"
    "so it can never be shown again; its sender, id and times stay, and\n"
    "`liaison read` of it says it was pruned.  Unread messages and sent\n"
    "records are kept.  The audit log gets a `prune` entry with the count;\n"
    "its chain stays whole.  Each removed message is listed (one JSON object\n"
    "with --json).\n"
    "\n"
    "  --dry-run     list what would be removed and change nothing\n"
    "\n"
    "Exit status: 0 success, 2 usage or input error.\n";

const struct option prune_opts[] = {
    { "before", required_argument, NULL, 'b' },
    { "older-than", required_argument, NULL, 'o' },
    { "dry-run", no_argument, NULL, 'n' },
    { "json", no_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
};

struct pruned {
    char org[LSN_ENV_ORG_MAX + 1];
    uint8_t id[16];
    int64_t received;
    uint64_t bytes;
};

struct prune_list {
    struct pruned *v;
    size_t n, cap;
};

static int
collect(void *ctx, const char *org, const uint8_t msg_id[16], int64_t received,
        uint64_t bytes)
{
    struct prune_list *l = ctx;
    struct pruned *v;

    if ((v = lsn_grow(l->v, &l->cap, l->n, sizeof *v, 64)) == NULL)
        return LSN_ERR_NOMEM;
    l->v = v;
    snprintf(l->v[l->n].org, sizeof l->v[l->n].org, "%s", org);
    memcpy(l->v[l->n].id, msg_id, 16);
    l->v[l->n].received = received;
    l->v[l->n].bytes = bytes;
    l->n++;
    return 0;
}

int
cmd_prune(int argc, char **argv)
{
    struct prune_list l = { NULL, 0, 0 };
    struct lsn_client *c = NULL;
    const char *before_s = NULL, *age_s = NULL;
    int64_t before = 0, age = 0, now = lsn_now();
    uint64_t bytes = 0;
    size_t n = 0;
    int opt, json = 0, dry = 0, rc, r;
    char t[21], hex[33];

    while ((opt = lsn_cli_next(argc, argv)) != -1) {
        switch (opt) {
        case 'b': before_s = optarg; break;
        case 'o': age_s = optarg; break;
        case 'n': dry = 1; break;
        case 'j': json = 1; break;
        default: return lsn_cli_usage("unknown option");
        }
    }
    if (optind != argc)
        return lsn_cli_usage("unexpected argument `%.64s`", argv[optind]);
    if ((before_s == NULL) == (age_s == NULL))
        return lsn_cli_usage("give one of --before DATE and --older-than AGE");
    if (before_s != NULL && cli_parse_date(before_s, &before) != 0)
        return lsn_cli_usage("--before `%.64s`: use YYYY-MM-DD or "
                             "YYYY-MM-DDTHH:MM:SSZ", before_s);
    if (age_s != NULL) {
        if (lsn_duration_parse(age_s, &age) != 0)
            return lsn_cli_usage("--older-than `%.64s`: use a number and "
                                 "d, h, m or s, e.g. 90d", age_s);
        before = now - age;
    }
    if ((rc = cli_open(&c)) != 0)
        return rc;
    r = lsn_local_prune_read(c->p->store, before, dry, collect, &l, &n, &bytes);
    if (r == 0 && !dry && n > 0)
        r = lsn_local_audit(c->p->store, now, "prune", "%zu read message(s) "
                            "received before %s removed (%llu bytes)", n,
                            cli_time(before, t), (unsigned long long)bytes);
    if (r != 0) {
        rc = lsn_cli_fail(r, "prune");
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        cli_hex_id(hex, l.v[i].id);
        if (json) {
            lsn_json_print(stdout, json_pack("{s:s, s:o, s:I, s:I, s:b}", "msg_id", hex,
                                             "from", lsn_json_text(l.v[i].org),
                                             "received", (json_int_t)l.v[i].received,
                                             "bytes", (json_int_t)l.v[i].bytes,
                                             "pruned", !dry));
        } else {
            printf("%s %s from %s received %s (%llu bytes)\n",
                   dry ? "would prune" : "pruned", hex, l.v[i].org,
                   cli_time(l.v[i].received, t), (unsigned long long)l.v[i].bytes);
        }
    }
    if (json)
        lsn_json_print(stdout, json_pack("{s:b, s:I, s:I, s:I}", "dry_run", dry,
                                         "before", (json_int_t)before,
                                         "pruned", (json_int_t)n,
                                         "bytes", (json_int_t)bytes));
    else
        printf("%s%zu read message(s) received before %s (%llu bytes)\n",
               dry ? "would prune " : "pruned ", n, cli_time(before, t),
               (unsigned long long)bytes);
out:
    free(l.v);
    lsn_client_close(&c);
    return rc;
}
