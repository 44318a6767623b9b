/* cmd_roster_edit.c: the edits of `liaison-keys roster`: orgs, relays,
 * authorities, the threshold and circles.  Each changes a copy of the
 * roster body (cmd_roster.c loads it, and writes it back without the
 * signatures that covered the old body). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/cli/cli.h"
#include "keys/cli/roster_edit.h"
#include "keys/keyfile.h"
#include "keys/roster.h"
#include "keys/util.h"
#include "proto/err.h"

static int
find_org(const Liaison__Roster *b, const char *id)
{
    for (size_t i = 0; i < b->n_orgs; i++)
        if (strcmp(b->orgs[i]->id, id) == 0)
            return (int)i;
    return -1;
}

int
edit_add_org(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    int rc;

    if (!o->org || !o->root || !o->relay)
        return lsn_cli_usage("add-org needs --org, --root and --relay");
    if (lsn_org_id_check(o->org) != 0)
        return lsn_cli_usage("invalid org id `%s`: use 1 to 32 of a-z, "
                             "0-9 and -", o->org);
    if (find_org(b, o->org) >= 0)
        return lsn_cli_usage("org `%s` is already in the roster (use "
                             "set-root to change its root)", o->org);
    if (b->n_orgs >= LSN_ROSTER_MAX_ORGS)
        return lsn_cli_usage("the roster is full");
    if ((rc = roster_read_pub(o->root, LSN_KEY_ORG_ROOT, s->key)) != 0)
        return rc;
    liaison__roster_org__init(&s->org);
    s->org.id = (char *)o->org;
    s->org.display = (char *)(o->display ? o->display : "");
    s->org.root_key = (ProtobufCBinaryData){ 32, s->key };
    s->org.relay = (char *)o->relay;
    b->orgs[b->n_orgs++] = &s->org;
    return 0;
}

static int
in_circle(const Liaison__RosterCircle *x, const char *id)
{
    for (size_t i = 0; i < x->n_orgs; i++)
        if (strcmp(x->orgs[i], id) == 0)
            return (int)i;
    return -1;
}

/* An org in a circle is not removed: the authorities see each circle
 * shrink as an edit of its own rather than a side effect. */
int
edit_remove_org(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    int i;

    (void)s;
    if (!o->org)
        return lsn_cli_usage("remove-org needs --org");
    if ((i = find_org(b, o->org)) < 0)
        return lsn_cli_usage("org `%s` is not in the roster", o->org);
    for (size_t j = 0; j < b->n_circles; j++)
        if (in_circle(b->circles[j], o->org) >= 0)
            return lsn_cli_usage("org `%s` is a member of circle `%s`: take it "
                                 "out first with `roster circle-remove %s "
                                 "--circle %s --org %s`", o->org,
                                 b->circles[j]->name, o->file,
                                 b->circles[j]->name, o->org);
    memmove(&b->orgs[i], &b->orgs[i + 1], (b->n_orgs - (size_t)i - 1) * sizeof *b->orgs);
    b->n_orgs--;
    return 0;
}

int
edit_set_root(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    int i, rc;

    if (!o->org || !o->root)
        return lsn_cli_usage("set-root needs --org and --root");
    if ((i = find_org(b, o->org)) < 0)
        return lsn_cli_usage("org `%s` is not in the roster", o->org);
    if ((rc = roster_read_pub(o->root, LSN_KEY_ORG_ROOT, s->key)) != 0)
        return rc;
    s->org = *b->orgs[i];
    s->org.root_key = (ProtobufCBinaryData){ 32, s->key };
    b->orgs[i] = &s->org;
    return 0;
}

static int
find_relay(const Liaison__Roster *b, const char *name)
{
    for (size_t i = 0; i < b->n_relays; i++)
        if (strcmp(b->relays[i]->name, name) == 0)
            return (int)i;
    return -1;
}

/* Sets *idx to the index of relay o->relay, or reports a usage error
 * naming the command that needs it. */
static int
existing_relay(const struct ropts *o, const Liaison__Roster *b, const char *cmd,
               int *idx)
{
    if (!o->relay)
        return lsn_cli_usage("%s needs --relay NAME", cmd);
    if ((*idx = find_relay(b, o->relay)) < 0)
        return lsn_cli_usage("relay `%s` is not in the roster (add it "
                             "with `roster add-relay`)", o->relay);
    return 0;
}

int
edit_add_relay(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    int rc;

    if (!o->relay || !o->endpoint || !o->key)
        return lsn_cli_usage("add-relay needs --relay, --endpoint and --key");
    if (find_relay(b, o->relay) >= 0)
        return lsn_cli_usage("relay `%s` is already in the roster (use "
                             "set-relay to change it)", o->relay);
    if (b->n_relays >= LSN_ROSTER_MAX_RELAYS)
        return lsn_cli_usage("the roster is full");
    if ((rc = roster_read_pub(o->key, LSN_KEY_RELAY, s->key)) != 0)
        return rc;
    liaison__roster_relay__init(&s->relay);
    s->relay.name = (char *)o->relay;
    s->relay.endpoint = (char *)o->endpoint;
    s->relay.curve_key = (ProtobufCBinaryData){ 32, s->key };
    b->relays[b->n_relays++] = &s->relay;
    return 0;
}

