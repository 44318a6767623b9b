/* roster_edit.h: what `liaison-keys roster` (cmd_roster.c) shares with its
 * edits (cmd_roster_edit.c): the parsed options, the room an edit grows
 * the roster body into, and the edits themselves.  Private to keys/cli/. */
#ifndef LSN_KEYS_CLI_ROSTER_EDIT_H
#define LSN_KEYS_CLI_ROSTER_EDIT_H

#include <stdint.h>

#include "keys/roster.h"

struct ropts {
    const char *coalition, *out, *org, *root, *relay, *display, *endpoint;
    const char *key, *previous, *pass_file, *circle;
    const char *authorities[64];
    int n_auth, threshold, days, json;
    const char *file;
};

/* Room for one more of anything, and the key read from a file: the
 * copied body's arrays while an edit runs. */
struct scratch_view {
    Liaison__RosterOrg *orgs[LSN_ROSTER_MAX_ORGS + 1];
    Liaison__RosterRelay *relays[LSN_ROSTER_MAX_RELAYS + 1];
    ProtobufCBinaryData auth[LSN_ROSTER_MAX_AUTHORITIES + 1];
    Liaison__RosterCircle *circles[LSN_ROSTER_MAX_CIRCLES + 1];
    char *members[LSN_ROSTER_CIRCLE_MAX_ORGS + 1];
    char list[4096];                /* --org ID,ID...: split in place */
    Liaison__RosterOrg org;
    Liaison__RosterRelay relay;
    Liaison__RosterCircle circle;
    uint8_t key[32];
};

/* The public key of kind (LSN_KEY_*) in the file path, into key; a
 * failure is said and its exit code returned. */
int roster_read_pub(const char *path, int kind, uint8_t key[32]);

/* Each edit changes body (its arrays are s's) as o says, or fails with
 * the exit code after saying why. */
int edit_add_org(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_remove_org(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_set_root(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_add_relay(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_set_relay(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_remove_relay(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_set_org_relay(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_add_authority(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_remove_authority(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_set_threshold(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_add_circle(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_remove_circle(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_circle_add(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);
int edit_circle_remove(const struct ropts *o, Liaison__Roster *b, struct scratch_view *s);

#endif