int
edit_set_relay(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    int i, rc;

    if ((rc = existing_relay(o, b, "set-relay", &i)) != 0)
        return rc;
    if (!o->endpoint && !o->key)
        return lsn_cli_usage("set-relay needs --endpoint, --key or both");
    s->relay = *b->relays[i];
    if (o->endpoint)
        s->relay.endpoint = (char *)o->endpoint;
    if (o->key) {
        if ((rc = roster_read_pub(o->key, LSN_KEY_RELAY, s->key)) != 0)
            return rc;
        s->relay.curve_key = (ProtobufCBinaryData){ 32, s->key };
    }
    b->relays[i] = &s->relay;
    return 0;
}

int
edit_remove_relay(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    char homed[512];
    size_t n = 0, used = 0;
    int i, rc;

    (void)s;
    if ((rc = existing_relay(o, b, "remove-relay", &i)) != 0)
        return rc;
    homed[0] = '\0';
    for (size_t j = 0; j < b->n_orgs; j++) {
        if (strcmp(b->orgs[j]->relay, o->relay) != 0)
            continue;
        /* Name the first few; the count says how many more. */
        if (n < 8 && used < sizeof homed - 40)
            used += (size_t)snprintf(homed + used, sizeof homed - used, "%s`%s`",
                                     n ? ", " : "", b->orgs[j]->id);
        n++;
    }
    if (n > 0)
        return lsn_cli_usage("relay `%s` is the home relay of %zu org(s): "
                             "%s%s; move them first with `roster set-org-relay`",
                             o->relay, n, homed, n > 8 ? " and more" : "");
    memmove(&b->relays[i], &b->relays[i + 1],
            (b->n_relays - (size_t)i - 1) * sizeof *b->relays);
    b->n_relays--;
    return 0;
}

int
edit_set_org_relay(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    int i, j, rc;

    if (!o->org)
        return lsn_cli_usage("set-org-relay needs --org and --relay");
    if ((i = find_org(b, o->org)) < 0)
        return lsn_cli_usage("org `%s` is not in the roster", o->org);
    if ((rc = existing_relay(o, b, "set-org-relay", &j)) != 0)
        return rc;
    if (strcmp(b->orgs[i]->relay, o->relay) == 0)
        return lsn_cli_usage("org `%s` is already homed on relay `%s`",
                             o->org, o->relay);
    s->org = *b->orgs[i];
    s->org.relay = (char *)o->relay;
    b->orgs[i] = &s->org;
    return 0;
}

static int
find_authority(const Liaison__Roster *b, const uint8_t key[32])
{
    for (size_t i = 0; i < b->n_authorities; i++)
        if (memcmp(b->authorities[i].data, key, 32) == 0)
            return (int)i;
    return -1;
}

int
edit_add_authority(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    int rc;

    if (o->n_auth != 1)
        return lsn_cli_usage("add-authority needs one --authority");
    if ((rc = roster_read_pub(o->authorities[0], LSN_KEY_AUTHORITY, s->key)) != 0)
        return rc;
    if (find_authority(b, s->key) >= 0)
        return lsn_cli_usage("that authority is already in the roster");
    if (b->n_authorities >= LSN_ROSTER_MAX_AUTHORITIES)
        return lsn_cli_usage("the roster has the most authorities allowed");
    b->authorities[b->n_authorities++] = (ProtobufCBinaryData){ 32, s->key };
    return 0;
}

int
edit_remove_authority(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    int i, rc;

    if (o->n_auth != 1)
        return lsn_cli_usage("remove-authority needs one --authority");
    if ((rc = roster_read_pub(o->authorities[0], LSN_KEY_AUTHORITY, s->key)) != 0)
        return rc;
    if ((i = find_authority(b, s->key)) < 0)
        return lsn_cli_usage("that authority is not in the roster");
    memmove(&b->authorities[i], &b->authorities[i + 1],
            (b->n_authorities - (size_t)i - 1) * sizeof *b->authorities);
    b->n_authorities--;
    return 0;
}

int
edit_set_threshold(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    (void)s;
    if (!o->threshold)
        return lsn_cli_usage("set-threshold needs --threshold K");
    b->threshold = (uint32_t)o->threshold;
    return 0;
}

static int
find_circle(const Liaison__Roster *b, const char *name)
{
    for (size_t i = 0; i < b->n_circles; i++)
        if (strcmp(b->circles[i]->name, name) == 0)
            return (int)i;
    return -1;
}

/* Sets *idx to the index of circle o->circle, or reports a usage error. */
static int
existing_circle(const struct ropts *o, const Liaison__Roster *b, const char *cmd,
                int *idx)
{
    if (!o->circle)
        return lsn_cli_usage("%s needs --circle NAME", cmd);
    if ((*idx = find_circle(b, o->circle)) < 0)
        return lsn_cli_usage("circle `%s` is not in the roster (add it with "
                             "`roster add-circle`)", o->circle);
    return 0;
}

/* Splits --org ID[,ID...] into s->members after the *n already there,
 * each an org of the roster. */
static int
members_from(const struct ropts *o, const Liaison__Roster *b, struct scratch_view *s,
             const char *cmd, size_t *n)
{
    char *save = NULL, *tok;
    size_t before = *n;

    if (!o->org)
        return lsn_cli_usage("%s needs --org ID[,ID...]", cmd);
    if (strlen(o->org) >= sizeof s->list)
        return lsn_cli_usage("--org: list too long");
    memcpy(s->list, o->org, strlen(o->org) + 1);
    for (tok = strtok_r(s->list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (find_org(b, tok) < 0)
            return lsn_cli_usage("org `%.40s` is not in the roster (a circle "
                                 "holds only its orgs)", tok);
        if (*n >= LSN_ROSTER_CIRCLE_MAX_ORGS)
            return lsn_cli_usage("a circle has at most %u members",
                                 LSN_ROSTER_CIRCLE_MAX_ORGS);
        s->members[(*n)++] = tok;
    }
    if (*n == before)
        return lsn_cli_usage("%s: --org names no org", cmd);
    return 0;
}

int
edit_add_circle(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    size_t n = 0;
    int rc;

    if (!o->circle)
        return lsn_cli_usage("add-circle needs --circle NAME and --org ID[,ID...]");
    if (lsn_circle_name_check(o->circle) != 0)
        return lsn_cli_usage("invalid circle name `%s`: use 1 to 32 of a-z, "
                             "0-9 and -", o->circle);
    if (find_circle(b, o->circle) >= 0)
        return lsn_cli_usage("circle `%s` is already in the roster (use "
                             "circle-add to add members)", o->circle);
    if (b->n_circles >= LSN_ROSTER_MAX_CIRCLES)
        return lsn_cli_usage("the roster has the most circles allowed (%u)",
                             LSN_ROSTER_MAX_CIRCLES);
    if ((rc = members_from(o, b, s, "add-circle", &n)) != 0)
        return rc;
    liaison__roster_circle__init(&s->circle);
    s->circle.name = (char *)o->circle;
    s->circle.display = (char *)(o->display ? o->display : "");
    s->circle.orgs = s->members;
    s->circle.n_orgs = n;
    b->circles[b->n_circles++] = &s->circle;
    return 0;
}

int
edit_remove_circle(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    int i, rc;

    (void)s;
    if ((rc = existing_circle(o, b, "remove-circle", &i)) != 0)
        return rc;
    memmove(&b->circles[i], &b->circles[i + 1],
            (b->n_circles - (size_t)i - 1) * sizeof *b->circles);
    b->n_circles--;
    return 0;
}

int
edit_circle_add(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    size_t n;
    int i, rc;

    if ((rc = existing_circle(o, b, "circle-add", &i)) != 0)
        return rc;
    n = b->circles[i]->n_orgs;
    memcpy(s->members, b->circles[i]->orgs, n * sizeof *s->members);
    if ((rc = members_from(o, b, s, "circle-add", &n)) != 0)
        return rc;
    for (size_t k = b->circles[i]->n_orgs; k < n; k++)
        if (in_circle(b->circles[i], s->members[k]) >= 0)
            return lsn_cli_usage("org `%s` is already in circle `%s`",
                                 s->members[k], o->circle);
    s->circle = *b->circles[i];
    s->circle.orgs = s->members;
    s->circle.n_orgs = n;
    b->circles[i] = &s->circle;
    return 0;
}

int
edit_circle_remove(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s)
{
    char *save = NULL, *tok;
    size_t n;
    int i, k, rc;

    if ((rc = existing_circle(o, b, "circle-remove", &i)) != 0)
        return rc;
    if (!o->org)
        return lsn_cli_usage("circle-remove needs --org ID[,ID...]");
    if (strlen(o->org) >= sizeof s->list)
        return lsn_cli_usage("--org: list too long");
    s->circle = *b->circles[i];
    n = s->circle.n_orgs;
    memcpy(s->members, s->circle.orgs, n * sizeof *s->members);
    s->circle.orgs = s->members;
    memcpy(s->list, o->org, strlen(o->org) + 1);
    for (tok = strtok_r(s->list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        s->circle.n_orgs = n;
        if ((k = in_circle(&s->circle, tok)) < 0)
            return lsn_cli_usage("org `%.40s` is not in circle `%s`", tok,
                                 o->circle);
        memmove(&s->members[k], &s->members[k + 1],
                (n - (size_t)k - 1) * sizeof *s->members);
        n--;
    }
    if (n == 0)
        return lsn_cli_usage("that would leave circle `%s` empty: remove it "
                             "with `roster remove-circle`", o->circle);
    s->circle.n_orgs = n;
    b->circles[i] = &s->circle;
    return 0;
}
